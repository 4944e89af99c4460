#!/bin/bash
# start.sh STATE_DIR -- starts a private Dovecot (IMAP, IMAPS, LMTP, SASL) and a private Postfix
# (SMTP with STARTTLS and AUTH through Dovecot, SMTPS) on 127.0.0.1 only, for one integration
# test. Postfix hands the test domains to Dovecot over LMTP and sends every other domain to an
# error transport, so no mail ever leaves loopback. Any number of instances can run side by side,
# each with its own STATE_DIR and ports.
#
# Prints KEY=VALUE lines (also written to STATE_DIR/ports.env). Needs root (Postfix); Dovecot
# runs as MAILTEST_RUN_AS (default nobody), who must be able to traverse STATE_DIR's parents.
# Env: MAILTEST_{IMAP,IMAPS,SMTP,SMTPS,LMTP,SASL}_PORT  (defaults 1143 1993 2525 2465 2424 2426)
#      MAILTEST_USERS   extra addresses, space-separated, password "secret" like those in ./users
#      MAILTEST_USERS_FILE  a file of more extra addresses, one a line (for thousands: scripts/bench)
#      MAILTEST_RUN_AS  unprivileged user for Dovecot (default nobody)
#      MAILTEST_OWNER_PID  stop the servers when this process dies (see watchdog.sh)
#      MAILTEST_TRACE=1  trace every step with a timestamp on stderr (also smtp.sh)
#      MAILTEST_POSTFIX_MAIN_EXTRA, MAILTEST_POSTFIX_MASTER_EXTRA  files appended to Postfix's
#                       main.cf / master.cf (rendered like them; later main.cf lines win): how
#                       authstack.sh adds its milters, submission port and policy server
#      MAILTEST_OAUTH2_URL  base URL of a token server (token_server.py): Dovecot then also takes
#                       XOAUTH2 and OAUTHBEARER logins (IMAP, and SMTP AUTH through Dovecot SASL),
#                       checking each token at MAILTEST_OAUTH2_URL/introspect
# Exit status: 0 started; 3 a port is taken (choose other ports and retry); other = failure.
set -euo pipefail
[ -n "${MAILTEST_TRACE:-}" ] && { PS4='+ $EPOCHREALTIME '; set -x; }
HERE=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=lib.sh
. "$HERE/lib.sh"
[ $# -eq 1 ] || { echo "usage: $0 STATE_DIR" >&2; exit 2; }
[ "$(id -u)" = 0 ] || { echo "start.sh needs root (Postfix): run the README's test command as root" >&2; exit 1; }
for bin in /usr/sbin/dovecot /usr/lib/dovecot/imap /usr/lib/dovecot/lmtp /usr/sbin/postfix openssl; do
  command -v "$bin" >/dev/null || { echo "$bin is missing: run tests/mailserver/install.sh" >&2; exit 1; }
done
mkdir -p "$1"; S=$(cd "$1" && pwd)
IMAP_PORT=${MAILTEST_IMAP_PORT:-1143};  IMAPS_PORT=${MAILTEST_IMAPS_PORT:-1993}
SMTP_PORT=${MAILTEST_SMTP_PORT:-2525};  SMTPS_PORT=${MAILTEST_SMTPS_PORT:-2465}
LMTP_PORT=${MAILTEST_LMTP_PORT:-2424};  SASL_PORT=${MAILTEST_SASL_PORT:-2426}
PORTS=("$IMAP_PORT" "$IMAPS_PORT" "$LMTP_PORT" "$SASL_PORT" "$SMTP_PORT" "$SMTPS_PORT")
[ "$(printf '%s\n' "${PORTS[@]}" | sort -u | wc -l)" = 6 ] || { echo "the six ports must differ" >&2; exit 2; }
# A name per instance, for Dovecot's instance_name and Postfix's syslog and instance names.
NAME=$(printf '%s' "$S" | md5sum | cut -c1-10)

# Refuse to start a second time on a state dir whose servers still run.
if master_pid "$S/dovecot/run/master.pid" "$S/dovecot/dovecot.conf" >/dev/null ||
   master_pid "$S/postfix/queue/pid/master.pid" "MAIL_CONFIG=$S/postfix/conf" >/dev/null; then
  echo "servers for $S are already running; stop.sh it first" >&2; exit 1
fi
taken=$(ports_in_use "${PORTS[@]}" | tr '\n' ' ')
[ -z "$taken" ] || { echo "127.0.0.1 port(s) already in use: $taken" >&2; exit 3; }

U=${MAILTEST_RUN_AS:-nobody}; G=$(id -gn "$U"); UID_=$(id -u "$U"); GID_=$(id -g "$U")
AS=(setpriv --reuid="$U" --regid="$G" --init-groups --)
D=$S/dovecot; P=$S/postfix; T=$S/tls
rm -f "$S/ports.env" "$S/dovecot/run/master.pid"
mkdir -p "$T" "$D/run" "$D/lib" "$D/mail" "$P/conf"

# TLS: a test CA and a server certificate it signed, for localhost and 127.0.0.1 (a self-signed
# certificate used directly is refused by webpki, rightly). ECDSA P-256: milliseconds to make.
if [ ! -s "$T/cert.pem" ]; then
  (
    cd "$T"
    ec=(-newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes)
    openssl req -x509 "${ec[@]}" -days 3650 -subj "/CN=klachtd test CA" -keyout ca.key -out ca.pem 2>/dev/null
    openssl req "${ec[@]}" -subj /CN=localhost -keyout key.pem -out server.csr 2>/dev/null
    printf '%s\n' "subjectAltName=DNS:localhost,IP:127.0.0.1" "basicConstraints=critical,CA:FALSE" \
      "keyUsage=digitalSignature" "extendedKeyUsage=serverAuth" > server.ext
    openssl x509 -req -in server.csr -CA ca.pem -CAkey ca.key -CAcreateserial -days 3650 \
      -extfile server.ext -out cert.pem 2>/dev/null
  ) || { echo "openssl could not make the test certificates" >&2; exit 1; }
fi

# Users: ./users plus MAILTEST_USERS, all with password "secret", in lower case (Dovecot folds
# login names and recipients to lower case too). Their domains are the ones Postfix delivers to
# Dovecot; every other domain is refused.
{
  grep -v '^#' "$HERE/users"
  read -ra extra <<< "${MAILTEST_USERS:-}"
  for u in "${extra[@]}"; do
    [[ $u =~ ^[^@:[:space:]]+@[^@:[:space:]]+$ ]] || { echo "MAILTEST_USERS: not an address: $u" >&2; exit 2; }
    echo "$u:{PLAIN}secret::::::"
  done
  if [ -n "${MAILTEST_USERS_FILE:-}" ]; then
    grep -v '^[[:space:]]*$' "$MAILTEST_USERS_FILE" | sed 's/$/:{PLAIN}secret::::::/'
  fi
} | awk -F: -v OFS=: '{ $1 = tolower($1) } !seen[$1]++' > "$D/users"
cut -d: -f1 "$D/users" | sed 's/$/ OK/' > "$P/recipients"
DOMAINS=$(cut -d: -f1 "$D/users" | cut -d@ -f2 | tr 'A-Z' 'a-z' | sort -u | tr '\n' ' ')

render() {   # render TEMPLATE OUTPUT
  sed -e "s#@D@#$D#g" -e "s#@P@#$P#g" -e "s#@TLS@#$T#g" -e "s#@NAME@#$NAME#g" \
      -e "s#@USER@#$U#g" -e "s#@GROUP@#$G#g" -e "s#@UID@#$UID_#g" -e "s#@GID@#$GID_#g" \
      -e "s#@IMAP_PORT@#$IMAP_PORT#g" -e "s#@IMAPS_PORT@#$IMAPS_PORT#g" \
      -e "s#@LMTP_PORT@#$LMTP_PORT#g" -e "s#@SASL_PORT@#$SASL_PORT#g" \
      -e "s#@SMTP_PORT@#$SMTP_PORT#g" -e "s#@SMTPS_PORT@#$SMTPS_PORT#g" \
      -e "s#@DOMAINS@#$DOMAINS#g" "$1" > "$2"
}
render "$HERE/dovecot.conf.in" "$D/dovecot.conf"
if [ -n "${MAILTEST_OAUTH2_URL:-}" ]; then
  # Token logins: passwords still go to the passwd-file passdb; a token fails there and is then
  # checked by the oauth2 passdb against the token server's introspection endpoint.
  printf '%s\n' "introspection_mode = post" "introspection_url = $MAILTEST_OAUTH2_URL/introspect" \
    "username_attribute = username" "active_attribute = active" "active_value = true" \
    "force_introspection = yes" > "$D/oauth2.conf.ext"
  cat >> "$D/dovecot.conf" <<CONF
auth_mechanisms = plain login xoauth2 oauthbearer
passdb {
  driver = oauth2
  mechanisms = xoauth2 oauthbearer
  args = $D/oauth2.conf.ext
}
CONF
fi
render "$HERE/postfix/main.cf.in" "$P/conf/main.cf"
render "$HERE/postfix/master.cf.in" "$P/conf/master.cf"
for extra in "${MAILTEST_POSTFIX_MAIN_EXTRA:-}:main.cf" "${MAILTEST_POSTFIX_MASTER_EXTRA:-}:master.cf"; do
  file=${extra%:*}; [ -n "$file" ] || continue
  render "$file" "$P/conf/extra.tmp"; cat "$P/conf/extra.tmp" >> "$P/conf/${extra##*:}"; rm -f "$P/conf/extra.tmp"
done
# Postfix re-reads a "hot" file (modified within the last second or two) every 0.3 s until it
# has cooled down, in every process that reads it: date its files a minute back (saves ~2.5 s).
touch -d "@$(( $(date +%s) - 60 ))" "$P/conf/main.cf" "$P/conf/master.cf" "$P/recipients"

# Postfix's queue, as `postfix check` would create it (see /etc/postfix/postfix-files); making it
# here lets smtp.sh start Postfix with its slow integrity checks skipped.
install -d -o root -m 755 "$P/queue" "$P/queue/pid"
install -d -o postfix -m 700 "$P/data" "$P/queue/"{active,bounce,corrupt,defer,deferred,flush,hold,incoming,private,saved,trace}
install -d -o postfix -g postdrop -m 730 "$P/queue/maildrop"
install -d -o postfix -g postdrop -m 710 "$P/queue/public"

chmod go+x "$S"; chmod 600 "$T/key.pem" "$T/ca.key"
chown -R "$U:$G" "$T" "$D"
"${AS[@]}" test -w "$D" || { echo "$U cannot reach $S (a parent dir not traversable?)" >&2; exit 1; }

cat > "$S/ports.env" <<ENV
MAIL_HOST=127.0.0.1
IMAP_PORT=$IMAP_PORT
IMAPS_PORT=$IMAPS_PORT
SMTP_PORT=$SMTP_PORT
SMTPS_PORT=$SMTPS_PORT
LMTP_PORT=$LMTP_PORT
SASL_PORT=$SASL_PORT
TLS_CA_CERT=$T/ca.pem
MAIL_PASSWORD=secret
ENV

# Both servers start at once; Postfix needs Dovecot only when mail or a login arrives.
# (Daemons must not hold the caller's stdout/stderr open: a test runner would wait for EOF.)
logs=("$D/start.out" "$D/dovecot.log" "$P/start.out" "$P/postfix.log")
: > "$D/start.out"; : > "$P/start.out"
offsets=(); for f in "${logs[@]}"; do offsets+=("$(stat -c %s "$f" 2>/dev/null || echo 0)"); done
"${AS[@]}" /usr/sbin/dovecot -c "$D/dovecot.conf" </dev/null >>"$D/start.out" 2>&1 &
dovecot_job=$!
"$HERE/smtp.sh" "$S" start </dev/null >>"$P/start.out" 2>&1 &
postfix_job=$!
ok=1
wait "$dovecot_job" || ok=0
wait "$postfix_job" || ok=0
[ $ok = 1 ] && wait_listening 10 "${PORTS[@]}" || ok=0
if [ $ok = 0 ]; then
  "$HERE/stop.sh" "$S" >/dev/null 2>&1 || true
  new=$(for i in "${!logs[@]}"; do tail -c "+$(( offsets[i] + 1 ))" "${logs[$i]}" 2>/dev/null; done)
  if grep -q "in use" <<< "$new"; then
    echo "a port was taken while starting; choose other ports:" >&2
    grep "in use" <<< "$new" >&2
    exit 3
  fi
  echo "the test mail servers did not start; what they said (logs in $S):" >&2
  echo "$new" | tail -n 40 >&2
  exit 1
fi
# With MAILTEST_OWNER_PID (the test process), a watchdog stops these servers should that process
# die without doing so. setsid: a Ctrl-C to the test run's process group must not reach it.
if [ -n "${MAILTEST_OWNER_PID:-}" ]; then
  setsid "$HERE/watchdog.sh" "$S" "$MAILTEST_OWNER_PID" </dev/null >/dev/null 2>&1 &
  echo $! > "$S/watchdog.pid"
fi
cat "$S/ports.env"
