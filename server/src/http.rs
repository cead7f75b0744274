//! The HTTP layer's parts: the one layer that signs every response (errors and axum's own rejections included, each
//! as the `{status, code, message}` body), the authentication of client
//! requests (HMAC, docs/PROTOCOL.md) and of admin requests (bearer token),
//! and the typed JSON body extractor.

use std::sync::Arc;

use axum::body::{to_bytes, Body, Bytes};
use axum::extract::{FromRequest, OriginalUri, Request, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine as _;
use serde::de::DeserializeOwned;
use serde_json::Value;
use subtle::ConstantTimeEq as _;
use tessera::protocol::{self, request};

use crate::audit::db as audit_db;
use crate::database;
use crate::error::ApiError;
use crate::state::App;
use crate::users::sign_in as users_sign_in;

/// The largest request body accepted.
pub(crate) const MAX_BODY: usize = 64 * 1024;
/// How far a request's Date may be from the server's clock.
pub(crate) const MAX_SKEW_SECS: i64 = 300;
/// The largest answer the signing layer reads back to sign.
const MAX_ANSWER: usize = 64 * 1024 * 1024;

/// The product a client request was authenticated for (a request
/// extension set by the client API's authentication).
#[derive(Debug, Clone)]
pub(crate) struct Product(pub String);

/// What a client request's device proof is checked against: the request
/// string the HMAC covered, and the `Tessera-Device-Signature` header, if
/// any (a request extension set with [`Product`]).
#[derive(Debug, Clone)]
pub(crate) struct DeviceProof {
    pub message: String,
    pub signature: Option<String>,
}

/// A successful answer: a JSON document, status 200.
pub(crate) struct Answer(pub Value);

impl Answer {
    /// The answer `body`, one of the wire's types (the OpenAPI document's
    /// schema of the operation is made from the same type).
    pub(crate) fn of(body: impl serde::Serialize) -> Result<Answer, ApiError> {
        to_value(&body).map(Answer)
    }
}

/// An answer's body as JSON.
pub(crate) fn to_value(answer: &impl serde::Serialize) -> Result<Value, ApiError> {
    serde_json::to_value(answer).map_err(|e| ApiError::internal(e.to_string()))
}

impl IntoResponse for Answer {
    fn into_response(self) -> Response {
        match serde_json::to_vec(&self.0) {
            Ok(body) => json_response(StatusCode::OK, body),
            Err(e) => ApiError::internal(e.to_string()).into_response(),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = StatusCode::from_u16(self.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let mut response = json_response(status, serde_json::to_vec(&self).unwrap_or_default());
        if let Some(seconds) = self.retry_after {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(seconds));
        }
        response
    }
}

pub(crate) fn json_response(status: StatusCode, body: Vec<u8>) -> Response {
    let mut response = Response::new(Body::from(body));
    *response.status_mut() = status;
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    response
}

/// A JSON request body of type `T`: at most [`MAX_BODY`] bytes (413
/// `body_too_large`), and anything that does not parse as `T` is 400
/// `invalid_body` with what serde said.
pub(crate) struct JsonBody<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for JsonBody<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, _state: &S) -> Result<Self, ApiError> {
        let bytes = read_body(req.into_body()).await?;
        parse(&bytes).map(JsonBody)
    }
}

/// `T` from a JSON body, or 400 `invalid_body`.
pub(crate) fn parse<T: DeserializeOwned>(body: &[u8]) -> Result<T, ApiError> {
    if holds_nul(body) {
        return Err(nul_refused());
    }
    serde_json::from_slice(body).map_err(|e| ApiError::bad_request("invalid_body", e.to_string()))
}

/// Whether a JSON text spells a NUL character (`\u0000`, the `u` after an
/// odd run of backslashes): no text the server keeps may hold one
/// (PostgreSQL's text cannot, and no name or key needs one). A raw NUL
/// byte is not JSON at all, which the parser refuses.
pub(crate) fn holds_nul(json: &[u8]) -> bool {
    json.windows(5)
        .enumerate()
        .filter(|(_, w)| w.eq_ignore_ascii_case(b"u0000"))
        .any(|(at, _)| json[..at].iter().rev().take_while(|&&b| b == b'\\').count() % 2 == 1)
}

/// The refusal of a NUL character in a body, a path or a query.
pub(crate) fn nul_refused() -> ApiError {
    ApiError::bad_request(
        "invalid_text",
        "text may not hold a NUL character (\\u0000 or %00)",
    )
}

pub(crate) async fn read_body(body: Body) -> Result<Bytes, ApiError> {
    to_bytes(body, MAX_BODY).await.map_err(|_| {
        ApiError::new(
            413,
            "body_too_large",
            format!("the body is larger than {MAX_BODY} bytes"),
        )
    })
}

fn header_str<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

/// Signs every answer with the server's key over the request's nonce, the
/// status, the Date and the body (docs/PROTOCOL.md). A failure that axum
/// produced itself (a path that does not decode, a query that does not
/// parse) is first given the error body every failure has.
pub(crate) async fn sign_every_response(
    State(app): State<Arc<App>>,
    req: Request,
    next: Next,
) -> Response {
    let nonce = header_str(req.headers(), "tessera-nonce")
        .filter(|n| request::nonce_ok(n))
        .unwrap_or_default()
        .to_owned();
    let response = next.run(req).await;
    let (parts, body) = response.into_parts();
    let retry_after = parts.headers.get(header::RETRY_AFTER).cloned();
    let content_type = parts.headers.get(header::CONTENT_TYPE);
    let is_json = content_type.is_some_and(|v| v.as_bytes().starts_with(b"application/json"));
    // A report as CSV is signed as it is, like JSON.
    let is_csv = content_type.is_some_and(|v| v.as_bytes() == CSV.as_bytes());
    let (status, body) = match to_bytes(body, MAX_ANSWER).await {
        Ok(bytes) if is_json || is_csv => (parts.status.as_u16(), bytes.to_vec()),
        Ok(bytes) => {
            let status = parts.status.as_u16();
            (status, rejection_body(status, &bytes))
        }
        Err(_) => (500, rejection_body(500, b"the answer could not be read")),
    };
    // LicenseSpring's own signature over the bytes sent (seed 003).
    #[cfg(feature = "compat")]
    let licensespring = crate::compat::licensespring::signature::signature_header(
        app.licensespring_signer.as_deref(),
        &parts.extensions,
        &body,
    );
    let mut signed = sign(&app, &nonce, status, body);
    if is_csv {
        signed
            .headers_mut()
            .insert(header::CONTENT_TYPE, HeaderValue::from_static(CSV));
    }
    if let Some(v) = retry_after {
        signed.headers_mut().insert(header::RETRY_AFTER, v);
    }
    #[cfg(feature = "compat")]
    if let Some(v) = licensespring {
        signed.headers_mut().insert("licensesignature", v);
    }
    signed
}

/// The content type of the answers that are CSV (usage reports).
pub(crate) const CSV: &str = "text/csv; charset=utf-8";

/// The `{status, code, message}` body for an answer axum made itself.
fn rejection_body(status: u16, text: &[u8]) -> Vec<u8> {
    let code = match status {
        400 => "bad_request",
        404 => "not_found",
        405 => "method_not_allowed",
        413 => "body_too_large",
        415 => "unsupported_media_type",
        422 => "invalid_body",
        _ if status >= 500 => "internal",
        _ => "error",
    };
    let message = String::from_utf8_lossy(text).into_owned();
    serde_json::to_vec(&ApiError::new(status, code, message)).unwrap_or_default()
}

fn sign(app: &App, nonce: &str, status: u16, body: Vec<u8>) -> Response {
    let date = protocol::format_http_date(app.now());
    let signature = protocol::sign_response(&app.key, nonce, status, &date, &body);
    let signature = format!("{} {}", app.key.id(), B64.encode(signature));
    let mut response = json_response(
        StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
        body,
    );
    let headers = response.headers_mut();
    if let Ok(v) = HeaderValue::from_str(&date) {
        headers.insert(header::DATE, v);
    }
    if let Ok(v) = HeaderValue::from_str(nonce) {
        headers.insert("tessera-nonce", v);
    }
    if let Ok(v) = HeaderValue::from_str(&signature) {
        headers.insert("tessera-signature", v);
    }
    response
}

/// The admin API's bearer token, compared in constant time.
pub(crate) async fn authenticate_admin(
    State(app): State<Arc<App>>,
    req: Request,
    next: Next,
) -> Result<Response, ApiError> {
    let peer = client_address(&app, req.headers(), req.extensions())
        .map(|ip| ip.to_string())
        .unwrap_or_default();
    let action = format!(
        "{} {}",
        req.method(),
        req.extensions()
            .get::<OriginalUri>()
            .map_or_else(|| req.uri().path().to_owned(), |o| o.0.path().to_owned())
    );
    let token = header_str(req.headers(), "authorization")
        .and_then(|v| v.strip_prefix("Bearer "))
        .unwrap_or_default();
    if !bool::from(token.as_bytes().ct_eq(app.admin_token.as_bytes())) {
        return Err(refuse_admin_token(&app, peer, action).await);
    }
    // Every request that may change something is audited: who (the admin
    // token's holder, and the address), when, the method and path, and the
    // outcome. Never the body: it may hold passwords and license keys. A
    // change commits with its audit row or not at all (audit::context); a
    // request that changed nothing gets its outcome's row afterwards.
    if req.method() == axum::http::Method::GET {
        return Ok(next.run(req).await);
    }
    let actor = format!("admin token from {peer}");
    let response =
        crate::audit::request::audited(&app, actor, action, next.run(req), |r| r.status().as_u16())
            .await;
    Ok(response)
}

/// Wrong admin tokens an address may try in a minute before it is
/// refused outright (429 with `Retry-After`), counted in the database
/// across instances; each counted one is audited.
const ADMIN_TOKEN_FAILURES: crate::rate_limit::Limit = crate::rate_limit::Limit {
    kind: "admin-token-address",
    limit: 10,
    window: 60,
};

/// The refusal of a wrong admin token: 401, audited and counted against
/// the address; 429 once the address used up its tries.
async fn refuse_admin_token(app: &Arc<App>, peer: String, action: String) -> ApiError {
    let now = app.now().timestamp();
    let counted = app
        .with_db(move |_, conn| {
            database::write(conn, |tx| {
                if let Some(wait) = ADMIN_TOKEN_FAILURES.wait(tx, &peer, now)? {
                    return Ok(Some(wait));
                }
                ADMIN_TOKEN_FAILURES.record(tx, &peer, now)?;
                audit_db::audit(
                    tx,
                    now,
                    &format!("a wrong admin token from {peer}"),
                    &action,
                    401,
                )?;
                Ok(None)
            })
        })
        .await;
    match counted {
        Ok(Some(seconds)) => ApiError::too_many(
            "too_many_attempts",
            format!("too many wrong admin tokens from this address; try again in {seconds} s"),
            seconds,
        ),
        Ok(None) => ApiError::unauthorized("unauthorized", "a valid admin token is required"),
        Err(e) => e,
    }
}

/// Checks a client request's Date, nonce and HMAC over its body; the body
/// is read once (bounded), checked, and handed on with the [`Product`] it
/// was authenticated for.
pub(crate) async fn authenticate_client(
    State(app): State<Arc<App>>,
    req: Request,
    next: Next,
) -> Result<Response, ApiError> {
    let (mut parts, body) = req.into_parts();
    let body = read_body(body).await?;
    // The path as the client signed it: nesting strips `/api/v1` from
    // `parts.uri`, so take the original.
    let path = parts
        .extensions
        .get::<OriginalUri>()
        .map_or_else(|| parts.uri.path().to_owned(), |o| o.0.path().to_owned());
    let (product, message, nonce) =
        authenticate(&app, &parts.headers, parts.method.as_str(), &path, &body).await?;
    if app.is_postgres() && path == HEARTBEAT_PATH {
        parts.extensions.insert(nonce);
    } else {
        nonce.spend(&app).await?;
    }
    let signature = header_str(&parts.headers, request::DEVICE_SIGNATURE_HEADER).map(str::to_owned);
    parts.extensions.insert(Product(product));
    parts.extensions.insert(DeviceProof { message, signature });
    // The client's address, for the per-address limits (sign-ins, trials).
    let peer = client_address(&app, &parts.headers, &parts.extensions);
    // The SDK that calls (its User-Agent), shown on the console's device
    // list: printable ASCII, at most 100 characters.
    let client = header_str(&parts.headers, "user-agent").map(|agent| {
        agent
            .chars()
            .filter(|c| c.is_ascii_graphic() || *c == ' ')
            .take(100)
            .collect::<String>()
    });
    let run = next.run(Request::from_parts(parts, Body::from(body)));
    let run = CLIENT.scope(client, run);
    Ok(users_sign_in::PEER.scope(peer, run).await)
}

tokio::task_local! {
    /// The User-Agent of the client API's request this task serves (set by
    /// its authentication layer): the SDK and its version.
    pub(crate) static CLIENT: Option<String>;
}

/// The address a request comes from: the connection's, or the client a
/// trusted proxy's forwarding header names (crate::client_address).
pub(crate) fn client_address(
    app: &App,
    headers: &HeaderMap,
    extensions: &axum::http::Extensions,
) -> Option<std::net::IpAddr> {
    let peer = extensions
        .get::<axum::extract::ConnectInfo<crate::connections::Peer>>()
        .map(|c| c.0 .0.ip());
    crate::client_address::of(headers, peer, &app.trusted_proxies)
}

/// Checks Date, nonce and the HMAC; returns the product, the request
/// string the HMAC covered and the nonce, still to spend.
async fn authenticate(
    app: &Arc<App>,
    headers: &HeaderMap,
    method: &str,
    path: &str,
    body: &[u8],
) -> Result<(String, String, UnspentNonce), ApiError> {
    let date = header_str(headers, "date")
        .ok_or_else(|| ApiError::unauthorized("missing_date", "the Date header is required"))?;
    let sent = protocol::parse_http_date(date)
        .ok_or_else(|| ApiError::unauthorized("bad_date", "the Date header is not an HTTP date"))?;
    if (app.now() - sent).num_seconds().abs() > MAX_SKEW_SECS {
        return Err(ApiError::unauthorized(
            "stale_date",
            "the Date header is more than 5 minutes from the server's clock",
        ));
    }
    let nonce = header_str(headers, "tessera-nonce")
        .filter(|n| request::nonce_ok(n))
        .ok_or_else(|| {
            ApiError::unauthorized(
                "bad_nonce",
                "Tessera-Nonce must be 16 to 64 characters [0-9A-Za-z_-]",
            )
        })?;
    let (product, signature) = header_str(headers, "authorization")
        .and_then(request::parse_authorization)
        .ok_or_else(|| {
            ApiError::unauthorized(
                "bad_authorization",
                "Authorization must be Tessera-HMAC-SHA256",
            )
        })?;
    let product = product.to_owned();
    let signature = signature.to_owned();
    let message = request::request_string(date, method, path, body, nonce);
    let key = app.product_key(&product).await?;
    match key {
        Some(k) if request::signature_matches(&k, &message, &signature) => {}
        _ => {
            return Err(ApiError::unauthorized(
                "bad_signature",
                "the request's signature does not match (unknown product or wrong key)",
            ))
        }
    }
    // Only a request that verified is remembered, for as long as its Date
    // would be accepted: sent again, to this or any instance sharing the
    // database, it is refused.
    let now = app.now().timestamp();
    let nonce = UnspentNonce {
        product: product.clone(),
        nonce: nonce.to_owned(),
        expires: sent.timestamp().max(now) + MAX_SKEW_SECS,
    };
    Ok((product, message, nonce))
}

/// The nonce of a request that verified, not yet remembered. The
/// middleware spends it before the request goes on, but for a floating
/// seat's heartbeat on PostgreSQL: there the heartbeat's one statement
/// spends it (crate::seats::heartbeat), or, when that statement does not
/// apply, [`crate::device_call::DeviceCall::run`] does, before anything else.
#[derive(Debug, Clone)]
pub(crate) struct UnspentNonce {
    pub(crate) product: String,
    pub(crate) nonce: String,
    /// Until when (Unix seconds) it is remembered: its Date is refused after.
    pub(crate) expires: i64,
}

impl UnspentNonce {
    /// Remembers the nonce; refuses a request whose nonce was spent before.
    pub(crate) async fn spend(self, app: &Arc<App>) -> Result<(), ApiError> {
        let fresh = app
            .with_db(move |app, conn| {
                let now = app.now().timestamp();
                let sweep = app.nonce_sweep_due(now);
                let UnspentNonce {
                    product,
                    nonce,
                    expires,
                } = self;
                Ok(database::remember_nonce(
                    conn, &product, &nonce, now, expires, sweep,
                )?)
            })
            .await?;
        if fresh {
            Ok(())
        } else {
            Err(replayed())
        }
    }
}

/// The refusal of a request whose nonce was spent before.
pub(crate) fn replayed() -> ApiError {
    ApiError::unauthorized(
        "replayed",
        "this request was received before (its nonce is spent)",
    )
}

/// The path of the one call whose nonce the handler spends, on PostgreSQL.
const HEARTBEAT_PATH: &str = "/api/v1/floating/heartbeat";

/// The product a client request authenticated as (by its HMAC).
pub(crate) type Authenticated = axum::Extension<Product>;
