#!/usr/bin/env bash
# The console's and the portal's page times at the server (docs/CONSOLE.md):
# server/examples/pages.rs seeds a vendor's year into SQLite (10,000
# licenses, 100,000 devices, a year of consumption records), starts a
# release tessera-server on it and asks every page 50 times, one request at
# a time over loopback: p50, p95, the largest, and each page's weight,
# beside the style sheet's time (an answer that reads nothing).
#   scripts/bench-pages.sh [--licenses N] [--devices N] [--samples N]
# --quick: the test command's smoke run, so the script cannot rot: the
# debug build, 500 licenses and 5,000 devices, 5 samples; its figures
# measure nothing.
set -euo pipefail
cd "$(dirname "$0")/.."

licenses=10000 devices=100000 samples=50 profile=release
while [ $# -gt 0 ]; do
    case "$1" in
    --licenses) licenses=$2; shift 2 ;;
    --devices) devices=$2; shift 2 ;;
    --samples) samples=$2; shift 2 ;;
    --quick) profile=debug licenses=500 devices=5000 samples=5; shift ;;
    *) echo "usage: scripts/bench-pages.sh [--licenses N] [--devices N] [--samples N] [--quick]" >&2; exit 2 ;;
    esac
done

if [ "$profile" = release ]; then
    cargo build --quiet --release -p tessera-server -p tessera-cli --bins
    cargo build --quiet --release -p tessera-server --example pages
else
    cargo build --quiet -p tessera-server -p tessera-cli --bins
    cargo build --quiet -p tessera-server --example pages
fi
bin=target/$profile
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
"$bin/examples/pages" "$bin/tessera-server" "$bin/tessera" "$work" "$licenses" "$devices" "$samples"
