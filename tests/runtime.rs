//! The license handle: consumption counters (periods, overages, threads,
//! processes, kill -9), floating leases and borrowing, on real files with an
//! injected clock.
// A test may fail by panicking, and its shared helpers are `pub` to its modules.
#![allow(clippy::unwrap_used, clippy::expect_used, unreachable_pub)]

mod common;

use std::io::{BufRead as _, BufReader};
use std::process::{Command, Stdio};
use std::sync::Arc;

use common::{at, ring, test_only_key, Setup};
use serde_json::json;
use std::time::Duration;
use tessera::format::lease::{seal, Lease, LeaseKind};
use tessera::{Counter, Error, Fingerprint, LicenseHandle, LocalConfig, ManualClock, Status};

fn limit_error(e: Error) -> (u64, u64, u64) {
    match e {
        Error::ConsumptionLimit {
            used,
            requested,
            allowed,
            ..
        } => (used, requested, allowed),
        other => panic!("expected ConsumptionLimit, got {other:?}"),
    }
}

#[test]
fn the_limit_is_exact_and_a_refused_increment_changes_nothing() {
    let s = Setup::starting("2026-03-10T12:00:00Z");
    let h = s.open("consumption", json!({"max_consumptions": 10}));
    let lic = Counter::License;
    let u = h.consume(&lic, 9).unwrap();
    assert_eq!((u.used, u.remaining, u.limit), (9, Some(1), Some(10)));
    let journal = s.store.path().join("consumption.journal");
    let size = std::fs::metadata(&journal).unwrap().len();
    // One past the limit, in one request: refused whole.
    assert_eq!(limit_error(h.consume(&lic, 2).unwrap_err()), (9, 2, 10));
    assert_eq!(
        std::fs::metadata(&journal).unwrap().len(),
        size,
        "a refused increment wrote"
    );
    // Exactly at the limit: accepted.
    assert_eq!(h.consume(&lic, 1).unwrap().remaining, Some(0));
    assert_eq!(limit_error(h.consume(&lic, 1).unwrap_err()), (10, 1, 10));
    assert_eq!(h.usage(&lic).unwrap().used, 10);
    // Durable: a new handle (a restart) sees the same count.
    drop(h);
    let h = LicenseHandle::open(&s.config()).unwrap();
    assert_eq!(h.usage(&lic).unwrap().used, 10);
    assert!(matches!(h.consume(&lic, 0), Err(Error::InvalidArgument(_))));
}

#[test]
fn overages_extend_the_limit_by_exactly_max_overages() {
    let s = Setup::starting("2026-03-10T12:00:00Z");
    let h = s.open(
        "consumption",
        json!({"max_consumptions": 10, "allow_overages": true, "max_overages": 5}),
    );
    let lic = Counter::License;
    assert_eq!(h.consume(&lic, 10).unwrap().overage_used, 0);
    let u = h.consume(&lic, 5).unwrap();
    assert_eq!(
        (u.used, u.remaining, u.overage_used, u.overage_allowed),
        (15, Some(0), 5, 5)
    );
    assert_eq!(limit_error(h.consume(&lic, 1).unwrap_err()), (15, 1, 15));
}

#[test]
fn feature_counters_follow_their_own_rules() {
    let s = Setup::starting("2026-03-10T12:00:00Z");
    let h = s.open(
        "perpetual",
        json!({"validity_period": null, "product_features": [
            {"code": "render", "feature_type": "consumption", "max_consumption": 3, "total_consumptions": 1},
            {"code": "ocr", "feature_type": "consumption", "allow_unlimited_consumptions": true},
            {"code": "export"},
            {"code": "beta", "feature_type": "consumption", "max_consumption": 9, "expiry_date": "2026-03-11"}
        ]}),
    );
    let render = Counter::Feature("render".into());
    // The license file says 1 was already used when it was issued.
    assert_eq!(h.usage(&render).unwrap().used, 1);
    assert_eq!(h.consume(&render, 2).unwrap().remaining, Some(0));
    assert!(h.consume(&render, 1).is_err());
    let ocr = h
        .consume(&Counter::Feature("ocr".into()), 1_000_000)
        .unwrap();
    assert_eq!((ocr.limit, ocr.remaining), (None, None));
    assert_eq!(
        h.consume(&Counter::Feature("export".into()), 1)
            .unwrap_err(),
        Error::NotConsumable("feature:export".into())
    );
    assert_eq!(
        h.consume(&Counter::License, 1).unwrap_err(),
        Error::NotConsumable("license".into())
    );
    assert!(h.consume(&Counter::Feature("beta".into()), 1).is_ok());
    s.clock.set(at("2026-03-11"));
    assert_eq!(
        h.consume(&Counter::Feature("beta".into()), 1).unwrap_err(),
        Error::FeatureUnavailable("beta".into())
    );
}

#[test]
fn monthly_counters_reset_at_the_real_month_end() {
    let s = Setup::starting("2026-01-31T23:59:58Z");
    let h = s.open(
        "consumption",
        json!({"max_consumptions": 5, "reset_consumption": true, "consumption_period": "monthly", "total_consumptions": 2}),
    );
    let lic = Counter::License;
    // The file's 2 count in January, the month it was issued.
    assert_eq!(
        h.consume(&lic, 3).unwrap().resets_at,
        Some(at("2026-02-01"))
    );
    s.clock.set(at("2026-01-31T23:59:59Z"));
    assert!(h.consume(&lic, 1).is_err());
    s.clock.set(at("2026-02-01T00:00:00Z"));
    let u = h.consume(&lic, 5).unwrap();
    assert_eq!((u.used, u.resets_at), (5, Some(at("2026-03-01"))));
    assert!(h.consume(&lic, 1).is_err());
    // Across a reset the old month's use does not come back.
    s.clock.set(at("2026-03-01T00:00:00Z"));
    assert_eq!(h.usage(&lic).unwrap().used, 0);
}

#[test]
fn daily_counters_know_leap_days_and_annual_ones_the_new_year() {
    let s = Setup::starting("2028-02-28T23:00:00Z");
    let h = s.open(
        "perpetual",
        json!({"validity_period": null, "product_features": [
            {"code": "d", "feature_type": "consumption", "max_consumption": 1, "reset_consumption": true, "consumption_period": "daily"},
            {"code": "y", "feature_type": "consumption", "max_consumption": 1, "reset_consumption": true, "consumption_period": "annually"}
        ]}),
    );
    let d = Counter::Feature("d".into());
    let y = Counter::Feature("y".into());
    assert_eq!(h.consume(&d, 1).unwrap().resets_at, Some(at("2028-02-29")));
    s.clock.set(at("2028-02-29T12:00:00Z")); // the leap day is a day of its own
    assert_eq!(h.consume(&d, 1).unwrap().resets_at, Some(at("2028-03-01")));
    assert!(h.consume(&d, 1).is_err());
    h.consume(&y, 1).unwrap();
    s.clock.set(at("2028-12-31T23:59:59Z"));
    assert!(h.consume(&y, 1).is_err());
    s.clock.set(at("2029-01-01T00:00:00Z"));
    assert!(h.consume(&y, 1).is_ok());
}

#[test]
fn eight_threads_on_one_counter_never_pass_the_limit() {
    let s = Setup::starting("2026-03-10T12:00:00Z");
    let h = Arc::new(s.open("consumption", json!({"max_consumptions": 500})));
    let threads: Vec<_> = (0..8)
        .map(|_| {
            let h = Arc::clone(&h);
            std::thread::spawn(move || {
                (0..80)
                    .filter(|_| h.consume(&Counter::License, 1).is_ok())
                    .count()
            })
        })
        .collect();
    let accepted: usize = threads.into_iter().map(|t| t.join().unwrap()).sum();
    assert_eq!(accepted, 500);
    assert_eq!(h.usage(&Counter::License).unwrap().used, 500);
    assert_eq!(h.pending_uploads().unwrap().len(), 500);
}

#[test]
fn an_edited_journal_is_refused_and_a_torn_record_is_dropped() {
    let s = Setup::starting("2026-03-10T12:00:00Z");
    let h = s.open("consumption", json!({"max_consumptions": 100}));
    for _ in 0..5 {
        h.consume(&Counter::License, 2).unwrap();
    }
    drop(h);
    let path = s.store.path().join("consumption.journal");
    let text = std::fs::read_to_string(&path).unwrap();

    // A crash mid-write leaves half a line: never acknowledged, cut off.
    std::fs::write(&path, format!("{text}{{\"seq\":6,\"coun")).unwrap();
    let h = LicenseHandle::open(&s.config()).unwrap();
    assert_eq!(h.usage(&Counter::License).unwrap().used, 10);
    assert_eq!(std::fs::read_to_string(&path).unwrap(), text);
    drop(h);

    // Lowering an amount, or dropping a record from the middle, is tampering.
    for edited in [
        text.replacen("\"amount\":2", "\"amount\":1", 1),
        text.lines()
            .enumerate()
            .filter(|(i, _)| *i != 2)
            .map(|(_, l)| format!("{l}\n"))
            .collect(),
    ] {
        std::fs::write(&path, &edited).unwrap();
        let h = LicenseHandle::open(&s.config()).unwrap();
        assert_eq!(
            h.usage(&Counter::License).unwrap_err(),
            Error::JournalTampered
        );
        assert_eq!(
            h.consume(&Counter::License, 1).unwrap_err(),
            Error::JournalTampered
        );
    }
}

#[test]
fn compaction_keeps_counts_and_what_is_left_to_upload() {
    let s = Setup::starting("2026-03-10T12:00:00Z");
    let h = s.open("consumption", json!({"allow_unlimited_consumptions": true}));
    let n = tessera::runtime::consumption::COMPACT_AFTER + 10;
    for _ in 0..n {
        h.consume(&Counter::License, 1).unwrap();
    }
    let lines = std::fs::read_to_string(s.store.path().join("consumption.journal"))
        .unwrap()
        .lines()
        .count();
    assert!(lines < 20, "the journal was not compacted: {lines} lines");
    assert_eq!(h.usage(&Counter::License).unwrap().used, n);
    let pending = h.pending_uploads().unwrap();
    assert_eq!(pending.iter().map(|p| p.amount).sum::<u64>(), n);
    assert_eq!(pending.first().unwrap().first_seq, 1);
    assert_eq!(pending.last().unwrap().last_seq, n);
    // The server acknowledged the first 100: they are not uploaded again.
    h.acknowledge_upload(100).unwrap();
    let pending = h.pending_uploads().unwrap();
    assert!(
        pending
            .iter()
            .all(|p| p.first_seq > 100 || p.last_seq <= 100)
            || pending.iter().all(|p| p.last_seq > 100)
    );
    drop(h);
    let h = LicenseHandle::open(&s.config()).unwrap();
    assert_eq!(h.usage(&Counter::License).unwrap().used, n);
    assert!(h.acknowledge_upload(n + 1).is_err());
}

fn lease(
    s: &Setup,
    kind: LeaseKind,
    issued: &str,
    length: Duration,
    device: Fingerprint,
) -> String {
    let issued = at(issued);
    seal(
        &Lease {
            format: 1,
            id: "lease-1".into(),
            license_id: "test-time-limited".into(),
            product: "acme".into(),
            device,
            kind,
            issued_at: issued,
            expires_at: issued + length,
        },
        &s.key,
    )
    .unwrap()
}

#[test]
fn a_floating_license_works_only_while_its_lease_holds() {
    let s = Setup::starting("2026-03-10T12:00:00Z");
    let h = s.open(
        "time-limited",
        json!({"is_floating": true, "floating_users": 5, "floating_timeout": 30}),
    );
    assert_eq!(h.check().unwrap(), Status::LeaseRequired);
    assert!(h.validate().unwrap().reasons[0]
        .to_string()
        .contains("needs a seat"));
    assert!(!h.feature_enabled("export").unwrap());

    let granted = h
        .install_lease(
            lease(
                &s,
                LeaseKind::Floating,
                "2026-03-10T12:00:00Z",
                Duration::from_secs(60 * 30),
                s.config().fingerprint().unwrap(),
            )
            .as_bytes(),
        )
        .unwrap();
    assert_eq!(granted.renew_before, Some(at("2026-03-10T12:30:00Z")));
    assert_eq!(h.check().unwrap(), Status::Valid);
    assert!(h.feature_enabled("export").unwrap());
    s.clock.set(at("2026-03-10T12:29:59Z"));
    assert_eq!(h.check().unwrap(), Status::Valid);
    assert_eq!(
        h.lease().unwrap().unwrap().time_left,
        Duration::from_secs(1)
    );
    // Exactly at the expiry: over.
    s.clock.set(at("2026-03-10T12:30:00Z"));
    assert_eq!(h.check().unwrap(), Status::LeaseExpired);
    assert!(h.validate().unwrap().reasons[0]
        .to_string()
        .contains("a heartbeat must renew it"));
    assert_eq!(h.lease().unwrap().unwrap().time_left, Duration::ZERO);
    // A heartbeat's new lease renews it.
    h.install_lease(
        lease(
            &s,
            LeaseKind::Floating,
            "2026-03-10T12:30:00Z",
            Duration::from_secs(60 * 30),
            s.config().fingerprint().unwrap(),
        )
        .as_bytes(),
    )
    .unwrap();
    assert_eq!(h.check().unwrap(), Status::Valid);
}

#[test]
fn leases_for_others_or_too_long_or_forged_are_refused() {
    let s = Setup::starting("2026-03-10T12:00:00Z");
    let h = s.open(
        "time-limited",
        json!({"is_floating": true, "floating_users": 5, "floating_timeout": 30}),
    );
    let other = Fingerprint::from_facts(b"x", [("machine_id", "other"), ("cpu", "c")]);
    let cases = [
        lease(
            &s,
            LeaseKind::Floating,
            "2026-03-10T12:00:00Z",
            Duration::from_secs(60 * 30),
            other,
        ),
        lease(
            &s,
            LeaseKind::Floating,
            "2026-03-10T12:00:00Z",
            Duration::from_secs(60 * 31),
            s.config().fingerprint().unwrap(),
        ),
        lease(
            &s,
            LeaseKind::Floating,
            "2026-03-10T11:00:00Z",
            Duration::from_secs(60 * 30),
            s.config().fingerprint().unwrap(),
        ),
    ];
    for text in cases {
        assert!(matches!(
            h.install_lease(text.as_bytes()).unwrap_err(),
            Error::InvalidLease(_)
        ));
    }
    assert_eq!(
        h.install_lease(
            lease(
                &s,
                LeaseKind::Borrow,
                "2026-03-10T12:00:00Z",
                Duration::from_secs(60 * 60),
                s.config().fingerprint().unwrap()
            )
            .as_bytes()
        )
        .unwrap_err(),
        Error::BorrowNotAllowed
    );
    let stranger = test_only_key(9);
    let forged = lease(
        &s,
        LeaseKind::Floating,
        "2026-03-10T12:00:00Z",
        Duration::from_secs(60 * 30),
        s.config().fingerprint().unwrap(),
    )
    .replace(&s.key.id().to_string(), &stranger.id().to_string());
    assert!(matches!(
        h.install_lease(forged.as_bytes()).unwrap_err(),
        Error::UnknownKeyId(_)
    ));
    assert_eq!(h.check().unwrap(), Status::LeaseRequired);
}

#[test]
fn a_borrow_works_offline_up_to_its_maximum_and_ends_when_returned() {
    let s = Setup::starting("2026-03-10T12:00:00Z");
    let floating = json!({"is_floating": true, "floating_users": 5, "can_borrow": true, "max_borrow_time": 24});
    let h = s.open("time-limited", floating);
    // One second past the maximum: refused.
    let max = Duration::from_secs(3600 * 24);
    let over = lease(
        &s,
        LeaseKind::Borrow,
        "2026-03-10T12:00:00Z",
        max + Duration::from_secs(1),
        s.config().fingerprint().unwrap(),
    );
    assert_eq!(
        h.install_lease(over.as_bytes()).unwrap_err(),
        Error::BorrowTooLong { max_hours: 24 }
    );
    // Exactly the maximum: accepted, and it survives a restart (offline).
    let at_max = lease(
        &s,
        LeaseKind::Borrow,
        "2026-03-10T12:00:00Z",
        max,
        s.config().fingerprint().unwrap(),
    );
    let b = h.install_lease(at_max.as_bytes()).unwrap();
    assert_eq!((b.kind, b.renew_before), (LeaseKind::Borrow, None));
    drop(h);
    s.clock.set(at("2026-03-11T11:59:59Z"));
    let h = LicenseHandle::open(&s.config()).unwrap();
    assert_eq!(h.check().unwrap(), Status::Valid);
    s.clock.set(at("2026-03-11T12:00:00Z"));
    assert_eq!(h.check().unwrap(), Status::LeaseExpired);
    // Returned early, the seat is gone at once.
    s.clock.set(at("2026-03-11T12:00:00Z"));
    let h2 = LicenseHandle::open(&s.config()).unwrap();
    h2.install_lease(
        lease(
            &s,
            LeaseKind::Borrow,
            "2026-03-11T12:00:00Z",
            Duration::from_secs(60 * 60),
            s.config().fingerprint().unwrap(),
        )
        .as_bytes(),
    )
    .unwrap();
    assert_eq!(h2.check().unwrap(), Status::Valid);
    h2.return_borrow().unwrap();
    assert_eq!(h2.check().unwrap(), Status::LeaseRequired);
    assert_eq!(
        LicenseHandle::open(&s.config()).unwrap().check().unwrap(),
        Status::LeaseRequired
    );
    assert!(h2.return_borrow().is_err());
}

// ---- several processes, and kill -9 ----------------------------------------

fn child(store: &std::path::Path, device: &std::path::Path, count: u32) -> Command {
    let mut cmd = Command::new(std::env::current_exe().unwrap());
    cmd.args([
        "--exact",
        "consumer_process_entry",
        "--nocapture",
        "--test-threads=1",
    ])
    .env("TESSERA_CONSUMER_STORE", store)
    .env("TESSERA_CONSUMER_DEVICE", device)
    .env("TESSERA_CONSUMER_COUNT", count.to_string())
    .stdout(Stdio::piped());
    cmd
}

#[test]
fn consumer_process_entry() {
    let Ok(store) = std::env::var("TESSERA_CONSUMER_STORE") else {
        return; // an ordinary test run: nothing to do
    };
    let device = std::env::var("TESSERA_CONSUMER_DEVICE").unwrap();
    let count: u32 = std::env::var("TESSERA_CONSUMER_COUNT")
        .unwrap()
        .parse()
        .unwrap();
    let key = test_only_key(1);
    let mut c = LocalConfig::new("acme", ring(&[&key]));
    c.secret = common::TEST_SECRET.to_vec();
    c.store_dir = Some(store.into());
    c.clock = Arc::new(ManualClock::new(at("2026-03-10T12:00:00Z")));
    c.machine = tessera::device::sources::TreeSource::new(device).into();
    let h = LicenseHandle::open(&c).unwrap();
    // libtest has printed "test consumer_process_entry ... " without a newline.
    println!();
    for _ in 0..count {
        match h.consume(&Counter::License, 1) {
            Ok(u) => println!("ack {}", u.used),
            Err(Error::ConsumptionLimit { .. }) => println!("refused"),
            Err(e) => panic!("{e}"),
        }
    }
}

#[test]
fn three_processes_on_one_limited_counter_get_exactly_the_limit() {
    let s = Setup::starting("2026-03-10T12:00:00Z");
    drop(s.open("consumption", json!({"max_consumptions": 150})));
    let children: Vec<_> = (0..3)
        .map(|_| {
            child(s.store.path(), s.device.dir.path(), 100)
                .spawn()
                .unwrap()
        })
        .collect();
    let (mut acked, mut refused) = (0, 0);
    for c in children {
        let out = c.wait_with_output().unwrap();
        assert!(out.status.success());
        let text = String::from_utf8(out.stdout).unwrap();
        acked += text.lines().filter(|l| l.contains("ack ")).count();
        refused += text.lines().filter(|l| l.contains("refused")).count();
    }
    assert_eq!((acked, refused), (150, 150));
    let h = LicenseHandle::open(&s.config()).unwrap();
    assert_eq!(h.usage(&Counter::License).unwrap().used, 150);
}

#[test]
fn kill_9_in_the_middle_of_10000_increments_from_4_processes_loses_nothing() {
    let s = Setup::starting("2026-03-10T12:00:00Z");
    drop(s.open("consumption", json!({"allow_unlimited_consumptions": true})));
    let mut children: Vec<_> = (0..4)
        .map(|_| {
            child(s.store.path(), s.device.dir.path(), 2_500)
                .spawn()
                .unwrap()
        })
        .collect();
    let readers: Vec<_> = children
        .iter_mut()
        .map(|c| BufReader::new(c.stdout.take().unwrap()))
        .collect();
    // Count acknowledgements from all four until half the work is done, then kill -9 every one.
    let (tx, rx) = std::sync::mpsc::channel();
    let threads: Vec<_> = readers
        .into_iter()
        .map(|r| {
            let tx = tx.clone();
            std::thread::spawn(move || {
                for line in r.lines().map_while(Result::ok) {
                    if line.starts_with("ack ") && tx.send(()).is_err() {
                        break;
                    }
                }
            })
        })
        .collect();
    drop(tx);
    let mut acked = 0u64;
    while acked < 5_000 {
        rx.recv().unwrap();
        acked += 1;
    }
    for c in &mut children {
        c.kill().unwrap();
    }
    for c in &mut children {
        c.wait().unwrap();
    }
    for t in threads {
        t.join().unwrap();
    }
    // Acknowledgements printed before the kill but read after it.
    acked += rx.try_iter().count() as u64;
    let h = LicenseHandle::open(&s.config()).unwrap();
    let used = h.usage(&Counter::License).unwrap().used;
    // Every acknowledged increment is there; beyond them at most the one
    // increment each killed process had on disk but not yet acknowledged.
    eprintln!("kill -9: {used} increments on disk, {acked} acknowledged");
    assert!(
        used >= acked && used <= acked + 4,
        "used {used}, acknowledged {acked}"
    );
    assert!(used < 10_000, "the processes were not killed in the middle");
    // The journal is whole: the next increment goes on from there.
    assert_eq!(h.consume(&Counter::License, 1).unwrap().used, used + 1);
}

/// Deleting only the consumption journal, or cutting records off its end,
/// used to reset the counters until the first compaction (SECURITY.md,
/// issue 21 finding 2). The state now vouches for the journal from its
/// creation on, and for its last record at every open and `save_clock`.
#[test]
fn a_journal_deleted_or_cut_short_is_refused() {
    let s = Setup::starting("2026-03-10T12:00:00Z");
    let h = s.open("consumption", json!({"max_consumptions": 100}));
    for _ in 0..5 {
        h.consume(&Counter::License, 2).unwrap();
    }
    h.save_clock().unwrap();
    drop(h);
    let path = s.store.path().join("consumption.journal");
    let text = std::fs::read_to_string(&path).unwrap();

    // Deleted: refused, not read as zero.
    std::fs::remove_file(&path).unwrap();
    let h = LicenseHandle::open(&s.config()).unwrap();
    assert!(matches!(
        h.usage(&Counter::License),
        Err(Error::JournalCorrupt(_))
    ));
    assert!(matches!(
        h.consume(&Counter::License, 1),
        Err(Error::JournalCorrupt(_))
    ));
    drop(h);

    // Cut short by two whole records: refused.
    let shorter: String = text
        .lines()
        .take(text.lines().count() - 2)
        .map(|l| format!("{l}\n"))
        .collect();
    std::fs::write(&path, shorter).unwrap();
    let h = LicenseHandle::open(&s.config()).unwrap();
    let got = h.usage(&Counter::License);
    assert!(matches!(got, Err(Error::JournalCorrupt(_))), "{got:?}");
    drop(h);

    // Put back whole, it reads as before.
    std::fs::write(&path, &text).unwrap();
    let h = LicenseHandle::open(&s.config()).unwrap();
    assert_eq!(h.usage(&Counter::License).unwrap().used, 10);
}

/// What the checkpoint cannot stop, stated in SECURITY.md as a bound: the
/// records written after the last checkpoint (the last open or
/// `save_clock`) can be cut off, as a crash before they were written would.
#[test]
fn only_records_after_the_last_checkpoint_can_be_cut_off() {
    let s = Setup::starting("2026-03-10T12:00:00Z");
    let h = s.open("consumption", json!({"max_consumptions": 100}));
    h.consume(&Counter::License, 3).unwrap();
    h.save_clock().unwrap(); // checkpoint at 3 units
    h.consume(&Counter::License, 4).unwrap();
    drop(h);
    let path = s.store.path().join("consumption.journal");
    let text = std::fs::read_to_string(&path).unwrap();
    let without_last: String = text
        .lines()
        .take(text.lines().count() - 1)
        .map(|l| format!("{l}\n"))
        .collect();
    std::fs::write(&path, without_last).unwrap();
    let h = LicenseHandle::open(&s.config()).unwrap();
    assert_eq!(h.usage(&Counter::License).unwrap().used, 3);
}

/// The sawtooth of issue 21, finding 4: a 30-minute floating lease, the
/// clock stepped back 25 minutes after every 25 minutes of use (inside the
/// one-hour tolerance, so never `clock_tampered`), used to stay valid for
/// days, across restarts. The lease's deadline now gets no tolerance, and
/// the trusted time follows the monotonic clock while the license is open.
#[test]
fn a_sawtooth_clock_does_not_stretch_a_floating_lease() {
    let s = Setup::starting("2026-03-10T12:00:00Z");
    let h = s.open(
        "time-limited",
        json!({"is_floating": true, "floating_users": 5, "floating_timeout": 30}),
    );
    let device = s.config().fingerprint().unwrap();
    h.install_lease(
        lease(
            &s,
            LeaseKind::Floating,
            "2026-03-10T12:00:00Z",
            Duration::from_secs(60 * 30),
            device,
        )
        .as_bytes(),
    )
    .unwrap();
    // Within one run: 25 minutes pass, the clock is set back 25 minutes.
    s.clock.advance(Duration::from_secs(60 * 25));
    assert_eq!(h.check().unwrap(), Status::Valid);
    s.clock.set(at("2026-03-10T12:00:00Z"));
    assert_eq!(h.check().unwrap(), Status::Valid, "5 minutes are left");
    s.clock.advance(Duration::from_secs(60 * 5)); // 30 minutes have passed
    assert_eq!(h.check().unwrap(), Status::LeaseExpired);
    s.clock.set(at("2026-03-10T12:00:00Z"));
    assert_eq!(
        h.check().unwrap(),
        Status::LeaseExpired,
        "setting it back again"
    );
    drop(h);

    // Across a restart with the clock set back: the trusted time was
    // written while the license was open, so the lease stays expired.
    let h = LicenseHandle::open(&s.config()).unwrap();
    assert_eq!(h.check().unwrap(), Status::LeaseExpired);
    assert_eq!(h.lease().unwrap().unwrap().time_left, Duration::ZERO);
}

/// A license without consumption counters has no journal: opening it, and
/// saving the clock, neither read nor create one. One that counts gets its
/// journal (and the state's checkpoint of it) at open.
#[test]
fn only_a_license_that_counts_consumption_has_a_journal() {
    let journal = |s: &Setup| s.store.path().join("consumption.journal").exists();
    let s = Setup::starting("2026-03-10T12:00:00Z");
    let h = s.open("time-limited", json!({}));
    h.save_clock().unwrap();
    assert!(!journal(&s));
    let s = Setup::starting("2026-03-10T12:00:00Z");
    let _h = s.open("consumption", json!({"max_consumptions": 100}));
    assert!(journal(&s));
}

#[test]
fn a_reload_switches_the_open_handle_and_a_failed_one_changes_nothing() {
    let s = Setup::starting("2026-03-10T12:00:00Z");
    let h = std::sync::Arc::new(s.open("consumption", json!({"max_consumptions": 10})));
    let lic = Counter::License;
    h.consume(&lic, 4).unwrap();
    let before = h.license();

    // A fresh file for the same license, with a higher limit, stored the
    // way a check-in stores it; the open handle switches to it.
    s.open("consumption", json!({"max_consumptions": 50}));
    assert_eq!(
        h.usage(&lic).unwrap().limit,
        Some(10),
        "switched before the reload"
    );
    h.reload().unwrap();
    assert_eq!(h.usage(&lic).unwrap().limit, Some(50));
    assert_eq!(h.usage(&lic).unwrap().used, 4, "the counters come along");
    assert_eq!(
        before.max_consumptions, 10,
        "a reference taken before keeps its file"
    );

    // Readers on other threads see one license or the other, never a mix.
    let readers: Vec<_> = (0..4)
        .map(|_| {
            let h = h.clone();
            std::thread::spawn(move || {
                for _ in 0..2_000 {
                    let limit = h.usage(&Counter::License).unwrap().limit;
                    assert!(matches!(limit, Some(50) | Some(70)), "{limit:?}");
                }
            })
        })
        .collect();
    s.open("consumption", json!({"max_consumptions": 70}));
    for _ in 0..20 {
        h.reload().unwrap();
    }
    for r in readers {
        r.join().unwrap();
    }

    // Nothing activated any more: the reload fails, the handle works on.
    tessera::activation::direct::deactivate(&s.config(), &h.license().id).unwrap();
    assert!(matches!(h.reload(), Err(Error::NotActivated)));
    assert_eq!(h.usage(&lic).unwrap().limit, Some(70));
    assert!(h.check().unwrap().is_usable());
}

/// A floating license opened with a 30-minute lease from 12:00 installed.
fn with_a_30_minute_lease(s: &Setup) -> LicenseHandle {
    let h = s.open(
        "time-limited",
        json!({"is_floating": true, "floating_users": 5, "floating_timeout": 30}),
    );
    let device = s.config().fingerprint().unwrap();
    let text = lease(
        s,
        LeaseKind::Floating,
        "2026-03-10T12:00:00Z",
        Duration::from_secs(60 * 30),
        device,
    );
    h.install_lease(text.as_bytes()).unwrap();
    h
}

/// Opens the license with the clock set back as far as the tolerance lets
/// it open: the attacker's probe, from an hour before the first day's
/// start upwards (never past the mark, so the probe itself writes none).
fn open_as_far_back_as_allowed(s: &Setup) -> LicenseHandle {
    s.clock.set(at("2026-03-10T11:00:00Z"));
    loop {
        match LicenseHandle::open(&s.config()) {
            Ok(h) => return h,
            Err(Error::ClockTampered { .. }) => s.clock.advance(Duration::from_secs(60)),
            Err(e) => panic!("{e:?}"),
        }
    }
}

/// Issue 34, finding 1: each run starts with the clock 59 minutes behind
/// the stored mark (inside the one-hour tolerance) and uses the license 10
/// minutes. The trusted time used to start from the wall clock at open, so
/// the mark never moved and a 30-minute lease lasted as long as the
/// restarts went on. It now starts from the mark: the runs add up, and each
/// restart regains at most the minute the mark may lag behind.
#[test]
fn restarts_with_the_clock_set_back_do_not_regain_the_time_used() {
    let s = Setup::starting("2026-03-10T12:00:00Z");
    drop(with_a_30_minute_lease(&s));
    let mut valid_runs = 0;
    for _ in 0..48 {
        let h = open_as_far_back_as_allowed(&s);
        for _ in 0..10 {
            s.clock.advance(Duration::from_secs(60));
            if h.check().unwrap() == Status::Valid {
                valid_runs += 1;
            }
        }
        drop(h);
    }
    // 30 minutes of lease, plus at most one minute per restart.
    assert!(
        valid_runs <= 30 + 48,
        "{valid_runs} minutes of use on a 30-minute lease"
    );
    assert!(valid_runs >= 29, "the lease was cut short: {valid_runs}");
}

/// Issue 34, finding 1, without a restart: a reload carries the trusted
/// time over instead of starting again from the wall clock.
#[test]
fn reloads_with_the_clock_set_back_do_not_regain_the_time_used() {
    let s = Setup::starting("2026-03-10T12:00:00Z");
    let h = with_a_30_minute_lease(&s);
    let mut valid = 0;
    for _ in 0..24 {
        // As far back as a reload allows.
        s.clock.set(at("2026-03-10T11:00:00Z"));
        while let Err(e) = h.reload() {
            assert!(matches!(e, Error::ClockTampered { .. }), "{e:?}");
            s.clock.advance(Duration::from_secs(60));
        }
        for _ in 0..10 {
            s.clock.advance(Duration::from_secs(60));
            if h.check().unwrap() == Status::Valid {
                valid += 1;
            }
        }
    }
    assert!(
        (29..=30).contains(&valid),
        "{valid} minutes of use on a 30-minute lease"
    );
}

/// Issue 34, finding 2: a folder named `state.tmp` makes every state write
/// fail. A failed write of the clock's mark used to be ignored, so each
/// restart could set the clock back to the frozen mark. Now a check fails
/// once the mark is a minute ahead of what the store holds, and a restart
/// regains at most that minute.
#[test]
fn a_store_that_cannot_keep_its_mark_stops_granting_time() {
    let s = Setup::starting("2026-03-10T12:00:00Z");
    drop(with_a_30_minute_lease(&s));
    std::fs::create_dir(s.store.path().join("state.tmp")).unwrap();
    let mut valid = 0;
    let mut failed = 0;
    for _ in 0..100 {
        s.clock.set(at("2026-03-10T12:00:00Z"));
        let h = LicenseHandle::open(&s.config()).unwrap();
        for _ in 0..30 {
            s.clock.advance(Duration::from_secs(60));
            match h.check() {
                Ok(Status::Valid) => valid += 1,
                Ok(other) => panic!("{other:?}"),
                Err(_) => failed += 1,
            }
        }
    }
    // The minute the mark may lag, and the check on which it comes due,
    // a restart at most, where a 30-minute lease used to be valid for all
    // 3,000 minutes.
    assert!(valid <= 2 * 100, "{valid} minutes valid");
    assert!(failed > 0);
    // Once the store can be written again, the check works again.
    std::fs::remove_dir(s.store.path().join("state.tmp")).unwrap();
    let h = LicenseHandle::open(&s.config()).unwrap();
    assert!(h.check().is_ok());
}

/// Issue 34, finding 3 (in part): a product that never calls `save_clock`
/// used to have its journal vouched for only at open, so a cut back to
/// the open lost the whole run's consumption. The checkpoint is now
/// written with the clock's mark after every minute of use: a cut loses at
/// most the last minute's increments, and a deeper cut is refused.
#[test]
fn a_journal_cut_loses_at_most_the_last_minute() {
    let s = Setup::starting("2026-03-10T12:00:00Z");
    let h = s.open("consumption", json!({"max_consumptions": 100}));
    h.consume(&Counter::License, 3).unwrap();
    s.clock.advance(Duration::from_secs(60 * 2));
    h.consume(&Counter::License, 4).unwrap(); // the minute's write vouches for the 3
    drop(h);
    let path = s.store.path().join("consumption.journal");
    let text = std::fs::read_to_string(&path).unwrap();
    let cut = |n: usize| -> String {
        text.lines()
            .take(text.lines().count() - n)
            .map(|l| format!("{l}\n"))
            .collect()
    };
    std::fs::write(&path, cut(2)).unwrap();
    let h = LicenseHandle::open(&s.config()).unwrap();
    let got = h.usage(&Counter::License);
    assert!(matches!(got, Err(Error::JournalCorrupt(_))), "{got:?}");
    drop(h);
    std::fs::write(&path, cut(1)).unwrap();
    let h = LicenseHandle::open(&s.config()).unwrap();
    assert_eq!(h.usage(&Counter::License).unwrap().used, 3);
}

/// Issue 34, finding 3, bounded: the device cannot tell an old copy of its
/// state (with its journal) from the real thing, so putting one back hands
/// back the units used since the copy, no more: the copy's own count
/// stands and the limit applies to it. At the next sync the server, which
/// counts every journal's records (finding 7), refuses what passes the
/// limit; a device that never syncs has only its offline file's 30 days
/// (finding 4). SECURITY.md states the bound.
#[test]
fn an_old_copy_of_the_state_hands_back_only_what_was_used_since() {
    let s = Setup::starting("2026-03-10T12:00:00Z");
    let h = s.open("consumption", json!({"max_consumptions": 10}));
    h.consume(&Counter::License, 3).unwrap();
    h.save_clock().unwrap();
    drop(h);
    let copy = tempfile::tempdir().unwrap();
    let files = ["state", "state.bak", "consumption.journal"];
    for f in files {
        let from = s.store.path().join(f);
        if from.exists() {
            std::fs::copy(&from, copy.path().join(f)).unwrap();
        }
    }
    let h = LicenseHandle::open(&s.config()).unwrap();
    h.consume(&Counter::License, 7).unwrap();
    assert!(h.consume(&Counter::License, 1).is_err(), "the limit");
    drop(h);
    for f in files {
        let from = copy.path().join(f);
        if from.exists() {
            std::fs::copy(&from, s.store.path().join(f)).unwrap();
        }
    }
    let h = LicenseHandle::open(&s.config()).unwrap();
    assert_eq!(
        h.usage(&Counter::License).unwrap().used,
        3,
        "the copy's count"
    );
    // The bound: the 7 used since the copy, and not one more.
    h.consume(&Counter::License, 7).unwrap();
    assert!(h.consume(&Counter::License, 1).is_err());
}
