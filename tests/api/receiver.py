"""Helpers for the events tests: a real webhook receiver on 127.0.0.1, Standard
Webhooks signature checking done with our own HMAC code, servers with extra flags,
and getupdates helpers.

The receiver records every request it gets (a Hit) and lets a test wait, with a
timeout, until some condition over the hits holds, instead of sleeping.
"""
import base64
import contextlib
import hashlib
import hmac
import http.server
import json
import socket
import socketserver
import threading
import time

from conftest import Api, Server

# events.md: every key of the event object, always present.
EVENT_KEYS = (
    "event_type", "update_id", "message_id", "sender_id", "sender_username",
    "sender_display_name", "group_id", "group_username", "group_title", "message_type",
    "content", "timestamp", "callback_id", "callback_data", "file_id", "file",
    "reply_to_id", "quote_message_id", "inviter_id",
)
# The seed's fourteen keys (its private-message example, whose key list it is).
SEED_KEYS = (
    "event_type", "message_id", "sender_id", "sender_username", "sender_display_name",
    "group_id", "group_username", "group_title", "message_type", "content", "timestamp",
    "callback_id", "callback_data",
)
STRING_KEYS = tuple(k for k in EVENT_KEYS if k not in ("update_id", "timestamp", "file"))


def check_event_shape(ev):
    """Every key of events.md present, with the right JSON type."""
    assert isinstance(ev, dict), f"event is not an object: {ev!r}"
    missing = [k for k in EVENT_KEYS if k not in ev]
    assert not missing, f"event lacks keys {missing}: {ev}"
    for k in STRING_KEYS:
        assert isinstance(ev[k], str), f"event key {k} must be a string: {ev}"
    for k in ("update_id", "timestamp"):
        assert isinstance(ev[k], int) and not isinstance(ev[k], bool) and ev[k] > 0, \
            f"event key {k} must be a positive integer: {ev}"
    assert ev["file"] is None or isinstance(ev["file"], dict), f"file: {ev}"
    return ev


def free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# --------------------------------------------------------------------------
# signatures (Standard Webhooks), our own code
# --------------------------------------------------------------------------
def signing_key(secret):
    """whsec_<base64> -> the decoded bytes; any other secret -> its own bytes."""
    if secret.startswith("whsec_"):
        return base64.b64decode(secret[len("whsec_"):], validate=True)
    return secret.encode("ascii")


def expected_signature(key, wid, ts, body):
    mac = hmac.new(key, wid.encode() + b"." + ts.encode() + b"." + body, hashlib.sha256)
    return base64.b64encode(mac.digest()).decode()


def signature_valid(hit, secret):
    """True when one of the space-separated v1 signatures of the hit matches."""
    header = hit.headers.get("webhook-signature", "")
    want = expected_signature(signing_key(secret), hit.headers.get("webhook-id", ""),
                              hit.headers.get("webhook-timestamp", ""), hit.body)
    for part in header.split():
        version, _, sig = part.partition(",")
        if version == "v1" and hmac.compare_digest(sig, want):
            return True
    return False


# --------------------------------------------------------------------------
# the receiver
# --------------------------------------------------------------------------
class Hit:
    """One request the receiver got."""

    def __init__(self, seq, path, headers, body):
        self.seq = seq
        self.path = path
        self.headers = headers          # lower-cased names
        self.body = body
        try:
            self.event = json.loads(body.decode("utf-8"))
        except ValueError:
            self.event = None
        self.t_start = time.monotonic()
        self.t_end = None
        self.status = None              # what we answered (None while in the handler)
        self.error = None

    @property
    def wid(self):
        return self.headers.get("webhook-id", "")

    @property
    def attempt(self):
        try:
            return int(self.headers.get("x-bink-attempt", ""))
        except ValueError:
            return None

    @property
    def update_id(self):
        return (self.event or {}).get("update_id")

    @property
    def acked(self):
        return self.status is not None and 200 <= self.status < 300

    def __repr__(self):
        ev = self.event or {}
        return (f"<hit #{self.seq} {self.wid} attempt={self.attempt} "
                f"{ev.get('event_type')} u={ev.get('update_id')} "
                f"content={ev.get('content')!r} status={self.status} "
                f"t={self.t_start:.3f}..{self.t_end}>")


class _TCPServer(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True
    block_on_close = False
    allow_reuse_address = True


class Receiver:
    """A webhook receiver.

    respond(hit) decides the answer: None -> 200, an int -> that status, a tuple
    (status, headers_dict), or "close" to hang up without answering. It runs in the connection's thread, so it may sleep,
    block on an Event, or call the Bot API (as a real bot would). An exception in it
    is recorded in `errors` and answered with 500.
    """

    def __init__(self, respond=None, port=0, path="/hook"):
        self.respond = respond
        self.path = path
        self.hits = []
        self.errors = []
        self.cond = threading.Condition()
        self.inflight = {}              # webhook-id -> count
        self.inflight_total = 0
        self.max_inflight_total = 0
        self.overlaps = []              # (webhook-id, hit) arriving while one was in flight
        self._port = port
        self._srv = None
        self._thread = None

    # -- life cycle --
    def start(self):
        receiver = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *a):  # quiet
                pass

            def _read_body(self):
                if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
                    out = b""
                    while True:
                        size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                        if size == 0:
                            while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                                pass
                            return out
                        out += self.rfile.read(size)
                        self.rfile.readline()
                n = int(self.headers.get("Content-Length") or 0)
                return self.rfile.read(n) if n else b""

            def _any(self):
                body = self._read_body()
                headers = {k.lower(): v for k, v in self.headers.items()}
                with receiver.cond:
                    hit = Hit(len(receiver.hits), self.path, headers, body)
                    hit.method = self.command
                    hit.client = self.client_address
                    wid = hit.wid
                    if receiver.inflight.get(wid):
                        receiver.overlaps.append((wid, hit))
                    receiver.inflight[wid] = receiver.inflight.get(wid, 0) + 1
                    receiver.inflight_total += 1
                    receiver.max_inflight_total = max(receiver.max_inflight_total,
                                                      receiver.inflight_total)
                    receiver.hits.append(hit)
                    receiver.cond.notify_all()
                status, extra = 200, {}
                try:
                    if receiver.respond is not None:
                        r = receiver.respond(hit)
                        if isinstance(r, tuple):
                            status, extra = r
                        elif r is not None:
                            status = r
                except Exception as e:  # noqa: BLE001 - reported by the test
                    hit.error = e
                    with receiver.cond:
                        receiver.errors.append((hit, repr(e)))
                    status = 500
                payload = b"" if status in (204, 304) else b"ok"
                if status == "close":          # hang up without an answer
                    self.close_connection = True
                    try:
                        self.connection.shutdown(socket.SHUT_RDWR)
                    except OSError:
                        pass
                    with receiver.cond:
                        hit.t_end = time.monotonic()
                        receiver.inflight[wid] -= 1
                        receiver.inflight_total -= 1
                        receiver.cond.notify_all()
                    return
                try:
                    self.send_response(status)
                    for k, v in extra.items():
                        self.send_header(k, v)
                    if payload:
                        self.send_header("Content-Type", "text/plain")
                        self.send_header("Content-Length", str(len(payload)))
                    self.end_headers()
                    self.wfile.write(payload)
                    self.wfile.flush()
                    sent = True
                except OSError:
                    sent = False
                with receiver.cond:
                    hit.t_end = time.monotonic()
                    hit.status = status if sent else None
                    receiver.inflight[wid] -= 1
                    receiver.inflight_total -= 1
                    receiver.cond.notify_all()

            do_POST = _any
            do_GET = _any
            do_PUT = _any

        self._srv = _TCPServer(("127.0.0.1", self._port), Handler)
        self._port = self._srv.server_address[1]
        self._thread = threading.Thread(target=self._srv.serve_forever,
                                        kwargs={"poll_interval": 0.05}, daemon=True)
        self._thread.start()
        return self

    def stop(self):
        if self._srv is not None:
            self._srv.shutdown()
            self._srv.server_close()
            self._srv = None

    def __enter__(self):
        return self.start() if self._srv is None else self

    def __exit__(self, *exc):
        self.stop()

    @property
    def port(self):
        return self._port

    @property
    def url(self):
        return f"http://127.0.0.1:{self._port}{self.path}"

    # -- inspection --
    def snapshot(self):
        with self.cond:
            return list(self.hits)

    def wait(self, pred, timeout=10.0, what="condition"):
        """Waits until pred(hits) is truthy and returns its value."""
        deadline = time.monotonic() + timeout
        with self.cond:
            while True:
                v = pred(self.hits)
                if v:
                    return v
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(f"receiver: timed out after {timeout}s waiting for "
                                         f"{what}; hits so far: {self.hits}; "
                                         f"handler errors: {self.errors}")
                self.cond.wait(min(left, 0.5))

    def wait_acked(self, n, timeout=10.0):
        """Waits for n acknowledged (2xx) hits; returns them."""
        return self.wait(lambda hs: [h for h in hs if h.acked][:n]
                         if sum(1 for h in hs if h.acked) >= n else None,
                         timeout, f"{n} acknowledged deliveries")

    def wait_content(self, content, acked=True, timeout=10.0):
        def pred(hs):
            for h in hs:
                if h.event and h.event.get("content") == content and (h.acked or not acked):
                    return h
            return None
        return self.wait(pred, timeout, f"an event with content {content!r}")

    def wait_update(self, update_id, acked=True, timeout=10.0):
        def pred(hs):
            for h in hs:
                if h.update_id == update_id and (h.acked or not acked):
                    return h
            return None
        return self.wait(pred, timeout, f"update_id {update_id}")

    def acked_events(self):
        return [h.event for h in self.snapshot() if h.acked]


# --------------------------------------------------------------------------
# servers and API helpers
# --------------------------------------------------------------------------
@contextlib.contextmanager
def running(data_dir, *args):
    """A binkd of its own on data_dir with extra flags; SIGTERM at the end must give 0."""
    s = Server(str(data_dir), list(args)).start()
    try:
        yield s
    except BaseException:
        s.stop()
        raise
    rc = s.stop()
    assert rc == 0, f"binkd exited with {rc} after SIGTERM; log tail:\n" + \
        "\n".join(s.lines[-30:])


def kill9(server):
    server.proc.kill()
    server.proc.wait()
    for t in server._threads:
        t.join(timeout=5)


def set_webhook(api, bot_token, url, **fields):
    return api.ok("/bot/setwebhook", bot_token, {"url": url, **fields})


def webhook_info(api, bot_token):
    return api.ok("/bot/getwebhookinfo", bot_token, {})


def updates(api, bot_token, http_timeout=60, **fields):
    """One getupdates call (fields are its parameters, e.g. timeout=...); returns data."""
    r = api.request("POST", "/bot/getupdates", token=bot_token, json=fields,
                    timeout=http_timeout)
    body = api.body_of(r)
    assert r.status_code == 200 and body.get("code") == 200, \
        f"getupdates {fields} -> {r.status_code} {body}"
    assert isinstance(body["data"], list), body
    return body["data"]


class Poller:
    """Reads a bot's events with getupdates, confirming as it goes; waits with long
    polls (which wake at commit), never sleeps."""

    def __init__(self, api, bot_token, offset=0):
        self.api = api
        self.token = bot_token
        self.offset = offset

    def take(self, n, timeout=5.0, **fields):
        """Returns the next n events (exactly; fails when fewer arrive in time)."""
        got = []
        deadline = time.monotonic() + timeout
        while len(got) < n:
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError(f"expected {n} events, got {len(got)}: {got}")
            evs = updates(self.api, self.token, offset=self.offset, limit=100,
                          timeout=max(1, min(int(left + 0.999), 50)), **fields)
            for ev in evs:
                got.append(ev)
                self.offset = ev["update_id"] + 1
        return got

    def until(self, pred, timeout=5.0, **fields):
        """Reads events until pred(event) holds; returns every event read, in order."""
        got = []
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError(f"no matching event within {timeout}s; got {got}")
            evs = updates(self.api, self.token, offset=self.offset, limit=100,
                          timeout=max(1, min(int(left + 0.999), 50)), **fields)
            for ev in evs:
                got.append(ev)
                self.offset = ev["update_id"] + 1
            if any(pred(e) for e in got):
                return got

    def skip_all(self):
        """Confirms everything pending (timeout 0)."""
        while True:
            evs = updates(self.api, self.token, offset=self.offset, timeout=0)
            if not evs:
                return
            self.offset = evs[-1]["update_id"] + 1


def sentinel_until(poller, content, **fields):
    """Events up to and including the one whose content is `content`."""
    evs = poller.until(lambda e: e.get("content") == content, **fields)
    return evs


__all__ = ["Api", "Server", "Receiver", "Hit", "Poller", "EVENT_KEYS", "SEED_KEYS",
           "check_event_shape", "free_port", "signing_key", "expected_signature",
           "signature_valid", "running", "kill9", "set_webhook", "webhook_info", "updates"]
