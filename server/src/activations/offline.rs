//! Offline activation and deactivation by request files: the answer is a
//! signed response file, or the slot freed.

use std::sync::Arc;

use axum::extract::State;
use axum::Extension;
use chrono::Duration;
use serde_json::{json, Value};
use tessera::activation::offline::{self, Action};

use tessera::protocol::bodies::{DeactivateAnswer, OfflineRequest};

use crate::activations::{license_spec, record_activation, remove_activation};
use crate::database;
use crate::error::ApiError;
use crate::http::{Answer, Authenticated, JsonBody, Product};
use crate::licenses::db as licenses_db;
use crate::licenses::db::LicenseRow;
use crate::state::{App, AppState};
use crate::users::db as users_db;
use crate::users::db::UserRow;
use crate::users::sign_in as users_sign_in;

use crate::device_call::{
    check_fingerprint, check_user_devices, finish, license_of_product, same_product, Unsigned,
};

pub(crate) async fn activate_offline_call(
    State(app): AppState,
    Extension(Product(product)): Authenticated,
    JsonBody(r): JsonBody<OfflineRequest>,
) -> Result<Answer, ApiError> {
    same_product(&product, &r.product)?;
    Ok(Answer(offline_call(&app, r, true, None).await?))
}

pub(crate) async fn deactivate_offline_call(
    State(app): AppState,
    Extension(Product(product)): Authenticated,
    JsonBody(r): JsonBody<OfflineRequest>,
) -> Result<Answer, ApiError> {
    same_product(&product, &r.product)?;
    Ok(Answer(offline_call(&app, r, false, None).await?))
}

/// A request file brought by hand to the console (by staff) or the portal
/// (by the customer's signed-in user): it must be for `license_id`, which
/// `user` (the portal's) must hold; no password is asked, the session
/// showed who it is. The answer file's text for an activation, None for a
/// deactivation (the slot is free).
pub(crate) async fn by_hand(
    app: &Arc<App>,
    text: String,
    license_id: String,
    user: Option<UserRow>,
) -> Result<Option<String>, ApiError> {
    let request = offline::verify_request(text.as_bytes())?;
    let activating = request.action == Action::Activate;
    let r: OfflineRequest = serde_json::from_value(json!({
        "product": request.product,
        "request": text,
    }))
    .map_err(|e| ApiError::bad_request("invalid_body", e.to_string()))?;
    let answer = offline_call(app, r, activating, Some(ByHand { license_id, user })).await?;
    Ok(answer
        .get("response")
        .and_then(Value::as_str)
        .map(str::to_owned))
}

/// Who brought a request file by hand, and for which license.
struct ByHand {
    license_id: String,
    user: Option<UserRow>,
}

/// Days a license file answered to an offline request lasts before the
/// device must renew it with another request (Keygen's license files last
/// 30 days by default too).
const OFFLINE_FILE_DAYS: i64 = 30;

/// Answers an offline activation request with a response file, or takes
/// an offline deactivation request and frees the device's slot.
async fn offline_call(
    app: &Arc<App>,
    r: OfflineRequest,
    activating: bool,
    by_hand: Option<ByHand>,
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
    let user = match (&request.username, &r.password, &by_hand) {
        // The session showed who brings the file: a portal user's request
        // names that user, or none.
        (name, _, Some(hand)) => match (&hand.user, name) {
            (Some(u), Some(n))
                if users_sign_in::normalize_username(n).as_deref() != Some(u.username.as_str()) =>
            {
                return Err(ApiError::new(
                    403,
                    "not_assigned",
                    "the request names another user",
                ))
            }
            (u, _) => u.clone(),
        },
        (Some(name), Some(password), None) => {
            Some(users_sign_in::login(app, name, password).await?)
        }
        (Some(_), None, None) => {
            return Err(ApiError::bad_request(
                "invalid_body",
                "a user's request comes with the user's password",
            ))
        }
        (None, _, None) => None,
    };
    let request_id = offline::request_id(text.as_bytes());
    let chosen = r.license_id;
    app.with_db_then(
        move |app, conn| {
            let now = app.now();
            database::write(conn, |tx| {
                let first_time =
                    super::db::record_offline_request(tx, &request_id, now.timestamp())?;
                let row = match (&request.license_key, &request.license_id, &user) {
                    _ if by_hand.is_some() => {
                        let hand = by_hand.as_ref().ok_or_else(|| ApiError::internal("no hand"))?;
                        let row = licenses_db::license_by_id(tx, &hand.license_id)?;
                        let named_another = request.license_key.as_ref().is_some_and(|k| *k != row.license_key)
                            || request.license_id.as_ref().is_some_and(|i| *i != row.id)
                            || request.product != row.product;
                        if named_another {
                            return Err(ApiError::new(
                                403,
                                "wrong_license",
                                "the request file is for another license",
                            ));
                        }
                        if let Some(u) = &hand.user {
                            if !users_db::is_assigned(tx, &u.id, &row.id)? {
                                return Err(ApiError::new(
                                    403,
                                    "not_assigned",
                                    "the license is not assigned to this user",
                                ));
                            }
                        }
                        row
                    }
                    (Some(key), _, _) => {
                        licenses_db::locked_license_by_key(tx, &request.product, key)?
                    }
                    (None, Some(id), _) => license_of_product(tx, &request.product, id)?,
                    (None, None, Some(user)) => pick_license(
                        users_db::licenses_of_user(tx, &user.id, &request.product)?,
                        chosen.as_deref(),
                    )?,
                    (None, None, None) => {
                        return Err(ApiError::bad_request(
                            "invalid_body",
                            "the request names no license",
                        ))
                    }
                };
                let row = licenses_db::license_for_update(tx, row)?;
                if !row.enabled {
                    return Err(ApiError::new(
                        403,
                        "license_disabled",
                        "the license is disabled",
                    ));
                }
                let device = request.device.clone();
                // The key the activation of this device recorded, if any:
                // only that key renews it or gives it back.
                let recorded = |kind| super::db::activation_key(tx, kind, &row.id, &device.id);
                let offline_key = recorded(super::db::ActivationKey::Offline)?;
                if activating {
                    let activated_here = super::db::is_activated(tx, &row.id, &device.id)?;
                    let proof_key = recorded(super::db::ActivationKey::Proof)?;
                    if activated_here
                        && (proof_key.is_some() || offline_key.is_some())
                        && offline_key.as_deref() != Some(request.device_key.as_str())
                    {
                        // A request file shows the license key or the
                        // user's password: the way back of a device that
                        // lost its state, or device_key_mismatch.
                        super::way_back::take_back_under_a_new_key(app, tx, &row, &device, true)?;
                    }
                    if let Some(user) = &user {
                        check_user_devices(tx, &row, &user.id, &device.id)?;
                    }
                    record_activation(tx, &app.license_of(&row)?, &row, &device, now)?;
                    super::db::set_activation_key(
                        tx,
                        super::db::ActivationKey::Offline,
                        &row.id,
                        &device.id,
                        &request.device_key,
                    )?;
                    if let Some(user) = &user {
                        super::db::set_activation_user(tx, &row.id, &device.id, &user.id)?;
                    }
                    let mut spec = license_spec(app, tx, &row, &device, now)?;
                    // A device that is never online renews by another
                    // request file before this one expires; a file that
                    // lasted the license's life would outlive a
                    // deactivation undone from a copy of the state.
                    spec["expires_at"] = json!(tessera::format::license::ts::format(
                        &(now + Duration::days(OFFLINE_FILE_DAYS))
                    ));
                    return Ok(Unsigned::Offline(spec, now, text, Box::new(request)));
                }
                if !first_time {
                    return Err(ApiError::conflict(
                        "offline_replay",
                        "this deactivation request was taken already",
                    ));
                }
                // Only the key that made the activation by a request file
                // gives it back by one; an activation made online (whose key
                // a request file cannot show) is given back online, or by
                // support.
                let activated_here = super::db::is_activated(tx, &row.id, &device.id)?;
                if activated_here && offline_key.as_deref() != Some(request.device_key.as_str()) {
                    return Err(ApiError::new(
                        403,
                        "offline_wrong_device",
                        match offline_key {
                            Some(_) => "the request is signed by another device than the activation",
                            None => "the license was activated on this device online, not by a request file: \
                                     deactivate it online from the device, or have support remove it",
                        },
                    ));
                }
                remove_activation(app, tx, &row, &device.id)?;
                let answer = DeactivateAnswer::new(Some(row.id.clone()));
                Ok(Unsigned::Ready(crate::http::to_value(&answer)?))
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
