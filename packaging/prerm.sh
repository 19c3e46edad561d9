#!/bin/sh
# Before removing stile: stop its services. Its data (/var/lib/stile), its key and
# token (/etc/stile) and its user stay: a reinstall finds them.
set -e
if [ -d /run/systemd/system ]; then
  systemctl stop stile-server.service stile-agent.service >/dev/null 2>&1 || true
fi
