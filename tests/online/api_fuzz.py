"""Schemathesis against the reference server's own OpenAPI document
(server/openapi.json): every operation, requests generated from the
document, each one signed as the SDK signs it (client API) or carrying the
admin token, sent to a real server on loopback. Every answer must be below
500 and conform to the document (status code declared, body valid against
its schema).

    TESSERA_BIN_DIR=target/debug pytest tests/online/api_fuzz.py

scripts/api-fuzz.sh makes the environment and runs it.
"""

import base64
import hashlib
import hmac
import json
import os
import secrets
import shutil
import sys
import tempfile
import subprocess
from email.utils import formatdate

import pytest
import requests
import schemathesis
import schemathesis.specs.openapi.checks as checks
from hypothesis import HealthCheck, settings

sys.path.insert(0, os.path.dirname(__file__))
import harness  # noqa: E402

ROOT = os.path.join(os.path.dirname(__file__), "..", "..")
BIN_DIR = os.environ.get("TESSERA_BIN_DIR", os.path.join(ROOT, "target", "debug"))
EXAMPLES = int(os.environ.get("TESSERA_API_FUZZ_EXAMPLES", "60"))

schema = schemathesis.openapi.from_path(os.path.join(ROOT, "server", "openapi.json"))

# Checks that send requests of their own, which schemathesis cannot sign
# (the HMAC covers the body it would send), or that take a 2xx for every
# request the document allows (a license id the document allows need not
# exist: 404 is the answer). Every other check runs: no 5xx, status codes,
# content types, headers and bodies as documented, invalid data refused.
EXCLUDED = [
    checks.missing_required_header,
    checks.ignored_auth,
    checks.positive_data_acceptance,
    checks.use_after_free,
    checks.ensure_resource_availability,
]


@pytest.fixture(scope="module")
def server():
    work = tempfile.mkdtemp(prefix="tessera-api-fuzz-")
    subprocess.run(
        [os.path.join(BIN_DIR, "tessera"), "keygen", "--out-dir", work, "--name", "server"],
        check=True,
        stdout=subprocess.DEVNULL,
    )
    s = harness.Server(BIN_DIR, work)
    s.start()
    try:
        key = harness.set_up(s.url)
        yield s.url, key
    finally:
        s.stop()
        shutil.rmtree(work, ignore_errors=True)


def signed_headers(key, method, path, body):
    date = formatdate(usegmt=True)
    nonce = secrets.token_hex(16)
    digest = hashlib.sha256(body).hexdigest()
    message = f"{date}\n{method}\n{path}\n{digest}\n{nonce}".encode()
    signature = base64.b64encode(hmac.new(key, message, hashlib.sha256).digest()).decode()
    return {
        "date": date,
        "tessera-nonce": nonce,
        "authorization": f"Tessera-HMAC-SHA256 product={harness.PRODUCT}, signature={signature}",
    }


@schema.parametrize()
@settings(
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=list(HealthCheck),
)
def test_every_operation_answers_below_500_and_as_documented(case, server):
    url, key = server
    kwargs = case.as_transport_kwargs(base_url=url)
    body = b""
    if "json" in kwargs:
        body = json.dumps(kwargs.pop("json")).encode()
        kwargs["data"] = body
    elif isinstance(kwargs.get("data"), (bytes, str)):
        body = kwargs["data"] if isinstance(kwargs["data"], bytes) else kwargs["data"].encode()
    headers = {k: v for k, v in (kwargs.pop("headers", None) or {}).items()}
    headers.setdefault("content-type", "application/json")
    path = requests.utils.urlparse(kwargs["url"]).path
    # A case without the credentials' header is a negative case about it:
    # sent as it is, it must be refused. Any other gets real credentials.
    authorized = any(k.lower() == "authorization" for k in headers)
    for k in [k for k in headers if k.lower() in ("authorization", "date", "tessera-nonce")]:
        del headers[k]
    if authorized and path.startswith("/api/v1/"):
        headers.update(signed_headers(key, kwargs["method"], path, body))
    elif authorized and path.startswith("/admin/v1/"):
        headers["authorization"] = f"Bearer {harness.ADMIN_TOKEN}"
    kwargs["headers"] = headers
    response = requests.request(**kwargs, timeout=10)
    assert response.status_code < 500, (response.status_code, response.text[:500])
    excluded = list(EXCLUDED)
    if response.status_code == 413:
        # Over 64 KiB, refused before it is read: invalid or not, 413 is
        # the answer (schemathesis counts only 400-style codes as refusals).
        excluded.append(checks.negative_data_rejection)
    case.validate_response(response, excluded_checks=excluded)
