#!/usr/bin/env bash
# bench/scale.sh: sendmessage on SQLite vs PostgreSQL, one node vs two
# (docs/scaling.md, docs/PERFORMANCE.md "Several nodes").
#
# Builds binkd (Release, in bench/.build), starts a throw-away PostgreSQL 15
# cluster (scripts/pg-cluster.sh) and measures, with wrk and
# bench/sendmessage.lua (a bot writes to a 20-member group):
#   1. one node on SQLite, BENCH_CONNECTIONS connections (the baseline)
#   2. one node on PostgreSQL, the same load    target >= 50 % of 1
#   3. two nodes on one PostgreSQL database, each node driven like the one
#      node of 2 (BENCH_CONNECTIONS each)        target >= 1.6 x 2
#   4. one node held to BENCH_NODE_CPU cores by a cgroup CPU quota, two
#      bots writing through it, half the connections each (so
#      BENCH_CONNECTIONS on the node)
#   5. two such nodes, each in its own cgroup, one bot writing through each
#      with BENCH_CONNECTIONS, i.e. the same load per node as 4
#                                                target >= 1.6 x 4
# Runs 3 and 5 measure capacity: "adding a node" means another node taking
# the same load as the first, so each node gets what the single node got,
# and their rates are added. BENCH_SPLIT=1 instead splits BENCH_CONNECTIONS
# between the two nodes (half each; what this script did before), kept to
# compare: with the same total load, a second node can only show up as
# lower latency, not as more requests.
# Runs 1-3 have one bot write: its update_id counter row is locked by
# each transaction that numbers its events (gapless across nodes), so two
# nodes writing for ONE bot take turns at that lock. Runs 4-5 have two bots,
# as a deployment of several nodes serves many.
# Runs 4 and 5 are the case "the database is not the bottleneck": each node
# gets the CPU of a small machine of its own, the database keeps the rest,
# as when nodes run on separate hosts. On a 2-core machine runs 2 and 3
# cannot show that: database, nodes and wrk already share both cores at one
# node. (Runs 4-5 need a writable cgroup CPU controller, v1 or v2, i.e.
# root; they are skipped without one.)
#
# Rounds: on a shared machine the same binary's figures move by 20-30 %
# within minutes, more than the differences measured here. So the runs are
# repeated BENCH_ROUNDS times, interleaved (round 1: runs 1, 2, 3, 4, 5;
# round 2: 1, 2, 3, 4, 5; ...), each run on freshly started nodes with a
# fresh data directory and a fresh PostgreSQL schema. A ratio is taken
# within a round (run 2 over run 1 of the same round, i.e. minutes apart at
# most), and the ratio reported is the median of the rounds' ratios; the
# table shows every round, then the median of each column.
# For each run it prints req/s, p99, and the CPU time spent by binkd and by
# PostgreSQL per request, which tells where the limit is: on a small machine
# the nodes, the database and wrk share the same cores.
# It is a report: exit 0 whenever it produced one, whatever the marks.
#
# Environment: BENCH_DURATION [10s], BENCH_CONNECTIONS [64], BENCH_THREADS [2],
# BENCH_WARMUP [2s], BENCH_BINKD (a binkd binary to use), BENCH_DB_POOL [2],
# BENCH_NODE_CPU [0.3] (cores per node in runs 4-5; 0 skips them),
# BENCH_ROUNDS [3] (rounds of runs 1-5), BENCH_SPLIT [0] (1: runs 3 and 5
# split BENCH_CONNECTIONS between the two nodes).
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
ROUNDS=${BENCH_ROUNDS:-3}
SPLIT=${BENCH_SPLIT:-0}

die() { echo "bench: $*" >&2; exit 1; }
say() { echo "bench: $*" >&2; }
command -v wrk >/dev/null || die "wrk not found (apt-get install wrk)"
[[ "$ROUNDS" =~ ^[1-9][0-9]*$ ]] || die "BENCH_ROUNDS must be a positive integer"
# connections per node in the two-node runs 3 and 5
if [ "$SPLIT" = 1 ]; then PER_NODE=$((CONNS / 2)); else PER_NODE=$CONNS; fi

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
  if ! { cmake -S "$ROOT" -B "$BENCH_DIR/.build" -DCMAKE_BUILD_TYPE=Release \
           -DBINK_TESTS=OFF >"$WORK/build.log" 2>&1 &&
         cmake --build "$BENCH_DIR/.build" --target binkd -j"$(nproc)" >>"$WORK/build.log" 2>&1; }; then
    tail -20 "$WORK/build.log" >&2; die "cannot build binkd"
  fi
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

# stop PID...: ends these nodes and waits for them
stop() { kill -TERM "$@" 2>/dev/null; wait "$@" 2>/dev/null; }

# bot PORT: a bot and its group on the node at PORT (setup); sets TOK, GRP
bot() {
  local out
  out=$(setup "$1") || die "setup failed"
  read -r TOK GRP <<<"$out"
}

# schema NAME: creates the schema NAME, sets URI to the database with
# NAME as its search_path. drop_schema NAME: drops it, once its nodes have
# stopped, so that later rounds do not run on an ever larger database.
schema() {
  psql -q "$PG_URI" -c "CREATE SCHEMA $1" >/dev/null || die "psql failed"
  URI="$PG_URI?options=-csearch_path%3D$1"
}
drop_schema() { psql -q "$PG_URI" -c "DROP SCHEMA $1 CASCADE" >/dev/null 2>&1; }

# Every run below is one round's; its wrk reports are $WORK/rR.RUN.*.wrk.
# CAPPED: whether runs 4-5 can be made (found out in round 1)
CAPPED=""
for r in $(seq "$ROUNDS"); do
  # 1. SQLite, one node
  start "$WORK/r$r.sqlite.log" --data "$WORK/d-sqlite.$r"
  NODE_PIDS=("$PID"); bot "$PORT"
  say "round $r/$ROUNDS, 1/5 SQLite, one node"
  run "r$r.sqlite" "$CONNS" "$PORT:$TOK:$GRP"
  stop "$PID"; rm -rf "$WORK/d-sqlite.$r"

  # 2. PostgreSQL, one node
  schema "r${r}_one"
  start "$WORK/r$r.pg1.log" --data "$WORK/d-pg1.$r" --db "$URI" --db-pool "$POOL"
  NODE_PIDS=("$PID"); bot "$PORT"
  say "round $r/$ROUNDS, 2/5 PostgreSQL, one node"
  run "r$r.pg1" "$CONNS" "$PORT:$TOK:$GRP"
  stop "$PID"; drop_schema "r${r}_one"; rm -rf "$WORK/d-pg1.$r"

  # 3. PostgreSQL, two nodes (one database, one data directory)
  schema "r${r}_two"
  start "$WORK/r$r.pg2a.log" --data "$WORK/d-pg2.$r" --db "$URI" --db-pool "$POOL"
  A_PID=$PID; A_PORT=$PORT
  start "$WORK/r$r.pg2b.log" --data "$WORK/d-pg2.$r" --db "$URI" --db-pool "$POOL"
  B_PID=$PID; B_PORT=$PORT
  NODE_PIDS=("$A_PID" "$B_PID"); bot "$A_PORT"
  say "round $r/$ROUNDS, 3/5 PostgreSQL, two nodes, $PER_NODE connections each"
  run "r$r.pg2" "$PER_NODE" "$A_PORT:$TOK:$GRP" "$B_PORT:$TOK:$GRP"
  stop "$A_PID" "$B_PID"; drop_schema "r${r}_two"; rm -rf "$WORK/d-pg2.$r"

  # 4-5. The same with each node held to NODE_CPU cores (see the top)
  [ "$CAPPED" = 0 ] && continue
  schema "r${r}_three"
  start "$WORK/r$r.pg3.log" --data "$WORK/d-pg3.$r" --db "$URI" --db-pool "$POOL"
  if ! cap "$PID"; then
    [ -z "$CAPPED" ] || die "cannot cap the node of run 4 (round $r)"
    say "4-5/5 skipped: no writable cgroup CPU controller (or BENCH_NODE_CPU=0)"
    CAPPED=0
    stop "$PID"; drop_schema "r${r}_three"
    continue
  fi
  CAPPED=1
  NODE_PIDS=("$PID")
  bot "$PORT"; TOK1=$TOK; GRP1=$GRP
  bot "$PORT"
  say "round $r/$ROUNDS, 4/5 PostgreSQL, one node held to $NODE_CPU cores, two bots, $((CONNS / 2)) connections each"
  run "r$r.pg3" $((CONNS / 2)) "$PORT:$TOK1:$GRP1" "$PORT:$TOK:$GRP"
  stop "$PID"; drop_schema "r${r}_three"; rm -rf "$WORK/d-pg3.$r"

  schema "r${r}_four"
  start "$WORK/r$r.pg4a.log" --data "$WORK/d-pg4.$r" --db "$URI" --db-pool "$POOL"
  A_PID=$PID; A_PORT=$PORT; cap "$A_PID" || die "cannot cap node A"
  start "$WORK/r$r.pg4b.log" --data "$WORK/d-pg4.$r" --db "$URI" --db-pool "$POOL"
  B_PID=$PID; B_PORT=$PORT; cap "$B_PID" || die "cannot cap node B"
  NODE_PIDS=("$A_PID" "$B_PID")
  bot "$A_PORT"; TOK1=$TOK; GRP1=$GRP
  bot "$B_PORT"
  say "round $r/$ROUNDS, 5/5 PostgreSQL, two nodes held to $NODE_CPU cores each, a bot on each, $PER_NODE connections each"
  run "r$r.pg4" "$PER_NODE" "$A_PORT:$TOK1:$GRP1" "$B_PORT:$TOK:$GRP"
  stop "$A_PID" "$B_PID"; drop_schema "r${r}_four"; rm -rf "$WORK/d-pg4.$r"
done

# ---- report -----------------------------------------------------------------
mark() { awk -v a="$1" -v t="$2" 'BEGIN { print (a >= t ? "PASS" : "FAIL") }'; }
# median V...: the median of numbers (the mean of the middle two for an
# even count)
median() {
  printf '%s\n' "$@" | sort -g | awk '{ v[NR] = $1 }
    END { if (NR == 0) print 0; else if (NR % 2) print v[(NR + 1) / 2]; else print (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}
# Figures by "RUN.ROUND"; RATIOS[RUN]: that run's per-round ratios, in order
declare -A RPS P99 BAD BU PU RATIO RATIOS MED
F='%-28s %6s %9s %8s %7s %14s %15s %8s\n'

# table RUN:LABEL:BASE...: a row per run and round, the ratio being the run's
# req/s over run BASE's in the same round (1.00 without a BASE); with several
# rounds, then a median row per run: the median of each column over the
# rounds, the ratio the median of the per-round ratios, errors all rounds'.
# Sets MED[RUN] (the median ratio) and RATIOS[RUN].
table() {
  local spec run label base r n
  printf "$F" run round "req/s" "p99 ms" errors "binkd us/req" "postgres us/req" ratio
  for r in $(seq "$ROUNDS"); do
    for spec in "$@"; do
      IFS=: read -r run label base <<<"$spec"
      read -r "RPS[$run.$r]" "P99[$run.$r]" n "BAD[$run.$r]" "BU[$run.$r]" "PU[$run.$r]" \
        <<<"$(report "r$r.$run")"
      # PostgreSQL is idle during the SQLite run: its CPU there is not per request
      [ "$run" = sqlite ] && PU[$run.$r]="-"
      if [ -n "$base" ]; then
        RATIO[$run.$r]=$(awk -v a="${RPS[$run.$r]}" -v b="${RPS[$base.$r]}" 'BEGIN { printf "%.4f", b ? a / b : 0 }')
      else
        RATIO[$run.$r]=1
      fi
      RATIOS[$run]="${RATIOS[$run]:-}$(printf ' %.2f' "${RATIO[$run.$r]}")"
      printf "$F" "$label" "$r" "${RPS[$run.$r]}" "${P99[$run.$r]}" "${BAD[$run.$r]}" \
        "${BU[$run.$r]}" "${PU[$run.$r]}" "$(printf '%.2f' "${RATIO[$run.$r]}")"
    done
  done
  for spec in "$@"; do
    IFS=: read -r run label base <<<"$spec"
    local rps=() p99=() bu=() pu=() ratio=() bad=0
    for r in $(seq "$ROUNDS"); do
      rps+=("${RPS[$run.$r]}"); p99+=("${P99[$run.$r]}"); bu+=("${BU[$run.$r]}")
      pu+=("${PU[$run.$r]}"); ratio+=("${RATIO[$run.$r]}"); bad=$((bad + ${BAD[$run.$r]}))
    done
    MED[$run]=$(printf '%.2f' "$(median "${ratio[@]}")")
    MED[$run.bu]=$(printf '%.0f' "$(median "${bu[@]}")")
    if [ "$run" = sqlite ]; then MED[$run.pu]="-"; else MED[$run.pu]=$(printf '%.0f' "$(median "${pu[@]}")"); fi
    [ "$ROUNDS" -gt 1 ] || continue
    printf "$F" "$label" median "$(printf '%.0f' "$(median "${rps[@]}")")" \
      "$(printf '%.2f' "$(median "${p99[@]}")")" "$bad" "${MED[$run.bu]}" "${MED[$run.pu]}" "${MED[$run]}"
  done
}

echo
echo "bink scale benchmark, $(date -u +%Y-%m-%dT%H:%MZ), $(nproc) cores, binkd at $(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null)"
if [ "$SPLIT" = 1 ]; then LOAD="-c$CONNS in all (BENCH_SPLIT=1: two nodes $PER_NODE each)"; else LOAD="-c$CONNS per node"; fi
echo "sendmessage to a 20-member group, wrk $LOAD, ${DURATION}; PostgreSQL 15 on the same machine, fsync on; --db-pool $POOL"
echo "$ROUNDS round(s), runs interleaved, fresh nodes and schema each run; ratio: to the run above it in the same round"
table "sqlite:1 node, SQLite:" "pg1:1 node, PostgreSQL:sqlite" "pg2:2 nodes, one PostgreSQL:pg1"
[ "$ROUNDS" -gt 1 ] && echo "(median rows: each column's median over the rounds; ratio: median of the rounds' ratios; errors: all rounds)"
echo
echo "PostgreSQL 1 node / SQLite 1 node: ${MED[pg1]} (target >= 0.50) $(mark "${MED[pg1]}" 0.50); rounds:${RATIOS[pg1]}"
echo "2 nodes / 1 node on PostgreSQL:    ${MED[pg2]} (target >= 1.60 when the database is not the limit) $(mark "${MED[pg2]}" 1.60); rounds:${RATIOS[pg2]}"
echo "CPU per request (binkd + postgres, us, medians): 1 node $((${MED[pg1.bu]} + ${MED[pg1.pu]})), 2 nodes $((${MED[pg2.bu]} + ${MED[pg2.pu]})); $(nproc) cores in all"
if [ "$CAPPED" = 1 ]; then
  echo
  echo "Each node held to $NODE_CPU cores (cgroup CPU quota), the database not the limit:"
  table "pg3:1 node, $NODE_CPU cores:" "pg4:2 nodes, $NODE_CPU cores each:pg3"
  echo "2 nodes / 1 node, nodes the limit: ${MED[pg4]} (target >= 1.60) $(mark "${MED[pg4]}" 1.60); rounds:${RATIOS[pg4]}"
fi
