#!/usr/bin/env bash
# The Python suite: a fresh virtual environment, `pip install` of
# bindings/python (its build step runs cargo; the debug build the Rust suites
# made is reused), pytest against the installed package, then
# examples/python/quickstart.py. Needs network access to PyPI for pytest and
# the build backend (setuptools, wheel).
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD

cargo build --quiet -p tessera-cli
# The online tests and example run against the real server and the fault
# proxy, which tests/online/harness.py starts.
cargo build --quiet -p tessera-server --bin tessera-server --example fault_proxy --example idp -p tessera-relay --bin tessera-relay
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# Sixty clients through the relay (bindings/python/tests/test_relay.py):
# twenty of them C, twenty Rust.
cargo build --quiet -p tessera-relay --example seat
cargo build --quiet -p tessera-capi --features testing
# The SONAME the program records, as scripts/c-tests.sh provides it.
ln -sf libtessera.so target/debug/libtessera.so.0
gcc -std=c11 -Wall -Wextra -Werror -Iinclude tests/c/relay_seat.c -o "$work/relay_seat" \
    -Ltarget/debug -Wl,-rpath,"$root/target/debug" -ltessera
export TESSERA_RELAY_SEAT_C=$work/relay_seat TESSERA_RELAY_SEAT_RUST=$root/target/debug/examples/seat

python3 -m venv "$work/venv"
py=$work/venv/bin/python
"$py" -m pip install --quiet --disable-pip-version-check "pytest>=7,<9"
TESSERA_CARGO_PROFILE=dev TESSERA_CARGO_FEATURES=testing "$py" -m pip install --quiet --disable-pip-version-check "$root/bindings/python"

# From outside the source tree, so `import tessera` is the installed package.
cd "$work"
TESSERA_EXPECT_INSTALLED=1 TESSERA_CLI="$root/target/debug/tessera" TESSERA_REQUIRE_ONLINE=1 \
    python3 "$root/tests/online/harness.py" "$root/target/debug" "$work/online" run \
    "$py" -m pytest -q -p no:cacheprovider "$root/bindings/python/tests"

echo "-- examples/webhooks/receiver.py --selftest (docs/PROTOCOL.md's worked example)"
"$py" -m pip install --quiet --disable-pip-version-check "cryptography>=42,<50"
"$py" "$root/examples/webhooks/receiver.py" --selftest

echo "-- examples/python/quickstart.py"
cli=$root/target/debug/tessera
"$cli" keygen --out-dir "$work" --name vendor >/dev/null 2>&1
printf '{"license_type":"time-limited","start_date":"%s","validity_period":"%s","product_details":{"short_code":"acme-cad"},"product_features":[{"code":"pdf-export"}],"customer":{"company_name":"Example GmbH"}}' \
    "$(date -u +%Y-%m-%dT%H:%M:%SZ)" "$(date -u -d '+30 days' +%Y-%m-%dT%H:%M:%SZ)" |
    "$cli" issue --key "$work/vendor.key" --spec - --out "$work/license.lic" 2>/dev/null
"$py" "$root/examples/python/quickstart.py" "$work/vendor.pub" "$work/license.lic" "$work/state"

echo "-- examples/python/online.py (the server stopped and started again by the harness)"
python3 "$root/tests/online/harness.py" "$root/target/debug" "$work/online-example" example \
    "$py" "$root/examples/python/online.py" {url} {product} {product_key} {license_key} {vendor_pub} {state}
