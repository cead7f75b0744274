//! The payload of a Keygen file: decrypted, parsed, and mapped.

use aes_gcm::aead::AeadInPlace as _;
use aes_gcm::{Aes256Gcm, KeyInit as _};
use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine as _;
use crate::Time;
use serde::Deserialize;
use sha2::{Digest, Sha256};

use super::jsonapi::{time, Resource};
use super::kind::FileKind;
use crate::error::{Error, Result};
use crate::format::keys::{KeyId, KeygenTrust};
use crate::format::license::License;

/// The AES-256 key of an encrypted Keygen file: SHA-256 of the license key
/// (a machine file: of the license key followed by the fingerprint).
/// Keeping this, not the license key, is enough to read the file again.
/// `Debug` never shows it.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret([u8; 32]);

impl Secret {
    /// The key of a license file issued for `license_key`.
    pub fn for_license(license_key: &str) -> Secret {
        Secret(Sha256::digest(license_key.as_bytes()).into())
    }

    /// The key of a machine file for `license_key` on the machine `fingerprint`.
    pub fn for_machine(license_key: &str, fingerprint: &str) -> Secret {
        let mut hash = Sha256::new();
        hash.update(license_key.as_bytes());
        hash.update(fingerprint.as_bytes());
        Secret(hash.finalize().into())
    }

    /// From its 64 lowercase hex digits (as an activation stores it).
    pub(crate) fn from_hex(s: &str) -> Option<Secret> {
        crate::util::unhex(s).map(Secret)
    }

    /// Its 64 lowercase hex digits.
    pub(crate) fn to_hex(&self) -> String {
        hex::encode(self.0)
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secret(redacted)")
    }
}

/// `enc` of an `aes-256-gcm` file: `base64(ciphertext).base64(iv).base64(tag)`,
/// decrypted in place with no associated data.
pub(super) fn decrypt(enc: &str, secret: &Secret) -> Result<Vec<u8>> {
    let bad = |what: &str| Error::InvalidPayload(format!("enc: {what}"));
    let mut parts = enc.split('.');
    let (Some(ciphertext), Some(iv), Some(tag), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(bad("expected ciphertext.iv.tag"));
    };
    let mut buf = B64
        .decode(ciphertext)
        .map_err(|_| bad("the ciphertext is not base64"))?;
    let iv: [u8; 12] = B64
        .decode(iv)
        .ok()
        .and_then(|v| v.try_into().ok())
        .ok_or_else(|| bad("the IV is not the base64 of 12 bytes"))?;
    let tag: [u8; 16] = B64
        .decode(tag)
        .ok()
        .and_then(|v| v.try_into().ok())
        .ok_or_else(|| bad("the tag is not the base64 of 16 bytes"))?;
    let cipher = Aes256Gcm::new(&secret.0.into());
    cipher
        .decrypt_in_place_detached(&iv.into(), b"", &mut buf, &tag.into())
        .map_err(|_| {
            Error::DecryptionFailed("the license key (or the machine's fingerprint) is not the one it was encrypted for")
        })?;
    Ok(buf)
}

/// What Tessera reads of a Keygen payload (JSON:API): `data`, `included`
/// and `meta`. Everything else is kept in the plaintext, unread.
#[derive(Deserialize)]
struct Payload {
    data: Resource,
    #[serde(default)]
    included: Vec<Resource>,
    meta: Meta,
}

#[derive(Deserialize)]
struct Meta {
    issued: String,
    expiry: Option<String>,
    ttl: Option<u64>,
}

/// A verified Keygen payload, read: its times, its license (or machine and
/// license), and the Tessera [`License`] it maps to.
#[derive(Clone)]
pub struct Document {
    plaintext: Vec<u8>,
    kind: FileKind,
    key_id: KeyId,
    issued: Time,
    expiry: Option<Time>,
    ttl: Option<u64>,
    machine_id: Option<String>,
    fingerprint: Option<String>,
    license: License,
}

impl std::fmt::Debug for Document {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Document")
            .field("kind", &self.kind)
            .field("license_id", &self.license.id)
            .field("issued", &self.issued)
            .field("expiry", &self.expiry)
            .finish_non_exhaustive()
    }
}

impl Document {
    pub(super) fn parse(
        plaintext: Vec<u8>,
        kind: FileKind,
        key_id: KeyId,
        trusted: &[KeygenTrust],
    ) -> Result<Document> {
        let payload: Payload = serde_json::from_slice(&plaintext)
            .map_err(|e| Error::InvalidPayload(format!("not a Keygen payload: {e}")))?;
        if payload.data.kind != kind.data_type() {
            return Err(Error::InvalidPayload(format!(
                "a {} file holds `{}`",
                kind.data_type(),
                payload.data.kind
            )));
        }
        let issued = time(&payload.meta.issued, "meta.issued")?;
        let expiry = match &payload.meta.expiry {
            Some(t) => Some(time(t, "meta.expiry")?),
            None => None,
        };
        let ttl = payload.meta.ttl;
        // A file whose expiry is null but whose ttl is set expires ttl after issue.
        let file_expiry = match (expiry, ttl) {
            (Some(at), _) => Some(at),
            (None, Some(secs)) => {
                Some(
                    issued
                        .checked_add(std::time::Duration::from_secs(secs))
                        .ok_or_else(|| Error::InvalidPayload("meta.ttl is too large".into()))?,
                )
            }
            (None, None) => None,
        };
        let (machine_id, fingerprint) = match kind {
            FileKind::Machine => (
                Some(payload.data.id.clone()),
                payload.data.attributes.fingerprint.clone(),
            ),
            FileKind::License => (None, None),
        };
        let license = super::mapping::license(
            &payload.data,
            &payload.included,
            kind,
            issued,
            file_expiry,
            trusted,
        )?;
        // What Tessera cannot read as a sound license is refused, as for
        // its own files.
        license.consistency().map_err(|rule| {
            Error::InvalidPayload(format!(
                "the Keygen license maps to no sound license: {rule}"
            ))
        })?;
        Ok(Document {
            plaintext,
            kind,
            key_id,
            issued,
            expiry,
            ttl,
            machine_id,
            fingerprint,
            license,
        })
    }

    /// License file or machine file.
    pub fn kind(&self) -> FileKind {
        self.kind
    }

    /// The id of the Keygen key that verified the file.
    pub fn key_id(&self) -> KeyId {
        self.key_id
    }

    /// The decrypted payload exactly as Keygen wrote it (JSON:API). It
    /// holds the license key in clear: never log or show it.
    pub fn plaintext(&self) -> &[u8] {
        &self.plaintext
    }

    /// When Keygen issued the file (`meta.issued`, to the second).
    pub fn issued(&self) -> Time {
        self.issued
    }

    /// The file's own expiry (`meta.expiry`); `None` never expires.
    pub fn expiry(&self) -> Option<Time> {
        self.expiry
    }

    /// `meta.ttl` in seconds; `None` for a file without one.
    pub fn ttl(&self) -> Option<u64> {
        self.ttl
    }

    /// The Keygen license's id.
    pub fn license_id(&self) -> &str {
        &self.license.id
    }

    /// A machine file's machine id.
    pub fn machine_id(&self) -> Option<&str> {
        self.machine_id.as_deref()
    }

    /// A machine file's machine fingerprint.
    pub fn fingerprint(&self) -> Option<&str> {
        self.fingerprint.as_deref()
    }

    /// The entitlement codes the file includes.
    pub fn entitlements(&self) -> impl Iterator<Item = &str> {
        self.license
            .product_features
            .iter()
            .map(|f| f.code.as_str())
    }

    /// The Tessera license the file maps to (docs/MIGRATING.md):
    /// validate it like any other.
    pub fn license(&self) -> &License {
        &self.license
    }

    /// Takes the Tessera license out.
    pub fn into_license(self) -> License {
        self.license
    }
}
