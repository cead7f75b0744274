//! `tessera-server`: the reference license server (the binary's whole
//! body, and the in-process entry point of the request fuzz target).
//!
//! ```text
//! tessera-server --config server.json
//! ```
//!
//! Configuration comes from the JSON file and the environment (which wins):
//! `listen` / `TESSERA_SERVER_LISTEN`, `database` / `TESSERA_SERVER_DATABASE`
//! (an SQLite file's path, or a `postgres://` URL with `database_pool` /
//! `TESSERA_SERVER_DATABASE_POOL`, the most connections this instance
//! opens: 16 unless set),
//! `signing_key` / `TESSERA_SERVER_SIGNING_KEY` (a PKCS#8 PEM file from
//! `tessera keygen`), `admin_token_file` / `TESSERA_ADMIN_TOKEN` (the token
//! itself), `insecure_http` / `TESSERA_SERVER_INSECURE_HTTP` (1, true, yes or
//! on; 0, false, no or off), `check_in_days`,
//! `tls_cert` / `TESSERA_SERVER_TLS_CERT` and `tls_key` /
//! `TESSERA_SERVER_TLS_KEY` (PEM files), `check_in_days`,
//! `idle_timeout_secs` (default 20: a connection with no byte either way
//! for that long is closed), `trusted_proxies` /
//! `TESSERA_SERVER_TRUSTED_PROXIES` (addresses or CIDR ranges of the load
//! balancers whose `Forwarded` / `X-Forwarded-For` name the client; none
//! unless set), `max_connections` / `TESSERA_SERVER_MAX_CONNECTIONS` (the
//! most held open at once; the open-file limit less 128 unless set) and
//! `max_connections_per_address` (256; trusted proxies exempt), `test_clock`,
//! `webhooks_allow_private` / `TESSERA_SERVER_WEBHOOKS_ALLOW_PRIVATE`
//! (webhooks may reach private and loopback addresses; off unless set) and
//! `webhook_timeout_secs` (10: how long a receiver has to answer),
//! `release_keys` / `TESSERA_SERVER_RELEASE_KEYS` (public key files, comma
//! separated in the environment: whose signed releases the admin API
//! takes besides the server's own key's) and `downloads` /
//! `TESSERA_SERVER_DOWNLOADS` (a folder served at `/downloads/NAME`, with
//! ranges, for releases the server hosts; none unless set).
//! It serves TLS when given a certificate and key; plain HTTP only with
//! `insecure_http`, and then only on a loopback address. docs/PROTOCOL.md
//! describes the API.

mod activations;
mod admin;
mod admission;
mod api;
mod audit;
mod body;
mod client_address;
#[cfg(feature = "compat")]
mod compat;
mod connections;
mod console;
mod consumption;
mod database;
mod device_call;
mod error;
mod events;
mod http;
mod licenses;
mod openapi;
mod outbox;
mod portal;
mod products;
mod rate_limit;
mod relays;
mod releases;
mod reports;
mod route_table;
mod routes;
mod seats;
mod sso;
mod state;
mod store;
mod tls;
mod trials;
mod users;
mod wal;
mod web;

pub mod fuzzing;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use serde::Deserialize;

/// The configuration file.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileConfig {
    listen: Option<String>,
    database: Option<String>,
    database_pool: Option<usize>,
    signing_key: Option<PathBuf>,
    admin_token_file: Option<PathBuf>,
    insecure_http: Option<bool>,
    tls_cert: Option<PathBuf>,
    tls_key: Option<PathBuf>,
    check_in_days: Option<u32>,
    idle_timeout_secs: Option<u64>,
    test_clock: Option<bool>,
    trusted_proxies: Option<Vec<String>>,
    max_connections: Option<usize>,
    max_connections_per_address: Option<usize>,
    /// Where the RSA key and certificate chain of LicenseSpring's answer
    /// signature live (made on the first start); default: `licensespring`
    /// beside the signing key.
    #[cfg_attr(not(feature = "compat"), allow(dead_code))]
    licensespring_keys: Option<PathBuf>,
    /// Whether webhooks may reach private, loopback and link-local
    /// addresses (docs/EVENTS.md); off unless set.
    webhooks_allow_private: Option<bool>,
    /// How long a webhook's receiver has to answer, in seconds (10).
    webhook_timeout_secs: Option<u64>,
    /// Public keys (PEM files) whose signed releases the admin API takes,
    /// besides the server's own.
    release_keys: Option<Vec<PathBuf>>,
    /// A folder whose files are served at `/downloads/NAME`.
    downloads: Option<PathBuf>,
}

fn fail(message: impl std::fmt::Display) -> ExitCode {
    eprintln!("tessera-server: {message}");
    ExitCode::from(1)
}

/// An on/off setting: the environment variable `name` (1, true, yes or on;
/// 0, false, no or off), else the file's value, else off.
fn switch(name: &str, file: Option<bool>) -> Result<bool, String> {
    match std::env::var(name)
        .ok()
        .filter(|v| !v.is_empty())
        .as_deref()
    {
        Some("1" | "true" | "yes" | "on") => Ok(true),
        Some("0" | "false" | "no" | "off") => Ok(false),
        Some(other) => Err(format!(
            "{name} is `{other}`: use 1, true, yes or on (0, false, no or off to turn it off)"
        )),
        None => Ok(file.unwrap_or(false)),
    }
}

/// Opens the database `database` names: a PostgreSQL URL, or an SQLite
/// file's path.
fn open_store(
    database: &str,
    pool_size: Option<usize>,
    runtime: &tokio::runtime::Handle,
) -> Result<state::Store, String> {
    if store::is_postgres_url(database) {
        let pool = store::open_pg(database, pool_size.unwrap_or(16), runtime, |db| {
            database::migrate(db).map_err(|e| e.to_string())
        })?;
        return Ok(state::Store::Postgres(pool));
    }
    let path = std::path::Path::new(database);
    let conn = database::open(path).map_err(|e| e.to_string())?;
    let conn = Arc::new(std::sync::Mutex::new(conn));
    let checkpoints = wal::Checkpointer::start(path, &conn)?;
    Ok(state::Store::Sqlite { conn, checkpoints })
}

/// The binary's `main`: reads the configuration and serves until Ctrl-C.
pub fn run() -> ExitCode {
    let mut args: Vec<String> = std::env::args().collect();
    // `--config FILE create-owner EMAIL NAME`: a console owner, the
    // password from standard input (docs/CONSOLE.md).
    let owner = match args.as_slice() {
        [_, flag, _, command, email, name] if flag == "--config" && command == "create-owner" => {
            let owner = (email.clone(), name.clone());
            args.truncate(3);
            Some(owner)
        }
        _ => None,
    };
    let file = match args.as_slice() {
        [_] => FileConfig::default(),
        [_, flag, path] if flag == "--config" => {
            let text = match std::fs::read(path) {
                Ok(t) => t,
                Err(e) => return fail(format!("cannot read {path}: {e}")),
            };
            match serde_json::from_slice(&text) {
                Ok(c) => c,
                Err(e) => return fail(format!("{path}: {e}")),
            }
        }
        [_, flag] if flag == "--openapi" => {
            // The OpenAPI document (scripts/openapi.sh writes it to
            // server/openapi.json).
            print!("{}", openapi::text());
            return ExitCode::SUCCESS;
        }
        _ => {
            return fail(
                "usage: tessera-server [--config FILE [create-owner EMAIL NAME] | --openapi]",
            )
        }
    };
    let env = |k: &str| std::env::var(k).ok().filter(|v| !v.is_empty());
    let listen = env("TESSERA_SERVER_LISTEN")
        .or(file.listen)
        .unwrap_or_else(|| "127.0.0.1:8787".into());
    let Ok(listen) = listen.parse::<SocketAddr>() else {
        return fail(format!("listen address `{listen}` is not host:port"));
    };
    let insecure = match switch("TESSERA_SERVER_INSECURE_HTTP", file.insecure_http) {
        Ok(on) => on,
        Err(e) => return fail(e),
    };
    let webhooks_allow_private = match switch(
        "TESSERA_SERVER_WEBHOOKS_ALLOW_PRIVATE",
        file.webhooks_allow_private,
    ) {
        Ok(on) => on,
        Err(e) => return fail(e),
    };
    let tls_cert = env("TESSERA_SERVER_TLS_CERT")
        .map(PathBuf::from)
        .or(file.tls_cert);
    let tls_key = env("TESSERA_SERVER_TLS_KEY")
        .map(PathBuf::from)
        .or(file.tls_key);
    let tls = match (tls_cert, tls_key, insecure) {
        (Some(cert), Some(key), false) => match tls::acceptor(&cert, &key) {
            Ok(a) => Some(a),
            Err(e) => return fail(e),
        },
        (None, None, true) if listen.ip().is_loopback() => None,
        (None, None, true) => return fail("plain HTTP is allowed on a loopback address only"),
        (Some(_), Some(_), true) => {
            return fail("both TLS files and insecure_http are set: choose one")
        }
        (Some(_), None, _) | (None, Some(_), _) => {
            return fail("TLS needs both tls_cert and tls_key")
        }
        (None, None, false) => {
            return fail(
                "no TLS certificate: set tls_cert and tls_key (PEM files), or insecure_http on a loopback address",
            )
        }
    };
    let Some(database) = env("TESSERA_SERVER_DATABASE").or(file.database) else {
        return fail(
            "no database: set `database` (a file, or a postgres:// URL) or TESSERA_SERVER_DATABASE",
        );
    };
    let Some(key_path) = env("TESSERA_SERVER_SIGNING_KEY")
        .map(PathBuf::from)
        .or(file.signing_key)
    else {
        return fail("no signing key: set `signing_key` or TESSERA_SERVER_SIGNING_KEY");
    };
    let admin_token = match env("TESSERA_ADMIN_TOKEN") {
        Some(t) => t,
        None => match &file.admin_token_file {
            Some(p) => match std::fs::read_to_string(p) {
                Ok(t) => t.trim().to_owned(),
                Err(e) => return fail(format!("cannot read {}: {e}", p.display())),
            },
            None => return fail("no admin token: set `admin_token_file` or TESSERA_ADMIN_TOKEN"),
        },
    };
    if admin_token.len() < 16 {
        return fail("the admin token must be at least 16 characters");
    }
    let key = match std::fs::read_to_string(&key_path)
        .map_err(|e| e.to_string())
        .and_then(|pem| tessera::issuer::SigningKey::from_pem(&pem).map_err(|e| e.to_string()))
    {
        Ok(k) => k,
        Err(e) => return fail(format!("signing key {}: {e}", key_path.display())),
    };
    // LicenseSpring's answer signature: read, or made on the first start.
    #[cfg(feature = "compat")]
    let licensespring_signer = {
        let dir = env("TESSERA_SERVER_LICENSESPRING_KEYS")
            .map(PathBuf::from)
            .or(file.licensespring_keys.clone())
            .unwrap_or_else(|| {
                key_path
                    .parent()
                    .unwrap_or(std::path::Path::new("."))
                    .join("licensespring")
            });
        match compat::licensespring::signature::AnswerSigner::load_or_create(&dir) {
            Ok(signer) => signer,
            Err(e) => return fail(format!("LicenseSpring's answer signature: {e}")),
        }
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => return fail(format!("cannot start the runtime: {e}")),
    };
    let pool_size = match env("TESSERA_SERVER_DATABASE_POOL").map(|v| v.parse::<usize>()) {
        Some(Ok(n)) if n > 0 => Some(n),
        Some(_) => return fail("TESSERA_SERVER_DATABASE_POOL is not a positive number"),
        None => file.database_pool,
    };
    let store = match open_store(&database, pool_size, runtime.handle()) {
        Ok(s) => s,
        Err(e) => return fail(format!("database {}: {e}", store::redacted(&database))),
    };
    // The proxies whose forwarding headers name the client (a load
    // balancer in front): a comma-separated list in the environment.
    let proxies: Vec<String> = match env("TESSERA_SERVER_TRUSTED_PROXIES") {
        Some(list) => list.split(',').map(str::to_owned).collect(),
        None => file.trusted_proxies.clone().unwrap_or_default(),
    };
    let trusted_proxies = match client_address::TrustedProxies::parse(&proxies) {
        Ok(t) => t,
        Err(e) => return fail(e),
    };
    let mut app = state::App::new(
        store,
        key,
        admin_token,
        file.check_in_days.unwrap_or(7),
        file.idle_timeout_secs
            .filter(|s| *s > 0)
            .map_or(connections::IDLE, std::time::Duration::from_secs),
        file.test_clock.unwrap_or(false),
    );
    app.trusted_proxies = trusted_proxies;
    app.tls = tls.is_some();
    app.max_connections = match env("TESSERA_SERVER_MAX_CONNECTIONS").map(|v| v.parse::<usize>()) {
        Some(Ok(n)) if n > 0 => Some(n),
        Some(_) => return fail("TESSERA_SERVER_MAX_CONNECTIONS is not a positive number"),
        None => file.max_connections.filter(|n| *n > 0),
    };
    if let Some(n) = file.max_connections_per_address.filter(|n| *n > 0) {
        app.max_connections_per_address = n;
    }
    app.webhooks_allow_private = webhooks_allow_private;
    let release_keys: Vec<PathBuf> = match env("TESSERA_SERVER_RELEASE_KEYS") {
        Some(list) => list.split(',').map(PathBuf::from).collect(),
        None => file.release_keys.clone().unwrap_or_default(),
    };
    for path in release_keys {
        match std::fs::read_to_string(&path)
            .map_err(|e| e.to_string())
            .and_then(|pem| tessera::PublicKey::from_pem(&pem).map_err(|e| e.to_string()))
        {
            Ok(k) => {
                app.release_keys.add(k);
            }
            Err(e) => return fail(format!("release key {}: {e}", path.display())),
        }
    }
    app.downloads = env("TESSERA_SERVER_DOWNLOADS")
        .map(PathBuf::from)
        .or(file.downloads.clone());
    if let Some(dir) = &app.downloads {
        if !dir.is_dir() {
            return fail(format!("downloads {}: not a folder", dir.display()));
        }
    }
    if let Some(secs) = file.webhook_timeout_secs.filter(|s| (1..=300).contains(s)) {
        app.webhook_deadline = std::time::Duration::from_secs(secs);
    }
    #[cfg(feature = "compat")]
    {
        app.licensespring_signer = Some(Arc::new(licensespring_signer));
    }
    let app = Arc::new(app);
    if let Some((email, name)) = owner {
        let mut password = String::new();
        if let Err(e) = std::io::stdin().read_line(&mut password) {
            return fail(format!("cannot read the password from standard input: {e}"));
        }
        let password = password.trim_end_matches(['\r', '\n']);
        return match runtime.block_on(console::create_owner(&app, &email, &name, password)) {
            Ok(()) => {
                eprintln!("tessera-server: {email} is an owner of the console");
                ExitCode::SUCCESS
            }
            Err(e) => fail(e),
        };
    }
    match runtime.block_on(routes::serve(app, listen, tls)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => fail(e),
    }
}

/// Every (method, path) the server serves, from the table its router is
/// built from: the OpenAPI document is checked against it
/// (server/tests/contract.rs).
pub fn served_routes() -> Vec<(String, String)> {
    routes::served_routes()
}
