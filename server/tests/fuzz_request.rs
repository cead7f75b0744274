//! The request fuzz target's seeds and every finding it kept, replayed
//! through the same entry point (`tessera_server::fuzzing::request`): no
//! 5xx and no panic, on every run of the test suite.
// A test may fail by panicking.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;

#[test]
fn every_seed_and_finding_of_the_request_fuzz_target_is_answered_below_500() {
    assert!(
        tessera_server::fuzzing::ready(),
        "the harness did not set up"
    );
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../fuzz");
    // The seeds reach what they aim at: a signed check-in and an admin
    // page answer 200, a forged signature 401, a path outside /admin/v1/ 404.
    let seed = |name: &str| std::fs::read(root.join("seeds/server_request").join(name)).unwrap();
    let answer = tessera_server::fuzzing::answer;
    assert_eq!(answer(&seed("check")), Some(200));
    assert_eq!(answer(&seed("admin_users_page")), Some(200));
    assert_eq!(answer(&seed("raw_bad_auth")), Some(401));
    assert_eq!(answer(&seed("raw_other_admin")), Some(404));
    let mut replayed = 0;
    for dir in [
        root.join("seeds/server_request"),
        root.join("artifacts/server_request"),
    ] {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for entry in entries {
            let path = entry.unwrap().path();
            let data = std::fs::read(&path).unwrap();
            tessera_server::fuzzing::request(&data);
            replayed += 1;
        }
    }
    assert!(
        replayed >= 10,
        "only {replayed} inputs found under {}",
        root.display()
    );
    // And the edges no seed holds: nothing, one byte of each kind, garbage.
    for data in [
        &[][..],
        &[0],
        &[128],
        &[255],
        &[0, 1, 0xff, 0xfe],
        &[192, b' ', b'\n'],
    ] {
        tessera_server::fuzzing::request(data);
    }
}
