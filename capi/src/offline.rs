//! Offline activation by files, and air-gapped activation by typed codes.

use std::ffi::c_char;

use crate::config::tessera_config;
use crate::{
    arg_bytes, arg_ref, arg_str, boundary, tessera_result, text_of, write_string, Failure,
};
use tessera::Error;
use tessera::{activation::airgap, activation::offline};

/// What an offline activation request names
/// (`tessera_offline_request_activation`).
#[allow(non_camel_case_types)]
#[repr(u32)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum tessera_credential {
    /// A license key.
    TESSERA_CREDENTIAL_LICENSE_KEY = 0,
    /// The username of a user-based license.
    TESSERA_CREDENTIAL_USER = 1,
}

/// The length of an air-gapped initialization code, without the NUL.
pub const TESSERA_AIRGAP_INIT_CODE_LEN: usize = 27;

/// Writes an offline activation request for this device and keeps it as
/// the pending request (a newer request replaces an older one, whose
/// response is then refused). `credential_kind` is a `tessera_credential`.
/// Read the request's text with `tessera_offline_pending_request` and hand
/// it to the vendor.
///
/// Returns `TESSERA_OK`; `TESSERA_ERR_NULL_POINTER`;
/// `TESSERA_ERR_INVALID_UTF8`; `TESSERA_ERR_INVALID_ARGUMENT` for an
/// unknown kind or an empty credential;
/// `TESSERA_ERR_FINGERPRINT_UNAVAILABLE`; the store errors.
///
/// # Safety
/// `config` is NULL or a live configuration; `credential` is NULL or a
/// NUL-terminated string.
#[no_mangle]
pub unsafe extern "C" fn tessera_offline_request_activation(
    config: *const tessera_config,
    credential_kind: u32,
    credential: *const c_char,
) -> tessera_result {
    boundary(|| {
        // SAFETY: the function's contract.
        let config = unsafe { arg_ref(config, "config") }?;
        // SAFETY: the function's contract.
        let value = unsafe { arg_str(credential, "credential") }?.to_owned();
        let credential = match credential_kind {
            k if k == tessera_credential::TESSERA_CREDENTIAL_LICENSE_KEY as u32 => {
                tessera::activation::Credential::LicenseKey(value)
            }
            k if k == tessera_credential::TESSERA_CREDENTIAL_USER as u32 => {
                tessera::activation::Credential::user(value)
            }
            _ => {
                return Err(Failure::invalid(format!(
                    "unknown credential kind {credential_kind}"
                )))
            }
        };
        offline::request_activation(&config.inner, &credential)?;
        Ok(())
    })
}

/// The pending offline activation request's armored text, copied into
/// `buf` (as `tessera_fingerprint` describes); reading it changes nothing.
///
/// Returns `TESSERA_OK`; `TESSERA_ERR_NULL_POINTER`;
/// `TESSERA_ERR_BUFFER_TOO_SMALL`; `TESSERA_ERR_OFFLINE_NO_REQUEST` when no
/// request is pending; the store errors.
///
/// # Safety
/// `config` is NULL or a live configuration; `buf` is NULL or points to
/// `buf_len` writable bytes; `len_out` is NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn tessera_offline_pending_request(
    config: *const tessera_config,
    buf: *mut c_char,
    buf_len: usize,
    len_out: *mut usize,
) -> tessera_result {
    // SAFETY: the function's contract.
    unsafe {
        text_of(config, "config", buf, buf_len, len_out, |c| {
            Ok(offline::pending_request(&c.inner)?.ok_or(Error::OfflineNoRequest)?)
        })
    }
}

/// Imports the vendor's response (`response_len` bytes of armored text) to
/// the pending request and activates the license in it. Refused, changing
/// nothing, when it is not signed by a trusted key, answers an older
/// request, or is for another device.
///
/// Returns `TESSERA_OK`; `TESSERA_ERR_NULL_POINTER`; `TESSERA_ERR_EMPTY`;
/// the verification errors; `TESSERA_ERR_OFFLINE_NO_REQUEST`;
/// `TESSERA_ERR_OFFLINE_REPLAY`; `TESSERA_ERR_OFFLINE_WRONG_DEVICE`;
/// `TESSERA_ERR_UNUSABLE`; `TESSERA_ERR_CLOCK_TAMPERED`; the store errors.
///
/// # Safety
/// `config` is NULL or a live configuration; `response` is NULL or points
/// to `response_len` readable bytes.
#[no_mangle]
pub unsafe extern "C" fn tessera_offline_import_response(
    config: *const tessera_config,
    response: *const u8,
    response_len: usize,
) -> tessera_result {
    boundary(|| {
        // SAFETY: the function's contract.
        let config = unsafe { arg_ref(config, "config") }?;
        // SAFETY: the function's contract.
        let text = unsafe { arg_bytes(response, response_len, "response") }?;
        offline::import_response(&config.inner, text)?;
        Ok(())
    })
}

/// Removes the activation of `license_id` from this device and writes a
/// deactivation request, signed by this device's key, for the vendor to
/// free the slot. Read it with `tessera_offline_deactivation_request`.
///
/// Returns `TESSERA_OK`; `TESSERA_ERR_NULL_POINTER`;
/// `TESSERA_ERR_INVALID_UTF8`; `TESSERA_ERR_NOT_ACTIVATED` when the
/// license is not activated here (nothing changes); the store errors.
///
/// # Safety
/// `config` is NULL or a live configuration; `license_id` is NULL or a
/// NUL-terminated string.
#[no_mangle]
pub unsafe extern "C" fn tessera_offline_request_deactivation(
    config: *const tessera_config,
    license_id: *const c_char,
) -> tessera_result {
    boundary(|| {
        // SAFETY: the function's contract.
        let config = unsafe { arg_ref(config, "config") }?;
        // SAFETY: the function's contract.
        let id = unsafe { arg_str(license_id, "license_id") }?;
        offline::request_deactivation(&config.inner, id)?;
        Ok(())
    })
}

/// The last deactivation request this device wrote, copied into `buf` (as
/// `tessera_fingerprint` describes).
///
/// Returns `TESSERA_OK`; `TESSERA_ERR_NULL_POINTER`;
/// `TESSERA_ERR_BUFFER_TOO_SMALL`; `TESSERA_ERR_OFFLINE_NO_REQUEST` when
/// there is none; the store errors.
///
/// # Safety
/// As for `tessera_offline_pending_request`.
#[no_mangle]
pub unsafe extern "C" fn tessera_offline_deactivation_request(
    config: *const tessera_config,
    buf: *mut c_char,
    buf_len: usize,
    len_out: *mut usize,
) -> tessera_result {
    // SAFETY: the function's contract.
    unsafe {
        text_of(config, "config", buf, buf_len, len_out, |c| {
            Ok(offline::last_deactivation_request(&c.inner)?.ok_or(Error::OfflineNoRequest)?)
        })
    }
}

/// Makes a fresh air-gapped initialization code for this device (27
/// characters, `XXXX-XXXX-XXXX-XXXX-XXXX-XX`), remembers it, and copies it
/// into `buf`. The outputs are checked first: a size query (`NULL, 0`)
/// answers `TESSERA_AIRGAP_INIT_CODE_LEN` with `TESSERA_OK`, and a buffer
/// smaller than `TESSERA_AIRGAP_INIT_CODE_LEN + 1` bytes gives
/// `TESSERA_ERR_BUFFER_TOO_SMALL` (with `*len_out` set), both before any
/// code is made. Needs a vendor secret of at least
/// `TESSERA_MIN_SECRET_LEN` bytes in the configuration.
///
/// Returns `TESSERA_OK`; `TESSERA_ERR_NULL_POINTER`;
/// `TESSERA_ERR_BUFFER_TOO_SMALL`; `TESSERA_ERR_INVALID_ARGUMENT` without
/// the secret; `TESSERA_ERR_FINGERPRINT_UNAVAILABLE`; the store errors.
///
/// # Safety
/// `config` is NULL or a live configuration; `buf` is NULL or points to
/// `buf_len` writable bytes; `len_out` is NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn tessera_airgap_initialization_code(
    config: *const tessera_config,
    buf: *mut c_char,
    buf_len: usize,
    len_out: *mut usize,
) -> tessera_result {
    boundary(|| {
        // SAFETY: the function's contract.
        let config = unsafe { arg_ref(config, "config") }?;
        if buf_len <= TESSERA_AIRGAP_INIT_CODE_LEN || buf.is_null() || len_out.is_null() {
            // A size query, or outputs that cannot take the code: answered
            // (or refused) before a new code replaces the pending one, so
            // the vendor's confirmation of that one still matches.
            let probe = "x".repeat(TESSERA_AIRGAP_INIT_CODE_LEN);
            // SAFETY: the function's contract; this only reports the size.
            return unsafe { write_string(&probe, buf, buf_len, len_out) };
        }
        let code = airgap::initialization_code(&config.inner)?;
        // SAFETY: the function's contract.
        unsafe { write_string(&code, buf, buf_len, len_out) }
    })
}

/// Verifies the typed `confirmation` code for this device's pending
/// initialization code and the air-gapped license file (`license_len`
/// bytes), then activates the license.
///
/// Returns `TESSERA_OK`; `TESSERA_ERR_NULL_POINTER`;
/// `TESSERA_ERR_INVALID_UTF8`; `TESSERA_ERR_CODE_MISTYPED` for a typing
/// mistake; `TESSERA_ERR_CODE_REJECTED` for a code made for another
/// device, license or initialization code; `TESSERA_ERR_OFFLINE_NO_REQUEST`
/// when no initialization code is pending; the verification errors;
/// `TESSERA_ERR_UNUSABLE`; the store errors.
///
/// # Safety
/// `config` is NULL or a live configuration; `license` is NULL or points
/// to `license_len` readable bytes; `confirmation` is NULL or a
/// NUL-terminated string.
#[no_mangle]
pub unsafe extern "C" fn tessera_airgap_activate(
    config: *const tessera_config,
    license: *const u8,
    license_len: usize,
    confirmation: *const c_char,
) -> tessera_result {
    boundary(|| {
        // SAFETY: the function's contract.
        let config = unsafe { arg_ref(config, "config") }?;
        // SAFETY: the function's contract.
        let file = unsafe { arg_bytes(license, license_len, "license") }?;
        // SAFETY: the function's contract.
        let code = unsafe { arg_str(confirmation, "confirmation") }?;
        airgap::activate(&config.inner, file, code)?;
        Ok(())
    })
}
