"""One exception class per Tessera error code (docs/ERRORS.md).

Every class derives from :class:`TesseraError`, which carries the numeric
``code``, its stable ``name`` and the SDK's ``message``. Messages never
contain a key, a license key or a password.
"""

from __future__ import annotations

import ctypes

from . import _ffi


class TesseraError(Exception):
    """A failed Tessera call."""

    code: int = -1
    name: str = "unknown"

    def __init__(self, message: str, code: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code
            self.name = _ffi.lib.tessera_result_name(code).decode()

    def __str__(self) -> str:
        return f"{self.name}: {self.message}"


# (code, name, class name, docstring) for every code the C ABI returns.
_TABLE = [
    (1, "invalid_argument", "InvalidArgumentError", "A value the API cannot use."),
    (2, "io", "IoError", "Reading or writing a file failed."),
    (3, "unsupported", "UnsupportedError", "Not available on this platform or build."),
    (10, "empty", "EmptyError", "The input is empty."),
    (11, "too_large", "TooLargeError", "The input is larger than its format allows."),
    (12, "malformed", "MalformedError", "The armored text does not follow the format."),
    (13, "unsupported_version", "UnsupportedVersionError", "A format version this SDK does not know."),
    (14, "unsupported_algorithm", "UnsupportedAlgorithmError", "A signature algorithm other than Ed25519."),
    (15, "unknown_key_id", "UnknownKeyIdError", "Signed by a key that is not in the keyring."),
    (16, "bad_signature", "BadSignatureError", "The signature does not verify: the document was altered."),
    (17, "invalid_payload", "InvalidPayloadError", "The signed payload is not a valid document."),
    (18, "decryption_failed", "DecryptionFailedError", "The file verified but does not decrypt with the key given."),
    (20, "invalid_key", "InvalidKeyError", "A key could not be decoded."),
    (21, "invalid_spec", "InvalidSpecError", "A license spec is invalid (vendor side)."),
    (30, "store_corrupt", "StoreCorruptError", "The local state file is damaged."),
    (31, "store_tampered", "StoreTamperedError", "The local state file was edited."),
    (32, "store_from_other_device", "StoreFromOtherDeviceError", "The local state was written on another device."),
    (33, "store_wrong_product", "StoreWrongProductError", "The state directory belongs to another product."),
    (34, "store_version", "StoreVersionError", "The state was written by a newer SDK."),
    (35, "clock_tampered", "ClockTamperedError", "The clock went back further than the tolerance."),
    (36, "not_activated", "NotActivatedError", "No license is activated on this device."),
    (37, "unusable", "UnusableError", "The license may not be used here and now."),
    (40, "fingerprint_unavailable", "FingerprintUnavailableError", "No device fact could be read."),
    (50, "consumption_limit", "ConsumptionLimitError", "Consuming would pass the limit and overages."),
    (51, "not_consumable", "NotConsumableError", "The license or feature counts no consumption."),
    (52, "journal_corrupt", "JournalCorruptError", "The consumption journal is damaged."),
    (53, "journal_tampered", "JournalTamperedError", "The consumption journal was edited."),
    (54, "feature_unavailable", "FeatureUnavailableError", "The feature is missing or expired."),
    (60, "invalid_lease", "InvalidLeaseError", "The lease cannot serve this license on this device."),
    (61, "borrow_not_allowed", "BorrowNotAllowedError", "The license does not allow borrowing."),
    (62, "borrow_too_long", "BorrowTooLongError", "The borrow is longer than the license allows."),
    (63, "delegation_untrusted", "DelegationUntrustedError", "A relay's lease is signed by a key no trusted delegation names."),
    (64, "delegation_mismatch", "DelegationMismatchError", "A relay's delegation is for another product or license."),
    (65, "delegation_expired", "DelegationExpiredError", "A relay's delegation has expired or is not valid yet."),
    (66, "lease_outside_delegation", "LeaseOutsideDelegationError", "A relay's lease is outside its delegation's scope."),
    (70, "offline_no_request", "OfflineNoRequestError", "No offline request is pending on this device."),
    (71, "offline_replay", "OfflineReplayError", "The offline response answers another (older) request."),
    (72, "offline_wrong_device", "OfflineWrongDeviceError", "The offline response is for another device."),
    (80, "code_mistyped", "CodeMistypedError", "A typed code was mistyped."),
    (81, "code_rejected", "CodeRejectedError", "The confirmation code was not made for this request."),
    (82, "air_gapped", "AirGappedError", "The license needs an air-gapped confirmation code."),
    (90, "token_absent", "TokenAbsentError", "The hardware key is not present."),
    (91, "token_pin", "TokenPinError", "The hardware key refused the PIN."),
    (92, "token_mismatch", "TokenMismatchError", "The hardware key is not the one the license is bound to."),
    (93, "token_failure", "TokenFailureError", "The hardware key or its PKCS#11 module failed."),
    (100, "null_pointer", "NullPointerError", "A required pointer was NULL (a binding bug)."),
    (101, "invalid_utf8", "InvalidUtf8Error", "A string is not valid UTF-8."),
    (102, "buffer_too_small", "BufferTooSmallError", "An output buffer was too small (a binding bug)."),
    (103, "panic", "PanicError", "The SDK panicked: a bug in Tessera; please report it."),
    (110, "network", "NetworkError", "The license server could not be reached; the license keeps working offline."),
    (111, "server_refused", "ServerRefusedError", "The license server refused the request."),
    (112, "bad_response", "BadResponseError", "The license server's answer is forged, replayed or altered."),
    (113, "download_rejected", "DownloadRejectedError", "A downloaded file is not the one its signed release names; it was deleted."),
    (114, "sign_in_failed", "SignInFailedError", "A desktop sign-in failed at the identity provider or on its way back."),
    (115, "cancelled", "CancelledError", "The call was cancelled, or its time ran out."),
    (199, "other", "OtherError", "An error this binding has no class for."),
]

_BY_CODE: dict[int, type[TesseraError]] = {}
for _code, _name, _cls, _doc in _TABLE:
    _BY_CODE[_code] = type(_cls, (TesseraError,), {"code": _code, "name": _name, "__doc__": _doc})
    globals()[_cls] = _BY_CODE[_code]

__all__ = ["TesseraError", "error_class", *(_cls for _, _, _cls, _ in _TABLE)]


def error_class(code: int) -> type[TesseraError]:
    """The exception class for ``code`` (``OtherError`` when unknown)."""
    return _BY_CODE.get(code, _BY_CODE[199])


def last_message() -> str:
    n = ctypes.c_size_t(0)
    fn = _ffi.lib.tessera_last_error_message
    if fn(None, 0, ctypes.byref(n)) != _ffi.OK or n.value == 0:
        return ""
    buf = ctypes.create_string_buffer(n.value + 1)
    if fn(buf, len(buf), ctypes.byref(n)) != _ffi.OK:
        return ""
    return buf.raw[: n.value].decode("utf-8", "replace")


def raise_last(code: int) -> None:
    """Raises the exception for ``code`` with this thread's last message."""
    cls = error_class(code)
    raise cls(last_message() or cls.__doc__ or cls.name, code)


def check(code: int) -> None:
    """Raises unless ``code`` is success."""
    if code != _ffi.OK:
        raise_last(code)
