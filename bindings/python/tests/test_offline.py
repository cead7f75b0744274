import os
import subprocess

import pytest

import tessera
from tessera import errors

from conftest import ROOT, T2030, days, read


def vendor(fixtures, *args) -> str:
    """Runs the vendor CLI in the fixtures directory; returns its output."""
    cli = os.environ.get("TESSERA_CLI", str(ROOT / "target" / "debug" / "tessera"))
    done = subprocess.run([cli, *args], cwd=fixtures, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_offline_round_trip_and_deactivation(fixtures, make_config, tmp_path):
    config = make_config(T2030 + days(1))
    assert tessera.offline_pending_request(config) is None
    with pytest.raises(ValueError):
        tessera.offline_request(config)
    request = tessera.offline_request(config, license_key="TEST-ONLY-C-ABI")
    assert request.startswith("-----BEGIN TESSERA OFFLINE REQUEST-----")
    assert tessera.offline_pending_request(config) == request
    (tmp_path / "req").write_text(request)
    response = vendor(
        fixtures, "offline", "respond", "--key", "vendor.key", "--spec", "offline-spec.json",
        "--request", str(tmp_path / "req"), "--at", "2030-01-01T12:00:00Z",
    )
    # A newer request makes that response a replay.
    newer = tessera.offline_request(config, license_key="TEST-ONLY-C-ABI")
    with pytest.raises(errors.OfflineReplayError):
        tessera.offline_import(config, response)
    (tmp_path / "req").write_text(newer)
    response = vendor(
        fixtures, "offline", "respond", "--key", "vendor.key", "--spec", "offline-spec.json",
        "--request", str(tmp_path / "req"), "--at", "2030-01-01T12:00:00Z",
    )
    tessera.offline_import(config, response)
    with tessera.LicenseHandle(config) as lic:
        assert lic.check().usable
        assert lic.document["device"]["id"] == config.fingerprint()
        # `tessera offline respond` makes the file expire 30 days on: the
        # device renews it (SECURITY.md, issue 21 finding 1).
        assert lic.document["expires_at"] == "2030-01-31T12:00:00Z"
    give_back = tessera.offline_deactivate(config, "C-ABI-OFFLINE")
    (tmp_path / "deact").write_text(give_back)
    assert "free the slot of license C-ABI-OFFLINE" in vendor(fixtures, "offline", "read", str(tmp_path / "deact"))
    with pytest.raises(errors.NotActivatedError):
        tessera.LicenseHandle(config)


def test_airgap_codes(fixtures, make_config):
    with pytest.raises(errors.InvalidArgumentError, match="secret"):
        tessera.airgap_initialization_code(make_config(T2030 + days(1), secret=b""))
    config = make_config(T2030 + days(1), secret=(fixtures / "vendor.secret").read_bytes())
    license_file = read(fixtures, "airgap.lic")
    with pytest.raises(errors.AirGappedError):
        tessera.activate(config, license_file)
    init = tessera.airgap_initialization_code(config)
    assert len(init) == 27
    code = vendor(
        fixtures, "airgap", "confirm", "--init", init, "--license", "airgap.lic",
        "--secret-file", "vendor.secret",
    ).strip()
    typo = ("8" if code[0] == "7" else "7") + code[1:]
    with pytest.raises(errors.CodeMistypedError):
        tessera.airgap_activate(config, license_file, typo)
    tessera.airgap_activate(config, license_file, code.lower())
    with tessera.LicenseHandle(config) as lic:
        assert lic.document["id"] == "C-ABI-AIRGAP"
