//! Delegation to a relay, and the leases a relay grants (docs/FORMAT.md,
//! "Delegation"; docs/RELAY.md).
//!
//! A relay is a program the vendor's customer runs on a network with no
//! internet; it hands out floating seats of one pool license. It signs its
//! leases with its own Ed25519 key. The vendor signs a **delegation**
//! naming that key and its scope: the product, the license, how many seats,
//! which features, how long a floating lease and a borrow may last, until
//! when, and the relay machine's fingerprint. A relay's lease verifies only
//! as a chain, each link under its own domain:
//!
//! 1. the delegation (`TESSERA DELEGATION`, `tessera/v1/delegation/ed25519`)
//!    against the product's keyring, like every vendor document;
//! 2. the lease (`TESSERA RELAY LEASE`, `tessera/v1/relay-lease/ed25519`)
//!    against the one key the delegation names, and nothing else;
//! 3. the lease inside the delegation's scope.
//!
//! The relay's answers carry the delegation, so a product changes only its
//! server address: [`LeaseChain`] is what it stores (the two armored
//! documents one after the other).
//!
//! Each way out of the scope has its error:
//! [`Error::DelegationUntrusted`] (a key no trusted delegation names),
//! [`Error::DelegationMismatch`] (a delegation for another product or
//! license), [`Error::DelegationExpired`], and
//! [`Error::LeaseOutsideDelegation`] (more features, a longer lease, a
//! borrow the delegation does not allow, or a lease past its end).

use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::format::armor::{self, Kind};
use crate::format::fingerprint::Fingerprint;
use crate::format::keys::{Keyring, PublicKey};
use crate::format::lease::{Lease, LeaseKind};
use crate::Time;

/// A vendor's delegation of a pool license to a relay's key.
pub const DELEGATION: Kind = Kind {
    label: "TESSERA DELEGATION",
    domain: b"tessera/v1/delegation/ed25519\0",
    max_len: 16 * 1024,
};

/// A lease a relay signed with its delegated key.
pub const RELAY_LEASE: Kind = Kind {
    label: "TESSERA RELAY LEASE",
    domain: b"tessera/v1/relay-lease/ed25519\0",
    max_len: 16 * 1024,
};

/// The most features a delegation names.
const MAX_FEATURES: usize = 256;

/// What a vendor delegates to one relay.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Delegation {
    /// Payload format; 1.
    pub format: u32,
    /// The delegation's id (a relay lease names it).
    pub id: String,
    /// The product's short code.
    pub product: String,
    /// The pool license whose seats the relay hands out.
    pub license_id: String,
    /// The relay's public key, base64 of its 32 bytes.
    pub relay_key: String,
    /// The relay's machine: the relay refuses to start elsewhere.
    pub relay_device: Fingerprint,
    /// How many seats the relay may grant at once.
    pub seats: u32,
    /// The features a relay lease may grant.
    pub features: Vec<String>,
    /// The longest floating lease, in minutes.
    pub lease_minutes: u32,
    /// The longest borrow, in hours; 0: no borrowing.
    pub max_borrow_hours: u32,
    /// When the vendor signed it.
    pub issued_at: Time,
    /// When it ends: no lease from the relay lasts past it.
    pub expires_at: Time,
}

/// What a relay lease says.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RelayLease {
    /// Payload format; 1.
    pub format: u32,
    /// The lease's id on the relay.
    pub id: String,
    /// The delegation it was granted under.
    pub delegation: String,
    /// The license the seat belongs to.
    pub license_id: String,
    /// The product's short code.
    pub product: String,
    /// The device holding the seat.
    pub device: Fingerprint,
    /// floating or borrow.
    pub kind: LeaseKind,
    /// The features the seat grants (within the delegation's).
    pub features: Vec<String>,
    /// When the relay granted it.
    pub issued_at: Time,
    /// When it ends.
    pub expires_at: Time,
}

impl Delegation {
    /// Verifies an armored delegation against the vendor's `keyring` (a
    /// key it does not hold is [`Error::DelegationUntrusted`]) and reads
    /// its fields.
    pub fn verify(input: &[u8], keyring: &Keyring) -> Result<Delegation> {
        let opened = armor::open(&DELEGATION, input, keyring).map_err(untrusted)?;
        let d: Delegation = serde_json::from_slice(opened.payload())
            .map_err(|e| Error::InvalidPayload(format!("not a delegation: {e}")))?;
        if d.format != 1 {
            return Err(Error::UnsupportedVersion);
        }
        d.check()?;
        Ok(d)
    }

    /// Reads each field as [`Delegation::verify`] will.
    pub fn check(&self) -> Result<()> {
        let bad = |what: &str| Err(Error::InvalidPayload(format!("delegation: {what}")));
        if self.id.is_empty() || self.product.is_empty() || self.license_id.is_empty() {
            return bad("the id, product and license must not be empty");
        }
        if PublicKey::from_base64(&self.relay_key).is_err() {
            return bad("relay_key is not an Ed25519 public key");
        }
        if self.relay_device.id.is_empty() {
            return bad("the relay's device has no id");
        }
        if self.seats == 0 || self.lease_minutes == 0 {
            return bad("seats and lease_minutes must be at least 1");
        }
        if self.features.len() > MAX_FEATURES {
            return bad("too many features");
        }
        if self.expires_at <= self.issued_at {
            return bad("it ends before it starts");
        }
        Ok(())
    }

    /// The relay's key.
    pub fn relay_key(&self) -> Result<PublicKey> {
        PublicKey::from_base64(&self.relay_key)
    }

    /// Whether it holds at `now` (with `tolerance` for a clock a little
    /// behind when it was issued); [`Error::DelegationExpired`] if not.
    pub fn check_time(&self, now: Time, tolerance: Duration) -> Result<()> {
        if now >= self.expires_at {
            return Err(Error::DelegationExpired(
                "the relay's delegation has expired: the relay must renew it",
            ));
        }
        let starts = self.issued_at.checked_sub(tolerance).unwrap_or(self.issued_at);
        if now < starts {
            return Err(Error::DelegationExpired(
                "the relay's delegation is not valid yet: check the clock",
            ));
        }
        Ok(())
    }

    /// Checks `lease` against this delegation's scope: its id, product and
    /// license, its features, its length, its kind and its end.
    pub fn check_lease(&self, lease: &RelayLease) -> Result<()> {
        if lease.delegation != self.id
            || lease.product != self.product
            || lease.license_id != self.license_id
        {
            return Err(Error::DelegationMismatch(
                "the lease was granted under another delegation, product or license",
            ));
        }
        let outside = |what| Err(Error::LeaseOutsideDelegation(what));
        if lease
            .features
            .iter()
            .any(|f| !self.features.iter().any(|d| d == f))
        {
            return outside("the lease grants a feature the delegation does not name");
        }
        if lease.expires_at > self.expires_at {
            return outside("the lease lasts past the delegation's end");
        }
        if lease.issued_at < self.issued_at {
            return outside("the lease was granted before the delegation");
        }
        let length = match lease.expires_at.duration_since(lease.issued_at) {
            Some(l) if !l.is_zero() => l,
            _ => return outside("the lease ends before it starts"),
        };
        let max = match lease.kind {
            LeaseKind::Floating => u64::from(self.lease_minutes) * 60,
            LeaseKind::Borrow if self.max_borrow_hours == 0 => {
                return outside("the delegation allows no borrowing");
            }
            LeaseKind::Borrow => u64::from(self.max_borrow_hours) * 3600,
        };
        if length > Duration::from_secs(max) {
            return outside("the lease is longer than the delegation allows");
        }
        Ok(())
    }
}

/// A key the keyring does not hold, or a signature that does not verify,
/// is a delegation nobody trusted.
fn untrusted(e: Error) -> Error {
    match e {
        Error::UnknownKeyId(_) | Error::BadSignature => Error::DelegationUntrusted(
            "the relay's key is not delegated by a key this product trusts",
        ),
        other => other,
    }
}

/// A relay's lease with the delegation it was granted under: what a
/// relay's answer holds and what the SDK stores, the delegation's armor
/// then the lease's.
#[derive(Debug, Clone)]
pub struct LeaseChain {
    delegation: Delegation,
    lease: RelayLease,
}

impl LeaseChain {
    /// Whether `text` is a chain rather than a vendor's lease.
    pub fn is_chain(text: &[u8]) -> bool {
        text.trim_ascii_start()
            .starts_with(format!("-----BEGIN {}-----", DELEGATION.label).as_bytes())
    }

    /// Verifies the chain in order: the delegation against `keyring`, the
    /// lease against the delegation's key alone, then the lease inside the
    /// delegation's scope. Time is not judged here:
    /// [`Delegation::check_time`] and the lease's own end are.
    pub fn verify(text: &[u8], keyring: &Keyring) -> Result<LeaseChain> {
        let max = DELEGATION.max_len + RELAY_LEASE.max_len;
        if text.len() > max {
            return Err(Error::TooLarge { len: text.len(), max });
        }
        let (first, second) = split_after(text, &DELEGATION)
            .map_err(|_| Error::InvalidLease("a relay's lease must follow its delegation"))?;
        let delegation = Delegation::verify(first, keyring)?;
        let relay = Keyring::from_keys([delegation.relay_key()?]);
        let opened = armor::open(&RELAY_LEASE, second, &relay).map_err(|e| match e {
            Error::UnknownKeyId(_) | Error::BadSignature => Error::DelegationUntrusted(
                "the lease is signed by a key its delegation does not name",
            ),
            other => other,
        })?;
        let lease: RelayLease = serde_json::from_slice(opened.payload())
            .map_err(|e| Error::InvalidPayload(format!("not a relay lease: {e}")))?;
        if lease.format != 1 {
            return Err(Error::UnsupportedVersion);
        }
        delegation.check_lease(&lease)?;
        Ok(LeaseChain { delegation, lease })
    }

    /// The delegation.
    pub fn delegation(&self) -> &Delegation {
        &self.delegation
    }

    /// The relay's lease.
    pub fn relay_lease(&self) -> &RelayLease {
        &self.lease
    }

    /// The lease as the handle holds every lease.
    pub fn lease(&self) -> Lease {
        Lease {
            format: 1,
            id: self.lease.id.clone(),
            license_id: self.lease.license_id.clone(),
            product: self.lease.product.clone(),
            device: self.lease.device.clone(),
            kind: self.lease.kind,
            issued_at: self.lease.issued_at,
            expires_at: self.lease.expires_at,
        }
    }
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

/// Splits `text` after the first armored document of `kind`.
fn split_after<'t>(text: &'t [u8], kind: &Kind) -> Result<(&'t [u8], &'t [u8])> {
    let end = format!("-----END {}-----", kind.label);
    let at = find(text, end.as_bytes()).ok_or(Error::Malformed {
        line: 0,
        what: "the file does not hold the expected documents",
    })?;
    Ok(text.split_at(at + end.len()))
}

/// A relay's request for a delegation: its public key and its machine's
/// fingerprint, signed by the relay's own key (which proves it holds the
/// private half). The vendor answers it with [`delegate`].
pub const RELAY_REQUEST: Kind = Kind {
    label: "TESSERA RELAY REQUEST",
    domain: b"tessera/v1/relay-request/ed25519\0",
    max_len: 8 * 1024,
};

/// What a relay asks the vendor for.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RelayRequest {
    /// Payload format; 1.
    pub format: u32,
    /// The product whose seats the relay will hand out.
    pub product: String,
    /// The relay's public key, base64.
    pub relay_key: String,
    /// The relay's machine.
    pub device: Fingerprint,
    /// When the relay wrote it.
    pub made_at: Time,
}

impl RelayRequest {
    /// Verifies a request with the key it names (it proves possession, not
    /// trust: the vendor decides whom to delegate to) and reads it.
    pub fn verify(input: &[u8]) -> Result<RelayRequest> {
        let unverified = armor::decode(&RELAY_REQUEST, input)?;
        #[derive(Deserialize)]
        struct KeyOnly {
            relay_key: String,
        }
        let claimed: KeyOnly = serde_json::from_slice(unverified.payload())
            .map_err(|_| Error::InvalidPayload("the request names no relay key".into()))?;
        let key = PublicKey::from_base64(&claimed.relay_key)?;
        let opened = armor::open(&RELAY_REQUEST, input, &Keyring::from_keys([key]))?;
        let request: RelayRequest = serde_json::from_slice(opened.payload())
            .map_err(|e| Error::InvalidPayload(format!("relay request: {e}")))?;
        if request.format != 1 {
            return Err(Error::UnsupportedVersion);
        }
        if request.product.is_empty() || request.device.id.is_empty() {
            return Err(Error::InvalidPayload(
                "relay request: the product and the device must not be empty".into(),
            ));
        }
        Ok(request)
    }
}

/// What the vendor hands a relay: the delegation and the pool license
/// file whose seats it delegates (the file the relay gives the products
/// that activate through it), one armored document after the other.
#[derive(Debug, Clone)]
pub struct RelayGrant {
    /// The delegation, read.
    pub delegation: Delegation,
    /// The delegation's armored text.
    pub delegation_text: String,
    /// The pool license, verified.
    pub license: crate::format::license::License,
    /// The pool license file's armored text.
    pub license_text: String,
}

impl RelayGrant {
    /// Verifies both documents against the vendor's `keyring` and that
    /// they belong together: the same product and license, a floating
    /// license bound to no device.
    pub fn verify(text: &[u8], keyring: &Keyring) -> Result<RelayGrant> {
        let (first, second) = split_after(text, &DELEGATION)?;
        let delegation = Delegation::verify(first, keyring)?;
        let file = crate::format::license::LicenseFile::verify(second, keyring)?;
        let license = file.into_license();
        if license.id != delegation.license_id || license.product() != delegation.product {
            return Err(Error::DelegationMismatch(
                "the license file is not the delegation's license",
            ));
        }
        if !license.floats() || license.device.is_some() {
            return Err(Error::InvalidPayload(
                "a relay's license must be floating and bound to no device".into(),
            ));
        }
        let text = |b: &[u8]| String::from_utf8_lossy(b).trim().to_owned();
        Ok(RelayGrant {
            delegation,
            delegation_text: text(first),
            license,
            license_text: text(second),
        })
    }
}

/// What the vendor grants a relay: [`delegate`]'s terms. Each `None`
/// takes the pool license's own value.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Terms {
    /// Seats (at most the license's `floating_users`).
    pub seats: Option<u32>,
    /// Features (among the license's).
    pub features: Option<Vec<String>>,
    /// The longest floating lease, minutes (at most `floating_timeout`).
    pub lease_minutes: Option<u32>,
    /// The longest borrow, hours (at most `max_borrow_time`; 0 forbids).
    pub max_borrow_hours: Option<u32>,
    /// Days until the delegation ends (default 90).
    pub days: Option<u32>,
}

/// The days a delegation runs unless the vendor says otherwise.
pub const DEFAULT_DAYS: u32 = 90;

/// The vendor's answer to a relay's request (feature `issuer`; the CLI
/// offline, the server online): checks `request` and `license_file` (the
/// pool license, verified against `key`'s public half and `keyring`) and
/// `terms` against the license, and signs a delegation numbered `id`,
/// valid from `now`. Answers the [`RelayGrant`]'s text.
#[cfg(feature = "issuer")]
#[cfg_attr(docsrs, doc(cfg(feature = "issuer")))]
pub fn delegate(
    request: &RelayRequest,
    license_file: &[u8],
    keyring: &Keyring,
    terms: &Terms,
    key: &crate::format::keys::SigningKey,
    id: &str,
    now: Time,
) -> Result<String> {
    let file = crate::format::license::LicenseFile::verify(license_file, keyring)?;
    let l = file.license();
    let refuse = |what: &'static str| Err(Error::InvalidArgument(what));
    if l.product() != request.product {
        return refuse("the relay asked for another product than the license's");
    }
    if !l.floats() || l.device.is_some() {
        return refuse("a relay's license must be floating and bound to no device");
    }
    let pool = if l.floating_users == 0 { u32::MAX } else { l.floating_users };
    let seats = terms.seats.unwrap_or(l.floating_users);
    if seats == 0 || seats > pool {
        return refuse("seats must be 1 to the license's floating_users");
    }
    let all: Vec<String> = l.product_features.iter().map(|f| f.code.clone()).collect();
    let features = terms.features.clone().unwrap_or_else(|| all.clone());
    if features.iter().any(|f| !all.contains(f)) {
        return refuse("a feature is not the license's");
    }
    let lease_minutes = terms.lease_minutes.unwrap_or(l.floating_timeout);
    if lease_minutes == 0 || lease_minutes > l.floating_timeout {
        return refuse("lease_minutes must be 1 to the license's floating_timeout");
    }
    let allowed_borrow = if l.can_borrow { l.max_borrow_time } else { 0 };
    let max_borrow_hours = terms.max_borrow_hours.unwrap_or(allowed_borrow);
    if max_borrow_hours > allowed_borrow {
        return refuse("max_borrow_hours is more than the license allows");
    }
    let days = terms.days.unwrap_or(DEFAULT_DAYS);
    if days == 0 || days > 3660 {
        return refuse("days must be 1 to 3660");
    }
    let mut expires_at = now
        .checked_add(Duration::from_secs(u64::from(days) * 86_400))
        .ok_or(Error::InvalidArgument("days overflow the calendar"))?;
    // Never past the license's own end: the products could not use it.
    for end in [l.expires_at, l.validity_period].into_iter().flatten() {
        expires_at = expires_at.min(end);
    }
    if expires_at <= now {
        return refuse("the license has already ended");
    }
    let delegation = Delegation {
        format: 1,
        id: id.to_owned(),
        product: request.product.clone(),
        license_id: l.id.clone(),
        relay_key: request.relay_key.clone(),
        relay_device: request.device.clone(),
        seats,
        features,
        lease_minutes,
        max_borrow_hours,
        issued_at: now,
        expires_at,
    };
    let signed = sign(&delegation, key)?;
    let license_text = std::str::from_utf8(license_file)
        .map_err(|_| Error::InvalidArgument("the license file is not text"))?;
    Ok(format!("{signed}\n{}\n", license_text.trim()))
}

/// A relay's usage record, signed by its key: what it uploads to the
/// vendor's server, or exports for the vendor to import.
pub const RELAY_USAGE: Kind = Kind {
    label: "TESSERA RELAY USAGE",
    domain: b"tessera/v1/relay-usage/ed25519\0",
    max_len: 256 * 1024,
};

/// One UTC day of a relay's usage.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UsageDay {
    /// Days since 1970-01-01 (UTC).
    pub day: i64,
    /// Seat-seconds held that day.
    pub seat_seconds: i64,
    /// The most seats held at once.
    pub peak: u32,
    /// Seats granted (renewals not counted).
    pub grants: u32,
    /// Requests refused for lack of a seat.
    pub denials: u32,
}

/// A relay's usage record.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UsageReport {
    /// Payload format; 1.
    pub format: u32,
    /// The delegation the relay serves under.
    pub delegation: String,
    /// The pool license.
    pub license_id: String,
    /// The product.
    pub product: String,
    /// When the relay wrote it.
    pub made_at: Time,
    /// Its days, oldest first (at most 3,660).
    pub days: Vec<UsageDay>,
}

impl UsageReport {
    /// The delegation a report claims, read before its signature is
    /// checked: only to find the key to check it with.
    pub fn claimed_delegation(input: &[u8]) -> Result<String> {
        #[derive(Deserialize)]
        struct Claim {
            delegation: String,
        }
        let unverified = armor::decode(&RELAY_USAGE, input)?;
        let c: Claim = serde_json::from_slice(unverified.payload())
            .map_err(|_| Error::InvalidPayload("the usage record names no delegation".into()))?;
        Ok(c.delegation)
    }

    /// Verifies a report against the relay's key and reads it.
    pub fn verify(input: &[u8], relay_key: &PublicKey) -> Result<UsageReport> {
        let opened = armor::open(&RELAY_USAGE, input, &Keyring::from_keys([relay_key.clone()]))?;
        let r: UsageReport = serde_json::from_slice(opened.payload())
            .map_err(|e| Error::InvalidPayload(format!("relay usage: {e}")))?;
        if r.format != 1 {
            return Err(Error::UnsupportedVersion);
        }
        if r.days.len() > 3660 || r.days.iter().any(|d| d.seat_seconds < 0 || d.day < 0) {
            return Err(Error::InvalidPayload("relay usage: bad days".into()));
        }
        Ok(r)
    }
}

/// Signs a usage record with the relay's key (feature `issuer`; the relay).
#[cfg(feature = "issuer")]
#[cfg_attr(docsrs, doc(cfg(feature = "issuer")))]
pub fn sign_usage(report: &UsageReport, key: &crate::format::keys::SigningKey) -> Result<String> {
    let payload = serde_json::to_vec(report)
        .map_err(|e| Error::InvalidPayload(format!("relay usage: {e}")))?;
    armor::seal(&RELAY_USAGE, key, &payload)
}

/// Signs a relay's request with its own key (feature `issuer`; the relay).
#[cfg(feature = "issuer")]
#[cfg_attr(docsrs, doc(cfg(feature = "issuer")))]
pub fn sign_request(
    request: &RelayRequest,
    key: &crate::format::keys::SigningKey,
) -> Result<String> {
    let payload = serde_json::to_vec(request)
        .map_err(|e| Error::InvalidPayload(format!("relay request: {e}")))?;
    armor::seal(&RELAY_REQUEST, key, &payload)
}

/// Signs a delegation after reading it as [`Delegation::verify`] will
/// (feature `issuer`; the vendor's CLI and server).
#[cfg(feature = "issuer")]
#[cfg_attr(docsrs, doc(cfg(feature = "issuer")))]
pub fn sign(delegation: &Delegation, key: &crate::format::keys::SigningKey) -> Result<String> {
    if delegation.format != 1 {
        return Err(Error::UnsupportedVersion);
    }
    delegation.check()?;
    let payload = serde_json::to_vec(delegation)
        .map_err(|e| Error::InvalidPayload(format!("delegation: {e}")))?;
    armor::seal(&DELEGATION, key, &payload)
}

/// Signs a relay lease with the relay's key (feature `issuer`; the relay).
#[cfg(feature = "issuer")]
#[cfg_attr(docsrs, doc(cfg(feature = "issuer")))]
pub fn sign_lease(lease: &RelayLease, key: &crate::format::keys::SigningKey) -> Result<String> {
    let payload = serde_json::to_vec(lease)
        .map_err(|e| Error::InvalidPayload(format!("relay lease: {e}")))?;
    armor::seal(&RELAY_LEASE, key, &payload)
}

#[cfg(all(test, feature = "issuer"))]
#[allow(clippy::unwrap_used, clippy::expect_used)] // tests (clippy sees cfg(test) only alone)
mod tests {
    use super::*;
    use crate::format::keys::SigningKey;

    fn at(secs: i64) -> Time {
        Time::from_unix(secs).unwrap()
    }

    fn delegation(relay: &SigningKey) -> Delegation {
        Delegation {
            format: 1,
            id: "D-1".into(),
            product: "acme".into(),
            license_id: "L-POOL".into(),
            relay_key: relay.public_key().to_base64(),
            relay_device: Fingerprint {
                id: "relay-box".into(),
                components: Default::default(),
            },
            seats: 10,
            features: vec!["cad".into(), "render".into()],
            lease_minutes: 30,
            max_borrow_hours: 24,
            issued_at: at(1_800_000_000),
            expires_at: at(1_800_000_000 + 90 * 86_400),
        }
    }

    fn lease() -> RelayLease {
        RelayLease {
            format: 1,
            id: "R-1".into(),
            delegation: "D-1".into(),
            license_id: "L-POOL".into(),
            product: "acme".into(),
            device: Fingerprint {
                id: "ws-1".into(),
                components: Default::default(),
            },
            kind: LeaseKind::Floating,
            features: vec!["cad".into()],
            issued_at: at(1_800_001_000),
            expires_at: at(1_800_001_000 + 1800),
        }
    }

    fn chain(vendor: &SigningKey, d: &Delegation, signer: &SigningKey, l: &RelayLease) -> String {
        format!("{}\n{}", sign(d, vendor).unwrap(), sign_lease(l, signer).unwrap())
    }

    #[test]
    fn a_chain_verifies_and_each_way_out_has_its_error() {
        let vendor = SigningKey::from_seed(&[1; 32]).unwrap();
        let relay = SigningKey::from_seed(&[2; 32]).unwrap();
        let ring = Keyring::from_keys([vendor.public_key().clone()]);
        let d = delegation(&relay);
        let good = chain(&vendor, &d, &relay, &lease());
        assert!(LeaseChain::is_chain(good.as_bytes()));
        let c = LeaseChain::verify(good.as_bytes(), &ring).unwrap();
        assert_eq!(c.lease().id, "R-1");
        assert_eq!(c.delegation().seats, 10);

        // A relay with a self-made key, under a real delegation.
        let stranger = SigningKey::from_seed(&[3; 32]).unwrap();
        let forged = chain(&vendor, &d, &stranger, &lease());
        assert!(matches!(
            LeaseChain::verify(forged.as_bytes(), &ring),
            Err(Error::DelegationUntrusted(_))
        ));
        // A delegation the relay signed itself.
        let own = chain(&stranger, &delegation(&stranger), &stranger, &lease());
        assert!(matches!(
            LeaseChain::verify(own.as_bytes(), &ring),
            Err(Error::DelegationUntrusted(_))
        ));
        // A delegation for another product.
        let mut other = delegation(&relay);
        other.product = "other".into();
        let c = chain(&vendor, &other, &relay, &lease());
        assert!(matches!(
            LeaseChain::verify(c.as_bytes(), &ring),
            Err(Error::DelegationMismatch(_))
        ));
        // More features, a longer lease, a borrow not allowed, past the end.
        type Spoil = fn(&mut RelayLease, &mut Delegation);
        let cases: [Spoil; 5] = [
            |l, _| l.features.push("export".into()),
            |l, _| l.expires_at = at(l.issued_at.unix() + 1801),
            |l, d| {
                l.kind = LeaseKind::Borrow;
                d.max_borrow_hours = 0;
            },
            |l, d| {
                d.expires_at = at(l.issued_at.unix() + 60);
            },
            |l, _| l.issued_at = at(1_799_999_999),
        ];
        for (i, spoil) in cases.into_iter().enumerate() {
            let (mut l, mut d) = (lease(), delegation(&relay));
            spoil(&mut l, &mut d);
            let c = chain(&vendor, &d, &relay, &l);
            assert!(
                matches!(
                    LeaseChain::verify(c.as_bytes(), &ring),
                    Err(Error::LeaseOutsideDelegation(_))
                ),
                "case {i}"
            );
        }
        // The delegation's time.
        assert!(d.check_time(at(1_800_000_100), Duration::ZERO).is_ok());
        assert!(matches!(
            d.check_time(d.expires_at, Duration::ZERO),
            Err(Error::DelegationExpired(_))
        ));
        assert!(matches!(
            d.check_time(at(1_799_000_000), Duration::from_secs(3600)),
            Err(Error::DelegationExpired(_))
        ));
    }

    #[test]
    fn a_lease_signature_never_verifies_as_another_kind() {
        let vendor = SigningKey::from_seed(&[1; 32]).unwrap();
        let relay = SigningKey::from_seed(&[2; 32]).unwrap();
        let ring = Keyring::from_keys([vendor.public_key().clone()]);
        let d = sign(&delegation(&relay), &vendor).unwrap();
        // A relay lease relabelled as a vendor lease, or the delegation as
        // a license, fails its signature.
        let l = sign_lease(&lease(), &relay).unwrap();
        let relay_ring = Keyring::from_keys([relay.public_key().clone()]);
        let relabelled = l.replace("TESSERA RELAY LEASE", "TESSERA LEASE");
        assert!(Lease::verify(relabelled.as_bytes(), &relay_ring).is_err());
        let as_license = d.replace("TESSERA DELEGATION", "TESSERA LICENSE");
        assert!(matches!(
            armor::open(&armor::LICENSE, as_license.as_bytes(), &ring),
            Err(Error::BadSignature)
        ));
        // A chain without its lease, or with two delegations.
        assert!(LeaseChain::verify(d.as_bytes(), &ring).is_err());
        let twice = format!("{d}\n{d}");
        assert!(LeaseChain::verify(twice.as_bytes(), &ring).is_err());
        // Fields are read strictly.
        let mut bad = delegation(&relay);
        bad.relay_key = "AAAA".into();
        assert!(sign(&bad, &vendor).is_err());
        let mut bad = delegation(&relay);
        bad.seats = 0;
        assert!(sign(&bad, &vendor).is_err());
    }
}
