"""LicenseSpring's official Python library (`licensespring`, pinned in
requirements.txt), unchanged, against Tessera's server: seed 003 as a
product built on LicenseSpring's SDK calls it (issue 40, docs/COMPAT.md).

Run by scripts/licensespring-client.sh through tests/online/harness.py,
which starts the real server (and the fault proxy) and names them in
TESSERA_TEST_* variables. The only line a product changes besides its
configuration is the verifier: the vendor's certificate chain, handed out
by the admin API, in place of LicenseSpring's built-in public key.
"""

import base64
import functools
import http.server
import json
import os
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.parse
import urllib.request

from licensespring.api import APIClient
from licensespring.api.error import ClientError
from licensespring.api.signature import FSSignatureVerifier, SignatureVerifier
from licensespring.licensefile.config import Configuration
from licensespring.licensefile.license_manager import LicenseID, LicenseManager
from licensespring.licensefile.object_parser.customer import Customer

URL = os.environ["TESSERA_TEST_URL"]
PROXY = os.environ["TESSERA_TEST_PROXY"]
ADMIN_TOKEN = os.environ["TESSERA_TEST_ADMIN_TOKEN"]
PRODUCT = os.environ["TESSERA_TEST_PRODUCT"]
SHARED_KEY = base64.b64encode(bytes.fromhex(os.environ["TESSERA_TEST_PRODUCT_KEY_HEX"])).decode()
USERNAME = os.environ["TESSERA_TEST_USERNAME"]
PASSWORD = os.environ["TESSERA_TEST_PASSWORD"]
LICENSE_ID = os.environ["TESSERA_TEST_LICENSE_ID"]

failures = []


def check(name, condition, detail=""):
    print(("ok   " if condition else "FAIL ") + name + (f": {detail}" if detail and not condition else ""))
    if not condition:
        failures.append(name)


def admin(path, method="GET", body=None):
    request = urllib.request.Request(
        URL + path,
        method=method,
        data=None if body is None else json.dumps(body).encode(),
        headers={"Authorization": f"Bearer {ADMIN_TOKEN}", "Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request) as answer:
        return json.load(answer)


def b64url(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


class Provider:
    """An OpenID provider on loopback for the account's single sign-on: its
    key set, and a token endpoint that exchanges a code once."""

    ISSUER, CLIENT, SECRET = "https://idp.test-only.example", "tessera-test-client", "test-only-client-secret"
    REDIRECT = "http://127.0.0.1/callback"

    def __init__(self):
        from Crypto.PublicKey import RSA

        self.key = RSA.generate(2048)
        self.codes = {}
        provider = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def answer(self, status, body):
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_GET(self):
                if self.path != "/jwks":
                    return self.answer(404, {"error": "not_found"})
                n = provider.key.n.to_bytes((provider.key.n.bit_length() + 7) // 8, "big")
                e = provider.key.e.to_bytes(3, "big")
                self.answer(200, {"keys": [{"kty": "RSA", "kid": "rsa-1", "use": "sig", "alg": "RS256",
                                            "n": b64url(n), "e": b64url(e)}]})

            def do_POST(self):
                length = int(self.headers.get("Content-Length", "0"))
                form = dict(urllib.parse.parse_qsl(self.rfile.read(length).decode()))
                token = provider.codes.pop(form.get("code"), None)
                good = (form.get("client_id"), form.get("client_secret"), form.get("redirect_uri"),
                        form.get("grant_type")) == (provider.CLIENT, provider.SECRET, provider.REDIRECT,
                                                    "authorization_code")
                if self.path == "/token" and token and good:
                    return self.answer(200, {"access_token": "opaque", "token_type": "Bearer",
                                             "expires_in": 300, "id_token": token})
                self.answer(400, {"error": "invalid_grant"})

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def id_token(self, email):
        from Crypto.Hash import SHA256
        from Crypto.Signature import pkcs1_15

        now = int(time.time())
        header = {"alg": "RS256", "kid": "rsa-1", "typ": "JWT"}
        claims = {"iss": self.ISSUER, "aud": self.CLIENT, "sub": "248289761001", "email": email,
                  "iat": now - 10, "exp": now + 300}
        signing_input = f"{b64url(json.dumps(header).encode())}.{b64url(json.dumps(claims).encode())}"
        signature = pkcs1_15.new(self.key).sign(SHA256.new(signing_input.encode()))
        return f"{signing_input}.{b64url(signature)}"

    def code_for(self, email):
        code = b64url(os.urandom(12))
        self.codes[code] = self.id_token(email)
        return code


def domain(url):
    """LicenseSpring's api_domain: host and port, no scheme."""
    return urllib.parse.urlsplit(url).netloc


def chain_file(work):
    """The vendor's chain, from the admin API, as the product ships it."""
    path = os.path.join(work, "tessera-licensespring-chain.pem")
    with open(path, "w") as f:
        f.write(admin("/admin/v1/compat/licensespring/chain")["chain"])
    return path


def conf_in(work, name, verifier=None):
    """A Configuration of its own licensefile directory (one license each)."""
    chain = os.path.join(work, "tessera-licensespring-chain.pem")
    return Configuration(
        product=PRODUCT,
        api_key=PRODUCT,
        shared_key=SHARED_KEY,
        api_protocol="http",
        api_domain=domain(URL),
        signature_verifier=verifier or functools.partial(FSSignatureVerifier, chain),
        file_path=os.path.join(work, name),
        is_guard_file_enabled=False,
    )


def seats_used(license_id):
    return admin(f"/admin/v1/licenses/{license_id}/seats")["used"]


def usage_calls(conf):
    """Consumption, floating seats, the update check, the product's details
    and a trial, through the library's own objects."""
    details = {"short_code": PRODUCT, "product_name": "Acme Online"}
    admin("/admin/v1/licenses", "POST", {"license_key": "TEST-ONLY-LS-CONS-0001", "spec": {
        "id": "L-LS-CONS", "license_type": "consumption", "max_consumptions": 10,
        "product_details": details,
        "product_features": [{"code": "render", "name": "Render", "feature_type": "consumption",
                              "max_consumption": 5}]}})
    manager = LicenseManager(conf)
    license = manager.activate_license(LicenseID.from_key("TEST-ONLY-LS-CONS-0001"))
    license.add_local_consumption(3)
    check("sync_consumption sends the local consumptions", license.sync_consumption() is True)
    check("and the server's total comes back", license.total_consumptions() == 3 and license.local_consumptions() == 0,
          (license.total_consumptions(), license.local_consumptions()))
    try:
        license.add_local_consumption(8)
        check("the library itself stops at the limit", False, "it took 8 more")
    except Exception as e:
        check("the library itself stops at the limit", "consumptions" in str(e).lower(), repr(e))
    # Past the library's own check, the server refuses it too.
    try:
        manager.api_client.add_consumption(product=PRODUCT, license_key="TEST-ONLY-LS-CONS-0001", consumptions=8)
        check("consumption past the limit is refused", False, "it was accepted")
    except ClientError as e:
        check("consumption past the limit is refused (409)", (e.status, e.code) == (409, "consumption_limit"), repr(e))
    check("and nothing of it was counted", license.check().get("order_store_id") == "L-LS-CONS")
    license.add_local_feature_consumption("render", 2)
    check("sync_feature_consumption sends the feature's", license.sync_feature_consumption("render") is True)
    check("and the feature's total comes back", license.get_feature_data("render").get("total_consumptions") == 2,
          license.get_feature_data("render"))
    try:
        manager.api_client.add_consumption(product=PRODUCT, license_key="TEST-ONLY-LS-CONS-0001", consumptions=-1)
        check("a negative consumption is refused", False, "it was accepted")
    except ClientError as e:
        check("a negative consumption is refused, naming why", e.code == "not_supported", repr(e))
    license.deactivate(delete_license=True)

    # Floating: the harness's license has 5 seats and may be borrowed 72 h.
    floating = LicenseManager(conf).activate_license(LicenseID.from_key(os.environ["TESSERA_TEST_LICENSE_KEY"]))
    check("a floating license is LicenseSpring's cloud floating", floating.licensefile_handler._cache.is_floating_cloud is True
          and floating.licensefile_handler._cache.is_floating is False)
    check("its activation holds a seat", seats_used(LICENSE_ID) == 1, seats_used(LICENSE_ID))
    floating.floating_release(throw_e=True)
    check("floating_release frees the seat", seats_used(LICENSE_ID) == 0, seats_used(LICENSE_ID))
    floating.check()
    check("the check takes it again", seats_used(LICENSE_ID) == 1, seats_used(LICENSE_ID))
    until = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() + 24 * 3600))
    floating.floating_borrow(until)
    check("floating_borrow borrows the seat", floating.is_borrowed() and seats_used(LICENSE_ID) == 1)
    try:
        manager.api_client.floating_borrow(product=PRODUCT, license_key=os.environ["TESSERA_TEST_LICENSE_KEY"],
                                           borrowed_until=time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() + 100 * 3600)))
        check("a borrow past max_borrow_time is refused", False, "it was granted")
    except ClientError as e:
        check("a borrow past max_borrow_time is refused (400)", e.code == "borrow_too_long", repr(e))
    # A borrowed seat stays counted until the borrow ends, returned early
    # or not, as Tessera's own (a copy of the device's state could restore
    # it; SECURITY.md).
    floating.floating_release(throw_e=True)
    check("a released borrow keeps its seat until it ends", seats_used(LICENSE_ID) == 1, seats_used(LICENSE_ID))

    # The update check: the harness published 1.5 and 2.0.
    key = LicenseID.from_key(os.environ["TESSERA_TEST_LICENSE_KEY"])
    versions = manager.get_version_list(key)
    # The stable channel's; the harness also publishes a 0.9 in each of the
    # download helper's channels (dl-*), which the list answers too.
    stable = sorted(v["version"] for v in versions if v.get("channel") == "stable")
    others = {v["channel"] for v in versions if v.get("channel") != "stable"}
    check("get_version_list answers the published versions", stable == ["1.5", "2.0"]
          and all(c.startswith("dl-") for c in others), versions)
    newest = manager.get_installation_file(key)
    check("get_installation_file answers the newest", newest.get("version") == "2.0"
          and newest.get("installation_file", "").endswith("acme-online-2.0.msi"), newest)
    older = manager.get_installation_file(key, version="1.5")
    check("or the version named", older.get("version") == "1.5", older)
    details = floating.product_details()
    check("product_details answers the product", details.get("short_code") == PRODUCT and details.get("allow_trial") is True, details)
    floating.deactivate(delete_license=True)

    # A trial from the product's trial definition, then activated.
    trial_id = manager.get_trial_license(Customer(email="trial@example.com"))
    check("get_trial_license answers a key", bool(trial_id.key))
    again = manager.get_trial_license(Customer(email="trial@example.com"))
    check("the same key when this device asks again", again.key == trial_id.key, (again.key, trial_id.key))
    trial = LicenseManager(conf_in(os.path.dirname(conf._file_path), "trial")).activate_license(trial_id)
    check("the trial activates as a trial", trial.is_trial() and trial.license_type() == "time-limited", trial.license_type())


def offline_calls(work):
    """Offline activation and deactivation with the SDK's own request
    files: answered by the vendor through the admin API (LicenseSpring's
    offline portal), or posted by a device online after all."""
    key = "TEST-ONLY-LS-OFF-0001"
    admin("/admin/v1/licenses", "POST", {"license_key": key, "spec": {
        "id": "L-LS-OFF", "license_type": "perpetual", "max_activations": 1,
        "product_details": {"short_code": PRODUCT, "product_name": "Acme Online"}}})
    conf = conf_in(work, "offline")
    conf.is_guard_file_enabled = True
    manager = LicenseManager(conf)
    request_path = manager.create_offline_activation_file(LicenseID.from_key(key), os.path.join(work, "offline-req"))
    with open(request_path) as f:
        request_file = f.read()
    # One changed character of the file: its signature no longer holds.
    tampered = base64.b64encode(base64.b64decode(request_file).replace(b"TEST-ONLY-LS-OFF", b"TEST-ONLY-LS-0FF")).decode()
    try:
        admin("/admin/v1/compat/licensespring/offline", "POST", {"request": tampered})
        check("a tampered request file is refused", False, "it was answered")
    except urllib.error.HTTPError as e:
        check("a tampered request file is refused (401)", e.code == 401, e.code)
    check("and nothing was activated", admin("/admin/v1/licenses/L-LS-OFF/devices") == [])
    answer = admin("/admin/v1/compat/licensespring/offline", "POST", {"request": request_file})
    check("the offline portal answers the activation", answer["request"] == "activation" and bool(answer["response"]), answer)
    response_path = os.path.join(work, "ls_activation.lic")
    with open(response_path, "w") as f:
        f.write(answer["response"])
    license = manager.activate_license_offline(response_path)
    check("activate_license_offline takes the response file (its guard checked)", license.key() == key and license.license_active())
    check("the server holds the offline device's activation", len(admin("/admin/v1/licenses/L-LS-OFF/devices")) == 1)
    deactivation_path = license.deactivate_offline(os.path.join(work, "offline-req"))
    with open(deactivation_path) as f:
        answer = admin("/admin/v1/compat/licensespring/offline", "POST", {"request": f.read()})
    check("the offline portal answers the deactivation", answer == {"request": "deactivation", "response": None}, answer)
    check("which freed the slot", admin("/admin/v1/licenses/L-LS-OFF/devices") == [])
    # A device online after all posts its request file: the answer's
    # license_signature_v2 is checked by the library with the chain.
    client = manager.api_client
    answered = client.activate_offline(client.activate_offline_dump(product=PRODUCT, license_key=key))
    check("activate_offline answers a signed license object", answered.get("order_store_id") == "L-LS-OFF"
          and bool(answered.get("license_signature_v2")), answered.get("order_store_id"))
    dump = client.deactivate_offline_dump(product=PRODUCT, license_key=key)
    check("deactivate_offline frees it", client.deactivate_offline(dump) is not None
          and admin("/admin/v1/licenses/L-LS-OFF/devices") == [])


def license_calls(conf, work):
    """Activate, check and deactivate, by license key and by user, through
    the library's own LicenseManager and License objects."""
    details = {"short_code": PRODUCT, "product_name": "Acme Online"}
    admin("/admin/v1/licenses", "POST", {"license_key": "TEST-ONLY-LS-KEY-0001", "spec": {
        "id": "L-LS-KEY", "license_type": "time-limited", "validity_period": "2099-01-01T00:00:00Z",
        "max_activations": 1, "product_details": details,
        "product_features": [{"code": "pdf-export", "name": "PDF export"}]}})
    manager = LicenseManager(conf)
    license = manager.activate_license(LicenseID.from_key("TEST-ONLY-LS-KEY-0001"))
    check("activate_license by key answers the license", license.key() == "TEST-ONLY-LS-KEY-0001" and license.license_type() == "time-limited", license.license_type())
    check("the activated license is active and enabled", license.license_active() and license.license_enabled())
    check("its features are there", license.features() == ["pdf-export"], license.features())
    check("with their data", license.get_feature_data("pdf-export").get("name") == "PDF export", license.get_feature_data("pdf-export"))
    devices = admin("/admin/v1/licenses/L-LS-KEY/devices")
    check("the server holds the device's activation", len(devices) == 1, devices)
    answer = license.check()
    check("check_license answers the license", answer.get("order_store_id") == "L-LS-KEY", answer)
    # Another device may not take the only slot.
    try:
        manager.api_client.activate_license(product=PRODUCT, license_key="TEST-ONLY-LS-KEY-0001", hardware_id="another-device-0001")
        check("a second device past max_activations is refused", False, "it was activated")
    except ClientError as e:
        check("a second device past max_activations is refused (409)", (e.status, e.code) == (409, "activation_limit"), repr(e))
    license.deactivate()
    check("deactivate frees the slot", admin("/admin/v1/licenses/L-LS-KEY/devices") == [], admin("/admin/v1/licenses/L-LS-KEY/devices"))
    check("and the library holds it inactive", not license.license_active())
    try:
        manager.api_client.check_license(product=PRODUCT, license_key="TEST-ONLY-LS-KEY-0001")
        check("a check after the deactivation is refused", False, "it was answered")
    except ClientError as e:
        check("a check after the deactivation is refused (404)", e.status == 404, repr(e))
    try:
        manager.activate_license(LicenseID.from_key("TEST-ONLY-NO-SUCH-KEY"))
        check("an unknown key is refused", False, "it was activated")
    except ClientError as e:
        check("an unknown key is refused (404)", e.status == 404, repr(e))

    # By user: a user with one license of the product.
    user = admin("/admin/v1/users", "POST", {"username": "grace@example.com", "password": "test-only-password-2"})
    admin("/admin/v1/licenses", "POST", {"spec": {
        "id": "L-LS-USER", "license_type": "perpetual", "max_activations": 2,
        "product_details": dict(details, authorization_method="user")}})
    admin(f"/admin/v1/licenses/L-LS-USER/users/{user['id']}", "POST")
    license = manager.activate_license(LicenseID.from_user("grace@example.com", "test-only-password-2"))
    check("activate_license by user answers the user's license", license.licensefile_handler._cache.order_store_id == "L-LS-USER")
    answer = license.check()
    check("check_license by user (no password, as the library sends it)", answer.get("user", {}).get("email") == "grace@example.com", answer.get("user"))
    license.deactivate()
    check("deactivate by user frees the slot", admin("/admin/v1/licenses/L-LS-USER/devices") == [])
    try:
        manager.activate_license(LicenseID.from_user("grace@example.com", "wrong-password"))
        check("activation with a wrong password is refused", False, "it was activated")
    except ClientError as e:
        check("activation with a wrong password is refused (401)", e.status == 401, repr(e))


def main():
    work = tempfile.mkdtemp()
    chain = chain_file(work)
    # The one line a product changes: LicenseSpring's library makes its
    # verifier by calling the class it is given with no argument, so the
    # chain's path is bound to FSSignatureVerifier beforehand.
    verifier = functools.partial(FSSignatureVerifier, chain)

    def client(url=URL, **kw):
        return APIClient(
            api_key=PRODUCT,
            shared_key=kw.pop("shared_key", SHARED_KEY),
            api_protocol="http",
            api_domain=domain(url),
            signature_verifier=kw.pop("signature_verifier", verifier),
            **kw,
        )

    # The seed's call through the library's own LicenseManager.
    conf = Configuration(
        product=PRODUCT,
        api_key=PRODUCT,
        shared_key=SHARED_KEY,
        api_protocol="http",
        api_domain=domain(URL),
        signature_verifier=verifier,
        file_path=os.path.join(work, "licensefile"),
        is_guard_file_enabled=False,
    )
    manager = LicenseManager(conf)
    licenses = manager.get_user_licenses(LicenseID.from_user(USERNAME, PASSWORD))
    check("LicenseManager.get_user_licenses answers the user's license", isinstance(licenses, list) and len(licenses) == 1, licenses)
    first = licenses[0] if licenses else {}
    check("the license is the one the vendor assigned", first.get("order_store_id") == LICENSE_ID, first.get("order_store_id"))
    check("with the user the library signed in as", first.get("user", {}).get("email") == USERNAME, first.get("user"))
    check("and the product", first.get("product_details", {}).get("short_code") == PRODUCT, first.get("product_details"))

    # APIClient directly, as LicenseSpring's docs show it.
    direct = client().user_licenses(product=PRODUCT, username=USERNAME, password=PASSWORD)
    check("APIClient.user_licenses answers the same", direct == licenses)

    # Single sign-on: a license sold to the customer account `acme`, whose
    # identity provider vouches for the user; an id token, then a code.
    idp = Provider()
    admin("/admin/v1/licenses", "POST", {"account": "acme", "spec": {
        "id": "L-SSO", "license_type": "perpetual", "product_details": {"short_code": PRODUCT}}})
    user = admin(f"/admin/v1/licenses/{LICENSE_ID}/users")[0]
    admin(f"/admin/v1/licenses/L-SSO/users/{user['id']}", "POST")
    admin("/admin/v1/accounts/acme/sso", "PUT", {
        "issuer": idp.ISSUER, "client_id": idp.CLIENT, "client_secret": idp.SECRET,
        "jwks_uri": f"{idp.url}/jwks", "token_endpoint": f"{idp.url}/token", "redirect_uri": idp.REDIRECT})
    by_token = manager.get_user_licenses(customer_account_code="acme", id_token=idp.id_token(USERNAME))
    check("SSO by id token answers the account's license only", [l["order_store_id"] for l in by_token] == ["L-SSO"], by_token)
    by_code = manager.get_user_licenses(customer_account_code="acme", code=idp.code_for(USERNAME), redirect_uri=idp.REDIRECT)
    check("SSO by authorization code answers the same", by_code == by_token, by_code)
    try:
        manager.get_user_licenses(customer_account_code="acme", code=idp.code_for(USERNAME), redirect_uri="http://127.0.0.1/elsewhere")
        check("a code for another redirect URI is refused", False, "it was answered")
    except ClientError as e:
        check("a code for another redirect URI is refused", e.code == "redirect_uri_mismatch", repr(e))
    try:
        manager.get_user_licenses(customer_account_code="acme", id_token=idp.id_token("mallory@example.com"))
        check("SSO for a user the server does not know is refused", False, "it was answered")
    except ClientError as e:
        check("SSO for a user the server does not know is refused", 400 <= e.status < 500, repr(e))

    license_calls(conf, work)
    usage_calls(conf_in(work, "usage"))
    offline_calls(work)

    # What Tessera has no counterpart for answers a clear refusal.
    for name, call in [
        ("a bundle", lambda: manager.api_client.check_bundle(product=PRODUCT, license_key="X")),
        ("device variables", lambda: manager.api_client.track_device_variables(product=PRODUCT, license_key="X", variables={"k": "v"})),
        ("a customer's license users", lambda: manager.get_customer_license_users(Customer(email="c@example.com"))),
    ]:
        try:
            call()
            check(f"{name} is refused", False, "it was answered")
        except ClientError as e:
            check(f"{name} is refused naming why (not_supported)", e.code == "not_supported" and "not served" in e.message, repr(e))

    # Errors arrive as the library's ClientError, with the seed's fields.
    try:
        client().user_licenses(product=PRODUCT, username=USERNAME, password="not-the-password")
        check("a wrong password is refused", False, "it was answered")
    except ClientError as e:
        check("a wrong password is refused (401)", e.status == 401, repr(e))
        check("with a code and a message", bool(e.code) and bool(e.message), repr(e))
    try:
        client(shared_key=base64.b64encode(b"x" * 32).decode()).user_licenses(
            product=PRODUCT, username=USERNAME, password=PASSWORD
        )
        check("a wrong shared key is refused", False, "it was answered")
    except ClientError as e:
        check("a wrong shared key is refused (401)", e.status == 401, repr(e))

    # LicenseSpring's built-in key does not verify the vendor's answers:
    # the verifier line above is needed, and it is what makes them trusted.
    try:
        client(signature_verifier=SignatureVerifier).user_licenses(
            product=PRODUCT, username=USERNAME, password=PASSWORD
        )
        check("LicenseSpring's own key refuses Tessera's answers", False, "it verified")
    except ValueError:
        check("LicenseSpring's own key refuses Tessera's answers", True)

    # Through the fault proxy: an answer passed as is verifies; one with a
    # byte flipped on the way is refused by the library's own check.
    proxied = client(url=PROXY)
    now = client().user_licenses(product=PRODUCT, username=USERNAME, password=PASSWORD)
    through = proxied.user_licenses(product=PRODUCT, username=USERNAME, password=PASSWORD)
    check("an answer through the proxy verifies", through == now and len(now) == 2, through)
    urllib.request.urlopen(PROXY + "/__fault/alter").read()
    try:
        proxied.user_licenses(product=PRODUCT, username=USERNAME, password=PASSWORD)
        check("a tampered answer is refused by the library", False, "it was accepted")
    except ValueError as e:
        check("a tampered answer is refused by the library", "signature" in str(e).lower(), repr(e))
    finally:
        urllib.request.urlopen(PROXY + "/__fault/none").read()

    print(f"{len(failures)} failed" if failures else "all passed")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
