//! The device a license is bound to: its fingerprint and where its facts
//! come from, virtual machine and container detection, and hardware keys
//! (docs/DEVICE.md).

pub mod environment;
pub mod fingerprint;
pub mod hardware;
pub mod sources;
