//! Activating a license file on this device, and giving it back.

use std::ffi::c_char;

use crate::config::tessera_config;
use crate::{arg_bytes, arg_ref, arg_str, boundary, returning, tessera_result};
use tessera::activation::local;

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
        local::activate(&config.inner, file)?;
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
        let was = local::deactivate(&config.inner, id)?;
        Ok(was)
    };
    // SAFETY: the function's contract covers `was_active_out`.
    unsafe { returning(was_active_out, "was_active_out", run) }
}
