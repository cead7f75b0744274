//! The queries of the usage report: the seat spans, consumption records
//! and events of a date range, of one license, one account or all.

use super::usage::{Happened, Happening, Record, Span};
use crate::store::{all, args, exec, Db, DbResult};

/// Which licenses a report covers.
pub(crate) enum Scope<'a> {
    All,
    License(&'a str),
    Account(&'a str),
}

impl Scope<'_> {
    /// The condition on a `license_id` column, with its argument as ?3.
    fn condition(&self) -> &'static str {
        match self {
            Scope::All => "?3 = ''",
            Scope::License(_) => "license_id = ?3",
            Scope::Account(_) => "license_id IN (SELECT id FROM licenses WHERE account = ?3)",
        }
    }

    fn arg(&self) -> &str {
        match self {
            Scope::All => "",
            Scope::License(l) | Scope::Account(l) => l,
        }
    }
}

/// The seat spans that overlap `from..to`: those that ended, and the
/// leases as they stand (a live one counted to `now`).
pub(crate) fn spans(
    conn: &Db<'_>,
    scope: &Scope<'_>,
    (from, to): (i64, i64),
    now: i64,
) -> DbResult<Vec<Span>> {
    let cond = scope.condition();
    let mut out = all(
        conn,
        &format!(
            "SELECT license_id, started_at, ended_at FROM seat_spans
             WHERE started_at < ?2 AND ended_at > ?1 AND {cond}"
        ),
        args![from, to, scope.arg()],
        span_from,
    )?;
    out.extend(all(
        conn,
        &format!(
            "SELECT license_id, COALESCE(started_at, expires_at),
                    CASE WHEN expires_at < ?4 THEN expires_at ELSE ?4 END FROM leases
             WHERE COALESCE(started_at, expires_at) < ?2 AND expires_at > ?1 AND {cond}"
        ),
        args![from, to, scope.arg(), now],
        span_from,
    )?);
    Ok(out)
}

fn span_from(r: &crate::store::Row) -> DbResult<Span> {
    Ok(Span {
        license: r.get(0)?,
        start: r.get(1)?,
        end: r.get(2)?,
    })
}

/// The consumption records received in `from..to`.
pub(crate) fn records(
    conn: &Db<'_>,
    scope: &Scope<'_>,
    (from, to): (i64, i64),
) -> DbResult<Vec<Record>> {
    let cond = scope.condition();
    all(
        conn,
        &format!(
            "SELECT license_id, at, counter, amount FROM consumption
             WHERE at >= ?1 AND at < ?2 AND {cond}"
        ),
        args![from, to, scope.arg()],
        |r| {
            Ok(Record {
                license: r.get(0)?,
                at: r.get(1)?,
                counter: r.get(2)?,
                amount: r.get(3)?,
            })
        },
    )
}

/// The activations, borrows and seat denials of `from..to`.
pub(crate) fn happened(
    conn: &Db<'_>,
    scope: &Scope<'_>,
    (from, to): (i64, i64),
) -> DbResult<Vec<Happened>> {
    let cond = scope.condition();
    all(
        conn,
        &format!(
            "SELECT license_id, at, kind FROM events
             WHERE kind IN ('activation.created', 'borrow.started', 'seat.denied')
               AND at >= ?1 AND at < ?2 AND license_id IS NOT NULL AND {cond}"
        ),
        args![from, to, scope.arg()],
        |r| {
            let kind: String = r.get(2)?;
            Ok(Happened {
                license: r.get(0)?,
                at: r.get(1)?,
                what: match kind.as_str() {
                    "activation.created" => Happening::Activation,
                    "borrow.started" => Happening::Borrow,
                    _ => Happening::Denial,
                },
            })
        },
    )
}

/// Each license of the scope with its product and account.
pub(crate) fn licenses(
    conn: &Db<'_>,
    scope: &Scope<'_>,
) -> DbResult<Vec<(String, String, Option<String>)>> {
    let cond = match scope {
        Scope::All => "?1 = ''",
        Scope::License(_) => "id = ?1",
        Scope::Account(_) => "account = ?1",
    };
    all(
        conn,
        &format!("SELECT id, product, account FROM licenses WHERE {cond}"),
        args![scope.arg()],
        |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
    )
}

/// Adds `amount` to the day's total of `metric` (the console's plots read
/// these instead of every record): saturating at 2^63-1, never wrapping.
pub(crate) fn add_to_day(tx: &Db<'_>, metric: &str, day: i64, amount: i64) -> DbResult<()> {
    if amount <= 0 {
        return Ok(());
    }
    exec(
        tx,
        "INSERT INTO daily_totals (metric, day, amount) VALUES (?1, ?2, ?3)
         ON CONFLICT (metric, day) DO UPDATE SET amount = CASE
             WHEN daily_totals.amount > 9223372036854775807 - excluded.amount
             THEN 9223372036854775807 ELSE daily_totals.amount + excluded.amount END",
        args![metric, day, amount],
    )?;
    Ok(())
}

/// The daily totals of `metric` (an exact name, or every metric starting
/// with it when it ends in `:`) from `since_day`: (metric, day, amount).
pub(crate) fn daily_totals(
    conn: &Db<'_>,
    metric: &str,
    since_day: i64,
) -> DbResult<Vec<(String, i64, i64)>> {
    let prefix = metric.ends_with(':');
    all(
        conn,
        "SELECT metric, day, amount FROM daily_totals
         WHERE day >= ?2 AND (metric = ?1 OR (?3 = 1 AND substr(metric, 1, length(?1)) = ?1))
         ORDER BY metric, day",
        args![metric, since_day, prefix],
        |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
    )
}
