"""Events (issue 4): the event object, update_id, and which events reach which bot.

Contract: events.md (The event object; Which group messages reach a bot), the seed's
Webhook section (私聊示例 and its keys), bot-api.md getupdates. Events are read with
getupdates long polls (they wake at commit), so nothing here sleeps; "not delivered"
is proven by a later addressed message in the same chat (a sentinel): the event list
up to the sentinel must be exactly the expected one.
"""
import struct
import time
import zlib

import requests

from conftest import uname
from receiver import EVENT_KEYS, SEED_KEYS, Poller, check_event_shape, updates


def _png():
    def chunk(t, d):
        return struct.pack(">I", len(d)) + t + d + struct.pack(">I", zlib.crc32(t + d) & 0xFFFFFFFF)
    raw = b"\x00\xff\x00\x00\xff\x00\x00" * 2
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", 2, 2, 8, 2, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b""))


def _group_with(api, owner, *members, **fields):
    gid = api.creategroup(owner.token, **fields)
    for m in members:
        api.addmember(owner.token, gid, m.id)
    return gid


def _contents(events):
    return [(e["event_type"], e["content"]) for e in events]


def _assert_gapless(events, start=1):
    ids = [e["update_id"] for e in events]
    assert ids == list(range(start, start + len(ids))), f"update_ids not gapless: {ids}"


# --------------------------------------------------------------------------
# the event object
# --------------------------------------------------------------------------
def test_private_message_event_has_every_key_and_seed_values(api):
    user = api.user()
    bot = api.bot(user)
    p = Poller(api, bot.token)
    before = int(time.time())
    msg = api.app_send(user.token, "你好", target_user_id=bot.id)
    [ev] = p.take(1)
    check_event_shape(ev)
    assert ev == {
        "event_type": "private_message", "update_id": 1, "message_id": msg["message_id"],
        "sender_id": user.id, "sender_username": user.username,
        "sender_display_name": user.username.title(), "group_id": "", "group_username": "",
        "group_title": "", "message_type": "text", "content": "你好",
        "timestamp": ev["timestamp"], "callback_id": "", "callback_data": "", "file_id": "",
        "file": None, "reply_to_id": "", "quote_message_id": "", "inviter_id": "",
    } | {k: v for k, v in ev.items() if k not in EVENT_KEYS}
    assert before - 1 <= ev["timestamp"] <= int(time.time()) + 1
    assert ev["timestamp"] == msg["timestamp"]


def test_group_message_event_fields(api):
    owner = api.user()
    bot = api.bot(owner)
    gname = uname("g")
    gid = _group_with(api, owner, bot, title="测试群组", username=gname)
    p = Poller(api, bot.token)
    p.take(1)                                       # the bot's own member_joined
    msg = api.app_send(owner.token, f"hello @{bot.username}", group_id=gid)
    [ev] = p.take(1)
    check_event_shape(ev)
    assert ev["event_type"] == "group_message"
    assert ev["update_id"] == 2
    assert ev["message_id"] == msg["message_id"]
    assert ev["sender_id"] == owner.id and ev["sender_username"] == owner.username
    assert ev["group_id"] == gid and ev["group_title"] == "测试群组"
    assert ev["group_username"] == gname
    assert ev["message_type"] == "text" and ev["content"] == f"hello @{bot.username}"
    assert ev["callback_id"] == "" and ev["callback_data"] == "" and ev["inviter_id"] == ""


def test_reply_and_quote_ids_in_event(api):
    user = api.user()
    bot = api.bot(user)
    p = Poller(api, bot.token)
    first = api.app_send(user.token, "first", target_user_id=bot.id)
    bmsg = api.bot_send(bot.token, "bot says", target_user_id=user.id)
    api.app_send(user.token, "a reply", target_user_id=bot.id, reply_to_id=bmsg["message_id"])
    api.app_send(user.token, "a quote", target_user_id=bot.id,
                 quote_message_id=first["message_id"])
    evs = p.take(3)
    for ev in evs:
        check_event_shape(ev)
    assert _contents(evs) == [("private_message", "first"), ("private_message", "a reply"),
                              ("private_message", "a quote")]
    assert evs[1]["reply_to_id"] == bmsg["message_id"] and evs[1]["quote_message_id"] == ""
    assert evs[2]["quote_message_id"] == first["message_id"] and evs[2]["reply_to_id"] == ""


def test_media_message_event_carries_file(api):
    user = api.user()
    bot = api.bot(user)
    p = Poller(api, bot.token)
    png = _png()
    r = requests.post(api.url("/app/uploadfile"),
                      headers={"Authorization": "Bearer " + user.token},
                      files={"file": ("dot.png", png, "application/octet-stream")}, timeout=30)
    assert r.status_code == 200, r.text
    fid = r.json()["data"]["file_id"]
    msg = api.app_send(user.token, "caption", target_user_id=bot.id, message_type="image",
                       file_id=fid)
    [ev] = p.take(1)
    check_event_shape(ev)
    assert ev["message_type"] == "image" and ev["content"] == "caption"
    assert ev["file_id"] == fid == msg["file_id"]
    assert isinstance(ev["file"], dict), ev
    assert ev["file"].get("file_name") == "dot.png"
    assert ev["file"].get("mime_type") == "image/png"
    assert ev["file"].get("file_size") == len(png)


def test_seed_keys_are_a_subset_of_event_keys():
    # guards the constants the other tests rely on
    assert len(SEED_KEYS) == 13 and set(SEED_KEYS) < set(EVENT_KEYS)
    assert len(EVENT_KEYS) == 19


# --------------------------------------------------------------------------
# member_joined
# --------------------------------------------------------------------------
def test_member_joined_for_the_bot_itself_users_and_bots(api):
    owner = api.user()
    bot = api.bot(owner)
    other_bot = api.bot(owner)
    u2 = api.user()
    u3 = api.user()
    gid = api.creategroup(owner.token, public=True, username=uname("pg"))
    p = Poller(api, bot.token)
    api.addmember(owner.token, gid, bot.id)
    api.addmember(owner.token, gid, u2.id)
    api.addmember(owner.token, gid, other_bot.id)
    api.ok("/app/joingroup", u3.token, {"group_id": gid})
    evs = p.take(4)
    for ev in evs:
        check_event_shape(ev)
        assert ev["event_type"] == "member_joined"
        assert ev["message_type"] == "system" and ev["content"] == ""
        assert ev["group_id"] == gid
        assert ev["callback_id"] == "" and ev["callback_data"] == ""
    assert [(e["sender_id"], e["inviter_id"]) for e in evs] == [
        (bot.id, owner.id), (u2.id, owner.id), (other_bot.id, owner.id), (u3.id, "")]
    assert evs[0]["sender_username"] == bot.username
    assert evs[3]["sender_username"] == u3.username
    _assert_gapless(evs)
    # message_id is the group's system message
    hist = {m["message_id"]: m for m in api.history(owner.token, group_id=gid)}
    for ev in evs:
        assert ev["message_id"] in hist, f"{ev['message_id']} is not a message of the group"
        assert hist[ev["message_id"]]["message_type"] == "system"
    assert len({e["message_id"] for e in evs}) == 4


def test_member_joined_not_filtered_by_privacy_nor_sent_to_bots_outside(api):
    owner = api.user()
    bot = api.bot(owner)
    outsider = api.bot(owner)
    gid = _group_with(api, owner, bot)
    p = Poller(api, bot.token)
    po = Poller(api, outsider.token)
    p.take(1)
    u = api.user()
    api.addmember(owner.token, gid, u.id)
    [ev] = p.take(1)
    assert ev["event_type"] == "member_joined" and ev["sender_id"] == u.id
    # the outsider sees nothing (a private message to it is its first event)
    api.app_send(owner.token, "probe", target_user_id=outsider.id)
    [first] = po.take(1)
    assert (first["event_type"], first["content"], first["update_id"]) == \
        ("private_message", "probe", 1)


# --------------------------------------------------------------------------
# update_id
# --------------------------------------------------------------------------
def test_update_id_gapless_per_bot_across_event_types(api):
    owner = api.user()
    a = api.bot(owner)
    b = api.bot(owner)
    gid = _group_with(api, owner, a, b)                       # a:2 joins, b:1 join
    pa, pb = Poller(api, a.token), Poller(api, b.token)
    api.app_send(owner.token, "not addressed", group_id=gid)  # neither
    api.app_send(owner.token, "p1", target_user_id=a.id)      # a
    api.app_send(owner.token, f"@{b.username} hi", group_id=gid)  # b
    kb = api.bot_send(a.token, "choose", group_id=gid,
                      extra={"inline_keyboard": [[{"text": "Y", "callback_data": "y"}]]})
    api.app_send(owner.token, "still nothing", group_id=gid)  # neither
    api.ok("/app/clickbutton", owner.token, {"message_id": kb["message_id"],
                                            "callback_data": "y"})  # a
    u = api.user()
    api.addmember(owner.token, gid, u.id)                     # both
    api.app_send(owner.token, "/cmd", group_id=gid)           # both
    ea = pa.take(6)
    eb = pb.take(4)
    for ev in ea + eb:
        check_event_shape(ev)
    _assert_gapless(ea)
    _assert_gapless(eb)
    assert [e["event_type"] for e in ea] == ["member_joined", "member_joined", "private_message",
                                             "callback_query", "member_joined", "group_message"]
    assert [e["event_type"] for e in eb] == ["member_joined", "group_message", "member_joined",
                                             "group_message"]
    # nothing more is pending
    assert updates(api, a.token, offset=pa.offset, timeout=0) == []
    assert updates(api, b.token, offset=pb.offset, timeout=0) == []


# --------------------------------------------------------------------------
# routing matrix
# --------------------------------------------------------------------------
def test_group_routing_matrix_privacy_on_then_off(api):
    owner = api.user()
    u2 = api.user()
    b = api.bot(owner)          # the bot under test
    o = api.bot(owner)          # another bot in the same group
    gid = _group_with(api, owner, b, o, u2)
    pb, po = Poller(api, b.token), Poller(api, o.token)
    joins_b = pb.take(3)
    joins_o = po.take(2)
    assert [e["sender_id"] for e in joins_b] == [b.id, o.id, u2.id]
    assert [e["sender_id"] for e in joins_o] == [o.id, u2.id]

    B, O = b.username, o.username
    say = lambda tok, text, **kw: api.app_send(tok, text, group_id=gid, **kw)  # noqa: E731
    say(owner.token, "hello everyone")                 # -
    say(owner.token, f"hi @{B}")                       # b
    say(owner.token, f"HI @{B.upper()}")               # b (case-insensitive)
    say(owner.token, f"@{B}xyz is not you")            # - (substring)
    say(owner.token, f"@{B}_2 neither")                # - (word continues)
    say(owner.token, f"no at sign {B}")                # -
    say(owner.token, f"ping @{B}, please")             # b (punctuation ends the word)
    say(owner.token, "/help")                          # b, o
    say(owner.token, f"/help@{B}")                     # b
    say(owner.token, f"/help@{B.upper()}")             # b
    say(owner.token, f"/help@{O}")                     # o
    say(owner.token, "say /help later")                # - (not a command)
    obot = api.bot_send(o.token, f"@{B} /help from a bot", group_id=gid)   # - (a bot's)
    bown = api.bot_send(b.token, f"/help @{B} mine", group_id=gid)         # - (own / a bot's)
    say(u2.token, "reply to b", reply_to_id=bown["message_id"])            # b
    say(u2.token, "reply to o", reply_to_id=obot["message_id"])            # o
    umsg = say(owner.token, "plain")                                       # -
    say(u2.token, "reply to a user", reply_to_id=umsg["message_id"])       # -
    say(owner.token, "/end")                                               # b, o

    got_b = pb.until(lambda e: e["content"] == "/end")
    got_o = po.until(lambda e: e["content"] == "/end")
    for ev in got_b + got_o:
        check_event_shape(ev)
        assert ev["event_type"] == "group_message"
        assert ev["sender_id"] in (owner.id, u2.id), f"a bot's message reached a bot: {ev}"
    assert [e["content"] for e in got_b] == [
        f"hi @{B}", f"HI @{B.upper()}", f"ping @{B}, please", "/help", f"/help@{B}",
        f"/help@{B.upper()}", "reply to b", "/end"]
    assert [e["content"] for e in got_o] == ["/help", f"/help@{O}", "reply to o", "/end"]
    _assert_gapless(joins_b + got_b)
    _assert_gapless(joins_o + got_o)
    assert [e["reply_to_id"] for e in got_b if e["content"] == "reply to b"] == \
        [bown["message_id"]]

    # privacy mode off for b: every group message by a person, still no bot's
    d = api.ok("/app/updatebot", owner.token, {"bot_id": b.id, "privacy_mode": False})
    assert api.ok("/bot/getme", b.token, {})["privacy_mode"] is False, d
    say(owner.token, "plain chat")                     # b
    say(u2.token, f"@{B}xyz substring")                # b
    api.bot_send(o.token, "bot talk", group_id=gid)    # -
    api.bot_send(b.token, "own talk", group_id=gid)    # -
    say(owner.token, "/end2")                          # b, o
    got_b2 = pb.until(lambda e: e["content"] == "/end2")
    got_o2 = po.until(lambda e: e["content"] == "/end2")
    assert [e["content"] for e in got_b2] == ["plain chat", f"@{B}xyz substring", "/end2"]
    assert [e["content"] for e in got_o2] == ["/end2"]
    _assert_gapless(joins_b + got_b + got_b2)

    # and back on
    api.ok("/app/updatebot", owner.token, {"bot_id": b.id, "privacy_mode": True})
    say(owner.token, "plain again")
    say(owner.token, "/end3")
    assert [e["content"] for e in pb.until(lambda e: e["content"] == "/end3")] == ["/end3"]


def test_private_messages_reach_only_their_bot(api):
    owner = api.user()
    a = api.bot(owner)
    b = api.bot(owner)
    pa, pb = Poller(api, a.token), Poller(api, b.token)
    api.app_send(owner.token, "to a", target_user_id=a.id)
    api.app_send(owner.token, "to b", target_user_id=b.id)
    # the bot's own reply in the private chat is not an event for it
    api.bot_send(a.token, "a answers", target_user_id=owner.id)
    api.app_send(owner.token, "to a again", target_user_id=a.id)
    assert _contents(pa.take(2)) == [("private_message", "to a"),
                                     ("private_message", "to a again")]
    assert _contents(pb.take(1)) == [("private_message", "to b")]
    assert updates(api, a.token, offset=pa.offset, timeout=0) == []


def test_callback_query_only_to_the_bot_that_sent_the_message(api):
    owner = api.user()
    a = api.bot(owner)
    b = api.bot(owner)
    gid = _group_with(api, owner, a, b)
    api.ok("/app/updatebot", owner.token, {"bot_id": b.id, "privacy_mode": False})
    pa, pb = Poller(api, a.token), Poller(api, b.token)
    pa.take(2)
    pb.take(1)
    kb = api.bot_send(a.token, "pick", group_id=gid,
                      extra={"inline_keyboard": [[{"text": "1", "callback_data": "one"}]]})
    click = api.ok("/app/clickbutton", owner.token,
                   {"message_id": kb["message_id"], "callback_data": "one"})
    api.app_send(owner.token, "/after", group_id=gid)
    ev_a = pa.take(2)
    assert [e["event_type"] for e in ev_a] == ["callback_query", "group_message"]
    cq = check_event_shape(ev_a[0])
    assert cq["callback_id"] == click["callback_id"]
    assert cq["callback_data"] == "one" and cq["content"] == "one"
    assert cq["message_type"] == "callback" and cq["message_id"] == kb["message_id"]
    assert cq["sender_id"] == owner.id and cq["group_id"] == gid
    # b (privacy off, in the group) gets the user's message but not the click
    assert _contents(pb.until(lambda e: e["content"] == "/after")) == \
        [("group_message", "/after")]


def test_allowed_events_on_getupdates_narrow_what_is_produced(api):
    """allowed_events given to getupdates is remembered for the bot (as on Telegram):
    events of other types are not produced from then on, so update_id stays gapless;
    [] lets every type through again."""
    user = api.user()
    bot = api.bot(user)
    assert updates(api, bot.token, timeout=0, allowed_events=["callback_query"]) == []
    api.app_send(user.token, "filtered out", target_user_id=bot.id)
    kb = api.bot_send(bot.token, "pick", target_user_id=user.id,
                      extra={"inline_keyboard": [[{"text": "1", "callback_data": "one"}]]})
    api.ok("/app/clickbutton", user.token, {"message_id": kb["message_id"],
                                           "callback_data": "one"})
    api.app_send(user.token, "filtered too", target_user_id=bot.id)
    evs = updates(api, bot.token, timeout=0)
    assert [(e["event_type"], e["update_id"]) for e in evs] == [("callback_query", 1)], evs
    # back to everything
    assert updates(api, bot.token, offset=2, timeout=0, allowed_events=[]) == []
    api.app_send(user.token, "let through", target_user_id=bot.id)
    evs = updates(api, bot.token, offset=2, timeout=0)
    assert [(e["event_type"], e["content"], e["update_id"]) for e in evs] == \
        [("private_message", "let through", 2)], evs


def test_allowed_events_bad_values(api):
    user = api.user()
    bot = api.bot(user)
    api.app_send(user.token, "keep me", target_user_id=bot.id)
    for bad in (["nope"], "private_message", [1], {"a": 1}):
        api.err("/bot/getupdates", bot.token, 400, "allowed_events",
                json={"allowed_events": bad})
    # nothing was confirmed or lost by the refused calls
    assert [e["content"] for e in updates(api, bot.token, timeout=0)] == ["keep me"]


def test_event_ids_unique_per_bot_even_under_concurrency(api):
    """Many users writing at once: the bot still sees 1..N without gaps or repeats."""
    from conftest import thread_map
    owner = api.user()
    bot = api.bot(owner)
    users = [api.user() for _ in range(8)]
    p = Poller(api, bot.token)

    def send(i):
        for j in range(3):
            api.app_send(users[i].token, f"m{i}-{j}", target_user_id=bot.id)
    thread_map(send, len(users))
    evs = p.take(24)
    _assert_gapless(evs)
    assert sorted(e["content"] for e in evs) == sorted(f"m{i}-{j}" for i in range(8)
                                                       for j in range(3))
    # per sender, in send order
    for i in range(8):
        assert [e["content"] for e in evs if e["sender_id"] == users[i].id] == \
            [f"m{i}-{j}" for j in range(3)]


def test_edits_deletes_and_refused_sends_produce_no_event(api):
    owner = api.user()
    bot = api.bot(owner)
    gid = _group_with(api, owner, bot)
    p = Poller(api, bot.token)
    p.take(1)
    m = api.app_send(owner.token, f"@{bot.username} first", group_id=gid)
    api.ok("/app/editmessage", owner.token, {"message_id": m["message_id"],
                                             "content": f"@{bot.username} edited"})
    api.ok("/app/deletemessage", owner.token, {"message_id": m["message_id"]})
    api.err("/app/sendmessage", owner.token, 400, "content",
            json={"group_id": gid, "message_type": "text", "content": "/x" * 3000})
    api.err("/app/sendmessage", owner.token, 400,
            json={"target_user_id": bot.id, "group_id": gid, "message_type": "text",
                  "content": "/both"})
    api.app_send(owner.token, "/end", group_id=gid)
    assert [e["content"] for e in p.until(lambda e: e["content"] == "/end")] == \
        [f"@{bot.username} first", "/end"]


def test_idempotent_replay_produces_one_event(api):
    user = api.user()
    bot = api.bot(user)
    p = Poller(api, bot.token)
    body = {"target_user_id": bot.id, "message_type": "text", "content": "once"}
    key = {"Idempotency-Key": "evt-" + uname()}
    r1 = api.ok("/app/sendmessage", user.token, body, headers=key)
    r2 = api.ok("/app/sendmessage", user.token, body, headers=key)
    assert r1 == r2
    api.app_send(user.token, "/end", target_user_id=bot.id)
    evs = p.until(lambda e: e["content"] == "/end")
    assert [(e["content"], e["update_id"]) for e in evs] == [("once", 1), ("/end", 2)]


def test_removed_bot_stops_hearing_the_group(api):
    owner = api.user()
    bot = api.bot(owner)
    gid = _group_with(api, owner, bot)
    api.ok("/app/updatebot", owner.token, {"bot_id": bot.id, "privacy_mode": False})
    p = Poller(api, bot.token)
    p.take(1)
    api.app_send(owner.token, "while a member", group_id=gid)
    api.ok("/app/removemember", owner.token, {"group_id": gid, "user_id": bot.id})
    api.app_send(owner.token, f"@{bot.username} after removal", group_id=gid)
    api.app_send(owner.token, "/after", group_id=gid)
    api.app_send(owner.token, "private sentinel", target_user_id=bot.id)
    evs = p.until(lambda e: e["content"] == "private sentinel")
    assert [e["content"] for e in evs] == ["while a member", "private sentinel"], evs
    _assert_gapless(evs, start=2)


def test_mention_in_a_caption_and_media_types(api):
    owner = api.user()
    bot = api.bot(owner)
    gid = _group_with(api, owner, bot)
    p = Poller(api, bot.token)
    p.take(1)
    png = _png()
    r = requests.post(api.url("/app/uploadfile"),
                      headers={"Authorization": "Bearer " + owner.token},
                      files={"file": ("c.png", png, "image/png")}, timeout=30)
    assert r.status_code == 200, r.text
    fid = r.json()["data"]["file_id"]
    api.app_send(owner.token, "no mention", group_id=gid, message_type="image", file_id=fid)
    img = api.app_send(owner.token, f"look @{bot.username}", group_id=gid,
                       message_type="image", file_id=fid)
    bmsg = api.bot_send(bot.token, "bot text", group_id=gid)
    api.app_send(owner.token, "quoting, not replying", group_id=gid,
                 quote_message_id=bmsg["message_id"])
    api.app_send(owner.token, "/end", group_id=gid)
    evs = p.until(lambda e: e["content"] == "/end")
    assert [e["content"] for e in evs] == [f"look @{bot.username}", "/end"], evs
    assert evs[0]["message_type"] == "image" and evs[0]["file_id"] == fid
    assert evs[0]["message_id"] == img["message_id"]
    assert evs[0]["file"]["mime_type"] == "image/png"

    # privacy off: stickers and contacts arrive with their file_id
    api.ok("/app/updatebot", owner.token, {"bot_id": bot.id, "privacy_mode": False})
    st = api.request("GET", "/app/stickers", token=owner.token).json()["data"]["stickers"]
    sid = st[0]["sticker_id"]
    api.app_send(owner.token, "", group_id=gid, message_type="sticker", file_id=sid)
    api.app_send(owner.token, "", group_id=gid, message_type="contact", file_id=owner.id)
    evs = p.take(2)
    assert [(e["message_type"], e["file_id"], e["content"]) for e in evs] == \
        [("sticker", sid, ""), ("contact", owner.id, "")]
    for e in evs:
        check_event_shape(e)
