#!/usr/bin/env bash
# bench/events.sh: binkd's event delivery report (docs/PERFORMANCE.md,
# "Events").
#
# Builds binkd (Release, in bench/.build, as bench/run.sh does) and
# bench/receiver.c (a libmicrohttpd webhook receiver answering 204 that
# records each request's arrival time); starts both on free loopback ports
# with a fresh data directory; creates 1 bot whose webhook points at the
# receiver (max_connections 100) and 100 users (100 private chats), then:
#   (b) latency: wrk paced at EVENTS_RATE sendmessage calls/s from the 100
#       users (bench/events_send.lua, content "lat <send time>"); per event,
#       receiver arrival - the moment wrk had the sendmessage answer
#       (joined on message_id), and receiver arrival - the send time;
#   (a) throughput: wrk as fast as it can for EVENTS_DURATION s; deliveries
#       per second at the receiver during the send and while the backlog
#       drains (bounded by EVENTS_DRAIN_LIMIT); the outbox backlog; binkd's
#       per-thread CPU; perf profile of binkd during the send;
#   (d) drain: the outbox filled for EVENTS_DURATION s with the webhook
#       deleted, then the webhook set again: pending events / time to empty
#       is the dispatcher's own delivery rate (not bounded by the sender);
#   (c) idle waiters: bench/events_streams.py opens EVENTS_STREAMS SSE
#       streams (GET /app/events, one per new user) and EVENTS_POLLS long
#       polls (getupdates timeout 50, one per new bot), samples binkd's
#       VmRSS / Threads / fds idle, with all of them open, and after closing.
# (b) runs before (a) so that it sees an empty outbox.
# A report, not a test: exits 0 whenever it produced the report, non-zero
# only when it could not run (no wrk, build failure, a server not starting).
#
# Environment:
#   EVENTS_DURATION        throughput send, seconds                  [15]
#   EVENTS_CONNECTIONS     wrk connections for the throughput run    [64]
#   EVENTS_RATE            paced rate of the latency run, events/s   [2000]
#   EVENTS_LAT_DURATION    latency run, seconds                      [15]
#   EVENTS_LAT_CONNECTIONS wrk connections for the latency run       [20]
#   EVENTS_THREADS         wrk threads                               [2]
#   EVENTS_DRAIN_LIMIT     max seconds to wait for the backlog       [120]
#   EVENTS_STREAMS         idle SSE streams                          [10000]
#   EVENTS_POLLS           idle long polls (one bot each)            [1000]
#   EVENTS_HOLD            seconds the waiters are held open         [10]
#   EVENTS_PHASES          which of b, a, d, c to run, in that order ["b a d c"]
#   EVENTS_PROFILE         1 = perf record binkd during (a)          [1 if perf exists]
#   EVENTS_KEEP            1 = keep the work directory
#   BENCH_BINKD            use this binkd binary instead of building one
set -uo pipefail

BENCH_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(dirname "$BENCH_DIR")
DURATION=${EVENTS_DURATION:-15}
CONNS=${EVENTS_CONNECTIONS:-64}
RATE=${EVENTS_RATE:-2000}
LAT_DURATION=${EVENTS_LAT_DURATION:-15}
LAT_CONNS=${EVENTS_LAT_CONNECTIONS:-20}
THREADS=${EVENTS_THREADS:-2}
DRAIN_LIMIT=${EVENTS_DRAIN_LIMIT:-120}
NSTREAMS=${EVENTS_STREAMS:-10000}
NPOLLS=${EVENTS_POLLS:-1000}
HOLD=${EVENTS_HOLD:-10}
KEEP=${EVENTS_KEEP:-0}
if command -v perf >/dev/null; then PROFILE=${EVENTS_PROFILE:-1}; else PROFILE=0; fi
PHASES=" ${EVENTS_PHASES:-b a d c} "
has() { [[ "$PHASES" == *" $1 "* ]]; }
NUSERS=100

# Targets (issue 4)
T_RATE=10000      # delivered events/s, 100 chats, one bot
T_P50_MS=5        # enqueue-to-2xx at 2000 events/s
T_P99_MS=50
T_RSS_KIB=$((200 * 1024)) # with 10 000 idle waiters

die() { echo "events: $*" >&2; exit 1; }
say() { echo "events: $*" >&2; }

command -v wrk >/dev/null || die "wrk not found (apt-get install wrk)"
command -v python3 >/dev/null || die "python3 not found"
command -v gcc >/dev/null || die "gcc not found"
pkg-config --exists libmicrohttpd || die "libmicrohttpd development files not found"

WORK=$(mktemp -d /tmp/bink-events.XXXXXX) || die "mktemp failed"
PIDS=()
PERF_PID=""
SAMPLER_PID=""
TOOL=$BENCH_DIR/events_tool.py

# shellcheck disable=SC2317  # called through the EXIT trap
cleanup() {
  [ -n "$PERF_PID" ] && kill -INT "$PERF_PID" 2>/dev/null && wait "$PERF_PID" 2>/dev/null
  [ -n "$SAMPLER_PID" ] && kill "$SAMPLER_PID" 2>/dev/null
  for pid in "${PIDS[@]}"; do
    kill -TERM "$pid" 2>/dev/null
  done
  for pid in "${PIDS[@]}"; do
    for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
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
    say "build attempt $attempt failed (tree mid-edit?); retrying in 30 s"
    tail -n 5 "$WORK/build.log" >&2
    [ "$attempt" -lt 3 ] && sleep 30
  done
  [ "$built" = 1 ] || die "cannot build binkd"
fi
RECEIVER=$WORK/receiver
# shellcheck disable=SC2046
gcc -O2 -Wall -Wextra -o "$RECEIVER" "$BENCH_DIR/receiver.c" \
    $(pkg-config --cflags --libs libmicrohttpd) || die "cannot build the receiver"

# ---- start the servers ------------------------------------------------------
listen_port() { # PID -> its listening TCP port, from /proc (see bench/run.sh)
  python3 "$BENCH_DIR/listen_port.py" "$1" 2>/dev/null
}
start() { # NAME LOG CMD...: start in the background, wait for it to listen
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
sys_ticks() { awk '/^cpu / { t = 0; for (i = 2; i <= NF; i++) t += $i; print t - $5 - $6, t }' /proc/stat; }
sys_busy() {
  awk -v a="$1" -v b="$2" 'BEGIN { split(a, x, " "); split(b, y, " ");
    printf "%.0f", (y[2] > x[2] ? 100 * (y[1] - x[1]) / (y[2] - x[2]) : 0) }'
}
now() { date +%s.%N; }
HZ=$(getconf CLK_TCK)

S0=$(sys_ticks); sleep 1; IDLE_BUSY=$(sys_busy "$S0" "$(sys_ticks)")
LOAD=$(cut -d' ' -f1-3 /proc/loadavg)
[ "$IDLE_BUSY" -gt 15 ] &&
  say "warning: the CPUs were ${IDLE_BUSY}% busy before the runs (load $LOAD): figures will be low and noisy"

start receiver "$WORK/receiver.log" "$RECEIVER" "$WORK/receiver.dump" 8000000
RECV_PORT=$PORT
RECV_PID=$PID
start binkd "$WORK/binkd.log" "$BINKD" --listen 127.0.0.1:0 --data "$WORK/data" \
  --log-level warn
BINKD_PORT=$PORT
BINKD_PID=$PID
BASE=http://127.0.0.1:$BINKD_PORT
DB=$WORK/data/bink.db
COUNT_URL=http://127.0.0.1:$RECV_PORT/count
say "receiver on :$RECV_PORT, binkd on :$BINKD_PORT (pid $BINKD_PID)"

read -r BOT_ID BOT_TOKEN OWNER_TOKEN < <(python3 "$TOOL" setup "$BASE" \
  "http://127.0.0.1:$RECV_PORT/hook" "$NUSERS" "$WORK") || true
[ -n "${OWNER_TOKEN:-}" ] || die "fixture setup through the App API failed"
say "bot $BOT_ID (token ${BOT_TOKEN:0:6}...), $NUSERS users"

wait_drained() { # LIMIT_S: until the outbox has no pending event
  local end=$(( $(date +%s) + $1 )) p
  while [ "$(date +%s)" -lt "$end" ]; do
    p=$(python3 "$TOOL" pending "$DB")
    [ "$p" = 0 ] && return 0
    sleep 0.5
  done
  return 1
}

# drop_backlog: deletewebhook with drop_pending (so that the next phase starts
# with an empty outbox), then the webhook again; prints the events dropped
drop_backlog() {
  local n; n=$(python3 "$TOOL" pending "$DB")
  python3 - "$BASE" "$BOT_TOKEN" "http://127.0.0.1:$RECV_PORT/hook" <<'PY' >/dev/null || say "could not drop the backlog"
import json, sys, urllib.request
base, token, url = sys.argv[1:4]
def call(path, body):
    req = urllib.request.Request(base + path, data=json.dumps(body).encode(), method="POST",
        headers={"Content-Type": "application/json", "Authorization": "Bearer " + token})
    with urllib.request.urlopen(req, timeout=60) as r:
        assert json.load(r)["code"] == 200
call("/bot/deletewebhook", {"drop_pending": True})
call("/bot/setwebhook", {"url": url, "max_connections": 100})
PY
  echo "$n"
}

if has b; then
# ---- (b) latency at EVENTS_RATE -------------------------------------------
mkdir -p "$WORK/lat"
say "(b) latency: wrk -t$THREADS -c$LAT_CONNS -d${LAT_DURATION}s paced at $RATE/s"
L_START=$(now)
BINK_TOKENS=$WORK/tokens BINK_BOT_ID=$BOT_ID BINK_THREADS=$THREADS BINK_RATE=$RATE \
BINK_RESP_DIR=$WORK/lat timeout $((LAT_DURATION + 30)) \
  wrk -t"$THREADS" -c"$LAT_CONNS" -d"${LAT_DURATION}s" --latency --timeout 5s \
  -s "$BENCH_DIR/events_send.lua" "$BASE" >"$WORK/lat.wrk" 2>&1
L_END=$(now)
sed 's/^/    /' "$WORK/lat.wrk" >&2
L_DROPPED=0
if ! wait_drained 60; then
  L_DROPPED=$(drop_backlog)
  say "latency run: backlog not drained after 60 s; dropped $L_DROPPED pending events"
fi
sleep 1
fi

if has a; then
# ---- (a) throughput ---------------------------------------------------------
say "(a) throughput: wrk -t$THREADS -c$CONNS -d${DURATION}s, unpaced"
python3 "$TOOL" sample "$DB" "$COUNT_URL" "$BINKD_PID" "$WORK/samples" \
  "$WORK/sampler.stop" $((DURATION + DRAIN_LIMIT + 30)) &
SAMPLER_PID=$!
python3 "$TOOL" threads "$BINKD_PID" >"$WORK/threads.before"
if [ "$PROFILE" = 1 ]; then
  perf record -F 499 -g -p "$BINKD_PID" -o "$WORK/tp.perf" >"$WORK/perf.log" 2>&1 &
  PERF_PID=$!
  sleep 0.5
fi
T_START=$(now); SYS0=$(sys_ticks)
BINK_TOKENS=$WORK/tokens BINK_BOT_ID=$BOT_ID BINK_THREADS=$THREADS \
  timeout $((DURATION + 30)) \
  wrk -t"$THREADS" -c"$CONNS" -d"${DURATION}s" --latency --timeout 5s \
  -s "$BENCH_DIR/events_send.lua" "$BASE" >"$WORK/tp.wrk" 2>&1
T_END=$(now); TP_BUSY=$(sys_busy "$SYS0" "$(sys_ticks)")
python3 "$TOOL" threads "$BINKD_PID" >"$WORK/threads.after"
if [ -n "$PERF_PID" ]; then
  kill -INT "$PERF_PID" 2>/dev/null; wait "$PERF_PID" 2>/dev/null; PERF_PID=""
fi
sed 's/^/    /' "$WORK/tp.wrk" >&2
say "waiting for the backlog to drain (at most $DRAIN_LIMIT s)"
DRAINED=yes
wait_drained "$DRAIN_LIMIT" || DRAINED=no
sleep 1
touch "$WORK/sampler.stop"; wait "$SAMPLER_PID" 2>/dev/null; SAMPLER_PID=""
LEFT=$(python3 "$TOOL" pending "$DB")
T_DROPPED=0
if [ "$DRAINED" = no ]; then
  T_DROPPED=$(drop_backlog)
  say "throughput run: backlog not drained; dropped $T_DROPPED pending events before (c)"
fi
# (c) wants binkd idle: wait (at most 120 s) for a second with < 5 % of a core
IDLE_WAIT=0
for _ in $(seq 120); do
  c0=$(awk '{ print $14 + $15 }' "/proc/$BINKD_PID/stat"); sleep 1
  IDLE_WAIT=$((IDLE_WAIT + 1))
  [ $(( $(awk '{ print $14 + $15 }' "/proc/$BINKD_PID/stat") - c0 )) -le $((HZ / 20)) ] && break
done
say "binkd idle after ${IDLE_WAIT} s"
fi

if has d; then
# ---- (d) drain: the dispatcher alone --------------------------------------
# With the webhook deleted (pending events are kept), wrk fills the outbox
# for EVENTS_DURATION s across the 100 chats; then the webhook is set again
# and the time until the outbox is empty gives the delivery rate of the
# dispatcher, no longer limited by how fast this machine can also send.
say "(d) drain: filling the outbox for ${DURATION}s with the webhook off"
python3 - "$BASE" "$BOT_TOKEN" <<'PY' >/dev/null || die "deletewebhook failed"
import json, sys, urllib.request
base, token = sys.argv[1:3]
req = urllib.request.Request(base + "/bot/deletewebhook", data=b"{}", method="POST",
    headers={"Content-Type": "application/json", "Authorization": "Bearer " + token})
assert json.load(urllib.request.urlopen(req, timeout=60))["code"] == 200
PY
BINK_TOKENS=$WORK/tokens BINK_BOT_ID=$BOT_ID BINK_THREADS=$THREADS \
  timeout $((DURATION + 30)) wrk -t"$THREADS" -c"$CONNS" -d"${DURATION}s" \
  -s "$BENCH_DIR/events_send.lua" "$BASE" >"$WORK/drain.wrk" 2>&1
D_PENDING=$(python3 "$TOOL" pending "$DB")
say "(d) $D_PENDING events pending; setting the webhook"
D_START=$(now)
python3 - "$BASE" "$BOT_TOKEN" "http://127.0.0.1:$RECV_PORT/hook" <<'PY' >/dev/null || die "setwebhook failed"
import json, sys, urllib.request
base, token, url = sys.argv[1:4]
req = urllib.request.Request(base + "/bot/setwebhook",
    data=json.dumps({"url": url, "max_connections": 100}).encode(), method="POST",
    headers={"Content-Type": "application/json", "Authorization": "Bearer " + token})
assert json.load(urllib.request.urlopen(req, timeout=60))["code"] == 200
PY
D_OK=0
while :; do
  p=$(python3 "$TOOL" pending "$DB")
  [ "$p" = 0 ] && { D_OK=1; break; }
  awk -v a="$D_START" -v b="$(now)" -v l="$DRAIN_LIMIT" 'BEGIN { exit !(b - a > l) }' && break
  sleep 0.2
done
D_END=$(now)
D_RATE=$(awk -v n="$D_PENDING" -v a="$D_START" -v b="$D_END" -v ok="$D_OK" \
  'BEGIN { printf "%.0f", ((ok && b > a) ? n / (b - a) : 0) }')
say "(d) drained $D_PENDING events in $(awk -v a="$D_START" -v b="$D_END" 'BEGIN { printf "%.2f", b - a }') s: $D_RATE events/s"
fi

# the receiver writes its records when it stops
kill -TERM "$RECV_PID" 2>/dev/null
for _ in $(seq 100); do kill -0 "$RECV_PID" 2>/dev/null || break; sleep 0.1; done
cat "$WORK/receiver.log" >&2

# ---- (c) idle waiters -------------------------------------------------------
if has c; then
say "(c) $NSTREAMS SSE streams + $NPOLLS long polls, held ${HOLD}s"
timeout 400 python3 "$BENCH_DIR/events_streams.py" "$BINKD_PORT" "$BINKD_PID" \
  "$NSTREAMS" "$NPOLLS" "$OWNER_TOKEN" "$HOLD" 360 >"$WORK/streams.json" \
  2>"$WORK/streams.log" || { say "streams client failed:"; cat "$WORK/streams.log" >&2; }

fi
# ---- report -----------------------------------------------------------------
has b && python3 "$TOOL" latency "$WORK/receiver.dump" "$WORK/lat" "$L_START" "$L_END" >"$WORK/lat.txt"
has a && \
python3 "$TOOL" throughput "$WORK/receiver.dump" "$WORK/samples" "$T_START" "$T_END" \
  "$WORK/threads.before" "$WORK/threads.after" "$HZ" >"$WORK/tp.txt"
v() { awk -v k="$2" '$1 == k { print $2 }' "$WORK/$1"; }
wrk_rps() { awk '/^Requests\/sec:/ { printf "%.0f", $2 }' "$1"; }
wrk_lat() { awk -v q="$2" '$1 == q { print $2 }' "$1"; }
mark() { if [ "$1" = 1 ]; then echo PASS; else echo FAIL; fi; }
ge() { awk -v a="$1" -v b="$2" 'BEGIN { print ((a + 0 >= b + 0) ? 1 : 0) }'; }
le() { awk -v a="$1" -v b="$2" 'BEGIN { print ((a + 0 <= b + 0) ? 1 : 0) }'; }
MIB() { awk -v k="$1" 'BEGIN { printf "%.1f MiB", k / 1024 }'; }
S() { python3 -c 'import json,sys
try: d = json.load(open(sys.argv[1]))
except Exception: print("?"); sys.exit()
for k in sys.argv[2].split("."):
    d = d.get(k, "?") if isinstance(d, dict) else "?"
print(d)' "$WORK/streams.json" "$1"; }

REV=$(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo unknown)
[ -n "$(git -C "$ROOT" status --porcelain -- src CMakeLists.txt 2>/dev/null)" ] && REV="$REV + uncommitted changes in src/"
echo
echo "bink events benchmark, $(date -u +%Y-%m-%dT%H:%MZ), $(nproc) cores, $(uname -r), binkd at $REV"
echo "CPUs busy before the runs: ${IDLE_BUSY}% (load average $LOAD); wrk, the receiver and binkd share the cores"
echo
if has b; then
echo "(b) latency: wrk -t$THREADS -c$LAT_CONNS, paced at $RATE sendmessage/s for ${LAT_DURATION}s"
echo "    sendmessage answered:  $(wrk_rps "$WORK/lat.wrk") req/s, p50 $(wrk_lat "$WORK/lat.wrk" 50%) p99 $(wrk_lat "$WORK/lat.wrk" 99%); events received $(v lat.txt events_received), $(v lat.txt rate)/s; non-2xx $(v lat.txt responses_other)"
echo "    arrival - answer (ms): p50 $(v lat.txt resp_p50)  p90 $(v lat.txt resp_p90)  p99 $(v lat.txt resp_p99)  p99.9 $(v lat.txt resp_p99.9)  max $(v lat.txt resp_max)  (negative: $(v lat.txt negative), unmatched: $(v lat.txt unmatched_sent))"
echo "    events sent in the first second only: arrival - answer p50 $(v lat.txt first1s_p50) p99 $(v lat.txt first1s_p99) ms ($(v lat.txt first1s_n) events)"
[ "$L_DROPPED" != 0 ] && echo "    backlog not drained 60 s after the run: $L_DROPPED pending events dropped (deletewebhook drop_pending) before (a); those never reached the receiver and are not in the percentiles"
echo "    arrival - send (ms):   p50 $(v lat.txt send_p50)  p90 $(v lat.txt send_p90)  p99 $(v lat.txt send_p99)  p99.9 $(v lat.txt send_p99.9)  max $(v lat.txt send_max)"
echo
fi
if has a; then
echo "(a) throughput: wrk -t$THREADS -c$CONNS -d${DURATION}s unpaced; CPUs busy ${TP_BUSY}%"
echo "    sendmessage (enqueue): $(wrk_rps "$WORK/tp.wrk") req/s, p50 $(wrk_lat "$WORK/tp.wrk" 50%) p99 $(wrk_lat "$WORK/tp.wrk" 99%)"
echo "    delivered during the send (s 2..end): median $(v tp.txt steady_median)/s, mean $(v tp.txt steady_mean)/s, min $(v tp.txt steady_min), max $(v tp.txt steady_max)"
echo "    delivered while draining: median $(v tp.txt drain_median)/s; drained: $DRAINED ($(v tp.txt drain_end_s) s after the send; $LEFT left, $T_DROPPED dropped before (c))"
echo "    backlog (pending events) at the end of the send: $(v tp.txt backlog_at_end), max $(v tp.txt backlog_max)"
echo "    events delivered: $(v tp.txt delivered_total) ($(v tp.txt attempts_total) attempts, $(v tp.txt retries) retries); binkd CPU during the send: $(v tp.txt binkd_cpu_pct)% of one core"
echo "    binkd threads' CPU during the send (tid:% of a core): $(v tp.txt threads_cpu)"
echo "    deliveries per second from the start of the send: $(v tp.txt per_second)"
echo "    (binkd went idle ${IDLE_WAIT} s after the drain wait / drop)"
echo
fi
if has c; then
echo "(c) idle waiters: $(S streams_ready)/$NSTREAMS SSE streams and $(S polls_ready)/$NPOLLS long polls open in $(S open_s) s (failed: $(S failed) $(S failures))"
echo "    binkd idle (after registering $NSTREAMS users): RSS $(MIB "$(S idle.VmRSS)"), $(S idle.Threads) threads, $(S idle.fds) fds"
echo "    all open:                  RSS $(MIB "$(S open.VmRSS)"), $(S open.Threads) threads, $(S open.fds) fds"
echo "    after ${HOLD}s held:           RSS $(MIB "$(S held.VmRSS)"), $(S held.Threads) threads; CPU over the hold: $(python3 -c 'import json,sys
d = json.load(open(sys.argv[1])); print("%.1f%% of one core" % (100 * (d["held"]["cpu_ticks"] - d["open"]["cpu_ticks"]) / int(sys.argv[2]) / (d["held"]["t"] - d["open"]["t"])))' "$WORK/streams.json" "$HZ" 2>/dev/null || echo "?")"
echo "    closed (2 s later):        RSS $(MIB "$(S closed.VmRSS)"), $(S closed.Threads) threads, $(S closed.fds) fds; peak RSS (VmHWM) $(MIB "$(S closed.VmHWM)")"
echo "    closed (20 s later):       RSS $(MIB "$(S closed20.VmRSS)"), $(S closed20.Threads) threads, $(S closed20.fds) fds"
echo
fi
echo
printf '%-52s %-12s %-16s %s\n' target wanted measured ""
has a && printf '%-52s %-12s %-16s %s\n' "delivered events/s, 100 chats, 1 bot (median/s)" ">= $T_RATE" "$(v tp.txt steady_median)" \
  "$(mark "$(ge "$(v tp.txt steady_median)" "$T_RATE")")"
has d && printf '%-52s %-12s %-16s %s\n' "drain rate of a filled outbox, 100 chats, 1 bot" ">= $T_RATE" "$D_RATE" \
  "$(mark "$(ge "$D_RATE" "$T_RATE")")"
has b && printf '%-52s %-12s %-16s %s\n' "enqueue-to-2xx p50 at $RATE events/s" "<= $T_P50_MS ms" "$(v lat.txt resp_p50) ms" \
  "$(mark "$(le "$(v lat.txt resp_p50)" "$T_P50_MS")")"
has b && printf '%-52s %-12s %-16s %s\n' "enqueue-to-2xx p99 at $RATE events/s" "<= $T_P99_MS ms" "$(v lat.txt resp_p99) ms" \
  "$(mark "$(le "$(v lat.txt resp_p99)" "$T_P99_MS")")"
OPEN_RSS=$(S held.VmRSS)
has c && printf '%-52s %-12s %-16s %s\n' "RSS with $NSTREAMS streams + $NPOLLS polls open" "<= 200 MiB" "$(MIB "$OPEN_RSS")" \
  "$(mark "$(le "$OPEN_RSS" "$T_RSS_KIB")")"
has c && printf '%-52s %-12s %-16s %s\n' "threads with the waiters open (idle: $(S idle.Threads))" "= idle" "$(S held.Threads)" \
  "$(mark "$([ "$(S held.Threads)" = "$(S idle.Threads)" ] && [ "$(S streams_ready)" = "$NSTREAMS" ] && echo 1 || echo 0)")"
if [ "$PROFILE" = 1 ] && [ -f "$WORK/tp.perf" ]; then
  echo
  echo "---- perf: binkd during the throughput send, self time by thread and symbol ----"
  perf report -i "$WORK/tp.perf" -g none --no-children --sort pid,dso,symbol --stdio 2>/dev/null |
    grep -E '^ +[0-9.]+%' | head -n 40
  echo "---- perf: self time by shared object ----"
  perf report -i "$WORK/tp.perf" -g none --no-children --sort dso --stdio 2>/dev/null |
    grep -E '^ +[0-9.]+%' | head -n 12
fi
exit 0
