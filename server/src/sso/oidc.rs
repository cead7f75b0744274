//! Single sign-on (seed 003, and the desktop sign-in of docs/SIGN-IN.md):
//! an OpenID Connect `id_token` verified
//! against the issuer and keys configured for a customer account (the
//! implicit grant), or a `code` exchanged at the account's token endpoint
//! for one (the authorization-code grant).
//!
//! A token is a JWS in compact form. Its header's `alg` must be `RS256`
//! (RSA PKCS#1 v1.5 with SHA-256, 2048 to 8192 bits, through ring) or
//! `EdDSA` (Ed25519, strictly), and its `kid` must name a key of the
//! account's JWKS (or the set must hold one key of that kind); `none`, the
//! HMAC algorithms and everything else are refused. Then the claims: `iss`
//! the account's issuer, `aud` its client id (or a list holding it), `exp`
//! in the future and `iat` and `nbf` not (a minute of leeway each), and the
//! account's username claim (`email` unless configured, and then not
//! marked unverified: `email_verified` absent, `true` or `"true"`) naming
//! a user of the server.
//!
//! The key set is fetched from `jwks_uri` and kept for five minutes per
//! URI; a token naming a key the kept set lacks fetches it again once (a
//! provider rotating its keys).

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64URL;
use base64::Engine as _;
use serde_json::Value;

use crate::error::ApiError;
use crate::sso::db as sso_db;

/// A customer account's identity provider, as stored.
pub(crate) use sso_db::SsoRow as Provider;

/// The most bytes a token, a key set or a token answer may have.
const MAX_TOKEN: usize = 16 * 1024;
const MAX_FETCHED: usize = 256 * 1024;
/// How long a fetched key set is kept.
const KEEP_KEYS: Duration = Duration::from_secs(300);
/// Clock leeway for `exp`, `iat` and `nbf`, in seconds.
const LEEWAY: i64 = 60;

fn refused(message: impl Into<String>) -> ApiError {
    ApiError::unauthorized("sso_refused", message)
}

/// The one client every provider call goes through: built (the system's
/// roots read, the connection pool made) once, not at every sign-in.
fn client() -> Result<reqwest::Client, ApiError> {
    static CLIENT: std::sync::OnceLock<reqwest::Client> = std::sync::OnceLock::new();
    if let Some(c) = CLIENT.get() {
        return Ok(c.clone());
    }
    let built = reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .map_err(|e| ApiError::internal(e.to_string()))?;
    Ok(CLIENT.get_or_init(|| built).clone())
}

/// The answer's body, at most [`MAX_FETCHED`] bytes, as JSON.
async fn json_of(response: reqwest::Response, what: &str) -> Result<Value, ApiError> {
    let unavailable = || {
        ApiError::new(
            502,
            "sso_unavailable",
            format!("the identity provider's {what} could not be read"),
        )
    };
    if !response.status().is_success() {
        return Err(unavailable());
    }
    if response
        .content_length()
        .is_some_and(|n| n > MAX_FETCHED as u64)
    {
        return Err(unavailable());
    }
    let bytes = response.bytes().await.map_err(|_| unavailable())?;
    if bytes.len() > MAX_FETCHED {
        return Err(unavailable());
    }
    serde_json::from_slice(&bytes).map_err(|_| unavailable())
}

/// A fetched key set: when it was fetched, its keys.
type KeptSet = (Instant, Vec<Value>);

/// The kept key sets, by URI.
static KEYS: Mutex<Option<HashMap<String, KeptSet>>> = Mutex::new(None);

async fn key_set(uri: &str, fresh: bool) -> Result<Vec<Value>, ApiError> {
    if !fresh {
        let kept = KEYS.lock().unwrap_or_else(|p| p.into_inner());
        if let Some((at, keys)) = kept.as_ref().and_then(|m| m.get(uri)) {
            if at.elapsed() < KEEP_KEYS {
                return Ok(keys.clone());
            }
        }
    }
    let response = client()?.get(uri).send().await.map_err(|_| {
        ApiError::new(
            502,
            "sso_unavailable",
            "the identity provider's key set could not be fetched",
        )
    })?;
    let set = json_of(response, "key set").await?;
    let keys = set["keys"].as_array().cloned().unwrap_or_default();
    let mut kept = KEYS.lock().unwrap_or_else(|p| p.into_inner());
    kept.get_or_insert_with(HashMap::new)
        .insert(uri.to_owned(), (Instant::now(), keys.clone()));
    Ok(keys)
}

/// Exchanges an authorization code for its `id_token` at the provider.
#[cfg_attr(not(feature = "compat"), allow(dead_code))] // seed 003's code grant
pub(crate) async fn exchange(p: &Provider, code: &str) -> Result<String, ApiError> {
    if p.token_endpoint.is_empty() {
        return Err(ApiError::bad_request(
            "sso_not_configured",
            "the customer account's provider has no token endpoint (the code grant)",
        ));
    }
    let form = [
        ("grant_type", "authorization_code"),
        ("code", code),
        ("redirect_uri", p.redirect_uri.as_str()),
        ("client_id", p.client_id.as_str()),
        ("client_secret", p.client_secret.as_str()),
    ];
    token(p, &form).await
}

/// Exchanges the code of an authorization with PKCE (the portal's sign-in
/// through the account's provider: docs/CONSOLE.md) for its `id_token`.
pub(crate) async fn exchange_pkce(
    p: &Provider,
    client_id: &str,
    code: &str,
    verifier: &str,
    redirect_uri: &str,
) -> Result<String, ApiError> {
    if p.token_endpoint.is_empty() {
        return Err(ApiError::bad_request(
            "sso_not_configured",
            "the customer account's provider has no token endpoint",
        ));
    }
    let mut form = vec![
        ("grant_type", "authorization_code"),
        ("code", code),
        ("redirect_uri", redirect_uri),
        ("client_id", client_id),
        ("code_verifier", verifier),
    ];
    if !p.client_secret.is_empty() && client_id == p.client_id {
        form.push(("client_secret", p.client_secret.as_str()));
    }
    token(p, &form).await
}

/// Posts `form` to the provider's token endpoint: the answer's `id_token`.
async fn token(p: &Provider, form: &[(&str, &str)]) -> Result<String, ApiError> {
    let body = form
        .iter()
        .map(|(k, v)| format!("{k}={}", form_encode(v)))
        .collect::<Vec<_>>()
        .join("&");
    let response = client()?
        .post(&p.token_endpoint)
        .header("content-type", "application/x-www-form-urlencoded")
        .header("accept", "application/json")
        .body(body)
        .send()
        .await
        .map_err(|_| {
            ApiError::new(
                502,
                "sso_unavailable",
                "the identity provider's token endpoint could not be reached",
            )
        })?;
    if response.status().is_client_error() {
        return Err(refused("the identity provider refused the code"));
    }
    let answer = json_of(response, "token answer").await?;
    answer["id_token"]
        .as_str()
        .map(str::to_owned)
        .ok_or_else(|| refused("the identity provider's answer holds no id_token"))
}

/// `application/x-www-form-urlencoded` for one value.
fn form_encode(v: &str) -> String {
    let mut out = String::new();
    for b in v.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                out.push(char::from(b));
            }
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

/// Verifies `token` for provider `p` at `now` (Unix seconds): answers the
/// username its claims name.
pub(crate) async fn verify(p: &Provider, token: &str, now: i64) -> Result<String, ApiError> {
    if token.len() > MAX_TOKEN {
        return Err(refused("the id_token is too long"));
    }
    let mut parts = token.split('.');
    let (Some(h), Some(c), Some(s), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(refused("the id_token is not a signed JWT"));
    };
    let decode = |part: &str| {
        B64URL
            .decode(part)
            .map_err(|_| refused("the id_token is not base64url"))
    };
    let header: Value = serde_json::from_slice(&decode(h)?)
        .map_err(|_| refused("the id_token's header is not JSON"))?;
    let signature = decode(s)?;
    let alg = header["alg"].as_str().unwrap_or("");
    let kty = match alg {
        "RS256" => "RSA",
        "EdDSA" => "OKP",
        _ => return Err(refused(format!("the algorithm {alg:?} is not accepted"))),
    };
    let kid = header["kid"].as_str();
    let pick = |keys: &[Value]| -> Option<Value> {
        let fits: Vec<&Value> = keys.iter().filter(|k| k["kty"] == kty).collect();
        match kid {
            Some(kid) => fits.into_iter().find(|k| k["kid"] == kid).cloned(),
            None if fits.len() == 1 => fits.first().map(|k| (*k).clone()),
            None => None,
        }
    };
    let key = match pick(&key_set(&p.jwks_uri, false).await?) {
        Some(k) => k,
        None => pick(&key_set(&p.jwks_uri, true).await?)
            .ok_or_else(|| refused("no key of the identity provider signed the id_token"))?,
    };
    let message = format!("{h}.{c}");
    if !signature_holds(&key, alg, message.as_bytes(), &signature) {
        return Err(refused("the id_token's signature does not hold"));
    }
    let claims: Value = serde_json::from_slice(&decode(c)?)
        .map_err(|_| refused("the id_token's claims are not JSON"))?;
    check_claims(p, &claims, now)
}

fn signature_holds(key: &Value, alg: &str, message: &[u8], signature: &[u8]) -> bool {
    let field = |k: &str| key[k].as_str().and_then(|v| B64URL.decode(v).ok());
    match alg {
        "RS256" => {
            let (Some(n), Some(e)) = (field("n"), field("e")) else {
                return false;
            };
            ring::signature::RsaPublicKeyComponents { n: &n, e: &e }
                .verify(
                    &ring::signature::RSA_PKCS1_2048_8192_SHA256,
                    message,
                    signature,
                )
                .is_ok()
        }
        "EdDSA" => {
            if key["crv"] != "Ed25519" {
                return false;
            }
            let (Some(x), Ok(sig)) = (field("x"), ed25519_dalek::Signature::from_slice(signature))
            else {
                return false;
            };
            let Ok(x) = <[u8; 32]>::try_from(x.as_slice()) else {
                return false;
            };
            ed25519_dalek::VerifyingKey::from_bytes(&x)
                .is_ok_and(|k| k.verify_strict(message, &sig).is_ok())
        }
        _ => false,
    }
}

fn check_claims(p: &Provider, claims: &Value, now: i64) -> Result<String, ApiError> {
    if claims["iss"] != p.issuer.as_str() {
        return Err(refused("the id_token is from another issuer"));
    }
    let audience_ok = match &claims["aud"] {
        Value::String(a) => *a == p.client_id,
        Value::Array(list) => list.iter().any(|a| *a == p.client_id.as_str()),
        _ => false,
    };
    if !audience_ok {
        return Err(refused("the id_token is for another client"));
    }
    let time = |k: &str| claims[k].as_i64();
    match time("exp") {
        Some(exp) if exp.saturating_add(LEEWAY) > now => {}
        _ => return Err(refused("the id_token has expired")),
    }
    for k in ["iat", "nbf"] {
        if claims.get(k).is_some() && time(k).is_none_or(|t| t > now.saturating_add(LEEWAY)) {
            return Err(refused(format!("the id_token's {k} is in the future")));
        }
    }
    // A provider that says the address is not verified does not vouch
    // for it: anyone could have typed a victim's address into an account.
    // Only `true` (or the string "true", which some providers send) vouches;
    // `false`, "false" or anything else that is there does not.
    let verified = &claims["email_verified"];
    let vouched = verified.is_null() || *verified == true || *verified == "true";
    if p.username_claim == "email" && !vouched {
        return Err(refused("the id_token's email is not verified"));
    }
    claims[p.username_claim.as_str()]
        .as_str()
        .filter(|u| !u.is_empty())
        .map(str::to_owned)
        .ok_or_else(|| refused(format!("the id_token has no {} claim", p.username_claim)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn provider() -> Provider {
        Provider {
            account: "acme".into(),
            issuer: "https://idp.example.com".into(),
            client_id: "tessera".into(),
            client_secret: String::new(),
            jwks_uri: String::new(),
            token_endpoint: String::new(),
            redirect_uri: String::new(),
            username_claim: "email".into(),
            desktop: Default::default(),
        }
    }

    #[test]
    fn claims_are_held_to_the_account() {
        let p = provider();
        let good = serde_json::json!({"iss": "https://idp.example.com", "aud": ["x", "tessera"],
                                      "exp": 2000, "iat": 1000, "email": "ada@example.com"});
        assert_eq!(
            check_claims(&p, &good, 1500).ok().as_deref(),
            Some("ada@example.com")
        );
        let with = |k: &str, v: Value| {
            let mut c = good.clone();
            c[k] = v;
            check_claims(&p, &c, 1500).is_err()
        };
        assert!(with("iss", "https://evil.example.com".into()));
        assert!(with("aud", "other".into()));
        assert!(with("aud", Value::Null));
        assert!(with("exp", 1400.into()));
        assert!(with("exp", "2000".into()));
        assert!(with("iat", 1600.into()));
        assert!(with("nbf", 1700.into()));
        assert!(with("email", "".into()));
        assert!(with("email", 7.into()));
        assert!(with("email_verified", false.into()));
        assert!(!with("email_verified", true.into()));
        // Issue 34, finding 11: "false" as a string passed.
        assert!(with("email_verified", "false".into()));
        assert!(with("email_verified", "no".into()));
        assert!(with("email_verified", 0.into()));
        assert!(!with("email_verified", "true".into()));
        assert!(
            check_claims(&p, &good, 2100).is_err(),
            "expired past the leeway"
        );
        assert!(check_claims(&p, &good, 2030).is_ok(), "within the leeway");
    }

    #[test]
    fn form_values_are_encoded() {
        assert_eq!(form_encode("a b&c=d/é"), "a%20b%26c%3Dd%2F%C3%A9");
    }
}
