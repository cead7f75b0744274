//! The armored, signed envelope shared by every document Tessera signs.
//!
//! ```text
//! -----BEGIN TESSERA LICENSE-----
//! Version: 1
//! Algorithm: Ed25519
//! Key-Id: 0123456789abcdef
//!
//! <base64 of payload || signature, 64 characters a line>
//! -----END TESSERA LICENSE-----
//! ```
//!
//! The signature is Ed25519 over `domain || key_id (8 bytes) || payload`,
//! where `domain` names the kind of document and the format version, so a
//! signature made for one kind never verifies as another. `docs/FORMAT.md`
//! describes every byte.
//!
//! Decoding is strict: one canonical encoding per document. Surrounding
//! whitespace and CRLF line endings are the only liberties taken.

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine as _;
use ed25519_dalek::Signature;

use crate::error::{Error, Result};
use crate::format::keys::{KeyId, Keyring};

/// Characters of base64 per body line (48 bytes decoded).
pub const LINE_LEN: usize = 64;
const SIG_LEN: usize = 64;
const VERSION_LINE: &str = "Version: 1";
const ALGORITHM_LINE: &str = "Algorithm: Ed25519";
const KEY_ID_PREFIX: &str = "Key-Id: ";

/// One kind of signed document: its armor label, its signature domain and
/// its size bound.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Kind {
    /// The word between `BEGIN ` and the closing dashes.
    pub label: &'static str,
    /// The domain-separation prefix of the signed message.
    pub domain: &'static [u8],
    /// The largest armored document accepted, in bytes.
    pub max_len: usize,
}

/// A signed license file.
pub const LICENSE: Kind = Kind {
    label: "TESSERA LICENSE",
    domain: b"tessera/v1/license/ed25519\0",
    max_len: 64 * 1024,
};

/// An offline request file: the device writes it (docs/FORMAT.md).
pub const OFFLINE_REQUEST: Kind = Kind {
    label: "TESSERA OFFLINE REQUEST",
    domain: b"tessera/v1/offline-request/ed25519\0",
    max_len: 16 * 1024,
};

/// The vendor's answer to an offline activation request.
pub const OFFLINE_RESPONSE: Kind = Kind {
    label: "TESSERA OFFLINE RESPONSE",
    domain: b"tessera/v1/offline-response/ed25519\0",
    max_len: 128 * 1024,
};

/// A document whose armor decoded, before or after its signature was checked.
///
/// The buffer holds the signed message (`domain || key id || payload`)
/// followed by the signature, so verification needs no copy.
#[derive(Debug, Clone)]
pub struct Opened {
    key_id: KeyId,
    payload_start: usize,
    buf: Vec<u8>,
}

impl Opened {
    /// The id of the key that signed (or claims to have signed) the document.
    pub fn key_id(&self) -> KeyId {
        self.key_id
    }

    /// The payload bytes exactly as signed.
    pub fn payload(&self) -> &[u8] {
        &self.buf[self.payload_start..self.buf.len() - SIG_LEN]
    }

    fn message(&self) -> &[u8] {
        &self.buf[..self.buf.len() - SIG_LEN]
    }

    fn signature(&self) -> Signature {
        let mut sig = [0u8; SIG_LEN];
        sig.copy_from_slice(&self.buf[self.buf.len() - SIG_LEN..]);
        Signature::from_bytes(&sig)
    }
}

/// Bounds, decodes strictly, pins algorithm and key id, and verifies the
/// signature with `verify_strict`. Returns the payload only when it holds.
pub fn open(kind: &Kind, input: &[u8], keyring: &Keyring) -> Result<Opened> {
    let opened = decode(kind, input)?;
    let key = keyring
        .get(opened.key_id)
        .ok_or_else(|| Error::UnknownKeyId(opened.key_id.to_string()))?;
    key.verifying_key()
        .verify_strict(opened.message(), &opened.signature())
        .map_err(|_| Error::BadSignature)?;
    Ok(opened)
}

/// Decodes the armor without checking the signature.
///
/// Only for diagnostics (the vendor's `tessera inspect`); nothing may act on
/// a payload obtained this way.
pub fn decode(kind: &Kind, input: &[u8]) -> Result<Opened> {
    if input.len() > kind.max_len {
        return Err(Error::TooLarge {
            len: input.len(),
            max: kind.max_len,
        });
    }
    let text = input.trim_ascii();
    if text.is_empty() {
        return Err(Error::Empty);
    }
    match decode_canonical(kind, text) {
        Some(opened) => Ok(opened),
        None => decode_general(kind, text),
    }
}

/// Every rule of the armor, one line after another, with the error of the
/// first rule a document breaks.
fn decode_general(kind: &Kind, text: &[u8]) -> Result<Opened> {
    let lines = split_lines(text)?;
    // BEGIN, three headers, a blank line, at least one body line, END.
    if lines.len() < 7 {
        return Err(malformed(0, "the document is truncated: too few lines"));
    }
    expect_marker(lines[0], "BEGIN", kind.label, 1)?;
    let last = lines.len() - 1;
    expect_marker(lines[last], "END", kind.label, last + 1)?;

    // The armor is checked strictly first, as FORMAT.md orders it: a
    // header that is well formed but names another version or algorithm
    // is reported only once the rest of the armor holds.
    let version = check_version(lines[1]);
    if let Err(e @ Error::Malformed { .. }) = version {
        return Err(e);
    }
    let algorithm = check_algorithm(lines[2]);
    if let Err(e @ Error::Malformed { .. }) = algorithm {
        return Err(e);
    }
    let key_id = lines[3]
        .strip_prefix(KEY_ID_PREFIX.as_bytes())
        .and_then(|hex| std::str::from_utf8(hex).ok())
        .and_then(KeyId::from_hex)
        .ok_or(malformed(
            4,
            "expected `Key-Id: ` and 16 lowercase hex digits",
        ))?;
    if !lines[4].is_empty() {
        return Err(malformed(5, "expected an empty line after the headers"));
    }

    // Check the body's line structure, gather it into one run of base64, and
    // decode that in a single pass after the domain and key id.
    let body = &lines[5..last];
    let body_chars: usize = body.iter().map(|l| l.len()).sum();
    let mut b64 = Vec::with_capacity(body_chars);
    for (i, line) in body.iter().enumerate() {
        let line_no = 6 + i;
        if i + 1 == body.len() {
            if line.is_empty() || line.len() > LINE_LEN || line.len() % 4 != 0 {
                return Err(malformed(
                    line_no,
                    "the last body line must hold 4 to 64 base64 characters, a multiple of 4",
                ));
            }
        } else if line.len() != LINE_LEN || line.contains(&b'=') {
            return Err(malformed(
                line_no,
                "body lines before the last must hold exactly 64 base64 characters without padding",
            ));
        }
        b64.extend_from_slice(line);
    }
    let mut buf = Vec::with_capacity(kind.domain.len() + 8 + body_chars / 4 * 3);
    buf.extend_from_slice(kind.domain);
    buf.extend_from_slice(&key_id.0);
    let payload_start = buf.len();
    B64.decode_vec(&b64, &mut buf)
        .map_err(|_| malformed(0, "the body is not canonical base64"))?;
    if buf.len() < payload_start + SIG_LEN + 1 {
        return Err(malformed(
            0,
            "the body is too short to hold a payload and a signature",
        ));
    }
    version?;
    algorithm?;
    Ok(Opened {
        key_id,
        payload_start,
        buf,
    })
}

/// The exact shape every document this SDK writes has (LF line breaks,
/// full 64-character lines, a last line, nothing else), read in strides
/// without splitting the text into lines. `None` for anything else, which
/// [`decode`]'s general reader then accepts or refuses, with its error; so
/// this accepts nothing that reader refuses, and reads what it accepts to
/// the same bytes (`armor::tests::the_fast_reader_agrees_with_the_general_one`).
fn decode_canonical(kind: &Kind, text: &[u8]) -> Option<Opened> {
    let rest = text
        .strip_prefix(b"-----BEGIN ")?
        .strip_prefix(kind.label.as_bytes())?
        .strip_prefix(b"-----\n")?
        .strip_prefix(VERSION_LINE.as_bytes())?
        .strip_prefix(b"\n")?
        .strip_prefix(ALGORITHM_LINE.as_bytes())?
        .strip_prefix(b"\n")?
        .strip_prefix(KEY_ID_PREFIX.as_bytes())?;
    let key_id = KeyId::from_hex(std::str::from_utf8(rest.get(..16)?).ok()?)?;
    let mut body = rest.get(16..)?.strip_prefix(b"\n\n")?;
    body = body
        .strip_suffix(b"-----")?
        .strip_suffix(kind.label.as_bytes())?
        .strip_suffix(b"\n-----END ")?;
    // Each line is decoded where it lies, straight into the signed message:
    // no copy of the base64 run, one table lookup per character.
    let mut buf = vec![0; kind.domain.len() + 8 + body.len() / 4 * 3];
    buf[..kind.domain.len()].copy_from_slice(kind.domain);
    buf[kind.domain.len()..kind.domain.len() + 8].copy_from_slice(&key_id.0);
    let payload_start = kind.domain.len() + 8;
    let mut written = payload_start;
    while body.len() > LINE_LEN {
        let (line, next) = body.split_at(LINE_LEN);
        if next[0] != b'\n' {
            return None;
        }
        written += decode_groups(line, buf.get_mut(written..)?)?;
        body = &next[1..];
    }
    if body.is_empty() || body.len() % 4 != 0 {
        return None;
    }
    let (full, last) = body.split_at(body.len() - 4);
    written += decode_groups(full, buf.get_mut(written..)?)?;
    written += decode_last_group(last, buf.get_mut(written..)?)?;
    buf.truncate(written);
    (buf.len() > payload_start + SIG_LEN).then_some(Opened {
        key_id,
        payload_start,
        buf,
    })
}

/// The value of each base64 character (standard alphabet); `0xff` for
/// every other byte, `=` included.
const B64_VALUES: [u8; 256] = {
    let alphabet = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut table = [0xff_u8; 256];
    let mut i = 0;
    while i < 64 {
        table[alphabet[i] as usize] = i as u8;
        i += 1;
    }
    table
};

/// [`B64_VALUES`] shifted into place for each position of a group, so a
/// group's 24 bits are four lookups ORed together. Every byte outside the
/// alphabet is bit 24, which no valid group can set: one test per run.
const B64_SHIFTED: [[u32; 256]; 4] = {
    let mut tables = [[0_u32; 256]; 4];
    let mut i = 0;
    while i < 256 {
        let v = B64_VALUES[i];
        let mut at = 0;
        while at < 4 {
            tables[at][i] = if v == 0xff {
                B64_BAD
            } else {
                (v as u32) << (18 - 6 * at)
            };
            at += 1;
        }
        i += 1;
    }
    tables
};

/// The mark [`B64_SHIFTED`] gives a byte outside the alphabet.
const B64_BAD: u32 = 1 << 24;

/// Decodes whole 4-character groups without padding (`chars.len()` is a
/// multiple of 4) into the start of `out`, and answers the bytes written;
/// None at a byte outside the alphabet, or when `out` is short.
fn decode_groups(chars: &[u8], out: &mut [u8]) -> Option<usize> {
    let written = chars.len() / 4 * 3;
    if !chars.len().is_multiple_of(4) || out.len() < written {
        return None;
    }
    let [t0, t1, t2, t3] = &B64_SHIFTED;
    let group = |g: &[u8]| {
        t0[usize::from(g[0])]
            | t1[usize::from(g[1])]
            | t2[usize::from(g[2])]
            | t3[usize::from(g[3])]
    };
    let mut bad = 0;
    // Two groups at a time, their six bytes written at once.
    let (pairs, single) = chars.as_chunks::<8>();
    let (out_pairs, out_rest) = out.split_at_mut(pairs.len() * 6);
    for (pair, bytes) in pairs.iter().zip(out_pairs.chunks_exact_mut(6)) {
        let (a, b) = (group(&pair[..4]), group(&pair[4..]));
        bad |= a | b;
        let both = u64::from(a) << 24 | u64::from(b);
        bytes.copy_from_slice(&both.to_be_bytes()[2..]);
    }
    if !single.is_empty() {
        let n = group(single);
        bad |= n;
        out_rest
            .get_mut(..3)?
            .copy_from_slice(&n.to_be_bytes()[1..]);
    }
    (bad & B64_BAD == 0).then_some(written)
}

/// Decodes the last group, which may end in `=` or `==`, as canonical
/// base64 wants it: the bits the padding leaves over must be zero (the
/// `base64` crate's standard engine refuses the same inputs). Answers the
/// bytes written.
fn decode_last_group(group: &[u8], out: &mut [u8]) -> Option<usize> {
    let &[c0, c1, c2, c3] = group else {
        return None;
    };
    match (c2, c3) {
        (b'=', b'=') => {
            let [a, b] = [c0, c1].map(|x| B64_VALUES[x as usize]);
            if (a | b) & 0x80 != 0 || b & 0x0f != 0 {
                return None;
            }
            *out.first_mut()? = a << 2 | b >> 4;
            Some(1)
        }
        (_, b'=') => {
            let [a, b, c] = [c0, c1, c2].map(|x| B64_VALUES[x as usize]);
            if (a | b | c) & 0x80 != 0 || c & 0x03 != 0 {
                return None;
            }
            let n = u32::from(a) << 18 | u32::from(b) << 12 | u32::from(c) << 6;
            out.get_mut(..2)?.copy_from_slice(&n.to_be_bytes()[1..3]);
            Some(2)
        }
        _ => decode_groups(group, out),
    }
}

/// Signs `payload` with `key` and armors it (feature `issuer`).
#[cfg(feature = "issuer")]
#[cfg_attr(docsrs, doc(cfg(feature = "issuer")))]
pub fn seal(kind: &Kind, key: &crate::format::keys::SigningKey, payload: &[u8]) -> Result<String> {
    seal_with(kind, key.id(), payload, |message| key.sign(message))
}

/// Armors `payload` with the signature `sign` makes over the signed
/// message (`domain || key_id || payload`): the vendor's key, or a
/// device's own key for the requests it writes.
pub(crate) fn seal_with(
    kind: &Kind,
    key_id: KeyId,
    payload: &[u8],
    sign: impl FnOnce(&[u8]) -> [u8; SIG_LEN],
) -> Result<String> {
    if payload.is_empty() {
        return Err(Error::InvalidArgument("the payload is empty"));
    }
    let mut message = Vec::with_capacity(kind.domain.len() + 8 + payload.len());
    message.extend_from_slice(kind.domain);
    message.extend_from_slice(&key_id.0);
    message.extend_from_slice(payload);
    let signature = sign(&message);

    let mut body = Vec::with_capacity(payload.len() + SIG_LEN);
    body.extend_from_slice(payload);
    body.extend_from_slice(&signature);
    let encoded = B64.encode(&body);

    let mut out = String::with_capacity(encoded.len() + encoded.len() / LINE_LEN + 160);
    out.push_str(&format!("-----BEGIN {}-----\n", kind.label));
    out.push_str(VERSION_LINE);
    out.push('\n');
    out.push_str(ALGORITHM_LINE);
    out.push('\n');
    out.push_str(&format!("{KEY_ID_PREFIX}{key_id}\n\n"));
    for chunk in encoded.as_bytes().chunks(LINE_LEN) {
        // base64 output is ASCII, so every chunk is valid UTF-8.
        out.push_str(std::str::from_utf8(chunk).unwrap_or_default());
        out.push('\n');
    }
    out.push_str(&format!("-----END {}-----\n", kind.label));
    if out.len() > kind.max_len {
        return Err(Error::TooLarge {
            len: out.len(),
            max: kind.max_len,
        });
    }
    Ok(out)
}

fn malformed(line: usize, what: &'static str) -> Error {
    Error::Malformed { line, what }
}

/// Splits on LF, dropping one CR before each LF. Every other byte must be
/// printable ASCII.
fn split_lines(text: &[u8]) -> Result<Vec<&[u8]>> {
    let mut lines = Vec::with_capacity(text.len() / (LINE_LEN + 1) + 8);
    for (i, raw) in text.split(|&b| b == b'\n').enumerate() {
        let line = raw.strip_suffix(b"\r").unwrap_or(raw);
        // Branch-free over the line so the compiler can vectorise it.
        if line
            .iter()
            .fold(false, |bad, &b| bad | !(0x20..=0x7e).contains(&b))
        {
            return Err(malformed(
                i + 1,
                "only printable ASCII is allowed inside the armor",
            ));
        }
        lines.push(line);
    }
    Ok(lines)
}

fn expect_marker(line: &[u8], which: &str, label: &str, line_no: usize) -> Result<()> {
    let ok = line
        .strip_prefix(b"-----")
        .and_then(|l| l.strip_prefix(which.as_bytes()))
        .and_then(|l| l.strip_prefix(b" "))
        .and_then(|l| l.strip_prefix(label.as_bytes()))
        .is_some_and(|l| l == b"-----");
    if ok {
        Ok(())
    } else if which == "BEGIN" {
        Err(malformed(
            line_no,
            "expected the BEGIN line of this kind of document",
        ))
    } else {
        Err(malformed(
            line_no,
            "expected the END line of this kind of document",
        ))
    }
}

fn check_version(line: &[u8]) -> Result<()> {
    if line == VERSION_LINE.as_bytes() {
        return Ok(());
    }
    match line.strip_prefix(b"Version: ") {
        // Any other number, `01` and `0` included (FORMAT.md: "another number").
        Some(v) if !v.is_empty() && v.iter().all(u8::is_ascii_digit) => {
            Err(Error::UnsupportedVersion)
        }
        _ => Err(malformed(2, "expected `Version: 1`")),
    }
}

fn check_algorithm(line: &[u8]) -> Result<()> {
    if line == ALGORITHM_LINE.as_bytes() {
        return Ok(());
    }
    match line.strip_prefix(b"Algorithm: ") {
        Some(a) if !a.is_empty() && a.iter().all(u8::is_ascii_alphanumeric) => {
            Err(Error::UnsupportedAlgorithm)
        }
        _ => Err(malformed(3, "expected `Algorithm: Ed25519`")),
    }
}

#[cfg(all(test, feature = "issuer"))]
#[allow(clippy::unwrap_used, clippy::expect_used)] // tests (clippy sees cfg(test) only alone)
mod tests {
    use super::*;
    use crate::format::keys::SigningKey;

    #[test]
    fn the_fast_reader_agrees_with_the_general_one() {
        let key = SigningKey::from_seed(&[3; 32]).unwrap();
        let mut inputs = Vec::new();
        for len in [1usize, 47, 48, 49, 96, 200] {
            let doc = seal(&LICENSE, &key, &vec![b'x'; len]).unwrap();
            let text = doc.trim().as_bytes().to_vec();
            // The document as written is read by the fast reader.
            assert!(decode_canonical(&LICENSE, &text).is_some(), "{len}");
            for i in 0..text.len() {
                for b in [b'\n', b'\r', b'=', b'A', b' ', b'-', 0xc3] {
                    let mut changed = text.clone();
                    changed[i] = b;
                    inputs.push(changed);
                }
                let mut cut = text.clone();
                cut.remove(i);
                inputs.push(cut);
                let mut grown = text.clone();
                grown.insert(i, b'\n');
                inputs.push(grown);
            }
            inputs.push(doc.replace('\n', "\r\n").trim().as_bytes().to_vec());
            inputs.push(text);
        }
        let mut fast = 0;
        for input in &inputs {
            if let Some(quick) = decode_canonical(&LICENSE, input) {
                fast += 1;
                let general = decode_general(&LICENSE, input)
                    .unwrap_or_else(|e| panic!("{e}: {:?}", String::from_utf8_lossy(input)));
                assert_eq!(quick.key_id, general.key_id);
                assert_eq!(quick.payload_start, general.payload_start);
                assert_eq!(quick.buf, general.buf);
            }
        }
        assert!(fast >= 6, "{fast}");
    }

    const OTHER: Kind = Kind {
        label: "TESSERA OTHER",
        domain: b"tessera/v1/other/ed25519\0",
        max_len: 1024,
    };

    fn key() -> SigningKey {
        SigningKey::from_seed(&[7u8; 32]).unwrap()
    }

    #[test]
    fn seal_then_open_round_trips_every_body_length() {
        let key = key();
        let ring = Keyring::from_keys([key.public_key().clone()]);
        // Lengths around line and padding boundaries.
        for len in [1usize, 2, 3, 31, 32, 33, 47, 48, 49, 95, 96, 97, 500] {
            let payload: Vec<u8> = (0..len).map(|i| (i * 31 % 251) as u8).collect();
            let text = seal(&LICENSE, &key, &payload).unwrap();
            for line in text.lines() {
                assert!(line.len() <= LINE_LEN, "line too long: {line}");
            }
            let opened = open(&LICENSE, text.as_bytes(), &ring).unwrap();
            assert_eq!(opened.payload(), &payload[..]);
            assert_eq!(opened.key_id(), key.id());
        }
    }

    #[test]
    fn a_signature_for_one_kind_never_verifies_as_another() {
        let key = key();
        let ring = Keyring::from_keys([key.public_key().clone()]);
        let text = seal(&OTHER, &key, b"{}").unwrap();
        // Same bytes under the license label: the domain differs, so the signature fails.
        let relabeled = text.replace("TESSERA OTHER", "TESSERA LICENSE");
        assert_eq!(
            open(&LICENSE, relabeled.as_bytes(), &ring).unwrap_err(),
            Error::BadSignature
        );
        assert!(matches!(
            open(&LICENSE, text.as_bytes(), &ring).unwrap_err(),
            Error::Malformed { line: 1, .. }
        ));
    }

    #[test]
    fn crlf_and_surrounding_whitespace_are_accepted() {
        let key = key();
        let ring = Keyring::from_keys([key.public_key().clone()]);
        let text = seal(&LICENSE, &key, b"{\"a\":1}").unwrap();
        let crlf = format!("\r\n  \t{}\r\n\r\n", text.replace('\n', "\r\n"));
        assert_eq!(
            open(&LICENSE, crlf.as_bytes(), &ring).unwrap().payload(),
            b"{\"a\":1}"
        );
    }

    #[test]
    fn non_canonical_forms_are_refused() {
        let key = key();
        let ring = Keyring::from_keys([key.public_key().clone()]);
        let payload = vec![b'x'; 100];
        let text = seal(&LICENSE, &key, &payload).unwrap();
        let cases = [
            text.replace("Version: 1", "Version:  1"),
            text.replace("Algorithm: Ed25519", "algorithm: Ed25519"),
            text.replace("\n\n", "\n\n\n"),
            text.replace("\n\n", "\n"),
            // A body rewrapped at 76 characters decodes to the same bytes but is not canonical.
            rewrap(&text, 76),
            text.replace('\n', "\n "),
            format!("{text}trailing"),
        ];
        for case in cases {
            let err = open(&LICENSE, case.as_bytes(), &ring).unwrap_err();
            assert!(
                matches!(err, Error::Malformed { .. }),
                "{case:?} gave {err:?}"
            );
        }
        assert_eq!(
            open(
                &LICENSE,
                text.replace("Version: 1", "Version: 2").as_bytes(),
                &ring
            )
            .unwrap_err(),
            Error::UnsupportedVersion
        );
        assert_eq!(
            open(&LICENSE, text.replace("Ed25519", "Ed448").as_bytes(), &ring).unwrap_err(),
            Error::UnsupportedAlgorithm
        );
        // FORMAT.md's order (issue 21, finding 18): the armor is checked
        // strictly first, then the version. Another version beside a broken
        // body line is the broken line; `01` and `0` are other numbers.
        let broken_line = rewrap(&text.replace("Version: 1", "Version: 2"), 63);
        assert!(matches!(
            open(&LICENSE, broken_line.as_bytes(), &ring).unwrap_err(),
            Error::Malformed { .. }
        ));
        for other in ["Version: 01", "Version: 0", "Version: 10"] {
            assert_eq!(
                open(
                    &LICENSE,
                    text.replace("Version: 1", other).as_bytes(),
                    &ring
                )
                .unwrap_err(),
                Error::UnsupportedVersion,
                "{other}"
            );
        }
        assert!(matches!(
            open(
                &LICENSE,
                text.replace("Version: 1", "Version: x").as_bytes(),
                &ring
            )
            .unwrap_err(),
            Error::Malformed { .. }
        ));
    }

    fn rewrap(text: &str, width: usize) -> String {
        let lines: Vec<&str> = text.lines().collect();
        let body: String = lines[5..lines.len() - 1].concat();
        let mut out = lines[..5].join("\n");
        out.push('\n');
        for chunk in body.as_bytes().chunks(width) {
            out.push_str(std::str::from_utf8(chunk).unwrap());
            out.push('\n');
        }
        out.push_str(lines[lines.len() - 1]);
        out
    }

    #[test]
    fn size_and_emptiness_are_bounded_first() {
        let ring = Keyring::new();
        assert_eq!(open(&LICENSE, b"", &ring).unwrap_err(), Error::Empty);
        assert_eq!(
            open(&LICENSE, b" \r\n\t ", &ring).unwrap_err(),
            Error::Empty
        );
        let big = vec![b'A'; LICENSE.max_len + 1];
        assert_eq!(
            open(&LICENSE, &big, &ring).unwrap_err(),
            Error::TooLarge {
                len: LICENSE.max_len + 1,
                max: LICENSE.max_len
            }
        );
    }

    /// The fast reader's base64 (one line at a time, straight into the
    /// message): canonical base64 in 4-character groups, padding only in
    /// the last.
    fn decode_fast(chars: &[u8]) -> Option<Vec<u8>> {
        if chars.is_empty() || !chars.len().is_multiple_of(4) {
            return None;
        }
        let mut out = vec![0; chars.len() / 4 * 3];
        let (full, last) = chars.split_at(chars.len() - 4);
        let n = decode_groups(full, &mut out)?;
        let m = decode_last_group(last, &mut out[n..])?;
        out.truncate(n + m);
        Some(out)
    }

    #[test]
    fn every_padded_last_group_is_read_as_the_base64_crate_reads_it() {
        let alphabet = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/=-_";
        for &a in alphabet {
            for &b in alphabet {
                let group = [a, b, b'=', b'='];
                assert_eq!(decode_fast(&group), B64.decode(group).ok(), "{group:?}");
                for &c in alphabet {
                    let group = [a, b, c, b'='];
                    assert_eq!(decode_fast(&group), B64.decode(group).ok(), "{group:?}");
                }
            }
        }
    }

    proptest::proptest! {
        #[test]
        fn the_fast_base64_reads_what_the_base64_crate_reads_and_nothing_else(
            chars in proptest::collection::vec(
                proptest::sample::select(b"AQgwBRhx+/=9z_-\n\0\xc3".to_vec()), 4..48)
        ) {
            let chars = &chars[..chars.len() / 4 * 4];
            proptest::prop_assert_eq!(decode_fast(chars), B64.decode(chars).ok());
        }

        #[test]
        fn the_fast_base64_reads_every_encoding_back(
            bytes in proptest::collection::vec(proptest::prelude::any::<u8>(), 1..200)
        ) {
            let encoded = B64.encode(&bytes);
            proptest::prop_assert_eq!(decode_fast(encoded.as_bytes()), Some(bytes));
        }
    }
}
