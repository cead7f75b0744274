//! A license's free-form vendor data.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// Free-form vendor data: the `metadata` object of a license, its customer,
/// its product or a feature (docs/FORMAT.md). Keys are strings; a value is
/// any JSON, read with the typed getters, or as JSON text with
/// [`Metadata::json`] when it is an object or a list.
///
/// ```
/// use tessera::license::Metadata;
///
/// let metadata: Metadata = serde_json::from_str(r#"{"order": "PO-4711", "seats": 25, "site": {"city": "Graz"}}"#)?;
/// assert_eq!(metadata.str("order"), Some("PO-4711"));
/// assert_eq!(metadata.i64("seats"), Some(25));
/// assert_eq!(metadata.str("seats"), None, "a getter answers only for its type");
/// assert_eq!(metadata.json("site").as_deref(), Some(r#"{"city":"Graz"}"#));
/// # Ok::<(), serde_json::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Metadata(Map<String, Value>);

impl Metadata {
    /// Whether there is no entry.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The number of entries.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// The keys, sorted.
    pub fn keys(&self) -> impl Iterator<Item = &str> {
        self.0.keys().map(String::as_str)
    }

    /// Whether `key` is there (with any value, `null` included).
    pub fn contains(&self, key: &str) -> bool {
        self.0.contains_key(key)
    }

    /// The value at `key` if it is a string.
    pub fn str(&self, key: &str) -> Option<&str> {
        self.0.get(key)?.as_str()
    }

    /// The value at `key` if it is a whole number that fits an `i64`.
    pub fn i64(&self, key: &str) -> Option<i64> {
        self.0.get(key)?.as_i64()
    }

    /// The value at `key` if it is a number (as the nearest `f64`).
    pub fn f64(&self, key: &str) -> Option<f64> {
        self.0.get(key)?.as_f64()
    }

    /// The value at `key` if it is `true` or `false`.
    pub fn bool(&self, key: &str) -> Option<bool> {
        self.0.get(key)?.as_bool()
    }

    /// The value at `key` as JSON text, whatever it is (an object, a list,
    /// `null`, ...).
    pub fn json(&self, key: &str) -> Option<String> {
        self.0.get(key).map(Value::to_string)
    }

    /// The whole object as JSON text.
    pub fn to_json(&self) -> String {
        Value::Object(self.0.clone()).to_string()
    }

    /// The object inside (crate-internal; the server converts with the
    /// `internals` feature).
    #[cfg_attr(not(feature = "keygen"), allow(dead_code))]
    pub(crate) fn of(map: Map<String, Value>) -> Metadata {
        Metadata(map)
    }
}

#[cfg(feature = "internals")]
impl From<Map<String, Value>> for Metadata {
    fn from(map: Map<String, Value>) -> Metadata {
        Metadata(map)
    }
}

#[cfg(feature = "internals")]
impl From<Metadata> for Map<String, Value> {
    fn from(m: Metadata) -> Map<String, Value> {
        m.0
    }
}

#[cfg(feature = "internals")]
impl AsRef<Map<String, Value>> for Metadata {
    fn as_ref(&self) -> &Map<String, Value> {
        &self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn typed_getters_answer_only_for_their_type() {
        let m: Metadata = serde_json::from_str(
            r#"{"s": "x", "n": -3, "f": 2.5, "b": true, "o": {"k": [1]}, "z": null}"#,
        )
        .unwrap();
        assert_eq!((m.len(), m.is_empty()), (6, false));
        assert_eq!(m.str("s"), Some("x"));
        assert_eq!(m.str("n"), None);
        assert_eq!(m.i64("n"), Some(-3));
        assert_eq!(m.i64("f"), None);
        assert_eq!(m.f64("f"), Some(2.5));
        assert_eq!(m.bool("b"), Some(true));
        assert_eq!(m.json("o").as_deref(), Some(r#"{"k":[1]}"#));
        assert!(m.contains("z") && !m.contains("y"));
        assert_eq!(m.json("y"), None);
        assert_eq!(m.keys().collect::<Vec<_>>(), ["b", "f", "n", "o", "s", "z"]);
        let back: Metadata = serde_json::from_str(&m.to_json()).unwrap();
        assert_eq!(back, m);
        assert!(serde_json::from_str::<Metadata>("[1]").is_err());
    }
}
