#!/usr/bin/env bash
# Windows, tested under wine (x86_64-pc-windows-gnu, MinGW-w64, wine 8):
# - the SDK's Rust test suites, cross-compiled and run under wine (cargo's
#   runner: scripts/wine-run.sh), the real (wine) machine's fingerprint and
#   VM check among them;
# - `tessera fingerprint`, built for Windows, on the wine machine: at least
#   four components and the environment line;
# - tessera-relay built for Windows and run as a Windows service under wine
#   (install, start, a seat taken and given back, stop, remove);
# - tessera.dll with its import libraries (MinGW's libtessera.dll.a and an
#   MSVC-style tessera.lib), and the C test program built with MinGW
#   against the DLL, run under wine.
# Then macOS: the SDK, its OS layer and the C library type-checked with
# clippy (-D warnings) for aarch64-apple-darwin and x86_64-apple-darwin;
# its rules are tested from recorded dumps in tests/macos.rs on every run.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
win=x86_64-pc-windows-gnu
apple=(aarch64-apple-darwin x86_64-apple-darwin)

# Set-up: the Rust targets (the system packages come from scripts/setup.sh).
for t in "$win" "${apple[@]}"; do
    rustup target list --installed | grep -qx "$t" || rustup target add "$t" >/dev/null
done
for tool in x86_64-w64-mingw32-gcc x86_64-w64-mingw32-dlltool; do
    command -v "$tool" >/dev/null || { echo "windows-tests: $tool is missing (Debian: gcc-mingw-w64-x86-64)" >&2; exit 1; }
done
[ -x /usr/lib/wine/wine64 ] || command -v wine64 >/dev/null || { echo "windows-tests: wine64 is missing (Debian: wine wine64)" >&2; exit 1; }
export CARGO_TARGET_X86_64_PC_WINDOWS_GNU_RUNNER="$root/scripts/wine-run.sh"
step() { printf -- '-- %s\n' "$*"; }
work=$(mktemp -d)
trap 'WINEPREFIX="$root/target/wine" /usr/lib/wine/wineserver -k 2>/dev/null || true; rm -rf "$work"' EXIT

step "the SDK's Rust suites under wine"
cargo test -p tessera --all-features --target "$win" --no-fail-fast -- --nocapture --test-threads=2 2>&1 \
    | tee "$work/rust.txt" | grep -E "^test result|^components|^environment|FAILED|panicked" 
grep -q "^test result: FAILED" "$work/rust.txt" && exit 1
grep -q "^components: " "$work/rust.txt" || { echo "the host fingerprint test did not run" >&2; exit 1; }

step "tessera fingerprint on the wine machine"
cargo build --quiet -p tessera-cli --target "$win"
exe=$root/target/$win/debug/tessera.exe
scripts/wine-run.sh "$exe" fingerprint --product acme-cad | tr -d '\r' | tee "$work/fingerprint.txt"
components=$(grep -cE '^(machine_id|dmi_|mac:|cpu|system_volume|hostname|os) ' "$work/fingerprint.txt" || true)
[ "$components" -ge 4 ] || { echo "only $components components under wine" >&2; exit 1; }
grep -q '^environment' "$work/fingerprint.txt"

step "the C test, built with MinGW against tessera.dll, under wine"
# The test freezes the clock and reads fake trees: the testing build.
cargo build --quiet -p tessera-capi --features testing --target "$win"
lib=$root/target/$win/debug
cargo build --quiet -p tessera-cli
tests/c/fixtures.sh "$root/target/debug/tessera" "$work/fx" 2>/dev/null
x86_64-w64-mingw32-gcc -std=c11 -Wall -Wextra -Werror -pedantic -Iinclude tests/c/ffi_test.c \
    -o "$work/ffi_test.exe" -L"$lib" -ltessera -lpthread
cp "$lib/tessera.dll" "$work/"
cp "$(x86_64-w64-mingw32-gcc -print-file-name=libwinpthread-1.dll)" "$work/" 2>/dev/null || true
winpath() { WINEDEBUG=-all WINEPREFIX="$root/target/wine" /usr/lib/wine/wine64 winepath -w "$1" 2>/dev/null | tr -d '\r'; }
# Wine exits 0 even when a program faults: the test's own summary decides.
scripts/wine-run.sh "$work/ffi_test.exe" "$(winpath "$work/fx")" "$(winpath "$exe")" 2>&1 | tr -d '\r' >"$work/ffi.txt" || true
tail -3 "$work/ffi.txt"
grep -qE '^[0-9]+ checks, 0 failed$' "$work/ffi.txt"

step "tessera.dll installed as a product gets it, with its import libraries"
scripts/install-c.sh "$work/prefix" debug "$win"
ls "$work/prefix/bin/tessera.dll" "$work/prefix/lib/libtessera.dll.a" "$work/prefix/lib/tessera.lib" >/dev/null
echo "tessera.dll exports $(x86_64-w64-mingw32-objdump -p "$lib/tessera.dll" | grep -cE '\] tessera_') functions"

step "the C example built with CMake (MinGW) from the installed package, under wine"
printf 'set(CMAKE_SYSTEM_NAME Windows)\nset(CMAKE_C_COMPILER x86_64-w64-mingw32-gcc)\nset(CMAKE_CXX_COMPILER x86_64-w64-mingw32-g++)\nset(CMAKE_FIND_ROOT_PATH_MODE_PACKAGE BOTH)\n' > "$work/mingw.cmake"
cmake -S examples/c -B "$work/build-c" -DCMAKE_TOOLCHAIN_FILE="$work/mingw.cmake" \
    -DCMAKE_PREFIX_PATH="$work/prefix" -DCMAKE_BUILD_TYPE=Debug >/dev/null
cmake --build "$work/build-c" >/dev/null
cp "$work/prefix/bin/tessera.dll" "$work/build-c/"
now=$(date -u +%Y-%m-%dT%H:%M:%SZ)
until=$(date -u -d '+30 days' +%Y-%m-%dT%H:%M:%SZ)
printf '{"license_type":"time-limited","start_date":"%s","validity_period":"%s","product_details":{"short_code":"acme-cad"},"product_features":[{"code":"pdf-export"}]}' \
    "$now" "$until" | target/debug/tessera issue --key "$work/fx/vendor.key" --spec - --out "$work/now.lic" 2>/dev/null
for ex in quickstart quickstart_static; do
    scripts/wine-run.sh "$work/build-c/$ex.exe" "$(winpath "$work/fx/vendor.pub")" "$(winpath "$work/now.lic")" \
        "$(winpath "$work/state-$ex")" 2>&1 | tr -d '\r' >"$work/$ex.txt" || true
    cat "$work/$ex.txt"
    grep -q '^pdf-export: enabled$' "$work/$ex.txt"
done

step "tessera-relay as a Windows service under wine: install, start, a seat, stop, remove"
# Its Windows-only code (the service) is linted here, the rest everywhere.
cargo clippy --quiet -p tessera-relay --all-targets --target "$win" -- -D warnings
cargo build --quiet -p tessera-relay --target "$win"
cargo build --quiet -p tessera-relay --example seat
rexe=$root/target/$win/debug/tessera-relay.exe
rw=$work/relay-win
mkdir -p "$rw"
target/debug/tessera keygen --out-dir "$rw" --name vendor >/dev/null 2>&1
printf '{"id":"L-POOL","license_key":"TEST-ONLY-WINE-POOL","license_type":"perpetual","is_floating":true,"floating_users":3,"floating_timeout":30,"product_details":{"short_code":"acme-cad"}}' |
    target/debug/tessera issue --key "$rw/vendor.key" --spec - --out "$rw/pool.lic" 2>/dev/null
# Wine's output goes through a file, never a pipe: the services wine
# starts inherit it and would hold a pipe open.
wine_out() { scripts/wine-run.sh "$@" >"$rw/wine.txt" 2>&1; local rc=$?; tr -d '\r' <"$rw/wine.txt" | grep -v ':err:\|:fixme:' || true; return $rc; }
relay_win() { wine_out "$rexe" --dir "Z:$rw/relay" "$@"; }
relay_win init --product acme-cad --vendor-key "Z:$rw/vendor.pub" >/dev/null
target/debug/tessera relay delegate --key "$rw/vendor.key" --request "$rw/relay/relay.request" \
    --license "$rw/pool.lic" --out "$rw/grant" 2>/dev/null
relay_win import "Z:$rw/grant"
port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
# A wine session ends, its services with it, when its last program does:
# a persistent wineserver (started while none runs) keeps the service's
# session for the test.
wineserver() { WINEPREFIX=$root/target/wine /usr/lib/wine/wineserver "$@"; }
wineserver -k 2>/dev/null || true
wineserver -p 300 </dev/null >/dev/null 2>&1 &
sleep 1
# A service left by an interrupted run of this suite goes first.
relay_win service uninstall >/dev/null 2>&1 || true
relay_win service install --listen "127.0.0.1:$port"
wine_out net start tessera-relay || true
python3 - "$port" <<'PY'
import json, sys, time, urllib.request
for _ in range(150):
    try:
        status = json.load(urllib.request.urlopen(f"http://127.0.0.1:{sys.argv[1]}/status.json", timeout=2))
        break
    except OSError:
        time.sleep(0.2)
else:
    raise SystemExit("the relay service did not answer")
assert status["seats"] == 3 and status["in_use"] == 0, status
print(f"the service answers: {status['seats']} seats of {status['license_id']}")
PY
echo | TESSERA_TEST_VENDOR_PUB="$rw/vendor.pub" TESSERA_TEST_PRODUCT=acme-cad TESSERA_TEST_PRODUCT_KEY_HEX=00 \
    TESSERA_TEST_POOL_KEY=TEST-ONLY-WINE-POOL target/debug/examples/seat "http://127.0.0.1:$port" "$rw/ws" ws-1 | tee "$rw/seat.txt"
grep -qx seat "$rw/seat.txt" && grep -qx released "$rw/seat.txt"
wine_out net stop tessera-relay || true
relay_win service uninstall
relay_win status >"$rw/status.txt"
head -2 "$rw/status.txt"
if wine_out sc query tessera-relay | grep -q RUNNING; then
    echo "the service is still there" >&2
    exit 1
fi
wineserver -k || true

step "macOS: type-checked for both Apple targets"
for t in "${apple[@]}"; do
    # The network feature needs a C compiler for Apple's ABI (ring); the
    # offline SDK, its OS layer, the online half's API and the C library
    # without `online` do not.
    cargo clippy --quiet -p tessera-os -p tessera --features issuer,keygen,pkcs11,online-api,internals --all-targets --target "$t" -- -D warnings
    cargo clippy --quiet -p tessera-capi --no-default-features --features keygen,testing --target "$t" -- -D warnings
    echo "$t: clean"
done
