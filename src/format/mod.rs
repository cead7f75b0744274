//! What arrives as bytes and is verified before anything else: the armored
//! envelope, keys and the keyring, the license document, leases, device
//! fingerprints as values, and the calendar of consumption periods
//! (docs/FORMAT.md).
//!
//! Data flows one way through the crate: bytes are verified here, the
//! verified license is validated in [`crate::runtime`], and
//! [`crate::activation`] and [`crate::online`] bring new files in.

pub mod armor;
pub mod delegation;
pub mod fingerprint;
#[cfg(feature = "keygen")]
#[cfg_attr(docsrs, doc(cfg(feature = "keygen")))]
pub mod keygen;
pub mod keys;
pub mod lease;
pub mod license;
pub mod manifest;
pub mod period;
pub mod release;
