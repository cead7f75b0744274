//! The handle a product keeps open all day.
//!
//! [`LicenseHandle::open`] loads the license activated on this device, its
//! local state and any lease; then it answers: is the license usable now
//! (and why), is a feature enabled, consume units of a feature or of the
//! license, how much is left, when the next check-in is due, and how long
//! the floating or borrow lease has left. It is `Send + Sync`; share it
//! behind an `Arc`. A warm [`LicenseHandle::check`] takes about 0.1 µs.
//!
//! [`LicenseHandle::reload`] switches an open handle to the license now
//! stored (a sync brought a fresh file, say) atomically: a call that
//! started before the switch finishes on the old license, every call after
//! it sees the new one, and a failed reload leaves the handle as it was.

use crate::Time;
use std::sync::{Arc, RwLock};

use std::time::Duration;

use crate::error::{Error, Result};
use crate::format::delegation::LeaseChain;
use crate::format::keys::Keyring;
use crate::format::lease::{Lease, LeaseKind};
use crate::format::license::License;
use crate::runtime::config::LocalConfig;
use crate::runtime::consumption::{Consumption, Counter, Limit, Pending, Usage};
use crate::runtime::opened::OpenedLicense;
use crate::runtime::validate::{self, FeatureStatus, Validation};
use crate::status::Status;

/// The lease this device holds, as a product shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct LeaseStatus {
    /// The lease's id (a heartbeat or a return names it).
    pub id: String,
    /// floating or borrow.
    pub kind: LeaseKind,
    /// When it ends.
    pub expires_at: Time,
    /// Time left now (zero once expired).
    pub time_left: Duration,
    /// For a floating lease: a heartbeat must renew it before this moment.
    pub renew_before: Option<Time>,
}

impl LeaseStatus {
    fn of(lease: &Lease, now: Time) -> LeaseStatus {
        LeaseStatus {
            id: lease.id.clone(),
            kind: lease.kind,
            expires_at: lease.expires_at,
            time_left: lease.time_left(now),
            renew_before: (lease.kind == LeaseKind::Floating).then_some(lease.expires_at),
        }
    }
}

/// An open license on this device.
pub struct LicenseHandle {
    /// What it was opened with, to reload from.
    config: LocalConfig,
    /// The license in use; replaced whole by a reload.
    current: RwLock<Arc<Opened>>,
}

/// One opened license: the file, its state, counters and lease.
struct Opened {
    local: OpenedLicense,
    keyring: Keyring,
    consumption: Consumption,
    lease: RwLock<Option<Lease>>,
    /// With a relay's lease: the features it grants (a relay hands out
    /// the pool's seats within its delegation, docs/RELAY.md).
    relay_features: RwLock<Option<Vec<String>>>,
}

/// A stored or received lease, read: a vendor's, or a relay's chain. A
/// relay is reached over HTTP: a build without the HTTP client (the
/// smallest C library, feature `online` off) reads a vendor's leases only.
fn read_lease(text: &[u8], keyring: &Keyring) -> Result<(Lease, Option<LeaseChain>)> {
    #[cfg(feature = "online")]
    if LeaseChain::is_chain(text) {
        let chain = LeaseChain::verify(text, keyring)?;
        return Ok((chain.lease(), Some(chain)));
    }
    Ok((Lease::verify(text, keyring)?, None))
}

/// Checks a relay's delegation against the license in use.
fn check_delegation(chain: &LeaseChain, license: &License) -> Result<()> {
    let d = chain.delegation();
    if d.product != license.product() || d.license_id != license.id {
        return Err(Error::DelegationMismatch(
            "the relay's delegation is for another product or license",
        ));
    }
    Ok(())
}

/// The license document of an open handle: the one in use when it was
/// asked for, kept alive by this reference even if the handle reloads.
#[derive(Clone)]
pub struct LicenseRef(Arc<Opened>);

impl std::ops::Deref for LicenseRef {
    type Target = License;
    fn deref(&self) -> &License {
        self.0.local.license()
    }
}

impl std::fmt::Debug for LicenseRef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        License::fmt(self, f)
    }
}

impl std::fmt::Debug for LicenseHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LicenseHandle")
            .field("local", &self.opened().local)
            .finish_non_exhaustive()
    }
}

impl LicenseHandle {
    /// Opens the newest license activated on this device, with its counters
    /// and its stored lease: loads the store (refusing one that was edited or
    /// copied from another device), verifies the recorded file again, and
    /// checks the clock against the stored high-water mark.
    pub fn open(config: &LocalConfig) -> Result<LicenseHandle> {
        Ok(LicenseHandle {
            config: config.clone(),
            current: RwLock::new(Arc::new(Opened::open(config, None)?)),
        })
    }

    /// Switches this handle, in place, to the license now stored on this
    /// device, with its lease and counters, as [`LicenseHandle::open`]
    /// would open it: what a sync that brought a fresh file calls. Atomic
    /// for every other thread; on failure nothing changes.
    pub fn reload(&self) -> Result<()> {
        // The trusted time carries over: a reload must not hand back the
        // time used since the mark was last written.
        let carried = self.opened().local.trusted().mark_secs();
        let fresh = Arc::new(Opened::open(&self.config, Some(carried))?);
        *self.current.write().unwrap_or_else(|p| p.into_inner()) = fresh;
        Ok(())
    }

    /// The configuration the handle was opened with.
    pub fn config(&self) -> &LocalConfig {
        &self.config
    }

    fn opened(&self) -> Arc<Opened> {
        Arc::clone(&self.current.read().unwrap_or_else(|p| p.into_inner()))
    }

    /// The license document in use.
    pub fn license(&self) -> LicenseRef {
        LicenseRef(self.opened())
    }

    /// Whether the license may be used now. A floating license is
    /// [`Status::LeaseRequired`] until this device holds a seat (the online
    /// half's `Connection::register`, a `FloatingSession`, an `AutoSync`, or
    /// a borrow). Fails when the clock was
    /// turned back ([`Error::ClockTampered`]), or when the clock's mark,
    /// written after every minute of use, cannot be written to the state
    /// (the store's error: a store that cannot keep its mark grants no
    /// more time).
    pub fn check(&self) -> Result<Status> {
        self.current
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .check()
    }

    /// The full answer now: status, dates and reasons, lease included.
    pub fn validate(&self) -> Result<Validation> {
        self.opened().validate()
    }

    /// The state of feature `code` now.
    pub fn feature(&self, code: &str) -> Result<FeatureStatus> {
        self.opened().feature(code)
    }

    /// Whether feature `code` may be used now.
    pub fn feature_enabled(&self, code: &str) -> Result<bool> {
        Ok(self.feature(code)?.is_enabled())
    }

    /// Consumes `amount` units of `counter`. Returns once the increment is
    /// on disk, with the usage after it. Refused (nothing changes) when the
    /// license is not usable, the feature is not available, or the limit
    /// and overages would be passed ([`Error::ConsumptionLimit`]).
    pub fn consume(&self, counter: &Counter, amount: u64) -> Result<Usage> {
        self.opened().consume(counter, amount)
    }

    /// How much of `counter` is used and left now.
    pub fn usage(&self, counter: &Counter) -> Result<Usage> {
        self.opened().usage(counter)
    }

    /// Increments the license server has not acknowledged yet.
    pub fn pending_uploads(&self) -> Result<Vec<Pending>> {
        self.opened().consumption.pending_uploads()
    }

    /// Records that the server acknowledged every increment up to `seq`.
    pub fn acknowledge_upload(&self, seq: u64) -> Result<()> {
        self.opened().consumption.acknowledge_upload(seq)
    }

    /// When the next check-in is due (the license file's own expiry).
    pub fn next_check_in(&self) -> Option<Time> {
        self.opened().local.license().expires_at
    }

    /// The lease held, with its time left now.
    pub fn lease(&self) -> Result<Option<LeaseStatus>> {
        self.opened().lease()
    }

    /// Installs a lease the server granted (a floating registration or
    /// heartbeat, or a borrow): verifies it, checks it serves this license
    /// on this device within the license's limits, stores it, and uses it.
    pub fn install_lease(&self, text: &[u8]) -> Result<LeaseStatus> {
        self.opened().install_lease(text)
    }

    /// Ends a borrow early on this device (the sync returns the seat to the
    /// server, which keeps it counted until the borrow would have ended:
    /// see `Connection::return_borrow`). Fails when no borrowed seat is held.
    pub fn return_borrow(&self) -> Result<()> {
        self.opened().return_borrow()
    }

    /// Writes the clock's high-water mark and the consumption journal's
    /// checkpoint (call now and then, and at exit): a restart cannot roll
    /// the clock back, and a journal cut short below this point is refused.
    pub fn save_clock(&self) -> Result<()> {
        self.opened().save_clock()
    }

    /// Forgets a floating lease once its seat was given back, so the
    /// device does not go on using a seat the server has handed to
    /// someone else. A borrowed seat is kept (it is returned on its own).
    #[cfg_attr(not(feature = "online-api"), allow(dead_code))]
    pub(crate) fn end_floating_lease(&self) -> Result<()> {
        self.opened().end_floating_lease()
    }
}

/// The methods behind [`LicenseHandle`]'s, on one opened license.
impl Opened {
    fn open(config: &LocalConfig, carried: Option<i64>) -> Result<Opened> {
        let (local, state) = OpenedLicense::open_with_state(config, carried)?;
        // A lease stored for an earlier license or device no longer applies.
        let lease = state
            .kept
            .lease
            .as_deref()
            .and_then(|text| read_lease(text.as_bytes(), &config.keyring).ok())
            .filter(|(l, chain)| {
                let o = local.options();
                chain
                    .as_ref()
                    .is_none_or(|c| check_delegation(c, local.license()).is_ok())
                    && o.device
                        .as_ref()
                        .is_some_and(|d| l.check_for(local.license(), d, &o.match_policy).is_ok())
            });
        let (lease, relay_features) = match lease {
            Some((lease, chain)) => (
                Some(lease),
                chain.map(|c| c.relay_lease().features.clone()),
            ),
            None => (None, None),
        };
        let consumption = Consumption::new(local.store().clone())?;
        // The state vouches for the journal as it is now, so a journal lost
        // or cut short later is refused (SECURITY.md). A journal that is
        // already damaged does not stop the license from opening: its
        // counters report it when used. A license without counters has no
        // journal to vouch for, and its start-up reads none.
        if local.license().counts_consumption() {
            let _ = consumption.checkpoint();
        }
        Ok(Opened {
            consumption,
            local,
            keyring: config.keyring.clone(),
            lease: RwLock::new(lease),
            relay_features: RwLock::new(relay_features),
        })
    }

    fn license(&self) -> &License {
        self.local.license()
    }

    /// The time now, checked against the high-water mark (see
    /// [`OpenedLicense::now`]); once a minute of use, the mark and the
    /// journal's checkpoint are written back, and a failed write fails the
    /// call: otherwise a restart, or a journal cut back to the last
    /// checkpoint, would regain everything since (SECURITY.md).
    fn now(&self) -> Result<Time> {
        let now = self.local.now()?;
        if let Some(stored) = self.local.persist_due() {
            if let Err(e) = self.save_clock() {
                self.local.persist_failed(stored);
                return Err(e);
            }
        }
        Ok(now)
    }

    fn lease_read(&self) -> std::sync::RwLockReadGuard<'_, Option<Lease>> {
        self.lease.read().unwrap_or_else(|p| p.into_inner())
    }

    /// The lease verdict for a license that is otherwise usable at `now`.
    fn with_lease(&self, status: Status, now: Time) -> Status {
        if !status.is_usable() || !self.license().floats() {
            return status;
        }
        // A lease's deadline gets no clock tolerance: it is judged against
        // the trusted time, which a clock set back does not move back.
        let now = self.local.trusted_now(now);
        match &*self.lease_read() {
            None => Status::LeaseRequired,
            Some(lease) if !lease.is_active(now) => Status::LeaseExpired,
            Some(_) => status,
        }
    }

    fn check(&self) -> Result<Status> {
        let now = self.now()?;
        let status = validate::status_at(self.license(), self.local.options(), now);
        Ok(self.with_lease(status, now))
    }

    fn validate(&self) -> Result<Validation> {
        let now = self.now()?;
        let mut v = validate::validate_at(self.license(), self.local.options(), now);
        let status = self.with_lease(v.status, now);
        if status != v.status {
            v.status = status;
            let reason = match &*self.lease_read() {
                Some(lease) => format!(
                    "the {} lease {} expired at {}; a heartbeat must renew it (or borrow the seat again)",
                    if lease.kind == LeaseKind::Borrow { "borrow" } else { "floating" },
                    lease.id,
                    lease.expires_at
                ),
                None => "this floating license needs a seat: register with the license server or borrow one".to_owned(),
            };
            v.reasons.insert(0, validate::Reason::Text(reason));
        }
        Ok(v)
    }

    fn feature(&self, code: &str) -> Result<FeatureStatus> {
        let v = self.validate()?;
        let status = validate::feature_status(self.license(), &v, code);
        if status.is_enabled() && !self.relay_grants(code) {
            return Ok(FeatureStatus::Missing);
        }
        Ok(status)
    }

    /// Whether the lease held grants `code`: a relay's lease grants only
    /// the features it names; any other lease, every feature the license
    /// has.
    fn relay_grants(&self, code: &str) -> bool {
        self.relay_features
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .as_ref()
            .is_none_or(|features| features.iter().any(|f| f == code))
    }

    /// The limit of `counter` when it may be consumed now. The fast path
    /// builds no report; only a refusal does, for its reason.
    fn limit_now(&self, counter: &Counter) -> Result<(Limit, Time)> {
        let now = self.now()?;
        let status = self.with_lease(
            validate::status_at(self.license(), self.local.options(), now),
            now,
        );
        if !status.is_usable() {
            let v = self.validate()?;
            let reason = v
                .reasons
                .first()
                .map_or_else(|| status.to_string(), ToString::to_string);
            return Err(Error::Unusable { status, reason });
        }
        if let Counter::Feature(code) = counter {
            let live = self
                .license()
                .feature(code)
                .is_some_and(|f| f.expiry_date.is_none_or(|end| now < end));
            if !live || !self.relay_grants(code) {
                return Err(Error::FeatureUnavailable(code.clone()));
            }
        }
        Ok((Limit::of(self.license(), counter)?, now))
    }

    fn consume(&self, counter: &Counter, amount: u64) -> Result<Usage> {
        let (limit, now) = self.limit_now(counter)?;
        self.consumption.consume(counter, amount, &limit, now)
    }

    fn usage(&self, counter: &Counter) -> Result<Usage> {
        let now = self.now()?;
        let limit = Limit::of(self.license(), counter)?;
        self.consumption.usage(counter, &limit, now)
    }

    fn lease(&self) -> Result<Option<LeaseStatus>> {
        let now = self.local.trusted_now(self.now()?);
        Ok(self.lease_read().as_ref().map(|l| LeaseStatus::of(l, now)))
    }

    fn install_lease(&self, text: &[u8]) -> Result<LeaseStatus> {
        let now = self.now()?;
        let (lease, chain) = read_lease(text, &self.keyring)?;
        let options = self.local.options();
        if let Some(chain) = &chain {
            check_delegation(chain, self.license())?;
            chain
                .delegation()
                .check_time(self.local.trusted_now(now), options.clock_tolerance)?;
        }
        let device = options
            .device
            .as_ref()
            .ok_or(Error::InvalidLease("no device fingerprint"))?;
        lease.check_for(self.license(), device, &options.match_policy)?;
        if lease.issued_at > validate::later(now, options.clock_tolerance) {
            return Err(Error::InvalidLease(
                "the lease was issued in the future: check the clock",
            ));
        }
        if !lease.is_active(now) {
            return Err(Error::InvalidLease("the lease has already expired"));
        }
        let text = std::str::from_utf8(text)
            .map_err(|_| Error::InvalidLease("the lease is not text"))?
            .trim()
            .to_owned();
        self.local.store().update(|state| {
            state.kept.lease = Some(text.to_owned());
            state.high_water = state.high_water.max(Some(lease.issued_at));
            Ok(())
        })?;
        self.local.trusted().raise(lease.issued_at);
        let status = LeaseStatus::of(&lease, now);
        let mut guard = self.lease.write().unwrap_or_else(|p| p.into_inner());
        *self.relay_features.write().unwrap_or_else(|p| p.into_inner()) =
            chain.map(|c| c.relay_lease().features.clone());
        *guard = Some(lease);
        Ok(status)
    }

    fn return_borrow(&self) -> Result<()> {
        let mut guard = self.lease.write().unwrap_or_else(|p| p.into_inner());
        if guard.as_ref().map(|l| l.kind) != Some(LeaseKind::Borrow) {
            return Err(Error::InvalidArgument("no borrowed seat to return"));
        }
        self.local.store().update(|state| {
            state.kept.lease = None;
            Ok(())
        })?;
        *guard = None;
        *self.relay_features.write().unwrap_or_else(|p| p.into_inner()) = None;
        Ok(())
    }

    #[cfg_attr(not(feature = "online-api"), allow(dead_code))]
    fn end_floating_lease(&self) -> Result<()> {
        let mut guard = self.lease.write().unwrap_or_else(|p| p.into_inner());
        if guard.as_ref().map(|l| l.kind) != Some(LeaseKind::Floating) {
            return Ok(());
        }
        self.local.store().update(|state| {
            state.kept.lease = None;
            Ok(())
        })?;
        *guard = None;
        *self.relay_features.write().unwrap_or_else(|p| p.into_inner()) = None;
        Ok(())
    }

    fn save_clock(&self) -> Result<()> {
        // A damaged journal is reported by the counters themselves.
        if self.license().counts_consumption() {
            let _ = self.consumption.checkpoint();
        }
        self.local.save_clock()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_handle_is_send_and_sync() {
        fn check<T: Send + Sync>() {}
        check::<LicenseHandle>();
    }
}
