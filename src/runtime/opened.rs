//! A license activated on this device, opened: verified again, checked
//! against this device and against the clock's high-water mark. What a
//! [`LicenseHandle`](crate::LicenseHandle) is built on.

use std::sync::Arc;

use crate::Time;

use crate::device::hardware::{self, HardwareToken};
use crate::error::{Error, Result};
use crate::format::license::{License, LicenseFile};
use crate::runtime::clock::{Clock, TrustedTime};
use crate::runtime::config::LocalConfig;
use crate::runtime::store::{ActivationRecord, State, Store};
use crate::runtime::validate::ValidationOptions;

/// How long the clock's high-water mark may run ahead of what is stored
/// before opening a license writes it back.
const PERSIST_CLOCK_EVERY: i64 = 3600;

/// How far the trusted time may run ahead of what is stored while a license
/// is open before a check writes it back: the most a deadline (a lease's)
/// can gain from a restart with the clock set back (SECURITY.md).
const PERSIST_WHILE_OPEN: i64 = 60;

/// A license activated on this device, verified and checked against the
/// device and the clock: what a [`LicenseHandle`](crate::LicenseHandle) is
/// built on. `Send + Sync`.
pub(crate) struct OpenedLicense {
    file: LicenseFile,
    record: ActivationRecord,
    options: ValidationOptions,
    trusted: TrustedTime,
    clock: Arc<dyn Clock>,
    store: Store,
    token: Option<Arc<dyn HardwareToken>>,
    /// The trusted time at open (the later of the wall clock and the
    /// stored mark) and the monotonic clock's reading then: while the
    /// license is open, trusted time cannot run slower than the monotonic
    /// clock, whatever the wall clock is set to. Starting from the mark,
    /// not the wall clock, is what keeps a restart with the clock set back
    /// from regaining the time used before it (SECURITY.md).
    opened: (i64, std::time::Duration),
    /// The high-water mark as last written to the store (Unix seconds).
    persisted: std::sync::atomic::AtomicI64,
}

impl std::fmt::Debug for OpenedLicense {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OpenedLicense")
            .field("license_id", &self.record.license_id)
            .field("store", &self.store)
            .finish_non_exhaustive()
    }
}

impl OpenedLicense {
    /// Opens the newest license activated on this device: loads the store
    /// (refusing one that was edited or copied from another device),
    /// verifies the recorded file again, and checks the clock against the
    /// stored high-water mark. Hands back the state it read, so the caller
    /// (the [`LicenseHandle`](crate::LicenseHandle)) does not read it again.
    /// `carried` is the trusted time of the license this one replaces (a
    /// reload), which may be ahead of what was stored.
    pub(crate) fn open_with_state(
        config: &LocalConfig,
        carried: Option<i64>,
    ) -> Result<(OpenedLicense, State)> {
        let device = config.fingerprint()?;
        let store = config.store(device.clone())?;
        let state = store.load()?;
        let record = state
            .activations
            .last()
            .cloned()
            .ok_or(Error::NotActivated)?;
        if !record.fingerprint.matches(&device, &config.policy()) {
            return Err(Error::StoreFromOtherDevice);
        }
        let file = verify_record(&record, config)?;
        let trusted = TrustedTime::new(state.high_water, config.clock_tolerance);
        trusted.raise(file.license().issued_at);
        if let Some(mark) = carried {
            trusted.raise_secs(mark);
        }
        let now = config.clock.now();
        trusted.observe(now)?;
        let mut stored = state.high_water.map_or(i64::MIN, Time::unix);
        if config.clock.raises_stored_mark()
            && now.unix().saturating_sub(stored) > PERSIST_CLOCK_EVERY
        {
            persist_high_water(&store, &trusted)?;
            stored = trusted.high_water().map_or(stored, Time::unix);
        }
        let options = config.options(device, file.license());
        let start = trusted.mark_secs().max(now.unix());
        let local = OpenedLicense {
            file,
            record,
            options,
            trusted,
            clock: Arc::clone(&config.clock),
            store,
            token: config.hardware_token.clone(),
            opened: (start, config.clock.monotonic()),
            persisted: std::sync::atomic::AtomicI64::new(stored),
        };
        Ok((local, state))
    }

    /// The time now, checked against the high-water mark; for a
    /// hardware-key license, after the token answered a fresh challenge.
    /// The caller writes the mark back when [`OpenedLicense::persist_due`]
    /// says so.
    pub(crate) fn now(&self) -> Result<Time> {
        let now = self.clock.now();
        self.trusted.observe(now)?;
        // The monotonic clock cannot be set back: the trusted time is at
        // least the time at open plus the time elapsed since.
        let elapsed = self
            .clock
            .monotonic()
            .saturating_sub(self.opened.1)
            .as_secs();
        let floor = self
            .opened
            .0
            .saturating_add(i64::try_from(elapsed).unwrap_or(i64::MAX));
        self.trusted.raise_secs(floor);
        let license = self.file.license();
        if license.is_hardware_key_auth {
            hardware::challenge(license, self.token.as_deref())?;
        }
        Ok(now)
    }

    /// The trusted time now: the latest of the clock, the high-water mark
    /// and the monotonic floor. Deadlines that must not gain from a clock
    /// set back within the tolerance (a lease's) are judged against it.
    pub(crate) fn trusted_now(&self, now: Time) -> Time {
        self.trusted.high_water().map_or(now, |mark| mark.max(now))
    }

    /// Whether the trusted time runs more than [`PERSIST_WHILE_OPEN`] ahead
    /// of the stored mark, so that the caller must write it back now (a
    /// write a minute of use at most). Claims the write: a second thread
    /// asking at the same moment is told no. A caller whose write fails
    /// calls [`OpenedLicense::persist_failed`], so the next check tries
    /// again, and fails the check: a store that cannot keep its mark must
    /// not go on granting time that a restart would hand out again
    /// (SECURITY.md).
    pub(crate) fn persist_due(&self) -> Option<i64> {
        use std::sync::atomic::Ordering;
        if !self.clock.raises_stored_mark() {
            return None;
        }
        let mark = self.trusted.mark_secs();
        let stored = self.persisted.load(Ordering::Acquire);
        (mark.saturating_sub(stored) > PERSIST_WHILE_OPEN
            && self
                .persisted
                .compare_exchange(stored, mark, Ordering::AcqRel, Ordering::Acquire)
                .is_ok())
        .then_some(stored)
    }

    /// Undoes the claim of [`OpenedLicense::persist_due`] after its write
    /// failed: `stored` is what it answered.
    pub(crate) fn persist_failed(&self, stored: i64) {
        self.persisted
            .store(stored, std::sync::atomic::Ordering::Release);
    }

    pub(crate) fn store(&self) -> &Store {
        &self.store
    }

    pub(crate) fn options(&self) -> &ValidationOptions {
        &self.options
    }

    pub(crate) fn trusted(&self) -> &TrustedTime {
        &self.trusted
    }

    /// Writes the clock's high-water mark to the store (products call this
    /// now and then and at exit, so a restart cannot roll the clock back).
    pub(crate) fn save_clock(&self) -> Result<()> {
        if !self.clock.raises_stored_mark() {
            return Ok(());
        }
        persist_high_water(&self.store, &self.trusted)
    }

    /// The license document.
    pub(crate) fn license(&self) -> &License {
        self.file.license()
    }
}

/// Verifies an activation's file again: a Tessera file, or a Keygen file
/// read with the key its activation kept.
fn verify_record(record: &ActivationRecord, config: &LocalConfig) -> Result<LicenseFile> {
    match &record.decryption_key {
        None => LicenseFile::verify(record.license_file.as_bytes(), &config.keyring),
        #[cfg(feature = "keygen")]
        Some(key) => {
            use crate::format::keygen::{KeygenFile, Secret};
            let secret = Secret::from_hex(&key.0).ok_or(Error::StoreCorrupt(
                "the Keygen file's key is not 64 hex digits",
            ))?;
            let doc = KeygenFile::verify(record.license_file.as_bytes(), &config.keyring)?
                .open_with(&secret)?;
            Ok(LicenseFile::from_keygen(doc))
        }
        #[cfg(not(feature = "keygen"))]
        Some(_) => Err(Error::Unsupported(
            "the activated license is a Keygen file, and this build does not read them (feature keygen)",
        )),
    }
}

fn persist_high_water(store: &Store, trusted: &TrustedTime) -> Result<()> {
    store.update(|state| {
        state.high_water = state.high_water.max(trusted.high_water());
        Ok(())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn assert_send_sync<T: Send + Sync>() {}

    #[test]
    fn a_local_license_can_be_shared_between_threads() {
        assert_send_sync::<OpenedLicense>();
    }
}
