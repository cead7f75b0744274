//! The license server protocol's signed responses (docs/PROTOCOL.md).
//!
//! Every server response carries `Tessera-Signature: <key id> <base64>`,
//! an Ed25519 signature under the server's key over
//! `tessera/v1/server-response\0 || nonce || 0x00 || status (3 digits) ||
//! 0x00 || Date || 0x00 || SHA-256(body)`. The prefix is a domain of its
//! own, so a response signature never verifies as any armored document,
//! and no armored document's signature as a response.

use sha2::{Digest, Sha256};

use crate::keys::PublicKey;

const DOMAIN: &[u8] = b"tessera/v1/server-response\0";

/// The message a response signature covers.
pub fn response_message(nonce: &str, status: u16, date: &str, body: &[u8]) -> Vec<u8> {
    let mut m = Vec::with_capacity(DOMAIN.len() + nonce.len() + date.len() + 40);
    m.extend_from_slice(DOMAIN);
    m.extend_from_slice(nonce.as_bytes());
    m.push(0);
    m.extend_from_slice(format!("{:03}", status.min(999)).as_bytes());
    m.push(0);
    m.extend_from_slice(date.as_bytes());
    m.push(0);
    m.extend_from_slice(&Sha256::digest(body));
    m
}

/// Whether `signature` is `key`'s signature of this response.
pub fn verify_response(
    key: &PublicKey,
    nonce: &str,
    status: u16,
    date: &str,
    body: &[u8],
    signature: &[u8; 64],
) -> bool {
    key.verify(&response_message(nonce, status, date, body), signature)
}

/// Signs a response with the server's key (feature `issuer`).
#[cfg(feature = "issuer")]
pub fn sign_response(
    key: &crate::keys::SigningKey,
    nonce: &str,
    status: u16,
    date: &str,
    body: &[u8],
) -> [u8; 64] {
    key.sign(&response_message(nonce, status, date, body))
}

#[cfg(all(test, feature = "issuer"))]
mod tests {
    use super::*;

    #[test]
    fn a_response_signature_binds_nonce_status_date_and_body() {
        let key = crate::keys::SigningKey::from_seed(&[5; 32]).unwrap();
        let public = key.public_key();
        let date = "Sun, 22 Nov 2026 10:00:00 GMT";
        let sig = sign_response(&key, "nonce-0123456789ab", 200, date, b"{}");
        assert!(verify_response(
            public,
            "nonce-0123456789ab",
            200,
            date,
            b"{}",
            &sig
        ));
        assert!(!verify_response(
            public,
            "nonce-0123456789ac",
            200,
            date,
            b"{}",
            &sig
        ));
        assert!(!verify_response(
            public,
            "nonce-0123456789ab",
            409,
            date,
            b"{}",
            &sig
        ));
        assert!(!verify_response(
            public,
            "nonce-0123456789ab",
            200,
            "Mon, 23 Nov 2026 10:00:00 GMT",
            b"{}",
            &sig
        ));
        assert!(!verify_response(
            public,
            "nonce-0123456789ab",
            200,
            date,
            b"{ }",
            &sig
        ));
    }
}
