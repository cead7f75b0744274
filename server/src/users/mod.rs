//! Users of user-based licenses: the admin API's user handlers, and the
//! client's list of a user's licenses.

pub(crate) mod assign;
pub(crate) mod db;
pub(crate) mod sign_in;

use std::sync::Arc;

use axum::extract::{Path, Query, State};
use axum::Extension;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use tessera::protocol::bodies::{UserLicenseAnswer, UserLicensesRequest};

use crate::activations::db as activations_db;
use crate::body::{self, invalid, Reply, MAX_BATCH};
use crate::database;
use crate::device_call::{random_id, same_product};
use crate::error::ApiError;
use crate::http::{Answer, Authenticated, JsonBody, Product};
use crate::licenses::db as licenses_db;
use crate::seats::db as seats_db;
use crate::state::{App, AppState};
use crate::store::Db;
use crate::users::db::UserRow;
use crate::users::sign_in::{Password, User};

pub(crate) async fn user_licenses_call(
    State(app): AppState,
    Extension(Product(product)): Authenticated,
    JsonBody(r): JsonBody<UserLicensesRequest>,
) -> Result<Answer, ApiError> {
    same_product(&product, &r.product)?;
    Answer::of(user_licenses(&app, r).await?)
}

/// The user's licenses for the product (seed 003), each as its license
/// object with the counts and the user.
async fn user_licenses(
    app: &Arc<App>,
    r: UserLicensesRequest,
) -> Result<Vec<UserLicenseAnswer>, ApiError> {
    let user = sign_in::login(app, &r.username, &r.password).await?;
    let product = r.product;
    app.with_db(move |app, conn| {
        let now = app.now().timestamp();
        let mut list = Vec::new();
        for row in db::licenses_of_user(conn, &user.id, &product)? {
            let parsed = app.license_of(&row)?;
            let mut license = parsed.0.as_object().cloned().unwrap_or_default();
            // A user's license is activated by id; its key stays private.
            license.remove("license_key");
            let mut item = UserLicenseAnswer::new(
                license,
                activations_db::activation_count(conn, &row.id)?,
                row.transfer_count,
                row.enabled,
                sign_in::public(&user),
            );
            if parsed.1.floats() {
                item.floating_in_use_devices = Some(seats_db::seats_held(conn, &row.id, now)?);
            }
            list.push(item);
        }
        Ok(list)
    })
    .await
}

/// A user to create (`POST /users`).
#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct NewUser {
    username: String,
    password: Password,
    #[serde(default)]
    email: Option<String>,
    #[serde(default)]
    first_name: String,
    #[serde(default)]
    last_name: String,
}

/// Users to look up (`POST /users/batch`).
#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct UserIds {
    user_ids: Vec<String>,
}

/// A page of users, with how many there are.
#[derive(Serialize, JsonSchema)]
#[schemars(deny_unknown_fields)]
pub(crate) struct UsersPage {
    entities: Vec<User>,
    page_number: u64,
    page_size: u64,
    total: u64,
    page_count: u64,
}

/// The users found of those asked for, and the ids of the others.
#[derive(Serialize, JsonSchema)]
#[schemars(deny_unknown_fields)]
pub(crate) struct UsersFound {
    entities: Vec<User>,
    not_found: Vec<String>,
}

/// A user whose failed sign-ins are forgotten.
#[derive(Serialize, JsonSchema)]
#[schemars(deny_unknown_fields)]
pub(crate) struct Unlocked {
    id: String,
    unlocked: bool,
}

pub(crate) async fn license_users_call(State(app): AppState, Path(id): Path<String>) -> Reply {
    let users = app
        .with_db(move |_, conn| {
            licenses_db::license_by_id(conn, &id)?;
            let users = db::users_of_license(conn, &id)?;
            Ok(users.iter().map(sign_in::public).collect::<Vec<_>>())
        })
        .await?;
    Answer::of(users)
}

pub(crate) async fn new_user_call(State(app): AppState, JsonBody(u): JsonBody<NewUser>) -> Reply {
    Answer::of(new_user(&app, u).await?)
}

/// `GET /users?page_number=&page_size=`.
#[derive(Deserialize, JsonSchema)]
pub(crate) struct Paging {
    /// From 1.
    #[schemars(with = "Option<u64>", range(min = 1), extend("default" = 1))]
    page_number: Option<String>,
    /// At most 500 rows are served; a larger size is served as 500.
    #[schemars(with = "Option<u64>", range(min = 1), extend("default" = 25))]
    page_size: Option<String>,
}

pub(crate) async fn users_call(State(app): AppState, Query(q): Query<Paging>) -> Reply {
    let page_number = body::page_number("page_number", q.page_number.as_deref(), 1)?;
    let page_size = body::page_number("page_size", q.page_size.as_deref(), 25)?.min(500);
    let page = app
        .with_db(move |_, conn| {
            let offset = (page_number - 1).saturating_mul(page_size);
            let (rows, total) = db::users_page(conn, offset, page_size)?;
            let entities = rows
                .iter()
                .map(|u| user_with_licenses(conn, u))
                .collect::<Result<Vec<_>, _>>()?;
            Ok(UsersPage {
                entities,
                page_number,
                page_size,
                total,
                page_count: total.div_ceil(page_size),
            })
        })
        .await?;
    Answer::of(page)
}

pub(crate) async fn user_call(State(app): AppState, Path(id): Path<String>) -> Reply {
    let user = app
        .with_db(move |_, conn| {
            let u = db::user_by_id(conn, &id)?
                .ok_or_else(|| ApiError::not_found("user_not_found", "no such user"))?;
            user_with_licenses(conn, &u)
        })
        .await?;
    Answer::of(user)
}
/// `POST /users/{id}/unlock`: forgets the user's failed sign-ins from
/// every address (support's way back for a user whom guesses from many
/// addresses locked out; SECURITY.md).
pub(crate) async fn unlock_user_call(State(app): AppState, Path(id): Path<String>) -> Reply {
    let unlocked = app
        .with_db(move |_, conn| {
            database::write(conn, |tx| {
                let u = db::user_by_id(tx, &id)?
                    .ok_or_else(|| ApiError::not_found("user_not_found", "no such user"))?;
                sign_in::unlock(tx, &u.username)?;
                Ok(Unlocked {
                    id: u.id,
                    unlocked: true,
                })
            })
        })
        .await?;
    Answer::of(unlocked)
}

pub(crate) async fn users_batch_call(
    State(app): AppState,
    JsonBody(ids): JsonBody<UserIds>,
) -> Reply {
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
            Ok(UsersFound {
                entities,
                not_found: missing,
            })
        })
        .await?;
    Answer::of(found)
}

async fn new_user(app: &Arc<App>, mut u: NewUser) -> Result<User, ApiError> {
    u.username = sign_in::normalize_username(&u.username).ok_or_else(|| {
        invalid("username must be 1 to 254 bytes without control or invisible characters")
    })?;
    if u.password.expose().chars().count() < sign_in::MIN_PASSWORD {
        return Err(invalid(format!(
            "the password must be at least {} characters",
            sign_in::MIN_PASSWORD
        )));
    }
    let password = u.password.clone();
    let hash = tokio::task::spawn_blocking(move || sign_in::hash(password.expose()))
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
    let answer = sign_in::public(&row);
    app.with_db(move |app, conn| {
        let now = app.now().timestamp();
        database::write(conn, |tx| db::insert_user(tx, &row, now)).map_err(ApiError::from)
    })
    .await?;
    Ok(answer)
}

fn user_with_licenses(conn: &Db<'_>, u: &UserRow) -> Result<User, ApiError> {
    let mut v = sign_in::public(u);
    v.licenses = Some(db::license_ids_of_user(conn, &u.id)?);
    Ok(v)
}
