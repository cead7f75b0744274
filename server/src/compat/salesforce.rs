//! Seed 000, Salesforce: package licenses assigned through the API.
//!
//! The document names two standard objects, `PackageLicense` (a package's
//! licenses: allowed, used, status, expiration, namespace) and
//! `UserPackageLicense` (one row per user holding one), and five tasks: the
//! licenses in use and available, whether a user has one, the users who
//! do, assign, revoke. They are served as Salesforce's REST API serves
//! standard objects, under `/services/data/vNN.N/`:
//! - `GET sobjects/PackageLicense/{id}`: a Tessera license, its users;
//! - `POST sobjects/UserPackageLicense` (`{"PackageLicenseId", "UserId"}`,
//!   answered 201 `{id, success, errors}`), `GET` and `DELETE
//!   sobjects/UserPackageLicense/{id}` (204): a user's assignment;
//! - `GET query?q=`: the small SOQL subset of `soql.rs`.
//!
//! Every failure answers Salesforce's error shape, `[{"message",
//! "errorCode", "fields"}]`, including the admin token's 401 in front. The
//! rules are the admin API's (`users::assign::assign`, the same transaction); this
//! module renames, and reads.

use std::collections::HashMap;
use std::sync::Arc;

use axum::body::{to_bytes, Body, Bytes};
use axum::extract::{Path, Query, Request, State};
use axum::http::{header, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::Router;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64URL;
use base64::Engine as _;
use serde_json::{json, Map, Value};

use super::soql;
use crate::database;
use crate::error::ApiError;
use crate::http::{json_response, MAX_BODY};
use crate::licenses::db as licenses_db;
use crate::licenses::db::LicenseRow;
use crate::route_table::RouteList;
use crate::state::App;
use crate::store::Db;
use crate::users::assign::{assign, Assignment};
use crate::users::db as users_db;

/// The most records one query answers; past it the query must be narrowed
/// (Salesforce pages past 2,000 with `nextRecordsUrl`, which is not served).
const MAX_RECORDS: u32 = 2000;

/// A failure in Salesforce's words.
pub(crate) struct SfError {
    status: u16,
    code: &'static str,
    message: String,
    fields: Vec<&'static str>,
}

impl SfError {
    fn new(status: u16, code: &'static str, message: impl Into<String>) -> SfError {
        SfError {
            status,
            code,
            message: message.into(),
            fields: Vec::new(),
        }
    }
    fn on(mut self, field: &'static str) -> SfError {
        self.fields.push(field);
        self
    }
    fn malformed(message: impl Into<String>) -> SfError {
        SfError::new(400, "MALFORMED_QUERY", message)
    }
    fn not_found() -> SfError {
        SfError::new(404, "NOT_FOUND", "The requested resource does not exist")
    }
}

impl From<ApiError> for SfError {
    fn from(e: ApiError) -> SfError {
        let code = match e.status {
            401 | 403 => "INVALID_SESSION_ID",
            404 => "NOT_FOUND",
            405 => "METHOD_NOT_ALLOWED",
            413 => "REQUEST_TOO_LARGE",
            429 => "REQUEST_LIMIT_EXCEEDED",
            500.. => "UNKNOWN_EXCEPTION",
            _ => "JSON_PARSER_ERROR",
        };
        let status = if e.status == 403 { 401 } else { e.status };
        SfError::new(status, code, e.message)
    }
}

impl IntoResponse for SfError {
    fn into_response(self) -> Response {
        let body =
            json!([{"message": self.message, "errorCode": self.code, "fields": self.fields}]);
        let status = StatusCode::from_u16(self.status).unwrap_or(StatusCode::BAD_REQUEST);
        json_response(status, body.to_string().into_bytes())
    }
}

type Reply = Result<Response, SfError>;

/// The routes, and the list of what they serve.
pub(super) fn table() -> (Router<Arc<App>>, RouteList) {
    crate::route_table::route_table! {
        "/services/data/{version}/sobjects/PackageLicense/{id}" => get(package_license_call),
        "/services/data/{version}/sobjects/UserPackageLicense" => post(create_call),
        "/services/data/{version}/sobjects/UserPackageLicense/{id}" => get(user_package_license_call).delete(delete_call),
        "/services/data/{version}/query" => get(query_call),
    }
}

pub(super) fn routes(app: &Arc<App>) -> Router<Arc<App>> {
    table()
        .0
        .route_layer(middleware::from_fn_with_state(
            Arc::clone(app),
            crate::http::authenticate_admin,
        ))
        .layer(middleware::from_fn(in_salesforce_words))
}

/// Puts every other failure (the admin token's 401, a 405, a body too
/// large) in Salesforce's shape.
async fn in_salesforce_words(req: Request, next: Next) -> Response {
    let response = next.run(req).await;
    if response.status().is_success() {
        return response;
    }
    let (parts, body) = response.into_parts();
    let bytes = to_bytes(body, MAX_BODY).await.unwrap_or_default();
    match serde_json::from_slice::<Value>(&bytes) {
        Ok(Value::Object(ours)) => {
            let message = ours.get("message").and_then(Value::as_str).unwrap_or("");
            let e = ApiError::new(parts.status.as_u16(), "", message);
            let mut answer = SfError::from(e).into_response();
            if let Some(retry) = parts.headers.get(header::RETRY_AFTER) {
                answer
                    .headers_mut()
                    .insert(header::RETRY_AFTER, retry.clone());
            }
            answer
        }
        // Already Salesforce's (an array), or empty.
        _ => Response::from_parts(parts, Body::from(bytes)),
    }
}

/// The paths this seed answers for, served or not: the router's fallbacks
/// (no such path, no such method) answer them in Salesforce's shape.
pub(super) fn owns(path: &str) -> bool {
    path.starts_with("/services/data/")
}

/// `v60.0` and the like; anything else is no resource.
fn check_version(version: &str) -> Result<(), SfError> {
    let ok = version
        .strip_prefix('v')
        .and_then(|v| v.split_once('.'))
        .is_some_and(|(major, minor)| {
            (1..=3).contains(&major.len())
                && minor.len() == 1
                && major
                    .bytes()
                    .chain(minor.bytes())
                    .all(|b| b.is_ascii_digit())
        });
    if ok {
        Ok(())
    } else {
        Err(SfError::not_found())
    }
}

fn ok(status: StatusCode, body: &Value) -> Response {
    json_response(status, body.to_string().into_bytes())
}

/// The fields of each object, as Salesforce spells them.
const PACKAGE_LICENSE: &[&str] = &[
    "Id",
    "AllowedLicenses",
    "UsedLicenses",
    "Status",
    "ExpirationDate",
    "NamespacePrefix",
    "IsProvisioned",
];
const USER_PACKAGE_LICENSE: &[&str] = &["Id", "PackageLicenseId", "UserId"];

/// A `UserPackageLicense`'s id: the license's and the user's, each in
/// unpadded URL-safe base64 (which has no `.`), so it is opaque, fits a
/// path and names exactly one assignment.
fn assignment_id(license: &str, user: &str) -> String {
    format!("{}.{}", B64URL.encode(license), B64URL.encode(user))
}

fn parse_assignment_id(id: &str) -> Option<(String, String)> {
    let (l, u) = id.split_once('.')?;
    let text = |b: &str| String::from_utf8(B64URL.decode(b).ok()?).ok();
    Some((text(l)?, text(u)?))
}

/// Salesforce's datetime form: `2026-12-01T00:00:00.000+0000`.
fn sf_time(t: chrono::DateTime<chrono::Utc>) -> String {
    t.format("%Y-%m-%dT%H:%M:%S%.3f+0000").to_string()
}

fn attributes(kind: &str, version: &str, id: &str) -> Value {
    json!({"type": kind, "url": format!("/services/data/{version}/sobjects/{kind}/{id}")})
}

/// A license as a `PackageLicense`, every field.
fn package_license(
    app: &App,
    conn: &Db<'_>,
    row: &LicenseRow,
) -> Result<Map<String, Value>, ApiError> {
    let parsed = app.license_of(row)?;
    let license = &parsed.1;
    let expired = license
        .validity_period
        .is_some_and(|end| end <= app.now().into());
    // Salesforce's statuses are Active, Trial, Expired and Free; a license
    // switched off reads Expired (there is no suspended status).
    let status = if !row.enabled || expired {
        "Expired"
    } else if license.is_trial {
        "Trial"
    } else {
        "Active"
    };
    let mut m = Map::new();
    m.insert("Id".into(), json!(row.id));
    m.insert("AllowedLicenses".into(), json!(row.max_users));
    m.insert(
        "UsedLicenses".into(),
        json!(users_db::assigned_count(conn, &row.id)?),
    );
    m.insert("Status".into(), json!(status));
    m.insert(
        "ExpirationDate".into(),
        license
            .validity_period
            .map_or(Value::Null, |t| json!(sf_time(t.into()))),
    );
    m.insert("NamespacePrefix".into(), json!(row.product));
    m.insert("IsProvisioned".into(), json!(true));
    Ok(m)
}

fn user_package_license(license: &str, user: &str) -> Map<String, Value> {
    let mut m = Map::new();
    m.insert("Id".into(), json!(assignment_id(license, user)));
    m.insert("PackageLicenseId".into(), json!(license));
    m.insert("UserId".into(), json!(user));
    m
}

/// `fields` of `record` in that order, after its `attributes`.
fn record(kind: &str, version: &str, all: Map<String, Value>, fields: &[&str]) -> Value {
    let id = all
        .get("Id")
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_owned();
    let mut out = Map::new();
    out.insert("attributes".into(), attributes(kind, version, &id));
    for f in fields {
        out.insert((*f).to_owned(), all.get(*f).cloned().unwrap_or(Value::Null));
    }
    Value::Object(out)
}

async fn package_license_call(
    State(app): State<Arc<App>>,
    Path((version, id)): Path<(String, String)>,
) -> Reply {
    check_version(&version)?;
    let found = app
        .with_db(
            move |app, conn| match licenses_db::license_by_id(conn, &id) {
                Ok(row) => Ok(Some(package_license(app, conn, &row)?)),
                Err(database::DbError::NotFound(..)) => Ok(None),
                Err(e) => Err(e.into()),
            },
        )
        .await?;
    let all = found.ok_or_else(SfError::not_found)?;
    Ok(ok(
        StatusCode::OK,
        &record("PackageLicense", &version, all, PACKAGE_LICENSE),
    ))
}

async fn user_package_license_call(
    State(app): State<Arc<App>>,
    Path((version, id)): Path<(String, String)>,
) -> Reply {
    check_version(&version)?;
    let (license, user) = parse_assignment_id(&id).ok_or_else(SfError::not_found)?;
    let (l, u) = (license.clone(), user.clone());
    let held = app
        .with_db(move |_, conn| Ok(users_db::is_assigned(conn, &u, &l)?))
        .await?;
    if !held {
        return Err(SfError::not_found());
    }
    let all = user_package_license(&license, &user);
    Ok(ok(
        StatusCode::OK,
        &record("UserPackageLicense", &version, all, USER_PACKAGE_LICENSE),
    ))
}

/// Assigns a package license to a user: the admin API's assignment.
async fn create_call(
    State(app): State<Arc<App>>,
    Path(version): Path<String>,
    body: Bytes,
) -> Reply {
    check_version(&version)?;
    if body.len() > MAX_BODY {
        return Err(SfError::new(
            413,
            "REQUEST_TOO_LARGE",
            format!("the body is larger than {MAX_BODY} bytes"),
        ));
    }
    if crate::http::holds_nul(&body) {
        return Err(SfError::from(crate::http::nul_refused()));
    }
    let fields = match serde_json::from_slice::<Value>(&body) {
        Ok(Value::Object(m)) => m,
        _ => {
            return Err(SfError::new(
                400,
                "JSON_PARSER_ERROR",
                "the body is not a JSON object",
            ))
        }
    };
    let (mut license, mut user) = (None, None);
    for (name, value) in &fields {
        let slot = if name.eq_ignore_ascii_case("PackageLicenseId") {
            &mut license
        } else if name.eq_ignore_ascii_case("UserId") {
            &mut user
        } else {
            return Err(SfError::new(
                400,
                "INVALID_FIELD",
                format!("No such column '{name}' on sobject of type UserPackageLicense"),
            ));
        };
        let Some(text) = value.as_str() else {
            return Err(SfError::new(
                400,
                "JSON_PARSER_ERROR",
                format!("{name} takes a string"),
            ));
        };
        *slot = Some(text.to_owned());
    }
    let license = license.ok_or_else(|| {
        SfError::new(
            400,
            "REQUIRED_FIELD_MISSING",
            "Required fields are missing: [PackageLicenseId]",
        )
        .on("PackageLicenseId")
    })?;
    let user = user.ok_or_else(|| {
        SfError::new(
            400,
            "REQUIRED_FIELD_MISSING",
            "Required fields are missing: [UserId]",
        )
        .on("UserId")
    })?;
    let item = Assignment {
        license_id: license.clone(),
        user_ids_add: vec![user.clone()],
        user_ids_remove: Vec::new(),
    };
    let result = assign(&app, vec![item])
        .await?
        .pop()
        .ok_or_else(|| SfError::from(ApiError::internal("no result")))?;
    match result.code {
        "assigned" => Ok(ok(
            StatusCode::CREATED,
            &json!({"id": assignment_id(&license, &user), "success": true, "errors": []}),
        )),
        "unchanged" => Err(SfError::new(
            400,
            "DUPLICATE_VALUE",
            "duplicate value found: the user holds this package license",
        )),
        "license_not_found" => Err(SfError::new(
            400,
            "INVALID_CROSS_REFERENCE_KEY",
            "invalid cross reference id",
        )
        .on("PackageLicenseId")),
        "user_not_found" => Err(SfError::new(
            400,
            "INVALID_CROSS_REFERENCE_KEY",
            "invalid cross reference id",
        )
        .on("UserId")),
        "no_units_left" => Err(SfError::new(400, "LICENSE_LIMIT_EXCEEDED", result.message)),
        _ => Err(ApiError::new(result.status, result.code, result.message).into()),
    }
}

/// Revokes a package license from its user: the admin API's removal.
async fn delete_call(
    State(app): State<Arc<App>>,
    Path((version, id)): Path<(String, String)>,
) -> Reply {
    check_version(&version)?;
    let (license, user) = parse_assignment_id(&id).ok_or_else(SfError::not_found)?;
    let item = Assignment {
        license_id: license,
        user_ids_add: Vec::new(),
        user_ids_remove: vec![user],
    };
    let result = assign(&app, vec![item])
        .await?
        .pop()
        .ok_or_else(|| SfError::from(ApiError::internal("no result")))?;
    if result.code == "revoked" {
        Ok(StatusCode::NO_CONTENT.into_response())
    } else {
        Err(SfError::not_found())
    }
}

/// The one object a query reads, and how its filters map onto columns.
enum Object {
    PackageLicense,
    UserPackageLicense,
}

async fn query_call(
    State(app): State<Arc<App>>,
    Path(version): Path<String>,
    Query(params): Query<HashMap<String, String>>,
) -> Reply {
    check_version(&version)?;
    let q = params
        .get("q")
        .ok_or_else(|| SfError::malformed("the query parameter q is missing"))?;
    let query = soql::parse(q).map_err(SfError::malformed)?;
    let (object, kind, known): (Object, &'static str, &[&'static str]) =
        if query.object.eq_ignore_ascii_case("PackageLicense") {
            (Object::PackageLicense, "PackageLicense", PACKAGE_LICENSE)
        } else if query.object.eq_ignore_ascii_case("UserPackageLicense") {
            (
                Object::UserPackageLicense,
                "UserPackageLicense",
                USER_PACKAGE_LICENSE,
            )
        } else {
            return Err(SfError::new(
                400,
                "INVALID_TYPE",
                format!("sObject type '{}' is not supported", query.object),
            ));
        };
    let resolve = |name: &str| -> Result<&'static str, SfError> {
        known
            .iter()
            .copied()
            .find(|f| f.eq_ignore_ascii_case(name))
            .ok_or_else(|| {
                SfError::new(
                    400,
                    "INVALID_FIELD",
                    format!("No such column '{name}' on entity '{kind}'"),
                )
            })
    };
    let mut fields = Vec::new();
    for f in &query.fields {
        let f = resolve(f)?;
        if fields.contains(&f) {
            return Err(SfError::malformed(format!("duplicate field selected: {f}")));
        }
        fields.push(f);
    }
    // Each filter on a column; an assignment's Id is both of its columns.
    // A filter that names nothing that exists matches nothing.
    let mut filters: Vec<(&'static str, String)> = Vec::new();
    let mut matches_nothing = false;
    for (name, value) in query.filters {
        match (&object, resolve(&name)?) {
            (Object::PackageLicense, "Id") => filters.push(("id", value)),
            (Object::PackageLicense, "NamespacePrefix") => filters.push(("product", value)),
            (Object::UserPackageLicense, "PackageLicenseId") => filters.push(("license_id", value)),
            (Object::UserPackageLicense, "UserId") => filters.push(("user_id", value)),
            (Object::UserPackageLicense, "Id") => match parse_assignment_id(&value) {
                Some((license, user)) => {
                    filters.push(("license_id", license));
                    filters.push(("user_id", user));
                }
                None => matches_nothing = true,
            },
            (_, field) => {
                return Err(SfError::malformed(format!(
                    "filtering on {field} is not supported"
                )))
            }
        }
    }
    let v = version.clone();
    let records = app
        .with_db(move |app, conn| {
            if matches_nothing {
                return Ok(Vec::new());
            }
            let filters: Vec<(&'static str, &str)> =
                filters.iter().map(|(c, v)| (*c, v.as_str())).collect();
            let mut out = Vec::new();
            match object {
                Object::PackageLicense => {
                    let rows = licenses_db::licenses_matching(conn, &filters, MAX_RECORDS + 1)?;
                    if rows.len() > MAX_RECORDS as usize {
                        return Err(too_many());
                    }
                    for row in &rows {
                        out.push(record(kind, &v, package_license(app, conn, row)?, &fields));
                    }
                }
                Object::UserPackageLicense => {
                    let rows = users_db::assignments_matching(conn, &filters, MAX_RECORDS + 1)?;
                    if rows.len() > MAX_RECORDS as usize {
                        return Err(too_many());
                    }
                    for (license, user) in &rows {
                        out.push(record(
                            kind,
                            &v,
                            user_package_license(license, user),
                            &fields,
                        ));
                    }
                }
            }
            Ok(out)
        })
        .await
        .map_err(|e| {
            if e.code == "too_many_records" {
                SfError::malformed(e.message)
            } else {
                e.into()
            }
        })?;
    Ok(ok(
        StatusCode::OK,
        &json!({"totalSize": records.len(), "done": true, "records": records}),
    ))
}

fn too_many() -> ApiError {
    ApiError::bad_request(
        "too_many_records",
        format!("more than {MAX_RECORDS} records match: narrow the query with WHERE"),
    )
}
