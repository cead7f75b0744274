//! What the server tests share: the real `tessera-server` binary on
//! loopback with an embedded SQLite file in a temporary directory (or, when
//! `TESSERA_TEST_POSTGRES` names a PostgreSQL cluster, a database of its
//! own there), signed client calls, admin calls, and a check of every
//! response's signature.
#![allow(dead_code)]

pub mod contract;
pub mod idp;
pub mod licensespring;
pub mod proxy;
pub mod receiver;

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine as _;
use serde_json::{json, Value};
use tessera::issuer::SigningKey;
use tessera::protocol::request;

pub const ADMIN: &str = "test-only-admin-token-0123456789";

pub struct Server {
    pub child: Child,
    pub url: String,
    pub key: tessera::PublicKey,
    pub dir: Arc<tempfile::TempDir>,
    /// A client that trusts the server's certificate when it serves TLS.
    pub client: reqwest::blocking::Client,
    /// What the server printed, read to the end by a thread of its own.
    log: Arc<std::sync::Mutex<Vec<u8>>>,
    log_reader: Option<std::thread::JoinHandle<()>>,
}

impl Server {
    /// Stops the server and answers everything it printed.
    pub fn stop_and_read_log(&mut self) -> String {
        let _ = self.child.kill();
        let _ = self.child.wait();
        if let Some(reader) = self.log_reader.take() {
            reader.join().unwrap();
        }
        String::from_utf8_lossy(&self.log.lock().unwrap()).into_owned()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The throwaway RSA key and chain of LicenseSpring's answer signature.
pub const LICENSESPRING_KEYS: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/tests/seeds/throwaway-test-only-licensespring"
);

pub fn start_in(dir: Arc<tempfile::TempDir>, test_clock: bool) -> Server {
    let config = json!({"listen": "127.0.0.1:0", "insecure_http": true, "test_clock": test_clock});
    start_with(dir, config, None).unwrap_or_else(|e| panic!("the server did not start: {e}"))
}

/// Starts the server with this configuration file; `ca` is the PEM
/// certificate a TLS server's clients trust. Err holds what the server
/// printed when it did not start.
pub fn start_with(
    dir: Arc<tempfile::TempDir>,
    config: Value,
    ca: Option<&str>,
) -> Result<Server, String> {
    let key_path = dir.path().join("server.key");
    if !key_path.exists() {
        let key = SigningKey::generate().unwrap();
        std::fs::write(&key_path, key.to_pem().unwrap().as_bytes()).unwrap();
    }
    let pem = std::fs::read_to_string(&key_path).unwrap();
    let public = SigningKey::from_pem(&pem).unwrap().public_key().clone();
    let config_path = dir.path().join("server.json");
    std::fs::write(&config_path, config.to_string()).unwrap();
    let mut command = Command::new(env!("CARGO_BIN_EXE_tessera-server"));
    command
        .args(["--config", config_path.to_str().unwrap()])
        .env("TESSERA_SERVER_DATABASE", database_for(dir.path()))
        .env("TESSERA_SERVER_SIGNING_KEY", &key_path)
        .env("TESSERA_ADMIN_TOKEN", ADMIN)
        .stderr(Stdio::piped());
    if config.get("licensespring_keys").is_none() {
        // LicenseSpring's answer key: the committed throwaway one, not a new
        // RSA key at each of the tests' many starts.
        command.env("TESSERA_SERVER_LICENSESPRING_KEYS", LICENSESPRING_KEYS);
    }
    let mut child = command.spawn().unwrap();
    let mut line = String::new();
    let mut log = BufReader::new(child.stderr.take().unwrap());
    log.read_line(&mut line).unwrap();
    // The rest of the log is read to the end (a closed pipe would make the
    // server's next log line fail) and kept for the tests that read it.
    let kept = Arc::new(std::sync::Mutex::new(line.clone().into_bytes()));
    let into = Arc::clone(&kept);
    let log_reader = std::thread::spawn(move || {
        let mut chunk = Vec::new();
        while log.read_until(b'\n', &mut chunk).is_ok_and(|n| n > 0) {
            into.lock().unwrap().append(&mut chunk);
        }
    });
    let Some(url) = line
        .split_whitespace()
        .find(|w| w.starts_with("http://") || w.starts_with("https://"))
    else {
        let _ = child.wait();
        return Err(line);
    };
    let mut client = reqwest::blocking::Client::builder();
    if let Some(pem) = ca {
        client = client
            .tls_built_in_root_certs(false)
            .add_root_certificate(reqwest::Certificate::from_pem(pem.as_bytes()).unwrap());
    }
    Ok(Server {
        url: url.to_owned(),
        child,
        key: public,
        dir,
        client: client.build().unwrap(),
        log: kept,
        log_reader: Some(log_reader),
    })
}

/// The PostgreSQL cluster the tests run on (`TESSERA_TEST_POSTGRES`, a
/// URL whose user may create databases), if any: the server suites run
/// once on SQLite and once on it (scripts/test.sh).
pub fn postgres() -> Option<String> {
    std::env::var("TESSERA_TEST_POSTGRES")
        .ok()
        .filter(|v| !v.is_empty())
}

/// The database of the servers started in `dir`: the SQLite file
/// `tessera.db` in it, or on PostgreSQL a database made for `dir` the
/// first time (a server restarted in `dir` finds its data again).
pub fn database_for(dir: &std::path::Path) -> String {
    let Some(cluster) = postgres() else {
        return dir.join("tessera.db").display().to_string();
    };
    let marker = dir.join("postgres-database");
    if let Ok(url) = std::fs::read_to_string(&marker) {
        return url;
    }
    let mut name = [0u8; 8];
    getrandom::getrandom(&mut name).unwrap();
    let name = format!("t_{}", hex::encode(name));
    postgres_execute(&cluster, &format!("CREATE DATABASE {name}"));
    let (base, _) = cluster.rsplit_once('/').expect("a URL with a database");
    let url = format!("{base}/{name}");
    std::fs::write(&marker, &url).unwrap();
    url
}

/// Runs `sql` on the PostgreSQL database at `url`.
pub fn postgres_execute(url: &str, sql: &str) {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let (client, connection) = tokio_postgres::connect(url, tokio_postgres::NoTls)
            .await
            .unwrap_or_else(|e| panic!("cannot reach the test cluster: {e}"));
        let task = tokio::spawn(connection);
        client
            .batch_execute(sql)
            .await
            .unwrap_or_else(|e| panic!("{sql}: {e}"));
        drop(client);
        let _ = task.await;
    });
}

pub fn start() -> Server {
    start_in(Arc::new(tempfile::tempdir().unwrap()), true)
}

pub fn http() -> reqwest::blocking::Client {
    reqwest::blocking::Client::builder().build().unwrap()
}

/// A response: status, body, and whether its signature verified.
pub struct Answer {
    pub status: u16,
    pub body: Value,
}

/// An answer as it came, its signature not checked: the seeds' own forms,
/// whose clients know nothing of Tessera's signature.
pub fn unsigned(r: reqwest::blocking::Response) -> Answer {
    let status = r.status().as_u16();
    Answer {
        status,
        body: serde_json::from_slice(&r.bytes().unwrap()).unwrap_or(Value::Null),
    }
}

pub fn verify_response(server: &Server, nonce: &str, r: reqwest::blocking::Response) -> Answer {
    let status = r.status().as_u16();
    let date = r.headers()["date"].to_str().unwrap().to_owned();
    let echoed = r.headers()["tessera-nonce"].to_str().unwrap().to_owned();
    let sig = r.headers()["tessera-signature"]
        .to_str()
        .unwrap()
        .to_owned();
    let bytes = r.bytes().unwrap();
    assert_eq!(echoed, nonce);
    let (key_id, sig) = sig.split_once(' ').unwrap();
    assert_eq!(key_id, server.key.id().to_string());
    let sig: [u8; 64] = B64.decode(sig).unwrap().try_into().unwrap();
    assert!(
        tessera::protocol::response::verify_response(
            &server.key,
            nonce,
            status,
            &date,
            &bytes,
            &sig
        ),
        "the response signature does not verify"
    );
    Answer {
        status,
        body: serde_json::from_slice(&bytes).unwrap_or(Value::Null),
    }
}

pub fn admin(server: &Server, method: &str, path: &str, body: Value) -> Answer {
    let req = server
        .client
        .request(method.parse().unwrap(), format!("{}{path}", server.url))
        .header("authorization", format!("Bearer {ADMIN}"))
        .header("tessera-nonce", "admin-nonce-0123456789")
        .body(body.to_string());
    let a = verify_response(server, "admin-nonce-0123456789", req.send().unwrap());
    let sent = (!body.is_null()).then(|| body.to_string());
    contract::check(method, path, sent.as_deref(), a.status, &a.body);
    a
}

pub struct Product {
    pub code: String,
    pub key: Vec<u8>,
}

pub fn nonce() -> String {
    let mut b = [0u8; 16];
    getrandom::getrandom(&mut b).unwrap();
    hex::encode(b)
}

/// A client call signed as the protocol says, at the server's clock `date`.
pub fn call_at(server: &Server, p: &Product, path: &str, body: &str, date: &str) -> Answer {
    call_with_nonce(server, p, path, body, date, &nonce())
}

/// [`call_at`] with a nonce of the caller's (the same request sent again).
pub fn call_with_nonce(
    server: &Server,
    p: &Product,
    path: &str,
    body: &str,
    date: &str,
    nonce: &str,
) -> Answer {
    let nonce = nonce.to_owned();
    let msg = request::request_string(date, "POST", path, body.as_bytes(), &nonce);
    let sig = request::sign(&p.key, &msg).unwrap();
    let r = server
        .client
        .post(format!("{}{path}", server.url))
        .header("date", date)
        .header("tessera-nonce", &nonce)
        .header("authorization", request::authorization(&p.code, &sig))
        .body(body.to_owned())
        .send()
        .unwrap();
    let a = verify_response(server, &nonce, r);
    contract::check("POST", path, Some(body), a.status, &a.body);
    a
}

/// [`call`] from a device: with the proof `device` signs over the request
/// (the `Tessera-Device-Signature` header the SDK sends).
pub fn call_as_device(
    server: &Server,
    p: &Product,
    path: &str,
    body: &Value,
    device: &ed25519_dalek::SigningKey,
) -> Answer {
    call_as_device_with_nonce(server, p, path, body, device, &nonce())
}

/// [`call_as_device`] with a nonce of the caller's (the same request sent
/// again).
pub fn call_as_device_with_nonce(
    server: &Server,
    p: &Product,
    path: &str,
    body: &Value,
    device: &ed25519_dalek::SigningKey,
    nonce: &str,
) -> Answer {
    let (date, nonce, body) = (server_date(server), nonce.to_owned(), body.to_string());
    let msg = request::request_string(&date, "POST", path, body.as_bytes(), &nonce);
    let sig = request::sign(&p.key, &msg).unwrap();
    let r = server
        .client
        .post(format!("{}{path}", server.url))
        .header("date", &date)
        .header("tessera-nonce", &nonce)
        .header("authorization", request::authorization(&p.code, &sig))
        .header(
            request::DEVICE_SIGNATURE_HEADER,
            request::sign_device_proof(&device.to_bytes(), &msg),
        )
        .body(body.clone())
        .send()
        .unwrap();
    let a = verify_response(server, &nonce, r);
    contract::check("POST", path, Some(&body), a.status, &a.body);
    a
}

pub fn server_date(server: &Server) -> String {
    let r = server
        .client
        .get(format!("{}/openapi.json", server.url))
        .send()
        .unwrap();
    r.headers()["date"].to_str().unwrap().to_owned()
}

pub fn call(server: &Server, p: &Product, path: &str, body: Value) -> Answer {
    call_at(server, p, path, &body.to_string(), &server_date(server))
}

pub fn product(server: &Server, code: &str) -> Product {
    let a = admin(
        server,
        "POST",
        "/admin/v1/products",
        json!({"code": code, "name": "Acme"}),
    );
    assert_eq!(a.status, 200, "{}", a.body);
    Product {
        code: code.into(),
        key: B64.decode(a.body["api_key"].as_str().unwrap()).unwrap(),
    }
}

pub fn license(server: &Server, p: &Product, key: &str, spec: Value) {
    let mut spec = spec;
    spec["product_details"] = json!({"short_code": p.code});
    let a = admin(
        server,
        "POST",
        "/admin/v1/licenses",
        json!({"license_key": key, "spec": spec}),
    );
    assert_eq!(a.status, 200, "{}", a.body);
}

pub fn device(n: usize) -> Value {
    json!({"id": format!("device-{n:04}"), "components": {}})
}

pub fn who(p: &Product, key: &str, n: usize) -> Value {
    json!({"product": p.code, "license_key": key, "fingerprint": device(n)})
}
