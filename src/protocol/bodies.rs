//! The bodies of the client API's requests, and the answers the SDK reads,
//! as types: the SDK sends and reads them, the reference server reads and
//! answers with them, so the two cannot drift apart (issue 33, item 1;
//! docs/PROTOCOL.md has every call).
//!
//! A request names the product, the license (by key, or by id for a device
//! it is activated on or for a user) and the device ([`LicenseAndDevice`]);
//! a call that needs more carries it beside.

use serde::{Deserialize, Serialize};

use crate::format::fingerprint::Fingerprint;

/// A password in a request body: sent as a plain JSON string, never
/// printed (its `Debug` says `redacted`).
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[cfg_attr(feature = "schema", schemars(extend("format" = "password")))]
#[serde(transparent)]
pub struct Password(String);

impl std::fmt::Debug for Password {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Password(redacted)")
    }
}

impl Password {
    /// The password `text`.
    pub fn new(text: impl Into<String>) -> Password {
        Password(text.into())
    }

    /// The password's text, for the one place that checks it.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

/// What every call about a device's use of a license names. Its `Debug`
/// leaves the license key and the password out.
#[derive(Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[non_exhaustive]
pub struct LicenseAndDevice {
    /// The product's code (the one the request's HMAC key belongs to).
    pub product: String,
    /// The license, by its key (an activation, or a device without one).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub license_key: Option<String>,
    /// The license, by id (a device it is activated on, or a user's).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub license_id: Option<String>,
    /// A user's name, with [`LicenseAndDevice::password`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub username: Option<String>,
    /// A user's password, with [`LicenseAndDevice::username`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub password: Option<Password>,
    /// The device.
    pub fingerprint: Fingerprint,
    /// At an activation: the public key (base64) of the device's proofs
    /// on its later requests.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub device_key: Option<String>,
    /// At a desktop sign-in's activation (docs/SIGN-IN.md): the customer
    /// account whose identity provider issued [`LicenseAndDevice::id_token`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sso_account: Option<String>,
    /// The provider's `id_token` naming the user, in place of a password;
    /// sent once, never stored.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id_token: Option<Password>,
}

impl std::fmt::Debug for LicenseAndDevice {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LicenseAndDevice")
            .field("product", &self.product)
            .field(
                "license_key",
                &self.license_key.as_ref().map(|_| "redacted"),
            )
            .field("license_id", &self.license_id)
            .field("username", &self.username)
            .field("password", &self.password)
            .field("fingerprint", &self.fingerprint)
            .field("device_key", &self.device_key)
            .field("sso_account", &self.sso_account)
            .field("id_token", &self.id_token)
            .finish()
    }
}

impl LicenseAndDevice {
    /// `product` and `fingerprint`, the license not named yet.
    pub fn new(product: impl Into<String>, fingerprint: Fingerprint) -> LicenseAndDevice {
        LicenseAndDevice {
            product: product.into(),
            license_key: None,
            license_id: None,
            username: None,
            password: None,
            fingerprint,
            device_key: None,
            sso_account: None,
            id_token: None,
        }
    }
}

/// A call that names the license and the device and nothing else: the
/// activation, check-in, deactivation, and a floating seat's register,
/// heartbeat and release.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct DeviceRequest {
    /// The license and the device.
    #[serde(flatten)]
    pub who: LicenseAndDevice,
}

impl DeviceRequest {
    /// The request naming `who`.
    pub fn new(who: LicenseAndDevice) -> DeviceRequest {
        DeviceRequest { who }
    }
}

/// A borrowed seat for `hours`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct BorrowRequest {
    /// The license and the device.
    #[serde(flatten)]
    pub who: LicenseAndDevice,
    /// How long, 1 to the license's `max_borrow_time`.
    pub hours: u32,
}

impl BorrowRequest {
    /// A borrow for `hours`.
    pub fn new(who: LicenseAndDevice, hours: u32) -> BorrowRequest {
        BorrowRequest { who, hours }
    }
}

/// Consumption records to upload.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct ConsumptionRequest {
    /// The license and the device.
    #[serde(flatten)]
    pub who: LicenseAndDevice,
    /// The records, oldest first.
    pub records: Vec<ConsumptionRecord>,
}

impl ConsumptionRequest {
    /// An upload of `records`.
    pub fn new(who: LicenseAndDevice, records: Vec<ConsumptionRecord>) -> ConsumptionRequest {
        ConsumptionRequest { who, records }
    }
}

/// One range of a device's consumption journal.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct ConsumptionRecord {
    /// The range's first sequence number (default: `seq`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub first_seq: Option<u64>,
    /// The range's last sequence number.
    pub seq: u64,
    /// The counter's key.
    pub counter: String,
    /// The units the range used.
    pub amount: u64,
    /// The chain MAC of the range's last journal record (hex): tells a
    /// retry from a record of a journal that started again.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mac: Option<String>,
}

impl ConsumptionRecord {
    /// `amount` units of `counter` over the journal's `first_seq..=seq`.
    pub fn new(
        first_seq: u64,
        seq: u64,
        counter: impl Into<String>,
        amount: u64,
        mac: Option<String>,
    ) -> ConsumptionRecord {
        ConsumptionRecord {
            first_seq: Some(first_seq),
            seq,
            counter: counter.into(),
            amount,
            mac,
        }
    }
}

/// The update check.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct ReleaseRequest {
    /// The license and the device.
    #[serde(flatten)]
    pub who: LicenseAndDevice,
    /// The version installed now: only newer releases that accept it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub current_version: Option<String>,
    /// One channel's releases (all channels when left out).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub channel: Option<String>,
}

impl ReleaseRequest {
    /// The update check of `who`.
    pub fn new(
        who: LicenseAndDevice,
        current_version: Option<String>,
        channel: Option<String>,
    ) -> ReleaseRequest {
        ReleaseRequest {
            who,
            current_version,
            channel,
        }
    }
}

/// A trial license key for a device.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct TrialRequest {
    /// The product's code.
    pub product: String,
    /// The device.
    pub fingerprint: Fingerprint,
    /// Who asks, kept in the trial license's metadata.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
}

impl TrialRequest {
    /// A trial of `product` for the device `fingerprint`.
    pub fn new(
        product: impl Into<String>,
        fingerprint: Fingerprint,
        email: Option<String>,
    ) -> TrialRequest {
        TrialRequest {
            product: product.into(),
            fingerprint,
            email,
        }
    }
}

/// A user's licenses of a product.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct UserLicensesRequest {
    /// The product's code.
    pub product: String,
    /// The user's name.
    pub username: String,
    /// The user's password.
    pub password: Password,
}

impl UserLicensesRequest {
    /// The licenses of `username` for `product`.
    pub fn new(
        product: impl Into<String>,
        username: impl Into<String>,
        password: Password,
    ) -> UserLicensesRequest {
        UserLicensesRequest {
            product: product.into(),
            username: username.into(),
            password,
        }
    }
}

/// A relay's request for a delegation, online (docs/RELAY.md): the pool
/// license's key and the relay's signed request (FORMAT.md section 14).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct RelayDelegateRequest {
    /// The product's code.
    pub product: String,
    /// The pool license's key.
    pub license_key: Password,
    /// The relay's armored request (`relay.request`).
    pub request: String,
}

impl RelayDelegateRequest {
    /// The request of the relay that wrote `request` for `license_key`.
    pub fn new(
        product: impl Into<String>,
        license_key: &str,
        request: impl Into<String>,
    ) -> RelayDelegateRequest {
        RelayDelegateRequest {
            product: product.into(),
            license_key: Password::new(license_key),
            request: request.into(),
        }
    }
}

/// The vendor's answer to a relay: the delegation and the pool license
/// file, one armored document after the other (`tessera-relay import`
/// reads it).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[non_exhaustive]
pub struct RelayGrantAnswer {
    /// The grant's text.
    pub grant: String,
}

impl RelayGrantAnswer {
    /// The answer holding `grant`.
    pub fn new(grant: impl Into<String>) -> RelayGrantAnswer {
        RelayGrantAnswer {
            grant: grant.into(),
        }
    }
}

/// A relay's usage record, uploaded (or imported by the vendor).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct RelayUsageRequest {
    /// The product's code (the admin import may leave it out).
    #[serde(default)]
    pub product: String,
    /// The armored usage record, signed by the relay's key.
    pub usage: String,
}

impl RelayUsageRequest {
    /// The upload of `usage` for `product`.
    pub fn new(product: impl Into<String>, usage: impl Into<String>) -> RelayUsageRequest {
        RelayUsageRequest {
            product: product.into(),
            usage: usage.into(),
        }
    }
}

/// What the server kept of a usage record.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[non_exhaustive]
pub struct RelayUsageAnswer {
    /// The license the relay serves.
    pub license_id: String,
    /// The days recorded (each replaces what an earlier upload said of it).
    pub days: u32,
}

impl RelayUsageAnswer {
    /// `days` days of `license_id`'s relay kept.
    pub fn new(license_id: impl Into<String>, days: u32) -> RelayUsageAnswer {
        RelayUsageAnswer {
            license_id: license_id.into(),
            days,
        }
    }
}

/// A desktop sign-in's first question: which identity provider signs in
/// `who` (an e-mail address, or the customer account's code).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct SignInProviderRequest {
    /// The product's code.
    pub product: String,
    /// The user's e-mail address, or the customer account's code.
    pub who: String,
}

impl SignInProviderRequest {
    /// The provider of `who` for `product`.
    pub fn new(product: impl Into<String>, who: impl Into<String>) -> SignInProviderRequest {
        SignInProviderRequest {
            product: product.into(),
            who: who.into(),
        }
    }
}

/// The customer account's identity provider, as a desktop product needs
/// it: no secret, only what a native app (a public client) sends.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[cfg_attr(feature = "schema", schemars(deny_unknown_fields))]
#[non_exhaustive]
pub struct SignInProvider {
    /// The customer account.
    pub account: String,
    /// The provider's issuer.
    pub issuer: String,
    /// The native app's client id at the provider.
    pub client_id: String,
    /// Where the browser signs in (authorization code with PKCE); empty
    /// when the account offers no browser sign-in.
    pub authorization_endpoint: String,
    /// Where a device without a browser asks for a code (RFC 8628); empty
    /// when the account offers none.
    pub device_authorization_endpoint: String,
    /// Where a code is exchanged for tokens.
    pub token_endpoint: String,
    /// The scopes to ask for, space-separated.
    pub scopes: String,
    /// The grants this account allows a desktop: `browser`, `device`.
    pub grants: Vec<String>,
}

impl SignInProvider {
    /// An account's provider.
    pub fn new(
        account: impl Into<String>,
        issuer: impl Into<String>,
        client_id: impl Into<String>,
        token_endpoint: impl Into<String>,
    ) -> SignInProvider {
        SignInProvider {
            account: account.into(),
            issuer: issuer.into(),
            client_id: client_id.into(),
            authorization_endpoint: String::new(),
            device_authorization_endpoint: String::new(),
            token_endpoint: token_endpoint.into(),
            scopes: "openid email".into(),
            grants: Vec::new(),
        }
    }
}

/// An offline request file handed to the server (by a vendor's tool or a
/// portal) for its answer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct OfflineRequest {
    /// The product's code.
    pub product: String,
    /// The armored request file the device wrote.
    pub request: String,
    /// For a user's request: the password.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub password: Option<Password>,
    /// For a user's request: which license, when the user has several.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub license_id: Option<String>,
}

/// The answer that carries a license file (activation, check-in).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[cfg_attr(feature = "schema", schemars(deny_unknown_fields))]
#[non_exhaustive]
pub struct LicenseFileAnswer {
    /// The armored license file, bound to the device.
    pub license_file: String,
}

/// The answer that carries a lease (register, heartbeat, borrow).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[cfg_attr(feature = "schema", schemars(deny_unknown_fields))]
#[non_exhaustive]
pub struct LeaseAnswer {
    /// The armored lease.
    pub lease: String,
    /// Seats held with this one (register and borrow).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub seats_used: Option<u32>,
    /// The license's floating seats.
    pub seats_total: u32,
}

/// The answer to a trial key request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[cfg_attr(feature = "schema", schemars(deny_unknown_fields))]
#[non_exhaustive]
pub struct TrialKeyAnswer {
    /// The trial license's key.
    pub license_key: String,
    /// The trial license's id.
    pub license_id: String,
    /// When a trial made now ends (RFC 3339); left out for an earlier one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub validity_period: Option<String>,
    /// Whether the trial was made now (false: the device's earlier one).
    pub new: bool,
}

/// The answer to a consumption upload.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[cfg_attr(feature = "schema", schemars(deny_unknown_fields))]
#[non_exhaustive]
pub struct ConsumptionAnswer {
    /// The records the server had not seen before.
    pub accepted: u64,
    /// Of the accepted records, those whose sequence number another record
    /// had taken (the device's journal started again): each opened the
    /// device's next journal epoch and was counted.
    #[serde(default)]
    pub conflicts: u64,
    /// Each counter's total on the server after the upload.
    #[serde(default)]
    pub totals: std::collections::BTreeMap<String, u64>,
}

/// The answer to an offline request file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[cfg_attr(feature = "schema", schemars(deny_unknown_fields))]
#[non_exhaustive]
pub struct OfflineAnswer {
    /// The armored response file for the device.
    pub response: String,
}

/// A user as the server shows one: never the password's hash.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[cfg_attr(feature = "schema", schemars(deny_unknown_fields))]
#[non_exhaustive]
pub struct User {
    /// The user's id.
    pub id: String,
    /// The name the user signs in with.
    pub username: String,
    /// The user's email address.
    pub email: String,
    /// The user's first name (may be empty).
    pub first_name: String,
    /// The user's last name (may be empty).
    pub last_name: String,
    /// The licenses assigned to the user, where the call lists them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub licenses: Option<Vec<String>>,
}

impl User {
    /// User `id`, signing in as `username`.
    pub fn new(
        id: impl Into<String>,
        username: impl Into<String>,
        email: impl Into<String>,
        first_name: impl Into<String>,
        last_name: impl Into<String>,
    ) -> User {
        User {
            id: id.into(),
            username: username.into(),
            email: email.into(),
            first_name: first_name.into(),
            last_name: last_name.into(),
            licenses: None,
        }
    }
}

/// One of a user's licenses, as the user's licenses call answers them
/// (seed 003's license object): the license as its file says it, what the
/// server counts of it, and the user.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[non_exhaustive]
pub struct UserLicenseAnswer {
    /// The license's fields (docs/FORMAT.md), without its key: a user's
    /// license is activated by id.
    #[serde(flatten)]
    pub license: serde_json::Map<String, serde_json::Value>,
    /// Devices it is activated on.
    pub times_activated: u32,
    /// Transfers used.
    pub transfer_count: u32,
    /// False when the vendor disabled it.
    pub license_enabled: bool,
    /// Seats held now, for a floating license.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub floating_in_use_devices: Option<u32>,
    /// The user it is assigned to.
    pub user: User,
}

impl UserLicenseAnswer {
    /// License `license` (its fields) of `user`, with the server's counts.
    pub fn new(
        license: serde_json::Map<String, serde_json::Value>,
        times_activated: u32,
        transfer_count: u32,
        license_enabled: bool,
        user: User,
    ) -> UserLicenseAnswer {
        UserLicenseAnswer {
            license,
            times_activated,
            transfer_count,
            license_enabled,
            floating_in_use_devices: None,
            user,
        }
    }
}

/// The answer to a deactivation: the device's slot is free.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[cfg_attr(feature = "schema", schemars(deny_unknown_fields))]
#[non_exhaustive]
pub struct DeactivateAnswer {
    /// Always true: a refusal is an error instead.
    pub deactivated: bool,
    /// The license, for an offline request's deactivation (which names
    /// the license only inside the request file).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub license_id: Option<String>,
}

impl DeactivateAnswer {
    /// A deactivation done; `license_id` for an offline request's.
    pub fn new(license_id: Option<String>) -> DeactivateAnswer {
        DeactivateAnswer {
            deactivated: true,
            license_id,
        }
    }
}

/// The answer to a floating seat's release.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[cfg_attr(feature = "schema", schemars(deny_unknown_fields))]
#[non_exhaustive]
pub struct ReleasedAnswer {
    /// Whether the device held a seat that is now free (false: it held
    /// none, which is not an error).
    pub released: bool,
}

impl ReleasedAnswer {
    /// `released`: whether a seat came free.
    pub fn new(released: bool) -> ReleasedAnswer {
        ReleasedAnswer { released }
    }
}

/// A release of a product, as the update check and the admin API answer
/// it. Fields may be added as the server learns them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[cfg_attr(feature = "schema", schemars(deny_unknown_fields))]
#[non_exhaustive]
pub struct Release {
    /// The product's code.
    #[serde(default)]
    pub product: String,
    /// The channel it was published in (`stable` unless the vendor said).
    pub channel: String,
    /// A dotted number, such as `2.1.0`.
    pub version: String,
    /// The environment it is built for (empty when the vendor gave none).
    pub environment: String,
    /// When it was published, RFC 3339.
    #[cfg_attr(feature = "schema", schemars(extend("format" = "date-time")))]
    pub release_date: String,
    /// The version a device must have installed to take it (empty: any).
    pub requires_version: String,
    /// Where to download it.
    pub installation_file: String,
    /// The file's MD5, 32 hexadecimal digits (empty when the vendor gave
    /// none). Shown for seed 003's answer only; nothing verifies with it.
    #[cfg_attr(feature = "schema", schemars(regex(pattern = "^([0-9a-f]{32})?$")))]
    pub hash_md5: String,
    /// The file's size in bytes.
    pub size: u64,
    /// The file's SHA-256, 64 lowercase hexadecimal digits (empty for a
    /// release published without one).
    #[serde(default)]
    #[cfg_attr(feature = "schema", schemars(regex(pattern = "^([0-9a-f]{64})?$")))]
    pub sha256: String,
    /// The vendor's signed release (`TESSERA RELEASE`, docs/FORMAT.md):
    /// product, version, channel, file name, size and SHA-256, which the
    /// download helper checks the file against. Empty for a release
    /// published without one: such a release cannot be downloaded by the
    /// helper.
    #[serde(default)]
    pub manifest: String,
    /// The licence agreement (empty when none).
    pub eula_link: String,
    /// The release notes (empty when none).
    pub release_notes_link: String,
}

impl Release {
    /// Release `version` of `product` in `channel`, published at
    /// `release_date` (RFC 3339): `installation_file` of `size` bytes
    /// whose MD5 is `hash_md5`. The other fields start empty.
    pub fn new(
        product: impl Into<String>,
        channel: impl Into<String>,
        version: impl Into<String>,
        release_date: impl Into<String>,
        installation_file: impl Into<String>,
        hash_md5: impl Into<String>,
        size: u64,
    ) -> Release {
        Release {
            product: product.into(),
            channel: channel.into(),
            version: version.into(),
            environment: String::new(),
            release_date: release_date.into(),
            requires_version: String::new(),
            installation_file: installation_file.into(),
            hash_md5: hash_md5.into(),
            size,
            sha256: String::new(),
            manifest: String::new(),
            eula_link: String::new(),
            release_notes_link: String::new(),
        }
    }
}

/// The answer to the update check.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[cfg_attr(feature = "schema", schemars(deny_unknown_fields))]
#[non_exhaustive]
pub struct LatestReleaseAnswer {
    /// The newest release the license may install; null when none.
    pub release: Option<Release>,
}

impl LatestReleaseAnswer {
    /// The answer naming `release`.
    pub fn new(release: Option<Release>) -> LatestReleaseAnswer {
        LatestReleaseAnswer { release }
    }
}

impl LicenseFileAnswer {
    /// The answer carrying `license_file`.
    pub fn new(license_file: String) -> LicenseFileAnswer {
        LicenseFileAnswer { license_file }
    }
}

impl OfflineAnswer {
    /// The answer carrying `response`.
    pub fn new(response: String) -> OfflineAnswer {
        OfflineAnswer { response }
    }
}

impl LeaseAnswer {
    /// The answer carrying `lease`, of `seats_total` seats (`seats_used`
    /// held with it, where the call counted them).
    pub fn new(lease: String, seats_used: Option<u32>, seats_total: u32) -> LeaseAnswer {
        LeaseAnswer {
            lease,
            seats_used,
            seats_total,
        }
    }
}

impl TrialKeyAnswer {
    /// A trial's key and id; `validity_period` for a trial made now.
    pub fn new(
        license_key: String,
        license_id: String,
        validity_period: Option<String>,
        new: bool,
    ) -> TrialKeyAnswer {
        TrialKeyAnswer {
            license_key,
            license_id,
            validity_period,
            new,
        }
    }
}

impl ConsumptionAnswer {
    /// What an upload kept.
    pub fn new(
        accepted: u64,
        conflicts: u64,
        totals: std::collections::BTreeMap<String, u64>,
    ) -> ConsumptionAnswer {
        ConsumptionAnswer {
            accepted,
            conflicts,
            totals,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_request_prints_neither_its_license_key_nor_its_password() {
        let mut who = LicenseAndDevice::new(
            "acme",
            Fingerprint {
                id: "d".into(),
                components: Default::default(),
            },
        );
        who.license_key = Some("TSRA-SECRET-KEY".into());
        who.password = Some(Password::new("hunter2-secret"));
        let printed = format!("{:?}", DeviceRequest::new(who));
        assert!(!printed.contains("SECRET"), "{printed}");
        assert!(!printed.contains("hunter2"), "{printed}");
    }

    #[test]
    fn what_is_not_set_is_not_sent() {
        let who = LicenseAndDevice::new(
            "acme",
            Fingerprint {
                id: "d".into(),
                components: Default::default(),
            },
        );
        let sent = serde_json::to_value(BorrowRequest::new(who, 8)).unwrap_or_default();
        assert_eq!(
            sent,
            serde_json::json!({"product": "acme", "fingerprint": {"id": "d", "components": {}},
                               "hours": 8})
        );
    }
}
