"""Cases from a review of the web sandbox: DNS rebinding, sign-out ending
open streams, webhook secrets that could not sign, the demo bot's menu."""
import json
import os
import threading

import requests

from conftest import Api, Server, assert_error, uname
from test_web import COOKIE, login, with_cookie


def test_a_foreign_host_name_cannot_sign_in_or_use_the_cookie(api):
    port = api.base.rsplit(":", 1)[1]
    evil = f"rebind.example:{port}"
    r = requests.post(api.url("/app/login"), json={"username": uname("w")},
                      headers={"Host": evil, "Origin": f"http://{evil}"}, timeout=10)
    assert r.status_code == 403 and r.json()["code"] == 403
    assert COOKIE not in r.cookies
    token, _, _ = login(api, uname("w"))
    r = with_cookie(api, "/app/me", token, headers={"Host": evil})
    assert r.json()["code"] == 403
    r = with_cookie(api, "/app/me", token, headers={"Host": f"localhost:{port}"})
    assert r.json()["code"] == 200


def test_signing_out_ends_the_open_event_stream(api):
    token, me, _ = login(api, uname("w"))
    other = api.user()
    got, ended = [], threading.Event()

    def read():
        with requests.get(api.url("/app/events"), headers={"Cookie": f"{COOKIE}={token}"},
                          stream=True, timeout=20) as r:
            for line in r.iter_lines(decode_unicode=True):
                got.append(line)
        ended.set()

    t = threading.Thread(target=read, daemon=True)
    t.start()
    # the stream is open once its first line ("retry:") arrives
    for _ in range(100):
        if got:
            break
        ended.wait(0.05)
    r = with_cookie(api, "/app/logout", token)
    assert r.json()["code"] == 200
    api.app_send(other.token, "after sign-out", target_user_id=me["user_id"])
    assert ended.wait(10), "the stream stayed open after sign-out"
    assert not any("after sign-out" in line for line in got), got


def test_updatebot_refuses_a_secret_that_cannot_sign(api):
    owner = api.user()
    bot = api.bot(owner)
    short = "whsec_MDEyMzQ1Njc4OWFiY2RlZg=="  # 16 bytes: whsec_ needs 24..64
    status, body = api.call("/app/updatebot", owner.token,
                            json={"bot_id": bot.id, "webhook_secret": short})
    assert_error(status, body, 400, "webhook_secret")
    assert api.ok("/app/mybots", owner.token)["bots"][0]["has_webhook_secret"] is False
    ok = api.ok("/app/updatebot", owner.token,
                json={"bot_id": bot.id, "webhook_secret": "a plain secret of 16+"})
    assert ok["has_webhook_secret"] is True


def test_demo_bot_has_a_command_menu(tmp_path):
    data = str(tmp_path / "data")
    s = Server(data, ["--demo"]).start()
    try:
        demo = json.load(open(os.path.join(data, "demo.json")))
        cmds = Api(s).ok("/app/commands", demo["user_token"],
                         {"bot_id": demo["bot_id"]})["commands"]
        assert [c["command"] for c in cmds] == ["start", "help"]
    finally:
        assert s.stop() == 0
