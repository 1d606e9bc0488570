"""Black-box harness for binkd: starts the real server and drives it over HTTP.

The binary comes from $BINKD (default /work/main/build/binkd). It is started as
    binkd --listen 127.0.0.1:0 --data <fresh dir>
and must print "listening on http://127.0.0.1:PORT" to stderr when ready.
Everything it writes (stderr and stdout) is kept in Server.lines so that tests
can check that tokens and bodies never reach the log.
"""
import json
import os
import re
import signal
import subprocess
import threading
import time
import types
import uuid

import pytest
import requests

BINKD = os.environ.get("BINKD", "/work/main/build/binkd")
# The backend under test: SQLite (default: <data>/bink.db), or PostgreSQL
# when $BINK_TEST_PG names a database (postgresql://...). Then every data
# directory gets a schema of its own in that database, so that a test's
# server starts as empty as with SQLite and a restart on the same
# directory finds its data again.
BINK_TEST_PG = os.environ.get("BINK_TEST_PG", "")
PSQL = "/usr/bin/psql"


def pg_uri_for(data_dir):
    """The --db of data_dir under PostgreSQL (its schema created), or None."""
    if not BINK_TEST_PG:
        return None
    import hashlib
    schema = "t_" + hashlib.sha256(os.path.abspath(str(data_dir)).encode()).hexdigest()[:20]
    subprocess.run([PSQL, "-qAt", "-v", "ON_ERROR_STOP=1", BINK_TEST_PG, "-c",
                    f"CREATE SCHEMA IF NOT EXISTS {schema}"],
                   check=True, capture_output=True, timeout=30)
    sep = "&" if "?" in BINK_TEST_PG else "?"
    return f"{BINK_TEST_PG}{sep}options=-csearch_path%3D{schema}"


def db_env(data_dir):
    """Environment additions that point a binkd command at data_dir's database."""
    uri = pg_uri_for(data_dir)
    return {"BINKD_DB": uri} if uri else {}


def db_scalar(data_dir, sql):
    """The first value of a read-only query on data_dir's database, whichever
    backend holds it (for checks that nothing was stored)."""
    uri = pg_uri_for(data_dir)
    if uri:
        out = subprocess.run([PSQL, "-qAt", "-v", "ON_ERROR_STOP=1", uri, "-c", sql],
                             check=True, capture_output=True, text=True, timeout=30)
        value = out.stdout.strip().splitlines()[0]
        return int(value) if value.lstrip("-").isdigit() else value
    import sqlite3
    db = sqlite3.connect(f"file:{os.path.join(str(data_dir), 'bink.db')}?mode=ro", uri=True)
    try:
        return db.execute(sql).fetchone()[0]
    finally:
        db.close()


requires_sqlite = pytest.mark.skipif(
    bool(BINK_TEST_PG), reason="about the SQLite file itself")
LISTEN_RE = re.compile(r"listening on (http://127\.0\.0\.1:(\d+))")
START_TIMEOUT = 10.0
STOP_TIMEOUT = 20.0  # server.md: in-flight requests get <= 10 s

# Crockford base32, used only to forge a well-formed but unknown id.
_ALPHABET = "0123456789abcdefghjkmnpqrstvwxyz"


# --------------------------------------------------------------------------
# the server process
# --------------------------------------------------------------------------
class Server:
    def __init__(self, data_dir, extra_args=()):
        self.data_dir = data_dir
        self.extra_args = list(extra_args)
        self.proc = None
        self.base = None
        self.lines = []          # every line the server wrote (stderr + stdout)
        self.tokens = set()      # every token the tests saw issued
        self._cond = threading.Condition()
        self._eof = 0
        self._threads = []

    # -- log capture --
    def _drain(self, stream):
        for raw in iter(stream.readline, b""):
            line = raw.decode("utf-8", "replace").rstrip("\n")
            with self._cond:
                self.lines.append(line)
                if self.base is None:
                    m = LISTEN_RE.search(line)
                    if m:
                        self.base = m.group(1)
                self._cond.notify_all()
        with self._cond:
            self._eof += 1
            self._cond.notify_all()

    def log_text(self):
        with self._cond:
            return "\n".join(self.lines)

    def wait_log(self, needle, timeout=5.0):
        """Waits until some log line contains needle; returns that line or None."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                for line in self.lines:
                    if needle in line:
                        return line
                left = deadline - time.monotonic()
                if left <= 0 or self._eof >= 2:
                    return None
                self._cond.wait(left)

    # -- life cycle --
    def start(self):
        if not os.path.isfile(BINKD) or not os.access(BINKD, os.X_OK):
            pytest.fail(f"binkd binary not found or not executable: {BINKD} (set $BINKD)")
        db = []
        if "--db" not in self.extra_args and not any(
                a.startswith("--db=") for a in self.extra_args):
            uri = pg_uri_for(self.data_dir)
            db = ["--db", uri] if uri else []
        self.proc = subprocess.Popen(
            [BINKD, "--listen", "127.0.0.1:0", "--data", self.data_dir, *db,
             *self.extra_args],
            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        for stream in (self.proc.stderr, self.proc.stdout):
            t = threading.Thread(target=self._drain, args=(stream,), daemon=True)
            t.start()
            self._threads.append(t)
        deadline = time.monotonic() + START_TIMEOUT
        with self._cond:
            while self.base is None and self._eof < 2:
                left = deadline - time.monotonic()
                if left <= 0:
                    break
                self._cond.wait(left)
        if self.base is None:
            self.proc.kill()
            self.proc.wait()
            pytest.fail("binkd did not print 'listening on http://127.0.0.1:PORT' within "
                        f"{START_TIMEOUT}s; exit={self.proc.returncode}; log:\n{self.log_text()}")
        return self

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def stop(self):
        """SIGTERM, wait, return the exit code (all output drained)."""
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
                return "timeout (killed)"
        for t in self._threads:
            t.join(timeout=5)
        return self.proc.returncode


def _leaked_tokens(server):
    text = server.log_text()
    return sorted(t for t in server.tokens if t and t in text)


@pytest.fixture(scope="session")
def server(tmp_path_factory):
    s = Server(str(tmp_path_factory.mktemp("binkd-data")))
    s.start()
    yield s
    rc = s.stop()
    assert rc == 0, f"binkd exited with {rc} after SIGTERM; log tail:\n" + \
        "\n".join(s.lines[-30:])
    leaked = _leaked_tokens(s)
    assert not leaked, f"{len(leaked)} token(s) appeared in the server log"


@pytest.fixture
def fresh_server(tmp_path):
    """A server of its own, for tests that need a clean one or may hurt it."""
    s = Server(str(tmp_path / "data"))
    s.start()
    yield s
    rc = s.stop()
    assert rc == 0, f"binkd exited with {rc} after SIGTERM; log tail:\n" + \
        "\n".join(s.lines[-30:])


# --------------------------------------------------------------------------
# the client
# --------------------------------------------------------------------------
def uname(prefix="u", suffix=""):
    """A fresh, valid, unique username."""
    return prefix + uuid.uuid4().hex[:10] + suffix


def unknown_like(real_id):
    """A well-formed id of the same kind that names nothing: the same prefix and
    a different first character after it."""
    prefix, rest = real_id.split("_", 1)
    c = rest[0]
    repl = _ALPHABET[(_ALPHABET.index(c) + 7) % len(_ALPHABET)] if c in _ALPHABET else "z"
    return f"{prefix}_{repl}{rest[1:]}"


def assert_error(status, body, expected, *fields):
    """The error envelope: HTTP status == code == expected, data null, a msg
    that names each of `fields`."""
    assert status == expected, f"expected HTTP {expected}, got {status}: {body}"
    assert isinstance(body, dict), f"error body is not a JSON object: {body!r}"
    assert body.get("code") == expected, f"envelope code {body.get('code')} != {expected}: {body}"
    assert "data" in body and body["data"] is None, f"data must be null on error: {body}"
    msg = body.get("msg")
    assert isinstance(msg, str) and msg.strip(), f"msg must be a non-empty string: {body}"
    for f in fields:
        assert f in msg, f"msg {msg!r} does not name {f!r}"
    return msg


class Api:
    def __init__(self, server):
        self.server = server
        self.base = server.base

    def url(self, path):
        return self.base + path

    # -- raw HTTP --
    def request(self, method, path, token=None, json=None, data=None, headers=None,
                params=None, timeout=30):
        h = {}
        if token is not None:
            h["Authorization"] = "Bearer " + token
        if headers:
            h.update(headers)
        return requests.request(method, self.url(path), json=json, data=data, headers=h,
                                params=params, timeout=timeout)

    @staticmethod
    def body_of(r):
        try:
            body = r.json()
        except ValueError:
            pytest.fail(f"{r.request.method} {r.request.url}: response is not JSON: "
                        f"{r.status_code} {r.text[:300]!r}")
        return body

    def call(self, path, token=None, json=None, data=None, headers=None, method="POST",
             params=None):
        r = self.request(method, path, token=token, json=json, data=data, headers=headers,
                         params=params)
        return r.status_code, self.body_of(r)

    def ok(self, path, token=None, json=None, **kw):
        status, body = self.call(path, token, json=json, **kw)
        assert status == 200, f"{path} {json} -> HTTP {status}: {body}"
        assert body.get("code") == 200, f"{path} -> envelope {body}"
        return body.get("data")

    def err(self, path, token, expected, *fields, json=None, **kw):
        status, body = self.call(path, token, json=json, **kw)
        return assert_error(status, body, expected, *fields)

    # -- accounts --
    def register(self, username=None, display_name=None):
        username = username or uname()
        d = self.ok("/app/register", None, {"username": username,
                                            "display_name": display_name or username.title()})
        self.server.tokens.add(d["token"])
        return d["user_id"], d["token"]

    def user(self):
        username = uname()
        uid, tok = self.register(username)
        return types.SimpleNamespace(id=uid, token=tok, username=username)

    def createbot(self, owner_token, username=None, display_name=None):
        username = username or uname("b", "bot")
        d = self.ok("/app/createbot", owner_token,
                    {"username": username, "display_name": display_name or "Bot " + username})
        self.server.tokens.add(d["token"])
        return d["bot_id"], d["token"]

    def bot(self, owner):
        username = uname("b", "bot")
        bid, tok = self.createbot(owner.token, username)
        return types.SimpleNamespace(id=bid, token=tok, username=username)

    def creategroup(self, token, title=None, **fields):
        d = self.ok("/app/creategroup", token, {"title": title or "G " + uuid.uuid4().hex[:6],
                                                **fields})
        return d["group_id"]

    def addmember(self, token, group_id, user_id):
        return self.ok("/app/addmember", token, {"group_id": group_id, "user_id": user_id})

    def setadmin(self, token, group_id, user_id, admin=True):
        return self.ok("/app/setadmin", token,
                       {"group_id": group_id, "user_id": user_id, "admin": admin})

    # -- messages --
    def bot_send(self, bot_token, content="hello", **fields):
        return self.ok("/bot/sendmessage", bot_token,
                       {"message_type": "text", "content": content, **fields})

    def app_send(self, user_token, content="hello", **fields):
        return self.ok("/app/sendmessage", user_token,
                       {"message_type": "text", "content": content, **fields})

    def history(self, token, group_id=None, peer_id=None, limit=100):
        q = {"limit": limit}
        if group_id:
            q["group_id"] = group_id
        if peer_id:
            q["peer_id"] = peer_id
        d = self.ok("/app/history", token, q)
        return d["messages"]

    def full_history(self, token, group_id=None, peer_id=None):
        """Every message of a chat, oldest first (pages of 100 with `before`)."""
        out, before = [], None
        while True:
            q = {"limit": 100}
            if group_id:
                q["group_id"] = group_id
            if peer_id:
                q["peer_id"] = peer_id
            if before:
                q["before"] = before
            d = self.ok("/app/history", token, q)
            out.extend(d["messages"])
            before = d.get("next_before") or ""
            if not before or not d["messages"]:
                return list(reversed(out))

    def history_ids(self, token, group_id=None, peer_id=None):
        return [m["message_id"] for m in self.history(token, group_id, peer_id)]

    def find(self, token, message_id, group_id=None, peer_id=None):
        for m in self.history(token, group_id, peer_id):
            if m["message_id"] == message_id:
                return m
        return None


@pytest.fixture(scope="session")
def api(server):
    return Api(server)


@pytest.fixture
def world(api):
    """An owner, a bot they own, and a group holding both (the bot a plain member)."""
    owner = api.user()
    bot = api.bot(owner)
    gid = api.creategroup(owner.token)
    api.addmember(owner.token, gid, bot.id)
    return types.SimpleNamespace(owner=owner, bot=bot, group=gid)


@pytest.fixture
def admin_world(api, world):
    """As `world`, with the bot an admin of the group."""
    api.setadmin(world.owner.token, world.group, world.bot.id, True)
    return world


def thread_map(fn, n):
    """Runs fn(i) for i in range(n) in n threads released at the same instant."""
    barrier = threading.Barrier(n)
    results = [None] * n
    errors = []

    def run(i):
        try:
            barrier.wait(timeout=10)
            results[i] = fn(i)
        except BaseException as e:  # noqa: BLE001 - reported below
            errors.append(e)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    if errors:
        raise errors[0]
    return results


def dumps(obj):
    return json.dumps(obj, ensure_ascii=False)
