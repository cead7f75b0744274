//! Activation records and local checks: a license activated on one fake
//! device, then opened there, on a changed device, on another device, and
//! with the clock turned back.
// A test may fail by panicking, and its shared helpers are `pub` to its modules.
#![allow(clippy::unwrap_used, clippy::expect_used, unreachable_pub)]

mod common;

use common::device::FakeDevice;
use common::{at, Setup};
use serde_json::json;
use std::time::Duration;

use tessera::{activate, Error, LicenseHandle, Status};

#[test]
fn an_activated_license_opens_and_checks_on_the_same_device() {
    let s = Setup::new();
    let pc = FakeDevice::physical();
    let config = s.config_on(&pc);
    assert_eq!(
        LicenseHandle::open(&config).unwrap_err(),
        Error::NotActivated
    );

    let record = activate(&config, s.license("time-limited", json!({})).as_bytes()).unwrap();
    assert_eq!(record.activated_at, at("2026-03-01T09:00:00Z"));
    assert_eq!(record.fingerprint, config.fingerprint().unwrap());

    s.clock.advance(Duration::from_secs(86_400 * 30));
    let local = LicenseHandle::open(&config).unwrap();
    assert_eq!(local.check().unwrap(), Status::Valid);
    assert!(local.feature_enabled("export").unwrap());
    assert!(!local.feature_enabled("import").unwrap());
    s.clock.set(at("2027-01-01T00:00:00Z"));
    assert_eq!(local.check().unwrap(), Status::Expired);
    assert!(!local.feature_enabled("export").unwrap());

    // A tolerated hardware change: a new network card.
    let new_nic = pc.clone_tree();
    new_nic.nic("eth0", "00:1b:21:99:99:99", true);
    assert!(LicenseHandle::open(&s.config_on(&new_nic)).is_ok());

    assert!(tessera::activation::direct::deactivate(&config, &record.license_id).unwrap());
    assert_eq!(
        LicenseHandle::open(&config).unwrap_err(),
        Error::NotActivated
    );
}

#[test]
fn the_store_and_license_copied_to_another_device_are_refused() {
    let s = Setup::new();
    let pc = FakeDevice::physical();
    activate(
        &s.config_on(&pc),
        s.license("time-limited", json!({})).as_bytes(),
    )
    .unwrap();

    let thief = FakeDevice::another_physical();
    thief.write("/proc/sys/kernel/hostname", "laptop\n");
    // Same store directory, same license file: refused, and said why.
    let err = LicenseHandle::open(&s.config_on(&thief)).unwrap_err();
    assert_eq!(err, Error::StoreFromOtherDevice);
    assert!(err.to_string().contains("another device"));
}

#[test]
fn a_license_bound_to_one_device_cannot_be_activated_on_another() {
    let s = Setup::new();
    let pc = FakeDevice::physical();
    let bound_to = s.config_on(&pc).fingerprint().unwrap();
    let text = s.license("time-limited", json!({"device": bound_to}));

    let laptop = FakeDevice::physical();
    laptop.write("/etc/machine-id", "1234\n");
    laptop.write(
        "/sys/class/dmi/id/product_uuid",
        "11111111-2222-3333-4444-555555555555\n",
    );
    let elsewhere = tempfile::tempdir().unwrap();
    let mut config = s.config_on(&laptop);
    config.store_dir = Some(elsewhere.path().to_owned());
    match activate(&config, text.as_bytes()).unwrap_err() {
        Error::Unusable { status, reason } => {
            assert_eq!(status, Status::WrongDevice);
            assert!(
                reason.contains("changed: dmi_product_uuid machine_id"),
                "{reason}"
            );
        }
        other => panic!("expected Unusable, got {other:?}"),
    }
    assert!(
        !elsewhere.path().join("state").exists(),
        "a refused activation wrote state"
    );
    // On its own device it works.
    activate(&s.config_on(&pc), text.as_bytes()).unwrap();
    assert_eq!(
        LicenseHandle::open(&s.config_on(&pc))
            .unwrap()
            .check()
            .unwrap(),
        Status::Valid
    );
}

#[test]
fn turning_the_clock_back_is_caught_and_small_steps_are_not() {
    let s = Setup::new();
    let pc = FakeDevice::physical();
    let config = s.config_on(&pc);
    activate(&config, s.license("time-limited", json!({})).as_bytes()).unwrap();

    s.clock.advance(Duration::from_secs(86_400 * 10));
    let local = LicenseHandle::open(&config).unwrap(); // persists the new high-water mark
                                                       // An NTP correction or a DST slip: tolerated.
    s.clock.set_back(Duration::from_secs(59 * 60));
    assert_eq!(local.check().unwrap(), Status::Valid);
    // Two hours back: tampering, in this session...
    s.clock.set_back(Duration::from_secs(61 * 60));
    assert_eq!(
        local.check().unwrap_err(),
        Error::ClockTampered { behind_secs: 7200 }
    );
    // ...and after a restart, because the mark is on disk.
    assert!(matches!(
        LicenseHandle::open(&config).unwrap_err(),
        Error::ClockTampered { behind_secs: 7200 }
    ));
    // Back before the license was even issued.
    s.clock.set(at("2026-02-01"));
    assert!(matches!(
        LicenseHandle::open(&config).unwrap_err(),
        Error::ClockTampered { .. }
    ));
    // Put right, it works again.
    s.clock.set(at("2026-03-11T09:00:00Z"));
    assert_eq!(
        LicenseHandle::open(&config).unwrap().check().unwrap(),
        Status::Valid
    );
}

#[test]
fn the_mark_saved_at_exit_stops_a_rollback_after_restart() {
    let s = Setup::new();
    let pc = FakeDevice::physical();
    let config = s.config_on(&pc);
    activate(&config, s.license("time-limited", json!({})).as_bytes()).unwrap();
    let local = LicenseHandle::open(&config).unwrap();
    // The product runs for a week without reopening.
    s.clock.advance(Duration::from_secs(86_400 * 7));
    assert_eq!(local.check().unwrap(), Status::Valid);
    local.save_clock().unwrap();
    drop(local);
    s.clock.set_back(Duration::from_secs(3 * 86_400));
    assert!(matches!(
        LicenseHandle::open(&config).unwrap_err(),
        Error::ClockTampered { .. }
    ));
}

#[test]
fn prevent_vm_refuses_a_virtual_machine_and_names_the_evidence() {
    let s = Setup::new();
    let vm = FakeDevice::physical();
    vm.write("/sys/class/dmi/id/sys_vendor", "VMware, Inc.\n");
    let text = s.license("time-limited", json!({"prevent_vm": true}));
    match activate(&s.config_on(&vm), text.as_bytes()).unwrap_err() {
        Error::Unusable { status, reason } => {
            assert_eq!(status, Status::VirtualMachine);
            assert!(reason.contains("sys_vendor is `VMware, Inc.`"), "{reason}");
        }
        other => panic!("expected Unusable, got {other:?}"),
    }
    // On bare metal the same license activates; in a container it does not.
    let metal = FakeDevice::physical();
    activate(&s.config_on(&metal), text.as_bytes()).unwrap();
    let container = FakeDevice::physical();
    container.write("/.dockerenv", "");
    let other_store = tempfile::tempdir().unwrap();
    let mut config = s.config_on(&container);
    config.store_dir = Some(other_store.path().to_owned());
    assert!(matches!(
        activate(&config, text.as_bytes()).unwrap_err(),
        Error::Unusable {
            status: Status::VirtualMachine,
            ..
        }
    ));
    // Without prevent_vm, a VM is fine.
    let third_store = tempfile::tempdir().unwrap();
    let mut config = s.config_on(&vm);
    config.store_dir = Some(third_store.path().to_owned());
    activate(&config, s.license("time-limited", json!({})).as_bytes()).unwrap();
}

#[test]
fn a_custom_device_id_replaces_collected_facts() {
    let s = Setup::new();
    let empty = FakeDevice {
        dir: tempfile::tempdir().unwrap(),
    };
    let mut config = s.config_on(&empty);
    assert_eq!(
        config.fingerprint().unwrap_err(),
        Error::FingerprintUnavailable
    );
    config.custom_device_id = Some("i-0abc123".into());
    activate(&config, s.license("time-limited", json!({})).as_bytes()).unwrap();
    assert_eq!(
        LicenseHandle::open(&config).unwrap().check().unwrap(),
        Status::Valid
    );
    config.custom_device_id = Some("i-0abc124".into());
    assert_eq!(
        LicenseHandle::open(&config).unwrap_err(),
        Error::StoreFromOtherDevice
    );
}

/// A test hook's fixed time (the C ABI's `tessera_config_set_fixed_time`)
/// is a clock whose readings never raise the stored mark: one run at a
/// time far ahead must not lock the real clock out afterwards (SECURITY.md,
/// issue 21 finding 7).
#[test]
fn a_fixed_test_time_never_raises_the_stored_clock_mark() {
    struct Fixed(tessera::Time);
    impl tessera::Clock for Fixed {
        fn now(&self) -> tessera::Time {
            self.0
        }
        fn monotonic(&self) -> std::time::Duration {
            std::time::Duration::ZERO
        }
        fn raises_stored_mark(&self) -> bool {
            false
        }
    }
    let s = Setup::new();
    let file = s.license("perpetual", serde_json::json!({}));
    for ahead in ["2026-03-11T09:00:00Z", "9999-01-01T00:00:00Z"] {
        let mut fixed = s.config();
        fixed.clock = std::sync::Arc::new(Fixed(common::at(ahead)));
        tessera::activate(&fixed, file.as_bytes()).unwrap();
        let h = LicenseHandle::open(&fixed).unwrap();
        assert_eq!(h.check().unwrap(), Status::Valid);
        h.save_clock().unwrap();
        drop(h);
        // The real clock, back at today: not `clock_tampered`.
        let h = LicenseHandle::open(&s.config()).unwrap();
        assert_eq!(h.check().unwrap(), Status::Valid, "after a run at {ahead}");
    }
    // A clock that raises the mark (a product's) still catches a rollback.
    let ahead = s.config();
    s.clock.set(common::at("2026-03-11T09:00:00Z"));
    LicenseHandle::open(&ahead).unwrap().save_clock().unwrap();
    s.clock.set(common::at("2026-03-01T09:00:00Z"));
    assert!(matches!(
        LicenseHandle::open(&s.config()),
        Err(tessera::Error::ClockTampered { .. })
    ));
}

/// Issue 21, finding 6: the state is keyed with the vendor secret, so a
/// product without one (or with a short one) cannot activate or open.
#[test]
fn a_product_without_a_vendor_secret_cannot_open_its_state() {
    let s = Setup::new();
    let file = s.license("perpetual", json!({}));
    for secret in [&b""[..], b"fifteen bytes!!"] {
        let mut config = s.config();
        config.secret = secret.to_vec();
        let err = activate(&config, file.as_bytes()).unwrap_err();
        assert!(
            matches!(&err, Error::InvalidArgument(why) if why.contains("vendor secret")),
            "{err}"
        );
        assert!(matches!(
            LicenseHandle::open(&config),
            Err(Error::InvalidArgument(_))
        ));
    }
    let mut config = s.config();
    config.secret = b"sixteen bytes!!!".to_vec();
    activate(&config, file.as_bytes()).unwrap();
    assert_eq!(
        LicenseHandle::open(&config).unwrap().check().unwrap(),
        Status::Valid
    );
}
