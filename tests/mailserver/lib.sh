# lib.sh -- shell functions shared by the mail-server test scripts (sourced by start.sh, stop.sh,
# smtp.sh and dovecot.sh; not run on its own). Port checks read /proc/net/tcp{,6} instead of
# connecting, so waiting for a port leaves no noise in the servers' logs and starts no smtpd.

# _ports_with STATE PORT... -- prints those PORTs that have a TCP socket (IPv4 or IPv6, any
# address) in STATE: "listen" (0A), or "held" = any state but TIME_WAIT (06), which does not
# block a new listener (the servers set SO_REUSEADDR).
_ports_with() {
  local state=$1; shift
  awk -v state="$state" -v want="$(for p; do printf ' %04X=%s' "$p" "$p"; done)" '
    BEGIN { n = split(want, w, " "); for (i = 1; i <= n; i++) { split(w[i], kv, "="); W[kv[1]] = kv[2] } }
    FNR > 1 && ((state == "listen" && $4 == "0A") || (state == "held" && $4 != "06")) {
      split($2, a, ":"); if ((a[2] in W) && !(a[2] in seen)) { seen[a[2]] = 1; print W[a[2]] }
    }
  ' /proc/net/tcp /proc/net/tcp6 2>/dev/null
}
# ports_in_use PORT... -- prints the PORTs something already holds.
ports_in_use()   { _ports_with held "$@"; }
# all_listening PORT... / none_listening PORT...
all_listening()  { [ "$(_ports_with listen "$@" | wc -l)" -eq $# ]; }
none_listening() { [ -z "$(_ports_with listen "$@")" ]; }

# wait_listening SECONDS PORT... -- until every PORT listens; false on timeout.
wait_listening() {
  local limit=$(( $1 * 100 )) i; shift
  for (( i = 0; i < limit; i++ )); do all_listening "$@" && return 0; sleep 0.01; done
  return 1
}
# wait_closed SECONDS PORT... -- until no PORT listens; false on timeout.
wait_closed() {
  local limit=$(( $1 * 100 )) i; shift
  for (( i = 0; i < limit; i++ )); do none_listening "$@" && return 0; sleep 0.01; done
  return 1
}

# running PID -- alive and not a zombie (PID 1 here may reap orphans late; a zombie is gone).
running() {
  local st; st=$(awk '{ print $3 }' "/proc/$1/stat" 2>/dev/null) && [ -n "$st" ] && [ "$st" != Z ]
}

# master_pid PIDFILE NEEDLE -- prints the PID recorded in PIDFILE if that process is alive and
# NEEDLE occurs in its command line or environment (guards against a reused PID).
master_pid() {
  local pid
  [ -s "$1" ] || return 1
  pid=$(tr -dc 0-9 < "$1")
  [ -n "$pid" ] && running "$pid" || return 1
  local about
  about=$(tr '\0' '\n' < "/proc/$pid/cmdline" 2>/dev/null; tr '\0' '\n' < "/proc/$pid/environ" 2>/dev/null)
  [[ $about == *"$2"* ]] || return 1
  echo "$pid"
}

# children PID -- PIDs of PID's live children.
children() { local c; for c in $(cat "/proc/$1/task/"*/children 2>/dev/null); do running "$c" && echo "$c"; done; }

# stop_master PID SECONDS [KEEP_COMMS] -- SIGTERM a daemon's master, give it SECONDS to exit, then
# SIGKILL its process group (the daemons run setsid: group = master PID = all their processes).
# Dovecot's master sleeps a fixed second after its children have gone (waiting on its log and
# anvil helpers): with KEEP_COMMS="log anvil" we stop waiting once only those children are left;
# the clients have been told BYE and disconnected by then.
stop_master() {
  local pid=$1 limit=$(( $2 * 100 )) keep=${3:-} i c comm busy
  kill -TERM "$pid" 2>/dev/null || return 0
  for (( i = 0; i < limit; i++ )); do
    running "$pid" || return 0
    if [ -n "$keep" ] && (( i >= 2 )); then
      busy=0
      for c in $(children "$pid"); do
        comm=$(cat "/proc/$c/comm" 2>/dev/null) || continue
        case " $keep " in *" $comm "*) ;; *) busy=1; break ;; esac
      done
      [ $busy = 0 ] && break
    fi
    sleep 0.01
  done
  kill -KILL -- "-$pid" 2>/dev/null || kill -KILL "$pid" 2>/dev/null
  for (( i = 0; i < 500; i++ )); do running "$pid" || return 0; sleep 0.01; done
  return 1
}
