"""Events (issue 4): webhook delivery with a real receiver on 127.0.0.1.

Contract: events.md (Webhook delivery), bot-api.md (setwebhook, getwebhookinfo,
deletewebhook), app-api.md (updatebot webhook fields, deliveries, redeliver), issue 4
("Bad input and faults"). The receiver (receiver.py) records every request; tests wait
on it with timeouts instead of sleeping. Signatures are checked with our own HMAC code.
"""
import base64
import json
import os
import re
import subprocess
import time

import pytest

from conftest import BINK_TEST_PG, BINKD, Api, assert_error, unknown_like
from receiver import (Receiver, Server, check_event_shape, expected_signature, free_port,
                      kill9, running, set_webhook, signature_valid, signing_key,
                      updates, webhook_info)

PLAIN_SECRET = "plain-secret-0123456789"          # 23 printable ASCII characters


def wait_until(fn, timeout=5.0, what="condition", step=0.05):
    """Polls fn() until it returns something truthy (for server-side state that no
    event announces, e.g. the delivery log catching up)."""
    deadline = time.monotonic() + timeout
    while True:
        v = fn()
        if v:
            return v
        if time.monotonic() >= deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}; last: {v!r}")
        time.sleep(step)


def deliveries(api, owner, bot, **fields):
    return api.ok("/app/deliveries", owner.token, {"bot_id": bot.id, **fields})["deliveries"]


def delivery_of(api, owner, bot, update_id):
    for d in deliveries(api, owner, bot, limit=100):
        if d["update_id"] == update_id:
            return d
    return None


def hits_of(rcv, wid):
    return [h for h in rcv.snapshot() if h.wid == wid]


def new_secret(nbytes=32):
    return "whsec_" + base64.b64encode(os.urandom(nbytes)).decode()


@pytest.fixture
def fast_server(tmp_path):
    """A server whose webhook timeout is 1 s."""
    with running(tmp_path / "data", "--webhook-timeout", "1") as s:
        yield s


# --------------------------------------------------------------------------
# the request: headers, body, signature
# --------------------------------------------------------------------------
def test_headers_and_body(api):
    user = api.user()
    bot = api.bot(user)
    version = subprocess.run([BINKD, "--version"], capture_output=True, text=True,
                             timeout=10).stdout.split()[-1]
    with Receiver(path="/hook/x?token=abc&y=1") as rcv:
        set_webhook(api, bot.token, rcv.url)
        msg = api.app_send(user.token, "headers please", target_user_id=bot.id)
        [h] = rcv.wait_acked(1)
        now = time.time()
    assert h.method == "POST"
    assert h.path == "/hook/x?token=abc&y=1", "the URL's path and query are used as given"
    assert h.headers.get("content-type", "").lower().replace(" ", "") == \
        "application/json;charset=utf-8", h.headers
    assert h.headers.get("user-agent") == f"binkd/{version}", h.headers
    assert h.headers.get("x-bink-event") == "private_message"
    assert h.headers.get("x-bink-attempt") == "1"
    ev = check_event_shape(h.event)
    assert ev["update_id"] == 1 and ev["message_id"] == msg["message_id"]
    assert ev["content"] == "headers please" and ev["sender_id"] == user.id
    assert h.headers.get("webhook-id") == f"evt_{bot.id}_1", h.headers
    ts = h.headers.get("webhook-timestamp", "")
    assert re.fullmatch(r"[0-9]+", ts), h.headers
    assert abs(int(ts) - now) <= 5
    assert "webhook-signature" not in h.headers, "no secret, no signature"
    assert bot.token not in json.dumps(h.headers) + h.body.decode()
    api.ok("/bot/deletewebhook", bot.token, {})


@pytest.mark.parametrize("secret", [new_secret(32), new_secret(24), new_secret(64),
                                    PLAIN_SECRET, "x" * 16, "A~x!" * 64],
                         ids=["whsec32", "whsec24", "whsec64", "plain", "plain16",
                              "plain256"])
def test_signature_verified_by_our_own_hmac(api, secret):
    user = api.user()
    bot = api.bot(user)
    with Receiver() as rcv:
        set_webhook(api, bot.token, rcv.url, secret=secret)
        assert webhook_info(api, bot.token)["has_secret"] is True
        api.app_send(user.token, "sign me ✓", target_user_id=bot.id)
        [h] = rcv.wait_acked(1)
    sig = h.headers.get("webhook-signature", "")
    assert sig.startswith("v1,"), h.headers
    assert signature_valid(h, secret), \
        f"signature {sig} does not verify with key {signing_key(secret)!r}"
    # the checker itself rejects a changed body, id, timestamp or key
    key = signing_key(secret)
    good = expected_signature(key, h.wid, h.headers["webhook-timestamp"], h.body)
    assert good != expected_signature(key, h.wid, h.headers["webhook-timestamp"], h.body + b" ")
    assert good != expected_signature(key, h.wid + "0", h.headers["webhook-timestamp"], h.body)
    assert good != expected_signature(key + b"x", h.wid, h.headers["webhook-timestamp"], h.body)
    if secret.startswith("whsec_"):
        # the key is the decoded bytes, not the text of the secret
        assert not signature_valid(h, secret[len("whsec_"):])
        assert sig.split(",", 1)[1] != expected_signature(secret.encode(), h.wid,
                                                          h.headers["webhook-timestamp"],
                                                          h.body)
    api.ok("/bot/deletewebhook", bot.token, {})


# --------------------------------------------------------------------------
# faults
# --------------------------------------------------------------------------
def test_500_then_200_two_attempts_same_id_nothing_after(api):
    user = api.user()
    bot = api.bot(user)
    secret = new_secret()
    seen = set()

    def respond(h):
        if h.event and h.event["content"] == "first" and "first" not in seen:
            seen.add("first")
            return 500
        return 200

    with Receiver(respond) as rcv:
        set_webhook(api, bot.token, rcv.url, secret=secret)
        api.app_send(user.token, "first", target_user_id=bot.id)
        rcv.wait_content("first")
        # a later event of the same chat: delivered only after "first" is settled, so
        # any further attempt of "first" would have come before it
        api.app_send(user.token, "sentinel", target_user_id=bot.id)
        rcv.wait_content("sentinel")
        hits = hits_of(rcv, f"evt_{bot.id}_1")
    assert [h.attempt for h in hits] == [1, 2], hits
    assert [h.status for h in hits] == [500, 200]
    assert hits[0].body == hits[1].body, "a retry carries the same event"
    assert hits[0].wid == hits[1].wid == f"evt_{bot.id}_1"
    assert all(signature_valid(h, secret) for h in hits), "each attempt is signed afresh"
    assert int(hits[1].headers["webhook-timestamp"]) >= int(hits[0].headers["webhook-timestamp"])
    gap = hits[1].t_start - hits[0].t_end
    assert 0.75 <= gap <= 3.0, f"first retry after {gap:.2f}s (expected 1 s +-20 %)"
    d = delivery_of(api, user, bot, 1)
    assert d and d["status"] == "delivered" and d["attempt"] == 2 and d["http_status"] == 200, d
    api.ok("/bot/deletewebhook", bot.token, {})


def test_backoff_grows(api):
    """500, 500, 200: the second wait is about twice the first (1 s, 2 s, +-20 %)."""
    user = api.user()
    bot = api.bot(user)
    with Receiver(lambda h: 200 if h.attempt == 3 else 500) as rcv:
        set_webhook(api, bot.token, rcv.url)
        api.app_send(user.token, "x", target_user_id=bot.id)
        rcv.wait_acked(1, timeout=10)
        hits = rcv.snapshot()
    assert [h.attempt for h in hits] == [1, 2, 3]
    g1 = hits[1].t_start - hits[0].t_end
    g2 = hits[2].t_start - hits[1].t_end
    assert 0.75 <= g1 <= 1.5 and 1.55 <= g2 <= 3.0, f"gaps {g1:.2f}s {g2:.2f}s"
    api.ok("/bot/deletewebhook", bot.token, {})


def test_timeout_retried_never_in_parallel_chat_waits_others_flow(fast_server):
    api = Api(fast_server)
    ua, ub = api.user(), api.user()
    bot = api.bot(ua)

    def respond(h):
        if h.event and h.event["content"] == "A1" and h.attempt == 1:
            time.sleep(1.6)           # past the 1 s timeout, but over before a retry
            return 200
        return 200

    with Receiver(respond) as rcv:
        set_webhook(api, bot.token, rcv.url)
        api.app_send(ua.token, "A1", target_user_id=bot.id)
        first = rcv.wait_content("A1", acked=False)
        api.app_send(ua.token, "A2", target_user_id=bot.id)
        api.app_send(ub.token, "B1", target_user_id=bot.id)
        b1 = rcv.wait_content("B1", timeout=5)
        b1_done = time.monotonic()
        rcv.wait_content("A2", timeout=10)
        hits = rcv.snapshot()
    a1 = [h for h in hits if h.event["content"] == "A1"]
    a2 = [h for h in hits if h.event["content"] == "A2"]
    assert not rcv.overlaps, f"two attempts of one event at once: {rcv.overlaps}"
    assert len(a1) >= 2, f"the timed-out attempt was not retried: {hits}"
    assert [h.attempt for h in a1] == list(range(1, len(a1) + 1))
    assert a1[1].t_start >= first.t_start + 1.0, "retried before the timeout passed"
    a1_ok = next(h for h in a1 if h.acked and h.attempt >= 2)
    assert all(h.t_start >= a1_ok.t_start for h in a2), \
        f"A2 was sent before A1 succeeded: {hits}"
    # the other chat flowed while A1's first attempt hung
    assert b1.t_start < first.t_start + 1.0, f"B1 waited for chat A: {hits}"
    assert b1_done < first.t_start + 1.6
    info = wait_until(lambda: (lambda i: i if i["pending_count"] == 0 else None)(
        webhook_info(api, bot.token)), 5, "pending_count 0")
    assert info["last_error_msg"], info


@pytest.mark.parametrize("code", [302, 307])
def test_redirect_not_followed_counted_failure_retried(api, code):
    user = api.user()
    bot = api.bot(user)
    with Receiver() as target:
        def respond(h):
            if h.event["content"] == "redirect me" and h.attempt == 1:
                return code, {"Location": target.url}
            return 200

        with Receiver(respond) as rcv:
            t0 = int(time.time())
            set_webhook(api, bot.token, rcv.url)
            api.app_send(user.token, "redirect me", target_user_id=bot.id)
            rcv.wait_acked(1)
            api.app_send(user.token, "sentinel", target_user_id=bot.id)
            rcv.wait_content("sentinel")
            hits = rcv.snapshot()
        assert target.snapshot() == [], "the redirect was followed"
    assert [(h.event["content"], h.attempt, h.status) for h in hits] == [
        ("redirect me", 1, code), ("redirect me", 2, 200), ("sentinel", 1, 200)]
    info = webhook_info(api, bot.token)
    assert str(code) in info["last_error_msg"], info
    assert info["last_error_at"] >= t0 and info["last_success_at"] >= info["last_error_at"]
    api.ok("/bot/deletewebhook", bot.token, {})


@pytest.mark.parametrize("status", [429, 503])
def test_retry_after_honoured(api, status):
    user = api.user()
    bot = api.bot(user)
    with Receiver(lambda h: (status, {"Retry-After": "2"}) if h.attempt == 1 else 200) as rcv:
        set_webhook(api, bot.token, rcv.url)
        api.app_send(user.token, "slow down", target_user_id=bot.id)
        rcv.wait_acked(1, timeout=8)
        hits = rcv.snapshot()
    assert [(h.attempt, h.status) for h in hits] == [(1, status), (2, 200)]
    gap = hits[1].t_start - hits[0].t_end
    assert gap >= 1.95, f"retried {gap:.2f}s after Retry-After: 2"
    assert gap <= 4.0, f"retried only after {gap:.2f}s"
    api.ok("/bot/deletewebhook", bot.token, {})


def test_kill9_restart_twice_delivers_each_once(tmp_path):
    """Three events of one chat queued while the receiver is down; the first is
    acknowledged; binkd is killed with SIGKILL while the second is in flight, restarted,
    killed again while the third is in flight, and restarted: the second and the third
    are acknowledged exactly once each, the first is never sent again."""
    import threading
    data = str(tmp_path / "data")
    port = free_port()
    gates = {"e2": threading.Event(), "e3": threading.Event()}
    seen = set()
    lock = threading.Lock()

    def respond(h):
        c = (h.event or {}).get("content")
        with lock:
            first_time = c in gates and c not in seen
            seen.add(c)
        if first_time:
            gates[c].wait(10)         # binkd gets killed while we hold this request
            return 500                # answered to a dead peer: never an acknowledgement
        return 200

    flags = ["--webhook-timeout", "5"]
    rcv = Receiver(respond, port=port)
    try:
        s1 = Server(data, flags).start()
        try:
            api = Api(s1)
            user = api.user()
            bot = api.bot(user)
            set_webhook(api, bot.token, f"http://127.0.0.1:{port}/hook")
            for c in ("e1", "e2", "e3"):
                api.app_send(user.token, c, target_user_id=bot.id)
            wait_until(lambda: webhook_info(api, bot.token)["last_error_msg"], 5,
                       "a failed attempt while the receiver is down")
            assert webhook_info(api, bot.token)["pending_count"] == 3
            rcv.start()
            rcv.wait_content("e1", timeout=8)
            rcv.wait_content("e2", acked=False, timeout=5)
            wait_until(lambda: (delivery_of(api, user, bot, 1) or {}).get("status")
                       == "delivered", 5, "e1 recorded as delivered")
        finally:
            kill9(s1)
        gates["e2"].set()

        # On PostgreSQL the killed node's lease on e2's chat (webhook-timeout
        # + 5 s, docs/scaling.md) must run out before a node, even this one
        # restarted, sends it again: a node cannot tell a dead holder from a
        # slow one.
        lease = 10 if BINK_TEST_PG else 0
        s2 = Server(data, flags).start()
        try:
            api = Api(s2)
            rcv.wait_content("e2", timeout=10 + lease)
            rcv.wait_content("e3", acked=False, timeout=5)
            wait_until(lambda: (delivery_of(api, user, bot, 2) or {}).get("status")
                       == "delivered", 5, "e2 recorded as delivered")
        finally:
            kill9(s2)
        gates["e3"].set()

        with running(data, *flags) as s3:
            api = Api(s3)
            rcv.wait_content("e3", timeout=10 + lease)
            api.app_send(user.token, "e4", target_user_id=bot.id)
            rcv.wait_content("e4", timeout=10)
            hits = rcv.snapshot()
            for uid in (1, 2, 3, 4):
                wait_until(lambda: (lambda d: d if d and d["status"] == "delivered"
                                        else None)(delivery_of(api, user, bot, uid)),
                               5, f"update {uid} delivered")
            assert webhook_info(api, bot.token)["pending_count"] == 0
    finally:
        for g in gates.values():
            g.set()
        rcv.stop()
    acked = [h.event["content"] for h in hits if h.acked]
    assert acked == ["e1", "e2", "e3", "e4"], f"acknowledged deliveries: {hits}"
    assert [h.event["content"] for h in hits].count("e1") == 1, f"e1 sent again: {hits}"
    for c, uid in (("e1", 1), ("e2", 2), ("e3", 3), ("e4", 4)):
        assert {h.wid for h in hits if h.event["content"] == c} == {f"evt_{bot.id}_{uid}"}
    assert not rcv.overlaps, rcv.overlaps


def test_hang_up_without_answer_is_a_failure_and_retried(api):
    user = api.user()
    bot = api.bot(user)
    with Receiver(lambda h: "close" if h.attempt == 1 else 200) as rcv:
        set_webhook(api, bot.token, rcv.url)
        api.app_send(user.token, "hang up", target_user_id=bot.id)
        [h] = rcv.wait_acked(1, timeout=8)
        hits = rcv.snapshot()
    assert [(x.attempt, x.status) for x in hits] == [(1, None), (2, 200)], hits
    assert h.wid == hits[0].wid
    assert webhook_info(api, bot.token)["last_error_msg"]
    api.ok("/bot/deletewebhook", bot.token, {})


def test_hang_up_on_a_reused_connection_is_one_attempt_not_a_silent_resend(api):
    """libcurl re-sends a request by itself when a reused connection dies before any
    answer. For a webhook that would be a second POST of the same attempt at once,
    outside the back-off. Each attempt must reach the receiver exactly once."""
    user = api.user()
    bot = api.bot(user)

    def respond(h):
        if h.event and h.event["content"] == "second" and h.attempt == 1:
            return "close"
        return 200

    with Receiver(respond) as rcv:
        set_webhook(api, bot.token, rcv.url)
        api.app_send(user.token, "first", target_user_id=bot.id)
        rcv.wait_content("first")  # a kept-alive connection now exists
        api.app_send(user.token, "second", target_user_id=bot.id)
        rcv.wait_content("second", timeout=10)
        hits = [h for h in rcv.snapshot() if h.event and h.event["content"] == "second"]
    assert [(x.attempt, x.status) for x in hits] == [(1, None), (2, 200)], hits
    gap = hits[1].t_start - hits[0].t_end
    assert gap >= 0.75, f"the second attempt came {gap:.2f}s after the first (back-off: 1 s)"
    api.ok("/bot/deletewebhook", bot.token, {})


def test_connections_are_kept_alive_and_reused(api):
    user = api.user()
    bot = api.bot(user)
    with Receiver() as rcv:
        set_webhook(api, bot.token, rcv.url)
        for i in range(6):
            api.app_send(user.token, f"k{i}", target_user_id=bot.id)
        rcv.wait_acked(6)
        hits = rcv.snapshot()
    ports = {h.client[1] for h in hits}
    assert len(ports) <= 2, f"6 deliveries of one chat used {len(ports)} connections"
    api.ok("/bot/deletewebhook", bot.token, {})


def test_max_connections_limits_parallel_chats(api):
    owner = api.user()
    bot = api.bot(owner)
    users = [api.user() for _ in range(4)]

    def respond(h):
        time.sleep(0.4)
        return 200

    for limit in (1, 2):
        with Receiver(respond) as rcv:
            set_webhook(api, bot.token, rcv.url, max_connections=limit)
            assert webhook_info(api, bot.token)["max_connections"] == limit
            for u in users:
                api.app_send(u.token, f"hello {limit}", target_user_id=bot.id)
            rcv.wait_acked(4, timeout=10)
            assert rcv.max_inflight_total == limit, \
                f"max_connections={limit}: {rcv.max_inflight_total} requests at once"
    api.ok("/bot/deletewebhook", bot.token, {})


def test_per_chat_order_and_parallel_chats(api):
    owner = api.user()
    bot = api.bot(owner)
    u1, u2 = api.user(), api.user()
    gid = api.creategroup(owner.token)
    api.addmember(owner.token, gid, bot.id)
    api.addmember(owner.token, gid, u1.id)

    def respond(h):
        time.sleep(0.05)
        return 200

    with Receiver(respond) as rcv:
        set_webhook(api, bot.token, rcv.url)
        for i in range(5):
            api.app_send(u1.token, f"p{i}", target_user_id=bot.id)
            api.app_send(u2.token, f"q{i}", target_user_id=bot.id)
            api.app_send(u1.token, f"/g{i}", group_id=gid)
        rcv.wait_acked(17, timeout=10)           # 2 joins + 15 messages
        hits = rcv.snapshot()
    assert not rcv.overlaps
    by_chat = {}
    for h in hits:
        e = h.event
        key = e["group_id"] or e["sender_id"]
        by_chat.setdefault(key, []).append(e["update_id"])
    for key, ids in by_chat.items():
        assert ids == sorted(ids), f"chat {key} out of order: {ids}"
    assert len(by_chat) == 3
    # the chats went in parallel
    assert rcv.max_inflight_total >= 2
    api.ok("/bot/deletewebhook", bot.token, {})


# --------------------------------------------------------------------------
# setwebhook / getwebhookinfo / deletewebhook
# --------------------------------------------------------------------------
def test_setwebhook_host_that_does_not_resolve_is_400(api):
    user = api.user()
    bot = api.bot(user)
    api.err("/bot/setwebhook", bot.token, 400, "url",
            json={"url": "http://no-such-host.invalid/"})
    assert webhook_info(api, bot.token)["url"] == ""


def test_setwebhook_bad_input_changes_nothing(api):
    user = api.user()
    bot = api.bot(user)
    with Receiver() as rcv:
        good = set_webhook(api, bot.token, rcv.url, secret=PLAIN_SECRET, max_connections=7,
                           allowed_events=["private_message"])
        assert good["url"] == rcv.url and good["has_secret"] is True
        before = webhook_info(api, bot.token)
        bad = [
            ({"url": "http://no-such-host.invalid/"}, "url"),
            ({"url": "ftp://127.0.0.1/x"}, "url"),
            ({"url": "not a url"}, "url"),
            ({"url": "/relative/path"}, "url"),
            ({"url": "http://"}, "url"),
            ({"url": 42}, "url"),
            ({}, "url"),
            ({"url": rcv.url, "secret": "short"}, "secret"),
            ({"url": rcv.url, "secret": "x" * 15}, "secret"),
            ({"url": rcv.url, "secret": "x" * 257}, "secret"),
            ({"url": rcv.url, "secret": "é" * 20}, "secret"),
            ({"url": rcv.url, "secret": "tab\there-0123456789"}, "secret"),
            ({"url": rcv.url, "secret": new_secret(16)}, "secret"),
            ({"url": rcv.url, "secret": new_secret(65)}, "secret"),
            ({"url": rcv.url, "secret": 12345678901234567}, "secret"),
            ({"url": rcv.url, "max_connections": 0}, "max_connections"),
            ({"url": rcv.url, "max_connections": 101}, "max_connections"),
            ({"url": rcv.url, "max_connections": "5"}, "max_connections"),
            ({"url": rcv.url, "allowed_events": ["bogus"]}, "allowed_events"),
            ({"url": rcv.url, "allowed_events": "private_message"}, "allowed_events"),
            ({"url": rcv.url, "drop_pending": "yes"}, "drop_pending"),
        ]
        for fields, name in bad:
            status, body = api.call("/bot/setwebhook", bot.token, fields)
            assert_error(status, body, 400, name)
        assert webhook_info(api, bot.token) == before
        # the secret in force is still the first one
        api.app_send(user.token, "still signed", target_user_id=bot.id)
        [h] = rcv.wait_acked(1)
        assert signature_valid(h, PLAIN_SECRET)
    api.ok("/bot/deletewebhook", bot.token, {})


def test_setwebhook_empty_url_deletes(api):
    user = api.user()
    bot = api.bot(user)
    with Receiver() as rcv:
        set_webhook(api, bot.token, rcv.url)
        api.ok("/bot/setwebhook", bot.token, {"url": ""})
    assert webhook_info(api, bot.token)["url"] == ""
    api.app_send(user.token, "polled", target_user_id=bot.id)
    evs = api.ok("/bot/getupdates", bot.token, {})
    assert [e["content"] for e in evs] == ["polled"]


def test_deny_private_webhooks(tmp_path):
    with running(tmp_path / "d", "--deny-private-webhooks") as s:
        api = Api(s)
        user = api.user()
        bot = api.bot(user)
        for url in ("http://127.0.0.1:9/x", "http://localhost:9/x", "http://10.1.2.3/x",
                    "http://192.168.1.1/x", "http://[::1]:9/x"):
            api.err("/bot/setwebhook", bot.token, 400, "url", json={"url": url})
        assert webhook_info(api, bot.token)["url"] == ""


def test_getwebhookinfo_fields_and_url_change_sends_pending(api):
    user = api.user()
    bot = api.bot(user)
    info = webhook_info(api, bot.token)
    assert info == {"url": "", "has_secret": False, "max_connections": 40,
                    "allowed_events": [], "pending_count": 0, "last_error_at": 0,
                    "last_error_msg": "", "last_success_at": 0}
    down = f"http://127.0.0.1:{free_port()}/down"
    t0 = int(time.time())
    set_webhook(api, bot.token, down, max_connections=3,
                allowed_events=["private_message", "callback_query"])
    api.app_send(user.token, "one", target_user_id=bot.id)
    api.app_send(user.token, "two", target_user_id=bot.id)
    info = wait_until(lambda: (lambda i: i if i["last_error_msg"] else None)(
        webhook_info(api, bot.token)), 5, "a delivery error")
    assert info["url"] == down and info["has_secret"] is False
    assert info["max_connections"] == 3
    assert sorted(info["allowed_events"]) == ["callback_query", "private_message"]
    assert info["pending_count"] == 2
    assert info["last_error_at"] >= t0 and info["last_success_at"] == 0
    # a new URL gets the pending events, in order
    with Receiver() as rcv:
        set_webhook(api, bot.token, rcv.url, secret=PLAIN_SECRET)
        hits = rcv.wait_acked(2, timeout=8)
        assert [h.event["content"] for h in hits] == ["one", "two"]
        info = wait_until(lambda: (lambda i: i if i["pending_count"] == 0 else None)(
            webhook_info(api, bot.token)), 5, "pending_count 0")
        assert info["url"] == rcv.url and info["has_secret"] is True
        assert info["last_success_at"] >= t0
    api.ok("/bot/deletewebhook", bot.token, {})


def test_allowed_events_narrow_the_webhook(api):
    user = api.user()
    bot = api.bot(user)
    with Receiver() as rcv:
        set_webhook(api, bot.token, rcv.url, allowed_events=["callback_query"])
        api.app_send(user.token, "not for the hook", target_user_id=bot.id)
        kb = api.bot_send(bot.token, "pick", target_user_id=user.id,
                          extra={"inline_keyboard": [[{"text": "A", "callback_data": "a"}]]})
        api.ok("/app/clickbutton", user.token, {"message_id": kb["message_id"],
                                               "callback_data": "a"})
        # the click is in the same private chat, so the message would have come first
        rcv.wait(lambda hs: any(h.acked and h.event["event_type"] == "callback_query"
                                for h in hs), 5, "the callback_query")
        hits = rcv.snapshot()
    assert [h.event["event_type"] for h in hits] == ["callback_query"], hits
    assert hits[0].headers.get("x-bink-event") == "callback_query"
    api.ok("/bot/deletewebhook", bot.token, {})


def test_setwebhook_drop_pending(api):
    user = api.user()
    bot = api.bot(user)
    set_webhook(api, bot.token, f"http://127.0.0.1:{free_port()}/down")
    api.app_send(user.token, "old 1", target_user_id=bot.id)
    api.app_send(user.token, "old 2", target_user_id=bot.id)
    with Receiver() as rcv:
        set_webhook(api, bot.token, rcv.url, drop_pending=True)
        assert webhook_info(api, bot.token)["pending_count"] == 0
        api.app_send(user.token, "new", target_user_id=bot.id)
        h = rcv.wait_content("new")
        hits = rcv.snapshot()
    assert [x.event["content"] for x in hits] == ["new"], hits
    assert h.event["update_id"] == 3
    api.ok("/bot/deletewebhook", bot.token, {})


def test_updatebot_sets_the_webhook(api):
    user = api.user()
    bot = api.bot(user)
    with Receiver() as rcv:
        api.ok("/app/updatebot", user.token, {"bot_id": bot.id, "webhook_url": rcv.url,
                                              "webhook_secret": PLAIN_SECRET,
                                              "max_connections": 5})
        info = webhook_info(api, bot.token)
        assert info["url"] == rcv.url and info["has_secret"] and info["max_connections"] == 5
        api.app_send(user.token, "via updatebot", target_user_id=bot.id)
        [h] = rcv.wait_acked(1)
        assert signature_valid(h, PLAIN_SECRET)
        api.err("/app/updatebot", user.token, 400, "webhook_url",
                json={"bot_id": bot.id, "webhook_url": "http://no-such-host.invalid/"})
        assert webhook_info(api, bot.token)["url"] == rcv.url
        other = api.user()
        api.err("/app/updatebot", other.token, 403,
                json={"bot_id": bot.id, "webhook_url": "http://127.0.0.1:9/"})
    api.ok("/bot/deletewebhook", bot.token, {})


# --------------------------------------------------------------------------
# the delivery log
# --------------------------------------------------------------------------
def test_deliveries_statuses_filters_and_redeliver(api):
    owner = api.user()
    ua, ub = api.user(), api.user()
    bot = api.bot(owner)
    fail = {"on": True}

    def respond(h):
        if h.event and h.event["content"] == "A1" and fail["on"]:
            return 500
        return 200

    with Receiver(respond) as rcv:
        t0 = int(time.time())
        set_webhook(api, bot.token, rcv.url)
        api.app_send(ua.token, "A1", target_user_id=bot.id)     # 1 retrying
        api.app_send(ua.token, "A2", target_user_id=bot.id)     # 2 pending behind it
        api.app_send(ub.token, "B1", target_user_id=bot.id)     # 3 delivered
        rcv.wait_content("B1")

        def settled():
            ds = deliveries(api, owner, bot)
            st = {d["update_id"]: d["status"] for d in ds}
            return ds if st == {1: "retrying", 2: "pending", 3: "delivered"} else None
        ds = wait_until(settled, 5, "retrying/pending/delivered")
        assert [d["update_id"] for d in ds] == [3, 2, 1], "newest first"
        for d in ds:
            assert set(d) >= {"update_id", "event_type", "attempt", "status", "http_status",
                              "error", "latency_ms", "at"}, d
            assert d["event_type"] == "private_message" and d["at"] >= t0
        d1, d2, d3 = ds[2], ds[1], ds[0]
        assert d1["http_status"] == 500 and d1["attempt"] >= 1 and d1["error"], d1
        assert d2["attempt"] == 0
        assert d3["http_status"] == 200 and d3["attempt"] == 1 and d3["error"] == ""
        assert isinstance(d3["latency_ms"], int) and d3["latency_ms"] >= 0
        assert [d["update_id"] for d in deliveries(api, owner, bot, status="retrying")] == [1]
        assert [d["update_id"] for d in deliveries(api, owner, bot, status="pending")] == [2]
        assert [d["update_id"] for d in deliveries(api, owner, bot, status="delivered")] == [3]
        assert deliveries(api, owner, bot, status="dead") == []
        assert [d["update_id"] for d in deliveries(api, owner, bot, limit=1)] == [3]
        assert [d["update_id"] for d in deliveries(api, owner, bot, before=3)] == [2, 1]
        assert [d["update_id"] for d in deliveries(api, owner, bot, before=2, limit=5)] == [1]

        # let A1 through: A2 follows
        fail["on"] = False
        rcv.wait_content("A2", timeout=8)
        wait_until(lambda: all(d["status"] == "delivered" for d in deliveries(api, owner, bot)),
                   5, "all delivered")

        # redeliver a delivered event: the same event again, same webhook-id
        n = len(rcv.snapshot())
        r = api.ok("/app/redeliver", owner.token, {"bot_id": bot.id, "update_id": 3})
        assert r is not None
        again = rcv.wait(lambda hs: hs[n:] if any(h.acked for h in hs[n:]) else None, 5,
                         "the redelivery")
        first = next(h for h in rcv.snapshot() if h.event["content"] == "B1")
        assert [h.wid for h in again] == [f"evt_{bot.id}_3"]
        assert again[0].body == first.body
        wait_until(lambda: (delivery_of(api, owner, bot, 3) or {}).get("status") == "delivered",
                   5, "redelivered event delivered")
    api.ok("/bot/deletewebhook", bot.token, {})


def test_deliveries_and_redeliver_errors(api):
    owner = api.user()
    bot = api.bot(owner)
    other = api.user()
    api.app_send(owner.token, "x", target_user_id=bot.id)
    for fields, name in (({}, "bot_id"), ({"bot_id": 5}, "bot_id"),
                         ({"bot_id": bot.id, "limit": 0}, "limit"),
                         ({"bot_id": bot.id, "limit": 101}, "limit"),
                         ({"bot_id": bot.id, "status": "lost"}, "status"),
                         ({"bot_id": bot.id, "before": "x"}, "before")):
        api.err("/app/deliveries", owner.token, 400, name, json=fields)
    api.err("/app/deliveries", other.token, 403, json={"bot_id": bot.id})
    api.err("/app/deliveries", owner.token, 404, json={"bot_id": unknown_like(bot.id)})
    status, body = api.call("/app/deliveries", bot.token, {"bot_id": bot.id})
    assert_error(status, body, 401)

    for fields, name in (({"update_id": 1}, "bot_id"), ({"bot_id": bot.id}, "update_id"),
                         ({"bot_id": bot.id, "update_id": "1"}, "update_id")):
        api.err("/app/redeliver", owner.token, 400, name, json=fields)
    api.err("/app/redeliver", other.token, 403, json={"bot_id": bot.id, "update_id": 1})
    api.err("/app/redeliver", owner.token, 404, "update_id",
            json={"bot_id": bot.id, "update_id": 999})
    api.err("/app/redeliver", owner.token, 404,
            json={"bot_id": unknown_like(bot.id), "update_id": 1})
    # none of that touched the event
    evs = api.ok("/bot/getupdates", bot.token, {})
    assert [e["content"] for e in evs] == ["x"]


def test_webhook_errors_never_leak_the_token_into_the_log(fast_server):
    api = Api(fast_server)
    user = api.user()
    bot = api.bot(user)
    with Receiver(lambda h: 500) as rcv:
        set_webhook(api, bot.token, rcv.url, secret=PLAIN_SECRET)
        api.app_send(user.token, "secret body 7f3a", target_user_id=bot.id)
        rcv.wait(lambda hs: len(hs) >= 2, 5, "a retry")
    api.ok("/bot/deletewebhook", bot.token, {})
    log = fast_server.log_text()
    assert bot.token not in log and user.token not in log
    assert PLAIN_SECRET not in log
    assert "secret body 7f3a" not in log, "event bodies are never logged"


# --------------------------------------------------------------------------
# webhook and getupdates share one store of events
# --------------------------------------------------------------------------
def test_delivered_events_are_not_served_by_getupdates(api):
    user = api.user()
    bot = api.bot(user)
    with Receiver() as rcv:
        set_webhook(api, bot.token, rcv.url)
        api.app_send(user.token, "via hook", target_user_id=bot.id)
        rcv.wait_content("via hook")
        wait_until(lambda: webhook_info(api, bot.token)["pending_count"] == 0, 5,
                   "pending_count 0")
    api.ok("/bot/deletewebhook", bot.token, {})
    assert api.ok("/bot/getupdates", bot.token, {}) == []
    api.app_send(user.token, "via poll", target_user_id=bot.id)
    evs = api.ok("/bot/getupdates", bot.token, {})
    assert [(e["content"], e["update_id"]) for e in evs] == [("via poll", 2)]


def test_confirmed_events_are_not_sent_to_a_new_webhook(api):
    user = api.user()
    bot = api.bot(user)
    for c in ("one", "two", "three"):
        api.app_send(user.token, c, target_user_id=bot.id)
    api.ok("/bot/getupdates", bot.token, {"offset": 2})           # confirms "one"
    with Receiver() as rcv:
        set_webhook(api, bot.token, rcv.url)
        rcv.wait_content("three")
        hits = rcv.snapshot()
    assert [h.event["content"] for h in hits] == ["two", "three"], hits
    api.ok("/bot/deletewebhook", bot.token, {})


def test_webhook_endpoints_methods_and_form_bodies(api):
    user = api.user()
    bot = api.bot(user)
    with Receiver() as rcv:
        r = api.request("POST", "/bot/setwebhook", token=bot.token,
                        data={"url": rcv.url, "max_connections": "5",
                              "allowed_events": '["private_message"]'})
        assert r.status_code == 200, r.text
        r = api.request("GET", "/bot/getwebhookinfo", token=bot.token)
        assert r.status_code == 200, r.text
        info = r.json()["data"]
        assert info["url"] == rcv.url and info["max_connections"] == 5
        assert info["allowed_events"] == ["private_message"]
        r = api.request("GET", "/bot/setwebhook", token=bot.token, params={"url": rcv.url})
        assert r.status_code == 405 and "POST" in r.headers.get("Allow", ""), r.text
        r = api.request("POST", "/bot/deleteWebhook", token=bot.token,
                        data={"drop_pending": "false"})
        assert r.status_code == 200, r.text
    assert webhook_info(api, bot.token)["url"] == ""
    for path in ("/bot/setwebhook", "/bot/getwebhookinfo", "/bot/deletewebhook"):
        status, body = api.call(path, None, {})
        assert_error(status, body, 401)
        status, body = api.call(path, user.token, {})
        assert_error(status, body, 401)


def test_any_2xx_is_success(api):
    user = api.user()
    bot = api.bot(user)
    codes = {"a": 201, "b": 204, "c": 299}
    with Receiver(lambda h: codes[h.event["content"]]) as rcv:
        set_webhook(api, bot.token, rcv.url)
        for c in codes:
            api.app_send(user.token, c, target_user_id=bot.id)
        rcv.wait_content("c")
        wait_until(lambda: webhook_info(api, bot.token)["pending_count"] == 0, 5,
                   "pending_count 0")
        hits = rcv.snapshot()
    assert [(h.event["content"], h.attempt) for h in hits] == [("a", 1), ("b", 1), ("c", 1)]
    assert webhook_info(api, bot.token)["last_error_msg"] == ""
    api.ok("/bot/deletewebhook", bot.token, {})


def test_retry_after_ignored_on_500(api):
    """Retry-After is honoured on 429 and 503 only; a 500 keeps the 1 s back-off."""
    user = api.user()
    bot = api.bot(user)
    with Receiver(lambda h: (500, {"Retry-After": "5"}) if h.attempt == 1 else 200) as rcv:
        set_webhook(api, bot.token, rcv.url)
        api.app_send(user.token, "x", target_user_id=bot.id)
        rcv.wait_acked(1, timeout=8)
        hits = rcv.snapshot()
    gap = hits[1].t_start - hits[0].t_end
    assert gap < 2.5, f"a 500's Retry-After was followed: {gap:.2f}s"
    api.ok("/bot/deletewebhook", bot.token, {})


def test_long_utf8_event_signed_over_its_bytes(api):
    user = api.user()
    bot = api.bot(user)
    text = "签名✓👍" * 1000                      # 4000 code points, many bytes
    with Receiver() as rcv:
        set_webhook(api, bot.token, rcv.url, secret=PLAIN_SECRET)
        api.app_send(user.token, text, target_user_id=bot.id)
        [h] = rcv.wait_acked(1)
    assert h.event["content"] == text
    assert signature_valid(h, PLAIN_SECRET)
    assert int(h.headers.get("content-length", len(h.body))) == len(h.body)
    api.ok("/bot/deletewebhook", bot.token, {})


def test_drop_pending_while_an_attempt_is_in_flight_stays_dropped(api):
    """deletewebhook with drop_pending while an attempt of the event is on its
    way: the attempt's outcome (a 500 here) is logged, but the event stays
    dropped, never pending again (getupdates does not hand it out)."""
    import threading
    gate = threading.Event()

    def respond(h):
        gate.wait(10)
        return 500

    rcv = Receiver(respond).start()
    try:
        user = api.user()
        bot = api.bot(user)
        set_webhook(api, bot.token, rcv.url)
        api.app_send(user.token, "in flight", target_user_id=bot.id)
        rcv.wait(lambda hs: hs, timeout=10, what="the attempt to arrive")
        api.ok("/bot/deletewebhook", bot.token, {"drop_pending": True})
        gate.set()
        wait_until(lambda: (delivery_of(api, user, bot, 1) or {}).get("http_status") == 500,
                   5, "the attempt's outcome recorded")
        # the log shows a dropped event as dead (not retrying, not pending)
        assert delivery_of(api, user, bot, 1)["status"] == "dead"
        assert updates(api, bot.token) == []
        api.app_send(user.token, "after", target_user_id=bot.id)
        assert [(e["content"], e["update_id"]) for e in updates(api, bot.token)] == \
            [("after", 2)]
    finally:
        gate.set()
        rcv.stop()
