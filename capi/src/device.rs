//! This device's fingerprint and what lies behind it.

use std::ffi::c_char;

use crate::config::tessera_config;
use crate::{tessera_result, text_of, Failure};
use tessera::device::environment::Isolation;

/// The length of a fingerprint id (`tessera_fingerprint`), without the NUL.
pub const TESSERA_FINGERPRINT_ID_LEN: usize = 32;

/// This device's fingerprint id for the configuration's product
/// (`TESSERA_FINGERPRINT_ID_LEN` hex digits; a custom device id's hash when one is set), copied into `buf`.
///
/// Strings out: when `buf_len` is larger than the text, it is copied with
/// a terminating NUL and `*len_out` receives its length without the NUL.
/// A size query (`NULL, 0`) copies nothing, writes the length to
/// `*len_out` and returns `TESSERA_OK` without touching the thread's last
/// error; a buffer too small for the text and its NUL gets nothing,
/// `*len_out` still receives the length, and the result is
/// `TESSERA_ERR_BUFFER_TOO_SMALL`.
///
/// Returns `TESSERA_OK`; `TESSERA_ERR_NULL_POINTER`;
/// `TESSERA_ERR_BUFFER_TOO_SMALL`; `TESSERA_ERR_FINGERPRINT_UNAVAILABLE`
/// when no device fact can be read (set a custom device id).
///
/// Thread safety: may run from several threads at once.
///
/// # Safety
/// `config` is NULL or a live configuration; `buf` is NULL or points to
/// `buf_len` writable bytes; `len_out` is NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn tessera_fingerprint(
    config: *const tessera_config,
    buf: *mut c_char,
    buf_len: usize,
    len_out: *mut usize,
) -> tessera_result {
    // SAFETY: the function's contract.
    unsafe {
        text_of(config, "config", buf, buf_len, len_out, |c| {
            Ok(c.inner.fingerprint()?.id)
        })
    }
}

/// A diagnosis for support tickets, as JSON: the fingerprint id, each
/// component's salted hash by name (never the raw value), and what virtual
/// machine and container detection found, with its evidence:
///
/// ```json
/// {"id":"…","components":{"cpu":"…","machine_id":"…"},
///  "virtual_machine":true,"container":false,
///  "evidence":[{"kind":"virtual_machine","detail":"…"}]}
/// ```
///
/// Copied into `buf` as `tessera_fingerprint` describes.
///
/// Returns `TESSERA_OK`; `TESSERA_ERR_NULL_POINTER`;
/// `TESSERA_ERR_BUFFER_TOO_SMALL`; `TESSERA_ERR_FINGERPRINT_UNAVAILABLE`.
///
/// # Safety
/// As for `tessera_fingerprint`.
#[no_mangle]
pub unsafe extern "C" fn tessera_fingerprint_diagnose(
    config: *const tessera_config,
    buf: *mut c_char,
    buf_len: usize,
    len_out: *mut usize,
) -> tessera_result {
    let diagnose = |config: &tessera_config| -> crate::FfiResult<String> {
        let fingerprint = config.inner.fingerprint()?;
        let environment = config.inner.environment();
        let evidence: Vec<_> = environment
            .evidence
            .iter()
            .map(|e| {
                let kind = match e.kind {
                    Isolation::VirtualMachine => "virtual_machine",
                    Isolation::Container => "container",
                };
                serde_json::json!({ "kind": kind, "detail": e.detail })
            })
            .collect();
        let json = serde_json::json!({
            "id": fingerprint.id,
            "components": fingerprint.components,
            "virtual_machine": environment.is_virtual_machine(),
            "container": environment.is_container(),
            "evidence": evidence,
        });
        serde_json::to_string(&json)
            .map_err(|e| Failure::invalid(format!("the diagnosis cannot be shown: {e}")))
    };
    // SAFETY: the function's contract.
    unsafe { text_of(config, "config", buf, buf_len, len_out, diagnose) }
}
