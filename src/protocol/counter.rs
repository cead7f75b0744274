//! Consumption counters as both ends name and limit them: the counter key
//! (`license`, `feature:<code>`) that journals and uploads carry, and the
//! limit arithmetic (maximum, overages, reset periods) read from a license.
//! The device's journal and the server's `add_consumption` both use these.

use crate::Time;
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::format::license::{ConsumptionPeriod, FeatureType, License, LicenseType};
use crate::format::period::period_start;

/// The period key of counters that never reset.
pub const NO_PERIOD: i64 = i64::MIN;

/// Which counter to consume from.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Counter {
    /// The license-level counter of a consumption license.
    License,
    /// The counter of a consumption feature, by code.
    Feature(String),
}

impl Counter {
    /// The counter's key, in the journal and on the wire: `license` or
    /// `feature:<code>`.
    pub fn key(&self) -> String {
        match self {
            Counter::License => LICENSE_KEY.to_owned(),
            Counter::Feature(code) => format!("{FEATURE_PREFIX}{code}"),
        }
    }

    /// The counter a key names (the inverse of [`Counter::key`]), or `None`
    /// for a key of neither form.
    pub fn parse(key: &str) -> Option<Counter> {
        if key == LICENSE_KEY {
            return Some(Counter::License);
        }
        key.strip_prefix(FEATURE_PREFIX)
            .filter(|code| !code.is_empty())
            .map(|code| Counter::Feature(code.to_owned()))
    }
}

const LICENSE_KEY: &str = "license";
const FEATURE_PREFIX: &str = "feature:";

/// The limits of one counter, from the license: the one place that reads
/// them, for the device and the server alike.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Limit {
    /// Units allowed per period (before overages).
    pub max: u64,
    /// No limit at all.
    pub unlimited: bool,
    /// Units allowed past `max` (zero unless overages are allowed).
    pub overage: u64,
    /// The reset period, when the counter resets.
    pub period: Option<ConsumptionPeriod>,
    /// Units the license file says were used when it was issued.
    pub base: u64,
    /// When the file was issued: `base` counts in that period only.
    pub base_at: Time,
}

impl Limit {
    /// The limits of `counter` in `license`, or an error when the license
    /// has no such consumption counter.
    pub fn of(license: &License, counter: &Counter) -> Result<Limit> {
        let period = |reset: bool, p: Option<ConsumptionPeriod>| if reset { p } else { None };
        match counter {
            Counter::License if license.license_type == LicenseType::Consumption => Ok(Limit {
                max: license.max_consumptions,
                unlimited: license.allow_unlimited_consumptions,
                overage: if license.allow_overages {
                    license.max_overages
                } else {
                    0
                },
                period: period(license.reset_consumption, license.consumption_period),
                base: license.total_consumptions,
                base_at: license.issued_at,
            }),
            Counter::Feature(code) => match license.feature(code) {
                Some(f) if f.feature_type == FeatureType::Consumption => Ok(Limit {
                    max: f.max_consumption,
                    unlimited: f.allow_unlimited_consumptions,
                    overage: if f.allow_overages { f.max_overages } else { 0 },
                    period: period(f.reset_consumption, f.consumption_period),
                    base: f.total_consumptions,
                    base_at: license.issued_at,
                }),
                _ => Err(Error::NotConsumable(counter.key())),
            },
            Counter::License => Err(Error::NotConsumable(counter.key())),
        }
    }

    /// The key of the period `now` falls in: its start in Unix seconds, or
    /// [`NO_PERIOD`] for a counter that never resets.
    pub fn period_key(&self, now: Time) -> i64 {
        self.period
            .map_or(NO_PERIOD, |p| period_start(p, now).unix())
    }

    /// Units the license file says were used in the period `period_key`.
    pub fn base_in(&self, period_key: i64) -> u64 {
        if period_key == NO_PERIOD
            || self
                .period
                .is_some_and(|p| period_start(p, self.base_at).unix() == period_key)
        {
            self.base
        } else {
            0
        }
    }

    /// Units allowed in all, overages included (saturating), or `None`
    /// when the counter has no limit.
    pub fn ceiling(&self) -> Option<u64> {
        (!self.unlimited).then(|| self.max.saturating_add(self.overage))
    }

    /// Whether `used` units in all stay within the limit.
    pub fn allows(&self, used: u64) -> bool {
        self.ceiling().is_none_or(|ceiling| used <= ceiling)
    }
}

/// Increments not yet acknowledged by the license server: one journal
/// record, or a compacted range of them (what an upload carries).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Pending {
    /// First sequence number covered.
    pub first_seq: u64,
    /// Last sequence number covered.
    pub last_seq: u64,
    /// The counter's journal name.
    pub counter: String,
    /// The period start (Unix seconds; `i64::MIN` for counters that never reset).
    pub period: i64,
    /// Units.
    pub amount: u64,
    /// The chain MAC of the last journal record covered (hex): unique to
    /// this journal, so the server tells a retry from a record of a journal
    /// that started again at the same sequence number. Empty in a state
    /// written before the MAC was kept.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub mac: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_round_trip_and_nothing_else_parses() {
        for c in [Counter::License, Counter::Feature("render".into())] {
            assert_eq!(Counter::parse(&c.key()), Some(c));
        }
        for bad in ["", "licence", "feature:", "Feature:x", "license:x"] {
            assert_eq!(Counter::parse(bad), None, "{bad}");
        }
    }

    #[test]
    fn the_ceiling_counts_overages_and_saturates() {
        let limit = |max, overage, unlimited| Limit {
            max,
            unlimited,
            overage,
            period: None,
            base: 0,
            base_at: crate::Time::UNIX_EPOCH,
        };
        assert_eq!(limit(10, 5, false).ceiling(), Some(15));
        assert!(limit(10, 5, false).allows(15) && !limit(10, 5, false).allows(16));
        assert_eq!(limit(u64::MAX, 1, false).ceiling(), Some(u64::MAX));
        assert_eq!(limit(10, 0, true).ceiling(), None);
        assert!(limit(10, 0, true).allows(u64::MAX));
    }
}
