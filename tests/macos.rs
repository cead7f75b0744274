//! macOS fingerprints and VM detection from recorded machines: IOKit
//! property dumps and sysctl values of a MacBook Pro and of a virtual Mac
//! (tests/fixtures/macos/), in the shapes `tessera-os` returns them. They
//! run on every platform; the macOS build itself is type-checked by the
//! test command for both Apple targets.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;

use tessera::device::macos::{builtin_interfaces, detect, facts, Prop, Recorded};
use tessera::device::Machine;
use tessera::format::fingerprint::MatchPolicy;

const SALT: &[u8] = b"acme-cad\0test-only salt";

fn recorded(name: &str) -> Recorded {
    let path = format!(
        "{}/tests/fixtures/macos/{name}.json",
        env!("CARGO_MANIFEST_DIR")
    );
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

fn fingerprint(mac: &Recorded) -> tessera::Fingerprint {
    Machine::MacOs(Arc::new(mac.clone()))
        .fingerprint(SALT)
        .unwrap()
}

#[test]
fn a_macbook_yields_every_component_and_only_its_built_in_interfaces() {
    let mac = recorded("macbook-pro");
    let f: Vec<(String, String)> = facts(&mac);
    let names: Vec<&str> = f.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(
        names,
        [
            "machine_id",
            "serial_number",
            "mac:en0",
            "cpu",
            "boot_volume_uuid",
            "hostname",
            "os"
        ]
    );
    let value = |n: &str| {
        f.iter()
            .find(|(k, _)| k == n)
            .map(|(_, v)| v.as_str())
            .unwrap()
    };
    assert_eq!(value("machine_id"), "5b8f2c1e-7a3d-5e9b-a1c4-3f6d8e2b9a70");
    assert_eq!(value("mac:en0"), "3c:22:fb:12:34:56");
    assert_eq!(value("cpu"), "Apple M1 Pro|MacBookPro18,3|10");
    assert!(detect(&mac).evidence.is_empty(), "{:?}", detect(&mac));
}

#[test]
fn thunderbolt_usb_and_awdl_interfaces_are_left_out() {
    let mac = recorded("macbook-pro");
    // en1 and en2 are Thunderbolt bridge ports (not built in), ap1 and
    // awdl0 are built in but locally administered or not `en`.
    assert_eq!(
        builtin_interfaces(&mac.network_interfaces),
        [("en0".to_owned(), "3c:22:fb:12:34:56".to_owned())]
    );
    // A USB Ethernet adapter plugged in later changes nothing.
    let mut docked = mac.clone();
    docked.network_interfaces.push(
        [
            ("BSD Name".to_owned(), Prop::String("en7".to_owned())),
            ("IOBuiltin".to_owned(), Prop::Bool(false)),
            (
                "IOMACAddress".to_owned(),
                Prop::Data(vec![0, 0xe0, 0x4c, 1, 2, 3]),
            ),
        ]
        .into(),
    );
    assert_eq!(fingerprint(&docked), fingerprint(&mac));
}

#[test]
fn a_renamed_mac_still_matches_and_another_mac_does_not() {
    let mac = recorded("macbook-pro");
    let stored = fingerprint(&mac);
    let mut renamed = mac.clone();
    renamed
        .sysctl_strings
        .insert("kern.hostname".to_owned(), "ada-work.local".to_owned());
    assert!(stored.matches(&fingerprint(&renamed), &MatchPolicy::default()));

    let mut other = recorded("macbook-pro");
    other.platform_expert = Some(
        [
            (
                "IOPlatformUUID".to_owned(),
                Prop::String("11111111-2222-4333-8444-555555555555".to_owned()),
            ),
            (
                "IOPlatformSerialNumber".to_owned(),
                Prop::String("C02ZZ9ZZZZZZ".to_owned()),
            ),
        ]
        .into(),
    );
    other.network_interfaces[0].insert(
        "IOMACAddress".to_owned(),
        Prop::Data(vec![0x3c, 0x22, 0xfb, 9, 9, 9]),
    );
    other.boot_volume_uuid = Some("99999999-0000-4000-8000-000000000000".to_owned());
    other.sysctl_strings.insert(
        "kern.hostname".to_owned(),
        "bobs-macbook-pro.local".to_owned(),
    );
    assert!(!stored.matches(&fingerprint(&other), &MatchPolicy::default()));
}

#[test]
fn a_virtual_mac_is_found_with_its_evidence_named() {
    let env = detect(&recorded("virtual-mac"));
    assert!(env.is_virtual_machine());
    let evidence: Vec<String> = env.evidence.iter().map(ToString::to_string).collect();
    assert!(
        evidence
            .iter()
            .any(|e| e.contains("kern.hv_vmm_present is 1")),
        "{evidence:?}"
    );
    assert!(
        evidence.iter().any(|e| e.contains("`VirtualMac2,1`")),
        "{evidence:?}"
    );
}

#[test]
fn placeholders_and_missing_answers_identify_nothing() {
    let mut blank = recorded("macbook-pro");
    blank.platform_expert = Some(
        [
            (
                "IOPlatformUUID".to_owned(),
                Prop::String("00000000-0000-0000-0000-000000000000".to_owned()),
            ),
            (
                "IOPlatformSerialNumber".to_owned(),
                Prop::String("Not Specified".to_owned()),
            ),
        ]
        .into(),
    );
    blank.network_interfaces.clear();
    blank.boot_volume_uuid = None;
    let names: Vec<String> = facts(&blank).into_iter().map(|(n, _)| n).collect();
    assert_eq!(names, ["cpu", "hostname", "os"]);
    let err = Machine::MacOs(Arc::new(blank))
        .fingerprint(SALT)
        .unwrap_err();
    assert_eq!(err.code().name(), "fingerprint_unavailable");
}
