//! The download helper: a release's file fetched into a folder the product
//! names, kept only when it is the file the vendor signed.
//!
//! The order: the release's signed manifest is verified against the
//! product's keyring and must name this product and this release, before
//! a byte is fetched; the file goes to a hidden partial file
//! (`.NAME.part`) beside its final name, hashed as it arrives; it may not
//! grow past the signed size; at its end its size and SHA-256 must be the
//! signed ones, and only then is it synced and renamed to `NAME`. A file
//! that fails is deleted ([`Error::DownloadRejected`]). A download that
//! breaks (the network, a server that stalls past the timeout) keeps its
//! partial file and answers [`Error::Network`]: the next call resumes it
//! with a `Range` request. A `NAME` already in the folder that is the
//! signed file is answered without the network. The helper never runs
//! what it downloads.

use std::fs::{self, File, OpenOptions};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use super::calls::Connection;
use crate::error::{Error, Result};
use crate::format::release::SignedRelease;
use crate::protocol::bodies::Release;

/// How much is read from the network at a time.
const CHUNK: usize = 64 * 1024;

impl Connection {
    /// Downloads `release`'s file into the folder `dir` and answers its
    /// path (`dir/NAME`, NAME as the vendor signed it), once its size and
    /// SHA-256 are the ones the vendor's signed release gives and that
    /// release verifies against the product's keyring.
    ///
    /// Errors: the release's signature ([`Error::UnknownKeyId`],
    /// [`Error::BadSignature`], ...) or a signed release for another
    /// product or release ([`Error::InvalidPayload`]), before anything is
    /// fetched; a file that is not the signed one, deleted
    /// ([`Error::DownloadRejected`]); a broken or stalled download, kept
    /// to resume at the next call ([`Error::Network`]). One download of a
    /// file at a time per folder.
    pub fn download_release(&self, release: &Release, dir: &Path) -> Result<PathBuf> {
        if release.manifest.is_empty() {
            return Err(Error::InvalidPayload(
                "the release carries no signed manifest (the vendor signs it with `tessera release sign`)"
                    .into(),
            ));
        }
        let signed = SignedRelease::verify(release.manifest.as_bytes(), &self.local().keyring)?;
        let m = signed.manifest();
        if m.product != self.local().product {
            return Err(Error::InvalidPayload(
                "the signed release is for another product".into(),
            ));
        }
        if m.version != release.version || m.channel != release.channel || m.size != release.size {
            return Err(Error::InvalidPayload(
                "the signed release names another version, channel or size than the release".into(),
            ));
        }
        if !dir.is_dir() {
            return Err(Error::InvalidArgument("the download folder does not exist"));
        }
        let url = self.transport().file_url(&release.installation_file)?;
        let target = dir.join(&m.file);
        // Downloaded already (an earlier call, or a size query of the C
        // ABI): answered after the same checks, without the network.
        if let Ok((size, sha256)) = size_and_sha256(&target) {
            if size == m.size && sha256 == signed.sha256() {
                return Ok(target);
            }
        }
        let part = dir.join(format!(".{}.part", m.file));
        let mut download = Partial::open(&part, m.size)?;
        if download.have < m.size {
            let fetched = match self.transport().fetch(&url, download.have) {
                Ok(f) => f,
                // The server's file is shorter than the part: not the signed one.
                Err(Error::DownloadRejected(why)) => return download.reject(why),
                Err(e) => return Err(e),
            };
            if fetched.start != download.have {
                if fetched.start != 0 {
                    return download.reject("the server sent another part of the file");
                }
                // The server sends the whole file: start again.
                download.restart()?;
            }
            download = download.receive(fetched.body)?;
        }
        if download.have < m.size {
            return download.reject("the file is shorter than the signed release says");
        }
        if download.hasher.clone().finalize().as_slice() != signed.sha256() {
            return download.reject("its SHA-256 is not the signed one");
        }
        download
            .file
            .sync_all()
            .map_err(|e| Error::io(&e, "syncing the download"))?;
        drop(download.file);
        fs::rename(&part, &target).map_err(|e| Error::io(&e, "moving the download in place"))?;
        log::info!("download: {} complete and verified", m.file);
        Ok(target)
    }
}

/// The size and SHA-256 of the file at `path`.
fn size_and_sha256(path: &Path) -> std::io::Result<(u64, [u8; 32])> {
    let mut hasher = Sha256::new();
    let size = std::io::copy(&mut File::open(path)?, &mut hasher)?;
    Ok((size, hasher.finalize().into()))
}

/// A partial file and what it holds so far.
struct Partial<'a> {
    path: &'a Path,
    file: File,
    /// Its length, all hashed.
    have: u64,
    size: u64,
    hasher: Sha256,
}

impl<'a> Partial<'a> {
    /// The partial file at `path`, created or resumed; what it holds is
    /// hashed again (a part longer than `size` starts over).
    fn open(path: &'a Path, size: u64) -> Result<Partial<'a>> {
        let mut file = OpenOptions::new()
            .read(true)
            .append(true)
            .create(true)
            .open(path)
            .map_err(|e| Error::io(&e, "opening the partial download"))?;
        let mut hasher = Sha256::new();
        let have = std::io::copy(&mut (&mut file).take(size.saturating_add(1)), &mut hasher)
            .map_err(|e| Error::io(&e, "reading the partial download"))?;
        let mut partial = Partial {
            path,
            file,
            have,
            size,
            hasher,
        };
        if have > size {
            partial.restart()?;
        }
        Ok(partial)
    }

    /// Empties the partial file.
    fn restart(&mut self) -> Result<()> {
        self.file
            .set_len(0)
            .map_err(|e| Error::io(&e, "emptying the partial download"))?;
        self.have = 0;
        self.hasher = Sha256::new();
        Ok(())
    }

    /// Appends what `body` sends, hashing it; never past `size`.
    fn receive(mut self, mut body: Box<dyn Read + Send>) -> Result<Partial<'a>> {
        let mut buffer = vec![0u8; CHUNK];
        loop {
            let n = match body.read(&mut buffer) {
                Ok(0) => return Ok(self),
                Ok(n) => n,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(e) => {
                    // Kept for the next call to resume.
                    let _ = self.file.sync_data();
                    log::warn!(
                        "download: stopped after {} of {} bytes ({})",
                        self.have,
                        self.size,
                        e.kind()
                    );
                    return Err(Error::Network(format!(
                        "the download stopped after {} of {} bytes ({}); call again to resume",
                        self.have,
                        self.size,
                        e.kind()
                    )));
                }
            };
            let chunk = buffer.get(..n).unwrap_or_default();
            let grown = self.have.checked_add(n as u64).filter(|g| *g <= self.size);
            let Some(grown) = grown else {
                return self.reject("the file is larger than the signed release says");
            };
            self.file
                .write_all(chunk)
                .map_err(|e| Error::io(&e, "writing the download"))?;
            self.hasher.update(chunk);
            self.have = grown;
        }
    }

    /// Deletes the partial file and refuses it.
    fn reject<T>(self, why: &'static str) -> Result<T> {
        drop(self.file);
        let _ = fs::remove_file(self.path);
        log::warn!("download: refused and deleted: {why}");
        Err(Error::DownloadRejected(why))
    }
}
