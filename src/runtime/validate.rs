//! The rules that decide whether a verified license may be used now.
//!
//! Validation never fails with an error: it answers with a [`Validation`],
//! a [`Status`] plus the dates and reasons behind it, so a product can tell
//! its user exactly what is wrong and until when things work.
//!
//! The rules run in a fixed order and the first that refuses decides the
//! status: disabled, inactive, wrong product, wrong device, clock behind the
//! issue time, not yet started, trial over, validity over (after grace),
//! check-in overdue (after grace). A license past its validity or its file
//! expiry but inside the grace period is [`Status::ValidInGrace`]. The end of
//! the maintenance period is reported but never makes a license unusable.

use crate::Time;
use std::time::Duration;

use crate::device::environment::Environment;
use crate::format::fingerprint::{Fingerprint, MatchPolicy};
use crate::format::license::{License, LicenseType};
use crate::runtime::clock::Clock;
use crate::status::Status;

/// What the product passes to validation.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct ValidationOptions {
    /// The product's short code; a license for another product is refused.
    pub product: String,
    /// This device's fingerprint, for licenses bound to a device.
    pub device: Option<Fingerprint>,
    /// How a license's device binding is compared with `device`.
    pub match_policy: MatchPolicy,
    /// What VM and container detection found, for licenses with `prevent_vm`.
    pub environment: Option<Environment>,
    /// How far `issued_at` may lie in the future before the clock is judged
    /// to be behind (default one hour, so NTP steps and DST slips pass).
    pub clock_tolerance: Duration,
}

impl ValidationOptions {
    /// Options for `product` with the default tolerance and no device.
    pub fn new(product: impl Into<String>) -> Self {
        ValidationOptions {
            product: product.into(),
            device: None,
            match_policy: MatchPolicy::default(),
            environment: None,
            clock_tolerance: Duration::from_secs(3600),
        }
    }

    /// Sets this device's fingerprint.
    pub fn device(mut self, fingerprint: Fingerprint) -> Self {
        self.device = Some(fingerprint);
        self
    }

    /// Sets how device bindings are compared.
    pub fn match_policy(mut self, policy: MatchPolicy) -> Self {
        self.match_policy = policy;
        self
    }

    /// Sets what VM and container detection found.
    pub fn environment(mut self, environment: Environment) -> Self {
        self.environment = Some(environment);
        self
    }

    /// Sets the clock tolerance.
    pub fn clock_tolerance(mut self, tolerance: Duration) -> Self {
        self.clock_tolerance = tolerance;
        self
    }
}

/// The state of one feature at the time of validation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FeatureStatus {
    /// The license has the feature and it has not expired.
    Enabled {
        /// When the feature stops, if it does.
        until: Option<Time>,
    },
    /// The feature's expiry date has passed.
    Expired {
        /// When it expired.
        at: Time,
    },
    /// The license does not include the feature.
    Missing,
    /// The license itself is not usable.
    LicenseUnusable(Status),
}

impl FeatureStatus {
    /// Whether the feature may be used.
    pub fn is_enabled(&self) -> bool {
        matches!(self, FeatureStatus::Enabled { .. })
    }
}

/// The answer of validation: a status with the dates and reasons behind it.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Validation {
    /// The verdict.
    pub status: Status,
    /// The time validation was done at.
    pub checked_at: Time,
    /// When use ends without grace: the earlier of the validity period and
    /// the trial end. `None` for a license that does not end.
    pub valid_until: Option<Time>,
    /// When the grace period in force ends, while in grace.
    pub grace_until: Option<Time>,
    /// When the file expires: the next check-in is due before it.
    pub check_in_due: Option<Time>,
    /// When maintenance ends (or ended).
    pub maintenance_until: Option<Time>,
    /// Whether maintenance has ended (the license may still be valid).
    pub maintenance_expired: bool,
    /// Why the status is what it is, one sentence each (their `Display`),
    /// most important first.
    pub reasons: Vec<Reason>,
}

/// One reason behind a validation's status. It keeps the facts and becomes
/// a sentence only when displayed, so a check whose report nobody reads
/// formats nothing.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Reason {
    /// A sentence made when the reason was found (refusals, leases).
    Text(String),
    /// Valid until the given time.
    ValidUntil(Time),
    /// A license of the given type that does not end.
    NoEnd(LicenseType),
    /// The next check-in is due before the given time.
    CheckInDue(Time),
    /// A deadline passed and its grace period runs.
    InGrace {
        /// What passed: the validity period, or the check-in.
        what: &'static str,
        /// When it passed.
        deadline: Time,
        /// When the grace period ends.
        until: Time,
    },
    /// Maintenance ended at the given time.
    MaintenanceEnded(Time),
}

impl std::fmt::Display for Reason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Reason::Text(text) => f.write_str(text),
            Reason::ValidUntil(end) => write!(f, "valid until {}", end),
            Reason::NoEnd(kind) => write!(f, "{kind} license without an end date"),
            Reason::CheckInDue(due) => {
                write!(f, "next check-in due before {}", due)
            }
            Reason::InGrace {
                what,
                deadline,
                until,
            } => write!(
                f,
                "{what} at {}; the grace period lasts until {}",
                deadline,
                until
            ),
            Reason::MaintenanceEnded(end) => write!(
                f,
                "maintenance ended at {}; releases after it are not covered",
                end
            ),
        }
    }
}

impl Validation {
    /// Whether the license may be used.
    pub fn is_usable(&self) -> bool {
        self.status.is_usable()
    }

    /// Whether maintenance covers a release made at `release_date`.
    pub fn maintenance_covers(&self, release_date: Time) -> bool {
        self.maintenance_until.is_none_or(|end| release_date < end)
    }
}

/// Validates `license` at the time `clock` shows.
pub fn validate(license: &License, options: &ValidationOptions, clock: &dyn Clock) -> Validation {
    validate_at(license, options, clock.now())
}

/// Only the status of `license` at `now`: the same rules as
/// [`validate_at`] without building the report, and without allocating.
pub fn status_at(license: &License, options: &ValidationOptions, now: Time) -> Status {
    if let Some((status, _)) = refusal(license, options, now) {
        return status;
    }
    let past = |deadline: Option<Time>| deadline.is_some_and(|d| now >= d);
    if past(license.validity_period) || past(license.expires_at) {
        Status::ValidInGrace
    } else {
        Status::Valid
    }
}

/// Validates `license` at `now`.
pub fn validate_at(
    license: &License,
    options: &ValidationOptions,
    now: Time,
) -> Validation {
    let mut v = Validation {
        status: Status::Valid,
        checked_at: now,
        valid_until: None,
        grace_until: None,
        check_in_due: license.expires_at,
        maintenance_until: None,
        maintenance_expired: false,
        reasons: Vec::new(),
    };
    let grace = license.grace();

    if license.enable_maintenance_period {
        v.maintenance_until = license.maintenance_period;
        if let Some(end) = license.maintenance_period {
            v.maintenance_expired = now >= end;
        }
    }
    v.valid_until = match (license.validity_period, license.trial_end()) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    };

    if let Some((status, why)) = refusal(license, options, now) {
        v.status = status;
        v.reasons
            .push(Reason::Text(why.describe(license, options, now)));
        return v;
    }

    // Inside grace for validity or for the file's expiry?
    for (deadline, what) in [
        (license.validity_period, "the validity period ended"),
        (license.expires_at, "the check-in was due"),
    ] {
        if let Some(deadline) = deadline {
            if now >= deadline {
                let until = later(deadline, grace);
                v.status = Status::ValidInGrace;
                v.grace_until = Some(v.grace_until.map_or(until, |u: Time| u.min(until)));
                v.reasons.push(Reason::InGrace {
                    what,
                    deadline,
                    until,
                });
            }
        }
    }
    if v.status == Status::Valid {
        v.reasons.push(match v.valid_until {
            Some(end) => Reason::ValidUntil(end),
            None => Reason::NoEnd(license.license_type),
        });
    }
    if let Some(due) = license.expires_at.filter(|due| now < *due) {
        v.reasons.push(Reason::CheckInDue(due));
    }
    if v.maintenance_expired {
        if let Some(end) = v.maintenance_until {
            v.reasons.push(Reason::MaintenanceEnded(end));
        }
    }
    v
}

/// Why a rule refused; turned into a sentence only when a report is wanted.
#[derive(Debug, Clone, Copy)]
enum Why {
    Disabled,
    Inactive,
    WrongProduct,
    NoDevice,
    OtherDevice,
    VmNotChecked,
    VmDetected,
    ClockBehind,
    NotStarted(Time),
    TrialOver(Time),
    Expired(Time),
    CheckInOverdue(Time),
}

impl Why {
    fn describe(
        self,
        license: &License,
        options: &ValidationOptions,
        now: Time,
    ) -> String {
        let grace = license.grace();
        match self {
            Why::Disabled => "the vendor disabled this license".to_owned(),
            Why::Inactive => "this license is not active".to_owned(),
            Why::WrongProduct => format!(
                "the license is for product `{}`, not `{}`",
                license.product(),
                options.product
            ),
            Why::NoDevice => {
                "the license is bound to a device, but no device fingerprint was supplied to check it"
                    .to_owned()
            }
            Why::OtherDevice => match (&license.device, &options.device) {
                (Some(bound), Some(here)) => format!(
                    "the license is bound to another device ({})",
                    bound.compare(here, &options.match_policy)
                ),
                _ => "the license is bound to another device".to_owned(),
            },
            Why::VmNotChecked => {
                "the license does not allow virtual machines or containers, and no detection result was supplied"
                    .to_owned()
            }
            Why::VmDetected => {
                let evidence: Vec<String> = options
                    .environment
                    .iter()
                    .flat_map(|e| e.evidence.iter().map(ToString::to_string))
                    .collect();
                format!(
                    "the license does not allow virtual machines or containers; found {}",
                    evidence.join("; ")
                )
            }
            Why::ClockBehind => format!(
                "the system clock ({}) is behind the time this file was issued ({}); correct the clock",
                now,
                license.issued_at
            ),
            Why::NotStarted(start) => format!("the license starts at {}", start),
            Why::TrialOver(end) => format!("the trial ended at {}", end),
            Why::Expired(end) => ended("the license expired", end, grace),
            Why::CheckInOverdue(due) => ended("the check-in was due", due, grace),
        }
    }
}

/// The first rule that refuses the license.
fn refusal(
    license: &License,
    options: &ValidationOptions,
    now: Time,
) -> Option<(Status, Why)> {
    let grace = license.grace();
    let refused = if !license.license_enabled {
        (Status::Disabled, Why::Disabled)
    } else if !license.license_active {
        (Status::Inactive, Why::Inactive)
    } else if license.product() != options.product {
        (Status::WrongProduct, Why::WrongProduct)
    } else if let Some(why) = device_mismatch(license, options) {
        (Status::WrongDevice, why)
    } else if let Some(why) = vm_refusal(license, options) {
        (Status::VirtualMachine, why)
    } else if license.issued_at > later(now, options.clock_tolerance) {
        (Status::ClockBehind, Why::ClockBehind)
    } else if let Some(start) = license.start_date.filter(|s| now < *s) {
        (Status::NotYetValid, Why::NotStarted(start))
    } else if let Some(end) = license.trial_end().filter(|e| now >= *e) {
        (Status::TrialExpired, Why::TrialOver(end))
    } else if let Some(end) = license.validity_period.filter(|e| now >= later(*e, grace)) {
        (Status::Expired, Why::Expired(end))
    } else if let Some(due) = license.expires_at.filter(|d| now >= later(*d, grace)) {
        (Status::CheckInRequired, Why::CheckInOverdue(due))
    } else {
        return None;
    };
    Some(refused)
}

/// `t + d`, saturating at the end of representable time: a vendor's huge
/// grace period must not overflow into a panic.
pub(crate) fn later(t: Time, d: Duration) -> Time {
    t.checked_add(d).unwrap_or(Time::MAX)
}

fn ended(what: &str, at: Time, grace: Duration) -> String {
    if grace.is_zero() {
        format!("{what} at {}", at)
    } else {
        format!(
            "{what} at {} and the grace period ended at {}",
            at,
            later(at, grace)
        )
    }
}

fn device_mismatch(license: &License, options: &ValidationOptions) -> Option<Why> {
    let bound = license.device.as_ref()?;
    match &options.device {
        None => Some(Why::NoDevice),
        Some(here) if !bound.matches(here, &options.match_policy) => Some(Why::OtherDevice),
        Some(_) => None,
    }
}

fn vm_refusal(license: &License, options: &ValidationOptions) -> Option<Why> {
    if !license.prevent_vm {
        return None;
    }
    match &options.environment {
        None => Some(Why::VmNotChecked),
        Some(env) if env.is_isolated() => Some(Why::VmDetected),
        Some(_) => None,
    }
}

/// The state of feature `code` of `license`, given the license's validation.
pub fn feature_status(license: &License, validation: &Validation, code: &str) -> FeatureStatus {
    if !validation.is_usable() {
        return FeatureStatus::LicenseUnusable(validation.status);
    }
    match license.feature(code) {
        None => FeatureStatus::Missing,
        Some(f) => match f.expiry_date {
            Some(at) if validation.checked_at >= at => FeatureStatus::Expired { at },
            until => FeatureStatus::Enabled { until },
        },
    }
}
