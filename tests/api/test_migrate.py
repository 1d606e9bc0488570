"""binkd migrate: a single-node installation's SQLite file copied into an empty
PostgreSQL database (users, bots, groups, messages, files' records, pending
events, delivery state), its row counts verified, and a server started on the
copy carrying on where the SQLite one stopped.

Contract: the issue ("copies a single-node installation ... into an empty
PostgreSQL database and verifies the row counts"), man/binkd.8 (migrate),
src/store/migrate.h. The PostgreSQL tests run only when $BINK_TEST_PG names a
database; each migrates into a schema of its own (dropped at the end). The
source installation is always SQLite (--db sqlite:<data>/bink.db), whatever
$BINK_TEST_PG says.
"""
import json
import os
import re
import shutil
import sqlite3
import subprocess
import time
import types
import uuid

import pytest
import requests

from conftest import BINK_TEST_PG, BINKD, PSQL, Api, Server, uname
from receiver import Receiver, free_port, set_webhook, updates, webhook_info

needs_pg = pytest.mark.skipif(not BINK_TEST_PG,
                              reason="needs $BINK_TEST_PG (a PostgreSQL database)")

# The tables of the SQLite schema (src/store/sqlite_schema.c), all copied.
TABLES = ("accounts", "groups", "members", "dms", "messages", "idempotency", "files",
          "stickers", "events", "webhook_state", "callbacks", "feed", "sessions",
          "chat_heads")
REPORT_RE = re.compile(r"^(\w+) (\d+) rows?$")
KB = {"inline_keyboard": [[{"text": "Yes", "callback_data": "yes"},
                           {"text": "No", "callback_data": "no"}]]}
PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"
# Text that COPY's text format must escape: tab, newline, carriage return,
# backslashes (also one that looks like an escape, and "\." alone on a line).
TRICKY = "tab\there\nnew line\r\nback\\slash \\N \\x41 \\.\n\\.\nquote ' \" é 中文 🙂"
CALLBACK_TTL = "3600"


# --------------------------------------------------------------------------
# helpers
# --------------------------------------------------------------------------
def run_migrate(*args, timeout=120):
    """binkd migrate ARGS; returns the CompletedProcess (text)."""
    return subprocess.run([BINKD, "migrate", *args], capture_output=True, text=True,
                          timeout=timeout, stdin=subprocess.DEVNULL)


def report_of(stdout):
    """The migrate report: {table: rows}; every stdout line must be one."""
    out = {}
    for line in stdout.splitlines():
        m = REPORT_RE.match(line)
        assert m, f"unexpected line in the migrate report: {line!r}"
        out[m.group(1)] = int(m.group(2))
    return out


def sqlite_counts(path):
    db = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        names = [r[0] for r in db.execute(
            "SELECT name FROM sqlite_master WHERE type = 'table' "
            "AND name NOT LIKE 'sqlite%'")]
        return {n: db.execute(f'SELECT count(*) FROM "{n}"').fetchone()[0] for n in names}
    finally:
        db.close()


def psql(sql, uri=None):
    r = subprocess.run([PSQL, "-qAt", "-v", "ON_ERROR_STOP=1", uri or BINK_TEST_PG, "-c", sql],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, f"psql {sql!r}: {r.stderr}"
    return r.stdout.strip()


def pg_state(uri):
    """Row counts of every copied table, and digests of a few, in the target."""
    counts = {t: int(psql(f"SELECT count(*) FROM {t}", uri)) for t in TABLES}
    digest = psql("SELECT md5(coalesce(string_agg(m::text, ',' ORDER BY id), '')) "
                  "FROM messages m", uri)
    return counts, digest


@pytest.fixture
def pg_schema():
    """make() -> (schema, URI) of a fresh, empty schema; all dropped at the end."""
    made = []

    def make():
        schema = "mig_" + uuid.uuid4().hex[:16]
        psql(f"CREATE SCHEMA {schema}")
        made.append(schema)
        sep = "&" if "?" in BINK_TEST_PG else "?"
        return schema, f"{BINK_TEST_PG}{sep}options=-csearch_path%3D{schema}"
    yield make
    for schema in made:
        psql(f"DROP SCHEMA IF EXISTS {schema} CASCADE")


def tables_in(schema):
    return int(psql("SELECT count(*) FROM information_schema.tables "
                    f"WHERE table_schema = '{schema}'"))


def sqlite_server(data):
    return Server(data, ["--db", f"sqlite:{data}/bink.db", "--callback-ttl", CALLBACK_TTL])


def small_sqlite(tmp_path):
    """A SQLite installation with one user, made by `binkd user add`."""
    data = str(tmp_path / "small")
    r = subprocess.run([BINKD, "--data", data, "--db", f"sqlite:{data}/bink.db", "user",
                        "add", uname()], capture_output=True, text=True, timeout=30)
    assert r.returncode == 0, r.stderr
    return os.path.join(data, "bink.db")


def wait_until(fn, timeout=10.0, what="condition"):
    deadline = time.monotonic() + timeout
    while True:
        v = fn()
        if v:
            return v
        assert time.monotonic() < deadline, f"timed out waiting for {what}; last: {v!r}"
        time.sleep(0.05)


def rebased(obj, api):
    """obj with the server's base URL (its port changes on restart) made neutral."""
    return json.loads(json.dumps(obj).replace(api.base, "http://binkd"))


def deliveries(api, owner, bot):
    return api.ok("/app/deliveries", owner.token,
                  {"bot_id": bot.id, "limit": 100})["deliveries"]


def getevents(api, token, **fields):
    return api.ok("/app/getevents", token, fields)["events"]


# --------------------------------------------------------------------------
# the single-node installation
# --------------------------------------------------------------------------
@pytest.fixture(scope="module")
def installation(tmp_path_factory):
    """A SQLite installation with some of everything, stopped; `before` holds
    what its API showed just before the stop."""
    data = str(tmp_path_factory.mktemp("migrate") / "data")
    s = sqlite_server(data)
    s.start()
    try:
        api = Api(s)
        owner, member = api.user(), api.user()
        pollbot, hookbot = api.bot(owner), api.bot(owner)

        # a group with members and messages (one edited, one deleted, tricky text)
        gid = api.creategroup(owner.token, title="Migrate \\ me\t", description=TRICKY)
        api.addmember(owner.token, gid, member.id)
        api.addmember(owner.token, gid, pollbot.id)
        sent = []

        def send(m):
            sent.append(m["message_id"])
            return m
        send(api.app_send(owner.token, "first", group_id=gid))
        send(api.app_send(member.token, TRICKY, group_id=gid))
        edited = send(api.app_send(owner.token, "to be edited", group_id=gid))
        api.ok("/app/editmessage", owner.token,
               {"message_id": edited["message_id"], "content": "edited " + TRICKY})
        gone = send(api.app_send(owner.token, "to be deleted", group_id=gid))
        api.ok("/app/deletemessage", owner.token, {"message_id": gone["message_id"]})
        kb = send(api.bot_send(pollbot.token, "choose", group_id=gid, extra=KB))
        send(api.app_send(owner.token, f"/start@{pollbot.username}", group_id=gid))

        # an uploaded file, sent in the group
        r = requests.post(api.url("/app/uploadfile"),
                          headers={"Authorization": "Bearer " + owner.token},
                          files={"file": ("report.pdf", PDF)}, timeout=30)
        assert r.status_code == 200, r.text
        file_id = r.json()["data"]["file_id"]
        send(api.app_send(owner.token, "the report", group_id=gid, message_type="file",
                          file_id=file_id))

        # a DM between people, DMs to the polling bot, a pending callback
        api.app_send(owner.token, "psst " + TRICKY, target_user_id=member.id)
        api.app_send(member.token, "psst back", target_user_id=owner.id)
        api.app_send(owner.token, "dm one", target_user_id=pollbot.id)
        api.app_send(member.token, "dm two", target_user_id=pollbot.id)
        click = api.ok("/app/clickbutton", member.token,
                       {"message_id": kb["message_id"], "callback_data": "yes"})
        assert click["answer"] is None
        # update 1 (member_joined) confirmed, the rest pending
        assert updates(api, pollbot.token, offset=2, timeout=0)[0]["update_id"] == 2
        poll_pending = updates(api, pollbot.token, timeout=0)
        assert [e["update_id"] for e in poll_pending] == list(range(2, 2 + len(poll_pending)))
        assert any(e["event_type"] == "callback_query" for e in poll_pending)

        # the webhook bot: one event delivered, then a webhook nobody answers
        with Receiver() as rcv:
            set_webhook(api, hookbot.token, rcv.url)
            api.app_send(owner.token, "h0", target_user_id=hookbot.id)
            rcv.wait_content("h0")
        set_webhook(api, hookbot.token, f"http://127.0.0.1:{free_port()}/hook")
        for who, text in ((owner, "h1"), (owner, "h2"), (member, "h3")):
            api.app_send(who.token, text, target_user_id=hookbot.id)

        def failing():
            ds = deliveries(api, owner, hookbot)
            st = {d["update_id"]: d for d in ds}
            ok = (len(ds) == 4 and st[1]["status"] == "delivered"
                  and st[2]["attempt"] >= 1 and st[4]["attempt"] >= 1 and st[2]["error"])
            return ds if ok else None
        hook_deliveries = wait_until(failing, 10, "failed webhook attempts")
        hook_info = webhook_info(api, hookbot.token)
        assert hook_info["pending_count"] == 3 and hook_info["last_error_msg"], hook_info

        before = types.SimpleNamespace(
            group=api.history(owner.token, group_id=gid),
            dm=api.history(owner.token, peer_id=member.id),
            bot_dm=api.history(owner.token, peer_id=pollbot.id),
            poll_pending=poll_pending,
            hook_deliveries=hook_deliveries,
            hook_info=hook_info,
            feed=getevents(api, owner.token),
            stickers=rebased(api.ok("/app/stickers", owner.token), api),
            chats=api.ok("/app/chats", owner.token),
            me=api.ok("/app/me", owner.token),
            getme=api.ok("/bot/getme", pollbot.token),
            file=api.request("GET", "/file/" + file_id, token=owner.token).content,
        )
        assert before.file == PDF
        # history is newest first: what we sent shows in reverse order
        mine = [x["message_id"] for x in before.group if x["message_id"] in sent]
        assert mine == [x for x in reversed(sent) if x in mine] and len(mine) >= 6
        assert before.feed
    finally:
        rc = s.stop()
    assert rc == 0, f"binkd exited with {rc}; log tail:\n" + "\n".join(s.lines[-30:])
    db = os.path.join(data, "bink.db")
    return types.SimpleNamespace(data=data, db=db, counts=sqlite_counts(db), owner=owner,
                                 member=member, pollbot=pollbot, hookbot=hookbot, gid=gid,
                                 file_id=file_id, callback=click["callback_id"],
                                 before=before)


# --------------------------------------------------------------------------
# the migration
# --------------------------------------------------------------------------
@needs_pg
def test_migrate_copies_everything_and_the_server_carries_on(installation, pg_schema):
    inst, before = installation, installation.before
    mtime = os.stat(inst.db).st_mtime_ns
    schema, uri = pg_schema()
    r = run_migrate("--from", f"sqlite:{inst.db}", "--to", uri)
    assert r.returncode == 0, r.stderr
    report = report_of(r.stdout)
    assert set(report) == set(TABLES) == set(inst.counts), report
    assert report == inst.counts
    for t in ("accounts", "groups", "members", "dms", "messages", "files", "stickers",
              "events", "webhook_state", "callbacks", "feed", "chat_heads"):
        assert report[t] > 0, f"the installation should have rows in {t}: {report}"
    assert os.stat(inst.db).st_mtime_ns == mtime, "the SQLite file was written"
    assert "postgresql://" not in r.stderr
    # what only PostgreSQL has: feed rows numbered (seq) as SQLite's ids, each
    # still the same row, and the counter at the end
    lite = sqlite3.connect(f"file:{inst.db}?mode=ro", uri=True)
    try:
        want = [f"{i}|{e}|{d}" for i, e, d in
                lite.execute("SELECT id, event, data FROM feed ORDER BY id")]
    finally:
        lite.close()
    got = psql("SELECT seq || '|' || event || '|' || data FROM feed ORDER BY seq", uri)
    assert got.split("\n") == want
    assert psql("SELECT v FROM feed_counter", uri) == psql("SELECT max(seq) FROM feed", uri)
    assert psql("SELECT count(*) FROM chat_heads WHERE lease_until <> 0 "
                "OR lease_node <> ''", uri) == "0"

    with_pg = Server(inst.data, ["--db", uri, "--callback-ttl", CALLBACK_TTL])
    with_pg.start()
    try:
        api = Api(with_pg)
        owner, member, pollbot, hookbot = inst.owner, inst.member, inst.pollbot, inst.hookbot
        # the same tokens, the same accounts
        assert api.ok("/app/me", owner.token) == before.me
        assert api.ok("/app/me", member.token)["user_id"] == member.id
        assert api.ok("/bot/getme", pollbot.token) == before.getme
        assert api.ok("/bot/getme", hookbot.token)["bot_id"] == hookbot.id
        # the same messages in the same order, the tricky text intact
        assert api.history(owner.token, group_id=inst.gid) == before.group
        assert TRICKY in [m.get("content") for m in before.group]
        assert api.history(owner.token, peer_id=member.id) == before.dm
        assert api.history(owner.token, peer_id=pollbot.id) == before.bot_dm
        assert api.ok("/app/chats", owner.token) == before.chats
        assert rebased(api.ok("/app/stickers", owner.token), api) == before.stickers
        # the file record and its bytes
        got = api.request("GET", "/file/" + inst.file_id, token=owner.token)
        assert got.status_code == 200 and got.content == PDF
        # the people's feed: the same events under the same ids
        assert getevents(api, owner.token) == before.feed
        last_feed = before.feed[-1]["id"]
        assert getevents(api, owner.token, offset=last_feed + 1) == []

        # the polling bot's pending events, same update_ids, then no gap
        assert updates(api, pollbot.token, timeout=0) == before.poll_pending
        last = before.poll_pending[-1]["update_id"]
        api.app_send(owner.token, "after the move", target_user_id=pollbot.id)
        nxt = updates(api, pollbot.token, offset=last + 1, timeout=5)
        assert [(e["update_id"], e["content"]) for e in nxt] == [(last + 1, "after the move")]
        # the pending callback can still be answered
        api.ok("/bot/answercallback", pollbot.token, {"callback_id": inst.callback,
                                                      "text": "done"})

        # the webhook bot's delivery state
        info = webhook_info(api, hookbot.token)
        assert info["url"] == before.hook_info["url"]
        assert info["pending_count"] == before.hook_info["pending_count"] == 3
        assert info["last_error_at"] >= before.hook_info["last_error_at"] > 0
        after = {d["update_id"]: d for d in deliveries(api, owner, hookbot)}
        for d in before.hook_deliveries:
            a = after[d["update_id"]]
            assert a["event_type"] == d["event_type"]
            if d["status"] == "delivered":
                assert a["status"] == "delivered" and a["attempt"] == d["attempt"], (d, a)
            else:
                assert a["status"] in ("pending", "retrying") and a["attempt"] >= d["attempt"]
        assert len(after) == 4
        api.ok("/bot/deletewebhook", hookbot.token, {})
        pend = updates(api, hookbot.token, timeout=0)
        assert [(e["update_id"], e["content"]) for e in pend] == [(2, "h1"), (3, "h2"),
                                                                  (4, "h3")]
        api.app_send(member.token, "h4", target_user_id=hookbot.id)
        assert [e["update_id"] for e in updates(api, hookbot.token, offset=5, timeout=5)] == [5]

        # new rows get new ids in every table with a sequence
        old_ids = {m["message_id"] for m in before.group}
        m = api.app_send(owner.token, "new one", group_id=inst.gid)
        assert m["message_id"] not in old_ids
        assert api.history(owner.token, group_id=inst.gid) == [m] + before.group
        feed_new = getevents(api, owner.token, offset=last_feed + 1)
        assert feed_new and feed_new[0]["id"] > last_feed
        assert any(e["event"] == "message_new" and e["data"]["message_id"] == m["message_id"]
                   for e in feed_new)
        newbie = api.user()
        assert newbie.id not in (owner.id, member.id)
        g2 = api.creategroup(newbie.token)
        assert g2 != inst.gid
        api.app_send(newbie.token, "hi", target_user_id=owner.id)
        r = requests.post(api.url("/app/uploadfile"),
                          headers={"Authorization": "Bearer " + newbie.token},
                          files={"file": ("other.pdf", PDF + b"% more\n")}, timeout=30)
        assert r.status_code == 200 and r.json()["data"]["file_id"] != inst.file_id, r.text
        kb = next(x for x in before.group if x["content"] == "choose")
        click = api.ok("/app/clickbutton", owner.token,
                       {"message_id": kb["message_id"], "callback_data": "no"})
        assert click["callback_id"] != inst.callback
    finally:
        rc = with_pg.stop()
    assert rc == 0, f"binkd on PostgreSQL exited with {rc}; log tail:\n" + \
        "\n".join(with_pg.lines[-30:])


@needs_pg
def test_migrate_into_a_non_empty_target_fails_and_changes_nothing(installation, pg_schema):
    schema, uri = pg_schema()
    first = run_migrate("--from", f"sqlite:{installation.db}", "--to", uri)
    assert first.returncode == 0, first.stderr
    state = pg_state(uri)
    again = run_migrate("--from", f"sqlite:{installation.db}", "--to", uri)
    assert again.returncode == 1, again.stderr
    assert "not empty" in again.stderr and "accounts" in again.stderr
    assert again.stdout == ""
    assert pg_state(uri) == state

    # one row in one table is enough to refuse
    schema2, uri2 = pg_schema()
    ok = run_migrate("--from", f"sqlite:{installation.db}", "--to", uri2)
    assert ok.returncode == 0, ok.stderr
    psql("DELETE FROM accounts; DELETE FROM members; DELETE FROM messages", uri2)
    assert int(psql("SELECT count(*) FROM events", uri2)) > 0
    state2 = pg_state(uri2)
    r = run_migrate("--from", f"sqlite:{installation.db}", "--to", uri2)
    assert r.returncode == 1 and "events" in r.stderr, r.stderr
    assert pg_state(uri2) == state2


@needs_pg
def test_migrate_a_missing_sqlite_file_fails(tmp_path, pg_schema):
    schema, uri = pg_schema()
    data = tmp_path / "nodata"
    missing = tmp_path / "nowhere" / "bink.db"
    r = subprocess.run([BINKD, "--data", str(data), "migrate", "--from", f"sqlite:{missing}",
                        "--to", uri], capture_output=True, text=True, timeout=60)
    assert r.returncode == 1, r.stderr
    assert str(missing) in r.stderr and r.stdout == ""
    assert not data.exists(), "migrate created the data directory"
    assert not missing.exists() and not missing.parent.exists()
    assert tables_in(schema) == 0, "the target was touched"


@needs_pg
def test_migrate_an_empty_installation(tmp_path, pg_schema):
    """A file with the current schema and (almost) no rows: empty tables copy as 0
    rows, and the sequences still start at 1."""
    db = small_sqlite(tmp_path)
    schema, uri = pg_schema()
    r = run_migrate("--from", f"sqlite:{db}", "--to", uri)
    assert r.returncode == 0, r.stderr
    report = report_of(r.stdout)
    assert report["accounts"] == 1 and report["messages"] == 0 and report["feed"] == 0
    assert psql("SELECT v FROM feed_counter", uri) == "0"
    assert psql("SELECT nextval(pg_get_serial_sequence('messages', 'id'))", uri) == "1"
    assert psql("SELECT nextval(pg_get_serial_sequence('accounts', 'id'))", uri) == \
        str(int(psql("SELECT max(id) FROM accounts", uri)) + 1)


# --------------------------------------------------------------------------
# refusals that need no PostgreSQL
# --------------------------------------------------------------------------
@pytest.mark.parametrize("args", [
    [],
    ["--from", "sqlite:/tmp/x.db"],
    ["--to", "postgresql://127.0.0.1:1/x"],
    ["extra", "--from", "sqlite:/tmp/x.db", "--to", "postgresql://127.0.0.1:1/x"],
    ["--from", "/tmp/x.db", "--to", "postgresql://127.0.0.1:1/x"],
    ["--from", "sqlite:/tmp/x.db", "--to", "sqlite:/tmp/y.db"],
])
def test_migrate_usage_errors_exit_2(tmp_path, args):
    data = tmp_path / "data"
    r = subprocess.run([BINKD, "--data", str(data), "migrate", *args], capture_output=True,
                       text=True, timeout=30)
    assert r.returncode == 2, (r.returncode, r.stderr)
    assert "migrate" in r.stderr or "--from" in r.stderr or "--to" in r.stderr
    assert not data.exists()


def test_migrate_refuses_an_old_schema(tmp_path):
    db = small_sqlite(tmp_path)
    old = str(tmp_path / "old.db")
    shutil.copyfile(db, old)
    con = sqlite3.connect(old)
    version = con.execute("PRAGMA user_version").fetchone()[0]
    con.execute(f"PRAGMA user_version = {version - 1}")
    con.commit()
    con.close()
    r = run_migrate("--from", f"sqlite:{old}", "--to", "postgresql://127.0.0.1:1/x")
    assert r.returncode == 1
    assert "start the current binkd" in r.stderr, r.stderr


def test_migrate_never_prints_the_password(tmp_path):
    db = small_sqlite(tmp_path)
    secret = "s3cr3t-" + uuid.uuid4().hex[:8]
    r = run_migrate("--from", f"sqlite:{db}",
                    "--to", f"postgresql://bink:{secret}@127.0.0.1:{free_port()}/nodb")
    assert r.returncode == 1
    assert r.stderr.strip() and secret not in r.stderr + r.stdout
