#!/usr/bin/env bash
# The C ABI held to its baseline (capi/abi/: the last release's library as
# abidw describes it, and its header). A change passes when it only adds;
# one that breaks (a function removed, a prototype, an enum value, a
# struct or a constant changed) passes only if the SONAME's major moved
# with it; an addition passes only if TESSERA_ABI_VERSION grew.
#   scripts/abi-check.sh            compare
#   scripts/abi-check.sh --write    make the baseline (at a release)
# Needs abidw and abidiff (Debian's abigail-tools; .ci/run installs it).
set -euo pipefail
cd "$(dirname "$0")/.."

base=capi/abi
command -v abidw >/dev/null && command -v abidiff >/dev/null || {
    echo "abi-check: needs abidw and abidiff: apt-get install abigail-tools" >&2
    exit 1
}
cargo build --quiet -p tessera-capi
lib=target/debug/libtessera.so
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
# The paths of the machine that built it (a dependency's C sources) made
# relative: the registry's and this checkout's.
abidw --no-corpus-path --no-show-locs --drop-undefined-syms "$lib" |
    sed -E "s#'[^']*/\.cargo/registry/src/[^/']*/#'registry/#g; s#'$PWD/#'./#g" >"$work/libtessera.abi"

if [ "${1:-}" = --write ]; then
    mkdir -p "$base"
    cp "$work/libtessera.abi" "$base/libtessera.abi"
    cp include/tessera.h "$base/tessera.h"
    echo "wrote $base/libtessera.abi and $base/tessera.h"
    exit 0
fi

# What a header promises, a line each: its constants, every enum value,
# every struct's fields and every prototype, comments and spacing gone.
contract() {
    python3 - "$1" <<'PY'
import re, sys
text = open(sys.argv[1]).read()
text = re.sub(r"/\*.*?\*/", " ", text, flags=re.S)
text = re.sub(r"//[^\n]*", " ", text)
out = set()
for m in re.finditer(r"^\s*#define\s+(TESSERA_\w+)\s+(.+)$", text, flags=re.M):
    out.add(f"define {m.group(1)} {m.group(2).strip()}")
text = re.sub(r"^\s*#.*$", " ", text, flags=re.M)
# Enums and structs as cbindgen writes them (`enum name : uint32_t` for
# C++, `enum name_values` for C, the same body), and anonymous typedefs.
blocks = r"(?:typedef\s+)?(enum|struct)\s*(\w*)[^{;]*\{(.*?)\}\s*(\w*)\s*;"
for m in re.finditer(blocks, text, flags=re.S):
    kind, name, body = m.group(1), m.group(2) or m.group(4), m.group(3)
    if kind == "enum":
        for item in body.split(","):
            item = " ".join(item.split())
            if item:
                out.add(f"enum {name}: {item}")
    else:
        out.add(f"struct {name} {{ {' '.join(body.split())} }}")
text = re.sub(blocks, " ", text, flags=re.S)
for decl in text.split(";"):
    decl = " ".join(decl.replace("{", " ").replace("}", " ").replace('extern "C"', " ").split())
    if "(" in decl and "tessera_" in decl:
        out.add(f"fn {decl}")
print("\n".join(sorted(out)))
PY
}
contract "$base/tessera.h" >"$work/before"
contract include/tessera.h >"$work/after"
removed=$(comm -23 "$work/before" "$work/after" | grep -v '^define TESSERA_ABI_VERSION ' || true)
added=$(comm -13 "$work/before" "$work/after" | grep -v '^define TESSERA_ABI_VERSION ' || true)

set +e
abidiff --no-show-locs "$base/libtessera.abi" "$work/libtessera.abi" >"$work/abidiff.out"
diff_status=$?
set -e
# abidiff's status: bit 1 an error, bit 2 a usage error, bit 4 a change,
# bit 8 an incompatible one; above 15 it did not finish.
if [ $((diff_status & 3)) -ne 0 ] || [ "$diff_status" -gt 15 ]; then
    cat "$work/abidiff.out" >&2
    echo "abi-check: abidiff failed" >&2
    exit 1
fi
soname() { grep -o "soname='[^']*'" "$1" | head -1; }
abi_version() { grep -oE '^#define TESSERA_ABI_VERSION [0-9]+' "$1" | grep -oE '[0-9]+$'; }
moved=0
[ "$(soname "$base/libtessera.abi")" != "$(soname "$work/libtessera.abi")" ] && moved=1

status=0
if [ -n "$removed" ] || [ $((diff_status & 8)) -ne 0 ]; then
    echo "the C ABI breaks against capi/abi/ (the last release):"
    [ -z "$removed" ] || echo "$removed" | sed 's/^/  - /'
    [ $((diff_status & 8)) -eq 0 ] || sed 's/^/  | /' "$work/abidiff.out"
    if [ $moved -eq 0 ]; then
        echo "abi-check: an incompatible change needs the library's major version (and so its SONAME) to move" >&2
        status=1
    fi
fi
if [ -n "$added" ] || [ $((diff_status & 12)) -eq 4 ]; then
    echo "the C ABI adds to capi/abi/:"
    [ -z "$added" ] || echo "$added" | sed 's/^/  + /'
    if [ "$(abi_version include/tessera.h)" -le "$(abi_version "$base/tessera.h")" ]; then
        echo "abi-check: an addition needs TESSERA_ABI_VERSION to grow (capi/src/info.rs)" >&2
        status=1
    fi
fi
[ $status -ne 0 ] || echo "abi-check: $(grep -c "elf-symbol name='tessera_" "$work/libtessera.abi") functions, $(wc -l <"$work/after") promises of the header; $(soname "$work/libtessera.abi"), ABI version $(abi_version include/tessera.h): holds to capi/abi/"
exit $status
