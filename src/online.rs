//! The online half (feature `online`): activation by license key or by
//! user, check-in, floating seats with a heart-beat thread, borrowing,
//! and the upload of consumption, against a license server speaking
//! docs/PROTOCOL.md.
//!
//! Every request is authorized with the product's shared key; every
//! answer must be signed by a key of the keyring over this request's
//! nonce, its status, its `Date` and its body, or it is refused
//! ([`Error::BadResponse`]) and changes nothing. The signed `Date` raises
//! the clock's high-water mark, so a clock turned back is caught by the
//! server's time as well as by the device's own history.
//!
//! Network errors and 5xx answers are retried with exponential backoff
//! and full jitter; a 4xx is a signed refusal and is never retried
//! ([`Error::ServerRefused`]). When the server cannot be reached
//! ([`Error::Network`]), the license keeps working offline until its
//! check-in expiry plus its grace period, as [`crate::LicenseHandle::check`]
//! reports.

use std::sync::mpsc;
use std::sync::{Arc, Mutex, OnceLock};
use std::thread::JoinHandle;
use std::time::Duration as StdDuration;

use chrono::{DateTime, Utc};
use serde_json::{json, Value};

use crate::activation::local::LocalConfig;
use crate::activation::Credential;
use crate::device::fingerprint::Fingerprint;
use crate::error::{Error, Result};
use crate::protocol::{format_http_date, request, verify_answer, ResponseHeaders};
use crate::runtime::clock::TrustedTime;
use crate::runtime::consumption::Pending;
use crate::runtime::handle::{LeaseStatus, LicenseHandle};
use crate::runtime::store::ActivationRecord;

/// The largest answer read from the server.
const MAX_ANSWER: u64 = 1024 * 1024;
/// The most consumption records one upload call carries.
const UPLOAD_BATCH: usize = 5_000;

/// Where the license server is and how to talk to it.
#[derive(Clone)]
pub struct ServerConfig {
    /// The server's base URL: `https://...`; `http://` only for a
    /// loopback address.
    pub url: String,
    /// The product's shared key (from the admin API, embedded in the product).
    pub product_key: Vec<u8>,
    /// A CA certificate (PEM) to trust instead of the system's roots.
    pub pinned_ca: Option<String>,
    /// How long one attempt may take, connecting included (default 10 s).
    pub timeout: StdDuration,
    /// How many attempts a call makes on network errors and 5xx (default 4).
    pub attempts: u32,
    /// The first backoff; it doubles with each retry, with full jitter
    /// (default 250 ms).
    pub backoff: StdDuration,
}

impl std::fmt::Debug for ServerConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServerConfig")
            .field("url", &self.url)
            .field("pinned_ca", &self.pinned_ca.is_some())
            .field("timeout", &self.timeout)
            .field("attempts", &self.attempts)
            .finish_non_exhaustive()
    }
}

impl ServerConfig {
    /// Defaults for everything but the address and the key. Proxies come
    /// from the environment (`HTTPS_PROXY`, `ALL_PROXY`, `NO_PROXY`).
    pub fn new(url: impl Into<String>, product_key: Vec<u8>) -> ServerConfig {
        ServerConfig {
            url: url.into().trim_end_matches('/').to_owned(),
            product_key,
            pinned_ca: None,
            timeout: StdDuration::from_secs(10),
            attempts: 4,
            backoff: StdDuration::from_millis(250),
        }
    }
}

/// One of a user's licenses, as [`Connection::user_licenses`] lists them.
#[derive(Debug, Clone)]
pub struct UserLicense {
    /// The id to activate it by.
    pub id: String,
    /// `perpetual`, `time-limited`, `subscription` or `consumption`.
    pub license_type: String,
    /// Whether it is a trial.
    pub is_trial: bool,
    /// Devices it is activated on.
    pub times_activated: u64,
    /// The whole license object as the server sent it (seed 003's fields).
    pub details: Value,
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

/// A signed answer.
struct Answer {
    body: Value,
}

/// A connection to the license server for one product on this device.
/// Cheap to share (`Arc`); calls from several threads may overlap.
pub struct Connection {
    agent: ureq::Agent,
    server: ServerConfig,
    local: LocalConfig,
    /// This device's fingerprint, collected on first use and kept, as a
    /// [`LicenseHandle`] keeps it for its life.
    device: OnceLock<Fingerprint>,
}

impl std::fmt::Debug for Connection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Connection")
            .field("server", &self.server)
            .field("product", &self.local.product)
            .finish_non_exhaustive()
    }
}

fn is_loopback(url: &str) -> bool {
    let rest = url.strip_prefix("http://").unwrap_or_default();
    let host = rest.split(['/', '?']).next().unwrap_or_default();
    let host = match host.rsplit_once(':') {
        Some((h, port)) if port.chars().all(|c| c.is_ascii_digit()) => h,
        _ => host,
    };
    host == "localhost"
        || host == "[::1]"
        || host
            .parse::<std::net::Ipv4Addr>()
            .is_ok_and(|ip| ip.is_loopback())
}

impl Connection {
    /// A connection for the product `local` configures. Refuses a plain
    /// `http://` URL that is not loopback, and a pinned CA that is not a
    /// PEM certificate.
    pub fn new(local: &LocalConfig, server: ServerConfig) -> Result<Connection> {
        if !server.url.starts_with("https://") && !is_loopback(&server.url) {
            return Err(Error::InvalidArgument(
                "the server URL must be https:// (http:// only for a loopback address)",
            ));
        }
        if server.product_key.is_empty() {
            return Err(Error::InvalidArgument("the product key is empty"));
        }
        let roots = match &server.pinned_ca {
            Some(pem) => {
                let certs: Vec<ureq::tls::Certificate<'static>> =
                    ureq::tls::parse_pem(pem.as_bytes())
                        .filter_map(|item| match item {
                            Ok(ureq::tls::PemItem::Certificate(c)) => Some(Ok(c)),
                            Ok(_) => None,
                            Err(_) => Some(Err(())),
                        })
                        .collect::<std::result::Result<_, ()>>()
                        .map_err(|_| {
                            Error::InvalidArgument("the pinned CA is not a PEM certificate")
                        })?;
                if certs.is_empty() {
                    return Err(Error::InvalidArgument("the pinned CA holds no certificate"));
                }
                ureq::tls::RootCerts::new_with_certs(&certs)
            }
            None => ureq::tls::RootCerts::PlatformVerifier,
        };
        let tls = ureq::tls::TlsConfig::builder()
            .provider(ureq::tls::TlsProvider::Rustls)
            .root_certs(roots)
            .build();
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .timeout_global(Some(server.timeout))
            .http_status_as_error(false)
            .proxy(ureq::Proxy::try_from_env())
            .tls_config(tls)
            .build()
            .into();
        Ok(Connection {
            agent,
            server,
            local: local.clone(),
            device: OnceLock::new(),
        })
    }

    fn fingerprint(&self) -> Result<Fingerprint> {
        if let Some(f) = self.device.get() {
            return Ok(f.clone());
        }
        let collected = self.local.fingerprint()?;
        Ok(self.device.get_or_init(|| collected).clone())
    }

    /// This device's part of every client request.
    fn device(&self) -> Result<Value> {
        let fingerprint = self.fingerprint()?;
        Ok(json!({ "product": self.local.product, "fingerprint": fingerprint }))
    }

    /// The request for the license activated here, named by id.
    fn activated(&self) -> Result<(Value, ActivationRecord)> {
        let record =
            crate::activation::local::current_activation(&self.local, self.fingerprint()?)?;
        let mut body = self.device()?;
        body["license_id"] = json!(record.license_id);
        Ok((body, record))
    }

    /// One signed call, retried on network errors and 5xx.
    fn call(&self, path: &str, body: &Value) -> Result<Answer> {
        let bytes = serde_json::to_vec(body)
            .map_err(|_| Error::InvalidArgument("the request cannot be encoded"))?;
        let mut last = String::new();
        for attempt in 0..self.server.attempts.max(1) {
            if attempt > 0 {
                std::thread::sleep(self.backoff(attempt));
            }
            match self.attempt(path, &bytes) {
                Ok(Some(answer)) => return Ok(answer),
                Ok(None) => last = "the server answered with a 5xx".into(),
                Err(Retry::Network(what)) => last = what,
                Err(Retry::Final(e)) => return Err(e),
            }
        }
        Err(Error::Network(last))
    }

    /// Full jitter: a uniform wait in [0, backoff × 2^(attempt-1)].
    fn backoff(&self, attempt: u32) -> StdDuration {
        let cap = self
            .server
            .backoff
            .saturating_mul(1u32 << attempt.saturating_sub(1).min(10));
        let fraction = match crate::util::random_bytes::<4>() {
            Ok(r) => f64::from(u32::from_le_bytes(r)) / f64::from(u32::MAX),
            Err(_) => 1.0,
        };
        cap.mul_f64(fraction)
    }

    /// One attempt: Ok(None) is a 5xx (retried).
    fn attempt(&self, path: &str, body: &[u8]) -> std::result::Result<Option<Answer>, Retry> {
        let nonce = hex::encode(crate::util::random_bytes::<16>().map_err(Retry::Final)?);
        let date = format_http_date(self.local.clock.now());
        let message = request::request_string(&date, "POST", path, body, &nonce);
        let signature = request::sign(&self.server.product_key, &message).map_err(Retry::Final)?;
        let authorization = request::authorization(&self.local.product, &signature);
        let sent = self
            .agent
            .post(format!("{}{path}", self.server.url))
            .header("content-type", "application/json")
            .header("date", &date)
            .header("tessera-nonce", &nonce)
            .header("authorization", &authorization)
            .send(body);
        let mut response = sent.map_err(|e| Retry::Network(describe(&e)))?;
        let status = response.status().as_u16();
        let header = |name: &str| {
            response
                .headers()
                .get(name)
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned)
        };
        let (server_date, echoed, signature) = (
            header("date"),
            header("tessera-nonce"),
            header("tessera-signature"),
        );
        let answer = response
            .body_mut()
            .with_config()
            .limit(MAX_ANSWER)
            .read_to_vec()
            .map_err(|e| Retry::Network(describe(&e)));
        if status >= 500 && signature.is_none() {
            // A proxy's or a gateway's 5xx: nobody signed it; try again.
            return Ok(None);
        }
        let answer = answer?;
        let headers = ResponseHeaders {
            date: server_date.as_deref(),
            nonce: echoed.as_deref(),
            signature: signature.as_deref(),
        };
        let verified = verify_answer(&self.local.keyring, &nonce, status, headers, &answer);
        let server_time = verified.map_err(Retry::Final)?;
        self.observe_server_time(server_time)
            .map_err(Retry::Final)?;
        if status >= 500 {
            return Ok(None);
        }
        let body: Value = serde_json::from_slice(&answer)
            .map_err(|_| Retry::Final(Error::BadResponse("the body is not JSON")))?;
        if status != 200 {
            return Err(Retry::Final(Error::ServerRefused {
                status,
                code: body["code"].as_str().unwrap_or("unknown").to_owned(),
                message: body["message"].as_str().unwrap_or_default().to_owned(),
            }));
        }
        Ok(Some(Answer { body }))
    }

    /// Raises the stored high-water mark to the server's signed time, and
    /// refuses a device clock more than the tolerance behind it.
    fn observe_server_time(&self, server_time: DateTime<Utc>) -> Result<()> {
        let store = self.local.store(self.fingerprint()?)?;
        let tolerance = self.local.clock_tolerance;
        store.update(|state| {
            let trusted = TrustedTime::new(state.high_water, tolerance);
            trusted.raise(server_time);
            state.high_water = trusted.high_water();
            Ok(())
        })?;
        let behind = (server_time - self.local.clock.now()).num_seconds();
        if behind > tolerance.num_seconds() {
            return Err(Error::ClockTampered {
                behind_secs: behind,
            });
        }
        Ok(())
    }

    fn license_file(answer: &Answer) -> Result<&str> {
        answer.body["license_file"]
            .as_str()
            .ok_or(Error::BadResponse("the answer holds no license file"))
    }

    /// Activates a license on this device: the server records the device
    /// (within `max_activations`) and answers a license file bound to it,
    /// which is verified and stored as [`crate::activate`] does.
    pub fn activate(&self, credential: &Credential) -> Result<ActivationRecord> {
        let mut body = self.device()?;
        match credential {
            Credential::LicenseKey(key) => body["license_key"] = json!(key),
            Credential::User {
                username,
                password: Some(password),
                license_id: Some(license_id),
            } => {
                body["username"] = json!(username);
                body["password"] = json!(password);
                body["license_id"] = json!(license_id);
            }
            Credential::User { .. } => {
                return Err(Error::InvalidArgument(
                    "activating a user's license online needs the password and the license id",
                ))
            }
        }
        let answer = self.call("/api/v1/activate_license", &body)?;
        crate::activation::local::activate(&self.local, Self::license_file(&answer)?.as_bytes())
    }

    /// A user's licenses for this product (username and password; seed 003).
    pub fn user_licenses(&self, username: &str, password: &str) -> Result<Vec<UserLicense>> {
        let body =
            json!({ "product": self.local.product, "username": username, "password": password });
        let answer = self.call("/api/v1/user_licenses", &body)?;
        let list = answer
            .body
            .as_array()
            .ok_or(Error::BadResponse("the answer is not a list"))?;
        list.iter()
            .map(|item| {
                Ok(UserLicense {
                    id: item["id"]
                        .as_str()
                        .ok_or(Error::BadResponse("a license without an id"))?
                        .to_owned(),
                    license_type: item["license_type"].as_str().unwrap_or_default().to_owned(),
                    is_trial: item["is_trial"].as_bool().unwrap_or(false),
                    times_activated: item["times_activated"].as_u64().unwrap_or(0),
                    details: item.clone(),
                })
            })
            .collect()
    }

    /// A trial license key for this device (the same one when asked again).
    pub fn trial_key(&self, email: Option<&str>) -> Result<String> {
        let mut body = self.device()?;
        if let Some(e) = email {
            body["email"] = json!(e);
        }
        let answer = self.call("/api/v1/trial_key", &body)?;
        Ok(answer.body["license_key"]
            .as_str()
            .ok_or(Error::BadResponse("the answer holds no key"))?
            .to_owned())
    }

    /// Checks in: a fresh license file (new expiry, the vendor's changes)
    /// replaces the stored one. Reopen handles to see it.
    pub fn check_in(&self) -> Result<ActivationRecord> {
        let (body, _) = self.activated()?;
        let answer = self.call("/api/v1/check_license", &body)?;
        crate::activation::local::activate(&self.local, Self::license_file(&answer)?.as_bytes())
    }

    /// What a product runs on its check-in timer (see
    /// [`LicenseHandle::next_check_in`]): uploads the consumption not yet
    /// acknowledged, checks in, and answers the handle reopened on the
    /// fresh file, its lease and counters included (the old handle keeps
    /// the old file). Offline it fails with [`Error::Network`], and the old
    /// handle keeps working until the check-in expiry plus grace.
    pub fn sync(&self, handle: &LicenseHandle) -> Result<LicenseHandle> {
        self.upload_consumption(handle)?;
        self.check_in()?;
        LicenseHandle::open(&self.local)
    }

    /// Frees this device's slot on the server, then removes the local
    /// activation. Nothing changes here when the server cannot be reached.
    pub fn deactivate(&self) -> Result<()> {
        let (body, record) = self.activated()?;
        self.call("/api/v1/deactivate_license", &body)?;
        crate::activation::local::deactivate(&self.local, &record.license_id)?;
        Ok(())
    }

    fn install(&self, handle: &LicenseHandle, answer: &Answer) -> Result<LeaseStatus> {
        let lease = answer.body["lease"]
            .as_str()
            .ok_or(Error::BadResponse("the answer holds no lease"))?;
        handle.install_lease(lease.as_bytes())
    }

    /// Takes a floating seat: a lease of `floating_timeout` minutes,
    /// installed in `handle`. See [`FloatingSession`] to keep it.
    pub fn register(&self, handle: &LicenseHandle) -> Result<LeaseStatus> {
        let (body, _) = self.activated()?;
        let answer = self.call("/api/v1/floating/register", &body)?;
        self.install(handle, &answer)
    }

    /// Renews the seat; a lapsed seat is taken again if one is free.
    pub fn heartbeat(&self, handle: &LicenseHandle) -> Result<LeaseStatus> {
        let (body, _) = self.activated()?;
        match self.call("/api/v1/floating/heartbeat", &body) {
            Ok(answer) => self.install(handle, &answer),
            Err(Error::ServerRefused { code, .. }) if code == "no_lease" => self.register(handle),
            Err(e) => Err(e),
        }
    }

    /// Gives the seat back.
    pub fn release(&self) -> Result<()> {
        let (body, _) = self.activated()?;
        self.call("/api/v1/floating/release", &body)?;
        Ok(())
    }

    /// Borrows a seat for `hours` (at most `max_borrow_time`): the lease
    /// is installed and survives restarts, for use offline.
    pub fn borrow(&self, handle: &LicenseHandle, hours: u32) -> Result<LeaseStatus> {
        let (mut body, _) = self.activated()?;
        body["hours"] = json!(hours);
        let answer = self.call("/api/v1/floating/borrow", &body)?;
        self.install(handle, &answer)
    }

    /// Returns a borrowed seat early: to the server, then here.
    pub fn return_borrow(&self, handle: &LicenseHandle) -> Result<()> {
        self.release()?;
        handle.return_borrow()
    }

    /// Uploads the consumption not yet acknowledged, oldest first, and
    /// acknowledges what the server kept. The server keeps a record once
    /// per journal sequence number, so a retry, a duplicate or an upload
    /// cut off before its acknowledgement never counts twice.
    pub fn upload_consumption(&self, handle: &LicenseHandle) -> Result<Upload> {
        let pending = handle.pending_uploads()?;
        let mut report = Upload::default();
        for batch in pending.chunks(UPLOAD_BATCH) {
            let (mut body, _) = self.activated()?;
            body["records"] = Value::from(batch.iter().map(record).collect::<Vec<_>>());
            let answer = self.call("/api/v1/add_consumption", &body)?;
            report.sent += batch.len();
            report.new += answer.body["accepted"].as_u64().unwrap_or(0);
            let last = batch.iter().map(|p| p.last_seq).max().unwrap_or(0);
            handle.acknowledge_upload(last)?;
            report.acknowledged = last;
        }
        Ok(report)
    }
}

fn record(p: &Pending) -> Value {
    json!({ "first_seq": p.first_seq, "seq": p.last_seq, "counter": p.counter, "amount": p.amount })
}

enum Retry {
    Network(String),
    Final(Error),
}

/// What went wrong on the wire, in words (never a URL's credentials).
fn describe(e: &ureq::Error) -> String {
    match e {
        ureq::Error::Timeout(_) => "timed out".into(),
        ureq::Error::HostNotFound => "host not found".into(),
        ureq::Error::ConnectionFailed => "connection failed".into(),
        ureq::Error::Io(io) => format!("i/o: {}", io.kind()),
        ureq::Error::Tls(_) | ureq::Error::Rustls(_) => "TLS handshake failed".into(),
        ureq::Error::BodyExceedsLimit(_) => "the answer is too large".into(),
        other => format!("{other}").chars().take(120).collect(),
    }
}

/// A floating seat kept alive: registered on open, renewed from a
/// background thread every `interval`, released on [`close`] or drop.
/// With the connection lost, the seat stays usable until its lease
/// expires, and not longer ([`LicenseHandle::check`] says so).
///
/// [`close`]: FloatingSession::close
pub struct FloatingSession {
    connection: Arc<Connection>,
    handle: Arc<Mutex<Arc<LicenseHandle>>>,
    stop: Option<mpsc::Sender<()>>,
    thread: Option<JoinHandle<()>>,
    last_error: Arc<Mutex<Option<Error>>>,
    released: bool,
}

impl std::fmt::Debug for FloatingSession {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FloatingSession").finish_non_exhaustive()
    }
}

impl FloatingSession {
    /// Registers a seat and starts heart-beating it every `interval`
    /// (keep it well under `floating_timeout`).
    pub fn open(
        connection: Arc<Connection>,
        handle: Arc<LicenseHandle>,
        interval: StdDuration,
    ) -> Result<FloatingSession> {
        connection.register(&handle)?;
        let (stop, stopped) = mpsc::channel::<()>();
        let last_error = Arc::new(Mutex::new(None));
        let handle = Arc::new(Mutex::new(handle));
        let (conn, errors, current) = (
            Arc::clone(&connection),
            Arc::clone(&last_error),
            Arc::clone(&handle),
        );
        let thread = std::thread::Builder::new()
            .name("tessera-heartbeat".into())
            .spawn(move || loop {
                match stopped.recv_timeout(interval) {
                    Err(mpsc::RecvTimeoutError::Timeout) => {}
                    // Asked to stop, or the session is gone.
                    _ => return,
                }
                let handle = Arc::clone(&current.lock().unwrap_or_else(|p| p.into_inner()));
                let result = conn.heartbeat(&handle);
                *errors.lock().unwrap_or_else(|p| p.into_inner()) = result.err();
            })
            .map_err(|e| Error::io(&e, "starting the heartbeat thread"))?;
        Ok(FloatingSession {
            connection,
            handle,
            stop: Some(stop),
            thread: Some(thread),
            last_error,
            released: false,
        })
    }

    /// Heart-beats now (after a resume from sleep, say) and answers the
    /// renewed lease.
    pub fn beat(&self) -> Result<LeaseStatus> {
        let handle = Arc::clone(&self.handle.lock().unwrap_or_else(|p| p.into_inner()));
        self.connection.heartbeat(&handle)
    }

    /// Installs the following leases in `handle` from now on: the one
    /// [`Connection::sync`] answered.
    pub fn follow(&self, handle: Arc<LicenseHandle>) {
        *self.handle.lock().unwrap_or_else(|p| p.into_inner()) = handle;
    }

    /// The last heartbeat's error, if it failed (taken: asking again
    /// answers None until the next failure).
    pub fn last_error(&self) -> Option<Error> {
        self.last_error
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .take()
    }

    fn stop_thread(&mut self) {
        self.stop.take();
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }

    /// Stops heart-beating and gives the seat back.
    pub fn close(mut self) -> Result<()> {
        self.stop_thread();
        self.released = true;
        self.connection.release()
    }
}

impl Drop for FloatingSession {
    fn drop(&mut self) {
        self.stop_thread();
        if !self.released {
            // Best effort: unreleased, the seat comes free at its timeout.
            let _ = self.connection.release();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_loopback_may_be_plain_http() {
        for url in [
            "http://127.0.0.1:8787",
            "http://127.0.0.1",
            "http://localhost:1/x",
            "http://[::1]:80",
        ] {
            assert!(is_loopback(url), "{url}");
        }
        for url in [
            "http://10.0.0.1:8787",
            "http://example.com",
            "http://127.0.0.1.example.com",
            "https://127.0.0.1",
        ] {
            assert!(!is_loopback(url), "{url}");
        }
    }
}
