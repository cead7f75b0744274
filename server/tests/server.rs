//! The real `tessera-server` binary on loopback, with an embedded SQLite
//! file in a temporary directory: admin set-up, activation limits, 200
//! clients racing for 10 seats, seats freed after their timeout, request
//! authorization, signed responses, bad input, and a restart.
// A test may fail by panicking, and its shared helpers are `pub` to its modules.
#![allow(clippy::unwrap_used, clippy::expect_used, unreachable_pub)]

mod common;

use std::path::Path;
use std::sync::Arc;

use serde_json::{json, Value};
use tessera::protocol::request;
use tessera::{Keyring, LicenseFile};

use common::*;

#[test]
fn activation_check_and_deactivation_with_limits() {
    let s = start();
    let p = product(&s, "acme");
    license(
        &s,
        &p,
        "KEY-1",
        json!({"id": "L-1", "license_type": "perpetual", "max_activations": 3, "max_transfers": 2}),
    );
    let a = call(&s, &p, "/api/v1/activate_license", who(&p, "KEY-1", 1));
    assert_eq!(a.status, 200, "{}", a.body);
    let file = a.body["license_file"].as_str().unwrap();
    let ring = Keyring::from_keys([s.key.clone()]);
    let verified = LicenseFile::verify(file.as_bytes(), &ring).unwrap();
    assert_eq!(
        verified.license().device.as_ref().unwrap().id,
        "device-0001"
    );
    assert_eq!(
        verified.license().license_key.as_ref().unwrap().expose(),
        "KEY-1"
    );
    assert!(verified.license().expires_at.is_some());

    // Activating again on the same device takes no new slot.
    assert_eq!(
        call(&s, &p, "/api/v1/activate_license", who(&p, "KEY-1", 1)).status,
        200
    );
    // Eight more devices race for the two slots left.
    let results: Vec<u16> = std::thread::scope(|scope| {
        let handles: Vec<_> = (2..10)
            .map(|n| {
                let (s, p) = (&s, &p);
                scope.spawn(move || {
                    call(s, p, "/api/v1/activate_license", who(p, "KEY-1", n)).status
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    assert_eq!(results.iter().filter(|&&s| s == 200).count(), 2);
    assert_eq!(results.iter().filter(|&&s| s == 409).count(), 6);
    let seats = admin(&s, "GET", "/admin/v1/licenses/L-1/seats", Value::Null);
    assert_eq!(
        seats.body,
        json!({"kind": "activations", "allowed": 3, "used": 3, "available": 0,
               "users": {"allowed": 1, "used": 0, "available": 1}})
    );

    let check = call(&s, &p, "/api/v1/check_license", who(&p, "KEY-1", 1));
    assert_eq!(check.status, 200);
    assert_eq!(
        call(&s, &p, "/api/v1/check_license", who(&p, "KEY-1", 99)).body["code"],
        "not_activated"
    );

    // Two transfers allowed: the third deactivation is refused.
    assert_eq!(
        call(&s, &p, "/api/v1/deactivate_license", who(&p, "KEY-1", 1)).status,
        200
    );
    assert_eq!(
        call(&s, &p, "/api/v1/activate_license", who(&p, "KEY-1", 50)).status,
        200
    );
    let activated: Vec<usize> = (2..10)
        .filter(|n| call(&s, &p, "/api/v1/check_license", who(&p, "KEY-1", *n)).status == 200)
        .collect();
    assert_eq!(
        call(
            &s,
            &p,
            "/api/v1/deactivate_license",
            who(&p, "KEY-1", activated[0])
        )
        .status,
        200
    );
    let third = call(&s, &p, "/api/v1/deactivate_license", who(&p, "KEY-1", 50));
    assert_eq!(
        (third.status, third.body["code"].as_str()),
        (409, Some("transfer_limit"))
    );

    // A disabled license refuses an activation and every use; the check-in
    // of a device it is activated on is answered with a file that says
    // the license is disabled (issue 34, finding 15).
    admin(&s, "POST", "/admin/v1/licenses/L-1/disable", Value::Null);
    assert_eq!(
        call(&s, &p, "/api/v1/activate_license", who(&p, "KEY-1", 60)).body["code"],
        "license_disabled"
    );
    assert_eq!(
        call(&s, &p, "/api/v1/check_license", who(&p, "KEY-1", 99)).body["code"],
        "license_disabled"
    );
    let told = call(&s, &p, "/api/v1/check_license", who(&p, "KEY-1", 50));
    assert_eq!(told.status, 200, "{}", told.body);
    let file = told.body["license_file"].as_str().unwrap();
    let license = tessera::LicenseFile::verify(
        file.as_bytes(),
        &tessera::Keyring::from_keys([s.key.clone()]),
    )
    .unwrap();
    assert!(!license.license().license_enabled);
}

#[test]
fn two_hundred_clients_race_for_ten_seats_and_lapsed_seats_come_free() {
    let s = start();
    let p = product(&s, "acme");
    license(
        &s,
        &p,
        "FLOAT",
        json!({"id": "F-1", "license_type": "perpetual", "allow_unlimited_activations": true,
               "is_floating": true, "floating_users": 10, "floating_timeout": 15}),
    );
    let date = server_date(&s);
    for n in 0..200 {
        let a = call_at(
            &s,
            &p,
            "/api/v1/activate_license",
            &who(&p, "FLOAT", n).to_string(),
            &date,
        );
        assert_eq!(a.status, 200);
    }
    let results: Vec<(usize, u16)> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..200)
            .map(|n| {
                let (s, p, date) = (&s, &p, &date);
                scope.spawn(move || {
                    let body = who(p, "FLOAT", n).to_string();
                    (
                        n,
                        call_at(s, p, "/api/v1/floating/register", &body, date).status,
                    )
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let winners: Vec<usize> = results.iter().filter(|r| r.1 == 200).map(|r| r.0).collect();
    assert_eq!(winners.len(), 10);
    assert_eq!(results.iter().filter(|r| r.1 == 409).count(), 190);
    let seats = admin(&s, "GET", "/admin/v1/licenses/F-1/seats", Value::Null);
    assert_eq!(seats.body["used"], 10);

    // A winner's lease verifies and is a floating lease for its device.
    let lease = call(
        &s,
        &p,
        "/api/v1/floating/heartbeat",
        who(&p, "FLOAT", winners[0]),
    );
    assert_eq!(lease.status, 200, "{}", lease.body);
    let ring = Keyring::from_keys([s.key.clone()]);
    let l = tessera::format::lease::Lease::verify(
        lease.body["lease"].as_str().unwrap().as_bytes(),
        &ring,
    )
    .unwrap();
    assert_eq!(l.device.id, format!("device-{:04}", winners[0]));
    assert_eq!(
        l.expires_at.duration_since(l.issued_at).unwrap().as_secs() / 60,
        15
    );

    // Releasing a seat frees it at once.
    assert_eq!(
        call(
            &s,
            &p,
            "/api/v1/floating/release",
            who(&p, "FLOAT", winners[1])
        )
        .status,
        200
    );
    let loser = (0..200).find(|n| !winners.contains(n)).unwrap();
    assert_eq!(
        call(&s, &p, "/api/v1/floating/register", who(&p, "FLOAT", loser)).status,
        200
    );

    // Sixteen minutes later every seat lapsed (the test clock moves).
    let later = chrono::Utc::now() + chrono::Duration::minutes(16);
    admin(
        &s,
        "POST",
        "/admin/v1/clock",
        json!({"now": tessera::format::license::ts::format(&later)}),
    );
    assert_eq!(
        call(
            &s,
            &p,
            "/api/v1/floating/heartbeat",
            who(&p, "FLOAT", winners[0])
        )
        .body["code"],
        "no_lease"
    );
    let seats = admin(&s, "GET", "/admin/v1/licenses/F-1/seats", Value::Null);
    assert_eq!(seats.body["used"], 0);
    assert_eq!(
        call(&s, &p, "/api/v1/floating/register", who(&p, "FLOAT", 199)).status,
        200
    );
}

#[test]
fn requests_need_a_fresh_date_a_nonce_and_the_right_key() {
    let s = start();
    let p = product(&s, "acme");
    license(
        &s,
        &p,
        "KEY",
        json!({"id": "L", "license_type": "perpetual"}),
    );
    let body = who(&p, "KEY", 1).to_string();
    let now = chrono::Utc::now();
    let stale = tessera::protocol::format_http_date(now - chrono::Duration::minutes(6));
    let a = call_at(&s, &p, "/api/v1/activate_license", &body, &stale);
    assert_eq!(
        (a.status, a.body["code"].as_str()),
        (401, Some("stale_date"))
    );
    assert_eq!(a.body["status"], 401);
    let wrong = Product {
        code: "acme".into(),
        key: b"not the product's shared key....".to_vec(),
    };
    let a = call(&s, &wrong, "/api/v1/activate_license", who(&p, "KEY", 1));
    assert_eq!(
        (a.status, a.body["code"].as_str()),
        (401, Some("bad_signature"))
    );
    // No Authorization at all, and a wrong admin token.
    let r = http()
        .post(format!("{}/api/v1/activate_license", s.url))
        .body(body.clone())
        .send()
        .unwrap();
    assert_eq!(r.status().as_u16(), 401);
    let r = http()
        .post(format!("{}/admin/v1/products", s.url))
        .header("authorization", "Bearer wrong-token")
        .body("{}")
        .send()
        .unwrap();
    assert_eq!(r.status().as_u16(), 401);
    // The body is part of the signature: the same headers with another body fail.
    let date = server_date(&s);
    let n = nonce();
    let msg = request::request_string(
        &date,
        "POST",
        "/api/v1/activate_license",
        body.as_bytes(),
        &n,
    );
    let sig = request::sign(&p.key, &msg).unwrap();
    let r = http()
        .post(format!("{}/api/v1/activate_license", s.url))
        .header("date", &date)
        .header("tessera-nonce", &n)
        .header("authorization", request::authorization("acme", &sig))
        .body(who(&p, "KEY", 2).to_string())
        .send()
        .unwrap();
    assert_eq!(r.status().as_u16(), 401);
}

#[test]
fn bad_input_gets_a_4xx_with_the_error_body_never_a_500() {
    let s = start();
    let p = product(&s, "acme");
    license(
        &s,
        &p,
        "KEY",
        json!({"id": "L", "license_type": "perpetual"}),
    );
    let date = server_date(&s);
    let cases: Vec<(String, &str)> = vec![
        ("{".into(), "invalid_body"),
        ("[]".into(), "invalid_body"),
        (json!({"product": "acme", "license_key": 7, "fingerprint": device(1)}).to_string(), "invalid_body"),
        (json!({"product": "acme", "license_key": "KEY"}).to_string(), "invalid_body"),
        (json!({"product": "acme", "license_key": "KEY", "fingerprint": device(1), "extra": 1}).to_string(), "invalid_body"),
        (json!({"product": "acme", "license_key": "NOPE", "fingerprint": device(1)}).to_string(), "license_not_found"),
        (json!({"product": "other", "license_key": "KEY", "fingerprint": device(1)}).to_string(), "wrong_product"),
        (json!({"product": "acme", "license_key": "KEY", "fingerprint": {"id": "", "components": {}}}).to_string(), "invalid_body"),
        ("x".repeat(100 * 1024), "body_too_large"),
    ];
    for (body, code) in cases {
        let a = call_at(&s, &p, "/api/v1/activate_license", &body, &date);
        assert!((400..500).contains(&a.status), "{code}: {}", a.status);
        assert_eq!(a.body["code"], code, "{}", a.body);
        assert!(a.body["message"].as_str().is_some_and(|m| !m.is_empty()));
    }
    assert_eq!(call(&s, &p, "/api/v1/no_such_call", json!({})).status, 404);
    // Admin: a spec that is not a valid license, an unknown product, a duplicate.
    let bad = admin(
        &s,
        "POST",
        "/admin/v1/licenses",
        json!({"license_key": "K2", "spec": {"license_type": "time-limited", "product_details": {"short_code": "acme"}}}),
    );
    assert_eq!(
        (bad.status, bad.body["code"].as_str()),
        (422, Some("invalid_spec"))
    );
    let none = admin(
        &s,
        "POST",
        "/admin/v1/licenses",
        json!({"license_key": "K3", "spec": {"license_type": "perpetual", "product_details": {"short_code": "nope"}}}),
    );
    assert_eq!(none.status, 404);
    let dup = admin(
        &s,
        "POST",
        "/admin/v1/products",
        json!({"code": "acme", "name": "again"}),
    );
    assert_eq!(dup.status, 409);
    assert_eq!(
        admin(&s, "GET", "/admin/v1/licenses/nope/seats", Value::Null).status,
        404
    );
}

#[test]
fn consumption_is_counted_once_and_a_restart_loses_nothing_acknowledged() {
    let dir = Arc::new(tempfile::tempdir().unwrap());
    let s = start_in(Arc::clone(&dir), false);
    let p = product(&s, "acme");
    license(
        &s,
        &p,
        "METER",
        json!({"id": "M", "license_type": "consumption", "max_consumptions": 100}),
    );
    assert_eq!(
        call(&s, &p, "/api/v1/activate_license", who(&p, "METER", 1)).status,
        200
    );
    let batch = |seqs: std::ops::Range<u64>| {
        let records: Vec<Value> = seqs
            .map(|seq| json!({"seq": seq, "counter": "license", "amount": 2}))
            .collect();
        let mut body = who(&p, "METER", 1);
        body["records"] = json!(records);
        body
    };
    let a = call(&s, &p, "/api/v1/add_consumption", batch(1..11));
    assert_eq!(
        (
            a.body["accepted"].clone(),
            a.body["totals"]["license"].clone()
        ),
        (json!(10), json!(20))
    );
    // The same records again (a retry), and overlapping ones.
    let a = call(&s, &p, "/api/v1/add_consumption", batch(1..11));
    assert_eq!(a.body["totals"]["license"], 20);
    let a = call(&s, &p, "/api/v1/add_consumption", batch(5..16));
    assert_eq!(
        (
            a.body["accepted"].clone(),
            a.body["totals"]["license"].clone()
        ),
        (json!(5), json!(30))
    );
    // Past the limit: refused, and nothing of the batch kept.
    let over = call(&s, &p, "/api/v1/add_consumption", batch(100..140));
    assert_eq!(
        (over.status, over.body["code"].as_str()),
        (409, Some("consumption_limit"))
    );

    // kill -9, then a new process on the same database.
    let mut s = s;
    s.child.kill().unwrap();
    s.child.wait().unwrap();
    let key = s.key.clone();
    drop(s);
    let s = start_in(Arc::clone(&dir), false);
    assert_eq!(s.key, key);
    assert_eq!(
        call(&s, &p, "/api/v1/check_license", who(&p, "METER", 1)).status,
        200
    );
    let a = call(&s, &p, "/api/v1/add_consumption", batch(1..16));
    assert_eq!(
        (
            a.body["accepted"].clone(),
            a.body["totals"]["license"].clone()
        ),
        (json!(0), json!(30))
    );
    if common::postgres().is_none() {
        assert!(Path::new(&s.dir.path().join("tessera.db")).exists());
    }
}

#[test]
fn routes_are_declared_undeclared_methods_get_405_and_every_answer_is_signed() {
    let s = start();
    let p = product(&s, "acme");
    license(
        &s,
        &p,
        "KEY",
        json!({"id": "L-1", "license_type": "perpetual"}),
    );
    // An undeclared method on a declared path: 405, signed, the error body.
    for (method, path) in [
        ("PUT", "/admin/v1/users"),
        ("DELETE", "/admin/v1/products"),
        ("GET", "/admin/v1/licenses/L-1/disable"),
    ] {
        let a = admin(&s, method, path, json!({}));
        assert_eq!(a.status, 405, "{method} {path}: {}", a.body);
        assert_eq!(a.body["code"], "method_not_allowed");
        assert_eq!(a.body["status"], 405);
    }
    // Only /admin/v1/ is the admin API.
    for path in [
        "/admin/v2/licenses/L-1",
        "/admin/x/licenses/L-1",
        "/admin/licenses/L-1",
    ] {
        let a = admin(&s, "GET", path, json!({}));
        assert_eq!(
            (a.status, a.body["code"].as_str()),
            (404, Some("not_found")),
            "{path}"
        );
    }
    // Path segments are percent-decoded: L%2D1 is L-1.
    let a = admin(&s, "GET", "/admin/v1/licenses/L%2D1", json!({}));
    assert_eq!(a.status, 200, "{}", a.body);
    assert_eq!(a.body["id"], "L-1");
    // A query that does not parse is a signed 400 with the error body.
    let a = admin(&s, "GET", "/admin/v1/users?page_size=0", json!({}));
    assert_eq!(
        (a.status, a.body["code"].as_str()),
        (400, Some("invalid_body"))
    );
    // The client API takes POST only; anything else is refused, signed.
    let r = http()
        .get(format!("{}/api/v1/activate_license", s.url))
        .header("tessera-nonce", "client-nonce-0123456789")
        .send()
        .unwrap();
    let a = verify_response(&s, "client-nonce-0123456789", r);
    assert!(matches!(a.status, 401 | 405), "{}", a.status);
    assert!(a.body["code"].is_string(), "{}", a.body);
}

/// Issue 21, finding 1 (the server's part): a borrowed seat returned early
/// stays counted until the borrow's end, because the device can restore
/// the borrow it gave back from a copy of its state. Neither a return, nor
/// a floating registration and release, nor a deactivation frees it early.
#[test]
fn a_returned_borrow_stays_counted_until_its_end() {
    let s = start();
    let p = product(&s, "acme");
    license(
        &s,
        &p,
        "ONE",
        json!({"id": "B-1", "license_type": "perpetual", "allow_unlimited_activations": true,
               "is_floating": true, "floating_users": 1, "floating_timeout": 15,
               "can_borrow": true, "max_borrow_time": 24}),
    );
    for n in [1, 2] {
        assert_eq!(
            call(&s, &p, "/api/v1/activate_license", who(&p, "ONE", n)).status,
            200
        );
    }
    let mut borrow = who(&p, "ONE", 1);
    borrow["hours"] = json!(24);
    let b = call(&s, &p, "/api/v1/floating/borrow", borrow);
    assert_eq!(b.status, 200, "{}", b.body);
    let register = |n| call(&s, &p, "/api/v1/floating/register", who(&p, "ONE", n)).status;
    assert_eq!(register(2), 409);
    // Returned early: still counted.
    let r = call(&s, &p, "/api/v1/floating/release", who(&p, "ONE", 1));
    assert_eq!((r.status, &r.body["released"]), (200, &json!(false)));
    assert_eq!(register(2), 409);
    // A floating seat taken and released by the same device does not cut it short.
    assert_eq!(register(1), 200);
    assert_eq!(
        call(&s, &p, "/api/v1/floating/release", who(&p, "ONE", 1)).status,
        200
    );
    assert_eq!(register(2), 409);
    // Nor does deactivating the device.
    assert_eq!(
        call(&s, &p, "/api/v1/deactivate_license", who(&p, "ONE", 1)).status,
        200
    );
    assert_eq!(register(2), 409);
    // The borrow's end frees it (the test clock moves a day on).
    let later = chrono::Utc::now() + chrono::Duration::hours(24) + chrono::Duration::minutes(1);
    admin(
        &s,
        "POST",
        "/admin/v1/clock",
        json!({"now": tessera::format::license::ts::format(&later)}),
    );
    assert_eq!(register(2), 200);
}

/// Issue 34, finding 20: `TESSERA_SERVER_INSECURE_HTTP` took `1` and
/// `true` and read anything else as off, silently. Now a value it does not
/// know stops the server at start, saying which values it takes.
#[test]
fn an_unknown_insecure_http_value_is_refused_at_start() {
    let dir = tempfile::tempdir().unwrap();
    let key = tessera::issuer::SigningKey::generate().unwrap();
    std::fs::write(dir.path().join("server.key"), key.to_pem().unwrap()).unwrap();
    let run = |value: &str| {
        std::process::Command::new(env!("CARGO_BIN_EXE_tessera-server"))
            .env("TESSERA_SERVER_LISTEN", "127.0.0.1:1")
            .env("TESSERA_SERVER_INSECURE_HTTP", value)
            .env("TESSERA_SERVER_DATABASE", dir.path().join("t.db"))
            .env("TESSERA_SERVER_SIGNING_KEY", dir.path().join("server.key"))
            .env("TESSERA_ADMIN_TOKEN", ADMIN)
            .output()
            .unwrap()
    };
    let out = run("maybe");
    assert!(!out.status.success());
    let said = String::from_utf8_lossy(&out.stderr);
    assert!(
        said.contains("TESSERA_SERVER_INSECURE_HTTP") && said.contains("yes"),
        "{said}"
    );
    // `off` is off: with no TLS files, the server says it needs them.
    let said = String::from_utf8_lossy(&run("off").stderr).into_owned();
    assert!(said.contains("no TLS certificate"), "{said}");
}
