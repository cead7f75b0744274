#!/usr/bin/env bash
# Schemathesis, pinned, from PyPI in a fresh virtual environment, against
# server/openapi.json and the real server on loopback: every operation,
# requests generated from the document and signed as the SDK signs them;
# every answer below 500 and as documented (tests/online/api_fuzz.py).
# TESSERA_API_FUZZ_EXAMPLES sets the examples per operation (default 60).
set -euo pipefail
cd "$(dirname "$0")/.."

cargo build -q -p tessera-server -p tessera-cli
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
python3 -m venv "$work/venv"
"$work/venv/bin/pip" install --quiet --disable-pip-version-check "schemathesis==4.32.5"
TESSERA_BIN_DIR="$PWD/target/debug" "$work/venv/bin/pytest" -q -p no:cacheprovider \
    tests/online/api_fuzz.py
