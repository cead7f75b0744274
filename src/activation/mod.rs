//! Putting a license on this device: from a license file ([`local`]), by
//! offline request and response files ([`offline`]), or by typed codes on an
//! air-gapped machine ([`airgap`]). The online half lives in
//! [`crate::online`].

pub mod airgap;
pub mod local;
pub mod offline;
