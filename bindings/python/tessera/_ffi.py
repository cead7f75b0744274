"""Loading the Tessera C library and declaring every function it exports.

The library is found the way packaged software needs (never from the
current directory):

1. inside this package (``pip install`` puts it there);
2. the path in the ``TESSERA_LIBRARY`` environment variable;
3. the repository's build tree (``target/{debug,release}``), when the
   package is used from a source checkout.

Every function gets ``argtypes`` and ``restype``. The library is loaded with
``ctypes.CDLL``, which releases the GIL around each call, so a call that
blocks (a consumption waiting for the disk or for another process's lock)
lets other Python threads run.
"""

from __future__ import annotations

import ctypes
import os
import sys
from ctypes import (
    POINTER,
    Structure,
    c_bool,
    c_char,
    c_char_p,
    c_int64,
    c_size_t,
    c_uint8,
    c_uint32,
    c_uint64,
    c_void_p,
)
from pathlib import Path

ABI_VERSION = 5
"""The C ABI version this binding was written for (``TESSERA_ABI_VERSION``)."""

if sys.platform == "darwin":
    _LIB_NAME = "libtessera.dylib"
elif sys.platform == "win32":
    _LIB_NAME = "tessera.dll"
else:
    _LIB_NAME = "libtessera.so"


def _candidates() -> list[Path]:
    here = Path(__file__).resolve().parent
    found = [here / _LIB_NAME]
    env = os.environ.get("TESSERA_LIBRARY")
    if env:
        found.append(Path(env).resolve())
    # bindings/python/tessera/_ffi.py -> the repository root
    root = here.parent.parent.parent
    if (root / "Cargo.toml").is_file():
        found += [root / "target" / p / _LIB_NAME for p in ("debug", "release", "dist")]
    return found


def _load() -> ctypes.CDLL:
    tried = []
    for path in _candidates():
        if path.is_file():
            return ctypes.CDLL(str(path))
        tried.append(str(path))
    raise ImportError(
        "the Tessera library was not found; install the package with pip, "
        "or set TESSERA_LIBRARY to the path of " + _LIB_NAME + ". Looked in: " + ", ".join(tried)
    )


lib = _load()

# Opaque objects are plain pointers.
config_p = c_void_p
handle_p = c_void_p
validation_p = c_void_p
result_t = c_uint32
status_t = c_uint32


class FeatureInfo(Structure):
    _fields_ = [
        ("state", c_uint32),
        ("has_time", c_bool),
        ("time", c_int64),
        ("license_status", c_uint32),
    ]


class UsageInfo(Structure):
    _fields_ = [
        ("used", c_uint64),
        ("unlimited", c_bool),
        ("limit", c_uint64),
        ("remaining", c_uint64),
        ("overage_used", c_uint64),
        ("overage_allowed", c_uint64),
        ("resets", c_bool),
        ("resets_at", c_int64),
    ]


class LeaseInfo(Structure):
    _fields_ = [
        ("kind", c_uint32),
        ("expires_at", c_int64),
        ("seconds_left", c_int64),
    ]


class Dates(Structure):
    _fields_ = [
        ("checked_at", c_int64),
        ("has_valid_until", c_bool),
        ("valid_until", c_int64),
        ("has_grace_until", c_bool),
        ("grace_until", c_int64),
        ("has_check_in_due", c_bool),
        ("check_in_due", c_int64),
        ("has_maintenance_until", c_bool),
        ("maintenance_until", c_int64),
    ]


class Upload(Structure):
    _fields_ = [
        ("sent", c_uint64),
        ("accepted", c_uint64),
        ("acknowledged", c_uint64),
    ]


#: ``tessera_status_callback``: user data, old status, new status, reason.
StatusCallback = ctypes.CFUNCTYPE(None, ctypes.c_void_p, c_uint32, c_uint32, c_char_p)


class AutoSyncOptions(Structure):
    _fields_ = [
        ("interval_secs", c_uint32),
        ("heartbeat_secs", c_uint32),
        ("no_seat", c_bool),
        ("retry_secs", c_uint32),
        ("watch_secs", c_uint32),
        ("stop_timeout_ms", c_uint32),
        ("on_change", StatusCallback),
        ("user_data", ctypes.c_void_p),
    ]


#: ``tessera_sign_in_show``: user data, URL, user code (NULL for a browser).
SignInShow = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.c_void_p, c_char_p, c_char_p)
#: ``tessera_cancel_callback``: user data; nonzero cancels.
CancelCallback = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.c_void_p)

#: ``tessera_log_callback``: user data, level, target, message.
LogCallback = ctypes.CFUNCTYPE(None, ctypes.c_void_p, c_uint32, c_char_p, c_char_p)

server_p = ctypes.c_void_p
connection_p = ctypes.c_void_p
session_p = ctypes.c_void_p
auto_sync_p = ctypes.c_void_p

_bytes = POINTER(c_uint8)
_str_out = [POINTER(c_char), c_size_t, POINTER(c_size_t)]

_SIGNATURES = {
    # info
    "tessera_version": ([], c_char_p),
    "tessera_abi_version": ([], c_uint32),
    "tessera_result_name": ([c_uint32], c_char_p),
    "tessera_status_name": ([c_uint32], c_char_p),
    "tessera_last_error_code": ([], result_t),
    "tessera_last_error_message": (_str_out, result_t),
    # config
    "tessera_config_new": ([c_char_p, POINTER(config_p)], result_t),
    "tessera_config_free": ([POINTER(config_p)], None),
    "tessera_config_add_public_key": ([config_p, c_char_p], result_t),
    "tessera_config_add_keygen_key": ([config_p, c_char_p, c_char_p], result_t),
    "tessera_config_set_store_dir": ([config_p, c_char_p], result_t),
    "tessera_config_set_secret": ([config_p, _bytes, c_size_t], result_t),
    "tessera_config_set_custom_device_id": ([config_p, c_char_p], result_t),
    "tessera_config_set_match_policy": ([config_p, c_uint32, c_uint32, c_uint32], result_t),
    "tessera_config_set_clock_tolerance": ([config_p, c_int64], result_t),
    "tessera_config_set_fixed_time": ([config_p, c_int64], result_t),
    "tessera_config_set_system_root": ([config_p, c_char_p], result_t),
    "tessera_config_set_pkcs11_token": ([config_p, c_char_p, c_char_p, c_char_p, c_char_p], result_t),
    # activation and device
    "tessera_activate": ([config_p, _bytes, c_size_t], result_t),
    "tessera_keygen_import": ([config_p, _bytes, c_size_t, c_char_p, c_char_p], result_t),
    "tessera_deactivate": ([config_p, c_char_p, POINTER(c_bool)], result_t),
    "tessera_fingerprint": ([config_p, *_str_out], result_t),
    "tessera_fingerprint_diagnose": ([config_p, *_str_out], result_t),
    # handle
    "tessera_handle_open": ([config_p, POINTER(handle_p)], result_t),
    "tessera_handle_free": ([POINTER(handle_p)], None),
    "tessera_handle_check": ([handle_p, POINTER(status_t)], result_t),
    "tessera_handle_validate": ([handle_p, POINTER(validation_p)], result_t),
    "tessera_handle_feature": ([handle_p, c_char_p, POINTER(FeatureInfo)], result_t),
    "tessera_handle_consume": ([handle_p, c_char_p, c_uint64, POINTER(UsageInfo)], result_t),
    "tessera_handle_usage": ([handle_p, c_char_p, POINTER(UsageInfo)], result_t),
    "tessera_handle_lease": ([handle_p, POINTER(c_bool), POINTER(LeaseInfo)], result_t),
    "tessera_handle_install_lease": ([handle_p, _bytes, c_size_t, POINTER(LeaseInfo)], result_t),
    "tessera_handle_return_borrow": ([handle_p], result_t),
    "tessera_handle_next_check_in": ([handle_p, POINTER(c_bool), POINTER(c_int64)], result_t),
    "tessera_handle_license_json": ([handle_p, *_str_out], result_t),
    "tessera_handle_license_text": ([handle_p, c_uint32, *_str_out], result_t),
    "tessera_handle_feature_count": ([handle_p, POINTER(c_size_t)], result_t),
    "tessera_handle_feature_code": ([handle_p, c_size_t, *_str_out], result_t),
    "tessera_handle_save_clock": ([handle_p], result_t),
    # offline files and air-gapped codes
    "tessera_offline_request_activation": ([config_p, c_uint32, c_char_p], result_t),
    "tessera_offline_pending_request": ([config_p, *_str_out], result_t),
    "tessera_offline_import_response": ([config_p, _bytes, c_size_t], result_t),
    "tessera_offline_request_deactivation": ([config_p, c_char_p], result_t),
    "tessera_offline_deactivation_request": ([config_p, *_str_out], result_t),
    "tessera_airgap_initialization_code": ([config_p, *_str_out], result_t),
    "tessera_airgap_activate": ([config_p, _bytes, c_size_t, c_char_p], result_t),
    # validation
    "tessera_validation_free": ([POINTER(validation_p)], None),
    "tessera_validation_status": ([validation_p, POINTER(status_t)], result_t),
    "tessera_validation_reasons": ([validation_p, *_str_out], result_t),
    "tessera_validation_dates": ([validation_p, POINTER(Dates)], result_t),
    # the license server (C ABI 3); every tessera_online_* call blocks, with
    # the GIL released (CDLL)
    "tessera_server_new": ([c_char_p, _bytes, c_size_t, POINTER(server_p)], result_t),
    "tessera_server_free": ([POINTER(server_p)], None),
    "tessera_server_set_pinned_ca": ([server_p, c_char_p], result_t),
    "tessera_server_set_proxy": ([server_p, c_uint32, c_char_p], result_t),
    "tessera_server_set_limits": ([server_p, c_uint32, c_uint32, c_uint32, c_uint32], result_t),
    "tessera_connection_new": ([config_p, server_p, POINTER(connection_p)], result_t),
    "tessera_connection_free": ([POINTER(connection_p)], None),
    "tessera_online_activate_key": ([connection_p, c_char_p], result_t),
    "tessera_online_activate_user": ([connection_p, c_char_p, c_char_p, c_char_p], result_t),
    "tessera_online_user_licenses": ([connection_p, c_char_p, c_char_p, *_str_out], result_t),
    "tessera_online_latest_release": ([connection_p, c_char_p, c_char_p, *_str_out], result_t),
    "tessera_online_download_release": ([connection_p, c_char_p, c_char_p, *_str_out], result_t),
    "tessera_online_sign_in": (
        [connection_p, c_char_p, c_uint32, c_char_p, SignInShow, CancelCallback, ctypes.c_void_p],
        result_t,
    ),
    "tessera_online_trial_key": ([connection_p, c_char_p, *_str_out], result_t),
    "tessera_online_check_in": ([connection_p], result_t),
    "tessera_online_sync": ([connection_p, handle_p], result_t),
    "tessera_online_deactivate": ([connection_p], result_t),
    "tessera_online_register": ([connection_p, handle_p, POINTER(LeaseInfo)], result_t),
    "tessera_online_heartbeat": ([connection_p, handle_p, POINTER(LeaseInfo)], result_t),
    "tessera_online_release": ([connection_p], result_t),
    "tessera_online_borrow": ([connection_p, handle_p, c_uint32, POINTER(LeaseInfo)], result_t),
    "tessera_online_return_borrow": ([connection_p, handle_p], result_t),
    "tessera_online_upload_consumption": ([connection_p, handle_p, POINTER(Upload)], result_t),
    "tessera_session_open": ([connection_p, handle_p, c_uint32, POINTER(session_p)], result_t),
    "tessera_session_beat": ([session_p, POINTER(LeaseInfo)], result_t),
    "tessera_session_close": ([POINTER(session_p)], result_t),
    "tessera_session_free": ([POINTER(session_p)], None),
    "tessera_auto_sync_start": (
        [connection_p, handle_p, POINTER(AutoSyncOptions), POINTER(auto_sync_p)],
        result_t,
    ),
    "tessera_auto_sync_now": ([auto_sync_p], result_t),
    "tessera_auto_sync_record": (
        [auto_sync_p, POINTER(c_uint64), POINTER(c_uint64), POINTER(result_t)],
        result_t,
    ),
    "tessera_auto_sync_stop": ([POINTER(auto_sync_p)], None),
    "tessera_set_log_callback": ([c_uint32, LogCallback, ctypes.c_void_p], result_t),
}

for _name, (_args, _res) in _SIGNATURES.items():
    _fn = getattr(lib, _name)
    _fn.argtypes = _args
    _fn.restype = _res

if lib.tessera_abi_version() < ABI_VERSION:
    raise ImportError(
        f"the Tessera library implements C ABI {lib.tessera_abi_version()}, "
        f"this binding needs {ABI_VERSION} or later"
    )

OK = 0
BUFFER_TOO_SMALL = 102


def as_bytes(data: bytes | bytearray | memoryview) -> tuple[ctypes.Array, int]:
    """A ctypes view of ``data`` for a ``(const uint8_t *, size_t)`` pair."""
    raw = bytes(data)
    return (c_uint8 * len(raw)).from_buffer_copy(raw), len(raw)
