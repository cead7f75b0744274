"""The product's side in Python: activate a license on this device, then ask
what the product needs to know.

    python examples/python/quickstart.py VENDOR_PUBLIC_KEY LICENSE_FILE STATE_DIR
"""

import sys
from pathlib import Path

import tessera


def main(argv: list[str]) -> int:
    if len(argv) != 4:
        print(__doc__, file=sys.stderr)
        return 2
    key, license_file, state = Path(argv[1]), Path(argv[2]), Path(argv[3])
    print(f"tessera {tessera.version()}")
    try:
        # Every product builds in a vendor secret of its own, at least 16 bytes.
        secret = b"example vendor secret, not a real one"
        with tessera.Config("acme-cad", public_keys=[key.read_text()], store_dir=state, secret=secret) as config:
            print(f"this device: {config.fingerprint()}")
            tessera.activate(config, license_file.read_bytes())
            print("activated")
            with tessera.LicenseHandle(config) as lic:
                report = lic.validate()
                print(f"status: {report.status.label}")
                for why in report.reasons:
                    print(f"why: {why}")
                if report.valid_until:
                    print(f"days left: {(report.valid_until - report.checked_at).days}")
                pdf = lic.feature("pdf-export")
                print(f"pdf-export: {'enabled' if pdf.enabled else 'not available'}")
                print(f"customer: {lic.document.get('customer', {}).get('company_name', '-')}")
                return 0 if report.usable else 3
    except tessera.TesseraError as e:
        print(f"tessera: {e}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main(sys.argv))
