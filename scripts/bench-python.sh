#!/usr/bin/env bash
# A warm check from Python beside the same call from Rust, in one run:
# criterion's runtime/warm_check (release), then bindings/python/bench/check.py
# against the release C library (it times the bare C call through ctypes too).
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --quiet --release -p tessera-capi
cargo build --quiet -p tessera-cli
cargo bench --quiet --features issuer --bench runtime -- 'runtime/' 2>&1 | grep -E "^runtime/|time:"
TESSERA_LIBRARY=$PWD/target/release/libtessera.so PYTHONPATH=$PWD/bindings/python \
    python3 bindings/python/bench/check.py "$PWD/target/debug/tessera"
