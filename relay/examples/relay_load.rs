//! A load generator for `tessera-relay`, loopback only, bounded in count
//! and time (`scripts/bench-relay.sh` runs it):
//!
//! 1. `--grants` clients (default 500) activate, then take their seats
//!    one after another, each grant with every earlier seat held: the
//!    latency of a seat granted, p50 and p99; then as many more ask all
//!    at once (a thundering herd: every request queued behind the others);
//! 2. 128 of them heart-beat their seats in a closed loop for `--seconds`:
//!    heartbeats per second and their p99 (the same phase `load.rs` runs
//!    against `tessera-server`);
//! 3. more clients take seats until `--hold` leases (default 1,000) are
//!    held, and it prints `holding N` for the script to read the relay's
//!    resident memory.
//!
//! ```text
//! relay_load URL PRODUCT POOL_KEY [--grants N] [--seconds S] [--hold N]
//! ```
//!
//! Every call is what the SDK sends: the product's Date, nonce and
//! (ignored by the relay) HMAC, and the device's proof under the key it
//! activated with.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::{Duration, Instant};

use serde_json::{json, Value};
use tessera::issuer::SigningKey;
use tessera::protocol::request;

struct Device {
    seed: [u8; 32],
    id: String,
}

impl Device {
    fn new(n: usize) -> Device {
        let mut seed = [0u8; 32];
        seed[..8].copy_from_slice(&(n as u64).to_le_bytes());
        seed[8] = 0xbe;
        Device {
            seed,
            id: format!("load-device-{n:06}"),
        }
    }
}

static SENT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

async fn call(client: &reqwest::Client, url: &str, path: &str, d: &Device, body: &Value) -> u16 {
    let body = body.to_string();
    let date = tessera::protocol::format_http_date(chrono::Utc::now());
    let n = SENT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let nonce = format!("relay-load-{n:016x}-{:08x}", std::process::id());
    let message = request::request_string(&date, "POST", path, body.as_bytes(), &nonce);
    let hmac = request::sign(b"no product key at the relay", &message).unwrap();
    let proof = request::sign_device_proof(&d.seed, &message);
    let sent = client
        .post(format!("{url}{path}"))
        .header("content-type", "application/json")
        .header("date", date)
        .header("tessera-nonce", nonce)
        .header("authorization", request::authorization("load", &hmac))
        .header(request::DEVICE_SIGNATURE_HEADER, proof)
        .body(body)
        .send()
        .await;
    match sent {
        Ok(r) => {
            let status = r.status().as_u16();
            match r.bytes().await {
                Ok(_) => status,
                Err(_) => 0,
            }
        }
        Err(_) => 0,
    }
}

fn who(product: &str, d: &Device, key: Option<&str>) -> Value {
    let mut v = json!({"product": product, "fingerprint": {"id": d.id, "components": {}}});
    if let Some(k) = key {
        v["license_key"] = json!(k);
        v["device_key"] = json!(SigningKey::from_seed(&d.seed)
            .unwrap()
            .public_key()
            .to_base64());
    } else {
        v["license_id"] = json!("L-POOL");
    }
    v
}

/// Runs the tasks to their end, in order.
async fn gather<T: 'static>(
    local: tokio::task::LocalSet,
    handles: Vec<tokio::task::JoinHandle<T>>,
) -> Vec<T> {
    local
        .run_until(async {
            let mut all = Vec::new();
            for h in handles {
                all.push(h.await.unwrap());
            }
            all
        })
        .await
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

struct Run {
    url: String,
    product: String,
    pool_key: String,
}

/// Activates devices `from..to`, then asks for their seats, all at once
/// or (`one_by_one`) each after the one before; answers the grants'
/// latencies and how many failed.
async fn grants(run: &Run, from: usize, to: usize, one_by_one: bool) -> (Vec<Duration>, usize) {
    let devices: Vec<Device> = (from..to).map(Device::new).collect();
    let clients: Vec<reqwest::Client> = devices.iter().map(|_| reqwest::Client::new()).collect();
    for (d, c) in devices.iter().zip(&clients) {
        let s = call(
            c,
            &run.url,
            "/api/v1/activate_license",
            d,
            &who(&run.product, d, Some(&run.pool_key)),
        )
        .await;
        assert_eq!(s, 200, "activate");
    }
    if one_by_one {
        let mut lat = Vec::new();
        let mut failed = 0;
        for (d, c) in devices.iter().zip(&clients) {
            let t = Instant::now();
            if call(
                c,
                &run.url,
                "/api/v1/floating/register",
                d,
                &who(&run.product, d, None),
            )
            .await
                != 200
            {
                failed += 1;
            }
            lat.push(t.elapsed());
        }
        lat.sort();
        return (lat, failed);
    }
    let local = tokio::task::LocalSet::new();
    let handles: Vec<_> = devices
        .into_iter()
        .zip(clients)
        .map(|(d, c)| {
            let (url, product) = (run.url.clone(), run.product.clone());
            local.spawn_local(async move {
                let t = Instant::now();
                let s = call(
                    &c,
                    &url,
                    "/api/v1/floating/register",
                    &d,
                    &who(&product, &d, None),
                )
                .await;
                (t.elapsed(), s)
            })
        })
        .collect();
    let results = gather(local, handles).await;
    let failed = results.iter().filter(|r| r.1 != 200).count();
    let mut lat: Vec<Duration> = results.into_iter().map(|r| r.0).collect();
    lat.sort();
    (lat, failed)
}

async fn heartbeats(run: &Run, clients: usize, limit: Duration) {
    let start = Instant::now();
    let local = tokio::task::LocalSet::new();
    let handles: Vec<_> = (0..clients)
        .map(|n| {
            let (url, product) = (run.url.clone(), run.product.clone());
            local.spawn_local(async move {
                let (d, c) = (Device::new(n), reqwest::Client::new());
                let (mut lat, mut errors) = (Vec::new(), 0u64);
                while start.elapsed() < limit {
                    let t = Instant::now();
                    if call(
                        &c,
                        &url,
                        "/api/v1/floating/heartbeat",
                        &d,
                        &who(&product, &d, None),
                    )
                    .await
                        != 200
                    {
                        errors += 1;
                    }
                    lat.push(t.elapsed());
                }
                (lat, errors)
            })
        })
        .collect();
    let results = gather(local, handles).await;
    let elapsed = start.elapsed();
    let mut lat: Vec<Duration> = results.iter().flat_map(|r| r.0.clone()).collect();
    let errors: u64 = results.iter().map(|r| r.1).sum();
    lat.sort();
    println!(
        "heartbeats   clients {clients:>3}  requests {:>6}  errors {errors:>3}  {:>8.0}/s  p50 {:>6.2} ms  p99 {:>6.2} ms",
        lat.len(),
        lat.len() as f64 / elapsed.as_secs_f64(),
        ms(percentile(&lat, 0.5)),
        ms(percentile(&lat, 0.99)),
    );
}

fn main() {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    runtime.block_on(async {
        let args: Vec<String> = std::env::args().collect();
        if args.len() < 4 || !args[1].starts_with("http://127.") {
            eprintln!("usage: relay_load http://127.x.x.x:PORT PRODUCT POOL_KEY [--grants N] [--seconds S] [--hold N]");
            std::process::exit(2);
        }
        let flag = |name: &str, default: usize| {
            args.iter()
                .position(|a| a == name)
                .and_then(|i| args.get(i + 1))
                .and_then(|v| v.parse().ok())
                .unwrap_or(default)
        };
        let run = Run {
            url: args[1].trim_end_matches('/').to_owned(),
            product: args[2].clone(),
            pool_key: args[3].clone(),
        };
        let n = flag("--grants", 500);
        let (lat, failed) = grants(&run, 0, n, true).await;
        println!(
            "grants       clients {n:>3}  one by one   failed {failed:>3}  p50 {:>6.2} ms  p99 {:>6.2} ms  max {:>6.2} ms",
            ms(percentile(&lat, 0.5)),
            ms(percentile(&lat, 0.99)),
            ms(percentile(&lat, 1.0)),
        );
        heartbeats(&run, 128.min(n), Duration::from_secs(flag("--seconds", 10) as u64)).await;
        let hold = flag("--hold", 1000).max(2 * n);
        let (lat, failed) = grants(&run, n, 2 * n, false).await;
        println!(
            "grants       clients {n:>3}  all at once  failed {failed:>3}  p50 {:>6.2} ms  p99 {:>6.2} ms  max {:>6.2} ms",
            ms(percentile(&lat, 0.5)),
            ms(percentile(&lat, 0.99)),
            ms(percentile(&lat, 1.0)),
        );
        if hold > 2 * n {
            let (_, failed) = grants(&run, 2 * n, hold, false).await;
            assert_eq!(failed, 0, "seats for {hold} leases");
        }
        println!("holding {hold}");
    });
}
