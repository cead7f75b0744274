//! Entry points shared by the fuzz targets (`fuzz/`) and the regression
//! test that replays their seeds and every crash found (feature `fuzzing`).
//! Each takes arbitrary bytes and must return without panicking.

use crate::Time;
use base64::Engine as _;

use crate::format::fingerprint::{Fingerprint, MatchPolicy};
use crate::format::keys::{Keyring, PublicKey, SigningKey};
use crate::format::lease::Lease;
use crate::format::license::{License, LicenseFile};
use crate::runtime::consumption::{Consumption, Counter, Limit};
use crate::runtime::store::Store;
use crate::runtime::validate::{feature_status, status_at, validate_at, ValidationOptions};

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

const TIMES: [Time; 3] = [Time::MIN, Time::UNIX_EPOCH, Time::MAX];

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

/// License payloads (the JSON after the signature). The direct reader of
/// the issuer's form takes nothing that serde reads otherwise.
pub fn license_payload(data: &[u8]) {
    let serde = serde_json::from_slice::<License>(data).ok();
    if let Some(fast) = std::str::from_utf8(data)
        .ok()
        .and_then(crate::format::license::reader::read)
    {
        assert_eq!(
            Some(&fast),
            serde.as_ref(),
            "the direct reader and serde disagree"
        );
    }
    if let Some(license) = serde {
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

/// The Keygen demo account's public verify key (vectors.txt), so the
/// public samples used as seeds verify.
const KEYGEN_DEMO_KEY: &str = "e8601e48b69383ba520245fd07971e983d06d22c4257cfd82304601479cee788";

/// Keygen files: the bytes as a whole file (armor, certificate, signature,
/// then decryption with a sample's license key), and the same bytes as the
/// payload of a `base64+ed25519` file signed here with a test key, so the
/// payload parser and the mapping see them too.
pub fn keygen_file(data: &[u8]) {
    use crate::format::keygen::KeygenFile;
    use base64::engine::general_purpose::STANDARD as B64;
    let (Ok(demo), Some(test)) = (PublicKey::from_hex(KEYGEN_DEMO_KEY), test_key()) else {
        return;
    };
    let mut ring = Keyring::new();
    ring.add_keygen(demo, "174c3c8f-6d7f-4161-aa8e-54231ab0b911", "acme");
    ring.add_keygen(test.public_key().clone(), "p", "acme");
    if let Ok(file) = KeygenFile::verify(data, &ring) {
        let _ = file.open("988214-879010-F1185E-B37E91-E53AF5-V3", Some("x"));
        let _ = file.decode();
    }
    let enc = B64.encode(data);
    let sig = B64.encode(test.sign(format!("license/{enc}").as_bytes()));
    let certificate = format!(r#"{{"enc":"{enc}","sig":"{sig}","alg":"base64+ed25519"}}"#);
    let body = B64.encode(certificate);
    let text = format!("-----BEGIN LICENSE FILE-----\n{body}\n-----END LICENSE FILE-----\n");
    let file = KeygenFile::verify(text.as_bytes(), &ring);
    assert!(file.is_ok(), "a file signed by a trusted key verifies");
    if let Ok(Ok(doc)) = file.map(|f| f.decode()) {
        license_document(doc.license());
    }
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

/// Signed manifests: the sums reader on the bytes as they are, and the
/// envelope (the test key trusted, so a seed's mutations reach the reader
/// behind the signature only where they keep it).
pub fn manifest(data: &[u8]) {
    let _ = crate::format::manifest::parse(data);
    let Some(key) = test_key() else { return };
    let keyring = Keyring::from_keys([key.public_key().clone()]);
    if let Ok(m) = crate::format::manifest::Manifest::verify(data, &keyring) {
        assert!(!m.entries().is_empty());
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
    let now = Time::UNIX_EPOCH;
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
    if let Ok((text, _)) = crate::issuer::issue(data, &key, Time::UNIX_EPOCH) {
        let keyring = Keyring::from_keys([key.public_key().clone()]);
        assert!(LicenseFile::verify(text.as_bytes(), &keyring).is_ok());
    }
}

/// Offline requests, as the vendor reads them.
pub fn offline_request(data: &[u8]) {
    if let Ok(request) = crate::activation::offline::verify_request(data) {
        let _ = crate::activation::offline::device_key_id(&request);
        let _ = crate::activation::offline::request_id(data);
    }
}

/// A product configuration with its own state directory for this process,
/// trusting the test key, with a pending offline request and a pending
/// air-gapped code, so responses and codes reach their last checks.
fn device_config() -> Option<&'static crate::runtime::config::LocalConfig> {
    static CONFIG: std::sync::OnceLock<Option<crate::runtime::config::LocalConfig>> =
        std::sync::OnceLock::new();
    CONFIG
        .get_or_init(|| {
            let key = test_key()?;
            let mut c = crate::runtime::config::LocalConfig::new(
                "acme",
                Keyring::from_keys([key.public_key().clone()]),
            );
            c.store_dir = Some(
                std::env::temp_dir().join(format!("tessera-fuzz-device-{}", std::process::id())),
            );
            c.custom_device_id = Some("fuzz-device".into());
            c.secret = AIRGAP_SECRET.to_vec();
            c.clock =
                std::sync::Arc::new(crate::runtime::clock::ManualClock::new(Time::UNIX_EPOCH));
            let credential = crate::activation::Credential::license_key("FUZZ");
            crate::activation::offline::request_activation(&c, &credential).ok()?;
            crate::activation::airgap::initialization_code(&c).ok()?;
            Some(c)
        })
        .as_ref()
}

const AIRGAP_SECRET: &[u8] = b"fuzzing-only vendor secret";

/// An air-gapped license signed by the test key.
fn airgap_license() -> Option<&'static str> {
    static LICENSE: std::sync::OnceLock<Option<String>> = std::sync::OnceLock::new();
    LICENSE
        .get_or_init(|| {
            let spec = br#"{"id":"FUZZ-AIR","license_type":"perpetual","is_air_gapped":true,
                "product_details":{"short_code":"acme"}}"#;
            crate::issuer::issue(spec, &test_key()?, Time::UNIX_EPOCH)
                .ok()
                .map(|(text, _)| text)
        })
        .as_deref()
}

/// Offline responses, imported by a device with a pending request.
pub fn offline_response(data: &[u8]) {
    if let Some(config) = device_config() {
        let _ = crate::activation::offline::import_response(config, data);
    }
}

/// Typed air-gapped codes: as initialization codes at the vendor, and as
/// confirmation codes on a device with a pending initialization code.
pub fn airgap_code(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Some(license) = airgap_license() else {
        return;
    };
    let _ = crate::activation::airgap::confirmation_code(
        text,
        license.as_bytes(),
        "acme",
        AIRGAP_SECRET,
    );
    if let Some(config) = device_config() {
        // Anything that activates would use the pending code up; nothing can.
        assert!(crate::activation::airgap::activate(config, license.as_bytes(), text).is_err());
    }
}

/// A target's entry point.
pub type Entry = fn(&[u8]);

/// A server's answer as the SDK receives it, one field a line: status,
/// `Date`, `Tessera-Nonce`, `Tessera-Signature`, then the body. Verified
/// against the test key for the nonce it echoes.
pub fn server_response(data: &[u8]) {
    let fields: Vec<&[u8]> = data.splitn(5, |b| *b == b'\n').collect();
    let text = |i: usize| fields.get(i).and_then(|f| std::str::from_utf8(f).ok());
    let (Some(status), date, nonce, signature) = (text(0), text(1), text(2), text(3)) else {
        return;
    };
    let body = fields.get(4).copied().unwrap_or_default();
    let Ok(status) = status.parse::<u16>() else {
        return;
    };
    let Some(key) = test_key() else { return };
    let ring = Keyring::from_keys([key.public_key().clone()]);
    let headers = crate::protocol::ResponseHeaders {
        date,
        nonce,
        signature,
    };
    let expected = nonce.unwrap_or_default();
    if let Ok(time) = crate::protocol::verify_answer(&ring, expected, status, headers, body) {
        // Whatever verified was signed by the test key over these fields.
        let sig = key.sign(&crate::protocol::response::response_message(
            expected,
            status,
            date.unwrap_or_default(),
            body,
        ));
        assert!(signature
            .is_some_and(|s| s.ends_with(&base64::engine::general_purpose::STANDARD.encode(sig))));
        assert!(
            crate::protocol::parse_http_date(date.unwrap_or_default()).map(Time::of) == Some(time)
        );
    }
}

/// The entry point of each target, by name (for the regression test).
pub const TARGETS: [(&str, Entry); 12] = [
    ("license_file", license_file),
    ("license_payload", license_payload),
    ("lease", lease),
    ("manifest", manifest),
    ("state_file", state_file),
    ("journal", journal),
    ("issue_spec", issue_spec),
    ("offline_request", offline_request),
    ("offline_response", offline_response),
    ("airgap_code", airgap_code),
    ("server_response", server_response),
    ("keygen_file", keygen_file),
];
