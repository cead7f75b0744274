#!/usr/bin/env bash
# cargo-fuzz, pinned, for the fuzz smoke (scripts/test.sh) and docs/FUZZING.md:
# installed once per machine (about 90 s of build).
set -euo pipefail
if ! cargo fuzz --version 2>/dev/null | grep -q "0.13.2"; then
    cargo install cargo-fuzz --version 0.13.2 --locked --quiet
fi
