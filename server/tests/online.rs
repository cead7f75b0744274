//! The SDK's online half (`tessera::online`, feature `online`) against the
//! real server on loopback: activation by key and by user, check-in,
//! consumption uploaded exactly once, floating seats and borrowing, the
//! server killed and restarted, the grace period, network faults from a
//! proxy, a clock turned back, and 50 devices racing for 10 seats.
// A test may fail by panicking, and its shared helpers are `pub` to its modules.
#![allow(clippy::unwrap_used, clippy::expect_used, unreachable_pub)]

mod common;

use std::sync::Arc;
use std::time::Duration;

use serde_json::{json, Value};
use tessera::activation::Credential;
use tessera::format::lease::LeaseKind;
use tessera::online::{
    AutoSync, AutoSyncOptions, ChangeReason, Connection, FloatingSession, ServerConfig,
    StatusChange,
};
use tessera::Time;
use tessera::{Clock, Counter, Error, Keyring, LicenseHandle, LocalConfig, ManualClock, Status};

use common::proxy::{Fault, Proxy};
use common::*;

/// A device of the product: its own store, id and clock.
struct Device {
    config: LocalConfig,
    clock: Arc<ManualClock>,
    _store: tempfile::TempDir,
}

fn device_of(s: &Server, p: &Product, name: &str) -> Device {
    let store = tempfile::tempdir().unwrap();
    let clock = Arc::new(ManualClock::new(Time::now()));
    let mut config = LocalConfig::new(&p.code, Keyring::from_keys([s.key.clone()]));
    config.secret = b"test-only vendor secret".to_vec();
    config.store_dir = Some(store.path().to_owned());
    config.custom_device_id = Some(name.to_owned());
    config.clock = clock.clone();
    Device {
        config,
        clock,
        _store: store,
    }
}

fn connect(d: &Device, url: &str, p: &Product) -> Connection {
    let mut server = ServerConfig::new(url, p.key.clone());
    server.attempts = 3;
    server.backoff = Duration::from_millis(10);
    server.timeout = Duration::from_secs(2);
    Connection::new(&d.config, server).unwrap()
}

fn upstream(s: &Server) -> String {
    s.url.trim_start_matches("http://").to_owned()
}

fn totals(s: &Server, id: &str) -> Value {
    admin(s, "GET", &format!("/admin/v1/licenses/{id}"), Value::Null).body["consumption"].clone()
}

fn floating_spec(p: &Product, id: &str) -> Value {
    json!({"id": id, "license_type": "perpetual", "allow_unlimited_activations": true,
           "is_floating": true, "floating_users": 10, "floating_timeout": 30,
           "can_borrow": true, "max_borrow_time": 48,
           "allow_grace_period": true, "grace_period": 24,
           "product_features": [{"code": "render", "name": "Render", "feature_type": "consumption",
                                 "max_consumption": 1000}],
           "product_details": {"short_code": p.code}})
}

fn new_license(s: &Server, p: &Product, key: &str, spec: Value) {
    let a = admin(
        s,
        "POST",
        "/admin/v1/licenses",
        json!({"license_key": key, "spec": spec}),
    );
    assert_eq!(a.status, 200, "{}", a.body);
    let _ = p;
}

#[test]
fn the_whole_loop_activate_check_in_consume_borrow_deactivate() {
    let s = start();
    let p = product(&s, "loop");
    new_license(&s, &p, "KEY-LOOP", floating_spec(&p, "L-LOOP"));
    let d = device_of(&s, &p, "laptop");
    let conn = Arc::new(connect(&d, &s.url, &p));

    let record = conn
        .activate(&Credential::LicenseKey("KEY-LOOP".into()))
        .unwrap();
    assert_eq!(record.license_id, "L-LOOP");
    let handle = LicenseHandle::open(&d.config).unwrap();
    // A floating license needs a seat before it is usable.
    assert_eq!(handle.check().unwrap(), Status::LeaseRequired);
    conn.register(&handle).unwrap();
    assert_eq!(handle.check().unwrap(), Status::Valid);

    // Consumption goes up once, however often the upload runs.
    let render = Counter::Feature("render".into());
    for _ in 0..3 {
        handle.consume(&render, 2).unwrap();
    }
    let up = conn.upload_consumption(&handle).unwrap();
    assert_eq!((up.sent, up.new), (3, 3));
    assert_eq!(conn.upload_consumption(&handle).unwrap().sent, 0);
    assert_eq!(totals(&s, "L-LOOP"), json!({"feature:render": 6}));

    // Check-in: the vendor's change arrives in a fresh file.
    let u = admin(
        &s,
        "PATCH",
        "/admin/v1/licenses/L-LOOP",
        json!({"spec": {"floating_users": 12}}),
    );
    assert_eq!(u.status, 200, "{}", u.body);
    handle.consume(&render, 1).unwrap();
    let before = handle.license();
    conn.sync(&handle).unwrap();
    // The same handle now holds the fresh file; a reference taken before
    // the sync still reads the old one.
    assert_eq!(handle.license().floating_users, 12);
    assert_eq!(before.floating_users, 10);
    assert_eq!(totals(&s, "L-LOOP"), json!({"feature:render": 7}));
    // The seat came along with the reloaded license.
    assert_eq!(handle.check().unwrap(), Status::Valid);
    let handle = Arc::new(handle);
    let session =
        FloatingSession::open(conn.clone(), handle.clone(), Duration::from_secs(3600)).unwrap();
    conn.sync(&handle).unwrap();
    let later = Time::now() + minutes(20);
    admin(
        &s,
        "POST",
        "/admin/v1/clock",
        json!({"now": later.to_string()}),
    );
    d.clock.set(later);
    let renewed = session.beat().unwrap();
    assert!(renewed.time_left > minutes(25), "{renewed:?}");
    assert_eq!(handle.check().unwrap(), Status::Valid);
    session.close().unwrap();

    // Borrow for a day: usable offline, then returned early.
    let lease = conn.borrow(&handle, 24).unwrap();
    assert!(lease.time_left >= hours(23), "{lease:?}");
    assert_eq!(handle.check().unwrap(), Status::Valid);
    conn.return_borrow(&handle).unwrap();
    assert_eq!(handle.check().unwrap(), Status::LeaseRequired);

    // Deactivate: the slot is free on the server, nothing is left here.
    conn.deactivate().unwrap();
    assert!(matches!(
        LicenseHandle::open(&d.config),
        Err(Error::NotActivated)
    ));
    let seats = admin(&s, "GET", "/admin/v1/licenses/L-LOOP", Value::Null);
    assert_eq!(seats.body["times_activated"], 0);
    // A refusal is signed and carries the server's code.
    match conn.activate(&Credential::LicenseKey("NO-SUCH-KEY".into())) {
        Err(Error::ServerRefused { status, code, .. }) => {
            assert_eq!((status, code.as_str()), (404, "license_not_found"))
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn a_user_signs_in_lists_licenses_and_activates_one() {
    let s = start();
    let p = product(&s, "byuser");
    let user = admin(
        &s,
        "POST",
        "/admin/v1/users",
        json!({"username": "ada@example.com", "password": "test-only-password"}),
    );
    let user = user.body["id"].as_str().unwrap().to_owned();
    new_license(&s, &p, "KEY-U", floating_spec(&p, "L-U"));
    admin(
        &s,
        "POST",
        &format!("/admin/v1/licenses/L-U/users/{user}"),
        Value::Null,
    );
    let d = device_of(&s, &p, "desk");
    let conn = connect(&d, &s.url, &p);
    let wrong = conn.user_licenses("ada@example.com", "wrong-password");
    assert!(
        matches!(&wrong, Err(Error::ServerRefused { code, .. }) if code == "invalid_credentials"),
        "{wrong:?}"
    );
    let mine = conn
        .user_licenses("ada@example.com", "test-only-password")
        .unwrap();
    assert_eq!(mine.len(), 1);
    assert_eq!(mine[0].id, "L-U");
    let credential = Credential::user_license("ada@example.com", "test-only-password", &mine[0].id);
    assert!(!format!("{credential:?}").contains("test-only-password"));
    conn.activate(&credential).unwrap();
    // Check-in needs no password: the device is activated.
    conn.check_in().unwrap();
    assert_eq!(LicenseHandle::open(&d.config).unwrap().license().id, "L-U");
}

#[test]
fn the_update_check_offers_what_the_maintenance_covers() {
    let s = start();
    let p = product(&s, "updates");
    let spec = json!({"id": "L-UP", "license_type": "perpetual", "max_activations": 2,
                      "enable_maintenance_period": true, "maintenance_period": "2026-06-01T00:00:00Z",
                      "product_details": {"short_code": p.code}});
    new_license(&s, &p, "KEY-UP", spec);
    for (version, date) in [
        ("1.4", "2026-02-01T00:00:00Z"),
        ("1.5", "2026-05-01T00:00:00Z"),
        ("2.0", "2026-08-01T00:00:00Z"),
    ] {
        let a = admin(
            &s,
            "POST",
            "/admin/v1/products/updates/releases",
            json!({"version": version, "release_date": date, "requires_version": "1.0",
                   "installation_file": format!("https://example.com/updates-{version}.msi"),
                   "hash_md5": "d41d8cd98f00b204e9800998ecf8427e", "size": 4096}),
        );
        assert_eq!(a.status, 200, "{}", a.body);
    }
    let d = device_of(&s, &p, "desk");
    let conn = connect(&d, &s.url, &p);
    assert!(matches!(
        conn.latest_release(None, None),
        Err(Error::NotActivated)
    ));
    conn.activate(&Credential::LicenseKey("KEY-UP".into()))
        .unwrap();
    // The maintenance ends in June: 1.5, not August's 2.0.
    let latest = conn.latest_release(None, None).unwrap().unwrap();
    assert_eq!(latest.version, "1.5");
    assert_eq!(
        latest.installation_file,
        "https://example.com/updates-1.5.msi"
    );
    assert_eq!((latest.size, latest.channel.as_str()), (4096, "stable"));
    assert_eq!(conn.latest_release(Some("1.5"), None).unwrap(), None);
    assert_eq!(conn.latest_release(None, Some("beta")).unwrap(), None);
    let bad = conn.latest_release(Some("one.five"), None);
    assert!(
        matches!(&bad, Err(Error::ServerRefused { code, .. }) if code == "invalid_version"),
        "{bad:?}"
    );
    // Maintenance extended by the vendor: 2.0 at the next ask.
    let a = admin(
        &s,
        "PATCH",
        "/admin/v1/licenses/L-UP",
        json!({"spec": {"maintenance_period": "2027-06-01T00:00:00Z"}}),
    );
    assert_eq!(a.status, 200, "{}", a.body);
    assert_eq!(
        conn.latest_release(Some("1.5"), None)
            .unwrap()
            .map(|r| r.version)
            .as_deref(),
        Some("2.0")
    );
}

#[test]
fn network_faults_never_count_twice_and_forged_answers_change_nothing() {
    let s = start();
    let p = product(&s, "faults");
    new_license(&s, &p, "KEY-F", floating_spec(&p, "L-F"));
    let proxy = Proxy::start(&upstream(&s));
    let d = device_of(&s, &p, "flaky");
    let conn = connect(&d, &proxy.url, &p);
    conn.activate(&Credential::LicenseKey("KEY-F".into()))
        .unwrap();
    let handle = LicenseHandle::open(&d.config).unwrap();
    conn.register(&handle).unwrap();
    let render = Counter::Feature("render".into());

    // The answer is lost after the server kept the records: the retry is
    // answered as a duplicate and the total is right.
    handle.consume(&render, 5).unwrap();
    proxy.set(Fault::DropAnswer(1));
    let up = conn.upload_consumption(&handle).unwrap();
    assert_eq!(up.new, 0, "the first send was kept, its answer lost");
    assert_eq!(totals(&s, "L-F"), json!({"feature:render": 5}));

    // Sent twice over the wire: counted once. The second copy is refused
    // as a replay; the client tries again with a new nonce and learns the
    // records were kept.
    handle.consume(&render, 7).unwrap();
    proxy.set(Fault::Duplicate);
    let up = conn.upload_consumption(&handle).unwrap();
    assert_eq!((up.sent, up.new), (1, 0), "the first copy was kept");
    assert_eq!(totals(&s, "L-F"), json!({"feature:render": 12}));

    // Refused connections are retried with backoff until one gets through.
    handle.consume(&render, 1).unwrap();
    proxy.set(Fault::Refuse(2));
    conn.upload_consumption(&handle).unwrap();
    assert_eq!(totals(&s, "L-F"), json!({"feature:render": 13}));

    // Slower than the timeout every time: a network error, nothing acknowledged.
    handle.consume(&render, 1).unwrap();
    let mut slow = ServerConfig::new(&proxy.url, p.key.clone());
    slow.timeout = Duration::from_millis(200);
    slow.attempts = 2;
    slow.backoff = Duration::from_millis(1);
    let impatient = Connection::new(&d.config, slow).unwrap();
    proxy.set(Fault::Delay(Duration::from_millis(400)));
    let e = impatient.upload_consumption(&handle).unwrap_err();
    assert!(matches!(e, Error::Network(_)), "{e:?}");
    assert_eq!(handle.pending_uploads().unwrap().len(), 1);

    // An altered answer and a replayed one are refused; nothing changes.
    proxy.set(Fault::Alter);
    let e = conn.check_in().unwrap_err();
    assert!(matches!(e, Error::BadResponse(_)), "{e:?}");
    proxy.set(Fault::Replay);
    let e = conn.upload_consumption(&handle).unwrap_err();
    assert!(matches!(e, Error::BadResponse(_)), "{e:?}");
    assert_eq!(handle.pending_uploads().unwrap().len(), 1);

    // A connection that trusts another key refuses every answer.
    let mut stranger = d.config.clone();
    stranger.keyring = Keyring::from_keys([tessera::issuer::SigningKey::generate()
        .unwrap()
        .public_key()
        .clone()]);
    let other = Connection::new(&stranger, ServerConfig::new(&s.url, p.key.clone())).unwrap();
    let e = other.check_in().unwrap_err();
    assert!(matches!(e, Error::BadResponse(_)), "{e:?}");

    // A refusal (4xx) is final: sent once, not retried (a proxy of its
    // own counts, so the delayed requests above cannot land in the count).
    let counting = Proxy::start(&upstream(&s));
    let refused =
        connect(&d, &counting.url, &p).activate(&Credential::LicenseKey("NOT-A-KEY".into()));
    assert!(
        matches!(refused, Err(Error::ServerRefused { status: 404, .. })),
        "{refused:?}"
    );
    assert_eq!(*counting.forwarded.lock().unwrap(), 1);

    // Back to normal: the delayed record goes up once.
    proxy.set(Fault::None);
    conn.upload_consumption(&handle).unwrap();
    assert_eq!(totals(&s, "L-F"), json!({"feature:render": 14}));
    assert!(handle.pending_uploads().unwrap().is_empty());
}

#[test]
fn server_killed_mid_request_down_past_the_grace_period_then_back() {
    let dir = Arc::new(tempfile::tempdir().unwrap());
    let s = start_in(dir.clone(), true);
    let p = product(&s, "outage");
    let mut spec = floating_spec(&p, "L-O");
    spec["is_floating"] = json!(false);
    spec["can_borrow"] = json!(false);
    new_license(&s, &p, "KEY-O", spec);
    let proxy = Proxy::start(&upstream(&s));
    let d = device_of(&s, &p, "field-pc");
    let conn = Arc::new(connect(&d, &proxy.url, &p));
    conn.activate(&Credential::LicenseKey("KEY-O".into()))
        .unwrap();
    let handle = LicenseHandle::open(&d.config).unwrap();
    handle
        .consume(&Counter::Feature("render".into()), 4)
        .unwrap();

    // The server is killed while the upload is on its way.
    proxy.set(Fault::Delay(Duration::from_millis(300)));
    let uploading = {
        let (conn, config) = (conn.clone(), d.config.clone());
        std::thread::spawn(move || {
            let h = LicenseHandle::open(&config).unwrap();
            conn.upload_consumption(&h)
        })
    };
    drop(s);
    let e = uploading.join().unwrap().unwrap_err();
    assert!(matches!(e, Error::Network(_)), "{e:?}");
    proxy.set(Fault::None);

    // Offline: usable until the check-in expiry, then in grace, then not.
    let due = handle.license().expires_at.unwrap();
    assert_eq!(handle.check().unwrap(), Status::Valid);
    d.clock.set(due + hours(1));
    assert_eq!(handle.check().unwrap(), Status::ValidInGrace);
    d.clock.set(due + hours(25));
    assert_eq!(handle.check().unwrap(), Status::CheckInRequired);
    assert!(matches!(conn.check_in(), Err(Error::Network(_))));

    // Back (same database, new port): it syncs and the license works again.
    let s = start_in(dir, true);
    proxy.point_to(&upstream(&s));
    let now = d.clock.now().to_string();
    admin(&s, "POST", "/admin/v1/clock", json!({ "now": now }));
    conn.check_in().unwrap();
    let handle = LicenseHandle::open(&d.config).unwrap();
    assert_eq!(handle.check().unwrap(), Status::Valid);
    conn.upload_consumption(&handle).unwrap();
    assert_eq!(totals(&s, "L-O"), json!({"feature:render": 4}));
}

#[test]
fn a_clock_turned_back_is_caught_by_the_servers_time() {
    let s = start();
    let p = product(&s, "clock");
    new_license(&s, &p, "KEY-C", floating_spec(&p, "L-C"));
    let d = device_of(&s, &p, "rewound");
    let conn = connect(&d, &s.url, &p);
    conn.activate(&Credential::LicenseKey("KEY-C".into()))
        .unwrap();
    // The device's clock goes three hours back: the server's signed
    // answer (a refusal of the stale date) shows it.
    d.clock.set(Time::now() - hours(3));
    match conn.check_in() {
        Err(Error::ClockTampered { behind_secs }) => {
            assert!(
                (3 * 3600 - 60..3 * 3600 + 60).contains(&behind_secs),
                "{behind_secs}"
            )
        }
        other => panic!("{other:?}"),
    }
    // And the device itself now refuses to open the license.
    assert!(matches!(
        LicenseHandle::open(&d.config),
        Err(Error::ClockTampered { .. })
    ));
}

/// Issue 21, finding 5: a device once run with a future date (a PC imaged
/// with a wrong clock) keeps a mark ahead of real time and is refused once
/// its clock is right; the server's signed time, fresh and bound to the
/// request's nonce, lowers the mark at the next check-in, and it recovers.
#[test]
fn a_device_whose_mark_ran_ahead_recovers_at_its_next_check_in() {
    let s = start();
    let p = product(&s, "ahead");
    new_license(&s, &p, "KEY-F", floating_spec(&p, "L-F"));
    let d = device_of(&s, &p, "imaged");
    let conn = connect(&d, &s.url, &p);
    conn.activate(&Credential::LicenseKey("KEY-F".into()))
        .unwrap();
    // Three days ahead, offline: the mark follows the clock.
    d.clock.set(Time::now() + days(3));
    LicenseHandle::open(&d.config)
        .unwrap()
        .save_clock()
        .unwrap();
    // The clock set right: refused, as a clock turned back is.
    d.clock.set(Time::now());
    assert!(matches!(
        LicenseHandle::open(&d.config),
        Err(Error::ClockTampered { .. })
    ));
    // One check-in with the server, and it opens again.
    conn.check_in().unwrap();
    LicenseHandle::open(&d.config).unwrap();
}

#[test]
fn fifty_devices_race_for_ten_seats_and_lapsed_seats_come_free() {
    let s = start();
    let p = product(&s, "race");
    new_license(&s, &p, "KEY-R", floating_spec(&p, "L-R"));
    let devices: Vec<Device> = (0..50)
        .map(|i| device_of(&s, &p, &format!("seat-{i:02}")))
        .collect();
    let conns: Vec<Arc<Connection>> = devices
        .iter()
        .map(|d| {
            let c = connect(d, &s.url, &p);
            c.activate(&Credential::LicenseKey("KEY-R".into())).unwrap();
            Arc::new(c)
        })
        .collect();
    let handles: Vec<Arc<LicenseHandle>> = devices
        .iter()
        .map(|d| Arc::new(LicenseHandle::open(&d.config).unwrap()))
        .collect();
    let sessions: Vec<Option<FloatingSession>> = std::thread::scope(|scope| {
        let joins: Vec<_> = (0..50)
            .map(|i| {
                let (c, h) = (conns[i].clone(), handles[i].clone());
                scope.spawn(
                    move || match FloatingSession::open(c, h, Duration::from_secs(3600)) {
                        Ok(session) => Some(session),
                        Err(Error::ServerRefused { code, .. }) if code == "no_seat_available" => {
                            None
                        }
                        Err(e) => panic!("{e:?}"),
                    },
                )
            })
            .collect();
        joins.into_iter().map(|j| j.join().unwrap()).collect()
    });
    let holders: Vec<usize> = (0..50).filter(|i| sessions[*i].is_some()).collect();
    assert_eq!(holders.len(), 10);
    for (i, handle) in handles.iter().enumerate() {
        let expected = if holders.contains(&i) {
            Status::Valid
        } else {
            Status::LeaseRequired
        };
        assert_eq!(handle.check().unwrap(), expected, "device {i}");
    }
    let seats = admin(&s, "GET", "/admin/v1/licenses/L-R/seats", Value::Null);
    assert_eq!(seats.body["used"], 10);

    // Closing a session gives its seat to the next device.
    let mut sessions = sessions;
    let first = holders[0];
    sessions[first].take().unwrap().close().unwrap();
    let waiting = (0..50).find(|i| !holders.contains(i)).unwrap();
    let next = FloatingSession::open(
        conns[waiting].clone(),
        handles[waiting].clone(),
        Duration::from_secs(3600),
    )
    .unwrap();

    // Five holders go silent (the process dies: no release); the other
    // five heart-beat. After floating_timeout the silent seats are free.
    let silent: Vec<usize> = holders[1..6].to_vec();
    for i in &silent {
        std::mem::forget(sessions[*i].take());
    }
    let later = Time::now() + minutes(20);
    admin(
        &s,
        "POST",
        "/admin/v1/clock",
        json!({"now": later.to_string()}),
    );
    for i in &holders[6..] {
        devices[*i].clock.set(later);
        conns[*i].heartbeat(&handles[*i]).unwrap();
    }
    devices[waiting].clock.set(later);
    conns[waiting].heartbeat(&handles[waiting]).unwrap();
    let end = Time::now() + minutes(31);
    admin(
        &s,
        "POST",
        "/admin/v1/clock",
        json!({"now": end.to_string()}),
    );
    // Locally, a silent device's lease is over too: the seat is not usable
    // past its lease, connection or not.
    devices[silent[0]].clock.set(end);
    assert_eq!(handles[silent[0]].check().unwrap(), Status::LeaseExpired);
    let seats = admin(&s, "GET", "/admin/v1/licenses/L-R/seats", Value::Null);
    assert_eq!(seats.body["used"], 5);
    let mut taken = 0;
    for i in (0..50).filter(|i| !holders.contains(i) && *i != waiting) {
        devices[i].clock.set(end);
        match conns[i].register(&handles[i]) {
            Ok(_) => taken += 1,
            Err(Error::ServerRefused { code, .. }) if code == "no_seat_available" => {}
            Err(e) => panic!("{e:?}"),
        }
    }
    assert_eq!(taken, 5);
    drop(next);
}

#[test]
fn https_with_a_pinned_ca_and_nothing_without_it() {
    let dir = Arc::new(tempfile::tempdir().unwrap());
    let cert = rcgen::generate_simple_self_signed(vec!["127.0.0.1".to_owned()]).unwrap();
    let cert_pem = cert.cert.pem();
    std::fs::write(dir.path().join("tls.crt"), &cert_pem).unwrap();
    std::fs::write(dir.path().join("tls.key"), cert.key_pair.serialize_pem()).unwrap();
    let config = json!({
        "listen": "127.0.0.1:0",
        "tls_cert": dir.path().join("tls.crt"),
        "tls_key": dir.path().join("tls.key"),
    });
    let s = start_with(dir, config, Some(&cert_pem)).unwrap();
    let p = product(&s, "tls");
    new_license(&s, &p, "KEY-TLS", floating_spec(&p, "L-TLS"));
    let d = device_of(&s, &p, "secure");

    let mut pinned = ServerConfig::new(&s.url, p.key.clone());
    pinned.pinned_ca = Some(cert_pem.clone());
    let conn = Connection::new(&d.config, pinned).unwrap();
    conn.activate(&Credential::LicenseKey("KEY-TLS".into()))
        .unwrap();

    // The system's roots do not know this certificate: no answer is taken.
    let mut system = ServerConfig::new(&s.url, p.key.clone());
    system.attempts = 1;
    let conn = Connection::new(&d.config, system).unwrap();
    let e = conn.check_in().unwrap_err();
    assert!(matches!(e, Error::Network(_)), "{e:?}");
    // Plain HTTP to a non-loopback address and a bad pin are refused up front.
    let plain = ServerConfig::new("http://licenses.example.com", p.key.clone());
    assert!(Connection::new(&d.config, plain).is_err());
    let mut bad = ServerConfig::new(&s.url, p.key.clone());
    bad.pinned_ca = Some("not a certificate".into());
    assert!(Connection::new(&d.config, bad).is_err());
}

#[test]
fn an_explicit_proxy_with_credentials_carries_every_call() {
    let s = start();
    let p = product(&s, "proxied");
    new_license(&s, &p, "KEY-P", floating_spec(&p, "L-P"));
    let proxy = Proxy::start(&upstream(&s));
    // Basic base64("alice:proxy-pw")
    *proxy.require_auth.lock().unwrap() = Some("Basic YWxpY2U6cHJveHktcHc=".into());
    let d = device_of(&s, &p, "behind-a-proxy");

    // Without the credentials the proxy refuses (407): a network error.
    let mut server = ServerConfig::new(&s.url, p.key.clone());
    server.attempts = 1;
    server.proxy = tessera::online::Proxy::Url(format!("{}/", proxy.url));
    let e = Connection::new(&d.config, server.clone())
        .unwrap()
        .activate(&Credential::LicenseKey("KEY-P".into()))
        .unwrap_err();
    assert!(
        matches!(e, Error::Network(_) | Error::BadResponse(_)),
        "{e:?}"
    );
    assert_eq!(*proxy.forwarded.lock().unwrap(), 0);

    // With them, every call goes through it, and nothing prints them.
    server.proxy =
        tessera::online::Proxy::Url(proxy.url.replace("http://", "http://alice:proxy-pw@"));
    assert!(!format!("{server:?}").contains("proxy-pw"));
    let conn = Connection::new(&d.config, server).unwrap();
    conn.activate(&Credential::LicenseKey("KEY-P".into()))
        .unwrap();
    conn.check_in().unwrap();
    assert_eq!(*proxy.forwarded.lock().unwrap(), 2);

    // Direct ignores the environment's and the system's proxies.
    let mut direct = ServerConfig::new(&s.url, p.key.clone());
    direct.proxy = tessera::online::Proxy::Direct;
    Connection::new(&d.config, direct)
        .unwrap()
        .check_in()
        .unwrap();
    assert_eq!(*proxy.forwarded.lock().unwrap(), 2);
}

#[test]
fn a_call_ends_at_its_deadline_whatever_its_attempts() {
    let s = start();
    let p = product(&s, "deadline");
    new_license(&s, &p, "KEY-D", floating_spec(&p, "L-D"));
    let proxy = Proxy::start(&upstream(&s));
    let d = device_of(&s, &p, "patient");
    connect(&d, &s.url, &p)
        .activate(&Credential::LicenseKey("KEY-D".into()))
        .unwrap();

    // 1,000 attempts of 300 ms against a server 2 s slow, in a 500 ms
    // deadline: the call gives up after at most two attempts.
    let mut server = ServerConfig::new(&proxy.url, p.key.clone());
    server.attempts = 1_000;
    server.timeout = Duration::from_millis(300);
    server.deadline = Duration::from_millis(500);
    server.backoff = Duration::from_millis(1);
    let conn = Connection::new(&d.config, server).unwrap();
    proxy.set(Fault::Delay(Duration::from_secs(2)));
    let e = conn.check_in().unwrap_err();
    assert!(matches!(e, Error::Network(_)), "{e:?}");
    // The proxy counts a request when it reads it, before its delay.
    assert!(
        proxy_requests(&proxy) <= 2,
        "a 500 ms deadline allowed {} attempts of 300 ms",
        proxy_requests(&proxy)
    );
}

/// The requests the proxy has received so far (forwarded or not).
fn proxy_requests(proxy: &Proxy) -> u32 {
    *proxy.received.lock().unwrap()
}

#[test]
fn a_session_dropped_offline_makes_one_short_attempt_to_release() {
    let s = start();
    let p = product(&s, "dropped");
    new_license(&s, &p, "KEY-X", floating_spec(&p, "L-X"));
    let proxy = Proxy::start(&upstream(&s));
    let d = device_of(&s, &p, "closing");
    let conn = Arc::new(connect(&d, &proxy.url, &p));
    conn.activate(&Credential::LicenseKey("KEY-X".into()))
        .unwrap();
    let handle = Arc::new(LicenseHandle::open(&d.config).unwrap());
    let session = FloatingSession::open(conn.clone(), handle, Duration::from_secs(3600)).unwrap();
    let before = proxy_requests(&proxy);
    // Offline: every connection is refused. The drop tries once, not
    // `attempts` (3) times with backoff.
    proxy.set(Fault::Refuse(100));
    drop(session);
    assert_eq!(proxy_requests(&proxy) - before, 1);
}

/// An auto-sync whose status changes arrive on a channel.
fn auto_sync(
    conn: &Arc<Connection>,
    handle: &Arc<LicenseHandle>,
    retry: Duration,
) -> (AutoSync, std::sync::mpsc::Receiver<StatusChange>) {
    let (tx, rx) = std::sync::mpsc::channel();
    let tx = std::sync::Mutex::new(tx);
    let options = AutoSyncOptions {
        retry,
        on_change: Some(Box::new(move |c: &StatusChange| {
            let _ = tx.lock().unwrap().send(c.clone());
        })),
        ..AutoSyncOptions::default()
    };
    (
        AutoSync::start(conn.clone(), handle.clone(), options).unwrap(),
        rx,
    )
}

/// Waits (a bounded wait for another thread, not a timed assertion) for
/// the auto-sync's record to reach `syncs` successes and `failures`.
fn wait_for(auto: &AutoSync, syncs: u64, failures: u64) -> Option<Error> {
    let mut last = None;
    for _ in 0..2_000 {
        let (s, f, e) = auto.last_sync();
        last = e.or(last);
        if s >= syncs && f >= failures {
            return last;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    panic!("the auto-sync did not get to {syncs} syncs and {failures} failures");
}

#[test]
fn an_auto_synced_handle_hears_the_vendors_change_without_a_reopen() {
    let s = start();
    let p = product(&s, "auto");
    let mut spec = floating_spec(&p, "L-AUTO");
    spec["is_floating"] = json!(false);
    spec["can_borrow"] = json!(false);
    new_license(&s, &p, "KEY-AUTO", spec);
    let d = device_of(&s, &p, "looked-after");
    let conn = Arc::new(connect(&d, &s.url, &p));
    conn.activate(&Credential::LicenseKey("KEY-AUTO".into()))
        .unwrap();
    let handle = Arc::new(LicenseHandle::open(&d.config).unwrap());
    assert_eq!(handle.check().unwrap(), Status::Valid);
    let render = Counter::Feature("render".into());
    handle.consume(&render, 4).unwrap();

    let (auto, changes) = auto_sync(&conn, &handle, Duration::from_secs(30));
    // The first sync runs at once: the consumption goes up, nothing changes.
    wait_for(&auto, 1, 0);
    assert_eq!(totals(&s, "L-AUTO"), json!({"feature:render": 4}));
    assert!(changes.try_recv().is_err());

    // The vendor ends the license through the admin API.
    let u = admin(
        &s,
        "PATCH",
        "/admin/v1/licenses/L-AUTO",
        json!({"spec": {"license_type": "time-limited",
                        "start_date": "2020-01-01T00:00:00Z",
                        "validity_period": "2021-01-01T00:00:00Z"}}),
    );
    assert_eq!(u.status, 200, "{}", u.body);
    auto.sync_now();
    let change = changes
        .recv_timeout(Duration::from_secs(20))
        .unwrap_or_else(|_| panic!("{:?}", auto.last_sync()));
    assert_eq!(
        change,
        StatusChange {
            old: Status::Valid,
            new: Status::Expired,
            reason: ChangeReason::Synced
        }
    );
    // The same handle, not reopened, says so too.
    assert_eq!(handle.check().unwrap(), Status::Expired);
    assert_eq!(
        handle.license().license_type,
        tessera::format::license::LicenseType::TimeLimited
    );

    // And back: the vendor extends it.
    admin(
        &s,
        "PATCH",
        "/admin/v1/licenses/L-AUTO",
        json!({"spec": {"license_type": "perpetual", "start_date": null, "validity_period": null}}),
    );
    auto.sync_now();
    let change = changes.recv_timeout(Duration::from_secs(20)).unwrap();
    assert_eq!((change.old, change.new), (Status::Expired, Status::Valid));
    auto.stop();
}

#[test]
fn auto_sync_offline_backs_off_reports_and_stops_without_waiting_for_the_network() {
    let dir = Arc::new(tempfile::tempdir().unwrap());
    let s = start_in(dir.clone(), true);
    let p = product(&s, "auto-off");
    new_license(&s, &p, "KEY-AO", floating_spec(&p, "L-AO"));
    let proxy = Proxy::start(&upstream(&s));
    let d = device_of(&s, &p, "road-warrior");
    let conn = Arc::new(connect(&d, &proxy.url, &p));
    conn.activate(&Credential::LicenseKey("KEY-AO".into()))
        .unwrap();
    let handle = Arc::new(LicenseHandle::open(&d.config).unwrap());
    assert_eq!(handle.check().unwrap(), Status::LeaseRequired);

    // A floating license: the auto-sync takes a seat and says so.
    let (auto, changes) = auto_sync(&conn, &handle, Duration::from_millis(20));
    let change = changes.recv_timeout(Duration::from_secs(20)).unwrap();
    assert_eq!(
        (change.old, change.new),
        (Status::LeaseRequired, Status::Valid)
    );
    assert_eq!(handle.lease().unwrap().unwrap().kind, LeaseKind::Floating);

    // Offline: syncs fail with `network`, the handle keeps working.
    proxy.set(Fault::Refuse(u32::MAX));
    auto.sync_now();
    let e = wait_for(&auto, 1, 1);
    assert!(matches!(e, Some(Error::Network(_))), "{e:?}");
    assert_eq!(handle.check().unwrap(), Status::Valid);
    // Backing off: 20 ms, 40 ms, 80 ms, ... not a retry every 20 ms.
    let (_, failures, _) = auto.last_sync();
    assert!(failures < 50, "{failures} failures: no backoff");

    // A sync stuck on a slow network does not hold up the stop: the
    // request is still at the proxy when stop() has returned.
    proxy.set(Fault::Delay(Duration::from_secs(5)));
    let sent = proxy_requests(&proxy);
    auto.sync_now();
    while proxy_requests(&proxy) == sent {
        std::thread::yield_now();
    }
    let forwarded = *proxy.forwarded.lock().unwrap();
    auto.stop();
    assert_eq!(*proxy.forwarded.lock().unwrap(), forwarded);
}

/// Every line the SDK logs in this test binary (all its tests run in one
/// process, so every test's lines land here).
static LOGGED: std::sync::Mutex<Vec<String>> = std::sync::Mutex::new(Vec::new());

struct Capture;

impl log::Log for Capture {
    fn enabled(&self, _: &log::Metadata<'_>) -> bool {
        true
    }
    fn log(&self, record: &log::Record<'_>) {
        LOGGED.lock().unwrap().push(format!(
            "{} {}: {}",
            record.level(),
            record.target(),
            record.args()
        ));
    }
    fn flush(&self) {}
}

#[test]
fn no_log_line_holds_a_key_a_password_or_a_proxys_credentials() {
    static CAPTURE: Capture = Capture;
    let _ = log::set_logger(&CAPTURE);
    log::set_max_level(log::LevelFilter::Trace);
    let s = start();
    let p = product(&s, "logged");
    let user = admin(
        &s,
        "POST",
        "/admin/v1/users",
        json!({"username": "grace@example.com", "password": "log-test-password-7"}),
    );
    let user = user.body["id"].as_str().unwrap().to_owned();
    new_license(&s, &p, "LOG-TEST-LICENSE-KEY-7", floating_spec(&p, "L-LOG"));
    admin(
        &s,
        "POST",
        &format!("/admin/v1/licenses/L-LOG/users/{user}"),
        Value::Null,
    );
    let d = device_of(&s, &p, "logged-desk");

    // A proxy that wants credentials, given them in the URL.
    let proxy = Proxy::start(&upstream(&s));
    *proxy.require_auth.lock().unwrap() = Some("Basic dTpsb2ctcHJveHktcHctNw==".into());
    let mut server = ServerConfig::new(&s.url, p.key.clone());
    server.proxy =
        tessera::online::Proxy::Url(proxy.url.replace("http://", "http://u:log-proxy-pw-7@"));
    server.attempts = 2;
    let conn = Arc::new(Connection::new(&d.config, server).unwrap());
    assert!(conn
        .user_licenses("grace@example.com", "wrong-log-password")
        .is_err());
    conn.activate(&Credential::User {
        username: "grace@example.com".into(),
        password: Some("log-test-password-7".into()),
        license_id: Some("L-LOG".into()),
    })
    .unwrap();
    let handle = Arc::new(LicenseHandle::open(&d.config).unwrap());
    conn.register(&handle).unwrap();
    handle
        .consume(&Counter::Feature("render".into()), 1)
        .unwrap();
    conn.sync(&handle).unwrap();
    proxy.set(Fault::Refuse(100));
    assert!(matches!(conn.check_in(), Err(Error::Network(_))));
    proxy.set(Fault::None);
    let trial = conn.trial_key(Some("grace@example.com"));
    conn.deactivate().unwrap();
    // The key activates too (the server's activation log names it).
    conn.activate(&Credential::LicenseKey("LOG-TEST-LICENSE-KEY-7".into()))
        .unwrap();
    conn.deactivate().unwrap();

    let lines = LOGGED.lock().unwrap().join("\n");
    assert!(lines.contains("activated license L-LOG"), "{lines}");
    assert!(lines.contains("cannot be reached"), "{lines}");
    let product_key_b64 =
        base64::Engine::encode(&base64::engine::general_purpose::STANDARD, &p.key);
    let mut secrets = vec![
        "LOG-TEST-LICENSE-KEY-7".to_owned(),
        "log-test-password-7".to_owned(),
        "wrong-log-password".to_owned(),
        "log-proxy-pw-7".to_owned(),
        "test-only vendor secret".to_owned(),
        hex::encode(&p.key),
        product_key_b64,
        ADMIN.to_owned(),
    ];
    secrets.extend(trial.ok());
    for secret in &secrets {
        assert!(
            !lines.contains(secret.as_str()),
            "a log line holds secret #{}",
            secrets.iter().position(|s| s == secret).unwrap_or(0)
        );
    }
}

#[test]
fn no_status_change_is_told_after_the_auto_sync_stopped() {
    let s = start();
    let p = product(&s, "auto-stop");
    let mut spec = floating_spec(&p, "L-AS");
    spec["is_floating"] = json!(false);
    spec["can_borrow"] = json!(false);
    new_license(&s, &p, "KEY-AS", spec);
    let proxy = Proxy::start(&upstream(&s));
    let d = device_of(&s, &p, "stopping");
    let conn = Arc::new(connect(&d, &proxy.url, &p));
    conn.activate(&Credential::LicenseKey("KEY-AS".into()))
        .unwrap();
    let handle = Arc::new(LicenseHandle::open(&d.config).unwrap());
    let (tx, changes) = std::sync::mpsc::channel();
    let tx = std::sync::Mutex::new(tx);
    let options = AutoSyncOptions {
        stop_timeout: Duration::from_millis(100),
        on_change: Some(Box::new(move |c: &StatusChange| {
            let _ = tx.lock().unwrap().send(c.clone());
        })),
        ..AutoSyncOptions::default()
    };
    let auto = AutoSync::start(conn.clone(), handle.clone(), options).unwrap();
    wait_for(&auto, 1, 0);

    // The vendor ends the license; the sync that would tell is slow, and
    // the auto-sync is stopped while it is on the wire.
    admin(
        &s,
        "PATCH",
        "/admin/v1/licenses/L-AS",
        json!({"spec": {"license_type": "time-limited", "start_date": "2020-01-01T00:00:00Z",
                        "validity_period": "2021-01-01T00:00:00Z"}}),
    );
    proxy.set(Fault::Delay(Duration::from_millis(800)));
    let sent = proxy_requests(&proxy);
    auto.sync_now();
    while proxy_requests(&proxy) == sent {
        std::thread::yield_now();
    }
    auto.stop();
    // The abandoned thread finishes its sync (the handle switches) and
    // ends, dropping its share of the handle; it told nobody.
    for _ in 0..2_000 {
        if Arc::strong_count(&handle) == 1 {
            break;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    assert_eq!(
        Arc::strong_count(&handle),
        1,
        "the auto-sync thread did not end"
    );
    assert_eq!(handle.check().unwrap(), Status::Expired);
    assert!(
        changes.try_recv().is_err(),
        "a change was told after the stop"
    );
}

/// Finding of issue 22: a license id and a device's fingerprint id were
/// enough to act for that device. Now every request about a device
/// activated online carries a proof signed by the key it registered at
/// activation, which derives from a random secret in its own state.
#[test]
fn another_machine_that_knows_the_ids_cannot_act_for_a_device() {
    let s = start();
    let p = product(&s, "proof");
    new_license(&s, &p, "PROOF-KEY-0001", floating_spec(&p, "lic-proof"));
    let victim = device_of(&s, &p, "victim");
    let conn = connect(&victim, &s.url, &p);
    let record = conn
        .activate(&Credential::LicenseKey("PROOF-KEY-0001".into()))
        .unwrap();
    let fingerprint = serde_json::to_value(&record.fingerprint).unwrap();
    let ids =
        json!({"product": p.code, "license_id": record.license_id, "fingerprint": fingerprint});

    // Without a proof, each call about the device is refused.
    let mut upload = ids.clone();
    upload["records"] = json!([{"seq": 1, "counter": "render", "amount": 999}]);
    for (path, body) in [
        ("/api/v1/check_license", ids.clone()),
        ("/api/v1/floating/register", ids.clone()),
        ("/api/v1/floating/release", ids.clone()),
        ("/api/v1/deactivate_license", ids.clone()),
        ("/api/v1/add_consumption", upload.clone()),
    ] {
        let r = call(&s, &p, path, body);
        assert_eq!(
            (r.status, r.body["code"].as_str()),
            (401, Some("device_proof")),
            "{path}: {}",
            r.body
        );
    }
    // With another key's proof: refused too.
    let other = ed25519_dalek::SigningKey::from_bytes(&[9; 32]);
    let r = call_as_device(&s, &p, "/api/v1/deactivate_license", &ids, &other);
    assert_eq!(
        (r.status, r.body["code"].as_str()),
        (401, Some("device_proof")),
        "{}",
        r.body
    );
    // Re-activating the device under another key, even with the license
    // key: refused, and the device's own key stays.
    let mut takeover =
        json!({"product": p.code, "license_key": "PROOF-KEY-0001", "fingerprint": fingerprint});
    takeover["device_key"] = json!(tessera::format::keys::PublicKey::from_bytes(
        other.verifying_key().as_bytes()
    )
    .unwrap()
    .to_base64());
    let r = call_as_device(&s, &p, "/api/v1/activate_license", &takeover, &other);
    assert_eq!(
        (r.status, r.body["code"].as_str()),
        (409, Some("device_key_mismatch")),
        "{}",
        r.body
    );
    // A key registered without being proven by it: refused.
    let unproven = call(&s, &p, "/api/v1/activate_license", takeover.clone());
    assert_eq!(unproven.status, 401, "{}", unproven.body);

    // Nothing changed: the device is activated, nothing was consumed, and
    // the device itself carries on, after a restart too (a new connection
    // finds its key's secret in the state).
    assert_eq!(totals(&s, "lic-proof"), json!({}));
    conn.check_in().unwrap();
    drop(conn);
    let restarted = connect(&victim, &s.url, &p);
    restarted.check_in().unwrap();
    restarted.deactivate().unwrap();

    // Once the device is gone, another key may activate that id.
    let r = call_as_device(&s, &p, "/api/v1/activate_license", &takeover, &other);
    assert_eq!(r.status, 200, "{}", r.body);
}

/// Issue 34, finding 15: disabling a license never reached the device: its
/// check-in was refused with `license_disabled`, the auto-sync counted a
/// failure, the callback heard nothing and `check` stayed valid. The
/// server now answers an activated device's check-in with a signed file
/// that says the license is disabled, so the device stores it and acts on
/// it; enabled again, the next sync brings it back.
#[test]
fn a_license_the_vendor_disables_is_disabled_on_the_device_at_its_next_sync() {
    let s = start();
    let p = product(&s, "disable");
    let mut spec = floating_spec(&p, "L-DIS");
    spec["is_floating"] = json!(false);
    spec["can_borrow"] = json!(false);
    new_license(&s, &p, "KEY-DIS", spec);
    let d = device_of(&s, &p, "disabled-one");
    let conn = Arc::new(connect(&d, &s.url, &p));
    conn.activate(&Credential::LicenseKey("KEY-DIS".into()))
        .unwrap();
    let handle = Arc::new(LicenseHandle::open(&d.config).unwrap());
    assert_eq!(handle.check().unwrap(), Status::Valid);
    let (auto, changes) = auto_sync(&conn, &handle, Duration::from_secs(30));
    wait_for(&auto, 1, 0);

    let a = admin(&s, "POST", "/admin/v1/licenses/L-DIS/disable", json!(null));
    assert_eq!(a.status, 200, "{}", a.body);
    // Consumption waiting to go up: the disabled license refuses it, which
    // must not keep the news from the device.
    let render = Counter::Feature("render".into());
    handle.consume(&render, 2).unwrap();
    auto.sync_now();
    let change = changes
        .recv_timeout(Duration::from_secs(20))
        .unwrap_or_else(|_| panic!("{:?}", auto.last_sync()));
    assert_eq!((change.old, change.new), (Status::Valid, Status::Disabled));
    assert_eq!(handle.check().unwrap(), Status::Disabled);
    let (_, failures, _) = auto.last_sync();
    assert_eq!(failures, 0, "a disabled license is news, not a failure");
    // After a restart too: the signed file is what the device keeps.
    assert_eq!(
        LicenseHandle::open(&d.config).unwrap().check().unwrap(),
        Status::Disabled
    );
    // Everything else stays refused while it is disabled.
    match conn.upload_consumption(&handle) {
        Err(Error::ServerRefused { code, .. }) => assert_eq!(code, "license_disabled"),
        other => panic!("{other:?}"),
    }
    assert_eq!(totals(&s, "L-DIS"), json!({}));

    admin(&s, "POST", "/admin/v1/licenses/L-DIS/enable", json!(null));
    auto.sync_now();
    let change = changes.recv_timeout(Duration::from_secs(20)).unwrap();
    assert_eq!((change.old, change.new), (Status::Disabled, Status::Valid));
    // The waiting consumption went up with that sync.
    assert_eq!(totals(&s, "L-DIS"), json!({"feature:render": 2}));
    auto.stop();
}

fn minutes(n: u64) -> Duration {
    Duration::from_secs(60 * n)
}

fn hours(n: u64) -> Duration {
    Duration::from_secs(3600 * n)
}

fn days(n: u64) -> Duration {
    Duration::from_secs(86_400 * n)
}
