//! A customer account's single sign-on (OpenID Connect) settings: the
//! admin API's handlers.

pub(crate) mod db;

use axum::extract::{Path, State};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::body::{check_code, invalid, plain_text, Reply};
use crate::database;
use crate::error::ApiError;
use crate::http::{Answer, JsonBody};
use crate::state::AppState;
use crate::users::sign_in::Password;

/// A customer account's identity provider (`PUT /accounts/{account}/sso`),
/// for seed 003's single sign-on.
#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct SsoConfig {
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

/// An account's identity provider as the admin API shows it: whether a
/// client secret is set, never the secret.
#[derive(Serialize, JsonSchema)]
#[schemars(deny_unknown_fields)]
pub(crate) struct AccountSso {
    account: String,
    issuer: String,
    client_id: String,
    client_secret_set: bool,
    jwks_uri: String,
    token_endpoint: String,
    redirect_uri: String,
    username_claim: String,
}

fn sso_json(s: &db::SsoRow) -> AccountSso {
    AccountSso {
        account: s.account.clone(),
        issuer: s.issuer.clone(),
        client_id: s.client_id.clone(),
        client_secret_set: !s.client_secret.is_empty(),
        jwks_uri: s.jwks_uri.clone(),
        token_endpoint: s.token_endpoint.clone(),
        redirect_uri: s.redirect_uri.clone(),
        username_claim: s.username_claim.clone(),
    }
}

pub(crate) async fn set_sso_call(
    State(app): AppState,
    Path(account): Path<String>,
    JsonBody(c): JsonBody<SsoConfig>,
) -> Reply {
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
    app.with_db(move |_, conn| {
        database::write(conn, |tx| db::set_sso(tx, &row)).map_err(ApiError::from)
    })
    .await?;
    Answer::of(answer)
}

pub(crate) async fn sso_call(State(app): AppState, Path(account): Path<String>) -> Reply {
    let found = app
        .with_db(move |_, conn| Ok(db::sso(conn, &account)?))
        .await?
        .ok_or_else(|| {
            ApiError::not_found("sso_not_configured", "the account has no identity provider")
        })?;
    Answer::of(sso_json(&found))
}

/// Whether `url` may be fetched: HTTPS, or plain HTTP to a loopback
/// address (a provider on this machine, as in the tests).
pub(crate) fn url_ok(url: &str) -> bool {
    // The URL is read by the same parser as reqwest fetches it with, so a
    // look-alike (`http://evil.example\\@127.0.0.1/`, userinfo, odd
    // dots) cannot be read one way here and fetched another way there.
    if url.len() > 2048 || url.chars().any(char::is_control) {
        return false;
    }
    let Ok(parsed) = reqwest::Url::parse(url) else {
        return false;
    };
    if !parsed.username().is_empty() || parsed.password().is_some() {
        return false;
    }
    match (parsed.scheme(), parsed.host()) {
        ("https", Some(_)) => true,
        ("http", Some(url::Host::Domain(name))) => name == "localhost",
        ("http", Some(url::Host::Ipv4(ip))) => ip.is_loopback(),
        ("http", Some(url::Host::Ipv6(ip))) => ip.is_loopback(),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_https_or_loopback_http_is_fetched() {
        for ok in [
            "https://login.example.com/keys",
            "http://127.0.0.1:8080/jwks",
            "http://localhost/jwks",
            "http://[::1]:9/x",
        ] {
            assert!(url_ok(ok), "{ok}");
        }
        for bad in [
            "http://example.com/jwks",
            "http://127.0.0.1.example.com/x",
            "http://user@10.0.0.1/x",
            "http://user@127.0.0.1/x",
            "http://evil.example.com\\@127.0.0.1/x",
            "http://127.1.example.com/x",
            "ftp://127.0.0.1/x",
            "https://",
            "http://127.0.0.1/\nx",
            "",
        ] {
            assert!(!url_ok(bad), "{bad}");
        }
    }
}
