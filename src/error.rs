//! The one error type of the SDK, with stable numeric codes.
//!
//! The codes are part of the public contract: the C ABI returns them, the
//! Python binding maps each to an exception class, and the CLI maps them to
//! exit codes. A code, once published, never changes meaning; new variants
//! take new numbers. The table lives in `docs/ERRORS.md`.
//!
//! Messages say what was wrong and what to do about it. They never include a
//! private key, a license key or a password.

/// A failure of an SDK operation.
///
/// Payloads are small and comparable (`&'static str`, an `io::ErrorKind`), so
/// callers can match on the variant and tests can compare errors directly.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A caller passed a value the API cannot use.
    #[error("invalid argument: {0}")]
    InvalidArgument(&'static str),

    /// Reading or writing a file failed.
    #[error("i/o error ({kind}) while {context}")]
    Io {
        /// What the operating system reported.
        kind: std::io::ErrorKind,
        /// What the SDK was doing.
        context: &'static str,
    },

    /// The input is empty or holds only whitespace.
    #[error("the input is empty: expected an armored Tessera document")]
    Empty,

    /// The input is larger than the format allows.
    #[error("the input is {len} bytes, more than the {max} bytes this format allows")]
    TooLarge {
        /// The size that was given.
        len: usize,
        /// The bound for this kind of document.
        max: usize,
    },

    /// The armored text does not follow the format byte for byte.
    #[error("malformed document at line {line}: {what}")]
    Malformed {
        /// 1-based line number within the armored block (0: the whole input).
        line: usize,
        /// What was expected there.
        what: &'static str,
    },

    /// The document has a format version this SDK does not know.
    #[error("unsupported format version; upgrade the SDK to read this document")]
    UnsupportedVersion,

    /// The document names a signature algorithm other than Ed25519.
    #[error("unsupported signature algorithm; only Ed25519 is accepted")]
    UnsupportedAlgorithm,

    /// The document was signed by a key that is not in the keyring.
    #[error("signed by key id {0}, which is not in the keyring of trusted keys")]
    UnknownKeyId(String),

    /// The signature does not verify: the document was altered, or it was
    /// signed by another key with the same id.
    #[error(
        "the signature does not verify: the document was altered or not signed by the trusted key"
    )]
    BadSignature,

    /// The signature holds but the signed payload is not a valid document of
    /// this kind (a vendor-side bug, never an attacker's input).
    #[error("the signed payload is invalid: {0}")]
    InvalidPayload(String),

    /// A key could not be read or decoded.
    #[error("invalid key: {0}")]
    InvalidKey(&'static str),

    /// A license spec given to the issuer is not acceptable.
    #[error("invalid license spec: {0}")]
    InvalidSpec(String),

    /// The operation is not available on this platform or build.
    #[error("not supported: {0}")]
    Unsupported(&'static str),

    /// The local state file is damaged (truncated, garbled, or missing while
    /// its backup exists). Nothing was changed; `Store::recover` restores the
    /// last good copy.
    #[error("the local state is damaged ({0}); recover it from its backup or reactivate")]
    StoreCorrupt(&'static str),

    /// The local state file was edited: its integrity tag does not match.
    #[error(
        "the local state was modified outside Tessera; recover it from its backup or reactivate"
    )]
    StoreTampered,

    /// The local state was created on another device (copied here).
    #[error("the local state belongs to another device; activate the license on this device")]
    StoreFromOtherDevice,

    /// The local state belongs to another product.
    #[error("the local state belongs to another product")]
    StoreWrongProduct,

    /// The local state has a schema version this SDK does not know.
    #[error("the local state was written by a newer SDK; upgrade the product")]
    StoreVersion,

    /// The system clock went back further than the tolerance allows.
    #[error("the system clock is {behind_secs} s behind the last trusted time; correct the clock")]
    ClockTampered {
        /// How far behind the high-water mark of trusted time the clock is.
        behind_secs: i64,
    },

    /// No license has been activated on this device for this product.
    #[error("no license is activated on this device for this product")]
    NotActivated,

    /// The license verified but may not be used here and now.
    #[error("the license cannot be used ({status}): {reason}")]
    Unusable {
        /// The validation status.
        status: crate::validate::Status,
        /// Why, in one sentence.
        reason: String,
    },

    /// Consuming would pass the counter's limit (and overages); nothing changed.
    #[error(
        "consuming {requested} of `{counter}` would pass its limit: {used} used, {allowed} allowed"
    )]
    ConsumptionLimit {
        /// The counter's journal name.
        counter: String,
        /// Units used before this request.
        used: u64,
        /// Units requested.
        requested: u64,
        /// Units allowed in all, overages included.
        allowed: u64,
    },

    /// The license has no consumption counter of that name.
    #[error("`{0}` is not a consumption counter of this license")]
    NotConsumable(String),

    /// The consumption journal is damaged (missing, garbled header).
    #[error("the consumption journal is damaged ({0})")]
    JournalCorrupt(&'static str),

    /// A consumption journal record was edited, removed or reordered.
    #[error("the consumption journal was modified outside Tessera")]
    JournalTampered,

    /// A feature the license lacks, or whose expiry date has passed.
    #[error("feature `{0}` is not available under this license")]
    FeatureUnavailable(String),

    /// A lease that cannot serve this license on this device.
    #[error("the lease cannot be used: {0}")]
    InvalidLease(&'static str),

    /// The license does not allow borrowing.
    #[error("this license does not allow borrowing a seat")]
    BorrowNotAllowed,

    /// The borrow is longer than the license allows.
    #[error("a seat may be borrowed for at most {max_hours} hours")]
    BorrowTooLong {
        /// The license's `max_borrow_time`.
        max_hours: u32,
    },

    /// No device fact could be read, so no fingerprint can be made.
    #[error("no device identity could be read on this system; supply a custom device id")]
    FingerprintUnavailable,

    /// An offline response was imported, but no request is pending here.
    #[error("no offline request is pending on this device: write a request first")]
    OfflineNoRequest,

    /// An offline response answers another request than the pending one:
    /// an older request (a replay) or another device's.
    #[error(
        "the response answers another request (an older one, or another device's): \
         send the vendor the latest request"
    )]
    OfflineReplay,

    /// An offline response or its license is for another device.
    #[error("the response is for another device")]
    OfflineWrongDevice,

    /// A typed code has a wrong length, a character outside the alphabet,
    /// or a failing check: a typing mistake.
    #[error("the code was mistyped ({0}): check it and type it again")]
    CodeMistyped(&'static str),

    /// A well-typed confirmation code that was not made for this device,
    /// license and request.
    #[error("the confirmation code was not made for this device, license and request")]
    CodeRejected,

    /// The license must be activated with an air-gapped confirmation code.
    #[error(
        "this license is air-gapped: activate it with an initialization and confirmation code"
    )]
    AirGapped,

    /// The hardware key is not present (or none is configured).
    #[error("the hardware key is not present: plug in the token this license is bound to")]
    TokenAbsent,

    /// The token refused the PIN (wrong, locked or expired).
    #[error("the hardware key refused the PIN")]
    TokenPin,

    /// A token answered, but it is not the one the license is bound to.
    #[error("this hardware key is not the one the license is bound to")]
    TokenMismatch,

    /// The token or its PKCS#11 module failed otherwise.
    #[error("the hardware key failed: {0}")]
    TokenFailure(&'static str),

    /// The license server could not be reached, after the retries (carries
    /// what went wrong: no route, refused, timed out, a 5xx).
    #[error("the license server could not be reached ({0}); the license keeps working offline until its check-in is due")]
    Network(String),

    /// The license server answered with a signed refusal.
    #[error("the license server refused the request ({code}): {message}")]
    ServerRefused {
        /// The HTTP status.
        status: u16,
        /// The server's stable code (`activation_limit`, `no_seat_available`, ...).
        code: String,
        /// The server's message.
        message: String,
    },

    /// An answer that claims to come from the license server but is not
    /// signed by a trusted key, not for this request, or altered.
    #[error("the license server's answer was refused: {0}")]
    BadResponse(&'static str),
}

impl Error {
    /// The stable numeric code of this error (see `docs/ERRORS.md`).
    ///
    /// Codes below 100 are errors of this core; later modules take their own
    /// hundreds. Zero is reserved for success in the C ABI.
    pub fn code(&self) -> u32 {
        match self {
            Error::InvalidArgument(_) => 1,
            Error::Io { .. } => 2,
            Error::Empty => 10,
            Error::TooLarge { .. } => 11,
            Error::Malformed { .. } => 12,
            Error::UnsupportedVersion => 13,
            Error::UnsupportedAlgorithm => 14,
            Error::UnknownKeyId(_) => 15,
            Error::BadSignature => 16,
            Error::InvalidPayload(_) => 17,
            Error::InvalidKey(_) => 20,
            Error::InvalidSpec(_) => 21,
            Error::Unsupported(_) => 3,
            Error::StoreCorrupt(_) => 30,
            Error::StoreTampered => 31,
            Error::StoreFromOtherDevice => 32,
            Error::StoreWrongProduct => 33,
            Error::StoreVersion => 34,
            Error::ClockTampered { .. } => 35,
            Error::NotActivated => 36,
            Error::Unusable { .. } => 37,
            Error::ConsumptionLimit { .. } => 50,
            Error::NotConsumable(_) => 51,
            Error::JournalCorrupt(_) => 52,
            Error::JournalTampered => 53,
            Error::FeatureUnavailable(_) => 54,
            Error::InvalidLease(_) => 60,
            Error::BorrowNotAllowed => 61,
            Error::BorrowTooLong { .. } => 62,
            Error::FingerprintUnavailable => 40,
            Error::OfflineNoRequest => 70,
            Error::OfflineReplay => 71,
            Error::OfflineWrongDevice => 72,
            Error::CodeMistyped(_) => 80,
            Error::CodeRejected => 81,
            Error::AirGapped => 82,
            Error::TokenAbsent => 90,
            Error::TokenPin => 91,
            Error::TokenMismatch => 92,
            Error::TokenFailure(_) => 93,
            Error::Network(_) => 110,
            Error::ServerRefused { .. } => 111,
            Error::BadResponse(_) => 112,
        }
    }

    /// A short stable name for the code, used by bindings and logs.
    pub fn name(&self) -> &'static str {
        match self {
            Error::InvalidArgument(_) => "invalid_argument",
            Error::Io { .. } => "io",
            Error::Empty => "empty",
            Error::TooLarge { .. } => "too_large",
            Error::Malformed { .. } => "malformed",
            Error::UnsupportedVersion => "unsupported_version",
            Error::UnsupportedAlgorithm => "unsupported_algorithm",
            Error::UnknownKeyId(_) => "unknown_key_id",
            Error::BadSignature => "bad_signature",
            Error::InvalidPayload(_) => "invalid_payload",
            Error::InvalidKey(_) => "invalid_key",
            Error::InvalidSpec(_) => "invalid_spec",
            Error::Unsupported(_) => "unsupported",
            Error::StoreCorrupt(_) => "store_corrupt",
            Error::StoreTampered => "store_tampered",
            Error::StoreFromOtherDevice => "store_from_other_device",
            Error::StoreWrongProduct => "store_wrong_product",
            Error::StoreVersion => "store_version",
            Error::ClockTampered { .. } => "clock_tampered",
            Error::NotActivated => "not_activated",
            Error::Unusable { .. } => "unusable",
            Error::ConsumptionLimit { .. } => "consumption_limit",
            Error::NotConsumable(_) => "not_consumable",
            Error::JournalCorrupt(_) => "journal_corrupt",
            Error::JournalTampered => "journal_tampered",
            Error::FeatureUnavailable(_) => "feature_unavailable",
            Error::InvalidLease(_) => "invalid_lease",
            Error::BorrowNotAllowed => "borrow_not_allowed",
            Error::BorrowTooLong { .. } => "borrow_too_long",
            Error::FingerprintUnavailable => "fingerprint_unavailable",
            Error::OfflineNoRequest => "offline_no_request",
            Error::OfflineReplay => "offline_replay",
            Error::OfflineWrongDevice => "offline_wrong_device",
            Error::CodeMistyped(_) => "code_mistyped",
            Error::CodeRejected => "code_rejected",
            Error::AirGapped => "air_gapped",
            Error::TokenAbsent => "token_absent",
            Error::TokenPin => "token_pin",
            Error::TokenMismatch => "token_mismatch",
            Error::TokenFailure(_) => "token_failure",
            Error::Network(_) => "network",
            Error::ServerRefused { .. } => "server_refused",
            Error::BadResponse(_) => "bad_response",
        }
    }

    /// An I/O error with what the SDK was doing.
    pub fn io(err: &std::io::Error, context: &'static str) -> Self {
        Error::Io {
            kind: err.kind(),
            context,
        }
    }
}

/// Shorthand for results of this crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;
