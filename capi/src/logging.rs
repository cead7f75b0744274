//! The SDK's log in C: `tessera_set_log_callback` hands every record at or
//! above a level to a function of the product's. Records never hold a
//! license key, a password, a product key, a token or a proxy's
//! credentials (the online suites check every line).

use std::cell::Cell;
use std::ffi::{c_char, c_void, CString};
use std::sync::{OnceLock, RwLock};

use crate::{boundary, tessera_result, Failure};

/// How much the SDK logs (`tessera_set_log_callback`).
#[allow(non_camel_case_types)]
#[repr(u32)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum tessera_log_level {
    /// Nothing.
    TESSERA_LOG_OFF = 0,
    /// Failures the product should hear of.
    TESSERA_LOG_ERROR = 1,
    /// The server unreachable, a sync failed.
    TESSERA_LOG_WARN = 2,
    /// Activations, check-ins, uploads, status changes.
    TESSERA_LOG_INFO = 3,
    /// Each request and attempt.
    TESSERA_LOG_DEBUG = 4,
    /// Everything.
    TESSERA_LOG_TRACE = 5,
}

/// Receives one log record: `user_data` as given, the level
/// (`tessera_log_level`), the module it comes from (`tessera::online`, ...)
/// and the message; both strings are valid only during the call. It may be
/// called from any thread (the caller's, a session's heartbeat thread, the
/// auto-sync's), so it must be thread-safe. Records the SDK makes while
/// the callback runs on the same thread are dropped.
#[allow(non_camel_case_types)]
pub type tessera_log_callback = Option<
    unsafe extern "C" fn(
        user_data: *mut c_void,
        level: u32,
        target: *const c_char,
        message: *const c_char,
    ),
>;

struct Sink {
    function: unsafe extern "C" fn(*mut c_void, u32, *const c_char, *const c_char),
    user_data: *mut c_void,
}

// SAFETY: the caller of `tessera_set_log_callback` vouches that the
// callback and its `user_data` may be used from any thread (its contract).
unsafe impl Send for Sink {}
// SAFETY: as above.
unsafe impl Sync for Sink {}

static SINK: RwLock<Option<Sink>> = RwLock::new(None);

thread_local! {
    static IN_CALLBACK: Cell<bool> = const { Cell::new(false) };
}

struct CLogger;

static LOGGER: CLogger = CLogger;

impl log::Log for CLogger {
    fn enabled(&self, metadata: &log::Metadata<'_>) -> bool {
        metadata.level() <= log::max_level()
    }

    fn log(&self, record: &log::Record<'_>) {
        if !self.enabled(record.metadata()) || IN_CALLBACK.with(Cell::get) {
            return;
        }
        let sink = SINK.read().unwrap_or_else(|p| p.into_inner());
        let Some(sink) = sink.as_ref() else { return };
        let text = |s: String| CString::new(s.replace('\0', " ")).unwrap_or_default();
        let target = text(record.target().to_owned());
        let message = text(record.args().to_string());
        let level = match record.level() {
            log::Level::Error => 1,
            log::Level::Warn => 2,
            log::Level::Info => 3,
            log::Level::Debug => 4,
            log::Level::Trace => 5,
        };
        IN_CALLBACK.with(|c| c.set(true));
        // SAFETY: the product's function with its user data, and two
        // NUL-terminated strings that live until it returns.
        unsafe { (sink.function)(sink.user_data, level, target.as_ptr(), message.as_ptr()) };
        IN_CALLBACK.with(|c| c.set(false));
    }

    fn flush(&self) {}
}

/// Sends the SDK's log records at `level` or more severe to `callback`
/// (NULL, or `TESSERA_LOG_OFF`, stops logging). Replaces the callback set
/// before; once this returns, the old one is no longer called (a call
/// from another thread waits for a callback running there to return). The
/// SDK logs nothing until this is called.
///
/// Returns `TESSERA_OK`; `TESSERA_ERR_INVALID_ARGUMENT` for a level above
/// `TESSERA_LOG_TRACE`, when the process already has another Rust logger
/// (a Rust product uses the `log` crate directly), or when called from
/// inside the log callback itself, which cannot replace or stop itself
/// (it would wait for itself to return; change it from outside).
///
/// # Safety
/// `callback` is NULL or a function that may be called from any thread
/// with `user_data` until logging is stopped or the callback replaced.
#[no_mangle]
pub unsafe extern "C" fn tessera_set_log_callback(
    level: u32,
    callback: tessera_log_callback,
    user_data: *mut c_void,
) -> tessera_result {
    boundary(|| {
        if IN_CALLBACK.with(Cell::get) {
            return Err(Failure::invalid(
                "the log callback cannot replace or stop itself: call tessera_set_log_callback from outside it",
            ));
        }
        let filter = match level {
            0 => log::LevelFilter::Off,
            1 => log::LevelFilter::Error,
            2 => log::LevelFilter::Warn,
            3 => log::LevelFilter::Info,
            4 => log::LevelFilter::Debug,
            5 => log::LevelFilter::Trace,
            _ => return Err(Failure::invalid(format!("unknown log level {level}"))),
        };
        // Installed once per process; a logger of someone else's stays.
        static INSTALLED: OnceLock<bool> = OnceLock::new();
        if !*INSTALLED.get_or_init(|| log::set_logger(&LOGGER).is_ok()) {
            return Err(Failure::invalid(
                "this process already has another Rust logger",
            ));
        }
        let sink = callback.map(|function| Sink {
            function,
            user_data,
        });
        let on = sink.is_some() && filter != log::LevelFilter::Off;
        *SINK.write().unwrap_or_else(|p| p.into_inner()) = sink;
        log::set_max_level(if on { filter } else { log::LevelFilter::Off });
        Ok(())
    })
}
