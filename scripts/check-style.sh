#!/usr/bin/env bash
# The project's style checks for C sources, run in CI before the build:
#   - no tab characters, no trailing white space, a newline at the end;
#   - lines of at most 100 columns;
#   - every header has an include guard named after its path;
#   - no use of functions that have safer project helpers or library
#     equivalents (sprintf, strcpy, strcat, gets, atoi).
# Prints "file:line: problem" for each finding; exits 1 when any.
set -uo pipefail
cd "$(dirname "$0")/.."
status=0
files=$(git ls-files '*.c' '*.h' 2>/dev/null || find src lib cli examples tests -name '*.[ch]')
for f in $files; do
  [ -f "$f" ] || continue
  out=$(awk -v f="$f" '
    /\t/ { printf "%s:%d: tab character\n", f, NR }
    /[ \t]+$/ { printf "%s:%d: trailing white space\n", f, NR }
    length($0) > 100 { printf "%s:%d: line longer than 100 columns\n", f, NR }
    /(^|[^_a-z])(sprintf|strcpy|strcat|gets|atoi)[ ]*\(/ && !/snprintf|vsnprintf/ {
      printf "%s:%d: use snprintf/memcpy/strtol instead\n", f, NR }
  ' "$f")
  if [ -n "$out" ]; then echo "$out"; status=1; fi
  if [ -s "$f" ] && [ "$(tail -c1 "$f" | od -An -c | tr -d ' ')" != '\n' ]; then
    echo "$f: no newline at the end"; status=1
  fi
  case "$f" in
    *.h)
      if ! grep -q '^#ifndef [A-Z0-9_]*_H$' "$f"; then
        echo "$f: no include guard"; status=1
      fi ;;
  esac
done
[ $status -eq 0 ] && echo "style: ok"
exit $status
