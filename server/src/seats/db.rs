//! The queries of seats: leases, held and borrowed.

use crate::database::{exec, one};
use crate::store::{args, Db, DbResult};

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
pub(crate) fn upsert_lease(
    tx: &Db<'_>,
    id: &str,
    license_id: &str,
    device: &str,
    kind: &str,
    expires_at: i64,
) -> DbResult<()> {
    exec(
        tx,
        "INSERT INTO leases (id, license_id, device, kind, expires_at) VALUES (?1, ?2, ?3, ?4, ?5)
         ON CONFLICT (license_id, device) DO UPDATE SET id = ?1,
           kind = CASE WHEN leases.kind = 'borrow' AND leases.expires_at > ?5 THEN 'borrow' ELSE ?4 END,
           expires_at = CASE WHEN leases.expires_at > ?5 THEN leases.expires_at ELSE ?5 END",
        args![id, license_id, device, kind, expires_at],
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
