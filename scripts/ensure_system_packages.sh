#!/usr/bin/env bash
# The tests start a private Dovecot and drive Debian's Chromium; install them when
# missing and allowed (root with apt-get), else say in one line what to install.
set -euo pipefail
missing=()
[ -x /usr/sbin/dovecot ] && [ -e /usr/lib/dovecot/imap ] || missing+=(dovecot-imapd)
[ -e /usr/lib/dovecot/pop3 ] || missing+=(dovecot-pop3d)
[ -x /usr/bin/chromium ] || missing+=(chromium)
# msgfmt/xgettext for makemessages and compilemessages (the compiled .mo files are
# committed, so running the site needs neither).
command -v msgfmt >/dev/null || missing+=(gettext)
[ ${#missing[@]} -eq 0 ] && exit 0
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
  echo "Installing ${missing[*]} for the tests..."
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
else
  echo "Missing for the tests: run 'sudo apt-get install ${missing[*]}' (those tests are skipped)."
fi
