//! Device identity and local state, each beside a baseline in the same run:
//! - cold fingerprint collection on this machine, beside one read of /proc/cpuinfo;
//! - cold open of the store and license (fingerprint, store, verify, clock),
//!   beside verifying the license file alone;
//! - a warm check, beside one read of the system clock.
//!
//! `cargo bench --bench device --features issuer`
// A test may fail by panicking, and its shared helpers are `pub` to its modules.
#![allow(clippy::unwrap_used, clippy::expect_used, unreachable_pub)]
#![allow(missing_docs)] // criterion_group! makes an undocumented pub fn

use std::sync::Arc;

use criterion::{black_box, criterion_group, criterion_main, Criterion};
use tessera::issuer::SigningKey;
use tessera::{activate, Clock, Keyring, LicenseFile, LicenseHandle, LocalConfig, SystemClock};

const SPEC: &str = r#"{
  "license_type": "time-limited",
  "validity_period": "2099-01-01",
  "allow_grace_period": true, "grace_period": 72,
  "product_details": {"product_name": "Acme CAD", "short_code": "acme-cad"},
  "product_features": [{"code": "pdf-export"}, {"code": "render", "feature_type": "consumption", "max_consumption": 500}]
}"#;

fn bench(c: &mut Criterion) {
    let key = SigningKey::from_seed(&[42; 32]).expect("throwaway test key");
    let (text, _) =
        tessera::issuer::issue(SPEC.as_bytes(), &key, SystemClock.now()).expect("issue");
    let keyring = Keyring::from_keys([key.public_key().clone()]);
    let dir = tempfile::tempdir().expect("tempdir");
    let mut config = LocalConfig::new("acme-cad", keyring.clone());
    config.secret = b"test-only vendor secret".to_vec();
    config.store_dir = Some(dir.path().to_owned());
    config.clock = Arc::new(SystemClock);
    activate(&config, text.as_bytes()).expect("activate");

    let mut g = c.benchmark_group("device");
    g.bench_function("fingerprint_cold", |b| {
        b.iter(|| {
            black_box(tessera::device::linux::collect_host(b"acme-cad\0").expect("fingerprint"))
        })
    });
    g.bench_function("baseline_read_proc_cpuinfo", |b| {
        b.iter(|| black_box(std::fs::read("/proc/cpuinfo").expect("cpuinfo")))
    });
    g.bench_function("open_store_and_license_cold", |b| {
        b.iter(|| black_box(LicenseHandle::open(&config).expect("open")))
    });
    g.bench_function("baseline_verify_license_file", |b| {
        b.iter(|| black_box(LicenseFile::verify(text.as_bytes(), &keyring).expect("verify")))
    });
    let local = LicenseHandle::open(&config).expect("open");
    g.bench_function("warm_check", |b| {
        b.iter(|| black_box(local.check().expect("check")))
    });
    g.bench_function("baseline_system_clock_now", |b| {
        b.iter(|| black_box(SystemClock.now()))
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
