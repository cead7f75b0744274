//! The real server binary on loopback: TLS, users and their licenses,
//! activation by user, trial keys, offline request files, license
//! definitions and updates, feature toggles, batch assignment with a
//! status per item, bundles for an account, and the paged user list.
// A test may fail by panicking, and its shared helpers are `pub` to its modules.
#![allow(clippy::unwrap_used, clippy::expect_used, unreachable_pub)]

mod common;

use std::sync::Arc;

use serde_json::{json, Value};
use tessera::activation::offline;
use tessera::activation::Credential;
use tessera::{Keyring, LicenseFile, LicenseHandle, LocalConfig};

use common::*;

fn spec(p: &Product, extra: Value) -> Value {
    let mut s = json!({"license_type": "perpetual", "product_details": {"short_code": p.code}});
    for (k, v) in extra.as_object().unwrap() {
        s[k] = v.clone();
    }
    s
}

fn new_user(s: &Server, name: &str) -> String {
    let a = admin(
        s,
        "POST",
        "/admin/v1/users",
        json!({"username": name, "password": "test-only-password", "first_name": "Ada"}),
    );
    assert_eq!(a.status, 200, "{}", a.body);
    assert!(a.body.get("password_hash").is_none());
    a.body["id"].as_str().unwrap().to_owned()
}

fn new_license(s: &Server, body: Value) -> Value {
    let a = admin(s, "POST", "/admin/v1/licenses", body);
    assert_eq!(a.status, 200, "{}", a.body);
    a.body
}

#[test]
fn tls_serves_https_and_plain_http_is_only_for_loopback() {
    let dir = Arc::new(tempfile::tempdir().unwrap());
    let cert = rcgen::generate_simple_self_signed(vec!["127.0.0.1".to_owned()]).unwrap();
    let (cert_pem, key_pem) = (cert.cert.pem(), cert.key_pair.serialize_pem());
    std::fs::write(dir.path().join("tls.crt"), &cert_pem).unwrap();
    std::fs::write(dir.path().join("tls.key"), &key_pem).unwrap();
    let config = json!({
        "listen": "127.0.0.1:0",
        "tls_cert": dir.path().join("tls.crt"),
        "tls_key": dir.path().join("tls.key"),
    });
    let s = start_with(dir.clone(), config, Some(&cert_pem)).unwrap();
    assert!(s.url.starts_with("https://127.0.0.1:"), "{}", s.url);
    let p = product(&s, "tls");
    license(
        &s,
        &p,
        "KEY-TLS",
        json!({"id": "L-TLS", "license_type": "perpetual"}),
    );
    let a = call(&s, &p, "/api/v1/activate_license", who(&p, "KEY-TLS", 1));
    assert_eq!(a.status, 200, "{}", a.body);

    // A client that does not trust the certificate gets no answer.
    let untrusting = reqwest::blocking::Client::builder()
        .tls_built_in_root_certs(false)
        .build()
        .unwrap();
    assert!(untrusting
        .get(format!("{}/openapi.json", s.url))
        .send()
        .is_err());
    // Plain HTTP on the TLS port gets no HTTP answer either.
    let plain = s.url.replace("https://", "http://");
    assert!(http().get(format!("{plain}/openapi.json")).send().is_err());
    drop(s);

    // What the server refuses to start with.
    let refused = |config: Value| {
        start_with(Arc::new(tempfile::tempdir().unwrap()), config, None)
            .err()
            .unwrap_or_else(|| panic!("the server started"))
    };
    let e = refused(json!({"listen": "0.0.0.0:0", "insecure_http": true}));
    assert!(e.contains("loopback"), "{e}");
    let e = refused(json!({"listen": "127.0.0.1:0"}));
    assert!(e.contains("tls_cert"), "{e}");
    let e = refused(json!({"listen": "127.0.0.1:0", "tls_cert": dir.path().join("tls.crt")}));
    assert!(e.contains("both"), "{e}");
    std::fs::write(
        dir.path().join("other.key"),
        rcgen::KeyPair::generate().unwrap().serialize_pem(),
    )
    .unwrap();
    let e = refused(json!({
        "listen": "127.0.0.1:0",
        "tls_cert": dir.path().join("tls.crt"),
        "tls_key": dir.path().join("other.key"),
    }));
    assert!(e.contains("pair"), "{e}");
    assert!(!e.contains("PRIVATE KEY"), "the error shows the key: {e}");
}

#[test]
fn a_user_lists_their_licenses_and_activates_one_by_id() {
    let s = start();
    let p = product(&s, "users");
    let ada = new_user(&s, "ada@example.com");
    new_user(&s, "bob@example.com");
    let l1 = new_license(
        &s,
        json!({"spec": spec(&p, json!({"id": "U-1", "max_activations": 1}))}),
    );
    new_license(&s, json!({"spec": spec(&p, json!({"id": "U-2"}))}));
    // A fresh key was made for each.
    assert_eq!(l1["license_key"].as_str().unwrap().len(), 23);
    let a = admin(
        &s,
        "POST",
        &format!("/admin/v1/licenses/U-1/users/{ada}"),
        Value::Null,
    );
    assert_eq!((a.status, a.body["code"].as_str()), (200, Some("assigned")));

    let list = |user: &str, password: &str| {
        call(
            &s,
            &p,
            "/api/v1/user_licenses",
            json!({"product": p.code, "username": user, "password": password}),
        )
    };
    let mine = list("ada@example.com", "test-only-password");
    assert_eq!(mine.status, 200, "{}", mine.body);
    let mine = mine.body.as_array().unwrap().clone();
    assert_eq!(mine.len(), 1);
    assert_eq!(mine[0]["id"], "U-1");
    assert_eq!(mine[0]["user"]["username"], "ada@example.com");
    assert!(mine[0].get("license_key").is_none());
    assert_eq!(
        list("bob@example.com", "test-only-password").body,
        json!([])
    );
    // A wrong password and an unknown user get the same answer.
    let wrong = list("ada@example.com", "not-the-password");
    let unknown = list("nobody@example.com", "test-only-password");
    assert_eq!((wrong.status, unknown.status), (401, 401));
    assert_eq!(wrong.body, unknown.body);
    assert_eq!(wrong.body["code"], "invalid_credentials");
    assert!(!wrong.body.to_string().contains("not-the-password"));

    let by_user = |user: &str, id: &str, n: usize| {
        json!({"product": p.code, "username": user, "password": "test-only-password",
               "license_id": id, "fingerprint": device(n)})
    };
    let a = call(
        &s,
        &p,
        "/api/v1/activate_license",
        by_user("ada@example.com", "U-1", 1),
    );
    assert_eq!(a.status, 200, "{}", a.body);
    let ring = Keyring::from_keys([s.key.clone()]);
    let file =
        LicenseFile::verify(a.body["license_file"].as_str().unwrap().as_bytes(), &ring).unwrap();
    assert_eq!(file.license().id, "U-1");
    // Bob does not hold U-1; U-2 is nobody's; an id alone cannot activate.
    let b = call(
        &s,
        &p,
        "/api/v1/activate_license",
        by_user("bob@example.com", "U-1", 2),
    );
    assert_eq!(
        (b.status, b.body["code"].as_str()),
        (403, Some("not_assigned"))
    );
    let b = call(
        &s,
        &p,
        "/api/v1/activate_license",
        by_user("ada@example.com", "U-2", 2),
    );
    assert_eq!(b.body["code"], "not_assigned");
    let bare = json!({"product": p.code, "license_id": "U-1", "fingerprint": device(3)});
    assert_eq!(call(&s, &p, "/api/v1/activate_license", bare).status, 400);
    // The activated device checks in by id, without the password.
    let check = json!({"product": p.code, "license_id": "U-1", "fingerprint": device(1)});
    assert_eq!(call(&s, &p, "/api/v1/check_license", check).status, 200);
    let other = json!({"product": p.code, "license_id": "U-1", "fingerprint": device(9)});
    assert_eq!(
        call(&s, &p, "/api/v1/check_license", other).body["code"],
        "not_activated"
    );
}

#[test]
fn a_trial_key_is_made_once_per_device_from_the_trial_definition() {
    let s = start();
    let p = product(&s, "trial");
    let no_trial = call(
        &s,
        &p,
        "/api/v1/trial_key",
        json!({"product": p.code, "fingerprint": device(1)}),
    );
    assert_eq!(
        (no_trial.status, no_trial.body["code"].as_str()),
        (404, Some("no_trial"))
    );
    let d = admin(
        &s,
        "POST",
        "/admin/v1/definitions",
        json!({"product": p.code, "code": "TRIAL", "name": "Two-week trial",
               "spec": spec(&p, json!({"license_type": "time-limited",
                                       "validity_period": "2099-01-01T00:00:00Z"})),
               "trial_days": 14}),
    );
    assert_eq!(d.status, 200, "{}", d.body);
    let ask = |n: usize| {
        call(
            &s,
            &p,
            "/api/v1/trial_key",
            json!({"product": p.code, "fingerprint": device(n), "email": "eve@example.com"}),
        )
    };
    let first = ask(1);
    assert_eq!(first.status, 200, "{}", first.body);
    assert_eq!(first.body["new"], true);
    let again = ask(1);
    assert_eq!(again.body["new"], false);
    assert_eq!(again.body["license_key"], first.body["license_key"]);
    assert_ne!(ask(2).body["license_key"], first.body["license_key"]);

    let key = first.body["license_key"].as_str().unwrap();
    let a = call(&s, &p, "/api/v1/activate_license", who(&p, key, 1));
    assert_eq!(a.status, 200, "{}", a.body);
    let ring = Keyring::from_keys([s.key.clone()]);
    let file =
        LicenseFile::verify(a.body["license_file"].as_str().unwrap().as_bytes(), &ring).unwrap();
    let license = file.license();
    assert!(license.is_trial);
    assert_eq!(license.trial_days, Some(14));
    let days = license
        .validity_period
        .unwrap()
        .duration_since(license.issued_at)
        .unwrap()
        .as_secs()
        / 86_400;
    assert!((13..=14).contains(&days), "{days}");
}

/// A device of this product that keeps its state in `dir`.
fn offline_device(s: &Server, p: &Product, dir: &tempfile::TempDir, name: &str) -> LocalConfig {
    let mut c = LocalConfig::new(&p.code, Keyring::from_keys([s.key.clone()]));
    c.secret = b"test-only vendor secret".to_vec();
    c.store_dir = Some(dir.path().to_owned());
    c.custom_device_id = Some(name.to_owned());
    c
}

#[test]
fn offline_request_files_are_answered_and_a_deactivation_is_taken_once() {
    let s = start();
    let p = product(&s, "offline");
    license(
        &s,
        &p,
        "KEY-OFF",
        json!({"id": "L-OFF", "license_type": "perpetual", "max_activations": 1}),
    );
    let store = tempfile::tempdir().unwrap();
    let config = offline_device(&s, &p, &store, "air-gapped-pc");
    let request =
        offline::request_activation(&config, &Credential::LicenseKey("KEY-OFF".into())).unwrap();
    let a = call(
        &s,
        &p,
        "/api/v1/activate_offline",
        json!({"product": p.code, "request": request}),
    );
    assert_eq!(a.status, 200, "{}", a.body);
    offline::import_response(&config, a.body["response"].as_str().unwrap().as_bytes()).unwrap();
    let handle = LicenseHandle::open(&config).unwrap();
    assert_eq!(handle.check().unwrap(), tessera::Status::Valid);
    // The file expires 30 days on: the device renews it with another
    // request file (issue 21, finding 1).
    let expires = handle
        .license()
        .expires_at
        .expect("an offline file expires");
    let days = expires
        .duration_since(handle.license().issued_at)
        .unwrap()
        .as_secs()
        / 86_400;
    assert_eq!(days, 30, "{expires}");

    // The slot is taken: another device's request is refused.
    let store2 = tempfile::tempdir().unwrap();
    let other = offline_device(&s, &p, &store2, "second-pc");
    let request2 =
        offline::request_activation(&other, &Credential::LicenseKey("KEY-OFF".into())).unwrap();
    let refused = call(
        &s,
        &p,
        "/api/v1/activate_offline",
        json!({"product": p.code, "request": request2}),
    );
    assert_eq!(refused.body["code"], "activation_limit");
    // An edited request is refused before anything is looked up.
    let edited = request.replacen('A', "B", 1);
    let bad = call(
        &s,
        &p,
        "/api/v1/activate_offline",
        json!({"product": p.code, "request": edited}),
    );
    assert_eq!(bad.status, 400, "{}", bad.body);

    // Deactivate: the device removes its activation and writes a request.
    let deactivation = offline::request_deactivation(&config, "L-OFF").unwrap();
    let body = json!({"product": p.code, "request": deactivation});
    let d = call(&s, &p, "/api/v1/deactivate_offline", body.clone());
    assert_eq!(d.status, 200, "{}", d.body);
    let replay = call(&s, &p, "/api/v1/deactivate_offline", body);
    assert_eq!(
        (replay.status, replay.body["code"].as_str()),
        (409, Some("offline_replay"))
    );
    // The slot is free for the second device now.
    let ok = call(
        &s,
        &p,
        "/api/v1/activate_offline",
        json!({"product": p.code, "request": request2}),
    );
    assert_eq!(ok.status, 200, "{}", ok.body);
    // An activation request at the deactivation endpoint is refused.
    let wrong = call(
        &s,
        &p,
        "/api/v1/deactivate_offline",
        json!({"product": p.code, "request": request2}),
    );
    assert_eq!(wrong.body["code"], "wrong_action");
}

#[test]
fn definitions_updates_and_feature_toggles_reach_the_next_check_in() {
    let s = start();
    let p = product(&s, "defs");
    let d = admin(
        &s,
        "POST",
        "/admin/v1/definitions",
        json!({"product": p.code, "code": "PRO", "name": "Pro",
        "spec": spec(&p, json!({"max_activations": 2, "product_features": [
            {"code": "export", "name": "Export"},
            {"code": "render", "name": "Render", "feature_type": "consumption", "max_consumption": 10}
        ]}))}),
    );
    assert_eq!(d.status, 200, "{}", d.body);
    let listed = admin(&s, "GET", "/admin/v1/definitions?product=defs", Value::Null);
    assert_eq!(listed.body.as_array().unwrap().len(), 1);
    let bad = admin(
        &s,
        "POST",
        "/admin/v1/definitions",
        json!({"product": p.code, "code": "BAD", "name": "Bad", "spec": spec(&p, json!({"license_type": "time-limited"}))}),
    );
    assert_eq!(bad.status, 422, "{}", bad.body);

    let l = new_license(
        &s,
        json!({"license_key": "KEY-PRO", "definition": {"product": "defs", "code": "PRO"},
               "spec": {"id": "L-PRO", "max_activations": 3}}),
    );
    assert_eq!(l["id"], "L-PRO");
    let got = admin(&s, "GET", "/admin/v1/licenses/L-PRO", Value::Null);
    assert_eq!(got.body["spec"]["max_activations"], 3);
    assert_eq!(got.body["definition"], "PRO");

    let ring = Keyring::from_keys([s.key.clone()]);
    let checked = |n: usize| {
        let a = call(&s, &p, "/api/v1/check_license", who(&p, "KEY-PRO", n));
        assert_eq!(a.status, 200, "{}", a.body);
        let file = LicenseFile::verify(a.body["license_file"].as_str().unwrap().as_bytes(), &ring)
            .unwrap();
        file.license().clone()
    };
    assert_eq!(
        call(&s, &p, "/api/v1/activate_license", who(&p, "KEY-PRO", 1)).status,
        200
    );
    assert_eq!(checked(1).product_features.len(), 2);

    // An update reaches the next check-in; a bad one changes nothing.
    let u = admin(
        &s,
        "PATCH",
        "/admin/v1/licenses/L-PRO",
        json!({"spec": {"max_activations": 5}}),
    );
    assert_eq!(u.status, 200, "{}", u.body);
    assert_eq!(checked(1).max_activations, 5);
    let u = admin(
        &s,
        "PATCH",
        "/admin/v1/licenses/L-PRO",
        json!({"spec": {"license_type": "time-limited"}}),
    );
    assert_eq!(u.status, 422, "{}", u.body);
    let u = admin(
        &s,
        "PATCH",
        "/admin/v1/licenses/L-PRO",
        json!({"spec": {"id": "L-OTHER"}}),
    );
    assert_eq!(u.status, 400, "{}", u.body);
    assert_eq!(checked(1).max_activations, 5);

    // Switch a feature off: gone from the next file, its counter refused.
    let path = "/admin/v1/licenses/L-PRO/toggles/render";
    assert_eq!(admin(&s, "GET", path, Value::Null).body["enabled"], true);
    let t = admin(&s, "POST", path, json!({"enabled": false}));
    assert_eq!(t.body["enabled"], false);
    assert_eq!(admin(&s, "GET", path, Value::Null).body["enabled"], false);
    let codes: Vec<String> = checked(1)
        .product_features
        .iter()
        .map(|f| f.code.clone())
        .collect();
    assert_eq!(codes, ["export"]);
    let mut body = who(&p, "KEY-PRO", 1);
    body["records"] = json!([{"seq": 1, "counter": "feature:render", "amount": 1}]);
    let c = call(&s, &p, "/api/v1/add_consumption", body.clone());
    assert_eq!(
        (c.status, c.body["code"].as_str()),
        (409, Some("feature_disabled"))
    );
    admin(&s, "POST", path, json!({"enabled": true}));
    assert_eq!(checked(1).product_features.len(), 2);
    assert_eq!(call(&s, &p, "/api/v1/add_consumption", body).status, 200);
    let missing = admin(
        &s,
        "GET",
        "/admin/v1/licenses/L-PRO/toggles/nope",
        Value::Null,
    );
    assert_eq!(missing.body["code"], "feature_not_found");
}

#[test]
fn batch_assignment_answers_per_item_and_bundles_are_all_or_nothing() {
    let s = start();
    let p = product(&s, "seats");
    let users: Vec<String> = (0..5)
        .map(|i| new_user(&s, &format!("user{i}@example.com")))
        .collect();
    new_license(
        &s,
        json!({"spec": spec(&p, json!({"id": "L-TEAM"})), "max_license_users": 2}),
    );

    let a = admin(
        &s,
        "POST",
        "/admin/v1/assignments",
        json!({"assignments": [
            {"license_id": "L-TEAM", "user_ids_add": [users[0], users[1], users[2], "no-such-user"]},
            {"license_id": "L-NONE", "user_ids_add": [users[3]]},
        ]}),
    );
    assert_eq!(a.status, 200, "{}", a.body);
    let codes: Vec<&str> = a.body["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["code"].as_str().unwrap())
        .collect();
    assert_eq!(
        codes,
        [
            "assigned",
            "assigned",
            "no_units_left",
            "user_not_found",
            "license_not_found"
        ]
    );
    let seats = admin(&s, "GET", "/admin/v1/licenses/L-TEAM/seats", Value::Null);
    assert_eq!(
        seats.body["users"],
        json!({"allowed": 2, "used": 2, "available": 0})
    );
    // Remove one and add another in one call.
    let a = admin(
        &s,
        "POST",
        "/admin/v1/assignments",
        json!({"assignments": [{"license_id": "L-TEAM", "user_ids_remove": [users[0], users[4]],
                                "user_ids_add": [users[2]]}]}),
    );
    let codes: Vec<&str> = a.body["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["code"].as_str().unwrap())
        .collect();
    assert_eq!(codes, ["revoked", "not_assigned", "assigned"]);
    let holders = admin(&s, "GET", "/admin/v1/licenses/L-TEAM/users", Value::Null);
    assert_eq!(holders.body.as_array().unwrap().len(), 2);
    let full = admin(
        &s,
        "POST",
        &format!("/admin/v1/licenses/L-TEAM/users/{}", users[3]),
        Value::Null,
    );
    assert_eq!(
        (full.status, full.body["code"].as_str()),
        (409, Some("no_units_left"))
    );

    // Bundles: the account bought 3 units of RPA and 1 of TEST.
    for code in ["RPA", "TEST"] {
        admin(
            &s,
            "POST",
            "/admin/v1/definitions",
            json!({"product": p.code, "code": code, "name": code, "spec": spec(&p, json!({}))}),
        );
    }
    new_license(
        &s,
        json!({"definition": {"product": "seats", "code": "RPA"}, "account": "song-one", "max_license_users": 3}),
    );
    new_license(
        &s,
        json!({"definition": {"product": "seats", "code": "TEST"}, "account": "song-one", "max_license_users": 1}),
    );
    let allocate = |ids: &[&String], codes: &[&str]| {
        admin(
            &s,
            "POST",
            "/admin/v1/accounts/song-one/user-license",
            json!({"user_ids": ids, "bundle_codes": codes}),
        )
    };
    let ok = allocate(&[&users[0], &users[1]], &["RPA"]);
    assert_eq!(ok.status, 200, "{}", ok.body);
    assert_eq!(ok.body[0]["bundle_codes"], json!(["RPA"]));
    let none = allocate(&[&users[0]], &["NOPE"]);
    assert_eq!(
        (none.status, none.body["code"].as_str()),
        (404, Some("bundle_not_found"))
    );
    // Two more users want RPA and TEST: TEST has one unit, so nothing changes.
    let before = admin(
        &s,
        "POST",
        "/admin/v1/users/batch",
        json!({"user_ids": [users[2], users[3]]}),
    );
    let over = allocate(&[&users[2], &users[3]], &["RPA", "TEST"]);
    assert_eq!(
        (over.status, over.body["code"].as_str()),
        (409, Some("exceeds_quantity"))
    );
    let after = admin(
        &s,
        "POST",
        "/admin/v1/users/batch",
        json!({"user_ids": [users[2], users[3]]}),
    );
    assert_eq!(before.body, after.body);
    // Allocating again what a user holds takes no unit.
    assert_eq!(
        allocate(&[&users[0], &users[1], &users[2]], &["RPA"]).status,
        200
    );
    assert_eq!(
        allocate(&[&users[3]], &["RPA"]).body["code"],
        "exceeds_quantity"
    );

    // The paged list and the batch fetch.
    let page = admin(
        &s,
        "GET",
        "/admin/v1/users?page_number=2&page_size=2",
        Value::Null,
    );
    assert_eq!(page.status, 200, "{}", page.body);
    assert_eq!(page.body["total"], 5);
    assert_eq!(page.body["page_count"], 3);
    let names: Vec<&str> = page.body["entities"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["username"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["user2@example.com", "user3@example.com"]);
    assert!(page.body["entities"][0]["licenses"].is_array());
    let bad = admin(&s, "GET", "/admin/v1/users?page_size=0", Value::Null);
    assert_eq!(bad.status, 400);
    let batch = admin(
        &s,
        "POST",
        "/admin/v1/users/batch",
        json!({"user_ids": [users[1], "ghost"]}),
    );
    assert_eq!(
        batch.body["entities"][0]["licenses"]
            .as_array()
            .unwrap()
            .len(),
        2
    );
    assert_eq!(batch.body["not_found"], json!(["ghost"]));
}

#[test]
fn bad_admin_input_gets_a_4xx_with_the_error_body() {
    let s = start();
    let p = product(&s, "bad");
    new_license(&s, json!({"spec": spec(&p, json!({"id": "L-BAD"}))}));
    let cases: &[(&str, &str, Value)] = &[
        (
            "POST",
            "/admin/v1/users",
            json!({"username": "x@example.com", "password": "short"}),
        ),
        (
            "POST",
            "/admin/v1/users",
            json!({"username": "", "password": "long-enough-1"}),
        ),
        (
            "POST",
            "/admin/v1/users",
            json!({"username": 7, "password": "long-enough-1"}),
        ),
        (
            "PATCH",
            "/admin/v1/licenses/L-BAD",
            json!({"spec": "not an object"}),
        ),
        (
            "PATCH",
            "/admin/v1/licenses/L-BAD",
            json!({"spec": {"device": {}}}),
        ),
        ("PATCH", "/admin/v1/licenses/L-NONE", json!({})),
        (
            "PATCH",
            "/admin/v1/licenses/L-BAD",
            json!({"max_license_users": -1}),
        ),
        ("POST", "/admin/v1/assignments", json!({"assignments": {}})),
        (
            "POST",
            "/admin/v1/assignments",
            json!({"assignments": [{"license_id": 5}]}),
        ),
        (
            "POST",
            "/admin/v1/accounts/acct/user-license",
            json!({"user_ids": [], "bundle_codes": []}),
        ),
        (
            "POST",
            "/admin/v1/accounts/acct/user-license",
            json!({"user_ids": ["ghost"], "bundle_codes": ["X"]}),
        ),
        (
            "POST",
            "/admin/v1/definitions",
            json!({"product": "none", "code": "X", "name": "X", "spec": {}}),
        ),
        (
            "POST",
            "/admin/v1/definitions",
            json!({"product": "bad", "code": "a/b", "name": "X", "spec": {}}),
        ),
        (
            "POST",
            "/admin/v1/licenses",
            json!({"definition": {"product": "bad", "code": "NONE"}}),
        ),
        (
            "POST",
            "/admin/v1/licenses",
            json!({"spec": spec(&p, json!({})), "account": "a&b"}),
        ),
        (
            "POST",
            "/admin/v1/licenses/L-BAD/toggles/x",
            json!({"enabled": "yes"}),
        ),
        ("GET", "/admin/v1/users?page_number=abc", Value::Null),
        ("GET", "/admin/v1/users/ghost", Value::Null),
        ("GET", "/admin/v1/definitions/bad/NONE", Value::Null),
        (
            "POST",
            "/admin/v1/users/batch",
            json!({"user_ids": vec!["u"; 1001]}),
        ),
        (
            "DELETE",
            "/admin/v1/licenses/L-BAD/users/ghost",
            Value::Null,
        ),
    ];
    for (method, path, body) in cases {
        let a = admin(&s, method, path, body.clone());
        assert!(
            (400..500).contains(&a.status) && a.body["code"].is_string(),
            "{method} {path} {body}: {} {}",
            a.status,
            a.body
        );
        assert_eq!(a.body["status"], a.status);
    }
    // Nothing of that changed the license.
    let l = admin(&s, "GET", "/admin/v1/licenses/L-BAD", Value::Null);
    assert_eq!(l.body["max_license_users"], 1);
    assert!(l.body["spec"].get("device").is_none());
}
