//! Device fingerprints: what ties a license to one machine.
//!
//! A fingerprint is a set of named components, each an HMAC-SHA256 of one
//! device fact keyed by a per-product salt (so no raw serial number leaves
//! the device, and two vendors' fingerprints of one machine are unrelated),
//! plus a summary id over all of them. Components on Linux:
//!
//! | name | source |
//! |---|---|
//! | `machine_id` | the OS machine id (`/etc/machine-id`, through machine-uid) |
//! | `dmi_product_uuid`, `dmi_board_serial` | `/sys/class/dmi/id/*`, where readable |
//! | `mac:<interface>` | each physical network interface (no loopback, bridge, veth, docker, tun/tap, VPN, virtual or locally administered address) |
//! | `cpu` | vendor, model name and core count from `/proc/cpuinfo` |
//! | `root_fs_uuid` | the UUID of the file system mounted at `/` |
//! | `hostname` | `/proc/sys/kernel/hostname` |
//! | `os` | `ID` from `/etc/os-release` |
//!
//! A fact that cannot be read is left out; collection fails only when no
//! component at all can be read. [`MatchPolicy`] decides whether a stored
//! fingerprint still matches this device.

use std::collections::BTreeMap;
use std::fmt;

use hmac::Mac as _;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::device::sources::SystemSource;
use crate::error::{Error, Result};

/// A device fingerprint: hashed components by name and a summary id.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Fingerprint {
    /// Summary id: SHA-256 over the sorted components, 32 hex digits.
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
                let matching = self
                    .components
                    .iter()
                    .filter(|(name, hash)| current.components.get(*name) == Some(hash))
                    .count();
                self.components.len() - matching <= *max_changed && matching >= *min_matching
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
    let mut mac = crate::mac::keyed(&k.finalize());
    mac.update(name.as_bytes());
    mac.update(&[0]);
    mac.update(value.as_bytes());
    hex::encode(&mac.finalize().into_bytes()[..16])
}

/// Reads this device's raw facts (name, value). The values are device
/// serials and addresses: hash them ([`Fingerprint::from_facts`]) before they
/// are stored, printed or sent anywhere.
pub fn facts(src: &dyn SystemSource) -> Vec<(String, String)> {
    let mut out = Vec::new();
    if let Some(id) = src.machine_uid() {
        out.push(("machine_id".to_owned(), id));
    }
    for (name, file) in [
        ("dmi_product_uuid", "/sys/class/dmi/id/product_uuid"),
        ("dmi_board_serial", "/sys/class/dmi/id/board_serial"),
    ] {
        if let Some(v) = src.read(file).ok().and_then(|s| dmi_value(&s)) {
            out.push((name.to_owned(), v));
        }
    }
    for (iface, mac) in physical_macs(src) {
        out.push((format!("mac:{iface}"), mac));
    }
    if let Some(cpu) = cpu_fact(src) {
        out.push(("cpu".to_owned(), cpu));
    }
    if let Some(uuid) = root_fs_uuid(src) {
        out.push(("root_fs_uuid".to_owned(), uuid));
    }
    if let Some(h) = src
        .read("/proc/sys/kernel/hostname")
        .or_else(|_| src.read("/etc/hostname"))
        .ok()
        .map(|s| s.trim().to_owned())
        .filter(|s| !s.is_empty())
    {
        out.push(("hostname".to_owned(), h));
    }
    let os = src
        .read("/etc/os-release")
        .ok()
        .and_then(|s| os_release_id(&s))
        .unwrap_or_else(|| "linux".to_owned());
    out.push(("os".to_owned(), os));
    out
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

/// Collects this device's fingerprint, salted with `salt` ([`product_salt`]).
pub fn collect(src: &dyn SystemSource, salt: &[u8]) -> Result<Fingerprint> {
    let facts = facts(src);
    // `os` alone identifies nothing.
    if facts.iter().all(|(name, _)| name == "os") {
        return Err(Error::FingerprintUnavailable);
    }
    Ok(Fingerprint::from_facts(
        salt,
        facts.iter().map(|(n, v)| (n.as_str(), v.as_str())),
    ))
}

/// Collects the fingerprint of the machine this code runs on.
#[cfg(target_os = "linux")]
pub fn collect_host(salt: &[u8]) -> Result<Fingerprint> {
    collect(&crate::device::sources::HostSource, salt)
}

/// Collects the fingerprint of the machine this code runs on.
#[cfg(not(target_os = "linux"))]
pub fn collect_host(_salt: &[u8]) -> Result<Fingerprint> {
    Err(Error::Unsupported(
        "device fingerprinting is not supported on this platform yet; use Fingerprint::custom",
    ))
}

/// DMI files hold placeholders on many boards; those identify nothing.
fn dmi_value(raw: &str) -> Option<String> {
    let v = raw.trim();
    let placeholder = v.is_empty()
        || v.bytes().all(|b| b == b'0' || b == b'-' || b == b' ')
        || v.bytes()
            .all(|b| b.eq_ignore_ascii_case(&b'f') || b == b'-')
        || [
            "to be filled by o.e.m.",
            "default string",
            "not specified",
            "none",
            "n/a",
            "system serial number",
        ]
        .contains(&v.to_ascii_lowercase().as_str());
    (!placeholder).then(|| v.to_ascii_lowercase())
}

const VIRTUAL_PREFIXES: [&str; 16] = [
    "lo",
    "docker",
    "veth",
    "br-",
    "virbr",
    "vnet",
    "tun",
    "tap",
    "wg",
    "tailscale",
    "zt",
    "ppp",
    "vpn",
    "utun",
    "ifb",
    "dummy",
];

/// MAC addresses of physical network interfaces, by interface name.
fn physical_macs(src: &dyn SystemSource) -> Vec<(String, String)> {
    let Ok(names) = src.list("/sys/class/net") else {
        return Vec::new();
    };
    names
        .into_iter()
        .filter(|name| !VIRTUAL_PREFIXES.iter().any(|p| name.starts_with(p)))
        .filter_map(|name| {
            let base = format!("/sys/class/net/{name}");
            // Virtual devices live under /sys/devices/virtual and have no `device` link.
            let target = src.link_target(&base).unwrap_or_default();
            if target.contains("/virtual/") || !src.exists(&format!("{base}/device")) {
                return None;
            }
            // Bridges, bonds and tun/tap devices say so in sysfs.
            if src.exists(&format!("{base}/bridge")) || src.exists(&format!("{base}/tun_flags")) {
                return None;
            }
            // ARPHRD_ETHER (1) only; Wi-Fi reports 1 too.
            if src.read(&format!("{base}/type")).ok()?.trim() != "1" {
                return None;
            }
            let mac = src
                .read(&format!("{base}/address"))
                .ok()?
                .trim()
                .to_ascii_lowercase();
            usable_mac(&mac).then_some((name, mac))
        })
        .collect()
}

/// A globally administered unicast address that is not all zeros.
fn usable_mac(mac: &str) -> bool {
    let bytes: Vec<u8> = mac
        .split(':')
        .filter_map(|p| u8::from_str_radix(p, 16).ok())
        .collect();
    bytes.len() == 6
        && mac.len() == 17
        && bytes.iter().any(|&b| b != 0)
        && bytes[0] & 0x02 == 0 // locally administered (random, VPN, VM-assigned)
        && bytes[0] & 0x01 == 0 // multicast
}

fn cpu_fact(src: &dyn SystemSource) -> Option<String> {
    let info = src.read("/proc/cpuinfo").ok()?;
    let field = |key: &str| {
        info.lines()
            .find(|l| l.split(':').next().is_some_and(|k| k.trim() == key))
            .and_then(|l| l.split_once(':'))
            .map(|(_, v)| v.trim().to_owned())
    };
    let cores = info
        .lines()
        .filter(|l| l.split(':').next().is_some_and(|k| k.trim() == "processor"))
        .count();
    let vendor = field("vendor_id").or_else(|| field("CPU implementer"))?;
    let model = field("model name")
        .or_else(|| field("CPU part"))
        .unwrap_or_default();
    Some(format!("{vendor}|{model}|{cores}"))
}

/// The UUID of the file system at `/`: its device from mountinfo, looked up
/// among the links of `/dev/disk/by-uuid`.
fn root_fs_uuid(src: &dyn SystemSource) -> Option<String> {
    let mountinfo = src.read("/proc/self/mountinfo").ok()?;
    // Fields: id parent major:minor root mount-point options ... - fstype source superoptions
    let line = mountinfo.lines().find(|l| {
        let f: Vec<&str> = l.split_whitespace().collect();
        f.len() > 4 && f[4] == "/" && f[3] == "/"
    })?;
    let source = line.split(" - ").nth(1)?.split_whitespace().nth(1)?;
    let device = source.rsplit('/').next()?;
    src.list("/dev/disk/by-uuid")
        .ok()?
        .into_iter()
        .find(|uuid| {
            src.link_target(&format!("/dev/disk/by-uuid/{uuid}"))
                .is_ok_and(|t| t.rsplit('/').next() == Some(device))
        })
        .map(|uuid| uuid.to_ascii_lowercase())
}

fn os_release_id(text: &str) -> Option<String> {
    text.lines()
        .find_map(|l| l.strip_prefix("ID="))
        .map(|v| v.trim().trim_matches('"').to_owned())
        .filter(|v| !v.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mac_filter_keeps_only_global_unicast() {
        assert!(usable_mac("00:1b:21:3a:4f:5e"));
        assert!(!usable_mac("02:fc:00:00:00:01")); // locally administered
        assert!(!usable_mac("01:00:5e:00:00:01")); // multicast
        assert!(!usable_mac("00:00:00:00:00:00"));
        assert!(!usable_mac("00:1b:21:3a:4f"));
        assert!(!usable_mac("garbage"));
    }

    #[test]
    fn dmi_placeholders_identify_nothing() {
        for p in [
            "",
            "To Be Filled By O.E.M.",
            "00000000-0000-0000-0000-000000000000",
            "FFFFFFFF-FFFF-FFFF-FFFF-FFFFFFFFFFFF",
            "Default string",
        ] {
            assert_eq!(dmi_value(p), None, "{p}");
        }
        assert_eq!(
            dmi_value("4C4C4544-0042-3510\n").as_deref(),
            Some("4c4c4544-0042-3510")
        );
    }

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
        // At least 4 of 5.
        let four_of_five = MatchPolicy::Fuzzy {
            max_changed: 1,
            min_matching: 4,
        };
        assert!(
            stored
                .compare(&with(&[("cpu", "x")]), &four_of_five)
                .matches
        );
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
