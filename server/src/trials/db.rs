//! The queries of trials.

use crate::database::{exec, one};
use crate::store::{args, Db, DbResult};

// ---- trials ----

pub(crate) fn trial_of(conn: &Db<'_>, product: &str, device: &str) -> DbResult<Option<String>> {
    one(
        conn,
        "SELECT license_id FROM trials WHERE product = ?1 AND device = ?2",
        args![product, device],
        |r| r.get(0),
    )
}

/// The trial taken by a device that shares one of `components` (name and
/// hash pairs that name a machine) with the device, if any.
pub(crate) fn trial_by_components<'a>(
    conn: &Db<'_>,
    product: &str,
    components: impl IntoIterator<Item = (&'a str, &'a str)>,
) -> DbResult<Option<String>> {
    for (component, hash) in components {
        let found = one(
            conn,
            "SELECT license_id FROM trial_components \
             WHERE product = ?1 AND component = ?2 AND hash = ?3",
            args![product, component, hash],
            |r| r.get(0),
        )?;
        if found.is_some() {
            return Ok(found);
        }
    }
    Ok(None)
}

/// Records the trial `license_id` of `device` (its fingerprint id) and of
/// the `components` that name its machine.
pub(crate) fn insert_trial<'a>(
    tx: &Db<'_>,
    product: &str,
    device: &str,
    components: impl IntoIterator<Item = (&'a str, &'a str)>,
    license_id: &str,
) -> DbResult<()> {
    exec(
        tx,
        "INSERT INTO trials (product, device, license_id) VALUES (?1, ?2, ?3)",
        args![product, device, license_id],
    )?;
    for (component, hash) in components {
        exec(
            tx,
            "INSERT INTO trial_components (product, component, hash, license_id) \
             VALUES (?1, ?2, ?3, ?4) ON CONFLICT DO NOTHING",
            args![product, component, hash, license_id],
        )?;
    }
    crate::outbox::emit(
        tx,
        crate::outbox::Kind::TrialStarted,
        Some(license_id),
        serde_json::json!({ "device": device }),
    )
}
