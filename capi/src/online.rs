//! The online half in C: `tessera_server` (where the license server is
//! and how to reach it), `tessera_connection` (the calls), `tessera_session`
//! (a floating seat kept by a heartbeat thread) and `tessera_auto_sync` (a
//! license that looks after itself).
//!
//! Every call that talks to the server blocks the calling thread until the
//! server answered or the server's deadline passed (default 30 s, retries
//! included); its documentation says "Blocks".

use std::ffi::{c_char, c_void, CString};
use std::sync::Arc;
use std::time::Duration;

use crate::handle::tessera_handle;
use crate::{
    arg_bytes, arg_mut, arg_opt_str, arg_ref, arg_str, boundary, free_slot, infallible, into_raw,
};
use crate::{config::tessera_config, handle::tessera_lease_info};
use crate::{returning, tessera_result, tessera_status, write_string, Failure, FfiResult, Out};
use tessera::activation::Credential;
use tessera::online::{
    AutoSync, AutoSyncOptions, Connection, FloatingSession, Proxy, ServerConfig, StatusChange,
};

/// Where the license server is and how to reach it: its URL, the product's
/// shared key, a pinned CA, a proxy, the time limits and retries. Build
/// it, then open connections with it; a connection keeps its own copy.
///
/// Thread safety: the setters need exclusive use; once built, it may be
/// read (by `tessera_connection_new`) from several threads at once.
#[allow(non_camel_case_types)]
pub struct tessera_server {
    inner: ServerConfig,
}

/// A connection to the license server for one product on this device.
///
/// Thread safety: every function taking it may be called from any number
/// of threads at once. Free it once, after every call on it returned;
/// sessions and auto-syncs opened on it keep what they need.
#[allow(non_camel_case_types)]
pub struct tessera_connection {
    inner: Arc<Connection>,
}

/// A floating seat kept alive by a heartbeat thread of its own.
///
/// Thread safety: `tessera_session_beat` may be called from several
/// threads at once; close or free it once, after every other call on it
/// returned.
#[allow(non_camel_case_types)]
pub struct tessera_session {
    inner: Option<FloatingSession>,
}

/// A license kept in sync from a background thread.
///
/// Thread safety: `tessera_auto_sync_now` and `tessera_auto_sync_record`
/// may be called from several threads at once; stop it once, after every
/// other call on it returned, and never from its own callback.
#[allow(non_camel_case_types)]
pub struct tessera_auto_sync {
    inner: Option<AutoSync>,
}

/// What `tessera_online_upload_consumption` did.
#[allow(non_camel_case_types)]
#[repr(C)]
#[derive(Debug, Clone, Copy, Default)]
pub struct tessera_upload {
    /// Pending records sent.
    pub sent: u64,
    /// Of those, the ones the server had not seen before.
    pub accepted: u64,
    /// The last journal sequence number now acknowledged (0: none).
    pub acknowledged: u64,
}

/// Told of every change of the license's status, on the auto-sync's own
/// thread: `user_data` as given, the old and the new status, and the
/// reason in words (valid only during the call). It may call the
/// handle's and the connection's functions, must not call
/// `tessera_auto_sync_stop` on its own auto-sync, and should return
/// quickly: the next sync waits for it.
#[allow(non_camel_case_types)]
pub type tessera_status_callback = Option<
    unsafe extern "C" fn(
        user_data: *mut c_void,
        old_status: tessera_status,
        new_status: tessera_status,
        reason: *const c_char,
    ),
>;

/// What `tessera_auto_sync_start` does and when. Zero in a field means its
/// default.
#[allow(non_camel_case_types)]
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct tessera_auto_sync_options {
    /// The longest time between two syncs, in seconds (default 3600); a
    /// sync also comes before the file's check-in expiry.
    pub interval_secs: u32,
    /// How often a floating seat is renewed, in seconds (default: a third
    /// of the license's `floating_timeout`).
    pub heartbeat_secs: u32,
    /// Whether to leave a floating license without a seat (default
    /// false: take one and keep it).
    pub no_seat: bool,
    /// The first wait after a failed sync, in seconds (default 30); it
    /// doubles up to `interval_secs`.
    pub retry_secs: u32,
    /// How often the status is looked at between syncs, in seconds
    /// (default 60).
    pub watch_secs: u32,
    /// How long stopping waits for the thread, in milliseconds (default
    /// 2000).
    pub stop_timeout_ms: u32,
    /// Told of every status change (NULL: nobody).
    pub on_change: tessera_status_callback,
    /// Handed to `on_change` as it is; the caller keeps it alive until
    /// the auto-sync is stopped.
    pub user_data: *mut c_void,
}

/// The callback and its user data, moved to the auto-sync thread.
struct Callback {
    function: unsafe extern "C" fn(*mut c_void, tessera_status, tessera_status, *const c_char),
    user_data: *mut c_void,
}

// SAFETY: the caller of `tessera_auto_sync_start` vouches that `user_data`
// may be used from the auto-sync thread (the documented contract), and
// the function pointer is plain code.
unsafe impl Send for Callback {}
// SAFETY: as above; the SDK calls it from one thread only.
unsafe impl Sync for Callback {}

impl Callback {
    fn call(&self, change: &StatusChange) {
        // A reason with a NUL in it loses the rest rather than the call.
        let text = change.reason.to_string();
        let text = CString::new(text.replace('\0', " ")).unwrap_or_default();
        // SAFETY: the caller's function, with the user data it gave and a
        // NUL-terminated string that lives until the call returns.
        unsafe { (self.function)(self.user_data, change.old, change.new, text.as_ptr()) }
    }
}

fn secs(value: u32, default: Duration) -> Duration {
    if value == 0 {
        default
    } else {
        Duration::from_secs(u64::from(value))
    }
}

/// Starts a server description: `url` (`https://...`; `http://` only for
/// a loopback address) and the product's shared key (`product_key`,
/// `key_len` bytes, from the admin API), with the defaults: the
/// platform's certificate verifier, the system's proxy settings, 10 s per
/// attempt, 4 attempts, 30 s per call.
///
/// Returns `TESSERA_OK`; `TESSERA_ERR_NULL_POINTER`;
/// `TESSERA_ERR_INVALID_UTF8`; `TESSERA_ERR_INVALID_ARGUMENT` for an empty
/// URL or key, a URL that is not `https://` (or `http://` to a loopback
/// address), or one that does not parse (a port past 65535, an unclosed
/// `[`, no host).
///
/// # Safety
/// `url` is NULL or a NUL-terminated string; `product_key` is NULL or
/// points to `key_len` readable bytes; `server_out` is NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn tessera_server_new(
    url: *const c_char,
    product_key: *const u8,
    key_len: usize,
    server_out: *mut *mut tessera_server,
) -> tessera_result {
    let run = || {
        // SAFETY: the function's contract.
        let url = unsafe { arg_str(url, "url") }?;
        // SAFETY: the function's contract.
        let key = unsafe { arg_bytes(product_key, key_len, "product_key") }?;
        if url.trim().is_empty() || key.is_empty() {
            return Err(Failure::invalid(
                "the URL and the product key must not be empty",
            ));
        }
        Ok(into_raw(tessera_server {
            inner: ServerConfig::try_new(url, key.to_vec())?,
        }))
    };
    // SAFETY: the function's contract covers `server_out`.
    unsafe { returning(server_out, "server_out", run) }
}

/// Frees `*server` and sets it to NULL; NULL is accepted and ignored.
///
/// # Safety
/// `server` is NULL or points to NULL or a server from `tessera_server_new`.
#[no_mangle]
pub unsafe extern "C" fn tessera_server_free(server: *mut *mut tessera_server) {
    // SAFETY: the function's contract.
    infallible((), || unsafe { free_slot(server) })
}

/// Trusts only this CA certificate (PEM) for the server's TLS, instead of
/// the platform's verifier; NULL goes back to the platform's. Checked
/// when a connection opens (`TESSERA_ERR_INVALID_ARGUMENT` then).
///
/// Returns `TESSERA_OK`; `TESSERA_ERR_NULL_POINTER`;
/// `TESSERA_ERR_INVALID_UTF8`.
///
/// # Safety
/// `server` is NULL or a live server used by no other thread; `pem` is
/// NULL or a NUL-terminated string.
#[no_mangle]
pub unsafe extern "C" fn tessera_server_set_pinned_ca(
    server: *mut tessera_server,
    pem: *const c_char,
) -> tessera_result {
    boundary(|| {
        // SAFETY: the function's contract.
        let server = unsafe { arg_mut(server, "server") }?;
        // SAFETY: the function's contract.
        let pem = unsafe { arg_opt_str(pem, "pem") }?.map(str::to_owned);
        server.inner.pinned_ca = pem;
        Ok(())
    })
}

/// How requests reach the server. `TESSERA_PROXY_SYSTEM` (the default):
/// the environment's `HTTPS_PROXY`/`ALL_PROXY`/`NO_PROXY`, plus the
/// Internet Options on Windows and the network settings on macOS;
/// `TESSERA_PROXY_DIRECT`: none; `TESSERA_PROXY_URL`: the proxy at `url`,
/// `http://host:port` or `http://user:password@host:port` (never logged
/// or printed with its credentials).
#[allow(non_camel_case_types)]
#[repr(u32)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum tessera_proxy_mode {
    /// The system's settings.
    TESSERA_PROXY_SYSTEM = 0,
    /// No proxy.
    TESSERA_PROXY_DIRECT = 1,
    /// The proxy at the URL given.
    TESSERA_PROXY_URL = 2,
}

/// Sets how requests reach the server (see `tessera_proxy_mode`); `url`
/// is read only for `TESSERA_PROXY_URL` and may be NULL otherwise.
///
/// Returns `TESSERA_OK`; `TESSERA_ERR_NULL_POINTER`;
/// `TESSERA_ERR_INVALID_UTF8`; `TESSERA_ERR_INVALID_ARGUMENT` for an
/// unknown mode.
///
/// # Safety
/// `server` is NULL or a live server used by no other thread; `url` is
/// NULL or a NUL-terminated string.
#[no_mangle]
pub unsafe extern "C" fn tessera_server_set_proxy(
    server: *mut tessera_server,
    mode: u32,
    url: *const c_char,
) -> tessera_result {
    boundary(|| {
        // SAFETY: the function's contract.
        let server = unsafe { arg_mut(server, "server") }?;
        let proxy = match mode {
            m if m == tessera_proxy_mode::TESSERA_PROXY_SYSTEM as u32 => Proxy::System,
            m if m == tessera_proxy_mode::TESSERA_PROXY_DIRECT as u32 => Proxy::Direct,
            m if m == tessera_proxy_mode::TESSERA_PROXY_URL as u32 => {
                // SAFETY: the function's contract.
                Proxy::Url(unsafe { arg_str(url, "url") }?.to_owned())
            }
            _ => return Err(Failure::invalid(format!("unknown proxy mode {mode}"))),
        };
        server.inner.proxy = proxy;
        Ok(())
    })
}

/// Sets the time limits: `attempt_ms` for one attempt, connecting
/// included (default 10,000); `deadline_ms` for one call, its attempts
/// and waits included (default 30,000): no call blocks longer;
/// `attempts` on network errors and 5xx (default 4); `backoff_ms`, the
/// first wait between attempts, doubled each time with full jitter
/// (default 250). Zero keeps a field's current value.
///
/// Returns `TESSERA_OK`; `TESSERA_ERR_NULL_POINTER`.
///
/// # Safety
/// `server` is NULL or a live server used by no other thread.
#[no_mangle]
pub unsafe extern "C" fn tessera_server_set_limits(
    server: *mut tessera_server,
    attempt_ms: u32,
    deadline_ms: u32,
    attempts: u32,
    backoff_ms: u32,
) -> tessera_result {
    boundary(|| {
        // SAFETY: the function's contract.
        let s = &mut unsafe { arg_mut(server, "server") }?.inner;
        let ms = |v: u32, old: Duration| {
            if v == 0 {
                old
            } else {
                Duration::from_millis(u64::from(v))
            }
        };
        s.timeout = ms(attempt_ms, s.timeout);
        s.deadline = ms(deadline_ms, s.deadline);
        s.backoff = ms(backoff_ms, s.backoff);
        if attempts > 0 {
            s.attempts = attempts;
        }
        Ok(())
    })
}

/// Opens a connection for the product `config` configures to the server
/// `server` describes (both are copied; free them when you like).
///
/// Returns `TESSERA_OK`; `TESSERA_ERR_NULL_POINTER`;
/// `TESSERA_ERR_INVALID_ARGUMENT` for a plain `http://` URL that is not
/// loopback, a pinned CA that is not a PEM certificate, or a proxy URL
/// that does not parse; `TESSERA_ERR_UNSUPPORTED` from a library built
/// without its online half (then no connection, session or auto-sync can
/// exist, and every call that takes one answers the same).
///
/// # Safety
/// `config` and `server` are NULL or live; `connection_out` is NULL or
/// writable.
#[no_mangle]
pub unsafe extern "C" fn tessera_connection_new(
    config: *const tessera_config,
    server: *const tessera_server,
    connection_out: *mut *mut tessera_connection,
) -> tessera_result {
    let run = || {
        // SAFETY: the function's contract.
        let config = unsafe { arg_ref(config, "config") }?;
        // SAFETY: the function's contract.
        let server = unsafe { arg_ref(server, "server") }?;
        available()?;
        let inner = Connection::new(&config.inner, server.inner.clone())?;
        Ok(into_raw(tessera_connection {
            inner: Arc::new(inner),
        }))
    };
    // SAFETY: the function's contract covers `connection_out`.
    unsafe { returning(connection_out, "connection_out", run) }
}

/// Frees `*connection` and sets it to NULL; NULL is accepted and ignored.
///
/// # Safety
/// `connection` is NULL or points to NULL or a connection from
/// `tessera_connection_new`; every other call on it has returned.
#[no_mangle]
pub unsafe extern "C" fn tessera_connection_free(connection: *mut *mut tessera_connection) {
    // SAFETY: the function's contract.
    infallible((), || unsafe { free_online(connection) })
}

/// Proof that the online half is built in. Without the `online` feature it
/// is an enum without values, so [`available`] can only fail and the
/// compiler drops, as unreachable, every line after `available()?` and
/// all the online code behind it (a runtime flag was not enough: the
/// optimiser could not see through the error's conversion).
#[cfg(feature = "online")]
#[derive(Clone, Copy)]
struct Online;

#[cfg(not(feature = "online"))]
#[derive(Clone, Copy)]
enum Online {}

/// Without the `online` feature no connection, session or auto-sync can
/// exist: this says so, and (see [`Online`]) cuts the code behind it.
#[inline(always)]
fn available() -> FfiResult<Online> {
    #[cfg(feature = "online")]
    {
        Ok(Online)
    }
    #[cfg(not(feature = "online"))]
    {
        Err(tessera::Error::Unsupported(
            "this library was built without its online half (feature `online`)",
        )
        .into())
    }
}

/// Frees a connection, session or auto-sync as `free_slot` does. Without
/// the `online` feature none can exist (`tessera_connection_new` refuses),
/// so only the slot is cleared, and the optimiser drops their teardown
/// (a session's release, an auto-sync's stop) with the rest of the
/// online code.
///
/// # Safety
/// As `free_slot`.
#[inline(always)]
unsafe fn free_online<T>(slot: *mut *mut T) {
    if cfg!(feature = "online") {
        // SAFETY: the caller's contract.
        unsafe { free_slot(slot) }
    } else if !slot.is_null() {
        // SAFETY: `slot` is non-NULL and writable by the contract.
        unsafe { slot.write(std::ptr::null_mut()) }
    }
}

/// # Safety
/// `connection` is NULL or a live connection.
#[inline(always)]
unsafe fn conn<'a>(
    connection: *const tessera_connection,
) -> FfiResult<(&'a Arc<Connection>, Online)> {
    // SAFETY: the caller's contract.
    let c = unsafe { arg_ref(connection, "connection") }?;
    // The token travels with the connection, so that in the caller too the
    // success is a value that cannot exist without the online half.
    Ok((&c.inner, available()?))
}

/// # Safety
/// `handle` is NULL or a live handle.
unsafe fn handle_arc<'a>(
    handle: *const tessera_handle,
) -> FfiResult<&'a Arc<tessera::LicenseHandle>> {
    // SAFETY: the caller's contract.
    unsafe { arg_ref(handle, "handle") }.map(|h| &h.inner)
}

/// Runs a connection call that has no output.
///
/// # Safety
/// `connection` is NULL or a live connection.
unsafe fn on_connection(
    connection: *const tessera_connection,
    body: impl FnOnce(&Arc<Connection>) -> FfiResult,
) -> tessera_result {
    boundary(|| {
        // SAFETY: the caller's contract.
        let c = unsafe { conn(connection) }?.0;
        body(c)
    })
}

/// Activates the license with `license_key` on this device: the server
/// records the device and answers a license file bound to it, which is
/// verified and stored as `tessera_activate` stores a file. Blocks.
///
/// Returns `TESSERA_OK`; `TESSERA_ERR_NULL_POINTER`;
/// `TESSERA_ERR_NETWORK` when the server cannot be reached within the
/// deadline; `TESSERA_ERR_SERVER_REFUSED` with the server's code in the
/// last error message (`license_not_found`, `activation_limit`, ...);
/// `TESSERA_ERR_BAD_RESPONSE` for an answer that does not verify; the
/// activation errors of `tessera_activate`.
///
/// # Safety
/// `connection` is NULL or live; `license_key` is NULL or a
/// NUL-terminated string.
#[no_mangle]
pub unsafe extern "C" fn tessera_online_activate_key(
    connection: *const tessera_connection,
    license_key: *const c_char,
) -> tessera_result {
    // SAFETY: the function's contract.
    unsafe {
        on_connection(connection, |c| {
            // SAFETY: the function's contract.
            let key = arg_str(license_key, "license_key")?;
            c.activate(&Credential::LicenseKey(key.to_owned()))?;
            Ok(())
        })
    }
}

/// Activates the user's license `license_id` (one of
/// `tessera_online_user_licenses`) on this device with the user's
/// `username` and `password` (sent once, never stored). Blocks.
///
/// Returns as `tessera_online_activate_key`.
///
/// # Safety
/// `connection` is NULL or live; the strings are NULL or NUL-terminated.
#[no_mangle]
pub unsafe extern "C" fn tessera_online_activate_user(
    connection: *const tessera_connection,
    username: *const c_char,
    password: *const c_char,
    license_id: *const c_char,
) -> tessera_result {
    // SAFETY: the function's contract.
    unsafe {
        on_connection(connection, |c| {
            // SAFETY: the function's contract (each string).
            let (user, password, id) = (
                arg_str(username, "username")?,
                arg_str(password, "password")?,
                arg_str(license_id, "license_id")?,
            );
            c.activate(&Credential::User {
                username: user.to_owned(),
                password: Some(password.to_owned()),
                license_id: Some(id.to_owned()),
            })?;
            Ok(())
        })
    }
}

/// A user's licenses for this product, as a JSON array of objects with
/// `id`, `license_type`, `is_trial`, `times_activated` and the server's
/// other fields, into `(buf, buf_len)` with a size query as every string
/// output. Blocks; a size query asks the server too, so give a large
/// buffer (4 KiB per license is plenty) to ask once.
///
/// Returns `TESSERA_OK`; `TESSERA_ERR_NULL_POINTER`;
/// `TESSERA_ERR_BUFFER_TOO_SMALL`; the network errors of
/// `tessera_online_activate_key`; `TESSERA_ERR_SERVER_REFUSED` for a wrong
/// username or password.
///
/// # Safety
/// `connection` is NULL or live; the strings are NULL or NUL-terminated;
/// `buf` is NULL or points to `buf_len` writable bytes; `len_out` is NULL
/// or writable.
#[no_mangle]
pub unsafe extern "C" fn tessera_online_user_licenses(
    connection: *const tessera_connection,
    username: *const c_char,
    password: *const c_char,
    buf: *mut c_char,
    buf_len: usize,
    len_out: *mut usize,
) -> tessera_result {
    boundary(|| {
        Out::new(len_out, "len_out")?;
        // SAFETY: the function's contract (each pointer).
        let (c, user, password) = unsafe {
            (
                conn(connection)?.0,
                arg_str(username, "username")?,
                arg_str(password, "password")?,
            )
        };
        let list = c.user_licenses(user, password)?;
        // Each license's details are its JSON text, as the server sent it.
        let details: Vec<String> = list.into_iter().map(|l| l.details).collect();
        let json = format!("[{}]", details.join(","));
        // SAFETY: the function's contract covers `buf` and `len_out`.
        unsafe { write_string(&json, buf, buf_len, len_out) }
    })
}

/// A trial license key for this device (the same one when asked again),
/// into `(buf, buf_len)`; `email` may be NULL. Blocks. Activate it with
/// `tessera_online_activate_key`.
///
/// Returns as `tessera_online_user_licenses`.
///
/// # Safety
/// `connection` is NULL or live; `email` is NULL or NUL-terminated; `buf`
/// is NULL or points to `buf_len` writable bytes; `len_out` is NULL or
/// writable.
#[no_mangle]
pub unsafe extern "C" fn tessera_online_trial_key(
    connection: *const tessera_connection,
    email: *const c_char,
    buf: *mut c_char,
    buf_len: usize,
    len_out: *mut usize,
) -> tessera_result {
    boundary(|| {
        Out::new(len_out, "len_out")?;
        // SAFETY: the function's contract.
        let c = unsafe { conn(connection) }?.0;
        // SAFETY: the function's contract.
        let email = unsafe { arg_opt_str(email, "email") }?;
        let key = c.trial_key(email)?;
        // SAFETY: the function's contract covers `buf` and `len_out`.
        unsafe { write_string(&key, buf, buf_len, len_out) }
    })
}

/// The update check: the newest release of the product that this device's
/// license may install (its maintenance period decides), as a JSON object
/// (`version`, `channel`, `environment`, `release_date`,
/// `requires_version`, `installation_file`, `hash_md5`, `size`, `sha256`,
/// `manifest` (the vendor's signed release, which
/// `tessera_online_download_release` checks the file against),
/// `eula_link`, `release_notes_link`), or the text `null` when there is
/// none, into `(buf, buf_len)` with a size query as every string output.
/// `current_version` (the version installed now) and `channel` may be
/// NULL. Blocks; a size query asks the server too, so give a large buffer
/// (4 KiB is plenty) to ask once. Changes nothing.
///
/// Returns as `tessera_online_user_licenses`; `TESSERA_ERR_NOT_ACTIVATED`;
/// `TESSERA_ERR_SERVER_REFUSED` for a `current_version` that is not a
/// dotted number.
///
/// # Safety
/// `connection` is NULL or live; the strings are NULL or NUL-terminated;
/// `buf` is NULL or points to `buf_len` writable bytes; `len_out` is NULL
/// or writable.
#[no_mangle]
pub unsafe extern "C" fn tessera_online_latest_release(
    connection: *const tessera_connection,
    current_version: *const c_char,
    channel: *const c_char,
    buf: *mut c_char,
    buf_len: usize,
    len_out: *mut usize,
) -> tessera_result {
    boundary(|| {
        Out::new(len_out, "len_out")?;
        // SAFETY: the function's contract.
        let c = unsafe { conn(connection) }?.0;
        // SAFETY: the function's contract.
        let current = unsafe { arg_opt_str(current_version, "current_version") }?;
        // SAFETY: the function's contract.
        let channel = unsafe { arg_opt_str(channel, "channel") }?;
        // `null` when there is none.
        let json = serde_json::to_string(&c.latest_release(current, channel)?)
            .map_err(|e| Failure::invalid(format!("the release cannot be written: {e}")))?;
        // SAFETY: the function's contract covers `buf` and `len_out`.
        unsafe { write_string(&json, buf, buf_len, len_out) }
    })
}

/// The download helper: fetches the file of `release_json` (the JSON
/// object `tessera_online_latest_release` answered) into the folder `dir`
/// and writes the file's path (`dir/NAME`, NAME as the vendor signed it)
/// into `(buf, buf_len)` with a size query as every string output. The
/// file is kept only when its size and SHA-256 are the ones of the
/// vendor's signed release (`manifest`), which must verify against the
/// product's keyring and name this release; the download goes through the
/// configured proxy to `dir/.NAME.part` and resumes from it after a
/// broken or stalled transfer. A size query does not download twice: a
/// `NAME` already there that is the signed file is answered as it is.
/// Never runs the file. Blocks.
///
/// Returns `TESSERA_ERR_DOWNLOAD_REJECTED` for a file that is not the
/// signed one (deleted); `TESSERA_ERR_UNKNOWN_KEY_ID` or
/// `TESSERA_ERR_BAD_SIGNATURE` for a release the keyring does not vouch
/// for and `TESSERA_ERR_INVALID_PAYLOAD` for one without a signed release
/// or signed for another (nothing fetched); `TESSERA_ERR_NETWORK` for a
/// transfer that broke (the part is kept: call again to resume);
/// `TESSERA_ERR_SERVER_REFUSED` when the file's server answers an HTTP
/// error; `TESSERA_ERR_INVALID_ARGUMENT` for JSON that is not a release
/// or a folder that does not exist.
///
/// # Safety
/// `connection` is NULL or live; `release_json` and `dir` are NULL or
/// NUL-terminated; `buf` is NULL or points to `buf_len` writable bytes;
/// `len_out` is NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn tessera_online_download_release(
    connection: *const tessera_connection,
    release_json: *const c_char,
    dir: *const c_char,
    buf: *mut c_char,
    buf_len: usize,
    len_out: *mut usize,
) -> tessera_result {
    boundary(|| {
        Out::new(len_out, "len_out")?;
        // SAFETY: the function's contract.
        let c = unsafe { conn(connection) }?.0;
        // SAFETY: the function's contract.
        let json = unsafe { arg_str(release_json, "release_json") }?;
        // SAFETY: the function's contract.
        let dir = unsafe { arg_str(dir, "dir") }?;
        let release: tessera::online::Release = serde_json::from_str(json)
            .map_err(|_| Failure::invalid("release_json is not a release's JSON object"))?;
        let path = c.download_release(&release, std::path::Path::new(dir))?;
        let path = path
            .to_str()
            .ok_or_else(|| Failure::invalid("the file's path is not UTF-8"))?;
        // SAFETY: the function's contract covers `buf` and `len_out`.
        unsafe { write_string(path, buf, buf_len, len_out) }
    })
}

/// How a desktop sign-in's user signs in (`tessera_online_sign_in`).
#[allow(non_camel_case_types)]
#[repr(u32)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum tessera_grant {
    /// In a browser on this machine (authorization code with PKCE; the
    /// answer comes back to a one-shot listener on 127.0.0.1).
    TESSERA_GRANT_BROWSER = 0,
    /// On another device, with a code shown here (device authorization).
    TESSERA_GRANT_DEVICE = 1,
}

/// A desktop sign-in's "show this to the user", called on the calling
/// thread: for `TESSERA_GRANT_BROWSER`, `url` is the provider's page and
/// `user_code` is NULL: return nonzero when the product opened it itself,
/// 0 to let the SDK open the system browser. For `TESSERA_GRANT_DEVICE`,
/// `url` is where the user goes (with the code in it when the provider
/// gives one) and `user_code` the code to type there; the return value is
/// not read. The strings live until the call returns.
#[allow(non_camel_case_types)]
pub type tessera_sign_in_show = Option<
    unsafe extern "C" fn(
        user_data: *mut c_void,
        url: *const c_char,
        user_code: *const c_char,
    ) -> i32,
>;

/// Asked about twenty times a second while a sign-in waits, on the
/// calling thread: nonzero cancels it (`TESSERA_ERR_CANCELLED`).
#[allow(non_camel_case_types)]
pub type tessera_cancel_callback = Option<unsafe extern "C" fn(user_data: *mut c_void) -> i32>;

/// The sign-in's callbacks and their user data.
#[derive(Clone, Copy)]
struct SignInCallbacks {
    show: tessera_sign_in_show,
    cancel: tessera_cancel_callback,
    user_data: *mut c_void,
}

// SAFETY: the SDK calls them only on the thread that called
// `tessera_online_sign_in`, during the call (the Rust closures must be
// Send + Sync, but are never moved to another thread).
unsafe impl Send for SignInCallbacks {}
// SAFETY: as above.
unsafe impl Sync for SignInCallbacks {}

impl SignInCallbacks {
    fn show(&self, url: &str, user_code: Option<&str>) -> bool {
        let Some(f) = self.show else {
            return false;
        };
        let url = CString::new(url.replace('\0', "")).unwrap_or_default();
        let code = user_code.map(|c| CString::new(c.replace('\0', "")).unwrap_or_default());
        let code_ptr = code.as_ref().map_or(std::ptr::null(), |c| c.as_ptr());
        // SAFETY: the caller's function, with its user data and strings
        // that live until it returns.
        unsafe { f(self.user_data, url.as_ptr(), code_ptr) != 0 }
    }

    fn cancelled(&self) -> bool {
        // SAFETY: the caller's function, with its user data.
        self.cancel
            .is_some_and(|f| unsafe { f(self.user_data) } != 0)
    }
}

/// Signs the user in through the customer account's identity provider
/// and activates the user's license on this device (docs/SIGN-IN.md).
/// `who` is the user's e-mail address (its domain finds the account) or
/// the account's code; the provider's settings come from the server.
/// `license_id` (NULL: the user's only license of this product) names
/// one of several. `show` opens the browser's page or shows the device
/// code (see `tessera_sign_in_show`; NULL: the SDK opens the system
/// browser, and a device sign-in is refused); `cancelled` (may be NULL)
/// stops the sign-in. Nothing of the provider's tokens is kept. Blocks
/// until the user signed in, declined or cancelled, or the wait (5
/// minutes for a browser, the code's life for a device) ran out.
///
/// Returns `TESSERA_OK`; `TESSERA_ERR_SIGN_IN_FAILED` (declined, a code
/// replayed or its verifier wrong, an expired device code, a browser
/// answer not for this sign-in: the last error says which);
/// `TESSERA_ERR_CANCELLED`; `TESSERA_ERR_IO` (the listening port is
/// taken); `TESSERA_ERR_SERVER_REFUSED` (no provider for `who`, or the
/// server refused the token); `TESSERA_ERR_INVALID_ARGUMENT` for a grant
/// that is not one or the account does not offer. Nothing is activated
/// on failure.
///
/// # Safety
/// `connection` is NULL or live; `who` and `license_id` are NULL or
/// NUL-terminated; the callbacks are NULL or callable with `user_data`
/// on this thread during the call.
#[no_mangle]
pub unsafe extern "C" fn tessera_online_sign_in(
    connection: *const tessera_connection,
    who: *const c_char,
    grant: u32,
    license_id: *const c_char,
    show: tessera_sign_in_show,
    cancelled: tessera_cancel_callback,
    user_data: *mut c_void,
) -> tessera_result {
    boundary(|| {
        // SAFETY: the function's contract.
        let c = unsafe { conn(connection) }?.0;
        // SAFETY: the function's contract.
        let who = unsafe { arg_str(who, "who") }?;
        // SAFETY: the function's contract.
        let license_id = unsafe { arg_opt_str(license_id, "license_id") }?;
        let calls = SignInCallbacks {
            show,
            cancel: cancelled,
            user_data,
        };
        let mut how = match grant {
            g if g == tessera_grant::TESSERA_GRANT_BROWSER as u32 => {
                tessera::online::SignIn::browser().open_url(move |url| calls.show(url, None))
            }
            g if g == tessera_grant::TESSERA_GRANT_DEVICE as u32 => {
                if show.is_none() {
                    return Err(Failure::invalid(
                        "a device sign-in needs `show`, to show the user the code",
                    ));
                }
                tessera::online::SignIn::device().show_code(move |code| {
                    let url = code
                        .verification_uri_complete
                        .as_deref()
                        .unwrap_or(&code.verification_uri);
                    calls.show(url, Some(&code.user_code));
                })
            }
            _ => return Err(Failure::invalid("grant is not a tessera_grant")),
        };
        if cancelled.is_some() {
            how = how.cancel_if(move || calls.cancelled());
        }
        if let Some(id) = license_id {
            how = how.license_id(id);
        }
        c.sign_in(who, &how)?;
        Ok(())
    })
}

/// Checks in: the server's fresh license file (new check-in expiry, the
/// vendor's changes) replaces the stored one, even when it makes the
/// license unusable. Open handles see it after `tessera_online_sync` or
/// a reopen. Blocks.
///
/// Returns as `tessera_online_activate_key`; `TESSERA_ERR_NOT_ACTIVATED`.
///
/// # Safety
/// `connection` is NULL or live.
#[no_mangle]
pub unsafe extern "C" fn tessera_online_check_in(
    connection: *const tessera_connection,
) -> tessera_result {
    // SAFETY: the function's contract.
    unsafe { on_connection(connection, |c| Ok(c.check_in().map(drop)?)) }
}

/// What the check-in timer runs: uploads the consumption not yet
/// acknowledged, checks in, and switches `handle` in place to the fresh
/// file, its lease and counters included (every thread sees the new
/// license from then on). Offline it fails with `TESSERA_ERR_NETWORK`
/// and the handle keeps working until the check-in expiry plus grace.
/// Blocks.
///
/// Returns as `tessera_online_check_in`.
///
/// # Safety
/// `connection` and `handle` are NULL or live.
#[no_mangle]
pub unsafe extern "C" fn tessera_online_sync(
    connection: *const tessera_connection,
    handle: *const tessera_handle,
) -> tessera_result {
    boundary(|| {
        // SAFETY: the function's contract.
        let (c, h) = unsafe { (conn(connection)?.0, handle_arc(handle)?) };
        Ok(c.sync(h)?)
    })
}

/// Frees this device's slot on the server, then removes the activation
/// here. Nothing changes here when the server cannot be reached. Blocks.
///
/// Returns as `tessera_online_check_in`.
///
/// # Safety
/// `connection` is NULL or live.
#[no_mangle]
pub unsafe extern "C" fn tessera_online_deactivate(
    connection: *const tessera_connection,
) -> tessera_result {
    // SAFETY: the function's contract.
    unsafe { on_connection(connection, |c| Ok(c.deactivate()?)) }
}

/// Runs a call that installs a lease in `handle` and reports it.
///
/// # Safety
/// `connection` and `handle` are NULL or live; `lease_out` NULL or writable.
unsafe fn leasing(
    connection: *const tessera_connection,
    handle: *const tessera_handle,
    lease_out: *mut tessera_lease_info,
    call: impl FnOnce(
        &Connection,
        &tessera::LicenseHandle,
    ) -> tessera::Result<tessera::runtime::handle::LeaseStatus>,
) -> tessera_result {
    let run = || {
        // SAFETY: the caller's contract.
        let (c, h) = unsafe { (conn(connection)?.0, handle_arc(handle)?) };
        Ok((&call(c, h)?).into())
    };
    // SAFETY: the caller's contract covers `lease_out`.
    unsafe { returning(lease_out, "lease_out", run) }
}

/// Takes a floating seat: a lease of the license's `floating_timeout`,
/// installed in `handle` and described in `*lease_out`. Keep it with
/// `tessera_online_heartbeat`, or let a `tessera_session` do it. Blocks.
///
/// Returns as `tessera_online_check_in`; `TESSERA_ERR_SERVER_REFUSED`
/// (`no_seats`) when every seat is taken.
///
/// # Safety
/// `connection` and `handle` are NULL or live; `lease_out` is NULL or
/// writable.
#[no_mangle]
pub unsafe extern "C" fn tessera_online_register(
    connection: *const tessera_connection,
    handle: *const tessera_handle,
    lease_out: *mut tessera_lease_info,
) -> tessera_result {
    // SAFETY: the function's contract.
    unsafe { leasing(connection, handle, lease_out, |c, h| c.register(h)) }
}

/// Renews the floating seat (a lapsed one is taken again if a seat is
/// free). Blocks.
///
/// Returns as `tessera_online_register`.
///
/// # Safety
/// As `tessera_online_register`.
#[no_mangle]
pub unsafe extern "C" fn tessera_online_heartbeat(
    connection: *const tessera_connection,
    handle: *const tessera_handle,
    lease_out: *mut tessera_lease_info,
) -> tessera_result {
    // SAFETY: the function's contract.
    unsafe { leasing(connection, handle, lease_out, |c, h| c.heartbeat(h)) }
}

/// Gives the floating seat back. Blocks.
///
/// Returns as `tessera_online_check_in`.
///
/// # Safety
/// `connection` is NULL or live.
#[no_mangle]
pub unsafe extern "C" fn tessera_online_release(
    connection: *const tessera_connection,
) -> tessera_result {
    // SAFETY: the function's contract.
    unsafe { on_connection(connection, |c| Ok(c.release()?)) }
}

/// Borrows a seat for `hours` (at most the license's `max_borrow_time`):
/// the lease is installed in `handle` and survives restarts, for use
/// offline. Blocks.
///
/// Returns as `tessera_online_register`; `TESSERA_ERR_INVALID_ARGUMENT`
/// for 0 hours.
///
/// # Safety
/// As `tessera_online_register`.
#[no_mangle]
pub unsafe extern "C" fn tessera_online_borrow(
    connection: *const tessera_connection,
    handle: *const tessera_handle,
    hours: u32,
    lease_out: *mut tessera_lease_info,
) -> tessera_result {
    if hours == 0 {
        return boundary(|| Err(Failure::invalid("a borrow lasts at least one hour")));
    }
    // SAFETY: the function's contract.
    unsafe { leasing(connection, handle, lease_out, |c, h| c.borrow(h, hours)) }
}

/// Returns a borrowed seat early: to the server, then here. Blocks. The
/// server keeps the seat counted until the borrow would have ended (a
/// returned borrow could be restored from a copy of the device's state and
/// used offline to its end); support's device removal frees it at once.
///
/// Returns as `tessera_online_check_in`; `TESSERA_ERR_INVALID_ARGUMENT`
/// when no borrowed seat is held.
///
/// # Safety
/// `connection` and `handle` are NULL or live.
#[no_mangle]
pub unsafe extern "C" fn tessera_online_return_borrow(
    connection: *const tessera_connection,
    handle: *const tessera_handle,
) -> tessera_result {
    boundary(|| {
        // SAFETY: the function's contract.
        let (c, h) = unsafe { (conn(connection)?.0, handle_arc(handle)?) };
        if !matches!(h.lease()?, Some(l) if l.kind == tessera::format::lease::LeaseKind::Borrow) {
            return Err(Failure::invalid("no borrowed seat to return"));
        }
        Ok(c.return_borrow(h)?)
    })
}

/// Uploads the consumption the server has not acknowledged, oldest first,
/// and records what it kept. The server keeps each journal record once,
/// so a retry, a duplicate or an upload cut off before its answer never
/// counts twice. Blocks.
///
/// Returns as `tessera_online_check_in`; `TESSERA_ERR_SERVER_REFUSED`
/// (`consumption_limit`) when the server's total would pass the limit.
///
/// # Safety
/// `connection` and `handle` are NULL or live; `upload_out` is NULL or
/// writable.
#[no_mangle]
pub unsafe extern "C" fn tessera_online_upload_consumption(
    connection: *const tessera_connection,
    handle: *const tessera_handle,
    upload_out: *mut tessera_upload,
) -> tessera_result {
    let run = || {
        // SAFETY: the function's contract.
        let (c, h) = unsafe { (conn(connection)?.0, handle_arc(handle)?) };
        let up = c.upload_consumption(h)?;
        Ok(tessera_upload {
            sent: u64::try_from(up.sent).unwrap_or(u64::MAX),
            accepted: up.new,
            acknowledged: up.acknowledged,
        })
    };
    // SAFETY: the function's contract covers `upload_out`.
    unsafe { returning(upload_out, "upload_out", run) }
}

/// Takes a floating seat and keeps it from a heartbeat thread of its own,
/// every `interval_secs` (keep it well under the license's
/// `floating_timeout`; 0: a third of it). Blocks for the registration.
///
/// Returns as `tessera_online_register`.
///
/// # Safety
/// `connection` and `handle` are NULL or live (the session keeps what it
/// needs of both); `session_out` is NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn tessera_session_open(
    connection: *const tessera_connection,
    handle: *const tessera_handle,
    interval_secs: u32,
    session_out: *mut *mut tessera_session,
) -> tessera_result {
    let run = || {
        // SAFETY: the function's contract.
        let (c, h) = unsafe { (conn(connection)?.0, handle_arc(handle)?) };
        let minutes = u64::from(h.license().floating_timeout.max(1));
        let interval = secs(interval_secs, Duration::from_secs(minutes * 60 / 3));
        let session = FloatingSession::open(Arc::clone(c), Arc::clone(h), interval)?;
        Ok(into_raw(tessera_session {
            inner: Some(session),
        }))
    };
    // SAFETY: the function's contract covers `session_out`.
    unsafe { returning(session_out, "session_out", run) }
}

/// Heart-beats now (after a resume from sleep, say). Blocks.
///
/// Returns as `tessera_online_register`; `TESSERA_ERR_INVALID_ARGUMENT`
/// for a closed session.
///
/// # Safety
/// `session` is NULL or live; `lease_out` is NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn tessera_session_beat(
    session: *const tessera_session,
    lease_out: *mut tessera_lease_info,
) -> tessera_result {
    let run = || {
        // SAFETY: the function's contract.
        let s = unsafe { arg_ref(session, "session") }?;
        available()?;
        let s = s
            .inner
            .as_ref()
            .ok_or_else(|| Failure::invalid("the session is closed"))?;
        Ok((&s.beat()?).into())
    };
    // SAFETY: the function's contract covers `lease_out`.
    unsafe { returning(lease_out, "lease_out", run) }
}

/// Stops the heartbeat thread, gives the seat back, frees `*session` and
/// sets it to NULL, whatever the result. Blocks for the release.
///
/// Returns `TESSERA_OK`; `TESSERA_ERR_NULL_POINTER` when `session` or
/// `*session` is NULL; the network errors (the seat then comes free at
/// its timeout).
///
/// # Safety
/// `session` is NULL or points to NULL or a session from
/// `tessera_session_open`; every other call on it has returned.
#[no_mangle]
pub unsafe extern "C" fn tessera_session_close(
    session: *mut *mut tessera_session,
) -> tessera_result {
    boundary(|| {
        // SAFETY: the function's contract.
        let slot = unsafe { arg_mut(session, "session") }?;
        if slot.is_null() {
            return Err(Failure::new(
                tessera::Code::NullPointer,
                "`*session` is NULL",
            ));
        }
        available()?;
        let ptr = std::mem::replace(slot, std::ptr::null_mut());
        // SAFETY: `ptr` came from `into_raw` in `tessera_session_open` and
        // the slot no longer holds it: freed here once.
        let mut owned = unsafe { Box::from_raw(ptr) };
        match owned.inner.take() {
            Some(s) => Ok(s.close()?),
            None => Ok(()),
        }
    })
}

/// Frees `*session` without waiting for a release: the heartbeat stops
/// and one short attempt (at most 2 s) gives the seat back. NULL is
/// accepted and ignored.
///
/// # Safety
/// As `tessera_session_close`.
#[no_mangle]
pub unsafe extern "C" fn tessera_session_free(session: *mut *mut tessera_session) {
    // SAFETY: the function's contract.
    infallible((), || unsafe { free_online(session) })
}

/// Starts keeping `handle` in sync from a background thread: at once, then
/// on the check-in timer, it uploads pending consumption, checks in and
/// switches the handle in place to the fresh file; it takes and renews a
/// floating seat; offline it retries with doubling waits; it calls
/// `options->on_change` on every status change. `options` may be NULL
/// (every default, no callback).
///
/// Returns `TESSERA_OK`; `TESSERA_ERR_NULL_POINTER`.
///
/// # Safety
/// `connection` and `handle` are NULL or live (the auto-sync keeps what it
/// needs of both); `options` is NULL or readable, and its `user_data` may
/// be used from another thread until the auto-sync is stopped;
/// `auto_sync_out` is NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn tessera_auto_sync_start(
    connection: *const tessera_connection,
    handle: *const tessera_handle,
    options: *const tessera_auto_sync_options,
    auto_sync_out: *mut *mut tessera_auto_sync,
) -> tessera_result {
    let run = || {
        // SAFETY: the function's contract.
        let (c, h) = unsafe { (conn(connection)?.0, handle_arc(handle)?) };
        // SAFETY: the function's contract: NULL or readable.
        let given = unsafe { options.as_ref() }.copied();
        let mut o = AutoSyncOptions::default();
        if let Some(g) = given {
            o.interval = secs(g.interval_secs, o.interval);
            o.heartbeat = (g.heartbeat_secs > 0).then(|| secs(g.heartbeat_secs, o.interval));
            o.keep_seat = !g.no_seat;
            o.retry = secs(g.retry_secs, o.retry);
            o.watch = secs(g.watch_secs, o.watch);
            if g.stop_timeout_ms > 0 {
                o.stop_timeout = Duration::from_millis(u64::from(g.stop_timeout_ms));
            }
            if let Some(function) = g.on_change {
                let callback = Callback {
                    function,
                    user_data: g.user_data,
                };
                o.on_change = Some(Box::new(move |change| callback.call(change)));
            }
        }
        let auto = AutoSync::start(Arc::clone(c), Arc::clone(h), o)?;
        Ok(into_raw(tessera_auto_sync { inner: Some(auto) }))
    };
    // SAFETY: the function's contract covers `auto_sync_out`.
    unsafe { returning(auto_sync_out, "auto_sync_out", run) }
}

/// Asks the auto-sync to sync now, without waiting for it.
///
/// Returns `TESSERA_OK`; `TESSERA_ERR_NULL_POINTER`.
///
/// # Safety
/// `auto_sync` is NULL or live.
#[no_mangle]
pub unsafe extern "C" fn tessera_auto_sync_now(
    auto_sync: *const tessera_auto_sync,
) -> tessera_result {
    boundary(|| {
        // SAFETY: the function's contract.
        let a = unsafe { arg_ref(auto_sync, "auto_sync") }?;
        available()?;
        if let Some(a) = &a.inner {
            a.sync_now();
        }
        Ok(())
    })
}

/// How many syncs succeeded (`*syncs_out`) and failed (`*failures_out`)
/// so far (heartbeats of the seat included), and the code of the last
/// failure not yet reported (`*last_failure_out`, `TESSERA_OK` when none
/// since the last call). The failures' messages go to the log.
///
/// Returns `TESSERA_OK`; `TESSERA_ERR_NULL_POINTER`.
///
/// # Safety
/// `auto_sync` is NULL or live; the out-pointers are NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn tessera_auto_sync_record(
    auto_sync: *const tessera_auto_sync,
    syncs_out: *mut u64,
    failures_out: *mut u64,
    last_failure_out: *mut tessera_result,
) -> tessera_result {
    boundary(|| {
        let (syncs_out, failures_out, last_out) = (
            Out::new(syncs_out, "syncs_out")?,
            Out::new(failures_out, "failures_out")?,
            Out::new(last_failure_out, "last_failure_out")?,
        );
        // SAFETY: the function's contract.
        let a = unsafe { arg_ref(auto_sync, "auto_sync") }?;
        available()?;
        let (syncs, failures, last) = match &a.inner {
            Some(a) => a.last_sync(),
            None => (0, 0, None),
        };
        // SAFETY: all three checked writable by the contract.
        unsafe {
            syncs_out.write(syncs);
            failures_out.write(failures);
            last_out.write(last.map_or(tessera::Code::Ok, |e| e.code()));
        }
        Ok(())
    })
}

/// Stops the auto-sync, frees `*auto_sync` and sets it to NULL: waits for
/// a callback in progress (none is made after this returns, so its
/// `user_data` may be freed then), then at most its `stop_timeout_ms` for
/// the thread and a floating seat's release. NULL is accepted and ignored.
/// Never call it from the auto-sync's callback.
///
/// # Safety
/// `auto_sync` is NULL or points to NULL or an auto-sync from
/// `tessera_auto_sync_start`; every other call on it has returned.
#[no_mangle]
pub unsafe extern "C" fn tessera_auto_sync_stop(auto_sync: *mut *mut tessera_auto_sync) {
    // SAFETY: the function's contract.
    infallible((), || unsafe { free_online(auto_sync) })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::tessera_config_new;
    use tessera::Code;

    /// Arguments are checked first in every build; then a build without
    /// the online half refuses to make a connection (so nothing behind one
    /// can run), and one with it makes one without touching the network.
    #[test]
    fn a_connection_exists_only_with_the_online_half() {
        let mut config = std::ptr::null_mut();
        let mut server = std::ptr::null_mut();
        let key = [7_u8; 32];
        // SAFETY: NUL-terminated strings, live outputs; everything is freed below.
        unsafe {
            assert_eq!(tessera_config_new(c"acme".as_ptr(), &mut config), Code::Ok);
            assert_eq!(
                tessera_server_new(
                    c"https://127.0.0.1:9".as_ptr(),
                    key.as_ptr(),
                    key.len(),
                    &mut server
                ),
                Code::Ok
            );
            assert_eq!(
                tessera_connection_new(config, server, std::ptr::null_mut()),
                Code::NullPointer
            );
            assert_eq!(tessera_online_check_in(std::ptr::null()), Code::NullPointer);

            let mut connection = std::ptr::null_mut();
            let made = tessera_connection_new(config, server, &mut connection);
            if cfg!(feature = "online") {
                assert_eq!(made, Code::Ok);
                assert!(!connection.is_null());
            } else {
                assert_eq!(made, Code::Unsupported);
                assert!(connection.is_null());
            }
            tessera_connection_free(&mut connection);
            assert!(connection.is_null());
            // Freeing what was never made is a no-op in both builds.
            let mut session: *mut tessera_session = std::ptr::null_mut();
            tessera_session_free(&mut session);
            tessera_session_free(std::ptr::null_mut());
            tessera_server_free(&mut server);
            crate::config::tessera_config_free(&mut config);
        }
    }
}
