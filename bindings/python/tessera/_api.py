"""The Pythonic surface over the C ABI."""

from __future__ import annotations

import ctypes
import enum
import json
import os
from ctypes import byref, c_bool, c_int64, c_size_t, c_uint32
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any, Iterable, Optional, Union

from . import _ffi, _strings
from .errors import check, error_class

lib = _ffi.lib
Bytes = Union[bytes, bytearray, memoryview, str]


def _encode(text: str) -> bytes:
    """``text`` as the C string the library takes. A NUL character would
    end it early (``"acme-cad\\0evil"`` read as ``acme-cad``), so it is
    refused, as the C++ wrapper refuses it."""
    if "\0" in text:
        # The text itself is not shown: it may be a license key or a password.
        raise error_class(1)("a string holds a NUL character, which no name, key, id or password may hold", 1)
    return text.encode("utf-8")


def _as_data(data: Bytes) -> bytes:
    return data.encode("utf-8") if isinstance(data, str) else bytes(data)


def _time(seconds: int) -> datetime:
    return datetime.fromtimestamp(seconds, tz=timezone.utc)


def _maybe_time(has: bool, seconds: int) -> Optional[datetime]:
    return _time(seconds) if has else None


def _unix(at: datetime) -> int:
    if at.tzinfo is None:
        raise ValueError("use an aware datetime (for example with tzinfo=timezone.utc)")
    return int(at.timestamp())


class Status(enum.IntEnum):
    """Whether the license may be used, and if not, why (``tessera_status``)."""

    VALID = 0
    VALID_IN_GRACE = 1
    EXPIRED = 2
    TRIAL_EXPIRED = 3
    CHECK_IN_REQUIRED = 4
    NOT_YET_VALID = 5
    DISABLED = 6
    INACTIVE = 7
    WRONG_PRODUCT = 8
    WRONG_DEVICE = 9
    CLOCK_BEHIND = 10
    VIRTUAL_MACHINE = 11
    LEASE_REQUIRED = 12
    LEASE_EXPIRED = 13

    def __str__(self) -> str:
        # Python 3.11 made an IntEnum print as its number; a status prints
        # as its stable name (``valid``, ``lease_required``, ...).
        return self.label

    @property
    def usable(self) -> bool:
        """Whether the product may run."""
        return self in (Status.VALID, Status.VALID_IN_GRACE)

    @property
    def label(self) -> str:
        """The stable short name (``valid``, ``expired``, ...)."""
        return lib.tessera_status_name(int(self)).decode()


_STATUSES = tuple(Status)
_handle_check = lib.tessera_handle_check


class FeatureState(enum.IntEnum):
    """The state of one feature."""

    ENABLED = 0
    EXPIRED = 1
    MISSING = 2
    LICENSE_UNUSABLE = 3


class LeaseKind(enum.IntEnum):
    """A floating seat or a borrowed one."""

    FLOATING = 0
    BORROW = 1


class MatchPolicy(enum.IntEnum):
    """How a stored fingerprint is compared with this device's."""

    EXACT = 0
    FUZZY = 1


@dataclass(frozen=True)
class Validation:
    """A validation report: the status, why, and the dates that matter."""

    status: Status
    reasons: list[str]
    checked_at: datetime
    valid_until: Optional[datetime]
    grace_until: Optional[datetime]
    check_in_due: Optional[datetime]
    maintenance_until: Optional[datetime]

    @property
    def usable(self) -> bool:
        return self.status.usable


@dataclass(frozen=True)
class Feature:
    """One feature's state; ``time`` is when it stops (enabled) or stopped (expired)."""

    code: str
    state: FeatureState
    time: Optional[datetime]
    license_status: Status

    @property
    def enabled(self) -> bool:
        return self.state == FeatureState.ENABLED


@dataclass(frozen=True)
class Usage:
    """A counter's usage; ``limit`` and ``remaining`` are None when unlimited."""

    used: int
    limit: Optional[int]
    remaining: Optional[int]
    overage_used: int
    overage_allowed: int
    resets_at: Optional[datetime]

    @classmethod
    def _of(cls, u: _ffi.UsageInfo) -> "Usage":
        return cls(
            used=u.used,
            limit=None if u.unlimited else u.limit,
            remaining=None if u.unlimited else u.remaining,
            overage_used=u.overage_used,
            overage_allowed=u.overage_allowed,
            resets_at=_maybe_time(u.resets, u.resets_at),
        )


@dataclass(frozen=True)
class Lease:
    """The floating or borrowed seat held on this device."""

    kind: LeaseKind
    expires_at: datetime
    time_left: timedelta

    @classmethod
    def _of(cls, info: _ffi.LeaseInfo) -> "Lease":
        return cls(LeaseKind(info.kind), _time(info.expires_at), timedelta(seconds=info.seconds_left))


class _Managed:
    """Owns one C object: ``close()``, a context manager, and ``__del__``."""

    _free = None  # the C function that frees the object (takes its address)

    def __init__(self) -> None:
        self._ptr = ctypes.c_void_p()

    def _get(self) -> ctypes.c_void_p:
        if not self._ptr:
            raise ValueError(f"this {type(self).__name__} is closed")
        return self._ptr

    def close(self) -> None:
        """Frees the C object; closing twice is harmless."""
        ptr = getattr(self, "_ptr", None)
        if ptr:
            type(self)._free(byref(ptr))

    @property
    def closed(self) -> bool:
        return not self._ptr

    def __enter__(self):
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __del__(self) -> None:
        try:
            self.close()
        except Exception:  # interpreter shutdown may have torn ctypes down
            pass


class Config(_Managed):
    """A product's configuration: product code, trusted keys, where state lives.

    Everything may be given to the constructor; ``fixed_time`` and
    ``system_root`` are for tests and support tools only. ``pkcs11_token``
    is ``(module, token_label, key_label, pin)`` for hardware-key licenses
    (the library must be built with the ``pkcs11`` feature).
    """

    _free = lib.tessera_config_free

    def __init__(
        self,
        product: str,
        *,
        public_keys: Iterable[str] = (),
        store_dir: Optional[Union[str, os.PathLike]] = None,
        secret: Optional[Bytes] = None,
        custom_device_id: Optional[str] = None,
        match_policy: Optional[tuple[MatchPolicy, int, int]] = None,
        clock_tolerance: Optional[timedelta] = None,
        fixed_time: Optional[datetime] = None,
        system_root: Optional[Union[str, os.PathLike]] = None,
        pkcs11_token: Optional[tuple[Union[str, os.PathLike], str, str, str]] = None,
    ) -> None:
        super().__init__()
        check(lib.tessera_config_new(_encode(product), byref(self._ptr)))
        for key in public_keys:
            self.add_public_key(key)
        if store_dir is not None:
            check(lib.tessera_config_set_store_dir(self._ptr, _encode(os.fspath(store_dir))))
        if secret is not None:
            data, n = _ffi.as_bytes(_as_data(secret))
            check(lib.tessera_config_set_secret(self._ptr, data, n))
        if custom_device_id is not None:
            check(lib.tessera_config_set_custom_device_id(self._ptr, _encode(custom_device_id)))
        if match_policy is not None:
            policy, max_changed, min_matching = match_policy
            check(lib.tessera_config_set_match_policy(self._ptr, int(policy), max_changed, min_matching))
        if clock_tolerance is not None:
            seconds = int(clock_tolerance.total_seconds())
            check(lib.tessera_config_set_clock_tolerance(self._ptr, seconds))
        if fixed_time is not None:
            check(lib.tessera_config_set_fixed_time(self._ptr, _unix(fixed_time)))
        if system_root is not None:
            check(lib.tessera_config_set_system_root(self._ptr, _encode(os.fspath(system_root))))
        if pkcs11_token is not None:
            module, token_label, key_label, pin = pkcs11_token
            check(
                lib.tessera_config_set_pkcs11_token(
                    self._ptr,
                    _encode(os.fspath(module)),
                    _encode(token_label),
                    _encode(key_label),
                    _encode(pin),
                )
            )

    def add_public_key(self, key: str) -> None:
        """Adds a trusted vendor public key (PEM or base64)."""
        check(lib.tessera_config_add_public_key(self._get(), _encode(key)))

    def add_keygen_key(self, key: str, keygen_product: str) -> None:
        """Trusts a Keygen account's verify key (64 hex digits) for the files
        of the Keygen product ``keygen_product``, read as this product's
        licenses (docs/MIGRATING.md)."""
        check(lib.tessera_config_add_keygen_key(self._get(), _encode(key), _encode(keygen_product)))

    def fingerprint(self) -> str:
        """This device's fingerprint id for the product (32 hex digits)."""
        return _strings.read_string(lib.tessera_fingerprint, self._get())

    def diagnose(self) -> dict[str, Any]:
        """The fingerprint's components and what VM detection found."""
        return json.loads(_strings.read_string(lib.tessera_fingerprint_diagnose, self._get()))


def activate(config: Config, license_file: Bytes) -> None:
    """Verifies ``license_file`` and activates it on this device."""
    data, n = _ffi.as_bytes(_as_data(license_file))
    check(lib.tessera_activate(config._get(), data, n))


def keygen_import(
    config: Config,
    keygen_file: Bytes,
    license_key: Optional[str] = None,
    fingerprint: Optional[str] = None,
) -> None:
    """Verifies a Keygen license or machine file with the Keygen keys of
    ``config`` and activates it on this device. ``license_key`` decrypts an
    encrypted file; ``fingerprint`` is a machine file's machine, as the
    product gave it to Keygen. Only a key derived from the license key is
    kept."""
    data, n = _ffi.as_bytes(_as_data(keygen_file))
    key = _encode(license_key) if license_key is not None else None
    fp = _encode(fingerprint) if fingerprint is not None else None
    check(lib.tessera_keygen_import(config._get(), data, n, key, fp))


def deactivate(config: Config, license_id: str) -> bool:
    """Removes ``license_id`` from this device; returns whether it was there."""
    was = c_bool(False)
    check(lib.tessera_deactivate(config._get(), _encode(license_id), byref(was)))
    return was.value


def offline_request(
    config: Config, *, license_key: Optional[str] = None, username: Optional[str] = None
) -> str:
    """Writes an offline activation request for this device (by license key
    or by user) and returns its text, to hand to the vendor. A newer
    request replaces an older one, whose response is then refused."""
    if (license_key is None) == (username is None):
        raise ValueError("give exactly one of license_key and username")
    kind, value = (0, license_key) if license_key is not None else (1, username)
    check(lib.tessera_offline_request_activation(config._get(), kind, _encode(value)))
    return _strings.read_string(lib.tessera_offline_pending_request, config._get())


def offline_pending_request(config: Config) -> Optional[str]:
    """The pending offline request's text, or None when none is pending."""
    from .errors import OfflineNoRequestError

    try:
        return _strings.read_string(lib.tessera_offline_pending_request, config._get())
    except OfflineNoRequestError:
        return None


def offline_import(config: Config, response: Bytes) -> None:
    """Imports the vendor's response to the pending request and activates
    the license in it."""
    data, n = _ffi.as_bytes(_as_data(response))
    check(lib.tessera_offline_import_response(config._get(), data, n))


def offline_deactivate(config: Config, license_id: str) -> str:
    """Removes the license from this device and returns the deactivation
    request the vendor needs to free the slot."""
    check(lib.tessera_offline_request_deactivation(config._get(), _encode(license_id)))
    return _strings.read_string(lib.tessera_offline_deactivation_request, config._get())


def airgap_initialization_code(config: Config) -> str:
    """A fresh initialization code for this device (needs a vendor secret of
    at least 16 bytes in the configuration)."""
    buf = ctypes.create_string_buffer(64)
    n = ctypes.c_size_t(0)
    check(lib.tessera_airgap_initialization_code(config._get(), buf, len(buf), byref(n)))
    return buf.raw[: n.value].decode()


def airgap_activate(config: Config, license_file: Bytes, confirmation: str) -> None:
    """Activates the air-gapped license with the typed confirmation code."""
    data, n = _ffi.as_bytes(_as_data(license_file))
    check(lib.tessera_airgap_activate(config._get(), data, n, _encode(confirmation)))


class LicenseHandle(_Managed):
    """The license activated on this device, open for checks.

    One object may be shared by several threads. Use it as a context
    manager, or call ``close()``, to free it.
    """

    _free = lib.tessera_handle_free

    def __init__(self, config: Config) -> None:
        super().__init__()
        check(lib.tessera_handle_open(config._get(), byref(self._ptr)))

    def check(self) -> Status:
        """Whether the license may be used now (the fast path: about a
        microsecond from Python, most of it the ctypes call itself). A
        floating license is ``LEASE_REQUIRED`` until this device holds a
        seat (``Connection.register``, a session, an auto-sync, or a
        borrow). Raises ``IoError`` when the state cannot take the clock's
        mark, written once a minute of use."""
        status = c_uint32(0)
        # ctypes passes a c_uint32 to a POINTER(c_uint32) parameter by
        # reference, faster than byref(); a closed handle is NULL, which the
        # C side refuses, and the slow path below turns into ValueError.
        r = _handle_check(self._ptr, status)
        if r:
            self._get()
            check(r)
        try:
            return _STATUSES[status.value]
        except IndexError:
            return Status(status.value)  # a newer library: ValueError names it

    def validate(self) -> Validation:
        """The full report: status, reasons, dates."""
        v = ctypes.c_void_p()
        check(lib.tessera_handle_validate(self._get(), byref(v)))
        try:
            status = c_uint32(0)
            check(lib.tessera_validation_status(v, byref(status)))
            reasons = _strings.read_string(lib.tessera_validation_reasons, v)
            d = _ffi.Dates()
            check(lib.tessera_validation_dates(v, byref(d)))
        finally:
            lib.tessera_validation_free(byref(v))
        return Validation(
            status=Status(status.value),
            reasons=reasons.split("\n") if reasons else [],
            checked_at=_time(d.checked_at),
            valid_until=_maybe_time(d.has_valid_until, d.valid_until),
            grace_until=_maybe_time(d.has_grace_until, d.grace_until),
            check_in_due=_maybe_time(d.has_check_in_due, d.check_in_due),
            maintenance_until=_maybe_time(d.has_maintenance_until, d.maintenance_until),
        )

    def feature(self, code: str) -> Feature:
        """The state of feature ``code``."""
        info = _ffi.FeatureInfo()
        check(lib.tessera_handle_feature(self._get(), _encode(code), byref(info)))
        return Feature(
            code=code,
            state=FeatureState(info.state),
            time=_maybe_time(info.has_time, info.time),
            license_status=Status(info.license_status),
        )

    def consume(self, amount: int = 1, feature: Optional[str] = None) -> Usage:
        """Consumes ``amount`` units of ``feature`` (the license's own counter
        when None); returns once the increment is on disk."""
        info = _ffi.UsageInfo()
        code = None if feature is None else _encode(feature)
        check(lib.tessera_handle_consume(self._get(), code, amount, byref(info)))
        return Usage._of(info)

    def usage(self, feature: Optional[str] = None) -> Usage:
        """The usage of a counter now, without consuming."""
        info = _ffi.UsageInfo()
        code = None if feature is None else _encode(feature)
        check(lib.tessera_handle_usage(self._get(), code, byref(info)))
        return Usage._of(info)

    def lease(self) -> Optional[Lease]:
        """The lease held on this device, if any."""
        held = c_bool(False)
        info = _ffi.LeaseInfo()
        check(lib.tessera_handle_lease(self._get(), byref(held), byref(info)))
        return Lease._of(info) if held.value else None

    def install_lease(self, lease: Bytes) -> Lease:
        """Installs a lease the license server granted."""
        data, n = _ffi.as_bytes(_as_data(lease))
        info = _ffi.LeaseInfo()
        check(lib.tessera_handle_install_lease(self._get(), data, n, byref(info)))
        return Lease._of(info)

    def return_borrow(self) -> None:
        """Ends a borrow early."""
        check(lib.tessera_handle_return_borrow(self._get()))

    @property
    def next_check_in(self) -> Optional[datetime]:
        """When the next check-in is due, if ever."""
        due = c_bool(False)
        at = c_int64(0)
        check(lib.tessera_handle_next_check_in(self._get(), byref(due), byref(at)))
        return _maybe_time(due.value, at.value)

    def _text(self, which: int) -> str:
        return _strings.read_string(lib.tessera_handle_license_text, self._get(), which)

    @property
    def license_id(self) -> str:
        """The license's id."""
        return self._text(0)  # TESSERA_TEXT_LICENSE_ID

    @property
    def customer(self) -> dict[str, str]:
        """The customer's email, company, first and last name and the
        vendor's reference, as far as the license names them."""
        fields = {"email": 3, "company_name": 4, "first_name": 5, "last_name": 6, "reference": 7}
        return {name: text for name, which in fields.items() if (text := self._text(which))}

    @property
    def feature_codes(self) -> list[str]:
        """The codes of the features the license lists, in its order."""
        handle = self._get()
        count = c_size_t(0)
        check(lib.tessera_handle_feature_count(handle, byref(count)))
        return [_strings.read_string(lib.tessera_handle_feature_code, handle, i) for i in range(count.value)]

    @property
    def document(self) -> dict[str, Any]:
        """The license document (id, type, customer, features, ...)."""
        return json.loads(_strings.read_string(lib.tessera_handle_license_json, self._get()))

    def save_clock(self) -> None:
        """Writes the clock's high-water mark (now and then, and at exit)."""
        check(lib.tessera_handle_save_clock(self._get()))


def version() -> str:
    """The library's version."""
    return lib.tessera_version().decode()


#: The name of the handle class before 0.2 (Rust's ``License`` is the
#: document; the handle is ``LicenseHandle`` in both). Kept as an alias.
License = LicenseHandle

__all__ = [
    "Config",
    "Feature",
    "FeatureState",
    "Lease",
    "LeaseKind",
    "License",
    "LicenseHandle",
    "MatchPolicy",
    "Status",
    "Usage",
    "Validation",
    "activate",
    "airgap_activate",
    "airgap_initialization_code",
    "deactivate",
    "keygen_import",
    "offline_deactivate",
    "offline_import",
    "offline_pending_request",
    "offline_request",
    "version",
]
