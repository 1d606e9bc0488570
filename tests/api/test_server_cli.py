"""binkd as an operator meets it: rate limiting, the command line, --demo,
user/bot add, configuration errors and the access log."""
import json
import os
import subprocess

import pytest
import requests

from conftest import BINKD, Api, Server, assert_error, db_env, uname


@pytest.fixture
def limited(tmp_path):
    s = Server(str(tmp_path / "data"), ["--rate-limit", "5"])
    s.start()
    yield Api(s)
    assert s.stop() == 0


def test_rate_limit_gives_429_with_retry_after(limited):
    uid, tok = limited.register()
    statuses = []
    for _ in range(40):  # burst is 2 x 5; 40 back-to-back calls must hit it
        r = limited.request("POST", "/app/me", token=tok)
        statuses.append(r.status_code)
        if r.status_code == 429:
            body = r.json()
            assert_error(r.status_code, {**body, "data": None}, 429)
            assert body["data"]["retry_after"] >= 1
            assert int(r.headers["Retry-After"]) == body["data"]["retry_after"]
            break
    assert 429 in statuses, statuses
    assert statuses.count(200) >= 10  # the burst went through first


def test_rate_limit_is_per_caller(limited):
    _, a = limited.register()
    _, b = limited.register()
    while limited.request("POST", "/app/me", token=a).status_code != 429:
        pass
    assert limited.request("POST", "/app/me", token=b).status_code == 200


def run_binkd(*args, env=None, timeout=20):
    e = dict(os.environ)
    if "--data" in args:  # under PostgreSQL: that directory's database
        e.update(db_env(args[args.index("--data") + 1]))
    e.update(env or {})
    return subprocess.run([BINKD, *args], capture_output=True, text=True,
                          timeout=timeout, env=e)


def test_version_and_help():
    v = run_binkd("--version")
    assert v.returncode == 0 and v.stdout.startswith("binkd ")
    h = run_binkd("--help")
    assert h.returncode == 0
    for opt in ("--listen", "--data", "--db", "--config", "--demo", "user add",
                "bot add", "BINKD_"):
        assert opt in h.stdout


@pytest.mark.parametrize("args,needle", [
    (["--no-such-option"], "--no-such-option"),
    (["--callback-ttl", "abc"], "callback-ttl"),
    (["--listen", "nonsense"], "listen"),
])
def test_bad_options_stop_the_start(tmp_path, args, needle):
    r = run_binkd("--data", str(tmp_path / "d"), *args)
    assert r.returncode == 2
    assert needle in r.stderr


def test_bad_environment_value_names_the_variable(tmp_path):
    r = run_binkd("--data", str(tmp_path / "d"), env={"BINKD_THREADS": "many"})
    assert r.returncode == 2 and "BINKD_THREADS" in r.stderr


def test_config_file_unknown_key(tmp_path):
    conf = tmp_path / "binkd.conf"
    conf.write_text("# comment\nlisten = 127.0.0.1:0\nbogus = 1\n")
    r = run_binkd("--config", str(conf), "--data", str(tmp_path / "d"))
    assert r.returncode == 2 and "bogus" in r.stderr and ":3" in r.stderr


def test_user_add_and_bot_add_print_working_tokens(tmp_path):
    data = str(tmp_path / "data")
    u = run_binkd("--data", data, "user", "add", "carol", "--display-name", "Carol C")
    assert u.returncode == 0, u.stderr
    user_token = u.stdout.strip()
    assert user_token and "\n" not in user_token
    b = run_binkd("--data", data, "bot", "add", "carol_bot", "--owner", "carol")
    assert b.returncode == 0, b.stderr
    bot_token = b.stdout.strip()
    dup = run_binkd("--data", data, "user", "add", "CAROL")
    assert dup.returncode == 1 and "taken" in dup.stderr
    no_owner = run_binkd("--data", data, "bot", "add", "x_bot")
    assert no_owner.returncode == 2
    s = Server(data)
    s.start()
    try:
        api = Api(s)
        me = api.ok("/app/me", user_token)
        assert me["username"] == "carol" and me["display_name"] == "Carol C"
        bot = api.ok("/bot/getme", bot_token)
        assert bot["username"] == "carol_bot"
        mine = api.ok("/app/mybots", user_token)["bots"]
        assert [x["bot_id"] for x in mine] == [bot["bot_id"]]
    finally:
        assert s.stop() == 0
    assert user_token not in s.log_text() and bot_token not in s.log_text()


def test_demo_runs_the_seed_example(tmp_path):
    data = str(tmp_path / "data")
    s = Server(data, ["--demo"])
    s.start()
    try:
        demo = json.load(open(os.path.join(data, "demo.json")))
        assert s.wait_log(demo["bot_token"])  # printed on stdout for the user
        # The seed's curl example, only the base URL and token changed.
        r = requests.post(s.base + "/bot/sendmessage",
                          headers={"Authorization": "Bearer " + demo["bot_token"],
                                   "Content-Type": "application/json"},
                          data=json.dumps({"group_id": demo["group_id"],
                                           "message_type": "text",
                                           "content": "Hello, World!"}))
        assert r.status_code == 200 and r.json()["code"] == 200
        mid = r.json()["data"]["message_id"]
        api = Api(s)
        hist = api.ok("/app/history", demo["user_token"], {"group_id": demo["group_id"]})
        assert hist["messages"][0]["message_id"] == mid
        assert hist["messages"][0]["content"] == "Hello, World!"
    finally:
        assert s.stop() == 0
    # A second --demo start creates nothing new and prints the same tokens.
    s2 = Server(data, ["--demo"])
    s2.start()
    try:
        assert s2.wait_log(demo["bot_token"])
        assert Api(s2).ok("/bot/getme", demo["bot_token"])["username"] == "demo_bot"
    finally:
        assert s2.stop() == 0


def test_access_log_line_per_request(server, api):
    uid, tok = api.register()
    rid = "trace-" + uname()
    r = api.request("POST", "/app/me", token=tok, headers={"X-Request-Id": rid})
    assert r.headers["X-Request-Id"] == rid
    line = server.wait_log(rid)
    assert line is not None
    parts = line.split()
    # time level request_id method path status ms bytes caller
    assert parts[1:6] == ["info", rid, "POST", "/app/me", "200"]
    assert parts[-1] == uid
    assert tok not in line


def test_healthz(api):
    r = requests.get(api.url("/healthz"))
    assert r.status_code == 200 and r.json()["data"]["status"] == "ok"
    r = requests.post(api.url("/healthz"))
    assert r.status_code == 405 and "GET" in r.headers["Allow"]


def test_content_length_with_transfer_encoding_is_refused(api, world):
    import socket
    from urllib.parse import urlparse
    u = urlparse(api.base)
    body = json.dumps({"group_id": world.group, "message_type": "text",
                       "content": "smuggled"}).encode()
    chunked = b"%x\r\n%s\r\n0\r\n\r\n" % (len(body), body)
    req = (b"POST /bot/sendmessage HTTP/1.1\r\nHost: x\r\n"
           b"Authorization: Bearer " + world.bot.token.encode() + b"\r\n"
           b"Content-Type: application/json\r\n"
           b"Content-Length: 5\r\nTransfer-Encoding: chunked\r\n"
           b"Connection: close\r\n\r\n" + chunked)
    with socket.create_connection((u.hostname, u.port), timeout=10) as s:
        s.sendall(req)
        data = b""
        while True:
            part = s.recv(65536)
            if not part:
                break
            data += part
    head, _, payload = data.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 400"), head
    assert b"Content-Length or Transfer-Encoding" in payload
    assert all(m.get("content") != "smuggled"
               for m in api.history(world.owner.token, world.group))


def test_percent_00_in_the_path_is_refused(api, world):
    r = api.request("POST", "/bot/getme%00", token=world.bot.token)
    assert r.status_code == 400 and r.json()["code"] == 400
