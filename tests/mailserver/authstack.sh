#!/bin/bash
# authstack.sh start a|b STATE_DIR  -- starts a sender-authentication stack for one test
# authstack.sh stop STATE_DIR       -- stops it (stop.sh calls this too); idempotent
#
# A stack is start.sh's Dovecot + Postfix pair, with that Postfix as the organisation's MX and
# submission server (myhostname mx.example.org) and, as Debian 12 ships them:
#   a  OpenDKIM, OpenDMARC (milters) and postfix-policyd-spf-python (policy server)
#   b  rspamd (proxy worker in milter mode: one Authentication-Results, DKIM signing, ARC)
# plus, for both,
#   - a local DNS server (dnsmasq) on 127.53.X.Y:53 answering for the test domains only
#     (DKIM keys, SPF, DMARC; see the zone below) and REFUSED for every other name;
#   - the outside world: a second Postfix with a bulk mailer (signs d=bulkmailer.example.net
#     with OpenDKIM, relays to port 25 from 127.0.0.2) and a mailing list (lists.example.com,
#     list.py: Mailman's ARC sealing, sends from 127.0.0.3).
# Every server of the stack runs in a mount namespace of its own whose /etc/resolv.conf names
# that DNS server: the machine's resolver and /etc/resolv.conf are never changed, and no DNS
# query leaves loopback. Keys are made at each start (RSA 2048, PKCS#1).
#
# Ports: start.sh's (MAILTEST_{IMAP,IMAPS,SMTP,SMTPS,LMTP,SASL}_PORT) and
# MAILTEST_{SUBMISSION,RELAY,LIST}_PORT. MAILTEST_AUTHSTACK_DEBIAN_DEFAULTS=1 leaves out the
# administrator's settings that docs/authstack.md says to check (authserv-ids, policyd-spf's
# Header_Type, OpenDMARC's IgnoreAuthenticatedClients, rspamd's milter_headers), to show what a
# server set up with Debian's defaults writes. Prints start.sh's KEY=VALUE lines plus SUBMISSION_PORT,
# RELAY_PORT, LIST_PORT, DNS_ADDR, STACK (also in STATE_DIR/ports.env).
# Exit status: 0 started; 3 a port or the DNS address was taken (retry on others); other = failure.
set -euo pipefail
[ -n "${MAILTEST_TRACE:-}" ] && { PS4='+ $EPOCHREALTIME '; set -x; }
HERE=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=lib.sh
. "$HERE/lib.sh"
usage() { echo "usage: $0 start a|b STATE_DIR | stop STATE_DIR" >&2; exit 2; }

# stop_pidfile PIDFILE NEEDLE -- stops the daemon whose PID PIDFILE records (checked against
# NEEDLE, see master_pid in lib.sh) with its process group, and removes the file. OpenDKIM
# lingers about 4 s after SIGTERM and rspamd waits for its workers: nothing here needs a
# graceful stop.
stop_pidfile() {
  local pid
  if pid=$(master_pid "$1" "$2"); then stop_quick "$pid"; fi
  rm -f "$1"
}

# stop_quick PID -- SIGTERM to PID's process group (or PID), SIGKILL 0.3 s later if it still
# runs; returns once PID is gone (a zombie counts as gone, see running in lib.sh).
stop_quick() {
  local pid=$1 i
  kill -TERM -- "-$pid" 2>/dev/null || kill -TERM "$pid" 2>/dev/null || return 0
  for (( i = 0; i < 30; i++ )); do running "$pid" || return 0; sleep 0.01; done
  kill -KILL -- "-$pid" 2>/dev/null || kill -KILL "$pid" 2>/dev/null
  for (( i = 0; i < 500; i++ )); do running "$pid" || return 0; sleep 0.01; done
}

# stop_rspamd PIDFILE DIR -- rspamd rewrites its command line and environment ("rspamd: main
# process"), so master_pid's check cannot work; it is ours if it is rspamd and holds a file
# under DIR open (its log).
stop_rspamd() {
  local pid
  [ -s "$1" ] || return 0
  pid=$(tr -dc 0-9 < "$1")
  if [ -n "$pid" ] && running "$pid" && [ "$(readlink "/proc/$pid/exe")" = /usr/bin/rspamd ] &&
     find "/proc/$pid/fd" -maxdepth 1 -lname "$2/*" 2>/dev/null | grep -q .; then
    stop_quick "$pid"
  fi
  rm -f "$1"
}

stop_stack() {
  local S=$1 A=$1/authstack O=$1/outside
  [ -d "$A" ] || return 0
  # All at once: each takes a moment, no need to add them up.
  { if pid=$(master_pid "$O/queue/pid/master.pid" "MAIL_CONFIG=$O/conf"); then stop_master "$pid" 5 || true; fi; } &
  stop_pidfile "$A/opendkim.pid" "$A/opendkim.conf" &
  stop_pidfile "$A/opendmarc.pid" "$A/opendmarc.conf" &
  stop_pidfile "$O/opendkim.pid" "$O/opendkim.conf" &
  stop_rspamd "$A/rspamd/run/rspamd.pid" "$A" &
  stop_pidfile "$A/dnsmasq.pid" "$A/dnsmasq.conf" &
  wait
}

case ${1:-} in
  stop)
    [ $# -eq 2 ] || usage
    [ -d "$2" ] || exit 0
    stop_stack "$(cd "$2" && pwd)"; exit 0 ;;
  start)
    [ $# -eq 3 ] || usage
    KIND=$2; [[ $KIND == a || $KIND == b ]] || usage ;;
  *) usage ;;
esac
[ "$(id -u)" = 0 ] || { echo "authstack.sh needs root (Postfix, DNS on port 53)" >&2; exit 1; }
mkdir -p "$3"; S=$(cd "$3" && pwd)

# Everything below runs in a mount namespace of its own (see the top).
if [ -z "${AUTHSTACK_IN_NAMESPACE:-}" ]; then
  for bin in unshare dnsmasq opendkim /usr/sbin/postfix; do
    command -v "$bin" >/dev/null || { echo "$bin is missing: run tests/mailserver/install.sh" >&2; exit 1; }
  done
  [ "$KIND" = a ] && { command -v opendmarc >/dev/null && [ -x /usr/bin/policyd-spf ] \
    || { echo "opendmarc or policyd-spf is missing: run tests/mailserver/install.sh" >&2; exit 1; }; }
  [ "$KIND" = b ] && { command -v rspamd >/dev/null \
    || { echo "rspamd is missing: run tests/mailserver/install.sh" >&2; exit 1; }; }
  mkdir -p "$S/authstack"
  # The file must exist before the namespace binds it.
  exec unshare -m --propagation private env AUTHSTACK_IN_NAMESPACE=1 bash "$0" "$@"
fi

A=$S/authstack; O=$S/outside; K=$A/keys
NAME=$(printf '%s' "$S" | md5sum | cut -c1-10)
SMTP_PORT=${MAILTEST_SMTP_PORT:-2525}
SUBMISSION_PORT=${MAILTEST_SUBMISSION_PORT:-2587}
RELAY_PORT=${MAILTEST_RELAY_PORT:-2526}
LIST_PORT=${MAILTEST_LIST_PORT:-2527}
taken=$(ports_in_use "$SUBMISSION_PORT" "$RELAY_PORT" "$LIST_PORT" | tr '\n' ' ')
[ -z "$taken" ] || { echo "127.0.0.1 port(s) already in use: $taken" >&2; exit 3; }
stop_stack "$S"
rm -rf "$A" "$O"
mkdir -p "$A" "$K" "$O/conf" "$O/keys"
# The milters make their sockets and pid files as nobody.
chown nobody:nogroup "$A" "$O"

fail() {   # fail STATUS MESSAGE LOG... -- stops what was started, prints the logs' ends
  local status=$1 msg=$2; shift 2
  stop_stack "$S"; "$HERE/stop.sh" "$S" >/dev/null 2>&1 || true
  echo "$msg" >&2
  for f in "$@"; do [ -s "$f" ] && { echo "== $f" >&2; tail -n 20 "$f" >&2; }; done
  exit "$status"
}

# --- DNS: 127.53.X.Y:53, derived from the state dir; the next candidate if something is bound
# there (a UDP socket or a TCP listener).
dns_free() {
  local a=$1 hex
  hex=$(printf '%02X%02X%02X%02X:0035' "${a##*.}" "$(cut -d. -f3 <<< "$a")" 53 127)
  ! awk -v a="$hex" '$2 == a && ($4 == "07" || $4 == "0A") { found = 1 } END { exit !found }' \
    /proc/net/udp /proc/net/tcp
}
DNS_ADDR=
for i in $(seq 0 31); do
  h=$(printf '%s:%s' "$S" "$i" | md5sum)
  cand=127.53.$(( 0x${h:0:2} )).$(( 0x${h:2:2} % 254 + 1 ))
  if dns_free "$cand"; then DNS_ADDR=$cand; break; fi
done
[ -n "$DNS_ADDR" ] || { echo "no free DNS address in 127.53.0.0/16 for $S" >&2; exit 3; }

# --- keys: the organisation's (DKIM "mail", ARC "arc"), the bulk mailer's and the list's.
for d in example.org bulkmailer.example.net lists.example.com; do
  openssl genrsa -traditional -out "$K/$d.key" 2048 2>/dev/null &
done
wait
txt_key() {   # the DKIM key record of a private key, as dnsmasq character-strings of <= 250
  local p; p="p=$(openssl rsa -in "$1" -pubout -outform DER 2>/dev/null | base64 -w0)"
  printf '"v=DKIM1; k=rsa; "'
  while [ -n "$p" ]; do printf ',"%s"' "${p:0:250}"; p=${p:250}; done
}
{
  echo "# The test domains (rendered by authstack.sh). Nothing else resolves."
  echo "port=53"; echo "listen-address=$DNS_ADDR"; echo "bind-interfaces"
  echo "no-resolv"; echo "no-hosts"; echo "no-poll"
  echo "user=nobody"; echo "group=nogroup"
  echo "pid-file=$A/dnsmasq.pid"; echo "log-queries"; echo "log-facility=$A/dns.log"
  for zone in example.org example.net example.com; do echo "local=/$zone/"; done
  # The organisation: its MX/submission host is 127.0.0.1, DMARC p=reject.
  echo "host-record=mx.example.org,127.0.0.1"
  echo "mx-host=example.org,mx.example.org,10"
  echo 'txt-record=example.org,"v=spf1 ip4:127.0.0.1 -all"'
  echo 'txt-record=_dmarc.example.org,"v=DMARC1; p=reject; adkim=r; aspf=r"'
  echo "txt-record=mail._domainkey.example.org,$(txt_key "$K/example.org.key")"
  echo "txt-record=arc._domainkey.example.org,$(txt_key "$K/example.org.key")"
  # A bulk mailer (its own domain and key, sends from 127.0.0.2), p=none.
  echo "host-record=out.bulkmailer.example.net,127.0.0.2"
  echo 'txt-record=bulkmailer.example.net,"v=spf1 ip4:127.0.0.2 -all"'
  echo 'txt-record=_dmarc.bulkmailer.example.net,"v=DMARC1; p=none"'
  echo "txt-record=s1._domainkey.bulkmailer.example.net,$(txt_key "$K/bulkmailer.example.net.key")"
  # A mailing list (sends from 127.0.0.3), p=none.
  echo "host-record=lists.example.com,127.0.0.3"
  echo 'txt-record=lists.example.com,"v=spf1 ip4:127.0.0.3 -all"'
  echo 'txt-record=_dmarc.lists.example.com,"v=DMARC1; p=none"'
  echo "txt-record=list._domainkey.lists.example.com,$(txt_key "$K/lists.example.com.key")"
  # forger.example.net (the forger's own envelope domain) has no records at all.
} > "$A/dnsmasq.conf"
AUTHSTACK_DIR=$A dnsmasq -C "$A/dnsmasq.conf" 2>"$A/dnsmasq.out" || {
  grep -qi "in use" "$A/dnsmasq.out" && { cat "$A/dnsmasq.out" >&2; exit 3; }
  fail 1 "dnsmasq did not start" "$A/dnsmasq.out"
}
printf 'nameserver %s\noptions timeout:2 attempts:2\n' "$DNS_ADDR" > "$A/resolv.conf"
mount --bind "$A/resolv.conf" /etc/resolv.conf

# The administrator's settings (docs/authstack.md), unless Debian's defaults are asked for.
if [ -n "${MAILTEST_AUTHSTACK_DEBIAN_DEFAULTS:-}" ]; then
  ID_SETTING="# (Debian's defaults: no AuthservID)"; SPF_SETTING="# (Debian's default: Received-SPF)"
  DMARC_SETTING="# (Debian's default: IgnoreAuthenticatedClients false)"
else
  ID_SETTING="AuthservID mx.example.org"
  SPF_SETTING=$'Header_Type = AR\nAuthserv_Id = mx.example.org'
  DMARC_SETTING="IgnoreAuthenticatedClients true"
fi
render() {   # render TEMPLATE OUTPUT
  local spf=${SPF_SETTING//$'\n'/\\n}
  sed -e "s#@A@#$A#g" -e "s#@O@#$O#g" -e "s#@KEYS@#$K#g" -e "s#@R@#$A/rspamd#g" \
      -e "s#@HERE@#$HERE#g" -e "s#@DNS_ADDR@#$DNS_ADDR#g" -e "s#@NAME@#$NAME#g" \
      -e "s#@SMTP_PORT@#$SMTP_PORT#g" -e "s#@SUBMISSION_PORT@#$SUBMISSION_PORT#g" \
      -e "s#@RELAY_PORT@#$RELAY_PORT#g" -e "s#@LIST_PORT@#$LIST_PORT#g" \
      -e "s|@AUTHSERV_ID_SETTING@|$ID_SETTING|g" -e "s|@SPF_HEADER_SETTING@|$spf|g" \
      -e "s|@DMARC_SETTING@|$DMARC_SETTING|g" "$1" > "$2"
}
T=$HERE/authstack

# --- the receiving server's milters
echo "lists.example.com smtp:[127.0.0.1]:$LIST_PORT" > "$A/transport"
waits=()
if [ "$KIND" = a ]; then
  render "$T/opendkim.conf.in" "$A/opendkim.conf"
  render "$T/opendmarc.conf.in" "$A/opendmarc.conf"
  render "$T/policyd-spf.conf.in" "$A/policyd-spf.conf"
  echo "org example.org:mail:$K/example.org.key" > "$A/keytable"
  echo "*@example.org org" > "$A/signingtable"
  chown -R nobody:nogroup "$K"; chmod 600 "$K"/*.key
  AUTHSTACK_DIR=$A opendkim -x "$A/opendkim.conf" </dev/null >"$A/opendkim.out" 2>&1 \
    || fail 1 "opendkim did not start" "$A/opendkim.out"
  AUTHSTACK_DIR=$A opendmarc -c "$A/opendmarc.conf" </dev/null >"$A/opendmarc.out" 2>&1 \
    || fail 1 "opendmarc did not start" "$A/opendmarc.out"
  waits=("$A/opendkim.sock" "$A/opendmarc.sock")
  MAIN_EXTRA=$T/receiver-main-a.cf
else
  R=$A/rspamd
  mkdir -p "$R/local.d" "$R/db" "$R/run" "$R/log"
  render "$T/rspamd/rspamd.conf.in" "$R/rspamd.conf"
  for f in "$T"/rspamd/local.d/*; do render "$f" "$R/local.d/$(basename "$f")"; done
  [ -n "${MAILTEST_AUTHSTACK_DEBIAN_DEFAULTS:-}" ] && rm "$R/local.d/milter_headers.conf"
  printf '%s\n' com net org > "$R/tld.dat"
  chown -R nobody:nogroup "$R" "$K"; chmod 600 "$K"/*.key
  AUTHSTACK_DIR=$A rspamd -c "$R/rspamd.conf" -u nobody -g nogroup --var "CONFDIR=/etc/rspamd" \
    --var "LOCAL_CONFDIR=$R" --var "DBDIR=$R/db" --var "RUNDIR=$R/run" --var "LOGDIR=$R/log" \
    </dev/null >"$A/rspamd.out" 2>&1 || fail 1 "rspamd did not start" "$A/rspamd.out" "$R/log/rspamd.log"
  waits=("$R/run/milter.sock")
  MAIN_EXTRA=$T/receiver-main-b.cf
fi

# --- the outside world: bulk mailer (OpenDKIM signer) and mailing list
cp "$K/bulkmailer.example.net.key" "$K/lists.example.com.key" "$O/keys/"
chown -R nobody:nogroup "$O/keys"; chmod 600 "$O/keys"/*.key
render "$T/opendkim-outside.conf.in" "$O/opendkim.conf"
echo "bulk bulkmailer.example.net:s1:$O/keys/bulkmailer.example.net.key" > "$O/keytable"
echo "* bulk" > "$O/signingtable"
AUTHSTACK_DIR=$A opendkim -x "$O/opendkim.conf" </dev/null >"$O/opendkim.out" 2>&1 \
  || fail 1 "the outside opendkim did not start" "$O/opendkim.out"
waits+=("$O/opendkim.sock")
echo "info@example.org" > "$O/members"
echo "lists.example.com list:" > "$O/transport"
echo "SMTP_PORT=$SMTP_PORT" > "$O/env"
render "$T/outside-main.cf" "$O/conf/main.cf"
render "$T/outside-master.cf" "$O/conf/master.cf"
touch -d "@$(( $(date +%s) - 60 ))" "$O/conf/main.cf" "$O/conf/master.cf" "$O/transport"
install -d -o root -m 755 "$O/queue" "$O/queue/pid"
install -d -o postfix -m 700 "$O/data" "$O/queue/"{active,bounce,corrupt,defer,deferred,flush,hold,incoming,private,saved,trace}
install -d -o postfix -g postdrop -m 730 "$O/queue/maildrop"
install -d -o postfix -g postdrop -m 710 "$O/queue/public"
chmod go+rx "$O"; chown nobody:nogroup "$O/env" "$O/members"

# --- the receiving Dovecot + Postfix (start.sh), with the stack's additions to Postfix
render "$T/receiver-main.cf.in" "$A/main.cf.extra"
render "$MAIN_EXTRA" "$A/main.cf.kind"; cat "$A/main.cf.kind" >> "$A/main.cf.extra"
render "$T/receiver-master.cf.in" "$A/master.cf.extra"
if [ "$KIND" = b ]; then sed -i '/^policyd-spf /d' "$A/master.cf.extra"; fi
touch "$O/queue/quick-start"
/usr/sbin/postfix -c "$O/conf" start </dev/null >"$O/start.out" 2>&1 \
  || fail 1 "the outside postfix did not start" "$O/start.out" "$O/postfix.log"
set +e
MAILTEST_POSTFIX_MAIN_EXTRA=$A/main.cf.extra MAILTEST_POSTFIX_MASTER_EXTRA=$A/master.cf.extra \
  "$HERE/start.sh" "$S" > "$A/start.out"
rc=$?
set -e
if [ $rc != 0 ]; then stop_stack "$S"; exit $rc; fi
wait_listening 10 "$RELAY_PORT" "$LIST_PORT" "$SUBMISSION_PORT" \
  || fail 1 "the stack's ports did not open" "$O/postfix.log" "$S/postfix/postfix.log"
for (( i = 0; i < 3000; i++ )); do
  ok=1; for w in "${waits[@]}"; do [ -S "$w" ] || ok=0; done
  [ $ok = 1 ] && break; sleep 0.01
done
[ $ok = 1 ] || fail 1 "the milters did not open their sockets (${waits[*]})" \
  "$A/opendkim.out" "$A/opendmarc.out" "$A/rspamd.out" "$A/rspamd/log/rspamd.log" "$O/opendkim.out"
cat >> "$S/ports.env" <<ENV
SUBMISSION_PORT=$SUBMISSION_PORT
RELAY_PORT=$RELAY_PORT
LIST_PORT=$LIST_PORT
DNS_ADDR=$DNS_ADDR
STACK=$KIND
ENV
cat "$S/ports.env"
