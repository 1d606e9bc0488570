"""The same actions give the same people's events and history on SQLite and on
PostgreSQL (issue 7 QA: PostgreSQL writes the feed's data from the batch's JSON
and leaves default-valued message fields out of it).

One scenario (keyboards, unicode, 4096 code points, reply + quote, edit, callback
answer, mute/unmute, delete, private chat, sticker, contact, removal) runs on a
SQLite node and on a PostgreSQL node; the owner's /app/events stream (SSE), its
/app/getevents and the group's history must be equal once ids, usernames and
times are replaced by placeholders. Needs $BINK_TEST_PG.
"""
import json
import re
import threading

import pytest
import requests

from conftest import BINK_TEST_PG, Api, Server, uname

pytestmark = pytest.mark.skipif(not BINK_TEST_PG, reason="needs $BINK_TEST_PG")

KB = {"inline_keyboard": [[{"text": "OK ✅", "callback_data": "ok:1"},
                           {"text": "Site", "url": "https://example.com/a?b=c&d=é"}]]}
UNI = "Zażółć 👨‍👩‍👧 e\u0301 \u202eRTL\u202c \"q\" \\b\\ <t> \t tab\nnl \u2028 \U0001F600"
TIMES = {"timestamp", "edited_at", "answered_at", "created_at", "joined_at", "muted_until",
         "deleted_at", "date"}
ID_RE = re.compile(r"\b(msg|user|bot|group|file|sticker|cb)_[0-9a-z_]+")


def _sse(api, token, out, opened, last_event):
    """Reads the stream into out until an event named last_event has come
    (the read timeout ends it if it never does); sets opened on its first
    line (the server's "retry:")."""
    r = requests.get(api.url("/app/events"), headers={"Authorization": "Bearer " + token},
                     stream=True, timeout=(5, 10))
    cur = {}
    try:
        for line in r.iter_lines():
            opened.set()
            line = line.decode("utf-8")
            if not line:
                if cur:
                    out.append(cur)
                    if cur.get("event") == last_event:
                        break
                    cur = {}
                continue
            k, _, v = line.partition(":")
            if k in ("id", "event", "data"):
                cur[k] = v[1:] if v.startswith(" ") else v
    except requests.RequestException:
        pass  # reported by the comparison: events missing
    finally:
        r.close()


def _scenario(server):
    a = Api(server)
    sfx = uname("")
    owner_id, owner_tok = a.register("own" + sfx, "Owner ✓")
    user_id, user_tok = a.register("usr" + sfx, "Usr")
    bot_id, bot_tok = a.createbot(owner_tok, "bt" + sfx + "bot", "The Bot")
    sse, opened = [], threading.Event()
    # the scenario's last action, the removal, is the stream's last event
    t = threading.Thread(target=_sse, args=(a, owner_tok, sse, opened, "member_left"),
                         daemon=True)
    t.start()
    assert opened.wait(10), "the live stream did not open"
    gid = a.creategroup(owner_tok, title="Grüße 👋")
    a.addmember(owner_tok, gid, bot_id)
    a.addmember(owner_tok, gid, user_id)
    m1 = a.bot_send(bot_tok, UNI, group_id=gid, extra=KB)
    m2 = a.app_send(user_tok, "reply " + "🙂" * 10, group_id=gid,
                    reply_to_id=m1["message_id"], quote_message_id=m1["message_id"])
    m3 = a.bot_send(bot_tok, "ä" * 2000 + "😀" * 2096, group_id=gid,
                    reply_to_id=m2["message_id"])
    a.ok("/bot/editmessage", bot_tok, {"message_id": m1["message_id"], "content": "edited ✎",
                                       "extra": {"inline_keyboard": []}})
    m4 = a.bot_send(bot_tok, "click", group_id=gid, extra=KB)
    a.ok("/app/clickbutton", owner_tok, {"message_id": m4["message_id"],
                                         "callback_data": "ok:1", "wait": 0})
    ups = json.dumps(a.ok("/bot/getupdates", bot_tok, {"timeout": 0}))
    cbid = re.search(r'"(cb_[0-9a-z_]+)"', ups).group(1)
    a.ok("/bot/answercallback", bot_tok, {"callback_id": cbid, "text": "done ✓",
                                          "show_alert": True, "url": "https://example.com/x"})
    a.ok("/app/mutemember", owner_tok, {"group_id": gid, "user_id": user_id, "duration": 60})
    a.ok("/app/unmutemember", owner_tok, {"group_id": gid, "user_id": user_id})
    a.ok("/bot/deletemessage", bot_tok, {"message_id": m3["message_id"]})
    a.app_send(owner_tok, "private hi", target_user_id=bot_id)
    a.bot_send(bot_tok, "private reply", target_user_id=owner_id, extra=KB)
    stickers = a.ok("/app/stickers", owner_tok, {})["stickers"]
    a.ok("/app/sendmessage", owner_tok, {"group_id": gid, "message_type": "sticker",
                                         "file_id": stickers[0]["sticker_id"]})
    a.ok("/app/sendmessage", owner_tok, {"group_id": gid, "message_type": "contact",
                                         "file_id": user_id})
    a.ok("/app/removemember", owner_tok, {"group_id": gid, "user_id": user_id})
    t.join(timeout=15)
    assert not t.is_alive(), "the live stream did not end with member_left"
    hist = a.full_history(owner_tok, group_id=gid)
    ge = a.ok("/app/getevents", owner_tok, {"offset": 0, "timeout": 0})["events"]
    ids = {}

    def norm(v, key=None):
        if isinstance(v, dict):
            return {ID_RE.sub(lambda m: ids.setdefault(m.group(0), f"<{m.group(1)}{len(ids)}>"),
                              k.replace(sfx, "SFX")): norm(x, k) for k, x in v.items()}
        if isinstance(v, list):
            return [norm(x) for x in v]
        if key in TIMES and isinstance(v, int) and v:
            return "T"
        if isinstance(v, str):
            return ID_RE.sub(lambda m: ids.setdefault(m.group(0), f"<{m.group(1)}{len(ids)}>"),
                             v.replace(sfx, "SFX"))
        return v

    return {"sse": norm([{"id": e.get("id"), "event": e.get("event"),
                          "data": json.loads(e.get("data", "null"))} for e in sse]),
            "getevents": norm(ge), "history": norm(hist)}


def test_events_and_history_equal_on_sqlite_and_postgresql(tmp_path):
    got = {}
    for backend in ("sqlite", "pg"):
        d = tmp_path / backend
        d.mkdir()
        extra = ["--db", f"sqlite:{d}/bink.db"] if backend == "sqlite" else []
        s = Server(str(d), extra).start()
        try:
            got[backend] = _scenario(s)
        finally:
            assert s.stop() == 0
    lite, pg = got["sqlite"], got["pg"]
    assert len(lite["sse"]) >= 16, lite["sse"]
    assert [e["event"] for e in lite["sse"]] == [e["event"] for e in pg["sse"]]
    for k in ("sse", "getevents", "history"):
        for i, (x, y) in enumerate(zip(lite[k], pg[k])):
            assert x == y, f"{k}[{i}] differs:\nsqlite: {x}\npg:     {y}"
        assert len(lite[k]) == len(pg[k]), k
