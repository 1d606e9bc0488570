#!/usr/bin/env python3
"""events_streams.py: idle waiters for bench/events.sh (stdlib only).

usage: events_streams.py PORT BINKD_PID STREAMS POLLS OWNER_TOKEN HOLD_S LIMIT_S

1. registers STREAMS users (POST /app/register over a few keep-alive
   connections) and, when POLLS > 0, POLLS bots owned by OWNER_TOKEN
   (POST /app/createbot);
2. samples binkd's VmRSS, Threads and open fds (/proc/PID/status, fd/) idle;
3. opens STREAMS event streams (GET /app/events, one per user) and POLLS long
   polls (POST /bot/getupdates {"timeout": 50}, one per bot) on raw asyncio
   sockets, and waits until every stream has its response headers and every
   poll has been written (a parked poll answers nothing until its timeout);
4. samples binkd again, holds them HOLD_S seconds (reading and discarding
   what streams send: the ": ping" heartbeats), samples again, with binkd's
   CPU time over the hold;
5. closes everything, samples after 2 s and after 20 s (a suspended
   connection notices its peer's close only when it is resumed).
Prints one JSON object. The whole run is bounded by LIMIT_S seconds.
"""
import asyncio
import json
import os
import resource
import sys
import time

HOST = "127.0.0.1"


def proc(pid):
    out = {}
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            k, _, v = line.partition(":")
            if k in ("VmRSS", "Threads", "VmHWM"):
                out[k] = int(v.split()[0])
    out["fds"] = len(os.listdir(f"/proc/{pid}/fd"))
    with open(f"/proc/{pid}/stat") as f:
        col = f.read().rsplit(")", 1)[1].split()
    out["cpu_ticks"] = int(col[11]) + int(col[12])
    out["t"] = time.time()
    return out


async def read_response(reader):
    head = await reader.readuntil(b"\r\n\r\n")
    status = int(head.split(b" ", 2)[1])
    length = 0
    for line in head.split(b"\r\n")[1:]:
        k, _, v = line.partition(b":")
        if k.strip().lower() == b"content-length":
            length = int(v.strip())
    body = await reader.readexactly(length) if length else b""
    return status, body


def post(path, body, token=None):
    data = json.dumps(body).encode()
    auth = f"Authorization: Bearer {token}\r\n" if token else ""
    return (f"POST {path} HTTP/1.1\r\nHost: {HOST}\r\n{auth}"
            f"Content-Type: application/json\r\nContent-Length: {len(data)}\r\n\r\n"
            ).encode() + data


async def bulk(port, requests, conns=8):
    """Sends the requests over `conns` keep-alive connections; returns the
    data objects in order."""
    results = [None] * len(requests)
    queue = list(enumerate(requests))
    queue.reverse()

    async def worker():
        reader, writer = await asyncio.open_connection(HOST, port)
        try:
            while queue:
                i, req = queue.pop()
                writer.write(req)
                status, body = await read_response(reader)
                env = json.loads(body)
                if env.get("code") != 200:
                    raise RuntimeError(f"request {i}: {env}")
                results[i] = env["data"]
        finally:
            writer.close()
    await asyncio.gather(*(worker() for _ in range(conns)))
    return results


class Waiter:
    def __init__(self):
        self.ready = False
        self.failed = None
        self.writer = None


async def open_stream(port, token, w, sem):
    async with sem:
        try:
            reader, writer = await asyncio.open_connection(HOST, port)
            w.writer = writer
            writer.write((f"GET /app/events HTTP/1.1\r\nHost: {HOST}\r\n"
                          f"Authorization: Bearer {token}\r\n"
                          "Accept: text/event-stream\r\n\r\n").encode())
            head = await reader.readuntil(b"\r\n\r\n")
            if not head.startswith(b"HTTP/1.1 200"):
                w.failed = head.split(b"\r\n")[0].decode()
                return
            w.ready = True
        except (OSError, asyncio.IncompleteReadError, asyncio.LimitOverrunError) as e:
            w.failed = repr(e)
            return
    try:
        while await reader.read(4096):
            pass
    except OSError:
        pass


async def open_poll(port, token, w, sem):
    async with sem:
        try:
            reader, writer = await asyncio.open_connection(HOST, port)
            w.writer = writer
            writer.write(post("/bot/getupdates", {"timeout": 50}, token))
            await writer.drain()
            w.ready = True
        except OSError as e:
            w.failed = repr(e)
            return
    try:
        data = await reader.read(4096)  # only at the timeout, or an error
        if data and w.ready:
            w.answered = data.split(b"\r\n")[0].decode()
    except OSError:
        pass


async def run(port, pid, nstreams, npolls, owner, hold):
    out = {"streams": nstreams, "polls": npolls}
    t0 = time.time()
    users = await bulk(port, [post("/app/register", {
        "username": f"evs{int(t0) % 100000}u{i}", "display_name": f"Stream user {i}"})
        for i in range(nstreams)])
    out["register_s"] = round(time.time() - t0, 1)
    bots = []
    if npolls:
        t1 = time.time()
        bots = await bulk(port, [post("/app/createbot", {
            "username": f"evp{int(t0) % 100000}b{i}bot", "display_name": f"Poll bot {i}"},
            owner) for i in range(npolls)], conns=4)
        out["createbot_s"] = round(time.time() - t1, 1)
    await asyncio.sleep(2)
    out["idle"] = proc(pid)

    sem = asyncio.Semaphore(256)  # connections being opened at once
    streams = [Waiter() for _ in users]
    polls = [Waiter() for _ in bots]
    t2 = time.time()
    tasks = [asyncio.ensure_future(open_stream(port, u["token"], w, sem))
             for u, w in zip(users, streams)]
    tasks += [asyncio.ensure_future(open_poll(port, b["token"], w, sem))
              for b, w in zip(bots, polls)]
    while time.time() - t2 < 120:
        done = sum(w.ready or w.failed is not None for w in streams + polls)
        if done == len(streams) + len(polls):
            break
        await asyncio.sleep(0.1)
    out["open_s"] = round(time.time() - t2, 2)
    out["streams_ready"] = sum(w.ready for w in streams)
    out["polls_ready"] = sum(w.ready for w in polls)
    fails = [w.failed for w in streams + polls if w.failed]
    out["failed"] = len(fails)
    out["failures"] = sorted(set(fails))[:5]
    await asyncio.sleep(1)  # let the parked polls settle
    out["open"] = proc(pid)
    await asyncio.sleep(hold)
    out["held"] = proc(pid)
    out["hold_s"] = hold
    out["polls_answered_early"] = sum(1 for w in polls if getattr(w, "answered", None))
    out["streams_closed_early"] = sum(1 for w, t in zip(streams, tasks) if w.ready and t.done())
    for w in streams + polls:
        if w.writer:
            w.writer.close()
    for t in tasks:
        t.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    await asyncio.sleep(2)
    out["closed"] = proc(pid)
    await asyncio.sleep(18)  # past the 15 s SSE heartbeat
    out["closed20"] = proc(pid)
    return out


def main():
    port, pid, nstreams, npolls = (int(x) for x in sys.argv[1:5])
    owner, hold, limit = sys.argv[5], float(sys.argv[6]), float(sys.argv[7])
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = nstreams + npolls + 256
    if soft < want:
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, max(want, soft)), hard))
    if resource.getrlimit(resource.RLIMIT_NOFILE)[0] < want:
        sys.exit(f"events_streams.py: need {want} open files, hard limit is {hard}")
    try:
        out = asyncio.run(asyncio.wait_for(
            run(port, pid, nstreams, npolls, owner, hold), limit))
    except asyncio.TimeoutError:
        sys.exit(f"events_streams.py: did not finish within {limit} s")
    print(json.dumps(out))


if __name__ == "__main__":
    main()
