//! A customer account's single sign-on (OpenID Connect) settings: the
//! admin API's handlers.

pub(crate) mod db;
pub(crate) mod desktop;
pub(crate) mod oidc;

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
    /// The desktop sign-in (docs/SIGN-IN.md): the provider's authorization
    /// endpoint (a browser with PKCE)...
    #[serde(default)]
    authorization_endpoint: String,
    /// ...its device authorization endpoint (RFC 8628)...
    #[serde(default)]
    device_authorization_endpoint: String,
    /// ...the native app's client id there (`client_id` when empty)...
    #[serde(default)]
    desktop_client_id: String,
    /// ...the scopes it asks for (`openid email` when left out)...
    #[serde(default)]
    scopes: Option<String>,
    /// ...the grants a desktop may use (`browser`, `device`; those whose
    /// endpoint is set when left out)...
    #[serde(default)]
    desktop_grants: Option<Vec<String>>,
    /// ...and the e-mail domains whose users a product finds this account
    /// by (lower case, each at most once among all accounts).
    #[serde(default)]
    domains: Vec<String>,
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
    authorization_endpoint: String,
    device_authorization_endpoint: String,
    desktop_client_id: String,
    scopes: String,
    desktop_grants: Vec<String>,
    domains: Vec<String>,
}

/// A comma-separated list as a list.
fn listed(text: &str) -> Vec<String> {
    text.split(',')
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .collect()
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
        authorization_endpoint: s.desktop.authorization_endpoint.clone(),
        device_authorization_endpoint: s.desktop.device_authorization_endpoint.clone(),
        desktop_client_id: s.desktop.client_id.clone(),
        scopes: s.desktop.scopes.clone(),
        desktop_grants: listed(&s.desktop.grants),
        domains: listed(&s.desktop.domains),
    }
}

/// Checks the desktop sign-in's settings of `c`, as stored.
fn desktop_settings(c: &SsoConfig) -> Result<db::Desktop, ApiError> {
    for (name, url) in [
        ("authorization_endpoint", &c.authorization_endpoint),
        (
            "device_authorization_endpoint",
            &c.device_authorization_endpoint,
        ),
    ] {
        if !url.is_empty() && !url_ok(url) {
            return Err(invalid(format!(
                "{name} must be an https:// URL (http:// only to a loopback address)"
            )));
        }
    }
    if !c.desktop_client_id.is_empty() && !plain_text(&c.desktop_client_id, 256) {
        return Err(invalid(
            "desktop_client_id must be at most 256 characters without control characters",
        ));
    }
    let scopes = c
        .scopes
        .clone()
        .unwrap_or_else(|| "openid email".to_owned());
    let scope_ok = |w: &str| {
        !w.is_empty()
            && w.bytes()
                .all(|b| b.is_ascii_graphic() && b != b'"' && b != b'\\')
    };
    if scopes.len() > 512
        || !scopes.split(' ').all(scope_ok)
        || !scopes.split(' ').any(|w| w == "openid")
    {
        return Err(invalid(
            "scopes must be space-separated scope names, `openid` among them",
        ));
    }
    let grants = match &c.desktop_grants {
        Some(list) => list.clone(),
        None => [
            ("browser", &c.authorization_endpoint),
            ("device", &c.device_authorization_endpoint),
        ]
        .into_iter()
        .filter(|(_, url)| !url.is_empty())
        .map(|(g, _)| g.to_owned())
        .collect(),
    };
    for g in &grants {
        let endpoint = match g.as_str() {
            "browser" => &c.authorization_endpoint,
            "device" => &c.device_authorization_endpoint,
            _ => return Err(invalid("desktop_grants holds `browser` and `device` only")),
        };
        if endpoint.is_empty() || c.token_endpoint.is_empty() {
            return Err(invalid(format!(
                "the {g} grant needs token_endpoint and its own endpoint"
            )));
        }
    }
    let mut domains = Vec::new();
    for d in &c.domains {
        let d = d.to_ascii_lowercase();
        let ok = !d.is_empty()
            && d.len() <= 253
            && d.contains('.')
            && d.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.');
        if !ok {
            return Err(invalid(
                "domains must be e-mail domains such as example.com",
            ));
        }
        if !domains.contains(&d) {
            domains.push(d);
        }
    }
    Ok(db::Desktop {
        authorization_endpoint: c.authorization_endpoint.clone(),
        device_authorization_endpoint: c.device_authorization_endpoint.clone(),
        client_id: c.desktop_client_id.clone(),
        scopes,
        grants: grants.join(","),
        domains: domains.join(","),
    })
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
    let claim = c
        .username_claim
        .clone()
        .unwrap_or_else(|| "email".to_owned());
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
    let desktop = desktop_settings(&c)?;
    let row = db::SsoRow {
        desktop,
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
        database::write(conn, |tx| {
            // A domain finds one account.
            for d in row.desktop.domains.split(',').filter(|d| !d.is_empty()) {
                if let Some(other) = db::sso_by_domain(tx, d)? {
                    if other.account != row.account {
                        return Err(ApiError::new(
                            409,
                            "domain_taken",
                            format!("the domain {d} finds account {} already", other.account),
                        ));
                    }
                }
            }
            db::set_sso(tx, &row).map_err(ApiError::from)
        })
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
