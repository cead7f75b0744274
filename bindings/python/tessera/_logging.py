"""The SDK's log, bridged to Python's :mod:`logging`: records go to the
``tessera`` logger (``tessera.online``, ... by the module they come from).

At import the bridge forwards what the ``tessera`` logger's effective level
lets through (WARNING unless configured); :func:`set_log_level` changes
that, for example ``tessera.set_log_level(logging.DEBUG)``. The SDK never
logs a license key, a password, a product key, a token or a proxy's
credentials.
"""

from __future__ import annotations

import atexit
import logging

from . import _ffi
from .errors import check

_LEVELS = {1: logging.ERROR, 2: logging.WARNING, 3: logging.INFO, 4: logging.DEBUG, 5: logging.DEBUG - 5}


def _forward(_user: object, level: int, target: bytes, message: bytes) -> None:
    try:
        name = target.decode("utf-8", "replace").replace("::", ".")
        logging.getLogger(name).log(_LEVELS.get(level, logging.INFO), "%s", message.decode("utf-8", "replace"))
    except Exception:  # nothing may cross into the library's thread
        pass


# Kept for the life of the process: the library calls it.
_callback = _ffi.LogCallback(_forward)


def _tessera_level(level: int) -> int:
    if level <= logging.DEBUG - 5:
        return 5
    if level <= logging.DEBUG:
        return 4
    if level <= logging.INFO:
        return 3
    if level <= logging.WARNING:
        return 2
    if level <= logging.CRITICAL:
        return 1
    return 0


def set_log_level(level: int | str) -> None:
    """Forwards the SDK's records at ``level`` (a :mod:`logging` level, as a
    number or a name such as ``"DEBUG"``) or more severe to the ``tessera``
    logger, and sets that logger's level."""
    if isinstance(level, str):
        named = logging.getLevelName(level.upper())
        if not isinstance(named, int):
            raise ValueError(f"{level!r} is not a logging level (DEBUG, INFO, WARNING, ERROR, CRITICAL)")
        level = named
    logging.getLogger("tessera").setLevel(level)
    check(_ffi.lib.tessera_set_log_callback(_tessera_level(level), _callback, None))


def _stop() -> None:
    # No record may reach Python while the interpreter shuts down.
    _ffi.lib.tessera_set_log_callback(0, _callback, None)


# A library's logger says nothing unless the application configures logging.
logging.getLogger("tessera").addHandler(logging.NullHandler())
set_log_level(logging.getLogger("tessera").getEffectiveLevel())
atexit.register(_stop)
