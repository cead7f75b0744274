//! Signing in and out of the console, the first owner, a staff member's
//! own account (password, second factor) and, for owners, the staff.

use std::sync::Arc;

use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::HeaderMap;
use axum::response::Response;
use serde::Deserialize;

use super::signed_in::{notice, Staff};
use super::staff::{self, normalize_email, Role, StaffRow};
use crate::database;
use crate::error::ApiError;
use crate::rate_limit::Limit;
use crate::state::{App, AppState};
use crate::users::sign_in::{self, Password};
use crate::web::session::{self, clear_cookie, set_cookie};
use crate::web::Chrome;
use crate::web::{page, see_other, with_cookies, Face, Fields, PageResult, WebError};

/// The shortest password a staff member may have.
pub(crate) const MIN_STAFF_PASSWORD: usize = 10;

/// Wrong second-factor codes per staff member: 5 in 15 minutes, then the
/// code is refused until the oldest ages out.
const SECOND_FACTOR: Limit = Limit {
    kind: "second-factor",
    limit: 5,
    window: 15 * 60,
};

/// Wrong admin tokens on the first-run page, per address.
const SETUP: Limit = Limit {
    kind: "console-setup",
    limit: 5,
    window: 15 * 60,
};

#[derive(Template)]
#[template(path = "console/sign_in.html")]
struct SignInPage {
    csrf: String,
    error: Option<String>,
    email: String,
}

#[derive(Template)]
#[template(path = "console/code.html")]
struct CodePage {
    csrf: String,
    error: Option<String>,
}

#[derive(Template)]
#[template(path = "console/setup.html")]
struct SetupPage {
    csrf: String,
    error: Option<String>,
}

#[derive(Template)]
#[template(path = "console/account.html")]
struct AccountPage {
    chrome: Chrome,
    me: StaffRow,
    /// A fresh secret to turn the second factor on with, and its address
    /// for an authenticator app.
    new_secret: String,
    new_secret_uri: String,
    min_password: usize,
}

#[derive(Template)]
#[template(path = "console/staff.html")]
struct StaffPage {
    chrome: Chrome,
    staff: Vec<StaffRow>,
    me: String,
    roles: [Role; 4],
    min_password: usize,
}

async fn no_staff_yet(app: &Arc<App>) -> Result<bool, WebError> {
    Ok(app.with_db(|_, conn| Ok(staff::count(conn)? == 0)).await?)
}

#[derive(Deserialize)]
pub(crate) struct Done {
    done: Option<String>,
}

pub(crate) async fn sign_in_page(State(app): AppState, headers: HeaderMap) -> PageResult {
    if no_staff_yet(&app).await? {
        return Ok(see_other("/console/setup"));
    }
    let (csrf, cookies) = session::form_token(&app, &headers, Face::Console)?;
    let body = page(&SignInPage {
        csrf,
        error: None,
        email: String::new(),
    })?;
    Ok(with_cookies(body, &cookies))
}

/// The throttle's key of a staff member: a newline first, which no user's
/// name holds, so staff and users never share a count.
fn throttle_key(email: &str) -> String {
    format!("\nstaff:{email}")
}

pub(crate) async fn sign_in(State(app): AppState, headers: HeaderMap, form: Fields) -> PageResult {
    let email = normalize_email(form.get("email")).unwrap_or_default();
    let password = Password::new(form.raw("password"));
    let looked_up = email.clone();
    let checked = sign_in::guarded(&app, &throttle_key(&email), &password, move |conn| {
        Ok(staff::with_hash(conn, &looked_up)?)
    })
    .await;
    let who = match checked {
        Ok(who) => who,
        Err(e) => {
            let (csrf, cookies) = session::form_token(&app, &headers, Face::Console)?;
            let status = e.status;
            let mut body = page(&SignInPage {
                csrf,
                error: Some(match e.status {
                    401 => "The e-mail or the password is wrong.".to_owned(),
                    _ => e.message,
                }),
                email: form.get("email").to_owned(),
            })?;
            *body.status_mut() = axum::http::StatusCode::from_u16(status)
                .unwrap_or(axum::http::StatusCode::UNAUTHORIZED);
            return Ok(with_cookies(body, &cookies));
        }
    };
    start_session(&app, &headers, &who, who.has_second_factor).await
}

/// Signs `who` in with a new session (whatever cookie came in is closed
/// and replaced: no fixation), or a half one when a code is still due.
async fn start_session(
    app: &Arc<App>,
    headers: &HeaderMap,
    who: &StaffRow,
    second_factor_due: bool,
) -> PageResult {
    let cookie = session::start(app, Face::Console, headers, &who.id, second_factor_due).await?;
    let to = if second_factor_due {
        "/console/sign-in/code"
    } else {
        "/console/"
    };
    Ok(with_cookies(see_other(to), &[cookie]))
}

/// The half session of a staff member whose code is due.
async fn half_session(app: &Arc<App>, headers: &HeaderMap) -> Result<session::Session, WebError> {
    let (headers, now) = (headers.clone(), app.now().timestamp());
    app.with_db(move |_, conn| Ok(session::find(conn, Face::Console, &headers, now)?))
        .await?
        .filter(|s| s.second_factor_due)
        .ok_or(WebError::SignIn(Face::Console))
}

pub(crate) async fn code_page(State(app): AppState, headers: HeaderMap) -> PageResult {
    let half = half_session(&app, &headers).await?;
    page(&CodePage {
        csrf: half.csrf,
        error: None,
    })
}

pub(crate) async fn code(State(app): AppState, headers: HeaderMap, form: Fields) -> PageResult {
    let half = half_session(&app, &headers).await?;
    let now = app.now().timestamp();
    let (id, code) = (half.subject.clone(), form.get("code").to_owned());
    let key = format!("\nstaff-id:{id}");
    let outcome = app
        .with_db(move |_, conn| {
            database::write(conn, |tx| {
                if let Some(wait) = SECOND_FACTOR.wait(tx, &key, now)? {
                    return Ok(Err(format!("Too many wrong codes; try again in {wait} s.")));
                }
                let Some((secret, last)) = staff::second_factor(tx, &id)? else {
                    return Ok(Err("The second factor is not set.".to_owned()));
                };
                match crate::web::totp::check(&secret, &code, now, last) {
                    Some(step) if staff::use_step(tx, &id, step)? => {
                        SECOND_FACTOR.forget(tx, &key)?;
                        Ok(Ok(()))
                    }
                    _ => {
                        SECOND_FACTOR.record(tx, &key, now)?;
                        Ok(Err("That code is wrong or was used already.".to_owned()))
                    }
                }
            })
        })
        .await?;
    if let Err(message) = outcome {
        let mut body = page(&CodePage {
            csrf: half.csrf,
            error: Some(message),
        })?;
        *body.status_mut() = axum::http::StatusCode::UNAUTHORIZED;
        return Ok(body);
    }
    let id = half.subject.clone();
    let who = app
        .with_db(move |_, conn| Ok(staff::by_id(conn, &id)?))
        .await?
        .ok_or(WebError::SignIn(Face::Console))?;
    start_session(&app, &headers, &who, false).await
}

pub(crate) async fn setup_page(State(app): AppState, headers: HeaderMap) -> PageResult {
    if !no_staff_yet(&app).await? {
        return Ok(see_other("/console/sign-in"));
    }
    let (csrf, cookies) = session::form_token(&app, &headers, Face::Console)?;
    let body = page(&SetupPage { csrf, error: None })?;
    Ok(with_cookies(body, &cookies))
}

/// The first owner, made with the admin token (once: the page is gone as
/// soon as there is a staff member).
pub(crate) async fn setup(State(app): AppState, headers: HeaderMap, form: Fields) -> PageResult {
    let peer = sign_in::PEER.try_with(|p| *p).ok().flatten();
    let address = peer.map(|p| p.to_string()).unwrap_or_default();
    let now = app.now().timestamp();
    let fail = |message: String| -> PageResult {
        let (csrf, cookies) = session::form_token(&app, &headers, Face::Console)?;
        let mut body = page(&SetupPage {
            csrf,
            error: Some(message),
        })?;
        *body.status_mut() = axum::http::StatusCode::BAD_REQUEST;
        Ok(with_cookies(body, &cookies))
    };
    let key = address.clone();
    let wait = app
        .with_db(move |_, conn| Ok(SETUP.wait(conn, &key, now)?))
        .await?;
    if let Some(wait) = wait {
        return fail(format!(
            "Too many wrong admin tokens; try again in {wait} s."
        ));
    }
    let token = form.raw("admin_token");
    if !session::same(token, &app.admin_token) {
        let key = address.clone();
        app.with_db(move |_, conn| Ok(SETUP.record(conn, &key, now)?))
            .await?;
        return fail("That is not the server's admin token.".into());
    }
    let new = match new_staff_fields(&form, Some(Role::Owner)) {
        Ok(n) => n,
        Err(WebError::Refused(_, m)) => return fail(m),
        Err(e) => return Err(e),
    };
    let hash = hash_password(new.password).await?;
    let (email, name) = (new.email.clone(), new.name.to_owned());
    let actor = format!("admin token from {address} (first owner)");
    let made = crate::audit::request::audited(
        &app,
        actor,
        "POST /console/setup".into(),
        app.with_db(move |_, conn| {
            database::write(conn, |tx| {
                if staff::count(tx)? > 0 {
                    return Err(ApiError::conflict(
                        "staff_exists",
                        "the console has its first owner already: sign in",
                    ));
                }
                staff::insert(tx, &email, &name, Role::Owner, &hash, now)
            })
        }),
        |r| r.as_ref().map_or_else(|e| e.status, |_| 200),
    )
    .await;
    match made {
        Ok(_) => Ok(see_other("/console/sign-in")),
        Err(e) => fail(e.message),
    }
}

/// A staff member to add, from a form.
struct NewStaff<'a> {
    email: String,
    name: &'a str,
    role: Role,
    password: String,
}

fn new_staff_fields(form: &Fields, role: Option<Role>) -> Result<NewStaff<'_>, WebError> {
    let email = normalize_email(form.get("email"))
        .ok_or_else(|| WebError::Refused(400, "the e-mail is not an address".into()))?;
    let name = form.required("name", "the name")?;
    let role = match role {
        Some(r) => r,
        None => Role::parse(form.get("role"))
            .ok_or_else(|| WebError::Refused(400, "choose a role".into()))?,
    };
    let password = form.raw("password");
    if password.chars().count() < MIN_STAFF_PASSWORD || password.len() > 1000 {
        return Err(WebError::Refused(
            400,
            format!("the password needs at least {MIN_STAFF_PASSWORD} characters"),
        ));
    }
    Ok(NewStaff {
        email,
        name,
        role,
        password: password.to_owned(),
    })
}

async fn hash_password(password: String) -> Result<String, WebError> {
    Ok(
        tokio::task::spawn_blocking(move || sign_in::hash(&password))
            .await
            .map_err(|_| ApiError::internal("the request was cancelled"))??,
    )
}

pub(crate) async fn sign_out(State(app): AppState, staff: Staff) -> PageResult {
    let hash = staff.session.token_hash.clone();
    app.with_db(move |_, conn| database::write(conn, |tx| Ok(session::close(tx, &hash)?)))
        .await?;
    Ok(signed_out(&app))
}

pub(crate) async fn sign_out_everywhere(State(app): AppState, staff: Staff) -> PageResult {
    let id = staff.row.id.clone();
    app.with_db(move |_, conn| {
        database::write(conn, |tx| Ok(session::close_all(tx, Face::Console, &id)?))
    })
    .await?;
    Ok(signed_out(&app))
}

fn signed_out(app: &App) -> Response {
    with_cookies(
        see_other("/console/sign-in"),
        &[clear_cookie(Face::Console.cookie(), Face::Console, app.tls)],
    )
}

pub(crate) async fn account_page(
    State(_app): AppState,
    staff: Staff,
    Query(q): Query<Done>,
) -> PageResult {
    let new_secret = crate::web::totp::new_secret()?;
    page(&AccountPage {
        chrome: staff.chrome("/console/account", notice(q.done.as_deref())),
        new_secret_uri: crate::web::totp::uri(&new_secret, &staff.row.email),
        new_secret,
        me: staff.row,
        min_password: MIN_STAFF_PASSWORD,
    })
}

pub(crate) async fn change_password(
    State(app): AppState,
    staff: Staff,
    form: Fields,
) -> PageResult {
    let current = Password::new(form.raw("current"));
    let email = staff.row.email.clone();
    sign_in::guarded(&app, &throttle_key(&email), &current, move |conn| {
        Ok(staff::with_hash(conn, &email)?)
    })
    .await
    .map_err(|_| WebError::Refused(403, "the current password is wrong".into()))?;
    let new = form.raw("new");
    if new.chars().count() < MIN_STAFF_PASSWORD || new.len() > 1000 {
        return Err(WebError::Refused(
            400,
            format!("the new password needs at least {MIN_STAFF_PASSWORD} characters"),
        ));
    }
    let hash = hash_password(new.to_owned()).await?;
    let id = staff.row.id.clone();
    let now = app.now().timestamp();
    let token = staff
        .audited(&app, "POST /console/account/password".into(), async {
            Ok(app
                .with_db(move |_, conn| {
                    database::write(conn, |tx| {
                        staff::set_password(tx, &id, &hash)?;
                        // Every other session ends; this one goes on under
                        // a new token.
                        session::close_all(tx, Face::Console, &id)?;
                        session::open(tx, Face::Console, &id, false, now)
                    })
                })
                .await?
                .0)
        })
        .await?;
    Ok(with_cookies(
        see_other("/console/account?done=password"),
        &[set_cookie(
            Face::Console.cookie(),
            Face::Console,
            &token,
            app.tls,
        )],
    ))
}

pub(crate) async fn second_factor(State(app): AppState, staff: Staff, form: Fields) -> PageResult {
    let now = app.now().timestamp();
    let id = staff.row.id.clone();
    let code = form.get("code").to_owned();
    let turning_on = form.get("turn") == "on";
    let secret = form.get("secret").to_owned();
    if turning_on && crate::web::totp::unbase32(&secret).is_none_or(|k| k.len() < 16) {
        return Err(WebError::Refused(
            400,
            "the secret is not one this page made".into(),
        ));
    }
    let done = staff
        .audited(&app, "POST /console/account/second-factor".into(), async {
            Ok(app
                .with_db(move |_, conn| {
                    database::write(conn, |tx| {
                        let (check_secret, last) = if turning_on {
                            (secret.clone(), 0)
                        } else {
                            staff::second_factor(tx, &id)?.ok_or_else(|| {
                                ApiError::conflict(
                                    "no_second_factor",
                                    "the second factor is off already",
                                )
                            })?
                        };
                        let Some(step) = crate::web::totp::check(&check_secret, &code, now, last)
                        else {
                            return Err(ApiError::new(
                                403,
                                "wrong_code",
                                "that code is wrong: use the one your authenticator app shows now",
                            ));
                        };
                        if turning_on {
                            staff::set_second_factor(tx, &id, Some(&secret), step)?;
                        } else {
                            staff::set_second_factor(tx, &id, None, 0)?;
                        }
                        Ok(turning_on)
                    })
                })
                .await?)
        })
        .await?;
    Ok(see_other(if done {
        "/console/account?done=second-factor-on"
    } else {
        "/console/account?done=second-factor-off"
    }))
}

pub(crate) async fn staff_page(
    State(app): AppState,
    staff: Staff,
    Query(q): Query<Done>,
) -> PageResult {
    staff.require(Role::Owner)?;
    let all = app.with_db(|_, conn| Ok(staff::all(conn)?)).await?;
    page(&StaffPage {
        chrome: staff.chrome("/console/staff", notice(q.done.as_deref())),
        staff: all,
        me: staff.row.id.clone(),
        roles: Role::ALL,
        min_password: MIN_STAFF_PASSWORD,
    })
}

pub(crate) async fn add_staff(State(app): AppState, staff: Staff, form: Fields) -> PageResult {
    staff.require(Role::Owner)?;
    let new = new_staff_fields(&form, None)?;
    let hash = hash_password(new.password).await?;
    let (email, name, role) = (new.email, new.name.to_owned(), new.role);
    let now = app.now().timestamp();
    staff
        .audited(&app, "POST /console/staff".into(), async {
            Ok(app
                .with_db(move |_, conn| {
                    database::write(conn, |tx| {
                        staff::insert(tx, &email, &name, role, &hash, now)
                    })
                })
                .await?)
        })
        .await?;
    Ok(see_other("/console/staff?done=staff"))
}

pub(crate) async fn set_role(
    State(app): AppState,
    staff: Staff,
    Path(id): Path<String>,
    form: Fields,
) -> PageResult {
    staff.require(Role::Owner)?;
    let role = Role::parse(form.get("role"))
        .ok_or_else(|| WebError::Refused(400, "choose a role".into()))?;
    staff
        .audited(&app, format!("POST /console/staff/{id}/role"), async {
            Ok(app
                .with_db(move |_, conn| {
                    database::write(conn, |tx| {
                        let who = staff::by_id(tx, &id)?.ok_or_else(|| {
                            ApiError::not_found("staff_not_found", "no such staff member")
                        })?;
                        if who.role == Role::Owner && role != Role::Owner && staff::owners(tx)? <= 1
                        {
                            return Err(ApiError::conflict(
                                "last_owner",
                                "this is the last owner: make another owner first",
                            ));
                        }
                        staff::set_role(tx, &id, role)?;
                        // Sessions end with the role they were opened under.
                        session::close_all(tx, Face::Console, &id)?;
                        Ok(())
                    })
                })
                .await?)
        })
        .await?;
    Ok(see_other("/console/staff?done=staff"))
}

pub(crate) async fn remove_staff(
    State(app): AppState,
    staff: Staff,
    Path(id): Path<String>,
) -> PageResult {
    staff.require(Role::Owner)?;
    if id == staff.row.id {
        return Err(WebError::Refused(
            409,
            "you cannot remove yourself: another owner can".into(),
        ));
    }
    staff
        .audited(&app, format!("POST /console/staff/{id}/remove"), async {
            Ok(app
                .with_db(move |_, conn| {
                    database::write(conn, |tx| {
                        if staff::remove(tx, &id)? == 0 {
                            return Err(ApiError::not_found(
                                "staff_not_found",
                                "no such staff member",
                            ));
                        }
                        session::close_all(tx, Face::Console, &id)?;
                        Ok(())
                    })
                })
                .await?)
        })
        .await?;
    Ok(see_other("/console/staff?done=staff"))
}

/// `tessera-server --config FILE create-owner EMAIL NAME`: the first owner
/// (or another one) from the command line, the password read from
/// standard input. No audit request: the shell is the vendor's own.
pub(crate) async fn create_owner(
    app: &Arc<App>,
    email: &str,
    name: &str,
    password: &str,
) -> Result<(), String> {
    let email = normalize_email(email).ok_or("the e-mail is not an address")?;
    if name.trim().is_empty() {
        return Err("the name is empty".into());
    }
    if password.chars().count() < MIN_STAFF_PASSWORD {
        return Err(format!(
            "the password needs at least {MIN_STAFF_PASSWORD} characters"
        ));
    }
    let hash = sign_in::hash(password).map_err(|e| e.message)?;
    let name = name.trim().to_owned();
    let now = app.now().timestamp();
    app.with_db(move |_, conn| {
        database::write(conn, |tx| {
            staff::insert(tx, &email, &name, Role::Owner, &hash, now)
        })
    })
    .await
    .map(|_| ())
    .map_err(|e| e.message)
}
