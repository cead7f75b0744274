//! The wire to the license server: where it is ([`ServerConfig`]), the
//! HTTPS client (reqwest, blocking, rustls on ring), each request signed
//! with the product's shared key ([`crate::protocol::request`]), retries
//! with backoff and full jitter inside one overall deadline, and every
//! answer's signature checked before anything in it is used.

#[cfg(feature = "online")]
use std::io::Read as _;
#[cfg(feature = "online")]
use std::sync::Arc;
use std::time::{Duration as StdDuration, Instant};

use crate::Time;
use serde_json::Value;

use crate::error::{Error, Result};
#[cfg(feature = "online")]
use crate::protocol::{
    format_http_date, relay_keyring, request, verify_answer, ResponseHeaders, RELAY_PATHS,
};
use crate::runtime::config::LocalConfig;

/// The largest answer read from the server.
#[cfg(feature = "online")]
const MAX_ANSWER: u64 = 1024 * 1024;

/// How requests reach the server.
#[derive(Clone, Default, PartialEq, Eq)]
pub enum Proxy {
    /// The system's settings: `HTTPS_PROXY`, `ALL_PROXY` and `NO_PROXY`
    /// from the environment everywhere, and the Internet Options (registry)
    /// on Windows and the network settings on macOS.
    #[default]
    System,
    /// No proxy, whatever the system says.
    Direct,
    /// This proxy: `http://host:port`, with credentials if it asks for
    /// them (`http://user:password@host:port`); never printed or logged
    /// with them.
    Url(String),
}

impl std::fmt::Debug for Proxy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Proxy::System => f.write_str("System"),
            Proxy::Direct => f.write_str("Direct"),
            Proxy::Url(url) => write!(f, "Url({})", without_credentials(url)),
        }
    }
}

/// `scheme://host:port/...` with any `user:password@` taken out.
fn without_credentials(url: &str) -> String {
    match url.split_once("://") {
        Some((scheme, rest)) => {
            let authority_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
            let (authority, tail) = rest.split_at(authority_end);
            match authority.rsplit_once('@') {
                Some((_, host)) => format!("{scheme}://***@{host}{tail}"),
                None => url.to_owned(),
            }
        }
        None => "(not a URL)".to_owned(),
    }
}

/// Where the license server is and how to talk to it.
#[derive(Clone)]
pub struct ServerConfig {
    /// The server's base URL: `https://...`; `http://` only for a
    /// loopback address.
    pub url: String,
    /// The product's shared key (from the admin API, embedded in the product).
    pub product_key: Vec<u8>,
    /// A CA certificate (PEM) to trust instead of the platform's verifier
    /// and its roots.
    pub pinned_ca: Option<String>,
    /// How requests reach the server (default: the system's settings).
    pub proxy: Proxy,
    /// How long one attempt may take, connecting included (default 10 s).
    pub timeout: StdDuration,
    /// How long one call may take, all its attempts and waits included
    /// (default 30 s): no call blocks longer, whatever `attempts` says.
    pub deadline: StdDuration,
    /// How many attempts a call makes on network errors and 5xx (default 4).
    pub attempts: u32,
    /// The first backoff; it doubles with each retry, with full jitter
    /// (default 250 ms).
    pub backoff: StdDuration,
}

impl std::fmt::Debug for ServerConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServerConfig")
            .field("url", &without_credentials(&self.url))
            .field("pinned_ca", &self.pinned_ca.is_some())
            .field("proxy", &self.proxy)
            .field("timeout", &self.timeout)
            .field("deadline", &self.deadline)
            .field("attempts", &self.attempts)
            .finish_non_exhaustive()
    }
}

impl ServerConfig {
    /// [`ServerConfig::new`], refusing at once what a connection would
    /// refuse later: an empty key, and a URL that is not `https://` (or
    /// `http://` to a loopback address) or that does not parse (a port past
    /// 65535, an unclosed `[`, no host; read by the HTTP client's own
    /// parser).
    pub fn try_new(url: impl Into<String>, product_key: Vec<u8>) -> Result<ServerConfig> {
        let config = ServerConfig::new(url, product_key);
        check_url(&config.url)?;
        if config.product_key.is_empty() {
            return Err(Error::InvalidArgument("the product key is empty"));
        }
        Ok(config)
    }

    /// Defaults for everything but the address and the key.
    pub fn new(url: impl Into<String>, product_key: Vec<u8>) -> ServerConfig {
        ServerConfig {
            url: url.into().trim_end_matches('/').to_owned(),
            product_key,
            pinned_ca: None,
            proxy: Proxy::System,
            timeout: StdDuration::from_secs(10),
            deadline: StdDuration::from_secs(30),
            attempts: 4,
            backoff: StdDuration::from_millis(250),
        }
    }
}

/// Whether the online half was built: without the `online` feature,
/// `Error::Unsupported` (and, inlined where a connection, a session or an
/// auto-sync starts, the code behind them is dropped from the build).
#[inline(always)]
pub(super) fn online_built() -> Result<()> {
    #[cfg(not(feature = "online"))]
    return Err(Error::Unsupported(
        "this library was built without its online half (feature `online`)",
    ));
    #[cfg(feature = "online")]
    Ok(())
}

/// Who makes a call: the product's configuration, and the key of this
/// device that signs the device's proof on every request.
#[cfg_attr(not(feature = "online"), allow(dead_code))]
pub(super) struct Caller<'a> {
    pub(super) local: &'a LocalConfig,
    pub(super) device: &'a ed25519_dalek::SigningKey,
}

/// A signed answer.
pub(super) struct Answer {
    pub(super) body: Value,
}

/// The HTTPS client of one product's server. The product's code, the
/// keyring its answers must verify against and the clock its requests are
/// dated by come from the product's configuration at each call.
pub(super) struct Transport {
    #[cfg(feature = "online")]
    client: reqwest::blocking::Client,
    /// The download helper's client (redirects allowed), made on first use.
    #[cfg(feature = "online")]
    files: std::sync::OnceLock<reqwest::blocking::Client>,
    pub(super) server: ServerConfig,
}

/// A file's answer ([`Transport::fetch`]).
pub(super) struct Fetched {
    /// The offset in the file of the body's first byte (0: the whole file).
    pub(super) start: u64,
    /// The bytes, each read bounded by the timeout.
    pub(super) body: Box<dyn std::io::Read + Send>,
}

/// The client's settings every request shares: TLS, the timeouts, the
/// proxy and the user agent.
#[cfg(feature = "online")]
fn client_builder(server: &ServerConfig) -> Result<reqwest::blocking::ClientBuilder> {
    let builder = reqwest::blocking::Client::builder()
        .tls_backend_preconfigured(tls_config(server.pinned_ca.as_deref())?)
        .timeout(server.timeout)
        .connect_timeout(server.timeout)
        // Under the reference server's idle limit (20 s), so a pooled
        // connection is dropped here before the server closes it.
        .pool_idle_timeout(StdDuration::from_secs(15))
        .user_agent(format!(
            "tessera/{} ({}; {})",
            env!("CARGO_PKG_VERSION"),
            std::env::consts::OS,
            std::env::consts::ARCH
        ));
    Ok(match &server.proxy {
        Proxy::System => builder,
        Proxy::Direct => builder.no_proxy(),
        Proxy::Url(url) => builder.proxy(
            reqwest::Proxy::all(url.as_str())
                .map_err(|_| Error::InvalidArgument("the proxy is not a URL"))?,
        ),
    })
}

#[cfg(feature = "online")]
/// The TLS set-up: rustls on ring, with the platform's verifier (the
/// system's trust store and its revocation checks) or only the pinned CA.
fn tls_config(pinned_ca: Option<&str>) -> Result<rustls::ClientConfig> {
    use rustls::pki_types::{pem::PemObject as _, CertificateDer};
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = rustls::ClientConfig::builder_with_provider(Arc::clone(&provider))
        .with_safe_default_protocol_versions()
        .map_err(|_| Error::InvalidArgument("no TLS version is available"))?;
    let Some(pem) = pinned_ca else {
        let verifier = rustls_platform_verifier::Verifier::new(provider).map_err(|_| {
            Error::InvalidArgument("the platform's certificate verifier is unavailable")
        })?;
        return Ok(builder
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(verifier))
            .with_no_client_auth());
    };
    let mut roots = rustls::RootCertStore::empty();
    for cert in CertificateDer::pem_slice_iter(pem.as_bytes()) {
        let cert =
            cert.map_err(|_| Error::InvalidArgument("the pinned CA is not a PEM certificate"))?;
        roots
            .add(cert)
            .map_err(|_| Error::InvalidArgument("the pinned CA is not a usable certificate"))?;
    }
    if roots.is_empty() {
        return Err(Error::InvalidArgument("the pinned CA holds no certificate"));
    }
    Ok(builder.with_root_certificates(roots).with_no_client_auth())
}

impl Transport {
    /// The client for the product `local` configures. Refuses a plain
    /// `http://` URL that is not loopback, a pinned CA that is not a PEM
    /// certificate, and a proxy URL that does not parse.
    pub(super) fn new(server: ServerConfig) -> Result<Transport> {
        check_url(&server.url)?;
        if server.product_key.is_empty() {
            return Err(Error::InvalidArgument("the product key is empty"));
        }
        if server.attempts == 0 || server.deadline.is_zero() || server.timeout.is_zero() {
            return Err(Error::InvalidArgument(
                "attempts, the timeout and the deadline must be more than zero",
            ));
        }
        Transport::with_client(server)
    }

    /// Without the `online` feature there is no HTTP client.
    #[cfg(not(feature = "online"))]
    fn with_client(_server: ServerConfig) -> Result<Transport> {
        Err(Error::Unsupported(
            "this library was built without its online half (feature `online`)",
        ))
    }

    #[cfg(feature = "online")]
    fn with_client(server: ServerConfig) -> Result<Transport> {
        let client = client_builder(&server)?
            // The server never redirects; a redirect is someone else's answer.
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(|_| Error::InvalidArgument("the HTTP client cannot be set up"))?;
        Ok(Transport {
            client,
            files: std::sync::OnceLock::new(),
            server,
        })
    }

    /// The answer to `GET url` from byte `from` on (a `Range` request when
    /// `from` is not 0), for the download helper: through the configured
    /// proxy and TLS, each read bounded by the timeout, up to five
    /// redirects to `https://` (a download host's CDN). Not signed: the
    /// caller checks the bytes against the vendor's signed release.
    #[cfg(feature = "online")]
    pub(super) fn fetch(&self, url: &str, from: u64) -> Result<Fetched> {
        check_url(url)?;
        let client = match self.files.get() {
            Some(c) => c,
            None => {
                let policy = reqwest::redirect::Policy::custom(|a| {
                    if a.previous().len() >= 5 {
                        a.error("more than five redirects")
                    } else if a.url().scheme() == "https" || is_loopback(a.url().as_str()) {
                        a.follow()
                    } else {
                        a.error("a redirect to plain http")
                    }
                });
                let built = client_builder(&self.server)?
                    .redirect(policy)
                    .build()
                    .map_err(|_| Error::InvalidArgument("the HTTP client cannot be set up"))?;
                self.files.get_or_init(|| built)
            }
        };
        let mut request = client.get(url);
        if from > 0 {
            request = request.header("range", format!("bytes={from}-"));
        }
        let response = request.send().map_err(|e| {
            log::warn!("download: {}", describe(&e));
            Error::Network(describe(&e))
        })?;
        let status = response.status().as_u16();
        let start = match status {
            200 => 0,
            206 => response
                .headers()
                .get("content-range")
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.strip_prefix("bytes "))
                .and_then(|v| v.split('-').next())
                .and_then(|v| v.parse::<u64>().ok())
                .ok_or(Error::BadResponse(
                    "a partial answer without a Content-Range",
                ))?,
            416 => {
                return Err(Error::DownloadRejected(
                    "the server's file is shorter than the part already downloaded",
                ))
            }
            _ => {
                return Err(Error::ServerRefused {
                    status,
                    code: "download_failed".into(),
                    message: format!("the file's server answered HTTP {status}"),
                })
            }
        };
        Ok(Fetched {
            start,
            body: Box::new(response),
        })
    }

    /// A form POSTed to an identity provider (its device authorization or
    /// token endpoint, docs/SIGN-IN.md): the status and the JSON answer
    /// (at most 64 KiB). Through the configured proxy and TLS, no redirect.
    /// Never logged: the form carries codes and verifiers.
    #[cfg(feature = "online")]
    pub(super) fn post_form(&self, url: &str, form: &[(&str, &str)]) -> Result<(u16, Value)> {
        check_url(url).map_err(|_| {
            Error::BadResponse("the identity provider's endpoint is not https:// (or loopback)")
        })?;
        let body = form
            .iter()
            .map(|(k, v)| format!("{}={}", form_encode(k), form_encode(v)))
            .collect::<Vec<_>>()
            .join("&");
        let response = self
            .client
            .post(url)
            .header("content-type", "application/x-www-form-urlencoded")
            .header("accept", "application/json")
            .body(body)
            .send()
            .map_err(|e| Error::Network(describe(&e)))?;
        let status = response.status().as_u16();
        let mut bytes = Vec::new();
        response
            .take(64 * 1024)
            .read_to_end(&mut bytes)
            .map_err(|e| {
                Error::Network(format!(
                    "the identity provider's answer was cut off ({})",
                    e.kind()
                ))
            })?;
        let value = serde_json::from_slice(&bytes)
            .map_err(|_| Error::BadResponse("the identity provider's answer is not JSON"))?;
        Ok((status, value))
    }

    /// Without the `online` feature there is no HTTP client.
    #[cfg(not(feature = "online"))]
    pub(super) fn post_form(&self, _url: &str, _form: &[(&str, &str)]) -> Result<(u16, Value)> {
        Err(Error::Unsupported(
            "this library was built without its online half (feature `online`)",
        ))
    }

    /// Without the `online` feature there is no HTTP client.
    #[cfg(not(feature = "online"))]
    pub(super) fn fetch(&self, _url: &str, _from: u64) -> Result<Fetched> {
        Err(Error::Unsupported(
            "this library was built without its online half (feature `online`)",
        ))
    }

    /// Where `file` is: a URL as it is, or a path on the server (`/...`)
    /// after the server's URL.
    pub(super) fn file_url(&self, file: &str) -> Result<String> {
        if file.starts_with('/') {
            return Ok(format!("{}{file}", self.server.url.trim_end_matches('/')));
        }
        check_url(file).map_err(|_| {
            Error::InvalidArgument(
                "the release's file is not an https:// URL (http:// only for loopback) or a path on the server",
            )
        })?;
        Ok(file.to_owned())
    }

    /// One signed call for the product `local` configures, retried on
    /// network errors and 5xx within the deadline; `observe` sees the
    /// signed time of every answer that verified.
    pub(super) fn call(
        &self,
        caller: &Caller<'_>,
        path: &str,
        body: &(impl serde::Serialize + ?Sized),
        observe: &dyn Fn(Time) -> Result<()>,
    ) -> Result<Answer> {
        self.call_within(
            caller,
            path,
            body,
            observe,
            self.server.attempts,
            self.server.deadline,
        )
    }

    /// [`Transport::call`] with its own attempts and deadline (a release
    /// from a destructor makes one short attempt).
    pub(super) fn call_within(
        &self,
        caller: &Caller<'_>,
        path: &str,
        body: &(impl serde::Serialize + ?Sized),
        observe: &dyn Fn(Time) -> Result<()>,
        attempts: u32,
        deadline: StdDuration,
    ) -> Result<Answer> {
        let bytes = serde_json::to_vec(body)
            .map_err(|_| Error::InvalidArgument("the request cannot be encoded"))?;
        let start = Instant::now();
        let mut last = String::from("the deadline passed before the first attempt");
        // Logged: the path, attempts and outcomes; never the body (keys,
        // passwords), the authorization, or the URL (credentials).
        for attempt in 0..attempts.max(1) {
            if attempt > 0 {
                let wait = self.backoff(attempt);
                if start.elapsed().saturating_add(wait) >= deadline {
                    last = format!("{last} (the call's deadline passed)");
                    break;
                }
                log::debug!("POST {path}: attempt {} in {wait:?}", attempt + 1);
                std::thread::sleep(wait);
            }
            let left = deadline.saturating_sub(start.elapsed());
            if left.is_zero() {
                break;
            }
            match self.attempt(caller, path, &bytes, observe, self.server.timeout.min(left)) {
                Ok(Some(answer)) => {
                    log::debug!("POST {path}: 200 after {} attempt(s)", attempt + 1);
                    return Ok(answer);
                }
                Ok(None) => last = "the server answered with a 5xx".into(),
                Err(Retry::Network(what)) => last = what,
                Err(Retry::Final(e)) => {
                    log::info!("POST {path}: {}", e.code().name());
                    return Err(e);
                }
            }
            log::debug!("POST {path}: attempt {} failed: {last}", attempt + 1);
        }
        log::warn!("POST {path}: the server cannot be reached: {last}");
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

    /// Never called: no transport is made without an HTTP client.
    #[cfg(not(feature = "online"))]
    fn attempt(
        &self,
        _caller: &Caller<'_>,
        _path: &str,
        _body: &[u8],
        _observe: &dyn Fn(Time) -> Result<()>,
        _timeout: StdDuration,
    ) -> std::result::Result<Option<Answer>, Retry> {
        Err(Retry::Final(Error::Unsupported(
            "this library was built without its online half (feature `online`)",
        )))
    }

    /// One attempt of at most `timeout`: Ok(None) is a 5xx (retried).
    #[cfg(feature = "online")]
    fn attempt(
        &self,
        caller: &Caller<'_>,
        path: &str,
        body: &[u8],
        observe: &dyn Fn(Time) -> Result<()>,
        timeout: StdDuration,
    ) -> std::result::Result<Option<Answer>, Retry> {
        let local = caller.local;
        let nonce = hex::encode(crate::util::random_bytes::<16>().map_err(Retry::Final)?);
        let date = format_http_date(local.clock.now().chrono());
        let message = request::request_string(&date, "POST", path, body, &nonce);
        let signature = request::sign(&self.server.product_key, &message).map_err(Retry::Final)?;
        let authorization = request::authorization(&local.product, &signature);
        let proof = request::sign_device_proof_with(caller.device, &message);
        let response = self
            .client
            .post(format!("{}{path}", self.server.url))
            .timeout(timeout)
            .header("content-type", "application/json")
            .header("date", &date)
            .header("tessera-nonce", &nonce)
            .header("authorization", &authorization)
            .header(request::DEVICE_SIGNATURE_HEADER, &proof)
            .body(body.to_vec())
            .send()
            .map_err(|e| Retry::Network(describe(&e)))?;
        let status = response.status().as_u16();
        let header = |name: &str| {
            response
                .headers()
                .get(name)
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned)
        };
        let (server_date, echoed, signature, delegation) = (
            header("date"),
            header("tessera-nonce"),
            header("tessera-signature"),
            header("tessera-delegation"),
        );
        if status >= 500 && signature.is_none() {
            // A proxy's or a gateway's 5xx: nobody signed it; try again.
            return Ok(None);
        }
        let mut answer = Vec::new();
        response
            .take(MAX_ANSWER + 1)
            .read_to_end(&mut answer)
            .map_err(|e| Retry::Network(format!("reading the answer: {}", e.kind())))?;
        if answer.len() as u64 > MAX_ANSWER {
            return Err(Retry::Network("the answer is too large".into()));
        }
        let headers = ResponseHeaders {
            date: server_date.as_deref(),
            nonce: echoed.as_deref(),
            signature: signature.as_deref(),
        };
        match delegation {
            // A relay's answer: its time is the customer's clock and
            // moves nothing here (docs/RELAY.md).
            Some(delegation) => {
                if !RELAY_PATHS.contains(&path) {
                    return Err(Retry::Final(Error::BadResponse(
                        "a relay answered a call only the vendor's server may answer",
                    )));
                }
                let relay = relay_keyring(
                    &local.keyring,
                    &delegation,
                    local.clock.now(),
                    local.clock_tolerance,
                )
                .map_err(Retry::Final)?;
                verify_answer(&relay, &nonce, status, headers, &answer).map_err(Retry::Final)?;
            }
            None => {
                let verified = verify_answer(&local.keyring, &nonce, status, headers, &answer);
                let server_time = verified.map_err(Retry::Final)?;
                observe(server_time).map_err(Retry::Final)?;
            }
        }
        if status >= 500 {
            return Ok(None);
        }
        let body: Value = serde_json::from_slice(&answer)
            .map_err(|_| Retry::Final(Error::BadResponse("the body is not JSON")))?;
        if status == 401 && body["code"].as_str() == Some("replayed") {
            // The network delivered this request twice and this answer is
            // the second's: what the first did is unknown, as after a lost
            // answer. A new attempt (a new nonce) finds out; every call is
            // safe to repeat, as after a lost answer.
            return Err(Retry::Network(
                "the request reached the server twice (a duplicate was refused)".into(),
            ));
        }
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

/// The server URL's rules: `https://`, or `http://` to a loopback
/// address; and, in a build with the HTTP client, a URL it reads, with a
/// host.
fn check_url(url: &str) -> Result<()> {
    if !url.starts_with("https://") && !is_loopback(url) {
        return Err(Error::InvalidArgument(
            "the server URL must be https:// (http:// only for a loopback address)",
        ));
    }
    #[cfg(feature = "online")]
    {
        let parsed = reqwest::Url::parse(url).map_err(|_| {
            Error::InvalidArgument("the server URL does not parse (its host, port or brackets)")
        })?;
        if parsed.host_str().is_none_or(str::is_empty) {
            return Err(Error::InvalidArgument("the server URL names no host"));
        }
    }
    Ok(())
}

/// `application/x-www-form-urlencoded`: unreserved bytes as they are,
/// every other byte `%XX`.
#[cfg_attr(not(feature = "online"), allow(dead_code))]
fn form_encode(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for b in text.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// `text` percent-encoded for a URL's query.
pub(super) fn query_encode(text: &str) -> String {
    form_encode(text)
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
    #[cfg_attr(not(feature = "online"), allow(dead_code))]
    Network(String),
    Final(Error),
}

#[cfg(feature = "online")]
/// What went wrong on the wire, in words: never the URL (a proxy's
/// credentials may be in it), only the kind of failure and its cause.
fn describe(e: &reqwest::Error) -> String {
    let what = if e.is_timeout() {
        "timed out"
    } else if e.is_connect() {
        "connection failed"
    } else if e.is_body() || e.is_decode() {
        "the answer was cut off"
    } else {
        "the request failed"
    };
    // The innermost cause that says something without naming the URL.
    let mut cause = None;
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        if let Some(io) = s.downcast_ref::<std::io::Error>() {
            cause = Some(format!("i/o: {}", io.kind()));
        }
        if s.downcast_ref::<rustls::Error>().is_some() {
            cause = Some("TLS handshake failed".to_owned());
        }
        source = s.source();
    }
    match cause {
        Some(cause) => format!("{what} ({cause})"),
        None => what.to_owned(),
    }
}

#[cfg(all(test, feature = "online"))]
mod tests {
    use super::*;

    #[test]
    #[cfg(feature = "online")]
    fn a_url_that_does_not_parse_is_refused_when_the_server_is_described() {
        for bad in [
            "http://127.0.0.1:99999",
            "https://[::1",
            "https://",
            "ftp://licenses.example.com",
            "http://licenses.example.com",
            "https://licenses.example.com:65536/",
        ] {
            assert!(
                matches!(
                    ServerConfig::try_new(bad, vec![1]),
                    Err(Error::InvalidArgument(_))
                ),
                "{bad}"
            );
        }
        for good in [
            "https://licenses.example.com",
            "http://127.0.0.1:8080/",
            "http://[::1]:9",
        ] {
            assert!(ServerConfig::try_new(good, vec![1]).is_ok(), "{good}");
        }
        assert!(ServerConfig::try_new("https://licenses.example.com", Vec::new()).is_err());
    }

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

    #[test]
    fn a_proxy_prints_without_its_credentials() {
        let proxy = Proxy::Url("http://alice:s3cret-pw@proxy.example:3128/".into());
        let shown = format!("{proxy:?}");
        assert!(
            !shown.contains("s3cret") && !shown.contains("alice"),
            "{shown}"
        );
        assert!(shown.contains("proxy.example:3128"), "{shown}");
        let mut server = ServerConfig::new("https://u:s3cret-pw@licenses.example", vec![1]);
        server.proxy = proxy;
        let shown = format!("{server:?}");
        assert!(!shown.contains("s3cret"), "{shown}");
        assert_eq!(without_credentials("no url"), "(not a URL)");
        assert_eq!(without_credentials("http://h:1/p"), "http://h:1/p");
    }

    #[test]
    fn zero_attempts_or_deadline_is_refused() {
        for change in [
            |s: &mut ServerConfig| s.attempts = 0,
            |s: &mut ServerConfig| s.deadline = StdDuration::ZERO,
            |s: &mut ServerConfig| s.timeout = StdDuration::ZERO,
        ] {
            let mut server = ServerConfig::new("http://127.0.0.1:1", vec![1]);
            change(&mut server);
            assert!(matches!(
                Transport::new(server),
                Err(Error::InvalidArgument(_))
            ));
        }
        let mut server = ServerConfig::new("http://127.0.0.1:1", vec![1]);
        server.proxy = Proxy::Url("not a url at all".into());
        assert!(matches!(
            Transport::new(server),
            Err(Error::InvalidArgument(_))
        ));
    }
}
