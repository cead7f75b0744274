//! The entry point of the request fuzz target (`fuzz/fuzz_targets/
//! server_request.rs`) and of its replay test: arbitrary bytes become one
//! HTTP request to the whole router, in process, over an in-memory
//! database holding a product, a license, a user and an activation. The
//! request is signed by the harness when the bytes ask for it (the HMAC
//! and the device's proof, by the key its activation registered), so the
//! JSON bodies behind the authentication are reached; raw requests reach
//! the `Authorization` header's and the paths' parsers. Whatever comes in,
//! the answer is never a 5xx, and nothing panics.

use std::sync::{Arc, Mutex, OnceLock};

use axum::body::Body;
use axum::http::Request;
use axum::Router;
use serde_json::json;
use tessera::protocol::{format_http_date, request};
use tower::ServiceExt as _;

use crate::database;
use crate::products::db as products_db;
use crate::state::App;

/// The product every signed request is made for, and its shared key.
const PRODUCT: &str = "fuzz";
const PRODUCT_KEY: &[u8] = b"throwaway fuzz product key, 32 b";
const ADMIN_TOKEN: &str = "throwaway-fuzz-admin-token";

/// The client API's paths a signed request picks from.
const CLIENT_PATHS: [&str; 12] = [
    "/api/v1/activate_license",
    "/api/v1/check_license",
    "/api/v1/deactivate_license",
    "/api/v1/floating/register",
    "/api/v1/floating/heartbeat",
    "/api/v1/floating/release",
    "/api/v1/floating/borrow",
    "/api/v1/add_consumption",
    "/api/v1/user_licenses",
    "/api/v1/trial_key",
    "/api/v1/activate_offline",
    "/api/v1/deactivate_offline",
];

const METHODS: [&str; 5] = ["GET", "POST", "PATCH", "DELETE", "PUT"];

struct Harness {
    runtime: tokio::runtime::Runtime,
    router: Router,
    nonce: Mutex<u64>,
    /// The device key every signed request's proof is made with; the
    /// harness's activation registers it, so the proof checks are reached.
    device: ed25519_dalek::SigningKey,
}

fn harness() -> Option<&'static Harness> {
    static HARNESS: OnceLock<Option<Harness>> = OnceLock::new();
    HARNESS.get_or_init(make).as_ref()
}

fn make() -> Option<Harness> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .ok()?;
    let path = std::path::Path::new(":memory:");
    let db = Arc::new(Mutex::new(database::open(path).ok()?));
    let checkpoints = crate::wal::Checkpointer::start(path, &db).ok()?;
    // Throwaway test key.
    let key = tessera::issuer::SigningKey::from_seed(&[0x5e; 32]).ok()?;
    let app = Arc::new(App::new(
        crate::state::Store::Sqlite {
            conn: Arc::clone(&db),
            checkpoints,
        },
        key,
        ADMIN_TOKEN.into(),
        7,
        crate::connections::IDLE,
        // The system clock: the harness signs with the time of day, and
        // the nonces it spends expire as they would in service.
        false,
    ));
    {
        let conn = db.lock().ok()?;
        database::write(&crate::store::Db::Sqlite(&conn), |tx| {
            products_db::insert_product(tx, PRODUCT, "Fuzz", PRODUCT_KEY)
        })
        .ok()?;
    }
    let harness = Harness {
        runtime,
        router: crate::routes::router(app),
        nonce: Mutex::new(0),
        // Throwaway test key.
        device: ed25519_dalek::SigningKey::from_bytes(&[0x6d; 32]),
    };
    // What the requests can act on: a floating license with a counter, a
    // user it is assigned to, a trial definition, and one activation.
    for (method, path, body) in [
        (
            "POST",
            "/admin/v1/licenses",
            json!({"license_key": "FUZZ-KEY-0001", "max_license_users": 2,
                   "spec": {"id": "L-FUZZ", "license_type": "perpetual", "max_activations": 3,
                            "is_floating": true, "floating_users": 2, "can_borrow": true,
                            "max_borrow_time": 24,
                            "product_features": [{"code": "f", "feature_type": "consumption",
                                                  "max_consumption": 100}],
                            "product_details": {"short_code": PRODUCT}}}),
        ),
        (
            "POST",
            "/admin/v1/users",
            json!({"username": "ada@example.com", "password": "test-only-password"}),
        ),
        (
            "POST",
            "/admin/v1/definitions",
            json!({"product": PRODUCT, "code": "TRIAL", "name": "Trial", "trial_days": 14,
                   "spec": {"license_type": "time-limited",
                            "validity_period": "2099-01-01T00:00:00Z",
                            "product_details": {"short_code": PRODUCT}}}),
        ),
    ] {
        harness.send(admin(method, path, body.to_string().into_bytes())?)?;
    }
    let device_key =
        tessera::format::keys::PublicKey::from_bytes(harness.device.verifying_key().as_bytes())
            .ok()?
            .to_base64();
    harness.send(
        harness.signed(
            "/api/v1/activate_license",
            json!({"product": PRODUCT, "license_key": "FUZZ-KEY-0001", "device_key": device_key,
               "fingerprint": {"id": "device-1", "components": {}}})
            .to_string()
            .into_bytes(),
        )?,
    )?;
    Some(harness)
}

fn admin(method: &str, path: &str, body: Vec<u8>) -> Option<Request<Body>> {
    Request::builder()
        .method(method)
        .uri(path)
        .header("authorization", format!("Bearer {ADMIN_TOKEN}"))
        .header("content-type", "application/json")
        .body(Body::from(body))
        .ok()
}

impl Harness {
    /// Sends one request; the status, or None when the router failed.
    fn send(&self, req: Request<Body>) -> Option<u16> {
        let router = self.router.clone();
        let response = self.runtime.block_on(router.oneshot(req)).ok()?;
        Some(response.status().as_u16())
    }

    /// A client request to `path`, signed as the SDK signs it.
    fn signed(&self, path: &str, body: Vec<u8>) -> Option<Request<Body>> {
        let date = format_http_date(chrono::Utc::now());
        let nonce = {
            let mut n = self.nonce.lock().ok()?;
            *n += 1;
            format!("fuzz-nonce-{:016}", *n)
        };
        let message = request::request_string(&date, "POST", path, &body, &nonce);
        let signature = request::sign(PRODUCT_KEY, &message).ok()?;
        Request::builder()
            .method("POST")
            .uri(path)
            .header("date", date)
            .header("tessera-nonce", nonce)
            .header("authorization", request::authorization(PRODUCT, &signature))
            .header(
                request::DEVICE_SIGNATURE_HEADER,
                request::sign_device_proof(&self.device.to_bytes(), &message),
            )
            .header("content-type", "application/json")
            .body(Body::from(body))
            .ok()
    }
}

/// One request from arbitrary bytes. The first byte chooses how the rest
/// is read:
/// - `0..=127`: a signed client call to one of [`CLIENT_PATHS`] (the next
///   byte) with the rest as its body;
/// - `128..=191`: an admin call: a method (the next byte), then a path up
///   to the first newline (queries and percent escapes included), then
///   the body;
/// - `192..=255`: a raw request: `METHOD path`, header lines, an empty
///   line, the body, as text; no signature but what the bytes carry.
///
/// Panics when the server answers 5xx, as the fuzz target's finding.
pub fn request(data: &[u8]) {
    if let Some(status) = answer(data) {
        assert!(status < 500, "the server answered {status}");
    }
}

/// The status the server answers to the request `data` makes (read as
/// [`request`] says); None when the bytes make no request, or when the
/// harness could not be set up (which [`ready`] tells).
pub fn answer(data: &[u8]) -> Option<u16> {
    let (harness, (&mode, rest)) = (harness()?, data.split_first()?);
    // A request the HTTP types cannot even represent never reaches a server.
    let req = match mode {
        0..=127 => {
            let (&which, body) = rest.split_first()?;
            harness.signed(
                CLIENT_PATHS[usize::from(which) % CLIENT_PATHS.len()],
                body.to_vec(),
            )?
        }
        128..=191 => {
            let (&which, rest) = rest.split_first()?;
            let (path, body) = split_line(rest);
            let path = std::str::from_utf8(path).ok()?;
            admin(
                METHODS[usize::from(which) % METHODS.len()],
                &format!("/admin/v1/{}", path.trim_start_matches('/')),
                body.to_vec(),
            )?
        }
        _ => raw(rest)?,
    };
    harness.send(req)
}

/// Whether the harness is up: its database, product, license, user and
/// activation made.
pub fn ready() -> bool {
    harness().is_some()
}

fn split_line(bytes: &[u8]) -> (&[u8], &[u8]) {
    match bytes.iter().position(|&b| b == b'\n') {
        Some(at) => (&bytes[..at], &bytes[at + 1..]),
        None => (bytes, &[]),
    }
}

/// `METHOD path\nname: value\n...\n\nbody`.
fn raw(bytes: &[u8]) -> Option<Request<Body>> {
    let (first, mut rest) = split_line(bytes);
    let first = std::str::from_utf8(first).ok()?;
    let (method, path) = first.split_once(' ')?;
    let mut builder = Request::builder().method(method).uri(path);
    loop {
        let (line, after) = split_line(rest);
        rest = after;
        if line.is_empty() {
            break;
        }
        let line = std::str::from_utf8(line).ok()?;
        let (name, value) = line.split_once(':')?;
        builder = builder.header(name.trim(), value.trim());
        if rest.is_empty() {
            break;
        }
    }
    builder.body(Body::from(rest.to_vec())).ok()
}
