//! Who the portal's page is for: the customer's user its session cookie
//! names; signing in with a password (and the session any sign-in opens)
//! and out.

use std::sync::Arc;

use askama::Template;
use axum::extract::{FromRequestParts, State};
use axum::http::request::Parts;
use axum::http::HeaderMap;

use crate::database;
use crate::error::ApiError;
use crate::state::{App, AppState};
use crate::users::db::UserRow;
use crate::users::sign_in::{self, Password};
use crate::web::session::{self, clear_cookie, Session};
use crate::web::{
    page, see_other, with_cookies, Chrome, Face, Fields, NavItem, PageResult, WebError,
};

/// The signed-in user a page is for.
pub(crate) struct Customer {
    pub(crate) user: UserRow,
    pub(crate) session: Session,
}

impl FromRequestParts<Arc<App>> for Customer {
    type Rejection = WebError;

    async fn from_request_parts(parts: &mut Parts, app: &Arc<App>) -> Result<Self, WebError> {
        let (user, session) = session::signed_in(app, Face::Portal, &parts.headers, |conn, id| {
            crate::users::db::user_by_id(conn, id)
        })
        .await?;
        Ok(Customer { user, session })
    }
}

impl Customer {
    pub(crate) fn chrome(&self, active: &str, notice: Option<&str>) -> Chrome {
        let items = [
            ("/portal/", "My licenses"),
            ("/portal/releases", "Downloads"),
        ];
        Chrome {
            brand: "Licenses",
            home: "/portal/",
            sign_out: "/portal/sign-out",
            who: self.user.username.clone(),
            csrf: self.session.csrf.clone(),
            nav: items
                .into_iter()
                .map(|(href, label)| NavItem {
                    href,
                    label,
                    active: href == active,
                })
                .collect(),
            notice: notice.map(str::to_owned),
        }
    }

    pub(crate) fn actor(&self) -> String {
        format!("user {} (portal)", self.user.username)
    }

    /// The license `id` if it is assigned to this user; 404 otherwise (the
    /// same answer for another customer's license as for none).
    pub(crate) async fn own_license(
        &self,
        app: &Arc<App>,
        id: &str,
    ) -> Result<crate::licenses::db::LicenseRow, WebError> {
        let (user, id) = (self.user.id.clone(), id.to_owned());
        Ok(app
            .with_db(move |_, conn| {
                if !crate::users::db::is_assigned(conn, &user, &id)? {
                    return Err(ApiError::not_found("license_not_found", "no such license"));
                }
                Ok(crate::licenses::db::license_by_id(conn, &id)?)
            })
            .await?)
    }
}

#[derive(Template)]
#[template(path = "portal/sign_in.html")]
pub(crate) struct SignInPage {
    pub(crate) csrf: String,
    pub(crate) error: Option<String>,
    pub(crate) username: String,
}

pub(crate) async fn sign_in_page(State(app): AppState, headers: HeaderMap) -> PageResult {
    let (csrf, cookies) = session::form_token(&app, &headers, Face::Portal)?;
    let body = page(&SignInPage {
        csrf,
        error: None,
        username: String::new(),
    })?;
    Ok(with_cookies(body, &cookies))
}

pub(crate) async fn sign_in(State(app): AppState, headers: HeaderMap, form: Fields) -> PageResult {
    let password = Password::new(form.raw("password"));
    let user = match sign_in::login(&app, form.get("username"), &password).await {
        Ok(u) => u,
        Err(e) => {
            let (csrf, cookies) = session::form_token(&app, &headers, Face::Portal)?;
            let status = e.status;
            let mut body = page(&SignInPage {
                csrf,
                error: Some(match e.status {
                    401 => "The username or the password is wrong.".to_owned(),
                    _ => e.message,
                }),
                username: form.get("username").to_owned(),
            })?;
            *body.status_mut() = axum::http::StatusCode::from_u16(status)
                .unwrap_or(axum::http::StatusCode::UNAUTHORIZED);
            return Ok(with_cookies(body, &cookies));
        }
    };
    let cookie = open_session(&app, &headers, &user).await?;
    Ok(with_cookies(see_other("/portal/"), &[cookie]))
}

/// Signs `user` in to the portal with a new session (whatever session
/// cookie came in is closed: no fixation); the cookie to set.
pub(crate) async fn open_session(
    app: &Arc<App>,
    headers: &HeaderMap,
    user: &UserRow,
) -> Result<String, WebError> {
    session::start(app, Face::Portal, headers, &user.id, false).await
}

pub(crate) async fn sign_out(State(app): AppState, customer: Customer) -> PageResult {
    let hash = customer.session.token_hash.clone();
    app.with_db(move |_, conn| database::write(conn, |tx| Ok(session::close(tx, &hash)?)))
        .await?;
    Ok(with_cookies(
        see_other("/portal/sign-in"),
        &[clear_cookie(Face::Portal.cookie(), Face::Portal, app.tls)],
    ))
}
