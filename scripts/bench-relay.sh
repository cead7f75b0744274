#!/usr/bin/env bash
# The relay under load, beside tessera-server in the same sitting
# (docs/RELAY.md, "Measured"):
#   - tessera-server on SQLite: 128 clients' heartbeats in a closed loop
#     (server/examples/load.rs --heartbeats-only), with each device's
#     proof as the SDK sends it (the baseline: the relay checks them
#     too), then without;
#   - tessera-relay on a delegation of 2,000 seats: 500 clients taking a
#     seat one after another (p50, p99 of a grant), 128 clients'
#     heartbeats in a closed loop, 500 more asking at once, then 1,000
#     leases held and the relay's resident memory
#     (relay/examples/relay_load.rs).
#   scripts/bench-relay.sh [--seconds S] [--quick]
# --quick: the test command's smoke run, so the script cannot rot: the
# debug build it already has, one second a phase, 100 grants, 200 leases;
# its figures measure nothing.
set -euo pipefail
cd "$(dirname "$0")/.."

seconds=10 grants=500 hold=1000 profile=release
while [ $# -gt 0 ]; do
    case "$1" in
    --seconds) seconds=$2; shift 2 ;;
    --quick) profile=debug seconds=1 grants=100 hold=200; shift ;;
    *) echo "usage: scripts/bench-relay.sh [--seconds S] [--quick]" >&2; exit 2 ;;
    esac
done
flag=; [ "$profile" = release ] && flag=--release
cargo build --quiet $flag -p tessera-server -p tessera-cli -p tessera-relay --bins
cargo build --quiet $flag -p tessera-server --example load
cargo build --quiet $flag -p tessera-relay --example relay_load
bin=target/$profile
work=$(mktemp -d)
pids=()
cleanup() {
    for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
    rm -rf "$work"
}
trap cleanup EXIT

"$bin/tessera" keygen --out-dir "$work" --name server >/dev/null
token=bench-only-admin-token-$RANDOM$RANDOM
# server NAME FLAGS...: a fresh tessera-server on SQLite, 128 clients'
# heartbeats against it, the output in $work/NAME.out.
server() {
    local name=$1 log="$work/$1.log"
    shift
    echo "== tessera-server on SQLite, $name ($(nproc) cores)"
    TESSERA_SERVER_LISTEN=127.0.0.1:0 TESSERA_SERVER_INSECURE_HTTP=1 \
    TESSERA_SERVER_DATABASE="$work/$name.db" TESSERA_SERVER_SIGNING_KEY="$work/server.key" \
    TESSERA_ADMIN_TOKEN="$token" "$bin/tessera-server" >/dev/null 2>"$log" &
    pids+=($!)
    for _ in $(seq 100); do grep -q "listening on" "$log" 2>/dev/null && break; sleep 0.1; done
    local url
    url=$(grep -o 'http://[0-9.:]*' "$log" | head -1)
    [ -n "$url" ] || { cat "$log" >&2; exit 1; }
    "$bin/examples/load" "$url" "$token" --heartbeats-only --seconds "$seconds" --requests 10000000 "$@" |
        tee "$work/$name.out"
    kill "${pids[0]}"; wait "${pids[0]}" 2>/dev/null || true; pids=()
}
# As the SDK calls it (each device's proof verified), then without proofs.
server proofs --device-proofs
server bare

echo
echo "== tessera-relay, a delegation of 2,000 seats"
"$bin/tessera" keygen --out-dir "$work" --name vendor >/dev/null
printf '{"id":"L-POOL","license_key":"BENCH-ONLY-POOL","license_type":"perpetual","is_floating":true,"floating_users":2000,"floating_timeout":60,"product_details":{"short_code":"load"}}' |
    "$bin/tessera" issue --key "$work/vendor.key" --spec - --out "$work/pool.lic" 2>/dev/null
relay=("$bin/tessera-relay" --dir "$work/relay")
"${relay[@]}" init --product load --vendor-key "$work/vendor.pub" >/dev/null
"$bin/tessera" relay delegate --key "$work/vendor.key" --request "$work/relay/relay.request" \
    --license "$work/pool.lic" --out "$work/grant.tessera" 2>/dev/null
"${relay[@]}" import "$work/grant.tessera" >/dev/null
"${relay[@]}" serve --listen 127.0.0.1:0 >"$work/relay.log" 2>&1 &
pids+=($!)
for _ in $(seq 100); do grep -q "http://" "$work/relay.log" 2>/dev/null && break; sleep 0.1; done
rurl=$(grep -o 'http://[0-9.:]*' "$work/relay.log" | head -1)
[ -n "$rurl" ] || { cat "$work/relay.log" >&2; exit 1; }
"$bin/examples/relay_load" "$rurl" load BENCH-ONLY-POOL --grants "$grants" --seconds "$seconds" --hold "$hold" |
    tee "$work/relay.out"
grep -q "^holding $hold" "$work/relay.out"
rss=$(awk '/^VmRSS/ {print $2}' "/proc/${pids[0]}/status")
held=$("${relay[@]}" status --json | grep -o '"in_use": [0-9]*' | grep -o '[0-9]*$')
[ "$held" = "$hold" ] || { echo "the relay holds $held leases, not $hold" >&2; exit 1; }
echo "relay resident memory with $held leases: $((rss / 1024)) MiB ($rss KiB)"

server_rate=$(grep -E '^heartbeats +clients 128 ' "$work/proofs.out" | grep -oE '[0-9]+/s' | head -1)
bare_rate=$(grep -E '^heartbeats +clients 128 ' "$work/bare.out" | grep -oE '[0-9]+/s' | head -1)
relay_rate=$(grep -E '^heartbeats ' "$work/relay.out" | grep -oE '[0-9]+/s' | head -1)
grant99=$(grep -E '^grants .*one by one' "$work/relay.out" | grep -oE 'p99 +[0-9.]+ ms' | grep -oE '[0-9.]+ ms')
herd99=$(grep -E '^grants .*all at once' "$work/relay.out" | grep -oE 'p99 +[0-9.]+ ms' | grep -oE '[0-9.]+ ms')
echo
echo "| what | tessera-server (SQLite) | tessera-relay | goal |"
echo "|---|---|---|---|"
echo "| heartbeats/s, 128 clients, closed loop, device proofs (as the SDK) | $server_rate | $relay_rate | relay >= server |"
echo "| the same without device proofs (the relay always checks them) | $bare_rate | | |"
echo "| a seat granted, p99, with up to $grants seats held | | $grant99 | < 5 ms |"
echo "| a seat granted, p99, $grants clients asking at once | | $herd99 | |"
echo "| resident memory, $held leases | | $((rss / 1024)) MiB | < 30 MB |"
