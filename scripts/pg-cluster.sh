#!/usr/bin/env bash
# A throw-away PostgreSQL 15 cluster for tests and benchmarks.
#
#   scripts/pg-cluster.sh start DIR   creates a cluster in DIR unless there is
#                                     one, starts it (as a non-root user, on
#                                     the port it had before, if any) and
#                                     prints its URI
#   scripts/pg-cluster.sh stop DIR    stops it (DIR stays: start it again, or
#                                     rm -rf it)
#
# The cluster listens on 127.0.0.1 at a free port and on a socket in DIR,
# trusts local connections, and is tuned for tests (see the -c options):
# fsync stays on so that the figures mean something, and a short
# deadlock_timeout lets PostgreSQL break the rare lock cycle between two
# nodes' batches quickly (docs/scaling.md).
set -euo pipefail
cmd=${1:?start|stop}
dir=${2:?directory}
bin=/usr/lib/postgresql/15/bin
[ -x "$bin/initdb" ] || { echo "PostgreSQL 15 is not installed (apt-get install postgresql-15)" >&2; exit 1; }
as_user() {
  if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}
case "$cmd" in
start)
  mkdir -p "$dir"
  dir=$(cd "$dir" && pwd)
  [ "$(id -u)" = 0 ] && chown postgres "$dir"
  if [ -f "$dir/port" ]; then
    port=$(cat "$dir/port")
  else
    port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
  fi
  if [ ! -d "$dir/data" ]; then
    as_user "$bin/initdb" -D "$dir/data" -U bink -A trust -E UTF8 --no-locale >"$dir/initdb.log" 2>&1 ||
      { cat "$dir/initdb.log" >&2; exit 1; }
  fi
  as_user "$bin/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 60 \
    -o "-c listen_addresses=127.0.0.1 -c port=$port -c unix_socket_directories=$dir \
        -c max_connections=300 -c shared_buffers=128MB -c deadlock_timeout=100ms \
        -c synchronous_commit=on -c fsync=on" start >/dev/null ||
    { cat "$dir/server.log" >&2; exit 1; }
  echo "$port" >"$dir/port"
  echo "postgresql://bink@127.0.0.1:$port/postgres"
  ;;
stop)
  [ -d "$dir/data" ] && as_user "$bin/pg_ctl" -D "$dir/data" -m fast -w stop >/dev/null 2>&1 || true
  ;;
*) echo "usage: $0 start|stop DIR" >&2; exit 2 ;;
esac
