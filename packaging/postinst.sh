#!/bin/sh
# After installing stile: its user, its directories, and the server's data key
# and admin token, made once, 0600, owned by stile. A first install starts
# nothing; an upgrade restarts the services that were running.
set -e
if ! getent group stile >/dev/null; then
  groupadd --system stile
fi
if ! getent passwd stile >/dev/null; then
  useradd --system --gid stile --home-dir /var/lib/stile --no-create-home --shell /usr/sbin/nologin stile
fi
install -d -m 0750 -o root -g stile /etc/stile
install -d -m 0700 -o stile -g stile /var/lib/stile
# stile-backup.timer's copies (not enabled by default).
install -d -m 0700 -o stile -g stile /var/backups/stile
umask 077
if [ ! -e /etc/stile/secret.key ]; then
  head -c 32 /dev/urandom | base64 > /etc/stile/secret.key
  echo "stile: created the data key /etc/stile/secret.key: back it up apart from /var/lib/stile"
fi
if [ ! -e /etc/stile/admin.token ]; then
  head -c 32 /dev/urandom | base64 | tr -d '/+=' | sed 's/^/stla_/' > /etc/stile/admin.token
fi
chown stile:stile /etc/stile/secret.key /etc/stile/admin.token
chmod 0600 /etc/stile/secret.key /etc/stile/admin.token
if [ -d /run/systemd/system ]; then
  systemctl daemon-reload >/dev/null 2>&1 || true
  # An upgrade ($2 is the version replaced) restarts what was running.
  if [ -n "${2:-}" ]; then
    systemctl try-restart stile-server.service stile-agent.service stile-backup.timer >/dev/null 2>&1 || true
  fi
fi
if [ -z "${2:-}" ]; then
  echo "stile: start the server with: systemctl enable --now stile-server (settings: /etc/stile/server.yaml)"
  echo "stile: daily backups of its store to /var/backups/stile: systemctl enable --now stile-backup.timer"
fi
