#!/bin/bash
# stop.sh STATE_DIR -- stop the Postfix and Dovecot that start.sh started for STATE_DIR.
# Idempotent; leaves the state dir (mail, logs) for inspection.
set -uo pipefail
[ $# -eq 1 ] || { echo "usage: $0 STATE_DIR" >&2; exit 2; }
[ -d "$1" ] || exit 0
S=$(cd "$1" && pwd); HERE=$(cd "$(dirname "$0")" && pwd)
[ -f "$S/ports.env" ] && "$HERE/smtp.sh" "$S" stop
running() { local st; st=$(awk '{print $3}' "/proc/$1/stat" 2>/dev/null) && [ -n "$st" ] && [ "$st" != Z ]; }
f=$S/dovecot/run/master.pid
if [ -s "$f" ]; then
  pid=$(tr -dc 0-9 < "$f")
  # only signal the process we started (guards against PID reuse)
  if [ -n "$pid" ] && running "$pid" && tr '\0' ' ' < "/proc/$pid/cmdline" | grep -q dovecot; then
    kill -TERM "$pid"
    for _ in $(seq 500); do running "$pid" || exit 0; sleep 0.01; done
    kill -KILL "$pid" 2>/dev/null
  fi
fi
exit 0
