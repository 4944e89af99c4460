#!/bin/bash
# install.sh -- installs the Debian packages the integration tests need (Dovecot, Postfix,
# OpenSSL) if they are missing, without starting the system's own instances of them.
# Idempotent and quick when everything is there. Needs root (or sudo) to install.
set -euo pipefail
need=()
[ -x /usr/sbin/dovecot ] || need+=(dovecot-imapd)
[ -x /usr/lib/dovecot/lmtp ] || need+=(dovecot-lmtpd)
[ -x /usr/sbin/postfix ] || need+=(postfix)
command -v openssl >/dev/null || need+=(openssl)
command -v setpriv >/dev/null || need+=(util-linux)
command -v python3 >/dev/null || need+=(python3)
[ ${#need[@]} -eq 0 ] && exit 0
SUDO=()
if [ "$(id -u)" != 0 ]; then
  if command -v sudo >/dev/null; then SUDO=(sudo); else
    echo "The integration tests need these Debian packages: ${need[*]}; install them as root." >&2; exit 1
  fi
fi
echo "installing ${need[*]} ..." >&2
# Keep the package scripts from starting the system-wide daemons (they would hold ports).
policy=/usr/sbin/policy-rc.d; made_policy=0
if [ ! -e $policy ]; then
  printf '#!/bin/sh\nexit 101\n' | "${SUDO[@]}" tee $policy >/dev/null; "${SUDO[@]}" chmod +x $policy; made_policy=1
fi
echo "postfix postfix/main_mailer_type select No configuration" | "${SUDO[@]}" debconf-set-selections
"${SUDO[@]}" apt-get update -qq
"${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
[ $made_policy = 1 ] && "${SUDO[@]}" rm -f $policy
exit 0
