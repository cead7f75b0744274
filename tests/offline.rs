//! Offline activation by files carried by hand: request, response, import,
//! and deactivation, with replays, other devices and edited files.
// A test may fail by panicking, and its shared helpers are `pub` to its modules.
#![allow(clippy::unwrap_used, clippy::expect_used, unreachable_pub)]

mod common;

use common::{at, spec, test_only_key, Setup};
use serde_json::json;
use tessera::activation::offline::{self, Action};
use tessera::activation::Credential;
use tessera::{Error, LicenseHandle, LocalConfig, Status};

/// What `tessera offline respond` does: verify the request, issue the
/// license bound to its device, expiring 30 days on, sign the response.
fn respond(s: &Setup, request_text: &str) -> String {
    respond_with(&s.key, request_text)
}

/// The same, signed with `key`.
fn respond_with(key: &tessera::issuer::SigningKey, request_text: &str) -> String {
    let request = offline::verify_request(request_text.as_bytes()).unwrap();
    let mut spec = spec("time-limited");
    spec["device"] = serde_json::to_value(&request.device).unwrap();
    spec["expires_at"] = serde_json::json!("2026-03-31T10:00:00Z");
    let bytes = serde_json::to_vec(&spec).unwrap();
    let now = at("2026-03-01T10:00:00Z");
    let (file, _) = tessera::issuer::issue(&bytes, key, now).unwrap();
    offline::respond(request_text.as_bytes(), &request, &file, key, now).unwrap()
}

/// The same product on another device (its own store and id).
fn other_device(s: &Setup, store: &tempfile::TempDir) -> LocalConfig {
    let mut c = s.config();
    c.store_dir = Some(store.path().to_owned());
    c.custom_device_id = Some("another-device".into());
    c
}

fn key() -> Credential {
    Credential::LicenseKey("TEST-ONLY-KEY-0001".into())
}

#[test]
fn request_respond_import_then_the_license_opens() {
    let s = Setup::new();
    let config = s.config();
    let request = offline::request_activation(&config, &key()).unwrap();
    assert!(request.starts_with("-----BEGIN TESSERA OFFLINE REQUEST-----\n"));
    assert_eq!(
        offline::pending_request(&config).unwrap().as_deref(),
        Some(request.as_str())
    );

    let read = offline::verify_request(request.as_bytes()).unwrap();
    assert_eq!(read.action, Action::Activate);
    assert_eq!(read.product, "acme");
    assert_eq!(read.license_key.as_deref(), Some("TEST-ONLY-KEY-0001"));
    assert_eq!(read.device, config.fingerprint().unwrap());
    assert!(!format!("{read:?}").contains("TEST-ONLY-KEY-0001"));

    let response = respond(&s, &request);
    let record = offline::import_response(&config, response.as_bytes()).unwrap();
    assert_eq!(record.license_id, "test-time-limited");
    assert_eq!(offline::pending_request(&config).unwrap(), None);
    let handle = LicenseHandle::open(&config).unwrap();
    assert_eq!(handle.check().unwrap(), Status::Valid);
    assert!(handle.license().device.is_some());

    // The same response again: nothing is pending any more.
    assert_eq!(
        offline::import_response(&config, response.as_bytes()).unwrap_err(),
        Error::OfflineNoRequest
    );
}

#[test]
fn a_response_to_an_older_request_is_a_replay() {
    let s = Setup::new();
    let config = s.config();
    let first = offline::request_activation(&config, &key()).unwrap();
    let second = offline::request_activation(&config, &key()).unwrap();
    assert_ne!(first, second, "every request has its own nonce");
    let old = respond(&s, &first);
    assert_eq!(
        offline::import_response(&config, old.as_bytes()).unwrap_err(),
        Error::OfflineReplay
    );
    // Nothing changed: the newer request is still pending and its answer works.
    assert_eq!(
        LicenseHandle::open(&config).unwrap_err(),
        Error::NotActivated
    );
    offline::import_response(&config, respond(&s, &second).as_bytes()).unwrap();
}

#[test]
fn a_response_for_another_device_is_refused() {
    let s = Setup::new();
    let here = s.config();
    let there_store = tempfile::tempdir().unwrap();
    let there = other_device(&s, &there_store);
    let request_here = offline::request_activation(&here, &key()).unwrap();
    let request_there = offline::request_activation(&there, &key()).unwrap();
    // The other device's response, imported here: it answers another request.
    let theirs = respond(&s, &request_there);
    assert_eq!(
        offline::import_response(&here, theirs.as_bytes()).unwrap_err(),
        Error::OfflineReplay
    );
    // A response that names this request but carries another device: only
    // a vendor could sign one; it is still refused.
    let mut forged = offline::verify_request(request_here.as_bytes()).unwrap();
    forged.device = offline::verify_request(request_there.as_bytes())
        .unwrap()
        .device;
    let mut sp = spec("time-limited");
    sp["device"] = serde_json::to_value(&forged.device).unwrap();
    sp["expires_at"] = json!("2026-03-31T10:00:00Z");
    let (file, _) = tessera::issuer::issue(
        &serde_json::to_vec(&sp).unwrap(),
        &s.key,
        at("2026-03-01T10:00:00Z"),
    )
    .unwrap();
    let response = offline::respond(
        request_here.as_bytes(),
        &forged,
        &file,
        &s.key,
        at("2026-03-01T10:00:00Z"),
    )
    .unwrap();
    assert_eq!(
        offline::import_response(&here, response.as_bytes()).unwrap_err(),
        Error::OfflineWrongDevice
    );
    assert!(offline::pending_request(&here).unwrap().is_some());
}

#[test]
fn edited_requests_and_responses_are_refused() {
    let s = Setup::new();
    let config = s.config();
    let request = offline::request_activation(&config, &key()).unwrap();
    // Every character of the base64 body changed in turn.
    let body_start = request.find("\n\n").unwrap() + 2;
    let body_end = request.find("-----END").unwrap();
    for i in body_start..body_end {
        let c = request.as_bytes()[i];
        if c == b'\n' {
            continue;
        }
        let mut edited = request.clone().into_bytes();
        edited[i] = if c == b'A' { b'B' } else { b'A' };
        assert!(
            offline::verify_request(&edited).is_err(),
            "an edit at byte {i} was accepted"
        );
    }
    let response = respond(&s, &request);
    let mut edited = response.clone().into_bytes();
    let i = response.find("\n\n").unwrap() + 40;
    edited[i] = if edited[i] == b'A' { b'B' } else { b'A' };
    assert!(offline::import_response(&config, &edited).is_err());
    // A response signed by a key the product does not trust.
    let stranger = respond_with(&test_only_key(9), &request);
    assert!(matches!(
        offline::import_response(&config, stranger.as_bytes()),
        Err(Error::UnknownKeyId(_))
    ));
    // A request is not a response, nor a license.
    assert!(offline::import_response(&config, request.as_bytes()).is_err());
    offline::import_response(&config, response.as_bytes()).unwrap();
}

#[test]
fn a_response_without_a_request_and_empty_credentials_are_refused() {
    let s = Setup::new();
    let config = s.config();
    let other_store = tempfile::tempdir().unwrap();
    let other = other_device(&s, &other_store);
    let request = offline::request_activation(&other, &key()).unwrap();
    assert_eq!(
        offline::import_response(&config, respond(&s, &request).as_bytes()).unwrap_err(),
        Error::OfflineNoRequest
    );
    assert!(matches!(
        offline::request_activation(&config, &Credential::LicenseKey(" ".into())),
        Err(Error::InvalidArgument(_))
    ));
    // A password never goes into a request file.
    assert!(matches!(
        offline::request_activation(
            &config,
            &Credential::user_license("ana@example.com", "pw", "L")
        ),
        Err(Error::InvalidArgument(_))
    ));
    let by_user =
        offline::request_activation(&config, &Credential::user("ana@example.com")).unwrap();
    let read = offline::verify_request(by_user.as_bytes()).unwrap();
    assert_eq!(read.username.as_deref(), Some("ana@example.com"));
    assert_eq!(read.license_key, None);
}

#[test]
fn deactivation_removes_the_activation_and_is_signed_by_the_same_device_key() {
    let s = Setup::new();
    let config = s.config();
    let request = offline::request_activation(&config, &key()).unwrap();
    offline::import_response(&config, respond(&s, &request).as_bytes()).unwrap();
    let activation_key =
        offline::device_key_id(&offline::verify_request(request.as_bytes()).unwrap()).unwrap();

    let give_back = offline::request_deactivation(&config, "test-time-limited").unwrap();
    // The product can no longer run on it.
    assert_eq!(
        LicenseHandle::open(&config).unwrap_err(),
        Error::NotActivated
    );
    assert_eq!(
        offline::last_deactivation_request(&config)
            .unwrap()
            .as_deref(),
        Some(give_back.as_str())
    );
    let read = offline::verify_request(give_back.as_bytes()).unwrap();
    assert_eq!(read.action, Action::Deactivate);
    assert_eq!(read.license_id.as_deref(), Some("test-time-limited"));
    assert_eq!(offline::device_key_id(&read).unwrap(), activation_key);
    // A second deactivation has nothing to give back.
    assert_eq!(
        offline::request_deactivation(&config, "test-time-limited").unwrap_err(),
        Error::NotActivated
    );
}

#[test]
fn requests_whose_fields_do_not_fit_their_action_are_refused() {
    // A request re-signed by its own (derived) key cannot be made outside
    // the SDK, so build one by hand with a throwaway device key.
    let device_key = test_only_key(7);
    let payload = json!({
        "format": 1, "action": "deactivate", "product": "acme",
        "license_key": "TEST-ONLY-KEY-0001",
        "device": {"id": "00", "components": {}},
        "device_key": device_key.public_key().to_base64(),
        "nonce": "00112233445566778899aabbccddeeff",
        "created_at": "2026-03-01T09:00:00Z"
    });
    let text = tessera::format::armor::seal(
        &tessera::format::armor::OFFLINE_REQUEST,
        &device_key,
        payload.to_string().as_bytes(),
    )
    .unwrap();
    assert!(matches!(
        offline::verify_request(text.as_bytes()),
        Err(Error::InvalidPayload(_))
    ));
    // The same signed by another key than the one it names.
    let mut good = payload.clone();
    good["action"] = json!("activate");
    let wrong_signer = tessera::format::armor::seal(
        &tessera::format::armor::OFFLINE_REQUEST,
        &test_only_key(8),
        good.to_string().as_bytes(),
    )
    .unwrap();
    assert!(matches!(
        offline::verify_request(wrong_signer.as_bytes()),
        Err(Error::UnknownKeyId(_))
    ));
    let right_signer = tessera::format::armor::seal(
        &tessera::format::armor::OFFLINE_REQUEST,
        &device_key,
        good.to_string().as_bytes(),
    )
    .unwrap();
    assert!(offline::verify_request(right_signer.as_bytes()).is_ok());
}

/// A request converted to CRLF on its way to the vendor (a mail client, a
/// Windows editor) is answered, and the answer, converted too, is taken
/// (SECURITY.md, issue 21 finding 14: the id used to be a hash of the raw
/// text, so the response was refused as a replay).
#[test]
fn a_request_and_a_response_that_crossed_a_crlf_system_still_match() {
    let s = Setup::new();
    let config = s.config();
    let request = offline::request_activation(&config, &key()).unwrap();
    let crlf_request = request.replace('\n', "\r\n");
    assert_ne!(crlf_request, request);
    assert_eq!(
        offline::request_id(crlf_request.as_bytes()),
        offline::request_id(request.as_bytes())
    );
    let response = respond(&s, &crlf_request).replace('\n', "\r\n");
    let record = offline::import_response(&config, response.as_bytes()).unwrap();
    assert_eq!(record.license_id, "test-time-limited");
}

/// Issue 21, finding 1, bounded: a device that gives its seat back offline
/// (a deactivation request) and then copies its old state back has its
/// activation again, but only until the license file's own expiry: 30 days
/// from the vendor's answer, plus grace. It cannot renew it without the
/// vendor, who freed the slot. SECURITY.md states the bound.
#[test]
fn a_deactivation_undone_from_a_copy_of_the_state_lasts_only_until_the_file_expires() {
    let s = Setup::new();
    let config = s.config();
    let request = offline::request_activation(&config, &key()).unwrap();
    offline::import_response(&config, respond(&s, &request).as_bytes()).unwrap();
    let state = s.store.path().join("state");
    let before = std::fs::read(&state).unwrap();
    offline::request_deactivation(&config, "test-time-limited").unwrap();
    assert!(matches!(
        LicenseHandle::open(&config),
        Err(Error::NotActivated)
    ));
    // The attack: the state as it was before the deactivation.
    std::fs::write(&state, &before).unwrap();
    let h = LicenseHandle::open(&config).unwrap();
    assert_eq!(h.check().unwrap(), Status::Valid);
    assert_eq!(h.license().expires_at, Some(at("2026-03-31T10:00:00Z")));
    drop(h);
    // The bound: the file's expiry (this spec has no grace).
    s.clock.set(at("2026-03-31T10:00:00Z"));
    let h = LicenseHandle::open(&config).unwrap();
    assert_eq!(h.check().unwrap(), Status::CheckInRequired);
}

/// Issue 34, finding 4: the library's own `offline::respond` wrote answers
/// whose license never expired, and `import_response` took them, so the
/// 30-day bound above held only for the CLI's and the server's answers.
/// Both now refuse a file that does not expire within
/// [`offline::ANSWER_DAYS`] of its issue.
#[test]
fn every_offline_answer_expires_whoever_writes_it() {
    let s = Setup::new();
    let config = s.config();
    let request = offline::request_activation(&config, &key()).unwrap();
    let parsed = offline::verify_request(request.as_bytes()).unwrap();
    let now = at("2026-03-01T10:00:00Z");
    let file_with = |expires: Option<&str>| {
        let mut spec = spec("time-limited");
        spec["device"] = serde_json::to_value(&parsed.device).unwrap();
        spec["expires_at"] = json!(expires);
        tessera::issuer::issue(&serde_json::to_vec(&spec).unwrap(), &s.key, now)
            .unwrap()
            .0
    };
    for expires in [None, Some("2026-04-01T10:00:01Z")] {
        let file = file_with(expires);
        let refused = offline::respond(request.as_bytes(), &parsed, &file, &s.key, now);
        assert!(
            matches!(refused, Err(Error::InvalidPayload(_))),
            "{expires:?}: {refused:?}"
        );
        // Sealed by hand, as a tool that skips `respond` would: refused at import.
        let response = offline::Response {
            format: 1,
            request: offline::request_id(request.as_bytes()),
            product: parsed.product.clone(),
            device: parsed.device.clone(),
            license_file: file.trim().to_owned(),
            issued_at: now,
        };
        let sealed = tessera::format::armor::seal(
            &tessera::format::armor::OFFLINE_RESPONSE,
            &s.key,
            &serde_json::to_vec(&response).unwrap(),
        )
        .unwrap();
        assert!(matches!(
            offline::import_response(&config, sealed.as_bytes()),
            Err(Error::InvalidPayload(_))
        ));
        assert!(matches!(
            LicenseHandle::open(&config),
            Err(Error::NotActivated)
        ));
    }
    // Exactly 30 days is an answer.
    let file = file_with(Some("2026-03-31T10:00:00Z"));
    let answer = offline::respond(request.as_bytes(), &parsed, &file, &s.key, now).unwrap();
    offline::import_response(&config, answer.as_bytes()).unwrap();
}
