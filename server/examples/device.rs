//! A product's device for the browser suite (scripts/browser-tests.sh):
//! the SDK does what a product does, so the console and the portal show a
//! real device.
//!
//! ```text
//! device activate URL PRODUCT KEY_B64 VENDOR_PUB STATE DEVICE LICENSE_KEY
//! device request PRODUCT VENDOR_PUB STATE DEVICE LICENSE_KEY OUT
//! device import PRODUCT VENDOR_PUB STATE DEVICE ANSWER
//! ```
//!
//! `activate` activates online (the product's key in base64, as the
//! console shows it once); `request` writes an offline activation's request
//! file; `import` takes the answer file and prints the license's status.

use base64::Engine as _;
use tessera::activation::{offline, Credential};
use tessera::online::{Connection, ServerConfig};
use tessera::{Keyring, LicenseHandle, LocalConfig, PublicKey};

fn config(
    product: &str,
    vendor_pub: &str,
    state: &str,
    device: &str,
) -> Result<LocalConfig, String> {
    let pem = std::fs::read_to_string(vendor_pub).map_err(|e| format!("{vendor_pub}: {e}"))?;
    let key = PublicKey::parse(&pem).map_err(|e| e.to_string())?;
    let mut config = LocalConfig::new(product, Keyring::from_keys([key]));
    config.secret = b"test-only vendor secret, not a real one".to_vec();
    config.store_dir = Some(state.into());
    config.custom_device_id = Some(device.to_owned());
    Ok(config)
}

fn run() -> Result<(), String> {
    let args: Vec<String> = std::env::args().collect();
    match args
        .iter()
        .map(String::as_str)
        .collect::<Vec<_>>()
        .as_slice()
    {
        [_, "activate", url, product, key, vendor_pub, state, device, license_key] => {
            let config = config(product, vendor_pub, state, device)?;
            let key = base64::engine::general_purpose::STANDARD
                .decode(key)
                .map_err(|e| format!("the product key: {e}"))?;
            let conn = Connection::new(&config, ServerConfig::new(*url, key))
                .map_err(|e| e.to_string())?;
            conn.activate(&Credential::LicenseKey((*license_key).to_owned()))
                .map_err(|e| format!("activate: {e}"))?;
            let handle = LicenseHandle::open(&config).map_err(|e| e.to_string())?;
            println!("{:?}", handle.check().map_err(|e| e.to_string())?);
            Ok(())
        }
        [_, "request", product, vendor_pub, state, device, license_key, out] => {
            let config = config(product, vendor_pub, state, device)?;
            let text = offline::request_activation(
                &config,
                &Credential::LicenseKey((*license_key).to_owned()),
            )
            .map_err(|e| e.to_string())?;
            std::fs::write(out, text).map_err(|e| format!("{out}: {e}"))
        }
        [_, "import", product, vendor_pub, state, device, answer] => {
            let config = config(product, vendor_pub, state, device)?;
            let text = std::fs::read(answer).map_err(|e| format!("{answer}: {e}"))?;
            offline::import_response(&config, &text).map_err(|e| e.to_string())?;
            let handle = LicenseHandle::open(&config).map_err(|e| e.to_string())?;
            println!("{:?}", handle.check().map_err(|e| e.to_string())?);
            Ok(())
        }
        _ => Err("usage: device activate|request|import ... (see the file's head)".into()),
    }
}

fn main() -> std::process::ExitCode {
    match run() {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("device: {e}");
            std::process::ExitCode::FAILURE
        }
    }
}
