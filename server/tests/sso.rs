//! Single sign-on through seed 003's `GET /api/v4/user_licenses`
//! (docs/COMPAT.md): an OpenID Connect provider runs on loopback in the
//! test, signs real tokens with throwaway test keys (RS256 and EdDSA),
//! serves its key set and its token endpoint, and the server verifies what
//! it signed: nothing about the verifier is stubbed.

// A test may fail by panicking, and its shared helpers are `pub` to its modules.
#![allow(clippy::unwrap_used, clippy::expect_used, unreachable_pub)]

mod common;

use std::net::TcpListener;
use std::sync::atomic::Ordering;

use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD as B64URL};
use base64::Engine as _;
use ed25519_dalek::Signer as _;
use serde_json::{json, Value};

use common::licensespring;
use common::*;

use common::idp::{Provider, CLIENT, ISSUER, REDIRECT, SECRET};

/// The server's clock, in Unix seconds (tokens are dated by it).
fn server_now(s: &Server) -> i64 {
    chrono::DateTime::parse_from_rfc2822(&server_date(s))
        .unwrap()
        .timestamp()
}

fn claims(now: i64, email: &str) -> Value {
    json!({"iss": ISSUER, "aud": CLIENT, "sub": "248289761001", "email": email,
           "iat": now - 10, "exp": now + 300})
}

/// `GET /api/v4/user_licenses` signed with LicenseSpring's HMAC for `p`.
fn user_licenses(s: &Server, p: &Product, query: &[(&str, &str)]) -> Answer {
    let shared = STANDARD.encode(&p.key);
    licensespring::get(s, query, &p.code, &shared, &server_date(s))
}

/// A server with product `up`, the user ada, and two of ada's licenses,
/// one sold to customer account `acme` and one to `globex`; acme's
/// provider is `idp`.
fn setup(idp: &Provider) -> (Server, Product) {
    let s = start();
    let p = product(&s, "up");
    let a = admin(
        &s,
        "POST",
        "/admin/v1/users",
        json!({"username": "Ada@Example.com", "password": "test-only-password"}),
    );
    assert_eq!(a.status, 200, "{}", a.body);
    let user = a.body["id"].as_str().unwrap().to_owned();
    for (id, account) in [("L-ACME", "acme"), ("L-GLOBEX", "globex")] {
        let spec = json!({"id": id, "license_type": "perpetual",
                          "product_details": {"short_code": "up"}});
        let l = admin(
            &s,
            "POST",
            "/admin/v1/licenses",
            json!({"spec": spec, "account": account}),
        );
        assert_eq!(l.status, 200, "{}", l.body);
        let path = format!("/admin/v1/licenses/{id}/users/{user}");
        assert_eq!(admin(&s, "POST", &path, Value::Null).status, 200);
    }
    let set = admin(
        &s,
        "PUT",
        "/admin/v1/accounts/acme/sso",
        json!({"issuer": ISSUER, "client_id": CLIENT, "client_secret": SECRET,
               "jwks_uri": format!("{}/jwks", idp.url),
               "token_endpoint": format!("{}/token", idp.url),
               "redirect_uri": REDIRECT}),
    );
    assert_eq!(set.status, 200, "{}", set.body);
    (s, p)
}

fn order_ids(a: &Answer) -> Vec<&str> {
    a.body
        .as_array()
        .unwrap_or_else(|| panic!("{} {}", a.status, a.body))
        .iter()
        .map(|l| l["order_store_id"].as_str().unwrap())
        .collect()
}

/// Stops the server: its log was read to the end and names none of
/// `secrets` (docs/SECURITY.md, Secrets).
fn assert_log_keeps(s: &mut Server, secrets: &[&str]) {
    let log = s.stop_and_read_log();
    assert!(log.contains("listening"), "the log was not read: {log:?}");
    for secret in secrets {
        assert!(!log.contains(secret), "the log shows {secret:?}");
    }
}

#[test]
fn an_id_token_from_the_accounts_provider_signs_its_user_in() {
    let idp = Provider::start();
    let (s, p) = setup(&idp);
    let now = server_now(&s);
    let sso = |token: &str| {
        user_licenses(
            &s,
            &p,
            &[
                ("product", "up"),
                ("id_token", token),
                ("customer_account_code", "acme"),
            ],
        )
    };
    // Both algorithms; the email claim's spelling folds as a username does.
    for header in [
        json!({"alg": "RS256", "kid": "rsa-1", "typ": "JWT"}),
        json!({"alg": "EdDSA", "kid": "ed-1"}),
    ] {
        let a = sso(&idp.sign(&header, &claims(now, "ada@EXAMPLE.com")));
        assert_eq!(a.status, 200, "{header}: {}", a.body);
        // Only what was sold to the account the user signed in through.
        assert_eq!(order_ids(&a), ["L-ACME"]);
        licensespring::assert_valid(&licensespring::schema("response"), &a.body);
    }
    // The key set was fetched once and kept.
    assert_eq!(idp.fetches.load(Ordering::SeqCst), 1);

    // The provider rotates in a new key: a token naming it fetches the
    // set again, once.
    let rotated = ed25519_dalek::SigningKey::from_bytes(&[9; 32]);
    idp.keys
        .lock()
        .unwrap()
        .push(json!({"kty": "OKP", "kid": "ed-2", "crv": "Ed25519",
               "x": B64URL.encode(rotated.verifying_key().as_bytes())}));
    let header = json!({"alg": "EdDSA", "kid": "ed-2"});
    let input = format!(
        "{}.{}",
        B64URL.encode(header.to_string()),
        B64URL.encode(claims(now, "ada@example.com").to_string())
    );
    let token = format!(
        "{input}.{}",
        B64URL.encode(rotated.sign(input.as_bytes()).to_bytes())
    );
    let a = sso(&token);
    assert_eq!((a.status, order_ids(&a)), (200, vec!["L-ACME"]));
    assert_eq!(idp.fetches.load(Ordering::SeqCst), 2);
}

#[test]
fn an_authorization_code_is_exchanged_at_the_accounts_provider() {
    let idp = Provider::start();
    let (mut s, p) = setup(&idp);
    let now = server_now(&s);
    let token = idp.sign(
        &json!({"alg": "RS256", "kid": "rsa-1"}),
        &claims(now, "ada@example.com"),
    );
    idp.codes
        .lock()
        .unwrap()
        .insert("SplxlOBeZQQYbYS6WxSbIA".into(), token.clone());
    let by_code = |code: &str| {
        user_licenses(
            &s,
            &p,
            &[
                ("product", "up"),
                ("code", code),
                ("customer_account_code", "acme"),
            ],
        )
    };
    let a = by_code("SplxlOBeZQQYbYS6WxSbIA");
    assert_eq!(a.status, 200, "{}", a.body);
    assert_eq!(order_ids(&a), ["L-ACME"]);
    // The provider takes a code once; a second use, or a made-up code, is
    // the provider's refusal.
    for code in ["SplxlOBeZQQYbYS6WxSbIA", "made-up"] {
        let a = by_code(code);
        assert_eq!(
            (a.status, a.body["code"].as_str()),
            (401, Some("sso_refused")),
            "{}",
            a.body
        );
    }
    // LicenseSpring's own library sends the redirect URI with the code: the
    // account's is taken, another is refused before the code is spent.
    idp.codes
        .lock()
        .unwrap()
        .insert("second-code".into(), token.clone());
    let with_redirect = |uri: &str| {
        user_licenses(
            &s,
            &p,
            &[
                ("product", "up"),
                ("code", "second-code"),
                ("customer_account_code", "acme"),
                ("redirect_uri", uri),
            ],
        )
    };
    let a = with_redirect("https://app.example.com/elsewhere");
    assert_eq!(
        (a.status, a.body["code"].as_str()),
        (400, Some("redirect_uri_mismatch")),
        "{}",
        a.body
    );
    let a = with_redirect(REDIRECT);
    assert_eq!((a.status, order_ids(&a)), (200, vec!["L-ACME"]));
    // A redirect URI without a code is refused.
    let a = user_licenses(
        &s,
        &p,
        &[
            ("product", "up"),
            ("id_token", &token),
            ("customer_account_code", "acme"),
            ("redirect_uri", REDIRECT),
        ],
    );
    assert_eq!(a.status, 400, "{}", a.body);
    // Neither the client secret the exchange sent, nor the code, nor the
    // token it brought back is in the server's log.
    assert_log_keeps(&mut s, &[SECRET, "SplxlOBeZQQYbYS6WxSbIA", &token]);
}

#[test]
fn tokens_the_account_did_not_sign_for_are_refused() {
    let idp = Provider::start();
    let (mut s, p) = setup(&idp);
    let now = server_now(&s);
    let rs = json!({"alg": "RS256", "kid": "rsa-1"});
    let ed = json!({"alg": "EdDSA", "kid": "ed-1"});
    let with = |k: &str, v: Value| {
        let mut c = claims(now, "ada@example.com");
        c[k] = v;
        c
    };
    let good = idp.sign(&rs, &claims(now, "ada@example.com"));
    let (head, rest) = good.split_once('.').unwrap();
    let (body, sig) = rest.split_once('.').unwrap();
    let mut forged_claims = claims(now, "ada@example.com");
    forged_claims["email"] = json!("eve@example.com");
    let mut flipped = B64URL.decode(sig).unwrap();
    flipped[10] ^= 1;
    // A stranger's key, named as the provider's.
    let stranger = ed25519_dalek::SigningKey::from_bytes(&[1; 32]);
    let input = format!(
        "{}.{}",
        B64URL.encode(ed.to_string()),
        B64URL.encode(claims(now, "ada@example.com").to_string())
    );
    let strangers = format!(
        "{input}.{}",
        B64URL.encode(stranger.sign(input.as_bytes()).to_bytes())
    );
    let cases: Vec<(&str, String, &str)> = vec![
        (
            "another issuer",
            idp.sign(&rs, &with("iss", json!("https://evil.example"))),
            "sso_refused",
        ),
        (
            "another audience",
            idp.sign(&ed, &with("aud", json!(["someone-else"]))),
            "sso_refused",
        ),
        (
            "expired",
            idp.sign(&rs, &with("exp", json!(now - 120))),
            "sso_refused",
        ),
        (
            "not yet valid",
            idp.sign(&ed, &with("nbf", json!(now + 600))),
            "sso_refused",
        ),
        (
            "no expiry",
            idp.sign(&ed, &{
                let mut c = claims(now, "ada@example.com");
                c.as_object_mut().unwrap().remove("exp");
                c
            }),
            "sso_refused",
        ),
        (
            "alg none",
            idp.sign(&json!({"alg": "none"}), &claims(now, "ada@example.com")),
            "sso_refused",
        ),
        (
            "HS256 keyed with the public key",
            idp.sign(
                &json!({"alg": "HS256", "kid": "rsa-1"}),
                &claims(now, "ada@example.com"),
            ),
            "sso_refused",
        ),
        (
            "claims swapped under a valid signature",
            format!("{head}.{}.{sig}", B64URL.encode(forged_claims.to_string())),
            "sso_refused",
        ),
        (
            "a flipped signature bit",
            format!("{head}.{body}.{}", B64URL.encode(&flipped)),
            "sso_refused",
        ),
        ("a stranger's key", strangers, "sso_refused"),
        (
            "an RS256 token naming the Ed25519 key",
            idp.sign(
                &json!({"alg": "RS256", "kid": "ed-1"}),
                &claims(now, "ada@example.com"),
            ),
            "sso_refused",
        ),
        (
            "an address the provider has not verified",
            idp.sign(&ed, &with("email_verified", json!(false))),
            "sso_refused",
        ),
        (
            "an address marked unverified as a string",
            idp.sign(&ed, &with("email_verified", json!("false"))),
            "sso_refused",
        ),
        ("not a JWT", "eyJ...".into(), "sso_refused"),
        (
            "a user the server does not know",
            idp.sign(&rs, &claims(now, "mallory@example.com")),
            "sso_user_unknown",
        ),
    ];
    let fetched = idp.fetches.load(Ordering::SeqCst);
    let errors = licensespring::schema("error");
    let sent: Vec<String> = cases.iter().map(|(_, token, _)| token.clone()).collect();
    for (what, token, code) in cases {
        let a = user_licenses(
            &s,
            &p,
            &[
                ("product", "up"),
                ("id_token", &token),
                ("customer_account_code", "acme"),
            ],
        );
        assert_eq!(
            (a.status, a.body["code"].as_str()),
            (401, Some(code)),
            "{what}: {}",
            a.body
        );
        assert!(
            !a.body.to_string().contains(&token),
            "{what}: the answer repeats the token"
        );
        licensespring::assert_valid(&errors, &a.body);
    }
    // The set was fetched once, and once more for the token naming a key
    // the set lacks (an RSA key called ed-1); a refused signature by a key
    // the set holds fetches nothing.
    assert_eq!(idp.fetches.load(Ordering::SeqCst), fetched + 2);

    // A good token through an account whose provider did not sign it.
    let a = user_licenses(
        &s,
        &p,
        &[
            ("product", "up"),
            ("id_token", &good),
            ("customer_account_code", "globex"),
        ],
    );
    assert_eq!(
        (a.status, a.body["code"].as_str()),
        (400, Some("sso_not_configured")),
        "{}",
        a.body
    );
    // No token, refused or good, is in the server's log.
    let mut tokens: Vec<&str> = sent.iter().map(String::as_str).collect();
    tokens.push(&good);
    assert_log_keeps(&mut s, &tokens);
}

#[test]
fn an_unreachable_provider_is_a_502_and_the_admin_api_keeps_the_secret() {
    let idp = Provider::start();
    let (mut s, p) = setup(&idp);
    // The secret is stored, never answered.
    let a = admin(&s, "GET", "/admin/v1/accounts/acme/sso", Value::Null);
    assert_eq!(a.status, 200, "{}", a.body);
    assert_eq!(a.body["client_secret_set"], true);
    assert!(!a.body.to_string().contains(SECRET));
    assert_eq!(
        admin(&s, "GET", "/admin/v1/accounts/globex/sso", Value::Null).status,
        404
    );
    // Only https, or http to a loopback address; control characters and
    // unknown fields refused.
    for body in [
        json!({"issuer": ISSUER, "client_id": CLIENT, "jwks_uri": "http://idp.example.com/jwks"}),
        json!({"issuer": ISSUER, "client_id": CLIENT,
               "jwks_uri": "http://idp.example.com\\@127.0.0.1/jwks"}),
        json!({"issuer": ISSUER, "client_id": CLIENT, "jwks_uri": "https://idp/jwks",
               "token_endpoint": "ftp://idp/token"}),
        json!({"issuer": "", "client_id": CLIENT, "jwks_uri": "https://idp/jwks"}),
        json!({"issuer": ISSUER, "client_id": "a\nb", "jwks_uri": "https://idp/jwks"}),
        json!({"issuer": ISSUER, "client_id": CLIENT, "jwks_uri": "https://idp/jwks",
               "username_claim": "e-mail"}),
        json!({"issuer": ISSUER, "client_id": CLIENT, "jwks_uri": "https://idp/jwks",
               "surprise": true}),
    ] {
        let a = admin(&s, "PUT", "/admin/v1/accounts/acme/sso", body.clone());
        assert_eq!(a.status, 400, "{body}: {}", a.body);
    }
    // Nothing above changed the account's provider.
    let after = admin(&s, "GET", "/admin/v1/accounts/acme/sso", Value::Null);
    assert_eq!(after.body, a.body);

    // A provider that is not there: the server says so, as a 502.
    let gone = TcpListener::bind("127.0.0.1:0").unwrap();
    let dead = format!("http://{}", gone.local_addr().unwrap());
    drop(gone);
    let set = admin(
        &s,
        "PUT",
        "/admin/v1/accounts/initech/sso",
        json!({"issuer": ISSUER, "client_id": CLIENT, "client_secret": SECRET,
               "jwks_uri": format!("{dead}/jwks"), "token_endpoint": format!("{dead}/token"),
               "redirect_uri": REDIRECT}),
    );
    assert_eq!(set.status, 200, "{}", set.body);
    let token = idp.sign(
        &json!({"alg": "EdDSA", "kid": "ed-1"}),
        &claims(server_now(&s), "ada@example.com"),
    );
    for grant in [("id_token", token.as_str()), ("code", "any")] {
        let a = user_licenses(
            &s,
            &p,
            &[
                ("product", "up"),
                grant,
                ("customer_account_code", "initech"),
            ],
        );
        assert_eq!(
            (a.status, a.body["code"].as_str()),
            (502, Some("sso_unavailable")),
            "{}",
            a.body
        );
    }
    // The secret was set twice and the provider failed twice: it is not in
    // the server's log either.
    assert_log_keeps(&mut s, &[SECRET, &token]);
}
