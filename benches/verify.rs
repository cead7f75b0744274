//! Parse + verify + validate of a typical license file, beside a bare
//! Ed25519 `verify_strict` of the same signed message and signature,
//! measured in the same run.
//!
//! `cargo bench --bench verify --features issuer`
// A test may fail by panicking, and its shared helpers are `pub` to its modules.
#![allow(clippy::unwrap_used, clippy::expect_used, unreachable_pub)]
#![allow(missing_docs)] // criterion_group! makes an undocumented pub fn

mod common;
use common::median;

use criterion::{black_box, criterion_group, Criterion};
use ed25519_dalek::{Signer as _, SigningKey as DalekKey};
use tessera::issuer::SigningKey;
use tessera::{Keyring, LicenseFile, ValidationOptions};

const SPEC: &str = include_str!("../examples/specs/time-limited.json");

fn bench(c: &mut Criterion) {
    // Throwaway test key.
    let key = SigningKey::from_seed(&[42; 32]).expect("test key");
    let issued = "2026-02-01T00:00:00Z"
        .parse::<tessera::Time>()
        .expect("time");
    let (text, license) = tessera::issuer::issue(SPEC.as_bytes(), &key, issued).expect("issue");
    let keyring = Keyring::from_keys([key.public_key().clone()]);
    let options = ValidationOptions::new("acme-cad");
    let now = "2026-06-01T00:00:00Z"
        .parse::<tessera::Time>()
        .expect("time");

    // The message the license signature covers (domain || key id ||
    // payload) and its signature: Ed25519 is deterministic, so signing the
    // same message with the same key gives the file's own signature. The
    // bare verification checks exactly what the license check does.
    let opened = tessera::format::armor::decode(&tessera::format::armor::LICENSE, text.as_bytes())
        .expect("armor");
    let payload_len = opened.payload().len();
    let message = [
        tessera::format::armor::LICENSE.domain,
        &opened.key_id().0,
        opened.payload(),
    ]
    .concat();
    let message_len = message.len();
    let dalek = DalekKey::from_bytes(&[42; 32]);
    let verifying = dalek.verifying_key();
    let signature = dalek.sign(&message);
    // The payload is the issuer's canonical form, which the license reader takes directly.
    assert_eq!(
        opened.payload(),
        serde_json::to_vec(&license).expect("encode")
    );

    eprintln!(
        "license file: {} bytes, payload {} bytes, signed message {} bytes",
        text.len(),
        payload_len,
        message_len
    );

    let check = || {
        let file = LicenseFile::verify(black_box(text.as_bytes()), &keyring).expect("valid");
        let v = tessera::runtime::validate::validate_at(file.license(), &options, now);
        black_box(v.status)
    };
    let bare = || {
        verifying
            .verify_strict(black_box(&message), black_box(&signature))
            .expect("valid");
    };
    let mut group = c.benchmark_group("license_check");
    group.bench_function("parse_verify_validate", |b| b.iter(check));
    group.bench_function("ed25519_verify_strict_same_bytes", |b| b.iter(bare));
    group.finish();

    // The ratio, measured so that the machine's drift cannot tilt it: 201
    // rounds, each timing 200 checks and then 200 bare verifications; the
    // median of the rounds' ratios. Criterion's two medians above are taken
    // seconds apart, so on a shared machine their ratio moves by +-0.1.
    let time = |f: &dyn Fn()| {
        let start = std::time::Instant::now();
        for _ in 0..200 {
            f();
        }
        start.elapsed().as_secs_f64()
    };
    let check = || {
        check();
    };
    let mut ratios: Vec<f64> = (0..201).map(|_| time(&check) / time(&bare)).collect();
    ratios.sort_by(f64::total_cmp);
    INTERLEAVED.with(|r| r.set(Some(ratios[ratios.len() / 2])));
}

thread_local! {
    static INTERLEAVED: std::cell::Cell<Option<f64>> = const { std::cell::Cell::new(None) };
}

criterion_group!(benches, bench);

fn main() {
    benches();
    Criterion::default().configure_from_args().final_summary();
    // Every run states the ratio (goal: at most 1.10).
    if let Some(ratio) = INTERLEAVED.with(std::cell::Cell::get) {
        println!("interleaved: parse+verify+validate / bare verify_strict, median of 201 rounds: {ratio:.3} (goal <= 1.10)");
    }
    if let (Some(check), Some(bare)) = (
        median("license_check", "parse_verify_validate"),
        median("license_check", "ed25519_verify_strict_same_bytes"),
    ) {
        println!(
            "median: parse+verify+validate {:.1} µs, bare verify_strict {:.1} µs, ratio {:.3} (goal <= 1.10)",
            check / 1000.0,
            bare / 1000.0,
            check / bare
        );
    }
}
