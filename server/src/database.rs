//! The database as a whole: its migrations, the transactions every
//! write runs in, the statement helpers every aggregate's queries use, and
//! what the request pipeline keeps in it (nonces, rate-limit events).

use std::path::Path;

use rusqlite::Connection;

pub(crate) use crate::store::{all, exec, exists, one};
use crate::store::{args, Db};
pub(crate) use crate::store::{DbError, DbResult};

/// The schema, one step per version (`PRAGMA user_version`). A database
/// is brought forward step by step when the server opens it; a step never
/// changes once released.
const MIGRATIONS: &[&str] = &[
    // 1: the first release.
    "
CREATE TABLE IF NOT EXISTS products (
    code TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    api_key BLOB NOT NULL
);
CREATE TABLE IF NOT EXISTS licenses (
    id TEXT PRIMARY KEY,
    product TEXT NOT NULL REFERENCES products(code),
    license_key TEXT NOT NULL,
    spec TEXT NOT NULL,
    enabled INTEGER NOT NULL DEFAULT 1,
    transfer_count INTEGER NOT NULL DEFAULT 0,
    activations INTEGER NOT NULL DEFAULT 0,
    UNIQUE (product, license_key)
);
CREATE TABLE IF NOT EXISTS activations (
    license_id TEXT NOT NULL REFERENCES licenses(id),
    device TEXT NOT NULL,
    fingerprint TEXT NOT NULL,
    activated_at INTEGER NOT NULL,
    PRIMARY KEY (license_id, device)
);
CREATE TABLE IF NOT EXISTS leases (
    id TEXT PRIMARY KEY,
    license_id TEXT NOT NULL REFERENCES licenses(id),
    device TEXT NOT NULL,
    kind TEXT NOT NULL,
    expires_at INTEGER NOT NULL,
    UNIQUE (license_id, device)
);
CREATE TABLE IF NOT EXISTS consumption (
    license_id TEXT NOT NULL REFERENCES licenses(id),
    device TEXT NOT NULL,
    seq INTEGER NOT NULL,
    counter TEXT NOT NULL,
    amount INTEGER NOT NULL,
    at INTEGER NOT NULL,
    PRIMARY KEY (license_id, device, seq)
);
",
    // 2: definitions, users, bundles, feature toggles, trials, offline requests.
    "
ALTER TABLE licenses ADD COLUMN revision INTEGER NOT NULL DEFAULT 0;
ALTER TABLE licenses ADD COLUMN account TEXT;
ALTER TABLE licenses ADD COLUMN definition TEXT;
ALTER TABLE licenses ADD COLUMN max_users INTEGER NOT NULL DEFAULT 1;
ALTER TABLE licenses ADD COLUMN features_off TEXT NOT NULL DEFAULT '[]';
CREATE INDEX licenses_by_account ON licenses (account, definition);
CREATE TABLE definitions (
    product TEXT NOT NULL REFERENCES products(code),
    code TEXT NOT NULL,
    name TEXT NOT NULL,
    spec TEXT NOT NULL,
    trial_days INTEGER,
    PRIMARY KEY (product, code)
);
CREATE TABLE users (
    id TEXT PRIMARY KEY,
    username TEXT NOT NULL UNIQUE,
    email TEXT NOT NULL,
    first_name TEXT NOT NULL,
    last_name TEXT NOT NULL,
    password_hash TEXT NOT NULL,
    created_at INTEGER NOT NULL
);
CREATE TABLE user_licenses (
    user_id TEXT NOT NULL REFERENCES users(id),
    license_id TEXT NOT NULL REFERENCES licenses(id),
    PRIMARY KEY (user_id, license_id)
);
CREATE INDEX user_licenses_by_license ON user_licenses (license_id);
ALTER TABLE activations ADD COLUMN device_key TEXT;
CREATE TABLE offline_requests (
    id TEXT PRIMARY KEY,
    at INTEGER NOT NULL
);
CREATE TABLE trials (
    product TEXT NOT NULL,
    device TEXT NOT NULL,
    license_id TEXT NOT NULL REFERENCES licenses(id),
    PRIMARY KEY (product, device)
);
",
    // 3: consumption records that stand for a range of the device's journal.
    "
ALTER TABLE consumption ADD COLUMN first_seq INTEGER;
",
    // 4: the nonces of client requests, kept while their Date is accepted,
    // so a captured request is refused when sent again.
    "
CREATE TABLE nonces (
    product TEXT NOT NULL,
    nonce TEXT NOT NULL,
    expires INTEGER NOT NULL,
    PRIMARY KEY (product, nonce)
);
CREATE INDEX nonces_expiry ON nonces (expires);
",
    // 5: who changed what through the admin API, and when.
    "
CREATE TABLE audit (
    id INTEGER PRIMARY KEY,
    at INTEGER NOT NULL,
    actor TEXT NOT NULL,
    action TEXT NOT NULL,
    status INTEGER NOT NULL
);
",
    // 6: the components that name a machine (machine id, firmware UUID,
    // network card, ...) of every device that took a trial, so a device
    // that changes its fingerprint id but not its machine gets its trial
    // back rather than a new one.
    "
CREATE TABLE trial_components (
    product TEXT NOT NULL,
    component TEXT NOT NULL,
    hash TEXT NOT NULL,
    license_id TEXT NOT NULL REFERENCES licenses(id),
    PRIMARY KEY (product, component, hash)
);
",
    // 7: the public key of the device's online proofs, recorded at an
    // online activation (the offline requests' key stays in device_key).
    "
ALTER TABLE activations ADD COLUMN proof_key TEXT;
",
    // 8: how many devices each user of a license may activate (0: no
    // limit of its own), and which user activated each device.
    "
ALTER TABLE licenses ADD COLUMN max_devices_per_user INTEGER NOT NULL DEFAULT 0;
ALTER TABLE activations ADD COLUMN user_id TEXT;
",
    // 9: events limited per sliding window (failed sign-ins per user and
    // per address, new trials per address), kept where every instance
    // counts them.
    "
CREATE TABLE limited_events (
    kind TEXT NOT NULL,
    key TEXT NOT NULL,
    at INTEGER NOT NULL
);
CREATE INDEX limited_events_by_key ON limited_events (kind, key, at);
",
    // 10: a product's releases: what a license may install (the update
    // check), and the release fields of seed 003's license objects.
    "
CREATE TABLE releases (
    product TEXT NOT NULL REFERENCES products(code),
    channel TEXT NOT NULL,
    version TEXT NOT NULL,
    environment TEXT NOT NULL,
    release_date INTEGER NOT NULL,
    requires_version TEXT NOT NULL,
    installation_file TEXT NOT NULL,
    hash_md5 TEXT NOT NULL,
    size INTEGER NOT NULL,
    eula_link TEXT NOT NULL,
    release_notes_link TEXT NOT NULL,
    PRIMARY KEY (product, channel, version)
);
",
    // 11: a customer account's identity provider, for single sign-on
    // (seed 003).
    "
CREATE TABLE account_sso (
    account TEXT PRIMARY KEY,
    issuer TEXT NOT NULL,
    client_id TEXT NOT NULL,
    client_secret TEXT NOT NULL,
    jwks_uri TEXT NOT NULL,
    token_endpoint TEXT NOT NULL,
    redirect_uri TEXT NOT NULL,
    username_claim TEXT NOT NULL
);
",
    // 12: consumption records by the device's journal epoch: a record that
    // reuses a sequence number with another chain MAC (the device's journal
    // started again) opens the next epoch and is counted, where it was
    // taken for a retry and dropped. `mac` is the chain MAC of the range's
    // last record (null from SDKs before it).
    "
CREATE TABLE consumption_by_epoch (
    license_id TEXT NOT NULL REFERENCES licenses(id),
    device TEXT NOT NULL,
    epoch INTEGER NOT NULL DEFAULT 0,
    seq INTEGER NOT NULL,
    counter TEXT NOT NULL,
    amount INTEGER NOT NULL,
    at INTEGER NOT NULL,
    first_seq INTEGER,
    mac TEXT,
    PRIMARY KEY (license_id, device, epoch, seq)
);
INSERT INTO consumption_by_epoch (license_id, device, seq, counter, amount, at, first_seq)
    SELECT license_id, device, seq, counter, amount, at, first_seq FROM consumption;
DROP TABLE consumption;
ALTER TABLE consumption_by_epoch RENAME TO consumption;
CREATE INDEX consumption_by_seq ON consumption (license_id, device, seq);
",
    // 13: events that leave the server (docs/EVENTS.md): the outbox, the
    // webhooks, their deliveries and the log of attempts; the settings the
    // vendor makes (consumption thresholds); when each license ends (its
    // expiry is an event); and the spans of seats held, for usage reports.
    "
CREATE TABLE events (
    id INTEGER PRIMARY KEY,
    at INTEGER NOT NULL,
    kind TEXT NOT NULL,
    license_id TEXT,
    product TEXT,
    account TEXT,
    data TEXT NOT NULL
);
CREATE INDEX events_by_license ON events (license_id, id);
CREATE INDEX events_by_kind ON events (kind, at);
CREATE TABLE webhooks (
    id TEXT PRIMARY KEY,
    url TEXT NOT NULL,
    events TEXT NOT NULL,
    description TEXT NOT NULL,
    state TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    paused_at INTEGER
);
CREATE TABLE deliveries (
    webhook_id TEXT NOT NULL REFERENCES webhooks(id),
    event_id INTEGER NOT NULL REFERENCES events(id),
    queue TEXT NOT NULL,
    state TEXT NOT NULL,
    attempts INTEGER NOT NULL,
    next_at INTEGER NOT NULL,
    claimed_until INTEGER NOT NULL DEFAULT 0,
    first_failed_at INTEGER,
    delivered_at INTEGER,
    PRIMARY KEY (webhook_id, event_id)
);
CREATE INDEX deliveries_waiting ON deliveries (state, next_at);
CREATE INDEX deliveries_done ON deliveries (state, delivered_at);
CREATE INDEX deliveries_queue ON deliveries (webhook_id, queue, state, event_id);
CREATE TABLE delivery_attempts (
    id INTEGER PRIMARY KEY,
    webhook_id TEXT NOT NULL,
    event_id INTEGER NOT NULL,
    at INTEGER NOT NULL,
    status INTEGER,
    error TEXT NOT NULL,
    millis INTEGER NOT NULL
);
CREATE INDEX delivery_attempts_by_webhook ON delivery_attempts (webhook_id, id);
CREATE INDEX delivery_attempts_by_time ON delivery_attempts (at);
CREATE TABLE settings (
    key TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
CREATE TABLE license_ends (
    license_id TEXT PRIMARY KEY REFERENCES licenses(id),
    ends_at INTEGER NOT NULL,
    reported INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX license_ends_due ON license_ends (reported, ends_at);
ALTER TABLE leases ADD COLUMN started_at INTEGER;
CREATE TABLE seat_spans (
    license_id TEXT NOT NULL,
    device TEXT NOT NULL,
    kind TEXT NOT NULL,
    started_at INTEGER NOT NULL,
    ended_at INTEGER NOT NULL
);
CREATE INDEX seat_spans_by_license ON seat_spans (license_id, started_at);
CREATE INDEX seat_spans_by_time ON seat_spans (started_at);
",
    // 14: a release's SHA-256 and the vendor's signed release (docs/FORMAT.md
    // section 13), which the SDK's download helper checks a file against.
    "
ALTER TABLE releases ADD COLUMN sha256 TEXT NOT NULL DEFAULT '';
ALTER TABLE releases ADD COLUMN manifest TEXT NOT NULL DEFAULT '';
",
    // 15: the desktop sign-in (docs/SIGN-IN.md): an account's provider
    // endpoints for a native app (authorization with PKCE, device
    // authorization), its client id there, the scopes, the grants a
    // desktop may use, and the e-mail domains that find the account.
    "
ALTER TABLE account_sso ADD COLUMN authorization_endpoint TEXT NOT NULL DEFAULT '';
ALTER TABLE account_sso ADD COLUMN device_authorization_endpoint TEXT NOT NULL DEFAULT '';
ALTER TABLE account_sso ADD COLUMN desktop_client_id TEXT NOT NULL DEFAULT '';
ALTER TABLE account_sso ADD COLUMN scopes TEXT NOT NULL DEFAULT 'openid email';
ALTER TABLE account_sso ADD COLUMN desktop_grants TEXT NOT NULL DEFAULT '';
ALTER TABLE account_sso ADD COLUMN domains TEXT NOT NULL DEFAULT '';
",
    // 16: relays (docs/RELAY.md): each delegation the server signed, and
    // the usage records relays uploaded or the vendor imported, per day.
    "
CREATE TABLE relays (
    delegation TEXT PRIMARY KEY,
    license_id TEXT NOT NULL,
    relay_key TEXT NOT NULL,
    device TEXT NOT NULL,
    seats INTEGER NOT NULL,
    issued_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL
);
CREATE INDEX relays_by_license ON relays (license_id, expires_at);
CREATE TABLE relay_usage (
    license_id TEXT NOT NULL,
    relay_key TEXT NOT NULL,
    day INTEGER NOT NULL,
    seat_seconds INTEGER NOT NULL,
    peak INTEGER NOT NULL,
    grants INTEGER NOT NULL,
    denials INTEGER NOT NULL,
    PRIMARY KEY (license_id, relay_key, day)
);
",
    // 17: the web faces (docs/CONSOLE.md): the vendor's staff, and the
    // sessions of the console and the portal (in the database, so every
    // instance serves them; the cookie's SHA-256 only); when each device
    // last called and with which SDK; the indexes the console's pages
    // read by; and the daily totals its plots read (consumption per
    // counter, seats taken), kept with each record written.
    "
CREATE TABLE staff (
    id TEXT PRIMARY KEY,
    email TEXT NOT NULL UNIQUE,
    name TEXT NOT NULL,
    role TEXT NOT NULL,
    password_hash TEXT NOT NULL,
    totp_secret TEXT,
    totp_last_step INTEGER NOT NULL DEFAULT 0,
    created_at INTEGER NOT NULL
);
CREATE TABLE web_sessions (
    token_hash TEXT PRIMARY KEY,
    face TEXT NOT NULL,
    subject TEXT NOT NULL,
    csrf TEXT NOT NULL,
    second_factor_due INTEGER NOT NULL DEFAULT 0,
    created_at INTEGER NOT NULL,
    seen_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL
);
CREATE INDEX web_sessions_by_subject ON web_sessions (face, subject);
ALTER TABLE activations ADD COLUMN last_seen_at INTEGER;
ALTER TABLE activations ADD COLUMN client TEXT;
CREATE INDEX activations_by_time ON activations (activated_at);
CREATE INDEX audit_by_time ON audit (at);
CREATE INDEX licenses_by_key ON licenses (license_key);
CREATE INDEX consumption_by_time ON consumption (at);
CREATE INDEX trials_by_license ON trials (license_id);
CREATE INDEX activations_by_device ON activations (device);
CREATE TABLE daily_totals (
    metric TEXT NOT NULL,
    day INTEGER NOT NULL,
    amount INTEGER NOT NULL,
    PRIMARY KEY (metric, day)
);
INSERT INTO daily_totals (metric, day, amount)
    SELECT 'consumption:' || counter, at / 86400, SUM(amount) FROM consumption GROUP BY counter, at / 86400;
INSERT INTO daily_totals (metric, day, amount)
    SELECT 'seats', started_at / 86400, COUNT(*) FROM seat_spans GROUP BY started_at / 86400;
",
];

/// Opens (creating or bringing forward) the SQLite database at `path`,
/// in WAL mode.
pub(crate) fn open(path: &Path) -> DbResult<Connection> {
    let conn = Connection::open(path)?;
    conn.pragma_update(None, "journal_mode", "WAL")?;
    // NORMAL in WAL: a committed transaction survives a crash of the
    // process (it is in the WAL); only a power loss may drop the last ones.
    conn.pragma_update(None, "synchronous", "NORMAL")?;
    conn.pragma_update(None, "foreign_keys", "ON")?;
    conn.set_prepared_statement_cache_capacity(64);
    migrate(&Db::Sqlite(&conn))?;
    Ok(conn)
}

/// The PostgreSQL spelling of a migration step: 64-bit integers, byte
/// strings, and an identity column where SQLite has its row id.
fn pg_step(step: &str) -> String {
    step.replace(
        "INTEGER PRIMARY KEY",
        "BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY",
    )
    .replace("INTEGER", "BIGINT")
    .replace("BLOB", "BYTEA")
}

/// Key of the advisory lock that serializes migrations (several instances
/// may start at once) and, in PostgreSQL, the writes that are not one
/// license's ([`write`]).
const MIGRATION_LOCK: i64 = 0x0074_6573_736d_6967;

const WRITE_LOCK: i64 = 0x0074_6573_7377_7269;

/// Brings the schema forward to the last of [`MIGRATIONS`], in one
/// transaction: SQLite counts versions in `PRAGMA user_version`,
/// PostgreSQL in the table `tessera_schema`.
pub(crate) fn migrate(db: &Db<'_>) -> DbResult<()> {
    if db.is_pg() {
        db.begin("")?;
        let done = (|| {
            db.execute("SELECT pg_advisory_xact_lock(?1)", args![MIGRATION_LOCK])?;
            db.batch("CREATE TABLE IF NOT EXISTS tessera_schema (version BIGINT NOT NULL)")?;
            let version: Option<i64> =
                one(db, "SELECT version FROM tessera_schema", args![], |r| {
                    r.get(0)
                })?;
            if version.is_none() {
                exec(
                    db,
                    "INSERT INTO tessera_schema (version) VALUES (0)",
                    args![],
                )?;
            }
            let version = usize::try_from(version.unwrap_or(0)).unwrap_or(usize::MAX);
            for (i, step) in MIGRATIONS.iter().enumerate().skip(version) {
                db.batch(&pg_step(step))?;
                let next = i64::try_from(i + 1).unwrap_or(i64::MAX);
                exec(db, "UPDATE tessera_schema SET version = ?1", args![next])?;
            }
            Ok(())
        })();
        return finish(db, done);
    }
    db.begin("BEGIN EXCLUSIVE")?;
    let done = (|| {
        let version: i64 = one(db, "PRAGMA user_version", args![], |r| r.get(0))?.unwrap_or(0);
        let version = usize::try_from(version).unwrap_or(usize::MAX);
        for (i, step) in MIGRATIONS.iter().enumerate().skip(version) {
            db.batch(step)?;
            db.batch(&format!("PRAGMA user_version = {}", i + 1))?;
        }
        Ok(())
    })();
    finish(db, done)
}

/// Commits the open transaction when `done` is a success (with the audit
/// row of the admin request it serves, if any), and rolls it back
/// otherwise.
pub(crate) fn finish<T, E: From<DbError>>(db: &Db<'_>, done: Result<T, E>) -> Result<T, E> {
    // An admin request's change commits with its audit row, or not at all;
    // so do the events it reports (an outbox). The events of a refusal are
    // written with the transaction when it goes on, after it otherwise.
    let deferred = crate::outbox::context::take_deferred();
    let done = done.and_then(|value| {
        for d in &deferred {
            crate::outbox::emit(db, d.kind, d.license_id.as_deref(), d.data.clone())?;
        }
        crate::audit::context::record_in(db)?;
        Ok(value)
    });
    match done {
        Ok(value) => {
            db.end(true)?;
            crate::outbox::context::committed();
            Ok(value)
        }
        Err(e) => {
            // The rollback's own failure would hide the one that matters.
            let _ = db.end(false);
            crate::outbox::context::take_emitted();
            write_deferred(db, deferred);
            Err(e)
        }
    }
}

/// Writes the events of a refused transaction, rolled back, in a
/// transaction of their own. A failure to write them is logged: the
/// request's own answer stands.
fn write_deferred(db: &Db<'_>, deferred: Vec<crate::outbox::context::Deferred>) {
    if deferred.is_empty() {
        return;
    }
    let done = write_license(db, |tx| {
        for d in &deferred {
            crate::outbox::emit(tx, d.kind, d.license_id.as_deref(), d.data.clone())?;
        }
        Ok::<_, DbError>(())
    });
    if let Err(e) = done {
        eprintln!("tessera-server: the event of a refusal was not written: {e}");
    }
}

/// Records a request's nonce until `expires` (Unix seconds); false when
/// it was seen before (a replay). The primary key makes it once across
/// every instance that shares the database. With `sweep`, also forgets
/// the nonces whose time has passed (a nonce is refused by its Date alone
/// by then, so when they go matters only to the table's size).
pub(crate) fn remember_nonce(
    conn: &Db<'_>,
    product: &str,
    nonce: &str,
    now: i64,
    expires: i64,
    sweep: bool,
) -> DbResult<bool> {
    let inserted = exec(
        conn,
        "INSERT INTO nonces (product, nonce, expires) VALUES (?1, ?2, ?3) ON CONFLICT DO NOTHING",
        args![product, nonce, expires],
    )?;
    if sweep {
        forget_expired(conn, now)?;
    }
    Ok(inserted == 1)
}

/// Forgets the nonces whose time has passed at `now`, and the rate-limit
/// events older than any limit's window.
pub(crate) fn forget_expired(conn: &Db<'_>, now: i64) -> DbResult<()> {
    exec(conn, "DELETE FROM nonces WHERE expires < ?1", args![now])?;
    // No limit's window is longer than a day.
    exec(
        conn,
        "DELETE FROM limited_events WHERE at < ?1",
        args![now.saturating_sub(86_400)],
    )?;
    Ok(())
}

/// The times (Unix seconds) of the `kind` events of `key` after `since`.
pub(crate) fn recent_events(
    conn: &Db<'_>,
    kind: &str,
    key: &str,
    since: i64,
) -> DbResult<Vec<i64>> {
    all(
        conn,
        "SELECT at FROM limited_events WHERE kind = ?1 AND key = ?2 AND at > ?3",
        args![kind, key, since],
        |r| r.get(0),
    )
}

/// Records a `kind` event of `key` at `at`.
pub(crate) fn record_event(conn: &Db<'_>, kind: &str, key: &str, at: i64) -> DbResult<()> {
    exec(
        conn,
        "INSERT INTO limited_events (kind, key, at) VALUES (?1, ?2, ?3)",
        args![kind, key, at],
    )?;
    Ok(())
}

/// Forgets every `kind` event of `key` (a user who signed in).
pub(crate) fn forget_events(conn: &Db<'_>, kind: &str, key: &str) -> DbResult<()> {
    exec(
        conn,
        "DELETE FROM limited_events WHERE kind = ?1 AND key = ?2",
        args![kind, key],
    )?;
    Ok(())
}

/// Forgets every event of `kind` whose key starts with `prefix`.
pub(crate) fn forget_events_starting(conn: &Db<'_>, kind: &str, prefix: &str) -> DbResult<()> {
    let events: Vec<String> = all(
        conn,
        "SELECT DISTINCT key FROM limited_events WHERE kind = ?1",
        args![kind],
        |r| r.get(0),
    )?;
    for key in events.iter().filter(|k| k.starts_with(prefix)) {
        forget_events(conn, kind, key)?;
    }
    Ok(())
}

/// Runs `f` in a transaction serialized with every other [`write`]: an
/// immediate (write-locked) transaction in SQLite, a transaction holding
/// one advisory lock in PostgreSQL (shared by every instance).
/// `f` may fail with any error a [`DbError`] converts into, so a handler
/// runs its own checks in the same transaction; on failure nothing it
/// wrote stays.
pub(crate) fn write<T, E: From<DbError>>(
    conn: &Db<'_>,
    f: impl FnOnce(&Db<'_>) -> Result<T, E>,
) -> Result<T, E> {
    if conn.is_pg() {
        conn.begin("")?;
        let done = conn
            .execute("SELECT pg_advisory_xact_lock(?1)", args![WRITE_LOCK])
            .map_err(E::from)
            .and_then(|_| f(conn));
        return finish(conn, done);
    }
    write_license(conn, f)
}

/// Runs `f` in a transaction that acts on one license, which `f` locks
/// with [`license_for_update`] before it reads what it checks: writes to
/// different licenses run side by side in PostgreSQL. In SQLite this is an
/// immediate transaction like [`write`].
pub(crate) fn write_license<T, E: From<DbError>>(
    conn: &Db<'_>,
    f: impl FnOnce(&Db<'_>) -> Result<T, E>,
) -> Result<T, E> {
    conn.batch(if conn.is_pg() {
        "BEGIN"
    } else {
        "BEGIN IMMEDIATE"
    })?;
    let done = f(conn);
    finish(conn, done)
}
