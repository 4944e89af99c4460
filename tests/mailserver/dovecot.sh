#!/bin/bash
# dovecot.sh STATE_DIR stop|start -- stops or (re)starts only the Dovecot of a test instance that
# start.sh set up, on the same ports (tests restart it under a running klachtd). Mail is kept.
# "stop" tells connected clients BYE and returns once its ports are closed; "start" once they listen.
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=lib.sh
. "$HERE/lib.sh"
usage() { echo "usage: $0 STATE_DIR stop|start" >&2; exit 2; }
[ $# -eq 2 ] || usage
[ -d "$1" ] || { echo "no state dir $1" >&2; exit 1; }
S=$(cd "$1" && pwd); D=$S/dovecot
[ -f "$S/ports.env" ] || { echo "$S has no ports.env: not set up by start.sh" >&2; exit 1; }
# shellcheck disable=SC1091
. "$S/ports.env"
PORTS=("$IMAP_PORT" "$IMAPS_PORT" "$LMTP_PORT" "$SASL_PORT")
case $2 in
  start)
    if master_pid "$D/run/master.pid" "$D/dovecot.conf" >/dev/null; then exit 0; fi
    # A master we SIGKILLed may linger as a zombie until init reaps it, which Dovecot would
    # take for a running instance.
    rm -f "$D/run/master.pid"
    taken=$(ports_in_use "${PORTS[@]}" | tr '\n' ' ')
    [ -z "$taken" ] || { echo "127.0.0.1 port(s) already in use: $taken" >&2; exit 3; }
    U=${MAILTEST_RUN_AS:-nobody}; G=$(id -gn "$U")
    setpriv --reuid="$U" --regid="$G" --init-groups -- /usr/sbin/dovecot -c "$D/dovecot.conf" \
      </dev/null >>"$D/start.out" 2>&1 || { echo "dovecot did not start; see $D/dovecot.log" >&2; exit 1; }
    wait_listening 10 "${PORTS[@]}" || { echo "dovecot did not open its ports; see $D/dovecot.log" >&2; exit 1; } ;;
  stop)
    if pid=$(master_pid "$D/run/master.pid" "$D/dovecot.conf"); then
      stop_master "$pid" 5 "log anvil" && rm -f "$D/run/master.pid"
      wait_closed 5 "${PORTS[@]}" || { echo "dovecot's ports still listen after stopping it" >&2; exit 1; }
    fi ;;
  *) usage ;;
esac
