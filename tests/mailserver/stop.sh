#!/bin/bash
# stop.sh STATE_DIR -- stops the Postfix and Dovecot that start.sh started for STATE_DIR, by the
# PIDs they recorded there (never by name: other tests' servers keep running). Idempotent; waits
# until their ports are closed; leaves the state dir (mail, logs) for inspection.
set -uo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
[ $# -eq 1 ] || { echo "usage: $0 STATE_DIR" >&2; exit 2; }
[ -d "$1" ] || exit 0
S=$(cd "$1" && pwd)
# shellcheck source=lib.sh
. "$HERE/lib.sh"
# The watchdog (see start.sh) is not needed once we stop the servers ourselves.
if [ -z "${MAILTEST_WATCHDOG:-}" ] && pid=$(master_pid "$S/watchdog.pid" "$S"); then
  kill -TERM "$pid" 2>/dev/null; rm -f "$S/watchdog.pid"
fi
# A sender-authentication stack's DNS server, milters and outside server (authstack.sh).
[ -d "$S/authstack" ] && bash "$HERE/authstack.sh" stop "$S"
if [ ! -f "$S/ports.env" ]; then
  # start.sh failed before recording the ports: stop whatever it did start.
  pid=$(master_pid "$S/postfix/queue/pid/master.pid" "MAIL_CONFIG=$S/postfix/conf") && stop_master "$pid" 5
  pid=$(master_pid "$S/dovecot/run/master.pid" "$S/dovecot/dovecot.conf") && stop_master "$pid" 5 "log anvil" \
    && rm -f "$S/dovecot/run/master.pid"
  exit 0
fi
# Both at once: each takes well under a second, but no need to add them up.
"$HERE/smtp.sh" "$S" stop & p=$!
"$HERE/dovecot.sh" "$S" stop & d=$!
rc=0
wait $p || rc=1
wait $d || rc=1
exit $rc
