"""Sends racing membership changes (issue 7 QA: the PostgreSQL writer keeps its
batch's group + membership look-ups, pg_chat.c "The batch's group look-ups").

A bot sends in bursts from several threads while its owner mutes, unmutes,
removes and re-adds it, one change at a time. Every change and every send is
timed on the client. Afterwards:
  - every send answered 200 is in /app/history exactly once, with its content;
  - no send answered 403 (or anything else) is stored;
  - a send made entirely between two changes (it began after the first one was
    answered and was answered before the second one began) got the answer that
    the membership of that interval calls for: 200 as a plain member, 403 muted
    or removed;
  - the sends of one thread (sequential) appear in history in the order they
    were answered.
The first test runs on one node (SQLite or PostgreSQL), the second on two nodes
sharing PostgreSQL, the changes and the sends going through both.
"""
import threading
import time

import pytest
import requests

from conftest import BINK_TEST_PG, Api, thread_map, uname

SENDERS = 4
SENDS = 80


def _post(api, path, token, body, timeout=60):
    r = requests.post(api.url(path), json=body,
                      headers={"Authorization": "Bearer " + token}, timeout=timeout)
    return r.status_code, r.json()


def _race(apis):
    a = apis[0]
    owner = a.user()
    bot = a.bot(owner)
    gid = a.creategroup(owner.token, title="race " + uname("g"))
    a.addmember(owner.token, gid, bot.id)

    sends = []            # (thread, k, t0, t1, status, message_id, content)
    changes = []          # (op, t0, t1, allowed_after)
    lock = threading.Lock()
    stop = threading.Event()
    toggle_errors = []    # a membership change that was not answered 200

    ops = [("/app/mutemember", {"duration": 0}, False),
           ("/app/unmutemember", {}, True),
           ("/app/removemember", {}, False),
           ("/app/addmember", {}, True)]

    def toggler():
        k = 0
        while not stop.is_set():
            path, extra, allowed = ops[k % len(ops)]
            via = apis[k % len(apis)]
            t0 = time.monotonic()
            st, b = _post(via, path, owner.token,
                          {"group_id": gid, "user_id": bot.id, **extra})
            t1 = time.monotonic()
            if st != 200:
                toggle_errors.append((path, st, b))
                return
            changes.append((path, t0, t1, allowed))
            k += 1
            time.sleep(0.005 * (k % 3))

    def sender(i):
        for k in range(SENDS):
            via = apis[(i + k) % len(apis)]
            content = f"t{i} k{k} {uname('c')}"
            t0 = time.monotonic()
            st, b = _post(via, "/bot/sendmessage", bot.token,
                          {"group_id": gid, "message_type": "text", "content": content})
            t1 = time.monotonic()
            mid = b["data"]["message_id"] if st == 200 else None
            assert st in (200, 403), (st, b)
            with lock:
                sends.append((i, k, t0, t1, st, mid, content))

    tog = threading.Thread(target=toggler, daemon=True)
    tog.start()
    try:
        thread_map(sender, SENDERS)
    finally:
        stop.set()
        tog.join(timeout=30)
    assert not toggle_errors, toggle_errors
    assert changes, "no membership change was made during the sends"

    # back to a plain member so that history can be read by the owner either way
    hist = a.full_history(owner.token, group_id=gid)
    texts = [m for m in hist if m["sender_id"] == bot.id and m["message_type"] == "text"]
    by_content = {}
    for m in texts:
        by_content.setdefault(m["content"], []).append(m)

    ok = [s for s in sends if s[4] == 200]
    refused = [s for s in sends if s[4] != 200]
    problems = []
    for s in ok:
        got = by_content.get(s[6], [])
        if len(got) != 1 or got[0]["message_id"] != s[5]:
            problems.append(f"answered 200 {s[5]} {s[6]!r}: stored {len(got)} time(s)")
    for s in refused:
        if s[6] in by_content:
            problems.append(f"answered {s[4]} but stored: {s[6]!r}")
    if len(texts) != len(ok):
        problems.append(f"{len(texts)} bot messages stored, {len(ok)} answered 200")

    # sends entirely inside one interval between two changes
    bounds = [(-1.0, 0.0, True)] + [(c[1], c[2], c[3]) for c in changes]
    for idx, (_, end, allowed) in enumerate(bounds):
        nxt = bounds[idx + 1][0] if idx + 1 < len(bounds) else float("inf")
        for s in sends:
            if s[2] > end and s[3] < nxt:
                want = 200 if allowed else 403
                if s[4] != want:
                    problems.append(
                        f"send {s[6]!r} in [{s[2]:.4f},{s[3]:.4f}] after "
                        f"{changes[idx - 1][0] if idx else 'start'} answered at "
                        f"{end:.4f} (next change at {nxt:.4f}): got {s[4]}, want {want}")

    pos = {m["message_id"]: n for n, m in enumerate(hist)}
    for i in range(SENDERS):
        mine = [s for s in sorted(sends, key=lambda s: s[3]) if s[0] == i and s[4] == 200]
        order = [pos.get(s[5], -1) for s in mine]
        if order != sorted(order):
            problems.append(f"thread {i}: history order {order} != answer order")
    assert not problems, "\n".join(problems[:30]) + \
        f"\n({len(problems)} problems; {len(ok)} sends ok, {len(refused)} refused, " \
        f"{len(changes)} changes)"
    return len(ok), len(refused), len(changes)


def test_sends_racing_mute_remove_readd_one_node(fresh_server):
    print("one node", _race([Api(fresh_server)]))


def test_sends_racing_mute_remove_readd_two_nodes(tmp_path):
    if not BINK_TEST_PG:
        pytest.skip("needs $BINK_TEST_PG")
    from test_multinode import nodes
    with nodes(tmp_path) as ns:
        apis = ns.start("A", "B")
        print("two nodes", _race(apis))
