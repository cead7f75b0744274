//! Users of user-based licenses: passwords hashed with Argon2id, checked
//! on a blocking thread outside the database lock.

use std::sync::Arc;

use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::Argon2;
use serde::Deserialize;
use serde_json::{json, Value};

use crate::db::{self, UserRow};
use crate::error::ApiError;
use crate::state::App;

/// A password from a request body: never printed.
#[derive(Clone, Deserialize)]
#[serde(transparent)]
pub(crate) struct Password(String);

impl std::fmt::Debug for Password {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Password(redacted)")
    }
}

impl Password {
    pub(crate) fn expose(&self) -> &str {
        &self.0
    }
}

/// The shortest password the admin API accepts.
pub(crate) const MIN_PASSWORD: usize = 8;

/// An Argon2id hash (PHC string) of `password` with a fresh salt.
pub(crate) fn hash(password: &str) -> Result<String, ApiError> {
    let mut salt = [0u8; 16];
    getrandom::getrandom(&mut salt).map_err(|_| ApiError::internal("no random source"))?;
    let salt = SaltString::encode_b64(&salt).map_err(|e| ApiError::internal(e.to_string()))?;
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| ApiError::internal(e.to_string()))
}

fn verify(password: &str, stored: &str) -> bool {
    PasswordHash::new(stored)
        .map(|h| {
            Argon2::default()
                .verify_password(password.as_bytes(), &h)
                .is_ok()
        })
        .unwrap_or(false)
}

/// A hash no password matches, checked for unknown users so that an
/// unknown username costs the same time as a wrong password.
fn decoy() -> &'static str {
    static DECOY: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    DECOY.get_or_init(|| hash("decoy: no user has this password").unwrap_or_default())
}

/// Checks a username and password; the same answer for an unknown user
/// and a wrong password.
pub(crate) async fn login(
    app: &Arc<App>,
    username: &str,
    password: &Password,
) -> Result<UserRow, ApiError> {
    let name = username.to_owned();
    let user = app
        .with_db(move |_, conn| Ok(db::user_by_username(conn, &name)?))
        .await?;
    let password = password.clone();
    // Each check takes Argon2's 19 MiB for about 20 ms: a few at a time,
    // so a flood of sign-ins queues instead of exhausting memory.
    static CHECKS: tokio::sync::Semaphore = tokio::sync::Semaphore::const_new(4);
    let _permit = CHECKS
        .acquire()
        .await
        .map_err(|_| ApiError::internal("the password checks are closed"))?;
    let ok = tokio::task::spawn_blocking(move || match user {
        Some(u) if verify(password.expose(), &u.password_hash) => Some(u),
        Some(_) => None,
        None => {
            verify(password.expose(), decoy());
            None
        }
    })
    .await
    .map_err(|_| ApiError::internal("the request was cancelled"))?;
    ok.ok_or_else(|| {
        ApiError::unauthorized(
            "invalid_credentials",
            "the username or the password is wrong",
        )
    })
}

/// What the API shows of a user (never the hash).
pub(crate) fn public(u: &UserRow) -> Value {
    json!({
        "id": u.id,
        "username": u.username,
        "email": u.email,
        "first_name": u.first_name,
        "last_name": u.last_name,
    })
}
