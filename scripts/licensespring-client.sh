#!/usr/bin/env bash
# LicenseSpring's official Python library, pinned (tests/licensespring/
# requirements.txt) in a fresh venv and unchanged, against the real server
# on loopback: on SQLite, then on PostgreSQL in a throwaway cluster
# (scripts/pg.sh). tests/licensespring/official_client.py says what it
# checks; docs/COMPAT.md, "LicenseSpring's SDK against Tessera", what a
# product changes. Needs network access to PyPI for the library.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
# The binaries the harness starts (reused from the Rust suites' build).
cargo build --quiet -p tessera-server -p tessera-cli --example fault_proxy --example idp -p tessera-relay --bin tessera-relay

work=$(mktemp -d)
# The cluster's directory of its own: pg.sh hands it to the postgres user.
pg=$(mktemp -d)
started=
cleanup() {
    if [ -n "$started" ]; then scripts/pg.sh stop "$pg" || true; fi
    rm -rf "$work" "$pg"
}
trap cleanup EXIT

python3 -m venv "$work/venv"
py=$work/venv/bin/python
"$py" -m pip install --quiet --disable-pip-version-check -r tests/licensespring/requirements.txt
"$py" -c 'import importlib.metadata as m; v = m.version("licensespring"); assert v == "4.0.0", v'

echo "-- LicenseSpring's library against the server on SQLite"
python3 tests/online/harness.py target/debug "$work/sqlite" run \
    "$py" tests/licensespring/official_client.py

echo "-- LicenseSpring's library against the server on PostgreSQL"
url=$(scripts/pg.sh start "$pg" -c fsync=off)
started=1
TESSERA_HARNESS_DATABASE=$url python3 tests/online/harness.py target/debug "$work/postgres" run \
    "$py" tests/licensespring/official_client.py
