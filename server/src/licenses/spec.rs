//! A license spec as the admin API takes it: what only the server may set,
//! and the check that the SDK would accept the license it makes.

use serde_json::Value;

use crate::body::{check_code, encode, invalid};
use crate::error::ApiError;
use crate::state::App;

/// Refuses fields the server sets itself.
pub(crate) fn server_fields(spec: &Value) -> Result<(), ApiError> {
    for k in ["issued_at", "expires_at", "device", "format"] {
        if spec.get(k).is_some() {
            return Err(invalid(format!("the server sets `{k}`")));
        }
    }
    Ok(())
}

/// Checks that `spec` makes a valid license: issues one and throws it away.
/// Its feature codes follow the rule of every code ([`check_code`]).
pub(crate) fn validate(app: &App, spec: &Value) -> Result<tessera::License, ApiError> {
    if let Some(features) = spec["product_features"].as_array() {
        for f in features {
            if let Some(code) = f["code"].as_str() {
                check_code(code, "a feature code")?;
            }
        }
    }
    let bytes = encode(spec)?;
    Ok(tessera::issuer::issue(&bytes, &app.key, app.now().into())?.1)
}
