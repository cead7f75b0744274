"""Calls of the C functions that hand out a string: a size query and a
copy, or one large buffer first for a call that does work each time.
Kept apart from ``_ffi`` (the declarations) so that ``_ffi`` imports no
other module of the package and ``errors`` can import it."""

from __future__ import annotations

import ctypes
from ctypes import c_size_t

from ._ffi import BUFFER_TOO_SMALL, OK
from .errors import raise_last


def read_string_once(fn, *args, first: int = 65536) -> str:
    """Calls a string-out function that does work each time (a network
    call) with a large buffer first, and again only if it was too small."""
    n = c_size_t(0)
    buf = ctypes.create_string_buffer(first)
    r = fn(*args, buf, len(buf), ctypes.byref(n))
    if r == BUFFER_TOO_SMALL:
        buf = ctypes.create_string_buffer(n.value + 1)
        r = fn(*args, buf, len(buf), ctypes.byref(n))
    if r != OK:
        raise_last(r)
    return buf.raw[: n.value].decode("utf-8")


def read_string(fn, *args) -> str:
    """Calls a string-out function twice: a size query, then the copy."""
    n = c_size_t(0)
    r = fn(*args, None, 0, ctypes.byref(n))
    if r != OK:
        raise_last(r)
    if n.value == 0:
        return ""
    buf = ctypes.create_string_buffer(n.value + 1)
    r = fn(*args, buf, len(buf), ctypes.byref(n))
    if r != OK:
        raise_last(r)
    return buf.raw[: n.value].decode("utf-8")
