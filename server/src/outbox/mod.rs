//! Writing events (docs/EVENTS.md): each in the transaction of the change
//! it reports (an outbox), with a pending delivery for each webhook that
//! asked for its kind. Every aggregate's queries write here, and the
//! database layer calls it when a transaction commits (and after one rolls
//! back, for the events of a refusal), so it stands below them all and
//! names the database only through the store; `events/` sends what it
//! wrote and serves it to the admin API.
//!
//! - [`kind`]: the kinds of event;
//! - [`context`]: the time of a database task and the events it wrote or
//!   deferred;
//! - [`db`]: the rows it writes.

use serde_json::Value;

pub(crate) mod context;
pub(crate) mod db;
mod kind;

pub(crate) use kind::Kind;

use crate::store::{Db, DbResult};

/// Writes an event of `kind` about `license_id` (if any) in the caller's
/// transaction, with one delivery for each webhook that asked for it.
/// Its time is the task's ([`context::now`]).
pub(crate) fn emit(tx: &Db<'_>, kind: Kind, license_id: Option<&str>, data: Value) -> DbResult<()> {
    db::insert_event(tx, context::now(), kind, license_id, &data)?;
    context::note_emitted();
    Ok(())
}

/// Keeps an event that reports a refusal, to write once the refused
/// transaction is rolled back (or with it, if the caller goes on).
pub(crate) fn emit_after(kind: Kind, license_id: Option<&str>, data: Value) {
    context::defer(context::Deferred {
        kind,
        license_id: license_id.map(str::to_owned),
        data,
    });
}

/// Who made the change this transaction makes: the admin token's (or
/// staff member's) name when an admin request makes it, else `device`.
pub(crate) fn actor() -> String {
    crate::audit::context::actor().unwrap_or_else(|| "device".to_owned())
}

/// When a license's spec says it ends (`validity_period`), in Unix
/// seconds; None for a license without an end.
pub(crate) fn license_end(spec: &str) -> Option<i64> {
    let spec: Value = serde_json::from_str(spec).ok()?;
    let end = spec.get("validity_period")?.as_str()?;
    end.parse::<tessera::Time>().ok().map(tessera::Time::unix)
}

/// Records license `id`'s end after its spec was written, in the same
/// transaction: a new end later than the one before is a renewal.
pub(crate) fn license_written(tx: &Db<'_>, id: &str, spec: &str) -> DbResult<()> {
    let end = license_end(spec);
    let before = db::set_license_end(tx, id, end)?;
    if let (Some(before), Some(end)) = (before, end) {
        if end > before {
            emit(
                tx,
                Kind::LicenseRenewed,
                Some(id),
                serde_json::json!({
                    "ends_at": tessera::Time::from_unix(end).map(|t| t.to_string()),
                    "ended_before_at": tessera::Time::from_unix(before).map(|t| t.to_string()),
                }),
            )?;
        }
    }
    Ok(())
}
