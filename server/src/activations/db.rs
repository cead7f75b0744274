//! The queries of activations: the slots, their device keys, their users.

use serde_json::json;

use crate::database::{all, exec, exists, one};
use crate::outbox as events;
use crate::seats::db::delete_lease;
use crate::store::{args, Db, DbResult};

/// Devices the license is activated on (a counter kept with the rows, so
/// it costs no scan).
pub(crate) fn activation_count(conn: &Db<'_>, license_id: &str) -> DbResult<u32> {
    Ok(one(
        conn,
        "SELECT activations FROM licenses WHERE id = ?1",
        args![license_id],
        |r| r.get(0),
    )?
    .unwrap_or(0))
}

pub(crate) fn is_activated(conn: &Db<'_>, license_id: &str, device: &str) -> DbResult<bool> {
    exists(
        conn,
        "SELECT 1 FROM activations WHERE license_id = ?1 AND device = ?2",
        args![license_id, device],
    )
}

pub(crate) fn insert_activation(
    tx: &Db<'_>,
    license_id: &str,
    device: &str,
    fingerprint: &str,
    at: i64,
) -> DbResult<()> {
    let updated = exec(
        tx,
        "UPDATE activations SET fingerprint = ?3 WHERE license_id = ?1 AND device = ?2",
        args![license_id, device, fingerprint],
    )?;
    if updated > 0 {
        return Ok(());
    }
    exec(
        tx,
        "INSERT INTO activations (license_id, device, fingerprint, activated_at)
         VALUES (?1, ?2, ?3, ?4)",
        args![license_id, device, fingerprint, at],
    )?;
    exec(
        tx,
        "UPDATE licenses SET activations = activations + 1 WHERE id = ?1",
        args![license_id],
    )?;
    events::emit(
        tx,
        events::Kind::ActivationCreated,
        Some(license_id),
        json!({ "device": device, "by": events::actor() }),
    )
}

/// Records that the device called at `at` (an activation or a check-in),
/// with which client, for the console's device list.
pub(crate) fn seen(
    tx: &Db<'_>,
    license_id: &str,
    device: &str,
    at: i64,
    client: Option<String>,
) -> DbResult<()> {
    exec(
        tx,
        "UPDATE activations SET last_seen_at = ?3, client = COALESCE(?4, client)
         WHERE license_id = ?1 AND device = ?2",
        args![license_id, device, at, client],
    )?;
    Ok(())
}

pub(crate) fn delete_activation(tx: &Db<'_>, license_id: &str, device: &str) -> DbResult<bool> {
    remove_device(tx, license_id, device, true)
}

/// Removes the device's activation and its seat; `transfer` counts it as
/// one of the license's transfers (a customer's deactivation does; the
/// vendor's support removing a lost machine does not).
pub(crate) fn remove_device(
    tx: &Db<'_>,
    license_id: &str,
    device: &str,
    transfer: bool,
) -> DbResult<bool> {
    let n = exec(
        tx,
        "DELETE FROM activations WHERE license_id = ?1 AND device = ?2",
        args![license_id, device],
    )?;
    if transfer {
        delete_lease(tx, license_id, device)?;
    } else {
        // Support removing a machine takes its borrowed seat back too.
        crate::seats::db::keep_spans(tx, license_id, device, true)?;
        exec(
            tx,
            "DELETE FROM leases WHERE license_id = ?1 AND device = ?2",
            args![license_id, device],
        )?;
    }
    if n > 0 {
        exec(
            tx,
            "UPDATE licenses SET transfer_count = transfer_count + ?2,
             activations = activations - 1 WHERE id = ?1",
            args![license_id, i64::from(transfer)],
        )?;
        events::emit(
            tx,
            events::Kind::ActivationRemoved,
            Some(license_id),
            json!({
                "device": device,
                "by": events::actor(),
                "counted_as_transfer": transfer,
            }),
        )?;
    }
    Ok(n > 0)
}

/// A license's activated devices: id, fingerprint (JSON text) and when.
pub(crate) fn devices_of_license(
    conn: &Db<'_>,
    license_id: &str,
) -> DbResult<Vec<(String, String, i64)>> {
    all(
        conn,
        "SELECT device, fingerprint, activated_at FROM activations
         WHERE license_id = ?1 ORDER BY activated_at, device",
        args![license_id],
        |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
    )
}

// ---- offline requests ----

/// The keys an activation records: the device key its offline requests
/// are signed with, and the key of its online proofs.
#[derive(Debug, Clone, Copy)]
pub(crate) enum ActivationKey {
    /// The key of an offline activation's request files.
    Offline,
    /// The key of the device's online proofs, recorded at an online
    /// activation.
    Proof,
}

impl ActivationKey {
    fn column(self) -> &'static str {
        match self {
            ActivationKey::Offline => "device_key",
            ActivationKey::Proof => "proof_key",
        }
    }
}

/// The `which` key recorded for the activation of the license on `device`.
pub(crate) fn activation_key(
    conn: &Db<'_>,
    which: ActivationKey,
    license_id: &str,
    device: &str,
) -> DbResult<Option<String>> {
    let sql = format!(
        "SELECT {} FROM activations WHERE license_id = ?1 AND device = ?2",
        which.column()
    );
    Ok(one(conn, &sql, args![license_id, device], |r| {
        r.get::<Option<String>>(0)
    })?
    .flatten())
}

pub(crate) fn set_activation_key(
    tx: &Db<'_>,
    which: ActivationKey,
    license_id: &str,
    device: &str,
    key: &str,
) -> DbResult<()> {
    let sql = format!(
        "UPDATE activations SET {} = ?3 WHERE license_id = ?1 AND device = ?2",
        which.column()
    );
    exec(tx, &sql, args![license_id, device, key])?;
    Ok(())
}

/// Forgets both keys of a device's activation (before it records a new
/// one: a device that lost its state and came back).
pub(crate) fn forget_activation_keys(tx: &Db<'_>, license_id: &str, device: &str) -> DbResult<()> {
    exec(
        tx,
        "UPDATE activations SET device_key = NULL, proof_key = NULL WHERE license_id = ?1 AND device = ?2",
        args![license_id, device],
    )?;
    Ok(())
}

/// The fingerprint (JSON text) a device's activation of the license recorded.
pub(crate) fn activation_fingerprint(
    conn: &Db<'_>,
    license_id: &str,
    device: &str,
) -> DbResult<Option<String>> {
    one(
        conn,
        "SELECT fingerprint FROM activations WHERE license_id = ?1 AND device = ?2",
        args![license_id, device],
        |r| r.get(0),
    )
}

/// Counts one of the license's transfers.
pub(crate) fn count_transfer(tx: &Db<'_>, license_id: &str) -> DbResult<()> {
    exec(
        tx,
        "UPDATE licenses SET transfer_count = transfer_count + 1 WHERE id = ?1",
        args![license_id],
    )?;
    Ok(())
}

/// How many devices each user of the license may activate (0: no limit
/// of its own).
pub(crate) fn max_devices_per_user(conn: &Db<'_>, license_id: &str) -> DbResult<u32> {
    Ok(one(
        conn,
        "SELECT max_devices_per_user FROM licenses WHERE id = ?1",
        args![license_id],
        |r| r.get(0),
    )?
    .unwrap_or(0))
}

pub(crate) fn set_max_devices_per_user(tx: &Db<'_>, license_id: &str, max: u32) -> DbResult<()> {
    exec(
        tx,
        "UPDATE licenses SET max_devices_per_user = ?2 WHERE id = ?1",
        args![license_id, max],
    )?;
    Ok(())
}

/// The devices other than `except` that `user_id` activated the license on.
pub(crate) fn user_device_count(
    conn: &Db<'_>,
    license_id: &str,
    user_id: &str,
    except: &str,
) -> DbResult<u32> {
    Ok(one(
        conn,
        "SELECT COUNT(*) FROM activations WHERE license_id = ?1 AND user_id = ?2 AND device != ?3",
        args![license_id, user_id, except],
        |r| r.get(0),
    )?
    .unwrap_or(0))
}

/// The user a device's activation of the license belongs to, if any.
pub(crate) fn activation_user(
    conn: &Db<'_>,
    license_id: &str,
    device: &str,
) -> DbResult<Option<String>> {
    Ok(one(
        conn,
        "SELECT user_id FROM activations WHERE license_id = ?1 AND device = ?2",
        args![license_id, device],
        |r| r.get::<Option<String>>(0),
    )?
    .flatten())
}

pub(crate) fn set_activation_user(
    tx: &Db<'_>,
    license_id: &str,
    device: &str,
    user_id: &str,
) -> DbResult<()> {
    exec(
        tx,
        "UPDATE activations SET user_id = ?3 WHERE license_id = ?1 AND device = ?2",
        args![license_id, device, user_id],
    )?;
    Ok(())
}

/// Records an offline request as answered; false when it already was.
pub(crate) fn record_offline_request(tx: &Db<'_>, id: &str, at: i64) -> DbResult<bool> {
    Ok(exec(
        tx,
        "INSERT INTO offline_requests (id, at) VALUES (?1, ?2) ON CONFLICT DO NOTHING",
        args![id, at],
    )? > 0)
}

#[cfg(feature = "compat")] // only the seeds' APIs ask this
/// The devices `user_id` activated license `license_id` on, the latest
/// first.
pub(crate) fn user_devices(
    conn: &Db<'_>,
    license_id: &str,
    user_id: &str,
) -> DbResult<Vec<String>> {
    all(
        conn,
        "SELECT device FROM activations WHERE license_id = ?1 AND user_id = ?2 \
         ORDER BY activated_at DESC, device",
        args![license_id, user_id],
        |r| r.get(0),
    )
}
