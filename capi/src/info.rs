//! Versions, names of codes, and the last error.

use std::ffi::{c_char, CStr, CString};
use std::sync::OnceLock;

use crate::{boundary, infallible, tessera_result, with_last_error, write_string, Failure};
use tessera::{Code, Status};

/// The version of the C ABI. It grows when functions are added or a
/// convention changes: 2 added the license accessors and made a size query
/// (`NULL, 0`) succeed; 3 added the online half (`tessera_server_*`,
/// `tessera_connection_*`, `tessera_online_*`, `tessera_session_*`,
/// `tessera_auto_sync_*`); 4 added the update check
/// (`tessera_online_latest_release`); 5 added the download helper
/// (`tessera_online_download_release`) and its code
/// `TESSERA_ERR_DOWNLOAD_REJECTED`. Compare with `TESSERA_ABI_VERSION`
/// from the header the product was built with.
pub const TESSERA_ABI_VERSION: u32 = 5;

static VERSION: &CStr = {
    match CStr::from_bytes_with_nul(concat!(env!("CARGO_PKG_VERSION"), "\0").as_bytes()) {
        Ok(v) => v,
        Err(_) => c"unknown",
    }
};

/// The SDK's version (for example `0.1.0`): a static string, never freed.
///
/// Thread safety: may be called from any thread at any time.
#[no_mangle]
pub extern "C" fn tessera_version() -> *const c_char {
    VERSION.as_ptr()
}

/// The version of the C ABI the library implements (see
/// `TESSERA_ABI_VERSION`).
///
/// Thread safety: may be called from any thread at any time.
#[no_mangle]
pub extern "C" fn tessera_abi_version() -> u32 {
    TESSERA_ABI_VERSION
}

/// The stable short name of a result code (`"ok"`, `"bad_signature"`,
/// ...; `"other"` for a number the library does not know): a static
/// string, never freed.
///
/// Thread safety: may be called from any thread at any time.
#[no_mangle]
pub extern "C" fn tessera_result_name(result: u32) -> *const c_char {
    infallible(c"other".as_ptr(), || {
        let names = NAMES.get_or_init(Names::new);
        let code = Code::from_u32(result).unwrap_or(Code::Other);
        Names::find(&names.codes, code as u32)
            .unwrap_or(c"other")
            .as_ptr()
    })
}

/// The stable short name of a status (`"valid"`, `"expired"`, ...;
/// `"unknown"` for a number the library does not know): a static string,
/// never freed.
///
/// Thread safety: may be called from any thread at any time.
#[no_mangle]
pub extern "C" fn tessera_status_name(status: u32) -> *const c_char {
    infallible(c"unknown".as_ptr(), || {
        let names = NAMES.get_or_init(Names::new);
        Names::find(&names.statuses, status)
            .unwrap_or(c"unknown")
            .as_ptr()
    })
}

/// The names of the core's tables as C strings, made once and kept for the
/// life of the process (so the pointers handed out stay valid).
struct Names {
    codes: Vec<(u32, CString)>,
    statuses: Vec<(u32, CString)>,
}

static NAMES: OnceLock<Names> = OnceLock::new();

impl Names {
    fn new() -> Names {
        let c = |name: &str| CString::new(name).unwrap_or_default();
        Names {
            codes: Code::ALL.iter().map(|k| (*k as u32, c(k.name()))).collect(),
            statuses: Status::ALL
                .iter()
                .map(|s| (*s as u32, c(s.name())))
                .collect(),
        }
    }

    /// The name of `number` in one of the tables.
    fn find(table: &[(u32, CString)], number: u32) -> Option<&CStr> {
        table
            .iter()
            .find(|(n, _)| *n == number)
            .map(|(_, s)| s.as_c_str())
    }
}

/// The code of the last failure on this thread (`TESSERA_OK` when nothing
/// failed yet). A success leaves it as it was, like `errno`.
///
/// Thread safety: each thread has its own last error.
#[no_mangle]
pub extern "C" fn tessera_last_error_code() -> tessera_result {
    infallible(Code::Panic, || {
        with_last_error(|e| e.map_or(Code::Ok, |(code, _)| code))
    })
}

/// The message of the last failure on this thread (empty when nothing
/// failed yet): what was wrong and what to do. It never contains a key, a
/// license key or a password. Copied into `buf` as
/// `tessera_fingerprint` describes; neither a size query nor a
/// `TESSERA_ERR_BUFFER_TOO_SMALL` from this function replaces the message
/// it reports.
///
/// Returns `TESSERA_OK`; `TESSERA_ERR_NULL_POINTER` when `len_out` is
/// NULL, or `buf` is NULL with `buf_len` above zero;
/// `TESSERA_ERR_BUFFER_TOO_SMALL`.
///
/// Thread safety: each thread has its own last error.
///
/// # Safety
/// `buf` is NULL or points to `buf_len` writable bytes; `len_out` is NULL
/// or writable.
#[no_mangle]
pub unsafe extern "C" fn tessera_last_error_message(
    buf: *mut c_char,
    buf_len: usize,
    len_out: *mut usize,
) -> tessera_result {
    let message = with_last_error(|e| e.map(|(_, m)| m.to_owned()).unwrap_or_default());
    // The query must not overwrite the message it reports: run it outside
    // the boundary that records failures.
    match std::panic::catch_unwind(|| {
        // SAFETY: the function's contract.
        unsafe { write_string(&message, buf, buf_len, len_out) }
    }) {
        Ok(Ok(())) => Code::Ok,
        Ok(Err(Failure { code, .. })) => code,
        Err(_) => boundary(|| panic!("copying the last error failed")),
    }
}
