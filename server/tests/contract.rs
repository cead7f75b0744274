//! `server/openapi.json` is the contract: every route the server serves is
//! in it and every route in it is served (both from the table the router
//! is built from), and a walk through every operation with real requests
//! holds each request the server took and each answer it gave to the
//! document's schemas (tests/common/contract.rs checks every call of every
//! server test the same way).
// A test may fail by panicking, and its shared helpers are `pub` to its modules.
#![allow(clippy::unwrap_used, clippy::expect_used, unreachable_pub)]

mod common;

use std::collections::BTreeSet;

use serde_json::{json, Value};
use tessera::activation::offline;
use tessera::activation::Credential;
use tessera::{Keyring, LocalConfig};

use common::*;

/// A path template with its parameters' names left out: `/a/{}/b`.
fn shape(path: &str) -> String {
    path.split('/')
        .map(|s| if s.starts_with('{') { "{}" } else { s })
        .collect::<Vec<_>>()
        .join("/")
}

#[test]
fn every_served_route_is_documented_and_every_documented_route_is_served() {
    let served: BTreeSet<String> = tessera_server::served_routes()
        .into_iter()
        .map(|(method, path)| format!("{method} {}", shape(&path)))
        .collect();
    let documented: BTreeSet<String> = contract::documented()
        .into_iter()
        .map(|op| {
            let (method, path) = op.split_once(' ').unwrap();
            format!("{method} {}", shape(path))
        })
        .collect();
    let undocumented: Vec<_> = served.difference(&documented).collect();
    let unserved: Vec<_> = documented.difference(&served).collect();
    assert!(
        undocumented.is_empty() && unserved.is_empty(),
        "served but not in openapi.json: {undocumented:?}; in openapi.json but not served: {unserved:?}"
    );
}

fn spec(p: &Product, extra: Value) -> Value {
    let mut s = json!({"license_type": "perpetual", "product_details": {"short_code": p.code}});
    for (k, v) in extra.as_object().unwrap() {
        s[k] = v.clone();
    }
    s
}

/// `admin`, expecting a success.
fn ok(s: &Server, method: &str, path: &str, body: Value) -> Value {
    let a = admin(s, method, path, body);
    assert!(
        (200..300).contains(&a.status),
        "{method} {path}: {} {}",
        a.status,
        a.body
    );
    a.body
}

/// A client call, expecting a success.
fn ok_call(s: &Server, p: &Product, path: &str, body: Value) -> Value {
    let a = call(s, p, path, body);
    assert!(
        (200..300).contains(&a.status),
        "{path}: {} {}",
        a.status,
        a.body
    );
    a.body
}

#[test]
fn a_walk_through_every_operation_holds_to_the_document() {
    let s = start();
    let p = product(&s, "walk");
    // Definitions, licenses, users.
    ok(
        &s,
        "POST",
        "/admin/v1/definitions",
        json!({"product": p.code, "code": "TRIAL", "name": "Trial", "trial_days": 14,
               "spec": spec(&p, json!({"license_type": "time-limited",
                                       "validity_period": "2099-01-01T00:00:00Z"}))}),
    );
    ok(
        &s,
        "POST",
        "/admin/v1/definitions",
        json!({"product": p.code, "code": "TEAM", "name": "Team", "spec": spec(&p, json!({}))}),
    );
    ok(&s, "GET", "/admin/v1/definitions", Value::Null);
    ok(&s, "GET", "/admin/v1/definitions/walk/TEAM", Value::Null);
    ok(
        &s,
        "POST",
        "/admin/v1/licenses",
        json!({"license_key": "KEY-FLOAT", "max_license_users": 3, "account": "acme-corp",
               "definition": {"product": "walk", "code": "TEAM"},
               "spec": spec(&p, json!({"id": "L-F", "allow_unlimited_activations": true,
                   "is_floating": true, "floating_users": 5, "can_borrow": true,
                   "max_borrow_time": 48,
                   "product_features": [{"code": "render", "name": "Render",
                       "feature_type": "consumption", "max_consumption": 100}]}))}),
    );
    ok(&s, "GET", "/admin/v1/licenses/L-F", Value::Null);
    ok(
        &s,
        "PATCH",
        "/admin/v1/licenses/L-F",
        json!({"spec": {"floating_users": 6}}),
    );
    ok(
        &s,
        "POST",
        "/admin/v1/licenses/L-F/transfers/reset",
        Value::Null,
    );
    ok(&s, "POST", "/admin/v1/licenses/L-F/disable", Value::Null);
    ok(&s, "POST", "/admin/v1/licenses/L-F/enable", Value::Null);
    ok(
        &s,
        "GET",
        "/admin/v1/licenses/L-F/toggles/render",
        Value::Null,
    );
    ok(
        &s,
        "POST",
        "/admin/v1/licenses/L-F/toggles/render",
        json!({"enabled": true}),
    );
    let user = ok(
        &s,
        "POST",
        "/admin/v1/users",
        json!({"username": "ada@example.com", "password": "test-only-password",
               "email": "ada@example.com", "first_name": "Ada", "last_name": "L"}),
    )["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let other = ok(
        &s,
        "POST",
        "/admin/v1/users",
        json!({"username": "bob@example.com", "password": "test-only-password"}),
    )["id"]
        .as_str()
        .unwrap()
        .to_owned();
    ok(
        &s,
        "GET",
        "/admin/v1/users?page_number=1&page_size=10",
        Value::Null,
    );
    ok(&s, "GET", &format!("/admin/v1/users/{user}"), Value::Null);
    ok(
        &s,
        "POST",
        &format!("/admin/v1/users/{user}/unlock"),
        Value::Null,
    );
    ok(
        &s,
        "POST",
        "/admin/v1/users/batch",
        json!({"user_ids": [user, "nobody"]}),
    );
    ok(
        &s,
        "POST",
        &format!("/admin/v1/licenses/L-F/users/{user}"),
        Value::Null,
    );
    ok(&s, "GET", "/admin/v1/licenses/L-F/users", Value::Null);
    ok(
        &s,
        "POST",
        "/admin/v1/assignments",
        json!({"assignments": [{"license_id": "L-F", "user_ids_add": [other]}]}),
    );
    ok(
        &s,
        "DELETE",
        &format!("/admin/v1/licenses/L-F/users/{other}"),
        Value::Null,
    );
    ok(
        &s,
        "POST",
        "/admin/v1/accounts/acme-corp/user-license",
        json!({"user_ids": [other], "bundle_codes": ["TEAM"]}),
    );
    // A customer account's identity provider (seed 003's single sign-on).
    let sso = ok(
        &s,
        "PUT",
        "/admin/v1/accounts/acme-corp/sso",
        json!({"issuer": "https://idp.example.com", "client_id": "walk",
               "client_secret": "test-only-client-secret",
               "jwks_uri": "https://idp.example.com/jwks",
               "token_endpoint": "https://idp.example.com/token",
               "authorization_endpoint": "https://idp.example.com/authorize",
               "domains": ["acme-corp.example"]}),
    );
    assert_eq!(sso["client_secret_set"], true);
    assert!(sso.get("client_secret").is_none());
    ok(&s, "GET", "/admin/v1/accounts/acme-corp/sso", Value::Null);

    // The client API. A desktop sign-in's provider, found by the domain.
    let provider = ok_call(
        &s,
        &p,
        "/api/v1/sso/provider",
        json!({"product": p.code, "who": "ada@acme-corp.example"}),
    );
    assert_eq!(provider["grants"], json!(["browser"]));
    assert!(provider.get("client_secret").is_none());

    let who = json!({"product": p.code, "license_key": "KEY-FLOAT", "fingerprint": device(1)});
    ok_call(&s, &p, "/api/v1/activate_license", who.clone());
    ok_call(&s, &p, "/api/v1/check_license", who.clone());
    // Releases, and the update check.
    ok(
        &s,
        "POST",
        &format!("/admin/v1/products/{}/releases", p.code),
        json!({"version": "2.1.0", "installation_file": "https://example.com/walk-2.1.0.msi",
               "hash_md5": "0123456789abcdef0123456789abcdef", "size": 1024, "requires_version": "2.0"}),
    );
    ok(
        &s,
        "GET",
        &format!("/admin/v1/products/{}/releases?channel=stable", p.code),
        Value::Null,
    );
    let mut update = who.clone();
    update["current_version"] = json!("2.0.1");
    assert_eq!(
        ok_call(&s, &p, "/api/v1/latest_release", update.clone())["release"]["version"],
        "2.1.0"
    );
    update["current_version"] = json!("2.1");
    assert_eq!(
        ok_call(&s, &p, "/api/v1/latest_release", update)["release"],
        Value::Null
    );
    // A relay (docs/RELAY.md): its delegation, its usage uploaded and
    // imported, the license's relays.
    {
        use tessera::format::delegation as d;
        let relay = tessera::issuer::SigningKey::from_seed(&[0x42; 32]).unwrap();
        let request = d::RelayRequest {
            format: 1,
            product: p.code.clone(),
            relay_key: relay.public_key().to_base64(),
            device: serde_json::from_value(device(90)).unwrap(),
            made_at: tessera::Time::now(),
        };
        let answer = ok_call(
            &s,
            &p,
            "/api/v1/relay/delegate",
            json!({"product": p.code, "license_key": "KEY-FLOAT",
                   "request": d::sign_request(&request, &relay).unwrap()}),
        );
        let ring = tessera::Keyring::from_keys([s.key.clone()]);
        let grant =
            d::RelayGrant::verify(answer["grant"].as_str().unwrap().as_bytes(), &ring).unwrap();
        let report = d::UsageReport {
            format: 1,
            delegation: grant.delegation.id.clone(),
            license_id: grant.delegation.license_id.clone(),
            product: p.code.clone(),
            made_at: tessera::Time::now(),
            days: vec![d::UsageDay {
                day: 20_000,
                seat_seconds: 7200,
                peak: 2,
                grants: 2,
                denials: 0,
            }],
        };
        let usage = d::sign_usage(&report, &relay).unwrap();
        ok_call(
            &s,
            &p,
            "/api/v1/relay/usage",
            json!({"product": p.code, "usage": usage}),
        );
        ok(&s, "POST", "/admin/v1/relay_usage", json!({"usage": usage}));
        let relays = ok(
            &s,
            "GET",
            &format!("/admin/v1/licenses/{}/relays", grant.delegation.license_id),
            Value::Null,
        );
        assert_eq!(relays["usage"][0]["seat_hours"], 2.0);
    }
    ok_call(&s, &p, "/api/v1/floating/register", who.clone());
    ok_call(&s, &p, "/api/v1/floating/heartbeat", who.clone());
    ok_call(&s, &p, "/api/v1/floating/release", who.clone());
    let mut borrow = who.clone();
    borrow["hours"] = json!(8);
    ok_call(&s, &p, "/api/v1/floating/borrow", borrow);
    let mut upload = who.clone();
    upload["records"] = json!([{"seq": 1, "counter": "feature:render", "amount": 3}]);
    ok_call(&s, &p, "/api/v1/add_consumption", upload);
    ok_call(
        &s,
        &p,
        "/api/v1/user_licenses",
        json!({"product": p.code, "username": "ada@example.com",
               "password": "test-only-password"}),
    );
    ok_call(
        &s,
        &p,
        "/api/v1/trial_key",
        json!({"product": p.code, "fingerprint": device(2), "email": "eve@example.com"}),
    );
    let by_user = json!({"product": p.code, "username": "ada@example.com",
                             "password": "test-only-password", "license_id": "L-F",
                             "fingerprint": device(3)});
    ok_call(&s, &p, "/api/v1/activate_license", by_user);
    ok(&s, "GET", "/admin/v1/licenses/L-F/seats", Value::Null);
    ok(&s, "GET", "/admin/v1/licenses/L-F/devices", Value::Null);
    ok(
        &s,
        "DELETE",
        "/admin/v1/licenses/L-F/devices/device-0003",
        Value::Null,
    );
    ok_call(&s, &p, "/api/v1/deactivate_license", who);

    // Offline request files, from a device of this product.
    let store = tempfile::tempdir().unwrap();
    let mut config = LocalConfig::new(&p.code, Keyring::from_keys([s.key.clone()]));
    config.secret = b"test-only vendor secret".to_vec();
    config.store_dir = Some(store.path().to_owned());
    config.custom_device_id = Some("air-gapped".to_owned());
    let request =
        offline::request_activation(&config, &Credential::LicenseKey("KEY-FLOAT".into())).unwrap();
    let answer = ok_call(
        &s,
        &p,
        "/api/v1/activate_offline",
        json!({"product": p.code, "request": request}),
    );
    offline::import_response(&config, answer["response"].as_str().unwrap().as_bytes()).unwrap();
    let request = offline::request_deactivation(&config, "L-F").unwrap();
    ok_call(
        &s,
        &p,
        "/api/v1/deactivate_offline",
        json!({"product": p.code, "request": request}),
    );

    ok(&s, "GET", "/admin/v1/audit?limit=50", Value::Null);
    let hook = ok(
        &s,
        "POST",
        "/admin/v1/webhooks",
        json!({"url": "https://example.com/hook", "events": ["license.created"]}),
    );
    let hook = format!("/admin/v1/webhooks/{}", hook["id"].as_str().unwrap());
    ok(&s, "GET", "/admin/v1/webhooks", Value::Null);
    ok(&s, "GET", &hook, Value::Null);
    ok(
        &s,
        "PATCH",
        &hook,
        json!({"events": ["*"], "description": "CRM"}),
    );
    ok(&s, "POST", &format!("{hook}/resume"), Value::Null);
    ok(
        &s,
        "GET",
        &format!("{hook}/deliveries?limit=5"),
        Value::Null,
    );
    ok(&s, "DELETE", &hook, Value::Null);
    ok(&s, "GET", "/admin/v1/events?after=0&limit=10", Value::Null);
    ok(
        &s,
        "GET",
        "/admin/v1/reports/usage?from=2025-01-01&to=2030-12-31&per=account",
        Value::Null,
    );
    ok(
        &s,
        "GET",
        "/admin/v1/reports/usage.csv?from=2025-01-01&to=2030-12-31",
        Value::Null,
    );
    ok(
        &s,
        "PUT",
        "/admin/v1/settings/consumption-thresholds",
        json!({"percents": [50, 90, 100]}),
    );
    ok(
        &s,
        "GET",
        "/admin/v1/settings/consumption-thresholds",
        Value::Null,
    );
    ok(
        &s,
        "GET",
        "/admin/v1/compat/licensespring/chain",
        Value::Null,
    );
    let file = common::licensespring::request_file(&p, "activation", "KEY-FLOAT", "ls-offline-1");
    ok(
        &s,
        "POST",
        "/admin/v1/compat/licensespring/offline",
        json!({ "request": file }),
    );
    ok(
        &s,
        "POST",
        "/admin/v1/clock",
        json!({"now": "2030-01-01T00:00:00Z"}),
    );
    let r = s
        .client
        .get(format!("{}/openapi.json", s.url))
        .send()
        .unwrap();
    let status = r.status().as_u16();
    let served = r.text().unwrap();
    assert_eq!(
        served,
        include_str!("../openapi.json"),
        "the served document is not the committed one: run scripts/openapi.sh --write"
    );
    let body: Value = serde_json::from_str(&served).unwrap();
    contract::check("GET", "/openapi.json", None, status, &body);
    ok(
        &s,
        "POST",
        "/admin/v1/products",
        json!({"code": "second", "name": "Second"}),
    );

    // Tessera's own operations; the seeds' are walked by tests/compat.rs.
    let own = |op: &String| {
        let path = op.split_once(' ').map_or("", |(_, p)| p);
        ["/api/v1/", "/admin/v1/", "/openapi.json"]
            .iter()
            .any(|prefix| path.starts_with(prefix))
    };
    let missed: Vec<String> = contract::documented()
        .difference(&contract::succeeded())
        .filter(|op| own(op))
        .cloned()
        .collect();
    assert!(
        missed.is_empty(),
        "operations the walk did not reach: {missed:?}"
    );
}
