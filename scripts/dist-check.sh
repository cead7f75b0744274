#!/usr/bin/env bash
# The `dist` suite: scripts/dist.sh makes every artefact of a release from
# this checkout, and each is then used as a product would use it:
# - the signed SHA256SUMS verify with `tessera verify` and with the
#   OpenSSL-only recipe (docs/example/verify-by-hand.sh), and a changed
#   artefact is caught;
# - every SBOM is valid CycloneDX 1.5 (cyclonedx-python-lib, pinned);
# - the Linux C archive, unpacked on another path: its library asks for
#   glibc 2.17 at most, the examples build against it with pkg-config and
#   with CMake and run;
# - the Windows C archive: the C example built with MinGW and CMake
#   against it, its tessera.dll loaded under wine;
# - the manylinux wheel, under 2 MB, installed into a fresh venv with no
#   compiler and no cargo on the PATH: examples/python/quickstart.py and
#   online.py run (the server through tests/online/harness.py); the
#   win_amd64 wheel holds tessera.dll and a RECORD that matches;
# - the source distribution installs with pip, building with cargo.
# It prints how long `import tessera` takes from the wheel (a measurement,
# not a check).
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
step() { printf -- '-- %s\n' "$*"; }

scripts/dist.sh "$work/out"
out=$work/out
version=$(cargo pkgid -p tessera | sed 's/.*[@#]//')
cli=$root/target/debug/tessera
pub=$work/throwaway-test-only-release.pub
tools=$root/target/dist-tools

step "the signed sums verify, with tessera verify and with OpenSSL alone"
"$cli" verify "$out/SHA256SUMS.tessera" --key "$pub" | tail -1
docs/example/verify-by-hand.sh "$out/SHA256SUMS.tessera" "$pub" >"$work/by-hand.txt"
grep -qxF -f "$out/SHA256SUMS" "$work/by-hand.txt"
cp -r "$out" "$work/changed"
printf 'x' >>"$work/changed/tessera-$version-py3-none-win_amd64.whl"
if "$cli" verify "$work/changed/SHA256SUMS.tessera" --key "$pub" >"$work/changed.txt" 2>&1; then
    echo "a changed wheel passed the signed sums" >&2
    exit 1
fi
grep -q "win_amd64.whl: FAILED" "$work/changed.txt"
echo "a changed artefact is named: $(grep FAILED "$work/changed.txt")"

step "the SBOMs are CycloneDX 1.5"
"$tools/bin/python" -c "import cyclonedx.validation" 2>/dev/null ||
    "$tools/bin/pip" install --quiet --disable-pip-version-check "cyclonedx-python-lib[json-validation]==11.12.0"
"$tools/bin/python" - "$out" <<'PY'
import json, pathlib, sys
from cyclonedx.schema import SchemaVersion
from cyclonedx.validation.json import JsonStrictValidator
out = pathlib.Path(sys.argv[1])
artefacts = [p for p in out.iterdir() if p.suffix in (".gz", ".zip", ".whl")]
validator = JsonStrictValidator(SchemaVersion.V1_5)
for a in sorted(artefacts):
    sbom = out / (a.name + ".cdx.json")
    text = sbom.read_text()
    error = validator.validate_str(text)
    if error is not None:
        raise SystemExit(f"{sbom.name}: {error}")
    names = {c["name"] for c in json.loads(text)["components"]}
    for needed in ("tessera", "tessera-capi", "ed25519-dalek", "sha2"):
        if needed not in names:
            raise SystemExit(f"{sbom.name} does not list {needed}")
    print(f"{sbom.name}: valid, {len(names)} components")
PY

step "the Linux C archive, unpacked on another path"
mkdir "$work/elsewhere"
tar -xzf "$out/tessera-$version-c-linux-x86_64.tar.gz" -C "$work/elsewhere"
sdk=$work/elsewhere/tessera-$version-c-linux-x86_64
[ "$(wc -l <"$sdk/README.txt")" -eq 3 ]
ls "$sdk/LICENSE-APACHE" "$sdk/LICENSE-MIT" "$sdk/licenses/THIRD-PARTY.md" "$sdk/include/tessera.hpp" >/dev/null
echo "licences of $(find "$sdk/licenses" -mindepth 1 -type d | wc -l) crates"
newest=$(objdump -T "$sdk/lib/libtessera.so.$version" | grep -oE 'GLIBC_[0-9]+\.[0-9]+' | sort -uV | tail -1)
[ "$(printf '%s\nGLIBC_2.17\n' "$newest" | sort -V | tail -1)" = GLIBC_2.17 ]
echo "libtessera.so.$version asks for glibc up to ${newest#GLIBC_}"
"$cli" keygen --out-dir "$work" --name vendor >/dev/null 2>&1
now=$(date -u +%Y-%m-%dT%H:%M:%SZ)
until=$(date -u -d '+30 days' +%Y-%m-%dT%H:%M:%SZ)
printf '{"license_type":"time-limited","start_date":"%s","validity_period":"%s","product_details":{"short_code":"acme-cad"},"product_features":[{"code":"pdf-export"}]}' \
    "$now" "$until" | "$cli" issue --key "$work/vendor.key" --spec - --out "$work/now.lic" 2>/dev/null
export PKG_CONFIG_PATH="$sdk/lib/pkgconfig"
# shellcheck disable=SC2046
gcc -std=c99 -Wall -Wextra -Werror examples/c/quickstart.c -o "$work/quickstart-pc" \
    $(pkg-config --cflags --libs tessera) -Wl,-rpath,"$sdk/lib"
"$work/quickstart-pc" "$work/vendor.pub" "$work/now.lic" "$work/state-pc" | grep -x "pdf-export: enabled"
unset PKG_CONFIG_PATH
for ex in c cpp; do
    cmake -S "examples/$ex" -B "$work/build-$ex" -DCMAKE_PREFIX_PATH="$sdk" -DCMAKE_BUILD_TYPE=Release >/dev/null
    cmake --build "$work/build-$ex" >/dev/null
done
"$work/build-c/quickstart" "$work/vendor.pub" "$work/now.lic" "$work/state-c" | grep -x "pdf-export: enabled"
"$work/build-c/quickstart_static" "$work/vendor.pub" "$work/now.lic" "$work/state-static" | grep -x "pdf-export: enabled"
"$work/build-cpp/quickstart" "$work/vendor.pub" "$work/now.lic" "$work/state-cpp" | grep -x "pdf-export: enabled"

step "the Windows C archive: the C example built with MinGW and CMake, tessera.dll under wine"
python3 -m zipfile -e "$out/tessera-$version-c-windows-x86_64.zip" "$work/win"
winsdk=$work/win/tessera-$version-c-windows-x86_64
ls "$winsdk/bin/tessera.dll" "$winsdk/lib/libtessera.dll.a" "$winsdk/lib/tessera.lib" "$winsdk/lib/libtessera.a" >/dev/null
printf 'set(CMAKE_SYSTEM_NAME Windows)\nset(CMAKE_C_COMPILER x86_64-w64-mingw32-gcc)\nset(CMAKE_CXX_COMPILER x86_64-w64-mingw32-g++)\nset(CMAKE_FIND_ROOT_PATH_MODE_PACKAGE BOTH)\n' >"$work/mingw.cmake"
cmake -S examples/c -B "$work/build-win" -DCMAKE_TOOLCHAIN_FILE="$work/mingw.cmake" \
    -DCMAKE_PREFIX_PATH="$winsdk" -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build "$work/build-win" >/dev/null
cp "$winsdk/bin/tessera.dll" "$work/build-win/"
winpath() { WINEDEBUG=-all WINEPREFIX="$root/target/wine" /usr/lib/wine/wine64 winepath -w "$1" 2>/dev/null | tr -d '\r'; }
scripts/wine-run.sh "$work/build-win/quickstart.exe" "$(winpath "$work/vendor.pub")" "$(winpath "$work/now.lic")" \
    "$(winpath "$work/state-win")" 2>&1 | tr -d '\r' >"$work/win.txt" || true
cat "$work/win.txt"
grep -qx "pdf-export: enabled" "$work/win.txt"

step "the manylinux wheel: under 2 MB, installed and run with no compiler and no cargo"
wheel=$out/tessera-$version-py3-none-manylinux_2_17_x86_64.manylinux2014_x86_64.whl
size=$(stat -c %s "$wheel")
echo "wheel: $size bytes"
[ "$size" -lt $((2 * 1024 * 1024)) ]
# The server and the fault proxy for online.py, built before the PATH narrows.
cargo build --quiet -p tessera-server --bin tessera-server --example fault_proxy --example idp -p tessera-relay --bin tessera-relay
python3 -m venv "$work/venv"
bare=$work/venv/bin
for tool in cargo rustc cc gcc c++ clang; do
    if env PATH="$bare" /bin/sh -c "command -v $tool" >/dev/null 2>&1; then
        echo "$tool is on the narrowed PATH" >&2
        exit 1
    fi
done
env PATH="$bare" "$bare/pip" install --quiet --disable-pip-version-check --no-index "$wheel"
(cd "$work" && env PATH="$bare" "$bare/python" "$root/examples/python/quickstart.py" \
    "$work/vendor.pub" "$work/now.lic" "$work/state-py") | tee "$work/py.txt"
grep -qx "pdf-export: enabled" "$work/py.txt"
(cd "$work" && env PATH="$bare" "$bare/python" -c 'import tessera, os; print(os.path.dirname(tessera.__file__))') |
    grep -q "^$work/venv/"
env PATH="$bare" "$bare/python" tests/online/harness.py "$root/target/debug" "$work/online" example \
    "$bare/python" "$root/examples/python/online.py" {url} {product} {product_key} {license_key} {vendor_pub} {state}
"$bare/python" - <<'PY'
import statistics, subprocess, sys, time
def median(code, n=15):
    runs = []
    for _ in range(n):
        t = time.perf_counter()
        subprocess.run([sys.executable, "-c", code], check=True)
        runs.append(time.perf_counter() - t)
    return statistics.median(runs)
bare, imported = median("pass"), median("import tessera")
print(f"import tessera from the wheel: {1000 * (imported - bare):.1f} ms beyond the interpreter's own start "
      f"({1000 * bare:.1f} ms), median of 15 (a measurement, not a check; goal < 50 ms)")
PY

step "the source distribution builds with cargo (pip, in a venv of its own)"
python3 -m venv "$work/venv-src"
# A target folder of its own: the sdist is another workspace, and its
# dist-profile library must not replace the one smallest-build measures.
CARGO_TARGET_DIR=$root/target/sdist TESSERA_CARGO_PROFILE=dist \
    "$work/venv-src/bin/pip" install --quiet --disable-pip-version-check "$out/tessera-$version.tar.gz"
(cd "$work" && "$work/venv-src/bin/python" "$root/examples/python/quickstart.py" \
    "$work/vendor.pub" "$work/now.lic" "$work/state-src") | grep -x "pdf-export: enabled"

step "the win_amd64 wheel holds tessera.dll and a RECORD that matches"
python3 - "$out/tessera-$version-py3-none-win_amd64.whl" <<'PY'
import base64, csv, hashlib, io, sys, zipfile
z = zipfile.ZipFile(sys.argv[1])
names = set(z.namelist())
assert "tessera/tessera.dll" in names and "tessera/_ffi.py" in names, names
info = next(n for n in names if n.endswith(".dist-info/WHEEL"))
assert "Tag: py3-none-win_amd64" in z.read(info).decode()
record = next(n for n in names if n.endswith(".dist-info/RECORD"))
for path, digest, size in csv.reader(io.StringIO(z.read(record).decode())):
    if path == record:
        continue
    data = z.read(path)
    want = "sha256=" + base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
    assert digest == want and int(size) == len(data), path
print(f"win_amd64 wheel: {len(names)} files, RECORD matches")
PY
echo "dist-check: all passed"
