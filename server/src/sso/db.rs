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
}

const SSO_COLUMNS: &str =
    "account, issuer, client_id, client_secret, jwks_uri, token_endpoint, redirect_uri, username_claim";

/// Sets (or replaces) an account's identity provider.
pub(crate) fn set_sso(tx: &Db<'_>, s: &SsoRow) -> DbResult<()> {
    exec(
        tx,
        "DELETE FROM account_sso WHERE account = ?1",
        args![s.account.as_str()],
    )?;
    exec(
        tx,
        &format!("INSERT INTO account_sso ({SSO_COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)"),
        args![
            s.account.as_str(),
            s.issuer.as_str(),
            s.client_id.as_str(),
            s.client_secret.as_str(),
            s.jwks_uri.as_str(),
            s.token_endpoint.as_str(),
            s.redirect_uri.as_str(),
            s.username_claim.as_str()
        ],
    )?;
    Ok(())
}

/// An account's identity provider, if one is set.
pub(crate) fn sso(conn: &Db<'_>, account: &str) -> DbResult<Option<SsoRow>> {
    one(
        conn,
        &format!("SELECT {SSO_COLUMNS} FROM account_sso WHERE account = ?1"),
        args![account],
        |r| {
            Ok(SsoRow {
                account: r.get(0)?,
                issuer: r.get(1)?,
                client_id: r.get(2)?,
                client_secret: r.get(3)?,
                jwks_uri: r.get(4)?,
                token_endpoint: r.get(5)?,
                redirect_uri: r.get(6)?,
                username_claim: r.get(7)?,
            })
        },
    )
}
