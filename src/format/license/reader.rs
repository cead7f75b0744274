//! The license document read straight from the bytes the issuer writes.
//!
//! Every license file's payload is `serde_json::to_vec` of a [`License`]:
//! compact, no escape in a typical string. This reader is a serde
//! `Deserializer` for the compact JSON without escapes, whitespace,
//! fractions, exponents or signs: [`License`]'s own `Deserialize` (its one
//! declaration, with its defaults and names) drives it, so a field added to
//! the struct is read here with nothing else to write. It answers `None`
//! for anything it does not take, and the caller hands the same text to
//! serde_json, which reads every form and says what is wrong. Where it
//! answers `Some`, the license equals serde_json's reading: both run the
//! same visitors over the same tokens (the differential proptest below and
//! the `license_payload` fuzz target hold it to that). It skips most of
//! serde_json's work for a typical file (no scratch buffer, no escape or
//! whitespace handling, strings borrowed where they lie), which is most of
//! what a license check costs beyond its signature (issue 24; issue 33,
//! item 11; docs/DECISIONS.md).
//!
//! A free-form value in a `metadata` map other than a plain string, number
//! or boolean (an object, an array, `null`, a signed or fractional number)
//! is read by serde_json where it lies.

use serde::de::{self, DeserializeSeed, Deserializer as _, Visitor};
use serde::Deserialize as _;
use serde_json::Value;

use crate::format::license::License;

/// The license in `text`, when `text` is in the compact form this reader takes.
pub(crate) fn read(text: &str) -> Option<License> {
    let mut compact = Compact { rest: text };
    let license = License::deserialize(&mut compact).ok()?;
    compact.rest.is_empty().then_some(license)
}

/// Nesting that serde_json's own limit (128) cannot reach from where a
/// metadata value lies: deeper values are left to serde.
const MAX_METADATA_DEPTH: usize = 100;

/// What this reader does not take: the caller asks serde_json instead,
/// which words the error if there is one.
#[derive(Debug)]
struct NotTaken;

impl std::fmt::Display for NotTaken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("not in the compact form")
    }
}

impl std::error::Error for NotTaken {}

impl de::Error for NotTaken {
    fn custom<T: std::fmt::Display>(_: T) -> Self {
        NotTaken
    }
}

type Taken<T> = Result<T, NotTaken>;

/// The text still to read.
struct Compact<'de> {
    rest: &'de str,
}

impl<'de> Compact<'de> {
    fn peek(&self) -> Option<u8> {
        self.rest.as_bytes().first().copied()
    }

    fn eat(&mut self, lit: &str) -> Taken<()> {
        self.rest = self.rest.strip_prefix(lit).ok_or(NotTaken)?;
        Ok(())
    }

    /// A string without escapes or control characters, borrowed.
    fn str(&mut self) -> Taken<&'de str> {
        let body = self.rest.strip_prefix('"').ok_or(NotTaken)?;
        let end = body
            .bytes()
            .position(|b| b == b'"' || b == b'\\' || b < 0x20)
            .ok_or(NotTaken)?;
        let (s, after) = body.split_at(end);
        self.rest = after.strip_prefix('"').ok_or(NotTaken)?;
        Ok(s)
    }

    /// Plain digits, no leading zero, no fraction or exponent, within u64.
    fn u64(&mut self) -> Taken<u64> {
        let digits = self.rest.bytes().take_while(u8::is_ascii_digit).count();
        let (number, after) = self.rest.split_at(digits);
        if number.is_empty()
            || (number.len() > 1 && number.starts_with('0'))
            || after.starts_with(['.', 'e', 'E'])
        {
            return Err(NotTaken);
        }
        let mut n: u64 = 0;
        for d in number.bytes() {
            n = n
                .checked_mul(10)
                .and_then(|n| n.checked_add(u64::from(d - b'0')))
                .ok_or(NotTaken)?;
        }
        self.rest = after;
        Ok(n)
    }

    fn bool(&mut self) -> Taken<bool> {
        if let Some(rest) = self.rest.strip_prefix("true") {
            self.rest = rest;
            Ok(true)
        } else {
            self.eat("false")?;
            Ok(false)
        }
    }

    /// Any other JSON value, read by serde_json where it lies and handed
    /// to `visitor` as serde_json read it.
    fn by_serde_json<V: Visitor<'de>>(&mut self, visitor: V) -> Taken<V::Value> {
        let mut stream = serde_json::Deserializer::from_str(self.rest).into_iter::<Value>();
        let Some(Ok(value)) = stream.next() else {
            return Err(NotTaken);
        };
        let (read, after) = self.rest.split_at(stream.byte_offset());
        if read.starts_with(|c: char| c.is_ascii_whitespace()) || depth(read) > MAX_METADATA_DEPTH {
            return Err(NotTaken);
        }
        self.rest = after;
        value.deserialize_any(visitor).map_err(|_| NotTaken)
    }
}

impl<'de> de::Deserializer<'de> for &mut Compact<'de> {
    type Error = NotTaken;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Taken<V::Value> {
        match self.peek() {
            Some(b't' | b'f') => visitor.visit_bool(self.bool()?),
            Some(b'"') => match self.str() {
                Ok(s) => visitor.visit_borrowed_str(s),
                // An escape: serde_json's to read.
                Err(_) => self.by_serde_json(visitor),
            },
            Some(b'0'..=b'9') => {
                let start = self.rest;
                match self.u64() {
                    Ok(n) => visitor.visit_u64(n),
                    // A fraction, an exponent, past u64: serde_json's.
                    Err(_) => {
                        self.rest = start;
                        self.by_serde_json(visitor)
                    }
                }
            }
            _ => self.by_serde_json(visitor),
        }
    }

    fn deserialize_bool<V: Visitor<'de>>(self, visitor: V) -> Taken<V::Value> {
        visitor.visit_bool(self.bool()?)
    }

    fn deserialize_u8<V: Visitor<'de>>(self, visitor: V) -> Taken<V::Value> {
        visitor.visit_u64(self.u64()?)
    }

    fn deserialize_u16<V: Visitor<'de>>(self, visitor: V) -> Taken<V::Value> {
        visitor.visit_u64(self.u64()?)
    }

    fn deserialize_u32<V: Visitor<'de>>(self, visitor: V) -> Taken<V::Value> {
        visitor.visit_u64(self.u64()?)
    }

    fn deserialize_u64<V: Visitor<'de>>(self, visitor: V) -> Taken<V::Value> {
        visitor.visit_u64(self.u64()?)
    }

    fn deserialize_str<V: Visitor<'de>>(self, visitor: V) -> Taken<V::Value> {
        visitor.visit_borrowed_str(self.str()?)
    }

    fn deserialize_string<V: Visitor<'de>>(self, visitor: V) -> Taken<V::Value> {
        visitor.visit_borrowed_str(self.str()?)
    }

    fn deserialize_identifier<V: Visitor<'de>>(self, visitor: V) -> Taken<V::Value> {
        visitor.visit_borrowed_str(self.str()?)
    }

    fn deserialize_option<V: Visitor<'de>>(self, visitor: V) -> Taken<V::Value> {
        if self.rest.starts_with("null") {
            self.eat("null")?;
            visitor.visit_none()
        } else {
            visitor.visit_some(self)
        }
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        visitor: V,
    ) -> Taken<V::Value> {
        visitor.visit_newtype_struct(self)
    }

    fn deserialize_seq<V: Visitor<'de>>(self, visitor: V) -> Taken<V::Value> {
        self.eat("[")?;
        let value = visitor.visit_seq(Items {
            of: &mut *self,
            first: true,
        })?;
        self.eat("]")?;
        Ok(value)
    }

    fn deserialize_map<V: Visitor<'de>>(self, visitor: V) -> Taken<V::Value> {
        self.eat("{")?;
        let value = visitor.visit_map(Items {
            of: &mut *self,
            first: true,
        })?;
        self.eat("}")?;
        Ok(value)
    }

    fn deserialize_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        _fields: &'static [&'static str],
        visitor: V,
    ) -> Taken<V::Value> {
        self.deserialize_map(visitor)
    }

    /// A unit variant, written as its name (every enum of a license).
    fn deserialize_enum<V: Visitor<'de>>(
        self,
        _name: &'static str,
        _variants: &'static [&'static str],
        visitor: V,
    ) -> Taken<V::Value> {
        visitor.visit_enum(de::value::BorrowedStrDeserializer::<NotTaken>::new(
            self.str()?,
        ))
    }

    fn deserialize_ignored_any<V: Visitor<'de>>(self, visitor: V) -> Taken<V::Value> {
        self.deserialize_any(visitor)
    }

    serde::forward_to_deserialize_any! {
        i8 i16 i32 i64 i128 u128 f32 f64 char bytes byte_buf unit unit_struct
        tuple tuple_struct
    }
}

/// The items of an array, or the entries of an object, one by one.
struct Items<'a, 'de> {
    of: &'a mut Compact<'de>,
    first: bool,
}

impl<'de> Items<'_, 'de> {
    /// Whether another item follows (after its comma), before `close`.
    fn another(&mut self, close: u8) -> Taken<bool> {
        if self.of.peek() == Some(close) {
            return Ok(false);
        }
        if !std::mem::replace(&mut self.first, false) {
            self.of.eat(",")?;
        }
        Ok(true)
    }
}

impl<'de> de::SeqAccess<'de> for Items<'_, 'de> {
    type Error = NotTaken;

    fn next_element_seed<T: DeserializeSeed<'de>>(&mut self, seed: T) -> Taken<Option<T::Value>> {
        if !self.another(b']')? {
            return Ok(None);
        }
        seed.deserialize(&mut *self.of).map(Some)
    }
}

impl<'de> de::MapAccess<'de> for Items<'_, 'de> {
    type Error = NotTaken;

    fn next_key_seed<K: DeserializeSeed<'de>>(&mut self, seed: K) -> Taken<Option<K::Value>> {
        if !self.another(b'}')? {
            return Ok(None);
        }
        let key = self.of.str()?;
        self.of.eat(":")?;
        seed.deserialize(de::value::BorrowedStrDeserializer::<NotTaken>::new(key))
            .map(Some)
    }

    fn next_value_seed<V: DeserializeSeed<'de>>(&mut self, seed: V) -> Taken<V::Value> {
        seed.deserialize(&mut *self.of)
    }
}

/// The deepest nesting of objects and arrays in `json` (one well-formed
/// value, as serde_json just read it).
fn depth(json: &str) -> usize {
    let (mut depth, mut deepest) = (0_usize, 0);
    let mut in_string = false;
    let mut escaped = false;
    for b in json.bytes() {
        if in_string {
            match (escaped, b) {
                (true, _) => escaped = false,
                (false, b'\\') => escaped = true,
                (false, b'"') => in_string = false,
                _ => {}
            }
            continue;
        }
        match b {
            b'"' => in_string = true,
            b'{' | b'[' => {
                depth = depth.saturating_add(1);
                deepest = deepest.max(depth);
            }
            b'}' | b']' => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    deepest
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use serde_json::json;

    /// A license with every field away from its default, so each one is
    /// written and read.
    fn full() -> Value {
        let text = r#"{
            "format": 1, "id": "LIC-1", "license_key": "TSRA-7QK2",
            "license_type": "consumption", "license_enabled": false, "license_active": false,
            "is_trial": true, "trial_days": 14, "start_date": "2026-01-01",
            "validity_period": "2027-01-01T10:20:30Z", "enable_maintenance_period": true,
            "maintenance_period": "2026-07-01T00:00:00+02:00", "allow_grace_period": true,
            "grace_period": 72, "max_activations": 0, "allow_unlimited_activations": true,
            "times_activated": 4294967295, "transfer_count": 2, "max_transfers": 3,
            "is_floating": true, "is_floating_cloud": true, "floating_timeout": 5,
            "floating_users": 9, "can_borrow": true, "max_borrow_time": 48, "prevent_vm": true,
            "is_hardware_key_auth": true, "is_air_gapped": true,
            "product_features": [
                {"code": "a"},
                {"code": "b", "name": "B", "feature_type": "consumption",
                 "expiry_date": "2026-03-01", "max_consumption": 18446744073709551615,
                 "allow_unlimited_consumptions": true, "total_consumptions": 3,
                 "allow_overages": true, "max_overages": 4, "reset_consumption": true,
                 "consumption_period": "weekly", "is_floating": true, "is_floating_cloud": true,
                 "floating_users": 2, "floating_timeout": 30,
                 "metadata": {"n": [1, 2.5, -3, {"deep": [null, true]}], "s": "\u00e9\"\\\n"}}
            ],
            "max_consumptions": 500, "total_consumptions": 7, "allow_unlimited_consumptions": true,
            "allow_overages": true, "max_overages": 10, "reset_consumption": true,
            "consumption_period": "annually",
            "custom_fields": [
                {"name": "tier", "value": "gold"},
                {"name": "n", "data_type": "number", "value": "3"},
                {"name": "t", "data_type": "date/time", "value": "2026-01-01"}
            ],
            "customer": {"email": "e@x", "company_name": "C", "reference": "R", "phone": "P",
                "first_name": "F", "last_name": "L", "city": "Ci", "postcode": "1",
                "state": "S", "country": "DE", "address": "A", "customer_account": "acct",
                "metadata": {"k": "v"}},
            "product_details": {"product_id": 10006, "product_name": "Acme", "short_code": "acme",
                "authorization_method": "user", "metadata": {"k": 1}},
            "user": {"id": 7, "email": "u@x", "first_name": "U", "last_name": "V",
                "phone_number": "1"},
            "metadata": {"order": "PO-4711", "n": [1, 2.5, -3e2, {"deep": [null, true]}]},
            "issued_at": "2026-02-01T00:00:00Z", "expires_at": "2026-12-01T00:00:00Z",
            "device": {"id": "f00d", "components": {"cpu": "c1", "machine_id": "m1"}},
            "hardware_key": "AAAA"
        }"#;
        serde_json::from_str(text).unwrap()
    }

    /// The canonical payload of a document: what the issuer writes.
    fn canonical(doc: &Value) -> String {
        let license: License = serde_json::from_value(doc.clone()).unwrap();
        serde_json::to_string(&license).unwrap()
    }

    fn minimal() -> Value {
        json!({"format": 1, "id": "x", "license_type": "perpetual",
               "product_details": {"short_code": "p"}, "issued_at": "2026-01-01T00:00:00Z"})
    }

    fn example_spec() -> Value {
        let mut doc: Value =
            serde_json::from_str(include_str!("../../../examples/specs/time-limited.json"))
                .unwrap();
        doc["format"] = json!(1);
        doc["issued_at"] = json!("2026-02-01T00:00:00Z");
        doc
    }

    fn serde_reads(text: &str) -> Option<License> {
        serde_json::from_str(text).ok()
    }

    #[test]
    fn the_issuers_form_is_read_as_serde_reads_it() {
        let mut devices = minimal();
        devices["device"] = json!({"id": "d", "components": {}});
        for doc in [full(), minimal(), example_spec(), devices] {
            let text = canonical(&doc);
            let fast = read(&text);
            assert!(fast.is_some(), "the canonical form is not read: {text}");
            assert_eq!(fast, serde_reads(&text), "{text}");
        }
        // Every field of `full` was written, so every field was read.
        let text = canonical(&full());
        let written: serde_json::Map<String, Value> = serde_json::from_str(&text).unwrap();
        assert_eq!(written.len(), full().as_object().unwrap().len());
    }

    #[test]
    fn another_form_is_read_as_serde_reads_it_or_left_to_serde() {
        let text = canonical(&example_spec());
        let reordered = {
            let doc: Value = serde_json::from_str(&text).unwrap();
            let mut map: Vec<(String, Value)> =
                doc.as_object().unwrap().clone().into_iter().collect();
            map.reverse();
            format!(
                "{{{}}}",
                map.iter()
                    .map(|(k, v)| format!("{}:{v}", json!(k)))
                    .collect::<Vec<_>>()
                    .join(",")
            )
        };
        let escaped = text.replacen("Acme CAD", "Acme\\u0020CAD", 1);
        let spaced = text.replacen(":", ": ", 1);
        let unknown = text.replacen("{", "{\"later\":1,", 1);
        let empty_list = canonical(&minimal()).replacen(
            "\"product_details\"",
            "\"custom_fields\":[],\"product_details\"",
            1,
        );
        let repeated = text.replacen("\"id\":", "\"id\":\"a\",\"id\":", 1);
        let leading_zero = text.replacen("\"max_activations\":3", "\"max_activations\":03", 1);
        let minus_zero = text.replacen("\"max_activations\":3", "\"max_activations\":-0", 1);
        let alias = canonical(&{
            let mut d = full();
            d["consumption_period"] = json!("annualy");
            d
        })
        .replacen(
            "\"consumption_period\":\"annually\"",
            "\"consumption_period\":\"annualy\"",
            1,
        );
        // Read here, as serde reads them: another order, an empty list, a
        // name's alias.
        for other in [reordered, empty_list, alias] {
            let fast = read(&other);
            assert!(fast.is_some(), "{other}");
            assert_eq!(fast, serde_reads(&other), "{other}");
        }
        // An unknown field: as serde reads it (the struct's own rule).
        if let Some(fast) = read(&unknown) {
            assert_eq!(Some(fast), serde_reads(&unknown), "{unknown}");
        }
        // Left to serde: an escape, whitespace, a repeated field, a leading
        // zero, a sign, what follows the document.
        for other in [
            escaped,
            spaced,
            repeated,
            leading_zero,
            minus_zero,
            format!("{text} "),
        ] {
            assert_eq!(read(&other), None, "{other}");
        }
    }

    #[test]
    fn deep_metadata_is_left_to_serde() {
        let nested = |levels: usize| {
            let mut deep = json!(1);
            for _ in 0..levels {
                deep = json!([deep]);
            }
            let mut doc = minimal();
            doc["metadata"] = json!({ "d": deep });
            canonical(&doc)
        };
        let text = nested(MAX_METADATA_DEPTH + 1);
        assert_eq!(read(&text), None);
        let text = nested(MAX_METADATA_DEPTH);
        assert!(read(&text).is_some());
        assert_eq!(read(&text), serde_reads(&text));
    }

    /// Bytes an edit may put in: JSON's punctuation, digits, letters of the
    /// field names, and a few that must never pass.
    const EDIT_BYTES: &[u8] = b"{}[]:,\"\\ 019-+.eEtfnu_TZa\t\x00\x7f";

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(20_000))]
        /// Whatever the reader takes from an edited payload, serde takes
        /// and reads the same.
        #[test]
        fn the_reader_never_takes_what_serde_reads_otherwise(
            which in 0_usize..3,
            edits in proptest::collection::vec((any::<prop::sample::Index>(), 0_u8..3, any::<prop::sample::Index>()), 1..3),
        ) {
            let doc = [full(), minimal(), example_spec()][which].clone();
            let mut bytes = canonical(&doc).into_bytes();
            for (at, kind, with) in edits {
                // Most edits where a value starts or ends, where a reader
                // that takes too much would show it.
                let edges: Vec<usize> = (0..=bytes.len())
                    .filter(|&i| {
                        matches!(bytes.get(i.wrapping_sub(1)), Some(b':' | b'[' | b',' | b'{'))
                            || matches!(bytes.get(i), Some(b',' | b'}' | b']' | b'"'))
                    })
                    .collect();
                let at = match at.index(5) {
                    0 => at.index(bytes.len() + 1),
                    _ => edges[at.index(edges.len())],
                };
                let byte = EDIT_BYTES[with.index(EDIT_BYTES.len())];
                match kind {
                    0 if at < bytes.len() => { bytes.remove(at); }
                    1 if at < bytes.len() => bytes[at] = byte,
                    _ => bytes.insert(at, byte),
                }
            }
            if let Ok(text) = std::str::from_utf8(&bytes) {
                if let Some(fast) = read(text) {
                    prop_assert_eq!(Some(fast), serde_reads(text), "{}", text);
                }
            }
        }
    }
}
