#!/usr/bin/env bash
# Runs every test suite of the project, building once and reusing the build.
# Each suite runs even if an earlier one failed; the last line sums them up.
#
#   scripts/test.sh               every suite
#   scripts/test.sh python rust   only the suites named
#   scripts/test.sh --list        the suites' names, one a line
set -uo pipefail
cd "$(dirname "$0")/.."

listing=0
chosen=()
for arg in "$@"; do
    case "$arg" in
    --list) listing=1 ;;
    -h | --help)
        sed -n '2,8p' "$0" | sed 's/^# \{0,1\}//'
        exit 0
        ;;
    -*)
        echo "test.sh: unknown option $arg (try --list)" >&2
        exit 2
        ;;
    *) chosen+=("$arg") ;;
    esac
done

# One build, made once: incremental compilation only helps a build made
# again and again, and here it doubled the disk the build takes.
export CARGO_INCREMENTAL="${CARGO_INCREMENTAL:-0}"

# Set-up: the system packages the suites need (scripts/setup.sh installs
# them with apt-get, or names what is missing and stops).
[ "$listing" -eq 1 ] || ./scripts/setup.sh || exit 1

# Will `name` run (every suite when none is named)?
chosen_or_all() {
    [ "${#chosen[@]}" -eq 0 ] || [[ " ${chosen[*]} " == *" $1 "* ]]
}

# The tools built from crates.io (cargo-semver-checks about six minutes,
# cargo-fuzz about one and a half) are built at the lowest priority while
# the first suites run, on the CPU those leave idle; the suites that use
# them wait for their build.
prefetch_log=$(mktemp -d)
semver_tools=
fuzz_tools=
if [ "$listing" -eq 0 ]; then
    if chosen_or_all semver; then
        nice -n 19 scripts/semver-check.sh --install-only >"$prefetch_log/semver.log" 2>&1 &
        semver_tools=$!
    fi
    if chosen_or_all fuzz-smoke; then
        nice -n 19 scripts/fuzz-tools.sh >"$prefetch_log/fuzz.log" 2>&1 &
        fuzz_tools=$!
    fi
fi
# Waits for a prefetch; its log when it failed.
prefetched() {
    [ -n "$1" ] || return 0
    wait "$1" && return 0
    echo "building $2 failed:" >&2
    cat "$prefetch_log/$2.log" >&2
    return 1
}

passed=0
failed=0
failures=()
known=()
timings=()
suite() {
    local name=$1
    shift
    known+=("$name")
    if [ "$listing" -eq 1 ]; then
        echo "$name"
        return 0
    fi
    if [ "${#chosen[@]}" -gt 0 ] && [[ " ${chosen[*]} " != *" $name "* ]]; then
        return 0
    fi
    printf '\n==> %s: %s\n' "$name" "$*"
    local started=$SECONDS
    if "$@"; then
        passed=$((passed + 1))
    else
        failed=$((failed + 1))
        failures+=("$name")
    fi
    timings+=("$(printf '%5d s  %s' $((SECONDS - started)) "$name")")
}

suite format cargo fmt --all -- --check
suite clippy cargo clippy --workspace --all-targets --all-features -- -D warnings
# The product's build: no vendor code, no network code.
suite clippy-product cargo clippy -p tessera --all-targets --no-default-features -- -D warnings
# The server without the seeds' APIs (its `compat` feature off): Tessera's
# own API and the router's fallbacks stand alone.
suite clippy-server-alone cargo clippy -p tessera-server --no-default-features -- -D warnings
# --no-fail-fast: one failing test binary does not hide the others.
suite rust cargo test --workspace --all-features --no-fail-fast
# The server's suites again on PostgreSQL, in a throwaway cluster
# (scripts/pg.sh; without fsync, which no test needs), the multi-instance
# tests among them.
server_postgres() {
    local dir url rc
    dir=$(mktemp -d)
    url=$(scripts/pg.sh start "$dir" -c fsync=off -c synchronous_commit=off -c full_page_writes=off) || {
        rm -rf "$dir"
        return 1
    }
    TESSERA_TEST_POSTGRES=$url cargo test -p tessera-server --all-features --no-fail-fast
    rc=$?
    scripts/pg.sh stop "$dir"
    rm -rf "$dir"
    return $rc
}
suite server-postgres server_postgres
# The API docs build without a warning (broken links, missing docs), as
# docs.rs would (every feature), and as a product's build sees them (without
# `internals`, whose modules a link must not need). A product's pages name
# no type of another crate (docs/DECISIONS.md): its dates are tessera::Time,
# its metadata tessera::license::Metadata.
api_docs() {
    RUSTDOCFLAGS="-D warnings" cargo doc -p tessera --no-deps --all-features || return 1
    rm -rf target/doc/tessera
    RUSTDOCFLAGS="-D warnings" cargo doc -p tessera --no-deps --features online,keygen,pkcs11,issuer || return 1
    local leaked
    local foreign='title="[a-z ]+ (chrono|serde_json|ed25519_dalek|reqwest|schemars|ureq|rustls)::[A-Za-z_:]+"'
    leaked=$(grep -rlE "$foreign" target/doc/tessera --include='*.html' |
        xargs -r grep -L 'Redirection' || true)
    if [ -n "$leaked" ]; then
        echo "a third-party type in the product's API:" >&2
        for f in $leaked; do
            echo "  $f: $(grep -oE "$foreign" "$f" | sort -u | tr '\n' ' ')" >&2
        done
        return 1
    fi
}
suite docs api_docs
suite quickstart ./scripts/quickstart.sh
# include/tessera.h must be what the pinned cbindgen makes of capi/src/.
suite header ./scripts/header.sh
# server/openapi.json must be what the server makes of its types and table.
suite openapi ./scripts/openapi.sh
# The crates as crates.io would take them: packaged, built from the
# package alone, and nothing in them a user does not need (no tests, no
# fixtures, no private key but unit tests' named throwaways).
suite package ./scripts/package-check.sh
# The C ABI against its baseline (capi/abi/): additions move
# TESSERA_ABI_VERSION, a break moves the SONAME (docs/VERSIONING.md).
suite abi ./scripts/abi-check.sh
# The Rust API against the last release (scripts/semver-baseline), with
# cargo-semver-checks, pinned (docs/VERSIONING.md).
semver_check() {
    prefetched "$semver_tools" semver || return 1
    ./scripts/semver-check.sh
}
suite semver semver_check
# The C library's smallest build: under 1 MB, every export, online refused.
suite smallest-build ./scripts/smallest-build.sh
# C and C++: the header alone, every export (plain, valgrind, ASan+UBSan),
# the C++ wrapper, the examples built with pkg-config and CMake.
suite c-and-cpp ./scripts/c-tests.sh
# Python: pip install of bindings/python into a fresh venv, pytest, the example.
suite python ./scripts/python-tests.sh
# LicenseSpring's official Python library, pinned and unchanged, against the
# server (seed 003's own client), on SQLite and on PostgreSQL.
suite licensespring-client ./scripts/licensespring-client.sh
# The console and the portal in headless Chromium through WebDriver (every
# role's flows end to end; screenshots in target/screenshots, docs/CONSOLE.md).
suite browser ./scripts/browser-tests.sh
# The server against its own OpenAPI document: schemathesis over loopback.
suite api-fuzz ./scripts/api-fuzz.sh
# Every benchmark once, briefly, so none rots: criterion's --quick on the
# debug build the suites share, and the bench scripts' --quick runs (their
# figures measure nothing; docs/C-API.md and docs/PROTOCOL.md say how to
# measure). benches/keygen-compare is left to a run by hand: it builds
# keygen-rs and its HTTP stack in a tree of its own, several minutes.
benches() {
    cargo bench --profile dev --all-features --bench verify --bench runtime --bench device --bench download \
        -- --quick --noplot || return 1
    scripts/bench-python.sh --quick || return 1
    scripts/bench-server.sh --quick || return 1
    scripts/bench-relay.sh --quick || return 1
    scripts/bench-webhooks.sh --quick || return 1
    scripts/bench-pages.sh --quick || return 1
    echo "benches/keygen-compare: not run here (cd benches/keygen-compare && cargo bench)"
}
suite benches benches
# Windows under wine (the SDK's suites, `tessera fingerprint`, tessera.dll
# and the C test built with MinGW) and macOS type-checked for both targets.
suite windows-and-macos ./scripts/windows-tests.sh
# A release's artefacts (scripts/dist.sh: C archives for Linux, glibc 2.17,
# and Windows, manylinux and win_amd64 wheels, SBOMs, signed sums), each
# used as a product would: unpacked elsewhere and built against, the DLL
# under wine, the wheel installed with no compiler and no cargo.
suite dist ./scripts/dist-check.sh
# docs/FORMAT.md's recipe verifies its example with OpenSSL alone, and refuses a tampered copy.
format_by_hand() {
    docs/example/verify-by-hand.sh docs/example/license.lic docs/example/vendor.pub >/dev/null || return 1
    local tampered
    tampered=$(mktemp)
    sed '7s/A/B/' docs/example/license.lic >"$tampered"
    if docs/example/verify-by-hand.sh "$tampered" docs/example/vendor.pub >/dev/null 2>&1; then
        rm -f "$tampered"
        echo "the recipe accepted a tampered file" >&2
        return 1
    fi
    rm -f "$tampered"
    # A release's signed sums, by the same recipe (its own domain).
    local work
    work=$(mktemp -d)
    target/debug/tessera keygen --out-dir "$work" --name release >/dev/null 2>&1 || return 1
    (cd "$work" && sha256sum release.pub >SHA256SUMS) || return 1
    target/debug/tessera sign-manifest --key "$work/release.key" --sums "$work/SHA256SUMS" \
        --out "$work/SHA256SUMS.tessera" 2>/dev/null || return 1
    docs/example/verify-by-hand.sh "$work/SHA256SUMS.tessera" "$work/release.pub" >"$work/out" &&
        grep -qxF -f "$work/SHA256SUMS" "$work/out" || {
        echo "the recipe did not verify a signed manifest to its sums" >&2
        rm -rf "$work"
        return 1
    }
    rm -rf "$work"
}
suite format-by-hand format_by_hand

# Fuzz smoke: every target for a few seconds from the committed seeds, in a
# scratch corpus (the long runs and their findings: docs/FUZZING.md).
fuzz_smoke() {
    # Set-up: cargo-fuzz, pinned (built at the start, scripts/fuzz-tools.sh).
    prefetched "$fuzz_tools" fuzz || return 1
    scripts/fuzz-tools.sh || return 1
    # --dev: about half the release build's time; the smoke proves the
    # targets build and their seeds pass (docs/FUZZING.md).
    (cd fuzz && cargo fuzz build -s none --dev) || return 1
    local t scratch
    scratch=$(mktemp -d)
    for t in $(cd fuzz && cargo fuzz list); do
        mkdir -p "$scratch/$t"
        (cd fuzz && cargo fuzz run -s none --dev "$t" "$scratch/$t" "seeds/$t" -- \
            -dict=armor.dict -max_total_time="${FUZZ_SECONDS:-3}" -max_len=8192) >"$scratch/$t.log" 2>&1 || {
            echo "fuzz target $t failed:" >&2
            tail -30 "$scratch/$t.log" >&2
            rm -rf "$scratch"
            return 1
        }
        echo "fuzz $t: $(grep -E '^Done' "$scratch/$t.log")"
    done
    rm -rf "$scratch"
}
suite fuzz-smoke fuzz_smoke

[ "$listing" -eq 1 ] && exit 0
# A name that is no suite is an error, not a silent pass.
for name in "${chosen[@]}"; do
    if [[ " ${known[*]} " != *" $name "* ]]; then
        echo "test.sh: no suite is called $name; the suites are: ${known[*]}" >&2
        failed=$((failed + 1))
        failures+=("$name")
    fi
done
if [ "${#timings[@]}" -gt 0 ]; then
    printf '\nsuite times:\n'
    printf '%s\n' "${timings[@]}"
fi
if [ "$failed" -ne 0 ]; then
    printf '\nfailed suites: %s\n' "${failures[*]}"
fi
echo "suites: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
