//! Virtual machine and container detection, for licenses with `prevent_vm`.
//!
//! Every finding names its evidence (which file said what), so a false
//! positive can be diagnosed from a support ticket.

use std::fmt;

use crate::device::sources::SystemSource;

/// What kind of isolation a finding points to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Isolation {
    /// A hypervisor: KVM, VMware, Hyper-V, Xen, VirtualBox, a cloud instance.
    VirtualMachine,
    /// A container: Docker, Podman, Kubernetes, LXC.
    Container,
}

/// One piece of evidence.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Evidence {
    /// What it points to.
    pub kind: Isolation,
    /// Where it was found and what it said, for people.
    pub detail: String,
}

impl fmt::Display for Evidence {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let kind = match self.kind {
            Isolation::VirtualMachine => "virtual machine",
            Isolation::Container => "container",
        };
        write!(f, "{kind}: {}", self.detail)
    }
}

/// What detection found; empty means bare metal as far as can be told.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Environment {
    /// Every finding, in the order the checks ran.
    pub evidence: Vec<Evidence>,
}

impl Environment {
    /// Whether anything points to a VM or a container.
    pub fn is_isolated(&self) -> bool {
        !self.evidence.is_empty()
    }

    /// Whether anything points to a virtual machine.
    pub fn is_virtual_machine(&self) -> bool {
        self.evidence
            .iter()
            .any(|e| e.kind == Isolation::VirtualMachine)
    }

    /// Whether anything points to a container.
    pub fn is_container(&self) -> bool {
        self.evidence.iter().any(|e| e.kind == Isolation::Container)
    }
}

pub(crate) const HYPERVISOR_VENDORS: [&str; 14] = [
    "qemu",
    "kvm",
    "vmware",
    "virtualbox",
    "innotek",
    "xen",
    "bochs",
    "parallels",
    "bhyve",
    "amazon ec2",
    "google compute engine",
    "openstack",
    "cloud hypervisor",
    "firecracker",
];

const CONTAINER_CGROUP_MARKERS: [&str; 6] =
    ["docker", "kubepods", "containerd", "lxc", "libpod", "crio"];

/// Runs every check through `src`.
pub fn detect(src: &dyn SystemSource) -> Environment {
    let mut env = Environment::default();
    let mut vm = |detail: String| {
        env.evidence.push(Evidence {
            kind: Isolation::VirtualMachine,
            detail,
        })
    };

    // The CPUID hypervisor bit (leaf 1, ECX bit 31), as the kernel reports it.
    if let Ok(info) = src.read("/proc/cpuinfo") {
        let flagged = info
            .lines()
            .filter(|l| l.starts_with("flags"))
            .any(|l| l.split_whitespace().any(|f| f == "hypervisor"));
        if flagged {
            vm("CPUID hypervisor bit set (flag `hypervisor` in /proc/cpuinfo)".to_owned());
        }
    }
    for file in [
        "sys_vendor",
        "product_name",
        "bios_vendor",
        "board_vendor",
        "chassis_vendor",
    ] {
        let path = format!("/sys/class/dmi/id/{file}");
        if let Ok(value) = src.read(&path) {
            let v = value.trim();
            let lower = v.to_ascii_lowercase();
            let hyperv = file == "product_name" && lower == "virtual machine";
            if hyperv || HYPERVISOR_VENDORS.iter().any(|h| lower.contains(h)) {
                vm(format!("{path} is `{v}`"));
            }
        }
    }
    if let Ok(t) = src.read("/sys/hypervisor/type") {
        if !t.trim().is_empty() {
            vm(format!("/sys/hypervisor/type is `{}`", t.trim()));
        }
    }

    let mut container = |detail: String| {
        env.evidence.push(Evidence {
            kind: Isolation::Container,
            detail,
        })
    };
    if src.exists("/.dockerenv") {
        container("/.dockerenv exists (Docker)".to_owned());
    }
    if src.exists("/run/.containerenv") {
        container("/run/.containerenv exists (Podman)".to_owned());
    }
    if let Ok(cgroup) = src.read("/proc/1/cgroup") {
        if let Some(line) = cgroup
            .lines()
            .find(|l| CONTAINER_CGROUP_MARKERS.iter().any(|m| l.contains(m)))
        {
            container(format!("/proc/1/cgroup has `{}`", line.trim()));
        }
    }
    if let Ok(mountinfo) = src.read("/proc/self/mountinfo") {
        if let Some(line) = mountinfo.lines().find(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            let root = f.len() > 4 && f[4] == "/";
            let fstype = l
                .split(" - ")
                .nth(1)
                .and_then(|t| t.split_whitespace().next());
            root && fstype == Some("overlay")
                || l.contains("/docker/containers/")
                || l.contains("/containerd/")
        }) {
            container(format!("/proc/self/mountinfo has `{}`", line.trim()));
        }
    }
    env
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn evidence_reads_for_people() {
        let e = Evidence {
            kind: Isolation::Container,
            detail: "/.dockerenv exists (Docker)".into(),
        };
        assert_eq!(e.to_string(), "container: /.dockerenv exists (Docker)");
    }
}
