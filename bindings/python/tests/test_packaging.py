import os
import subprocess
import sys
from pathlib import Path

import pytest

import tessera
from tessera import _ffi


@pytest.mark.skipif(
    os.environ.get("TESSERA_EXPECT_INSTALLED") != "1",
    reason="only meaningful for a pip-installed package (the test command sets it)",
)
def test_installed_package_loads_its_own_library():
    package = Path(tessera.__file__).resolve().parent
    assert "site-packages" in str(package)
    assert Path(_ffi.lib._name).resolve() == package / _ffi._LIB_NAME


def test_environment_variable_is_honoured_and_a_missing_library_says_where_it_looked(tmp_path):
    # A copy of the package without its library, in a tree with no Cargo.toml,
    # run from a directory that does hold a file named like the library.
    pkg = tmp_path / "site" / "tessera"
    pkg.mkdir(parents=True)
    src = Path(tessera.__file__).resolve().parent
    for f in src.glob("*.py"):
        (pkg / f.name).write_text(f.read_text())
    decoy = tmp_path / "cwd"
    decoy.mkdir()
    (decoy / _ffi._LIB_NAME).write_bytes(b"not a library")
    env = {k: v for k, v in os.environ.items() if k != "TESSERA_LIBRARY"}
    env["PYTHONPATH"] = str(tmp_path / "site")
    run = lambda e: subprocess.run(  # noqa: E731
        [sys.executable, "-c", "import tessera; print(tessera.version())"],
        cwd=decoy, env=e, capture_output=True, text=True,
    )
    missing = run(env)
    assert missing.returncode != 0
    assert "TESSERA_LIBRARY" in missing.stderr and "Looked in" in missing.stderr
    env["TESSERA_LIBRARY"] = _ffi.lib._name
    found = run(env)
    assert found.returncode == 0, found.stderr
    assert found.stdout.strip() == tessera.version()
