//! The desktop sign-in (issue 39, docs/SIGN-IN.md): the SDK finds the
//! customer account's identity provider through the server, signs the
//! user in with a browser (PKCE, a loopback listener) or a device code,
//! and the server checks the provider's token and activates the user's
//! license. The provider runs on loopback (common/idp.rs) and signs real
//! tokens; the "browser" is a thread that follows the provider's redirect
//! to the SDK's listener, as a browser would. Every failure gives its own
//! error and leaves no activation.
// A test may fail by panicking, and its shared helpers are `pub` to its modules.
#![allow(clippy::unwrap_used, clippy::expect_used, unreachable_pub)]

mod common;

use std::sync::atomic::AtomicBool;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::{json, Value};
use tessera::online::{Connection, DeviceCode, ServerConfig, SignIn};
use tessera::{Error, Keyring, LicenseHandle, LocalConfig};

use common::idp::{DeviceState, Provider, CLIENT, DESKTOP_CLIENT, ISSUER};
use common::*;

struct Setup {
    s: Server,
    p: Product,
    idp: Provider,
    config: LocalConfig,
    _store: tempfile::TempDir,
}

/// Product `desk`; ada@example.com holds L-ACME, sold to account `acme`,
/// whose provider signs in desktops with both grants and owns the domain
/// example.com.
fn setup() -> Setup {
    let idp = Provider::start();
    let s = start();
    let p = product(&s, "desk");
    let a = admin(
        &s,
        "POST",
        "/admin/v1/users",
        json!({"username": "ada@example.com", "password": "test-only-password"}),
    );
    assert_eq!(a.status, 200, "{}", a.body);
    let user = a.body["id"].as_str().unwrap().to_owned();
    let spec = json!({"id": "L-ACME", "license_type": "perpetual", "max_activations": 5,
                      "product_details": {"short_code": "desk"}});
    let l = admin(
        &s,
        "POST",
        "/admin/v1/licenses",
        json!({"spec": spec, "account": "acme"}),
    );
    assert_eq!(l.status, 200, "{}", l.body);
    let path = format!("/admin/v1/licenses/L-ACME/users/{user}");
    assert_eq!(admin(&s, "POST", &path, Value::Null).status, 200);
    let set = admin(
        &s,
        "PUT",
        "/admin/v1/accounts/acme/sso",
        json!({"issuer": ISSUER, "client_id": CLIENT,
               "jwks_uri": format!("{}/jwks", idp.url),
               "token_endpoint": format!("{}/token", idp.url),
               "authorization_endpoint": format!("{}/authorize", idp.url),
               "device_authorization_endpoint": format!("{}/device", idp.url),
               "desktop_client_id": DESKTOP_CLIENT,
               "domains": ["Example.com"]}),
    );
    assert_eq!(set.status, 200, "{}", set.body);
    assert_eq!(set.body["desktop_grants"], json!(["browser", "device"]));
    let store = tempfile::tempdir().unwrap();
    let mut config = LocalConfig::new("desk", Keyring::from_keys([s.key.clone()]));
    config.secret = b"test-only vendor secret".to_vec();
    config.store_dir = Some(store.path().to_owned());
    config.custom_device_id = Some("laptop".into());
    Setup {
        s,
        p,
        idp,
        config,
        _store: store,
    }
}

impl Setup {
    fn connection(&self) -> Connection {
        let mut server = ServerConfig::new(&self.s.url, self.p.key.clone());
        server.attempts = 1;
        server.timeout = Duration::from_secs(5);
        Connection::new(&self.config, server).unwrap()
    }

    fn activations(&self) -> u64 {
        let a = admin(&self.s, "GET", "/admin/v1/licenses/L-ACME", Value::Null);
        a.body["times_activated"].as_u64().unwrap()
    }

    /// Nothing was activated, here or on the server.
    fn assert_nothing_activated(&self) {
        assert_eq!(self.activations(), 0);
        assert!(matches!(
            LicenseHandle::open(&self.config),
            Err(Error::NotActivated)
        ));
    }
}

/// A browser that follows the provider's page to the SDK's listener, after
/// `alter` had its say on the redirect's URL; what it saw goes to `seen`.
fn browser(
    alter: impl Fn(&str) -> String + Send + Sync + 'static,
    seen: Arc<Mutex<Vec<String>>>,
) -> impl Fn(&str) -> bool + Send + Sync + Clone + 'static {
    let alter = Arc::new(alter);
    move |url: &str| {
        let (url, alter, seen) = (url.to_owned(), alter.clone(), seen.clone());
        std::thread::spawn(move || {
            let client = reqwest::blocking::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .unwrap();
            let page = client.get(&url).send().unwrap();
            let location = page.headers()["location"].to_str().unwrap().to_owned();
            seen.lock().unwrap().push(location.clone());
            let _ = client.get(alter(&location)).send();
        });
        true
    }
}

fn code_of(location: &str) -> String {
    location
        .split(['?', '&'])
        .find_map(|p| p.strip_prefix("code="))
        .unwrap()
        .to_owned()
}

#[test]
fn the_provider_is_found_by_the_users_domain_or_the_account_and_shows_no_secret() {
    let t = setup();
    let conn = t.connection();
    for who in ["ada@EXAMPLE.com", " acme "] {
        let p = conn.sign_in_provider(who).unwrap();
        assert_eq!(p.account, "acme");
        assert_eq!(p.client_id, DESKTOP_CLIENT);
        assert_eq!(p.grants, ["browser", "device"]);
        assert!(p.authorization_endpoint.ends_with("/authorize"));
    }
    for who in ["bob@elsewhere.org", "globex"] {
        let refused = conn.sign_in_provider(who);
        assert!(
            matches!(&refused, Err(Error::ServerRefused { code, .. }) if code == "sso_not_configured"),
            "{refused:?}"
        );
    }
    assert!(matches!(
        conn.sign_in_provider("@example.com"),
        Err(Error::ServerRefused { status: 400, .. })
    ));
    // Another account cannot take a domain acme has.
    let taken = admin(
        &t.s,
        "PUT",
        "/admin/v1/accounts/globex/sso",
        json!({"issuer": ISSUER, "client_id": "x", "jwks_uri": format!("{}/jwks", t.idp.url),
               "domains": ["example.com"]}),
    );
    assert_eq!(
        (taken.status, taken.body["code"].as_str()),
        (409, Some("domain_taken"))
    );
    // The desktop settings are checked field by field, and nothing changes.
    for bad in [
        json!({"scopes": "email profile"}),
        json!({"desktop_grants": ["device"]}),
        json!({"desktop_grants": ["telepathy"]}),
        json!({"domains": ["not a domain"]}),
        json!({"authorization_endpoint": "http://evil.example/authorize"}),
    ] {
        let mut body = json!({"issuer": ISSUER, "client_id": "x",
                              "jwks_uri": format!("{}/jwks", t.idp.url),
                              "token_endpoint": format!("{}/token", t.idp.url),
                              "authorization_endpoint": format!("{}/authorize", t.idp.url)});
        for (k, v) in bad.as_object().unwrap() {
            body[k] = v.clone();
        }
        let a = admin(&t.s, "PUT", "/admin/v1/accounts/acme/sso", body);
        assert_eq!(a.status, 400, "{bad}: {}", a.body);
    }
    assert_eq!(
        conn.sign_in_provider("acme").unwrap().client_id,
        DESKTOP_CLIENT
    );
}

#[test]
fn a_user_signs_in_with_the_browser_and_the_license_is_activated_here() {
    let t = setup();
    let conn = t.connection();
    let seen = Arc::new(Mutex::new(Vec::new()));
    let visit = browser(|l| l.to_owned(), seen.clone());
    // A browser that preconnects (a connection that sends nothing) and
    // asks for a favicon before it comes back with the answer: neither
    // ends the wait.
    let how = SignIn::browser().open_url(move |url| {
        let port: u16 = url
            .split("redirect_uri=http%3A%2F%2F127.0.0.1%3A")
            .nth(1)
            .and_then(|rest| rest.split('%').next())
            .and_then(|p| p.parse().ok())
            .unwrap();
        let (url, visit) = (url.to_owned(), visit.clone());
        std::thread::spawn(move || {
            let idle = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
            let favicon = reqwest::blocking::get(format!("http://127.0.0.1:{port}/favicon.ico"));
            assert_eq!(favicon.unwrap().status(), 404);
            drop(idle);
            visit(&url);
        });
        true
    });
    let record = conn.sign_in("ada@example.com", &how).unwrap();
    assert_eq!(record.license_id, "L-ACME");
    assert_eq!(t.activations(), 1);
    let lic = LicenseHandle::open(&t.config).unwrap();
    assert!(lic.check().unwrap().is_usable());
    // The redirect went to the SDK's listener on loopback with the state.
    let location = seen.lock().unwrap()[0].clone();
    assert!(location.starts_with("http://127.0.0.1:"), "{location}");
    assert!(location.contains("&state="), "{location}");
}

#[test]
fn a_user_signs_in_with_a_device_code_shown_here() {
    let t = setup();
    let conn = t.connection();
    let desk = t.idp.desk.clone();
    let shown = Arc::new(Mutex::new(None::<DeviceCode>));
    let keep = shown.clone();
    let how = SignIn::device().show_code(move |code| {
        *keep.lock().unwrap() = Some(code.clone());
        // The user signs in on a phone while the SDK polls.
        assert!(desk.lock().unwrap().set_device(
            &code.user_code,
            DeviceState::Approved("ada@example.com".into())
        ));
    });
    let record = conn.sign_in("acme", &how).unwrap();
    assert_eq!(record.license_id, "L-ACME");
    let code = shown.lock().unwrap().clone().unwrap();
    assert!(code.verification_uri.ends_with("/activate"));
    assert!(code.user_code.starts_with("WDJB-"));
    assert_eq!(t.activations(), 1);
}

#[test]
fn every_failure_has_its_own_error_and_activates_nothing() {
    let t = setup();
    let conn = t.connection();
    let seen = Arc::new(Mutex::new(Vec::new()));
    let sign_in_failed = |r: &Result<_, Error>, words: &str| match r {
        Err(Error::SignInFailed(m)) => assert!(m.contains(words), "{m:?} lacks {words:?}"),
        other => panic!("{other:?}, not sign_in_failed with {words:?}"),
    };

    // The browser's answer with another state (a request forged to the
    // listener): refused before any code is exchanged.
    let how = SignIn::browser().open_url(browser(
        |l| l.replace("&state=", "&state=forged"),
        seen.clone(),
    ));
    sign_in_failed(&conn.sign_in("ada@example.com", &how), "state differs");

    // The user declines at the provider.
    t.idp.desk.lock().unwrap().deny_next = true;
    let how = SignIn::browser().open_url(browser(|l| l.to_owned(), seen.clone()));
    sign_in_failed(&conn.sign_in("ada@example.com", &how), "access_denied");

    // A code used already: the state is this sign-in's, the code the
    // first attempt's (the forged-state attempt never exchanged it, so
    // exchange it once here by a good attempt's browser first).
    let first = seen.lock().unwrap()[0].clone();
    let old_code = code_of(&first);
    let how = SignIn::browser().open_url(browser(
        move |l| l.replacen(&code_of(l), &old_code, 1),
        seen.clone(),
    ));
    // The forged-state attempt's code was never exchanged: the provider
    // still holds it, for the verifier of a sign-in long gone.
    sign_in_failed(
        &conn.sign_in("ada@example.com", &how),
        "PKCE verifier does not match",
    );
    // Now it is used: the same code again is unknown.
    let old_code = code_of(&first);
    let how = SignIn::browser().open_url(browser(
        move |l| l.replacen(&code_of(l), &old_code, 1),
        seen.clone(),
    ));
    sign_in_failed(
        &conn.sign_in("ada@example.com", &how),
        "unknown or was used",
    );

    // A token for another audience: the provider answers, the server refuses.
    t.idp.desk.lock().unwrap().audience = Some("another-app".into());
    let how = SignIn::browser().open_url(browser(|l| l.to_owned(), seen.clone()));
    let refused = conn.sign_in("ada@example.com", &how);
    assert!(
        matches!(&refused, Err(Error::ServerRefused { code, message, .. })
            if code == "sso_refused" && message.contains("another client")),
        "{refused:?}"
    );
    t.idp.desk.lock().unwrap().audience = None;

    // The device code expires, or the user denies it, before signing in.
    for (state, words) in [
        (DeviceState::Expired, "expired before the user signed in"),
        (DeviceState::Denied, "access_denied"),
    ] {
        let desk = t.idp.desk.clone();
        let how = SignIn::device().show_code(move |code| {
            desk.lock()
                .unwrap()
                .set_device(&code.user_code, state.clone());
        });
        sign_in_failed(&conn.sign_in("ada@example.com", &how), words);
    }

    // The user cancels: the product sets the flag (the browser never
    // comes back); and a device sign-in cancelled while it polls.
    let flag = Arc::new(AtomicBool::new(false));
    let set = flag.clone();
    let how = SignIn::browser()
        .open_url(move |_| {
            set.store(true, std::sync::atomic::Ordering::SeqCst);
            true
        })
        .cancel_flag(flag);
    assert!(matches!(
        conn.sign_in("ada@example.com", &how),
        Err(Error::Cancelled(_))
    ));
    let asked = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let count = asked.clone();
    let how = SignIn::browser()
        .open_url(|_| true)
        .cancel_if(move || count.fetch_add(1, std::sync::atomic::Ordering::SeqCst) >= 2);
    assert!(matches!(
        conn.sign_in("ada@example.com", &how),
        Err(Error::Cancelled(_))
    ));
    assert!(asked.load(std::sync::atomic::Ordering::SeqCst) >= 3);
    let flag = Arc::new(AtomicBool::new(false));
    let set = flag.clone();
    let how = SignIn::device()
        .show_code(move |_| set.store(true, std::sync::atomic::Ordering::SeqCst))
        .cancel_flag(flag);
    assert!(matches!(
        conn.sign_in("ada@example.com", &how),
        Err(Error::Cancelled(_))
    ));

    // The port the product asked for is taken.
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = taken.local_addr().unwrap().port();
    let how = SignIn::browser().port(port).open_url(|_| true);
    let refused = conn.sign_in("ada@example.com", &how);
    assert!(
        matches!(
            refused,
            Err(Error::Io {
                kind: std::io::ErrorKind::AddrInUse,
                ..
            })
        ),
        "{refused:?}"
    );

    // A device sign-in without a way to show the code is refused at once.
    assert!(matches!(
        conn.sign_in("ada@example.com", &SignIn::device()),
        Err(Error::InvalidArgument(_))
    ));
    t.assert_nothing_activated();

    // And after all that, a good sign-in still works.
    let how = SignIn::browser().open_url(browser(|l| l.to_owned(), seen));
    conn.sign_in("ada@example.com", &how).unwrap();
    assert_eq!(t.activations(), 1);
}
