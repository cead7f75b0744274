//! The relay's HTTP side: the SDK's floating calls at the vendor server's
//! paths and bodies (docs/PROTOCOL.md), every answer signed with the
//! relay's key and carrying the delegation (`Tessera-Delegation`), and a
//! status page for the customer's administrator.
//!
//! A request is checked before it changes anything: its `Date` within five
//! minutes of the relay's clock, the product the delegation's, and (past
//! activation) the device's proof under the key it activated with, so a
//! machine on the network cannot give back or borrow another's seat. The
//! product's HMAC key is the vendor's secret and the relay has none:
//! anyone on the network may ask for a seat, and a relay never grants more
//! than the delegation allows (docs/RELAY.md).

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use axum::body::Bytes;
use axum::extract::{ConnectInfo, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine as _;
use serde_json::{json, Value};
use subtle::ConstantTimeEq as _;
use tessera::format::delegation::{self, RelayGrant, RelayLease};
use tessera::issuer::SigningKey;
use tessera::protocol::bodies::{BorrowRequest, DeviceRequest, LicenseAndDevice};
use tessera::protocol::{self, request};
use tessera::{Clock, Time};

use crate::seats::{Ask, Granted, Refusal, Seats};
use crate::Failure;

/// How far a request's `Date` may be from the relay's clock.
const MAX_SKEW_SECS: i64 = 300;
/// The largest request body read.
const MAX_BODY: usize = 64 * 1024;

/// A running relay's parts.
pub struct Relay {
    key: SigningKey,
    grant: RelayGrant,
    /// The delegation's armor, base64: the `Tessera-Delegation` header.
    delegation_header: HeaderValue,
    seats: Mutex<Seats>,
    clock: Arc<dyn Clock>,
    /// Whether the status page answers other machines than this one (it
    /// shows who holds the seats): off unless the administrator says.
    pub status_from_network: bool,
}

impl Relay {
    /// A relay with its key, the vendor's grant and its state.
    pub fn new(
        key: SigningKey,
        grant: RelayGrant,
        seats: Seats,
        clock: Arc<dyn Clock>,
    ) -> Result<Relay, Failure> {
        let delegation_header = HeaderValue::from_str(&B64.encode(&grant.delegation_text))
            .map_err(|_| Failure::new(crate::exit::FAILED, "the delegation cannot be sent"))?;
        Ok(Relay {
            key,
            grant,
            delegation_header,
            seats: Mutex::new(seats),
            clock,
            status_from_network: false,
        })
    }

    fn now(&self) -> i64 {
        self.clock.now().unix()
    }

    /// The longest floating lease: the delegation's, within the license's
    /// `floating_timeout`.
    fn lease_secs(&self) -> i64 {
        let minutes = self
            .grant
            .delegation
            .lease_minutes
            .min(self.grant.license.floating_timeout.max(1));
        i64::from(minutes) * 60
    }

    fn seats(&self) -> std::sync::MutexGuard<'_, Seats> {
        self.seats.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// The relay's routes.
pub fn router(relay: Arc<Relay>) -> Router {
    let mut router = Router::new()
        .route("/status", get(status_page))
        .route("/status.json", get(status_json));
    for path in protocol::RELAY_PATHS {
        let path = *path;
        router = router.route(
            path,
            post(
                move |state: State<Arc<Relay>>, headers: HeaderMap, body: Bytes| {
                    call(state, path, headers, body)
                },
            ),
        );
    }
    router.with_state(relay)
}

/// Serves on `listen` until the process is stopped (Ctrl-C, SIGINT);
/// prints the address.
pub async fn run(relay: Arc<Relay>, listen: SocketAddr) -> Result<(), Failure> {
    run_until(relay, listen, async {
        let _ = tokio::signal::ctrl_c().await;
    })
    .await
}

/// Serves on `listen` until `stop` completes (a service's stop request);
/// prints the address.
pub async fn run_until(
    relay: Arc<Relay>,
    listen: SocketAddr,
    stop: impl std::future::Future<Output = ()> + Send + 'static,
) -> Result<(), Failure> {
    let listener = tokio::net::TcpListener::bind(listen).await.map_err(|e| {
        Failure::new(
            crate::exit::FAILED,
            format!("cannot listen on {listen}: {e}"),
        )
    })?;
    let local = listener
        .local_addr()
        .map_err(|e| Failure::new(crate::exit::FAILED, e.to_string()))?;
    let d = &relay.grant.delegation;
    println!(
        "tessera-relay: serving {} seats of license {} ({}) on http://{local}/ until {}",
        d.seats, d.license_id, d.product, d.expires_at
    );
    axum::serve(
        listener,
        router(relay).into_make_service_with_connect_info::<SocketAddr>(),
    )
    .with_graceful_shutdown(stop)
    .await
    .map_err(|e| Failure::new(crate::exit::FAILED, e.to_string()))
}

/// A refusal, as the SDK reads it.
struct Refused {
    status: u16,
    code: &'static str,
    message: String,
}

fn refused(status: u16, code: &'static str, message: impl Into<String>) -> Refused {
    Refused {
        status,
        code,
        message: message.into(),
    }
}

impl From<Refusal> for Refused {
    fn from(r: Refusal) -> Refused {
        match r {
            Refusal::NoSeat { seats } => refused(
                409,
                "no_seat_available",
                format!("all {seats} seats of the relay are in use"),
            ),
            Refusal::NoLease => refused(404, "no_lease", "this device holds no seat"),
            Refusal::Clock { behind } => refused(
                409,
                "clock_tampered",
                format!("the relay's clock is {behind} s behind what it has seen: fix the clock"),
            ),
            Refusal::State(e) => refused(500, "internal", format!("the relay's state: {e}")),
        }
    }
}

async fn call(
    State(relay): State<Arc<Relay>>,
    path: &'static str,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let nonce = headers
        .get("tessera-nonce")
        .and_then(|v| v.to_str().ok())
        .filter(|n| request::nonce_ok(n))
        .unwrap_or_default()
        .to_owned();
    // Every statement is short (prepared, indexed, no fsync in WAL with
    // synchronous = NORMAL): it runs on the worker itself, as the
    // server's do; a blocking thread's hand-off cost more than the work.
    let (status, body) = match answer(&relay, path, &headers, &body) {
        Ok(v) => (200, v),
        Err(r) => (
            r.status,
            json!({"status": r.status, "code": r.code, "message": r.message}),
        ),
    };
    signed(
        &relay,
        &nonce,
        status,
        serde_json::to_vec(&body).unwrap_or_default(),
    )
}

fn signed(relay: &Relay, nonce: &str, status: u16, body: Vec<u8>) -> Response {
    let date = protocol::format_http_date(relay.clock.now().into());
    let signature = protocol::sign_response(&relay.key, nonce, status, &date, &body);
    let signature = format!("{} {}", relay.key.id(), B64.encode(signature));
    let mut response = (
        StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
        [(header::CONTENT_TYPE, "application/json")],
        body,
    )
        .into_response();
    let h = response.headers_mut();
    for (name, value) in [
        ("date", date.as_str()),
        ("tessera-nonce", nonce),
        ("tessera-signature", &signature),
    ] {
        if let Ok(v) = HeaderValue::from_str(value) {
            h.insert(name, v);
        }
    }
    h.insert("tessera-delegation", relay.delegation_header.clone());
    response
}

fn answer(relay: &Relay, path: &str, headers: &HeaderMap, body: &[u8]) -> Result<Value, Refused> {
    let text = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
    };
    let (date, nonce) = (text("date"), text("tessera-nonce"));
    if body.len() > MAX_BODY {
        return Err(refused(413, "body_too_large", "the request is too large"));
    }
    if !request::nonce_ok(nonce) {
        return Err(refused(
            401,
            "bad_nonce",
            "the request has no valid Tessera-Nonce",
        ));
    }
    let now = relay.now();
    // The relay's own clock first: set back past what it has seen, it
    // grants nothing (and says so rather than blaming the request's Date).
    if let Some(mark) = relay.seats().clock_mark() {
        if now < mark - crate::seats::CLOCK_TOLERANCE_SECS {
            return Err(Refusal::Clock { behind: mark - now }.into());
        }
    }
    let sent = protocol::parse_http_date(date)
        .map(|d| d.timestamp())
        .ok_or_else(|| {
            refused(
                401,
                "stale_date",
                "the request's Date is missing or malformed",
            )
        })?;
    if (sent - now).abs() > MAX_SKEW_SECS {
        return Err(refused(
            401,
            "stale_date",
            "the request's Date is more than five minutes from the relay's clock",
        ));
    }
    let (who, hours) = if path == "/api/v1/floating/borrow" {
        let b: BorrowRequest = serde_json::from_slice(body)
            .map_err(|e| refused(400, "invalid_body", format!("the body: {e}")))?;
        (b.who, Some(b.hours))
    } else {
        let d: DeviceRequest = serde_json::from_slice(body)
            .map_err(|e| refused(400, "invalid_body", format!("the body: {e}")))?;
        (d.who, None)
    };
    let d = &relay.grant.delegation;
    if who.product != d.product {
        return Err(refused(
            404,
            "unknown_product",
            "this relay serves another product",
        ));
    }
    if who.fingerprint.id.is_empty() || who.fingerprint.id.len() > 128 {
        return Err(refused(
            400,
            "invalid_body",
            "the fingerprint's id must be 1 to 128 characters",
        ));
    }
    let message = request::request_string(date, "POST", path, body, nonce);
    let proof = text(request::DEVICE_SIGNATURE_HEADER);
    if path == "/api/v1/activate_license" {
        return activate(relay, &who, &message, proof, now);
    }
    // Every other call: the device proves it is the one that activated.
    let key = relay
        .seats()
        .device_key(&who.fingerprint.id)?
        .ok_or_else(|| {
            refused(
                404,
                "not_activated",
                "this device is not activated on the relay",
            )
        })?;
    if !request::device_proof_matches(&key, &message, proof) {
        return Err(refused(
            401,
            "device_proof",
            "the request is not signed by the device's key",
        ));
    }
    let fp = who.fingerprint.id.as_str();
    let (ask, length) = match path {
        "/api/v1/floating/register" => (Ask::Register, relay.lease_secs()),
        "/api/v1/floating/heartbeat" => (Ask::Heartbeat, relay.lease_secs()),
        "/api/v1/floating/borrow" => {
            let hours = hours.unwrap_or(0);
            if d.max_borrow_hours == 0 {
                return Err(refused(
                    409,
                    "borrow_not_allowed",
                    "the relay's delegation allows no borrowing",
                ));
            }
            if hours == 0 || hours > d.max_borrow_hours {
                return Err(refused(
                    400,
                    "borrow_too_long",
                    format!("a borrow lasts 1 to {} hours here", d.max_borrow_hours),
                ));
            }
            (Ask::Borrow, i64::from(hours) * 3600)
        }
        "/api/v1/floating/release" => {
            relay.seats().release(fp, now)?;
            return Ok(json!({}));
        }
        // A check-in: the pool's file as the relay holds it now (a renewed
        // delegation brings a fresh one).
        "/api/v1/check_license" => {
            return Ok(json!({ "license_file": relay.grant.license_text }));
        }
        "/api/v1/deactivate_license" => {
            relay.seats().deactivate(fp, now)?;
            return Ok(json!({}));
        }
        _ => return Err(refused(404, "not_found", "no such call")),
    };
    if now >= d.expires_at.unix() {
        return Err(refused(
            409,
            "delegation_expired",
            "the relay's delegation has expired: its administrator must renew it",
        ));
    }
    let granted = relay
        .seats()
        .grant(fp, ask, length, d.seats, d.expires_at.unix(), now)?;
    lease_answer(relay, &who, &granted)
}

/// An activation: the pool's key (or id), and the device's key with its
/// proof; a device recorded under another key is refused, as the
/// server refuses it (PROTOCOL.md): the administrator's `free DEVICE`
/// forgets a device that lost its key (a reinstall).
fn activate(
    relay: &Relay,
    who: &LicenseAndDevice,
    message: &str,
    proof: &str,
    now: i64,
) -> Result<Value, Refused> {
    let license = &relay.grant.license;
    let by_key = match (&who.license_key, &license.license_key) {
        (Some(given), Some(pool)) => bool::from(given.as_bytes().ct_eq(pool.expose().as_bytes())),
        _ => false,
    };
    // By id only a pool issued without a key: an id is no secret.
    let by_id = license.license_key.is_none()
        && who.license_key.is_none()
        && who.license_id.as_deref() == Some(license.id.as_str());
    if !(by_key || by_id) {
        return Err(refused(
            404,
            "license_not_found",
            "no such license on this relay",
        ));
    }
    let key = who
        .device_key
        .as_deref()
        .filter(|k| tessera::PublicKey::from_base64(k).is_ok())
        .ok_or_else(|| refused(400, "invalid_body", "an activation names the device's key"))?;
    if !request::device_proof_matches(key, message, proof) {
        return Err(refused(
            401,
            "device_proof",
            "the activation is not signed by the key it names",
        ));
    }
    let mut seats = relay.seats();
    match seats.device_key(&who.fingerprint.id)? {
        Some(known) if known != key => {
            return Err(refused(
                409,
                "device_key_mismatch",
                "this device is activated on the relay under another key: its administrator frees it (`tessera-relay free DEVICE`)",
            ))
        }
        _ => {}
    }
    let components = serde_json::to_string(&who.fingerprint.components).unwrap_or_default();
    let user = who.username.clone().unwrap_or_default();
    seats.activate(&who.fingerprint.id, key, &components, &user, now)?;
    Ok(json!({ "license_file": relay.grant.license_text }))
}

fn lease_answer(
    relay: &Relay,
    who: &LicenseAndDevice,
    granted: &Granted,
) -> Result<Value, Refused> {
    let d = &relay.grant.delegation;
    let time =
        |s: i64| Time::from_unix(s).ok_or_else(|| refused(500, "internal", "a time out of range"));
    let lease = RelayLease {
        format: 1,
        id: granted.id.clone(),
        delegation: d.id.clone(),
        license_id: d.license_id.clone(),
        product: d.product.clone(),
        device: who.fingerprint.clone(),
        kind: granted.kind,
        features: d.features.clone(),
        issued_at: time(granted.issued_at)?,
        expires_at: time(granted.expires_at)?,
    };
    let signed = delegation::sign_lease(&lease, &relay.key)
        .map_err(|e| refused(500, "internal", e.to_string()))?;
    let mut answer = json!({
        "lease": format!("{}\n{signed}", relay.grant.delegation_text),
        "seats_total": d.seats,
    });
    if let Some(n) = granted.in_use {
        answer["seats_used"] = json!(n);
    }
    Ok(answer)
}

/// What the status page and `tessera-relay status` show.
pub fn status(seats: &Seats, grant: &RelayGrant, now: i64) -> Result<Value, Failure> {
    let held = seats
        .held(now)
        .map_err(|e| Failure::new(crate::exit::STATE, format!("{e:?}")))?;
    let usage = seats
        .usage()
        .map_err(|e| Failure::new(crate::exit::STATE, format!("{e:?}")))?;
    let d = &grant.delegation;
    Ok(json!({
        "product": d.product,
        "license_id": d.license_id,
        "delegation": d.id,
        "seats": d.seats,
        "in_use": held.len(),
        "lease_minutes": d.lease_minutes,
        "max_borrow_hours": d.max_borrow_hours,
        "expires_at": d.expires_at,
        "leases": held,
        "usage": usage,
    }))
}

/// Whether `peer` may see the status: this machine always, others only
/// when the administrator opened it (`serve --status-from-network`).
pub fn status_allowed(from_network: bool, peer: std::net::IpAddr) -> bool {
    from_network || peer.is_loopback()
}

/// The status page answers this machine only, unless the administrator
/// opened it to the network.
fn status_refused(relay: &Relay, peer: SocketAddr) -> Option<Response> {
    (!status_allowed(relay.status_from_network, peer.ip())).then(|| {
        (
            StatusCode::FORBIDDEN,
            "the relay's status shows only on its own machine (serve --status-from-network opens it)\n",
        )
            .into_response()
    })
}

/// The status for `peer`, and the time it was taken; or the answer that
/// refuses it (another machine) or says it failed.
fn shown_status(relay: &Relay, peer: SocketAddr) -> Result<(Value, i64), Box<Response>> {
    if let Some(refused) = status_refused(relay, peer) {
        return Err(Box::new(refused));
    }
    let now = relay.now();
    status(&relay.seats(), &relay.grant, now)
        .map(|v| (v, now))
        .map_err(|e| Box::new((StatusCode::INTERNAL_SERVER_ERROR, e.message).into_response()))
}

async fn status_json(
    State(relay): State<Arc<Relay>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
) -> Response {
    match shown_status(&relay, peer) {
        Ok((v, _)) => axum::Json(v).into_response(),
        Err(r) => *r,
    }
}

async fn status_page(
    State(relay): State<Arc<Relay>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
) -> Response {
    let (value, now) = match shown_status(&relay, peer) {
        Ok(shown) => shown,
        Err(r) => return *r,
    };
    (
        [
            (header::CONTENT_TYPE, "text/html; charset=utf-8"),
            (
                header::CONTENT_SECURITY_POLICY,
                "default-src 'none'; style-src 'unsafe-inline'",
            ),
        ],
        render(&value, now),
    )
        .into_response()
}

/// The status page: the seats in use, by whom, since when; borrowed seats
/// and when they come back. Every stored text is escaped.
pub fn render(v: &Value, now: i64) -> String {
    let s = |v: &Value| escape(&v.as_str().map_or_else(|| v.to_string(), str::to_owned));
    let when = |v: &Value| {
        v.as_i64()
            .and_then(Time::from_unix)
            .map_or_else(String::new, |t| escape(&t.to_string()))
    };
    let mut rows = String::new();
    for l in v["leases"].as_array().into_iter().flatten() {
        let kind = match (l["kind"].as_str(), l["returned"].as_bool()) {
            (Some("borrow"), Some(true)) => "borrowed (returned; counted until it ends)",
            (Some("borrow"), _) => "borrowed",
            _ => "floating",
        };
        rows.push_str(&format!(
            "<tr><td><code>{}</code></td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td><code>{}</code></td></tr>\n",
            s(&l["device"]),
            s(&l["user"]),
            kind,
            when(&l["since"]),
            when(&l["expires_at"]),
            s(&l["id"]),
        ));
    }
    if rows.is_empty() {
        rows.push_str("<tr><td colspan=6>No seat is in use.</td></tr>\n");
    }
    format!(
        "<!doctype html><html lang=en><head><meta charset=utf-8>\
<meta name=viewport content=\"width=device-width, initial-scale=1\">\
<title>Tessera relay: {product}</title>\
<style>body{{font:15px system-ui,sans-serif;margin:1.5rem;color:#222}}table{{border-collapse:collapse;width:100%}}\
td,th{{border-bottom:1px solid #ddd;padding:.4rem;text-align:left}}code{{font-size:13px}}</style></head><body>\
<h1>Relay for {product}</h1>\
<p><b>{in_use}</b> of <b>{seats}</b> seats in use. License <code>{license}</code>, delegation <code>{delegation}</code>, \
valid until {expires}. A floating seat lasts {minutes} minutes without a heartbeat; borrows up to {borrow} hours.</p>\
<table><thead><tr><th>Device</th><th>User</th><th>Seat</th><th>Since (UTC)</th><th>Ends (UTC)</th><th>Lease</th></tr></thead>\
<tbody>\n{rows}</tbody></table>\
<p>To free a seat: <code>tessera-relay free --dir DIR LEASE_OR_DEVICE</code>. Shown at {now} UTC.</p></body></html>\n",
        product = s(&v["product"]),
        in_use = s(&v["in_use"]),
        seats = s(&v["seats"]),
        license = s(&v["license_id"]),
        delegation = s(&v["delegation"]),
        expires = s(&v["expires_at"]),
        minutes = s(&v["lease_minutes"]),
        borrow = s(&v["max_borrow_hours"]),
        now = Time::from_unix(now).map_or_else(String::new, |t| t.to_string()),
    )
}

/// HTML-escapes `text`.
fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_status_shows_to_this_machine_and_to_others_only_when_opened() {
        let here: std::net::IpAddr = "127.0.0.1"
            .parse()
            .unwrap_or(std::net::Ipv4Addr::LOCALHOST.into());
        let lan: std::net::IpAddr = std::net::Ipv4Addr::new(192, 168, 1, 20).into();
        let six: std::net::IpAddr = std::net::Ipv6Addr::LOCALHOST.into();
        assert!(status_allowed(false, here) && status_allowed(false, six));
        assert!(!status_allowed(false, lan));
        assert!(status_allowed(true, lan));
    }

    #[test]
    fn the_status_page_escapes_what_it_shows() {
        let v = json!({"product": "<script>alert(1)</script>", "in_use": 1, "seats": 2,
            "license_id": "L\"1", "delegation": "D&1", "expires_at": "x", "lease_minutes": 30,
            "max_borrow_hours": 0,
            "leases": [{"device": "<img src=x onerror=alert(1)>", "user": "a'b", "kind": "floating",
                        "since": 0, "expires_at": 60, "returned": false, "id": "R-1"}]});
        let page = render(&v, 0);
        assert!(
            !page.contains("<script>") && !page.contains("<img"),
            "{page}"
        );
        assert!(
            page.contains("&lt;script&gt;") && page.contains("a&#39;b") && page.contains("D&amp;1")
        );
    }
}
