//! Seed 003's own form, shared by the compatibility and single sign-on
//! tests: LicenseSpring's signed `GET /api/v4/user_licenses` and the seed's
//! JSON schemas.

use serde_json::Value;

use super::{Answer, Server};

/// The seed's own JSON schemas (`response` or `error`), as the seed writes
/// them (tests/seeds/licensespring_user_licenses.json says how they were
/// read).
pub fn schema(which: &str) -> jsonschema::Validator {
    let text = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/seeds/licensespring_user_licenses.json"
    ))
    .unwrap();
    let all: Value = serde_json::from_str(&text).unwrap();
    jsonschema::options()
        .with_draft(jsonschema::Draft::Draft202012)
        .build(&all[which])
        .unwrap()
}

/// Asserts that `instance` is valid under `v`, naming every violation.
pub fn assert_valid(v: &jsonschema::Validator, instance: &Value) {
    let errors: Vec<String> = v
        .iter_errors(instance)
        .map(|e| format!("{e} at {}", e.instance_path()))
        .collect();
    assert!(errors.is_empty(), "{errors:?}\n{instance}");
}

/// LicenseSpring's signed GET: `Date`, and `Authorization` with the HMAC
/// of `licenseSpring\ndate: {Date}` under `shared`, for `apikey`.
pub fn get(s: &Server, query: &[(&str, &str)], apikey: &str, shared: &str, date: &str) -> Answer {
    let authorization = format!(
        "algorithm=\"hmac-sha256\",headers=\"date\",signature=\"{}\",apikey=\"{apikey}\"",
        signature(shared, date)
    );
    get_authorized(s, query, date, &authorization)
}

/// The HMAC of `licenseSpring\ndate: {date}` under `shared`, as the SDK's
/// requests make it (the server's check of it is held to LicenseSpring's
/// published example in its unit tests).
pub fn signature(shared: &str, date: &str) -> String {
    tessera::protocol::request::sign(shared.as_bytes(), &format!("licenseSpring\ndate: {date}"))
        .unwrap()
}

/// The signed GET with `authorization` as given.
pub fn get_authorized(
    s: &Server,
    query: &[(&str, &str)],
    date: &str,
    authorization: &str,
) -> Answer {
    let r = s
        .client
        .get(format!("{}/api/v4/user_licenses", s.url))
        .query(query)
        .header("accept", "application/json")
        .header("date", date)
        .header("authorization", authorization)
        .send()
        .unwrap();
    signed_answer(r)
}

/// Any of LicenseSpring's calls, signed for `p` as its SDK signs them: a
/// GET with `query`, or a POST with the JSON `body`.
pub fn send(
    s: &Server,
    p: &super::Product,
    path: &str,
    query: &[(&str, &str)],
    body: Option<&Value>,
) -> Answer {
    use base64::Engine as _;
    let date = super::server_date(s);
    let shared = base64::engine::general_purpose::STANDARD.encode(&p.key);
    let authorization = format!(
        "algorithm=\"hmac-sha256\",headers=\"date\",signature=\"{}\",apiKey=\"{}\"",
        signature(&shared, &date),
        p.code
    );
    let url = format!("{}{path}", s.url);
    let request = match body {
        Some(b) => s
            .client
            .post(url)
            .header("content-type", "application/json")
            .body(b.to_string()),
        None => s.client.get(url).query(query),
    };
    let r = request
        .header("date", date)
        .header("authorization", authorization)
        .send()
        .unwrap();
    signed_answer(r)
}

/// An offline request file as LicenseSpring's SDK writes one for `p`
/// (`activation` or `deactivation` of the license `key` on `hardware_id`):
/// base64 of the request and its HMAC under the shared key, with the inner
/// HMAC over the date, the key, the device and the apikey.
pub fn request_file(p: &super::Product, kind: &str, key: &str, hardware_id: &str) -> String {
    use base64::Engine as _;
    let b64 = base64::engine::general_purpose::STANDARD;
    let shared = b64.encode(&p.key);
    let date = "Sat, 05 Dec 2026 10:00:00 GMT";
    let inner = tessera::protocol::request::sign(
        shared.as_bytes(),
        &format!(
            "licenseSpring\ndate: {date}\n{key}\n{hardware_id}\n{}",
            p.code
        ),
    )
    .unwrap();
    let request = serde_json::json!({
        "request": kind, "product": p.code, "hardware_id": hardware_id, "license_key": key,
        "date": date, "request_id": "test-request-0001", "schema_version": 2,
        "signature": inner, "api_key": p.code,
    })
    .to_string();
    let outer = tessera::protocol::request::sign(shared.as_bytes(), &request).unwrap();
    b64.encode(format!(
        "{{\"request\": {request}, \"signature\": \"{outer}\"}}"
    ))
}

/// The answer, its LicenseSignature checked (present, holding, and not
/// holding for the body with a bit flipped).
fn signed_answer(r: reqwest::blocking::Response) -> Answer {
    let status = r.status().as_u16();
    let signature = r
        .headers()
        .get("licensesignature")
        .map(|v| v.to_str().unwrap().to_owned());
    let bytes = r.bytes().unwrap();
    let signature = signature.unwrap_or_else(|| {
        panic!(
            "an answer without LicenseSignature: {status} {}",
            String::from_utf8_lossy(&bytes)
        )
    });
    assert!(
        answer_signature_holds(&bytes, &signature),
        "LicenseSignature does not verify"
    );
    let mut altered = bytes.to_vec();
    if let Some(b) = altered.first_mut() {
        *b ^= 1;
    }
    assert!(!answer_signature_holds(&altered, &signature));
    Answer {
        status,
        body: serde_json::from_slice(&bytes).unwrap_or(Value::Null),
    }
}

/// Whether `signature` (LicenseSignature: base64 of RSA PKCS#1 v1.5 over
/// SHA-256) holds for `body` under the throwaway key the tests' servers
/// sign with (`super::LICENSESPRING_KEYS`).
pub fn answer_signature_holds(body: &[u8], signature: &str) -> bool {
    use base64::Engine as _;
    use rsa::pkcs1::EncodeRsaPublicKey as _;
    use rsa::pkcs8::DecodePrivateKey as _;
    let pem = std::fs::read_to_string(format!(
        "{}/licensespring-signing-key.pem",
        super::LICENSESPRING_KEYS
    ))
    .unwrap();
    let key = rsa::RsaPrivateKey::from_pkcs8_pem(&pem).unwrap();
    let public = key.to_public_key().to_pkcs1_der().unwrap();
    let Ok(signature) = base64::engine::general_purpose::STANDARD.decode(signature) else {
        return false;
    };
    ring::signature::UnparsedPublicKey::new(
        &ring::signature::RSA_PKCS1_2048_8192_SHA256,
        public.as_bytes(),
    )
    .verify(body, &signature)
    .is_ok()
}
