#!/bin/bash
# smtp.sh STATE_DIR start|stop -- start or stop only the Postfix of a test instance (the tests
# simulate "SMTP unavailable, then back"). Ports come from STATE_DIR/ports.env.
set -euo pipefail
[ $# -eq 2 ] || { echo "usage: $0 STATE_DIR start|stop" >&2; exit 2; }
S=$(cd "$1" && pwd); P=$S/postfix
# shellcheck disable=SC1091
. "$S/ports.env"
port_free() { ! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
case $2 in
  start)
    /usr/sbin/postfix -c "$P/conf" start </dev/null >/dev/null 2>&1 \
      || { echo "postfix failed to start, see $P/postfix.log" >&2; exit 1; }
    for _ in $(seq 500); do port_free "$SMTP_PORT" || exit 0; sleep 0.02; done
    echo "postfix did not open port $SMTP_PORT; see $P/postfix.log" >&2; exit 1 ;;
  stop)
    /usr/sbin/postfix -c "$P/conf" stop </dev/null >/dev/null 2>&1 || true
    pid=$(tr -dc 0-9 < "$P/queue/pid/master.pid" 2>/dev/null || true)
    for _ in $(seq 500); do
      if port_free "$SMTP_PORT" && port_free "$SMTPS_PORT" && { [ -z "$pid" ] || ! kill -0 "$pid" 2>/dev/null; }; then exit 0; fi
      sleep 0.02
    done
    [ -n "$pid" ] && kill -KILL "$pid" 2>/dev/null; exit 0 ;;
  *) echo "usage: $0 STATE_DIR start|stop" >&2; exit 2 ;;
esac
