#!/bin/bash
# start.sh STATE_DIR -- a private Dovecot (IMAP, IMAPS, LMTP, SASL) and Postfix (SMTP with
# STARTTLS and AUTH, SMTPS) on 127.0.0.1 only, for one integration test. Postfix delivers
# example.org into Dovecot over LMTP and refuses every other domain: nothing leaves loopback.
# Prints KEY=VALUE lines (also in STATE_DIR/ports.env). Needs root (Postfix; Dovecot then
# runs as MAILTEST_RUN_AS, default nobody).
# Env: MAILTEST_{IMAP,IMAPS,SMTP,SMTPS,LMTP,SASL}_PORT (defaults 1143 1993 2525 2465 2424 2426)
#      MAILTEST_USERS  extra addresses (space-separated) besides those in ./users
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
[ $# -eq 1 ] || { echo "usage: $0 STATE_DIR" >&2; exit 2; }
mkdir -p "$1"; S=$(cd "$1" && pwd)
[ "$(id -u)" = 0 ] || { echo "start.sh needs root (Postfix); run the README's test command as root" >&2; exit 1; }
IMAP_PORT=${MAILTEST_IMAP_PORT:-1143};  IMAPS_PORT=${MAILTEST_IMAPS_PORT:-1993}
SMTP_PORT=${MAILTEST_SMTP_PORT:-2525};  SMTPS_PORT=${MAILTEST_SMTPS_PORT:-2465}
LMTP_PORT=${MAILTEST_LMTP_PORT:-2424};  SASL_PORT=${MAILTEST_SASL_PORT:-2426}
NAME=$(printf '%s' "$S" | md5sum | cut -c1-10)

port_free() { ! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
wait_port() { for _ in $(seq 500); do port_free "$1" || return 0; sleep 0.02; done
              echo "port $1 did not open; see the logs in $S" >&2; return 1; }
for p in $IMAP_PORT $IMAPS_PORT $LMTP_PORT $SASL_PORT $SMTP_PORT $SMTPS_PORT; do
  port_free "$p" || { echo "127.0.0.1:$p is already in use" >&2; exit 3; }
done

U=${MAILTEST_RUN_AS:-nobody}; G=$(id -gn "$U")
AS=(setpriv --reuid="$U" --regid="$G" --init-groups --)
UID_=$(id -u "$U"); GID_=$(id -g "$U")

mkdir -p "$S/tls" "$S/dovecot/run" "$S/dovecot/lib" "$S/dovecot/mail"
if [ ! -s "$S/tls/cert.pem" ]; then
  # A test CA and a server certificate it signed, valid for localhost and 127.0.0.1 (a
  # self-signed CA certificate used as the server's own is refused by webpki, rightly).
  (
    cd "$S/tls"
    openssl req -x509 -newkey rsa:2048 -nodes -days 3650 -subj "/CN=klachtd test CA" \
      -keyout ca.key -out ca.pem 2>/dev/null
    openssl req -newkey rsa:2048 -nodes -subj /CN=localhost -keyout key.pem -out server.csr 2>/dev/null
    printf '%s\n' "subjectAltName=DNS:localhost,IP:127.0.0.1" "basicConstraints=critical,CA:FALSE" \
      "keyUsage=digitalSignature,keyEncipherment" "extendedKeyUsage=serverAuth" > server.ext
    openssl x509 -req -in server.csr -CA ca.pem -CAkey ca.key -CAcreateserial -days 3650 \
      -extfile server.ext -out cert.pem 2>/dev/null
  )
fi
{ grep -v '^#' "$HERE/users"
  for u in ${MAILTEST_USERS:-}; do echo "$u:{PLAIN}secret::::::"; done
} > "$S/dovecot/users"
sed -e "s#@D@#$S/dovecot#g" -e "s#@TLS@#$S/tls#g" -e "s#@USER@#$U#g" -e "s#@GROUP@#$G#g" \
    -e "s#@UID@#$UID_#g" -e "s#@GID@#$GID_#g" -e "s#@IMAP_PORT@#$IMAP_PORT#g" -e "s#@NAME@#$NAME#g" \
    -e "s#@IMAPS_PORT@#$IMAPS_PORT#g" -e "s#@LMTP_PORT@#$LMTP_PORT#g" -e "s#@SASL_PORT@#$SASL_PORT#g" \
    "$HERE/dovecot.conf.in" > "$S/dovecot/dovecot.conf"
chmod go+x "$S"; chmod 600 "$S/tls/key.pem" "$S/tls/ca.key"
chown -R "$U:$G" "$S/tls" "$S/dovecot"
"${AS[@]}" test -w "$S/dovecot" || { echo "$U cannot reach $S (parent dir not traversable?)" >&2; exit 1; }

# Daemons must not hold the caller's stdout/stderr open.
"${AS[@]}" /usr/sbin/dovecot -c "$S/dovecot/dovecot.conf" </dev/null >/dev/null 2>&1
wait_port "$IMAP_PORT"; wait_port "$IMAPS_PORT"; wait_port "$LMTP_PORT"; wait_port "$SASL_PORT"

P=$S/postfix; mkdir -p "$P/conf" "$P/queue"
for f in main.cf master.cf; do
  sed -e "s#@P@#$P#g" -e "s#@TLS@#$S/tls#g" -e "s#@LMTP_PORT@#$LMTP_PORT#g" -e "s#@SASL_PORT@#$SASL_PORT#g" \
      -e "s#@SMTP_PORT@#$SMTP_PORT#g" -e "s#@SMTPS_PORT@#$SMTPS_PORT#g" -e "s#@NAME@#$NAME#g" \
      "$HERE/postfix/$f.in" > "$P/conf/$f"
done
cut -d: -f1 "$S/dovecot/users" | sed 's/$/ OK/' > "$P/recipients"
cat > "$S/ports.env" <<ENV
MAIL_HOST=127.0.0.1
IMAP_PORT=$IMAP_PORT
IMAPS_PORT=$IMAPS_PORT
SMTP_PORT=$SMTP_PORT
SMTPS_PORT=$SMTPS_PORT
LMTP_PORT=$LMTP_PORT
SASL_PORT=$SASL_PORT
TLS_CA_CERT=$S/tls/ca.pem
MAIL_PASSWORD=secret
ENV
"$HERE/smtp.sh" "$S" start
cat "$S/ports.env"
