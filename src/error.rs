//! The one error type of the SDK, and the one table of result codes.
//!
//! The codes are part of the public contract: the C ABI returns them, the
//! Python binding maps each to an exception class, and the CLI maps them to
//! exit codes. A code, once published, never changes meaning; new variants
//! take new numbers. The table is [`Code`]; `docs/ERRORS.md` explains it.
//!
//! Messages say what was wrong and what to do about it. They never include a
//! private key, a license key or a password.

crate::table::numbered_table! {
    /// Every result code of Tessera, with its stable number
    /// (`Code::BadSignature as u32 == 16`).
    ///
    /// The one table behind [`Error::code`], the C header's
    /// `tessera_result` (rendered from [`Code::ALL`] by
    /// `scripts/header.sh`) and Python's exception classes (checked
    /// against the header by their tests).
    ///
    /// The ranges, one rule for every surface (docs/ERRORS.md):
    /// - `0` is success (`TESSERA_OK`), never an [`Error`];
    /// - `1..=99` are errors of the offline core, grouped by tens (arguments
    ///   and platform, documents, keys, local state and clock, device,
    ///   consumption, leases, offline and air-gapped activation, hardware keys);
    /// - `100..=109` come only from a binding's boundary (a NULL pointer, bad
    ///   UTF-8, a short buffer, a panic), never from an [`Error`];
    /// - `110..=189` are errors of later parts of the core (110: the online half);
    /// - `199` is a code a binding does not know (a newer core).
    pub enum Code {
        /// Success.
        Ok = 0, "ok", "TESSERA_OK";
        /// A caller passed a value the API cannot use.
        InvalidArgument = 1, "invalid_argument", "TESSERA_ERR_INVALID_ARGUMENT";
        /// Reading or writing a file failed.
        Io = 2, "io", "TESSERA_ERR_IO";
        /// Not available on this platform or in this build.
        Unsupported = 3, "unsupported", "TESSERA_ERR_UNSUPPORTED";
        /// The input is empty.
        Empty = 10, "empty", "TESSERA_ERR_EMPTY";
        /// The input is larger than its format allows.
        TooLarge = 11, "too_large", "TESSERA_ERR_TOO_LARGE";
        /// The armored text does not follow the format.
        Malformed = 12, "malformed", "TESSERA_ERR_MALFORMED";
        /// A format version this SDK does not know.
        UnsupportedVersion = 13, "unsupported_version", "TESSERA_ERR_UNSUPPORTED_VERSION";
        /// A signature algorithm other than Ed25519.
        UnsupportedAlgorithm = 14, "unsupported_algorithm", "TESSERA_ERR_UNSUPPORTED_ALGORITHM";
        /// Signed by a key that is not in the keyring.
        UnknownKeyId = 15, "unknown_key_id", "TESSERA_ERR_UNKNOWN_KEY_ID";
        /// The signature does not verify.
        BadSignature = 16, "bad_signature", "TESSERA_ERR_BAD_SIGNATURE";
        /// The signed payload is not a valid document of its kind.
        InvalidPayload = 17, "invalid_payload", "TESSERA_ERR_INVALID_PAYLOAD";
        /// The signature holds but the payload does not decrypt with the
        /// key given (a Keygen file: the wrong license key or fingerprint).
        DecryptionFailed = 18, "decryption_failed", "TESSERA_ERR_DECRYPTION_FAILED";
        /// A key could not be read or decoded.
        InvalidKey = 20, "invalid_key", "TESSERA_ERR_INVALID_KEY";
        /// A license spec is invalid (vendor side).
        InvalidSpec = 21, "invalid_spec", "TESSERA_ERR_INVALID_SPEC";
        /// The state file is damaged.
        StoreCorrupt = 30, "store_corrupt", "TESSERA_ERR_STORE_CORRUPT";
        /// The state file was edited.
        StoreTampered = 31, "store_tampered", "TESSERA_ERR_STORE_TAMPERED";
        /// The state file was written on another device.
        StoreFromOtherDevice = 32, "store_from_other_device", "TESSERA_ERR_STORE_FROM_OTHER_DEVICE";
        /// The state file belongs to another product.
        StoreWrongProduct = 33, "store_wrong_product", "TESSERA_ERR_STORE_WRONG_PRODUCT";
        /// The state file has a version this SDK does not know.
        StoreVersion = 34, "store_version", "TESSERA_ERR_STORE_VERSION";
        /// The clock went back further than the tolerance.
        ClockTampered = 35, "clock_tampered", "TESSERA_ERR_CLOCK_TAMPERED";
        /// No license is activated on this device for this product.
        NotActivated = 36, "not_activated", "TESSERA_ERR_NOT_ACTIVATED";
        /// The license is not usable now (the message says why).
        Unusable = 37, "unusable", "TESSERA_ERR_UNUSABLE";
        /// The device cannot be fingerprinted.
        FingerprintUnavailable = 40, "fingerprint_unavailable", "TESSERA_ERR_FINGERPRINT_UNAVAILABLE";
        /// Consuming would pass the limit and its overages.
        ConsumptionLimit = 50, "consumption_limit", "TESSERA_ERR_CONSUMPTION_LIMIT";
        /// The license or feature does not count consumption.
        NotConsumable = 51, "not_consumable", "TESSERA_ERR_NOT_CONSUMABLE";
        /// The consumption journal is damaged.
        JournalCorrupt = 52, "journal_corrupt", "TESSERA_ERR_JOURNAL_CORRUPT";
        /// The consumption journal was edited.
        JournalTampered = 53, "journal_tampered", "TESSERA_ERR_JOURNAL_TAMPERED";
        /// The feature is missing or expired.
        FeatureUnavailable = 54, "feature_unavailable", "TESSERA_ERR_FEATURE_UNAVAILABLE";
        /// A lease is invalid for this license or device.
        InvalidLease = 60, "invalid_lease", "TESSERA_ERR_INVALID_LEASE";
        /// The license does not allow borrowing.
        BorrowNotAllowed = 61, "borrow_not_allowed", "TESSERA_ERR_BORROW_NOT_ALLOWED";
        /// The borrow is longer than the license allows.
        BorrowTooLong = 62, "borrow_too_long", "TESSERA_ERR_BORROW_TOO_LONG";
        /// A relay's lease is signed by a key no delegation from a
        /// trusted key names (a self-made relay key, or a delegation this
        /// product's keyring did not sign).
        DelegationUntrusted = 63, "delegation_untrusted", "TESSERA_ERR_DELEGATION_UNTRUSTED";
        /// A relay's delegation is for another product or license than
        /// the lease or the license in use.
        DelegationMismatch = 64, "delegation_mismatch", "TESSERA_ERR_DELEGATION_MISMATCH";
        /// A relay's delegation has expired (or is not valid yet).
        DelegationExpired = 65, "delegation_expired", "TESSERA_ERR_DELEGATION_EXPIRED";
        /// A relay's lease is outside its delegation's scope: more
        /// features, longer, a borrow it does not allow, or past its end.
        LeaseOutsideDelegation = 66, "lease_outside_delegation", "TESSERA_ERR_LEASE_OUTSIDE_DELEGATION";
        /// No offline request is pending on this device.
        OfflineNoRequest = 70, "offline_no_request", "TESSERA_ERR_OFFLINE_NO_REQUEST";
        /// The offline response answers another (older) request.
        OfflineReplay = 71, "offline_replay", "TESSERA_ERR_OFFLINE_REPLAY";
        /// The offline response is for another device.
        OfflineWrongDevice = 72, "offline_wrong_device", "TESSERA_ERR_OFFLINE_WRONG_DEVICE";
        /// A typed code was mistyped.
        CodeMistyped = 80, "code_mistyped", "TESSERA_ERR_CODE_MISTYPED";
        /// The confirmation code was not made for this device, license and request.
        CodeRejected = 81, "code_rejected", "TESSERA_ERR_CODE_REJECTED";
        /// The license must be activated with an air-gapped confirmation code.
        AirGapped = 82, "air_gapped", "TESSERA_ERR_AIR_GAPPED";
        /// The hardware key is not present.
        TokenAbsent = 90, "token_absent", "TESSERA_ERR_TOKEN_ABSENT";
        /// The hardware key refused the PIN.
        TokenPin = 91, "token_pin", "TESSERA_ERR_TOKEN_PIN";
        /// The hardware key present is not the one the license is bound to.
        TokenMismatch = 92, "token_mismatch", "TESSERA_ERR_TOKEN_MISMATCH";
        /// The hardware key or its PKCS#11 module failed.
        TokenFailure = 93, "token_failure", "TESSERA_ERR_TOKEN_FAILURE";
        /// A required pointer argument was NULL.
        NullPointer = 100, "null_pointer", "TESSERA_ERR_NULL_POINTER";
        /// A string argument is not valid UTF-8.
        InvalidUtf8 = 101, "invalid_utf8", "TESSERA_ERR_INVALID_UTF8";
        /// The output buffer is too small; the size out-parameter says how
        /// many bytes are needed (without the terminating NUL).
        BufferTooSmall = 102, "buffer_too_small", "TESSERA_ERR_BUFFER_TOO_SMALL";
        /// The SDK panicked: a bug in Tessera. The call changed nothing it
        /// could roll back; report it with the last error message.
        Panic = 103, "panic", "TESSERA_ERR_PANIC";
        /// The license server could not be reached.
        Network = 110, "network", "TESSERA_ERR_NETWORK";
        /// The license server refused the request.
        ServerRefused = 111, "server_refused", "TESSERA_ERR_SERVER_REFUSED";
        /// The license server's answer is forged, replayed or altered.
        BadResponse = 112, "bad_response", "TESSERA_ERR_BAD_RESPONSE";
        /// A downloaded file is not the one its signed release names (its
        /// size or SHA-256 differs); it was deleted.
        DownloadRejected = 113, "download_rejected", "TESSERA_ERR_DOWNLOAD_REJECTED";
        /// A desktop sign-in failed at the identity provider or on its way
        /// back (the message says which); nothing was activated.
        SignInFailed = 114, "sign_in_failed", "TESSERA_ERR_SIGN_IN_FAILED";
        /// The product cancelled the call, or its time ran out; nothing
        /// changed.
        Cancelled = 115, "cancelled", "TESSERA_ERR_CANCELLED";
        /// An error this build of the C ABI does not know by number (a newer
        /// core); the message says what it was.
        Other = 199, "other", "TESSERA_ERR_OTHER";
    }
}

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

    /// The signature holds, but the payload does not decrypt with the key
    /// given: for a Keygen file, the license key (and, for a machine file,
    /// the fingerprint) is not the one it was encrypted for.
    #[error("the file verified but does not decrypt: {0}")]
    DecryptionFailed(&'static str),

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
        status: crate::status::Status,
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

    /// A relay's lease is signed by a key no trusted delegation names.
    #[error("the relay is not trusted: {0}")]
    DelegationUntrusted(&'static str),

    /// A relay's delegation is for another product or license.
    #[error("the relay's delegation does not match: {0}")]
    DelegationMismatch(&'static str),

    /// A relay's delegation has expired or is not valid yet.
    #[error("{0}")]
    DelegationExpired(&'static str),

    /// A relay's lease is outside its delegation's scope.
    #[error("the relay's lease is outside its delegation: {0}")]
    LeaseOutsideDelegation(&'static str),

    /// A downloaded file is not the one its signed release names; the
    /// download helper deleted it.
    #[error("the download was refused and deleted: {0}")]
    DownloadRejected(&'static str),

    /// A desktop sign-in failed at the identity provider or on its way
    /// back: the user declined, a code was replayed or its verifier did
    /// not match, the device code expired, or the browser's answer was not
    /// for this sign-in. Nothing was activated.
    #[error("the sign-in failed: {0}")]
    SignInFailed(String),

    /// The product cancelled the call, or the time it allowed ran out.
    #[error("cancelled: {0}")]
    Cancelled(&'static str),
}

impl Error {
    /// The stable code of this error (docs/ERRORS.md); `code() as u32` is
    /// its number, the same in the C ABI and the bindings.
    pub fn code(&self) -> Code {
        match self {
            Error::InvalidArgument(_) => Code::InvalidArgument,
            Error::Io { .. } => Code::Io,
            Error::Empty => Code::Empty,
            Error::TooLarge { .. } => Code::TooLarge,
            Error::Malformed { .. } => Code::Malformed,
            Error::UnsupportedVersion => Code::UnsupportedVersion,
            Error::UnsupportedAlgorithm => Code::UnsupportedAlgorithm,
            Error::UnknownKeyId(_) => Code::UnknownKeyId,
            Error::BadSignature => Code::BadSignature,
            Error::InvalidPayload(_) => Code::InvalidPayload,
            Error::DecryptionFailed(_) => Code::DecryptionFailed,
            Error::InvalidKey(_) => Code::InvalidKey,
            Error::InvalidSpec(_) => Code::InvalidSpec,
            Error::Unsupported(_) => Code::Unsupported,
            Error::StoreCorrupt(_) => Code::StoreCorrupt,
            Error::StoreTampered => Code::StoreTampered,
            Error::StoreFromOtherDevice => Code::StoreFromOtherDevice,
            Error::StoreWrongProduct => Code::StoreWrongProduct,
            Error::StoreVersion => Code::StoreVersion,
            Error::ClockTampered { .. } => Code::ClockTampered,
            Error::NotActivated => Code::NotActivated,
            Error::Unusable { .. } => Code::Unusable,
            Error::ConsumptionLimit { .. } => Code::ConsumptionLimit,
            Error::NotConsumable(_) => Code::NotConsumable,
            Error::JournalCorrupt(_) => Code::JournalCorrupt,
            Error::JournalTampered => Code::JournalTampered,
            Error::FeatureUnavailable(_) => Code::FeatureUnavailable,
            Error::InvalidLease(_) => Code::InvalidLease,
            Error::BorrowNotAllowed => Code::BorrowNotAllowed,
            Error::BorrowTooLong { .. } => Code::BorrowTooLong,
            Error::FingerprintUnavailable => Code::FingerprintUnavailable,
            Error::OfflineNoRequest => Code::OfflineNoRequest,
            Error::OfflineReplay => Code::OfflineReplay,
            Error::OfflineWrongDevice => Code::OfflineWrongDevice,
            Error::CodeMistyped(_) => Code::CodeMistyped,
            Error::CodeRejected => Code::CodeRejected,
            Error::AirGapped => Code::AirGapped,
            Error::TokenAbsent => Code::TokenAbsent,
            Error::TokenPin => Code::TokenPin,
            Error::TokenMismatch => Code::TokenMismatch,
            Error::TokenFailure(_) => Code::TokenFailure,
            Error::Network(_) => Code::Network,
            Error::ServerRefused { .. } => Code::ServerRefused,
            Error::BadResponse(_) => Code::BadResponse,
            Error::DelegationUntrusted(_) => Code::DelegationUntrusted,
            Error::DelegationMismatch(_) => Code::DelegationMismatch,
            Error::DelegationExpired(_) => Code::DelegationExpired,
            Error::LeaseOutsideDelegation(_) => Code::LeaseOutsideDelegation,
            Error::DownloadRejected(_) => Code::DownloadRejected,
            Error::SignInFailed(_) => Code::SignInFailed,
            Error::Cancelled(_) => Code::Cancelled,
        }
    }

    /// A short stable name for the code, used by bindings and logs.
    pub fn name(&self) -> &'static str {
        self.code().name()
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_names_and_c_names_are_unique_and_follow_the_ranges() {
        let mut names = std::collections::HashSet::new();
        let mut c_names = std::collections::HashSet::new();
        let mut last = None;
        for c in Code::ALL {
            let n = *c as u32;
            assert!(last < Some(n), "listed in order of numbers: {c:?}");
            last = Some(n);
            assert_eq!(Code::from_u32(n), Some(*c));
            assert!(names.insert(c.name()), "{c:?}");
            assert!(c_names.insert(c.c_name()), "{c:?}");
            let expected = match c {
                Code::Ok => "TESSERA_OK".to_string(),
                _ => format!("TESSERA_ERR_{}", c.name().to_uppercase()),
            };
            assert_eq!(c.c_name(), expected);
            assert!(!c.description().trim().is_empty(), "{c:?}");
            assert!(n <= 199, "{c:?}");
        }
        assert_eq!(Code::from_u32(4242), None);
    }

    #[test]
    fn every_error_has_a_code_of_the_core_ranges() {
        let errors = [
            Error::InvalidArgument("x"),
            Error::Io {
                kind: std::io::ErrorKind::Other,
                context: "x",
            },
            Error::Unsupported("x"),
            Error::Empty,
            Error::TooLarge { len: 1, max: 0 },
            Error::Malformed { line: 1, what: "x" },
            Error::UnsupportedVersion,
            Error::UnsupportedAlgorithm,
            Error::UnknownKeyId("x".into()),
            Error::BadSignature,
            Error::InvalidPayload("x".into()),
            Error::DecryptionFailed("x"),
            Error::InvalidKey("x"),
            Error::InvalidSpec("x".into()),
            Error::StoreCorrupt("x"),
            Error::StoreTampered,
            Error::StoreFromOtherDevice,
            Error::StoreWrongProduct,
            Error::StoreVersion,
            Error::NotActivated,
            Error::FingerprintUnavailable,
            Error::NotConsumable("x".into()),
            Error::JournalCorrupt("x"),
            Error::JournalTampered,
            Error::FeatureUnavailable("x".into()),
            Error::InvalidLease("x"),
            Error::BorrowNotAllowed,
            Error::ClockTampered { behind_secs: 1 },
            Error::Unusable {
                status: crate::status::Status::Expired,
                reason: "x".into(),
            },
            Error::ConsumptionLimit {
                counter: "x".into(),
                used: 1,
                requested: 1,
                allowed: 1,
            },
            Error::BorrowTooLong { max_hours: 1 },
            Error::OfflineNoRequest,
            Error::OfflineReplay,
            Error::OfflineWrongDevice,
            Error::CodeMistyped("x"),
            Error::CodeRejected,
            Error::AirGapped,
            Error::TokenAbsent,
            Error::TokenPin,
            Error::TokenMismatch,
            Error::TokenFailure("x"),
            Error::Network("x".into()),
            Error::ServerRefused {
                status: 409,
                code: "x".into(),
                message: "x".into(),
            },
            Error::BadResponse("x"),
            Error::DelegationUntrusted("x"),
            Error::DelegationMismatch("x"),
            Error::DelegationExpired("x"),
            Error::LeaseOutsideDelegation("x"),
            Error::DownloadRejected("x"),
            Error::SignInFailed("x".into()),
            Error::Cancelled("x"),
        ];
        let mut seen = std::collections::HashSet::new();
        for e in &errors {
            let n = e.code() as u32;
            assert!((1..100).contains(&n) || (110..190).contains(&n), "{e:?}");
            assert!(seen.insert(n), "two errors share {n}: {e:?}");
            assert_eq!(e.name(), e.code().name());
        }
        // Every code of the core ranges has its error.
        let core = Code::ALL
            .iter()
            .filter(|c| matches!(**c as u32, 1..=99 | 110..=189))
            .count();
        assert_eq!(core, errors.len());
    }
}
