//! The sender: each server instance runs one. It claims the deliveries
//! that are due (the oldest waiting one of each webhook and license, so a
//! license's events arrive in order), posts each, signed, to its receiver,
//! and records what came of it: delivered on a 2xx answer, else tried
//! again later with exponential backoff and jitter, for a day; then the
//! delivery is given up and its webhook paused (an event of its own).
//!
//! A claim holds for the deadline and a margin; an instance killed while
//! it sends leaves claims that lapse, and another instance (or this one,
//! restarted) takes the deliveries over: at least once, never lost.
//! It also reports the licenses whose end has passed (`license.expired`).

use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::json;

use super::db::{self, Claimed, Outcome};
use super::{address, event_of};
use crate::database;
use crate::error::ApiError;
use crate::outbox::{context, db as outbox_db, emit, Kind};
use crate::state::App;

/// The most of a receiver's answer that is read; the rest is dropped.
const MAX_ANSWER: usize = 64 * 1024;
/// The most deliveries one instance sends at once.
const IN_FLIGHT: usize = 64;
/// How often an instance looks for due deliveries when nothing woke it
/// (another instance's events, retries coming due).
const POLL: Duration = Duration::from_millis(250);
/// How long a delivery is retried before it is given up.
const GIVE_UP_AFTER: i64 = 86_400;
/// The first retry's delay, doubled at each failure, to at most an hour.
const FIRST_RETRY: i64 = 10;
const LONGEST_RETRY: i64 = 3_600;

/// Starts this instance's sender on the current runtime.
pub(crate) fn start(app: Arc<App>) {
    tokio::spawn(async move {
        if let Err(e) = run(app).await {
            eprintln!("tessera-server: the webhook sender stopped: {e}");
        }
    });
}

async fn run(app: Arc<App>) -> Result<(), String> {
    let client = reqwest::Client::builder()
        .dns_resolver(Arc::new(address::Guarded {
            allow_private: app.webhooks_allow_private,
        }))
        .redirect(reqwest::redirect::Policy::none())
        .no_proxy()
        .timeout(app.webhook_deadline)
        .connect_timeout(app.webhook_deadline)
        .user_agent(concat!(
            "tessera-server/",
            env!("CARGO_PKG_VERSION"),
            " webhooks"
        ))
        .build()
        .map_err(|e| e.without_url().to_string())?;
    if let Err(e) = app.with_db(|_, conn| Ok(note_license_ends(conn)?)).await {
        eprintln!("tessera-server: the licenses' ends were not read: {e:?}");
    }
    let mut next_expiry_sweep = 0i64;
    let mut sending = tokio::task::JoinSet::new();
    // What this instance is sending now: a claim that lapsed while its
    // receiver is still being waited for (a clock that jumped) is not
    // sent a second time alongside.
    let mut in_flight = std::collections::HashSet::new();
    // Deliveries sent whose outcome is not recorded yet: recorded in the
    // transaction of the next claim (one transaction for both, so the
    // sender takes the database's lock half as often).
    let mut done: Vec<Sent> = Vec::new();
    loop {
        let now = app.now().timestamp();
        if now >= next_expiry_sweep {
            next_expiry_sweep = now.saturating_add(60);
            if let Err(e) = report_expired(&app).await {
                eprintln!(
                    "tessera-server: expired licenses not reported: {}",
                    e.message
                );
            }
        }
        let finished = std::mem::take(&mut done);
        for s in &finished {
            in_flight.remove(&(s.claimed.webhook_id.clone(), s.claimed.event_id));
        }
        let room = IN_FLIGHT.saturating_sub(sending.len());
        let claimed = match record_and_claim(&app, finished, room).await {
            Ok(c) => c,
            Err(e) => {
                // Not recorded: the deliveries go again once their claims
                // lapse (at least once).
                eprintln!("tessera-server: deliveries not claimed: {}", e.message);
                Vec::new()
            }
        };
        for c in claimed {
            let key = (c.webhook_id.clone(), c.event_id);
            if in_flight.insert(key) {
                let (app, client) = (Arc::clone(&app), client.clone());
                sending.spawn(async move { deliver(&app, &client, c).await });
            }
        }
        tokio::select! {
            () = context::woken() => {}
            () = tokio::time::sleep(POLL) => {}
            Some(Ok(sent)) = sending.join_next(), if !sending.is_empty() => done.push(sent),
        }
        while let Some(Ok(sent)) = sending.try_join_next() {
            done.push(sent);
        }
    }
}

/// A delivery sent, and what came of it.
struct Sent {
    claimed: Claimed,
    /// The receiver's status, or what went wrong.
    answer: Result<u16, String>,
    millis: u64,
}

/// Records what came of the deliveries sent, then claims up to `room`
/// more, in one transaction.
async fn record_and_claim(
    app: &Arc<App>,
    finished: Vec<Sent>,
    room: usize,
) -> Result<Vec<Claimed>, ApiError> {
    if room == 0 && finished.is_empty() {
        return Ok(Vec::new());
    }
    let hold = i64::try_from(app.webhook_deadline.as_secs())
        .unwrap_or(i64::MAX)
        .saturating_add(30);
    let limit = u32::try_from(room).unwrap_or(u32::MAX);
    app.with_db(move |app, conn| {
        let now = app.now().timestamp();
        Ok(database::write_license(conn, |tx| {
            for sent in &finished {
                record(tx, sent, now)?;
            }
            if limit == 0 {
                return Ok(Vec::new());
            }
            db::claim(tx, now, now.saturating_add(hold), limit)
        })?)
    })
    .await
}

/// Sends one delivery.
async fn deliver(app: &App, client: &reqwest::Client, claimed: Claimed) -> Sent {
    let started = Instant::now();
    let answer = match serde_json::to_vec(&event_of(&claimed.event)) {
        Ok(body) => {
            send(
                app,
                client,
                &claimed.url,
                &claimed.event_id.to_string(),
                body,
            )
            .await
        }
        Err(e) => Err(format!("the event could not be written out: {e}")),
    };
    Sent {
        claimed,
        answer,
        millis: u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX),
    }
}

/// Records one delivery's outcome: delivered, to be retried, or given up
/// after a day (and its webhook paused, which is an event of its own).
fn record(tx: &crate::store::Db<'_>, sent: &Sent, now: i64) -> crate::store::DbResult<()> {
    let c = &sent.claimed;
    let (status, error) = match &sent.answer {
        Ok(status) if (200..300).contains(status) => (Some(*status), String::new()),
        Ok(status) => (Some(*status), format!("the receiver answered {status}")),
        Err(e) => (None, e.clone()),
    };
    let outcome = Outcome {
        at: now,
        status,
        error: &error,
        millis: sent.millis,
    };
    if error.is_empty() {
        return db::delivered(tx, c, &outcome);
    }
    let since = c.first_failed_at.unwrap_or(now);
    let give_up = now.saturating_sub(since) >= GIVE_UP_AFTER;
    db::failed(
        tx,
        c,
        &outcome,
        now.saturating_add(retry_delay(c.attempts)),
        give_up,
    )?;
    if give_up && db::pause_webhook(tx, &c.webhook_id, now)? {
        emit(
            tx,
            Kind::WebhookPaused,
            None,
            json!({
                "webhook_id": c.webhook_id,
                "failing_since": tessera::Time::from_unix(since).map(|t| t.to_string()),
                "last_error": error,
            }),
        )?;
    }
    Ok(())
}

/// Posts `body` to `url`, signed: the receiver's status, or what went
/// wrong (never the URL, which may hold the receiver's own secret).
async fn send(
    app: &App,
    client: &reqwest::Client,
    url: &str,
    event_id: &str,
    body: Vec<u8>,
) -> Result<u16, String> {
    // An address given as a number never meets the resolver: checked here.
    address::check_url(url, app.webhooks_allow_private)
        .map_err(|e| format!("the receiver's address is refused: {}", e.message))?;
    let timestamp = app.now().timestamp().to_string();
    let signature =
        tessera::protocol::webhook::sign_delivery(&app.key, event_id, &timestamp, &body);
    let response = client
        .post(url)
        .header("content-type", "application/json")
        .header("tessera-event-id", event_id)
        .header("tessera-timestamp", &timestamp)
        .header("tessera-signature", signature)
        .body(body)
        .send()
        .await
        .map_err(failure)?;
    let status = response.status().as_u16();
    // The answer is read (so the connection can be kept), to a bound.
    let mut response = response;
    let mut read = 0usize;
    while read < MAX_ANSWER {
        match response.chunk().await {
            Ok(Some(chunk)) => read = read.saturating_add(chunk.len()),
            Ok(None) => break,
            Err(e) if (200..300).contains(&status) => return Err(failure(e)),
            Err(_) => break,
        }
    }
    Ok(status)
}

fn failure(e: reqwest::Error) -> String {
    if e.is_timeout() {
        "no answer within the deadline".to_owned()
    } else if e.is_connect() {
        "cannot connect to the receiver".to_owned()
    } else {
        format!("the exchange failed: {}", e.without_url())
    }
}

/// The delay before the next attempt after `attempts` failed ones:
/// doubled each time from 10 s to at most an hour, then a random part of
/// it taken off (up to half), so receivers that come back are not hit by
/// every sender at once.
pub(crate) fn retry_delay(attempts: u32) -> i64 {
    let full = FIRST_RETRY
        .checked_shl(attempts.min(20))
        .unwrap_or(LONGEST_RETRY)
        .min(LONGEST_RETRY);
    let mut byte = [0u8; 1];
    let jitter = match getrandom::getrandom(&mut byte) {
        Ok(()) => i64::from(byte[0]),
        Err(_) => 128,
    };
    full - full * jitter / 512
}

/// How long delivered deliveries and the delivery log are kept.
const KEEP_LOG: i64 = 30 * 86_400;

/// Reports the licenses whose end has passed, each once (across
/// instances: the mark is set in the event's transaction), and forgets
/// the deliveries and attempts older than [`KEEP_LOG`].
async fn report_expired(app: &Arc<App>) -> Result<(), ApiError> {
    app.with_db(|app, conn| {
        let now = app.now().timestamp();
        database::write_license(conn, |tx| {
            db::forget_delivered(tx, now.saturating_sub(KEEP_LOG))
        })?;
        for (license_id, ends_at) in db::newly_expired(conn, now, 500)? {
            database::write_license(conn, |tx| {
                if db::mark_expired(tx, &license_id, ends_at)? {
                    emit(
                        tx,
                        Kind::LicenseExpired,
                        Some(&license_id),
                        json!({ "ended_at": tessera::Time::from_unix(ends_at).map(|t| t.to_string()) }),
                    )?;
                }
                Ok::<_, crate::store::DbError>(())
            })?;
        }
        Ok(())
    })
    .await
}

/// Records the end of every license that has none recorded (those made
/// before events existed); an end already past is marked reported, so an
/// upgrade does not report old expiries as news.
fn note_license_ends(conn: &crate::store::Db<'_>) -> crate::store::DbResult<()> {
    let missing: Vec<(String, String)> = crate::database::all(
        conn,
        "SELECT id, spec FROM licenses WHERE id NOT IN (SELECT license_id FROM license_ends)",
        crate::store::args![],
        |r| Ok((r.get(0)?, r.get(1)?)),
    )?;
    let now = context::now();
    for (id, spec) in missing {
        let Some(end) = crate::outbox::license_end(&spec) else {
            continue;
        };
        database::write_license(conn, |tx| {
            outbox_db::set_license_end(tx, &id, Some(end))?;
            if end <= now {
                db::mark_expired(tx, &id, end)?;
            }
            Ok::<_, crate::store::DbError>(())
        })?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retries_back_off_to_an_hour_with_at_most_half_taken_off() {
        for attempts in 0..40 {
            let full = (FIRST_RETRY << attempts.min(20)).min(LONGEST_RETRY);
            let d = retry_delay(attempts);
            assert!(d <= full && d > full / 2, "{attempts}: {d} of {full}");
        }
        assert!(retry_delay(0) <= 10);
        assert!(retry_delay(30) > 1_800);
    }
}
