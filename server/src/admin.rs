//! The vendor's admin API, behind the admin token.

use std::sync::Arc;

use axum::http::Method;
use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine as _;
use serde::Deserialize;
use serde_json::{json, Value};

use crate::app::{App, Call};
use crate::db;
use crate::error::ApiError;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct NewProduct {
    code: String,
    name: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct NewLicense {
    license_key: String,
    /// A license spec as `tessera issue` takes it (docs/FORMAT.md section 2).
    spec: Value,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SetClock {
    now: String,
}

fn parse<T: serde::de::DeserializeOwned>(body: &[u8]) -> Result<T, ApiError> {
    serde_json::from_slice(body).map_err(|e| ApiError::bad_request("invalid_body", e.to_string()))
}

fn encode(v: &Value) -> Result<Vec<u8>, ApiError> {
    serde_json::to_vec(v).map_err(|e| ApiError::internal(e.to_string()))
}

pub async fn route(app: &Arc<App>, call: Call) -> Result<Vec<u8>, ApiError> {
    let segments: Vec<&str> = call.path.trim_end_matches('/').split('/').skip(3).collect();
    match (call.method.clone(), segments.as_slice()) {
        (Method::POST, ["products"]) => {
            let p: NewProduct = parse(&call.body)?;
            if p.code.is_empty() || p.code.len() > 64 || p.code.contains(['/', '\\']) {
                return Err(ApiError::bad_request(
                    "invalid_body",
                    "code must be 1 to 64 characters without slashes",
                ));
            }
            let mut key = [0u8; 32];
            getrandom::getrandom(&mut key).map_err(|_| ApiError::internal("no random source"))?;
            let (code, name) = (p.code.clone(), p.name.clone());
            app.with_db(move |_, conn| {
                db::write(conn, |tx| db::insert_product(tx, &code, &name, &key))
            })
            .await?;
            // The shared key is shown once; the product embeds it.
            encode(&json!({ "code": p.code, "name": p.name, "api_key": B64.encode(key) }))
        }
        (Method::POST, ["licenses"]) => {
            let l: NewLicense = parse(&call.body)?;
            let mut spec = l.spec;
            if !spec.is_object() {
                return Err(ApiError::bad_request(
                    "invalid_body",
                    "spec must be an object",
                ));
            }
            if l.license_key.trim().is_empty() {
                return Err(ApiError::bad_request(
                    "invalid_body",
                    "license_key must not be empty",
                ));
            }
            if spec.get("id").is_none() {
                spec["id"] = json!(crate::api::random_id()?);
            }
            spec["license_key"] = json!(l.license_key);
            for k in ["issued_at", "expires_at", "device", "format"] {
                if spec.get(k).is_some() {
                    return Err(ApiError::bad_request(
                        "invalid_body",
                        format!("the server sets `{k}`"),
                    ));
                }
            }
            // The spec must make a valid license: issue one and throw it away.
            let bytes = encode(&spec)?;
            let (_, license) = tessera::issue::issue(&bytes, &app.key, app.now())?;
            let (id, product, key, text) = (
                license.id.clone(),
                license.product().to_owned(),
                l.license_key.clone(),
                String::from_utf8(bytes).map_err(|e| ApiError::internal(e.to_string()))?,
            );
            app.with_db(move |_, conn| {
                db::write(conn, |tx| {
                    db::insert_license(tx, &id, &product, &key, &text)
                })
            })
            .await?;
            encode(&json!({ "id": license.id, "product": license.product() }))
        }
        (Method::POST, ["licenses", id, action @ ("disable" | "enable")]) => {
            let (id, enabled) = (id.to_string(), *action == "enable");
            app.with_db(move |_, conn| db::write(conn, |tx| db::set_enabled(tx, &id, enabled)))
                .await?;
            encode(&json!({ "enabled": enabled }))
        }
        (Method::GET, ["licenses", id, "seats"]) => {
            let id = id.to_string();
            let v = app
                .with_db(move |app, conn| {
                    let row = db::license_by_id(conn, &id)?;
                    let spec: Value = serde_json::from_str(&row.spec)
                        .map_err(|e| ApiError::internal(e.to_string()))?;
                    let floating = spec["is_floating"].as_bool().unwrap_or(false)
                        || spec["is_floating_cloud"].as_bool().unwrap_or(false);
                    let (allowed, used) = if floating {
                        (
                            spec["floating_users"].as_u64().unwrap_or(0),
                            u64::from(db::seats_held(conn, &id, app.now().timestamp())?),
                        )
                    } else {
                        (
                            spec["max_activations"].as_u64().unwrap_or(1),
                            u64::from(db::activation_count(conn, &id)?),
                        )
                    };
                    Ok(json!({
                        "kind": if floating { "floating" } else { "activations" },
                        "allowed": allowed,
                        "used": used,
                        "available": allowed.saturating_sub(used),
                    }))
                })
                .await?;
            encode(&v)
        }
        (Method::POST, ["clock"]) => {
            let c: SetClock = parse(&call.body)?;
            let at = tessera::license::ts::parse(&c.now).ok_or_else(|| {
                ApiError::bad_request("invalid_body", "now must be an RFC 3339 time")
            })?;
            app.set_clock(at)?;
            encode(&json!({ "now": c.now }))
        }
        _ => Err(ApiError::not_found("not_found", "no such endpoint")),
    }
}
