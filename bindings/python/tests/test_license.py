from datetime import timezone

import pytest

import tessera
from tessera import FeatureState, Status, errors

from conftest import T2030, days, read


def test_activate_open_check_and_validate(fixtures, make_config):
    config = make_config(T2030 + days(30))
    with pytest.raises(errors.NotActivatedError):
        tessera.LicenseHandle(config)
    tessera.activate(config, read(fixtures, "license.lic"))
    with tessera.LicenseHandle(config) as lic:
        assert lic.check() is Status.VALID
        assert lic.check().usable and lic.check().label == "valid"
        v = lic.validate()
        assert v.usable and v.status is Status.VALID
        assert v.checked_at == T2030 + days(30)
        assert v.checked_at.tzinfo is timezone.utc
        assert v.valid_until == T2030 + days(365)
        assert v.check_in_due == T2030 + days(90)
        assert v.grace_until is None
        assert lic.next_check_in == T2030 + days(90)
        doc = lic.document
        assert doc["id"] == "C-ABI-0001"
        assert doc["product_details"]["short_code"] == "acme"
        assert "license_key" not in doc  # a secret the user typed
        # The same facts without the JSON: id, customer, feature codes.
        assert lic.license_id == "C-ABI-0001"
        assert lic.customer == {"email": "ops@example.com", "company_name": "Example GmbH", "first_name": "Ada"}
        assert lic.feature_codes == ["pdf-export", "beta-tools"]
        assert lic.lease() is None


def test_features(fixtures, make_config):
    config = make_config(T2030 + days(30))
    tessera.activate(config, read(fixtures, "license.lic").decode())  # str works too
    with tessera.LicenseHandle(config) as lic:
        assert lic.feature("pdf-export").enabled
        beta = lic.feature("beta-tools")
        assert beta.state is FeatureState.EXPIRED and beta.time == T2030 + days(10)
        assert lic.feature("nope").state is FeatureState.MISSING


def test_refusals_raise_the_class_of_their_code(fixtures, make_config):
    config = make_config(T2030 + days(30))
    good = read(fixtures, "license.lic")
    body = good.index(b"\n\n") + 10
    tampered = good[:body] + (b"A" if good[body:body + 1] != b"A" else b"B") + good[body + 1:]
    cases = [
        (b"", errors.EmptyError),
        (b"garbage", errors.MalformedError),
        (tampered, errors.BadSignatureError),
        (read(fixtures, "foreign.lic"), errors.UnknownKeyIdError),
        (read(fixtures, "expired.lic"), errors.UnusableError),
        (read(fixtures, "other-product.lic"), errors.UnusableError),
    ]
    for data, cls in cases:
        with pytest.raises(cls) as e:
            tessera.activate(config, data)
        assert e.value.message
    # Nothing was activated by any of them.
    with pytest.raises(errors.NotActivatedError):
        tessera.LicenseHandle(config)


def test_expired_message_says_why(fixtures, make_config):
    with pytest.raises(errors.UnusableError, match="expired"):
        tessera.activate(make_config(T2030 + days(30)), read(fixtures, "expired.lic"))


def test_other_device_clock_back_and_check_in_due(fixtures, make_config, state):
    tessera.activate(make_config(T2030 + days(30)), read(fixtures, "license.lic"))
    with pytest.raises(errors.StoreFromOtherDeviceError):
        tessera.LicenseHandle(make_config(T2030 + days(30), device="device-B"))
    # Two days before the signed issue time: tampering. (A fixed test time
    # never raises the mark kept in the state; the signed issue time does.)
    with pytest.raises(errors.ClockTamperedError):
        tessera.LicenseHandle(make_config(T2030 - days(2)))
    # Back two days from the last run's fixed time is not: that time was not kept.
    with tessera.LicenseHandle(make_config(T2030 + days(28))) as lic:
        assert lic.check() is Status.VALID
    with tessera.LicenseHandle(make_config(T2030 + days(100))) as lic:
        assert lic.check() is Status.CHECK_IN_REQUIRED
        assert not lic.check().usable
        assert lic.feature("pdf-export").state is FeatureState.LICENSE_UNUSABLE
        assert any("check" in r for r in lic.validate().reasons)


def test_deactivate(fixtures, make_config):
    config = make_config(T2030 + days(30))
    tessera.activate(config, read(fixtures, "license.lic"))
    assert tessera.deactivate(config, "C-ABI-0001") is True
    assert tessera.deactivate(config, "C-ABI-0001") is False
    with pytest.raises(errors.NotActivatedError):
        tessera.LicenseHandle(config)


def test_leases_without_a_server(fixtures, make_config):
    config = make_config(T2030 + days(30))
    tessera.activate(config, read(fixtures, "license.lic"))
    with tessera.LicenseHandle(config) as lic:
        with pytest.raises(errors.MalformedError):
            lic.install_lease(b"junk")
        with pytest.raises(errors.InvalidArgumentError):
            lic.return_borrow()


def test_fingerprint_and_diagnosis(make_config, tmp_path):
    config = make_config(T2030)
    assert len(config.fingerprint()) == 32
    assert "components" in config.diagnose()
    with tessera.Config("acme") as host:
        d = host.diagnose()
        assert len(d["id"]) == 32 and d["components"]
        assert isinstance(d["virtual_machine"], bool)
    with tessera.Config("acme", system_root=tmp_path) as empty:
        with pytest.raises(errors.FingerprintUnavailableError, match="custom device id"):
            empty.fingerprint()


def test_close_is_idempotent_and_use_after_close_is_refused(fixtures, make_config):
    config = make_config(T2030 + days(30))
    tessera.activate(config, read(fixtures, "license.lic"))
    lic = tessera.LicenseHandle(config)
    assert not lic.closed
    lic.close()
    lic.close()
    assert lic.closed
    with pytest.raises(ValueError, match="closed"):
        lic.check()
    with tessera.Config("acme") as c:
        pass
    assert c.closed
    with pytest.raises(ValueError):
        c.fingerprint()


def test_the_handle_outlives_its_config(fixtures, make_config):
    config = make_config(T2030 + days(30))
    tessera.activate(config, read(fixtures, "license.lic"))
    lic = tessera.LicenseHandle(config)
    config.close()
    assert lic.check() is Status.VALID
    lic.close()
