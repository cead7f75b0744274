//! The queries of relays: the delegations the server signed and the usage
//! the relays reported.

use crate::database::{all, exec, one};
use crate::store::{args, Db, DbResult, Row};

/// A delegation the server signed.
#[derive(Debug, Clone)]
pub(crate) struct RelayRow {
    pub delegation: String,
    pub license_id: String,
    pub relay_key: String,
    pub device: String,
    pub seats: u32,
    pub issued_at: i64,
    pub expires_at: i64,
}

const COLUMNS: &str = "delegation, license_id, relay_key, device, seats, issued_at, expires_at";

fn relay_from(r: &Row) -> DbResult<RelayRow> {
    Ok(RelayRow {
        delegation: r.get(0)?,
        license_id: r.get(1)?,
        relay_key: r.get(2)?,
        device: r.get(3)?,
        seats: u32::try_from(r.get::<i64>(4)?).unwrap_or(0),
        issued_at: r.get(5)?,
        expires_at: r.get(6)?,
    })
}

/// The license's delegations still in force at `now`, newest first.
pub(crate) fn live_relays(conn: &Db<'_>, license_id: &str, now: i64) -> DbResult<Vec<RelayRow>> {
    all(
        conn,
        &format!(
            "SELECT {COLUMNS} FROM relays WHERE license_id = ?1 AND expires_at > ?2 ORDER BY issued_at DESC"
        ),
        args![license_id, now],
        relay_from,
    )
}

/// Every delegation of the license, newest first.
pub(crate) fn relays_of(conn: &Db<'_>, license_id: &str) -> DbResult<Vec<RelayRow>> {
    all(
        conn,
        &format!("SELECT {COLUMNS} FROM relays WHERE license_id = ?1 ORDER BY issued_at DESC"),
        args![license_id],
        relay_from,
    )
}

/// A delegation by id.
pub(crate) fn relay(conn: &Db<'_>, delegation: &str) -> DbResult<Option<RelayRow>> {
    one(
        conn,
        &format!("SELECT {COLUMNS} FROM relays WHERE delegation = ?1"),
        args![delegation],
        relay_from,
    )
}

pub(crate) fn insert_relay(tx: &Db<'_>, r: &RelayRow) -> DbResult<()> {
    exec(
        tx,
        "INSERT INTO relays (delegation, license_id, relay_key, device, seats, issued_at, expires_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
        args![
            r.delegation.as_str(),
            r.license_id.as_str(),
            r.relay_key.as_str(),
            r.device.as_str(),
            i64::from(r.seats),
            r.issued_at,
            r.expires_at
        ],
    )?;
    Ok(())
}

/// One day of a relay's usage, as kept.
#[derive(Debug, Clone)]
pub(crate) struct UsageRow {
    pub relay_key: String,
    pub day: i64,
    pub seat_seconds: i64,
    pub peak: i64,
    pub grants: i64,
    pub denials: i64,
}

/// Records a day, replacing what an earlier report said of it (a relay
/// reports whole days, each later report the newer count).
pub(crate) fn put_usage(tx: &Db<'_>, license_id: &str, u: &UsageRow) -> DbResult<()> {
    exec(
        tx,
        "DELETE FROM relay_usage WHERE license_id = ?1 AND relay_key = ?2 AND day = ?3",
        args![license_id, u.relay_key.as_str(), u.day],
    )?;
    exec(
        tx,
        "INSERT INTO relay_usage (license_id, relay_key, day, seat_seconds, peak, grants, denials)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
        args![
            license_id,
            u.relay_key.as_str(),
            u.day,
            u.seat_seconds,
            u.peak,
            u.grants,
            u.denials
        ],
    )?;
    Ok(())
}

/// The license's relay usage, oldest day first.
pub(crate) fn usage_of(conn: &Db<'_>, license_id: &str) -> DbResult<Vec<UsageRow>> {
    all(
        conn,
        "SELECT relay_key, day, seat_seconds, peak, grants, denials FROM relay_usage
         WHERE license_id = ?1 ORDER BY day, relay_key",
        args![license_id],
        |r| {
            Ok(UsageRow {
                relay_key: r.get(0)?,
                day: r.get(1)?,
                seat_seconds: r.get(2)?,
                peak: r.get(3)?,
                grants: r.get(4)?,
                denials: r.get(5)?,
            })
        },
    )
}
