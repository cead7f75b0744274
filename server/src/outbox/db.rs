//! The outbox's queries: an event and its deliveries, when each license
//! ends, and the thresholds of consumption the vendor set.

use serde_json::Value;

use super::kind::Kind;
use crate::store::{args, exec, one, Db, DbError, DbResult};

/// Writes an event and a pending delivery of it for each webhook that
/// asked for its kind. On PostgreSQL the license's row is locked first, so
/// the events of one license take ids in the order their transactions
/// commit (the sender delivers them in id order).
pub(crate) fn insert_event(
    tx: &Db<'_>,
    at: i64,
    kind: Kind,
    license_id: Option<&str>,
    data: &Value,
) -> DbResult<i64> {
    let (product, account) = match license_id {
        Some(id) => one(
            tx,
            if tx.is_pg() {
                "SELECT product, account FROM licenses WHERE id = ?1 FOR UPDATE"
            } else {
                "SELECT product, account FROM licenses WHERE id = ?1"
            },
            args![id],
            |r| Ok((r.get::<Option<String>>(0)?, r.get::<Option<String>>(1)?)),
        )?
        .unwrap_or((None, None)),
        None => (None, None),
    };
    let product = match (&product, data.get("product").and_then(Value::as_str)) {
        (None, Some(p)) => Some(p.to_owned()),
        _ => product,
    };
    let data = serde_json::to_string(data).map_err(|e| DbError::Invalid(e.to_string()))?;
    let id: i64 = one(
        tx,
        "INSERT INTO events (at, kind, license_id, product, account, data)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6) RETURNING id",
        args![at, kind.name(), license_id, product, account, data],
        |r| r.get(0),
    )?
    .ok_or(DbError::Invalid("the event got no id".into()))?;
    // A webhook's kinds are a JSON array of known names: a name in quotes
    // is found only as a whole.
    exec(
        tx,
        "INSERT INTO deliveries (webhook_id, event_id, queue, state, attempts, next_at)
         SELECT id, ?1, ?2, 'pending', 0, ?3 FROM webhooks
         WHERE events = '[\"*\"]' OR events LIKE ?4",
        args![
            id,
            license_id.unwrap_or(""),
            at,
            format!("%\"{}\"%", kind.name())
        ],
    )?;
    Ok(id)
}

/// The percentages of a consumption limit whose crossing is an event.
pub(crate) fn thresholds(conn: &Db<'_>) -> DbResult<Vec<u8>> {
    let text: Option<String> = one(
        conn,
        "SELECT value FROM settings WHERE key = 'consumption_thresholds'",
        args![],
        |r| r.get(0),
    )?;
    Ok(text
        .and_then(|t| serde_json::from_str(&t).ok())
        .unwrap_or_else(|| vec![80, 100]))
}

pub(crate) fn set_thresholds(tx: &Db<'_>, percents: &[u8]) -> DbResult<()> {
    let text = serde_json::to_string(percents).map_err(|e| DbError::Invalid(e.to_string()))?;
    exec(
        tx,
        "INSERT INTO settings (key, value) VALUES ('consumption_thresholds', ?1)
         ON CONFLICT (key) DO UPDATE SET value = ?1",
        args![text],
    )?;
    Ok(())
}

/// Records when a license ends (None: it does not); the end it had
/// before, if any. An end moved later is news again (its expiry will be
/// reported); one moved earlier keeps what was reported.
pub(crate) fn set_license_end(
    tx: &Db<'_>,
    license_id: &str,
    ends_at: Option<i64>,
) -> DbResult<Option<i64>> {
    let before: Option<i64> = one(
        tx,
        "SELECT ends_at FROM license_ends WHERE license_id = ?1",
        args![license_id],
        |r| r.get(0),
    )?;
    match ends_at {
        None => {
            exec(
                tx,
                "DELETE FROM license_ends WHERE license_id = ?1",
                args![license_id],
            )?;
        }
        Some(end) if before != Some(end) => {
            exec(
                tx,
                "INSERT INTO license_ends (license_id, ends_at, reported) VALUES (?1, ?2, 0)
                 ON CONFLICT (license_id) DO UPDATE SET ends_at = ?2,
                   reported = CASE WHEN ?2 > license_ends.ends_at THEN 0
                                   ELSE license_ends.reported END",
                args![license_id, end],
            )?;
        }
        Some(_) => {}
    }
    Ok(before)
}
