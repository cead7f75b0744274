//! One Rust product on a relay's network (docs/RELAY.md), as
//! `tests/c/relay_seat.c` is one in C: activates with the pool's key at
//! the relay, takes a seat and says so (`seat` or `refused <code>`), waits
//! for a line on standard input, gives the seat back and exits.
//!
//! ```text
//! seat RELAY_URL STATE_DIR DEVICE_ID
//! ```
//!
//! The product, its API key (hex), the vendor's public key and the pool's
//! key come from tests/online/harness.py's TESSERA_TEST_* variables.

use std::io::BufRead as _;

use tessera::activation::Credential;
use tessera::online::{Connection, ServerConfig};
use tessera::{Error, Keyring, LicenseHandle, LocalConfig, PublicKey, Status};

fn env(name: &str) -> Result<String, String> {
    std::env::var(name)
        .map_err(|_| format!("{name} is not set (run under tests/online/harness.py)"))
}

fn run() -> Result<(), String> {
    let args: Vec<String> = std::env::args().collect();
    let [_, url, state, device] = args.as_slice() else {
        return Err("usage: seat RELAY_URL STATE_DIR DEVICE_ID".into());
    };
    let pem =
        std::fs::read_to_string(env("TESSERA_TEST_VENDOR_PUB")?).map_err(|e| e.to_string())?;
    let key = PublicKey::parse(&pem).map_err(|e| e.to_string())?;
    let mut config = LocalConfig::new(&env("TESSERA_TEST_PRODUCT")?, Keyring::from_keys([key]));
    config.secret = b"test-only vendor secret, not a real one".to_vec();
    config.store_dir = Some(state.into());
    config.custom_device_id = Some(device.clone());
    let hex = env("TESSERA_TEST_PRODUCT_KEY_HEX")?;
    let product_key = (0..hex.len() / 2)
        .map(|i| u8::from_str_radix(&hex[2 * i..2 * i + 2], 16))
        .collect::<Result<Vec<u8>, _>>()
        .map_err(|e| e.to_string())?;
    // Only the server address changes: the relay's.
    let conn = Connection::new(&config, ServerConfig::new(url.as_str(), product_key))
        .map_err(|e| e.to_string())?;
    conn.activate(&Credential::LicenseKey(env("TESSERA_TEST_POOL_KEY")?))
        .map_err(|e| format!("activate: {e}"))?;
    let handle = LicenseHandle::open(&config).map_err(|e| e.to_string())?;
    let held = match conn.register(&handle) {
        Ok(_) => {
            if handle.check().map_err(|e| e.to_string())? != Status::Valid {
                return Err("a seat held but the license is not valid".into());
            }
            println!("seat");
            true
        }
        Err(Error::ServerRefused { code, .. }) => {
            println!("refused {code}");
            false
        }
        Err(e) => return Err(format!("register: {e}")),
    };
    let mut line = String::new();
    let _ = std::io::stdin().lock().read_line(&mut line);
    if held {
        conn.release().map_err(|e| format!("release: {e}"))?;
        println!("released");
    }
    Ok(())
}

fn main() -> std::process::ExitCode {
    match run() {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("seat: {e}");
            std::process::ExitCode::FAILURE
        }
    }
}
