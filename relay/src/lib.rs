//! Tessera's relay: floating seats for the products on a network with no
//! internet, under a key the vendor delegates (docs/RELAY.md).
//!
//! The customer runs it on one machine. It holds its own Ed25519 key (made
//! there, never leaving it), the vendor's delegation of a pool license to
//! that key, and the pool's license file. It answers the SDK's floating
//! calls (activate, register, heartbeat, release, borrow) as the vendor's
//! server does, signing its answers and its leases with its own key and
//! sending the delegation along, so a product changes only its server
//! address. It never grants more seats at once than the delegation says,
//! never a lease past the delegation's end, and keeps what it granted in a
//! SQLite database that a `kill -9` does not lose.
//!
//! - [`home`]: the relay's folder: its key, its request for a delegation,
//!   the vendor's grant, its machine.
//! - [`seats`]: the seats it granted, the usage record and its clock mark.
//! - [`serve`]: the HTTP side.
//! - [`online`] and [`usage`]: the delegation asked for online, and the
//!   usage record uploaded or exported.

pub mod home;
pub mod online;
pub mod seats;
pub mod serve;
#[cfg(windows)]
pub mod service;
pub mod usage;

use std::path::PathBuf;

/// The relay's failure: what a person reads, and the exit code.
#[derive(Debug)]
pub struct Failure {
    /// The exit code (docs/RELAY.md).
    pub code: u8,
    /// What went wrong, for a person.
    pub message: String,
}

impl Failure {
    /// A failure with `code`.
    pub fn new(code: u8, message: impl Into<String>) -> Failure {
        Failure {
            code,
            message: message.into(),
        }
    }
}

impl std::fmt::Display for Failure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

impl From<tessera::Error> for Failure {
    fn from(e: tessera::Error) -> Failure {
        Failure::new(exit::FAILED, e.to_string())
    }
}

impl From<rusqlite::Error> for Failure {
    fn from(e: rusqlite::Error) -> Failure {
        Failure::new(exit::STATE, format!("the relay's state: {e}"))
    }
}

/// The relay's exit codes.
pub mod exit {
    /// Something failed; the message says what.
    pub const FAILED: u8 = 1;
    /// A file could not be read or written.
    pub const FILE: u8 = 2;
    /// The relay's folder holds no delegation yet (run `import`).
    pub const NO_GRANT: u8 = 3;
    /// The delegation is for another machine: the relay was moved.
    pub const OTHER_MACHINE: u8 = 4;
    /// The state database failed.
    pub const STATE: u8 = 5;
    /// The delegation expired: renew it.
    pub const EXPIRED: u8 = 6;
}

/// A path for messages.
pub(crate) fn shown(path: &std::path::Path) -> String {
    path.display().to_string()
}

/// Where the relay keeps everything.
#[derive(Debug, Clone)]
pub struct Dirs {
    /// The relay's folder.
    pub dir: PathBuf,
    /// Read the machine's facts from this folder instead of `/` (an image,
    /// a test's fake machine).
    pub device_root: Option<PathBuf>,
}
