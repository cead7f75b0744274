//! A load generator for `tessera-server`, loopback only, bounded in count
//! and time: activations per second and heartbeats per second with 1, 16
//! and 128 concurrent clients, with latency percentiles; then heartbeats
//! offered at 5,000 a second from 128 clients, latency counted from when
//! each request was due.
//!
//! `scripts/bench-server.sh` starts a release server on a temporary
//! database and runs this against it:
//!
//! ```text
//! load URL[,URL...] ADMIN_TOKEN [--requests N] [--seconds S] [--paced-only]
//!      [--heartbeats-only] [--rounds R] [--licenses K]
//! ```
//!
//! `--device-proofs` activates each device with a key and signs every
//! later call with it, as the SDK does (the server then verifies a proof
//! per call; `scripts/bench-relay.sh` compares the relay with this).
//! `--paced-only` skips the closed-loop phases; `--heartbeats-only` runs
//! the 128 clients' closed-loop heartbeats alone; `--rounds` repeats the
//! paced phase (default 1), each round on its own schedule. Several URLs
//! are instances sharing one database: client `c` talks to the `c`-th
//! (round robin), as behind a load balancer. `--licenses` spreads the
//! devices over K floating licenses (default 1), as a server holding many
//! customers' licenses sees them.
// A test may fail by panicking, and its shared helpers are `pub` to its modules.
#![allow(clippy::unwrap_used, clippy::expect_used, unreachable_pub)]

use std::time::{Duration, Instant};

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine as _;
use serde_json::{json, Value};
use tessera::protocol::request;

struct Target {
    urls: Vec<String>,
    code: String,
    key: Vec<u8>,
    licenses: usize,
    proofs: bool,
}

/// A device's proof key, from its name (the same name, the same key).
fn device_seed(device: &str) -> [u8; 32] {
    use sha2::Digest as _;
    sha2::Sha256::digest(device.as_bytes()).into()
}

impl Target {
    /// The instance client `c` talks to.
    fn url(&self, c: usize) -> &str {
        &self.urls[c % self.urls.len()]
    }
}

/// Every request's nonce is new: the server refuses a nonce it has seen.
static SENT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

fn sign(t: &Target, path: &str, body: &str, date: &str, nonce: &str) -> String {
    let message = request::request_string(date, "POST", path, body.as_bytes(), nonce);
    let signature = request::sign(&t.key, &message).expect("key");
    request::authorization(&t.code, &signature)
}

/// One signed client call from client `c`; returns its status.
async fn call(client: &reqwest::Client, t: &Target, c: usize, path: &str, body: &Value) -> u16 {
    let body = body.to_string();
    let date = tessera::protocol::format_http_date(chrono::Utc::now());
    let n = SENT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let nonce = format!("load-{n:016x}-{:08x}", std::process::id());
    let auth = sign(t, path, &body, &date, &nonce);
    let mut request = client.post(format!("{}{path}", t.url(c)));
    if t.proofs {
        let device: Value = serde_json::from_str(&body).unwrap_or_default();
        let seed = device_seed(device["fingerprint"]["id"].as_str().unwrap_or_default());
        let message = request::request_string(&date, "POST", path, body.as_bytes(), &nonce);
        request = request.header(
            request::DEVICE_SIGNATURE_HEADER,
            request::sign_device_proof(&seed, &message),
        );
    }
    let sent = request
        .header("date", date)
        .header("tessera-nonce", nonce)
        .header("authorization", auth)
        .body(body)
        .send()
        .await;
    match sent {
        // Read the whole body, as a client would.
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

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

/// Runs `clients` tasks on one thread, each calling `work(client index,
/// request number)` until `requests` are done in all or `limit` passes.
async fn phase<F, Fut>(name: &str, clients: usize, requests: u64, limit: Duration, work: F)
where
    F: Fn(usize, u64) -> Fut + Clone + 'static,
    Fut: std::future::Future<Output = u16> + 'static,
{
    let next = std::rc::Rc::new(std::cell::Cell::new(0u64));
    let start = Instant::now();
    let local = tokio::task::LocalSet::new();
    let handles: Vec<_> = (0..clients)
        .map(|c| {
            let (next, work) = (next.clone(), work.clone());
            local.spawn_local(async move {
                let mut lat = Vec::new();
                let mut errors = 0u64;
                loop {
                    let n = next.get();
                    next.set(n + 1);
                    if n >= requests || start.elapsed() > limit {
                        break;
                    }
                    let t = Instant::now();
                    if work(c, n).await != 200 {
                        errors += 1;
                    }
                    lat.push(t.elapsed());
                }
                (lat, errors)
            })
        })
        .collect();
    let results = gather(local, handles).await;
    report(name, clients, &results, start.elapsed(), "");
}

/// Offers `rate` requests per second in all from `clients` tasks, each on
/// its own schedule, for `length`; a latency counts from when the request
/// was due, so a server that falls behind is charged for the wait
/// (no coordinated omission).
async fn paced<F, Fut>(name: &str, clients: usize, rate: f64, length: Duration, work: F)
where
    F: Fn(usize, u64) -> Fut + Clone + 'static,
    Fut: std::future::Future<Output = u16> + 'static,
{
    let start = tokio::time::Instant::now() + Duration::from_millis(20);
    let total = (rate * length.as_secs_f64()) as u64;
    let local = tokio::task::LocalSet::new();
    let handles: Vec<_> = (0..clients)
        .map(|c| {
            let work = work.clone();
            local.spawn_local(async move {
                let (mut lat, mut errors) = (Vec::new(), 0u64);
                let mut n = c as u64;
                while n < total {
                    let due = start + Duration::from_secs_f64(n as f64 / rate);
                    tokio::time::sleep_until(due).await;
                    if work(c, n).await != 200 {
                        errors += 1;
                    }
                    lat.push(due.elapsed());
                    n += clients as u64;
                }
                (lat, errors)
            })
        })
        .collect();
    let results = gather(local, handles).await;
    let note = format!("  (offered {rate:.0}/s)");
    report(name, clients, &results, start.elapsed(), &note);
}

/// Runs the clients' tasks to their end; each answers its latencies and
/// its error count.
async fn gather(
    local: tokio::task::LocalSet,
    handles: Vec<tokio::task::JoinHandle<(Vec<Duration>, u64)>>,
) -> Vec<(Vec<Duration>, u64)> {
    local
        .run_until(async {
            let mut all = Vec::new();
            for h in handles {
                all.push(h.await.unwrap_or_default());
            }
            all
        })
        .await
}

/// Prints a phase's rate and latency percentiles.
fn report(
    name: &str,
    clients: usize,
    results: &[(Vec<Duration>, u64)],
    elapsed: Duration,
    note: &str,
) {
    let mut lat: Vec<Duration> = results.iter().flat_map(|r| r.0.clone()).collect();
    let errors: u64 = results.iter().map(|r| r.1).sum();
    lat.sort();
    println!(
        "{name:<12} clients {clients:>3}  requests {:>6}  errors {errors:>3}  {:>8.0}/s  p50 {:>6.2} ms  p90 {:>6.2} ms  p99 {:>6.2} ms{note}",
        lat.len(),
        lat.len() as f64 / elapsed.as_secs_f64(),
        percentile(&lat, 0.50).as_secs_f64() * 1e3,
        percentile(&lat, 0.90).as_secs_f64() * 1e3,
        percentile(&lat, 0.99).as_secs_f64() * 1e3,
    );
}

fn main() {
    // One thread drives every client, so the generator takes at most one
    // of the machine's cores from the server.
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    runtime.block_on(run());
}

async fn run() {
    let args: Vec<String> = std::env::args().collect();
    if args.len() < 3 {
        eprintln!(
            "usage: load URL[,URL...] ADMIN_TOKEN [--requests N] [--seconds S] [--paced-only] [--rounds R] [--licenses K]"
        );
        std::process::exit(2);
    }
    let urls: Vec<String> = args[1]
        .split(',')
        .map(|u| u.trim_end_matches('/').to_owned())
        .collect();
    for url in &urls {
        if !(url.starts_with("http://127.")
            || url.starts_with("http://[::1]")
            || url.starts_with("http://localhost"))
        {
            eprintln!("load: loopback addresses only");
            std::process::exit(2);
        }
    }
    let url = urls[0].clone();
    let flag = |name: &str, default: u64| {
        args.iter()
            .position(|a| a == name)
            .and_then(|i| args.get(i + 1))
            .and_then(|v| v.parse().ok())
            .unwrap_or(default)
    };
    let requests = flag("--requests", 20_000);
    let limit = Duration::from_secs(flag("--seconds", 10));
    let rounds = flag("--rounds", 1);
    let paced_only = args.iter().any(|a| a == "--paced-only");
    // The closed loop of 128 clients' heartbeats alone (scripts/bench-webhooks.sh).
    let heartbeats_only = args.iter().any(|a| a == "--heartbeats-only");
    let licenses = usize::try_from(flag("--licenses", 1)).unwrap_or(1).max(1);
    let admin = reqwest::Client::new();
    let bearer = format!("Bearer {}", args[2]);
    let product: Value = admin
        .post(format!("{url}/admin/v1/products"))
        .header("authorization", &bearer)
        .body(json!({"code": "load", "name": "Load test"}).to_string())
        .send()
        .await
        .expect("create the product")
        .json()
        .await
        .expect("create the product");
    let key = B64
        .decode(product["api_key"].as_str().expect("api_key"))
        .expect("base64");
    let spec = json!({"license_type": "perpetual", "allow_unlimited_activations": true,
        "is_floating": true, "floating_users": 100000, "floating_timeout": 60,
        "product_details": {"short_code": "load"}});
    for l in 0..licenses {
        let status = admin
            .post(format!("{url}/admin/v1/licenses"))
            .header("authorization", &bearer)
            .body(json!({"license_key": format!("LOAD-{l}"), "spec": spec}).to_string())
            .send()
            .await
            .map(|r| r.status().as_u16())
            .unwrap_or(0);
        assert_eq!(status, 200, "create the license");
    }
    let target = std::rc::Rc::new(Target {
        urls,
        code: "load".into(),
        key,
        licenses,
        proofs: args.iter().any(|a| a == "--device-proofs"),
    });
    // The target's rate, offered rather than as fast as it goes: the
    // latency a vendor's 128 clients see at 5,000 a second.
    let paced_length = limit.min(Duration::from_secs(5));
    println!(
        "bounded to {requests} requests or {} s per phase; the paced one \
         offers 5,000/s for {} s",
        limit.as_secs(),
        paced_length.as_secs()
    );
    let counts: &[usize] = if paced_only || heartbeats_only {
        &[128]
    } else {
        &[1, 16, 128]
    };
    for &clients in counts {
        // One connection per client, as separate processes would have.
        let pool: std::rc::Rc<Vec<reqwest::Client>> =
            std::rc::Rc::new((0..clients).map(|_| reqwest::Client::new()).collect());
        let (p, t) = (pool.clone(), target.clone());
        let activate = move |c: usize, n: u64| {
            let (p, t) = (p.clone(), t.clone());
            async move {
                let body = who(&t, c, format!("act-{clients}-{n}"));
                call(&p[c], &t, c, "/api/v1/activate_license", &body).await
            }
        };
        if !paced_only && !heartbeats_only {
            phase("activations", clients, requests, limit, activate).await;
        }
        // Each client holds a seat and heart-beats it.
        for (c, client) in pool.iter().enumerate() {
            let d = who(&target, c, format!("hb-{clients}-{c}"));
            call(client, &target, c, "/api/v1/activate_license", &d).await;
            call(client, &target, c, "/api/v1/floating/register", &d).await;
        }
        let (p, t) = (pool.clone(), target.clone());
        let heartbeat = move |c: usize, _: u64| {
            let (p, t) = (p.clone(), t.clone());
            async move {
                let body = who(&t, c, format!("hb-{clients}-{c}"));
                call(&p[c], &t, c, "/api/v1/floating/heartbeat", &body).await
            }
        };
        if !paced_only {
            phase("heartbeats", clients, requests, limit, heartbeat.clone()).await;
        }
        if clients == 128 && !heartbeats_only {
            for _ in 0..rounds {
                paced(
                    "heartbeats",
                    clients,
                    5000.0,
                    paced_length,
                    heartbeat.clone(),
                )
                .await;
            }
        }
    }
}

/// Client `c`'s call about `device`, on the client's license (with
/// `--device-proofs`, the device's public key: the server records it at
/// activation and ignores it later).
fn who(t: &Target, c: usize, device: String) -> Value {
    let key = format!("LOAD-{}", c % t.licenses);
    let mut v = json!({"product": "load", "license_key": key, "fingerprint": {"id": device, "components": {}}});
    if t.proofs {
        let public = ed25519_dalek::SigningKey::from_bytes(&device_seed(&device)).verifying_key();
        v["device_key"] = json!(B64.encode(public.as_bytes()));
    }
    v
}
