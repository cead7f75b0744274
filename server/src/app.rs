//! The HTTP layer: one dispatcher that authenticates, routes, and signs
//! every response, including errors.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use axum::body::{to_bytes, Body, Bytes};
use axum::http::{HeaderMap, HeaderValue, Method, Request, Response, StatusCode};
use axum::Router;
use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine as _;
use chrono::{DateTime, Utc};
use rusqlite::Connection;
use serde_json::{json, Value};
use tessera::{Clock, License, ManualClock, SigningKey, SystemClock};

use crate::db::LicenseRow;
use crate::error::ApiError;
use crate::wal::Checkpointer;
use subtle::ConstantTimeEq as _;
use tessera::protocol::{self, request};

/// The largest request body accepted.
pub const MAX_BODY: usize = 64 * 1024;
/// How far a request's Date may be from the server's clock.
pub const MAX_SKEW_SECS: i64 = 300;

/// Everything a request needs.
pub struct App {
    /// The requests' connection. A plain lock, never held across an
    /// await: at 128 clients it served about 30% more heartbeats per second
    /// than tokio's async lock, with the same tail (docs/PROTOCOL.md).
    db: Arc<Mutex<Connection>>,
    checkpoints: Checkpointer,
    pub key: SigningKey,
    admin_token: String,
    pub check_in_days: u32,
    clock: Arc<dyn Clock>,
    manual: Option<Arc<ManualClock>>,
    /// Products' shared keys, which never change once created.
    product_keys: std::sync::RwLock<HashMap<String, Vec<u8>>>,
    /// Parsed license specs by id, with the revision they were parsed at.
    specs: Mutex<HashMap<String, (i64, Parsed)>>,
}

/// A license's spec as issued (switched-off features left out) and the
/// license it describes.
pub type Parsed = Arc<(Value, License)>;

impl App {
    pub fn new(
        db: Arc<Mutex<Connection>>,
        checkpoints: Checkpointer,
        key: SigningKey,
        admin_token: String,
        check_in_days: u32,
        test_clock: bool,
    ) -> App {
        let manual = test_clock.then(|| Arc::new(ManualClock::new(SystemClock.now())));
        let clock: Arc<dyn Clock> = match &manual {
            Some(m) => m.clone(),
            None => Arc::new(SystemClock),
        };
        App {
            db,
            checkpoints,
            key,
            admin_token,
            check_in_days,
            clock,
            manual,
            product_keys: Default::default(),
            specs: Default::default(),
        }
    }

    /// The row's spec and license, parsed once per revision.
    pub fn license_of(&self, row: &LicenseRow) -> Result<Parsed, ApiError> {
        let mut cache = self.specs.lock().unwrap_or_else(|p| p.into_inner());
        if let Some((revision, parsed)) = cache.get(&row.id) {
            if *revision == row.revision {
                return Ok(Arc::clone(parsed));
            }
        }
        let mut spec: Value =
            serde_json::from_str(&row.spec).map_err(|e| ApiError::internal(e.to_string()))?;
        let off: Vec<String> = serde_json::from_str(&row.features_off).unwrap_or_default();
        if let Some(features) = spec
            .get_mut("product_features")
            .and_then(Value::as_array_mut)
        {
            features.retain(|f| !off.iter().any(|o| f["code"] == json!(o)));
        }
        let license: License = serde_json::from_value({
            let mut v = spec.clone();
            v["format"] = json!(1);
            v["issued_at"] = json!("1970-01-01T00:00:00Z");
            v
        })
        .map_err(|e| ApiError::internal(e.to_string()))?;
        let parsed = Arc::new((spec, license));
        cache.insert(row.id.clone(), (row.revision, Arc::clone(&parsed)));
        Ok(parsed)
    }

    /// Whether the row's feature `code` is switched off.
    pub fn feature_is_off(&self, row: &LicenseRow, code: &str) -> bool {
        serde_json::from_str::<Vec<String>>(&row.features_off)
            .map(|off| off.iter().any(|o| o == code))
            .unwrap_or(false)
    }

    pub fn now(&self) -> DateTime<Utc> {
        self.clock.now()
    }

    /// Sets the test clock (only when started with `test_clock`).
    pub fn set_clock(&self, at: DateTime<Utc>) -> Result<(), ApiError> {
        match &self.manual {
            Some(m) => {
                m.set(at);
                Ok(())
            }
            None => Err(ApiError::not_found("not_found", "no such endpoint")),
        }
    }

    /// Runs `f` with the database (its lock held).
    pub async fn with_db<T: Send + 'static>(
        self: &Arc<Self>,
        f: impl FnOnce(&App, &mut Connection) -> Result<T, ApiError> + Send + 'static,
    ) -> Result<T, ApiError> {
        self.with_db_then(f, |_, value| Ok(value)).await
    }

    /// Runs `f` with the database (its lock held), then `then` with `f`'s
    /// result after the lock is released: signing stays out of the lock.
    pub async fn with_db_then<T: Send + 'static, U: Send + 'static>(
        self: &Arc<Self>,
        f: impl FnOnce(&App, &mut Connection) -> Result<T, ApiError> + Send + 'static,
        then: impl FnOnce(&App, T) -> Result<U, ApiError> + Send + 'static,
    ) -> Result<U, ApiError> {
        // Every statement is short (prepared, indexed, no fsync in WAL
        // with synchronous = NORMAL, checkpoints on a thread of their own),
        // so it runs on the worker itself: handing it to a blocking thread
        // cost more than the work.
        let value = {
            let mut conn = self.db.lock().unwrap_or_else(|p| p.into_inner());
            let before = conn.total_changes();
            let value = f(self, &mut conn);
            if conn.total_changes() != before {
                self.checkpoints.wrote();
            }
            value?
        };
        then(self, value)
    }
}

/// A request after its body was read and it was authenticated.
pub struct Call {
    pub method: Method,
    pub path: String,
    pub query: Option<String>,
    pub body: Bytes,
    /// The product a client request was authorized for.
    pub product: Option<String>,
}

/// Listens on `listen`, with TLS when an acceptor is given, until Ctrl-C.
pub async fn serve(
    app: Arc<App>,
    listen: SocketAddr,
    tls: Option<tokio_rustls::TlsAcceptor>,
) -> Result<(), String> {
    let listener = tokio::net::TcpListener::bind(listen)
        .await
        .map_err(|e| format!("cannot listen on {listen}: {e}"))?;
    let local = listener.local_addr().map_err(|e| e.to_string())?;
    let scheme = if tls.is_some() { "https" } else { "http" };
    eprintln!(
        "tessera-server listening on {scheme}://{local} (key {})",
        app.key.id()
    );
    let router = Router::new().fallback(move |req: Request<Body>| {
        let app = Arc::clone(&app);
        async move { handle(app, req).await }
    });
    let shutdown = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    match tls {
        Some(acceptor) => {
            let listener =
                crate::tls::TlsListener::new(listener, acceptor).map_err(|e| e.to_string())?;
            axum::serve(listener, router)
                .with_graceful_shutdown(shutdown)
                .await
        }
        None => {
            axum::serve(listener, router)
                .with_graceful_shutdown(shutdown)
                .await
        }
    }
    .map_err(|e| e.to_string())
}

async fn handle(app: Arc<App>, req: Request<Body>) -> Response<Body> {
    let nonce = header(req.headers(), "tessera-nonce")
        .filter(|n| request::nonce_ok(n))
        .unwrap_or_default()
        .to_owned();
    let result = route(&app, req).await;
    let (status, body) = match result {
        Ok(json) => (200, json),
        Err(e) => (e.status, serde_json::to_vec(&e).unwrap_or_default()),
    };
    sign(&app, &nonce, status, body)
}

fn header<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

async fn route(app: &Arc<App>, req: Request<Body>) -> Result<Vec<u8>, ApiError> {
    let (parts, body) = req.into_parts();
    let path = parts.uri.path().to_owned();
    let body = to_bytes(body, MAX_BODY).await.map_err(|_| {
        ApiError::new(
            413,
            "body_too_large",
            format!("the body is larger than {MAX_BODY} bytes"),
        )
    })?;
    let mut call = Call {
        method: parts.method.clone(),
        path,
        query: parts.uri.query().map(str::to_owned),
        body,
        product: None,
    };
    if call.path.starts_with("/admin/") {
        let token = header(&parts.headers, "authorization")
            .and_then(|v| v.strip_prefix("Bearer "))
            .unwrap_or_default();
        if !bool::from(token.as_bytes().ct_eq(app.admin_token.as_bytes())) {
            return Err(ApiError::unauthorized(
                "unauthorized",
                "a valid admin token is required",
            ));
        }
        return crate::admin::route(app, call).await;
    }
    if call.path.starts_with("/api/") {
        call.product = Some(authenticate(app, &parts.headers, &call).await?);
        return crate::api::route(app, call).await;
    }
    if call.path == "/openapi.json" && call.method == Method::GET {
        return Ok(include_bytes!("../openapi.json").to_vec());
    }
    Err(ApiError::not_found("not_found", "no such endpoint"))
}

/// Checks Date, nonce and the HMAC; returns the product.
async fn authenticate(
    app: &Arc<App>,
    headers: &HeaderMap,
    call: &Call,
) -> Result<String, ApiError> {
    let date = header(headers, "date")
        .ok_or_else(|| ApiError::unauthorized("missing_date", "the Date header is required"))?;
    let sent = protocol::parse_http_date(date)
        .ok_or_else(|| ApiError::unauthorized("bad_date", "the Date header is not an HTTP date"))?;
    if (app.now() - sent).num_seconds().abs() > MAX_SKEW_SECS {
        return Err(ApiError::unauthorized(
            "stale_date",
            "the Date header is more than 5 minutes from the server's clock",
        ));
    }
    let nonce = header(headers, "tessera-nonce")
        .filter(|n| request::nonce_ok(n))
        .ok_or_else(|| {
            ApiError::unauthorized(
                "bad_nonce",
                "Tessera-Nonce must be 16 to 64 characters [0-9A-Za-z_-]",
            )
        })?;
    let (product, signature) = header(headers, "authorization")
        .and_then(request::parse_authorization)
        .ok_or_else(|| {
            ApiError::unauthorized(
                "bad_authorization",
                "Authorization must be Tessera-HMAC-SHA256",
            )
        })?;
    let product = product.to_owned();
    let signature = signature.to_owned();
    let message =
        request::request_string(date, call.method.as_str(), &call.path, &call.body, nonce);
    let cached = app
        .product_keys
        .read()
        .unwrap_or_else(|p| p.into_inner())
        .get(&product)
        .cloned();
    let key = match cached {
        Some(k) => Some(k),
        None => {
            let looked_up = product.clone();
            let key = app
                .with_db(move |_, conn| crate::db::product_key(conn, &looked_up))
                .await?;
            if let Some(k) = &key {
                app.product_keys
                    .write()
                    .unwrap_or_else(|p| p.into_inner())
                    .insert(product.clone(), k.clone());
            }
            key
        }
    };
    match key {
        Some(k) if request::signature_matches(&k, &message, &signature) => Ok(product),
        _ => Err(ApiError::unauthorized(
            "bad_signature",
            "the request's signature does not match (unknown product or wrong key)",
        )),
    }
}

fn sign(app: &App, nonce: &str, status: u16, body: Vec<u8>) -> Response<Body> {
    let date = protocol::format_http_date(app.now());
    let signature = protocol::sign_response(&app.key, nonce, status, &date, &body);
    let signature = format!("{} {}", app.key.id(), B64.encode(signature));
    let mut response = Response::new(Body::from(body));
    *response.status_mut() =
        StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let headers = response.headers_mut();
    headers.insert("content-type", HeaderValue::from_static("application/json"));
    if let Ok(v) = HeaderValue::from_str(&date) {
        headers.insert("date", v);
    }
    if let Ok(v) = HeaderValue::from_str(nonce) {
        headers.insert("tessera-nonce", v);
    }
    if let Ok(v) = HeaderValue::from_str(&signature) {
        headers.insert("tessera-signature", v);
    }
    response
}
