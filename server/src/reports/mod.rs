//! Usage reports (docs/EVENTS.md, "Usage reports"): per license (or per
//! customer account) and per day, what a vendor bills from and what the
//! console's plots draw: activations, the peak of seats held at once, seat
//! time, borrows, seat denials and consumption per counter; as JSON or CSV.
//!
//! - [`usage`]: the arithmetic, on plain rows;
//! - [`db`]: the rows of a date range;
//! - this module: the admin API.

pub(crate) mod db;
pub(crate) mod usage;

use std::collections::{BTreeMap, BTreeSet, HashMap};

use axum::extract::{Query, State};
use axum::response::{IntoResponse, Response};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::body::{invalid, Reply};
use crate::error::ApiError;
use crate::http::Answer;
use crate::state::AppState;
use db::Scope;
use usage::DAY;

/// The longest range a report covers, in days (ten years).
const MAX_DAYS: i64 = 3_660;

/// `GET /reports/usage?from=&to=`: which days, which licenses, grouped how.
#[derive(Deserialize, JsonSchema)]
pub(crate) struct UsageQuery {
    /// The first day, `YYYY-MM-DD` (UTC).
    from: String,
    /// The last day, included.
    to: String,
    /// Only this license.
    license: Option<String>,
    /// Only this customer account's licenses.
    account: Option<String>,
    /// `license` (a row per license and day, the default) or `account` (a
    /// row per account and day, its licenses summed).
    per: Option<String>,
}

/// A usage report.
#[derive(Serialize, JsonSchema)]
#[schemars(deny_unknown_fields)]
pub(crate) struct UsageReport {
    from: String,
    to: String,
    /// `license` or `account`.
    per: String,
    /// A row per license (or account) and day with something to report,
    /// by license (or account), then day.
    rows: Vec<UsageRow>,
    /// The rows summed (the peak: the highest of theirs).
    totals: UsageTotals,
}

/// One license's (or account's) usage on one day.
#[derive(Serialize, JsonSchema)]
#[schemars(deny_unknown_fields)]
pub(crate) struct UsageRow {
    /// `YYYY-MM-DD` (UTC).
    date: String,
    /// Null in a report per account.
    license_id: Option<String>,
    product: Option<String>,
    account: Option<String>,
    #[serde(flatten)]
    usage: UsageTotals,
}

/// What is counted.
#[derive(Serialize, JsonSchema, Default)]
pub(crate) struct UsageTotals {
    /// Devices activated.
    activations: u64,
    /// The most floating and borrowed seats held at once.
    peak_seats: u64,
    /// Seat time, in seconds (exact).
    seat_seconds: u64,
    /// Seat time, in hours (rounded to hundredths).
    seat_hours: f64,
    /// Seats borrowed.
    borrows: u64,
    /// Seat requests refused because every seat was held.
    denials: u64,
    /// Units consumed, per counter (`license`, `feature:<code>`).
    consumption: BTreeMap<String, u64>,
}

impl UsageTotals {
    fn of(d: &usage::Day) -> UsageTotals {
        UsageTotals {
            activations: d.activations,
            peak_seats: d.peak_seats,
            seat_seconds: d.seat_seconds,
            seat_hours: hours(d.seat_seconds),
            borrows: d.borrows,
            denials: d.denials,
            consumption: d.consumption.clone(),
        }
    }

    fn add(&mut self, d: &usage::Day) {
        self.activations = self.activations.saturating_add(d.activations);
        self.peak_seats = self.peak_seats.max(d.peak_seats);
        self.seat_seconds = self.seat_seconds.saturating_add(d.seat_seconds);
        self.seat_hours = hours(self.seat_seconds);
        self.borrows = self.borrows.saturating_add(d.borrows);
        self.denials = self.denials.saturating_add(d.denials);
        for (counter, n) in &d.consumption {
            let sum = self.consumption.entry(counter.clone()).or_default();
            *sum = sum.saturating_add(*n);
        }
    }
}

fn hours(seconds: u64) -> f64 {
    (seconds as f64 / 36.0).round() / 100.0
}

/// A day `YYYY-MM-DD` as days since 1970-01-01.
fn day_of(text: &str, name: &str) -> Result<i64, ApiError> {
    chrono::NaiveDate::parse_from_str(text, "%Y-%m-%d")
        .ok()
        .filter(|_| text.len() == 10)
        .and_then(|d| d.and_hms_opt(0, 0, 0))
        .map(|t| t.and_utc().timestamp().div_euclid(DAY))
        .ok_or_else(|| invalid(format!("{name} is a day: YYYY-MM-DD")))
}

fn date_of(day: i64) -> String {
    tessera::Time::from_unix(day.saturating_mul(DAY))
        .map(|t| t.to_string()[..10].to_owned())
        .unwrap_or_default()
}

/// The report the query asks for.
async fn build(
    app: &std::sync::Arc<crate::state::App>,
    q: UsageQuery,
) -> Result<UsageReport, ApiError> {
    let (first, last) = (day_of(&q.from, "from")?, day_of(&q.to, "to")?);
    if last < first {
        return Err(invalid("to is on or after from"));
    }
    if last - first >= MAX_DAYS {
        return Err(invalid("a report covers at most 3660 days"));
    }
    let per_account = match q.per.as_deref() {
        None | Some("license") => false,
        Some("account") => true,
        Some(_) => return Err(invalid("per is license or account")),
    };
    if q.license.is_some() && q.account.is_some() {
        return Err(invalid("name a license or an account, not both"));
    }
    let (from_text, to_text) = (date_of(first), date_of(last));
    let report = app
        .with_db(move |app, conn| {
            let scope = match (&q.license, &q.account) {
                (Some(l), _) => Scope::License(l),
                (_, Some(a)) => Scope::Account(a),
                _ => Scope::All,
            };
            let range = (first * DAY, (last + 1) * DAY);
            let now = app.now().timestamp();
            let licenses: HashMap<String, (String, Option<String>)> = db::licenses(conn, &scope)?
                .into_iter()
                .map(|(id, product, account)| (id, (product, account)))
                .collect();
            let spans = db::spans(conn, &scope, range, now)?;
            let records = db::records(conn, &scope, range)?;
            let happened = db::happened(conn, &scope, range)?;
            let group = |license: &str| -> Option<String> {
                let (_, account) = licenses.get(license)?;
                Some(if per_account {
                    account.clone().unwrap_or_default()
                } else {
                    license.to_owned()
                })
            };
            let out = usage::report((first, last), group, &spans, &records, &happened);
            let mut rows = Vec::new();
            let mut totals = UsageTotals::default();
            for (group, days) in out {
                for (day, d) in days {
                    totals.add(&d);
                    let (license_id, product, account) = if per_account {
                        (None, None, Some(group.clone()).filter(|a| !a.is_empty()))
                    } else {
                        let (product, account) = licenses.get(&group).cloned().unwrap_or_default();
                        (Some(group.clone()), Some(product), account)
                    };
                    rows.push(UsageRow {
                        date: date_of(day),
                        license_id,
                        product,
                        account,
                        usage: UsageTotals::of(&d),
                    });
                }
            }
            Ok((rows, totals))
        })
        .await?;
    Ok(UsageReport {
        from: from_text,
        to: to_text,
        per: if per_account { "account" } else { "license" }.to_owned(),
        rows: report.0,
        totals: report.1,
    })
}

pub(crate) async fn usage_call(State(app): AppState, Query(q): Query<UsageQuery>) -> Reply {
    Answer::of(build(&app, q).await?)
}

/// The same report as CSV: a row per license (or account) and day, a
/// column per counter.
pub(crate) async fn usage_csv_call(
    State(app): AppState,
    Query(q): Query<UsageQuery>,
) -> Result<Response, ApiError> {
    let report = build(&app, q).await?;
    let counters: BTreeSet<&String> = report
        .rows
        .iter()
        .flat_map(|r| r.usage.consumption.keys())
        .collect();
    let mut out = String::from(
        "date,license_id,product,account,activations,peak_seats,seat_hours,seat_seconds,borrows,denials",
    );
    for c in &counters {
        out.push(',');
        out.push_str(&cell(&format!("consumption:{c}")));
    }
    out.push_str("\r\n");
    for r in &report.rows {
        let text = |v: &Option<String>| v.as_deref().map(cell).unwrap_or_default();
        let u = &r.usage;
        out.push_str(&format!(
            "{},{},{},{},{},{},{:.2},{},{},{}",
            r.date,
            text(&r.license_id),
            text(&r.product),
            text(&r.account),
            u.activations,
            u.peak_seats,
            u.seat_hours,
            u.seat_seconds,
            u.borrows,
            u.denials
        ));
        for c in &counters {
            out.push_str(&format!(",{}", u.consumption.get(*c).copied().unwrap_or(0)));
        }
        out.push_str("\r\n");
    }
    Ok(([(axum::http::header::CONTENT_TYPE, crate::http::CSV)], out).into_response())
}

/// A CSV cell: quoted, quotes doubled, and a leading `=`, `+`, `-`, `@`
/// (a formula to a spreadsheet) made text with a `'`.
fn cell(text: &str) -> String {
    let text = match text.chars().next() {
        Some('=' | '+' | '-' | '@' | '\t' | '\r') => format!("'{text}"),
        _ => text.to_owned(),
    };
    format!("\"{}\"", text.replace('"', "\"\""))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cell_is_quoted_and_no_formula() {
        assert_eq!(cell("acme"), "\"acme\"");
        assert_eq!(cell("a\"b,c"), "\"a\"\"b,c\"");
        assert_eq!(cell("=HYPERLINK(\"x\")"), "\"'=HYPERLINK(\"\"x\"\")\"");
        assert_eq!(day_of("2026-12-05", "from").unwrap(), 20_792);
        assert!(day_of("2026-12-5", "from").is_err());
        assert!(day_of("2026-02-30", "from").is_err());
        assert_eq!(date_of(20_792), "2026-12-05");
    }
}
