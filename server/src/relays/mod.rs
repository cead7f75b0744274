//! Relays (docs/RELAY.md): a relay's delegation asked for online, the
//! usage records relays upload (or the vendor imports), and a license's
//! relays for the admin API.
//!
//! A license is delegated to one relay key at a time: a second relay asking
//! while the first's delegation holds is refused (`relay_exists`), so a
//! pool's seats are never handed to two relays at once. The same relay
//! asking again renews (a new delegation from now).

pub(crate) mod db;

use axum::extract::{Extension, Path, State};
use schemars::JsonSchema;
use serde::Serialize;
use tessera::format::delegation::{self, RelayRequest, Terms, UsageReport};
use tessera::protocol::bodies::{
    RelayDelegateRequest, RelayGrantAnswer, RelayUsageAnswer, RelayUsageRequest,
};
use tessera::{Keyring, PublicKey};

use crate::body::{same_product, Reply};
use crate::database;
use crate::device_call::random_id;
use crate::error::ApiError;
use crate::http::{Answer, Authenticated, JsonBody, Product};
use crate::licenses::db as licenses_db;
use crate::state::{App, AppState};

/// `POST /api/v1/relay/delegate`: a relay's request answered with a
/// delegation of the license's floating seats (the license's own terms)
/// and the pool license file, for 90 days.
pub(crate) async fn delegate_call(
    State(app): AppState,
    Extension(Product(product)): Authenticated,
    JsonBody(r): JsonBody<RelayDelegateRequest>,
) -> Result<Answer, ApiError> {
    same_product(&product, &r.product)?;
    let request = RelayRequest::verify(r.request.as_bytes()).map_err(|e| {
        ApiError::bad_request("invalid_request", format!("the relay's request: {e}"))
    })?;
    if request.product != product {
        return Err(ApiError::new(
            403,
            "wrong_product",
            "the relay's request is for another product",
        ));
    }
    let license_key = r.license_key.expose().to_owned();
    let grant = app
        .with_db(move |app, conn| {
            database::write_license(conn, |tx| {
                delegate(app, tx, &product, &license_key, &request)
            })
        })
        .await?;
    Answer::of(RelayGrantAnswer::new(grant))
}

fn delegate(
    app: &App,
    tx: &crate::store::Db<'_>,
    product: &str,
    license_key: &str,
    request: &RelayRequest,
) -> Result<String, ApiError> {
    let row = licenses_db::locked_license_by_key(tx, product, license_key)?;
    if !row.enabled {
        return Err(ApiError::new(
            403,
            "license_disabled",
            "the license is disabled",
        ));
    }
    let parsed = app.license_of(&row)?;
    if !parsed.1.floats() {
        return Err(ApiError::conflict(
            "not_floating",
            "only a floating license's seats can be delegated to a relay",
        ));
    }
    let now = app.now();
    if let Some(other) = db::live_relays(tx, &row.id, now.timestamp())?
        .into_iter()
        .find(|r| r.relay_key != request.relay_key)
    {
        let key = PublicKey::from_base64(&other.relay_key)
            .map(|k| k.id().to_string())
            .unwrap_or_default();
        return Err(ApiError::conflict(
            "relay_exists",
            format!(
                "the license's seats are delegated to relay key {key} until {}",
                chrono::DateTime::from_timestamp(other.expires_at, 0).unwrap_or_default()
            ),
        ));
    }
    let days = delegation::DEFAULT_DAYS;
    let end = crate::device_call::later(now, chrono::Duration::days(i64::from(days)))?;
    // The pool's file: bound to no device, and good as long as the
    // delegation (the relay's products check in at the relay).
    let mut spec = parsed.0.clone();
    if let Some(o) = spec.as_object_mut() {
        o.remove("device");
    }
    spec["transfer_count"] = serde_json::json!(row.transfer_count);
    spec["expires_at"] = serde_json::json!(tessera::format::license::ts::format(&end));
    let bytes = serde_json::to_vec(&spec).map_err(|e| ApiError::internal(e.to_string()))?;
    let (file, _) = tessera::issuer::issue(&bytes, &app.key, now.into())?;
    let id = format!("D-{}", random_id()?);
    let ring = Keyring::from_keys([app.key.public_key().clone()]);
    let mut terms = Terms::default();
    terms.days = Some(days);
    let grant = delegation::delegate(
        request,
        file.as_bytes(),
        &ring,
        &terms,
        &app.key,
        &id,
        now.into(),
    )
    .map_err(|e| ApiError::conflict("not_delegable", e.to_string()))?;
    let seats = parsed.1.floating_users;
    db::insert_relay(
        tx,
        &db::RelayRow {
            delegation: id,
            license_id: row.id.clone(),
            relay_key: request.relay_key.clone(),
            device: request.device.id.clone(),
            seats,
            issued_at: now.timestamp(),
            expires_at: end.timestamp(),
        },
    )?;
    Ok(grant)
}

/// `POST /api/v1/relay/usage`: a relay's usage record, uploaded.
pub(crate) async fn usage_call(
    State(app): AppState,
    Extension(Product(product)): Authenticated,
    JsonBody(r): JsonBody<RelayUsageRequest>,
) -> Result<Answer, ApiError> {
    same_product(&product, &r.product)?;
    Answer::of(import(&app, r.usage, Some(product)).await?)
}

/// `POST /admin/v1/relay_usage`: a relay's exported usage record,
/// imported by the vendor.
pub(crate) async fn import_call(
    State(app): AppState,
    JsonBody(r): JsonBody<RelayUsageRequest>,
) -> Reply {
    Answer::of(import(&app, r.usage, None).await?)
}

async fn import(
    app: &std::sync::Arc<App>,
    text: String,
    product: Option<String>,
) -> Result<RelayUsageAnswer, ApiError> {
    let bad = |e: tessera::Error| {
        ApiError::bad_request("invalid_usage", format!("the usage record: {e}"))
    };
    let claimed = UsageReport::claimed_delegation(text.as_bytes()).map_err(bad)?;
    app.with_db(move |_, conn| {
        let relay = db::relay(conn, &claimed)?.ok_or_else(|| {
            ApiError::not_found("unknown_relay", "no relay holds this delegation")
        })?;
        let key = PublicKey::from_base64(&relay.relay_key)?;
        let report = UsageReport::verify(text.as_bytes(), &key).map_err(bad)?;
        if report.license_id != relay.license_id
            || product.as_deref().is_some_and(|p| p != report.product)
        {
            return Err(ApiError::bad_request(
                "invalid_usage",
                "the usage record is for another license or product",
            ));
        }
        let days = u32::try_from(report.days.len()).unwrap_or(u32::MAX);
        database::write(conn, |tx| {
            for d in &report.days {
                db::put_usage(
                    tx,
                    &relay.license_id,
                    &db::UsageRow {
                        relay_key: relay.relay_key.clone(),
                        day: d.day,
                        seat_seconds: d.seat_seconds,
                        peak: i64::from(d.peak),
                        grants: i64::from(d.grants),
                        denials: i64::from(d.denials),
                    },
                )?;
            }
            Ok::<_, ApiError>(())
        })?;
        Ok(RelayUsageAnswer::new(relay.license_id, days))
    })
    .await
}

/// A license's relays and their usage.
#[derive(Serialize, JsonSchema)]
#[schemars(deny_unknown_fields)]
pub(crate) struct Relays {
    relays: Vec<RelayShown>,
    usage: Vec<UsageShown>,
}

/// A delegation the server signed.
#[derive(Serialize, JsonSchema)]
#[schemars(deny_unknown_fields)]
pub(crate) struct RelayShown {
    delegation: String,
    /// The relay key's id.
    relay_key_id: String,
    /// The relay machine's fingerprint id.
    device: String,
    seats: u32,
    #[schemars(extend("format" = "date-time"))]
    issued_at: String,
    #[schemars(extend("format" = "date-time"))]
    expires_at: String,
}

/// One day of a relay's usage.
#[derive(Serialize, JsonSchema)]
#[schemars(deny_unknown_fields)]
pub(crate) struct UsageShown {
    relay_key_id: String,
    /// The UTC day, `YYYY-MM-DD`.
    day: String,
    seat_hours: f64,
    peak: i64,
    grants: i64,
    denials: i64,
}

fn key_id(base64: &str) -> String {
    PublicKey::from_base64(base64)
        .map(|k| k.id().to_string())
        .unwrap_or_default()
}

fn time(secs: i64) -> String {
    tessera::format::license::ts::format(
        &chrono::DateTime::from_timestamp(secs, 0).unwrap_or_default(),
    )
}

/// `GET /admin/v1/licenses/{id}/relays`.
pub(crate) async fn relays_call(State(app): AppState, Path(id): Path<String>) -> Reply {
    let (relays, usage) = app
        .with_db(move |_, conn| {
            licenses_db::license_by_id(conn, &id)?;
            Ok((db::relays_of(conn, &id)?, db::usage_of(conn, &id)?))
        })
        .await?;
    Answer::of(Relays {
        relays: relays
            .into_iter()
            .map(|r| RelayShown {
                relay_key_id: key_id(&r.relay_key),
                delegation: r.delegation,
                device: r.device,
                seats: r.seats,
                issued_at: time(r.issued_at),
                expires_at: time(r.expires_at),
            })
            .collect(),
        usage: usage
            .into_iter()
            .map(|u| UsageShown {
                relay_key_id: key_id(&u.relay_key),
                day: chrono::DateTime::from_timestamp(u.day.saturating_mul(86_400), 0)
                    .unwrap_or_default()
                    .format("%Y-%m-%d")
                    .to_string(),
                seat_hours: u.seat_seconds as f64 / 3600.0,
                peak: u.peak,
                grants: u.grants,
                denials: u.denials,
            })
            .collect(),
    })
}
