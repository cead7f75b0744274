//! Replays every committed fuzz seed (`fuzz/seeds/<target>/`) and every
//! input that once crashed a target (`fuzz/regressions/<target>/`) through
//! the same entry points the fuzz targets use.
// A test may fail by panicking, and its shared helpers are `pub` to its modules.
#![allow(clippy::unwrap_used, clippy::expect_used, unreachable_pub)]

use std::path::Path;

#[test]
fn every_seed_and_every_past_crash_replays_cleanly() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz");
    let mut replayed = 0;
    for (target, entry) in tessera::fuzzing::TARGETS {
        for kind in ["seeds", "regressions"] {
            let Ok(dir) = std::fs::read_dir(root.join(kind).join(target)) else {
                continue;
            };
            for file in dir {
                let path = file.unwrap().path();
                let bytes = std::fs::read(&path).unwrap();
                entry(&bytes);
                replayed += 1;
            }
        }
    }
    assert!(replayed >= 6, "only {replayed} inputs found under fuzz/");
}
