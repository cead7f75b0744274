//! The operating-system calls of the Tessera SDK that the standard library
//! does not make. The SDK's core forbids `unsafe`; what a platform offers
//! only through its C API (the SMBIOS table, the network adapters, the
//! system volume's id, an owner-only ACL, IOKit's registry) is asked here,
//! one question per function, and returned as owned plain data. Every
//! decision about that data is the core's (`tessera::device`), where it is
//! tested from recorded fixtures on any platform.
//!
//! On a platform without a module here, the core reads Linux's files or
//! reports the fact as unavailable.

#![deny(unsafe_op_in_unsafe_fn)]

#[cfg(target_os = "macos")]
pub mod darwin;
#[cfg(windows)]
pub mod win32;

/// A network adapter as Windows lists it (`GetAdaptersAddresses`), with the
/// Plug and Play instance id of its device from the registry.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Adapter {
    /// The adapter's GUID name (`{4D36...}`).
    pub name: String,
    /// The name the user sees ("Ethernet", "Wi-Fi"), which the user may change.
    pub friendly_name: String,
    /// The driver's description ("Intel(R) Ethernet Connection I219-LM").
    pub description: String,
    /// The IANA interface type (6 Ethernet, 71 Wi-Fi, 24 loopback, 131 tunnel, ...).
    pub if_type: u32,
    /// The hardware address, as long as the adapter reports it.
    pub mac: Vec<u8>,
    /// The device's PnP instance id (`PCI\VEN_8086&...`, `USB\VID_...`,
    /// `ROOT\...`, `SWD\...`), where the registry has one.
    pub pnp_instance_id: Option<String>,
}

/// The volume the operating system boots from.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Volume {
    /// The file system's serial number (set when the volume is formatted).
    pub serial: u32,
    /// The volume's GUID path (`\\?\Volume{...}\`), where the OS has one.
    pub guid_path: Option<String>,
}

/// What CPUID says about the processor (x86 and x86-64; `None` elsewhere).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Cpuid {
    /// The vendor string of leaf 0 ("GenuineIntel", "AuthenticAMD").
    pub vendor: String,
    /// The brand string of leaves 0x80000002..4, where the CPU has one.
    pub brand: String,
    /// Leaf 1, ECX bit 31: a hypervisor runs this OS.
    pub hypervisor: bool,
    /// The hypervisor's vendor string of leaf 0x40000000 ("KVMKVMKVM",
    /// "VMwareVMware", "Microsoft Hv"), when the bit is set.
    pub hypervisor_vendor: String,
}

/// Reads CPUID (safe: the instruction exists on every x86-64 CPU).
#[cfg(target_arch = "x86_64")]
pub fn cpuid() -> Option<Cpuid> {
    use std::arch::x86_64::__cpuid;
    let regs_text = |regs: &[u32]| -> String {
        let bytes: Vec<u8> = regs.iter().flat_map(|r| r.to_le_bytes()).collect();
        String::from_utf8_lossy(&bytes)
            .trim_matches(|c: char| c == '\0' || c.is_whitespace())
            .to_owned()
    };
    let leaf0 = __cpuid(0);
    let vendor = regs_text(&[leaf0.ebx, leaf0.edx, leaf0.ecx]);
    let hypervisor = leaf0.eax >= 1 && __cpuid(1).ecx & (1 << 31) != 0;
    let hypervisor_vendor = if hypervisor {
        let h = __cpuid(0x4000_0000);
        regs_text(&[h.ebx, h.ecx, h.edx])
    } else {
        String::new()
    };
    let brand = if __cpuid(0x8000_0000).eax >= 0x8000_0004 {
        let mut regs = Vec::with_capacity(12);
        for leaf in 0x8000_0002..=0x8000_0004u32 {
            let r = __cpuid(leaf);
            regs.extend([r.eax, r.ebx, r.ecx, r.edx]);
        }
        regs_text(&regs)
    } else {
        String::new()
    };
    Some(Cpuid {
        vendor,
        brand,
        hypervisor,
        hypervisor_vendor,
    })
}

/// Reads CPUID (safe: the instruction exists on every x86-64 CPU).
#[cfg(not(target_arch = "x86_64"))]
pub fn cpuid() -> Option<Cpuid> {
    None
}
