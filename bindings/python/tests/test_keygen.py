"""Keygen files from Python: the public samples of tests/vectors/keygen
(copied into the fixtures by tests/c/fixtures.sh), verified with the Keygen
demo account's key and imported as activations."""

from datetime import datetime, timezone

import pytest

import tessera
from tessera import Status, errors

from conftest import T2030, read

ACCOUNT = "e8601e48b69383ba520245fd07971e983d06d22c4257cfd82304601479cee788"
JS_PRODUCT = "3b682cb9-590b-4906-b688-ffef60eae8e0"
JS_KEY = "8750AB-30B7BD-023BA9-31B601-4550A2-V3"
RUST_PRODUCT = "174c3c8f-6d7f-4161-aa8e-54231ab0b911"
RUST_KEY = "988214-879010-F1185E-B37E91-E53AF5-V3"
RUST_MACHINE = "af249c134edd21c508e2114f0dd52628caf36e002edd9cada71eedb2d52f6841"


def test_a_keygen_license_file_imports_and_opens(fixtures, make_config):
    config = make_config(T2030)
    with pytest.raises(errors.UnknownKeyIdError):
        tessera.keygen_import(config, read(fixtures, "keygen.lic"), JS_KEY)
    config.add_keygen_key(ACCOUNT, JS_PRODUCT)
    with pytest.raises(errors.DecryptionFailedError) as wrong:
        tessera.keygen_import(config, read(fixtures, "keygen.lic"), "WRONG-KEY")
    assert JS_KEY not in str(wrong.value)
    with pytest.raises(errors.NotActivatedError):
        tessera.LicenseHandle(config)
    tessera.keygen_import(config, read(fixtures, "keygen.lic"), JS_KEY)
    with tessera.LicenseHandle(config) as lic:
        assert lic.check() is Status.VALID
        doc = lic.document
        assert doc["product_details"]["short_code"] == "acme"
        assert "license_key" not in doc


def test_a_machine_file_needs_its_own_fingerprint(fixtures, make_config):
    config = make_config(datetime(2024, 1, 1, tzinfo=timezone.utc))
    config.add_keygen_key(ACCOUNT, RUST_PRODUCT)
    machine = read(fixtures, "keygen-machine.lic")
    with pytest.raises(errors.InvalidArgumentError):
        tessera.keygen_import(config, machine, RUST_KEY)
    with pytest.raises(errors.DecryptionFailedError):
        tessera.keygen_import(config, machine, RUST_KEY, fingerprint="another-machine")
    tessera.keygen_import(config, machine, RUST_KEY, fingerprint=RUST_MACHINE)
    with tessera.LicenseHandle(config) as lic:
        assert lic.check() is Status.VALID


def _vectors():
    """Every decryptable public vector (tests/vectors/keygen): its file,
    license key, Keygen product, machine fingerprint and issue time."""
    import json
    from pathlib import Path

    from conftest import ROOT

    folder = Path(ROOT) / "tests" / "vectors" / "keygen"
    for e in json.loads((folder / "decrypt_expectations.json").read_text()):
        plain = json.loads((folder / (e["file"] + ".plaintext.json")).read_text())
        data = plain["data"]
        lic = data if data["type"] == "licenses" else next(
            i for i in plain["included"] if i["type"] == "licenses"
        )
        fingerprint = data["attributes"]["fingerprint"] if data["type"] == "machines" else None
        issued = datetime.fromisoformat(e["meta"]["issued"].replace("Z", "+00:00")).replace(microsecond=0)
        yield pytest.param(
            folder / e["file"],
            e["license_key_in_payload"],
            lic["relationships"]["product"]["data"]["id"],
            fingerprint,
            issued,
            lic["id"],
            id=e["file"],
        )


@pytest.mark.parametrize("path,key,product,fingerprint,issued,license_id", list(_vectors()))
def test_every_vector_imports_at_its_issue_time(make_config, tmp_path, path, key, product, fingerprint, issued, license_id):
    from datetime import timedelta

    config = make_config(issued + timedelta(seconds=1), store=tmp_path / "state")
    config.add_keygen_key(ACCOUNT, product)
    tessera.keygen_import(config, path.read_bytes(), key, fingerprint=fingerprint)
    with tessera.LicenseHandle(config) as lic:
        assert lic.check() is Status.VALID
        assert lic.document["id"] == license_id
        assert "license_key" not in lic.document
