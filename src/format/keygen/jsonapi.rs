//! The shapes of Keygen's JSON:API payloads that Tessera reads (a
//! resource, its attributes and relationships) and Keygen's timestamps:
//! what the payload parses and the mapping reads, kept apart so neither
//! imports the other for them.

use crate::Time;
use serde::Deserialize;

use crate::error::{Error, Result};

/// One JSON:API resource: a license, machine, product, entitlement or user.
#[derive(Deserialize)]
pub(super) struct Resource {
    pub(super) id: String,
    #[serde(rename = "type")]
    pub(super) kind: String,
    #[serde(default)]
    pub(super) attributes: Attributes,
    #[serde(default)]
    pub(super) relationships: Relationships,
}

/// The attributes Tessera maps, of every resource type it reads (licenses,
/// machines, products, entitlements, users); the rest is ignored.
#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase")]
pub(super) struct Attributes {
    pub(super) name: Option<String>,
    pub(super) expiry: Option<String>,
    pub(super) status: Option<String>,
    pub(super) suspended: Option<bool>,
    pub(super) max_machines: Option<u64>,
    pub(super) max_uses: Option<u64>,
    pub(super) uses: Option<u64>,
    pub(super) fingerprint: Option<String>,
    pub(super) code: Option<String>,
    pub(super) email: Option<String>,
    pub(super) first_name: Option<String>,
    pub(super) last_name: Option<String>,
    pub(super) metadata: Option<serde_json::Map<String, serde_json::Value>>,
}

#[derive(Deserialize, Default)]
pub(super) struct Relationships {
    pub(super) product: Option<Relationship>,
    pub(super) license: Option<Relationship>,
}

#[derive(Deserialize)]
pub(super) struct Relationship {
    pub(super) data: Option<Linkage>,
}

#[derive(Deserialize)]
pub(super) struct Linkage {
    pub(super) id: String,
}

/// The id a relationship links to, if it links one.
pub(super) fn related(rel: Option<&Relationship>) -> Option<&str> {
    rel?.data.as_ref().map(|l| l.id.as_str())
}

/// Keygen's timestamps (`2022-08-08T17:31:34.431Z`), to the second:
/// Tessera's times have one-second resolution, and the fraction is dropped
/// (an expiry then comes up to a second early, never late).
pub(super) fn time(s: &str, what: &str) -> Result<Time> {
    let t = chrono::DateTime::parse_from_rfc3339(s)
        .map_err(|_| Error::InvalidPayload(format!("{what} is not an RFC 3339 time")))?
        .with_timezone(&chrono::Utc);
    Time::from_unix(t.timestamp())
        .ok_or_else(|| Error::InvalidPayload(format!("{what} is out of range")))
}
