//! The usage report against the real server: over random histories of
//! seats taken, released, borrowed and denied, consumption and clock
//! moves, its totals are the sums of what the test did (kept by the test
//! itself), per license and per account, as JSON and as CSV.
// A test may fail by panicking, and its shared helpers are `pub` to its modules.
#![allow(clippy::unwrap_used, clippy::expect_used, unreachable_pub)]

mod common;

use std::collections::BTreeMap;
use std::sync::Arc;

use serde_json::{json, Value};

use common::*;

/// The first second of 2030-01-01, where the histories start.
const START: i64 = 1_893_456_000;
const TIMEOUT: i64 = 15 * 60;

struct Rng(u64);
impl Rng {
    fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 % n.max(1)
    }
}

/// A device's lease as the test expects the server to hold it.
#[derive(Clone, Copy)]
struct Lease {
    start: i64,
    expires: i64,
    borrow: bool,
}

/// What the test did to one license.
#[derive(Default)]
struct Model {
    leases: BTreeMap<usize, Lease>,
    /// Seat time that ended: (start, end).
    spans: Vec<(i64, i64)>,
    activations: u64,
    borrows: u64,
    denials: u64,
    consumed: u64,
}

impl Model {
    fn live_others(&self, device: usize, now: i64) -> usize {
        self.leases
            .iter()
            .filter(|(d, l)| **d != device && l.expires > now)
            .count()
    }

    /// A register (or a borrow) granted at `now` until `expires`.
    fn grant(&mut self, device: usize, now: i64, expires: i64, borrow: bool) {
        match self.leases.get_mut(&device) {
            Some(l) if l.expires > now => {
                l.borrow = l.borrow && l.expires > expires || (borrow && expires >= l.expires);
                l.expires = l.expires.max(expires);
            }
            Some(l) => {
                self.spans.push((l.start, l.expires));
                *l = Lease {
                    start: now,
                    expires,
                    borrow,
                };
            }
            None => {
                self.leases.insert(
                    device,
                    Lease {
                        start: now,
                        expires,
                        borrow,
                    },
                );
            }
        }
    }

    fn seat_seconds(&self, now: i64) -> i64 {
        let ended: i64 = self.spans.iter().map(|(a, b)| b - a).sum();
        let held: i64 = self
            .leases
            .values()
            .map(|l| l.expires.min(now) - l.start)
            .sum();
        ended + held
    }
}

fn set_clock(s: &Server, at: i64) {
    let t = tessera::Time::from_unix(at).unwrap();
    assert_eq!(
        admin(s, "POST", "/admin/v1/clock", json!({"now": t.to_string()})).status,
        200
    );
}

fn report(s: &Server, query: &str) -> Value {
    let a = admin(
        s,
        "GET",
        &format!("/admin/v1/reports/usage?{query}"),
        Value::Null,
    );
    assert_eq!(a.status, 200, "{}", a.body);
    a.body
}

#[test]
fn the_usage_report_adds_up_to_what_happened_over_random_histories() {
    for seed in [3u64, 17, 2026] {
        let s = start_in(Arc::new(tempfile::tempdir().unwrap()), true);
        let mut rng = Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1);
        let mut now = START + 6 * 3600;
        set_clock(&s, now);
        let p = product(&s, "acme");
        let licenses = ["L-0", "L-1", "L-2"];
        for (i, id) in licenses.iter().enumerate() {
            let a = admin(
                &s,
                "POST",
                "/admin/v1/licenses",
                json!({"license_key": format!("KEY-{i}"),
                       "account": if i < 2 { Some("acme-corp") } else { None },
                       "spec": {"id": id, "license_type": "consumption", "max_consumptions": 1_000_000,
                                "allow_unlimited_activations": true, "is_floating": true,
                                "floating_users": 2, "floating_timeout": 15,
                                "can_borrow": true, "max_borrow_time": 3,
                                "product_details": {"short_code": "acme"}}}),
            );
            assert_eq!(a.status, 200, "{}", a.body);
        }
        let mut models: Vec<Model> = (0..3).map(|_| Model::default()).collect();
        let body = |license: usize, device: usize| {
            json!({"product": "acme", "license_key": format!("KEY-{license}"),
                   "fingerprint": device_of(device)})
        };
        // Nine devices, three on each license of two seats.
        for device in 0..9 {
            let license = device % 3;
            let r = call(&s, &p, "/api/v1/activate_license", body(license, device));
            assert_eq!(r.status, 200, "{}", r.body);
            models[license].activations += 1;
        }
        for step in 0..150 {
            // Mostly minutes apart, now and then hours (a day turns).
            let gap = if step % 25 == 24 { 9 * 3600 } else { 10 * 60 };
            now += i64::try_from(rng.below(gap)).unwrap();
            set_clock(&s, now);
            let device = usize::try_from(rng.below(9)).unwrap();
            let license = device % 3;
            let m = &mut models[license];
            match rng.below(4) {
                0 => {
                    let r = call(&s, &p, "/api/v1/floating/register", body(license, device));
                    if m.live_others(device, now) >= 2 {
                        assert_eq!(r.body["code"], "no_seat_available", "{}", r.body);
                        m.denials += 1;
                    } else {
                        assert_eq!(r.status, 200, "{}", r.body);
                        m.grant(device, now, now + TIMEOUT, false);
                    }
                }
                1 => {
                    let r = call(&s, &p, "/api/v1/floating/release", body(license, device));
                    assert_eq!(r.status, 200, "{}", r.body);
                    if let Some(l) = m.leases.get(&device).copied() {
                        if !l.borrow || l.expires <= now {
                            m.spans.push((l.start, l.expires.min(now)));
                            m.leases.remove(&device);
                        }
                    }
                }
                2 => {
                    let hours = i64::try_from(rng.below(3) + 1).unwrap();
                    let mut b = body(license, device);
                    b["hours"] = json!(hours);
                    let r = call(&s, &p, "/api/v1/floating/borrow", b);
                    if m.live_others(device, now) >= 2 {
                        assert_eq!(r.body["code"], "no_seat_available", "{}", r.body);
                        m.denials += 1;
                    } else {
                        assert_eq!(r.status, 200, "{}", r.body);
                        m.grant(device, now, now + hours * 3600, true);
                        m.borrows += 1;
                    }
                }
                _ => {
                    let amount = rng.below(20) + 1;
                    let mut b = body(license, device);
                    let seq = m.consumed + 1; // any growing number
                    b["records"] = json!([{"seq": seq, "counter": "license", "amount": amount}]);
                    let r = call(&s, &p, "/api/v1/add_consumption", b);
                    assert_eq!(r.status, 200, "{}", r.body);
                    m.consumed += amount;
                }
            }
        }
        // The history tried every path.
        let all = |f: fn(&Model) -> u64| models.iter().map(f).sum::<u64>();
        assert!(
            all(|m| m.denials) > 0 && all(|m| m.borrows) > 0,
            "seed {seed}"
        );
        assert!(
            all(|m| m.spans.len() as u64) > 0 && all(|m| m.consumed) > 0,
            "seed {seed}"
        );
        let (from, to) = ("2030-01-01", "2030-01-31");
        let per_license = report(&s, &format!("from={from}&to={to}"));
        for (i, id) in licenses.iter().enumerate() {
            let m = &models[i];
            let rows: Vec<&Value> = per_license["rows"]
                .as_array()
                .unwrap()
                .iter()
                .filter(|r| r["license_id"] == *id)
                .collect();
            let sum = |field: &str| rows.iter().map(|r| r[field].as_u64().unwrap()).sum::<u64>();
            assert_eq!(sum("activations"), m.activations, "seed {seed} {id}");
            assert_eq!(sum("borrows"), m.borrows, "seed {seed} {id}");
            assert_eq!(sum("denials"), m.denials, "seed {seed} {id}");
            assert_eq!(
                sum("seat_seconds"),
                m.seat_seconds(now) as u64,
                "seed {seed} {id}"
            );
            let consumed: u64 = rows
                .iter()
                .map(|r| r["consumption"]["license"].as_u64().unwrap_or(0))
                .sum();
            assert_eq!(consumed, m.consumed, "seed {seed} {id}");
            assert!(rows.iter().all(|r| r["peak_seats"].as_u64().unwrap() <= 2));
            assert!(rows.iter().all(|r| r["product"] == "acme"));
        }
        // Per account: acme-corp's rows are its two licenses summed.
        let per_account = report(
            &s,
            &format!("from={from}&to={to}&per=account&account=acme-corp"),
        );
        let rows = per_account["rows"].as_array().unwrap();
        assert!(rows
            .iter()
            .all(|r| r["account"] == "acme-corp" && r["license_id"].is_null()));
        let seat: u64 = rows
            .iter()
            .map(|r| r["seat_seconds"].as_u64().unwrap())
            .sum();
        assert_eq!(
            seat,
            (models[0].seat_seconds(now) + models[1].seat_seconds(now)) as u64,
            "seed {seed}"
        );
        assert_eq!(
            per_account["totals"]["consumption"]["license"]
                .as_u64()
                .unwrap_or(0),
            models[0].consumed + models[1].consumed
        );
        assert!(rows.iter().all(|r| r["peak_seats"].as_u64().unwrap() <= 4));
        // The CSV says the same, a line per row.
        let csv = s
            .client
            .get(format!(
                "{}/admin/v1/reports/usage.csv?from={from}&to={to}",
                s.url
            ))
            .header("authorization", format!("Bearer {ADMIN}"))
            .send()
            .unwrap();
        assert_eq!(csv.status(), 200);
        assert_eq!(csv.headers()["content-type"], "text/csv; charset=utf-8");
        assert!(csv.headers().contains_key("tessera-signature"));
        let text = csv.text().unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert!(lines[0].starts_with("date,license_id,product,account,activations,peak_seats"));
        assert_eq!(
            lines.len() - 1,
            per_license["rows"].as_array().unwrap().len()
        );
        let seat_column: u64 = lines[1..]
            .iter()
            .map(|l| l.split(',').nth(7).unwrap().parse::<u64>().unwrap())
            .sum();
        assert_eq!(
            seat_column,
            per_license["totals"]["seat_seconds"].as_u64().unwrap()
        );
    }
}

#[test]
fn a_report_refuses_what_it_cannot_mean() {
    let s = start();
    for query in [
        "from=2030-01-02&to=2030-01-01",
        "from=2030-1-1&to=2030-01-02",
        "from=2000-01-01&to=2030-01-01",
        "from=2030-01-01&to=2030-01-02&per=product",
        "from=2030-01-01&to=2030-01-02&license=a&account=b",
        "to=2030-01-02",
    ] {
        let a = admin(
            &s,
            "GET",
            &format!("/admin/v1/reports/usage?{query}"),
            Value::Null,
        );
        assert_eq!(a.status, 400, "{query}: {}", a.body);
    }
    let empty = report(&s, "from=2030-01-01&to=2030-01-02");
    assert_eq!(empty["rows"], json!([]));
    assert_eq!(empty["totals"]["seat_seconds"], 0);
}

fn device_of(n: usize) -> Value {
    device(n)
}
