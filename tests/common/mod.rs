//! Helpers shared by the integration tests.
#![allow(dead_code)]

pub mod device;

use chrono::{DateTime, Utc};
use serde_json::{json, Value};
use tessera::issuer::SigningKey;
use tessera::Keyring;

/// A throwaway signing key for tests only, derived from a fixed seed.
pub fn test_only_key(n: u8) -> SigningKey {
    SigningKey::from_seed(&[n; 32]).expect("seeded key")
}

/// A keyring trusting the given test keys.
pub fn ring(keys: &[&SigningKey]) -> Keyring {
    Keyring::from_keys(keys.iter().map(|k| k.public_key().clone()))
}

/// Parses an RFC 3339 time or a date.
pub fn at(s: &str) -> DateTime<Utc> {
    tessera::format::license::ts::parse(s).expect("test time")
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
