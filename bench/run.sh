#!/usr/bin/env bash
# bench/run.sh: binkd's throughput report (see docs/PERFORMANCE.md).
#
# Builds binkd (Release, in bench/.build) and bench/baseline.c (a bare
# libmicrohttpd responder), starts both on free loopback ports with fresh
# data directories, creates 1 user + 1 bot + a group of 20 members through
# the App API, then runs wrk against
#   1. the baseline       (bench/getme.lua; the baseline ignores the token)
#   2. binkd /bot/getme   (bench/getme.lua)
#   3. binkd /bot/sendmessage, text to the 20-member group (bench/sendmessage.lua)
# and prints requests/s, p99, the getme/baseline ratio, binkd's idle RSS and
# pass/fail marks against the targets.
# With BENCH_ROUNDS=R > 1 (the default is 3) the three runs are repeated R times in turn
# (baseline, getme, sendmessage, baseline, getme, ...; the same servers, a
# new wrk run each time): on a shared machine one binary's figures move by
# 20-30 % within minutes, and the ratio getme/baseline is steadier when both
# come from the same minute. Every round is printed; the targets are judged
# on the medians (req/s and p99: median over the rounds; getme/baseline: the
# median of the rounds' ratios). Later sendmessage rounds write into a
# database the earlier rounds have grown. It is a report, not a test: it exits 0
# whenever it produced the report (whatever the marks), non-zero only when it
# could not run at all (no wrk, build failure, a server that did not start).
#
# Environment:
#   BENCH_DURATION     wrk duration per run            [10s]
#   BENCH_CONNECTIONS  wrk connections                 [64]
#   BENCH_THREADS      wrk threads                     [2]
#   BENCH_WARMUP       warm-up run before each measure [2s]; 0 = none
#   BENCH_ROUNDS       rounds of the three runs, judged on medians [3]
#   BENCH_BINKD        use this binkd binary instead of building one
#   BENCH_PROFILE      1 = perf record binkd during the getme and sendmessage
#                      runs and print the top symbols (needs perf; round 1)
#   BENCH_KEEP         1 = keep the work directory (logs, databases)
# shellcheck disable=SC2059  # the table's printf format is the fixed $F
set -uo pipefail

BENCH_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(dirname "$BENCH_DIR")
DURATION=${BENCH_DURATION:-10s}
CONNS=${BENCH_CONNECTIONS:-64}
THREADS=${BENCH_THREADS:-2}
WARMUP=${BENCH_WARMUP:-2s}
PROFILE=${BENCH_PROFILE:-0}
KEEP=${BENCH_KEEP:-0}
ROUNDS=${BENCH_ROUNDS:-3}

# Targets (the issue): getme >= 60% of the baseline; sendmessage >= 15000
# req/s with p99 <= 10 ms at 64 connections; idle RSS <= 20 MiB.
T_GETME_RATIO=0.60
T_SEND_RPS=15000
T_SEND_P99_MS=10
T_RSS_KIB=$((20 * 1024))

die() { echo "bench: $*" >&2; exit 1; }
say() { echo "bench: $*" >&2; }

command -v wrk >/dev/null || die "wrk not found (apt-get install wrk)"
command -v python3 >/dev/null || die "python3 not found"
command -v gcc >/dev/null || die "gcc not found"
pkg-config --exists libmicrohttpd || die "libmicrohttpd development files not found"
[[ "$ROUNDS" =~ ^[1-9][0-9]*$ ]] || die "BENCH_ROUNDS must be a positive integer"

WORK=$(mktemp -d /tmp/bink-bench.XXXXXX) || die "mktemp failed"
PIDS=()
PERF_PID=""

# shellcheck disable=SC2317  # called through the EXIT trap
cleanup() {
  [ -n "$PERF_PID" ] && kill -INT "$PERF_PID" 2>/dev/null
  for pid in "${PIDS[@]}"; do
    kill -TERM "$pid" 2>/dev/null
  done
  for pid in "${PIDS[@]}"; do
    for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$pid" 2>/dev/null
    wait "$pid" 2>/dev/null
  done
  PIDS=()
  if [ "$KEEP" = 1 ]; then say "work directory kept: $WORK"; else rm -rf "$WORK"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# ---- build -----------------------------------------------------------------
if [ -n "${BENCH_BINKD:-}" ]; then
  BINKD=$BENCH_BINKD
  [ -x "$BINKD" ] || die "BENCH_BINKD=$BINKD is not executable"
else
  BINKD=$BENCH_DIR/.build/binkd
  built=0
  for attempt in 1 2 3; do
    if cmake -S "$ROOT" -B "$BENCH_DIR/.build" -DCMAKE_BUILD_TYPE=Release \
         -DBINK_TESTS=OFF >"$WORK/build.log" 2>&1 &&
       cmake --build "$BENCH_DIR/.build" --target binkd -j"$(nproc)" >>"$WORK/build.log" 2>&1; then
      built=1; break
    fi
    say "build attempt $attempt failed (tree mid-edit?); see below; retrying in 30 s"
    tail -n 5 "$WORK/build.log" >&2
    [ "$attempt" -lt 3 ] && sleep 30
  done
  [ "$built" = 1 ] || die "cannot build binkd"
fi
BASELINE=$WORK/baseline
# shellcheck disable=SC2046
gcc -O2 -Wall -Wextra -o "$BASELINE" "$BENCH_DIR/baseline.c" \
    $(pkg-config --cflags --libs libmicrohttpd) || die "cannot build the baseline"

# ---- start the servers ------------------------------------------------------
# listen_port PID: the TCP port PID listens on (binkd says so only at log
# level info, which the benchmark turns off): its socket inodes matched
# against the LISTEN rows of /proc/net/tcp.
listen_port() {
  python3 "$BENCH_DIR/listen_port.py" "$1" 2>/dev/null
}

# start NAME LOG CMD...: runs CMD in the background, waits until it listens,
# sets PORT and PID.
start() {
  local name=$1 log=$2; shift 2
  "$@" 2>"$log" &
  PID=$!
  PIDS+=("$PID")
  PORT=""
  for _ in $(seq 100); do
    PORT=$(listen_port "$PID")
    [ -n "$PORT" ] && return 0
    kill -0 "$PID" 2>/dev/null || break
    sleep 0.1
  done
  cat "$log" >&2
  die "$name did not start"
}

rss_kib() { awk '/^VmRSS:/ {print $2}' "/proc/$1/status" 2>/dev/null || echo 0; }

# cpu_ticks PID: user + system CPU time of PID so far, in clock ticks
cpu_ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat" 2>/dev/null || echo 0; }
HZ=$(getconf CLK_TCK)
# sys_ticks: "busy total" clock ticks of all CPUs (/proc/stat); sys_busy A B:
# percentage of the CPUs busy between two sys_ticks samples
sys_ticks() { awk '/^cpu / { t = 0; for (i = 2; i <= NF; i++) t += $i; print t - $5 - $6, t }' /proc/stat; }
sys_busy() {
  awk -v a="$1" -v b="$2" 'BEGIN { split(a, x, " "); split(b, y, " ");
    printf "%.0f", (y[2] > x[2] ? 100 * (y[1] - x[1]) / (y[2] - x[2]) : 0) }'
}

S0=$(sys_ticks); sleep 1; IDLE_BUSY=$(sys_busy "$S0" "$(sys_ticks)")
if [ "$IDLE_BUSY" -gt 15 ]; then
  say "warning: the CPUs were ${IDLE_BUSY}% busy before the runs: something else is running; figures will be low and noisy"
fi
start baseline "$WORK/baseline.log" "$BASELINE" 0
BASE_PORT=$PORT
BASE_PID=$PID
start binkd "$WORK/binkd.log" "$BINKD" --listen 127.0.0.1:0 --data "$WORK/data" \
  --log-level warn
BINKD_PORT=$PORT
BINKD_PID=$PID
sleep 1
RSS_START=$(rss_kib "$BINKD_PID")
say "baseline on :$BASE_PORT, binkd on :$BINKD_PORT (pid $BINKD_PID, RSS ${RSS_START} KiB)"

# ---- fixtures: 1 user (owner), 18 more users, 1 bot, a 20-member group ------
SETUP=$(python3 - "http://127.0.0.1:$BINKD_PORT" <<'PY'
import json, sys, urllib.request

base = sys.argv[1]

def call(path, body, token=None):
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

owner = call("/app/register", {"username": "benchowner", "display_name": "Bench owner"})
bot = call("/app/createbot", {"username": "benchbot", "display_name": "Bench bot"},
           owner["token"])
group = call("/app/creategroup", {"title": "bench group"}, owner["token"])
members = 1  # the owner
for i in range(18):
    u = call("/app/register", {"username": f"benchuser{i:02d}",
                                "display_name": f"Bench user {i}"})
    call("/app/addmember", {"group_id": group["group_id"], "user_id": u["user_id"]},
         owner["token"])
    members += 1
call("/app/addmember", {"group_id": group["group_id"], "user_id": bot["bot_id"]},
     owner["token"])
members += 1
print(bot["token"], group["group_id"], members)
PY
) || die "fixture setup through the App API failed"
read -r BOT_TOKEN GROUP_ID MEMBERS <<<"$SETUP"
say "bot token ${BOT_TOKEN:0:8}..., group $GROUP_ID with $MEMBERS members"

# ---- wrk runs ---------------------------------------------------------------
to_seconds() { # 10s, 1m, 500ms, 10 -> seconds (integer, rounded up)
  case $1 in
    *ms) echo 1 ;;
    *s) echo "${1%s}" ;;
    *m) echo $(( ${1%m} * 60 )) ;;
    *h) echo $(( ${1%h} * 3600 )) ;;
    *) echo "$1" ;;
  esac
}
LIMIT=$(( $(to_seconds "$DURATION") + 30 ))

# bench NAME PORT PID SCRIPT: warm-up, then a measured wrk run into
# $WORK/NAME.wrk; the server's CPU ticks during the measured run into NAME.cpu
bench() {
  local name=$1 port=$2 pid=$3 script=$4
  local env=(BINK_TOKEN="$BOT_TOKEN" BINK_GROUP_ID="$GROUP_ID")
  if [ "$WARMUP" != 0 ]; then
    env "${env[@]}" timeout "$LIMIT" wrk -t"$THREADS" -c"$CONNS" -d"$WARMUP" \
      -s "$script" "http://127.0.0.1:$port" >"$WORK/$name.warmup" 2>&1
  fi
  say "wrk $name: -t$THREADS -c$CONNS -d$DURATION"
  local cpu0 sys0; cpu0=$(cpu_ticks "$pid"); sys0=$(sys_ticks)
  env "${env[@]}" timeout "$LIMIT" wrk -t"$THREADS" -c"$CONNS" -d"$DURATION" \
    --latency --timeout 5s -s "$script" "http://127.0.0.1:$port" >"$WORK/$name.wrk" 2>&1
  echo $(( $(cpu_ticks "$pid") - cpu0 )) >"$WORK/$name.cpu"
  sys_busy "$sys0" "$(sys_ticks)" >"$WORK/$name.busy"
  sed 's/^/    /' "$WORK/$name.wrk" >&2
}

# Figures from a wrk report: "rps p50_ms p99_ms requests non2xx socket_errors"
parse() {
  awk '
    function ms(v) {
      if (v ~ /us$/) return substr(v, 1, length(v) - 2) / 1000
      if (v ~ /ms$/) return substr(v, 1, length(v) - 2) + 0
      if (v ~ /m$/)  return substr(v, 1, length(v) - 1) * 60000
      if (v ~ /s$/)  return substr(v, 1, length(v) - 1) * 1000
      return v + 0
    }
    /^Requests\/sec:/ { rps = $2 }
    /^ +50%/ { p50 = ms($2) }
    /^ +99%/ { p99 = ms($2) }
    / requests in / { n = $1 }
    /Non-2xx or 3xx responses:/ { bad = $5 }
    /Socket errors:/ { for (i = 1; i <= NF; i++) if ($i ~ /^[0-9]+,?$/) { gsub(",", "", $i); se += $i } }
    END { printf "%.0f %.3f %.3f %d %d %d\n", rps, p50, p99, n, bad, se }
  ' "$1"
}

profile_start() {
  [ "$PROFILE" = 1 ] || return 0
  command -v perf >/dev/null || { say "perf not found; no profile"; return 0; }
  perf record -F 999 -g -p "$BINKD_PID" -o "$WORK/$1.perf" >"$WORK/$1.perf.log" 2>&1 &
  PERF_PID=$!
  sleep 0.5
}
profile_stop() {
  [ -n "$PERF_PID" ] || return 0
  kill -INT "$PERF_PID" 2>/dev/null
  wait "$PERF_PID" 2>/dev/null
  PERF_PID=""
  {
    echo "---- perf: top symbols of binkd during $1 (self time) ----"
    perf report -i "$WORK/$1.perf" --no-children --sort symbol --stdio 2>/dev/null |
      grep -E '^ +[0-9.]+%' | head -n 25
  } >"$WORK/$1.top"
}

count_messages() {
  python3 -c 'import sqlite3, sys
db = sqlite3.connect("file:" + sys.argv[1] + "?mode=ro", uri=True)
print(db.execute("SELECT count(*) FROM messages").fetchone()[0])' "$WORK/data/bink.db" 2>/dev/null || echo 0
}
MSGS_BEFORE=$(count_messages)
# sfx R: the suffix of round R's files (none with one round, as before)
sfx() { [ "$ROUNDS" = 1 ] || echo ".r$1"; }
for r in $(seq "$ROUNDS"); do
  [ "$ROUNDS" = 1 ] || say "round $r/$ROUNDS"
  s=$(sfx "$r")
  bench "baseline$s" "$BASE_PORT" "$BASE_PID" "$BENCH_DIR/getme.lua"
  if [ "$r" = 1 ]; then profile_start getme; fi
  bench "getme$s" "$BINKD_PORT" "$BINKD_PID" "$BENCH_DIR/getme.lua"
  if [ "$r" = 1 ]; then profile_stop getme; profile_start sendmessage; fi
  bench "sendmessage$s" "$BINKD_PORT" "$BINKD_PID" "$BENCH_DIR/sendmessage.lua"
  if [ "$r" = 1 ]; then profile_stop sendmessage; fi
done

# Idle again: binkd gives memory back after 5 s without writes (its page
# cache and the heap's free pages); read RSS once that has happened.
sleep 7
RSS_AFTER=$(rss_kib "$BINKD_PID")

# Durability check: rows in the messages table vs 2xx answers to sendmessage
# (warm-up included); read through SQLite while binkd still runs.
MSGS_AFTER=$(count_messages)

# ---- report -----------------------------------------------------------------
mark() { if [ "$1" = 1 ]; then echo PASS; else echo FAIL; fi; }
ge() { awk -v a="$1" -v b="$2" 'BEGIN { print ((a >= b) ? 1 : 0) }'; }
le() { awk -v a="$1" -v b="$2" 'BEGIN { print ((a <= b) ? 1 : 0) }'; }
MIB() { awk -v k="$1" 'BEGIN { printf "%.1f MiB", k / 1024 }'; }
# median V...: the median of numbers (mean of the middle two for an even
# count); a single value comes back as given
median() {
  printf '%s\n' "$@" | sort -g | awk 'BEGIN { OFMT = "%.6f" } { v[NR] = $1 }
    END { if (NR == 0) print 0; else if (NR % 2) print v[(NR + 1) / 2]; else print (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}
# server CPU per request, microseconds: ticks / HZ / requests
cpu_us() { awk -v t="$(cat "$WORK/$1.cpu" 2>/dev/null || echo 0)" -v hz="$HZ" -v n="$2" \
  'BEGIN { printf "%.1f", (n > 0 ? t / hz / n * 1e6 : 0) }'; }
busy() { cat "$WORK/$1.busy" 2>/dev/null || echo "?"; }

# Each round's figures by "RUN.ROUND" (RUN: baseline, getme, sendmessage):
# req/s, p50, p99, requests, errors (non-2xx + socket), "vs base" (req/s over
# the baseline's in the same round), server CPU us/request, CPUs busy %.
declare -A RPS P50 P99 ERR VS CPU BUSY
for r in $(seq "$ROUNDS"); do
  s=$(sfx "$r")
  for run in baseline getme sendmessage; do
    read -r rps p50 p99 n bad se <<<"$(parse "$WORK/$run$s.wrk")"
    RPS[$run.$r]=$rps; P50[$run.$r]=$p50; P99[$run.$r]=$p99
    ERR[$run.$r]=$((bad + se))
    VS[$run.$r]=$(awk -v g="$rps" -v b="${RPS[baseline.$r]}" 'BEGIN { printf "%.2f", (b > 0 ? g / b : 0) }')
    CPU[$run.$r]=$(cpu_us "$run$s" "$n")
    BUSY[$run.$r]=$(busy "$run$s")
  done
done
# med ARRAY RUN: the median over the rounds of ARRAY[RUN.*]
med() {
  local -n a=$1
  local r v=()
  for r in $(seq "$ROUNDS"); do v+=("${a[$2.$r]}"); done
  median "${v[@]}"
}
# total ARRAY RUN: the sum over the rounds
total() {
  local -n a=$1
  local r t=0
  for r in $(seq "$ROUNDS"); do t=$((t + ${a[$2.$r]})); done
  echo "$t"
}
RATIO=$(printf '%.2f' "$(med VS getme)")
S_RPS=$(printf '%.0f' "$(med RPS sendmessage)")
S_P99=$(printf '%.3f' "$(med P99 sendmessage)")
G_ERR=$(total ERR getme)
S_ERR=$(total ERR sendmessage)
# for the durability check: 2xx answers to sendmessage, all rounds, warm-ups too
S_OK=0
for r in $(seq "$ROUNDS"); do
  s=$(sfx "$r")
  S_OK=$((S_OK + $(parse "$WORK/sendmessage$s.wrk" | awk '{print $4 - $5}')))
  [ -f "$WORK/sendmessage$s.warmup" ] &&
    S_OK=$((S_OK + $(parse "$WORK/sendmessage$s.warmup" | awk '{print $4 - $5}')))
done

echo
REV=$(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo unknown)
[ -n "$(git -C "$ROOT" status --porcelain -- src CMakeLists.txt 2>/dev/null)" ] && REV="$REV + uncommitted changes in src/"
echo "bink benchmark, $(date -u +%Y-%m-%dT%H:%MZ), $(nproc) cores, $(uname -r), binkd at $REV"
echo "wrk -t$THREADS -c$CONNS -d$DURATION (warm-up $WARMUP), loopback; group of $MEMBERS members"
echo "CPUs busy before the runs: ${IDLE_BUSY}% (wrk and the servers share the cores)"
echo
F='%-20s %9s %8s %8s %8s %11s %9s %6s\n'
printf "$F" run "req/s" "p50 ms" "p99 ms" "vs base" "server CPU" "CPUs busy" errors
printf "$F" "" "" "" "" "" "us/request" "(all)" ""
printf "$F" -------------------- --------- -------- -------- -------- ----------- --------- ------
declare -A LABELS=([baseline]="baseline (bare MHD)" [getme]="binkd getme" [sendmessage]="binkd sendmessage")
declare -A SHORT=([baseline]="baseline" [getme]="binkd getme" [sendmessage]="binkd sendmessage")
if [ "$ROUNDS" -gt 1 ]; then
  for r in $(seq "$ROUNDS"); do
    for run in baseline getme sendmessage; do
      printf "$F" "${SHORT[$run]} #$r" "${RPS[$run.$r]}" "${P50[$run.$r]}" "${P99[$run.$r]}" \
        "${VS[$run.$r]}" "${CPU[$run.$r]}" "${BUSY[$run.$r]}%" "${ERR[$run.$r]}"
    done
  done
  echo "median of $ROUNDS rounds (vs base: median of the rounds' ratios; errors: all rounds):"
fi
# with one round, that round's figures, as before
for run in baseline getme sendmessage; do
  printf "$F" "${LABELS[$run]}" "$(printf '%.0f' "$(med RPS "$run")")" \
    "$(printf '%.3f' "$(med P50 "$run")")" "$(printf '%.3f' "$(med P99 "$run")")" \
    "$(printf '%.2f' "$(med VS "$run")")" "$(printf '%.1f' "$(med CPU "$run")")" \
    "$(printf '%.0f' "$(med BUSY "$run")")%" "$(total ERR "$run")"
done
echo
echo "idle RSS of binkd: $(MIB "$RSS_START") after start-up, $(MIB "$RSS_AFTER") after the runs"
echo "messages stored: $((MSGS_AFTER - MSGS_BEFORE)) rows for $S_OK successful sendmessage calls (warm-up included)"
echo
M=measured; [ "$ROUNDS" -gt 1 ] && M="median of $ROUNDS"
printf '%-44s %-14s %-14s %s\n' target wanted "$M" ""
printf '%-44s %-14s %-14s %s\n' "getme / baseline req/s" ">= $T_GETME_RATIO" "$RATIO" \
  "$(mark "$(ge "$RATIO" "$T_GETME_RATIO")")"
printf '%-44s %-14s %-14s %s\n' "sendmessage req/s (20 members, SQLite)" ">= $T_SEND_RPS" "$S_RPS" \
  "$(mark "$(ge "$S_RPS" "$T_SEND_RPS")")"
printf '%-44s %-14s %-14s %s\n' "sendmessage p99 at $CONNS connections" "<= $T_SEND_P99_MS ms" "$S_P99 ms" \
  "$(mark "$(le "$S_P99" "$T_SEND_P99_MS")")"
printf '%-44s %-14s %-14s %s\n' "idle RSS after start-up" "<= 20 MiB" "$(MIB "$RSS_START")" \
  "$(mark "$(le "$RSS_START" "$T_RSS_KIB")")"
printf '%-44s %-14s %-14s %s\n' "idle RSS after the runs" "<= 20 MiB" "$(MIB "$RSS_AFTER")" \
  "$(mark "$(le "$RSS_AFTER" "$T_RSS_KIB")")"
if [ $((S_ERR + G_ERR)) -gt 0 ]; then
  echo
  echo "note: binkd answered errors or dropped sockets during the runs (see the wrk output above)"
fi
if [ "$PROFILE" = 1 ]; then
  echo
  cat "$WORK/getme.top" 2>/dev/null
  echo
  cat "$WORK/sendmessage.top" 2>/dev/null
fi
exit 0
