//! What a running product does all day: the injected clock, the local state
//! store, validation of a verified license, the [`LicenseHandle`] with its
//! consumption counters and leases (docs/RUNTIME.md, docs/VALIDATION.md).
//!
//! [`LicenseHandle`]: handle::LicenseHandle

pub mod clock;
pub mod config;
pub mod consumption;
pub mod handle;
mod opened;
pub mod store;
pub mod validate;
