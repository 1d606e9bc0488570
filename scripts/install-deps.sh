#!/usr/bin/env bash
# Installs what bink needs to build, run and test on Debian 12 (bookworm).
# Idempotent: does nothing when every package is already there.
set -euo pipefail

PACKAGES=(
  build-essential cmake pkg-config git
  libmicrohttpd-dev libjansson-dev libsqlite3-dev libpq-dev
  libcurl4-openssl-dev libmagic-dev libssl-dev
  libcmocka-dev
  python3 python3-pytest python3-requests python3-prometheus-client
  sqlite3 wrk
  postgresql-15 postgresql-client-15
  chromium nodejs
  clang libclang-rt-14-dev
)

missing=()
for p in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
# npm for the browser tests (tests/web): Debian's package, unless a nodejs
# that bundles npm (NodeSource) is already there.
if ! command -v npm >/dev/null 2>&1 && \
   ! dpkg-query -W -f='${Status}' npm 2>/dev/null | grep -q "install ok installed"; then
  missing+=(npm)
fi
if [ "${#missing[@]}" -eq 0 ]; then
  exit 0
fi

SUDO=""
if [ "$(id -u)" -ne 0 ]; then
  SUDO="sudo"
fi
echo "installing: ${missing[*]}" >&2
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
