//! The license document read straight from the bytes the issuer writes.
//!
//! Every license file's payload is `serde_json::to_vec` of a [`License`]:
//! compact, its fields in declaration order, defaults left out, no escape in
//! a typical string. This reader takes exactly that form and nothing else,
//! and answers `None` for anything it does not take (whitespace, another
//! order, an unknown or repeated field, `null`, an escape, a number that is
//! not plain digits, a timestamp [`ts::parse`] refuses), so that the caller
//! hands the same text to serde, which reads every form and says what is
//! wrong. Where it answers `Some`, the license equals serde's reading: the
//! differential proptest below and the `license_payload` fuzz target hold
//! it to that. It does a tenth of serde's work for a typical file, which is
//! most of what a license check costs beyond its signature (issue 24;
//! docs/DECISIONS.md).
//!
//! The free-form `metadata` maps are read by serde_json where they lie.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde_json::{Map, Value};

use crate::format::fingerprint::Fingerprint;
use crate::format::license::{
    ts, AuthorizationMethod, ConsumptionPeriod, CustomField, CustomFieldType, Customer, Feature,
    FeatureType, License, LicenseKey, LicenseType, LicenseUser, ProductDetails,
};

/// The license in `text`, when `text` is in the issuer's canonical form.
pub(crate) fn read(text: &str) -> Option<License> {
    let mut c = Cursor { rest: text };
    let license = c.license()?;
    c.rest.is_empty().then_some(license)
}

/// Nesting that serde_json's own limit (128) cannot reach from where a
/// metadata map lies: deeper maps are left to serde.
const MAX_METADATA_DEPTH: usize = 100;

/// For each `name: read;` in order: when the object's next key is `name`,
/// sets `target.name` to what `read` reads (a `?` in it ends the reading).
macro_rules! fields {
    ($cursor:ident, $object:ident, $target:ident; $($name:ident: $read:expr;)*) => {$(
        if $cursor.field(&mut $object, stringify!($name)) {
            $target.$name = $read;
        }
    )*};
}

struct Cursor<'a> {
    rest: &'a str,
}

/// The fields of one object, in order: each `field` call takes the next
/// key when it is `name` and says whether it did.
struct Object {
    first: bool,
}

impl<'a> Cursor<'a> {
    fn eat(&mut self, lit: &str) -> Option<()> {
        self.rest = self.rest.strip_prefix(lit)?;
        Some(())
    }

    fn open(&mut self) -> Option<Object> {
        self.eat("{")?;
        Some(Object { first: true })
    }

    /// Takes `,"name":` (or `"name":` for the first field) when it comes
    /// next.
    fn field(&mut self, object: &mut Object, name: &str) -> bool {
        let at = usize::from(!object.first);
        let b = self.rest.as_bytes();
        let end = at + name.len() + 3;
        let matches = b.len() >= end
            && (object.first || b[0] == b',')
            && b[at] == b'"'
            && &b[at + 1..end - 2] == name.as_bytes()
            && b[end - 2] == b'"'
            && b[end - 1] == b':';
        if matches {
            // `end` follows an ASCII `:`, so it is a character boundary.
            self.rest = self.rest.get(end..).unwrap_or_default();
            object.first = false;
        }
        matches
    }

    fn close(&mut self) -> Option<()> {
        self.eat("}")
    }

    /// A string without escapes or control characters.
    fn str(&mut self) -> Option<&'a str> {
        let body = self.rest.strip_prefix('"')?;
        let end = body
            .bytes()
            .position(|b| b == b'"' || b == b'\\' || b < 0x20)?;
        let (s, after) = body.split_at(end);
        self.rest = after.strip_prefix('"')?;
        Some(s)
    }

    fn string(&mut self) -> Option<String> {
        self.str().map(str::to_owned)
    }

    /// Plain digits, no leading zero, no fraction or exponent.
    fn u64(&mut self) -> Option<u64> {
        let digits = self.rest.bytes().take_while(u8::is_ascii_digit).count();
        let (number, after) = self.rest.split_at(digits);
        if number.is_empty()
            || (number.len() > 1 && number.starts_with('0'))
            || after.starts_with(['.', 'e', 'E'])
        {
            return None;
        }
        let mut n: u64 = 0;
        for d in number.bytes() {
            n = n.checked_mul(10)?.checked_add(u64::from(d - b'0'))?;
        }
        self.rest = after;
        Some(n)
    }

    fn u32(&mut self) -> Option<u32> {
        u32::try_from(self.u64()?).ok()
    }

    fn bool(&mut self) -> Option<bool> {
        if let Some(rest) = self.rest.strip_prefix("true") {
            self.rest = rest;
            Some(true)
        } else {
            self.eat("false")?;
            Some(false)
        }
    }

    fn time(&mut self) -> Option<DateTime<Utc>> {
        ts::parse(self.str()?)
    }

    /// A JSON object: a flat one of strings read here, any other by
    /// serde_json where it lies.
    fn map(&mut self) -> Option<Map<String, Value>> {
        let start = self.rest;
        if let Some(map) = self.flat_map() {
            return Some(map);
        }
        self.rest = start;
        self.any_map()
    }

    /// `{"key":"value",…}` with plain strings only; a repeated key keeps
    /// the last value, as serde_json's map does.
    fn flat_map(&mut self) -> Option<Map<String, Value>> {
        self.eat("{")?;
        let mut map = Map::new();
        if self.eat("}").is_some() {
            return Some(map);
        }
        loop {
            let key = self.string()?;
            self.eat(":")?;
            map.insert(key, Value::String(self.string()?));
            if self.eat(",").is_none() {
                break;
            }
        }
        self.eat("}")?;
        Some(map)
    }

    fn any_map(&mut self) -> Option<Map<String, Value>> {
        let mut stream = serde_json::Deserializer::from_str(self.rest).into_iter::<Value>();
        let Some(Ok(Value::Object(map))) = stream.next() else {
            return None;
        };
        let (read, after) = self.rest.split_at(stream.byte_offset());
        if read.starts_with(|c: char| c.is_ascii_whitespace()) || depth(read) > MAX_METADATA_DEPTH {
            return None;
        }
        self.rest = after;
        Some(map)
    }

    /// `[item,item,…]`, at least one item (the issuer leaves empty lists out).
    fn list<T>(&mut self, mut item: impl FnMut(&mut Self) -> Option<T>) -> Option<Vec<T>> {
        self.eat("[")?;
        let mut items = Vec::with_capacity(4);
        items.push(item(self)?);
        while self.eat(",").is_some() {
            items.push(item(self)?);
        }
        self.eat("]")?;
        Some(items)
    }

    fn license(&mut self) -> Option<License> {
        let mut o = self.open()?;
        if !self.field(&mut o, "format") {
            return None;
        }
        let format = self.u32()?;
        if !self.field(&mut o, "id") {
            return None;
        }
        let id = self.string()?;
        let license_key = if self.field(&mut o, "license_key") {
            Some(LicenseKey::new(self.str()?))
        } else {
            None
        };
        if !self.field(&mut o, "license_type") {
            return None;
        }
        let license_type = match self.str()? {
            "perpetual" => LicenseType::Perpetual,
            "time-limited" => LicenseType::TimeLimited,
            "subscription" => LicenseType::Subscription,
            "consumption" => LicenseType::Consumption,
            _ => return None,
        };
        let mut l = License::with_defaults(
            id,
            license_type,
            ProductDetails {
                product_id: None,
                product_name: String::new(),
                short_code: String::new(),
                authorization_method: AuthorizationMethod::LicenseKey,
                metadata: Map::new(),
            },
            DateTime::UNIX_EPOCH,
        );
        l.format = format;
        l.license_key = license_key;
        fields! { self, o, l;
            license_enabled: self.bool()?;
            license_active: self.bool()?;
            is_trial: self.bool()?;
            trial_days: Some(self.u32()?);
            start_date: Some(self.time()?);
            validity_period: Some(self.time()?);
            enable_maintenance_period: self.bool()?;
            maintenance_period: Some(self.time()?);
            allow_grace_period: self.bool()?;
            grace_period: self.u32()?;
            max_activations: self.u32()?;
            allow_unlimited_activations: self.bool()?;
            times_activated: self.u32()?;
            transfer_count: self.u32()?;
            max_transfers: self.u32()?;
            is_floating: self.bool()?;
            is_floating_cloud: self.bool()?;
            floating_timeout: self.u32()?;
            floating_users: self.u32()?;
            can_borrow: self.bool()?;
            max_borrow_time: self.u32()?;
            prevent_vm: self.bool()?;
            is_hardware_key_auth: self.bool()?;
            is_air_gapped: self.bool()?;
            product_features: self.list(Self::feature)?;
            max_consumptions: self.u64()?;
            total_consumptions: self.u64()?;
            allow_unlimited_consumptions: self.bool()?;
            allow_overages: self.bool()?;
            max_overages: self.u64()?;
            reset_consumption: self.bool()?;
            consumption_period: Some(self.period()?);
            custom_fields: self.list(Self::custom_field)?;
            customer: Some(self.customer()?);
        }
        if !self.field(&mut o, "product_details") {
            return None;
        }
        l.product_details = self.product_details()?;
        fields! { self, o, l;
            user: Some(self.user()?);
            metadata: self.map()?;
        }
        if !self.field(&mut o, "issued_at") {
            return None;
        }
        l.issued_at = self.time()?;
        fields! { self, o, l;
            expires_at: Some(self.time()?);
            device: Some(self.fingerprint()?);
            hardware_key: Some(self.string()?);
        }
        self.close()?;
        Some(l)
    }

    fn period(&mut self) -> Option<ConsumptionPeriod> {
        Some(match self.str()? {
            "daily" => ConsumptionPeriod::Daily,
            "weekly" => ConsumptionPeriod::Weekly,
            "monthly" => ConsumptionPeriod::Monthly,
            "annually" => ConsumptionPeriod::Annually,
            _ => return None,
        })
    }

    fn feature(&mut self) -> Option<Feature> {
        let mut o = self.open()?;
        if !self.field(&mut o, "code") {
            return None;
        }
        let mut f = Feature::activation(self.string()?);
        fields! { self, o, f;
            name: self.string()?;
            feature_type: match self.str()? {
                "activation" => FeatureType::Activation,
                "consumption" => FeatureType::Consumption,
                _ => return None,
            };
            expiry_date: Some(self.time()?);
            max_consumption: self.u64()?;
            allow_unlimited_consumptions: self.bool()?;
            total_consumptions: self.u64()?;
            allow_overages: self.bool()?;
            max_overages: self.u64()?;
            reset_consumption: self.bool()?;
            consumption_period: Some(self.period()?);
            is_floating: self.bool()?;
            is_floating_cloud: self.bool()?;
            floating_users: Some(self.u32()?);
            floating_timeout: Some(self.u32()?);
            metadata: self.map()?;
        }
        self.close()?;
        Some(f)
    }

    fn custom_field(&mut self) -> Option<CustomField> {
        let mut o = self.open()?;
        if !self.field(&mut o, "name") {
            return None;
        }
        let name = self.string()?;
        let data_type = if self.field(&mut o, "data_type") {
            match self.str()? {
                "number" => CustomFieldType::Number,
                "text" => CustomFieldType::Text,
                "date/time" => CustomFieldType::DateTime,
                _ => return None,
            }
        } else {
            CustomFieldType::Text
        };
        if !self.field(&mut o, "value") {
            return None;
        }
        let value = self.string()?;
        self.close()?;
        Some(CustomField {
            name,
            data_type,
            value,
        })
    }

    fn customer(&mut self) -> Option<Customer> {
        let mut o = self.open()?;
        let mut c = Customer::default();
        fields! { self, o, c;
            email: self.string()?;
            company_name: self.string()?;
            reference: self.string()?;
            phone: self.string()?;
            first_name: self.string()?;
            last_name: self.string()?;
            city: self.string()?;
            postcode: self.string()?;
            state: self.string()?;
            country: self.string()?;
            address: self.string()?;
            customer_account: Some(self.string()?);
            metadata: self.map()?;
        }
        self.close()?;
        Some(c)
    }

    fn product_details(&mut self) -> Option<ProductDetails> {
        let mut o = self.open()?;
        let product_id = if self.field(&mut o, "product_id") {
            Some(self.u64()?)
        } else {
            None
        };
        let product_name = if self.field(&mut o, "product_name") {
            self.string()?
        } else {
            String::new()
        };
        if !self.field(&mut o, "short_code") {
            return None;
        }
        let short_code = self.string()?;
        let authorization_method = if self.field(&mut o, "authorization_method") {
            match self.str()? {
                "license-key" => AuthorizationMethod::LicenseKey,
                "user" => AuthorizationMethod::User,
                _ => return None,
            }
        } else {
            AuthorizationMethod::LicenseKey
        };
        let metadata = if self.field(&mut o, "metadata") {
            self.map()?
        } else {
            Map::new()
        };
        self.close()?;
        Some(ProductDetails {
            product_id,
            product_name,
            short_code,
            authorization_method,
            metadata,
        })
    }

    fn user(&mut self) -> Option<LicenseUser> {
        let mut o = self.open()?;
        let mut u = LicenseUser::default();
        fields! { self, o, u;
            id: Some(self.u64()?);
            email: self.string()?;
            first_name: self.string()?;
            last_name: self.string()?;
            phone_number: self.string()?;
        }
        self.close()?;
        Some(u)
    }

    fn fingerprint(&mut self) -> Option<Fingerprint> {
        let mut o = self.open()?;
        if !self.field(&mut o, "id") {
            return None;
        }
        let id = self.string()?;
        let mut components = BTreeMap::new();
        if self.field(&mut o, "components") {
            self.eat("{")?;
            if self.eat("}").is_none() {
                loop {
                    let name = self.string()?;
                    self.eat(":")?;
                    components.insert(name, self.string()?);
                    if self.eat(",").is_none() {
                        break;
                    }
                }
                self.eat("}")?;
            }
        }
        self.close()?;
        Some(Fingerprint { id, components })
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
        let written: Map<String, Value> = serde_json::from_str(&text).unwrap();
        assert_eq!(written.len(), full().as_object().unwrap().len());
    }

    #[test]
    fn another_form_is_left_to_serde() {
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
        for other in [
            reordered,
            escaped,
            spaced,
            unknown,
            empty_list,
            repeated,
            leading_zero,
            minus_zero,
            alias,
            format!("{text} "),
        ] {
            assert_eq!(read(&other), None, "{other}");
        }
    }

    #[test]
    fn deep_metadata_is_left_to_serde() {
        let mut deep = json!(1);
        for _ in 0..MAX_METADATA_DEPTH {
            deep = json!([deep]);
        }
        let mut doc = minimal();
        doc["metadata"] = json!({ "d": deep });
        let text = canonical(&doc);
        assert_eq!(read(&text), None);
        doc["metadata"] = json!({ "d": 1 });
        assert!(read(&canonical(&doc)).is_some());
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
