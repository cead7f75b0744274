//! Updates a product can trust (issue 38): the vendor signs a release with
//! `tessera::format::release::sign` (the CLI's `tessera release sign`), the
//! server publishes it without the private key and hosts the file, the
//! SDK's update check answers the signed release and its download helper
//! keeps the file only when it is the signed one: a good file, a
//! truncated one, a swapped one, a release signed by a key the product
//! does not trust, and a server that stalls mid-file (resumed with Range).
// A test may fail by panicking, and its shared helpers are `pub` to its modules.
#![allow(clippy::unwrap_used, clippy::expect_used, unreachable_pub)]

mod common;

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use tessera::activation::Credential;
use tessera::format::release::{sign, ReleaseManifest};
use tessera::issuer::SigningKey;
use tessera::online::{Connection, Proxy as ProxySetting, ServerConfig};
use tessera::{Error, Keyring, LocalConfig};

use common::proxy::{Fault, Proxy};
use common::*;

/// Deterministic bytes that do not repeat within a file.
fn contents(len: usize, seed: u8) -> Vec<u8> {
    let mut out = Vec::with_capacity(len + 32);
    let mut block = Sha256::digest([seed]);
    while out.len() < len {
        out.extend_from_slice(&block);
        block = Sha256::digest(block);
    }
    out.truncate(len);
    out
}

struct Setup {
    s: Server,
    p: Product,
    /// The vendor's release key, which the server never holds.
    vendor: SigningKey,
    downloads: std::path::PathBuf,
    keyring: Keyring,
    _store: tempfile::TempDir,
    store_dir: std::path::PathBuf,
}

/// A server hosting `downloads`, trusting the vendor's release key and a
/// stranger's (as a compromised server's configuration would); a
/// perpetual license of product `cad`.
fn setup() -> (Setup, SigningKey) {
    let dir = Arc::new(tempfile::tempdir().unwrap());
    let downloads = dir.path().join("downloads");
    std::fs::create_dir(&downloads).unwrap();
    let vendor = SigningKey::generate().unwrap();
    let stranger = SigningKey::generate().unwrap();
    let mut keys = Vec::new();
    for (name, k) in [("vendor", &vendor), ("stranger", &stranger)] {
        let path = dir.path().join(format!("{name}.pub"));
        std::fs::write(&path, k.public_key().to_pem()).unwrap();
        keys.push(path);
    }
    let s = start_with(
        dir,
        json!({"listen": "127.0.0.1:0", "insecure_http": true,
               "downloads": downloads, "release_keys": keys}),
        None,
    )
    .unwrap();
    let p = product(&s, "cad");
    license(
        &s,
        &p,
        "KEY-DL",
        json!({"license_type": "perpetual", "max_activations": 5}),
    );
    // The product trusts the server's key (licenses) and the vendor's
    // release key, not the stranger's.
    let keyring = Keyring::from_keys([s.key.clone(), vendor.public_key().clone()]);
    let store = tempfile::tempdir().unwrap();
    let store_dir = store.path().to_owned();
    (
        Setup {
            s,
            p,
            vendor,
            downloads,
            keyring,
            _store: store,
            store_dir,
        },
        stranger,
    )
}

impl Setup {
    fn connection(&self, server: ServerConfig) -> Connection {
        let mut config = LocalConfig::new(&self.p.code, self.keyring.clone());
        config.secret = b"test-only vendor secret".to_vec();
        config.store_dir = Some(self.store_dir.clone());
        config.custom_device_id = Some("desk".into());
        Connection::new(&config, server).unwrap()
    }

    fn server_config(&self, url: &str) -> ServerConfig {
        let mut server = ServerConfig::new(url, self.p.key.clone());
        server.attempts = 2;
        server.backoff = Duration::from_millis(10);
        server.timeout = Duration::from_secs(1);
        server
    }

    /// Hosts `bytes` as NAME and publishes `version` with a release signed
    /// by `key` over `signed` (the bytes the vendor built).
    fn publish(&self, version: &str, name: &str, signed: &[u8], key: &SigningKey) -> Value {
        let manifest = ReleaseManifest::new(
            "cad",
            version,
            "stable",
            name,
            signed.len() as u64,
            &Sha256::digest(signed).into(),
        );
        std::fs::write(self.downloads.join(name), signed).unwrap();
        let a = admin(
            &self.s,
            "POST",
            "/admin/v1/products/cad/releases",
            json!({"version": version, "installation_file": format!("/downloads/{name}"),
                   "size": signed.len(), "manifest": sign(&manifest, key).unwrap()}),
        );
        assert_eq!(a.status, 200, "{}", a.body);
        a.body
    }
}

fn leftovers(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

#[test]
fn a_download_is_kept_only_when_it_is_the_file_the_vendor_signed() {
    let (t, stranger) = setup();
    let conn = t.connection(t.server_config(&t.s.url));
    conn.activate(&Credential::LicenseKey("KEY-DL".into()))
        .unwrap();
    let into = tempfile::tempdir().unwrap();
    let latest = || conn.latest_release(None, None).unwrap().unwrap();

    // A good file: published with its SHA-256 and signed release.
    let good = contents(3 << 20, 1);
    let published = t.publish("1.0", "cad-1.0.bin", &good, &t.vendor);
    assert_eq!(published["sha256"], hex::encode(Sha256::digest(&good)));
    assert_eq!(published["hash_md5"], "");
    let release = latest();
    assert!(release
        .manifest
        .starts_with("-----BEGIN TESSERA RELEASE-----"));
    let path = conn.download_release(&release, into.path()).unwrap();
    assert_eq!(path, into.path().join("cad-1.0.bin"));
    assert_eq!(std::fs::read(&path).unwrap(), good);
    assert_eq!(leftovers(into.path()), ["cad-1.0.bin"]);

    // Truncated on the server after it was signed.
    let signed = contents(1 << 20, 2);
    t.publish("1.1", "cad-1.1.bin", &signed, &t.vendor);
    std::fs::write(
        t.downloads.join("cad-1.1.bin"),
        &signed[..signed.len() - 1000],
    )
    .unwrap();
    let refused = conn.download_release(&latest(), into.path());
    assert!(
        matches!(refused, Err(Error::DownloadRejected(why)) if why.contains("shorter")),
        "{refused:?}"
    );
    assert_eq!(leftovers(into.path()), ["cad-1.0.bin"]);

    // Swapped for another file of the same size; and for a longer one.
    let signed = contents(1 << 20, 3);
    t.publish("1.2", "cad-1.2.bin", &signed, &t.vendor);
    std::fs::write(t.downloads.join("cad-1.2.bin"), contents(1 << 20, 4)).unwrap();
    let refused = conn.download_release(&latest(), into.path());
    assert!(
        matches!(refused, Err(Error::DownloadRejected(why)) if why.contains("SHA-256")),
        "{refused:?}"
    );
    std::fs::write(t.downloads.join("cad-1.2.bin"), contents((1 << 20) + 1, 3)).unwrap();
    let refused = conn.download_release(&latest(), into.path());
    assert!(
        matches!(refused, Err(Error::DownloadRejected(why)) if why.contains("larger")),
        "{refused:?}"
    );
    assert_eq!(leftovers(into.path()), ["cad-1.0.bin"]);

    // Signed by a key the server takes but the product does not trust
    // (a server that was broken into): nothing is fetched.
    let evil = contents(4096, 5);
    t.publish("1.3", "cad-1.3.bin", &evil, &stranger);
    let refused = conn.download_release(&latest(), into.path());
    assert!(
        matches!(refused, Err(Error::UnknownKeyId(_))),
        "{refused:?}"
    );
    assert_eq!(leftovers(into.path()), ["cad-1.0.bin"]);

    // A signed release that names another version than the release it
    // rides on (a server that answers an old signature for a new file).
    let mut moved = release.clone();
    moved.version = "9.9".into();
    assert!(matches!(
        conn.download_release(&moved, into.path()),
        Err(Error::InvalidPayload(_))
    ));
    // A release without one cannot be downloaded by the helper.
    let mut unsigned = release.clone();
    unsigned.manifest.clear();
    assert!(matches!(
        conn.download_release(&unsigned, into.path()),
        Err(Error::InvalidPayload(_))
    ));
    assert_eq!(leftovers(into.path()), ["cad-1.0.bin"]);
}

#[test]
fn a_download_the_server_stalls_resumes_where_it_stopped_through_the_proxy() {
    let (t, _) = setup();
    // Through the configured proxy: an explicit HTTP proxy in front of
    // the server, which stalls the file's answer once after 1 MiB.
    let proxy = Proxy::start(t.s.url.trim_start_matches("http://"));
    let mut server = t.server_config(&t.s.url);
    server.proxy = ProxySetting::Url(format!("{}/", proxy.url));
    let conn = t.connection(server);
    conn.activate(&Credential::LicenseKey("KEY-DL".into()))
        .unwrap();
    let file = contents(3 << 20, 6);
    t.publish("2.0", "cad-2.0.bin", &file, &t.vendor);
    let release = conn.latest_release(None, None).unwrap().unwrap();
    let into = tempfile::tempdir().unwrap();
    *proxy.fault.lock().unwrap() = Fault::Stall(1 << 20);
    let stalled = conn.download_release(&release, into.path());
    assert!(matches!(stalled, Err(Error::Network(_))), "{stalled:?}");
    let part = into.path().join(".cad-2.0.bin.part");
    assert_eq!(std::fs::metadata(&part).unwrap().len(), 1 << 20);
    // The first MiB on the server changes now: a download that started
    // again would take it and fail its hash; one that resumes from the
    // part already here does not read it again.
    let mut changed = file.clone();
    changed[..1 << 20].fill(0);
    std::fs::write(t.downloads.join("cad-2.0.bin"), &changed).unwrap();
    let path = conn.download_release(&release, into.path()).unwrap();
    assert_eq!(std::fs::read(&path).unwrap(), file);
    assert_eq!(leftovers(into.path()), ["cad-2.0.bin"]);
    assert!(*proxy.received.lock().unwrap() >= 2);

    // Stalled again, and the file on the server then swapped for one
    // shorter than the part already here: the server answers 416 to the
    // resume, and the part is deleted, not kept.
    let file = contents(3 << 20, 8);
    t.publish("2.1", "cad-2.1.bin", &file, &t.vendor);
    let release = conn.latest_release(None, None).unwrap().unwrap();
    *proxy.fault.lock().unwrap() = Fault::Stall(1 << 20);
    assert!(matches!(
        conn.download_release(&release, into.path()),
        Err(Error::Network(_))
    ));
    std::fs::write(t.downloads.join("cad-2.1.bin"), &file[..1000]).unwrap();
    let refused = conn.download_release(&release, into.path());
    assert!(
        matches!(refused, Err(Error::DownloadRejected(why)) if why.contains("shorter")),
        "{refused:?}"
    );
    assert_eq!(leftovers(into.path()), ["cad-2.0.bin"]);
}

#[test]
fn the_server_publishes_a_signed_release_only_when_it_names_this_release() {
    let (t, _) = setup();
    let bytes = contents(1000, 7);
    let manifest = ReleaseManifest::new(
        "cad",
        "3.0",
        "stable",
        "cad-3.0.bin",
        1000,
        &Sha256::digest(&bytes).into(),
    );
    let signed = sign(&manifest, &t.vendor).unwrap();
    let unknown = sign(&manifest, &SigningKey::generate().unwrap()).unwrap();
    let base = json!({"version": "3.0", "installation_file": "/downloads/cad-3.0.bin",
                      "size": 1000, "manifest": signed});
    for (change, why) in [
        (json!({"version": "3.1"}), "version"),
        (json!({"size": 999}), "size"),
        (json!({"channel": "beta"}), "channel"),
        (json!({"sha256": "00".repeat(32)}), "sha256"),
        (json!({"manifest": unknown}), "not know"),
        (
            json!({"manifest": "-----BEGIN TESSERA RELEASE-----\nx\n-----END TESSERA RELEASE-----\n"}),
            "does not verify",
        ),
    ] {
        let mut body = base.clone();
        for (k, v) in change.as_object().unwrap() {
            body[k] = v.clone();
        }
        let a = admin(&t.s, "POST", "/admin/v1/products/cad/releases", body);
        assert_eq!(a.status, 400, "{why}: {}", a.body);
        assert_eq!(a.body["code"], "invalid_manifest", "{why}");
        assert!(
            a.body["message"].as_str().unwrap().contains(why),
            "{why}: {}",
            a.body
        );
    }
    // Nothing was published by the refusals; the right one is.
    let a = admin(&t.s, "POST", "/admin/v1/products/cad/releases", base);
    assert_eq!(a.status, 200, "{}", a.body);
    let list = admin(&t.s, "GET", "/admin/v1/products/cad/releases", Value::Null);
    assert_eq!(list.body.as_array().unwrap().len(), 1);
    // The hosted file, whole and from a byte on; a hidden or missing one is 404.
    std::fs::write(t.downloads.join("cad-3.0.bin"), &bytes).unwrap();
    std::fs::write(t.downloads.join(".secret"), b"no").unwrap();
    let http = http();
    let whole = http
        .get(format!("{}/downloads/cad-3.0.bin", t.s.url))
        .send()
        .unwrap();
    assert_eq!(whole.status(), 200);
    assert_eq!(whole.bytes().unwrap().as_ref(), bytes.as_slice());
    let tail = http
        .get(format!("{}/downloads/cad-3.0.bin", t.s.url))
        .header("range", "bytes=600-")
        .send()
        .unwrap();
    assert_eq!(tail.status(), 206);
    assert_eq!(tail.headers()["content-range"], "bytes 600-999/1000");
    assert_eq!(tail.bytes().unwrap().as_ref(), &bytes[600..]);
    let past = http
        .get(format!("{}/downloads/cad-3.0.bin", t.s.url))
        .header("range", "bytes=1000-")
        .send()
        .unwrap();
    assert_eq!(past.status(), 416);
    for name in [".secret", "nothing.bin", "..%2Fserver.key", "%2E%2E"] {
        let r = http
            .get(format!("{}/downloads/{name}", t.s.url))
            .send()
            .unwrap();
        assert_eq!(r.status(), 404, "{name}");
    }
}
