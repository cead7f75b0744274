//! The C ABI: the only place in the crate with `extern "C"` and raw pointers.
//!
//! One file per exported object: [`config`] (what a product configures),
//! [`activation`] (activate and deactivate on this device), [`handle`] (the
//! open license and its validation report), [`device`] (fingerprint and its
//! diagnosis), [`offline`] (request files and air-gapped codes), [`online`]
//! (the license server: connections, sessions, auto-sync) and [`info`]
//! (versions, names, the last error).
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
pub mod logging;
pub mod offline;
pub mod online;

use std::cell::RefCell;
use std::ffi::{c_char, CStr};
use std::panic::{catch_unwind, AssertUnwindSafe};

use tessera::{Code, Error, Status};

/// The result of every fallible export: the core's [`Code`], whose table
/// (`tessera::Code::ALL`) is the one list of numbers and names.
/// `TESSERA_OK` is zero; 100 to 109 come only from this boundary.
///
/// In C it is the enum `tessera_result`, which `scripts/header.sh` renders
/// from that table into `include/tessera.h`.
#[allow(non_camel_case_types)]
pub type tessera_result = Code;

/// A license's status: the core's [`Status`]; in C the enum
/// `tessera_status`, rendered from `tessera::Status::ALL` as
/// `tessera_result` is.
#[allow(non_camel_case_types)]
pub type tessera_status = Status;

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
        Failure::new(Code::InvalidArgument, message)
    }
}

impl From<Error> for Failure {
    fn from(e: Error) -> Failure {
        Failure::new(e.code(), e.to_string())
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
        Ok(Ok(())) => Code::Ok,
        Ok(Err(failure)) => set_last_error(failure),
        Err(panic) => {
            let what = panic
                .downcast_ref::<&str>()
                .map(|s| s.to_string())
                .or_else(|| panic.downcast_ref::<String>().cloned())
                .unwrap_or_default();
            set_last_error(Failure::new(
                Code::Panic,
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
    Failure::new(Code::NullPointer, format!("`{name}` is NULL"))
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
    s.to_str()
        .map_err(|_| Failure::new(Code::InvalidUtf8, format!("`{name}` is not valid UTF-8")))
}

/// An optional UTF-8 string: NULL is `None`, anything else as [`arg_str`].
///
/// # Safety
/// `ptr` is NULL or points to a NUL-terminated string that outlives the call.
pub(crate) unsafe fn arg_opt_str<'a>(
    ptr: *const c_char,
    name: &'static str,
) -> FfiResult<Option<&'a str>> {
    if ptr.is_null() {
        return Ok(None);
    }
    // SAFETY: non-NULL; the caller's contract above.
    unsafe { arg_str(ptr, name) }.map(Some)
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
/// A size query (`NULL, 0`) copies nothing, stores the length and
/// succeeds, leaving the thread's last error as it was. A buffer too small
/// for `s` and its NUL gets nothing; `*len_out` still receives the length
/// and the result is `TESSERA_ERR_BUFFER_TOO_SMALL`.
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
    // A size query (`NULL, 0`) succeeds: it is a question, not a failure,
    // and leaves the thread's last error as it was.
    if buf.is_null() {
        return Ok(());
    }
    if cap <= bytes.len() {
        return Err(Failure::new(
            Code::BufferTooSmall,
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
pub(crate) fn unix(t: tessera::Time) -> i64 {
    t.unix()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_error_keeps_its_code_across_the_boundary() {
        let e = Error::BadSignature;
        let failure = Failure::from(e.clone());
        assert_eq!(failure.code, Code::BadSignature);
        assert_eq!(failure.code as u32, 16);
        assert_eq!(failure.message, e.to_string());
    }

    #[test]
    fn a_panic_becomes_a_result_and_a_message() {
        let r = boundary(|| panic!("boom"));
        assert_eq!(r, Code::Panic);
        with_last_error(|e| {
            let (code, message) = e.expect("a last error");
            assert_eq!(code, Code::Panic);
            assert!(message.contains("boom"), "{message}");
        });
    }
}

#[cfg(test)]
mod hostile;
