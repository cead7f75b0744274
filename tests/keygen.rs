//! Keygen license and machine files: every public vector in
//! `tests/vectors/keygen/` (copied from `../shared/vectors/keygen/`, whose
//! README and `vectors.txt` name each file's source) verifies and decrypts
//! to what `decrypt_expectations.json` says, and nothing else does.
#![allow(clippy::unwrap_used, clippy::expect_used, unreachable_pub)]

mod common;

use std::path::PathBuf;

use sha2::{Digest, Sha256};
use tessera::keygen::{Algorithm, FileKind, KeygenFile, Secret};
use tessera::Time;
use tessera::{validate, Code, Keyring, ManualClock, PublicKey, Status, ValidationOptions};

/// The Keygen demo account's verify key (public; vectors.txt).
const ACCOUNT_KEY: &str = "e8601e48b69383ba520245fd07971e983d06d22c4257cfd82304601479cee788";

fn dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/vectors/keygen")
}

fn read(name: &str) -> Vec<u8> {
    std::fs::read(dir().join(name)).unwrap()
}

/// The account key trusted for `product`, read as Tessera product `acme`.
fn keyring_for(product: &str) -> Keyring {
    let mut ring = Keyring::new();
    ring.add_keygen(PublicKey::parse(ACCOUNT_KEY).unwrap(), product, "acme");
    ring
}

fn keyring() -> Keyring {
    keyring_for("no-product-in-particular")
}

/// One decryptable vector: its file, license key, machine fingerprint, and
/// what it must decrypt to.
struct Vector {
    file: String,
    license_key: String,
    fingerprint: Option<&'static str>,
    kind: FileKind,
    id: String,
    plaintext_len: usize,
    plaintext_sha256: String,
    issued: String,
    expiry: Option<String>,
    ttl: Option<u64>,
    entitlements: Vec<String>,
}

const MACHINE_FINGERPRINTS: [(&str, &str); 2] = [
    (
        "rust_machine_files_examples_machine.lic",
        "af249c134edd21c508e2114f0dd52628caf36e002edd9cada71eedb2d52f6841",
    ),
    (
        "py_machine_files_examples_machine.lic",
        "198e9fe586114844f6a4eaca5069b41a7ed43fb5a2df84892b69826d64573e39",
    ),
];

fn vectors() -> Vec<Vector> {
    let expectations: serde_json::Value =
        serde_json::from_slice(&read("decrypt_expectations.json")).unwrap();
    let mut out: Vec<Vector> = expectations
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            let file = e["file"].as_str().unwrap().to_owned();
            let fingerprint = MACHINE_FINGERPRINTS
                .iter()
                .find(|(f, _)| *f == file)
                .map(|(_, fp)| *fp);
            Vector {
                license_key: e["license_key_in_payload"].as_str().unwrap().to_owned(),
                fingerprint,
                kind: match e["type"].as_str().unwrap() {
                    "machines" => FileKind::Machine,
                    _ => FileKind::License,
                },
                id: e["id"].as_str().unwrap().to_owned(),
                plaintext_len: usize::try_from(e["plaintext_len"].as_u64().unwrap()).unwrap(),
                plaintext_sha256: e["plaintext_sha256"].as_str().unwrap().to_owned(),
                issued: e["meta"]["issued"].as_str().unwrap().to_owned(),
                expiry: e["meta"]["expiry"].as_str().map(str::to_owned),
                ttl: e["meta"]["ttl"].as_u64(),
                entitlements: e["entitlements"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|c| c.as_str().unwrap().to_owned())
                    .collect(),
                file,
            }
        })
        .collect();
    // keygen-relay's two test files (vectors.txt F14, F15): not in the JSON.
    for (file, key, id, len, sha, issued, expiry) in [
        (
            "relay_cli_testdata_license.lic",
            "9E32DD-D8CC22-771926-C2D834-C506DC-V3",
            "dcea31a4-1664-4633-9f52-4a1b0b5ea2ef",
            3130,
            "1db1d545bd2aa8de8d66a177f4523848b69f7bc2b3a5e22c901348910f41bb0a",
            "2025-12-05T16:49:12.964Z",
            "2026-01-04T16:49:12.964Z",
        ),
        (
            "relay_cli_testdata_license_2.lic",
            "9A96B8-FD08CD-8C433B-7657C8-8A8655-V3",
            "592d08c2-4045-462c-a981-dcd2bb78ce06",
            2462,
            "331266d775ee94c673a3bd4f012f1df4cdc56cb732387f1ea32c03f7563af7d7",
            "2025-12-05T16:50:09.757Z",
            "2026-01-04T16:50:09.757Z",
        ),
    ] {
        out.push(Vector {
            file: file.into(),
            license_key: key.into(),
            fingerprint: None,
            kind: FileKind::License,
            id: id.into(),
            plaintext_len: len,
            plaintext_sha256: sha.into(),
            issued: issued.into(),
            expiry: Some(expiry.into()),
            ttl: Some(2_592_000),
            entitlements: Vec::new(),
        });
    }
    out
}

/// The signature-only vectors (keygen-go's tests): their license key is
/// not published.
const SIGNATURE_ONLY: [(&str, FileKind); 3] = [
    ("keygen_go_TestLicenseFile.lic", FileKind::License),
    ("keygen_go_TestLicenseFileNoTTL.lic", FileKind::License),
    ("keygen_go_TestMachineFile.lic", FileKind::Machine),
];

fn seconds(t: &str) -> Time {
    let t: chrono::DateTime<chrono::Utc> = t.parse().unwrap();
    Time::from_unix(t.timestamp()).unwrap()
}

#[test]
fn every_vector_verifies_and_decrypts_to_what_its_expectation_says() {
    let vectors = vectors();
    assert_eq!(vectors.len(), 12);
    for v in &vectors {
        let file = KeygenFile::verify(&read(&v.file), &keyring())
            .unwrap_or_else(|e| panic!("{}: {e}", v.file));
        assert_eq!(file.kind(), v.kind, "{}", v.file);
        assert_eq!(file.algorithm(), Algorithm::Aes256GcmEd25519);
        let doc = file
            .open(&v.license_key, v.fingerprint)
            .unwrap_or_else(|e| panic!("{}: {e}", v.file));
        assert_eq!(doc.plaintext().len(), v.plaintext_len, "{}", v.file);
        assert_eq!(
            hex::encode(Sha256::digest(doc.plaintext())),
            v.plaintext_sha256,
            "{}",
            v.file
        );
        let data_id = match v.kind {
            FileKind::License => doc.license_id(),
            FileKind::Machine => doc.machine_id().unwrap(),
        };
        assert_eq!(data_id, v.id, "{}", v.file);
        assert_eq!(doc.issued(), seconds(&v.issued), "{}", v.file);
        assert_eq!(doc.expiry(), v.expiry.as_deref().map(seconds), "{}", v.file);
        assert_eq!(doc.ttl(), v.ttl, "{}", v.file);
        let mut got: Vec<&str> = doc.entitlements().collect();
        let mut want: Vec<&str> = v.entitlements.iter().map(String::as_str).collect();
        got.sort_unstable();
        want.sort_unstable();
        assert_eq!(got, want, "{}", v.file);
        assert_eq!(doc.fingerprint(), v.fingerprint, "{}", v.file);
        // The mapped license never carries the license key.
        let json = serde_json::to_string(doc.license()).unwrap();
        assert!(!json.contains(&v.license_key), "{}", v.file);
        assert!(!format!("{doc:?} {file:?}").contains(&v.license_key));
        // The derived key alone reads it again.
        let secret = match v.fingerprint {
            Some(fp) => Secret::for_machine(&v.license_key, fp),
            None => Secret::for_license(&v.license_key),
        };
        assert_eq!(
            file.open_with(&secret).unwrap().plaintext(),
            doc.plaintext()
        );
    }
}

#[test]
fn signature_only_vectors_verify_and_refuse_a_wrong_license_key() {
    for (name, kind) in SIGNATURE_ONLY {
        let file = KeygenFile::verify(&read(name), &keyring()).unwrap();
        assert_eq!(file.kind(), kind, "{name}");
        assert!(file.is_encrypted());
        let err = file
            .open("NOT-THE-KEY", Some("not-the-machine"))
            .unwrap_err();
        assert_eq!(err.code(), Code::DecryptionFailed, "{name}: {err}");
        assert_eq!(file.decode().unwrap_err().code(), Code::InvalidArgument);
    }
}

#[test]
fn a_wrong_key_or_fingerprint_does_not_decrypt() {
    // N1: keygen-relay's first file with the second file's key.
    let file = KeygenFile::verify(&read("relay_cli_testdata_license.lic"), &keyring()).unwrap();
    let err = file
        .open("9A96B8-FD08CD-8C433B-7657C8-8A8655-V3", None)
        .unwrap_err();
    assert_eq!(err.code(), Code::DecryptionFailed);
    for (name, fingerprint) in MACHINE_FINGERPRINTS {
        let file = KeygenFile::verify(&read(name), &keyring()).unwrap();
        let key = vectors()
            .into_iter()
            .find(|v| v.file == name)
            .unwrap()
            .license_key;
        // Another machine's fingerprint.
        let other = fingerprint.replace('a', "b");
        let err = file.open(&key, Some(&other)).unwrap_err();
        assert_eq!(err.code(), Code::DecryptionFailed, "{name}");
        // N3: the license key alone, as if it were a license file.
        let err = file.open_with(&Secret::for_license(&key)).unwrap_err();
        assert_eq!(err.code(), Code::DecryptionFailed, "{name}");
        // A machine file is never read without naming the machine.
        let err = file.open(&key, None).unwrap_err();
        assert_eq!(err.code(), Code::InvalidArgument, "{name}");
    }
}

/// One different byte at position `i`: within the base64 alphabet where
/// the byte is in it, so the change reaches the signature, not only the
/// armor's syntax. A line break becomes a letter (whitespace after the END
/// line is not part of a file, so turning it into other whitespace is no
/// change).
fn changed(bytes: &[u8], i: usize) -> Vec<u8> {
    let mut out = bytes.to_vec();
    out[i] = match bytes[i] {
        b'Z' => b'a',
        b'z' => b'0',
        b'9' => b'+',
        b'+' => b'/',
        b'/' => b'A',
        b if b.is_ascii_alphanumeric() => b + 1,
        b'A' => b'B',
        _ => b'A',
    };
    out
}

#[test]
fn every_single_byte_change_of_every_vector_is_refused() {
    let ring = keyring();
    let mut names: Vec<(String, String, Option<&str>)> = vectors()
        .into_iter()
        .map(|v| (v.file, v.license_key, v.fingerprint))
        .collect();
    names.extend(
        SIGNATURE_ONLY
            .iter()
            .map(|(n, _)| ((*n).to_owned(), "unpublished".to_owned(), Some("x"))),
    );
    // One thread per file: about 230,000 verifications in all.
    let changes: usize = std::thread::scope(|scope| {
        let ring = &ring;
        let workers: Vec<_> = names
            .iter()
            .map(|(name, key, fingerprint)| {
                scope.spawn(move || {
                    let bytes = read(name);
                    for i in 0..bytes.len() {
                        let forged = changed(&bytes, i);
                        let verified = KeygenFile::verify(&forged, ring);
                        let opened = verified.as_ref().map(|file| file.open(key, *fingerprint));
                        assert!(
                            verified.is_err(),
                            "{name}: byte {i} changed ({:?}) still verifies ({opened:?})",
                            bytes[i] as char,
                        );
                    }
                    bytes.len()
                })
            })
            .collect();
        workers.into_iter().map(|w| w.join().unwrap()).sum()
    });
    assert!(changes > 100_000, "{changes}");
}

#[test]
fn a_tessera_key_does_not_verify_keygen_files_nor_another_account() {
    let key = PublicKey::parse(ACCOUNT_KEY).unwrap();
    let bytes = read("rust_license_files_examples_license.lic");
    // The same key bytes trusted for Tessera's own files: not for Keygen's.
    let tessera_only = Keyring::from_keys([key]);
    let err = KeygenFile::verify(&bytes, &tessera_only).unwrap_err();
    assert_eq!(err.code(), Code::UnknownKeyId);
    // Another account's key.
    let mut other = Keyring::new();
    other.add_keygen(PublicKey::from_bytes(&[9; 32]).unwrap(), "p", "acme");
    let err = KeygenFile::verify(&bytes, &other).unwrap_err();
    assert_eq!(err.code(), Code::BadSignature);
    // And a Tessera reader refuses a Keygen file (the armor differs).
    let err = tessera::LicenseFile::verify(&bytes, &keyring()).unwrap_err();
    assert_eq!(err.code(), Code::Malformed);
}

#[test]
fn the_product_must_be_the_one_the_keyring_maps() {
    let bytes = read("rust_license_files_examples_license.lic");
    let key = "988214-879010-F1185E-B37E91-E53AF5-V3";
    let at = ManualClock::new("2022-09-01T00:00:00Z".parse().unwrap());
    let options = ValidationOptions::new("acme");
    // Mapped: the Keygen product is this product.
    let ring = keyring_for("174c3c8f-6d7f-4161-aa8e-54231ab0b911");
    let doc = KeygenFile::verify(&bytes, &ring)
        .unwrap()
        .open(key, None)
        .unwrap();
    assert_eq!(doc.license().product(), "acme");
    assert_eq!(doc.license().product_details.product_name, "Rust Example");
    assert_eq!(validate(doc.license(), &options, &at).status, Status::Valid);
    // Not mapped: another product of the same account is not this product.
    let doc = KeygenFile::verify(&bytes, &keyring())
        .unwrap()
        .open(key, None)
        .unwrap();
    assert_eq!(
        doc.license().product(),
        "keygen:174c3c8f-6d7f-4161-aa8e-54231ab0b911"
    );
    let report = validate(doc.license(), &options, &at);
    assert_eq!(report.status, Status::WrongProduct, "{:?}", report.reasons);
}

#[test]
fn expired_and_future_dated_files_get_their_status_from_the_clock() {
    let status = |name: &str, product: &str, key: &str, fp: Option<&str>, at: &str| {
        let file = KeygenFile::verify(&read(name), &keyring_for(product)).unwrap();
        let doc = file.open(key, fp).unwrap();
        let clock = ManualClock::new(at.parse().unwrap());
        validate(doc.license(), &ValidationOptions::new("acme"), &clock).status
    };
    // F1: issued 2022-08-08T17:31:34Z, file expiry 2023-08-08, license expiry 2025-01-01.
    let f1 = |at: &str| {
        status(
            "rust_license_files_examples_license.lic",
            "174c3c8f-6d7f-4161-aa8e-54231ab0b911",
            "988214-879010-F1185E-B37E91-E53AF5-V3",
            None,
            at,
        )
    };
    assert_eq!(f1("2022-08-08T17:31:34Z"), Status::Valid);
    // Within the clock tolerance (one hour) before issue: still valid.
    assert_eq!(f1("2022-08-08T16:40:00Z"), Status::Valid);
    // A file from the future beyond the tolerance (keygen-rs skips this check).
    assert_eq!(f1("2022-08-08T16:00:00Z"), Status::ClockBehind);
    assert_eq!(f1("2023-08-08T17:31:33Z"), Status::Valid);
    assert_eq!(f1("2023-08-08T17:31:34Z"), Status::CheckInRequired);
    // F5 (C++): ttl and expiry null, license expiry 2025-01-01: a file that
    // never expires, of a license that does.
    let f5 = |at: &str| {
        status(
            "cpp_license_files_examples_license.lic",
            "3bf34475-dfb4-42d8-a763-a2c89507f16d",
            "E1FBA2-5488D8-8AC81A-53157E-01939A-V3",
            None,
            at,
        )
    };
    assert_eq!(f5("2024-12-31T23:59:59Z"), Status::Valid);
    assert_eq!(f5("2025-01-01T00:00:00Z"), Status::Expired);
    // F10 (JS): no expiry anywhere: perpetual.
    let f10 = status(
        "js_license_files_examples_license.lic",
        "3b682cb9-590b-4906-b688-ffef60eae8e0",
        "8750AB-30B7BD-023BA9-31B601-4550A2-V3",
        None,
        "2100-01-01T00:00:00Z",
    );
    assert_eq!(f10, Status::Valid);
    // F4 (Python machine file): file expiry 2022-08-28T14:22:23Z.
    let f4 = |at: &str| {
        status(
            "py_machine_files_examples_machine.lic",
            "6e34d8ef-8dff-4507-8294-c063fbece9b7",
            "B10760-1B177D-656D1F-C03298-9AF89E-V3",
            Some("198e9fe586114844f6a4eaca5069b41a7ed43fb5a2df84892b69826d64573e39"),
            at,
        )
    };
    assert_eq!(f4("2022-08-01T00:00:00Z"), Status::Valid);
    assert_eq!(f4("2022-08-28T14:22:23Z"), Status::CheckInRequired);
}

/// A file armored as Keygen does, around `certificate` (the JSON).
fn armored(kind: &str, certificate: &str) -> String {
    use base64::Engine as _;
    let body = base64::engine::general_purpose::STANDARD.encode(certificate);
    let lines: Vec<&str> = body
        .as_bytes()
        .chunks(60)
        .map(|c| std::str::from_utf8(c).unwrap())
        .collect();
    format!(
        "-----BEGIN {kind}-----\n{}\n-----END {kind}-----\n",
        lines.join("\n")
    )
}

#[test]
fn rsa_and_unknown_algorithms_are_refused_as_unsupported() {
    for alg in [
        "aes-256-gcm+rsa-pss-sha256",
        "aes-256-gcm+rsa-sha256",
        "base64+rsa-pss-sha256",
        "base64+rsa-sha256",
        "rot13+ed25519",
    ] {
        let sig = "A".repeat(86) + "==";
        let text = armored(
            "LICENSE FILE",
            &format!(r#"{{"enc":"e30=","sig":"{sig}","alg":"{alg}"}}"#),
        );
        let err = KeygenFile::verify(text.as_bytes(), &keyring()).unwrap_err();
        assert_eq!(err.code(), Code::UnsupportedAlgorithm, "{alg}");
    }
}

#[test]
fn malformed_armor_is_refused_with_a_clear_error() {
    let good = String::from_utf8(read("rust_license_files_examples_license.lic")).unwrap();
    let cases: Vec<(String, Code)> = vec![
        (String::new(), Code::Empty),
        ("x".repeat(tessera::keygen::MAX_LEN + 1), Code::TooLarge),
        (
            good.replace("LICENSE FILE-----\n", "LICENSE FILE-----"),
            Code::Malformed,
        ),
        (format!(" {good}"), Code::Malformed),
        (format!("{good}junk"), Code::Malformed),
        (
            good.replace("-----END LICENSE FILE-----\n", ""),
            Code::Malformed,
        ),
        (good.replace("END LICENSE", "END MACHINE"), Code::Malformed),
        (good.replacen('\n', "\n\n", 2), Code::Malformed),
        (
            armored(
                "LICENSE FILE",
                r#"{"enc":"e30=","sig":"","alg":"base64+ed25519","x":1}"#,
            ),
            Code::Malformed,
        ),
        (
            armored("LICENSE FILE", r#"{"enc":"e30=","alg":"base64+ed25519"}"#),
            Code::Malformed,
        ),
        (
            armored(
                "LICENSE FILE",
                r#"{"enc":"e30=","sig":"AAAA","alg":"base64+ed25519"}"#,
            ),
            Code::Malformed,
        ),
    ];
    for (i, (text, code)) in cases.iter().enumerate() {
        let err = KeygenFile::verify(text.as_bytes(), &keyring()).unwrap_err();
        assert_eq!(err.code(), *code, "case {i}: {err}");
    }
    // CRLF line breaks are read like LF.
    let crlf = good.replace('\n', "\r\n");
    KeygenFile::verify(crlf.as_bytes(), &keyring()).unwrap();
    // With no line break after the END line, or with blank lines.
    KeygenFile::verify(good.trim_end().as_bytes(), &keyring()).unwrap();
    KeygenFile::verify(format!("{good}\n\r\n").as_bytes(), &keyring()).unwrap();
}

/// `base64+ed25519` files: none is public, so one is signed here with a
/// throwaway test key.
#[test]
fn base64_files_are_decoded_and_checked_like_encrypted_ones() {
    use base64::Engine as _;
    let b64 = base64::engine::general_purpose::STANDARD;
    use ed25519_dalek::Signer as _;
    let signer = ed25519_dalek::SigningKey::from_bytes(&[42; 32]);
    let mut ring = Keyring::new();
    let public = PublicKey::from_bytes(&signer.verifying_key().to_bytes()).unwrap();
    ring.add_keygen(public, "prod-1", "acme");
    let payload = serde_json::json!({
        "data": {"id": "lic-1", "type": "licenses",
                 "attributes": {"name": "Plain", "key": "PLAIN-KEY", "expiry": null,
                                "status": "ACTIVE", "maxMachines": 3, "metadata": {"tier": "gold"}},
                 "relationships": {"product": {"data": {"type": "products", "id": "prod-1"}}}},
        "included": [{"id": "e1", "type": "entitlements", "attributes": {"code": "PDF"}},
                     {"id": "e2", "type": "entitlements", "attributes": {"code": "PDF"}}],
        "meta": {"issued": "2026-01-01T00:00:00.999Z", "expiry": null, "ttl": null}
    });
    let enc = b64.encode(payload.to_string());
    let make = |prefix: &str, enc: &str| {
        let sig = b64.encode(signer.sign(format!("{prefix}{enc}").as_bytes()).to_bytes());
        armored(
            "LICENSE FILE",
            &format!(r#"{{"enc":"{enc}","sig":"{sig}","alg":"base64+ed25519"}}"#),
        )
    };
    let file = KeygenFile::verify(make("license/", &enc).as_bytes(), &ring).unwrap();
    assert_eq!(file.algorithm(), Algorithm::Base64Ed25519);
    let doc = file.decode().unwrap();
    // The license key is not needed, and open() ignores it.
    assert_eq!(
        file.open("anything", None).unwrap().plaintext(),
        doc.plaintext()
    );
    let lic = doc.license();
    assert_eq!(lic.id, "lic-1");
    assert_eq!(lic.product(), "acme");
    assert_eq!(lic.max_activations, 3);
    assert_eq!(
        lic.product_features.len(),
        1,
        "duplicate codes are kept once"
    );
    assert_eq!(lic.metadata.str("tier"), Some("gold"));
    assert_eq!(lic.license_key, None);
    assert_eq!(doc.issued(), seconds("2026-01-01T00:00:00Z"));
    // Signed as a machine file's message: refused as a license file (N2).
    let text = make("machine/", &enc);
    assert_eq!(
        KeygenFile::verify(text.as_bytes(), &ring)
            .unwrap_err()
            .code(),
        Code::BadSignature
    );
    // A license file that holds a machine: refused after the signature.
    let mut machine = payload.clone();
    machine["data"]["type"] = "machines".into();
    let text = make("license/", &b64.encode(machine.to_string()));
    let err = KeygenFile::verify(text.as_bytes(), &ring)
        .unwrap()
        .decode()
        .unwrap_err();
    assert_eq!(err.code(), Code::InvalidPayload);
    // A ttl that overflows the calendar is refused, not wrapped.
    let mut long = payload.clone();
    long["meta"]["ttl"] = u64::MAX.into();
    let text = make("license/", &b64.encode(long.to_string()));
    let err = KeygenFile::verify(text.as_bytes(), &ring)
        .unwrap()
        .decode()
        .unwrap_err();
    assert_eq!(err.code(), Code::InvalidPayload);
}

/// Every file under `dir`, read whole (the state, its backup, the journal).
fn files_under(dir: &std::path::Path) -> Vec<u8> {
    let mut all = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            all.extend(files_under(&path));
        } else {
            all.extend(std::fs::read(&path).unwrap());
        }
    }
    all
}

const RUST_PRODUCT: &str = "174c3c8f-6d7f-4161-aa8e-54231ab0b911";
const RUST_KEY: &str = "988214-879010-F1185E-B37E91-E53AF5-V3";

/// Product `acme` on the setup's machine, trusting the Keygen demo account
/// for the Rust example's product.
fn rust_example_config(setup: &common::Setup) -> tessera::LocalConfig {
    let mut config = setup.config();
    config
        .keyring
        .add_keygen(PublicKey::parse(ACCOUNT_KEY).unwrap(), RUST_PRODUCT, "acme");
    config
}

#[test]
fn a_keygen_license_file_activates_checks_and_deactivates_on_this_device() {
    use tessera::activation::keygen::import;
    use tessera::{Clock as _, LicenseHandle};
    let setup = common::Setup::starting("2022-09-01T00:00:00Z");
    let config = rust_example_config(&setup);
    let bytes = read("rust_license_files_examples_license.lic");

    // A wrong license key changes nothing.
    let err = import(&config, &bytes, "WRONG-KEY", None).unwrap_err();
    assert_eq!(err.code(), Code::DecryptionFailed);
    assert_eq!(
        LicenseHandle::open(&config).unwrap_err().code(),
        Code::NotActivated
    );

    let record = import(&config, &bytes, RUST_KEY, None).unwrap();
    assert_eq!(record.license_id, "5224caee-595b-44cc-bac9-d01787642bac");
    assert!(!format!("{record:?}").contains(RUST_KEY));
    let handle = LicenseHandle::open(&config).unwrap();
    assert_eq!(handle.check().unwrap(), Status::Valid);
    assert!(handle.feature_enabled("FEATURE_ENTITLEMENT_B").unwrap());
    assert!(!handle.feature_enabled("FEATURE_ENTITLEMENT_Z").unwrap());
    assert_eq!(
        handle.license().product_details.product_name,
        "Rust Example"
    );
    // What is kept on disk holds neither the license key nor the plaintext.
    let disk = String::from_utf8_lossy(&files_under(setup.store.path())).into_owned();
    assert!(!disk.contains(RUST_KEY) && !disk.contains("FEATURE_ENTITLEMENT"));

    // Opened again at a later start, with the clock past the file's expiry.
    setup.clock.set("2023-08-09T00:00:00Z".parse().unwrap());
    let handle = LicenseHandle::open(&config).unwrap();
    assert_eq!(handle.check().unwrap(), Status::CheckInRequired);
    assert!(setup.clock.now() > handle.license().expires_at.unwrap());

    assert!(tessera::activation::direct::deactivate(&config, &record.license_id).unwrap());
    assert_eq!(
        LicenseHandle::open(&config).unwrap_err().code(),
        Code::NotActivated
    );
}

#[test]
fn a_machine_file_activates_only_with_its_own_fingerprint() {
    use tessera::activation::keygen::import;
    use tessera::LicenseHandle;
    let setup = common::Setup::starting("2024-01-01T00:00:00Z");
    let config = rust_example_config(&setup);
    let bytes = read("rust_machine_files_examples_machine.lic");
    let fingerprint = MACHINE_FINGERPRINTS[0].1;
    for wrong in [None, Some("another-machine")] {
        let err = import(&config, &bytes, RUST_KEY, wrong).unwrap_err();
        assert!(
            matches!(err.code(), Code::InvalidArgument | Code::DecryptionFailed),
            "{err}"
        );
    }
    assert_eq!(
        LicenseHandle::open(&config).unwrap_err().code(),
        Code::NotActivated
    );
    import(&config, &bytes, RUST_KEY, Some(fingerprint)).unwrap();
    let handle = LicenseHandle::open(&config).unwrap();
    assert_eq!(handle.check().unwrap(), Status::Valid);
    assert_eq!(handle.license().id, "5224caee-595b-44cc-bac9-d01787642bac");
    // The state carried to another machine is refused there.
    let other = common::device::FakeDevice::another_physical();
    let mut elsewhere = setup.config_on(&other);
    elsewhere.keyring = config.keyring.clone();
    let err = LicenseHandle::open(&elsewhere).unwrap_err();
    assert_eq!(err.code(), Code::StoreFromOtherDevice);
}

#[test]
fn a_keyring_without_the_keygen_key_cannot_open_an_imported_file() {
    use tessera::activation::keygen::import;
    use tessera::LicenseHandle;
    let setup = common::Setup::starting("2022-09-01T00:00:00Z");
    let config = rust_example_config(&setup);
    import(
        &config,
        &read("rust_license_files_examples_license.lic"),
        RUST_KEY,
        None,
    )
    .unwrap();
    // A release that dropped the Keygen key no longer trusts the file.
    let without = setup.config();
    assert_eq!(
        LicenseHandle::open(&without).unwrap_err().code(),
        Code::UnknownKeyId
    );
}
