"""The online half from Python against the real license server on loopback,
through the fault proxy (tests/online/harness.py starts both and sets
TESSERA_TEST_*; scripts/python-tests.sh runs this suite under it)."""

import base64
import json
import os
import threading
import urllib.error
import urllib.request
from datetime import timedelta

import pytest

import tessera
from tessera import errors

ENV = os.environ
if "TESSERA_TEST_URL" not in ENV:
    if ENV.get("TESSERA_REQUIRE_ONLINE") == "1":
        raise RuntimeError("TESSERA_REQUIRE_ONLINE is set but the harness did not start a server")
    pytest.skip("no license server (run through tests/online/harness.py)", allow_module_level=True)

SECRET = b"test-only vendor secret, not a real one"


def http(base, method, path, body=None):
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(base + path, data=data, method=method)
    request.add_header("authorization", f"Bearer {ENV['TESSERA_TEST_ADMIN_TOKEN']}")
    request.add_header("content-type", "application/json")
    with urllib.request.urlopen(request, timeout=10) as answer:
        return json.loads(answer.read() or b"null")


def fault(mode):
    return http(ENV["TESSERA_TEST_PROXY"], "GET", f"/__fault/{mode}")


def totals():
    return http(ENV["TESSERA_TEST_URL"], "GET", f"/admin/v1/licenses/{ENV['TESSERA_TEST_LICENSE_ID']}")[
        "consumption"
    ]


def patch(spec):
    http(ENV["TESSERA_TEST_URL"], "PATCH", f"/admin/v1/licenses/{ENV['TESSERA_TEST_LICENSE_ID']}", {"spec": spec})


@pytest.fixture
def config(tmp_path):
    with open(ENV["TESSERA_TEST_VENDOR_PUB"]) as f:
        key = f.read()
    with tessera.Config(
        ENV["TESSERA_TEST_PRODUCT"], public_keys=[key], store_dir=tmp_path / "state", secret=SECRET
    ) as c:
        yield c


def server(url=None, **kw):
    kw.setdefault("attempts", 3)
    kw.setdefault("backoff", timedelta(milliseconds=10))
    kw.setdefault("attempt_timeout", timedelta(seconds=2))
    return tessera.Server(
        url or ENV["TESSERA_TEST_URL"], bytes.fromhex(ENV["TESSERA_TEST_PRODUCT_KEY_HEX"]), **kw
    )


@pytest.fixture
def conn(config):
    with tessera.Connection(config, server()) as c:
        yield c
        try:
            c.deactivate()
        except tessera.TesseraError:
            pass


def test_a_user_lists_licenses_takes_a_trial_key_and_activates(config, conn):
    with pytest.raises(errors.ServerRefusedError):
        conn.user_licenses(ENV["TESSERA_TEST_USERNAME"], "wrong-password")
    mine = conn.user_licenses(ENV["TESSERA_TEST_USERNAME"], ENV["TESSERA_TEST_PASSWORD"])
    assert [l["id"] for l in mine] == [ENV["TESSERA_TEST_LICENSE_ID"]]
    trial = conn.trial_key("eve@example.com")
    assert trial and conn.trial_key() == trial
    with pytest.raises(ValueError):
        conn.activate(username=ENV["TESSERA_TEST_USERNAME"])
    conn.activate(
        username=ENV["TESSERA_TEST_USERNAME"],
        password=ENV["TESSERA_TEST_PASSWORD"],
        license_id=ENV["TESSERA_TEST_LICENSE_ID"],
    )
    with tessera.LicenseHandle(config) as lic:
        assert lic.license_id == ENV["TESSERA_TEST_LICENSE_ID"]
        assert lic.check() == tessera.Status.LEASE_REQUIRED


def test_the_update_check_answers_the_release_this_license_may_install(config, conn):
    with pytest.raises(errors.NotActivatedError):
        conn.latest_release()
    conn.activate(ENV["TESSERA_TEST_LICENSE_KEY"])
    try:
        assert conn.latest_release()["version"] == "2.0"
        # 2.0 needs 1.5 installed: from 1.0 the update is 1.5.
        one_five = conn.latest_release(current_version="1.0")
        assert one_five["version"] == "1.5"
        assert one_five["installation_file"].endswith("acme-online-1.5.msi")
        assert one_five["size"] == 2048
        assert conn.latest_release(current_version="2.0", channel="stable") is None
        with pytest.raises(errors.ServerRefusedError):
            conn.latest_release(current_version="two")
    finally:
        conn.deactivate()


def test_a_download_is_kept_only_when_it_is_the_file_the_vendor_signed(config, conn, tmp_path):
    conn.activate(ENV["TESSERA_TEST_LICENSE_KEY"])
    into = tmp_path / "downloads"
    into.mkdir()
    try:
        good = conn.latest_release(channel="dl-good")
        assert good["manifest"].startswith("-----BEGIN TESSERA RELEASE-----")
        assert good["hash_md5"] == "" and len(good["sha256"]) == 64
        path = conn.download_release(good, into)
        assert path == str(into / "acme-online-dl-good.bin")
        assert os.path.getsize(path) == int(ENV["TESSERA_TEST_DOWNLOAD_SIZE"])
        # Asked again: the file is there and is the signed one.
        assert conn.download_release(good, str(into)) == path
        for channel, error in (
            ("dl-truncated", errors.DownloadRejectedError),
            ("dl-swapped", errors.DownloadRejectedError),
            ("dl-stranger", errors.UnknownKeyIdError),
        ):
            with pytest.raises(error):
                conn.download_release(conn.latest_release(channel=channel), into)
        forged = dict(good, version="0.8")
        with pytest.raises(errors.InvalidPayloadError):
            conn.download_release(forged, into)
        with pytest.raises(errors.InvalidArgumentError):
            conn.download_release(good, into / "missing")
        assert sorted(os.listdir(into)) == ["acme-online-dl-good.bin"]
        # A server that stalls mid-file, through the fault proxy: the part
        # stays, and the next call resumes it.
        stall = conn.latest_release(channel="dl-stall")
        with tessera.Connection(
            config, server(ENV["TESSERA_TEST_PROXY"], attempt_timeout=timedelta(seconds=1))
        ) as slow:
            fault(f"stall/{512 * 1024}")
            try:
                with pytest.raises(errors.NetworkError):
                    slow.download_release(stall, into)
            finally:
                fault("none")
            assert os.path.getsize(into / ".acme-online-dl-stall.bin.part") == 512 * 1024
            path = slow.download_release(stall, into)
        assert os.path.getsize(path) == stall["size"]
        assert sorted(os.listdir(into)) == ["acme-online-dl-good.bin", "acme-online-dl-stall.bin"]
    finally:
        conn.deactivate()


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


def _browser(alter=lambda location: location):
    """A browser: it follows the provider's page to the SDK's listener (in
    a thread, as the SDK waits for it), after `alter` had its say."""

    def show(url, user_code):
        assert user_code is None

        def visit():
            opener = urllib.request.build_opener(_NoRedirect)
            try:
                opener.open(url, timeout=10)
            except urllib.error.HTTPError as e:
                location = e.headers["location"]
            urllib.request.urlopen(alter(location), timeout=10).read()

        threading.Thread(target=visit, daemon=True).start()
        return True

    return show


def _idp(order):
    with urllib.request.urlopen(f"{ENV['TESSERA_TEST_IDP']}/__control/{order}", timeout=10) as r:
        return json.loads(r.read())


def test_a_user_signs_in_through_the_accounts_provider_from_python(config, conn):
    user = ENV["TESSERA_TEST_SSO_USER"]
    # Each way fails cleanly first, then works.
    with pytest.raises(errors.SignInFailedError, match="state differs"):
        conn.sign_in(user, show=_browser(lambda l: l.replace("&state=", "&state=forged")))
    _idp("audience/another-app")
    try:
        with pytest.raises(errors.ServerRefusedError, match="another client"):
            conn.sign_in(user, show=_browser())
    finally:
        _idp("audience")
    asked = []
    with pytest.raises(errors.CancelledError):
        conn.sign_in(user, show=lambda url, code: True, cancelled=lambda: asked.append(1) or True)
    assert asked  # the product's answer stopped it, not the wait running out
    with pytest.raises(errors.SignInFailedError, match="expired"):
        conn.sign_in(user, grant="device", show=lambda url, code: _idp(f"expire/{code}") and None)
    with pytest.raises(errors.NotActivatedError):
        tessera.LicenseHandle(config)
    with pytest.raises(ValueError):
        conn.sign_in(user, grant="device")

    conn.sign_in(user, show=_browser())
    with tessera.LicenseHandle(config) as lic:
        assert lic.license_id == "L-DESKTOP"
    conn.deactivate()
    shown = []
    conn.sign_in(
        user,
        grant="device",
        show=lambda url, code: shown.append((url, code)) or _idp(f"approve/{code}/{user}"),
    )
    assert shown and shown[0][1].startswith("WDJB-") and shown[0][1] in shown[0][0]
    with tessera.LicenseHandle(config) as lic:
        assert lic.license_id == "L-DESKTOP"


def test_a_seat_and_consumption_uploaded_exactly_once_through_faults(config, conn):
    conn.activate(ENV["TESSERA_TEST_LICENSE_KEY"])
    base = totals().get("feature:render", 0)
    with tessera.LicenseHandle(config) as lic, conn.session(lic) as seat, tessera.Connection(
        config, server(ENV["TESSERA_TEST_PROXY"])
    ) as flaky:
        assert lic.check() == tessera.Status.VALID
        assert seat.beat().kind == tessera.LeaseKind.FLOATING
        lic.consume(3, feature="render")
        up = conn.upload_consumption(lic)
        assert (up.sent, up.accepted) == (1, 1)
        assert conn.upload_consumption(lic).sent == 0
        lic.consume(2, feature="render")
        fault("drop-answer/1")
        assert flaky.upload_consumption(lic).accepted == 0  # kept, its answer lost
        lic.consume(1, feature="render")
        fault("duplicate")
        flaky.upload_consumption(lic)
        assert totals()["feature:render"] == base + 6
        lic.consume(1, feature="render")
        fault("alter")
        with pytest.raises(errors.BadResponseError):
            flaky.upload_consumption(lic)
        fault("refuse/1000")
        with pytest.raises(errors.NetworkError):
            flaky.upload_consumption(lic)
        assert lic.check() == tessera.Status.VALID  # offline, it works on
        fault("none")
        assert flaky.upload_consumption(lic).sent == 1
        assert totals()["feature:render"] == base + 7
    # The session gave the seat back, here too.
    with tessera.LicenseHandle(config) as lic:
        assert lic.check() == tessera.Status.LEASE_REQUIRED
        lease = conn.borrow(lic, 8)
        assert lease.kind == tessera.LeaseKind.BORROW and lease.time_left > timedelta(hours=7)
        assert lic.check() == tessera.Status.VALID
        conn.return_borrow(lic)
        assert lic.lease() is None


def test_the_gil_is_released_while_a_call_waits_on_the_network(config):
    counted = 0
    done = threading.Event()

    def count():
        nonlocal counted
        while not done.is_set():
            counted += 1

    with tessera.Connection(config, server(ENV["TESSERA_TEST_PROXY"], attempts=1)) as slow:
        fault("delay/1500")
        other = threading.Thread(target=count)
        other.start()
        try:
            with pytest.raises(errors.ServerRefusedError):
                slow.activate("NOT-A-KEY")
            seen = counted
        finally:
            done.set()
            other.join()
            fault("none")
    # Another Python thread ran while the call was blocked: the GIL was free.
    assert seen > 1000


def test_an_auto_synced_handle_hears_the_vendor_and_reloads_in_place(config, conn):
    conn.activate(ENV["TESSERA_TEST_LICENSE_KEY"])
    changes = []
    heard = threading.Condition()

    def on_change(change):
        with heard:
            changes.append(change)
            heard.notify_all()

    def wait_for(n):
        with heard:
            assert heard.wait_for(lambda: len(changes) >= n, timeout=20), changes

    with tessera.LicenseHandle(config) as lic:
        with conn.auto_sync(lic, on_change) as auto:
            wait_for(1)  # it took a seat
            assert changes[0].new == tessera.Status.VALID
            patch({"license_type": "time-limited", "start_date": "2020-01-01T00:00:00Z",
                   "validity_period": "2021-01-01T00:00:00Z"})
            auto.sync_now()
            wait_for(2)
            assert (changes[1].old, changes[1].new) == (tessera.Status.VALID, tessera.Status.EXPIRED)
            assert "sync" in changes[1].reason
            assert lic.check() == tessera.Status.EXPIRED  # the same handle, not reopened
            patch({"license_type": "perpetual", "start_date": None, "validity_period": None})
            auto.sync_now()
            wait_for(3)
            assert changes[2].new == tessera.Status.VALID
            syncs, failures, last = auto.record()
            assert syncs >= 3 and last is None
        assert auto.closed


def test_bad_input_is_refused_before_anything_is_sent(config):
    with pytest.raises(errors.InvalidArgumentError):
        tessera.Connection(config, server("http://licenses.example.com"))
    with pytest.raises(errors.InvalidArgumentError):
        tessera.Connection(config, server(pinned_ca="not a certificate"))
    with pytest.raises(ValueError):
        tessera.Connection(config, server(attempts=0))
    with pytest.raises(errors.InvalidArgumentError):
        tessera.Connection(config, server(proxy_url="not a url"))
    assert "product_key" not in repr(server()) and "pw" not in repr(server(proxy_url="http://u:pw@h:1"))
    c = tessera.Connection(config, server())
    c.close()
    with pytest.raises(ValueError):
        c.check_in()
    with tessera.Connection(config, server()) as c:
        with pytest.raises(errors.NotActivatedError):
            c.check_in()


def test_the_log_reaches_python_logging_and_never_holds_a_secret(config, caplog):
    import logging

    tessera.set_log_level(logging.DEBUG)
    try:
        with caplog.at_level(logging.DEBUG, logger="tessera"):
            with tessera.Connection(config, server(proxy_url="http://u:proxy-pw@127.0.0.1:1")) as c:
                with pytest.raises(errors.NetworkError):
                    c.activate(ENV["TESSERA_TEST_LICENSE_KEY"])
            with tessera.Connection(config, server()) as c:
                with pytest.raises(errors.ServerRefusedError):
                    c.user_licenses(ENV["TESSERA_TEST_USERNAME"], "wrong-password")
                c.activate(
                    username=ENV["TESSERA_TEST_USERNAME"],
                    password=ENV["TESSERA_TEST_PASSWORD"],
                    license_id=ENV["TESSERA_TEST_LICENSE_ID"],
                )
                c.deactivate()
    finally:
        tessera.set_log_level(logging.WARNING)
    lines = [f"{r.name} {r.getMessage()}" for r in caplog.records if r.name.startswith("tessera")]
    assert any("activated license" in l for l in lines), lines
    assert any("cannot be reached" in l for l in lines), lines
    text = "\n".join(lines)
    for secret in (
        ENV["TESSERA_TEST_LICENSE_KEY"],
        ENV["TESSERA_TEST_PASSWORD"],
        "wrong-password",
        ENV["TESSERA_TEST_PRODUCT_KEY_HEX"],
        ENV["TESSERA_TEST_ADMIN_TOKEN"],
        "proxy-pw",
        SECRET.decode(),
    ):
        assert secret not in text


def test_what_a_new_user_tripped_over_is_taken_or_refused_clearly(config, tmp_path):
    """Issue 34, findings 17 and 19: the product key as the admin API prints
    it (base64), periods as numbers of seconds, level names, a proxy's repr,
    and a status that prints as its name."""
    key = bytes.fromhex(ENV["TESSERA_TEST_PRODUCT_KEY_HEX"])
    as_text = tessera.Server(ENV["TESSERA_TEST_URL"], base64.b64encode(key).decode())
    with tessera.Connection(config, as_text) as c:
        assert c.user_licenses(ENV["TESSERA_TEST_USERNAME"], ENV["TESSERA_TEST_PASSWORD"])
    with pytest.raises(ValueError):
        tessera.Connection(config, tessera.Server(ENV["TESSERA_TEST_URL"], "not base64!"))
    # A period as seconds, and one past 2^32 - 1 refused instead of cut.
    from tessera.online import _secs

    assert (_secs(1), _secs(30.5), _secs(timedelta(minutes=2)), _secs(None)) == (1, 30, 120, 0)
    with pytest.raises(ValueError):
        _secs(2**32 + 5)
    with pytest.raises(TypeError):
        _secs("soon")
    assert f"{tessera.Status.VALID}" == "valid" and str(tessera.Status.LEASE_REQUIRED) == "lease_required"
    tessera.set_log_level("DEBUG")
    tessera.set_log_level("warning")
    with pytest.raises(ValueError):
        tessera.set_log_level("LOUD")
    shown = repr(server(proxy_url="http://user:pw@proxy.example:3128"))
    assert "proxy=URL" in shown and "proxy.example:3128" in shown and "pw" not in shown
