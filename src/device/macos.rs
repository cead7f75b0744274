//! macOS: where a fingerprint's facts and the VM evidence come from, read
//! from IOKit's registry (as property dictionaries) and sysctl.
//!
//! Everything reads through a [`MacSource`]: the running Mac (`HostMac`,
//! macOS only) or a [`Recorded`] one, so the rules are tested on every
//! platform from property dumps.
//!
//! | component | source | changes when |
//! |---|---|---|
//! | `machine_id` | `IOPlatformUUID` (IOPlatformExpertDevice) | the logic board is replaced |
//! | `serial_number` | `IOPlatformSerialNumber` | the logic board is replaced |
//! | `mac:<bsd name>` | a built-in Ethernet or Wi-Fi interface (`IOBuiltin`); USB and Thunderbolt adapters are left out | the board is replaced |
//! | `cpu` | `machdep.cpu.brand_string`, `hw.model`, `hw.logicalcpu` | never on one Mac |
//! | `boot_volume_uuid` | the UUID of the volume `/` is mounted from | macOS is reinstalled on an erased disk |
//! | `hostname` | `kern.hostname` | the user renames the Mac, or a network assigns another name |
//! | `os` | `macos` | never (upgrades keep it) |

use std::collections::BTreeMap;

use crate::device::environment::{Environment, Evidence, Isolation};
use crate::device::linux::{dmi_value, format_mac, usable_mac_bytes};
use crate::device::sources::usable_machine_id;

/// An IOKit property value, as far as fingerprints need them.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(untagged)]
pub enum Prop {
    /// A boolean (`IOBuiltin`).
    Bool(bool),
    /// A number.
    Number(i64),
    /// A string (`IOPlatformUUID`, `BSD Name`).
    String(String),
    /// Bytes (`IOMACAddress`), as a list of numbers in a dump.
    Data(Vec<u8>),
}

/// One IOKit registry entry's properties.
pub type Props = BTreeMap<String, Prop>;

/// The facts of a Mac, as its OS answers.
pub trait MacSource: Send + Sync {
    /// The properties of the `IOPlatformExpertDevice` entry.
    fn platform_expert(&self) -> Option<Props>;
    /// Every `IOEthernetInterface` entry's properties, merged with its
    /// controller's (`IOMACAddress`).
    fn network_interfaces(&self) -> Vec<Props>;
    /// The UUID of the volume `/` is mounted from.
    fn boot_volume_uuid(&self) -> Option<String>;
    /// A sysctl string (`machdep.cpu.brand_string`, `hw.model`, `kern.hostname`).
    fn sysctl_string(&self, name: &str) -> Option<String>;
    /// A sysctl integer (`hw.logicalcpu`, `kern.hv_vmm_present`).
    fn sysctl_int(&self, name: &str) -> Option<i64>;
}

/// A Mac's answers, recorded (tests, support diagnostics).
#[derive(Debug, Clone, Default, serde::Serialize, serde::Deserialize)]
pub struct Recorded {
    /// `IOPlatformExpertDevice`'s properties.
    pub platform_expert: Option<Props>,
    /// The network interfaces' properties.
    pub network_interfaces: Vec<Props>,
    /// The boot volume's UUID.
    pub boot_volume_uuid: Option<String>,
    /// sysctl strings by name.
    pub sysctl_strings: BTreeMap<String, String>,
    /// sysctl integers by name.
    pub sysctl_ints: BTreeMap<String, i64>,
}

impl MacSource for Recorded {
    fn platform_expert(&self) -> Option<Props> {
        self.platform_expert.clone()
    }
    fn network_interfaces(&self) -> Vec<Props> {
        self.network_interfaces.clone()
    }
    fn boot_volume_uuid(&self) -> Option<String> {
        self.boot_volume_uuid.clone()
    }
    fn sysctl_string(&self, name: &str) -> Option<String> {
        self.sysctl_strings.get(name).cloned()
    }
    fn sysctl_int(&self, name: &str) -> Option<i64> {
        self.sysctl_ints.get(name).copied()
    }
}

/// The Mac this code runs on.
#[cfg(target_os = "macos")]
#[derive(Debug, Clone, Copy, Default)]
pub struct HostMac;

#[cfg(target_os = "macos")]
impl MacSource for HostMac {
    fn platform_expert(&self) -> Option<Props> {
        tessera_os::darwin::platform_expert().map(convert)
    }
    fn network_interfaces(&self) -> Vec<Props> {
        tessera_os::darwin::network_interfaces()
            .into_iter()
            .map(convert)
            .collect()
    }
    fn boot_volume_uuid(&self) -> Option<String> {
        tessera_os::darwin::boot_volume_uuid()
    }
    fn sysctl_string(&self, name: &str) -> Option<String> {
        tessera_os::darwin::sysctl_string(name)
    }
    fn sysctl_int(&self, name: &str) -> Option<i64> {
        tessera_os::darwin::sysctl_int(name)
    }
}

#[cfg(target_os = "macos")]
fn convert(props: tessera_os::darwin::Props) -> Props {
    use tessera_os::darwin::Value;
    props
        .into_iter()
        .map(|(k, v)| {
            let v = match v {
                Value::Bool(b) => Prop::Bool(b),
                Value::Number(n) => Prop::Number(n),
                Value::String(s) => Prop::String(s),
                Value::Data(d) => Prop::Data(d),
            };
            (k, v)
        })
        .collect()
}

fn string<'a>(props: &'a Props, key: &str) -> Option<&'a str> {
    match props.get(key) {
        Some(Prop::String(s)) => Some(s.trim()),
        _ => None,
    }
}

/// The interfaces that are built into the Mac: Ethernet or Wi-Fi
/// (`en*`), `IOBuiltin` true, with a globally administered unicast address.
/// Returns (BSD name, address).
pub fn builtin_interfaces(interfaces: &[Props]) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = interfaces
        .iter()
        .filter(|p| matches!(p.get("IOBuiltin"), Some(Prop::Bool(true))))
        .filter_map(|p| {
            let name = string(p, "BSD Name")?;
            let Some(Prop::Data(mac)) = p.get("IOMACAddress") else {
                return None;
            };
            (name.starts_with("en") && usable_mac_bytes(mac))
                .then(|| (name.to_owned(), format_mac(mac)))
        })
        .collect();
    out.sort();
    out.dedup_by(|a, b| a.0 == b.0);
    out
}

/// Reads a Mac's raw facts (name, value); hash them before they go anywhere.
pub fn facts(src: &dyn MacSource) -> Vec<(String, String)> {
    let mut out = Vec::new();
    if let Some(pe) = src.platform_expert() {
        if let Some(id) = string(&pe, "IOPlatformUUID").and_then(dmi_value) {
            out.push(("machine_id".to_owned(), id.to_ascii_lowercase()));
        }
        if let Some(serial) = string(&pe, "IOPlatformSerialNumber").and_then(dmi_value) {
            out.push(("serial_number".to_owned(), serial));
        }
    }
    for (name, mac) in builtin_interfaces(&src.network_interfaces()) {
        out.push((format!("mac:{name}"), mac));
    }
    let brand = src.sysctl_string("machdep.cpu.brand_string");
    let model = src.sysctl_string("hw.model");
    if brand.is_some() || model.is_some() {
        let cores = src.sysctl_int("hw.logicalcpu").unwrap_or(0);
        out.push((
            "cpu".to_owned(),
            format!(
                "{}|{}|{cores}",
                brand.unwrap_or_default().trim(),
                model.unwrap_or_default().trim()
            ),
        ));
    }
    if let Some(uuid) = src.boot_volume_uuid().and_then(|u| usable_machine_id(&u)) {
        out.push(("boot_volume_uuid".to_owned(), uuid.to_ascii_lowercase()));
    }
    if let Some(h) = src
        .sysctl_string("kern.hostname")
        .map(|h| h.trim().to_ascii_lowercase())
        .filter(|h| !h.is_empty())
    {
        out.push(("hostname".to_owned(), h));
    }
    out.push(("os".to_owned(), "macos".to_owned()));
    out
}

/// Model names of virtual Macs: VMware, Parallels, Apple's Virtualization
/// framework (`VirtualMac`), QEMU.
const VM_MODELS: [&str; 4] = ["vmware", "parallels", "virtualmac", "qemu"];

/// Runs every macOS check through `src`, naming the evidence.
pub fn detect(src: &dyn MacSource) -> Environment {
    let mut env = Environment::default();
    let mut vm = |detail: String| {
        env.evidence.push(Evidence {
            kind: Isolation::VirtualMachine,
            detail,
        })
    };
    if src.sysctl_int("kern.hv_vmm_present") == Some(1) {
        vm("sysctl kern.hv_vmm_present is 1".to_owned());
    }
    if let Some(features) = src.sysctl_string("machdep.cpu.features") {
        if features.split_whitespace().any(|f| f == "VMM") {
            vm("CPU feature VMM in machdep.cpu.features".to_owned());
        }
    }
    if let Some(model) = src.sysctl_string("hw.model") {
        let lower = model.to_ascii_lowercase();
        if VM_MODELS.iter().any(|m| lower.contains(m)) {
            vm(format!("sysctl hw.model is `{}`", model.trim()));
        }
    }
    if let Some(pe) = src.platform_expert() {
        if let Some(m) = string(&pe, "manufacturer").filter(|m| {
            crate::device::environment::HYPERVISOR_VENDORS
                .iter()
                .any(|h| m.to_ascii_lowercase().contains(h))
        }) {
            vm(format!("IOPlatformExpertDevice manufacturer is `{m}`"));
        }
    }
    env
}
