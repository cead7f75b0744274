//! Device fingerprints: what ties a license to one machine.
//!
//! A fingerprint is a set of named components, each an HMAC-SHA256 of one
//! device fact keyed by a per-product salt (so no raw serial number leaves
//! the device, and two vendors' fingerprints of one machine are unrelated),
//! plus a summary id over all of them. Components on Linux:
//!
//! | name | source |
//! |---|---|
//! | `machine_id` | the OS machine id (`/etc/machine-id`, through machine-uid); in a container whose runtime did not mount it from the host, the image's id with the container's host name (see below) |
//! | `dmi_product_uuid`, `dmi_board_serial` | `/sys/class/dmi/id/*`, where readable |
//! | `mac:<interface>` | each physical network interface (no loopback, bridge, veth, docker, tun/tap, VPN, virtual or locally administered address) |
//! | `cpu` | vendor, model name and core count from `/proc/cpuinfo` |
//! | `root_fs_uuid` | the UUID of the file system mounted at `/` |
//! | `hostname` | `/proc/sys/kernel/hostname` |
//! | `os` | `ID` from `/etc/os-release` |
//!
//! A container image usually ships its own `/etc/machine-id`, the same in
//! every container made from it: as the machine id it would make all of
//! them one device (issue 34, finding 5). Inside a container (crate::device::environment)
//! whose runtime did not mount `/etc/machine-id` from the host, the id is
//! taken together with the container's host name, which runtimes set per
//! container (Docker: the container id; Kubernetes: the pod name), so the
//! containers of one image differ; without a host name it names nothing.
//! Containers given the same host name explicitly still match: they take a
//! custom device id (docs/DEVICE.md).
//!
//! A fact that cannot be read is left out; collection fails only when no
//! component at all can be read. The value collected, and how a stored one
//! is matched against it, is [`crate::format::fingerprint`].

use crate::device::sources::SystemSource;
use crate::error::{Error, Result};

use crate::format::fingerprint::Fingerprint;

/// Reads this device's raw facts (name, value). The values are device
/// serials and addresses: hash them ([`Fingerprint::from_facts`]) before they
/// are stored, printed or sent anywhere.
pub fn facts(src: &dyn SystemSource) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let hostname = src
        .read("/proc/sys/kernel/hostname")
        .or_else(|_| src.read("/etc/hostname"))
        .ok()
        .map(|s| s.trim().to_owned())
        .filter(|s| !s.is_empty());
    if let Some(id) = src.machine_uid() {
        match image_machine_id(src) {
            // The image's id names no machine; with the container's host
            // name it names the container.
            true => match &hostname {
                Some(h) => out.push(("machine_id".to_owned(), format!("{id}\n{h}"))),
                None => out.push(("image_machine_id".to_owned(), id)),
            },
            false => out.push(("machine_id".to_owned(), id)),
        }
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
    if let Some(h) = hostname {
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

/// Whether `/etc/machine-id` is a container image's own: inside a
/// container, and not mounted there from the host (a runtime that shares
/// the host's id mounts the file; /proc/self/mountinfo shows it).
fn image_machine_id(src: &dyn SystemSource) -> bool {
    if !crate::device::environment::detect(src).is_container() {
        return false;
    }
    let mounted = src.read("/proc/self/mountinfo").is_ok_and(|info| {
        info.lines()
            .any(|l| l.split_whitespace().nth(4) == Some("/etc/machine-id"))
    });
    !mounted
}

/// Collects this device's fingerprint, salted with `salt` ([`product_salt`](crate::format::fingerprint::product_salt)).
pub fn collect(src: &dyn SystemSource, salt: &[u8]) -> Result<Fingerprint> {
    from_facts(&facts(src), salt)
}

/// A fingerprint of raw facts, refused when none of them names this
/// machine.
pub(crate) fn from_facts(facts: &[(String, String)], salt: &[u8]) -> Result<Fingerprint> {
    // Without one component that names this machine (a container, most
    // often), the fingerprint would be the same on every machine of its
    // kind: refused, and the product sets a custom device id instead
    // (docs/DEVICE.md).
    if !facts
        .iter()
        .any(|(name, _)| crate::format::fingerprint::is_identifying(name))
    {
        return Err(Error::FingerprintUnavailable);
    }
    Ok(Fingerprint::from_facts(
        salt,
        facts.iter().map(|(n, v)| (n.as_str(), v.as_str())),
    ))
}

/// Collects the fingerprint of the machine this code runs on, on any of
/// the three platforms ([`crate::device::Machine::host`]).
pub fn collect_host(salt: &[u8]) -> Result<Fingerprint> {
    crate::device::Machine::host().fingerprint(salt)
}

/// DMI files hold placeholders on many boards; those identify nothing.
pub(crate) fn dmi_value(raw: &str) -> Option<String> {
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
    mac.len() == 17 && usable_mac_bytes(&bytes)
}

/// Six bytes of a globally administered unicast address that is not all
/// zeros: the one rule for a card's address on every platform.
pub(crate) fn usable_mac_bytes(mac: &[u8]) -> bool {
    mac.len() == 6
        && mac.iter().any(|&b| b != 0)
        && mac[0] & 0x02 == 0 // locally administered (random, VPN, VM-assigned)
        && mac[0] & 0x01 == 0 // multicast
}

/// An address as Linux shows it: lowercase hex pairs joined by `:`.
pub(crate) fn format_mac(mac: &[u8]) -> String {
    mac.iter()
        .map(|b| format!("{b:02x}"))
        .collect::<Vec<_>>()
        .join(":")
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
}
