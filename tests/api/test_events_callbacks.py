"""Events (issue 4): inline-button clicks and their answers.

Contract: the seed (按钮与回调, 回调怎么处理, 应答回调, 应答按钮), bot-api.md
(answercallback), app-api.md (clickbutton), events.md (callback_query).
"""
import re
import threading
import time

from conftest import Api, assert_error
from receiver import Poller, check_event_shape, running, updates

KB = {"inline_keyboard": [[{"text": "确认", "callback_data": "confirm"},
                           {"text": "取消", "callback_data": "cancel"}],
                          [{"text": "Docs", "url": "https://example.com/docs"}]]}


class BgClick(threading.Thread):
    def __init__(self, api, token, **fields):
        super().__init__(daemon=True)
        self.api, self.token, self.fields = api, token, fields
        self.result = None
        self.done_at = None

    def run(self):
        self.result = self.api.call("/app/clickbutton", self.token, self.fields)
        self.done_at = time.monotonic()


def _setup(api):
    owner = api.user()
    bot = api.bot(owner)
    gid = api.creategroup(owner.token)
    api.addmember(owner.token, gid, bot.id)
    p = Poller(api, bot.token)
    p.take(1)                                     # the bot's member_joined
    kb = api.bot_send(bot.token, "请选择:", group_id=gid, extra=KB)
    return owner, bot, gid, p, kb


def _click(api, token, message_id, data="confirm", **kw):
    return api.ok("/app/clickbutton", token, {"message_id": message_id,
                                             "callback_data": data, **kw})


def test_click_wait_returns_the_bots_answer(api):
    owner, bot, gid, p, kb = _setup(api)
    click = BgClick(api, owner.token, message_id=kb["message_id"], callback_data="confirm",
                    wait=10)
    click.start()
    [ev] = p.take(1)
    check_event_shape(ev)
    assert ev["event_type"] == "callback_query" and ev["callback_data"] == "confirm"
    assert ev["content"] == "confirm" and ev["message_type"] == "callback"
    assert ev["message_id"] == kb["message_id"] and ev["sender_id"] == owner.id
    assert ev["group_id"] == gid
    assert click.result is None, f"clickbutton returned before the answer: {click.result}"
    t0 = time.monotonic()
    ans = api.ok("/bot/answercallback", bot.token,
                 {"callback_id": ev["callback_id"], "text": "操作成功", "show_alert": True,
                  "url": "https://example.com/done"})
    assert ans["callback_id"] == ev["callback_id"]
    assert abs(ans["answered_at"] - time.time()) <= 5
    click.join(timeout=10)
    status, body = click.result
    assert status == 200, body
    assert body["data"]["callback_id"] == ev["callback_id"]
    assert body["data"]["answer"] == {"text": "操作成功", "show_alert": True,
                                      "url": "https://example.com/done"}
    assert click.done_at - t0 < 1.5, "the click waited past the answer"


def test_click_wait_times_out_with_null_answer(api):
    owner, bot, gid, p, kb = _setup(api)
    t0 = time.monotonic()
    d = _click(api, owner.token, kb["message_id"], "cancel", wait=1)
    dt = time.monotonic() - t0
    assert d["answer"] is None and 0.9 <= dt < 3.0, (d, dt)
    [ev] = p.take(1)
    assert ev["callback_id"] == d["callback_id"] and ev["callback_data"] == "cancel"
    # a late answer is still accepted within the window
    api.ok("/bot/answercallback", bot.token, {"callback_id": d["callback_id"]})


def test_click_without_wait_returns_at_once(api):
    owner, bot, gid, p, kb = _setup(api)
    t0 = time.monotonic()
    d = _click(api, owner.token, kb["message_id"])
    assert time.monotonic() - t0 < 1.0 and d["answer"] is None
    d0 = _click(api, owner.token, kb["message_id"], wait=0)
    assert d0["answer"] is None
    assert [e["callback_id"] for e in p.take(2)] == [d["callback_id"], d0["callback_id"]]


def test_answer_defaults(api):
    owner, bot, gid, p, kb = _setup(api)
    click = BgClick(api, owner.token, message_id=kb["message_id"], callback_data="confirm",
                    wait=10)
    click.start()
    [ev] = p.take(1)
    api.ok("/bot/answercallback", bot.token, {"callback_id": ev["callback_id"]})
    click.join(timeout=10)
    assert click.result[1]["data"]["answer"] == {"text": "", "show_alert": False, "url": ""}


def test_callback_id_format_and_uniqueness(api):
    owner, bot, gid, p, kb = _setup(api)
    ids = [_click(api, owner.token, kb["message_id"])["callback_id"] for _ in range(3)]
    assert len(set(ids)) == 3
    for cid in ids:
        m = re.fullmatch(rf"cb_{re.escape(owner.id)}_([0-9A-Za-z_-]+)", cid)
        assert m, f"{cid} is not cb_<clicker id>_<random>"
        assert len(m.group(1)) >= 13, f"random part {m.group(1)!r} is under 64 bits"


def test_only_the_clicker_gets_the_answer(api):
    owner, bot, gid, p, kb = _setup(api)
    other = api.user()
    api.addmember(owner.token, gid, other.id)
    p.take(1)
    c1 = BgClick(api, owner.token, message_id=kb["message_id"], callback_data="confirm",
                 wait=10)
    c2 = BgClick(api, other.token, message_id=kb["message_id"], callback_data="confirm",
                 wait=1)
    c1.start()
    c2.start()
    evs = p.take(2)
    mine = next(e for e in evs if e["sender_id"] == owner.id)
    theirs = next(e for e in evs if e["sender_id"] == other.id)
    assert theirs["callback_id"].startswith(f"cb_{other.id}_")
    api.ok("/bot/answercallback", bot.token, {"callback_id": mine["callback_id"],
                                              "text": "for owner"})
    c1.join(timeout=10)
    c2.join(timeout=10)
    assert c1.result[1]["data"]["answer"]["text"] == "for owner"
    assert c2.result[0] == 200 and c2.result[1]["data"]["answer"] is None, c2.result


# --------------------------------------------------------------------------
# answercallback errors
# --------------------------------------------------------------------------
def test_answercallback_twice_is_409(api):
    owner, bot, gid, p, kb = _setup(api)
    cid = _click(api, owner.token, kb["message_id"])["callback_id"]
    api.ok("/bot/answercallback", bot.token, {"callback_id": cid, "text": "first"})
    msg = api.err("/bot/answercallback", bot.token, 409, json={"callback_id": cid,
                                                               "text": "second"})
    assert cid in msg or "callback" in msg
    api.err("/bot/answercallback", bot.token, 409, json={"callback_id": cid})


def test_answercallback_with_another_bots_token_is_404(api):
    owner, bot, gid, p, kb = _setup(api)
    intruder = api.bot(owner)
    api.addmember(owner.token, gid, intruder.id)        # even in the same group
    click = BgClick(api, owner.token, message_id=kb["message_id"], callback_data="confirm",
                    wait=10)
    click.start()
    cid = [e for e in p.take(2) if e["event_type"] == "callback_query"][0]["callback_id"]
    api.err("/bot/answercallback", intruder.token, 404, "callback_id",
            json={"callback_id": cid, "text": "hijack"})
    # not consumed: the right bot answers, and the clicker gets its text
    api.ok("/bot/answercallback", bot.token, {"callback_id": cid, "text": "real"})
    click.join(timeout=10)
    assert click.result[1]["data"]["answer"]["text"] == "real"
    api.err("/bot/answercallback", intruder.token, 404, json={"callback_id": cid})


def test_answercallback_unknown_is_404(api):
    owner, bot, gid, p, kb = _setup(api)
    for cid in ("cb_nothing_here", f"cb_{owner.id}_0000000000000", "nope", "cb_"):
        api.err("/bot/answercallback", bot.token, 404, "callback_id",
                json={"callback_id": cid})


def test_answercallback_bad_input_stores_nothing(api):
    owner, bot, gid, p, kb = _setup(api)
    click = BgClick(api, owner.token, message_id=kb["message_id"], callback_data="confirm",
                    wait=10)
    click.start()
    [ev] = p.take(1)
    cid = ev["callback_id"]
    for fields, name in (
            ({}, "callback_id"), ({"callback_id": 7}, "callback_id"),
            ({"callback_id": ""}, "callback_id"),
            ({"callback_id": cid, "text": "x" * 201}, "text"),
            ({"callback_id": cid, "text": "好" * 201}, "text"),
            ({"callback_id": cid, "text": 5}, "text"),
            ({"callback_id": cid, "show_alert": "true"}, "show_alert"),
            ({"callback_id": cid, "show_alert": 1}, "show_alert"),
            ({"callback_id": cid, "url": "ftp://example.com/x"}, "url"),
            ({"callback_id": cid, "url": "not a url"}, "url"),
            ({"callback_id": cid, "url": "/relative"}, "url")):
        status, body = api.call("/bot/answercallback", bot.token, fields)
        if name == "callback_id" and fields.get("callback_id") == "":
            assert status in (400, 404), body
            assert_error(status, body, status, "callback_id")
        else:
            assert_error(status, body, 400, name)
    assert click.result is None, f"a refused answer reached the clicker: {click.result}"
    # 200 code points of CJK are within the limit
    api.ok("/bot/answercallback", bot.token, {"callback_id": cid, "text": "好" * 200})
    click.join(timeout=10)
    assert click.result[1]["data"]["answer"]["text"] == "好" * 200


def test_answercallback_auth(api):
    owner, bot, gid, p, kb = _setup(api)
    cid = _click(api, owner.token, kb["message_id"])["callback_id"]
    status, body = api.call("/bot/answercallback", None, {"callback_id": cid})
    assert_error(status, body, 401)
    status, body = api.call("/bot/answercallback", owner.token, {"callback_id": cid})
    assert_error(status, body, 401)
    api.ok("/bot/answercallback", bot.token, {"callback_id": cid})


def test_answercallback_too_late_is_410(tmp_path):
    with running(tmp_path / "d", "--callback-ttl", "1") as s:
        api = Api(s)
        owner, bot, gid, p, kb = _setup(api)
        late = _click(api, owner.token, kb["message_id"])["callback_id"]
        clicked_at = time.monotonic()
        fresh = _click(api, owner.token, kb["message_id"])["callback_id"]
        api.ok("/bot/answercallback", bot.token, {"callback_id": fresh})   # in time
        # the window itself is under test: wait until it has surely passed (1 s, plus
        # one more for servers that keep whole-second times)
        while time.monotonic() < clicked_at + 2.1:
            time.sleep(0.05)
        status, body = api.call("/bot/answercallback", bot.token, {"callback_id": late})
        assert_error(status, body, 410, "callback_id")
        # still expired, not "answered" and not unknown
        api.err("/bot/answercallback", bot.token, 410, json={"callback_id": late})
        api.err("/bot/answercallback", bot.token, 409, json={"callback_id": fresh})


# --------------------------------------------------------------------------
# clickbutton errors
# --------------------------------------------------------------------------
def test_clickbutton_errors_store_nothing(api):
    owner, bot, gid, p, kb = _setup(api)
    outsider = api.user()
    plain = api.bot_send(bot.token, "no buttons", group_id=gid)
    umsg = api.app_send(owner.token, "a user's message", group_id=gid)
    mid = kb["message_id"]
    for fields, name in (
            ({"callback_data": "confirm"}, "message_id"),
            ({"message_id": mid}, "callback_data"),
            ({"message_id": 5, "callback_data": "confirm"}, "message_id"),
            ({"message_id": mid, "callback_data": 5}, "callback_data"),
            ({"message_id": mid, "callback_data": "confirm", "wait": 31}, "wait"),
            ({"message_id": mid, "callback_data": "confirm", "wait": -1}, "wait"),
            ({"message_id": mid, "callback_data": "confirm", "wait": "1"}, "wait")):
        api.err("/app/clickbutton", owner.token, 400, name, json=fields)
    for fields in ({"message_id": mid, "callback_data": "nope"},
                   {"message_id": mid, "callback_data": "https://example.com/docs"},
                   {"message_id": plain["message_id"], "callback_data": "confirm"},
                   {"message_id": umsg["message_id"], "callback_data": "confirm"},
                   {"message_id": "msg_0000000000000", "callback_data": "confirm"}):
        api.err("/app/clickbutton", owner.token, 404, json=fields)
    api.err("/app/clickbutton", outsider.token, 403,
            json={"message_id": mid, "callback_data": "confirm"})
    status, body = api.call("/app/clickbutton", bot.token,
                            {"message_id": mid, "callback_data": "confirm"})
    assert_error(status, body, 401)
    # nothing reached the bot: the next event is a real click
    ok = _click(api, owner.token, mid, "cancel")
    [ev] = p.take(1)
    assert ev["callback_id"] == ok["callback_id"] and ev["callback_data"] == "cancel"
    assert updates(api, bot.token, offset=p.offset, timeout=0) == []


def test_private_chat_buttons(api):
    user = api.user()
    bot = api.bot(user)
    stranger = api.user()
    p = Poller(api, bot.token)
    api.app_send(user.token, "/start", target_user_id=bot.id)
    p.take(1)
    kb = api.bot_send(bot.token, "pick", target_user_id=user.id, extra=KB)
    api.err("/app/clickbutton", stranger.token, 403,
            json={"message_id": kb["message_id"], "callback_data": "confirm"})
    d = _click(api, user.token, kb["message_id"])
    [ev] = p.take(1)
    assert ev["callback_id"] == d["callback_id"]
    assert ev["group_id"] == "" and ev["group_title"] == "" and ev["sender_id"] == user.id


def test_buttons_removed_by_edit_or_delete_cannot_be_clicked(api):
    owner, bot, gid, p, kb = _setup(api)
    edited = api.ok("/bot/editmessage", bot.token,
                    {"message_id": kb["message_id"], "content": "已确认",
                     "extra": {"inline_keyboard": []}})
    assert edited["extra"]["inline_keyboard"] == [] and edited["edited_at"] > 0
    api.err("/app/clickbutton", owner.token, 404,
            json={"message_id": kb["message_id"], "callback_data": "confirm"})
    kb2 = api.bot_send(bot.token, "again", group_id=gid, extra=KB)
    api.ok("/bot/deletemessage", bot.token, {"message_id": kb2["message_id"]})
    api.err("/app/clickbutton", owner.token, 404,
            json={"message_id": kb2["message_id"], "callback_data": "confirm"})
    assert updates(api, bot.token, offset=p.offset, timeout=0) == []


def test_sigterm_ends_a_waiting_click(tmp_path):
    with running(tmp_path / "d") as s:
        api = Api(s)
        owner, bot, gid, p, kb = _setup(api)
        click = BgClick(api, owner.token, message_id=kb["message_id"],
                        callback_data="confirm", wait=30)
        click.start()
        p.take(1)                      # the click is stored; its wait has begun
        time.sleep(0.2)
        t0 = time.monotonic()
        rc = s.stop()
        dt = time.monotonic() - t0
        assert rc == 0 and dt < 5, f"exit {rc} after {dt:.1f}s with a click waiting"
        click.join(timeout=5)
        assert click.result is not None, "the waiting click never ended"
        status, body = click.result
        assert status in (200, 503), body
        if status == 200:
            assert body["data"]["answer"] is None
