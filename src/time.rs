//! Time as Tessera's formats write it: an instant in UTC with one-second
//! resolution, written RFC 3339 (`2026-01-31T00:00:00Z`).
//!
//! [`Time`] is what every date of a license, a validation and a handle is,
//! and what a [`Clock`](crate::Clock) reads. It is Tessera's own type, so a
//! product does not depend on the date library the SDK uses inside; spans
//! of time are [`std::time::Duration`].
//!
//! ```
//! use std::time::Duration;
//! use tessera::Time;
//!
//! let t: Time = "2026-12-01T00:00:00Z".parse()?;
//! assert_eq!(t.unix(), 1_796_083_200);
//! assert_eq!(t.checked_add(Duration::from_secs(86_400)), "2026-12-02".parse().ok());
//! assert_eq!(t.to_string(), "2026-12-01T00:00:00Z");
//! assert!("yesterday".parse::<Time>().is_err());
//! # Ok::<(), tessera::Error>(())
//! ```

use std::fmt;
use std::time::Duration;

use chrono::{DateTime, Utc};

use crate::format::license::ts;

/// An instant in UTC, as license files write it.
///
/// Written as RFC 3339 in UTC with whole seconds ([`Display`](fmt::Display)
/// and serde); read from RFC 3339 with whole seconds and any offset, or from
/// a bare date (midnight UTC) ([`FromStr`](std::str::FromStr) and serde).
/// Ordered, hashable and `Copy`. Arithmetic with a [`Duration`] is checked
/// ([`Time::checked_add`]); the `+` and `-` operators panic past the year
/// 262,143, as [`std::time::SystemTime`]'s do.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Time(DateTime<Utc>);

impl Time {
    /// The Unix epoch, 1970-01-01T00:00:00Z.
    pub const UNIX_EPOCH: Time = Time(DateTime::<Utc>::UNIX_EPOCH);

    /// The earliest time there is (about 262,000 years BCE).
    pub const MIN: Time = Time(DateTime::<Utc>::MIN_UTC);

    /// The latest time there is (about 262,000 years CE).
    pub const MAX: Time = Time(DateTime::<Utc>::MAX_UTC);

    /// The time `secs` seconds after the Unix epoch (negative: before it);
    /// `None` when out of range.
    pub fn from_unix(secs: i64) -> Option<Time> {
        DateTime::from_timestamp(secs, 0).map(Time)
    }

    /// The operating system's time now (what [`SystemClock`](crate::SystemClock)
    /// reads). Products that test their rules read an injected
    /// [`Clock`](crate::Clock) instead.
    pub fn now() -> Time {
        Time(Utc::now())
    }

    /// Seconds since the Unix epoch (whole seconds, rounded down).
    pub fn unix(self) -> i64 {
        self.0.timestamp()
    }

    /// `self + d`, or `None` when out of range.
    pub fn checked_add(self, d: Duration) -> Option<Time> {
        let d = chrono::Duration::from_std(d).ok()?;
        self.0.checked_add_signed(d).map(Time)
    }

    /// `self - d`, or `None` when out of range.
    pub fn checked_sub(self, d: Duration) -> Option<Time> {
        let d = chrono::Duration::from_std(d).ok()?;
        self.0.checked_sub_signed(d).map(Time)
    }

    /// How long after `earlier` this time is; `None` when it is before
    /// `earlier`.
    pub fn duration_since(self, earlier: Time) -> Option<Duration> {
        (self.0 - earlier.0).to_std().ok()
    }

    /// How long after `earlier` this time is; zero when it is before.
    pub fn saturating_duration_since(self, earlier: Time) -> Duration {
        self.duration_since(earlier).unwrap_or_default()
    }

    /// The instant inside (crate-internal; the server and the CLI convert
    /// through `From` with the `internals` feature).
    pub(crate) const fn chrono(self) -> DateTime<Utc> {
        self.0
    }

    /// Wraps an instant (crate-internal).
    pub(crate) const fn of(t: DateTime<Utc>) -> Time {
        Time(t)
    }
}

impl fmt::Display for Time {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&ts::format(&self.0))
    }
}

impl fmt::Debug for Time {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

impl std::str::FromStr for Time {
    type Err = crate::Error;

    /// RFC 3339 with whole seconds (any offset, converted to UTC) or a bare
    /// date; a fraction of a second, a leap second, a lowercase `t` or `z`
    /// are refused, not rounded (docs/FORMAT.md).
    fn from_str(s: &str) -> crate::Result<Time> {
        ts::parse(s).map(Time).ok_or(crate::Error::InvalidArgument(
            "expected an RFC 3339 time with whole seconds (2026-01-31T00:00:00Z) or a date (2026-01-31)",
        ))
    }
}

impl std::ops::Add<Duration> for Time {
    type Output = Time;

    /// Panics when out of range; [`Time::checked_add`] does not.
    fn add(self, d: Duration) -> Time {
        #[allow(clippy::expect_used)] // documented, as std's SystemTime + Duration
        self.checked_add(d).expect("time out of range")
    }
}

impl std::ops::Sub<Duration> for Time {
    type Output = Time;

    /// Panics when out of range; [`Time::checked_sub`] does not.
    fn sub(self, d: Duration) -> Time {
        #[allow(clippy::expect_used)] // documented, as std's SystemTime - Duration
        self.checked_sub(d).expect("time out of range")
    }
}

impl serde::Serialize for Time {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        ts::serialize(&self.0, s)
    }
}

impl<'de> serde::Deserialize<'de> for Time {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Time, D::Error> {
        ts::deserialize(d).map(Time)
    }
}

#[cfg(feature = "schema")]
impl schemars::JsonSchema for Time {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "Time".into()
    }

    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!({
            "type": "string",
            "description": "RFC 3339 in UTC with whole seconds (2026-01-31T00:00:00Z); a bare date (2026-01-31) is read as midnight UTC",
            "examples": ["2026-01-31T00:00:00Z"]
        })
    }
}

#[cfg(feature = "internals")]
impl From<DateTime<Utc>> for Time {
    fn from(t: DateTime<Utc>) -> Time {
        Time(t)
    }
}

#[cfg(feature = "internals")]
impl From<Time> for DateTime<Utc> {
    fn from(t: Time) -> DateTime<Utc> {
        t.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_what_it_writes_and_refuses_what_the_format_refuses() {
        let t: Time = "2026-06-01T02:00:00+02:00".parse().unwrap();
        assert_eq!(t.to_string(), "2026-06-01T00:00:00Z");
        assert_eq!(t, "2026-06-01".parse().unwrap());
        assert_eq!(format!("{t:?}"), "2026-06-01T00:00:00Z");
        for bad in [
            "",
            "yesterday",
            "2026-06-01T00:00:00.5Z",
            "2026-06-01t00:00:00Z",
        ] {
            let err = bad.parse::<Time>().unwrap_err();
            assert_eq!(err.code(), crate::Code::InvalidArgument, "{bad}");
        }
        let json = serde_json::to_string(&t).unwrap();
        assert_eq!(json, "\"2026-06-01T00:00:00Z\"");
        assert_eq!(serde_json::from_str::<Time>(&json).unwrap(), t);
        assert!(serde_json::from_str::<Time>("\"2026-13-01\"").is_err());
    }

    #[test]
    fn arithmetic_is_checked_at_the_ends_of_the_range() {
        let t = Time::from_unix(1_800_000_000).unwrap();
        assert_eq!(t.unix(), 1_800_000_000);
        let later = t.checked_add(Duration::from_secs(90)).unwrap();
        assert_eq!(later.duration_since(t), Some(Duration::from_secs(90)));
        assert_eq!(t.duration_since(later), None);
        assert_eq!(t.saturating_duration_since(later), Duration::ZERO);
        assert_eq!(later - Duration::from_secs(90), t);
        assert_eq!(t.checked_add(Duration::MAX), None);
        assert_eq!(t.checked_sub(Duration::MAX), None);
        assert_eq!(Time::from_unix(i64::MAX), None);
        assert_eq!(Time::UNIX_EPOCH.unix(), 0);
    }
}
