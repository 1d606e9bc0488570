"""Several binkd nodes on one PostgreSQL database (docs/scaling.md).

Three nodes A, B, C are started on the same --db (a schema of its own per test, from
pg_uri_for) and driven over HTTP, each through its own port. What must hold across
nodes (docs/scaling.md "Guarantees that hold across nodes", events.md):
  - any node serves any request: a write through A is read at once through B;
  - webhook deliveries: one attempt at a time per chat, in update_id order, the chat's
    lease held by one node; a dead node's leases run out (--webhook-timeout + 5 s) and
    another node sends again; nothing acknowledged is lost;
  - a getupdates long poll on one node wakes when another node commits;
  - update_id stays gapless per bot when two nodes write for it at once;
  - PostgreSQL restarting: 503 while it is down, nothing acknowledged lost, every node
    reconnects by itself, long polls stay open;
  - answering one callback_id at once on two nodes: one 200, one 409;
  - Idempotency-Key: a repeat on another node waits for the first and gets its answer.

The whole module needs $BINK_TEST_PG; the PostgreSQL restart test also needs
$BINK_TEST_PG_DIR (the cluster directory that scripts/pg-cluster.sh manages).
"""
import contextlib
import os
import subprocess
import threading
import time
import uuid

import pytest
import requests

from conftest import BINK_TEST_PG, Api, assert_error, pg_uri_for, uname
from receiver import Poller, Receiver, Server, kill9, set_webhook, updates

pytestmark = pytest.mark.skipif(not BINK_TEST_PG,
                                reason="needs $BINK_TEST_PG (several nodes share PostgreSQL)")

BINK_TEST_PG_DIR = os.environ.get("BINK_TEST_PG_DIR", "")
PG_CLUSTER = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..",
                          "scripts", "pg-cluster.sh")
KB = {"inline_keyboard": [[{"text": "OK", "callback_data": "ok"}]]}


# --------------------------------------------------------------------------
# helpers
# --------------------------------------------------------------------------
class Nodes:
    """binkd nodes sharing one database; stop() SIGTERMs every live one."""

    def __init__(self, tmp_path, extra=(), shared_data=False):
        self.tmp_path = tmp_path
        self.uri = pg_uri_for(str(tmp_path / "shared"))
        self.extra = list(extra)
        self.shared_data = shared_data
        self.servers = {}          # name -> Server
        self.killed = set()

    def data_dir(self, name):
        d = self.tmp_path / ("shared" if self.shared_data else f"data-{name}")
        d.mkdir(exist_ok=True)
        return str(d)

    def start(self, *names):
        """Starts the named nodes at the same time (migrations run under an advisory
        lock, so that is safe); returns their Apis in the order given."""
        errors = []

        def one(name):
            s = Server(self.data_dir(name), ["--db", self.uri, *self.extra])
            self.servers[name] = s
            try:
                s.start()
            except BaseException as e:  # noqa: BLE001 - re-raised below
                errors.append(e)

        threads = [threading.Thread(target=one, args=(n,)) for n in names]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=30)
        if errors:
            raise errors[0]
        return [Api(self.servers[n]) for n in names]

    def kill9(self, name):
        kill9(self.servers[name])
        self.killed.add(name)

    def stop(self):
        """SIGTERM every node not killed; returns {name: exit code}."""
        rcs = {}
        for name, s in self.servers.items():
            if name not in self.killed and s.proc is not None:
                rcs[name] = s.stop()
        return rcs

    def logs(self):
        """The tail of each node's log; the whole logs go to <tmp_path>/node-X.log."""
        out = []
        for n, s in self.servers.items():
            path = self.tmp_path / f"node-{n}.log"
            path.write_text(s.log_text() + "\n")
            out.append(f"----- node {n} (whole log: {path}) -----\n" + "\n".join(s.lines[-60:]))
        return "\n".join(out)


@contextlib.contextmanager
def nodes(tmp_path, extra=(), shared_data=False):
    """Nodes of one test; at the end every node not killed must exit 0 on SIGTERM."""
    ns = Nodes(tmp_path, extra, shared_data)
    try:
        yield ns
    except BaseException:
        rcs = ns.stop()
        print(f"exit codes after SIGTERM: {rcs}\n{ns.logs()}")
        raise
    rcs = ns.stop()
    bad = {n: rc for n, rc in rcs.items() if rc != 0}
    assert not bad, f"nodes exited with {bad} after SIGTERM\n{ns.logs()}"


def wait_until(fn, timeout, what, step=0.05):
    """Polls fn() until it returns something truthy, for state nothing announces."""
    deadline = time.monotonic() + timeout
    while True:
        v = fn()
        if v:
            return v
        if time.monotonic() >= deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}; last {v!r}")
        time.sleep(step)


class Bg(threading.Thread):
    """fn() in a thread; .result or .error, .t_done (monotonic) when it returns."""

    def __init__(self, fn):
        super().__init__(daemon=True)
        self.fn = fn
        self.result = None
        self.error = None
        self.t_done = None

    def run(self):
        try:
            self.result = self.fn()
        except BaseException as e:  # noqa: BLE001 - checked by the test
            self.error = e
        self.t_done = time.monotonic()


def raw_call(api, path, token, json, headers=None, timeout=30):
    """(status, body or text) of one request; never raises on a status."""
    r = api.request("POST", path, token=token, json=json, headers=headers, timeout=timeout)
    try:
        return r.status_code, r.json()
    except ValueError:
        return r.status_code, r.text


def park(bg, pause=0.3):
    """Starts a long poll and gives it a moment to be parked in its node. Nothing in
    the API shows a parked poll, so this is the one short pause we take (as in
    test_events_polling.py); without it the poll could find the event already
    committed and would prove nothing about the cross-node wake-up."""
    bg.start()
    time.sleep(pause)
    assert bg.t_done is None, f"the long poll returned early: {bg.result!r} {bg.error!r}"


# --------------------------------------------------------------------------
# 1. a write through A is read through B at once; its webhook arrives exactly once
# --------------------------------------------------------------------------
def test_write_on_a_read_on_b_webhook_exactly_once(tmp_path):
    with nodes(tmp_path) as ns, Receiver() as rcv:
        a, b, c = ns.start("A", "B", "C")          # started together
        user = a.user()
        bot = b.bot(user)
        set_webhook(c, bot.token, rcv.url)
        sent = a.app_send(user.token, "across nodes", target_user_id=bot.id)
        mid = sent["message_id"]
        # at once, no waiting: the database is the source of truth for every node
        for other in (b, c):
            hist = other.history(user.token, peer_id=bot.id)
            assert [m["message_id"] for m in hist] == [mid], hist
            assert hist[0]["content"] == "across nodes" and hist[0]["sender_id"] == user.id

        wid = f"evt_{bot.id}_1"
        first = rcv.wait(lambda hs: [h for h in hs if h.wid == wid and h.acked],
                         timeout=10, what=f"{wid} acknowledged")[0]
        assert first.event["message_id"] == mid and first.event["update_id"] == 1
        assert first.attempt == 1, first
        # Exactly once: there is nothing to await for "no second delivery", so we watch
        # for a bounded 1.5 s. Every node's dispatcher is woken by the commit (NOTIFY)
        # and a node that wrongly sent the event too would do so within milliseconds;
        # an acknowledgement that was not recorded would be retried after the first
        # back-off of 1 s (+20 % jitter = 1.2 s), so 1.5 s covers both.
        deadline = time.monotonic() + 1.5
        with rcv.cond:
            while time.monotonic() < deadline:
                rcv.cond.wait(max(0.01, deadline - time.monotonic()))
            hits = [h for h in rcv.hits if h.wid == wid]
        assert len(hits) == 1, f"{wid} delivered {len(hits)} times: {hits}"
        assert len(rcv.snapshot()) == 1, rcv.snapshot()
        assert rcv.overlaps == []
        # the delivery log (read through yet another node) agrees
        log = wait_until(
            lambda: [d for d in a.ok("/app/deliveries", user.token,
                                     {"bot_id": bot.id})["deliveries"]
                     if d["update_id"] == 1 and d["status"] == "delivered"],
            5, "the delivery recorded as delivered")
        assert log[0]["attempt"] == 1 and log[0]["http_status"] == 200, log


# --------------------------------------------------------------------------
# 2. a long poll on C wakes when A commits
# --------------------------------------------------------------------------
def test_long_poll_on_c_wakes_when_a_commits(tmp_path):
    with nodes(tmp_path) as ns:
        a, b, c = ns.start("A", "B", "C")
        user = a.user()
        bot = a.bot(user)
        a.app_send(user.token, "before 1", target_user_id=bot.id)
        b.app_send(user.token, "before 2", target_user_id=bot.id)
        assert [e["update_id"] for e in updates(c, bot.token, timeout=0)] == [1, 2]
        offset = 3
        # three rounds, each with the poll on one node and the commit on another
        for n, (poller, writer) in enumerate([(c, a), (a, b), (b, c)]):
            poll = Bg(lambda p=poller, o=offset: raw_call(
                p, "/bot/getupdates", bot.token, {"offset": o, "timeout": 20}, timeout=40))
            park(poll)
            content = f"wake {n}"
            writer.app_send(user.token, content, target_user_id=bot.id)
            t_commit = time.monotonic()
            poll.join(timeout=25)
            assert poll.t_done is not None, "the long poll did not return"
            assert poll.error is None, poll.error
            dt = poll.t_done - t_commit
            status, body = poll.result
            assert status == 200, body
            evs = body["data"]
            assert [(e["update_id"], e["content"]) for e in evs] == [(offset, content)], evs
            print(f"round {n}: long poll returned {dt * 1000:.0f} ms after the commit")
            assert dt < 5.0, (f"round {n}: the long poll returned {dt:.2f}s after the "
                              "commit on another node (expected about at once)")
            offset += 1


# --------------------------------------------------------------------------
# 3. update_id gapless when two nodes write for the same bot at once
# --------------------------------------------------------------------------
def test_update_id_gapless_with_two_writers(tmp_path):
    threads_n, per_thread = 4, 25
    with nodes(tmp_path) as ns:
        a, b, c = ns.start("A", "B", "C")
        owner = a.user()
        senders = [a.user() for _ in range(threads_n)]
        gid = a.creategroup(owner.token)
        for s in senders:
            a.addmember(owner.token, gid, s.id)
        bot = a.bot(owner)
        a.addmember(owner.token, gid, bot.id)       # the bot's own member_joined: 1
        poller = Poller(c, bot.token)
        [joined] = poller.take(1)
        assert joined["event_type"] == "member_joined" and joined["update_id"] == 1
        first = 2

        writers = [a, b]
        barrier = threading.Barrier(threads_n)
        sent = [[] for _ in range(threads_n)]
        errors = []

        def run(i):
            try:
                barrier.wait(timeout=10)
                for j in range(per_thread):
                    api = writers[(i + j) % 2]      # half through A, half through B
                    content = f"@{bot.username} t{i} m{j}"
                    d = api.app_send(senders[i].token, content, group_id=gid)
                    sent[i].append((d["message_id"], content))
            except BaseException as e:  # noqa: BLE001 - reported below
                errors.append(e)

        ts = [threading.Thread(target=run, args=(i,)) for i in range(threads_n)]
        for t in ts:
            t.start()
        for t in ts:
            t.join(timeout=120)
        assert not errors, errors
        total = threads_n * per_thread
        assert sum(len(s) for s in sent) == total

        evs = poller.take(total, timeout=20)
        uids = [e["update_id"] for e in evs]
        assert uids == list(range(first, first + total)), \
            f"update_ids not gapless/unique: {uids}"
        assert all(e["event_type"] == "group_message" and e["group_id"] == gid for e in evs)
        mids = [e["message_id"] for e in evs]
        assert len(set(mids)) == total, "one message delivered twice"
        assert set(mids) == {m for s in sent for m, _ in s}
        for i, s in enumerate(senders):
            mine = [(e["message_id"], e["content"]) for e in evs if e["sender_id"] == s.id]
            assert mine == sent[i], f"sender {i}: events out of send order"
        # nothing beyond them
        assert updates(c, bot.token, offset=first + total, timeout=0) == []
        # and history agrees, through the third node
        hist = c.full_history(owner.token, group_id=gid)
        texts = [m["message_id"] for m in hist if m.get("message_type") == "text"]
        assert sorted(texts) == sorted(mids)
        for i in range(threads_n):
            order = [m["message_id"] for m in hist if m.get("sender_id") == senders[i].id
                     and m.get("message_type") == "text"]
            assert order == [m for m, _ in sent[i]], f"sender {i}: history out of order"


# --------------------------------------------------------------------------
# 4. a node killed while holding leases: the others take over, order kept, none lost
# --------------------------------------------------------------------------
def test_killed_node_leases_expire_and_others_deliver(tmp_path):
    timeout_s = 2                       # lease = --webhook-timeout + 5 s = 7 s
    lease_s = timeout_s + 5
    chats, per_chat = 3, 4
    b_dead = threading.Event()

    def respond(hit):
        # every request that arrives before B is killed comes from B (it runs alone
        # until then): hold it until B is dead, then hang up, so that nothing B sent
        # is acknowledged
        if not b_dead.is_set():
            b_dead.wait(timeout=15)
            return "close"
        return 200

    with nodes(tmp_path, ["--webhook-timeout", str(timeout_s)]) as ns, \
            Receiver(respond) as rcv:
        [b] = ns.start("B")
        owner = b.user()
        bot = b.bot(owner)
        users = [b.user() for _ in range(chats)]
        set_webhook(b, bot.token, rcv.url)
        # per_chat messages in each of `chats` private chats, interleaved
        expected = {}                   # update_id -> (chat index, message_id)
        for j in range(per_chat):
            for i, u in enumerate(users):
                d = b.app_send(u.token, f"c{i} m{j}", target_user_id=bot.id)
                expected[len(expected) + 1] = (i, d["message_id"])
        # B sends each chat's head and holds it (one attempt per chat at a time)
        held = rcv.wait(lambda hs: hs if len({h.event["sender_id"] for h in hs}) == chats
                        else None, timeout=10, what="B sending the head of each chat")
        t_first = min(h.t_start for h in held)
        # kill B well before its own 2 s timeout would record an outcome and end its
        # leases: it dies holding the leases of all three chats
        ns.kill9("B")
        t_kill = time.monotonic()
        b_dead.set()
        assert t_kill - t_first < timeout_s, \
            f"setup too slow: B killed {t_kill - t_first:.2f}s after its first request"
        b_hits = rcv.snapshot()
        assert len(b_hits) == chats, f"B sent more than each chat's head: {b_hits}"
        assert sorted(h.update_id for h in b_hits) == list(range(1, chats + 1)), b_hits
        # the other nodes come up while B's leases are still running
        a, c = ns.start("A", "C")

        total = chats * per_chat
        rcv.wait(lambda hs: len({h.update_id for h in hs if h.acked}) == total,
                 timeout=20 + lease_s, what="every event acknowledged through A or C")
        hits = rcv.snapshot()
        assert rcv.errors == [], rcv.errors
        assert rcv.overlaps == [], f"two attempts of one event at once: {rcv.overlaps}"
        assert not any(h.acked for h in b_hits), b_hits
        acked = [h for h in hits if h.acked]
        assert {h.update_id for h in acked} == set(expected), "an event was lost"
        for h in acked:
            i, mid = expected[h.update_id]
            assert h.event["message_id"] == mid and h.event["sender_id"] == users[i].id, h
            assert h.wid == f"evt_{bot.id}_{h.update_id}"
        # A and C honoured B's leases until they ran out (7 s after B claimed them;
        # B sent at once after claiming, so at least ~6 s after its requests began)
        after = [h for h in hits if h.seq >= len(b_hits)]
        print(f"B killed {t_kill - t_first:.2f}s after its first request; A/C's first "
              f"request {min(h.t_start for h in after) - t_first:.2f}s after it; "
              f"{len(after)} requests from A/C")
        for h in after:
            assert h.t_start - t_first >= lease_s - 1.0, \
                f"{h} sent {h.t_start - t_first:.2f}s after B's requests: B's lease not kept"
        # per chat: first acknowledgements in update_id order
        for i, u in enumerate(users):
            firsts = []
            for h in acked:
                if h.event["sender_id"] == u.id and h.update_id not in firsts:
                    firsts.append(h.update_id)
            want = sorted(uid for uid, (ci, _) in expected.items() if ci == i)
            assert firsts == want, f"chat {i}: acknowledged in order {firsts}, want {want}"
            # and never an attempt of a later event before the earlier one was acked
            chat_hits = [h for h in after if h.event["sender_id"] == u.id]
            for k, h in enumerate(chat_hits):
                earlier = [x for x in want if x < h.update_id]
                done = {x.update_id for x in chat_hits[:k] if x.acked}
                assert set(earlier) <= done, f"chat {i}: {h} sent before {earlier} acked"
        # nothing pending is left: the delivery log says delivered for each event
        def delivered():
            ds = a.ok("/app/deliveries", owner.token,
                      {"bot_id": bot.id, "limit": 100})["deliveries"]
            done = {d["update_id"] for d in ds if d["status"] == "delivered"}
            return done if done == set(expected) else None
        wait_until(delivered, 5, "every event recorded as delivered")


def test_frozen_node_past_its_lease_cannot_undo_the_takeover(tmp_path):
    """B claims a chat's head and is frozen (SIGSTOP) while its request hangs, past
    its lease; A takes the event over and delivers it and the next one. When B
    thaws, its late outcome (a timeout) records nothing: the event stays delivered
    and is not sent again, and the chat's order holds."""
    import signal
    timeout_s = 2                        # lease = --webhook-timeout + 5 s = 7 s
    first = threading.Event()

    def respond(hit):
        if not first.is_set():           # B's request: never answered in time
            first.set()
            time.sleep(timeout_s + 1)
            return "close"
        return 200

    with nodes(tmp_path, ["--webhook-timeout", str(timeout_s)]) as ns, \
            Receiver(respond) as rcv:
        [b] = ns.start("B")
        owner = b.user()
        bot = b.bot(owner)
        set_webhook(b, bot.token, rcv.url)
        b.app_send(owner.token, "one", target_user_id=bot.id)
        rcv.wait(lambda hs: hs, timeout=10, what="B sending update 1")
        os.kill(ns.servers["B"].proc.pid, signal.SIGSTOP)
        try:
            [a] = ns.start("A")
            a.app_send(owner.token, "two", target_user_id=bot.id)
            rcv.wait(lambda hs: {h.update_id for h in hs if h.acked} == {1, 2},
                     timeout=20, what="A delivering updates 1 and 2 after B's lease")
        finally:
            os.kill(ns.servers["B"].proc.pid, signal.SIGCONT)
        # B wakes up, finds its attempt timed out, and must not record it: wait until
        # B has dealt with it (its log says so), then nothing more may be sent
        assert ns.servers["B"].wait_log("lease ran out", timeout=10), ns.logs()
        time.sleep(1.5)                  # a revived event would be sent within ~1 s
        hits = rcv.snapshot()
        assert [h.update_id for h in hits if h.acked] == [1, 2], hits
        assert len([h for h in hits if h.update_id == 1]) == 2, hits  # B's, then A's
        ds = a.ok("/app/deliveries", owner.token, {"bot_id": bot.id})["deliveries"]
        assert {d["update_id"]: d["status"] for d in ds} == {1: "delivered", 2: "delivered"}


# --------------------------------------------------------------------------
# 5. PostgreSQL restarted under load
# --------------------------------------------------------------------------
def _pg(cmd):
    return subprocess.run(["bash", PG_CLUSTER, cmd, BINK_TEST_PG_DIR], capture_output=True,
                          text=True, timeout=120)


def _pg_running():
    return subprocess.run(["/usr/lib/postgresql/15/bin/pg_ctl", "status", "-D",
                           os.path.join(BINK_TEST_PG_DIR, "data")],
                          capture_output=True).returncode == 0


@pytest.mark.skipif(not BINK_TEST_PG_DIR, reason="needs $BINK_TEST_PG_DIR to restart it")
def test_postgres_restart_under_load(tmp_path):
    client_timeout = 15
    with nodes(tmp_path) as ns:
        a, b, c = ns.start("A", "B", "C")
        owner = a.user()
        gid = a.creategroup(owner.token)
        bot = a.bot(owner)
        a.addmember(owner.token, gid, bot.id)
        poller = Poller(c, bot.token)
        assert [e["event_type"] for e in poller.take(1)] == ["member_joined"]

        results = []                    # (n, key, content, status, body, seconds)
        cond = threading.Condition()
        stop = threading.Event()
        crashes = []

        def load():
            n = 0
            try:
                while not stop.is_set():
                    key = f"pg-{uuid.uuid4().hex[:8]}-{n}"
                    content = f"load {n}"
                    t0 = time.monotonic()
                    try:
                        status, body = raw_call(
                            a, "/app/sendmessage", owner.token,
                            {"group_id": gid, "message_type": "text", "content": content},
                            headers={"Idempotency-Key": key}, timeout=client_timeout)
                    except requests.RequestException as e:
                        status, body = None, repr(e)
                    with cond:
                        results.append((n, key, content, status, body,
                                        time.monotonic() - t0, time.monotonic()))
                        cond.notify_all()
                    n += 1
                    time.sleep(0.02)
            except BaseException as e:  # noqa: BLE001 - reported below
                crashes.append(e)
                with cond:
                    cond.notify_all()

        def wait_results(pred, timeout, what):
            deadline = time.monotonic() + timeout
            with cond:
                while not pred(results):
                    left = deadline - time.monotonic()
                    if left <= 0 or crashes:
                        raise AssertionError(f"timed out after {timeout}s waiting for {what}"
                                             f"; last results {results[-5:]}; {crashes}")
                    cond.wait(min(left, 0.5))

        loader = threading.Thread(target=load, daemon=True)
        stopped = False
        poll = None
        try:
            loader.start()
            wait_results(lambda rs: sum(1 for r in rs if r[3] == 200) >= 10, 15,
                         "10 messages stored before the restart")
            # a long poll held by C across the restart (it must stay open)
            poll = Bg(lambda: raw_call(c, "/bot/getupdates", bot.token,
                                       {"offset": poller.offset, "timeout": 45}, timeout=60))
            park(poll)

            r = _pg("stop")
            stopped = True
            assert r.returncode == 0, r.stderr
            t_down = time.monotonic()
            # requests fail while it is down (wait for a few that started after the stop)
            # requests fail while it is down: keep it down for 2 s of load
            wait_results(lambda rs: sum(1 for x in rs if x[6] - x[5] > t_down) >= 5 and
                         any(x[6] - x[5] > t_down + 2.0 for x in rs), 30,
                         "answers to requests sent while PostgreSQL is down")
            t_restart = time.monotonic()          # PostgreSQL is down until here at least
            r = _pg("start")
            assert r.returncode == 0, r.stderr
            stopped = False
            t_up = time.monotonic()               # and up from here at the latest
            # the nodes reconnect by themselves: successes again within a few seconds
            wait_results(lambda rs: sum(1 for x in rs if x[6] - x[5] > t_up and x[3] == 200)
                         >= 5, 15, "5 messages stored after PostgreSQL came back")
        finally:
            stop.set()
            loader.join(timeout=client_timeout + 5)
            if stopped or not _pg_running():
                _pg("start")
        assert not crashes, crashes
        t_back = min(x[6] for x in results if x[6] - x[5] > t_up and x[3] == 200)
        print(f"{len(results)} requests; PostgreSQL down {t_up - t_down:.2f}s; first "
              f"success {t_back - t_up:.2f}s after it came back")

        statuses = {x[3] for x in results}
        assert None not in statuses, \
            f"a request hung or failed at the HTTP level: {[x for x in results if x[3] is None]}"
        assert statuses <= {200, 503}, \
            f"statuses other than 200/503: {[x for x in results if x[3] not in (200, 503)]}"
        failed = [x for x in results if x[3] == 503]
        down = [x for x in results if x[6] - x[5] > t_down and x[6] < t_restart]
        assert down and all(x[3] == 503 for x in down), \
            f"answers while PostgreSQL was down: {[(x[0], x[3]) for x in down]}"
        for x in failed:
            assert_error(x[3], x[4], 503)
        slowest = max(x[5] for x in results)
        assert slowest < client_timeout, f"a request took {slowest:.1f}s"
        assert t_back - t_up < 10, f"nodes took {t_back - t_up:.1f}s to reconnect"

        # B and C, idle through the restart, serve reads and writes again within a few
        # seconds too (a probe write with an Idempotency-Key, so retries store it once)
        for name, api in (("B", b), ("C", c)):
            t0 = time.monotonic()
            key = f"probe-{name}-{uuid.uuid4().hex[:8]}"
            probe = {"group_id": gid, "message_type": "text", "content": f"probe {name}"}
            seen = []

            def served(api=api, key=key, probe=probe, seen=seen):
                r1 = raw_call(api, "/app/sendmessage", owner.token, probe,
                              headers={"Idempotency-Key": key})
                r2 = raw_call(api, "/app/history", owner.token, {"group_id": gid, "limit": 1})
                seen.append((round(time.monotonic() - t_up, 2), r1[0], r2[0]))
                assert r1[0] in (200, 503) and r2[0] in (200, 503), (r1, r2)
                return r1[0] == 200 and r2[0] == 200

            wait_until(served, 10, f"node {name} serving again", step=0.2)
            print(f"node {name}: (s after restart, sendmessage, history): {seen}")
            assert time.monotonic() - t0 < 10

        # "Every node reconnects by itself": a few seconds after PostgreSQL is back no
        # request may fail any more, whichever of a node's connections it lands on.
        # Nothing announces that a node has reconnected, so we give it until 3 s after
        # the restart, then send a burst of concurrent reads and writes to every node
        # (more at once than a node has server threads, so that each thread's
        # connection is used). Checked at the end, after the data checks.
        left = t_up + 3.0 - time.monotonic()
        if left > 0:
            time.sleep(left)
        burst = []                      # (node, what, status, t after restart)
        burst_lock = threading.Lock()

        def burst_one(name, api, i):
            if i % 2:
                st, _ = raw_call(api, "/app/history", owner.token,
                                 {"group_id": gid, "limit": 5})
                what = "history"
            else:
                st, _ = raw_call(api, "/app/sendmessage", owner.token,
                                 {"group_id": gid, "message_type": "text",
                                  "content": f"burst {name} {i}"},
                                 headers={"Idempotency-Key": f"burst-{gid}-{name}-{i}"})
                what = "sendmessage"
            with burst_lock:
                burst.append((name, what, st, round(time.monotonic() - t_up, 2)))

        per_node = 2 * (os.cpu_count() or 2) + 4
        ts = [threading.Thread(target=burst_one, args=(name, api, i))
              for name, api in (("A", a), ("B", b), ("C", c)) for i in range(per_node)]
        for t in ts:
            t.start()
        for t in ts:
            t.join(timeout=client_timeout + 5)
        # a later retry of each failed burst write, with its key, so the data checks
        # below see every burst message once (Idempotency-Key)
        for name, api in (("A", a), ("B", b), ("C", c)):
            for i in range(0, per_node, 2):
                wait_until(lambda api=api, name=name, i=i: raw_call(
                    api, "/app/sendmessage", owner.token,
                    {"group_id": gid, "message_type": "text", "content": f"burst {name} {i}"},
                    headers={"Idempotency-Key": f"burst-{gid}-{name}-{i}"})[0] == 200,
                    10, f"burst write {name} {i} stored", step=0.2)

        # a commit after the restart, for the long poll held by C across it
        t_wake = time.monotonic()
        wake = wait_until(lambda: (lambda r: r[1]["data"] if r[0] == 200 else None)(
            raw_call(b, "/app/sendmessage", owner.token,
                     {"group_id": gid, "message_type": "text",
                      "content": f"@{bot.username} after the restart"},
                     headers={"Idempotency-Key": f"wake-{gid}"})), 10, "the wake-up stored")

        # nothing acknowledged is lost
        hist = b.full_history(owner.token, group_id=gid)
        by_content = {}
        for m in hist:
            by_content.setdefault(m.get("content"), []).append(m["message_id"])
        for x in results:
            if x[3] == 200:
                assert by_content.get(x[2]) == [x[4]["data"]["message_id"]], \
                    f"acknowledged message {x[2]!r} -> {by_content.get(x[2])}"
        # retrying a failed one with its key stores it exactly once (it may have been
        # committed already: then the retry gets the stored answer)
        for x in failed:
            d = a.ok("/app/sendmessage", owner.token,
                     {"group_id": gid, "message_type": "text", "content": x[2]},
                     headers={"Idempotency-Key": x[1]})
            again = c.ok("/app/sendmessage", owner.token,
                         {"group_id": gid, "message_type": "text", "content": x[2]},
                         headers={"Idempotency-Key": x[1]})
            assert again["message_id"] == d["message_id"]
        hist = c.full_history(owner.token, group_id=gid)
        counts = {}
        for m in hist:
            counts[m.get("content")] = counts.get(m.get("content"), 0) + 1
        for x in results:
            assert counts.get(x[2]) == 1, f"{x[2]!r} stored {counts.get(x[2])} times"
        for name in "ABC":
            for i in range(0, per_node, 2):
                assert counts.get(f"burst {name} {i}") == 1, (name, i)

        problems = []
        # the long poll stayed open through the restart (scaling.md: "long polls and
        # streams stay open") and woke on the commit made after it
        poll.join(timeout=50)
        assert poll.t_done is not None and poll.error is None, poll.error
        status, body = poll.result
        if not (status == 200 and poll.t_done >= t_wake):
            problems.append(
                f"the long poll held by C across the restart ended with HTTP {status} "
                f"{body} {poll.t_done - t_down:+.2f}s after PostgreSQL was stopped "
                f"(restarted at {t_up - t_down:+.2f}s)")
        else:
            assert [e["message_id"] for e in body["data"]] == [wake["message_id"]], body
            # the bot saw none of the load (not addressed to it), only the wake-up, once
            evs = updates(c, bot.token, offset=poller.offset, timeout=0)
            assert [e["message_id"] for e in evs] == [wake["message_id"]], evs
        bad = [x for x in burst if x[2] != 200]
        print(f"burst 3 s after the restart: {len(burst)} requests, not 200: {bad}")
        if bad:
            problems.append(f"{len(bad)} of {len(burst)} requests sent 3 s after "
                            f"PostgreSQL came back failed (node, call, status, s after "
                            f"restart): {bad}")
        assert not problems, "\n".join(problems)


# --------------------------------------------------------------------------
# 6. one callback_id answered at once through two nodes: one 200, one 409
# --------------------------------------------------------------------------
def test_answercallback_race_across_nodes(tmp_path):
    rounds = 5
    with nodes(tmp_path) as ns:
        a, b, c = ns.start("A", "B", "C")
        owner = a.user()
        bot = a.bot(owner)
        gid = a.creategroup(owner.token)
        a.addmember(owner.token, gid, bot.id)
        poller = Poller(a, bot.token)
        poller.take(1)                                   # the bot's member_joined
        kb = b.bot_send(bot.token, "choose", group_id=gid, extra=KB)
        for n in range(rounds):
            # the user clicks through C and waits there for the answer
            click = Bg(lambda: raw_call(c, "/app/clickbutton", owner.token,
                                        {"message_id": kb["message_id"],
                                         "callback_data": "ok", "wait": 15}, timeout=30))
            click.start()
            [ev] = poller.take(1, timeout=10)
            assert ev["event_type"] == "callback_query" and ev["callback_data"] == "ok"
            cid = ev["callback_id"]
            barrier = threading.Barrier(2)

            def answer(api, text):
                barrier.wait(timeout=10)
                return raw_call(api, "/bot/answercallback", bot.token,
                                {"callback_id": cid, "text": text})

            ta = Bg(lambda: answer(a, "from A"))
            tb = Bg(lambda: answer(b, "from B"))
            ta.start()
            tb.start()
            ta.join(timeout=20)
            tb.join(timeout=20)
            assert ta.error is None and tb.error is None, (ta.error, tb.error)
            results = {"from A": ta.result, "from B": tb.result}
            statuses = sorted(r[0] for r in results.values())
            assert statuses == [200, 409], f"round {n}: {results}"
            winner = next(t for t, r in results.items() if r[0] == 200)
            loser = next(r for r in results.values() if r[0] == 409)
            assert_error(loser[0], loser[1], 409)
            assert results[winner][1]["data"]["callback_id"] == cid
            # the clicker, waiting on a third node, gets the winner's answer
            click.join(timeout=20)
            assert click.error is None, click.error
            status, body = click.result
            assert status == 200, body
            assert body["data"]["callback_id"] == cid
            assert body["data"]["answer"] == {"text": winner, "show_alert": False,
                                              "url": ""}, body
            # and it stays answered, on every node
            for api in (a, b, c):
                api.err("/bot/answercallback", bot.token, 409, json={"callback_id": cid})


# --------------------------------------------------------------------------
# 7. Idempotency-Key: the same request at once through two nodes stores one message
# --------------------------------------------------------------------------
def test_idempotency_key_across_nodes(tmp_path):
    rounds = 5
    with nodes(tmp_path) as ns:
        a, b, c = ns.start("A", "B", "C")
        owner = a.user()
        bot = a.bot(owner)
        gid = a.creategroup(owner.token)
        a.addmember(owner.token, gid, bot.id)
        for n in range(rounds):
            key = "mn-" + uname()
            payload = {"group_id": gid, "message_type": "text", "content": f"once {key}"}
            barrier = threading.Barrier(2)

            def send(api):
                barrier.wait(timeout=10)
                return raw_call(api, "/bot/sendmessage", bot.token, payload,
                                headers={"Idempotency-Key": key})

            ta = Bg(lambda: send(a))
            tb = Bg(lambda: send(b))
            ta.start()
            tb.start()
            ta.join(timeout=30)
            tb.join(timeout=30)
            assert ta.error is None and tb.error is None, (ta.error, tb.error)
            (sa, ba), (sb, bb) = ta.result, tb.result
            assert sa == 200 and sb == 200, f"round {n}: A {sa} {ba}; B {sb} {bb}"
            assert ba["data"]["message_id"] == bb["data"]["message_id"], (ba, bb)
            assert ba["data"] == bb["data"], "the repeat gets the first one's answer"
            # a later repeat through the third node: the same answer again
            assert c.ok("/bot/sendmessage", bot.token, payload,
                        headers={"Idempotency-Key": key}) == ba["data"]
            stored = [m for m in c.history(owner.token, group_id=gid)
                      if m.get("content") == payload["content"]]
            assert [m["message_id"] for m in stored] == [ba["data"]["message_id"]], stored
        texts = [m for m in b.full_history(owner.token, group_id=gid)
                 if m.get("message_type") == "text"]
        assert len(texts) == rounds
