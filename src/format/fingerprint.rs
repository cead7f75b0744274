//! The device fingerprint as a value: named components, each an
//! HMAC-SHA256 of one device fact keyed by a per-product salt (so no raw
//! serial number leaves the device, and two vendors' fingerprints of one
//! machine are unrelated), a summary id over all of them, and the
//! [`MatchPolicy`] that decides whether a stored fingerprint still matches
//! the device now. Licenses, leases and the state file carry it; collecting
//! it from a machine is [`crate::device::linux`].

use std::collections::BTreeMap;
use std::fmt;

use hmac::Mac as _;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// A device fingerprint: hashed components by name and a summary id.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct Fingerprint {
    /// Summary id: SHA-256 over the sorted components, 32 hex digits.
    #[cfg_attr(feature = "schema", schemars(length(min = 1, max = 128)))]
    pub id: String,
    /// Component name to salted hash (32 hex digits).
    #[serde(default)]
    pub components: BTreeMap<String, String>,
}

impl Fingerprint {
    /// Builds a fingerprint from raw facts (name, value), hashing each with `salt`.
    pub fn from_facts<'a, I>(salt: &[u8], facts: I) -> Fingerprint
    where
        I: IntoIterator<Item = (&'a str, &'a str)>,
    {
        let components: BTreeMap<String, String> = facts
            .into_iter()
            .map(|(name, value)| (name.to_owned(), component_hash(salt, name, value)))
            .collect();
        let mut h = Sha256::new();
        h.update(b"tessera/v1/fingerprint-id\0");
        for (name, hash) in &components {
            h.update(name.as_bytes());
            h.update([0]);
            h.update(hash.as_bytes());
            h.update([0]);
        }
        Fingerprint {
            id: hex::encode(&h.finalize()[..16]),
            components,
        }
    }

    /// A fingerprint that is a vendor-supplied id (a container's or cloud
    /// instance's id, or anything the vendor identifies devices by), hashed
    /// with `salt`. It has no components; only [`MatchPolicy::Custom`] or
    /// [`MatchPolicy::Exact`] compare it.
    pub fn custom(salt: &[u8], vendor_id: &str) -> Fingerprint {
        Fingerprint {
            id: component_hash(salt, "custom", vendor_id),
            components: BTreeMap::new(),
        }
    }

    /// A fingerprint known only by its summary id.
    pub fn from_id(id: impl Into<String>) -> Fingerprint {
        Fingerprint {
            id: id.into(),
            components: BTreeMap::new(),
        }
    }

    /// Whether `current` is still the device `self` was stored for, under
    /// `policy`. Allocation-free; [`Fingerprint::compare`] explains the answer.
    pub fn matches(&self, current: &Fingerprint, policy: &MatchPolicy) -> bool {
        match policy {
            MatchPolicy::Fuzzy {
                max_changed,
                min_matching,
            } if !self.components.is_empty() && !current.components.is_empty() => {
                let mut matching = 0usize;
                let mut counted = 0usize;
                let mut identifying = false;
                for (name, hash) in &self.components {
                    if current.components.get(name) == Some(hash) {
                        matching += 1;
                        // `os` is shared by every machine of a fleet: it
                        // never counts toward the minimum.
                        counted += usize::from(name != "os");
                        identifying |= is_identifying(name);
                    }
                }
                self.components.len() - matching <= *max_changed
                    && counted >= *min_matching
                    && identifying
            }
            _ => self.id == current.id,
        }
    }

    /// Compares `self` (stored, for example at activation) with `current`,
    /// component by component.
    pub fn compare(&self, current: &Fingerprint, policy: &MatchPolicy) -> Comparison {
        let mut c = Comparison {
            matches: false,
            matching: Vec::new(),
            changed: Vec::new(),
            missing: Vec::new(),
            added: Vec::new(),
        };
        for (name, hash) in &self.components {
            match current.components.get(name) {
                Some(h) if h == hash => c.matching.push(name.clone()),
                Some(_) => c.changed.push(name.clone()),
                None => c.missing.push(name.clone()),
            }
        }
        c.added = current
            .components
            .keys()
            .filter(|k| !self.components.contains_key(*k))
            .cloned()
            .collect();
        c.matches = self.matches(current, policy);
        c
    }
}

/// Whether a component names this machine rather than its kind: the
/// machine id, the firmware's UUID and board serial, a network card's
/// address, the root or system volume's id, a Mac's serial number. `os`,
/// `cpu` and `hostname` are shared by many machines (every container of one
/// image on one CPU model has the same three), so a fuzzy match needs at
/// least one of these among the components that still match
/// (docs/DEVICE.md).
pub fn is_identifying(component: &str) -> bool {
    matches!(
        component,
        "machine_id"
            | "dmi_product_uuid"
            | "dmi_board_serial"
            | "root_fs_uuid"
            | "system_volume"
            | "serial_number"
            | "boot_volume_uuid"
    ) || component.starts_with("mac:")
}

/// How a stored fingerprint is compared with this device's.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MatchPolicy {
    /// Every component the same (the summary ids are equal).
    Exact,
    /// At most `max_changed` stored components changed or gone, and at
    /// least `min_matching` still the same. "At least k of n" is
    /// `Fuzzy { max_changed: n - k, min_matching: k }`.
    Fuzzy {
        /// Stored components allowed to differ or be missing.
        max_changed: usize,
        /// Stored components that must still match.
        min_matching: usize,
    },
    /// The fingerprint is a vendor-supplied id ([`Fingerprint::custom`]); ids must be equal.
    Custom,
}

impl Default for MatchPolicy {
    /// Tolerates one change: a replaced network card or a new hostname, not both.
    fn default() -> Self {
        MatchPolicy::Fuzzy {
            max_changed: 1,
            min_matching: 2,
        }
    }
}

/// The outcome of comparing two fingerprints, component by component.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Comparison {
    /// Whether the policy accepts this device.
    pub matches: bool,
    /// Stored components with the same value now.
    pub matching: Vec<String>,
    /// Stored components with another value now.
    pub changed: Vec<String>,
    /// Stored components this device no longer has.
    pub missing: Vec<String>,
    /// Components this device has that were not stored.
    pub added: Vec<String>,
}

impl fmt::Display for Comparison {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}: {} matching",
            if self.matches {
                "matches"
            } else {
                "does not match"
            },
            self.matching.len()
        )?;
        for (label, list) in [
            ("changed", &self.changed),
            ("missing", &self.missing),
            ("new", &self.added),
        ] {
            if !list.is_empty() {
                write!(f, ", {label}: {}", list.join(" "))?;
            }
        }
        Ok(())
    }
}

/// HMAC-SHA256(key = SHA-256(domain ‖ salt), name ‖ 0 ‖ value), first 16 bytes in hex.
fn component_hash(salt: &[u8], name: &str, value: &str) -> String {
    let mut k = Sha256::new();
    k.update(b"tessera/v1/fingerprint\0");
    k.update(salt);
    let mut mac = crate::keyed_hash::keyed(&k.finalize());
    mac.update(name.as_bytes());
    mac.update(&[0]);
    mac.update(value.as_bytes());
    hex::encode(&mac.finalize().into_bytes()[..16])
}

/// The salt of a product's fingerprints: its short code, a NUL byte, and the
/// vendor's optional secret (docs/FORMAT.md section 4).
pub fn product_salt(product: &str, secret: &[u8]) -> Vec<u8> {
    let mut salt = Vec::with_capacity(product.len() + 1 + secret.len());
    salt.extend_from_slice(product.as_bytes());
    salt.push(0);
    salt.extend_from_slice(secret);
    salt
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn salts_separate_products_and_hide_values() {
        let a = Fingerprint::from_facts(b"product-a", [("hostname", "box")]);
        let b = Fingerprint::from_facts(b"product-b", [("hostname", "box")]);
        assert_ne!(a.components["hostname"], b.components["hostname"]);
        assert_ne!(a.id, b.id);
        assert!(!a.components["hostname"].contains("box"));
        assert_eq!(
            a,
            Fingerprint::from_facts(b"product-a", [("hostname", "box")])
        );
    }

    /// What the hashes do not hide (SECURITY.md, issue 21 finding 10): with
    /// the salt known (an empty or extracted vendor secret), a low-entropy
    /// value is found by trying the likely ones.
    #[test]
    fn a_low_entropy_component_is_found_once_the_salt_is_known() {
        let salt = product_salt("acme", b"");
        let seen = Fingerprint::from_facts(&salt, [("os", "ubuntu"), ("hostname", "build-07")]);
        let guess = |name: &str, candidates: &[&str]| {
            candidates
                .iter()
                .find(|c| {
                    Fingerprint::from_facts(&salt, [(name, **c)]).components[name]
                        == seen.components[name]
                })
                .map(|c| (*c).to_owned())
        };
        assert_eq!(
            guess("os", &["debian", "fedora", "ubuntu", "arch"]),
            Some("ubuntu".into())
        );
        let hosts: Vec<String> = (0..100).map(|n| format!("build-{n:02}")).collect();
        let hosts: Vec<&str> = hosts.iter().map(String::as_str).collect();
        assert_eq!(guess("hostname", &hosts), Some("build-07".into()));
        // With a secret the attacker does not have, the same search finds nothing.
        let secret = product_salt("acme", b"a vendor secret of sixteen+ bytes");
        let hidden = Fingerprint::from_facts(&secret, [("os", "ubuntu")]);
        assert!(["debian", "fedora", "ubuntu", "arch"].iter().all(|c| {
            Fingerprint::from_facts(&salt, [("os", *c)]).components["os"] != hidden.components["os"]
        }));
    }

    #[test]
    fn the_default_policy_tolerates_exactly_one_change() {
        let facts = [
            ("machine_id", "m"),
            ("cpu", "c"),
            ("mac:eth0", "n"),
            ("hostname", "h"),
            ("os", "debian"),
        ];
        let stored = Fingerprint::from_facts(b"s", facts);
        let with = |changes: &[(&'static str, &'static str)]| {
            let f: Vec<(&str, &str)> = facts
                .iter()
                .map(|(k, v)| {
                    (
                        *k,
                        changes
                            .iter()
                            .find(|(ck, _)| ck == k)
                            .map_or(*v, |(_, cv)| *cv),
                    )
                })
                .collect();
            Fingerprint::from_facts(b"s", f)
        };
        let policy = MatchPolicy::default();
        assert!(stored.compare(&with(&[]), &policy).matches);
        let nic = stored.compare(&with(&[("mac:eth0", "new")]), &policy);
        assert!(nic.matches);
        assert_eq!(nic.changed, vec!["mac:eth0".to_owned()]);
        assert!(
            stored
                .compare(&with(&[("hostname", "new")]), &policy)
                .matches
        );
        assert!(
            !stored
                .compare(&with(&[("hostname", "x"), ("mac:eth0", "y")]), &policy)
                .matches
        );
        assert!(
            !stored
                .compare(&with(&[("hostname", "x")]), &MatchPolicy::Exact)
                .matches
        );
        // At least 3 of the 4 that count (`os` never counts): the CPU
        // changed, 3 still match.
        let three_of_four = MatchPolicy::Fuzzy {
            max_changed: 1,
            min_matching: 3,
        };
        assert!(
            stored
                .compare(&with(&[("cpu", "x")]), &three_of_four)
                .matches
        );
        let four = MatchPolicy::Fuzzy {
            max_changed: 1,
            min_matching: 4,
        };
        assert!(!stored.compare(&with(&[("cpu", "x")]), &four).matches);
    }

    /// Issue 21, finding 9: a match must rest on a component that names
    /// the machine, and `os` never counts toward the minimum. Two machines
    /// that share CPU model, host name and OS (containers of one image, a
    /// VM whose machine id was swapped) are not the same device.
    #[test]
    fn a_match_needs_a_component_that_names_the_machine() {
        let stored = Fingerprint::from_facts(
            b"s",
            [
                ("machine_id", "m1"),
                ("cpu", "c"),
                ("hostname", "h"),
                ("os", "debian"),
            ],
        );
        let swapped = Fingerprint::from_facts(
            b"s",
            [
                ("machine_id", "m2"),
                ("cpu", "c"),
                ("hostname", "h"),
                ("os", "debian"),
            ],
        );
        let policy = MatchPolicy::default();
        let c = stored.compare(&swapped, &policy);
        assert_eq!(c.changed, vec!["machine_id".to_owned()]);
        assert_eq!(c.matching.len(), 3);
        assert!(!c.matches, "only cpu, hostname and os still match");
        // The same machine with a new host name still matches.
        let renamed = Fingerprint::from_facts(
            b"s",
            [
                ("machine_id", "m1"),
                ("cpu", "c"),
                ("hostname", "h2"),
                ("os", "debian"),
            ],
        );
        assert!(stored.matches(&renamed, &policy));
        // Two components that count are needed: machine id and os alone are not enough.
        let only_os_left = Fingerprint::from_facts(
            b"s",
            [
                ("machine_id", "m1"),
                ("cpu", "c2"),
                ("hostname", "h2"),
                ("os", "debian"),
            ],
        );
        assert!(!stored.matches(&only_os_left, &policy));
        assert!(is_identifying("mac:eth0") && is_identifying("root_fs_uuid"));
        assert!(!is_identifying("cpu") && !is_identifying("hostname") && !is_identifying("os"));
    }

    #[test]
    fn custom_ids_compare_by_id() {
        let a = Fingerprint::custom(b"s", "i-0abc");
        assert!(
            a.compare(&Fingerprint::custom(b"s", "i-0abc"), &MatchPolicy::Custom)
                .matches
        );
        assert!(
            !a.compare(&Fingerprint::custom(b"s", "i-0abd"), &MatchPolicy::Custom)
                .matches
        );
        assert!(a.components.is_empty());
    }
}
