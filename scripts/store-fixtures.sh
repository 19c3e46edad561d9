#!/usr/bin/env bash
# The upgrade test's fixtures (internal/store/sqlite/testdata/upgrade/NNN):
# for each migration level, a store written by the code of that level.
#
#   bash scripts/store-fixtures.sh [NNN...]   # default: every level
#   bash scripts/store-fixtures.sh --levels   # the levels and their commits
#
# A level is a commit that added migrations, named by the highest one it
# added (001-009 came in one commit: level 009). For each, the commit is
# checked out in a temporary worktree and built; its own server runs on a
# fresh data directory and its own CLI drives it against a throwaway
# PostgreSQL (scripts/pg.sh, so run as root): a resource with an admin
# account, two roles planned and applied, a user, a group and a grant, a
# connection through stile connect, and what later levels add where it is
# cheap (masking rules, guardrails, a request, a rotation, a campaign). The
# server is stopped with SIGTERM; its store, VACUUMed, and the data key it
# made go to the fixture directory. Needs git history, go, psql, sqlite3.
# A one-time step when a migration is added, not part of make test.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
out=$root/internal/store/sqlite/testdata/upgrade
mig=internal/store/sqldb/migrations

# Levels whose migration was edited after the commit that added it: the
# fixture is made where the migration took its final form. 015 gained
# web_sessions.not_after in deef715, the commit right after 0850510 added
# it; a store of 0850510 itself lacks that column and no later migration
# adds it (see testdata/upgrade/README.txt).
declare -A final=([015]=deef715)

# levels prints "NNN COMMIT" for every commit that added migrations.
levels() {
  declare -A top=()
  local f n c
  for f in "$mig"/[0-9][0-9][0-9]_*.sql; do
    n=$(basename "$f")
    n=${n%%_*}
    c=$(git log --diff-filter=A --format=%h -- "$f" | tail -1)
    if [ -z "${top[$c]:-}" ] || [ "$n" \> "${top[$c]}" ]; then top[$c]=$n; fi
  done
  for c in "${!top[@]}"; do echo "${top[$c]} ${final[${top[$c]}]:-$c}"; done | sort
}
# --levels: print them and stop (scripts/store-fixtures-postgres.sh reads them).
if [ "${1:-}" = --levels ]; then
  levels
  exit
fi

work=$(mktemp -d /tmp/stile-fixtures.XXXXXX)
chmod 755 "$work"
server_pid="" connect_pid="" tree=""
cleanup() {
  local rc=$?
  set +e
  [ -n "$connect_pid" ] && kill "$connect_pid" 2>/dev/null && wait "$connect_pid" 2>/dev/null
  [ -n "$server_pid" ] && kill "$server_pid" 2>/dev/null && wait "$server_pid" 2>/dev/null
  [ -n "$tree" ] && git worktree remove --force "$tree"
  bash "$root/scripts/pg.sh" stop "$work/pg"
  if [ "$rc" -ne 0 ]; then
    echo "store-fixtures: failed (exit $rc); logs in $work" >&2
    tail -20 "$work"/server.log "$work"/drive.log >&2 2>/dev/null
  else
    rm -rf "$work"
  fi
  exit "$rc"
}
trap cleanup EXIT
log() { printf 'store-fixtures: %s\n' "$*" >&2; }

free_port() { # a loopback port nobody listens on (old servers need one given)
  local port
  while :; do
    port=$((20000 + RANDOM % 20000))
    (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null || { echo "$port"; return; }
  done
}

url=$(bash scripts/pg.sh start 15 "$work/pg")
pgport=$(printf '%s' "$url" | sed -E 's#.*@127\.0\.0\.1:([0-9]+)/.*#\1#')
pgpass=$(printf '%s' "$url" | sed -E 's#^postgres://postgres:([^@]+)@.*#\1#')
PGPASSWORD=$pgpass psql -X -q -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$pgport" -U postgres -d postgres \
  -c "CREATE DATABASE app" >/dev/null
PGPASSWORD=$pgpass psql -X -q -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$pgport" -U postgres -d app \
  -c "CREATE TABLE users (id serial PRIMARY KEY, email text, ssn text); INSERT INTO users (email, ssn) VALUES ('ann@example.com', '123-45-6789')" >/dev/null

# has CMD... SUB: whether this level's CLI has the subcommand SUB of CMD.
has() {
  local sub=${*: -1}
  "$bin" "${@:1:$#-1}" --help 2>/dev/null | grep -qE "^  $sub( |$)"
}

# drive makes the level's rows: resource shop$n (one per level, so each
# level's roles are its own in the shared cluster).
drive() {
  local n=$1 res=shop$1 ro rw sid tok cport id
  stile() { "$bin" "$@"; }
  printf 'name,type,host,port\n%s,PostgreSQL,127.0.0.1,%s\n' "$res" "$pgport" >"$work/inventory.csv"
  stile resources import "$work/inventory.csv"
  printf '%s\n' "$pgpass" | stile resources admin set "$res" --user postgres --password-stdin
  stile resources health "$res"
  stile resources plan "$res" --role ro --scopes app.public --privileges SELECT -o "$work/ro.yaml"
  sid=$(sed -n 's/^[ -]*sid: //p' "$work/ro.yaml" | head -1)
  ro=$(sed -n 's/^[ -]*role_name: //p' "$work/ro.yaml" | head -1)
  stile resources apply "$res" --sid "$sid"
  stile resources plan "$res" --role rw --scopes app --privileges SELECT,INSERT -o "$work/rw.yaml"
  sid=$(sed -n 's/^[ -]*sid: //p' "$work/rw.yaml" | head -1)
  rw=$(sed -n 's/^[ -]*role_name: //p' "$work/rw.yaml" | head -1)
  stile resources apply "$res" --sid "$sid"
  stile users create ann
  tok=$(stile tokens create ann | tail -1)
  stile groups create analysts
  stile groups add analysts ann
  stile access grant "$ro" --group analysts
  if has masking add; then
    stile masking add "$ro" --column 'app.public.users.email' --style partial
  fi
  if has guardrails set; then stile guardrails set "$rw" --block ddl,truncate; fi
  if "$bin" masking add --help 2>/dev/null | grep -q -- --strict; then
    stile masking add "$ro" --column 'app.public.users.ssn' --strict
    stile resources plan "$res" --role ro --scopes app.public --privileges SELECT -o "$work/ro2.yaml"
    sid=$(sed -n 's/^[ -]*sid: //p' "$work/ro2.yaml" | head -1)
    stile resources apply "$res" --sid "$sid"
  fi
  # A connection as ann: connect and access sessions (and usage, 013 on).
  cport=$(free_port)
  STILE_TOKEN=$tok "$bin" connect "$ro" --port "$cport" --database app >"$work/connect.log" 2>&1 &
  connect_pid=$!
  for _ in $(seq 1 100); do
    psql -X -q -h 127.0.0.1 -p "$cport" -d app -c "SELECT email FROM users" >/dev/null 2>&1 && break
    sleep 0.1
  done
  psql -X -h 127.0.0.1 -p "$cport" -d app -c "SELECT email FROM users"
  kill "$connect_pid" && wait "$connect_pid" 2>/dev/null || true
  connect_pid=""
  if has access request; then # 020's store, 021's CLI: an approved window
    stile access grant "$rw" --group analysts --eligible
    STILE_TOKEN=$tok "$bin" access request "$rw" --for 2h --reason INC-1
    id=$(stile requests list -o json | sed -n -E 's/.*"id": *"([^"]+)".*/\1/p' | head -1)
    stile requests approve "$id" --reason confirmed
  fi
  if has roles rotate; then stile roles rotate "$rw"; fi
  if has review start; then stile review start --due 14d; fi
  stile sessions list --limit 100
}

mapfile -t todo < <(levels)
for line in "${todo[@]}"; do
  read -r n commit <<<"$line"
  if [ $# -gt 0 ] && ! printf '%s\n' "$@" | grep -qx "$n"; then continue; fi
  log "level $n: commit $commit"
  tree=$work/src-$n
  git worktree add --detach "$tree" "$commit" >/dev/null 2>&1
  bin=$work/stile-$n
  (cd "$tree" && go build -o "$bin" ./cmd/stile)
  export STILE_DATA=$work/data-$n STILE_URL
  unset STILE_SECRET_KEY STILE_TOKEN STILE_STORE
  port=$(free_port)
  STILE_URL=http://127.0.0.1:$port
  "$bin" server --listen "127.0.0.1:$port" >"$work/server.log" 2>&1 &
  server_pid=$!
  for _ in $(seq 1 100); do "$bin" resources list >/dev/null 2>&1 && break; sleep 0.1; done
  drive "$n" >"$work/drive.log" 2>&1
  kill -TERM "$server_pid"
  wait "$server_pid"
  server_pid=""
  git worktree remove --force "$tree"
  tree=""
  rm -rf "${out:?}/$n"
  mkdir -p "$out/$n"
  # A copy in one file (the server's WAL checkpointed into it), then
  # VACUUMed again with 1 KiB pages (a third of the size, the same rows),
  # left in rollback-journal mode: reading it makes no -wal file beside
  # it, and the store's Open puts its copy in WAL mode.
  sqlite3 "$STILE_DATA/stile.db" "VACUUM INTO '$out/$n/stile.db'"
  sqlite3 "$out/$n/stile.db" "PRAGMA journal_mode=DELETE; PRAGMA page_size=1024; VACUUM" >/dev/null
  cp "$STILE_DATA/secret.key" "$out/$n/secret.key"
  chmod 600 "$out/$n/stile.db" "$out/$n/secret.key"
  log "level $n: $(du -k "$out/$n/stile.db" | cut -f1) KB, sessions $(sqlite3 "$out/$n/stile.db" "SELECT group_concat(kind || ' ' || n, ', ') FROM (SELECT kind, count(*) AS n FROM sessions GROUP BY kind)")"
done
du -sh "$out"
