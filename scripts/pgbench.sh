#!/usr/bin/env bash
# make bench-connect: pgbench select-only through stile versus direct and
# two yardsticks for any proxy hop, on a throwaway PostgreSQL with the
# embedded default server, every path in one run, alternating.
#
#   CLIENTS=8 SECONDS_EACH=10 RUNS=3 scripts/pgbench.sh
#   MODES="simple prepared extended" scripts/pgbench.sh   # pgbench -M, each in turn
#   PROXY_ENV="GOMAXPROCS=1" scripts/pgbench.sh   # environment of stile's processes
#   PIN=1 scripts/pgbench.sh   # PostgreSQL and pgbench on CPU 0, the proxies on CPU 1
#   PATHS="direct bare listener listener_tls" scripts/pgbench.sh   # only these paths
#   PROFILE=FILE scripts/pgbench.sh   # perf profile of the server during one listener run
#   RESULTS=FILE scripts/pgbench.sh   # every run, as "mode phase:round path tps latency_ms proxy_us"
#
# Paths: direct, listener, connect, connect_unix (stile connect --socket),
# listener_tls (the listener with sslmode=require: libpq's default, prefer,
# also ends up on TLS there, as the listener always offers it and the
# throwaway PostgreSQL does not), bare (scripts/bareproxy), bare2 (two
# bareproxies in a row: the least any two-hop relay costs, the yardstick of
# stile connect), pgbouncer, and listener_guard (the listener once the role
# has every guardrail on: each statement read by PostgreSQL's parser,
# cached) and listener_mask (the listener once the role has masking rules
# that match nothing and no guardrails), measured last, alternating with
# bare.
#
# Each mode runs RUNS rounds; a round runs every path once, starting one
# path further each round. The table shows, per path, the median TPS of its
# rounds, their range, the ratio of the medians to bare's, and the median
# of its per-round ratios to bare (each against the bare run of the same
# round: what noise from other work on the machine disturbs least), and
# the CPU time the proxy's processes spent per transaction (proxy_us, from
# /proc/PID/stat: user and system).
#
# Unpinned, the proxies share the machine's cores with PostgreSQL and
# pgbench, which saturate them; pinned, the relay has a core of its own, as
# it does on its own host, and direct runs on the same single core.
# Each path runs as the same resource role (SCRAM upstream): direct with its
# revealed password, through the server's --pg-listen endpoint, and through
# `stile connect`.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$PATH:/usr/local/go/bin"

clients=${CLIENTS:-8}
secs=${SECONDS_EACH:-10}
runs=${RUNS:-3}
modes=${MODES:-simple prepared extended}

work=$(mktemp -d /tmp/stile-pgbench.XXXXXX)
chmod 755 "$work"
pids=()
cleanup() {
  [ -f "$work/pgbouncer.pid" ] && kill "$(cat "$work/pgbouncer.pid")" 2>/dev/null
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  bash scripts/pg.sh stop "$work/pg" >/dev/null 2>&1 || true
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
server=$!
pids+=("$server")
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
connectpid=$!
pids+=($!)
# The same, on a Unix socket (stile connect --socket), as psql's default.
"${proxy_cpu[@]}" env ${PROXY_ENV:-} "$work/stile" connect "$role" --socket "$work/sock" --port "$cport" --database bench >"$work/connect-unix.log" 2>&1 &
connectupid=$!
pids+=($!)

xport=$((60000 + RANDOM % 5000))
"${proxy_cpu[@]}" "$work/bareproxy" "127.0.0.1:$xport" "127.0.0.1:$pgport" &
barepid=$!
pids+=($!)
# Two bare hops in a row, as stile connect has (its local listener, then
# the server): the least any two-process relay path can cost.
x2port=$((xport + 1))
"${proxy_cpu[@]}" "$work/bareproxy" "127.0.0.1:$x2port" "127.0.0.1:$xport" &
bare2pid=$!
pids+=($!)
paths=()
for p in ${PATHS:-direct bare bare2 pgbouncer listener connect}; do
  case $p in
    listener_mask | listener_guard) ;; # measured last, once rules are added
    pgbouncer) command -v pgbouncer >/dev/null && paths+=("$p") ;;
    *) paths+=("$p") ;;
  esac
done
if command -v pgbouncer >/dev/null; then
  # A plain session-mode hop: one server connection per client, no TLS.
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
max_client_conn = 100
default_pool_size = 50
unix_socket_dir =
logfile = $work/pgbouncer.log
pidfile = $work/pgbouncer.pid
INI
  printf '"%s" "%s"\n' "$role" "$rolepw" >"$work/users.txt"
  chown -R postgres "$work"
  "${proxy_cpu[@]}" runuser -u postgres -- pgbouncer -q "$work/pgbouncer.ini" >/dev/null 2>&1 &
fi
sleep 1

# cpu PID...: the CPU time the processes used so far, in clock ticks.
cpu() {
  local t=0 pid f
  for pid in "$@"; do
    read -r -a f 2>/dev/null <"/proc/$pid/stat" || continue # gone
    t=$((t + f[13] + f[14])) # utime, stime (the comm field has no space)
  done
  echo "$t"
}

bench() { # mode path -> "tps latency_ms proxy_cpu_us_per_transaction"
  local m=$1 p=$2 port pw host=127.0.0.1 ssl=disable procs=() c0 c1 out
  case $p in
    direct) port=$pgport pw=$rolepw ;;
    listener | listener_mask | listener_guard) port=$pgl pw=$token procs=("$server") ;;
    listener_tls) port=$pgl pw=$token ssl=require procs=("$server") ;;
    connect) port=$cport pw= procs=("$server" "$connectpid") ;;
    connect_unix) port=$cport pw= host=$work/sock procs=("$server" "$connectupid") ;;
    pgbouncer) port=$bport pw=$rolepw procs=("$(cat "$work/pgbouncer.pid")") ;;
    bare) port=$xport pw=$rolepw procs=("$barepid") ;;
    bare2) port=$x2port pw=$rolepw procs=("$barepid" "$bare2pid") ;;
  esac
  c0=$(cpu "${procs[@]}")
  out=$(PGPASSWORD=$pw PGSSLMODE=$ssl "${db_cpu[@]}" pgbench -n -S -M "$m" -c "$clients" -j 2 -T "$secs" -h "$host" -p "$port" -U "$role" bench 2>"$work/pgbench.err" || true)
  c1=$(cpu "${procs[@]}")
  # A path that does not answer counts 0 and says why.
  grep -q '^tps' <<<"$out" || { echo "$p (-M $m): pgbench failed: $(tail -1 "$work/pgbench.err")" >&2; }
  awk -v ticks=$((c1 - c0)) -v hz="$(getconf CLK_TCK)" '/^number of transactions actually processed/ {n=$NF}
    /^latency average/ {lat=$4} /^tps/ {tps=$3}
    END {printf "%.0f %.3f %.1f\n", tps, lat, (n > 0 ? ticks / hz * 1e6 / n : 0)}' <<<"$out"
}

# measure PHASE MODE PATH...: RUNS rounds of every path, each round starting
# one path further, into $work/results as "mode phase:round path tps lat
# cpu".
measure() {
  local phase=$1 m=$2 r i n tps lat c
  shift 2
  local ps=("$@")
  n=${#ps[@]}
  for r in $(seq 1 "$runs"); do
    for i in $(seq 0 $((n - 1))); do
      p=${ps[$(((i + r - 1) % n))]}
      read -r tps lat c < <(bench "$m" "$p")
      echo "$m $phase:$r $p ${tps:-0} ${lat:-0} ${c:-0}" >>"$work/results"
    done
  done
}

# A first, unrecorded run on every path: connections, caches and the
# server's first use settled before anything is timed.
for p in "${paths[@]}"; do secs=2 bench simple "$p" >/dev/null; done

if [ -n "${PROFILE:-}" ]; then
  # The server's CPU during one listener run (simple protocol), by symbol,
  # kernel included.
  perf record -F 4999 -g -o "$work/perf.data" -p "$server" -- sleep "$secs" >/dev/null 2>&1 &
  perfpid=$!
  bench simple listener >/dev/null
  wait "$perfpid" || true
  {
    echo "# perf: the server during pgbench -S -c $clients through the listener, self time"
    perf report -i "$work/perf.data" --no-children --sort symbol --stdio 2>/dev/null | grep -E '^ +[0-9.]+%' | head -40 || true
    echo "# the same, with callees (children)"
    perf report -i "$work/perf.data" --children --sort symbol --stdio -g none 2>/dev/null | grep -E '^ +[0-9.]+%' | head -40 || true
  } >"$PROFILE"
fi

for m in $modes; do measure main "$m" "${paths[@]}"; done
extra=()
if [ -z "${PATHS:-}" ] || [[ " ${PATHS} " == *" listener_guard "* ]]; then
  # Every guardrail and read-only: each statement read by PostgreSQL's
  # parser (cached by text, numbers folded).
  s guardrails set "$role" --block ddl,drop,truncate,delete_without_where,update_without_where,merge,copy_program --read-only >/dev/null
  for m in $modes; do measure guard "$m" bare listener_guard; done
  extra+=(listener_guard)
  s guardrails set "$role" >/dev/null
fi
if [ -z "${PATHS:-}" ] || [[ " ${PATHS} " == *" listener_mask "* ]]; then
  # Masking rules that match nothing (a column rule, which makes the
  # filter name every result column, and a detector), on the listener.
  s masking add "$role" --column 'no_such_db.*.*.*' >/dev/null
  s masking add "$role" --detector regex --regex 'no-such-value-[0-9]{40}' >/dev/null
  for m in $modes; do measure mask "$m" bare listener_mask; done
  extra+=(listener_mask)
fi

median() { sort -n | awk '{v[NR] = $1} END {if (NR == 0) print 0; else if (NR % 2) print v[(NR + 1) / 2]; else print (v[NR / 2] + v[NR / 2 + 1]) / 2}'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN {if (b > 0) printf "%.2f", a / b; else print "-"}'; }
res=$work/results
[ -z "${RESULTS:-}" ] || cp "$res" "$RESULTS"
printf 'pgbench -S -c %s -j 2 -T %s, scale 10, PostgreSQL %s, %s cores, %s rounds per mode%s\n' "$clients" "$secs" "${PG_VERSION:-15}" "$(nproc)" "$runs" "${PIN:+, pinned: database and pgbench on CPU 0, proxies on CPU 1}"
echo "medians over the rounds; vs_bare_rounds: the median of each run's ratio to the bare run of its round;"
echo "proxy_us: CPU time of the proxy's processes per transaction (user + system, microseconds)"
for m in $modes; do
  printf '\n-M %s\n%-15s %8s %13s %10s %8s %14s %9s %9s %13s\n' "$m" path tps tps_range latency_ms vs_bare vs_bare_rounds vs_direct proxy_us proxy_vs_bare
  # bare also runs beside listener_guard and listener_mask: its row is its
  # main rounds.
  runs_of() { awk -v m="$m" -v p="$1" -v f="$2" '$1 == m && $3 == p && (p != "bare" || $2 ~ /^main:/) {print $f}' "$res"; }
  bare=$(runs_of bare 4 | median) direct=$(runs_of direct 4 | median) barecpu=$(runs_of bare 6 | median)
  for p in "${paths[@]}" "${extra[@]}"; do
    tps=$(runs_of "$p" 4 | median)
    range=$(runs_of "$p" 4 | sort -n | awk 'NR == 1 {lo = $1} {hi = $1} END {print lo "-" hi}')
    lat=$(runs_of "$p" 5 | median)
    c=$(runs_of "$p" 6 | median)
    # Each run against the bare run of its round.
    rounds=$(awk -v m="$m" -v p="$p" '$1 == m && $3 == "bare" {b[$2] = $4} $1 == m && $3 == p {t[$2] = $4}
      END {for (k in t) if (b[k] > 0) printf "%.4f\n", t[k] / b[k]}' "$res" | median)
    printf '%-15s %8.0f %13s %10.3f %8s %14.2f %9s %9.1f %13s\n' "$p" "$tps" "$range" "$lat" "$(ratio "$tps" "$bare")" "$rounds" "$(ratio "$tps" "$direct")" "$c" "$(ratio "$c" "$barecpu")"
  done
done
