//! The license handle: a warm check, and durable increments per second from
//! 1 and 8 threads beside the raw rate of append + fdatasync on the same disk,
//! all in the same run.
//!
//! `cargo bench --bench runtime --features issuer`
// A test may fail by panicking, and its shared helpers are `pub` to its modules.
#![allow(clippy::unwrap_used, clippy::expect_used, unreachable_pub)]
#![allow(missing_docs)] // criterion_group! makes an undocumented pub fn

mod common;
use common::median;

use std::io::Write as _;
use std::sync::Arc;
use std::time::{Duration, Instant};

use criterion::{black_box, criterion_group, Criterion, Throughput};
use tessera::issuer::SigningKey;
use tessera::{activate, Clock, Counter, Keyring, LicenseHandle, LocalConfig, SystemClock};

const SPEC: &str = r#"{
  "license_type": "consumption", "allow_unlimited_consumptions": true,
  "validity_period": "2099-01-01",
  "product_details": {"short_code": "acme-cad"},
  "product_features": [{"code": "pdf-export"}]
}"#;

fn bench(c: &mut Criterion) {
    let key = SigningKey::from_seed(&[42; 32]).expect("throwaway test key");
    let (text, _) =
        tessera::issuer::issue(SPEC.as_bytes(), &key, SystemClock.now()).expect("issue");
    let dir = tempfile::tempdir_in(std::env::current_dir().expect("cwd"))
        .expect("tempdir on the project's disk");
    let mut config = LocalConfig::new("acme-cad", Keyring::from_keys([key.public_key().clone()]));
    config.secret = b"test-only vendor secret".to_vec();
    config.store_dir = Some(dir.path().join("store"));
    activate(&config, text.as_bytes()).expect("activate");
    let handle = Arc::new(LicenseHandle::open(&config).expect("open"));

    let mut g = c.benchmark_group("runtime");
    g.bench_function("warm_check", |b| {
        b.iter(|| black_box(handle.check().expect("check")))
    });
    g.finish();

    let mut g = c.benchmark_group("durable_increment");
    g.throughput(Throughput::Elements(1));
    g.sample_size(20).measurement_time(Duration::from_secs(8));
    let raw_path = dir.path().join("raw.log");
    let mut raw = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&raw_path)
        .expect("raw file");
    let line = [b'x'; 120];
    g.bench_function("raw_append_fdatasync", |b| {
        b.iter(|| {
            raw.write_all(&line).expect("write");
            raw.sync_data().expect("sync");
        })
    });
    g.bench_function("consume_1_thread", |b| {
        b.iter(|| black_box(handle.consume(&Counter::License, 1).expect("consume")))
    });
    g.bench_function("consume_8_threads", |b| {
        b.iter_custom(|iters| {
            let per = iters.div_ceil(8);
            let start = Instant::now();
            let threads: Vec<_> = (0..8)
                .map(|_| {
                    let h = Arc::clone(&handle);
                    std::thread::spawn(move || {
                        for _ in 0..per {
                            h.consume(&Counter::License, 1).expect("consume");
                        }
                    })
                })
                .collect();
            for t in threads {
                t.join().expect("thread");
            }
            // Time per increment, so criterion's throughput is increments per second.
            start.elapsed().mul_f64(iters as f64 / (per * 8) as f64)
        })
    });
    g.finish();
}

criterion_group!(benches, bench);

fn main() {
    benches();
    Criterion::default().configure_from_args().final_summary();
    // Every run states its ratios: increments per second against the raw
    // append + fdatasync rate (goal: at least 0.9), and eight threads
    // against one (goal: at least 5).
    let group = "durable_increment";
    if let (Some(raw), Some(one), Some(eight)) = (
        median(group, "raw_append_fdatasync"),
        median(group, "consume_1_thread"),
        median(group, "consume_8_threads"),
    ) {
        println!(
            "median per increment: raw {:.1} µs, 1 thread {:.1} µs, 8 threads {:.1} µs",
            raw / 1000.0,
            one / 1000.0,
            eight / 1000.0
        );
        println!(
            "1 thread / raw rate {:.3} (goal >= 0.9); 8 threads / 1 thread rate {:.2} (goal >= 5)",
            raw / one,
            one / eight
        );
    }
}
