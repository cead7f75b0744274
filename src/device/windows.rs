//! Windows: where a fingerprint's facts and the VM evidence come from, and
//! how they are read from the raw answers of the OS (the SMBIOS table, the
//! adapter list, CPUID, the registry).
//!
//! Everything reads through a [`WindowsSource`]: the running machine
//! (`HostWindows`, Windows only) or a [`Recorded`] one, so the parsers and
//! rules are tested on every platform from fixtures.
//!
//! | component | source | changes when |
//! |---|---|---|
//! | `machine_id` | `MachineGuid` (HKLM\SOFTWARE\Microsoft\Cryptography, through machine-uid) | Windows is reinstalled or the image is sysprepped; rarely a feature update |
//! | `dmi_product_uuid` | SMBIOS type 1 UUID | the mainboard is replaced |
//! | `dmi_board_serial` | SMBIOS type 2 serial | the mainboard is replaced |
//! | `mac:<adapter guid>` | a PCI Ethernet or Wi-Fi adapter's address | the card is replaced, or its driver reinstalled (a new GUID) |
//! | `cpu` | CPUID vendor and brand, logical processors | the CPU is replaced; cores disabled in firmware |
//! | `system_volume` | the serial of the volume Windows boots from | the volume is formatted (a reinstall, a new disk) |
//! | `hostname` | the computer's DNS host name | the computer is renamed |
//! | `os` | `windows` and the edition (`Professional`) | the edition is upgraded (Home to Pro); not by feature updates |
//!
//! All of them are readable by a normal user, so an administrator and a
//! user see the same fingerprint. USB, Bluetooth, virtual, VPN and tunnel
//! adapters are never components, so plugging one in or installing a VPN
//! changes nothing. Under the default match policy a feature update (at
//! worst a new `machine_id`), a rename or a replaced network card is one
//! change and still matches.

use crate::device::environment::{Environment, Evidence, Isolation, HYPERVISOR_VENDORS};
use crate::device::linux::{dmi_value, format_mac, usable_mac_bytes};
use crate::device::sources::usable_machine_id;
pub use tessera_os::{Adapter, Cpuid, Volume};

/// The facts of a Windows machine, as its OS answers. Each method asks one
/// question; `None` or empty means the OS would not say.
pub trait WindowsSource: Send + Sync {
    /// `MachineGuid`.
    fn machine_guid(&self) -> Option<String>;
    /// The raw SMBIOS data of `GetSystemFirmwareTable('RSMB')`.
    fn smbios(&self) -> Option<Vec<u8>>;
    /// Every network adapter.
    fn adapters(&self) -> Vec<Adapter>;
    /// The volume Windows boots from.
    fn system_volume(&self) -> Option<Volume>;
    /// CPUID's vendor, brand and hypervisor leaves.
    fn cpuid(&self) -> Option<Cpuid>;
    /// Logical processors.
    fn logical_cpus(&self) -> usize;
    /// The DNS host name.
    fn host_name(&self) -> Option<String>;
    /// `EditionID` (HKLM\SOFTWARE\Microsoft\Windows NT\CurrentVersion).
    fn edition(&self) -> Option<String>;
    /// Whether a service or driver of this name is installed.
    fn service_installed(&self, name: &str) -> bool;
}

/// A machine's answers, recorded: for tests, and for diagnosing a support
/// case from what a customer's machine reported.
#[derive(Debug, Clone, Default)]
pub struct Recorded {
    /// `MachineGuid`.
    pub machine_guid: Option<String>,
    /// The raw SMBIOS data.
    pub smbios: Option<Vec<u8>>,
    /// The adapters.
    pub adapters: Vec<Adapter>,
    /// The system volume.
    pub system_volume: Option<Volume>,
    /// CPUID.
    pub cpuid: Option<Cpuid>,
    /// Logical processors.
    pub logical_cpus: usize,
    /// The host name.
    pub host_name: Option<String>,
    /// The edition.
    pub edition: Option<String>,
    /// Installed services and drivers.
    pub services: Vec<String>,
}

impl WindowsSource for Recorded {
    fn machine_guid(&self) -> Option<String> {
        self.machine_guid.clone()
    }
    fn smbios(&self) -> Option<Vec<u8>> {
        self.smbios.clone()
    }
    fn adapters(&self) -> Vec<Adapter> {
        self.adapters.clone()
    }
    fn system_volume(&self) -> Option<Volume> {
        self.system_volume.clone()
    }
    fn cpuid(&self) -> Option<Cpuid> {
        self.cpuid.clone()
    }
    fn logical_cpus(&self) -> usize {
        self.logical_cpus
    }
    fn host_name(&self) -> Option<String> {
        self.host_name.clone()
    }
    fn edition(&self) -> Option<String> {
        self.edition.clone()
    }
    fn service_installed(&self, name: &str) -> bool {
        self.services.iter().any(|s| s.eq_ignore_ascii_case(name))
    }
}

/// The Windows machine this code runs on.
#[cfg(windows)]
#[derive(Debug, Clone, Copy, Default)]
pub struct HostWindows;

#[cfg(windows)]
impl WindowsSource for HostWindows {
    fn machine_guid(&self) -> Option<String> {
        machine_uid::get().ok()
    }
    fn smbios(&self) -> Option<Vec<u8>> {
        tessera_os::win32::smbios().ok()
    }
    fn adapters(&self) -> Vec<Adapter> {
        tessera_os::win32::adapters().unwrap_or_default()
    }
    fn system_volume(&self) -> Option<Volume> {
        tessera_os::win32::system_volume().ok()
    }
    fn cpuid(&self) -> Option<Cpuid> {
        tessera_os::cpuid()
    }
    fn logical_cpus(&self) -> usize {
        std::thread::available_parallelism().map_or(0, usize::from)
    }
    fn host_name(&self) -> Option<String> {
        tessera_os::win32::host_name()
    }
    fn edition(&self) -> Option<String> {
        tessera_os::win32::registry_string(
            r"SOFTWARE\Microsoft\Windows NT\CurrentVersion",
            "EditionID",
        )
    }
    fn service_installed(&self, name: &str) -> bool {
        tessera_os::win32::service_installed(name)
    }
}

/// Reads a Windows machine's raw facts (name, value); hash them before
/// they go anywhere ([`crate::Fingerprint::from_facts`]).
pub fn facts(src: &dyn WindowsSource) -> Vec<(String, String)> {
    let mut out = Vec::new();
    if let Some(id) = src.machine_guid().and_then(|g| usable_machine_id(&g)) {
        out.push(("machine_id".to_owned(), id.to_ascii_lowercase()));
    }
    if let Some(table) = src.smbios().and_then(|raw| Smbios::parse(&raw)) {
        if let Some(uuid) = table.system_uuid {
            out.push(("dmi_product_uuid".to_owned(), uuid));
        }
        if let Some(serial) = table.board_serial.as_deref().and_then(dmi_value) {
            out.push(("dmi_board_serial".to_owned(), serial));
        }
    }
    for a in src.adapters() {
        if is_physical(&a) {
            let guid = a.name.trim_matches(['{', '}']).to_ascii_lowercase();
            out.push((format!("mac:{guid}"), format_mac(&a.mac)));
        }
    }
    if let Some(c) = src.cpuid() {
        out.push((
            "cpu".to_owned(),
            format!("{}|{}|{}", c.vendor, c.brand, src.logical_cpus()),
        ));
    }
    if let Some(v) = src.system_volume().filter(|v| v.serial != 0) {
        out.push(("system_volume".to_owned(), format!("{:08x}", v.serial)));
    }
    if let Some(h) = src.host_name().map(|h| h.trim().to_ascii_lowercase()) {
        if !h.is_empty() {
            out.push(("hostname".to_owned(), h));
        }
    }
    let edition = src.edition().map(|e| e.trim().to_ascii_lowercase());
    let os = match edition.filter(|e| !e.is_empty()) {
        Some(e) => format!("windows|{e}"),
        None => "windows".to_owned(),
    };
    out.push(("os".to_owned(), os));
    out
}

/// IANA interface types a physical card reports: Ethernet and Wi-Fi.
const IF_TYPE_ETHERNET: u32 = 6;
const IF_TYPE_WIFI: u32 = 71;

/// Device buses of adapters built into the machine. `USB\`, `BTH\`,
/// `ROOT\` and `SWD\` (software devices: Hyper-V, VPN and WAN miniports,
/// Wi-Fi Direct) are left out, as is an adapter without a PnP id.
const FIXED_BUSES: [&str; 2] = ["PCI\\", "ACPI\\"];

/// Words in a driver's description that mark a virtual or tunnel adapter,
/// whatever bus it claims.
const VIRTUAL_WORDS: [&str; 17] = [
    "virtual",
    "vpn",
    "hyper-v",
    "vmware",
    "virtualbox",
    "tap-",
    "wan miniport",
    "bluetooth",
    "loopback",
    "teredo",
    "isatap",
    "wireguard",
    "tailscale",
    "zerotier",
    "npcap",
    "wi-fi direct",
    "kernel debug",
];

/// The OUIs (first three bytes) of hypervisors' virtual network cards.
pub const VM_OUIS: [([u8; 3], &str); 11] = [
    ([0x00, 0x05, 0x69], "VMware"),
    ([0x00, 0x0c, 0x29], "VMware"),
    ([0x00, 0x1c, 0x14], "VMware"),
    ([0x00, 0x50, 0x56], "VMware"),
    ([0x08, 0x00, 0x27], "VirtualBox"),
    ([0x0a, 0x00, 0x27], "VirtualBox"),
    ([0x00, 0x15, 0x5d], "Hyper-V"),
    ([0x00, 0x1c, 0x42], "Parallels"),
    ([0x00, 0x16, 0x3e], "Xen"),
    ([0x52, 0x54, 0x00], "QEMU/KVM"),
    ([0x00, 0x03, 0xff], "Microsoft Virtual PC"),
];

fn vm_oui(mac: &[u8]) -> Option<&'static str> {
    VM_OUIS
        .iter()
        .find(|(oui, _)| mac.starts_with(oui))
        .map(|(_, name)| *name)
}

/// Whether an adapter is a network card built into this machine: Ethernet
/// or Wi-Fi, on a fixed bus, not virtual by its description or its OUI,
/// with a globally administered unicast address.
pub fn is_physical(a: &Adapter) -> bool {
    let description = a.description.to_ascii_lowercase();
    let on_fixed_bus = a.pnp_instance_id.as_deref().is_some_and(|id| {
        FIXED_BUSES
            .iter()
            .any(|bus| id.to_ascii_uppercase().starts_with(bus))
    });
    matches!(a.if_type, IF_TYPE_ETHERNET | IF_TYPE_WIFI)
        && on_fixed_bus
        && !VIRTUAL_WORDS.iter().any(|w| description.contains(w))
        && vm_oui(&a.mac).is_none()
        && usable_mac_bytes(&a.mac)
}

/// Guest services and drivers that hypervisors install (the VMware Tools,
/// VirtualBox's Guest Additions, Xen's and QEMU's agents, virtio drivers).
/// Hyper-V's own integration services are installed on every Windows, so
/// they are not evidence.
const VM_SERVICES: [(&str, &str); 11] = [
    ("VMTools", "VMware Tools"),
    ("vmhgfs", "VMware shared folders"),
    ("VBoxGuest", "VirtualBox Guest Additions"),
    ("VBoxService", "VirtualBox Guest Additions"),
    ("xenbus", "Xen PV drivers"),
    ("xensvc", "Xen guest agent"),
    ("QEMU-GA", "QEMU guest agent"),
    ("vioscsi", "virtio SCSI driver"),
    ("netkvm", "virtio network driver"),
    ("BalloonService", "virtio balloon service"),
    ("prl_tg", "Parallels Tools"),
];

/// Runs every Windows check through `src`, naming the evidence.
pub fn detect(src: &dyn WindowsSource) -> Environment {
    let mut env = Environment::default();
    let mut push = |kind, detail: String| env.evidence.push(Evidence { kind, detail });
    if let Some(c) = src.cpuid().filter(|c| c.hypervisor) {
        // Windows with virtualization-based security runs its own
        // Hyper-V beneath itself on bare metal: "Microsoft Hv" alone is
        // not a virtual machine; the firmware strings below decide.
        if c.hypervisor_vendor != "Microsoft Hv" {
            push(
                Isolation::VirtualMachine,
                format!(
                    "CPUID hypervisor bit set, hypervisor `{}`",
                    c.hypervisor_vendor
                ),
            );
        }
    }
    if let Some(table) = src.smbios().and_then(|raw| Smbios::parse(&raw)) {
        for (what, value) in [
            ("system manufacturer", &table.system_manufacturer),
            ("system product", &table.system_product),
            ("BIOS vendor", &table.bios_vendor),
            ("board manufacturer", &table.board_manufacturer),
        ] {
            let Some(v) = value else { continue };
            let lower = v.to_ascii_lowercase();
            let hyperv = what == "system product" && lower == "virtual machine";
            if hyperv || HYPERVISOR_VENDORS.iter().any(|h| lower.contains(h)) {
                push(Isolation::VirtualMachine, format!("SMBIOS {what} is `{v}`"));
            }
        }
    }
    for a in src.adapters() {
        // A guest's emulated card sits on its virtual PCI bus; the host's
        // own virtual switches (VMnet, vEthernet) are software devices and
        // say nothing about where this OS runs.
        let on_pci = a
            .pnp_instance_id
            .as_deref()
            .is_some_and(|id| id.to_ascii_uppercase().starts_with("PCI\\"));
        if let (true, Some(vendor)) = (on_pci, vm_oui(&a.mac)) {
            push(
                Isolation::VirtualMachine,
                format!(
                    "network adapter `{}` has a {vendor} address ({})",
                    a.description,
                    format_mac(&a.mac[..3])
                ),
            );
        }
    }
    for (service, what) in VM_SERVICES {
        if src.service_installed(service) {
            push(
                Isolation::VirtualMachine,
                format!("service `{service}` ({what}) is installed"),
            );
        }
    }
    // The container execution agent exists only inside Windows containers.
    if src.service_installed("cexecsvc") {
        push(
            Isolation::Container,
            "service `cexecsvc` (the Windows container agent) is installed".to_owned(),
        );
    }
    env
}

/// The strings of an SMBIOS table that identify a machine and its maker.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Smbios {
    /// Type 0: the BIOS vendor.
    pub bios_vendor: Option<String>,
    /// Type 1: the system's manufacturer.
    pub system_manufacturer: Option<String>,
    /// Type 1: the system's product name.
    pub system_product: Option<String>,
    /// Type 1: the system's serial number.
    pub system_serial: Option<String>,
    /// Type 1: the system UUID, lowercase, in the byte order of SMBIOS 2.6
    /// and later (as Linux shows it); `None` when all zeros or all ones.
    pub system_uuid: Option<String>,
    /// Type 2: the baseboard's manufacturer.
    pub board_manufacturer: Option<String>,
    /// Type 2: the baseboard's serial number.
    pub board_serial: Option<String>,
}

impl Smbios {
    /// Parses `GetSystemFirmwareTable('RSMB')` data: an 8-byte header whose
    /// last four bytes are the table's length, then the table. Refuses
    /// (`None`) a header that claims more than the buffer holds; a
    /// structure cut short ends the walk with what was read before it.
    pub fn parse(raw: &[u8]) -> Option<Smbios> {
        let len = u32::from_le_bytes(raw.get(4..8)?.try_into().ok()?) as usize;
        let table = raw.get(8..8usize.checked_add(len)?)?;
        let mut out = Smbios::default();
        let mut rest = table;
        while let Some(&[kind, formatted_len, ..]) = rest.get(..2) {
            let formatted_len = usize::from(formatted_len);
            if formatted_len < 4 || rest.len() < formatted_len {
                break;
            }
            let formatted = &rest[..formatted_len];
            let strings_end = match string_set_end(&rest[formatted_len..]) {
                Some(end) => formatted_len + end,
                None => break,
            };
            let strings = &rest[formatted_len..strings_end];
            let text = |offset: usize| string_at(formatted, strings, offset);
            match kind {
                0 => out.bios_vendor = text(4),
                1 => {
                    out.system_manufacturer = text(4);
                    out.system_product = text(5);
                    out.system_serial = text(7);
                    out.system_uuid = formatted.get(8..24).and_then(uuid);
                }
                2 => {
                    out.board_manufacturer = text(4);
                    out.board_serial = text(7);
                }
                127 => break,
                _ => {}
            }
            rest = &rest[strings_end..];
        }
        Some(out)
    }
}

/// Where a structure's string set ends (after its double NUL), counted from
/// the set's start.
fn string_set_end(set: &[u8]) -> Option<usize> {
    set.windows(2).position(|w| w == [0, 0]).map(|p| p + 2)
}

/// The string a structure's byte at `offset` points to (1-based; 0 is none).
fn string_at(formatted: &[u8], strings: &[u8], offset: usize) -> Option<String> {
    let index = usize::from(*formatted.get(offset)?);
    if index == 0 {
        return None;
    }
    let s = strings.split(|&b| b == 0).nth(index - 1)?;
    let s = String::from_utf8_lossy(s).trim().to_owned();
    (!s.is_empty()).then_some(s)
}

fn uuid(b: &[u8]) -> Option<String> {
    if b.iter().all(|&x| x == 0) || b.iter().all(|&x| x == 0xff) {
        return None;
    }
    Some(format!(
        "{:02x}{:02x}{:02x}{:02x}-{:02x}{:02x}-{:02x}{:02x}-{:02x}{:02x}-{:02x}{:02x}{:02x}{:02x}{:02x}{:02x}",
        b[3], b[2], b[1], b[0], b[5], b[4], b[7], b[6], b[8], b[9], b[10], b[11], b[12], b[13], b[14], b[15]
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_truncated_or_lying_header_is_refused_and_a_cut_structure_ends_the_walk() {
        assert_eq!(Smbios::parse(&[]), None);
        assert_eq!(Smbios::parse(&[0, 3, 4, 0, 0xff, 0xff, 0xff, 0xff]), None);
        // A structure claiming 200 formatted bytes in a 10-byte table.
        let raw = [0, 3, 4, 0, 10, 0, 0, 0, 1, 200, 0, 0, 0, 0, 0, 0, 0, 0];
        assert_eq!(Smbios::parse(&raw), Some(Smbios::default()));
    }

    #[test]
    fn the_uuid_has_smbios_byte_order_and_placeholders_are_none() {
        let b: Vec<u8> = (0u8..16).collect();
        assert_eq!(
            uuid(&b).as_deref(),
            Some("03020100-0504-0706-0809-0a0b0c0d0e0f")
        );
        assert_eq!(uuid(&[0; 16]), None);
        assert_eq!(uuid(&[0xff; 16]), None);
    }
}
