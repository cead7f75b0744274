//! Offline activation and deactivation: files carried by hand.
//!
//! 1. The product writes a request ([`request_activation`]): the license
//!    key or user, this device's fingerprint, a fresh nonce and the time,
//!    signed by the device's own key so that any edit shows. The request is
//!    remembered as pending until its response is imported.
//! 2. The vendor answers it (`tessera offline respond`, or the license
//!    server's activate_offline): a response signed by the vendor's key,
//!    holding the request's id (the SHA-256 of its text) and a license file
//!    bound to the request's device.
//! 3. The product imports the response ([`import_response`]): it must be
//!    signed by a trusted key, answer the pending request (not an older
//!    one: a replay), and be for this device. The activation and the end of
//!    the pending request are one atomic write.
//!
//! Deactivation ([`request_deactivation`]) removes the activation first and
//! then hands back a request, signed by the same device key, that the
//! vendor imports to free the slot: the product cannot keep running after
//! giving the seat back.
//!
//! The device key is derived from the store's integrity key and the
//! device's fingerprint, so it needs no storage and is the same for the
//! activation request and the later deactivation of that device. A request
//! is self-signed: its signature proves the request was not edited and
//! names the device key, not any authority; the vendor reads the key from
//! the payload, verifies, and only then acts (docs/FORMAT.md §9).

use std::fmt;
use std::time::Duration;

use crate::Time;
use ed25519_dalek::Signer as _;
use serde::{Deserialize, Serialize};

use crate::activation::direct::{self, Route};
use crate::activation::Credential;
use crate::error::{Error, Result};
use crate::format::armor;
use crate::format::fingerprint::Fingerprint;
use crate::format::keys::{KeyId, Keyring, PublicKey};
use crate::runtime::config::LocalConfig;
use crate::runtime::store::{ActivationRecord, PendingRequest, State, Store};
use crate::util::random_bytes;

use crate::format::armor::{OFFLINE_REQUEST as REQUEST, OFFLINE_RESPONSE as RESPONSE};

const FORMAT: u32 = 1;

/// The most days a license file answered to an offline request may run
/// before it expires: every answer expires, whoever writes it, so an
/// activation restored from an old copy of the state (after a deactivation
/// was sent) lasts at most this long, plus grace (SECURITY.md).
pub const ANSWER_DAYS: u64 = 30;

/// Whether `license` may be handed to a device in an offline answer: it
/// expires, at most [`ANSWER_DAYS`] after it was issued.
fn expires_as_an_answer_must(license: &crate::format::license::License) -> Result<()> {
    let latest = license
        .issued_at
        .checked_add(Duration::from_secs(ANSWER_DAYS * 86_400));
    match (license.expires_at, latest) {
        (Some(end), Some(latest)) if end <= latest => Ok(()),
        _ => Err(Error::InvalidPayload(format!(
            "a license file in an offline answer must expire at most {ANSWER_DAYS} days after it is issued (its expires_at); the device renews it with another request"
        ))),
    }
}

/// What a request asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Action {
    /// Activate a license on the device.
    Activate,
    /// Free the device's slot: the device already removed the activation.
    Deactivate,
}

/// The payload of a request.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Request {
    /// Payload format; 1.
    pub format: u32,
    /// Activate or deactivate.
    pub action: Action,
    /// The product's short code.
    pub product: String,
    /// The license key (activation by key).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub license_key: Option<String>,
    /// The user (activation of a user-based license).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub username: Option<String>,
    /// The license being given back (deactivation).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub license_id: Option<String>,
    /// The device's fingerprint.
    pub device: Fingerprint,
    /// The device's public key (base64 of 32 bytes), which signed the request.
    pub device_key: String,
    /// 16 random bytes, hex: no two requests are alike.
    pub nonce: String,
    /// When the request was written (the device's clock).
    pub created_at: Time,
}

impl fmt::Debug for Request {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Request")
            .field("action", &self.action)
            .field("product", &self.product)
            .field(
                "license_key",
                &self.license_key.as_ref().map(|_| "redacted"),
            )
            .field("username", &self.username)
            .field("license_id", &self.license_id)
            .field("device", &self.device.id)
            .field("nonce", &self.nonce)
            .field("created_at", &self.created_at)
            .finish()
    }
}

/// The payload of a response.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Response {
    /// Payload format; 1.
    pub format: u32,
    /// The id of the request it answers ([`request_id`]).
    pub request: String,
    /// The product's short code.
    pub product: String,
    /// The device it is for (the request's).
    pub device: Fingerprint,
    /// The signed license file, bound to that device.
    pub license_file: String,
    /// When the vendor answered.
    pub issued_at: Time,
}

/// The id of a request: the SHA-256 of its armored text with surrounding
/// whitespace removed and CRLF line breaks read as LF, as 64 hex digits
/// (a request converted to CRLF on its way to the vendor keeps its id).
pub fn request_id(text: &[u8]) -> String {
    hex::encode(crate::util::text_digest(text))
}

/// This device's key for `fingerprint`: a seed derived from the store's
/// integrity key (product and vendor secret) and the fingerprint id.
fn device_key(store: &Store, fingerprint: &Fingerprint) -> ed25519_dalek::SigningKey {
    let mut mac = crate::keyed_hash::keyed(store.key());
    hmac::Mac::update(&mut mac, b"tessera/v1/device-key\0");
    hmac::Mac::update(&mut mac, fingerprint.id.as_bytes());
    let seed: [u8; 32] = hmac::Mac::finalize(mac).into_bytes().into();
    ed25519_dalek::SigningKey::from_bytes(&seed)
}

fn seal_request(
    store: &Store,
    fingerprint: &Fingerprint,
    fill: impl FnOnce(&mut Request),
    now: Time,
) -> Result<String> {
    let key = device_key(store, fingerprint);
    let public = PublicKey::from_bytes(key.verifying_key().as_bytes())?;
    let mut request = Request {
        format: FORMAT,
        action: Action::Activate,
        product: String::new(),
        license_key: None,
        username: None,
        license_id: None,
        device: fingerprint.clone(),
        device_key: public.to_base64(),
        nonce: hex::encode(random_bytes::<16>()?),
        created_at: now,
    };
    fill(&mut request);
    let payload = serde_json::to_vec(&request)
        .map_err(|_| Error::InvalidArgument("the request cannot be encoded"))?;
    armor::seal_with(&REQUEST, public.id(), &payload, |m| key.sign(m).to_bytes())
}

/// Writes an activation request for `credential` on this device and
/// remembers it as pending (a newer request replaces an older one, whose
/// response is then refused). Returns the request's armored text.
pub fn request_activation(config: &LocalConfig, credential: &Credential) -> Result<String> {
    let (license_key, username) = match credential {
        Credential::LicenseKey(k) if k.trim().is_empty() => {
            return Err(Error::InvalidArgument("the license key is empty"))
        }
        Credential::User { username, .. } if username.trim().is_empty() => {
            return Err(Error::InvalidArgument("the username is empty"))
        }
        Credential::User {
            password: Some(_), ..
        } => {
            return Err(Error::InvalidArgument(
                "an offline request never carries a password: the user gives it to the vendor",
            ))
        }
        Credential::LicenseKey(k) => (Some(k.clone()), None),
        Credential::User { username, .. } => (None, Some(username.clone())),
    };
    let device = config.fingerprint()?;
    let store = config.store(device.clone())?;
    let now = config.clock.now();
    let text = seal_request(
        &store,
        &device,
        |r| {
            r.product = config.product.clone();
            r.license_key = license_key;
            r.username = username;
        },
        now,
    )?;
    let pending = PendingRequest {
        id: request_id(text.as_bytes()),
        request: text.clone(),
    };
    store.update(|state| {
        state.kept.offline_request = Some(pending);
        Ok(())
    })?;
    Ok(text)
}

/// The pending request's text, to write it out again; `None` when no
/// request waits.
pub fn pending_request(config: &LocalConfig) -> Result<Option<String>> {
    let store = config.store(config.fingerprint()?)?;
    Ok(pending(&store.load()?).map(|p| p.request))
}

fn pending(state: &State) -> Option<PendingRequest> {
    state.kept.offline_request.clone()
}

/// Verifies a response, checks it answers this device's pending request,
/// and activates the license in it. Refused, changing nothing, when it is
/// not signed by a trusted key, answers an older request
/// ([`Error::OfflineReplay`]), is for another device, or when no request
/// is pending.
pub fn import_response(config: &LocalConfig, text: &[u8]) -> Result<ActivationRecord> {
    let opened = armor::open(&RESPONSE, text, &config.keyring)?;
    let response: Response = serde_json::from_slice(opened.payload())
        .map_err(|e| Error::InvalidPayload(format!("offline response: {e}")))?;
    if response.format != FORMAT {
        return Err(Error::UnsupportedVersion);
    }
    let device = config.fingerprint()?;
    let store = config.store(device.clone())?;
    let waiting = pending(&store.load()?).ok_or(Error::OfflineNoRequest)?;
    if waiting.id != response.request {
        return Err(Error::OfflineReplay);
    }
    if response.product != config.product {
        return Err(Error::InvalidPayload(
            "the response is for another product".into(),
        ));
    }
    if !response.device.matches(&device, &config.policy()) {
        return Err(Error::OfflineWrongDevice);
    }
    let file = crate::format::license::LicenseFile::verify(
        response.license_file.as_bytes(),
        &config.keyring,
    )?;
    expires_as_an_answer_must(file.license())?;
    let bound_elsewhere = file
        .license()
        .device
        .as_ref()
        .is_some_and(|d| !d.matches(&device, &config.policy()));
    if bound_elsewhere {
        return Err(Error::OfflineWrongDevice);
    }
    direct::activate_as(
        config,
        response.license_file.as_bytes(),
        Route::OfflineResponse,
        |state| {
            // The same request must still be the pending one (another process
            // may have written a newer request meanwhile).
            match pending(state) {
                Some(p) if p.id == response.request => {
                    state.kept.offline_request = None;
                    Ok(())
                }
                _ => Err(Error::OfflineReplay),
            }
        },
    )
}

/// Removes the activation of `license_id` from this device, then returns
/// a deactivation request, signed by this device's key, for the vendor to
/// free the slot. Fails, changing nothing, when the license is not
/// activated here.
pub fn request_deactivation(config: &LocalConfig, license_id: &str) -> Result<String> {
    let device = config.fingerprint()?;
    let store = config.store(device)?;
    let record = store
        .load()?
        .activations
        .into_iter()
        .find(|a| a.license_id == license_id)
        .ok_or(Error::NotActivated)?;
    // Signed with the key of the device the license was activated on.
    let text = seal_request(
        &store,
        &record.fingerprint,
        |r| {
            r.action = Action::Deactivate;
            r.product = config.product.clone();
            r.license_id = Some(license_id.to_owned());
        },
        config.clock.now(),
    )?;
    store.update(|state| {
        let before = state.activations.len();
        state.activations.retain(|a| a.license_id != license_id);
        if state.activations.len() == before {
            return Err(Error::NotActivated);
        }
        // Kept so the product can show it again if the file is lost.
        state.kept.offline_deactivation = Some(text.clone());
        Ok(())
    })?;
    Ok(text)
}

/// The last deactivation request this device wrote, to write it out again.
pub fn last_deactivation_request(config: &LocalConfig) -> Result<Option<String>> {
    let store = config.store(config.fingerprint()?)?;
    Ok(store.load()?.kept.offline_deactivation)
}

/// Verifies a request's self-signature and returns it (vendor side: the
/// CLI and the license server). The device key is read from the payload,
/// the signature checked with it, and only then is the request used.
pub fn verify_request(text: &[u8]) -> Result<Request> {
    let unverified = armor::decode(&REQUEST, text)?;
    #[derive(Deserialize)]
    struct KeyOnly {
        device_key: String,
    }
    let claimed: KeyOnly = serde_json::from_slice(unverified.payload())
        .map_err(|_| Error::InvalidPayload("the request names no device key".into()))?;
    let key = PublicKey::from_base64(&claimed.device_key)?;
    let opened = armor::open(&REQUEST, text, &Keyring::from_keys([key.clone()]))?;
    let request: Request = serde_json::from_slice(opened.payload())
        .map_err(|e| Error::InvalidPayload(format!("offline request: {e}")))?;
    if request.format != FORMAT {
        return Err(Error::UnsupportedVersion);
    }
    let ok = match request.action {
        Action::Activate => {
            request.license_id.is_none()
                && (request.license_key.is_some() != request.username.is_some())
        }
        Action::Deactivate => {
            request.license_id.is_some()
                && request.license_key.is_none()
                && request.username.is_none()
        }
    };
    if !ok || request.product.is_empty() || crate::util::unhex::<16>(&request.nonce).is_none() {
        return Err(Error::InvalidPayload(
            "the request's fields do not fit its action".into(),
        ));
    }
    Ok(request)
}

/// The id of the key that signed a request (the device key's id).
pub fn device_key_id(request: &Request) -> Result<KeyId> {
    Ok(PublicKey::from_base64(&request.device_key)?.id())
}

/// Answers an activation request with `license_file` (already bound to the
/// request's device), signed by the vendor's `key` (feature `issuer`).
#[cfg(feature = "issuer")]
#[cfg_attr(docsrs, doc(cfg(feature = "issuer")))]
pub fn respond(
    request_text: &[u8],
    request: &Request,
    license_file: &str,
    key: &crate::format::keys::SigningKey,
    now: Time,
) -> Result<String> {
    if request.action != Action::Activate {
        return Err(Error::InvalidArgument(
            "only an activation request gets a response",
        ));
    }
    let mut keyring = crate::format::keys::Keyring::new();
    keyring.add(key.public_key().clone());
    let license = crate::format::license::LicenseFile::verify(license_file.as_bytes(), &keyring)?;
    expires_as_an_answer_must(license.license())?;
    let response = Response {
        format: FORMAT,
        request: request_id(request_text),
        product: request.product.clone(),
        device: request.device.clone(),
        license_file: license_file.trim().to_owned(),
        issued_at: now,
    };
    let payload = serde_json::to_vec(&response)
        .map_err(|_| Error::InvalidArgument("the response cannot be encoded"))?;
    armor::seal(&RESPONSE, key, &payload)
}
