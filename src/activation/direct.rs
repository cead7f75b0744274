//! Activating a license file on this device, and deactivating it.
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

use crate::device::hardware;
use crate::error::{Error, Result};
use crate::format::fingerprint::Fingerprint;
use crate::format::license::{License, LicenseFile};
use crate::runtime::clock::TrustedTime;
use crate::runtime::config::LocalConfig;
use crate::runtime::store::{ActivationRecord, DecryptionKey, State};
use crate::runtime::validate::{self, Validation};
use crate::status::Status;

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
    /// Brought by a check-in for the license activated here: the vendor's
    /// word on it, kept even when it makes the license unusable (expired,
    /// disabled, ...), so that a change is not ignored until the old
    /// file's check-in expiry. A file for another product or device is
    /// still refused.
    Refresh,
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
    record_verified(config, license_file, file.license(), route, None, also)
}

/// Checks a verified `license` on this device now and records it with the
/// text it came in (`license_file`), in one store update with `also`.
pub(crate) fn record_verified(
    config: &LocalConfig,
    license_file: &[u8],
    license: &License,
    route: Route,
    decryption_key: Option<DecryptionKey>,
    also: impl FnOnce(&mut State) -> Result<()>,
) -> Result<ActivationRecord> {
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
    let vendors_word = route == Route::Refresh
        && !matches!(
            validation.status,
            Status::WrongProduct | Status::WrongDevice | Status::ClockBehind
        );
    if !validation.is_usable() && !vendors_word {
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
        decryption_key,
    };
    let store = config.store(device)?;
    store.update(|state| {
        let trusted = TrustedTime::new(state.high_water, config.clock_tolerance);
        trusted.observe(now)?;
        trusted.raise(license.issued_at);
        state.high_water = if config.clock.raises_stored_mark() {
            trusted.high_water()
        } else {
            // A fixed test time is not kept; the signed issue time is.
            state.high_water.max(Some(license.issued_at))
        };
        state
            .activations
            .retain(|a| a.license_id != record.license_id);
        state.activations.push(record.clone());
        also(state)
    })?;
    Ok(record)
}

/// Records the file a check-in brought for the license `license_id`
/// activated here ([`Route::Refresh`]).
#[cfg_attr(not(feature = "online-api"), allow(dead_code))]
pub(crate) fn refresh(
    config: &LocalConfig,
    license_file: &[u8],
    license_id: &str,
) -> Result<ActivationRecord> {
    let file = LicenseFile::verify(license_file, &config.keyring)?;
    if file.license().id != license_id {
        return Err(Error::BadResponse(
            "the check-in answered a file for another license",
        ));
    }
    record_verified(
        config,
        license_file,
        file.license(),
        Route::Refresh,
        None,
        |_| Ok(()),
    )
}

/// The newest activation recorded on `device` (not verified again).
#[cfg_attr(not(feature = "online-api"), allow(dead_code))]
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
        reason: v
            .reasons
            .first()
            .map(ToString::to_string)
            .unwrap_or_default(),
    }
}
