//! LicenseSpring's calls about the product rather than a license (issue
//! 40): `GET /api/v4/product_details` and `GET /api/v4/trial_key` (a trial
//! license from the product's trial definition, one per device, through
//! the client API's own trial operation).

use std::sync::Arc;

use axum::extract::{Query, State};
use axum::http::HeaderMap;
use serde::Deserialize;
use serde_json::{json, Value};
use tessera::protocol::bodies::TrialRequest;
use tessera::Fingerprint;

use super::object::numeric_id;
use super::{authenticate, hardware_id, same_product};
use crate::error::ApiError;
use crate::http::Answer;
use crate::products::db as products_db;
use crate::state::App;

/// The product_details query the library sends.
#[derive(Deserialize)]
pub(super) struct ProductQuery {
    product: Option<String>,
    include_latest_version: Option<String>,
    include_custom_fields: Option<String>,
    env: Option<String>,
}

pub(super) async fn product_details_call(
    State(app): State<Arc<App>>,
    headers: HeaderMap,
    Query(q): Query<ProductQuery>,
) -> Result<Answer, ApiError> {
    let product = authenticate(&app, &headers).await?;
    same_product(&product, q.product.as_deref())?;
    let _ = (&q.include_latest_version, &q.include_custom_fields, &q.env);
    let code = product.clone();
    let (name, trial) = app
        .with_db(move |_, conn| {
            let name = products_db::product_name(conn, &code)?.unwrap_or_default();
            let trial = products_db::trial_definition(conn, &code)?;
            Ok((name, trial))
        })
        .await?;
    let trial_days = trial.as_ref().and_then(|t| t.trial_days).unwrap_or(0);
    Ok(Answer(json!({
        "product_id": numeric_id(&product),
        "product_name": name,
        "short_code": product,
        "authorization_method": "license-key",
        "allow_trial": trial.is_some(),
        "trial_days": trial_days,
        "metadata": {},
        "custom_fields": [],
    })))
}

/// The trial_key query the library sends: the device, and who asks.
#[derive(Deserialize)]
pub(super) struct TrialQuery {
    product: Option<String>,
    hardware_id: Option<String>,
    email: Option<String>,
    /// Another license policy than the product's trial definition: refused.
    license_policy: Option<String>,
    // The customer's details, which the trial does not keep.
    #[serde(rename = "first_name")]
    _first_name: Option<Value>,
    #[serde(rename = "last_name")]
    _last_name: Option<Value>,
    #[serde(rename = "phone")]
    _phone: Option<Value>,
    #[serde(rename = "address")]
    _address: Option<Value>,
    #[serde(rename = "postcode")]
    _postcode: Option<Value>,
    #[serde(rename = "state")]
    _state: Option<Value>,
    #[serde(rename = "country")]
    _country: Option<Value>,
    #[serde(rename = "city")]
    _city: Option<Value>,
    #[serde(rename = "reference")]
    _reference: Option<Value>,
}

pub(super) async fn trial_key_call(
    State(app): State<Arc<App>>,
    headers: HeaderMap,
    Query(q): Query<TrialQuery>,
) -> Result<Answer, ApiError> {
    let product = authenticate(&app, &headers).await?;
    same_product(&product, q.product.as_deref())?;
    if q.license_policy.is_some() {
        return Err(ApiError::bad_request(
            "not_supported",
            "license_policy is not served by this server: a trial is made from the product's \
             trial definition (docs/COMPAT.md)",
        ));
    }
    let hardware_id = hardware_id(q.hardware_id)?;
    let request = TrialRequest::new(product, Fingerprint::from_id(hardware_id), q.email);
    let trial = crate::trials::trial_key(&app, request).await?;
    // The key as LicenseSpring's library reads it (`license`), with what
    // the trial operation answered.
    Ok(Answer(json!({
        "license": trial["license_key"],
        "license_id": trial["license_id"].as_str().map(numeric_id),
        "license_type": "time-limited",
        "is_trial": true,
        "validity_period": trial.get("validity_period").cloned().unwrap_or(Value::Null),
    })))
}
