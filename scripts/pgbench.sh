#!/usr/bin/env bash
# make bench-connect: pgbench select-only through stile versus direct, on a
# throwaway PostgreSQL with the embedded default server.
#
#   CLIENTS=8 SECONDS_EACH=10 RUNS=2 scripts/pgbench.sh
#   PROXY_ENV="GOMAXPROCS=1" scripts/pgbench.sh   # environment of stile's processes
#   PIN=1 scripts/pgbench.sh   # PostgreSQL and pgbench on CPU 0, the proxies on CPU 1
#   PATHS="listener connect" scripts/pgbench.sh   # only these paths
#
# Paths: direct, listener, connect, connect_unix (stile connect --socket),
# bare (scripts/bareproxy), bare2 (two bareproxies in a row: the least any
# two-hop relay costs, the yardstick of stile connect), pgbouncer, and
# listener_guard (the listener once the role has every guardrail on:
# each statement read by PostgreSQL's parser, cached) and listener_mask
# (the listener once the role has masking rules that match nothing and no
# guardrails), always measured last.
#
# Unpinned, the proxies share the machine's cores with PostgreSQL and
# pgbench, which saturate them; pinned, the relay has a core of its own, as
# it does on its own host, and direct runs on the same single core.
# Each path runs as the same resource role (SCRAM upstream): direct with its
# revealed password, through the server's --pg-listen endpoint, and through
# `stile connect`. Two yardsticks for what any proxy hop costs on the same
# cores: scripts/bareproxy (io.Copy both ways, nothing else) and pgbouncer,
# when installed.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$PATH:/usr/local/go/bin"

clients=${CLIENTS:-8}
secs=${SECONDS_EACH:-10}
runs=${RUNS:-2}

work=$(mktemp -d /tmp/stile-pgbench.XXXXXX)
chmod 755 "$work"
cleanup() {
  bash scripts/pg.sh stop "$work/pg" >/dev/null 2>&1 || true
  pkill -f "$work/" 2>/dev/null || true # the server, stile connect, pgbouncer
  wait 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

command -v pgbench >/dev/null || {
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql-contrib >/dev/null
}
url=$(bash scripts/pg.sh start "${PG_VERSION:-15}" "$work/pg")
pgport=$(printf '%s' "$url" | sed -E 's#.*@127\.0\.0\.1:([0-9]+)/.*#\1#')
pgpass=$(printf '%s' "$url" | sed -E 's#^postgres://postgres:([^@]+)@.*#\1#')
db_cpu=() proxy_cpu=()
if [ -n "${PIN:-}" ]; then
  db_cpu=(taskset -c 0) proxy_cpu=(taskset -c 1)
  # Backends forked from now on inherit the postmaster's affinity.
  for pid in $(pgrep -f "$work/pg/data"); do taskset -a -p -c 0 "$pid" >/dev/null; done
fi
PGPASSWORD=$pgpass psql -X -q -h 127.0.0.1 -p "$pgport" -U postgres -d postgres -c "CREATE DATABASE bench"
PGPASSWORD=$pgpass pgbench -q -i -s 10 -h 127.0.0.1 -p "$pgport" -U postgres bench >/dev/null 2>&1

go build -o "$work/stile" ./cmd/stile
go build -o "$work/bareproxy" ./scripts/bareproxy
export STILE_DATA="$work/data"
port=$((20000 + RANDOM % 10000))
pgl=$((30000 + RANDOM % 10000))
export STILE_URL="http://127.0.0.1:$port"
"${proxy_cpu[@]}" env ${PROXY_ENV:-} "$work/stile" server --listen "127.0.0.1:$port" --pg-listen "127.0.0.1:$pgl" >"$work/server.log" 2>&1 &
for _ in $(seq 1 100); do "$work/stile" resources list >/dev/null 2>&1 && break; sleep 0.1; done
s() { "$work/stile" "$@"; }
printf 'name,type,host,port,sslmode\nbench,postgres,127.0.0.1,%s,disable\n' "$pgport" >"$work/inv.csv"
s resources import "$work/inv.csv" >/dev/null
printf '%s\n' "$pgpass" | s resources admin set bench --user postgres --password-stdin >/dev/null
s resources plan bench --role bench --scopes bench.public --privileges SELECT -o "$work/plan.yaml" >/dev/null
sid=$(sed -n 's/^[ -]*sid: //p' "$work/plan.yaml" | head -1)
role=$(sed -n 's/^[ -]*role_name: //p' "$work/plan.yaml" | head -1)
s resources apply bench --sid "$sid" >/dev/null
rolepw=$(s roles reveal "$role")
token=$(cat "$STILE_DATA/admin.token")

cport=$((40000 + RANDOM % 10000))
"${proxy_cpu[@]}" env ${PROXY_ENV:-} "$work/stile" connect "$role" --port "$cport" --database bench >"$work/connect.log" 2>&1 &
# The same, on a Unix socket (stile connect --socket), as psql's default.
"${proxy_cpu[@]}" env ${PROXY_ENV:-} "$work/stile" connect "$role" --socket "$work/sock" --port "$cport" --database bench >"$work/connect-unix.log" 2>&1 &

xport=$((60000 + RANDOM % 5000))
"${proxy_cpu[@]}" "$work/bareproxy" "127.0.0.1:$xport" "127.0.0.1:$pgport" &
# Two bare hops in a row, as stile connect has (its local listener, then
# the server): the least any two-process relay path can cost.
x2port=$((xport + 1))
"${proxy_cpu[@]}" "$work/bareproxy" "127.0.0.1:$x2port" "127.0.0.1:$xport" &
paths=()
for p in ${PATHS:-direct listener connect bare bare2}; do
  [ "$p" = listener_mask ] || [ "$p" = listener_guard ] || paths+=("$p") # measured last, once rules are added
done
if command -v pgbouncer >/dev/null; then
  bport=$((50000 + RANDOM % 10000))
  cat >"$work/pgbouncer.ini" <<INI
[databases]
bench = host=127.0.0.1 port=$pgport dbname=bench
[pgbouncer]
listen_addr = 127.0.0.1
listen_port = $bport
auth_type = plain
auth_file = $work/users.txt
pool_mode = session
unix_socket_dir =
logfile = $work/pgbouncer.log
INI
  printf '"%s" "%s"\n' "$role" "$rolepw" >"$work/users.txt"
  chown -R postgres "$work"
  "${proxy_cpu[@]}" runuser -u postgres -- pgbouncer -q "$work/pgbouncer.ini" >/dev/null 2>&1 &
  [ -n "${PATHS:-}" ] || paths+=(pgbouncer)
fi
sleep 1

bench() { # path -> "tps latency_ms"
  local p=$1 port pw host=127.0.0.1
  case $p in
    direct) port=$pgport pw=$rolepw ;;
    listener | listener_mask | listener_guard) port=$pgl pw=$token ;;
    connect) port=$cport pw= ;;
    connect_unix) port=$cport pw= host=$work/sock ;;
    pgbouncer) port=$bport pw=$rolepw ;;
    bare) port=$xport pw=$rolepw ;;
    bare2) port=$x2port pw=$rolepw ;;
  esac
  PGPASSWORD=$pw PGSSLMODE=disable "${db_cpu[@]}" pgbench -n -S -c "$clients" -j 2 -T "$secs" -h "$host" -p "$port" -U "$role" bench 2>/dev/null |
    awk '/^latency average/ {lat=$4} /^tps/ {tps=$3} END {printf "%.0f %.3f\n", tps, lat}'
}

printf 'pgbench -S, %s clients, -j 2, %ss, scale 10, PostgreSQL %s, %s cores%s\n' "$clients" "$secs" "${PG_VERSION:-15}" "$(nproc)" "${PIN:+, pinned: database and pgbench on CPU 0, proxies on CPU 1}"
printf '%-12s %10s %12s %10s %12s\n' path tps latency_ms vs_direct vs_listener
declare -A best
measure() {
  for _ in $(seq 1 "$runs"); do
    for p in "$@"; do
      read -r tps lat < <(bench "$p")
      if [ -z "${best[$p]:-}" ] || [ "${tps%.*}" -gt "${best[$p]%% *}" ]; then best[$p]="$tps $lat"; fi
    done
  done
}
measure "${paths[@]}"
if [ -z "${PATHS:-}" ] || [[ " ${PATHS} " == *" listener_guard "* ]]; then
  # Every guardrail and read-only: each statement read by PostgreSQL's
  # parser (cached by text, numbers folded).
  s guardrails set "$role" --block ddl,drop,truncate,delete_without_where,update_without_where,merge,copy_program --read-only >/dev/null
  paths+=(listener_guard)
  measure listener_guard
  s guardrails set "$role" >/dev/null
fi
if [ -z "${PATHS:-}" ] || [[ " ${PATHS} " == *" listener_mask "* ]]; then
  # Masking rules that match nothing (a column rule, which makes the
  # filter name every result column, and a detector), on the listener.
  s masking add "$role" --column 'no_such_db.*.*.*' >/dev/null
  s masking add "$role" --detector regex --regex 'no-such-value-[0-9]{40}' >/dev/null
  paths+=(listener_mask)
  measure listener_mask
fi
ratio() { [ -n "${2:-}" ] && [ "$2" -gt 0 ] && echo "$((100 * $1 / $2))%" || echo -; }
d=${best[direct]:-} l=${best[listener]:-}
for p in "${paths[@]}"; do
  read -r tps lat <<<"${best[$p]}"
  printf '%-12s %10s %12s %10s %12s\n' "$p" "$tps" "$lat" "$(ratio "$tps" "${d%% *}")" "$(ratio "$tps" "${l%% *}")"
done
