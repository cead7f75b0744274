//! The queries of licenses: the row, its lookups (locked for the
//! transaction where a write follows), and the searches.

use serde_json::json;

use crate::database::{all, exec, one};
use crate::outbox as events;
use crate::products::db::require_product;
use crate::store::{args, Db, DbError, DbResult, Row};

/// A license row.
#[derive(Debug, Clone)]
pub(crate) struct LicenseRow {
    pub id: String,
    pub product: String,
    pub license_key: String,
    pub spec: String,
    pub enabled: bool,
    pub transfer_count: u32,
    /// Bumped by every change to the spec or its feature toggles.
    pub revision: i64,
    pub account: Option<String>,
    pub definition: Option<String>,
    /// How many users the license may be assigned to.
    pub max_users: u32,
    /// Codes of the features switched off (a JSON array).
    pub features_off: String,
}

pub(crate) const LICENSE_COLUMNS: &str =
    "id, product, license_key, spec, enabled, transfer_count, revision, \
     account, definition, max_users, features_off";

pub(crate) fn license_from(r: &Row) -> DbResult<LicenseRow> {
    Ok(LicenseRow {
        id: r.get(0)?,
        product: r.get(1)?,
        license_key: r.get(2)?,
        spec: r.get(3)?,
        enabled: r.get(4)?,
        transfer_count: r.get(5)?,
        revision: r.get(6)?,
        account: r.get(7)?,
        definition: r.get(8)?,
        max_users: r.get(9)?,
        features_off: r.get(10)?,
    })
}

/// The license `row` was read from, as it is now and locked until the
/// transaction ends: requests on one license, from any instance, take
/// their turns. In SQLite the immediate transaction holds every write
/// already, so `row` is current and comes back as it is.
pub(crate) fn license_for_update(conn: &Db<'_>, row: LicenseRow) -> DbResult<LicenseRow> {
    if conn.is_pg() {
        locked_license_by_id(conn, &row.id)
    } else {
        Ok(row)
    }
}

/// What a new license row holds.
pub(crate) struct NewLicense<'a> {
    pub id: &'a str,
    pub product: &'a str,
    pub license_key: &'a str,
    pub spec: &'a str,
    pub account: Option<&'a str>,
    pub definition: Option<&'a str>,
    pub max_users: u32,
}

pub(crate) fn insert_license(tx: &Db<'_>, l: &NewLicense<'_>) -> DbResult<()> {
    require_product(tx, l.product)?;
    let n = exec(
        tx,
        "INSERT INTO licenses
         (id, product, license_key, spec, account, definition, max_users)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7) ON CONFLICT DO NOTHING",
        args![
            l.id,
            l.product,
            l.license_key,
            l.spec,
            l.account,
            l.definition,
            l.max_users
        ],
    )?;
    if n == 0 {
        return Err(DbError::Exists(
            "license_exists",
            "a license with this id, or this key for the product, exists",
        ));
    }
    events::emit(
        tx,
        events::Kind::LicenseCreated,
        Some(l.id),
        json!({ "definition": l.definition, "by": events::actor() }),
    )?;
    events::license_written(tx, l.id, l.spec)
}

/// The product's license with this key, locked until the transaction
/// ends (see [`license_for_update`]), in the same statement.
pub(crate) fn locked_license_by_key(
    conn: &Db<'_>,
    product: &str,
    license_key: &str,
) -> DbResult<LicenseRow> {
    let sql = if conn.is_pg() {
        "SELECT {LICENSE_COLUMNS} FROM licenses WHERE product = ?1 AND license_key = ?2 FOR UPDATE"
    } else {
        "SELECT {LICENSE_COLUMNS} FROM licenses WHERE product = ?1 AND license_key = ?2"
    };
    one(
        conn,
        &sql.replace("{LICENSE_COLUMNS}", LICENSE_COLUMNS),
        args![product, license_key],
        license_from,
    )?
    .ok_or_else(|| {
        DbError::NotFound(
            "license_not_found",
            "no license with this key for the product",
        )
    })
}

pub(crate) fn license_by_id(conn: &Db<'_>, id: &str) -> DbResult<LicenseRow> {
    license_by_id_as(conn, id, false)
}

/// [`license_by_id`], locked until the transaction ends (see
/// [`license_for_update`]), in the same statement.
pub(crate) fn locked_license_by_id(conn: &Db<'_>, id: &str) -> DbResult<LicenseRow> {
    license_by_id_as(conn, id, true)
}

fn license_by_id_as(conn: &Db<'_>, id: &str, lock: bool) -> DbResult<LicenseRow> {
    let sql = if lock && conn.is_pg() {
        "SELECT {LICENSE_COLUMNS} FROM licenses WHERE id = ?1 FOR UPDATE"
    } else {
        "SELECT {LICENSE_COLUMNS} FROM licenses WHERE id = ?1"
    };
    one(
        conn,
        &sql.replace("{LICENSE_COLUMNS}", LICENSE_COLUMNS),
        args![id],
        license_from,
    )?
    .ok_or(DbError::NotFound("license_not_found", "no such license"))
}

/// Replaces a license's spec, users and account; bumps its revision.
pub(crate) fn update_license(
    tx: &Db<'_>,
    id: &str,
    spec: &str,
    max_users: u32,
    account: Option<&str>,
) -> DbResult<()> {
    exec(
        tx,
        "UPDATE licenses SET spec = ?2, max_users = ?3, account = ?4, revision = revision + 1
         WHERE id = ?1",
        args![id, spec, max_users, account],
    )?;
    events::emit(
        tx,
        events::Kind::LicenseChanged,
        Some(id),
        json!({ "by": events::actor() }),
    )?;
    events::license_written(tx, id, spec)
}

/// Sets the license's transfer count back to zero.
pub(crate) fn reset_transfers(tx: &Db<'_>, id: &str) -> DbResult<()> {
    exec(
        tx,
        "UPDATE licenses SET transfer_count = 0 WHERE id = ?1",
        args![id],
    )?;
    Ok(())
}

pub(crate) fn set_features_off(tx: &Db<'_>, id: &str, features_off: &str) -> DbResult<()> {
    exec(
        tx,
        "UPDATE licenses SET features_off = ?2, revision = revision + 1 WHERE id = ?1",
        args![id, features_off],
    )?;
    Ok(())
}

pub(crate) fn set_enabled(tx: &Db<'_>, id: &str, enabled: bool) -> DbResult<()> {
    let was: Option<bool> = one(
        tx,
        "SELECT enabled FROM licenses WHERE id = ?1",
        args![id],
        |r| r.get(0),
    )?;
    let Some(was) = was else {
        return Err(DbError::NotFound("license_not_found", "no such license"));
    };
    if was == enabled {
        return Ok(());
    }
    exec(
        tx,
        "UPDATE licenses SET enabled = ?2 WHERE id = ?1",
        args![id, enabled],
    )?;
    let kind = if enabled {
        events::Kind::LicenseReinstated
    } else {
        events::Kind::LicenseSuspended
    };
    events::emit(tx, kind, Some(id), json!({ "by": events::actor() }))
}

/// An account's licenses made from a definition (a bundle code).
pub(crate) fn licenses_of_account(
    conn: &Db<'_>,
    account: &str,
    definition: &str,
) -> DbResult<Vec<LicenseRow>> {
    all(
        conn,
        &format!(
            "SELECT {LICENSE_COLUMNS} FROM licenses WHERE account = ?1 AND definition = ?2
             ORDER BY id"
        ),
        args![account, definition],
        license_from,
    )
}

#[cfg(feature = "compat")] // only the seeds' APIs ask this
/// `WHERE` over `filters` (every one must hold), numbering the values
/// from `?1`; each column must be one of `columns` (the caller's names are
/// never spliced into SQL unchecked).
pub(crate) fn filtered<'a>(
    filters: &[(&'static str, &'a str)],
    columns: &[&str],
) -> DbResult<(String, Vec<crate::store::Arg<'a>>)> {
    let mut conditions = Vec::new();
    let mut values = Vec::new();
    for (column, value) in filters {
        if !columns.contains(column) {
            return Err(DbError::Invalid(format!("cannot filter on {column}")));
        }
        values.push(crate::store::Arg::Text(value));
        conditions.push(format!("{column} = ?{}", values.len()));
    }
    let clause = if conditions.is_empty() {
        String::new()
    } else {
        format!(" WHERE {}", conditions.join(" AND "))
    };
    Ok((clause, values))
}

#[cfg(feature = "compat")] // only the seeds' APIs ask this
/// The licenses matching every filter (on `id` or `product`), by id, at
/// most `limit`.
pub(crate) fn licenses_matching(
    conn: &Db<'_>,
    filters: &[(&'static str, &str)],
    limit: u32,
) -> DbResult<Vec<LicenseRow>> {
    let (clause, mut values) = filtered(filters, &["id", "product"])?;
    values.push(crate::store::Arg::Int(i64::from(limit)));
    let sql = format!(
        "SELECT {LICENSE_COLUMNS} FROM licenses{clause} ORDER BY id LIMIT ?{}",
        values.len()
    );
    all(conn, &sql, &values, license_from)
}
