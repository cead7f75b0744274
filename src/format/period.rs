//! Consumption periods, calendar-correct in UTC.
//!
//! A counter with `reset_consumption` starts from zero at the start of each
//! period. Periods are aligned to the calendar in UTC, not to the
//! activation: daily at 00:00, weekly on Monday 00:00 (ISO weeks), monthly on
//! the 1st at 00:00, annually on 1 January at 00:00. Month lengths and leap
//! years come from the calendar (chrono), so a monthly period from
//! 2028-02-01 ends at 2028-03-01 after 29 days.

use chrono::{Datelike, Duration, NaiveDate};

use crate::Time;

use crate::format::license::ConsumptionPeriod;

/// The start of the period that contains `t`.
pub fn period_start(period: ConsumptionPeriod, t: Time) -> Time {
    let day = t.chrono().date_naive();
    let start = match period {
        ConsumptionPeriod::Daily => day,
        ConsumptionPeriod::Weekly => {
            day - Duration::days(i64::from(day.weekday().num_days_from_monday()))
        }
        ConsumptionPeriod::Monthly => day.with_day(1).unwrap_or(day),
        ConsumptionPeriod::Annually => NaiveDate::from_ymd_opt(day.year(), 1, 1).unwrap_or(day),
    };
    Time::of(start.and_time(chrono::NaiveTime::MIN).and_utc())
}

/// The start of the next period after the one containing `t`: when the
/// counter resets.
pub fn next_period_start(period: ConsumptionPeriod, t: Time) -> Time {
    let start = period_start(period, t);
    let day = start.chrono().date_naive();
    let next = match period {
        ConsumptionPeriod::Daily => day.succ_opt(),
        ConsumptionPeriod::Weekly => day.checked_add_signed(Duration::days(7)),
        ConsumptionPeriod::Monthly => day.checked_add_months(chrono::Months::new(1)),
        ConsumptionPeriod::Annually => day.checked_add_months(chrono::Months::new(12)),
    };
    next.map_or(Time::MAX, |d| {
        Time::of(d.and_time(chrono::NaiveTime::MIN).and_utc())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: &str) -> Time {
        s.parse().unwrap()
    }

    #[test]
    fn months_roll_over_at_their_real_ends() {
        use ConsumptionPeriod::Monthly;
        assert_eq!(
            period_start(Monthly, t("2026-01-31T23:59:59Z")),
            t("2026-01-01")
        );
        assert_eq!(
            period_start(Monthly, t("2026-02-01T00:00:00Z")),
            t("2026-02-01")
        );
        assert_eq!(
            next_period_start(Monthly, t("2026-01-31T12:00:00Z")),
            t("2026-02-01")
        );
        assert_eq!(next_period_start(Monthly, t("2026-02-15")), t("2026-03-01"));
        assert_eq!(
            next_period_start(Monthly, t("2026-12-31T23:59:59Z")),
            t("2027-01-01")
        );
        assert_eq!(
            period_start(Monthly, t("2026-04-30T23:59:59Z")),
            t("2026-04-01")
        );
    }

    #[test]
    fn leap_years_are_calendar_correct() {
        use ConsumptionPeriod::*;
        // 2028 is a leap year: February has 29 days.
        assert_eq!(
            period_start(Daily, t("2028-02-29T13:00:00Z")),
            t("2028-02-29")
        );
        assert_eq!(
            next_period_start(Daily, t("2028-02-28T23:00:00Z")),
            t("2028-02-29")
        );
        assert_eq!(
            next_period_start(Daily, t("2028-02-29T23:00:00Z")),
            t("2028-03-01")
        );
        assert_eq!(
            period_start(Monthly, t("2028-02-29T23:59:59Z")),
            t("2028-02-01")
        );
        assert_eq!(
            next_period_start(Monthly, t("2028-02-29")).duration_since(t("2028-02-01")),
            Some(std::time::Duration::from_secs(29 * 86_400))
        );
        assert_eq!(
            next_period_start(Monthly, t("2027-02-28")).duration_since(t("2027-02-01")),
            Some(std::time::Duration::from_secs(28 * 86_400))
        );
        assert_eq!(
            next_period_start(Annually, t("2028-06-01")).duration_since(t("2028-01-01")),
            Some(std::time::Duration::from_secs(366 * 86_400))
        );
        // 2100 is not a leap year.
        assert_eq!(
            next_period_start(Daily, t("2100-02-28T10:00:00Z")),
            t("2100-03-01")
        );
    }

    #[test]
    fn weeks_start_on_monday_and_years_on_the_first_of_january() {
        use ConsumptionPeriod::*;
        // 2026-11-22 is a Sunday; 2026-11-23 a Monday.
        assert_eq!(
            period_start(Weekly, t("2026-11-22T23:59:59Z")),
            t("2026-11-16")
        );
        assert_eq!(
            period_start(Weekly, t("2026-11-23T00:00:00Z")),
            t("2026-11-23")
        );
        assert_eq!(next_period_start(Weekly, t("2026-12-30")), t("2027-01-04"));
        assert_eq!(
            period_start(Annually, t("2026-12-31T23:59:59Z")),
            t("2026-01-01")
        );
        assert_eq!(
            next_period_start(Annually, t("2026-12-31T23:59:59Z")),
            t("2027-01-01")
        );
    }
}
