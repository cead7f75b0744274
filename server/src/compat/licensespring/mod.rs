//! Seed 003, LicenseSpring's License API: a user's licenses.
//!
//! `GET /api/v4/user_licenses?product=&username=&password=` with an RFC
//! 7231 `Date` (at most 5 minutes from the server's clock) and
//! LicenseSpring's `Authorization: algorithm="hmac-sha256",
//! headers="date", signature="…", apikey="…"`, where the signature is the
//! Base64 HMAC-SHA256 of `licenseSpring\ndate: {Date}` under the shared key.
//! A product's API credentials are the admin API's (`POST
//! /admin/v1/products`): `apikey` is the product's code, the shared key
//! the `api_key` text it answered. The user signs in as on Tessera's own
//! `user_licenses` (the same throttles); the answer is an array of the
//! seed's license objects, every field its schema requires, from the data;
//! errors are `{status, code, message}`, which is already the seed's form.

use std::sync::Arc;

use axum::extract::{Query, State};
use axum::http::HeaderMap;
use axum::Router;
use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine as _;
use serde::Deserialize;
use serde_json::{json, Map, Value};
use sha2::{Digest, Sha256};
use tessera::protocol::{parse_http_date, request};

use super::oidc;
use crate::activations::db as activations_db;
use crate::error::ApiError;
use crate::http::Answer;
use crate::licenses::db::LicenseRow;
use crate::releases::db as releases_db;
use crate::releases::versions as releases_versions;
use crate::route_table::RouteList;
use crate::seats::db as seats_db;
use crate::sso::db as sso_db;
use crate::state::App;
use crate::store::Db;
use crate::users::db as users_db;
use crate::users::db::UserRow;
use crate::users::sign_in as users_sign_in;
use crate::users::sign_in::Password;

pub(crate) mod signature;

/// How far a request's Date may be from the server's clock, in seconds.
const MAX_SKEW_SECS: i64 = 300;

/// The query parameters the seed documents.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Params {
    product: Option<String>,
    username: Option<String>,
    password: Option<Password>,
    id_token: Option<String>,
    code: Option<String>,
    customer_account_code: Option<String>,
    /// With `code`: where the provider sent the user back, as LicenseSpring's
    /// own library sends it; it must be the account's `redirect_uri`.
    redirect_uri: Option<String>,
    /// In the seed's query schema, but its licenses are all user-based:
    /// refused with a clear message.
    license_key: Option<String>,
}

/// The routes (each call authenticates itself), and the list of what they
/// serve.
pub(super) fn table() -> (Router<Arc<App>>, RouteList) {
    crate::route_table::route_table! {
        "/api/v4/user_licenses" => get(user_licenses_call),
    }
}

/// The `key="value"` pairs of LicenseSpring's Authorization header.
fn authorization_fields(header: &str) -> Option<Vec<(&str, &str)>> {
    header
        .split(',')
        .map(|part| {
            let (k, v) = part.trim().split_once('=')?;
            let v = v.trim().strip_prefix('"')?.strip_suffix('"')?;
            Some((k.trim(), v))
        })
        .collect()
}

/// Checks the Date and the HMAC; answers the product the API key names.
async fn authenticate(app: &Arc<App>, headers: &HeaderMap) -> Result<String, ApiError> {
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    let date = header("date")
        .ok_or_else(|| ApiError::unauthorized("missing_date", "the Date header is required"))?;
    let sent = parse_http_date(date).ok_or_else(|| {
        ApiError::unauthorized("bad_date", "the Date header is not an RFC 7231 date")
    })?;
    if (app.now() - sent).num_seconds().abs() > MAX_SKEW_SECS {
        return Err(ApiError::unauthorized(
            "stale_date",
            "the Date header is more than 5 minutes from the server's clock",
        ));
    }
    let bad = || {
        ApiError::unauthorized(
            "bad_authorization",
            "Authorization must be algorithm=\"hmac-sha256\",headers=\"date\",signature=\"…\",apikey=\"…\"",
        )
    };
    let fields = header("authorization")
        .and_then(authorization_fields)
        .ok_or_else(bad)?;
    // A name in any case, as LicenseSpring's server reads them: the seed
    // writes `apikey`, LicenseSpring's own library sends `apiKey`. A name
    // given twice (in one spelling or two) is refused.
    let field = |name: &str| {
        let mut found = fields.iter().filter(|(k, _)| k.eq_ignore_ascii_case(name));
        match (found.next(), found.next()) {
            (Some((_, v)), None) => Some(*v),
            _ => None,
        }
    };
    if field("algorithm") != Some("hmac-sha256")
        || field("headers") != Some("date")
        || fields.len() != 4
    {
        return Err(bad());
    }
    let (signature, apikey) = field("signature").zip(field("apikey")).ok_or_else(bad)?;
    let shared = app.product_key(apikey).await?.map(|k| B64.encode(k));
    let message = format!("licenseSpring\ndate: {date}");
    match shared {
        Some(k) if request::signature_matches(k.as_bytes(), &message, signature) => {
            Ok(apikey.to_owned())
        }
        _ => Err(ApiError::unauthorized(
            "bad_signature",
            "the signature does not match (unknown apikey or wrong shared key)",
        )),
    }
}

async fn user_licenses_call(
    State(app): State<Arc<App>>,
    headers: HeaderMap,
    Query(p): Query<Params>,
) -> Result<Answer, ApiError> {
    let product = authenticate(&app, &headers).await?;
    if p.product.as_ref().is_some_and(|asked| *asked != product) {
        return Err(ApiError::new(
            403,
            "wrong_product",
            "the apikey is for another product",
        ));
    }
    if p.license_key.is_some() {
        return Err(ApiError::bad_request(
            "invalid_parameters",
            "this endpoint lists a user's licenses: give username and password \
             (a license key is checked with POST /api/v1/check_license)",
        ));
    }
    // With single sign-on, only the licenses sold to that customer account.
    let (user, account) = match (
        p.username,
        p.password,
        p.id_token,
        p.code,
        p.customer_account_code,
        p.redirect_uri,
    ) {
        (Some(name), Some(password), None, None, None, None) => {
            (users_sign_in::login(&app, &name, &password).await?, None)
        }
        (None, None, Some(token), None, Some(account), None) => (
            sso_user(&app, &account, Grant::IdToken(token)).await?,
            Some(account),
        ),
        (None, None, None, Some(code), Some(account), redirect_uri) => (
            sso_user(&app, &account, Grant::Code(code, redirect_uri)).await?,
            Some(account),
        ),
        _ => {
            return Err(ApiError::bad_request(
                "invalid_parameters",
                "give username and password, or id_token or code (with its redirect_uri) with customer_account_code",
            ))
        }
    };
    let list = app
        .with_db(move |app, conn| {
            users_db::licenses_of_user(conn, &user.id, &product)?
                .iter()
                .filter(|row| account.is_none() || row.account == account)
                .map(|row| license(app, conn, row, &user))
                .collect::<Result<Vec<_>, _>>()
        })
        .await?;
    Ok(Answer(Value::from(list)))
}

/// How a single sign-on request proves the user.
enum Grant {
    /// The implicit grant: the provider's `id_token`.
    IdToken(String),
    /// The authorization-code grant: a code to exchange for one, and the
    /// redirect URI the client says it was issued for, if it says.
    Code(String, Option<String>),
}

/// The user a single sign-on request names: the account's provider
/// (`PUT /admin/v1/accounts/{account}/sso`) must have signed its
/// `id_token`, and its username claim must name a user of the server.
async fn sso_user(app: &Arc<App>, account: &str, grant: Grant) -> Result<UserRow, ApiError> {
    let a = account.to_owned();
    let row = app
        .with_db(move |_, conn| Ok(sso_db::sso(conn, &a)?))
        .await?
        .ok_or_else(|| {
            ApiError::bad_request(
                "sso_not_configured",
                format!("single sign-on is not configured for customer account `{account}`"),
            )
        })?;
    let token = match grant {
        Grant::IdToken(t) => t,
        Grant::Code(_, Some(uri)) if uri != row.redirect_uri => {
            return Err(ApiError::bad_request(
                "redirect_uri_mismatch",
                format!(
                    "redirect_uri is not the one set for customer account `{account}`: the code was issued for another client"
                ),
            ))
        }
        Grant::Code(c, _) => oidc::exchange(&row, &c).await?,
    };
    let name = oidc::verify(&row, &token, app.now().timestamp()).await?;
    let unknown = || {
        ApiError::unauthorized(
            "sso_user_unknown",
            "the signed-in user has no account on this server",
        )
    };
    let name = users_sign_in::normalize_username(&name).ok_or_else(unknown)?;
    app.with_db(move |_, conn| Ok(users_db::user_by_username(conn, &name)?))
        .await?
        .ok_or_else(unknown)
}

/// A number for a text id, as the seed's ids are numbers: the first six
/// bytes of its SHA-256 (below 2^48, so exact in any JSON reader).
fn numeric_id(text: &str) -> u64 {
    let d = Sha256::digest(text.as_bytes());
    d[..6].iter().fold(0, |n, b| (n << 8) | u64::from(*b))
}

/// A time in ISO 8601, UTC, or null.
/// A `validity_period` as the seed writes it: a date (`2031-03-16`) when it
/// falls at midnight UTC, the full time otherwise (a date alone would move
/// it to the day's start).
fn date_or_time(t: Option<chrono::DateTime<chrono::Utc>>) -> Value {
    match t {
        Some(t) if t.time() == chrono::NaiveTime::MIN => json!(t.format("%Y-%m-%d").to_string()),
        other => time(other),
    }
}

fn time(t: Option<chrono::DateTime<chrono::Utc>>) -> Value {
    t.map_or(Value::Null, |t| {
        json!(t.format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string())
    })
}

/// The seed's spelling of a consumption period (`annualy`).
fn period(p: Option<tessera::format::license::ConsumptionPeriod>) -> Value {
    use tessera::format::license::ConsumptionPeriod as P;
    match p {
        None => Value::Null,
        Some(P::Daily) => json!("daily"),
        Some(P::Weekly) => json!("weekly"),
        Some(P::Monthly) => json!("monthly"),
        Some(_) => json!("annualy"),
    }
}

/// One license as the seed's schema has it.
fn license(app: &App, conn: &Db<'_>, row: &LicenseRow, user: &UserRow) -> Result<Value, ApiError> {
    use tessera::format::license::{
        AuthorizationMethod, CustomFieldType, FeatureType, LicenseType,
    };
    let parsed = app.license_of(row)?;
    let l = &parsed.1;
    let now = app.now();
    let floats = l.is_floating || l.is_floating_cloud;
    let mut m = Map::new();
    let mut put = |k: &str, v: Value| {
        m.insert(k.to_owned(), v);
    };
    put("id", json!(numeric_id(&row.id)));
    put("order_store_id", json!(row.id));
    put(
        "license_type",
        json!(match l.license_type {
            LicenseType::Perpetual => "perpetual",
            LicenseType::TimeLimited => "time-limited",
            LicenseType::Subscription => "subscription",
            LicenseType::Consumption => "consumption",
        }),
    );
    put("license_active", json!(l.license_active));
    put("license_enabled", json!(row.enabled));
    put(
        "is_expired",
        json!(l.validity_period.is_some_and(|end| end <= now.into())),
    );
    put("max_license_users", json!(row.max_users));
    put(
        "validity_period",
        date_or_time(l.validity_period.map(Into::into)),
    );
    put("start_date", time(l.start_date.map(Into::into)));
    put(
        "enable_maintenance_period",
        json!(l.enable_maintenance_period),
    );
    put(
        "maintenance_period",
        time(l.maintenance_period.map(Into::into)),
    );
    put("allow_grace_period", json!(l.allow_grace_period));
    put("grace_period", json!(l.grace_period));
    put("max_activations", json!(l.max_activations));
    put(
        "allow_unlimited_activations",
        json!(l.allow_unlimited_activations),
    );
    put(
        "times_activated",
        json!(activations_db::activation_count(conn, &row.id)?),
    );
    put("transfer_count", json!(row.transfer_count));
    put("max_transfers", json!(l.max_transfers));
    put("allow_overages", json!(l.allow_overages));
    put("max_overages", json!(l.max_overages));
    put("is_floating_cloud", json!(l.is_floating_cloud));
    put("is_floating", json!(l.is_floating));
    put("floating_timeout", json!(l.floating_timeout));
    put("can_borrow", json!(l.can_borrow));
    put("max_borrow_time", json!(l.max_borrow_time));
    put("prevent_vm", json!(l.prevent_vm));
    put("is_hardware_key_auth", json!(l.is_hardware_key_auth));
    put("is_air_gapped", json!(l.is_air_gapped));
    // The device this user activated the license on, if any, and whether it
    // holds a borrowed seat.
    let device = activations_db::user_devices(conn, &row.id, &user.id)?
        .into_iter()
        .next();
    let borrowed = match &device {
        Some(d) => seats_db::borrowed_until(conn, &row.id, d, now.timestamp())?,
        None => None,
    };
    put("device_id", json!(device.as_deref().map_or(0, numeric_id)));
    put("is_borrowed", json!(borrowed.is_some()));
    put(
        "borrowed_until",
        time(borrowed.and_then(|t| chrono::DateTime::from_timestamp(t, 0))),
    );
    // Tessera signs the whole answer (Tessera-Signature) and its license
    // files; LicenseSpring's per-license signatures have no counterpart.
    for k in [
        "license_signature",
        "license_signature_v2",
        "offline_signature",
    ] {
        put(k, json!(""));
    }
    // The newest release the license may install (`releases.rs`): its
    // maintenance decides; empty strings when there is none.
    let releases = releases_db::releases_of(conn, &row.product, None)?;
    let release =
        releases_versions::latest_for(releases_versions::covered_until(l), &releases, None);
    let text =
        |f: fn(&releases_db::ReleaseRow) -> String| json!(release.map(f).unwrap_or_default());
    put("version", text(|r| r.version.clone()));
    put(
        "release_date",
        text(|r| {
            chrono::DateTime::from_timestamp(r.release_date, 0)
                .map(|t| t.format("%Y-%m-%d").to_string())
                .unwrap_or_default()
        }),
    );
    put("requires_version", text(|r| r.requires_version.clone()));
    put("installation_file", text(|r| r.installation_file.clone()));
    put("hash_md5", text(|r| r.hash_md5.clone()));
    put("size", text(|r| r.size.to_string()));
    put("channel", text(|r| r.channel.clone()));
    put("environment", text(|r| r.environment.clone()));
    put("eula_link", text(|r| r.eula_link.clone()));
    put("release_notes_link", text(|r| r.release_notes_link.clone()));
    let features: Vec<Value> = l
        .product_features
        .iter()
        .map(|f| {
            let mut o = json!({
                "id": numeric_id(&format!("{}\n{}", row.id, f.code)),
                "code": f.code,
                "name": f.name,
                "expiry_date": f.expiry_date.map_or(json!(""), |t| time(Some(t.into()))),
                "metadata": {},
                "feature_type": if f.feature_type == FeatureType::Consumption { "consumption" } else { "activation" },
                "is_floating": f.is_floating,
                "is_floating_cloud": f.is_floating_cloud,
            });
            if f.is_floating || f.is_floating_cloud {
                o["floating_users"] = json!(l.floating_users);
                o["floating_timeout"] = json!(l.floating_timeout);
            }
            if f.feature_type == FeatureType::Consumption {
                o["max_consumption"] = json!(f.max_consumption);
                o["allow_unlimited_consumptions"] = json!(f.allow_unlimited_consumptions);
                o["total_consumptions"] = json!(f.total_consumptions);
                o["allow_overages"] = json!(u8::from(f.allow_overages));
                o["max_overages"] = json!(f.max_overages);
                o["reset_consumption"] = json!(f.reset_consumption);
                o["consumption_period"] = period(f.consumption_period);
            }
            o
        })
        .collect();
    put("product_features", Value::from(features));
    let fields: Vec<Value> = l
        .custom_fields
        .iter()
        .map(|c| {
            let kind = match c.data_type {
                CustomFieldType::Number => "numer",
                CustomFieldType::Text => "text",
                _ => "date/time",
            };
            json!({"name": c.name, "data_type": kind, "value": c.value})
        })
        .collect();
    put("custom_fields", Value::from(fields));
    let c = l.customer.clone().unwrap_or_default();
    put(
        "customer",
        json!({
            "email": c.email, "company_name": c.company_name, "reference": c.reference,
            "phone": c.phone, "first_name": c.first_name, "last_name": c.last_name,
            "city": c.city, "postcode": c.postcode, "state": c.state, "country": c.country,
            "address": c.address, "customer_account": c.customer_account.or_else(|| row.account.clone()),
            "metadata": {},
        }),
    );
    let d = &l.product_details;
    put(
        "product_details",
        json!({
            "product_id": d.product_id.unwrap_or_else(|| numeric_id(&row.product)),
            "product_name": d.product_name,
            "short_code": row.product,
            "authorization_method": match d.authorization_method {
                AuthorizationMethod::LicenseKey => "license-key",
                AuthorizationMethod::User => "user",
            },
            "metadata": d.metadata,
        }),
    );
    put(
        "user",
        json!({
            "id": numeric_id(&user.id),
            "email": user.email,
            "first_name": user.first_name,
            "last_name": user.last_name,
            "phone_number": "",
            // The admin API sets a user's password and nothing changes it.
            "is_initial_password": true,
            "max_activations": l.max_activations,
            "allow_unlimited_activations": l.allow_unlimited_activations,
            "total_activations": activations_db::user_devices(conn, &row.id, &user.id)?.len(),
        }),
    );
    put("metadata", Value::Object(l.metadata.clone().into()));
    if l.is_trial {
        put("trial_days", json!(l.trial_days.unwrap_or(0)));
    }
    if floats {
        put(
            "floating_in_use_devices",
            json!(seats_db::seats_held(conn, &row.id, now.timestamp())?),
        );
        put("floating_users", json!(l.floating_users));
    }
    if l.license_type == LicenseType::Consumption {
        put("max_consumptions", json!(l.max_consumptions));
        put("total_consumptions", json!(l.total_consumptions));
        put(
            "allow_unlimited_consumptions",
            json!(l.allow_unlimited_consumptions),
        );
        put("reset_consumption", json!(l.reset_consumption));
        put("consumption_period", period(l.consumption_period));
    }
    Ok(Value::Object(m))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The example in LicenseSpring's "Request Signature" page.
    #[test]
    fn the_documented_signature_example_verifies() {
        let key = b"kw4qSnpSwXzgiv5yxYpZZmFEd9QAeiKTQ6OuyMja";
        let message = "licenseSpring\ndate: Tue, 07 Jun 2011 20:51:35 GMT";
        assert!(request::signature_matches(
            key,
            message,
            "UDysfR6MndUZReo07Y9r+vErn8vSxrnQ5ulit18iJ/Q="
        ));
        assert!(!request::signature_matches(
            key,
            message,
            "UDysfR6MndUZReo07Y9r+vErn8vSxrnQ5ulit18iJ/R="
        ));
        let fields = authorization_fields(
            r#"algorithm="hmac-sha256", headers="date", signature="UDysfR6MndUZReo07Y9r+vErn8vSxrnQ5ulit18iJ/Q=", apikey="here_is_the_api_key""#,
        );
        assert_eq!(fields.map(|f| f.len()), Some(4));
        assert_eq!(authorization_fields("algorithm=hmac-sha256"), None);
    }

    #[test]
    fn numeric_ids_are_exact_json_numbers() {
        for id in ["L-1", "", "a-very-long-license-id-0123456789"] {
            assert!(numeric_id(id) < 1 << 48);
        }
        assert_ne!(numeric_id("L-1"), numeric_id("L-2"));
    }
}
