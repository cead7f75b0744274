//! Small helpers shared by several modules.

use std::io::{self, Read as _};
use std::path::Path;

/// Reads at most `limit + 1` bytes of `path`, so a caller can tell "fits"
/// from "too large" without loading a huge or endless file.
pub(crate) fn read_at_most(path: &Path, limit: u64) -> io::Result<Vec<u8>> {
    let mut bytes = Vec::new();
    std::fs::File::open(path)?
        .take(limit.saturating_add(1))
        .read_to_end(&mut bytes)?;
    Ok(bytes)
}

/// Writes `bytes` to `path` (created with mode 0600, or truncated) and
/// syncs it: the first half of an atomic replace.
pub(crate) fn write_synced(path: &Path, bytes: &[u8]) -> io::Result<()> {
    use std::io::Write as _;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt as _;
        options.mode(0o600);
    }
    // Windows: write through the cache, so the sync below has little left
    // to do and a power cut cannot leave the data only in the disk cache.
    #[cfg(windows)]
    {
        use std::os::windows::fs::OpenOptionsExt as _;
        const FILE_FLAG_WRITE_THROUGH: u32 = 0x8000_0000;
        options.custom_flags(FILE_FLAG_WRITE_THROUGH);
    }
    let mut file = options.open(path)?;
    file.write_all(bytes)?;
    file.sync_all()
}

/// Renames `from` over `to` and syncs their directory: the second half.
#[cfg(not(windows))]
pub(crate) fn rename_synced(from: &Path, to: &Path) -> io::Result<()> {
    std::fs::rename(from, to)?;
    match to.parent() {
        Some(dir) => sync_dir(dir),
        None => Ok(()),
    }
}

/// Replaces `to` with `from`, returning once the change is on disk:
/// `MoveFileExW` with `MOVEFILE_WRITE_THROUGH` (Windows cannot sync a
/// directory). While another handle holds `to` open, that refuses; then
/// the standard library's rename (POSIX semantics, which replace an open
/// file on Windows 10 and later) and a flush of the new file do it. A
/// reader that holds `to` without sharing deletion (an indexer, a virus
/// scanner) makes both refuse for a moment: tried again four times over
/// about 150 ms before the error is reported. Only a flush that fails
/// after the rename leaves `to` replaced with an error (a failing disk).
#[cfg(windows)]
pub(crate) fn rename_synced(from: &Path, to: &Path) -> io::Result<()> {
    let mut wait = std::time::Duration::from_millis(10);
    let mut retries = 4;
    loop {
        match tessera_os::win32::replace_durably(from, to) {
            Err(e) if e.kind() == io::ErrorKind::PermissionDenied => {}
            other => return other,
        }
        match std::fs::rename(from, to) {
            Ok(()) => {
                return std::fs::OpenOptions::new().write(true).open(to)?.sync_all();
            }
            Err(e) if e.kind() == io::ErrorKind::PermissionDenied && retries > 0 => {
                retries -= 1;
                std::thread::sleep(wait);
                wait = wait.saturating_mul(2);
            }
            Err(e) => return Err(e),
        }
    }
}

#[cfg(unix)]
fn sync_dir(dir: &Path) -> io::Result<()> {
    std::fs::File::open(dir)?.sync_all()
}

#[cfg(not(any(unix, windows)))]
fn sync_dir(_dir: &Path) -> io::Result<()> {
    Ok(())
}

/// SHA-256 of an armored text's canonical form: surrounding whitespace
/// removed and every CRLF read as LF. A file that crossed a mail client or
/// a Windows editor hashes as it was written, so the ids and bindings made
/// from these hashes survive the trip (docs/FORMAT.md).
pub(crate) fn text_digest(text: &[u8]) -> [u8; 32] {
    use sha2::{Digest as _, Sha256};
    let text = text.trim_ascii();
    let mut hash = Sha256::new();
    let mut rest = text;
    while let Some(at) = rest.windows(2).position(|w| w == b"\r\n") {
        hash.update(&rest[..at]);
        hash.update(b"\n");
        rest = &rest[at + 2..];
    }
    hash.update(rest);
    hash.finalize().into()
}

/// Crockford's base-32 alphabet (no I, L, O, U): license keys and the
/// air-gapped codes are written in it.
pub(crate) const CROCKFORD: &[u8; 32] = b"0123456789ABCDEFGHJKMNPQRSTVWXYZ";

/// Exactly `2 * N` lowercase hex digits into `N` bytes. Strict: one
/// spelling per value (no sign, no uppercase), so a tag has no twin.
pub(crate) fn unhex<const N: usize>(s: &str) -> Option<[u8; N]> {
    if !s
        .bytes()
        .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
    {
        return None;
    }
    let mut out = [0u8; N];
    hex::decode_to_slice(s, &mut out).ok()?;
    Some(out)
}

/// Whether `a` and `b` are equal, in time that depends only on their
/// lengths (for comparing MACs and typed codes).
pub(crate) fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    use subtle::ConstantTimeEq as _;
    a.ct_eq(b).into()
}

/// `N` bytes from the operating system's random source.
pub(crate) fn random_bytes<const N: usize>() -> crate::error::Result<[u8; N]> {
    let mut bytes = [0u8; N];
    getrandom::getrandom(&mut bytes)
        .map_err(|_| crate::error::Error::Unsupported("no random source is available"))?;
    Ok(bytes)
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_text_hashes_the_same_with_crlf_and_surrounding_whitespace() {
        let lf = b"-----BEGIN X-----\nAAAA\n-----END X-----";
        let crlf = b"  -----BEGIN X-----\r\nAAAA\r\n-----END X-----\r\n\r\n";
        assert_eq!(super::text_digest(lf), super::text_digest(crlf));
        assert_ne!(
            super::text_digest(lf),
            super::text_digest(b"-----BEGIN X-----\nAAAB\n-----END X-----")
        );
        // A lone carriage return is content, not a line break.
        assert_ne!(super::text_digest(b"a\rb"), super::text_digest(b"a\nb"));
    }

    #[test]
    fn unhex_takes_one_spelling_only() {
        assert_eq!(super::unhex::<2>("0fa0"), Some([0x0f, 0xa0]));
        for bad in ["+fa0", "0FA0", "0fa", "0fa00", "0fg0"] {
            assert_eq!(super::unhex::<2>(bad), None, "{bad}");
        }
        assert!(super::constant_time_eq(b"ab", b"ab"));
        assert!(!super::constant_time_eq(b"ab", b"ac") && !super::constant_time_eq(b"ab", b"abc"));
    }
}
