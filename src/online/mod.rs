//! The online half (feature `online`): activation by license key or by
//! user, check-in, floating seats with a heart-beat thread, borrowing,
//! and the upload of consumption, against a license server speaking
//! docs/PROTOCOL.md.
//!
//! Every request is authorized with the product's shared key; every
//! answer must be signed by a key of the keyring over this request's
//! nonce, its status, its `Date` and its body, or it is refused
//! ([`Error::BadResponse`](crate::Error::BadResponse)) and changes nothing. The signed `Date` becomes
//! the clock's high-water mark, so a clock turned back is caught by the
//! server's time as well as by the device's own history, and a device
//! whose mark ran ahead (a future date, since corrected) recovers at its
//! next successful call.
//!
//! Network errors and 5xx answers are retried with exponential backoff
//! and full jitter; a 4xx is a signed refusal and is never retried
//! ([`Error::ServerRefused`](crate::Error::ServerRefused)). When the server cannot be reached
//! ([`Error::Network`](crate::Error::Network)), the license keeps working offline until its
//! check-in expiry plus its grace period, as [`crate::LicenseHandle::check`]
//! reports.

mod auto;
mod calls;
mod download;
mod session;
mod sign_in;
mod transport;

/// A release of the product that this device's license may install, as
/// [`Connection::latest_release`] answers it (the update check).
pub use crate::protocol::bodies::Release;
/// A customer account's identity provider, as [`Connection::sign_in_provider`] answers it.
pub use crate::protocol::bodies::SignInProvider;
pub use auto::{AutoSync, AutoSyncOptions, ChangeReason, StatusCallback, StatusChange};
pub use calls::{Connection, Upload, UserLicense};
pub use session::FloatingSession;
pub use sign_in::{DeviceCode, Grant, SignIn};
pub use transport::{Proxy, ServerConfig};
