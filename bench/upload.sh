#!/usr/bin/env bash
# bench/upload.sh: binkd's file throughput report (docs/PERFORMANCE.md, "Files").
#
# Starts binkd (BENCH_BINKD, else build/binkd, else a Release build in
# bench/.build) on a free loopback port with a fresh data directory, creates
# a user and a bot through the App API, writes a 20 MiB file of random bytes
# and measures with curl (the seed's `curl -F "file=@…"`):
#   1. upload throughput of the 20 MiB file (best and median of N runs)
#   2. binkd's RSS growth while ten 20 MiB uploads run in parallel (VmRSS
#      sampled every 10 ms from /proc; growth = peak - RSS before)
#   3. download throughput of GET /file/{file_id} (best and median of N)
# and prints pass/fail marks against the issue's targets: upload >= 300
# MiB/s, RSS growth <= 16 MiB, download >= 1 GiB/s. It is a report, not a
# test: it exits 0 whenever it produced the report, non-zero only when it
# could not run (no curl, build failure, a server that did not start).
#
# Environment:
#   BENCH_RUNS   repetitions of the single upload and the download  [5]
#   BENCH_MIB    size of the file in MiB                            [20]
#   BENCH_BINKD  binkd binary to use
#   BENCH_KEEP   1 = keep the work directory (log, data)
set -uo pipefail

BENCH_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(dirname "$BENCH_DIR")
RUNS=${BENCH_RUNS:-5}
MIB=${BENCH_MIB:-20}
KEEP=${BENCH_KEEP:-0}

die() { echo "bench: $*" >&2; exit 1; }
say() { echo "bench: $*" >&2; }

command -v curl >/dev/null || die "curl not found"
command -v python3 >/dev/null || die "python3 not found"

BINKD=${BENCH_BINKD:-}
if [ -z "$BINKD" ] && [ -x "$ROOT/build/binkd" ]; then
  BINKD="$ROOT/build/binkd"
fi
if [ -z "$BINKD" ]; then
  say "building binkd (Release) in bench/.build"
  cmake -S "$ROOT" -B "$BENCH_DIR/.build" -DCMAKE_BUILD_TYPE=Release -DBINK_TESTS=OFF >/dev/null &&
    cmake --build "$BENCH_DIR/.build" -j"$(nproc)" >/dev/null || die "build failed"
  BINKD="$BENCH_DIR/.build/binkd"
fi

WORK=$(mktemp -d /tmp/bink-upload-bench.XXXXXX) || die "mktemp failed"
PID=""
# shellcheck disable=SC2317  # called through the EXIT trap
cleanup() {
  [ -n "$PID" ] && kill -TERM "$PID" 2>/dev/null && wait "$PID" 2>/dev/null
  if [ "$KEEP" = 1 ]; then say "kept $WORK"; else rm -rf "$WORK"; fi
}
trap cleanup EXIT

"$BINKD" --listen 127.0.0.1:0 --data "$WORK/data" --log-level warn \
  >"$WORK/binkd.log" 2>&1 &
PID=$!
# --log-level warn hides the "listening" line: ask /proc for the port.
BASE=""
for _ in $(seq 1 100); do
  PORT=$(ss -ltnpH 2>/dev/null | awk -v pid="pid=$PID," '$0 ~ pid {split($4, a, ":"); print a[length(a)]; exit}')
  if [ -n "$PORT" ] && curl -sf "http://127.0.0.1:$PORT/healthz" >/dev/null; then
    BASE="http://127.0.0.1:$PORT"
    break
  fi
  sleep 0.05
done
[ -n "$BASE" ] || die "binkd did not start (log: $(tail -3 "$WORK/binkd.log"))"

head -c $((MIB * 1024 * 1024)) /dev/urandom >"$WORK/big.bin"

python3 - "$BASE" "$PID" "$WORK" "$RUNS" "$MIB" <<'EOF'
import json, os, statistics, subprocess, sys, threading, time, uuid, urllib.request

base, pid, work, runs, mib = sys.argv[1], int(sys.argv[2]), sys.argv[3], int(sys.argv[4]), int(sys.argv[5])
big = os.path.join(work, "big.bin")
size = os.path.getsize(big)

def post(path, body, token=None):
    req = urllib.request.Request(base + path, data=json.dumps(body).encode(), method="POST",
                                 headers={"Content-Type": "application/json"})
    if token:
        req.add_header("Authorization", "Bearer " + token)
    with urllib.request.urlopen(req) as r:
        return json.load(r)["data"]

name = "bench" + uuid.uuid4().hex[:8]
user = post("/app/register", {"username": name, "display_name": "Bench"})
bot = post("/app/createbot", {"username": name + "_bot", "display_name": "Bench bot"}, user["token"])
tok = bot["token"]

def curl(args):
    out = subprocess.run(["curl", "-s", "-S", "-H", "Authorization: Bearer " + tok, "-H", "Expect:",
                          "-w", "\n%{http_code} %{time_total}"] + args,
                         capture_output=True, check=True, text=True).stdout
    body, _, tail = out.rpartition("\n")
    code, secs = tail.split()
    return body, int(code), float(secs)

def upload():
    body, code, secs = curl(["-X", "POST", base + "/bot/uploadfile", "-F", "file=@" + big])
    assert code == 200, body
    return json.loads(body)["data"]["file_id"], secs

def rss_kib():
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0

MiB = 1024 * 1024
up = []
file_id = None
upload()  # warm-up (libmagic's database, the first blob directories)
for _ in range(runs):
    file_id, secs = upload()
    up.append(size / MiB / secs)

rss_before = rss_kib()
peak = [rss_before]
stop = threading.Event()
def sample():
    while not stop.is_set():
        peak[0] = max(peak[0], rss_kib())
        time.sleep(0.01)
t = threading.Thread(target=sample)
t.start()
errors = []
def one():
    try:
        upload()
    except Exception as e:  # noqa: BLE001
        errors.append(e)
threads = [threading.Thread(target=one) for _ in range(10)]
t0 = time.monotonic()
for th in threads: th.start()
for th in threads: th.join()
par_secs = time.monotonic() - t0
stop.set(); t.join()
growth = (peak[0] - rss_before) / 1024

down = []
for _ in range(runs):
    _, code, secs = curl(["-o", "/dev/null", base + "/file/" + file_id])
    assert code == 200
    down.append(size / MiB / secs)

ok = lambda b: "PASS" if b else "FAIL"
print(f"file size                 {size / MiB:.0f} MiB, {runs} runs")
print(f"upload throughput         best {max(up):7.0f} MiB/s  median {statistics.median(up):7.0f} MiB/s"
      f"   target >= 300 MiB/s   {ok(statistics.median(up) >= 300)}")
print(f"10 parallel uploads       {10 * size / MiB / par_secs:7.0f} MiB/s aggregate, {par_secs:.2f} s"
      f"{'   ERRORS: ' + str(errors[0]) if errors else ''}")
print(f"RSS growth (10 parallel)  {growth:7.1f} MiB (before {rss_before / 1024:.1f} MiB, peak {peak[0] / 1024:.1f} MiB)"
      f"   target <= 16 MiB   {ok(growth <= 16 and not errors)}")
print(f"download throughput       best {max(down):7.0f} MiB/s  median {statistics.median(down):7.0f} MiB/s"
      f"   target >= 1024 MiB/s   {ok(statistics.median(down) >= 1024)}")
EOF
