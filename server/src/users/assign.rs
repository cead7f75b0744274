//! Assigning licenses to users and allocating users to licenses: one
//! operation the admin API and the seeds' APIs share.

use std::collections::HashMap;
use std::sync::Arc;

use axum::extract::{Path, State};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::body::{invalid, Reply, MAX_BATCH};
use crate::database;
use crate::error::ApiError;
use crate::http::{Answer, JsonBody};
use crate::licenses::db as licenses_db;
use crate::licenses::db::LicenseRow;
use crate::state::{App, AppState};
use crate::store::Db;

/// Seed 001's batch assignment: per license, users to add and to remove.
#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct Assignments {
    assignments: Vec<Assignment>,
}

/// One license's users to add and to remove.
#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct Assignment {
    pub(crate) license_id: String,
    #[serde(default)]
    pub(crate) user_ids_add: Vec<String>,
    #[serde(default)]
    pub(crate) user_ids_remove: Vec<String>,
}

/// Seed 002's allocation: bundle codes (definition codes) for users.
#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct Allocation {
    pub(crate) user_ids: Vec<String>,
    pub(crate) bundle_codes: Vec<String>,
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
        Some(r) => Answer::of(ItemStatus::from(&r)),
        None => Err(ApiError::internal("no result")),
    }
}

pub(crate) async fn assign_user_call(
    State(app): AppState,
    Path((id, user)): Path<(String, String)>,
) -> Reply {
    assign_one_user(&app, id, user, true).await
}

pub(crate) async fn revoke_user_call(
    State(app): AppState,
    Path((id, user)): Path<(String, String)>,
) -> Reply {
    assign_one_user(&app, id, user, false).await
}

pub(crate) async fn assignments_call(
    State(app): AppState,
    JsonBody(a): JsonBody<Assignments>,
) -> Reply {
    let items: usize = a
        .assignments
        .iter()
        .map(|x| x.user_ids_add.len().saturating_add(x.user_ids_remove.len()))
        .fold(0, usize::saturating_add);
    if items > MAX_BATCH {
        return Err(invalid(format!("at most {MAX_BATCH} users per call")));
    }
    let results = assign(&app, a.assignments).await?;
    Answer::of(AssignmentResults {
        results: results.iter().map(ItemStatus::from).collect(),
    })
}

pub(crate) async fn allocate_call(
    State(app): AppState,
    Path(account): Path<String>,
    JsonBody(a): JsonBody<Allocation>,
) -> Reply {
    let allocated = allocate(&app, &account, a).await?;
    Answer::of(
        allocated
            .into_iter()
            .map(|(user_id, bundle_codes)| Allocated {
                user_id,
                account: account.clone(),
                bundle_codes,
            })
            .collect::<Vec<_>>(),
    )
}

/// A user's bundles allocated in an account.
#[derive(Serialize, JsonSchema)]
#[schemars(deny_unknown_fields)]
pub(crate) struct Allocated {
    user_id: String,
    account: String,
    bundle_codes: Vec<String>,
}

/// Each item's status of a batch assignment.
#[derive(Serialize, JsonSchema)]
#[schemars(deny_unknown_fields)]
pub(crate) struct AssignmentResults {
    results: Vec<ItemStatus>,
}

/// Whether a user was added to a license or removed.
#[derive(Serialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub(crate) enum Action {
    Add,
    Remove,
}

/// How one (license, user, action) of an assignment ended, as answered.
#[derive(Serialize, JsonSchema)]
#[schemars(deny_unknown_fields)]
pub(crate) struct ItemStatus {
    license_id: String,
    user_id: String,
    action: Action,
    /// The status the item would have alone (200 when done).
    status: u16,
    #[schemars(extend("enum" = ["assigned", "unchanged", "revoked", "not_assigned", "no_units_left", "user_not_found", "license_not_found"]))]
    code: &'static str,
    message: String,
}

impl From<&ItemResult> for ItemStatus {
    fn from(r: &ItemResult) -> ItemStatus {
        ItemStatus {
            license_id: r.license_id.clone(),
            user_id: r.user_id.clone(),
            action: if r.add { Action::Add } else { Action::Remove },
            status: r.status,
            code: r.code,
            message: r.message.clone(),
        }
    }
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

/// One status per (license, user, action); each item stands alone. The
/// admin API's assignments and Salesforce's `UserPackageLicense`
/// (`compat/salesforce.rs`) both come here.
pub(crate) async fn assign(
    app: &Arc<App>,
    items: Vec<Assignment>,
) -> Result<Vec<ItemResult>, ApiError> {
    app.with_db(move |_, conn| {
        database::write(conn, |tx| {
            let mut results = Vec::new();
            for item in &items {
                let row = licenses_db::license_by_id(tx, &item.license_id).ok();
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
    if super::db::user_by_id(tx, user)?.is_none() {
        return Ok((404, "user_not_found", "no such user".into()));
    }
    if !add {
        return Ok(if super::db::revoke(tx, user, &row.id)? {
            (200, "revoked", "the license was revoked".into())
        } else {
            (
                404,
                "not_assigned",
                "the user does not hold the license".into(),
            )
        });
    }
    if super::db::is_assigned(tx, user, &row.id)? {
        return Ok((
            200,
            "unchanged",
            "the user holds the license already".into(),
        ));
    }
    if super::db::assigned_count(tx, &row.id)? >= row.max_users {
        return Ok((
            409,
            "no_units_left",
            format!("all {} users of the license are assigned", row.max_users),
        ));
    }
    super::db::assign(tx, user, &row.id)?;
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
        database::write(conn, |tx| {
            for user in &a.user_ids {
                if super::db::user_by_id(tx, user)?.is_none() {
                    return Err(ApiError::not_found("user_not_found", format!("no user `{user}`")));
                }
            }
            let mut allocated: HashMap<&str, Vec<String>> = HashMap::new();
            for code in &a.bundle_codes {
                let licenses = licenses_db::licenses_of_account(tx, &account, code)?;
                if licenses.is_empty() {
                    return Err(ApiError::not_found(
                        "bundle_not_found",
                        format!("the account has no license for bundle `{code}`"),
                    ));
                }
                for user in &a.user_ids {
                    if licenses
                        .iter()
                        .map(|l| super::db::is_assigned(tx, user, &l.id))
                        .collect::<Result<Vec<_>, _>>()?
                        .contains(&true)
                    {
                        allocated.entry(user).or_default().push(code.clone());
                        continue;
                    }
                    let mut free = None;
                    for l in &licenses {
                        if super::db::assigned_count(tx, &l.id)? < l.max_users {
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
                    super::db::assign(tx, user, &l.id)?;
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
