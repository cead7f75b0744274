//! Floating and borrow leases: signed grants of a seat for a while.
//!
//! A floating license is usable only while this device holds a lease that
//! the license server signed. A floating lease lasts `floating_timeout`
//! minutes and is renewed by heartbeats; a borrow lease (only when the
//! license has `can_borrow`) lasts up to `max_borrow_time` hours and lets
//! the seat be used offline until `expires_at` (the `borrowed_until`).
//!
//! Leases travel in the signed envelope (label `TESSERA LEASE`, domain
//! `tessera/v1/lease/ed25519`) and are verified like license files, against
//! the same keyring. Deadlines are exclusive: a lease that expires at T is
//! no longer valid at T.

use crate::Time;
use std::time::Duration;
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::format::armor::{self, Kind};
use crate::format::fingerprint::{Fingerprint, MatchPolicy};
use crate::format::keys::Keyring;
use crate::format::license::License;

/// A signed lease.
pub const LEASE: Kind = Kind {
    label: "TESSERA LEASE",
    domain: b"tessera/v1/lease/ed25519\0",
    max_len: 16 * 1024,
};

/// What a lease grants.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LeaseKind {
    /// A floating seat, renewed by heartbeats.
    Floating,
    /// A borrowed seat, usable offline until it expires or is returned.
    Borrow,
}

/// The payload of a lease.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Lease {
    /// Payload format; 1.
    pub format: u32,
    /// The lease's id on the server (a heartbeat or a return names it).
    pub id: String,
    /// The license the seat belongs to.
    pub license_id: String,
    /// The product's short code.
    pub product: String,
    /// The device holding the seat.
    pub device: Fingerprint,
    /// floating or borrow.
    pub kind: LeaseKind,
    /// When the server granted it.
    pub issued_at: Time,
    /// When it ends (for a borrow: `borrowed_until`).
    pub expires_at: Time,
}

impl Lease {
    /// Verifies an armored lease against `keyring` and parses it.
    pub fn verify(input: &[u8], keyring: &Keyring) -> Result<Lease> {
        let opened = armor::open(&LEASE, input, keyring)?;
        let lease: Lease = serde_json::from_slice(opened.payload())
            .map_err(|e| Error::InvalidPayload(format!("not a lease: {e}")))?;
        if lease.format != 1 {
            return Err(Error::UnsupportedVersion);
        }
        Ok(lease)
    }

    /// Checks that this lease may serve `license` on `device`: same license
    /// and product, this device, the kind allowed by the license, and no
    /// longer than the license allows (a borrow at most `max_borrow_time`
    /// hours, a floating lease at most `floating_timeout` minutes).
    pub fn check_for(
        &self,
        license: &License,
        device: &Fingerprint,
        policy: &MatchPolicy,
    ) -> Result<()> {
        let refuse = |what: &'static str| Err(Error::InvalidLease(what));
        if self.license_id != license.id || self.product != license.product() {
            return refuse("the lease is for another license");
        }
        if !self.device.matches(device, policy) {
            return refuse("the lease is for another device");
        }
        if !license.floats() {
            return refuse("the license is not floating");
        }
        let length = match self.expires_at.duration_since(self.issued_at) {
            Some(length) if !length.is_zero() => length,
            _ => return refuse("the lease ends before it starts"),
        };
        match self.kind {
            LeaseKind::Borrow if !license.can_borrow => Err(Error::BorrowNotAllowed),
            LeaseKind::Borrow if length > Duration::from_secs(u64::from(license.max_borrow_time) * 3600) => {
                Err(Error::BorrowTooLong {
                    max_hours: license.max_borrow_time,
                })
            }
            LeaseKind::Floating
                if length > Duration::from_secs(u64::from(license.floating_timeout) * 60) =>
            {
                refuse("the lease is longer than the license's floating timeout")
            }
            _ => Ok(()),
        }
    }

    /// Whether the lease still holds at `now`.
    pub fn is_active(&self, now: Time) -> bool {
        now < self.expires_at
    }

    /// The time left at `now` (zero once expired).
    pub fn time_left(&self, now: Time) -> Duration {
        self.expires_at.saturating_duration_since(now)
    }
}

/// Signs a lease (feature `issuer`; the server's side, and tests).
#[cfg(feature = "issuer")]
#[cfg_attr(docsrs, doc(cfg(feature = "issuer")))]
pub fn seal(lease: &Lease, key: &crate::format::keys::SigningKey) -> Result<String> {
    let payload = serde_json::to_vec(lease)
        .map_err(|_| Error::InvalidArgument("the lease cannot be encoded"))?;
    armor::seal(&LEASE, key, &payload)
}
