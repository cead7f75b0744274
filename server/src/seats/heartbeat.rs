//! A floating seat's heartbeat in one round trip to PostgreSQL.
//!
//! The full path of a device call (crate::device_call) spends the nonce,
//! then locks the license, reads the activation's key and renews the seat:
//! on PostgreSQL, where each statement is a round trip to another process,
//! six of them. A heartbeat is the call a floating license sends most, so
//! once a device's heartbeat has passed the full path on this instance,
//! its next ones are one statement ([`db::beat`], awaited on the runtime
//! without a blocking thread): it spends the nonce and
//! renews the device's live floating seat only if the license is enabled
//! and still at the revision whose timeout the lease was given, and the
//! activation still records the key the request's proof was checked
//! against. What this instance remembers only chooses what the statement
//! asks; the database decides. A statement that renews nothing sends the
//! call down the full path (its nonce spent), which says why.

use std::sync::Arc;

use chrono::Duration;
use tessera::format::lease::LeaseKind;

use super::db;
use super::known::{License, Name};
use tessera::protocol::bodies::{DeviceRequest, LicenseAndDevice};

use crate::database;
use crate::device_call::{finish, later, DeviceCall, Unsigned};
use crate::error::ApiError;
use crate::http::{replayed, Answer};

/// The name of the seat a call beats for, from what its body names; None
/// for a call made as a user (its password is checked on the full path
/// every time) or naming the license both ways or neither.
pub(crate) fn name_of(who: &LicenseAndDevice) -> Option<Name> {
    if who.username.is_some() {
        return None;
    }
    let license = match (&who.license_key, &who.license_id) {
        (Some(key), None) => License::Key(key.clone()),
        (None, Some(id)) => License::Id(id.clone()),
        _ => return None,
    };
    Some(Name {
        product: who.product.clone(),
        license,
        device: who.fingerprint.id.clone(),
    })
}

/// The heartbeat in one statement, when the call's nonce is still to spend
/// (only on PostgreSQL) and this instance saw the seat's heartbeat pass
/// before. None: the call takes the full path (its nonce spent or not).
pub(crate) async fn in_one_statement(
    call: &mut DeviceCall<DeviceRequest>,
) -> Result<Option<Answer>, ApiError> {
    let app = Arc::clone(&call.app);
    let (Some(nonce), Some(name)) = (call.nonce.clone(), name_of(&call.who)) else {
        return Ok(None);
    };
    if call.product != call.who.product {
        return Ok(None);
    }
    let Some(seen) = app.known_seats.get(&name) else {
        return Ok(None);
    };
    // The proof against the key the activation recorded when last seen;
    // the statement renews nothing if it records another now.
    if let Some(key) = &seen.proof_key {
        let proven = call.proof.signature.as_deref().is_some_and(|sig| {
            tessera::protocol::request::device_proof_matches(key, &call.proof.message, sig)
        });
        if !proven {
            return Ok(None);
        }
    }
    let now = app.now();
    let length = Duration::minutes(i64::from(seen.timeout_minutes));
    let lease = super::new_lease(
        &seen.license_id,
        &call.who.product,
        &call.who.fingerprint,
        LeaseKind::Floating,
        now,
        later(now, length)?,
    )?;
    let Some(pool) = app.postgres_pool() else {
        return Ok(None);
    };
    let key = match &name.license {
        License::Key(key) => Some(key.as_str()),
        License::Id(_) => None,
    };
    let beat = db::Beat {
        product: &name.product,
        nonce: &nonce.nonce,
        nonce_expires: nonce.expires,
        lease_id: &lease.id,
        now: now.timestamp(),
        expires_at: lease.expires_at.unix(),
        license_id: &seen.license_id,
        license_key: key,
        revision: seen.revision,
        device: &name.device,
        proof_key: seen.proof_key.as_deref(),
    };
    let (spent, renewed) = db::beat(pool, &beat).await?;
    if app.nonce_sweep_due(now.timestamp()) {
        let at = now.timestamp();
        app.with_db(move |_, conn| Ok(database::forget_expired(conn, at)?))
            .await?;
    }
    if !spent {
        return Err(replayed());
    }
    call.nonce = None;
    if !renewed {
        app.known_seats.forget(&name);
        return Ok(None);
    }
    let value = finish(
        &app,
        Unsigned::Lease(Box::new(lease), None, seen.seats_total),
    )?;
    Ok(Some(Answer(value)))
}
