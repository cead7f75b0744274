//! The client API the SDK calls (authenticated per product).

use std::sync::Arc;

use chrono::{DateTime, Duration, Utc};
use serde::Deserialize;
use serde_json::{json, Value};
use tessera::activation::offline::{self, Action};
use tessera::format::lease::{Lease, LeaseKind};
use tessera::protocol::counter::{Counter, Limit};
use tessera::Fingerprint;

use axum::extract::State;

use axum::{Extension, Router};

use crate::db::{self, LicenseRow};
use crate::error::ApiError;
use crate::http::{Answer, DeviceProof, JsonBody, Product};
use crate::state::{App, Parsed};
use crate::store::Db;
use crate::users::{self, Password};

/// What every client request names: the product, the license (by key, or
/// by id for a device it is activated on or for its user), and the device.
#[derive(Debug, Deserialize)]
struct Who {
    product: String,
    #[serde(default)]
    license_key: Option<String>,
    #[serde(default)]
    license_id: Option<String>,
    #[serde(default)]
    username: Option<String>,
    #[serde(default)]
    password: Option<Password>,
    fingerprint: Fingerprint,
    /// At an activation: the public key (base64) of the device's proofs
    /// on its later requests.
    #[serde(default)]
    device_key: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct DeviceRequest {
    #[serde(flatten)]
    who: Who,
}

/// The update check: which release this device's license may install.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ReleaseRequest {
    #[serde(flatten)]
    who: Who,
    /// The version installed now: only newer releases that accept it.
    #[serde(default)]
    current_version: Option<String>,
    /// One channel's releases (all channels when left out).
    #[serde(default)]
    channel: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct BorrowRequest {
    #[serde(flatten)]
    who: Who,
    hours: u32,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ConsumptionRequest {
    #[serde(flatten)]
    who: Who,
    records: Vec<Record>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Record {
    /// The journal range's first sequence number (default: `seq`).
    #[serde(default)]
    first_seq: Option<u64>,
    seq: u64,
    counter: String,
    amount: u64,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct UserLicensesRequest {
    product: String,
    username: String,
    password: Password,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct TrialRequest {
    product: String,
    fingerprint: Fingerprint,
    #[serde(default)]
    email: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct OfflineRequest {
    product: String,
    /// The armored request file the device wrote.
    request: String,
    /// For a user's request: the password, and which license when the
    /// user has several for the product.
    #[serde(default)]
    password: Option<Password>,
    #[serde(default)]
    license_id: Option<String>,
}

/// What a handler does inside the transaction.
type Handler =
    dyn FnOnce(&App, &Db<'_>, &LicenseRow, &Who, DateTime<Utc>) -> Result<Reply, ApiError> + Send;

type AppState = State<Arc<App>>;
type Authenticated = Extension<Product>;
type Proof = Extension<DeviceProof>;

/// The client API, mounted under `/api/v1`; every call is a POST.
pub(crate) fn routes() -> (Router<Arc<App>>, crate::served::Served) {
    crate::served::served! {
        "/user_licenses" => post(user_licenses_call),
        "/trial_key" => post(trial_key_call),
        "/activate_offline" => post(activate_offline_call),
        "/deactivate_offline" => post(deactivate_offline_call),
        "/floating/borrow" => post(borrow_call),
        "/add_consumption" => post(add_consumption_call),
        "/activate_license" => post(activate_call),
        "/check_license" => post(check_call),
        "/deactivate_license" => post(deactivate_call),
        "/floating/register" => post(register_call),
        "/floating/heartbeat" => post(heartbeat_call),
        "/floating/release" => post(release_call),
        "/latest_release" => post(latest_release_call),
    }
}

async fn user_licenses_call(
    State(app): AppState,
    Extension(Product(product)): Authenticated,
    JsonBody(r): JsonBody<UserLicensesRequest>,
) -> Result<Answer, ApiError> {
    same_product(&product, &r.product)?;
    Ok(Answer(user_licenses(&app, r).await?))
}

async fn trial_key_call(
    State(app): AppState,
    Extension(Product(product)): Authenticated,
    JsonBody(r): JsonBody<TrialRequest>,
) -> Result<Answer, ApiError> {
    same_product(&product, &r.product)?;
    check_fingerprint(&r.fingerprint)?;
    Ok(Answer(trial_key(&app, r).await?))
}

async fn activate_offline_call(
    State(app): AppState,
    Extension(Product(product)): Authenticated,
    JsonBody(r): JsonBody<OfflineRequest>,
) -> Result<Answer, ApiError> {
    same_product(&product, &r.product)?;
    Ok(Answer(offline_call(&app, r, true).await?))
}

async fn deactivate_offline_call(
    State(app): AppState,
    Extension(Product(product)): Authenticated,
    JsonBody(r): JsonBody<OfflineRequest>,
) -> Result<Answer, ApiError> {
    same_product(&product, &r.product)?;
    Ok(Answer(offline_call(&app, r, false).await?))
}

async fn borrow_call(
    State(app): AppState,
    Extension(Product(product)): Authenticated,
    Extension(proof): Proof,
    JsonBody(r): JsonBody<BorrowRequest>,
) -> Result<Answer, ApiError> {
    let hours = r.hours;
    let handler: Box<Handler> =
        Box::new(move |app, tx, l, who, now| lease(app, tx, l, who, now, LeaseKind::Borrow, hours));
    Ok(Answer(
        with_license(&app, product, proof, r.who, false, handler).await?,
    ))
}

async fn add_consumption_call(
    State(app): AppState,
    Extension(Product(product)): Authenticated,
    Extension(proof): Proof,
    JsonBody(r): JsonBody<ConsumptionRequest>,
) -> Result<Answer, ApiError> {
    let records = r.records;
    let handler: Box<Handler> =
        Box::new(move |app, tx, row, who, now| add_consumption(app, tx, row, who, now, &records));
    Ok(Answer(
        with_license(&app, product, proof, r.who, false, handler).await?,
    ))
}

/// A call about one device's use of one license.
async fn device_call(
    app: &Arc<App>,
    (product, proof): (String, DeviceProof),
    r: DeviceRequest,
    activating: bool,
    handler: Box<Handler>,
) -> Result<Answer, ApiError> {
    Ok(Answer(
        with_license(app, product, proof, r.who, activating, handler).await?,
    ))
}

async fn activate_call(
    State(app): AppState,
    Extension(Product(product)): Authenticated,
    Extension(proof): Proof,
    JsonBody(r): JsonBody<DeviceRequest>,
) -> Result<Answer, ApiError> {
    device_call(&app, (product, proof), r, true, Box::new(activate)).await
}

async fn check_call(
    State(app): AppState,
    Extension(Product(product)): Authenticated,
    Extension(proof): Proof,
    JsonBody(r): JsonBody<DeviceRequest>,
) -> Result<Answer, ApiError> {
    device_call(&app, (product, proof), r, false, Box::new(check)).await
}

async fn latest_release_call(
    State(app): AppState,
    Extension(Product(product)): Authenticated,
    Extension(proof): Proof,
    JsonBody(r): JsonBody<ReleaseRequest>,
) -> Result<Answer, ApiError> {
    let current = match &r.current_version {
        None => None,
        Some(v) => Some(crate::releases::parse_version(v).ok_or_else(|| {
            ApiError::bad_request(
                "invalid_version",
                "current_version must be a dotted number such as 2.1.0",
            )
        })?),
    };
    let channel = r.channel;
    let handler: Box<Handler> = Box::new(move |app, tx, row, who, _| {
        require_activated(tx, row, &who.fingerprint.id)?;
        let parsed = app.license_of(row)?;
        let releases = db::releases_of(tx, &row.product, channel.as_deref())?;
        let until = crate::releases::covered_until(&parsed.1);
        let latest = crate::releases::latest_for(until, &releases, current.as_deref());
        Ok(Reply::Done(json!({
            "release": latest.map(crate::releases::to_json),
        })))
    });
    Ok(Answer(
        with_license(&app, product, proof, r.who, false, handler).await?,
    ))
}

async fn deactivate_call(
    State(app): AppState,
    Extension(Product(product)): Authenticated,
    Extension(proof): Proof,
    JsonBody(r): JsonBody<DeviceRequest>,
) -> Result<Answer, ApiError> {
    device_call(&app, (product, proof), r, false, Box::new(deactivate)).await
}

async fn register_call(
    State(app): AppState,
    Extension(Product(product)): Authenticated,
    Extension(proof): Proof,
    JsonBody(r): JsonBody<DeviceRequest>,
) -> Result<Answer, ApiError> {
    let handler: Box<Handler> =
        Box::new(|app, tx, l, who, now| lease(app, tx, l, who, now, LeaseKind::Floating, 0));
    device_call(&app, (product, proof), r, false, handler).await
}

async fn heartbeat_call(
    State(app): AppState,
    Extension(Product(product)): Authenticated,
    Extension(proof): Proof,
    JsonBody(r): JsonBody<DeviceRequest>,
) -> Result<Answer, ApiError> {
    device_call(&app, (product, proof), r, false, Box::new(heartbeat)).await
}

async fn release_call(
    State(app): AppState,
    Extension(Product(product)): Authenticated,
    Extension(proof): Proof,
    JsonBody(r): JsonBody<DeviceRequest>,
) -> Result<Answer, ApiError> {
    let handler: Box<Handler> = Box::new(|_, tx, row, who, _| {
        let released = db::delete_lease(tx, &row.id, &who.fingerprint.id)?;
        Ok(Reply::Done(json!({ "released": released })))
    });
    device_call(&app, (product, proof), r, false, handler).await
}

fn same_product(authorized: &str, named: &str) -> Result<(), ApiError> {
    if authorized == named {
        Ok(())
    } else {
        Err(ApiError::new(
            403,
            "wrong_product",
            "the body names another product than the key",
        ))
    }
}

fn check_fingerprint(fingerprint: &Fingerprint) -> Result<(), ApiError> {
    if fingerprint.id.is_empty() || fingerprint.id.len() > 128 {
        return Err(ApiError::bad_request(
            "invalid_body",
            "fingerprint.id must be 1 to 128 characters",
        ));
    }
    Ok(())
}

/// What a call answers: ready, or a document to sign once the database
/// lock is released.
enum Reply {
    Done(Value),
    /// A license spec to issue at the time given.
    License(Value, DateTime<Utc>),
    /// A license spec to issue, then wrap in the answer to an offline
    /// request (its text and what it says).
    Offline(Value, DateTime<Utc>, String, Box<offline::Request>),
    /// A lease to seal, and the other fields of the answer.
    Lease(Box<Lease>, Value),
}

fn finish(app: &App, reply: Reply) -> Result<Value, ApiError> {
    let issue = |spec: Value, now| -> Result<String, ApiError> {
        let bytes = serde_json::to_vec(&spec).map_err(|e| ApiError::internal(e.to_string()))?;
        Ok(tessera::issuer::issue(&bytes, &app.key, now)?.0)
    };
    match reply {
        Reply::Done(v) => Ok(v),
        Reply::License(spec, now) => Ok(json!({ "license_file": issue(spec, now)? })),
        Reply::Offline(spec, now, text, request) => {
            let file = issue(spec, now)?;
            let response = offline::respond(text.as_bytes(), &request, &file, &app.key, now)?;
            Ok(json!({ "response": response }))
        }
        Reply::Lease(lease, mut extra) => {
            extra["lease"] = json!(tessera::format::lease::seal(&lease, &app.key)?);
            Ok(extra)
        }
    }
}

/// Looks the license up for the authenticated product and runs `f` in one
/// write transaction; what it answers is signed after the lock is released.
/// A user's password is checked first, outside the lock.
async fn with_license(
    app: &Arc<App>,
    product: String,
    proof: DeviceProof,
    who: Who,
    activating: bool,
    f: Box<Handler>,
) -> Result<Value, ApiError> {
    same_product(&product, &who.product)?;
    check_fingerprint(&who.fingerprint)?;
    let user = match (&who.username, &who.password) {
        (Some(name), Some(password)) => Some(users::login(app, name, password).await?),
        (None, None) => None,
        _ => {
            return Err(ApiError::bad_request(
                "invalid_body",
                "username and password come together",
            ))
        }
    };
    if activating && who.license_key.is_none() && user.is_none() {
        return Err(ApiError::bad_request(
            "invalid_body",
            "activate with license_key, or with username, password and license_id",
        ));
    }
    app.with_db_then(
        move |app, conn| {
            let now = app.now();
            // Requests on different licenses run side by side (in
            // PostgreSQL); those on one license, from any instance, one at
            // a time: the license row stays locked to the end.
            db::write_license(conn, |tx| {
                let row = match (&who.license_key, &who.license_id) {
                    (Some(key), None) => db::locked_license_by_key(tx, &who.product, key)?,
                    (None, Some(id)) => license_of_product(tx, &who.product, id)?,
                    _ => {
                        return Err(ApiError::bad_request(
                            "invalid_body",
                            "name the license by license_key or by license_id",
                        ))
                    }
                };
                if let Some(user) = &user {
                    if !db::is_assigned(tx, &user.id, &row.id)? {
                        return Err(ApiError::new(
                            403,
                            "not_assigned",
                            "the license is not assigned to this user",
                        ));
                    }
                }
                if !row.enabled {
                    return Err(ApiError::new(
                        403,
                        "license_disabled",
                        "the license is disabled",
                    ));
                }
                check_device_proof(tx, &row, &who, activating, &proof)?;
                let activating_user = user.as_ref().filter(|_| activating);
                if let Some(user) = activating_user {
                    check_user_devices(tx, &row, &user.id, &who.fingerprint.id)?;
                }
                let reply = f(app, tx, &row, &who, now)?;
                if let (true, Some(key)) = (activating, &who.device_key) {
                    db::set_activation_key(
                        tx,
                        db::ActivationKey::Proof,
                        &row.id,
                        &who.fingerprint.id,
                        key,
                    )?;
                }
                if let Some(user) = activating_user {
                    db::set_activation_user(tx, &row.id, &who.fingerprint.id, &user.id)?;
                }
                Ok(reply)
            })
        },
        finish,
    )
    .await
}

/// Refuses a user a new device past the license's per-user limit (a
/// device the user already activated is not a new one).
fn check_user_devices(
    tx: &Db<'_>,
    row: &LicenseRow,
    user: &str,
    device: &str,
) -> Result<(), ApiError> {
    let max = db::max_devices_per_user(tx, &row.id)?;
    if max > 0 && db::user_device_count(tx, &row.id, user, device)? >= max {
        return Err(ApiError::conflict(
            "user_device_limit",
            format!(
                "each user may activate this license on {max} devices, and this user has \
                 as many: deactivate one first"
            ),
        ));
    }
    Ok(())
}

/// Refuses a request about a device that does not come from that device.
///
/// An activation that registers a key must be signed by it, and may not
/// replace another key already recorded for the device (a device that
/// lost its state, and the key a deactivation would need, is freed by the
/// support's device removal first). Every other request about an activation with a
/// recorded key must carry that key's proof. Activations without one (made
/// offline, or by an SDK from before the proofs) are taken as before.
fn check_device_proof(
    tx: &Db<'_>,
    row: &LicenseRow,
    who: &Who,
    activating: bool,
    proof: &DeviceProof,
) -> Result<(), ApiError> {
    let recorded = db::activation_key(tx, db::ActivationKey::Proof, &row.id, &who.fingerprint.id)?;
    let proven_by = |key: &str| {
        proof.signature.as_deref().is_some_and(|sig| {
            tessera::protocol::request::device_proof_matches(key, &proof.message, sig)
        })
    };
    let refused = || {
        ApiError::unauthorized(
            "device_proof",
            "the request is not signed by the device the license is activated on",
        )
    };
    match (activating, who.device_key.as_deref(), recorded.as_deref()) {
        (true, Some(key), _) if !proven_by(key) => Err(refused()),
        (true, Some(key), Some(old)) if key != old => Err(ApiError::conflict(
            "device_key_mismatch",
            "the license is activated on this device with another device key: \
             deactivate it from the device that holds that key, or have support remove it, first",
        )),
        (true, _, _) => Ok(()),
        (false, _, Some(key)) if !proven_by(key) => Err(refused()),
        (false, _, _) => Ok(()),
    }
}

/// The license `id`, when it belongs to `product`, locked until the
/// transaction ends (`db::license_for_update`).
fn license_of_product(conn: &Db<'_>, product: &str, id: &str) -> Result<LicenseRow, ApiError> {
    db::locked_license_by_id(conn, id)
        .ok()
        .filter(|row| row.product == product)
        .ok_or_else(|| ApiError::not_found("license_not_found", "no such license for the product"))
}

/// Days a license file answered to an offline request lasts before the
/// device must renew it with another request (Keygen's license files last
/// 30 days by default too).
const OFFLINE_FILE_DAYS: i64 = 30;

/// The license for `device` now, issued once the lock is released.
fn license_spec(
    app: &App,
    conn: &Db<'_>,
    row: &LicenseRow,
    device: &Fingerprint,
    now: DateTime<Utc>,
) -> Result<Value, ApiError> {
    let mut spec = app.license_of(row)?.0.clone();
    spec["device"] = serde_json::to_value(device).map_err(|e| ApiError::internal(e.to_string()))?;
    spec["times_activated"] = json!(db::activation_count(conn, &row.id)?);
    spec["transfer_count"] = json!(row.transfer_count);
    spec["expires_at"] = json!(tessera::format::license::ts::format(&later(
        now,
        Duration::days(i64::from(app.check_in_days))
    )?));
    Ok(spec)
}

/// Records `device`'s activation, refusing past `max_activations`.
fn record_activation(
    tx: &Db<'_>,
    parsed: &Parsed,
    row: &LicenseRow,
    device: &Fingerprint,
    now: DateTime<Utc>,
) -> Result<(), ApiError> {
    let license = &parsed.1;
    if !db::is_activated(tx, &row.id, &device.id)?
        && !license.allow_unlimited_activations
        && db::activation_count(tx, &row.id)? >= license.max_activations
    {
        return Err(ApiError::conflict(
            "activation_limit",
            format!(
                "the license is activated on its {} allowed devices",
                license.max_activations
            ),
        ));
    }
    let fp = serde_json::to_string(device).map_err(|e| ApiError::internal(e.to_string()))?;
    Ok(db::insert_activation(
        tx,
        &row.id,
        &device.id,
        &fp,
        now.timestamp(),
    )?)
}

fn activate(
    app: &App,
    tx: &Db<'_>,
    row: &LicenseRow,
    who: &Who,
    now: DateTime<Utc>,
) -> Result<Reply, ApiError> {
    record_activation(tx, &app.license_of(row)?, row, &who.fingerprint, now)?;
    Ok(Reply::License(
        license_spec(app, tx, row, &who.fingerprint, now)?,
        now,
    ))
}

/// Refuses a device the license is not activated on.
fn require_activated(tx: &Db<'_>, row: &LicenseRow, device: &str) -> Result<(), ApiError> {
    if db::is_activated(tx, &row.id, device)? {
        Ok(())
    } else {
        Err(ApiError::not_found(
            "not_activated",
            "the license is not activated on this device",
        ))
    }
}

fn check(
    app: &App,
    tx: &Db<'_>,
    row: &LicenseRow,
    who: &Who,
    now: DateTime<Utc>,
) -> Result<Reply, ApiError> {
    require_activated(tx, row, &who.fingerprint.id)?;
    Ok(Reply::License(
        license_spec(app, tx, row, &who.fingerprint, now)?,
        now,
    ))
}

/// Frees `device`'s slot, counting a transfer.
fn remove_activation(
    app: &App,
    tx: &Db<'_>,
    row: &LicenseRow,
    device: &str,
) -> Result<(), ApiError> {
    let parsed = app.license_of(row)?;
    let license = &parsed.1;
    require_activated(tx, row, device)?;
    if license.max_transfers > 0 && row.transfer_count >= license.max_transfers {
        return Err(ApiError::conflict(
            "transfer_limit",
            format!(
                "the license allows {} transfers, all used",
                license.max_transfers
            ),
        ));
    }
    db::delete_activation(tx, &row.id, device)?;
    Ok(())
}

fn deactivate(
    app: &App,
    tx: &Db<'_>,
    row: &LicenseRow,
    who: &Who,
    _: DateTime<Utc>,
) -> Result<Reply, ApiError> {
    remove_activation(app, tx, row, &who.fingerprint.id)?;
    Ok(Reply::Done(json!({ "deactivated": true })))
}

fn lease(
    app: &App,
    tx: &Db<'_>,
    row: &LicenseRow,
    who: &Who,
    now: DateTime<Utc>,
    kind: LeaseKind,
    hours: u32,
) -> Result<Reply, ApiError> {
    let parsed = app.license_of(row)?;
    let license = &parsed.1;
    if !license.floats() {
        return Err(ApiError::conflict(
            "not_floating",
            "the license is not a floating license",
        ));
    }
    require_activated(tx, row, &who.fingerprint.id)?;
    let device = &who.fingerprint.id;
    let length = match kind {
        LeaseKind::Floating => Duration::minutes(i64::from(license.floating_timeout)),
        LeaseKind::Borrow => {
            if !license.can_borrow {
                return Err(ApiError::conflict(
                    "borrow_not_allowed",
                    "the license does not allow borrowing",
                ));
            }
            if hours == 0 || hours > license.max_borrow_time {
                return Err(ApiError::bad_request(
                    "borrow_too_long",
                    format!("borrow for 1 to {} hours", license.max_borrow_time),
                ));
            }
            Duration::hours(i64::from(hours))
        }
    };
    let expires_at = later(now, length)?;
    let others = db::seats_held_by_others(tx, &row.id, device, now.timestamp())?;
    if others >= license.floating_users {
        return Err(ApiError::conflict(
            "no_seat_available",
            format!(
                "all {} seats are taken; try again later",
                license.floating_users
            ),
        ));
    }
    let lease = new_lease(row, who, kind, now, expires_at)?;
    let kind_name = if kind == LeaseKind::Borrow {
        "borrow"
    } else {
        "floating"
    };
    db::upsert_lease(
        tx,
        &lease.id,
        &row.id,
        device,
        kind_name,
        lease.expires_at.timestamp(),
    )?;
    let extra = json!({
        // The others, and this device's lease, which is live until expires_at.
        "seats_used": others + 1,
        "seats_total": license.floating_users,
    });
    Ok(Reply::Lease(Box::new(lease), extra))
}

/// `now + span`, refused (422) past the last time a license file can
/// hold (the end of year 9999) instead of overflowing.
pub(crate) fn later(now: DateTime<Utc>, span: Duration) -> Result<DateTime<Utc>, ApiError> {
    now.checked_add_signed(span)
        .filter(|t| t.timestamp() <= LAST_TIME)
        .ok_or_else(|| {
            ApiError::new(
                422,
                "too_far",
                "that would end after the year 9999, which a license file cannot hold",
            )
        })
}

/// 9999-12-31T23:59:59Z.
const LAST_TIME: i64 = 253_402_300_799;

fn new_lease(
    row: &LicenseRow,
    who: &Who,
    kind: LeaseKind,
    now: DateTime<Utc>,
    expires_at: DateTime<Utc>,
) -> Result<Lease, ApiError> {
    Ok(Lease {
        format: 1,
        id: random_id()?,
        license_id: row.id.clone(),
        product: row.product.clone(),
        device: who.fingerprint.clone(),
        kind,
        issued_at: now,
        expires_at,
    })
}

/// Renews the device's live floating seat: one statement, no seat count
/// (the device holds its seat already). A lapsed seat must register again.
fn heartbeat(
    app: &App,
    tx: &Db<'_>,
    row: &LicenseRow,
    who: &Who,
    now: DateTime<Utc>,
) -> Result<Reply, ApiError> {
    let parsed = app.license_of(row)?;
    let license = &parsed.1;
    // The license as it is now: made non-floating since, it renews nothing.
    if !license.floats() {
        return Err(ApiError::conflict(
            "not_floating",
            "the license is not a floating license",
        ));
    }
    let length = Duration::minutes(i64::from(license.floating_timeout));
    let lease = new_lease(row, who, LeaseKind::Floating, now, later(now, length)?)?;
    let renewed = db::renew_lease(
        tx,
        &lease.id,
        &row.id,
        &who.fingerprint.id,
        now.timestamp(),
        lease.expires_at.timestamp(),
    )?;
    if !renewed {
        return Err(ApiError::not_found(
            "no_lease",
            "this device holds no live seat: register again",
        ));
    }
    let extra = json!({ "seats_total": license.floating_users });
    Ok(Reply::Lease(Box::new(lease), extra))
}

fn add_consumption(
    app: &App,
    tx: &Db<'_>,
    row: &LicenseRow,
    who: &Who,
    now: DateTime<Utc>,
    records: &[Record],
) -> Result<Reply, ApiError> {
    let parsed = app.license_of(row)?;
    let license = &parsed.1;
    if records.len() > 10_000 {
        return Err(ApiError::bad_request(
            "invalid_body",
            "at most 10000 records per call",
        ));
    }
    require_activated(tx, row, &who.fingerprint.id)?;
    let mut accepted = 0u64;
    let mut counters = std::collections::BTreeSet::new();
    for r in records {
        if r.amount == 0 {
            return Err(ApiError::bad_request(
                "invalid_body",
                "every amount must be at least 1",
            ));
        }
        if db::insert_consumption(
            tx,
            &row.id,
            &who.fingerprint.id,
            r.first_seq.unwrap_or(r.seq),
            r.seq,
            &r.counter,
            r.amount,
            now.timestamp(),
        )? {
            accepted += 1;
        }
        counters.insert(r.counter.clone());
    }
    let mut totals = serde_json::Map::new();
    for counter in counters {
        let parsed = Counter::parse(&counter).ok_or_else(|| {
            ApiError::bad_request("unknown_counter", format!("no counter `{counter}`"))
        })?;
        let limit = match Limit::of(license, &parsed) {
            Ok(limit) => limit,
            Err(_) => {
                return Err(match &parsed {
                    Counter::Feature(code) if app.feature_is_off(row, code) => {
                        ApiError::conflict("feature_disabled", format!("`{code}` is switched off"))
                    }
                    Counter::Feature(code) => ApiError::bad_request(
                        "unknown_counter",
                        format!("no consumption feature `{code}`"),
                    ),
                    Counter::License => {
                        ApiError::bad_request("unknown_counter", format!("no counter `{counter}`"))
                    }
                })
            }
        };
        // A counter that resets is limited per period, as on the device:
        // the records received in the current period count (a record
        // uploaded late counts in the period it arrived in).
        let total = db::consumed(tx, &row.id, &counter, limit.period_key(now))?;
        if !limit.allows(total) {
            // The transaction is dropped: nothing of this call is kept.
            return Err(ApiError::conflict(
                "consumption_limit",
                format!(
                    "`{counter}` would reach {total}, more than the {} allowed",
                    limit.ceiling().unwrap_or(u64::MAX)
                ),
            ));
        }
        totals.insert(counter, json!(total));
    }
    Ok(Reply::Done(
        json!({ "accepted": accepted, "totals": totals }),
    ))
}

/// The user's licenses for the product (seed 003), each as its license
/// object with the counts and the user.
async fn user_licenses(app: &Arc<App>, r: UserLicensesRequest) -> Result<Value, ApiError> {
    let user = users::login(app, &r.username, &r.password).await?;
    let product = r.product;
    app.with_db(move |app, conn| {
        let now = app.now().timestamp();
        let mut list = Vec::new();
        for row in db::licenses_of_user(conn, &user.id, &product)? {
            let mut item = app.license_of(&row)?.0.clone();
            item["times_activated"] = json!(db::activation_count(conn, &row.id)?);
            item["transfer_count"] = json!(row.transfer_count);
            item["license_enabled"] = json!(row.enabled);
            if item["is_floating"] == json!(true) || item["is_floating_cloud"] == json!(true) {
                item["floating_in_use_devices"] = json!(db::seats_held(conn, &row.id, now)?);
            }
            // A user's license is activated by id; its key stays private.
            if let Some(o) = item.as_object_mut() {
                o.remove("license_key");
            }
            item["user"] = users::public(&user);
            list.push(item);
        }
        Ok(Value::Array(list))
    })
    .await
}

/// New trials one address may take per day: the bound on a client that
/// makes up fingerprints, which it can, since a fingerprint is what the
/// client says it is. Counted in the database, in the transaction that
/// makes the trial, so it holds across instances exactly.
const TRIALS_PER_ADDRESS: crate::window::Limit = crate::window::Limit {
    kind: "trial-address",
    limit: 10,
    window: 86_400,
};

/// The components naming a machine that a trial request is keyed by, at
/// most (a real device has a handful; more only cost queries).
const MAX_NAMING_COMPONENTS: usize = 16;

/// A trial license for this device, made from the product's trial
/// definition: one per device (by fingerprint id or by a component naming
/// its machine), so asking again gives the same key. One address makes at
/// most 10 new trials a day (429 `too_many_trials`).
async fn trial_key(app: &Arc<App>, r: TrialRequest) -> Result<Value, ApiError> {
    let key = license_key()?;
    let id = random_id()?;
    let peer = users::PEER
        .try_with(|p| *p)
        .ok()
        .flatten()
        .map(|ip| ip.to_string());
    app.with_db(move |app, conn| {
        let now = app.now();
        db::write(conn, |tx| {
            // The trial of this fingerprint id, or of a device that shares
            // a component naming its machine: changing the id (or the
            // host name, the OS) does not make another device.
            let naming = || {
                r.fingerprint
                    .components
                    .iter()
                    .filter(|(name, _)| tessera::format::fingerprint::is_identifying(name))
                    .take(MAX_NAMING_COMPONENTS)
                    .map(|(name, hash)| (name.as_str(), hash.as_str()))
            };
            let existing = match db::trial_of(tx, &r.product, &r.fingerprint.id)? {
                Some(existing) => Some(existing),
                None => db::trial_by_components(tx, &r.product, naming())?,
            };
            if let Some(existing) = existing {
                let row = db::license_by_id(tx, &existing)?;
                return Ok(
                    json!({ "license_key": row.license_key, "license_id": row.id, "new": false }),
                );
            }
            let wait = match &peer {
                Some(address) => TRIALS_PER_ADDRESS.wait(tx, address, now.timestamp())?,
                None => None,
            };
            if let Some(seconds) = wait {
                return Err(ApiError::too_many(
                    "too_many_trials",
                    format!("this address took its new trials for today; try again in {seconds} s"),
                    seconds,
                ));
            }
            let definition = db::trial_definition(tx, &r.product)?
                .ok_or_else(|| ApiError::not_found("no_trial", "the product offers no trial"))?;
            let days = definition.trial_days.unwrap_or(0);
            let mut spec: Value = serde_json::from_str(&definition.spec)
                .map_err(|e| ApiError::internal(e.to_string()))?;
            spec["id"] = json!(id);
            spec["license_key"] = json!(key);
            spec["is_trial"] = json!(true);
            spec["trial_days"] = json!(days);
            spec["validity_period"] = json!(tessera::format::license::ts::format(&later(
                now,
                Duration::days(i64::from(days))
            )?));
            if let Some(email) = &r.email {
                spec["metadata"]["trial_email"] = json!(email);
            }
            let text =
                serde_json::to_string(&spec).map_err(|e| ApiError::internal(e.to_string()))?;
            db::insert_license(
                tx,
                &db::NewLicense {
                    id: &id,
                    product: &r.product,
                    license_key: &key,
                    spec: &text,
                    account: None,
                    definition: Some(&definition.code),
                    max_users: 1,
                },
            )?;
            db::insert_trial(tx, &r.product, &r.fingerprint.id, naming(), &id)?;
            if let Some(address) = &peer {
                TRIALS_PER_ADDRESS.record(tx, address, now.timestamp())?;
            }
            Ok(json!({
                "license_key": key,
                "license_id": id,
                "validity_period": spec["validity_period"],
                "new": true,
            }))
        })
    })
    .await
}

/// Answers an offline activation request with a response file, or takes
/// an offline deactivation request and frees the device's slot.
async fn offline_call(
    app: &Arc<App>,
    r: OfflineRequest,
    activating: bool,
) -> Result<Value, ApiError> {
    let text = r.request;
    let request = offline::verify_request(text.as_bytes())?;
    same_product(&r.product, &request.product)?;
    check_fingerprint(&request.device)?;
    let wanted = if activating {
        Action::Activate
    } else {
        Action::Deactivate
    };
    if request.action != wanted {
        return Err(ApiError::bad_request(
            "wrong_action",
            "this request asks for the other action",
        ));
    }
    let user = match (&request.username, &r.password) {
        (Some(name), Some(password)) => Some(users::login(app, name, password).await?),
        (Some(_), None) => {
            return Err(ApiError::bad_request(
                "invalid_body",
                "a user's request comes with the user's password",
            ))
        }
        (None, _) => None,
    };
    let request_id = offline::request_id(text.as_bytes());
    let chosen = r.license_id;
    app.with_db_then(
        move |app, conn| {
            let now = app.now();
            db::write(conn, |tx| {
                let first_time = db::record_offline_request(tx, &request_id, now.timestamp())?;
                let row = match (&request.license_key, &request.license_id, &user) {
                    (Some(key), _, _) => db::locked_license_by_key(tx, &request.product, key)?,
                    (None, Some(id), _) => license_of_product(tx, &request.product, id)?,
                    (None, None, Some(user)) => pick_license(
                        db::licenses_of_user(tx, &user.id, &request.product)?,
                        chosen.as_deref(),
                    )?,
                    (None, None, None) => {
                        return Err(ApiError::bad_request(
                            "invalid_body",
                            "the request names no license",
                        ))
                    }
                };
                let row = db::license_for_update(tx, row)?;
                if !row.enabled {
                    return Err(ApiError::new(
                        403,
                        "license_disabled",
                        "the license is disabled",
                    ));
                }
                let device = request.device.clone();
                if activating {
                    if let Some(user) = &user {
                        check_user_devices(tx, &row, &user.id, &device.id)?;
                    }
                    record_activation(tx, &app.license_of(&row)?, &row, &device, now)?;
                    db::set_activation_key(
                        tx,
                        db::ActivationKey::Offline,
                        &row.id,
                        &device.id,
                        &request.device_key,
                    )?;
                    if let Some(user) = &user {
                        db::set_activation_user(tx, &row.id, &device.id, &user.id)?;
                    }
                    let mut spec = license_spec(app, tx, &row, &device, now)?;
                    // A device that is never online renews by another
                    // request file before this one expires; a file that
                    // lasted the license's life would outlive a
                    // deactivation undone from a copy of the state.
                    spec["expires_at"] = json!(tessera::format::license::ts::format(
                        &(now + Duration::days(OFFLINE_FILE_DAYS))
                    ));
                    return Ok(Reply::Offline(spec, now, text, Box::new(request)));
                }
                if !first_time {
                    return Err(ApiError::conflict(
                        "offline_replay",
                        "this deactivation request was taken already",
                    ));
                }
                match db::activation_key(tx, db::ActivationKey::Offline, &row.id, &device.id)? {
                    Some(key) if key != request.device_key => {
                        return Err(ApiError::new(
                            403,
                            "offline_wrong_device",
                            "the request is signed by another device than the activation",
                        ))
                    }
                    _ => {}
                }
                remove_activation(app, tx, &row, &device.id)?;
                Ok(Reply::Done(
                    json!({ "deactivated": true, "license_id": row.id }),
                ))
            })
        },
        finish,
    )
    .await
}

/// The user's license named by `chosen`, or their only one.
fn pick_license(rows: Vec<LicenseRow>, chosen: Option<&str>) -> Result<LicenseRow, ApiError> {
    match chosen {
        Some(id) => rows.into_iter().find(|r| r.id == id).ok_or_else(|| {
            ApiError::new(
                403,
                "not_assigned",
                "the license is not assigned to this user",
            )
        }),
        None if rows.len() == 1 => Ok(rows
            .into_iter()
            .next()
            .ok_or_else(|| ApiError::internal("no row"))?),
        None if rows.is_empty() => Err(ApiError::not_found(
            "license_not_found",
            "the user has no license for the product",
        )),
        None => Err(ApiError::conflict(
            "choose_license",
            "the user has several licenses for the product: name one with license_id",
        )),
    }
}

/// A fresh 128-bit id (tessera's issuer makes it).
pub(crate) fn random_id() -> Result<String, ApiError> {
    tessera::issuer::new_id().map_err(|_| ApiError::internal("no random source"))
}

/// A fresh license key (tessera's issuer makes it: 20 Crockford symbols).
pub(crate) fn license_key() -> Result<String, ApiError> {
    tessera::issuer::new_license_key().map_err(|_| ApiError::internal("no random source"))
}
