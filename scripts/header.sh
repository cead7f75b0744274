#!/usr/bin/env bash
# include/tessera.h is generated from capi/src/ by a pinned cbindgen, with the
# two enums of codes (tessera_result, tessera_status) rendered from the core's
# tables by capi/examples/header_enums.rs, so their numbers live in one place.
#   scripts/header.sh           fail when the committed header is stale
#   scripts/header.sh --write   regenerate it
# Installs the pinned cbindgen with cargo when it is missing or another version.
set -euo pipefail
cd "$(dirname "$0")/.."

CBINDGEN_VERSION=0.29.2
cbindgen=${CBINDGEN:-cbindgen}
if ! "$cbindgen" --version 2>/dev/null | grep -qx "cbindgen $CBINDGEN_VERSION"; then
    echo "installing cbindgen $CBINDGEN_VERSION" >&2
    cargo install --quiet --locked cbindgen --version "$CBINDGEN_VERSION" >&2
    cbindgen="$(cargo_bin=${CARGO_HOME:-$HOME/.cargo}/bin; echo "$cargo_bin/cbindgen")"
fi

fresh=$(mktemp)
config=$(mktemp)
enums=$(mktemp)
trap 'rm -f "$fresh" "$config" "$enums"' EXIT
cargo run --quiet -p tessera-capi --example header_enums >"$enums"
# cbindgen.toml's `after_includes = ""` receives the enums.
python3 - "$enums" >"$config" <<'PY'
import sys
enums = open(sys.argv[1]).read()
config = open("cbindgen.toml").read()
assert '"""' not in enums and 'after_includes = ""' in config
print(config.replace('after_includes = ""', 'after_includes = """\n' + enums + '"""'), end="")
PY
"$cbindgen" --quiet --config "$config" --crate tessera-capi --output "$fresh"
# C++-compatible C: cbindgen gives a 32-bit enum the same name as a tag and
# as a typedef (`enum X {..}; typedef uint32_t X;`), which C allows and
# C++ does not (`-Wc++-compat` says so). In C the tag becomes `X_values`;
# C++ keeps `enum X : uint32_t`, so both languages see the same type name.
python3 - "$fresh" <<'PY'
import re, sys
path = sys.argv[1]
text = open(path).read()
pattern = re.compile(r"enum (tessera_\w+)\n#ifdef __cplusplus\n  : uint32_t\n#endif // __cplusplus\n")
text, count = pattern.subn(
    lambda m: f"#ifdef __cplusplus\nenum {m[1]} : uint32_t\n#else\nenum {m[1]}_values\n#endif // __cplusplus\n", text)
assert count >= 6, count
open(path, "w").write(text)
PY

if [[ "${1:-}" == "--write" ]]; then
    cp "$fresh" include/tessera.h
    echo "wrote include/tessera.h"
elif ! diff -u include/tessera.h "$fresh"; then
    echo "include/tessera.h is stale: run scripts/header.sh --write and commit it" >&2
    exit 1
else
    echo "include/tessera.h is up to date (cbindgen $CBINDGEN_VERSION)"
fi
