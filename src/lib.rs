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
//! # What a product uses
//!
//! What a product needs is at the crate's root and in a few modules; data
//! flows one way, from verified bytes to a license in use.
//!
//! | where | what |
//! |---|---|
//! | the root | [`LicenseFile`], [`Keyring`] and [`PublicKey`] to verify; [`validate`] and [`Status`] to judge; [`activate`] and [`LicenseHandle`] (with its [`LocalConfig`] and [`Clock`]) to keep a license in use, with its counters ([`Counter`], [`Usage`]) and leases ([`LeaseStatus`]) |
//! | [`license`] | what a license says, field by field, with its vendor [`Metadata`](license::Metadata) |
//! | [`activation`] | activation from a file, offline request and response files, air-gapped codes |
//! | [`device`] | where the device's facts come from, VM and container detection, hardware keys |
//! | `online` | activation, check-in, floating seats, borrowing and consumption upload against a server (feature `online`) |
//! | [`time`] | [`Time`], the one type of every date: RFC 3339 in and out, spans as `std::time::Duration` |
//! | `keygen` | reading Keygen's license and machine files (feature `keygen`) |
//! | `issuer` | the vendor's side: issuing license files (feature `issuer`) |
//!
//! The parts the reference server, the CLI and the C library share with
//! the SDK (the file formats, the wire protocol, the state store) are
//! public only with the `internals` feature, hidden from these pages and
//! without a stability promise.
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
//!   docs/MIGRATING.md);
//! - `internals`: the formats, protocol and store as modules of their own,
//!   for the server, the CLI and the C library (no stability promise);
//! - `schema`: JSON Schemas of the wire's bodies, for the server's OpenAPI
//!   document (implies `internals`).
//!
//! The C ABI is a crate of its own (`capi/`, `libtessera`); this crate has
//! no `unsafe` code and forbids it.
#![forbid(unsafe_code)]
#![warn(missing_docs)]
#![cfg_attr(docsrs, feature(doc_cfg))]
#![warn(unnameable_types)]

/// Declares modules that are public with the `internals` feature (hidden
/// from the docs) and private otherwise: what the server, the CLI and the
/// C library share with the SDK, not the product's API.
macro_rules! internal_mods {
    ($($name:ident),* $(,)?) => {$(
        #[cfg(feature = "internals")]
        #[doc(hidden)]
        pub mod $name;
        #[cfg(not(feature = "internals"))]
        #[allow(unreachable_pub, dead_code)]
        pub(crate) mod $name;
    )*};
}

pub mod activation;
pub mod device;
mod error;
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
// The parts the server, the CLI and the C library share with the SDK:
// public with the `internals` feature (hidden from the docs, no stability
// promise), private otherwise. A product uses the root's re-exports.
internal_mods!(format, protocol, runtime);

mod status;
mod table;
pub mod time;
mod util;

/// Checking the license server's webhook deliveries, for the vendor's own
/// receivers (docs/EVENTS.md): a delivery's signature, under the server's
/// key, over its event id, timestamp and body.
///
/// ```
/// use std::time::Duration;
/// use tessera::webhook::{verify_delivery, DeliveryHeaders};
///
/// # fn main() -> tessera::Result<()> {
/// // The server's public key (`tessera-server` prints its id at start).
/// let server = tessera::PublicKey::from_base64("6kpsY+KcUgq+9VB7Ey7F+ZVHdq6+vnuSQh7qaRRG0iw=")?;
/// let keyring = tessera::Keyring::from_keys([server]);
/// // What the receiver was sent: headers and body, as received.
/// let body = br#"{"id":"42","type":"license.created","created_at":"2030-01-01T00:00:00Z","license_id":"L-1","product":"acme","account":"acme-corp","data":{"by":"device"}}"#;
/// let headers = DeliveryHeaders {
///     event_id: Some("42"),
///     timestamp: Some("1893456000"),
///     signature: Some("fe812c12f3ab4ce6 oyn/oBTiEQVCqSI5GXj6F6h3kBa5frvIuUdvLfHRsUlQHEL79QQjRSWXQLdl1DDWCEqKf5myyj0eljxAYZzCCg=="),
/// };
/// // A receiver passes tessera::Time::now(); this example's delivery is dated.
/// let now = tessera::Time::from_unix(1_893_456_060).unwrap_or(tessera::Time::UNIX_EPOCH);
/// let event_id = verify_delivery(&keyring, headers, body, now, Duration::from_secs(300))?;
/// assert_eq!(event_id, "42"); // the idempotency key: skip it if seen before
/// # Ok(())
/// # }
/// ```
pub mod webhook {
    pub use crate::protocol::webhook::{verify_delivery, webhook_message, DeliveryHeaders};
}

pub use activation::direct::activate;
pub use error::{Code, Error, Result};
pub use format::fingerprint::{Comparison, Fingerprint, MatchPolicy};
#[cfg(feature = "keygen")]
#[cfg_attr(docsrs, doc(cfg(feature = "keygen")))]
pub use format::keygen;
pub use format::keys::{KeyId, KeygenTrust, Keyring, PublicKey};
pub use format::lease::LeaseKind;
pub use format::license::{License, LicenseFile};
pub use runtime::clock::{Clock, ManualClock, SystemClock};
pub use runtime::config::LocalConfig;
pub use runtime::consumption::{Counter, Pending, Usage};
pub use runtime::handle::{LeaseStatus, LicenseHandle, LicenseRef};
pub use runtime::store::{ActivationRecord, DecryptionKey};
pub use runtime::validate::{
    feature_status, status_at, validate, validate_at, FeatureStatus, Reason, Validation,
    ValidationOptions,
};
pub use status::Status;
pub use time::Time;

/// What a license says, field by field: the document a verified
/// [`LicenseFile`] holds (docs/FORMAT.md, section 2).
pub mod license {
    pub use crate::format::license::{
        AuthorizationMethod, ConsumptionPeriod, CustomField, CustomFieldType, Customer, Feature,
        FeatureType, License, LicenseFile, LicenseKey, LicenseType, LicenseUser, Metadata,
        ProductDetails,
    };
}

/// The SDK's version.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");
