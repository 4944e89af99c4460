#!/bin/bash
# smtp.sh STATE_DIR stop|start -- stops or (re)starts only the Postfix of a test instance that
# start.sh set up, on the same ports (tests simulate "SMTP unavailable, then it returns"). Mail
# Postfix had queued but not yet delivered stays in its queue across the restart.
# "stop" returns once Postfix has exited and its ports are closed; "start" once they listen.
set -euo pipefail
[ -n "${MAILTEST_TRACE:-}" ] && { PS4='+ $EPOCHREALTIME '; set -x; }
HERE=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=lib.sh
. "$HERE/lib.sh"
usage() { echo "usage: $0 STATE_DIR stop|start" >&2; exit 2; }
[ $# -eq 2 ] || usage
[ -d "$1" ] || { echo "no state dir $1" >&2; exit 1; }
S=$(cd "$1" && pwd); P=$S/postfix
[ -f "$S/ports.env" ] || { echo "$S has no ports.env: not set up by start.sh" >&2; exit 1; }
# shellcheck disable=SC1091
. "$S/ports.env"
case $2 in
  start)
    if master_pid "$P/queue/pid/master.pid" "MAIL_CONFIG=$P/conf" >/dev/null; then exit 0; fi
    taken=$(ports_in_use "$SMTP_PORT" "$SMTPS_PORT" | tr '\n' ' ')
    [ -z "$taken" ] || { echo "127.0.0.1 port(s) already in use: $taken" >&2; exit 3; }
    # start.sh made the queue; skip postfix-script's integrity checks (about 0.3-0.6 s).
    touch "$P/queue/quick-start"
    /usr/sbin/postfix -c "$P/conf" start </dev/null >>"$P/start.out" 2>&1 \
      || { echo "postfix did not start; see $P/postfix.log and $P/start.out" >&2; exit 1; }
    wait_listening 10 "$SMTP_PORT" "$SMTPS_PORT" \
      || { echo "postfix did not open ports $SMTP_PORT $SMTPS_PORT; see $P/postfix.log" >&2; exit 1; } ;;
  stop)
    # SIGTERM to the master is what `postfix stop` does, without its shell script around it.
    if pid=$(master_pid "$P/queue/pid/master.pid" "MAIL_CONFIG=$P/conf"); then
      stop_master "$pid" 5
      wait_closed 5 "$SMTP_PORT" "$SMTPS_PORT" \
        || { echo "ports $SMTP_PORT $SMTPS_PORT still listen after stopping postfix" >&2; exit 1; }
    fi ;;
  *) usage ;;
esac
