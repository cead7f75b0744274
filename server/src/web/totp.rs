//! Time-based one-time passwords (RFC 6238: HMAC-SHA1, 30-second steps,
//! six digits), the console's optional second factor. The secret is 20
//! random bytes, shown once in base32 for the staff member's
//! authenticator app; a code is taken for the current step or the one
//! either side, and never twice (the last step used is stored).

use ring::hmac;

/// Seconds per step.
const STEP: i64 = 30;

/// A fresh secret, base32 (what authenticator apps take).
pub(crate) fn new_secret() -> Result<String, crate::error::ApiError> {
    let mut bytes = [0u8; 20];
    getrandom::getrandom(&mut bytes)
        .map_err(|_| crate::error::ApiError::internal("no random source"))?;
    Ok(base32(&bytes))
}

/// The `otpauth://` address an authenticator app takes.
pub(crate) fn uri(secret: &str, account: &str) -> String {
    format!(
        "otpauth://totp/Tessera:{}?secret={secret}&issuer=Tessera&algorithm=SHA1&digits=6&period=30",
        crate::web::encode(account)
    )
}

/// The step of `code` if it is right for `secret` at `now` (this step or
/// one either side) and later than `last_step`; None otherwise.
pub(crate) fn check(secret: &str, code: &str, now: i64, last_step: i64) -> Option<i64> {
    let code = code.trim();
    if code.len() != 6 || !code.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let key = unbase32(secret)?;
    let step = now.div_euclid(STEP);
    (step - 1..=step + 1)
        .filter(|s| *s > last_step)
        .find(|s| crate::web::session::same(&code_at(&key, *s), code))
}

/// The code of `key` at `step`.
pub(crate) fn code_at(key: &[u8], step: i64) -> String {
    let key = hmac::Key::new(hmac::HMAC_SHA1_FOR_LEGACY_USE_ONLY, key);
    let tag = hmac::sign(&key, &step.to_be_bytes());
    let mac = tag.as_ref();
    let offset = usize::from(mac[mac.len() - 1] & 0x0f);
    let word = u32::from_be_bytes([
        mac[offset] & 0x7f,
        mac[offset + 1],
        mac[offset + 2],
        mac[offset + 3],
    ]);
    format!("{:06}", word % 1_000_000)
}

const ALPHABET: &[u8; 32] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";

fn base32(bytes: &[u8]) -> String {
    let mut out = String::new();
    let (mut buffer, mut bits) = (0u32, 0u32);
    for b in bytes {
        buffer = (buffer << 8) | u32::from(*b);
        bits += 8;
        while bits >= 5 {
            bits -= 5;
            out.push(char::from(ALPHABET[((buffer >> bits) & 31) as usize]));
        }
    }
    if bits > 0 {
        out.push(char::from(ALPHABET[((buffer << (5 - bits)) & 31) as usize]));
    }
    out
}

/// The bytes of a base32 secret (no padding, any case); None if it is not
/// base32.
pub(crate) fn unbase32(text: &str) -> Option<Vec<u8>> {
    let mut out = Vec::new();
    let (mut buffer, mut bits) = (0u32, 0u32);
    for c in text.trim_end_matches('=').bytes() {
        let v = ALPHABET.iter().position(|a| *a == c.to_ascii_uppercase())?;
        buffer = (buffer << 5) | v as u32;
        bits += 5;
        if bits >= 8 {
            bits -= 8;
            out.push(((buffer >> bits) & 0xff) as u8);
        }
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 6238's appendix B, SHA-1 rows (eight digits there; the last six
    /// here).
    #[test]
    fn the_rfc_vectors() {
        let key = b"12345678901234567890";
        for (time, code) in [
            (59, "287082"),
            (1_111_111_109, "081804"),
            (1_111_111_111, "050471"),
            (1_234_567_890, "005924"),
            (2_000_000_000, "279037"),
        ] {
            assert_eq!(code_at(key, time / STEP), code, "at {time}");
        }
    }

    #[test]
    fn a_code_is_taken_once_and_only_near_its_time() {
        let secret = base32(b"12345678901234567890");
        assert_eq!(
            unbase32(&secret).as_deref(),
            Some(&b"12345678901234567890"[..])
        );
        let step = check(&secret, "050471", 1_111_111_111, 0);
        assert_eq!(step, Some(1_111_111_111 / STEP));
        // The same code again: refused.
        assert_eq!(
            check(&secret, "050471", 1_111_111_111, step.unwrap_or(0)),
            None
        );
        // Two steps later: refused.
        assert_eq!(check(&secret, "050471", 1_111_111_111 + 2 * STEP, 0), None);
        assert_eq!(check(&secret, "05047", 1_111_111_111, 0), None);
        assert_eq!(check(&secret, "abcdef", 1_111_111_111, 0), None);
    }
}
