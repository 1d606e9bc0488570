"""Events (issue 4): live updates for people — GET /app/events (Server-Sent Events)
and POST /app/getevents (long polling).

Contract: app-api.md (Live updates for people: id / event / data, Last-Event-ID, user
event names and payloads), issue 4 scope 6 and 7, and the "Done when" (the clicker's
live stream shows the edit). Streams are read by a thread; tests wait on frames with
timeouts. "Not delivered" is proven by a later event on the same stream (a sentinel).
"""
import json
import os
import socket
import threading
import time

import requests

from conftest import Api, assert_error
from receiver import Poller, running

USER_EVENTS = {"message_new", "message_edited", "message_deleted", "callback_answer",
               "member_joined", "member_left", "member_muted", "member_unmuted",
               "chat_updated"}


class _Resp:
    def __init__(self, status, headers, text):
        self.status_code, self.headers, self.text = status, headers, text


class Sse:
    """An open /app/events stream over a plain socket (so that closing it is immediate),
    parsed into frames {id, event, data} by a thread."""

    def __init__(self, base, token, last_event_id=None):
        host, port = base.split("//", 1)[1].split(":")
        self.sock = socket.create_connection((host, int(port)), timeout=10)
        req = (f"GET /app/events HTTP/1.1\r\nHost: {host}:{port}\r\n"
               f"Authorization: Bearer {token}\r\nAccept: text/event-stream\r\n")
        if last_event_id is not None:
            req += f"Last-Event-ID: {last_event_id}\r\n"
        self.sock.sendall((req + "\r\n").encode())
        self.rfile = self.sock.makefile("rb")
        status_line = self.rfile.readline().decode()
        status = int(status_line.split()[1])
        headers = {}
        while True:
            line = self.rfile.readline().decode().rstrip("\r\n")
            if not line:
                break
            k, _, v = line.partition(":")
            headers[k.strip().title()] = v.strip()
        self.chunked = headers.get("Transfer-Encoding", "").lower() == "chunked"
        text = ""
        if status != 200:
            n = int(headers.get("Content-Length", "0"))
            text = self.rfile.read(n).decode() if n else ""
        self.resp = _Resp(status, headers, text)
        self.frames = []
        self.comments = []
        self.retry = None
        self.ended = False
        self.error = None
        self.cond = threading.Condition()
        self.thread = threading.Thread(target=self._run, daemon=True)
        if status == 200:
            self.sock.settimeout(None)
            self.thread.start()

    def _chunks(self):
        if not self.chunked:
            while True:
                b = self.rfile.read1(65536)
                if not b:
                    return
                yield b
        while True:
            size_line = self.rfile.readline()
            if not size_line:
                return
            size = int(size_line.split(b";")[0].strip() or b"0", 16)
            if size == 0:
                return
            data = self.rfile.read(size)
            self.rfile.readline()
            yield data

    def _run(self):
        buf = b""
        cur = {}
        try:
            for chunk in self._chunks():
                buf += chunk
                while b"\n" in buf:
                    line, buf = buf.split(b"\n", 1)
                    line = line.rstrip(b"\r").decode("utf-8")
                    with self.cond:
                        if line == "":
                            if "data" in cur or "event" in cur:
                                f = {"id": cur.get("id"), "event": cur.get("event", "message"),
                                     "raw": cur.get("data", "")}
                                f["data"] = json.loads(f["raw"]) if f["raw"] else None
                                self.frames.append(f)
                            cur = {}
                            self.cond.notify_all()
                        elif line.startswith(":"):
                            self.comments.append(line)
                        else:
                            k, _, v = line.partition(":")
                            v = v[1:] if v.startswith(" ") else v
                            if k == "data":
                                cur["data"] = cur["data"] + "\n" + v if "data" in cur else v
                            elif k == "retry":
                                self.retry = v
                            elif k in ("id", "event"):
                                cur[k] = v
        except Exception as e:  # noqa: BLE001 - a closed stream ends here
            self.error = e
        with self.cond:
            self.ended = True
            self.cond.notify_all()

    def wait(self, pred, timeout=5.0, what="frame"):
        deadline = time.monotonic() + timeout
        with self.cond:
            while True:
                v = pred(self.frames)
                if v:
                    return v
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(f"SSE: timed out waiting for {what}; frames: "
                                         f"{[(f['id'], f['event']) for f in self.frames]}; "
                                         f"ended={self.ended} error={self.error!r}")
                self.cond.wait(min(left, 0.5))

    def wait_event(self, name, match=None, timeout=5.0):
        def pred(fs):
            for f in fs:
                if f["event"] == name and (match is None or match(f["data"])):
                    return f
            return None
        return self.wait(pred, timeout, f"{name}")

    def until(self, name, match=None, timeout=5.0):
        """Every frame up to and including the first `name` frame that matches."""
        f = self.wait_event(name, match, timeout)
        with self.cond:
            return self.frames[:self.frames.index(f) + 1]

    def wait_ended(self, timeout=5.0):
        deadline = time.monotonic() + timeout
        with self.cond:
            while not self.ended and time.monotonic() < deadline:
                self.cond.wait(0.2)
            return self.ended

    def close(self):
        try:
            self.sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self.sock.close()


def _open(api, token, **kw):
    s = Sse(api.base, token, **kw)
    assert s.resp.status_code == 200, s.resp.text
    return s


def _ready(s):
    """The stream has started: the server has sent its first bytes (the retry field,
    or a frame). Nothing else shows that a stream is registered, so we wait for them."""
    deadline = time.monotonic() + 5
    while s.retry is None and not s.frames and time.monotonic() < deadline:
        time.sleep(0.02)
    assert s.retry is not None or s.frames, "the SSE stream sent nothing"


def _getevents(api, token, **fields):
    d = api.ok("/app/getevents", token, fields)
    assert isinstance(d, dict) and isinstance(d.get("events"), list), d
    return d["events"]


def _world(api):
    owner = api.user()
    member = api.user()
    bot = api.bot(owner)
    gid = api.creategroup(owner.token)
    api.addmember(owner.token, gid, bot.id)
    return owner, member, bot, gid


# --------------------------------------------------------------------------
# SSE
# --------------------------------------------------------------------------
def test_sse_headers_and_auth(api):
    owner, member, bot, gid = _world(api)
    s = _open(api, owner.token)
    try:
        ct = s.resp.headers.get("Content-Type", "")
        assert ct.startswith("text/event-stream"), s.resp.headers
        assert s.resp.headers.get("X-Request-Id")
    finally:
        s.close()
    for tok in (None, bot.token, "u1.not-a-token"):
        h = {} if tok is None else {"Authorization": "Bearer " + tok}
        r = requests.get(api.base + "/app/events", headers=h, timeout=10)
        assert_error(r.status_code, r.json(), 401)


def test_sse_carries_every_user_event(api):
    owner, member, bot, gid = _world(api)
    s = _open(api, owner.token)
    try:
        _ready(s)
        api.addmember(owner.token, gid, member.id)
        m = api.app_send(member.token, "hello", group_id=gid)
        kb = api.bot_send(bot.token, "pick", group_id=gid,
                          extra={"inline_keyboard": [[{"text": "A", "callback_data": "a"}]]})
        cid = api.ok("/app/clickbutton", owner.token, {"message_id": kb["message_id"],
                                                       "callback_data": "a"})["callback_id"]
        api.ok("/bot/answercallback", bot.token, {"callback_id": cid, "text": "got it",
                                                  "show_alert": True,
                                                  "url": "https://example.com/a"})
        edited = api.ok("/app/editmessage", member.token, {"message_id": m["message_id"],
                                                           "content": "hello again"})
        api.ok("/app/deletemessage", member.token, {"message_id": m["message_id"]})
        api.ok("/app/mutemember", owner.token, {"group_id": gid, "user_id": member.id,
                                                "duration": 60})
        api.ok("/app/unmutemember", owner.token, {"group_id": gid, "user_id": member.id})
        api.ok("/app/leavegroup", member.token, {"group_id": gid})
        frames = s.until("member_left")
    finally:
        s.close()
    got = [f["event"] for f in frames]
    assert got == ["member_joined", "message_new", "message_new", "callback_answer",
                   "message_edited", "message_deleted", "member_muted", "member_unmuted",
                   "member_left"], got
    assert set(got) <= USER_EVENTS
    ids = [int(f["id"]) for f in frames]
    assert ids == sorted(ids) and len(set(ids)) == len(ids), f"ids not increasing: {ids}"
    d = {f["event"]: f["data"] for f in frames}
    assert d["member_joined"]["group_id"] == gid and d["member_joined"]["user_id"] == member.id
    assert frames[1]["data"] == m, "message_new carries the message object"
    assert frames[2]["data"]["message_id"] == kb["message_id"]
    assert frames[2]["data"]["extra"] == kb["extra"]
    assert d["callback_answer"] == {"callback_id": cid, "message_id": kb["message_id"],
                                    "text": "got it", "show_alert": True,
                                    "url": "https://example.com/a"}
    assert d["message_edited"] == edited and d["message_edited"]["edited_at"] > 0
    tomb = d["message_deleted"]
    assert tomb["message_id"] == m["message_id"] and tomb.get("deleted") is True
    assert "content" not in tomb or tomb["content"] in ("", None), "a tombstone has no content"
    assert d["member_muted"]["group_id"] == gid and d["member_muted"]["user_id"] == member.id
    assert d["member_unmuted"]["user_id"] == member.id
    assert d["member_left"] == {**d["member_left"], "group_id": gid, "user_id": member.id}


def test_sse_new_stream_starts_now_and_private_chats_reach_both(api):
    owner, member, bot, gid = _world(api)
    api.app_send(owner.token, "before the stream", group_id=gid)
    s = _open(api, member.token)
    try:
        _ready(s)
        pm = api.app_send(owner.token, "psst", target_user_id=member.id)
        frames = s.until("message_new", lambda d: d["message_id"] == pm["message_id"])
    finally:
        s.close()
    assert [f["data"]["content"] for f in frames] == ["psst"], frames
    assert frames[0]["data"]["chat_type"] == "private"


def test_sse_outsiders_and_other_clickers_see_nothing(api):
    owner, member, bot, gid = _world(api)
    api.addmember(owner.token, gid, member.id)
    outsider = api.user()
    so = _open(api, outsider.token)
    sm = _open(api, member.token)
    try:
        _ready(so)
        _ready(sm)
        kb = api.bot_send(bot.token, "pick", group_id=gid,
                          extra={"inline_keyboard": [[{"text": "A", "callback_data": "a"}]]})
        cid = api.ok("/app/clickbutton", owner.token, {"message_id": kb["message_id"],
                                                       "callback_data": "a"})["callback_id"]
        api.ok("/bot/answercallback", bot.token, {"callback_id": cid, "text": "owner only"})
        api.app_send(owner.token, "group chatter", group_id=gid)
        s1 = api.app_send(owner.token, "sentinel for outsider", target_user_id=outsider.id)
        fo = so.until("message_new", lambda d: d["message_id"] == s1["message_id"])
        fm = sm.until("message_new", lambda d: d["content"] == "group chatter")
    finally:
        so.close()
        sm.close()
    assert [f["data"].get("content") for f in fo] == ["sentinel for outsider"], fo
    assert [f["event"] for f in fm] == ["message_new", "message_new"], \
        f"another member got the clicker's callback_answer: {fm}"


def test_sse_removed_member_stops_hearing_the_group(api):
    owner, member, bot, gid = _world(api)
    api.addmember(owner.token, gid, member.id)
    s = _open(api, member.token)
    try:
        _ready(s)
        api.ok("/app/removemember", owner.token, {"group_id": gid, "user_id": member.id})
        api.app_send(owner.token, "after removal", group_id=gid)
        sentinel = api.app_send(owner.token, "private sentinel", target_user_id=member.id)
        frames = s.until("message_new", lambda d: d["message_id"] == sentinel["message_id"])
    finally:
        s.close()
    assert [f["event"] for f in frames] == ["member_left", "message_new"], frames
    assert frames[0]["data"]["user_id"] == member.id


def test_sse_last_event_id_resumes(api):
    owner, member, bot, gid = _world(api)
    s = _open(api, owner.token)
    try:
        _ready(s)
        a = api.app_send(owner.token, "a", group_id=gid)
        b = api.app_send(owner.token, "b", group_id=gid)
        frames = s.until("message_new", lambda d: d["message_id"] == b["message_id"])
    finally:
        s.close()
    assert [f["data"]["content"] for f in frames] == ["a", "b"]
    id_a = frames[0]["id"]
    c = api.app_send(owner.token, "c", group_id=gid)          # while disconnected
    s2 = _open(api, owner.token, last_event_id=id_a)
    try:
        frames2 = s2.until("message_new", lambda d: d["message_id"] == c["message_id"])
        d = api.app_send(owner.token, "d", group_id=gid)       # live again
        frames3 = s2.until("message_new", lambda x: x["message_id"] == d["message_id"])
    finally:
        s2.close()
    assert [f["data"]["content"] for f in frames2] == ["b", "c"], frames2
    assert frames2[0]["id"] == frames[1]["id"], "the same event keeps its id"
    assert [f["data"]["content"] for f in frames3] == ["b", "c", "d"]
    assert a["message_id"] not in [f["data"]["message_id"] for f in frames3]


def test_sse_last_event_id_beyond_the_newest_starts_now(api):
    """A Last-Event-ID past every row (made up, or from another database) does not
    leave the stream silent until the ids catch up: it starts from now."""
    owner, member, bot, gid = _world(api)
    for bogus in ("99999999", "99999999999999999999"):
        s = _open(api, owner.token, last_event_id=bogus)
        try:
            _ready(s)
            m = api.app_send(owner.token, "after " + bogus, group_id=gid)
            frames = s.until("message_new", lambda d: d["message_id"] == m["message_id"])
        finally:
            s.close()
        assert [f["data"]["content"] for f in frames] == ["after " + bogus], frames


def test_sse_ended_cleanly_by_sigterm(tmp_path):
    with running(tmp_path / "d") as srv:
        api = Api(srv)
        u = api.user()
        s = _open(api, u.token)
        _ready(s)
        t0 = time.monotonic()
        rc = srv.stop()
        dt = time.monotonic() - t0
        assert rc == 0 and dt < 5, f"exit {rc} after {dt:.1f}s with a stream open"
        assert s.wait_ended(5), "the stream did not end"


# --------------------------------------------------------------------------
# getevents
# --------------------------------------------------------------------------
def test_getevents_offset_and_same_content_as_sse(api):
    owner, member, bot, gid = _world(api)
    s = _open(api, owner.token)
    try:
        _ready(s)
        m1 = api.app_send(owner.token, "one", group_id=gid)
        m2 = api.app_send(owner.token, "two", group_id=gid)
        frames = s.until("message_new", lambda d: d["message_id"] == m2["message_id"])
    finally:
        s.close()
    first = int(frames[0]["id"])
    evs = _getevents(api, owner.token, offset=first)
    assert [(e["id"], e["event"], e["data"]) for e in evs[:2]] == \
        [(int(f["id"]), f["event"], f["data"]) for f in frames]
    assert evs[0]["data"] == m1
    assert [e["data"]["content"] for e in _getevents(api, owner.token, offset=first + 1)
            if e["event"] == "message_new"][:1] == ["two"]
    last = evs[-1]["id"]
    assert _getevents(api, owner.token, offset=last + 1) == []


def test_getevents_long_poll_wakes_and_times_out(api):
    owner, member, bot, gid = _world(api)
    evs = _getevents(api, owner.token)
    nxt = (max(e["id"] for e in evs) + 1) if evs else 0
    t0 = time.monotonic()
    assert _getevents(api, owner.token, offset=nxt, timeout=1) == []
    assert 0.9 <= time.monotonic() - t0 < 3
    out = {}

    def poll():
        out["evs"] = _getevents(api, owner.token, offset=nxt, timeout=20)
        out["at"] = time.monotonic()
    t = threading.Thread(target=poll, daemon=True)
    t.start()
    time.sleep(0.3)                      # let the poll park; nothing in the API shows it
    sent = time.monotonic()
    m = api.app_send(owner.token, "wake", group_id=gid)
    t.join(timeout=10)
    assert "evs" in out, "getevents did not return"
    assert [e["data"]["message_id"] for e in out["evs"]] == [m["message_id"]]
    assert out["at"] - sent < 1.5


def test_getevents_bad_input(api):
    u = api.user()
    for fields, name in (({"offset": -1}, "offset"), ({"offset": "1"}, "offset"),
                         ({"timeout": 51}, "timeout"), ({"timeout": -1}, "timeout"),
                         ({"timeout": "1"}, "timeout")):
        api.err("/app/getevents", u.token, 400, name, json=fields)
    bot = api.bot(u)
    status, body = api.call("/app/getevents", bot.token, {})
    assert_error(status, body, 401)


# --------------------------------------------------------------------------
# "Done when": the clicker's live stream shows the answer and the edit
# --------------------------------------------------------------------------
def test_seed_flow_live_stream_shows_the_edit(tmp_path):
    data = str(tmp_path / "data")
    with running(data, "--demo") as srv:
        api = Api(srv)
        with open(os.path.join(data, "demo.json"), encoding="utf-8") as f:
            demo = json.load(f)
        s = _open(api, demo["user_token"])
        try:
            _ready(s)
            p = Poller(api, demo["bot_token"])
            p.take(1)
            api.app_send(demo["user_token"], "/start", target_user_id=demo["bot_id"])
            [ev] = p.take(1)
            reply = api.bot_send(demo["bot_token"], "欢迎使用", target_user_id=ev["sender_id"])
            kb = api.bot_send(demo["bot_token"], "请选择:", group_id=demo["group_id"], extra={
                "inline_keyboard": [[{"text": "确认", "callback_data": "confirm"},
                                     {"text": "取消", "callback_data": "cancel"}]]})
            out = {}
            t = threading.Thread(target=lambda: out.update(click=api.call(
                "/app/clickbutton", demo["user_token"],
                {"message_id": kb["message_id"], "callback_data": "confirm", "wait": 10})),
                daemon=True)
            t.start()
            [cq] = p.take(1)
            api.ok("/bot/answercallback", demo["bot_token"],
                   {"callback_id": cq["callback_id"], "text": "已确认", "show_alert": False})
            api.ok("/bot/editmessage", demo["bot_token"],
                   {"message_id": kb["message_id"], "content": "已确认",
                    "extra": {"inline_keyboard": []}})
            t.join(timeout=10)
            assert out["click"][1]["data"]["answer"]["text"] == "已确认"
            frames = s.until("message_edited",
                             lambda d: d["message_id"] == kb["message_id"])
        finally:
            s.close()
    names = [(f["event"], (f["data"] or {}).get("message_id") or
              (f["data"] or {}).get("callback_id")) for f in frames]
    assert ("message_new", reply["message_id"]) in names, names
    assert ("message_new", kb["message_id"]) in names, names
    ans = next(f["data"] for f in frames if f["event"] == "callback_answer")
    assert ans == {"callback_id": cq["callback_id"], "message_id": kb["message_id"],
                   "text": "已确认", "show_alert": False, "url": ""}
    edit = frames[-1]["data"]
    assert edit["content"] == "已确认" and edit["extra"]["inline_keyboard"] == []
    assert edit["edited_at"] > 0
