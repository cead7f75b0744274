"""Tessera: offline-first software licensing, from Python.

A thin, typed binding over the Tessera C library (ctypes)::

    import tessera

    with tessera.Config("acme-cad", public_keys=[vendor_pem]) as config:
        tessera.activate(config, open("license.lic", "rb").read())  # once
        with tessera.LicenseHandle(config) as lic:
            status = lic.check()
            if not status.usable:
                print(status.label, lic.validate().reasons)

Every failure raises a subclass of :class:`tessera.TesseraError`, one per
error code (``tessera.errors``).
"""

from . import _api, errors, online
from ._api import *  # noqa: F401,F403 (the public surface, listed in _api.__all__)
from .online import *  # noqa: F401,F403 (the online half, listed in online.__all__)
from ._logging import set_log_level
from .errors import TesseraError


def _package_version() -> str:
    try:
        from importlib.metadata import PackageNotFoundError, version as _version

        return _version("tessera")
    except (ImportError, PackageNotFoundError):  # run from a source tree
        return _api.version()


def __getattr__(name: str) -> str:
    # `__version__` (PEP 396 style, the same as the C library's) is read
    # from the installed metadata when asked for: importlib.metadata took
    # a quarter of `import tessera`'s time.
    if name == "__version__":
        global __version__
        __version__ = _package_version()
        return __version__
    raise AttributeError(f"module 'tessera' has no attribute {name!r}")

__all__ = [*_api.__all__, *online.__all__, "TesseraError", "errors", "online", "set_log_level", "__version__"]
