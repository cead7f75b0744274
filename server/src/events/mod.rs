//! Events that leave the server (docs/EVENTS.md): each written in the
//! transaction of the change it reports (an outbox), then delivered to
//! the webhooks that asked for its kind, signed by the server's key, at
//! least once, in order per license.
//!
//! - [`crate::outbox`]: writing them, in the change's transaction;
//! - [`db`]: reading events, and the webhooks and deliveries tables;
//! - [`address`]: which receivers' addresses a delivery may reach;
//! - [`delivery`]: the sender each instance runs;
//! - this module: the admin API.

pub(crate) mod address;
pub(crate) mod db;
pub(crate) mod delivery;

use crate::outbox::{context, Kind};

use axum::extract::{Path, Query, State};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::body::{invalid, Reply};
use crate::database;
use crate::error::ApiError;
use crate::http::{Answer, JsonBody};
use crate::state::AppState;

/// A webhook to register (`POST /webhooks`).
#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct NewWebhook {
    /// Where deliveries go: `https://`, or `http://` to a loopback
    /// address (and then only on a server that allows private addresses).
    url: String,
    /// The kinds of event it wants (`license.created`, ...), or `["*"]`
    /// for every kind.
    events: Vec<String>,
    /// What it is for, for people.
    #[serde(default)]
    description: String,
}

/// Changes to a webhook (`PATCH /webhooks/{id}`): what is given changes.
#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct WebhookUpdate {
    url: Option<String>,
    events: Option<Vec<String>>,
    description: Option<String>,
}

/// A registered webhook.
#[derive(Serialize, JsonSchema)]
#[schemars(deny_unknown_fields)]
pub(crate) struct Webhook {
    id: String,
    url: String,
    events: Vec<String>,
    description: String,
    /// `active`, or `paused` (a day of failed deliveries: resume it).
    state: String,
    #[schemars(extend("format" = "date-time"))]
    created_at: String,
    /// Deliveries waiting to be sent (or retried).
    pending: u64,
    /// Deliveries given up after a day of failures.
    failed: u64,
}

/// A webhook removed, with its waiting deliveries.
#[derive(Serialize, JsonSchema)]
#[schemars(deny_unknown_fields)]
pub(crate) struct Deleted {
    deleted: bool,
}

/// One event, as it is delivered.
#[derive(Serialize, Deserialize, JsonSchema)]
#[schemars(deny_unknown_fields)]
pub(crate) struct Event {
    /// The receiver's idempotency key: a delivery may come more than once.
    id: String,
    /// The kind (`license.created`, ...).
    #[serde(rename = "type")]
    kind: String,
    #[schemars(extend("format" = "date-time"))]
    created_at: String,
    /// The license it is about, if any.
    license_id: Option<String>,
    /// The license's product, if any.
    product: Option<String>,
    /// The license's customer account, if any.
    account: Option<String>,
    /// What happened: fields by kind (docs/EVENTS.md).
    data: Value,
}

/// One attempt to deliver an event.
#[derive(Serialize, JsonSchema)]
#[schemars(deny_unknown_fields)]
pub(crate) struct Attempt {
    event_id: String,
    #[schemars(extend("format" = "date-time"))]
    at: String,
    /// The receiver's answer, or null when none came.
    status: Option<u16>,
    /// What went wrong (empty on success).
    error: String,
    /// How long it took, in milliseconds.
    millis: u64,
}

/// `GET /events?after=&limit=`: the events after an id, oldest first.
#[derive(Deserialize, JsonSchema)]
pub(crate) struct EventsQuery {
    /// Only the events after this id.
    after: Option<i64>,
    /// Only the events of this license.
    license: Option<String>,
    /// How many (values outside 1..1000 are brought into it).
    #[schemars(extend("default" = 100))]
    limit: Option<u32>,
}

/// `GET /webhooks/{id}/deliveries?limit=`: the newest attempts first.
#[derive(Deserialize, JsonSchema)]
pub(crate) struct AttemptsQuery {
    /// How many (values outside 1..1000 are brought into it).
    #[schemars(extend("default" = 100))]
    limit: Option<u32>,
}

/// The percentages of a consumption limit whose crossing is an event.
#[derive(Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct Thresholds {
    /// 1 to 100, at most 10 of them (default: 80 and 100).
    percents: Vec<u8>,
}

/// Checks a webhook's event list: known kinds, or `*` alone.
fn check_kinds(events: &[String]) -> Result<(), ApiError> {
    if events.is_empty() || events.len() > Kind::ALL.len() {
        return Err(invalid("events lists 1 or more kinds of event, or \"*\""));
    }
    if events.iter().any(|e| e == "*") {
        return match events.len() {
            1 => Ok(()),
            _ => Err(invalid("\"*\" stands alone in events")),
        };
    }
    match events.iter().position(|e| Kind::of(e).is_none()) {
        Some(i) => Err(invalid(format!(
            "events[{i}] is no kind of event: docs/EVENTS.md lists them"
        ))),
        None => Ok(()),
    }
}

fn check_description(d: &str) -> Result<(), ApiError> {
    if d.chars().count() > 500 {
        return Err(invalid("description is at most 500 characters"));
    }
    Ok(())
}

pub(crate) async fn new_webhook_call(
    State(app): AppState,
    JsonBody(w): JsonBody<NewWebhook>,
) -> Reply {
    check_kinds(&w.events)?;
    check_description(&w.description)?;
    address::check_url(&w.url, app.webhooks_allow_private)?;
    let id = crate::device_call::random_id()?;
    let made = app
        .with_db(move |app, conn| {
            let now = app.now().timestamp();
            database::write(conn, |tx| {
                db::insert_webhook(tx, &id, &w.url, &w.events, &w.description, now)?;
                Ok(db::webhook(tx, &id)?)
            })
        })
        .await?;
    Answer::of(webhook_of(made))
}

pub(crate) async fn webhooks_call(State(app): AppState) -> Reply {
    let list = app.with_db(|_, conn| Ok(db::webhooks(conn)?)).await?;
    Answer::of(list.into_iter().map(webhook_of).collect::<Vec<_>>())
}

pub(crate) async fn webhook_call(State(app): AppState, Path(id): Path<String>) -> Reply {
    let found = app
        .with_db(move |_, conn| Ok(db::webhook(conn, &id)?))
        .await?;
    Answer::of(webhook_of(found))
}

pub(crate) async fn update_webhook_call(
    State(app): AppState,
    Path(id): Path<String>,
    JsonBody(u): JsonBody<WebhookUpdate>,
) -> Reply {
    if let Some(events) = &u.events {
        check_kinds(events)?;
    }
    if let Some(d) = &u.description {
        check_description(d)?;
    }
    if let Some(url) = &u.url {
        address::check_url(url, app.webhooks_allow_private)?;
    }
    let changed = app
        .with_db(move |_, conn| {
            database::write(conn, |tx| {
                let before = db::webhook(tx, &id)?;
                db::update_webhook(
                    tx,
                    &id,
                    u.url.as_deref().unwrap_or(&before.url),
                    u.events.as_deref().unwrap_or(&before.events),
                    u.description.as_deref().unwrap_or(&before.description),
                )?;
                Ok(db::webhook(tx, &id)?)
            })
        })
        .await?;
    Answer::of(webhook_of(changed))
}

pub(crate) async fn delete_webhook_call(State(app): AppState, Path(id): Path<String>) -> Reply {
    app.with_db(move |_, conn| database::write(conn, |tx| Ok(db::delete_webhook(tx, &id)?)))
        .await?;
    Answer::of(Deleted { deleted: true })
}

/// Resumes a paused webhook: its waiting deliveries go out again, and
/// those given up are tried again (in order).
pub(crate) async fn resume_webhook_call(State(app): AppState, Path(id): Path<String>) -> Reply {
    let resumed = app
        .with_db(move |app, conn| {
            let now = app.now().timestamp();
            database::write(conn, |tx| {
                db::resume_webhook(tx, &id, now)?;
                Ok(db::webhook(tx, &id)?)
            })
        })
        .await?;
    context::wake();
    Answer::of(webhook_of(resumed))
}

pub(crate) async fn attempts_call(
    State(app): AppState,
    Path(id): Path<String>,
    Query(q): Query<AttemptsQuery>,
) -> Reply {
    let limit = q.limit.unwrap_or(100).clamp(1, 1000);
    let list = app
        .with_db(move |_, conn| {
            db::webhook(conn, &id)?;
            Ok(db::attempts(conn, &id, limit)?)
        })
        .await?;
    Answer::of(
        list.into_iter()
            .map(|a| Attempt {
                event_id: a.event_id.to_string(),
                at: time_text(a.at),
                status: a.status,
                error: a.error,
                millis: a.millis,
            })
            .collect::<Vec<_>>(),
    )
}

pub(crate) async fn events_call(State(app): AppState, Query(q): Query<EventsQuery>) -> Reply {
    let limit = q.limit.unwrap_or(100).clamp(1, 1000);
    let list = app
        .with_db(move |_, conn| {
            Ok(db::events_after(
                conn,
                q.after.unwrap_or(0),
                q.license.as_deref(),
                limit,
            )?)
        })
        .await?;
    Answer::of(list.iter().map(event_of).collect::<Vec<_>>())
}

pub(crate) async fn thresholds_call(State(app): AppState) -> Reply {
    let percents = app
        .with_db(|_, conn| Ok(crate::outbox::db::thresholds(conn)?))
        .await?;
    Answer::of(Thresholds { percents })
}

pub(crate) async fn set_thresholds_call(
    State(app): AppState,
    JsonBody(mut t): JsonBody<Thresholds>,
) -> Reply {
    if t.percents.len() > 10 || t.percents.iter().any(|p| !(1..=100).contains(p)) {
        return Err(invalid("percents: at most 10, each 1 to 100"));
    }
    t.percents.sort_unstable();
    t.percents.dedup();
    let percents = t.percents.clone();
    app.with_db(move |_, conn| {
        database::write(conn, |tx| {
            Ok(crate::outbox::db::set_thresholds(tx, &percents)?)
        })
    })
    .await?;
    Answer::of(t)
}

fn time_text(at: i64) -> String {
    tessera::Time::from_unix(at).map_or_else(String::new, |t| t.to_string())
}

fn webhook_of(w: db::WebhookRow) -> Webhook {
    Webhook {
        id: w.id,
        url: w.url,
        events: w.events,
        description: w.description,
        state: w.state,
        created_at: time_text(w.created_at),
        pending: w.pending,
        failed: w.failed,
    }
}

/// An event row as it is delivered and listed.
pub(crate) fn event_of(e: &db::EventRow) -> Event {
    Event {
        id: e.id.to_string(),
        kind: e.kind.clone(),
        created_at: time_text(e.at),
        license_id: e.license_id.clone(),
        product: e.product.clone(),
        account: e.account.clone(),
        data: serde_json::from_str(&e.data).unwrap_or(Value::Null),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_kind_has_its_own_name_and_is_found_by_it() {
        let mut names: Vec<_> = Kind::ALL.iter().map(|k| k.name()).collect();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), Kind::ALL.len());
        for k in Kind::ALL {
            assert_eq!(Kind::of(k.name()), Some(*k));
        }
        assert_eq!(Kind::of("license.deleted"), None);
        assert!(check_kinds(&["*".into()]).is_ok());
        assert!(check_kinds(&["*".into(), "seat.denied".into()]).is_err());
        assert!(check_kinds(&["seat.denied".into()]).is_ok());
        assert!(check_kinds(&["seat.taken".into()]).is_err());
        assert!(check_kinds(&[]).is_err());
    }
}
