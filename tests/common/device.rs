//! Fake device trees: `/sys`, `/proc`, `/etc` and `/dev` as small real
//! directories, read through `TreeSource`.

use std::path::Path;

use tessera::device::sources::TreeSource;

pub struct FakeDevice {
    pub dir: tempfile::TempDir,
}

impl FakeDevice {
    /// Another physical server: [`FakeDevice::physical`] with every
    /// component that names the machine (machine id, DMI, its NIC) its own.
    pub fn another_physical() -> FakeDevice {
        let d = FakeDevice::physical();
        d.write("/etc/machine-id", "99999999999999999999999999999999\n");
        d.write(
            "/sys/class/dmi/id/product_uuid",
            "11111111-2222-3333-4444-555555555555\n",
        );
        d.write("/sys/class/dmi/id/board_serial", "OTHERBOARD\n");
        d.nic("eth0", "00:1b:21:00:00:01", true);
        d
    }

    /// A physical server: machine id, DMI, one physical NIC beside loopback,
    /// a Docker bridge and a veth, two Intel cores, a root file system with a UUID.
    pub fn physical() -> FakeDevice {
        let d = FakeDevice {
            dir: tempfile::tempdir().unwrap(),
        };
        d.write("/etc/machine-id", "6f1e9a7c2b3d4e5f8091a2b3c4d5e6f7\n");
        d.write(
            "/sys/class/dmi/id/product_uuid",
            "4C4C4544-0042-3510-8052-B4C04F4E3332\n",
        );
        d.write(
            "/sys/class/dmi/id/board_serial",
            "/7X2Z3Y2/CN1296345A01AB/\n",
        );
        d.write("/sys/class/dmi/id/sys_vendor", "Dell Inc.\n");
        d.write("/sys/class/dmi/id/product_name", "PowerEdge R650\n");
        d.nic("eth0", "00:1b:21:3a:4f:5e", true);
        d.nic("lo", "00:00:00:00:00:00", false);
        d.nic("docker0", "02:42:ac:11:00:01", false);
        d.write(
            "/sys/devices/virtual/net/docker0/bridge/bridge_id",
            "8000.0242ac110001\n",
        );
        d.nic("veth1a2b3c", "9a:3f:01:02:03:04", false);
        d.write(
            "/proc/cpuinfo",
            "processor\t: 0\nvendor_id\t: GenuineIntel\nmodel name\t: Intel(R) Xeon(R) Gold 6338\nflags\t\t: fpu vme sse2\n\n\
             processor\t: 1\nvendor_id\t: GenuineIntel\nmodel name\t: Intel(R) Xeon(R) Gold 6338\nflags\t\t: fpu vme sse2\n",
        );
        d.write("/proc/sys/kernel/hostname", "build-01\n");
        d.write(
            "/etc/os-release",
            "PRETTY_NAME=\"Debian GNU/Linux 12\"\nID=debian\nVERSION_ID=\"12\"\n",
        );
        d.write(
            "/proc/self/mountinfo",
            "22 1 8:1 / / rw,relatime shared:1 - ext4 /dev/sda1 rw\n23 22 0:5 / /proc rw - proc proc rw\n",
        );
        d.write("/proc/1/cgroup", "0::/init.scope\n");
        d.link(
            "/dev/disk/by-uuid/5b2c7a1e-8f3d-4c6b-9e0a-1d2f3a4b5c6d",
            "../../sda1",
        );
        d.link(
            "/dev/disk/by-uuid/0c1d2e3f-aaaa-bbbb-cccc-dddddddddddd",
            "../../sdb1",
        );
        d
    }

    pub fn path(&self, p: &str) -> std::path::PathBuf {
        self.dir.path().join(p.trim_start_matches('/'))
    }

    pub fn write(&self, p: &str, contents: &str) {
        let path = self.path(p);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, contents).unwrap();
    }

    pub fn remove(&self, p: &str) {
        let path = self.path(p);
        if path.is_dir() {
            std::fs::remove_dir_all(path).unwrap();
        } else {
            std::fs::remove_file(path).unwrap();
        }
    }

    pub fn link(&self, p: &str, target: &str) {
        let path = self.path(p);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        let _ = std::fs::remove_file(&path);
        symlink(target, &path);
    }

    /// A network interface as sysfs shows it: physical ones under a PCI
    /// device with a `device` link, virtual ones under /sys/devices/virtual.
    pub fn nic(&self, name: &str, mac: &str, physical: bool) {
        let dev = if physical {
            format!("/sys/devices/pci0000:00/0000:00:1f.6/net/{name}")
        } else {
            format!("/sys/devices/virtual/net/{name}")
        };
        self.write(&format!("{dev}/address"), &format!("{mac}\n"));
        self.write(&format!("{dev}/type"), "1\n");
        if physical {
            std::fs::create_dir_all(self.path(&format!("{dev}/device"))).unwrap();
        }
        self.link(
            &format!("/sys/class/net/{name}"),
            &format!("../../{}", dev.trim_start_matches("/sys/")),
        );
    }

    pub fn source(&self) -> TreeSource {
        TreeSource::new(self.dir.path())
    }

    /// A copy of this tree, to change without touching the original.
    pub fn clone_tree(&self) -> FakeDevice {
        let copy = FakeDevice {
            dir: tempfile::tempdir().unwrap(),
        };
        copy_tree(self.dir.path(), copy.dir.path());
        copy
    }
}

fn copy_tree(from: &Path, to: &Path) {
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        let ty = entry.file_type().unwrap();
        if ty.is_symlink() {
            symlink(std::fs::read_link(entry.path()).unwrap(), &target);
        } else if ty.is_dir() {
            std::fs::create_dir_all(&target).unwrap();
            copy_tree(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), target).unwrap();
        }
    }
}

/// A symbolic link, as sysfs has them. Windows (wine) makes directory links
/// it cannot read back, so the Linux trees' tests run on Unix only.
#[cfg(unix)]
fn symlink(target: impl AsRef<Path>, path: &Path) {
    std::os::unix::fs::symlink(target, path).unwrap();
}

#[cfg(windows)]
fn symlink(target: impl AsRef<Path>, path: &Path) {
    std::os::windows::fs::symlink_dir(target, path).unwrap();
}
