//! The vendor's admin API, behind the admin token: products, license
//! definitions, licenses, users and their licenses (one at a time, in
//! batches with a status per item, and as bundles for an account), seat
//! counts and feature toggles.

use std::collections::HashMap;
use std::sync::Arc;

use axum::extract::{Path, Query, State};

use axum::Router;
use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine as _;
use serde::Deserialize;
use serde_json::{json, Value};

use crate::api::{license_key, random_id};
use crate::db::{self, DefinitionRow, LicenseRow, UserRow};
use crate::error::ApiError;
use crate::http::{Answer, JsonBody};
use crate::state::App;
use crate::store::Db;
use crate::users::{self, Password};

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct NewProduct {
    code: String,
    name: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct NewDefinition {
    product: String,
    code: String,
    name: String,
    /// A license spec without `id` and `license_key`.
    spec: Value,
    /// Set for the product's trial: how many days a trial lasts.
    #[serde(default)]
    trial_days: Option<u32>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct NewLicense {
    /// A fresh key is made when absent (user-based licenses need none).
    #[serde(default)]
    license_key: Option<String>,
    /// A license spec as `tessera issue` takes it (docs/FORMAT.md section
    /// 2); with `definition`, fields that override the definition's.
    #[serde(default)]
    spec: Option<Value>,
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

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct DefinitionRef {
    product: String,
    code: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct LicenseUpdate {
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

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct NewUser {
    username: String,
    password: Password,
    #[serde(default)]
    email: Option<String>,
    #[serde(default)]
    first_name: String,
    #[serde(default)]
    last_name: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Toggle {
    enabled: bool,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct UserIds {
    user_ids: Vec<String>,
}

/// Seed 001's batch assignment: per license, users to add and to remove.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Assignments {
    assignments: Vec<Assignment>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Assignment {
    pub(crate) license_id: String,
    #[serde(default)]
    pub(crate) user_ids_add: Vec<String>,
    #[serde(default)]
    pub(crate) user_ids_remove: Vec<String>,
}

/// Seed 002's allocation: bundle codes (definition codes) for users.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Allocation {
    pub(crate) user_ids: Vec<String>,
    pub(crate) bundle_codes: Vec<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SetClock {
    now: String,
}

/// The most items one batch call takes.
const MAX_BATCH: usize = 1000;

fn encode(v: &Value) -> Result<Vec<u8>, ApiError> {
    serde_json::to_vec(v).map_err(|e| ApiError::internal(e.to_string()))
}

fn internal(e: impl std::fmt::Display) -> ApiError {
    ApiError::internal(e.to_string())
}

fn invalid(message: impl Into<String>) -> ApiError {
    ApiError::bad_request("invalid_body", message)
}

type AppState = State<Arc<App>>;
type Reply = Result<Answer, ApiError>;

/// The admin API, mounted under `/admin/v1` behind the admin token.
pub(crate) fn routes() -> (Router<Arc<App>>, crate::served::Served) {
    crate::served::served! {
        "/products" => post(new_product_call),
        "/products/{code}/releases" => post(new_release_call).get(releases_call),
        "/definitions" => post(new_definition_call).get(definitions_call),
        "/definitions/{product}/{code}" => get(definition_call),
        "/licenses" => post(new_license_call),
        "/licenses/{id}" => get(license_call).patch(update_license_call),
        "/licenses/{id}/disable" => post(disable_call),
        "/licenses/{id}/enable" => post(enable_call),
        "/licenses/{id}/seats" => get(seats_call),
        "/licenses/{id}/devices" => get(devices_call),
        "/licenses/{id}/devices/{device}" => delete(remove_device_call),
        "/audit" => get(audit_call),
        "/licenses/{id}/toggles/{feature}" => get(toggle_get_call).post(toggle_set_call),
        "/licenses/{id}/users" => get(license_users_call),
        "/licenses/{id}/users/{user}" => post(assign_user_call).delete(revoke_user_call),
        "/assignments" => post(assignments_call),
        "/accounts/{account}/user-license" => post(allocate_call),
        "/accounts/{account}/sso" => put(set_sso_call).get(sso_call),
        "/users" => post(new_user_call).get(users_call),
        "/users/batch" => post(users_batch_call),
        "/users/{id}" => get(user_call),
        "/clock" => post(clock_call),
    }
}

async fn new_product_call(State(app): AppState, JsonBody(p): JsonBody<NewProduct>) -> Reply {
    Ok(Answer(new_product(&app, p).await?))
}

/// A release to publish (`POST /products/{code}/releases`).
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct NewRelease {
    version: String,
    #[serde(default)]
    channel: Option<String>,
    #[serde(default)]
    environment: String,
    /// RFC 3339; now when left out.
    #[serde(default)]
    release_date: Option<String>,
    #[serde(default)]
    requires_version: String,
    installation_file: String,
    hash_md5: String,
    size: u64,
    #[serde(default)]
    eula_link: String,
    #[serde(default)]
    release_notes_link: String,
}

async fn new_release_call(
    State(app): AppState,
    Path(product): Path<String>,
    JsonBody(r): JsonBody<NewRelease>,
) -> Reply {
    let row = release_row(&app, product, r)?;
    let answer = crate::releases::to_json(&row);
    app.with_db(move |_, conn| {
        db::write(conn, |tx| db::insert_release(tx, &row)).map_err(ApiError::from)
    })
    .await?;
    Ok(Answer(answer))
}

/// Checks a release to publish, field by field.
/// Free text the admin API stores and answers: at most `max` bytes, no
/// control characters.
fn plain_text(text: &str, max: usize) -> bool {
    text.len() <= max && !text.chars().any(char::is_control)
}

fn release_row(app: &App, product: String, r: NewRelease) -> Result<db::ReleaseRow, ApiError> {
    use crate::releases::parse_version;
    if parse_version(&r.version).is_none() {
        return Err(invalid("version must be a dotted number such as 2.1.0"));
    }
    if !r.requires_version.is_empty() && parse_version(&r.requires_version).is_none() {
        return Err(invalid("requires_version must be empty or a dotted number"));
    }
    let channel = r.channel.unwrap_or_else(|| "stable".to_owned());
    check_code(&channel, "channel")?;
    if !r.environment.is_empty() {
        check_code(&r.environment, "environment")?;
    }
    if r.hash_md5.len() != 32
        || !r
            .hash_md5
            .bytes()
            .all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
    {
        return Err(invalid("hash_md5 must be 32 lowercase hexadecimal digits"));
    }
    for (name, text, required) in [
        ("installation_file", &r.installation_file, true),
        ("eula_link", &r.eula_link, false),
        ("release_notes_link", &r.release_notes_link, false),
    ] {
        if (required && text.is_empty()) || !plain_text(text, 2048) {
            return Err(invalid(format!(
                "{name} must be {}at most 2048 characters without control characters",
                if required {
                    "1 to 2048 characters, "
                } else {
                    ""
                }
            )));
        }
    }
    if i64::try_from(r.size).is_err() {
        return Err(invalid("size is too large"));
    }
    let release_date = match &r.release_date {
        None => app.now().timestamp(),
        Some(d) => chrono::DateTime::parse_from_rfc3339(d)
            .map_err(|_| invalid("release_date must be an RFC 3339 time"))?
            .timestamp(),
    };
    Ok(db::ReleaseRow {
        product,
        channel,
        version: r.version,
        environment: r.environment,
        release_date,
        requires_version: r.requires_version,
        installation_file: r.installation_file,
        hash_md5: r.hash_md5,
        size: r.size,
        eula_link: r.eula_link,
        release_notes_link: r.release_notes_link,
    })
}

async fn releases_call(
    State(app): AppState,
    Path(product): Path<String>,
    Query(q): Query<HashMap<String, String>>,
) -> Reply {
    let channel = q.get("channel").cloned();
    let list = app
        .with_db(move |_, conn| {
            if db::product_key(conn, &product)?.is_none() {
                return Err(ApiError::not_found("product_not_found", "no such product"));
            }
            let mut rows = db::releases_of(conn, &product, channel.as_deref())?;
            rows.sort_by(|a, b| {
                let v = |r: &db::ReleaseRow| {
                    crate::releases::parse_version(&r.version).unwrap_or_default()
                };
                a.channel
                    .cmp(&b.channel)
                    .then(crate::releases::compare(&v(a), &v(b)))
            });
            Ok(Value::from(
                rows.iter()
                    .map(crate::releases::to_json)
                    .collect::<Vec<_>>(),
            ))
        })
        .await?;
    Ok(Answer(list))
}

/// A customer account's identity provider (`PUT /accounts/{account}/sso`),
/// for seed 003's single sign-on.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SsoConfig {
    issuer: String,
    client_id: String,
    /// For the code grant; never answered or logged.
    #[serde(default)]
    client_secret: Option<Password>,
    jwks_uri: String,
    #[serde(default)]
    token_endpoint: String,
    #[serde(default)]
    redirect_uri: String,
    #[serde(default)]
    username_claim: Option<String>,
}

fn sso_json(s: &db::SsoRow) -> Value {
    json!({
        "account": s.account,
        "issuer": s.issuer,
        "client_id": s.client_id,
        "client_secret_set": !s.client_secret.is_empty(),
        "jwks_uri": s.jwks_uri,
        "token_endpoint": s.token_endpoint,
        "redirect_uri": s.redirect_uri,
        "username_claim": s.username_claim,
    })
}

async fn set_sso_call(
    State(app): AppState,
    Path(account): Path<String>,
    JsonBody(c): JsonBody<SsoConfig>,
) -> Reply {
    use crate::compat::oidc::url_ok;
    check_code(&account, "account")?;
    let text_ok = |v: &str, max: usize| !v.is_empty() && plain_text(v, max);
    if !text_ok(&c.issuer, 2048) || !text_ok(&c.client_id, 256) {
        return Err(invalid(
            "issuer and client_id must be non-empty, without control characters",
        ));
    }
    if !url_ok(&c.jwks_uri) || !(c.token_endpoint.is_empty() || url_ok(&c.token_endpoint)) {
        return Err(invalid(
            "jwks_uri and token_endpoint must be https:// URLs (http:// only to a loopback address)",
        ));
    }
    if !(c.redirect_uri.is_empty() || text_ok(&c.redirect_uri, 2048)) {
        return Err(invalid(
            "redirect_uri must be at most 2048 characters without control characters",
        ));
    }
    if c.client_secret
        .as_ref()
        .is_some_and(|s| !plain_text(s.expose(), 1024))
    {
        return Err(invalid(
            "client_secret must be at most 1024 bytes without control characters",
        ));
    }
    let claim = c.username_claim.unwrap_or_else(|| "email".to_owned());
    if claim.is_empty()
        || claim.len() > 64
        || !claim
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_')
    {
        return Err(invalid(
            "username_claim must be 1 to 64 ASCII letters, digits or `_`",
        ));
    }
    let row = db::SsoRow {
        account,
        issuer: c.issuer,
        client_id: c.client_id,
        client_secret: c
            .client_secret
            .map(|s| s.expose().to_owned())
            .unwrap_or_default(),
        jwks_uri: c.jwks_uri,
        token_endpoint: c.token_endpoint,
        redirect_uri: c.redirect_uri,
        username_claim: claim,
    };
    let answer = sso_json(&row);
    app.with_db(move |_, conn| db::write(conn, |tx| db::set_sso(tx, &row)).map_err(ApiError::from))
        .await?;
    Ok(Answer(answer))
}

async fn sso_call(State(app): AppState, Path(account): Path<String>) -> Reply {
    let found = app
        .with_db(move |_, conn| Ok(db::sso(conn, &account)?))
        .await?
        .ok_or_else(|| {
            ApiError::not_found("sso_not_configured", "the account has no identity provider")
        })?;
    Ok(Answer(sso_json(&found)))
}

async fn new_definition_call(State(app): AppState, JsonBody(d): JsonBody<NewDefinition>) -> Reply {
    Ok(Answer(new_definition(&app, d).await?))
}

/// `GET /definitions?product=`.
#[derive(Deserialize)]
struct DefinitionsQuery {
    product: Option<String>,
}

async fn definitions_call(State(app): AppState, Query(q): Query<DefinitionsQuery>) -> Reply {
    let list = app
        .with_db(move |_, conn| {
            let list = db::definitions(conn, q.product.as_deref())?;
            list.iter()
                .map(definition_json)
                .collect::<Result<Vec<_>, _>>()
        })
        .await?;
    Ok(Answer(Value::from(list)))
}

async fn definition_call(
    State(app): AppState,
    Path((product, code)): Path<(String, String)>,
) -> Reply {
    let d = app
        .with_db(move |_, conn| {
            let d = db::definition(conn, &product, &code)?
                .ok_or_else(|| ApiError::not_found("definition_not_found", "no such definition"))?;
            definition_json(&d)
        })
        .await?;
    Ok(Answer(d))
}

async fn new_license_call(State(app): AppState, JsonBody(l): JsonBody<NewLicense>) -> Reply {
    Ok(Answer(new_license(&app, l).await?))
}

async fn license_call(State(app): AppState, Path(id): Path<String>) -> Reply {
    let l = app
        .with_db(move |app, conn| license_json(app, conn, &db::license_by_id(conn, &id)?))
        .await?;
    Ok(Answer(l))
}

async fn update_license_call(
    State(app): AppState,
    Path(id): Path<String>,
    JsonBody(u): JsonBody<LicenseUpdate>,
) -> Reply {
    Ok(Answer(update_license(&app, &id, u).await?))
}

async fn set_enabled(app: &Arc<App>, id: String, enabled: bool) -> Reply {
    app.with_db(move |_, conn| {
        db::write(conn, |tx| db::set_enabled(tx, &id, enabled)).map_err(ApiError::from)
    })
    .await?;
    Ok(Answer(json!({ "enabled": enabled })))
}

async fn disable_call(State(app): AppState, Path(id): Path<String>) -> Reply {
    set_enabled(&app, id, false).await
}

async fn enable_call(State(app): AppState, Path(id): Path<String>) -> Reply {
    set_enabled(&app, id, true).await
}

/// `GET /licenses/{id}/devices`: the devices the license is activated on.
async fn devices_call(State(app): AppState, Path(id): Path<String>) -> Reply {
    let list = app
        .with_db(move |_, conn| {
            db::license_by_id(conn, &id)?;
            let devices = db::devices_of_license(conn, &id)?;
            Ok(Value::from(
                devices
                    .into_iter()
                    .map(|(device, fingerprint, at)| {
                        let components = serde_json::from_str::<Value>(&fingerprint)
                            .map(|f| f["components"].clone())
                            .unwrap_or(Value::Null);
                        json!({
                            "device": device,
                            "components": components,
                            "activated_at": tessera::format::license::ts::format(
                                &chrono::DateTime::from_timestamp(at, 0).unwrap_or_default()
                            ),
                        })
                    })
                    .collect::<Vec<_>>(),
            ))
        })
        .await?;
    Ok(Answer(list))
}

/// `DELETE /licenses/{id}/devices/{device}`: support frees a lost or
/// replaced machine's slot (and any seat it holds). Not counted as one of
/// the customer's transfers.
async fn remove_device_call(
    State(app): AppState,
    Path((id, device)): Path<(String, String)>,
) -> Reply {
    app.with_db(move |_, conn| {
        db::write(conn, |tx| {
            db::license_by_id(tx, &id)?;
            if !db::remove_device(tx, &id, &device, false)? {
                return Err(ApiError::not_found(
                    "device_not_found",
                    "the license is not activated on that device",
                ));
            }
            Ok(())
        })
    })
    .await?;
    Ok(Answer(json!({ "removed": true })))
}

/// `GET /audit?limit=`: the newest changes made through the admin API.
#[derive(Deserialize)]
struct AuditQuery {
    limit: Option<u32>,
}

async fn audit_call(State(app): AppState, Query(q): Query<AuditQuery>) -> Reply {
    let limit = q.limit.unwrap_or(100).clamp(1, 1000);
    let list = app
        .with_db(move |_, conn| {
            Ok(Value::from(
                db::audit_log(conn, limit)?
                    .into_iter()
                    .map(|(at, actor, action, status)| {
                        json!({
                            "at": tessera::format::license::ts::format(
                                &chrono::DateTime::from_timestamp(at, 0).unwrap_or_default()
                            ),
                            "actor": actor,
                            "action": action,
                            "status": status,
                        })
                    })
                    .collect::<Vec<_>>(),
            ))
        })
        .await?;
    Ok(Answer(list))
}

async fn seats_call(State(app): AppState, Path(id): Path<String>) -> Reply {
    Ok(Answer(seats(&app, &id).await?))
}

async fn toggle_get_call(
    State(app): AppState,
    Path((id, feature)): Path<(String, String)>,
) -> Reply {
    Ok(Answer(toggle(&app, &id, &feature, None).await?))
}

async fn toggle_set_call(
    State(app): AppState,
    Path((id, feature)): Path<(String, String)>,
    JsonBody(t): JsonBody<Toggle>,
) -> Reply {
    Ok(Answer(toggle(&app, &id, &feature, Some(t.enabled)).await?))
}

async fn license_users_call(State(app): AppState, Path(id): Path<String>) -> Reply {
    let users = app
        .with_db(move |_, conn| {
            db::license_by_id(conn, &id)?;
            let users = db::users_of_license(conn, &id)?;
            Ok(Value::from(
                users.iter().map(users::public).collect::<Vec<_>>(),
            ))
        })
        .await?;
    Ok(Answer(users))
}

/// Assigns or revokes one user: one item, whose status is the call's.
async fn assign_one_user(app: &Arc<App>, id: String, user: String, add: bool) -> Reply {
    let item = Assignment {
        license_id: id,
        user_ids_add: if add { vec![user.clone()] } else { vec![] },
        user_ids_remove: if add { vec![] } else { vec![user] },
    };
    match assign(app, vec![item]).await?.pop() {
        Some(r) if r.status != 200 => Err(ApiError::new(r.status, r.code, r.message)),
        Some(r) => Ok(Answer(r.to_json())),
        None => Err(ApiError::internal("no result")),
    }
}

async fn assign_user_call(State(app): AppState, Path((id, user)): Path<(String, String)>) -> Reply {
    assign_one_user(&app, id, user, true).await
}

async fn revoke_user_call(State(app): AppState, Path((id, user)): Path<(String, String)>) -> Reply {
    assign_one_user(&app, id, user, false).await
}

async fn assignments_call(State(app): AppState, JsonBody(a): JsonBody<Assignments>) -> Reply {
    let items: usize = a
        .assignments
        .iter()
        .map(|x| x.user_ids_add.len().saturating_add(x.user_ids_remove.len()))
        .fold(0, usize::saturating_add);
    if items > MAX_BATCH {
        return Err(invalid(format!("at most {MAX_BATCH} users per call")));
    }
    let results = assign(&app, a.assignments).await?;
    Ok(Answer(
        json!({ "results": results.iter().map(ItemResult::to_json).collect::<Vec<_>>() }),
    ))
}

async fn allocate_call(
    State(app): AppState,
    Path(account): Path<String>,
    JsonBody(a): JsonBody<Allocation>,
) -> Reply {
    let allocated = allocate(&app, &account, a).await?;
    Ok(Answer(Value::from(
        allocated
            .into_iter()
            .map(
                |(user, codes)| json!({"user_id": user, "account": account, "bundle_codes": codes}),
            )
            .collect::<Vec<_>>(),
    )))
}

async fn new_user_call(State(app): AppState, JsonBody(u): JsonBody<NewUser>) -> Reply {
    Ok(Answer(new_user(&app, u).await?))
}

/// `GET /users?page_number=&page_size=`.
#[derive(Deserialize)]
struct Paging {
    page_number: Option<String>,
    page_size: Option<String>,
}

async fn users_call(State(app): AppState, Query(q): Query<Paging>) -> Reply {
    let number = |k: &str, v: &Option<String>, default: u64| -> Result<u64, ApiError> {
        match v {
            None => Ok(default),
            Some(v) => v
                .parse::<u64>()
                .ok()
                .filter(|n| *n >= 1)
                .ok_or_else(|| invalid(format!("{k} must be a whole number from 1"))),
        }
    };
    let page_number = number("page_number", &q.page_number, 1)?;
    let page_size = number("page_size", &q.page_size, 25)?.min(500);
    let page = app
        .with_db(move |_, conn| {
            let offset = (page_number - 1).saturating_mul(page_size);
            let (rows, total) = db::users_page(conn, offset, page_size)?;
            let entities = rows
                .iter()
                .map(|u| user_with_licenses(conn, u))
                .collect::<Result<Vec<_>, _>>()?;
            Ok(json!({
                "entities": entities,
                "page_number": page_number,
                "page_size": page_size,
                "total": total,
                "page_count": total.div_ceil(page_size),
            }))
        })
        .await?;
    Ok(Answer(page))
}

async fn user_call(State(app): AppState, Path(id): Path<String>) -> Reply {
    let user = app
        .with_db(move |_, conn| {
            let u = db::user_by_id(conn, &id)?
                .ok_or_else(|| ApiError::not_found("user_not_found", "no such user"))?;
            user_with_licenses(conn, &u)
        })
        .await?;
    Ok(Answer(user))
}

async fn users_batch_call(State(app): AppState, JsonBody(ids): JsonBody<UserIds>) -> Reply {
    if ids.user_ids.len() > MAX_BATCH {
        return Err(invalid(format!("at most {MAX_BATCH} users per call")));
    }
    let found = app
        .with_db(move |_, conn| {
            let (mut entities, mut missing) = (Vec::new(), Vec::new());
            for id in &ids.user_ids {
                match db::user_by_id(conn, id)? {
                    Some(u) => entities.push(user_with_licenses(conn, &u)?),
                    None => missing.push(id.clone()),
                }
            }
            Ok(json!({ "entities": entities, "not_found": missing }))
        })
        .await?;
    Ok(Answer(found))
}

async fn clock_call(State(app): AppState, JsonBody(c): JsonBody<SetClock>) -> Reply {
    let at = tessera::format::license::ts::parse(&c.now)
        .ok_or_else(|| invalid("now must be an RFC 3339 time"))?;
    app.set_clock(at)?;
    Ok(Answer(json!({ "now": c.now })))
}

async fn new_product(app: &Arc<App>, p: NewProduct) -> Result<Value, ApiError> {
    check_code(&p.code, "code")?;
    let mut key = [0u8; 32];
    getrandom::getrandom(&mut key).map_err(|_| ApiError::internal("no random source"))?;
    let (code, name) = (p.code.clone(), p.name.clone());
    app.with_db(move |_, conn| {
        db::write(conn, |tx| db::insert_product(tx, &code, &name, &key)).map_err(ApiError::from)
    })
    .await?;
    // The shared key is shown once; the product embeds it.
    Ok(json!({ "code": p.code, "name": p.name, "api_key": B64.encode(key) }))
}

/// A code a client names in a header, a path or a counter (`feature:x`):
/// 1 to 64 of ASCII letters, digits, `-`, `_` and `.`. Anything else was
/// accepted once and then unreachable (a comma or non-ASCII breaks the
/// Authorization header, a space a path).
fn check_code(code: &str, what: &str) -> Result<(), ApiError> {
    let allowed = |c: char| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.');
    if code.is_empty() || code.len() > 64 || !code.chars().all(allowed) {
        return Err(invalid(format!(
            "{what} must be 1 to 64 ASCII letters, digits, `-`, `_` or `.`"
        )));
    }
    Ok(())
}

/// Refuses fields the server sets itself.
fn server_fields(spec: &Value) -> Result<(), ApiError> {
    for k in ["issued_at", "expires_at", "device", "format"] {
        if spec.get(k).is_some() {
            return Err(invalid(format!("the server sets `{k}`")));
        }
    }
    Ok(())
}

/// Checks that `spec` makes a valid license: issues one and throws it away.
/// Its feature codes follow the rule of every code ([`check_code`]).
fn validate(app: &App, spec: &Value) -> Result<tessera::License, ApiError> {
    if let Some(features) = spec["product_features"].as_array() {
        for f in features {
            if let Some(code) = f["code"].as_str() {
                check_code(code, "a feature code")?;
            }
        }
    }
    let bytes = encode(spec)?;
    Ok(tessera::issuer::issue(&bytes, &app.key, app.now())?.1)
}

async fn new_definition(app: &Arc<App>, d: NewDefinition) -> Result<Value, ApiError> {
    check_code(&d.code, "code")?;
    if !d.spec.is_object() {
        return Err(invalid("spec must be an object"));
    }
    server_fields(&d.spec)?;
    for k in ["id", "license_key"] {
        if d.spec.get(k).is_some() {
            return Err(invalid(format!("a definition has no `{k}`")));
        }
    }
    let mut probe = d.spec.clone();
    probe["id"] = json!("definition-check");
    let license = validate(app, &probe)?;
    if license.product() != d.product {
        return Err(ApiError::new(
            422,
            "invalid_spec",
            "the spec's product_details.short_code is another product",
        ));
    }
    if let Some(days) = d.trial_days {
        // The trial license trial_key would make from it must activate:
        // refused now, not when a device asks for a trial.
        if days == 0 {
            return Err(invalid("a trial lasts at least one day"));
        }
        probe["license_key"] = json!("DEFINITION-CHECK");
        probe["is_trial"] = json!(true);
        probe["trial_days"] = json!(days);
        let until = crate::api::later(app.now(), chrono::Duration::days(i64::from(days)))?;
        probe["validity_period"] = json!(tessera::format::license::ts::format(&until));
        let trial = validate(app, &probe)?;
        if !trial.is_trial || trial.license_type == tessera::format::license::LicenseType::Perpetual
        {
            return Err(ApiError::new(
                422,
                "invalid_spec",
                "a trial definition needs a license type that ends (time-limited or subscription)",
            ));
        }
    }
    let row = DefinitionRow {
        product: d.product,
        code: d.code,
        name: d.name,
        spec: serde_json::to_string(&d.spec).map_err(internal)?,
        trial_days: d.trial_days,
    };
    let answer = definition_json(&row)?;
    app.with_db(move |_, conn| {
        db::write(conn, |tx| db::insert_definition(tx, &row)).map_err(ApiError::from)
    })
    .await?;
    Ok(answer)
}

fn definition_json(d: &DefinitionRow) -> Result<Value, ApiError> {
    Ok(json!({
        "product": d.product,
        "code": d.code,
        "name": d.name,
        "spec": serde_json::from_str::<Value>(&d.spec).map_err(internal)?,
        "trial_days": d.trial_days,
    }))
}

async fn new_license(app: &Arc<App>, l: NewLicense) -> Result<Value, ApiError> {
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
                let found = db::definition(conn, &d.product, &d.code)?.ok_or_else(|| {
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
        db::write(conn, |tx| {
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
            db::set_max_devices_per_user(tx, &license.id, l.max_devices_per_user.unwrap_or(0))
        })?;
        Ok(json!({
            "id": license.id,
            "product": license.product(),
            "license_key": key,
        }))
    })
    .await
}

fn license_json(app: &App, conn: &Db<'_>, row: &LicenseRow) -> Result<Value, ApiError> {
    let spec: Value = serde_json::from_str(&row.spec).map_err(internal)?;
    let off: Vec<String> = serde_json::from_str(&row.features_off).unwrap_or_default();
    let now = app.now().timestamp();
    Ok(json!({
        "id": row.id,
        "product": row.product,
        "license_key": row.license_key,
        "enabled": row.enabled,
        "spec": spec,
        "times_activated": db::activation_count(conn, &row.id)?,
        "transfer_count": row.transfer_count,
        "floating_in_use_devices": db::seats_held(conn, &row.id, now)?,
        "account": row.account,
        "definition": row.definition,
        "max_license_users": row.max_users,
        "max_devices_per_user": db::max_devices_per_user(conn, &row.id)?,
        "users_assigned": db::assigned_count(conn, &row.id)?,
        "features_off": off,
        "consumption": db::consumption_totals(conn, &row.id)?
            .into_iter()
            .map(|(counter, total)| (counter, json!(total)))
            .collect::<serde_json::Map<String, Value>>(),
    }))
}

async fn update_license(app: &Arc<App>, id: &str, u: LicenseUpdate) -> Result<Value, ApiError> {
    let id = id.to_string();
    if let Some(a) = &u.account {
        check_code(a, "account")?;
    }
    app.with_db(move |app, conn| {
        db::write(conn, |tx| {
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
            if max_users < db::assigned_count(tx, &id)? {
                return Err(ApiError::conflict(
                    "users_assigned",
                    "more users hold the license than that: revoke some first",
                ));
            }
            let account = u.account.clone().or(row.account.clone());
            let text = serde_json::to_string(&spec).map_err(internal)?;
            db::update_license(tx, &id, &text, max_users, account.as_deref())?;
            if let Some(max) = u.max_devices_per_user {
                db::set_max_devices_per_user(tx, &id, max)?;
            }
            license_json(app, tx, &db::license_by_id(tx, &id)?)
        })
    })
    .await
}

async fn seats(app: &Arc<App>, id: &str) -> Result<Value, ApiError> {
    let id = id.to_string();
    app.with_db(move |app, conn| {
        let row = db::license_by_id(conn, &id)?;
        let license = app.license_of(&row)?;
        let license = &license.1;
        let (allowed, used) = if license.floats() {
            (
                u64::from(license.floating_users),
                u64::from(db::seats_held(conn, &id, app.now().timestamp())?),
            )
        } else {
            (
                u64::from(license.max_activations),
                u64::from(db::activation_count(conn, &id)?),
            )
        };
        let assigned = u64::from(db::assigned_count(conn, &id)?);
        let max_users = u64::from(row.max_users);
        // Unlimited activations count as -1 allowed and -1 available, as
        // Salesforce counts a site license (seed 000), not as 0 of 0.
        let unlimited = !license.floats() && license.allow_unlimited_activations;
        let (allowed, available) = if unlimited {
            (json!(-1), json!(-1))
        } else {
            (json!(allowed), json!(allowed.saturating_sub(used)))
        };
        Ok(json!({
            "kind": if license.floats() { "floating" } else { "activations" },
            "allowed": allowed,
            "used": used,
            "available": available,
            "users": {
                "allowed": max_users,
                "used": assigned,
                "available": max_users.saturating_sub(assigned),
            },
        }))
    })
    .await
}

/// Reads a feature toggle, or switches it (`set`).
async fn toggle(
    app: &Arc<App>,
    id: &str,
    feature: &str,
    set: Option<bool>,
) -> Result<Value, ApiError> {
    let (id, feature) = (id.to_string(), feature.to_string());
    app.with_db(move |_, conn| {
        db::write(conn, |tx| {
            let row = db::license_by_id(tx, &id)?;
            let enabled = toggle_in(tx, &row, &feature, set)?.ok_or_else(|| {
                ApiError::not_found("feature_not_found", "the license has no such feature")
            })?;
            Ok(json!({ "license_id": id, "feature": feature, "enabled": enabled }))
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

async fn new_user(app: &Arc<App>, mut u: NewUser) -> Result<Value, ApiError> {
    u.username = users::normalize_username(&u.username).ok_or_else(|| {
        invalid("username must be 1 to 254 bytes without control or invisible characters")
    })?;
    if u.password.expose().chars().count() < users::MIN_PASSWORD {
        return Err(invalid(format!(
            "the password must be at least {} characters",
            users::MIN_PASSWORD
        )));
    }
    let password = u.password.clone();
    let hash = tokio::task::spawn_blocking(move || users::hash(password.expose()))
        .await
        .map_err(|_| ApiError::internal("the request was cancelled"))??;
    let row = UserRow {
        id: random_id()?,
        email: u.email.unwrap_or_else(|| u.username.clone()),
        username: u.username,
        first_name: u.first_name,
        last_name: u.last_name,
        password_hash: hash,
    };
    let answer = users::public(&row);
    app.with_db(move |app, conn| {
        let now = app.now().timestamp();
        db::write(conn, |tx| db::insert_user(tx, &row, now)).map_err(ApiError::from)
    })
    .await?;
    Ok(answer)
}

fn user_with_licenses(conn: &Db<'_>, u: &UserRow) -> Result<Value, ApiError> {
    let mut v = users::public(u);
    v["licenses"] = json!(db::license_ids_of_user(conn, &u.id)?);
    Ok(v)
}

/// How one (license, user, action) of an assignment ended.
pub(crate) struct ItemResult {
    pub(crate) license_id: String,
    pub(crate) user_id: String,
    add: bool,
    pub(crate) status: u16,
    pub(crate) code: &'static str,
    pub(crate) message: String,
}

impl ItemResult {
    fn to_json(&self) -> Value {
        json!({
            "license_id": self.license_id,
            "user_id": self.user_id,
            "action": if self.add { "add" } else { "remove" },
            "status": self.status,
            "code": self.code,
            "message": self.message,
        })
    }
}

/// One status per (license, user, action); each item stands alone. The
/// admin API's assignments and Salesforce's `UserPackageLicense`
/// (`compat/salesforce.rs`) both come here.
pub(crate) async fn assign(
    app: &Arc<App>,
    items: Vec<Assignment>,
) -> Result<Vec<ItemResult>, ApiError> {
    app.with_db(move |_, conn| {
        db::write(conn, |tx| {
            let mut results = Vec::new();
            for item in &items {
                let row = db::license_by_id(tx, &item.license_id).ok();
                let actions = item
                    .user_ids_remove
                    .iter()
                    .map(|u| (u, false))
                    .chain(item.user_ids_add.iter().map(|u| (u, true)));
                for (user, add) in actions {
                    let (status, code, message) = assign_one(tx, row.as_ref(), user, add)?;
                    results.push(ItemResult {
                        license_id: item.license_id.clone(),
                        user_id: user.clone(),
                        add,
                        status,
                        code,
                        message,
                    });
                }
            }
            Ok(results)
        })
    })
    .await
}

fn assign_one(
    tx: &Db<'_>,
    row: Option<&LicenseRow>,
    user: &str,
    add: bool,
) -> Result<(u16, &'static str, String), ApiError> {
    let Some(row) = row else {
        return Ok((404, "license_not_found", "no such license".into()));
    };
    if db::user_by_id(tx, user)?.is_none() {
        return Ok((404, "user_not_found", "no such user".into()));
    }
    if !add {
        return Ok(if db::revoke(tx, user, &row.id)? {
            (200, "revoked", "the license was revoked".into())
        } else {
            (
                404,
                "not_assigned",
                "the user does not hold the license".into(),
            )
        });
    }
    if db::is_assigned(tx, user, &row.id)? {
        return Ok((
            200,
            "unchanged",
            "the user holds the license already".into(),
        ));
    }
    if db::assigned_count(tx, &row.id)? >= row.max_users {
        return Ok((
            409,
            "no_units_left",
            format!("all {} users of the license are assigned", row.max_users),
        ));
    }
    db::assign(tx, user, &row.id)?;
    Ok((200, "assigned", "the license was assigned".into()))
}

/// Seed 002: every user gets a unit of every bundle, or nothing changes.
/// The answer holds each user with the bundle codes they hold now, in the
/// order asked. The admin API and the UiPath form (`compat/uipath.rs`)
/// both come here.
pub(crate) async fn allocate(
    app: &Arc<App>,
    account: &str,
    a: Allocation,
) -> Result<Vec<(String, Vec<String>)>, ApiError> {
    if a.user_ids.is_empty() || a.bundle_codes.is_empty() {
        return Err(invalid("name at least one user and one bundle code"));
    }
    if a.user_ids.len().saturating_mul(a.bundle_codes.len()) > MAX_BATCH {
        return Err(invalid(format!("at most {MAX_BATCH} allocations per call")));
    }
    let account = account.to_string();
    app.with_db(move |_, conn| {
        db::write(conn, |tx| {
            for user in &a.user_ids {
                if db::user_by_id(tx, user)?.is_none() {
                    return Err(ApiError::not_found("user_not_found", format!("no user `{user}`")));
                }
            }
            let mut allocated: HashMap<&str, Vec<String>> = HashMap::new();
            for code in &a.bundle_codes {
                let licenses = db::licenses_of_account(tx, &account, code)?;
                if licenses.is_empty() {
                    return Err(ApiError::not_found(
                        "bundle_not_found",
                        format!("the account has no license for bundle `{code}`"),
                    ));
                }
                for user in &a.user_ids {
                    if licenses
                        .iter()
                        .map(|l| db::is_assigned(tx, user, &l.id))
                        .collect::<Result<Vec<_>, _>>()?
                        .contains(&true)
                    {
                        allocated.entry(user).or_default().push(code.clone());
                        continue;
                    }
                    let mut free = None;
                    for l in &licenses {
                        if db::assigned_count(tx, &l.id)? < l.max_users {
                            free = Some(l);
                            break;
                        }
                    }
                    let Some(l) = free else {
                        // The transaction is dropped: nothing of this call is kept.
                        let bought: u64 = licenses.iter().map(|l| u64::from(l.max_users)).sum();
                        return Err(ApiError::conflict(
                            "exceeds_quantity",
                            format!("bundle `{code}`: the account bought {bought} and they are all allocated"),
                        ));
                    };
                    db::assign(tx, user, &l.id)?;
                    allocated.entry(user).or_default().push(code.clone());
                }
            }
            Ok(a
                .user_ids
                .iter()
                .map(|u| (u.clone(), allocated.get(u.as_str()).cloned().unwrap_or_default()))
                .collect())
        })
    })
    .await
}
