//! Hardware-key licenses against a real SoftHSM2 token that this test
//! creates in its own directory (it never touches a system token): the
//! right token, a wrong PIN, another token, the token removed.
//! Unix only: SoftHSM2 is a Linux library here; on Windows a product loads
//! its token vendor's PKCS#11 DLL the same way.
//!
//! Needs the softhsm2 package (`scripts/setup.sh`, run by the test command, installs it); the module path can
//! be given in `SOFTHSM2_MODULE`.
// A test may fail by panicking, and its shared helpers are `pub` to its modules.
#![allow(clippy::unwrap_used, clippy::expect_used, unreachable_pub)]
#![cfg(unix)]

mod common;

use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};

use common::{at, issue, ring, spec, test_only_key, Setup};
use cryptoki::context::{CInitializeArgs, Pkcs11};
use cryptoki::mechanism::Mechanism;
use cryptoki::object::Attribute;
use cryptoki::session::UserType;
use cryptoki::types::AuthPin;
use tessera::device::hardware::{self, HardwareToken, Pkcs11Token};
use tessera::{Error, LicenseHandle, LocalConfig, ManualClock, Status};

const PIN: &str = "123456";
const SO_PIN: &str = "12345678";
const KEY: &str = "tessera-license-key";

fn module() -> PathBuf {
    if let Ok(p) = std::env::var("SOFTHSM2_MODULE") {
        return p.into();
    }
    for p in [
        "/usr/lib/softhsm/libsofthsm2.so",
        "/usr/lib/x86_64-linux-gnu/softhsm/libsofthsm2.so",
        "/usr/local/lib/softhsm/libsofthsm2.so",
    ] {
        if Path::new(p).exists() {
            return p.into();
        }
    }
    panic!("libsofthsm2.so not found: install the softhsm2 package (.ci/run does)");
}

struct Hsm {
    dir: PathBuf,
}

/// Creates, once per test process, a SoftHSM2 configuration in a temporary
/// directory with two tokens ("tessera-a" and "tessera-b"), each holding an
/// Ed25519 key pair labelled `KEY`. The set-up context is finalized before
/// the SDK loads the module.
fn hsm() -> &'static Hsm {
    static HSM: OnceLock<Hsm> = OnceLock::new();
    HSM.get_or_init(|| {
        // Under target/tmp; directories left by earlier runs whose process
        // is gone are removed first.
        let base = Path::new(env!("CARGO_TARGET_TMPDIR"));
        for entry in std::fs::read_dir(base).into_iter().flatten().flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            if let Some(pid) = name.strip_prefix("tessera-softhsm-") {
                if !Path::new("/proc").join(pid).exists() {
                    let _ = std::fs::remove_dir_all(entry.path());
                }
            }
        }
        let dir = base.join(format!("tessera-softhsm-{}", std::process::id()));
        let tokens = dir.join("tokens");
        std::fs::create_dir_all(&tokens).unwrap();
        let conf = dir.join("softhsm2.conf");
        std::fs::write(
            &conf,
            format!(
                "directories.tokendir = {}\nobjectstore.backend = file\nlog.level = ERROR\n",
                tokens.display()
            ),
        )
        .unwrap();
        // Set before any thread loads the module; the tests read it only here.
        std::env::set_var("SOFTHSM2_CONF", &conf);
        let ctx = Pkcs11::new(module()).unwrap();
        ctx.initialize(CInitializeArgs::OsThreads).unwrap();
        for label in ["tessera-a", "tessera-b", "tessera-c"] {
            let slot = ctx
                .get_slots_with_token()
                .unwrap()
                .into_iter()
                .find(|s| !ctx.get_token_info(*s).unwrap().token_initialized())
                .expect("a free SoftHSM2 slot");
            ctx.init_token(slot, &AuthPin::new(SO_PIN.into()), label)
                .unwrap();
            let session = ctx.open_rw_session(slot).unwrap();
            session
                .login(UserType::So, Some(&AuthPin::new(SO_PIN.into())))
                .unwrap();
            session.init_pin(&AuthPin::new(PIN.into())).unwrap();
            session.logout().unwrap();
            session
                .login(UserType::User, Some(&AuthPin::new(PIN.into())))
                .unwrap();
            // id-Ed25519, 1.3.101.112, as DER.
            let params = vec![0x06, 0x03, 0x2b, 0x65, 0x70];
            session
                .generate_key_pair(
                    &Mechanism::EccEdwardsKeyPairGen,
                    &[
                        Attribute::Token(true),
                        Attribute::Verify(true),
                        Attribute::EcParams(params),
                        Attribute::Label(KEY.into()),
                    ],
                    &[
                        Attribute::Token(true),
                        Attribute::Private(true),
                        Attribute::Sensitive(true),
                        Attribute::Sign(true),
                        Attribute::Label(KEY.into()),
                    ],
                )
                .unwrap();
        }
        ctx.finalize();
        Hsm { dir }
    })
}

fn token(label: &str, pin: &str) -> Arc<Pkcs11Token> {
    hsm();
    Arc::new(Pkcs11Token::new(module(), label, KEY, pin))
}

/// The product on a workstation with a fixed id, with `token` (or none).
fn token_config(s: &Setup, token: Option<Arc<Pkcs11Token>>) -> LocalConfig {
    let mut c = s.config();
    c.clock = Arc::new(ManualClock::new(at(common::START)));
    c.custom_device_id = Some("workstation-7".into());
    c.hardware_token = token.map(|t| t as Arc<dyn HardwareToken>);
    c
}

/// A license bound to token A's key.
fn bound_license(s: &Setup) -> String {
    let bound = token("tessera-a", PIN).public_key().unwrap();
    s.license(
        "time-limited",
        serde_json::json!({"is_hardware_key_auth": true, "hardware_key": bound.to_base64()}),
    )
}

#[test]
fn the_bound_token_answers_every_check() {
    let s = Setup::new();
    let config = token_config(&s, Some(token("tessera-a", PIN)));
    tessera::activate(&config, bound_license(&s).as_bytes()).unwrap();
    let handle = LicenseHandle::open(&config).unwrap();
    for _ in 0..3 {
        assert_eq!(handle.check().unwrap(), Status::Valid);
    }
    assert!(handle.validate().unwrap().is_usable());
    assert!(handle.feature_enabled("export").unwrap());
}

#[test]
fn a_wrong_pin_another_token_and_no_token_each_have_their_error() {
    let s = Setup::new();
    let license = bound_license(&s);
    // Activation itself asks the token.
    assert_eq!(
        tessera::activate(
            &token_config(&s, Some(token("tessera-a", "000000"))),
            license.as_bytes()
        )
        .unwrap_err(),
        Error::TokenPin
    );
    assert_eq!(
        tessera::activate(
            &token_config(&s, Some(token("tessera-b", PIN))),
            license.as_bytes()
        )
        .unwrap_err(),
        Error::TokenMismatch
    );
    assert_eq!(
        tessera::activate(&token_config(&s, None), license.as_bytes()).unwrap_err(),
        Error::TokenAbsent
    );
    assert_eq!(
        tessera::activate(
            &token_config(&s, Some(token("not-plugged-in", PIN))),
            license.as_bytes()
        )
        .unwrap_err(),
        Error::TokenAbsent
    );
    tessera::activate(
        &token_config(&s, Some(token("tessera-a", PIN))),
        license.as_bytes(),
    )
    .unwrap();

    // After activation, each check asks again.
    for (t, want) in [
        (Some(token("tessera-a", "000000")), Error::TokenPin),
        (Some(token("tessera-b", PIN)), Error::TokenMismatch),
        (None, Error::TokenAbsent),
    ] {
        let err = LicenseHandle::open(&token_config(&s, t.clone()))
            .and_then(|h| h.check())
            .unwrap_err();
        assert_eq!(err, want);
    }
}

#[test]
fn the_token_removed_after_opening_stops_the_next_check() {
    // Token C is this test's alone: it is unplugged by deleting its files
    // from the token directory, which SoftHSM2 notices on the next slot scan.
    let s = Setup::new();
    let bound = token("tessera-c", PIN).public_key().unwrap();
    let mut l = spec("time-limited");
    l["is_hardware_key_auth"] = true.into();
    l["hardware_key"] = bound.to_base64().into();
    let license = issue(&l, &s.key, "2026-03-01T08:00:00Z");
    let config = token_config(&s, Some(token("tessera-c", PIN)));
    tessera::activate(&config, license.as_bytes()).unwrap();
    let handle = LicenseHandle::open(&config).unwrap();
    assert_eq!(handle.check().unwrap(), Status::Valid);

    unplug("tessera-c");
    assert_eq!(handle.check().unwrap_err(), Error::TokenAbsent);
    assert_eq!(handle.validate().unwrap_err(), Error::TokenAbsent);
}

/// Deletes the token directory whose token.object names `label`.
fn unplug(label: &str) {
    let tokens = hsm().dir.join("tokens");
    for entry in std::fs::read_dir(&tokens).unwrap() {
        let dir = entry.unwrap().path();
        let object = std::fs::read(dir.join("token.object")).unwrap_or_default();
        if object.windows(label.len()).any(|w| w == label.as_bytes()) {
            std::fs::remove_dir_all(&dir).unwrap();
            return;
        }
    }
    panic!("no token directory holds {label}");
}

#[test]
fn a_forged_answer_is_refused() {
    // A signer that answers with 64 bytes that are no signature of the key.
    struct Impostor;
    impl HardwareToken for Impostor {
        fn sign(&self, _message: &[u8]) -> tessera::Result<[u8; 64]> {
            Ok([7; 64])
        }
    }
    let s = Setup::new();
    let mut l = spec("time-limited");
    l["is_hardware_key_auth"] = true.into();
    l["hardware_key"] = test_only_key(3).public_key().to_base64().into();
    let text = issue(&l, &s.key, "2026-03-01T08:00:00Z");
    let file = tessera::LicenseFile::verify(text.as_bytes(), &ring(&[&s.key])).unwrap();
    let impostor = Impostor;
    assert_eq!(
        hardware::challenge(file.license(), Some(&impostor)).unwrap_err(),
        Error::TokenMismatch
    );
}
