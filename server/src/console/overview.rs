//! The console's overview: the counts, and the plots of seats, activations,
//! trials and consumption (SVG drawn on the server from daily totals).

use askama::Template;
use axum::extract::State;

use super::queries;
use super::signed_in::Staff;
use crate::state::AppState;
use crate::store::{args, Arg};
use crate::web::plot::Chart;
use crate::web::{page, Chrome, PageResult};

const DAY: i64 = 86_400;
const WEEK: i64 = 7 * DAY;

#[derive(Template)]
#[template(path = "console/overview.html")]
struct OverviewPage {
    chrome: Chrome,
    licenses: i64,
    devices: i64,
    seats_now: i64,
    products: i64,
    charts: Vec<Chart>,
    counters: Vec<Chart>,
}

/// Labels and values of `buckets` (bucket number, count) over `n` buckets
/// of `width` seconds from `since`, empty ones included.
fn series(
    buckets: &[(i64, i64)],
    since: i64,
    width: i64,
    n: i64,
    format: &str,
) -> Vec<(String, i64)> {
    (0..n)
        .map(|i| {
            let label = chrono::DateTime::from_timestamp(since + i * width, 0)
                .map(|t| t.format(format).to_string())
                .unwrap_or_default();
            let value = buckets.iter().filter(|b| b.0 == i).map(|b| b.1).sum();
            (label, value)
        })
        .collect()
}

/// What the overview reads: four counts, then the buckets of seats
/// (ended, live), activations, trials, converted trials and consumption.
type OverviewData = (
    i64,
    i64,
    i64,
    i64,
    Vec<(i64, i64)>,
    Vec<(i64, i64)>,
    Vec<(i64, i64)>,
    Vec<(i64, i64)>,
    Vec<(i64, i64)>,
    Vec<(String, i64, i64)>,
);

pub(crate) async fn overview(State(app): AppState, staff: Staff) -> PageResult {
    let now = app.now().timestamp();
    let today = now - now.rem_euclid(DAY);
    let days_since = today - 29 * DAY;
    let weeks_since = today - 11 * WEEK;
    let data: OverviewData = app
        .with_db(move |_, conn| {
            let count = |sql: &str, a: &[Arg<'_>]| -> Result<i64, crate::error::ApiError> {
                Ok(conn
                    .row(sql, a)?
                    .map(|r| r.get(0))
                    .transpose()?
                    .unwrap_or(0))
            };
            let licenses = count("SELECT COUNT(*) FROM licenses", args![])?;
            let devices = count("SELECT COUNT(*) FROM activations", args![])?;
            let seats_now = count(
                "SELECT COUNT(*) FROM leases WHERE expires_at > ?1",
                args![now],
            )?;
            let products = count("SELECT COUNT(*) FROM products", args![])?;
            // Seats and consumption from the daily totals kept as records
            // are written (a year of records is too many to sum per page).
            let first_day = days_since / DAY;
            let seats = crate::reports::db::daily_totals(conn, "seats", first_day)?
                .into_iter()
                .map(|(_, day, n)| (day - first_day, n))
                .collect::<Vec<_>>();
            let live = queries::buckets(
                conn,
                "SELECT (started_at - ?1) / ?2 AS b, COUNT(*) FROM leases
                 WHERE started_at >= ?1 GROUP BY b",
                days_since,
                DAY,
            )?;
            let activations = queries::buckets(
                conn,
                "SELECT (activated_at - ?1) / ?2 AS b, COUNT(*) FROM activations
                 WHERE activated_at >= ?1 GROUP BY b",
                weeks_since,
                WEEK,
            )?;
            let trials = queries::buckets(
                conn,
                "SELECT (a.activated_at - ?1) / ?2 AS b, COUNT(*) FROM trials t
                 JOIN activations a ON a.license_id = t.license_id AND a.device = t.device
                 WHERE a.activated_at >= ?1 GROUP BY b",
                weeks_since,
                WEEK,
            )?;
            let converted = queries::buckets(
                conn,
                "SELECT (a.activated_at - ?1) / ?2 AS b, COUNT(*) FROM trials t
                 JOIN activations a ON a.license_id = t.license_id AND a.device = t.device
                 WHERE a.activated_at >= ?1 AND EXISTS (
                     SELECT 1 FROM activations a2 JOIN licenses l2 ON l2.id = a2.license_id
                     WHERE a2.device = t.device AND l2.product = t.product
                     AND a2.license_id <> t.license_id)
                 GROUP BY b",
                weeks_since,
                WEEK,
            )?;
            let consumption = crate::reports::db::daily_totals(conn, "consumption:", first_day)?
                .into_iter()
                .map(|(metric, day, n)| {
                    let counter = metric
                        .strip_prefix("consumption:")
                        .unwrap_or(&metric)
                        .to_owned();
                    (counter, day - first_day, n)
                })
                .collect::<Vec<_>>();
            Ok((
                licenses,
                devices,
                seats_now,
                products,
                seats,
                live,
                activations,
                trials,
                converted,
                consumption,
            ))
        })
        .await?;
    let (
        licenses,
        devices,
        seats_now,
        products,
        mut seats,
        live,
        activations,
        trials,
        converted,
        consumption,
    ) = data;
    seats.extend(live);
    let charts = vec![
        Chart::new(
            "Seats taken per day, last 30 days",
            &series(&seats, days_since, DAY, 30, "%b %d"),
        ),
        Chart::new(
            "Activations per week, last 12 weeks",
            &series(&activations, weeks_since, WEEK, 12, "%b %d"),
        ),
        Chart::new(
            "Trials started per week",
            &series(&trials, weeks_since, WEEK, 12, "%b %d"),
        ),
        Chart::new(
            "Trials converted (the device holds a paid license of the product)",
            &series(&converted, weeks_since, WEEK, 12, "%b %d"),
        ),
    ];
    let mut names: Vec<String> = consumption.iter().map(|c| c.0.clone()).collect();
    names.dedup();
    let counters = names
        .into_iter()
        .take(6)
        .map(|name| {
            let b: Vec<(i64, i64)> = consumption
                .iter()
                .filter(|c| c.0 == name)
                .map(|c| (c.1, c.2))
                .collect();
            Chart::new(
                format!("Consumption of `{name}` per day, last 30 days"),
                &series(&b, days_since, DAY, 30, "%b %d"),
            )
        })
        .collect();
    page(&OverviewPage {
        chrome: staff.chrome("/console/", None),
        licenses,
        devices,
        seats_now,
        products,
        charts,
        counters,
    })
}
