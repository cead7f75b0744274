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

use axum::body::Bytes;
use axum::extract::{Query, State};
use axum::http::HeaderMap;
use serde::Deserialize;
use serde_json::Value;
use tessera::protocol::bodies::LicenseAndDevice;
use tessera::Fingerprint;

use super::object::{license, numeric_id};
use super::{authenticate, MAX_ID};
use crate::activations;
use crate::device_call::{with_license, Purpose, Unsigned};
use crate::error::ApiError;
use crate::http::{Answer, DeviceProof};
use crate::licenses::db as licenses_db;
use crate::state::App;
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
}

/// A number as a JSON body writes it, or as a query string does.
#[derive(Deserialize)]
#[serde(untagged)]
enum NumberOrText {
    Number(u64),
    Text(String),
}

pub(super) async fn activate_call(
    State(app): State<Arc<App>>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Answer, ApiError> {
    let product = authenticate(&app, &headers).await?;
    let request = json_body(&body)?;
    run(app, product, request, Purpose::Activate).await
}

pub(super) async fn check_call(
    State(app): State<Arc<App>>,
    headers: HeaderMap,
    Query(request): Query<LicenseRequest>,
) -> Result<Answer, ApiError> {
    let product = authenticate(&app, &headers).await?;
    run(app, product, request, Purpose::CheckIn).await
}

pub(super) async fn deactivate_call(
    State(app): State<Arc<App>>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Answer, ApiError> {
    let product = authenticate(&app, &headers).await?;
    let request = json_body(&body)?;
    run(app, product, request, Purpose::Use).await
}

fn json_body(body: &[u8]) -> Result<LicenseRequest, ApiError> {
    serde_json::from_slice(body).map_err(|e| {
        ApiError::bad_request("invalid_parameters", format!("the body is not valid: {e}"))
    })
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

async fn run(
    app: Arc<App>,
    product: String,
    request: LicenseRequest,
    purpose: Purpose,
) -> Result<Answer, ApiError> {
    refuse_unserved(&request)?;
    if request.product.as_ref().is_some_and(|p| *p != product) {
        return Err(ApiError::new(
            403,
            "wrong_product",
            "the apikey is for another product",
        ));
    }
    let hardware_id = request
        .hardware_id
        .clone()
        .filter(|h| !h.is_empty() && h.len() <= MAX_ID)
        .ok_or_else(|| {
            ApiError::bad_request(
                "invalid_parameters",
                format!("hardware_id is required, 1 to {MAX_ID} characters"),
            )
        })?;
    let numeric = match &request.license_id {
        Some(NumberOrText::Number(n)) => Some(*n),
        Some(NumberOrText::Text(t)) => Some(t.parse::<u64>().map_err(|_| {
            ApiError::bad_request("invalid_parameters", "license_id is a whole number")
        })?),
        None => None,
    };
    let activating = purpose == Purpose::Activate;
    // The license by its key; or the user's, which the user's name finds
    // (the check and the deactivation send no password, as LicenseSpring's
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
                        tx: &crate::store::Db<'_>,
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
        let device = who.fingerprint.id.clone();
        match purpose {
            Purpose::Activate => {
                activations::record_activation(
                    tx,
                    &app.license_of(row)?,
                    row,
                    &who.fingerprint,
                    now,
                )?;
            }
            Purpose::CheckIn => activations::require_activated(tx, row, &device)?,
            Purpose::Use => {
                activations::remove_activation(app, tx, row, &device)?;
                return Ok(Unsigned::Ready(Value::from("license_deactivated")));
            }
        }
        let mut object = license(app, tx, row, user.as_ref(), Some(&device))?;
        if let Some(o) = object.as_object_mut() {
            // The key of a key-based license; null for a user's.
            o.insert("license_key".into(), Value::from(who.license_key.clone()));
            // The library reads a feature's expiry as a time or null (seed
            // 003's answer writes no expiry as an empty string).
            if let Some(Value::Array(features)) = o.get_mut("product_features") {
                for f in features.iter_mut() {
                    if f.get("expiry_date").is_some_and(|d| d == "") {
                        f["expiry_date"] = Value::Null;
                    }
                }
            }
        }
        Ok(Unsigned::Ready(object))
    };
    let proof = DeviceProof {
        message: String::new(),
        signature: None,
    };
    let value = with_license(&app, product, proof, who, purpose, Box::new(handler)).await?;
    Ok(Answer(value))
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
