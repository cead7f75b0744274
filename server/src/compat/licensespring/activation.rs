//! LicenseSpring's activate, check and deactivate (issue 40), as its own
//! SDK calls them: `POST /api/v4/activate_license`, `GET
//! /api/v4/check_license`, `POST /api/v4/deactivate_license`. Each is a
//! thin translation onto the operations of Tessera's own client API, in the
//! same transaction (`crate::device_call::with_license`): the license by
//! its key, or a user's by username (and password, to activate); the
//! device by LicenseSpring's `hardware_id`. The answers are the license
//! object the library reads (`object.rs`).
//!
//! LicenseSpring's devices hold no key, so a device activated here proves
//! nothing on its later calls, as with LicenseSpring itself; a device that
//! Tessera's own SDK activated with a device key is refused here (its calls
//! must carry that key's proof).

use std::sync::Arc;

use axum::extract::Query;
use serde::Deserialize;
use serde_json::Value;
use tessera::format::lease::LeaseKind;
use tessera::protocol::bodies::LicenseAndDevice;
use tessera::Fingerprint;

use super::object::{license, numeric_id};
use super::{authenticate, hardware_id, same_product};
use crate::activations;
use crate::device_call::{with_license, Purpose, Unsigned};
use crate::error::ApiError;
use crate::http::{Answer, DeviceProof};
use crate::licenses::db as licenses_db;
use crate::seats;
use crate::state::App;
use crate::store::Db;
use crate::users::db as users_db;
use crate::users::db::UserRow;
use crate::users::sign_in::{normalize_username, Password};

/// What the library sends to name a license and a device (its
/// `request_generic_data`), and to activate (its hardware, VM and version
/// data, which Tessera does not keep).
#[derive(Deserialize)]
pub(super) struct LicenseRequest {
    product: Option<String>,
    hardware_id: Option<String>,
    license_key: Option<String>,
    /// LicenseSpring's numeric license id (`id` of the license object): a
    /// number in a body, text in a query.
    license_id: Option<NumberOrText>,
    username: Option<String>,
    password: Option<Password>,
    /// Bundles are not served.
    bundle_code: Option<String>,
    /// Single sign-on activation is not served (the user licenses are).
    customer_account_code: Option<String>,
    id_token: Option<String>,
    code: Option<String>,
    /// Device variables are not kept.
    variables: Option<Value>,
    /// TPM enrolment is not served.
    tpm_enrollment: Option<Value>,
    // What the library sends about the device and the application, read
    // and not kept (Tessera's activations hold the device's id).
    #[serde(rename = "os_ver")]
    _os_ver: Option<Value>,
    #[serde(rename = "hostname")]
    _hostname: Option<Value>,
    #[serde(rename = "ip")]
    _ip: Option<Value>,
    #[serde(rename = "mac_address")]
    _mac_address: Option<Value>,
    #[serde(rename = "is_vm")]
    _is_vm: Option<Value>,
    #[serde(rename = "vm_info")]
    _vm_info: Option<Value>,
    #[serde(rename = "app_ver")]
    _app_ver: Option<Value>,
    #[serde(rename = "include_expired_features")]
    _include_expired_features: Option<Value>,
    #[serde(rename = "env")]
    _env: Option<Value>,
    #[serde(rename = "redirect_uri")]
    _redirect_uri: Option<Value>,
    /// add_consumption and add_feature_consumption: how many (LicenseSpring
    /// allows negative ones; Tessera's counters only go up).
    pub(super) consumptions: Option<i64>,
    /// add_feature_consumption: the feature's code.
    pub(super) feature: Option<String>,
    /// add_consumption: an overage request, which the license's own terms
    /// decide in Tessera (read, not granted).
    #[serde(rename = "max_overages")]
    _max_overages: Option<Value>,
    #[serde(rename = "allow_overages")]
    _allow_overages: Option<Value>,
    /// floating/borrow: until when (RFC 3339).
    pub(super) borrowed_until: Option<String>,
    /// versions and installation_file: the release channel and version.
    pub(super) channel: Option<String>,
    pub(super) version: Option<String>,
}

/// A number as a JSON body writes it, or as a query string does.
#[derive(Deserialize)]
#[serde(untagged)]
enum NumberOrText {
    Number(u64),
    Text(String),
}

/// A LicenseSpring call on a license: authenticated by its HMAC, its
/// parameters from the query (GET) or the JSON body (POST). Each handler
/// says what it does on the license ([`LicenseCall::run`]).
pub(super) struct LicenseCall {
    app: Arc<App>,
    product: String,
    pub(super) request: LicenseRequest,
}

impl axum::extract::FromRequest<Arc<App>> for LicenseCall {
    type Rejection = ApiError;

    async fn from_request(req: axum::extract::Request, app: &Arc<App>) -> Result<Self, ApiError> {
        let (parts, body) = req.into_parts();
        let product = authenticate(app, &parts.headers).await?;
        let request = if parts.method == axum::http::Method::GET {
            Query::<LicenseRequest>::try_from_uri(&parts.uri)
                .map_err(|e| ApiError::bad_request("invalid_parameters", e.body_text()))?
                .0
        } else {
            crate::http::parse(&crate::http::read_body(body).await?)?
        };
        Ok(LicenseCall {
            app: Arc::clone(app),
            product,
            request,
        })
    }
}

impl LicenseCall {
    /// Runs `f` on the license and device the call names ([`on_license`]).
    pub(super) async fn run(self, purpose: Purpose, f: OnLicense) -> Result<Answer, ApiError> {
        on_license(self.app, self.product, self.request, purpose, f).await
    }
}

pub(super) async fn activate_call(call: LicenseCall) -> Result<Answer, ApiError> {
    let f: OnLicense = Box::new(|app, tx, row, device, user, now| {
        activations::record_activation(
            tx,
            &app.license_of(row)?,
            row,
            &Fingerprint::from_id(device),
            now,
        )?;
        take_seat(app, tx, row, device, now)?;
        answer_object(app, tx, row, device, user)
    });
    call.run(Purpose::Activate, f).await
}

pub(super) async fn check_call(call: LicenseCall) -> Result<Answer, ApiError> {
    let f: OnLicense = Box::new(|app, tx, row, device, user, now| {
        activations::require_activated(tx, row, device)?;
        take_seat(app, tx, row, device, now)?;
        answer_object(app, tx, row, device, user)
    });
    call.run(Purpose::CheckIn, f).await
}

pub(super) async fn deactivate_call(call: LicenseCall) -> Result<Answer, ApiError> {
    let f: OnLicense = Box::new(|app, tx, row, device, _, _| {
        activations::remove_activation(app, tx, row, device)?;
        Ok(Value::from("license_deactivated"))
    });
    call.run(Purpose::Use, f).await
}

/// Refuses what LicenseSpring serves and Tessera does not, naming why.
fn refuse_unserved(r: &LicenseRequest) -> Result<(), ApiError> {
    let unserved = |what: &str, why: &str| {
        Err(ApiError::bad_request(
            "not_supported",
            format!("{what} is not served by this server: {why} (docs/COMPAT.md)"),
        ))
    };
    if r.bundle_code.is_some() {
        return unserved("a bundle", "Tessera has no product bundles");
    }
    if r.tpm_enrollment.is_some() {
        return unserved(
            "TPM enrolment",
            "a device proves itself with Tessera's own SDK (a device key) instead",
        );
    }
    if r.variables.is_some() {
        return unserved("device variables", "Tessera keeps no per-device data");
    }
    if r.customer_account_code.is_some() || r.id_token.is_some() || r.code.is_some() {
        return unserved(
            "activation by single sign-on",
            "activate with the license key or with username and password",
        );
    }
    Ok(())
}

/// What a call does on the license, inside the transaction: the license
/// row, the device's id, the user (a user's license) and the time.
pub(super) type OnLicense = Box<
    dyn FnOnce(
            &App,
            &Db<'_>,
            &licenses_db::LicenseRow,
            &str,
            Option<&UserRow>,
            chrono::DateTime<chrono::Utc>,
        ) -> Result<Value, ApiError>
        + Send,
>;

/// Finds the license and the device a LicenseSpring call names and runs
/// `f` on them in the client API's transaction (`with_license`, with the
/// same refusals: a disabled license, a device key's proof, ...).
pub(super) async fn on_license(
    app: Arc<App>,
    product: String,
    request: LicenseRequest,
    purpose: Purpose,
    f: OnLicense,
) -> Result<Answer, ApiError> {
    refuse_unserved(&request)?;
    same_product(&product, request.product.as_deref())?;
    let hardware_id = hardware_id(request.hardware_id.clone())?;
    let numeric = match &request.license_id {
        Some(NumberOrText::Number(n)) => Some(*n),
        Some(NumberOrText::Text(t)) => Some(t.parse::<u64>().map_err(|_| {
            ApiError::bad_request("invalid_parameters", "license_id is a whole number")
        })?),
        None => None,
    };
    let activating = purpose == Purpose::Activate;
    // The license by its key; or the user's, which the user's name finds
    // (the calls after the activation send no password, as LicenseSpring's
    // SDK does: the device must be the one activated).
    let mut who = LicenseAndDevice::new(product.clone(), Fingerprint::from_id(&hardware_id));
    let user =
        match (&request.license_key, &request.username) {
            (Some(key), _) => {
                who.license_key = Some(key.clone());
                None
            }
            (None, Some(name)) => {
                if activating && request.password.is_none() {
                    return Err(ApiError::bad_request(
                        "invalid_parameters",
                        "activate a user's license with username and password",
                    ));
                }
                let (user, license_id) = users_license(&app, &product, name, numeric).await?;
                who.license_id = Some(license_id);
                if activating {
                    who.username = Some(name.clone());
                    who.password = request.password.clone();
                }
                Some(user)
            }
            (None, None) => return Err(ApiError::bad_request(
                "invalid_parameters",
                "name the license with license_key, or with username (and password to activate)",
            )),
        };
    let key_given = request.license_key.is_some();
    let handler = move |app: &App,
                        tx: &Db<'_>,
                        row: &licenses_db::LicenseRow,
                        who: &LicenseAndDevice,
                        now: chrono::DateTime<chrono::Utc>|
          -> Result<Unsigned, ApiError> {
        // The library sends the license's numeric id with its key, from
        // the object it was answered: it must be this license's.
        if key_given && numeric.is_some_and(|n| n != numeric_id(&row.id)) {
            return Err(ApiError::not_found(
                "license_not_found",
                "license_id is not the id of the license with this key",
            ));
        }
        Ok(Unsigned::Ready(f(
            app,
            tx,
            row,
            &who.fingerprint.id,
            user.as_ref(),
            now,
        )?))
    };
    let proof = DeviceProof {
        message: String::new(),
        signature: None,
    };
    let value = with_license(&app, product, proof, who, purpose, Box::new(handler)).await?;
    Ok(Answer(value))
}

/// The license object about `device`, as activate and check answer it:
/// with `license_key` (null for a user's license) and a feature's missing
/// expiry as null, which the library reads as a time or nothing.
pub(super) fn answer_object(
    app: &App,
    tx: &Db<'_>,
    row: &licenses_db::LicenseRow,
    device: &str,
    user: Option<&UserRow>,
) -> Result<Value, ApiError> {
    let mut object = license(app, tx, row, user, Some(device))?;
    if let Some(o) = object.as_object_mut() {
        let key = user.is_none().then(|| row.license_key.clone());
        o.insert("license_key".into(), Value::from(key));
        // This server is the cloud: a floating license is LicenseSpring's
        // cloud floating (its SDK would send `is_floating` to an on-premises
        // floating server instead).
        let parsed = app.license_of(row)?;
        let floats = parsed.1.floats();
        o.insert("is_trial".into(), Value::from(parsed.1.is_trial));
        o.insert("is_floating_cloud".into(), Value::from(floats));
        o.insert("is_floating".into(), Value::from(false));
        if let Some(Value::Array(features)) = o.get_mut("product_features") {
            for f in features.iter_mut() {
                if f.get("expiry_date").is_some_and(|d| d == "") {
                    f["expiry_date"] = Value::Null;
                }
            }
        }
    }
    Ok(object)
}

/// The user `name` and the id of their license of `product`: the one whose
/// numeric id is `numeric`, or their only one.
async fn users_license(
    app: &Arc<App>,
    product: &str,
    name: &str,
    numeric: Option<u64>,
) -> Result<(UserRow, String), ApiError> {
    let unknown = || ApiError::not_found("user_not_found", "no such user");
    let name = normalize_username(name).ok_or_else(unknown)?;
    let product = product.to_owned();
    app.with_db(move |_, conn| {
        let user = users_db::user_by_username(conn, &name)?.ok_or_else(unknown)?;
        let rows = users_db::licenses_of_user(conn, &user.id, &product)?;
        let chosen = match numeric {
            Some(n) => rows.iter().find(|r| numeric_id(&r.id) == n),
            None if rows.len() == 1 => rows.first(),
            None if rows.is_empty() => None,
            None => {
                return Err(ApiError::bad_request(
                    "invalid_parameters",
                    "the user holds several licenses of the product: give license_id",
                ))
            }
        };
        let id = chosen.map(|r| r.id.clone()).ok_or_else(|| {
            ApiError::not_found("license_not_found", "the user holds no such license")
        })?;
        Ok((user, id))
    })
    .await
}

/// Registers (or renews) the floating seat of a floating license on the
/// device, as LicenseSpring's cloud floating does at activation and check:
/// `409 no_seat_available` when every seat is held.
fn take_seat(
    app: &App,
    tx: &Db<'_>,
    row: &licenses_db::LicenseRow,
    device: &str,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<(), ApiError> {
    // A disabled license is answered at its check (so the device hears of
    // it) but holds no seat.
    if !row.enabled || !app.license_of(row)?.1.floats() {
        return Ok(());
    }
    // A borrowed seat is the device's until it ends.
    if seats::db::borrowed_until(tx, &row.id, device, now.timestamp())?.is_some() {
        return Ok(());
    }
    let who = device_on(row, device);
    seats::lease(app, tx, row, &who, now, LeaseKind::Floating, 0)?;
    Ok(())
}

/// The license's product and the device `device`, as the client API's
/// operations name them.
pub(super) fn device_on(row: &licenses_db::LicenseRow, device: &str) -> LicenseAndDevice {
    LicenseAndDevice::new(row.product.clone(), Fingerprint::from_id(device))
}
