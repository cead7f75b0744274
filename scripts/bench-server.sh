#!/usr/bin/env bash
# Activations and heartbeats per second against release tessera-server
# instances on loopback, in one sitting, on each storage setup:
#   sqlite  one instance on a fresh SQLite file;
#   pg      one instance on PostgreSQL (a throwaway cluster, scripts/pg.sh,
#           with PostgreSQL's default durability: fsync at every commit);
#   pg2     two instances on one PostgreSQL database, the clients split
#           between them as behind a load balancer.
# Then a table of heartbeats/s and p99 at 128 clients, and the p99 of
# 5,000 heartbeats/s offered (server/examples/load.rs says how).
#   scripts/bench-server.sh [--seconds S] [--requests N] [--licenses K]
#                           [--setups "sqlite pg pg2"] [--baseline BINARY]
# --licenses (default 16) spreads the devices over K floating licenses.
# BENCH_PG_OPTIONS passes `-c name=value` settings to the cluster.
# --baseline adds the setup `base` first: another build of tessera-server
# (an earlier commit's, say) on SQLite, to compare within the sitting.
# --quick: the test command's smoke run, so the script cannot rot: the
# debug build it already has, one second a phase, sqlite and pg; its
# figures measure nothing.
set -euo pipefail
cd "$(dirname "$0")/.."

seconds=10 requests=20000 licenses=16 setups="sqlite pg pg2" baseline= profile=release
while [ $# -gt 0 ]; do
    case "$1" in
    --seconds) seconds=$2; shift 2 ;;
    --requests) requests=$2; shift 2 ;;
    --licenses) licenses=$2; shift 2 ;;
    --setups) setups=$2; shift 2 ;;
    --baseline) baseline=$2; setups="base $setups"; shift 2 ;;
    --quick) profile=debug seconds=1 requests=300 setups="sqlite pg"; shift ;;
    *) echo "usage: scripts/bench-server.sh [--seconds S] [--requests N] [--licenses K] [--setups LIST] [--baseline BINARY] [--quick]" >&2; exit 2 ;;
    esac
done

if [ "$profile" = release ]; then
    cargo build --quiet --release -p tessera-server -p tessera-cli --bins
    cargo build --quiet --release -p tessera-server --example load
else
    cargo build --quiet -p tessera-server -p tessera-cli --bins
    cargo build --quiet -p tessera-server --example load
fi
work=$(mktemp -d)
pids=()
pg=
cleanup() {
    for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
    [ -z "$pg" ] || scripts/pg.sh stop "$pg"
    rm -rf "$work"
}
trap cleanup EXIT
chmod 755 "$work"
target/$profile/tessera keygen --out-dir "$work" --name server >/dev/null
token=bench-only-admin-token-$RANDOM$RANDOM

# start NAME DATABASE: starts an instance; its URL is added to $urls.
start() {
    local log="$work/$1.log"
    TESSERA_SERVER_LISTEN=127.0.0.1:0 TESSERA_SERVER_INSECURE_HTTP=1 \
    TESSERA_SERVER_DATABASE="$2" TESSERA_SERVER_SIGNING_KEY="$work/server.key" \
    TESSERA_ADMIN_TOKEN="$token" "${server:-target/$profile/tessera-server}" >/dev/null 2>"$log" &
    pids+=($!)
    for _ in $(seq 100); do grep -q "listening on" "$log" 2>/dev/null && break; sleep 0.1; done
    local url
    url=$(grep -o 'http://[0-9.:]*' "$log" | head -1)
    [ -n "$url" ] || { cat "$log" >&2; exit 1; }
    urls=${urls:+$urls,}$url
}

# stop_all: stops every instance started so far.
stop_all() {
    for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; wait "$p" 2>/dev/null || true; done
    pids=()
}

# pg_database NAME: a fresh PostgreSQL database, its URL in $db.
pg_database() {
    if [ -z "$pg" ]; then
        pg="$work/pg"
        # shellcheck disable=SC2086 # options, one word each
        pg_url=$(scripts/pg.sh start "$pg" ${BENCH_PG_OPTIONS:-})
    fi
    psql -q "$pg_url" -c "CREATE DATABASE bench_$1" >/dev/null
    db="${pg_url%/*}/bench_$1"
}

summary=()
for setup in $setups; do
    urls=
    case "$setup" in
    base) server=$baseline start base "$work/base.db" ;;
    sqlite) start sqlite "$work/tessera.db" ;;
    pg) pg_database one && start pg "$db" ;;
    pg2) pg_database two && start pg2-a "$db" && start pg2-b "$db" ;;
    *) echo "unknown setup $setup (base, sqlite, pg, pg2)" >&2; exit 2 ;;
    esac
    echo
    echo "== $setup: $urls, $(nproc) cores, $licenses licenses"
    target/$profile/examples/load "$urls" "$token" --seconds "$seconds" --requests "$requests" \
        --licenses "$licenses" | tee "$work/$setup.out"
    [ "$setup" != sqlite ] || echo "write-ahead log after the run: $(( $(stat -c %s "$work/tessera.db-wal" 2>/dev/null || echo 0) / 1048576 )) MiB"
    stop_all
    closed=$(grep -E '^heartbeats +clients 128 ' "$work/$setup.out" | grep -v offered | head -1)
    paced=$(grep -E '^heartbeats +clients 128 .*offered' "$work/$setup.out" | head -1)
    rate=$(echo "$closed" | grep -oE '[0-9]+/s' | head -1)
    p99=$(echo "$closed" | grep -oE 'p99 +[0-9.]+ ms' | grep -oE '[0-9.]+ ms')
    errors=$(echo "$closed" | grep -oE 'errors +[0-9]+' | grep -oE '[0-9]+')
    paced99=$(echo "$paced" | grep -oE 'p99 +[0-9.]+ ms' | grep -oE '[0-9.]+ ms')
    paced_errors=$(echo "$paced" | grep -oE 'errors +[0-9]+' | grep -oE '[0-9]+')
    summary+=("$(printf '| %-6s | %12s | %9s | %6s | %14s | %6s |' "$setup" "$rate" "$p99" "$errors" "$paced99" "$paced_errors")")
done

echo
echo "heartbeats at 128 clients ($licenses licenses, $(nproc) cores):"
echo "| setup  | closed loop  | p99       | errors | 5,000/s p99    | errors |"
echo "|--------|--------------|-----------|--------|----------------|--------|"
printf '%s\n' "${summary[@]}"
