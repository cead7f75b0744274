"""The whole online loop from Python, as examples/online.rs does it in Rust:
activate, take a floating seat, consume and upload exactly once, borrow,
keep working while the server is away, sync when it is back, deactivate.

    python examples/python/online.py URL PRODUCT PRODUCT_KEY_HEX LICENSE_KEY VENDOR_PUBLIC_KEY STATE_DIR

URL is the license server (tessera-server); PRODUCT_KEY_HEX the product's
shared key from its admin API, in hex. At step 6 it asks you to stop the
server and at step 7 to start it again (tests/online/harness.py answers
both in the test command).
"""

import sys
from datetime import timedelta
from pathlib import Path

import tessera


def step(text: str) -> None:
    print(f"\n== {text}", flush=True)


def main(argv: list[str]) -> int:
    if len(argv) != 7:
        print(__doc__, file=sys.stderr)
        return 2
    url, product, product_key, license_key, key, state = argv[1:]
    # Every product builds in a vendor secret of its own, at least 16 bytes.
    secret = b"example vendor secret, not a real one"
    server = tessera.Server(url, bytes.fromhex(product_key), attempts=2, backoff=timedelta(milliseconds=50))
    with tessera.Config(product, public_keys=[Path(key).read_text()], store_dir=state, secret=secret) as config, \
            tessera.Connection(config, server) as conn:
        step("1. Activate online by license key")
        conn.activate(license_key)
        with tessera.LicenseHandle(config) as lic:
            print(f"activated {lic.license_id}; before a seat: {lic.check().label}")

            step("2. Take a floating seat (a heartbeat thread keeps it)")
            with conn.session(lic) as seat:
                lease = seat.beat()
                print(f"seat held for {round(lease.time_left / timedelta(minutes=1))} minutes: {lic.check().label}")

                step("3. Consume 3 renders and upload them (exactly once)")
                usage = lic.consume(3, feature="render")
                first, again = conn.upload_consumption(lic), conn.upload_consumption(lic)
                print(f"used {usage.used} of {usage.limit}; uploaded {first.sent} record(s), then {again.sent}")

            step("4. The seat is back; borrow one for 8 hours, to work offline")
            borrowed = conn.borrow(lic, 8)
            print(f"borrowed for {round(borrowed.time_left / timedelta(hours=1))} hours: {lic.check().label}")

            step("5. Keep the license in sync from a background thread (status changes print here)")

            def on_change(change: tessera.StatusChange) -> None:
                print(f"   status {change.old.label} -> {change.new.label}: {change.reason}", flush=True)

            auto = conn.auto_sync(lic, on_change, keep_seat=False, retry=timedelta(seconds=1))

            step("6. Offline: stop the server, then press Enter")
            input()
            print(f"check: {lic.check().label}")
            lic.consume(2, feature="render")
            try:
                conn.check_in()
                print("a check-in succeeded with the server down", file=sys.stderr)
                return 1
            except tessera.errors.NetworkError as e:
                print(f"check-in: {e}")

            step("7. Back online: start the server, then press Enter")
            input()
            conn.sync(lic)
            print(f"synced (the 2 renders went up): {lic.check().label}")

            step("8. Stop the auto-sync, return the borrowed seat and deactivate")
            syncs, failures, _ = auto.record()
            auto.close()
            print(f"the auto-sync made {syncs} sync(s) and saw {failures} failure(s)")
            conn.return_borrow(lic)
        conn.deactivate()
        print("deactivated")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
