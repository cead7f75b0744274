//! Linux fingerprints and VM/container detection over fake device trees,
//! and once over this machine. Unix only: the trees are made of sysfs's
//! symbolic links, which wine makes but cannot read back; Windows's own
//! sources are tested in tests/windows.rs.
#![cfg(unix)]
// A test may fail by panicking, and its shared helpers are `pub` to its modules.
#![allow(clippy::unwrap_used, clippy::expect_used, unreachable_pub)]

mod common;

use common::device::FakeDevice;
use tessera::device::environment::{detect, Isolation};
use tessera::device::linux::{collect, collect_host, facts};
use tessera::device::sources::HostSource;
use tessera::format::fingerprint::MatchPolicy;
use tessera::Error;

const SALT: &[u8] = b"acme-cad\0";

fn names(d: &FakeDevice) -> Vec<String> {
    collect(&d.source(), SALT)
        .unwrap()
        .components
        .into_keys()
        .collect()
}

#[test]
fn a_physical_machine_yields_every_component_and_only_physical_nics() {
    let d = FakeDevice::physical();
    assert_eq!(
        names(&d),
        [
            "cpu",
            "dmi_board_serial",
            "dmi_product_uuid",
            "hostname",
            "mac:eth0",
            "machine_id",
            "os",
            "root_fs_uuid"
        ]
    );
    let raw = facts(&d.source());
    let value = |n: &str| {
        raw.iter()
            .find(|(k, _)| k == n)
            .map(|(_, v)| v.clone())
            .unwrap()
    };
    assert_eq!(value("cpu"), "GenuineIntel|Intel(R) Xeon(R) Gold 6338|2");
    assert_eq!(
        value("root_fs_uuid"),
        "5b2c7a1e-8f3d-4c6b-9e0a-1d2f3a4b5c6d"
    );
    assert_eq!(value("os"), "debian");
    // No raw value appears in the fingerprint.
    let fp = serde_json::to_string(&collect(&d.source(), SALT).unwrap()).unwrap();
    for (_, v) in &raw {
        assert!(!fp.contains(v.as_str()), "raw value {v} leaked");
    }
    assert!(
        detect(&d.source()).evidence.is_empty(),
        "{:?}",
        detect(&d.source())
    );
}

#[test]
fn virtual_and_locally_administered_interfaces_are_left_out() {
    let d = FakeDevice::physical();
    d.nic("tun0", "00:aa:bb:cc:dd:ee", false);
    d.nic("wg0", "00:aa:bb:cc:dd:ef", true);
    d.nic("enp3s0", "02:00:00:00:00:01", true); // locally administered
    d.nic("enp4s0", "00:1b:21:3a:4f:60", true);
    d.write(
        "/sys/devices/pci0000:00/0000:00:1f.6/net/enp5s0/tun_flags",
        "0x1002\n",
    );
    d.nic("enp5s0", "00:1b:21:3a:4f:61", true);
    let macs: Vec<String> = names(&d)
        .into_iter()
        .filter(|n| n.starts_with("mac:"))
        .collect();
    assert_eq!(macs, ["mac:enp4s0", "mac:eth0"]);
}

#[test]
fn one_hardware_change_is_tolerated_two_are_not() {
    let before = FakeDevice::physical();
    let stored = collect(&before.source(), SALT).unwrap();
    let policy = MatchPolicy::default();

    let new_nic = before.clone_tree();
    new_nic.nic("eth0", "00:1b:21:99:99:99", true);
    let c = stored.compare(&collect(&new_nic.source(), SALT).unwrap(), &policy);
    assert!(c.matches, "{c}");
    assert_eq!(c.changed, ["mac:eth0"]);

    let renamed = before.clone_tree();
    renamed.write("/proc/sys/kernel/hostname", "build-02\n");
    assert!(
        stored
            .compare(&collect(&renamed.source(), SALT).unwrap(), &policy)
            .matches
    );

    let added = before.clone_tree();
    added.nic("eth1", "00:1b:21:3a:4f:77", true);
    let c = stored.compare(&collect(&added.source(), SALT).unwrap(), &policy);
    assert!(c.matches && c.added == ["mac:eth1"], "{c}");

    let both = new_nic.clone_tree();
    both.write("/proc/sys/kernel/hostname", "build-02\n");
    let c = stored.compare(&collect(&both.source(), SALT).unwrap(), &policy);
    assert!(!c.matches);
    assert_eq!(
        c.to_string(),
        "does not match: 6 matching, changed: hostname mac:eth0"
    );

    let new_board = before.clone_tree();
    new_board.write(
        "/sys/class/dmi/id/product_uuid",
        "4C4C4544-0000-1111-2222-333333333333\n",
    );
    new_board.write("/sys/class/dmi/id/board_serial", "/NEWBOARD/\n");
    assert!(
        !stored
            .compare(&collect(&new_board.source(), SALT).unwrap(), &policy)
            .matches
    );
    assert!(
        !stored
            .compare(
                &collect(&renamed.source(), SALT).unwrap(),
                &MatchPolicy::Exact
            )
            .matches
    );
}

#[test]
fn missing_unreadable_and_placeholder_files_are_left_out() {
    let d = FakeDevice::physical();
    d.remove("/sys/class/dmi");
    // A directory where a file should be cannot be read, even by root.
    d.remove("/proc/sys/kernel/hostname");
    std::fs::create_dir_all(d.path("/proc/sys/kernel/hostname")).unwrap();
    d.write("/etc/machine-id", "uninitialized\n");
    d.remove("/dev/disk/by-uuid");
    assert_eq!(names(&d), ["cpu", "mac:eth0", "os"]);

    d.remove("/sys");
    d.remove("/proc");
    assert_eq!(
        collect(&d.source(), SALT).unwrap_err(),
        Error::FingerprintUnavailable
    );
}

#[test]
fn a_virtual_machine_is_detected_with_its_evidence() {
    let d = FakeDevice::physical();
    d.write("/sys/class/dmi/id/sys_vendor", "QEMU\n");
    d.write(
        "/proc/cpuinfo",
        "processor\t: 0\nvendor_id\t: GenuineIntel\nflags\t\t: fpu hypervisor\n",
    );
    let env = detect(&d.source());
    assert!(env.is_virtual_machine() && !env.is_container());
    let details: Vec<String> = env.evidence.iter().map(|e| e.to_string()).collect();
    assert_eq!(
        details,
        [
            "virtual machine: CPUID hypervisor bit set (flag `hypervisor` in /proc/cpuinfo)",
            "virtual machine: /sys/class/dmi/id/sys_vendor is `QEMU`"
        ]
    );
    let hyperv = FakeDevice::physical();
    hyperv.write("/sys/class/dmi/id/sys_vendor", "Microsoft Corporation\n");
    hyperv.write("/sys/class/dmi/id/product_name", "Virtual Machine\n");
    assert!(detect(&hyperv.source()).is_virtual_machine());
}

#[test]
fn a_container_is_detected_with_its_evidence() {
    let docker = FakeDevice::physical();
    docker.write("/.dockerenv", "");
    docker.write("/proc/1/cgroup", "0::/system.slice/docker-3f2a.scope\n");
    docker.write(
        "/proc/self/mountinfo",
        "600 500 0:50 / / rw,relatime - overlay overlay rw,lowerdir=/var/lib/docker/overlay2/l/ABC\n",
    );
    let env = detect(&docker.source());
    assert!(env.is_container() && !env.is_virtual_machine());
    assert_eq!(env.evidence.len(), 3, "{:?}", env.evidence);
    assert!(env.evidence.iter().all(|e| e.kind == Isolation::Container));

    let podman = FakeDevice::physical();
    podman.write("/run/.containerenv", "engine=\"podman\"\n");
    assert!(detect(&podman.source()).is_container());
    let k8s = FakeDevice::physical();
    k8s.write("/proc/1/cgroup", "12:memory:/kubepods/besteffort/pod1234\n");
    assert!(detect(&k8s.source()).is_container());
}

#[test]
fn this_machine_yields_a_stable_fingerprint() {
    let first = collect_host(SALT).expect("this machine has readable device facts");
    let second = collect_host(SALT).unwrap();
    assert_eq!(first, second);
    assert!(
        first.components.contains_key("machine_id")
            || first.components.contains_key("dmi_product_uuid")
    );
    assert!(first.components.contains_key("cpu"));
    let env = detect(&HostSource);
    // Whatever this machine is, every finding names its evidence.
    for e in &env.evidence {
        assert!(!e.detail.is_empty());
    }
    eprintln!(
        "this machine: {} components; {:?}",
        first.components.len(),
        env.evidence
    );
}

/// A container of an image (issue 21, finding 9): CPU, host name and OS
/// only, the same in every container of that image on that CPU model. No
/// fingerprint is made from that; the product sets a custom id (from the
/// orchestrator, docs/DEVICE.md) and then activates.
#[test]
fn a_machine_with_nothing_that_names_it_gets_no_fingerprint() {
    let d = FakeDevice::physical();
    d.remove("/sys/class/dmi");
    d.remove("/sys/class/net");
    d.remove("/etc/machine-id");
    d.remove("/dev/disk/by-uuid");
    let found: Vec<String> = facts(&d.source()).into_iter().map(|(n, _)| n).collect();
    assert_eq!(found, ["cpu", "hostname", "os"]);
    assert_eq!(
        collect(&d.source(), SALT).unwrap_err(),
        Error::FingerprintUnavailable
    );
    let mut config = tessera::LocalConfig::new("acme-cad", tessera::Keyring::new());
    config.machine = d.source().into();
    assert_eq!(
        config.fingerprint().unwrap_err(),
        Error::FingerprintUnavailable
    );
    config.custom_device_id = Some("pod-7f3a from the orchestrator".into());
    assert!(config.fingerprint().is_ok());
}

/// Issue 34, finding 5: containers of one image matched each other when the
/// image shipped its own `/etc/machine-id`, which counted as naming the
/// machine. Inside a container, an id the runtime did not mount from the
/// host is taken with the container's host name.
#[test]
fn containers_of_one_image_are_not_one_device() {
    let container = |hostname: Option<&str>| {
        let d = FakeDevice::physical();
        d.remove("/sys/class/dmi");
        d.remove("/sys/class/net");
        d.remove("/dev/disk/by-uuid");
        d.write("/.dockerenv", "");
        d.write("/etc/machine-id", "0a1b2c3d4e5f60718293a4b5c6d7e8f9\n");
        match hostname {
            Some(h) => d.write("/proc/sys/kernel/hostname", &format!("{h}\n")),
            None => d.remove("/proc/sys/kernel/hostname"),
        }
        d
    };
    let policy = MatchPolicy::default();
    let a = container(Some("3f2a9c1b7e10"));
    let b = container(Some("9d8e7f6a5b4c"));
    let fa = collect(&a.source(), SALT).unwrap();
    let fb = collect(&b.source(), SALT).unwrap();
    assert!(
        !fa.matches(&fb, &policy),
        "two containers of one image matched"
    );
    assert!(!fb.matches(&fa, &policy));
    // The same container, read again, is itself.
    assert!(fa.matches(&collect(&a.source(), SALT).unwrap(), &policy));

    // A runtime that mounts the host's machine id: that id names the host,
    // and two containers on one host are one machine, as intended.
    let mounted = "36 35 98:0 /etc/machine-id /etc/machine-id ro,relatime - ext4 /dev/root rw\n";
    a.write("/proc/self/mountinfo", mounted);
    b.write("/proc/self/mountinfo", mounted);
    let (ha, hb) = (
        collect(&a.source(), SALT).unwrap(),
        collect(&b.source(), SALT).unwrap(),
    );
    assert_eq!(
        ha.components.get("machine_id"),
        hb.components.get("machine_id")
    );

    // Without a host name the image's id names nothing: no fingerprint (a
    // custom device id, docs/DEVICE.md).
    let nameless = container(None);
    let found: Vec<String> = facts(&nameless.source())
        .into_iter()
        .map(|(n, _)| n)
        .collect();
    assert!(found.contains(&"image_machine_id".to_owned()), "{found:?}");
    assert_eq!(
        collect(&nameless.source(), SALT).unwrap_err(),
        Error::FingerprintUnavailable
    );

    // A physical machine keeps its id as it was.
    let host = FakeDevice::physical();
    let id = |f: &tessera::Fingerprint| f.components.get("machine_id").cloned();
    let before = collect(&host.source(), SALT).unwrap();
    assert!(id(&before).is_some());
}
