#!/usr/bin/env bash
# The C library's smallest build (`--no-default-features`: offline only, no
# Keygen reader, no precomputed curve tables), as a vendor would ship it:
# it stays under 1 MB stripped, exports every function the header declares,
# and its online exports answer TESSERA_ERR_UNSUPPORTED (docs/C-API.md).
set -euo pipefail
cd "$(dirname "$0")/.."

limit=1048576
cargo build -q --profile dist -p tessera-capi --no-default-features
lib=target/dist/libtessera.so
size=$(stat -c %s "$lib")
echo "offline-only libtessera.so, stripped: $size bytes (limit $limit)"

# Every function the header declares is exported, and nothing else is.
declared=$(grep -oE '\btessera_[a-z0-9_]+\(' include/tessera.h | tr -d '(' | sort -u)
exported=$(nm -D --defined-only "$lib" | awk '$3 ~ /^tessera_/ {print $3}' | sort -u)
if [ "$declared" != "$exported" ]; then
    echo "the exports differ from include/tessera.h:" >&2
    diff <(echo "$declared") <(echo "$exported") >&2 || true
    exit 1
fi
echo "exports: $(echo "$exported" | wc -l), as include/tessera.h declares"

# The online exports of this build check their arguments, then refuse.
cargo test -q -p tessera-capi --no-default-features --lib

if [ "$size" -ge "$limit" ]; then
    echo "the offline-only library is $size bytes, over the 1 MB goal ($limit)" >&2
    exit 1
fi
