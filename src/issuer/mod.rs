//! Issuing license files from a JSON spec (feature `issuer`, vendor side).
//!
//! A spec is a license document in which `format`, `id` and `issued_at` may
//! be left out (they are filled in). Unlike the verifier, which ignores
//! fields it does not know so that older products read newer files, the
//! issuer refuses unknown fields: a misspelt `grace_periods` must not quietly
//! issue a license without grace.

use chrono::{DateTime, Utc};
use serde_json::Value;

use crate::error::{Error, Result};
use crate::format::armor;
pub use crate::format::keys::SigningKey;
use crate::format::license::{ts, License, LicenseType, FORMAT_VERSION};

/// Checks a spec, fills in what may be left out, and signs it into an
/// armored license file. Returns the file's text and the document it holds.
pub fn issue(spec: &[u8], key: &SigningKey, now: DateTime<Utc>) -> Result<(String, License)> {
    let mut value: Value = serde_json::from_slice(spec)
        .map_err(|e| Error::InvalidSpec(format!("not valid JSON: {e}")))?;
    let obj = value
        .as_object_mut()
        .ok_or_else(|| Error::InvalidSpec("the spec must be a JSON object".into()))?;
    obj.entry("format").or_insert(Value::from(FORMAT_VERSION));
    obj.entry("issued_at")
        .or_insert(Value::from(ts::format(&now)));
    if !obj.contains_key("id") {
        obj.insert("id".into(), Value::from(new_id()?));
    }

    let mut unknown = None;
    let license: License = serde_ignored::deserialize(value, |path| {
        unknown.get_or_insert_with(|| path.to_string());
    })
    .map_err(|e| Error::InvalidSpec(e.to_string()))?;
    if let Some(path) = unknown {
        return Err(Error::InvalidSpec(format!("unknown field `{path}`")));
    }
    check_consistency(&license)?;

    let payload = serde_json::to_vec(&license)
        .map_err(|e| Error::InvalidSpec(format!("cannot encode the license: {e}")))?;
    let text = armor::seal(&armor::LICENSE, key, &payload)?;
    Ok((text, license))
}

/// A fresh 128-bit id as 32 hex digits (license, activation and lease ids).
pub fn new_id() -> Result<String> {
    use rand_core::RngCore as _;
    let mut bytes = [0u8; 16];
    rand_core::OsRng
        .try_fill_bytes(&mut bytes)
        .map_err(|_| Error::InvalidArgument("the system random source failed"))?;
    Ok(hex::encode(bytes))
}

/// A fresh license key: 20 symbols of Crockford's base 32 in groups of
/// five (100 bits), as `tessera::format::license::LicenseKey` reads them.
pub fn new_license_key() -> Result<String> {
    use rand_core::RngCore as _;
    let mut bytes = [0u8; 20];
    rand_core::OsRng
        .try_fill_bytes(&mut bytes)
        .map_err(|_| Error::InvalidArgument("the system random source failed"))?;
    let symbols: Vec<char> = bytes
        .iter()
        .map(|x| char::from(crate::util::CROCKFORD[usize::from(x & 31)]))
        .collect();
    Ok(symbols
        .chunks(5)
        .map(|c| c.iter().collect::<String>())
        .collect::<Vec<_>>()
        .join("-"))
}

/// Rules a license must meet to make sense; each broken rule is a spec error.
fn check_consistency(l: &License) -> Result<()> {
    let fail = |msg: &str| Err(Error::InvalidSpec(msg.to_owned()));
    if l.id.trim().is_empty() {
        return fail("`id` must not be empty");
    }
    if l.product_details.short_code.trim().is_empty() {
        return fail("`product_details.short_code` must not be empty");
    }
    match l.license_type {
        LicenseType::TimeLimited | LicenseType::Subscription if l.validity_period.is_none() => {
            return fail("a time-limited or subscription license needs `validity_period`");
        }
        LicenseType::Perpetual if l.validity_period.is_some() => {
            return fail(
                "a perpetual license has no `validity_period`; use license_type `time-limited`",
            );
        }
        LicenseType::Consumption if !l.allow_unlimited_consumptions && l.max_consumptions == 0 => {
            return fail(
                "a consumption license needs `max_consumptions` or `allow_unlimited_consumptions`",
            );
        }
        _ => {}
    }
    if l.is_trial && l.trial_days.is_none() && l.validity_period.is_none() {
        return fail("a trial needs `trial_days` or `validity_period`");
    }
    if let (Some(start), Some(end)) = (l.start_date, l.validity_period) {
        if start >= end {
            return fail("`start_date` must come before `validity_period`");
        }
    }
    if l.expires_at.is_some_and(|e| e <= l.issued_at) {
        return fail("`expires_at` must come after `issued_at`");
    }
    if l.enable_maintenance_period && l.maintenance_period.is_none() {
        return fail("`enable_maintenance_period` needs `maintenance_period`");
    }
    if l.is_floating && l.floating_users == 0 {
        return fail("a floating license needs `floating_users` of at least 1");
    }
    if l.is_floating && l.floating_timeout == 0 {
        return fail("a floating license needs a `floating_timeout` of at least 1 minute");
    }
    if l.can_borrow && (!l.floats() || l.max_borrow_time == 0) {
        return fail(
            "borrowing needs a floating license and a `max_borrow_time` of at least 1 hour",
        );
    }
    if l.max_activations == 0 && !l.allow_unlimited_activations {
        return fail("`max_activations` must be at least 1 (or set `allow_unlimited_activations`)");
    }
    match (&l.hardware_key, l.is_hardware_key_auth) {
        (None, true) => return fail("`is_hardware_key_auth` needs the token's `hardware_key`"),
        (Some(_), false) => return fail("`hardware_key` needs `is_hardware_key_auth`"),
        (Some(k), true) if crate::format::keys::PublicKey::from_base64(k).is_err() => {
            return fail("`hardware_key` must be the base64 of an Ed25519 public key");
        }
        _ => {}
    }
    if l.device.as_ref().is_some_and(|d| d.id.is_empty()) {
        return fail("`device.id` must not be empty");
    }
    let mut codes = std::collections::BTreeSet::new();
    for f in &l.product_features {
        if f.code.trim().is_empty() {
            return fail("every feature needs a `code`");
        }
        if !codes.insert(f.code.as_str()) {
            return Err(Error::InvalidSpec(format!(
                "feature `{}` is listed twice",
                f.code
            )));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn key() -> SigningKey {
        SigningKey::from_seed(&[9u8; 32]).unwrap()
    }

    fn now() -> DateTime<Utc> {
        ts::parse("2026-01-01T00:00:00Z").unwrap()
    }

    fn try_issue(spec: Value) -> Result<License> {
        issue(spec.to_string().as_bytes(), &key(), now()).map(|(_, l)| l)
    }

    fn base() -> Value {
        json!({"license_type": "perpetual", "product_details": {"short_code": "acme"}})
    }

    #[test]
    fn missing_format_id_and_issue_time_are_filled_in() {
        let l = try_issue(base()).unwrap();
        assert_eq!(l.format, FORMAT_VERSION);
        assert_eq!(l.issued_at, now());
        assert_eq!(l.id.len(), 32);
        assert_ne!(try_issue(base()).unwrap().id, l.id);
    }

    #[test]
    fn unknown_fields_are_refused_with_their_path() {
        let mut s = base();
        s["grace_periods"] = json!(72);
        assert_eq!(
            try_issue(s).unwrap_err(),
            Error::InvalidSpec("unknown field `grace_periods`".into())
        );
        let mut s = base();
        s["product_features"] = json!([{"code": "a"}, {"code": "b", "expiry": "2026-01-01"}]);
        assert_eq!(
            try_issue(s).unwrap_err(),
            Error::InvalidSpec("unknown field `product_features.1.expiry`".into())
        );
        // Explicit nulls mean "absent", and free-form metadata takes any key.
        let mut s = base();
        s["validity_period"] = Value::Null;
        s["metadata"] = json!({"anything": {"nested": true}});
        assert!(try_issue(s).is_ok());
    }

    #[test]
    fn inconsistent_specs_are_refused() {
        let cases = [
            json!({"license_type": "time-limited"}),
            json!({"validity_period": "2027-01-01"}),
            json!({"license_type": "consumption"}),
            json!({"is_trial": true}),
            json!({"license_type": "time-limited", "start_date": "2027-02-01", "validity_period": "2027-01-01"}),
            json!({"expires_at": "2025-12-31"}),
            json!({"enable_maintenance_period": true}),
            json!({"is_floating": true}),
            json!({"is_floating": true, "floating_users": 5, "can_borrow": true}),
            json!({"max_activations": 0}),
            json!({"device": {"fingerprint": ""}}),
            json!({"product_features": [{"code": "a"}, {"code": "a"}]}),
            json!({"product_details": {"short_code": " "}}),
            json!({"id": ""}),
            json!({"license_type": "lifetime"}),
            json!({"grace_period": -1}),
        ];
        for patch in cases {
            let mut s = base();
            for (k, v) in patch.as_object().unwrap() {
                s[k] = v.clone();
            }
            assert!(
                matches!(try_issue(s.clone()), Err(Error::InvalidSpec(_))),
                "{s} was issued"
            );
        }
        assert!(matches!(
            issue(b"[1,2]", &key(), now()),
            Err(Error::InvalidSpec(_))
        ));
        assert!(matches!(
            issue(b"{", &key(), now()),
            Err(Error::InvalidSpec(_))
        ));
    }
}
