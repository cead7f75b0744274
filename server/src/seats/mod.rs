//! Floating seats and borrowed seats: register, heartbeat, release and
//! borrow for the client, and the seat count for the admin API.

pub(crate) mod db;
pub(crate) mod heartbeat;
pub(crate) mod known;

use std::sync::Arc;

use axum::extract::{Path, State};
use chrono::{DateTime, Duration, Utc};
use schemars::JsonSchema;
use serde::Serialize;
use tessera::format::lease::{Lease, LeaseKind};
use tessera::Fingerprint;

use tessera::protocol::bodies::BorrowRequest;

use crate::activations::db as activations_db;
use crate::activations::require_activated;
use crate::body::Reply;
use crate::device_call::{DeviceBody, DeviceCall, Purpose};
use crate::error::ApiError;
use crate::http::Answer;
use crate::licenses::db as licenses_db;
use crate::licenses::db::LicenseRow;
use crate::outbox;
use crate::state::{App, AppState, ParsedLicense};
use crate::store::Db;
use crate::users::db as users_db;

use crate::device_call::{later, random_id, Handler, Unsigned};
use tessera::protocol::bodies::{DeviceRequest, LicenseAndDevice};

impl DeviceBody for BorrowRequest {
    type Rest = u32;
    fn split(self) -> (LicenseAndDevice, u32) {
        (self.who, self.hours)
    }
}

pub(crate) async fn borrow_call(call: DeviceCall<BorrowRequest>) -> Result<Answer, ApiError> {
    let hours = call.rest;
    let handler: Box<Handler> =
        Box::new(move |app, tx, l, who, now| lease(app, tx, l, who, now, LeaseKind::Borrow, hours));
    call.run(Purpose::Use, handler).await
}

pub(crate) async fn register_call(call: DeviceCall<DeviceRequest>) -> Result<Answer, ApiError> {
    let handler: Box<Handler> =
        Box::new(|app, tx, l, who, now| lease(app, tx, l, who, now, LeaseKind::Floating, 0));
    call.run(Purpose::Use, handler).await
}

/// A floating seat's heartbeat: in one statement where it can be
/// ([`heartbeat::in_one_statement`]), else down the full path.
pub(crate) async fn heartbeat_call(
    mut call: DeviceCall<DeviceRequest>,
) -> Result<Answer, ApiError> {
    if let Some(answer) = heartbeat::in_one_statement(&mut call).await? {
        return Ok(answer);
    }
    call.run(Purpose::Use, Box::new(heartbeat)).await
}

pub(crate) async fn release_call(call: DeviceCall<DeviceRequest>) -> Result<Answer, ApiError> {
    let handler: Box<Handler> = Box::new(|_, tx, row, who, now| {
        let released = release(tx, &row.id, &who.fingerprint.id, now.timestamp())?;
        Ok(Unsigned::Ready(crate::http::to_value(
            &tessera::protocol::bodies::ReleasedAnswer::new(released),
        )?))
    });
    call.run(Purpose::Use, handler).await
}

/// Gives the device's seat back: a floating seat is freed; a borrowed
/// one stays counted until its end ([`db::delete_lease`]), and the
/// vendor hears it came back (`borrow.returned`). Whether a floating seat
/// was freed.
pub(crate) fn release(
    tx: &Db<'_>,
    license_id: &str,
    device: &str,
    now: i64,
) -> Result<bool, crate::store::DbError> {
    if db::borrowed_until(tx, license_id, device, now)?.is_some() {
        outbox::emit(
            tx,
            outbox::Kind::BorrowReturned,
            Some(license_id),
            serde_json::json!({ "device": device }),
        )?;
    }
    db::delete_lease(tx, license_id, device)
}

/// The license as it is now, refused when it is not a floating license.
fn floating(app: &App, row: &LicenseRow) -> Result<ParsedLicense, ApiError> {
    let parsed = app.license_of(row)?;
    if !parsed.1.floats() {
        return Err(ApiError::conflict(
            "not_floating",
            "the license is not a floating license",
        ));
    }
    Ok(parsed)
}

pub(crate) fn lease(
    app: &App,
    tx: &Db<'_>,
    row: &LicenseRow,
    who: &LicenseAndDevice,
    now: DateTime<Utc>,
    kind: LeaseKind,
    hours: u32,
) -> Result<Unsigned, ApiError> {
    let parsed = floating(app, row)?;
    let license = &parsed.1;
    require_activated(tx, row, &who.fingerprint.id)?;
    let device = &who.fingerprint.id;
    let length = match kind {
        LeaseKind::Floating => Duration::minutes(i64::from(license.floating_timeout)),
        LeaseKind::Borrow => {
            if !license.can_borrow {
                return Err(ApiError::conflict(
                    "borrow_not_allowed",
                    "the license does not allow borrowing",
                ));
            }
            if hours == 0 || hours > license.max_borrow_time {
                return Err(ApiError::bad_request(
                    "borrow_too_long",
                    format!("borrow for 1 to {} hours", license.max_borrow_time),
                ));
            }
            Duration::hours(i64::from(hours))
        }
    };
    let expires_at = later(now, length)?;
    let others = db::seats_held_by_others(tx, &row.id, device, now.timestamp())?;
    if others >= license.floating_users {
        // A fact worth a webhook, kept though the request's work is not.
        outbox::emit_after(
            outbox::Kind::SeatDenied,
            Some(&row.id),
            serde_json::json!({
                "device": device,
                "seats": license.floating_users,
                "borrow": kind == LeaseKind::Borrow,
            }),
        );
        return Err(ApiError::conflict(
            "no_seat_available",
            format!(
                "all {} seats are taken; try again later",
                license.floating_users
            ),
        ));
    }
    let lease = new_lease(
        &row.id,
        &row.product,
        &who.fingerprint,
        kind,
        now,
        expires_at,
    )?;
    let kind_name = if kind == LeaseKind::Borrow {
        "borrow"
    } else {
        "floating"
    };
    db::upsert_lease(
        tx,
        &db::NewLease {
            id: &lease.id,
            license_id: &row.id,
            device,
            kind: kind_name,
            now: now.timestamp(),
            expires_at: lease.expires_at.unix(),
        },
    )?;
    if kind == LeaseKind::Borrow {
        outbox::emit(
            tx,
            outbox::Kind::BorrowStarted,
            Some(&row.id),
            serde_json::json!({ "device": device, "until": lease.expires_at.to_string() }),
        )?;
    }
    // The others, and this device's lease, which is live until expires_at.
    let used = others.saturating_add(1);
    Ok(Unsigned::Lease(
        Box::new(lease),
        Some(used),
        license.floating_users,
    ))
}

fn new_lease(
    license_id: &str,
    product: &str,
    device: &Fingerprint,
    kind: LeaseKind,
    now: DateTime<Utc>,
    expires_at: DateTime<Utc>,
) -> Result<Lease, ApiError> {
    Ok(Lease {
        format: 1,
        id: random_id()?,
        license_id: license_id.to_owned(),
        product: product.to_owned(),
        device: device.clone(),
        kind,
        issued_at: now.into(),
        expires_at: expires_at.into(),
    })
}

/// Renews the device's live floating seat: one statement, no seat count
/// (the device holds its seat already). A lapsed seat must register again.
/// On PostgreSQL, what it found is remembered for the device's next
/// heartbeats ([`heartbeat::in_one_statement`]).
fn heartbeat(
    app: &App,
    tx: &Db<'_>,
    row: &LicenseRow,
    who: &LicenseAndDevice,
    now: DateTime<Utc>,
) -> Result<Unsigned, ApiError> {
    // The license as it is now: made non-floating since, it renews nothing.
    let parsed = floating(app, row)?;
    let license = &parsed.1;
    let length = Duration::minutes(i64::from(license.floating_timeout));
    let lease = new_lease(
        &row.id,
        &row.product,
        &who.fingerprint,
        LeaseKind::Floating,
        now,
        later(now, length)?,
    )?;
    let renewed = db::renew_lease(
        tx,
        &lease.id,
        &row.id,
        &who.fingerprint.id,
        now.timestamp(),
        lease.expires_at.unix(),
    )?;
    if !renewed {
        return Err(ApiError::not_found(
            "no_lease",
            "this device holds no live seat: register again",
        ));
    }
    if let (true, Some(name)) = (app.is_postgres(), heartbeat::name_of(who)) {
        let proof_key = activations_db::activation_key(
            tx,
            activations_db::ActivationKey::Proof,
            &row.id,
            &who.fingerprint.id,
        )?;
        let seen = known::Seen {
            license_id: row.id.clone(),
            revision: row.revision,
            timeout_minutes: license.floating_timeout,
            seats_total: license.floating_users,
            proof_key,
        };
        app.known_seats.learn(name, seen);
    }
    Ok(Unsigned::Lease(
        Box::new(lease),
        None,
        license.floating_users,
    ))
}

/// What a license's seats are, the way the admin API counts them.
#[derive(Serialize, JsonSchema)]
#[schemars(deny_unknown_fields)]
pub(crate) struct Seats {
    /// Floating seats, or device activations.
    kind: SeatKind,
    /// -1: unlimited (`allow_unlimited_activations`), as Salesforce
    /// counts a site license.
    #[schemars(range(min = -1))]
    allowed: i64,
    used: u64,
    /// -1: unlimited.
    #[schemars(range(min = -1))]
    available: i64,
    /// The users the license may be assigned to.
    users: UserSeats,
}

/// What a license counts.
#[derive(Serialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub(crate) enum SeatKind {
    Floating,
    Activations,
}

/// A license's users: how many it may have, holds and has left.
#[derive(Serialize, JsonSchema)]
#[schemars(deny_unknown_fields)]
pub(crate) struct UserSeats {
    allowed: u64,
    used: u64,
    available: u64,
}

pub(crate) async fn seats_call(State(app): AppState, Path(id): Path<String>) -> Reply {
    Answer::of(seats(&app, &id).await?)
}

async fn seats(app: &Arc<App>, id: &str) -> Result<Seats, ApiError> {
    let id = id.to_string();
    app.with_db(move |app, conn| {
        let row = licenses_db::license_by_id(conn, &id)?;
        let license = app.license_of(&row)?;
        let license = &license.1;
        let (allowed, used) = if license.floats() {
            (
                u64::from(license.floating_users),
                u64::from(db::seats_held(conn, &id, app.now().timestamp())?),
            )
        } else {
            (
                u64::from(license.max_activations),
                u64::from(activations_db::activation_count(conn, &id)?),
            )
        };
        let assigned = u64::from(users_db::assigned_count(conn, &id)?);
        let max_users = u64::from(row.max_users);
        // Unlimited activations count as -1 allowed and -1 available, as
        // Salesforce counts a site license (seed 000), not as 0 of 0.
        let unlimited = !license.floats() && license.allow_unlimited_activations;
        let signed = |n: u64| i64::try_from(n).unwrap_or(i64::MAX);
        let (allowed, available) = if unlimited {
            (-1, -1)
        } else {
            (signed(allowed), signed(allowed.saturating_sub(used)))
        };
        Ok(Seats {
            kind: if license.floats() {
                SeatKind::Floating
            } else {
                SeatKind::Activations
            },
            allowed,
            used,
            available,
            users: UserSeats {
                allowed: max_users,
                used: assigned,
                available: max_users.saturating_sub(assigned),
            },
        })
    })
    .await
}
