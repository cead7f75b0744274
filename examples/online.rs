//! The whole online loop on one machine, as the quickstart runs it:
//!
//! ```text
//! online PATH/TO/tessera-server
//! ```
//!
//! Starts the reference server on loopback with an SQLite file in a
//! temporary directory, creates a product and a license through the admin
//! API, then does what a product does through `tessera::online`: activate,
//! check, consume and upload, borrow, go offline, come back, deactivate.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;

use base64::Engine as _;
use serde_json::{json, Value};
use tessera::activation::Credential;
use tessera::issuer::SigningKey;
use tessera::online::{Connection, ServerConfig};
use tessera::{Counter, Keyring, LicenseHandle, LocalConfig};

type Fallible<T> = Result<T, Box<dyn std::error::Error>>;

const ADMIN_TOKEN: &str = "quickstart-only-admin-token-0001";

fn step(text: &str) {
    println!("\n== {text}");
}

/// The server on a free loopback port; answers its URL.
fn start_server(binary: &Path, dir: &Path) -> Fallible<(Child, String)> {
    let mut child = Command::new(binary)
        .env("TESSERA_SERVER_LISTEN", "127.0.0.1:0")
        .env("TESSERA_SERVER_INSECURE_HTTP", "1")
        .env("TESSERA_SERVER_DATABASE", dir.join("tessera.db"))
        .env("TESSERA_SERVER_SIGNING_KEY", dir.join("server.key"))
        .env("TESSERA_ADMIN_TOKEN", ADMIN_TOKEN)
        .stderr(Stdio::piped())
        .spawn()?;
    let mut line = String::new();
    let stderr = child.stderr.take().ok_or("no stderr")?;
    BufReader::new(stderr).read_line(&mut line)?;
    let url = line
        .split_whitespace()
        .find(|w| w.starts_with("http://"))
        .ok_or_else(|| format!("the server did not start: {line}"))?
        .to_owned();
    println!("server listening on {url}");
    Ok((child, url))
}

fn admin(url: &str, path: &str, body: Value) -> Fallible<Value> {
    let response = reqwest::blocking::Client::new()
        .post(format!("{url}{path}"))
        .header("authorization", format!("Bearer {ADMIN_TOKEN}"))
        .body(body.to_string())
        .send()?;
    Ok(serde_json::from_slice(&response.bytes()?)?)
}

fn admin_get(url: &str, path: &str) -> Fallible<Value> {
    let response = reqwest::blocking::Client::new()
        .get(format!("{url}{path}"))
        .header("authorization", format!("Bearer {ADMIN_TOKEN}"))
        .send()?;
    Ok(serde_json::from_slice(&response.bytes()?)?)
}

fn main() -> Fallible<()> {
    // The admin calls below use a reqwest client of their own; the SDK's
    // build of reqwest leaves the TLS provider to the program (the SDK's
    // own connections bring theirs: rustls on ring).
    let _ = rustls::crypto::ring::default_provider().install_default();
    let binary = PathBuf::from(
        std::env::args()
            .nth(1)
            .ok_or("usage: online PATH/TO/tessera-server")?,
    );
    let work = std::env::temp_dir().join(format!("tessera-online-{}", std::process::id()));
    std::fs::create_dir_all(&work)?;
    let result = run(&binary, &work);
    let _ = std::fs::remove_dir_all(&work);
    result
}

fn run(binary: &Path, work: &Path) -> Fallible<()> {
    step("1. The vendor starts the reference server on loopback (SQLite in a temporary directory)");
    let key = SigningKey::generate()?;
    std::fs::write(work.join("server.key"), key.to_pem()?.as_bytes())?;
    let (mut server, url) = start_server(binary, work)?;

    step("2. The vendor creates a product and a floating license through the admin API");
    let product = admin(
        &url,
        "/admin/v1/products",
        json!({"code": "acme-cad", "name": "Acme CAD"}),
    )?;
    let product_key = base64::engine::general_purpose::STANDARD
        .decode(product["api_key"].as_str().ok_or("no api_key")?)?;
    let license = admin(
        &url,
        "/admin/v1/licenses",
        json!({"license_key": "QUICK-START-ONLINE-KEY", "spec": {
            "license_type": "perpetual", "max_activations": 2,
            "is_floating": true, "floating_users": 5, "floating_timeout": 30,
            "can_borrow": true, "max_borrow_time": 72,
            "allow_grace_period": true, "grace_period": 48,
            "product_features": [{"code": "render", "name": "Render", "feature_type": "consumption",
                                  "max_consumption": 100}],
            "product_details": {"product_name": "Acme CAD", "short_code": "acme-cad"}}}),
    )?;
    println!("license {}", license["id"]);

    // The product's side: the vendor's key in the keyring, a state directory.
    let mut config = LocalConfig::new("acme-cad", Keyring::from_keys([key.public_key().clone()]));
    // Every product builds in a vendor secret of its own (at least 16 bytes).
    config.secret = b"example vendor secret, not a real one".to_vec();
    config.store_dir = Some(work.join("device"));
    let connect = |url: &str| -> Fallible<Connection> {
        let mut server = ServerConfig::new(url, product_key.clone());
        server.attempts = 2;
        server.backoff = std::time::Duration::from_millis(50);
        Ok(Connection::new(&config, server)?)
    };
    let conn = connect(&url)?;

    step("3. The product activates online by license key");
    let record = conn.activate(&Credential::LicenseKey("QUICK-START-ONLINE-KEY".into()))?;
    println!("activated {} at {}", record.license_id, record.activated_at);

    step("4. It takes a floating seat and checks");
    let handle = Arc::new(LicenseHandle::open(&config)?);
    println!("before the seat: {}", handle.check()?);
    let lease = conn.register(&handle)?;
    println!(
        "seat held for {} minutes: {}",
        (lease.time_left.as_secs() + 30) / 60,
        handle.check()?
    );

    step("5. It consumes 3 renders and uploads them (exactly once)");
    let render = Counter::Feature("render".into());
    let usage = handle.consume(&render, 3)?;
    let upload = conn.upload_consumption(&handle)?;
    let again = conn.upload_consumption(&handle)?;
    println!(
        "used {} of {}; uploaded {} record(s), then {} on the second run",
        usage.used,
        usage.limit.map_or("unlimited".into(), |l| l.to_string()),
        upload.sent,
        again.sent
    );

    step("6. It borrows the seat for 8 hours, to work offline");
    let borrowed = conn.borrow(&handle, 8)?;
    println!(
        "borrowed for {} hours",
        (borrowed.time_left.as_secs() + 1800) / 3600
    );

    step("7. Offline: the server stops; the license keeps working");
    server.kill()?;
    server.wait()?;
    println!("check: {}", handle.check()?);
    handle.consume(&render, 2)?;
    match conn.check_in() {
        Err(e) => println!("check-in: {e}"),
        Ok(_) => return Err("a check-in succeeded with the server down".into()),
    }

    step("8. Back online: the server restarts on the same database; the product syncs");
    let (mut server, url) = start_server(binary, work)?;
    let conn = connect(&url)?;
    conn.check_in()?;
    let upload = conn.upload_consumption(&handle)?;
    let seen = admin_get(&url, &format!("/admin/v1/licenses/{}", record.license_id))?;
    println!(
        "checked in; uploaded {} record(s); the server counts {}",
        upload.sent, seen["consumption"]
    );

    step("9. It returns the borrowed seat and deactivates");
    conn.return_borrow(&handle)?;
    conn.deactivate()?;
    let seen = admin_get(&url, &format!("/admin/v1/licenses/{}", record.license_id))?;
    println!(
        "deactivated; the server shows {} activation(s), {} transfer(s)",
        seen["times_activated"], seen["transfer_count"]
    );
    server.kill()?;
    server.wait()?;
    Ok(())
}
