#!/bin/bash
# watchdog.sh STATE_DIR OWNER_PID -- started by start.sh when MAILTEST_OWNER_PID is set (the test
# process): stops the servers of STATE_DIR if that process dies without stopping them (Ctrl-C,
# a killed test run), so no Dovecot or Postfix outlives the tests. stop.sh ends it.
set -u
S=$1; OWNER=$2
HERE=$(cd "$(dirname "$0")" && pwd)
started() { awk '{ print $22 }' "/proc/$1/stat" 2>/dev/null; }   # guards against a reused PID
since=$(started "$OWNER")
[ -n "$since" ] || since=gone
while [ -d "$S" ] && [ "$(started "$OWNER")" = "$since" ]; do sleep 1; done
[ -d "$S" ] && MAILTEST_WATCHDOG=1 "$HERE/stop.sh" "$S" >/dev/null 2>&1
exit 0
