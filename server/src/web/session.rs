//! Sessions of the web faces, in the database so that every instance
//! serves them: the browser holds a random token (an `HttpOnly`,
//! `SameSite=Strict` cookie, `Secure` behind TLS); the database holds only
//! its SHA-256, the session's CSRF token, and when it ends. A session
//! lasts 12 hours at most and ends after an hour without a request;
//! signing in always makes a new one (no fixation), signing out deletes
//! it (a copied cookie is worth nothing after), and "sign out everywhere"
//! deletes every session of the person.

use axum::http::HeaderMap;
use base64::Engine as _;
use sha2::{Digest, Sha256};

use crate::error::ApiError;
use crate::store::{args, Db, DbResult};
use crate::web::Face;

/// The longest a session lasts.
pub(crate) const ABSOLUTE_SECS: i64 = 12 * 3600;
/// A session with no request for this long ends.
pub(crate) const IDLE_SECS: i64 = 3600;
/// A half session (password right, second factor due) lasts this long.
const SECOND_FACTOR_SECS: i64 = 5 * 60;

/// A session found by its cookie.
#[derive(Debug, Clone)]
pub(crate) struct Session {
    pub(crate) token_hash: String,
    pub(crate) subject: String,
    pub(crate) csrf: String,
    /// The password was right; the second factor is still due.
    pub(crate) second_factor_due: bool,
}

/// 32 random bytes, base64url.
pub(crate) fn random_token() -> Result<String, ApiError> {
    let mut bytes = [0u8; 32];
    getrandom::getrandom(&mut bytes).map_err(|_| ApiError::internal("no random source"))?;
    Ok(base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes))
}

fn hash(token: &str) -> String {
    Sha256::digest(token.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Opens a session of `subject` on `face`; the cookie's token and the
/// session's CSRF token.
pub(crate) fn open(
    tx: &Db<'_>,
    face: Face,
    subject: &str,
    second_factor_due: bool,
    now: i64,
) -> Result<(String, String), ApiError> {
    let token = random_token()?;
    let csrf = random_token()?;
    let ends = now.saturating_add(if second_factor_due {
        SECOND_FACTOR_SECS
    } else {
        ABSOLUTE_SECS
    });
    tx.execute(
        "INSERT INTO web_sessions (token_hash, face, subject, csrf, second_factor_due,
             created_at, seen_at, expires_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?6, ?7)",
        args![
            hash(&token),
            face.name(),
            subject,
            csrf,
            second_factor_due,
            now,
            ends
        ],
    )?;
    // Sessions that ended are forgotten now and then.
    tx.execute(
        "DELETE FROM web_sessions WHERE expires_at < ?1 OR seen_at < ?2",
        args![now, now.saturating_sub(IDLE_SECS)],
    )?;
    Ok((token, csrf))
}

/// The live session the request's cookie names, if any; a request keeps
/// it alive (noted at most once a minute).
pub(crate) fn find(
    conn: &Db<'_>,
    face: Face,
    headers: &HeaderMap,
    now: i64,
) -> DbResult<Option<Session>> {
    let Some(token) = cookie(headers, face.cookie()) else {
        return Ok(None);
    };
    let token_hash = hash(&token);
    let row = conn.row(
        "SELECT subject, csrf, second_factor_due, seen_at FROM web_sessions
         WHERE token_hash = ?1 AND face = ?2 AND expires_at > ?3 AND seen_at > ?4",
        args![token_hash, face.name(), now, now.saturating_sub(IDLE_SECS)],
    )?;
    let Some(row) = row else {
        return Ok(None);
    };
    let seen: i64 = row.get(3)?;
    if now - seen >= 60 {
        conn.execute(
            "UPDATE web_sessions SET seen_at = ?2 WHERE token_hash = ?1",
            args![token_hash, now],
        )?;
    }
    Ok(Some(Session {
        token_hash,
        subject: row.get(0)?,
        csrf: row.get(1)?,
        second_factor_due: row.get::<i64>(2)? != 0,
    }))
}

/// Whom the request's full session (no second factor due) on `face` is
/// for, as `load` reads them; [`WebError::SignIn`] when no one.
pub(crate) async fn signed_in<T: Send + 'static>(
    app: &std::sync::Arc<crate::state::App>,
    face: Face,
    headers: &HeaderMap,
    load: impl FnOnce(&Db<'_>, &str) -> DbResult<Option<T>> + Send + 'static,
) -> Result<(T, Session), crate::web::WebError> {
    let headers = headers.clone();
    let now = app.now().timestamp();
    app.with_db(move |_, conn| {
        let Some(s) = find(conn, face, &headers, now)? else {
            return Ok(None);
        };
        if s.second_factor_due {
            return Ok(None);
        }
        Ok(load(conn, &s.subject)?.map(|who| (who, s)))
    })
    .await?
    .ok_or(crate::web::WebError::SignIn(face))
}

/// Signs `subject` in to `face` with a new session (whatever session the
/// request's cookie names is closed and replaced: no fixation), or a half
/// one when a second factor is still due; the `Set-Cookie` of its token.
pub(crate) async fn start(
    app: &std::sync::Arc<crate::state::App>,
    face: Face,
    headers: &HeaderMap,
    subject: &str,
    second_factor_due: bool,
) -> Result<String, crate::web::WebError> {
    let now = app.now().timestamp();
    let (headers, subject) = (headers.clone(), subject.to_owned());
    let token = app
        .with_db(move |_, conn| {
            crate::database::write(conn, |tx| {
                if let Some(old) = find(tx, face, &headers, now)? {
                    close(tx, &old.token_hash)?;
                }
                open(tx, face, &subject, second_factor_due, now)
            })
        })
        .await?
        .0;
    Ok(set_cookie(face.cookie(), face, &token, app.tls))
}

/// The signed-out form's CSRF token of `face`: the one its cookie holds,
/// or a new one and the `Set-Cookie` that gives it.
pub(crate) fn form_token(
    app: &crate::state::App,
    headers: &HeaderMap,
    face: Face,
) -> Result<(String, Vec<String>), ApiError> {
    if let Some(t) = cookie(headers, face.form_cookie()) {
        return Ok((t, Vec::new()));
    }
    let t = random_token()?;
    let c = set_cookie(face.form_cookie(), face, &t, app.tls);
    Ok((t, vec![c]))
}

/// Ends one session.
pub(crate) fn close(tx: &Db<'_>, token_hash: &str) -> DbResult<()> {
    tx.execute(
        "DELETE FROM web_sessions WHERE token_hash = ?1",
        args![token_hash],
    )?;
    Ok(())
}

/// Ends every session of `subject` on `face` (sign out everywhere, a
/// password changed, a staff member removed).
pub(crate) fn close_all(tx: &Db<'_>, face: Face, subject: &str) -> DbResult<()> {
    tx.execute(
        "DELETE FROM web_sessions WHERE face = ?1 AND subject = ?2",
        args![face.name(), subject],
    )?;
    Ok(())
}

/// The value of the cookie `name` the request carries.
pub(crate) fn cookie(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(axum::http::header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.to_owned())
        .filter(|v| !v.is_empty() && v.len() <= 128)
}

/// The `Set-Cookie` of a session's token (or of a signed-out form's CSRF
/// token): `HttpOnly`, `SameSite=Strict`, the face's path, `Secure` when
/// the server speaks TLS.
pub(crate) fn set_cookie(name: &str, face: Face, value: &str, secure: bool) -> String {
    format!(
        "{name}={value}; Path={}; HttpOnly; SameSite=Strict; Max-Age={ABSOLUTE_SECS}{}",
        face.root(),
        if secure { "; Secure" } else { "" }
    )
}

/// The `Set-Cookie` that removes the cookie `name`.
pub(crate) fn clear_cookie(name: &str, face: Face, secure: bool) -> String {
    format!(
        "{name}=; Path={}; HttpOnly; SameSite=Strict; Max-Age=0{}",
        face.root(),
        if secure { "; Secure" } else { "" }
    )
}

/// Whether two tokens are the same, in constant time.
pub(crate) fn same(a: &str, b: &str) -> bool {
    use subtle::ConstantTimeEq as _;
    !a.is_empty() && bool::from(a.as_bytes().ct_eq(b.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cookie_is_read_by_its_exact_name() {
        let mut h = HeaderMap::new();
        h.insert(
            axum::http::header::COOKIE,
            "other=1; tessera_console=abc; tessera_console_form=def"
                .parse()
                .unwrap_or_else(|_| unreachable!()),
        );
        assert_eq!(cookie(&h, "tessera_console").as_deref(), Some("abc"));
        assert_eq!(cookie(&h, "tessera_console_form").as_deref(), Some("def"));
        assert_eq!(cookie(&h, "tessera_portal"), None);
    }

    #[test]
    fn an_empty_token_never_matches() {
        assert!(!same("", ""));
        assert!(same("a", "a"));
        assert!(!same("a", "b"));
    }

    #[test]
    fn the_session_cookie_is_strict_and_secure_behind_tls() {
        let c = set_cookie("tessera_console", Face::Console, "t", true);
        assert!(c.contains("HttpOnly") && c.contains("SameSite=Strict") && c.contains("Secure"));
        assert!(c.contains("Path=/console/"));
        assert!(!set_cookie("tessera_portal", Face::Portal, "t", false).contains("Secure"));
    }
}
