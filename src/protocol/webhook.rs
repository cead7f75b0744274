//! The license server's webhook deliveries (docs/PROTOCOL.md, "Webhooks").
//!
//! A delivery is a POST whose JSON body is one event. It carries
//! `Tessera-Event-Id`, `Tessera-Timestamp` (Unix seconds of this attempt)
//! and `Tessera-Signature: <key id> <base64>`, an Ed25519 signature under
//! the server's key over
//! `tessera/v1/webhook\0 || event id || 0x00 || timestamp || 0x00 || body`.
//! The prefix is a domain of its own: no response, lease or document
//! signature verifies as a delivery, nor a delivery's as any of them.
//!
//! A receiver checks a delivery with [`verify_delivery`] and keeps the
//! event id as its idempotency key: a delivery may come more than once.

use crate::error::{Error, Result};
use crate::format::keys::Keyring;
use crate::Time;

const DOMAIN: &[u8] = b"tessera/v1/webhook\0";

/// The message a delivery's signature covers.
pub fn webhook_message(event_id: &str, timestamp: &str, body: &[u8]) -> Vec<u8> {
    let mut m = Vec::with_capacity(DOMAIN.len() + event_id.len() + timestamp.len() + body.len() + 2);
    m.extend_from_slice(DOMAIN);
    m.extend_from_slice(event_id.as_bytes());
    m.push(0);
    m.extend_from_slice(timestamp.as_bytes());
    m.push(0);
    m.extend_from_slice(body);
    m
}

/// What a delivery carries besides its body: its headers, as received.
#[derive(Debug, Clone, Copy, Default)]
pub struct DeliveryHeaders<'a> {
    /// `Tessera-Event-Id`.
    pub event_id: Option<&'a str>,
    /// `Tessera-Timestamp`: Unix seconds, when this attempt was sent.
    pub timestamp: Option<&'a str>,
    /// `Tessera-Signature`: `<key id> <base64 signature>`.
    pub signature: Option<&'a str>,
}

/// Checks that a delivery is signed by a key of `keyring` over its event
/// id, timestamp and body, and that it was sent within `tolerance` of
/// `now` (either way: a captured delivery sent again later is refused);
/// returns the event id, the receiver's idempotency key. Anything else is
/// [`Error::BadResponse`].
pub fn verify_delivery(
    keyring: &Keyring,
    headers: DeliveryHeaders<'_>,
    body: &[u8],
    now: Time,
    tolerance: std::time::Duration,
) -> Result<String> {
    let (Some(event_id), Some(timestamp), Some(signature)) =
        (headers.event_id, headers.timestamp, headers.signature)
    else {
        return Err(Error::BadResponse("the delivery is not signed"));
    };
    let (key, signature) = super::response::signed_by(keyring, signature)?;
    if !key.verify(&webhook_message(event_id, timestamp, body), &signature) {
        return Err(Error::BadResponse(
            "the signature does not verify (forged or altered)",
        ));
    }
    let sent = timestamp
        .parse::<i64>()
        .ok()
        .filter(|_| timestamp.bytes().all(|b| b.is_ascii_digit()))
        .and_then(Time::from_unix)
        .ok_or(Error::BadResponse("the timestamp is malformed"))?;
    let apart = if sent > now {
        sent.saturating_duration_since(now)
    } else {
        now.saturating_duration_since(sent)
    };
    if apart > tolerance {
        return Err(Error::BadResponse(
            "the delivery was sent too long ago (or is dated ahead): a replay",
        ));
    }
    Ok(event_id.to_owned())
}

/// Signs a delivery with the server's key (feature `issuer`): the
/// `Tessera-Signature` header's value.
#[cfg(feature = "issuer")]
#[cfg_attr(docsrs, doc(cfg(feature = "issuer")))]
pub fn sign_delivery(
    key: &crate::format::keys::SigningKey,
    event_id: &str,
    timestamp: &str,
    body: &[u8],
) -> String {
    use base64::Engine as _;
    let signature = key.sign(&webhook_message(event_id, timestamp, body));
    let signature = base64::engine::general_purpose::STANDARD.encode(signature);
    format!("{} {signature}", key.id())
}

#[cfg(all(test, feature = "issuer"))]
#[allow(clippy::unwrap_used, clippy::expect_used)] // tests (clippy sees cfg(test) only alone)
mod tests {
    use super::*;
    use base64::engine::general_purpose::STANDARD as B64;
    use base64::Engine as _;
    use std::time::Duration;

    #[test]
    fn a_delivery_verifies_only_with_its_id_timestamp_body_and_a_trusted_key() {
        let key = crate::format::keys::SigningKey::from_seed(&[7; 32]).unwrap();
        let ring = Keyring::from_keys([key.public_key().clone()]);
        let now = Time::from_unix(1_800_000_000).unwrap();
        let signature = sign_delivery(&key, "42", "1800000000", b"{\"a\":1}");
        let headers = DeliveryHeaders {
            event_id: Some("42"),
            timestamp: Some("1800000000"),
            signature: Some(&signature),
        };
        let minute = Duration::from_secs(60);
        let ok = verify_delivery(&ring, headers, b"{\"a\":1}", now, minute);
        assert_eq!(ok.unwrap(), "42");
        let refused = |headers, body: &[u8], now| {
            matches!(
                verify_delivery(&ring, headers, body, now, minute),
                Err(Error::BadResponse(_))
            )
        };
        assert!(refused(headers, b"{\"a\":2}", now));
        let other_id = DeliveryHeaders {
            event_id: Some("43"),
            ..headers
        };
        assert!(refused(other_id, b"{\"a\":1}", now));
        let other_time = DeliveryHeaders {
            timestamp: Some("1800000001"),
            ..headers
        };
        assert!(refused(other_time, b"{\"a\":1}", now));
        // Sent again an hour later: a replay.
        let later = now.checked_add(Duration::from_secs(3600)).unwrap();
        assert!(refused(headers, b"{\"a\":1}", later));
        // Another key, and the same signature over another domain.
        let stranger = crate::format::keys::SigningKey::from_seed(&[8; 32]).unwrap();
        let forged = sign_delivery(&stranger, "42", "1800000000", b"{\"a\":1}");
        let forged = DeliveryHeaders {
            signature: Some(&forged),
            ..headers
        };
        assert!(refused(forged, b"{\"a\":1}", now));
        let unsigned = DeliveryHeaders {
            signature: None,
            ..headers
        };
        assert!(refused(unsigned, b"{\"a\":1}", now));
        let response = crate::protocol::response::sign_response(&key, "42", 200, "x", b"{}");
        let response = format!("{} {}", key.id(), B64.encode(response));
        let cross = DeliveryHeaders {
            signature: Some(&response),
            ..headers
        };
        assert!(refused(cross, b"{}", now));
    }
}

#[cfg(all(test, feature = "issuer"))]
#[allow(clippy::unwrap_used)] // tests (clippy sees cfg(test) only alone)
mod worked_example {
    use super::*;

    /// docs/PROTOCOL.md's worked example, kept true: the key of seed
    /// 0x07 × 32 signs this delivery to this header.
    #[test]
    fn the_worked_example_of_protocol_md() {
        let key = crate::format::keys::SigningKey::from_seed(&[7; 32]).unwrap();
        assert_eq!(
            key.public_key().to_base64(),
            "6kpsY+KcUgq+9VB7Ey7F+ZVHdq6+vnuSQh7qaRRG0iw="
        );
        let body = br#"{"id":"42","type":"license.created","created_at":"2030-01-01T00:00:00Z","license_id":"L-1","product":"acme","account":"acme-corp","data":{"by":"device"}}"#;
        assert_eq!(
            sign_delivery(&key, "42", "1893456000", body),
            "fe812c12f3ab4ce6 oyn/oBTiEQVCqSI5GXj6F6h3kBa5frvIuUdvLfHRsUlQHEL79QQjRSWXQLdl1DDWCEqKf5myyj0eljxAYZzCCg=="
        );
        let message = webhook_message("42", "1893456000", body);
        assert!(message.starts_with(b"tessera/v1/webhook\x0042\x001893456000\x00{\"id\""));
    }
}
