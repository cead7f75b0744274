//! The relay's folder: its key (`relay.key`, mode 0600, made here and
//! never copied anywhere), the vendor's keys it trusts (`vendor.pub`), its
//! request for a delegation (`relay.request`), the vendor's grant
//! (`grant.tessera`: the delegation and the pool license file) and its
//! state (`state.db`).

use std::io::Write as _;
use std::path::{Path, PathBuf};

use tessera::format::delegation::{self, RelayGrant, RelayRequest};
use tessera::issuer::SigningKey;
use tessera::{Fingerprint, Keyring, MatchPolicy, PublicKey, Time};

use crate::{exit, shown, Dirs, Failure};

/// The relay's key.
pub const KEY: &str = "relay.key";
/// The vendor's public keys, one PEM or base64 key after another.
pub const VENDOR_KEYS: &str = "vendor.pub";
/// The relay's request for a delegation.
pub const REQUEST: &str = "relay.request";
/// The vendor's grant.
pub const GRANT: &str = "grant.tessera";
/// The product the relay serves, written at `init`.
pub const PRODUCT: &str = "product";
/// The state database.
pub const STATE: &str = "state.db";

/// The salt of the relay's own fingerprint: its product's, marked as the
/// relay's (the relay compares it only with what it sent the vendor).
fn salt(product: &str) -> Vec<u8> {
    tessera::format::fingerprint::product_salt(product, b"tessera-relay")
}

impl Dirs {
    /// A file of the relay's folder.
    pub fn file(&self, name: &str) -> PathBuf {
        self.dir.join(name)
    }

    /// This machine's fingerprint for `product`.
    pub fn fingerprint(&self, product: &str) -> Result<Fingerprint, Failure> {
        let machine = match &self.device_root {
            Some(r) => tessera::device::sources::TreeSource::new(r).into(),
            None => tessera::device::Machine::host(),
        };
        Ok(machine.fingerprint(&salt(product))?)
    }

    /// Makes the relay's key and its request for a delegation of
    /// `product`, trusting `vendor_keys`. Refuses a folder that already
    /// has a key: a relay keeps its key for life.
    pub fn init(&self, product: &str, vendor_keys: &Path, now: Time) -> Result<String, Failure> {
        if product.is_empty() || product.len() > 64 || product.contains(['/', '\\', '\n']) {
            return Err(Failure::new(
                exit::FAILED,
                "the product must be its short code",
            ));
        }
        let vendor = read(vendor_keys, "the vendor's public key", 64 * 1024)?;
        parse_keys(&vendor)?;
        std::fs::create_dir_all(&self.dir).map_err(|e| {
            Failure::new(
                exit::FILE,
                format!("cannot create {}: {e}", shown(&self.dir)),
            )
        })?;
        if self.file(KEY).exists() {
            return Err(Failure::new(
                exit::FAILED,
                format!(
                    "{} already has a key; a relay keeps its key (use `request` to write its request again)",
                    shown(&self.dir)
                ),
            ));
        }
        let key = SigningKey::generate()?;
        let pem = key.to_pem()?;
        write_atomic(&self.file(KEY), pem.as_bytes(), 0o600, true)?;
        write_atomic(&self.file(VENDOR_KEYS), &vendor, 0o644, false)?;
        write_atomic(&self.file(PRODUCT), product.as_bytes(), 0o644, false)?;
        self.write_request(now)
    }

    /// Writes (again) the relay's request for a delegation: to send to the
    /// vendor, or to renew.
    pub fn write_request(&self, now: Time) -> Result<String, Failure> {
        let key = self.key()?;
        let product = self.product()?;
        let request = RelayRequest {
            format: 1,
            product: product.clone(),
            relay_key: key.public_key().to_base64(),
            device: self.fingerprint(&product)?,
            made_at: now,
        };
        let text = delegation::sign_request(&request, &key)?;
        write_atomic(&self.file(REQUEST), text.as_bytes(), 0o644, false)?;
        Ok(text)
    }

    /// The relay's key.
    pub fn key(&self) -> Result<SigningKey, Failure> {
        let pem = read(&self.file(KEY), "the relay's key", 16 * 1024)?;
        let pem = String::from_utf8(pem)
            .map_err(|_| Failure::new(exit::FAILED, "the relay's key is not PEM"))?;
        SigningKey::from_pem(&pem)
            .map_err(|_| Failure::new(exit::FAILED, "the relay's key does not read as a key"))
    }

    /// The product the relay serves.
    pub fn product(&self) -> Result<String, Failure> {
        let p = read(&self.file(PRODUCT), "the relay's product", 1024)?;
        Ok(String::from_utf8_lossy(&p).trim().to_owned())
    }

    /// The vendor's keys.
    pub fn vendor_keys(&self) -> Result<Keyring, Failure> {
        parse_keys(&read(
            &self.file(VENDOR_KEYS),
            "the vendor's key",
            64 * 1024,
        )?)
    }

    /// Checks `text` (the vendor's answer) as [`Dirs::grant`] will and
    /// keeps it, replacing the one before (a renewal).
    pub fn import(&self, text: &[u8], now: Time) -> Result<RelayGrant, Failure> {
        let grant = self.check_grant(text, now)?;
        write_atomic(&self.file(GRANT), text, 0o644, false)?;
        Ok(grant)
    }

    /// The grant in use, checked: signed by the vendor, for this relay's
    /// key and this machine, not expired.
    pub fn grant(&self, now: Time) -> Result<RelayGrant, Failure> {
        if !self.file(GRANT).exists() {
            return Err(Failure::new(
                exit::NO_GRANT,
                format!(
                    "{} holds no delegation yet: send {} to the vendor and `import` the answer",
                    shown(&self.dir),
                    REQUEST
                ),
            ));
        }
        let text = read(&self.file(GRANT), "the delegation", 64 * 1024)?;
        self.check_grant(&text, now)
    }

    fn check_grant(&self, text: &[u8], now: Time) -> Result<RelayGrant, Failure> {
        let grant = RelayGrant::verify(text, &self.vendor_keys()?)?;
        let d = &grant.delegation;
        let key = self.key()?;
        if d.relay_key != key.public_key().to_base64() {
            return Err(Failure::new(
                exit::FAILED,
                "the delegation is for another relay's key",
            ));
        }
        let product = self.product()?;
        if d.product != product {
            return Err(Failure::new(
                exit::FAILED,
                format!(
                    "the delegation is for product {}, this relay serves {product}",
                    d.product
                ),
            ));
        }
        let here = self.fingerprint(&product)?;
        if !d.relay_device.matches(&here, &MatchPolicy::default()) {
            return Err(Failure::new(
                exit::OTHER_MACHINE,
                "the delegation is for another machine: a relay runs only where it was delegated (ask the vendor for a new delegation)",
            ));
        }
        if now >= d.expires_at {
            return Err(Failure::new(
                exit::EXPIRED,
                format!(
                    "the delegation expired at {}: renew it (`request`, then `import` the vendor's answer)",
                    d.expires_at
                ),
            ));
        }
        Ok(grant)
    }
}

/// The vendor's keys from PEM blocks or base64 lines.
fn parse_keys(text: &[u8]) -> Result<Keyring, Failure> {
    let text = String::from_utf8_lossy(text);
    let mut ring = Keyring::new();
    let mut pem = String::new();
    for line in text.lines().map(str::trim).filter(|l| !l.is_empty()) {
        if line.starts_with("-----BEGIN") || !pem.is_empty() {
            pem.push_str(line);
            pem.push('\n');
            if line.starts_with("-----END") {
                ring.add(PublicKey::from_pem(&pem)?);
                pem.clear();
            }
        } else {
            ring.add(PublicKey::parse(line)?);
        }
    }
    if ring.is_empty() {
        return Err(Failure::new(exit::FAILED, "no vendor key was found"));
    }
    Ok(ring)
}

/// Reads at most `max` bytes of `path` (more is an error).
pub fn read(path: &Path, what: &str, max: u64) -> Result<Vec<u8>, Failure> {
    use std::io::Read as _;
    let file = std::fs::File::open(path).map_err(|e| {
        Failure::new(
            exit::FILE,
            format!("cannot read {what} ({}): {e}", shown(path)),
        )
    })?;
    let mut bytes = Vec::new();
    file.take(max + 1).read_to_end(&mut bytes).map_err(|e| {
        Failure::new(
            exit::FILE,
            format!("cannot read {what} ({}): {e}", shown(path)),
        )
    })?;
    if bytes.len() as u64 > max {
        return Err(Failure::new(
            exit::FILE,
            format!("{what} ({}) is too large", shown(path)),
        ));
    }
    Ok(bytes)
}

/// Writes through a temporary file and a rename: a reader never sees a
/// partial file. With `no_clobber` an existing file is left alone.
pub fn write_atomic(path: &Path, bytes: &[u8], mode: u32, no_clobber: bool) -> Result<(), Failure> {
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let io =
        |e: std::io::Error| Failure::new(exit::FILE, format!("cannot write {}: {e}", shown(path)));
    let tmp = dir.join(format!(
        ".tessera-relay-{}",
        hex(&random::<8>().map_err(|e| Failure::new(exit::FAILED, e))?)
    ));
    let result = (|| {
        let mut options = std::fs::OpenOptions::new();
        options.write(true).create_new(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt as _;
            options.mode(mode);
        }
        #[cfg(not(unix))]
        let _ = mode;
        let mut file = options.open(&tmp)?;
        file.write_all(bytes)?;
        file.sync_all()?;
        if no_clobber && path.exists() {
            return Err(std::io::Error::from(std::io::ErrorKind::AlreadyExists));
        }
        std::fs::rename(&tmp, path)
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result.map_err(io)
}

/// `N` random bytes.
pub(crate) fn random<const N: usize>() -> Result<[u8; N], String> {
    let mut b = [0u8; N];
    getrandom::getrandom(&mut b).map_err(|e| format!("no randomness: {e}"))?;
    Ok(b)
}

/// Lowercase hex.
pub(crate) fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
