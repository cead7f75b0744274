//! The local store on real files: round trips, tampering, copying to
//! another device, corruption and recovery, concurrent processes, kill -9.
// A test may fail by panicking, and its shared helpers are `pub` to its modules.
#![allow(clippy::unwrap_used, clippy::expect_used, unreachable_pub)]

use std::io::{BufRead as _, BufReader};
use std::process::{Command, Stdio};

use tessera::format::fingerprint::{Fingerprint, MatchPolicy};
use tessera::runtime::store::{ActivationRecord, State, Store};
use tessera::Error;

const PRODUCT: &str = "acme-cad";

fn device(host: &str) -> Fingerprint {
    Fingerprint::from_facts(
        b"acme-cad\0",
        [
            ("machine_id", "m-1"),
            ("cpu", "intel|2"),
            ("mac:eth0", "00:1b:21:3a:4f:5e"),
            ("hostname", host),
        ],
    )
}

fn other_device() -> Fingerprint {
    Fingerprint::from_facts(
        b"acme-cad\0",
        [("machine_id", "m-2"), ("cpu", "amd|8"), ("hostname", "x")],
    )
}

fn open(dir: &std::path::Path, fp: Fingerprint) -> Store {
    Store::open(dir, PRODUCT, fp, MatchPolicy::default(), b"").unwrap()
}

/// The tests count with the state's activation records: each update adds
/// one (the store does not care what the records say).
fn counter(state: &State) -> u64 {
    state.activations.len() as u64
}

fn record(n: u64, ballast: usize) -> ActivationRecord {
    ActivationRecord::new(
        format!("L-{n}"),
        "x".repeat(ballast),
        device("a"),
        tessera::Time::UNIX_EPOCH,
    )
}

fn bump(store: &Store) -> Result<u64, Error> {
    store.update(|s| {
        let n = counter(s) + 1;
        s.activations.push(record(n, 0));
        Ok(n)
    })
}

#[test]
fn a_new_store_is_empty_and_updates_persist_privately() {
    let parent = tempfile::tempdir().unwrap();
    let dir = parent.path().join("tessera").join(PRODUCT);
    let store = open(&dir, device("a"));
    assert_eq!(store.load().unwrap(), State::default());
    assert_eq!(bump(&store).unwrap(), 1);
    assert_eq!(bump(&store).unwrap(), 2);
    let reopened = open(&dir, device("a"));
    assert_eq!(counter(&reopened.load().unwrap()), 2);
    assert_private(&dir);
    // A failed change writes nothing.
    let before = std::fs::read(dir.join("state")).unwrap();
    let err = store.update(|s| -> Result<(), Error> {
        s.activations.push(record(99, 0));
        Err(Error::InvalidArgument("refused"))
    });
    assert!(err.is_err());
    assert_eq!(std::fs::read(dir.join("state")).unwrap(), before);
}

#[test]
fn an_edited_store_is_refused_and_never_overwritten() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path(), device("a"));
    for _ in 0..3 {
        bump(&store).unwrap();
    }
    let path = dir.path().join("state");
    let original = std::fs::read_to_string(&path).unwrap();
    let edited = original.replace("\"license_id\":\"L-3\"", "\"license_id\":\"L-9\"");
    assert_ne!(edited, original);
    std::fs::write(&path, &edited).unwrap();
    assert_eq!(store.load().unwrap_err(), Error::StoreTampered);
    assert_eq!(bump(&store).unwrap_err(), Error::StoreTampered);
    assert_eq!(
        std::fs::read_to_string(&path).unwrap(),
        edited,
        "a refused update wrote"
    );

    // Every single-byte change is caught one way or another.
    for pos in (0..original.len()).step_by(7) {
        let mut bytes = original.clone().into_bytes();
        bytes[pos] ^= 0x01;
        std::fs::write(&path, &bytes).unwrap();
        assert!(store.load().is_err(), "change at {pos} accepted");
    }
}

#[test]
fn a_store_copied_to_another_device_or_product_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    bump(&open(dir.path(), device("a"))).unwrap();
    assert_eq!(
        open(dir.path(), other_device()).load().unwrap_err(),
        Error::StoreFromOtherDevice
    );
    // A new hostname alone is the same device under the default policy...
    assert_eq!(
        counter(&open(dir.path(), device("renamed")).load().unwrap()),
        1
    );
    // ...but not under the exact one.
    let exact = Store::open(
        dir.path(),
        PRODUCT,
        device("renamed"),
        MatchPolicy::Exact,
        b"",
    )
    .unwrap();
    assert_eq!(exact.load().unwrap_err(), Error::StoreFromOtherDevice);
    let other = Store::open(
        dir.path(),
        "other-product",
        device("a"),
        MatchPolicy::default(),
        b"",
    )
    .unwrap();
    assert_eq!(other.load().unwrap_err(), Error::StoreWrongProduct);
    // A different vendor secret cannot read (or forge) this store.
    let secret = Store::open(
        dir.path(),
        PRODUCT,
        device("a"),
        MatchPolicy::default(),
        b"s3",
    )
    .unwrap();
    assert_eq!(secret.load().unwrap_err(), Error::StoreTampered);
}

#[test]
fn a_truncated_store_is_an_error_and_recovery_restores_the_last_good_copy() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path(), device("a"));
    for _ in 0..5 {
        bump(&store).unwrap();
    }
    let path = dir.path().join("state");
    let full = std::fs::read(&path).unwrap();
    for cut in [0, 1, 10, full.len() / 2, full.len() - 2] {
        std::fs::write(&path, &full[..cut]).unwrap();
        let err = store.load().unwrap_err();
        assert!(
            matches!(err, Error::StoreCorrupt(_) | Error::StoreTampered),
            "cut at {cut}: {err:?}"
        );
    }
    let recovery = store.recover().unwrap();
    assert_eq!(recovery.restored_generation, 4);
    assert!(recovery.damaged_copy.unwrap().exists());
    assert_eq!(
        counter(&store.load().unwrap()),
        4,
        "the backup is one write older"
    );
    assert_eq!(bump(&store).unwrap(), 5);

    // The main file deleted: an error, not an empty (reset) state.
    std::fs::remove_file(&path).unwrap();
    assert!(matches!(store.load().unwrap_err(), Error::StoreCorrupt(_)));
    assert!(matches!(bump(&store).unwrap_err(), Error::StoreCorrupt(_)));
    store.recover().unwrap();
    assert_eq!(counter(&store.load().unwrap()), 4);

    // Without a usable backup, recovery refuses rather than resetting.
    std::fs::remove_file(dir.path().join("state.bak")).unwrap();
    std::fs::write(&path, b"garbage").unwrap();
    assert!(matches!(
        store.recover().unwrap_err(),
        Error::StoreCorrupt(_)
    ));
    assert!(store.load().is_err());
}

#[test]
fn a_store_from_a_newer_sdk_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path(), device("a"));
    bump(&store).unwrap();
    let path = dir.path().join("state");
    let text = std::fs::read_to_string(&path).unwrap();
    std::fs::write(
        &path,
        text.replacen("TESSERA STATE 1", "TESSERA STATE 2", 1),
    )
    .unwrap();
    assert_eq!(store.load().unwrap_err(), Error::StoreVersion);
}

/// Child processes are this test binary again, told what to do by environment.
fn child(role: &str, dir: &std::path::Path, count: u32) -> Command {
    let mut cmd = Command::new(std::env::current_exe().unwrap());
    cmd.args([
        "--exact",
        "child_process_entry",
        "--nocapture",
        "--test-threads=1",
    ])
    .env("TESSERA_STORE_CHILD", role)
    .env("TESSERA_STORE_DIR", dir)
    .env("TESSERA_STORE_COUNT", count.to_string());
    cmd
}

#[test]
fn child_process_entry() {
    let Ok(role) = std::env::var("TESSERA_STORE_CHILD") else {
        return; // run as an ordinary test: nothing to do
    };
    let dir = std::env::var("TESSERA_STORE_DIR").unwrap();
    let count: u32 = std::env::var("TESSERA_STORE_COUNT")
        .unwrap()
        .parse()
        .unwrap();
    let store = open(std::path::Path::new(&dir), device("a"));
    // libtest has printed "test child_process_entry ... " without a newline.
    println!();
    for _ in 0..count {
        let n = match role.as_str() {
            "bump" => bump(&store).unwrap(),
            // Large writes, so a kill lands mid-write often.
            "bulk" => store
                .update(|s| {
                    let n = counter(s) + 1;
                    // Only the newest record carries the ballast, so the
                    // file stays about 200 KB as it grows.
                    for r in &mut s.activations {
                        r.license_file.clear();
                    }
                    s.activations.push(record(n, 200_000));
                    Ok(n)
                })
                .unwrap(),
            other => panic!("unknown role {other}"),
        };
        println!("ack {n}");
    }
}

#[test]
fn two_processes_writing_at_once_lose_no_update() {
    let dir = tempfile::tempdir().unwrap();
    let per_child = 150;
    let children: Vec<_> = (0..2)
        .map(|_| {
            child("bump", dir.path(), per_child)
                .stdout(Stdio::null())
                .spawn()
                .unwrap()
        })
        .collect();
    // And this process writes too, at the same time.
    let store = open(dir.path(), device("a"));
    for _ in 0..per_child {
        bump(&store).unwrap();
    }
    for mut c in children {
        assert!(c.wait().unwrap().success());
    }
    assert_eq!(counter(&store.load().unwrap()), u64::from(3 * per_child));
}

#[test]
fn kill_9_during_writes_leaves_the_old_or_the_new_state() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path(), device("a"));
    let mut acknowledged = 0;
    for round in 0..8 {
        let mut c = child("bulk", dir.path(), 1_000)
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        let mut lines = BufReader::new(c.stdout.take().unwrap()).lines();
        // Let the child acknowledge a few writes, then kill it mid-stream.
        let wanted = 2 + round % 3;
        let mut seen = 0;
        while seen < wanted {
            let line = lines.next().unwrap().unwrap();
            if let Some(n) = line.strip_prefix("ack ") {
                acknowledged = n.parse().unwrap();
                seen += 1;
            }
        }
        c.kill().unwrap(); // SIGKILL
        c.wait().unwrap();
        let state = store.load().expect("the state survives a kill");
        let n = counter(&state);
        // Everything acknowledged is there; at most the one write in flight is extra.
        assert!(
            n == acknowledged || n == acknowledged + 1,
            "round {round}: {n} vs {acknowledged}"
        );
        acknowledged = n;
    }
}

/// Other users cannot read the store: modes 0700 and 0600 on Unix.
#[cfg(unix)]
fn assert_private(dir: &std::path::Path) {
    use std::os::unix::fs::PermissionsExt as _;
    let mode = |p: &str| std::fs::metadata(dir.join(p)).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode("state"), 0o600);
    // Issue 34, finding 18: the lock file was created 0644.
    assert_eq!(mode("state.lock"), 0o600);
    assert_eq!(mode("."), 0o700);
}

/// Other users cannot read the store: on Windows the directory's ACL is
/// protected (nothing inherited from its parent) and grants the current
/// user alone.
///
/// Wine 8 accepts the ACL but keeps none (it answers a DACL made from the
/// Unix mode bits): under wine (its runner sets `WINEPREFIX`, which wine
/// passes on) only the user's own access is checked, and the README's
/// platform table says the ACL is verified on Windows itself.
#[cfg(windows)]
fn assert_private(dir: &std::path::Path) {
    let trustees = tessera_os::win32::dacl_trustees(dir).unwrap();
    let me = tessera_os::win32::current_user_sid().unwrap();
    if std::env::var_os("WINEPREFIX").is_some() {
        assert!(trustees.contains(&me), "{trustees:?}");
        return;
    }
    assert_eq!(trustees, [me]);
}
