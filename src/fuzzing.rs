//! Entry points shared by the fuzz targets (`fuzz/`) and the regression
//! test that replays their seeds and every crash found (feature `fuzzing`).
//! Each takes arbitrary bytes and must return without panicking.

use chrono::{DateTime, Utc};

use crate::consumption::{Consumption, Counter, Limit};
use crate::fingerprint::{Fingerprint, MatchPolicy};
use crate::keys::{Keyring, PublicKey, SigningKey};
use crate::lease::Lease;
use crate::license::{License, LicenseFile};
use crate::store::Store;
use crate::validate::{feature_status, status_at, validate_at, ValidationOptions};

/// The public key of docs/example/license.lic, so mutations of the seed
/// reach every stage of verification.
const EXAMPLE_KEY: &str = include_str!("../docs/example/vendor.pub");

/// The throwaway test key the lease, spec and journal seeds use.
fn test_key() -> Option<SigningKey> {
    SigningKey::from_seed(&[7; 32]).ok()
}

fn test_device() -> Fingerprint {
    Fingerprint::from_facts(b"acme\0", [("machine_id", "m"), ("cpu", "c")])
}

const TIMES: [DateTime<Utc>; 3] = [
    DateTime::<Utc>::MIN_UTC,
    DateTime::<Utc>::UNIX_EPOCH,
    DateTime::<Utc>::MAX_UTC,
];

/// Armored license files: verify, then validate what verifies.
pub fn license_file(data: &[u8]) {
    let Ok(key) = PublicKey::from_pem(EXAMPLE_KEY) else {
        return;
    };
    let keyring = Keyring::from_keys([key]);
    if let Ok(file) = LicenseFile::verify(data, &keyring) {
        license_document(file.license());
    }
    let _ = LicenseFile::decode_unverified(data);
}

/// License payloads (the JSON after the signature).
pub fn license_payload(data: &[u8]) {
    if let Ok(license) = serde_json::from_slice::<License>(data) {
        license_document(&license);
    }
}

fn license_document(license: &License) {
    let opts = ValidationOptions::new(license.product());
    for now in TIMES.into_iter().chain([license.issued_at]) {
        let v = validate_at(license, &opts, now);
        // The fast path and the report agree.
        assert_eq!(v.status, status_at(license, &opts, now));
        for f in &license.product_features {
            let _ = feature_status(license, &v, &f.code);
        }
    }
    let _ = license.trial_end();
}

/// Leases.
pub fn lease(data: &[u8]) {
    let Some(key) = test_key() else { return };
    let keyring = Keyring::from_keys([key.public_key().clone()]);
    if let Ok(lease) = Lease::verify(data, &keyring) {
        for now in TIMES {
            let _ = lease.time_left(now);
            let _ = lease.is_active(now);
        }
    }
}

/// Local state files.
pub fn state_file(data: &[u8]) {
    let dir = std::env::temp_dir().join(format!("tessera-fuzz-state-{}", std::process::id()));
    let Ok(store) = Store::open(&dir, "acme", test_device(), MatchPolicy::default(), b"") else {
        return;
    };
    let _ = store.parse(data);
}

/// Consumption journals, read back through the counters from a real directory.
pub fn journal(data: &[u8]) {
    static RUN: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let n = RUN.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let dir = std::env::temp_dir().join(format!("tessera-fuzz-journal-{}-{n}", std::process::id()));
    journal_in(&dir, data);
    let _ = std::fs::remove_dir_all(&dir);
}

fn journal_in(dir: &std::path::Path, data: &[u8]) {
    let Ok(store) = Store::open(dir, "acme", test_device(), MatchPolicy::default(), b"") else {
        return;
    };
    if std::fs::write(dir.join("consumption.journal"), data).is_err() {
        return;
    }
    let Ok(counters) = Consumption::new(store) else {
        return;
    };
    let now = DateTime::<Utc>::UNIX_EPOCH;
    let limit = Limit {
        max: 10,
        unlimited: false,
        overage: 0,
        period: None,
        base: 0,
        base_at: now,
    };
    if counters.usage(&Counter::License, &limit, now).is_ok() {
        let _ = counters.consume(&Counter::License, 1, &limit, now);
        let _ = counters.pending_uploads();
    }
}

/// License specs given to the issuer: what it signs, the verifier reads.
pub fn issue_spec(data: &[u8]) {
    let Some(key) = test_key() else { return };
    if let Ok((text, _)) = crate::issue::issue(data, &key, DateTime::<Utc>::UNIX_EPOCH) {
        let keyring = Keyring::from_keys([key.public_key().clone()]);
        assert!(LicenseFile::verify(text.as_bytes(), &keyring).is_ok());
    }
}

/// A target's entry point.
pub type Entry = fn(&[u8]);

/// The entry point of each target, by name (for the regression test).
pub const TARGETS: [(&str, Entry); 6] = [
    ("license_file", license_file),
    ("license_payload", license_payload),
    ("lease", lease),
    ("state_file", state_file),
    ("journal", journal),
    ("issue_spec", issue_spec),
];
