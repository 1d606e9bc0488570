"""Write batches under load (QA of the batch-level changes since 1dd1e6a):

- PostgreSQL keeps a sendmessage job's message row for its batch's end (pg_chat.c
  "Messages kept for the batch's end"), drawing the id in the job's group look-up;
  jobs run under savepoints and a failed job forgets its rows;
- sendmessage draws the id's random tag on the request's thread;
- SQLite looks a group's members up once per batch for wake-ups, and closes the WAL
  off between batches.

Many clients at once mix sends with what reads or changes the messages just sent
(edits, deletes, replies, quotes, Idempotency-Key repeats), joins and refused sends;
afterwards every answered message must be stored exactly once, with the edits and
deletes applied, and nothing refused stored. The first test runs on both backends,
the second on three nodes sharing PostgreSQL.
"""
import threading
import types

import requests

import pytest

from conftest import BINK_TEST_PG, thread_map, uname


def _post(api, path, token, body, headers=None):
    h = {"Authorization": "Bearer " + token}
    if headers:
        h.update(headers)
    r = requests.post(api.url(path), json=body, headers=h, timeout=60)
    return r.status_code, r.json()


def _all_history(api, token, group_id=None, peer_id=None):
    """Every message of a chat, oldest first, each once."""
    out = api.full_history(token, group_id=group_id, peer_id=peer_id)
    ids = [m["message_id"] for m in out]
    assert len(ids) == len(set(ids)), "history repeats a message"
    return out


def _mixed_world(api, nusers=6):
    owner = api.user()
    bot = api.bot(owner)
    gname = uname("g")
    gid = api.creategroup(owner.token, public=True, username=gname)
    api.addmember(owner.token, gid, bot.id)
    users = [api.user() for _ in range(nusers)]
    for u in users:
        api.addmember(owner.token, gid, u.id)
    muted = api.user()
    api.addmember(owner.token, gid, muted.id)
    api.ok("/app/mutemember", owner.token, {"group_id": gid, "user_id": muted.id,
                                            "duration": 0})
    return types.SimpleNamespace(owner=owner, bot=bot, group=gid, gname=gname,
                                 users=users, muted=muted)


def test_mixed_concurrent_writes_store_every_answered_message_once(api):
    w = _mixed_world(api)
    rounds = 12
    log = []                 # (kind, details) of every answered write
    lock = threading.Lock()
    joiners = [api.user() for _ in range(4)]

    def note(*rec):
        with lock:
            log.append(rec)

    def user_worker(i):
        u = w.users[i]
        prev = None
        mine = []            # message ids this client got, in send order
        for k in range(rounds):
            content = f"u{i} m{k}"
            body = {"group_id": w.group, "message_type": "text", "content": content}
            if k % 4 == 1 and prev:
                body["reply_to_id"] = prev
            if k % 4 == 2 and prev:
                body["quote_message_id"] = prev
            hdr = {"Idempotency-Key": f"k-{i}-{k}"} if k % 3 == 0 else None
            st, b = _post(api, "/app/sendmessage", u.token, body, hdr)
            assert st == 200, (st, b)
            mid = b["data"]["message_id"]
            if hdr:  # a repeat gets the same answer and stores nothing more
                st2, b2 = _post(api, "/app/sendmessage", u.token, body, hdr)
                assert st2 == 200 and b2["data"]["message_id"] == mid, (st2, b2, b)
            note("sent", mid, content, body.get("reply_to_id"), body.get("quote_message_id"))
            mine.append(mid)
            if k % 5 == 3:
                st, b = _post(api, "/app/editmessage", u.token,
                              {"message_id": mid, "content": content + " edited"})
                assert st == 200, (st, b)
                note("edited", mid, content + " edited")
            if k % 7 == 4:
                st, b = _post(api, "/app/deletemessage", u.token, {"message_id": mid})
                assert st == 200, (st, b)
                note("deleted", mid)
                mid = None   # not to be replied to or quoted
            prev = mid or prev
        return mine

    def bot_worker():
        mine = []
        for k in range(rounds):
            st, b = _post(api, "/bot/sendmessage", w.bot.token,
                          {"group_id": w.group, "message_type": "text",
                           "content": f"bot m{k}"})
            assert st == 200, (st, b)
            note("sent", b["data"]["message_id"], f"bot m{k}", None, None)
            mine.append(b["data"]["message_id"])
        return mine

    def muted_worker():
        for k in range(rounds):
            st, b = _post(api, "/app/sendmessage", w.muted.token,
                          {"group_id": w.group, "message_type": "text",
                           "content": f"muted m{k}"})
            assert st == 403, (st, b)

    def joiner_worker(j):
        u = joiners[j]
        st, b = _post(api, "/app/joingroup", u.token, {"group_id": w.group})
        assert st == 200, (st, b)
        st, b = _post(api, "/app/sendmessage", u.token,
                      {"group_id": w.group, "message_type": "text",
                       "content": f"joiner {j}"})
        assert st == 200, (st, b)
        note("sent", b["data"]["message_id"], f"joiner {j}", None, None)
        return [b["data"]["message_id"]]

    n = len(w.users)
    jobs = ([lambda i=i: user_worker(i) for i in range(n)] + [bot_worker, muted_worker]
            + [lambda j=j: joiner_worker(j) for j in range(len(joiners))])
    results = thread_map(lambda i: jobs[i](), len(jobs))

    hist = _all_history(api, w.owner.token, group_id=w.group)
    by_id = {m["message_id"]: m for m in hist}
    sent = [r for r in log if r[0] == "sent"]
    # every answered send is stored once; nothing of the muted one
    assert len({r[1] for r in sent}) == len(sent)
    for _, mid, content, reply, quote in sent:
        m = by_id.get(mid)
        assert m is not None, f"answered message {mid} ({content}) is not stored"
        if reply:
            assert m.get("reply_to_id") == reply, m
        if quote:
            assert (m.get("quote") or {}).get("message_id") == quote, m
    assert not [m for m in hist if m.get("content", "").startswith("muted")]
    texts = [m for m in hist if m.get("message_type") == "text"]
    assert len(texts) == len(sent), (len(texts), len(sent))
    for r in log:
        if r[0] == "edited":
            assert by_id[r[1]]["content"] == r[2], by_id[r[1]]
    for r in log:
        if r[0] == "deleted":
            assert by_id[r[1]].get("deleted") is True, by_id[r[1]]
    # one client's sequential sends: history order is send order
    pos = {m["message_id"]: i for i, m in enumerate(hist)}
    for mine in results:
        if mine:
            assert [pos[x] for x in mine] == sorted(pos[x] for x in mine), mine
    # the joiners' join notices are there, once each
    joined = [m for m in hist if m.get("message_type") == "system"
              and m.get("sender_id") in {j.id for j in joiners}]
    assert sorted(m["sender_id"] for m in joined) == sorted(j.id for j in joiners), joined


def _getevents_all(api, token):
    """Every live event of a person so far (getevents pages, offset by id)."""
    out, offset = [], 0
    while True:
        d = api.ok("/app/getevents", token, {"offset": offset, "limit": 100, "timeout": 0})
        evs = d["events"]
        if not evs:
            return out
        out += evs
        offset = evs[-1]["id"] + 1


def test_mixed_writes_on_three_nodes_store_and_tell_each_message_once(tmp_path):
    # The same on three nodes (two writer connections each): sends, edits and
    # deletes of what was just sent go through different nodes; afterwards the
    # history holds each answered message once, and the owner's live events tell
    # each exactly once, in the order of the ids of one sender's messages.
    if not BINK_TEST_PG:
        pytest.skip("needs $BINK_TEST_PG")
    from test_multinode import nodes
    with nodes(tmp_path) as ns:
        apis = ns.start("A", "B", "C")
        a = apis[0]
        w = _mixed_world(a, nusers=6)
        rounds = 10
        lock = threading.Lock()
        log = []

        def worker(i):
            u = w.users[i]
            mine = []
            for k in range(rounds):
                via, then = apis[(i + k) % 3], apis[(i + k + 1) % 3]
                content = f"n{i} m{k}"
                body = {"group_id": w.group, "message_type": "text", "content": content}
                if mine and k % 3 == 1:
                    body["reply_to_id"] = mine[-1]
                st, b = _post(via, "/app/sendmessage", u.token, body)
                assert st == 200, (st, b)
                mid = b["data"]["message_id"]
                rec = {"id": mid, "content": content, "deleted": False}
                if k % 4 == 2:
                    st, b = _post(then, "/app/editmessage", u.token,
                                  {"message_id": mid, "content": content + " e"})
                    assert st == 200, (st, b)
                    rec["content"] += " e"
                elif k % 5 == 4:
                    st, b = _post(then, "/app/deletemessage", u.token, {"message_id": mid})
                    assert st == 200, (st, b)
                    rec["deleted"] = True
                else:
                    mine.append(mid)
                with lock:
                    log.append(rec)
            return [r["id"] for r in log if r["content"].startswith(f"n{i} ")]

        def muted(_):
            for k in range(rounds):
                st, b = _post(apis[k % 3], "/app/sendmessage", w.muted.token,
                              {"group_id": w.group, "message_type": "text",
                               "content": f"muted {k}"})
                assert st == 403, (st, b)
            return []

        jobs = [lambda i=i: worker(i) for i in range(len(w.users))] + [lambda: muted(0)]
        results = thread_map(lambda i: jobs[i](), len(jobs))

        hist = _all_history(apis[2], w.owner.token, group_id=w.group)
        by_id = {m["message_id"]: m for m in hist}
        assert len([m for m in hist if m["message_type"] == "text"]) == len(log)
        for r in log:
            m = by_id.get(r["id"])
            assert m is not None, r
            if r["deleted"]:
                assert m.get("deleted") is True, m
            else:
                assert m["content"] == r["content"], (m, r)
        evs = _getevents_all(apis[1], w.owner.token)
        news = [e["data"]["message_id"] for e in evs if e["event"] == "message_new"]
        assert sorted(news) == sorted(set(news)), "an event told twice"
        assert set(news) >= {r["id"] for r in log}, "a message never told"
        pos = {m["message_id"]: i for i, m in enumerate(hist)}
        for mine in results:
            assert [pos[x] for x in mine] == sorted(pos[x] for x in mine), mine
