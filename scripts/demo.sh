#!/usr/bin/env bash
# make demo: the reference's whole CLI flow against a throwaway local
# PostgreSQL, on the embedded default (SQLite store, built-in agent).
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$PATH:/usr/local/go/bin"

work=$(mktemp -d /tmp/stile-demo.XXXXXX)
chmod 755 "$work"
server_pid=""
connect_pid=""
cleanup() {
  [ -n "$connect_pid" ] && kill "$connect_pid" 2>/dev/null || true
  [ -n "$server_pid" ] && kill "$server_pid" 2>/dev/null && wait "$server_pid" 2>/dev/null || true
  bash scripts/pg.sh stop "$work/pg" >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT

step() { printf '\n\033[1m==> %s\033[0m\n' "$*"; }
run() { printf '$ %s\n' "$*"; "$@"; }

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
port=$((20000 + RANDOM % 20000))
export STILE_URL="http://127.0.0.1:$port"
"$work/stile" server --listen "127.0.0.1:$port" >"$work/server.log" 2>&1 &
server_pid=$!
for _ in $(seq 1 100); do
  "$work/stile" resources list >/dev/null 2>&1 && break
  sleep 0.1
done
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
cport=$((40000 + RANDOM % 10000))
printf '$ STILE_TOKEN=… stile connect %s --port %s --database app &\n' "$ro" "$cport"
STILE_TOKEN=$ana "$work/stile" connect "$ro" --port "$cport" --database app >connect.log 2>&1 &
connect_pid=$!
for _ in $(seq 1 50); do psql -X -q -h 127.0.0.1 -p "$cport" -d app -c "SELECT 1" >/dev/null 2>&1 && break; sleep 0.1; done
run psql -X -h 127.0.0.1 -p "$cport" -d app -c "SELECT current_user, count(*) AS users FROM users"
run psql -X -h 127.0.0.1 -p "$cport" -d app -c "INSERT INTO users (email) VALUES ('x@example.com')" || echo "(refused, as it should be: the role only reads)"
kill "$connect_pid" && wait "$connect_pid" 2>/dev/null || true
sleep 0.2
stile sessions list --kind connect
stile sessions list --kind access

step "The audit trail"
stile sessions list --limit 20
stile sessions show "$sid" | head -40

step "Done"
