//! Hashing a download: the download helper checking a 64 MiB release
//! file already in its folder (the same streaming SHA-256 it runs on the
//! bytes as they arrive) beside `sha256sum` on the same file, in the same
//! run (goal: at least 0.8 of `sha256sum`'s speed).
//!
//! `cargo bench --bench download --features issuer,online`
// A test may fail by panicking, and its shared helpers are `pub` to its modules.
#![allow(clippy::unwrap_used, clippy::expect_used, unreachable_pub)]
#![allow(missing_docs)] // criterion_group! makes an undocumented pub fn

mod common;
use common::median;

use std::process::Command;
use std::time::Duration;

use criterion::{black_box, criterion_group, Criterion, Throughput};
use sha2::{Digest, Sha256};
use tessera::format::release::{sign, ReleaseManifest};
use tessera::issuer::SigningKey;
use tessera::online::{Connection, Release, ServerConfig};
use tessera::{Keyring, LocalConfig};

const SIZE: usize = 64 << 20;

fn bench(c: &mut Criterion) {
    let key = SigningKey::from_seed(&[42; 32]).expect("throwaway test key");
    let dir = tempfile::tempdir_in(std::env::current_dir().expect("cwd"))
        .expect("tempdir on the project's disk");
    let name = "cad-2.0.bin";
    let file = dir.path().join(name);
    let mut bytes = Vec::with_capacity(SIZE);
    let mut block = Sha256::digest(b"bench");
    while bytes.len() < SIZE {
        bytes.extend_from_slice(&block);
        block = Sha256::digest(block);
    }
    std::fs::write(&file, &bytes).expect("write the file");
    let manifest = ReleaseManifest::new(
        "cad",
        "2.0",
        "stable",
        name,
        SIZE as u64,
        &Sha256::digest(&bytes).into(),
    );
    drop(bytes);
    let mut release = Release::new(
        "cad",
        "stable",
        "2.0",
        "2026-12-01T00:00:00Z",
        "/downloads/cad-2.0.bin",
        "",
        SIZE as u64,
    );
    release.manifest = sign(&manifest, &key).expect("sign");
    let mut local = LocalConfig::new("cad", Keyring::from_keys([key.public_key().clone()]));
    local.secret = b"test-only vendor secret".to_vec();
    local.store_dir = Some(dir.path().join("store"));
    // Never reached: the file is there, so the helper only checks it.
    let conn = Connection::new(&local, ServerConfig::new("http://127.0.0.1:9", vec![1; 32]))
        .expect("connection");

    let mut g = c.benchmark_group("download_hash");
    g.throughput(Throughput::Bytes(SIZE as u64));
    g.sample_size(10).measurement_time(Duration::from_secs(10));
    g.bench_function("helper", |b| {
        b.iter(|| {
            black_box(
                conn.download_release(&release, dir.path())
                    .expect("the file checks"),
            )
        })
    });
    g.bench_function("sha256sum", |b| {
        b.iter(|| {
            let out = Command::new("sha256sum")
                .arg(&file)
                .output()
                .expect("sha256sum runs");
            assert!(out.status.success());
            black_box(out.stdout)
        })
    });
    g.finish();
}

criterion_group!(benches, bench);

fn main() {
    benches();
    Criterion::default().configure_from_args().final_summary();
    if let (Some(helper), Some(coreutils)) = (
        median("download_hash", "helper"),
        median("download_hash", "sha256sum"),
    ) {
        let mib = (SIZE >> 20) as f64;
        println!(
            "median over {mib} MiB: helper {:.0} MiB/s, sha256sum {:.0} MiB/s; helper / sha256sum speed {:.2} (goal >= 0.8)",
            mib / (helper / 1e9),
            mib / (coreutils / 1e9),
            coreutils / helper
        );
    }
}
