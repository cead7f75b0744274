//! The calls a product makes on its license server, each through the
//! [transport](super::transport): activation, check-in and sync,
//! deactivation, floating seats, borrowing, and the upload of consumption.

use std::sync::OnceLock;

use crate::Time;
use serde_json::Value;

use super::transport::{Answer, Caller, ServerConfig, Transport};
use crate::activation::Credential;
use crate::error::{Error, Result};
use crate::format::fingerprint::Fingerprint;
use crate::protocol::bodies::{
    BorrowRequest, ConsumptionAnswer, ConsumptionRecord, ConsumptionRequest, DeviceRequest,
    LatestReleaseAnswer, LeaseAnswer, LicenseAndDevice, LicenseFileAnswer, Password, Release,
    ReleaseRequest, TrialKeyAnswer, TrialRequest, UserLicenseAnswer, UserLicensesRequest,
};
use crate::runtime::config::LocalConfig;
use crate::runtime::consumption::Pending;
use crate::runtime::handle::{LeaseStatus, LicenseHandle};
use crate::runtime::store::{ActivationRecord, DeviceSecret};

/// The most consumption records one upload call carries.
const UPLOAD_BATCH: usize = 5_000;

/// One of a user's licenses, as [`Connection::user_licenses`] lists them.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct UserLicense {
    /// The id to activate it by.
    pub id: String,
    /// `perpetual`, `time-limited`, `subscription` or `consumption`.
    pub license_type: String,
    /// Whether it is a trial.
    pub is_trial: bool,
    /// Devices it is activated on.
    pub times_activated: u64,
    /// The whole license object as the server sent it (seed 003's
    /// fields), as JSON text.
    pub details: String,
}

/// What an upload did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Upload {
    /// Pending records sent.
    pub sent: usize,
    /// Of those, the ones the server had not seen before.
    pub new: u64,
    /// The last journal sequence number now acknowledged (0: none).
    pub acknowledged: u64,
}
/// A connection to the license server for one product on this device.
/// Cheap to share (`Arc`); calls from several threads may overlap.
pub struct Connection {
    transport: Transport,
    local: LocalConfig,
    /// This device's fingerprint, collected on first use and kept, as a
    /// [`LicenseHandle`] keeps it for its life.
    device: OnceLock<Fingerprint>,
    /// This device's key for the server, made on first use and kept.
    device_key: OnceLock<ed25519_dalek::SigningKey>,
}

impl std::fmt::Debug for Connection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Connection")
            .field("server", &self.transport.server)
            .field("product", &self.local.product)
            .finish_non_exhaustive()
    }
}
impl Connection {
    /// A connection for the product `local` configures. Refuses a plain
    /// `http://` URL that is not loopback, and a pinned CA that is not a
    /// PEM certificate.
    pub fn new(local: &LocalConfig, server: ServerConfig) -> Result<Connection> {
        Ok(Connection {
            transport: Transport::new(server)?,
            local: local.clone(),
            device: OnceLock::new(),
            device_key: OnceLock::new(),
        })
    }

    /// The product's configuration.
    pub(super) fn local(&self) -> &LocalConfig {
        &self.local
    }

    /// The wire to the server.
    pub(super) fn transport(&self) -> &Transport {
        &self.transport
    }

    fn fingerprint(&self) -> Result<Fingerprint> {
        if let Some(f) = self.device.get() {
            return Ok(f.clone());
        }
        let collected = self.local.fingerprint()?;
        Ok(self.device.get_or_init(|| collected).clone())
    }

    /// This device's part of every client request.
    fn device(&self) -> Result<LicenseAndDevice> {
        Ok(LicenseAndDevice::new(
            self.local.product.clone(),
            self.fingerprint()?,
        ))
    }

    /// The request for the license activated here, named by id.
    fn activated(&self) -> Result<(LicenseAndDevice, ActivationRecord)> {
        let record =
            crate::activation::direct::current_activation(&self.local, self.fingerprint()?)?;
        let mut who = self.device()?;
        who.license_id = Some(record.license_id.clone());
        Ok((who, record))
    }

    /// This device's key for the license server: Ed25519, seeded by an
    /// HMAC of the fingerprint id under a random secret kept in the state
    /// (made at the first call). The server records its public half at the
    /// activation and checks the proof it signs on every later request
    /// about this device, so knowing the license id and the fingerprint id
    /// is not enough to act for the device (docs/PROTOCOL.md).
    fn device_key(&self) -> Result<ed25519_dalek::SigningKey> {
        if let Some(key) = self.device_key.get() {
            return Ok(key.clone());
        }
        let fingerprint = self.fingerprint()?;
        let store = self.local.store(fingerprint.clone())?;
        let secret = match store.load()?.kept.device_secret {
            Some(secret) => secret,
            None => store.update(|state| {
                if state.kept.device_secret.is_none() {
                    state.kept.device_secret = Some(DeviceSecret::new()?);
                }
                state
                    .kept
                    .device_secret
                    .clone()
                    .ok_or(Error::StoreCorrupt("the device secret was not kept"))
            })?,
        };
        let mut mac = crate::keyed_hash::keyed(secret.0.as_bytes());
        hmac::Mac::update(&mut mac, b"tessera/v1/online-device-key\0");
        hmac::Mac::update(&mut mac, fingerprint.id.as_bytes());
        let seed: [u8; 32] = hmac::Mac::finalize(mac).into_bytes().into();
        let key = ed25519_dalek::SigningKey::from_bytes(&seed);
        Ok(self.device_key.get_or_init(|| key).clone())
    }

    /// The caller of every request: the product, and this device's key.
    fn with_caller<T>(&self, f: impl FnOnce(&Caller<'_>) -> Result<T>) -> Result<T> {
        let device = self.device_key()?;
        f(&Caller {
            local: &self.local,
            device: &device,
        })
    }

    /// One signed call; every verified answer's time reaches the clock.
    pub(super) fn call(&self, path: &str, body: &impl serde::Serialize) -> Result<Answer> {
        self.with_caller(|caller| {
            self.transport
                .call(caller, path, body, &|time| self.observe_server_time(time))
        })
    }

    /// Sets the stored high-water mark to the server's signed time (fresh:
    /// the answer is bound to this request's nonce), raising it, or
    /// lowering it when the device once ran ahead (a PC imaged with a
    /// future date recovers at its next check-in); and refuses a device
    /// clock more than the tolerance behind it.
    fn observe_server_time(&self, server_time: Time) -> Result<()> {
        let store = self.local.store(self.fingerprint()?)?;
        store.update(|state| {
            state.high_water = Some(server_time);
            Ok(())
        })?;
        let behind = server_time
            .unix()
            .saturating_sub(self.local.clock.now().unix());
        if behind > i64::try_from(self.local.clock_tolerance.as_secs()).unwrap_or(i64::MAX) {
            return Err(Error::ClockTampered {
                behind_secs: behind,
            });
        }
        Ok(())
    }

    fn license_file(answer: &Answer) -> Result<String> {
        read_answer::<LicenseFileAnswer>(answer, "the answer holds no license file")
            .map(|a| a.license_file)
    }

    /// Activates a license on this device: the server records the device
    /// (within `max_activations`) and answers a license file bound to it,
    /// which is verified and stored as [`crate::activate`] does.
    pub fn activate(&self, credential: &Credential) -> Result<ActivationRecord> {
        let mut who = self.device()?;
        // The public half of the key that will prove this device's later
        // requests.
        let device_key = self.device_key()?.verifying_key();
        who.device_key =
            Some(crate::format::keys::PublicKey::from_bytes(device_key.as_bytes())?.to_base64());
        match credential {
            Credential::LicenseKey(key) => who.license_key = Some(key.clone()),
            Credential::User {
                username,
                password: Some(password),
                license_id: Some(license_id),
            } => {
                who.username = Some(username.clone());
                who.password = Some(Password::new(password.as_str()));
                who.license_id = Some(license_id.clone());
            }
            Credential::User { .. } => {
                return Err(Error::InvalidArgument(
                    "activating a user's license online needs the password and the license id",
                ))
            }
        }
        self.activate_as(who)
    }

    /// Activates for a desktop sign-in (docs/SIGN-IN.md): the provider's
    /// `id_token` names the user in place of a password; the license is
    /// `license_id`, or the user's only one of this product from `account`.
    pub(super) fn activate_with_token(
        &self,
        account: &str,
        id_token: &str,
        license_id: Option<&str>,
    ) -> Result<ActivationRecord> {
        let mut who = self.device()?;
        let device_key = self.device_key()?.verifying_key();
        who.device_key =
            Some(crate::format::keys::PublicKey::from_bytes(device_key.as_bytes())?.to_base64());
        who.sso_account = Some(account.to_owned());
        who.id_token = Some(Password::new(id_token));
        who.license_id = license_id.map(str::to_owned);
        self.activate_as(who)
    }

    fn activate_as(&self, who: LicenseAndDevice) -> Result<ActivationRecord> {
        let answer = self.call("/api/v1/activate_license", &DeviceRequest::new(who))?;
        let record = crate::activation::direct::activate(
            &self.local,
            Self::license_file(&answer)?.as_bytes(),
        )?;
        log::info!("activated license {} online", record.license_id);
        Ok(record)
    }

    /// A user's licenses for this product (username and password; seed 003).
    pub fn user_licenses(&self, username: &str, password: &str) -> Result<Vec<UserLicense>> {
        let body = UserLicensesRequest::new(
            self.local.product.clone(),
            username,
            Password::new(password),
        );
        let answer = self.call("/api/v1/user_licenses", &body)?;
        let list = read_answer::<Vec<UserLicenseAnswer>>(&answer, "the answer is not a list")?;
        list.into_iter()
            .map(|item| {
                let text = |k: &str| item.license.get(k).and_then(Value::as_str);
                Ok(UserLicense {
                    id: text("id")
                        .ok_or(Error::BadResponse("a license without an id"))?
                        .to_owned(),
                    license_type: text("license_type").unwrap_or_default().to_owned(),
                    is_trial: item
                        .license
                        .get("is_trial")
                        .and_then(Value::as_bool)
                        .unwrap_or(false),
                    times_activated: u64::from(item.times_activated),
                    details: serde_json::to_string(&item)
                        .map_err(|_| Error::BadResponse("a license that is not an object"))?,
                })
            })
            .collect()
    }

    /// A trial license key for this device (the same one when asked again).
    pub fn trial_key(&self, email: Option<&str>) -> Result<String> {
        let body = TrialRequest::new(
            self.local.product.clone(),
            self.fingerprint()?,
            email.map(str::to_owned),
        );
        let answer = self.call("/api/v1/trial_key", &body)?;
        read_answer::<TrialKeyAnswer>(&answer, "the answer holds no key").map(|a| a.license_key)
    }

    /// Checks in: a fresh license file (new expiry, the vendor's changes)
    /// replaces the stored one. Open handles see it after
    /// [`LicenseHandle::reload`] ([`Connection::sync`] does both).
    ///
    /// The fresh file is kept even when it makes the license unusable (the
    /// vendor expired or changed it): the handle then reports that status,
    /// instead of the old file working on until its check-in expiry.
    pub fn check_in(&self) -> Result<ActivationRecord> {
        let (who, record) = self.activated()?;
        let answer = self.call("/api/v1/check_license", &DeviceRequest::new(who))?;
        let fresh = crate::activation::direct::refresh(
            &self.local,
            Self::license_file(&answer)?.as_bytes(),
            &record.license_id,
        )?;
        log::info!("checked in: a fresh file for license {}", fresh.license_id);
        Ok(fresh)
    }

    /// What a product runs on its check-in timer (see
    /// [`LicenseHandle::next_check_in`]), or lets [`AutoSync`](super::AutoSync)
    /// run: uploads the consumption not yet acknowledged, checks in, and
    /// switches `handle` in place to the fresh file, its lease and counters
    /// included. Offline it fails with [`Error::Network`], and the handle
    /// keeps working until the check-in expiry plus grace.
    /// A license the vendor disabled refuses the upload (its records wait
    /// for it to be enabled again) but still answers the check-in with a
    /// file that says so: the handle then reports
    /// [`Status::Disabled`](crate::Status::Disabled).
    pub fn sync(&self, handle: &LicenseHandle) -> Result<()> {
        match self.upload_consumption(handle) {
            Err(Error::ServerRefused { code, .. }) if code == "license_disabled" => {}
            other => {
                other?;
            }
        }
        self.check_in()?;
        handle.reload()
    }

    /// The update check: the newest release of the product that this
    /// device's license may install (its maintenance period decides), or
    /// None. With `current_version` (the version installed now), only a
    /// newer release whose minimum version it meets; with `channel`, only
    /// that channel's releases. Needs the activation; changes nothing.
    pub fn latest_release(
        &self,
        current_version: Option<&str>,
        channel: Option<&str>,
    ) -> Result<Option<Release>> {
        let (who, _) = self.activated()?;
        let body = ReleaseRequest::new(
            who,
            current_version.map(str::to_owned),
            channel.map(str::to_owned),
        );
        let answer = self.call("/api/v1/latest_release", &body)?;
        read_answer::<LatestReleaseAnswer>(&answer, "the answer holds no release")
            .map(|a| a.release)
    }

    /// Frees this device's slot on the server, then removes the local
    /// activation. Nothing changes here when the server cannot be reached.
    pub fn deactivate(&self) -> Result<()> {
        let (who, record) = self.activated()?;
        self.call("/api/v1/deactivate_license", &DeviceRequest::new(who))?;
        crate::activation::direct::deactivate(&self.local, &record.license_id)?;
        log::info!("deactivated license {}", record.license_id);
        Ok(())
    }

    fn install(&self, handle: &LicenseHandle, answer: &Answer) -> Result<LeaseStatus> {
        let answer = read_answer::<LeaseAnswer>(answer, "the answer holds no lease")?;
        handle.install_lease(answer.lease.as_bytes())
    }

    /// Takes a floating seat: a lease of `floating_timeout` minutes,
    /// installed in `handle`. See [`FloatingSession`](super::FloatingSession) to keep it.
    pub fn register(&self, handle: &LicenseHandle) -> Result<LeaseStatus> {
        let (who, _) = self.activated()?;
        let answer = self.call("/api/v1/floating/register", &DeviceRequest::new(who))?;
        self.install(handle, &answer)
    }

    /// Renews the seat; a lapsed seat is taken again if one is free.
    pub fn heartbeat(&self, handle: &LicenseHandle) -> Result<LeaseStatus> {
        let (who, _) = self.activated()?;
        match self.call("/api/v1/floating/heartbeat", &DeviceRequest::new(who)) {
            Ok(answer) => self.install(handle, &answer),
            Err(Error::ServerRefused { code, .. }) if code == "no_lease" => self.register(handle),
            Err(e) => Err(e),
        }
    }

    /// Gives the seat back on the server. The handle's lease stays until
    /// it ends; [`FloatingSession::close`](super::FloatingSession::close)
    /// forgets it too.
    pub fn release(&self) -> Result<()> {
        let (who, _) = self.activated()?;
        self.call("/api/v1/floating/release", &DeviceRequest::new(who))?;
        Ok(())
    }

    /// Gives the seat back in one attempt of at most `deadline`: what a
    /// destructor may afford (unreleased, a seat comes free at its timeout).
    pub(super) fn release_briefly(&self, deadline: std::time::Duration) -> Result<()> {
        let (who, _) = self.activated()?;
        let body = DeviceRequest::new(who);
        let observe = |time| self.observe_server_time(time);
        self.with_caller(|caller| {
            self.transport.call_within(
                caller,
                "/api/v1/floating/release",
                &body,
                &observe,
                1,
                deadline,
            )
        })?;
        Ok(())
    }

    /// Borrows a seat for `hours` (at most `max_borrow_time`): the lease
    /// is installed and survives restarts, for use offline.
    pub fn borrow(&self, handle: &LicenseHandle, hours: u32) -> Result<LeaseStatus> {
        let (who, _) = self.activated()?;
        let answer = self.call("/api/v1/floating/borrow", &BorrowRequest::new(who, hours))?;
        self.install(handle, &answer)
    }

    /// Returns a borrowed seat early: to the server, then here.
    /// The server keeps the seat counted until the borrow would have ended
    /// (a returned borrow could be restored from a copy of the device's
    /// state and used offline to its end; SECURITY.md); support's device
    /// removal frees it at once.
    pub fn return_borrow(&self, handle: &LicenseHandle) -> Result<()> {
        self.release()?;
        handle.return_borrow()
    }

    /// Uploads the consumption not yet acknowledged, oldest first, and
    /// acknowledges what the server kept. The server keeps a record once
    /// per journal sequence number and chain MAC, so a retry, a duplicate
    /// or an upload cut off before its acknowledgement never counts twice,
    /// and a journal that started again (its sequence numbers reused by
    /// other records) is counted all the same.
    pub fn upload_consumption(&self, handle: &LicenseHandle) -> Result<Upload> {
        let pending = handle.pending_uploads()?;
        let mut report = Upload::default();
        for batch in pending.chunks(UPLOAD_BATCH) {
            let (who, _) = self.activated()?;
            let body = ConsumptionRequest::new(who, batch.iter().map(record).collect());
            let answer = self.call("/api/v1/add_consumption", &body)?;
            let answer = read_answer::<ConsumptionAnswer>(&answer, "the answer counts no records")?;
            report.sent += batch.len();
            report.new += answer.accepted;
            let last = batch.iter().map(|p| p.last_seq).max().unwrap_or(0);
            handle.acknowledge_upload(last)?;
            report.acknowledged = last;
        }
        if report.sent > 0 {
            log::info!(
                "uploaded {} consumption record(s), {} new; acknowledged up to {}",
                report.sent,
                report.new,
                report.acknowledged
            );
        }
        Ok(report)
    }
}

fn record(p: &Pending) -> ConsumptionRecord {
    let mac = (!p.mac.is_empty()).then(|| p.mac.clone());
    ConsumptionRecord::new(p.first_seq, p.last_seq, p.counter.clone(), p.amount, mac)
}

/// The answer's body as the type `T` the call answers with.
pub(super) fn read_answer<T: serde::de::DeserializeOwned>(
    answer: &Answer,
    missing: &'static str,
) -> Result<T> {
    T::deserialize(&answer.body).map_err(|_| Error::BadResponse(missing))
}
