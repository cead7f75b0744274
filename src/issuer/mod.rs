//! Issuing license files from a JSON spec (feature `issuer`, vendor side).
//!
//! A spec is a license document in which `format`, `id` and `issued_at` may
//! be left out (they are filled in). Unlike the verifier, which ignores
//! fields it does not know so that older products read newer files, the
//! issuer refuses unknown fields: a misspelt `grace_periods` must not quietly
//! issue a license without grace.

use crate::Time;
use serde_json::Value;

use crate::error::{Error, Result};
use crate::format::armor;
pub use crate::format::keys::SigningKey;
use crate::format::license::{License, FORMAT_VERSION};

/// Checks a spec, fills in what may be left out, and signs it into an
/// armored license file. Returns the file's text and the document it holds.
pub fn issue(spec: &[u8], key: &SigningKey, now: Time) -> Result<(String, License)> {
    refuse_duplicate_keys(spec)?;
    let mut value: Value = serde_json::from_slice(spec)
        .map_err(|e| Error::InvalidSpec(format!("not valid JSON: {e}")))?;
    let obj = value
        .as_object_mut()
        .ok_or_else(|| Error::InvalidSpec("the spec must be a JSON object".into()))?;
    obj.entry("format").or_insert(Value::from(FORMAT_VERSION));
    obj.entry("issued_at")
        .or_insert(Value::from(now.to_string()));
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
    license.consistency().map_err(Error::InvalidSpec)?;

    let payload = serde_json::to_vec(&license)
        .map_err(|e| Error::InvalidSpec(format!("cannot encode the license: {e}")))?;
    let text = armor::seal(&armor::LICENSE, key, &payload)?;
    Ok((text, license))
}

/// Refuses a spec in which an object names a key twice: JSON readers
/// disagree on which one wins (serde's `Value` keeps the last), so the
/// vendor's intent is unknown.
fn refuse_duplicate_keys(spec: &[u8]) -> Result<()> {
    use serde::de::{Deserializer as _, MapAccess, SeqAccess, Visitor};

    struct Unique;
    impl<'de> serde::de::DeserializeSeed<'de> for Unique {
        type Value = ();
        fn deserialize<D: serde::Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
            d.deserialize_any(Unique)
        }
    }
    impl<'de> Visitor<'de> for Unique {
        type Value = ();
        fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("a JSON value")
        }
        fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
            let mut seen = std::collections::BTreeSet::new();
            while let Some(key) = map.next_key::<String>()? {
                if !seen.insert(key.clone()) {
                    return Err(serde::de::Error::custom(format!(
                        "the key `{key}` appears twice"
                    )));
                }
                map.next_value_seed(Unique)?;
            }
            Ok(())
        }
        fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
            while seq.next_element_seed(Unique)?.is_some() {}
            Ok(())
        }
        fn visit_bool<E>(self, _: bool) -> Result<(), E> {
            Ok(())
        }
        fn visit_i64<E>(self, _: i64) -> Result<(), E> {
            Ok(())
        }
        fn visit_u64<E>(self, _: u64) -> Result<(), E> {
            Ok(())
        }
        fn visit_f64<E>(self, _: f64) -> Result<(), E> {
            Ok(())
        }
        fn visit_str<E>(self, _: &str) -> Result<(), E> {
            Ok(())
        }
        fn visit_unit<E>(self) -> Result<(), E> {
            Ok(())
        }
    }
    serde_json::Deserializer::from_slice(spec)
        .deserialize_any(Unique)
        .map_err(|e| Error::InvalidSpec(format!("not valid JSON: {e}")))
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

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn key() -> SigningKey {
        SigningKey::from_seed(&[9u8; 32]).unwrap()
    }

    fn now() -> Time {
        "2026-01-01T00:00:00Z".parse().unwrap()
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
    fn a_format_other_than_1_and_a_key_named_twice_are_refused() {
        // Signed, `"format": 2` would be refused by every reader.
        let mut s = base();
        s["format"] = json!(2);
        assert_eq!(
            try_issue(s).unwrap_err(),
            Error::InvalidSpec("`format` must be 1".into())
        );
        // A key named twice, at the top or nested, is refused: which one
        // the vendor meant is unknown.
        for spec in [
            r#"{"license_type": "perpetual", "license_type": "time-limited", "product_details": {"short_code": "acme"}}"#,
            r#"{"license_type": "perpetual", "product_details": {"short_code": "acme", "short_code": "evil"}}"#,
            r#"{"license_type": "perpetual", "product_details": {"short_code": "acme"}, "product_features": [{"code": "a", "code": "b"}]}"#,
            r#"{"license_type": "perpetual", "product_details": {"short_code": "acme"}, "metadata": {"k": 1, "k": 2}}"#,
        ] {
            match issue(spec.as_bytes(), &key(), now()) {
                Err(Error::InvalidSpec(why)) => assert!(why.contains("twice"), "{why}"),
                other => panic!("{spec}: {other:?}"),
            }
        }
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
