//! Property tests: round trips for every format, any single change to a
//! signed artifact refused, and the invariants of periods and counters.
// A test may fail by panicking, and its shared helpers are `pub` to its modules.
#![allow(clippy::unwrap_used, clippy::expect_used, unreachable_pub)]

use std::time::Duration;

use proptest::prelude::*;
use serde_json::json;
use tessera::format::armor::{self, LICENSE};
use tessera::format::keys::KeyId;
use tessera::format::license::ConsumptionPeriod;
use tessera::format::period::{next_period_start, period_start};
use tessera::issuer::SigningKey;
use tessera::runtime::store::{ActivationRecord, Store};
use tessera::runtime::validate::status_at;
use tessera::runtime::validate::validate_at;
use tessera::Time;
use tessera::{Fingerprint, Keyring, LicenseFile, MatchPolicy, ValidationOptions};

fn key() -> SigningKey {
    SigningKey::from_seed(&[3; 32]).unwrap() // throwaway test key
}

fn time() -> impl Strategy<Value = Time> {
    // 1970 to 2200.
    (0i64..7_258_118_400).prop_map(|s| Time::from_unix(s).unwrap())
}

/// A license spec with the fields that drive validation.
fn spec() -> impl Strategy<Value = serde_json::Value> {
    (
        prop_oneof!["perpetual", "time-limited", "subscription"],
        time(),
        1u64..3000,
        (any::<bool>(), 0u32..500),
        proptest::option::of(1u32..60),
        prop::collection::btree_set("[a-z][a-z0-9-]{0,11}", 0..4),
        proptest::option::of(1u64..400),
    )
        .prop_map(|(ty, start, days, (grace, hours), trial, features, expires)| {
            let mut v = json!({
                "license_type": ty,
                "issued_at": start.to_string(),
                "start_date": start.to_string(),
                "allow_grace_period": grace,
                "grace_period": hours,
                "product_details": {"short_code": "acme"},
                "product_features": features.iter().map(|c| json!({"code": c})).collect::<Vec<_>>(),
            });
            if ty != "perpetual" {
                v["validity_period"] = (start + Duration::from_secs(86_400 * days)).to_string().into();
            }
            if let Some(t) = trial {
                v["is_trial"] = true.into();
                v["trial_days"] = t.into();
            }
            if let Some(e) = expires {
                v["expires_at"] = (start + Duration::from_secs(86_400 * e)).to_string().into();
            }
            v
        })
}

proptest! {
    // Failures print their minimal input; nothing is written beside the tests.
    #![proptest_config(ProptestConfig { failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn the_envelope_round_trips_any_payload(payload in prop::collection::vec(any::<u8>(), 1..3000)) {
        let key = key();
        let text = armor::seal(&LICENSE, &key, &payload).unwrap();
        let ring = Keyring::from_keys([key.public_key().clone()]);
        let opened = armor::open(&LICENSE, text.as_bytes(), &ring).unwrap();
        prop_assert_eq!(opened.payload(), &payload[..]);
        prop_assert!(text.lines().all(|l| l.len() <= 64));
    }

    #[test]
    fn any_single_change_to_a_signed_license_is_refused(spec in spec(), pos in any::<prop::sample::Index>(), byte in any::<u8>()) {
        let key = key();
        let (text, _) = tessera::issuer::issue(spec.to_string().as_bytes(), &key, Time::UNIX_EPOCH).unwrap();
        let ring = Keyring::from_keys([key.public_key().clone()]);
        let start = text.find("-----BEGIN").unwrap();
        let end = text.rfind("-----").unwrap() + 5;
        let i = start + pos.index(end - start);
        let mut bytes = text.into_bytes();
        prop_assume!(bytes[i] != byte);
        bytes[i] = byte;
        prop_assert!(LicenseFile::verify(&bytes, &ring).is_err());
    }

    #[test]
    fn issue_then_verify_gives_back_the_document(spec in spec()) {
        let key = key();
        let (text, issued_doc) = tessera::issuer::issue(spec.to_string().as_bytes(), &key, Time::UNIX_EPOCH).unwrap();
        let ring = Keyring::from_keys([key.public_key().clone()]);
        let file = LicenseFile::verify(text.as_bytes(), &ring).unwrap();
        prop_assert_eq!(file.license(), &issued_doc);
        prop_assert_eq!(file.key_id(), key.id());
    }

    #[test]
    fn the_fast_status_agrees_with_the_full_report(spec in spec(), now in time()) {
        let (_, license) = tessera::issuer::issue(spec.to_string().as_bytes(), &key(), Time::UNIX_EPOCH).unwrap();
        let opts = ValidationOptions::new("acme");
        prop_assert_eq!(status_at(&license, &opts, now), validate_at(&license, &opts, now).status);
    }

    #[test]
    fn periods_contain_their_instant_and_chain(t in time()) {
        for p in [ConsumptionPeriod::Daily, ConsumptionPeriod::Weekly, ConsumptionPeriod::Monthly, ConsumptionPeriod::Annually] {
            let start = period_start(p, t);
            let next = next_period_start(p, t);
            prop_assert!(start <= t && t < next);
            prop_assert_eq!(period_start(p, start), start);
            prop_assert_eq!(period_start(p, next), next);
            let length = next.duration_since(start).unwrap();
            prop_assert!(length >= Duration::from_secs(86_400) && length <= Duration::from_secs(366 * 86_400));
        }
    }

    #[test]
    fn key_ids_and_fingerprints_round_trip(bytes in any::<[u8; 8]>(), facts in prop::collection::btree_map("[a-z_:0-9]{1,12}", ".{0,40}", 1..8)) {
        let id = KeyId(bytes);
        prop_assert_eq!(KeyId::from_hex(&id.to_string()), Some(id));
        let fp = Fingerprint::from_facts(b"salt", facts.iter().map(|(k, v)| (k.as_str(), v.as_str())));
        let back: Fingerprint = serde_json::from_str(&serde_json::to_string(&fp).unwrap()).unwrap();
        prop_assert!(back.matches(&fp, &MatchPolicy::Exact));
        prop_assert_eq!(back, fp);
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn the_state_file_round_trips(values in prop::collection::btree_map("[a-z]{1,8}", any::<i64>(), 0..6), mark in proptest::option::of(time())) {
        let dir = tempfile::tempdir().unwrap();
        let device = Fingerprint::from_facts(b"s", [("machine_id", "m"), ("cpu", "c")]);
        let store = Store::open(dir.path(), "acme", device, MatchPolicy::default(), b"").unwrap();
        store.update(|s| {
            s.high_water = mark;
            for (k, v) in &values {
                s.activations.push(ActivationRecord::new(
                    k.clone(),
                    v.to_string(),
                    Fingerprint::from_id(k),
                    Time::UNIX_EPOCH,
                ));
            }
            Ok(())
        }).unwrap();
        let parsed = store.parse(&std::fs::read(dir.path().join("state")).unwrap()).unwrap();
        prop_assert_eq!(&parsed, &store.load().unwrap());
        prop_assert_eq!(parsed.high_water, mark);
        prop_assert_eq!(parsed.activations.len(), values.len());
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, failure_persistence: None, ..ProptestConfig::default() })]

    /// A server's signed answer verifies as sent, and any single change to
    /// its status, Date, echoed nonce or body is refused.
    #[test]
    fn a_signed_answer_round_trips_and_any_single_change_is_refused(
        body in prop::collection::vec(any::<u8>(), 0..512),
        status in 100u16..600,
        secs in 0i64..4_000_000_000,
        which in 0usize..4,
        at in any::<prop::sample::Index>(),
        flip in 1u8..=255,
    ) {
        use tessera::protocol::{format_http_date, sign_response, verify_answer, ResponseHeaders};
        use base64::Engine as _;
        let key = key();
        let ring = Keyring::from_keys([key.public_key().clone()]);
        let date = format_http_date(chrono::DateTime::from_timestamp(secs, 0).unwrap());
        let nonce = "0123456789abcdef0123456789abcdef";
        let sig = sign_response(&key, nonce, status, &date, &body);
        let header = format!("{} {}", key.id(), base64::engine::general_purpose::STANDARD.encode(sig));
        let headers = ResponseHeaders { date: Some(&date), nonce: Some(nonce), signature: Some(&header) };
        prop_assert_eq!(
            verify_answer(&ring, nonce, status, headers, &body).unwrap().unix(),
            secs
        );
        let changed = |s: &str| -> String {
            let mut b = s.as_bytes().to_vec();
            let i = at.index(b.len());
            b[i] = if b[i] == b'0' { b'1' } else { b'0' };
            String::from_utf8(b).unwrap()
        };
        let result = match which {
            0 => verify_answer(&ring, nonce, if status == 599 { 100 } else { status + 1 }, headers, &body),
            1 => {
                let d = changed(&date);
                verify_answer(&ring, nonce, status, ResponseHeaders { date: Some(&d), ..headers }, &body)
            }
            2 => {
                let n = changed(nonce);
                verify_answer(&ring, &n, status, ResponseHeaders { nonce: Some(&n), ..headers }, &body)
            }
            _ => {
                let mut b = body.clone();
                if b.is_empty() {
                    b.push(flip);
                } else {
                    let i = at.index(b.len());
                    b[i] ^= flip;
                }
                verify_answer(&ring, nonce, status, headers, &b)
            }
        };
        prop_assert!(matches!(result, Err(tessera::Error::BadResponse(_))), "{:?}", result);
    }
}
