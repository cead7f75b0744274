//! Events and webhooks against the real server (docs/EVENTS.md): each
//! change writes its event; a receiver on loopback that fails in every way
//! a receiver can still gets every event, at least once, in order per
//! license, signed; a server killed between commit and delivery delivers
//! after restart; a receiver's address cannot reach the vendor's network;
//! two instances on PostgreSQL never send one event twice at once.
// A test may fail by panicking, and its shared helpers are `pub` to its modules.
#![allow(clippy::unwrap_used, clippy::expect_used, unreachable_pub)]

mod common;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use serde_json::{json, Value};
use tessera::protocol::webhook::{verify_delivery, DeliveryHeaders};

use common::receiver::{Behaviour, Received, Receiver};
use common::*;

/// A server that may send webhooks to loopback, with the test clock and a
/// receiver deadline of one second.
fn start_server(dir: Arc<tempfile::TempDir>) -> Server {
    let config = json!({"listen": "127.0.0.1:0", "insecure_http": true, "test_clock": true,
                        "webhooks_allow_private": true, "webhook_timeout_secs": 1});
    start_with(dir, config, None).unwrap()
}

/// Sets the server's clock to `at` seconds after a fixed start.
fn set_clock(s: &Server, at: i64) {
    let t = tessera::Time::from_unix(1_893_456_000 + at).unwrap();
    let a = admin(s, "POST", "/admin/v1/clock", json!({"now": t.to_string()}));
    assert_eq!(a.status, 200, "{}", a.body);
}

fn hook(s: &Server, url: &str, events: Value) -> String {
    let a = admin(
        s,
        "POST",
        "/admin/v1/webhooks",
        json!({"url": url, "events": events, "description": "test receiver"}),
    );
    assert_eq!(a.status, 200, "{}", a.body);
    a.body["id"].as_str().unwrap().to_owned()
}

fn of_kind<'a>(all: &'a [Value], kind: &str) -> &'a Value {
    all.iter().find(|e| e["type"] == kind).unwrap()
}

fn events(s: &Server) -> Vec<Value> {
    let a = admin(s, "GET", "/admin/v1/events?limit=1000", Value::Null);
    assert_eq!(a.status, 200, "{}", a.body);
    a.body.as_array().unwrap().clone()
}

/// Checks the delivery's signature with the server's key, as a receiver does.
fn verified(s: &Server, r: &Received) -> bool {
    let ring = tessera::Keyring::from_keys([s.key.clone()]);
    let sent: i64 = r.timestamp.parse().unwrap();
    let now = tessera::Time::from_unix(sent).unwrap();
    let headers = DeliveryHeaders {
        event_id: Some(&r.event_id),
        timestamp: Some(&r.timestamp),
        signature: Some(&r.signature),
    };
    verify_delivery(&ring, headers, &r.body, now, Duration::from_secs(300))
        .is_ok_and(|id| id == r.event_id)
}

fn floating(s: &Server, p: &Product, key: &str, id: &str, seats: u32) {
    license(
        s,
        p,
        key,
        json!({"id": id, "license_type": "perpetual", "allow_unlimited_activations": true,
               "is_floating": true, "floating_users": seats, "floating_timeout": 15,
               "can_borrow": true, "max_borrow_time": 24}),
    );
}

#[test]
fn each_change_writes_its_event_with_who_made_it() {
    let s = start_server(Arc::new(tempfile::tempdir().unwrap()));
    set_clock(&s, 0);
    let p = product(&s, "acme");
    floating(&s, &p, "FLOAT", "F-1", 1);
    let ends = tessera::Time::from_unix(1_893_456_000 + 86_400).unwrap();
    license(
        &s,
        &p,
        "COUNT",
        json!({"id": "C-1", "license_type": "consumption", "max_consumptions": 10,
               "allow_unlimited_activations": true, "validity_period": ends.to_string()}),
    );
    for n in [1, 2] {
        assert_eq!(
            call(&s, &p, "/api/v1/activate_license", who(&p, "FLOAT", n)).status,
            200
        );
    }
    assert_eq!(
        call(&s, &p, "/api/v1/floating/register", who(&p, "FLOAT", 1)).status,
        200
    );
    // The one seat is held: the second device is denied, and that is an event
    // though the request changed nothing.
    let denied = call(&s, &p, "/api/v1/floating/register", who(&p, "FLOAT", 2));
    assert_eq!(denied.body["code"], "no_seat_available");
    assert_eq!(
        call(&s, &p, "/api/v1/floating/release", who(&p, "FLOAT", 1)).status,
        200
    );
    let mut borrow = who(&p, "FLOAT", 2);
    borrow["hours"] = json!(2);
    assert_eq!(call(&s, &p, "/api/v1/floating/borrow", borrow).status, 200);
    assert_eq!(
        call(&s, &p, "/api/v1/floating/release", who(&p, "FLOAT", 2)).status,
        200
    );
    // Consumption: 8 of 10 crosses 80 %, 10 crosses 100 %.
    assert_eq!(
        call(&s, &p, "/api/v1/activate_license", who(&p, "COUNT", 3)).status,
        200
    );
    for (seq, amount) in [(1, 7), (2, 1), (3, 1), (4, 1)] {
        let mut body = who(&p, "COUNT", 3);
        body["records"] = json!([{"seq": seq, "counter": "license", "amount": amount}]);
        let r = call(&s, &p, "/api/v1/add_consumption", body);
        assert_eq!(r.status, 200, "{}", r.body);
    }
    // Support removes a device; the vendor suspends, reinstates, renews.
    let removed = admin(
        &s,
        "DELETE",
        "/admin/v1/licenses/F-1/devices/device-0001",
        Value::Null,
    );
    assert_eq!(removed.status, 200, "{}", removed.body);
    assert_eq!(
        admin(&s, "POST", "/admin/v1/licenses/C-1/disable", Value::Null).status,
        200
    );
    assert_eq!(
        admin(&s, "POST", "/admin/v1/licenses/C-1/disable", Value::Null).status,
        200
    );
    assert_eq!(
        admin(&s, "POST", "/admin/v1/licenses/C-1/enable", Value::Null).status,
        200
    );
    let later = tessera::Time::from_unix(1_893_456_000 + 2 * 86_400).unwrap();
    let renewed = admin(
        &s,
        "PATCH",
        "/admin/v1/licenses/C-1",
        json!({"spec": {"validity_period": later.to_string()}}),
    );
    assert_eq!(renewed.status, 200, "{}", renewed.body);
    // A trial: its license is created, and the trial started.
    let d = admin(
        &s,
        "POST",
        "/admin/v1/definitions",
        json!({"product": "acme", "code": "TRIAL", "name": "Trial", "trial_days": 14,
               "spec": {"license_type": "time-limited", "validity_period": "2099-01-01T00:00:00Z",
                        "product_details": {"short_code": "acme"}}}),
    );
    assert_eq!(d.status, 200, "{}", d.body);
    let trial = call(
        &s,
        &p,
        "/api/v1/trial_key",
        json!({"product": "acme", "fingerprint": device(9)}),
    );
    assert_eq!(trial.status, 200, "{}", trial.body);
    let release = admin(
        &s,
        "POST",
        "/admin/v1/products/acme/releases",
        json!({"version": "2.0.0", "installation_file": "https://example.com/acme-2.0.0.msi",
               "hash_md5": "0123456789abcdef0123456789abcdef", "size": 10}),
    );
    assert_eq!(release.status, 200, "{}", release.body);
    // Past its (new) end, the sender reports the license expired, once.
    set_clock(&s, 3 * 86_400);
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    while !events(&s).iter().any(|e| e["type"] == "license.expired") {
        assert!(std::time::Instant::now() < deadline, "no license.expired");
        std::thread::sleep(Duration::from_millis(50));
    }

    let all = events(&s);
    let kinds: Vec<&str> = all.iter().map(|e| e["type"].as_str().unwrap()).collect();
    let count = |k: &str| kinds.iter().filter(|x| **x == k).count();
    assert_eq!(count("license.created"), 3, "{kinds:?}");
    assert_eq!(count("trial.started"), 1, "{kinds:?}");
    assert_eq!(
        of_kind(&all, "trial.started")["data"]["device"],
        "device-0009"
    );
    assert_eq!(count("activation.created"), 3, "{kinds:?}");
    assert_eq!(count("seat.denied"), 1, "{kinds:?}");
    assert_eq!(count("borrow.started"), 1, "{kinds:?}");
    assert_eq!(count("borrow.returned"), 1, "{kinds:?}");
    assert_eq!(count("consumption.threshold"), 2, "{kinds:?}");
    assert_eq!(count("activation.removed"), 1, "{kinds:?}");
    // Disabled twice: suspended once.
    assert_eq!(count("license.suspended"), 1, "{kinds:?}");
    assert_eq!(count("license.reinstated"), 1, "{kinds:?}");
    assert_eq!(count("license.changed"), 1, "{kinds:?}");
    assert_eq!(count("license.renewed"), 1, "{kinds:?}");
    assert_eq!(count("release.published"), 1, "{kinds:?}");
    assert_eq!(count("license.expired"), 1, "{kinds:?}");
    let of = |k: &str| all.iter().find(|e| e["type"] == k).unwrap();
    assert_eq!(of("seat.denied")["data"]["device"], "device-0002");
    assert_eq!(of("seat.denied")["license_id"], "F-1");
    assert_eq!(of("seat.denied")["product"], "acme");
    assert_eq!(of("activation.created")["data"]["by"], "device");
    // Support's removal names the admin (the token, or a staff member).
    let by = of("activation.removed")["data"]["by"].as_str().unwrap();
    assert!(by.starts_with("admin token"), "{by}");
    assert_eq!(
        of("activation.removed")["data"]["counted_as_transfer"],
        false
    );
    let thresholds: Vec<&Value> = all
        .iter()
        .filter(|e| e["type"] == "consumption.threshold")
        .map(|e| &e["data"]["percent"])
        .collect();
    assert_eq!(thresholds, [&json!(80), &json!(100)]);
    assert_eq!(of("license.expired")["data"]["ended_at"], later.to_string());
    // Ids grow, times are the server's (test) clock.
    let ids: Vec<i64> = all
        .iter()
        .map(|e| e["id"].as_str().unwrap().parse().unwrap())
        .collect();
    assert!(ids.windows(2).all(|w| w[0] < w[1]), "{ids:?}");
    assert_eq!(all[0]["created_at"], "2030-01-01T00:00:00Z");
}

#[test]
fn a_receiver_that_fails_in_every_way_gets_every_event_in_order_signed() {
    let mut s = start_server(Arc::new(tempfile::tempdir().unwrap()));
    set_clock(&s, 0);
    // The first deliveries meet a 500, a closed connection, a receiver that
    // hangs past the deadline, one that answers late; then 200s.
    let receiver = Receiver::start(|n, _| match n {
        0 => Behaviour::Status(500),
        1 => Behaviour::Close,
        2 => Behaviour::Hang(Duration::from_secs(3)),
        3 => Behaviour::Late(Duration::from_millis(1500)),
        4 => Behaviour::Status(503),
        _ => Behaviour::Status(200),
    });
    // The receiver's own token rides in its URL: no log may show it.
    let id = hook(
        &s,
        &format!("{}?token=receiver-only-secret", receiver.url),
        json!(["*"]),
    );
    let p = product(&s, "acme");
    for (key, license_id) in [("A", "L-A"), ("B", "L-B")] {
        floating(&s, &p, key, license_id, 2);
    }
    for n in 0..6 {
        let key = if n % 2 == 0 { "A" } else { "B" };
        assert_eq!(
            call(&s, &p, "/api/v1/activate_license", who(&p, key, n)).status,
            200
        );
    }
    let expected: Vec<String> = events(&s)
        .iter()
        .map(|e| e["id"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(expected.len(), 8);
    // Retries come due as the server's clock moves (never a sleep that
    // stands for time: the test clock jumps, the sender notices).
    let mut clock = 0;
    let deadline = std::time::Instant::now() + Duration::from_secs(90);
    loop {
        let got = receiver.all();
        let delivered: Vec<&String> = got
            .iter()
            .filter(|r| r.answered == Some(200))
            .map(|r| &r.event_id)
            .collect();
        if expected.iter().all(|e| delivered.contains(&e)) {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "not all delivered: {delivered:?}"
        );
        clock += 600;
        set_clock(&s, clock);
        std::thread::sleep(Duration::from_millis(200));
    }
    let got = receiver.all();
    // Every delivery, failed or not, is signed by the server's key.
    assert!(got.iter().all(|r| verified(&s, r)));
    // A license's events arrive in the order they happened: each first
    // arrival after the previous one's.
    let mut per_license: BTreeMap<String, Vec<i64>> = BTreeMap::new();
    for r in &got {
        let ids = per_license
            .entry(r.license_id.clone().unwrap_or_default())
            .or_default();
        let n: i64 = r.event_id.parse().unwrap();
        if !ids.contains(&n) {
            ids.push(n);
        }
    }
    for (license, ids) in &per_license {
        assert!(ids.windows(2).all(|w| w[0] < w[1]), "{license}: {ids:?}");
    }
    // The delivery log says what each attempt met.
    let log = admin(
        &s,
        "GET",
        &format!("/admin/v1/webhooks/{id}/deliveries"),
        Value::Null,
    );
    let log = log.body.as_array().unwrap().clone();
    let errors: Vec<&str> = log.iter().map(|a| a["error"].as_str().unwrap()).collect();
    assert!(errors.contains(&"the receiver answered 500"), "{errors:?}");
    assert!(
        errors.contains(&"no answer within the deadline"),
        "{errors:?}"
    );
    assert!(log.iter().any(|a| a["status"] == 200 && a["error"] == ""));
    let w = admin(&s, "GET", &format!("/admin/v1/webhooks/{id}"), Value::Null);
    assert_eq!(w.body["pending"], 0, "{}", w.body);
    assert_eq!(w.body["state"], "active");
    assert!(!errors.iter().any(|e| e.contains("receiver-only-secret")));
    let log = s.stop_and_read_log();
    assert!(
        !log.contains("receiver-only-secret") && !log.contains("/hook"),
        "{log}"
    );
}

#[test]
fn a_receiver_down_for_a_day_pauses_its_webhook_and_the_vendor_hears_of_it() {
    let s = start_server(Arc::new(tempfile::tempdir().unwrap()));
    set_clock(&s, 0);
    let down = Receiver::start(|_, _| Behaviour::Status(500));
    let watcher = Receiver::start(|_, _| Behaviour::Status(200));
    let id = hook(&s, &down.url, json!(["license.created"]));
    hook(&s, &watcher.url, json!(["webhook.paused"]));
    let p = product(&s, "acme");
    floating(&s, &p, "A", "L-A", 1);
    floating(&s, &p, "B", "L-B", 1);
    // The first failure, then the clock jumps past a day: the next attempt
    // is the last.
    down.wait_for("the first attempt", |got| !got.is_empty());
    let mut clock = 0;
    let paused = loop {
        clock += 3 * 3600;
        set_clock(&s, clock);
        std::thread::sleep(Duration::from_millis(200));
        let w = admin(&s, "GET", &format!("/admin/v1/webhooks/{id}"), Value::Null);
        if w.body["state"] == "paused" {
            break w.body;
        }
        assert!(clock < 5 * 86_400, "never paused: {}", w.body);
    };
    assert!(paused["failed"].as_u64().unwrap() >= 1, "{paused}");
    let told = watcher.wait_for("webhook.paused", |got| {
        got.iter().any(|r| r.kind == "webhook.paused")
    });
    let body: Value = serde_json::from_slice(&told[0].body).unwrap();
    assert_eq!(body["data"]["webhook_id"], id.as_str());
    assert_eq!(body["data"]["last_error"], "the receiver answered 500");
    // Nothing more is sent while paused; resumed, everything goes (to a
    // receiver that answers now), in order.
    let tried = down.all().len();
    clock += 86_400;
    set_clock(&s, clock);
    std::thread::sleep(Duration::from_millis(600));
    assert_eq!(down.all().len(), tried, "sent while paused");
    let fixed = Receiver::start(|_, _| Behaviour::Status(200));
    let moved = admin(
        &s,
        "PATCH",
        &format!("/admin/v1/webhooks/{id}"),
        json!({"url": fixed.url}),
    );
    assert_eq!(moved.status, 200, "{}", moved.body);
    let resumed = admin(
        &s,
        "POST",
        &format!("/admin/v1/webhooks/{id}/resume"),
        Value::Null,
    );
    assert_eq!(resumed.body["state"], "active");
    let got = fixed.wait_for("both licenses", |got| got.len() >= 2);
    let mut licenses: Vec<_> = got.iter().map(|r| r.license_id.clone().unwrap()).collect();
    licenses.sort();
    assert_eq!(licenses, ["L-A", "L-B"]);
}

#[test]
fn a_server_killed_between_commit_and_delivery_delivers_after_restart() {
    let dir = Arc::new(tempfile::tempdir().unwrap());
    let mut s = start_server(Arc::clone(&dir));
    set_clock(&s, 0);
    // The first delivery hangs: the server is killed while it waits.
    let receiver = Receiver::start(|n, _| match n {
        0 => Behaviour::Hang(Duration::from_secs(5)),
        _ => Behaviour::Status(200),
    });
    hook(&s, &receiver.url, json!(["license.created"]));
    let p = product(&s, "acme");
    floating(&s, &p, "A", "L-A", 1);
    receiver.wait_for("the first attempt", |got| !got.is_empty());
    s.child.kill().unwrap();
    s.child.wait().unwrap();
    drop(s);
    let s = start_server(dir);
    // The killed instance's claim lapses (deadline and margin); then the
    // event goes again, with the same id.
    set_clock(&s, 120);
    let got = receiver.wait_for("the delivery after restart", |got| {
        got.iter().any(|r| r.answered == Some(200))
    });
    let ids: Vec<&str> = got.iter().map(|r| r.event_id.as_str()).collect();
    assert!(ids.iter().all(|i| *i == ids[0]), "{ids:?}");
    assert!(got.iter().all(|r| verified(&s, r)));
}

#[test]
fn a_receiver_cannot_lead_the_server_into_its_own_network() {
    let dir = Arc::new(tempfile::tempdir().unwrap());
    // A server that does not allow private addresses refuses them all,
    // loopback and the cloud's metadata address included.
    let strict = start_in(Arc::clone(&dir), true);
    for url in [
        "http://127.0.0.1:9/hook",
        "https://127.0.0.1/hook",
        "https://169.254.169.254/latest/meta-data/",
        "https://[::ffff:10.0.0.1]/",
        "https://10.0.0.1/",
        "https://user:secret@example.com/",
        "ftp://example.com/",
    ] {
        let a = admin(
            &strict,
            "POST",
            "/admin/v1/webhooks",
            json!({"url": url, "events": ["*"]}),
        );
        assert_eq!(a.status, 400, "{url}: {}", a.body);
        assert!(!a.body["message"].as_str().unwrap().contains("secret"));
    }
    let a = admin(
        &strict,
        "POST",
        "/admin/v1/webhooks",
        json!({"url": "https://example.com/", "events": ["license.made"]}),
    );
    assert_eq!(a.status, 400, "{}", a.body);
    drop(strict);

    // A receiver that redirects is not followed; a huge answer is not read
    // to its end; a slow one is cut off at the deadline.
    let s = start_server(Arc::new(tempfile::tempdir().unwrap()));
    set_clock(&s, 0);
    let target = Receiver::start(|_, _| Behaviour::Status(200));
    let to = target.url.clone();
    let redirecting = Receiver::start(move |_, _| Behaviour::Redirect(to.clone()));
    let huge = Receiver::start(|_, _| Behaviour::Huge(512 * 1024 * 1024));
    let slow = Receiver::start(|_, _| Behaviour::Hang(Duration::from_secs(30)));
    let redirect_id = hook(&s, &redirecting.url, json!(["license.created"]));
    let huge_id = hook(&s, &huge.url, json!(["license.created"]));
    let slow_id = hook(&s, &slow.url, json!(["license.created"]));
    let p = product(&s, "acme");
    floating(&s, &p, "A", "L-A", 1);
    let started = std::time::Instant::now();
    let log_of = |id: &str| {
        let a = admin(
            &s,
            "GET",
            &format!("/admin/v1/webhooks/{id}/deliveries"),
            Value::Null,
        );
        a.body.as_array().unwrap().clone()
    };
    let wait_log = |id: &str| loop {
        let log = log_of(id);
        if !log.is_empty() {
            return log;
        }
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "no attempt logged for {id}"
        );
        std::thread::sleep(Duration::from_millis(50));
    };
    let redirected = wait_log(&redirect_id);
    assert_eq!(redirected[0]["status"], 302);
    assert_eq!(redirected[0]["error"], "the receiver answered 302");
    let huge_log = wait_log(&huge_id);
    assert_eq!(huge_log[0]["status"], 200, "{huge_log:?}");
    let slow_log = wait_log(&slow_id);
    assert_eq!(slow_log[0]["error"], "no answer within the deadline");
    // Cut off at the one-second deadline, not after the receiver's 30 s.
    assert!(
        slow_log[0]["millis"].as_u64().unwrap() < 5_000,
        "{slow_log:?}"
    );
    assert!(target.all().is_empty(), "the redirect was followed");
    assert_eq!(redirecting.all().len(), 1);
}

#[test]
fn two_instances_on_postgres_send_each_event_once_at_a_time() {
    if postgres().is_none() {
        eprintln!("skipped: the multi-instance tests need TESSERA_TEST_POSTGRES");
        return;
    }
    let dir = Arc::new(tempfile::tempdir().unwrap());
    let a = start_server(Arc::clone(&dir));
    let b = start_server(dir);
    // Each delivery takes a while, so two senders would overlap if both took it.
    let slow_ok = Receiver::start(|_, _| Behaviour::Slow(Duration::from_millis(30)));
    hook(&a, &slow_ok.url, json!(["*"]));
    let p = product(&a, "acme");
    for n in 0..40 {
        let s = if n % 2 == 0 { &a } else { &b };
        floating(s, &p, &format!("K{n}"), &format!("L-{n}"), 1);
    }
    let got = slow_ok.wait_for("40 events", |got| {
        let mut ids: Vec<&str> = got.iter().map(|r| r.event_id.as_str()).collect();
        ids.sort_unstable();
        ids.dedup();
        ids.len() >= 40
    });
    assert_eq!(
        slow_ok.overlaps.load(std::sync::atomic::Ordering::SeqCst),
        0
    );
    // Answered at once, each event went exactly once.
    let mut ids: Vec<&str> = got.iter().map(|r| r.event_id.as_str()).collect();
    let n = ids.len();
    ids.sort_unstable();
    ids.dedup();
    assert_eq!(ids.len(), n, "an event was sent twice");
}

#[test]
fn a_killed_instances_deliveries_are_taken_over_by_the_other() {
    if postgres().is_none() {
        eprintln!("skipped: the multi-instance tests need TESSERA_TEST_POSTGRES");
        return;
    }
    let dir = Arc::new(tempfile::tempdir().unwrap());
    let mut a = start_server(Arc::clone(&dir));
    set_clock(&a, 0);
    // The first delivery hangs; whichever instance sent it is killed then.
    let receiver = Receiver::start(|n, _| match n {
        0 => Behaviour::Hang(Duration::from_secs(5)),
        _ => Behaviour::Status(200),
    });
    hook(&a, &receiver.url, json!(["license.created"]));
    let p = product(&a, "acme");
    floating(&a, &p, "A", "L-A", 1);
    receiver.wait_for("the first attempt", |got| !got.is_empty());
    // B starts only now, so A alone could have claimed it.
    let b = start_server(dir);
    a.child.kill().unwrap();
    a.child.wait().unwrap();
    // B's clock passes A's claim (the deadline and a margin): B sends it.
    set_clock(&b, 120);
    let got = receiver.wait_for("the delivery taken over", |got| {
        got.iter().any(|r| r.answered == Some(200))
    });
    assert!(got
        .iter()
        .all(|r| r.event_id == got[0].event_id && verified(&b, r)));
}
