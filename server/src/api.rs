//! The client API the SDK calls (authenticated per product).

use std::collections::HashMap;
use std::sync::Arc;

use chrono::{DateTime, Duration, Utc};
use serde::Deserialize;
use serde_json::{json, Value};
use tessera::lease::{Lease, LeaseKind};
use tessera::{Fingerprint, License};

use crate::app::{App, Call};
use crate::db::{self, LicenseRow};
use crate::error::ApiError;

/// What every client request names.
#[derive(Debug, Deserialize)]
struct Who {
    product: String,
    license_key: String,
    fingerprint: Fingerprint,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct DeviceRequest {
    #[serde(flatten)]
    who: Who,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct BorrowRequest {
    #[serde(flatten)]
    who: Who,
    hours: u32,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ConsumptionRequest {
    #[serde(flatten)]
    who: Who,
    records: Vec<Record>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Record {
    seq: u64,
    counter: String,
    amount: u64,
}

fn parse<T: serde::de::DeserializeOwned>(body: &[u8]) -> Result<T, ApiError> {
    serde_json::from_slice(body).map_err(|e| ApiError::bad_request("invalid_body", e.to_string()))
}

pub async fn route(app: &Arc<App>, call: Call) -> Result<Vec<u8>, ApiError> {
    if call.method != axum::http::Method::POST {
        return Err(ApiError::new(
            405,
            "method_not_allowed",
            "the client API takes POST",
        ));
    }
    let product = call.product.clone().unwrap_or_default();
    let value = match call.path.as_str() {
        "/api/v1/activate_license" => {
            let r: DeviceRequest = parse(&call.body)?;
            with_license(app, product, r.who, activate).await?
        }
        "/api/v1/check_license" => {
            let r: DeviceRequest = parse(&call.body)?;
            with_license(app, product, r.who, check).await?
        }
        "/api/v1/deactivate_license" => {
            let r: DeviceRequest = parse(&call.body)?;
            with_license(app, product, r.who, deactivate).await?
        }
        "/api/v1/floating/register" => {
            let r: DeviceRequest = parse(&call.body)?;
            with_license(app, product, r.who, |_, tx, l, who, now| {
                lease(tx, l, who, now, LeaseKind::Floating, 0)
            })
            .await?
        }
        "/api/v1/floating/heartbeat" => {
            let r: DeviceRequest = parse(&call.body)?;
            with_license(app, product, r.who, |_, tx, l, who, now| {
                // A heartbeat renews a live seat; a lapsed one must register again.
                if !db::has_live_lease(tx, &l.id, &who.fingerprint.id, now.timestamp())? {
                    return Err(ApiError::not_found(
                        "no_lease",
                        "this device holds no live seat: register again",
                    ));
                }
                lease(tx, l, who, now, LeaseKind::Floating, 0)
            })
            .await?
        }
        "/api/v1/floating/borrow" => {
            let r: BorrowRequest = parse(&call.body)?;
            let hours = r.hours;
            with_license(app, product, r.who, move |_, tx, l, who, now| {
                lease(tx, l, who, now, LeaseKind::Borrow, hours)
            })
            .await?
        }
        "/api/v1/floating/release" => {
            let r: DeviceRequest = parse(&call.body)?;
            with_license(app, product, r.who, |_, tx, row, who, _| {
                let released = db::delete_lease(tx, &row.id, &who.fingerprint.id)?;
                Ok(Reply::Done(json!({ "released": released })))
            })
            .await?
        }
        "/api/v1/add_consumption" => {
            let r: ConsumptionRequest = parse(&call.body)?;
            let records = r.records;
            with_license(app, product, r.who, move |_, tx, row, who, now| {
                add_consumption(tx, row, who, now, &records)
            })
            .await?
        }
        _ => return Err(ApiError::not_found("not_found", "no such endpoint")),
    };
    serde_json::to_vec(&value).map_err(|e| ApiError::internal(e.to_string()))
}

/// What a call answers: ready, or a document to sign once the database
/// lock is released.
enum Reply {
    Done(Value),
    /// A license spec to issue at the time given.
    License(Value, DateTime<Utc>),
    /// A lease to seal, and the other fields of the answer.
    Lease(Box<Lease>, Value),
}

fn finish(app: &App, reply: Reply) -> Result<Value, ApiError> {
    match reply {
        Reply::Done(v) => Ok(v),
        Reply::License(spec, now) => {
            let bytes = serde_json::to_vec(&spec).map_err(|e| ApiError::internal(e.to_string()))?;
            let (text, _) = tessera::issue::issue(&bytes, &app.key, now)?;
            Ok(json!({ "license_file": text }))
        }
        Reply::Lease(lease, mut extra) => {
            extra["lease"] = json!(tessera::lease::seal(&lease, &app.key)?);
            Ok(extra)
        }
    }
}

/// Looks the license up for the authenticated product and runs `f` in one
/// write transaction; what it answers is signed after the lock is released.
async fn with_license(
    app: &Arc<App>,
    product: String,
    who: Who,
    f: impl FnOnce(
            &App,
            &rusqlite::Transaction<'_>,
            &LicenseRow,
            &Who,
            DateTime<Utc>,
        ) -> Result<Reply, ApiError>
        + Send
        + 'static,
) -> Result<Value, ApiError> {
    if who.product != product {
        return Err(ApiError::new(
            403,
            "wrong_product",
            "the body names another product than the key",
        ));
    }
    if who.fingerprint.id.is_empty() || who.fingerprint.id.len() > 128 {
        return Err(ApiError::bad_request(
            "invalid_body",
            "fingerprint.id must be 1 to 128 characters",
        ));
    }
    app.with_db_then(
        move |app, conn| {
            let now = app.now();
            db::write(conn, |tx| {
                let row = db::license_by_key(tx, &who.product, &who.license_key)?;
                if !row.enabled {
                    return Err(ApiError::new(
                        403,
                        "license_disabled",
                        "the license is disabled",
                    ));
                }
                f(app, tx, &row, &who, now)
            })
        },
        finish,
    )
    .await
}

/// The stored spec and the license it describes. A spec never changes
/// once stored (only `enabled` does, in its own column), so parsed specs
/// are kept by license id.
type Parsed = Arc<(Value, License)>;

fn license_of(row: &LicenseRow) -> Result<Parsed, ApiError> {
    static CACHE: std::sync::OnceLock<std::sync::Mutex<HashMap<String, Parsed>>> =
        std::sync::OnceLock::new();
    let cache = CACHE.get_or_init(Default::default);
    let hit = cache
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .get(&row.id)
        .cloned();
    if let Some(parsed) = hit {
        return Ok(parsed);
    }
    let spec: Value =
        serde_json::from_str(&row.spec).map_err(|e| ApiError::internal(e.to_string()))?;
    let license: License = serde_json::from_value({
        let mut v = spec.clone();
        v["format"] = json!(1);
        v["issued_at"] = json!("1970-01-01T00:00:00Z");
        v
    })
    .map_err(|e| ApiError::internal(e.to_string()))?;
    let parsed = Arc::new((spec, license));
    cache
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .insert(row.id.clone(), Arc::clone(&parsed));
    Ok(parsed)
}

/// The license for `who`'s device now, issued once the lock is released.
fn license_reply(
    app: &App,
    conn: &rusqlite::Connection,
    row: &LicenseRow,
    who: &Who,
    now: DateTime<Utc>,
) -> Result<Reply, ApiError> {
    let mut spec = license_of(row)?.0.clone();
    spec["device"] =
        serde_json::to_value(&who.fingerprint).map_err(|e| ApiError::internal(e.to_string()))?;
    spec["times_activated"] = json!(db::activation_count(conn, &row.id)?);
    spec["transfer_count"] = json!(row.transfer_count);
    spec["expires_at"] = json!(tessera::license::ts::format(
        &(now + Duration::days(i64::from(app.check_in_days)))
    ));
    Ok(Reply::License(spec, now))
}

fn activate(
    app: &App,
    tx: &rusqlite::Transaction<'_>,
    row: &LicenseRow,
    who: &Who,
    now: DateTime<Utc>,
) -> Result<Reply, ApiError> {
    let parsed = license_of(row)?;
    let license = &parsed.1;
    let device = &who.fingerprint.id;
    if !db::is_activated(tx, &row.id, device)?
        && !license.allow_unlimited_activations
        && db::activation_count(tx, &row.id)? >= license.max_activations
    {
        return Err(ApiError::conflict(
            "activation_limit",
            format!(
                "the license is activated on its {} allowed devices",
                license.max_activations
            ),
        ));
    }
    let fp =
        serde_json::to_string(&who.fingerprint).map_err(|e| ApiError::internal(e.to_string()))?;
    db::insert_activation(tx, &row.id, device, &fp, now.timestamp())?;
    license_reply(app, tx, row, who, now)
}

/// Refuses a device the license is not activated on.
fn require_activated(
    tx: &rusqlite::Transaction<'_>,
    row: &LicenseRow,
    who: &Who,
) -> Result<(), ApiError> {
    if db::is_activated(tx, &row.id, &who.fingerprint.id)? {
        Ok(())
    } else {
        Err(ApiError::not_found(
            "not_activated",
            "the license is not activated on this device",
        ))
    }
}

fn check(
    app: &App,
    tx: &rusqlite::Transaction<'_>,
    row: &LicenseRow,
    who: &Who,
    now: DateTime<Utc>,
) -> Result<Reply, ApiError> {
    require_activated(tx, row, who)?;
    license_reply(app, tx, row, who, now)
}

fn deactivate(
    _: &App,
    tx: &rusqlite::Transaction<'_>,
    row: &LicenseRow,
    who: &Who,
    _: DateTime<Utc>,
) -> Result<Reply, ApiError> {
    let parsed = license_of(row)?;
    let license = &parsed.1;
    require_activated(tx, row, who)?;
    if license.max_transfers > 0 && row.transfer_count >= license.max_transfers {
        return Err(ApiError::conflict(
            "transfer_limit",
            format!(
                "the license allows {} transfers, all used",
                license.max_transfers
            ),
        ));
    }
    db::delete_activation(tx, &row.id, &who.fingerprint.id)?;
    Ok(Reply::Done(json!({ "deactivated": true })))
}

fn lease(
    tx: &rusqlite::Transaction<'_>,
    row: &LicenseRow,
    who: &Who,
    now: DateTime<Utc>,
    kind: LeaseKind,
    hours: u32,
) -> Result<Reply, ApiError> {
    let parsed = license_of(row)?;
    let license = &parsed.1;
    if !license.floats() {
        return Err(ApiError::conflict(
            "not_floating",
            "the license is not a floating license",
        ));
    }
    require_activated(tx, row, who)?;
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
    let others = db::seats_held_by_others(tx, &row.id, device, now.timestamp())?;
    if others >= license.floating_users {
        return Err(ApiError::conflict(
            "no_seat_available",
            format!(
                "all {} seats are taken; try again later",
                license.floating_users
            ),
        ));
    }
    let id = random_id()?;
    let lease = Lease {
        format: 1,
        id: id.clone(),
        license_id: row.id.clone(),
        product: row.product.clone(),
        device: who.fingerprint.clone(),
        kind,
        issued_at: now,
        expires_at: now + length,
    };
    let kind_name = if kind == LeaseKind::Borrow {
        "borrow"
    } else {
        "floating"
    };
    db::upsert_lease(
        tx,
        &id,
        &row.id,
        device,
        kind_name,
        lease.expires_at.timestamp(),
    )?;
    let extra = json!({
        // The others, and this device's lease, which is live until expires_at.
        "seats_used": others + 1,
        "seats_total": license.floating_users,
    });
    Ok(Reply::Lease(Box::new(lease), extra))
}

fn add_consumption(
    tx: &rusqlite::Transaction<'_>,
    row: &LicenseRow,
    who: &Who,
    now: DateTime<Utc>,
    records: &[Record],
) -> Result<Reply, ApiError> {
    let parsed = license_of(row)?;
    let license = &parsed.1;
    if records.len() > 10_000 {
        return Err(ApiError::bad_request(
            "invalid_body",
            "at most 10000 records per call",
        ));
    }
    let mut accepted = 0u64;
    let mut counters = std::collections::BTreeSet::new();
    for r in records {
        if r.amount == 0 {
            return Err(ApiError::bad_request(
                "invalid_body",
                "every amount must be at least 1",
            ));
        }
        if db::insert_consumption(
            tx,
            &row.id,
            &who.fingerprint.id,
            r.seq,
            &r.counter,
            r.amount,
            now.timestamp(),
        )? {
            accepted += 1;
        }
        counters.insert(r.counter.clone());
    }
    let mut totals = serde_json::Map::new();
    for counter in counters {
        let (max, unlimited, overages) = match counter.strip_prefix("feature:") {
            Some(code) => {
                let f = license.feature(code).ok_or_else(|| {
                    ApiError::bad_request("unknown_counter", format!("no feature `{code}`"))
                })?;
                (
                    f.max_consumption,
                    f.allow_unlimited_consumptions,
                    if f.allow_overages { f.max_overages } else { 0 },
                )
            }
            None if counter == "license" => (
                license.max_consumptions,
                license.allow_unlimited_consumptions,
                if license.allow_overages {
                    license.max_overages
                } else {
                    0
                },
            ),
            None => {
                return Err(ApiError::bad_request(
                    "unknown_counter",
                    format!("no counter `{counter}`"),
                ))
            }
        };
        let total = db::consumed(tx, &row.id, &counter)?;
        if !unlimited && total > max.saturating_add(overages) {
            // The transaction is dropped: nothing of this call is kept.
            return Err(ApiError::conflict(
                "consumption_limit",
                format!(
                    "`{counter}` would reach {total}, more than the {} allowed",
                    max + overages
                ),
            ));
        }
        totals.insert(counter, json!(total));
    }
    Ok(Reply::Done(
        json!({ "accepted": accepted, "totals": totals }),
    ))
}

pub fn random_id() -> Result<String, ApiError> {
    let mut b = [0u8; 16];
    getrandom::getrandom(&mut b).map_err(|_| ApiError::internal("no random source"))?;
    Ok(b.iter().map(|x| format!("{x:02x}")).collect())
}
