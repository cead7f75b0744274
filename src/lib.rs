//! Tessera: an offline-first software licensing SDK.
//!
//! A product embeds Tessera to verify signed license files on the device,
//! with no network: build a [`Keyring`] of the vendor's public keys, verify
//! the file with [`LicenseFile::verify`], and validate it against an
//! injected [`Clock`] with [`validate`].
//!
//! ```
//! # fn main() -> Result<(), tessera::Error> {
//! use tessera::{Keyring, LicenseFile, ManualClock, PublicKey, ValidationOptions};
//! # let text = "";
//! # let public_key_base64 = "";
//! # if text.is_empty() { return Ok(()); }
//! let keyring = Keyring::from_keys([PublicKey::from_base64(public_key_base64)?]);
//! let file = LicenseFile::verify(text.as_bytes(), &keyring)?;
//! let report = tessera::validate(file.license(), &ValidationOptions::new("acme-cad"), &tessera::SystemClock);
//! if !report.is_usable() {
//!     eprintln!("license {}: {}", report.status, report.reasons.join("; "));
//! }
//! # Ok(()) }
//! ```
//!
//! Vendor-side code (signing keys, issuing) is behind the `issuer` feature.
//! The C ABI is a crate of its own (`capi/`, package `tessera-capi`); this
//! crate has no `unsafe` code and forbids it.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod airgap;
pub mod armor;
pub mod clock;
pub mod consumption;
pub mod environment;
pub mod error;
pub mod fingerprint;
#[cfg(feature = "fuzzing")]
pub mod fuzzing;
pub mod handle;
pub mod hardware;
#[cfg(feature = "issuer")]
pub mod issue;
pub mod keys;
pub mod lease;
pub mod license;
pub mod local;
mod mac;
pub mod offline;
#[cfg(feature = "online")]
pub mod online;
pub mod period;
pub mod protocol;
pub mod status;
pub mod store;
pub mod sysinfo;
mod util;
pub mod validate;

pub use clock::{Clock, ManualClock, SystemClock, TrustedTime};
pub use consumption::{Counter, Usage};
pub use environment::Environment;
pub use error::{Code, Error, Result};
pub use fingerprint::{Fingerprint, MatchPolicy};
pub use handle::{LeaseStatus, LicenseHandle};
#[cfg(feature = "issuer")]
pub use keys::SigningKey;
pub use keys::{KeyId, Keyring, PublicKey};
pub use license::{
    ConsumptionPeriod, Feature, FeatureType, License, LicenseFile, LicenseKey, LicenseType,
};
pub use local::{activate, LocalConfig, LocalLicense};
pub use status::Status;
pub use store::Store;
pub use validate::{
    feature_status, validate, validate_at, FeatureStatus, Validation, ValidationOptions,
};

/// The SDK's version.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");
