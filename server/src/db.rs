//! The server's database: products, license definitions, licenses, users
//! and their licenses, activations, leases, consumption. Every query is
//! written once, in SQL that SQLite and PostgreSQL both accept, and runs on
//! either backend (`store.rs`). Every operation is one transaction, so
//! limits hold under any concurrency and across instances: in SQLite one
//! connection behind a mutex and immediate transactions, in PostgreSQL
//! row locks on the license acted on and one advisory lock for the rest.
//! Statements are prepared once per connection and kept.

use std::path::Path;

use rusqlite::Connection;

use crate::store::{args, Arg, Db, Row};
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
];

/// A license row.
#[derive(Debug, Clone)]
pub(crate) struct LicenseRow {
    pub id: String,
    pub product: String,
    pub license_key: String,
    pub spec: String,
    pub enabled: bool,
    pub transfer_count: u32,
    /// Bumped by every change to the spec or its feature toggles.
    pub revision: i64,
    pub account: Option<String>,
    pub definition: Option<String>,
    /// How many users the license may be assigned to.
    pub max_users: u32,
    /// Codes of the features switched off (a JSON array).
    pub features_off: String,
}

const LICENSE_COLUMNS: &str = "id, product, license_key, spec, enabled, transfer_count, revision, \
     account, definition, max_users, features_off";

fn license_from(r: &Row) -> DbResult<LicenseRow> {
    Ok(LicenseRow {
        id: r.get(0)?,
        product: r.get(1)?,
        license_key: r.get(2)?,
        spec: r.get(3)?,
        enabled: r.get(4)?,
        transfer_count: r.get(5)?,
        revision: r.get(6)?,
        account: r.get(7)?,
        definition: r.get(8)?,
        max_users: r.get(9)?,
        features_off: r.get(10)?,
    })
}

/// A user (the password hash stays in the database layer's callers that
/// check it).
#[derive(Debug, Clone)]
pub(crate) struct UserRow {
    pub id: String,
    pub username: String,
    pub email: String,
    pub first_name: String,
    pub last_name: String,
    pub password_hash: String,
}

fn user_from(r: &Row) -> DbResult<UserRow> {
    Ok(UserRow {
        id: r.get(0)?,
        username: r.get(1)?,
        email: r.get(2)?,
        first_name: r.get(3)?,
        last_name: r.get(4)?,
        password_hash: r.get(5)?,
    })
}

const USER_COLUMNS: &str = "id, username, email, first_name, last_name, password_hash";

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

/// Commits the open transaction when `done` is a success, and rolls it
/// back otherwise.
fn finish<T, E: From<DbError>>(db: &Db<'_>, done: Result<T, E>) -> Result<T, E> {
    match done {
        Ok(value) => {
            db.end(true)?;
            Ok(value)
        }
        Err(e) => {
            // The rollback's own failure would hide the one that matters.
            let _ = db.end(false);
            Err(e)
        }
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
        exec(conn, "DELETE FROM nonces WHERE expires < ?1", args![now])?;
        // No limit's window is longer than a day.
        exec(
            conn,
            "DELETE FROM limited_events WHERE at < ?1",
            args![now.saturating_sub(86_400)],
        )?;
    }
    Ok(inserted == 1)
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

/// The license `row` was read from, as it is now and locked until the
/// transaction ends: requests on one license, from any instance, take
/// their turns. In SQLite the immediate transaction holds every write
/// already, so `row` is current and comes back as it is.
pub(crate) fn license_for_update(conn: &Db<'_>, row: LicenseRow) -> DbResult<LicenseRow> {
    if conn.is_pg() {
        locked_license_by_id(conn, &row.id)
    } else {
        Ok(row)
    }
}

/// One row or none, through the statement cache.
fn one<T>(
    conn: &Db<'_>,
    sql: &str,
    args: &[Arg<'_>],
    map: impl FnOnce(&Row) -> DbResult<T>,
) -> DbResult<Option<T>> {
    conn.row(sql, args)?.as_ref().map(map).transpose()
}

/// Every row, through the statement cache.
fn all<T>(
    conn: &Db<'_>,
    sql: &str,
    args: &[Arg<'_>],
    map: impl FnMut(&Row) -> DbResult<T>,
) -> DbResult<Vec<T>> {
    conn.rows(sql, args)?.iter().map(map).collect()
}

/// Runs a statement through the cache; returns the rows changed.
fn exec(conn: &Db<'_>, sql: &str, args: &[Arg<'_>]) -> DbResult<u64> {
    conn.execute(sql, args)
}

fn exists(conn: &Db<'_>, sql: &str, args: &[Arg<'_>]) -> DbResult<bool> {
    Ok(one(conn, sql, args, |_| Ok(()))?.is_some())
}

pub(crate) fn insert_product(tx: &Db<'_>, code: &str, name: &str, api_key: &[u8]) -> DbResult<()> {
    let n = exec(
        tx,
        "INSERT INTO products (code, name, api_key) VALUES (?1, ?2, ?3) ON CONFLICT DO NOTHING",
        args![code, name, api_key],
    )?;
    if n == 0 {
        return Err(DbError::Exists(
            "product_exists",
            "a product with this code exists",
        ));
    }
    Ok(())
}

pub(crate) fn product_key(conn: &Db<'_>, code: &str) -> DbResult<Option<Vec<u8>>> {
    one(
        conn,
        "SELECT api_key FROM products WHERE code = ?1",
        args![code],
        |r| r.get(0),
    )
}

fn require_product(conn: &Db<'_>, product: &str) -> DbResult<()> {
    if exists(
        conn,
        "SELECT 1 FROM products WHERE code = ?1",
        args![product],
    )? {
        Ok(())
    } else {
        Err(DbError::NotFound("product_not_found", "no such product"))
    }
}

/// What a new license row holds.
pub(crate) struct NewLicense<'a> {
    pub id: &'a str,
    pub product: &'a str,
    pub license_key: &'a str,
    pub spec: &'a str,
    pub account: Option<&'a str>,
    pub definition: Option<&'a str>,
    pub max_users: u32,
}

pub(crate) fn insert_license(tx: &Db<'_>, l: &NewLicense<'_>) -> DbResult<()> {
    require_product(tx, l.product)?;
    let n = exec(
        tx,
        "INSERT INTO licenses
         (id, product, license_key, spec, account, definition, max_users)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7) ON CONFLICT DO NOTHING",
        args![
            l.id,
            l.product,
            l.license_key,
            l.spec,
            l.account,
            l.definition,
            l.max_users
        ],
    )?;
    if n == 0 {
        return Err(DbError::Exists(
            "license_exists",
            "a license with this id, or this key for the product, exists",
        ));
    }
    Ok(())
}

/// The product's license with this key, locked until the transaction
/// ends (see [`license_for_update`]), in the same statement.
pub(crate) fn locked_license_by_key(
    conn: &Db<'_>,
    product: &str,
    license_key: &str,
) -> DbResult<LicenseRow> {
    let sql = if conn.is_pg() {
        "SELECT {LICENSE_COLUMNS} FROM licenses WHERE product = ?1 AND license_key = ?2 FOR UPDATE"
    } else {
        "SELECT {LICENSE_COLUMNS} FROM licenses WHERE product = ?1 AND license_key = ?2"
    };
    one(
        conn,
        &sql.replace("{LICENSE_COLUMNS}", LICENSE_COLUMNS),
        args![product, license_key],
        license_from,
    )?
    .ok_or_else(|| {
        DbError::NotFound(
            "license_not_found",
            "no license with this key for the product",
        )
    })
}

pub(crate) fn license_by_id(conn: &Db<'_>, id: &str) -> DbResult<LicenseRow> {
    license_by_id_as(conn, id, false)
}

/// [`license_by_id`], locked until the transaction ends (see
/// [`license_for_update`]), in the same statement.
pub(crate) fn locked_license_by_id(conn: &Db<'_>, id: &str) -> DbResult<LicenseRow> {
    license_by_id_as(conn, id, true)
}

fn license_by_id_as(conn: &Db<'_>, id: &str, lock: bool) -> DbResult<LicenseRow> {
    let sql = if lock && conn.is_pg() {
        "SELECT {LICENSE_COLUMNS} FROM licenses WHERE id = ?1 FOR UPDATE"
    } else {
        "SELECT {LICENSE_COLUMNS} FROM licenses WHERE id = ?1"
    };
    one(
        conn,
        &sql.replace("{LICENSE_COLUMNS}", LICENSE_COLUMNS),
        args![id],
        license_from,
    )?
    .ok_or(DbError::NotFound("license_not_found", "no such license"))
}

/// Replaces a license's spec, users and account; bumps its revision.
pub(crate) fn update_license(
    tx: &Db<'_>,
    id: &str,
    spec: &str,
    max_users: u32,
    account: Option<&str>,
) -> DbResult<()> {
    exec(
        tx,
        "UPDATE licenses SET spec = ?2, max_users = ?3, account = ?4, revision = revision + 1
         WHERE id = ?1",
        args![id, spec, max_users, account],
    )?;
    Ok(())
}

pub(crate) fn set_features_off(tx: &Db<'_>, id: &str, features_off: &str) -> DbResult<()> {
    exec(
        tx,
        "UPDATE licenses SET features_off = ?2, revision = revision + 1 WHERE id = ?1",
        args![id, features_off],
    )?;
    Ok(())
}

pub(crate) fn set_enabled(tx: &Db<'_>, id: &str, enabled: bool) -> DbResult<()> {
    let n = exec(
        tx,
        "UPDATE licenses SET enabled = ?2 WHERE id = ?1",
        args![id, enabled],
    )?;
    if n == 0 {
        return Err(DbError::NotFound("license_not_found", "no such license"));
    }
    Ok(())
}

/// Devices the license is activated on (a counter kept with the rows, so
/// it costs no scan).
pub(crate) fn activation_count(conn: &Db<'_>, license_id: &str) -> DbResult<u32> {
    Ok(one(
        conn,
        "SELECT activations FROM licenses WHERE id = ?1",
        args![license_id],
        |r| r.get(0),
    )?
    .unwrap_or(0))
}

pub(crate) fn is_activated(conn: &Db<'_>, license_id: &str, device: &str) -> DbResult<bool> {
    exists(
        conn,
        "SELECT 1 FROM activations WHERE license_id = ?1 AND device = ?2",
        args![license_id, device],
    )
}

pub(crate) fn insert_activation(
    tx: &Db<'_>,
    license_id: &str,
    device: &str,
    fingerprint: &str,
    at: i64,
) -> DbResult<()> {
    let updated = exec(
        tx,
        "UPDATE activations SET fingerprint = ?3 WHERE license_id = ?1 AND device = ?2",
        args![license_id, device, fingerprint],
    )?;
    if updated > 0 {
        return Ok(());
    }
    exec(
        tx,
        "INSERT INTO activations (license_id, device, fingerprint, activated_at)
         VALUES (?1, ?2, ?3, ?4)",
        args![license_id, device, fingerprint, at],
    )?;
    exec(
        tx,
        "UPDATE licenses SET activations = activations + 1 WHERE id = ?1",
        args![license_id],
    )?;
    Ok(())
}

pub(crate) fn delete_activation(tx: &Db<'_>, license_id: &str, device: &str) -> DbResult<bool> {
    remove_device(tx, license_id, device, true)
}

/// Removes the device's activation and its seat; `transfer` counts it as
/// one of the license's transfers (a customer's deactivation does; the
/// vendor's support removing a lost machine does not).
pub(crate) fn remove_device(
    tx: &Db<'_>,
    license_id: &str,
    device: &str,
    transfer: bool,
) -> DbResult<bool> {
    let n = exec(
        tx,
        "DELETE FROM activations WHERE license_id = ?1 AND device = ?2",
        args![license_id, device],
    )?;
    if transfer {
        delete_lease(tx, license_id, device)?;
    } else {
        // Support removing a machine takes its borrowed seat back too.
        exec(
            tx,
            "DELETE FROM leases WHERE license_id = ?1 AND device = ?2",
            args![license_id, device],
        )?;
    }
    if n > 0 {
        exec(
            tx,
            "UPDATE licenses SET transfer_count = transfer_count + ?2,
             activations = activations - 1 WHERE id = ?1",
            args![license_id, i64::from(transfer)],
        )?;
    }
    Ok(n > 0)
}

/// A license's activated devices: id, fingerprint (JSON text) and when.
pub(crate) fn devices_of_license(
    conn: &Db<'_>,
    license_id: &str,
) -> DbResult<Vec<(String, String, i64)>> {
    all(
        conn,
        "SELECT device, fingerprint, activated_at FROM activations
         WHERE license_id = ?1 ORDER BY activated_at, device",
        args![license_id],
        |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
    )
}

/// Records one change made through the admin API.
pub(crate) fn audit(
    conn: &Db<'_>,
    at: i64,
    actor: &str,
    action: &str,
    status: u16,
) -> DbResult<()> {
    exec(
        conn,
        "INSERT INTO audit (at, actor, action, status) VALUES (?1, ?2, ?3, ?4)",
        args![at, actor, action, status],
    )?;
    Ok(())
}

/// The newest `limit` audit entries, newest first: (at, actor, action, status).
pub(crate) fn audit_log(conn: &Db<'_>, limit: u32) -> DbResult<Vec<(i64, String, String, u16)>> {
    all(
        conn,
        "SELECT at, actor, action, status FROM audit ORDER BY id DESC LIMIT ?1",
        args![limit],
        |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)),
    )
}

/// Seats held at `now` by devices other than `device`.
pub(crate) fn seats_held_by_others(
    conn: &Db<'_>,
    license_id: &str,
    device: &str,
    now: i64,
) -> DbResult<u32> {
    Ok(one(
        conn,
        "SELECT COUNT(*) FROM leases WHERE license_id = ?1 AND device != ?2 AND expires_at > ?3",
        args![license_id, device, now],
        |r| r.get(0),
    )?
    .unwrap_or(0))
}

pub(crate) fn seats_held(conn: &Db<'_>, license_id: &str, now: i64) -> DbResult<u32> {
    Ok(one(
        conn,
        "SELECT COUNT(*) FROM leases WHERE license_id = ?1 AND expires_at > ?2",
        args![license_id, now],
        |r| r.get(0),
    )?
    .unwrap_or(0))
}

/// Records the device's lease. A borrow that has not ended is never cut
/// short by a later lease of the same device: its seat stays counted until
/// its end (see [`delete_lease`]).
pub(crate) fn upsert_lease(
    tx: &Db<'_>,
    id: &str,
    license_id: &str,
    device: &str,
    kind: &str,
    expires_at: i64,
) -> DbResult<()> {
    exec(
        tx,
        "INSERT INTO leases (id, license_id, device, kind, expires_at) VALUES (?1, ?2, ?3, ?4, ?5)
         ON CONFLICT (license_id, device) DO UPDATE SET id = ?1,
           kind = CASE WHEN leases.kind = 'borrow' AND leases.expires_at > ?5 THEN 'borrow' ELSE ?4 END,
           expires_at = CASE WHEN leases.expires_at > ?5 THEN leases.expires_at ELSE ?5 END",
        args![id, license_id, device, kind, expires_at],
    )?;
    Ok(())
}

/// Renews `device`'s live lease to `expires_at`; false when it has none.
pub(crate) fn renew_lease(
    tx: &Db<'_>,
    id: &str,
    license_id: &str,
    device: &str,
    now: i64,
    expires_at: i64,
) -> DbResult<bool> {
    Ok(exec(
        tx,
        "UPDATE leases SET id = ?1, expires_at = ?5
         WHERE license_id = ?2 AND device = ?3 AND expires_at > ?4 AND kind = 'floating'",
        args![id, license_id, device, now, expires_at],
    )? > 0)
}

/// Frees the device's floating seat. A borrowed seat is not freed: it
/// stays counted until the borrow ends, returned early or not, because a
/// device can restore the borrow it gave back from a copy of its state
/// (SECURITY.md); it lapses at its `expires_at` like any lease.
pub(crate) fn delete_lease(tx: &Db<'_>, license_id: &str, device: &str) -> DbResult<bool> {
    Ok(exec(
        tx,
        "DELETE FROM leases WHERE license_id = ?1 AND device = ?2 AND kind != 'borrow'",
        args![license_id, device],
    )? > 0)
}

/// Inserts a consumption record for the device's journal range
/// `first_seq..=seq` unless one ending at `seq` exists; returns whether it
/// was new. A range (the device compacted its journal before the upload
/// was acknowledged) may cover records of the same counter sent before:
/// their amounts are in its total, so only the rest is added.
#[allow(clippy::too_many_arguments)]
pub(crate) fn insert_consumption(
    tx: &Db<'_>,
    license_id: &str,
    device: &str,
    first_seq: u64,
    seq: u64,
    counter: &str,
    amount: u64,
    at: i64,
) -> DbResult<bool> {
    let too_large = |what| DbError::Invalid(format!("{what} is too large"));
    let seq = i64::try_from(seq).map_err(|_| too_large("seq"))?;
    let first = i64::try_from(first_seq).map_err(|_| too_large("first_seq"))?;
    let amount = i64::try_from(amount).map_err(|_| too_large("amount"))?;
    if first > seq {
        return Err(DbError::Invalid("first_seq is after seq".to_owned()));
    }
    if exists(
        tx,
        "SELECT 1 FROM consumption WHERE license_id = ?1 AND device = ?2 AND seq = ?3",
        args![license_id, device, seq],
    )? {
        return Ok(false);
    }
    let covered: i64 = one(
        tx,
        "SELECT CAST(COALESCE(SUM(amount), 0) AS BIGINT) FROM consumption
         WHERE license_id = ?1 AND device = ?2 AND counter = ?3
           AND COALESCE(first_seq, seq) >= ?4 AND seq <= ?5",
        args![license_id, device, counter, first, seq],
        |r| r.get(0),
    )?
    .unwrap_or(0);
    if covered > amount {
        return Err(DbError::Invalid(
            "the range's amount is less than the records it covers".to_owned(),
        ));
    }
    // Every counter's total stays within i64, so no later SUM overflows
    // (one device's 2^63-1 once broke every upload of the counter).
    let total: i64 = one(
        tx,
        "SELECT CAST(COALESCE(SUM(amount), 0) AS BIGINT) FROM consumption WHERE license_id = ?1 AND counter = ?2",
        args![license_id, counter],
        |r| r.get(0),
    )?
    .unwrap_or(0);
    if total.checked_add(amount - covered).is_none() {
        return Err(DbError::Exists(
            "consumption_limit",
            "the counter's total would pass 2^63-1",
        ));
    }
    exec(
        tx,
        "INSERT INTO consumption (license_id, device, seq, counter, amount, at, first_seq)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
        args![
            license_id,
            device,
            seq,
            counter,
            amount - covered,
            at,
            first
        ],
    )?;
    Ok(true)
}

/// Every counter's total for a license.
pub(crate) fn consumption_totals(conn: &Db<'_>, license_id: &str) -> DbResult<Vec<(String, i64)>> {
    all(
        conn,
        "SELECT counter, CAST(SUM(amount) AS BIGINT) FROM consumption WHERE license_id = ?1
         GROUP BY counter ORDER BY counter",
        args![license_id],
        |r| Ok((r.get(0)?, r.get(1)?)),
    )
}

/// A counter's total over the records received since `since` (Unix
/// seconds; `i64::MIN` for all of them): the current period of a counter
/// that resets, or its whole life.
pub(crate) fn consumed(
    conn: &Db<'_>,
    license_id: &str,
    counter: &str,
    since: i64,
) -> DbResult<u64> {
    let total: i64 = one(
        conn,
        "SELECT CAST(COALESCE(SUM(amount), 0) AS BIGINT) FROM consumption
         WHERE license_id = ?1 AND counter = ?2 AND at >= ?3",
        args![license_id, counter, since],
        |r| r.get(0),
    )?
    .unwrap_or(0);
    Ok(u64::try_from(total).unwrap_or(0))
}

// ---- license definitions ----

/// A license definition: a template spec licenses are made from.
#[derive(Debug, Clone)]
pub(crate) struct DefinitionRow {
    pub product: String,
    pub code: String,
    pub name: String,
    pub spec: String,
    pub trial_days: Option<u32>,
}

fn definition_from(r: &Row) -> DbResult<DefinitionRow> {
    Ok(DefinitionRow {
        product: r.get(0)?,
        code: r.get(1)?,
        name: r.get(2)?,
        spec: r.get(3)?,
        trial_days: r.get(4)?,
    })
}

pub(crate) fn insert_definition(tx: &Db<'_>, d: &DefinitionRow) -> DbResult<()> {
    require_product(tx, &d.product)?;
    let n = exec(
        tx,
        "INSERT INTO definitions (product, code, name, spec, trial_days)
         VALUES (?1, ?2, ?3, ?4, ?5) ON CONFLICT DO NOTHING",
        args![d.product, d.code, d.name, d.spec, d.trial_days],
    )?;
    if n == 0 {
        return Err(DbError::Exists(
            "definition_exists",
            "the product has a definition with this code",
        ));
    }
    Ok(())
}

pub(crate) fn definition(
    conn: &Db<'_>,
    product: &str,
    code: &str,
) -> DbResult<Option<DefinitionRow>> {
    one(
        conn,
        "SELECT product, code, name, spec, trial_days FROM definitions
         WHERE product = ?1 AND code = ?2",
        args![product, code],
        definition_from,
    )
}

/// A product's definitions (every product's when `product` is None).
pub(crate) fn definitions(conn: &Db<'_>, product: Option<&str>) -> DbResult<Vec<DefinitionRow>> {
    all(
        conn,
        "SELECT product, code, name, spec, trial_days FROM definitions
         WHERE CAST(?1 AS TEXT) IS NULL OR product = ?1 ORDER BY product, code",
        args![product],
        definition_from,
    )
}

/// The product's trial definition (the first by code that has trial days).
pub(crate) fn trial_definition(conn: &Db<'_>, product: &str) -> DbResult<Option<DefinitionRow>> {
    one(
        conn,
        "SELECT product, code, name, spec, trial_days FROM definitions
         WHERE product = ?1 AND trial_days IS NOT NULL ORDER BY code LIMIT 1",
        args![product],
        definition_from,
    )
}

// ---- trials ----

pub(crate) fn trial_of(conn: &Db<'_>, product: &str, device: &str) -> DbResult<Option<String>> {
    one(
        conn,
        "SELECT license_id FROM trials WHERE product = ?1 AND device = ?2",
        args![product, device],
        |r| r.get(0),
    )
}

/// The trial taken by a device that shares one of `components` (name and
/// hash pairs that name a machine) with the device, if any.
pub(crate) fn trial_by_components<'a>(
    conn: &Db<'_>,
    product: &str,
    components: impl IntoIterator<Item = (&'a str, &'a str)>,
) -> DbResult<Option<String>> {
    for (component, hash) in components {
        let found = one(
            conn,
            "SELECT license_id FROM trial_components \
             WHERE product = ?1 AND component = ?2 AND hash = ?3",
            args![product, component, hash],
            |r| r.get(0),
        )?;
        if found.is_some() {
            return Ok(found);
        }
    }
    Ok(None)
}

/// Records the trial `license_id` of `device` (its fingerprint id) and of
/// the `components` that name its machine.
pub(crate) fn insert_trial<'a>(
    tx: &Db<'_>,
    product: &str,
    device: &str,
    components: impl IntoIterator<Item = (&'a str, &'a str)>,
    license_id: &str,
) -> DbResult<()> {
    exec(
        tx,
        "INSERT INTO trials (product, device, license_id) VALUES (?1, ?2, ?3)",
        args![product, device, license_id],
    )?;
    for (component, hash) in components {
        exec(
            tx,
            "INSERT INTO trial_components (product, component, hash, license_id) \
             VALUES (?1, ?2, ?3, ?4) ON CONFLICT DO NOTHING",
            args![product, component, hash, license_id],
        )?;
    }
    Ok(())
}

// ---- users ----

pub(crate) fn insert_user(tx: &Db<'_>, u: &UserRow, created_at: i64) -> DbResult<()> {
    let n = exec(
        tx,
        "INSERT INTO users
         (id, username, email, first_name, last_name, password_hash, created_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7) ON CONFLICT DO NOTHING",
        args![
            u.id,
            u.username,
            u.email,
            u.first_name,
            u.last_name,
            u.password_hash,
            created_at
        ],
    )?;
    if n == 0 {
        return Err(DbError::Exists(
            "user_exists",
            "a user with this username exists",
        ));
    }
    Ok(())
}

pub(crate) fn user_by_username(conn: &Db<'_>, username: &str) -> DbResult<Option<UserRow>> {
    one(
        conn,
        &format!("SELECT {USER_COLUMNS} FROM users WHERE username = ?1"),
        args![username],
        user_from,
    )
}

pub(crate) fn user_by_id(conn: &Db<'_>, id: &str) -> DbResult<Option<UserRow>> {
    one(
        conn,
        &format!("SELECT {USER_COLUMNS} FROM users WHERE id = ?1"),
        args![id],
        user_from,
    )
}

/// A page of users by username, and how many there are in all.
pub(crate) fn users_page(conn: &Db<'_>, offset: u64, limit: u64) -> DbResult<(Vec<UserRow>, u64)> {
    let (offset, limit) = (
        i64::try_from(offset).unwrap_or(i64::MAX),
        i64::try_from(limit).unwrap_or(i64::MAX),
    );
    let rows = all(
        conn,
        &format!("SELECT {USER_COLUMNS} FROM users ORDER BY username LIMIT ?1 OFFSET ?2"),
        args![limit, offset],
        user_from,
    )?;
    let total: i64 = one(conn, "SELECT COUNT(*) FROM users", args![], |r| r.get(0))?.unwrap_or(0);
    Ok((rows, u64::try_from(total).unwrap_or(0)))
}

/// The ids of the licenses assigned to a user.
pub(crate) fn license_ids_of_user(conn: &Db<'_>, user_id: &str) -> DbResult<Vec<String>> {
    all(
        conn,
        "SELECT license_id FROM user_licenses WHERE user_id = ?1 ORDER BY license_id",
        args![user_id],
        |r| r.get(0),
    )
}

/// The user's licenses for a product.
pub(crate) fn licenses_of_user(
    conn: &Db<'_>,
    user_id: &str,
    product: &str,
) -> DbResult<Vec<LicenseRow>> {
    all(
        conn,
        &format!(
            "SELECT {LICENSE_COLUMNS} FROM licenses WHERE product = ?2 AND id IN
             (SELECT license_id FROM user_licenses WHERE user_id = ?1) ORDER BY id"
        ),
        args![user_id, product],
        license_from,
    )
}

pub(crate) fn is_assigned(conn: &Db<'_>, user_id: &str, license_id: &str) -> DbResult<bool> {
    exists(
        conn,
        "SELECT 1 FROM user_licenses WHERE user_id = ?1 AND license_id = ?2",
        args![user_id, license_id],
    )
}

pub(crate) fn assigned_count(conn: &Db<'_>, license_id: &str) -> DbResult<u32> {
    Ok(one(
        conn,
        "SELECT COUNT(*) FROM user_licenses WHERE license_id = ?1",
        args![license_id],
        |r| r.get(0),
    )?
    .unwrap_or(0))
}

/// Assigns a license to a user; false when it already was.
pub(crate) fn assign(tx: &Db<'_>, user_id: &str, license_id: &str) -> DbResult<bool> {
    Ok(exec(
        tx,
        "INSERT INTO user_licenses (user_id, license_id) VALUES (?1, ?2) ON CONFLICT DO NOTHING",
        args![user_id, license_id],
    )? > 0)
}

/// Revokes a license from a user; false when it was not assigned.
pub(crate) fn revoke(tx: &Db<'_>, user_id: &str, license_id: &str) -> DbResult<bool> {
    Ok(exec(
        tx,
        "DELETE FROM user_licenses WHERE user_id = ?1 AND license_id = ?2",
        args![user_id, license_id],
    )? > 0)
}

/// An account's licenses made from a definition (a bundle code).
pub(crate) fn licenses_of_account(
    conn: &Db<'_>,
    account: &str,
    definition: &str,
) -> DbResult<Vec<LicenseRow>> {
    all(
        conn,
        &format!(
            "SELECT {LICENSE_COLUMNS} FROM licenses WHERE account = ?1 AND definition = ?2
             ORDER BY id"
        ),
        args![account, definition],
        license_from,
    )
}

// ---- offline requests ----

/// The keys an activation records: the device key its offline requests
/// are signed with, and the key of its online proofs.
#[derive(Debug, Clone, Copy)]
pub(crate) enum ActivationKey {
    /// The key of an offline activation's request files.
    Offline,
    /// The key of the device's online proofs, recorded at an online
    /// activation.
    Proof,
}

impl ActivationKey {
    fn column(self) -> &'static str {
        match self {
            ActivationKey::Offline => "device_key",
            ActivationKey::Proof => "proof_key",
        }
    }
}

/// The `which` key recorded for the activation of the license on `device`.
pub(crate) fn activation_key(
    conn: &Db<'_>,
    which: ActivationKey,
    license_id: &str,
    device: &str,
) -> DbResult<Option<String>> {
    let sql = format!(
        "SELECT {} FROM activations WHERE license_id = ?1 AND device = ?2",
        which.column()
    );
    Ok(one(conn, &sql, args![license_id, device], |r| {
        r.get::<Option<String>>(0)
    })?
    .flatten())
}

pub(crate) fn set_activation_key(
    tx: &Db<'_>,
    which: ActivationKey,
    license_id: &str,
    device: &str,
    key: &str,
) -> DbResult<()> {
    let sql = format!(
        "UPDATE activations SET {} = ?3 WHERE license_id = ?1 AND device = ?2",
        which.column()
    );
    exec(tx, &sql, args![license_id, device, key])?;
    Ok(())
}

/// How many devices each user of the license may activate (0: no limit
/// of its own).
pub(crate) fn max_devices_per_user(conn: &Db<'_>, license_id: &str) -> DbResult<u32> {
    Ok(one(
        conn,
        "SELECT max_devices_per_user FROM licenses WHERE id = ?1",
        args![license_id],
        |r| r.get(0),
    )?
    .unwrap_or(0))
}

pub(crate) fn set_max_devices_per_user(tx: &Db<'_>, license_id: &str, max: u32) -> DbResult<()> {
    exec(
        tx,
        "UPDATE licenses SET max_devices_per_user = ?2 WHERE id = ?1",
        args![license_id, max],
    )?;
    Ok(())
}

/// The devices other than `except` that `user_id` activated the license on.
pub(crate) fn user_device_count(
    conn: &Db<'_>,
    license_id: &str,
    user_id: &str,
    except: &str,
) -> DbResult<u32> {
    Ok(one(
        conn,
        "SELECT COUNT(*) FROM activations WHERE license_id = ?1 AND user_id = ?2 AND device != ?3",
        args![license_id, user_id, except],
        |r| r.get(0),
    )?
    .unwrap_or(0))
}

pub(crate) fn set_activation_user(
    tx: &Db<'_>,
    license_id: &str,
    device: &str,
    user_id: &str,
) -> DbResult<()> {
    exec(
        tx,
        "UPDATE activations SET user_id = ?3 WHERE license_id = ?1 AND device = ?2",
        args![license_id, device, user_id],
    )?;
    Ok(())
}

/// Records an offline request as answered; false when it already was.
pub(crate) fn record_offline_request(tx: &Db<'_>, id: &str, at: i64) -> DbResult<bool> {
    Ok(exec(
        tx,
        "INSERT INTO offline_requests (id, at) VALUES (?1, ?2) ON CONFLICT DO NOTHING",
        args![id, at],
    )? > 0)
}

/// The users a license is assigned to.
pub(crate) fn users_of_license(conn: &Db<'_>, license_id: &str) -> DbResult<Vec<UserRow>> {
    all(
        conn,
        &format!(
            "SELECT {USER_COLUMNS} FROM users WHERE id IN
             (SELECT user_id FROM user_licenses WHERE license_id = ?1) ORDER BY username"
        ),
        args![license_id],
        user_from,
    )
}

/// `WHERE` over `filters` (every one must hold), numbering the values
/// from `?1`; each column must be one of `columns` (the caller's names are
/// never spliced into SQL unchecked).
fn filtered<'a>(
    filters: &[(&'static str, &'a str)],
    columns: &[&str],
) -> DbResult<(String, Vec<Arg<'a>>)> {
    let mut conditions = Vec::new();
    let mut values = Vec::new();
    for (column, value) in filters {
        if !columns.contains(column) {
            return Err(DbError::Invalid(format!("cannot filter on {column}")));
        }
        values.push(Arg::Text(value));
        conditions.push(format!("{column} = ?{}", values.len()));
    }
    let clause = if conditions.is_empty() {
        String::new()
    } else {
        format!(" WHERE {}", conditions.join(" AND "))
    };
    Ok((clause, values))
}

/// The licenses matching every filter (on `id` or `product`), by id, at
/// most `limit`.
pub(crate) fn licenses_matching(
    conn: &Db<'_>,
    filters: &[(&'static str, &str)],
    limit: u32,
) -> DbResult<Vec<LicenseRow>> {
    let (clause, mut values) = filtered(filters, &["id", "product"])?;
    values.push(Arg::Int(i64::from(limit)));
    let sql = format!(
        "SELECT {LICENSE_COLUMNS} FROM licenses{clause} ORDER BY id LIMIT ?{}",
        values.len()
    );
    all(conn, &sql, &values, license_from)
}

/// The (license id, user id) assignments matching every filter (on
/// `license_id` or `user_id`), by license then user, at most `limit`.
pub(crate) fn assignments_matching(
    conn: &Db<'_>,
    filters: &[(&'static str, &str)],
    limit: u32,
) -> DbResult<Vec<(String, String)>> {
    let (clause, mut values) = filtered(filters, &["license_id", "user_id"])?;
    values.push(Arg::Int(i64::from(limit)));
    let sql = format!(
        "SELECT license_id, user_id FROM user_licenses{clause} \
         ORDER BY license_id, user_id LIMIT ?{}",
        values.len()
    );
    all(conn, &sql, &values, |r| Ok((r.get(0)?, r.get(1)?)))
}

/// The devices `user_id` activated license `license_id` on, the latest
/// first.
pub(crate) fn user_devices(
    conn: &Db<'_>,
    license_id: &str,
    user_id: &str,
) -> DbResult<Vec<String>> {
    all(
        conn,
        "SELECT device FROM activations WHERE license_id = ?1 AND user_id = ?2 \
         ORDER BY activated_at DESC, device",
        args![license_id, user_id],
        |r| r.get(0),
    )
}

/// When `device`'s borrowed seat of license `license_id` ends, if it holds
/// one that has not lapsed at `now`.
pub(crate) fn borrowed_until(
    conn: &Db<'_>,
    license_id: &str,
    device: &str,
    now: i64,
) -> DbResult<Option<i64>> {
    one(
        conn,
        "SELECT expires_at FROM leases WHERE license_id = ?1 AND device = ?2 \
         AND kind = 'borrow' AND expires_at > ?3",
        args![license_id, device, now],
        |r| r.get(0),
    )
}

/// One published release of a product.
#[derive(Debug, Clone)]
pub(crate) struct ReleaseRow {
    pub product: String,
    pub channel: String,
    pub version: String,
    pub environment: String,
    /// Unix seconds.
    pub release_date: i64,
    pub requires_version: String,
    pub installation_file: String,
    pub hash_md5: String,
    pub size: u64,
    pub eula_link: String,
    pub release_notes_link: String,
}

const RELEASE_COLUMNS: &str = "product, channel, version, environment, release_date, \
     requires_version, installation_file, hash_md5, size, eula_link, release_notes_link";

fn release_from(r: &Row) -> DbResult<ReleaseRow> {
    Ok(ReleaseRow {
        product: r.get(0)?,
        channel: r.get(1)?,
        version: r.get(2)?,
        environment: r.get(3)?,
        release_date: r.get(4)?,
        requires_version: r.get(5)?,
        installation_file: r.get(6)?,
        hash_md5: r.get(7)?,
        size: r.get(8)?,
        eula_link: r.get(9)?,
        release_notes_link: r.get(10)?,
    })
}

/// Publishes a release; [`DbError::Exists`] when the product has this
/// version in this channel already.
pub(crate) fn insert_release(tx: &Db<'_>, r: &ReleaseRow) -> DbResult<()> {
    require_product(tx, &r.product)?;
    let size = i64::try_from(r.size).map_err(|_| DbError::Invalid("size is too large".into()))?;
    let added = exec(
        tx,
        &format!(
            "INSERT INTO releases ({RELEASE_COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11) \
             ON CONFLICT DO NOTHING"
        ),
        args![
            r.product.as_str(),
            r.channel.as_str(),
            r.version.as_str(),
            r.environment.as_str(),
            r.release_date,
            r.requires_version.as_str(),
            r.installation_file.as_str(),
            r.hash_md5.as_str(),
            size,
            r.eula_link.as_str(),
            r.release_notes_link.as_str()
        ],
    )?;
    if added == 0 {
        return Err(DbError::Exists(
            "release_exists",
            "the product has this version in this channel already",
        ));
    }
    Ok(())
}

/// A product's releases, in one channel or all.
pub(crate) fn releases_of(
    conn: &Db<'_>,
    product: &str,
    channel: Option<&str>,
) -> DbResult<Vec<ReleaseRow>> {
    match channel {
        Some(c) => all(
            conn,
            &format!("SELECT {RELEASE_COLUMNS} FROM releases WHERE product = ?1 AND channel = ?2"),
            args![product, c],
            release_from,
        ),
        None => all(
            conn,
            &format!("SELECT {RELEASE_COLUMNS} FROM releases WHERE product = ?1"),
            args![product],
            release_from,
        ),
    }
}

/// A customer account's identity provider, as stored. Not `Debug`: it
/// holds the client secret.
#[derive(Clone)]
pub(crate) struct SsoRow {
    pub account: String,
    pub issuer: String,
    pub client_id: String,
    pub client_secret: String,
    pub jwks_uri: String,
    pub token_endpoint: String,
    pub redirect_uri: String,
    pub username_claim: String,
}

const SSO_COLUMNS: &str =
    "account, issuer, client_id, client_secret, jwks_uri, token_endpoint, redirect_uri, username_claim";

/// Sets (or replaces) an account's identity provider.
pub(crate) fn set_sso(tx: &Db<'_>, s: &SsoRow) -> DbResult<()> {
    exec(
        tx,
        "DELETE FROM account_sso WHERE account = ?1",
        args![s.account.as_str()],
    )?;
    exec(
        tx,
        &format!("INSERT INTO account_sso ({SSO_COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)"),
        args![
            s.account.as_str(),
            s.issuer.as_str(),
            s.client_id.as_str(),
            s.client_secret.as_str(),
            s.jwks_uri.as_str(),
            s.token_endpoint.as_str(),
            s.redirect_uri.as_str(),
            s.username_claim.as_str()
        ],
    )?;
    Ok(())
}

/// An account's identity provider, if one is set.
pub(crate) fn sso(conn: &Db<'_>, account: &str) -> DbResult<Option<SsoRow>> {
    one(
        conn,
        &format!("SELECT {SSO_COLUMNS} FROM account_sso WHERE account = ?1"),
        args![account],
        |r| {
            Ok(SsoRow {
                account: r.get(0)?,
                issuer: r.get(1)?,
                client_id: r.get(2)?,
                client_secret: r.get(3)?,
                jwks_uri: r.get(4)?,
                token_endpoint: r.get(5)?,
                redirect_uri: r.get(6)?,
                username_claim: r.get(7)?,
            })
        },
    )
}
