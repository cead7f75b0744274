#!/usr/bin/env bash
# A warm check from Python beside the same call from Rust, in one run:
# criterion's runtime/warm_check (release), then bindings/python/bench/check.py
# against the release C library (it times the bare C call through ctypes too).
#   scripts/bench-python.sh [--quick]
# --quick: the test command's smoke run, so the script cannot rot: the debug
# builds, criterion's --quick and a thousand calls; its figures measure nothing.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ "${1:-}" = --quick ]; then
    cargo build --quiet -p tessera-capi
    cargo build --quiet -p tessera-cli
    cargo bench --quiet --profile dev --all-features --bench runtime -- --quick --noplot 'runtime/' 2>&1 |
        grep -E "^runtime/|time:"
    TESSERA_BENCH_CALLS=1000 TESSERA_LIBRARY=$PWD/target/debug/libtessera.so \
        PYTHONPATH=$PWD/bindings/python python3 bindings/python/bench/check.py "$PWD/target/debug/tessera"
    exit 0
fi
cargo build --quiet --release -p tessera-capi
cargo build --quiet -p tessera-cli
cargo bench --quiet --features issuer --bench runtime -- 'runtime/' 2>&1 | grep -E "^runtime/|time:"
TESSERA_LIBRARY=$PWD/target/release/libtessera.so PYTHONPATH=$PWD/bindings/python \
    python3 bindings/python/bench/check.py "$PWD/target/debug/tessera"
