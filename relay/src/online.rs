//! The relay's calls to the vendor's server, when it can reach it: its
//! delegation asked for (and renewed) online, and its usage record
//! uploaded. Each is signed as the SDK signs its calls (the product's
//! HMAC key, a Date and a nonce; docs/PROTOCOL.md), and each answer must
//! carry the server's signature under a key of `vendor.pub`.

use std::time::Duration;

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine as _;
use serde_json::Value;
use tessera::format::delegation::RelayGrant;
use tessera::protocol::bodies::{RelayDelegateRequest, RelayUsageRequest};
use tessera::protocol::{self, request, ResponseHeaders};
use tessera::Time;

use crate::home::{self, hex, random};
use crate::{exit, Dirs, Failure};

/// Where the vendor's server is and how the relay authenticates to it.
#[derive(Debug, Clone)]
pub struct Vendor {
    /// The server's address, `https://…` (or `http://` on loopback).
    pub url: String,
    /// The product's API key, as the server gave it (base64).
    pub product_key: String,
}

impl Vendor {
    /// The server at `url` with the API key in `key_file`.
    pub fn read(url: &str, key_file: &std::path::Path) -> Result<Vendor, Failure> {
        let key = home::read(key_file, "the product's API key", 4096)?;
        Ok(Vendor {
            url: url.trim_end_matches('/').to_owned(),
            product_key: String::from_utf8_lossy(&key).trim().to_owned(),
        })
    }
}

/// Asks the vendor's server for a delegation (or its renewal) for
/// `license_key`, and keeps the answer as `import` does.
pub fn activate(
    dirs: &Dirs,
    vendor: &Vendor,
    license_key: &str,
    now: Time,
) -> Result<RelayGrant, Failure> {
    let request = dirs.write_request(now)?;
    let product = dirs.product()?;
    let body = serde_json::to_vec(&RelayDelegateRequest::new(&product, license_key, request))
        .map_err(|e| Failure::new(exit::FAILED, e.to_string()))?;
    let answer = call(dirs, vendor, &product, "/api/v1/relay/delegate", &body, now)?;
    let grant = answer["grant"]
        .as_str()
        .ok_or_else(|| Failure::new(exit::FAILED, "the server's answer holds no delegation"))?;
    dirs.import(grant.as_bytes(), now)
}

/// Uploads the usage record; answers the days the server kept.
pub fn upload(dirs: &Dirs, vendor: &Vendor, now: Time) -> Result<u64, Failure> {
    let usage = crate::usage::export(dirs, now)?;
    let product = dirs.product()?;
    let body = serde_json::to_vec(&RelayUsageRequest::new(&product, usage))
        .map_err(|e| Failure::new(exit::FAILED, e.to_string()))?;
    let answer = call(dirs, vendor, &product, "/api/v1/relay/usage", &body, now)?;
    Ok(answer["days"].as_u64().unwrap_or(0))
}

fn call(
    dirs: &Dirs,
    vendor: &Vendor,
    product: &str,
    path: &str,
    body: &[u8],
    now: Time,
) -> Result<Value, Failure> {
    let fail = |m: String| Failure::new(exit::FAILED, m);
    let key = B64
        .decode(&vendor.product_key)
        .map_err(|_| fail("the product's API key is not base64".into()))?;
    let nonce = hex(&random::<16>().map_err(fail)?);
    let date = protocol::format_http_date(now.into());
    let message = request::request_string(&date, "POST", path, body, &nonce);
    let signature = request::sign(&key, &message)?;
    let client = reqwest::blocking::Client::builder()
        .timeout(Duration::from_secs(30))
        .build()
        .map_err(|e| fail(format!("no HTTP client: {e}")))?;
    let response = client
        .post(format!("{}{path}", vendor.url))
        .header("content-type", "application/json")
        .header("date", &date)
        .header("tessera-nonce", &nonce)
        .header("authorization", request::authorization(product, &signature))
        .body(body.to_vec())
        .send()
        .map_err(|e| fail(format!("the vendor's server could not be reached: {e}")))?;
    let status = response.status().as_u16();
    let header = |name: &str| {
        response
            .headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
    };
    let (sent_date, echoed, signed) = (
        header("date"),
        header("tessera-nonce"),
        header("tessera-signature"),
    );
    let answer = response
        .bytes()
        .map_err(|e| fail(format!("reading the server's answer: {e}")))?;
    let headers = ResponseHeaders {
        date: sent_date.as_deref(),
        nonce: echoed.as_deref(),
        signature: signed.as_deref(),
    };
    protocol::verify_answer(&dirs.vendor_keys()?, &nonce, status, headers, &answer)
        .map_err(|e| fail(format!("the server's answer: {e}")))?;
    let value: Value = serde_json::from_slice(&answer)
        .map_err(|_| fail("the server's answer is not JSON".into()))?;
    if status != 200 {
        return Err(fail(format!(
            "the vendor's server refused ({}): {}",
            value["code"].as_str().unwrap_or("error"),
            value["message"].as_str().unwrap_or_default()
        )));
    }
    Ok(value)
}
