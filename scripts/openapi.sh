#!/usr/bin/env bash
# server/openapi.json is generated from the server's types and its table of
# operations (server/src/openapi/), by `tessera-server --openapi`.
#   scripts/openapi.sh           fail when the committed document is stale
#   scripts/openapi.sh --write   regenerate it
set -euo pipefail
cd "$(dirname "$0")/.."

fresh=$(mktemp)
trap 'rm -f "$fresh"' EXIT
cargo run --quiet -p tessera-server -- --openapi >"$fresh"
if [[ "${1:-}" == "--write" ]]; then
    cp "$fresh" server/openapi.json
    echo "wrote server/openapi.json"
elif ! changes=$(diff -u server/openapi.json "$fresh"); then
    head -40 <<<"$changes" >&2
    echo "server/openapi.json is stale: run scripts/openapi.sh --write" >&2
    exit 1
else
    echo "server/openapi.json is fresh"
fi
