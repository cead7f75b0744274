//! Events at a steady rate against `tessera-server`, loopback only, with
//! a webhook receiver of its own: how long from an event's change to the
//! receiver's 200 (p50, p99, the slowest), and whether every event came.
//!
//! ```text
//! webhook_load URL ADMIN_TOKEN [--rate R] [--seconds S] [--no-webhook]
//! ```
//!
//! Each event is a license created through the admin API (its change and
//! its event commit together). An event's time is counted from when its
//! request was sent (so the figure bounds the time from commit from
//! above) to when the receiver had the delivery. `--no-webhook` makes the
//! same changes with no webhook registered: the control beside which
//! `scripts/bench-webhooks.sh` measures what delivering costs the
//! heartbeats running at the same time. The server must allow private
//! addresses (`TESSERA_SERVER_WEBHOOKS_ALLOW_PRIVATE=1`): the receiver is
//! on loopback.
// A bench may fail by panicking.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::{json, Value};

type Arrivals = Arc<Mutex<HashMap<String, Instant>>>;

async fn receive(
    axum::extract::State(arrivals): axum::extract::State<Arrivals>,
    body: axum::body::Bytes,
) -> &'static str {
    let at = Instant::now();
    let event: Value = serde_json::from_slice(&body).unwrap_or_default();
    if let Some(license) = event["license_id"].as_str() {
        arrivals
            .lock()
            .unwrap()
            .entry(license.to_owned())
            .or_insert(at);
    }
    "{}"
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.len() < 3 || !args[1].starts_with("http://127.") {
        eprintln!("usage: webhook_load http://127.0.0.1:PORT ADMIN_TOKEN [--rate R] [--seconds S] [--no-webhook]");
        std::process::exit(2);
    }
    let url = args[1].trim_end_matches('/').to_owned();
    let flag = |name: &str, default: u64| {
        args.iter()
            .position(|a| a == name)
            .and_then(|i| args.get(i + 1))
            .and_then(|v| v.parse().ok())
            .unwrap_or(default)
    };
    let rate = flag("--rate", 100).max(1);
    let seconds = flag("--seconds", 10).max(1);
    let webhook = !args.iter().any(|a| a == "--no-webhook");
    let bearer = format!("Bearer {}", args[2]);

    let arrivals: Arrivals = Arc::default();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let receiver = format!("http://{}/hook", listener.local_addr().unwrap());
    let app = axum::Router::new()
        .route("/hook", axum::routing::post(receive))
        .with_state(arrivals.clone());
    tokio::spawn(async move { axum::serve(listener, app).await });

    let admin = reqwest::Client::new();
    let post = |path: &str, body: Value| {
        admin
            .post(format!("{url}{path}"))
            .header("authorization", &bearer)
            .body(body.to_string())
            .send()
    };
    let tag = std::process::id();
    let product = format!("wh{tag}");
    let made = post(
        "/admin/v1/products",
        json!({"code": product, "name": "Webhook load"}),
    )
    .await
    .unwrap();
    assert_eq!(made.status(), 200, "create the product");
    if webhook {
        let hook = post(
            "/admin/v1/webhooks",
            json!({"url": receiver, "events": ["license.created"], "description": "webhook_load"}),
        )
        .await
        .unwrap();
        assert_eq!(
            hook.status(),
            200,
            "register the webhook: {}",
            hook.text().await.unwrap_or_default()
        );
    }

    let total = rate * seconds;
    let sent: Arc<Mutex<HashMap<String, Instant>>> = Arc::default();
    let every = Duration::from_secs_f64(1.0 / rate as f64);
    let start = tokio::time::Instant::now();
    let mut tasks = tokio::task::JoinSet::new();
    for n in 0..total {
        tokio::time::sleep_until(start + every * u32::try_from(n).unwrap_or(u32::MAX)).await;
        let id = format!("wh-{tag}-{n}");
        let body = json!({"license_key": id, "spec": {"id": id, "license_type": "perpetual",
            "max_activations": 1, "product_details": {"short_code": product}}});
        sent.lock().unwrap().insert(id.clone(), Instant::now());
        let request = admin
            .post(format!("{url}/admin/v1/licenses"))
            .header("authorization", &bearer)
            .body(body.to_string())
            .send();
        tasks.spawn(async move { request.await.map(|r| r.status().as_u16()).unwrap_or(0) });
    }
    let mut failed = 0;
    while let Some(status) = tasks.join_next().await {
        if status.unwrap_or(0) != 200 {
            failed += 1;
        }
    }
    let offered = start.elapsed();
    if !webhook {
        println!(
            "events    rate {rate}/s  made {}  failed {failed}  in {:.1} s  (no webhook)",
            total - failed,
            offered.as_secs_f64()
        );
        return;
    }
    // Every event's delivery, or ten seconds more.
    let waited = Instant::now();
    while arrivals.lock().unwrap().len() < usize::try_from(total - failed).unwrap_or(0)
        && waited.elapsed() < Duration::from_secs(10)
    {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let arrivals = arrivals.lock().unwrap();
    let sent = sent.lock().unwrap();
    let mut latencies: Vec<Duration> = sent
        .iter()
        .filter_map(|(id, at)| {
            arrivals
                .get(id)
                .map(|got| got.saturating_duration_since(*at))
        })
        .collect();
    latencies.sort_unstable();
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    println!(
        "webhooks  rate {rate}/s  events {}  delivered {}  failed {failed}  p50 {:.1} ms  p99 {:.1} ms  max {:.1} ms",
        total,
        latencies.len(),
        ms(percentile(&latencies, 0.50)),
        ms(percentile(&latencies, 0.99)),
        ms(latencies.last().copied().unwrap_or_default()),
    );
}
