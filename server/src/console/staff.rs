//! The vendor's staff: who may sign in to the console, with which role,
//! and their optional second factor.

use crate::error::ApiError;
use crate::store::{args, Db, DbResult, Row};

/// What a staff member may do; each role may do what the ones before it
/// may.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Role {
    /// Reads everything.
    Viewer,
    /// Reads everything; frees a device, extends a trial, resets a
    /// license's transfer count.
    Support,
    /// Products, licenses, releases, single sign-on settings.
    Admin,
    /// Everything, the staff among it.
    Owner,
}

impl Role {
    pub(crate) const ALL: [Role; 4] = [Role::Viewer, Role::Support, Role::Admin, Role::Owner];

    pub(crate) fn name(self) -> &'static str {
        match self {
            Role::Viewer => "viewer",
            Role::Support => "support",
            Role::Admin => "admin",
            Role::Owner => "owner",
        }
    }

    pub(crate) fn parse(name: &str) -> Option<Role> {
        Role::ALL.into_iter().find(|r| r.name() == name)
    }
}

/// A staff member (never the password's hash outside this module).
#[derive(Debug, Clone)]
pub(crate) struct StaffRow {
    pub(crate) id: String,
    pub(crate) email: String,
    pub(crate) name: String,
    pub(crate) role: Role,
    pub(crate) has_second_factor: bool,
    pub(crate) created_at: i64,
}

impl StaffRow {
    /// When the staff member was added.
    pub(crate) fn since(&self) -> crate::web::Time {
        crate::web::Time(self.created_at)
    }
}

const COLUMNS: &str = "id, email, name, role, totp_secret IS NOT NULL, created_at";

fn staff_from(r: &Row) -> DbResult<StaffRow> {
    let role: String = r.get(3)?;
    Ok(StaffRow {
        id: r.get(0)?,
        email: r.get(1)?,
        name: r.get(2)?,
        role: Role::parse(&role).unwrap_or(Role::Viewer),
        has_second_factor: r.get::<i64>(4)? != 0,
        created_at: r.get(5)?,
    })
}

pub(crate) fn count(conn: &Db<'_>) -> DbResult<u64> {
    let n: i64 = conn
        .row("SELECT COUNT(*) FROM staff", args![])?
        .map(|r| r.get(0))
        .transpose()?
        .unwrap_or(0);
    Ok(u64::try_from(n).unwrap_or(0))
}

pub(crate) fn by_id(conn: &Db<'_>, id: &str) -> DbResult<Option<StaffRow>> {
    conn.row(
        &format!("SELECT {COLUMNS} FROM staff WHERE id = ?1"),
        args![id],
    )?
    .as_ref()
    .map(staff_from)
    .transpose()
}

/// A staff member by e-mail, with the password's hash.
pub(crate) fn with_hash(conn: &Db<'_>, email: &str) -> DbResult<Option<(StaffRow, String)>> {
    conn.row(
        &format!("SELECT {COLUMNS}, password_hash FROM staff WHERE email = ?1"),
        args![email],
    )?
    .as_ref()
    .map(|r| Ok((staff_from(r)?, r.get(6)?)))
    .transpose()
}

pub(crate) fn all(conn: &Db<'_>) -> DbResult<Vec<StaffRow>> {
    crate::store::all(
        conn,
        &format!("SELECT {COLUMNS} FROM staff ORDER BY created_at, email"),
        args![],
        staff_from,
    )
}

/// The e-mail as stored and looked up: trimmed, lower case; None when it
/// is not an address.
pub(crate) fn normalize_email(email: &str) -> Option<String> {
    let e = email.trim().to_lowercase();
    let ok = e.len() <= 254
        && e.split_once('@')
            .is_some_and(|(l, d)| !l.is_empty() && d.contains('.') && !d.starts_with('.'))
        && !e.chars().any(|c| c.is_control() || c.is_whitespace());
    ok.then_some(e)
}

/// Adds a staff member; a conflict when the e-mail is taken.
pub(crate) fn insert(
    tx: &Db<'_>,
    email: &str,
    name: &str,
    role: Role,
    password_hash: &str,
    now: i64,
) -> Result<String, ApiError> {
    if tx
        .row("SELECT 1 FROM staff WHERE email = ?1", args![email])?
        .is_some()
    {
        return Err(ApiError::conflict(
            "staff_exists",
            "a staff member has this e-mail already",
        ));
    }
    let id = crate::device_call::random_id()?;
    tx.execute(
        "INSERT INTO staff (id, email, name, role, password_hash, created_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        args![id, email, name, role.name(), password_hash, now],
    )?;
    Ok(id)
}

pub(crate) fn set_role(tx: &Db<'_>, id: &str, role: Role) -> DbResult<u64> {
    tx.execute(
        "UPDATE staff SET role = ?2 WHERE id = ?1",
        args![id, role.name()],
    )
}

pub(crate) fn remove(tx: &Db<'_>, id: &str) -> DbResult<u64> {
    tx.execute("DELETE FROM staff WHERE id = ?1", args![id])
}

pub(crate) fn owners(conn: &Db<'_>) -> DbResult<u64> {
    let n: i64 = conn
        .row("SELECT COUNT(*) FROM staff WHERE role = 'owner'", args![])?
        .map(|r| r.get(0))
        .transpose()?
        .unwrap_or(0);
    Ok(u64::try_from(n).unwrap_or(0))
}

pub(crate) fn set_password(tx: &Db<'_>, id: &str, hash: &str) -> DbResult<u64> {
    tx.execute(
        "UPDATE staff SET password_hash = ?2 WHERE id = ?1",
        args![id, hash],
    )
}

/// The second factor's secret and the last step used.
pub(crate) fn second_factor(conn: &Db<'_>, id: &str) -> DbResult<Option<(String, i64)>> {
    Ok(conn
        .row(
            "SELECT totp_secret, totp_last_step FROM staff WHERE id = ?1",
            args![id],
        )?
        .map(|r| Ok::<_, crate::store::DbError>((r.get::<Option<String>>(0)?, r.get(1)?)))
        .transpose()?
        .and_then(|(s, step)| s.map(|s| (s, step))))
}

pub(crate) fn set_second_factor(
    tx: &Db<'_>,
    id: &str,
    secret: Option<&str>,
    step: i64,
) -> DbResult<u64> {
    tx.execute(
        "UPDATE staff SET totp_secret = ?2, totp_last_step = ?3 WHERE id = ?1",
        args![id, secret, step],
    )
}

/// Notes the step of a code just used, so it is not taken again; false
/// when another request used it (or a later one) first.
pub(crate) fn use_step(tx: &Db<'_>, id: &str, step: i64) -> DbResult<bool> {
    Ok(tx.execute(
        "UPDATE staff SET totp_last_step = ?2 WHERE id = ?1 AND totp_last_step < ?2",
        args![id, step],
    )? == 1)
}
