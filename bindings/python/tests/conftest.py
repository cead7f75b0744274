"""Fixtures: throwaway keys and license files made with the vendor CLI
(tests/c/fixtures.sh, the same as the C tests), and a fresh state directory
per test. Licenses are issued at 2030-01-01T00:00:00Z and the SDK's clock is
frozen, so nothing depends on the day the tests run."""

from __future__ import annotations

import os
import shutil
import subprocess
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

import tessera

ROOT = Path(__file__).resolve().parents[3]
T2030 = datetime(2030, 1, 1, tzinfo=timezone.utc)


def days(n: float) -> timedelta:
    return timedelta(days=n)


@pytest.fixture(scope="session")
def fixtures(tmp_path_factory) -> Path:
    cli = Path(os.environ.get("TESSERA_CLI", ROOT / "target" / "debug" / "tessera"))
    if not cli.is_file():
        subprocess.run(["cargo", "build", "--quiet", "-p", "tessera-cli"], cwd=ROOT, check=True)
    out = tmp_path_factory.mktemp("fixtures")
    subprocess.run(
        [str(ROOT / "tests" / "c" / "fixtures.sh"), str(cli), str(out)],
        check=True,
        stderr=subprocess.DEVNULL,
    )
    return out


@pytest.fixture
def state(tmp_path) -> Path:
    return tmp_path / "state"


@pytest.fixture
def make_config(fixtures, state):
    """make_config(now, device="device-A", store=state, secret=None) -> tessera.Config"""
    made = []

    def make(now: datetime, device: str = "device-A", store: Path = state, secret=None) -> tessera.Config:
        if secret is None:
            secret = b"test-only vendor secret"
        c = tessera.Config(
            "acme",
            public_keys=[(fixtures / "vendor.pub").read_text()],
            store_dir=store,
            fixed_time=now,
            custom_device_id=device,
            secret=secret,
        )
        made.append(c)
        return c

    yield make
    for c in made:
        c.close()


def read(fixtures: Path, name: str) -> bytes:
    return (fixtures / name).read_bytes()


def copy_fixtures(fixtures: Path, dest: Path) -> Path:
    shutil.copytree(fixtures, dest)
    return dest
