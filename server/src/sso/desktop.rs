//! The desktop sign-in's server half (docs/SIGN-IN.md): which identity
//! provider signs a user in (found by the e-mail's domain or the account's
//! code), and the `id_token` a product brings in place of a password,
//! verified as seed 003's (issuer, the native app's client id as the
//! audience, expiry, a signature by the account's keys) before it names
//! the user an activation is for.

use std::sync::Arc;

use axum::extract::{Extension, State};
use tessera::protocol::bodies::{SignInProvider, SignInProviderRequest};

use super::{db, oidc};
use crate::body::{check_code, same_product};
use crate::error::ApiError;
use crate::http::{Answer, Authenticated, JsonBody, Product};
use crate::state::{App, AppState};
use crate::users::db::{self as users_db, UserRow};
use crate::users::sign_in as users_sign_in;

fn not_configured() -> ApiError {
    ApiError::not_found(
        "sso_not_configured",
        "no customer account signs this user in from a desktop",
    )
}

/// What a desktop is told of an account's provider: no secret.
fn provider_of(row: &db::SsoRow) -> SignInProvider {
    let d = &row.desktop;
    let client = if d.client_id.is_empty() {
        &row.client_id
    } else {
        &d.client_id
    };
    let mut p = SignInProvider::new(&row.account, &row.issuer, client, &row.token_endpoint);
    p.authorization_endpoint = d.authorization_endpoint.clone();
    p.device_authorization_endpoint = d.device_authorization_endpoint.clone();
    p.scopes = d.scopes.clone();
    p.grants = d
        .grants
        .split(',')
        .filter(|g| !g.is_empty())
        .map(str::to_owned)
        .collect();
    p
}

/// `POST /api/v1/sso/provider {product, who}`: the provider of the account
/// whose domains hold `who`'s (an e-mail address), or of the account
/// `who` names; 404 `sso_not_configured` when none signs in desktops.
pub(crate) async fn provider_call(
    State(app): AppState,
    Extension(Product(product)): Authenticated,
    JsonBody(r): JsonBody<SignInProviderRequest>,
) -> Result<Answer, ApiError> {
    same_product(&product, &r.product)?;
    let who = r.who.trim().to_owned();
    let domain = match who.rsplit_once('@') {
        Some((local, domain)) if !local.is_empty() && !domain.is_empty() => {
            Some(domain.to_ascii_lowercase())
        }
        Some(_) => {
            return Err(ApiError::bad_request(
                "invalid_body",
                "who is an e-mail address (name@domain) or an account's code",
            ))
        }
        None => {
            check_code(&who, "who")?;
            None
        }
    };
    let found = app
        .with_db(move |_, conn| {
            Ok(match domain {
                Some(d) => db::sso_by_domain(conn, &d)?,
                None => db::sso(conn, &who)?,
            })
        })
        .await?;
    let row = found
        .filter(|r| !r.desktop.grants.is_empty())
        .ok_or_else(not_configured)?;
    Answer::of(provider_of(&row))
}

/// The user an `id_token` from `account`'s provider names, for a desktop
/// sign-in's activation.
pub(crate) async fn user_of_token(
    app: &Arc<App>,
    account: &str,
    token: &str,
) -> Result<UserRow, ApiError> {
    check_code(account, "sso_account")?;
    let a = account.to_owned();
    let mut row = app
        .with_db(move |_, conn| Ok(db::sso(conn, &a)?))
        .await?
        .filter(|r| !r.desktop.grants.is_empty())
        .ok_or_else(not_configured)?;
    // The audience a desktop's token carries is the native app's.
    if !row.desktop.client_id.is_empty() {
        row.client_id = row.desktop.client_id.clone();
    }
    let name = oidc::verify(&row, token, app.now().timestamp()).await?;
    user_named(app, &name).await
}

/// The server's user a provider's username claim names (seed 003's single
/// sign-on and the desktop's): 401 `sso_user_unknown` when none.
pub(crate) async fn user_named(app: &Arc<App>, name: &str) -> Result<UserRow, ApiError> {
    let unknown = || {
        ApiError::unauthorized(
            "sso_user_unknown",
            "the signed-in user has no account on this server",
        )
    };
    let name = users_sign_in::normalize_username(name).ok_or_else(unknown)?;
    app.with_db(move |_, conn| Ok(users_db::user_by_username(conn, &name)?))
        .await?
        .ok_or_else(unknown)
}

/// Which of `user`'s licenses of `product` sold to `account` a desktop
/// sign-in activates: `asked` if it is one of them, else the only one;
/// 409 `choose_license` names them when there are several.
pub(crate) async fn license_for(
    app: &Arc<App>,
    user: &UserRow,
    product: &str,
    account: &str,
    asked: Option<&str>,
) -> Result<String, ApiError> {
    let (user_id, product, account) = (user.id.clone(), product.to_owned(), account.to_owned());
    let ids: Vec<String> = app
        .with_db(move |_, conn| {
            Ok(users_db::licenses_of_user(conn, &user_id, &product)?
                .into_iter()
                .filter(|l| l.account.as_deref() == Some(account.as_str()))
                .map(|l| l.id)
                .collect())
        })
        .await?;
    match (asked, ids.as_slice()) {
        (Some(id), _) if ids.iter().any(|i| i == id) => Ok(id.to_owned()),
        (Some(_), _) | (None, []) => Err(ApiError::new(
            403,
            "not_assigned",
            "the signed-in user holds no such license of this product from this account",
        )),
        (None, [only]) => Ok(only.clone()),
        (None, several) => Err(ApiError::new(
            409,
            "choose_license",
            format!(
                "the signed-in user holds {} licenses of this product: name one by license_id ({})",
                several.len(),
                several.join(", ")
            ),
        )),
    }
}
