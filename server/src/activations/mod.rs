//! Activations: a device's slot on a license. The client API's activate,
//! check and deactivate, and support's device list and removal.

pub(crate) mod db;
pub(crate) mod offline;
pub(crate) mod way_back;

use std::sync::Arc;

use axum::extract::{Path, State};
use chrono::{DateTime, Duration, Utc};
use schemars::JsonSchema;
use serde::Serialize;
use serde_json::{json, Value};
use tessera::Fingerprint;

use tessera::protocol::bodies::{DeviceRequest, LicenseAndDevice};

use crate::body::Reply;
use crate::database;
use crate::device_call::{later, DeviceCall, Purpose, Unsigned};
use crate::error::ApiError;
use crate::http::Answer;
use crate::licenses::db as licenses_db;
use crate::licenses::db::LicenseRow;
use crate::state::{App, AppState, ParsedLicense};
use crate::store::Db;

pub(crate) async fn activate_call(call: DeviceCall<DeviceRequest>) -> Result<Answer, ApiError> {
    call.run(Purpose::Activate, Box::new(activate)).await
}

pub(crate) async fn check_call(call: DeviceCall<DeviceRequest>) -> Result<Answer, ApiError> {
    call.run(Purpose::CheckIn, Box::new(check)).await
}

pub(crate) async fn deactivate_call(call: DeviceCall<DeviceRequest>) -> Result<Answer, ApiError> {
    call.run(Purpose::Use, Box::new(deactivate)).await
}

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
    // The vendor's switch, signed into the file: a device that checks in
    // while the license is disabled keeps a file that says so.
    spec["license_enabled"] = json!(row.enabled);
    spec["expires_at"] = json!(tessera::format::license::ts::format(&later(
        now,
        Duration::days(i64::from(app.check_in_days))
    )?));
    Ok(spec)
}

/// Records `device`'s activation, refusing past `max_activations`.
pub(crate) fn record_activation(
    tx: &Db<'_>,
    parsed: &ParsedLicense,
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
    who: &LicenseAndDevice,
    now: DateTime<Utc>,
) -> Result<Unsigned, ApiError> {
    record_activation(tx, &app.license_of(row)?, row, &who.fingerprint, now)?;
    Ok(Unsigned::License(
        license_spec(app, tx, row, &who.fingerprint, now)?,
        now,
    ))
}

/// Refuses a device the license is not activated on.
pub(crate) fn require_activated(
    tx: &Db<'_>,
    row: &LicenseRow,
    device: &str,
) -> Result<(), ApiError> {
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
    who: &LicenseAndDevice,
    now: DateTime<Utc>,
) -> Result<Unsigned, ApiError> {
    require_activated(tx, row, &who.fingerprint.id)?;
    Ok(Unsigned::License(
        license_spec(app, tx, row, &who.fingerprint, now)?,
        now,
    ))
}

/// Frees `device`'s slot, counting a transfer.
pub(crate) fn remove_activation(
    app: &App,
    tx: &Db<'_>,
    row: &LicenseRow,
    device: &str,
) -> Result<(), ApiError> {
    require_activated(tx, row, device)?;
    way_back::a_transfer_is_left(&app.license_of(row)?.1, row)?;
    db::delete_activation(tx, &row.id, device)?;
    Ok(())
}

fn deactivate(
    app: &App,
    tx: &Db<'_>,
    row: &LicenseRow,
    who: &LicenseAndDevice,
    _: DateTime<Utc>,
) -> Result<Unsigned, ApiError> {
    remove_activation(app, tx, row, &who.fingerprint.id)?;
    Ok(Unsigned::Ready(crate::http::to_value(
        &tessera::protocol::bodies::DeactivateAnswer::new(None),
    )?))
}

/// A device a license is activated on.
#[derive(Serialize, JsonSchema)]
#[schemars(deny_unknown_fields)]
pub(crate) struct Device {
    /// The device's fingerprint id.
    device: String,
    /// The fingerprint's hashed components (null: not recorded).
    components: Option<std::collections::BTreeMap<String, String>>,
    #[schemars(extend("format" = "date-time"))]
    activated_at: String,
}

/// A device's slot freed by support.
#[derive(Serialize, JsonSchema)]
#[schemars(deny_unknown_fields)]
pub(crate) struct Removed {
    /// Always true: a refusal is an error instead.
    removed: bool,
}

/// `GET /licenses/{id}/devices`: the devices the license is activated on.
pub(crate) async fn devices_call(State(app): AppState, Path(id): Path<String>) -> Reply {
    let list = app
        .with_db(move |_, conn| {
            licenses_db::license_by_id(conn, &id)?;
            let devices = db::devices_of_license(conn, &id)?;
            Ok(devices
                .into_iter()
                .map(|(device, fingerprint, at)| Device {
                    components: serde_json::from_str::<Fingerprint>(&fingerprint)
                        .ok()
                        .map(|f| f.components),
                    device,
                    activated_at: tessera::format::license::ts::format(
                        &chrono::DateTime::from_timestamp(at, 0).unwrap_or_default(),
                    ),
                })
                .collect::<Vec<_>>())
        })
        .await?;
    Answer::of(list)
}

/// `DELETE /licenses/{id}/devices/{device}`: support frees a lost or
/// replaced machine's slot (and any seat it holds). Not counted as one of
/// the customer's transfers.
pub(crate) async fn remove_device_call(
    State(app): AppState,
    Path((id, device)): Path<(String, String)>,
) -> Reply {
    remove_device(&app, id, device, false).await?;
    Answer::of(Removed { removed: true })
}

/// Frees `device`'s slot of license `id` (and any seat it holds): support's
/// removal (`transfer` false), or a customer's own in the portal, counted
/// as a transfer and refused past `max_transfers`.
pub(crate) async fn remove_device(
    app: &Arc<App>,
    id: String,
    device: String,
    transfer: bool,
) -> Result<(), ApiError> {
    app.with_db(move |app, conn| {
        database::write(conn, |tx| {
            let row = licenses_db::license_by_id(tx, &id)?;
            let row = licenses_db::license_for_update(tx, row)?;
            if transfer {
                // The customer's deactivation, as the device's own would be.
                return remove_activation(app, tx, &row, &device);
            }
            if !db::remove_device(tx, &id, &device, false)? {
                return Err(ApiError::not_found(
                    "device_not_found",
                    "the license is not activated on that device",
                ));
            }
            Ok(())
        })
    })
    .await
}
