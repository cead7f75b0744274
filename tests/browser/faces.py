#!/usr/bin/env python3
"""The console and the portal in a real browser: headless Chromium driven
through WebDriver (selenium, pinned in scripts/browser-tests.sh), against
the real server that tests/online/harness.py starts. Each role signs in
and walks the main flows end to end, a device activates through the SDK
(server/examples/device.rs) and shows on the license's page, support
frees it, the customer frees a device and runs an offline activation in
the portal, an admin publishes a release and the customer downloads it.
A screenshot of every page visited is saved in TESSERA_SCREENSHOTS.

    faces.py BIN_DIR      (run under tests/online/harness.py)
"""

import base64
import hashlib
import os
import subprocess
import sys
import tempfile
import time
import json
import urllib.request

from selenium import webdriver
from selenium.common.exceptions import NoAlertPresentException
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import Select, WebDriverWait

BIN = sys.argv[1]
URL = os.environ["TESSERA_TEST_URL"]
ADMIN = os.environ["TESSERA_TEST_ADMIN_TOKEN"]
VENDOR_PUB = os.environ["TESSERA_TEST_VENDOR_PUB"]
SHOTS = os.environ.get("TESSERA_SCREENSHOTS", os.path.join(os.getcwd(), "screenshots"))
PASSWORD = "browser-password-0123"
XSS = "<script>alert('xss')</script><img src=x onerror=alert(2)>"
os.makedirs(SHOTS, exist_ok=True)
work = tempfile.mkdtemp(prefix="tessera-browser-")
downloads = os.path.join(work, "downloads")
os.makedirs(downloads)
shots = []


def admin(method, path, body=None):
    data = None if body is None else json.dumps(body).encode()
    r = urllib.request.Request(URL + path, data=data, method=method)
    r.add_header("authorization", f"Bearer {ADMIN}")
    r.add_header("content-type", "application/json")
    with urllib.request.urlopen(r, timeout=10) as answer:
        return json.loads(answer.read() or b"null")


def browser(width=1280, height=900):
    options = webdriver.ChromeOptions()
    options.binary_location = os.environ.get("TESSERA_CHROMIUM", "/usr/bin/chromium")
    for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic",
                 "--no-first-run", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--disable-dev-shm-usage",
                 f"--user-data-dir={tempfile.mkdtemp(dir=work)}",
                 f"--window-size={width},{height}"):
        options.add_argument(flag)
    options.add_experimental_option("prefs", {
        "download.default_directory": downloads,
        "download.prompt_for_download": False,
        # No connections opened ahead of a click (the test provider answers
        # one connection at a time).
        "net.network_prediction_options": 2,
    })
    # The viewer's zone is Tokyo's: the pages' times must show in it.
    service = Service(os.environ.get("TESSERA_CHROMEDRIVER", "/usr/bin/chromedriver"),
                      env={**os.environ, "TZ": "Asia/Tokyo"})
    driver = webdriver.Chrome(service=service, options=options)
    driver.set_page_load_timeout(30)
    driver.implicitly_wait(0)
    return driver


def shot(d, name):
    """A screenshot of the whole page, and the checks every page passes."""
    no_alert(d)
    path = os.path.join(SHOTS, f"{len(shots) + 1:02d}-{name}.png")
    # The whole page, beyond the window (Chromium's own screenshot).
    size = d.execute_cdp_cmd("Page.getLayoutMetrics", {})["cssContentSize"]
    png = d.execute_cdp_cmd("Page.captureScreenshot", {
        "format": "png", "captureBeyondViewport": True,
        "clip": {"x": 0, "y": 0, "width": size["width"], "height": size["height"], "scale": 1},
    })
    with open(path, "wb") as f:
        f.write(base64.b64decode(png["data"]))
    shots.append(path)
    size = len(d.page_source.encode())
    assert size < 150 * 1024, f"{name}: {size} bytes"
    print(f"  screenshot {os.path.basename(path)} ({size} bytes of HTML)")


def no_alert(d):
    try:
        alert = d.switch_to.alert
        raise AssertionError(f"a script ran: alert {alert.text!r}")
    except NoAlertPresentException:
        pass


def go(d, path):
    d.get(URL + path)


def fill(d, fields, form=None):
    """Types `fields` into the form whose action is `form` (the page's
    first form holding the first field when None)."""
    scope = d if form is None else \
        d.find_element(By.CSS_SELECTOR, f'form[method="post"][action="{form}"]')
    for name, value in fields.items():
        el = scope.find_element(By.NAME, name)
        if el.tag_name == "select":
            Select(el).select_by_visible_text(value) if value in [o.text for o in Select(el).options] \
                else Select(el).select_by_value(value)
        else:
            el.clear()
            el.send_keys(value)


def click(d, el):
    """Clicks `el` and waits for the next page."""
    d.execute_script("window.tesseraOldPage = true")
    el.click()
    started = d.current_url
    try:
        WebDriverWait(d, 30).until(lambda d: d.execute_script(
            "return !window.tesseraOldPage && document.readyState === 'complete'"))
    except Exception:
        raise AssertionError(f"no new page after clicking at {started}: now at {d.current_url}, "
                             f"showing {text(d)[:300]!r}")


def submit(d, form_action):
    click(d, d.find_element(
        By.CSS_SELECTOR, f'form[method="post"][action="{form_action}"] button[type="submit"]'))


def text(d):
    return d.find_element(By.TAG_NAME, "body").text


def sign_in(d, email, password):
    d.delete_all_cookies()
    go(d, "/console/sign-in")
    fill(d, {"email": email, "password": password})
    submit(d, "/console/sign-in")
    assert d.current_url.endswith("/console/"), d.current_url


def sign_out(d, where="/console/sign-out"):
    submit(d, where)


def device(*args):
    out = subprocess.run([os.path.join(BIN, "examples", "device"), *args],
                         check=True, stdout=subprocess.PIPE, text=True)
    return out.stdout.strip()


def wait_for_file(folder, before, seconds=20):
    deadline = time.time() + seconds
    while time.time() < deadline:
        # Chromium writes a hidden temporary file, then a .crdownload, then
        # the file under its name.
        now = {f for f in os.listdir(folder)
               if not f.startswith(".") and not f.endswith(".crdownload")}
        new = now - before
        if new:
            path = os.path.join(folder, new.pop())
            size = -1
            while size != os.path.getsize(path):
                size = os.path.getsize(path)
                time.sleep(0.2)
            return path
        time.sleep(0.2)
    raise AssertionError("the download did not arrive")


def main():
    d = browser()
    print("-- the first owner, with the admin token")
    go(d, "/console/")
    assert "/console/setup" in d.current_url, d.current_url
    shot(d, "console-first-run")
    fill(d, {"admin_token": ADMIN, "name": "Olivia Owner", "email": "owner@vendor.example",
             "password": PASSWORD})
    submit(d, "/console/setup")
    assert "/console/sign-in" in d.current_url
    shot(d, "console-sign-in")
    sign_in(d, "owner@vendor.example", PASSWORD)
    shot(d, "console-overview")

    print("-- a product, its definition and a license")
    go(d, "/console/products")
    fill(d, {"code": "acme-browser", "name": f"Acme Browser {XSS}"}, "/console/products")
    submit(d, "/console/products")
    key_b64 = d.find_element(By.CSS_SELECTOR, "code.secret").text
    assert base64.b64decode(key_b64), "the product's key is shown once"
    assert "Acme Browser <script>" in text(d), "the name is shown as text, not run"
    shot(d, "console-product-made")
    go(d, "/console/products")
    assert key_b64 not in d.page_source, "the key is shown once only"
    fill(d, {"product": "acme-browser", "code": "PRO", "name": "Professional",
             "license_type": "perpetual", "max_activations": "3", "max_transfers": "2"},
         "/console/definitions")
    submit(d, "/console/definitions")
    shot(d, "console-products")
    go(d, "/console/licenses")
    fill(d, {"definition": "acme-browser/PRO", "account": "globex",
             "license_key": "BROWSER-KEY-0001-0002-0003"})
    submit(d, "/console/licenses")
    license_url = d.current_url.split("?")[0]
    license_id = license_url.rsplit("/", 1)[1]
    assert "No device has activated this license yet" in text(d), text(d)[:800]
    assert "BROWSER-KEY-0001-0002-0003" not in d.page_source
    shot(d, "console-license-new")

    print("-- a device activates through the SDK and shows on the license's page")
    state = os.path.join(work, "device-a")
    status = device("activate", URL, "acme-browser", key_b64, VENDOR_PUB, state, "laptop-of-ada",
                    "BROWSER-KEY-0001-0002-0003")
    assert status == "Valid", status
    d.refresh()
    page = text(d)
    assert "tessera/" in page, "the SDK's version is shown"
    assert "UTC" not in d.find_element(By.CSS_SELECTOR, "td time").text, \
        "times show in the viewer's zone"
    assert "UTC" in d.find_element(By.CSS_SELECTOR, "td time").get_attribute("title")
    devices = d.find_elements(By.CSS_SELECTOR, 'button[aria-label^="Free device"]')
    assert len(devices) == 1
    shot(d, "console-license-with-device")
    go(d, "/console/licenses?q=BROWSER")
    assert license_id in text(d)
    shot(d, "console-licenses-search")

    print("-- staff of each role")
    go(d, "/console/staff")
    for name, email, role in (("Sam Support", "support@vendor.example", "support"),
                              ("Ada Admin", "admin@vendor.example", "admin"),
                              ("Vic Viewer", "viewer@vendor.example", "viewer")):
        fill(d, {"name": name, "email": email, "role": role, "password": PASSWORD},
             "/console/staff")
        submit(d, "/console/staff")
    shot(d, "console-staff")
    go(d, "/console/audit")
    assert "Olivia Owner" in text(d)
    shot(d, "console-audit")
    sign_out(d)

    print("-- the viewer reads but cannot change")
    sign_in(d, "viewer@vendor.example", PASSWORD)
    d.get(license_url)
    assert not d.find_elements(By.CSS_SELECTOR, 'button[aria-label^="Free device"]')
    assert "Your role reads this license" in text(d)
    shot(d, "console-license-as-viewer")
    sign_out(d)

    print("-- support frees the device")
    sign_in(d, "support@vendor.example", PASSWORD)
    d.get(license_url)
    click(d, d.find_element(By.CSS_SELECTOR, 'button[aria-label^="Free device"]'))
    assert "The device was freed" in text(d)
    assert not d.find_elements(By.CSS_SELECTOR, 'button[aria-label^="Free device"]')
    shot(d, "console-device-freed-by-support")
    sign_out(d)

    print("-- an admin publishes a release")
    sign_in(d, "admin@vendor.example", PASSWORD)
    go(d, "/console/releases")
    fill(d, {"product": "acme-online", "version": "3.0.0", "channel": "stable",
             "file": "acme-online-dl-good.bin"})
    submit(d, "/console/releases")
    assert "The release is published" in text(d)
    shot(d, "console-releases")
    go(d, "/console/")
    shot(d, "console-overview-with-data")
    for path, name in (("/console/customers", "console-customers"),
                       ("/console/users", "console-users"),
                       ("/console/trials", "console-trials"),
                       ("/console/sso", "console-sso"),
                       ("/console/account", "console-account")):
        go(d, path)
        shot(d, name)
    sign_out(d)

    print("-- the customer's portal: licenses, a device freed, an offline activation")
    user = os.environ["TESSERA_TEST_USERNAME"]
    portal_device = os.path.join(work, "device-b")
    product_key = base64.b64encode(bytes.fromhex(os.environ["TESSERA_TEST_PRODUCT_KEY_HEX"])).decode()
    for name in ("workstation-1", "workstation-2"):
        status = device("activate", URL, os.environ["TESSERA_TEST_PRODUCT"], product_key, VENDOR_PUB,
                        os.path.join(work, name), name, os.environ["TESSERA_TEST_LICENSE_KEY"])
        # The harness's license is floating: activated, it waits for a seat.
        assert status in ("Valid", "LeaseRequired"), status
    d.delete_all_cookies()
    go(d, "/portal/")
    assert "/portal/sign-in" in d.current_url
    shot(d, "portal-sign-in")
    fill(d, {"username": user, "password": os.environ["TESSERA_TEST_PASSWORD"]})
    submit(d, "/portal/sign-in")
    assert d.current_url.endswith("/portal/"), d.current_url
    assert "acme-online" in text(d)
    assert "acme-browser" not in text(d), "another customer's license is not shown"
    shot(d, "portal-licenses")
    click(d, d.find_element(By.LINK_TEXT, "Devices, seats and offline activation"))
    portal_license = d.current_url
    shot(d, "portal-license")
    before = len(d.find_elements(By.CSS_SELECTOR, 'button[aria-label^="Free device"]'))
    click(d, d.find_element(By.CSS_SELECTOR, 'button[aria-label^="Free device"]'))
    assert "The device was freed" in text(d)
    after = len(d.find_elements(By.CSS_SELECTOR, 'button[aria-label^="Free device"]'))
    assert after == before - 1, (before, after)
    shot(d, "portal-device-freed")
    request = os.path.join(work, "activation.req")
    device("request", os.environ["TESSERA_TEST_PRODUCT"], VENDOR_PUB, portal_device, "air-gapped-pc",
           os.environ["TESSERA_TEST_LICENSE_KEY"], request)
    seen = set(os.listdir(downloads))
    d.find_element(By.CSS_SELECTOR, 'input[type="file"]').send_keys(request)
    d.find_element(By.CSS_SELECTOR, 'form[enctype="multipart/form-data"] button').click()
    answer = wait_for_file(downloads, seen)
    status = device("import", os.environ["TESSERA_TEST_PRODUCT"], VENDOR_PUB, portal_device,
                    "air-gapped-pc", answer)
    assert status in ("Valid", "LeaseRequired"), status
    d.get(portal_license)
    assert "air-gapped-pc" in text(d) or len(d.find_elements(By.CSS_SELECTOR, 'button[aria-label^="Free device"]')) == after + 1
    shot(d, "portal-after-offline-activation")

    print("-- the customer downloads the release")
    go(d, "/portal/releases")
    link = d.find_element(By.PARTIAL_LINK_TEXT, "acme-online 3.0.0")
    seen = set(os.listdir(downloads))
    shot(d, "portal-downloads")
    link.click()
    got = wait_for_file(downloads, seen)
    digest = hashlib.sha256(open(got, "rb").read()).hexdigest()
    assert f'title="{digest}"' in d.page_source, "the file is the one published (its SHA-256)"
    sign_out(d, "/portal/sign-out")
    sign_in(d, "owner@vendor.example", PASSWORD)
    shot(d, "console-overview-after-a-day")
    go(d, "/console/licenses")
    shot(d, "console-licenses")
    d.quit()

    print("-- a customer's user signs in through their company's provider")
    d = browser()
    go(d, "/portal/sign-in")
    fill(d, {"email": os.environ["TESSERA_TEST_SSO_USER"]}, "/portal/sso")
    submit(d, "/portal/sso")
    assert d.current_url.endswith("/portal/"), d.current_url
    assert os.environ["TESSERA_TEST_SSO_USER"] in text(d)
    shot(d, "portal-signed-in-through-sso")
    d.quit()

    print("-- a phone's width")
    phone = browser(390, 844)
    go(phone, "/portal/sign-in")
    fill(phone, {"username": user, "password": os.environ["TESSERA_TEST_PASSWORD"]})
    submit(phone, "/portal/sign-in")
    shot(phone, "portal-licenses-phone")
    phone.delete_all_cookies()
    sign_in(phone, "owner@vendor.example", PASSWORD)
    phone.get(license_url)
    shot(phone, "console-license-phone")
    # The keyboard reaches every control: tabbing from the top lands on
    # the skip link, then the menu.
    phone.find_element(By.TAG_NAME, "body").send_keys("\t")
    assert phone.switch_to.active_element.get_attribute("class") == "skip"
    phone.quit()
    print(f"{len(shots)} screenshots in {SHOTS}")


if __name__ == "__main__":
    main()
