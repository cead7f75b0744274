//! Helpers shared by the integration tests.
#![allow(dead_code)]

pub mod device;

use std::sync::Arc;

use serde_json::{json, Value};
use tessera::issuer::SigningKey;
use tessera::Time;
use tessera::{activate, Keyring, LicenseHandle, LocalConfig, ManualClock};

use self::device::FakeDevice;

/// A throwaway signing key for tests only, derived from a fixed seed.
pub fn test_only_key(n: u8) -> SigningKey {
    SigningKey::from_seed(&[n; 32]).expect("seeded key")
}

/// The vendor secret the tests' products are built with (test only).
pub const TEST_SECRET: &[u8] = b"test-only vendor secret";

/// A keyring trusting the given test keys.
pub fn ring(keys: &[&SigningKey]) -> Keyring {
    Keyring::from_keys(keys.iter().map(|k| k.public_key().clone()))
}

/// Parses an RFC 3339 time or a date.
pub fn at(s: &str) -> Time {
    s.parse().expect("test time")
}

/// A spec for product `acme` of the given type, with the fields that type needs.
pub fn spec(license_type: &str) -> Value {
    let mut v = json!({
        "id": format!("test-{license_type}"),
        "license_key": "TEST-ONLY-KEY-0001",
        "license_type": license_type,
        "product_details": {"product_name": "Acme", "short_code": "acme"},
        "product_features": [{"code": "export", "name": "Export"}],
    });
    match license_type {
        "time-limited" | "subscription" => {
            v["validity_period"] = json!("2027-01-01T00:00:00Z");
        }
        "consumption" => {
            v["max_consumptions"] = json!(1000);
            v["validity_period"] = json!("2027-01-01T00:00:00Z");
        }
        _ => {}
    }
    v
}

/// Issues `spec` with `key` at `issued`.
pub fn issue(spec: &Value, key: &SigningKey, issued: &str) -> String {
    let bytes = serde_json::to_vec(spec).expect("spec encodes");
    tessera::issuer::issue(&bytes, key, at(issued))
        .expect("spec issues")
        .0
}

/// When a [`Setup`] starts, unless a test says otherwise.
pub const START: &str = "2026-03-01T09:00:00Z";

/// What most integration tests start from: the vendor's (throwaway) key,
/// a manual clock, a fake physical machine and a state directory of its own.
pub struct Setup {
    pub key: SigningKey,
    pub clock: Arc<ManualClock>,
    pub device: FakeDevice,
    pub store: tempfile::TempDir,
}

impl Setup {
    /// At [`START`].
    pub fn new() -> Setup {
        Setup::starting(START)
    }

    /// With the clock at `start`.
    pub fn starting(start: &str) -> Setup {
        Setup {
            key: test_only_key(1),
            clock: Arc::new(ManualClock::new(at(start))),
            device: FakeDevice::physical(),
            store: tempfile::tempdir().expect("temporary directory"),
        }
    }

    /// Product `acme` on this setup's machine, clock and state directory.
    pub fn config(&self) -> LocalConfig {
        self.config_on(&self.device)
    }

    /// Product `acme` on another machine, with this setup's clock and state
    /// directory.
    pub fn config_on(&self, device: &FakeDevice) -> LocalConfig {
        let mut c = LocalConfig::new("acme", ring(&[&self.key]));
        c.secret = TEST_SECRET.to_vec();
        c.store_dir = Some(self.store.path().to_owned());
        c.clock = self.clock.clone();
        c.machine = device.source().into();
        c
    }

    /// A license of `license_type` ([`spec`] with `patch` applied), issued
    /// an hour before [`START`].
    pub fn license(&self, license_type: &str, patch: Value) -> String {
        issue(
            &patched(license_type, patch),
            &self.key,
            "2026-03-01T08:00:00Z",
        )
    }

    /// Activates a license of `license_type` (valid until 2099, `patch`
    /// applied) issued at the clock's time, and opens it.
    pub fn open(&self, license_type: &str, patch: Value) -> LicenseHandle {
        let mut s = spec(license_type);
        s["validity_period"] = json!("2099-01-01");
        apply(&mut s, patch);
        let issued = tessera::Clock::now(self.clock.as_ref()).to_string();
        activate(&self.config(), issue(&s, &self.key, &issued).as_bytes()).expect("activate");
        LicenseHandle::open(&self.config()).expect("open")
    }
}

/// [`spec`] of `license_type` with the fields of `patch` replaced.
pub fn patched(license_type: &str, patch: Value) -> Value {
    let mut s = spec(license_type);
    apply(&mut s, patch);
    s
}

/// Replaces the fields of `spec` that `patch` names.
fn apply(spec: &mut Value, patch: Value) {
    for (k, v) in patch.as_object().expect("a patch is an object") {
        spec[k] = v.clone();
    }
}
