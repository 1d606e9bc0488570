"""The example bots of examples/ (built with the project) against a real
binkd: the echo bot (long polling), the button bot (webhook, confirm/cancel
as in the seed's Flask example) and the welcome bot (member_joined). Each
is stopped with SIGTERM and must exit 0 (and, in the sanitizer build,
without leaks)."""
import os

import pytest

from sdk_support import Proc, clean_env, example, wait_until


def start(name, api, bot, *args):
    path = example(name)
    if not os.access(path, os.X_OK):
        pytest.fail(f"example {path} not built (set $EXAMPLES_DIR)")
    return Proc([path, *args], clean_env(api.base, bot.token))


def stopped_cleanly(proc):
    rc = proc.stop()
    assert rc == 0, f"exit {rc}\n" + proc.text()
    assert any("bye" in ln for ln in proc.err), proc.text()
    assert not any("Sanitizer" in ln for ln in proc.err), proc.text()


def wait_message(api, token, pred, timeout=20, **where):
    def find():
        return [m for m in api.history(token, **where) if pred(m)]
    return wait_until(find, timeout=timeout, what="the bot's message")[0]


# --------------------------------------------------------------------------
# echo bot
# --------------------------------------------------------------------------
def test_echo_bot_private_and_group(api, world):
    bot = start("echo_bot", api, world.bot)
    try:
        bot.wait_line("running as @" + world.bot.username)
        sent = api.app_send(world.owner.token, "echo me, 你好 👍", target_user_id=world.bot.id)
        echo = wait_message(api, world.owner.token,
                            lambda m: m["sender_id"] == world.bot.id, peer_id=world.bot.id)
        assert echo["content"] == "echo me, 你好 👍"
        assert echo["chat_type"] == "private"
        bot.wait_line("echoed " + sent["message_id"])

        # in a group, only what is addressed to the bot, answered as a reply
        api.app_send(world.owner.token, "not for the bot", group_id=world.group)
        g = api.app_send(world.owner.token, f"@{world.bot.username} ping", group_id=world.group)
        reply = wait_message(api, world.owner.token,
                             lambda m: m["sender_id"] == world.bot.id
                             and m["message_type"] == "text", group_id=world.group)
        assert reply["content"] == f"@{world.bot.username} ping"
        assert reply["reply_to_id"] == g["message_id"]
        bot_msgs = [m for m in api.history(world.owner.token, group_id=world.group)
                    if m["sender_id"] == world.bot.id and m["message_type"] != "system"]
        assert len(bot_msgs) == 1
    finally:
        stopped_cleanly(bot)


def test_echo_bot_confirms_what_it_handled(api, world):
    bot = start("echo_bot", api, world.bot)
    try:
        sent = api.app_send(world.owner.token, "once", target_user_id=world.bot.id)
        bot.wait_line("echoed " + sent["message_id"])
    finally:
        stopped_cleanly(bot)
    # a second run does not echo it again
    bot = start("echo_bot", api, world.bot)
    try:
        bot.wait_line("running as @")
        second = api.app_send(world.owner.token, "twice", target_user_id=world.bot.id)
        bot.wait_line("echoed " + second["message_id"])
        assert not any(sent["message_id"] in ln for ln in bot.err), bot.text()
    finally:
        stopped_cleanly(bot)


# --------------------------------------------------------------------------
# button bot
# --------------------------------------------------------------------------
SECRET = "a-test-secret-of-32-characters!!"


def _click(api, token, message_id, data):
    return api.ok("/app/clickbutton", token,
                  {"message_id": message_id, "callback_data": data, "wait": 15})


@pytest.mark.parametrize("choice,answer", [("confirm", "Confirmed"), ("cancel", "Cancelled")])
def test_button_bot_confirm_cancel(api, world, choice, answer):
    bot = start("button_bot", api, world.bot, "--port", "0", "--secret", SECRET)
    try:
        bot.wait_line("webhook set to http://127.0.0.1:")
        info = api.ok("/bot/getwebhookinfo", world.bot.token)
        assert info["has_secret"] is True and info["url"].endswith("/webhook")
        api.app_send(world.owner.token, "/start", target_user_id=world.bot.id)
        question = wait_message(api, world.owner.token,
                                lambda m: m["sender_id"] == world.bot.id,
                                peer_id=world.bot.id)
        kb = question["extra"]["inline_keyboard"]
        assert [[b["callback_data"] for b in row] for row in kb] == [["confirm", "cancel"]]

        click = _click(api, world.owner.token, question["message_id"], choice)
        assert click["answer"] is not None, "the bot did not answer the click in time"
        assert click["answer"]["text"] == answer
        assert click["answer"]["show_alert"] is False

        edited = wait_message(api, world.owner.token,
                              lambda m: m["message_id"] == question["message_id"]
                              and m["edited_at"] > 0, peer_id=world.bot.id)
        assert edited["content"] == answer
        assert edited["extra"]["inline_keyboard"] == []
        bot.wait_line(f"{answer} {question['message_id']}")
    finally:
        stopped_cleanly(bot)
    # the bot removes its webhook when it stops
    assert api.ok("/bot/getwebhookinfo", world.bot.token)["url"] == ""


def test_button_bot_in_a_group(api, world):
    bot = start("button_bot", api, world.bot, "--port", "0", "--secret", SECRET)
    try:
        bot.wait_line("webhook set")
        api.app_send(world.owner.token, "/order", group_id=world.group)
        question = wait_message(api, world.owner.token,
                                lambda m: m["sender_id"] == world.bot.id
                                and m["extra"]["inline_keyboard"], group_id=world.group)
        click = _click(api, world.owner.token, question["message_id"], "confirm")
        assert click["answer"]["text"] == "Confirmed"
    finally:
        stopped_cleanly(bot)


def test_button_bot_refuses_unsigned_deliveries(api, world):
    import requests
    bot = start("button_bot", api, world.bot, "--port", "0", "--secret", SECRET)
    try:
        line = bot.wait_line("listening on http://127.0.0.1:")
        base = line.split("listening on ")[1].strip()
        r = requests.post(base + "/webhook", data=b'{"event_type":"private_message"}',
                          timeout=10)
        assert r.status_code == 401
        bot.wait_line("refused a delivery")
    finally:
        stopped_cleanly(bot)


# --------------------------------------------------------------------------
# welcome bot
# --------------------------------------------------------------------------
def test_welcome_bot_greets_newcomers_and_introduces_itself(api, world):
    bot = start("welcome_bot", api, world.bot)
    try:
        bot.wait_line("running as @")
        newcomer = api.user()
        api.addmember(world.owner.token, world.group, newcomer.id)
        title = api.ok("/app/getgroup", world.owner.token, {"group_id": world.group})["title"]
        greeting = wait_message(api, world.owner.token,
                                lambda m: m["sender_id"] == world.bot.id
                                and newcomer.username.title() in m["content"],
                                group_id=world.group)
        assert greeting["content"] == f"Welcome to {title}, {newcomer.username.title()}!"

        # added to another group, the bot introduces itself there
        other = api.creategroup(world.owner.token, title="Second room")
        api.addmember(world.owner.token, other, world.bot.id)
        intro = wait_message(api, world.owner.token,
                             lambda m: m["sender_id"] == world.bot.id
                             and m["message_type"] == "text", group_id=other)
        assert intro["content"].startswith("Hello Second room!")
    finally:
        stopped_cleanly(bot)
