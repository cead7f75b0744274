//! Licenses: the admin API's handlers and bodies (create, read, update,
//! enable and disable, feature toggles).

pub(crate) mod db;
pub(crate) mod spec;

use std::sync::Arc;

use axum::extract::{Path, State};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use crate::activations::db as activations_db;
use crate::body::{check_code, internal, invalid, Reply};
use crate::consumption::db as consumption_db;
use crate::database;
use crate::device_call::{license_key, random_id};
use crate::error::ApiError;
use crate::http::{Answer, JsonBody};
use crate::licenses::db::LicenseRow;
use crate::licenses::spec::{server_fields, validate};
use crate::products::db as products_db;
use crate::seats::db as seats_db;
use crate::state::{App, AppState};
use crate::store::Db;
use crate::users::db as users_db;

/// A license to create (`POST /licenses`).
#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct NewLicense {
    /// A fresh key is made when absent (user-based licenses need none).
    #[serde(default)]
    license_key: Option<String>,
    /// A license spec as `tessera issue` takes it (docs/FORMAT.md section
    /// 2); with `definition`, fields that override the definition's.
    #[serde(default)]
    #[schemars(with = "Option<Object>")]
    spec: Option<Value>,
    /// The definition whose spec the license starts from.
    #[serde(default)]
    definition: Option<DefinitionRef>,
    /// The customer account the license was sold to (for bundles).
    #[serde(default)]
    account: Option<String>,
    /// How many users it may be assigned to (default 1).
    #[serde(default)]
    max_license_users: Option<u32>,
    /// How many devices each of its users may activate it on (default 0:
    /// no limit of its own; `max_activations` still holds).
    #[serde(default)]
    max_devices_per_user: Option<u32>,
}

/// A license definition, by product and code.
#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
struct DefinitionRef {
    product: String,
    code: String,
}

/// What to change of a license (`PATCH /licenses/{id}`).
#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct LicenseUpdate {
    /// Top-level spec fields to replace (null removes one).
    #[serde(default)]
    spec: Option<serde_json::Map<String, Value>>,
    #[serde(default)]
    max_license_users: Option<u32>,
    /// 0 lifts the limit.
    #[serde(default)]
    max_devices_per_user: Option<u32>,
    #[serde(default)]
    account: Option<String>,
}

/// A feature toggle to set.
#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct Toggle {
    enabled: bool,
}

/// An object of any fields (a license spec).
type Object = serde_json::Map<String, Value>;

/// A license made: its id and key.
#[derive(Serialize, JsonSchema)]
#[schemars(deny_unknown_fields)]
pub(crate) struct LicenseCreated {
    id: String,
    product: String,
    license_key: String,
}

impl LicenseCreated {
    /// The new license's id.
    pub(crate) fn id(&self) -> &str {
        &self.id
    }
}

/// Whether a license is enabled, after a change.
#[derive(Serialize, JsonSchema)]
#[schemars(deny_unknown_fields)]
pub(crate) struct Enabled {
    enabled: bool,
}

/// A license's feature toggle.
#[derive(Serialize, JsonSchema)]
#[schemars(deny_unknown_fields)]
pub(crate) struct ToggleState {
    license_id: String,
    feature: String,
    enabled: bool,
}

/// A license as the admin API shows it: its spec and what the server
/// counts of it.
#[derive(Serialize, JsonSchema)]
#[schemars(deny_unknown_fields)]
pub(crate) struct LicenseAdmin {
    id: String,
    product: String,
    license_key: String,
    enabled: bool,
    /// The spec the license files are issued from.
    #[schemars(with = "Object")]
    spec: Value,
    times_activated: u32,
    transfer_count: u32,
    floating_in_use_devices: u32,
    account: Option<String>,
    /// The definition it was made from.
    definition: Option<String>,
    max_license_users: u32,
    max_devices_per_user: u32,
    users_assigned: u32,
    /// Features switched off by toggles.
    features_off: Vec<String>,
    /// Each counter's total the devices reported.
    consumption: std::collections::BTreeMap<String, i64>,
}

pub(crate) async fn new_license_call(
    State(app): AppState,
    JsonBody(l): JsonBody<NewLicense>,
) -> Reply {
    Answer::of(new_license(&app, l).await?)
}

pub(crate) async fn license_call(State(app): AppState, Path(id): Path<String>) -> Reply {
    let l = app
        .with_db(move |app, conn| license_admin(app, conn, &db::license_by_id(conn, &id)?))
        .await?;
    Answer::of(l)
}

pub(crate) async fn update_license_call(
    State(app): AppState,
    Path(id): Path<String>,
    JsonBody(u): JsonBody<LicenseUpdate>,
) -> Reply {
    Answer::of(update_license(&app, &id, u).await?)
}

/// Enables or disables a license (the admin API's and the console's).
pub(crate) async fn set_enabled(app: &Arc<App>, id: String, enabled: bool) -> Reply {
    app.with_db(move |_, conn| {
        database::write(conn, |tx| db::set_enabled(tx, &id, enabled)).map_err(ApiError::from)
    })
    .await?;
    Answer::of(Enabled { enabled })
}

/// The transfer count after a reset.
#[derive(Serialize, JsonSchema)]
#[schemars(deny_unknown_fields)]
pub(crate) struct Transfers {
    transfer_count: u32,
}

/// `POST /licenses/{id}/transfers/reset`: support gives a customer who
/// used up `max_transfers` (a run of replaced machines) their transfers
/// back.
pub(crate) async fn reset_transfers_call(State(app): AppState, Path(id): Path<String>) -> Reply {
    reset_transfers(&app, id).await?;
    Answer::of(Transfers { transfer_count: 0 })
}

/// Sets the license's transfer count back to zero.
pub(crate) async fn reset_transfers(app: &Arc<App>, id: String) -> Result<(), ApiError> {
    app.with_db(move |_, conn| {
        database::write(conn, |tx| {
            db::license_by_id(tx, &id)?;
            Ok(db::reset_transfers(tx, &id)?)
        })
    })
    .await
}

pub(crate) async fn disable_call(State(app): AppState, Path(id): Path<String>) -> Reply {
    set_enabled(&app, id, false).await
}

pub(crate) async fn enable_call(State(app): AppState, Path(id): Path<String>) -> Reply {
    set_enabled(&app, id, true).await
}

pub(crate) async fn toggle_get_call(
    State(app): AppState,
    Path((id, feature)): Path<(String, String)>,
) -> Reply {
    Answer::of(toggle(&app, &id, &feature, None).await?)
}

pub(crate) async fn toggle_set_call(
    State(app): AppState,
    Path((id, feature)): Path<(String, String)>,
    JsonBody(t): JsonBody<Toggle>,
) -> Reply {
    Answer::of(toggle(&app, &id, &feature, Some(t.enabled)).await?)
}

pub(crate) async fn new_license(app: &Arc<App>, l: NewLicense) -> Result<LicenseCreated, ApiError> {
    let overrides = l.spec.unwrap_or_else(|| json!({}));
    if !overrides.is_object() {
        return Err(invalid("spec must be an object"));
    }
    server_fields(&overrides)?;
    let license_key = match l.license_key {
        Some(k) if k.trim().is_empty() => return Err(invalid("license_key must not be empty")),
        Some(k) => k,
        None => license_key()?,
    };
    if let Some(a) = &l.account {
        check_code(a, "account")?;
    }
    let max_users = l.max_license_users.unwrap_or(1);
    let definition = l.definition;
    let key = license_key.clone();
    app.with_db(move |app, conn| {
        // The definition's spec, then the overrides on top.
        let mut spec = match &definition {
            Some(d) => {
                let found =
                    products_db::definition(conn, &d.product, &d.code)?.ok_or_else(|| {
                        ApiError::not_found("definition_not_found", "no such definition")
                    })?;
                serde_json::from_str::<Value>(&found.spec).map_err(internal)?
            }
            None => json!({}),
        };
        for (k, v) in overrides.as_object().into_iter().flatten() {
            spec[k] = v.clone();
        }
        if spec.get("id").is_none() {
            spec["id"] = json!(random_id()?);
        }
        spec["license_key"] = json!(key);
        let license = validate(app, &spec)?;
        let text = serde_json::to_string(&spec).map_err(internal)?;
        database::write(conn, |tx| {
            db::insert_license(
                tx,
                &db::NewLicense {
                    id: &license.id,
                    product: license.product(),
                    license_key: &key,
                    spec: &text,
                    account: l.account.as_deref(),
                    definition: definition.as_ref().map(|d| d.code.as_str()),
                    max_users,
                },
            )?;
            activations_db::set_max_devices_per_user(
                tx,
                &license.id,
                l.max_devices_per_user.unwrap_or(0),
            )
        })?;
        Ok(LicenseCreated {
            product: license.product().to_owned(),
            id: license.id,
            license_key: key,
        })
    })
    .await
}

fn license_admin(app: &App, conn: &Db<'_>, row: &LicenseRow) -> Result<LicenseAdmin, ApiError> {
    let spec: Value = serde_json::from_str(&row.spec).map_err(internal)?;
    let off: Vec<String> = serde_json::from_str(&row.features_off).unwrap_or_default();
    let now = app.now().timestamp();
    Ok(LicenseAdmin {
        id: row.id.clone(),
        product: row.product.clone(),
        license_key: row.license_key.clone(),
        enabled: row.enabled,
        spec,
        times_activated: activations_db::activation_count(conn, &row.id)?,
        transfer_count: row.transfer_count,
        floating_in_use_devices: seats_db::seats_held(conn, &row.id, now)?,
        account: row.account.clone(),
        definition: row.definition.clone(),
        max_license_users: row.max_users,
        max_devices_per_user: activations_db::max_devices_per_user(conn, &row.id)?,
        users_assigned: users_db::assigned_count(conn, &row.id)?,
        features_off: off,
        consumption: consumption_db::consumption_totals(conn, &row.id)?
            .into_iter()
            .collect(),
    })
}

pub(crate) async fn update_license(
    app: &Arc<App>,
    id: &str,
    u: LicenseUpdate,
) -> Result<LicenseAdmin, ApiError> {
    let id = id.to_string();
    if let Some(a) = &u.account {
        check_code(a, "account")?;
    }
    app.with_db(move |app, conn| {
        database::write(conn, |tx| {
            let row = db::license_by_id(tx, &id)?;
            let mut spec: Value = serde_json::from_str(&row.spec).map_err(internal)?;
            if let Some(changes) = &u.spec {
                let changes = Value::Object(changes.clone());
                server_fields(&changes)?;
                for k in ["id", "license_key"] {
                    if changes.get(k).is_some() {
                        return Err(invalid(format!("`{k}` cannot change")));
                    }
                }
                for (k, v) in changes.as_object().into_iter().flatten() {
                    match (v.is_null(), spec.as_object_mut()) {
                        (true, Some(o)) => {
                            o.remove(k);
                        }
                        _ => spec[k] = v.clone(),
                    }
                }
            }
            let license = validate(app, &spec)?;
            if license.product() != row.product {
                return Err(ApiError::new(
                    422,
                    "invalid_spec",
                    "a license cannot move to another product",
                ));
            }
            let max_users = u.max_license_users.unwrap_or(row.max_users);
            if max_users < users_db::assigned_count(tx, &id)? {
                return Err(ApiError::conflict(
                    "users_assigned",
                    "more users hold the license than that: revoke some first",
                ));
            }
            let account = u.account.clone().or(row.account.clone());
            let text = serde_json::to_string(&spec).map_err(internal)?;
            db::update_license(tx, &id, &text, max_users, account.as_deref())?;
            if let Some(max) = u.max_devices_per_user {
                activations_db::set_max_devices_per_user(tx, &id, max)?;
            }
            license_admin(app, tx, &db::license_by_id(tx, &id)?)
        })
    })
    .await
}

/// Reads a feature toggle, or switches it (`set`).
async fn toggle(
    app: &Arc<App>,
    id: &str,
    feature: &str,
    set: Option<bool>,
) -> Result<ToggleState, ApiError> {
    let (id, feature) = (id.to_string(), feature.to_string());
    app.with_db(move |_, conn| {
        database::write(conn, |tx| {
            let row = db::license_by_id(tx, &id)?;
            let enabled = toggle_in(tx, &row, &feature, set)?.ok_or_else(|| {
                ApiError::not_found("feature_not_found", "the license has no such feature")
            })?;
            Ok(ToggleState {
                license_id: id.clone(),
                feature: feature.clone(),
                enabled,
            })
        })
    })
    .await
}

/// Reads license `row`'s toggle of `feature`, or switches it (`set`), in
/// the caller's transaction: whether it is on now, or `None` when the
/// license has no such feature. The admin API's toggles and Genesys'
/// organization-wide ones (`compat/genesys.rs`) both come here.
pub(crate) fn toggle_in(
    tx: &Db<'_>,
    row: &LicenseRow,
    feature: &str,
    set: Option<bool>,
) -> Result<Option<bool>, ApiError> {
    let spec: Value = serde_json::from_str(&row.spec).map_err(internal)?;
    let known = spec["product_features"]
        .as_array()
        .is_some_and(|fs| fs.iter().any(|f| f["code"] == json!(feature)));
    if !known {
        return Ok(None);
    }
    let mut off: Vec<String> = serde_json::from_str(&row.features_off).unwrap_or_default();
    if let Some(enabled) = set {
        off.retain(|f| f != feature);
        if !enabled {
            off.push(feature.to_owned());
        }
        off.sort();
        db::set_features_off(tx, &row.id, &serde_json::to_string(&off).map_err(internal)?)?;
    }
    Ok(Some(!off.iter().any(|f| f == feature)))
}
