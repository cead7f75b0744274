//! The console's and the portal's page times at the server
//! (scripts/bench-pages.sh runs it): seeds an SQLite database with a
//! vendor's year (licenses, devices, users, seats, consumption records,
//! the audit log), starts the real `tessera-server` on it, signs in as an
//! owner and as a customer's user, and asks each page many times over
//! loopback, one request at a time. Prints each page's p50, p95 and
//! largest time and its weight, beside a baseline measured in the same
//! run (the style sheet: the cost of an answer that reads nothing).
//!
//! ```text
//! pages SERVER_BIN TESSERA_CLI WORK_DIR LICENSES DEVICES SAMPLES
//! ```

use std::io::{BufRead, BufReader, Write};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

type Fallible<T> = Result<T, Box<dyn std::error::Error>>;

const ADMIN: &str = "bench-only-admin-token-0123456789";
const PASSWORD: &str = "bench-password-0123";
const DAY: i64 = 86_400;

fn main() -> std::process::ExitCode {
    match run() {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("pages: {e}");
            std::process::ExitCode::FAILURE
        }
    }
}

/// A cheap repeatable sequence (no `rand` in the tree for this).
struct Steps(u64);
impl Steps {
    fn next(&mut self, below: u64) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (self.0 >> 33) % below.max(1)
    }
}

fn seed(db: &str, licenses: u64, devices: u64, now: i64) -> Fallible<()> {
    let mut conn = rusqlite::Connection::open(db)?;
    let tx = conn.transaction()?;
    let mut s = Steps(42);
    let products = [
        "acme-cad",
        "acme-render",
        "acme-sim",
        "acme-viewer",
        "acme-cloud",
    ];
    for p in products {
        tx.execute(
            "INSERT INTO products (code, name, api_key) VALUES (?1, ?2, ?3)",
            rusqlite::params![p, format!("Acme {p}"), vec![7u8; 32]],
        )?;
        tx.execute(
            "INSERT INTO definitions (product, code, name, spec) VALUES (?1, 'PRO', 'Professional', ?2)",
            rusqlite::params![p, format!(r#"{{"license_type":"perpetual","product_details":{{"short_code":"{p}"}}}}"#)],
        )?;
        tx.execute(
            "INSERT INTO releases (product, channel, version, environment, release_date, requires_version,
                installation_file, hash_md5, size, eula_link, release_notes_link, sha256, manifest)
             VALUES (?1, 'stable', '2.0.0', '', ?2, '', 'https://example.com/x.msi', '', 1234, '', '', ?3, '')",
            rusqlite::params![p, now - 30 * DAY, "ab".repeat(32)],
        )?;
    }
    let users = (licenses / 5).max(1);
    {
        let mut user = tx.prepare(
            "INSERT INTO users (id, username, email, first_name, last_name, password_hash, created_at)
             VALUES (?1, ?2, ?2, 'Some', 'User', 'x', ?3)",
        )?;
        for u in 0..users {
            user.execute(rusqlite::params![
                format!("U-{u}"),
                format!("user{u}@customer{}.example", u % 500),
                now - 200 * DAY
            ])?;
        }
    }
    let mut license = tx.prepare(
        "INSERT INTO licenses (id, product, license_key, spec, account, definition, activations)
         VALUES (?1, ?2, ?3, ?4, ?5, 'PRO', ?6)",
    )?;
    let mut assign =
        tx.prepare("INSERT INTO user_licenses (user_id, license_id) VALUES (?1, ?2)")?;
    let per = devices / licenses.max(1);
    for l in 0..licenses {
        let p = products[(l % 5) as usize];
        let id = format!("L-{l:06}");
        let spec = format!(
            r#"{{"id":"{id}","license_key":"K{l:06}-BENCH","license_type":"perpetual","max_activations":{},"max_transfers":3,"is_floating":{},"floating_users":10,"floating_timeout":30,"product_details":{{"short_code":"{p}"}}}}"#,
            per * 2 + 5,
            l % 4 == 0
        );
        license.execute(rusqlite::params![
            id,
            p,
            format!("K{l:06}-BENCH"),
            spec,
            format!("customer{}", l % 500),
            per
        ])?;
        assign.execute(rusqlite::params![format!("U-{}", l % users), id])?;
    }
    drop(license);
    drop(assign);
    let mut device = tx.prepare(
        "INSERT INTO activations (license_id, device, fingerprint, activated_at, last_seen_at, client)
         VALUES (?1, ?2, ?3, ?4, ?5, 'tessera/0.1.0 (linux; x86_64)')",
    )?;
    for d in 0..devices {
        let l = d % licenses;
        let at = now - (s.next(365) as i64) * DAY - s.next(DAY as u64) as i64;
        device.execute(rusqlite::params![
            format!("L-{l:06}"),
            format!("{:032x}", d),
            r#"{"id":"x","components":{"machine_id":"0123456789abcdef0123456789abcdef","dmi_uuid":"fedcba9876543210fedcba9876543210"}}"#,
            at,
            now - s.next(7 * DAY as u64) as i64
        ])?;
    }
    drop(device);
    // A year of consumption: one record a day from every twentieth device.
    let mut record = tx.prepare(
        "INSERT INTO consumption (license_id, device, epoch, seq, counter, amount, at) VALUES (?1, ?2, 0, ?3, ?4, ?5, ?6)",
    )?;
    let mut seat = tx.prepare(
        "INSERT INTO seat_spans (license_id, device, kind, started_at, ended_at) VALUES (?1, ?2, 'floating', ?3, ?4)",
    )?;
    for d in (0..devices).step_by(20) {
        let l = format!("L-{:06}", d % licenses);
        let dev = format!("{:032x}", d);
        for day in 0..365i64 {
            let at = now - day * DAY;
            record.execute(rusqlite::params![
                l,
                dev,
                day,
                if day % 2 == 0 { "renders" } else { "exports" },
                1 + s.next(9) as i64,
                at
            ])?;
            if day < 60 {
                seat.execute(rusqlite::params![l, dev, at, at + 3600])?;
            }
        }
    }
    drop(record);
    drop(seat);
    let mut audit = tx.prepare("INSERT INTO audit (at, actor, action, status) VALUES (?1, 'admin token from 127.0.0.1', ?2, 200)")?;
    let mut event = tx.prepare("INSERT INTO events (at, kind, license_id, data) VALUES (?1, 'activation.created', ?2, '{}')")?;
    for i in 0..(licenses * 5) {
        let l = format!("L-{:06}", i % licenses);
        audit.execute(rusqlite::params![
            now - s.next(365 * DAY as u64) as i64,
            format!("PATCH /admin/v1/licenses/{l}")
        ])?;
        event.execute(rusqlite::params![now - s.next(365 * DAY as u64) as i64, l])?;
    }
    drop(audit);
    drop(event);
    let mut trial =
        tx.prepare("INSERT INTO trials (product, device, license_id) VALUES (?1, ?2, ?3)")?;
    for d in (0..devices).step_by(50) {
        trial.execute(rusqlite::params![
            products[(d % 5) as usize],
            format!("{:032x}", d),
            format!("L-{:06}", d % licenses)
        ])?;
    }
    drop(trial);
    tx.execute(
        "INSERT INTO users (id, username, email, first_name, last_name, password_hash, created_at)
         SELECT 'U-PORTAL', 'portal@customer.example', 'portal@customer.example', 'Pat', 'Portal', password_hash, 0
         FROM staff LIMIT 1",
        [],
    )?;
    for l in 0..10 {
        tx.execute(
            "INSERT INTO user_licenses (user_id, license_id) VALUES ('U-PORTAL', ?1)",
            [format!("L-{l:06}")],
        )?;
    }
    // The daily totals the server keeps with each record it writes (as
    // migration 17 fills them from the records before it).
    tx.execute_batch(
        "INSERT INTO daily_totals (metric, day, amount)
             SELECT 'consumption:' || counter, at / 86400, SUM(amount) FROM consumption
             GROUP BY counter, at / 86400;
         INSERT INTO daily_totals (metric, day, amount)
             SELECT 'seats', started_at / 86400, COUNT(*) FROM seat_spans GROUP BY started_at / 86400;",
    )?;
    tx.commit()?;
    conn.execute_batch("ANALYZE")?;
    Ok(())
}

/// A signed-in client: its cookies, no redirects followed.
struct Client {
    http: reqwest::blocking::Client,
    base: String,
    cookies: Vec<String>,
}

impl Client {
    fn cookie(&self) -> String {
        self.cookies.join("; ")
    }
    fn keep(&mut self, r: &reqwest::blocking::Response) {
        for c in r.headers().get_all("set-cookie") {
            if let Some(pair) = c.to_str().ok().and_then(|c| c.split(';').next()) {
                let name = pair.split('=').next().unwrap_or_default().to_owned();
                self.cookies.retain(|k| !k.starts_with(&format!("{name}=")));
                self.cookies.push(pair.to_owned());
            }
        }
    }
    fn get(&mut self, path: &str) -> Fallible<(u16, String)> {
        let r = self
            .http
            .get(format!("{}{path}", self.base))
            .header("cookie", self.cookie())
            .send()?;
        self.keep(&r);
        Ok((r.status().as_u16(), r.text()?))
    }
    fn sign_in(&mut self, face: &str, user_field: &str, user: &str) -> Fallible<()> {
        let (_, page) = self.get(&format!("/{face}/sign-in"))?;
        let csrf = page
            .split("name=\"csrf\" value=\"")
            .nth(1)
            .and_then(|r| r.split('"').next())
            .ok_or("no CSRF token on the sign-in page")?
            .to_owned();
        let r = self
            .http
            .post(format!("{}/{face}/sign-in", self.base))
            .header("cookie", self.cookie())
            .form(&[
                ("csrf", csrf.as_str()),
                (user_field, user),
                ("password", PASSWORD),
            ])
            .send()?;
        self.keep(&r);
        if r.status().as_u16() != 303 {
            return Err(format!("{face} sign-in: {}", r.status()).into());
        }
        Ok(())
    }
}

fn run() -> Fallible<()> {
    let args: Vec<String> = std::env::args().collect();
    let [_, server, cli, work, licenses, devices, samples] = args.as_slice() else {
        return Err("usage: pages SERVER_BIN TESSERA_CLI WORK_DIR LICENSES DEVICES SAMPLES".into());
    };
    let (licenses, devices, samples): (u64, u64, usize) =
        (licenses.parse()?, devices.parse()?, samples.parse()?);
    std::fs::create_dir_all(work)?;
    let status = Command::new(cli)
        .args(["keygen", "--out-dir", work, "--name", "server"])
        .stdout(Stdio::null())
        .status()?;
    if !status.success() {
        return Err("tessera keygen failed".into());
    }
    let db = format!("{work}/bench.db");
    let config = format!("{work}/server.json");
    std::fs::write(&config, r#"{"listen":"127.0.0.1:0","insecure_http":true}"#)?;
    let server_cmd = || {
        let mut c = Command::new(server);
        c.args(["--config", &config])
            .env("TESSERA_SERVER_DATABASE", &db)
            .env("TESSERA_SERVER_SIGNING_KEY", format!("{work}/server.key"))
            .env("TESSERA_ADMIN_TOKEN", ADMIN);
        c
    };
    let mut owner = server_cmd()
        .args(["create-owner", "bench@vendor.example", "Bench Owner"])
        .stdin(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()?;
    owner
        .stdin
        .take()
        .ok_or("stdin")?
        .write_all(format!("{PASSWORD}\n").as_bytes())?;
    if !owner.wait()?.success() {
        return Err("create-owner failed".into());
    }
    let now = chrono::Utc::now().timestamp();
    let seeding = Instant::now();
    seed(&db, licenses, devices, now)?;
    println!(
        "seeded {licenses} licenses, {devices} devices, a year of consumption in {:.1} s",
        seeding.elapsed().as_secs_f64()
    );
    let mut child = server_cmd().stderr(Stdio::piped()).spawn()?;
    let mut line = String::new();
    BufReader::new(child.stderr.take().ok_or("stderr")?).read_line(&mut line)?;
    let url = line
        .split_whitespace()
        .find(|w| w.starts_with("http://"))
        .ok_or_else(|| format!("the server did not start: {line}"))?
        .to_owned();
    let result = measure(&url, samples);
    let _ = child.kill();
    let _ = child.wait();
    result
}

fn measure(url: &str, samples: usize) -> Fallible<()> {
    let http = reqwest::blocking::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(Duration::from_secs(30))
        .build()?;
    let mut staff = Client {
        http: http.clone(),
        base: url.to_owned(),
        cookies: Vec::new(),
    };
    staff.sign_in("console", "email", "bench@vendor.example")?;
    let mut customer = Client {
        http,
        base: url.to_owned(),
        cookies: Vec::new(),
    };
    customer.sign_in("portal", "username", "portal@customer.example")?;
    let pages: Vec<(&str, bool)> = vec![
        ("/assets/style.css", true),
        ("/console/", true),
        ("/console/licenses", true),
        ("/console/licenses?sort=devices&dir=desc&page=20", true),
        ("/console/licenses?q=K0001", true),
        ("/console/licenses?q=customer42", true),
        ("/console/licenses/L-000007", true),
        ("/console/products", true),
        ("/console/customers?page=3", true),
        ("/console/users?page=10", true),
        ("/console/trials", true),
        ("/console/releases", true),
        ("/console/sso", true),
        ("/console/audit", true),
        ("/console/audit?license=L-000007", true),
        ("/console/staff", true),
        ("/console/account", true),
        ("/portal/", false),
        ("/portal/licenses/L-000003", false),
        ("/portal/releases", false),
    ];
    println!(
        "\n{:<52} {:>8} {:>8} {:>8} {:>9}",
        "page", "p50 ms", "p95 ms", "max ms", "KB"
    );
    let mut worst = 0.0f64;
    for (path, is_staff) in pages {
        let client = if is_staff { &mut staff } else { &mut customer };
        let (status, body) = client.get(path)?;
        if status != 200 {
            return Err(format!("{path}: {status}").into());
        }
        let mut times = Vec::with_capacity(samples);
        for _ in 0..samples {
            let started = Instant::now();
            let (status, _) = client.get(path)?;
            times.push(started.elapsed().as_secs_f64() * 1000.0);
            if status != 200 {
                return Err(format!("{path}: {status}").into());
            }
        }
        times.sort_by(f64::total_cmp);
        let at = |q: f64| times[((times.len() as f64 - 1.0) * q).round() as usize];
        let label = if path == "/assets/style.css" {
            "baseline: /assets/style.css (reads nothing)"
        } else {
            path
        };
        println!(
            "{label:<52} {:>8.2} {:>8.2} {:>8.2} {:>9.1}",
            at(0.5),
            at(0.95),
            at(1.0),
            body.len() as f64 / 1024.0
        );
        if !path.starts_with("/assets") {
            worst = worst.max(at(0.95));
        }
    }
    println!("\nslowest p95: {worst:.2} ms (the goal: under 50 ms); every page under 150 KB");
    Ok(())
}
