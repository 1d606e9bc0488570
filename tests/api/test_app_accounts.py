"""App API accounts and bots' back office: register, me, getuser, createbot,
mybots, updatebot, revoketoken."""
import json

import requests

from conftest import assert_error, unknown_like, uname


# ---------------------------------------------------------------- register
def test_register_returns_profile_and_token(api):
    name = uname("Reg")
    d = api.ok("/app/register", None, {"username": name, "display_name": "Réka 🌸"})
    api.server.tokens.add(d["token"])
    assert d["user_id"].startswith("user_")
    assert d["username"] == name
    assert d["display_name"] == "Réka 🌸"
    assert isinstance(d["token"], str) and len(d["token"]) >= 20
    me = api.ok("/app/me", d["token"], {})
    assert me["user_id"] == d["user_id"] and me["username"] == name
    assert me["display_name"] == "Réka 🌸"


def test_register_needs_no_token_and_ignores_a_missing_header(api):
    r = requests.post(api.url("/app/register"),
                      json={"username": uname(), "display_name": "No Header"})
    assert r.status_code == 200, r.text
    api.server.tokens.add(r.json()["data"]["token"])


def test_register_username_rules(api):
    h = uname()[1:]
    bad = ["ab",                   # too short (3..32)
           "1" + h,                # starts with a digit
           "_" + h,                # starts with an underscore
           "a" + "b" * 32,         # 33 characters
           "ab-" + h,              # '-' not allowed
           "ab " + h,              # space
           "ñandu" + h[:5],        # non-ASCII
           ""]
    for name in bad:
        api.err("/app/register", None, 400, "username",
                json={"username": name, "display_name": "X"})


def test_register_username_edges_accepted(api):
    h = uname()[1:]
    for name in ("a" + h[:2],                  # 3 characters
                 ("z" + h + "_" * 32)[:32],    # 32 characters, underscores
                 "Q" + h.upper()[:9]):
        api.register(name)


def test_register_username_missing_or_wrong_type(api):
    api.err("/app/register", None, 400, "username", json={"display_name": "X"})
    api.err("/app/register", None, 400, "username", json={"username": 123, "display_name": "X"})


def test_register_duplicate_username_ignoring_case_is_409(api):
    name = uname("Dup")
    uid, _ = api.register(name)
    api.err("/app/register", None, 409, json={"username": name, "display_name": "again"})
    api.err("/app/register", None, 409, json={"username": name.lower(), "display_name": "again"})
    api.err("/app/register", None, 409, json={"username": name.upper(), "display_name": "again"})
    card = api.ok("/app/getuser", api.user().token, {"username": name})
    assert card["user_id"] == uid  # the first account is untouched


def test_register_display_name_64_ok_65_refused(api):
    name64 = "🌸" * 64
    uid, tok = api.register(uname(), name64)
    assert api.ok("/app/me", tok, {})["display_name"] == name64
    name = uname()
    api.err("/app/register", None, 400, "display_name",
            json={"username": name, "display_name": "字" * 65})
    api.err("/app/register", None, 400, "display_name",
            json={"username": name, "display_name": ""})
    api.err("/app/register", None, 400, "display_name", json={"username": name})
    # the refused registrations created nothing: the name is still free
    api.register(name)


# ---------------------------------------------------------------- me / getuser
def test_me_requires_user_token(api):
    api.err("/app/me", None, 401, json={})
    api.err("/app/me", "u1.bogus", 401, json={})


def test_getuser_by_id_and_by_username(api):
    a = api.user()
    b = api.user()
    card = api.ok("/app/getuser", a.token, {"user_id": b.id})
    assert card["user_id"] == b.id and card["username"] == b.username
    assert card["is_bot"] is False
    assert "display_name" in card
    assert "token" not in card and b.token not in json.dumps(card)
    card2 = api.ok("/app/getuser", a.token, {"username": b.username})
    assert card2 == card


def test_getuser_of_a_bot_is_flagged_is_bot(api):
    owner = api.user()
    bot = api.bot(owner)
    other = api.user()
    card = api.ok("/app/getuser", other.token, {"username": bot.username})
    assert card["user_id"] == bot.id and card["is_bot"] is True
    assert bot.token not in json.dumps(card)


def test_getuser_unknown_is_404(api):
    a = api.user()
    api.err("/app/getuser", a.token, 404, json={"user_id": unknown_like(a.id)})
    api.err("/app/getuser", a.token, 404, json={"username": uname("nobody")})


def test_getuser_without_id_or_username_is_400(api):
    a = api.user()
    api.err("/app/getuser", a.token, 400, json={})


# ---------------------------------------------------------------- createbot
def test_createbot_and_getme(api):
    owner = api.user()
    name = uname("Echo", "Bot")
    d = api.ok("/app/createbot", owner.token,
               {"username": name, "display_name": "Echo", "description": "echoes"})
    api.server.tokens.add(d["token"])
    assert d["bot_id"].startswith("bot_") and d["username"] == name and d["token"]
    me = api.ok("/bot/getme", d["token"], {})
    assert set(me) >= {"bot_id", "username", "display_name", "description", "privacy_mode",
                       "can_join_groups", "created_at"}
    assert me["bot_id"] == d["bot_id"] and me["username"] == name
    assert me["display_name"] == "Echo" and me["description"] == "echoes"
    assert me["privacy_mode"] is True  # events.md: privacy_mode on is the default
    assert isinstance(me["can_join_groups"], bool)
    assert isinstance(me["created_at"], int) and me["created_at"] > 1_600_000_000
    assert d["token"] not in json.dumps(me)


def test_createbot_username_must_end_in_bot(api):
    owner = api.user()
    api.err("/app/createbot", owner.token, 400, "username",
            json={"username": uname("helper"), "display_name": "H"})
    api.err("/app/createbot", owner.token, 400, "username",
            json={"username": uname("bot", "bo"), "display_name": "H"})
    api.err("/app/createbot", owner.token, 400, "username",
            json={"username": "1" + uname("", "bot"), "display_name": "H"})
    # ignoring case
    api.createbot(owner.token, uname("x", "BOT"))
    api.createbot(owner.token, uname("x", "Bot"))
    assert len(api.ok("/app/mybots", owner.token, {})["bots"]) == 2


def test_createbot_needs_user_token(api):
    api.err("/app/createbot", None, 401, json={"username": uname("", "bot"), "display_name": "x"})


def test_bot_username_clashes_with_user_username_409(api):
    owner = api.user()
    taken = uname("clash", "bot")
    api.register(taken)  # a user may carry a name ending in bot
    api.err("/app/createbot", owner.token, 409, json={"username": taken, "display_name": "x"})
    api.err("/app/createbot", owner.token, 409,
            json={"username": taken.upper(), "display_name": "x"})
    # and the other way round
    bot = api.bot(owner)
    api.err("/app/register", None, 409, json={"username": bot.username, "display_name": "x"})
    api.err("/app/register", None, 409,
            json={"username": bot.username.swapcase(), "display_name": "x"})
    api.err("/app/createbot", api.user().token, 409,
            json={"username": bot.username, "display_name": "x"})


# ---------------------------------------------------------------- mybots
def test_mybots_lists_own_bots_without_tokens(api):
    owner = api.user()
    b1 = api.bot(owner)
    b2 = api.bot(owner)
    other = api.user()
    api.bot(other)
    d = api.ok("/app/mybots", owner.token, {})
    bots = d["bots"]
    assert sorted(b["bot_id"] for b in bots) == sorted([b1.id, b2.id])
    assert {b["username"] for b in bots} == {b1.username, b2.username}
    text = json.dumps(d)
    assert b1.token not in text and b2.token not in text
    for b in bots:
        assert "token" not in b
    assert api.ok("/app/mybots", api.user().token, {}) == {"bots": []}


# ---------------------------------------------------------------- revoketoken
def test_revoketoken_old_fails_at_once_new_works(api, world):
    old = world.bot.token
    d = api.ok("/app/revoketoken", world.owner.token, {"bot_id": world.bot.id})
    new = d["token"]
    api.server.tokens.add(new)
    assert new and new != old
    assert api.err("/bot/getme", old, 401, json={}) == "invalid bot token"
    before = api.history_ids(world.owner.token, group_id=world.group)
    api.err("/bot/sendmessage", old, 401,
            json={"group_id": world.group, "message_type": "text", "content": "old"})
    assert api.history_ids(world.owner.token, group_id=world.group) == before
    assert api.ok("/bot/getme", new, {})["bot_id"] == world.bot.id
    m = api.bot_send(new, "new token", group_id=world.group)
    assert m["sender_id"] == world.bot.id


def test_revoketoken_by_non_owner_is_403(api, world):
    stranger = api.user()
    api.err("/app/revoketoken", stranger.token, 403, json={"bot_id": world.bot.id})
    assert api.ok("/bot/getme", world.bot.token, {})["bot_id"] == world.bot.id


def test_revoketoken_unknown_bot_is_404(api, world):
    api.err("/app/revoketoken", world.owner.token, 404,
            json={"bot_id": unknown_like(world.bot.id)})


# ---------------------------------------------------------------- updatebot
def test_updatebot_by_owner(api, world):
    api.ok("/app/updatebot", world.owner.token,
           {"bot_id": world.bot.id, "display_name": "Renamed ✨", "description": "new desc",
            "privacy_mode": False})
    me = api.ok("/bot/getme", world.bot.token, {})
    assert me["display_name"] == "Renamed ✨"
    assert me["description"] == "new desc"
    assert me["privacy_mode"] is False


def test_updatebot_by_non_owner_is_403(api, world):
    stranger = api.user()
    api.err("/app/updatebot", stranger.token, 403,
            json={"bot_id": world.bot.id, "display_name": "hijacked"})
    assert api.ok("/bot/getme", world.bot.token, {})["display_name"] != "hijacked"


def test_updatebot_display_name_limits(api, world):
    api.ok("/app/updatebot", world.owner.token, {"bot_id": world.bot.id, "display_name": "é" * 64})
    api.err("/app/updatebot", world.owner.token, 400, "display_name",
            json={"bot_id": world.bot.id, "display_name": "é" * 65})
    assert api.ok("/bot/getme", world.bot.token, {})["display_name"] == "é" * 64


def test_updatebot_wrong_type_names_field(api, world):
    api.err("/app/updatebot", world.owner.token, 400, "privacy_mode",
            json={"bot_id": world.bot.id, "privacy_mode": "no"})
    api.err("/app/updatebot", world.owner.token, 400, "display_name",
            json={"bot_id": world.bot.id, "display_name": 7})


def test_revoketoken_twice_invalidates_every_earlier_token(api, world):
    t1 = api.ok("/app/revoketoken", world.owner.token, {"bot_id": world.bot.id})["token"]
    t2 = api.ok("/app/revoketoken", world.owner.token, {"bot_id": world.bot.id})["token"]
    api.server.tokens.update({t1, t2})
    assert len({world.bot.token, t1, t2}) == 3
    for old in (world.bot.token, t1):
        assert api.err("/bot/getme", old, 401, json={}) == "invalid bot token"
    assert api.ok("/bot/getme", t2, {})["bot_id"] == world.bot.id


def test_register_display_name_wrong_type(api):
    api.err("/app/register", None, 400, "display_name",
            json={"username": uname(), "display_name": ["x"]})
