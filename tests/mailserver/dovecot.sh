#!/bin/bash
# dovecot.sh STATE_DIR start|stop -- start or stop only the Dovecot of a test instance (the
# tests restart it under a running klachtd). Ports come from STATE_DIR/ports.env.
set -euo pipefail
[ $# -eq 2 ] || { echo "usage: $0 STATE_DIR start|stop" >&2; exit 2; }
S=$(cd "$1" && pwd)
# shellcheck disable=SC1091
. "$S/ports.env"
port_free() { ! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
running() { local st; st=$(awk '{print $3}' "/proc/$1/stat" 2>/dev/null) && [ -n "$st" ] && [ "$st" != Z ]; }
case $2 in
  start)
    U=${MAILTEST_RUN_AS:-nobody}; G=$(id -gn "$U")
    setpriv --reuid="$U" --regid="$G" --init-groups -- /usr/sbin/dovecot -c "$S/dovecot/dovecot.conf" </dev/null >/dev/null 2>&1
    for _ in $(seq 500); do port_free "$IMAPS_PORT" || exit 0; sleep 0.02; done
    echo "dovecot did not open port $IMAPS_PORT" >&2; exit 1 ;;
  stop)
    f=$S/dovecot/run/master.pid
    [ -s "$f" ] || exit 0
    pid=$(tr -dc 0-9 < "$f")
    kill -TERM "$pid" 2>/dev/null || exit 0
    for _ in $(seq 500); do running "$pid" || break; sleep 0.01; done
    running "$pid" && kill -KILL "$pid" 2>/dev/null
    for _ in $(seq 500); do port_free "$IMAPS_PORT" && exit 0; sleep 0.01; done
    exit 0 ;;
  *) echo "usage: $0 STATE_DIR start|stop" >&2; exit 2 ;;
esac
