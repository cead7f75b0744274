//! LicenseSpring's calls on an activated license (issue 40): consumption
//! (`add_consumption`, `add_feature_consumption`), floating seats
//! (`floating/borrow`, `floating/release`; the check registers the seat of
//! a floating license, as LicenseSpring's cloud floating does) and the
//! update check (`versions`, `installation_file`). Each runs the client
//! API's operation in its transaction, through [`on_license`].

use serde_json::{json, Value};
use tessera::format::lease::LeaseKind;
use tessera::protocol::bodies::ConsumptionRecord;
use tessera::protocol::counter::{Counter, Limit};

use super::activation::{device_on, LicenseCall, OnLicense};
use super::object::{period, time};
use crate::consumption;
use crate::device_call::Purpose;
use crate::error::ApiError;
use crate::http::Answer;
use crate::licenses::db::LicenseRow;
use crate::releases::db as releases_db;
use crate::releases::versions;
use crate::seats;
use crate::state::App;
use crate::store::Db;

pub(super) async fn add_consumption_call(call: LicenseCall) -> Result<Answer, ApiError> {
    consume(call, false).await
}

pub(super) async fn add_feature_consumption_call(call: LicenseCall) -> Result<Answer, ApiError> {
    consume(call, true).await
}

/// Adds `consumptions` to the license's counter (or the feature's) as one
/// record of the device's journal, under the same limits as Tessera's
/// upload; answers the counter's fields as the library reads them.
async fn consume(call: LicenseCall, feature: bool) -> Result<Answer, ApiError> {
    let request = &call.request;
    let amount = match request.consumptions {
        Some(n) if n > 0 => n.unsigned_abs(),
        Some(0) | None => {
            return Err(ApiError::bad_request(
                "invalid_parameters",
                "consumptions must be a positive number",
            ))
        }
        Some(_) => {
            return Err(ApiError::bad_request(
                "not_supported",
                "negative consumptions are not served by this server: Tessera's counters only go up (docs/COMPAT.md)",
            ))
        }
    };
    let counter = match (feature, &request.feature) {
        (false, _) => Counter::License,
        (true, Some(code)) if !code.is_empty() => Counter::Feature(code.clone()),
        (true, _) => {
            return Err(ApiError::bad_request(
                "invalid_parameters",
                "feature is required",
            ))
        }
    };
    let f: OnLicense = Box::new(move |app, tx, row, device, _, now| {
        let seq = consumption::db::next_seq(tx, &row.id, device)?;
        let record = ConsumptionRecord::new(seq, seq, counter.key(), amount, None);
        let who = device_on(row, device);
        consumption::add_consumption(app, tx, row, &who, now, &[record])?;
        counter_fields(app, tx, row, &counter, now)
    });
    call.run(Purpose::Use, f).await
}

/// The counter's fields after the call: its total in the current period
/// (what the license file started with, and every record since), limit,
/// overages and reset.
fn counter_fields(
    app: &App,
    tx: &Db<'_>,
    row: &LicenseRow,
    counter: &Counter,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<Value, ApiError> {
    let parsed = app.license_of(row)?;
    let limit = Limit::of(&parsed.1, counter)
        .map_err(|e| ApiError::bad_request("unknown_counter", e.to_string()))?;
    let key = limit.period_key(now.into());
    let consumed = consumption::db::consumed(tx, &row.id, &counter.key(), key)?;
    let total = limit.base_in(key).saturating_add(consumed);
    let mut fields = json!({
        "total_consumptions": total,
        "allow_unlimited_consumptions": limit.unlimited,
        "allow_overages": limit.overage > 0,
        "max_overages": limit.overage,
        "reset_consumption": limit.period.is_some(),
        "consumption_period": period(limit.period),
    });
    match counter {
        Counter::License => fields["max_consumptions"] = json!(limit.max),
        Counter::Feature(code) => {
            fields["code"] = json!(code);
            fields["max_consumption"] = json!(limit.max);
        }
    }
    Ok(fields)
}

pub(super) async fn borrow_call(call: LicenseCall) -> Result<Answer, ApiError> {
    let request = &call.request;
    let until = request
        .borrowed_until
        .as_deref()
        .and_then(|t| chrono::DateTime::parse_from_rfc3339(t).ok())
        .map(|t| t.with_timezone(&chrono::Utc))
        .ok_or_else(|| {
            ApiError::bad_request(
                "invalid_parameters",
                "borrowed_until must be an RFC 3339 time",
            )
        })?;
    let f: OnLicense = Box::new(move |app, tx, row, device, _, now| {
        // Whole hours, rounded up: Tessera borrows by the hour.
        let seconds = (until - now).num_seconds();
        if seconds <= 0 {
            return Err(ApiError::bad_request(
                "invalid_parameters",
                "borrowed_until must be in the future",
            ));
        }
        let hours = u32::try_from(seconds.saturating_add(3599) / 3600).unwrap_or(u32::MAX);
        let who = device_on(row, device);
        seats::lease(app, tx, row, &who, now, LeaseKind::Borrow, hours)?;
        let ends = seats::db::borrowed_until(tx, &row.id, device, now.timestamp())?;
        Ok(json!({
            "is_borrowed": ends.is_some(),
            "borrowed_until": time(ends.and_then(|t| chrono::DateTime::from_timestamp(t, 0))),
        }))
    });
    call.run(Purpose::Use, f).await
}

pub(super) async fn release_call(call: LicenseCall) -> Result<Answer, ApiError> {
    let _request = &call.request;
    let f: OnLicense = Box::new(|_, tx, row, device, _, now| {
        seats::release(tx, &row.id, device, now.timestamp())?;
        Ok(Value::from("floating_released"))
    });
    call.run(Purpose::Use, f).await
}

pub(super) async fn versions_call(call: LicenseCall) -> Result<Answer, ApiError> {
    let request = &call.request;
    let channel = request.channel.clone();
    let f: OnLicense = Box::new(move |app, tx, row, device, _, _| {
        let (until, releases) = releases_for(app, tx, row, device, channel.as_deref())?;
        let list: Vec<Value> = releases
            .iter()
            .filter(|r| until.is_none_or(|end| r.release_date <= end))
            .map(release)
            .collect();
        Ok(Value::from(list))
    });
    call.run(Purpose::Use, f).await
}

pub(super) async fn installation_file_call(call: LicenseCall) -> Result<Answer, ApiError> {
    let request = &call.request;
    let (channel, version) = (request.channel.clone(), request.version.clone());
    let f: OnLicense = Box::new(move |app, tx, row, device, _, _| {
        let (until, releases) = releases_for(app, tx, row, device, channel.as_deref())?;
        let chosen = match &version {
            Some(v) => releases
                .iter()
                .filter(|r| until.is_none_or(|end| r.release_date <= end))
                .find(|r| r.version == *v),
            None => versions::latest_for(until, &releases, None),
        };
        chosen.map(release).ok_or_else(|| {
            ApiError::not_found(
                "version_not_found",
                "no release the license covers has that version (or none is published)",
            )
        })
    });
    call.run(Purpose::Use, f).await
}

/// The product's releases (of `channel`), and the time until which the
/// license's maintenance covers them; the device must be activated.
fn releases_for(
    app: &App,
    tx: &Db<'_>,
    row: &LicenseRow,
    device: &str,
    channel: Option<&str>,
) -> Result<(Option<i64>, Vec<releases_db::ReleaseRow>), ApiError> {
    crate::activations::require_activated(tx, row, device)?;
    let until = versions::covered_until(&app.license_of(row)?.1);
    Ok((until, releases_db::releases_of(tx, &row.product, channel)?))
}

/// A release in LicenseSpring's fields.
fn release(r: &releases_db::ReleaseRow) -> Value {
    json!({
        "version": r.version,
        "release_date": chrono::DateTime::from_timestamp(r.release_date, 0)
            .map(|t| t.format("%Y-%m-%d").to_string())
            .unwrap_or_default(),
        "requires_version": r.requires_version,
        "installation_file": r.installation_file,
        "hash_md5": r.hash_md5,
        "size": r.size.to_string(),
        "channel": r.channel,
        "environment": r.environment,
        "eula_link": r.eula_link,
        "release_notes_link": r.release_notes_link,
    })
}
