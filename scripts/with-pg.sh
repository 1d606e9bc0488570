#!/usr/bin/env bash
# Runs a command with a throw-away PostgreSQL cluster (scripts/pg-cluster.sh)
# named by $BINK_TEST_PG (its directory in $BINK_TEST_PG_DIR, for tests that
# restart it with scripts/pg-cluster.sh), and removes the cluster afterwards:
#   scripts/with-pg.sh python3 -m pytest tests/api
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
dir=$(mktemp -d /tmp/bink-pg.XXXXXX)
chmod 755 "$dir"
cleanup() { "$here/pg-cluster.sh" stop "$dir"; rm -rf "$dir"; }
trap cleanup EXIT
BINK_TEST_PG=$("$here/pg-cluster.sh" start "$dir")
export BINK_TEST_PG BINK_TEST_PG_DIR=$dir
"$@"
