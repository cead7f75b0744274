//! Verify and decrypt one public Keygen license file (the Rust example's,
//! 12 KB of ciphertext, vectors.txt F1) with Tessera and with keygen-rs,
//! in the same run; prints both medians and their ratio.
#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used)]

use criterion::{black_box, criterion_group, Criterion};
use keygen_rs::license::LicenseFileAlgorithm;
use keygen_rs::license_file::LicenseFile as KgFile;
use tessera::keygen::KeygenFile;
use tessera::{Keyring, PublicKey};

const FILE: &str =
    include_str!("../../../tests/vectors/keygen/rust_license_files_examples_license.lic");
const ACCOUNT_KEY: &str = "e8601e48b69383ba520245fd07971e983d06d22c4257cfd82304601479cee788";
const LICENSE_KEY: &str = "988214-879010-F1185E-B37E91-E53AF5-V3";
const PRODUCT: &str = "174c3c8f-6d7f-4161-aa8e-54231ab0b911";

fn bench(c: &mut Criterion) {
    let mut ring = Keyring::new();
    ring.add_keygen(PublicKey::parse(ACCOUNT_KEY).unwrap(), PRODUCT, "acme");
    let kg = KgFile {
        id: String::new(),
        certificate: FILE.to_owned(),
        issued: chrono::DateTime::UNIX_EPOCH,
        expiry: chrono::DateTime::UNIX_EPOCH,
        ttl: 0,
    };
    // Both read the same thing before anything is timed.
    let ours = KeygenFile::verify(FILE.as_bytes(), &ring)
        .unwrap()
        .open(LICENSE_KEY, None)
        .unwrap();
    // keygen-rs checks the file's expiry against the real clock after the
    // work (verify, decrypt, parse), and every public sample it can read
    // (ttl set) has expired: it hands the read dataset back in the error.
    let theirs = match kg.verify_and_decrypt(
        ACCOUNT_KEY,
        LICENSE_KEY,
        LicenseFileAlgorithm::Aes256GcmEd25519,
    ) {
        Ok(dataset) => dataset,
        Err(keygen_rs::errors::Error::LicenseFileExpired(dataset)) => *dataset,
        Err(e) => panic!("keygen-rs refused the sample: {e}"),
    };
    assert_eq!(ours.license_id(), theirs.license.id);

    let mut group = c.benchmark_group("keygen_license_file");
    group.bench_function("tessera_verify_decrypt", |b| {
        b.iter(|| {
            let file = KeygenFile::verify(black_box(FILE.as_bytes()), &ring).unwrap();
            black_box(file.open(black_box(LICENSE_KEY), None).unwrap())
        })
    });
    group.bench_function("keygen_rs_verify_decrypt", |b| {
        b.iter(|| {
            black_box(black_box(&kg).verify_and_decrypt(
                black_box(ACCOUNT_KEY),
                black_box(LICENSE_KEY),
                LicenseFileAlgorithm::Aes256GcmEd25519,
            ))
        })
    });
    group.finish();
}

/// Reads criterion's medians back and prints the ratio (goal: at most 0.8).
fn ratio() {
    let median = |name: &str| -> Option<f64> {
        let path = format!("target/criterion/keygen_license_file/{name}/new/estimates.json");
        let text = std::fs::read_to_string(path).ok()?;
        let start = text.find("\"median\"")?;
        let rest = &text[start..];
        let at = rest.find("\"point_estimate\":")? + "\"point_estimate\":".len();
        let end = rest[at..].find([',', '}'])? + at;
        rest[at..end].trim().parse().ok()
    };
    if let (Some(ours), Some(theirs)) = (
        median("tessera_verify_decrypt"),
        median("keygen_rs_verify_decrypt"),
    ) {
        println!(
            "median: tessera {:.1} µs, keygen-rs {:.1} µs, ratio {:.3} (goal <= 0.8)",
            ours / 1000.0,
            theirs / 1000.0,
            ours / theirs
        );
    }
}

criterion_group!(benches, bench);

fn main() {
    benches();
    Criterion::default().configure_from_args().final_summary();
    ratio();
}
