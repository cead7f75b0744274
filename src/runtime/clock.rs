//! Time, injected.
//!
//! Every rule that depends on time asks a [`Clock`]. Products use
//! [`SystemClock`]; tests and tools use [`ManualClock`], which only moves when
//! told to, so no test sleeps or reads the system clock.

use std::sync::atomic::{AtomicI64, Ordering};

use std::time::Duration;

use crate::Time;

/// A source of the current time.
pub trait Clock: Send + Sync {
    /// The current time.
    fn now(&self) -> Time;

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
    fn now(&self) -> Time {
        Time::now()
    }
}

/// A clock that stands still until it is set or advanced.
///
/// Resolution is one second, like every timestamp in Tessera's formats.
/// [`ManualClock::advance`] is time passing (the monotonic reading moves
/// too); [`ManualClock::set`] and [`ManualClock::set_back`] are the wall
/// clock being set (the monotonic reading stays).
#[derive(Debug)]
pub struct ManualClock {
    unix_seconds: AtomicI64,
    monotonic_seconds: AtomicI64,
}

impl ManualClock {
    /// A clock showing `at` (sub-second precision is dropped).
    pub fn new(at: Time) -> Self {
        ManualClock {
            unix_seconds: AtomicI64::new(at.unix()),
            monotonic_seconds: AtomicI64::new(0),
        }
    }

    /// Sets the clock to `at`, forwards or backwards.
    pub fn set(&self, at: Time) {
        self.unix_seconds.store(at.unix(), Ordering::SeqCst);
    }

    /// Time passes: the clock moves forward by `by` (whole seconds).
    pub fn advance(&self, by: Duration) {
        let secs = i64::try_from(by.as_secs()).unwrap_or(i64::MAX);
        let add = |n: &AtomicI64| {
            let _ = n.fetch_update(Ordering::SeqCst, Ordering::SeqCst, |v| {
                Some(v.saturating_add(secs))
            });
        };
        add(&self.unix_seconds);
        add(&self.monotonic_seconds);
    }

    /// The wall clock is set back by `by` (whole seconds); the monotonic
    /// reading stays, as it does when a user sets a real clock back.
    pub fn set_back(&self, by: Duration) {
        let secs = i64::try_from(by.as_secs()).unwrap_or(i64::MAX);
        let _ = self
            .unix_seconds
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |v| {
                Some(v.saturating_sub(secs))
            });
    }
}

impl Clock for ManualClock {
    fn now(&self) -> Time {
        let secs = self.unix_seconds.load(Ordering::SeqCst);
        Time::from_unix(secs).unwrap_or(if secs < 0 { Time::MIN } else { Time::MAX })
    }

    fn monotonic(&self) -> std::time::Duration {
        let secs = self.monotonic_seconds.load(Ordering::SeqCst);
        std::time::Duration::from_secs(u64::try_from(secs).unwrap_or(0))
    }
}

impl<C: Clock + ?Sized> Clock for &C {
    fn now(&self) -> Time {
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
    fn now(&self) -> Time {
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
    /// Seconds.
    tolerance: i64,
}

impl TrustedTime {
    /// Starts from `high_water` (`None`: nothing seen yet).
    pub fn new(high_water: Option<Time>, tolerance: Duration) -> Self {
        TrustedTime {
            high_water: AtomicI64::new(high_water.map_or(i64::MIN, Time::unix)),
            tolerance: i64::try_from(tolerance.as_secs()).unwrap_or(i64::MAX),
        }
    }

    /// Checks `now` against the mark and raises the mark to it.
    pub fn observe(&self, now: Time) -> crate::Result<()> {
        let now_s = now.unix();
        let mark = self.high_water.load(Ordering::Acquire);
        let behind = mark.saturating_sub(now_s);
        if behind > self.tolerance {
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
    pub fn raise(&self, trusted: Time) {
        self.raise_secs(trusted.unix());
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
    pub fn high_water(&self) -> Option<Time> {
        match self.high_water.load(Ordering::Acquire) {
            i64::MIN => None,
            s => Time::from_unix(s),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const HOUR: Duration = Duration::from_secs(3600);

    #[test]
    fn manual_clock_moves_only_when_told() {
        let t0 = Time::from_unix(1_800_000_000).unwrap();
        let clock = ManualClock::new(t0);
        assert_eq!(clock.now(), t0);
        clock.advance(2 * HOUR);
        assert_eq!(clock.now(), t0 + 2 * HOUR);
        assert_eq!(clock.monotonic(), 2 * HOUR);
        clock.set_back(3 * HOUR);
        assert_eq!(clock.now(), t0 - HOUR);
        assert_eq!(clock.monotonic(), 2 * HOUR, "setting a clock is not time passing");
        clock.set(t0);
        assert_eq!(clock.now(), t0);
        clock.advance(Duration::MAX);
        assert_eq!(clock.now(), Time::MAX, "no overflow, no panic");
    }

    #[test]
    fn small_steps_back_pass_and_large_ones_are_tampering() {
        let t0 = Time::from_unix(1_800_000_000).unwrap();
        let trusted = TrustedTime::new(Some(t0), HOUR);
        assert!(trusted.observe(t0 + 5 * HOUR).is_ok());
        assert_eq!(trusted.high_water(), Some(t0 + 5 * HOUR));
        // An hour back exactly is still an NTP or DST slip.
        assert!(trusted.observe(t0 + 4 * HOUR).is_ok());
        assert_eq!(
            trusted.observe(t0 + 4 * HOUR - Duration::from_secs(1)),
            Err(crate::Error::ClockTampered { behind_secs: 3601 })
        );
        // The mark never goes down, and signed times raise it.
        assert_eq!(trusted.high_water(), Some(t0 + 5 * HOUR));
        trusted.raise(t0 + 48 * HOUR);
        assert!(trusted.observe(t0 + 24 * HOUR).is_err());
        assert_eq!(TrustedTime::new(None, Duration::ZERO).high_water(), None);
    }
}
