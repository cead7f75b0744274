//! The queries of events, webhooks and their deliveries.

use crate::store::{all, exec, one};
use crate::store::{args, Db, DbError, DbResult};

/// An event as stored.
pub(crate) struct EventRow {
    pub(crate) id: i64,
    pub(crate) at: i64,
    pub(crate) kind: String,
    pub(crate) license_id: Option<String>,
    pub(crate) product: Option<String>,
    pub(crate) account: Option<String>,
    pub(crate) data: String,
}

const EVENT_COLUMNS: &str = "id, at, kind, license_id, product, account, data";

fn event_from(r: &crate::store::Row) -> DbResult<EventRow> {
    Ok(EventRow {
        id: r.get(0)?,
        at: r.get(1)?,
        kind: r.get(2)?,
        license_id: r.get(3)?,
        product: r.get(4)?,
        account: r.get(5)?,
        data: r.get(6)?,
    })
}

/// The events after id `after` (of one license, if named), oldest first.
pub(crate) fn events_after(
    conn: &Db<'_>,
    after: i64,
    license: Option<&str>,
    limit: u32,
) -> DbResult<Vec<EventRow>> {
    match license {
        Some(l) => all(
            conn,
            &format!(
                "SELECT {EVENT_COLUMNS} FROM events WHERE id > ?1 AND license_id = ?2 \
                 ORDER BY id LIMIT ?3"
            ),
            args![after, l, limit],
            event_from,
        ),
        None => all(
            conn,
            &format!("SELECT {EVENT_COLUMNS} FROM events WHERE id > ?1 ORDER BY id LIMIT ?2"),
            args![after, limit],
            event_from,
        ),
    }
}

/// A webhook as stored, with its counts of deliveries.
pub(crate) struct WebhookRow {
    pub(crate) id: String,
    pub(crate) url: String,
    pub(crate) events: Vec<String>,
    pub(crate) description: String,
    pub(crate) state: String,
    pub(crate) created_at: i64,
    pub(crate) pending: u64,
    pub(crate) failed: u64,
}

const WEBHOOK_SELECT: &str = "SELECT w.id, w.url, w.events, w.description, w.state, w.created_at,
    (SELECT COUNT(*) FROM deliveries d WHERE d.webhook_id = w.id AND d.state = 'pending'),
    (SELECT COUNT(*) FROM deliveries d WHERE d.webhook_id = w.id AND d.state = 'failed')
    FROM webhooks w";

fn webhook_from(r: &crate::store::Row) -> DbResult<WebhookRow> {
    let events: String = r.get(2)?;
    Ok(WebhookRow {
        id: r.get(0)?,
        url: r.get(1)?,
        events: serde_json::from_str(&events).map_err(|_| DbError::Column(2, "a JSON list"))?,
        description: r.get(3)?,
        state: r.get(4)?,
        created_at: r.get(5)?,
        pending: r.get(6)?,
        failed: r.get(7)?,
    })
}

fn events_text(events: &[String]) -> DbResult<String> {
    serde_json::to_string(events).map_err(|e| DbError::Invalid(e.to_string()))
}

pub(crate) fn insert_webhook(
    tx: &Db<'_>,
    id: &str,
    url: &str,
    events: &[String],
    description: &str,
    now: i64,
) -> DbResult<()> {
    exec(
        tx,
        "INSERT INTO webhooks (id, url, events, description, state, created_at)
         VALUES (?1, ?2, ?3, ?4, 'active', ?5)",
        args![id, url, events_text(events)?, description, now],
    )?;
    Ok(())
}

pub(crate) fn webhook(conn: &Db<'_>, id: &str) -> DbResult<WebhookRow> {
    one(
        conn,
        &format!("{WEBHOOK_SELECT} WHERE w.id = ?1"),
        args![id],
        webhook_from,
    )?
    .ok_or(DbError::NotFound("webhook_not_found", "no such webhook"))
}

pub(crate) fn webhooks(conn: &Db<'_>) -> DbResult<Vec<WebhookRow>> {
    all(
        conn,
        &format!("{WEBHOOK_SELECT} ORDER BY w.created_at, w.id"),
        args![],
        webhook_from,
    )
}

pub(crate) fn update_webhook(
    tx: &Db<'_>,
    id: &str,
    url: &str,
    events: &[String],
    description: &str,
) -> DbResult<()> {
    exec(
        tx,
        "UPDATE webhooks SET url = ?2, events = ?3, description = ?4 WHERE id = ?1",
        args![id, url, events_text(events)?, description],
    )?;
    Ok(())
}

/// Removes a webhook with its deliveries and their log.
pub(crate) fn delete_webhook(tx: &Db<'_>, id: &str) -> DbResult<()> {
    webhook(tx, id)?;
    exec(
        tx,
        "DELETE FROM delivery_attempts WHERE webhook_id = ?1",
        args![id],
    )?;
    exec(
        tx,
        "DELETE FROM deliveries WHERE webhook_id = ?1",
        args![id],
    )?;
    exec(tx, "DELETE FROM webhooks WHERE id = ?1", args![id])?;
    Ok(())
}

/// Makes a webhook active again; the deliveries given up are retried.
pub(crate) fn resume_webhook(tx: &Db<'_>, id: &str, now: i64) -> DbResult<()> {
    webhook(tx, id)?;
    exec(
        tx,
        "UPDATE webhooks SET state = 'active', paused_at = NULL WHERE id = ?1",
        args![id],
    )?;
    exec(
        tx,
        "UPDATE deliveries SET state = 'pending', attempts = 0, next_at = ?2, first_failed_at = NULL
         WHERE webhook_id = ?1 AND state IN ('pending', 'failed')",
        args![id, now],
    )?;
    Ok(())
}

/// Pauses a webhook (a day of failures).
pub(crate) fn pause_webhook(tx: &Db<'_>, id: &str, now: i64) -> DbResult<bool> {
    Ok(exec(
        tx,
        "UPDATE webhooks SET state = 'paused', paused_at = ?2 WHERE id = ?1 AND state = 'active'",
        args![id, now],
    )? > 0)
}

/// A delivery claimed by this instance: what to send and where.
pub(crate) struct Claimed {
    pub(crate) webhook_id: String,
    pub(crate) url: String,
    pub(crate) event_id: i64,
    pub(crate) attempts: u32,
    pub(crate) first_failed_at: Option<i64>,
    /// The event, read in the same statement.
    pub(crate) event: EventRow,
}

/// Claims up to `limit` deliveries due at `now` until `until`: for each
/// webhook and license, only the oldest waiting one (the next may go only
/// once it is delivered, so a license's events arrive in order), of
/// active webhooks, not claimed by another instance whose claim still
/// holds. On PostgreSQL the rows are locked while they are claimed
/// (`FOR UPDATE SKIP LOCKED`): two instances never claim one delivery.
pub(crate) fn claim(tx: &Db<'_>, now: i64, until: i64, limit: u32) -> DbResult<Vec<Claimed>> {
    let lock = if tx.is_pg() {
        " FOR UPDATE OF d SKIP LOCKED"
    } else {
        ""
    };
    let sql = format!(
        "SELECT d.webhook_id, w.url, d.event_id, d.attempts, d.first_failed_at,
                v.id, v.at, v.kind, v.license_id, v.product, v.account, v.data
         FROM deliveries d JOIN webhooks w ON w.id = d.webhook_id
         JOIN events v ON v.id = d.event_id
         WHERE d.state = 'pending' AND d.next_at <= ?1 AND d.claimed_until <= ?1
           AND w.state = 'active'
           AND NOT EXISTS (SELECT 1 FROM deliveries e
               WHERE e.webhook_id = d.webhook_id AND e.queue = d.queue
                 AND e.state = 'pending' AND e.event_id < d.event_id)
         ORDER BY d.event_id LIMIT ?2{lock}"
    );
    let claimed = all(tx, &sql, args![now, limit], |r| {
        Ok(Claimed {
            webhook_id: r.get(0)?,
            url: r.get(1)?,
            event_id: r.get(2)?,
            attempts: r.get(3)?,
            first_failed_at: r.get(4)?,
            event: EventRow {
                id: r.get(5)?,
                at: r.get(6)?,
                kind: r.get(7)?,
                license_id: r.get(8)?,
                product: r.get(9)?,
                account: r.get(10)?,
                data: r.get(11)?,
            },
        })
    })?;
    for c in &claimed {
        exec(
            tx,
            "UPDATE deliveries SET claimed_until = ?3 WHERE webhook_id = ?1 AND event_id = ?2",
            args![c.webhook_id, c.event_id, until],
        )?;
    }
    Ok(claimed)
}

/// What became of one attempt.
pub(crate) struct Outcome<'a> {
    pub(crate) at: i64,
    pub(crate) status: Option<u16>,
    pub(crate) error: &'a str,
    pub(crate) millis: u64,
}

/// Logs an attempt and marks the delivery delivered.
pub(crate) fn delivered(tx: &Db<'_>, c: &Claimed, o: &Outcome<'_>) -> DbResult<()> {
    log_attempt(tx, c, o)?;
    exec(
        tx,
        "UPDATE deliveries SET state = 'delivered', attempts = attempts + 1,
         delivered_at = ?3, claimed_until = 0 WHERE webhook_id = ?1 AND event_id = ?2",
        args![c.webhook_id, c.event_id, o.at],
    )?;
    Ok(())
}

/// Logs a failed attempt: the delivery waits until `next_at`, or is given
/// up (`give_up`).
pub(crate) fn failed(
    tx: &Db<'_>,
    c: &Claimed,
    o: &Outcome<'_>,
    next_at: i64,
    give_up: bool,
) -> DbResult<()> {
    log_attempt(tx, c, o)?;
    exec(
        tx,
        "UPDATE deliveries SET state = ?3, attempts = attempts + 1, next_at = ?4,
         first_failed_at = COALESCE(first_failed_at, ?5), claimed_until = 0
         WHERE webhook_id = ?1 AND event_id = ?2",
        args![
            c.webhook_id,
            c.event_id,
            if give_up { "failed" } else { "pending" },
            next_at,
            o.at
        ],
    )?;
    Ok(())
}

/// Logs an attempt (not for a webhook removed while it was sent).
fn log_attempt(tx: &Db<'_>, c: &Claimed, o: &Outcome<'_>) -> DbResult<()> {
    exec(
        tx,
        "INSERT INTO delivery_attempts (webhook_id, event_id, at, status, error, millis)
         SELECT ?1, ?2, ?3, ?4, ?5, ?6 WHERE EXISTS (SELECT 1 FROM webhooks WHERE id = ?1)",
        args![
            c.webhook_id,
            c.event_id,
            o.at,
            o.status,
            o.error,
            i64::try_from(o.millis).unwrap_or(i64::MAX)
        ],
    )?;
    Ok(())
}

/// One logged attempt.
pub(crate) struct AttemptRow {
    pub(crate) event_id: i64,
    pub(crate) at: i64,
    pub(crate) status: Option<u16>,
    pub(crate) error: String,
    pub(crate) millis: u64,
}

/// A webhook's newest `limit` attempts, newest first.
pub(crate) fn attempts(conn: &Db<'_>, webhook_id: &str, limit: u32) -> DbResult<Vec<AttemptRow>> {
    all(
        conn,
        "SELECT event_id, at, status, error, millis FROM delivery_attempts
         WHERE webhook_id = ?1 ORDER BY id DESC LIMIT ?2",
        args![webhook_id, limit],
        |r| {
            Ok(AttemptRow {
                event_id: r.get(0)?,
                at: r.get(1)?,
                status: r.get(2)?,
                error: r.get(3)?,
                millis: r.get(4)?,
            })
        },
    )
}

/// Forgets the deliveries delivered, and the attempts logged, before
/// `before` (the events themselves stay: the usage reports count them).
pub(crate) fn forget_delivered(tx: &Db<'_>, before: i64) -> DbResult<()> {
    exec(
        tx,
        "DELETE FROM deliveries WHERE state = 'delivered' AND delivered_at < ?1",
        args![before],
    )?;
    exec(
        tx,
        "DELETE FROM delivery_attempts WHERE at < ?1",
        args![before],
    )?;
    Ok(())
}

/// The licenses whose end passed by `now` and was not reported yet.
pub(crate) fn newly_expired(conn: &Db<'_>, now: i64, limit: u32) -> DbResult<Vec<(String, i64)>> {
    all(
        conn,
        "SELECT license_id, ends_at FROM license_ends WHERE reported = 0 AND ends_at <= ?1
         ORDER BY ends_at LIMIT ?2",
        args![now, limit],
        |r| Ok((r.get(0)?, r.get(1)?)),
    )
}

/// Marks a license's end as reported; false when another instance did.
pub(crate) fn mark_expired(tx: &Db<'_>, license_id: &str, ends_at: i64) -> DbResult<bool> {
    Ok(exec(
        tx,
        "UPDATE license_ends SET reported = 1
         WHERE license_id = ?1 AND ends_at = ?2 AND reported = 0",
        args![license_id, ends_at],
    )? > 0)
}
