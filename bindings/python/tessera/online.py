"""The online half: activation, check-in, floating seats, borrowing and
the upload of consumption against a Tessera license server.

Every call that talks to the server blocks until it answers or the call's
deadline passes (30 s by default, retries included), with the GIL
released, so other Python threads run meanwhile::

    server = tessera.Server("https://licenses.example.com", product_key)
    with tessera.Connection(config, server) as conn:
        conn.activate(license_key)
        with tessera.LicenseHandle(config) as lic, conn.session(lic):
            lic.consume(1, feature="render")
            conn.upload_consumption(lic)

Failures raise the exceptions of :mod:`tessera.errors`: ``NetworkError``
(the server cannot be reached; the license keeps working offline),
``ServerRefusedError`` (a signed refusal; its message names the server's
code) and ``BadResponseError`` (an answer that does not verify).
"""

from __future__ import annotations

import base64
import binascii
import enum
import json
import logging
import os
from ctypes import byref, c_uint32, c_uint64
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, Callable, Optional, Union

from . import _ffi, _strings
from ._api import Config, Lease, LicenseHandle, Status, _encode, _Managed
from .errors import check, error_class

lib = _ffi.lib
_log = logging.getLogger("tessera")


class Proxy(enum.IntEnum):
    """How requests reach the server (``tessera_proxy_mode``)."""

    #: The environment's ``HTTPS_PROXY``/``ALL_PROXY``/``NO_PROXY``, plus the
    #: Internet Options on Windows and the network settings on macOS.
    SYSTEM = 0
    #: No proxy.
    DIRECT = 1
    #: The proxy given as ``proxy_url`` (credentials may be in it).
    URL = 2


@dataclass
class Server:
    """Where the license server is and how to reach it.

    ``url`` is ``https://...`` (``http://`` only for a loopback address);
    ``product_key`` the product's shared key from the admin API: its raw
    bytes, or the base64 text as the admin API prints it (a ``str``);
    ``pinned_ca`` a PEM certificate to trust instead of the platform's
    verifier; ``proxy_url`` an explicit proxy (``http://user:pw@host:port``),
    or ``proxy=Proxy.DIRECT`` for none. ``attempt_timeout`` bounds one
    attempt, ``deadline`` a whole call (retries included).
    """

    url: str
    product_key: Union[bytes, str]
    pinned_ca: Optional[str] = None
    proxy: Proxy = Proxy.SYSTEM
    proxy_url: Optional[str] = None
    attempt_timeout: timedelta = timedelta(seconds=10)
    deadline: timedelta = timedelta(seconds=30)
    attempts: int = 4
    backoff: timedelta = timedelta(milliseconds=250)

    def __repr__(self) -> str:  # never the key or a proxy's password
        if self.proxy_url is not None:
            scheme, sep, rest = self.proxy_url.partition("://")
            host = rest.rpartition("@")[2] if sep else "(not a URL)"
            return f"Server(url={self.url!r}, proxy=URL, proxy_url={scheme + sep + host!r})"
        return f"Server(url={self.url!r}, proxy={self.proxy.name})"


def _product_key(key: Union[bytes, str]) -> bytes:
    """The key's raw bytes: a ``str`` is the admin API's base64 text."""
    if isinstance(key, str):
        try:
            return base64.b64decode(key.strip(), validate=True)
        except (ValueError, binascii.Error):
            raise ValueError("product_key as text is the admin API's api_key, in base64") from None
    return bytes(key)


def _ms(t: timedelta) -> int:
    ms = int(t / timedelta(milliseconds=1))
    if not 0 < ms <= 0xFFFFFFFF:
        raise ValueError(f"{t} is out of range")
    return ms


@dataclass(frozen=True)
class Upload:
    """What an upload of consumption did."""

    #: Pending records sent.
    sent: int
    #: Of those, the ones the server had not seen before.
    accepted: int
    #: The last journal sequence number now acknowledged (0: none).
    acknowledged: int


@dataclass(frozen=True)
class StatusChange:
    """One change of the license's status, told by an :class:`AutoSync`."""

    old: Status
    new: Status
    reason: str


class Connection(_Managed):
    """A connection to the license server for one product on this device.

    May be shared by several threads. Use it as a context manager, or call
    ``close()``; sessions and auto-syncs opened on it keep what they need.
    """

    _free = lib.tessera_connection_free

    def __init__(self, config: Config, server: Server) -> None:
        super().__init__()
        key, n = _ffi.as_bytes(_product_key(server.product_key))
        s = _ffi.server_p()
        check(lib.tessera_server_new(_encode(server.url), key, n, byref(s)))
        try:
            if server.pinned_ca is not None:
                check(lib.tessera_server_set_pinned_ca(s, _encode(server.pinned_ca)))
            mode = Proxy.URL if server.proxy_url is not None else server.proxy
            url = None if server.proxy_url is None else _encode(server.proxy_url)
            check(lib.tessera_server_set_proxy(s, int(mode), url))
            if server.attempts < 1:
                raise ValueError("attempts must be at least 1")
            check(
                lib.tessera_server_set_limits(
                    s,
                    _ms(server.attempt_timeout),
                    _ms(server.deadline),
                    server.attempts,
                    _ms(server.backoff),
                )
            )
            check(lib.tessera_connection_new(config._get(), s, byref(self._ptr)))
        finally:
            lib.tessera_server_free(byref(s))

    def activate(
        self,
        license_key: Optional[str] = None,
        *,
        username: Optional[str] = None,
        password: Optional[str] = None,
        license_id: Optional[str] = None,
    ) -> None:
        """Activates a license on this device, by its key or as a user (the
        password is sent once and never stored). Blocks."""
        if license_key is not None:
            check(lib.tessera_online_activate_key(self._get(), _encode(license_key)))
            return
        if username is None or password is None or license_id is None:
            raise ValueError("give a license key, or a username, password and license id")
        check(
            lib.tessera_online_activate_user(
                self._get(), _encode(username), _encode(password), _encode(license_id)
            )
        )

    def sign_in(
        self,
        who: str,
        *,
        grant: str = "browser",
        show: Optional[Callable[[str, Optional[str]], bool]] = None,
        cancelled: Optional[Callable[[], bool]] = None,
        license_id: Optional[str] = None,
    ) -> None:
        """Signs the user in through the customer account's identity
        provider and activates the user's license here (docs/SIGN-IN.md).

        ``who`` is the user's e-mail address or the account's code.
        ``grant`` is ``"browser"`` (the provider's page in a browser on
        this machine; ``show(url, None)`` may open it and return True, else
        the SDK opens the system browser) or ``"device"`` (a code for
        another device: ``show(url, user_code)`` must show both).
        ``cancelled()`` is asked about twenty times a second; True stops
        the sign-in (``CancelledError``). Raises ``SignInFailedError``
        (declined, a code replayed, an expired device code, an answer not
        for this sign-in), ``ServerRefusedError`` (no provider for ``who``,
        or the token refused). Nothing is activated on failure. Blocks.
        """
        grants = {"browser": 0, "device": 1}
        if grant not in grants:
            raise ValueError('grant is "browser" or "device"')
        if grant == "device" and show is None:
            raise ValueError("a device sign-in needs show(url, user_code) to show the code")
        raised: list[BaseException] = []

        def on_show(_user, url, user_code):
            try:
                code = None if user_code is None else user_code.decode("utf-8")
                return 1 if show is not None and show(url.decode("utf-8"), code) else 0
            except BaseException as e:  # noqa: BLE001 (handed back after the call)
                raised.append(e)
                return 1

        def on_cancel(_user):
            if raised:
                return 1
            try:
                return 1 if cancelled is not None and cancelled() else 0
            except BaseException as e:  # noqa: BLE001
                raised.append(e)
                return 1

        show_cb = _ffi.SignInShow(on_show)
        cancel_cb = _ffi.CancelCallback(on_cancel)
        r = lib.tessera_online_sign_in(
            self._get(),
            _encode(who),
            grants[grant],
            None if license_id is None else _encode(license_id),
            show_cb,
            cancel_cb,
            None,
        )
        if raised:
            raise raised[0]
        check(r)

    def user_licenses(self, username: str, password: str) -> list[dict[str, Any]]:
        """A user's licenses for this product (``id``, ``license_type``,
        ``is_trial``, ...). Blocks."""
        text = _strings.read_string_once(
            lib.tessera_online_user_licenses, self._get(), _encode(username), _encode(password)
        )
        return json.loads(text)

    def latest_release(
        self, current_version: Optional[str] = None, channel: Optional[str] = None
    ) -> Optional[dict[str, Any]]:
        """The update check: the newest release this device's license may
        install (``version``, ``installation_file``, ``size``, ``sha256``,
        ``manifest``, ...), or None; :meth:`download_release` fetches it. With ``current_version``, only a newer release whose
        minimum version it meets; with ``channel``, only that channel's.
        Blocks; changes nothing."""
        v = None if current_version is None else _encode(current_version)
        c = None if channel is None else _encode(channel)
        text = _strings.read_string_once(lib.tessera_online_latest_release, self._get(), v, c)
        return json.loads(text)

    def download_release(self, release: dict[str, Any], folder: Union[str, "os.PathLike[str]"]) -> str:
        """Downloads the file of ``release`` (what :meth:`latest_release`
        answered) into ``folder`` and answers its path, kept only when its
        size and SHA-256 are the ones the vendor signed (``release["manifest"]``,
        verified against the keyring). A broken or stalled transfer raises
        ``NetworkError`` and resumes at the next call; a file that is not
        the signed one is deleted (``DownloadRejectedError``). Never runs
        the file. Blocks."""
        return _strings.read_string_once(
            lib.tessera_online_download_release,
            self._get(),
            _encode(json.dumps(release)),
            _encode(os.fspath(folder)),
            first=4096,
        )

    def trial_key(self, email: Optional[str] = None) -> str:
        """A trial license key for this device (the same one when asked
        again). Blocks."""
        e = None if email is None else _encode(email)
        return _strings.read_string_once(lib.tessera_online_trial_key, self._get(), e)

    def check_in(self) -> None:
        """Stores the server's fresh license file. Blocks."""
        check(lib.tessera_online_check_in(self._get()))

    def sync(self, handle: LicenseHandle) -> None:
        """Uploads pending consumption, checks in and switches ``handle`` in
        place to the fresh file. Blocks."""
        check(lib.tessera_online_sync(self._get(), handle._get()))

    def deactivate(self) -> None:
        """Frees this device's slot on the server, then here. Blocks."""
        check(lib.tessera_online_deactivate(self._get()))

    def _lease(self, fn, handle: LicenseHandle, *args: Any) -> Lease:
        info = _ffi.LeaseInfo()
        check(fn(self._get(), handle._get(), *args, byref(info)))
        return Lease._of(info)

    def register(self, handle: LicenseHandle) -> Lease:
        """Takes a floating seat. Blocks."""
        return self._lease(lib.tessera_online_register, handle)

    def heartbeat(self, handle: LicenseHandle) -> Lease:
        """Renews the floating seat. Blocks."""
        return self._lease(lib.tessera_online_heartbeat, handle)

    def release(self) -> None:
        """Gives the floating seat back on the server. Blocks."""
        check(lib.tessera_online_release(self._get()))

    def borrow(self, handle: LicenseHandle, hours: int) -> Lease:
        """Borrows a seat for ``hours``, for use offline. Blocks."""
        return self._lease(lib.tessera_online_borrow, handle, c_uint32(hours))

    def return_borrow(self, handle: LicenseHandle) -> None:
        """Returns a borrowed seat early: to the server, then here. Blocks.

        The server keeps the seat counted until the borrow would have ended
        (a returned borrow could be restored from a copy of the device's
        state and used offline to its end); support's device removal frees
        it at once."""
        check(lib.tessera_online_return_borrow(self._get(), handle._get()))

    def upload_consumption(self, handle: LicenseHandle) -> Upload:
        """Uploads the consumption the server has not acknowledged; a retry
        or a duplicate never counts twice. Blocks."""
        up = _ffi.Upload()
        check(lib.tessera_online_upload_consumption(self._get(), handle._get(), byref(up)))
        return Upload(up.sent, up.accepted, up.acknowledged)

    def session(self, handle: LicenseHandle, interval: Optional[timedelta] = None) -> "FloatingSession":
        """A floating seat kept by a heartbeat thread (a context manager)."""
        return FloatingSession(self, handle, interval)

    def auto_sync(
        self,
        handle: LicenseHandle,
        on_change: Optional[Callable[[StatusChange], None]] = None,
        *,
        interval: Optional[Seconds] = None,
        heartbeat: Optional[Seconds] = None,
        keep_seat: bool = True,
        retry: Optional[Seconds] = None,
        watch: Optional[Seconds] = None,
        stop_timeout: Optional[timedelta] = None,
    ) -> "AutoSync":
        """Keeps ``handle`` in sync from a background thread (a context
        manager); ``on_change`` hears every status change."""
        return AutoSync(
            self, handle, on_change, interval, heartbeat, keep_seat, retry, watch, stop_timeout
        )


class FloatingSession(_Managed):
    """A floating seat: taken on creation, renewed every ``interval`` from a
    thread of the library's (default: a third of the license's floating
    timeout), given back by ``close()`` or at the end of a ``with``."""

    _free = lib.tessera_session_free

    def __init__(
        self, connection: Connection, handle: LicenseHandle, interval: Optional[timedelta] = None
    ) -> None:
        super().__init__()
        secs = 0 if interval is None else int(interval.total_seconds())
        check(lib.tessera_session_open(connection._get(), handle._get(), secs, byref(self._ptr)))

    def beat(self) -> Lease:
        """Heart-beats now (after a resume from sleep, say). Blocks."""
        info = _ffi.LeaseInfo()
        check(lib.tessera_session_beat(self._get(), byref(info)))
        return Lease._of(info)

    def close(self) -> None:
        """Stops the heartbeat and gives the seat back (blocks for the
        release; a network error is raised after the session is freed)."""
        if self._ptr:
            check(lib.tessera_session_close(byref(self._ptr)))

    def __del__(self) -> None:
        try:
            if getattr(self, "_ptr", None):
                lib.tessera_session_free(byref(self._ptr))
        except Exception:  # interpreter shutdown may have torn ctypes down
            pass


Seconds = Union[timedelta, int, float]


def _secs(t: Optional[Seconds]) -> int:
    """A period as the whole seconds the C options take: a ``timedelta`` or
    a number of seconds; at least 1, and refused past 2^32 - 1 (the field
    would silently wrap)."""
    if t is None:
        return 0
    if isinstance(t, timedelta):
        seconds = t.total_seconds()
    elif isinstance(t, (int, float)) and not isinstance(t, bool):
        seconds = float(t)
    else:
        raise TypeError(f"a period is a timedelta or a number of seconds, not {type(t).__name__}")
    if not 0 < seconds <= 0xFFFFFFFF:
        raise ValueError(f"a period of {seconds} s is out of range (1 s to 2^32 - 1 s)")
    return max(1, int(seconds))


class AutoSync(_Managed):
    """A license that looks after itself: syncs at once and then on the
    check-in timer, keeps a floating seat, backs off while offline, and
    calls ``on_change`` (on the library's thread, with the GIL) for every
    status change. ``close()``, or the end of a ``with``, stops it within
    ``stop_timeout`` (2 s by default). ``on_change`` must not close it."""

    _free = lib.tessera_auto_sync_stop

    def __init__(
        self,
        connection: Connection,
        handle: LicenseHandle,
        on_change: Optional[Callable[[StatusChange], None]] = None,
        interval: Optional[Seconds] = None,
        heartbeat: Optional[Seconds] = None,
        keep_seat: bool = True,
        retry: Optional[Seconds] = None,
        watch: Optional[Seconds] = None,
        stop_timeout: Optional[timedelta] = None,
    ) -> None:
        super().__init__()
        self._on_change = on_change

        def called(_user: Any, old: int, new: int, reason: bytes) -> None:
            if self._on_change is None:
                return
            try:
                self._on_change(StatusChange(Status(old), Status(new), reason.decode("utf-8")))
            except Exception:  # an exception cannot cross into C
                _log.exception("tessera: the on_change callback raised")

        # Kept as long as the auto-sync runs: the library calls it.
        self._callback = _ffi.StatusCallback(called)
        options = _ffi.AutoSyncOptions(
            interval_secs=_secs(interval),
            heartbeat_secs=_secs(heartbeat),
            no_seat=not keep_seat,
            retry_secs=_secs(retry),
            watch_secs=_secs(watch),
            stop_timeout_ms=0 if stop_timeout is None else _ms(stop_timeout),
            on_change=self._callback,
            user_data=None,
        )
        check(
            lib.tessera_auto_sync_start(
                connection._get(), handle._get(), byref(options), byref(self._ptr)
            )
        )

    def sync_now(self) -> None:
        """Syncs now, without waiting for it."""
        check(lib.tessera_auto_sync_now(self._get()))

    def record(self) -> tuple[int, int, Optional[type]]:
        """Syncs that succeeded and failed so far, and the exception class of
        the last failure not yet reported (None when none)."""
        syncs, failures, last = c_uint64(0), c_uint64(0), _ffi.result_t(0)
        check(lib.tessera_auto_sync_record(self._get(), byref(syncs), byref(failures), byref(last)))
        code = int(last.value)
        return syncs.value, failures.value, (error_class(code) if code else None)


__all__ = [
    "AutoSync",
    "Connection",
    "FloatingSession",
    "Proxy",
    "Server",
    "StatusChange",
    "Upload",
]
