//! Users of user-based licenses: passwords hashed with Argon2id, checked
//! on a blocking thread outside the database lock.

use std::net::IpAddr;
use std::sync::Arc;

use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::Argon2;

use crate::error::ApiError;
use crate::rate_limit::Limit;
use crate::state::App;
use crate::users::db::UserRow;

/// A password from a request body: never printed.
pub(crate) use tessera::protocol::bodies::Password;

/// The one spelling of a username, under which it is stored and looked
/// up: Unicode NFKC, then lowercase, so that `Ada@Example.com`, a
/// full-width `Ａｄａ` and a decomposed `é` name the one user a person
/// means. None for an empty name, one over 254 bytes, or one holding a
/// control or format character (NUL, a zero-width space or joiner, a
/// byte-order mark, a right-to-left override): those made look-alike users.
pub(crate) fn normalize_username(name: &str) -> Option<String> {
    use unicode_normalization::UnicodeNormalization as _;
    let folded: String = name.trim().nfkc().collect::<String>().to_lowercase();
    let invisible = |c: char| {
        c.is_control()
            || matches!(c as u32,
                0x00AD | 0x034F | 0x061C | 0x115F | 0x1160 | 0x17B4 | 0x17B5 | 0x180B..=0x180F
                | 0x200B..=0x200F | 0x202A..=0x202E | 0x2060..=0x206F | 0x3164 | 0xFE00..=0xFE0F
                | 0xFEFF | 0xFFA0 | 0xFFF0..=0xFFFB | 0xE0000..=0xE0FFF)
    };
    (!folded.is_empty() && folded.len() <= 254 && !folded.chars().any(invisible)).then_some(folded)
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

tokio::task_local! {
    /// The address the current request came from (set by the client API's
    /// authentication layer).
    pub(crate) static PEER: Option<IpAddr>;
}

/// Failed sign-ins per username from one address: 5 in 15 minutes, then
/// refused (429) from that address until the oldest ages out. Keyed by the
/// pair, so guesses from elsewhere do not lock the user out where the
/// user signs in.
const PER_USER_AND_ADDRESS: Limit = Limit {
    kind: "sign-in-user-address",
    limit: 5,
    window: 15 * 60,
};
/// Failed sign-ins per username from every address together: 50 in 15
/// minutes, the bound on guessing spread over many addresses. Reaching it
/// takes at least ten addresses (five each); support's unlock, or the
/// user's next success, clears it.
const PER_USER: Limit = Limit {
    kind: "sign-in-user",
    limit: 50,
    window: 15 * 60,
};
/// Failed sign-ins per address, whatever the names: 20 in 15 minutes.
const PER_ADDRESS: Limit = Limit {
    kind: "sign-in-address",
    limit: 20,
    window: 15 * 60,
};

/// Refuses (429) a sign-in for a username or from an address that failed
/// too often lately, before any password is checked. The failures are
/// counted in the database: every instance sharing it holds the limits.
async fn throttle(
    app: &Arc<App>,
    username: &str,
    peer: Option<IpAddr>,
    now: i64,
) -> Result<(), ApiError> {
    let name = username.to_owned();
    let wait = app
        .with_db(move |_, conn| {
            let user = PER_USER.wait(conn, &name, now)?;
            let (pair, address) = match peer {
                Some(ip) => (
                    PER_USER_AND_ADDRESS.wait(conn, &pair_key(&name, ip), now)?,
                    PER_ADDRESS.wait(conn, &ip.to_string(), now)?,
                ),
                None => (None, None),
            };
            Ok(user.max(pair).max(address))
        })
        .await?;
    match wait {
        Some(seconds) => Err(ApiError::too_many(
            "too_many_attempts",
            format!("too many failed sign-ins; try again in {seconds} s"),
            seconds,
        )),
        None => Ok(()),
    }
}

/// Counts a failed sign-in against the username and the address, or
/// forgets the username's failures after a success.
async fn record(
    app: &Arc<App>,
    username: &str,
    peer: Option<IpAddr>,
    now: i64,
    ok: bool,
) -> Result<(), ApiError> {
    let name = username.to_owned();
    app.with_db(move |_, conn| {
        if ok {
            PER_USER.forget(conn, &name)?;
            if let Some(ip) = peer {
                PER_USER_AND_ADDRESS.forget(conn, &pair_key(&name, ip))?;
            }
            return Ok(());
        }
        PER_USER.record(conn, &name, now)?;
        if let Some(ip) = peer {
            PER_USER_AND_ADDRESS.record(conn, &pair_key(&name, ip), now)?;
            PER_ADDRESS.record(conn, &ip.to_string(), now)?;
        }
        Ok(())
    })
    .await
}

/// The key of a (username, address) pair: a username holds no control
/// character ([`normalize_username`]), so a newline cannot be part of one.
fn pair_key(username: &str, address: IpAddr) -> String {
    format!("{username}\n{address}")
}

/// Forgets a user's failed sign-ins, from every address: support's way
/// back for a user whom guesses from many addresses locked out.
pub(crate) fn unlock(conn: &crate::store::Db<'_>, username: &str) -> crate::store::DbResult<()> {
    PER_USER.forget(conn, username)?;
    crate::database::forget_events_starting(
        conn,
        PER_USER_AND_ADDRESS.kind,
        &format!("{username}\n"),
    )
}

/// Checks a username and password; the same answer for an unknown user
/// and a wrong password. A username with 5 failures from one address in
/// 15 minutes (from that address), 50 from all together, or an address with
/// 20 whatever the names (counted by every instance together), is refused
/// with 429 and `Retry-After` before any password is checked.
pub(crate) async fn login(
    app: &Arc<App>,
    username: &str,
    password: &Password,
) -> Result<UserRow, ApiError> {
    // A name that cannot be a user's is checked against the decoy, as an
    // unknown one is (the same time, the same answer).
    let name = normalize_username(username).unwrap_or_default();
    let looked_up = name.clone();
    guarded(app, &name, password, move |conn| {
        Ok(super::db::user_by_username(conn, &looked_up)?.map(|u| {
            let hash = u.password_hash.clone();
            (u, hash)
        }))
    })
    .await
}

/// The password check behind every sign-in (a user's, a staff member's
/// on the console, whose `throttle_key` starts with a newline no username
/// holds): the throttle first, then `lookup` finds whom the name names and
/// the hash of their password, then Argon2 on a blocking thread, a few at
/// a time; a decoy hash for a name that names nobody.
pub(crate) async fn guarded<T: Send + 'static>(
    app: &Arc<App>,
    throttle_key: &str,
    password: &Password,
    lookup: impl FnOnce(&crate::store::Db<'_>) -> Result<Option<(T, String)>, ApiError> + Send + 'static,
) -> Result<T, ApiError> {
    let peer = PEER.try_with(|p| *p).ok().flatten();
    let now = app.now().timestamp();
    let username = throttle_key;
    throttle(app, username, peer, now).await?;
    let found = app.with_db(move |_, conn| lookup(conn)).await?;
    let password = password.clone();
    // Each check takes Argon2's 19 MiB for about 20 ms: a few at a time,
    // so a flood of sign-ins queues instead of exhausting memory.
    static CHECKS: tokio::sync::Semaphore = tokio::sync::Semaphore::const_new(4);
    let _permit = CHECKS
        .acquire()
        .await
        .map_err(|_| ApiError::internal("the password checks are closed"))?;
    let ok = tokio::task::spawn_blocking(move || match found {
        Some((who, hash)) if verify(password.expose(), &hash) => Some(who),
        Some(_) => None,
        None => {
            verify(password.expose(), decoy());
            None
        }
    })
    .await
    .map_err(|_| ApiError::internal("the request was cancelled"))?;
    record(app, username, peer, now, ok.is_some()).await?;
    ok.ok_or_else(|| {
        ApiError::unauthorized(
            "invalid_credentials",
            "the username or the password is wrong",
        )
    })
}

/// What the API shows of a user (never the hash).
pub(crate) fn public(u: &UserRow) -> User {
    User::new(
        u.id.clone(),
        u.username.clone(),
        u.email.clone(),
        u.first_name.clone(),
        u.last_name.clone(),
    )
}

pub(crate) use tessera::protocol::bodies::User;
