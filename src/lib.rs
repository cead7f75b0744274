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

pub mod activation;
pub mod device;
pub mod error;
pub mod format;
#[cfg(feature = "fuzzing")]
pub mod fuzzing;
#[cfg(feature = "issuer")]
pub mod issuer;
mod mac;
#[cfg(feature = "online")]
pub mod online;
pub mod protocol;
pub mod runtime;
pub mod status;
mod util;

pub use activation::local::{activate, LocalConfig, LocalLicense};
pub use device::environment::Environment;
pub use device::fingerprint::{Fingerprint, MatchPolicy};
pub use error::{Code, Error, Result};
#[cfg(feature = "issuer")]
pub use format::keys::SigningKey;
pub use format::keys::{KeyId, Keyring, PublicKey};
pub use format::license::{
    ConsumptionPeriod, Feature, FeatureType, License, LicenseFile, LicenseKey, LicenseType,
};
pub use runtime::clock::{Clock, ManualClock, SystemClock, TrustedTime};
pub use runtime::consumption::{Counter, Usage};
pub use runtime::handle::{LeaseStatus, LicenseHandle};
pub use runtime::store::Store;
pub use runtime::validate::{
    feature_status, validate, validate_at, FeatureStatus, Validation, ValidationOptions,
};
pub use status::Status;

/// The SDK's version.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");
