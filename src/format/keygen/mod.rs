//! Keygen license and machine files, read offline (feature `keygen`).
//!
//! A vendor moving from Keygen has products in the field holding Keygen's
//! signed "license files" and "machine files". This module verifies and
//! reads them with the Keygen account's Ed25519 verify key, so a product
//! can accept them beside Tessera's own files during the switch
//! (docs/MIGRATING.md):
//!
//! ```text
//! -----BEGIN LICENSE FILE-----            (or MACHINE FILE)
//! base64 of {"enc": …, "sig": …, "alg": …}, 60 characters a line
//! -----END LICENSE FILE-----
//! ```
//!
//! The order is fixed, as for Tessera's files: bound the size, decode the
//! armor strictly, pin the algorithm, verify `sig` (Ed25519 over
//! `"license/" + enc` or `"machine/" + enc`, with `verify_strict`) against
//! the trusted Keygen keys, and only then decrypt (`aes-256-gcm`, keyed by
//! SHA-256 of the license key, and for a machine file of the license key
//! followed by the machine's fingerprint) or decode (`base64`) the payload
//! and parse it. RSA algorithms are refused as `unsupported_algorithm`.
//!
//! A verified payload becomes a [`License`](crate::License) that the rest
//! of the SDK validates like its own ([`Document::license`]); the mapping
//! is in docs/MIGRATING.md. The file's `issued` becomes `issued_at` (a file
//! from the future is `clock_behind` beyond the tolerance) and its
//! `expiry` becomes `expires_at` (`check_in_required` once passed); a `ttl`
//! of `null` is a file that never expires.
//!
//! ```
//! use tessera::keygen::KeygenFile;
//! use tessera::{Keyring, PublicKey};
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let text = include_str!(concat!(env!("CARGO_MANIFEST_DIR"),
//!     "/tests/vectors/keygen/rust_license_files_examples_license.lic"));
//! let account_key = PublicKey::parse("e8601e48b69383ba520245fd07971e983d06d22c4257cfd82304601479cee788")?;
//! let mut keyring = Keyring::new();
//! keyring.add_keygen(account_key, "174c3c8f-6d7f-4161-aa8e-54231ab0b911", "rust-example");
//!
//! let file = KeygenFile::verify(text.as_bytes(), &keyring)?;   // signature first
//! let doc = file.open("988214-879010-F1185E-B37E91-E53AF5-V3", None)?; // then decrypt
//! assert_eq!(doc.license().product(), "rust-example");
//! assert!(doc.license().feature("FEATURE_ENTITLEMENT_A").is_some());
//! # Ok(()) }
//! ```

mod certificate;
mod jsonapi;
mod kind;
mod mapping;
mod payload;

pub use certificate::{Algorithm, KeygenFile};
pub use kind::FileKind;
pub use payload::{Document, Secret};

/// The largest armored Keygen file accepted, in bytes. Keygen's files grow
/// with what they include (entitlements, the product, the policy, the
/// user); the largest public sample is under 20 KB.
pub const MAX_LEN: usize = 256 * 1024;
