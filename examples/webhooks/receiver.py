#!/usr/bin/env python3
"""A webhook receiver for tessera-server: verifies each delivery's signature
with the server's public key before it believes a word, refuses a replay,
and keeps the event id as its idempotency key (docs/EVENTS.md).

    receiver.py SERVER_PUBLIC_KEY_BASE64 KEY_ID [PORT]   # serve
    receiver.py --selftest                              # docs/PROTOCOL.md's example

Needs the `cryptography` package (pip install cryptography).
"""
import base64
import json
import sys
import time
from http.server import BaseHTTPRequestHandler, HTTPServer

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

DOMAIN = b"tessera/v1/webhook\0"
TOLERANCE = 300  # seconds either way


def verify(public_key: Ed25519PublicKey, key_id: str, headers, body: bytes, now: int) -> str:
    """The event id of a genuine, fresh delivery; ValueError otherwise."""
    signer, signature = headers["Tessera-Signature"].split(" ", 1)
    if signer != key_id:
        raise ValueError("signed by a key this receiver does not trust")
    event_id, timestamp = headers["Tessera-Event-Id"], headers["Tessera-Timestamp"]
    message = DOMAIN + event_id.encode() + b"\0" + timestamp.encode() + b"\0" + body
    try:
        public_key.verify(base64.b64decode(signature), message)
    except InvalidSignature:
        raise ValueError("the signature does not verify") from None
    if not timestamp.isdigit() or abs(now - int(timestamp)) > TOLERANCE:
        raise ValueError("sent too long ago: a replay")
    return event_id


def serve(public_key_b64: str, key_id: str, port: int) -> None:
    key = Ed25519PublicKey.from_public_bytes(base64.b64decode(public_key_b64))
    seen = set()  # a real receiver keeps these in its database

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            try:
                event_id = verify(key, key_id, self.headers, body, int(time.time()))
            except (KeyError, ValueError) as e:
                self.send_response(401)
                self.end_headers()
                print(f"refused: {e}", file=sys.stderr)
                return
            if event_id not in seen:  # at least once: a second copy is skipped
                seen.add(event_id)
                event = json.loads(body)
                print(f"{event['type']} {event.get('license_id')} {event['data']}")
            self.send_response(200)
            self.end_headers()

    HTTPServer(("127.0.0.1", port), Handler).serve_forever()


def selftest() -> None:
    """docs/PROTOCOL.md's worked example verifies; anything changed does not."""
    key = Ed25519PublicKey.from_public_bytes(
        base64.b64decode("6kpsY+KcUgq+9VB7Ey7F+ZVHdq6+vnuSQh7qaRRG0iw="))
    body = (b'{"id":"42","type":"license.created","created_at":"2030-01-01T00:00:00Z",'
            b'"license_id":"L-1","product":"acme","account":"acme-corp","data":{"by":"device"}}')
    headers = {
        "Tessera-Event-Id": "42",
        "Tessera-Timestamp": "1893456000",
        "Tessera-Signature": "fe812c12f3ab4ce6 oyn/oBTiEQVCqSI5GXj6F6h3kBa5frvIuUdvLfHRsUlQHEL79QQjRSWXQLdl1DDWCEqKf5myyj0eljxAYZzCCg==",
    }
    assert verify(key, "fe812c12f3ab4ce6", headers, body, 1893456000 + 60) == "42"
    for changed in [
        (headers, body.replace(b"acme-corp", b"evil-corp"), 1893456000),
        ({**headers, "Tessera-Event-Id": "43"}, body, 1893456000),
        ({**headers, "Tessera-Timestamp": "1893456001"}, body, 1893456000),
        (headers, body, 1893456000 + 3600),  # replayed an hour later
    ]:
        try:
            verify(key, "fe812c12f3ab4ce6", *changed)
        except ValueError:
            continue
        raise AssertionError("a changed delivery verified")
    print("receiver.py: the worked example verifies; changed ones do not")


if __name__ == "__main__":
    if sys.argv[1:] == ["--selftest"]:
        selftest()
    elif len(sys.argv) in (3, 4):
        serve(sys.argv[1], sys.argv[2], int(sys.argv[3]) if len(sys.argv) == 4 else 8088)
    else:
        sys.exit(__doc__)
