"""libbink under bad input (issue 5, "Bad input"), driven through the bink CLI:
a server that is down, non-JSON and truncated answers, error envelopes
surfaced unchanged, 429 with retry_after, forged webhook deliveries, unknown
event types, upload paths that do not exist. A crash shows as a negative
exit status (a signal) or a sanitizer report; every case wants 1 or 2."""
import base64
import hashlib
import hmac
import json
import os
import time

import pytest
import requests

from conftest import Server
from sdk_support import BINK_CLI, FakeServer, Proc, assert_no_token, clean_env, free_port, \
    run_cli

TOKEN = "b1.fake-token-for-tests"


def no_crash(p):
    assert p.returncode in (1, 2), f"exit {p.returncode}\n{p.stdout}\n{p.stderr}"
    assert "Sanitizer" not in p.stderr and "runtime error" not in p.stderr, p.stderr


def test_server_down_is_a_transport_error_with_the_cause():
    port = free_port()  # nothing listens there any more
    p = run_cli(["getme"], url=f"http://127.0.0.1:{port}", token=TOKEN)
    no_crash(p)
    assert p.returncode == 1
    assert "cannot reach the server" in p.stderr
    assert "onnect" in p.stderr  # "Couldn't connect" / "Connection refused"
    assert_no_token(p, TOKEN)


def test_unresolvable_host():
    p = run_cli(["getme"], url="http://no-such-host.invalid", token=TOKEN)
    no_crash(p)
    assert p.returncode == 1 and "cannot reach the server" in p.stderr


@pytest.mark.parametrize("body", [
    b"<html><body>502 Bad Gateway</body></html>",
    b'{"code":200,"msg":"ok","data":{"bot_id":',     # truncated JSON
    b"",
    b"[1,2,3]",
    b'{"msg":"no code"}',
    b'{"code":"200","msg":"ok","data":null}',
    b"\xff\xfe\x00garbage",
])
def test_non_json_or_malformed_answer(body):
    with FakeServer([(200, {"Content-Type": "application/json"}, body, "normal")]) as fake:
        p = run_cli(["getme"], url=fake.url, token=TOKEN)
    no_crash(p)
    assert p.returncode == 1
    assert "protocol error" in p.stderr, p.stderr


def test_truncated_transfer_and_closed_connection():
    with FakeServer([(200, {}, b'{"code":200,', "short")]) as fake:
        p = run_cli(["getme"], url=fake.url, token=TOKEN)
    no_crash(p)
    assert p.returncode == 1 and ("truncated" in p.stderr or "protocol" in p.stderr), p.stderr
    with FakeServer([(200, {}, b"", "close")]) as fake:
        p = run_cli(["getme"], url=fake.url, token=TOKEN)
    no_crash(p)
    assert p.returncode == 1


def test_wrong_shape_of_data_is_a_protocol_error():
    body = json.dumps({"code": 200, "msg": "ok", "data": {"file_id": 12}}).encode()
    with FakeServer([(200, {}, body, "normal")]) as fake:
        p = run_cli(["upload", BINK_CLI], url=fake.url, token=TOKEN)
    no_crash(p)
    assert p.returncode == 1 and "file_id" in p.stderr


def test_the_request_is_what_the_api_wants():
    body = json.dumps({"code": 200, "msg": "ok", "data": {"message_id": "msg_1"}}).encode()
    with FakeServer([(200, {}, body, "normal")]) as fake:
        p = run_cli(["send", "--group", "group_1", "hi", "--button", "A=a"], url=fake.url,
                    token=TOKEN)
        assert p.returncode == 0, p.stderr
        method, path, headers, sent = fake.requests[0]
    assert (method, path) == ("POST", "/bot/sendmessage")
    assert headers["Authorization"] == "Bearer " + TOKEN
    assert headers["Content-Type"].startswith("application/json")
    assert json.loads(sent) == {"group_id": "group_1", "message_type": "text", "content": "hi",
                                "extra": {"inline_keyboard": [[{"text": "A",
                                                                "callback_data": "a"}]]}}


def test_error_envelope_is_surfaced_unchanged(api, world):
    gid = "group_0000000000000000"
    status, body = api.call("/bot/getgroup", world.bot.token, {"group_id": gid})
    p = run_cli(["group", gid], url=api.base, token=world.bot.token)
    assert p.returncode == 1
    assert p.stderr.splitlines()[0] == f"bink: error {body['code']}: {body['msg']}"
    # from a fake server too, whatever the text
    env = {"code": 418, "msg": "I'm a teapot: naïve «quotes» 👍", "data": None}
    with FakeServer([(418, {}, json.dumps(env).encode(), "normal")]) as fake:
        p = run_cli(["getme"], url=fake.url, token=TOKEN)
    assert p.returncode == 1
    assert p.stderr.splitlines()[0] == "bink: error 418: " + env["msg"]


def _429(retry_after):
    return (429, {"Retry-After": str(retry_after)},
            json.dumps({"code": 429, "msg": "too many requests",
                        "data": {"retry_after": retry_after}}).encode(), "normal")


ME = (200, {}, json.dumps({"code": 200, "msg": "ok", "data": {"bot_id": "bot_1"}}).encode(),
      "normal")


def test_429_is_returned_with_retry_after():
    with FakeServer([_429(2)]) as fake:
        p = run_cli(["getme"], url=fake.url, token=TOKEN)
    assert p.returncode == 1
    assert "error 429: too many requests" in p.stderr and "retry after 2 s" in p.stderr


def test_429_is_retried_after_retry_after_when_asked():
    with FakeServer([_429(1), ME]) as fake:
        t0 = time.monotonic()
        p = run_cli(["--retry", "2", "--json", "getme"], url=fake.url, token=TOKEN)
        took = time.monotonic() - t0
        assert len(fake.requests) == 2
    assert p.returncode == 0, p.stderr
    assert json.loads(p.stdout)["bot_id"] == "bot_1"
    assert took >= 0.9, f"retried after {took:.2f}s, before retry_after"


def test_429_retries_are_bounded():
    with FakeServer([_429(1)]) as fake:
        p = run_cli(["--retry", "1", "getme"], url=fake.url, token=TOKEN)
        assert len(fake.requests) == 2
    assert p.returncode == 1 and "error 429" in p.stderr


def test_429_from_a_rate_limited_binkd(tmp_path):
    s = Server(str(tmp_path / "data"), ["--rate-limit", "1", "--demo"]).start()
    try:
        demo = json.load(open(os.path.join(s.data_dir, "demo.json")))
        tok = demo["bot_token"]
        results = [run_cli(["getme"], url=s.base, token=tok) for _ in range(5)]
        limited = [p for p in results if p.returncode != 0]
        assert limited, "five quick calls at 1/s were never limited"
        for p in limited:
            assert p.returncode == 1 and "error 429" in p.stderr and "retry after" in p.stderr
        for _ in range(4):
            p = run_cli(["--retry", "5", "getme"], url=s.base, token=tok)
            assert p.returncode == 0, p.stderr
    finally:
        assert s.stop() == 0


def test_upload_path_that_does_not_exist(tmp_path):
    with FakeServer([ME]) as fake:
        p = run_cli(["upload", str(tmp_path / "missing.png")], url=fake.url, token=TOKEN)
        assert fake.requests == []  # nothing was sent
    no_crash(p)
    assert p.returncode == 1 and "missing.png" in p.stderr and "No such file" in p.stderr


# --------------------------------------------------------------------------
# the webhook receiver (bink webhook listen) and forged deliveries
# --------------------------------------------------------------------------
SECRET = "whsec_" + base64.b64encode(b"k" * 32).decode()


def sign(secret, wid, ts, body):
    key = base64.b64decode(secret[6:]) if secret.startswith("whsec_") else secret.encode()
    mac = hmac.new(key, f"{wid}.{ts}.".encode() + body, hashlib.sha256).digest()
    return "v1," + base64.b64encode(mac).decode()


EVENT = json.dumps({"event_type": "private_message", "update_id": 5, "message_id": "msg_1",
                    "sender_id": "user_1", "content": "hi"}).encode()


@pytest.fixture
def listener():
    lp = Proc([BINK_CLI, "webhook", "listen", "--port", "0", "--secret", SECRET], clean_env())
    line = lp.wait_line("listening on http://127.0.0.1:")
    lp.base = line.split("listening on ")[1].strip()
    yield lp
    assert lp.stop() == 0, lp.text()
    assert "Sanitizer" not in "\n".join(lp.err)


def post(base, body, wid="evt_bot_1", ts=None, sig=None, drop=()):
    ts = str(int(time.time())) if ts is None else ts
    headers = {"webhook-id": wid, "webhook-timestamp": ts,
               "webhook-signature": sig if sig is not None else sign(SECRET, wid, ts, body),
               "Content-Type": "application/json"}
    for h in drop:
        del headers[h]
    return requests.post(base + "/", data=body, headers=headers, timeout=10)


def test_listen_accepts_a_good_delivery(listener):
    assert post(listener.base, EVENT).status_code == 200
    out = listener.wait_line('"msg_1"', stream="out")
    assert json.loads(out)["update_id"] == 5


def test_listen_refuses_a_wrong_signature(listener):
    r = post(listener.base, EVENT, sig=sign("0123456789abcdefXYZ", "evt_bot_1",
                                            str(int(time.time())), EVENT))
    assert r.status_code == 401
    listener.wait_line("signature mismatch")
    # the body was changed after signing
    ts = str(int(time.time()))
    r = post(listener.base, EVENT + b" ", ts=ts, sig=sign(SECRET, "evt_bot_1", ts, EVENT))
    assert r.status_code == 401
    assert listener.lines("out") == []


def test_listen_refuses_a_stale_timestamp(listener):
    ts = str(int(time.time()) - 600)
    r = post(listener.base, EVENT, ts=ts)  # correctly signed, but 10 minutes old
    assert r.status_code == 401
    listener.wait_line("timestamp outside tolerance")
    ts = str(int(time.time()) + 600)
    assert post(listener.base, EVENT, ts=ts).status_code == 401
    assert listener.lines("out") == []


@pytest.mark.parametrize("header", ["webhook-id", "webhook-timestamp", "webhook-signature"])
def test_listen_refuses_a_missing_header(listener, header):
    r = post(listener.base, EVENT, drop=(header,))
    assert r.status_code == 400
    listener.wait_line("missing or malformed header")
    assert listener.lines("out") == []


def test_listen_flags_an_unknown_event_type(listener):
    body = json.dumps({"event_type": "message_reaction", "update_id": 9,
                       "emoji": "👍"}).encode()
    assert post(listener.base, body).status_code == 200
    out = listener.wait_line("message_reaction", stream="out")
    assert json.loads(out)["emoji"] == "👍"
    listener.wait_line("unknown event_type 'message_reaction'")


@pytest.mark.parametrize("body", [b"not json", b"[]", b'{"update_id": 1}', b"",
                                  b'{"event_type": 5}'])
def test_listen_refuses_a_signed_body_that_is_not_an_event(listener, body):
    assert post(listener.base, body).status_code == 400
    assert listener.lines("out") == []
