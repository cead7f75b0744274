#!/usr/bin/env bash
# Makes the fixtures of the C and C++ tests with the vendor CLI:
#   tests/c/fixtures.sh TESSERA_CLI DIR
# Every license is issued at 2030-01-01T00:00:00Z for product `acme`; the
# tests freeze the SDK's clock, so nothing depends on the day they run.
# The keys are throwaway test keys, made fresh each run.
set -euo pipefail
cli=$1
dir=$2
mkdir -p "$dir"
at=2030-01-01T00:00:00Z
"$cli" keygen --out-dir "$dir" --name vendor >/dev/null
# Two public Keygen samples (docs/MIGRATING.md): a license file that never
# expires and a machine file.
vectors="$(dirname "$0")/../vectors/keygen"
cp "$vectors/js_license_files_examples_license.lic" "$dir/keygen.lic"
cp "$vectors/rust_machine_files_examples_machine.lic" "$dir/keygen-machine.lic"
# Every decryptable public vector, copied as keygen-N.lic, and a line each in
# keygen-vectors.txt: name, license key, Keygen product, machine fingerprint
# (- for a license file), and a second after its issue time (Unix seconds).
python3 - "$vectors" "$dir" > "$dir/keygen-vectors.txt" <<'PY'
import datetime, json, shutil, sys
folder, out = sys.argv[1], sys.argv[2]
with open(f"{folder}/decrypt_expectations.json") as f:
    expectations = json.load(f)
for n, e in enumerate(expectations):
    with open(f"{folder}/{e['file']}.plaintext.json") as f:
        plain = json.load(f)
    data = plain["data"]
    lic = data if data["type"] == "licenses" else next(i for i in plain["included"] if i["type"] == "licenses")
    fingerprint = data["attributes"]["fingerprint"] if data["type"] == "machines" else "-"
    issued = datetime.datetime.fromisoformat(e["meta"]["issued"].replace("Z", "+00:00"))
    shutil.copy(f"{folder}/{e['file']}", f"{out}/keygen-{n}.lic")
    product = lic["relationships"]["product"]["data"]["id"]
    print(f"keygen-{n}.lic {e['license_key_in_payload']} {product} {fingerprint} {int(issued.timestamp()) + 1}")
PY
"$cli" keygen --out-dir "$dir" --name other >/dev/null

issue() { # KEY OUT SPEC
    printf '%s' "$3" | "$cli" issue --key "$dir/$1.key" --spec - --at "$at" --out "$dir/$2" >/dev/null
}

time_limited() { # ID PRODUCT VALID_UNTIL
    cat <<JSON
{
  "id": "$1",
  "license_key": "TEST-ONLY-C-ABI",
  "license_type": "time-limited",
  "start_date": "$at",
  "validity_period": "$3",
  "expires_at": "2030-04-01T00:00:00Z",
  "allow_grace_period": true,
  "grace_period": 48,
  "product_details": {"product_name": "Acme CAD", "short_code": "$2"},
  "customer": {"email": "ops@example.com", "company_name": "Example GmbH", "first_name": "Ada"},
  "product_features": [
    {"code": "pdf-export", "name": "PDF export"},
    {"code": "beta-tools", "name": "Beta tools", "expiry_date": "2030-01-11T00:00:00Z"}
  ]
}
JSON
}

issue vendor license.lic "$(time_limited C-ABI-0001 acme 2031-01-01T00:00:00Z)"
issue other foreign.lic "$(time_limited C-ABI-0001 acme 2031-01-01T00:00:00Z)"
issue vendor expired.lic "$(time_limited C-ABI-0003 acme 2030-01-15T00:00:00Z)"
issue vendor other-product.lic "$(time_limited C-ABI-0004 other 2031-01-01T00:00:00Z)"
issue vendor consumption.lic '{
  "id": "C-ABI-0002",
  "license_type": "consumption",
  "validity_period": "2031-01-01T00:00:00Z",
  "max_consumptions": 5,
  "reset_consumption": true,
  "consumption_period": "monthly",
  "product_details": {"short_code": "acme"},
  "product_features": [
    {"code": "ocr", "feature_type": "consumption", "allow_unlimited_consumptions": true}
  ]
}'

# Offline activation: the spec the vendor answers requests with.
cat > "$dir/offline-spec.json" <<'JSON'
{
  "id": "C-ABI-OFFLINE",
  "license_key": "TEST-ONLY-C-ABI",
  "license_type": "time-limited",
  "validity_period": "2031-01-01T00:00:00Z",
  "product_details": {"short_code": "acme"}
}
JSON
# Air-gapped activation: the signed policy and the vendor secret (test only).
issue vendor airgap.lic '{
  "id": "C-ABI-AIRGAP",
  "license_type": "perpetual",
  "is_air_gapped": true,
  "product_details": {"short_code": "acme"}
}'
printf 'test-only air-gap vendor secret' > "$dir/vendor.secret"
