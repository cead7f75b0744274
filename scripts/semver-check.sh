#!/usr/bin/env bash
# The Rust API against the last release, with cargo-semver-checks (pinned;
# installed into target/tools on first use, about six minutes of build):
#
#   scripts/semver-check.sh                check `tessera` and `tessera-os`
#   scripts/semver-check.sh --install-only only install the tool
#
# The last release is the commit in scripts/semver-baseline (moved there
# when a release is cut, with capi/abi/: docs/VERSIONING.md). The API is
# what a product can name: every feature but `internals` and `schema`,
# which carry no promise. A change the version does not allow fails.
set -euo pipefail
cd "$(dirname "$0")/.."
version=0.51.0
tool=target/tools/bin/cargo-semver-checks
if ! "$tool" --version 2>/dev/null | grep -qx "cargo-semver-checks $version"; then
    echo "semver-check: installing cargo-semver-checks $version into target/tools"
    cargo install --quiet --locked --root target/tools --version "$version" cargo-semver-checks
fi
[ "${1:-}" = --install-only ] && exit 0
baseline=$(grep -v '^#' scripts/semver-baseline | head -1)
git cat-file -e "$baseline^{commit}" 2>/dev/null || {
    echo "semver-check: the baseline commit $baseline is not in this clone (fetch the full history)" >&2
    exit 1
}
"$tool" semver-checks check-release --baseline-rev "$baseline" -p tessera \
    --only-explicit-features --features fast,issuer,pkcs11,online,online-api,keygen
"$tool" semver-checks check-release --baseline-rev "$baseline" -p tessera-os
