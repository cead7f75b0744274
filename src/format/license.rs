//! The license document: the JSON payload of a license file.
//!
//! Field names and meanings follow LicenseSpring's license object (snake
//! case); `docs/FORMAT.md` lists every field with its type, unit and
//! default. Tessera adds what a signed file needs on top: `format`,
//! `issued_at`, `expires_at` (the file's own expiry: the next check-in is due
//! before it) and `device` (the binding to one device).
//!
//! Durations keep LicenseSpring's units: `grace_period` and `max_borrow_time`
//! in hours, `floating_timeout` in minutes, `trial_days` in days. Timestamps
//! are RFC 3339 in UTC with second precision (`2026-01-31T00:00:00Z`); a bare
//! date (`2026-01-31`) is read as midnight UTC of that day.

use std::fmt;

use crate::Time;
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::format::armor::{self, Opened};
use crate::format::keys::{KeyId, Keyring};

/// The compact form's reader: part of `fast` (speed for size), like the
/// curve's tables; the smallest build reads every payload with serde_json.
#[cfg(feature = "fast")]
pub(crate) mod reader;

mod metadata;
pub use metadata::Metadata;

/// The payload format this SDK reads and writes.
pub const FORMAT_VERSION: u32 = 1;

/// A signed license document.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct License {
    /// Payload format version; 1.
    pub format: u32,
    /// The license's id on the vendor's side.
    pub id: String,
    /// The key a user types to activate online. Secret: never printed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub license_key: Option<LicenseKey>,
    /// perpetual, time-limited, subscription or consumption.
    pub license_type: LicenseType,
    /// False when the vendor disabled the license.
    #[serde(default = "yes", skip_serializing_if = "is_true")]
    pub license_enabled: bool,
    /// False when the license is not (or no longer) active.
    #[serde(default = "yes", skip_serializing_if = "is_true")]
    pub license_active: bool,
    /// A trial license.
    #[serde(default, skip_serializing_if = "is_default")]
    pub is_trial: bool,
    /// Length of the trial in days, counted from `start_date` (or `issued_at`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trial_days: Option<u32>,
    /// Not usable before this moment.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub start_date: Option<Time>,
    /// Not usable from this moment on (apart from the grace period).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub validity_period: Option<Time>,
    /// Whether `maintenance_period` applies.
    #[serde(default, skip_serializing_if = "is_default")]
    pub enable_maintenance_period: bool,
    /// End of maintenance: releases after it are not covered; the license itself stays valid.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub maintenance_period: Option<Time>,
    /// Whether `grace_period` applies.
    #[serde(default, skip_serializing_if = "is_default")]
    pub allow_grace_period: bool,
    /// Hours of use allowed after the validity period or the file's expiry.
    #[serde(default, skip_serializing_if = "is_default")]
    pub grace_period: u32,
    /// Devices that may activate the license at once.
    #[serde(default = "one", skip_serializing_if = "is_one")]
    pub max_activations: u32,
    /// No limit on activations.
    #[serde(default, skip_serializing_if = "is_default")]
    pub allow_unlimited_activations: bool,
    /// Activations at the time the file was issued.
    #[serde(default, skip_serializing_if = "is_default")]
    pub times_activated: u32,
    /// Transfers to another device made so far.
    #[serde(default, skip_serializing_if = "is_default")]
    pub transfer_count: u32,
    /// Transfers allowed.
    #[serde(default, skip_serializing_if = "is_default")]
    pub max_transfers: u32,
    /// A floating license (seats leased from a server on the premises or the vendor's).
    #[serde(default, skip_serializing_if = "is_default")]
    pub is_floating: bool,
    /// A floating license served from the vendor's cloud.
    #[serde(default, skip_serializing_if = "is_default")]
    pub is_floating_cloud: bool,
    /// Minutes a floating lease lasts without a heartbeat.
    #[serde(
        default = "floating_timeout_default",
        skip_serializing_if = "is_floating_timeout_default"
    )]
    pub floating_timeout: u32,
    /// Seats of a floating license.
    #[serde(default, skip_serializing_if = "is_default")]
    pub floating_users: u32,
    /// A floating seat may be borrowed for offline use.
    #[serde(default, skip_serializing_if = "is_default")]
    pub can_borrow: bool,
    /// Hours a seat may be borrowed at most.
    #[serde(default, skip_serializing_if = "is_default")]
    pub max_borrow_time: u32,
    /// The license refuses to run in a virtual machine or container.
    #[serde(default, skip_serializing_if = "is_default")]
    pub prevent_vm: bool,
    /// Bound to a hardware token.
    #[serde(default, skip_serializing_if = "is_default")]
    pub is_hardware_key_auth: bool,
    /// Activated by codes typed by a person.
    #[serde(default, skip_serializing_if = "is_default")]
    pub is_air_gapped: bool,
    /// Features the license enables.
    #[serde(default, skip_serializing_if = "is_default")]
    pub product_features: Vec<Feature>,
    /// License-level consumption limit (consumption licenses).
    #[serde(default, skip_serializing_if = "is_default")]
    pub max_consumptions: u64,
    /// Units consumed at the time the file was issued.
    #[serde(default, skip_serializing_if = "is_default")]
    pub total_consumptions: u64,
    /// No limit on license-level consumption.
    #[serde(default, skip_serializing_if = "is_default")]
    pub allow_unlimited_consumptions: bool,
    /// Consumption may pass the limit by up to `max_overages`.
    #[serde(default, skip_serializing_if = "is_default")]
    pub allow_overages: bool,
    /// Units allowed past the limit.
    #[serde(default, skip_serializing_if = "is_default")]
    pub max_overages: u64,
    /// The counter resets every `consumption_period`.
    #[serde(default, skip_serializing_if = "is_default")]
    pub reset_consumption: bool,
    /// The reset period of the license-level counter.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub consumption_period: Option<ConsumptionPeriod>,
    /// Vendor-defined fields.
    #[serde(default, skip_serializing_if = "is_default")]
    pub custom_fields: Vec<CustomField>,
    /// Who bought the license.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub customer: Option<Customer>,
    /// The product the license is for.
    pub product_details: ProductDetails,
    /// The user of a user-based license.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user: Option<LicenseUser>,
    /// Free-form vendor data.
    #[serde(default, skip_serializing_if = "is_default")]
    pub metadata: Metadata,
    /// When the file was signed.
    pub issued_at: Time,
    /// The file's own expiry: the product must check in (get a fresh file) before it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires_at: Option<Time>,
    /// The device the file is bound to, if any: its fingerprint id and,
    /// for tolerant matching, its hashed components.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub device: Option<crate::format::fingerprint::Fingerprint>,
    /// For `is_hardware_key_auth`: the token's Ed25519 public key (base64
    /// of 32 bytes) that must answer every check's challenge.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hardware_key: Option<String>,
}

fn yes() -> bool {
    true
}
fn is_default<T: Default + PartialEq>(value: &T) -> bool {
    *value == T::default()
}
fn is_true(b: &bool) -> bool {
    *b
}
fn is_one(n: &u32) -> bool {
    *n == 1
}
fn is_floating_timeout_default(n: &u32) -> bool {
    *n == floating_timeout_default()
}
fn one() -> u32 {
    1
}
fn floating_timeout_default() -> u32 {
    120
}

impl License {
    /// A license with the required fields given and every other field at
    /// the default a document that leaves it out gets (the Keygen mapping
    /// builds its licenses so).
    #[cfg(any(feature = "keygen", test))]
    pub(crate) fn with_defaults(
        id: String,
        license_type: LicenseType,
        product_details: ProductDetails,
        issued_at: Time,
    ) -> License {
        License {
            format: FORMAT_VERSION,
            id,
            license_key: None,
            license_type,
            license_enabled: true,
            license_active: true,
            is_trial: false,
            trial_days: None,
            start_date: None,
            validity_period: None,
            enable_maintenance_period: false,
            maintenance_period: None,
            allow_grace_period: false,
            grace_period: 0,
            max_activations: one(),
            allow_unlimited_activations: false,
            times_activated: 0,
            transfer_count: 0,
            max_transfers: 0,
            is_floating: false,
            is_floating_cloud: false,
            floating_timeout: floating_timeout_default(),
            floating_users: 0,
            can_borrow: false,
            max_borrow_time: 0,
            prevent_vm: false,
            is_hardware_key_auth: false,
            is_air_gapped: false,
            product_features: Vec::new(),
            max_consumptions: 0,
            total_consumptions: 0,
            allow_unlimited_consumptions: false,
            allow_overages: false,
            max_overages: 0,
            reset_consumption: false,
            consumption_period: None,
            custom_fields: Vec::new(),
            customer: None,
            product_details,
            user: None,
            metadata: Metadata::default(),
            issued_at,
            expires_at: None,
            device: None,
            hardware_key: None,
        }
    }

    /// The product short code the license is for.
    pub fn product(&self) -> &str {
        &self.product_details.short_code
    }

    /// The feature with `code`.
    pub fn feature(&self, code: &str) -> Option<&Feature> {
        self.product_features.iter().find(|f| f.code == code)
    }

    /// When the trial ends, for a trial with `trial_days`.
    pub fn trial_end(&self) -> Option<Time> {
        if !self.is_trial {
            return None;
        }
        let days = self.trial_days?;
        let from = self.start_date.unwrap_or(self.issued_at);
        from.checked_add(std::time::Duration::from_secs(u64::from(days) * 86_400))
    }

    /// Whether the license has a consumption counter (a consumption
    /// license, or a consumption feature): only then is there a journal.
    pub fn counts_consumption(&self) -> bool {
        self.license_type == LicenseType::Consumption
            || self
                .product_features
                .iter()
                .any(|f| f.feature_type == FeatureType::Consumption)
    }

    /// Whether seats float (from the vendor's cloud or a server on the premises).
    pub fn floats(&self) -> bool {
        self.is_floating || self.is_floating_cloud
    }

    /// The rules of docs/FORMAT.md section 2 that make a license make sense:
    /// checked by the issuer before it signs (a broken rule is a spec error)
    /// and by every reader after the signature holds (a broken rule is
    /// `invalid_payload`: a reader fails closed on what it cannot interpret
    /// safely). The error is the rule, in one sentence.
    pub(crate) fn consistency(&self) -> std::result::Result<(), String> {
        let l = self;
        let fail = |msg: &str| Err(msg.to_owned());
        if l.format != FORMAT_VERSION {
            return fail("`format` must be 1");
        }
        if l.id.trim().is_empty() {
            return fail("`id` must not be empty");
        }
        if l.product_details.short_code.trim().is_empty() {
            return fail("`product_details.short_code` must not be empty");
        }
        match l.license_type {
            LicenseType::TimeLimited | LicenseType::Subscription if l.validity_period.is_none() => {
                return fail("a time-limited or subscription license needs `validity_period`");
            }
            LicenseType::Perpetual if l.validity_period.is_some() => {
                return fail(
                    "a perpetual license has no `validity_period`; use license_type `time-limited`",
                );
            }
            LicenseType::Consumption
                if !l.allow_unlimited_consumptions && l.max_consumptions == 0 =>
            {
                return fail(
                    "a consumption license needs `max_consumptions` or `allow_unlimited_consumptions`",
                );
            }
            _ => {}
        }
        if l.is_trial && l.trial_days.is_none() && l.validity_period.is_none() {
            return fail("a trial needs `trial_days` or `validity_period`");
        }
        if let (Some(start), Some(end)) = (l.start_date, l.validity_period) {
            if start >= end {
                return fail("`start_date` must come before `validity_period`");
            }
        }
        if l.expires_at.is_some_and(|e| e <= l.issued_at) {
            return fail("`expires_at` must come after `issued_at`");
        }
        if l.enable_maintenance_period && l.maintenance_period.is_none() {
            return fail("`enable_maintenance_period` needs `maintenance_period`");
        }
        if l.is_floating && l.floating_users == 0 {
            return fail("a floating license needs `floating_users` of at least 1");
        }
        if l.is_floating && l.floating_timeout == 0 {
            return fail("a floating license needs a `floating_timeout` of at least 1 minute");
        }
        if l.can_borrow && (!l.floats() || l.max_borrow_time == 0) {
            return fail(
                "borrowing needs a floating license and a `max_borrow_time` of at least 1 hour",
            );
        }
        if l.max_activations == 0 && !l.allow_unlimited_activations {
            return fail(
                "`max_activations` must be at least 1 (or set `allow_unlimited_activations`)",
            );
        }
        match (&l.hardware_key, l.is_hardware_key_auth) {
            (None, true) => return fail("`is_hardware_key_auth` needs the token's `hardware_key`"),
            (Some(_), false) => return fail("`hardware_key` needs `is_hardware_key_auth`"),
            (Some(k), true) if crate::format::keys::PublicKey::from_base64(k).is_err() => {
                return fail("`hardware_key` must be the base64 of an Ed25519 public key");
            }
            _ => {}
        }
        if l.device.as_ref().is_some_and(|d| d.id.is_empty()) {
            return fail("`device.id` must not be empty");
        }
        if l.product_features.iter().any(|f| f.code.trim().is_empty()) {
            return fail("every feature needs a `code`");
        }
        // Sorted references, so a long list costs n log n and the usual
        // short one no allocation worth the name (this runs on every check).
        let mut codes: Vec<&str> = l.product_features.iter().map(|f| f.code.as_str()).collect();
        codes.sort_unstable();
        if let Some(pair) = codes.windows(2).find(|w| w[0] == w[1]) {
            return Err(format!("feature `{}` is listed twice", pair[0]));
        }
        Ok(())
    }

    /// The grace period as a duration (zero when grace is not allowed).
    pub fn grace(&self) -> std::time::Duration {
        if self.allow_grace_period {
            std::time::Duration::from_secs(u64::from(self.grace_period) * 3600)
        } else {
            std::time::Duration::ZERO
        }
    }
}

/// A license key: a secret the user types. `Debug` and `Display` redact it.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct LicenseKey(String);

impl LicenseKey {
    /// Wraps a key.
    pub fn new(key: impl Into<String>) -> Self {
        LicenseKey(key.into())
    }

    /// The key itself, for sending to the license server.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for LicenseKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("LicenseKey(redacted)")
    }
}

impl fmt::Display for LicenseKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Enough to tell two keys apart in a support ticket, not enough to use one.
        let tail: String = self
            .0
            .chars()
            .rev()
            .take(4)
            .collect::<Vec<_>>()
            .into_iter()
            .rev()
            .collect();
        write!(f, "****{tail}")
    }
}

/// The kind of license.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum LicenseType {
    /// Never expires (a maintenance period may still end).
    Perpetual,
    /// Valid until `validity_period`.
    TimeLimited,
    /// Valid until `validity_period`, renewed by the vendor.
    Subscription,
    /// Metered by consumption counters.
    Consumption,
}

impl fmt::Display for LicenseType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            LicenseType::Perpetual => "perpetual",
            LicenseType::TimeLimited => "time-limited",
            LicenseType::Subscription => "subscription",
            LicenseType::Consumption => "consumption",
        })
    }
}

/// How a counter's period is measured.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ConsumptionPeriod {
    /// Resets at 00:00 UTC.
    Daily,
    /// Resets Monday 00:00 UTC.
    Weekly,
    /// Resets on the 1st of the month, 00:00 UTC.
    Monthly,
    /// Resets on 1 January, 00:00 UTC. LicenseSpring's spelling `annualy` is read too.
    #[serde(alias = "annualy")]
    Annually,
}

/// What a feature is metered by.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum FeatureType {
    /// On or off.
    #[default]
    Activation,
    /// Metered by a counter.
    Consumption,
}

/// A feature of the product that the license enables.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Feature {
    /// The code the product asks for.
    pub code: String,
    /// A name for people.
    #[serde(default, skip_serializing_if = "is_default")]
    pub name: String,
    /// activation or consumption.
    #[serde(default, skip_serializing_if = "is_default")]
    pub feature_type: FeatureType,
    /// The feature stops working at this moment; the license goes on.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expiry_date: Option<Time>,
    /// Consumption limit.
    #[serde(default, skip_serializing_if = "is_default")]
    pub max_consumption: u64,
    /// No consumption limit.
    #[serde(default, skip_serializing_if = "is_default")]
    pub allow_unlimited_consumptions: bool,
    /// Units consumed at the time the file was issued.
    #[serde(default, skip_serializing_if = "is_default")]
    pub total_consumptions: u64,
    /// Consumption may pass the limit by up to `max_overages`.
    #[serde(default, skip_serializing_if = "is_default")]
    pub allow_overages: bool,
    /// Units allowed past the limit.
    #[serde(default, skip_serializing_if = "is_default")]
    pub max_overages: u64,
    /// The counter resets every `consumption_period`.
    #[serde(default, skip_serializing_if = "is_default")]
    pub reset_consumption: bool,
    /// The reset period.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub consumption_period: Option<ConsumptionPeriod>,
    /// The feature floats on its own.
    #[serde(default, skip_serializing_if = "is_default")]
    pub is_floating: bool,
    /// The feature floats from the vendor's cloud.
    #[serde(default, skip_serializing_if = "is_default")]
    pub is_floating_cloud: bool,
    /// Seats of a floating feature.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub floating_users: Option<u32>,
    /// Minutes a floating feature lease lasts.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub floating_timeout: Option<u32>,
    /// Free-form vendor data.
    #[serde(default, skip_serializing_if = "is_default")]
    pub metadata: Metadata,
}

impl Feature {
    /// An on/off feature named `code`, every other field at its default.
    #[cfg(any(feature = "keygen", test))]
    pub(crate) fn activation(code: String) -> Feature {
        Feature {
            code,
            name: String::new(),
            feature_type: FeatureType::Activation,
            expiry_date: None,
            max_consumption: 0,
            allow_unlimited_consumptions: false,
            total_consumptions: 0,
            allow_overages: false,
            max_overages: 0,
            reset_consumption: false,
            consumption_period: None,
            is_floating: false,
            is_floating_cloud: false,
            floating_users: None,
            floating_timeout: None,
            metadata: Metadata::default(),
        }
    }
}

/// The data type of a custom field.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub enum CustomFieldType {
    /// A number written as text (LicenseSpring's `numer` is read too).
    #[serde(rename = "number", alias = "numer")]
    Number,
    /// Text.
    #[default]
    #[serde(rename = "text")]
    Text,
    /// A date and time written as text.
    #[serde(rename = "date/time")]
    DateTime,
}

/// A vendor-defined field.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct CustomField {
    /// The field's name.
    pub name: String,
    /// How `value` is to be read.
    #[serde(default, skip_serializing_if = "is_default")]
    pub data_type: CustomFieldType,
    /// The value, as text.
    pub value: String,
}

/// Who bought the license.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(default)]
#[allow(missing_docs)]
#[non_exhaustive]
pub struct Customer {
    #[serde(skip_serializing_if = "is_default")]
    pub email: String,
    #[serde(skip_serializing_if = "is_default")]
    pub company_name: String,
    #[serde(skip_serializing_if = "is_default")]
    pub reference: String,
    #[serde(skip_serializing_if = "is_default")]
    pub phone: String,
    #[serde(skip_serializing_if = "is_default")]
    pub first_name: String,
    #[serde(skip_serializing_if = "is_default")]
    pub last_name: String,
    #[serde(skip_serializing_if = "is_default")]
    pub city: String,
    #[serde(skip_serializing_if = "is_default")]
    pub postcode: String,
    #[serde(skip_serializing_if = "is_default")]
    pub state: String,
    #[serde(skip_serializing_if = "is_default")]
    pub country: String,
    #[serde(skip_serializing_if = "is_default")]
    pub address: String,
    #[serde(skip_serializing_if = "is_default")]
    pub customer_account: Option<String>,
    #[serde(skip_serializing_if = "is_default")]
    pub metadata: Metadata,
}

/// How users authorize the product.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub enum AuthorizationMethod {
    /// By license key.
    #[default]
    #[serde(rename = "license-key", alias = "license_key")]
    LicenseKey,
    /// By user name and password.
    #[serde(rename = "user")]
    User,
}

/// The product the license is for.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct ProductDetails {
    /// The vendor's numeric product id, if it has one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub product_id: Option<u64>,
    /// A name for people.
    #[serde(default, skip_serializing_if = "is_default")]
    pub product_name: String,
    /// The code the product identifies itself with; the license only works for it.
    pub short_code: String,
    /// How users authorize.
    #[serde(default, skip_serializing_if = "is_default")]
    pub authorization_method: AuthorizationMethod,
    /// Free-form vendor data.
    #[serde(default, skip_serializing_if = "is_default")]
    pub metadata: Metadata,
}

/// The user of a user-based license.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default)]
#[allow(missing_docs)]
#[non_exhaustive]
pub struct LicenseUser {
    #[serde(skip_serializing_if = "is_default")]
    pub id: Option<u64>,
    #[serde(skip_serializing_if = "is_default")]
    pub email: String,
    #[serde(skip_serializing_if = "is_default")]
    pub first_name: String,
    #[serde(skip_serializing_if = "is_default")]
    pub last_name: String,
    #[serde(skip_serializing_if = "is_default")]
    pub phone_number: String,
}

/// A license file whose signature held, with its parsed document.
#[derive(Debug, Clone, PartialEq)]
pub struct LicenseFile {
    key_id: KeyId,
    license: License,
}

impl LicenseFile {
    /// Verifies an armored license file against `keyring` and parses it.
    ///
    /// The order is fixed: bound the size, decode the armor strictly, pin the
    /// algorithm and the key id, verify the signature, and only then parse
    /// the JSON payload.
    pub fn verify(input: &[u8], keyring: &Keyring) -> Result<LicenseFile> {
        let opened = armor::open(&armor::LICENSE, input, keyring)?;
        Self::from_opened(&opened)
    }

    /// Reads and verifies the license file at `path`. Reads at most the
    /// format's size bound, so a huge or endless file is refused, not loaded.
    pub fn read(path: impl AsRef<std::path::Path>, keyring: &Keyring) -> Result<LicenseFile> {
        let bytes = read_bounded(path.as_ref(), armor::LICENSE.max_len)?;
        LicenseFile::verify(&bytes, keyring)
    }

    fn from_opened(opened: &Opened) -> Result<LicenseFile> {
        let license = parse_payload(opened.payload())?;
        Ok(LicenseFile {
            key_id: opened.key_id(),
            license,
        })
    }

    /// The license a verified Keygen file maps to, as a license file of
    /// the Keygen key that verified it (feature `keygen`).
    #[cfg(feature = "keygen")]
    #[cfg_attr(docsrs, doc(cfg(feature = "keygen")))]
    pub fn from_keygen(doc: crate::format::keygen::Document) -> LicenseFile {
        LicenseFile {
            key_id: doc.key_id(),
            license: doc.into_license(),
        }
    }

    /// Decodes a license file without checking its signature (feature
    /// `issuer`), for the vendor's diagnostics. Nothing may act on the result.
    #[cfg(feature = "issuer")]
    #[cfg_attr(docsrs, doc(cfg(feature = "issuer")))]
    pub fn decode_unverified(input: &[u8]) -> Result<LicenseFile> {
        Self::from_opened(&armor::decode(&armor::LICENSE, input)?)
    }

    /// The id of the key that signed the file.
    pub fn key_id(&self) -> KeyId {
        self.key_id
    }

    /// The license document.
    pub fn license(&self) -> &License {
        &self.license
    }

    /// Takes the license document out.
    pub fn into_license(self) -> License {
        self.license
    }
}

/// Reads at most `max + 1` bytes of `path`; more than `max` is `TooLarge`.
fn read_bounded(path: &std::path::Path, max: usize) -> Result<Vec<u8>> {
    let bytes = crate::util::read_at_most(path, max as u64)
        .map_err(|e| Error::io(&e, "reading the license file"))?;
    if bytes.len() > max {
        let size = std::fs::metadata(path).map_or(0, |m| m.len());
        let len = usize::try_from(size).unwrap_or(usize::MAX).max(bytes.len());
        return Err(Error::TooLarge { len, max });
    }
    Ok(bytes)
}

/// Parses a payload that a valid signature vouched for.
fn parse_payload(payload: &[u8]) -> Result<License> {
    // UTF-8 checked once over the whole payload (std's fast ASCII path),
    // so the JSON reader does not check each string again.
    let text = std::str::from_utf8(payload)
        .map_err(|_| Error::InvalidPayload("not a license document: not UTF-8".into()))?;
    // The issuer's own form, read directly; anything else goes to serde,
    // which reads every form and says what is wrong.
    #[cfg(feature = "fast")]
    let direct = reader::read(text);
    #[cfg(not(feature = "fast"))]
    let direct = None;
    let license: License = match direct {
        Some(license) => license,
        None => serde_json::from_str(text)
            .map_err(|e| Error::InvalidPayload(format!("not a license document: {e}")))?,
    };
    if license.format != FORMAT_VERSION {
        return Err(Error::UnsupportedVersion);
    }
    license
        .consistency()
        .map_err(|rule| Error::InvalidPayload(format!("the license breaks a rule: {rule}")))?;
    Ok(license)
}

/// Timestamps: RFC 3339 out (UTC, seconds); RFC 3339 or a bare date in.
pub mod ts {
    use chrono::{DateTime, NaiveDate, SecondsFormat, Utc};
    use serde::{de, Deserializer, Serializer};

    /// `2026-01-31T00:00:00Z`.
    pub fn format(t: &DateTime<Utc>) -> String {
        t.to_rfc3339_opts(SecondsFormat::Secs, true)
    }

    /// An RFC 3339 time with whole seconds (`2026-01-31T00:00:00Z`, or any
    /// offset, converted to UTC) or a bare date (midnight UTC). One-second
    /// resolution, as docs/FORMAT.md says, held to: a fraction of a second,
    /// a leap second (`23:59:60`), a space or a lowercase `t` for the `T`,
    /// and a lowercase `z` are refused, not rounded.
    pub fn parse(s: &str) -> Option<DateTime<Utc>> {
        use chrono::Timelike as _;
        if let Some(t) = parse_canonical(s) {
            return Some(t);
        }
        let b = s.as_bytes();
        let date_shape = |d: &[u8]| {
            d.len() == 10
                && d.iter().enumerate().all(|(i, c)| {
                    if i == 4 || i == 7 {
                        *c == b'-'
                    } else {
                        c.is_ascii_digit()
                    }
                })
        };
        if b.len() == 10 {
            if !date_shape(b) {
                return None;
            }
            // The shape is checked, so the date's three numbers are digits
            // where chrono's `%Y-%m-%d` would read them (its general format
            // parser is not linked for this one use).
            let day = NaiveDate::from_ymd_opt(
                i32::try_from(digits(&b[0..4])?).ok()?,
                digits(&b[5..7])?,
                digits(&b[8..10])?,
            )?;
            return Some(day.and_hms_opt(0, 0, 0)?.and_utc());
        }
        if !date_shape(b.get(..10)?) || b[10] != b'T' || s.contains('.') || s.ends_with('z') {
            return None;
        }
        let t = DateTime::parse_from_rfc3339(s).ok()?;
        // chrono reads `23:59:60` as a second with 10^9 nanoseconds.
        (t.nanosecond() == 0).then(|| t.with_timezone(&Utc))
    }

    /// A run of at most nine ASCII digits as a number; None for anything else.
    fn digits(run: &[u8]) -> Option<u32> {
        if run.len() > 9 {
            return None;
        }
        run.iter().try_fold(0u32, |n, &d| {
            d.is_ascii_digit().then(|| n * 10 + u32::from(d - b'0'))
        })
    }

    /// The form [`format()`] writes (`2026-01-31T00:00:00Z`), read without
    /// chrono's general parser: what every signed document holds, so the
    /// common case is cheap. Anything else (other offsets, fractions, leap
    /// seconds, dates alone) is left to chrono, which decides as before.
    pub(super) fn parse_canonical(s: &str) -> Option<DateTime<Utc>> {
        let b = s.as_bytes();
        if b.len() != 20
            || b[4] != b'-'
            || b[7] != b'-'
            || b[10] != b'T'
            || b[13] != b':'
            || b[16] != b':'
            || b[19] != b'Z'
        {
            return None;
        }
        let num = |range: std::ops::Range<usize>| digits(&b[range]);
        let year = i32::try_from(num(0..4)?).ok()?;
        let (hour, minute, second) = (num(11..13)?, num(14..16)?, num(17..19)?);
        if second > 59 {
            return None; // a leap second: chrono's rules
        }
        let day = NaiveDate::from_ymd_opt(year, num(5..7)?, num(8..10)?)?;
        Some(day.and_hms_opt(hour, minute, second)?.and_utc())
    }

    /// Serde: writes [`format()`].
    pub fn serialize<S: Serializer>(t: &DateTime<Utc>, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&format(t))
    }

    /// Serde: reads what [`parse`] reads, from the string where it lies
    /// (no copy of it is made).
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<DateTime<Utc>, D::Error> {
        d.deserialize_str(Visitor)
    }

    /// What [`deserialize`] expects.
    const EXPECTED: &str = "an RFC 3339 timestamp (2026-01-31T00:00:00Z) or a date (2026-01-31)";

    struct Visitor;

    impl de::Visitor<'_> for Visitor {
        type Value = DateTime<Utc>;

        fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str(EXPECTED)
        }

        fn visit_str<E: de::Error>(self, s: &str) -> Result<Self::Value, E> {
            parse(s).ok_or_else(|| E::custom(format_args!("expected {EXPECTED}")))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn minimal() -> serde_json::Value {
        serde_json::json!({
            "format": 1,
            "id": "lic-1",
            "license_type": "perpetual",
            "product_details": {"short_code": "acme"},
            "issued_at": "2026-01-01T00:00:00Z"
        })
    }

    #[test]
    fn defaults_follow_the_documented_values() {
        let lic: License = serde_json::from_value(minimal()).unwrap();
        assert!(lic.license_enabled && lic.license_active);
        assert_eq!(lic.max_activations, 1);
        assert_eq!(lic.floating_timeout, 120);
        assert_eq!(lic.product(), "acme");
        assert!(lic.metadata.is_empty());
    }

    #[test]
    fn timestamps_accept_dates_and_offsets_and_write_utc() {
        let mut v = minimal();
        v["validity_period"] = "2027-03-16".into();
        v["start_date"] = "2026-06-01T02:00:00+02:00".into();
        let lic: License = serde_json::from_value(v).unwrap();
        assert_eq!(
            lic.validity_period.unwrap().to_string(),
            "2027-03-16T00:00:00Z"
        );
        assert_eq!(lic.start_date.unwrap().to_string(), "2026-06-01T00:00:00Z");
        let out = serde_json::to_value(&lic).unwrap();
        assert_eq!(out["validity_period"], "2027-03-16T00:00:00Z");
        let mut bad = minimal();
        bad["issued_at"] = "yesterday".into();
        assert!(serde_json::from_value::<License>(bad).is_err());
    }

    #[test]
    fn the_canonical_time_reader_agrees_with_chrono() {
        for s in [
            "2026-01-31T00:00:00Z",
            "1970-01-01T00:00:00Z",
            "9999-12-31T23:59:59Z",
            "2024-02-29T12:34:56Z",
            "2026-02-29T00:00:00Z",
            "2026-13-01T00:00:00Z",
            "2026-01-32T00:00:00Z",
            "2026-01-31T24:00:00Z",
            "2026-01-31T23:60:00Z",
            "2026-12-31T23:59:60Z",
            "2026-01-31t00:00:00Z",
            "2026-01-31T00:00:00z",
            "+026-01-31T00:00:00Z",
            "2026-0a-31T00:00:00Z",
        ] {
            let chrono = chrono::DateTime::parse_from_rfc3339(s)
                .ok()
                .map(|t| t.with_timezone(&chrono::Utc));
            let fast = ts::parse_canonical(s);
            // Where the fast reader answers, chrono answers the same.
            if fast.is_some() {
                assert_eq!(fast, chrono, "{s}");
            }
        }
    }

    /// The defaults the code fills in are the ones serde gives a document
    /// that leaves the fields out (the direct reader and the Keygen
    /// mapping start from them).
    #[test]
    fn the_built_in_defaults_are_serdes() {
        let read: License = serde_json::from_value(minimal()).unwrap();
        let built = License::with_defaults(
            "lic-1".into(),
            LicenseType::Perpetual,
            read.product_details.clone(),
            read.issued_at,
        );
        assert_eq!(built, read);
        let feature: Feature = serde_json::from_value(serde_json::json!({"code": "x"})).unwrap();
        assert_eq!(Feature::activation("x".into()), feature);
    }

    /// A bare date is read as chrono's `%Y-%m-%d` read it: every month and
    /// day from 00 to 39 over a leap year, a common one, year 0 and 9999.
    #[test]
    fn a_bare_date_is_read_as_chrono_reads_it() {
        for year in ["0000", "1900", "2000", "2024", "2026", "9999"] {
            for month in 0..40 {
                for day in 0..40 {
                    let s = format!("{year}-{month:02}-{day:02}");
                    let chrono = chrono::NaiveDate::parse_from_str(&s, "%Y-%m-%d")
                        .ok()
                        .and_then(|d| d.and_hms_opt(0, 0, 0))
                        .map(|t| t.and_utc());
                    assert_eq!(ts::parse(&s), chrono, "{s}");
                }
            }
        }
        for other in [
            "2026-1-031",
            "2026/01/31",
            "20260-1-31",
            "２０２６-01-31",
            "2026-01-3 ",
        ] {
            assert_eq!(ts::parse(other), None, "{other}");
        }
    }

    #[test]
    fn times_have_one_second_resolution_and_one_spelling_of_t_and_z() {
        for good in [
            "2026-01-31T00:00:00Z",
            "2026-01-31T02:00:00+02:00",
            "2026-01-31T00:00:00-00:30",
            "2026-01-31",
        ] {
            assert!(ts::parse(good).is_some(), "{good}");
        }
        assert_eq!(
            ts::parse("2026-01-31T02:00:00+02:00"),
            ts::parse("2026-01-31T00:00:00Z")
        );
        for bad in [
            "2026-01-31T00:00:00.5Z",
            "2026-01-31T00:00:00.000Z",
            "2016-12-31T23:59:60Z",
            "2026-01-31 00:00:00Z",
            "2026-01-31t00:00:00Z",
            "2026-01-31T00:00:00z",
            "+2026-01-31",
            "2026-1-31",
            "2026-01-31T00:00Z",
            "",
        ] {
            assert_eq!(ts::parse(bad), None, "{bad}");
        }
    }

    #[test]
    fn license_keys_never_print() {
        let key = LicenseKey::new("ABCD-EFGH-IJKL-MNOP");
        assert_eq!(format!("{key:?}"), "LicenseKey(redacted)");
        assert_eq!(key.to_string(), "****MNOP");
        let mut v = minimal();
        v["license_key"] = "ABCD-EFGH-IJKL-MNOP".into();
        let lic: License = serde_json::from_value(v).unwrap();
        assert!(!format!("{lic:?}").contains("ABCD"));
    }

    #[test]
    fn licensespring_spellings_are_read() {
        let mut v = minimal();
        v["consumption_period"] = "annualy".into();
        v["custom_fields"] =
            serde_json::json!([{"name": "seats", "data_type": "numer", "value": "5"}]);
        let lic: License = serde_json::from_value(v).unwrap();
        assert_eq!(lic.consumption_period, Some(ConsumptionPeriod::Annually));
        assert_eq!(lic.custom_fields[0].data_type, CustomFieldType::Number);
    }
}
