//! What a product configures once: its code, the vendor's keys, where its
//! state lives, the clock, where device facts come from, the match policy,
//! the vendor secret, the clock tolerance and a hardware token.

use std::path::PathBuf;
use std::sync::Arc;

use std::time::Duration;

use crate::device::environment::Environment;
use crate::device::hardware::HardwareToken;
use crate::device::Machine;
use crate::error::{Error, Result};
use crate::format::fingerprint::{Fingerprint, MatchPolicy};
use crate::format::keys::Keyring;
use crate::format::license::License;
use crate::runtime::clock::{Clock, SystemClock};
use crate::runtime::store::Store;
use crate::runtime::validate::ValidationOptions;

/// The shortest vendor secret a product may set ([`LocalConfig::secret`]):
/// 16 bytes.
pub const MIN_SECRET_LEN: usize = 16;

/// What a product configures once.
#[derive(Clone)]
#[non_exhaustive]
pub struct LocalConfig {
    /// The product's short code.
    pub product: String,
    /// The vendor's trusted public keys.
    pub keyring: Keyring,
    /// The state directory; the platform's data directory when `None`.
    pub store_dir: Option<PathBuf>,
    /// The time source.
    pub clock: Arc<dyn Clock>,
    /// Where device facts come from: this machine ([`Machine::host`]) by default.
    pub machine: Machine,
    /// How stored fingerprints are compared with this device's.
    pub match_policy: MatchPolicy,
    /// A vendor-supplied device id used instead of collected facts
    /// (containers, cloud instances); implies [`MatchPolicy::Custom`].
    pub custom_device_id: Option<String>,
    /// A vendor secret mixed into fingerprint salts and the store key: at
    /// least [`MIN_SECRET_LEN`](crate::activation::airgap::MIN_SECRET_LEN) bytes, built into the product. Opening the
    /// local state without one is refused (SECURITY.md says what it buys:
    /// a deterrent against editing the state, not a protection against
    /// someone who reads the product's binary).
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
            machine: Machine::host(),
            match_policy: MatchPolicy::default(),
            custom_device_id: None,
            secret: Vec::new(),
            clock_tolerance: Duration::from_secs(3600),
            hardware_token: None,
        }
    }

    /// The salt of this product's fingerprints.
    fn salt(&self) -> Vec<u8> {
        crate::format::fingerprint::product_salt(&self.product, &self.secret)
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
            None => self.machine.fingerprint(&self.salt()),
        }
    }

    pub(crate) fn store(&self, device: Fingerprint) -> Result<Store> {
        let dir = match &self.store_dir {
            Some(d) => d.clone(),
            None => Store::default_dir(&self.product)?,
        };
        if self.secret.len() < MIN_SECRET_LEN {
            return Err(Error::InvalidArgument(
                "set a vendor secret of at least 16 bytes (LocalConfig::secret, tessera_config_set_secret): the local state is keyed with it",
            ));
        }
        Store::open(dir, &self.product, device, self.policy(), &self.secret)
    }

    pub(crate) fn options(&self, device: Fingerprint, license: &License) -> ValidationOptions {
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
        self.machine.environment()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn assert_send_sync<T: Send + Sync>() {}

    #[test]
    fn a_config_can_be_shared_between_threads() {
        assert_send_sync::<LocalConfig>();
    }
}
