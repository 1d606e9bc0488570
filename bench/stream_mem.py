#!/usr/bin/env python3
"""stream_mem.py: what one idle waiter costs binkd in RSS (stdlib only).

usage: stream_mem.py BINKD STREAMS POLLS [NAME=VALUE ...] [--binkd-option ...]

Starts BINKD on a free loopback port with a fresh data directory (NAME=VALUE
arguments go into its environment, e.g. LD_PRELOAD=... or
GLIBC_TUNABLES=glibc.malloc.arena_max=1; --options are passed to it),
registers STREAMS users and POLLS bots, waits 6 s (binkd trims its heap
after 5 s without writes), samples VmRSS and /proc/PID/smaps, opens the
SSE streams (GET /app/events) and long polls (getupdates timeout 50) with
bench/events_streams.py's client, waits HOLD seconds (env, default 2) and
prints one JSON line (RSS idle / open, KiB per waiter) and the mappings
whose Rss changed by 256 KiB or more. With PAUSE=S in the environment it
then prints "pid N" and keeps everything open S seconds. With PROBE=1 (and
LD_PRELOAD=memprobe.so, see bench/memprobe.c) it sends SIGUSR1 just before
opening the waiters (zeroing the probe's memset counters) and SIGUSR2 after
the hold (the probe writes its report to $MEMPROBE_OUT). Used for the
memory breakdown in docs/PERFORMANCE.md ("Events").
"""
import asyncio
import json
import os
import re
import resource
import shutil
import signal
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import events_streams as es  # noqa: E402
from listen_port import listen_port  # noqa: E402


def smaps(pid):
    maps, cur = {}, None
    with open(f"/proc/{pid}/smaps") as f:
        for line in f:
            if re.match(r"^[0-9a-f]+-[0-9a-f]+ ", line):
                parts = line.split()
                cur = (parts[0], parts[5] if len(parts) > 5 else "[anon]")
                maps[cur] = 0
            elif line.startswith("Rss:"):
                maps[cur] = int(line.split()[1])
    return maps


async def run(binkd, nstreams, npolls, env, options):
    work = tempfile.mkdtemp(prefix="bink-streammem.")
    proc = subprocess.Popen([binkd, "--listen", "127.0.0.1:0", "--data", work + "/data",
                             "--log-level", "warn"] + options,
                            env=env, stderr=open(work + "/binkd.log", "w"))
    try:
        port = None
        for _ in range(100):
            time.sleep(0.1)
            port = listen_port(proc.pid)
            if port:
                break
        if not port:
            sys.exit("stream_mem.py: binkd did not start")
        tag = int(time.time()) % 100000
        users = await es.bulk(port, [es.post("/app/register", {
            "username": f"sm{tag}u{i}", "display_name": f"U {i}"})
            for i in range(max(nstreams, 1))])
        bots = []
        if npolls:
            bots = await es.bulk(port, [es.post("/app/createbot", {
                "username": f"sm{tag}b{i}bot", "display_name": f"B {i}"},
                users[0]["token"]) for i in range(npolls)], conns=4)
        await asyncio.sleep(6)
        idle, before = es.proc(proc.pid), smaps(proc.pid)
        probe = os.environ.get("PROBE") == "1"
        if probe:
            os.kill(proc.pid, signal.SIGUSR1)
            await asyncio.sleep(0.5)
        sem = asyncio.Semaphore(256)
        streams = [es.Waiter() for _ in range(nstreams)]
        polls = [es.Waiter() for _ in bots]
        tasks = [asyncio.ensure_future(es.open_stream(port, u["token"], w, sem))
                 for u, w in zip(users, streams)]
        tasks += [asyncio.ensure_future(es.open_poll(port, b["token"], w, sem))
                  for b, w in zip(bots, polls)]
        t0 = time.time()
        while time.time() - t0 < 60:
            if all(w.ready or w.failed for w in streams + polls):
                break
            await asyncio.sleep(0.1)
        await asyncio.sleep(float(os.environ.get("HOLD", "2")))
        held, after = es.proc(proc.pid), smaps(proc.pid)
        if probe:
            os.kill(proc.pid, signal.SIGUSR2)
            await asyncio.sleep(3)  # the probe's table is large
        n = nstreams + npolls
        print(json.dumps({
            "streams": sum(w.ready for w in streams), "polls": sum(w.ready for w in polls),
            "failed": sum(1 for w in streams + polls if w.failed),
            "rss_idle_kib": idle["VmRSS"], "rss_open_kib": held["VmRSS"],
            "threads": [idle["Threads"], held["Threads"]],
            "kib_per_waiter": round((held["VmRSS"] - idle["VmRSS"]) / max(n, 1), 2)}))
        grew = sorted(((v - before.get(k, 0), k) for k, v in after.items()
                       if abs(v - before.get(k, 0)) >= 256), reverse=True)
        for delta, (addr, name) in grew[:12]:
            print(f"  {delta:+8d} KiB  {addr} {name}")
        if os.environ.get("PAUSE"):
            print("pid", proc.pid, flush=True)
            await asyncio.sleep(float(os.environ["PAUSE"]))
        for w in streams + polls:
            if w.writer:
                w.writer.close()
        for t in tasks:
            t.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
        shutil.rmtree(work, ignore_errors=True)


def main():
    if len(sys.argv) < 4:
        sys.exit(__doc__)
    binkd, nstreams, npolls = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    env, options = dict(os.environ), []
    for arg in sys.argv[4:]:
        if arg.startswith("--"):
            options.append(arg)
        else:
            k, _, v = arg.partition("=")
            env[k] = v
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = nstreams + npolls + 256
    if soft < want:
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, want), hard))
    asyncio.run(run(binkd, nstreams, npolls, env, options))


if __name__ == "__main__":
    main()
