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
use serde_json::Value;
use tessera::protocol::{parse_http_date, request};

use crate::error::ApiError;
use crate::http::Answer;
use crate::route_table::RouteList;
use crate::sso::db as sso_db;
use crate::sso::oidc;
use crate::state::App;
use crate::users::db as users_db;
use crate::users::db::UserRow;
use crate::users::sign_in as users_sign_in;
use crate::users::sign_in::Password;

mod activation;
mod object;
pub(crate) mod offline;
mod product;
pub(crate) mod signature;
mod usage;

use object::license;

/// How far a request's Date may be from the server's clock, in seconds.
const MAX_SKEW_SECS: i64 = 300;

/// The longest `hardware_id` (a device's id in Tessera's activations).
const MAX_ID: usize = 128;

/// The device a call names: `hardware_id`, 1 to [`MAX_ID`] characters.
fn hardware_id(given: Option<String>) -> Result<String, ApiError> {
    given
        .filter(|h| !h.is_empty() && h.len() <= MAX_ID)
        .ok_or_else(|| {
            ApiError::bad_request(
                "invalid_parameters",
                format!("hardware_id is required, 1 to {MAX_ID} characters"),
            )
        })
}

/// Refuses a call that names another product than its apikey's.
fn same_product(authorized: &str, named: Option<&str>) -> Result<(), ApiError> {
    match named {
        Some(p) if p != authorized => Err(ApiError::new(
            403,
            "wrong_product",
            "the apikey is for another product",
        )),
        _ => Ok(()),
    }
}

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
        "/api/v4/activate_license" => post(activation::activate_call),
        "/api/v4/check_license" => get(activation::check_call),
        "/api/v4/deactivate_license" => post(activation::deactivate_call),
        "/api/v4/add_consumption" => post(usage::add_consumption_call),
        "/api/v4/add_feature_consumption" => post(usage::add_feature_consumption_call),
        "/api/v4/floating/borrow" => post(usage::borrow_call),
        "/api/v4/floating/release" => post(usage::release_call),
        "/api/v4/versions" => get(usage::versions_call),
        "/api/v4/installation_file" => get(usage::installation_file_call),
        "/api/v4/product_details" => get(product::product_details_call),
        "/api/v4/trial_key" => get(product::trial_key_call),
        "/api/v4/activate_offline" => post(offline::activate_offline_call),
        "/api/v4/deactivate_offline" => post(offline::deactivate_offline_call),
        // What LicenseSpring serves and Tessera has no counterpart for: a
        // clear refusal naming why, not a bare 404 (docs/COMPAT.md).
        "/api/v4/activate_bundle" => post(|| unserved(BUNDLES)),
        "/api/v4/check_bundle" => get(|| unserved(BUNDLES)),
        "/api/v4/deactivate_bundle" => post(|| unserved(BUNDLES)),
        "/api/v4/check_license_feature" => get(|| unserved(FEATURE_SEATS)),
        "/api/v4/floating/feature_borrow" => post(|| unserved(FEATURE_SEATS)),
        "/api/v4/floating/feature_release" => post(|| unserved(FEATURE_SEATS)),
        "/api/v4/track_device_variables" => post(|| unserved(DEVICE_VARIABLES)),
        "/api/v4/get_device_variables" => get(|| unserved(DEVICE_VARIABLES)),
        "/api/v4/change_password" => post(|| unserved(PASSWORDS)),
        "/api/v4/customer_license_users" => get(|| unserved(CUSTOMER_USERS)),
        "/api/v4/sso_url" => get(|| unserved(SSO_URL)),
    }
}

const BUNDLES: &str = "product bundles: Tessera has none (each product is licensed on its own)";
const FEATURE_SEATS: &str =
    "floating seats of a single feature: Tessera's floating seats are the license's";
const DEVICE_VARIABLES: &str = "device variables: Tessera keeps no per-device data";
const PASSWORDS: &str = "changing a password: the vendor sets users' passwords with the admin API";
const CUSTOMER_USERS: &str =
    "a customer's license users: the admin API lists a license's users (GET /admin/v1/licenses/{id}/users)";
const SSO_URL: &str =
    "the identity provider's sign-in URL: it is the product's own configuration; \
     this server verifies the provider's tokens (user_licenses)";

/// A call LicenseSpring serves and this server does not: `400
/// not_supported`, naming why.
async fn unserved(what: &'static str) -> ApiError {
    ApiError::bad_request(
        "not_supported",
        format!("{what}; not served by this server (docs/COMPAT.md)"),
    )
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
    same_product(&product, p.product.as_deref())?;
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
                .map(|row| license(app, conn, row, Some(&user), None))
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
    crate::sso::desktop::user_named(app, &name).await
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
}
