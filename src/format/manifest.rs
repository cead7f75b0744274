//! A signed manifest: a list of files and their SHA-256, in the form
//! `sha256sum` writes (`SHA256SUMS`), signed in Tessera's armor under a
//! domain of its own (docs/FORMAT.md, "Manifests"). A release's artefacts
//! are listed this way and signed by the release key; `tessera verify`
//! checks the signature and then every file it lists.
//!
//! The payload is the sums file's exact bytes, read strictly: each line is
//! 64 lowercase hex digits, a space, a space or `*`, and a plain file name
//! (no directory, no `..`, no control character), ending in a newline; no
//! name twice; at least one line.

use crate::error::{Error, Result};
use crate::format::armor::{self, Kind};
use crate::format::keys::{KeyId, Keyring};

/// A signed manifest.
pub const MANIFEST: Kind = Kind {
    label: "TESSERA MANIFEST",
    domain: b"tessera/v1/manifest/ed25519\0",
    max_len: 1024 * 1024,
};

/// The most files a manifest lists.
const MAX_ENTRIES: usize = 10_000;

/// One file a manifest lists.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// The file's name, without a directory.
    pub name: String,
    /// Its SHA-256.
    pub sha256: [u8; 32],
}

/// A manifest whose signature held.
#[derive(Debug, Clone)]
pub struct Manifest {
    key_id: KeyId,
    entries: Vec<Entry>,
}

impl Manifest {
    /// Checks the signature against `keyring` (in the order every signed
    /// document is checked), then reads the list.
    pub fn verify(input: &[u8], keyring: &Keyring) -> Result<Manifest> {
        let opened = armor::open(&MANIFEST, input, keyring)?;
        Ok(Manifest {
            key_id: opened.key_id(),
            entries: parse(opened.payload())?,
        })
    }

    /// The key that signed it.
    pub fn key_id(&self) -> KeyId {
        self.key_id
    }

    /// The files it lists, in its order.
    pub fn entries(&self) -> &[Entry] {
        &self.entries
    }
}

/// Signs a sums file (as `sha256sum` writes it) after reading it as
/// [`Manifest::verify`] will (feature `issuer`).
#[cfg(feature = "issuer")]
#[cfg_attr(docsrs, doc(cfg(feature = "issuer")))]
pub fn sign(sums: &[u8], key: &crate::format::keys::SigningKey) -> Result<String> {
    parse(sums)?;
    armor::seal(&MANIFEST, key, sums)
}

fn malformed(line: usize, what: &'static str) -> Error {
    Error::Malformed { line, what }
}

/// Reads a sums file strictly.
pub fn parse(sums: &[u8]) -> Result<Vec<Entry>> {
    let text = std::str::from_utf8(sums).map_err(|_| malformed(0, "the sums are not UTF-8"))?;
    if text.is_empty() {
        return Err(Error::Empty);
    }
    let Some(body) = text.strip_suffix('\n') else {
        return Err(malformed(0, "the sums end with a newline"));
    };
    let mut entries: Vec<Entry> = Vec::new();
    for (i, line) in body.split('\n').enumerate() {
        let n = i + 1;
        if entries.len() == MAX_ENTRIES {
            return Err(malformed(n, "at most 10000 files"));
        }
        let (hex, rest) = line
            .split_at_checked(64)
            .ok_or_else(|| malformed(n, "64 hex digits, two spaces, a name"))?;
        let mut sha256 = [0u8; 32];
        for (j, byte) in sha256.iter_mut().enumerate() {
            let pair = hex
                .get(j * 2..j * 2 + 2)
                .filter(|p| p.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')))
                .ok_or_else(|| malformed(n, "64 lowercase hex digits"))?;
            *byte = u8::from_str_radix(pair, 16).map_err(|_| malformed(n, "hex digits"))?;
        }
        let name = rest
            .strip_prefix("  ")
            .or_else(|| rest.strip_prefix(" *"))
            .ok_or_else(|| malformed(n, "two spaces (or a space and *) after the digest"))?;
        let plain = !name.is_empty()
            && name != "."
            && name != ".."
            && !name.contains(['/', '\\'])
            && !name.chars().any(char::is_control);
        if !plain {
            return Err(malformed(n, "a plain file name, without a directory"));
        }
        if entries.iter().any(|e| e.name == name) {
            return Err(malformed(n, "a file listed twice"));
        }
        entries.push(Entry {
            name: name.to_owned(),
            sha256,
        });
    }
    Ok(entries)
}

#[cfg(all(test, feature = "issuer"))]
#[allow(clippy::unwrap_used, clippy::expect_used)] // tests (clippy sees cfg(test) only alone)
mod tests {
    use super::*;
    use crate::format::keys::SigningKey;

    const SUMS: &[u8] = b"0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef  tessera-0.1.0-linux-x86_64.tar.gz\n\
fedcba9876543210fedcba9876543210fedcba9876543210fedcba9876543210 *tessera-0.1.0-py3-none-manylinux2014_x86_64.whl\n";

    #[test]
    fn a_signed_manifest_lists_its_files_and_refuses_any_change() {
        let key = SigningKey::from_seed(&[3; 32]).unwrap();
        let ring = Keyring::from_keys([key.public_key().clone()]);
        let text = sign(SUMS, &key).unwrap();
        assert!(text.starts_with("-----BEGIN TESSERA MANIFEST-----"));
        let m = Manifest::verify(text.as_bytes(), &ring).unwrap();
        assert_eq!(m.key_id(), key.id());
        assert_eq!(m.entries().len(), 2);
        assert_eq!(m.entries()[1].name, "tessera-0.1.0-py3-none-manylinux2014_x86_64.whl");
        assert_eq!(m.entries()[0].sha256[0], 0x01);
        // Another key, and a license signed by the same key, are refused.
        let stranger = SigningKey::from_seed(&[4; 32]).unwrap();
        let theirs = sign(SUMS, &stranger).unwrap();
        assert!(Manifest::verify(theirs.as_bytes(), &ring).is_err());
        let license = armor::seal(&armor::LICENSE, &key, SUMS).unwrap();
        assert!(Manifest::verify(license.as_bytes(), &ring).is_err());
        let relabelled = license.replace("TESSERA LICENSE", "TESSERA MANIFEST");
        assert!(matches!(
            Manifest::verify(relabelled.as_bytes(), &ring),
            Err(Error::BadSignature)
        ));
    }

    #[test]
    fn sums_are_read_strictly() {
        let key = SigningKey::from_seed(&[3; 32]).unwrap();
        let good = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef  a.tar.gz\n";
        assert!(parse(good.as_bytes()).is_ok());
        for bad in [
            "",
            "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef  a.tar.gz",
            "0123456789ABCDEF0123456789abcdef0123456789abcdef0123456789abcdef  a\n",
            "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcde  a\n",
            "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef a\n",
            "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef  ../a\n",
            "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef  dir/a\n",
            "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef  ..\n",
            "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef  \n",
            "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef  a\tb\n",
            "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef  a\n\
             0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef  a\n",
            "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef  a\n\n",
            "é123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef  a\n",
        ] {
            assert!(parse(bad.as_bytes()).is_err(), "{bad:?}");
            assert!(sign(bad.as_bytes(), &key).is_err(), "{bad:?}");
        }
    }
}

#[cfg(all(test, feature = "issuer"))]
#[allow(clippy::unwrap_used)] // tests (clippy sees cfg(test) only alone)
mod seed {
    /// The fuzz target's signed seed (`fuzz/seeds/manifest/signed0.txt`):
    /// the sums seed signed by the fuzz test key (seed 0x07 × 32).
    #[test]
    fn the_fuzz_seed_is_the_sums_seed_signed_by_the_test_key() {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz/seeds/manifest");
        let sums = std::fs::read(root.join("sums0.txt")).unwrap();
        let key = crate::format::keys::SigningKey::from_seed(&[7; 32]).unwrap();
        let signed = super::sign(&sums, &key).unwrap();
        let path = root.join("signed0.txt");
        if std::env::var_os("TESSERA_WRITE_SEEDS").is_some() {
            std::fs::write(&path, &signed).unwrap();
        }
        assert_eq!(std::fs::read_to_string(path).unwrap(), signed);
    }
}
