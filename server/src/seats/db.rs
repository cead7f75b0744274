//! The queries of seats: leases, held and borrowed.

use crate::database::{exec, one};
use crate::store::{args, pg_row, Db, DbResult};

/// Seats held at `now` by devices other than `device`.
pub(crate) fn seats_held_by_others(
    conn: &Db<'_>,
    license_id: &str,
    device: &str,
    now: i64,
) -> DbResult<u32> {
    Ok(one(
        conn,
        "SELECT COUNT(*) FROM leases WHERE license_id = ?1 AND device != ?2 AND expires_at > ?3",
        args![license_id, device, now],
        |r| r.get(0),
    )?
    .unwrap_or(0))
}

pub(crate) fn seats_held(conn: &Db<'_>, license_id: &str, now: i64) -> DbResult<u32> {
    Ok(one(
        conn,
        "SELECT COUNT(*) FROM leases WHERE license_id = ?1 AND expires_at > ?2",
        args![license_id, now],
        |r| r.get(0),
    )?
    .unwrap_or(0))
}

/// Records the device's lease. A borrow that has not ended is never cut
/// short by a later lease of the same device: its seat stays counted until
/// its end (see [`delete_lease`]).
///
/// A lapsed lease it replaces is kept as a span of seat time (for usage
/// reports); a live one it renews keeps its start.
pub(crate) fn upsert_lease(tx: &Db<'_>, lease: &NewLease<'_>) -> DbResult<()> {
    exec(
        tx,
        "INSERT INTO seat_spans (license_id, device, kind, started_at, ended_at)
         SELECT license_id, device, kind, COALESCE(started_at, expires_at), expires_at
         FROM leases WHERE license_id = ?1 AND device = ?2 AND expires_at <= ?3",
        args![lease.license_id, lease.device, lease.now],
    )?;
    exec(
        tx,
        "INSERT INTO leases (id, license_id, device, kind, expires_at, started_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6)
         ON CONFLICT (license_id, device) DO UPDATE SET id = ?1,
           kind = CASE WHEN leases.kind = 'borrow' AND leases.expires_at > ?5 THEN 'borrow' ELSE ?4 END,
           started_at = CASE WHEN leases.expires_at > ?6 THEN leases.started_at ELSE ?6 END,
           expires_at = CASE WHEN leases.expires_at > ?5 THEN leases.expires_at ELSE ?5 END",
        args![
            lease.id,
            lease.license_id,
            lease.device,
            lease.kind,
            lease.expires_at,
            lease.now
        ],
    )?;
    Ok(())
}

/// A lease to record.
pub(crate) struct NewLease<'a> {
    pub(crate) id: &'a str,
    pub(crate) license_id: &'a str,
    pub(crate) device: &'a str,
    /// `floating` or `borrow`.
    pub(crate) kind: &'a str,
    pub(crate) now: i64,
    pub(crate) expires_at: i64,
}

/// Keeps the seat time of the device's leases about to be deleted (its
/// floating one, and its borrowed one too with `borrows_too`) as spans
/// ending now, or at their end if that came first.
pub(crate) fn keep_spans(
    tx: &Db<'_>,
    license_id: &str,
    device: &str,
    borrows_too: bool,
) -> DbResult<()> {
    let now = crate::outbox::context::now();
    exec(
        tx,
        "INSERT INTO seat_spans (license_id, device, kind, started_at, ended_at)
         SELECT license_id, device, kind, COALESCE(started_at, expires_at),
                CASE WHEN expires_at < ?3 THEN expires_at ELSE ?3 END
         FROM leases WHERE license_id = ?1 AND device = ?2 AND (kind != 'borrow' OR ?4 = 1)",
        args![license_id, device, now, borrows_too],
    )?;
    // The console's plot of seats taken per day (crate::reports::db).
    exec(
        tx,
        "INSERT INTO daily_totals (metric, day, amount)
         SELECT 'seats', COALESCE(started_at, expires_at) / 86400, COUNT(*)
         FROM leases WHERE license_id = ?1 AND device = ?2 AND (kind != 'borrow' OR ?3 = 1)
         GROUP BY COALESCE(started_at, expires_at) / 86400
         ON CONFLICT (metric, day) DO UPDATE SET amount = daily_totals.amount + excluded.amount",
        args![license_id, device, borrows_too],
    )?;
    Ok(())
}

/// Renews `device`'s live lease to `expires_at`; false when it has none.
pub(crate) fn renew_lease(
    tx: &Db<'_>,
    id: &str,
    license_id: &str,
    device: &str,
    now: i64,
    expires_at: i64,
) -> DbResult<bool> {
    Ok(exec(
        tx,
        "UPDATE leases SET id = ?1, expires_at = ?5
         WHERE license_id = ?2 AND device = ?3 AND expires_at > ?4 AND kind = 'floating'",
        args![id, license_id, device, now, expires_at],
    )? > 0)
}

/// Frees the device's floating seat. A borrowed seat is not freed: it
/// stays counted until the borrow ends, returned early or not, because a
/// device can restore the borrow it gave back from a copy of its state
/// (SECURITY.md); it lapses at its `expires_at` like any lease.
pub(crate) fn delete_lease(tx: &Db<'_>, license_id: &str, device: &str) -> DbResult<bool> {
    keep_spans(tx, license_id, device, false)?;
    Ok(exec(
        tx,
        "DELETE FROM leases WHERE license_id = ?1 AND device = ?2 AND kind != 'borrow'",
        args![license_id, device],
    )? > 0)
}

/// When `device`'s borrowed seat of license `license_id` ends, if it holds
/// one that has not lapsed at `now`.
pub(crate) fn borrowed_until(
    conn: &Db<'_>,
    license_id: &str,
    device: &str,
    now: i64,
) -> DbResult<Option<i64>> {
    one(
        conn,
        "SELECT expires_at FROM leases WHERE license_id = ?1 AND device = ?2 \
         AND kind = 'borrow' AND expires_at > ?3",
        args![license_id, device, now],
        |r| r.get(0),
    )
}

/// What a heartbeat in one statement asks of the database.
pub(crate) struct Beat<'a> {
    pub(crate) product: &'a str,
    pub(crate) nonce: &'a str,
    pub(crate) nonce_expires: i64,
    pub(crate) lease_id: &'a str,
    pub(crate) now: i64,
    pub(crate) expires_at: i64,
    pub(crate) license_id: &'a str,
    /// The license key the request named, or None when it named the id.
    pub(crate) license_key: Option<&'a str>,
    /// The revision whose floating timeout `expires_at` was reckoned with.
    pub(crate) revision: i64,
    pub(crate) device: &'a str,
    /// The key the request's device proof was checked against (None: the
    /// activation recorded none, and the request needed no proof).
    pub(crate) proof_key: Option<&'a str>,
}

/// For PostgreSQL only (SQLite has no INSERT in a WITH), in one statement
/// awaited on the runtime: spends the nonce, and renews the device's live
/// floating seat if the nonce was fresh, the license is enabled and still
/// at `revision`, and the activation records `proof_key`. Answers whether
/// the nonce was fresh and whether the seat was renewed.
pub(crate) async fn beat(pool: &deadpool_postgres::Pool, b: &Beat<'_>) -> DbResult<(bool, bool)> {
    let row = pg_row(
        pool,
        "WITH spent AS (
            INSERT INTO nonces (product, nonce, expires) VALUES (?1, ?2, ?3)
            ON CONFLICT DO NOTHING RETURNING 1
        ), renewed AS (
            UPDATE leases SET id = ?4, expires_at = ?6
            WHERE license_id = ?7 AND device = ?10 AND expires_at > ?5 AND kind = 'floating'
              AND EXISTS (SELECT 1 FROM spent)
              AND EXISTS (SELECT 1 FROM licenses WHERE id = ?7 AND product = ?1
                  AND license_key = COALESCE(?8, license_key) AND enabled <> 0 AND revision = ?9)
              AND COALESCE((SELECT proof_key FROM activations
                  WHERE license_id = ?7 AND device = ?10), '') = COALESCE(?11, '')
            RETURNING 1
        )
        SELECT (SELECT COUNT(*) FROM spent), (SELECT COUNT(*) FROM renewed)",
        args![
            b.product,
            b.nonce,
            b.nonce_expires,
            b.lease_id,
            b.now,
            b.expires_at,
            b.license_id,
            b.license_key,
            b.revision,
            b.device,
            b.proof_key
        ],
    )
    .await?;
    match row {
        Some(r) => Ok((r.get::<i64>(0)? == 1, r.get::<i64>(1)? == 1)),
        None => Ok((false, false)),
    }
}
