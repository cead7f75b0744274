//! The armored certificate of a Keygen file and its signature.

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine as _;
use serde::Deserialize;

use super::kind::FileKind;
use super::payload::{Document, Secret};
use super::MAX_LEN;
use crate::error::{Error, Result};
use crate::format::keys::{KeyId, KeygenTrust, Keyring};

/// How the payload is carried. Both are signed with Ed25519.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Algorithm {
    /// `aes-256-gcm+ed25519`: encrypted; reading it needs the license key
    /// (and, for a machine file, the fingerprint).
    Aes256GcmEd25519,
    /// `base64+ed25519`: signed, not encrypted.
    Base64Ed25519,
}

impl Algorithm {
    fn parse(name: &str) -> Result<Algorithm> {
        match name {
            "aes-256-gcm+ed25519" => Ok(Algorithm::Aes256GcmEd25519),
            "base64+ed25519" => Ok(Algorithm::Base64Ed25519),
            // RSA (rsa-pss-sha256, rsa-sha256) and anything else.
            _ => Err(Error::UnsupportedAlgorithm),
        }
    }

    /// Keygen's name for it.
    pub fn name(self) -> &'static str {
        match self {
            Algorithm::Aes256GcmEd25519 => "aes-256-gcm+ed25519",
            Algorithm::Base64Ed25519 => "base64+ed25519",
        }
    }
}

/// The JSON inside the armor: exactly these three members.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Certificate {
    enc: String,
    sig: String,
    alg: String,
}

/// A Keygen file whose signature held, not yet decrypted.
#[derive(Clone)]
pub struct KeygenFile {
    kind: FileKind,
    algorithm: Algorithm,
    key_id: KeyId,
    /// The products this file's key is trusted for.
    trusted: Vec<KeygenTrust>,
    enc: String,
}

impl std::fmt::Debug for KeygenFile {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KeygenFile")
            .field("kind", &self.kind)
            .field("algorithm", &self.algorithm)
            .field("key_id", &self.key_id)
            .finish_non_exhaustive()
    }
}

impl KeygenFile {
    /// Whether `input` looks like a Keygen file (its first line), without
    /// checking anything else: to pick the reader.
    pub fn sniff(input: &[u8]) -> Option<FileKind> {
        [FileKind::License, FileKind::Machine]
            .into_iter()
            .find(|kind| {
                let begin = format!("-----BEGIN {}-----", kind.label());
                input.starts_with(begin.as_bytes())
            })
    }

    /// Verifies a Keygen license or machine file against the Keygen keys of
    /// `keyring` ([`Keyring::add_keygen`]). Nothing of the payload is read.
    ///
    /// Strict: the BEGIN line first, base64 lines, the END line, then
    /// nothing but whitespace; CRLF line breaks are accepted.
    pub fn verify(input: &[u8], keyring: &Keyring) -> Result<KeygenFile> {
        let (kind, certificate) = decode_armor(input)?;
        let certificate: Certificate =
            serde_json::from_slice(&certificate).map_err(|_| Error::Malformed {
                line: 2,
                what: "a JSON object with exactly enc, sig and alg",
            })?;
        let algorithm = Algorithm::parse(&certificate.alg)?;
        let signature: [u8; 64] = B64
            .decode(&certificate.sig)
            .ok()
            .and_then(|raw| raw.try_into().ok())
            .ok_or(Error::Malformed {
                line: 2,
                what: "sig: the base64 of a 64-byte Ed25519 signature",
            })?;
        let trusted = keyring.keygen_keys();
        if trusted.is_empty() {
            return Err(Error::UnknownKeyId(
                "(none: the keyring trusts no Keygen account key)".into(),
            ));
        }
        let mut message = Vec::with_capacity(kind.prefix().len() + certificate.enc.len());
        message.extend_from_slice(kind.prefix().as_bytes());
        message.extend_from_slice(certificate.enc.as_bytes());
        let mut tried: Vec<KeyId> = Vec::new();
        for trust in trusted {
            let id = trust.key.id();
            if tried.contains(&id) {
                continue;
            }
            tried.push(id);
            if trust.key.verify(&message, &signature) {
                return Ok(KeygenFile {
                    kind,
                    algorithm,
                    key_id: id,
                    trusted: trusted
                        .iter()
                        .filter(|t| t.key.id() == id)
                        .cloned()
                        .collect(),
                    enc: certificate.enc,
                });
            }
        }
        Err(Error::BadSignature)
    }

    /// License file or machine file.
    pub fn kind(&self) -> FileKind {
        self.kind
    }

    /// How the payload is carried.
    pub fn algorithm(&self) -> Algorithm {
        self.algorithm
    }

    /// The id of the Keygen key that verified the file.
    pub fn key_id(&self) -> KeyId {
        self.key_id
    }

    /// Whether reading the payload needs the license key.
    pub fn is_encrypted(&self) -> bool {
        self.algorithm == Algorithm::Aes256GcmEd25519
    }

    /// Reads the payload: decrypts it with the `license_key` (and, for a
    /// machine file, the machine's `fingerprint`), or decodes it when it is
    /// not encrypted, then parses it and maps it to a Tessera license. A
    /// machine file must name `fingerprint` as its machine's.
    pub fn open(&self, license_key: &str, fingerprint: Option<&str>) -> Result<Document> {
        let secret = match (self.kind, fingerprint) {
            (FileKind::Machine, None) => {
                return Err(Error::InvalidArgument(
                    "a machine file is read with its machine's fingerprint",
                ))
            }
            (FileKind::Machine, Some(fp)) => Secret::for_machine(license_key, fp),
            (FileKind::License, _) => Secret::for_license(license_key),
        };
        let doc = self.open_with(&secret)?;
        if let (FileKind::Machine, Some(fp)) = (self.kind, fingerprint) {
            if doc.fingerprint() != Some(fp) {
                return Err(Error::Unusable {
                    status: crate::status::Status::WrongDevice,
                    reason: "the machine file is for another machine's fingerprint".into(),
                });
            }
        }
        Ok(doc)
    }

    /// [`open`](Self::open) with the derived key: what an activation keeps,
    /// so the license key itself is never stored.
    pub fn open_with(&self, secret: &Secret) -> Result<Document> {
        self.read(Some(secret))
    }

    /// Reads a payload that is not encrypted (`base64+ed25519`).
    pub fn decode(&self) -> Result<Document> {
        self.read(None)
    }

    /// Decrypts (with `secret`) or decodes the payload, then parses it.
    fn read(&self, secret: Option<&Secret>) -> Result<Document> {
        let plaintext = match (self.algorithm, secret) {
            (Algorithm::Aes256GcmEd25519, Some(secret)) => {
                super::payload::decrypt(&self.enc, secret)?
            }
            (Algorithm::Aes256GcmEd25519, None) => {
                return Err(Error::InvalidArgument(
                    "this Keygen file is encrypted: open it with its license key",
                ))
            }
            (Algorithm::Base64Ed25519, _) => B64
                .decode(&self.enc)
                .map_err(|_| Error::InvalidPayload("enc is not base64".into()))?,
        };
        Document::parse(plaintext, self.kind, self.key_id, &self.trusted)
    }
}

/// The armor's kind and the bytes of its base64 body, strictly.
fn decode_armor(input: &[u8]) -> Result<(FileKind, Vec<u8>)> {
    if input.is_empty() {
        return Err(Error::Empty);
    }
    if input.len() > MAX_LEN {
        return Err(Error::TooLarge {
            len: input.len(),
            max: MAX_LEN,
        });
    }
    let text = std::str::from_utf8(input).map_err(|_| Error::Malformed {
        line: 0,
        what: "a Keygen file is ASCII text",
    })?;
    let kind = KeygenFile::sniff(input).ok_or(Error::Malformed {
        line: 1,
        what: "-----BEGIN LICENSE FILE----- or -----BEGIN MACHINE FILE-----",
    })?;
    let end = format!("-----END {}-----", kind.label());
    // Line breaks and blanks after the END line are not part of the file
    // (Keygen writes one line break; editors and copies add more).
    let text = text.trim_end_matches(|c: char| c.is_ascii_whitespace());
    let mut lines = text.split('\n').map(|l| l.strip_suffix('\r').unwrap_or(l));
    // `sniff` found the BEGIN line's start; nothing else may be on it.
    if lines.next() != Some(format!("-----BEGIN {}-----", kind.label()).as_str()) {
        return Err(Error::Malformed {
            line: 1,
            what: "the BEGIN line alone on the first line",
        });
    }
    let mut body = String::with_capacity(text.len());
    let mut ended = false;
    for (i, line) in lines.enumerate() {
        if ended {
            return Err(Error::Malformed {
                line: i + 2,
                what: "nothing after the END line",
            });
        }
        if line == end {
            ended = true;
        } else if !line.is_empty()
            && line
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'+' | b'/' | b'='))
        {
            body.push_str(line);
        } else {
            return Err(Error::Malformed {
                line: i + 2,
                what: "a line of base64 or the END line",
            });
        }
    }
    if !ended {
        return Err(Error::Malformed {
            line: 0,
            what: "the END line matching the BEGIN line",
        });
    }
    let bytes = B64.decode(body).map_err(|_| Error::Malformed {
        line: 2,
        what: "canonical base64 between the BEGIN and END lines",
    })?;
    Ok((kind, bytes))
}
