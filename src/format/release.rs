//! A signed release: which file is version V of product P in channel C,
//! how large it is and its SHA-256, signed by the vendor's key in
//! Tessera's armor under a domain of its own (docs/FORMAT.md, "Signed
//! release"). The vendor signs it with `tessera release sign`, so the
//! server that publishes it never needs the private key; the update check
//! hands it to the product, and the download helper
//! ([`Connection::download_release`](crate::online::Connection::download_release))
//! keeps a file only when it matches.
//!
//! The payload is JSON with exactly the fields of [`ReleaseManifest`],
//! read strictly: no other field, the product and channel as codes, the
//! version a dotted number, the file a plain name, the digest 64 lowercase
//! hex digits.

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::format::armor::{self, Kind};
use crate::format::keys::{KeyId, Keyring};

/// A signed release.
pub const RELEASE: Kind = Kind {
    label: "TESSERA RELEASE",
    domain: b"tessera/v1/release/ed25519\0",
    max_len: 8 * 1024,
};

/// What a signed release says about one file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReleaseManifest {
    /// Payload format; 1.
    pub format: u32,
    /// The product's short code.
    pub product: String,
    /// A dotted number, such as `2.1.0`.
    pub version: String,
    /// The channel it is published in (`stable` unless the vendor said).
    pub channel: String,
    /// The file's name, without a directory: what the download is saved as.
    pub file: String,
    /// The file's size in bytes.
    pub size: u64,
    /// The file's SHA-256, 64 lowercase hex digits.
    pub sha256: String,
}

/// A release whose signature held and whose fields read well.
#[derive(Debug, Clone)]
pub struct SignedRelease {
    key_id: KeyId,
    manifest: ReleaseManifest,
    sha256: [u8; 32],
}

impl SignedRelease {
    /// Checks the signature against `keyring` (in the order every signed
    /// document is checked), then reads the fields.
    pub fn verify(input: &[u8], keyring: &Keyring) -> Result<SignedRelease> {
        let opened = armor::open(&RELEASE, input, keyring)?;
        let manifest: ReleaseManifest = serde_json::from_slice(opened.payload())
            .map_err(|e| Error::InvalidPayload(format!("not a release: {e}")))?;
        if manifest.format != 1 {
            return Err(Error::UnsupportedVersion);
        }
        let sha256 = manifest.check()?;
        Ok(SignedRelease {
            key_id: opened.key_id(),
            manifest,
            sha256,
        })
    }

    /// The key that signed it.
    pub fn key_id(&self) -> KeyId {
        self.key_id
    }

    /// What it says.
    pub fn manifest(&self) -> &ReleaseManifest {
        &self.manifest
    }

    /// The file's SHA-256 as bytes.
    pub fn sha256(&self) -> [u8; 32] {
        self.sha256
    }
}

impl ReleaseManifest {
    /// The manifest of `file` (`size` bytes, `sha256` its digest) as
    /// version `version` of `product` in `channel`.
    pub fn new(
        product: impl Into<String>,
        version: impl Into<String>,
        channel: impl Into<String>,
        file: impl Into<String>,
        size: u64,
        sha256: &[u8; 32],
    ) -> ReleaseManifest {
        ReleaseManifest {
            format: 1,
            product: product.into(),
            version: version.into(),
            channel: channel.into(),
            file: file.into(),
            size,
            sha256: sha256.iter().map(|b| format!("{b:02x}")).collect(),
        }
    }

    /// Reads each field as [`SignedRelease::verify`] will; answers the
    /// digest as bytes.
    pub fn check(&self) -> Result<[u8; 32]> {
        let bad = |what: &str| Err(Error::InvalidPayload(format!("release: {what}")));
        let code = |s: &str| {
            !s.is_empty()
                && s.len() <= 64
                && s.chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
        };
        if !code(&self.product) {
            return bad("the product must be a code (1 to 64 letters, digits, - _ .)");
        }
        if !code(&self.channel) {
            return bad("the channel must be a code (1 to 64 letters, digits, - _ .)");
        }
        let dotted = !self.version.is_empty()
            && self.version.len() <= 64
            && self
                .version
                .split('.')
                .all(|n| !n.is_empty() && n.len() <= 9 && n.bytes().all(|b| b.is_ascii_digit()));
        if !dotted {
            return bad("the version must be a dotted number such as 2.1.0");
        }
        let plain = !self.file.is_empty()
            && self.file.len() <= 255
            && self.file != "."
            && self.file != ".."
            && !self.file.starts_with('.')
            && !self.file.contains(['/', '\\', ':'])
            && !self.file.chars().any(char::is_control);
        if !plain {
            return bad("the file must be a plain name, without a directory");
        }
        match digest(&self.sha256) {
            Some(d) => Ok(d),
            None => bad("sha256 must be 64 lowercase hex digits"),
        }
    }
}

/// 64 lowercase hex digits as 32 bytes.
fn digest(hex: &str) -> Option<[u8; 32]> {
    if hex.len() != 64 {
        return None;
    }
    let mut out = [0u8; 32];
    for (i, byte) in out.iter_mut().enumerate() {
        let pair = hex
            .get(i * 2..i * 2 + 2)
            .filter(|p| p.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')))?;
        *byte = u8::from_str_radix(pair, 16).ok()?;
    }
    Some(out)
}

/// Signs a release after reading it as [`SignedRelease::verify`] will
/// (feature `issuer`).
#[cfg(feature = "issuer")]
#[cfg_attr(docsrs, doc(cfg(feature = "issuer")))]
pub fn sign(release: &ReleaseManifest, key: &crate::format::keys::SigningKey) -> Result<String> {
    if release.format != 1 {
        return Err(Error::UnsupportedVersion);
    }
    release.check()?;
    let payload = serde_json::to_vec(release)
        .map_err(|e| Error::InvalidPayload(format!("release: {e}")))?;
    armor::seal(&RELEASE, key, &payload)
}

#[cfg(all(test, feature = "issuer"))]
#[allow(clippy::unwrap_used, clippy::expect_used)] // tests (clippy sees cfg(test) only alone)
mod tests {
    use super::*;
    use crate::format::keys::SigningKey;

    fn manifest() -> ReleaseManifest {
        ReleaseManifest::new("acme-cad", "2.1.0", "stable", "acme-2.1.0.msi", 1234, &[0xab; 32])
    }

    #[test]
    fn a_signed_release_reads_back_and_refuses_another_key_or_kind() {
        let key = SigningKey::from_seed(&[3; 32]).unwrap();
        let ring = Keyring::from_keys([key.public_key().clone()]);
        let text = sign(&manifest(), &key).unwrap();
        assert!(text.starts_with("-----BEGIN TESSERA RELEASE-----"));
        let r = SignedRelease::verify(text.as_bytes(), &ring).unwrap();
        assert_eq!(r.manifest(), &manifest());
        assert_eq!(r.sha256(), [0xab; 32]);
        assert_eq!(r.key_id(), key.id());
        let stranger = SigningKey::from_seed(&[4; 32]).unwrap();
        let theirs = sign(&manifest(), &stranger).unwrap();
        assert!(matches!(
            SignedRelease::verify(theirs.as_bytes(), &ring),
            Err(Error::UnknownKeyId(_))
        ));
        let payload = serde_json::to_vec(&manifest()).unwrap();
        let lease = armor::seal(&crate::format::lease::LEASE, &key, &payload).unwrap();
        let relabelled = lease.replace("TESSERA LEASE", "TESSERA RELEASE");
        assert!(matches!(
            SignedRelease::verify(relabelled.as_bytes(), &ring),
            Err(Error::BadSignature)
        ));
    }

    #[test]
    fn fields_are_read_strictly_when_signing_and_when_verifying() {
        let key = SigningKey::from_seed(&[3; 32]).unwrap();
        let ring = Keyring::from_keys([key.public_key().clone()]);
        type Spoil = fn(&mut ReleaseManifest);
        let cases: [(&str, Spoil); 9] = [
            ("product", |m| m.product = "acme cad".into()),
            ("channel", |m| m.channel = String::new()),
            ("version", |m| m.version = "2.x".into()),
            ("version", |m| m.version = "2..1".into()),
            ("file", |m| m.file = "../evil.exe".into()),
            ("file", |m| m.file = "dir\\evil.exe".into()),
            ("file", |m| m.file = ".hidden".into()),
            ("sha256", |m| m.sha256 = "AB".repeat(32)),
            ("sha256", |m| m.sha256.push('0')),
        ];
        for (what, spoil) in cases {
            let mut m = manifest();
            spoil(&mut m);
            assert!(sign(&m, &key).is_err(), "{what}");
            // Signed around the check, the reader refuses it too.
            let forged =
                armor::seal(&RELEASE, &key, &serde_json::to_vec(&m).unwrap()).unwrap();
            assert!(
                matches!(
                    SignedRelease::verify(forged.as_bytes(), &ring),
                    Err(Error::InvalidPayload(_))
                ),
                "{what}"
            );
        }
        // An unknown field, and a later format, are refused.
        let mut extra = serde_json::to_value(manifest()).unwrap();
        extra["run"] = "setup.exe /quiet".into();
        let forged = armor::seal(&RELEASE, &key, extra.to_string().as_bytes()).unwrap();
        assert!(SignedRelease::verify(forged.as_bytes(), &ring).is_err());
        let mut later = manifest();
        later.format = 2;
        let forged = armor::seal(&RELEASE, &key, &serde_json::to_vec(&later).unwrap()).unwrap();
        assert!(matches!(
            SignedRelease::verify(forged.as_bytes(), &ring),
            Err(Error::UnsupportedVersion)
        ));
    }
}
