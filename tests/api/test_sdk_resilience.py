"""libbink and the bink CLI after the QA review of issue 5: downloads that
never clobber an existing file, polling that rides out a graceful binkd
restart (503) and transport errors, `webhook listen --max` refusing (503)
what it will not print, 405 after reading a body, allowed_events kept or
reset explicitly, usage errors for arguments the API cannot take, escaped
control characters, and no password from --url in messages."""
import concurrent.futures
import json
import os
import socket
import time

import pytest
import requests

from conftest import Api, Server
from sdk_support import BINK_CLI, FakeServer, Proc, clean_env, example, free_port, run_cli, \
    wait_until

TOKEN = "b1.fake-token-for-tests"


def envelope(code, msg, data=None):
    return json.dumps({"code": code, "msg": msg, "data": data}).encode()


def event(update_id, text):
    return {"update_id": update_id, "event_type": "private_message",
            "message_id": f"msg_{update_id}", "sender_id": "user_1", "content": text,
            "timestamp": 1700000000}


# --------------------------------------------------------------------------
# D1: downloads go to a temporary file, renamed over the target on success
# --------------------------------------------------------------------------
def test_failed_download_leaves_an_existing_file_untouched(api, world, tmp_path):
    keep = tmp_path / "keep.txt"
    keep.write_bytes(b"precious")
    p = run_cli(["file", "file_0000000000000000", "--output", str(keep)], url=api.base,
                token=world.bot.token)
    assert p.returncode == 1 and "error 404" in p.stderr, p.stderr
    assert keep.read_bytes() == b"precious"
    assert os.listdir(tmp_path) == ["keep.txt"]  # no temporary file left behind


def test_truncated_download_leaves_an_existing_file_untouched(tmp_path):
    keep = tmp_path / "keep.txt"
    keep.write_bytes(b"precious")
    with FakeServer([(200, {"Content-Type": "application/octet-stream"}, b"partial",
                      "short")]) as fake:
        p = run_cli(["file", "file_1", "--output", str(keep)], url=fake.url, token=TOKEN)
    assert p.returncode == 1, p.stderr
    assert keep.read_bytes() == b"precious"
    assert os.listdir(tmp_path) == ["keep.txt"]


def test_successful_download_replaces_the_file_and_keeps_its_mode(api, world, tmp_path):
    src = tmp_path / "src.txt"
    src.write_bytes(b"new content\n")
    fid = run_cli(["upload", str(src)], url=api.base, token=world.bot.token).stdout.strip()
    assert fid.startswith("file_")
    out = tmp_path / "out.txt"
    out.write_bytes(b"old content that is longer than the new one\n")
    os.chmod(out, 0o640)
    p = run_cli(["file", fid, "--output", str(out)], url=api.base, token=world.bot.token)
    assert p.returncode == 0, p.stderr
    assert out.read_bytes() == b"new content\n"
    assert os.stat(out).st_mode & 0o777 == 0o640
    assert sorted(os.listdir(tmp_path)) == ["out.txt", "src.txt"]
    # a symbolic link is followed: the file it names is replaced, the link kept
    link = tmp_path / "link.txt"
    link.symlink_to(out)
    out.write_bytes(b"x")
    p = run_cli(["file", fid, "--output", str(link)], url=api.base, token=world.bot.token)
    assert p.returncode == 0, p.stderr
    assert link.is_symlink() and out.read_bytes() == b"new content\n"
    # /dev/null is written to, not replaced
    p = run_cli(["file", fid, "--output", "/dev/null"], url=api.base, token=world.bot.token)
    assert p.returncode == 0, p.stderr


# --------------------------------------------------------------------------
# D2: polling survives 503 and transport errors
# --------------------------------------------------------------------------
def test_follow_retries_503_and_a_closed_connection():
    answers = [
        (503, {"Content-Type": "application/json"},
         envelope(503, "the server is shutting down"), "normal"),
        (200, {}, b"", "close"),
        (200, {"Content-Type": "application/json"},
         envelope(200, "ok", [event(7, "after the restart")]), "normal"),
        (200, {"Content-Type": "application/json"}, envelope(200, "ok", []), "normal"),
    ]
    with FakeServer(answers) as fake:
        p = run_cli(["updates", "--follow", "--max", "1", "--wait", "1"], url=fake.url,
                    token=TOKEN, timeout=60)
        polls = [r for r in fake.requests if r[1] == "/bot/getupdates"]
    assert p.returncode == 0, p.stderr
    assert json.loads(p.stdout.strip())["content"] == "after the restart"
    assert len(polls) >= 3
    # the one-shot form does not retry: the 503 is reported
    with FakeServer([answers[0]]) as fake:
        p = run_cli(["updates"], url=fake.url, token=TOKEN)
    assert p.returncode == 1 and "error 503" in p.stderr


def _start_binkd(data_dir, port):
    return Server(data_dir, ["--demo", "--listen", f"127.0.0.1:{port}"]).start()


def test_follow_survives_a_graceful_binkd_restart(tmp_path):
    port = free_port()
    data = str(tmp_path / "data")
    s = _start_binkd(data, port)
    demo = json.load(open(os.path.join(data, "demo.json")))
    follow = Proc([BINK_CLI, "updates", "--follow", "--wait", "2"],
                  clean_env(s.base, demo["bot_token"]))
    try:
        time.sleep(1.0)  # a long poll is in progress
        assert s.stop() == 0
        time.sleep(1.5)  # the poller sees 503 and/or refused connections
        assert follow.proc.poll() is None, "bink updates --follow gave up:\n" + follow.text()
        s = _start_binkd(data, port)
        sent = Api(s).app_send(demo["user_token"], "after the restart",
                               target_user_id=demo["bot_id"])
        line = wait_until(lambda: [ln for ln in follow.lines("out")
                                   if sent["message_id"] in ln], timeout=45,
                          what="the event after the restart")[0]
        assert json.loads(line)["content"] == "after the restart"
    finally:
        rc = follow.stop()
        assert s.stop() == 0
    assert rc == 0, follow.text()


# --------------------------------------------------------------------------
# D3, D5: webhook listen
# --------------------------------------------------------------------------
def _deliver(base, n):
    body = json.dumps({"event_type": "private_message", "update_id": n,
                       "message_id": f"msg_{n}", "content": f"event {n}"}).encode()
    try:
        return requests.post(base + "/", data=body, timeout=10).status_code
    except requests.ConnectionError:
        return "closed"


def test_listen_max_refuses_what_it_does_not_print():
    lp = Proc([BINK_CLI, "webhook", "listen", "--port", "0", "--max", "2"], clean_env())
    base = lp.wait_line("listening on http://127.0.0.1:").split("listening on ")[1].strip()
    with concurrent.futures.ThreadPoolExecutor(8) as ex:
        codes = list(ex.map(lambda n: _deliver(base, n), range(8)))
    assert lp.stop() == 0, lp.text()
    printed = [json.loads(ln) for ln in lp.out]
    assert len(printed) == 2, lp.text()
    # every 200 was printed; the others were refused (503) or never answered
    assert codes.count(200) == 2, codes
    assert all(c in (200, 503, "closed") for c in codes), codes


def test_listen_max_answers_503_after_the_limit():
    lp = Proc([BINK_CLI, "webhook", "listen", "--port", "0", "--max", "1"], clean_env())
    base = lp.wait_line("listening on http://127.0.0.1:").split("listening on ")[1].strip()
    port = int(base.rsplit(":", 1)[1])
    body = b'{"event_type":"private_message","update_id":2,"message_id":"msg_2"}'
    # the second delivery is under way (headers and part of the body sent)
    # when the first one is answered
    s2 = socket.create_connection(("127.0.0.1", port), timeout=10)
    s2.sendall(b"POST / HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
               b"Content-Length: %d\r\n\r\n" % len(body) + body[:10])
    time.sleep(0.2)
    assert _deliver(base, 1) == 200
    try:
        s2.sendall(body[10:])
        answer = s2.recv(4096)
    except OSError:
        answer = b""
    s2.close()
    assert lp.stop() == 0, lp.text()
    assert not answer.startswith(b"HTTP/1.1 200"), answer
    assert len(lp.out) == 1 and json.loads(lp.out[0])["update_id"] == 1, lp.text()


def test_listen_405_after_reading_the_body():
    lp = Proc([BINK_CLI, "webhook", "listen", "--port", "0"], clean_env())
    try:
        base = lp.wait_line("listening on http://127.0.0.1:").split("listening on ")[1].strip()
        with requests.Session() as sess:
            for method in ("PUT", "PATCH", "DELETE"):
                r = sess.request(method, base + "/", data=b"x" * 5000, timeout=10)
                assert r.status_code == 405, (method, r.status_code)
            r = sess.get(base + "/", timeout=10)
            assert r.status_code == 405
            # the connection is still usable for a delivery
            r = sess.post(base + "/", data=b'{"event_type":"private_message"}', timeout=10)
            assert r.status_code == 200
    finally:
        assert lp.stop() == 0, lp.text()


def test_listen_escapes_control_characters_in_headers():
    secret = "0123456789abcdefXYZ"
    lp = Proc([BINK_CLI, "webhook", "listen", "--port", "0", "--secret", secret], clean_env())
    try:
        base = lp.wait_line("listening on http://127.0.0.1:").split("listening on ")[1].strip()
        r = requests.post(base + "/", data=b"{}", timeout=10,
                          headers={"webhook-id": "evt\x1b[2Jx", "webhook-timestamp": "1",
                                   "webhook-signature": "v1,AAAA"})
        assert r.status_code == 401
        line = lp.wait_line("refused a delivery")
    finally:
        assert lp.stop() == 0, lp.text()
    assert "\x1b" not in "\n".join(lp.err)
    assert "\\x1b[2Jx" in line


# --------------------------------------------------------------------------
# D4: allowed_events kept by NULL, reset by [], examples name theirs
# --------------------------------------------------------------------------
def test_allowed_events_are_kept_or_reset_explicitly(api, world):
    tok = world.bot.token

    def info():
        p = run_cli(["--json", "webhook", "info"], url=api.base, token=tok)
        assert p.returncode == 0, p.stderr
        return json.loads(p.stdout)["allowed_events"] or []

    assert run_cli(["updates", "--allowed-events", "member_joined"], url=api.base,
                   token=tok).returncode == 0
    assert info() == ["member_joined"]
    assert run_cli(["updates"], url=api.base, token=tok).returncode == 0
    assert info() == ["member_joined"]  # no option: the server keeps its list
    assert run_cli(["updates", "--allowed-events", ""], url=api.base,
                   token=tok).returncode == 0
    assert info() == []  # '' = all
    help_text = run_cli(["updates", "--help"]).stdout
    assert "remembers" in help_text and "all types" in help_text


def test_echo_bot_is_not_silenced_by_the_welcome_bots_filter(api, world):
    env = clean_env(api.base, world.bot.token)
    welcome = Proc([example("welcome_bot")], env)
    try:
        welcome.wait_line("running as @")
        time.sleep(0.5)  # its first getupdates stored ["member_joined"]
    finally:
        assert welcome.stop() == 0, welcome.text()
    echo = Proc([example("echo_bot")], env)
    try:
        echo.wait_line("running as @")

        def filter_now():
            p = run_cli(["--json", "webhook", "info"], url=api.base, token=world.bot.token)
            return sorted(json.loads(p.stdout)["allowed_events"] or [])
        # the filter applies when an event is produced: wait for echo_bot's own
        wait_until(lambda: filter_now() == ["group_message", "private_message"], timeout=10,
                   what="echo_bot's allowed_events")
        sent = api.app_send(world.owner.token, "still heard", target_user_id=world.bot.id)
        echo.wait_line("echoed " + sent["message_id"], timeout=20)
    finally:
        assert echo.stop() == 0, echo.text()


# --------------------------------------------------------------------------
# D6: usage errors, escaping, no password echoed
# --------------------------------------------------------------------------
BAD_UTF8 = os.fsdecode(b"caf\xe9")


@pytest.mark.parametrize("args", [
    ["send", "--group", "group_1", BAD_UTF8],
    ["send", "--group", BAD_UTF8, "hello"],
    ["send", "--group", "group_1", "--idempotency-key", "has space", "hello"],
    ["send", "--group", "group_1", "--idempotency-key", "k" * 129, "hello"],
    ["group", BAD_UTF8],
])
def test_arguments_the_api_cannot_take_are_usage_errors(args):
    with FakeServer([(200, {"Content-Type": "application/json"},
                      envelope(200, "ok", {}), "normal")]) as fake:
        p = run_cli(args, url=fake.url, token=TOKEN)
        assert not fake.requests, "a request was sent"
    assert p.returncode == 2, (p.returncode, p.stderr)
    assert "--help" in p.stderr


def test_server_text_is_escaped_on_the_terminal():
    msg = "bad \x1b[31mred\x1b[0m \x07 \u009b end"
    with FakeServer([(400, {"Content-Type": "application/json"}, envelope(400, msg),
                      "normal")]) as fake:
        p = run_cli(["getme"], url=fake.url, token=TOKEN)
    assert p.returncode == 1
    assert "\x1b" not in p.stderr and "\x07" not in p.stderr and "\u009b" not in p.stderr
    assert "error 400: bad \\x1b[31mred" in p.stderr, p.stderr
    data = {"bot_id": "bot_1", "username": "x\x1b]0;title\x07", "display_name": "ok"}
    with FakeServer([(200, {"Content-Type": "application/json"}, envelope(200, "ok", data),
                      "normal")]) as fake:
        p = run_cli(["getme"], url=fake.url, token=TOKEN)
    assert p.returncode == 0, p.stderr
    assert "\x1b" not in p.stdout and "username: x\\x1b]0;title\\x07" in p.stdout
    with FakeServer([(200, {"Content-Type": "application/json"}, envelope(200, "ok", data),
                      "normal")]) as fake:
        p = run_cli(["--json", "getme"], url=fake.url, token=TOKEN)
    assert "\x1b" not in p.stdout and json.loads(p.stdout)["username"] == data["username"]


def test_password_in_url_is_not_echoed():
    port = free_port()
    p = run_cli(["getme"], url=f"http://alice:s3cr3t-pw@127.0.0.1:{port}", token=TOKEN)
    assert p.returncode == 1
    assert "s3cr3t-pw" not in p.stderr and "cannot reach the server" in p.stderr
    assert f"http://127.0.0.1:{port}" in p.stderr, p.stderr
    p = run_cli(["--url", f"http://alice:s3cr3t-pw@127.0.0.1:{port}/x", "getme"], token=TOKEN)
    assert p.returncode == 1 and "s3cr3t-pw" not in p.stderr
