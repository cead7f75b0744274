#!/usr/bin/env python3
"""The license server and the fault proxy on loopback, for the online
suites that are not Rust (C, C++, Python) and for the online examples.

    harness.py BIN_DIR WORK_DIR run CMD...      # a test program
    harness.py BIN_DIR WORK_DIR example CMD...  # an online example

BIN_DIR holds `tessera` (the vendor CLI), `tessera-server` and
`examples/fault_proxy` (cargo's target/debug). The harness makes a
throwaway signing key, starts the reference server (SQLite in WORK_DIR)
and the fault proxy in front of it, creates a product, a floating
license with a consumption feature, a user holding it and a trial
definition through the admin API, publishes the download helper's
releases (a channel each: dl-good, dl-truncated, dl-swapped, dl-stranger,
dl-stall; signed with `tessera release sign`, hosted by the server), and
starts the loopback identity provider (`examples/idp`) and gives account
initech a desktop sign-in through it for the user sso@example.com and the
license L-DESKTOP, and starts a relay (`tessera-relay`, docs/RELAY.md)
delegated online the ten seats of license L-POOL, and runs CMD with what it needs in TESSERA_TEST_* variables
(the test programs read them).

`example` fills {url}, {product}, {product_key}, {license_key}, {vendor_pub} and
{state} into CMD and answers the example's two prompts as a person would: at
"stop the server" it kills the server and presses Enter; at "start the
server" it starts it again on the same port and database and presses
Enter. Whatever CMD prints goes through; the harness exits with its code.
"""

import base64
import hashlib
import json
import os
import signal
import subprocess
import sys
import urllib.request

ADMIN_TOKEN = "test-only-admin-token-0001"
PRODUCT = "acme-online"
LICENSE_KEY = "TEST-ONLY-ONLINE-KEY-0001"
USERNAME = "ada@example.com"
PASSWORD = "test-only-password"
# The desktop sign-in's user: signed in by the loopback identity provider
# (server/examples/idp.rs) for the license sold to account initech.
SSO_USER = "sso@example.com"
IDP_ISSUER = "https://idp.test.example"
# The relay's pool (docs/RELAY.md): ten floating seats delegated online to
# a tessera-relay the harness starts.
POOL_KEY = "TEST-ONLY-POOL-KEY-0001"
POOL_SEATS = 10
IDP_DESKTOP_CLIENT = "tessera-desktop"


class Server:
    def __init__(self, bin_dir, work):
        self.bin_dir, self.work = bin_dir, work
        self.listen = "127.0.0.1:0"
        self.child = None
        self.url = None

    def start(self):
        env = dict(os.environ)
        env.update(
            TESSERA_SERVER_LISTEN=self.listen,
            TESSERA_SERVER_INSECURE_HTTP="1",
            # A PostgreSQL URL in TESSERA_HARNESS_DATABASE runs it there.
            TESSERA_SERVER_DATABASE=os.environ.get(
                "TESSERA_HARNESS_DATABASE", os.path.join(self.work, "server.db")
            ),
            TESSERA_SERVER_SIGNING_KEY=os.path.join(self.work, "server.key"),
            TESSERA_ADMIN_TOKEN=ADMIN_TOKEN,
        )
        # The releases it hosts, and a key the product does not trust whose
        # signed releases it takes anyway (a server broken into), when the
        # harness made them (main does; api_fuzz.py's server has neither).
        downloads = os.path.join(self.work, "downloads")
        stranger = os.path.join(self.work, "stranger.pub")
        if os.path.isdir(downloads):
            env["TESSERA_SERVER_DOWNLOADS"] = downloads
        if os.path.isfile(stranger):
            env["TESSERA_SERVER_RELEASE_KEYS"] = stranger
        self.child = subprocess.Popen(
            [os.path.join(self.bin_dir, "tessera-server")],
            env=env,
            stderr=subprocess.PIPE,
            text=True,
        )
        line = self.child.stderr.readline()
        words = [w for w in line.split() if w.startswith("http://")]
        if not words:
            raise SystemExit(f"harness: the server did not start: {line}")
        self.url = words[0]
        # Restarts take the same port, so the proxy and the URL stay.
        self.listen = self.url[len("http://"):]

    def stop(self):
        if self.child:
            self.child.kill()
            self.child.wait()
            self.child = None


def admin(url, method, path, body=None):
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(url + path, data=data, method=method)
    request.add_header("authorization", f"Bearer {ADMIN_TOKEN}")
    request.add_header("content-type", "application/json")
    with urllib.request.urlopen(request, timeout=10) as answer:
        return json.loads(answer.read() or b"null")


def set_up(url):
    product = admin(url, "POST", "/admin/v1/products", {"code": PRODUCT, "name": "Acme Online"})
    details = {"product_name": "Acme Online", "short_code": PRODUCT}
    spec = {
        "id": "L-ONLINE", "license_type": "perpetual", "max_activations": 3,
        "is_floating": True, "floating_users": 5, "floating_timeout": 30,
        "can_borrow": True, "max_borrow_time": 72,
        "allow_grace_period": True, "grace_period": 48,
        "product_features": [{"code": "render", "name": "Render",
                              "feature_type": "consumption", "max_consumption": 1000}],
        "product_details": details,
    }
    admin(url, "POST", "/admin/v1/licenses", {"license_key": LICENSE_KEY, "spec": spec})
    pool = {
        "id": "L-POOL", "license_type": "perpetual", "allow_unlimited_activations": True,
        "is_floating": True, "floating_users": POOL_SEATS, "floating_timeout": 30,
        "can_borrow": True, "max_borrow_time": 24,
        "product_features": [{"code": "render", "name": "Render"}],
        "product_details": details,
    }
    admin(url, "POST", "/admin/v1/licenses", {"license_key": POOL_KEY, "spec": pool})
    user = admin(url, "POST", "/admin/v1/users", {"username": USERNAME, "password": PASSWORD})
    admin(url, "POST", f"/admin/v1/licenses/L-ONLINE/users/{user['id']}")
    admin(url, "POST", "/admin/v1/definitions", {
        "product": PRODUCT, "code": "trial", "name": "Trial", "trial_days": 14,
        "spec": {"license_type": "time-limited", "validity_period": "2099-01-01T00:00:00Z",
                 "product_details": details},
    })
    # Two releases: 2.0 needs 1.5 installed, so from 1.0 the update is 1.5.
    for version, needs in (("1.5", ""), ("2.0", "1.5")):
        admin(url, "POST", f"/admin/v1/products/{PRODUCT}/releases", {
            "version": version, "requires_version": needs,
            "installation_file": f"https://example.com/acme-online-{version}.msi",
            "hash_md5": "d41d8cd98f00b204e9800998ecf8427e", "size": 2048,
        })
    return base64.b64decode(product["api_key"])


# The download helper's cases: each a channel of its own holding version
# 0.9 (older than every other release, so the update check without a
# channel still answers 2.0): its file, the key that signs it, and what
# happens to the hosted file after signing.
DOWNLOADS = {
    "dl-good": (64 * 1024 + 7, "server", None),
    "dl-truncated": (64 * 1024, "server", "truncate"),
    "dl-swapped": (64 * 1024, "server", "swap"),
    "dl-stranger": (4096, "stranger", None),
    # Large enough to stall after 512 KiB (the tests ask the fault proxy).
    "dl-stall": (2 * 1024 * 1024, "server", None),
}


def publish_downloads(bin_dir, work, url):
    folder = os.path.join(work, "downloads")
    for channel, (size, signer, spoil) in DOWNLOADS.items():
        name = f"acme-online-{channel}.bin"
        path = os.path.join(folder, name)
        with open(path, "wb") as f:
            f.write(hashlib.sha256(channel.encode()).digest() * (size // 32) + b"x" * (size % 32))
        signed = subprocess.run(
            [os.path.join(bin_dir, "tessera"), "release", "sign",
             "--key", os.path.join(work, f"{signer}.key"), "--file", path,
             "--product", PRODUCT, "--version", "0.9", "--channel", channel],
            check=True, stdout=subprocess.PIPE, text=True,
        ).stdout
        admin(url, "POST", f"/admin/v1/products/{PRODUCT}/releases", {
            "version": "0.9", "channel": channel, "installation_file": f"/downloads/{name}",
            "size": size, "manifest": signed,
        })
        if spoil == "truncate":
            os.truncate(path, size - 100)
        elif spoil == "swap":
            with open(path, "r+b") as f:
                f.seek(size // 2)
                f.write(b"swapped!")


def set_up_sign_in(url, idp):
    spec = {"id": "L-DESKTOP", "license_type": "perpetual", "max_activations": 5,
            "product_details": {"product_name": "Acme Online", "short_code": PRODUCT}}
    admin(url, "POST", "/admin/v1/licenses", {"spec": spec, "account": "initech"})
    user = admin(url, "POST", "/admin/v1/users", {"username": SSO_USER, "password": PASSWORD})
    admin(url, "POST", f"/admin/v1/licenses/L-DESKTOP/users/{user['id']}")
    admin(url, "PUT", "/admin/v1/accounts/initech/sso", {
        "issuer": IDP_ISSUER, "client_id": "tessera-client",
        "jwks_uri": f"{idp}/jwks", "token_endpoint": f"{idp}/token",
        "authorization_endpoint": f"{idp}/authorize",
        "device_authorization_endpoint": f"{idp}/device",
        "desktop_client_id": IDP_DESKTOP_CLIENT, "domains": ["example.com"],
    })


def start_idp(bin_dir):
    child = subprocess.Popen(
        [os.path.join(bin_dir, "examples", "idp")], stdout=subprocess.PIPE, text=True
    )
    line = child.stdout.readline()
    words = [w for w in line.split() if w.startswith("http://")]
    if not words:
        raise SystemExit(f"harness: the identity provider did not start: {line}")
    return child, words[0]


def start_relay(bin_dir, work, url, product_key):
    """A relay delegated online by the server (`tessera-relay init`, then
    `activate`), serving on a port of its own."""
    relay = os.path.join(bin_dir, "tessera-relay")
    home = os.path.join(work, "relay")
    with open(os.path.join(work, "product.key"), "w") as f:
        f.write(base64.b64encode(product_key).decode())
    with open(os.path.join(work, "pool.key"), "w") as f:
        f.write(POOL_KEY)
    base = [relay, "--dir", home]
    subprocess.run(base + ["init", "--product", PRODUCT, "--vendor-key",
                           os.path.join(work, "server.pub")], check=True, stdout=subprocess.DEVNULL)
    subprocess.run(base + ["activate", "--server", url,
                           "--product-key-file", os.path.join(work, "product.key"),
                           "--license-key-file", os.path.join(work, "pool.key")],
                   check=True, stdout=subprocess.DEVNULL)
    child = subprocess.Popen(base + ["serve", "--listen", "127.0.0.1:0"],
                             stdout=subprocess.PIPE, text=True)
    line = child.stdout.readline()
    if "http://" not in line:
        child.kill()
        raise SystemExit(f"harness: the relay did not start: {line!r}")
    return child, "http://" + line.split("http://", 1)[1].split("/", 1)[0], home


def start_proxy(bin_dir, upstream):
    child = subprocess.Popen(
        [os.path.join(bin_dir, "examples", "fault_proxy"), upstream],
        stdout=subprocess.PIPE,
        text=True,
    )
    line = child.stdout.readline()
    words = [w for w in line.split() if w.startswith("http://")]
    if not words:
        raise SystemExit(f"harness: the fault proxy did not start: {line}")
    return child, words[0]


def main():
    bin_dir, work, mode, command = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4:]
    os.makedirs(os.path.join(work, "downloads"), exist_ok=True)
    for name in ("server", "stranger"):
        subprocess.run(
            [os.path.join(bin_dir, "tessera"), "keygen", "--out-dir", work, "--name", name],
            check=True,
            stdout=subprocess.DEVNULL,
        )
    server = Server(bin_dir, work)
    server.start()
    proxy = idp = relay = None
    try:
        product_key = set_up(server.url)
        publish_downloads(bin_dir, work, server.url)
        idp, idp_url = start_idp(bin_dir)
        set_up_sign_in(server.url, idp_url)
        proxy, proxy_url = start_proxy(bin_dir, server.listen)
        relay, relay_url, relay_home = start_relay(bin_dir, work, server.url, product_key)
        env = dict(os.environ)
        env.update(
            TESSERA_TEST_URL=server.url,
            TESSERA_TEST_PROXY=proxy_url,
            TESSERA_TEST_ADMIN_TOKEN=ADMIN_TOKEN,
            TESSERA_TEST_PRODUCT=PRODUCT,
            TESSERA_TEST_PRODUCT_KEY_HEX=product_key.hex(),
            TESSERA_TEST_VENDOR_PUB=os.path.join(work, "server.pub"),
            TESSERA_TEST_LICENSE_KEY=LICENSE_KEY,
            TESSERA_TEST_LICENSE_ID="L-ONLINE",
            TESSERA_TEST_USERNAME=USERNAME,
            TESSERA_TEST_PASSWORD=PASSWORD,
            TESSERA_TEST_STATE=os.path.join(work, "device"),
            TESSERA_TEST_DOWNLOAD_SIZE=str(DOWNLOADS["dl-good"][0]),
            TESSERA_TEST_IDP=idp_url,
            TESSERA_TEST_SSO_USER=SSO_USER,
            TESSERA_TEST_RELAY=relay_url,
            TESSERA_TEST_RELAY_HOME=relay_home,
            TESSERA_TEST_RELAY_BIN=os.path.join(bin_dir, "tessera-relay"),
            TESSERA_TEST_POOL_KEY=POOL_KEY,
            TESSERA_TEST_POOL_SEATS=str(POOL_SEATS),
        )
        if mode == "run":
            return subprocess.run(command, env=env).returncode
        if mode != "example":
            raise SystemExit(f"harness: unknown mode {mode}")
        # An example takes what it needs as arguments: {url}, {product}, {product_key}
        # (hex), {license_key}, {vendor_pub} and {state} are filled in.
        fill = {
            "{url}": server.url,
            "{product}": PRODUCT,
            "{product_key}": product_key.hex(),
            "{license_key}": LICENSE_KEY,
            "{vendor_pub}": env["TESSERA_TEST_VENDOR_PUB"],
            "{state}": env["TESSERA_TEST_STATE"],
        }
        command = [fill.get(word, word) for word in command]
        child = subprocess.Popen(
            command, env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, bufsize=1
        )
        for line in child.stdout:
            sys.stdout.write(line)
            sys.stdout.flush()
            if "stop the server" in line:
                server.stop()
                child.stdin.write("\n")
                child.stdin.flush()
            elif "start the server" in line:
                server.start()
                child.stdin.write("\n")
                child.stdin.flush()
        return child.wait()
    finally:
        for child in (proxy, idp, relay):
            if child:
                child.send_signal(signal.SIGKILL)
                child.wait()
        server.stop()


if __name__ == "__main__":
    sys.exit(main())
