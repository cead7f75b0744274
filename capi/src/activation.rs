//! Activating a license file on this device, and giving it back.

use std::ffi::c_char;

use crate::config::tessera_config;
use crate::{arg_bytes, arg_opt_str, arg_ref, arg_str, boundary, returning, tessera_result};
use tessera::activation::direct;

/// Verifies a license file (the armored text, `file_len` bytes), checks it
/// is usable on this device now, and records it as activated here. Once
/// activated, `tessera_handle_open` opens it without the file.
///
/// Fails changing nothing when the file does not verify, is for another
/// product or device, is not usable now, or the clock was turned back.
///
/// Returns `TESSERA_OK`; `TESSERA_ERR_NULL_POINTER`; `TESSERA_ERR_EMPTY`
/// for `(ptr, 0)`; the verification errors (`TESSERA_ERR_TOO_LARGE`,
/// `TESSERA_ERR_MALFORMED`, `TESSERA_ERR_UNKNOWN_KEY_ID`,
/// `TESSERA_ERR_BAD_SIGNATURE`, ...); `TESSERA_ERR_UNUSABLE` with the
/// reason in the last error; `TESSERA_ERR_FINGERPRINT_UNAVAILABLE`;
/// `TESSERA_ERR_CLOCK_TAMPERED`; the store errors (`TESSERA_ERR_IO`,
/// `TESSERA_ERR_STORE_*`).
///
/// Thread safety: may run from several threads and processes at once; the
/// store is locked while it is written.
///
/// # Safety
/// `config` is NULL or a live configuration; `file` is NULL or points to
/// `file_len` readable bytes.
#[no_mangle]
pub unsafe extern "C" fn tessera_activate(
    config: *const tessera_config,
    file: *const u8,
    file_len: usize,
) -> tessera_result {
    boundary(|| {
        // SAFETY: the function's contract.
        let config = unsafe { arg_ref(config, "config") }?;
        // SAFETY: the function's contract.
        let file = unsafe { arg_bytes(file, file_len, "file") }?;
        direct::activate(&config.inner, file)?;
        Ok(())
    })
}

/// Removes the license `license_id` from this device's records, so it no
/// longer opens here. `*was_active_out` says whether it was activated.
///
/// Returns `TESSERA_OK`; `TESSERA_ERR_NULL_POINTER`;
/// `TESSERA_ERR_INVALID_UTF8`; `TESSERA_ERR_FINGERPRINT_UNAVAILABLE`; the
/// store errors.
///
/// Thread safety: as for `tessera_activate`.
///
/// # Safety
/// `config` is NULL or a live configuration; `license_id` is NULL or a
/// NUL-terminated string; `was_active_out` is NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn tessera_deactivate(
    config: *const tessera_config,
    license_id: *const c_char,
    was_active_out: *mut bool,
) -> tessera_result {
    let run = || {
        // SAFETY: the function's contract.
        let config = unsafe { arg_ref(config, "config") }?;
        // SAFETY: the function's contract.
        let id = unsafe { arg_str(license_id, "license_id") }?;
        let was = direct::deactivate(&config.inner, id)?;
        Ok(was)
    };
    // SAFETY: the function's contract covers `was_active_out`.
    unsafe { returning(was_active_out, "was_active_out", run) }
}

/// Activates a Keygen license or machine file (the armored text,
/// `file_len` bytes) on this device, verified with the keys of
/// `tessera_config_add_keygen_key`: read with `license_key` (NULL or empty
/// for a `base64+ed25519` file, which is not encrypted) and, for a machine
/// file, the machine's Keygen `fingerprint` (NULL for a license file).
/// Only the key derived from the license key is kept; once activated,
/// `tessera_handle_open` opens it like any activation.
///
/// Returns `TESSERA_OK`; `TESSERA_ERR_NULL_POINTER` (`config`, `file`);
/// `TESSERA_ERR_INVALID_UTF8`; `TESSERA_ERR_EMPTY`; the verification errors
/// (`TESSERA_ERR_MALFORMED`, `TESSERA_ERR_UNSUPPORTED_ALGORITHM` for RSA,
/// `TESSERA_ERR_UNKNOWN_KEY_ID` when no Keygen key is trusted,
/// `TESSERA_ERR_BAD_SIGNATURE`); `TESSERA_ERR_DECRYPTION_FAILED` for the
/// wrong license key or fingerprint; `TESSERA_ERR_INVALID_ARGUMENT` for a
/// machine file without a fingerprint; `TESSERA_ERR_UNUSABLE` with the
/// reason; the store errors; `TESSERA_ERR_UNSUPPORTED` from a library
/// built without Keygen support. Fails changing nothing.
///
/// Thread safety: as for `tessera_activate`.
///
/// # Safety
/// `config` is NULL or a live configuration; `file` is NULL or points to
/// `file_len` readable bytes; `license_key` and `fingerprint` are NULL or
/// NUL-terminated strings.
#[no_mangle]
pub unsafe extern "C" fn tessera_keygen_import(
    config: *const tessera_config,
    file: *const u8,
    file_len: usize,
    license_key: *const c_char,
    fingerprint: *const c_char,
) -> tessera_result {
    boundary(|| {
        // SAFETY: the function's contract.
        let config = unsafe { arg_ref(config, "config") }?;
        // SAFETY: the function's contract.
        let file = unsafe { arg_bytes(file, file_len, "file") }?;
        let license_key = if license_key.is_null() {
            ""
        } else {
            // SAFETY: the function's contract.
            unsafe { arg_str(license_key, "license_key") }?
        };
        // SAFETY: the function's contract.
        let fingerprint = unsafe { arg_opt_str(fingerprint, "fingerprint") }?;
        import_keygen(&config.inner, file, license_key, fingerprint)
    })
}

#[cfg(feature = "keygen")]
fn import_keygen(
    config: &tessera::LocalConfig,
    file: &[u8],
    license_key: &str,
    fingerprint: Option<&str>,
) -> crate::FfiResult<()> {
    tessera::activation::keygen::import(config, file, license_key, fingerprint)?;
    Ok(())
}

#[cfg(not(feature = "keygen"))]
fn import_keygen(
    _config: &tessera::LocalConfig,
    _file: &[u8],
    _license_key: &str,
    _fingerprint: Option<&str>,
) -> crate::FfiResult<()> {
    Err(tessera::Error::Unsupported("this library was built without Keygen support").into())
}
