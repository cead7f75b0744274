//! The C ABI: the only place in the crate with `extern "C"` and raw pointers.
//!
//! One file per exported object: [`config`] (what a product configures),
//! [`activation`] (activate and deactivate on this device), [`handle`] (the
//! open license and its validation report), [`device`] (fingerprint and its
//! diagnosis), [`offline`] (request files and air-gapped codes) and [`info`] (versions, names, the last error).
//!
//! Every export follows the same rules (docs/C-API.md has them for C
//! readers):
//! - its body runs inside [`boundary`], so a panic becomes
//!   `TESSERA_ERR_PANIC` and never unwinds into C;
//! - it returns a [`tessera_result`] carrying the core's stable error codes;
//! - outputs go through trailing out-parameters, written only on success;
//! - every pointer is checked; `(NULL, 0)` and `(ptr, 0)` are empty inputs;
//! - strings go out through a caller buffer with a size query
//!   ([`write_string`]); nothing the caller must free is a bare string;
//! - a failure also records a message in a thread-local last error.

pub mod activation;
pub mod config;
pub mod device;
pub mod handle;
pub mod info;
pub mod offline;

use std::cell::RefCell;
use std::ffi::{c_char, CStr};
use std::panic::{catch_unwind, AssertUnwindSafe};

use crate::error::Error;

/// The result of every fallible export. `TESSERA_OK` is zero; the other
/// values are the core's stable error codes (docs/ERRORS.md), plus a few
/// that only the C ABI can produce (100 and up).
#[allow(non_camel_case_types)]
#[repr(u32)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum tessera_result {
    /// Success.
    TESSERA_OK = 0,
    /// A caller passed a value the API cannot use.
    TESSERA_ERR_INVALID_ARGUMENT = 1,
    /// Reading or writing a file failed.
    TESSERA_ERR_IO = 2,
    /// Not available on this platform or in this build.
    TESSERA_ERR_UNSUPPORTED = 3,
    /// The input is empty.
    TESSERA_ERR_EMPTY = 10,
    /// The input is larger than its format allows.
    TESSERA_ERR_TOO_LARGE = 11,
    /// The armored text does not follow the format.
    TESSERA_ERR_MALFORMED = 12,
    /// A format version this SDK does not know.
    TESSERA_ERR_UNSUPPORTED_VERSION = 13,
    /// A signature algorithm other than Ed25519.
    TESSERA_ERR_UNSUPPORTED_ALGORITHM = 14,
    /// Signed by a key that is not in the keyring.
    TESSERA_ERR_UNKNOWN_KEY_ID = 15,
    /// The signature does not verify.
    TESSERA_ERR_BAD_SIGNATURE = 16,
    /// The signed payload is not a valid document of its kind.
    TESSERA_ERR_INVALID_PAYLOAD = 17,
    /// A key could not be read or decoded.
    TESSERA_ERR_INVALID_KEY = 20,
    /// A license spec is invalid (vendor side).
    TESSERA_ERR_INVALID_SPEC = 21,
    /// The state file is damaged.
    TESSERA_ERR_STORE_CORRUPT = 30,
    /// The state file was edited.
    TESSERA_ERR_STORE_TAMPERED = 31,
    /// The state file was written on another device.
    TESSERA_ERR_STORE_FROM_OTHER_DEVICE = 32,
    /// The state file belongs to another product.
    TESSERA_ERR_STORE_WRONG_PRODUCT = 33,
    /// The state file has a version this SDK does not know.
    TESSERA_ERR_STORE_VERSION = 34,
    /// The clock went back further than the tolerance.
    TESSERA_ERR_CLOCK_TAMPERED = 35,
    /// No license is activated on this device for this product.
    TESSERA_ERR_NOT_ACTIVATED = 36,
    /// The license is not usable now (the message says why).
    TESSERA_ERR_UNUSABLE = 37,
    /// The device cannot be fingerprinted.
    TESSERA_ERR_FINGERPRINT_UNAVAILABLE = 40,
    /// Consuming would pass the limit and its overages.
    TESSERA_ERR_CONSUMPTION_LIMIT = 50,
    /// The license or feature does not count consumption.
    TESSERA_ERR_NOT_CONSUMABLE = 51,
    /// The consumption journal is damaged.
    TESSERA_ERR_JOURNAL_CORRUPT = 52,
    /// The consumption journal was edited.
    TESSERA_ERR_JOURNAL_TAMPERED = 53,
    /// The feature is missing or expired.
    TESSERA_ERR_FEATURE_UNAVAILABLE = 54,
    /// A lease is invalid for this license or device.
    TESSERA_ERR_INVALID_LEASE = 60,
    /// The license does not allow borrowing.
    TESSERA_ERR_BORROW_NOT_ALLOWED = 61,
    /// The borrow is longer than the license allows.
    TESSERA_ERR_BORROW_TOO_LONG = 62,
    /// No offline request is pending on this device.
    TESSERA_ERR_OFFLINE_NO_REQUEST = 70,
    /// The offline response answers another (older) request.
    TESSERA_ERR_OFFLINE_REPLAY = 71,
    /// The offline response is for another device.
    TESSERA_ERR_OFFLINE_WRONG_DEVICE = 72,
    /// A typed code was mistyped.
    TESSERA_ERR_CODE_MISTYPED = 80,
    /// The confirmation code was not made for this device, license and request.
    TESSERA_ERR_CODE_REJECTED = 81,
    /// The license must be activated with an air-gapped confirmation code.
    TESSERA_ERR_AIR_GAPPED = 82,
    /// The hardware key is not present.
    TESSERA_ERR_TOKEN_ABSENT = 90,
    /// The hardware key refused the PIN.
    TESSERA_ERR_TOKEN_PIN = 91,
    /// The hardware key present is not the one the license is bound to.
    TESSERA_ERR_TOKEN_MISMATCH = 92,
    /// The hardware key or its PKCS#11 module failed.
    TESSERA_ERR_TOKEN_FAILURE = 93,
    /// The license server could not be reached.
    TESSERA_ERR_NETWORK = 110,
    /// The license server refused the request.
    TESSERA_ERR_SERVER_REFUSED = 111,
    /// The license server's answer is forged, replayed or altered.
    TESSERA_ERR_BAD_RESPONSE = 112,
    /// A required pointer argument was NULL.
    TESSERA_ERR_NULL_POINTER = 100,
    /// A string argument is not valid UTF-8.
    TESSERA_ERR_INVALID_UTF8 = 101,
    /// The output buffer is too small; the size out-parameter says how
    /// many bytes are needed (without the terminating NUL).
    TESSERA_ERR_BUFFER_TOO_SMALL = 102,
    /// The SDK panicked: a bug in Tessera. The call changed nothing it
    /// could roll back; report it with the last error message.
    TESSERA_ERR_PANIC = 103,
    /// An error this build of the C ABI does not know by number (a newer
    /// core); the message says what it was.
    TESSERA_ERR_OTHER = 199,
}

impl tessera_result {
    /// The result for a core error code.
    pub fn from_code(code: u32) -> tessera_result {
        use tessera_result::*;
        ALL.iter()
            .copied()
            .find(|r| *r as u32 == code)
            .unwrap_or(TESSERA_ERR_OTHER)
    }

    /// The stable short name (`ok`, `bad_signature`, ...), as a C string.
    pub fn name(self) -> &'static CStr {
        use tessera_result::*;
        match self {
            TESSERA_OK => c"ok",
            TESSERA_ERR_INVALID_ARGUMENT => c"invalid_argument",
            TESSERA_ERR_IO => c"io",
            TESSERA_ERR_UNSUPPORTED => c"unsupported",
            TESSERA_ERR_EMPTY => c"empty",
            TESSERA_ERR_TOO_LARGE => c"too_large",
            TESSERA_ERR_MALFORMED => c"malformed",
            TESSERA_ERR_UNSUPPORTED_VERSION => c"unsupported_version",
            TESSERA_ERR_UNSUPPORTED_ALGORITHM => c"unsupported_algorithm",
            TESSERA_ERR_UNKNOWN_KEY_ID => c"unknown_key_id",
            TESSERA_ERR_BAD_SIGNATURE => c"bad_signature",
            TESSERA_ERR_INVALID_PAYLOAD => c"invalid_payload",
            TESSERA_ERR_INVALID_KEY => c"invalid_key",
            TESSERA_ERR_INVALID_SPEC => c"invalid_spec",
            TESSERA_ERR_STORE_CORRUPT => c"store_corrupt",
            TESSERA_ERR_STORE_TAMPERED => c"store_tampered",
            TESSERA_ERR_STORE_FROM_OTHER_DEVICE => c"store_from_other_device",
            TESSERA_ERR_STORE_WRONG_PRODUCT => c"store_wrong_product",
            TESSERA_ERR_STORE_VERSION => c"store_version",
            TESSERA_ERR_CLOCK_TAMPERED => c"clock_tampered",
            TESSERA_ERR_NOT_ACTIVATED => c"not_activated",
            TESSERA_ERR_UNUSABLE => c"unusable",
            TESSERA_ERR_FINGERPRINT_UNAVAILABLE => c"fingerprint_unavailable",
            TESSERA_ERR_CONSUMPTION_LIMIT => c"consumption_limit",
            TESSERA_ERR_NOT_CONSUMABLE => c"not_consumable",
            TESSERA_ERR_JOURNAL_CORRUPT => c"journal_corrupt",
            TESSERA_ERR_JOURNAL_TAMPERED => c"journal_tampered",
            TESSERA_ERR_FEATURE_UNAVAILABLE => c"feature_unavailable",
            TESSERA_ERR_INVALID_LEASE => c"invalid_lease",
            TESSERA_ERR_BORROW_NOT_ALLOWED => c"borrow_not_allowed",
            TESSERA_ERR_BORROW_TOO_LONG => c"borrow_too_long",
            TESSERA_ERR_OFFLINE_NO_REQUEST => c"offline_no_request",
            TESSERA_ERR_OFFLINE_REPLAY => c"offline_replay",
            TESSERA_ERR_OFFLINE_WRONG_DEVICE => c"offline_wrong_device",
            TESSERA_ERR_CODE_MISTYPED => c"code_mistyped",
            TESSERA_ERR_CODE_REJECTED => c"code_rejected",
            TESSERA_ERR_AIR_GAPPED => c"air_gapped",
            TESSERA_ERR_TOKEN_ABSENT => c"token_absent",
            TESSERA_ERR_TOKEN_PIN => c"token_pin",
            TESSERA_ERR_TOKEN_MISMATCH => c"token_mismatch",
            TESSERA_ERR_TOKEN_FAILURE => c"token_failure",
            TESSERA_ERR_NETWORK => c"network",
            TESSERA_ERR_SERVER_REFUSED => c"server_refused",
            TESSERA_ERR_BAD_RESPONSE => c"bad_response",
            TESSERA_ERR_NULL_POINTER => c"null_pointer",
            TESSERA_ERR_INVALID_UTF8 => c"invalid_utf8",
            TESSERA_ERR_BUFFER_TOO_SMALL => c"buffer_too_small",
            TESSERA_ERR_PANIC => c"panic",
            TESSERA_ERR_OTHER => c"other",
        }
    }
}

/// Every result, for lookups by number.
const ALL: [tessera_result; 49] = {
    use tessera_result::*;
    [
        TESSERA_OK,
        TESSERA_ERR_INVALID_ARGUMENT,
        TESSERA_ERR_IO,
        TESSERA_ERR_UNSUPPORTED,
        TESSERA_ERR_EMPTY,
        TESSERA_ERR_TOO_LARGE,
        TESSERA_ERR_MALFORMED,
        TESSERA_ERR_UNSUPPORTED_VERSION,
        TESSERA_ERR_UNSUPPORTED_ALGORITHM,
        TESSERA_ERR_UNKNOWN_KEY_ID,
        TESSERA_ERR_BAD_SIGNATURE,
        TESSERA_ERR_INVALID_PAYLOAD,
        TESSERA_ERR_INVALID_KEY,
        TESSERA_ERR_INVALID_SPEC,
        TESSERA_ERR_STORE_CORRUPT,
        TESSERA_ERR_STORE_TAMPERED,
        TESSERA_ERR_STORE_FROM_OTHER_DEVICE,
        TESSERA_ERR_STORE_WRONG_PRODUCT,
        TESSERA_ERR_STORE_VERSION,
        TESSERA_ERR_CLOCK_TAMPERED,
        TESSERA_ERR_NOT_ACTIVATED,
        TESSERA_ERR_UNUSABLE,
        TESSERA_ERR_FINGERPRINT_UNAVAILABLE,
        TESSERA_ERR_CONSUMPTION_LIMIT,
        TESSERA_ERR_NOT_CONSUMABLE,
        TESSERA_ERR_JOURNAL_CORRUPT,
        TESSERA_ERR_JOURNAL_TAMPERED,
        TESSERA_ERR_FEATURE_UNAVAILABLE,
        TESSERA_ERR_INVALID_LEASE,
        TESSERA_ERR_BORROW_NOT_ALLOWED,
        TESSERA_ERR_BORROW_TOO_LONG,
        TESSERA_ERR_OFFLINE_NO_REQUEST,
        TESSERA_ERR_OFFLINE_REPLAY,
        TESSERA_ERR_OFFLINE_WRONG_DEVICE,
        TESSERA_ERR_CODE_MISTYPED,
        TESSERA_ERR_CODE_REJECTED,
        TESSERA_ERR_AIR_GAPPED,
        TESSERA_ERR_TOKEN_ABSENT,
        TESSERA_ERR_TOKEN_PIN,
        TESSERA_ERR_TOKEN_MISMATCH,
        TESSERA_ERR_TOKEN_FAILURE,
        TESSERA_ERR_NETWORK,
        TESSERA_ERR_SERVER_REFUSED,
        TESSERA_ERR_BAD_RESPONSE,
        TESSERA_ERR_NULL_POINTER,
        TESSERA_ERR_INVALID_UTF8,
        TESSERA_ERR_BUFFER_TOO_SMALL,
        TESSERA_ERR_PANIC,
        TESSERA_ERR_OTHER,
    ]
};

/// A failed export: its code and the message kept as the last error.
#[derive(Debug)]
pub(crate) struct Failure {
    code: tessera_result,
    message: String,
}

impl Failure {
    pub(crate) fn new(code: tessera_result, message: impl Into<String>) -> Failure {
        Failure {
            code,
            message: message.into(),
        }
    }

    pub(crate) fn invalid(message: impl Into<String>) -> Failure {
        Failure::new(tessera_result::TESSERA_ERR_INVALID_ARGUMENT, message)
    }
}

impl From<Error> for Failure {
    fn from(e: Error) -> Failure {
        Failure::new(tessera_result::from_code(e.code()), e.to_string())
    }
}

pub(crate) type FfiResult<T = ()> = Result<T, Failure>;

thread_local! {
    static LAST_ERROR: RefCell<Option<Failure>> = const { RefCell::new(None) };
}

fn set_last_error(failure: Failure) -> tessera_result {
    let code = failure.code;
    LAST_ERROR.with(|slot| *slot.borrow_mut() = Some(failure));
    code
}

pub(crate) fn with_last_error<R>(f: impl FnOnce(Option<(tessera_result, &str)>) -> R) -> R {
    LAST_ERROR.with(|slot| {
        let slot = slot.borrow();
        f(slot.as_ref().map(|e| (e.code, e.message.as_str())))
    })
}

/// Runs an export's body: a panic becomes `TESSERA_ERR_PANIC`, a failure
/// is recorded as the thread's last error, and success returns `TESSERA_OK`
/// (the last error is left as it was, like `errno`).
pub(crate) fn boundary(body: impl FnOnce() -> FfiResult) -> tessera_result {
    match catch_unwind(AssertUnwindSafe(body)) {
        Ok(Ok(())) => tessera_result::TESSERA_OK,
        Ok(Err(failure)) => set_last_error(failure),
        Err(panic) => {
            let what = panic
                .downcast_ref::<&str>()
                .map(|s| s.to_string())
                .or_else(|| panic.downcast_ref::<String>().cloned())
                .unwrap_or_default();
            set_last_error(Failure::new(
                tessera_result::TESSERA_ERR_PANIC,
                format!("internal error (a bug in Tessera, please report it): {what}"),
            ))
        }
    }
}

/// Runs a body that cannot fail (a `_free`, a name lookup) with the panic
/// boundary; a panic gives `fallback`.
pub(crate) fn infallible<T>(fallback: T, body: impl FnOnce() -> T) -> T {
    catch_unwind(AssertUnwindSafe(body)).unwrap_or(fallback)
}

fn null(name: &'static str) -> Failure {
    Failure::new(
        tessera_result::TESSERA_ERR_NULL_POINTER,
        format!("`{name}` is NULL"),
    )
}

/// A shared reference from a pointer the caller vouches for.
///
/// # Safety
/// `ptr` is NULL or points to a live `T` that outlives the call.
pub(crate) unsafe fn arg_ref<'a, T>(ptr: *const T, name: &'static str) -> FfiResult<&'a T> {
    // SAFETY: the caller's contract above; NULL is refused.
    unsafe { ptr.as_ref() }.ok_or_else(|| null(name))
}

/// An exclusive reference from a pointer the caller vouches for.
///
/// # Safety
/// `ptr` is NULL or points to a live `T` no other thread uses during the call.
pub(crate) unsafe fn arg_mut<'a, T>(ptr: *mut T, name: &'static str) -> FfiResult<&'a mut T> {
    // SAFETY: the caller's contract above; NULL is refused.
    unsafe { ptr.as_mut() }.ok_or_else(|| null(name))
}

/// A UTF-8 string from a NUL-terminated C string.
///
/// # Safety
/// `ptr` is NULL or points to a NUL-terminated string that outlives the call.
pub(crate) unsafe fn arg_str<'a>(ptr: *const c_char, name: &'static str) -> FfiResult<&'a str> {
    if ptr.is_null() {
        return Err(null(name));
    }
    // SAFETY: non-NULL and NUL-terminated by the caller's contract.
    let s = unsafe { CStr::from_ptr(ptr) };
    s.to_str().map_err(|_| {
        Failure::new(
            tessera_result::TESSERA_ERR_INVALID_UTF8,
            format!("`{name}` is not valid UTF-8"),
        )
    })
}

/// A byte slice from `(ptr, len)`; `len == 0` is empty whatever `ptr` is.
///
/// # Safety
/// When `len > 0`, `ptr` is NULL or points to `len` readable bytes that
/// outlive the call.
pub(crate) unsafe fn arg_bytes<'a>(
    ptr: *const u8,
    len: usize,
    name: &'static str,
) -> FfiResult<&'a [u8]> {
    if len == 0 {
        return Ok(&[]);
    }
    if ptr.is_null() {
        return Err(null(name));
    }
    if len > isize::MAX as usize {
        return Err(Failure::invalid(format!("`{name}` length is impossible")));
    }
    // SAFETY: non-NULL, `len` readable bytes by the caller's contract.
    Ok(unsafe { std::slice::from_raw_parts(ptr, len) })
}

/// An out-parameter checked before any work is done, written at the end.
pub(crate) struct Out<T>(*mut T);

impl<T> Out<T> {
    /// Checks `ptr` is not NULL.
    pub(crate) fn new(ptr: *mut T, name: &'static str) -> FfiResult<Out<T>> {
        if ptr.is_null() {
            Err(null(name))
        } else {
            Ok(Out(ptr))
        }
    }

    /// Writes the output (call only once everything else succeeded).
    ///
    /// # Safety
    /// The pointer given to [`Out::new`] points to writable memory for a `T`.
    pub(crate) unsafe fn write(self, value: T) {
        // SAFETY: non-NULL (checked in `new`) and writable by the contract.
        // `write` does not drop the old, possibly uninitialised, value.
        unsafe { self.0.write(value) }
    }
}

/// Runs an export whose one output goes to `out_ptr`: the pointer is
/// checked before `body` runs, and written only when it succeeds.
///
/// # Safety
/// `out_ptr` is NULL or points to writable memory for a `T`.
pub(crate) unsafe fn returning<T>(
    out_ptr: *mut T,
    name: &'static str,
    body: impl FnOnce() -> FfiResult<T>,
) -> tessera_result {
    boundary(|| {
        let out = Out::new(out_ptr, name)?;
        let value = body()?;
        // SAFETY: the caller's contract above; checked non-NULL.
        unsafe { out.write(value) };
        Ok(())
    })
}

/// Copies `s` and a terminating NUL into the caller's buffer `(buf, cap)`,
/// and stores `s`'s length (without the NUL) in `*len_out`.
///
/// When `cap` is too small (a size query passes `NULL, 0`), nothing is
/// copied, `*len_out` still receives the length, and the result is
/// `TESSERA_ERR_BUFFER_TOO_SMALL`: the size is the query's answer.
///
/// # Safety
/// `buf` is NULL or points to `cap` writable bytes; `len_out` is NULL or
/// points to a writable `size_t`.
pub(crate) unsafe fn write_string(
    s: &str,
    buf: *mut c_char,
    cap: usize,
    len_out: *mut usize,
) -> FfiResult {
    let len_out = Out::new(len_out, "len_out")?;
    if cap > 0 && buf.is_null() {
        return Err(null("buf"));
    }
    let bytes = s.as_bytes();
    // SAFETY: `len_out` is non-NULL and writable by the contract.
    unsafe { len_out.write(bytes.len()) };
    if cap <= bytes.len() {
        return Err(Failure::new(
            tessera_result::TESSERA_ERR_BUFFER_TOO_SMALL,
            format!(
                "the buffer holds {cap} bytes; {} are needed with the NUL",
                bytes.len() + 1
            ),
        ));
    }
    // SAFETY: `buf` is non-NULL with `cap > bytes.len()` writable bytes,
    // and cannot overlap `s`, which the SDK owns.
    unsafe {
        std::ptr::copy_nonoverlapping(bytes.as_ptr(), buf.cast::<u8>(), bytes.len());
        buf.add(bytes.len()).write(0);
    }
    Ok(())
}

/// Runs an export that hands out text about one object: `obj` is checked,
/// `text` makes the string, and it is copied into `(buf, buf_len)` as
/// [`write_string`] does.
///
/// # Safety
/// `obj` is NULL or points to a live `T`; `buf` and `len_out` as for
/// [`write_string`].
pub(crate) unsafe fn text_of<T>(
    obj: *const T,
    name: &'static str,
    buf: *mut c_char,
    buf_len: usize,
    len_out: *mut usize,
    text: impl FnOnce(&T) -> FfiResult<String>,
) -> tessera_result {
    boundary(|| {
        // SAFETY: the caller's contract.
        let obj = unsafe { arg_ref(obj, name) }?;
        let s = text(obj)?;
        // SAFETY: the caller's contract.
        unsafe { write_string(&s, buf, buf_len, len_out) }
    })
}

/// Moves `value` to the heap and hands its ownership to C.
pub(crate) fn into_raw<T>(value: T) -> *mut T {
    Box::into_raw(Box::new(value))
}

/// Takes back ownership of `*slot` (from [`into_raw`]), drops it and sets
/// `*slot` to NULL, so that a second free of the same variable does
/// nothing. A NULL `slot` or a NULL `*slot` is ignored.
///
/// # Safety
/// `slot` is NULL or points to a readable and writable pointer that is
/// NULL or came from [`into_raw`] for the same `T`, and no other thread
/// uses the object.
pub(crate) unsafe fn free_slot<T>(slot: *mut *mut T) {
    if slot.is_null() {
        return;
    }
    // SAFETY: `slot` is non-NULL, readable and writable by the contract.
    let ptr = unsafe { slot.replace(std::ptr::null_mut()) };
    if !ptr.is_null() {
        // SAFETY: `ptr` came from `into_raw` and is freed only here, once:
        // the slot no longer holds it.
        drop(unsafe { Box::from_raw(ptr) });
    }
}

/// Seconds since the Unix epoch for a time.
pub(crate) fn unix(t: chrono::DateTime<chrono::Utc>) -> i64 {
    t.timestamp()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_core_code_has_its_own_result() {
        // One error of each kind the core can produce; a new variant needs
        // a line here and a value in `tessera_result`.
        let errors = [
            Error::InvalidArgument("x"),
            Error::Io {
                kind: std::io::ErrorKind::Other,
                context: "x",
            },
            Error::Unsupported("x"),
            Error::Empty,
            Error::TooLarge { len: 1, max: 0 },
            Error::Malformed { line: 1, what: "x" },
            Error::UnsupportedVersion,
            Error::UnsupportedAlgorithm,
            Error::UnknownKeyId("x".into()),
            Error::BadSignature,
            Error::InvalidPayload("x".into()),
            Error::InvalidKey("x"),
            Error::InvalidSpec("x".into()),
            Error::StoreCorrupt("x"),
            Error::StoreTampered,
            Error::StoreFromOtherDevice,
            Error::StoreWrongProduct,
            Error::StoreVersion,
            Error::NotActivated,
            Error::FingerprintUnavailable,
            Error::NotConsumable("x".into()),
            Error::JournalCorrupt("x"),
            Error::JournalTampered,
            Error::FeatureUnavailable("x".into()),
            Error::InvalidLease("x"),
            Error::BorrowNotAllowed,
            Error::ClockTampered { behind_secs: 1 },
            Error::Unusable {
                status: crate::validate::Status::Expired,
                reason: "x".into(),
            },
            Error::ConsumptionLimit {
                counter: "x".into(),
                used: 1,
                requested: 1,
                allowed: 1,
            },
            Error::BorrowTooLong { max_hours: 1 },
            Error::OfflineNoRequest,
            Error::OfflineReplay,
            Error::OfflineWrongDevice,
            Error::CodeMistyped("x"),
            Error::CodeRejected,
            Error::AirGapped,
            Error::TokenAbsent,
            Error::TokenPin,
            Error::TokenMismatch,
            Error::TokenFailure("x"),
            Error::Network("x".into()),
            Error::ServerRefused {
                status: 409,
                code: "x".into(),
                message: "x".into(),
            },
            Error::BadResponse("x"),
        ];
        for e in errors {
            let r = tessera_result::from_code(e.code());
            assert_eq!(r as u32, e.code(), "{e:?}");
            assert_eq!(r.name().to_str().ok(), Some(e.name()), "{e:?}");
        }
    }

    #[test]
    fn names_are_unique_and_lookups_round_trip() {
        let mut names = std::collections::HashSet::new();
        for r in ALL {
            assert!(names.insert(r.name()), "{r:?}");
            assert_eq!(tessera_result::from_code(r as u32), r);
        }
        assert_eq!(
            tessera_result::from_code(4242),
            tessera_result::TESSERA_ERR_OTHER
        );
    }

    #[test]
    fn a_panic_becomes_a_result_and_a_message() {
        let r = boundary(|| panic!("boom"));
        assert_eq!(r, tessera_result::TESSERA_ERR_PANIC);
        with_last_error(|e| {
            let (code, message) = e.expect("a last error");
            assert_eq!(code, tessera_result::TESSERA_ERR_PANIC);
            assert!(message.contains("boom"), "{message}");
        });
    }
}
