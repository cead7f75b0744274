//! The relay as a customer runs it: the real binary on loopback, real SDK
//! clients, real files. Time is the relay's clock file and the clients'
//! manual clocks, moved together; nothing sleeps.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::{BufRead as _, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::Arc;
use std::time::Duration;

use serde_json::{json, Value};
use tessera::activation::Credential;
use tessera::format::delegation::{self, Delegation, RelayLease, RelayRequest, Terms};
use tessera::issuer::SigningKey;
use tessera::online::{Connection, ServerConfig};
use tessera::{
    Code, Error, Keyring, LeaseKind, LicenseHandle, LocalConfig, ManualClock, Status, Time,
};

const PRODUCT: &str = "acme-cad";
const POOL_KEY: &str = "POOL-0001-RELAY";
/// A throwaway test key: the vendor's.
const VENDOR_SEED: [u8; 32] = [0x5a; 32];

struct Rig {
    dir: tempfile::TempDir,
    vendor: SigningKey,
    start: Time,
}

struct Running {
    child: Child,
    url: String,
}

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

struct Client {
    config: LocalConfig,
    clock: Arc<ManualClock>,
    conn: Connection,
    _store: tempfile::TempDir,
}

fn fake_machine(root: &Path, id: &str) {
    for (path, value) in [
        ("etc/machine-id", format!("{id:0>32}")),
        ("sys/class/dmi/id/product_uuid", format!("uuid-{id}")),
        ("sys/class/dmi/id/board_serial", format!("board-{id}")),
    ] {
        let p = root.join(path);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, value).unwrap();
    }
}

impl Rig {
    fn new() -> Rig {
        let dir = tempfile::tempdir().unwrap();
        let vendor = SigningKey::from_seed(&VENDOR_SEED).unwrap();
        std::fs::write(dir.path().join("vendor.pub"), vendor.public_key().to_pem()).unwrap();
        fake_machine(&dir.path().join("machine-a"), "a");
        fake_machine(&dir.path().join("machine-b"), "b");
        let start = Time::from_unix(Time::now().unix() / 60 * 60).unwrap();
        let rig = Rig { dir, vendor, start };
        rig.set_time(start);
        rig
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    fn set_time(&self, t: Time) {
        std::fs::write(self.path("clock"), t.to_string()).unwrap();
    }

    fn at(&self, secs: i64) -> Time {
        Time::from_unix(self.start.unix() + secs).unwrap()
    }

    fn relay_on(&self, machine: &str, args: &[&str]) -> Command {
        let mut c = Command::new(env!("CARGO_BIN_EXE_tessera-relay"));
        c.arg("--dir")
            .arg(self.path("relay"))
            .arg("--device-root")
            .arg(self.path(machine))
            .arg("--clock-file")
            .arg(self.path("clock"))
            .args(args);
        c
    }

    fn relay(&self, args: &[&str]) -> Output {
        self.relay_on("machine-a", args).output().unwrap()
    }

    /// The pool license: 10 floating seats of 30 minutes, borrows of up
    /// to 48 hours, two features.
    fn pool_license(&self, seats: u32) -> String {
        let spec = json!({"id": "L-POOL", "license_key": POOL_KEY, "license_type": "perpetual",
            "allow_unlimited_activations": true, "is_floating": true, "floating_users": seats,
            "floating_timeout": 30, "can_borrow": true, "max_borrow_time": 48,
            "product_features": [
                {"code": "cad", "name": "CAD", "feature_type": "activation"},
                {"code": "render", "name": "Render", "feature_type": "activation"}],
            "product_details": {"short_code": PRODUCT}});
        tessera::issuer::issue(spec.to_string().as_bytes(), &self.vendor, self.start)
            .unwrap()
            .0
    }

    /// `init`, the vendor's answer to the request, `import`.
    fn set_up(&self, seats: u32, terms: &Terms) {
        let out = self.relay(&[
            "init",
            "--product",
            PRODUCT,
            "--vendor-key",
            self.path("vendor.pub").to_str().unwrap(),
        ]);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let request = std::fs::read(self.path("relay/relay.request")).unwrap();
        let request = RelayRequest::verify(&request).unwrap();
        let ring = Keyring::from_keys([self.vendor.public_key().clone()]);
        let answer = delegation::delegate(
            &request,
            self.pool_license(seats).as_bytes(),
            &ring,
            terms,
            &self.vendor,
            "D-TEST-1",
            self.start,
        )
        .unwrap();
        std::fs::write(self.path("answer.tessera"), answer).unwrap();
        let out = self.relay(&["import", self.path("answer.tessera").to_str().unwrap()]);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    fn serve(&self) -> Running {
        let mut child = self
            .relay_on("machine-a", &["serve", "--listen", "127.0.0.1:0"])
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let url = line
            .split("http://")
            .nth(1)
            .and_then(|r| r.split('/').next())
            .map(|a| format!("http://{a}"))
            .unwrap_or_else(|| panic!("the relay did not start: {line}"));
        Running { child, url }
    }

    fn connect(&self, relay: &Running, config: &LocalConfig) -> Connection {
        // The product's HMAC key: the relay has none and checks none.
        let mut server = ServerConfig::new(&relay.url, b"the product's key".to_vec());
        server.attempts = 1;
        server.timeout = Duration::from_secs(10);
        Connection::new(config, server).unwrap()
    }

    /// A client activated at the relay with the pool's key, and its handle.
    fn activated(&self, relay: &Running, name: &str, now: Time) -> (Client, LicenseHandle) {
        let c = self.client(relay, name, now);
        c.conn
            .activate(&Credential::LicenseKey(POOL_KEY.into()))
            .unwrap();
        let handle = LicenseHandle::open(&c.config).unwrap();
        (c, handle)
    }

    fn client(&self, relay: &Running, name: &str, now: Time) -> Client {
        let store = tempfile::tempdir().unwrap();
        let clock = Arc::new(ManualClock::new(now));
        let mut config = LocalConfig::new(
            PRODUCT,
            Keyring::from_keys([self.vendor.public_key().clone()]),
        );
        config.secret = b"test-only vendor secret".to_vec();
        config.store_dir = Some(store.path().to_owned());
        config.custom_device_id = Some(name.to_owned());
        config.clock = clock.clone();
        let conn = self.connect(relay, &config);
        Client {
            config,
            clock,
            conn,
            _store: store,
        }
    }
}

fn status(rig: &Rig) -> Value {
    let out = rig.relay(&["status", "--json"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

fn refused_code(e: &Error) -> &str {
    match e {
        Error::ServerRefused { code, .. } => code,
        _ => "",
    }
}

#[test]
fn sixty_clients_share_ten_seats_and_a_lost_seat_comes_back_after_its_lease() {
    let rig = Rig::new();
    rig.set_up(10, &Terms::default());
    let relay = rig.serve();
    let (clients, handles): (Vec<Client>, Vec<LicenseHandle>) = (0..60)
        .map(|i| rig.activated(&relay, &format!("ws-{i:02}"), rig.start))
        .unzip();
    assert_eq!(handles[0].check().unwrap(), Status::LeaseRequired);
    // All sixty ask at once.
    let results: Vec<Result<tessera::LeaseStatus, Error>> = std::thread::scope(|s| {
        let joins: Vec<_> = clients
            .iter()
            .zip(&handles)
            .map(|(c, h)| s.spawn(move || c.conn.register(h)))
            .collect();
        joins.into_iter().map(|j| j.join().unwrap()).collect()
    });
    let holders: Vec<usize> = (0..60).filter(|i| results[*i].is_ok()).collect();
    assert_eq!(holders.len(), 10, "exactly ten seats are granted");
    for (i, r) in results.iter().enumerate() {
        match r {
            Ok(_) => assert_eq!(handles[i].check().unwrap(), Status::Valid),
            Err(e) => {
                assert_eq!(refused_code(e), "no_seat_available", "{e}");
                assert_eq!(handles[i].check().unwrap(), Status::LeaseRequired);
            }
        }
    }
    // The relay's leases grant the delegation's features.
    let h = &handles[holders[0]];
    assert!(h.feature_enabled("cad").unwrap());
    assert_eq!(status(&rig)["in_use"], 10);

    // One holder is killed without giving its seat back; the others keep
    // theirs with heartbeats. A waiting client gets no seat until the
    // lost one's lease (30 minutes) has run out.
    let lost = holders[0];
    let waiting = (0..60).find(|i| !holders.contains(i)).unwrap();
    let at = rig.at(20 * 60);
    rig.set_time(at);
    for &i in &holders[1..] {
        clients[i].clock.set(at);
        clients[i].conn.heartbeat(&handles[i]).unwrap();
    }
    clients[waiting].clock.set(at);
    let e = clients[waiting]
        .conn
        .register(&handles[waiting])
        .unwrap_err();
    assert_eq!(refused_code(&e), "no_seat_available");
    let at = rig.at(31 * 60);
    rig.set_time(at);
    clients[waiting].clock.set(at);
    clients[lost].clock.set(at);
    assert_eq!(handles[lost].check().unwrap(), Status::LeaseExpired);
    clients[waiting].conn.register(&handles[waiting]).unwrap();
    assert_eq!(handles[waiting].check().unwrap(), Status::Valid);
    let s = status(&rig);
    assert_eq!(s["in_use"], 10);
    assert!(s["usage"][0]["denials"].as_u64().unwrap() >= 51);
    assert_eq!(s["usage"][0]["peak"], 10);
}

#[test]
fn a_relay_killed_mid_load_keeps_every_seat_it_granted_and_grants_none_twice() {
    let rig = Rig::new();
    rig.set_up(10, &Terms::default());
    let mut relay = rig.serve();
    let (clients, handles): (Vec<Client>, Vec<LicenseHandle>) = (0..30)
        .map(|i| rig.activated(&relay, &format!("ws-{i:02}"), rig.start))
        .unzip();
    // Thirty ask while the relay is killed -9 among them.
    let pid = relay.child.id();
    let granted: Vec<bool> = std::thread::scope(|s| {
        let joins: Vec<_> = clients
            .iter()
            .zip(&handles)
            .enumerate()
            .map(|(i, (c, h))| {
                s.spawn(move || {
                    if i == 15 {
                        let _ = Command::new("kill").args(["-9", &pid.to_string()]).status();
                    }
                    c.conn.register(h).is_ok()
                })
            })
            .collect();
        joins.into_iter().map(|j| j.join().unwrap()).collect()
    });
    let _ = relay.child.wait();
    let before: Vec<usize> = (0..30).filter(|i| granted[*i]).collect();
    assert!(before.len() <= 10);
    // Restarted on the same folder: every seat a client holds is still
    // the relay's, and the total never passes ten.
    drop(relay);
    relay = rig.serve();
    let s = status(&rig);
    let held: Vec<String> = s["leases"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["device"].as_str().unwrap().to_owned())
        .collect();
    assert!(held.len() <= 10);
    for &i in &before {
        let fp = clients[i].config.fingerprint().unwrap().id;
        assert!(held.contains(&fp), "client {i}'s seat was lost");
    }
    // Everyone asks again at the restarted relay: exactly ten hold seats,
    // the ones that had one keep it.
    let mut holding = 0;
    for (i, c) in clients.iter().enumerate() {
        let conn = rig.connect(&relay, &c.config);
        match conn.register(&handles[i]) {
            Ok(_) => holding += 1,
            Err(e) => {
                assert_eq!(refused_code(&e), "no_seat_available", "{e}");
                assert!(!before.contains(&i), "client {i} lost its seat");
            }
        }
    }
    assert_eq!(holding, 10);
    assert_eq!(status(&rig)["in_use"], 10);
}

#[test]
fn leases_outside_the_delegation_are_refused_each_with_its_code() {
    let rig = Rig::new();
    rig.set_up(10, &Terms::default());
    let relay = rig.serve();
    let (c, handle) = rig.activated(&relay, "ws-1", rig.start);
    let good = c.conn.register(&handle).unwrap();
    assert_eq!(good.kind, LeaseKind::Floating);

    // The pieces of a real chain, and what an attacker could make.
    let grant = std::fs::read_to_string(rig.path("relay/grant.tessera")).unwrap();
    let split = grant.find("-----BEGIN TESSERA LICENSE-----").unwrap();
    let real_delegation_text = grant[..split].trim().to_owned();
    let ring = Keyring::from_keys([rig.vendor.public_key().clone()]);
    let real = Delegation::verify(real_delegation_text.as_bytes(), &ring).unwrap();
    let relay_pem = std::fs::read_to_string(rig.path("relay/relay.key")).unwrap();
    let relay_key = SigningKey::from_pem(&relay_pem).unwrap();
    let device = c.config.fingerprint().unwrap();
    let lease = RelayLease {
        format: 1,
        id: "R-forged".into(),
        delegation: real.id.clone(),
        license_id: "L-POOL".into(),
        product: PRODUCT.into(),
        device,
        kind: LeaseKind::Floating,
        features: vec!["cad".into()],
        issued_at: rig.at(60),
        expires_at: rig.at(60 + 1800),
    };
    let chain = |d: &str, signer: &SigningKey, l: &RelayLease| {
        format!("{d}\n{}", delegation::sign_lease(l, signer).unwrap())
    };
    c.clock.set(rig.at(120));
    // The real chain installs.
    handle
        .install_lease(chain(&real_delegation_text, &relay_key, &lease).as_bytes())
        .unwrap();
    let code = |text: String| handle.install_lease(text.as_bytes()).unwrap_err().code();

    // A relay with a self-made key.
    let stranger = SigningKey::from_seed(&[0x77; 32]).unwrap();
    assert_eq!(
        code(chain(&real_delegation_text, &stranger, &lease)),
        Code::DelegationUntrusted
    );
    let mut own = real.clone();
    own.relay_key = stranger.public_key().to_base64();
    let self_signed = delegation::sign(&own, &stranger).unwrap();
    assert_eq!(
        code(chain(&self_signed, &stranger, &lease)),
        Code::DelegationUntrusted
    );
    // A delegation for another product (real, from the vendor, to this
    // relay), with a lease that matches it.
    let mut other = real.clone();
    other.product = "other-product".into();
    let mut other_lease = lease.clone();
    other_lease.product = "other-product".into();
    let other_text = delegation::sign(&other, &rig.vendor).unwrap();
    assert_eq!(
        code(chain(&other_text, &relay_key, &other_lease)),
        Code::DelegationMismatch
    );
    // An expired delegation.
    let mut short = real.clone();
    short.expires_at = rig.at(100);
    let mut short_lease = lease.clone();
    short_lease.issued_at = rig.at(10);
    short_lease.expires_at = rig.at(90);
    let short_text = delegation::sign(&short, &rig.vendor).unwrap();
    assert_eq!(
        code(chain(&short_text, &relay_key, &short_lease)),
        Code::DelegationExpired
    );
    // More features than the delegation names, and a longer lease.
    let mut greedy = lease.clone();
    greedy.features.push("export".into());
    assert_eq!(
        code(chain(&real_delegation_text, &relay_key, &greedy)),
        Code::LeaseOutsideDelegation
    );
    let mut long = lease.clone();
    long.expires_at = rig.at(60 + 1801);
    assert_eq!(
        code(chain(&real_delegation_text, &relay_key, &long)),
        Code::LeaseOutsideDelegation
    );
    // None of them replaced the lease held.
    assert_eq!(handle.lease().unwrap().unwrap().id, "R-forged");
    assert_eq!(handle.check().unwrap(), Status::Valid);
}

#[test]
fn features_the_delegation_leaves_out_are_not_enabled() {
    let rig = Rig::new();
    let mut terms = Terms::default();
    terms.features = Some(vec!["cad".into()]);
    terms.seats = Some(3);
    rig.set_up(10, &terms);
    let relay = rig.serve();
    let (c, handle) = rig.activated(&relay, "ws-1", rig.start);
    c.conn.register(&handle).unwrap();
    assert!(handle.feature_enabled("cad").unwrap());
    assert!(!handle.feature_enabled("render").unwrap());
    assert_eq!(status(&rig)["seats"], 3);
    // And after a restart of the product, from the stored chain.
    drop(handle);
    let handle = LicenseHandle::open(&c.config).unwrap();
    assert_eq!(handle.check().unwrap(), Status::Valid);
    assert!(!handle.feature_enabled("render").unwrap());
}

#[test]
fn a_relay_moved_to_another_machine_refuses_to_start() {
    let rig = Rig::new();
    rig.set_up(10, &Terms::default());
    let out = rig
        .relay_on("machine-b", &["serve", "--listen", "127.0.0.1:0"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(4));
    assert!(String::from_utf8_lossy(&out.stderr).contains("another machine"));
    // Its answer cannot be imported there either.
    let out = rig
        .relay_on(
            "machine-b",
            &["import", rig.path("answer.tessera").to_str().unwrap()],
        )
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(4));
}

#[test]
fn a_clock_set_back_stops_grants_and_a_copied_back_state_is_bounded_by_one_lease() {
    let rig = Rig::new();
    rig.set_up(2, &Terms::default());
    // The state as it was with no seat held.
    let relay = rig.serve();
    let (a, ha) = rig.activated(&relay, "ws-a", rig.start);
    drop(relay);
    let copy = rig.path("state-copy");
    std::fs::create_dir_all(&copy).unwrap();
    for f in ["state.db", "state.db-wal", "state.db-shm"] {
        let from = rig.path("relay").join(f);
        if from.exists() {
            std::fs::copy(&from, copy.join(f)).unwrap();
        }
    }

    let relay = rig.serve();
    rig.connect(&relay, &a.config).register(&ha).unwrap();
    let (b, hb) = rig.activated(&relay, "ws-b", rig.start);
    b.conn.register(&hb).unwrap();
    assert_eq!(status(&rig)["in_use"], 2);

    // The clock set back two hours: no grant, no renewal.
    rig.set_time(rig.at(-2 * 3600));
    let e = b.conn.heartbeat(&hb).unwrap_err();
    assert_eq!(refused_code(&e), "clock_tampered", "{e}");
    rig.set_time(rig.at(60));
    a.clock.set(rig.at(60));
    b.clock.set(rig.at(60));

    // The state copied back while both seats are held: the relay forgot
    // them and grants two more (four in use for a while)...
    drop(relay);
    for f in ["state.db", "state.db-wal", "state.db-shm"] {
        let _ = std::fs::remove_file(rig.path("relay").join(f));
        let from = copy.join(f);
        if from.exists() {
            std::fs::copy(&from, rig.path("relay").join(f)).unwrap();
        }
    }
    let relay = rig.serve();
    let mut late = Vec::new();
    for name in ["ws-c", "ws-d"] {
        let (c, h) = rig.activated(&relay, name, rig.at(60));
        c.conn.register(&h).unwrap();
        late.push((c, h));
    }
    // ...but the forgotten holders cannot renew: their seats end with
    // their leases, so the excess lasts at most one lease lifetime.
    rig.set_time(rig.at(600));
    a.clock.set(rig.at(600));
    let e = rig.connect(&relay, &a.config).heartbeat(&ha).unwrap_err();
    assert_eq!(refused_code(&e), "no_seat_available", "{e}");
    assert_eq!(ha.check().unwrap(), Status::Valid);
    a.clock.set(rig.at(30 * 60 + 1));
    assert_eq!(ha.check().unwrap(), Status::LeaseExpired);
    assert_eq!(status(&rig)["in_use"], 2);
}

#[test]
fn the_administrator_sees_and_frees_seats() {
    let rig = Rig::new();
    rig.set_up(10, &Terms::default());
    let relay = rig.serve();
    let (c, handle) = rig.activated(&relay, "ws-1", rig.start);
    let lease = c.conn.register(&handle).unwrap();
    let s = status(&rig);
    assert_eq!(s["in_use"], 1);
    assert_eq!(s["leases"][0]["id"], lease.id.as_str());
    let text = String::from_utf8(rig.relay(&["status"]).stdout).unwrap();
    assert!(text.contains("1 of 10 seats in use"), "{text}");
    let page = reqwest::blocking::get(format!("{}/status", relay.url))
        .unwrap()
        .text()
        .unwrap();
    assert!(
        page.contains("<b>1</b> of <b>10</b> seats in use"),
        "{page}"
    );
    let out = rig.relay(&["free", &lease.id]);
    assert!(out.status.success());
    assert_eq!(status(&rig)["in_use"], 0);
    let out = rig.relay(&["free", &lease.id]);
    assert_eq!(out.status.code(), Some(1));
    // The same device id under another key (another machine, or the
    // product reinstalled) is refused until the administrator frees it.
    let twin = rig.client(&relay, "ws-1", rig.start);
    let e = twin
        .conn
        .activate(&Credential::LicenseKey(POOL_KEY.into()))
        .unwrap_err();
    assert_eq!(refused_code(&e), "device_key_mismatch", "{e}");
    let device = c.config.fingerprint().unwrap().id;
    assert!(rig.relay(&["free", &device]).status.success());
    twin.conn
        .activate(&Credential::LicenseKey(POOL_KEY.into()))
        .unwrap();
    // The first one's key no longer speaks for the device.
    let e = c.conn.register(&handle).unwrap_err();
    assert_eq!(refused_code(&e), "device_proof", "{e}");
    // A wrong key activates nothing.
    let other = rig.client(&relay, "ws-2", rig.start);
    let e = other
        .conn
        .activate(&Credential::LicenseKey("POOL-WRONG".into()))
        .unwrap_err();
    assert_eq!(refused_code(&e), "license_not_found");
}

#[test]
fn the_systemd_unit_is_one_systemd_accepts() {
    // systemd-analyze comes with Debian's systemd (scripts/setup.sh).
    let unit = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/packaging/tessera-relay.service"
    ))
    .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let here = unit.replace(
        "/usr/local/bin/tessera-relay",
        env!("CARGO_BIN_EXE_tessera-relay"),
    );
    assert_ne!(here, unit, "the unit runs /usr/local/bin/tessera-relay");
    let path = dir.path().join("tessera-relay.service");
    std::fs::write(&path, here).unwrap();
    let out = Command::new("systemd-analyze")
        .arg("verify")
        .arg(&path)
        .output()
        .expect("systemd-analyze (Debian: systemd; scripts/setup.sh installs it)");
    let said = String::from_utf8_lossy(&out.stderr);
    // Only the unit's own lines count: the host's other units are not ours.
    let ours: Vec<&str> = said
        .lines()
        .filter(|l| l.contains("tessera-relay.service"))
        .collect();
    assert!(out.status.success() && ours.is_empty(), "{said}");
    // Its restart rules name the exit codes a restart does not mend.
    assert!(unit.contains("RestartPreventExitStatus=3 4 6"));
}

#[test]
fn a_seat_is_borrowed_through_the_relay_within_the_delegation_and_stays_counted_when_returned() {
    let rig = Rig::new();
    let mut terms = Terms::default();
    terms.max_borrow_hours = Some(8);
    rig.set_up(2, &terms);
    let relay = rig.serve();
    let (c, handle) = rig.activated(&relay, "laptop", rig.start);
    // Longer than the delegation allows (the license would allow 48).
    let e = c.conn.borrow(&handle, 9).unwrap_err();
    assert_eq!(refused_code(&e), "borrow_too_long", "{e}");
    let lease = c.conn.borrow(&handle, 8).unwrap();
    assert_eq!(lease.kind, LeaseKind::Borrow);
    assert_eq!(lease.time_left, Duration::from_secs(8 * 3600));
    // Offline for seven hours: still usable.
    c.clock.set(rig.at(7 * 3600));
    assert_eq!(handle.check().unwrap(), Status::Valid);
    // Returned early: the seat stays counted on the relay until the
    // borrow would have ended (a copy of the laptop's state could still
    // use it), then comes back.
    rig.set_time(rig.at(7 * 3600));
    c.conn.return_borrow(&handle).unwrap();
    assert_eq!(handle.check().unwrap(), Status::LeaseRequired);
    let s = status(&rig);
    assert_eq!(s["in_use"], 1);
    assert_eq!(s["leases"][0]["returned"], true);
    rig.set_time(rig.at(8 * 3600 + 1));
    assert_eq!(status(&rig)["in_use"], 0);
}
