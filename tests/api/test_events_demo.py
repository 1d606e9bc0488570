"""Events (issue 4) "Done when": the seed's whole flow against `binkd --demo`.

alice writes /start privately to demo_bot; the bot hears private_message with the
seed's fields and replies with target_user_id; it sends the confirm/cancel keyboard to
the Demo group; alice clicks 确认 with clickbutton wait; the bot hears callback_query,
calls answercallback and editmessage with an empty keyboard (as the seed's Flask
example does, inside its webhook handler); alice's click returns the answer and the
history shows the edit. Once with a webhook, once with getupdates.
"""
import json
import os
import re
import threading
import time

import requests

from conftest import Api
from receiver import (SEED_KEYS, Poller, Receiver, check_event_shape, running, set_webhook,
                      signature_valid)

SECRET = "demo-bot-secret-0123456789"


def _demo(data_dir):
    with open(os.path.join(data_dir, "demo.json"), encoding="utf-8") as f:
        d = json.load(f)
    for k in ("user_id", "user_token", "bot_id", "bot_token", "group_id"):
        assert isinstance(d.get(k), str) and d[k], f"demo.json lacks {k}: {d}"
    return d


class Bot:
    """The seed's bot, talking to binkd with plain requests as its examples do."""

    def __init__(self, base, token):
        self.base, self.token = base, token

    def post(self, path, payload):
        r = requests.post(f"{self.base}{path}", json=payload, timeout=15,
                          headers={"Authorization": f"Bearer {self.token}",
                                   "Content-Type": "application/json"})
        body = r.json()
        assert r.status_code == 200 and body["code"] == 200, f"{path} -> {body}"
        return body["data"]

    def on_event(self, event, log):
        """The seed's handlers (Express for /start, Flask for buttons)."""
        if event.get("event_type") == "private_message" and event.get("content") == "/start":
            log["reply"] = self.post("/bot/sendmessage", {
                "target_user_id": event["sender_id"], "message_type": "text",
                "content": "欢迎使用"})
        elif event.get("event_type") == "callback_query":
            if event["callback_data"] == "confirm":
                log["answer"] = self.post("/bot/answercallback", {
                    "callback_id": event["callback_id"], "text": "已确认",
                    "show_alert": False})
                log["edit"] = self.post("/bot/editmessage", {
                    "message_id": event["message_id"], "content": "已确认",
                    "extra": {"inline_keyboard": []}})
            elif event["callback_data"] == "cancel":
                log["answer"] = self.post("/bot/answercallback", {
                    "callback_id": event["callback_id"], "text": "已取消",
                    "show_alert": False})

    def send_buttons(self, group_id):
        return self.post("/bot/sendmessage", {
            "group_id": group_id, "message_type": "text", "content": "请选择:",
            "extra": {"inline_keyboard": [[{"text": "确认", "callback_data": "confirm"},
                                           {"text": "取消", "callback_data": "cancel"}]]}})


def _check_private_message(ev, demo, msg):
    check_event_shape(ev)
    seed = {k: ev[k] for k in SEED_KEYS}
    assert seed == {
        "event_type": "private_message", "message_id": msg["message_id"],
        "sender_id": demo["user_id"], "sender_username": "alice",
        "sender_display_name": seed["sender_display_name"], "group_id": "",
        "group_username": "", "group_title": "", "message_type": "text",
        "content": "/start", "timestamp": msg["timestamp"], "callback_id": "",
        "callback_data": ""}
    assert seed["sender_display_name"], ev


def _check_callback_query(ev, demo, kb, callback_id):
    check_event_shape(ev)
    assert ev["event_type"] == "callback_query"
    assert ev["message_id"] == kb["message_id"]
    assert ev["sender_id"] == demo["user_id"] and ev["sender_username"] == "alice"
    assert ev["sender_display_name"]
    assert ev["group_id"] == demo["group_id"] and ev["group_title"] == "Demo"
    assert ev["message_type"] == "callback" and ev["content"] == "confirm"
    assert ev["callback_id"] == callback_id
    assert re.fullmatch(rf"cb_{re.escape(demo['user_id'])}_\S+", callback_id)
    assert ev["callback_data"] == "confirm"
    assert abs(ev["timestamp"] - time.time()) < 10


def _alice_clicks_confirm(api, demo, kb_id, out):
    """alice finds the 确认 button on the message in her history and clicks it."""
    msgs = api.history(demo["user_token"], group_id=demo["group_id"])
    m = next(x for x in msgs if x["message_id"] == kb_id)
    btn = next(b for row in m["extra"]["inline_keyboard"] for b in row if b["text"] == "确认")
    out["click"] = api.call("/app/clickbutton", demo["user_token"],
                            {"message_id": kb_id, "callback_data": btn["callback_data"],
                             "wait": 10})
    out["click_at"] = time.monotonic()


def _check_end_state(api, demo, kb, reply):
    # the reply to /start reached alice's private chat with the bot
    priv = api.history(demo["user_token"], peer_id=demo["bot_id"])
    assert any(m["message_id"] == reply["message_id"] and m["content"] == "欢迎使用"
               and m["sender_id"] == demo["bot_id"] for m in priv), priv
    assert reply["target_user_id"] == demo["user_id"]
    # the keyboard message shows the edit
    m = api.find(demo["user_token"], kb["message_id"], group_id=demo["group_id"])
    assert m is not None
    assert m["content"] == "已确认" and m["extra"]["inline_keyboard"] == []
    assert m["edited_at"] > 0


def test_seed_flow_with_webhook(tmp_path):
    data = str(tmp_path / "data")
    with running(data, "--demo") as s:
        api = Api(s)
        demo = _demo(data)
        bot = Bot(s.base, demo["bot_token"])
        log = {}

        def respond(hit):
            assert signature_valid(hit, SECRET), f"bad signature on {hit}"
            bot.on_event(hit.event, log)
            return 200

        with Receiver(respond) as rcv:
            set_webhook(api, demo["bot_token"], rcv.url, secret=SECRET)
            msg = api.app_send(demo["user_token"], "/start", target_user_id=demo["bot_id"])
            h = rcv.wait_content("/start", timeout=10)
            _check_private_message(h.event, demo, msg)
            assert h.headers["x-bink-event"] == "private_message"
            assert "reply" in log, f"the bot did not reply: {rcv.errors}"

            kb = bot.send_buttons(demo["group_id"])
            out = {}
            _alice_clicks_confirm(api, demo, kb["message_id"], out)
            status, body = out["click"]
            assert status == 200, body
            assert body["data"]["answer"] == {"text": "已确认", "show_alert": False, "url": ""}
            cq = rcv.wait(lambda hs: next((x for x in hs if x.acked and x.event and
                                           x.event["event_type"] == "callback_query"), None),
                          10, "the callback_query")
            _check_callback_query(cq.event, demo, kb, body["data"]["callback_id"])
            assert cq.headers["x-bink-event"] == "callback_query"
            assert not rcv.errors, rcv.errors
            assert log["answer"]["callback_id"] == body["data"]["callback_id"]
            assert log["edit"]["extra"]["inline_keyboard"] == []
            _check_end_state(api, demo, kb, log["reply"])
            # every delivery was signed; no event went twice
            hits = rcv.snapshot()
            assert len({x.wid for x in hits}) == len(hits), hits
        api.ok("/bot/deletewebhook", demo["bot_token"], {})


def test_seed_flow_with_getupdates(tmp_path):
    data = str(tmp_path / "data")
    with running(data, "--demo") as s:
        api = Api(s)
        demo = _demo(data)
        bot = Bot(s.base, demo["bot_token"])
        log = {}
        p = Poller(api, demo["bot_token"])
        joined = p.take(1)
        assert joined[0]["event_type"] == "member_joined"
        assert joined[0]["sender_id"] == demo["bot_id"]
        assert joined[0]["inviter_id"] == demo["user_id"]

        msg = api.app_send(demo["user_token"], "/start", target_user_id=demo["bot_id"])
        [ev] = p.take(1)
        _check_private_message(ev, demo, msg)
        bot.on_event(ev, log)

        kb = bot.send_buttons(demo["group_id"])
        out = {}
        clicker = threading.Thread(target=_alice_clicks_confirm,
                                   args=(api, demo, kb["message_id"], out), daemon=True)
        clicker.start()
        [cq] = p.take(1, timeout=10)
        assert "click" not in out, "the click returned before the bot answered"
        bot.on_event(cq, log)
        clicker.join(timeout=10)
        status, body = out["click"]
        assert status == 200, body
        assert body["data"]["answer"] == {"text": "已确认", "show_alert": False, "url": ""}
        _check_callback_query(cq, demo, kb, body["data"]["callback_id"])
        _check_end_state(api, demo, kb, log["reply"])
        assert [e["update_id"] for e in joined + [ev, cq]] == [1, 2, 3]


def test_demo_is_created_once(tmp_path):
    data = str(tmp_path / "data")
    with running(data, "--demo"):
        first = _demo(data)
    with running(data, "--demo") as s:
        again = _demo(data)
        assert again == first
        api = Api(s)
        # the same bot, and its event history was not replayed
        assert api.ok("/bot/getme", first["bot_token"], {})["bot_id"] == first["bot_id"]
        evs = api.ok("/bot/getupdates", first["bot_token"], {})
        assert [e["event_type"] for e in evs] == ["member_joined"]
