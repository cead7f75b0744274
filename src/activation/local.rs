//! A license activated on this device, checked offline.
//!
//! [`activate`] verifies a license file, checks it against this device, and
//! records it in the local store with the device's fingerprint and the
//! activation time. [`LicenseHandle::open`](crate::LicenseHandle::open)
//! loads that record, verifies the file again, and checks the clock against
//! the stored high-water mark; its `check` then answers in well under a
//! microsecond.
//!
//! A store and license copied to another device are refused: the store
//! carries the fingerprint it was written on, and a license bound to a
//! device carries that device's fingerprint.

use std::path::PathBuf;
use std::sync::Arc;

use chrono::Duration;

use crate::device::environment::{self, Environment};
use crate::device::fingerprint::{self, Fingerprint, MatchPolicy};
use crate::device::hardware::{self, HardwareToken};
use crate::device::sources::{HostSource, SystemSource};
use crate::error::{Error, Result};
use crate::format::keys::Keyring;
use crate::format::license::{License, LicenseFile};
use crate::runtime::clock::{Clock, SystemClock, TrustedTime};
use crate::runtime::store::{ActivationRecord, State, Store};
use crate::runtime::validate::{self, Validation, ValidationOptions};

/// How long the clock's high-water mark may run ahead of what is stored
/// before opening a license writes it back.
const PERSIST_CLOCK_EVERY: i64 = 3600;

/// What a product configures once.
#[derive(Clone)]
pub struct LocalConfig {
    /// The product's short code.
    pub product: String,
    /// The vendor's trusted public keys.
    pub keyring: Keyring,
    /// The state directory; the platform's data directory when `None`.
    pub store_dir: Option<PathBuf>,
    /// The time source.
    pub clock: Arc<dyn Clock>,
    /// Where device facts come from.
    pub source: Arc<dyn SystemSource>,
    /// How stored fingerprints are compared with this device's.
    pub match_policy: MatchPolicy,
    /// A vendor-supplied device id used instead of collected facts
    /// (containers, cloud instances); implies [`MatchPolicy::Custom`].
    pub custom_device_id: Option<String>,
    /// A vendor secret mixed into fingerprint salts and the store key.
    pub secret: Vec<u8>,
    /// How far the clock may go back before it is tampering (default 1 hour).
    pub clock_tolerance: Duration,
    /// The token that answers the challenges of hardware-key licenses.
    pub hardware_token: Option<Arc<dyn HardwareToken>>,
}

impl std::fmt::Debug for LocalConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LocalConfig")
            .field("product", &self.product)
            .field("store_dir", &self.store_dir)
            .field("match_policy", &self.match_policy)
            .finish_non_exhaustive()
    }
}

impl LocalConfig {
    /// Defaults: the platform's data directory, the system clock, this
    /// machine's facts, the default fuzzy policy, a one-hour clock tolerance.
    pub fn new(product: impl Into<String>, keyring: Keyring) -> Self {
        LocalConfig {
            product: product.into(),
            keyring,
            store_dir: None,
            clock: Arc::new(SystemClock),
            source: Arc::new(HostSource),
            match_policy: MatchPolicy::default(),
            custom_device_id: None,
            secret: Vec::new(),
            clock_tolerance: Duration::hours(1),
            hardware_token: None,
        }
    }

    /// The salt of this product's fingerprints.
    fn salt(&self) -> Vec<u8> {
        fingerprint::product_salt(&self.product, &self.secret)
    }

    pub(crate) fn policy(&self) -> MatchPolicy {
        if self.custom_device_id.is_some() {
            MatchPolicy::Custom
        } else {
            self.match_policy
        }
    }

    /// This device's fingerprint for this product.
    pub fn fingerprint(&self) -> Result<Fingerprint> {
        match &self.custom_device_id {
            Some(id) if id.trim().is_empty() => {
                Err(Error::InvalidArgument("the custom device id is empty"))
            }
            Some(id) => Ok(Fingerprint::custom(&self.salt(), id)),
            None => fingerprint::collect(self.source.as_ref(), &self.salt()),
        }
    }

    pub(crate) fn store(&self, device: Fingerprint) -> Result<Store> {
        let dir = match &self.store_dir {
            Some(d) => d.clone(),
            None => Store::default_dir(&self.product)?,
        };
        Store::open(dir, &self.product, device, self.policy(), &self.secret)
    }

    fn options(&self, device: Fingerprint, license: &License) -> ValidationOptions {
        let mut options = ValidationOptions::new(self.product.clone())
            .device(device)
            .match_policy(self.policy())
            .clock_tolerance(self.clock_tolerance);
        if license.prevent_vm {
            options = options.environment(self.environment());
        }
        options
    }

    /// What VM and container detection finds on this device.
    pub fn environment(&self) -> Environment {
        environment::detect(self.source.as_ref())
    }
}

/// Verifies `license_file`, checks it on this device now, and records it as
/// activated here. Fails, changing nothing, when the file does not verify,
/// the license is not usable here (wrong product or device, expired, a VM
/// where forbidden, ...), or the clock was turned back.
pub fn activate(config: &LocalConfig, license_file: &[u8]) -> Result<ActivationRecord> {
    activate_as(config, license_file, Route::Direct, |_| Ok(()))
}

/// How a license file reached the device.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Route {
    /// Given to [`activate`]: refused for air-gapped licenses.
    Direct,
    /// In an offline response: the license must be bound to this device.
    OfflineResponse,
    /// Unlocked by an air-gapped confirmation code.
    AirGapped,
}

/// [`activate`] for every route: verifies, checks the license on this
/// device now, and records it, running `also` in the same store update
/// (so a pending request is cleared in the same atomic write).
pub(crate) fn activate_as(
    config: &LocalConfig,
    license_file: &[u8],
    route: Route,
    also: impl FnOnce(&mut State) -> Result<()>,
) -> Result<ActivationRecord> {
    let file = LicenseFile::verify(license_file, &config.keyring)?;
    let license = file.license();
    match route {
        Route::Direct if license.is_air_gapped => return Err(Error::AirGapped),
        Route::OfflineResponse if license.device.is_none() => {
            return Err(Error::InvalidPayload(
                "an offline response must hold a license bound to the device".into(),
            ))
        }
        _ => {}
    }
    let device = config.fingerprint()?;
    let now = config.clock.now();
    let validation = validate::validate_at(license, &config.options(device.clone(), license), now);
    if !validation.is_usable() {
        return Err(unusable(&validation));
    }
    if license.is_hardware_key_auth {
        hardware::challenge(license, config.hardware_token.as_deref())?;
    }
    let text = std::str::from_utf8(license_file)
        .map_err(|_| Error::InvalidArgument("the license file is not text"))?
        .trim()
        .to_owned();
    let record = ActivationRecord {
        license_id: license.id.clone(),
        license_file: text,
        fingerprint: device.clone(),
        activated_at: now,
    };
    let store = config.store(device)?;
    store.update(|state| {
        let trusted = TrustedTime::new(state.high_water, config.clock_tolerance);
        trusted.observe(now)?;
        trusted.raise(license.issued_at);
        state.high_water = trusted.high_water();
        state
            .activations
            .retain(|a| a.license_id != record.license_id);
        state.activations.push(record.clone());
        also(state)
    })?;
    Ok(record)
}

/// The newest activation recorded on `device` (not verified again).
#[cfg_attr(not(feature = "online"), allow(dead_code))]
pub(crate) fn current_activation(
    config: &LocalConfig,
    device: Fingerprint,
) -> Result<ActivationRecord> {
    let store = config.store(device)?;
    store
        .load()?
        .activations
        .last()
        .cloned()
        .ok_or(Error::NotActivated)
}

/// Removes the license with `license_id` from this device's records.
/// Returns whether it was there.
pub fn deactivate(config: &LocalConfig, license_id: &str) -> Result<bool> {
    let store = config.store(config.fingerprint()?)?;
    store.update(|state| {
        let before = state.activations.len();
        state.activations.retain(|a| a.license_id != license_id);
        Ok(state.activations.len() != before)
    })
}

fn unusable(v: &Validation) -> Error {
    Error::Unusable {
        status: v.status,
        reason: v.reasons.first().cloned().unwrap_or_default(),
    }
}

/// A license activated on this device, verified and checked against the
/// device and the clock: what a [`LicenseHandle`](crate::LicenseHandle) is
/// built on. `Send + Sync`.
pub(crate) struct LocalLicense {
    file: LicenseFile,
    record: ActivationRecord,
    options: ValidationOptions,
    trusted: TrustedTime,
    clock: Arc<dyn Clock>,
    store: Store,
    token: Option<Arc<dyn HardwareToken>>,
}

impl std::fmt::Debug for LocalLicense {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LocalLicense")
            .field("license_id", &self.record.license_id)
            .field("store", &self.store)
            .finish_non_exhaustive()
    }
}

impl LocalLicense {
    /// Opens the newest license activated on this device: loads the store
    /// (refusing one that was edited or copied from another device),
    /// verifies the recorded file again, and checks the clock against the
    /// stored high-water mark. Hands back the state it read, so the caller
    /// (the [`LicenseHandle`](crate::LicenseHandle)) does not read it again.
    pub(crate) fn open_with_state(config: &LocalConfig) -> Result<(LocalLicense, State)> {
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
        let file = LicenseFile::verify(record.license_file.as_bytes(), &config.keyring)?;
        let trusted = TrustedTime::new(state.high_water, config.clock_tolerance);
        trusted.raise(file.license().issued_at);
        let now = config.clock.now();
        trusted.observe(now)?;
        let stored = state.high_water.map_or(i64::MIN, |t| t.timestamp());
        if now.timestamp().saturating_sub(stored) > PERSIST_CLOCK_EVERY {
            persist_high_water(&store, &trusted)?;
        }
        let options = config.options(device, file.license());
        let local = LocalLicense {
            file,
            record,
            options,
            trusted,
            clock: Arc::clone(&config.clock),
            store,
            token: config.hardware_token.clone(),
        };
        Ok((local, state))
    }

    /// The time now, checked against the high-water mark; for a
    /// hardware-key license, after the token answered a fresh challenge.
    pub(crate) fn now(&self) -> Result<chrono::DateTime<chrono::Utc>> {
        let now = self.clock.now();
        self.trusted.observe(now)?;
        let license = self.file.license();
        if license.is_hardware_key_auth {
            hardware::challenge(license, self.token.as_deref())?;
        }
        Ok(now)
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
        persist_high_water(&self.store, &self.trusted)
    }

    /// The license document.
    pub(crate) fn license(&self) -> &License {
        self.file.license()
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
        assert_send_sync::<LocalLicense>();
        assert_send_sync::<LocalConfig>();
    }
}
