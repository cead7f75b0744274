#!/usr/bin/env bash
# The browser suite (docs/CONSOLE.md): the console and the portal in
# headless Chromium through WebDriver (selenium, pinned below), against the
# real server that tests/online/harness.py starts. Screenshots of every page
# visited go to the folder named by TESSERA_SCREENSHOTS (default
# target/screenshots), for a person to look at.
#
# Needs Debian's chromium and chromium-driver (scripts/setup.sh installs
# them) and PyPI for selenium.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD

for tool in /usr/bin/chromium /usr/bin/chromedriver; do
    if [ ! -x "${TESSERA_CHROMIUM:-$tool}" ] && [ ! -x "$tool" ]; then
        echo "browser-tests: $tool is missing: apt-get install chromium chromium-driver (scripts/setup.sh does)" >&2
        exit 1
    fi
done

cargo build --quiet -p tessera-cli
cargo build --quiet -p tessera-server --bin tessera-server --example fault_proxy --example idp --example device \
    -p tessera-relay --bin tessera-relay

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
python3 -m venv "$work/venv"
"$work/venv/bin/python" -m pip install --quiet --disable-pip-version-check "selenium==4.38.0"

export TESSERA_SCREENSHOTS=${TESSERA_SCREENSHOTS:-$root/target/screenshots}
rm -rf "$TESSERA_SCREENSHOTS"
mkdir -p "$TESSERA_SCREENSHOTS"
# Selenium finds no driver of its own: the one given is Debian's.
export SE_OFFLINE=true
python3 tests/online/harness.py "$root/target/debug" "$work/online" run \
    "$work/venv/bin/python" "$root/tests/browser/faces.py" "$root/target/debug"
echo "browser-tests: screenshots in $TESSERA_SCREENSHOTS"
