//! Trial licenses: one per device, made from the product's trial definition.

pub(crate) mod db;

use std::sync::Arc;

use axum::extract::State;
use axum::Extension;
use chrono::Duration;
use serde_json::{json, Value};

use tessera::protocol::bodies::{TrialKeyAnswer, TrialRequest};

use crate::http::to_value;

use crate::database;
use crate::device_call::{check_fingerprint, later, license_key, random_id, same_product};
use crate::error::ApiError;
use crate::http::{Answer, Authenticated, JsonBody, Product};
use crate::licenses::db as licenses_db;
use crate::products::db as products_db;
use crate::state::{App, AppState};
use crate::users::sign_in as users_sign_in;

pub(crate) async fn trial_key_call(
    State(app): AppState,
    Extension(Product(product)): Authenticated,
    JsonBody(r): JsonBody<TrialRequest>,
) -> Result<Answer, ApiError> {
    same_product(&product, &r.product)?;
    check_fingerprint(&r.fingerprint)?;
    Ok(Answer(trial_key(&app, r).await?))
}

/// New trials one address may take per day: the bound on a client that
/// makes up fingerprints, which it can, since a fingerprint is what the
/// client says it is. Counted in the database, in the transaction that
/// makes the trial, so it holds across instances exactly.
const TRIALS_PER_ADDRESS: crate::rate_limit::Limit = crate::rate_limit::Limit {
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
pub(crate) async fn trial_key(app: &Arc<App>, r: TrialRequest) -> Result<Value, ApiError> {
    let key = license_key()?;
    let id = random_id()?;
    let peer = users_sign_in::PEER
        .try_with(|p| *p)
        .ok()
        .flatten()
        .map(|ip| ip.to_string());
    app.with_db(move |app, conn| {
        let now = app.now();
        database::write(conn, |tx| {
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
                let row = licenses_db::license_by_id(tx, &existing)?;
                return to_value(&TrialKeyAnswer::new(row.license_key, row.id, None, false));
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
            let definition = products_db::trial_definition(tx, &r.product)?
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
            licenses_db::insert_license(
                tx,
                &licenses_db::NewLicense {
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
            let ends = spec["validity_period"].as_str().map(str::to_owned);
            to_value(&TrialKeyAnswer::new(key, id, ends, true))
        })
    })
    .await
}
