"""Events (issue 4): long polling with getupdates.

Contract: bot-api.md (POST /bot/getupdates), events.md (Long polling), issue 4 scope 5
and 7 (SIGTERM ends waiting long polls; pending events survive a restart).
"""
import threading
import time

import requests

from conftest import Api, assert_error
from receiver import Poller, free_port, running, set_webhook, updates


class BgPoll(threading.Thread):
    """A getupdates call in a thread; .result = (status, body, seconds) when done."""

    def __init__(self, api, token, **fields):
        super().__init__(daemon=True)
        self.api, self.token, self.fields = api, token, fields
        self.result = None
        self.error = None
        self.started_at = None

    def run(self):
        self.started_at = time.monotonic()
        try:
            r = self.api.request("POST", "/bot/getupdates", token=self.token,
                                 json=self.fields, timeout=60)
            try:
                body = r.json()
            except ValueError:
                body = r.text
            self.result = (r.status_code, body, time.monotonic() - self.started_at)
        except requests.RequestException as e:
            self.error = e
            self.result = (None, repr(e), time.monotonic() - self.started_at)


def _park(poll):
    """Starts a long poll and gives it a moment to be parked in the server. Nothing in
    the API shows a parked poll, so this is the one short pause we take."""
    poll.start()
    time.sleep(0.3)
    assert poll.result is None, f"the long poll returned early: {poll.result}"


def test_offset_confirms_and_forgets(api):
    user = api.user()
    bot = api.bot(user)
    for t in ("one", "two", "three"):
        api.app_send(user.token, t, target_user_id=bot.id)
    evs = updates(api, bot.token, timeout=0)
    assert [(e["update_id"], e["content"]) for e in evs] == [(1, "one"), (2, "two"),
                                                              (3, "three")]
    # without an offset nothing is confirmed: the same events again
    assert [e["update_id"] for e in updates(api, bot.token)] == [1, 2, 3]
    # offset 2 confirms 1
    assert [e["update_id"] for e in updates(api, bot.token, offset=2)] == [2, 3]
    assert [e["update_id"] for e in updates(api, bot.token)] == [2, 3]
    assert [e["update_id"] for e in updates(api, bot.token, offset=0)] == [2, 3]
    # confirming everything
    assert updates(api, bot.token, offset=4) == []
    assert updates(api, bot.token) == []
    api.app_send(user.token, "four", target_user_id=bot.id)
    assert [(e["update_id"], e["content"]) for e in updates(api, bot.token)] == [(4, "four")]


def test_limit(api):
    user = api.user()
    bot = api.bot(user)
    for i in range(5):
        api.app_send(user.token, f"m{i}", target_user_id=bot.id)
    assert [e["update_id"] for e in updates(api, bot.token, limit=2)] == [1, 2]
    assert [e["update_id"] for e in updates(api, bot.token, offset=3, limit=1)] == [3]
    assert [e["update_id"] for e in updates(api, bot.token, limit=100)] == [3, 4, 5]


def test_get_with_query_parameters(api):
    user = api.user()
    bot = api.bot(user)
    api.app_send(user.token, "a", target_user_id=bot.id)
    api.app_send(user.token, "b", target_user_id=bot.id)
    r = api.request("GET", "/bot/getupdates", token=bot.token,
                    params={"offset": "2", "limit": "1", "timeout": "0"})
    assert r.status_code == 200, r.text
    assert [(e["update_id"], e["content"]) for e in r.json()["data"]] == [(2, "b")]
    r = api.request("GET", "/bot/getupdates", token=bot.token,
                    params={"allowed_events": '["private_message"]'})
    assert r.status_code == 200, r.text


def test_bad_parameters_are_400_and_confirm_nothing(api):
    user = api.user()
    bot = api.bot(user)
    api.app_send(user.token, "keep", target_user_id=bot.id)
    api.app_send(user.token, "keep2", target_user_id=bot.id)
    cases = [
        ({"limit": 0}, "limit"), ({"limit": 101}, "limit"), ({"limit": "5"}, "limit"),
        ({"timeout": 51}, "timeout"), ({"timeout": -1}, "timeout"),
        ({"timeout": "1"}, "timeout"), ({"offset": "2"}, "offset"),
        ({"offset": 2.5}, "offset"), ({"offset": 3, "limit": 0}, "limit"),
    ]
    for fields, name in cases:
        api.err("/bot/getupdates", bot.token, 400, name, json=fields)
    assert [e["content"] for e in updates(api, bot.token)] == ["keep", "keep2"]


def test_auth_required(api):
    status, body = api.call("/bot/getupdates", None, {})
    assert_error(status, body, 401)
    user = api.user()
    status, body = api.call("/bot/getupdates", user.token, {})
    assert_error(status, body, 401)


def test_timeout_returns_empty_list(api):
    user = api.user()
    bot = api.bot(user)
    t0 = time.monotonic()
    assert updates(api, bot.token, timeout=1) == []
    dt = time.monotonic() - t0
    assert 0.9 <= dt < 3.0, f"timeout=1 returned after {dt:.2f}s"


def test_long_poll_wakes_at_commit(api):
    user = api.user()
    bot = api.bot(user)
    poll = BgPoll(api, bot.token, timeout=20)
    _park(poll)
    sent_at = time.monotonic()
    msg = api.app_send(user.token, "wake up", target_user_id=bot.id)
    poll.join(timeout=10)
    assert poll.result is not None, "the long poll did not return"
    status, body, _ = poll.result
    assert status == 200, body
    assert [e["message_id"] for e in body["data"]] == [msg["message_id"]]
    woke = poll.started_at + poll.result[2] - sent_at
    assert woke < 1.5, f"the long poll returned {woke:.2f}s after the commit"


def test_long_poll_not_woken_by_another_bots_event(api):
    user = api.user()
    a = api.bot(user)
    b = api.bot(user)
    poll = BgPoll(api, a.token, timeout=1)
    _park(poll)
    api.app_send(user.token, "for b", target_user_id=b.id)
    poll.join(timeout=10)
    status, body, dt = poll.result
    assert status == 200 and body["data"] == [], body
    assert dt >= 0.9, f"a's poll ended after {dt:.2f}s with {body}"


def test_long_poll_with_offset_waits_past_confirmed(api):
    user = api.user()
    bot = api.bot(user)
    api.app_send(user.token, "old", target_user_id=bot.id)
    poll = BgPoll(api, bot.token, offset=2, timeout=20)
    _park(poll)
    api.app_send(user.token, "new", target_user_id=bot.id)
    poll.join(timeout=10)
    status, body, dt = poll.result
    assert status == 200, body
    assert [e["content"] for e in body["data"]] == ["new"]
    assert dt < 5


def test_second_concurrent_getupdates_ends_the_first_with_409(api):
    user = api.user()
    bot = api.bot(user)
    first = BgPoll(api, bot.token, timeout=20)
    _park(first)
    t0 = time.monotonic()
    second = updates(api, bot.token, timeout=0)
    assert second == []
    first.join(timeout=10)
    assert first.result is not None, "the superseded poll did not end"
    status, body, _ = first.result
    assert_error(status, body, 409)
    ended = first.started_at + first.result[2] - t0
    assert ended < 2.0, f"the superseded poll ended {ended:.2f}s after the second call"
    # the bot keeps working
    api.app_send(user.token, "after", target_user_id=bot.id)
    assert [e["content"] for e in updates(api, bot.token, timeout=5)] == ["after"]


def test_superseding_poll_gets_the_event(api):
    user = api.user()
    bot = api.bot(user)
    first = BgPoll(api, bot.token, timeout=20)
    _park(first)
    second = BgPoll(api, bot.token, timeout=20)
    second.start()
    first.join(timeout=10)
    assert first.result and first.result[0] == 409, first.result
    time.sleep(0.2)   # let the second poll park (no API shows it)
    api.app_send(user.token, "for the second", target_user_id=bot.id)
    second.join(timeout=10)
    status, body, _ = second.result
    assert status == 200 and [e["content"] for e in body["data"]] == ["for the second"], body


def test_getupdates_while_webhook_set_is_409(api):
    user = api.user()
    bot = api.bot(user)
    api.app_send(user.token, "pending", target_user_id=bot.id)
    set_webhook(api, bot.token, f"http://127.0.0.1:{free_port()}/down")
    msg = api.err("/bot/getupdates", bot.token, 409, "webhook", json={})
    assert "webhook" in msg
    # also as a long poll: refused at once, not after the timeout
    t0 = time.monotonic()
    api.err("/bot/getupdates", bot.token, 409, json={"timeout": 5})
    assert time.monotonic() - t0 < 2
    # deleting the webhook keeps pending events for getupdates
    api.ok("/bot/deletewebhook", bot.token, {})
    assert [e["content"] for e in updates(api, bot.token)] == ["pending"]


def test_setwebhook_ends_a_waiting_poll_with_409(api):
    """A poll that is waiting when a webhook gets set does not keep the events."""
    user = api.user()
    bot = api.bot(user)
    poll = BgPoll(api, bot.token, timeout=3)
    _park(poll)
    set_webhook(api, bot.token, f"http://127.0.0.1:{free_port()}/down")
    api.app_send(user.token, "goes to the webhook", target_user_id=bot.id)
    poll.join(timeout=10)
    status, body, _ = poll.result
    assert not (status == 200 and body["data"]), \
        f"a long poll took an event while a webhook was set: {body}"
    api.ok("/bot/deletewebhook", bot.token, {})


def test_deletewebhook_drop_pending(api):
    user = api.user()
    bot = api.bot(user)
    set_webhook(api, bot.token, f"http://127.0.0.1:{free_port()}/down")
    api.app_send(user.token, "dropped", target_user_id=bot.id)
    api.app_send(user.token, "dropped too", target_user_id=bot.id)
    assert api.ok("/bot/getwebhookinfo", bot.token, {})["pending_count"] == 2
    api.ok("/bot/deletewebhook", bot.token, {"drop_pending": True})
    assert updates(api, bot.token) == []
    api.app_send(user.token, "new", target_user_id=bot.id)
    evs = updates(api, bot.token)
    assert [(e["content"], e["update_id"]) for e in evs] == [("new", 3)]


def test_deletewebhook_bad_drop_pending(api):
    user = api.user()
    bot = api.bot(user)
    set_webhook(api, bot.token, f"http://127.0.0.1:{free_port()}/down")
    api.app_send(user.token, "kept", target_user_id=bot.id)
    api.err("/bot/deletewebhook", bot.token, 400, "drop_pending", json={"drop_pending": "yes"})
    # nothing changed: still set, still pending
    info = api.ok("/bot/getwebhookinfo", bot.token, {})
    assert info["url"] and info["pending_count"] == 1
    api.ok("/bot/deletewebhook", bot.token, {})
    assert [e["content"] for e in updates(api, bot.token)] == ["kept"]


def test_pending_events_survive_restart_and_confirmed_ones_stay_gone(tmp_path):
    with running(tmp_path / "d") as s1:
        api = Api(s1)
        user = api.user()
        bot = api.bot(user)
        for t in ("a", "b", "c"):
            api.app_send(user.token, t, target_user_id=bot.id)
        assert [e["content"] for e in updates(api, bot.token, offset=2)] == ["b", "c"]
    with running(tmp_path / "d") as s2:
        api = Api(s2)
        assert [(e["update_id"], e["content"]) for e in updates(api, bot.token)] == \
            [(2, "b"), (3, "c")]
        api.app_send(user.token, "d", target_user_id=bot.id)
        assert [e["update_id"] for e in updates(api, bot.token, offset=4)] == [4]


def test_sigterm_ends_a_waiting_long_poll(tmp_path):
    with running(tmp_path / "d") as s:
        api = Api(s)
        user = api.user()
        bot = api.bot(user)
        poll = BgPoll(api, bot.token, timeout=30)
        _park(poll)
        t0 = time.monotonic()
        rc = s.stop()
        dt = time.monotonic() - t0
        assert rc == 0, f"exit {rc}"
        assert dt < 5, f"SIGTERM took {dt:.1f}s with a long poll waiting"
        poll.join(timeout=5)
        assert poll.result is not None, "the long poll never ended"
        status, body, _ = poll.result
        assert status in (200, 503), f"the poll ended with {status} {body}"
        if status == 200:
            assert body["data"] == []


def test_poller_helper_sanity(api):
    """The Poller used by the other modules fails when fewer events arrive."""
    user = api.user()
    bot = api.bot(user)
    p = Poller(api, bot.token)
    api.app_send(user.token, "only one", target_user_id=bot.id)
    try:
        p.take(2, timeout=1.0)
    except AssertionError:
        pass
    else:
        raise AssertionError("Poller.take(2) returned with one event")
