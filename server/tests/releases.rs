//! A product's releases and the update check (issue 23): the admin API
//! publishes them, a device asks which one its license may install, and
//! the license's maintenance and the installed version decide.

// A test may fail by panicking, and its shared helpers are `pub` to its modules.
#![allow(clippy::unwrap_used, clippy::expect_used, unreachable_pub)]

mod common;

use serde_json::{json, Value};

use common::*;

fn publish(s: &Server, product: &str, release: Value) -> Answer {
    admin(
        s,
        "POST",
        &format!("/admin/v1/products/{product}/releases"),
        release,
    )
}

fn release(version: &str, requires: &str, date: &str) -> Value {
    json!({"version": version, "requires_version": requires, "release_date": date,
           "installation_file": format!("https://example.com/cad-{version}.msi"),
           "hash_md5": "0123456789abcdef0123456789abcdef", "size": 52_428_800,
           "release_notes_link": format!("https://example.com/notes/{version}")})
}

#[test]
fn a_license_gets_the_newest_release_its_maintenance_and_installed_version_allow() {
    let s = start();
    let p = product(&s, "cad");
    license(
        &s,
        &p,
        "KEY-COVERED",
        json!({"license_type": "perpetual", "max_activations": 5,
        "enable_maintenance_period": true, "maintenance_period": "2026-06-01T00:00:00Z"}),
    );
    license(
        &s,
        &p,
        "KEY-ALWAYS",
        json!({"license_type": "perpetual", "max_activations": 5}),
    );
    for (v, needs, date) in [
        ("1.0", "", "2026-01-01T00:00:00Z"),
        ("2.0", "1.0", "2026-05-01T00:00:00Z"),
        ("3.0", "2.5", "2026-09-01T00:00:00Z"),
    ] {
        let a = publish(&s, "cad", release(v, needs, date));
        assert_eq!(a.status, 200, "{}", a.body);
        assert_eq!(a.body["release_date"], date);
    }
    let latest = |key: &str, extra: Value| -> Answer {
        let mut body = json!({"product": "cad", "license_key": key, "fingerprint": device(1)});
        for (k, v) in extra.as_object().unwrap() {
            body[k] = v.clone();
        }
        call(&s, &p, "/api/v1/latest_release", body)
    };
    // Not activated on this device: refused.
    assert!(latest("KEY-ALWAYS", json!({})).status >= 400);
    for key in ["KEY-COVERED", "KEY-ALWAYS"] {
        let body = json!({"product": "cad", "license_key": key, "fingerprint": device(1)});
        assert_eq!(call(&s, &p, "/api/v1/activate_license", body).status, 200);
    }
    let version = |a: Answer| {
        assert_eq!(a.status, 200, "{}", a.body);
        a.body["release"]["version"].as_str().map(str::to_owned)
    };
    // Maintenance until June covers 1.0 and 2.0, not September's 3.0.
    assert_eq!(
        version(latest("KEY-COVERED", json!({}))).as_deref(),
        Some("2.0")
    );
    assert_eq!(
        version(latest("KEY-ALWAYS", json!({}))).as_deref(),
        Some("3.0")
    );
    // From 1.0, 3.0 (which needs 2.5) is out of reach: 2.0 first.
    assert_eq!(
        version(latest("KEY-ALWAYS", json!({"current_version": "1.0"}))).as_deref(),
        Some("2.0")
    );
    assert_eq!(
        version(latest("KEY-ALWAYS", json!({"current_version": "2.5"}))).as_deref(),
        Some("3.0")
    );
    assert_eq!(
        version(latest("KEY-COVERED", json!({"current_version": "2.0"}))),
        None
    );
    assert_eq!(
        version(latest("KEY-ALWAYS", json!({"channel": "beta"}))),
        None
    );
    let a = latest("KEY-ALWAYS", json!({"current_version": "two"}));
    assert_eq!(
        (a.status, a.body["code"].as_str()),
        (400, Some("invalid_version"))
    );
    // The whole release, as published.
    let a = latest("KEY-ALWAYS", json!({}));
    assert_eq!(
        a.body["release"]["installation_file"],
        "https://example.com/cad-3.0.msi"
    );
    assert_eq!(a.body["release"]["size"], 52_428_800);
    assert_eq!(a.body["release"]["channel"], "stable");
}

#[test]
fn a_release_is_checked_field_by_field_and_published_once() {
    let s = start();
    product(&s, "cad");
    let good = release("2.1.0", "2.0", "2026-03-01T00:00:00Z");
    assert_eq!(publish(&s, "cad", good.clone()).status, 200);
    let again = publish(&s, "cad", good.clone());
    assert_eq!(
        (again.status, again.body["code"].as_str()),
        (409, Some("release_exists"))
    );
    let mut beta = good.clone();
    beta["channel"] = json!("beta");
    assert_eq!(
        publish(&s, "cad", beta).status,
        200,
        "the same version in another channel"
    );
    let nowhere = publish(&s, "nope", good.clone());
    assert_eq!(
        (nowhere.status, nowhere.body["code"].as_str()),
        (404, Some("product_not_found"))
    );
    for (field, value) in [
        ("version", json!("2.1.x")),
        ("version", json!("")),
        ("requires_version", json!("latest")),
        ("hash_md5", json!("0123456789ABCDEF0123456789ABCDEF")),
        ("hash_md5", json!("0123")),
        ("installation_file", json!("")),
        ("release_notes_link", json!("https://example.com/\nnotes")),
        ("release_date", json!("March")),
        ("channel", json!("beta channel")),
        ("size", json!(-1)),
        ("size", json!(u64::MAX)),
    ] {
        let mut bad = good.clone();
        bad[field] = value.clone();
        bad["version"] = if field == "version" {
            value.clone()
        } else {
            json!("9.9")
        };
        let a = publish(&s, "cad", bad);
        assert_eq!(a.status, 400, "{field} = {value}: {}", a.body);
    }
    // Nothing of the refused ones was kept; the list is by channel, then
    // version by number.
    assert_eq!(
        publish(&s, "cad", release("2.10", "", "2026-04-01T00:00:00Z")).status,
        200
    );
    let list = admin(&s, "GET", "/admin/v1/products/cad/releases", Value::Null);
    let names: Vec<String> = list
        .body
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            format!(
                "{}/{}",
                r["channel"].as_str().unwrap(),
                r["version"].as_str().unwrap()
            )
        })
        .collect();
    assert_eq!(names, ["beta/2.1.0", "stable/2.1.0", "stable/2.10"]);
    let stable = admin(
        &s,
        "GET",
        "/admin/v1/products/cad/releases?channel=stable",
        Value::Null,
    );
    assert_eq!(stable.body.as_array().unwrap().len(), 2);
    assert_eq!(
        admin(&s, "GET", "/admin/v1/products/nope/releases", Value::Null).status,
        404
    );
}
