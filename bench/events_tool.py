#!/usr/bin/env python3
"""events_tool.py: the Python half of bench/events.sh (stdlib only).

  setup BASE RECEIVER_URL NUSERS OUTDIR
      1 owner, 1 bot with its webhook at RECEIVER_URL (max_connections 100),
      NUSERS users; writes OUTDIR/tokens (one user token a line) and prints
      "<bot_id> <bot_token> <owner_token>".
  sample DB RECEIVER_URL PID OUT STOPFILE LIMIT_S
      every 0.5 s appends "t_s received pending cpu_ticks" to OUT (received:
      the receiver's record count; pending: rows of the outbox still to
      deliver, read-only through SQLite; cpu_ticks: binkd's user + system
      time) until STOPFILE exists or LIMIT_S seconds passed.
  pending DB           prints the number of pending events (state 0)
  count RECEIVER_URL   prints the receiver's record count
  threads PID          prints "tid ticks" for every thread of PID
  throughput DUMP SAMPLES T_START T_END THREADS_BEFORE THREADS_AFTER HZ
      the throughput report (stdout: "key value" lines)
  latency DUMP RESP_DIR T_START T_END
      the latency report (stdout: "key value" lines)
"""
import glob
import json
import os
import sqlite3
import statistics
import sys
import time
import urllib.request


def call(base, path, body, token=None):
    req = urllib.request.Request(base + path, data=json.dumps(body).encode(),
                                 method="POST",
                                 headers={"Content-Type": "application/json"})
    if token:
        req.add_header("Authorization", "Bearer " + token)
    with urllib.request.urlopen(req, timeout=10) as r:
        env = json.load(r)
    if env.get("code") != 200:
        sys.exit(f"{path}: {env}")
    return env["data"]


def setup(base, receiver_url, nusers, outdir):
    tag = "%x" % (int(time.time()) & 0xffffff)
    owner = call(base, "/app/register",
                 {"username": f"evowner{tag}", "display_name": "Events owner"})
    bot = call(base, "/app/createbot",
               {"username": f"ev{tag}bot", "display_name": "Events bot"},
               owner["token"])
    call(base, "/bot/setwebhook", {"url": receiver_url, "max_connections": 100},
         bot["token"])
    with open(os.path.join(outdir, "tokens"), "w") as f:
        for i in range(nusers):
            u = call(base, "/app/register", {"username": f"ev{tag}u{i:03d}",
                                             "display_name": f"Events user {i}"})
            f.write(u["token"] + "\n")
    print(bot["bot_id"], bot["token"], owner["token"])


def pending(db):
    try:
        con = sqlite3.connect("file:" + db + "?mode=ro", uri=True, timeout=2)
        n = con.execute("SELECT count(*) FROM events WHERE state = 0").fetchone()[0]
        con.close()
        return n
    except sqlite3.Error:
        return -1


def count(url):
    try:
        with urllib.request.urlopen(url, timeout=2) as r:
            return int(r.read().split()[0])
    except (OSError, ValueError):
        return -1


def cpu_ticks(pid):
    try:
        with open(f"/proc/{pid}/stat") as f:
            col = f.read().rsplit(")", 1)[1].split()
        return int(col[11]) + int(col[12])
    except OSError:
        return -1


def threads(pid):
    out = []
    for tid in sorted(os.listdir(f"/proc/{pid}/task"), key=int):
        out.append(f"{tid} {cpu_ticks(f'{pid}/task/{tid}')}")
    print("\n".join(out))


def sample(db, url, pid, out, stopfile, limit):
    end = time.time() + float(limit)
    with open(out, "a") as f:
        while time.time() < end and not os.path.exists(stopfile):
            t = time.time()
            f.write(f"{t:.3f} {count(url)} {pending(db)} {cpu_ticks(pid)}\n")
            f.flush()
            time.sleep(max(0.0, 0.5 - (time.time() - t)))


def read_dump(path):
    rows = []
    with open(path) as f:
        for line in f:
            col = line.rstrip("\n").split("\t")
            if len(col) == 5:
                rows.append((int(col[0]), int(col[1]), col[2], col[3], col[4]))
    return rows


def pct(xs, p):
    if not xs:
        return float("nan")
    xs = sorted(xs)
    i = min(len(xs) - 1, max(0, int(round(p / 100.0 * len(xs) + 0.5)) - 1))
    return xs[i]


def throughput(dump, samples, t_start, t_end, th_before, th_after, hz):
    t_start, t_end, hz = float(t_start), float(t_end), int(hz)
    rows = [r for r in read_dump(dump) if r[4] == "tp"]
    first = {}
    for r in rows:
        if r[2] not in first or r[0] < first[r[2]]:
            first[r[2]] = r[0]
    arr = sorted(t / 1e6 for t in first.values())
    # whole seconds from the start of the send
    buckets = {}
    for t in arr:
        s = int(t - t_start)
        buckets[s] = buckets.get(s, 0) + 1
    send_s = int(t_end - t_start)
    during = [buckets.get(s, 0) for s in range(2, send_s)]  # skip 2 s ramp-up
    last = arr[-1] if arr else t_end
    after = [buckets.get(s, 0) for s in range(send_s + 1, int(last - t_start))]
    print("delivered_total", len(arr))
    print("attempts_total", len(rows))
    print("retries", sum(1 for r in rows if r[1] > 1))
    print("steady_median", statistics.median(during) if during else 0)
    print("steady_mean", round(statistics.mean(during)) if during else 0)
    print("steady_min", min(during) if during else 0)
    print("steady_max", max(during) if during else 0)
    print("drain_median", statistics.median(after) if after else 0)
    print("during_send", len([t for t in arr if t <= t_end]))
    print("drain_end_s", round(last - t_end, 1))
    print("per_second", ",".join(str(buckets.get(s, 0))
                                 for s in range(0, int(last - t_start) + 1)))
    backlog_end, backlog_max, cpu = 0, 0, []
    with open(samples) as f:
        smp = [tuple(float(x) for x in line.split()) for line in f if line.strip()]
    for t, _recv, pend, ticks in smp:
        if pend >= 0:
            backlog_max = max(backlog_max, int(pend))
        if t <= t_end + 0.25 and pend >= 0:
            backlog_end = int(pend)
        if t_start <= t <= t_end:
            cpu.append((t, ticks))
    print("backlog_at_end", backlog_end)
    print("backlog_max", backlog_max)
    if len(cpu) >= 2:
        print("binkd_cpu_pct", round(100 * (cpu[-1][1] - cpu[0][1]) / hz
                                     / (cpu[-1][0] - cpu[0][0])))

    def load(p):
        d = {}
        with open(p) as f:
            for line in f:
                tid, ticks = line.split()
                d[tid] = int(ticks)
        return d
    b, a = load(th_before), load(th_after)
    per = sorted(((a[t] - b.get(t, 0), t) for t in a), reverse=True)
    dur = t_end - t_start
    print("threads_cpu", ",".join(f"{t}:{100 * d / hz / dur:.0f}%"
                                  for d, t in per if d > 0))


def latency(dump, resp_dir, t_start, t_end):
    t_start, t_end = float(t_start) * 1e6, float(t_end) * 1e6
    resp = {}
    bad = 0
    for p in glob.glob(os.path.join(resp_dir, "resp.*.log")):
        with open(p) as f:
            for line in f:
                col = line.split()
                if len(col) != 3:
                    continue
                if col[1].startswith("2"):
                    resp[col[2]] = int(col[0])
                else:
                    bad += 1
    first = {}
    for t, attempt, wid, mid, content in read_dump(dump):
        if not content.startswith("lat "):
            continue
        if mid not in first or t < first[mid][0]:
            first[mid] = (t, int(content[4:]), attempt)
    after_resp, after_send, neg, first1 = [], [], 0, []
    for mid, (t_arr, t_send, attempt) in first.items():
        if not (t_start <= t_send <= t_end):
            continue
        after_send.append((t_arr - t_send) / 1000.0)
        if mid in resp:
            d = (t_arr - resp[mid]) / 1000.0
            after_resp.append(d)
            neg += d < 0
            if t_send <= t_start + 1e6:
                first1.append(d)
    sent = sum(1 for t in resp.values() if t_start <= t <= t_end + 5e6)
    print("responses_2xx", len(resp))
    print("responses_other", bad)
    print("events_received", len(first))
    print("matched", len(after_resp))
    print("rate", round(len(after_send) / ((t_end - t_start) / 1e6)))
    for name, xs in (("resp", after_resp), ("send", after_send)):
        for p in (50, 90, 99, 99.9):
            print(f"{name}_p{p}", f"{pct(xs, p):.2f}")
        print(f"{name}_max", f"{max(xs) if xs else float('nan'):.2f}")
    print("negative", neg)
    print("first1s_n", len(first1))
    print("first1s_p50", f"{pct(first1, 50):.2f}")
    print("first1s_p99", f"{pct(first1, 99):.2f}")
    print("unmatched_sent", sent - len(after_resp))


def main():
    cmd, args = sys.argv[1], sys.argv[2:]
    if cmd == "setup":
        setup(args[0], args[1], int(args[2]), args[3])
    elif cmd == "sample":
        sample(*args)
    elif cmd == "pending":
        print(pending(args[0]))
    elif cmd == "count":
        print(count(args[0]))
    elif cmd == "threads":
        threads(args[0])
    elif cmd == "throughput":
        throughput(*args)
    elif cmd == "latency":
        latency(*args)
    else:
        sys.exit(f"unknown command {cmd}")


if __name__ == "__main__":
    main()
