//! Where device facts come from: the running system, or a fake tree.
//!
//! Fingerprinting and VM detection read everything through a
//! [`SystemSource`], so tests replay fake `/sys`, `/proc` and `/etc` trees
//! (a changed disk, an added network card, a VM, a container, unreadable
//! files) and the same code runs against the real machine.

use std::io;
use std::path::PathBuf;

/// Read-only access to the files that describe a device. Paths are absolute
/// Linux paths such as `/proc/cpuinfo`.
pub trait SystemSource: Send + Sync {
    /// The contents of a text file.
    fn read(&self, path: &str) -> io::Result<String>;
    /// The names of the entries of a directory, sorted.
    fn list(&self, dir: &str) -> io::Result<Vec<String>>;
    /// Whether a path exists (a broken link does not).
    fn exists(&self, path: &str) -> bool;
    /// Where a symbolic link points, as written in the link.
    fn link_target(&self, path: &str) -> io::Result<String>;
    /// The operating system's machine id, if it has a usable one.
    fn machine_uid(&self) -> Option<String> {
        ["/etc/machine-id", "/var/lib/dbus/machine-id"]
            .iter()
            .find_map(|p| self.read(p).ok().and_then(|s| usable_machine_id(&s)))
    }
}

/// A machine id worth using: not empty, not systemd's `uninitialized`
/// placeholder (which the machine-uid crate returns as Ok), not all zeros.
pub fn usable_machine_id(raw: &str) -> Option<String> {
    let id = raw.trim();
    if id.is_empty() || id.eq_ignore_ascii_case("uninitialized") || id.bytes().all(|b| b == b'0') {
        None
    } else {
        Some(id.to_owned())
    }
}

/// A directory tree standing in for `/` (tests, diagnostics of a mounted image).
#[derive(Debug, Clone)]
pub struct TreeSource {
    root: PathBuf,
}

impl TreeSource {
    /// Reads `/x/y` as `root/x/y`.
    pub fn new(root: impl Into<PathBuf>) -> Self {
        TreeSource { root: root.into() }
    }

    fn path(&self, path: &str) -> PathBuf {
        self.root.join(path.trim_start_matches('/'))
    }
}

/// Reads at most 64 KiB of a file: device facts are small, and a fake or
/// hostile tree must not make collection slow.
fn read_small(path: &std::path::Path) -> io::Result<String> {
    let mut bytes = crate::util::read_at_most(path, 64 * 1024)?;
    bytes.truncate(64 * 1024);
    String::from_utf8(bytes).map_err(|_| io::Error::new(io::ErrorKind::InvalidData, "not UTF-8"))
}

fn list_dir(path: &std::path::Path) -> io::Result<Vec<String>> {
    let mut names: Vec<String> = std::fs::read_dir(path)?
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    Ok(names)
}

impl SystemSource for TreeSource {
    fn read(&self, path: &str) -> io::Result<String> {
        read_small(&self.path(path))
    }
    fn list(&self, dir: &str) -> io::Result<Vec<String>> {
        list_dir(&self.path(dir))
    }
    fn exists(&self, path: &str) -> bool {
        self.path(path).exists()
    }
    fn link_target(&self, path: &str) -> io::Result<String> {
        Ok(std::fs::read_link(self.path(path))?
            .to_string_lossy()
            .into_owned())
    }
}

/// The machine this code runs on.
#[derive(Debug, Clone, Copy, Default)]
pub struct HostSource;

impl SystemSource for HostSource {
    fn read(&self, path: &str) -> io::Result<String> {
        read_small(std::path::Path::new(path))
    }
    fn list(&self, dir: &str) -> io::Result<Vec<String>> {
        list_dir(std::path::Path::new(dir))
    }
    fn exists(&self, path: &str) -> bool {
        std::path::Path::new(path).exists()
    }
    fn link_target(&self, path: &str) -> io::Result<String> {
        Ok(std::fs::read_link(path)?.to_string_lossy().into_owned())
    }
    fn machine_uid(&self) -> Option<String> {
        machine_uid::get().ok().and_then(|s| usable_machine_id(&s))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholder_machine_ids_are_rejected() {
        assert_eq!(usable_machine_id(""), None);
        assert_eq!(usable_machine_id("  \n"), None);
        assert_eq!(usable_machine_id("uninitialized\n"), None);
        assert_eq!(usable_machine_id("00000000000000000000000000000000"), None);
        assert_eq!(
            usable_machine_id("3d1219c7c4c5404aaa1f6d2a48adfda4\n").as_deref(),
            Some("3d1219c7c4c5404aaa1f6d2a48adfda4")
        );
    }
}
