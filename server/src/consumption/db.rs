//! The queries of consumption records and their totals.

use crate::database::{all, exec, exists, one};
use crate::store::{args, Db, DbError, DbResult};

/// Inserts a consumption record for the device's journal range
/// `first_seq..=seq` unless one ending at `seq` exists; returns whether it
/// was new. A range (the device compacted its journal before the upload
/// was acknowledged) may cover records of the same counter sent before:
/// their amounts are in its total, so only the rest is added.
#[allow(clippy::too_many_arguments)]
pub(crate) fn insert_consumption(
    tx: &Db<'_>,
    license_id: &str,
    device: &str,
    first_seq: u64,
    seq: u64,
    counter: &str,
    amount: u64,
    at: i64,
) -> DbResult<bool> {
    let too_large = |what| DbError::Invalid(format!("{what} is too large"));
    let seq = i64::try_from(seq).map_err(|_| too_large("seq"))?;
    let first = i64::try_from(first_seq).map_err(|_| too_large("first_seq"))?;
    let amount = i64::try_from(amount).map_err(|_| too_large("amount"))?;
    if first > seq {
        return Err(DbError::Invalid("first_seq is after seq".to_owned()));
    }
    if exists(
        tx,
        "SELECT 1 FROM consumption WHERE license_id = ?1 AND device = ?2 AND seq = ?3",
        args![license_id, device, seq],
    )? {
        return Ok(false);
    }
    let covered: i64 = one(
        tx,
        "SELECT CAST(COALESCE(SUM(amount), 0) AS BIGINT) FROM consumption
         WHERE license_id = ?1 AND device = ?2 AND counter = ?3
           AND COALESCE(first_seq, seq) >= ?4 AND seq <= ?5",
        args![license_id, device, counter, first, seq],
        |r| r.get(0),
    )?
    .unwrap_or(0);
    if covered > amount {
        return Err(DbError::Invalid(
            "the range's amount is less than the records it covers".to_owned(),
        ));
    }
    // Every counter's total stays within i64, so no later SUM overflows
    // (one device's 2^63-1 once broke every upload of the counter).
    let total: i64 = one(
        tx,
        "SELECT CAST(COALESCE(SUM(amount), 0) AS BIGINT) FROM consumption WHERE license_id = ?1 AND counter = ?2",
        args![license_id, counter],
        |r| r.get(0),
    )?
    .unwrap_or(0);
    if total.checked_add(amount - covered).is_none() {
        return Err(DbError::Exists(
            "consumption_limit",
            "the counter's total would pass 2^63-1",
        ));
    }
    exec(
        tx,
        "INSERT INTO consumption (license_id, device, seq, counter, amount, at, first_seq)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
        args![
            license_id,
            device,
            seq,
            counter,
            amount - covered,
            at,
            first
        ],
    )?;
    Ok(true)
}

/// Every counter's total for a license.
pub(crate) fn consumption_totals(conn: &Db<'_>, license_id: &str) -> DbResult<Vec<(String, i64)>> {
    all(
        conn,
        "SELECT counter, CAST(SUM(amount) AS BIGINT) FROM consumption WHERE license_id = ?1
         GROUP BY counter ORDER BY counter",
        args![license_id],
        |r| Ok((r.get(0)?, r.get(1)?)),
    )
}

/// A counter's total over the records received since `since` (Unix
/// seconds; `i64::MIN` for all of them): the current period of a counter
/// that resets, or its whole life.
pub(crate) fn consumed(
    conn: &Db<'_>,
    license_id: &str,
    counter: &str,
    since: i64,
) -> DbResult<u64> {
    let total: i64 = one(
        conn,
        "SELECT CAST(COALESCE(SUM(amount), 0) AS BIGINT) FROM consumption
         WHERE license_id = ?1 AND counter = ?2 AND at >= ?3",
        args![license_id, counter, since],
        |r| r.get(0),
    )?
    .unwrap_or(0);
    Ok(u64::try_from(total).unwrap_or(0))
}
