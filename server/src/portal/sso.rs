//! Signing in to the portal through the customer account's own identity
//! provider (the single sign-on seed 003 configures, docs/SIGN-IN.md):
//! the user's e-mail domain finds the account, the browser goes to the
//! provider's authorization endpoint with PKCE (S256) and a random state,
//! and comes back with a code that the server exchanges for an ID token,
//! verified as every other sign-in's (crate::sso::oidc). The state and
//! the PKCE verifier ride in a short-lived cookie (`HttpOnly`,
//! `SameSite=Lax`, so that the provider's redirect back carries it; ten
//! minutes; the callback's path only) and are checked in constant time.

use axum::extract::{Query, State};
use axum::http::HeaderMap;
use base64::Engine as _;
use serde::Deserialize;
use sha2::{Digest, Sha256};

use super::session::{open_session, SignInPage};
use crate::sso::db as sso_db;
use crate::sso::oidc;
use crate::state::{App, AppState};
use crate::web::session::{cookie, random_token, same};
use crate::web::{page, see_other, with_cookies, Fields, PageResult, WebError};

/// The cookie that carries the state, the verifier and the account.
const COOKIE: &str = "tessera_portal_sso";
const CALLBACK: &str = "/portal/sso/callback";

/// Where the provider sends the browser back: this server, as the
/// browser named it.
fn redirect_uri(app: &App, headers: &HeaderMap) -> Result<String, WebError> {
    let host = headers
        .get(axum::http::header::HOST)
        .and_then(|h| h.to_str().ok())
        .filter(|h| {
            !h.is_empty()
                && h.len() <= 255
                && h.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b".-:[]".contains(&b))
        })
        .ok_or_else(|| WebError::Refused(400, "the request names no host".into()))?;
    let scheme = if app.tls { "https" } else { "http" };
    Ok(format!("{scheme}://{host}{CALLBACK}"))
}

fn sso_cookie(value: &str, max_age: u32, secure: bool) -> String {
    format!(
        "{COOKIE}={value}; Path={CALLBACK}; HttpOnly; SameSite=Lax; Max-Age={max_age}{}",
        if secure { "; Secure" } else { "" }
    )
}

/// The sign-in page again, with `message`.
fn again(app: &App, headers: &HeaderMap, status: u16, message: &str) -> PageResult {
    let (csrf, cookies) = crate::web::session::form_token(app, headers, crate::web::Face::Portal)?;
    let mut body = page(&SignInPage {
        csrf,
        error: Some(message.to_owned()),
        username: String::new(),
    })?;
    *body.status_mut() =
        axum::http::StatusCode::from_u16(status).unwrap_or(axum::http::StatusCode::UNAUTHORIZED);
    Ok(with_cookies(body, &cookies))
}

/// `POST /portal/sso`: the e-mail's domain names the account; off to its
/// provider.
pub(crate) async fn start(State(app): AppState, headers: HeaderMap, form: Fields) -> PageResult {
    let email = form.get("email").to_lowercase();
    let Some((_, domain)) = email
        .rsplit_once('@')
        .filter(|(l, d)| !l.is_empty() && !d.is_empty())
    else {
        return again(&app, &headers, 400, "Type your work e-mail address.");
    };
    let domain = domain.to_owned();
    let row = app
        .with_db(move |_, conn| Ok(sso_db::sso_by_domain(conn, &domain)?))
        .await?
        .filter(|r| !r.desktop.authorization_endpoint.is_empty() && !r.token_endpoint.is_empty());
    let Some(row) = row else {
        return again(
            &app,
            &headers,
            404,
            "Your company does not sign you in here: use the password your vendor gave you.",
        );
    };
    let (state, verifier) = (random_token()?, random_token()?);
    let challenge = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .encode(Sha256::digest(verifier.as_bytes()));
    let client_id = if row.desktop.client_id.is_empty() {
        &row.client_id
    } else {
        &row.desktop.client_id
    };
    let scopes = if row.desktop.scopes.is_empty() {
        "openid email"
    } else {
        &row.desktop.scopes
    };
    let redirect = redirect_uri(&app, &headers)?;
    let enc = crate::web::encode;
    let url = format!(
        "{}{}response_type=code&client_id={}&redirect_uri={}&scope={}&state={}&code_challenge={challenge}&code_challenge_method=S256&login_hint={}",
        row.desktop.authorization_endpoint,
        if row.desktop.authorization_endpoint.contains('?') { '&' } else { '?' },
        enc(client_id),
        enc(&redirect),
        enc(scopes),
        enc(&state),
        enc(&email),
    );
    let value = format!("{state}.{verifier}.{}", enc(&row.account));
    // A page that goes on to the provider (a refresh, and a link), not a
    // redirect: the pages' CSP sends forms to this server only
    // (`form-action 'self'`), and browsers hold a form's redirects to it.
    let body = page(&GoPage { url })?;
    Ok(with_cookies(body, &[sso_cookie(&value, 600, app.tls)]))
}

/// The page between the form and the provider.
#[derive(askama::Template)]
#[template(path = "portal/sso_go.html")]
struct GoPage {
    url: String,
}

#[derive(Deserialize)]
pub(crate) struct Callback {
    #[serde(default)]
    code: String,
    #[serde(default)]
    state: String,
    #[serde(default)]
    error: String,
}

/// `GET /portal/sso/callback`: the provider's answer.
pub(crate) async fn callback(
    State(app): AppState,
    headers: HeaderMap,
    Query(q): Query<Callback>,
) -> PageResult {
    let cleared = sso_cookie("", 0, app.tls);
    let fail = |status: u16, message: &str| -> PageResult {
        Ok(with_cookies(
            again(&app, &headers, status, message)?,
            std::slice::from_ref(&cleared),
        ))
    };
    let Some(kept) = cookie(&headers, COOKIE) else {
        return fail(
            401,
            "The sign-in took too long or started elsewhere: start it again.",
        );
    };
    let mut parts = kept.splitn(3, '.');
    let (Some(state), Some(verifier), Some(account)) = (parts.next(), parts.next(), parts.next())
    else {
        return fail(
            401,
            "The sign-in took too long or started elsewhere: start it again.",
        );
    };
    if !same(state, &q.state) {
        return fail(
            401,
            "The sign-in took too long or started elsewhere: start it again.",
        );
    }
    if !q.error.is_empty() || q.code.is_empty() {
        return fail(401, "Your company's sign-in did not let you in.");
    }
    let account: String = url::form_urlencoded::parse(format!("a={account}").as_bytes())
        .next()
        .map(|(_, v)| v.into_owned())
        .unwrap_or_default();
    let Some(row) = app
        .with_db(move |_, conn| Ok(sso_db::sso(conn, &account)?))
        .await?
    else {
        return fail(401, "Your company's sign-in is no longer set up here.");
    };
    // The client the authorization was for (the native app's when the
    // account names one), whose audience the token carries.
    let mut audience = row.clone();
    if !row.desktop.client_id.is_empty() {
        audience.client_id = row.desktop.client_id.clone();
    }
    let redirect = redirect_uri(&app, &headers)?;
    let signed_in = async {
        let token =
            oidc::exchange_pkce(&row, &audience.client_id, &q.code, verifier, &redirect).await?;
        let name = oidc::verify(&audience, &token, app.now().timestamp()).await?;
        crate::sso::desktop::user_named(&app, &name).await
    }
    .await;
    let user = match signed_in {
        Ok(u) => u,
        Err(e) if e.code == "sso_user_unknown" => {
            return fail(
                403,
                "You signed in, but your vendor has no account for you here.",
            )
        }
        Err(_) => {
            return fail(
                401,
                "Your company's sign-in could not be checked: start it again.",
            )
        }
    };
    let session = open_session(&app, &headers, &user).await?;
    Ok(with_cookies(see_other("/portal/"), &[session, cleared]))
}
