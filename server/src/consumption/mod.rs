//! Consumption uploaded by devices: each record counted once, against the
//! license's limits.

pub(crate) mod db;

use chrono::{DateTime, Utc};
use tessera::protocol::counter::{Counter, Limit};

use tessera::protocol::bodies::{
    ConsumptionAnswer, ConsumptionRecord as Record, ConsumptionRequest,
};

use tessera::protocol::bodies::LicenseAndDevice;

use crate::activations::require_activated;
use crate::device_call::{DeviceBody, DeviceCall, Handler, Purpose, Unsigned};
use crate::error::ApiError;
use crate::http::Answer;
use crate::licenses::db::LicenseRow;
use crate::outbox;
use crate::state::App;
use crate::store::Db;

impl DeviceBody for ConsumptionRequest {
    type Rest = Vec<Record>;
    fn split(self) -> (LicenseAndDevice, Vec<Record>) {
        (self.who, self.records)
    }
}

pub(crate) async fn add_consumption_call(
    mut call: DeviceCall<ConsumptionRequest>,
) -> Result<Answer, ApiError> {
    let records = std::mem::take(&mut call.rest);
    let handler: Box<Handler> =
        Box::new(move |app, tx, row, who, now| add_consumption(app, tx, row, who, now, &records));
    call.run(Purpose::Use, handler).await
}

pub(crate) fn add_consumption(
    app: &App,
    tx: &Db<'_>,
    row: &LicenseRow,
    who: &LicenseAndDevice,
    now: DateTime<Utc>,
    records: &[Record],
) -> Result<Unsigned, ApiError> {
    let parsed = app.license_of(row)?;
    let license = &parsed.1;
    if records.len() > 10_000 {
        return Err(ApiError::bad_request(
            "invalid_body",
            "at most 10000 records per call",
        ));
    }
    require_activated(tx, row, &who.fingerprint.id)?;
    let mut accepted = 0u64;
    let mut conflicts = 0u64;
    let mut counters = std::collections::BTreeSet::new();
    // What this call adds to each counter (retries add nothing).
    let mut added: std::collections::BTreeMap<&str, u64> = Default::default();
    for r in records {
        if r.amount == 0 {
            return Err(ApiError::bad_request(
                "invalid_body",
                "every amount must be at least 1",
            ));
        }
        if r.mac.as_deref().is_some_and(|m| {
            m.is_empty() || m.len() > 128 || !m.bytes().all(|b| b.is_ascii_hexdigit())
        }) {
            return Err(ApiError::bad_request(
                "invalid_body",
                "a record's mac is 1 to 128 hex digits",
            ));
        }
        let uploaded = db::Uploaded {
            first_seq: r.first_seq.unwrap_or(r.seq),
            seq: r.seq,
            counter: &r.counter,
            amount: r.amount,
            mac: r.mac.as_deref(),
        };
        let counted = match db::insert_consumption(
            tx,
            &row.id,
            &who.fingerprint.id,
            uploaded,
            now.timestamp(),
        )? {
            db::Inserted::New => true,
            db::Inserted::Conflict => {
                conflicts += 1;
                true
            }
            db::Inserted::Retry => false,
        };
        if counted {
            accepted += 1;
            let sum = added.entry(r.counter.as_str()).or_default();
            *sum = sum.saturating_add(r.amount);
        }
        counters.insert(r.counter.clone());
    }
    let mut totals = std::collections::BTreeMap::new();
    // The vendor's thresholds, read once a call, when a counter moved.
    let mut thresholds = None;
    for counter in counters {
        let parsed = Counter::parse(&counter).ok_or_else(|| {
            ApiError::bad_request("unknown_counter", format!("no counter `{counter}`"))
        })?;
        let limit = match Limit::of(license, &parsed) {
            Ok(limit) => limit,
            Err(_) => {
                return Err(match &parsed {
                    Counter::Feature(code) if app.feature_is_off(row, code) => {
                        ApiError::conflict("feature_disabled", format!("`{code}` is switched off"))
                    }
                    Counter::Feature(code) => ApiError::bad_request(
                        "unknown_counter",
                        format!("no consumption feature `{code}`"),
                    ),
                    Counter::License => {
                        ApiError::bad_request("unknown_counter", format!("no counter `{counter}`"))
                    }
                })
            }
        };
        // A counter that resets is limited per period, as on the device:
        // the records received in the current period count (a record
        // uploaded late counts in the period it arrived in).
        let total = db::consumed(tx, &row.id, &counter, limit.period_key(now.into()))?;
        if !limit.allows(total) {
            // The transaction is dropped: nothing of this call is kept.
            return Err(ApiError::conflict(
                "consumption_limit",
                format!(
                    "`{counter}` would reach {total}, more than the {} allowed",
                    limit.ceiling().unwrap_or(u64::MAX)
                ),
            ));
        }
        if let Some(ceiling) = limit.ceiling() {
            let before = total.saturating_sub(added.get(counter.as_str()).copied().unwrap_or(0));
            crossed(
                tx,
                &mut thresholds,
                &row.id,
                &counter,
                (before, total),
                ceiling,
            )?;
        }
        totals.insert(counter, total);
    }
    Ok(Unsigned::Ready(crate::http::to_value(
        &ConsumptionAnswer::new(accepted, conflicts, totals),
    )?))
}

/// Writes a `consumption.threshold` event for each threshold the vendor
/// set (a percentage of `ceiling`) that the counter passed from `before`
/// to `after`.
fn crossed(
    tx: &Db<'_>,
    thresholds: &mut Option<Vec<u8>>,
    license_id: &str,
    counter: &str,
    (before, after): (u64, u64),
    ceiling: u64,
) -> Result<(), ApiError> {
    if after == before || ceiling == 0 {
        return Ok(());
    }
    if thresholds.is_none() {
        *thresholds = Some(crate::outbox::db::thresholds(tx)?);
    }
    for &percent in thresholds.iter().flatten() {
        // The threshold's amount, rounded up: 80 % of 5 is reached at 4.
        let at = (u128::from(ceiling) * u128::from(percent)).div_ceil(100);
        if u128::from(before) < at && at <= u128::from(after) {
            outbox::emit(
                tx,
                outbox::Kind::ConsumptionThreshold,
                Some(license_id),
                serde_json::json!({
                    "counter": counter,
                    "percent": percent,
                    "used": after,
                    "limit": ceiling,
                }),
            )?;
        }
    }
    Ok(())
}
