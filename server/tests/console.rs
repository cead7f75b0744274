//! The console and the portal (docs/CONSOLE.md) against the real server:
//! the first owner, every page for every role, the authorization table,
//! CSRF, session fixation and stolen cookies, the second factor, stored
//! XSS in every text field, one customer never seeing another's, and no
//! secret on any page or in the log. (The browser suite,
//! `scripts/browser-tests.sh`, walks the same faces in Chromium.)

#![allow(clippy::unwrap_used, clippy::expect_used, unreachable_pub)]

mod common;

use std::collections::HashMap;

use common::*;
use serde_json::{json, Value};

/// A browser without a browser: a cookie jar, no redirects followed.
struct Web {
    base: String,
    client: reqwest::blocking::Client,
    cookies: HashMap<String, String>,
}

/// A page as it came.
struct Page {
    status: u16,
    body: String,
    headers: reqwest::header::HeaderMap,
}

impl Page {
    fn location(&self) -> String {
        self.headers
            .get("location")
            .map(|v| v.to_str().unwrap().to_owned())
            .unwrap_or_default()
    }
    /// The first form's CSRF token.
    fn csrf(&self) -> String {
        let at = self
            .body
            .find("name=\"csrf\" value=\"")
            .expect("a form with a CSRF token");
        let rest = &self.body[at + 19..];
        rest[..rest.find('"').unwrap()].to_owned()
    }
}

impl Web {
    fn new(s: &Server) -> Web {
        Web {
            base: s.url.clone(),
            client: reqwest::blocking::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .unwrap(),
            cookies: HashMap::new(),
        }
    }

    fn keep(&mut self, r: reqwest::blocking::Response) -> Page {
        for c in r.headers().get_all("set-cookie") {
            let c = c.to_str().unwrap();
            let (pair, _) = c.split_once(';').unwrap_or((c, ""));
            let (k, v) = pair.split_once('=').unwrap();
            if c.contains("Max-Age=0") {
                self.cookies.remove(k);
            } else {
                self.cookies.insert(k.to_owned(), v.to_owned());
            }
        }
        Page {
            status: r.status().as_u16(),
            headers: r.headers().clone(),
            body: r.text().unwrap(),
        }
    }

    fn cookie_header(&self) -> String {
        self.cookies
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join("; ")
    }

    fn get(&mut self, path: &str) -> Page {
        let r = self
            .client
            .get(format!("{}{path}", self.base))
            .header("cookie", self.cookie_header())
            .send()
            .unwrap();
        self.keep(r)
    }

    fn post(&mut self, path: &str, fields: &[(&str, &str)]) -> Page {
        let body: String = url::form_urlencoded::Serializer::new(String::new())
            .extend_pairs(fields)
            .finish();
        let r = self
            .client
            .post(format!("{}{path}", self.base))
            .header("cookie", self.cookie_header())
            .header("content-type", "application/x-www-form-urlencoded")
            .body(body)
            .send()
            .unwrap();
        self.keep(r)
    }

    /// Posts a form from the page at `from`, with its CSRF token.
    fn submit(&mut self, from: &str, path: &str, fields: &[(&str, &str)]) -> Page {
        let csrf = self.get(from).csrf();
        let mut all = vec![("csrf", csrf.as_str())];
        all.extend_from_slice(fields);
        self.post(path, &all)
    }

    /// Uploads `text` as the file of a multipart form, the CSRF token in
    /// the query as the page's form does.
    fn upload(&mut self, from: &str, path: &str, text: &str) -> reqwest::blocking::Response {
        let csrf = self.get(from).csrf();
        let form = reqwest::blocking::multipart::Form::new().part(
            "file",
            reqwest::blocking::multipart::Part::text(text.to_owned()).file_name("request.req"),
        );
        self.client
            .post(format!("{}{path}?csrf={}", self.base, urlencode(&csrf)))
            .header("cookie", self.cookie_header())
            .multipart(form)
            .send()
            .unwrap()
    }
}

fn urlencode(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

const OWNER_PASSWORD: &str = "owner-password-0123";
const STAFF_PASSWORD: &str = "staff-password-0123";

/// The first owner, made on the first-run page with the admin token.
fn first_owner(s: &Server) -> Web {
    let mut w = Web::new(s);
    let first = w.get("/console/sign-in");
    assert_eq!(
        (first.status, first.location().as_str()),
        (303, "/console/setup")
    );
    let setup = w.get("/console/setup");
    assert_eq!(setup.status, 200);
    let made = w.post(
        "/console/setup",
        &[
            ("csrf", &setup.csrf()),
            ("admin_token", ADMIN),
            ("name", "Olivia Owner"),
            ("email", "owner@vendor.example"),
            ("password", OWNER_PASSWORD),
        ],
    );
    assert_eq!(
        (made.status, made.location().as_str()),
        (303, "/console/sign-in")
    );
    sign_in(s, "owner@vendor.example", OWNER_PASSWORD)
}

fn sign_in(s: &Server, email: &str, password: &str) -> Web {
    let mut w = Web::new(s);
    let page = w.get("/console/sign-in");
    let done = w.post(
        "/console/sign-in",
        &[
            ("csrf", &page.csrf()),
            ("email", email),
            ("password", password),
        ],
    );
    assert_eq!(
        (done.status, done.location().as_str()),
        (303, "/console/"),
        "{}",
        done.body
    );
    w
}

fn portal_sign_in(s: &Server, username: &str, password: &str) -> Web {
    let mut w = Web::new(s);
    let page = w.get("/portal/sign-in");
    let done = w.post(
        "/portal/sign-in",
        &[
            ("csrf", &page.csrf()),
            ("username", username),
            ("password", password),
        ],
    );
    assert_eq!(
        (done.status, done.location().as_str()),
        (303, "/portal/"),
        "{}",
        done.body
    );
    w
}

/// Adds a staff member of `role` from the owner's console.
fn add_staff(owner: &mut Web, name: &str, email: &str, role: &str) {
    let done = owner.submit(
        "/console/staff",
        "/console/staff",
        &[
            ("name", name),
            ("email", email),
            ("role", role),
            ("password", STAFF_PASSWORD),
        ],
    );
    assert_eq!(done.status, 303, "{}", done.body);
}

/// A product, a definition, a license `L-1` for the account `globex` with
/// a device activated on it, and a trial license `L-TRIAL`.
fn business(s: &Server) -> Product {
    let p = product(s, "acme-cad");
    let d = admin(
        s,
        "POST",
        "/admin/v1/definitions",
        json!({"product": "acme-cad", "code": "PRO", "name": "Pro",
               "spec": {"license_type": "perpetual", "max_activations": 5, "max_transfers": 2,
                        "product_details": {"short_code": "acme-cad"}}}),
    );
    assert_eq!(d.status, 200, "{}", d.body);
    let l = admin(
        s,
        "POST",
        "/admin/v1/licenses",
        json!({"license_key": "KEY-GLOBEX-0001-SECRET", "account": "globex",
               "spec": {"id": "L-1", "license_type": "perpetual", "max_activations": 5,
                        "max_transfers": 2, "product_details": {"short_code": "acme-cad"}}}),
    );
    assert_eq!(l.status, 200, "{}", l.body);
    license(
        s,
        &p,
        "KEY-TRIAL-0001-SECRET",
        json!({"id": "L-TRIAL", "license_type": "time-limited", "is_trial": true,
               "validity_period": "2099-01-01T00:00:00Z", "max_activations": 1}),
    );
    activate(s, &p, "KEY-GLOBEX-0001-SECRET", 1);
    p
}

fn activate(s: &Server, p: &Product, key: &str, n: usize) {
    let a = call(s, p, "/api/v1/activate_license", who(p, key, n));
    assert_eq!(a.status, 200, "{}", a.body);
}

fn devices_of(s: &Server, license: &str) -> Vec<String> {
    let a = admin(
        s,
        "GET",
        &format!("/admin/v1/licenses/{license}/devices"),
        Value::Null,
    );
    a.body
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["device"].as_str().unwrap().to_owned())
        .collect()
}

#[test]
fn the_first_owner_comes_from_the_admin_token_once_and_every_page_is_served_safely() {
    let s = start();
    let mut w = Web::new(&s);
    // A wrong admin token makes no owner.
    let setup = w.get("/console/setup");
    let wrong = w.post(
        "/console/setup",
        &[
            ("csrf", &setup.csrf()),
            ("admin_token", "not-the-admin-token-at-all"),
            ("name", "Mallory"),
            ("email", "mallory@evil.example"),
            ("password", "mallory-password"),
        ],
    );
    assert_eq!(wrong.status, 400);
    assert!(
        wrong.body.contains("not the server&#39;s admin token"),
        "{}",
        wrong.body
    );
    let mut owner = first_owner(&s);
    // Once there is an owner, the first-run page is gone.
    let again = Web::new(&s).get("/console/setup");
    assert_eq!(
        (again.status, again.location().as_str()),
        (303, "/console/sign-in")
    );

    business(&s);
    for path in [
        "/console/",
        "/console/licenses",
        "/console/licenses?q=KEY-GL&sort=devices&dir=desc",
        "/console/licenses/L-1",
        "/console/products",
        "/console/customers",
        "/console/users",
        "/console/trials",
        "/console/releases",
        "/console/sso",
        "/console/audit?actor=admin",
        "/console/staff",
        "/console/account",
    ] {
        let page = owner.get(path);
        assert_eq!(page.status, 200, "{path}: {}", page.body);
        let csp = page.headers["content-security-policy"].to_str().unwrap();
        assert!(
            csp.contains("script-src 'self'") && !csp.contains("unsafe-inline"),
            "{csp}"
        );
        assert_eq!(page.headers["x-frame-options"], "DENY");
        assert_eq!(page.headers["cache-control"], "no-store");
        assert!(!page.body.contains("<script>"), "{path}: an inline script");
        assert!(
            page.body.len() < 150 * 1024,
            "{path}: {} bytes",
            page.body.len()
        );
    }
    let license = owner.get("/console/licenses/L-1");
    assert!(
        license.body.contains("device-0001"),
        "the activated device is listed"
    );
    assert!(
        license.body.contains("KEY-GLOB…"),
        "the key's prefix is shown"
    );
    // A page for no one signed in sends to the sign-in.
    let anonymous = Web::new(&s).get("/console/licenses/L-1");
    assert_eq!(
        (anonymous.status, anonymous.location().as_str()),
        (303, "/console/sign-in")
    );
}

#[test]
fn the_session_cookie_is_http_only_and_strict() {
    let s = start();
    let mut w = Web::new(&s);
    let setup = w.get("/console/setup");
    let form_cookie = setup.headers["set-cookie"].to_str().unwrap().to_owned();
    assert!(form_cookie.contains("HttpOnly") && form_cookie.contains("SameSite=Strict"));
    first_owner(&s);
    let mut w = Web::new(&s);
    let page = w.get("/console/sign-in");
    let r = w.post(
        "/console/sign-in",
        &[
            ("csrf", &page.csrf()),
            ("email", "owner@vendor.example"),
            ("password", OWNER_PASSWORD),
        ],
    );
    let set = r.headers["set-cookie"].to_str().unwrap();
    assert!(set.starts_with("tessera_console="), "{set}");
    assert!(
        set.contains("HttpOnly")
            && set.contains("SameSite=Strict")
            && set.contains("Path=/console/")
    );
    // Plain HTTP on loopback here: Secure is set behind TLS (the unit test
    // of web::session holds that).
    assert!(!set.contains("Secure"));
}

/// Who may do what: each route for each role (the roles below the route's
/// own are refused with 403 and change nothing; the route's role and those
/// above it get it).
#[test]
fn every_route_checks_every_role() {
    let s = start();
    let p = business(&s);
    let mut owner = first_owner(&s);
    add_staff(&mut owner, "Ada Admin", "admin@vendor.example", "admin");
    add_staff(
        &mut owner,
        "Sam Support",
        "support@vendor.example",
        "support",
    );
    add_staff(&mut owner, "Vic Viewer", "viewer@vendor.example", "viewer");
    let roles = ["viewer", "support", "admin", "owner"];
    let mut webs: Vec<Web> = vec![
        sign_in(&s, "viewer@vendor.example", STAFF_PASSWORD),
        sign_in(&s, "support@vendor.example", STAFF_PASSWORD),
        sign_in(&s, "admin@vendor.example", STAFF_PASSWORD),
        owner,
    ];
    // Every page: every role reads it, but the staff list (owners only).
    let pages = [
        ("/console/", "viewer"),
        ("/console/licenses", "viewer"),
        ("/console/licenses/L-1", "viewer"),
        ("/console/products", "viewer"),
        ("/console/customers", "viewer"),
        ("/console/users", "viewer"),
        ("/console/trials", "viewer"),
        ("/console/releases", "viewer"),
        ("/console/sso", "viewer"),
        ("/console/audit", "viewer"),
        ("/console/account", "viewer"),
        ("/console/staff", "owner"),
    ];
    for (path, needs) in pages {
        let need = roles.iter().position(|r| *r == needs).unwrap();
        for (i, w) in webs.iter_mut().enumerate() {
            let page = w.get(path);
            let expected = if i >= need { 200 } else { 403 };
            assert_eq!(page.status, expected, "{} GET {path}", roles[i]);
        }
    }
    // Every action. `prepare` puts back what the action takes away, so each
    // allowed role's attempt has something to act on.
    let n = std::cell::Cell::new(100usize);
    type Prepare<'a> = Box<dyn FnMut() -> String + 'a>;
    let actions: Vec<(&str, Prepare<'_>, &str)> = vec![
        (
            "support",
            Box::new(|| {
                n.set(n.get() + 1);
                activate(&s, &p, "KEY-GLOBEX-0001-SECRET", n.get());
                format!("/console/licenses/L-1/devices/device-{:04}/free", n.get())
            }),
            "",
        ),
        (
            "support",
            Box::new(|| "/console/licenses/L-1/reset-transfers".to_owned()),
            "",
        ),
        (
            "support",
            Box::new(|| "/console/licenses/L-TRIAL/extend-trial".to_owned()),
            "days=7",
        ),
        (
            "admin",
            Box::new(|| "/console/licenses/L-1/suspend".to_owned()),
            "",
        ),
        (
            "admin",
            Box::new(|| "/console/licenses/L-1/resume".to_owned()),
            "",
        ),
        (
            "admin",
            Box::new(|| "/console/licenses/L-TRIAL/renew".to_owned()),
            "ends=2030-01-01",
        ),
        (
            "admin",
            Box::new(|| "/console/licenses/L-TRIAL/edit".to_owned()),
            "account=initech&max_activations=4",
        ),
        (
            "admin",
            Box::new(|| "/console/licenses".to_owned()),
            "definition=acme-cad/PRO",
        ),
        (
            "admin",
            Box::new(|| {
                n.set(n.get() + 1);
                format!("/console/products?code=p{}", n.get())
            }),
            "name=Product",
        ),
        (
            "owner",
            Box::new(|| "/console/staff".to_owned()),
            "role=viewer",
        ),
    ];
    let mut made = 0;
    for (needs, mut prepare, extra) in actions {
        let need = roles.iter().position(|r| *r == needs).unwrap();
        for (i, w) in webs.iter_mut().enumerate() {
            let target = prepare();
            let (path, query) = target.split_once('?').unwrap_or((&target, ""));
            let mut fields: Vec<(String, String)> = url::form_urlencoded::parse(query.as_bytes())
                .chain(url::form_urlencoded::parse(extra.as_bytes()))
                .map(|(k, v)| (k.into_owned(), v.into_owned()))
                .collect();
            if path == "/console/staff" {
                made += 1;
                fields.push(("name".into(), format!("New {made}")));
                fields.push(("email".into(), format!("new{made}@vendor.example")));
                fields.push(("password".into(), STAFF_PASSWORD.into()));
            }
            let borrowed: Vec<(&str, &str)> = fields
                .iter()
                .map(|(k, v)| (k.as_str(), v.as_str()))
                .collect();
            let before = admin(&s, "GET", "/admin/v1/licenses/L-1", Value::Null).body;
            let r = w.submit("/console/account", path, &borrowed);
            if i >= need {
                assert!(
                    matches!(r.status, 200 | 303),
                    "{} POST {path}: {} {}",
                    roles[i],
                    r.status,
                    r.body
                );
            } else {
                assert_eq!(r.status, 403, "{} POST {path}", roles[i]);
                let after = admin(&s, "GET", "/admin/v1/licenses/L-1", Value::Null).body;
                assert_eq!(
                    before, after,
                    "{} POST {path} changed the license",
                    roles[i]
                );
            }
        }
    }
    // Each change is in the audit log under the staff member's name.
    let log = admin(&s, "GET", "/admin/v1/audit", Value::Null)
        .body
        .to_string();
    for who in [
        "Ada Admin <admin@vendor.example> (admin, console)",
        "Sam Support <support@vendor.example> (support, console)",
    ] {
        assert!(log.contains(who), "{who} is not in the audit log");
    }
    assert!(log.contains("POST /console/licenses/L-1/suspend"));
}

#[test]
fn a_form_without_its_csrf_token_changes_nothing() {
    let s = start();
    business(&s);
    let mut owner = first_owner(&s);
    // No token, a made-up one, another session's: each refused, the
    // license still enabled.
    let mut other = sign_in(&s, "owner@vendor.example", OWNER_PASSWORD);
    let others_token = other.get("/console/account").csrf();
    for token in ["", "forged-token", others_token.as_str()] {
        let r = owner.post("/console/licenses/L-1/suspend", &[("csrf", token)]);
        assert_eq!(r.status, 403, "token {token:?}");
    }
    let l = admin(&s, "GET", "/admin/v1/licenses/L-1", Value::Null);
    assert_eq!(l.body["enabled"], true);
    // A file upload without the token in its query.
    let r = owner
        .client
        .post(format!("{}/console/licenses/L-1/offline", s.url))
        .header("cookie", owner.cookie_header())
        .multipart(reqwest::blocking::multipart::Form::new().text("file", "x"))
        .send()
        .unwrap();
    assert_eq!(r.status().as_u16(), 403);
    // A sign-in form posted without the cookie its token came with (a
    // login CSRF from another site): refused.
    let mut stranger = Web::new(&s);
    let r = stranger.post(
        "/console/sign-in",
        &[
            ("csrf", "anything"),
            ("email", "owner@vendor.example"),
            ("password", OWNER_PASSWORD),
        ],
    );
    assert_eq!(r.status, 403);
}

#[test]
fn a_planted_or_stolen_session_cookie_is_worth_nothing() {
    let s = start();
    first_owner(&s);
    // Fixation: a session id planted before sign-in is never the one the
    // server gives.
    let mut victim = Web::new(&s);
    victim
        .cookies
        .insert("tessera_console".into(), "planted-by-the-attacker".into());
    let page = victim.get("/console/sign-in");
    victim.post(
        "/console/sign-in",
        &[
            ("csrf", &page.csrf()),
            ("email", "owner@vendor.example"),
            ("password", OWNER_PASSWORD),
        ],
    );
    let given = victim.cookies["tessera_console"].clone();
    assert_ne!(given, "planted-by-the-attacker");
    let mut attacker = Web::new(&s);
    attacker
        .cookies
        .insert("tessera_console".into(), "planted-by-the-attacker".into());
    assert_eq!(attacker.get("/console/licenses").status, 303);
    // A stolen cookie works only while its session lives: after sign-out it
    // is refused.
    let mut thief = Web::new(&s);
    thief
        .cookies
        .insert("tessera_console".into(), given.clone());
    assert_eq!(thief.get("/console/licenses").status, 200);
    let csrf = victim.get("/console/account").csrf();
    let out = victim.post("/console/sign-out", &[("csrf", &csrf)]);
    assert_eq!(
        (out.status, out.location().as_str()),
        (303, "/console/sign-in")
    );
    let after = thief.get("/console/licenses");
    assert_eq!(
        (after.status, after.location().as_str()),
        (303, "/console/sign-in")
    );
    // Sign out everywhere ends the other sessions too.
    let mut laptop = sign_in(&s, "owner@vendor.example", OWNER_PASSWORD);
    let mut desktop = sign_in(&s, "owner@vendor.example", OWNER_PASSWORD);
    let csrf = laptop.get("/console/account").csrf();
    laptop.post("/console/sign-out-everywhere", &[("csrf", &csrf)]);
    assert_eq!(desktop.get("/console/").status, 303);
    // A session idle for more than an hour has ended (the test clock).
    let mut idle = sign_in(&s, "owner@vendor.example", OWNER_PASSWORD);
    assert_eq!(idle.get("/console/").status, 200);
    let later = chrono::DateTime::from_timestamp(server_now(&s) + 61 * 60, 0).unwrap();
    let set = admin(
        &s,
        "POST",
        "/admin/v1/clock",
        json!({"now": later.format("%Y-%m-%dT%H:%M:%SZ").to_string()}),
    );
    assert_eq!(set.status, 200, "{}", set.body);
    assert_eq!(idle.get("/console/").status, 303);
    // A session used every 50 minutes still ends 12 hours after sign-in.
    let set_clock = |at: i64| {
        let now = chrono::DateTime::from_timestamp(at, 0).unwrap();
        let r = admin(
            &s,
            "POST",
            "/admin/v1/clock",
            json!({"now": now.format("%Y-%m-%dT%H:%M:%SZ").to_string()}),
        );
        assert_eq!(r.status, 200, "{}", r.body);
    };
    let mut busy = sign_in(&s, "owner@vendor.example", OWNER_PASSWORD);
    let signed_in_at = server_now(&s);
    let mut at = signed_in_at;
    while at + 50 * 60 < signed_in_at + 12 * 3600 {
        at += 50 * 60;
        set_clock(at);
        assert_eq!(
            busy.get("/console/").status,
            200,
            "{} s after sign-in",
            at - signed_in_at
        );
    }
    set_clock(signed_in_at + 12 * 3600 + 1);
    assert_eq!(busy.get("/console/").status, 303);
}

/// RFC 6238's code for `secret` (base32) at Unix time `at`.
fn totp(secret: &str, at: i64) -> String {
    let alphabet = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
    let (mut key, mut buffer, mut bits) = (Vec::new(), 0u32, 0u32);
    for c in secret.bytes() {
        buffer = (buffer << 5) | alphabet.iter().position(|a| *a == c).unwrap() as u32;
        bits += 5;
        if bits >= 8 {
            bits -= 8;
            key.push((buffer >> bits) as u8);
        }
    }
    let tag = ring::hmac::sign(
        &ring::hmac::Key::new(ring::hmac::HMAC_SHA1_FOR_LEGACY_USE_ONLY, &key),
        &(at / 30).to_be_bytes(),
    );
    let m = tag.as_ref();
    let o = (m[19] & 15) as usize;
    let word = u32::from_be_bytes([m[o] & 0x7f, m[o + 1], m[o + 2], m[o + 3]]);
    format!("{:06}", word % 1_000_000)
}

fn server_now(s: &Server) -> i64 {
    chrono::DateTime::parse_from_rfc2822(&server_date(s))
        .unwrap()
        .timestamp()
}

#[test]
fn the_second_factor_is_asked_for_taken_once_and_throttled() {
    let s = start();
    let mut owner = first_owner(&s);
    let account = owner.get("/console/account");
    let at = account.body.find("name=\"secret\" value=\"").unwrap();
    let secret = account.body[at + 21..]
        .split('"')
        .next()
        .unwrap()
        .to_owned();
    let now = server_now(&s);
    let on = owner.submit(
        "/console/account",
        "/console/account/second-factor",
        &[
            ("turn", "on"),
            ("secret", &secret),
            ("code", &totp(&secret, now)),
        ],
    );
    assert_eq!(on.location(), "/console/account?done=second-factor-on");
    // The password alone no longer signs in: a half session, good only for
    // the code page.
    let mut w = Web::new(&s);
    let page = w.get("/console/sign-in");
    let half = w.post(
        "/console/sign-in",
        &[
            ("csrf", &page.csrf()),
            ("email", "owner@vendor.example"),
            ("password", OWNER_PASSWORD),
        ],
    );
    assert_eq!(half.location(), "/console/sign-in/code");
    assert_eq!(w.get("/console/licenses").status, 303);
    // Back to the sign-in form with the half session: it still takes the
    // password (its own form's token), and a new half session replaces the
    // old one.
    let page = w.get("/console/sign-in");
    let again = w.post(
        "/console/sign-in",
        &[
            ("csrf", &page.csrf()),
            ("email", "owner@vendor.example"),
            ("password", OWNER_PASSWORD),
        ],
    );
    assert_eq!(again.location(), "/console/sign-in/code", "{}", again.body);
    // The code used to turn it on is not taken again (replay).
    let code_page = w.get("/console/sign-in/code");
    let replay = w.post(
        "/console/sign-in/code",
        &[("csrf", &code_page.csrf()), ("code", &totp(&secret, now))],
    );
    assert_eq!(replay.status, 401);
    // The next step's code is taken.
    let next = w.post(
        "/console/sign-in/code",
        &[
            ("csrf", &code_page.csrf()),
            ("code", &totp(&secret, now + 30)),
        ],
    );
    assert_eq!((next.status, next.location().as_str()), (303, "/console/"));
    assert_eq!(w.get("/console/licenses").status, 200);
    // Guessing: five wrong codes, then even the right one waits.
    let mut g = Web::new(&s);
    let page = g.get("/console/sign-in");
    g.post(
        "/console/sign-in",
        &[
            ("csrf", &page.csrf()),
            ("email", "owner@vendor.example"),
            ("password", OWNER_PASSWORD),
        ],
    );
    let csrf = g.get("/console/sign-in/code").csrf();
    for guess in ["000000", "111111", "222222", "333333", "444444"] {
        let r = g.post("/console/sign-in/code", &[("csrf", &csrf), ("code", guess)]);
        assert_eq!(r.status, 401);
    }
    let r = g.post(
        "/console/sign-in/code",
        &[("csrf", &csrf), ("code", &totp(&secret, now - 30))],
    );
    assert_eq!(r.status, 401);
    assert!(r.body.contains("Too many wrong codes"), "{}", r.body);
}

const XSS: &str = "<script>alert(1)</script>\"'><img src=x onerror=alert(2)>";

#[test]
fn stored_text_is_escaped_on_every_page() {
    let s = start();
    let p = product(&s, "xss-prod");
    // A payload in every text field the admin API takes that a page shows.
    let a = admin(
        &s,
        "POST",
        "/admin/v1/products",
        json!({"code": "xss2", "name": XSS}),
    );
    assert_eq!(a.status, 200, "{}", a.body);
    admin(
        &s,
        "POST",
        "/admin/v1/definitions",
        json!({"product": p.code, "code": "D", "name": XSS,
               "spec": {"license_type": "perpetual", "product_details": {"short_code": p.code}}}),
    );
    license(
        &s,
        &p,
        "KEY-XSS",
        json!({"id": "L-XSS", "license_type": "perpetual", "max_activations": 3,
               "product_features": [{"code": "f1", "name": XSS}]}),
    );
    let u = admin(
        &s,
        "POST",
        "/admin/v1/users",
        json!({"username": "xss-user", "password": "user-password-0123", "email": "x@example.com",
               "first_name": XSS, "last_name": XSS}),
    );
    assert_eq!(u.status, 200, "{}", u.body);
    let user = u.body["id"].as_str().unwrap().to_owned();
    admin(
        &s,
        "POST",
        &format!("/admin/v1/licenses/L-XSS/users/{user}"),
        Value::Null,
    );
    let sso = admin(
        &s,
        "PUT",
        "/admin/v1/accounts/xss-acct/sso",
        json!({"issuer": "https://idp.example.com/<script>", "client_id": XSS,
               "jwks_uri": "https://idp.example.com/jwks", "client_secret": "test-only-sso-secret"}),
    );
    // A device whose SDK names itself with a payload (its User-Agent).
    let body = who(&p, "KEY-XSS", 7).to_string();
    let date = server_date(&s);
    let nonce = nonce();
    let msg = tessera::protocol::request::request_string(
        &date,
        "POST",
        "/api/v1/activate_license",
        body.as_bytes(),
        &nonce,
    );
    let sig = tessera::protocol::request::sign(&p.key, &msg).unwrap();
    let r = s
        .client
        .post(format!("{}/api/v1/activate_license", s.url))
        .header("date", &date)
        .header("tessera-nonce", &nonce)
        .header(
            "authorization",
            tessera::protocol::request::authorization(&p.code, &sig),
        )
        .header("user-agent", "<script>alert(3)</script>")
        .body(body)
        .send()
        .unwrap();
    assert_eq!(r.status().as_u16(), 200);
    let mut owner = first_owner(&s);
    add_staff(&mut owner, XSS, "xss@vendor.example", "viewer");
    let mut shown = 0;
    for path in [
        "/console/products",
        "/console/licenses/L-XSS",
        "/console/users",
        "/console/sso",
        "/console/staff",
        "/console/audit",
        "/console/licenses?q=%3Cscript%3E",
    ] {
        let page = owner.get(path);
        assert_eq!(page.status, 200, "{path}");
        assert!(
            !page.body.contains("<script>alert"),
            "{path} runs a stored script"
        );
        assert!(
            !page.body.contains("<img src=x"),
            "{path} shows a stored tag"
        );
        if page.body.contains("&lt;script&gt;") || page.body.contains("&#60;script&#62;") {
            shown += 1;
        }
    }
    assert!(
        shown >= 5,
        "the payload was shown (escaped) on {shown} pages only"
    );
    let _ = sso;
    let mut portal = portal_sign_in(&s, "xss-user", "user-password-0123");
    let home = portal.get("/portal/");
    assert!(!home.body.contains("<script>alert"));
}

/// Two customers: Alice's user and Bob's, each with a license and a
/// device. Alice sees and changes only her own.
#[test]
fn a_customer_sees_and_frees_only_their_own() {
    let s = start();
    let p = product(&s, "acme-cad");
    for (name, license_id, key) in [
        ("alice", "L-ALICE", "KEY-ALICE-SECRET"),
        ("bob", "L-BOB", "KEY-BOB-SECRET"),
    ] {
        license(
            &s,
            &p,
            key,
            json!({"id": license_id, "license_type": "perpetual", "max_activations": 3, "max_transfers": 1}),
        );
        let u = admin(
            &s,
            "POST",
            "/admin/v1/users",
            json!({"username": name, "password": format!("{name}-password-0123")}),
        );
        let id = u.body["id"].as_str().unwrap().to_owned();
        let a = admin(
            &s,
            "POST",
            &format!("/admin/v1/licenses/{license_id}/users/{id}"),
            Value::Null,
        );
        assert_eq!(a.status, 200, "{}", a.body);
    }
    activate(&s, &p, "KEY-ALICE-SECRET", 1);
    activate(&s, &p, "KEY-ALICE-SECRET", 2);
    activate(&s, &p, "KEY-ALICE-SECRET", 3);
    activate(&s, &p, "KEY-BOB-SECRET", 9);
    let mut alice = portal_sign_in(&s, "alice", "alice-password-0123");
    let home = alice.get("/portal/");
    assert!(home.body.contains("/portal/licenses/L-ALICE"));
    assert!(!home.body.contains("L-BOB"));
    // Bob's license, his device, his offline form: the same 404 as no license.
    assert_eq!(alice.get("/portal/licenses/L-BOB").status, 404);
    let r = alice.submit(
        "/portal/",
        "/portal/licenses/L-BOB/devices/device-0009/free",
        &[],
    );
    assert_eq!(r.status, 404);
    assert_eq!(devices_of(&s, "L-BOB"), ["device-0009"]);
    // Her own device: freed, one transfer.
    let r = alice.submit(
        "/portal/licenses/L-ALICE",
        "/portal/licenses/L-ALICE/devices/device-0001/free",
        &[],
    );
    assert_eq!(
        r.location(),
        "/portal/licenses/L-ALICE?done=freed",
        "{}",
        r.body
    );
    assert!(!devices_of(&s, "L-ALICE").contains(&"device-0001".to_owned()));
    let l = admin(&s, "GET", "/admin/v1/licenses/L-ALICE", Value::Null);
    assert_eq!(l.body["transfer_count"], 1);
    // max_transfers is 1: the next one is refused, and the device stays.
    let r = alice.submit(
        "/portal/licenses/L-ALICE",
        "/portal/licenses/L-ALICE/devices/device-0002/free",
        &[],
    );
    assert_eq!(r.status, 409, "{}", r.body);
    assert!(devices_of(&s, "L-ALICE").contains(&"device-0002".to_owned()));
    // The portal's session is not the console's.
    let mut cross = Web::new(&s);
    cross.cookies.insert(
        "tessera_console".into(),
        alice.cookies["tessera_portal"].clone(),
    );
    assert_eq!(cross.get("/console/licenses").status, 303);
    // In the audit log under the user's name.
    let log = admin(&s, "GET", "/admin/v1/audit", Value::Null)
        .body
        .to_string();
    assert!(log.contains("user alice (portal)"), "{log}");
}

#[test]
fn an_offline_activation_runs_in_the_portal_and_the_console() {
    use tessera::activation::offline;
    use tessera::activation::Credential;
    use tessera::{Keyring, LicenseHandle, LocalConfig};
    let s = start();
    let p = product(&s, "acme-cad");
    license(
        &s,
        &p,
        "KEY-AIR-SECRET",
        json!({"id": "L-AIR", "license_type": "perpetual", "max_activations": 2}),
    );
    license(
        &s,
        &p,
        "KEY-OTHER",
        json!({"id": "L-OTHER", "license_type": "perpetual"}),
    );
    let u = admin(
        &s,
        "POST",
        "/admin/v1/users",
        json!({"username": "carol", "password": "carol-password-0123"}),
    );
    let id = u.body["id"].as_str().unwrap().to_owned();
    admin(
        &s,
        "POST",
        &format!("/admin/v1/licenses/L-AIR/users/{id}"),
        Value::Null,
    );
    let store = tempfile::tempdir().unwrap();
    let mut config = LocalConfig::new(&p.code, Keyring::from_keys([s.key.clone()]));
    config.secret = b"test-only vendor secret".to_vec();
    config.store_dir = Some(store.path().to_owned());
    config.custom_device_id = Some("air-gapped-pc".into());
    let request =
        offline::request_activation(&config, &Credential::LicenseKey("KEY-AIR-SECRET".into()))
            .unwrap();
    let mut carol = portal_sign_in(&s, "carol", "carol-password-0123");
    // A request for another license is refused.
    let other_store = tempfile::tempdir().unwrap();
    let mut other_config = config.clone();
    other_config.store_dir = Some(other_store.path().to_owned());
    let other =
        offline::request_activation(&other_config, &Credential::LicenseKey("KEY-OTHER".into()))
            .unwrap();
    let r = carol.upload(
        "/portal/licenses/L-AIR",
        "/portal/licenses/L-AIR/offline",
        &other,
    );
    assert_eq!(r.status().as_u16(), 403);
    // Her own: the answer file, which the device imports.
    let r = carol.upload(
        "/portal/licenses/L-AIR",
        "/portal/licenses/L-AIR/offline",
        &request,
    );
    assert_eq!(r.status().as_u16(), 200);
    assert!(r.headers()["content-disposition"]
        .to_str()
        .unwrap()
        .contains("attachment"));
    let answer = r.text().unwrap();
    offline::import_response(&config, answer.as_bytes()).unwrap();
    assert_eq!(
        LicenseHandle::open(&config).unwrap().check().unwrap(),
        tessera::Status::Valid
    );
    // The deactivation's request frees the slot.
    let deactivation = offline::request_deactivation(&config, "L-AIR").unwrap();
    let r = carol.upload(
        "/portal/licenses/L-AIR",
        "/portal/licenses/L-AIR/offline",
        &deactivation,
    );
    assert_eq!(r.status().as_u16(), 303);
    assert!(devices_of(&s, "L-AIR").is_empty());
    // Staff do the same from the license's page.
    let request =
        offline::request_activation(&config, &Credential::LicenseKey("KEY-AIR-SECRET".into()))
            .unwrap();
    let mut owner = first_owner(&s);
    let r = owner.upload(
        "/console/licenses/L-AIR",
        "/console/licenses/L-AIR/offline",
        &request,
    );
    assert_eq!(r.status().as_u16(), 200);
    assert_eq!(devices_of(&s, "L-AIR").len(), 1);
}

#[test]
fn no_secret_is_on_a_page_or_in_the_log() {
    let s = start();
    business(&s);
    let sso = admin(
        &s,
        "PUT",
        "/admin/v1/accounts/globex/sso",
        json!({"issuer": "https://idp.example.com", "client_id": "console",
               "jwks_uri": "https://idp.example.com/jwks", "client_secret": "test-only-sso-client-secret"}),
    );
    assert_eq!(sso.status, 200, "{}", sso.body);
    let u = admin(
        &s,
        "POST",
        "/admin/v1/users",
        json!({"username": "dave", "password": "dave-password-0123"}),
    );
    let id = u.body["id"].as_str().unwrap().to_owned();
    admin(
        &s,
        "POST",
        &format!("/admin/v1/licenses/L-1/users/{id}"),
        Value::Null,
    );
    let mut owner = first_owner(&s);
    // A failed sign-in with a password typed in the e-mail field.
    let mut w = Web::new(&s);
    let page = w.get("/console/sign-in");
    w.post(
        "/console/sign-in",
        &[
            ("csrf", &page.csrf()),
            ("email", "owner-password-0123"),
            ("password", "wrong-password-123"),
        ],
    );
    let mut bodies = String::new();
    for path in [
        "/console/",
        "/console/licenses",
        "/console/licenses/L-1",
        "/console/products",
        "/console/customers",
        "/console/users",
        "/console/trials",
        "/console/releases",
        "/console/sso",
        "/console/audit",
        "/console/staff",
        "/console/account",
    ] {
        bodies.push_str(&owner.get(path).body);
    }
    let mut dave = portal_sign_in(&s, "dave", "dave-password-0123");
    for path in ["/portal/", "/portal/licenses/L-1", "/portal/releases"] {
        bodies.push_str(&dave.get(path).body);
    }
    let mut s = s;
    let log = s.stop_and_read_log();
    for secret in [
        ADMIN,
        OWNER_PASSWORD,
        "dave-password-0123",
        "wrong-password-123",
        "KEY-GLOBEX-0001-SECRET",
        "KEY-TRIAL-0001-SECRET",
        "test-only-sso-client-secret",
    ] {
        assert!(!bodies.contains(secret), "a page shows {secret}");
        assert!(!log.contains(secret), "the log shows {secret}");
    }
}

#[test]
fn the_command_line_makes_an_owner_with_a_password_from_standard_input() {
    use std::io::Write as _;
    let s = start();
    let config = s.dir.path().join("server.json");
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_tessera-server"))
        .args([
            "--config",
            config.to_str().unwrap(),
            "create-owner",
            "Cli@Vendor.example",
            "Cleo CLI",
        ])
        .env("TESSERA_SERVER_DATABASE", database_for(s.dir.path()))
        .env(
            "TESSERA_SERVER_SIGNING_KEY",
            s.dir.path().join("server.key"),
        )
        .env("TESSERA_ADMIN_TOKEN", ADMIN)
        .env("TESSERA_SERVER_LISTEN", "127.0.0.1:0")
        .stdin(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(b"cli-password-0123\n")
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(!String::from_utf8_lossy(&out.stderr).contains("cli-password-0123"));
    let mut w = sign_in(&s, "cli@vendor.example", "cli-password-0123");
    assert!(w.get("/console/staff").body.contains("Cleo CLI"));
    // Too short a password: refused, nothing made.
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_tessera-server"))
        .args([
            "--config",
            config.to_str().unwrap(),
            "create-owner",
            "short@vendor.example",
            "Short",
        ])
        .env("TESSERA_SERVER_DATABASE", database_for(s.dir.path()))
        .env(
            "TESSERA_SERVER_SIGNING_KEY",
            s.dir.path().join("server.key"),
        )
        .env("TESSERA_ADMIN_TOKEN", ADMIN)
        .stdin(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(b"short\n").unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(!out.status.success());
    assert!(!w
        .get("/console/staff")
        .body
        .contains("short@vendor.example"));
}

/// The provider's address on the page that goes on to it (its link, the
/// HTML's `&amp;` read back).
fn continue_link(page: &Page) -> String {
    let marker = "id=\"continue\" href=\"";
    let at = page.body.find(marker).expect("a link to the provider");
    let rest = &page.body[at + marker.len()..];
    rest[..rest.find('"').unwrap()]
        .replace("&amp;", "&")
        .replace("&#38;", "&")
}

/// A customer's user signs in to the portal through the account's own
/// provider (PKCE, the state checked); a forged or replayed callback and a
/// provider's refusal sign no one in.
#[test]
fn the_portal_signs_in_through_the_accounts_provider() {
    use common::idp::{Provider, CLIENT, DESKTOP_CLIENT, ISSUER};
    let s = start();
    let idp = Provider::start();
    let p = product(&s, "acme-cad");
    license(
        &s,
        &p,
        "KEY-SSO-SECRET",
        json!({"id": "L-SSO", "license_type": "perpetual"}),
    );
    let u = admin(
        &s,
        "POST",
        "/admin/v1/users",
        json!({"username": "ada@example.com", "password": "ada-password-0123"}),
    );
    let id = u.body["id"].as_str().unwrap().to_owned();
    admin(
        &s,
        "POST",
        &format!("/admin/v1/licenses/L-SSO/users/{id}"),
        Value::Null,
    );
    let set = admin(
        &s,
        "PUT",
        "/admin/v1/accounts/acme/sso",
        json!({"issuer": ISSUER, "client_id": CLIENT,
               "jwks_uri": format!("{}/jwks", idp.url),
               "token_endpoint": format!("{}/token", idp.url),
               "authorization_endpoint": format!("{}/authorize", idp.url),
               "desktop_client_id": DESKTOP_CLIENT,
               "domains": ["example.com"]}),
    );
    assert_eq!(set.status, 200, "{}", set.body);
    let go = |w: &mut Web, email: &str| -> Page {
        let csrf = w.get("/portal/sign-in").csrf();
        w.post("/portal/sso", &[("csrf", &csrf), ("email", email)])
    };
    // An unknown domain: back to the password form, said plainly.
    let mut w = Web::new(&s);
    let none = go(&mut w, "someone@elsewhere.example");
    assert_eq!(none.status, 404);
    assert!(none.body.contains("use the password"));
    // The provider, then back with a code: signed in.
    let to_idp = go(&mut w, "ada@example.com");
    assert_eq!(to_idp.status, 200);
    let authorize = continue_link(&to_idp);
    assert!(
        authorize.starts_with(&format!("{}/authorize?", idp.url)),
        "{authorize}"
    );
    assert!(authorize.contains("code_challenge_method=S256"));
    let back = w.client.get(&authorize).send().unwrap();
    let callback = back.headers()["location"].to_str().unwrap().to_owned();
    let path = callback.strip_prefix(&s.url).unwrap().to_owned();
    // Another browser (no state cookie) with the same callback: refused.
    let mut stranger = Web::new(&s);
    let r = stranger.get(&path);
    assert_eq!(r.status, 401);
    assert!(!stranger.cookies.contains_key("tessera_portal"));
    // A forged state in this browser: refused.
    let forged = path.replacen("state=", "state=x", 1);
    let saved = w.cookies.clone();
    assert_eq!(w.get(&forged).status, 401);
    w.cookies = saved;
    let done = w.get(&path);
    assert_eq!(
        (done.status, done.location().as_str()),
        (303, "/portal/"),
        "{}",
        done.body
    );
    assert!(w.get("/portal/").body.contains("/portal/licenses/L-SSO"));
    // The same callback again (its code is spent, its state cookie gone).
    let mut again = Web::new(&s);
    again
        .cookies
        .insert("tessera_portal_sso".into(), "a.b.acme".into());
    assert_eq!(again.get(&path).status, 401);
    // The provider says no.
    idp.desk.lock().unwrap().deny_next = true;
    let mut denied = Web::new(&s);
    let to_idp = go(&mut denied, "ada@example.com");
    let back = denied.client.get(continue_link(&to_idp)).send().unwrap();
    let path = back.headers()["location"]
        .to_str()
        .unwrap()
        .strip_prefix(&s.url)
        .unwrap()
        .to_owned();
    let r = denied.get(&path);
    assert_eq!(r.status, 401);
    assert!(!denied.cookies.contains_key("tessera_portal"));
}
