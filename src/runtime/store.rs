//! The local state store: the SDK's memory on disk, one directory per product.
//!
//! ```text
//! <dir>/state        TESSERA STATE 1 \n <json envelope> \n <tag> \n
//! <dir>/state.bak    the previous good state (the recovery path)
//! <dir>/state.lock   held while a process reads-modifies-writes
//! ```
//!
//! - **Atomic**: every write goes to a temporary file that is fsynced, the
//!   current state is hard-linked to `state.bak`, the temporary file is
//!   renamed over `state`, and the directory is fsynced. A crash at any point
//!   leaves the old or the new state, never a mixture.
//! - **Serialised**: [`Store::update`] holds an exclusive lock on
//!   `state.lock` across read, change and write, so concurrent processes and
//!   threads lose no update.
//! - **Tamper-evident**: an HMAC-SHA256 tag, keyed by the product (and an
//!   optional vendor secret), covers the product, the device fingerprint the
//!   state belongs to, and the contents. An edited file fails the tag; a file
//!   copied from another device carries that device's fingerprint.
//! - **Never silently reset**: a damaged or edited file is an error, not an
//!   empty state. [`Store::recover`] restores the last good copy explicitly.
//!
//! The state is not a source of authority: what a server granted lives in it
//! as the signed artifact the server sent, and is verified again when used.

use std::collections::BTreeMap;
use std::fs::{self, File, OpenOptions};
use std::io;
use std::path::{Path, PathBuf};

use crate::Time;
use hmac::Mac as _;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::error::{Error, Result};
use crate::format::fingerprint::{Fingerprint, MatchPolicy};
use crate::protocol::counter::Pending;

const MAGIC: &str = "TESSERA STATE 1";
const STATE: &str = "state";
const BACKUP: &str = "state.bak";
const LOCK: &str = "state.lock";
const TMP: &str = "state.tmp";
const BACKUP_TMP: &str = "state.bak.tmp";
/// The schema version of [`State`].
pub const SCHEMA: u32 = 1;
/// The largest state file read, in bytes.
pub const MAX_STATE_LEN: u64 = 8 << 20;

/// What the SDK remembers on this device.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct State {
    /// The newest trusted time seen (local observations, signed files'
    /// `issued_at`, servers' signed dates).
    #[serde(
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub high_water: Option<Time>,
    /// Licenses activated on this device.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub activations: Vec<ActivationRecord>,
    /// What the runtime and activation keep between runs (written under
    /// `extensions` in the file).
    #[serde(default, rename = "extensions", skip_serializing_if = "Kept::is_empty")]
    pub(crate) kept: Kept,
}

/// What the parts of the SDK keep in the state, each in a typed field of
/// its own (one schema, in one place: docs/RUNTIME.md).
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub(crate) struct Kept {
    /// The consumption counters' snapshot, after the first compaction.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) consumption: Option<ConsumptionSnapshot>,
    /// The floating or borrow lease the server granted, as it was signed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) lease: Option<String>,
    /// The offline request waiting for its response.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) offline_request: Option<PendingRequest>,
    /// The last offline deactivation request, to show again if it is lost.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) offline_deactivation: Option<String>,
    /// The air-gapped initialization code waiting for its confirmation.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) airgap: Option<PendingCode>,
    /// The random secret this device's key for the license server derives
    /// from (made at the first online call; docs/PROTOCOL.md).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) device_secret: Option<DeviceSecret>,
    /// Entries a newer SDK wrote, kept as they were.
    #[serde(flatten)]
    pub(crate) other: BTreeMap<String, serde_json::Value>,
}

impl Kept {
    fn is_empty(&self) -> bool {
        *self == Kept::default()
    }
}

/// What compaction of the consumption journal leaves in the state: where
/// the journal restarts, the totals so far, and what is not yet uploaded.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub(crate) struct ConsumptionSnapshot {
    pub(crate) base_seq: u64,
    pub(crate) base_mac: String,
    /// counter → (period, used locally in it)
    pub(crate) used: BTreeMap<String, (i64, u64)>,
    pub(crate) uploaded_seq: u64,
    pub(crate) pending: Vec<Pending>,
    /// The journal's last sequence number and chain head when the state
    /// was last written with them (the journal's creation, a handle's open,
    /// `save_clock`, a compaction): a journal that is missing, or shorter,
    /// or another chain at that point, is refused. `None`: no journal yet.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) checkpoint: Option<JournalCheckpoint>,
}

/// A point of the consumption journal the state vouches for.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct JournalCheckpoint {
    pub(crate) seq: u64,
    pub(crate) mac: String,
}

/// An offline request waiting for its response: its id and its text.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct PendingRequest {
    pub(crate) id: String,
    pub(crate) request: String,
}

/// An air-gapped initialization code waiting for its confirmation code.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct PendingCode {
    pub(crate) code: String,
    pub(crate) created_at: Time,
}

/// A license activated on this device.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct ActivationRecord {
    /// The license's id.
    pub license_id: String,
    /// The signed license file as received (verified again on every open).
    pub license_file: String,
    /// This device's fingerprint at activation.
    pub fingerprint: Fingerprint,
    /// When the activation happened.
    pub activated_at: Time,
    /// For a Keygen file (feature `keygen`): the key that decrypts it,
    /// derived from the license key, which itself is not kept.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub decryption_key: Option<DecryptionKey>,
}

impl ActivationRecord {
    /// License `license_id`'s file `license_file`, activated on the device
    /// `fingerprint` at `activated_at`.
    pub fn new(
        license_id: impl Into<String>,
        license_file: impl Into<String>,
        fingerprint: Fingerprint,
        activated_at: Time,
    ) -> ActivationRecord {
        ActivationRecord {
            license_id: license_id.into(),
            license_file: license_file.into(),
            fingerprint,
            activated_at,
            decryption_key: None,
        }
    }
}

/// The key that reads an activated Keygen file again (64 hex digits of
/// SHA-256 over the license key, and for a machine file the fingerprint).
/// `Debug` never shows it.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct DecryptionKey(pub(crate) String);

/// 32 random bytes in hex, kept in the state: the device key that proves
/// online requests come from this device derives from it, so no one
/// without this state (another machine, a co-user who knows the license
/// and fingerprint ids) can make that key. Never printed.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub(crate) struct DeviceSecret(pub(crate) String);

impl DeviceSecret {
    #[cfg_attr(not(feature = "online-api"), allow(dead_code))]
    pub(crate) fn new() -> Result<DeviceSecret> {
        Ok(DeviceSecret(
            hex::encode(crate::util::random_bytes::<32>()?),
        ))
    }
}

impl std::fmt::Debug for DeviceSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("DeviceSecret(redacted)")
    }
}

impl std::fmt::Debug for DecryptionKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("DecryptionKey(redacted)")
    }
}

/// The authenticated part of the file.
#[derive(Serialize, Deserialize)]
struct Envelope {
    schema: u32,
    product: String,
    device: Fingerprint,
    generation: u64,
    state: State,
}

/// A product's state directory on this device.
#[derive(Clone)]
pub struct Store {
    dir: PathBuf,
    product: String,
    device: Fingerprint,
    policy: MatchPolicy,
    key: [u8; 32],
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store")
            .field("dir", &self.dir)
            .field("product", &self.product)
            .finish_non_exhaustive()
    }
}

/// The held cross-process lock of a store (unlocked on drop, or when the
/// process dies). It locks either a descriptor of its own or a long-lived
/// one that its owner keeps open (and serialises within the process).
pub(crate) enum StoreLock<'a> {
    Owned(File),
    Borrowed(&'a File),
}

impl Drop for StoreLock<'_> {
    fn drop(&mut self) {
        let file = match self {
            StoreLock::Owned(f) => &*f,
            StoreLock::Borrowed(f) => f,
        };
        // Closing an owned descriptor would unlock too; a borrowed one stays open.
        let _ = file.unlock();
    }
}

/// What [`Store::recover`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Recovery {
    /// The generation of the state restored from the backup.
    pub restored_generation: u64,
    /// Where the damaged file was kept for diagnosis, if there was one.
    pub damaged_copy: Option<PathBuf>,
}

impl Store {
    /// Opens (creating if needed, mode 0700) the state directory `dir` of
    /// `product` on the device `device`. `secret` is an optional vendor
    /// secret mixed into the integrity key; `policy` decides whether a
    /// stored fingerprint is still this device.
    pub fn open(
        dir: impl Into<PathBuf>,
        product: &str,
        device: Fingerprint,
        policy: MatchPolicy,
        secret: &[u8],
    ) -> Result<Store> {
        if product.is_empty() {
            return Err(Error::InvalidArgument("the product code is empty"));
        }
        let dir = dir.into();
        create_private_dir(&dir)?;
        let mut k = Sha256::new();
        k.update(b"tessera/v1/store-key\0");
        k.update(product.as_bytes());
        k.update([0]);
        k.update(secret);
        Ok(Store {
            dir,
            product: product.to_owned(),
            device,
            policy,
            key: k.finalize().into(),
        })
    }

    /// The platform's per-user data directory for `product`:
    /// `$XDG_DATA_HOME/tessera/<product>` (usually `~/.local/share/...`) on
    /// Linux, `~/Library/Application Support/tessera/<product>` on macOS,
    /// `%LOCALAPPDATA%\tessera\<product>` on Windows.
    pub fn default_dir(product: &str) -> Result<PathBuf> {
        if product.is_empty() || product.contains(['/', '\\']) || product.starts_with('.') {
            return Err(Error::InvalidArgument(
                "the product code cannot name a directory",
            ));
        }
        dirs::data_local_dir()
            .map(|d| d.join("tessera").join(product))
            .ok_or(Error::Unsupported(
                "this platform has no per-user data directory",
            ))
    }

    /// The directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// This device's fingerprint, as the store was opened with.
    pub fn device(&self) -> &Fingerprint {
        &self.device
    }

    /// Reads the state. A store never written gives the empty state.
    pub fn load(&self) -> Result<State> {
        Ok(self.load_envelope()?.map(|e| e.state).unwrap_or_default())
    }

    /// Decodes the bytes of a state file exactly as [`Store::load`] would
    /// (for diagnostics and fuzzing): product, device, tag, schema.
    pub fn parse(&self, bytes: &[u8]) -> Result<State> {
        if bytes.len() as u64 > MAX_STATE_LEN {
            return Err(Error::StoreCorrupt(
                "the state file is larger than any state",
            ));
        }
        self.decode(bytes).map(|e| e.state)
    }

    fn load_envelope(&self) -> Result<Option<Envelope>> {
        match read_bounded(&self.dir.join(STATE))? {
            Some(bytes) => self.decode(&bytes).map(Some),
            None if self.dir.join(BACKUP).exists() => Err(Error::StoreCorrupt(
                "the state file is missing but its backup exists",
            )),
            None => Ok(None),
        }
    }

    /// Reads, changes and writes the state under the cross-process lock.
    /// When `change` fails, or the state cannot be read, nothing is written.
    pub fn update<T>(&self, change: impl FnOnce(&mut State) -> Result<T>) -> Result<T> {
        let lock = self.lock()?;
        self.update_locked(&lock, change)
    }

    /// [`Store::update`] for a caller that already holds the lock.
    pub(crate) fn update_locked<T>(
        &self,
        _lock: &StoreLock<'_>,
        change: impl FnOnce(&mut State) -> Result<T>,
    ) -> Result<T> {
        let current = self.load_envelope()?;
        let generation = current.as_ref().map_or(0, |e| e.generation);
        let mut state = current.map(|e| e.state).unwrap_or_default();
        let out = change(&mut state)?;
        let next = generation.checked_add(1).ok_or(Error::StoreCorrupt(
            "the state's generation number is used up",
        ))?;
        self.write(next, state)?;
        Ok(out)
    }

    /// Restores the last good state from the backup, keeping the damaged
    /// file as `state.damaged` for diagnosis. Never invents an empty state:
    /// without a valid backup it fails.
    pub fn recover(&self) -> Result<Recovery> {
        let _lock = self.lock()?;
        let backup = read_bounded(&self.dir.join(BACKUP))?
            .ok_or(Error::StoreCorrupt("there is no backup to recover from"))?;
        let envelope = self.decode(&backup)?;
        let state_path = self.dir.join(STATE);
        let damaged_copy = if state_path.exists() {
            let keep = self.dir.join("state.damaged");
            fs::rename(&state_path, &keep)
                .map_err(|e| Error::io(&e, "keeping the damaged state"))?;
            Some(keep)
        } else {
            None
        };
        let generation = envelope.generation;
        self.write_file(&self.encode(&envelope)?)?;
        Ok(Recovery {
            restored_generation: generation,
            damaged_copy,
        })
    }

    /// Takes the cross-process lock; it is released when the guard drops.
    pub(crate) fn lock(&self) -> Result<StoreLock<'static>> {
        let file = self.open_lock_file()?;
        file.lock()
            .map_err(|e| Error::io(&e, "locking the state"))?;
        Ok(StoreLock::Owned(file))
    }

    /// Opens the lock file, to lock it many times with [`Store::lock_with`].
    /// Created owner-only (0600), as every file of the store.
    pub(crate) fn open_lock_file(&self) -> Result<File> {
        let mut options = OpenOptions::new();
        options.create(true).truncate(false).write(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt as _;
            options.mode(0o600);
        }
        options
            .open(self.dir.join(LOCK))
            .map_err(|e| Error::io(&e, "opening the state lock"))
    }

    /// Locks through a descriptor from [`Store::open_lock_file`]. Threads of
    /// one process sharing that descriptor must exclude each other first.
    pub(crate) fn lock_with<'a>(&self, file: &'a File) -> Result<StoreLock<'a>> {
        file.lock()
            .map_err(|e| Error::io(&e, "locking the state"))?;
        Ok(StoreLock::Borrowed(file))
    }

    /// The integrity key (HMAC) of this store, shared by the consumption journal.
    pub(crate) fn key(&self) -> &[u8; 32] {
        &self.key
    }

    fn tag(&self, signed: &[u8]) -> crate::keyed_hash::HmacSha256 {
        let mut mac = crate::keyed_hash::keyed(&self.key);
        mac.update(signed);
        mac
    }

    fn encode(&self, envelope: &Envelope) -> Result<Vec<u8>> {
        let json = serde_json::to_string(envelope)
            .map_err(|_| Error::InvalidArgument("the state cannot be encoded"))?;
        let mut out = format!("{MAGIC}\n{json}\n").into_bytes();
        let tag = self.tag(&out).finalize().into_bytes();
        out.extend_from_slice(hex::encode(tag).as_bytes());
        out.push(b'\n');
        Ok(out)
    }

    fn decode(&self, bytes: &[u8]) -> Result<Envelope> {
        let text = std::str::from_utf8(bytes).map_err(|_| Error::StoreCorrupt("not UTF-8 text"))?;
        let mut lines = text.split_terminator('\n');
        let (Some(magic), Some(json), Some(tag), None) =
            (lines.next(), lines.next(), lines.next(), lines.next())
        else {
            return Err(Error::StoreCorrupt("not three lines: truncated or garbled"));
        };
        if magic != MAGIC {
            return if magic.starts_with("TESSERA STATE ") {
                Err(Error::StoreVersion)
            } else {
                Err(Error::StoreCorrupt("not a Tessera state file"))
            };
        }
        let tag = crate::util::unhex::<32>(tag)
            .ok_or(Error::StoreCorrupt("the integrity tag is garbled"))?;
        // Say "from another device" before "tampered" so a copied store is
        // reported as what it is; the order gives an attacker nothing, since
        // both refuse.
        #[derive(Deserialize)]
        struct Header {
            product: String,
            device: Fingerprint,
        }
        let header: Option<Header> = serde_json::from_str(json).ok();
        if let Some(h) = &header {
            if h.product != self.product {
                return Err(Error::StoreWrongProduct);
            }
            if !h.device.matches(&self.device, &self.policy) {
                return Err(Error::StoreFromOtherDevice);
            }
        }
        let signed_len = magic.len() + 1 + json.len() + 1;
        self.tag(&bytes[..signed_len])
            .verify_slice(&tag)
            .map_err(|_| Error::StoreTampered)?;
        let envelope: Envelope = serde_json::from_str(json)
            .map_err(|_| Error::StoreCorrupt("the contents do not parse"))?;
        if envelope.schema != SCHEMA {
            return Err(Error::StoreVersion);
        }
        Ok(envelope)
    }

    fn write(&self, generation: u64, state: State) -> Result<()> {
        let envelope = Envelope {
            schema: SCHEMA,
            product: self.product.clone(),
            // A tolerated fingerprint change (new hostname) is recorded, so
            // changes do not accumulate past the policy unnoticed.
            device: self.device.clone(),
            generation,
            state,
        };
        let bytes = self.encode(&envelope)?;
        if bytes.len() as u64 > MAX_STATE_LEN {
            return Err(Error::TooLarge {
                len: bytes.len(),
                max: MAX_STATE_LEN as usize,
            });
        }
        self.write_file(&bytes)
    }

    /// tmp + fsync; state → state.bak (by hard link, so `state` never
    /// disappears); rename tmp → state; fsync the directory.
    fn write_file(&self, bytes: &[u8]) -> Result<()> {
        let io = |context: &'static str| move |e: io::Error| Error::io(&e, context);
        let tmp = self.dir.join(TMP);
        let state = self.dir.join(STATE);
        crate::util::write_synced(&tmp, bytes).map_err(io("writing the new state"))?;
        if state.exists() {
            let bak_tmp = self.dir.join(BACKUP_TMP);
            let _ = fs::remove_file(&bak_tmp);
            if fs::hard_link(&state, &bak_tmp).is_err() {
                fs::copy(&state, &bak_tmp).map_err(io("copying the state to its backup"))?;
            }
            fs::rename(&bak_tmp, self.dir.join(BACKUP)).map_err(io("keeping the backup"))?;
        }
        crate::util::rename_synced(&tmp, &state).map_err(io("replacing the state"))
    }
}

fn read_bounded(path: &Path) -> Result<Option<Vec<u8>>> {
    let bytes = match crate::util::read_at_most(path, MAX_STATE_LEN) {
        Ok(b) => b,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(Error::io(&e, "reading the state")),
    };
    if bytes.len() as u64 > MAX_STATE_LEN {
        return Err(Error::StoreCorrupt(
            "the state file is larger than any state",
        ));
    }
    Ok(Some(bytes))
}

fn create_private_dir(dir: &Path) -> Result<()> {
    let mut builder = fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt as _;
        builder.mode(0o700);
    }
    builder
        .create(dir)
        .map_err(|e| Error::io(&e, "creating the state directory"))?;
    // Windows: an ACL that grants this user alone, inherited by the files
    // inside (a directory under %LOCALAPPDATA% is private already; one the
    // product chose elsewhere may not be).
    #[cfg(windows)]
    tessera_os::win32::restrict_to_owner(dir)
        .map_err(|e| Error::io(&e, "making the state directory private"))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// A state as the SDK wrote it when these parts were a string-keyed map
    /// (0.1.0): every part, and an entry of a newer SDK.
    fn written_before() -> serde_json::Value {
        json!({
            "high_water": "2026-11-30T10:00:00Z",
            "extensions": {
                "consumption": {
                    "base_seq": 4096,
                    "base_mac": "00112233445566778899aabbccddeeff",
                    "used": {"license": [-9223372036854775808_i64, 12]},
                    "uploaded_seq": 4000,
                    "pending": [{"first_seq": 4001, "last_seq": 4096, "counter": "license",
                                 "period": -9223372036854775808_i64, "amount": 96}]
                },
                "lease": "-----BEGIN TESSERA LEASE-----\n...",
                "offline_request": {"id": "ab", "request": "-----BEGIN TESSERA OFFLINE REQUEST-----"},
                "offline_deactivation": "-----BEGIN TESSERA OFFLINE REQUEST-----",
                "airgap": {"code": "ABCDE-FGHJK-MNPQR-STVWX-YZ012", "created_at": "2026-11-30T09:00:00Z"},
                "from_a_newer_sdk": {"kept": [1, 2, 3]}
            }
        })
    }

    #[test]
    fn every_part_reads_into_its_typed_field_and_writes_back_unchanged() {
        let state: State = serde_json::from_value(written_before()).unwrap();
        let kept = &state.kept;
        let snapshot = kept.consumption.as_ref().unwrap();
        assert_eq!((snapshot.base_seq, snapshot.uploaded_seq), (4096, 4000));
        assert_eq!(snapshot.used["license"], (i64::MIN, 12));
        assert_eq!(snapshot.pending[0].amount, 96);
        assert!(kept
            .lease
            .as_deref()
            .unwrap()
            .starts_with("-----BEGIN TESSERA LEASE"));
        assert_eq!(kept.offline_request.as_ref().unwrap().id, "ab");
        assert!(kept.offline_deactivation.is_some());
        assert_eq!(
            kept.airgap.as_ref().unwrap().code,
            "ABCDE-FGHJK-MNPQR-STVWX-YZ012"
        );
        assert_eq!(kept.other["from_a_newer_sdk"], json!({"kept": [1, 2, 3]}));
        assert_eq!(serde_json::to_value(&state).unwrap(), written_before());
    }

    #[test]
    fn an_empty_state_writes_no_extensions() {
        let value = serde_json::to_value(State::default()).unwrap();
        assert_eq!(value, json!({}));
        let back: State = serde_json::from_value(value).unwrap();
        assert_eq!(back, State::default());
    }
}
