#!/usr/bin/env bash
# The PostgreSQL store's upgrade fixtures
# (internal/store/postgres/testdata/upgrade/NNN.sql.gz): for each migration
# level, a PostgreSQL store written by the code of that level.
#
#   bash scripts/store-fixtures-postgres.sh [NNN...]   # default: every level
#
# The levels and their commits are scripts/store-fixtures.sh's (a commit that
# added migrations, named by the highest one it added). For each, the commit
# is checked out in a temporary worktree and built; its own stile
# migrate-store copies a copy of the SQLite fixture of that level
# (internal/store/sqlite/testdata/upgrade/NNN/stile.db) into a fresh, empty
# database of a throwaway PostgreSQL 15 (scripts/pg.sh, so run as root).
# Opening that database applies the level's own PostgreSQL migrations, so
# the result is a store of that level holding the fixture's rows; it is
# dumped as plain SQL (pg_dump --inserts) and gzipped. The data key stays
# the SQLite fixture's secret.key: nothing is re-sealed. Needs git history,
# go, psql and pg_dump 15. A one-time step when a migration is added, after
# scripts/store-fixtures.sh, not part of make test.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
src=$root/internal/store/sqlite/testdata/upgrade
out=$root/internal/store/postgres/testdata/upgrade

work=$(mktemp -d /tmp/stile-pgfixtures.XXXXXX)
chmod 755 "$work"
tree=""
cleanup() {
  local rc=$?
  set +e
  [ -n "$tree" ] && git worktree remove --force "$tree"
  bash "$root/scripts/pg.sh" stop "$work/pg"
  if [ "$rc" -ne 0 ]; then
    echo "store-fixtures-postgres: failed (exit $rc); logs in $work" >&2
    tail -20 "$work"/*.log >&2 2>/dev/null
  else
    rm -rf "$work"
  fi
  exit "$rc"
}
trap cleanup EXIT
log() { printf 'store-fixtures-postgres: %s\n' "$*" >&2; }

url=$(bash scripts/pg.sh start 15 "$work/pg")
pgport=$(printf '%s' "$url" | sed -E 's#.*@127\.0\.0\.1:([0-9]+)/.*#\1#')
PGPASSWORD=$(printf '%s' "$url" | sed -E 's#^postgres://postgres:([^@]+)@.*#\1#')
export PGPASSWORD PGHOST=127.0.0.1 PGPORT=$pgport PGUSER=postgres
psql() { command psql -X -q -v ON_ERROR_STOP=1 "$@"; }

mkdir -p "$out"
mapfile -t todo < <(bash "$root/scripts/store-fixtures.sh" --levels)
for line in "${todo[@]}"; do
  read -r n commit <<<"$line"
  if [ $# -gt 0 ] && ! printf '%s\n' "$@" | grep -qx "$n"; then continue; fi
  [ -f "$src/$n/stile.db" ] || { log "level $n: no SQLite fixture in $src/$n (scripts/store-fixtures.sh $n)"; exit 1; }
  log "level $n: commit $commit"
  tree=$work/src-$n
  git worktree add --detach "$tree" "$commit" >/dev/null 2>&1
  bin=$work/stile-$n
  (cd "$tree" && go build -o "$bin" ./cmd/stile)
  git worktree remove --force "$tree"
  tree=""
  # A copy: the old code opens it read-write and leaves -wal files.
  mkdir -p "$work/sqlite-$n"
  cp "$src/$n/stile.db" "$work/sqlite-$n/stile.db"
  db=level$n
  psql -d postgres -c "CREATE DATABASE $db"
  # The URL, with its password, in STILE_STORE: never on the command line.
  STILE_STORE=${url%%/postgres\?*}/$db?sslmode=disable \
    "$bin" migrate-store --from "sqlite:$work/sqlite-$n/stile.db" >"$work/migrate-$n.log" 2>&1
  # pg_dump 15.14 and later bracket the dump with psql's \restrict and
  # \unrestrict and a random key (CVE-2025-8714): meta-commands, not SQL.
  # They are dropped, so the file is SQL a test loads over one connection.
  # (-n: no time or name in gzip's header. A dump still differs run to run
  # from 012 on: stile_chain's time is the copy's, and row order is heap
  # order.)
  pg_dump --format=plain --inserts --no-owner --no-privileges --dbname "$db" |
    sed -E '/^\\(un)?restrict /d' | gzip -9 -n >"$out/$n.sql.gz"
  log "level $n: $(du -k "$out/$n.sql.gz" | cut -f1) KB, $(psql -d "$db" -At -c "SELECT count(*) || ' sessions, migrations to ' || max(version) FROM stile_sessions, (SELECT max(version) AS version FROM stile_schema_migrations) v")"
done
du -ch "$out"/*.sql.gz | tail -1
