#!/usr/bin/env bash
# Installs dependencies, builds binkd and starts it with --demo: a user
# "alice", her bot "demo_bot" and the group "Demo", their tokens printed.
# The example button bot (examples/button_bot.c) then runs as demo_bot, so
# there is someone to talk to: write to it and it answers with buttons.
# Extra arguments go to binkd (for example --listen 127.0.0.1:9090).
# Ctrl-C stops both.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build -j "$(nproc 2>/dev/null || echo 2)" >/dev/null

listen=127.0.0.1:8080
data=./data
args=("$@")
for ((i = 0; i < ${#args[@]}; i++)); do
  case "${args[$i]}" in
    --listen) listen=${args[$((i + 1))]:-$listen} ;;
    --listen=*) listen=${args[$i]#--listen=} ;;
    --data) data=${args[$((i + 1))]:-$data} ;;
    --data=*) data=${args[$i]#--data=} ;;
  esac
done
host=${listen%:*}
port=${listen##*:}
base="http://$host:$port"

./build/binkd --demo "$@" &
binkd_pid=$!
bot_pid=
stop() {
  # The bot first, so that it can still delete its webhook.
  if [ -n "$bot_pid" ]; then
    kill "$bot_pid" 2>/dev/null
    wait "$bot_pid" 2>/dev/null
  fi
  kill "$binkd_pid" 2>/dev/null
  wait 2>/dev/null
}
trap stop INT TERM EXIT

# Wait (at most 10 s) for the demo's tokens and a healthy server.
for _ in $(seq 1 100); do
  if [ -s "$data/demo.json" ] && python3 -c 'import sys, urllib.request as u
u.urlopen(sys.argv[1] + "/healthz", timeout=1)' "$base" 2>/dev/null; then
    break
  fi
  kill -0 "$binkd_pid" 2>/dev/null || exit 1
  sleep 0.1
done
token=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["bot_token"])' \
        "$data/demo.json")
BINK_URL=$base BINK_TOKEN=$token ./build/examples/button_bot --port "$((port + 1))" &
bot_pid=$!
echo "demo_bot is answering (examples/button_bot, webhook on port $((port + 1)))" >&2
wait "$binkd_pid"
