//! LicenseSpring's offline activation and deactivation (issue 40): the
//! request file its SDK writes (`activate_offline.req`,
//! `deactivate_offline.req`: base64 of `{"request": {...}, "signature":
//! ...}`, signed with the product's shared key), answered at `POST
//! /api/v4/activate_offline` and `/deactivate_offline` when the device is
//! online after all, and by the vendor through `POST
//! /admin/v1/compat/licensespring/offline` (LicenseSpring's offline portal)
//! when it is not. Each is the same activation or deactivation as online,
//! in the client API's transaction.
//!
//! The answer to an activation is the license object with the request's
//! `request_id` (the SDK's guard file holds it) and `license_signature_v2`,
//! the answer key's RSA signature over the object's compact JSON without
//! its two signature fields, which the SDK checks at `activate_offline`.

use std::sync::Arc;

use axum::extract::State;
use axum::http::HeaderMap;
use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine as _;
use serde::Deserialize;
use serde_json::value::RawValue;
use serde_json::Value;
use tessera::protocol::request;

use super::activation::{answer_object, on_license, LicenseRequest, OnLicense};
use super::authenticate;
use super::signature::AnswerSigner;
use crate::activations;
use crate::device_call::Purpose;
use crate::error::ApiError;
use crate::http::Answer;
use crate::state::App;

/// The largest request file taken (a real one is about 2 KiB).
const MAX_FILE: usize = 64 * 1024;

/// The file's outer object; `request` is kept as the text that was signed.
#[derive(Deserialize)]
struct Signed<'a> {
    #[serde(borrow)]
    request: &'a RawValue,
    signature: String,
}

/// What the checks read from the request (the rest is the call's
/// [`LicenseRequest`]).
#[derive(Deserialize)]
struct Meta {
    /// `activation` or `deactivation`.
    request: String,
    api_key: Option<String>,
    hardware_id: Option<String>,
    license_key: Option<String>,
    username: Option<String>,
    date: Option<String>,
    request_id: Option<String>,
    /// OAuth client credentials are not served.
    client_id: Option<String>,
    signature: Option<String>,
}

/// An opened request file: whose it is, what it asks, and the call.
struct Opened {
    product: String,
    activation: bool,
    request_id: String,
    call: LicenseRequest,
}

/// Decodes a request file and checks both of its signatures against the
/// shared key of the product it names (`api_key`).
async fn open(app: &Arc<App>, file: &str) -> Result<Opened, ApiError> {
    let bad = |why: &str| ApiError::bad_request("invalid_request_file", why.to_owned());
    if file.len() > MAX_FILE {
        return Err(bad("the request file is larger than 64 KiB"));
    }
    let decoded = B64
        .decode(file.trim())
        .map_err(|_| bad("the request file is not base64"))?;
    let text = String::from_utf8(decoded).map_err(|_| bad("the request file is not UTF-8"))?;
    if crate::http::holds_nul(text.as_bytes()) {
        return Err(bad("the request file holds a NUL character"));
    }
    let signed: Signed<'_> =
        serde_json::from_str(&text).map_err(|_| bad("the request file is not LicenseSpring's"))?;
    let raw = signed.request.get();
    let meta: Meta =
        serde_json::from_str(raw).map_err(|_| bad("the request is not LicenseSpring's"))?;
    if meta.client_id.is_some() {
        return Err(ApiError::bad_request(
            "not_supported",
            "OAuth client credentials are not served by this server: sign with the product's shared key (docs/COMPAT.md)",
        ));
    }
    let activation = match meta.request.as_str() {
        "activation" => true,
        "deactivation" => false,
        _ => return Err(bad("request must be activation or deactivation")),
    };
    let product = meta
        .api_key
        .clone()
        .ok_or_else(|| bad("the request names no api_key"))?;
    let refused = || {
        ApiError::unauthorized(
            "bad_signature",
            "the request file's signature does not match (unknown api_key or wrong shared key)",
        )
    };
    let shared = app
        .product_key(&product)
        .await?
        .map(|k| B64.encode(k))
        .ok_or_else(refused)?;
    // The signature over the request as the SDK wrote it: Python's
    // json.dumps, which escapes non-ASCII text in the activation's file
    // and not in the deactivation's, while the file itself always does.
    let outer = request::signature_matches(shared.as_bytes(), raw, &signed.signature)
        || request::signature_matches(
            shared.as_bytes(),
            &unescape_non_ascii(raw),
            &signed.signature,
        );
    // And the one inside, over the date, the license and the device.
    let named = meta
        .license_key
        .as_deref()
        .or(meta.username.as_deref())
        .unwrap_or("None");
    let inner_message = format!(
        "licenseSpring\ndate: {}\n{named}\n{}\n{product}",
        meta.date.as_deref().unwrap_or_default(),
        meta.hardware_id.as_deref().unwrap_or_default(),
    );
    let inner = meta
        .signature
        .as_deref()
        .is_some_and(|s| request::signature_matches(shared.as_bytes(), &inner_message, s));
    if !outer || !inner {
        return Err(refused());
    }
    let call: LicenseRequest =
        serde_json::from_str(raw).map_err(|e| bad(&format!("the request is not valid: {e}")))?;
    let request_id = meta
        .request_id
        .filter(|r| !r.is_empty() && r.len() <= 128)
        .ok_or_else(|| bad("the request has no request_id (1 to 128 characters)"))?;
    Ok(Opened {
        product,
        activation,
        request_id,
        call,
    })
}

/// `\uXXXX` escapes of non-ASCII characters (surrogate pairs joined) as
/// the characters themselves; every other escape stays.
fn unescape_non_ascii(raw: &str) -> String {
    let mut out = String::with_capacity(raw.len());
    let mut rest = raw;
    while let Some(at) = rest.find("\\u") {
        // An escaped backslash before `u` is not an escape of `u`.
        let backslashes = rest[..at].chars().rev().take_while(|c| *c == '\\').count();
        let hex = |s: &str| s.get(..4).and_then(|h| u32::from_str_radix(h, 16).ok());
        out.push_str(&rest[..at]);
        let after = &rest[at + 2..];
        match hex(after) {
            Some(high) if backslashes % 2 == 0 && high >= 0x80 => {
                let pair = (0xD800..0xDC00).contains(&high).then(|| {
                    after
                        .get(4..)
                        .and_then(|s| s.strip_prefix("\\u"))
                        .and_then(hex)
                        .filter(|low| (0xDC00..0xE000).contains(low))
                });
                match pair.flatten() {
                    Some(low) => {
                        let c = 0x10000 + ((high - 0xD800) << 10) + (low - 0xDC00);
                        out.extend(char::from_u32(c));
                        rest = &after[10..];
                    }
                    None => match char::from_u32(high) {
                        Some(c) => {
                            out.push(c);
                            rest = &after[4..];
                        }
                        None => {
                            out.push_str("\\u");
                            rest = after;
                        }
                    },
                }
            }
            _ => {
                out.push_str("\\u");
                rest = after;
            }
        }
    }
    out.push_str(rest);
    out
}

/// Activates or deactivates as the opened file asks; the answer to an
/// activation is the signed license object, to a deactivation
/// `"license_deactivated"`.
async fn answer(app: Arc<App>, opened: Opened, expect: Option<bool>) -> Result<Value, ApiError> {
    if expect.is_some_and(|activation| activation != opened.activation) {
        return Err(ApiError::bad_request(
            "invalid_request_file",
            if opened.activation {
                "this is an activation request: send it to activate_offline"
            } else {
                "this is a deactivation request: send it to deactivate_offline"
            },
        ));
    }
    let request_id = opened.request_id;
    let signer = app.licensespring_signer.clone();
    let (purpose, f): (Purpose, OnLicense) = if opened.activation {
        (
            Purpose::Activate,
            Box::new(move |app, tx, row, device, user, now| {
                activations::record_activation(
                    tx,
                    &app.license_of(row)?,
                    row,
                    &tessera::Fingerprint::from_id(device),
                    now,
                )?;
                let mut object = answer_object(app, tx, row, device, user)?;
                if let Some(o) = object.as_object_mut() {
                    o.insert("request_id".into(), Value::from(request_id));
                    // The SDK reads prevent_vm from the product's details
                    // in an offline answer.
                    let prevent_vm = o.get("prevent_vm").cloned().unwrap_or(Value::Bool(false));
                    if let Some(Value::Object(d)) = o.get_mut("product_details") {
                        d.insert("prevent_vm".into(), prevent_vm);
                    }
                }
                sign_object(signer.as_deref(), object)
            }),
        )
    } else {
        (
            Purpose::Use,
            Box::new(|app, tx, row, device, _, _| {
                activations::remove_activation(app, tx, row, device)?;
                Ok(Value::from("license_deactivated"))
            }),
        )
    };
    let Answer(value) = on_license(app, opened.product, opened.call, purpose, f).await?;
    Ok(value)
}

/// Adds `license_signature_v2` (the answer key's signature over the
/// object's compact JSON without its two signature fields, as the SDK
/// checks it) and an empty `license_signature`.
fn sign_object(signer: Option<&AnswerSigner>, mut object: Value) -> Result<Value, ApiError> {
    let Some(o) = object.as_object_mut() else {
        return Ok(object);
    };
    o.remove("license_signature");
    o.remove("license_signature_v2");
    let signature = match signer {
        Some(s) => {
            let compact =
                serde_json::to_string(o).map_err(|e| ApiError::internal(e.to_string()))?;
            s.sign(compact.as_bytes()).map_err(ApiError::internal)?
        }
        None => String::new(),
    };
    o.insert("license_signature".into(), Value::from(""));
    o.insert("license_signature_v2".into(), Value::from(signature));
    Ok(object)
}

/// `POST /api/v4/activate_offline`: the request file as the body (text).
pub(super) async fn activate_offline_call(
    State(app): State<Arc<App>>,
    headers: HeaderMap,
    body: String,
) -> Result<Answer, ApiError> {
    online(app, headers, body, true).await
}

/// `POST /api/v4/deactivate_offline`: the request file as the body (text).
pub(super) async fn deactivate_offline_call(
    State(app): State<Arc<App>>,
    headers: HeaderMap,
    body: String,
) -> Result<Answer, ApiError> {
    online(app, headers, body, false).await
}

async fn online(
    app: Arc<App>,
    headers: HeaderMap,
    body: String,
    activation: bool,
) -> Result<Answer, ApiError> {
    let product = authenticate(&app, &headers).await?;
    let opened = open(&app, &body).await?;
    if opened.product != product {
        return Err(ApiError::new(
            403,
            "wrong_product",
            "the request file is for another product than the apikey",
        ));
    }
    Ok(Answer(answer(app, opened, Some(activation)).await?))
}

/// The vendor's side of LicenseSpring's offline portal (`POST
/// /admin/v1/compat/licensespring/offline`): answers a device's request
/// file, whose signature is its proof of the product's key. Answers
/// whether it was an activation, and then the response file's text (base64
/// of the signed license object) the device loads
/// (`LicenseManager.activate_license_offline`).
pub(crate) async fn portal(app: Arc<App>, file: &str) -> Result<(bool, Option<String>), ApiError> {
    let opened = open(&app, file).await?;
    let activation = opened.activation;
    let value = answer(app, opened, None).await?;
    Ok((
        activation,
        activation.then(|| B64.encode(value.to_string())),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn non_ascii_escapes_are_undone_and_the_others_kept() {
        assert_eq!(
            unescape_non_ascii(r#"{"h": "Gr\u00fc\u00dfe"}"#),
            r#"{"h": "Grüße"}"#
        );
        assert_eq!(unescape_non_ascii(r#""\ud83d\ude00""#), "\"😀\"");
        assert_eq!(
            unescape_non_ascii(r#""\u0041\n\\u00fc""#),
            r#""\u0041\n\\u00fc""#
        );
        assert_eq!(unescape_non_ascii(r#""\ud83d" \u12""#), r#""\ud83d" \u12""#);
    }
}
