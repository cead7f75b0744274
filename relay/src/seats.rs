//! What the relay granted, kept in SQLite (WAL, `synchronous=NORMAL`: a
//! committed grant survives `kill -9`; only a power loss may drop the last
//! ones, docs/RELAY.md). Every grant is one `IMMEDIATE` transaction that
//! counts the live leases, so two relays' processes on one folder, or two
//! threads, never grant the same last seat twice.
//!
//! Tables: `devices` (activated through the relay, with the key of their
//! request proofs), `leases` (one per device at most; a lease holds a seat
//! until `expires_at`, a returned borrow too), `usage` (per UTC day:
//! seat-seconds, peak concurrent seats, grants and denials) and `meta`
//! (the clock's high-water mark, the lease counter).

use std::path::Path;

use rusqlite::{params, Connection, OptionalExtension as _, TransactionBehavior};
use serde::Serialize;
use tessera::LeaseKind;

use crate::Failure;

/// How far the clock may go back before grants stop (as the SDK's
/// default tolerance: DST and NTP steps do not trip it).
pub const CLOCK_TOLERANCE_SECS: i64 = 3600;

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS devices (
    fingerprint TEXT PRIMARY KEY,
    device_key TEXT NOT NULL,
    components TEXT NOT NULL,
    user TEXT NOT NULL DEFAULT '',
    activated_at INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS leases (
    id TEXT PRIMARY KEY,
    seq INTEGER NOT NULL UNIQUE,
    fingerprint TEXT NOT NULL UNIQUE,
    kind TEXT NOT NULL,
    since INTEGER NOT NULL,
    issued_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL,
    counted_to INTEGER NOT NULL,
    returned INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS leases_by_end ON leases (expires_at);
CREATE TABLE IF NOT EXISTS usage (
    day INTEGER PRIMARY KEY,
    seat_seconds INTEGER NOT NULL DEFAULT 0,
    peak INTEGER NOT NULL DEFAULT 0,
    grants INTEGER NOT NULL DEFAULT 0,
    denials INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS meta (
    name TEXT PRIMARY KEY,
    value INTEGER NOT NULL
);
";

/// How often the clock's high-water mark is written back: a restart with
/// the clock set back regains at most this much (within the tolerance).
const PERSIST_MARK_SECS: i64 = 60;

/// The relay's state.
pub struct Seats {
    conn: Connection,
    /// The clock's high-water mark (Unix seconds; 0: none yet) and the
    /// value last written to `meta`.
    mark: i64,
    persisted: i64,
}

/// What a grant asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ask {
    /// A floating seat, new or renewed.
    Register,
    /// A renewal of the floating seat held (none held: [`Refusal::NoLease`]).
    Heartbeat,
    /// A borrow: the seat held becomes one, or a free seat does.
    Borrow,
}

/// Why a grant was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    /// Every seat is held.
    NoSeat {
        /// The seats the delegation allows.
        seats: u32,
    },
    /// The device holds no lease to renew.
    NoLease,
    /// The clock is behind the relay's high-water mark.
    Clock {
        /// By how many seconds.
        behind: i64,
    },
    /// The state failed.
    State(String),
}

impl From<rusqlite::Error> for Refusal {
    fn from(e: rusqlite::Error) -> Refusal {
        Refusal::State(e.to_string())
    }
}

/// A lease granted, as the relay signs it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Granted {
    /// The lease's id.
    pub id: String,
    /// floating or borrow.
    pub kind: LeaseKind,
    /// When granted (this renewal).
    pub issued_at: i64,
    /// When it ends.
    pub expires_at: i64,
    /// Seats held now, this one included (not counted for a renewal, as
    /// the server's heartbeat does not count them).
    pub in_use: Option<u32>,
}

/// A lease as the relay's administrator sees it.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Held {
    /// The lease's id.
    pub id: String,
    /// The device's fingerprint id.
    pub device: String,
    /// The user the product named at activation, if any.
    pub user: String,
    /// `floating` or `borrow`.
    pub kind: String,
    /// Held since (Unix seconds).
    pub since: i64,
    /// Ends (Unix seconds): a borrowed seat comes back then.
    pub expires_at: i64,
    /// A borrow given back early: still counted until it ends.
    pub returned: bool,
}

/// One day's usage.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Day {
    /// The UTC day (Unix seconds / 86400).
    pub day: i64,
    /// Seat-seconds held.
    pub seat_seconds: i64,
    /// The most seats held at once.
    pub peak: u32,
    /// Seats granted (new, not renewals).
    pub grants: u32,
    /// Requests refused for lack of a seat.
    pub denials: u32,
}

fn kind_name(kind: LeaseKind) -> &'static str {
    match kind {
        LeaseKind::Floating => "floating",
        LeaseKind::Borrow => "borrow",
    }
}

fn kind_of(name: &str) -> LeaseKind {
    if name == "borrow" {
        LeaseKind::Borrow
    } else {
        LeaseKind::Floating
    }
}

impl Seats {
    /// Opens (creating) the state at `path`.
    pub fn open(path: &Path) -> Result<Seats, Failure> {
        let conn = Connection::open(path)?;
        conn.pragma_update(None, "journal_mode", "WAL")?;
        conn.pragma_update(None, "synchronous", "NORMAL")?;
        conn.busy_timeout(std::time::Duration::from_secs(10))?;
        conn.execute_batch(SCHEMA)?;
        conn.set_prepared_statement_cache_capacity(32);
        let mark = meta(&conn, "clock")?.unwrap_or(0);
        Ok(Seats {
            conn,
            mark,
            persisted: mark,
        })
    }

    /// Records a device activated through the relay (again: its key is
    /// replaced, as a reactivation replaces it on the vendor's server).
    pub fn activate(
        &mut self,
        fingerprint: &str,
        device_key: &str,
        components: &str,
        user: &str,
        now: i64,
    ) -> Result<(), Refusal> {
        self.conn.execute(
            "INSERT INTO devices (fingerprint, device_key, components, user, activated_at)
             VALUES (?1, ?2, ?3, ?4, ?5)
             ON CONFLICT (fingerprint) DO UPDATE SET device_key = ?2, components = ?3, user = ?4",
            params![fingerprint, device_key, components, user, now],
        )?;
        Ok(())
    }

    /// The key of a device's request proofs.
    /// (Read each time, not cached: `free` in another process forgets a
    /// device while the relay runs.)
    pub fn device_key(&self, fingerprint: &str) -> Result<Option<String>, Refusal> {
        Ok(self
            .conn
            .prepare_cached("SELECT device_key FROM devices WHERE fingerprint = ?1")?
            .query_row(params![fingerprint], |r| r.get(0))
            .optional()?)
    }

    /// Forgets a device and gives back its floating seat (a borrowed one
    /// stays counted until it ends).
    pub fn deactivate(&mut self, fingerprint: &str, now: i64) -> Result<(), Refusal> {
        self.release(fingerprint, now)?;
        self.conn.execute(
            "DELETE FROM devices WHERE fingerprint = ?1",
            params![fingerprint],
        )?;
        Ok(())
    }

    /// Grants, renews or converts the seat of `fingerprint` for
    /// `length_secs` (a floating lease) or `borrow_secs` (a borrow), never
    /// past `end`, within `seats` at once.
    pub fn grant(
        &mut self,
        fingerprint: &str,
        ask: Ask,
        length_secs: i64,
        seats: u32,
        end: i64,
        now: i64,
    ) -> Result<Granted, Refusal> {
        if self.mark > 0 && now < self.mark - CLOCK_TOLERANCE_SECS {
            return Err(Refusal::Clock {
                behind: self.mark - now,
            });
        }
        let expires_at = now.saturating_add(length_secs).min(end);
        // The common case, a floating seat renewed within the day it was
        // last counted in: one statement, nothing counted (the seat is
        // held already), the clock's mark written back once a minute.
        if ask != Ask::Borrow && now < self.persisted + PERSIST_MARK_SECS {
            let day_start = now.div_euclid(86_400) * 86_400;
            let renewed: Option<String> = self
                .conn
                .prepare_cached(
                    "UPDATE leases SET issued_at = ?2, expires_at = ?3
                     WHERE fingerprint = ?1 AND kind = 'floating' AND expires_at > ?2 AND counted_to >= ?4
                     RETURNING id",
                )?
                .query_row(params![fingerprint, now, expires_at, day_start], |r| r.get(0))
                .optional()?;
            if let Some(id) = renewed {
                self.mark = self.mark.max(now);
                return Ok(Granted {
                    id,
                    kind: LeaseKind::Floating,
                    issued_at: now,
                    expires_at,
                    in_use: None,
                });
            }
        }
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        let mark = meta(&tx, "clock")?.unwrap_or(now).max(self.mark);
        if now < mark - CLOCK_TOLERANCE_SECS {
            return Err(Refusal::Clock { behind: mark - now });
        }
        let new_mark = mark.max(now);
        set_meta(&tx, "clock", new_mark)?;
        sweep(&tx, now)?;
        let held: Option<(String, String, i64)> = tx
            .query_row(
                "SELECT id, kind, counted_to FROM leases WHERE fingerprint = ?1",
                params![fingerprint],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
            )
            .optional()?;
        let granted = match (ask, held) {
            // A borrow held answers a register as it is: the seat is the
            // device's until the borrow ends.
            (Ask::Register | Ask::Heartbeat, Some((id, kind, _))) if kind == "borrow" => {
                let (issued_at, expires_at): (i64, i64) = tx.query_row(
                    "SELECT issued_at, expires_at FROM leases WHERE id = ?1",
                    params![id],
                    |r| Ok((r.get(0)?, r.get(1)?)),
                )?;
                Granted {
                    id,
                    kind: LeaseKind::Borrow,
                    issued_at,
                    expires_at,
                    in_use: None,
                }
            }
            (_, Some((id, _, counted_to))) => {
                let kind = if ask == Ask::Borrow {
                    LeaseKind::Borrow
                } else {
                    LeaseKind::Floating
                };
                add_usage(&tx, now, now.saturating_sub(counted_to).max(0), 0, 0)?;
                tx.execute(
                    "UPDATE leases SET kind = ?2, issued_at = ?3, expires_at = ?4, counted_to = ?3, returned = 0
                     WHERE id = ?1",
                    params![id, kind_name(kind), now, expires_at],
                )?;
                Granted {
                    id,
                    kind,
                    issued_at: now,
                    expires_at,
                    in_use: None,
                }
            }
            (Ask::Heartbeat, None) => return Err(Refusal::NoLease),
            (_, None) => {
                let in_use = live(&tx, now)?;
                if in_use >= seats {
                    add_usage(&tx, now, 0, 0, 1)?;
                    tx.commit()?;
                    (self.mark, self.persisted) = (new_mark, new_mark);
                    return Err(Refusal::NoSeat { seats });
                }
                let seq = meta(&tx, "seq")?.unwrap_or(0).saturating_add(1);
                set_meta(&tx, "seq", seq)?;
                let random = crate::home::random::<6>().map_err(Refusal::State)?;
                let id = format!("R-{seq}-{}", crate::home::hex(&random));
                let kind = if ask == Ask::Borrow {
                    LeaseKind::Borrow
                } else {
                    LeaseKind::Floating
                };
                tx.execute(
                    "INSERT INTO leases (id, seq, fingerprint, kind, since, issued_at, expires_at, counted_to)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?5, ?6, ?5)",
                    params![id, seq, fingerprint, kind_name(kind), now, expires_at],
                )?;
                add_usage(&tx, now, 0, 1, 0)?;
                Granted {
                    id,
                    kind,
                    issued_at: now,
                    expires_at,
                    in_use: None,
                }
            }
        };
        let in_use = live(&tx, now)?;
        let day = now.div_euclid(86_400);
        tx.execute(
            "INSERT INTO usage (day, peak) VALUES (?1, ?2)
             ON CONFLICT (day) DO UPDATE SET peak = MAX(peak, ?2)",
            params![day, in_use],
        )?;
        tx.commit()?;
        (self.mark, self.persisted) = (new_mark, new_mark);
        Ok(Granted {
            in_use: Some(in_use),
            ..granted
        })
    }

    /// Gives back the seat of `fingerprint`: a floating seat at once; a
    /// borrow is marked returned and stays counted until it would have
    /// ended (a copy of the device's state could still use it offline).
    pub fn release(&mut self, fingerprint: &str, now: i64) -> Result<(), Refusal> {
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        let held: Option<(String, String, i64)> = tx
            .query_row(
                "SELECT id, kind, counted_to FROM leases WHERE fingerprint = ?1 AND expires_at > ?2",
                params![fingerprint, now],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
            )
            .optional()?;
        if let Some((id, kind, counted_to)) = held {
            add_usage(&tx, now, now.saturating_sub(counted_to).max(0), 0, 0)?;
            if kind == "borrow" {
                tx.execute(
                    "UPDATE leases SET returned = 1, counted_to = ?2 WHERE id = ?1",
                    params![id, now],
                )?;
            } else {
                tx.execute("DELETE FROM leases WHERE id = ?1", params![id])?;
            }
        }
        tx.commit()?;
        Ok(())
    }

    /// The administrator frees a seat by lease id or device, whatever its
    /// kind (a borrowed device keeps its lease offline until it ends: the
    /// administrator answers for that). Named by its device, the device is
    /// forgotten too: it activates again, under a new key if it lost its
    /// own (a reinstall). Whether anything was freed.
    pub fn free(&mut self, lease_or_device: &str, now: i64) -> Result<bool, Refusal> {
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        let held: Option<(String, i64)> = tx
            .query_row(
                "SELECT id, counted_to FROM leases WHERE id = ?1 OR fingerprint = ?1",
                params![lease_or_device],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .optional()?;
        let mut freed = false;
        if let Some((id, counted_to)) = held {
            add_usage(&tx, now, now.saturating_sub(counted_to).max(0), 0, 0)?;
            tx.execute("DELETE FROM leases WHERE id = ?1", params![id])?;
            freed = true;
        }
        let forgotten = tx.execute(
            "DELETE FROM devices WHERE fingerprint = ?1",
            params![lease_or_device],
        )?;
        tx.commit()?;
        Ok(freed || forgotten > 0)
    }

    /// The seats held at `now`, oldest first.
    pub fn held(&self, now: i64) -> Result<Vec<Held>, Refusal> {
        let mut st = self.conn.prepare(
            "SELECT l.id, l.fingerprint, COALESCE(d.user, ''), l.kind, l.since, l.expires_at, l.returned
             FROM leases l LEFT JOIN devices d ON d.fingerprint = l.fingerprint
             WHERE l.expires_at > ?1 ORDER BY l.since, l.seq",
        )?;
        let rows = st.query_map(params![now], |r| {
            Ok(Held {
                id: r.get(0)?,
                device: r.get(1)?,
                user: r.get(2)?,
                kind: kind_name(kind_of(&r.get::<_, String>(3)?)).to_owned(),
                since: r.get(4)?,
                expires_at: r.get(5)?,
                returned: r.get::<_, i64>(6)? != 0,
            })
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// The usage record, oldest day first.
    pub fn usage(&self) -> Result<Vec<Day>, Refusal> {
        let mut st = self
            .conn
            .prepare("SELECT day, seat_seconds, peak, grants, denials FROM usage ORDER BY day")?;
        let rows = st.query_map([], |r| {
            Ok(Day {
                day: r.get(0)?,
                seat_seconds: r.get(1)?,
                peak: r.get(2)?,
                grants: r.get(3)?,
                denials: r.get(4)?,
            })
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// The clock's high-water mark (Unix seconds), if any grant was made.
    pub fn clock_mark(&self) -> Option<i64> {
        (self.mark > 0).then_some(self.mark)
    }
}

fn meta(conn: &Connection, name: &str) -> rusqlite::Result<Option<i64>> {
    conn.prepare_cached("SELECT value FROM meta WHERE name = ?1")?
        .query_row(params![name], |r| r.get(0))
        .optional()
}

fn set_meta(conn: &Connection, name: &str, value: i64) -> rusqlite::Result<()> {
    conn.prepare_cached(
        "INSERT INTO meta (name, value) VALUES (?1, ?2)
         ON CONFLICT (name) DO UPDATE SET value = ?2",
    )?
    .execute(params![name, value])
    .map(drop)
}

/// Seats held at `now`.
fn live(conn: &Connection, now: i64) -> rusqlite::Result<u32> {
    conn.prepare_cached("SELECT COUNT(*) FROM leases WHERE expires_at > ?1")?
        .query_row(params![now], |r| r.get(0))
}

/// Ends the leases that ran out, counting their last seat-seconds.
fn sweep(conn: &Connection, now: i64) -> rusqlite::Result<()> {
    let ended: Option<i64> = conn
        .prepare_cached(
            "SELECT SUM(MAX(expires_at - counted_to, 0)) FROM leases WHERE expires_at <= ?1",
        )?
        .query_row(params![now], |r| r.get(0))?;
    if let Some(seconds) = ended {
        add_usage(conn, now, seconds, 0, 0)?;
        conn.prepare_cached("DELETE FROM leases WHERE expires_at <= ?1")?
            .execute(params![now])?;
    }
    Ok(())
}

fn add_usage(
    conn: &Connection,
    now: i64,
    seat_seconds: i64,
    grants: u32,
    denials: u32,
) -> rusqlite::Result<()> {
    conn.prepare_cached(
        "INSERT INTO usage (day, seat_seconds, grants, denials) VALUES (?1, ?2, ?3, ?4)
         ON CONFLICT (day) DO UPDATE SET seat_seconds = seat_seconds + ?2,
             grants = grants + ?3, denials = denials + ?4",
    )?
    .execute(params![
        now.div_euclid(86_400),
        seat_seconds,
        grants,
        denials
    ])
    .map(drop)
}
