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

/// Lowercase hex.
pub(crate) fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write as _;
    bytes
        .iter()
        .fold(String::with_capacity(bytes.len() * 2), |mut s, b| {
            let _ = write!(s, "{b:02x}");
            s
        })
}

/// Exactly `2 * N` lowercase hex digits into `N` bytes. Strict: one
/// spelling per value (no sign, no uppercase), so a tag has no twin.
pub(crate) fn unhex<const N: usize>(s: &str) -> Option<[u8; N]> {
    fn digit(b: u8) -> Option<u8> {
        match b {
            b'0'..=b'9' => Some(b - b'0'),
            b'a'..=b'f' => Some(b - b'a' + 10),
            _ => None,
        }
    }
    if s.len() != 2 * N {
        return None;
    }
    let mut out = [0u8; N];
    for (i, pair) in s.as_bytes().chunks_exact(2).enumerate() {
        out[i] = (digit(pair[0])? << 4) | digit(pair[1])?;
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    #[test]
    fn unhex_takes_one_spelling_only() {
        assert_eq!(super::unhex::<2>("0fa0"), Some([0x0f, 0xa0]));
        for bad in ["+fa0", "0FA0", "0fa", "0fa00", "0fg0"] {
            assert_eq!(super::unhex::<2>(bad), None, "{bad}");
        }
        assert_eq!(super::hex(&[0x0f, 0xa0]), "0fa0");
    }
}
