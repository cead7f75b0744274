//! Seed 001, Genesys Cloud's LicenseApi: its eight operations at their
//! documented paths under `/api/v2/license/`, in camelCase, with the
//! documented paging envelope and a status per batch item, behind the
//! admin token as the OAuth bearer token.
//!
//! The names map onto Tessera's model so: a `LicenseDefinition` is a
//! license definition, its `id` `{product}:{code}`; a user's `licenses` and
//! a batch item's `licenseId` are Tessera license ids (what a user is
//! assigned to); a feature toggle is the organization's, so it reads and
//! switches the feature on every license that has it, in one transaction.
//! The rules are the admin API's (`users::assign::assign`, `licenses::toggle_in`).

use std::collections::HashMap;
use std::sync::Arc;

use axum::extract::{Path, Query, State};
use axum::Router;
use serde::Deserialize;
use serde_json::{json, Map, Value};

use crate::body::{invalid, page_number};
use crate::database;
use crate::error::ApiError;
use crate::http::{Answer, JsonBody};
use crate::licenses::db as licenses_db;
use crate::licenses::toggle_in;
use crate::products::db as products_db;
use crate::products::db::DefinitionRow;
use crate::route_table::RouteList;
use crate::state::App;
use crate::store::Db;
use crate::users::assign::{assign, Assignment};
use crate::users::db as users_db;

const BASE: &str = "/api/v2/license";

/// The most items (users, or users per assignment) one batch call takes.
const MAX_BATCH: usize = 1000;

/// The routes, behind the admin token as the document's bearer token.
pub(super) fn routes(app: &Arc<App>) -> Router<Arc<App>> {
    table().0.route_layer(axum::middleware::from_fn_with_state(
        Arc::clone(app),
        crate::http::authenticate_admin,
    ))
}

/// The routes, and the list of what they serve.
pub(super) fn table() -> (Router<Arc<App>>, RouteList) {
    crate::route_table::route_table! {
        "/api/v2/license/definitions" => get(definitions_call),
        "/api/v2/license/definitions/{license_id}" => get(definition_call),
        "/api/v2/license/toggles/{feature}" => get(toggle_get_call).post(toggle_switch_call),
        "/api/v2/license/users/{user_id}" => get(user_call),
        "/api/v2/license/users" => get(users_call).post(users_batch_call),
        "/api/v2/license/organization" => post(organization_call),
    }
}

/// A definition as a `LicenseDefinition`: its features are the
/// permissions it grants.
fn definition(d: &DefinitionRow) -> Result<Value, ApiError> {
    let spec: Value =
        serde_json::from_str(&d.spec).map_err(|e| ApiError::internal(e.to_string()))?;
    let features: Vec<Value> = spec["product_features"]
        .as_array()
        .map(|fs| fs.iter().filter_map(|f| f.get("code").cloned()).collect())
        .unwrap_or_default();
    let id = format!("{}:{}", d.product, d.code);
    Ok(json!({
        "id": id,
        "name": d.name,
        "description": d.name,
        "permissions": {"ids": features},
        "prerequisites": [],
        "comprises": [],
        "selfUri": format!("{BASE}/definitions/{id}"),
    }))
}

async fn definitions_call(State(app): State<Arc<App>>) -> Result<Answer, ApiError> {
    let all = app
        .with_db(|_, conn| {
            products_db::definitions(conn, None)?
                .iter()
                .map(definition)
                .collect::<Result<Vec<_>, _>>()
        })
        .await?;
    Ok(Answer(Value::from(all)))
}

async fn definition_call(
    State(app): State<Arc<App>>,
    Path(license_id): Path<String>,
) -> Result<Answer, ApiError> {
    let missing = || ApiError::not_found("definition_not_found", "no such license definition");
    let (product, code) = license_id.split_once(':').ok_or_else(missing)?;
    let (product, code) = (product.to_owned(), code.to_owned());
    let found = app
        .with_db(move |_, conn| Ok(products_db::definition(conn, &product, &code)?))
        .await?
        .ok_or_else(missing)?;
    Ok(Answer(definition(&found)?))
}

/// The organization's toggle of `feature`: on unless a license that has
/// the feature has it off; `switch` flips it on every such license. `None`
/// when no license has the feature.
fn org_toggle(tx: &Db<'_>, feature: &str, switch: bool) -> Result<Option<bool>, ApiError> {
    let licenses = licenses_db::licenses_matching(tx, &[], u32::MAX)?;
    let mut states = Vec::new();
    for row in &licenses {
        if let Some(on) = toggle_in(tx, row, feature, None)? {
            states.push((row, on));
        }
    }
    if states.is_empty() {
        return Ok(None);
    }
    let enabled = states.iter().all(|(_, on)| *on);
    if !switch {
        return Ok(Some(enabled));
    }
    for (row, _) in &states {
        toggle_in(tx, row, feature, Some(!enabled))?;
    }
    Ok(Some(!enabled))
}

async fn toggle(app: &Arc<App>, feature: String, switch: bool) -> Result<Answer, ApiError> {
    let f = feature.clone();
    let enabled = app
        .with_db(move |_, conn| {
            if switch {
                database::write(conn, |tx| org_toggle(tx, &f, true))
            } else {
                org_toggle(conn, &f, false)
            }
        })
        .await?
        .ok_or_else(|| ApiError::not_found("feature_not_found", "no license has such a feature"))?;
    Ok(Answer(json!({
        "featureName": feature,
        "enabled": enabled,
        "selfUri": format!("{BASE}/toggles/{feature}"),
    })))
}

async fn toggle_get_call(
    State(app): State<Arc<App>>,
    Path(feature): Path<String>,
) -> Result<Answer, ApiError> {
    toggle(&app, feature, false).await
}

/// "Switch PureCloud license feature toggle value": the POST takes no
/// body and flips the value.
async fn toggle_switch_call(
    State(app): State<Arc<App>>,
    Path(feature): Path<String>,
) -> Result<Answer, ApiError> {
    toggle(&app, feature, true).await
}

/// A user as a `LicenseUser`: the licenses assigned to them.
fn license_user(conn: &Db<'_>, id: &str) -> Result<Value, ApiError> {
    Ok(json!({
        "id": id,
        "licenses": users_db::license_ids_of_user(conn, id)?,
        "selfUri": format!("{BASE}/users/{id}"),
    }))
}

async fn user_call(
    State(app): State<Arc<App>>,
    Path(user_id): Path<String>,
) -> Result<Answer, ApiError> {
    let user = app
        .with_db(move |_, conn| {
            users_db::user_by_id(conn, &user_id)?
                .ok_or_else(|| ApiError::not_found("user_not_found", "no such user"))?;
            license_user(conn, &user_id)
        })
        .await?;
    Ok(Answer(user))
}

/// `pageSize` (default 25, at most 500) and `pageNumber` (default 1).
fn paging(q: &HashMap<String, String>) -> Result<(u64, u64), ApiError> {
    let number = |k: &str, default: u64| page_number(k, q.get(k).map(String::as_str), default);
    Ok((number("pageSize", 25)?.min(500), number("pageNumber", 1)?))
}

async fn users_call(
    State(app): State<Arc<App>>,
    Query(q): Query<HashMap<String, String>>,
) -> Result<Answer, ApiError> {
    let (size, number) = paging(&q)?;
    let page = app
        .with_db(move |_, conn| {
            let offset = (number - 1).saturating_mul(size);
            let (rows, total) = users_db::users_page(conn, offset, size)?;
            let entities = rows
                .iter()
                .map(|u| license_user(conn, &u.id))
                .collect::<Result<Vec<_>, _>>()?;
            Ok((entities, total))
        })
        .await?;
    let (entities, total) = page;
    let count = total.div_ceil(size);
    let uri = |n: u64| format!("{BASE}/users?pageSize={size}&pageNumber={n}");
    let mut listing = Map::new();
    listing.insert("entities".into(), Value::from(entities));
    listing.insert("pageSize".into(), json!(size));
    listing.insert("pageNumber".into(), json!(number));
    listing.insert("total".into(), json!(total));
    listing.insert("pageCount".into(), json!(count));
    listing.insert("firstUri".into(), json!(uri(1)));
    listing.insert("selfUri".into(), json!(uri(number)));
    listing.insert("lastUri".into(), json!(uri(count.max(1))));
    if number < count {
        listing.insert("nextUri".into(), json!(uri(number + 1)));
    }
    if number > 1 {
        listing.insert(
            "previousUri".into(),
            json!(uri((number - 1).min(count.max(1)))),
        );
    }
    Ok(Answer(Value::Object(listing)))
}

/// The user ids of a batch fetch, in every form the document allows: its
/// parameter is "Object | The user IDs to fetch" and its example body
/// `[{}]`. A bare array of ids, an array of objects naming one each
/// (`id` or `userId`; an empty one names nobody), or an object holding
/// such an array (`userIds` or `ids`).
#[derive(Deserialize)]
#[serde(untagged)]
enum UserIdsBody {
    List(Vec<UserRef>),
    Wrapped {
        #[serde(alias = "userIds", alias = "ids")]
        user_ids: Vec<UserRef>,
    },
}

#[derive(Deserialize)]
#[serde(untagged)]
enum UserRef {
    Id(String),
    Object {
        #[serde(default, alias = "userId")]
        id: Option<String>,
    },
}

impl UserIdsBody {
    fn ids(self) -> Vec<String> {
        let refs = match self {
            UserIdsBody::List(r) | UserIdsBody::Wrapped { user_ids: r } => r,
        };
        refs.into_iter()
            .filter_map(|r| match r {
                UserRef::Id(id) => Some(id),
                UserRef::Object { id } => id,
            })
            .collect()
    }
}

/// "Fetch user licenses in a batch": the user ids (in any form
/// [`UserIdsBody`] reads), answered with a map from each id found to its
/// `LicenseUser`.
async fn users_batch_call(
    State(app): State<Arc<App>>,
    JsonBody(body): JsonBody<UserIdsBody>,
) -> Result<Answer, ApiError> {
    let ids = body.ids();
    if ids.len() > MAX_BATCH {
        return Err(invalid(format!("at most {MAX_BATCH} users per call")));
    }
    let found = app
        .with_db(move |_, conn| {
            let mut out = Map::new();
            for id in &ids {
                if users_db::user_by_id(conn, id)?.is_some() {
                    out.insert(id.clone(), license_user(conn, id)?);
                }
            }
            Ok(out)
        })
        .await?;
    Ok(Answer(Value::Object(found)))
}

/// One `LicenseAssignmentRequest`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct AssignmentRequest {
    license_id: String,
    #[serde(default)]
    user_ids_add: Vec<String>,
    #[serde(default)]
    user_ids_remove: Vec<String>,
}

/// The document shows `assignments` as one object; Genesys' API takes a
/// list. Both are taken.
#[derive(Deserialize)]
#[serde(untagged)]
enum OneOrMany {
    Many(Vec<AssignmentRequest>),
    One(AssignmentRequest),
}

/// `LicenseBatchAssignmentRequest`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct BatchRequest {
    assignments: OneOrMany,
}

/// "Update the organization's license assignments in a batch": one
/// `LicenseUpdateStatus` per (license, user, action), each standing alone,
/// as the admin API's assignments.
async fn organization_call(
    State(app): State<Arc<App>>,
    JsonBody(batch): JsonBody<BatchRequest>,
) -> Result<Answer, ApiError> {
    let items = match batch.assignments {
        OneOrMany::Many(v) => v,
        OneOrMany::One(a) => vec![a],
    };
    let actions = items.iter().try_fold(0usize, |n, a| {
        n.checked_add(a.user_ids_add.len())?
            .checked_add(a.user_ids_remove.len())
    });
    if actions.is_none_or(|n| n > MAX_BATCH) {
        return Err(invalid(format!("at most {MAX_BATCH} changes per call")));
    }
    let items = items
        .into_iter()
        .map(|a| Assignment {
            license_id: a.license_id,
            user_ids_add: a.user_ids_add,
            user_ids_remove: a.user_ids_remove,
        })
        .collect();
    let results = assign(&app, items).await?;
    Ok(Answer(Value::from(
        results
            .iter()
            .map(|r| {
                json!({
                    "userId": r.user_id,
                    "licenseId": r.license_id,
                    "result": if r.status == 200 { "Success" } else { r.code },
                    "selfUri": format!("{BASE}/users/{}", r.user_id),
                })
            })
            .collect::<Vec<_>>(),
    )))
}
