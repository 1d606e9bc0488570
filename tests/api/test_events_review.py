"""Cases found by reviewing the events work: private targets refused when
connecting (not only at setwebhook), credentials and port 0 in webhook URLs,
plain secrets with spaces, and webhook delivery unaffected by a backlog of
polling bots."""
import time

from conftest import Api, assert_error, uname
from receiver import Receiver, running, set_webhook, signature_valid, webhook_info


def _setup(api):
    owner = api.user()
    bot = api.bot(owner)
    return owner, bot


def test_deny_private_webhooks_is_enforced_when_connecting(tmp_path):
    recv = Receiver().start()
    try:
        data = tmp_path / "data"
        # The webhook is set while private targets are allowed ...
        with running(data) as s:
            api = Api(s)
            owner, bot = _setup(api)
            set_webhook(api, bot.token, recv.url)
        # ... and the server restarts with them denied: nothing reaches it.
        with running(data, "--deny-private-webhooks") as s:
            api = Api(s)
            api.app_send(owner.token, "hello", target_user_id=bot.id)
            deadline = time.monotonic() + 10
            info = webhook_info(api, bot.token)
            while not info["last_error_msg"] and time.monotonic() < deadline:
                time.sleep(0.1)  # the dispatcher's attempt is not observable otherwise
                info = webhook_info(api, bot.token)
            assert "private" in info["last_error_msg"], info
            assert recv.hits == []
    finally:
        recv.stop()


def test_webhook_url_with_credentials_or_port_0_is_refused(api):
    _, bot = _setup(api)
    for url in ("http://user:pw@127.0.0.1:9/hook", "http://127.0.0.1:0/hook"):
        status, body = api.call("/bot/setwebhook", bot.token, json={"url": url})
        assert_error(status, body, 400, "url")
    assert webhook_info(api, bot.token)["url"] == ""


def test_plain_secret_may_hold_spaces(api):
    recv = Receiver().start()
    try:
        owner, bot = _setup(api)
        secret = "this is a plain secret"
        set_webhook(api, bot.token, recv.url, secret=secret)
        api.app_send(owner.token, "signed", target_user_id=bot.id)
        hit = recv.wait_content("signed")
        assert signature_valid(hit, secret)
    finally:
        recv.stop()


def test_polling_backlog_does_not_hold_back_webhooks(api):
    """Pending events of bots without a webhook are never read by the
    dispatcher: a webhook bot's event still arrives at once."""
    recv = Receiver().start()
    try:
        owner, hooked = _setup(api)
        set_webhook(api, hooked.token, recv.url)
        gid = api.creategroup(owner.token)
        for _ in range(30):  # each join is an event for every bot already in
            api.addmember(owner.token, gid, api.bot(owner).id)
        api.app_send(owner.token, "now", target_user_id=hooked.id)
        t0 = time.monotonic()
        recv.wait_content("now")
        assert time.monotonic() - t0 < 2
    finally:
        recv.stop()


def test_overflowing_retry_after_waits_the_longest_not_the_shortest(api):
    """A Retry-After too large to parse is clamped to an hour (events.md),
    not taken as absent (which would retry after 1 s)."""
    recv = Receiver(lambda h: (429, {"Retry-After": "99999999999999999999"})).start()
    try:
        owner, bot = _setup(api)
        set_webhook(api, bot.token, recv.url)
        api.app_send(owner.token, "later", target_user_id=bot.id)
        recv.wait_content("later", acked=False)
        d = None
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:  # the outcome is recorded just after
            rows = api.ok("/app/deliveries", owner.token, {"bot_id": bot.id})["deliveries"]
            d = next((r for r in rows if r["event_type"] == "private_message"), None)
            if d and d["status"] == "retrying":
                break
            time.sleep(0.1)
        assert d and d["status"] == "retrying" and d["http_status"] == 429, d
        time.sleep(2.5)  # a 1 s back-off would have retried by now
        assert len([h for h in recv.snapshot()
                    if (h.event or {}).get("content") == "later"]) == 1
    finally:
        recv.stop()
