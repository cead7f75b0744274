#!/usr/bin/env bash
# Makes a release's artefacts, into one folder:
#
#   scripts/dist.sh OUT_DIR [--key RELEASE_KEY]
#
#   tessera-V-c-linux-x86_64.tar.gz   the C SDK: shared and static library
#                                     (glibc 2.17 and later, built with
#                                     cargo-zigbuild), include/ with the C++
#                                     header, pkg-config, CMake package,
#                                     every compiled-in crate's licence texts
#   tessera-V-c-windows-x86_64.zip    the same for Windows (MinGW): tessera.dll,
#                                     its import libraries, the static library
#   tessera-V-py3-none-manylinux_2_17_x86_64.manylinux2014_x86_64.whl
#   tessera-V-py3-none-win_amd64.whl  Python wheels with the library inside:
#                                     pip needs no compiler and no cargo
#   tessera-V.tar.gz                  the Python source distribution: the
#                                     repository inside, built with cargo
#                                     on any other platform
#   *.cdx.json                        a CycloneDX SBOM of each of the above
#   SHA256SUMS, SHA256SUMS.tessera    the sums of all, signed by RELEASE_KEY
#                                     (a Tessera key from `tessera keygen`)
#
# Without --key, a throwaway key is made for this run beside the output
# (throwaway-test-only-release.key / .pub): good for a test, not a release.
# The tools come from PyPI into target/dist-tools (cargo-zigbuild, ziglang,
# auditwheel, pinned); MinGW from Debian (scripts/setup.sh). The Rust
# crates are checked by scripts/package-check.sh (cargo publish --dry-run).
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD

out=
key=
while [ $# -gt 0 ]; do
    case "$1" in
    --key) key=${2:?--key needs a file}; shift 2 ;;
    -h | --help) sed -n '2,29p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    -*) echo "dist.sh: unknown option $1" >&2; exit 2 ;;
    *) [ -z "$out" ] || { echo "dist.sh: one output folder" >&2; exit 2; }; out=$1; shift ;;
    esac
done
[ -n "$out" ] || { echo "usage: scripts/dist.sh OUT_DIR [--key RELEASE_KEY]" >&2; exit 2; }
[ -z "$key" ] || [ -f "$key" ] || { echo "dist.sh: no key at $key" >&2; exit 2; }
command -v x86_64-w64-mingw32-gcc >/dev/null || {
    echo "dist.sh: x86_64-w64-mingw32-gcc is missing (scripts/setup.sh installs mingw-w64)" >&2
    exit 1
}
mkdir -p "$out"
out=$(cd "$out" && pwd)
[ -z "$(ls -A "$out")" ] || { echo "dist.sh: $out is not empty" >&2; exit 2; }

version=$(cargo pkgid -p tessera | sed 's/.*[@#]//')
linux=x86_64-unknown-linux-gnu
windows=x86_64-pc-windows-gnu
export SOURCE_DATE_EPOCH=${SOURCE_DATE_EPOCH:-$(git log -1 --format=%ct)}
step() { printf -- '-- %s\n' "$*"; }

step "tools (target/dist-tools)"
tools=$root/target/dist-tools
if [ ! -x "$tools/bin/cargo-zigbuild" ]; then
    python3 -m venv "$tools"
    "$tools/bin/pip" install --quiet --disable-pip-version-check \
        "ziglang==0.17.1" "cargo-zigbuild==0.24.1" "auditwheel==6.8.2"
fi
for t in "$linux" "$windows"; do
    rustup target list --installed | grep -qx "$t" || rustup target add "$t" >/dev/null
done

step "the library for Linux x86-64, glibc 2.17 (cargo-zigbuild)"
PATH=$tools/bin:$PATH cargo zigbuild --quiet --locked --profile dist -p tessera-capi --target "$linux.2.17"
so=target/$linux/dist/libtessera.so
newest=$(objdump -T "$so" | grep -oE 'GLIBC_[0-9]+\.[0-9]+' | sort -uV | tail -1)
[ "$newest" = GLIBC_2.17 ] || [ "$(printf '%s\nGLIBC_2.17\n' "$newest" | sort -V | tail -1)" = GLIBC_2.17 ] || {
    echo "dist.sh: libtessera.so needs $newest, more than glibc 2.17" >&2
    exit 1
}
echo "libtessera.so: $(stat -c %s "$so") bytes, needs glibc up to ${newest#GLIBC_}"

step "the library for Windows x86-64 (MinGW)"
cargo build --quiet --locked --profile dist -p tessera-capi --target "$windows"

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
readme() {
    printf 'Tessera %s, the C SDK for %s: include/tessera.h (C) and include/tessera.hpp (C++).\n' "$version" "$1"
    printf 'Build with pkg-config (lib/pkgconfig/tessera.pc) or CMake: find_package(Tessera) with CMAKE_PREFIX_PATH set here.\n'
    printf 'Licences: LICENSE-APACHE or LICENSE-MIT for Tessera, licenses/ for the crates compiled in; docs: https://github.com/tessera-licensing/tessera\n'
}
c_archive() { # TARGET NAME FORMAT
    local dir=$work/$2
    TESSERA_INSTALL_PREBUILT=1 scripts/install-c.sh "$dir" dist "$1" >/dev/null
    install -m 0644 LICENSE-APACHE LICENSE-MIT "$dir/"
    python3 scripts/dist_tools.py licenses "$1" "$dir/licenses" 2>/dev/null
    readme "$3" >"$dir/README.txt"
}

step "C archives"
c_archive "$linux" "tessera-$version-c-linux-x86_64" "Linux x86-64 (glibc 2.17 and later)"
c_archive "$windows" "tessera-$version-c-windows-x86_64" "Windows x86-64"
python3 scripts/dist_tools.py archive "$work/tessera-$version-c-linux-x86_64" "$out/tessera-$version-c-linux-x86_64.tar.gz"
python3 scripts/dist_tools.py archive "$work/tessera-$version-c-windows-x86_64" "$out/tessera-$version-c-windows-x86_64.zip"

step "Python wheels"
manylinux=manylinux_2_17_x86_64.manylinux2014_x86_64
python3 scripts/dist_tools.py wheel "$so" "$manylinux" "$out" >/dev/null
python3 scripts/dist_tools.py wheel "target/$windows/dist/tessera.dll" win_amd64 "$out" >/dev/null
wheel=$out/tessera-$version-py3-none-$manylinux.whl
"$tools/bin/auditwheel" show "$wheel" >"$work/auditwheel.txt"
grep -q '"manylinux_2_17_x86_64"' "$work/auditwheel.txt" || {
    cat "$work/auditwheel.txt" >&2
    echo "dist.sh: auditwheel does not find the wheel manylinux_2_17" >&2
    exit 1
}

step "the Python source distribution"
python3 scripts/dist_tools.py sdist "$out" >/dev/null

step "SBOMs (CycloneDX 1.5)"
for f in "$out"/*.tar.gz "$out"/*.zip "$out"/*.whl; do
    name=$(basename "$f")
    case "$name" in
    *windows* | *win_amd64*) target=$windows ;;
    *) target=$linux ;;
    esac
    case "$name" in *.whl | "tessera-$version.tar.gz") kind=wheel ;; *) kind=c ;; esac
    python3 scripts/dist_tools.py sbom "$target" "$name" "$version" "$kind" "$out/$name.cdx.json" 2>/dev/null
done

step "SHA256SUMS, signed"
cargo build --quiet --locked -p tessera-cli
cli=target/debug/tessera
if [ -z "$key" ]; then
    "$cli" keygen --out-dir "$(dirname "$out")" --name throwaway-test-only-release >/dev/null 2>&1
    key=$(dirname "$out")/throwaway-test-only-release.key
    echo "no --key: signed with a throwaway key made for this run ($key)"
fi
(cd "$out" && sha256sum -- * >"$work/SHA256SUMS" && mv "$work/SHA256SUMS" SHA256SUMS)
"$cli" sign-manifest --key "$key" --sums "$out/SHA256SUMS" --out "$out/SHA256SUMS.tessera"

step "made"
(cd "$out" && for f in *; do printf '%10d  %s\n' "$(stat -c %s "$f")" "$f"; done)
