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
    unsigned(r)
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

/// Seed 000's query resource with `q`, URL-encoded as a client does.
fn sf_query(s: &Server, q: &str) -> Answer {
    let r = s
        .client
        .get(format!("{}/services/data/v60.0/query", s.url))
        .query(&[("q", q)])
        .header("authorization", format!("Bearer {ADMIN}"))
        .send()
        .unwrap();
    unsigned(r)
}

/// Salesforce's error shape, one error: `[{"message", "errorCode", "fields"}]`.
fn sf_error(a: &Answer) -> (u16, &str) {
    let errors = a
        .body
        .as_array()
        .unwrap_or_else(|| panic!("not Salesforce's error shape: {}", a.body));
    assert_eq!(errors.len(), 1, "{}", a.body);
    let e = errors[0].as_object().unwrap();
    let mut keys: Vec<&str> = e.keys().map(String::as_str).collect();
    keys.sort_unstable();
    assert_eq!(keys, ["errorCode", "fields", "message"], "{}", a.body);
    assert!(!e["message"].as_str().unwrap().is_empty());
    (a.status, e["errorCode"].as_str().unwrap())
}

fn sf_license(s: &Server, p: &Product, id: &str, extra: Value, users: u32) {
    let mut spec =
        json!({"id": id, "license_type": "perpetual", "product_details": {"short_code": p.code}});
    for (k, v) in extra.as_object().unwrap() {
        spec[k] = v.clone();
    }
    let a = admin(
        s,
        "POST",
        "/admin/v1/licenses",
        json!({"spec": spec, "max_license_users": users}),
    );
    assert_eq!(a.status, 200, "{}", a.body);
}

/// The records' `field` values of a query's answer, after checking the
/// answer's envelope and each record's `attributes`.
fn column(a: &Answer, kind: &str, field: &str) -> Vec<Value> {
    assert_eq!(a.status, 200, "{}", a.body);
    let records = a.body["records"].as_array().unwrap();
    assert_eq!(a.body["totalSize"], records.len());
    assert_eq!(a.body["done"], true);
    records
        .iter()
        .map(|r| {
            assert_eq!(r["attributes"]["type"], kind);
            let url = r["attributes"]["url"].as_str().unwrap();
            assert!(
                url.starts_with(&format!("/services/data/v60.0/sobjects/{kind}/")),
                "{url}"
            );
            r[field].clone()
        })
        .collect()
}

#[test]
fn salesforce_package_licenses_serve_the_documents_five_tasks() {
    let s = start();
    let p = product(&s, "acme");
    sf_license(&s, &p, "L-SF", json!({}), 2);
    let users: Vec<String> = (0..3)
        .map(|i| new_user(&s, &format!("sales{i}@example.com")))
        .collect();
    let v = "/services/data/v60.0";
    let create = |user: &str, license: &str| {
        seed_call(
            &s,
            "POST",
            &format!("{v}/sobjects/UserPackageLicense"),
            ADMIN,
            &json!({"PackageLicenseId": license, "UserId": user}).to_string(),
        )
    };

    // 1. The licenses in use and available.
    let counts = sf_query(&s, "SELECT Id, AllowedLicenses, UsedLicenses FROM PackageLicense WHERE NamespacePrefix = 'acme'");
    assert_eq!(column(&counts, "PackageLicense", "Id"), [json!("L-SF")]);
    assert_eq!(counts.body["records"][0]["AllowedLicenses"], 2);
    assert_eq!(counts.body["records"][0]["UsedLicenses"], 0);
    let record = counts.body["records"][0].as_object().unwrap();
    assert_eq!(record.len(), 4, "only the fields asked for: {record:?}");

    // 4. Assign: two units, then the limit.
    let first = create(&users[0], "L-SF");
    assert_eq!(first.status, 201, "{}", first.body);
    assert_eq!(first.body["success"], true);
    assert_eq!(first.body["errors"], json!([]));
    let first_id = first.body["id"].as_str().unwrap().to_owned();
    assert_eq!(create(&users[1], "L-SF").status, 201);
    assert_eq!(
        sf_error(&create(&users[2], "L-SF")),
        (400, "LICENSE_LIMIT_EXCEEDED")
    );
    assert_eq!(
        sf_error(&create(&users[0], "L-SF")),
        (400, "DUPLICATE_VALUE")
    );
    let ghost = create(&users[2], "L-NONE");
    assert_eq!(sf_error(&ghost), (400, "INVALID_CROSS_REFERENCE_KEY"));
    assert_eq!(ghost.body[0]["fields"], json!(["PackageLicenseId"]));
    let path = format!("{v}/sobjects/UserPackageLicense");
    for (body, code) in [
        (
            json!({"PackageLicenseId": "L-SF"}).to_string(),
            "REQUIRED_FIELD_MISSING",
        ),
        (
            json!({"PackageLicenseId": "L-SF", "UserId": users[2], "Extra": 1}).to_string(),
            "INVALID_FIELD",
        ),
        (
            json!({"PackageLicenseId": "L-SF", "UserId": 7}).to_string(),
            "JSON_PARSER_ERROR",
        ),
        ("{\"PackageLicenseId\": ".to_owned(), "JSON_PARSER_ERROR"),
    ] {
        assert_eq!(
            sf_error(&seed_call(&s, "POST", &path, ADMIN, &body)),
            (400, code),
            "{body}"
        );
    }

    // 2. Whether a user has a license.
    let has = |user: &str| {
        column(
            &sf_query(&s, &format!("SELECT Id FROM UserPackageLicense WHERE UserId = '{user}' AND PackageLicenseId = 'L-SF'")),
            "UserPackageLicense",
            "Id",
        )
    };
    assert_eq!(has(&users[0]), [json!(first_id)]);
    assert!(has(&users[2]).is_empty());

    // 3. Every user who has it: the same as the admin API's list.
    let holders_sf = |s: &Server| -> Vec<String> {
        let mut ids: Vec<String> = column(
            &sf_query(
                s,
                "select UserId from UserPackageLicense where PackageLicenseId = 'L-SF'",
            ),
            "UserPackageLicense",
            "UserId",
        )
        .iter()
        .map(|u| u.as_str().unwrap().to_owned())
        .collect();
        ids.sort();
        ids
    };
    let mut two = users[..2].to_vec();
    two.sort();
    assert_eq!(holders_sf(&s), two);
    assert_eq!(holders(&s, "L-SF"), two);

    // The objects themselves.
    let one = seed_call(
        &s,
        "GET",
        &format!("{v}/sobjects/UserPackageLicense/{first_id}"),
        ADMIN,
        "",
    );
    assert_eq!(one.status, 200, "{}", one.body);
    assert_eq!(one.body["UserId"], users[0].as_str());
    assert_eq!(one.body["PackageLicenseId"], "L-SF");
    let pl = seed_call(
        &s,
        "GET",
        &format!("{v}/sobjects/PackageLicense/L-SF"),
        ADMIN,
        "",
    );
    assert_eq!(pl.status, 200, "{}", pl.body);
    assert_eq!(
        pl.body,
        json!({"attributes": {"type": "PackageLicense", "url": format!("{v}/sobjects/PackageLicense/L-SF")},
               "Id": "L-SF", "AllowedLicenses": 2, "UsedLicenses": 2, "Status": "Active",
               "ExpirationDate": null, "NamespacePrefix": "acme", "IsProvisioned": true})
    );

    // 5. Revoke, once.
    let delete = || {
        seed_call(
            &s,
            "DELETE",
            &format!("{v}/sobjects/UserPackageLicense/{first_id}"),
            ADMIN,
            "",
        )
    };
    let gone = delete();
    assert_eq!((gone.status, &gone.body), (204, &Value::Null));
    assert_eq!(sf_error(&delete()), (404, "NOT_FOUND"));
    assert_eq!(holders(&s, "L-SF"), vec![users[1].clone()]);
    assert_eq!(
        sf_error(&seed_call(
            &s,
            "GET",
            &format!("{v}/sobjects/UserPackageLicense/{first_id}"),
            ADMIN,
            ""
        )),
        (404, "NOT_FOUND")
    );
    // The freed unit is taken again.
    assert_eq!(create(&users[2], "L-SF").status, 201);
}

#[test]
fn salesforce_answers_its_own_errors_and_minus_one_for_unlimited() {
    let s = start();
    let p = product(&s, "acme");
    sf_license(
        &s,
        &p,
        "L-TRIAL",
        json!({"license_type": "time-limited", "is_trial": true, "validity_period": "2030-01-02T03:04:05Z"}),
        1,
    );
    sf_license(
        &s,
        &p,
        "L-OPEN",
        json!({"allow_unlimited_activations": true}),
        1,
    );
    sf_license(&s, &p, "L-OFF", json!({}), 1);
    assert_eq!(
        admin(&s, "POST", "/admin/v1/licenses/L-OFF/disable", Value::Null).status,
        200
    );
    let v = "/services/data/v60.0";

    let all = sf_query(&s, "SELECT Id, Status, ExpirationDate FROM PackageLicense");
    assert_eq!(
        column(&all, "PackageLicense", "Id"),
        [json!("L-OFF"), json!("L-OPEN"), json!("L-TRIAL")]
    );
    assert_eq!(
        column(&all, "PackageLicense", "Status"),
        [json!("Expired"), json!("Active"), json!("Trial")]
    );
    assert_eq!(
        all.body["records"][2]["ExpirationDate"],
        "2030-01-02T03:04:05.000+0000"
    );
    // Unlimited activations: -1, as Salesforce counts a site license.
    let seats = admin(&s, "GET", "/admin/v1/licenses/L-OPEN/seats", Value::Null);
    assert_eq!(
        (
            seats.body["allowed"].as_i64(),
            seats.body["available"].as_i64()
        ),
        (Some(-1), Some(-1))
    );
    let limited = admin(&s, "GET", "/admin/v1/licenses/L-OFF/seats", Value::Null);
    assert_eq!(limited.body["allowed"], 1);

    for (q, code) in [
        (
            "SELECT Id FROM PackageLicense WHERE Status = 'Active'",
            "MALFORMED_QUERY",
        ),
        ("SELECT Id FROM PackageLicense LIMIT 1", "MALFORMED_QUERY"),
        ("SELECT Id, Id FROM PackageLicense", "MALFORMED_QUERY"),
        ("DELETE FROM PackageLicense", "MALFORMED_QUERY"),
        ("SELECT Id FROM Account", "INVALID_TYPE"),
        ("SELECT Password FROM UserPackageLicense", "INVALID_FIELD"),
    ] {
        assert_eq!(sf_error(&sf_query(&s, q)), (400, code), "{q}");
    }
    // An assignment id that names nothing matches nothing.
    let none = sf_query(
        &s,
        "SELECT Id FROM UserPackageLicense WHERE Id = 'not-an-id'",
    );
    assert!(column(&none, "UserPackageLicense", "Id").is_empty());
    assert_eq!(
        sf_error(&seed_call(&s, "GET", &format!("{v}/query"), ADMIN, "")),
        (400, "MALFORMED_QUERY")
    );

    // The admin token's 401, an unknown resource, a version that is not one,
    // a method the object does not take: all in Salesforce's shape.
    assert_eq!(
        sf_error(&seed_call(
            &s,
            "GET",
            &format!("{v}/sobjects/PackageLicense/L-OPEN"),
            "wrong",
            ""
        )),
        (401, "INVALID_SESSION_ID")
    );
    assert_eq!(
        sf_error(&seed_call(
            &s,
            "GET",
            &format!("{v}/sobjects/Account/1"),
            ADMIN,
            ""
        )),
        (404, "NOT_FOUND")
    );
    assert_eq!(
        sf_error(&seed_call(
            &s,
            "GET",
            "/services/data/latest/sobjects/PackageLicense/L-OPEN",
            ADMIN,
            ""
        )),
        (404, "NOT_FOUND")
    );
    assert_eq!(
        sf_error(&seed_call(
            &s,
            "GET",
            &format!("{v}/sobjects/PackageLicense/L-NONE"),
            ADMIN,
            ""
        )),
        (404, "NOT_FOUND")
    );
    assert_eq!(
        sf_error(&seed_call(
            &s,
            "PUT",
            &format!("{v}/sobjects/PackageLicense/L-OPEN"),
            ADMIN,
            "{}"
        )),
        (405, "METHOD_NOT_ALLOWED")
    );
}

#[test]
fn an_assignment_through_salesforce_or_the_admin_api_leaves_the_same_state() {
    let s = start();
    let p = product(&s, "acme");
    sf_license(&s, &p, "L-A", json!({}), 1);
    sf_license(&s, &p, "L-B", json!({}), 1);
    let users: Vec<String> = (0..2)
        .map(|i| new_user(&s, &format!("both{i}@example.com")))
        .collect();
    let v = "/services/data/v60.0";
    // Assign the first user, try the second (over the one unit), revoke the
    // first, assign the second: through Salesforce on L-A, the admin API on L-B.
    for (user, add) in [
        (&users[0], true),
        (&users[1], true),
        (&users[0], false),
        (&users[1], true),
    ] {
        let sf = if add {
            seed_call(
                &s,
                "POST",
                &format!("{v}/sobjects/UserPackageLicense"),
                ADMIN,
                &json!({"PackageLicenseId": "L-A", "UserId": user}).to_string(),
            )
        } else {
            let id = column(
                &sf_query(&s, &format!("SELECT Id FROM UserPackageLicense WHERE UserId = '{user}' AND PackageLicenseId = 'L-A'")),
                "UserPackageLicense",
                "Id",
            );
            seed_call(
                &s,
                "DELETE",
                &format!(
                    "{v}/sobjects/UserPackageLicense/{}",
                    id[0].as_str().unwrap()
                ),
                ADMIN,
                "",
            )
        };
        let ours = admin(
            &s,
            if add { "POST" } else { "DELETE" },
            &format!("/admin/v1/licenses/L-B/users/{user}"),
            Value::Null,
        );
        assert_eq!(
            sf.status < 300,
            ours.status < 300,
            "{} / {}",
            sf.body,
            ours.body
        );
        assert_eq!(holders(&s, "L-A"), holders(&s, "L-B"));
    }
    assert_eq!(holders(&s, "L-A"), vec![users[1].clone()]);
    let used = |id: &str| {
        seed_call(
            &s,
            "GET",
            &format!("{v}/sobjects/PackageLicense/{id}"),
            ADMIN,
            "",
        )
        .body["UsedLicenses"]
            .clone()
    };
    assert_eq!(used("L-A"), used("L-B"));
    assert_eq!(used("L-A"), 1);
}

/// The sorted keys of a JSON object.
fn keys(v: &Value) -> Vec<&str> {
    let mut k: Vec<&str> = v
        .as_object()
        .unwrap_or_else(|| panic!("not an object: {v}"))
        .keys()
        .map(String::as_str)
        .collect();
    k.sort_unstable();
    k
}

#[test]
fn genesys_license_api_answers_its_eight_operations() {
    let s = start();
    let p = product(&s, "cloud");
    for (code, features) in [
        ("communicate", vec!["recording", "analytics"]),
        ("basic", vec!["chat"]),
    ] {
        let features: Vec<Value> = features.iter().map(|f| json!({"code": f})).collect();
        let spec = json!({"license_type": "perpetual", "product_details": {"short_code": p.code}, "product_features": features});
        let d = admin(
            &s,
            "POST",
            "/admin/v1/definitions",
            json!({"product": p.code, "code": code, "name": code, "spec": spec}),
        );
        assert_eq!(d.status, 200, "{}", d.body);
    }
    for (id, code) in [
        ("L-1", "communicate"),
        ("L-2", "communicate"),
        ("L-3", "basic"),
    ] {
        let l = admin(
            &s,
            "POST",
            "/admin/v1/licenses",
            json!({"definition": {"product": p.code, "code": code}, "spec": {"id": id}, "max_license_users": 2}),
        );
        assert_eq!(l.status, 200, "{}", l.body);
    }
    let users: Vec<String> = (0..3)
        .map(|i| new_user(&s, &format!("agent{i}@example.com")))
        .collect();
    let g = |method: &str, path: &str, body: &str| {
        seed_call(&s, method, &format!("/api/v2/license{path}"), ADMIN, body)
    };

    // getLicenseDefinitions and getLicenseDefinition(licenseId).
    let all = g("GET", "/definitions", "");
    assert_eq!(all.status, 200, "{}", all.body);
    let communicate = all
        .body
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["id"] == "cloud:communicate")
        .unwrap()
        .clone();
    assert_eq!(
        keys(&communicate),
        [
            "comprises",
            "description",
            "id",
            "name",
            "permissions",
            "prerequisites",
            "selfUri"
        ]
    );
    assert_eq!(
        communicate["permissions"]["ids"],
        json!(["recording", "analytics"])
    );
    assert_eq!(
        communicate["selfUri"],
        "/api/v2/license/definitions/cloud:communicate"
    );
    let one = g("GET", "/definitions/cloud:communicate", "");
    assert_eq!(one.body, communicate);
    assert_eq!(g("GET", "/definitions/licenseId_example", "").status, 404);

    // postLicenseOrganization: a status per (license, user, action), the
    // body as the document shows it (one object) and as a list.
    let batch = json!({"assignments": [
        {"licenseId": "L-1", "userIdsAdd": [users[0], users[1], users[2]]},
        {"licenseId": "L-NONE", "userIdsAdd": [users[0]]},
    ]});
    let statuses = g("POST", "/organization", &batch.to_string());
    assert_eq!(statuses.status, 200, "{}", statuses.body);
    let results: Vec<(&str, &str)> = statuses
        .body
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            assert_eq!(keys(r), ["licenseId", "result", "selfUri", "userId"]);
            (
                r["licenseId"].as_str().unwrap(),
                r["result"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        results,
        [
            ("L-1", "Success"),
            ("L-1", "Success"),
            ("L-1", "no_units_left"),
            ("L-NONE", "license_not_found")
        ]
    );
    let single =
        json!({"assignments": {"licenseId": "L-3", "userIdsAdd": [users[2]], "userIdsRemove": []}});
    assert_eq!(
        g("POST", "/organization", &single.to_string()).body[0]["result"],
        "Success"
    );
    assert_eq!(g("POST", "/organization", "{\"items\": []}").status, 400);

    // getLicenseUser(userId).
    let user = g("GET", &format!("/users/{}", users[0]), "");
    assert_eq!(
        user.body,
        json!({"id": users[0], "licenses": ["L-1"], "selfUri": format!("/api/v2/license/users/{}", users[0])})
    );
    assert_eq!(g("GET", "/users/userId_example", "").status, 404);

    // getLicenseUsers({pageSize, pageNumber}): the documented envelope.
    let page = g("GET", "/users?pageSize=2&pageNumber=1", "");
    assert_eq!(page.status, 200, "{}", page.body);
    assert_eq!(
        keys(&page.body),
        [
            "entities",
            "firstUri",
            "lastUri",
            "nextUri",
            "pageCount",
            "pageNumber",
            "pageSize",
            "selfUri",
            "total"
        ]
    );
    assert_eq!(
        (page.body["total"].as_u64(), page.body["pageCount"].as_u64()),
        (Some(3), Some(2))
    );
    assert_eq!(page.body["entities"].as_array().unwrap().len(), 2);
    assert_eq!(
        page.body["nextUri"],
        "/api/v2/license/users?pageSize=2&pageNumber=2"
    );
    assert_eq!(
        page.body["lastUri"],
        "/api/v2/license/users?pageSize=2&pageNumber=2"
    );
    let last = g("GET", "/users?pageSize=2&pageNumber=2", "");
    assert_eq!(last.body["entities"].as_array().unwrap().len(), 1);
    assert!(last.body.get("nextUri").is_none());
    assert_eq!(
        last.body["previousUri"],
        "/api/v2/license/users?pageSize=2&pageNumber=1"
    );
    let default = g("GET", "/users", "");
    assert_eq!(
        (
            default.body["pageSize"].as_u64(),
            default.body["pageNumber"].as_u64()
        ),
        (Some(25), Some(1))
    );
    assert_eq!(g("GET", "/users?pageSize=0", "").status, 400);

    // postLicenseUsers: the users found, by id.
    let fetched = g("POST", "/users", &json!([users[0], "nobody"]).to_string());
    assert_eq!(keys(&fetched.body), [users[0].as_str()]);
    assert_eq!(fetched.body[&users[0]], user.body);
    // The document's other body forms (issue 34, 25): its own example
    // `[{}]` (nobody), objects naming ids, and an object holding them.
    assert_eq!(g("POST", "/users", "[{}]").body, json!({}));
    for body in [
        json!([{"id": users[0]}, {}]),
        json!([{"userId": users[0]}]),
        json!({"userIds": [users[0]]}),
        json!({"ids": [{"id": users[0]}]}),
    ] {
        let f = g("POST", "/users", &body.to_string());
        assert_eq!(keys(&f.body), [users[0].as_str()], "{body}");
    }
    assert_eq!(g("POST", "/users", "[7]").status, 400);

    // getLicenseToggle and postLicenseToggle: the organization's, on every
    // license that has the feature.
    let on = g("GET", "/toggles/recording", "");
    assert_eq!(
        on.body,
        json!({"featureName": "recording", "enabled": true, "selfUri": "/api/v2/license/toggles/recording"})
    );
    assert_eq!(g("POST", "/toggles/recording", "").body["enabled"], false);
    assert_eq!(g("GET", "/toggles/recording", "").body["enabled"], false);
    for id in ["L-1", "L-2"] {
        let t = admin(
            &s,
            "GET",
            &format!("/admin/v1/licenses/{id}/toggles/recording"),
            Value::Null,
        );
        assert_eq!(t.body["enabled"], false, "{id}");
    }
    let other = admin(
        &s,
        "GET",
        "/admin/v1/licenses/L-1/toggles/analytics",
        Value::Null,
    );
    assert_eq!(other.body["enabled"], true);
    // One license switched back on through the admin API: the
    // organization's toggle is off until every license has it on.
    admin(
        &s,
        "POST",
        "/admin/v1/licenses/L-1/toggles/recording",
        json!({"enabled": true}),
    );
    assert_eq!(g("GET", "/toggles/recording", "").body["enabled"], false);
    assert_eq!(g("POST", "/toggles/recording", "").body["enabled"], true);
    let l2 = admin(
        &s,
        "GET",
        "/admin/v1/licenses/L-2/toggles/recording",
        Value::Null,
    );
    assert_eq!(l2.body["enabled"], true);
    assert_eq!(g("GET", "/toggles/featureName_example", "").status, 404);

    // The bearer token.
    assert_eq!(
        seed_call(&s, "GET", "/api/v2/license/definitions", "wrong", "").status,
        401
    );
}

#[test]
fn a_batch_through_genesys_or_the_admin_api_leaves_the_same_state() {
    let s = start();
    let p = product(&s, "cloud");
    sf_license(&s, &p, "L-G", json!({}), 2);
    sf_license(&s, &p, "L-A", json!({}), 2);
    let users: Vec<String> = (0..3)
        .map(|i| new_user(&s, &format!("same{i}@example.com")))
        .collect();
    let steps = [
        (vec![&users[0], &users[1], &users[2]], vec![]),
        (vec![&users[2]], vec![&users[0]]),
        (vec![], vec![&users[0], &users[1]]),
    ];
    for (add, remove) in steps {
        let genesys = seed_call(
            &s,
            "POST",
            "/api/v2/license/organization",
            ADMIN,
            &json!({"assignments": [{"licenseId": "L-G", "userIdsAdd": add, "userIdsRemove": remove}]}).to_string(),
        );
        let ours = admin(
            &s,
            "POST",
            "/admin/v1/assignments",
            json!({"assignments": [{"license_id": "L-A", "user_ids_add": add, "user_ids_remove": remove}]}),
        );
        let g: Vec<&str> = genesys
            .body
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["result"].as_str().unwrap())
            .collect();
        let a: Vec<&str> = ours.body["results"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| {
                if r["status"] == 200 {
                    "Success"
                } else {
                    r["code"].as_str().unwrap()
                }
            })
            .collect();
        assert_eq!(g, a);
        assert_eq!(holders(&s, "L-G"), holders(&s, "L-A"));
    }
    assert_eq!(holders(&s, "L-G"), vec![users[2].clone()]);
}

use common::licensespring::{
    assert_valid, get as licensespring_get, get_authorized as licensespring_get_authorized,
    schema as licensespring_schema, signature as licensespring_signature,
};

#[test]
fn licensespring_user_licenses_answer_the_seeds_schema() {
    use base64::Engine as _;
    let s = start();
    let p = product(&s, "up");
    let other = product(&s, "other");
    let shared = base64::engine::general_purpose::STANDARD.encode(&p.key);
    let user = new_user(&s, "someuser@somedomain.com");
    // The seed's two examples: a perpetual license, and a trial until
    // 2031-03-16, both of the user-based product `up`; with features, a
    // customer and a custom field, so every part of the schema is met.
    let base = json!({
        "license_type": "perpetual",
        "product_details": {"short_code": "up", "product_name": "User Product", "authorization_method": "user"},
        "customer": {"email": "somecustomer@somedomain.com", "company_name": "Some Company", "reference": "Ref for customer 1"},
        "custom_fields": [{"name": "seats-note", "data_type": "text", "value": "ten"}],
        "product_features": [
            {"code": "export", "name": "Export"},
            {"code": "render", "name": "Render", "feature_type": "consumption", "max_consumption": 100, "consumption_period": "monthly"},
        ],
    });
    let mut trial = base.clone();
    trial["id"] = json!("L-TRIAL");
    trial["is_trial"] = json!(true);
    trial["trial_days"] = json!(15);
    trial["license_type"] = json!("time-limited");
    trial["validity_period"] = json!("2031-03-16T00:00:00Z");
    // The seed's second example as the vendor wrote it: perpetual, a trial,
    // and an end date. No Tessera file may mean both "never ends" and
    // "ends on 2031-03-16" (FORMAT.md §2, every reader refuses it), so it
    // is refused with what to write instead: the trial above (COMPAT.md).
    let mut as_written = trial.clone();
    as_written["license_type"] = json!("perpetual");
    as_written["id"] = json!("L-AS-WRITTEN");
    let refused = admin(
        &s,
        "POST",
        "/admin/v1/licenses",
        json!({"spec": as_written}),
    );
    assert_eq!(refused.status, 422, "{}", refused.body);
    assert!(
        refused.body["message"]
            .as_str()
            .unwrap()
            .contains("time-limited"),
        "{}",
        refused.body
    );
    let mut perpetual = base;
    perpetual["id"] = json!("L-10003");
    for spec in [perpetual, trial] {
        let id = spec["id"].as_str().unwrap().to_owned();
        let l = admin(&s, "POST", "/admin/v1/licenses", json!({"spec": spec}));
        assert_eq!(l.status, 200, "{}", l.body);
        assert_eq!(
            admin(
                &s,
                "POST",
                &format!("/admin/v1/licenses/{id}/users/{user}"),
                Value::Null
            )
            .status,
            200
        );
    }
    // A release of `up`, so the release fields come from it.
    let published = admin(
        &s,
        "POST",
        "/admin/v1/products/up/releases",
        json!({"version": "4.2.0", "release_date": "2026-10-01T12:00:00Z", "requires_version": "4.0",
               "installation_file": "https://example.com/up-4.2.0.msi", "environment": "win64",
               "hash_md5": "9e107d9d372bb6826bd81d3542a419d6", "size": 1024,
               "eula_link": "https://example.com/eula", "release_notes_link": "https://example.com/notes/4.2.0"}),
    );
    assert_eq!(published.status, 200, "{}", published.body);
    let date = server_date(&s);
    let creds = [
        ("product", "up"),
        ("username", "someuser@somedomain.com"),
        ("password", "test-only-password"),
    ];

    // The seed's request, its placeholders filled.
    let a = licensespring_get(&s, &creds, "up", &shared, &date);
    assert_eq!(a.status, 200, "{}", a.body);
    assert_valid(&licensespring_schema("response"), &a.body);
    let list = a.body.as_array().unwrap();
    assert_eq!(list.len(), 2);
    let ids: Vec<&str> = list
        .iter()
        .map(|l| l["order_store_id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, ["L-10003", "L-TRIAL"]);
    let (perpetual, trial) = (&list[0], &list[1]);
    assert!(perpetual["id"].is_u64() && perpetual["user"]["id"].is_u64());
    assert_ne!(perpetual["id"], trial["id"]);
    assert_eq!(perpetual["license_type"], "perpetual");
    assert_eq!(perpetual["user"]["email"], "someuser@somedomain.com");
    assert_eq!(perpetual["customer"]["company_name"], "Some Company");
    assert_eq!(perpetual["product_details"]["authorization_method"], "user");
    assert_eq!(
        perpetual["product_features"][1]["consumption_period"],
        "monthly"
    );
    assert!(perpetual.get("trial_days").is_none());
    assert_eq!(
        (trial["is_trial"].as_bool(), trial["trial_days"].as_u64()),
        (None, Some(15))
    );
    // The seed's example writes the trial's end as a date (issue 34, 25).
    assert_eq!(trial["validity_period"], "2031-03-16");
    assert_eq!(trial["is_expired"], false);
    let release: Vec<&str> = [
        "version",
        "release_date",
        "requires_version",
        "installation_file",
        "hash_md5",
        "size",
        "channel",
        "environment",
    ]
    .iter()
    .map(|k| perpetual[*k].as_str().unwrap())
    .collect();
    assert_eq!(
        release,
        [
            "4.2.0",
            "2026-10-01",
            "4.0",
            "https://example.com/up-4.2.0.msi",
            "9e107d9d372bb6826bd81d3542a419d6",
            "1024",
            "stable",
            "win64"
        ]
    );
    // Without `product`, the apikey's product.
    let a = licensespring_get(&s, &creds[1..], "up", &shared, &date);
    assert_eq!(a.body.as_array().map(Vec::len), Some(2));

    // The key's name in LicenseSpring's library's spelling (`apiKey`) is
    // the seed's `apikey`; named twice, in two spellings, it is refused.
    let signed = licensespring_signature(&shared, &date);
    let fields = "algorithm=\"hmac-sha256\",headers=\"date\"";
    let a = licensespring_get_authorized(
        &s,
        &creds,
        &date,
        &format!("{fields},signature=\"{signed}\",apiKey=\"up\""),
    );
    assert_eq!(a.status, 200, "{}", a.body);
    assert_eq!(a.body.as_array().map(Vec::len), Some(2));
    let a = licensespring_get_authorized(
        &s,
        &creds,
        &date,
        &format!("{fields},signature=\"{signed}\",apiKey=\"up\",apikey=\"up\""),
    );
    assert_eq!(
        (a.status, a.body["code"].as_str()),
        (401, Some("bad_authorization")),
        "{}",
        a.body
    );

    // Refusals, in the seed's error form.
    let errors = licensespring_schema("error");
    let stale = protocol_date(-600);
    let cases: Vec<(Answer, u16, &str)> = vec![
        (
            licensespring_get(&s, &creds, "up", "not-the-shared-key", &date),
            401,
            "bad_signature",
        ),
        (
            licensespring_get(&s, &creds, "nobody", &shared, &date),
            401,
            "bad_signature",
        ),
        (
            licensespring_get(&s, &creds, "up", &shared, &stale),
            401,
            "stale_date",
        ),
        (
            licensespring_get(&s, &creds, "up", &shared, "yesterday"),
            401,
            "bad_date",
        ),
        (
            licensespring_get(
                &s,
                &creds,
                "other",
                &base64::engine::general_purpose::STANDARD.encode(&other.key),
                &date,
            ),
            403,
            "wrong_product",
        ),
        (
            licensespring_get(
                &s,
                &[("product", "up"), ("username", "someuser@somedomain.com")],
                "up",
                &shared,
                &date,
            ),
            400,
            "invalid_parameters",
        ),
        (
            licensespring_get(
                &s,
                &[
                    ("product", "up"),
                    ("username", "someuser@somedomain.com"),
                    ("password", "wrong-password"),
                ],
                "up",
                &shared,
                &date,
            ),
            401,
            "invalid_credentials",
        ),
        (
            licensespring_get(
                &s,
                &[
                    ("product", "up"),
                    ("id_token", "eyJ..."),
                    ("customer_account_code", "acme"),
                ],
                "up",
                &shared,
                &date,
            ),
            400,
            "sso_not_configured",
        ),
        (
            licensespring_get(
                &s,
                &[("product", "up"), ("license_key", "AAAA")],
                "up",
                &shared,
                &date,
            ),
            400,
            "invalid_parameters",
        ),
    ];
    for (a, status, code) in cases {
        assert_eq!(
            (a.status, a.body["code"].as_str()),
            (status, Some(code)),
            "{}",
            a.body
        );
        assert_valid(&errors, &a.body);
    }
}

#[test]
fn compat_md_shows_a_seed_003_answer_that_meets_the_seeds_schema() {
    let doc = include_str!("../../docs/COMPAT.md");
    let section = doc
        .split("## Seed 003")
        .nth(1)
        .and_then(|s| s.split("\n## ").next())
        .unwrap();
    let block = section
        .split("```json\n")
        .nth(1)
        .and_then(|s| s.split("\n```").next())
        .unwrap();
    let answer: Value = serde_json::from_str(block).unwrap_or_else(|e| {
        panic!("COMPAT.md's seed 003 example answer is not JSON ({e}): {block:?}")
    });
    assert!(answer.as_array().is_some_and(|a| !a.is_empty()), "{answer}");
    assert_valid(&licensespring_schema("response"), &answer);
}

/// An RFC 7231 date `offset` seconds from now.
fn protocol_date(offset: i64) -> String {
    tessera::protocol::format_http_date(chrono::Utc::now() + chrono::Duration::seconds(offset))
}

#[test]
fn the_admin_api_hands_out_the_chain_of_licensesprings_answer_key() {
    let s = start();
    let answer = admin(
        &s,
        "GET",
        "/admin/v1/compat/licensespring/chain",
        Value::Null,
    );
    assert_eq!(answer.status, 200, "{}", answer.body);
    let kept = std::fs::read_to_string(format!(
        "{}/licensespring-chain.pem",
        common::LICENSESPRING_KEYS
    ))
    .unwrap();
    assert_eq!(answer.body["chain"], kept.as_str());
    assert_eq!(kept.matches("-----BEGIN CERTIFICATE-----").count(), 3);
    // No private key leaves the server.
    assert!(!answer.body.to_string().contains("PRIVATE KEY"));
}

/// The chain the admin API hands out for LicenseSpring's answer key.
fn chain_of(s: &Server) -> String {
    let answer = admin(
        s,
        "GET",
        "/admin/v1/compat/licensespring/chain",
        Value::Null,
    );
    assert_eq!(answer.status, 200, "{}", answer.body);
    answer.body["chain"].as_str().unwrap().to_owned()
}

#[test]
fn a_server_makes_licensesprings_answer_key_once_and_refuses_half_of_it() {
    let dir = std::sync::Arc::new(tempfile::tempdir().unwrap());
    let keys = dir.path().join("ls-keys");
    let config =
        json!({"listen": "127.0.0.1:0", "insecure_http": true, "licensespring_keys": keys});
    let s = common::start_with(dir.clone(), config.clone(), None).unwrap();
    let chain = chain_of(&s);
    assert_eq!(
        std::fs::read_to_string(keys.join("licensespring-chain.pem")).unwrap(),
        chain
    );
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        let mode = std::fs::metadata(keys.join("licensespring-signing-key.pem"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o077, 0, "the key is its owner's only");
    }
    drop(s);
    // Started again: the same chain, so products keep trusting it.
    let s = common::start_with(dir.clone(), config.clone(), None).unwrap();
    let again = chain_of(&s);
    assert_eq!(again, chain);
    drop(s);
    // The chain lost, the key kept: the server does not start, and makes
    // no new chain a product would not trust.
    std::fs::remove_file(keys.join("licensespring-chain.pem")).unwrap();
    let Err(refused) = common::start_with(dir, config, None) else {
        panic!("the server started with half of its answer key");
    };
    assert!(refused.contains("remove both"), "{refused}");
    assert!(!keys.join("licensespring-chain.pem").exists());
}
