//! License files end to end: issue, write to disk, read, verify, validate.
// A test may fail by panicking, and its shared helpers are `pub` to its modules.
#![allow(clippy::unwrap_used, clippy::expect_used, unreachable_pub)]

mod common;

use common::{at, issue, ring, spec, test_only_key};
use serde_json::json;
use tessera::runtime::validate::feature_status;
use tessera::runtime::validate::validate_at;
use tessera::runtime::validate::FeatureStatus;
use tessera::{validate, Error, Fingerprint, LicenseFile, ManualClock, Status, ValidationOptions};

fn opts() -> ValidationOptions {
    ValidationOptions::new("acme")
}

#[test]
fn every_license_type_round_trips_through_a_file() {
    let key = test_only_key(1);
    let dir = tempfile::tempdir().unwrap();
    for ty in ["perpetual", "time-limited", "subscription", "consumption"] {
        let text = issue(&spec(ty), &key, "2026-02-01T00:00:00Z");
        let path = dir.path().join(format!("{ty}.lic"));
        std::fs::write(&path, &text).unwrap();

        let file = LicenseFile::read(&path, &ring(&[&key])).unwrap();
        assert_eq!(file.key_id(), key.id());
        let license = file.license();
        assert_eq!(license.license_type.to_string(), ty);
        assert_eq!(
            license.license_key.as_ref().unwrap().expose(),
            "TEST-ONLY-KEY-0001"
        );

        let clock = ManualClock::new(at("2026-06-01T00:00:00Z"));
        let v = validate(license, &opts(), &clock);
        assert_eq!(v.status, Status::Valid, "{ty}: {:?}", v.reasons);
        assert!(feature_status(license, &v, "export").is_enabled());
        assert_eq!(
            feature_status(license, &v, "import"),
            FeatureStatus::Missing
        );

        clock.set(at("2027-01-01T00:00:00Z"));
        let later = validate(license, &opts(), &clock);
        let expected = if ty == "perpetual" {
            Status::Valid
        } else {
            Status::Expired
        };
        assert_eq!(later.status, expected, "{ty} at its end");
    }
}

#[test]
fn a_trial_ends_after_its_days() {
    let key = test_only_key(1);
    let mut s = spec("time-limited");
    s["is_trial"] = json!(true);
    s["trial_days"] = json!(14);
    s["start_date"] = json!("2026-03-01");
    let file =
        LicenseFile::verify(issue(&s, &key, "2026-03-01").as_bytes(), &ring(&[&key])).unwrap();
    let l = file.license();
    assert_eq!(l.trial_end(), Some(at("2026-03-15T00:00:00Z")));

    let v = validate_at(l, &opts(), at("2026-03-14T23:59:59Z"));
    assert_eq!(v.status, Status::Valid);
    assert_eq!(v.valid_until, Some(at("2026-03-15")));
    let v = validate_at(l, &opts(), at("2026-03-15T00:00:00Z"));
    assert_eq!(v.status, Status::TrialExpired);
    assert!(
        v.reasons[0].to_string().contains("2026-03-15T00:00:00Z"),
        "{:?}",
        v.reasons
    );
    // Grace does not extend a trial.
    let mut s2 = s.clone();
    s2["allow_grace_period"] = json!(true);
    s2["grace_period"] = json!(48);
    let file =
        LicenseFile::verify(issue(&s2, &key, "2026-03-01").as_bytes(), &ring(&[&key])).unwrap();
    let v = validate_at(file.license(), &opts(), at("2026-03-16"));
    assert_eq!(v.status, Status::TrialExpired);
}

#[test]
fn grace_extends_validity_and_then_ends() {
    let key = test_only_key(1);
    let mut s = spec("subscription");
    s["allow_grace_period"] = json!(true);
    s["grace_period"] = json!(72);
    let file =
        LicenseFile::verify(issue(&s, &key, "2026-01-01").as_bytes(), &ring(&[&key])).unwrap();
    let l = file.license();

    let v = validate_at(l, &opts(), at("2026-12-31T23:59:59Z"));
    assert_eq!(v.status, Status::Valid);
    let v = validate_at(l, &opts(), at("2027-01-01T00:00:00Z"));
    assert_eq!(v.status, Status::ValidInGrace);
    assert_eq!(v.grace_until, Some(at("2027-01-04T00:00:00Z")));
    assert!(v.is_usable());
    let v = validate_at(l, &opts(), at("2027-01-03T23:59:59Z"));
    assert_eq!(v.status, Status::ValidInGrace);
    let v = validate_at(l, &opts(), at("2027-01-04T00:00:00Z"));
    assert_eq!(v.status, Status::Expired);
    assert!(!v.is_usable());
    assert!(v.reasons[0]
        .to_string()
        .contains("grace period ended at 2027-01-04T00:00:00Z"));
}

#[test]
fn grace_is_ignored_unless_allowed() {
    let key = test_only_key(1);
    let mut s = spec("time-limited");
    s["grace_period"] = json!(72);
    let file =
        LicenseFile::verify(issue(&s, &key, "2026-01-01").as_bytes(), &ring(&[&key])).unwrap();
    assert_eq!(
        validate_at(file.license(), &opts(), at("2027-01-01T00:00:01Z")).status,
        Status::Expired
    );
}

#[test]
fn the_file_expiry_asks_for_a_check_in_with_grace() {
    let key = test_only_key(1);
    let mut s = spec("perpetual");
    s["expires_at"] = json!("2026-02-01T00:00:00Z");
    s["allow_grace_period"] = json!(true);
    s["grace_period"] = json!(24);
    let file =
        LicenseFile::verify(issue(&s, &key, "2026-01-01").as_bytes(), &ring(&[&key])).unwrap();
    let l = file.license();
    let v = validate_at(l, &opts(), at("2026-01-31T00:00:00Z"));
    assert_eq!(v.status, Status::Valid);
    assert_eq!(v.check_in_due, Some(at("2026-02-01")));
    let v = validate_at(l, &opts(), at("2026-02-01T12:00:00Z"));
    assert_eq!(v.status, Status::ValidInGrace);
    assert_eq!(v.grace_until, Some(at("2026-02-02")));
    let v = validate_at(l, &opts(), at("2026-02-02T00:00:00Z"));
    assert_eq!(v.status, Status::CheckInRequired);
}

#[test]
fn not_yet_valid_before_the_start_date() {
    let key = test_only_key(1);
    let mut s = spec("time-limited");
    s["start_date"] = json!("2026-05-01");
    let file =
        LicenseFile::verify(issue(&s, &key, "2026-04-01").as_bytes(), &ring(&[&key])).unwrap();
    let v = validate_at(file.license(), &opts(), at("2026-04-30T23:59:59Z"));
    assert_eq!(v.status, Status::NotYetValid);
    assert!(v.reasons[0].to_string().contains("2026-05-01T00:00:00Z"));
    assert_eq!(
        validate_at(file.license(), &opts(), at("2026-05-01")).status,
        Status::Valid
    );
}

#[test]
fn a_clock_behind_the_issue_time_is_caught_beyond_the_tolerance() {
    let key = test_only_key(1);
    let file = LicenseFile::verify(
        issue(&spec("perpetual"), &key, "2026-06-01T12:00:00Z").as_bytes(),
        &ring(&[&key]),
    )
    .unwrap();
    let l = file.license();
    // Within the default hour: an NTP step or a slow clock.
    assert_eq!(
        validate_at(l, &opts(), at("2026-06-01T11:00:00Z")).status,
        Status::Valid
    );
    let v = validate_at(l, &opts(), at("2026-06-01T10:59:59Z"));
    assert_eq!(v.status, Status::ClockBehind);
    assert!(v.reasons[0].to_string().contains("correct the clock"));
    let strict = opts().clock_tolerance(std::time::Duration::ZERO);
    assert_eq!(
        validate_at(l, &strict, at("2026-06-01T11:59:59Z")).status,
        Status::ClockBehind
    );
}

#[test]
fn maintenance_ending_is_reported_but_does_not_end_the_license() {
    let key = test_only_key(1);
    let mut s = spec("perpetual");
    s["enable_maintenance_period"] = json!(true);
    s["maintenance_period"] = json!("2026-07-01");
    let file =
        LicenseFile::verify(issue(&s, &key, "2026-01-01").as_bytes(), &ring(&[&key])).unwrap();
    let v = validate_at(file.license(), &opts(), at("2026-08-01"));
    assert_eq!(v.status, Status::Valid);
    assert!(v.maintenance_expired);
    assert!(v.maintenance_covers(at("2026-06-30")));
    assert!(!v.maintenance_covers(at("2026-07-02")));
    assert!(v
        .reasons
        .iter()
        .any(|r| r.to_string().contains("maintenance ended")));
}

#[test]
fn features_expire_on_their_own_dates() {
    let key = test_only_key(1);
    let mut s = spec("perpetual");
    s["product_features"] = json!([
        {"code": "export"},
        {"code": "beta", "expiry_date": "2026-03-01"}
    ]);
    let file =
        LicenseFile::verify(issue(&s, &key, "2026-01-01").as_bytes(), &ring(&[&key])).unwrap();
    let l = file.license();
    let v = validate_at(l, &opts(), at("2026-02-28T23:59:59Z"));
    assert_eq!(
        feature_status(l, &v, "beta"),
        FeatureStatus::Enabled {
            until: Some(at("2026-03-01"))
        }
    );
    let v = validate_at(l, &opts(), at("2026-03-01"));
    assert_eq!(
        feature_status(l, &v, "beta"),
        FeatureStatus::Expired {
            at: at("2026-03-01")
        }
    );
    assert!(feature_status(l, &v, "export").is_enabled());
}

#[test]
fn disabled_inactive_wrong_product_and_wrong_device_are_refused() {
    let key = test_only_key(1);
    let ring = ring(&[&key]);
    let now = at("2026-06-01");
    let check = |patch: serde_json::Value, options: &ValidationOptions| {
        let mut s = spec("perpetual");
        for (k, v) in patch.as_object().unwrap() {
            s[k] = v.clone();
        }
        let file = LicenseFile::verify(issue(&s, &key, "2026-01-01").as_bytes(), &ring).unwrap();
        validate_at(file.license(), options, now).status
    };
    assert_eq!(
        check(json!({"license_enabled": false}), &opts()),
        Status::Disabled
    );
    assert_eq!(
        check(json!({"license_active": false}), &opts()),
        Status::Inactive
    );
    assert_eq!(
        check(json!({}), &ValidationOptions::new("other")),
        Status::WrongProduct
    );
    let bound = json!({"device": {"id": "dev-A"}});
    assert_eq!(
        check(bound.clone(), &opts().device(Fingerprint::from_id("dev-A"))),
        Status::Valid
    );
    assert_eq!(
        check(bound.clone(), &opts().device(Fingerprint::from_id("dev-B"))),
        Status::WrongDevice
    );
    // A bound license with no device to compare is refused, not waved through.
    assert_eq!(check(bound, &opts()), Status::WrongDevice);
    // Disabled outranks everything else.
    assert_eq!(
        check(
            json!({"license_enabled": false}),
            &ValidationOptions::new("other")
        ),
        Status::Disabled
    );
}

#[test]
fn keys_rotate_and_foreign_keys_are_refused() {
    let old = test_only_key(1);
    let new = test_only_key(2);
    let stranger = test_only_key(3);
    let from_old = issue(&spec("perpetual"), &old, "2026-01-01");
    let from_new = issue(&spec("perpetual"), &new, "2026-01-01");

    // During rotation both keys are trusted.
    let both = ring(&[&old, &new]);
    assert_eq!(
        LicenseFile::verify(from_old.as_bytes(), &both)
            .unwrap()
            .key_id(),
        old.id()
    );
    assert_eq!(
        LicenseFile::verify(from_new.as_bytes(), &both)
            .unwrap()
            .key_id(),
        new.id()
    );

    // After the old key is dropped, its files name a key id nobody trusts.
    let mut only_new = both.clone();
    only_new.remove(old.id());
    assert_eq!(
        LicenseFile::verify(from_old.as_bytes(), &only_new).unwrap_err(),
        Error::UnknownKeyId(old.id().to_string())
    );
    assert!(LicenseFile::verify(from_new.as_bytes(), &only_new).is_ok());

    // A file signed by a stranger but claiming a trusted key id fails the signature.
    let forged = issue(&spec("perpetual"), &stranger, "2026-01-01")
        .replace(&stranger.id().to_string(), &new.id().to_string());
    assert_eq!(
        LicenseFile::verify(forged.as_bytes(), &only_new).unwrap_err(),
        Error::BadSignature
    );
}

#[test]
fn oversize_empty_and_garbage_inputs_are_refused_cleanly() {
    let key = test_only_key(1);
    let ring = ring(&[&key]);
    assert_eq!(LicenseFile::verify(b"", &ring).unwrap_err(), Error::Empty);
    assert_eq!(
        LicenseFile::verify(b"\n\r\n  ", &ring).unwrap_err(),
        Error::Empty
    );
    let huge = vec![b'x'; 10 << 20];
    assert!(matches!(
        LicenseFile::verify(&huge, &ring).unwrap_err(),
        Error::TooLarge { len, .. } if len == 10 << 20
    ));
    for garbage in [
        &b"hello"[..],
        b"-----BEGIN TESSERA LICENSE-----",
        b"\xff\xfe\x00\x01",
        b"-----BEGIN PGP MESSAGE-----\n\nabc\n-----END PGP MESSAGE-----\n",
        "-----BEGIN TESSERA LICENSE-----\nVersion: 1\nAlgorithm: Ed25519\nKey-Id: 0000000000000000\n\nAAAA\n-----END TESSERA LICENSE-----\n".as_bytes(),
    ] {
        let err = LicenseFile::verify(garbage, &ring).unwrap_err();
        assert!(matches!(err, Error::Malformed { .. }), "{garbage:?} gave {err:?}");
    }
    // A file on disk larger than the bound is refused without reading it all.
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("big.lic");
    std::fs::write(&path, &huge).unwrap();
    assert!(matches!(
        LicenseFile::read(&path, &ring).unwrap_err(),
        Error::TooLarge { len, .. } if len == 10 << 20
    ));
    assert!(matches!(
        LicenseFile::read(dir.path().join("missing.lic"), &ring).unwrap_err(),
        Error::Io {
            kind: std::io::ErrorKind::NotFound,
            ..
        }
    ));
}

/// Every single-byte change between the first byte of the BEGIN line and the
/// last byte of the END line is refused with an error, and so is every
/// truncation that cuts into that span, from either end.
#[test]
fn every_single_byte_change_and_every_truncation_is_refused() {
    let key = test_only_key(1);
    let ring = ring(&[&key]);
    let mut s = spec("time-limited");
    s["customer"] = json!({"email": "a@example.com"});
    let text = format!("\n  {}  \n", issue(&s, &key, "2026-01-01"));
    let start = text.find("-----BEGIN").unwrap();
    let end = text.rfind("-----").unwrap() + 5; // one past the END line's last byte
    let original = text.as_bytes();
    assert!(LicenseFile::verify(original, &ring).is_ok());

    let mut tried = 0;
    for pos in start..end {
        let b = original[pos];
        for replacement in [
            b ^ 0x01,
            b ^ 0x20,
            b ^ 0x80,
            b'A',
            b'=',
            b'\n',
            b'\r',
            b' ',
            0,
        ] {
            if replacement == b {
                continue;
            }
            let mut changed = original.to_vec();
            changed[pos] = replacement;
            let result = LicenseFile::verify(&changed, &ring);
            assert!(
                result.is_err(),
                "changing byte {pos} from {b:#04x} to {replacement:#04x} was accepted"
            );
            tried += 1;
        }
    }
    for cut in start..end {
        assert!(
            LicenseFile::verify(&original[..cut], &ring).is_err(),
            "prefix {cut} accepted"
        );
        assert!(
            LicenseFile::verify(&original[cut + 1..], &ring).is_err(),
            "suffix from {} accepted",
            cut + 1
        );
    }
    assert!(tried > 8 * (end - start), "only {tried} changes tried");
}

/// Signed payloads that break a rule of FORMAT.md section 2 (made by hand,
/// past the issuer, as a buggy or hostile signing tool would): every
/// reader refuses them (SECURITY.md, issue 21 finding 17).
#[test]
fn a_signed_license_that_breaks_a_rule_is_refused_by_the_reader() {
    let key = test_only_key(1);
    let keyring = ring(&[&key]);
    let base = json!({
        "format": 1, "id": "L-1", "license_type": "perpetual",
        "product_details": {"short_code": "acme"}, "issued_at": "2026-01-01T00:00:00Z"
    });
    let sign = |patch: serde_json::Value| {
        let mut doc = base.clone();
        for (k, v) in patch.as_object().unwrap() {
            doc[k] = v.clone();
        }
        let payload = serde_json::to_vec(&doc).unwrap();
        tessera::format::armor::seal(&tessera::format::armor::LICENSE, &key, &payload).unwrap()
    };
    // The base itself reads.
    assert!(LicenseFile::verify(sign(json!({})).as_bytes(), &keyring).is_ok());
    let short_key = {
        use base64::Engine as _;
        base64::engine::general_purpose::STANDARD.encode([7u8; 31])
    };
    for (what, patch) in [
        (
            "perpetual with a validity period",
            json!({"validity_period": "2027-01-01T00:00:00Z"}),
        ),
        (
            "hardware-key without its key",
            json!({"is_hardware_key_auth": true}),
        ),
        (
            "hardware-key with a 31-byte key",
            json!({"is_hardware_key_auth": true, "hardware_key": short_key}),
        ),
        (
            "a feature listed twice",
            json!({"product_features": [{"code": "a"}, {"code": "a"}]}),
        ),
        (
            "floating with no seats",
            json!({"is_floating": true, "floating_users": 0}),
        ),
        (
            "borrowable but not floating",
            json!({"can_borrow": true, "max_borrow_time": 24}),
        ),
        ("no activations allowed", json!({"max_activations": 0})),
        (
            "an empty product code",
            json!({"product_details": {"short_code": " "}}),
        ),
    ] {
        let err = LicenseFile::verify(sign(patch).as_bytes(), &keyring).unwrap_err();
        assert!(
            matches!(&err, Error::InvalidPayload(why) if why.contains("breaks a rule")),
            "{what}: {err}"
        );
    }
}
