//! docs/FORMAT.md's worked example is a real file the SDK verifies.
// A test may fail by panicking, and its shared helpers are `pub` to its modules.
#![allow(clippy::unwrap_used, clippy::expect_used, unreachable_pub)]

use tessera::{validate_at, Keyring, LicenseFile, PublicKey, Status, Time, ValidationOptions};

const LICENSE: &str = include_str!("../docs/example/license.lic");
const PUBLIC_KEY: &str = include_str!("../docs/example/vendor.pub");
const FORMAT_MD: &str = include_str!("../docs/FORMAT.md");

#[test]
fn the_documented_example_is_the_committed_file_and_it_verifies() {
    assert!(
        FORMAT_MD.contains(LICENSE),
        "FORMAT.md must quote docs/example/license.lic verbatim"
    );
    assert!(
        FORMAT_MD.contains(PUBLIC_KEY),
        "FORMAT.md must quote docs/example/vendor.pub verbatim"
    );

    let key = PublicKey::from_pem(PUBLIC_KEY).unwrap();
    assert!(FORMAT_MD.contains(&format!("key id `{}`", key.id())));
    let file = LicenseFile::verify(LICENSE.as_bytes(), &Keyring::from_keys([key])).unwrap();
    let payload = serde_json::to_string(file.license()).unwrap();
    assert!(
        FORMAT_MD.contains(&payload),
        "FORMAT.md must show the payload:\n{payload}"
    );

    let opts = ValidationOptions::new("acme-cad");
    let l = file.license();
    assert_eq!(
        validate_at(l, &opts, "2026-12-01".parse::<Time>().unwrap()).status,
        Status::Valid
    );
    assert_eq!(
        validate_at(l, &opts, "2027-01-02".parse::<Time>().unwrap()).status,
        Status::ValidInGrace
    );
    assert_eq!(
        validate_at(l, &opts, "2027-01-04".parse::<Time>().unwrap()).status,
        Status::Expired
    );
}
