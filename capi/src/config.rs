//! `tessera_config`: what a product configures once (product code, trusted
//! keys, where state lives, how devices are matched).

use std::ffi::c_char;
use std::sync::Arc;

use std::time::Duration;

use tessera::Time;

use crate::{
    arg_bytes, arg_mut, arg_str, boundary, free_slot, infallible, into_raw, tessera_result,
};
use crate::{returning, Failure};
use tessera::device::sources::TreeSource;
use tessera::format::fingerprint::MatchPolicy;
use tessera::format::keys::{Keyring, PublicKey};
use tessera::LocalConfig;

/// A product's configuration: product code, trusted public keys, the
/// state directory, the device match policy.
///
/// Create it with `tessera_config_new`, set it up, then pass it (read only)
/// to `tessera_activate` and `tessera_handle_open`, which copy what they
/// need: the configuration may be freed right after.
///
/// Thread safety: the setters need exclusive access; functions that take a
/// `const tessera_config *` may run on one configuration from several
/// threads at once, as long as no setter runs at the same time.
#[allow(non_camel_case_types)]
pub struct tessera_config {
    pub(crate) inner: LocalConfig,
}

/// How a stored device fingerprint is compared with this device's
/// (`tessera_config_set_match_policy`).
#[allow(non_camel_case_types)]
#[repr(u32)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum tessera_match_policy {
    /// Every component must be the same.
    TESSERA_MATCH_EXACT = 0,
    /// At most `max_changed` components changed and at least
    /// `min_matching` still the same (the default is 1 and 2).
    TESSERA_MATCH_FUZZY = 1,
}

/// Creates a configuration for `product` (the product's short code) with
/// the defaults: no trusted key yet, the platform's data directory for
/// state, the system clock, this machine's device facts, the fuzzy match
/// policy tolerating one change, a one-hour clock tolerance.
///
/// Ownership: on success `*config_out` owns a new configuration; free it
/// with `tessera_config_free`. Nothing is written on failure.
///
/// Returns `TESSERA_OK`; `TESSERA_ERR_NULL_POINTER` when `product` or
/// `config_out` is NULL; `TESSERA_ERR_INVALID_UTF8`;
/// `TESSERA_ERR_INVALID_ARGUMENT` when `product` is empty.
///
/// # Safety
/// `product` is NULL or a NUL-terminated string; `config_out` is NULL or
/// writable.
#[no_mangle]
pub unsafe extern "C" fn tessera_config_new(
    product: *const c_char,
    config_out: *mut *mut tessera_config,
) -> tessera_result {
    let run = || {
        // SAFETY: the function's contract.
        let product = unsafe { arg_str(product, "product") }?;
        if product.trim().is_empty() {
            return Err(Failure::invalid("the product code is empty"));
        }
        let config = tessera_config {
            inner: LocalConfig::new(product, Keyring::new()),
        };
        Ok(into_raw(config))
    };
    // SAFETY: the function's contract covers `config_out`.
    unsafe { returning(config_out, "config_out", run) }
}

/// Frees the configuration `*config` and sets `*config` to NULL, so a
/// second call with the same variable does nothing. `config` NULL or
/// `*config` NULL is accepted and ignored. Handles opened from the
/// configuration stay valid.
///
/// # Safety
/// `config` is NULL or points to a variable holding NULL or a
/// configuration from `tessera_config_new`; no other thread uses it.
#[no_mangle]
pub unsafe extern "C" fn tessera_config_free(config: *mut *mut tessera_config) {
    // SAFETY: the function's contract.
    infallible((), || unsafe { free_slot(config) })
}

/// Adds a trusted public key of the vendor, as PEM
/// (`-----BEGIN PUBLIC KEY-----`) or as the 44-character base64 of its 32
/// bytes. Several keys may be added (key rotation); each file names the
/// key that signed it.
///
/// Returns `TESSERA_OK`; `TESSERA_ERR_NULL_POINTER`;
/// `TESSERA_ERR_INVALID_UTF8`; `TESSERA_ERR_INVALID_KEY` when the text is
/// not an Ed25519 public key (the configuration is unchanged).
///
/// # Safety
/// `config` is NULL or a live configuration not used by another thread
/// during the call; `key` is NULL or a NUL-terminated string.
#[no_mangle]
pub unsafe extern "C" fn tessera_config_add_public_key(
    config: *mut tessera_config,
    key: *const c_char,
) -> tessera_result {
    boundary(|| {
        // SAFETY: the function's contract.
        let config = unsafe { arg_mut(config, "config") }?;
        // SAFETY: the function's contract.
        let key = PublicKey::parse(unsafe { arg_str(key, "key") }?)?;
        config.inner.keyring.add(key);
        Ok(())
    })
}

/// Trusts a Keygen account's Ed25519 verify key (its 64 hex digits, as
/// Keygen shows it; PEM and base64 are read too) for the license and machine
/// files of the Keygen product `keygen_product` (its id), which become
/// licenses of this configuration's product (docs/MIGRATING.md). Keygen keys
/// verify only Keygen files, never Tessera's own.
///
/// Returns `TESSERA_OK`; `TESSERA_ERR_NULL_POINTER`;
/// `TESSERA_ERR_INVALID_UTF8`; `TESSERA_ERR_INVALID_ARGUMENT` when
/// `keygen_product` is empty; `TESSERA_ERR_INVALID_KEY` (the configuration
/// is unchanged on every error); `TESSERA_ERR_UNSUPPORTED` from a library
/// built without Keygen support (the `keygen` feature, on by default).
///
/// # Safety
/// As for `tessera_config_add_public_key`, and `keygen_product` is NULL
/// or a NUL-terminated string.
#[no_mangle]
pub unsafe extern "C" fn tessera_config_add_keygen_key(
    config: *mut tessera_config,
    key: *const c_char,
    keygen_product: *const c_char,
) -> tessera_result {
    boundary(|| {
        // SAFETY: the function's contract.
        let config = unsafe { arg_mut(config, "config") }?;
        // SAFETY: the function's contract.
        let key = unsafe { arg_str(key, "key") }?;
        // SAFETY: the function's contract.
        let keygen_product = unsafe { arg_str(keygen_product, "keygen_product") }?;
        if keygen_product.is_empty() {
            return Err(tessera::Error::InvalidArgument("keygen_product is empty").into());
        }
        add_keygen_key(&mut config.inner, key, keygen_product)
    })
}

#[cfg(feature = "keygen")]
fn add_keygen_key(
    config: &mut LocalConfig,
    key: &str,
    keygen_product: &str,
) -> Result<(), Failure> {
    let key = PublicKey::parse(key)?;
    let product = config.product.clone();
    config.keyring.add_keygen(key, keygen_product, product);
    Ok(())
}

#[cfg(not(feature = "keygen"))]
fn add_keygen_key(
    _config: &mut LocalConfig,
    _key: &str,
    _keygen_product: &str,
) -> Result<(), Failure> {
    Err(tessera::Error::Unsupported("this library was built without Keygen support").into())
}

/// Sets the directory that holds this product's state (activation, clock,
/// counters, leases). It is created, private to the user, when first
/// written. By default it is the platform's data directory.
///
/// Returns `TESSERA_OK`; `TESSERA_ERR_NULL_POINTER`;
/// `TESSERA_ERR_INVALID_UTF8`; `TESSERA_ERR_INVALID_ARGUMENT` when `dir`
/// is empty.
///
/// # Safety
/// As for `tessera_config_add_public_key`, with `dir` for `key`.
#[no_mangle]
pub unsafe extern "C" fn tessera_config_set_store_dir(
    config: *mut tessera_config,
    dir: *const c_char,
) -> tessera_result {
    boundary(|| {
        // SAFETY: the function's contract.
        let config = unsafe { arg_mut(config, "config") }?;
        // SAFETY: the function's contract.
        let dir = unsafe { arg_str(dir, "dir") }?;
        if dir.is_empty() {
            return Err(Failure::invalid("the store directory is empty"));
        }
        config.inner.store_dir = Some(dir.into());
        Ok(())
    })
}

/// Sets a vendor secret mixed into the fingerprint salt and the state
/// file's key, so another product's files cannot be moved over. The bytes
/// are copied. `(secret, 0)` sets the empty secret whatever `secret` is.
/// Opening the local state needs at least `TESSERA_MIN_SECRET_LEN` bytes.
///
/// Returns `TESSERA_OK`; `TESSERA_ERR_NULL_POINTER` when `config` is NULL,
/// or `secret` is NULL with a length above zero.
///
/// # Safety
/// `config` as for `tessera_config_add_public_key`; `secret` is NULL or
/// points to `secret_len` readable bytes.
#[no_mangle]
pub unsafe extern "C" fn tessera_config_set_secret(
    config: *mut tessera_config,
    secret: *const u8,
    secret_len: usize,
) -> tessera_result {
    boundary(|| {
        // SAFETY: the function's contract.
        let config = unsafe { arg_mut(config, "config") }?;
        // SAFETY: the function's contract.
        let secret = unsafe { arg_bytes(secret, secret_len, "secret") }?;
        config.inner.secret = secret.to_vec();
        Ok(())
    })
}

/// Uses a vendor-supplied device id instead of collected device facts
/// (containers, cloud instances); stored fingerprints must then match it
/// exactly.
///
/// Returns `TESSERA_OK`; `TESSERA_ERR_NULL_POINTER`;
/// `TESSERA_ERR_INVALID_UTF8`; `TESSERA_ERR_INVALID_ARGUMENT` when the id
/// is empty or only whitespace.
///
/// # Safety
/// As for `tessera_config_add_public_key`, with `device_id` for `key`.
#[no_mangle]
pub unsafe extern "C" fn tessera_config_set_custom_device_id(
    config: *mut tessera_config,
    device_id: *const c_char,
) -> tessera_result {
    boundary(|| {
        // SAFETY: the function's contract.
        let config = unsafe { arg_mut(config, "config") }?;
        // SAFETY: the function's contract.
        let id = unsafe { arg_str(device_id, "device_id") }?;
        if id.trim().is_empty() {
            return Err(Failure::invalid("the custom device id is empty"));
        }
        config.inner.custom_device_id = Some(id.to_owned());
        Ok(())
    })
}

/// Sets how a stored fingerprint is compared with this device's: `policy`
/// is a `tessera_match_policy` value. For `TESSERA_MATCH_FUZZY`, at most
/// `max_changed` components may differ and at least `min_matching` must
/// still match; both are ignored for `TESSERA_MATCH_EXACT`.
///
/// Returns `TESSERA_OK`; `TESSERA_ERR_NULL_POINTER`;
/// `TESSERA_ERR_INVALID_ARGUMENT` for an unknown policy or a fuzzy policy
/// with `min_matching` zero (which would match any device).
///
/// # Safety
/// `config` as for `tessera_config_add_public_key`.
#[no_mangle]
pub unsafe extern "C" fn tessera_config_set_match_policy(
    config: *mut tessera_config,
    policy: u32,
    max_changed: u32,
    min_matching: u32,
) -> tessera_result {
    boundary(|| {
        // SAFETY: the function's contract.
        let config = unsafe { arg_mut(config, "config") }?;
        let policy = match policy {
            p if p == tessera_match_policy::TESSERA_MATCH_EXACT as u32 => MatchPolicy::Exact,
            p if p == tessera_match_policy::TESSERA_MATCH_FUZZY as u32 => {
                if min_matching == 0 {
                    return Err(Failure::invalid(
                        "min_matching is zero: any device would match",
                    ));
                }
                MatchPolicy::Fuzzy {
                    max_changed: max_changed as usize,
                    min_matching: min_matching as usize,
                }
            }
            _ => return Err(Failure::invalid(format!("unknown match policy {policy}"))),
        };
        config.inner.match_policy = policy;
        Ok(())
    })
}

/// Sets how many seconds the clock may go back before it counts as
/// tampering (default 3600, so time zone and NTP steps pass). At most a
/// day: a larger tolerance is a larger window to set the clock back in.
///
/// Returns `TESSERA_OK`; `TESSERA_ERR_NULL_POINTER`;
/// `TESSERA_ERR_INVALID_ARGUMENT` when `seconds` is negative or above
/// 86400 (one day).
///
/// # Safety
/// `config` as for `tessera_config_add_public_key`.
#[no_mangle]
pub unsafe extern "C" fn tessera_config_set_clock_tolerance(
    config: *mut tessera_config,
    seconds: i64,
) -> tessera_result {
    boundary(|| {
        // SAFETY: the function's contract.
        let config = unsafe { arg_mut(config, "config") }?;
        if !(0..=86_400).contains(&seconds) {
            return Err(Failure::invalid(
                "the clock tolerance must be between 0 seconds and one day",
            ));
        }
        config.inner.clock_tolerance = Duration::from_secs(seconds.unsigned_abs());
        Ok(())
    })
}

/// Test hook: freezes the SDK's clock at `unix_seconds` (seconds since
/// 1970-01-01 UTC) for everything opened from this configuration. Only in
/// a library built with the `testing` feature (the SDK's own suites,
/// support tools that replay a situation); a product's library answers
/// `TESSERA_ERR_UNSUPPORTED`, so a shim cannot turn its clock. A fixed
/// time never raises the clock mark kept in the state.
///
/// Returns `TESSERA_OK`; `TESSERA_ERR_NULL_POINTER`;
/// `TESSERA_ERR_INVALID_ARGUMENT` for a time outside years 1970 to 9999;
/// `TESSERA_ERR_UNSUPPORTED` without the `testing` feature.
///
/// # Safety
/// `config` as for `tessera_config_add_public_key`.
#[no_mangle]
pub unsafe extern "C" fn tessera_config_set_fixed_time(
    config: *mut tessera_config,
    unix_seconds: i64,
) -> tessera_result {
    boundary(|| {
        // SAFETY: the function's contract.
        let config = unsafe { arg_mut(config, "config") }?;
        let at = time_from_unix(unix_seconds)?;
        testing_only()?;
        config.inner.clock = Arc::new(FixedClock(at));
        Ok(())
    })
}

/// Test hook: reads device facts (for the fingerprint and VM detection)
/// under `root` instead of `/`: a mounted image or a support bundle. Only
/// in a library built with the `testing` feature; a product's library
/// answers `TESSERA_ERR_UNSUPPORTED`.
///
/// Returns `TESSERA_OK`; `TESSERA_ERR_NULL_POINTER`;
/// `TESSERA_ERR_INVALID_UTF8`; `TESSERA_ERR_INVALID_ARGUMENT` when `root`
/// is empty; `TESSERA_ERR_UNSUPPORTED` without the `testing` feature.
///
/// # Safety
/// As for `tessera_config_add_public_key`, with `root` for `key`.
#[no_mangle]
pub unsafe extern "C" fn tessera_config_set_system_root(
    config: *mut tessera_config,
    root: *const c_char,
) -> tessera_result {
    boundary(|| {
        // SAFETY: the function's contract.
        let config = unsafe { arg_mut(config, "config") }?;
        // SAFETY: the function's contract.
        let root = unsafe { arg_str(root, "root") }?;
        if root.is_empty() {
            return Err(Failure::invalid("the system root is empty"));
        }
        testing_only()?;
        config.inner.machine = TreeSource::new(root).into();
        Ok(())
    })
}

pub(crate) fn time_from_unix(unix_seconds: i64) -> crate::FfiResult<Time> {
    const YEAR_10000: i64 = 253_402_300_800;
    if !(0..YEAR_10000).contains(&unix_seconds) {
        return Err(Failure::invalid("the time is outside years 1970 to 9999"));
    }
    Time::from_unix(unix_seconds)
        .ok_or_else(|| Failure::invalid("the time is outside years 1970 to 9999"))
}

/// Uses the key `key_label` on the PKCS#11 token labelled `token_label`
/// (through the module at `module`, unlocked with `pin`) to answer the
/// challenges of hardware-key licenses: every check of such a license asks
/// the token. The PIN is kept in memory for the configuration's life and
/// never printed. Nothing is opened until a license needs the token.
///
/// Returns `TESSERA_OK`; `TESSERA_ERR_NULL_POINTER`;
/// `TESSERA_ERR_INVALID_UTF8`; `TESSERA_ERR_INVALID_ARGUMENT` for an empty
/// module path or label; `TESSERA_ERR_UNSUPPORTED` when the library was
/// built without the `pkcs11` feature.
///
/// # Safety
/// `config` as for `tessera_config_add_public_key`; the other arguments are
/// NULL or NUL-terminated strings.
#[no_mangle]
pub unsafe extern "C" fn tessera_config_set_pkcs11_token(
    config: *mut tessera_config,
    module: *const c_char,
    token_label: *const c_char,
    key_label: *const c_char,
    pin: *const c_char,
) -> tessera_result {
    boundary(|| {
        // SAFETY: the function's contract.
        let config = unsafe { arg_mut(config, "config") }?;
        // SAFETY: the function's contract (each string below).
        let module = unsafe { arg_str(module, "module") }?;
        // SAFETY: as above.
        let token_label = unsafe { arg_str(token_label, "token_label") }?;
        // SAFETY: as above.
        let key_label = unsafe { arg_str(key_label, "key_label") }?;
        // SAFETY: as above.
        let pin = unsafe { arg_str(pin, "pin") }?;
        if module.is_empty() || token_label.is_empty() || key_label.is_empty() {
            return Err(Failure::invalid(
                "the module path, token label and key label must not be empty",
            ));
        }
        set_token(&mut config.inner, module, token_label, key_label, pin)
    })
}

#[cfg(feature = "pkcs11")]
fn set_token(
    config: &mut LocalConfig,
    module: &str,
    token_label: &str,
    key_label: &str,
    pin: &str,
) -> crate::FfiResult {
    let token = tessera::device::hardware::Pkcs11Token::new(module, token_label, key_label, pin);
    config.hardware_token = Some(Arc::new(token));
    Ok(())
}

#[cfg(not(feature = "pkcs11"))]
fn set_token(
    _config: &mut LocalConfig,
    _module: &str,
    _token_label: &str,
    _key_label: &str,
    _pin: &str,
) -> crate::FfiResult {
    Err(tessera::Error::Unsupported(
        "hardware keys need the library built with the `pkcs11` feature",
    )
    .into())
}

/// The test hooks' gate: `Ok` only in a library built with `testing`.
fn testing_only() -> Result<(), Failure> {
    if cfg!(feature = "testing") {
        Ok(())
    } else {
        Err(tessera::Error::Unsupported(
            "a test hook: this library was built without the testing feature",
        )
        .into())
    }
}

/// The clock of `tessera_config_set_fixed_time`: a fixed wall time, no
/// time passing, and no effect on the clock mark kept in the state.
struct FixedClock(Time);

impl tessera::Clock for FixedClock {
    fn now(&self) -> Time {
        self.0
    }

    fn monotonic(&self) -> std::time::Duration {
        std::time::Duration::ZERO
    }

    fn raises_stored_mark(&self) -> bool {
        false
    }
}

/// The shortest vendor secret that opens the local state, in bytes
/// (`tessera_config_set_secret`).
pub const TESSERA_MIN_SECRET_LEN: usize = 16;
const _: () = assert!(TESSERA_MIN_SECRET_LEN == tessera::runtime::config::MIN_SECRET_LEN);
