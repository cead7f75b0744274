//! The queries of users and their license assignments.

use crate::database::{all, exec, exists, one};
use crate::licenses::db::{license_from, LicenseRow, LICENSE_COLUMNS};
use crate::store::{args, Db, Row};
pub(crate) use crate::store::{DbError, DbResult};

/// A user (the password hash stays in the database layer's callers that
/// check it).
#[derive(Debug, Clone)]
pub(crate) struct UserRow {
    pub id: String,
    pub username: String,
    pub email: String,
    pub first_name: String,
    pub last_name: String,
    pub password_hash: String,
}

fn user_from(r: &Row) -> DbResult<UserRow> {
    Ok(UserRow {
        id: r.get(0)?,
        username: r.get(1)?,
        email: r.get(2)?,
        first_name: r.get(3)?,
        last_name: r.get(4)?,
        password_hash: r.get(5)?,
    })
}

const USER_COLUMNS: &str = "id, username, email, first_name, last_name, password_hash";

// ---- users ----

pub(crate) fn insert_user(tx: &Db<'_>, u: &UserRow, created_at: i64) -> DbResult<()> {
    let n = exec(
        tx,
        "INSERT INTO users
         (id, username, email, first_name, last_name, password_hash, created_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7) ON CONFLICT DO NOTHING",
        args![
            u.id,
            u.username,
            u.email,
            u.first_name,
            u.last_name,
            u.password_hash,
            created_at
        ],
    )?;
    if n == 0 {
        return Err(DbError::Exists(
            "user_exists",
            "a user with this username exists",
        ));
    }
    Ok(())
}

pub(crate) fn user_by_username(conn: &Db<'_>, username: &str) -> DbResult<Option<UserRow>> {
    one(
        conn,
        &format!("SELECT {USER_COLUMNS} FROM users WHERE username = ?1"),
        args![username],
        user_from,
    )
}

pub(crate) fn user_by_id(conn: &Db<'_>, id: &str) -> DbResult<Option<UserRow>> {
    one(
        conn,
        &format!("SELECT {USER_COLUMNS} FROM users WHERE id = ?1"),
        args![id],
        user_from,
    )
}

/// A page of users by username, and how many there are in all.
pub(crate) fn users_page(conn: &Db<'_>, offset: u64, limit: u64) -> DbResult<(Vec<UserRow>, u64)> {
    let (offset, limit) = (
        i64::try_from(offset).unwrap_or(i64::MAX),
        i64::try_from(limit).unwrap_or(i64::MAX),
    );
    let rows = all(
        conn,
        &format!("SELECT {USER_COLUMNS} FROM users ORDER BY username LIMIT ?1 OFFSET ?2"),
        args![limit, offset],
        user_from,
    )?;
    let total: i64 = one(conn, "SELECT COUNT(*) FROM users", args![], |r| r.get(0))?.unwrap_or(0);
    Ok((rows, u64::try_from(total).unwrap_or(0)))
}

/// The ids of the licenses assigned to a user.
pub(crate) fn license_ids_of_user(conn: &Db<'_>, user_id: &str) -> DbResult<Vec<String>> {
    all(
        conn,
        "SELECT license_id FROM user_licenses WHERE user_id = ?1 ORDER BY license_id",
        args![user_id],
        |r| r.get(0),
    )
}

/// The user's licenses for a product.
/// Every license assigned to the user, by product then id.
pub(crate) fn licenses_of_user_all(conn: &Db<'_>, user_id: &str) -> DbResult<Vec<LicenseRow>> {
    all(
        conn,
        &format!(
            "SELECT {LICENSE_COLUMNS} FROM licenses WHERE id IN
             (SELECT license_id FROM user_licenses WHERE user_id = ?1) ORDER BY product, id LIMIT 500"
        ),
        args![user_id],
        license_from,
    )
}

pub(crate) fn licenses_of_user(
    conn: &Db<'_>,
    user_id: &str,
    product: &str,
) -> DbResult<Vec<LicenseRow>> {
    all(
        conn,
        &format!(
            "SELECT {LICENSE_COLUMNS} FROM licenses WHERE product = ?2 AND id IN
             (SELECT license_id FROM user_licenses WHERE user_id = ?1) ORDER BY id"
        ),
        args![user_id, product],
        license_from,
    )
}

pub(crate) fn is_assigned(conn: &Db<'_>, user_id: &str, license_id: &str) -> DbResult<bool> {
    exists(
        conn,
        "SELECT 1 FROM user_licenses WHERE user_id = ?1 AND license_id = ?2",
        args![user_id, license_id],
    )
}

pub(crate) fn assigned_count(conn: &Db<'_>, license_id: &str) -> DbResult<u32> {
    Ok(one(
        conn,
        "SELECT COUNT(*) FROM user_licenses WHERE license_id = ?1",
        args![license_id],
        |r| r.get(0),
    )?
    .unwrap_or(0))
}

/// Assigns a license to a user; false when it already was.
pub(crate) fn assign(tx: &Db<'_>, user_id: &str, license_id: &str) -> DbResult<bool> {
    Ok(exec(
        tx,
        "INSERT INTO user_licenses (user_id, license_id) VALUES (?1, ?2) ON CONFLICT DO NOTHING",
        args![user_id, license_id],
    )? > 0)
}

/// Revokes a license from a user; false when it was not assigned.
pub(crate) fn revoke(tx: &Db<'_>, user_id: &str, license_id: &str) -> DbResult<bool> {
    Ok(exec(
        tx,
        "DELETE FROM user_licenses WHERE user_id = ?1 AND license_id = ?2",
        args![user_id, license_id],
    )? > 0)
}

/// The users a license is assigned to.
pub(crate) fn users_of_license(conn: &Db<'_>, license_id: &str) -> DbResult<Vec<UserRow>> {
    all(
        conn,
        &format!(
            "SELECT {USER_COLUMNS} FROM users WHERE id IN
             (SELECT user_id FROM user_licenses WHERE license_id = ?1) ORDER BY username"
        ),
        args![license_id],
        user_from,
    )
}

#[cfg(feature = "compat")] // only the seeds' APIs ask this
/// The (license id, user id) assignments matching every filter (on
/// `license_id` or `user_id`), by license then user, at most `limit`.
pub(crate) fn assignments_matching(
    conn: &Db<'_>,
    filters: &[(&'static str, &str)],
    limit: u32,
) -> DbResult<Vec<(String, String)>> {
    let (clause, mut values) = crate::licenses::db::filtered(filters, &["license_id", "user_id"])?;
    values.push(crate::store::Arg::Int(i64::from(limit)));
    let sql = format!(
        "SELECT license_id, user_id FROM user_licenses{clause} \
         ORDER BY license_id, user_id LIMIT ?{}",
        values.len()
    );
    all(conn, &sql, &values, |r| Ok((r.get(0)?, r.get(1)?)))
}
