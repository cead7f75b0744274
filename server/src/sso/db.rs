//! The queries of single sign-on settings.

use crate::database::{exec, one};
use crate::store::{args, Db, DbResult};

/// A customer account's identity provider, as stored. Not `Debug`: it
/// holds the client secret.
#[derive(Clone)]
pub(crate) struct SsoRow {
    pub account: String,
    pub issuer: String,
    pub client_id: String,
    pub client_secret: String,
    pub jwks_uri: String,
    pub token_endpoint: String,
    pub redirect_uri: String,
    pub username_claim: String,
    /// The desktop sign-in's settings (docs/SIGN-IN.md).
    pub desktop: Desktop,
}

/// How a desktop product signs an account's users in: empty endpoints
/// and no grants when the account offers none.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct Desktop {
    pub authorization_endpoint: String,
    pub device_authorization_endpoint: String,
    /// The native app's client id at the provider (the web client's when
    /// empty).
    pub client_id: String,
    /// Space-separated, as OAuth writes them.
    pub scopes: String,
    /// `browser`, `device`, or both, comma-separated.
    pub grants: String,
    /// E-mail domains whose users the account signs in, comma-separated.
    pub domains: String,
}

const SSO_COLUMNS: &str = "account, issuer, client_id, client_secret, jwks_uri, token_endpoint, \
     redirect_uri, username_claim, authorization_endpoint, device_authorization_endpoint, \
     desktop_client_id, scopes, desktop_grants, domains";

/// Sets (or replaces) an account's identity provider.
pub(crate) fn set_sso(tx: &Db<'_>, s: &SsoRow) -> DbResult<()> {
    exec(
        tx,
        "DELETE FROM account_sso WHERE account = ?1",
        args![s.account.as_str()],
    )?;
    exec(
        tx,
        &format!(
            "INSERT INTO account_sso ({SSO_COLUMNS}) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14)"
        ),
        args![
            s.account.as_str(),
            s.issuer.as_str(),
            s.client_id.as_str(),
            s.client_secret.as_str(),
            s.jwks_uri.as_str(),
            s.token_endpoint.as_str(),
            s.redirect_uri.as_str(),
            s.username_claim.as_str(),
            s.desktop.authorization_endpoint.as_str(),
            s.desktop.device_authorization_endpoint.as_str(),
            s.desktop.client_id.as_str(),
            s.desktop.scopes.as_str(),
            s.desktop.grants.as_str(),
            s.desktop.domains.as_str()
        ],
    )?;
    Ok(())
}

fn sso_from(r: &crate::store::Row) -> DbResult<SsoRow> {
    Ok(SsoRow {
        account: r.get(0)?,
        issuer: r.get(1)?,
        client_id: r.get(2)?,
        client_secret: r.get(3)?,
        jwks_uri: r.get(4)?,
        token_endpoint: r.get(5)?,
        redirect_uri: r.get(6)?,
        username_claim: r.get(7)?,
        desktop: Desktop {
            authorization_endpoint: r.get(8)?,
            device_authorization_endpoint: r.get(9)?,
            client_id: r.get(10)?,
            scopes: r.get(11)?,
            grants: r.get(12)?,
            domains: r.get(13)?,
        },
    })
}

/// An account's identity provider, if one is set.
pub(crate) fn sso(conn: &Db<'_>, account: &str) -> DbResult<Option<SsoRow>> {
    one(
        conn,
        &format!("SELECT {SSO_COLUMNS} FROM account_sso WHERE account = ?1"),
        args![account],
        sso_from,
    )
}

/// The account whose desktop sign-in takes addresses of `domain` (lower
/// case), if one does.
pub(crate) fn sso_by_domain(conn: &Db<'_>, domain: &str) -> DbResult<Option<SsoRow>> {
    let all = crate::database::all(
        conn,
        &format!("SELECT {SSO_COLUMNS} FROM account_sso WHERE domains <> '' ORDER BY account"),
        args![],
        sso_from,
    )?;
    Ok(all
        .into_iter()
        .find(|s| s.desktop.domains.split(',').any(|d| d == domain)))
}
