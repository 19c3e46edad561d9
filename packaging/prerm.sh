#!/bin/sh
# Before removing stile: stop its services. On an upgrade they keep running
# until postinst restarts them on the new binary. Its data (/var/lib/stile,
# and the backups in /var/backups/stile),
# its key and token (/etc/stile) and its user stay: a reinstall finds them.
set -e
case "$1" in
remove|deconfigure)
  if [ -d /run/systemd/system ]; then
    systemctl stop stile-backup.timer stile-server.service stile-agent.service >/dev/null 2>&1 || true
  fi
  ;;
esac
