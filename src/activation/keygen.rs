//! A Keygen license or machine file, activated on this device (feature
//! `keygen`; docs/MIGRATING.md).
//!
//! [`import`] verifies the file against the keyring's Keygen keys, reads it
//! with the license key (and, for a machine file, the fingerprint the
//! product gave Keygen for this machine), checks the Tessera license it maps
//! to on this device now, and records it like any activation. What is kept
//! is the file as it came and the key derived from the license key, never
//! the license key itself; [`LicenseHandle::open`](crate::LicenseHandle::open)
//! verifies and decrypts the file again at every start.

use crate::activation::direct::{record_verified, Route};
use crate::error::Result;
use crate::format::keygen::{FileKind, KeygenFile, Secret};
use crate::runtime::config::LocalConfig;
use crate::runtime::store::{ActivationRecord, DecryptionKey};

/// Activates the Keygen file `file` on this device. `license_key` reads an
/// encrypted file (it is not needed for a `base64+ed25519` one);
/// `fingerprint` is the machine's Keygen fingerprint, required for a
/// machine file, which must be for it. Fails, changing nothing, when the
/// file does not verify or decrypt, or its license is not usable here now.
pub fn import(
    config: &LocalConfig,
    file: &[u8],
    license_key: &str,
    fingerprint: Option<&str>,
) -> Result<ActivationRecord> {
    let verified = KeygenFile::verify(file, &config.keyring)?;
    let doc = verified.open(license_key, fingerprint)?;
    let secret = match (verified.kind(), fingerprint) {
        (FileKind::Machine, Some(fp)) => Secret::for_machine(license_key, fp),
        _ => Secret::for_license(license_key),
    };
    let key = DecryptionKey(secret.to_hex());
    record_verified(
        config,
        file,
        doc.license(),
        Route::Direct,
        Some(key),
        |_| Ok(()),
    )
}
