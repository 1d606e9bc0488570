"""The bink command-line client (server.md, "bink") against a real binkd:
every subcommand, --json, BINK_URL/BINK_TOKEN, exit statuses, and that the
token is never printed."""
import json
import os
import subprocess
import time

import pytest
import requests

from sdk_support import PNG_1x1, Proc, assert_no_token, clean_env, run_cli, wait_until, \
    BINK_CLI

SUBCOMMANDS = ["getme", "send", "edit", "delete", "upload", "file", "answer", "commands",
               "mute", "unmute", "group", "updates", "webhook"]


def cli(world_or_bot, api, *args, ok=True, **kw):
    token = world_or_bot.token if hasattr(world_or_bot, "token") else world_or_bot
    p = run_cli(list(args), url=api.base, token=token, **kw)
    assert_no_token(p, token)
    if ok:
        assert p.returncode == 0, f"bink {args} -> {p.returncode}\n{p.stdout}\n{p.stderr}"
    return p


def one_json(p):
    lines = [ln for ln in p.stdout.splitlines() if ln.strip()]
    assert len(lines) == 1, p.stdout
    return json.loads(lines[0])


# --------------------------------------------------------------------------
# basics
# --------------------------------------------------------------------------
def test_getme_human_and_json(api, world):
    p = cli(world.bot, api, "getme")
    assert f"bot_id: {world.bot.id}" in p.stdout
    assert f"username: {world.bot.username}" in p.stdout
    d = one_json(cli(world.bot, api, "--json", "getme"))
    assert d["bot_id"] == world.bot.id
    # --json after the command works too
    assert one_json(cli(world.bot, api, "getme", "--json"))["bot_id"] == world.bot.id


def test_url_and_token_options_override_the_environment(api, world):
    p = run_cli(["--url", api.base, "--token", world.bot.token, "--json", "getme"],
                url="http://127.0.0.1:1", token="b1.wrong")
    assert p.returncode == 0, p.stderr
    assert_no_token(p, world.bot.token)
    assert json.loads(p.stdout)["bot_id"] == world.bot.id


def test_invalid_token_is_an_api_error_without_the_token(api):
    p = run_cli(["getme"], url=api.base, token="b1.not-a-real-token")
    assert p.returncode == 1
    assert "401" in p.stderr
    assert "b1.not-a-real-token" not in p.stderr + p.stdout


def test_missing_token_is_a_usage_error(api):
    p = run_cli(["getme"], url=api.base)
    assert p.returncode == 2
    assert "BINK_TOKEN" in p.stderr


@pytest.mark.parametrize("sub", SUBCOMMANDS)
def test_help_per_subcommand(sub):
    p = run_cli([sub, "--help"])
    assert p.returncode == 0, p.stderr
    assert p.stdout.startswith("Usage: bink " + sub), p.stdout


def test_global_help_and_version():
    p = run_cli(["--help"])
    assert p.returncode == 0 and "Commands:" in p.stdout
    for sub in SUBCOMMANDS:
        assert sub in p.stdout
    p = run_cli(["--version"])
    assert p.returncode == 0 and p.stdout.startswith("bink ")
    p = run_cli(["webhook", "listen", "--help"])
    assert p.returncode == 0 and "webhook listen" in p.stdout


@pytest.mark.parametrize("args", [
    [], ["frobnicate"], ["getme", "--bogus"], ["getme", "extra"], ["send", "hi"],
    ["send", "--group", "g", "--user", "u", "hi"], ["send", "--group", "g"],
    ["send", "--group", "g", "--image", "a.png", "--sticker", "s"],
    ["send", "--group", "g", "--button", "novalue", "hi"], ["edit"], ["edit", "msg_1"],
    ["delete"], ["upload"], ["answer"], ["commands"], ["commands", "list"],
    ["commands", "set", "broken"], ["mute", "--group", "g"], ["group"],
    ["updates", "--limit", "500"], ["webhook"], ["webhook", "set"], ["webhook", "frob"],
    ["webhook", "listen"], ["webhook", "listen", "--port", "99999"],
    ["webhook", "listen", "--port", "0", "--secret", "short"], ["--retry", "x", "getme"],
    ["--url"],
])
def test_usage_errors_exit_2(args):
    p = run_cli(args, url="http://127.0.0.1:1", token="b1.x")
    assert p.returncode == 2, f"{args}: {p.returncode} {p.stderr}"
    assert p.stderr.startswith("bink: "), p.stderr
    assert p.stdout == ""


# --------------------------------------------------------------------------
# messages
# --------------------------------------------------------------------------
def test_send_text_to_group(api, world):
    p = cli(world.bot, api, "send", "--group", world.group, "hello from the CLI")
    mid = p.stdout.strip()
    assert mid.startswith("msg_")
    m = api.find(world.owner.token, mid, group_id=world.group)
    assert m["content"] == "hello from the CLI" and m["sender_id"] == world.bot.id


def test_send_json_with_buttons_and_rows(api, world):
    p = cli(world.bot, api, "--json", "send", "--group", world.group, "--text", "pick",
            "--button", "Yes=yes", "--button", "No=no", "--row",
            "--button", "Docs=https://example.com/doc?a=b")
    m = one_json(p)
    assert m["content"] == "pick"
    assert m["extra"]["inline_keyboard"] == [
        [{"text": "Yes", "callback_data": "yes"}, {"text": "No", "callback_data": "no"}],
        [{"text": "Docs", "url": "https://example.com/doc?a=b"}]]


def test_send_image_uploads_and_sends_in_one_command(api, world, tmp_path):
    photo = tmp_path / "photo.png"
    photo.write_bytes(PNG_1x1)
    p = cli(world.bot, api, "send", "--group", world.group, "--image", str(photo), "caption")
    mid = p.stdout.strip()
    m = api.find(world.owner.token, mid, group_id=world.group)
    assert m["message_type"] == "image"
    assert m["content"] == "caption"
    assert m["file_id"].startswith("file_")
    assert m["file"]["file_name"] == "photo.png"
    assert m["file"]["mime_type"] == "image/png"


def test_send_file_private_reply_and_quote(api, world, tmp_path):
    # the owner writes to the bot first, so the bot may answer privately
    first = api.app_send(world.owner.token, "hi bot", target_user_id=world.bot.id)
    doc = tmp_path / "notes.txt"
    doc.write_text("some notes\n")
    m = one_json(cli(world.bot, api, "--json", "send", "--user", world.owner.id,
                     "--file", str(doc), "--reply-to", first["message_id"],
                     "--quote", first["message_id"]))
    assert m["chat_type"] == "private" and m["message_type"] == "file"
    assert m["reply_to_id"] == first["message_id"]
    assert m["quote"]["message_id"] == first["message_id"]


def test_send_contact(api, world):
    m = one_json(cli(world.bot, api, "--json", "send", "--group", world.group,
                     "--contact", world.owner.id))
    assert m["message_type"] == "contact" and m["contact"]["user_id"] == world.owner.id


def test_send_idempotency_key(api, world):
    a = cli(world.bot, api, "send", "--group", world.group, "once", "--idempotency-key", "k-1")
    b = cli(world.bot, api, "send", "--group", world.group, "once", "--idempotency-key", "k-1")
    assert a.stdout == b.stdout


def test_send_api_error_is_exit_1_with_code_and_msg(api, world):
    other = api.creategroup(world.owner.token)   # the bot is not a member
    p = cli(world.bot, api, "send", "--group", other, "hi", ok=False)
    assert p.returncode == 1
    assert p.stderr.startswith("bink: error 403: "), p.stderr
    assert p.stdout == ""


def test_edit_text_and_buttons(api, world):
    mid = cli(world.bot, api, "send", "--group", world.group, "v1",
              "--button", "A=a").stdout.strip()
    m = one_json(cli(world.bot, api, "--json", "edit", mid, "v2"))
    assert m["content"] == "v2" and m["edited_at"] > 0
    assert m["extra"]["inline_keyboard"] == [[{"text": "A", "callback_data": "a"}]]
    m = one_json(cli(world.bot, api, "--json", "edit", mid, "--button", "B=b"))
    assert m["extra"]["inline_keyboard"] == [[{"text": "B", "callback_data": "b"}]]
    m = one_json(cli(world.bot, api, "--json", "edit", mid, "--clear-buttons"))
    assert m["extra"]["inline_keyboard"] == []
    assert m["content"] == "v2"


def test_delete_single_and_batch(api, world):
    ids = [cli(world.bot, api, "send", "--group", world.group, f"m{i}").stdout.strip()
           for i in range(3)]
    p = cli(world.bot, api, "delete", ids[0])
    assert f"deleted {ids[0]}" in p.stdout
    p = cli(world.bot, api, "delete", ids[0], ok=False)
    assert p.returncode == 1 and "error 404" in p.stderr
    p = cli(world.bot, api, "--json", "delete", ids[1], ids[2], "msg_doesnotexist00", ok=False)
    assert p.returncode == 1
    d = json.loads(p.stdout)
    assert sorted(d["deleted"]) == sorted(ids[1:])
    assert [f["message_id"] for f in d["failed"]] == ["msg_doesnotexist00"]
    assert "msg_doesnotexist00" in p.stderr


# --------------------------------------------------------------------------
# files
# --------------------------------------------------------------------------
def test_upload_getfile_and_download(api, world, tmp_path):
    src = tmp_path / "pic.png"
    src.write_bytes(PNG_1x1)
    fid = cli(world.bot, api, "upload", str(src)).stdout.strip()
    assert fid.startswith("file_")
    d = one_json(cli(world.bot, api, "--json", "upload", str(src)))
    assert d["file_id"].startswith("file_") and d["mime_type"] == "image/png"
    assert d["file_size"] == len(PNG_1x1) and len(d["sha256"]) == 64
    info = one_json(cli(world.bot, api, "--json", "file", fid))
    assert info["file_id"] == fid and info["file_name"] == "pic.png"
    out = tmp_path / "copy.png"
    cli(world.bot, api, "file", fid, "--output", str(out))
    assert out.read_bytes() == PNG_1x1
    p = subprocess.run([BINK_CLI, "file", fid, "--output", "-"], capture_output=True,
                       env=clean_env(api.base, world.bot.token), timeout=60)
    assert p.returncode == 0 and p.stdout == PNG_1x1


def test_download_unknown_file_is_404_and_leaves_no_file(api, world, tmp_path):
    out = tmp_path / "nothing.bin"
    p = cli(world.bot, api, "file", "file_0000000000000000", "--output", str(out), ok=False)
    assert p.returncode == 1 and "error 404" in p.stderr, p.stderr
    assert not out.exists()


def test_upload_missing_path(api, world, tmp_path):
    missing = tmp_path / "nope" / "photo.png"
    for args in (["upload", str(missing)],
                 ["send", "--group", world.group, "--image", str(missing), "caption"]):
        p = cli(world.bot, api, *args, ok=False)
        assert p.returncode == 1, p.stderr
        assert str(missing) in p.stderr and "No such file" in p.stderr
    p = cli(world.bot, api, "upload", str(tmp_path), ok=False)
    assert p.returncode == 1 and "not a regular file" in p.stderr


# --------------------------------------------------------------------------
# callbacks, commands, groups, mutes
# --------------------------------------------------------------------------
def test_answer_callback(api, world):
    mid = cli(world.bot, api, "send", "--group", world.group, "ok?",
              "--button", "OK=ok").stdout.strip()
    click = api.ok("/app/clickbutton", world.owner.token,
                   {"message_id": mid, "callback_data": "ok", "wait": 0})
    cb = click["callback_id"]
    p = cli(world.bot, api, "answer", cb, "--text", "Done", "--alert")
    assert f"answered {cb}" in p.stdout
    p = cli(world.bot, api, "answer", cb, "--text", "again", ok=False)
    assert p.returncode == 1 and "error 409" in p.stderr


def test_answer_callback_json_and_open_url(api, world):
    mid = cli(world.bot, api, "send", "--group", world.group, "go?",
              "--button", "Go=go").stdout.strip()
    cb = api.ok("/app/clickbutton", world.owner.token,
                {"message_id": mid, "callback_data": "go", "wait": 0})["callback_id"]
    d = one_json(cli(world.bot, api, "--json", "answer", cb, "--open-url",
                     "https://example.com/x"))
    assert d["callback_id"] == cb and d["answered_at"] > 0


def test_commands_set_get_clear(api, world):
    p = cli(world.bot, api, "commands", "set", "start=Start the bot", "/help=Show help")
    assert "2 commands set" in p.stdout
    p = cli(world.bot, api, "commands", "get")
    assert p.stdout.splitlines() == ["/start - Start the bot", "/help - Show help"]
    d = one_json(cli(world.bot, api, "--json", "commands", "get"))
    assert [c["command"] for c in d["commands"]] == ["start", "help"]
    p = cli(world.bot, api, "commands", "set", "Bad Command=x", ok=False)
    assert p.returncode == 1 and "error 400" in p.stderr
    cli(world.bot, api, "commands", "set")
    assert one_json(cli(world.bot, api, "--json", "commands", "get"))["commands"] == []


def test_group(api, world):
    d = one_json(cli(world.bot, api, "--json", "group", world.group))
    assert d["group_id"] == world.group and d["bot_role"] == "member"
    p = cli(world.bot, api, "group", world.group)
    assert "bot_role: member" in p.stdout


def test_mute_and_unmute(api, admin_world):
    w = admin_world
    member = api.user()
    api.addmember(w.owner.token, w.group, member.id)
    d = one_json(cli(w.bot, api, "--json", "mute", "--group", w.group, "--user", member.id,
                     "--duration", "60"))
    assert d["user_id"] == member.id and d["muted_until"] > 0
    d = one_json(cli(w.bot, api, "--json", "unmute", "--group", w.group, "--user", member.id))
    assert d["was_muted"] is True
    p = cli(w.bot, api, "mute", "--group", w.group, "--user", w.owner.id, ok=False)
    assert p.returncode == 1 and "error 403" in p.stderr


# --------------------------------------------------------------------------
# updates and webhooks
# --------------------------------------------------------------------------
def test_updates_once_and_follow(api, world):
    first = api.app_send(world.owner.token, "one", target_user_id=world.bot.id)
    p = cli(world.bot, api, "updates")
    events = [json.loads(ln) for ln in p.stdout.splitlines()]
    mine = [e for e in events if e["message_id"] == first["message_id"]]
    assert mine and mine[0]["event_type"] == "private_message"
    # every line is a complete event object
    assert all("update_id" in e and "inviter_id" in e for e in events)
    last = max(e["update_id"] for e in events)
    # --follow prints new events as they come, confirming as it goes
    follow = Proc([BINK_CLI, "updates", "--follow", "--max", "1", "--wait", "5",
                   "--offset", str(last + 1)], clean_env(api.base, world.bot.token))
    try:
        second = api.app_send(world.owner.token, "two", target_user_id=world.bot.id)
        line = wait_until(lambda: follow.lines("out"), timeout=15, what="an event line")[0]
        assert json.loads(line)["message_id"] == second["message_id"]
    finally:
        rc = follow.stop()
    assert rc == 0, follow.text()
    # confirmed: a later call does not see them again
    p = cli(world.bot, api, "updates")
    assert second["message_id"] not in p.stdout and first["message_id"] not in p.stdout


def test_updates_follow_stops_on_sigterm(api, world):
    follow = Proc([BINK_CLI, "updates", "--follow", "--wait", "30"],
                  clean_env(api.base, world.bot.token))
    time.sleep(0.5)
    assert follow.stop(timeout=10) == 0, follow.text()


def test_updates_while_webhook_set_is_409(api, world):
    cli(world.bot, api, "webhook", "set", "http://127.0.0.1:9/hook")
    try:
        p = cli(world.bot, api, "updates", ok=False)
        assert p.returncode == 1 and "error 409" in p.stderr
    finally:
        cli(world.bot, api, "webhook", "delete")


def test_webhook_set_info_delete(api, world):
    p = cli(world.bot, api, "webhook", "set", "http://127.0.0.1:9/hook",
            "--secret", "0123456789abcdefXYZ", "--max-connections", "3",
            "--allowed-events", "private_message,callback_query")
    assert "webhook set" in p.stdout
    assert "0123456789abcdefXYZ" not in p.stdout + p.stderr
    d = one_json(cli(world.bot, api, "--json", "webhook", "info"))
    assert d["url"] == "http://127.0.0.1:9/hook" and d["has_secret"] is True
    assert d["max_connections"] == 3
    assert sorted(d["allowed_events"]) == ["callback_query", "private_message"]
    cli(world.bot, api, "webhook", "delete", "--drop-pending")
    assert one_json(cli(world.bot, api, "--json", "webhook", "info"))["url"] == ""
    p = cli(world.bot, api, "webhook", "set", "ftp://example.com/", ok=False)
    assert p.returncode == 1 and "error 400" in p.stderr


def test_webhook_listen_receives_verified_events(api, world):
    secret = "whsec_" + __import__("base64").b64encode(os.urandom(32)).decode()
    listener = Proc([BINK_CLI, "webhook", "listen", "--port", "0", "--secret", secret],
                    clean_env())
    try:
        line = listener.wait_line("listening on http://127.0.0.1:")
        base = line.split("listening on ")[1].strip()
        cli(world.bot, api, "webhook", "set", base + "/hook", "--secret", secret)
        sent = api.app_send(world.owner.token, "over the hook", target_user_id=world.bot.id)
        out = wait_until(lambda: [ln for ln in listener.lines("out")
                                  if sent["message_id"] in ln], timeout=20,
                         what="the event on the listener's stdout")
        ev = json.loads(out[0])
        assert ev["event_type"] == "private_message" and ev["content"] == "over the hook"
        # a forged delivery is refused and not printed
        before = len(listener.lines("out"))
        r = requests.post(base + "/hook", data=b'{"event_type":"private_message"}',
                          headers={"webhook-id": "evt_x", "webhook-timestamp": "1",
                                   "webhook-signature": "v1,AAAA"}, timeout=10)
        assert r.status_code == 401
        assert len(listener.lines("out")) == before
    finally:
        cli(world.bot, api, "webhook", "delete")
        rc = listener.stop()
    assert rc == 0, listener.text()
    assert secret not in "\n".join(listener.out + listener.err)
