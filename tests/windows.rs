//! Windows fingerprints and VM detection from recorded machines: SMBIOS
//! tables laid out as DMTF DSP0134 defines them, adapter lists as
//! `GetAdaptersAddresses` and the registry report them. These run on every
//! platform; under wine the last test reads the real (wine) machine.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use tessera::device::windows::{detect, facts, Adapter, Cpuid, Recorded, Volume};
use tessera::device::Machine;
use tessera::format::fingerprint::{Fingerprint, MatchPolicy};

const SALT: &[u8] = b"acme-cad\0test-only salt";

/// One SMBIOS structure: header (type, length, handle), the formatted
/// bytes after the header, and its strings.
fn structure(kind: u8, handle: u16, formatted: &[u8], strings: &[&str]) -> Vec<u8> {
    let mut s = vec![kind, (4 + formatted.len()) as u8];
    s.extend(handle.to_le_bytes());
    s.extend(formatted);
    for text in strings {
        s.extend(text.as_bytes());
        s.push(0);
    }
    if strings.is_empty() {
        s.push(0);
    }
    s.push(0);
    s
}

/// `GetSystemFirmwareTable('RSMB')` data for a machine: BIOS (type 0),
/// system (1), baseboard (2), end (127).
fn smbios(
    bios_vendor: &str,
    maker: &str,
    product: &str,
    uuid: [u8; 16],
    board_serial: &str,
) -> Vec<u8> {
    let mut table = Vec::new();
    // Type 0: vendor, version, start segment, release date, ROM size, characteristics.
    table.extend(structure(
        0,
        0,
        &[1, 2, 0, 0xf0, 3, 0xff, 0, 0, 0, 0, 0, 0, 0, 0],
        &[bios_vendor, "1.21.0", "07/14/2025"],
    ));
    // Type 1: manufacturer, product, version, serial, UUID, wake-up, SKU, family.
    let mut system = vec![1, 2, 3, 4];
    system.extend(uuid);
    system.extend([6, 5, 6]);
    table.extend(structure(
        1,
        1,
        &system,
        &[maker, product, "1.0", "SYS-SERIAL-1", "SKU", "Family"],
    ));
    // Type 2: manufacturer, product, version, serial, asset tag, features, location, chassis, type, handles.
    table.extend(structure(
        2,
        2,
        &[1, 2, 3, 4, 0, 1, 0, 3, 0, 0x0a, 0],
        &[maker, "0XYZ12", "A00", board_serial],
    ));
    table.extend(structure(127, 3, &[], &[]));
    let mut raw = vec![0, 3, 4, 0];
    raw.extend((table.len() as u32).to_le_bytes());
    raw.extend(table);
    raw
}

fn adapter(guid: &str, description: &str, if_type: u32, mac: [u8; 6], pnp: &str) -> Adapter {
    Adapter {
        name: format!("{{{guid}}}"),
        friendly_name: description.to_owned(),
        description: description.to_owned(),
        if_type,
        mac: mac.to_vec(),
        pnp_instance_id: (!pnp.is_empty()).then(|| pnp.to_owned()),
    }
}

/// A Dell laptop: Intel Ethernet and Wi-Fi on PCI, and what Windows adds
/// on top (loopback, Bluetooth PAN, a Hyper-V switch, Wi-Fi Direct).
fn laptop() -> Recorded {
    Recorded {
        machine_guid: Some("9c1d4a3e-55f0-4b7e-8f3a-2d6c9e1b7a40".to_owned()),
        smbios: Some(smbios(
            "Dell Inc.",
            "Dell Inc.",
            "Latitude 7440",
            [
                0x44, 0x45, 0x4c, 0x4c, 0x42, 0x00, 0x10, 0x35, 0x80, 0x4a, 0xb4, 0xc0, 0x4f, 0x53,
                0x33, 0x32,
            ],
            "/7YZ4K33/CNCMK0039L001A/",
        )),
        adapters: vec![
            adapter(
                "1A2B3C4D-0000-4000-8000-000000000001",
                "Intel(R) Ethernet Connection (16) I219-LM",
                6,
                [0x6c, 0x3c, 0x8c, 0x12, 0x34, 0x56],
                r"PCI\VEN_8086&DEV_1A1E&SUBSYS_0B101028&REV_11\3&11583659&0&FE",
            ),
            adapter(
                "1A2B3C4D-0000-4000-8000-000000000002",
                "Intel(R) Wi-Fi 6E AX211 160MHz",
                71,
                [0x10, 0x91, 0xd1, 0xab, 0xcd, 0xef],
                r"PCI\VEN_8086&DEV_51F1&SUBSYS_00948086&REV_01\3&11583659&0&A3",
            ),
            adapter(
                "1A2B3C4D-0000-4000-8000-000000000003",
                "Software Loopback Interface 1",
                24,
                [0; 6],
                "",
            ),
            adapter(
                "1A2B3C4D-0000-4000-8000-000000000004",
                "Bluetooth Device (Personal Area Network)",
                6,
                [0x10, 0x91, 0xd1, 0xab, 0xcd, 0xf3],
                r"BTH\MS_BTHPAN\6&2B8B9F2&0&2",
            ),
            adapter(
                "1A2B3C4D-0000-4000-8000-000000000005",
                "Hyper-V Virtual Ethernet Adapter",
                6,
                [0x00, 0x15, 0x5d, 0x01, 0x02, 0x03],
                r"ROOT\VMS_MP\0000",
            ),
            adapter(
                "1A2B3C4D-0000-4000-8000-000000000006",
                "Microsoft Wi-Fi Direct Virtual Adapter",
                71,
                [0x12, 0x91, 0xd1, 0xab, 0xcd, 0xef],
                r"SWD\MSRRAS\MS_NDISWANIP",
            ),
        ],
        system_volume: Some(Volume {
            serial: 0x5a3c_9e21,
            guid_path: Some(r"\\?\Volume{0b6a7c1d-0000-0000-0000-100000000000}\".to_owned()),
        }),
        cpuid: Some(Cpuid {
            vendor: "GenuineIntel".to_owned(),
            brand: "13th Gen Intel(R) Core(TM) i7-1365U".to_owned(),
            hypervisor: false,
            hypervisor_vendor: String::new(),
        }),
        logical_cpus: 12,
        host_name: Some("ADA-LAPTOP".to_owned()),
        edition: Some("Professional".to_owned()),
        services: vec!["vmicheartbeat".to_owned(), "Dnscache".to_owned()],
    }
}

fn fingerprint(machine: &Recorded) -> Fingerprint {
    Machine::Windows(std::sync::Arc::new(machine.clone()))
        .fingerprint(SALT)
        .unwrap()
}

fn names(machine: &Recorded) -> Vec<String> {
    facts(machine).into_iter().map(|(n, _)| n).collect()
}

#[test]
fn a_laptop_yields_every_component_and_only_its_built_in_cards() {
    assert_eq!(
        names(&laptop()),
        [
            "machine_id",
            "dmi_product_uuid",
            "dmi_board_serial",
            "mac:1a2b3c4d-0000-4000-8000-000000000001",
            "mac:1a2b3c4d-0000-4000-8000-000000000002",
            "cpu",
            "system_volume",
            "hostname",
            "os",
        ]
    );
    let f: std::collections::BTreeMap<String, String> = facts(&laptop()).into_iter().collect();
    // SMBIOS 2.6+ byte order, as Linux shows the same machine's UUID.
    assert_eq!(
        f["dmi_product_uuid"],
        "4c4c4544-0042-3510-804a-b4c04f533332"
    );
    assert_eq!(f["dmi_board_serial"], "/7yz4k33/cncmk0039l001a/");
    assert_eq!(
        f["mac:1a2b3c4d-0000-4000-8000-000000000001"],
        "6c:3c:8c:12:34:56"
    );
    assert_eq!(
        f["cpu"],
        "GenuineIntel|13th Gen Intel(R) Core(TM) i7-1365U|12"
    );
    assert_eq!(f["system_volume"], "5a3c9e21");
    assert_eq!(f["os"], "windows|professional");
}

#[test]
fn a_rename_a_vpn_a_usb_card_or_a_feature_update_still_match_and_another_machine_does_not() {
    let policy = MatchPolicy::default();
    let stored = fingerprint(&laptop());

    let mut renamed = laptop();
    renamed.host_name = Some("ADA-WORK".to_owned());
    assert!(stored.matches(&fingerprint(&renamed), &policy));

    // A VPN client's adapter (TAP, a software device) and WireGuard's tunnel.
    let mut vpn = laptop();
    vpn.adapters.push(adapter(
        "77770000-0000-4000-8000-000000000001",
        "TAP-Windows Adapter V9",
        6,
        [0x00, 0xff, 0x3a, 0x11, 0x22, 0x33],
        r"ROOT\NET\0000",
    ));
    vpn.adapters.push(adapter(
        "77770000-0000-4000-8000-000000000002",
        "WireGuard Tunnel",
        53,
        [0; 6],
        r"SWD\WIREGUARD\{X}",
    ));
    assert_eq!(
        fingerprint(&vpn),
        stored,
        "a VPN adapter is not a component"
    );

    // A USB Ethernet dongle: a real card, but one that comes and goes.
    let mut usb = laptop();
    usb.adapters.push(adapter(
        "88880000-0000-4000-8000-000000000001",
        "Realtek USB GbE Family Controller",
        6,
        [0x00, 0xe0, 0x4c, 0x68, 0x01, 0x02],
        r"USB\VID_0BDA&PID_8153\000001",
    ));
    assert_eq!(
        fingerprint(&usb),
        stored,
        "a USB adapter is not a component"
    );

    // A feature update that regenerated MachineGuid: one change.
    let mut updated = laptop();
    updated.machine_guid = Some("0f0e0d0c-1111-4222-8333-444455556666".to_owned());
    assert!(stored.matches(&fingerprint(&updated), &policy));

    // Two changes (renamed and a new Wi-Fi card) are one too many.
    let mut both = renamed.clone();
    both.adapters[1].mac = vec![0x10, 0x91, 0xd1, 0x00, 0x00, 0x01];
    assert!(!stored.matches(&fingerprint(&both), &policy));

    // Another laptop of the same model, same Windows, same CPU.
    let mut other = laptop();
    other.machine_guid = Some("aaaaaaaa-bbbb-4ccc-8ddd-eeeeeeeeeeee".to_owned());
    other.smbios = Some(smbios(
        "Dell Inc.",
        "Dell Inc.",
        "Latitude 7440",
        [7; 16],
        "/9QQ1K33/CNCMK0039L0099/",
    ));
    other.adapters[0].mac = vec![0x6c, 0x3c, 0x8c, 0x99, 0x99, 0x99];
    other.adapters[1].mac = vec![0x10, 0x91, 0xd1, 0x99, 0x99, 0x99];
    other.system_volume = Some(Volume {
        serial: 0x1234_5678,
        guid_path: None,
    });
    other.host_name = Some("BOB-LAPTOP".to_owned());
    assert!(!stored.matches(&fingerprint(&other), &policy));
}

#[test]
fn firmware_placeholders_and_a_lying_table_identify_nothing() {
    let mut oem = laptop();
    oem.smbios = Some(smbios(
        "American Megatrends Inc.",
        "To Be Filled By O.E.M.",
        "To Be Filled By O.E.M.",
        [0; 16],
        "To be filled by O.E.M.",
    ));
    let n = names(&oem);
    assert!(!n.contains(&"dmi_product_uuid".to_owned()), "{n:?}");
    assert!(!n.contains(&"dmi_board_serial".to_owned()), "{n:?}");

    let mut all_ones = laptop();
    all_ones.smbios = Some(smbios("AMI", "OEM", "OEM", [0xff; 16], "Default string"));
    assert!(!names(&all_ones).contains(&"dmi_product_uuid".to_owned()));

    // A table whose header claims more than the buffer holds, and one cut
    // in the middle of a structure: no SMBIOS component, no panic.
    let mut lying = laptop();
    let mut raw = smbios("Dell Inc.", "Dell Inc.", "X", [1; 16], "S");
    raw[4..8].copy_from_slice(&u32::MAX.to_le_bytes());
    lying.smbios = Some(raw.clone());
    assert!(!names(&lying).contains(&"dmi_product_uuid".to_owned()));
    for cut in 0..raw.len() {
        let mut truncated = laptop();
        let mut r = smbios("Dell Inc.", "Dell Inc.", "X", [1; 16], "S");
        r.truncate(cut);
        truncated.smbios = Some(r);
        let _ = facts(&truncated);
    }

    // Nothing that names the machine (a container image): refused.
    let bare = Recorded {
        cpuid: laptop().cpuid,
        logical_cpus: 4,
        host_name: Some("container".to_owned()),
        ..Recorded::default()
    };
    let err = Machine::Windows(std::sync::Arc::new(bare))
        .fingerprint(SALT)
        .unwrap_err();
    assert_eq!(err.code().name(), "fingerprint_unavailable");
}

#[test]
fn a_vmware_guest_is_found_with_every_piece_of_evidence_named() {
    let mut guest = laptop();
    guest.smbios = Some(smbios(
        "Phoenix Technologies LTD",
        "VMware, Inc.",
        "VMware7,1",
        [9; 16],
        "None",
    ));
    guest.cpuid = Some(Cpuid {
        vendor: "GenuineIntel".to_owned(),
        brand: "Intel(R) Xeon(R) Gold 6248".to_owned(),
        hypervisor: true,
        hypervisor_vendor: "VMwareVMware".to_owned(),
    });
    guest.adapters = vec![adapter(
        "C0FFEE00-0000-4000-8000-000000000001",
        "vmxnet3 Ethernet Adapter",
        6,
        [0x00, 0x50, 0x56, 0xa1, 0xb2, 0xc3],
        r"PCI\VEN_15AD&DEV_07B0&SUBSYS_07B015AD&REV_01\FF565000A1B2C3FE00",
    )];
    guest.services.push("VMTools".to_owned());
    let env = detect(&guest);
    assert!(env.is_virtual_machine());
    let evidence: Vec<String> = env.evidence.iter().map(ToString::to_string).collect();
    for expected in [
        "hypervisor `VMwareVMware`",
        "SMBIOS system manufacturer is `VMware, Inc.`",
        "VMware address (00:50:56)",
        "service `VMTools`",
    ] {
        assert!(
            evidence.iter().any(|e| e.contains(expected)),
            "{expected} in {evidence:?}"
        );
    }
    // The guest's virtual card is not a fingerprint component either.
    assert!(!names(&guest).iter().any(|n| n.starts_with("mac:")));
}

#[test]
fn hyper_v_guests_are_found_but_hyper_v_hosts_and_vbs_are_not() {
    let mut guest = laptop();
    guest.smbios = Some(smbios(
        "Microsoft Corporation",
        "Microsoft Corporation",
        "Virtual Machine",
        [5; 16],
        "None",
    ));
    let env = detect(&guest);
    assert!(env.is_virtual_machine(), "{env:?}");
    assert!(env
        .evidence
        .iter()
        .any(|e| e.detail.contains("`Virtual Machine`")));

    // Bare metal with virtualization-based security: Windows runs on its
    // own hypervisor, CPUID says "Microsoft Hv", and a Hyper-V virtual
    // switch exists. None of that is a virtual machine.
    let mut vbs = laptop();
    vbs.cpuid = Some(Cpuid {
        hypervisor: true,
        hypervisor_vendor: "Microsoft Hv".to_owned(),
        ..laptop().cpuid.unwrap()
    });
    // A workstation that runs VMware: its host-only adapters carry
    // VMware's OUI but are software devices.
    vbs.adapters.push(adapter(
        "99990000-0000-4000-8000-000000000001",
        "VMware Virtual Ethernet Adapter for VMnet8",
        6,
        [0x00, 0x50, 0x56, 0xc0, 0x00, 0x08],
        r"ROOT\VMWARE\0001",
    ));
    assert_eq!(detect(&vbs).evidence, Vec::new());
    assert_eq!(detect(&laptop()).evidence, Vec::new());
}

#[test]
fn a_windows_container_is_found_by_its_agent() {
    let mut container = laptop();
    container.services.push("cexecsvc".to_owned());
    assert!(detect(&container).is_container());
}

/// The machine this runs on, when it is Windows (under wine in the test
/// command): a fingerprint with at least four components, twice the same,
/// and the environment's evidence, printed for the closing note.
#[cfg(windows)]
#[test]
fn the_windows_host_has_a_stable_fingerprint_and_named_evidence() {
    let host = Machine::host();
    let first = host
        .fingerprint(SALT)
        .expect("this machine has device facts");
    let second = host.fingerprint(SALT).unwrap();
    assert_eq!(first, second);
    let components: Vec<&String> = first.components.keys().collect();
    println!("components: {components:?}");
    assert!(components.len() >= 4, "{components:?}");
    println!("environment: {:?}", host.environment());
}
