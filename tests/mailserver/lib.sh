# lib.sh -- shell functions shared by the mail-server test scripts (sourced by start.sh, stop.sh,
# smtp.sh and dovecot.sh; not run on its own). Port checks read /proc/net/tcp{,6} instead of
# connecting, so waiting for a port leaves no noise in the servers' logs and starts no smtpd.

# _ports_with STATE PORT... -- prints those PORTs that have a TCP socket (IPv4 or IPv6, any
# address) in STATE: "listen" (0A) or "any".
_ports_with() {
  local state=$1; shift
  awk -v state="$state" -v want="$(for p; do printf ' %04X=%s' "$p" "$p"; done)" '
    BEGIN { n = split(want, w, " "); for (i = 1; i <= n; i++) { split(w[i], kv, "="); W[kv[1]] = kv[2] } }
    FNR > 1 && (state == "any" || $4 == "0A") {
      split($2, a, ":"); if ((a[2] in W) && !(a[2] in seen)) { seen[a[2]] = 1; print W[a[2]] }
    }
  ' /proc/net/tcp /proc/net/tcp6 2>/dev/null
}
# ports_in_use PORT... -- prints the PORTs another listener holds. Connections left over on a
# port (TIME_WAIT, FIN_WAIT after a stop) do not block the servers, which set SO_REUSEADDR; an
# outgoing connection's local port would, which is why the tests choose ports below the
# ephemeral range. Should a bind fail anyway, start.sh reports it with exit status 3 too.
ports_in_use()   { _ports_with listen "$@"; }
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

# group_members PGID -- "PID COMM" of each live (non-zombie) process in process group PGID.
group_members() { ps -e -o pid=,pgid=,stat=,comm= | awk -v g="$1" '$2 == g && $3 !~ /^Z/ { print $1, $4 }'; }

# stop_master PID SECONDS [SPARE_COMMS] -- stops a daemon that runs in its own process group
# (both masters call setsid, so the group is the master's PID and holds all their processes):
# SIGTERM to the whole group, as a service manager would, so every process winds down at once
# (Dovecot's imap processes say "* BYE Server shutting down." to their clients); SECONDS later,
# SIGKILL to what is left. Dovecot's master lingers a fixed second after the rest, waiting on its
# log and anvil helpers, with its listeners still open: with SPARE_COMMS="log anvil" we stop
# waiting once only the master and those remain.
stop_master() {
  local pid=$1 limit=$(( $2 * 100 )) spare=${3:-} i m c any others
  kill -TERM -- "-$pid" 2>/dev/null || kill -TERM "$pid" 2>/dev/null || return 0
  for (( i = 0; i < limit; i++ )); do
    any=0; others=0
    while read -r m c; do
      [ -n "$m" ] || continue
      any=1
      [ "$m" = "$pid" ] && continue
      [ -n "$spare" ] && [[ " $spare " == *" $c "* ]] && continue
      others=1
    done < <(group_members "$pid")
    [ $any = 0 ] && return 0                        # all gone
    [ -n "$spare" ] && [ $others = 0 ] && break     # only the master and its helpers are left
    sleep 0.01
  done
  kill -KILL -- "-$pid" 2>/dev/null
  for (( i = 0; i < 500; i++ )); do [ -z "$(group_members "$pid")" ] && return 0; sleep 0.01; done
  return 1
}
