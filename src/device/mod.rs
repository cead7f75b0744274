//! The device a license is bound to: its fingerprint and where its facts
//! come from, virtual machine and container detection, and hardware keys
//! (docs/DEVICE.md).

internal_mods!(environment, hardware, linux, macos, sources, windows);

pub use environment::{Environment, Evidence, Isolation};
pub use hardware::HardwareToken;
#[cfg(feature = "pkcs11")]
#[cfg_attr(docsrs, doc(cfg(feature = "pkcs11")))]
pub use hardware::Pkcs11Token;
pub use macos::{MacSource, Prop};
pub use sources::SystemSource;
pub use windows::WindowsSource;

use std::sync::Arc;

use crate::error::Result;
use crate::format::fingerprint::Fingerprint;

/// A machine to read device facts from, by the way its platform tells
/// them: files (Linux), the firmware table, adapters and registry
/// (Windows), IOKit and sysctl (macOS). [`Machine::host`] is the running
/// machine; tests and diagnostics pass a fake tree or a recorded machine.
#[derive(Clone)]
pub enum Machine {
    /// Linux: `/sys`, `/proc` and `/etc`, or a tree standing in for them.
    Files(Arc<dyn SystemSource>),
    /// Windows.
    Windows(Arc<dyn WindowsSource>),
    /// macOS.
    MacOs(Arc<dyn MacSource>),
}

impl std::fmt::Debug for Machine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Machine::Files(_) => "Machine::Files",
            Machine::Windows(_) => "Machine::Windows",
            Machine::MacOs(_) => "Machine::MacOs",
        })
    }
}

impl Machine {
    /// The machine this code runs on.
    pub fn host() -> Machine {
        #[cfg(windows)]
        {
            Machine::Windows(Arc::new(windows::HostWindows))
        }
        #[cfg(target_os = "macos")]
        {
            Machine::MacOs(Arc::new(macos::HostMac))
        }
        #[cfg(not(any(windows, target_os = "macos")))]
        {
            Machine::Files(Arc::new(sources::HostSource))
        }
    }

    /// The machine's raw facts (name, value); hash them before they go
    /// anywhere ([`Fingerprint::from_facts`]).
    pub fn facts(&self) -> Vec<(String, String)> {
        match self {
            Machine::Files(src) => linux::facts(src.as_ref()),
            Machine::Windows(src) => windows::facts(src.as_ref()),
            Machine::MacOs(src) => macos::facts(src.as_ref()),
        }
    }

    /// The machine's fingerprint, salted with `salt`
    /// (`product_salt`).
    /// `fingerprint_unavailable` when no component names this machine.
    pub fn fingerprint(&self, salt: &[u8]) -> Result<Fingerprint> {
        linux::from_facts(&self.facts(), salt)
    }

    /// What VM and container detection finds, with its evidence.
    pub fn environment(&self) -> Environment {
        match self {
            Machine::Files(src) => environment::detect(src.as_ref()),
            Machine::Windows(src) => windows::detect(src.as_ref()),
            Machine::MacOs(src) => macos::detect(src.as_ref()),
        }
    }
}

impl<S: SystemSource + 'static> From<S> for Machine {
    fn from(src: S) -> Machine {
        Machine::Files(Arc::new(src))
    }
}
