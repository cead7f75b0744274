//! Time, injected.
//!
//! Every rule that depends on time asks a [`Clock`]. Products use
//! [`SystemClock`]; tests and tools use [`ManualClock`], which only moves when
//! told to, so no test sleeps or reads the system clock.

use std::sync::atomic::{AtomicI64, Ordering};

use chrono::{DateTime, Duration, Utc};

/// A source of the current time.
pub trait Clock: Send + Sync {
    /// The current time in UTC.
    fn now(&self) -> DateTime<Utc>;

    /// Time elapsed on a clock that nobody can set: only differences of
    /// two readings mean anything. While a license is open, its trusted
    /// time never runs slower than this, so a wall clock set back again and
    /// again (a sawtooth) does not stretch a deadline. The default is the
    /// operating system's monotonic clock.
    fn monotonic(&self) -> std::time::Duration {
        static START: std::sync::OnceLock<std::time::Instant> = std::sync::OnceLock::new();
        START.get_or_init(std::time::Instant::now).elapsed()
    }

    /// Whether this clock's readings may raise the high-water mark kept in
    /// the state. A test hook's fixed time must not: one run with a time
    /// far ahead would make the real clock `clock_tampered` afterwards
    /// (SECURITY.md). Signed times (a file's `issued_at`) raise it always.
    fn raises_stored_mark(&self) -> bool {
        true
    }
}

/// The operating system's wall clock.
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> DateTime<Utc> {
        Utc::now()
    }
}

/// A clock that stands still until it is set or advanced.
///
/// Resolution is one second, like every timestamp in Tessera's formats.
/// [`ManualClock::advance`] by a positive amount is time passing (the
/// monotonic reading moves too); [`ManualClock::set`] and a negative
/// advance are the wall clock being set (the monotonic reading stays).
#[derive(Debug)]
pub struct ManualClock {
    unix_seconds: AtomicI64,
    monotonic_seconds: AtomicI64,
}

impl ManualClock {
    /// A clock showing `at` (sub-second precision is dropped).
    pub fn new(at: DateTime<Utc>) -> Self {
        ManualClock {
            unix_seconds: AtomicI64::new(at.timestamp()),
            monotonic_seconds: AtomicI64::new(0),
        }
    }

    /// Sets the clock to `at`, forwards or backwards.
    pub fn set(&self, at: DateTime<Utc>) {
        self.unix_seconds.store(at.timestamp(), Ordering::SeqCst);
    }

    /// Moves the clock by `by` (negative moves it back).
    pub fn advance(&self, by: Duration) {
        self.unix_seconds
            .fetch_add(by.num_seconds(), Ordering::SeqCst);
        if by > Duration::zero() {
            self.monotonic_seconds
                .fetch_add(by.num_seconds(), Ordering::SeqCst);
        }
    }
}

impl Clock for ManualClock {
    fn now(&self) -> DateTime<Utc> {
        let secs = self.unix_seconds.load(Ordering::SeqCst);
        DateTime::from_timestamp(secs, 0).unwrap_or(DateTime::<Utc>::MAX_UTC)
    }

    fn monotonic(&self) -> std::time::Duration {
        let secs = self.monotonic_seconds.load(Ordering::SeqCst);
        std::time::Duration::from_secs(u64::try_from(secs).unwrap_or(0))
    }
}

impl<C: Clock + ?Sized> Clock for &C {
    fn now(&self) -> DateTime<Utc> {
        (**self).now()
    }

    fn monotonic(&self) -> std::time::Duration {
        (**self).monotonic()
    }
    fn raises_stored_mark(&self) -> bool {
        (**self).raises_stored_mark()
    }
}

impl<C: Clock + ?Sized> Clock for std::sync::Arc<C> {
    fn now(&self) -> DateTime<Utc> {
        (**self).now()
    }

    fn monotonic(&self) -> std::time::Duration {
        (**self).monotonic()
    }
    fn raises_stored_mark(&self) -> bool {
        (**self).raises_stored_mark()
    }
}

/// The high-water mark of trusted time, and the check against rollback.
///
/// Fed by local observations, the `issued_at` of signed files and servers'
/// signed dates. A clock more than `tolerance` behind the mark is tampering;
/// smaller steps (NTP corrections, DST mistakes) pass. Lock-free: a check
/// is one atomic load and, when time moved on, one atomic max.
#[derive(Debug)]
pub struct TrustedTime {
    high_water: AtomicI64,
    tolerance: Duration,
}

impl TrustedTime {
    /// Starts from `high_water` (`None`: nothing seen yet).
    pub fn new(high_water: Option<DateTime<Utc>>, tolerance: Duration) -> Self {
        TrustedTime {
            high_water: AtomicI64::new(high_water.map_or(i64::MIN, |t| t.timestamp())),
            tolerance,
        }
    }

    /// Checks `now` against the mark and raises the mark to it.
    pub fn observe(&self, now: DateTime<Utc>) -> crate::Result<()> {
        let now_s = now.timestamp();
        let mark = self.high_water.load(Ordering::Acquire);
        let behind = mark.saturating_sub(now_s);
        if behind > self.tolerance.num_seconds() {
            return Err(crate::Error::ClockTampered {
                behind_secs: behind,
            });
        }
        if now_s > mark {
            self.high_water.fetch_max(now_s, Ordering::AcqRel);
        }
        Ok(())
    }

    /// Raises the mark to a trusted time (a signed file's or a server's).
    pub fn raise(&self, trusted: DateTime<Utc>) {
        self.raise_secs(trusted.timestamp());
    }

    /// [`TrustedTime::raise`] in Unix seconds, for the hot path: a load,
    /// and a write only when the mark moves.
    pub(crate) fn raise_secs(&self, trusted: i64) {
        if trusted > self.high_water.load(Ordering::Acquire) {
            self.high_water.fetch_max(trusted, Ordering::AcqRel);
        }
    }

    /// The high-water mark in Unix seconds (`i64::MIN` when none).
    pub(crate) fn mark_secs(&self) -> i64 {
        self.high_water.load(Ordering::Acquire)
    }

    /// The mark, if anything was seen.
    pub fn high_water(&self) -> Option<DateTime<Utc>> {
        match self.high_water.load(Ordering::Acquire) {
            i64::MIN => None,
            s => DateTime::from_timestamp(s, 0),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn manual_clock_moves_only_when_told() {
        let t0 = DateTime::from_timestamp(1_800_000_000, 0).unwrap();
        let clock = ManualClock::new(t0);
        assert_eq!(clock.now(), t0);
        clock.advance(Duration::hours(2));
        assert_eq!(clock.now(), t0 + Duration::hours(2));
        clock.advance(Duration::hours(-3));
        assert_eq!(clock.now(), t0 - Duration::hours(1));
        clock.set(t0);
        assert_eq!(clock.now(), t0);
    }

    #[test]
    fn small_steps_back_pass_and_large_ones_are_tampering() {
        let t0 = DateTime::from_timestamp(1_800_000_000, 0).unwrap();
        let trusted = TrustedTime::new(Some(t0), Duration::hours(1));
        assert!(trusted.observe(t0 + Duration::hours(5)).is_ok());
        assert_eq!(trusted.high_water(), Some(t0 + Duration::hours(5)));
        // An hour back exactly is still an NTP or DST slip.
        assert!(trusted.observe(t0 + Duration::hours(4)).is_ok());
        assert_eq!(
            trusted.observe(t0 + Duration::hours(4) - Duration::seconds(1)),
            Err(crate::Error::ClockTampered { behind_secs: 3601 })
        );
        // The mark never goes down, and signed times raise it.
        assert_eq!(trusted.high_water(), Some(t0 + Duration::hours(5)));
        trusted.raise(t0 + Duration::days(2));
        assert!(trusted.observe(t0 + Duration::days(1)).is_err());
        assert_eq!(TrustedTime::new(None, Duration::zero()).high_water(), None);
    }
}
