//! HMAC-SHA256, the one keyed hash behind fingerprints and the store's tag.

use hmac::{Hmac, Mac as _};
use sha2::Sha256;

pub(crate) type HmacSha256 = Hmac<Sha256>;

/// A fresh HMAC-SHA256 keyed with `key`.
pub(crate) fn keyed(key: &[u8]) -> HmacSha256 {
    // HMAC accepts keys of any length (long ones are hashed), so
    // `new_from_slice` cannot fail; the fallback keeps this free of panics.
    HmacSha256::new_from_slice(key)
        .unwrap_or_else(|_| <HmacSha256 as hmac::digest::KeyInit>::new(&Default::default()))
}
