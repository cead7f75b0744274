//! The wire to the license server: where it is ([`ServerConfig`]), the
//! HTTPS client, each request signed with the product's shared key
//! ([`crate::protocol::request`]), retries with backoff and full jitter, and
//! every answer's signature checked before anything in it is used.

use std::time::Duration as StdDuration;

use chrono::{DateTime, Utc};
use serde_json::Value;

use crate::error::{Error, Result};
use crate::protocol::{format_http_date, request, verify_answer, ResponseHeaders};
use crate::runtime::config::LocalConfig;

/// The largest answer read from the server.
const MAX_ANSWER: u64 = 1024 * 1024;
/// Where the license server is and how to talk to it.
#[derive(Clone)]
pub struct ServerConfig {
    /// The server's base URL: `https://...`; `http://` only for a
    /// loopback address.
    pub url: String,
    /// The product's shared key (from the admin API, embedded in the product).
    pub product_key: Vec<u8>,
    /// A CA certificate (PEM) to trust instead of the system's roots.
    pub pinned_ca: Option<String>,
    /// How long one attempt may take, connecting included (default 10 s).
    pub timeout: StdDuration,
    /// How many attempts a call makes on network errors and 5xx (default 4).
    pub attempts: u32,
    /// The first backoff; it doubles with each retry, with full jitter
    /// (default 250 ms).
    pub backoff: StdDuration,
}

impl std::fmt::Debug for ServerConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServerConfig")
            .field("url", &self.url)
            .field("pinned_ca", &self.pinned_ca.is_some())
            .field("timeout", &self.timeout)
            .field("attempts", &self.attempts)
            .finish_non_exhaustive()
    }
}

impl ServerConfig {
    /// Defaults for everything but the address and the key. Proxies come
    /// from the environment (`HTTPS_PROXY`, `ALL_PROXY`, `NO_PROXY`).
    pub fn new(url: impl Into<String>, product_key: Vec<u8>) -> ServerConfig {
        ServerConfig {
            url: url.into().trim_end_matches('/').to_owned(),
            product_key,
            pinned_ca: None,
            timeout: StdDuration::from_secs(10),
            attempts: 4,
            backoff: StdDuration::from_millis(250),
        }
    }
}

/// A signed answer.
pub(super) struct Answer {
    pub(super) body: Value,
}

/// The HTTPS client of one product's server. The product's code, the
/// keyring its answers must verify against and the clock its requests are
/// dated by come from the product's configuration at each call.
pub(super) struct Transport {
    agent: ureq::Agent,
    pub(super) server: ServerConfig,
}

impl Transport {
    /// The client for the product `local` configures. Refuses a plain
    /// `http://` URL that is not loopback, and a pinned CA that is not a
    /// PEM certificate.
    pub(super) fn new(server: ServerConfig) -> Result<Transport> {
        if !server.url.starts_with("https://") && !is_loopback(&server.url) {
            return Err(Error::InvalidArgument(
                "the server URL must be https:// (http:// only for a loopback address)",
            ));
        }
        if server.product_key.is_empty() {
            return Err(Error::InvalidArgument("the product key is empty"));
        }
        let roots = match &server.pinned_ca {
            Some(pem) => {
                let certs: Vec<ureq::tls::Certificate<'static>> =
                    ureq::tls::parse_pem(pem.as_bytes())
                        .filter_map(|item| match item {
                            Ok(ureq::tls::PemItem::Certificate(c)) => Some(Ok(c)),
                            Ok(_) => None,
                            Err(_) => Some(Err(())),
                        })
                        .collect::<std::result::Result<_, ()>>()
                        .map_err(|_| {
                            Error::InvalidArgument("the pinned CA is not a PEM certificate")
                        })?;
                if certs.is_empty() {
                    return Err(Error::InvalidArgument("the pinned CA holds no certificate"));
                }
                ureq::tls::RootCerts::new_with_certs(&certs)
            }
            None => ureq::tls::RootCerts::PlatformVerifier,
        };
        let tls = ureq::tls::TlsConfig::builder()
            .provider(ureq::tls::TlsProvider::Rustls)
            .root_certs(roots)
            .build();
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .timeout_global(Some(server.timeout))
            .http_status_as_error(false)
            .proxy(ureq::Proxy::try_from_env())
            .tls_config(tls)
            .build()
            .into();
        Ok(Transport { agent, server })
    }

    /// One signed call for the product `local` configures, retried on
    /// network errors and 5xx; `observe` sees the signed time of every
    /// answer that verified.
    pub(super) fn call(
        &self,
        local: &LocalConfig,
        path: &str,
        body: &Value,
        observe: &dyn Fn(DateTime<Utc>) -> Result<()>,
    ) -> Result<Answer> {
        let bytes = serde_json::to_vec(body)
            .map_err(|_| Error::InvalidArgument("the request cannot be encoded"))?;
        let mut last = String::new();
        for attempt in 0..self.server.attempts.max(1) {
            if attempt > 0 {
                std::thread::sleep(self.backoff(attempt));
            }
            match self.attempt(local, path, &bytes, observe) {
                Ok(Some(answer)) => return Ok(answer),
                Ok(None) => last = "the server answered with a 5xx".into(),
                Err(Retry::Network(what)) => last = what,
                Err(Retry::Final(e)) => return Err(e),
            }
        }
        Err(Error::Network(last))
    }

    /// Full jitter: a uniform wait in [0, backoff × 2^(attempt-1)].
    fn backoff(&self, attempt: u32) -> StdDuration {
        let cap = self
            .server
            .backoff
            .saturating_mul(1u32 << attempt.saturating_sub(1).min(10));
        let fraction = match crate::util::random_bytes::<4>() {
            Ok(r) => f64::from(u32::from_le_bytes(r)) / f64::from(u32::MAX),
            Err(_) => 1.0,
        };
        cap.mul_f64(fraction)
    }

    /// One attempt: Ok(None) is a 5xx (retried).
    fn attempt(
        &self,
        local: &LocalConfig,
        path: &str,
        body: &[u8],
        observe: &dyn Fn(DateTime<Utc>) -> Result<()>,
    ) -> std::result::Result<Option<Answer>, Retry> {
        let nonce = hex::encode(crate::util::random_bytes::<16>().map_err(Retry::Final)?);
        let date = format_http_date(local.clock.now());
        let message = request::request_string(&date, "POST", path, body, &nonce);
        let signature = request::sign(&self.server.product_key, &message).map_err(Retry::Final)?;
        let authorization = request::authorization(&local.product, &signature);
        let sent = self
            .agent
            .post(format!("{}{path}", self.server.url))
            .header("content-type", "application/json")
            .header("date", &date)
            .header("tessera-nonce", &nonce)
            .header("authorization", &authorization)
            .send(body);
        let mut response = sent.map_err(|e| Retry::Network(describe(&e)))?;
        let status = response.status().as_u16();
        let header = |name: &str| {
            response
                .headers()
                .get(name)
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned)
        };
        let (server_date, echoed, signature) = (
            header("date"),
            header("tessera-nonce"),
            header("tessera-signature"),
        );
        let answer = response
            .body_mut()
            .with_config()
            .limit(MAX_ANSWER)
            .read_to_vec()
            .map_err(|e| Retry::Network(describe(&e)));
        if status >= 500 && signature.is_none() {
            // A proxy's or a gateway's 5xx: nobody signed it; try again.
            return Ok(None);
        }
        let answer = answer?;
        let headers = ResponseHeaders {
            date: server_date.as_deref(),
            nonce: echoed.as_deref(),
            signature: signature.as_deref(),
        };
        let verified = verify_answer(&local.keyring, &nonce, status, headers, &answer);
        let server_time = verified.map_err(Retry::Final)?;
        observe(server_time).map_err(Retry::Final)?;
        if status >= 500 {
            return Ok(None);
        }
        let body: Value = serde_json::from_slice(&answer)
            .map_err(|_| Retry::Final(Error::BadResponse("the body is not JSON")))?;
        if status != 200 {
            return Err(Retry::Final(Error::ServerRefused {
                status,
                code: body["code"].as_str().unwrap_or("unknown").to_owned(),
                message: body["message"].as_str().unwrap_or_default().to_owned(),
            }));
        }
        Ok(Some(Answer { body }))
    }
}

fn is_loopback(url: &str) -> bool {
    let rest = url.strip_prefix("http://").unwrap_or_default();
    let host = rest.split(['/', '?']).next().unwrap_or_default();
    let host = match host.rsplit_once(':') {
        Some((h, port)) if port.chars().all(|c| c.is_ascii_digit()) => h,
        _ => host,
    };
    host == "localhost"
        || host == "[::1]"
        || host
            .parse::<std::net::Ipv4Addr>()
            .is_ok_and(|ip| ip.is_loopback())
}

enum Retry {
    Network(String),
    Final(Error),
}

/// What went wrong on the wire, in words (never a URL's credentials).
fn describe(e: &ureq::Error) -> String {
    match e {
        ureq::Error::Timeout(_) => "timed out".into(),
        ureq::Error::HostNotFound => "host not found".into(),
        ureq::Error::ConnectionFailed => "connection failed".into(),
        ureq::Error::Io(io) => format!("i/o: {}", io.kind()),
        ureq::Error::Tls(_) | ureq::Error::Rustls(_) => "TLS handshake failed".into(),
        ureq::Error::BodyExceedsLimit(_) => "the answer is too large".into(),
        other => format!("{other}").chars().take(120).collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_loopback_may_be_plain_http() {
        for url in [
            "http://127.0.0.1:8787",
            "http://127.0.0.1",
            "http://localhost:1/x",
            "http://[::1]:80",
        ] {
            assert!(is_loopback(url), "{url}");
        }
        for url in [
            "http://10.0.0.1:8787",
            "http://example.com",
            "http://127.0.0.1.example.com",
            "https://127.0.0.1",
        ] {
            assert!(!is_loopback(url), "{url}");
        }
    }
}
