#!/usr/bin/env bash
# Webhook delivery against a release tessera-server on SQLite, loopback,
# in one sitting (server/examples/webhook_load.rs says how it counts):
#   1. events made at 100 a second for 10 seconds, each delivered to a
#      receiver on loopback: the time from the change to the receiver's
#      200 (p50, p99, the slowest);
#   2. heartbeats a second from 128 clients while 100 events a second are
#      made, with no webhook (the control) and with one that receives
#      every event, in pairs (which goes first alternates), each on a fresh
#      server: what delivering costs the heartbeats, as the median of the
#      pairs' ratios (a shared machine's neighbours move single runs by more
#      than the effect; a pair runs within seconds of itself).
#   scripts/bench-webhooks.sh [--seconds S] [--rounds R]
# --quick: the test command's smoke run, so the script cannot rot: the
# debug build, one second a phase, one round; its figures measure nothing.
set -euo pipefail
cd "$(dirname "$0")/.."

seconds=4 rounds=10 latency=10 profile=release
while [ $# -gt 0 ]; do
    case "$1" in
    --seconds) seconds=$2; shift 2 ;;
    --rounds) rounds=$2; shift 2 ;;
    --quick) profile=debug seconds=1 rounds=1 latency=1; shift ;;
    *) echo "usage: scripts/bench-webhooks.sh [--seconds S] [--rounds R] [--quick]" >&2; exit 2 ;;
    esac
done

flags=()
[ "$profile" = release ] && flags=(--release)
cargo build --quiet "${flags[@]}" -p tessera-server -p tessera-cli --bins
cargo build --quiet "${flags[@]}" -p tessera-server --example load --example webhook_load
work=$(mktemp -d)
pid=
cleanup() {
    [ -z "$pid" ] || kill "$pid" 2>/dev/null || true
    rm -rf "$work"
}
trap cleanup EXIT
target/$profile/tessera keygen --out-dir "$work" --name server >/dev/null
token=bench-only-admin-token-$RANDOM$RANDOM

# start NAME: a fresh server on its own SQLite file; its URL in $url.
start() {
    local log="$work/$1.log"
    TESSERA_SERVER_LISTEN=127.0.0.1:0 TESSERA_SERVER_INSECURE_HTTP=1 \
    TESSERA_SERVER_WEBHOOKS_ALLOW_PRIVATE=1 \
    TESSERA_SERVER_DATABASE="$work/$1.db" TESSERA_SERVER_SIGNING_KEY="$work/server.key" \
    TESSERA_ADMIN_TOKEN="$token" "target/$profile/tessera-server" >/dev/null 2>"$log" &
    pid=$!
    for _ in $(seq 100); do grep -q "listening on" "$log" 2>/dev/null && break; sleep 0.1; done
    url=$(grep -o 'http://[0-9.:]*' "$log" | head -1)
    [ -n "$url" ] || { cat "$log" >&2; exit 1; }
}
stop() {
    kill "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
    pid=
}

echo "== 100 events/s for $latency s, each delivered ($(nproc) cores)"
start latency
target/$profile/examples/webhook_load "$url" "$token" --rate 100 --seconds "$latency" | tee "$work/latency.out"
stop
grep -q 'delivered' "$work/latency.out"

# cpu: the server's CPU time so far, in clock ticks (user and system).
cpu() { awk '{ print $14 + $15 }' "/proc/$pid/stat"; }

# heartbeats MODE ROUND: heartbeats/s at 128 clients while 100 events/s are
# made, and the server's CPU time per 1,000 heartbeats in that window (ms).
heartbeats() {
    start "$1-$2"
    local extra=()
    [ "$1" = control ] && extra=(--no-webhook)
    target/$profile/examples/webhook_load "$url" "$token" --rate 100 \
        --seconds $((seconds + 3)) "${extra[@]}" >"$work/$1-$2.events" &
    local events=$! before after line
    sleep 1
    before=$(cpu)
    target/$profile/examples/load "$url" "$token" --heartbeats-only --seconds "$seconds" \
        --requests 1000000 --licenses 16 >"$work/$1-$2.out"
    after=$(cpu)
    wait "$events"
    stop
    line=$(grep -E '^heartbeats +clients 128 ' "$work/$1-$2.out" | head -1)
    awk -v line="$line" -v ticks=$((after - before)) -v hz="$(getconf CLK_TCK)" 'BEGIN {
        n = split(line, f, " +"); rate = 0; requests = 0
        for (i = 1; i <= n; i++) { if (f[i] ~ /\/s$/) rate = f[i] + 0; if (f[i] == "requests") requests = f[i + 1] }
        printf "%d %.1f\n", rate, (requests > 0) ? ticks * 1000 / hz * 1000 / requests : 0 }'
}
control=() with=() ratios=() control_cpu=() with_cpu=()
for r in $(seq "$rounds"); do
    if [ $((r % 2)) -eq 1 ]; then
        read -r c cc < <(heartbeats control "$r")
        read -r w wc < <(heartbeats webhook "$r")
    else
        read -r w wc < <(heartbeats webhook "$r")
        read -r c cc < <(heartbeats control "$r")
    fi
    control+=("$c") with+=("$w") control_cpu+=("$cc") with_cpu+=("$wc")
    ratios+=("$(awk -v c="$c" -v w="$w" 'BEGIN { printf "%.4f", (c > 0) ? w / c : 0 }')")
done
median() { printf '%s\n' "$@" | sort -g | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
echo
echo "heartbeats/s at 128 clients, 100 events/s made alongside ($rounds pairs, $seconds s each),"
echo "and the server's CPU time per 1,000 heartbeats in that window:"
echo "| pair | no webhook: /s | CPU ms | every event delivered: /s | CPU ms | ratio  |"
echo "|------|----------------|--------|---------------------------|--------|--------|"
for i in "${!control[@]}"; do
    printf '| %4d | %14s | %6s | %25s | %6s | %6s |\n' $((i + 1)) "${control[$i]}" "${control_cpu[$i]}" \
        "${with[$i]}" "${with_cpu[$i]}" "${ratios[$i]}"
done
m=$(median "${ratios[@]}")
awk -v m="$m" -v c="$(median "${control[@]}")" -v w="$(median "${with[@]}")" \
    -v cc="$(median "${control_cpu[@]}")" -v wc="$(median "${with_cpu[@]}")" 'BEGIN {
    printf "medians: %d/s without, %d/s with; the median pair ratio %.3f: delivery costs %.1f %% of the heartbeats\n", c, w, m, (1 - m) * 100
    printf "CPU per 1,000 heartbeats (medians): %.1f ms without, %.1f ms with (%+.1f %%)\n", cc, wc, (cc > 0) ? (wc - cc) * 100 / cc : 0 }'
