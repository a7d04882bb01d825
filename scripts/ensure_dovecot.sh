#!/usr/bin/env bash
# The integration tests start a private Dovecot; install it when missing and allowed.
set -euo pipefail
if [ -x /usr/sbin/dovecot ] && [ -e /usr/lib/dovecot/imap ] && [ -e /usr/lib/dovecot/pop3 ]; then
  exit 0
fi
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
  echo "Installing Dovecot (dovecot-imapd, dovecot-pop3d) for the integration tests..."
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq dovecot-imapd dovecot-pop3d >/dev/null
else
  echo "Dovecot is missing: run 'sudo apt-get install dovecot-imapd dovecot-pop3d' (mail-server tests will be skipped)."
fi
