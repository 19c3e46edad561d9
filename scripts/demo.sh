#!/usr/bin/env bash
# make demo: the reference's whole CLI flow against a throwaway local
# PostgreSQL, on the embedded default (SQLite store, built-in agent).
#
# Every listener binds port 0 and the demo reads the address it got from
# what stile prints: no port is guessed. When a step fails the demo says
# which and keeps its logs; it always stops what it started.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
export PATH="$PATH:/usr/local/go/bin"

work=$(mktemp -d /tmp/stile-demo.XXXXXX)
chmod 755 "$work"
echo "stile demo: work dir $work"
server_pid=""
connect_pid=""
current="Start"
cleanup() {
  local rc=$?
  set +e
  [ -n "$connect_pid" ] && kill "$connect_pid" 2>/dev/null && wait "$connect_pid" 2>/dev/null
  [ -n "$server_pid" ] && kill "$server_pid" 2>/dev/null && wait "$server_pid" 2>/dev/null
  if [ -f "$work/pg/log" ]; then cp "$work/pg/log" "$work/postgres.log"; fi
  # Absolute: the demo runs in its work dir, where scripts/ is not.
  if ! bash "$root/scripts/pg.sh" stop "$work/pg"; then
    echo "stile demo: could not stop PostgreSQL in $work/pg" >&2
    [ "$rc" -eq 0 ] && rc=1
  fi
  if [ "$rc" -ne 0 ]; then
    printf '\nstile demo: demo failed at step "%s" (exit %d); its logs are in %s\n' "$current" "$rc" "$work" >&2
    for f in "$work"/server.log "$work"/connect.log "$work"/postgres.log; do
      [ -s "$f" ] && { printf -- '--- %s (last lines)\n' "$f" >&2; tail -20 "$f" >&2; }
    done
  else
    rm -rf "$work"
  fi
  exit "$rc"
}
trap cleanup EXIT

step() { current="$*"; printf '\n\033[1m==> %s\033[0m\n' "$*"; }
run() { printf '$ %s\n' "$*"; "$@"; }

# wait_for FILE PATTERN PID: the first match of the sed -E PATTERN's first
# group in FILE, once the process PID wrote it (10 s at most).
wait_for() {
  local file=$1 pattern=$2 pid=$3 got
  for _ in $(seq 1 100); do
    got=$(sed -n -E "s#${pattern}#\1#p" "$file" 2>/dev/null | head -1)
    if [ -n "$got" ]; then printf '%s' "$got"; return; fi
    kill -0 "$pid" 2>/dev/null || { echo "stile demo: the process exited:" >&2; cat "$file" >&2; return 1; }
    sleep 0.1
  done
  echo "stile demo: no address in $file after 10 s:" >&2
  cat "$file" >&2
  return 1
}

step "Start a throwaway PostgreSQL"
url=$(bash scripts/pg.sh start "${PG_VERSION:-15}" "$work/pg")
pgport=$(printf '%s' "$url" | sed -E 's#.*@127\.0\.0\.1:([0-9]+)/.*#\1#')
pgpass=$(printf '%s' "$url" | sed -E 's#^postgres://postgres:([^@]+)@.*#\1#')
echo "PostgreSQL on 127.0.0.1:$pgport"

step "Create the reference's databases: analytics, app, legacy, marketplace"
export PGPASSWORD="$pgpass"
psql_do() { psql -X -q -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$pgport" -U postgres "$@"; }
for db in analytics app legacy marketplace; do psql_do -d postgres -c "CREATE DATABASE $db"; done
psql_do -d analytics -c "CREATE TABLE events (id bigserial PRIMARY KEY, kind text, at timestamptz DEFAULT now())"
psql_do -d analytics -c "CREATE SCHEMA reporting; CREATE TABLE reporting.daily (day date PRIMARY KEY, events int)"
psql_do -d app -c "CREATE TABLE users (id serial PRIMARY KEY, email text); CREATE TABLE orders (id serial PRIMARY KEY, user_id int); CREATE TABLE items (id serial PRIMARY KEY); CREATE VIEW order_count AS SELECT count(*) FROM orders"
psql_do -d legacy -c "CREATE TABLE archive (id int, payload text)"
psql_do -d marketplace -c "CREATE TABLE listings (id serial PRIMARY KEY, title text)"
unset PGPASSWORD

step "Build stile and start the server (embedded SQLite store, built-in agent)"
run go build -o "$work/stile" ./cmd/stile
export STILE_DATA="$work/data"
"$work/stile" server --listen 127.0.0.1:0 >"$work/server.log" 2>&1 &
server_pid=$!
STILE_URL=$(wait_for "$work/server.log" '.*stile: serving on (http://[0-9.:]+) .*' "$server_pid")
export STILE_URL
"$work/stile" resources list >/dev/null
cat "$work/server.log"
stile() { printf '$ stile %s\n' "$*"; "$work/stile" "$@"; }
cd "$work"

step "Step 1: build the inventory (preview, then import)"
cat >inventory.csv <<CSV
name,type,host,port
analytics,PostgreSQL,127.0.0.1,$pgport
marketplace,PostgreSQL,127.0.0.1,$pgport
CSV
cat inventory.csv
stile resources import inventory.csv --dry-run
stile resources import inventory.csv
stile resources list

step "Step 2: admin accounts (validated before they are stored)"
printf 'wrong\n' | stile resources admin set analytics --user postgres --password-stdin || echo "(refused, as it should be: nothing stored)"
printf '%s\n' "$pgpass" | stile resources admin set analytics --user postgres --password-stdin
printf 'name,admin_user,password\nmarketplace,postgres,%s\n' "$pgpass" >admins.csv
stile resources admin import admins.csv
stile resources list

step "Health"
stile resources health analytics

step "Step 3: plan one role"
stile resources plan analytics --role ro --scopes analytics.public,legacy,app --privileges SELECT -o single.yaml
sid=$(sed -n 's/^[ -]*sid: //p' single.yaml | head -1)

step "Apply it by sid"
stile resources apply analytics --sid "$sid"

step "Plan a batch from the reference's plan.yaml"
cat >plan.yaml <<'YAML'
items:
  - resource_name: analytics
    type: managed
    role: ro
    scopes: [analytics.public, legacy, app]
    privileges: [SELECT]
  - resource_name: analytics
    type: managed
    role: rw
    scopes: [analytics]
    privileges: [SELECT, INSERT, UPDATE]
  - resource_name: marketplace
    type: external
    role: ro
    source_role: pg_read_all_data
YAML
stile resources plan -f plan.yaml -o result.yaml
cat result.yaml

step "Apply the batch (in-sync entries are skipped)"
stile resources apply -f result.yaml

step "Re-plan: everything is in sync (--detailed-exitcode: 0)"
stile resources plan -f plan.yaml --detailed-exitcode

step "Drift by hand, then re-plan shows exactly it"
PGPASSWORD="$pgpass" psql -X -q -h 127.0.0.1 -p "$pgport" -U postgres -d app -c "CREATE TABLE audit (id int); GRANT DELETE ON users TO $(sed -n 's/^[ -]*role_name: //p' single.yaml | head -1)"
set +e
stile resources plan analytics --role ro --scopes analytics.public,legacy,app --privileges SELECT --detailed-exitcode >drift.yaml
echo "exit code: $? (2 = changes pending)"
set -e
sed -n '/^sql_plan:/,/^sql_plan_checksum:/p' drift.yaml

step "Step 5: use the roles: a person connects through stile, never seeing the password"
stile roles list
ro=$(sed -n 's/^[ -]*role_name: //p' single.yaml | head -1)
stile users create ana
ana=$("$work/stile" tokens create ana | tail -1)
echo "(ana's token, shown once, goes to ana)"
stile groups create analysts
stile groups add analysts ana
stile access grant "$ro" --group analysts
echo "# as ana: she sees only the role her group holds"
STILE_TOKEN=$ana "$work/stile" roles list
printf '$ STILE_TOKEN=… stile connect %s --port 0 --database app &\n' "$ro"
STILE_TOKEN=$ana "$work/stile" connect "$ro" --port 0 --database app >connect.log 2>&1 &
connect_pid=$!
cport=$(wait_for connect.log '^connect to .* at 127\.0\.0\.1:([0-9]+) .*' "$connect_pid")
cat connect.log
run psql -X -h 127.0.0.1 -p "$cport" -d app -c "SELECT current_user, count(*) AS users FROM users"
run psql -X -h 127.0.0.1 -p "$cport" -d app -c "INSERT INTO users (email) VALUES ('x@example.com')" || echo "(refused, as it should be: the role only reads)"
kill "$connect_pid" && wait "$connect_pid" 2>/dev/null || true
connect_pid=""
sleep 0.2
stile sessions list --kind connect
stile sessions list --kind access

step "The audit trail"
stile sessions list --limit 20
stile sessions show "$sid" | head -40

step "Done"
