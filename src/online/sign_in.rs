//! Signing a desktop's user in through the customer account's own
//! identity provider (OpenID Connect), the way native apps do, and
//! activating that user's license here (docs/SIGN-IN.md).
//!
//! - **Browser** (RFC 8252, authorization code with PKCE S256): the SDK
//!   listens once on `127.0.0.1` at a random port, opens the provider's
//!   page (the product's `open_url` callback, or the system browser) with
//!   a fresh `state` and code challenge, takes the code from the one
//!   answer that comes back, checks its `state`, and exchanges it with
//!   the verifier at the provider's token endpoint.
//! - **Device** (RFC 8628, device authorization grant): for a machine
//!   without a browser, the SDK asks the provider for a code, hands the
//!   code and the URL to the product's `show_code` callback, and polls at
//!   the interval the provider sets until the user signed in elsewhere.
//!
//! Either way the `id_token` goes to Tessera's server once, which checks
//! it as seed 003's (issuer, audience, expiry, the account's keys) and
//! activates the user's license on this device. The SDK keeps none of the
//! provider's tokens: what it keeps is the activation, as with a
//! password. The account's provider comes from the server
//! ([`Connection::sign_in_provider`]), so the product ships with no
//! per-customer setting: the user types an e-mail address or the
//! account's code.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64URL;
use base64::Engine as _;
use serde_json::Value;
use sha2::{Digest, Sha256};

use super::calls::{read_answer, Connection};
use super::transport::query_encode;
use crate::error::{Error, Result};
use crate::protocol::bodies::{SignInProvider, SignInProviderRequest};
use crate::runtime::store::ActivationRecord;

/// How long a browser sign-in waits for its answer unless told.
const BROWSER_WAIT: Duration = Duration::from_secs(300);
/// How often a wait looks at the cancel flag.
const TICK: Duration = Duration::from_millis(50);

/// Which way the user signs in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Grant {
    /// In a browser on this machine (authorization code with PKCE).
    Browser,
    /// On another device, with a code shown here (device authorization).
    Device,
}

/// What the device grant shows the user: go to `verification_uri` and
/// type `user_code` (or open `verification_uri_complete`, which holds it).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct DeviceCode {
    /// The code the user types at the provider.
    pub user_code: String,
    /// Where the user types it.
    pub verification_uri: String,
    /// The same with the code in it, when the provider gives one (a QR code).
    pub verification_uri_complete: Option<String>,
    /// How long the code lasts.
    pub expires_in: Duration,
}

type OpenUrl = Arc<dyn Fn(&str) -> bool + Send + Sync>;
type ShowCode = Arc<dyn Fn(&DeviceCode) + Send + Sync>;
type CancelIf = Arc<dyn Fn() -> bool + Send + Sync>;

/// How a sign-in runs: its grant, and what the product does along the way.
#[derive(Clone)]
pub struct SignIn {
    grant: Grant,
    open_url: Option<OpenUrl>,
    show_code: Option<ShowCode>,
    cancel: Option<Arc<AtomicBool>>,
    cancel_if: Option<CancelIf>,
    wait: Option<Duration>,
    port: u16,
    license_id: Option<String>,
}

impl std::fmt::Debug for SignIn {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SignIn")
            .field("grant", &self.grant)
            .field("open_url", &self.open_url.is_some())
            .field("show_code", &self.show_code.is_some())
            .field("port", &self.port)
            .field("license_id", &self.license_id)
            .finish_non_exhaustive()
    }
}

impl SignIn {
    /// A sign-in in this machine's browser.
    pub fn browser() -> SignIn {
        SignIn::new(Grant::Browser)
    }

    /// A sign-in on another device, with a code shown here.
    pub fn device() -> SignIn {
        SignIn::new(Grant::Device)
    }

    /// A sign-in by `grant`.
    pub fn new(grant: Grant) -> SignIn {
        SignIn {
            grant,
            open_url: None,
            show_code: None,
            cancel: None,
            cancel_if: None,
            wait: None,
            port: 0,
            license_id: None,
        }
    }

    /// The product opens the provider's page itself (its own browser
    /// window, a message): `f` gets the URL and answers whether it did;
    /// `false` lets the SDK open the system browser. Without it the SDK
    /// opens the system browser.
    pub fn open_url(mut self, f: impl Fn(&str) -> bool + Send + Sync + 'static) -> SignIn {
        self.open_url = Some(Arc::new(f));
        self
    }

    /// The device grant's code and URL, for the product to show (needed by
    /// [`SignIn::device`]).
    pub fn show_code(mut self, f: impl Fn(&DeviceCode) + Send + Sync + 'static) -> SignIn {
        self.show_code = Some(Arc::new(f));
        self
    }

    /// A flag the product sets (from any thread) to stop the sign-in: it
    /// answers [`Error::Cancelled`] within a twentieth of a second, or at
    /// the provider's next answer, and activates nothing.
    pub fn cancel_flag(mut self, flag: Arc<AtomicBool>) -> SignIn {
        self.cancel = Some(flag);
        self
    }

    /// A question the SDK asks about twenty times a second while it waits
    /// (on the calling thread): `true` stops the sign-in as
    /// [`SignIn::cancel_flag`] does (a button in the product's window).
    pub fn cancel_if(mut self, f: impl Fn() -> bool + Send + Sync + 'static) -> SignIn {
        self.cancel_if = Some(Arc::new(f));
        self
    }

    /// How long to wait for the user (the browser's answer: 5 minutes
    /// unless told; the device grant: as long as its code lasts).
    pub fn wait(mut self, wait: Duration) -> SignIn {
        self.wait = Some(wait);
        self
    }

    /// Listen for the browser's answer on this port of 127.0.0.1 (a
    /// provider that registered one), not a random one.
    pub fn port(mut self, port: u16) -> SignIn {
        self.port = port;
        self
    }

    /// Which of the user's licenses to activate (needed when the user
    /// holds several of this product).
    pub fn license_id(mut self, id: impl Into<String>) -> SignIn {
        self.license_id = Some(id.into());
        self
    }

    fn cancelled(&self) -> bool {
        self.cancel
            .as_ref()
            .is_some_and(|f| f.load(Ordering::SeqCst))
            || self.cancel_if.as_ref().is_some_and(|f| f())
    }

    /// Sleeps `span` in ticks, stopping early when cancelled.
    fn pause(&self, span: Duration) -> Result<()> {
        let until = Instant::now() + span;
        loop {
            if self.cancelled() {
                return Err(Error::Cancelled("the sign-in was cancelled"));
            }
            let now = Instant::now();
            if now >= until {
                return Ok(());
            }
            std::thread::sleep(TICK.min(until - now));
        }
    }
}

impl Connection {
    /// The identity provider that signs `who` in (an e-mail address, found
    /// by its domain, or a customer account's code), as the server knows
    /// it: [`Error::ServerRefused`] `sso_not_configured` when no account
    /// signs this user in from a desktop.
    pub fn sign_in_provider(&self, who: &str) -> Result<SignInProvider> {
        let body = SignInProviderRequest::new(self.local().product.clone(), who.trim());
        let answer = self.call("/api/v1/sso/provider", &body)?;
        read_answer::<SignInProvider>(&answer, "the answer is not a provider")
    }

    /// Signs `who` in through the customer account's provider as `how`
    /// says, and activates the user's license on this device.
    ///
    /// Errors, each leaving no activation: [`Error::SignInFailed`] (the
    /// user declined, a code replayed or a verifier that does not match,
    /// an expired device code, a browser answer whose `state` is not this
    /// sign-in's), [`Error::Cancelled`] (the flag, or the wait ran out),
    /// [`Error::Io`] (the listening port is taken), [`Error::ServerRefused`]
    /// (the server refused the token: another audience, expired, no such
    /// user, no license).
    pub fn sign_in(&self, who: &str, how: &SignIn) -> Result<ActivationRecord> {
        let provider = self.sign_in_provider(who)?;
        let allowed = |g: &str| provider.grants.iter().any(|x| x == g);
        let id_token = match how.grant {
            Grant::Browser if allowed("browser") => {
                self.browser_grant(&provider, how, who.trim())?
            }
            Grant::Device if allowed("device") => self.device_grant(&provider, how)?,
            _ => {
                return Err(Error::InvalidArgument(
                    "the customer account does not offer this way of signing in",
                ))
            }
        };
        if how.cancelled() {
            return Err(Error::Cancelled("the sign-in was cancelled"));
        }
        let record =
            self.activate_with_token(&provider.account, &id_token, how.license_id.as_deref())?;
        log::info!("signed in through account {}'s provider", provider.account);
        Ok(record)
    }

    /// The browser grant: the `id_token` the provider exchanged the code for.
    fn browser_grant(&self, p: &SignInProvider, how: &SignIn, who: &str) -> Result<String> {
        let listener = TcpListener::bind(("127.0.0.1", how.port))
            .map_err(|e| Error::io(&e, "listening on 127.0.0.1 for the sign-in's answer"))?;
        let port = listener
            .local_addr()
            .map_err(|e| Error::io(&e, "listening on 127.0.0.1 for the sign-in's answer"))?
            .port();
        listener
            .set_nonblocking(true)
            .map_err(|e| Error::io(&e, "listening on 127.0.0.1 for the sign-in's answer"))?;
        let redirect = format!("http://127.0.0.1:{port}/callback");
        let state = random_text()?;
        let verifier = random_text()?;
        let challenge = B64URL.encode(Sha256::digest(verifier.as_bytes()));
        let url = format!(
            "{}{}response_type=code&client_id={}&redirect_uri={}&scope={}&state={}&code_challenge={}&code_challenge_method=S256",
            p.authorization_endpoint,
            if p.authorization_endpoint.contains('?') { '&' } else { '?' },
            query_encode(&p.client_id),
            query_encode(&redirect),
            query_encode(&p.scopes),
            state,
            challenge
        );
        // The address the user typed, as a hint for the provider's page.
        let url = if who.contains('@') {
            format!("{url}&login_hint={}", query_encode(who))
        } else {
            url
        };
        let opened = how.open_url.as_ref().is_some_and(|f| f(&url));
        if !opened {
            open_system_browser(&url)?;
        }
        let until = Instant::now() + how.wait.unwrap_or(BROWSER_WAIT);
        let query = loop {
            if how.cancelled() {
                return Err(Error::Cancelled("the sign-in was cancelled"));
            }
            match listener.accept() {
                Ok((stream, _)) => {
                    // A connection that sends nothing or something else (a
                    // browser's preconnect, a favicon) is not the answer:
                    // the wait goes on.
                    if let Ok(Some(q)) = callback_query(stream) {
                        break q;
                    }
                }
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                    if Instant::now() >= until {
                        return Err(Error::Cancelled(
                            "the browser's answer did not come in time",
                        ));
                    }
                    std::thread::sleep(TICK);
                }
                // A connection that went before it was taken: wait on.
                Err(e)
                    if matches!(
                        e.kind(),
                        std::io::ErrorKind::ConnectionAborted
                            | std::io::ErrorKind::ConnectionReset
                            | std::io::ErrorKind::Interrupted
                    ) => {}
                Err(e) => return Err(Error::io(&e, "taking the browser's answer")),
            }
        };
        let field = |k: &str| query.iter().find(|(n, _)| n == k).map(|(_, v)| v.as_str());
        if field("state") != Some(state.as_str()) {
            return Err(Error::SignInFailed(
                "the browser's answer was not for this sign-in (its state differs)".into(),
            ));
        }
        if let Some(error) = field("error") {
            return Err(provider_refused(error, field("error_description")));
        }
        let code = field("code")
            .filter(|c| !c.is_empty())
            .ok_or_else(|| Error::SignInFailed("the browser's answer holds no code".into()))?;
        let (status, answer) = self.transport().post_form(
            &p.token_endpoint,
            &[
                ("grant_type", "authorization_code"),
                ("code", code),
                ("redirect_uri", &redirect),
                ("client_id", &p.client_id),
                ("code_verifier", &verifier),
            ],
        )?;
        id_token_of(status, &answer)
    }

    /// The device grant: the `id_token` once the user signed in elsewhere.
    fn device_grant(&self, p: &SignInProvider, how: &SignIn) -> Result<String> {
        let show = how.show_code.as_ref().ok_or(Error::InvalidArgument(
            "a device sign-in needs show_code, to show the user the code",
        ))?;
        let (status, answer) = self.transport().post_form(
            &p.device_authorization_endpoint,
            &[("client_id", &p.client_id), ("scope", &p.scopes)],
        )?;
        if status != 200 {
            return Err(provider_refused(
                answer["error"].as_str().unwrap_or("refused"),
                answer["error_description"].as_str(),
            ));
        }
        let text = |k: &str| {
            answer[k]
                .as_str()
                .filter(|v| !v.is_empty())
                .map(str::to_owned)
        };
        let (Some(device_code), Some(user_code), Some(uri)) = (
            text("device_code"),
            text("user_code"),
            text("verification_uri"),
        ) else {
            return Err(Error::BadResponse(
                "the provider's device answer lacks device_code, user_code or verification_uri",
            ));
        };
        let lasts = Duration::from_secs(answer["expires_in"].as_u64().unwrap_or(600).min(3600));
        let mut interval = Duration::from_secs(answer["interval"].as_u64().unwrap_or(5).min(60));
        show(&DeviceCode {
            user_code,
            verification_uri: uri,
            verification_uri_complete: text("verification_uri_complete"),
            expires_in: lasts,
        });
        let until = Instant::now() + how.wait.unwrap_or(lasts).min(lasts);
        loop {
            how.pause(interval.max(TICK * 2))?;
            if Instant::now() >= until {
                return Err(Error::Cancelled(
                    "the user did not sign in before the code ran out",
                ));
            }
            let (status, answer) = self.transport().post_form(
                &p.token_endpoint,
                &[
                    ("grant_type", "urn:ietf:params:oauth:grant-type:device_code"),
                    ("device_code", &device_code),
                    ("client_id", &p.client_id),
                ],
            )?;
            match answer["error"].as_str() {
                Some("authorization_pending") => {}
                Some("slow_down") => interval += Duration::from_secs(5),
                _ => return id_token_of(status, &answer),
            }
        }
    }
}

/// The `id_token` of a token endpoint's answer, or the provider's refusal.
fn id_token_of(status: u16, answer: &Value) -> Result<String> {
    if let Some(error) = answer["error"].as_str() {
        return Err(provider_refused(
            error,
            answer["error_description"].as_str(),
        ));
    }
    match answer["id_token"].as_str() {
        Some(t) if status == 200 && !t.is_empty() => Ok(t.to_owned()),
        _ => Err(Error::SignInFailed(format!(
            "the provider's token answer (HTTP {status}) holds no id_token: ask for the openid scope"
        ))),
    }
}

/// A provider's OAuth error, in words.
fn provider_refused(error: &str, description: Option<&str>) -> Error {
    let meaning = match error {
        "access_denied" => "the user declined, or the provider refused the user",
        "invalid_grant" => "the code was used already, expired, or its verifier does not match",
        "expired_token" => "the device code expired before the user signed in",
        "invalid_client" | "unauthorized_client" => {
            "the provider does not know this product's client id for this grant"
        }
        _ => "the provider refused",
    };
    // The provider's own words, cut short and without control characters.
    let said: String = description
        .unwrap_or_default()
        .chars()
        .filter(|c| !c.is_control())
        .take(200)
        .collect();
    let said = if said.is_empty() {
        String::new()
    } else {
        format!(": {said}")
    };
    let code: String = error
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || *c == '_')
        .take(64)
        .collect();
    Error::SignInFailed(format!("{meaning} ({code}){said}"))
}

/// 32 random bytes, base64url: a `state` or a PKCE verifier (43 characters).
fn random_text() -> Result<String> {
    Ok(B64URL.encode(crate::util::random_bytes::<32>()?))
}

/// Reads one request from the browser: the query of `GET /callback`, or
/// None for any other request (a favicon), which is answered 404.
fn callback_query(stream: TcpStream) -> Result<Option<Vec<(String, String)>>> {
    let io = |e: std::io::Error| Error::io(&e, "reading the browser's answer");
    stream.set_nonblocking(false).map_err(io)?;
    stream
        .set_read_timeout(Some(Duration::from_secs(2)))
        .map_err(io)?;
    let mut reader = BufReader::new(stream.try_clone().map_err(io)?);
    let mut line = String::new();
    reader
        .by_ref()
        .take(8 * 1024)
        .read_line(&mut line)
        .map_err(io)?;
    // The headers, up to the blank line, are read and left.
    let mut header = String::new();
    while reader
        .by_ref()
        .take(8 * 1024)
        .read_line(&mut header)
        .map_err(io)?
        > 2
    {
        header.clear();
    }
    let target = line.split_whitespace().nth(1).unwrap_or_default();
    let mut writer = stream;
    let Some(query) = target.strip_prefix("/callback?") else {
        let _ = writer
            .write_all(b"HTTP/1.1 404 Not Found\r\ncontent-length: 0\r\nconnection: close\r\n\r\n");
        return Ok(None);
    };
    let page = "<!doctype html><meta charset=utf-8><title>Signed in</title>\
                <p>You can close this window and go back to the application.</p>";
    let _ = write!(
        writer,
        "HTTP/1.1 200 OK\r\ncontent-type: text/html; charset=utf-8\r\ncontent-length: {}\r\n\
         cache-control: no-store\r\nconnection: close\r\n\r\n{page}",
        page.len()
    );
    Ok(Some(
        query
            .split('&')
            .filter_map(|pair| pair.split_once('='))
            .map(|(k, v)| (percent_decode(k), percent_decode(v)))
            .collect(),
    ))
}

/// A query's value decoded (`+` is a space); bytes that do not decode are
/// kept as they were.
fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while let Some(&b) = bytes.get(i) {
        let hex = bytes
            .get(i + 1..i + 3)
            .and_then(|h| std::str::from_utf8(h).ok())
            .and_then(|h| u8::from_str_radix(h, 16).ok());
        match (b, hex) {
            (b'%', Some(v)) => {
                out.push(v);
                i += 3;
            }
            (b'+', _) => {
                out.push(b' ');
                i += 1;
            }
            _ => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Opens `url` in the system's browser (it never runs anything else: the
/// URL is one argument, not a shell line).
fn open_system_browser(url: &str) -> Result<()> {
    if !url.starts_with("https://") && !url.starts_with("http://") {
        return Err(Error::BadResponse(
            "the provider's page is not a web address",
        ));
    }
    let mut command = if cfg!(target_os = "windows") {
        let mut c = std::process::Command::new("rundll32");
        c.arg("url.dll,FileProtocolHandler");
        c
    } else if cfg!(target_os = "macos") {
        std::process::Command::new("open")
    } else {
        std::process::Command::new("xdg-open")
    };
    command
        .arg(url)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .map(drop)
        .map_err(|e| {
            Error::io(
                &e,
                "opening the system browser (give open_url to open it yourself)",
            )
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_query_decodes_and_a_pkce_challenge_is_s256_of_the_verifier() {
        assert_eq!(percent_decode("a%20b+c%2Fd%zz"), "a b c/d%zz");
        // RFC 7636, appendix B.
        let verifier = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
        assert_eq!(
            B64URL.encode(Sha256::digest(verifier.as_bytes())),
            "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
        );
        assert_eq!(random_text().unwrap().len(), 43);
    }

    #[test]
    fn a_providers_refusal_is_named_and_its_words_are_cut_clean() {
        let e = provider_refused("invalid_grant", Some("code\u{7} reused"));
        assert_eq!(e.code(), crate::Code::SignInFailed);
        let text = e.to_string();
        assert!(
            text.contains("used already") && text.contains("code reused"),
            "{text}"
        );
        assert!(provider_refused("x\n<script>", None)
            .to_string()
            .contains("(xscript)"));
    }
}
