"""GET /metrics (server.md "Operations"): Prometheus text with requests by endpoint
and code, latency histograms, events produced, webhook deliveries by outcome, queue
depth and open SSE / long-poll waits.

The text is parsed with the Prometheus project's own Python parser
(python3-prometheus-client), so a malformed exposition fails here. Each test uses a
server of its own, so every counter starts at zero and the figures are exact.
"""
import threading
import time

import pytest
import requests
from prometheus_client.parser import text_string_to_metric_families

from conftest import Api
from receiver import Receiver, running, set_webhook
from test_events_live import Sse, _ready

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


def scrape(api):
    r = requests.get(api.url("/metrics"), timeout=10)
    assert r.status_code == 200, r.text[:300]
    assert r.headers["Content-Type"] == CONTENT_TYPE
    families = {f.name: f for f in text_string_to_metric_families(r.text)}
    return families, r.text


def sample(families, family, name=None, default=0, **labels):
    """The value of one sample (default when the labelled series is absent: counters
    are only printed once they have counted something)."""
    f = families.get(family)
    if f is None and family == "bink_outbox_pending_events":
        return default  # not counted yet
    assert f is not None, f"no metric family {family}; have {sorted(families)}"
    for s in f.samples:
        if s.name == (name or family) and all(s.labels.get(k) == v for k, v in labels.items()):
            return s.value
    return default


def requests_of(families, endpoint, code):
    return sample(families, "bink_http_requests", "bink_http_requests_total",
                  endpoint=endpoint, code=str(code))


def wait_metric(api, pred, what, timeout=10.0):
    """Scrapes until pred(families) holds (a metric moves after the work that moves it,
    with no event to await from outside)."""
    deadline = time.monotonic() + timeout
    while True:
        fams, _ = scrape(api)
        if pred(fams):
            return fams
        if time.monotonic() >= deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(0.05)


@pytest.fixture
def own(fresh_server):
    return Api(fresh_server)


def test_families_types_and_no_secrets(own):
    user = own.user()
    bot = own.bot(user)
    own.ok("/bot/getme", bot.token, {})
    # the outbox gauge is counted off the request threads, from the first scrape on
    wait_metric(own, lambda f: "bink_outbox_pending_events" in f, "the first outbox count")
    fams, text = scrape(own)
    types = {name: f.type for name, f in fams.items()}
    want = {
        "bink_http_requests": "counter",
        "bink_http_request_duration_seconds": "histogram",
        "bink_events_produced": "counter",
        "bink_webhook_deliveries": "counter",
        "bink_webhook_deliveries_running": "gauge",
        "bink_outbox_pending_events": "gauge",
        "bink_store_write_queue_jobs": "gauge",
        "bink_open_waits": "gauge",
        "bink_database_up": "gauge",
        "bink_build_info": "gauge",
        "process_resident_memory_bytes": "gauge",
        "process_start_time_seconds": "gauge",
    }
    for name, kind in want.items():
        assert types.get(name) == kind, f"{name}: {types.get(name)} (want {kind})"
    assert sample(fams, "bink_database_up") == 1
    assert sample(fams, "bink_store_write_queue_jobs") == 0
    assert sample(fams, "process_resident_memory_bytes") > 1 << 20
    assert abs(sample(fams, "process_start_time_seconds") - time.time()) < 600
    for secret in (user.token, bot.token):
        assert secret not in text


def test_requests_by_endpoint_and_code_with_histograms(own):
    user = own.user()
    bot = own.bot(user)
    before, _ = scrape(own)
    for _ in range(3):
        own.ok("/bot/getme", bot.token, {})
    for _ in range(2):
        own.err("/bot/getme", "0" * 40, 401)
    r = own.request("GET", "/bot/sendmessage", token=bot.token)
    assert r.status_code == 405
    # paths that match no route are counted together, never by their text
    r = own.request("POST", "/bot/no-such-endpoint-4f2a", token=bot.token, json={})
    assert r.status_code == 404
    fams, text = scrape(own)

    def delta(endpoint, code):
        return requests_of(fams, endpoint, code) - requests_of(before, endpoint, code)

    assert delta("/bot/getme", 200) == 3
    assert delta("/bot/getme", 401) == 2
    assert delta("/bot/sendmessage", 405) == 1
    assert delta("unmatched", 404) == 1
    assert "no-such-endpoint" not in text
    # the histogram of an endpoint counts each of its requests once
    hist = [s for s in fams["bink_http_request_duration_seconds"].samples
            if s.labels.get("endpoint") == "/bot/getme"]
    buckets = [s for s in hist if s.name.endswith("_bucket")]
    count = [s.value for s in hist if s.name.endswith("_count")]
    total = [s.value for s in hist if s.name.endswith("_sum")]
    assert count == [5] and buckets[-1].labels["le"] == "+Inf" and buckets[-1].value == 5
    values = [b.value for b in buckets]
    assert values == sorted(values), "buckets are cumulative"
    assert 0 < total[0] < 5, total  # five quick requests, in seconds
    # the registration and createbot of this test, counted too
    assert requests_of(fams, "/app/register", 200) == 1
    assert requests_of(fams, "/app/createbot", 200) == 1


def test_events_produced_and_outbox_depth(own):
    user = own.user()
    bot = own.bot(user)
    for text in ("one", "two", "three"):
        own.app_send(user.token, text, target_user_id=bot.id)
    fams, _ = scrape(own)
    assert sample(fams, "bink_events_produced", "bink_events_produced_total") == 3
    # counted every 5 s by the dispatcher thread while scraped
    wait_metric(own, lambda f: sample(f, "bink_outbox_pending_events", default=-1) == 3,
                "three pending events", timeout=15)
    got = own.ok("/bot/getupdates", bot.token, {"timeout": 0})
    assert [e["content"] for e in got] == ["one", "two", "three"]
    fams, _ = scrape(own)
    assert sample(fams, "bink_outbox_pending_events") == 3, "fetched is not confirmed"
    own.ok("/bot/getupdates", bot.token, {"offset": got[-1]["update_id"] + 1, "timeout": 0})
    wait_metric(own, lambda f: sample(f, "bink_outbox_pending_events", default=-1) == 0,
                "confirmed events leaving the outbox", timeout=15)
    assert sample(fams, "bink_events_produced", "bink_events_produced_total") == 3
    # a refused send produces nothing
    own.err("/app/sendmessage", user.token, 400, "content",
            json={"target_user_id": bot.id, "message_type": "text", "content": "   "})
    fams, _ = scrape(own)
    assert sample(fams, "bink_events_produced", "bink_events_produced_total") == 3


def test_webhook_deliveries_by_outcome(tmp_path):
    def outcome(fams, name):
        return sample(fams, "bink_webhook_deliveries", "bink_webhook_deliveries_total",
                      outcome=name)

    with running(tmp_path / "data", "--webhook-timeout", "1") as srv:
        api = Api(srv)
        user = api.user()
        bot = api.bot(user)

        def respond(h):
            if h.attempt == 1:
                return 500
            if h.attempt == 2:
                return "close"
            if h.attempt == 3:
                time.sleep(1.5)  # past --webhook-timeout
                return 200
            return 200

        with Receiver(respond) as rcv:
            set_webhook(api, bot.token, rcv.url)
            api.app_send(user.token, "hook me", target_user_id=bot.id)
            rcv.wait_content("hook me", timeout=30)
            # counted when the answer arrives; the outbox row settles at its commit
            # and is counted again within 5 s
            fams = wait_metric(api, lambda f: outcome(f, "delivered") == 1 and
                               sample(f, "bink_outbox_pending_events", default=-1) == 0,
                               "the delivered attempt counted and recorded", timeout=15)
            api.ok("/bot/deletewebhook", bot.token, {})
        assert outcome(fams, "http_error") == 1
        assert outcome(fams, "network_error") == 1
        assert outcome(fams, "timeout") == 1
        assert outcome(fams, "blocked") == 0
        assert sample(fams, "bink_webhook_deliveries_running") == 0


def test_open_sse_and_long_poll_waits(own):
    user = own.user()
    bot = own.bot(user)

    def waits(fams, kind):
        return sample(fams, "bink_open_waits", kind=kind)

    fams, _ = scrape(own)
    assert waits(fams, "sse") == 0 and waits(fams, "long_poll") == 0
    result = {}

    def poll():
        result["events"] = own.ok("/bot/getupdates", bot.token, {"timeout": 20})

    t = threading.Thread(target=poll)
    t.start()
    streams = [Sse(own.base, user.token) for _ in range(2)]
    try:
        for s in streams:
            assert s.resp.status_code == 200
            _ready(s)
        wait_metric(own, lambda f: waits(f, "long_poll") == 1 and waits(f, "sse") == 2,
                    "one parked getupdates and two open streams")
        # the message ends the long poll
        own.app_send(user.token, "wake up", target_user_id=bot.id)
        t.join(10)
        assert not t.is_alive()
        assert [e["content"] for e in result["events"]] == ["wake up"]
        for s in streams:
            s.wait_event("message_new")
        fams = wait_metric(own, lambda f: waits(f, "long_poll") == 0,
                           "the long poll no longer parked")
        assert waits(fams, "sse") == 2
        # a closed stream is noticed when the server next writes to it (an event, or
        # the heartbeat at the latest)
        streams[0].close()
        # (the first write after the peer's close may still succeed: two; should
        # they go out as one write, the heartbeat 15 s later finds it closed)
        own.app_send(user.token, "after one closed", target_user_id=bot.id)
        own.app_send(user.token, "and another", target_user_id=bot.id)
        fams = wait_metric(own, lambda f: waits(f, "sse") == 1, "one stream closed",
                           timeout=20)
    finally:
        for s in streams:
            s.close()
    own.app_send(user.token, "after both closed", target_user_id=bot.id)
    own.app_send(user.token, "and another", target_user_id=bot.id)
    wait_metric(own, lambda f: waits(f, "sse") == 0, "both streams closed", timeout=20)
    # an event stream is counted as one request of its endpoint once it ends
    fams, _ = scrape(own)
    assert requests_of(fams, "/app/events", 200) == 2


def test_metrics_is_get_only_and_needs_no_token(own):
    r = own.request("POST", "/metrics", json={})
    assert r.status_code == 405
    assert "GET" in r.headers.get("Allow", "")
    r = requests.head(own.url("/metrics"), timeout=10)
    assert r.status_code == 200
