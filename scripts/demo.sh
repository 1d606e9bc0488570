#!/usr/bin/env bash
# Installs dependencies, builds binkd and starts it with --demo: a user
# "alice", her bot "demo_bot" and the group "Demo", their tokens printed.
# Extra arguments go to binkd (for example --listen 127.0.0.1:9090).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build -j "$(nproc 2>/dev/null || echo 2)" >/dev/null
exec ./build/binkd --demo "$@"
