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
#[derive(Debug)]
pub struct ManualClock {
    unix_seconds: AtomicI64,
}

impl ManualClock {
    /// A clock showing `at` (sub-second precision is dropped).
    pub fn new(at: DateTime<Utc>) -> Self {
        ManualClock {
            unix_seconds: AtomicI64::new(at.timestamp()),
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
    }
}

impl Clock for ManualClock {
    fn now(&self) -> DateTime<Utc> {
        let secs = self.unix_seconds.load(Ordering::SeqCst);
        DateTime::from_timestamp(secs, 0).unwrap_or(DateTime::<Utc>::MAX_UTC)
    }
}

impl<C: Clock + ?Sized> Clock for &C {
    fn now(&self) -> DateTime<Utc> {
        (**self).now()
    }
}

impl<C: Clock + ?Sized> Clock for std::sync::Arc<C> {
    fn now(&self) -> DateTime<Utc> {
        (**self).now()
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
}
