//! Relays against the real server (docs/RELAY.md): a relay's delegation
//! asked for and renewed online, one relay per license at a time, and its
//! usage uploaded or imported by the vendor and shown with the license.

// A test may fail by panicking, and its shared helpers are `pub` to its modules.
#![allow(clippy::unwrap_used, clippy::expect_used, unreachable_pub)]

mod common;

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine as _;
use serde_json::{json, Value};
use tessera::Time;
use tessera_relay::online::{self, Vendor};
use tessera_relay::seats::{Ask, Seats};
use tessera_relay::{home, Dirs};

use common::*;

fn relay_dirs(root: &std::path::Path, name: &str) -> Dirs {
    let machine = root.join(format!("{name}-machine"));
    for (path, value) in [
        ("etc/machine-id", format!("{name:0>32}")),
        ("sys/class/dmi/id/product_uuid", format!("uuid-{name}")),
    ] {
        let p = machine.join(path);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, value).unwrap();
    }
    Dirs {
        dir: root.join(name),
        device_root: Some(machine),
    }
}

fn pool_spec() -> Value {
    json!({"id": "L-POOL", "license_type": "perpetual", "allow_unlimited_activations": true,
           "is_floating": true, "floating_users": 10, "floating_timeout": 30,
           "can_borrow": true, "max_borrow_time": 24,
           "product_features": [{"code": "cad", "name": "CAD"}]})
}

#[test]
fn a_relay_is_delegated_online_renews_and_reports_its_usage() {
    let s = start();
    let p = product(&s, "relayed");
    license(&s, &p, "KEY-POOL", pool_spec());
    license(
        &s,
        &p,
        "KEY-NODE",
        json!({"id": "L-NODE", "license_type": "perpetual", "max_activations": 1}),
    );
    let root = tempfile::tempdir().unwrap();
    let vendor_pub = root.path().join("vendor.pub");
    std::fs::write(&vendor_pub, s.key.to_pem()).unwrap();
    let key_file = root.path().join("product.key");
    std::fs::write(&key_file, B64.encode(&p.key)).unwrap();
    let vendor = Vendor::read(&s.url, &key_file).unwrap();
    let now = Time::now();

    let a = relay_dirs(root.path(), "a");
    a.init("relayed", &vendor_pub, now).unwrap();
    let grant = online::activate(&a, &vendor, "KEY-POOL", now).unwrap();
    assert_eq!(grant.delegation.seats, 10);
    assert_eq!(grant.delegation.license_id, "L-POOL");
    assert_eq!(grant.delegation.features, ["cad"]);
    assert!(grant.license.device.is_none());
    let days = grant.delegation.expires_at.unix() - now.unix();
    assert!((89 * 86_400..=90 * 86_400 + 60).contains(&days), "{days}");
    // The relay keeps it, and renewing online gives a new delegation.
    assert_eq!(a.grant(now).unwrap().delegation.id, grant.delegation.id);
    let renewed = online::activate(&a, &vendor, "KEY-POOL", now).unwrap();
    assert_ne!(renewed.delegation.id, grant.delegation.id);
    assert_eq!(a.grant(now).unwrap().delegation.id, renewed.delegation.id);

    // A second relay for the same license is refused while the first's
    // delegation holds; a license that does not float, or a wrong key,
    // delegates nothing.
    let b = relay_dirs(root.path(), "b");
    b.init("relayed", &vendor_pub, now).unwrap();
    let e = online::activate(&b, &vendor, "KEY-POOL", now).unwrap_err();
    assert!(e.message.contains("relay_exists"), "{}", e.message);
    let e = online::activate(&b, &vendor, "KEY-NODE", now).unwrap_err();
    assert!(e.message.contains("not_floating"), "{}", e.message);
    let e = online::activate(&b, &vendor, "KEY-WRONG", now).unwrap_err();
    assert!(e.message.contains("license_not_found"), "{}", e.message);
    assert!(!b.file(home::GRANT).exists());
    // The license records its relays.
    let shown = admin(&s, "GET", "/admin/v1/licenses/L-POOL/relays", Value::Null);
    assert_eq!(shown.status, 200, "{}", shown.body);
    assert_eq!(shown.body["relays"].as_array().unwrap().len(), 2);
    assert_eq!(shown.body["relays"][0]["seats"], 10);

    // Usage: two seats held for an hour, one refusal.
    let mut seats = Seats::open(&a.file(home::STATE)).unwrap();
    let t = now.unix();
    seats
        .grant("ws-1", Ask::Register, 1800, 1, i64::MAX, t)
        .unwrap();
    assert!(seats
        .grant("ws-2", Ask::Register, 1800, 1, i64::MAX, t)
        .is_err());
    seats.release("ws-1", t + 600).unwrap();
    drop(seats);
    assert!(online::upload(&a, &vendor, now).unwrap() >= 1);
    let shown = admin(&s, "GET", "/admin/v1/licenses/L-POOL/relays", Value::Null);
    let usage = &shown.body["usage"];
    let total: f64 = usage
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["seat_hours"].as_f64().unwrap())
        .sum();
    assert!((total - 600.0 / 3600.0).abs() < 1e-9, "{usage}");
    assert_eq!(
        usage
            .as_array()
            .unwrap()
            .iter()
            .map(|d| d["denials"].as_i64().unwrap())
            .sum::<i64>(),
        1
    );
    // Uploading again replaces the days, it does not add them.
    online::upload(&a, &vendor, now).unwrap();
    let again = admin(&s, "GET", "/admin/v1/licenses/L-POOL/relays", Value::Null);
    assert_eq!(again.body["usage"], shown.body["usage"]);

    // The same record exported and imported by the vendor; a changed one,
    // or one signed by another relay, is refused.
    let exported = tessera_relay::usage::export(&a, now).unwrap();
    let imported = admin(
        &s,
        "POST",
        "/admin/v1/relay_usage",
        json!({"usage": exported}),
    );
    assert_eq!(imported.status, 200, "{}", imported.body);
    assert_eq!(imported.body["license_id"], "L-POOL");
    let mut report = tessera::format::delegation::UsageReport {
        format: 1,
        delegation: renewed.delegation.id.clone(),
        license_id: "L-POOL".into(),
        product: "relayed".into(),
        made_at: now,
        days: vec![],
    };
    report.days.push(tessera::format::delegation::UsageDay {
        day: t / 86_400,
        seat_seconds: 1_000_000,
        peak: 99,
        grants: 1,
        denials: 0,
    });
    let forged = tessera::format::delegation::sign_usage(&report, &b.key().unwrap()).unwrap();
    let refused = admin(
        &s,
        "POST",
        "/admin/v1/relay_usage",
        json!({"usage": forged}),
    );
    assert_eq!(refused.status, 400, "{}", refused.body);
    assert_eq!(refused.body["code"], "invalid_usage");
    report.delegation = "D-nobody".into();
    let unknown = tessera::format::delegation::sign_usage(&report, &b.key().unwrap()).unwrap();
    let refused = admin(
        &s,
        "POST",
        "/admin/v1/relay_usage",
        json!({"usage": unknown}),
    );
    assert_eq!(refused.body["code"], "unknown_relay");
    let after = admin(&s, "GET", "/admin/v1/licenses/L-POOL/relays", Value::Null);
    assert_eq!(after.body["usage"], shown.body["usage"]);
}
