//! Air-gapped activation: initialization code on the device, confirmation
//! code from the vendor, typed back; typos, other devices, other licenses
//! and older codes.
// A test may fail by panicking, and its shared helpers are `pub` to its modules.
#![allow(clippy::unwrap_used, clippy::expect_used, unreachable_pub)]

mod common;

use common::{issue, spec, Setup};
use tessera::{activation::airgap, Error, LicenseHandle, LocalConfig, Status};

const SECRET: &[u8] = b"test-only vendor secret, 32 byte";
const ALPHABET: &str = "0123456789ABCDEFGHJKMNPQRSTVWXYZ";

/// The product with the vendor secret air-gapped activation needs.
fn air_config(s: &Setup) -> LocalConfig {
    let mut c = s.config();
    c.secret = SECRET.to_vec();
    c
}

/// The signed air-gapped license (the policy the device holds).
fn air_license(s: &Setup, id: &str) -> String {
    s.license(
        "time-limited",
        serde_json::json!({"id": id, "is_air_gapped": true}),
    )
}

#[test]
fn initialization_then_confirmation_activates_the_license() {
    let s = Setup::new();
    let config = air_config(&s);
    let license = air_license(&s, "AIR-1");
    // Plain activation of an air-gapped license is refused.
    assert_eq!(
        tessera::activate(&config, license.as_bytes()).unwrap_err(),
        Error::AirGapped
    );
    let init = airgap::initialization_code(&config).unwrap();
    assert_eq!(init.len(), 27, "{init}");
    assert_eq!(init.matches('-').count(), 5);
    let confirm = airgap::confirmation_code(&init, license.as_bytes(), "acme", SECRET).unwrap();
    assert_eq!(confirm.len(), 20, "{confirm}");
    // Typed back sloppily: lower case, spaces instead of hyphens.
    let typed = confirm.to_lowercase().replace('-', " ");
    let record = airgap::activate(&config, license.as_bytes(), &typed).unwrap();
    assert_eq!(record.license_id, "AIR-1");
    let handle = LicenseHandle::open(&config).unwrap();
    assert_eq!(handle.check().unwrap(), Status::Valid);
    // The code was used up: typing it again finds no pending code.
    assert_eq!(
        airgap::activate(&config, license.as_bytes(), &confirm).unwrap_err(),
        Error::OfflineNoRequest
    );
}

/// Every code with one symbol replaced by each other symbol, and with each
/// pair of neighbouring symbols swapped.
fn typos(code: &str) -> Vec<String> {
    let symbols: Vec<(usize, char)> = code.char_indices().filter(|(_, c)| *c != '-').collect();
    let mut out = Vec::new();
    for (k, &(i, c)) in symbols.iter().enumerate() {
        for other in ALPHABET.chars().filter(|&o| o != c) {
            let mut t = code.to_owned();
            t.replace_range(i..i + 1, &other.to_string());
            out.push(t);
        }
        if let Some(&(j, d)) = symbols.get(k + 1) {
            if c != d {
                let mut t: Vec<char> = code.chars().collect();
                t.swap(i, j);
                out.push(t.into_iter().collect());
            }
        }
    }
    out
}

#[test]
fn every_mistyped_character_and_swapped_pair_is_caught() {
    let s = Setup::new();
    let config = air_config(&s);
    let license = air_license(&s, "AIR-1");
    let init = airgap::initialization_code(&config).unwrap();
    for typo in typos(&init) {
        assert!(
            matches!(
                airgap::confirmation_code(&typo, license.as_bytes(), "acme", SECRET),
                Err(Error::CodeMistyped(_))
            ),
            "{typo} was not caught"
        );
    }
    let confirm = airgap::confirmation_code(&init, license.as_bytes(), "acme", SECRET).unwrap();
    let all = typos(&confirm);
    assert!(all.len() > 18 * 31);
    for typo in all {
        assert!(
            matches!(
                airgap::activate(&config, license.as_bytes(), &typo),
                Err(Error::CodeMistyped(_))
            ),
            "{typo} was not caught"
        );
    }
    // None of that activated anything; the right code still works.
    airgap::activate(&config, license.as_bytes(), &confirm).unwrap();
}

#[test]
fn codes_for_another_device_license_or_an_older_request_are_rejected() {
    let s = Setup::new();
    let config = air_config(&s);
    let license = air_license(&s, "AIR-1");

    // Another device's initialization code.
    let other_store = tempfile::tempdir().unwrap();
    let mut other = air_config(&s);
    other.store_dir = Some(other_store.path().to_owned());
    other.custom_device_id = Some("another-device".into());
    let theirs = airgap::initialization_code(&other).unwrap();
    let mine = airgap::initialization_code(&config).unwrap();
    let for_them = airgap::confirmation_code(&theirs, license.as_bytes(), "acme", SECRET).unwrap();
    assert_eq!(
        airgap::activate(&config, license.as_bytes(), &for_them).unwrap_err(),
        Error::CodeRejected
    );

    // Another license's code used with this license.
    let other_license = air_license(&s, "AIR-2");
    let for_other_license =
        airgap::confirmation_code(&mine, other_license.as_bytes(), "acme", SECRET).unwrap();
    assert_eq!(
        airgap::activate(&config, license.as_bytes(), &for_other_license).unwrap_err(),
        Error::CodeRejected
    );

    // An older initialization code: replaced by a newer one.
    let for_old = airgap::confirmation_code(&mine, license.as_bytes(), "acme", SECRET).unwrap();
    let newer = airgap::initialization_code(&config).unwrap();
    assert_ne!(newer, mine);
    assert_eq!(
        airgap::activate(&config, license.as_bytes(), &for_old).unwrap_err(),
        Error::CodeRejected
    );

    // Another product's key (a different secret).
    let wrong_secret = airgap::confirmation_code(
        &newer,
        license.as_bytes(),
        "acme",
        b"another vendor secret, 32 bytes!",
    )
    .unwrap();
    assert_eq!(
        airgap::activate(&config, license.as_bytes(), &wrong_secret).unwrap_err(),
        Error::CodeRejected
    );
    assert_eq!(
        LicenseHandle::open(&config).unwrap_err(),
        Error::NotActivated
    );
    let right = airgap::confirmation_code(&newer, license.as_bytes(), "acme", SECRET).unwrap();
    airgap::activate(&config, license.as_bytes(), &right).unwrap();
}

#[test]
fn air_gapped_mode_needs_a_vendor_secret_and_an_air_gapped_license() {
    let s = Setup::new();
    let mut config = air_config(&s);
    config.secret = b"short".to_vec();
    assert!(matches!(
        airgap::initialization_code(&config),
        Err(Error::InvalidArgument(_))
    ));
    let config = air_config(&s);
    let init = airgap::initialization_code(&config).unwrap();
    let plain = issue(&spec("time-limited"), &s.key, "2026-03-01T08:00:00Z");
    assert!(matches!(
        airgap::confirmation_code(&init, plain.as_bytes(), "acme", SECRET),
        Err(Error::InvalidArgument(_))
    ));
    // A forged "air-gapped" file fails its signature on the device.
    let mut forged = air_license(&s, "AIR-1").into_bytes();
    let i = forged.windows(2).position(|w| w == b"\n\n").unwrap() + 10;
    forged[i] = if forged[i] == b'A' { b'B' } else { b'A' };
    let code =
        airgap::confirmation_code(&init, air_license(&s, "AIR-1").as_bytes(), "acme", SECRET)
            .unwrap();
    assert!(matches!(
        airgap::activate(&config, &forged, &code),
        Err(Error::BadSignature | Error::Malformed { .. })
    ));
}

/// The license file the vendor confirmed may reach the device with CRLF
/// line breaks, or the other way round: the confirmation still holds
/// (SECURITY.md, issue 21 finding 14).
#[test]
fn a_license_file_that_crossed_a_crlf_system_is_confirmed_all_the_same() {
    let s = Setup::new();
    let config = air_config(&s);
    let license = air_license(&s, "AIR-1");
    let init = airgap::initialization_code(&config).unwrap();
    let crlf = license.replace('\n', "\r\n");
    let confirm = airgap::confirmation_code(&init, crlf.as_bytes(), "acme", SECRET).unwrap();
    assert_eq!(
        confirm,
        airgap::confirmation_code(&init, license.as_bytes(), "acme", SECRET).unwrap()
    );
    let record = airgap::activate(&config, license.as_bytes(), &confirm).unwrap();
    assert_eq!(record.license_id, "AIR-1");
}
