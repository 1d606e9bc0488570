"""App API messages: sendmessage (text), editmessage, deletemessage, chats,
history (paging, tombstones), commands, blockbot."""
import time

from conftest import unknown_like


def is_tombstone(m):
    return m.get("deleted") is True and not m.get("content")


# ---------------------------------------------------------------- sendmessage
def test_app_send_to_group_shows_in_history_for_members(api, world):
    u = api.user()
    api.addmember(world.owner.token, world.group, u.id)
    m = api.app_send(u.token, "hi group", group_id=world.group)
    assert m["message_id"].startswith("msg_")
    assert m["chat_type"] == "group" and m["group_id"] == world.group
    assert m["sender_id"] == u.id and m["message_type"] == "text"
    assert m["content"] == "hi group" and m["edited_at"] == 0
    seen = api.find(world.owner.token, m["message_id"], group_id=world.group)
    assert seen and seen["content"] == "hi group" and seen["sender_id"] == u.id


def test_app_send_to_group_not_member_is_403(api, world):
    outsider = api.user()
    before = api.history_ids(world.owner.token, group_id=world.group)
    api.err("/app/sendmessage", outsider.token, 403,
            json={"group_id": world.group, "message_type": "text", "content": "let me in"})
    assert api.history_ids(world.owner.token, group_id=world.group) == before


def test_app_send_to_unknown_group_is_404(api):
    u = api.user()
    gid = api.creategroup(u.token)
    api.err("/app/sendmessage", u.token, 404,
            json={"group_id": unknown_like(gid), "message_type": "text", "content": "x"})


def test_app_private_message_between_users(api):
    a = api.user()
    b = api.user()
    m = api.app_send(a.token, "hey b", target_user_id=b.id)
    assert m["chat_type"] == "private" and m["group_id"] == ""
    assert m["target_user_id"] == b.id and m["sender_id"] == a.id
    assert api.find(b.token, m["message_id"], peer_id=a.id)["content"] == "hey b"
    assert api.find(a.token, m["message_id"], peer_id=b.id)["content"] == "hey b"


def test_app_private_message_to_unknown_user_is_404(api):
    a = api.user()
    api.err("/app/sendmessage", a.token, 404,
            json={"target_user_id": unknown_like(a.id), "message_type": "text", "content": "x"})


def test_app_send_whitespace_only_is_400(api, world):
    before = api.history_ids(world.owner.token, group_id=world.group)
    for blank in (" ", "   \n\t ", "\u3000\u00a0"):
        api.err("/app/sendmessage", world.owner.token, 400, "content",
                json={"group_id": world.group, "message_type": "text", "content": blank})
    assert api.history_ids(world.owner.token, group_id=world.group) == before


def test_app_send_4096_ok_4097_refused(api, world):
    m = api.app_send(world.owner.token, "👍" * 4096, group_id=world.group)
    assert m["content"] == "👍" * 4096
    before = api.history_ids(world.owner.token, group_id=world.group)
    api.err("/app/sendmessage", world.owner.token, 400, "content",
            json={"group_id": world.group, "message_type": "text", "content": "👍" * 4097})
    assert api.history_ids(world.owner.token, group_id=world.group) == before


# ---------------------------------------------------------------- editmessage
def test_app_edit_own_message(api, world):
    m = api.app_send(world.owner.token, "draft", group_id=world.group)
    e = api.ok("/app/editmessage", world.owner.token,
               {"message_id": m["message_id"], "content": "final"})
    assert e["message_id"] == m["message_id"] and e["content"] == "final"
    assert e["edited_at"] > 0 and abs(e["edited_at"] - time.time()) < 120
    stored = api.find(world.owner.token, m["message_id"], group_id=world.group)
    assert stored["content"] == "final" and stored["edited_at"] == e["edited_at"]


def test_app_edit_someone_elses_message_is_403(api, world):
    u = api.user()
    api.addmember(world.owner.token, world.group, u.id)
    m = api.app_send(u.token, "mine", group_id=world.group)
    # not even the owner of the group may edit it
    api.err("/app/editmessage", world.owner.token, 403,
            json={"message_id": m["message_id"], "content": "hijacked"})
    b = api.bot_send(world.bot.token, "bot's", group_id=world.group)
    api.err("/app/editmessage", u.token, 403,
            json={"message_id": b["message_id"], "content": "hijacked"})
    assert api.find(u.token, m["message_id"], group_id=world.group)["content"] == "mine"
    assert api.find(u.token, b["message_id"], group_id=world.group)["content"] == "bot's"


def test_app_edit_unknown_is_404(api, world):
    m = api.app_send(world.owner.token, "x", group_id=world.group)
    api.err("/app/editmessage", world.owner.token, 404,
            json={"message_id": unknown_like(m["message_id"]), "content": "y"})


def test_app_edit_blank_content_is_400(api, world):
    m = api.app_send(world.owner.token, "keep", group_id=world.group)
    api.err("/app/editmessage", world.owner.token, 400, "content",
            json={"message_id": m["message_id"], "content": "  "})
    assert api.find(world.owner.token, m["message_id"], group_id=world.group)["content"] == "keep"


# ---------------------------------------------------------------- deletemessage
def test_app_delete_own_message_leaves_tombstone(api, world):
    m = api.app_send(world.owner.token, "secret to delete", group_id=world.group)
    d = api.ok("/app/deletemessage", world.owner.token, {"message_id": m["message_id"]})
    assert d["deleted"] == [m["message_id"]]
    t = api.find(world.owner.token, m["message_id"], group_id=world.group)
    assert t is not None, "a deleted message must stay in history as a tombstone"
    assert is_tombstone(t), t
    assert "secret to delete" not in str(t)
    # bot-api.md: a tombstone keeps the id, the chat and the time
    assert t["group_id"] == world.group and t["timestamp"] == m["timestamp"]
    api.err("/app/deletemessage", world.owner.token, 404, json={"message_id": m["message_id"]})
    api.err("/app/editmessage", world.owner.token, 404,
            json={"message_id": m["message_id"], "content": "back"})


def test_app_delete_someone_elses_message_is_403_for_plain_member(api, world):
    u = api.user()
    v = api.user()
    for x in (u, v):
        api.addmember(world.owner.token, world.group, x.id)
    m = api.app_send(v.token, "v's message", group_id=world.group)
    api.err("/app/deletemessage", u.token, 403, json={"message_id": m["message_id"]})
    assert api.find(u.token, m["message_id"], group_id=world.group)["content"] == "v's message"


def test_app_group_admin_deletes_anyones_message(api, world):
    u = api.user()
    adm = api.user()
    for x in (u, adm):
        api.addmember(world.owner.token, world.group, x.id)
    api.setadmin(world.owner.token, world.group, adm.id, True)
    m1 = api.app_send(u.token, "spam 1", group_id=world.group)
    m2 = api.bot_send(world.bot.token, "bot spam", group_id=world.group)
    api.ok("/app/deletemessage", adm.token, {"message_id": m1["message_id"]})
    api.ok("/app/deletemessage", world.owner.token, {"message_id": m2["message_id"]})
    hist = {m["message_id"]: m for m in api.history(u.token, group_id=world.group)}
    assert is_tombstone(hist[m1["message_id"]]) and is_tombstone(hist[m2["message_id"]])


def test_app_delete_batch(api, world):
    m1 = api.app_send(world.owner.token, "a", group_id=world.group)
    m2 = api.app_send(world.owner.token, "b", group_id=world.group)
    bogus = unknown_like(m1["message_id"])
    d = api.ok("/app/deletemessage", world.owner.token,
               {"message_ids": [m1["message_id"], bogus, m2["message_id"]]})
    assert sorted(d["deleted"]) == sorted([m1["message_id"], m2["message_id"]])
    assert [f["message_id"] for f in d["failed"]] == [bogus]


def test_app_private_delete_of_peers_message_is_403(api):
    a = api.user()
    b = api.user()
    m = api.app_send(a.token, "from a", target_user_id=b.id)
    api.err("/app/deletemessage", b.token, 403, json={"message_id": m["message_id"]})
    assert api.find(b.token, m["message_id"], peer_id=a.id)["content"] == "from a"


# ---------------------------------------------------------------- history
def test_history_pages_newest_first_with_next_before(api):
    a = api.user()
    b = api.user()
    sent = [api.app_send(a.token, f"page {i}", target_user_id=b.id)["message_id"] for i in range(5)]
    p1 = api.ok("/app/history", b.token, {"peer_id": a.id, "limit": 2})
    assert [m["message_id"] for m in p1["messages"]] == [sent[4], sent[3]]
    assert p1["next_before"] == sent[3]
    p2 = api.ok("/app/history", b.token, {"peer_id": a.id, "limit": 2, "before": p1["next_before"]})
    assert [m["message_id"] for m in p2["messages"]] == [sent[2], sent[1]]
    assert p2["next_before"] == sent[1]
    p3 = api.ok("/app/history", b.token, {"peer_id": a.id, "limit": 2, "before": p2["next_before"]})
    assert [m["message_id"] for m in p3["messages"]] == [sent[0]]
    assert p3["next_before"] == ""
    full = api.ok("/app/history", b.token, {"peer_id": a.id})
    assert [m["message_id"] for m in full["messages"]] == sent[::-1]
    assert full["next_before"] == ""


def test_history_limit_bounds(api, world):
    for bad in (0, 101, -1):
        api.err("/app/history", world.owner.token, 400, "limit",
                json={"group_id": world.group, "limit": bad})
    api.ok("/app/history", world.owner.token, {"group_id": world.group, "limit": 1})
    api.ok("/app/history", world.owner.token, {"group_id": world.group, "limit": 100})


def test_history_default_limit_is_50(api):
    a = api.user()
    b = api.user()
    for i in range(52):
        api.app_send(a.token, f"n{i}", target_user_id=b.id)
    d = api.ok("/app/history", a.token, {"peer_id": b.id})
    assert len(d["messages"]) == 50 and d["next_before"] != ""


def test_history_needs_exactly_one_chat(api, world):
    api.err("/app/history", world.owner.token, 400, json={})
    api.err("/app/history", world.owner.token, 400,
            json={"group_id": world.group, "peer_id": world.bot.id})


def test_history_of_group_for_non_member_is_403(api, world):
    outsider = api.user()
    api.err("/app/history", outsider.token, 403, json={"group_id": world.group})


# ---------------------------------------------------------------- chats
def test_chats_show_last_message_and_unread_count(api, world):
    u = api.user()
    api.addmember(world.owner.token, world.group, u.id)

    def entry(token):
        chats = api.ok("/app/chats", token, {})["chats"]
        found = [c for c in chats if c.get("chat_type") == "group" and c.get("group_id") == world.group]
        assert len(found) == 1, chats
        return found[0]

    before = entry(world.owner.token)["unread_count"]
    api.app_send(u.token, "one", group_id=world.group)
    m2 = api.app_send(u.token, "two", group_id=world.group)
    e = entry(world.owner.token)
    assert e["last_message"]["message_id"] == m2["message_id"]
    assert e["last_message"]["content"] == "two"
    assert e["unread_count"] == before + 2
    assert e["title"]
    # one's own messages are not unread (what every chat app does; the spec is silent)
    mine_before = entry(u.token)["unread_count"]
    api.app_send(u.token, "three", group_id=world.group)
    assert entry(u.token)["unread_count"] == mine_before


def test_chats_include_private_chats(api):
    a = api.user()
    b = api.user()
    m = api.app_send(a.token, "dm", target_user_id=b.id)
    chats = api.ok("/app/chats", b.token, {})["chats"]
    priv = [c for c in chats if c.get("chat_type") == "private"]
    assert len(priv) == 1, chats
    assert a.id in str(priv[0])
    assert priv[0]["last_message"]["message_id"] == m["message_id"]
    assert priv[0]["unread_count"] == 1


# ---------------------------------------------------------------- commands / blockbot
def test_app_commands_shows_bot_menu(api, world):
    cmds = [{"command": "start", "description": "开始使用"}, {"command": "help", "description": "帮助"}]
    api.ok("/bot/botapisetcommands", world.bot.token, {"commands": cmds})
    stranger = api.user()
    assert api.ok("/app/commands", stranger.token, {"bot_id": world.bot.id}) == {"commands": cmds}


def test_app_commands_unknown_bot_is_404(api, world):
    api.err("/app/commands", world.owner.token, 404, json={"bot_id": unknown_like(world.bot.id)})


def test_blockbot_and_unblock(api, world):
    u = api.user()
    api.app_send(u.token, "/start", target_user_id=world.bot.id)
    assert api.bot_send(world.bot.token, "welcome", target_user_id=u.id)["target_user_id"] == u.id
    api.ok("/app/blockbot", u.token, {"bot_id": world.bot.id, "blocked": True})
    before = api.history_ids(u.token, peer_id=world.bot.id)
    api.err("/bot/sendmessage", world.bot.token, 403,
            json={"target_user_id": u.id, "message_type": "text", "content": "let me in"})
    assert api.history_ids(u.token, peer_id=world.bot.id) == before
    api.ok("/app/blockbot", u.token, {"bot_id": world.bot.id, "blocked": False})
    api.bot_send(world.bot.token, "hello again", target_user_id=u.id)
