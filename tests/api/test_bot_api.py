"""Bot API endpoints: getme, getgroup, sendmessage (group/private, reply, quote),
editmessage, deletemessage, botapisetcommands/botapigetcommands,
mutemember/unmutemember."""
import requests
import json
import time

from conftest import assert_error, thread_map, uname, unknown_like

NOT_STARTED = "the user has not started a chat with this bot"


def is_tombstone(m):
    return m.get("deleted") is True and not m.get("content")


def started_user(api, bot):
    """A user who has written to the bot privately."""
    u = api.user()
    api.app_send(u.token, "/start", target_user_id=bot.id)
    return u


# ---------------------------------------------------------------- getme
def test_getme(api, world):
    d = api.ok("/bot/getme", world.bot.token, {})
    assert d["bot_id"] == world.bot.id
    assert d["username"] == world.bot.username
    assert set(d) >= {"bot_id", "username", "display_name", "description", "privacy_mode",
                      "can_join_groups", "created_at"}
    assert "token" not in d


def test_getme_follows_every_change_and_never_answers_for_another_bot(api, world):
    """Each request thread keeps its last getme answer: it must change with the bot,
    and two bots asked in turn on one keep-alive connection get their own."""
    other = api.bot(world.owner)
    s = requests.Session()

    def getme(token):
        r = s.post(api.url("/bot/getme"), json={}, headers={"Authorization": "Bearer " + token},
                   timeout=10)
        assert r.status_code == 200, r.text
        assert r.headers["Content-Type"] == "application/json; charset=utf-8"
        assert r.headers.get("X-Request-Id") and r.headers.get("Cache-Control") == "no-store"
        return r.json()["data"]

    for _ in range(3):
        assert getme(world.bot.token)["bot_id"] == world.bot.id
        assert getme(other.token)["bot_id"] == other.id
    for change in ({"display_name": "Now Different"}, {"description": "described"},
                   {"privacy_mode": False}, {"privacy_mode": True},
                   {"display_name": "Again ✨"}):
        api.ok("/app/updatebot", world.owner.token, {"bot_id": world.bot.id, **change})
        for _ in range(4):  # whichever thread answers
            d = getme(world.bot.token)
            for k, v in change.items():
                assert d[k] == v, (change, d)
    assert getme(other.token)["display_name"] != "Again ✨"


# ---------------------------------------------------------------- getgroup
def test_getgroup_fields_and_no_sensitive_data(api, world):
    u = api.user()
    api.addmember(world.owner.token, world.group, u.id)
    r = api.request("POST", "/bot/getgroup", world.bot.token, json={"group_id": world.group})
    assert r.status_code == 200, r.text
    d = r.json()["data"]
    assert set(d) >= {"group_id", "username", "title", "description", "member_count",
                      "created_at", "bot_role"}
    assert d["group_id"] == world.group
    assert d["member_count"] == 3          # owner, bot, u
    assert d["bot_role"] == "member"
    for k in d:
        assert "owner" not in k and k not in ("admins", "admin_ids", "members", "member_ids",
                                              "member_list"), f"sensitive field {k!r} in getgroup"
    assert world.owner.id not in r.text, "the owner's id leaks through /bot/getgroup"
    assert u.id not in r.text, "a member's id leaks through /bot/getgroup"


def test_getgroup_bot_role_admin(api, admin_world):
    d = api.ok("/bot/getgroup", admin_world.bot.token, {"group_id": admin_world.group})
    assert d["bot_role"] == "admin"


def test_getgroup_member_count_follows_membership(api, world):
    assert api.ok("/bot/getgroup", world.bot.token, {"group_id": world.group})["member_count"] == 2
    u = api.user()
    api.addmember(world.owner.token, world.group, u.id)
    assert api.ok("/bot/getgroup", world.bot.token, {"group_id": world.group})["member_count"] == 3
    api.ok("/app/leavegroup", u.token, {"group_id": world.group})
    assert api.ok("/bot/getgroup", world.bot.token, {"group_id": world.group})["member_count"] == 2


def test_getgroup_non_member_403_unknown_404(api, world):
    other = api.user()
    gid = api.creategroup(other.token)
    api.err("/bot/getgroup", world.bot.token, 403, json={"group_id": gid})
    api.err("/bot/getgroup", world.bot.token, 404, json={"group_id": unknown_like(gid)})
    api.err("/bot/getgroup", world.bot.token, 404, json={"group_id": "group_123"})
    api.err("/bot/getgroup", world.bot.token, 400, "group_id", json={})


# ---------------------------------------------------------------- sendmessage: group
def test_group_send_requires_membership(api):
    owner = api.user()
    bot = api.bot(owner)
    gid = api.creategroup(owner.token)
    before = api.history_ids(owner.token, group_id=gid)
    api.err("/bot/sendmessage", bot.token, 403,
            json={"group_id": gid, "message_type": "text", "content": "not yet"})
    assert api.history_ids(owner.token, group_id=gid) == before
    api.addmember(owner.token, gid, bot.id)
    m = api.bot_send(bot.token, "now", group_id=gid)
    assert m["sender_id"] == bot.id


def test_group_send_after_removal_is_403(api, world):
    api.ok("/app/removemember", world.owner.token, {"group_id": world.group, "user_id": world.bot.id})
    api.err("/bot/sendmessage", world.bot.token, 403,
            json={"group_id": world.group, "message_type": "text", "content": "gone"})


def test_group_send_unknown_group_is_404(api, world):
    api.err("/bot/sendmessage", world.bot.token, 404,
            json={"group_id": unknown_like(world.group), "message_type": "text", "content": "x"})


def test_send_bad_message_type_is_400(api, world):
    before = api.history_ids(world.owner.token, group_id=world.group)
    api.err("/bot/sendmessage", world.bot.token, 400, "message_type",
            json={"group_id": world.group, "message_type": "html", "content": "x"})
    api.err("/bot/sendmessage", world.bot.token, 400, "message_type",
            json={"group_id": world.group, "content": "x"})
    api.err("/bot/sendmessage", world.bot.token, 400, "file_id",
            json={"group_id": world.group, "message_type": "text", "content": "x",
                  "file_id": "file_123456"})
    assert api.history_ids(world.owner.token, group_id=world.group) == before


# ---------------------------------------------------------------- reply / quote
def test_reply_to_id(api, world):
    u = api.user()
    api.addmember(world.owner.token, world.group, u.id)
    q = api.app_send(u.token, "question", group_id=world.group)
    m = api.bot_send(world.bot.token, "回复内容", group_id=world.group, reply_to_id=q["message_id"])
    assert m["reply_to_id"] == q["message_id"]
    assert api.find(u.token, m["message_id"], group_id=world.group)["reply_to_id"] == q["message_id"]


def test_reply_to_unknown_other_chat_or_deleted_is_400(api, world):
    other_gid = api.creategroup(world.owner.token)
    api.addmember(world.owner.token, other_gid, world.bot.id)
    elsewhere = api.bot_send(world.bot.token, "elsewhere", group_id=other_gid)
    here = api.bot_send(world.bot.token, "here", group_id=world.group)
    api.ok("/bot/deletemessage", world.bot.token, {"message_id": here["message_id"]})
    before = api.history_ids(world.owner.token, group_id=world.group)
    for field in ("reply_to_id", "quote_message_id"):
        for ref in (unknown_like(here["message_id"]), elsewhere["message_id"], here["message_id"]):
            api.err("/bot/sendmessage", world.bot.token, 400, field,
                    json={"group_id": world.group, "message_type": "text", "content": "re",
                          field: ref})
    assert api.history_ids(world.owner.token, group_id=world.group) == before


def test_quote_message_id_carries_snapshot(api, world):
    u = api.user()
    api.addmember(world.owner.token, world.group, u.id)
    q = api.app_send(u.token, "原话", group_id=world.group)
    m = api.bot_send(world.bot.token, "引用回复", group_id=world.group, quote_message_id=q["message_id"])
    assert m["quote_message_id"] == q["message_id"]
    quote = m["quote"]
    assert isinstance(quote, dict), m
    assert quote["message_id"] == q["message_id"]
    assert quote["sender_id"] == u.id
    assert quote["message_type"] == "text"
    assert quote["content"] == "原话"
    # a snapshot: editing the original later does not rewrite the quote
    api.ok("/app/editmessage", u.token, {"message_id": q["message_id"], "content": "改了"})
    stored = api.find(u.token, m["message_id"], group_id=world.group)
    assert stored["quote"]["content"] == "原话"


# ---------------------------------------------------------------- sendmessage: private
def test_private_send_before_user_wrote_is_403(api, world):
    u = api.user()
    msg = api.err("/bot/sendmessage", world.bot.token, 403,
                  json={"target_user_id": u.id, "message_type": "text", "content": "spam"})
    assert msg == NOT_STARTED
    assert api.history_ids(u.token, peer_id=world.bot.id) == []


def test_private_send_after_user_wrote(api, world):
    u = started_user(api, world.bot)
    m = api.bot_send(world.bot.token, "欢迎使用", target_user_id=u.id)
    assert m["chat_type"] == "private" and m["group_id"] == ""
    assert m["target_user_id"] == u.id and m["sender_id"] == world.bot.id
    assert api.find(u.token, m["message_id"], peer_id=world.bot.id)["content"] == "欢迎使用"


def test_private_chat_with_one_bot_does_not_open_another(api, world):
    other = api.bot(world.owner)
    u = started_user(api, world.bot)
    msg = api.err("/bot/sendmessage", other.token, 403,
                  json={"target_user_id": u.id, "message_type": "text", "content": "me too"})
    assert msg == NOT_STARTED


def test_private_send_after_blockbot_is_403(api, world):
    u = started_user(api, world.bot)
    api.ok("/app/blockbot", u.token, {"bot_id": world.bot.id, "blocked": True})
    before = api.history_ids(u.token, peer_id=world.bot.id)
    api.err("/bot/sendmessage", world.bot.token, 403,
            json={"target_user_id": u.id, "message_type": "text", "content": "blocked"})
    assert api.history_ids(u.token, peer_id=world.bot.id) == before


def test_private_send_to_unknown_user_is_404(api, world):
    api.err("/bot/sendmessage", world.bot.token, 404,
            json={"target_user_id": unknown_like(world.owner.id), "message_type": "text",
                  "content": "anyone?"})


def test_private_reply_to_users_message(api, world):
    u = api.user()
    first = api.app_send(u.token, "/start", target_user_id=world.bot.id)
    m = api.bot_send(world.bot.token, "hi", target_user_id=u.id, reply_to_id=first["message_id"],
                     quote_message_id=first["message_id"])
    assert m["reply_to_id"] == first["message_id"]
    assert m["quote"]["content"] == "/start" and m["quote"]["sender_id"] == u.id


# ---------------------------------------------------------------- editmessage
def test_edit_sets_edited_at_and_keeps_keyboard(api, world):
    kb = [[{"text": "A", "callback_data": "a"}]]
    m = api.bot_send(world.bot.token, "v1", group_id=world.group, extra={"inline_keyboard": kb})
    assert m["edited_at"] == 0
    e = api.ok("/bot/editmessage", world.bot.token, {"message_id": m["message_id"], "content": "v2"})
    assert e["message_id"] == m["message_id"] and e["content"] == "v2"
    assert e["edited_at"] > 0 and abs(e["edited_at"] - time.time()) < 120
    # extra absent: the keyboard stays (the seed clears it explicitly with [])
    assert e["extra"]["inline_keyboard"] == kb
    stored = api.find(world.owner.token, m["message_id"], group_id=world.group)
    assert stored["content"] == "v2" and stored["edited_at"] == e["edited_at"]


def test_edit_extra_empty_keyboard_removes_it(api, world):
    kb = [[{"text": "A", "callback_data": "a"}, {"text": "B", "url": "https://example.com"}]]
    m = api.bot_send(world.bot.token, "pick", group_id=world.group, extra={"inline_keyboard": kb})
    e = api.ok("/bot/editmessage", world.bot.token,
               {"message_id": m["message_id"], "extra": {"inline_keyboard": []}})
    assert e["extra"]["inline_keyboard"] == [] and e["content"] == "pick"
    stored = api.find(world.owner.token, m["message_id"], group_id=world.group)
    assert stored["extra"]["inline_keyboard"] == []


def test_edit_extra_replaces_keyboard(api, world):
    m = api.bot_send(world.bot.token, "pick", group_id=world.group,
                     extra={"inline_keyboard": [[{"text": "A", "callback_data": "a"}]]})
    kb2 = [[{"text": "B", "callback_data": "b"}], [{"text": "C", "callback_data": "c"}]]
    e = api.ok("/bot/editmessage", world.bot.token,
               {"message_id": m["message_id"], "extra": {"inline_keyboard": kb2}})
    assert e["extra"]["inline_keyboard"] == kb2 and e["edited_at"] > 0


def test_noop_edit_is_200_and_unchanged(api, world):
    kb = [[{"text": "A", "callback_data": "a"}]]
    m = api.bot_send(world.bot.token, "same", group_id=world.group, extra={"inline_keyboard": kb})
    e = api.ok("/bot/editmessage", world.bot.token, {"message_id": m["message_id"], "content": "same"})
    assert e["edited_at"] == 0 and e["content"] == "same"
    assert e == m
    e = api.ok("/bot/editmessage", world.bot.token,
               {"message_id": m["message_id"], "content": "same", "extra": {"inline_keyboard": kb}})
    assert e["edited_at"] == 0
    assert api.find(world.owner.token, m["message_id"], group_id=world.group)["edited_at"] == 0


def test_edit_needs_content_or_extra(api, world):
    m = api.bot_send(world.bot.token, "x", group_id=world.group)
    msg = api.err("/bot/editmessage", world.bot.token, 400, json={"message_id": m["message_id"]})
    assert "content" in msg or "extra" in msg, msg
    api.err("/bot/editmessage", world.bot.token, 400, "message_id", json={"content": "y"})


def test_edit_other_bots_message_is_403(api, world):
    other = api.bot(world.owner)
    api.addmember(world.owner.token, world.group, other.id)
    api.setadmin(world.owner.token, world.group, world.bot.id, True)  # admin rights do not help
    m = api.bot_send(other.token, "theirs", group_id=world.group)
    api.err("/bot/editmessage", world.bot.token, 403,
            json={"message_id": m["message_id"], "content": "mine now"})
    u = api.user()
    api.addmember(world.owner.token, world.group, u.id)
    um = api.app_send(u.token, "user's", group_id=world.group)
    api.err("/bot/editmessage", world.bot.token, 403,
            json={"message_id": um["message_id"], "content": "mine now"})
    assert api.find(u.token, m["message_id"], group_id=world.group)["content"] == "theirs"
    assert api.find(u.token, um["message_id"], group_id=world.group)["content"] == "user's"


def test_edit_unknown_or_deleted_is_404(api, world):
    m = api.bot_send(world.bot.token, "bye", group_id=world.group)
    api.err("/bot/editmessage", world.bot.token, 404,
            json={"message_id": unknown_like(m["message_id"]), "content": "?"})
    api.ok("/bot/deletemessage", world.bot.token, {"message_id": m["message_id"]})
    api.err("/bot/editmessage", world.bot.token, 404, json={"message_id": m["message_id"], "content": "?"})
    assert is_tombstone(api.find(world.owner.token, m["message_id"], group_id=world.group))


def test_edit_content_limits(api, world):
    m = api.bot_send(world.bot.token, "orig", group_id=world.group)
    api.err("/bot/editmessage", world.bot.token, 400, "content",
            json={"message_id": m["message_id"], "content": " \n "})
    api.err("/bot/editmessage", world.bot.token, 400, "content",
            json={"message_id": m["message_id"], "content": "👍" * 4097})
    e = api.ok("/bot/editmessage", world.bot.token, {"message_id": m["message_id"], "content": "👍" * 4096})
    assert e["content"] == "👍" * 4096


# ---------------------------------------------------------------- deletemessage
def test_delete_single_own_message(api, world):
    m = api.bot_send(world.bot.token, "to be deleted", group_id=world.group)
    d = api.ok("/bot/deletemessage", world.bot.token, {"message_id": m["message_id"]})
    assert d["deleted"] == [m["message_id"]]
    t = api.find(world.owner.token, m["message_id"], group_id=world.group)
    assert t is not None and is_tombstone(t), t
    assert "to be deleted" not in json.dumps(t)
    api.err("/bot/deletemessage", world.bot.token, 404, json={"message_id": m["message_id"]})


def test_delete_unknown_is_404(api, world):
    m = api.bot_send(world.bot.token, "x", group_id=world.group)
    api.err("/bot/deletemessage", world.bot.token, 404,
            json={"message_id": unknown_like(m["message_id"])})


def test_delete_needs_exactly_one_form(api, world):
    m = api.bot_send(world.bot.token, "x", group_id=world.group)
    api.err("/bot/deletemessage", world.bot.token, 400, json={})
    api.err("/bot/deletemessage", world.bot.token, 400,
            json={"message_id": m["message_id"], "message_ids": [m["message_id"]]})
    assert api.find(world.owner.token, m["message_id"], group_id=world.group)["content"] == "x"


def test_delete_others_group_message_needs_admin(api, world):
    u = api.user()
    api.addmember(world.owner.token, world.group, u.id)
    um = api.app_send(u.token, "user says", group_id=world.group)
    api.err("/bot/deletemessage", world.bot.token, 403, json={"message_id": um["message_id"]})
    assert api.find(u.token, um["message_id"], group_id=world.group)["content"] == "user says"
    api.setadmin(world.owner.token, world.group, world.bot.id, True)
    d = api.ok("/bot/deletemessage", world.bot.token, {"message_id": um["message_id"]})
    assert d["deleted"] == [um["message_id"]]
    assert is_tombstone(api.find(u.token, um["message_id"], group_id=world.group))


def test_delete_users_message_in_private_chat(api, world):
    u = api.user()
    um = api.app_send(u.token, "private words", target_user_id=world.bot.id)
    d = api.ok("/bot/deletemessage", world.bot.token, {"message_id": um["message_id"]})
    assert d["deleted"] == [um["message_id"]]
    assert is_tombstone(api.find(u.token, um["message_id"], peer_id=world.bot.id))


def test_delete_message_of_chat_bot_cannot_see(api, world):
    a = api.user()
    b = api.user()
    pm = api.app_send(a.token, "between people", target_user_id=b.id)
    s, body = api.call("/bot/deletemessage", world.bot.token, json={"message_id": pm["message_id"]})
    assert s in (403, 404), (s, body)  # not visible to the bot
    assert body["data"] is None
    assert api.find(a.token, pm["message_id"], peer_id=b.id)["content"] == "between people"


def test_batch_delete_lists_each_id_exactly_once(api, world):
    m1 = api.bot_send(world.bot.token, "one", group_id=world.group)["message_id"]
    m2 = api.bot_send(world.bot.token, "two", group_id=world.group)["message_id"]
    bogus = unknown_like(m1)
    d = api.ok("/bot/deletemessage", world.bot.token, {"message_ids": [m1, bogus, m2]})
    assert sorted(d["deleted"]) == sorted([m1, m2])
    assert len(d["failed"]) == 1
    f = d["failed"][0]
    assert f["message_id"] == bogus and f["code"] == 404 and isinstance(f["msg"], str) and f["msg"]
    all_ids = d["deleted"] + [x["message_id"] for x in d["failed"]]
    assert sorted(all_ids) == sorted([m1, bogus, m2])
    hist = {m["message_id"]: m for m in api.history(world.owner.token, group_id=world.group)}
    assert is_tombstone(hist[m1]) and is_tombstone(hist[m2])


def test_batch_delete_mixed_permissions(api, world):
    u = api.user()
    api.addmember(world.owner.token, world.group, u.id)
    own = api.bot_send(world.bot.token, "own", group_id=world.group)["message_id"]
    theirs = api.app_send(u.token, "theirs", group_id=world.group)["message_id"]
    d = api.ok("/bot/deletemessage", world.bot.token, {"message_ids": [theirs, own]})
    assert d["deleted"] == [own]
    assert [(f["message_id"], f["code"]) for f in d["failed"]] == [(theirs, 403)]
    assert api.find(u.token, theirs, group_id=world.group)["content"] == "theirs"


def test_batch_delete_duplicates_refused_nothing_deleted(api, world):
    m1 = api.bot_send(world.bot.token, "dup", group_id=world.group)["message_id"]
    api.err("/bot/deletemessage", world.bot.token, 400, "message_ids", json={"message_ids": [m1, m1]})
    assert api.find(world.owner.token, m1, group_id=world.group)["content"] == "dup"


def test_batch_delete_size_limits(api, world):
    ids = [api.bot_send(world.bot.token, f"n{i}", group_id=world.group)["message_id"]
           for i in range(101)]
    api.err("/bot/deletemessage", world.bot.token, 400, "message_ids", json={"message_ids": ids})
    api.err("/bot/deletemessage", world.bot.token, 400, "message_ids", json={"message_ids": []})
    hist = {m["message_id"]: m for m in api.history(world.owner.token, group_id=world.group)}
    assert not any(is_tombstone(hist[i]) for i in ids[-100:]), "a refused batch deleted something"
    d = api.ok("/bot/deletemessage", world.bot.token, {"message_ids": ids[:100]})
    assert sorted(d["deleted"]) == sorted(ids[:100]) and d["failed"] == []
    assert api.find(world.owner.token, ids[100], group_id=world.group)["content"] == "n100"


# ---------------------------------------------------------------- commands
def test_set_and_get_commands(api, world):
    cmds = [{"command": "start", "description": "开始使用"},
            {"command": "help", "description": "帮助"},
            {"command": "price", "description": "查价"}]
    api.ok("/bot/botapisetcommands", world.bot.token, {"commands": cmds})
    assert api.ok("/bot/botapigetcommands", world.bot.token, {}) == {"commands": cmds}
    # another bot's menu is its own
    other = api.bot(world.owner)
    assert api.ok("/bot/botapigetcommands", other.token, {}) == {"commands": []}


def test_set_commands_replaces_whole_menu(api, world):
    api.ok("/bot/botapisetcommands", world.bot.token,
           {"commands": [{"command": "a", "description": "A"}, {"command": "b", "description": "B"}]})
    api.ok("/bot/botapisetcommands", world.bot.token,
           {"commands": [{"command": "c", "description": "C"}]})
    assert api.ok("/bot/botapigetcommands", world.bot.token, {}) == {
        "commands": [{"command": "c", "description": "C"}]}


def test_set_commands_form_body_json_string(api, world):
    cmds = [{"command": "go", "description": "Go!"}]
    r = api.request("POST", "/bot/botapisetcommands", world.bot.token,
                    data={"commands": json.dumps(cmds)})
    assert r.status_code == 200, r.text
    assert api.ok("/bot/botapigetcommands", world.bot.token, {}) == {"commands": cmds}


# ---------------------------------------------------------------- mute
def member(api, w):
    u = api.user()
    api.addmember(w.owner.token, w.group, u.id)
    return u


def test_bot_mute_enforced_on_app_sendmessage(api, admin_world):
    w = admin_world
    u = member(api, w)
    d = api.ok("/bot/mutemember", w.bot.token, {"group_id": w.group, "user_id": u.id, "duration": 0})
    assert d == {"group_id": w.group, "user_id": u.id, "muted_until": 0}
    before = api.history_ids(w.owner.token, group_id=w.group)
    api.err("/app/sendmessage", u.token, 403,
            json={"group_id": w.group, "message_type": "text", "content": "muted?"})
    assert api.history_ids(w.owner.token, group_id=w.group) == before
    d = api.ok("/bot/unmutemember", w.bot.token, {"group_id": w.group, "user_id": u.id})
    assert d == {"group_id": w.group, "user_id": u.id, "was_muted": True}
    assert api.app_send(u.token, "free", group_id=w.group)["content"] == "free"


def test_mute_with_duration_and_replace_end_time(api, admin_world):
    w = admin_world
    u = member(api, w)
    now = time.time()
    d = api.ok("/bot/mutemember", w.bot.token, {"group_id": w.group, "user_id": u.id, "duration": 0})
    assert d["muted_until"] == 0
    d = api.ok("/bot/mutemember", w.bot.token, {"group_id": w.group, "user_id": u.id, "duration": 30})
    assert abs(d["muted_until"] - (now + 30)) < 30
    d = api.ok("/bot/mutemember", w.bot.token, {"group_id": w.group, "user_id": u.id, "duration": 86400})
    assert abs(d["muted_until"] - (now + 86400)) < 60
    api.err("/app/sendmessage", u.token, 403,
            json={"group_id": w.group, "message_type": "text", "content": "still muted"})


def test_unmute_not_muted_is_200_was_muted_false(api, admin_world):
    w = admin_world
    u = member(api, w)
    d = api.ok("/bot/unmutemember", w.bot.token, {"group_id": w.group, "user_id": u.id})
    assert d == {"group_id": w.group, "user_id": u.id, "was_muted": False}


def test_muted_bot_cannot_send(api, world):
    d = api.ok("/app/mutemember", world.owner.token,
               {"group_id": world.group, "user_id": world.bot.id, "duration": 0})
    assert d["muted_until"] == 0
    before = api.history_ids(world.owner.token, group_id=world.group)
    api.err("/bot/sendmessage", world.bot.token, 403,
            json={"group_id": world.group, "message_type": "text", "content": "muted bot"})
    assert api.history_ids(world.owner.token, group_id=world.group) == before
    api.ok("/app/unmutemember", world.owner.token, {"group_id": world.group, "user_id": world.bot.id})
    api.bot_send(world.bot.token, "speaking again", group_id=world.group)


def test_mute_by_non_admin_bot_is_403(api, world):
    u = member(api, world)
    api.err("/bot/mutemember", world.bot.token, 403,
            json={"group_id": world.group, "user_id": u.id, "duration": 60})
    api.err("/bot/unmutemember", world.bot.token, 403, json={"group_id": world.group, "user_id": u.id})
    assert api.app_send(u.token, "not muted", group_id=world.group)


def test_mute_owner_or_admin_is_403(api, admin_world):
    w = admin_world
    adm = member(api, w)
    api.setadmin(w.owner.token, w.group, adm.id, True)
    api.err("/bot/mutemember", w.bot.token, 403,
            json={"group_id": w.group, "user_id": w.owner.id, "duration": 60})
    api.err("/bot/mutemember", w.bot.token, 403,
            json={"group_id": w.group, "user_id": adm.id, "duration": 60})
    other_bot = api.bot(w.owner)
    api.addmember(w.owner.token, w.group, other_bot.id)
    api.setadmin(w.owner.token, w.group, other_bot.id, True)
    api.err("/bot/mutemember", w.bot.token, 403,
            json={"group_id": w.group, "user_id": other_bot.id, "duration": 60})
    api.app_send(w.owner.token, "owner speaks", group_id=w.group)
    api.app_send(adm.token, "admin speaks", group_id=w.group)


def test_bot_mutes_itself_is_400(api, admin_world):
    w = admin_world
    api.err("/bot/mutemember", w.bot.token, 400,
            json={"group_id": w.group, "user_id": w.bot.id, "duration": 60})
    api.bot_send(w.bot.token, "still talking", group_id=w.group)


def test_mute_target_not_member_is_404(api, admin_world):
    w = admin_world
    outsider = api.user()
    api.err("/bot/mutemember", w.bot.token, 404,
            json={"group_id": w.group, "user_id": outsider.id, "duration": 60})
    api.err("/bot/mutemember", w.bot.token, 404,
            json={"group_id": w.group, "user_id": unknown_like(outsider.id), "duration": 60})


def test_mute_other_bot_member(api, admin_world):
    w = admin_world
    other = api.bot(w.owner)
    api.addmember(w.owner.token, w.group, other.id)
    api.ok("/bot/mutemember", w.bot.token, {"group_id": w.group, "user_id": other.id, "duration": 0})
    api.err("/bot/sendmessage", other.token, 403,
            json={"group_id": w.group, "message_type": "text", "content": "muted"})


# ---------------------------------------------------------------- more edges
def test_removed_bot_loses_group_access(api, world):
    m = api.bot_send(world.bot.token, "before removal", group_id=world.group)
    api.ok("/app/removemember", world.owner.token, {"group_id": world.group, "user_id": world.bot.id})
    api.err("/bot/getgroup", world.bot.token, 403, json={"group_id": world.group})
    # and it no longer acts in that group, not even on its own old messages' chat
    s, b = api.call("/bot/sendmessage", world.bot.token,
                    json={"group_id": world.group, "message_type": "text", "content": "x",
                          "reply_to_id": m["message_id"]})
    assert_error(s, b, 403)


def test_tombstone_loses_keyboard_and_content(api, world):
    secret = "cbsecret" + world.bot.id[-6:]
    m = api.bot_send(world.bot.token, "with keys", group_id=world.group,
                     extra={"inline_keyboard": [[{"text": "Key text", "callback_data": secret}]]})
    api.ok("/bot/deletemessage", world.bot.token, {"message_id": m["message_id"]})
    t = api.find(world.owner.token, m["message_id"], group_id=world.group)
    dumped = json.dumps(t, ensure_ascii=False)
    assert t["deleted"] is True
    assert secret not in dumped and "Key text" not in dumped and "with keys" not in dumped


def test_mute_duration_out_of_int64_is_400(api, admin_world):
    w = admin_world
    u = api.user()
    api.addmember(w.owner.token, w.group, u.id)
    raw = ('{"group_id":"%s","user_id":"%s","duration":100000000000000000000}' % (w.group, u.id))
    r = api.request("POST", "/bot/mutemember", w.bot.token, data=raw.encode(),
                    headers={"Content-Type": "application/json"})
    assert_error(r.status_code, api.body_of(r), 400, "duration")
    api.app_send(u.token, "not muted", group_id=w.group)


def test_user_token_on_bot_api_reads_invalid_bot_token(api, world):
    # bot-api.md: an unknown token is "invalid bot token"; a user token is no bot token
    assert api.err("/bot/getme", world.owner.token, 401, json={}) == "invalid bot token"


def test_racing_sends_and_refused_replies_store_each_sent_message_once(api, world):
    # Sends that succeed and sends refused after a look-up (a reply to a
    # deleted message) race into the same write batches. On PostgreSQL a
    # message's row may wait for its batch's end, and a refused job rolls
    # back to its savepoint: every message that got 200 must be stored once,
    # and the refused ones not at all.
    gone = api.bot_send(world.bot.token, "to be deleted", group_id=world.group)
    api.ok("/bot/deletemessage", world.bot.token, {"message_id": gone["message_id"]})
    before = api.history_ids(world.owner.token, group_id=world.group)
    tag = uname()

    def send(i):
        body = {"group_id": world.group, "message_type": "text",
                "content": f"race {tag} {i}"}
        if i % 2:
            body["reply_to_id"] = gone["message_id"]
        r = requests.post(api.url("/bot/sendmessage"), json=body,
                          headers={"Authorization": "Bearer " + world.bot.token})
        return i, r.status_code, r.json()

    results = []
    for _ in range(3):
        results += thread_map(send, 16)
    sent = {b["data"]["message_id"]: f"race {tag} {i}"
            for i, status, b in results if i % 2 == 0 and status == 200}
    assert [s for i, s, _ in results if i % 2 == 0] == [200] * 24, results
    for i, status, b in results:
        if i % 2:
            assert status == 400 and b["code"] == 400 and "reply_to_id" in b["msg"], b
    stored = [m for m in api.history(world.owner.token, group_id=world.group)
              if m["message_id"] not in before]
    assert sorted(m["message_id"] for m in stored) == sorted(sent), stored
    for m in stored:
        assert m["content"] == sent[m["message_id"]], m
