//! Hardware-key licenses: bound to a token's Ed25519 public key.
//!
//! A license with `is_hardware_key_auth` names the token's public key in
//! `hardware_key`. Every check of such a license sends a fresh random
//! challenge to the token and verifies the answer against that key, so the
//! license runs only while the token is present and unlocked. The token is
//! reached through the [`HardwareToken`] trait; [`Pkcs11Token`] (feature
//! `pkcs11`) speaks PKCS#11 to any token whose module supports CKM_EDDSA
//! (YubiHSM, Nitrokey, SoftHSM2, ...).
//!
//! The challenge is `tessera/v1/hardware-challenge\0 || license id || 0x00
//! || 32 random bytes`, signed with pure Ed25519: a signature made for one
//! license or one check never answers another.

use ed25519_dalek::Signature;

use crate::error::{Error, Result};
use crate::format::keys::PublicKey;
use crate::format::license::License;

const CHALLENGE_DOMAIN: &[u8] = b"tessera/v1/hardware-challenge\0";

/// A token that signs challenges with its Ed25519 key.
pub trait HardwareToken: Send + Sync {
    /// Signs `message` with pure Ed25519. Fails with
    /// [`Error::TokenAbsent`], [`Error::TokenPin`] or
    /// [`Error::TokenFailure`] as the case may be.
    fn sign(&self, message: &[u8]) -> Result<[u8; 64]>;
}

/// Sends a fresh challenge for `license` to `token` and verifies the answer
/// against the license's `hardware_key`. A token whose answer does not
/// verify is another token: [`Error::TokenMismatch`].
pub fn challenge(license: &License, token: Option<&dyn HardwareToken>) -> Result<()> {
    let key = license
        .hardware_key
        .as_deref()
        .ok_or_else(|| Error::InvalidPayload("the license names no hardware key".into()))?;
    let key = PublicKey::from_base64(key)?;
    let token = token.ok_or(Error::TokenAbsent)?;
    let nonce: [u8; 32] = crate::util::random_bytes()?;
    let mut message = Vec::with_capacity(CHALLENGE_DOMAIN.len() + license.id.len() + 33);
    message.extend_from_slice(CHALLENGE_DOMAIN);
    message.extend_from_slice(license.id.as_bytes());
    message.push(0);
    message.extend_from_slice(&nonce);
    let answer = token.sign(&message)?;
    key.verifying_key()
        .verify_strict(&message, &Signature::from_bytes(&answer))
        .map_err(|_| Error::TokenMismatch)
}

#[cfg(feature = "pkcs11")]
#[cfg_attr(docsrs, doc(cfg(feature = "pkcs11")))]
pub use pkcs11::Pkcs11Token;

#[cfg(feature = "pkcs11")]
mod pkcs11 {
    use std::collections::HashMap;
    use std::path::{Path, PathBuf};
    use std::sync::{Arc, Mutex, OnceLock};

    use cryptoki::context::{CInitializeArgs, Pkcs11};
    use cryptoki::error::{Error as P11Error, RvError};
    use cryptoki::mechanism::eddsa::{EddsaParams, EddsaSignatureScheme};
    use cryptoki::mechanism::Mechanism;
    use cryptoki::object::{Attribute, AttributeType, KeyType, ObjectClass};
    use cryptoki::session::{Session, UserType};
    use cryptoki::types::AuthPin;

    use super::HardwareToken;
    use crate::error::{Error, Result};
    use crate::format::keys::PublicKey;

    /// A module's context and the lock that serialises its use.
    type Module = (Pkcs11, Arc<Mutex<()>>);

    /// One initialised context per module for the whole process: PKCS#11
    /// allows one `C_Initialize` per module and process. Its lock is held
    /// from login to logout, because a PKCS#11 login belongs to the whole
    /// application: two threads logging in and out on their own would see
    /// each other's login (a wrong PIN would pass while another thread is
    /// logged in) and end each other's.
    fn module(path: &Path) -> Result<Module> {
        static MODULES: OnceLock<Mutex<HashMap<PathBuf, Module>>> = OnceLock::new();
        let mut map = MODULES
            .get_or_init(Default::default)
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        if let Some(m) = map.get(path) {
            return Ok(m.clone());
        }
        let ctx = Pkcs11::new(path)
            .map_err(|_| Error::TokenFailure("the PKCS#11 module cannot be loaded"))?;
        match ctx.initialize(CInitializeArgs::OsThreads) {
            Ok(()) | Err(P11Error::Pkcs11(RvError::CryptokiAlreadyInitialized, _)) => {}
            Err(_) => return Err(Error::TokenFailure("the PKCS#11 module did not initialise")),
        }
        let m = (ctx, Arc::new(Mutex::new(())));
        map.insert(path.to_owned(), m.clone());
        Ok(m)
    }

    fn failure(e: P11Error) -> Error {
        match e {
            P11Error::Pkcs11(RvError::PinIncorrect | RvError::PinLocked, _)
            | P11Error::Pkcs11(RvError::PinExpired | RvError::PinInvalid, _)
            | P11Error::Pkcs11(RvError::PinLenRange, _) => Error::TokenPin,
            P11Error::Pkcs11(
                RvError::TokenNotPresent | RvError::DeviceRemoved | RvError::SlotIdInvalid,
                _,
            ) => Error::TokenAbsent,
            _ => Error::TokenFailure("the token refused the operation"),
        }
    }

    /// A key on a PKCS#11 token, found by the token's label and the key's
    /// label, unlocked with the user PIN for each operation.
    pub struct Pkcs11Token {
        module: PathBuf,
        token_label: String,
        key_label: String,
        pin: String,
    }

    impl std::fmt::Debug for Pkcs11Token {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.debug_struct("Pkcs11Token")
                .field("module", &self.module)
                .field("token_label", &self.token_label)
                .field("key_label", &self.key_label)
                .field("pin", &"redacted")
                .finish()
        }
    }

    impl Pkcs11Token {
        /// The key `key_label` on the token labelled `token_label`, through
        /// the PKCS#11 module at `module` (a shared library), with the user
        /// `pin`. Nothing is opened until the token is used.
        pub fn new(
            module: impl Into<PathBuf>,
            token_label: impl Into<String>,
            key_label: impl Into<String>,
            pin: impl Into<String>,
        ) -> Pkcs11Token {
            Pkcs11Token {
                module: module.into(),
                token_label: token_label.into(),
                key_label: key_label.into(),
                pin: pin.into(),
            }
        }

        /// Runs `f` in a logged-in session on the token, holding the
        /// module's lock from login to logout.
        fn with_session<T>(&self, f: impl FnOnce(&Session) -> Result<T>) -> Result<T> {
            let (ctx, lock) = module(&self.module)?;
            let _serial = lock.lock().unwrap_or_else(|p| p.into_inner());
            let session = self.open(&ctx)?;
            let result = f(&session);
            let _ = session.logout();
            result
        }

        fn open(&self, ctx: &Pkcs11) -> Result<Session> {
            let slots = ctx.get_slots_with_token().map_err(failure)?;
            let slot = slots
                .into_iter()
                .find(|s| {
                    ctx.get_token_info(*s)
                        .is_ok_and(|t| t.label().trim_end() == self.token_label)
                })
                .ok_or(Error::TokenAbsent)?;
            let session = ctx.open_ro_session(slot).map_err(failure)?;
            let pin = AuthPin::new(self.pin.clone());
            session.login(UserType::User, Some(&pin)).map_err(failure)?;
            Ok(session)
        }

        fn find(
            &self,
            session: &Session,
            class: ObjectClass,
        ) -> Result<cryptoki::object::ObjectHandle> {
            let template = [
                Attribute::Class(class),
                Attribute::KeyType(KeyType::EC_EDWARDS),
                Attribute::Label(self.key_label.as_bytes().to_vec()),
            ];
            session
                .find_objects(&template)
                .map_err(failure)?
                .into_iter()
                .next()
                .ok_or(Error::TokenMismatch)
        }

        /// The token key's public half (to write into a license's
        /// `hardware_key`).
        pub fn public_key(&self) -> Result<PublicKey> {
            let attrs = self.with_session(|session| {
                let key = self.find(session, ObjectClass::PUBLIC_KEY)?;
                session
                    .get_attributes(key, &[AttributeType::EcPoint])
                    .map_err(failure)
            })?;
            let point = attrs
                .into_iter()
                .find_map(|a| match a {
                    Attribute::EcPoint(p) => Some(p),
                    _ => None,
                })
                .ok_or(Error::TokenFailure("the token key has no public point"))?;
            // CKA_EC_POINT is the DER OCTET STRING of the 32 bytes (some
            // modules give the bare 32 bytes).
            let raw = match point.as_slice() {
                [0x04, 0x20, rest @ ..] if rest.len() == 32 => rest,
                bare if bare.len() == 32 => bare,
                _ => return Err(Error::TokenFailure("the token key is not an Ed25519 key")),
            };
            let bytes: [u8; 32] = raw
                .try_into()
                .map_err(|_| Error::TokenFailure("the token key is not an Ed25519 key"))?;
            PublicKey::from_bytes(&bytes)
        }
    }

    impl HardwareToken for Pkcs11Token {
        fn sign(&self, message: &[u8]) -> Result<[u8; 64]> {
            let signature = self.with_session(|session| {
                let key = self.find(session, ObjectClass::PRIVATE_KEY)?;
                let mechanism = Mechanism::Eddsa(EddsaParams::new(EddsaSignatureScheme::Ed25519));
                session.sign(&mechanism, key, message).map_err(failure)
            })?;
            signature
                .try_into()
                .map_err(|_| Error::TokenFailure("the token's signature is not 64 bytes"))
        }
    }
}
