//! How a request proves it comes from a copy of the product: the HMAC over
//! its date, method, path, body and nonce, under the product's shared key.
//!
//! A request carries `Date` (an HTTP date), `Tessera-Nonce` (16 to 64
//! characters from `[0-9A-Za-z_-]`) and
//! `Authorization: Tessera-HMAC-SHA256 product=<code>, signature=<base64>`,
//! the HMAC-SHA256 under the product's shared key of
//! `date \n METHOD \n path \n hex(SHA-256(body)) \n nonce`
//! ([`request_string`]). The server refuses a date more than its skew away
//! from its clock.

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine as _;
use hmac::{Hmac, Mac as _};
use sha2::{Digest, Sha256};

use crate::error::{Error, Result};

/// The scheme name at the start of the `Authorization` header.
pub const SCHEME: &str = "Tessera-HMAC-SHA256";

/// The string a request's HMAC covers.
pub fn request_string(date: &str, method: &str, path: &str, body: &[u8], nonce: &str) -> String {
    let digest = hex::encode(Sha256::digest(body));
    format!("{date}\n{method}\n{path}\n{digest}\n{nonce}")
}

/// The base64 HMAC-SHA256 of `message` under `key`.
pub fn sign(key: &[u8], message: &str) -> Result<String> {
    let mut mac = Hmac::<Sha256>::new_from_slice(key)
        .map_err(|_| Error::InvalidArgument("the product key is unusable"))?;
    mac.update(message.as_bytes());
    Ok(B64.encode(mac.finalize().into_bytes()))
}

/// The `Authorization` header's value for `product` and a signature from
/// [`sign`].
pub fn authorization(product: &str, signature: &str) -> String {
    format!("{SCHEME} product={product}, signature={signature}")
}

/// Parses an `Authorization` header into its product code and signature.
pub fn parse_authorization(value: &str) -> Option<(&str, &str)> {
    let rest = value.strip_prefix(SCHEME)?.strip_prefix(' ')?;
    let mut product = None;
    let mut signature = None;
    for part in rest.split(',') {
        let (k, v) = part.trim().split_once('=')?;
        match k {
            "product" if product.is_none() => product = Some(v),
            "signature" if signature.is_none() => signature = Some(v),
            _ => return None,
        }
    }
    Some((product?, signature?))
}

/// Whether `signature` (base64) is the HMAC of `message` under `key`,
/// compared in constant time.
pub fn signature_matches(key: &[u8], message: &str, signature: &str) -> bool {
    let Ok(given) = B64.decode(signature) else {
        return false;
    };
    let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(key) else {
        return false;
    };
    mac.update(message.as_bytes());
    mac.verify_slice(&given).is_ok()
}

/// The header that carries a device's proof: its Ed25519 signature, in
/// base64, of [`DEVICE_PROOF_DOMAIN`] followed by the request string.
/// Every request that acts on an activated device carries it; the server
/// checks it with the device key recorded at the activation.
pub const DEVICE_SIGNATURE_HEADER: &str = "tessera-device-signature";

/// What a device's proof signs before the request string, so that no
/// other signature by the same key passes for one.
pub const DEVICE_PROOF_DOMAIN: &[u8] = b"tessera/v1/device-proof\0";

fn device_proof_message(request_string: &str) -> Vec<u8> {
    [DEVICE_PROOF_DOMAIN, request_string.as_bytes()].concat()
}

/// The base64 proof of the device whose key's 32-byte seed is
/// `device_seed` for the request `request_string` (a test client's, or a
/// fuzzer's; the SDK signs with the key it keeps).
pub fn sign_device_proof(device_seed: &[u8; 32], request_string: &str) -> String {
    sign_device_proof_with(
        &ed25519_dalek::SigningKey::from_bytes(device_seed),
        request_string,
    )
}

/// [`sign_device_proof`] with the key itself.
pub(crate) fn sign_device_proof_with(
    key: &ed25519_dalek::SigningKey,
    request_string: &str,
) -> String {
    use ed25519_dalek::Signer as _;
    B64.encode(key.sign(&device_proof_message(request_string)).to_bytes())
}

/// Whether `signature` (base64) proves the request `request_string` comes
/// from the device whose public key is `device_key` (base64 of 32 bytes);
/// `verify_strict`, and false for anything malformed.
pub fn device_proof_matches(device_key: &str, request_string: &str, signature: &str) -> bool {
    let (Ok(key), Ok(signature)) = (B64.decode(device_key), B64.decode(signature)) else {
        return false;
    };
    let (Ok(key), Ok(signature)) = (
        <[u8; 32]>::try_from(key.as_slice()),
        <[u8; 64]>::try_from(signature.as_slice()),
    ) else {
        return false;
    };
    let Ok(key) = ed25519_dalek::VerifyingKey::from_bytes(&key) else {
        return false;
    };
    !key.is_weak()
        && key
            .verify_strict(
                &device_proof_message(request_string),
                &ed25519_dalek::Signature::from_bytes(&signature),
            )
            .is_ok()
}

/// Whether a nonce has an acceptable form.
pub fn nonce_ok(nonce: &str) -> bool {
    (16..=64).contains(&nonce.len())
        && nonce
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A device's proof holds for its request only, under its key only,
    /// and nothing malformed, unprefixed or weak passes for one.
    #[test]
    fn a_device_proof_holds_for_its_request_and_key_only() {
        use ed25519_dalek::Signer as _;
        let device = ed25519_dalek::SigningKey::from_bytes(&[3; 32]);
        let public = B64.encode(device.verifying_key().as_bytes());
        let msg = request_string(
            "Sun, 22 Nov 2026 10:00:00 GMT",
            "POST",
            "/api/v1/x",
            b"{}",
            "n",
        );
        let proof = sign_device_proof(&device.to_bytes(), &msg);
        assert!(device_proof_matches(&public, &msg, &proof));
        let other_request = msg.replace("/api/v1/x", "/api/v1/y");
        assert!(!device_proof_matches(&public, &other_request, &proof));
        let other = ed25519_dalek::SigningKey::from_bytes(&[4; 32]);
        let other_public = B64.encode(other.verifying_key().as_bytes());
        assert!(!device_proof_matches(&other_public, &msg, &proof));
        // The same key's signature of the bare request string (no domain)
        // is not a proof.
        let bare = B64.encode(device.sign(msg.as_bytes()).to_bytes());
        assert!(!device_proof_matches(&public, &msg, &bare));
        // A small-order key (here the identity point) never verifies.
        let mut identity = [0u8; 32];
        identity[0] = 1;
        let weak = B64.encode(identity);
        for (key, sig) in [
            ("", proof.as_str()),
            ("not base64!", proof.as_str()),
            (&public[..20], proof.as_str()),
            (public.as_str(), ""),
            (public.as_str(), &proof[..40]),
            (weak.as_str(), proof.as_str()),
        ] {
            assert!(!device_proof_matches(key, &msg, sig), "{key} {sig}");
        }
    }

    #[test]
    fn authorization_round_trips_and_refuses_a_changed_byte() {
        let key = b"product shared key, 32 bytes!!!";
        let msg = request_string(
            "Sun, 22 Nov 2026 10:00:00 GMT",
            "POST",
            "/api/v1/x",
            b"{}",
            "n",
        );
        assert_eq!(
            msg,
            "Sun, 22 Nov 2026 10:00:00 GMT\nPOST\n/api/v1/x\n\
             44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a\nn"
        );
        let sig = sign(key, &msg).unwrap();
        assert!(signature_matches(key, &msg, &sig));
        assert!(!signature_matches(key, &msg.replace("POST", "PUT"), &sig));
        assert!(!signature_matches(b"another key", &msg, &sig));
        assert!(!signature_matches(key, &msg, "not base64!"));
        let header = authorization("acme", &sig);
        assert_eq!(parse_authorization(&header), Some(("acme", sig.as_str())));
        assert_eq!(parse_authorization("Bearer x"), None);
        assert_eq!(
            parse_authorization("Tessera-HMAC-SHA256product=a, signature=b"),
            None
        );
        assert_eq!(
            parse_authorization("Tessera-HMAC-SHA256 product=a, product=b, signature=c"),
            None
        );
        assert!(nonce_ok("0123456789abcdef") && !nonce_ok("short") && !nonce_ok(&"x".repeat(65)));
        assert!(!nonce_ok("0123456789abcdef\n"));
    }
}
