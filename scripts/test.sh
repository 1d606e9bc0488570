#!/usr/bin/env bash
# Builds bink twice and runs every test on each build:
#   build/       warnings as errors, the normal optimised build
#   build-asan/  AddressSanitizer + UndefinedBehaviorSanitizer (leaks too)
# and, on build/ only, the web sandbox's browser tests (tests/web).
# Unit tests (cmocka) and the black-box suite (pytest against a real binkd)
# both run through ctest.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
scripts/check-style.sh

jobs=$(nproc 2>/dev/null || echo 2)
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=0}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}

run() {
  local dir=$1; shift
  echo "== $dir: configure and build" >&2
  cmake -S . -B "$dir" -DBINK_WERROR=ON "$@" >/dev/null
  cmake --build "$dir" -j "$jobs" >/dev/null
  echo "== $dir: tests" >&2
  (cd "$dir" && ctest --output-on-failure -j 1)
}

run build -DCMAKE_BUILD_TYPE=RelWithDebInfo

# The web sandbox end to end in headless Chromium (tests/web: Debian's
# chromium driven by playwright-core, installed from the lock file; no
# browser download), against the normal build only. Screenshots go to
# tests/web/artifacts/ for CI to keep.
echo "== build: web sandbox tests (headless Chromium)" >&2
(cd tests/web && npm ci --no-audit --no-fund --loglevel=error >/dev/null \
  && BINKD="$PWD/../../build/binkd" node run.mjs)

run build-asan -DCMAKE_BUILD_TYPE=Debug -DBINK_SANITIZE=ON

# libFuzzer targets of libbink (event parser, webhook verifier): a short,
# bounded run; install-deps.sh brings clang, the run is skipped without it.
if command -v clang >/dev/null 2>&1; then
  echo "== build-fuzz: libbink fuzzers, 20 s each" >&2
  cmake -S . -B build-fuzz -DCMAKE_C_COMPILER=clang -DBINK_WERROR=ON -DBINK_TESTS=OFF >/dev/null
  cmake --build build-fuzz -j "$jobs" --target fuzz_event fuzz_webhook >/dev/null
  fuzz_tmp=$(mktemp -d)
  trap 'rm -rf "$fuzz_tmp"' EXIT
  for t in event webhook; do
    mkdir -p "$fuzz_tmp/$t"
    "build-fuzz/fuzz/fuzz_$t" -max_total_time=20 -print_final_stats=0 \
      "$fuzz_tmp/$t" "fuzz/corpus/$t" 2>"$fuzz_tmp/$t.log" \
      || { tail -40 "$fuzz_tmp/$t.log" >&2; exit 1; }
  done
fi
