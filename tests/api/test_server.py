"""The server as a process and under concurrency: keep-alive, hostile bodies,
races, restart, registration switch, clean shutdown."""
import json

import pytest
import requests

from conftest import Api, Server, assert_error, thread_map, uname


# ---------------------------------------------------------------- transport
def test_keep_alive_connection_survives_errors(api, world):
    s = requests.Session()
    h = {"Authorization": "Bearer " + world.bot.token}
    seq = [
        ("POST", "/bot/getme", {"json": {}}, 200),
        ("POST", "/bot/sendmessage", {"json": {"group_id": 5}}, 400),
        ("POST", "/bot/nosuchmethod", {"json": {}}, 404),
        ("GET", "/bot/sendmessage", {}, 405),
        ("POST", "/bot/getme", {"data": b"{}", "headers": {"Content-Type": "text/plain"}}, 415),
        ("POST", "/bot/getme", {"data": b"[1", "headers": {"Content-Type": "application/json"}}, 400),
        ("POST", "/bot/getme", {"json": {}}, 200),
    ]
    for method, path, kw, code in seq:
        hdrs = dict(h, **kw.pop("headers", {}))
        r = s.request(method, api.url(path), headers=hdrs, timeout=10, **kw)
        assert r.status_code == code, (path, r.status_code, r.text)
        assert r.json()["code"] == code
    s.close()


def test_post_healthz_is_405_with_allow_get(api):
    r = requests.post(api.url("/healthz"))
    assert_error(r.status_code, api.body_of(r), 405)
    assert "GET" in r.headers.get("Allow", "").upper()


def test_get_on_unknown_bot_method_is_404_not_405(api, world):
    r = api.request("GET", "/bot/nosuchmethod", world.bot.token)
    assert_error(r.status_code, api.body_of(r), 404)


def test_trailing_garbage_after_json_is_400(api, world):
    before = api.history_ids(world.owner.token, group_id=world.group)
    raw = json.dumps({"group_id": world.group, "message_type": "text", "content": "x"}) + " xyz"
    r = api.request("POST", "/bot/sendmessage", world.bot.token, data=raw.encode(),
                    headers={"Content-Type": "application/json"})
    assert_error(r.status_code, api.body_of(r), 400)
    assert api.history_ids(world.owner.token, group_id=world.group) == before


def test_deeply_nested_json_is_400_and_server_survives(fresh_server):
    a = Api(fresh_server)
    owner = a.user()
    bot = a.bot(owner)
    gid = a.creategroup(owner.token)
    a.addmember(owner.token, gid, bot.id)
    depth = 200_000
    raw = ('{"group_id":"%s","message_type":"text","content":"x","extra":{"inline_keyboard":'
           % gid) + "[" * depth + "]" * depth + "}}"
    r = a.request("POST", "/bot/sendmessage", bot.token, data=raw.encode(),
                  headers={"Content-Type": "application/json"})
    assert_error(r.status_code, a.body_of(r), 400)
    assert fresh_server.alive()
    assert a.ok("/bot/getme", bot.token, {})["bot_id"] == bot.id


# ---------------------------------------------------------------- races
def test_concurrent_register_same_username_one_wins(api):
    name = uname("race")

    def reg(i):
        r = requests.post(api.url("/app/register"),
                          json={"username": name if i % 2 else name.upper(), "display_name": f"r{i}"})
        body = r.json()
        if r.status_code == 200:
            api.server.tokens.add(body["data"]["token"])
        return r.status_code, body

    res = thread_map(reg, 10)
    codes = sorted(s for s, _ in res)
    assert codes == [200] + [409] * 9, res
    for s, b in res:
        if s == 409:
            assert_error(s, b, 409)


def test_concurrent_createbot_same_username_one_wins(api):
    owners = [api.user() for _ in range(8)]
    name = uname("race", "bot")

    def create(i):
        return api.call("/app/createbot", owners[i].token, json={"username": name, "display_name": "r"})

    res = thread_map(create, 8)
    for s, b in res:
        if s == 200:
            api.server.tokens.add(b["data"]["token"])
    assert sorted(s for s, _ in res) == [200] + [409] * 7, res


def test_concurrent_sends_without_key_are_all_stored(api, world):
    tag = uname("burst")
    res = thread_map(lambda i: api.call("/bot/sendmessage", world.bot.token,
                                        json={"group_id": world.group, "message_type": "text",
                                              "content": f"{tag} {i}"}), 20)
    assert [s for s, _ in res] == [200] * 20, res
    ids = {b["data"]["message_id"] for _, b in res}
    assert len(ids) == 20
    stored = [m for m in api.history(world.owner.token, group_id=world.group)
              if (m.get("content") or "").startswith(tag)]
    assert len(stored) == 20


def test_idempotency_race_with_two_different_bodies(api, world):
    key = "mixed-" + uname()

    def send(i):
        return api.call("/bot/sendmessage", world.bot.token,
                        json={"group_id": world.group, "message_type": "text",
                              "content": f"variant {key} {i % 2}"},
                        headers={"Idempotency-Key": key})

    res = thread_map(send, 10)
    ok = [b for s, b in res if s == 200]
    conflicts = [(s, b) for s, b in res if s != 200]
    assert ok, res
    assert len({b["data"]["message_id"] for b in ok}) == 1
    assert len({b["data"]["content"] for b in ok}) == 1
    for s, b in conflicts:
        assert_error(s, b, 409)
    winner = ok[0]["data"]["content"]
    # every request with the winner's body got the message; every other one a 409
    for i, (s, b) in enumerate(res):
        assert (s == 200) == (f"variant {key} {i % 2}" == winner), (i, s, b)
    stored = [m for m in api.history(world.owner.token, group_id=world.group)
              if key in (m.get("content") or "")]
    assert len(stored) == 1


def test_concurrent_deletes_of_one_message_delete_it_once(api, world):
    mid = api.bot_send(world.bot.token, "delete me once", group_id=world.group)["message_id"]
    res = thread_map(lambda i: api.call("/bot/deletemessage", world.bot.token,
                                        json={"message_ids": [mid]}), 8)
    assert [s for s, _ in res] == [200] * 8, res
    deleted = sum(len(b["data"]["deleted"]) for _, b in res)
    failed = [f for _, b in res for f in b["data"]["failed"]]
    assert deleted == 1, res
    assert len(failed) == 7 and all(f["code"] == 404 for f in failed), failed


def test_mute_is_per_group(api, admin_world):
    w = admin_world
    u = api.user()
    api.addmember(w.owner.token, w.group, u.id)
    other = api.creategroup(w.owner.token)
    api.addmember(w.owner.token, other, u.id)
    api.ok("/bot/mutemember", w.bot.token, {"group_id": w.group, "user_id": u.id, "duration": 0})
    api.err("/app/sendmessage", u.token, 403,
            json={"group_id": w.group, "message_type": "text", "content": "muted here"})
    api.app_send(u.token, "free there", group_id=other)


def test_getuser_by_username_ignores_case(api):
    # usernames are unique ignoring case, so looking one up ignores case too
    a = api.user()
    b = api.user()
    assert api.ok("/app/getuser", a.token, {"username": b.username.upper()})["user_id"] == b.id


# ---------------------------------------------------------------- process
def test_registration_can_be_switched_off(tmp_path):
    s = Server(str(tmp_path / "data"), ["--no-open-registration"]).start()
    try:
        a = Api(s)
        a.err("/app/register", None, 403, json={"username": uname(), "display_name": "x"})
    finally:
        assert s.stop() == 0


def test_restart_keeps_accounts_messages_and_revocations(tmp_path):
    data = str(tmp_path / "data")
    s1 = Server(data).start()
    a = Api(s1)
    owner = a.user()
    bot = a.bot(owner)
    gid = a.creategroup(owner.token)
    a.addmember(owner.token, gid, bot.id)
    m = a.bot_send(bot.token, "survives restart", group_id=gid)
    new_tok = a.ok("/app/revoketoken", owner.token, {"bot_id": bot.id})["token"]
    a.ok("/bot/botapisetcommands", new_tok, {"commands": [{"command": "x", "description": "y"}]})
    assert s1.stop() == 0

    s2 = Server(data).start()
    try:
        b = Api(s2)
        assert b.ok("/app/me", owner.token, {})["user_id"] == owner.id
        assert b.err("/bot/getme", bot.token, 401, json={}) == "invalid bot token"
        assert b.ok("/bot/getme", new_tok, {})["bot_id"] == bot.id
        assert b.find(owner.token, m["message_id"], group_id=gid)["content"] == "survives restart"
        assert b.ok("/bot/botapigetcommands", new_tok, {})["commands"] == [
            {"command": "x", "description": "y"}]
        for tok in (owner.token, bot.token, new_tok):
            assert tok not in s1.log_text() + s2.log_text()
    finally:
        assert s2.stop() == 0


def test_sigterm_with_requests_in_flight_exits_0(fresh_server):
    import threading
    a = Api(fresh_server)
    owner = a.user()
    bot = a.bot(owner)
    gid = a.creategroup(owner.token)
    a.addmember(owner.token, gid, bot.id)
    answered = threading.Event()
    results = []

    def hammer(n):
        for i in range(500):
            try:
                r = requests.post(a.url("/bot/sendmessage"), timeout=15,
                                  headers={"Authorization": "Bearer " + bot.token},
                                  json={"group_id": gid, "message_type": "text",
                                        "content": f"h{n}.{i}"})
                results.append(r.status_code)
                answered.set()
            except requests.RequestException:
                break  # the server has stopped accepting

    threads = [threading.Thread(target=hammer, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    assert answered.wait(10), "no request was answered"
    rc = fresh_server.stop()
    for t in threads:
        t.join(30)
    assert rc == 0, "binkd exited with %s on SIGTERM under load; log tail:\n%s" % (
        rc, "\n".join(fresh_server.lines[-15:]))
    # whatever got an answer got a proper one (200, or 503 while shutting down)
    assert set(results) <= {200, 503}, set(results)
