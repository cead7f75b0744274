"""The cost of a warm check from Python: ``License.check()`` and the raw
ctypes call beneath it, as medians of repeated timings.

    python bindings/python/bench/check.py TESSERA_CLI

scripts/bench-python.sh runs it beside the Rust benchmark of the same call.
"""

import ctypes
import os
import statistics
import subprocess
import sys
import tempfile
import timeit
from datetime import datetime, timedelta, timezone
from pathlib import Path

import tessera
from tessera import _ffi

CALLS = int(os.environ.get("TESSERA_BENCH_CALLS", "200000"))
REPEAT = 9


def median_ns(fn) -> float:
    runs = timeit.repeat(fn, number=CALLS, repeat=REPEAT)
    return statistics.median(runs) / CALLS * 1e9


def main() -> int:
    cli = sys.argv[1]
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        subprocess.run([cli, "keygen", "--out-dir", tmp, "--name", "vendor"], check=True, capture_output=True)
        now = datetime.now(timezone.utc).replace(microsecond=0)
        spec = (
            '{"license_type":"time-limited","validity_period":"%s",'
            '"product_details":{"short_code":"acme-cad"}}' % (now + timedelta(days=30)).isoformat()
        )
        subprocess.run(
            [cli, "issue", "--key", tmp / "vendor.key", "--spec", "-", "--out", tmp / "license.lic"],
            input=spec.encode(), check=True, capture_output=True,
        )
        with tessera.Config(
            "acme-cad",
            public_keys=[(tmp / "vendor.pub").read_text()],
            store_dir=tmp / "state",
            # A throwaway secret for this bench only (a product ships its own).
            secret=b"bench-only-throwaway-vendor-secret",
        ) as config:
            tessera.activate(config, (tmp / "license.lic").read_bytes())
            with tessera.License(config) as lic:
                assert lic.check().usable
                raw_fn = _ffi.lib.tessera_handle_check
                ptr = lic._ptr
                status = ctypes.c_uint32()

                def raw():
                    raw_fn(ptr, status)

                wrapper = median_ns(lic.check)
                bare = median_ns(raw)
                empty = median_ns(lambda: None)
    print(f"library: {_ffi.lib._name}")
    print(f"python {sys.version.split()[0]}: median of {REPEAT} x {CALLS} calls")
    print(f"python_check_ns {wrapper:.1f}   (tessera.License.check)")
    print(f"python_raw_ctypes_ns {bare:.1f}   (lib.tessera_handle_check through ctypes)")
    print(f"python_empty_call_ns {empty:.1f}   (a Python call that does nothing)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
