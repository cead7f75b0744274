//! Tessera: offline-first software licensing.
//!
//! A product embeds Tessera to verify signed license files on the device,
//! with no network; to bind an activation to the device's fingerprint; to
//! keep floating seats, borrowed seats and consumption counters safely on
//! disk; and, when it is online, to sync with a license server. The vendor's
//! side (issuing files, answering offline requests, the reference server)
//! uses the same crate with the `issuer` feature.
//!
//! # Verify and validate a license file
//!
//! Build a [`Keyring`] of the vendor's public keys, verify the file (the
//! signature is checked before anything in it is read), and validate the
//! license against a clock. This is the worked example of `docs/FORMAT.md`:
//!
//! ```
//! use tessera::{validate, Keyring, LicenseFile, ManualClock, PublicKey, Status, ValidationOptions};
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let vendor_key = include_str!(concat!(env!("CARGO_MANIFEST_DIR"), "/docs/example/vendor.pub"));
//! let text = include_str!(concat!(env!("CARGO_MANIFEST_DIR"), "/docs/example/license.lic"));
//!
//! let keyring = Keyring::from_keys([PublicKey::from_pem(vendor_key)?]);
//! let file = LicenseFile::verify(text.as_bytes(), &keyring)?;
//! assert_eq!(file.license().product_details.short_code, "acme-cad");
//!
//! // Products use SystemClock; a fixed clock keeps the example true.
//! let options = ValidationOptions::new("acme-cad");
//! let on = |day: &str| ManualClock::new(day.parse().unwrap());
//! let report = validate(file.license(), &options, &on("2026-12-01T00:00:00Z"));
//! assert_eq!(report.status, Status::Valid);
//! let report = validate(file.license(), &options, &on("2027-01-02T00:00:00Z"));
//! assert_eq!(report.status, Status::ValidInGrace); // 72 hours of grace
//! let report = validate(file.license(), &options, &on("2027-01-05T00:00:00Z"));
//! assert!(!report.is_usable(), "{}: {}", report.status, report.reasons[0]);
//!
//! // One changed byte of the signed body, and nothing verifies.
//! let mut forged = text.as_bytes().to_vec();
//! let body = text.find("\n\n").map_or(0, |i| i + 2);
//! forged[body] = if forged[body] == b'A' { b'B' } else { b'A' };
//! assert!(LicenseFile::verify(&forged, &keyring).is_err());
//! # Ok(()) }
//! ```
//!
//! # Activate on this device, then check all day
//!
//! [`activate`] verifies a file, checks it against this device and records
//! the activation in the product's state directory; [`LicenseHandle`] is
//! what the product keeps open: `Send + Sync`, a warm check in about 0.1 µs.
//!
//! ```
//! use std::sync::Arc;
//! use tessera::{activate, Keyring, LicenseHandle, LocalConfig, ManualClock, PublicKey, Status};
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! # let vendor_key = include_str!(concat!(env!("CARGO_MANIFEST_DIR"), "/docs/example/vendor.pub"));
//! # let text = include_str!(concat!(env!("CARGO_MANIFEST_DIR"), "/docs/example/license.lic"));
//! # let dir = std::env::temp_dir().join(format!("tessera-doc-{}", std::process::id()));
//! let mut config = LocalConfig::new("acme-cad", Keyring::from_keys([PublicKey::from_pem(vendor_key)?]));
//! config.secret = b"the product's own vendor secret".to_vec(); // at least 16 bytes
//! config.store_dir = Some(dir.clone()); // default: the platform's data directory
//! config.clock = Arc::new(ManualClock::new("2026-12-01T00:00:00Z".parse()?));
//!
//! activate(&config, text.as_bytes())?;         // once
//! let handle = LicenseHandle::open(&config)?;  // at each start
//! assert_eq!(handle.check()?, Status::Valid);  // any time
//! assert!(handle.feature_enabled("pdf-export")?);
//! # drop(handle); // Windows removes no file that is open
//! # std::fs::remove_dir_all(dir)?;
//! # Ok(()) }
//! ```
//!
//! # Where things are
//!
//! The crate is grouped by concern, and data flows one way: bytes are
//! verified in [`format`](mod@format), the device is read in [`device`], a verified
//! license is validated and used in [`runtime`], [`activation`] brings new
//! files in (from a file, by offline request and response files, or by
//! typed codes), and [`online`] syncs with a server over [`protocol`].
//!
//! | module | what |
//! |---|---|
//! | [`format`](mod@format) | the armored envelope, keys and the keyring, the license document, leases, consumption periods |
//! | [`device`] | fingerprints and their sources, VM and container detection, hardware keys (PKCS#11) |
//! | [`runtime`] | the clock, the state store, validation, the [`LicenseHandle`] with its counters and leases |
//! | [`activation`] | activation from a file, offline request and response files, air-gapped codes |
//! | [`online`] | activation, check-in, floating seats, borrowing and consumption upload against a server (feature `online`) |
//! | [`protocol`] | both ends of the wire: request signing, response signatures, HTTP dates, counters |
//! | [`issuer`] | the vendor's side: issuing license files (feature `issuer`) |
//!
//! Every failure is an [`Error`] with a stable [`Code`], the same numbers in
//! the C ABI and the Python binding (docs/ERRORS.md).
//!
//! # Features
//!
//! - `issuer`: signing keys and issuing (vendor side; products leave it out);
//! - `online`: the online half (HTTPS with rustls; no OpenSSL);
//! - `pkcs11`: hardware-key licenses through a PKCS#11 token;
//! - `keygen`: reading Keygen's license and machine files (`tessera::keygen`,
//!   docs/MIGRATING.md).
//!
//! The C ABI is a crate of its own (`capi/`, `libtessera`); this crate has
//! no `unsafe` code and forbids it.
#![forbid(unsafe_code)]
#![warn(missing_docs)]
#![cfg_attr(docsrs, feature(doc_cfg))]

pub mod activation;
pub mod device;
mod error;
pub mod format;
#[cfg(feature = "fuzzing")]
#[doc(hidden)]
pub mod fuzzing;
#[cfg(feature = "issuer")]
#[cfg_attr(docsrs, doc(cfg(feature = "issuer")))]
pub mod issuer;
mod keyed_hash;
#[cfg(feature = "online-api")]
#[cfg_attr(docsrs, doc(cfg(feature = "online-api")))]
pub mod online;
pub mod protocol;
pub mod runtime;
mod status;
mod table;
mod util;

pub use activation::direct::activate;
pub use error::{Code, Error, Result};
pub use format::fingerprint::{Fingerprint, MatchPolicy};
#[cfg(feature = "keygen")]
#[cfg_attr(docsrs, doc(cfg(feature = "keygen")))]
pub use format::keygen;
pub use format::keys::{Keyring, PublicKey};
pub use format::license::{License, LicenseFile};
pub use runtime::clock::{Clock, ManualClock, SystemClock};
pub use runtime::config::LocalConfig;
pub use runtime::consumption::{Counter, Usage};
pub use runtime::handle::LicenseHandle;
pub use runtime::validate::{validate, Validation, ValidationOptions};
pub use status::Status;

/// The SDK's version.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");
