//! The license server's signed responses (docs/PROTOCOL.md).
//!
//! Every server response carries `Tessera-Signature: <key id> <base64>`,
//! an Ed25519 signature under the server's key over
//! `tessera/v1/server-response\0 || nonce || 0x00 || status (3 digits) ||
//! 0x00 || Date || 0x00 || SHA-256(body)`. The prefix is a domain of its
//! own, so a response signature never verifies as any armored document,
//! and no armored document's signature as a response.

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine as _;
use crate::Time;
use sha2::{Digest, Sha256};

use crate::error::{Error, Result};
use crate::format::keys::{KeyId, Keyring, PublicKey};
use crate::protocol::http_date::parse_http_date;

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

/// What a response carries besides its status and body: its `Date`,
/// `Tessera-Nonce` and `Tessera-Signature` headers, as received.
#[derive(Debug, Clone, Copy, Default)]
pub struct ResponseHeaders<'a> {
    /// `Date`.
    pub date: Option<&'a str>,
    /// `Tessera-Nonce`: the request's nonce, echoed.
    pub nonce: Option<&'a str>,
    /// `Tessera-Signature`: `<key id> <base64 signature>`.
    pub signature: Option<&'a str>,
}

/// Checks that a response answers the request sent with `nonce` and is
/// signed by a key of `keyring` over its status, date and body; returns
/// the server's signed time. Anything else is [`Error::BadResponse`].
pub fn verify_answer(
    keyring: &Keyring,
    nonce: &str,
    status: u16,
    headers: ResponseHeaders<'_>,
    body: &[u8],
) -> Result<Time> {
    let (Some(date), Some(signature)) = (headers.date, headers.signature) else {
        return Err(Error::BadResponse("the answer is not signed"));
    };
    if headers.nonce != Some(nonce) {
        return Err(Error::BadResponse("the answer is for another request"));
    }
    let (key, signature) = signed_by(keyring, signature)?;
    if !verify_response(key, nonce, status, date, body, &signature) {
        return Err(Error::BadResponse(
            "the signature does not verify (forged, replayed or altered)",
        ));
    }
    parse_http_date(date)
        .map(Time::of)
        .ok_or(Error::BadResponse("the signed Date is malformed"))
}

/// The paths a relay answers (docs/RELAY.md): a relay's signature on any
/// other path is refused, so a delegated key cannot speak for the vendor's
/// server.
pub const RELAY_PATHS: &[&str] = &[
    "/api/v1/activate_license",
    "/api/v1/check_license",
    "/api/v1/deactivate_license",
    "/api/v1/floating/register",
    "/api/v1/floating/heartbeat",
    "/api/v1/floating/release",
    "/api/v1/floating/borrow",
];

/// The keyring a relay's answer verifies against (docs/RELAY.md): the one
/// key named by the delegation its `Tessera-Delegation` header carries (the
/// armored delegation, base64), once the delegation verified against the
/// product's `keyring` and holds at `now`. The answer is then checked with
/// [`verify_answer`] as any other. A relay's signed time is the customer's
/// clock, not the vendor's: it must not move the device's mark.
pub fn relay_keyring(
    keyring: &Keyring,
    delegation: &str,
    now: Time,
    tolerance: std::time::Duration,
) -> Result<Keyring> {
    let armored = B64
        .decode(delegation.trim())
        .map_err(|_| Error::BadResponse("the relay's delegation header is not base64"))?;
    let delegation = crate::format::delegation::Delegation::verify(&armored, keyring)?;
    delegation.check_time(now, tolerance)?;
    Ok(Keyring::from_keys([delegation.relay_key()?]))
}

/// The trusted key and the signature a `<key id> <base64 signature>`
/// header names (the server's answers and its webhook deliveries).
pub(crate) fn signed_by<'k>(
    keyring: &'k Keyring,
    header: &str,
) -> Result<(&'k PublicKey, [u8; 64])> {
    let (key_id, signature) = header
        .split_once(' ')
        .ok_or(Error::BadResponse("the signature header is malformed"))?;
    let key = KeyId::from_hex(key_id)
        .and_then(|id| keyring.get(id))
        .ok_or(Error::BadResponse("signed by a key that is not trusted"))?;
    let signature: [u8; 64] = B64
        .decode(signature)
        .ok()
        .and_then(|s| s.try_into().ok())
        .ok_or(Error::BadResponse("the signature is malformed"))?;
    Ok((key, signature))
}

/// Signs a response with the server's key (feature `issuer`).
#[cfg(feature = "issuer")]
#[cfg_attr(docsrs, doc(cfg(feature = "issuer")))]
pub fn sign_response(
    key: &crate::format::keys::SigningKey,
    nonce: &str,
    status: u16,
    date: &str,
    body: &[u8],
) -> [u8; 64] {
    key.sign(&response_message(nonce, status, date, body))
}

#[cfg(all(test, feature = "issuer"))]
#[allow(clippy::unwrap_used, clippy::expect_used)] // tests (clippy sees cfg(test) only alone)
mod tests {
    use super::*;

    #[test]
    fn an_answer_verifies_only_for_its_request_key_status_date_and_body() {
        let key = crate::format::keys::SigningKey::from_seed(&[5; 32]).unwrap();
        let ring = Keyring::from_keys([key.public_key().clone()]);
        let date = "Mon, 23 Nov 2026 01:02:03 GMT";
        let sig = sign_response(&key, "nonce-0123456789ab", 200, date, b"{}");
        let header = format!("{} {}", key.id(), B64.encode(sig));
        let headers = ResponseHeaders {
            date: Some(date),
            nonce: Some("nonce-0123456789ab"),
            signature: Some(&header),
        };
        let ok = verify_answer(&ring, "nonce-0123456789ab", 200, headers, b"{}");
        assert_eq!(ok.unwrap(), Time::of(parse_http_date(date).unwrap()));
        let refused = |nonce: &str, status, headers, body: &[u8]| {
            matches!(
                verify_answer(&ring, nonce, status, headers, body),
                Err(Error::BadResponse(_))
            )
        };
        assert!(refused("nonce-other-0000000", 200, headers, b"{}"));
        assert!(refused("nonce-0123456789ab", 404, headers, b"{}"));
        assert!(refused("nonce-0123456789ab", 200, headers, b"{ }"));
        let later = ResponseHeaders {
            date: Some("Mon, 23 Nov 2026 01:02:04 GMT"),
            ..headers
        };
        assert!(refused("nonce-0123456789ab", 200, later, b"{}"));
        let unsigned = ResponseHeaders {
            signature: None,
            ..headers
        };
        assert!(refused("nonce-0123456789ab", 200, unsigned, b"{}"));
        let stranger = Keyring::from_keys([crate::format::keys::SigningKey::from_seed(&[6; 32])
            .unwrap()
            .public_key()
            .clone()]);
        assert!(matches!(
            verify_answer(&stranger, "nonce-0123456789ab", 200, headers, b"{}"),
            Err(Error::BadResponse(_))
        ));
    }

    #[test]
    fn a_response_signature_binds_nonce_status_date_and_body() {
        let key = crate::format::keys::SigningKey::from_seed(&[5; 32]).unwrap();
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
