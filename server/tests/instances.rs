//! Several `tessera-server` processes on one PostgreSQL database, each
//! answering any request: seats, consumption and nonces hold across them,
//! and one instance killed mid-load loses nothing the other acknowledged.
//! These need a cluster (`TESSERA_TEST_POSTGRES`); scripts/test.sh starts a
//! throwaway one and runs them in its `server-postgres` suite. Run without
//! one, each says so and passes.
// A test may fail by panicking, and its shared helpers are `pub` to its modules.
#![allow(clippy::unwrap_used, clippy::expect_used, unreachable_pub)]

mod common;

use std::collections::BTreeSet;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use serde_json::{json, Value};
use tessera::protocol::request;

use common::*;

/// Two instances on one new database, or None (said) without a cluster.
fn two_instances() -> Option<(Server, Server)> {
    if postgres().is_none() {
        eprintln!("skipped: the multi-instance tests need TESSERA_TEST_POSTGRES");
        return None;
    }
    let dir = Arc::new(tempfile::tempdir().unwrap());
    let a = start_in(Arc::clone(&dir), false);
    let b = start_in(dir, false);
    assert_ne!(a.url, b.url);
    Some((a, b))
}

#[test]
fn two_hundred_clients_racing_through_two_instances_get_exactly_ten_seats() {
    let Some((a, b)) = two_instances() else {
        return;
    };
    let p = product(&a, "acme");
    license(
        &a,
        &p,
        "FLOAT",
        json!({"id": "F-1", "license_type": "perpetual", "allow_unlimited_activations": true,
               "is_floating": true, "floating_users": 10, "floating_timeout": 15}),
    );
    let servers = [&a, &b];
    for n in 0..200 {
        let s = servers[n % 2];
        let r = call(s, &p, "/api/v1/activate_license", who(&p, "FLOAT", n));
        assert_eq!(r.status, 200, "{}", r.body);
    }
    let date = server_date(&a);
    let results: Vec<(usize, u16)> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..200)
            .map(|n| {
                let (s, p, date) = (servers[n % 2], &p, &date);
                scope.spawn(move || {
                    let body = who(p, "FLOAT", n).to_string();
                    let r = call_at(s, p, "/api/v1/floating/register", &body, date);
                    (n, r.status)
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let winners: Vec<usize> = results.iter().filter(|r| r.1 == 200).map(|r| r.0).collect();
    assert_eq!(winners.len(), 10, "{results:?}");
    assert_eq!(results.iter().filter(|r| r.1 == 409).count(), 190);
    for s in servers {
        let seats = admin(s, "GET", "/admin/v1/licenses/F-1/seats", Value::Null);
        assert_eq!(seats.body["used"], 10, "{}", seats.body);
    }
    // A seat freed through one instance is free through the other.
    let freed = call(
        &b,
        &p,
        "/api/v1/floating/release",
        who(&p, "FLOAT", winners[0]),
    );
    assert_eq!(freed.status, 200, "{}", freed.body);
    let loser = (0..200).find(|n| !winners.contains(n)).unwrap();
    let r = call(&a, &p, "/api/v1/floating/register", who(&p, "FLOAT", loser));
    assert_eq!(r.status, 200, "{}", r.body);
}

/// `seqs` as one upload of the device `n`, each record of `amount`.
fn upload(p: &Product, n: usize, seqs: impl Iterator<Item = u64>, amount: u64) -> Value {
    let records: Vec<Value> = seqs
        .map(|seq| json!({"seq": seq, "counter": "license", "amount": amount}))
        .collect();
    let mut body = who(p, "METER", n);
    body["records"] = json!(records);
    body
}

/// The counter's total, as the answer to device `n` sending its record
/// `seq` again (counted already, so it adds nothing).
fn total(s: &Server, p: &Product, n: usize, seq: u64) -> Value {
    let r = call(
        s,
        p,
        "/api/v1/add_consumption",
        upload(p, n, seq..seq + 1, 1),
    );
    assert_eq!(r.body["accepted"], 0, "{}", r.body);
    assert_eq!(r.status, 200, "{}", r.body);
    r.body["totals"]["license"].clone()
}

#[test]
fn consumption_retried_through_the_other_instance_is_counted_once() {
    let Some((a, b)) = two_instances() else {
        return;
    };
    let p = product(&a, "acme");
    license(
        &a,
        &p,
        "METER",
        json!({"id": "M", "license_type": "consumption", "max_consumptions": 1000,
               "allow_unlimited_activations": true}),
    );
    for n in 0..4 {
        let r = call(&a, &p, "/api/v1/activate_license", who(&p, "METER", n));
        assert_eq!(r.status, 200, "{}", r.body);
    }
    // Sent to one, its answer lost, sent again to the other.
    let first = call(&a, &p, "/api/v1/add_consumption", upload(&p, 0, 1..11, 2));
    assert_eq!(first.body["totals"]["license"], 20, "{}", first.body);
    let retry = call(&b, &p, "/api/v1/add_consumption", upload(&p, 0, 1..11, 2));
    assert_eq!(
        (
            retry.body["accepted"].clone(),
            retry.body["totals"]["license"].clone()
        ),
        (json!(0), json!(20))
    );
    // Four devices each send the same upload to both instances at once,
    // five times over: every record is counted once.
    std::thread::scope(|scope| {
        for n in 0..4 {
            for s in [&a, &b] {
                let p = &p;
                scope.spawn(move || {
                    for _ in 0..5 {
                        let body = upload(p, n, 100..120, 1);
                        let r = call(s, p, "/api/v1/add_consumption", body);
                        assert_eq!(r.status, 200, "{}", r.body);
                    }
                });
            }
        }
    });
    assert_eq!(total(&a, &p, 0, 100), json!(20 + 4 * 20));
    assert_eq!(total(&b, &p, 0, 100), json!(20 + 4 * 20));
    // Racing past the limit through both: what is kept stays within it.
    std::thread::scope(|scope| {
        for n in 0..4 {
            for (i, s) in [&a, &b].into_iter().enumerate() {
                let p = &p;
                scope.spawn(move || {
                    let first = 1000 + 100 * i as u64;
                    let r = call(
                        s,
                        p,
                        "/api/v1/add_consumption",
                        upload(p, n, first..first + 10, 20),
                    );
                    assert!(r.status == 200 || r.status == 409, "{}", r.body);
                });
            }
        }
    });
    let kept = total(&b, &p, 1, 100).as_u64().unwrap();
    assert!(kept <= 1000, "{kept}");
    // Every batch of 200 is all or nothing: 100 + 200 k.
    assert_eq!((kept - 100) % 200, 0, "{kept}");
}

#[test]
fn a_request_replayed_to_the_other_instance_is_refused() {
    let Some((a, b)) = two_instances() else {
        return;
    };
    let p = product(&a, "acme");
    license(
        &a,
        &p,
        "K",
        json!({"id": "L", "license_type": "perpetual", "max_activations": 5}),
    );
    let (date, nonce, body) = (server_date(&a), nonce(), who(&p, "K", 1).to_string());
    let first = call_with_nonce(&a, &p, "/api/v1/activate_license", &body, &date, &nonce);
    assert_eq!(first.status, 200, "{}", first.body);
    let again = call_with_nonce(&b, &p, "/api/v1/activate_license", &body, &date, &nonce);
    assert_eq!(
        (again.status, again.body["code"].as_str()),
        (401, Some("replayed"))
    );
    // A captured deactivation, replayed after a re-activation, frees nothing.
    let (date, nonce, body) = (
        server_date(&a),
        common::nonce(),
        who(&p, "K", 1).to_string(),
    );
    let off = call_with_nonce(&a, &p, "/api/v1/deactivate_license", &body, &date, &nonce);
    assert_eq!(off.status, 200, "{}", off.body);
    assert_eq!(
        call(&b, &p, "/api/v1/activate_license", who(&p, "K", 1)).status,
        200
    );
    let replayed = call_with_nonce(&b, &p, "/api/v1/deactivate_license", &body, &date, &nonce);
    assert_eq!(replayed.status, 401);
    let devices = admin(&a, "GET", "/admin/v1/licenses/L/devices", Value::Null);
    assert_eq!(
        devices.body.as_array().map(Vec::len),
        Some(1),
        "{}",
        devices.body
    );
}

/// One upload of a single record, sent without panicking: the status, or
/// None when the instance at `url` did not answer.
fn try_upload(
    client: &reqwest::blocking::Client,
    url: &str,
    p: &Product,
    n: usize,
    seq: u64,
) -> Option<u16> {
    let (date, nonce) = (
        tessera::protocol::format_http_date(chrono::Utc::now()),
        nonce(),
    );
    let path = "/api/v1/add_consumption";
    let body = upload(p, n, seq..seq + 1, 1).to_string();
    let msg = request::request_string(&date, "POST", path, body.as_bytes(), &nonce);
    let sig = request::sign(&p.key, &msg).unwrap();
    let r = client
        .post(format!("{url}{path}"))
        .header("date", &date)
        .header("tessera-nonce", &nonce)
        .header("authorization", request::authorization(&p.code, &sig))
        .body(body)
        .timeout(std::time::Duration::from_secs(10))
        .send()
        .ok()?;
    let status = r.status().as_u16();
    r.bytes().ok()?;
    Some(status)
}

#[test]
fn an_instance_killed_mid_load_loses_nothing_the_other_carries_on() {
    let Some((a, b)) = two_instances() else {
        return;
    };
    let p = product(&a, "acme");
    license(
        &a,
        &p,
        "METER",
        json!({"id": "M", "license_type": "consumption", "allow_unlimited_consumptions": true,
               "allow_unlimited_activations": true}),
    );
    const DEVICES: usize = 8;
    const RECORDS: u64 = 60;
    /// The first instance dies once it has acknowledged this many.
    const KILL_AFTER: u64 = 100;
    for n in 0..DEVICES {
        assert_eq!(
            call(&b, &p, "/api/v1/activate_license", who(&p, "METER", n)).status,
            200
        );
    }
    let (a_url, b_url) = (a.url.clone(), b.url.clone());
    let killed = AtomicBool::new(false);
    let acknowledged = Mutex::new(BTreeSet::new());
    let by_first = AtomicU64::new(0);
    let (enough, wait_for_enough) = std::sync::mpsc::channel();
    std::thread::scope(|scope| {
        for n in 0..DEVICES {
            let (p, a_url, b_url, enough) = (&p, &a_url, &b_url, enough.clone());
            let (killed, acknowledged, by_first) = (&killed, &acknowledged, &by_first);
            scope.spawn(move || {
                // A client of its own: a connection per device.
                let client = reqwest::blocking::Client::new();
                for seq in 1..=RECORDS {
                    // Each device talks to the first instance while it is
                    // up and fails over to the other, retrying the record
                    // it was sending (as the SDK retries an upload).
                    let mut status = None;
                    if !killed.load(Ordering::SeqCst) {
                        status = try_upload(&client, a_url, p, n, seq);
                        if status == Some(200)
                            && by_first.fetch_add(1, Ordering::SeqCst) + 1 == KILL_AFTER
                        {
                            let _ = enough.send(());
                        }
                    }
                    if status != Some(200) {
                        status = try_upload(&client, b_url, p, n, seq);
                    }
                    assert_eq!(status, Some(200), "device {n} record {seq}");
                    acknowledged.lock().unwrap().insert((n, seq));
                }
            });
        }
        // Kill the first instance (SIGKILL) in the middle of the uploads.
        wait_for_enough.recv().unwrap();
        let mut a = a;
        a.child.kill().unwrap();
        a.child.wait().unwrap();
        killed.store(true, Ordering::SeqCst);
    });
    let by_first = by_first.load(Ordering::SeqCst);
    assert!(by_first >= KILL_AFTER, "{by_first}");
    assert!(
        by_first < DEVICES as u64 * RECORDS,
        "the kill came after the load"
    );
    let acknowledged = acknowledged.into_inner().unwrap();
    assert_eq!(acknowledged.len(), DEVICES * RECORDS as usize);
    // Every acknowledged record is in the total, once, whichever instance
    // took it (or both: one that died before answering, then the other).
    assert_eq!(total(&b, &p, 0, 1), json!(DEVICES as u64 * RECORDS));
    assert!(reqwest::blocking::get(format!("{a_url}/openapi.json")).is_err());
}

#[test]
fn failed_sign_ins_and_new_trials_are_counted_across_instances() {
    let Some((a, b)) = two_instances() else {
        return;
    };
    let p = product(&a, "guess");
    let u = admin(
        &a,
        "POST",
        "/admin/v1/users",
        json!({"username": "victim@example.com", "password": "the-right-password"}),
    );
    assert_eq!(u.status, 200, "{}", u.body);
    let sign_in = |s: &Server, password: &str| {
        call(
            s,
            &p,
            "/api/v1/user_licenses",
            json!({"product": p.code, "username": "victim@example.com", "password": password}),
        )
    };
    // Five guesses spread over both instances use up the user's five.
    for i in 0..5 {
        let s = [&a, &b][i % 2];
        assert_eq!(sign_in(s, &format!("guess-{i}")).status, 401);
    }
    for s in [&a, &b] {
        let locked = sign_in(s, "the-right-password");
        assert_eq!(
            (locked.status, locked.body["code"].as_str()),
            (429, Some("too_many_attempts")),
            "{}",
            locked.body
        );
    }

    // Ten new trials a day from one address, through whichever instance.
    let trial = admin(
        &a,
        "POST",
        "/admin/v1/definitions",
        json!({"product": p.code, "code": "TRIAL", "name": "Trial", "trial_days": 7,
               "spec": {"license_type": "time-limited", "validity_period": "2099-01-01T00:00:00Z",
                        "product_details": {"short_code": p.code}}}),
    );
    assert_eq!(trial.status, 200, "{}", trial.body);
    for n in 0..10 {
        let s = [&a, &b][n % 2];
        let r = call(
            s,
            &p,
            "/api/v1/trial_key",
            json!({"product": p.code, "fingerprint": device(n)}),
        );
        assert_eq!(r.status, 200, "{}", r.body);
    }
    for s in [&a, &b] {
        let r = call(
            s,
            &p,
            "/api/v1/trial_key",
            json!({"product": p.code, "fingerprint": device(99)}),
        );
        assert_eq!(
            (r.status, r.body["code"].as_str()),
            (429, Some("too_many_trials")),
            "{}",
            r.body
        );
    }
}

/// The console's sessions live in the database: signed in through one
/// instance, the cookie works on the other; signed out on the other, it
/// works on neither.
#[test]
fn a_console_session_is_good_on_every_instance_and_ends_on_all() {
    let Some((a, b)) = two_instances() else {
        return;
    };
    let client = reqwest::blocking::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let csrf_of = |body: &str| {
        let at = body.find("name=\"csrf\" value=\"").unwrap() + 19;
        body[at..].split('"').next().unwrap().to_owned()
    };
    let cookie_of = |r: &reqwest::blocking::Response, name: &str| {
        r.headers()
            .get_all("set-cookie")
            .iter()
            .filter_map(|c| c.to_str().ok())
            .find(|c| c.starts_with(&format!("{name}=")))
            .map(|c| c.split(';').next().unwrap().to_owned())
            .unwrap()
    };
    // The first owner, through A.
    let setup = client
        .get(format!("{}/console/setup", a.url))
        .send()
        .unwrap();
    let form = cookie_of(&setup, "tessera_console_form");
    let csrf = csrf_of(&setup.text().unwrap());
    let post = |s: &Server, path: &str, cookie: &str, fields: &[(&str, &str)]| {
        client
            .post(format!("{}{path}", s.url))
            .header("cookie", cookie)
            .form(fields)
            .send()
            .unwrap()
    };
    let made = post(
        &a,
        "/console/setup",
        &form,
        &[
            ("csrf", &csrf),
            ("admin_token", ADMIN),
            ("name", "Olivia"),
            ("email", "owner@vendor.example"),
            ("password", "owner-password-0123"),
        ],
    );
    assert_eq!(made.status(), 303);
    let signed = post(
        &a,
        "/console/sign-in",
        &form,
        &[
            ("csrf", &csrf),
            ("email", "owner@vendor.example"),
            ("password", "owner-password-0123"),
        ],
    );
    assert_eq!(signed.status(), 303);
    let session = cookie_of(&signed, "tessera_console");
    let get = |s: &Server, path: &str| {
        client
            .get(format!("{}{path}", s.url))
            .header("cookie", &session)
            .send()
            .unwrap()
    };
    assert_eq!(get(&b, "/console/licenses").status(), 200);
    let page = get(&b, "/console/account").text().unwrap();
    let out = post(
        &b,
        "/console/sign-out",
        &session,
        &[("csrf", &csrf_of(&page))],
    );
    assert_eq!(out.status(), 303);
    assert_eq!(get(&a, "/console/licenses").status(), 303);
    assert_eq!(get(&b, "/console/licenses").status(), 303);
}
