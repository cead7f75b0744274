#!/usr/bin/env bash
# The quickstart: the vendor's side and the product's side on one machine.
# Creates a throwaway signing key, issues a license valid for 30 days,
# inspects and verifies it with the CLI, validates it the way a product
# does, through the Rust API, today and on two later days, and shows this
# device's fingerprint. Then the online loop: the reference server on
# loopback, a product and license made through its admin API, and a device
# that activates, checks, consumes, borrows, goes offline, comes back and
# deactivates (examples/online.rs).
set -euo pipefail
cd "$(dirname "$0")/.."

# The first build compiles the SDK, the CLI, the server and their
# dependencies: several minutes on a small machine (about 6 on 2 cores, more
# when other work runs); later runs take seconds. Cargo shows its progress.
if [ ! -x target/debug/tessera-server ]; then
    echo "== Building the SDK, the CLI and the server (a first build takes several minutes; cargo's progress follows)"
fi
cargo build --workspace --all-features --bins --examples
bin=target/debug
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

iso() { date -u -d "$1" +%Y-%m-%dT%H:%M:%SZ; }
now=$(iso now)

step() { printf '\n== %s\n' "$*"; }

step "1. The vendor creates a throwaway signing key"
"$bin/tessera" keygen --out-dir "$work" --name vendor

step "2. The vendor issues a 30-day license for product acme-cad with 48 hours of grace"
cat > "$work/spec.json" <<JSON
{
  "license_key": "QUICK-START-DEMO-KEY",
  "license_type": "time-limited",
  "start_date": "$now",
  "validity_period": "$(iso '+30 days')",
  "allow_grace_period": true,
  "grace_period": 48,
  "max_activations": 2,
  "product_details": {"product_name": "Acme CAD", "short_code": "acme-cad"},
  "product_features": [
    {"code": "pdf-export", "name": "PDF export"},
    {"code": "beta-tools", "name": "Beta tools", "expiry_date": "$(iso '+7 days')"}
  ],
  "customer": {"email": "ops@example.com", "company_name": "Example GmbH"}
}
JSON
"$bin/tessera" issue --key "$work/vendor.key" --spec "$work/spec.json" --out "$work/license.lic"
cat "$work/license.lic"

step "3. Support inspects it"
"$bin/tessera" inspect "$work/license.lic" --key "$work/vendor.pub"

step "4. The CLI verifies it (exit code 0 = usable)"
"$bin/tessera" verify "$work/license.lic" --key "$work/vendor.pub" --product acme-cad

step "5. The product validates it offline through the Rust API: today"
"$bin/examples/validate" "$work/license.lic" "$work/vendor.pub" acme-cad

step "6. ... in 31 days: past the validity period, inside the grace period"
"$bin/examples/validate" "$work/license.lic" "$work/vendor.pub" acme-cad "$(iso '+31 days')"

step "7. ... in 33 days: grace is over, the product refuses to run"
if "$bin/examples/validate" "$work/license.lic" "$work/vendor.pub" acme-cad "$(iso '+33 days')"; then
    echo "unexpected: an expired license was accepted" >&2
    exit 1
fi

step "8. This device's fingerprint (salted hashes) and what VM detection sees"
"$bin/tessera" fingerprint --product acme-cad

step "9. A tampered file is refused"
sed '7s/./x/5' "$work/license.lic" > "$work/tampered.lic"
if "$bin/tessera" verify "$work/tampered.lic" --key "$work/vendor.pub"; then
    echo "unexpected: a tampered file was accepted" >&2
    exit 1
fi

step "10. Online: the reference server, the admin API and the SDK's online half, the whole loop"
"$bin/examples/online" "$bin/tessera-server"

printf '\nquickstart finished: every step behaved as expected\n'
