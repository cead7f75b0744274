#!/usr/bin/env bash
# Verifies a Tessera license file (or any armored document: a signed
# manifest, a lease) with nothing but coreutils and OpenSSL 3, following
# docs/FORMAT.md step by step. Prints the payload when it verifies.
# An illustration of the steps, NOT a strict verifier: it skips the armor's
# canonical-encoding rules and OpenSSL's Ed25519 check is not verify_strict
# (a small-order key forgery can pass it). Products verify with the SDK.
#   docs/example/verify-by-hand.sh docs/example/license.lic docs/example/vendor.pub
set -euo pipefail
lic=$1 pub=$2
work=$(mktemp -d); trap 'rm -rf "$work"' EXIT

# 1. Normalise CRLF and drop surrounding blank lines (the format allows both).
tr -d '\r' < "$lic" | sed '/./,$!d' > "$work/armor"

# 2. Headers: lines 2 to 4; the key id is the last word of line 4.
key_id=$(sed -n '4s/^Key-Id: //p' "$work/armor")

# 3. Body: the lines between the blank line 5 and the END line, joined and base64-decoded.
sed -n '6,$p' "$work/armor" | sed '$d' | tr -d '\n' | base64 -d > "$work/body"

# 4. The last 64 bytes are the signature; the rest is the JSON payload.
head -c -64 "$work/body" > "$work/payload.json"
tail -c 64 "$work/body" > "$work/sig"

# 5. The signed message: domain (with its NUL byte), the 8 key-id bytes, the
#    payload. The domain names the kind on the BEGIN line: TESSERA LICENSE
#    is tessera/v1/license/ed25519, TESSERA MANIFEST tessera/v1/manifest/ed25519.
kind=$(sed -n '1s/^-----BEGIN TESSERA \(.*\)-----$/\1/p' "$work/armor" | tr 'A-Z ' 'a-z-')
[ -n "$kind" ] || { echo "not a Tessera document" >&2; exit 1; }
{
  printf 'tessera/v1/%s/ed25519\0' "$kind"
  printf "$(printf '%s' "$key_id" | sed 's/../\\x&/g')"
  cat "$work/payload.json"
} > "$work/message"

# 6. The key id must be the first 8 bytes of SHA-256 over the raw 32-byte public key.
raw_id=$(openssl pkey -pubin -in "$pub" -outform DER | tail -c 32 | sha256sum | cut -c1-16)
[ "$raw_id" = "$key_id" ] || { echo "key id $key_id does not match the public key ($raw_id)" >&2; exit 1; }

# 7. Verify the Ed25519 signature over the message.
openssl pkeyutl -verify -pubin -inkey "$pub" -rawin -in "$work/message" -sigfile "$work/sig"
cat "$work/payload.json"; echo
