#!/usr/bin/env bash
# Installs the system packages the test suites need, idempotent and quiet:
# compilers, valgrind and the build tools of the C and C++ suites, SoftHSM2
# for the hardware-key tests, python3-venv for the Python suite, openssl to
# read the keys the CLI writes, MinGW-w64 and wine for the Windows suite
# (scripts/windows-tests.sh), PostgreSQL for the server's second backend
# (a throwaway cluster, scripts/pg.sh), abigail-tools for the C ABI's
# check against its baseline (scripts/abi-check.sh), Chromium and its
# WebDriver for the browser suite (scripts/browser-tests.sh). Uses
# apt-get when it runs as root (or with password-less sudo) on a Debian-like
# machine; otherwise it names the missing packages and fails. Tools from
# crates.io (cbindgen, cargo-fuzz) are installed, pinned, by the suite that
# needs them.
set -euo pipefail

packages=(gcc g++ make valgrind pkg-config cmake softhsm2 python3-venv openssl gcc-mingw-w64-x86-64 wine wine64 postgresql abigail-tools systemd chromium chromium-driver)
missing=()
for p in "${packages[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[ "${#missing[@]}" -eq 0 ] && exit 0

fail() {
    echo "setup: the tests need these packages, which could not be installed: ${missing[*]}" >&2
    echo "setup: install them (Debian: apt-get install ${missing[*]}) and run again" >&2
    exit 1
}
sudo=()
if [ "$(id -u)" -ne 0 ]; then
    command -v sudo >/dev/null && sudo -n true 2>/dev/null || fail
    sudo=(sudo -n)
fi
command -v apt-get >/dev/null || fail
echo "setup: installing ${missing[*]} (apt-get)"
"${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -qq || fail
"${sudo[@]}" env DEBIAN_FRONTEND=noninteractive \
    apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null || fail
