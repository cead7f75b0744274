#!/usr/bin/env bash
# Runs a Windows program under wine: cargo's runner for x86_64-pc-windows-gnu
# (scripts/windows-tests.sh sets CARGO_TARGET_X86_64_PC_WINDOWS_GNU_RUNNER to
# this file). The wine prefix is the project's own, under target/wine, made
# on first use with the stand-in for bcryptprimitives.dll that wine 8.0
# lacks (scripts/wine/bcryptprimitives.c).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
export WINEPREFIX="${WINEPREFIX:-$root/target/wine}"
export WINEDEBUG="${WINEDEBUG:--all}"
wine=$(command -v wine64 || true)
[ -n "$wine" ] || wine=/usr/lib/wine/wine64
if [ ! -x "$wine" ]; then
    echo "wine-run: wine64 is missing (Debian: apt-get install wine wine64)" >&2
    exit 127
fi
shim="$WINEPREFIX/drive_c/windows/system32/bcryptprimitives.dll"
if [ ! -f "$shim" ]; then
    mkdir -p "$WINEPREFIX"
    "$wine" wineboot --init >/dev/null 2>&1 || true
    x86_64-w64-mingw32-gcc -shared -O2 -o "$shim" \
        "$root/scripts/wine/bcryptprimitives.c" "$root/scripts/wine/bcryptprimitives.def" -lbcrypt
fi
exec "$wine" "$@"
