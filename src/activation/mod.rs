//! Putting a license on this device: from a license file ([`direct`]), by
//! offline request and response files ([`offline`]), or by typed codes on an
//! air-gapped machine ([`airgap`]). The online half lives in
//! [`crate::online`].

pub mod airgap;
pub mod direct;
#[cfg(feature = "keygen")]
#[cfg_attr(docsrs, doc(cfg(feature = "keygen")))]
pub mod keygen;
pub mod offline;

use std::fmt;

/// Who activates a license: the holder of its license key, or a user of a
/// user-based license. The same for every way of activating: online
/// ([`Connection::activate`](crate::online::Connection::activate)), which
/// needs a user's password and which of their licenses, and by offline
/// request ([`offline::request_activation`]), which names the user only
/// (a password never goes into a file).
#[derive(Clone, PartialEq, Eq)]
pub enum Credential {
    /// The license key the customer received.
    LicenseKey(String),
    /// A user of a user-based license.
    User {
        /// The username (an email address).
        username: String,
        /// The password, online only: sent once, never stored.
        password: Option<String>,
        /// Which of the user's licenses, online only (from
        /// `Connection::user_licenses`).
        license_id: Option<String>,
    },
}

impl Credential {
    /// A license key.
    pub fn license_key(key: impl Into<String>) -> Credential {
        Credential::LicenseKey(key.into())
    }

    /// A user, for an offline request.
    pub fn user(username: impl Into<String>) -> Credential {
        Credential::User {
            username: username.into(),
            password: None,
            license_id: None,
        }
    }

    /// A user's license, for online activation.
    pub fn user_license(
        username: impl Into<String>,
        password: impl Into<String>,
        license_id: impl Into<String>,
    ) -> Credential {
        Credential::User {
            username: username.into(),
            password: Some(password.into()),
            license_id: Some(license_id.into()),
        }
    }
}

/// The license key and the password are never shown.
impl fmt::Debug for Credential {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Credential::LicenseKey(_) => f.write_str("LicenseKey(redacted)"),
            Credential::User {
                username,
                password,
                license_id,
            } => f
                .debug_struct("User")
                .field("username", username)
                .field("password", &password.as_ref().map(|_| "redacted"))
                .field("license_id", license_id)
                .finish(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_output_never_shows_a_key_or_a_password() {
        let shown = format!(
            "{:?} {:?}",
            Credential::license_key("SECRET-KEY"),
            Credential::user_license("ana@example.com", "hunter2", "L-1")
        );
        assert!(
            !shown.contains("SECRET-KEY") && !shown.contains("hunter2"),
            "{shown}"
        );
        assert!(
            shown.contains("ana@example.com") && shown.contains("L-1"),
            "{shown}"
        );
    }
}
