#!/bin/bash
# install.sh -- installs the Debian packages the integration tests need (Dovecot with IMAP and
# LMTP, Postfix, OpenSSL; python3 for a sample generator; the sender-authentication stacks'
# dnsmasq, OpenDKIM, OpenDMARC, policyd-spf, rspamd, python3-authheaders; e2fsprogs and mount
# for the disk tests' small file systems), if any is missing, without letting
# the packages start the system's own Dovecot or Postfix (they would hold ports 25/143/993 and
# are not the tests' servers: start.sh runs private instances). Idempotent: exits at once when
# everything is there. Installing needs root (or passwordless sudo).
set -euo pipefail

pkgs=(dovecot-imapd dovecot-lmtpd postfix openssl python3)
# The sender-authentication stacks (authstack.sh, issue 19): a local DNS server, Postfix's milters
# as Debian ships them (OpenDKIM, OpenDMARC, the SPF policy server) and rspamd.
pkgs+=(dnsmasq-base opendkim opendmarc postfix-policyd-spf-python rspamd)
# The outside mailing list of the ARC scenario: how Mailman 3 writes A-R and ARC (authheaders, dkimpy).
pkgs+=(python3-authheaders)
have=$(dpkg-query -W -f='${Package} ${Status}\n' "${pkgs[@]}" 2>/dev/null | awk '/ install ok installed$/ { print $1 }' || true)
need=()
for pkg in "${pkgs[@]}"; do
  grep -qx "$pkg" <<< "$have" || need+=("$pkg")
done
command -v setpriv >/dev/null || need+=(util-linux)
# The disk tests (tests/disk_full.rs) make small ext4 file systems on loop devices.
command -v mkfs.ext4 >/dev/null || need+=(e2fsprogs)
command -v losetup >/dev/null || need+=(mount)
command -v ps >/dev/null || need+=(procps)
[ ${#need[@]} -eq 0 ] && exit 0

SUDO=()
if [ "$(id -u)" != 0 ]; then
  if command -v sudo >/dev/null && sudo -n true 2>/dev/null; then
    SUDO=(sudo -n)
  else
    echo "The integration tests need these Debian packages, which are missing: ${need[*]}" >&2
    echo "Install them as root, then run the tests again (as root: the tests start Postfix):" >&2
    echo "  echo 'postfix postfix/main_mailer_type select No configuration' | debconf-set-selections" >&2
    echo "  apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends ${need[*]}" >&2
    exit 1
  fi
fi
echo "installing ${need[*]} ..." >&2

# policy-rc.d answering 101 ("action forbidden") keeps the packages' scripts from starting the
# daemons; any policy already there is put back afterwards.
policy=/usr/sbin/policy-rc.d; saved=$policy.mailtest-saved
restore() {
  if [ -e "$saved" ]; then "${SUDO[@]}" mv -f "$saved" "$policy"; else "${SUDO[@]}" rm -f "$policy"; fi
}
[ -e "$policy" ] && "${SUDO[@]}" mv -f "$policy" "$saved"
trap restore EXIT
printf '#!/bin/sh\n# installed by tests/mailserver/install.sh while it runs\nexit 101\n' \
  | "${SUDO[@]}" tee "$policy" >/dev/null
"${SUDO[@]}" chmod 755 "$policy"

# "No configuration": no /etc/postfix/main.cf, so the system's Postfix cannot run by accident.
echo "postfix postfix/main_mailer_type select No configuration" | "${SUDO[@]}" debconf-set-selections
# OpenDMARC asks whether to set up a report database: no.
echo "opendmarc opendmarc/dbconfig-install boolean false" | "${SUDO[@]}" debconf-set-selections
"${SUDO[@]}" apt-get update -qq
"${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive \
  apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null

# Should a system instance have started anyway, stop it (by the PID file of the system instance;
# the tests' own instances keep theirs in their state directories).
for svc in dovecot:/run/dovecot/master.pid postfix:/var/spool/postfix/pid/master.pid \
           opendkim:/run/opendkim/opendkim.pid opendmarc:/run/opendmarc/opendmarc.pid \
           rspamd:/run/rspamd/rspamd.pid; do
  name=${svc%%:*}; pidfile=${svc#*:}
  [ -s "$pidfile" ] || continue
  pid=$(tr -dc 0-9 < "$pidfile")
  if [ -n "$pid" ] && [ -d "/proc/$pid" ]; then
    echo "stopping the system's $name (pid $pid), started by its package" >&2
    "${SUDO[@]}" service "$name" stop >/dev/null 2>&1 || "${SUDO[@]}" kill -TERM "$pid" 2>/dev/null || true
  fi
done
echo "installed ${need[*]}" >&2
