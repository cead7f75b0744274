//! What a client attacking the server over loopback found (issue 22), each
//! fixed and attacked again here: numbers that overflowed a sum or a date,
//! a trial definition that could not activate, and a heartbeat that kept a
//! seat after the license stopped floating.
// A test may fail by panicking, and its shared helpers are `pub` to its modules.
#![allow(clippy::unwrap_used, clippy::expect_used, unreachable_pub)]

mod common;

use serde_json::{json, Value};

use common::*;

fn activated(s: &Server, p: &Product, key: &str, spec: Value) {
    license(s, p, key, spec);
    let a = call(s, p, "/api/v1/activate_license", who(p, key, 1));
    assert_eq!(a.status, 200, "{}", a.body);
}

fn upload(
    s: &Server,
    p: &Product,
    id: &str,
    n: usize,
    seq: u64,
    counter: &str,
    amount: u64,
) -> Answer {
    call(
        s,
        p,
        "/api/v1/add_consumption",
        json!({"product": p.code, "license_id": id, "fingerprint": device(n),
               "records": [{"seq": seq, "counter": counter, "amount": amount}]}),
    )
}

/// Gives the product a 14-day trial definition.
fn fourteen_day_trial(s: &Server, p: &Product) {
    let d = admin(
        s,
        "POST",
        "/admin/v1/definitions",
        json!({"product": p.code, "code": "TRIAL", "name": "Trial", "trial_days": 14,
               "spec": {"license_type": "time-limited", "validity_period": "2099-01-01T00:00:00Z",
                        "product_details": {"short_code": p.code}}}),
    );
    assert_eq!(d.status, 200, "{}", d.body);
}

#[test]
fn a_counter_pushed_to_i64_max_refuses_more_instead_of_breaking() {
    let s = start();
    let p = product(&s, "overflow");
    activated(
        &s,
        &p,
        "KEY-OV",
        json!({"id": "L-OV", "license_type": "perpetual", "allow_unlimited_activations": true,
               "product_features": [
                   {"code": "free", "name": "Free", "feature_type": "consumption", "allow_unlimited_consumptions": true},
                   {"code": "capped", "name": "Capped", "feature_type": "consumption", "max_consumption": 10}]}),
    );
    let second = call(&s, &p, "/api/v1/activate_license", who(&p, "KEY-OV", 2));
    assert_eq!(second.status, 200, "{}", second.body);

    // One device takes an unlimited counter to 2^63-1: accepted.
    let max = i64::MAX as u64;
    let a = upload(&s, &p, "L-OV", 1, 1, "feature:free", max);
    assert_eq!(a.status, 200, "{}", a.body);
    // One more unit, from another device: a clear 409, not a 500, and
    // nothing of it is kept.
    let b = upload(&s, &p, "L-OV", 2, 1, "feature:free", 1);
    assert_eq!(
        (b.status, b.body["code"].as_str()),
        (409, Some("consumption_limit")),
        "{}",
        b.body
    );
    // The license still answers its totals.
    let l = admin(&s, "GET", "/admin/v1/licenses/L-OV", Value::Null);
    assert_eq!(l.status, 200, "{}", l.body);
    assert_eq!(l.body["consumption"]["feature:free"], json!(max));

    // Two huge records on a limited counter: 409, not 500.
    let c = upload(&s, &p, "L-OV", 1, 2, "feature:capped", max);
    assert_eq!(c.status, 409, "{}", c.body);
    let d = upload(&s, &p, "L-OV", 2, 2, "feature:capped", max);
    assert_eq!(d.status, 409, "{}", d.body);
    // More than i64 in one record is refused as a body that cannot be kept.
    let e = upload(&s, &p, "L-OV", 1, 3, "feature:capped", u64::MAX);
    assert_eq!(e.status, 400, "{}", e.body);
}

#[test]
fn a_borrow_or_a_trial_past_the_year_9999_is_refused_not_a_dropped_connection() {
    let s = start();
    let p = product(&s, "far");
    activated(
        &s,
        &p,
        "KEY-FAR",
        json!({"id": "L-FAR", "license_type": "perpetual", "allow_unlimited_activations": true,
               "is_floating": true, "floating_users": 2, "can_borrow": true,
               "max_borrow_time": 4294967295u32}),
    );
    let borrow = call(
        &s,
        &p,
        "/api/v1/floating/borrow",
        json!({"product": p.code, "license_id": "L-FAR", "fingerprint": device(1),
               "hours": 4294967295u32}),
    );
    assert_eq!(
        (borrow.status, borrow.body["code"].as_str()),
        (422, Some("too_far")),
        "{}",
        borrow.body
    );
    // The server lives on: a sane borrow works.
    let ok = call(
        &s,
        &p,
        "/api/v1/floating/borrow",
        json!({"product": p.code, "license_id": "L-FAR", "fingerprint": device(1), "hours": 8}),
    );
    assert_eq!(ok.status, 200, "{}", ok.body);

    let trial = admin(
        &s,
        "POST",
        "/admin/v1/definitions",
        json!({"product": p.code, "code": "FOREVER", "name": "Forever",
               "spec": {"license_type": "time-limited", "validity_period": "2099-01-01T00:00:00Z",
                        "product_details": {"short_code": p.code}},
               "trial_days": 4294967295u32}),
    );
    assert_eq!(
        (trial.status, trial.body["code"].as_str()),
        (422, Some("too_far")),
        "{}",
        trial.body
    );
}

#[test]
fn a_trial_definition_that_cannot_activate_is_refused_when_made() {
    let s = start();
    let p = product(&s, "trials");
    for (spec, days) in [
        (
            json!({"license_type": "perpetual", "product_details": {"short_code": p.code}}),
            14,
        ),
        (
            json!({"license_type": "time-limited", "validity_period": "2099-01-01T00:00:00Z",
                   "product_details": {"short_code": p.code}}),
            0,
        ),
    ] {
        let d = admin(
            &s,
            "POST",
            "/admin/v1/definitions",
            json!({"product": p.code, "code": "TRIAL", "name": "Trial", "spec": spec, "trial_days": days}),
        );
        assert!(
            d.status == 422 || d.status == 400,
            "{} {}",
            d.status,
            d.body
        );
    }
    // Nothing was kept: the product still offers no trial.
    let t = call(
        &s,
        &p,
        "/api/v1/trial_key",
        json!({"product": p.code, "fingerprint": device(1)}),
    );
    assert_eq!(
        (t.status, t.body["code"].as_str()),
        (404, Some("no_trial")),
        "{}",
        t.body
    );
}

#[test]
fn a_heartbeat_renews_nothing_once_the_license_stopped_floating() {
    let s = start();
    let p = product(&s, "unfloat");
    activated(
        &s,
        &p,
        "KEY-UF",
        json!({"id": "L-UF", "license_type": "perpetual", "allow_unlimited_activations": true,
               "is_floating": true, "floating_users": 1}),
    );
    let body = json!({"product": p.code, "license_id": "L-UF", "fingerprint": device(1)});
    let r = call(&s, &p, "/api/v1/floating/register", body.clone());
    assert_eq!(r.status, 200, "{}", r.body);
    let u = admin(
        &s,
        "PATCH",
        "/admin/v1/licenses/L-UF",
        json!({"spec": {"is_floating": false, "floating_users": 0}}),
    );
    assert_eq!(u.status, 200, "{}", u.body);
    let h = call(&s, &p, "/api/v1/floating/heartbeat", body);
    assert_eq!(
        (h.status, h.body["code"].as_str()),
        (409, Some("not_floating")),
        "{}",
        h.body
    );
}

#[test]
fn codes_no_client_could_reach_are_refused_where_they_are_made() {
    let s = start();
    for code in ["acme,cad", "acmé", "two words", "tab\tbed", ""] {
        let a = admin(
            &s,
            "POST",
            "/admin/v1/products",
            json!({"code": code, "name": "X"}),
        );
        assert_eq!(a.status, 400, "{code:?}: {}", a.body);
    }
    let p = product(&s, "acme-cad_2.0");
    let bad_feature = admin(
        &s,
        "POST",
        "/admin/v1/licenses",
        json!({"license_key": "KEY-SP", "spec": {"license_type": "perpetual",
               "product_details": {"short_code": p.code},
               "product_features": [{"code": "pdf export", "name": "PDF"}]}}),
    );
    assert_eq!(bad_feature.status, 400, "{}", bad_feature.body);
    let bad_account = admin(
        &s,
        "POST",
        "/admin/v1/licenses",
        json!({"license_key": "KEY-AC", "account": "big customer",
               "spec": {"license_type": "perpetual", "product_details": {"short_code": p.code}}}),
    );
    assert_eq!(bad_account.status, 400, "{}", bad_account.body);
}

#[test]
fn a_connection_that_says_nothing_or_stops_mid_headers_is_closed() {
    use std::io::{Read, Write};
    let dir = std::sync::Arc::new(tempfile::tempdir().unwrap());
    let config = json!({"listen": "127.0.0.1:0", "insecure_http": true, "test_clock": true,
                        "idle_timeout_secs": 1});
    let s = start_with(dir, config, None).unwrap();
    let addr = s.url.trim_start_matches("http://").to_owned();
    for opening in [
        &b""[..],
        b"POST /api/v1/check_license HTTP/1.1\r\nhost: x\r\n",
    ] {
        let mut c = std::net::TcpStream::connect(&addr).unwrap();
        c.write_all(opening).unwrap();
        // Far longer than the idle limit: the server, not this timeout,
        // must end the connection.
        c.set_read_timeout(Some(std::time::Duration::from_secs(30)))
            .unwrap();
        match c.read_to_end(&mut Vec::new()) {
            Ok(_) => {}
            Err(e) => assert!(
                !matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ),
                "the server kept an idle connection open: {e}"
            ),
        }
    }
    // A client that talks is served as before.
    let p = product(&s, "idle");
    assert_eq!(p.code, "idle");
}

#[test]
fn a_captured_request_sent_again_is_refused() {
    let s = start();
    let p = product(&s, "replay");
    license(
        &s,
        &p,
        "KEY-RP",
        json!({"id": "L-RP", "license_type": "perpetual", "max_activations": 2, "max_transfers": 5}),
    );
    // One deactivation request, captured on the wire.
    let activate = call(&s, &p, "/api/v1/activate_license", who(&p, "KEY-RP", 1));
    assert_eq!(activate.status, 200, "{}", activate.body);
    let date = server_date(&s);
    let body =
        json!({"product": p.code, "license_id": "L-RP", "fingerprint": device(1)}).to_string();
    let nonce = nonce();
    let send = || call_with_nonce(&s, &p, "/api/v1/deactivate_license", &body, &date, &nonce);
    assert_eq!(send().status, 200);
    // The device activates again; the captured deactivation, replayed,
    // must not free its slot nor count another transfer.
    let again = call(&s, &p, "/api/v1/activate_license", who(&p, "KEY-RP", 1));
    assert_eq!(again.status, 200, "{}", again.body);
    let before = admin(&s, "GET", "/admin/v1/licenses/L-RP", Value::Null).body;
    let replay = send();
    assert_eq!(
        (replay.status, replay.body["code"].as_str()),
        (401, Some("replayed")),
        "{}",
        replay.body
    );
    let after = admin(&s, "GET", "/admin/v1/licenses/L-RP", Value::Null).body;
    assert_eq!(after["times_activated"], before["times_activated"]);
    assert_eq!(after["transfer_count"], before["transfer_count"]);
}

#[test]
fn password_guessing_is_throttled_per_user_and_per_address() {
    let s = start();
    let p = product(&s, "guess");
    let u = admin(
        &s,
        "POST",
        "/admin/v1/users",
        json!({"username": "victim@example.com", "password": "the-right-password"}),
    );
    assert_eq!(u.status, 200, "{}", u.body);
    let sign_in = |name: &str, password: &str| {
        call(
            &s,
            &p,
            "/api/v1/user_licenses",
            json!({"product": p.code, "username": name, "password": password}),
        )
    };
    for i in 0..5 {
        let a = sign_in("victim@example.com", &format!("guess-{i}"));
        assert_eq!(a.status, 401, "{}", a.body);
    }
    // The sixth try is refused before any password is checked, the right
    // one included, with how long to wait.
    let locked = sign_in("victim@example.com", "the-right-password");
    assert_eq!(
        (locked.status, locked.body["code"].as_str()),
        (429, Some("too_many_attempts")),
        "{}",
        locked.body
    );
    let wait = locked.body["retry_after"].as_u64().unwrap();
    assert!(wait > 0 && wait <= 900, "{wait}");

    // Later (the server's test clock), the user signs in.
    let later = chrono::Utc::now() + chrono::Duration::minutes(16);
    admin(
        &s,
        "POST",
        "/admin/v1/clock",
        json!({"now": tessera::format::license::ts::format(&later)}),
    );
    let ok = sign_in("victim@example.com", "the-right-password");
    assert_eq!(ok.status, 200, "{}", ok.body);

    // One address trying many names: refused after 20 failures.
    for i in 0..20 {
        let a = sign_in(&format!("nobody-{i}@example.com"), "guess");
        assert_eq!(a.status, 401, "{i}: {}", a.body);
    }
    let spray = sign_in("nobody-99@example.com", "guess");
    assert_eq!(spray.status, 429, "{}", spray.body);
}

#[test]
fn look_alike_usernames_are_one_user_and_invisible_characters_are_refused() {
    let s = start();
    let p = product(&s, "names");
    let new_user = |name: &str| {
        admin(
            &s,
            "POST",
            "/admin/v1/users",
            json!({"username": name, "password": "test-only-password"}),
        )
    };
    let first = new_user("Ada@Example.com");
    assert_eq!(first.status, 200, "{}", first.body);
    assert_eq!(first.body["username"], "ada@example.com");
    let composed = new_user("Jos\u{e9}@example.com");
    assert_eq!(composed.status, 200, "{}", composed.body);
    // The same person, spelled otherwise: the same user, refused as such.
    for same in [
        "ADA@example.com",
        "\u{ff21}da@example.com",
        "Jose\u{301}@example.com",
    ] {
        let again = new_user(same);
        assert_eq!(again.status, 409, "{same:?}: {}", again.body);
    }
    // Invisible and control characters make no user at all.
    for hidden in [
        "ada\u{200b}@example.com",
        "ada\u{202e}moc.elpmaxe@",
        "ada\u{0}@example.com",
        "\u{feff}ada2@example.com",
        "ada\u{200d}3@example.com",
        "   ",
    ] {
        let refused = new_user(hidden);
        assert_eq!(refused.status, 400, "{hidden:?}: {}", refused.body);
    }
    // Signing in, any spelling of the name finds the one user.
    let sign_in = call(
        &s,
        &p,
        "/api/v1/user_licenses",
        json!({"product": p.code, "username": "ADA@EXAMPLE.COM", "password": "test-only-password"}),
    );
    assert_eq!(sign_in.status, 200, "{}", sign_in.body);
}

#[test]
fn made_up_fingerprints_get_ten_trials_a_day_from_one_address() {
    let s = start();
    let p = product(&s, "trials-flood");
    fourteen_day_trial(&s, &p);
    let ask = |n: usize| {
        call(
            &s,
            &p,
            "/api/v1/trial_key",
            json!({"product": p.code, "fingerprint": device(n)}),
        )
    };
    let first = ask(0);
    for n in 1..10 {
        assert_eq!(ask(n).body["new"], true, "{n}");
    }
    // The eleventh made-up device from this address: refused, and told when.
    let flood = ask(10);
    assert_eq!(
        (flood.status, flood.body["code"].as_str()),
        (429, Some("too_many_trials")),
        "{}",
        flood.body
    );
    assert!(flood.body["retry_after"]
        .as_u64()
        .is_some_and(|s| s > 0 && s <= 86_400));
    // A device that has its trial still gets its key back.
    let again = ask(0);
    assert_eq!(again.status, 200, "{}", again.body);
    assert_eq!(again.body["license_key"], first.body["license_key"]);
    // A day later (the server's test clock), new trials are taken again.
    let later = chrono::Utc::now() + chrono::Duration::hours(25);
    admin(
        &s,
        "POST",
        "/admin/v1/clock",
        json!({"now": tessera::format::license::ts::format(&later)}),
    );
    assert_eq!(ask(11).body["new"], true);
}

#[test]
fn a_daily_counter_is_limited_per_day_at_the_server_too() {
    let s = start();
    let p = product(&s, "daily");
    activated(
        &s,
        &p,
        "KEY-DAY",
        json!({"id": "L-DAY", "license_type": "perpetual", "allow_unlimited_activations": true,
               "product_features": [{"code": "export", "name": "Export", "feature_type": "consumption",
                                     "max_consumption": 10, "reset_consumption": true,
                                     "consumption_period": "daily"}]}),
    );
    let full = upload(&s, &p, "L-DAY", 1, 1, "feature:export", 10);
    assert_eq!(full.status, 200, "{}", full.body);
    let over = upload(&s, &p, "L-DAY", 1, 2, "feature:export", 1);
    assert_eq!(
        (over.status, over.body["code"].as_str()),
        (409, Some("consumption_limit")),
        "{}",
        over.body
    );
    // Two days later (the server's test clock) the counter has reset.
    let later = chrono::Utc::now() + chrono::Duration::days(2);
    admin(
        &s,
        "POST",
        "/admin/v1/clock",
        json!({"now": tessera::format::license::ts::format(&later)}),
    );
    let next_day = upload(&s, &p, "L-DAY", 1, 3, "feature:export", 10);
    assert_eq!(next_day.status, 200, "{}", next_day.body);
    assert_eq!(
        upload(&s, &p, "L-DAY", 1, 4, "feature:export", 1).status,
        409
    );
}

#[test]
fn a_device_that_changes_its_id_but_not_its_machine_gets_its_trial_back() {
    let s = start();
    let p = product(&s, "trials-renamed");
    fourteen_day_trial(&s, &p);
    let ask = |fingerprint: Value| {
        let r = call(
            &s,
            &p,
            "/api/v1/trial_key",
            json!({"product": p.code, "fingerprint": fingerprint}),
        );
        assert_eq!(r.status, 200, "{}", r.body);
        (r.body["license_key"].clone(), r.body["new"].clone())
    };
    let first = ask(json!({"id": "a-1", "components":
        {"machine_id": "m-a", "mac:0": "n-a", "hostname": "h-1", "os": "o", "cpu": "c"}}));
    assert_eq!(first.1, true);
    // Another id, host name and OS, the same machine id: the same trial.
    let renamed = ask(json!({"id": "a-2", "components":
        {"machine_id": "m-a", "hostname": "h-2", "os": "o2", "cpu": "c"}}));
    assert_eq!(renamed, (first.0.clone(), json!(false)));
    // A new machine id, the same network card: still the same machine.
    let reinstalled = ask(json!({"id": "a-3", "components":
        {"machine_id": "m-a2", "mac:0": "n-a", "cpu": "c"}}));
    assert_eq!(reinstalled, (first.0.clone(), json!(false)));
    // Another machine of the same model, OS and host name: its own trial
    // (those three are shared by many machines).
    let other = ask(json!({"id": "b-1", "components":
        {"machine_id": "m-b", "hostname": "h-1", "os": "o", "cpu": "c"}}));
    assert_eq!(other.1, true);
    assert_ne!(other.0, first.0);
}

/// An offline request file as anyone can make one: self-signed with `key`,
/// naming whatever license and device it likes.
fn forged_request(p: &Product, key: &tessera::issuer::SigningKey, fill: Value) -> String {
    let mut request = json!({
        "format": 1, "product": p.code, "device": device(1),
        "device_key": key.public_key().to_base64(),
        "nonce": hex::encode(nonce().as_bytes())[..32].to_owned(),
        "created_at": "2026-01-01T00:00:00Z",
    });
    for (k, v) in fill.as_object().unwrap() {
        request[k] = v.clone();
    }
    tessera::format::armor::seal(
        &tessera::format::armor::OFFLINE_REQUEST,
        key,
        request.to_string().as_bytes(),
    )
    .unwrap()
}

fn activations_of(s: &Server, id: &str) -> usize {
    let d = admin(
        s,
        "GET",
        &format!("/admin/v1/licenses/{id}/devices"),
        json!(null),
    );
    assert_eq!(d.status, 200, "{}", d.body);
    d.body.as_array().unwrap().len()
}

/// Issue 34, finding 6: a stranger freed an online activation through the
/// offline route, with a deactivation request signed by any key and naming
/// the license and the victim's fingerprint (the key was compared only
/// when an offline key was recorded); a license-key holder did the same by
/// an offline activation of the victim's device with their own key first,
/// or took the device over by activating it online with no device key.
/// Now an activation's recorded key must sign every later activation or
/// deactivation of that device, whichever route it takes.
#[test]
fn no_one_but_the_device_frees_or_takes_over_its_activation() {
    let s = start();
    let p = product(&s, "victim");
    license(
        &s,
        &p,
        "KEY-V",
        json!({"id": "L-V", "license_type": "perpetual", "max_activations": 5, "max_transfers": 3}),
    );
    // The victim activates online, registering its device key.
    let victim = ed25519_dalek::SigningKey::from_bytes(&[7; 32]);
    let body = json!({"product": p.code, "license_key": "KEY-V", "fingerprint": device(1),
                      "device_key": tessera::PublicKey::from_bytes(victim.verifying_key().as_bytes()).unwrap().to_base64()});
    let a = call_as_device(&s, &p, "/api/v1/activate_license", &body, &victim);
    assert_eq!(a.status, 200, "{}", a.body);
    assert_eq!(activations_of(&s, "L-V"), 1);

    // A request file signed by `key`, sent to the offline route `path`.
    let offline = |key: &tessera::issuer::SigningKey, path: &str, fill: Value| {
        let request = forged_request(&p, key, fill);
        call(&s, &p, path, json!({"product": p.code, "request": request}))
    };
    let stranger = tessera::issuer::SigningKey::generate().unwrap();
    // 1. A deactivation request from the stranger's key.
    let d = offline(
        &stranger,
        "/api/v1/deactivate_offline",
        json!({"action": "deactivate", "license_id": "L-V"}),
    );
    assert_eq!(
        (d.status, d.body["code"].as_str()),
        (403, Some("offline_wrong_device")),
        "{}",
        d.body
    );
    assert_eq!(activations_of(&s, "L-V"), 1);

    // 2. An offline activation of the victim's device with the stranger's
    //    key (the license key is known), then a deactivation.
    let t = offline(
        &stranger,
        "/api/v1/activate_offline",
        json!({"action": "activate", "license_key": "KEY-V"}),
    );
    assert_eq!(
        (t.status, t.body["code"].as_str()),
        (409, Some("device_key_mismatch")),
        "{}",
        t.body
    );
    let d = offline(
        &stranger,
        "/api/v1/deactivate_offline",
        json!({"action": "deactivate", "license_id": "L-V"}),
    );
    assert_eq!(d.status, 403, "{}", d.body);
    assert_eq!(activations_of(&s, "L-V"), 1);

    // 3. An online activation of the victim's device id with no device key.
    let again = call(&s, &p, "/api/v1/activate_license", who(&p, "KEY-V", 1));
    assert_eq!(
        (again.status, again.body["code"].as_str()),
        (409, Some("device_key_mismatch")),
        "{}",
        again.body
    );

    // The victim's device still works, and no transfer was counted.
    let body = json!({"product": p.code, "license_id": "L-V", "fingerprint": device(1)});
    let c = call_as_device(&s, &p, "/api/v1/check_license", &body, &victim);
    assert_eq!(c.status, 200, "{}", c.body);
    let l = admin(&s, "GET", "/admin/v1/licenses/L-V", json!(null));
    assert_eq!(l.body["transfer_count"], 0, "{}", l.body);

    // 4. A device activated by a request file is not taken over online
    //    with another key either.
    let offline_key = tessera::issuer::SigningKey::generate().unwrap();
    let fp2 = json!({"id": "device-0002", "components": {}});
    let o = offline(
        &offline_key,
        "/api/v1/activate_offline",
        json!({"action": "activate", "license_key": "KEY-V", "device": fp2}),
    );
    assert_eq!(o.status, 200, "{}", o.body);
    let other = ed25519_dalek::SigningKey::from_bytes(&[9; 32]);
    let body = json!({"product": p.code, "license_key": "KEY-V", "fingerprint": device(2),
                      "device_key": tessera::PublicKey::from_bytes(other.verifying_key().as_bytes()).unwrap().to_base64()});
    let t = call_as_device(&s, &p, "/api/v1/activate_license", &body, &other);
    assert_eq!(
        (t.status, t.body["code"].as_str()),
        (409, Some("device_key_mismatch")),
        "{}",
        t.body
    );
    // Its own key frees it.
    let d = offline(
        &offline_key,
        "/api/v1/deactivate_offline",
        json!({"action": "deactivate", "license_id": "L-V", "device": fp2}),
    );
    assert_eq!(d.status, 200, "{}", d.body);
    assert_eq!(activations_of(&s, "L-V"), 1);
}

/// Issue 34, finding 7: the server answered "not new" for any record at a
/// (license, device, seq) it had, without comparing it, so a device whose
/// journal started again at 1 had every later increment acknowledged and
/// never counted (30 units used on a limit of 10 over three resets, the
/// server's total 10). A record that reuses a sequence number with
/// another chain MAC is now a conflict: counted, and reported.
#[test]
fn a_journal_that_starts_again_is_counted_not_taken_for_retries() {
    let s = start();
    let p = product(&s, "resets");
    activated(
        &s,
        &p,
        "KEY-R",
        json!({"id": "L-R", "license_type": "consumption", "max_consumptions": 100,
               "allow_unlimited_activations": true}),
    );
    let batch = |journal: u8| -> Value {
        let records: Vec<Value> = (1..=10)
            .map(|seq| {
                json!({"seq": seq, "counter": "license", "amount": 1,
                               "mac": format!("{journal:02x}{seq:062x}")})
            })
            .collect();
        json!({"product": p.code, "license_id": "L-R", "fingerprint": device(1), "records": records})
    };
    for (journal, total) in [(1u8, 10), (2, 20), (3, 30)] {
        let a = call(&s, &p, "/api/v1/add_consumption", batch(journal));
        assert_eq!(a.status, 200, "{}", a.body);
        assert_eq!(a.body["accepted"], 10, "{}", a.body);
        // One conflict a restart: the first reused number opens the device's
        // next epoch, where the rest of that journal lands.
        assert_eq!(a.body["conflicts"], if journal == 1 { 0 } else { 1 });
        assert_eq!(a.body["totals"]["license"], total, "{}", a.body);
        // The same batch again is a retry: nothing more is counted.
        let again = call(&s, &p, "/api/v1/add_consumption", batch(journal));
        assert_eq!(
            (
                again.body["accepted"].as_u64(),
                again.body["totals"]["license"].as_u64()
            ),
            (Some(0), Some(total))
        );
    }
    // A late retry of the first journal's records is still a retry.
    let late = call(&s, &p, "/api/v1/add_consumption", batch(1));
    assert_eq!(
        (
            late.body["accepted"].as_u64(),
            late.body["totals"]["license"].as_u64()
        ),
        (Some(0), Some(30)),
        "{}",
        late.body
    );
    // Past the limit, a restarted journal is refused, not acknowledged.
    let s2 = start();
    let p2 = product(&s2, "resets2");
    activated(
        &s2,
        &p2,
        "KEY-R2",
        json!({"id": "L-R2", "license_type": "consumption", "max_consumptions": 10,
               "allow_unlimited_activations": true}),
    );
    let mut body = batch(1);
    body["product"] = json!(p2.code);
    body["license_id"] = json!("L-R2");
    assert_eq!(
        call(&s2, &p2, "/api/v1/add_consumption", body.clone()).status,
        200
    );
    let mut reset = batch(2);
    reset["product"] = json!(p2.code);
    reset["license_id"] = json!("L-R2");
    let over = call(&s2, &p2, "/api/v1/add_consumption", reset);
    assert_eq!(
        (over.status, over.body["code"].as_str()),
        (409, Some("consumption_limit")),
        "{}",
        over.body
    );
    // A record without a MAC (an SDK from before) that changes the range or
    // the counter at a taken number is a conflict too.
    let mut old = batch(1);
    old["records"] = json!([{"seq": 1, "first_seq": 1, "counter": "license", "amount": 2}]);
    let a = call(&s, &p, "/api/v1/add_consumption", old);
    assert_eq!(a.body["conflicts"], 1, "{}", a.body);
    // A MAC that is not hex is refused.
    let mut bad = batch(1);
    bad["records"] = json!([{"seq": 99, "counter": "license", "amount": 1, "mac": "zz"}]);
    assert_eq!(call(&s, &p, "/api/v1/add_consumption", bad).status, 400);
}

/// Issue 34, finding 8: text holding a NUL character answered 500 on
/// PostgreSQL (whose text type cannot hold one) in sixteen places: bodies,
/// paths and queries, Tessera's own API and the seeds'. Every one is now a
/// 400 on both backends (the server suites run on each), before anything
/// is looked up or written.
#[test]
fn a_nul_character_anywhere_is_a_400_on_either_backend() {
    let s = start();
    let p = product(&s, "nul");
    activated(
        &s,
        &p,
        "KEY-NUL",
        json!({"id": "L-NUL", "license_type": "perpetual", "allow_unlimited_activations": true}),
    );
    let raw = |method: &str, path: &str, body: &str| -> u16 {
        let r = s
            .client
            .request(method.parse().unwrap(), format!("{}{path}", s.url))
            .header("authorization", format!("Bearer {ADMIN}"))
            .header("content-type", "application/json")
            .body(body.to_owned())
            .send()
            .unwrap();
        r.status().as_u16()
    };
    let nul = "a\\u0000b";
    let admin_cases: Vec<(&str, String, String)> = vec![
        ("POST", "/admin/v1/products".into(), format!(r#"{{"code": "nul2", "name": "{nul}"}}"#)),
        ("POST", "/admin/v1/users".into(), format!(r#"{{"username": "u{nul}", "email": "x{nul}@example.com", "password": "long enough"}}"#)),
        ("POST", "/admin/v1/licenses".into(), format!(r#"{{"license_key": "K{nul}", "spec": {{"license_type": "perpetual", "product_details": {{"short_code": "nul"}}}}}}"#)),
        ("GET", "/admin/v1/licenses/L%00X".into(), String::new()),
        ("GET", "/admin/v1/licenses/L-NUL/devices".into(), String::new()),
        ("GET", "/admin/v1/definitions?product=nul%00".into(), String::new()),
        ("GET", "/admin/v1/users/u%00".into(), String::new()),
        ("GET", "/services/data/v60.0/query?q=SELECT%20Id%20FROM%20PackageLicense%20WHERE%20Id%20%3D%20%27a%00%27".into(), String::new()),
        ("GET", "/api/v2/license/users/u%00".into(), String::new()),
        ("POST", "/api/v2/license/users".into(), format!(r#"["u{nul}"]"#)),
        ("POST", "/acme%00/lease_/api/account/1/user-license".into(), r#"{"userIds": ["x"], "userBundleCodes": ["B"], "useExternalLicense": false}"#.into()),
        ("POST", "/acme/lease_/api/account/1/user-license".into(), format!(r#"{{"userIds": ["x{nul}"], "userBundleCodes": ["B"], "useExternalLicense": false}}"#)),
    ];
    for (method, path, body) in &admin_cases {
        let status = raw(method, path, body);
        if path.ends_with("/devices") {
            assert_eq!(status, 200, "the control case");
        } else {
            assert_eq!(status, 400, "{method} {path} {body}");
        }
    }
    // The client API, signed as a device would sign it.
    let client_cases = [
        (
            "/api/v1/check_license",
            format!(
                r#"{{"product": "nul", "license_key": "KEY-NUL", "fingerprint": {{"id": "d{nul}", "components": {{}}}}}}"#
            ),
        ),
        (
            "/api/v1/add_consumption",
            format!(
                r#"{{"product": "nul", "license_id": "L-NUL", "fingerprint": {{"id": "device-0001", "components": {{}}}}, "records": [{{"seq": 1, "counter": "feature:x{nul}", "amount": 1}}]}}"#
            ),
        ),
        (
            "/api/v1/latest_release",
            format!(
                r#"{{"product": "nul", "license_id": "L-NUL", "fingerprint": {{"id": "device-0001", "components": {{}}}}, "channel": "s{nul}"}}"#
            ),
        ),
        (
            "/api/v1/trial_key",
            format!(
                r#"{{"product": "nul", "fingerprint": {{"id": "t{nul}", "components": {{}}}}, "email": "e{nul}"}}"#
            ),
        ),
    ];
    for (path, body) in &client_cases {
        let a = call_at(&s, &p, path, body, &server_date(&s));
        assert_eq!(a.status, 400, "{path}: {}", a.body);
    }
    // A backslash before `u0000` that is itself escaped is no NUL.
    let ok = call_at(
        &s,
        &p,
        "/api/v1/check_license",
        r#"{"product": "nul", "license_key": "KEY-NUL", "fingerprint": {"id": "device-0001", "components": {"x": "a\\\\u0000"}}}"#,
        &server_date(&s),
    );
    assert_eq!(ok.status, 200, "{}", ok.body);
}

/// A signed client call that a proxy forwards for `client` (its
/// `X-Forwarded-For`).
fn call_forwarded_for(s: &Server, p: &Product, path: &str, body: &Value, client: &str) -> Answer {
    let (date, nonce, body) = (server_date(s), nonce(), body.to_string());
    let msg =
        tessera::protocol::request::request_string(&date, "POST", path, body.as_bytes(), &nonce);
    let sig = tessera::protocol::request::sign(&p.key, &msg).unwrap();
    let r = s
        .client
        .post(format!("{}{path}", s.url))
        .header("date", &date)
        .header("tessera-nonce", &nonce)
        .header(
            "authorization",
            tessera::protocol::request::authorization(&p.code, &sig),
        )
        .header("x-forwarded-for", client)
        .body(body)
        .send()
        .unwrap();
    verify_response(s, &nonce, r)
}

fn behind_a_balancer(trusted: Value) -> Server {
    let dir = std::sync::Arc::new(tempfile::tempdir().unwrap());
    let config = json!({"listen": "127.0.0.1:0", "insecure_http": true, "test_clock": true,
                        "trusted_proxies": trusted});
    start_with(dir, config, None).unwrap()
}

/// Issue 34, finding 10: behind a load balancer every client shared one
/// address, so the per-address limits became global. The client's address
/// is now read from the forwarding header, only when the connection comes
/// from a proxy the operator lists.
#[test]
fn behind_a_trusted_balancer_each_client_has_its_own_limits() {
    let ask = |s: &Server, p: &Product, n: usize, from: &str| {
        call_forwarded_for(
            s,
            p,
            "/api/v1/trial_key",
            &json!({"product": p.code, "fingerprint": {"id": format!("made-up-{n}"), "components": {}}}),
            from,
        )
    };
    // Loopback is the balancer: ten trials from one client, then 429; the
    // next client has its own ten.
    let s = behind_a_balancer(json!(["127.0.0.0/8"]));
    let p = product(&s, "balanced");
    fourteen_day_trial(&s, &p);
    for n in 0..10 {
        assert_eq!(ask(&s, &p, n, "203.0.113.1").status, 200, "{n}");
    }
    assert_eq!(ask(&s, &p, 10, "203.0.113.1").status, 429);
    assert_eq!(ask(&s, &p, 11, "203.0.113.2").status, 200, "another client");
    // A client that writes the header itself, without a trusted proxy in
    // front, is its own address: the header changes nothing.
    let s = behind_a_balancer(json!([]));
    let p = product(&s, "direct");
    fourteen_day_trial(&s, &p);
    for n in 0..10 {
        assert_eq!(
            ask(&s, &p, n, &format!("198.51.100.{n}")).status,
            200,
            "{n}"
        );
    }
    assert_eq!(
        ask(&s, &p, 10, "198.51.100.99").status,
        429,
        "spoofed header believed"
    );
}

/// Issue 34, finding 11: five wrong passwords from five addresses locked
/// the real user out for 15 minutes. Failures count per user and address
/// (5), and per user overall only up to 50, which support can clear.
#[test]
fn guesses_from_elsewhere_do_not_lock_the_user_out() {
    let s = behind_a_balancer(json!(["127.0.0.1"]));
    let p = product(&s, "lockout");
    let u = admin(
        &s,
        "POST",
        "/admin/v1/users",
        json!({"username": "ada@example.com", "password": "the-right-password"}),
    );
    assert_eq!(u.status, 200, "{}", u.body);
    let id = u.body["id"].as_str().unwrap().to_owned();
    let sign_in = |password: &str, from: &str| {
        call_forwarded_for(
            &s,
            &p,
            "/api/v1/user_licenses",
            &json!({"product": p.code, "username": "ada@example.com", "password": password}),
            from,
        )
        .status
    };
    // The finding: five wrong passwords from five addresses.
    for n in 0..5 {
        assert_eq!(sign_in("guess", &format!("203.0.113.{n}")), 401);
    }
    assert_eq!(
        sign_in("the-right-password", "192.0.2.10"),
        200,
        "Ada is not locked out"
    );
    // Five from one address: that address is done with Ada's name.
    for _ in 0..5 {
        assert_eq!(sign_in("guess", "203.0.113.99"), 401);
    }
    assert_eq!(
        sign_in("guess", "203.0.113.99"),
        429,
        "that address is done"
    );
    assert_eq!(
        sign_in("the-right-password", "192.0.2.10"),
        200,
        "Ada, elsewhere"
    );
    // Spread over ten addresses, fifty guesses reach the user's own bound.
    for n in 0..50 {
        assert_eq!(
            sign_in("guess", &format!("198.51.100.{}", n / 5)),
            401,
            "{n}"
        );
    }
    assert_eq!(sign_in("the-right-password", "192.0.2.10"), 429);
    // Support's way back.
    let unlocked = admin(
        &s,
        "POST",
        &format!("/admin/v1/users/{id}/unlock"),
        Value::Null,
    );
    assert_eq!(unlocked.status, 200, "{}", unlocked.body);
    assert_eq!(sign_in("the-right-password", "192.0.2.10"), 200);
}

/// Issue 34, finding 9: connections by count took the server down (1,100
/// trickling connections at a 1,024 file limit). Past a cap, overall and
/// per address, a new connection is answered 503 with Retry-After and
/// closed; the server goes on serving, and a closed connection frees its
/// place.
#[test]
fn connections_past_the_caps_are_turned_away_and_the_server_stays_up() {
    use std::io::{Read as _, Write as _};
    let open = |s: &Server| {
        let address = s
            .url
            .trim_start_matches("http://")
            .trim_end_matches('/')
            .to_owned();
        std::net::TcpStream::connect(address).unwrap()
    };
    let turned_away = |mut c: std::net::TcpStream| {
        c.set_read_timeout(Some(std::time::Duration::from_secs(10)))
            .unwrap();
        let _ = c.write_all(b"GET /openapi.json HTTP/1.1\r\nhost: x\r\n\r\n");
        let mut answer = String::new();
        let _ = c.read_to_string(&mut answer);
        answer.starts_with("HTTP/1.1 503")
            && answer.contains("retry-after: 1") | answer.contains("Retry-After: 1")
    };
    // The server sees a closed connection a moment later: a bounded wait
    // for it (another process), not a timed assertion.
    let served = |s: &Server| {
        (0..500).any(|_| {
            let ok = s
                .client
                .get(format!("{}/openapi.json", s.url))
                .send()
                .is_ok_and(|r| r.status() == 200);
            if !ok {
                std::thread::sleep(std::time::Duration::from_millis(10));
            }
            ok
        })
    };

    // Per address: 10 held, the 11th from there is turned away.
    let dir = std::sync::Arc::new(tempfile::tempdir().unwrap());
    let s = start_with(
        dir,
        json!({"listen": "127.0.0.1:0", "insecure_http": true, "max_connections": 30,
               "max_connections_per_address": 10}),
        None,
    )
    .unwrap();
    let mut held: Vec<_> = (0..10).map(|_| open(&s)).collect();
    assert!(turned_away(open(&s)), "the 11th from one address");
    held.truncate(5);
    assert!(served(&s), "a closed connection frees its place");

    // Overall, with loopback a trusted proxy (exempt from the per-address
    // cap): 30 held, the 31st turned away.
    drop(held);
    let dir = std::sync::Arc::new(tempfile::tempdir().unwrap());
    let s = start_with(
        dir,
        json!({"listen": "127.0.0.1:0", "insecure_http": true, "max_connections": 30,
               "max_connections_per_address": 10, "trusted_proxies": ["127.0.0.1"]}),
        None,
    )
    .unwrap();
    let held: Vec<_> = (0..30).map(|_| open(&s)).collect();
    assert!(turned_away(open(&s)), "the 31st");
    drop(held);
    assert!(served(&s));
}

/// Issue 34, finding 22: a customer who lost the state folder (a
/// reinstall) got `device_key_mismatch`, and only the vendor's support
/// could free the device. The same machine now activates again under a
/// new key with the license key, counted as a transfer; another machine
/// that knows the device's id does not, nor does anyone past the
/// transfers the license allows.
#[test]
fn a_device_that_lost_its_state_comes_back_with_the_license_key() {
    let s = start();
    let p = product(&s, "reinstall");
    license(
        &s,
        &p,
        "KEY-W",
        json!({"id": "L-W", "license_type": "perpetual", "max_activations": 3, "max_transfers": 2}),
    );
    let machine =
        json!({"id": "pc-1", "components": {"machine_id": "m-1", "mac:aa": "n-1", "cpu": "c-1"}});
    let key = |n: u8| ed25519_dalek::SigningKey::from_bytes(&[n; 32]);
    let activate = |k: &ed25519_dalek::SigningKey, fingerprint: &Value| {
        let body = json!({"product": p.code, "license_key": "KEY-W", "fingerprint": fingerprint,
                          "device_key": public(k)});
        call_as_device(&s, &p, "/api/v1/activate_license", &body, k)
    };
    let transfers =
        || admin(&s, "GET", "/admin/v1/licenses/L-W", json!(null)).body["transfer_count"].clone();
    assert_eq!(activate(&key(1), &machine).status, 200);

    // Reinstalled: a new key, the same machine, the license key.
    let back = activate(&key(2), &machine);
    assert_eq!(back.status, 200, "{}", back.body);
    assert_eq!(transfers(), 1);
    // The lost key no longer speaks for the device; the new one does.
    let check = json!({"product": p.code, "license_id": "L-W", "fingerprint": machine});
    assert_eq!(
        call_as_device(&s, &p, "/api/v1/check_license", &check, &key(1)).status,
        401
    );
    assert_eq!(
        call_as_device(&s, &p, "/api/v1/check_license", &check, &key(2)).status,
        200
    );

    // Another machine that knows the id (and the license key) does not.
    let elsewhere =
        json!({"id": "pc-1", "components": {"machine_id": "m-9", "mac:bb": "n-9", "cpu": "c-1"}});
    let taken = activate(&key(3), &elsewhere);
    assert_eq!(
        (taken.status, taken.body["code"].as_str()),
        (409, Some("device_key_mismatch")),
        "{}",
        taken.body
    );
    assert_eq!(transfers(), 1);
    // A small change (a new network card) is still the machine; the second
    // transfer is the last the license allows.
    let new_card =
        json!({"id": "pc-1", "components": {"machine_id": "m-1", "mac:cc": "n-2", "cpu": "c-1"}});
    assert_eq!(activate(&key(4), &new_card).status, 200);
    assert_eq!(transfers(), 2);
    let spent = activate(&key(5), &new_card);
    assert_eq!(
        (spent.status, spent.body["code"].as_str()),
        (409, Some("transfer_limit")),
        "{}",
        spent.body
    );
}

/// Issue 33, item 10: on PostgreSQL a device's heartbeats after its first
/// are one statement, chosen by what the instance remembers of the seat.
/// The database still decides each one: a replay, a request without the
/// device's proof, a new floating timeout, a disabled license, a changed
/// device key and a deactivation are each heard at the next heartbeat, as
/// on the full path (and on SQLite, which always takes it).
#[test]
fn heartbeats_in_one_statement_still_hear_every_change() {
    let s = start();
    let p = product(&s, "beats");
    license(
        &s,
        &p,
        "KEY-HB",
        json!({"id": "L-HB", "license_type": "perpetual", "max_activations": 5,
               "max_transfers": 3, "is_floating": true, "floating_users": 2,
               "floating_timeout": 15}),
    );
    let key = ed25519_dalek::SigningKey::from_bytes(&[9; 32]);
    let machine = json!({"id": "device-0001",
                         "components": {"machine_id": "m-1", "mac:aa": "n-1", "cpu": "c-1"}});
    let body = json!({"product": p.code, "license_key": "KEY-HB", "fingerprint": machine});
    let mut activation = body.clone();
    activation["device_key"] = json!(public(&key));
    let a = call_as_device(&s, &p, "/api/v1/activate_license", &activation, &key);
    assert_eq!(a.status, 200, "{}", a.body);
    let r = call_as_device(&s, &p, "/api/v1/floating/register", &body, &key);
    assert_eq!(r.status, 200, "{}", r.body);
    let ring = tessera::Keyring::from_keys([s.key.clone()]);
    let minutes = |a: &Answer| {
        let l = tessera::format::lease::Lease::verify(
            a.body["lease"].as_str().unwrap().as_bytes(),
            &ring,
        )
        .unwrap();
        assert_eq!(
            (l.license_id.as_str(), l.device.id.as_str()),
            ("L-HB", "device-0001")
        );
        l.expires_at.duration_since(l.issued_at).unwrap().as_secs() / 60
    };
    let beat = |nonce: &str| {
        call_as_device_with_nonce(&s, &p, "/api/v1/floating/heartbeat", &body, &key, nonce)
    };
    // The first heartbeat takes the full path; the next ones may not.
    for _ in 0..3 {
        let h = beat(&nonce());
        assert_eq!(h.status, 200, "{}", h.body);
        assert_eq!((minutes(&h), &h.body["seats_total"]), (15, &json!(2)));
    }
    // The same request again is a replay.
    let once = nonce();
    assert_eq!(beat(&once).status, 200);
    let again = beat(&once);
    assert_eq!(
        (again.status, again.body["code"].as_str()),
        (401, Some("replayed"))
    );
    // Without the device's proof, or with another device's.
    let h = call(&s, &p, "/api/v1/floating/heartbeat", body.clone());
    assert_eq!(
        (h.status, h.body["code"].as_str()),
        (401, Some("device_proof"))
    );
    let stranger = ed25519_dalek::SigningKey::from_bytes(&[10; 32]);
    let h = call_as_device(&s, &p, "/api/v1/floating/heartbeat", &body, &stranger);
    assert_eq!(
        (h.status, h.body["code"].as_str()),
        (401, Some("device_proof"))
    );
    // A new floating timeout: the next lease has it.
    let u = admin(
        &s,
        "PATCH",
        "/admin/v1/licenses/L-HB",
        json!({"spec": {"floating_timeout": 30}}),
    );
    assert_eq!(u.status, 200, "{}", u.body);
    let h = beat(&nonce());
    assert_eq!((h.status, minutes(&h)), (200, 30), "{}", h.body);
    assert_eq!(minutes(&beat(&nonce())), 30);
    // Disabled: refused; enabled again: renewed.
    let d = admin(&s, "POST", "/admin/v1/licenses/L-HB/disable", Value::Null);
    assert_eq!(d.status, 200, "{}", d.body);
    let h = beat(&nonce());
    assert_eq!(
        (h.status, h.body["code"].as_str()),
        (403, Some("license_disabled"))
    );
    let e = admin(&s, "POST", "/admin/v1/licenses/L-HB/enable", Value::Null);
    assert_eq!(e.status, 200, "{}", e.body);
    assert_eq!(beat(&nonce()).status, 200);
    assert_eq!(beat(&nonce()).status, 200);
    // The device comes back under a new key (the way back of a device that
    // lost its state), while the instance remembers the old one: the old
    // key's proofs no longer renew, the new key's do.
    let new_key = ed25519_dalek::SigningKey::from_bytes(&[11; 32]);
    let mut activation = body.clone();
    activation["device_key"] = json!(public(&new_key));
    let a = call_as_device(&s, &p, "/api/v1/activate_license", &activation, &new_key);
    assert_eq!(a.status, 200, "{}", a.body);
    let h = beat(&nonce());
    assert_eq!(
        (h.status, h.body["code"].as_str()),
        (401, Some("device_proof"))
    );
    let renew = || call_as_device(&s, &p, "/api/v1/floating/heartbeat", &body, &new_key);
    for _ in 0..2 {
        let h = renew();
        assert_eq!(h.status, 200, "{}", h.body);
    }
    // Deactivated: the seat goes with the activation.
    let d = call_as_device(&s, &p, "/api/v1/deactivate_license", &body, &new_key);
    assert_eq!(d.status, 200, "{}", d.body);
    let h = renew();
    assert_ne!(h.status, 200, "{}", h.body);
}

/// The device key `k`'s public half, as an activation records it (base64).
fn public(k: &ed25519_dalek::SigningKey) -> String {
    tessera::PublicKey::from_bytes(k.verifying_key().as_bytes())
        .unwrap()
        .to_base64()
}

/// Issue 40: LicenseSpring's routes prove nothing about a device (its SDK
/// holds no device key), so a device that Tessera's SDK activated with a
/// device key is not theirs: knowing the license key and the device's id,
/// a stranger can neither check, free nor take over that activation
/// through them.
#[test]
fn licensesprings_routes_cannot_touch_a_device_with_a_device_key() {
    use base64::Engine as _;
    use common::licensespring::send;
    let s = start();
    let p = product(&s, "keyed");
    license(
        &s,
        &p,
        "KEY-K",
        json!({"id": "L-K", "license_type": "perpetual", "max_activations": 5, "max_transfers": 3}),
    );
    let victim = ed25519_dalek::SigningKey::from_bytes(&[8; 32]);
    let body = json!({"product": p.code, "license_key": "KEY-K", "fingerprint": device(1),
                      "device_key": tessera::PublicKey::from_bytes(victim.verifying_key().as_bytes()).unwrap().to_base64()});
    let a = call_as_device(&s, &p, "/api/v1/activate_license", &body, &victim);
    assert_eq!(a.status, 200, "{}", a.body);
    let hardware_id = device(1)["id"].as_str().unwrap().to_owned();
    let named = json!({"product": p.code, "license_key": "KEY-K", "hardware_id": hardware_id});
    let check = send(
        &s,
        &p,
        "/api/v4/check_license",
        &[
            ("product", p.code.as_str()),
            ("license_key", "KEY-K"),
            ("hardware_id", &hardware_id),
        ],
        None,
    );
    assert_eq!(
        (check.status, check.body["code"].as_str()),
        (401, Some("device_proof")),
        "{}",
        check.body
    );
    let freed = send(&s, &p, "/api/v4/deactivate_license", &[], Some(&named));
    assert_eq!(
        (freed.status, freed.body["code"].as_str()),
        (401, Some("device_proof")),
        "{}",
        freed.body
    );
    let taken = send(&s, &p, "/api/v4/activate_license", &[], Some(&named));
    assert_eq!(
        (taken.status, taken.body["code"].as_str()),
        (409, Some("device_key_mismatch")),
        "{}",
        taken.body
    );
    assert_eq!(activations_of(&s, "L-K"), 1);
    // A device of its own, activated through LicenseSpring's route, is
    // checked and freed there.
    let own = json!({"product": p.code, "license_key": "KEY-K", "hardware_id": "ls-device-1"});
    let a = send(&s, &p, "/api/v4/activate_license", &[], Some(&own));
    assert_eq!(a.status, 200, "{}", a.body);
    assert_eq!(a.body["license_key"], "KEY-K");
    assert_eq!(activations_of(&s, "L-K"), 2);
    let d = send(&s, &p, "/api/v4/deactivate_license", &[], Some(&own));
    assert_eq!((d.status, &d.body), (200, &json!("license_deactivated")));
    assert_eq!(activations_of(&s, "L-K"), 1);
    // What Tessera does not serve is refused, naming why; a hardware_id
    // longer than a device id may be is refused; nothing was recorded.
    for (extra, code) in [
        (json!({"bundle_code": "b"}), "not_supported"),
        (
            json!({"variables": [{"key": "k", "value": "v"}]}),
            "not_supported",
        ),
        (
            json!({"tpm_enrollment": {"signing_public_key": "x"}}),
            "not_supported",
        ),
        (
            json!({"hardware_id": "x".repeat(129)}),
            "invalid_parameters",
        ),
        (json!({"hardware_id": ""}), "invalid_parameters"),
    ] {
        let mut body = own.clone();
        for (k, v) in extra.as_object().unwrap() {
            body[k] = v.clone();
        }
        let a = send(&s, &p, "/api/v4/activate_license", &[], Some(&body));
        assert_eq!(
            (a.status, a.body["code"].as_str()),
            (400, Some(code)),
            "{extra}: {}",
            a.body
        );
    }
    assert_eq!(activations_of(&s, "L-K"), 1);

    // An offline request file signed with another key (a stranger's guess
    // at the shared key), or naming another product than its signer's, is
    // refused, and activates nothing.
    let stranger = Product {
        code: p.code.clone(),
        key: vec![9; 32],
    };
    let forged =
        common::licensespring::request_file(&stranger, "activation", "KEY-K", "ls-device-2");
    let a = admin(
        &s,
        "POST",
        "/admin/v1/compat/licensespring/offline",
        json!({ "request": forged }),
    );
    assert_eq!(
        (a.status, a.body["code"].as_str()),
        (401, Some("bad_signature")),
        "{}",
        a.body
    );
    let other = product(&s, "other");
    let theirs = common::licensespring::request_file(&other, "activation", "KEY-K", "ls-device-2");
    let r = s
        .client
        .post(format!("{}/api/v4/activate_offline", s.url))
        .header("date", server_date(&s))
        .header(
            "authorization",
            format!(
                "algorithm=\"hmac-sha256\",headers=\"date\",signature=\"{}\",apiKey=\"{}\"",
                common::licensespring::signature(
                    &base64::engine::general_purpose::STANDARD.encode(&p.key),
                    &server_date(&s)
                ),
                p.code
            ),
        )
        .body(theirs)
        .send()
        .unwrap();
    assert_eq!(r.status().as_u16(), 403);
    for junk in ["", "not base64!", "e30=", "eyJyZXF1ZXN0IjogMX0="] {
        let a = admin(
            &s,
            "POST",
            "/admin/v1/compat/licensespring/offline",
            json!({ "request": junk }),
        );
        assert_eq!(
            (a.status, a.body["code"].as_str()),
            (400, Some("invalid_request_file")),
            "{junk}: {}",
            a.body
        );
    }
    assert_eq!(activations_of(&s, "L-K"), 1);
}
