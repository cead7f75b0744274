//! An OpenID Connect provider on loopback, for the single sign-on tests
//! (seed 003's, and the desktop sign-in's): it signs real tokens with
//! throwaway test keys (RS256 and EdDSA), serves its key set, exchanges
//! codes (a confidential client's, and a native app's with PKCE S256),
//! runs the device authorization grant (RFC 8628), and takes a test's
//! orders over HTTP (`/__control/...`) so the suites in other languages
//! (server/examples/idp.rs) drive it as the Rust ones do.

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64URL;
use base64::Engine as _;
use ed25519_dalek::Signer as _;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

pub const ISSUER: &str = "https://idp.test.example";
/// The web client (seed 003's code grant, with a secret).
pub const CLIENT: &str = "tessera-client";
pub const SECRET: &str = "test-only-client-secret";
pub const REDIRECT: &str = "https://app.example.com/sso/callback";
/// The native app (the desktop sign-in: a public client, PKCE).
pub const DESKTOP_CLIENT: &str = "tessera-desktop";

/// The provider's signing keys (throwaway, test only).
pub struct Signer {
    rsa: ring::signature::RsaKeyPair,
    ed: ed25519_dalek::SigningKey,
}

/// A code the authorization endpoint gave a native app.
struct Pkce {
    client_id: String,
    redirect_uri: String,
    challenge: String,
    email: String,
}

/// Where a device code stands.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DeviceState {
    Pending,
    Approved(String),
    Denied,
    Expired,
}

/// The desktop flows' state, which a test may change.
#[derive(Default)]
pub struct Desk {
    pkce: HashMap<String, Pkce>,
    /// device_code -> (user_code, state)
    devices: HashMap<String, (String, DeviceState)>,
    /// The next authorization is declined by the "user".
    pub deny_next: bool,
    /// The audience of the next tokens (the client's own when None).
    pub audience: Option<String>,
    issued: u32,
}

impl Desk {
    /// The device code whose user code is `user_code` moves to `state`.
    pub fn set_device(&mut self, user_code: &str, state: DeviceState) -> bool {
        match self.devices.values_mut().find(|(u, _)| u == user_code) {
            Some(entry) => {
                entry.1 = state;
                true
            }
            None => false,
        }
    }
}

/// The identity provider on loopback: its key set (changeable, as a
/// provider rotates keys), the codes it will exchange once each, how
/// often its key set was fetched, and the desktop flows' state.
pub struct Provider {
    pub url: String,
    pub keys: Arc<Mutex<Vec<Value>>>,
    pub codes: Arc<Mutex<HashMap<String, String>>>,
    pub fetches: Arc<AtomicUsize>,
    pub desk: Arc<Mutex<Desk>>,
    signer: Arc<Signer>,
}

/// One HTTP/1.1 request from `stream`: method, path, body.
pub fn read_request(stream: &std::net::TcpStream) -> Option<(String, String, String)> {
    let mut reader = BufReader::new(stream);
    let mut line = String::new();
    reader.read_line(&mut line).ok()?;
    let mut words = line.split_whitespace();
    let (method, path) = (words.next()?.to_owned(), words.next()?.to_owned());
    let mut length = 0;
    loop {
        let mut header = String::new();
        reader.read_line(&mut header).ok()?;
        let header = header.trim_end();
        if header.is_empty() {
            break;
        }
        if let Some((name, value)) = header.split_once(':') {
            if name.eq_ignore_ascii_case("content-length") {
                length = value.trim().parse().ok()?;
            }
        }
    }
    let mut body = vec![0; length];
    reader.read_exact(&mut body).ok()?;
    Some((method, path, String::from_utf8(body).ok()?))
}

pub fn form(body: &str) -> HashMap<String, String> {
    body.split('&')
        .filter_map(|pair| pair.split_once('='))
        .map(|(k, v)| {
            let mut out = Vec::new();
            let bytes = v.as_bytes();
            let mut i = 0;
            while i < bytes.len() {
                if bytes[i] == b'%' && i + 2 < bytes.len() {
                    out.push(u8::from_str_radix(&v[i + 1..i + 3], 16).unwrap());
                    i += 3;
                } else {
                    out.push(if bytes[i] == b'+' { b' ' } else { bytes[i] });
                    i += 1;
                }
            }
            (k.to_owned(), String::from_utf8(out).unwrap())
        })
        .collect()
}

fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

fn query_of(path: &str) -> HashMap<String, String> {
    path.split_once('?')
        .map(|(_, q)| form(q))
        .unwrap_or_default()
}

fn encode(text: &str) -> String {
    text.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
                char::from(b).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

/// What the provider answers: a status, a JSON body, or a redirect.
enum Reply {
    Json(u16, Value),
    Redirect(String),
}

impl Provider {
    pub fn start() -> Provider {
        let der = std::fs::read(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/seeds/throwaway-test-only-oidc-rsa.pk8"
        ))
        .unwrap();
        let rsa = ring::signature::RsaKeyPair::from_pkcs8(&der).unwrap();
        let public: ring::rsa::PublicKeyComponents<Vec<u8>> = rsa.public().into();
        let ed = ed25519_dalek::SigningKey::from_bytes(&[7; 32]);
        let keys = vec![
            json!({"kty": "RSA", "kid": "rsa-1", "use": "sig", "alg": "RS256",
                   "n": B64URL.encode(&public.n), "e": B64URL.encode(&public.e)}),
            json!({"kty": "OKP", "kid": "ed-1", "crv": "Ed25519",
                   "x": B64URL.encode(ed.verifying_key().as_bytes())}),
        ];
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let p = Provider {
            url: url.clone(),
            keys: Arc::new(Mutex::new(keys)),
            codes: Arc::new(Mutex::new(HashMap::new())),
            fetches: Arc::new(AtomicUsize::new(0)),
            desk: Arc::new(Mutex::new(Desk::default())),
            signer: Arc::new(Signer { rsa, ed }),
        };
        let (keys, codes, fetches, desk, signer) = (
            p.keys.clone(),
            p.codes.clone(),
            p.fetches.clone(),
            p.desk.clone(),
            p.signer.clone(),
        );
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(mut stream) = stream else { continue };
                // One connection at a time: a browser's idle connection
                // opened ahead of a request must not hold up the others.
                let _ = stream.set_read_timeout(Some(std::time::Duration::from_secs(2)));
                let Some((method, path, body)) = read_request(&stream) else {
                    continue;
                };
                let route = path.split('?').next().unwrap_or_default().to_owned();
                let token_for = |client: &str, email: &str, d: &Desk| {
                    let aud = d.audience.clone().unwrap_or_else(|| client.to_owned());
                    let t = now();
                    sign_with(
                        &signer,
                        &json!({"alg": "RS256", "kid": "rsa-1", "typ": "JWT"}),
                        &json!({"iss": ISSUER, "aud": aud, "sub": format!("sub-{email}"),
                                "email": email, "email_verified": true,
                                "iat": t - 5, "exp": t + 300}),
                    )
                };
                let reply = match (method.as_str(), route.as_str()) {
                    ("GET", "/jwks") => {
                        fetches.fetch_add(1, Ordering::SeqCst);
                        Reply::Json(200, json!({"keys": *keys.lock().unwrap()}))
                    }
                    ("GET", "/authorize") => {
                        let q = query_of(&path);
                        let mut d = desk.lock().unwrap();
                        let redirect = q.get("redirect_uri").cloned().unwrap_or_default();
                        let state = q.get("state").cloned().unwrap_or_default();
                        let good = q.get("client_id").map(String::as_str) == Some(DESKTOP_CLIENT)
                            && q.get("response_type").map(String::as_str) == Some("code")
                            && q.get("code_challenge_method").map(String::as_str) == Some("S256")
                            && redirect.starts_with("http://127.0.0.1:");
                        if !good {
                            Reply::Json(400, json!({"error": "invalid_request"}))
                        } else if std::mem::take(&mut d.deny_next) {
                            Reply::Redirect(format!(
                                "{redirect}?error=access_denied&error_description=The+user+said+no&state={}",
                                encode(&state)
                            ))
                        } else {
                            d.issued += 1;
                            let code = format!("pkce-code-{}", d.issued);
                            let email = q
                                .get("login_hint")
                                .cloned()
                                .unwrap_or_else(|| "ada@example.com".into());
                            d.pkce.insert(
                                code.clone(),
                                Pkce {
                                    client_id: DESKTOP_CLIENT.into(),
                                    redirect_uri: redirect.clone(),
                                    challenge: q.get("code_challenge").cloned().unwrap_or_default(),
                                    email,
                                },
                            );
                            Reply::Redirect(format!(
                                "{redirect}?code={code}&state={}",
                                encode(&state)
                            ))
                        }
                    }
                    ("POST", "/device") => {
                        let f = form(&body);
                        let mut d = desk.lock().unwrap();
                        if f.get("client_id").map(String::as_str) != Some(DESKTOP_CLIENT) {
                            Reply::Json(400, json!({"error": "invalid_client"}))
                        } else {
                            d.issued += 1;
                            let (device, user) = (
                                format!("device-{}", d.issued),
                                format!("WDJB-{:04}", d.issued),
                            );
                            d.devices
                                .insert(device.clone(), (user.clone(), DeviceState::Pending));
                            Reply::Json(
                                200,
                                json!({"device_code": device, "user_code": user,
                                       "verification_uri": format!("{url}/activate"),
                                       "verification_uri_complete": format!("{url}/activate?user_code={user}"),
                                       "expires_in": 600, "interval": 0}),
                            )
                        }
                    }
                    ("POST", "/token") => {
                        let f = form(&body);
                        let field = |k: &str| f.get(k).map(String::as_str);
                        let mut d = desk.lock().unwrap();
                        match (field("grant_type"), field("code_verifier")) {
                            (Some("authorization_code"), Some(verifier)) => {
                                // A native app's code: once, for its client,
                                // redirect URI and challenge.
                                let code = field("code").unwrap_or_default();
                                match d.pkce.remove(code) {
                                    None => Reply::Json(
                                        400,
                                        json!({"error": "invalid_grant",
                                        "error_description": "the code is unknown or was used"}),
                                    ),
                                    Some(p)
                                        if B64URL.encode(Sha256::digest(verifier.as_bytes()))
                                            != p.challenge =>
                                    {
                                        Reply::Json(
                                            400,
                                            json!({"error": "invalid_grant",
                                            "error_description": "the PKCE verifier does not match"}),
                                        )
                                    }
                                    Some(p)
                                        if field("client_id") != Some(p.client_id.as_str())
                                            || field("redirect_uri")
                                                != Some(p.redirect_uri.as_str()) =>
                                    {
                                        Reply::Json(400, json!({"error": "invalid_grant"}))
                                    }
                                    Some(p) => Reply::Json(
                                        200,
                                        json!({"access_token": "opaque",
                                        "token_type": "Bearer", "expires_in": 300,
                                        "id_token": token_for(&p.client_id, &p.email, &d)}),
                                    ),
                                }
                            }
                            (Some("authorization_code"), None) => {
                                let client_ok = field("client_id") == Some(CLIENT)
                                    && field("client_secret") == Some(SECRET)
                                    && field("redirect_uri") == Some(REDIRECT);
                                // A code is exchanged once.
                                let token =
                                    field("code").and_then(|c| codes.lock().unwrap().remove(c));
                                match token {
                                    Some(t) if client_ok => Reply::Json(
                                        200,
                                        json!({"access_token": "opaque", "token_type": "Bearer",
                                               "expires_in": 300, "id_token": t}),
                                    ),
                                    _ => Reply::Json(400, json!({"error": "invalid_grant"})),
                                }
                            }
                            (Some("urn:ietf:params:oauth:grant-type:device_code"), _) => {
                                let code = field("device_code").unwrap_or_default().to_owned();
                                let state = d.devices.get(&code).map(|(_, s)| s.clone());
                                match state {
                                    Some(DeviceState::Pending) => {
                                        Reply::Json(400, json!({"error": "authorization_pending"}))
                                    }
                                    Some(DeviceState::Approved(email)) => {
                                        d.devices.remove(&code);
                                        Reply::Json(
                                            200,
                                            json!({"access_token": "opaque",
                                            "token_type": "Bearer", "expires_in": 300,
                                            "id_token": token_for(DESKTOP_CLIENT, &email, &d)}),
                                        )
                                    }
                                    Some(DeviceState::Denied) => {
                                        Reply::Json(400, json!({"error": "access_denied"}))
                                    }
                                    Some(DeviceState::Expired) => {
                                        Reply::Json(400, json!({"error": "expired_token"}))
                                    }
                                    None => Reply::Json(400, json!({"error": "invalid_grant"})),
                                }
                            }
                            _ => Reply::Json(400, json!({"error": "unsupported_grant_type"})),
                        }
                    }
                    ("GET", r) if r.starts_with("/__control/") => {
                        let words: Vec<&str> =
                            r.trim_start_matches("/__control/").split('/').collect();
                        let mut d = desk.lock().unwrap();
                        let done = match words.as_slice() {
                            ["approve", user, email] => {
                                d.set_device(user, DeviceState::Approved((*email).into()))
                            }
                            ["deny", user] => d.set_device(user, DeviceState::Denied),
                            ["expire", user] => d.set_device(user, DeviceState::Expired),
                            ["deny-next"] => {
                                d.deny_next = true;
                                true
                            }
                            ["audience", aud] => {
                                d.audience = Some((*aud).into());
                                true
                            }
                            ["audience"] => {
                                d.audience = None;
                                true
                            }
                            _ => false,
                        };
                        Reply::Json(if done { 200 } else { 404 }, json!({"done": done}))
                    }
                    _ => Reply::Json(404, json!({"error": "not_found"})),
                };
                let _ = match reply {
                    Reply::Json(status, answer) => {
                        let body = answer.to_string();
                        write!(
                            stream,
                            "HTTP/1.1 {status} X\r\ncontent-type: application/json\r\n\
                             content-length: {}\r\nconnection: close\r\n\r\n{body}",
                            body.len()
                        )
                    }
                    Reply::Redirect(location) => write!(
                        stream,
                        "HTTP/1.1 302 Found\r\nlocation: {location}\r\ncontent-length: 0\r\nconnection: close\r\n\r\n"
                    ),
                };
            }
        });
        p
    }

    /// A compact JWS of `claims` under `header`, signed as its `alg` says
    /// with the provider's key (anything else: an empty signature).
    pub fn sign(&self, header: &Value, claims: &Value) -> String {
        sign_with(&self.signer, header, claims)
    }
}

/// A compact JWS of `claims` under `header` by `signer`.
fn sign_with(signer: &Signer, header: &Value, claims: &Value) -> String {
    let input = format!(
        "{}.{}",
        B64URL.encode(header.to_string()),
        B64URL.encode(claims.to_string())
    );
    let signature = match header["alg"].as_str() {
        Some("RS256") => {
            let mut sig = vec![0; signer.rsa.public().modulus_len()];
            signer
                .rsa
                .sign(
                    &ring::signature::RSA_PKCS1_SHA256,
                    &ring::rand::SystemRandom::new(),
                    input.as_bytes(),
                    &mut sig,
                )
                .unwrap();
            sig
        }
        Some("EdDSA") => signer.ed.sign(input.as_bytes()).to_bytes().to_vec(),
        _ => Vec::new(),
    };
    format!("{input}.{}", B64URL.encode(signature))
}
