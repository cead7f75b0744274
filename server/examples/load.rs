//! A load generator for `tessera-server`, loopback only, bounded in count
//! and time: activations per second and heartbeats per second with 1, 16
//! and 128 concurrent clients, with latency percentiles.
//!
//! `scripts/bench-server.sh` starts a release server on a temporary
//! database and runs this against it:
//!
//! ```text
//! load URL ADMIN_TOKEN [--requests N] [--seconds S]
//! ```

use std::time::{Duration, Instant};

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine as _;
use hmac::{Hmac, Mac};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

struct Target {
    url: String,
    code: String,
    key: Vec<u8>,
}

fn sign(t: &Target, path: &str, body: &str, date: &str, nonce: &str) -> String {
    let digest: String = Sha256::digest(body.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    let mut mac = Hmac::<Sha256>::new_from_slice(&t.key).expect("key");
    mac.update(format!("{date}\nPOST\n{path}\n{digest}\n{nonce}").as_bytes());
    format!(
        "Tessera-HMAC-SHA256 product={}, signature={}",
        t.code,
        B64.encode(mac.finalize().into_bytes())
    )
}

/// One signed client call; returns its status.
fn call(client: &reqwest::blocking::Client, t: &Target, path: &str, body: &Value, n: u64) -> u16 {
    let body = body.to_string();
    let date = httpdate::fmt_http_date(std::time::SystemTime::now());
    let nonce = format!("load-{n:016x}-{:08x}", std::process::id());
    let auth = sign(t, path, &body, &date, &nonce);
    client
        .post(format!("{}{path}", t.url))
        .header("date", date)
        .header("tessera-nonce", nonce)
        .header("authorization", auth)
        .body(body)
        .send()
        .map(|r| r.status().as_u16())
        .unwrap_or(0)
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

/// Runs `clients` threads, each calling `work(client index, request number)`
/// until `requests` are done in all or `limit` passes.
fn phase(
    name: &str,
    clients: usize,
    requests: u64,
    limit: Duration,
    work: &(dyn Fn(usize, u64) -> u16 + Sync),
) {
    let next = std::sync::atomic::AtomicU64::new(0);
    let start = Instant::now();
    let results: Vec<(Vec<Duration>, u64)> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..clients)
            .map(|c| {
                let next = &next;
                scope.spawn(move || {
                    let mut lat = Vec::new();
                    let mut errors = 0;
                    loop {
                        let n = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                        if n >= requests || start.elapsed() > limit {
                            break;
                        }
                        let t = Instant::now();
                        if work(c, n) != 200 {
                            errors += 1;
                        }
                        lat.push(t.elapsed());
                    }
                    (lat, errors)
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().unwrap_or_default())
            .collect()
    });
    let elapsed = start.elapsed();
    let mut lat: Vec<Duration> = results.iter().flat_map(|r| r.0.clone()).collect();
    let errors: u64 = results.iter().map(|r| r.1).sum();
    lat.sort();
    println!(
        "{name:<12} clients {clients:>3}  requests {:>6}  errors {errors:>3}  {:>8.0}/s  p50 {:>6.2} ms  p90 {:>6.2} ms  p99 {:>6.2} ms",
        lat.len(),
        lat.len() as f64 / elapsed.as_secs_f64(),
        percentile(&lat, 0.50).as_secs_f64() * 1e3,
        percentile(&lat, 0.90).as_secs_f64() * 1e3,
        percentile(&lat, 0.99).as_secs_f64() * 1e3,
    );
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.len() < 3 {
        eprintln!("usage: load URL ADMIN_TOKEN [--requests N] [--seconds S]");
        std::process::exit(2);
    }
    let url = args[1].trim_end_matches('/').to_owned();
    if !(url.starts_with("http://127.")
        || url.starts_with("http://[::1]")
        || url.starts_with("http://localhost"))
    {
        eprintln!("load: loopback addresses only");
        std::process::exit(2);
    }
    let flag = |name: &str, default: u64| {
        args.iter()
            .position(|a| a == name)
            .and_then(|i| args.get(i + 1))
            .and_then(|v| v.parse().ok())
            .unwrap_or(default)
    };
    let requests = flag("--requests", 20_000);
    let limit = Duration::from_secs(flag("--seconds", 10));
    let admin = reqwest::blocking::Client::new();
    let bearer = format!("Bearer {}", args[2]);
    let product: Value = admin
        .post(format!("{url}/admin/v1/products"))
        .header("authorization", &bearer)
        .body(json!({"code": "load", "name": "Load test"}).to_string())
        .send()
        .and_then(|r| r.json())
        .expect("create the product");
    let key = B64
        .decode(product["api_key"].as_str().expect("api_key"))
        .expect("base64");
    let spec = json!({"license_type": "perpetual", "allow_unlimited_activations": true,
        "is_floating": true, "floating_users": 100000, "floating_timeout": 60,
        "product_details": {"short_code": "load"}});
    let status = admin
        .post(format!("{url}/admin/v1/licenses"))
        .header("authorization", &bearer)
        .body(json!({"license_key": "LOAD", "spec": spec}).to_string())
        .send()
        .map(|r| r.status().as_u16())
        .unwrap_or(0);
    assert_eq!(status, 200, "create the license");
    let target = Target {
        url,
        code: "load".into(),
        key,
    };
    let who = |device: String| json!({"product": "load", "license_key": "LOAD", "fingerprint": {"id": device, "components": {}}});
    println!(
        "bounded to {requests} requests or {} s per phase",
        limit.as_secs()
    );
    for clients in [1usize, 16, 128] {
        let pool: Vec<reqwest::blocking::Client> = (0..clients)
            .map(|_| reqwest::blocking::Client::new())
            .collect();
        let activate = |c: usize, n: u64| {
            call(
                &pool[c],
                &target,
                "/api/v1/activate_license",
                &who(format!("act-{clients}-{n}")),
                n,
            )
        };
        phase("activations", clients, requests, limit, &activate);
        // Each client holds a seat and heart-beats it.
        for (c, client) in pool.iter().enumerate() {
            let d = who(format!("hb-{clients}-{c}"));
            call(client, &target, "/api/v1/activate_license", &d, c as u64);
            call(client, &target, "/api/v1/floating/register", &d, c as u64);
        }
        let heartbeat = |c: usize, n: u64| {
            call(
                &pool[c],
                &target,
                "/api/v1/floating/heartbeat",
                &who(format!("hb-{clients}-{c}")),
                n,
            )
        };
        phase("heartbeats", clients, requests, limit, &heartbeat);
    }
}
