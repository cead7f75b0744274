//! Air-gapped activation: short codes that a person types.
//!
//! 1. The device shows an *initialization code*
//!    ([`initialization_code`]): 22 Crockford base32 characters in groups
//!    of four (`XXXX-XXXX-XXXX-XXXX-XXXX-XX`), carrying a format version,
//!    64 bits of this device's fingerprint and a fresh 32-bit nonce, which
//!    the device remembers.
//! 2. The vendor (`tessera airgap confirm`, or the license server) turns it
//!    into an 18-character *confirmation code* (`XXXXXX-XXXXXX-XXXXXX`):
//!    80 bits of HMAC-SHA256, keyed by the product's air-gap key, over the
//!    initialization code, the license id and the SHA-256 of the signed
//!    license file (the policy).
//! 3. The device verifies the code against its pending initialization
//!    code, its fingerprint now and the license file, and activates
//!    ([`activate`]).
//!
//! The license file itself (marked `is_air_gapped`) is signed with the
//! vendor's Ed25519 key like any other and ships with the product or is
//! carried in; it cannot be activated without a confirmation code. An
//! Ed25519 signature is 64 bytes, far too long to type, so the typed code
//! is a MAC: the air-gap key is derived from the vendor secret that the
//! product is built with (`LocalConfig::secret`, at least 16 bytes), and
//! whoever extracts that secret from the product's binary can make codes
//! for that product. docs/SECURITY.md weighs this.
//!
//! Each code ends in two check characters: the weighted sum of all its
//! symbols is 0 modulo the prime 1021, with every position's weight
//! distinct and non-zero, so every single mistyped character and every
//! swap of two neighbours is caught, and any other typo with probability
//! 1020/1021. Decoding is Crockford's: case is ignored, `O` reads as `0`,
//! `I` and `L` as `1`, hyphens and spaces are ignored.

use hmac::Mac as _;
use sha2::{Digest, Sha256};

use crate::activation::direct::{self, Route};
use crate::error::{Error, Result};
use crate::format::fingerprint::Fingerprint;
use crate::format::license::LicenseFile;
use crate::runtime::config::LocalConfig;
use crate::runtime::store::{ActivationRecord, PendingCode};
use crate::util::CROCKFORD as ALPHABET;

const PRIME: u32 = 1021;
const INIT_SYMBOLS: usize = 20;
const CONFIRM_SYMBOLS: usize = 16;
const VERSION: u128 = 1;
/// The shortest vendor secret air-gapped activation accepts: the one every
/// product needs ([`LocalConfig::secret`](crate::LocalConfig::secret)).
pub const MIN_SECRET_LEN: usize = crate::runtime::config::MIN_SECRET_LEN;

/// The weight of payload position `i` (check symbols weigh 32 and 1):
/// all distinct and non-zero modulo the prime.
fn weight(i: usize) -> u32 {
    33 + i as u32
}

/// The weighted sum of payload symbols, modulo the prime.
fn weighted_sum(payload: &[u8]) -> u32 {
    payload
        .iter()
        .enumerate()
        .fold(0u32, |s, (i, &v)| (s + weight(i) * u32::from(v)) % PRIME)
}

/// Symbols (values 0..32) with their two check symbols appended.
fn with_check(payload: &[u8]) -> Vec<u8> {
    let t = (PRIME - weighted_sum(payload)) % PRIME; // 32 * c0 + c1 == t, t < 1024
    let mut out = payload.to_vec();
    out.push((t / 32) as u8);
    out.push((t % 32) as u8);
    out
}

fn check_holds(symbols: &[u8]) -> bool {
    let n = symbols.len() - 2;
    let total =
        weighted_sum(&symbols[..n]) + 32 * u32::from(symbols[n]) + u32::from(symbols[n + 1]);
    total.is_multiple_of(PRIME)
}

/// The `n` base32 symbols of the low `5 n` bits of `value`, most
/// significant first.
fn to_symbols(value: u128, n: usize) -> Vec<u8> {
    (0..n)
        .rev()
        .map(|i| ((value >> (5 * i)) & 31) as u8)
        .collect()
}

fn from_symbols(symbols: &[u8]) -> u128 {
    symbols.iter().fold(0u128, |v, &s| (v << 5) | u128::from(s))
}

/// Formats symbols in groups of `group`, joined by hyphens.
fn format(symbols: &[u8], group: usize) -> String {
    let chars: Vec<char> = symbols
        .iter()
        .map(|&s| char::from(ALPHABET[usize::from(s)]))
        .collect();
    chars
        .chunks(group)
        .map(|c| c.iter().collect::<String>())
        .collect::<Vec<_>>()
        .join("-")
}

/// Reads a typed code: Crockford's aliases, any case, hyphens and spaces
/// ignored; exactly `len` symbols with a holding check.
fn parse(text: &str, len: usize) -> Result<Vec<u8>> {
    let mut symbols = Vec::with_capacity(len + 2);
    for c in text.chars() {
        let v = match c.to_ascii_uppercase() {
            '-' | ' ' => continue,
            'O' => 0,
            'I' | 'L' => 1,
            u => ALPHABET
                .iter()
                .position(|&a| char::from(a) == u)
                .ok_or(Error::CodeMistyped(
                    "a character that is not in the code's alphabet",
                ))? as u8,
        };
        if symbols.len() == len + 2 {
            return Err(Error::CodeMistyped("too many characters"));
        }
        symbols.push(v);
    }
    if symbols.len() != len + 2 {
        return Err(Error::CodeMistyped("too few characters"));
    }
    if !check_holds(&symbols) {
        return Err(Error::CodeMistyped("the check characters do not match"));
    }
    symbols.truncate(len);
    Ok(symbols)
}

/// The 64 bits of `fingerprint` an initialization code carries.
fn device_bits(fingerprint: &Fingerprint) -> u64 {
    let digest = Sha256::digest(fingerprint.id.as_bytes());
    let mut b = [0u8; 8];
    b.copy_from_slice(&digest[..8]);
    u64::from_be_bytes(b)
}

fn init_symbols(device: u64, nonce: u32) -> Vec<u8> {
    let value = (VERSION << 96) | (u128::from(device) << 32) | u128::from(nonce);
    with_check(&to_symbols(value, INIT_SYMBOLS))
}

/// The air-gap key of `product` under the vendor `secret`.
fn airgap_key(product: &str, secret: &[u8]) -> Result<[u8; 32]> {
    if secret.len() < MIN_SECRET_LEN {
        return Err(Error::InvalidArgument(
            "air-gapped activation needs a vendor secret of at least 16 bytes",
        ));
    }
    let mut k = Sha256::new();
    k.update(b"tessera/v1/airgap-key\0");
    k.update(product.as_bytes());
    k.update([0]);
    k.update(secret);
    Ok(k.finalize().into())
}

/// The confirmation symbols for an initialization code's payload symbols,
/// as docs/FORMAT.md section 10 writes them: the MAC covers the
/// initialization code in its canonical 27-character form (upper case, in
/// groups of four, its check symbols included) and the license file's
/// digest (`util::text_digest`).
fn confirmation_symbols(
    init: &[u8],
    license_digest: &[u8; 32],
    license_id: &str,
    key: &[u8; 32],
) -> Vec<u8> {
    let mut mac = crate::keyed_hash::keyed(key);
    mac.update(b"tessera/v1/airgap-confirm\0");
    mac.update(format(&with_check(init), 4).as_bytes());
    mac.update(&[0]);
    mac.update(license_id.as_bytes());
    mac.update(&[0]);
    mac.update(license_digest);
    let tag = mac.finalize().into_bytes();
    let mut bits = [0u8; 16];
    bits[6..].copy_from_slice(&tag[..10]);
    with_check(&to_symbols(u128::from_be_bytes(bits), CONFIRM_SYMBOLS))
}

/// Makes a fresh initialization code for this device and remembers it
/// (a newer code replaces an older one, whose confirmation is then
/// refused).
pub fn initialization_code(config: &LocalConfig) -> Result<String> {
    airgap_key(&config.product, &config.secret)?;
    let device = config.fingerprint()?;
    let nonce = u32::from_be_bytes(crate::util::random_bytes()?);
    let code = format(&init_symbols(device_bits(&device), nonce), 4);
    let pending = PendingCode {
        code: code.clone(),
        created_at: config.clock.now(),
    };
    config.store(device)?.update(|state| {
        state.kept.airgap = Some(pending);
        Ok(())
    })?;
    Ok(code)
}

/// The vendor's side: the confirmation code for `init_code` and the signed
/// air-gapped `license_file`, under the product's vendor `secret`. Refuses
/// a mistyped initialization code and a license that is not air-gapped.
/// The file's signature is the product's business: the device verifies it.
///
/// Feature `issuer` only: a product build cannot mint its own confirmation.
#[cfg(feature = "issuer")]
#[cfg_attr(docsrs, doc(cfg(feature = "issuer")))]
pub fn confirmation_code(
    init_code: &str,
    license_file: &[u8],
    product: &str,
    secret: &[u8],
) -> Result<String> {
    let key = airgap_key(product, secret)?;
    let init = parse(init_code, INIT_SYMBOLS)?;
    if from_symbols(&init) >> 96 != VERSION {
        return Err(Error::CodeMistyped(
            "not an initialization code of this version",
        ));
    }
    let license_id = air_gapped_license_id(license_file)?;
    Ok(format(
        &confirmation_symbols(
            &init,
            &crate::util::text_digest(license_file),
            &license_id,
            &key,
        ),
        6,
    ))
}

/// The id of an air-gapped license file, read without its signature: the
/// vendor reads its own file, and the device verifies it before acting.
#[cfg(feature = "issuer")]
fn air_gapped_license_id(license_file: &[u8]) -> Result<String> {
    #[derive(serde::Deserialize)]
    struct Marks {
        id: String,
        #[serde(default)]
        is_air_gapped: bool,
    }
    let opened = crate::format::armor::decode(&crate::format::armor::LICENSE, license_file)?;
    let marks: Marks = serde_json::from_slice(opened.payload())
        .map_err(|e| Error::InvalidPayload(format!("license: {e}")))?;
    if !marks.is_air_gapped {
        return Err(Error::InvalidArgument(
            "the license is not air-gapped (is_air_gapped is false)",
        ));
    }
    Ok(marks.id)
}

/// Verifies `confirmation` for this device's pending initialization code
/// and the air-gapped `license_file`, then activates the license. Refused,
/// changing nothing, when the code is mistyped ([`Error::CodeMistyped`]),
/// was made for another initialization code, device or license
/// ([`Error::CodeRejected`]), or no initialization code is pending.
pub fn activate(
    config: &LocalConfig,
    license_file: &[u8],
    confirmation: &str,
) -> Result<ActivationRecord> {
    let key = airgap_key(&config.product, &config.secret)?;
    let typed = parse(confirmation, CONFIRM_SYMBOLS)?;
    let file = LicenseFile::verify(license_file, &config.keyring)?;
    if !file.license().is_air_gapped {
        return Err(Error::InvalidArgument(
            "the license is not air-gapped: activate it directly",
        ));
    }
    let device = config.fingerprint()?;
    let store = config.store(device.clone())?;
    let pending = store.load()?.kept.airgap.ok_or(Error::OfflineNoRequest)?;
    let init = parse(&pending.code, INIT_SYMBOLS)?;
    let init_device = (from_symbols(&init) >> 32) as u64;
    let expected = confirmation_symbols(
        &init,
        &crate::util::text_digest(license_file),
        &file.license().id,
        &key,
    );
    let same = init_device == device_bits(&device)
        && crate::util::constant_time_eq(&expected[..CONFIRM_SYMBOLS], &typed);
    if !same {
        return Err(Error::CodeRejected);
    }
    direct::activate_as(config, license_file, Route::AirGapped, |state| {
        state.kept.airgap = None;
        Ok(())
    })
}

#[cfg(test)]
mod tests {
    /// The worked example of docs/FORMAT.md section 10, whose codes were
    /// computed from the document alone by an independent implementation
    /// (Python's hashlib and hmac).
    #[test]
    fn the_worked_example_of_the_format_document_holds() {
        use sha2::{Digest as _, Sha256};
        let init = init_symbols(0x0123_4567_89ab_cdef, 0x89ab_cdef);
        assert_eq!(format(&init, 4), "2093-8NKR-KAYD-XY4T-QKFF-6E");
        let key = airgap_key("acme", b"0123456789abcdef").unwrap();
        assert_eq!(
            hex::encode(key),
            "642f478511abea29a6d190803e33237ec1f522ec072ea16f6ce6a83db3f0b675"
        );
        let digest: [u8; 32] = Sha256::digest(b"example license file").into();
        let confirm = confirmation_symbols(&init[..INIT_SYMBOLS], &digest, "AIR-1", &key);
        assert_eq!(format(&confirm, 6), "F725E1-D4N4NQ-RAZSTZ");
    }

    use super::*;

    #[test]
    fn every_single_substitution_and_neighbour_swap_is_caught() {
        for seed in 0u32..200 {
            let value = u128::from(seed).wrapping_mul(0x9e37_79b9_7f4a_7c15_f39c_c060_5ced_c835)
                & ((1u128 << 100) - 1);
            let code = with_check(&to_symbols(value, INIT_SYMBOLS));
            assert!(check_holds(&code));
            for i in 0..code.len() {
                for v in 0..32u8 {
                    if v != code[i] {
                        let mut typo = code.clone();
                        typo[i] = v;
                        assert!(!check_holds(&typo), "seed {seed} pos {i} -> {v}");
                    }
                }
                if i + 1 < code.len() && code[i] != code[i + 1] {
                    let mut swapped = code.clone();
                    swapped.swap(i, i + 1);
                    assert!(!check_holds(&swapped), "seed {seed} swap {i}");
                }
            }
        }
    }

    #[test]
    fn codes_read_back_with_crockford_aliases_any_case_and_spacing() {
        let code = format(&init_symbols(0x0123_4567_89ab_cdef, 0xdead_beef), 4);
        assert_eq!(code.len(), 22 + 5);
        let symbols = parse(&code, INIT_SYMBOLS).unwrap();
        assert_eq!(from_symbols(&symbols) >> 96, VERSION);
        assert_eq!((from_symbols(&symbols) >> 32) as u64, 0x0123_4567_89ab_cdef);
        assert_eq!(from_symbols(&symbols) as u32, 0xdead_beef);
        let sloppy = code
            .to_lowercase()
            .replace('-', " ")
            .replace('0', "o")
            .replace('1', "l");
        assert_eq!(parse(&sloppy, INIT_SYMBOLS).unwrap(), symbols);
        assert!(matches!(
            parse(&code[1..], INIT_SYMBOLS),
            Err(Error::CodeMistyped(_))
        ));
        assert!(matches!(
            parse(&format!("{code}0"), INIT_SYMBOLS),
            Err(Error::CodeMistyped(_))
        ));
        assert!(matches!(
            parse(
                &code.replacen(|c: char| c.is_ascii_alphanumeric(), "U", 1),
                INIT_SYMBOLS
            ),
            Err(Error::CodeMistyped(_))
        ));
    }
}
