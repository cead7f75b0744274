//! The seed documents' own APIs (docs/COMPAT.md), replayed from their
//! documents against the real server on loopback: each example request
//! with its placeholders filled, its status codes and the answer's shape
//! as the document writes them, and the same state as the same action
//! through `/admin/v1/`.

// A test may fail by panicking, and its shared helpers are `pub` to its modules.
#![allow(clippy::unwrap_used, clippy::expect_used, unreachable_pub)]

mod common;

use serde_json::{json, Value};

use common::*;

/// A call in a seed's own form: `Authorization: Bearer {token}` and a body
/// sent as written. Not held to the OpenAPI document, whose contract is
/// Tessera's own API.
fn seed_call(s: &Server, method: &str, path: &str, token: &str, body: &str) -> Answer {
    let r = s
        .client
        .request(method.parse().unwrap(), format!("{}{path}", s.url))
        .header("authorization", format!("Bearer {token}"))
        .header("content-type", "application/json")
        .body(body.to_owned())
        .send()
        .unwrap();
    let status = r.status().as_u16();
    let bytes = r.bytes().unwrap();
    Answer {
        status,
        body: serde_json::from_slice(&bytes).unwrap_or(Value::Null),
    }
}

fn new_user(s: &Server, name: &str) -> String {
    let a = admin(
        s,
        "POST",
        "/admin/v1/users",
        json!({"username": name, "password": "test-only-password"}),
    );
    assert_eq!(a.status, 200, "{}", a.body);
    a.body["id"].as_str().unwrap().to_owned()
}

/// The seed's three bundles as definitions of one product, and `units` of
/// each sold to every account in `accounts`: bundle code → license id per
/// account.
fn bundles(s: &Server, accounts: &[&str], units: u32) -> Vec<(String, Vec<String>)> {
    let p = product(s, "automation");
    ["RPADEVNU", "ATTUNU", "TSTNU"]
        .iter()
        .map(|code| {
            let spec =
                json!({"license_type": "perpetual", "product_details": {"short_code": p.code}});
            let d = admin(
                s,
                "POST",
                "/admin/v1/definitions",
                json!({"product": p.code, "code": code, "name": code, "spec": spec}),
            );
            assert_eq!(d.status, 200, "{}", d.body);
            let ids = accounts
                .iter()
                .map(|account| {
                    let l = admin(
                        s,
                        "POST",
                        "/admin/v1/licenses",
                        json!({"definition": {"product": p.code, "code": code},
                               "account": account, "max_license_users": units}),
                    );
                    assert_eq!(l.status, 200, "{}", l.body);
                    l.body["id"].as_str().unwrap().to_owned()
                })
                .collect();
            ((*code).to_owned(), ids)
        })
        .collect()
}

/// The users holding license `id`, sorted.
fn holders(s: &Server, id: &str) -> Vec<String> {
    let a = admin(
        s,
        "GET",
        &format!("/admin/v1/licenses/{id}/users"),
        Value::Null,
    );
    assert_eq!(a.status, 200, "{}", a.body);
    let mut ids: Vec<String> = a
        .body
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["id"].as_str().unwrap().to_owned())
        .collect();
    ids.sort();
    ids
}

/// Seed 002's example, as its document shows it: three users, three
/// bundle codes, `useExternalLicense: true`, at
/// `/{organizationName}/lease_/api/account/1234/user-license`. The
/// document's body lacks the comma after `userIds`; it is added here.
fn uipath_body(users: &[&str], codes: &[&str], external: bool) -> String {
    format!(
        "{{\n\"userIds\": {},\n\"userBundleCodes\": {},\n\"useExternalLicense\": {external}\n}}",
        json!(users),
        json!(codes)
    )
}

#[test]
fn uipath_allocation_answers_as_its_document_writes() {
    let s = start();
    let licenses = bundles(&s, &["1234"], 3);
    let users: Vec<String> = ["singer-77", "singer-88", "singer-111", "singer-4"]
        .iter()
        .map(|n| new_user(&s, &format!("{n}@example.com")))
        .collect();
    let u: Vec<&str> = users.iter().map(String::as_str).collect();
    let path = "/acme/lease_/api/account/1234/user-license";
    let codes = ["RPADEVNU", "ATTUNU", "TSTNU"];

    // The example: 200 and one element per user, with the document's four
    // fields and no other.
    let a = seed_call(&s, "POST", path, ADMIN, &uipath_body(&u[..3], &codes, true));
    assert_eq!(a.status, 200, "{}", a.body);
    let expected: Vec<Value> = u[..3]
        .iter()
        .map(|user| {
            json!({"userId": user, "organizationId": "acme",
                   "useExternalLicense": true, "userBundleCodes": codes})
        })
        .collect();
    assert_eq!(a.body, Value::from(expected));
    for (_, ids) in &licenses {
        let mut want: Vec<String> = users[..3].to_vec();
        want.sort();
        assert_eq!(holders(&s, &ids[0]), want);
    }
    // Again: what a user holds takes no second unit.
    let again = seed_call(
        &s,
        "POST",
        path,
        ADMIN,
        &uipath_body(&u[..1], &codes[..1], false),
    );
    assert_eq!(again.status, 200, "{}", again.body);
    assert_eq!(again.body[0]["useExternalLicense"], false);

    let snapshot = |s: &Server| -> Vec<Vec<String>> {
        licenses
            .iter()
            .map(|(_, ids)| holders(s, &ids[0]))
            .collect()
    };
    let before = snapshot(&s);
    // 409: all three units of each bundle are allocated; nothing changes.
    let over = seed_call(&s, "POST", path, ADMIN, &uipath_body(&u[3..], &codes, true));
    assert_eq!(
        (over.status, over.body["code"].as_str()),
        (409, Some("exceeds_quantity")),
        "{}",
        over.body
    );
    // 404: the account has no license.
    let none = seed_call(
        &s,
        "POST",
        "/acme/lease_/api/account/no-such-account/user-license",
        ADMIN,
        &uipath_body(&u[3..], &codes, true),
    );
    assert_eq!(
        (none.status, none.body["code"].as_str()),
        (404, Some("bundle_not_found"))
    );
    // 401 without the bearer token; 400 for the document's body exactly as
    // written (it lacks a comma), a body in the admin API's names or with a
    // field the document does not have; 404 for a user that does not exist.
    assert_eq!(
        seed_call(
            &s,
            "POST",
            path,
            "wrong",
            &uipath_body(&u[3..], &codes, true)
        )
        .status,
        401
    );
    let as_written = uipath_body(&u[3..], &codes, true).replacen(
        ",\n\"userBundleCodes\"",
        "\n\"userBundleCodes\"",
        1,
    );
    assert!(as_written.contains("]\n\"userBundleCodes\""));
    assert_eq!(seed_call(&s, "POST", path, ADMIN, &as_written).status, 400);
    let snake = json!({"user_ids": [u[3]], "bundle_codes": ["TSTNU"]}).to_string();
    assert_eq!(seed_call(&s, "POST", path, ADMIN, &snake).status, 400);
    let extra = json!({"userIds": [u[3]], "userBundleCodes": ["TSTNU"], "quantity": 1}).to_string();
    assert_eq!(seed_call(&s, "POST", path, ADMIN, &extra).status, 400);
    let ghost = seed_call(
        &s,
        "POST",
        path,
        ADMIN,
        &uipath_body(&["nobody"], &codes, true),
    );
    assert_eq!(
        (ghost.status, ghost.body["code"].as_str()),
        (404, Some("user_not_found"))
    );
    assert_eq!(snapshot(&s), before);
    // Only POST is served there.
    assert_eq!(seed_call(&s, "GET", path, ADMIN, "").status, 405);
}

#[test]
fn an_allocation_through_uipath_or_the_admin_api_leaves_the_same_state() {
    let s = start();
    let licenses = bundles(&s, &["seed", "admin"], 2);
    let users: Vec<String> = (0..3)
        .map(|i| new_user(&s, &format!("user{i}@example.com")))
        .collect();
    let u: Vec<&str> = users.iter().map(String::as_str).collect();
    // The same three calls through each surface, each with its own account:
    // two users get RPA and TEST; the third wants all three and is over the
    // two units; then the third gets ATTUNU alone.
    let calls: [(&[&str], &[&str]); 3] = [
        (&u[..2], &["RPADEVNU", "TSTNU"]),
        (&u[2..], &["ATTUNU", "RPADEVNU"]),
        (&u[2..], &["ATTUNU"]),
    ];
    for (users, codes) in calls {
        let seed = seed_call(
            &s,
            "POST",
            "/acme/lease_/api/account/seed/user-license",
            ADMIN,
            &uipath_body(users, codes, false),
        );
        let ours = admin(
            &s,
            "POST",
            "/admin/v1/accounts/admin/user-license",
            json!({"user_ids": users, "bundle_codes": codes}),
        );
        assert_eq!(seed.status, ours.status, "{} / {}", seed.body, ours.body);
        if seed.status == 200 {
            let renamed: Vec<Value> = ours
                .body
                .as_array()
                .unwrap()
                .iter()
                .map(|e| {
                    json!({"userId": e["user_id"], "organizationId": "acme",
                                "useExternalLicense": false, "userBundleCodes": e["bundle_codes"]})
                })
                .collect();
            assert_eq!(seed.body, Value::from(renamed));
        } else {
            assert_eq!(seed.body["code"], ours.body["code"]);
        }
    }
    for (code, ids) in &licenses {
        assert_eq!(holders(&s, &ids[0]), holders(&s, &ids[1]), "{code}");
    }
    // And the state is what the calls asked for, not merely equal.
    assert_eq!(holders(&s, &licenses[1].1[0]), vec![users[2].clone()]);
    assert_eq!(holders(&s, &licenses[0].1[0]).len(), 2);
}
