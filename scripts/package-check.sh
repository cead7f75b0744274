#!/usr/bin/env bash
# The Rust crates as crates.io would take them: `cargo publish --dry-run`
# of the workspace (each crate packaged, then built from its package alone,
# the workspace's unpublished crates from a local registry), then each
# package's contents listed and checked:
#   - nothing of the tests, fixtures, benches, bindings, fuzzing or scripts;
#   - no private key of any kind (the named throwaway test keys live under
#     tests/ and stay there);
#   - the licence texts beside the SDK crate;
# and each package's size reported. tessera-capi is not a crate for
# crates.io (`publish = false`): the C SDK ships as archives.
# Needs the crates.io index (network), as every cargo build here does.
set -euo pipefail
cd "$(dirname "$0")/.."

cargo publish --dry-run --workspace --allow-dirty --quiet 2>&1 |
    grep -vE '^(warning: (aborting upload due to dry run|crate tessera@.* already exists on crates.io index))$' || true
dir=target/package/tmp-crate
status=0
printf '%-16s %6s %10s %12s\n' crate files packaged compressed
for crate in "$dir"/*.crate; do
    name=$(basename "$crate" .crate)
    root=$name/
    list=$(tar tzf "$crate" | sed "s|^$root||")
    files=$(echo "$list" | wc -l)
    unpacked=$(tar xzf "$crate" -O | wc -c)
    printf '%-16s %6d %9d B %10d B\n' "${name%-*}" "$files" "$unpacked" "$(stat -c %s "$crate")"
    stray=$(echo "$list" | grep -E '^(tests|benches|fuzz|bindings|scripts|examples/(c|cpp|python|specs)|\.ci)/' || true)
    if [ -n "$stray" ]; then
        echo "  $name packages what a user does not need:" >&2
        echo "$stray" | sed 's/^/    /' >&2
        status=1
    fi
    # A private key only as a named throwaway of a unit test (format::keys
    # holds two, OPENSSL_TEST_ONLY_KEY and v2_test_only_key); any other is
    # a leak.
    for f in $list; do
        text=$(tar xzf "$crate" -O "$root$f" 2>/dev/null || true)
        case "$text" in *"PRIVATE KEY-----"*) ;; *) continue ;; esac
        if grep -qiE 'test_only' <<<"$text"; then
            echo "  $name: $f holds throwaway test keys, named as such"
        else
            echo "  $name packages a private key in $f" >&2
            status=1
        fi
    done
done
sdk=$(tar tzf "$dir"/tessera-0.1.0.crate)
for f in LICENSE-APACHE LICENSE-MIT README.md CHANGELOG.md; do
    grep -qx "tessera-0.1.0/$f" <<<"$sdk" || {
        echo "  tessera's package lacks $f" >&2
        status=1
    }
done
exit $status
