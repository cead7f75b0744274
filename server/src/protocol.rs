//! The wire protocol's security: request authorization and response
//! signatures (docs/PROTOCOL.md).
//!
//! A request carries `Date` (HTTP date), `Tessera-Nonce` (16 to 64
//! characters from `[0-9A-Za-z_-]`) and
//! `Authorization: Tessera-HMAC-SHA256 product=<code>, signature=<base64>`,
//! the HMAC-SHA256 under the product's shared key of
//! `date \n METHOD \n path \n hex(SHA-256(body)) \n nonce`. A date more than
//! the skew away from the server's clock is stale.
//!
//! Every response carries `Date`, `Tessera-Nonce` (the request's, or empty)
//! and `Tessera-Signature: <key id> <base64>`: Ed25519 under the server's
//! key over `tessera/v1/server-response\0 || nonce || 0x00 || status (3
//! digits) || 0x00 || date || 0x00 || SHA-256(body)`.

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine as _;
use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};

pub use tessera::protocol::sign_response;

/// The string a request's HMAC covers.
pub fn request_string(date: &str, method: &str, path: &str, body: &[u8], nonce: &str) -> String {
    let digest: String = Sha256::digest(body)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    format!("{date}\n{method}\n{path}\n{digest}\n{nonce}")
}

/// The base64 HMAC-SHA256 of `message` under `key` (what a client sends).
#[cfg(test)]
pub fn hmac_base64(key: &[u8], message: &str) -> String {
    let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(key) else {
        return String::new();
    };
    mac.update(message.as_bytes());
    B64.encode(mac.finalize().into_bytes())
}

/// Checks `signature` (base64) against the HMAC of `message`, in constant time.
pub fn hmac_matches(key: &[u8], message: &str, signature: &str) -> bool {
    let Ok(given) = B64.decode(signature) else {
        return false;
    };
    let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(key) else {
        return false;
    };
    mac.update(message.as_bytes());
    mac.verify_slice(&given).is_ok()
}

/// Whether a nonce is acceptable.
pub fn nonce_ok(nonce: &str) -> bool {
    (16..=64).contains(&nonce.len())
        && nonce
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// Parses `Tessera-HMAC-SHA256 product=<code>, signature=<base64>`.
pub fn parse_authorization(value: &str) -> Option<(&str, &str)> {
    let rest = value.strip_prefix("Tessera-HMAC-SHA256 ")?;
    let mut product = None;
    let mut signature = None;
    for part in rest.split(',') {
        let (k, v) = part.trim().split_once('=')?;
        match k {
            "product" => product = Some(v),
            "signature" => signature = Some(v),
            _ => return None,
        }
    }
    Some((product?, signature?))
}

#[cfg(test)]
mod tests {
    use super::*;

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
        let sig = hmac_base64(key, &msg);
        assert!(hmac_matches(key, &msg, &sig));
        assert!(!hmac_matches(key, &msg.replace("POST", "PUT"), &sig));
        assert!(!hmac_matches(b"another key", &msg, &sig));
        assert_eq!(
            parse_authorization(&format!(
                "Tessera-HMAC-SHA256 product=acme, signature={sig}"
            )),
            Some(("acme", sig.as_str()))
        );
        assert_eq!(parse_authorization("Bearer x"), None);
        assert!(nonce_ok("0123456789abcdef") && !nonce_ok("short") && !nonce_ok(&"x".repeat(65)));
    }
}
