//! The queries of consumption records and their totals.

use crate::database::{all, exec, exists, one};
use crate::store::{args, Db, DbError, DbResult};

/// What became of an uploaded record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Inserted {
    /// Counted.
    New,
    /// Already counted: the same record sent again.
    Retry,
    /// Its sequence number was taken by another record (another chain MAC,
    /// or another counter, amount or range): the device's journal started
    /// again. Counted, and it opens the device's next epoch, where the
    /// rest of that journal's records land.
    Conflict,
}

/// The sequence number after every one the device's records hold on the
/// license: where a record of a device that keeps no journal of its own
/// (LicenseSpring's SDK) goes.
#[cfg(feature = "compat")] // only the seeds' APIs ask this
pub(crate) fn next_seq(tx: &Db<'_>, license_id: &str, device: &str) -> DbResult<u64> {
    let last: i64 = one(
        tx,
        "SELECT CAST(COALESCE(MAX(seq), 0) AS BIGINT) FROM consumption
         WHERE license_id = ?1 AND device = ?2",
        args![license_id, device],
        |row| row.get(0),
    )?
    .unwrap_or(0);
    u64::try_from(last)
        .ok()
        .and_then(|n| n.checked_add(1))
        .ok_or_else(|| DbError::Invalid("the device's sequence numbers are used up".to_owned()))
}

/// One uploaded record: the device's journal range `first_seq..=seq`.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Uploaded<'a> {
    pub(crate) first_seq: u64,
    pub(crate) seq: u64,
    pub(crate) counter: &'a str,
    pub(crate) amount: u64,
    /// The chain MAC of the range's last record (hex), from SDKs that send it.
    pub(crate) mac: Option<&'a str>,
}

/// Inserts a consumption record in the device's current epoch unless the
/// same record ends at `seq` there already. A range (the device compacted
/// its journal before the upload was acknowledged) may cover records of the
/// same counter sent before: their amounts are in its total, so only the
/// rest is added. A different record at a taken `seq` is a journal that
/// started again: it opens the next epoch (SECURITY.md, issue 34 finding 7).
pub(crate) fn insert_consumption(
    tx: &Db<'_>,
    license_id: &str,
    device: &str,
    r: Uploaded<'_>,
    at: i64,
) -> DbResult<Inserted> {
    let too_large = |what| DbError::Invalid(format!("{what} is too large"));
    let seq = i64::try_from(r.seq).map_err(|_| too_large("seq"))?;
    let first = i64::try_from(r.first_seq).map_err(|_| too_large("first_seq"))?;
    let amount = i64::try_from(r.amount).map_err(|_| too_large("amount"))?;
    if first > seq {
        return Err(DbError::Invalid("first_seq is after seq".to_owned()));
    }
    // The same record, sent again after its journal's epoch closed (a late
    // retry from the journal before a restart): its MAC names it.
    if let Some(mac) = r.mac {
        if exists(
            tx,
            "SELECT 1 FROM consumption WHERE license_id = ?1 AND device = ?2 AND seq = ?3 AND mac = ?4",
            args![license_id, device, seq, mac],
        )? {
            return Ok(Inserted::Retry);
        }
    }
    let epoch: i64 = one(
        tx,
        "SELECT CAST(COALESCE(MAX(epoch), 0) AS BIGINT) FROM consumption
         WHERE license_id = ?1 AND device = ?2",
        args![license_id, device],
        |row| row.get(0),
    )?
    .unwrap_or(0);
    // The record at `seq` in this epoch, as it was sent: its range, counter,
    // MAC, and amount (what it added plus what it covered).
    let existing: Option<(i64, String, Option<String>)> = one(
        tx,
        "SELECT COALESCE(first_seq, seq), counter, mac FROM consumption
         WHERE license_id = ?1 AND device = ?2 AND epoch = ?3 AND seq = ?4",
        args![license_id, device, epoch, seq],
        |row| Ok((row.get(0)?, row.get(1)?, row.get(2)?)),
    )?;
    let mut outcome = Inserted::New;
    let mut epoch = epoch;
    if let Some((stored_first, stored_counter, stored_mac)) = existing {
        let sent_before = stored_first == first
            && stored_counter == r.counter
            && match (stored_mac.as_deref(), r.mac) {
                (Some(a), Some(b)) => a == b,
                // An SDK that sends no MAC: the range and counter decide.
                _ => true,
            }
            && covered(tx, license_id, device, epoch, r.counter, first, seq)? == amount;
        if sent_before {
            return Ok(Inserted::Retry);
        }
        outcome = Inserted::Conflict;
        epoch = epoch
            .checked_add(1)
            .ok_or_else(|| too_large("the device's epoch"))?;
    }
    let covered = covered(tx, license_id, device, epoch, r.counter, first, seq)?;
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
        args![license_id, r.counter],
        |row| row.get(0),
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
        "INSERT INTO consumption (license_id, device, epoch, seq, counter, amount, at, first_seq, mac)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
        args![
            license_id,
            device,
            epoch,
            seq,
            r.counter,
            amount - covered,
            at,
            first,
            r.mac
        ],
    )?;
    crate::reports::db::add_to_day(
        tx,
        &format!("consumption:{}", r.counter),
        at.div_euclid(86_400),
        amount - covered,
    )?;
    Ok(outcome)
}

/// What the records of `counter` inside `first..=seq` of one epoch add up
/// to (a range covers the records it was compacted from).
fn covered(
    tx: &Db<'_>,
    license_id: &str,
    device: &str,
    epoch: i64,
    counter: &str,
    first: i64,
    seq: i64,
) -> DbResult<i64> {
    Ok(one(
        tx,
        "SELECT CAST(COALESCE(SUM(amount), 0) AS BIGINT) FROM consumption
         WHERE license_id = ?1 AND device = ?2 AND epoch = ?3 AND counter = ?4
           AND COALESCE(first_seq, seq) >= ?5 AND seq <= ?6",
        args![license_id, device, epoch, counter, first, seq],
        |row| row.get(0),
    )?
    .unwrap_or(0))
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
