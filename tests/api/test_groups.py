"""App API groups: creategroup, getgroup, addmember, joingroup, leavegroup,
removemember, setadmin, members, mutemember/unmutemember."""
import json
import time

from conftest import unknown_like, uname


def role_of(d):
    # app-api.md: "group profile plus the caller's role"; the key is not named there
    for k in ("role", "my_role", "caller_role"):
        if k in d:
            return d[k]
    raise AssertionError(f"no caller role in /app/getgroup data: {d}")


def member_ids(api, token, gid):
    d = api.ok("/app/members", token, {"group_id": gid})
    return {m["user_id"] for m in d["members"]}


def can_send(api, token, gid):
    s, b = api.call("/app/sendmessage", token,
                    json={"group_id": gid, "message_type": "text", "content": "probe"})
    return s


# ---------------------------------------------------------------- creategroup / getgroup
def test_creategroup_and_getgroup(api):
    owner = api.user()
    d = api.ok("/app/creategroup", owner.token,
               {"title": "Café ☕ club", "description": "beans"})
    gid = d["group_id"]
    assert gid.startswith("group_")
    assert d["title"] == "Café ☕ club"
    g = api.ok("/app/getgroup", owner.token, {"group_id": gid})
    assert g["group_id"] == gid and g["title"] == "Café ☕ club"
    assert g["description"] == "beans"
    assert role_of(g) == "owner"
    assert member_ids(api, owner.token, gid) == {owner.id}


def test_creategroup_title_limits(api):
    owner = api.user()
    api.creategroup(owner.token, "题" * 128)
    api.err("/app/creategroup", owner.token, 400, "title", json={"title": "题" * 129})
    api.err("/app/creategroup", owner.token, 400, "title", json={"title": ""})
    api.err("/app/creategroup", owner.token, 400, "title", json={})


def test_creategroup_username_unique_and_valid(api):
    owner = api.user()
    name = uname("grp")
    api.creategroup(owner.token, "A", username=name)
    api.err("/app/creategroup", owner.token, 409, json={"title": "B", "username": name.upper()})
    api.err("/app/creategroup", owner.token, 400, "username", json={"title": "C", "username": "9abc"})


def test_getgroup_role_member_and_admin(api):
    owner = api.user()
    u = api.user()
    gid = api.creategroup(owner.token)
    api.addmember(owner.token, gid, u.id)
    assert role_of(api.ok("/app/getgroup", u.token, {"group_id": gid})) == "member"
    api.setadmin(owner.token, gid, u.id, True)
    assert role_of(api.ok("/app/getgroup", u.token, {"group_id": gid})) == "admin"


def test_app_getgroup_unknown_is_404(api):
    owner = api.user()
    gid = api.creategroup(owner.token)
    api.err("/app/getgroup", owner.token, 404, json={"group_id": unknown_like(gid)})


# ---------------------------------------------------------------- addmember
def test_addmember_by_owner_and_member_can_send(api):
    owner = api.user()
    u = api.user()
    gid = api.creategroup(owner.token)
    assert can_send(api, u.token, gid) == 403
    api.addmember(owner.token, gid, u.id)
    assert can_send(api, u.token, gid) == 200
    assert member_ids(api, owner.token, gid) == {owner.id, u.id}


def test_addmember_by_plain_member_is_403(api):
    owner = api.user()
    u = api.user()
    v = api.user()
    gid = api.creategroup(owner.token)
    api.addmember(owner.token, gid, u.id)
    api.err("/app/addmember", u.token, 403, json={"group_id": gid, "user_id": v.id})
    assert v.id not in member_ids(api, owner.token, gid)


def test_addmember_by_admin_works(api):
    owner = api.user()
    adm = api.user()
    v = api.user()
    gid = api.creategroup(owner.token)
    api.addmember(owner.token, gid, adm.id)
    api.setadmin(owner.token, gid, adm.id, True)
    api.addmember(adm.token, gid, v.id)
    assert v.id in member_ids(api, owner.token, gid)


def test_addmember_unknown_user_or_group_is_404(api):
    owner = api.user()
    gid = api.creategroup(owner.token)
    api.err("/app/addmember", owner.token, 404, json={"group_id": gid, "user_id": unknown_like(owner.id)})
    api.err("/app/addmember", owner.token, 404,
            json={"group_id": unknown_like(gid), "user_id": api.user().id})


def test_bot_owner_adds_own_bot_to_group_they_administer(api):
    owner = api.user()
    admin = api.user()
    bot = api.bot(admin)
    gid = api.creategroup(owner.token)
    api.addmember(owner.token, gid, admin.id)
    api.setadmin(owner.token, gid, admin.id, True)
    api.addmember(admin.token, gid, bot.id)
    assert bot.id in member_ids(api, owner.token, gid)
    assert api.ok("/bot/getgroup", bot.token, {"group_id": gid})["bot_role"] == "member"


# ---------------------------------------------------------------- joingroup
def test_joingroup_private_group_is_403(api):
    owner = api.user()
    u = api.user()
    gid = api.creategroup(owner.token, public=False)
    api.err("/app/joingroup", u.token, 403, json={"group_id": gid})
    assert u.id not in member_ids(api, owner.token, gid)
    assert can_send(api, u.token, gid) == 403


def test_joingroup_public_by_id_and_by_username(api):
    owner = api.user()
    u = api.user()
    v = api.user()
    gname = uname("pub")
    gid = api.creategroup(owner.token, public=True, username=gname)
    api.ok("/app/joingroup", u.token, {"group_id": gid})
    api.ok("/app/joingroup", v.token, {"group_username": gname})
    assert member_ids(api, owner.token, gid) == {owner.id, u.id, v.id}
    assert can_send(api, u.token, gid) == 200
    assert can_send(api, v.token, gid) == 200


def test_joingroup_unknown_is_404(api):
    u = api.user()
    api.err("/app/joingroup", u.token, 404, json={"group_username": uname("nogroup")})


# ---------------------------------------------------------------- leave / remove
def test_leavegroup(api):
    owner = api.user()
    u = api.user()
    gid = api.creategroup(owner.token)
    api.addmember(owner.token, gid, u.id)
    api.ok("/app/leavegroup", u.token, {"group_id": gid})
    assert u.id not in member_ids(api, owner.token, gid)
    before = api.history_ids(owner.token, group_id=gid)
    assert can_send(api, u.token, gid) == 403
    assert api.history_ids(owner.token, group_id=gid) == before
    api.err("/app/history", u.token, 403, json={"group_id": gid})


def test_removemember_by_admin(api):
    owner = api.user()
    adm = api.user()
    u = api.user()
    gid = api.creategroup(owner.token)
    for x in (adm, u):
        api.addmember(owner.token, gid, x.id)
    api.setadmin(owner.token, gid, adm.id, True)
    api.ok("/app/removemember", adm.token, {"group_id": gid, "user_id": u.id})
    assert u.id not in member_ids(api, owner.token, gid)
    assert can_send(api, u.token, gid) == 403


def test_removemember_of_owner_is_403(api):
    owner = api.user()
    adm = api.user()
    gid = api.creategroup(owner.token)
    api.addmember(owner.token, gid, adm.id)
    api.setadmin(owner.token, gid, adm.id, True)
    api.err("/app/removemember", adm.token, 403, json={"group_id": gid, "user_id": owner.id})
    assert owner.id in member_ids(api, owner.token, gid)


def test_removemember_by_plain_member_is_403(api):
    owner = api.user()
    u = api.user()
    v = api.user()
    gid = api.creategroup(owner.token)
    for x in (u, v):
        api.addmember(owner.token, gid, x.id)
    api.err("/app/removemember", u.token, 403, json={"group_id": gid, "user_id": v.id})
    assert v.id in member_ids(api, owner.token, gid)


# ---------------------------------------------------------------- setadmin / members
def test_setadmin_by_non_owner_is_403(api):
    owner = api.user()
    adm = api.user()
    u = api.user()
    gid = api.creategroup(owner.token)
    for x in (adm, u):
        api.addmember(owner.token, gid, x.id)
    api.setadmin(owner.token, gid, adm.id, True)
    api.err("/app/setadmin", adm.token, 403, json={"group_id": gid, "user_id": u.id, "admin": True})
    api.err("/app/setadmin", u.token, 403, json={"group_id": gid, "user_id": u.id, "admin": True})
    api.err("/app/members", u.token, 403, json={"group_id": gid})  # still not an admin


def test_setadmin_grant_and_revoke(api):
    owner = api.user()
    u = api.user()
    gid = api.creategroup(owner.token)
    api.addmember(owner.token, gid, u.id)
    api.err("/app/members", u.token, 403, json={"group_id": gid})
    api.setadmin(owner.token, gid, u.id, True)
    assert member_ids(api, u.token, gid) == {owner.id, u.id}
    api.setadmin(owner.token, gid, u.id, False)
    api.err("/app/members", u.token, 403, json={"group_id": gid})


def test_setadmin_works_for_bots(api, world):
    assert api.ok("/bot/getgroup", world.bot.token, {"group_id": world.group})["bot_role"] == "member"
    api.setadmin(world.owner.token, world.group, world.bot.id, True)
    assert api.ok("/bot/getgroup", world.bot.token, {"group_id": world.group})["bot_role"] == "admin"
    api.setadmin(world.owner.token, world.group, world.bot.id, False)
    assert api.ok("/bot/getgroup", world.bot.token, {"group_id": world.group})["bot_role"] == "member"


def test_setadmin_admin_must_be_bool(api):
    owner = api.user()
    u = api.user()
    gid = api.creategroup(owner.token)
    api.addmember(owner.token, gid, u.id)
    api.err("/app/setadmin", owner.token, 400, "admin",
            json={"group_id": gid, "user_id": u.id, "admin": "yes"})


def test_members_for_admins_only(api, world):
    u = api.user()
    api.addmember(world.owner.token, world.group, u.id)
    api.err("/app/members", u.token, 403, json={"group_id": world.group})
    ids = member_ids(api, world.owner.token, world.group)
    assert ids == {world.owner.id, world.bot.id, u.id}
    outsider = api.user()
    s, b = api.call("/app/members", outsider.token, json={"group_id": world.group})
    assert s in (403, 404), (s, b)  # an outsider sees nothing
    assert b["data"] is None


def test_members_entries_carry_no_tokens(api, world):
    d = api.ok("/app/members", world.owner.token, {"group_id": world.group})
    text = json.dumps(d)
    assert world.owner.token not in text and world.bot.token not in text


# ---------------------------------------------------------------- App mute
def test_app_mute_blocks_member_and_unmute_restores(api):
    owner = api.user()
    u = api.user()
    gid = api.creategroup(owner.token)
    api.addmember(owner.token, gid, u.id)
    d = api.ok("/app/mutemember", owner.token, {"group_id": gid, "user_id": u.id, "duration": 0})
    assert d["group_id"] == gid and d["user_id"] == u.id and d["muted_until"] == 0
    before = api.history_ids(owner.token, group_id=gid)
    api.err("/app/sendmessage", u.token, 403,
            json={"group_id": gid, "message_type": "text", "content": "muted"})
    assert api.history_ids(owner.token, group_id=gid) == before
    d = api.ok("/app/unmutemember", owner.token, {"group_id": gid, "user_id": u.id})
    assert d["was_muted"] is True
    assert api.app_send(u.token, "free again", group_id=gid)["content"] == "free again"


def test_app_mute_by_plain_member_is_403(api):
    owner = api.user()
    u = api.user()
    v = api.user()
    gid = api.creategroup(owner.token)
    for x in (u, v):
        api.addmember(owner.token, gid, x.id)
    api.err("/app/mutemember", u.token, 403, json={"group_id": gid, "user_id": v.id, "duration": 60})
    assert can_send(api, v.token, gid) == 200


def test_app_mute_with_duration_sets_end_time(api):
    owner = api.user()
    u = api.user()
    gid = api.creategroup(owner.token)
    api.addmember(owner.token, gid, u.id)
    now = time.time()
    d = api.ok("/app/mutemember", owner.token, {"group_id": gid, "user_id": u.id, "duration": 3600})
    assert abs(d["muted_until"] - (now + 3600)) < 60


def test_setadmin_non_member_is_404(api):
    owner = api.user()
    outsider = api.user()
    gid = api.creategroup(owner.token)
    api.err("/app/setadmin", owner.token, 404, json={"group_id": gid, "user_id": outsider.id, "admin": True})


def test_app_mute_of_admin_by_owner_is_403(api):
    owner = api.user()
    adm = api.user()
    gid = api.creategroup(owner.token)
    api.addmember(owner.token, gid, adm.id)
    api.setadmin(owner.token, gid, adm.id, True)
    api.err("/app/mutemember", owner.token, 403, json={"group_id": gid, "user_id": adm.id, "duration": 0})
    api.app_send(adm.token, "admin speaks", group_id=gid)


def test_app_form_bodies(api):
    name = uname()
    r = api.request("POST", "/app/register", data={"username": name, "display_name": "Form ✓"})
    assert r.status_code == 200, r.text
    d = r.json()["data"]
    api.server.tokens.add(d["token"])
    assert d["username"] == name and d["display_name"] == "Form ✓"
    r = api.request("POST", "/app/creategroup", d["token"], data={"title": "Form group", "public": "true"})
    assert r.status_code == 200, r.text
    gid = r.json()["data"]["group_id"]
    other = api.user()
    api.ok("/app/joingroup", other.token, {"group_id": gid})  # public came through as a boolean
    r = api.request("POST", "/app/sendmessage", other.token,
                    data={"group_id": gid, "message_type": "text", "content": "表单"})
    assert r.status_code == 200, r.text
    assert r.json()["data"]["content"] == "表单"
