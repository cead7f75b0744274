"""The build step: cargo builds the Tessera library, which ships inside the
package, next to tessera/_ffi.py that loads it.

TESSERA_CARGO_PROFILE picks the cargo profile (default ``release``; the
test command uses ``dev`` to reuse its debug build), TESSERA_CARGO_FEATURES
adds cargo features (the test suite: ``testing``). CARGO_TARGET_DIR is
honoured. The package builds from the repository (pip builds a local
directory in place) or from the source distribution scripts/dist.sh
makes, which carries the repository under rust/.
"""

import os
import shutil
import subprocess
import sys
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

HERE = Path(__file__).resolve().parent
# In the repository: two folders up. In the source distribution
# (scripts/dist.sh): the repository is inside it, under rust/.
ROOT = HERE / "rust" if (HERE / "rust" / "Cargo.toml").is_file() else HERE.parent.parent

if sys.platform == "darwin":
    LIB = "libtessera.dylib"
elif sys.platform == "win32":
    LIB = "tessera.dll"
else:
    LIB = "libtessera.so"


class BuildWithCargo(build_py):
    def run(self):
        super().run()
        if not (ROOT / "Cargo.toml").is_file():
            raise SystemExit(f"the Tessera repository was not found at {ROOT}")
        profile = os.environ.get("TESSERA_CARGO_PROFILE", "release")
        # TESSERA_CARGO_FEATURES adds cargo features: the test suite builds
        # with `testing` (the fixed-time and system-root hooks); a package
        # that ships never does.
        features = os.environ.get("TESSERA_CARGO_FEATURES", "")
        extra = ["--features", features] if features else []
        subprocess.run(
            ["cargo", "build", "--quiet", "-p", "tessera-capi", "--profile", profile, *extra],
            cwd=ROOT,
            check=True,
        )
        target = Path(os.environ.get("CARGO_TARGET_DIR", ROOT / "target"))
        built = target / ("debug" if profile == "dev" else profile) / LIB
        dest = Path(self.build_lib) / "tessera" / LIB
        dest.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(built, dest)


setup(cmdclass={"build_py": BuildWithCargo})
