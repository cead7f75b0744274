//! The server's SQLite database (WAL): products, licenses, activations,
//! leases, consumption. One connection behind a mutex; every operation is
//! one transaction, so limits hold under any concurrency.

use std::path::Path;

use rusqlite::{params, Connection, OptionalExtension, TransactionBehavior};

use crate::error::ApiError;

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS products (
    code TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    api_key BLOB NOT NULL
);
CREATE TABLE IF NOT EXISTS licenses (
    id TEXT PRIMARY KEY,
    product TEXT NOT NULL REFERENCES products(code),
    license_key TEXT NOT NULL,
    spec TEXT NOT NULL,
    enabled INTEGER NOT NULL DEFAULT 1,
    transfer_count INTEGER NOT NULL DEFAULT 0,
    activations INTEGER NOT NULL DEFAULT 0,
    UNIQUE (product, license_key)
);
CREATE TABLE IF NOT EXISTS activations (
    license_id TEXT NOT NULL REFERENCES licenses(id),
    device TEXT NOT NULL,
    fingerprint TEXT NOT NULL,
    activated_at INTEGER NOT NULL,
    PRIMARY KEY (license_id, device)
);
CREATE TABLE IF NOT EXISTS leases (
    id TEXT PRIMARY KEY,
    license_id TEXT NOT NULL REFERENCES licenses(id),
    device TEXT NOT NULL,
    kind TEXT NOT NULL,
    expires_at INTEGER NOT NULL,
    UNIQUE (license_id, device)
);
CREATE TABLE IF NOT EXISTS consumption (
    license_id TEXT NOT NULL REFERENCES licenses(id),
    device TEXT NOT NULL,
    seq INTEGER NOT NULL,
    counter TEXT NOT NULL,
    amount INTEGER NOT NULL,
    at INTEGER NOT NULL,
    PRIMARY KEY (license_id, device, seq)
);
";

/// A license row.
#[derive(Debug, Clone)]
pub struct LicenseRow {
    pub id: String,
    pub product: String,
    pub spec: String,
    pub enabled: bool,
    pub transfer_count: u32,
}

/// Opens (creating) the database at `path` in WAL mode.
pub fn open(path: &Path) -> rusqlite::Result<Connection> {
    let conn = Connection::open(path)?;
    conn.pragma_update(None, "journal_mode", "WAL")?;
    // NORMAL in WAL: a committed transaction survives a crash of the
    // process (it is in the WAL); only a power loss may drop the last ones.
    conn.pragma_update(None, "synchronous", "NORMAL")?;
    conn.pragma_update(None, "foreign_keys", "ON")?;
    conn.execute_batch(SCHEMA)?;
    Ok(conn)
}

fn internal(e: rusqlite::Error) -> ApiError {
    ApiError::internal(format!("database: {e}"))
}

/// Runs `f` in an immediate (write-locked) transaction.
pub fn write<T>(
    conn: &mut Connection,
    f: impl FnOnce(&rusqlite::Transaction<'_>) -> Result<T, ApiError>,
) -> Result<T, ApiError> {
    let tx = conn
        .transaction_with_behavior(TransactionBehavior::Immediate)
        .map_err(internal)?;
    let value = f(&tx)?;
    tx.commit().map_err(internal)?;
    Ok(value)
}

pub fn insert_product(
    tx: &rusqlite::Transaction<'_>,
    code: &str,
    name: &str,
    api_key: &[u8],
) -> Result<(), ApiError> {
    let n = tx
        .execute(
            "INSERT OR IGNORE INTO products (code, name, api_key) VALUES (?1, ?2, ?3)",
            params![code, name, api_key],
        )
        .map_err(internal)?;
    if n == 0 {
        return Err(ApiError::conflict(
            "product_exists",
            "a product with this code exists",
        ));
    }
    Ok(())
}

pub fn product_key(conn: &Connection, code: &str) -> Result<Option<Vec<u8>>, ApiError> {
    conn.query_row(
        "SELECT api_key FROM products WHERE code = ?1",
        params![code],
        |r| r.get(0),
    )
    .optional()
    .map_err(internal)
}

pub fn insert_license(
    tx: &rusqlite::Transaction<'_>,
    id: &str,
    product: &str,
    license_key: &str,
    spec: &str,
) -> Result<(), ApiError> {
    let exists: bool = tx
        .query_row(
            "SELECT 1 FROM products WHERE code = ?1",
            params![product],
            |_| Ok(true),
        )
        .optional()
        .map_err(internal)?
        .unwrap_or(false);
    if !exists {
        return Err(ApiError::not_found("product_not_found", "no such product"));
    }
    let n = tx
        .execute(
            "INSERT OR IGNORE INTO licenses (id, product, license_key, spec) VALUES (?1, ?2, ?3, ?4)",
            params![id, product, license_key, spec],
        )
        .map_err(internal)?;
    if n == 0 {
        return Err(ApiError::conflict(
            "license_exists",
            "a license with this id, or this key for the product, exists",
        ));
    }
    Ok(())
}

fn license_from(r: &rusqlite::Row<'_>) -> rusqlite::Result<LicenseRow> {
    Ok(LicenseRow {
        id: r.get(0)?,
        product: r.get(1)?,
        spec: r.get(2)?,
        enabled: r.get(3)?,
        transfer_count: r.get(4)?,
    })
}

pub fn license_by_key(
    conn: &Connection,
    product: &str,
    license_key: &str,
) -> Result<LicenseRow, ApiError> {
    conn.query_row(
        "SELECT id, product, spec, enabled, transfer_count FROM licenses
         WHERE product = ?1 AND license_key = ?2",
        params![product, license_key],
        license_from,
    )
    .optional()
    .map_err(internal)?
    .ok_or_else(|| {
        ApiError::not_found(
            "license_not_found",
            "no license with this key for the product",
        )
    })
}

pub fn license_by_id(conn: &Connection, id: &str) -> Result<LicenseRow, ApiError> {
    conn.query_row(
        "SELECT id, product, spec, enabled, transfer_count FROM licenses WHERE id = ?1",
        params![id],
        license_from,
    )
    .optional()
    .map_err(internal)?
    .ok_or_else(|| ApiError::not_found("license_not_found", "no such license"))
}

pub fn set_enabled(
    tx: &rusqlite::Transaction<'_>,
    id: &str,
    enabled: bool,
) -> Result<(), ApiError> {
    let n = tx
        .execute(
            "UPDATE licenses SET enabled = ?2 WHERE id = ?1",
            params![id, enabled],
        )
        .map_err(internal)?;
    if n == 0 {
        return Err(ApiError::not_found("license_not_found", "no such license"));
    }
    Ok(())
}

/// Devices the license is activated on (a counter kept with the rows, so
/// it costs no scan).
pub fn activation_count(conn: &Connection, license_id: &str) -> Result<u32, ApiError> {
    conn.query_row(
        "SELECT activations FROM licenses WHERE id = ?1",
        params![license_id],
        |r| r.get(0),
    )
    .map_err(internal)
}

pub fn is_activated(conn: &Connection, license_id: &str, device: &str) -> Result<bool, ApiError> {
    Ok(conn
        .query_row(
            "SELECT 1 FROM activations WHERE license_id = ?1 AND device = ?2",
            params![license_id, device],
            |_| Ok(true),
        )
        .optional()
        .map_err(internal)?
        .unwrap_or(false))
}

pub fn insert_activation(
    tx: &rusqlite::Transaction<'_>,
    license_id: &str,
    device: &str,
    fingerprint: &str,
    at: i64,
) -> Result<(), ApiError> {
    if is_activated(tx, license_id, device)? {
        tx.execute(
            "UPDATE activations SET fingerprint = ?3 WHERE license_id = ?1 AND device = ?2",
            params![license_id, device, fingerprint],
        )
        .map_err(internal)?;
        return Ok(());
    }
    tx.execute(
        "INSERT INTO activations (license_id, device, fingerprint, activated_at)
         VALUES (?1, ?2, ?3, ?4)",
        params![license_id, device, fingerprint, at],
    )
    .map_err(internal)?;
    tx.execute(
        "UPDATE licenses SET activations = activations + 1 WHERE id = ?1",
        params![license_id],
    )
    .map_err(internal)?;
    Ok(())
}

pub fn delete_activation(
    tx: &rusqlite::Transaction<'_>,
    license_id: &str,
    device: &str,
) -> Result<bool, ApiError> {
    let n = tx
        .execute(
            "DELETE FROM activations WHERE license_id = ?1 AND device = ?2",
            params![license_id, device],
        )
        .map_err(internal)?;
    delete_lease(tx, license_id, device)?;
    if n > 0 {
        tx.execute(
            "UPDATE licenses SET transfer_count = transfer_count + 1,
             activations = activations - 1 WHERE id = ?1",
            params![license_id],
        )
        .map_err(internal)?;
    }
    Ok(n > 0)
}

/// Seats held at `now` by devices other than `device`.
pub fn seats_held_by_others(
    conn: &Connection,
    license_id: &str,
    device: &str,
    now: i64,
) -> Result<u32, ApiError> {
    conn.query_row(
        "SELECT COUNT(*) FROM leases WHERE license_id = ?1 AND device != ?2 AND expires_at > ?3",
        params![license_id, device, now],
        |r| r.get(0),
    )
    .map_err(internal)
}

pub fn seats_held(conn: &Connection, license_id: &str, now: i64) -> Result<u32, ApiError> {
    conn.query_row(
        "SELECT COUNT(*) FROM leases WHERE license_id = ?1 AND expires_at > ?2",
        params![license_id, now],
        |r| r.get(0),
    )
    .map_err(internal)
}

/// Whether `device` holds a live lease.
pub fn has_live_lease(
    conn: &Connection,
    license_id: &str,
    device: &str,
    now: i64,
) -> Result<bool, ApiError> {
    Ok(conn
        .query_row(
            "SELECT 1 FROM leases WHERE license_id = ?1 AND device = ?2 AND expires_at > ?3",
            params![license_id, device, now],
            |_| Ok(true),
        )
        .optional()
        .map_err(internal)?
        .unwrap_or(false))
}

pub fn upsert_lease(
    tx: &rusqlite::Transaction<'_>,
    id: &str,
    license_id: &str,
    device: &str,
    kind: &str,
    expires_at: i64,
) -> Result<(), ApiError> {
    tx.execute(
        "INSERT INTO leases (id, license_id, device, kind, expires_at) VALUES (?1, ?2, ?3, ?4, ?5)
         ON CONFLICT (license_id, device) DO UPDATE SET id = ?1, kind = ?4, expires_at = ?5",
        params![id, license_id, device, kind, expires_at],
    )
    .map_err(internal)?;
    Ok(())
}

pub fn delete_lease(
    tx: &rusqlite::Transaction<'_>,
    license_id: &str,
    device: &str,
) -> Result<bool, ApiError> {
    let n = tx
        .execute(
            "DELETE FROM leases WHERE license_id = ?1 AND device = ?2",
            params![license_id, device],
        )
        .map_err(internal)?;
    Ok(n > 0)
}

/// Inserts a consumption record unless the same (license, device, seq)
/// exists; returns whether it was new.
pub fn insert_consumption(
    tx: &rusqlite::Transaction<'_>,
    license_id: &str,
    device: &str,
    seq: u64,
    counter: &str,
    amount: u64,
    at: i64,
) -> Result<bool, ApiError> {
    let seq = i64::try_from(seq)
        .map_err(|_| ApiError::bad_request("invalid_body", "seq is too large"))?;
    let amount = i64::try_from(amount)
        .map_err(|_| ApiError::bad_request("invalid_body", "amount is too large"))?;
    let n = tx
        .execute(
            "INSERT OR IGNORE INTO consumption (license_id, device, seq, counter, amount, at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            params![license_id, device, seq, counter, amount, at],
        )
        .map_err(internal)?;
    Ok(n > 0)
}

pub fn consumed(conn: &Connection, license_id: &str, counter: &str) -> Result<u64, ApiError> {
    let total: i64 = conn
        .query_row(
            "SELECT COALESCE(SUM(amount), 0) FROM consumption WHERE license_id = ?1 AND counter = ?2",
            params![license_id, counter],
            |r| r.get(0),
        )
        .map_err(internal)?;
    Ok(u64::try_from(total).unwrap_or(0))
}
