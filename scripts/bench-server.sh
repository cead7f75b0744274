#!/usr/bin/env bash
# Activations and heartbeats per second against a release tessera-server on
# loopback, with a fresh SQLite file in a temporary directory:
#   scripts/bench-server.sh [--requests N] [--seconds S]
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --quiet --release -p tessera-server -p tessera-cli --bins
cargo build --quiet --release -p tessera-server --example load
work=$(mktemp -d)
pid=
trap 'kill "$pid" 2>/dev/null || true; rm -rf "$work"' EXIT
target/release/tessera keygen --out-dir "$work" --name server >/dev/null
token=bench-only-admin-token-$RANDOM$RANDOM
TESSERA_SERVER_LISTEN=127.0.0.1:0 TESSERA_SERVER_INSECURE_HTTP=1 \
TESSERA_SERVER_DATABASE="$work/tessera.db" TESSERA_SERVER_SIGNING_KEY="$work/server.key" \
TESSERA_ADMIN_TOKEN="$token" target/release/tessera-server 2>"$work/server.log" &
pid=$!
for _ in $(seq 50); do grep -q "listening on" "$work/server.log" 2>/dev/null && break; sleep 0.1; done
url=$(grep -o 'http://[0-9.:]*' "$work/server.log" | head -1)
echo "server $url (pid $pid), $(nproc) cores"
target/release/examples/load "$url" "$token" "$@"
echo "write-ahead log after the run: $(( $(stat -c %s "$work/tessera.db-wal" 2>/dev/null || echo 0) / 1048576 )) MiB"
