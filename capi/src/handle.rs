//! `tessera_handle`: the license a product keeps open, and
//! `tessera_validation`: one validation report.

use std::ffi::c_char;

use crate::tessera_status;
use crate::{arg_bytes, arg_ref, arg_str, boundary, free_slot, infallible, into_raw, unix};
use crate::{config::tessera_config, returning, tessera_result, text_of, Failure, FfiResult, Out};
use tessera::format::lease::LeaseKind;
use tessera::runtime::consumption::{Counter, Usage};
use tessera::runtime::handle::{LeaseStatus, LicenseHandle};
use tessera::runtime::validate::{FeatureStatus, Validation};

/// The license activated on this device, open for checks.
///
/// Thread safety: every function taking a `const tessera_handle *` may be
/// called on one handle from any number of threads at once. Free it once,
/// after every call on it has returned.
#[allow(non_camel_case_types)]
pub struct tessera_handle {
    pub(crate) inner: std::sync::Arc<LicenseHandle>,
}

/// A validation report: the status, the reasons behind it, and its dates.
/// It is a snapshot; it does not change after it was made.
///
/// Thread safety: immutable; may be read from several threads at once.
#[allow(non_camel_case_types)]
pub struct tessera_validation {
    inner: Validation,
}

/// The state of one feature.
#[allow(non_camel_case_types)]
#[repr(u32)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum tessera_feature_state {
    /// The license has the feature and it may be used.
    TESSERA_FEATURE_ENABLED = 0,
    /// The feature's expiry date has passed.
    TESSERA_FEATURE_EXPIRED = 1,
    /// The license does not include the feature.
    TESSERA_FEATURE_MISSING = 2,
    /// The license itself is not usable (see `license_status`).
    TESSERA_FEATURE_LICENSE_UNUSABLE = 3,
}

/// One feature's state, from `tessera_handle_feature`.
#[allow(non_camel_case_types)]
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct tessera_feature_info {
    /// The feature's state.
    pub state: tessera_feature_state,
    /// Whether `time` holds a date.
    pub has_time: bool,
    /// For an enabled feature, when it stops; for an expired one, when it
    /// expired (seconds since 1970-01-01 UTC).
    pub time: i64,
    /// The license's status (why, for `TESSERA_FEATURE_LICENSE_UNUSABLE`).
    pub license_status: tessera_status,
}

/// A counter's usage, from `tessera_handle_consume` and
/// `tessera_handle_usage`.
#[allow(non_camel_case_types)]
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct tessera_usage {
    /// Units used in the current period.
    pub used: u64,
    /// Whether the counter has no limit (then `limit` and `remaining` are 0).
    pub unlimited: bool,
    /// Units allowed before overages.
    pub limit: u64,
    /// Units left before the limit.
    pub remaining: u64,
    /// Units used past the limit.
    pub overage_used: u64,
    /// Units allowed past the limit.
    pub overage_allowed: u64,
    /// Whether the counter resets (then `resets_at` holds the time).
    pub resets: bool,
    /// When the counter next resets (seconds since 1970-01-01 UTC).
    pub resets_at: i64,
}

impl From<&Usage> for tessera_usage {
    fn from(u: &Usage) -> tessera_usage {
        tessera_usage {
            used: u.used,
            unlimited: u.limit.is_none(),
            limit: u.limit.unwrap_or(0),
            remaining: u.remaining.unwrap_or(0),
            overage_used: u.overage_used,
            overage_allowed: u.overage_allowed,
            resets: u.resets_at.is_some(),
            resets_at: u.resets_at.map_or(0, unix),
        }
    }
}

/// The kind of a lease.
#[allow(non_camel_case_types)]
#[repr(u32)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum tessera_lease_kind {
    /// A floating seat, renewed by heartbeats.
    TESSERA_LEASE_FLOATING = 0,
    /// A borrowed seat, usable offline until it expires or is returned.
    TESSERA_LEASE_BORROW = 1,
}

/// The lease this device holds.
#[allow(non_camel_case_types)]
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct tessera_lease_info {
    /// Floating or borrowed.
    pub kind: tessera_lease_kind,
    /// When it ends (seconds since 1970-01-01 UTC).
    pub expires_at: i64,
    /// Seconds left now (zero once expired).
    pub seconds_left: i64,
}

impl From<&LeaseStatus> for tessera_lease_info {
    fn from(l: &LeaseStatus) -> tessera_lease_info {
        tessera_lease_info {
            kind: match l.kind {
                LeaseKind::Floating => tessera_lease_kind::TESSERA_LEASE_FLOATING,
                LeaseKind::Borrow => tessera_lease_kind::TESSERA_LEASE_BORROW,
            },
            expires_at: unix(l.expires_at),
            seconds_left: i64::try_from(l.time_left.as_secs()).unwrap_or(i64::MAX),
        }
    }
}

/// The dates of a validation report (seconds since 1970-01-01 UTC); each
/// `has_` flag says whether the date beside it applies.
#[allow(non_camel_case_types)]
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct tessera_dates {
    /// When validation was done.
    pub checked_at: i64,
    /// Whether the license ends.
    pub has_valid_until: bool,
    /// When use ends without grace.
    pub valid_until: i64,
    /// Whether a grace period is in force.
    pub has_grace_until: bool,
    /// When the grace period in force ends.
    pub grace_until: i64,
    /// Whether the file must be refreshed by a check-in.
    pub has_check_in_due: bool,
    /// When the next check-in is due.
    pub check_in_due: i64,
    /// Whether the license has a maintenance period.
    pub has_maintenance_until: bool,
    /// When maintenance ends (or ended).
    pub maintenance_until: i64,
}

fn date(d: Option<tessera::Time>) -> (bool, i64) {
    (d.is_some(), d.map_or(0, unix))
}

/// Opens the license activated on this device for the configuration's
/// product: reads the state, verifies the stored file again, checks this
/// device and the clock, loads the counters and any lease.
///
/// Ownership: on success `*handle_out` owns a new handle; free it with
/// `tessera_handle_free`. The configuration may be freed at once.
///
/// Returns `TESSERA_OK`; `TESSERA_ERR_NULL_POINTER`;
/// `TESSERA_ERR_NOT_ACTIVATED` when nothing is activated (activate first);
/// `TESSERA_ERR_STORE_FROM_OTHER_DEVICE`, `TESSERA_ERR_STORE_TAMPERED` and
/// the other store errors; `TESSERA_ERR_CLOCK_TAMPERED`;
/// `TESSERA_ERR_FINGERPRINT_UNAVAILABLE`; the verification errors when
/// the stored file no longer verifies (a key was removed).
///
/// # Safety
/// `config` is NULL or a live configuration; `handle_out` is NULL or
/// writable.
#[no_mangle]
pub unsafe extern "C" fn tessera_handle_open(
    config: *const tessera_config,
    handle_out: *mut *mut tessera_handle,
) -> tessera_result {
    let run = || {
        // SAFETY: the function's contract.
        let config = unsafe { arg_ref(config, "config") }?;
        let inner = std::sync::Arc::new(LicenseHandle::open(&config.inner)?);
        Ok(into_raw(tessera_handle { inner }))
    };
    // SAFETY: the function's contract covers `handle_out`.
    unsafe { returning(handle_out, "handle_out", run) }
}

/// Frees the handle `*handle` and sets `*handle` to NULL, so a second call
/// with the same variable does nothing. `handle` NULL or `*handle` NULL is
/// accepted and ignored. The lease and counters stay on disk.
///
/// # Safety
/// `handle` is NULL or points to a variable holding NULL or a handle from
/// `tessera_handle_open`; every other call on the handle has returned.
#[no_mangle]
pub unsafe extern "C" fn tessera_handle_free(handle: *mut *mut tessera_handle) {
    // SAFETY: the function's contract.
    infallible((), || unsafe { free_slot(handle) })
}

/// # Safety
/// `handle` is NULL or a live handle.
unsafe fn handle<'a>(handle: *const tessera_handle) -> FfiResult<&'a LicenseHandle> {
    // SAFETY: the caller's contract.
    unsafe { arg_ref(handle, "handle") }.map(|h| &*h.inner)
}

/// Whether the license may be used now: `*status_out` is the status
/// (usable: `TESSERA_STATUS_VALID` or `TESSERA_STATUS_VALID_IN_GRACE`).
/// A floating license is `TESSERA_STATUS_LEASE_REQUIRED` until this device
/// holds a seat: `tessera_online_register`, a `tessera_session` or a
/// `tessera_auto_sync` takes one, `tessera_online_borrow` borrows one.
/// Takes about 0.1 µs; call it as often as needed. Once a minute of use it
/// writes the clock's mark to the state, so a restart cannot hand the
/// time back.
///
/// Returns `TESSERA_OK`; `TESSERA_ERR_NULL_POINTER`;
/// `TESSERA_ERR_CLOCK_TAMPERED` when the clock went back beyond the
/// tolerance; `TESSERA_ERR_IO` when the state cannot take the clock's mark
/// (a full or read-only disk): a store that cannot keep its mark grants no
/// more time.
///
/// # Safety
/// `handle` is NULL or a live handle; `status_out` is NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn tessera_handle_check(
    handle: *const tessera_handle,
    status_out: *mut tessera_status,
) -> tessera_result {
    let run = || {
        // SAFETY: the function's contract.
        let status = unsafe { self::handle(handle) }?.check()?;
        Ok(status)
    };
    // SAFETY: the function's contract covers `status_out`.
    unsafe { returning(status_out, "status_out", run) }
}

/// Validates the license now and gives the full report: status, reasons
/// and dates.
///
/// Ownership: on success `*validation_out` owns a new report; free it with
/// `tessera_validation_free`.
///
/// Returns `TESSERA_OK`; `TESSERA_ERR_NULL_POINTER`;
/// `TESSERA_ERR_CLOCK_TAMPERED`.
///
/// # Safety
/// `handle` is NULL or a live handle; `validation_out` is NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn tessera_handle_validate(
    handle: *const tessera_handle,
    validation_out: *mut *mut tessera_validation,
) -> tessera_result {
    let run = || {
        // SAFETY: the function's contract.
        let inner = unsafe { self::handle(handle) }?.validate()?;
        Ok(into_raw(tessera_validation { inner }))
    };
    // SAFETY: the function's contract covers `validation_out`.
    unsafe { returning(validation_out, "validation_out", run) }
}

/// The state of feature `code` now.
///
/// Returns `TESSERA_OK` (also for a missing or expired feature: see
/// `info_out->state`); `TESSERA_ERR_NULL_POINTER`;
/// `TESSERA_ERR_INVALID_UTF8`; `TESSERA_ERR_CLOCK_TAMPERED`.
///
/// # Safety
/// `handle` is NULL or a live handle; `code` is NULL or a NUL-terminated
/// string; `info_out` is NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn tessera_handle_feature(
    handle: *const tessera_handle,
    code: *const c_char,
    info_out: *mut tessera_feature_info,
) -> tessera_result {
    let run = || {
        // SAFETY: the function's contract.
        let h = unsafe { self::handle(handle) }?;
        // SAFETY: the function's contract.
        let code = unsafe { arg_str(code, "code") }?;
        let validation = h.validate()?;
        let status = tessera::runtime::validate::feature_status(&h.license(), &validation, code);
        use tessera_feature_state::*;
        let (state, time) = match status {
            FeatureStatus::Enabled { until } => (TESSERA_FEATURE_ENABLED, until),
            FeatureStatus::Expired { at } => (TESSERA_FEATURE_EXPIRED, Some(at)),
            FeatureStatus::Missing => (TESSERA_FEATURE_MISSING, None),
            FeatureStatus::LicenseUnusable(_) => (TESSERA_FEATURE_LICENSE_UNUSABLE, None),
        };
        let (has_time, time) = date(time);
        let info = tessera_feature_info {
            state,
            has_time,
            time,
            license_status: validation.status,
        };
        Ok(info)
    };
    // SAFETY: the function's contract covers `info_out`.
    unsafe { returning(info_out, "info_out", run) }
}

/// # Safety
/// `feature` is NULL or a NUL-terminated string.
unsafe fn counter(feature: *const c_char) -> FfiResult<Counter> {
    if feature.is_null() {
        return Ok(Counter::License);
    }
    // SAFETY: the caller's contract.
    let code = unsafe { arg_str(feature, "feature") }?;
    if code.is_empty() {
        return Err(Failure::invalid(
            "the feature code is empty; pass NULL for the license's own counter",
        ));
    }
    Ok(Counter::Feature(code.to_owned()))
}

/// Consumes `amount` units of a counter: feature `feature`, or the
/// license's own counter when `feature` is NULL. Returns once the
/// increment is safely on disk, with the usage after it in `*usage_out`.
/// A refusal writes nothing.
///
/// Returns `TESSERA_OK`; `TESSERA_ERR_NULL_POINTER` when `handle` or
/// `usage_out` is NULL; `TESSERA_ERR_INVALID_UTF8`;
/// `TESSERA_ERR_INVALID_ARGUMENT` for an empty feature code or a zero
/// amount; `TESSERA_ERR_CONSUMPTION_LIMIT` when the limit and overages
/// would be passed; `TESSERA_ERR_NOT_CONSUMABLE`;
/// `TESSERA_ERR_FEATURE_UNAVAILABLE`; `TESSERA_ERR_UNUSABLE`;
/// `TESSERA_ERR_CLOCK_TAMPERED`; `TESSERA_ERR_IO` and the journal errors.
///
/// Thread safety: threads and processes may consume from one counter at
/// once; every increment is counted once and the limit holds.
///
/// # Safety
/// `handle` is NULL or a live handle; `feature` is NULL or a
/// NUL-terminated string; `usage_out` is NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn tessera_handle_consume(
    handle: *const tessera_handle,
    feature: *const c_char,
    amount: u64,
    usage_out: *mut tessera_usage,
) -> tessera_result {
    let run = || {
        // SAFETY: the function's contract.
        let h = unsafe { self::handle(handle) }?;
        // SAFETY: the function's contract.
        let counter = unsafe { counter(feature) }?;
        let usage = h.consume(&counter, amount)?;
        Ok((&usage).into())
    };
    // SAFETY: the function's contract covers `usage_out`.
    unsafe { returning(usage_out, "usage_out", run) }
}

/// The usage of a counter now (see `tessera_handle_consume` for
/// `feature`), without consuming.
///
/// Returns `TESSERA_OK`; `TESSERA_ERR_NULL_POINTER`;
/// `TESSERA_ERR_INVALID_UTF8`; `TESSERA_ERR_INVALID_ARGUMENT`;
/// `TESSERA_ERR_NOT_CONSUMABLE`; `TESSERA_ERR_CLOCK_TAMPERED`; the journal
/// errors.
///
/// # Safety
/// As for `tessera_handle_consume`.
#[no_mangle]
pub unsafe extern "C" fn tessera_handle_usage(
    handle: *const tessera_handle,
    feature: *const c_char,
    usage_out: *mut tessera_usage,
) -> tessera_result {
    let run = || {
        // SAFETY: the function's contract.
        let h = unsafe { self::handle(handle) }?;
        // SAFETY: the function's contract.
        let counter = unsafe { counter(feature) }?;
        let usage = h.usage(&counter)?;
        Ok((&usage).into())
    };
    // SAFETY: the function's contract covers `usage_out`.
    unsafe { returning(usage_out, "usage_out", run) }
}

/// The floating or borrow lease this device holds: `*held_out` says
/// whether there is one, and when there is, `*lease_out` describes it
/// (`*lease_out` is left alone when there is none).
///
/// Returns `TESSERA_OK`; `TESSERA_ERR_NULL_POINTER`;
/// `TESSERA_ERR_CLOCK_TAMPERED`.
///
/// # Safety
/// `handle` is NULL or a live handle; `held_out` and `lease_out` are NULL
/// or writable.
#[no_mangle]
pub unsafe extern "C" fn tessera_handle_lease(
    handle: *const tessera_handle,
    held_out: *mut bool,
    lease_out: *mut tessera_lease_info,
) -> tessera_result {
    boundary(|| {
        let held = Out::new(held_out, "held_out")?;
        let lease_out = Out::new(lease_out, "lease_out")?;
        // SAFETY: the function's contract.
        let lease = unsafe { self::handle(handle) }?.lease()?;
        // SAFETY: both checked writable by the contract.
        unsafe {
            held.write(lease.is_some());
            if let Some(lease) = &lease {
                lease_out.write(lease.into());
            }
        }
        Ok(())
    })
}

/// Installs a lease the license server granted (the armored text of a
/// floating registration, a heartbeat or a borrow): verifies it, checks
/// it serves this license on this device within the license's limits,
/// stores it, and uses it from now on. A borrow survives restarts.
///
/// Returns `TESSERA_OK`; `TESSERA_ERR_NULL_POINTER`; the verification
/// errors; `TESSERA_ERR_INVALID_LEASE` for a lease of another license or
/// device, expired, or issued in the future; `TESSERA_ERR_BORROW_TOO_LONG`;
/// `TESSERA_ERR_CLOCK_TAMPERED`; the store errors.
///
/// # Safety
/// `handle` is NULL or a live handle; `lease` is NULL or points to
/// `lease_len` readable bytes; `lease_out` is NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn tessera_handle_install_lease(
    handle: *const tessera_handle,
    lease: *const u8,
    lease_len: usize,
    lease_out: *mut tessera_lease_info,
) -> tessera_result {
    let run = || {
        // SAFETY: the function's contract.
        let h = unsafe { self::handle(handle) }?;
        // SAFETY: the function's contract.
        let text = unsafe { arg_bytes(lease, lease_len, "lease") }?;
        let status = h.install_lease(text)?;
        Ok((&status).into())
    };
    // SAFETY: the function's contract covers `lease_out`.
    unsafe { returning(lease_out, "lease_out", run) }
}

/// Ends a borrow on this device early.
///
/// Returns `TESSERA_OK`; `TESSERA_ERR_NULL_POINTER`;
/// `TESSERA_ERR_INVALID_ARGUMENT` when no borrowed seat is held; the store
/// errors.
///
/// # Safety
/// `handle` is NULL or a live handle.
#[no_mangle]
pub unsafe extern "C" fn tessera_handle_return_borrow(
    handle: *const tessera_handle,
) -> tessera_result {
    // SAFETY: the function's contract.
    boundary(|| Ok(unsafe { self::handle(handle) }?.return_borrow()?))
}

/// When the next check-in with the license server is due (the file's own
/// expiry): `*due_out` says whether there is one, and when there is,
/// `*at_out` receives it (seconds since 1970-01-01 UTC).
///
/// Returns `TESSERA_OK`; `TESSERA_ERR_NULL_POINTER`.
///
/// # Safety
/// `handle` is NULL or a live handle; `due_out` and `at_out` are NULL or
/// writable.
#[no_mangle]
pub unsafe extern "C" fn tessera_handle_next_check_in(
    handle: *const tessera_handle,
    due_out: *mut bool,
    at_out: *mut i64,
) -> tessera_result {
    boundary(|| {
        let due = Out::new(due_out, "due_out")?;
        let at = Out::new(at_out, "at_out")?;
        // SAFETY: the function's contract.
        let next = unsafe { self::handle(handle) }?.next_check_in();
        // SAFETY: both checked writable by the contract.
        unsafe {
            due.write(next.is_some());
            if let Some(t) = next {
                at.write(unix(t));
            }
        }
        Ok(())
    })
}

/// The license document as JSON (the fields of docs/FORMAT.md §2: id,
/// license type, customer, features, ...), copied into `buf`. The license
/// key is left out: it is a secret the user typed, and the SDK never hands
/// it out.
///
/// Strings out: when `buf_len` is larger than the JSON, it is copied with
/// a terminating NUL and `*len_out` receives its length without the NUL.
/// A size query (`NULL, 0`) copies nothing, writes the length to
/// `*len_out` and returns `TESSERA_OK` without touching the thread's last
/// error; a buffer too small for the JSON and its NUL gets nothing,
/// `*len_out` still receives the length, and the result is
/// `TESSERA_ERR_BUFFER_TOO_SMALL`.
///
/// Returns `TESSERA_OK`; `TESSERA_ERR_NULL_POINTER` when `handle` or
/// `len_out` is NULL, or `buf` is NULL with `buf_len` above zero;
/// `TESSERA_ERR_BUFFER_TOO_SMALL`.
///
/// # Safety
/// `handle` is NULL or a live handle; `buf` is NULL or points to `buf_len`
/// writable bytes; `len_out` is NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn tessera_handle_license_json(
    handle: *const tessera_handle,
    buf: *mut c_char,
    buf_len: usize,
    len_out: *mut usize,
) -> tessera_result {
    // SAFETY: the function's contract.
    unsafe {
        text_of(handle, "handle", buf, buf_len, len_out, |h| {
            let shown = |e: serde_json::Error| {
                Failure::invalid(format!("the license cannot be shown: {e}"))
            };
            let mut document = serde_json::to_value(&*h.inner.license()).map_err(shown)?;
            if let Some(fields) = document.as_object_mut() {
                fields.remove("license_key");
            }
            serde_json::to_string(&document).map_err(shown)
        })
    }
}

/// Which text of the license `tessera_handle_license_text` gives.
#[allow(non_camel_case_types)]
#[repr(u32)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum tessera_license_text {
    /// The license's id.
    TESSERA_TEXT_LICENSE_ID = 0,
    /// The license type (`perpetual`, `time-limited`, `subscription`, ...).
    TESSERA_TEXT_LICENSE_TYPE = 1,
    /// The product's short code.
    TESSERA_TEXT_PRODUCT = 2,
    /// The customer's email address.
    TESSERA_TEXT_CUSTOMER_EMAIL = 3,
    /// The customer's company.
    TESSERA_TEXT_CUSTOMER_COMPANY = 4,
    /// The customer's first name.
    TESSERA_TEXT_CUSTOMER_FIRST_NAME = 5,
    /// The customer's last name.
    TESSERA_TEXT_CUSTOMER_LAST_NAME = 6,
    /// The vendor's reference for the customer.
    TESSERA_TEXT_CUSTOMER_REFERENCE = 7,
}

/// One text of the license (`which`, a `tessera_license_text`): its id,
/// type, product, or a field of its customer (empty when the license names
/// no customer or not that field), copied into `buf`. The license key is
/// never among them.
///
/// Strings out as for `tessera_handle_license_json`.
///
/// Returns `TESSERA_OK`; `TESSERA_ERR_NULL_POINTER`;
/// `TESSERA_ERR_INVALID_ARGUMENT` for a `which` that is no
/// `tessera_license_text`; `TESSERA_ERR_BUFFER_TOO_SMALL`.
///
/// # Safety
/// As for `tessera_handle_license_json`.
#[no_mangle]
pub unsafe extern "C" fn tessera_handle_license_text(
    handle: *const tessera_handle,
    which: u32,
    buf: *mut c_char,
    buf_len: usize,
    len_out: *mut usize,
) -> tessera_result {
    use tessera_license_text as T;
    // SAFETY: the function's contract.
    unsafe {
        text_of(handle, "handle", buf, buf_len, len_out, |h| {
            let license = h.inner.license();
            let customer = |field: fn(&tessera::format::license::Customer) -> &String| {
                license
                    .customer
                    .as_ref()
                    .map(field)
                    .cloned()
                    .unwrap_or_default()
            };
            Ok(match which {
                w if w == T::TESSERA_TEXT_LICENSE_ID as u32 => license.id.clone(),
                w if w == T::TESSERA_TEXT_LICENSE_TYPE as u32 => license.license_type.to_string(),
                w if w == T::TESSERA_TEXT_PRODUCT as u32 => license.product().to_owned(),
                w if w == T::TESSERA_TEXT_CUSTOMER_EMAIL as u32 => customer(|c| &c.email),
                w if w == T::TESSERA_TEXT_CUSTOMER_COMPANY as u32 => customer(|c| &c.company_name),
                w if w == T::TESSERA_TEXT_CUSTOMER_FIRST_NAME as u32 => customer(|c| &c.first_name),
                w if w == T::TESSERA_TEXT_CUSTOMER_LAST_NAME as u32 => customer(|c| &c.last_name),
                w if w == T::TESSERA_TEXT_CUSTOMER_REFERENCE as u32 => customer(|c| &c.reference),
                _ => {
                    return Err(Failure::invalid(format!(
                        "{which} is no tessera_license_text"
                    )))
                }
            })
        })
    }
}

/// How many features the license lists (`tessera_handle_feature_code`
/// gives each code).
///
/// Returns `TESSERA_OK`; `TESSERA_ERR_NULL_POINTER`.
///
/// # Safety
/// `handle` is NULL or a live handle; `count_out` is NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn tessera_handle_feature_count(
    handle: *const tessera_handle,
    count_out: *mut usize,
) -> tessera_result {
    let run = || {
        // SAFETY: the function's contract.
        let h = unsafe { self::handle(handle) }?;
        Ok(h.license().product_features.len())
    };
    // SAFETY: the function's contract covers `count_out`.
    unsafe { returning(count_out, "count_out", run) }
}

/// The code of the license's feature number `index` (from 0, below
/// `tessera_handle_feature_count`), copied into `buf`, in the order the
/// license lists them.
///
/// Strings out as for `tessera_handle_license_json`.
///
/// Returns `TESSERA_OK`; `TESSERA_ERR_NULL_POINTER`;
/// `TESSERA_ERR_INVALID_ARGUMENT` for an index past the last feature;
/// `TESSERA_ERR_BUFFER_TOO_SMALL`.
///
/// # Safety
/// As for `tessera_handle_license_json`.
#[no_mangle]
pub unsafe extern "C" fn tessera_handle_feature_code(
    handle: *const tessera_handle,
    index: usize,
    buf: *mut c_char,
    buf_len: usize,
    len_out: *mut usize,
) -> tessera_result {
    // SAFETY: the function's contract.
    unsafe {
        text_of(handle, "handle", buf, buf_len, len_out, |h| {
            let features = &h.inner.license().product_features;
            features.get(index).map(|f| f.code.clone()).ok_or_else(|| {
                Failure::invalid(format!(
                    "feature {index} asked for; the license lists {}",
                    features.len()
                ))
            })
        })
    }
}

/// Writes the clock's high-water mark to the state (call it now and then,
/// and before the product exits).
///
/// Returns `TESSERA_OK`; `TESSERA_ERR_NULL_POINTER`; the store errors.
///
/// # Safety
/// `handle` is NULL or a live handle.
#[no_mangle]
pub unsafe extern "C" fn tessera_handle_save_clock(
    handle: *const tessera_handle,
) -> tessera_result {
    // SAFETY: the function's contract.
    boundary(|| Ok(unsafe { self::handle(handle) }?.save_clock()?))
}

/// Frees the report `*validation` and sets `*validation` to NULL, so a
/// second call with the same variable does nothing. `validation` NULL or
/// `*validation` NULL is accepted and ignored.
///
/// # Safety
/// `validation` is NULL or points to a variable holding NULL or a report
/// from `tessera_handle_validate`; no other thread uses it.
#[no_mangle]
pub unsafe extern "C" fn tessera_validation_free(validation: *mut *mut tessera_validation) {
    // SAFETY: the function's contract.
    infallible((), || unsafe { free_slot(validation) })
}

/// # Safety
/// `v` is NULL or a live report.
unsafe fn validation<'a>(v: *const tessera_validation) -> FfiResult<&'a Validation> {
    // SAFETY: the caller's contract.
    unsafe { arg_ref(v, "validation") }.map(|v| &v.inner)
}

/// The report's status.
///
/// Returns `TESSERA_OK`; `TESSERA_ERR_NULL_POINTER`.
///
/// # Safety
/// `validation` is NULL or a live report; `status_out` is NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn tessera_validation_status(
    validation: *const tessera_validation,
    status_out: *mut tessera_status,
) -> tessera_result {
    let run = || {
        // SAFETY: the function's contract.
        let status = unsafe { self::validation(validation) }?.status;
        Ok(status)
    };
    // SAFETY: the function's contract covers `status_out`.
    unsafe { returning(status_out, "status_out", run) }
}

/// Why the status is what it is: one sentence per line (joined by `\n`),
/// most important first; empty for a plainly valid license. Copied into
/// `buf` as `tessera_handle_license_json` describes.
///
/// Returns `TESSERA_OK`; `TESSERA_ERR_NULL_POINTER`;
/// `TESSERA_ERR_BUFFER_TOO_SMALL`.
///
/// # Safety
/// `validation` is NULL or a live report; `buf` is NULL or points to
/// `buf_len` writable bytes; `len_out` is NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn tessera_validation_reasons(
    validation: *const tessera_validation,
    buf: *mut c_char,
    buf_len: usize,
    len_out: *mut usize,
) -> tessera_result {
    // SAFETY: the function's contract.
    unsafe {
        text_of(validation, "validation", buf, buf_len, len_out, |v| {
            let lines: Vec<String> = v.inner.reasons.iter().map(ToString::to_string).collect();
            Ok(lines.join("\n"))
        })
    }
}

/// The report's dates.
///
/// Returns `TESSERA_OK`; `TESSERA_ERR_NULL_POINTER`.
///
/// # Safety
/// `validation` is NULL or a live report; `dates_out` is NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn tessera_validation_dates(
    validation: *const tessera_validation,
    dates_out: *mut tessera_dates,
) -> tessera_result {
    let run = || {
        // SAFETY: the function's contract.
        let v = unsafe { self::validation(validation) }?;
        let (has_valid_until, valid_until) = date(v.valid_until);
        let (has_grace_until, grace_until) = date(v.grace_until);
        let (has_check_in_due, check_in_due) = date(v.check_in_due);
        let (has_maintenance_until, maintenance_until) = date(v.maintenance_until);
        let dates = tessera_dates {
            checked_at: unix(v.checked_at),
            has_valid_until,
            valid_until,
            has_grace_until,
            grace_until,
            has_check_in_due,
            check_in_due,
            has_maintenance_until,
            maintenance_until,
        };
        Ok(dates)
    };
    // SAFETY: the function's contract covers `dates_out`.
    unsafe { returning(dates_out, "dates_out", run) }
}
