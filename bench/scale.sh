#!/usr/bin/env bash
# bench/scale.sh: sendmessage on SQLite vs PostgreSQL, one node vs two
# (docs/scaling.md, docs/PERFORMANCE.md "Several nodes").
#
# Builds binkd (Release, in bench/.build), starts a throw-away PostgreSQL 15
# cluster (scripts/pg-cluster.sh) and measures, in one run, with wrk and
# bench/sendmessage.lua (a bot writes to a 20-member group):
#   1. one node on SQLite                     (the baseline of this run)
#   2. one node on PostgreSQL                 target >= 50 % of 1
#   3. two nodes on one PostgreSQL database   target >= 1.6 x 2
#   4. one node held to BENCH_NODE_CPU cores by a cgroup CPU quota, two
#      bots writing through it (half the connections each)
#   5. two such nodes, each in its own cgroup, one bot writing through each
#                                              target >= 1.6 x 4
# Runs 1-3 have one bot write: its update_id counter row is locked by
# each transaction that numbers its events (gapless across nodes), so two
# nodes writing for ONE bot take turns at that lock. Runs 4-5 have two bots,
# as a deployment of several nodes serves many.
# Runs 3 and 5 drive both nodes at once, each with half the connections,
# and add their rates. Runs 4 and 5 are the case "the database is not the
# bottleneck": each node gets the CPU of a small machine of its own, the
# database keeps the rest, as when nodes run on separate hosts. On a
# 2-core machine runs 2 and 3 cannot show that: database, nodes and wrk
# already share both cores at one node. (Runs 4-5 need a writable cgroup
# CPU controller, v1 or v2, i.e. root; they are skipped without one.) For each run it prints req/s, p99, and the CPU time spent by
# binkd and by PostgreSQL per request, which tells where the limit is: on a
# small machine the nodes, the database and wrk share the same cores.
# It is a report: exit 0 whenever it produced one, whatever the marks.
#
# Environment: BENCH_DURATION [10s], BENCH_CONNECTIONS [64], BENCH_THREADS [2],
# BENCH_WARMUP [2s], BENCH_BINKD (a binkd binary to use), BENCH_DB_POOL [2],
# BENCH_NODE_CPU [0.3] (cores per node in runs 4-5; 0 skips them).
# shellcheck disable=SC2059
set -uo pipefail

BENCH_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(dirname "$BENCH_DIR")
DURATION=${BENCH_DURATION:-10s}
CONNS=${BENCH_CONNECTIONS:-64}
THREADS=${BENCH_THREADS:-2}
WARMUP=${BENCH_WARMUP:-2s}
POOL=${BENCH_DB_POOL:-2}
NODE_CPU=${BENCH_NODE_CPU:-0.3}

die() { echo "bench: $*" >&2; exit 1; }
say() { echo "bench: $*" >&2; }
command -v wrk >/dev/null || die "wrk not found (apt-get install wrk)"

WORK=$(mktemp -d /tmp/bink-scale.XXXXXX) || die "mktemp failed"
chmod 755 "$WORK"
PIDS=()
CGROUPS=()
cleanup() {
  for pid in "${PIDS[@]}"; do kill -TERM "$pid" 2>/dev/null; done
  for pid in "${PIDS[@]}"; do wait "$pid" 2>/dev/null; done
  for cg in "${CGROUPS[@]}"; do rmdir "$cg" 2>/dev/null; done
  "$ROOT/scripts/pg-cluster.sh" stop "$WORK/pg" 2>/dev/null
  rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

if [ -n "${BENCH_BINKD:-}" ]; then
  BINKD=$BENCH_BINKD
else
  BINKD=$BENCH_DIR/.build/binkd
  cmake -S "$ROOT" -B "$BENCH_DIR/.build" -DCMAKE_BUILD_TYPE=Release \
    -DBINK_TESTS=OFF >"$WORK/build.log" 2>&1 &&
    cmake --build "$BENCH_DIR/.build" --target binkd -j"$(nproc)" >>"$WORK/build.log" 2>&1 ||
    { tail -20 "$WORK/build.log" >&2; die "cannot build binkd"; }
fi
PG_URI=$("$ROOT/scripts/pg-cluster.sh" start "$WORK/pg") || die "cannot start PostgreSQL"
PG_PID=$(head -1 "$WORK/pg/data/postmaster.pid")

# start LOG ARGS...: a binkd in the background; sets PID and PORT.
start() {
  local log=$1; shift
  "$BINKD" --listen 127.0.0.1:0 --log-level info "$@" 2>"$log" &
  PID=$!
  PIDS+=("$PID")
  PORT=""
  for _ in $(seq 100); do
    PORT=$(grep -o 'listening on http://127.0.0.1:[0-9]*' "$log" | head -1 | sed 's/.*://')
    [ -n "$PORT" ] && return 0
    kill -0 "$PID" 2>/dev/null || break
    sleep 0.1
  done
  cat "$log" >&2
  die "binkd did not start"
}

# setup PORT: owner, bot, a group of 20 members; prints "TOKEN GROUP_ID"
setup() {
  python3 - "http://127.0.0.1:$1" <<'PY'
import json, sys, urllib.request, uuid
base = sys.argv[1]
tag = uuid.uuid4().hex[:6]
def call(path, body, token=None):
    req = urllib.request.Request(base + path, data=json.dumps(body).encode(), method="POST",
                                 headers={"Content-Type": "application/json"})
    if token:
        req.add_header("Authorization", "Bearer " + token)
    with urllib.request.urlopen(req, timeout=10) as r:
        env = json.load(r)
    if env.get("code") != 200:
        sys.exit(f"{path}: {env}")
    return env["data"]
owner = call("/app/register", {"username": f"own{tag}", "display_name": "Owner"})
bot = call("/app/createbot", {"username": f"b{tag}bot", "display_name": "Bot"}, owner["token"])
group = call("/app/creategroup", {"title": "bench"}, owner["token"])
for i in range(18):
    u = call("/app/register", {"username": f"u{tag}{i:02d}", "display_name": "U"})
    call("/app/addmember", {"group_id": group["group_id"], "user_id": u["user_id"]}, owner["token"])
call("/app/addmember", {"group_id": group["group_id"], "user_id": bot["bot_id"]}, owner["token"])
print(bot["token"], group["group_id"])
PY
}

# cpu of a process tree (clock ticks): binkd pids given, or every postgres
ticks() { for p in "$@"; do awk '{ print $14 + $15 }' "/proc/$p/stat" 2>/dev/null; done | awk '{ s += $1 } END { print s + 0 }'; }
pg_ticks() {
  local total=0 p
  for p in $(pgrep -f "postgres" 2>/dev/null); do
    grep -q "$WORK/pg" "/proc/$p/cmdline" 2>/dev/null || [ "$(awk '{print $4}' "/proc/$p/stat" 2>/dev/null)" = "$PG_PID" ] || [ "$p" = "$PG_PID" ] || continue
    total=$(( total + $(awk '{ print $14 + $15 }' "/proc/$p/stat" 2>/dev/null || echo 0) ))
  done
  echo "$total"
}
HZ=$(getconf CLK_TCK)

rps_of() { awk '/^Requests\/sec:/ { print $2 }' "$1"; }
n_of() { awk '/ requests in / { print $1 }' "$1"; }
p99_of() {
  awk 'function ms(v) { if (v ~ /us$/) return substr(v, 1, length(v) - 2) / 1000
         if (v ~ /ms$/) return substr(v, 1, length(v) - 2) + 0
         if (v ~ /s$/) return substr(v, 1, length(v) - 1) * 1000; return v + 0 }
       /^ +99%/ { printf "%.2f", ms($2) }' "$1"
}
bad_of() { awk '/Non-2xx/ { b += $5 } /Socket errors/ { for (i = 1; i <= NF; i++) if ($i ~ /^[0-9]+,?$/) { gsub(",", "", $i); b += $i } } END { print b + 0 }' "$1"; }

# run NAME CONNS PORT:TOKEN:GROUP...: one wrk per spec, all at once, CONNS
# connections each, a bot writing to its group through that node
run() {
  local name=$1 conns=$2; shift 2
  local spec port token group i=0 pids=()
  for spec in "$@"; do
    IFS=: read -r port token group <<<"$spec"
    BINK_TOKEN=$token BINK_GROUP_ID=$group wrk -t1 -c"$conns" -d"$WARMUP" \
      -s "$BENCH_DIR/sendmessage.lua" "http://127.0.0.1:$port" >/dev/null 2>&1 &
    pids+=($!)
  done
  wait "${pids[@]}"
  pids=()
  local b0 p0; b0=$(ticks "${NODE_PIDS[@]}"); p0=$(pg_ticks)
  for spec in "$@"; do
    i=$((i + 1))
    IFS=: read -r port token group <<<"$spec"
    BINK_TOKEN=$token BINK_GROUP_ID=$group wrk -t"$THREADS" -c"$conns" -d"$DURATION" \
      --latency --timeout 5s -s "$BENCH_DIR/sendmessage.lua" \
      "http://127.0.0.1:$port" >"$WORK/$name.$i.wrk" 2>&1 &
    pids+=($!)
  done
  wait "${pids[@]}"
  echo $(( $(ticks "${NODE_PIDS[@]}") - b0 )) >"$WORK/$name.binkd"
  echo $(( $(pg_ticks) - p0 )) >"$WORK/$name.pg"
}

report() { # NAME -> "rps p99max n bad binkd_us pg_us"
  local name=$1 rps=0 n=0 bad=0 p99=0 f
  for f in "$WORK/$name".*.wrk; do
    rps=$(awk -v a="$rps" -v b="$(rps_of "$f")" 'BEGIN { print a + b }')
    n=$(( n + $(n_of "$f") ))
    bad=$(( bad + $(bad_of "$f") ))
    p99=$(awk -v a="$p99" -v b="$(p99_of "$f")" 'BEGIN { print (b > a ? b : a) }')
  done
  local bu pu
  bu=$(awk -v t="$(cat "$WORK/$name.binkd")" -v hz="$HZ" -v n="$n" 'BEGIN { printf "%.0f", n ? t / hz / n * 1e6 : 0 }')
  pu=$(awk -v t="$(cat "$WORK/$name.pg")" -v hz="$HZ" -v n="$n" 'BEGIN { printf "%.0f", n ? t / hz / n * 1e6 : 0 }')
  printf "%.0f %s %d %d %s %s\n" "$rps" "$p99" "$n" "$bad" "$bu" "$pu"
}

# cap PID: moves a node into a new cgroup whose CPU quota is NODE_CPU cores
# (cgroup v2 "cpu.max" or v1 "cpu.cfs_quota_us"); false when it cannot.
cap() {
  local quota cg
  quota=$(awk -v c="$NODE_CPU" 'BEGIN { printf "%d", c * 100000 }')
  [ "$quota" -gt 0 ] || return 1
  if [ -w /sys/fs/cgroup/cgroup.subtree_control ] &&
     grep -qw cpu /sys/fs/cgroup/cgroup.controllers 2>/dev/null; then
    cg=/sys/fs/cgroup/bink-bench.$$.$1
    mkdir "$cg" 2>/dev/null || return 1
    CGROUPS+=("$cg")
    echo "$quota 100000" >"$cg/cpu.max" || return 1
  elif [ -d /sys/fs/cgroup/cpu ] && [ -w /sys/fs/cgroup/cpu ]; then
    cg=/sys/fs/cgroup/cpu/bink-bench.$$.$1
    mkdir "$cg" 2>/dev/null || return 1
    CGROUPS+=("$cg")
    echo 100000 >"$cg/cpu.cfs_period_us" && echo "$quota" >"$cg/cpu.cfs_quota_us" || return 1
  else
    return 1
  fi
  echo "$1" >"$cg/cgroup.procs"
}

# 1. SQLite, one node
start "$WORK/sqlite.log" --data "$WORK/d-sqlite"
NODE_PIDS=("$PID"); read -r TOK GRP <<<"$(setup "$PORT")" || die "setup failed"
say "1/3 SQLite, one node"
run sqlite "$CONNS" "$PORT:$TOK:$GRP"
kill -TERM "$PID"; wait "$PID" 2>/dev/null

# 2. PostgreSQL, one node
psql -q "$PG_URI" -c "CREATE SCHEMA one; CREATE SCHEMA two" >/dev/null || die "psql failed"
U1="$PG_URI?options=-csearch_path%3Done"
U2="$PG_URI?options=-csearch_path%3Dtwo"
start "$WORK/pg1.log" --data "$WORK/d-pg1" --db "$U1" --db-pool "$POOL"
NODE_PIDS=("$PID"); read -r TOK GRP <<<"$(setup "$PORT")" || die "setup failed"
say "2/3 PostgreSQL, one node"
run pg1 "$CONNS" "$PORT:$TOK:$GRP"
kill -TERM "$PID"; wait "$PID" 2>/dev/null

# 3. PostgreSQL, two nodes (one database, one data directory)
start "$WORK/pg2a.log" --data "$WORK/d-pg2" --db "$U2" --db-pool "$POOL"
A_PID=$PID; A_PORT=$PORT
start "$WORK/pg2b.log" --data "$WORK/d-pg2" --db "$U2" --db-pool "$POOL"
B_PID=$PID; B_PORT=$PORT
NODE_PIDS=("$A_PID" "$B_PID"); read -r TOK GRP <<<"$(setup "$A_PORT")" || die "setup failed"
say "3/5 PostgreSQL, two nodes"
run pg2 $((CONNS / 2)) "$A_PORT:$TOK:$GRP" "$B_PORT:$TOK:$GRP"
kill -TERM "$A_PID" "$B_PID"; wait "$A_PID" "$B_PID" 2>/dev/null

# 4-5. The same with each node held to NODE_CPU cores (see the top)
CAPPED=0
psql -q "$PG_URI" -c "CREATE SCHEMA three; CREATE SCHEMA four" >/dev/null || die "psql failed"
U3="$PG_URI?options=-csearch_path%3Dthree"
U4="$PG_URI?options=-csearch_path%3Dfour"
start "$WORK/pg3.log" --data "$WORK/d-pg3" --db "$U3" --db-pool "$POOL"
if cap "$PID"; then
  CAPPED=1
  NODE_PIDS=("$PID")
  read -r TOK GRP <<<"$(setup "$PORT")" || die "setup failed"
  read -r TOK2 GRP2 <<<"$(setup "$PORT")" || die "setup failed"
  say "4/5 PostgreSQL, one node held to $NODE_CPU cores, two bots"
  run pg3 $((CONNS / 2)) "$PORT:$TOK:$GRP" "$PORT:$TOK2:$GRP2"
  kill -TERM "$PID"; wait "$PID" 2>/dev/null
  start "$WORK/pg4a.log" --data "$WORK/d-pg4" --db "$U4" --db-pool "$POOL"
  A_PID=$PID; A_PORT=$PORT; cap "$A_PID" || die "cannot cap node A"
  start "$WORK/pg4b.log" --data "$WORK/d-pg4" --db "$U4" --db-pool "$POOL"
  B_PID=$PID; B_PORT=$PORT; cap "$B_PID" || die "cannot cap node B"
  NODE_PIDS=("$A_PID" "$B_PID")
  read -r TOK GRP <<<"$(setup "$A_PORT")" || die "setup failed"
  read -r TOK2 GRP2 <<<"$(setup "$B_PORT")" || die "setup failed"
  say "5/5 PostgreSQL, two nodes held to $NODE_CPU cores each, a bot on each"
  run pg4 $((CONNS / 2)) "$A_PORT:$TOK:$GRP" "$B_PORT:$TOK2:$GRP2"
else
  say "4-5/5 skipped: no writable cgroup CPU controller (or BENCH_NODE_CPU=0)"
  kill -TERM "$PID"; wait "$PID" 2>/dev/null
fi

read -r S_RPS S_P99 S_N S_BAD S_BU S_PU <<<"$(report sqlite)"
read -r P_RPS P_P99 P_N P_BAD P_BU P_PU <<<"$(report pg1)"
read -r T_RPS T_P99 T_N T_BAD T_BU T_PU <<<"$(report pg2)"
R1=$(awk -v a="$P_RPS" -v b="$S_RPS" 'BEGIN { printf "%.2f", b ? a / b : 0 }')
R2=$(awk -v a="$T_RPS" -v b="$P_RPS" 'BEGIN { printf "%.2f", b ? a / b : 0 }')
mark() { awk -v a="$1" -v t="$2" 'BEGIN { print (a >= t ? "PASS" : "FAIL") }'; }

echo
echo "bink scale benchmark, $(date -u +%Y-%m-%dT%H:%MZ), $(nproc) cores, binkd at $(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null)"
echo "sendmessage to a 20-member group, wrk -c$CONNS in all, ${DURATION}; PostgreSQL 15 on the same machine, fsync on; --db-pool $POOL"
F='%-28s %9s %8s %7s %14s %14s %8s\n'
printf "$F" run "req/s" "p99 ms" errors "binkd us/req" "postgres us/req" ratio
printf "$F" "1 node, SQLite" "$S_RPS" "$S_P99" "$S_BAD" "$S_BU" "-" "1.00"
printf "$F" "1 node, PostgreSQL" "$P_RPS" "$P_P99" "$P_BAD" "$P_BU" "$P_PU" "$R1"
printf "$F" "2 nodes, one PostgreSQL" "$T_RPS" "$T_P99" "$T_BAD" "$T_BU" "$T_PU" "$R2"
echo
echo "PostgreSQL 1 node / SQLite 1 node: $R1 (target >= 0.50) $(mark "$R1" 0.50)"
echo "2 nodes / 1 node on PostgreSQL:    $R2 (target >= 1.60 when the database is not the limit) $(mark "$R2" 1.60)"
echo "CPU per request (binkd + postgres, us): 1 node $((P_BU + P_PU)), 2 nodes $((T_BU + T_PU)); $(nproc) cores in all"
if [ "$CAPPED" = 1 ]; then
  read -r C_RPS C_P99 C_N C_BAD C_BU C_PU <<<"$(report pg3)"
  read -r D_RPS D_P99 D_N D_BAD D_BU D_PU <<<"$(report pg4)"
  R3=$(awk -v a="$D_RPS" -v b="$C_RPS" 'BEGIN { printf "%.2f", b ? a / b : 0 }')
  echo
  echo "Each node held to $NODE_CPU cores (cgroup CPU quota), the database not the limit:"
  printf "$F" run "req/s" "p99 ms" errors "binkd us/req" "postgres us/req" ratio
  printf "$F" "1 node, $NODE_CPU cores" "$C_RPS" "$C_P99" "$C_BAD" "$C_BU" "$C_PU" "1.00"
  printf "$F" "2 nodes, $NODE_CPU cores each" "$D_RPS" "$D_P99" "$D_BAD" "$D_BU" "$D_PU" "$R3"
  echo "2 nodes / 1 node, nodes the limit: $R3 (target >= 1.60) $(mark "$R3" 1.60)"
fi
