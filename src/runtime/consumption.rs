//! Consumption counters: durable, exact across threads and processes, and
//! kept as a journal for an exactly-once upload.
//!
//! Every accepted increment is a record in `<state dir>/consumption.journal`,
//! an append-only file of JSON lines, each with a sequence number and an
//! HMAC chained over the previous record, so an edited or reordered journal
//! is detected. An increment returns success only after its record is on
//! disk (`fdatasync`); a refused increment writes nothing.
//!
//! Exactness: every commit holds the store's cross-process lock while it
//! reads the records other processes appended since it last looked, checks
//! the limits and appends. Within a process, increments are committed in
//! groups: threads queue their requests and one of them commits the whole
//! queue with one lock, one write and one `fdatasync`. Before committing it
//! waits for as many requests as the last group had (and at most as long as
//! the last commit took), so threads that keep consuming share every sync
//! and a lone thread never waits.
//!
//! Compaction: after [`COMPACT_AFTER`] records the totals move into the
//! state store (`extensions.consumption`), records not yet uploaded are kept
//! there as pending ranges, and the journal restarts from the last record's
//! sequence number and MAC.

use std::collections::BTreeMap;
use std::fs::{File, OpenOptions};
use std::io::{Read as _, Seek as _, SeekFrom, Write as _};
use std::path::PathBuf;
use std::sync::{Arc, Condvar, Mutex, MutexGuard};

use chrono::{DateTime, Utc};
use hmac::Mac as _;
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::format::license::{ConsumptionPeriod, FeatureType, License, LicenseType};
use crate::format::period::{next_period_start, period_start};
use crate::runtime::store::{Store, StoreLock};
use crate::util::hex;

/// Journal records after which the journal is compacted into the store.
pub const COMPACT_AFTER: u64 = 4096;
const JOURNAL: &str = "consumption.journal";
const MAGIC: &str = "TESSERA JOURNAL 1";
const EXTENSION: &str = "consumption";
/// The period key of counters that never reset.
const NO_PERIOD: i64 = i64::MIN;

/// Which counter to consume from.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Counter {
    /// The license-level counter of a consumption license.
    License,
    /// The counter of a consumption feature, by code.
    Feature(String),
}

impl Counter {
    /// The name used in the journal: `license` or `feature:<code>`.
    pub fn key(&self) -> String {
        match self {
            Counter::License => "license".to_owned(),
            Counter::Feature(code) => format!("feature:{code}"),
        }
    }
}

/// The limits of one counter, from the license.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Limit {
    /// Units allowed per period (before overages).
    pub max: u64,
    /// No limit at all.
    pub unlimited: bool,
    /// Units allowed past `max` (zero unless overages are allowed).
    pub overage: u64,
    /// The reset period, when the counter resets.
    pub period: Option<ConsumptionPeriod>,
    /// Units the license file says were used when it was issued.
    pub base: u64,
    /// When the file was issued: `base` counts in that period only.
    pub base_at: DateTime<Utc>,
}

impl Limit {
    /// The limits of `counter` in `license`, or an error when the license
    /// has no such consumption counter.
    pub fn of(license: &License, counter: &Counter) -> Result<Limit> {
        let period = |reset: bool, p: Option<ConsumptionPeriod>| if reset { p } else { None };
        match counter {
            Counter::License if license.license_type == LicenseType::Consumption => Ok(Limit {
                max: license.max_consumptions,
                unlimited: license.allow_unlimited_consumptions,
                overage: if license.allow_overages {
                    license.max_overages
                } else {
                    0
                },
                period: period(license.reset_consumption, license.consumption_period),
                base: license.total_consumptions,
                base_at: license.issued_at,
            }),
            Counter::Feature(code) => match license.feature(code) {
                Some(f) if f.feature_type == FeatureType::Consumption => Ok(Limit {
                    max: f.max_consumption,
                    unlimited: f.allow_unlimited_consumptions,
                    overage: if f.allow_overages { f.max_overages } else { 0 },
                    period: period(f.reset_consumption, f.consumption_period),
                    base: f.total_consumptions,
                    base_at: license.issued_at,
                }),
                _ => Err(Error::NotConsumable(counter.key())),
            },
            Counter::License => Err(Error::NotConsumable(counter.key())),
        }
    }

    fn period_key(&self, now: DateTime<Utc>) -> i64 {
        self.period
            .map_or(NO_PERIOD, |p| period_start(p, now).timestamp())
    }

    fn base_in(&self, period_key: i64) -> u64 {
        if period_key == NO_PERIOD
            || self
                .period
                .is_some_and(|p| period_start(p, self.base_at).timestamp() == period_key)
        {
            self.base
        } else {
            0
        }
    }
}

/// How much of a counter is used and left.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Usage {
    /// The counter's journal name.
    pub counter: String,
    /// Units used in the current period (including the license file's base).
    pub used: u64,
    /// Units allowed before overages; `None` when unlimited.
    pub limit: Option<u64>,
    /// Units left before the limit; `None` when unlimited.
    pub remaining: Option<u64>,
    /// Units used past the limit.
    pub overage_used: u64,
    /// Units allowed past the limit.
    pub overage_allowed: u64,
    /// When the counter next resets, if it does.
    pub resets_at: Option<DateTime<Utc>>,
}

impl Usage {
    fn new(counter: String, used: u64, limit: &Limit, now: DateTime<Utc>) -> Usage {
        Usage {
            counter,
            used,
            limit: (!limit.unlimited).then_some(limit.max),
            remaining: (!limit.unlimited).then(|| limit.max.saturating_sub(used)),
            overage_used: if limit.unlimited {
                0
            } else {
                used.saturating_sub(limit.max)
            },
            overage_allowed: limit.overage,
            resets_at: limit.period.map(|p| next_period_start(p, now)),
        }
    }
}

/// An increment not yet acknowledged by the license server.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Pending {
    /// First sequence number covered.
    pub first_seq: u64,
    /// Last sequence number covered.
    pub last_seq: u64,
    /// The counter's journal name.
    pub counter: String,
    /// The period start (Unix seconds; `i64::MIN` for counters that never reset).
    pub period: i64,
    /// Units.
    pub amount: u64,
}

/// One journal line.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct Record {
    seq: u64,
    counter: String,
    period: i64,
    amount: u64,
    at: i64,
    mac: String,
}

/// What compaction leaves in the store.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
struct Snapshot {
    base_seq: u64,
    base_mac: String,
    /// counter → (period, used locally in it)
    used: BTreeMap<String, (i64, u64)>,
    uploaded_seq: u64,
    pending: Vec<Pending>,
}

/// What this process knows of the journal.
#[derive(Default)]
struct Known {
    file: Option<Arc<File>>,
    ino: u64,
    /// Bytes of the journal read and applied.
    offset: u64,
    start_seq: u64,
    last_seq: u64,
    last_mac: [u8; 16],
    used: BTreeMap<String, (i64, u64)>,
    snapshot: Snapshot,
}

struct Request {
    counter: String,
    amount: u64,
    limit: Limit,
    now: DateTime<Utc>,
}

/// The group-commit queue.
#[derive(Default)]
struct Queue {
    next_ticket: u64,
    waiting: Vec<(u64, Request)>,
    done: BTreeMap<u64, Result<Usage>>,
    committing: bool,
    /// The leader is waiting for the group to fill.
    gathering: bool,
    /// How many requests the last two groups committed: a group waits for
    /// the larger, so one straggler does not split the groups that follow.
    last_groups: [usize; 2],
    /// How long the last group's commit took.
    last_commit: std::time::Duration,
}

impl Queue {
    /// How many requests a group waits for.
    fn target(&self) -> usize {
        self.last_groups[0].max(self.last_groups[1])
    }
}

/// The longest a group waits for more requests.
const GATHER_MAX: std::time::Duration = std::time::Duration::from_millis(2);

/// The consumption counters of one product on this device.
pub struct Consumption {
    store: Store,
    path: PathBuf,
    /// The store's lock file, kept open: every commit locks it.
    lock_file: File,
    known: Mutex<Known>,
    queue: Mutex<Queue>,
    /// Wakes the gathering leader once its group is full.
    full: Condvar,
    /// Wakes the others when a group is committed.
    committed: Condvar,
}

impl std::fmt::Debug for Consumption {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Consumption")
            .field("path", &self.path)
            .finish_non_exhaustive()
    }
}

/// Locks the queue. Its fields stay consistent under a panic (each is set
/// in one step), so a poisoned lock is used as is.
fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// Locks what this process knows of the journal. After a panic half-way
/// through a group that knowledge may run ahead of the file, so it is
/// dropped and the next commit reloads everything from disk.
fn lock_known(m: &Mutex<Known>) -> MutexGuard<'_, Known> {
    m.lock().unwrap_or_else(|p| {
        m.clear_poison();
        let mut known = p.into_inner();
        *known = Known::default();
        known
    })
}

impl Consumption {
    /// The counters kept in `store`'s directory.
    pub fn new(store: Store) -> Result<Consumption> {
        Ok(Consumption {
            path: store.dir().join(JOURNAL),
            lock_file: store.open_lock_file()?,
            store,
            known: Mutex::new(Known::default()),
            queue: Mutex::new(Queue::default()),
            full: Condvar::new(),
            committed: Condvar::new(),
        })
    }

    /// The in-process lock, then the cross-process one, in that order.
    fn enter(&self) -> Result<(MutexGuard<'_, Known>, StoreLock<'_>)> {
        let known = lock_known(&self.known);
        let guard = self.store.lock_with(&self.lock_file)?;
        Ok((known, guard))
    }

    /// Consumes `amount` units of `counter` at `now`, if the limit allows.
    /// Returns after the increment is on disk; a refused increment changes
    /// nothing and fails with [`Error::ConsumptionLimit`].
    pub fn consume(
        &self,
        counter: &Counter,
        amount: u64,
        limit: &Limit,
        now: DateTime<Utc>,
    ) -> Result<Usage> {
        if amount == 0 {
            return Err(Error::InvalidArgument("consume at least one unit"));
        }
        let mut q = lock(&self.queue);
        let ticket = q.next_ticket;
        q.next_ticket += 1;
        q.waiting.push((
            ticket,
            Request {
                counter: counter.key(),
                amount,
                limit: limit.clone(),
                now,
            },
        ));
        if q.gathering && q.waiting.len() >= q.target() {
            self.full.notify_one();
        }
        loop {
            if let Some(result) = q.done.remove(&ticket) {
                return result;
            }
            if !q.committing {
                // Lead this group: gather, then commit everything queued.
                q.committing = true;
                let deadline = std::time::Instant::now() + q.last_commit.min(GATHER_MAX);
                q.gathering = true;
                while q.waiting.len() < q.target() {
                    let left = deadline.saturating_duration_since(std::time::Instant::now());
                    if left.is_zero() {
                        break;
                    }
                    q = self
                        .full
                        .wait_timeout(q, left)
                        .unwrap_or_else(|p| p.into_inner())
                        .0;
                }
                q.gathering = false;
                let group = std::mem::take(&mut q.waiting);
                drop(q);
                let started = std::time::Instant::now();
                let results = self.commit(group);
                q = lock(&self.queue);
                q.committing = false;
                q.last_groups = [results.len(), q.last_groups[0]];
                q.last_commit = started.elapsed();
                q.done.extend(results);
                self.committed.notify_all();
                continue;
            }
            q = self.committed.wait(q).unwrap_or_else(|p| p.into_inner());
        }
    }

    /// Commits a group: under the locks, catch up, check each request in
    /// order and append the accepted ones in one write; then one sync.
    fn commit(&self, group: Vec<(u64, Request)>) -> Vec<(u64, Result<Usage>)> {
        let fail_all = |group: Vec<(u64, Request)>, e: Error| -> Vec<(u64, Result<Usage>)> {
            group
                .into_iter()
                .map(|(t, _)| (t, Err(e.clone())))
                .collect()
        };
        let mut results = Vec::with_capacity(group.len());
        let file = {
            let (mut known, guard) = match self.enter() {
                Ok(x) => x,
                Err(e) => return fail_all(group, e),
            };
            if let Err(e) = self.catch_up(&guard, &mut known) {
                return fail_all(group, e);
            }
            let saved = (known.last_seq, known.last_mac, known.used.clone());
            let mut lines = Vec::new();
            for (ticket, r) in group {
                let period = r.limit.period_key(r.now);
                let used = used_in(&known, &r.counter, &r.limit, period);
                let allowed = r.limit.max.saturating_add(r.limit.overage);
                let after = match used.checked_add(r.amount) {
                    Some(after) if r.limit.unlimited || after <= allowed => after,
                    _ => {
                        let refused = Error::ConsumptionLimit {
                            counter: r.counter,
                            used,
                            requested: r.amount,
                            allowed,
                        };
                        results.push((ticket, Err(refused)));
                        continue;
                    }
                };
                let seq = known.last_seq + 1;
                let at = r.now.timestamp();
                let mac = chain(
                    self.store.key(),
                    &known.last_mac,
                    seq,
                    &r.counter,
                    period,
                    r.amount,
                    at,
                );
                let record = Record {
                    seq,
                    counter: r.counter,
                    period,
                    amount: r.amount,
                    at,
                    mac: hex(&mac),
                };
                let Ok(line) = serde_json::to_vec(&record) else {
                    results.push((
                        ticket,
                        Err(Error::InvalidArgument("the record cannot be encoded")),
                    ));
                    continue;
                };
                lines.extend_from_slice(&line);
                lines.push(b'\n');
                known.last_seq = seq;
                known.last_mac = mac;
                apply(&mut known.used, &record.counter, period, r.amount);
                results.push((
                    ticket,
                    Ok(Usage::new(record.counter, after, &r.limit, r.now)),
                ));
            }
            if lines.is_empty() {
                return results;
            }
            if let Err(e) = self.append(&mut known, &lines) {
                (known.last_seq, known.last_mac, known.used) = saved;
                return fail_accepted(results, &e);
            }
            let file = known.file.clone();
            if known.last_seq - known.start_seq >= COMPACT_AFTER {
                // The snapshot that compaction writes makes these records
                // durable too; a failed compaction is retried next time.
                let _ = self.compact(&guard, &mut known);
            }
            file
        };
        // Other processes go on while this one waits for the disk.
        let synced = file
            .ok_or(Error::JournalCorrupt("the journal is not open"))
            .and_then(|f| {
                f.sync_data()
                    .map_err(|e| Error::io(&e, "syncing the consumption journal"))
            });
        match synced {
            Ok(()) => results,
            Err(e) => fail_accepted(results, &e),
        }
    }

    /// Usage of `counter` at `now`, including other processes' increments.
    pub fn usage(&self, counter: &Counter, limit: &Limit, now: DateTime<Utc>) -> Result<Usage> {
        let (mut known, guard) = self.enter()?;
        self.catch_up(&guard, &mut known)?;
        let key = counter.key();
        let used = used_in(&known, &key, limit, limit.period_key(now));
        Ok(Usage::new(key, used, limit, now))
    }

    /// Increments not yet acknowledged by the server, oldest first: pending
    /// ranges from compactions, then single records from the journal.
    pub fn pending_uploads(&self) -> Result<Vec<Pending>> {
        let (mut known, guard) = self.enter()?;
        self.catch_up(&guard, &mut known)?;
        let uploaded = known.snapshot.uploaded_seq;
        let mut out: Vec<Pending> = known
            .snapshot
            .pending
            .iter()
            .filter(|p| p.last_seq > uploaded)
            .cloned()
            .collect();
        out.extend(
            self.read_records(&known)?
                .into_iter()
                .filter(|r| r.seq > uploaded.max(known.snapshot.base_seq))
                .map(|r| Pending {
                    first_seq: r.seq,
                    last_seq: r.seq,
                    counter: r.counter,
                    period: r.period,
                    amount: r.amount,
                }),
        );
        Ok(out)
    }

    /// Records that the server acknowledged every increment up to `seq`.
    pub fn acknowledge_upload(&self, seq: u64) -> Result<()> {
        let (mut known, guard) = self.enter()?;
        self.catch_up(&guard, &mut known)?;
        if seq > known.last_seq {
            return Err(Error::InvalidArgument(
                "acknowledged past the last increment",
            ));
        }
        self.store.update_locked(&guard, |state| {
            let mut snap = read_snapshot(state)?;
            snap.uploaded_seq = snap.uploaded_seq.max(seq);
            snap.pending.retain(|p| p.last_seq > snap.uploaded_seq);
            write_snapshot(state, &snap)?;
            known.snapshot = snap;
            Ok(())
        })
    }

    /// Appends (under the lock); on failure, cuts the file back to where
    /// it was, so a refused or failed increment leaves nothing behind.
    fn append(&self, known: &mut Known, line: &[u8]) -> Result<()> {
        let offset = known.offset;
        let file = known
            .file
            .as_deref()
            .ok_or(Error::JournalCorrupt("the journal is not open"))?;
        if let Err(e) = (&*file).write_all(line) {
            let _ = file.set_len(offset);
            return Err(Error::io(&e, "appending to the consumption journal"));
        }
        known.offset += line.len() as u64;
        Ok(())
    }

    /// Brings `known` up to date with the journal on disk (under the lock).
    fn catch_up(&self, _guard: &StoreLock<'_>, known: &mut Known) -> Result<()> {
        let meta = match std::fs::metadata(&self.path) {
            Ok(m) => Some(m),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
            Err(e) => return Err(Error::io(&e, "reading the consumption journal")),
        };
        let ino = meta.as_ref().map_or(0, file_id);
        let len = meta.as_ref().map_or(0, |m| m.len());
        if known.file.is_none() || ino != known.ino || len < known.offset {
            self.reload(known)?;
        } else if len > known.offset {
            self.read_from(known, known.offset)?;
        }
        Ok(())
    }

    /// Starts over from the store's snapshot and the whole journal.
    fn reload(&self, known: &mut Known) -> Result<()> {
        let snapshot = read_snapshot(&self.store.load()?)?;
        let base_mac = if snapshot.base_seq == 0 {
            genesis(self.store.key())
        } else {
            parse_mac(&snapshot.base_mac)
                .ok_or(Error::JournalCorrupt("the snapshot's MAC is garbled"))?
        };
        if !self.path.exists() {
            if snapshot.base_seq > 0 {
                return Err(Error::JournalCorrupt("the journal is missing"));
            }
            self.rewrite_journal(0, &base_mac)?;
        }
        let file = OpenOptions::new()
            .read(true)
            .append(true)
            .open(&self.path)
            .map_err(|e| Error::io(&e, "opening the consumption journal"))?;
        let meta = file
            .metadata()
            .map_err(|e| Error::io(&e, "reading the consumption journal"))?;
        *known = Known {
            ino: file_id(&meta),
            file: Some(Arc::new(file)),
            used: snapshot.used.clone(),
            snapshot,
            ..Known::default()
        };
        let header_len = self.read_header(known)?;
        let (start_seq, start_mac) = (known.last_seq, known.last_mac);
        if start_seq > known.snapshot.base_seq
            || (start_seq == known.snapshot.base_seq && start_mac != base_mac)
        {
            return Err(Error::JournalTampered);
        }
        known.start_seq = start_seq;
        self.read_from(known, header_len)?;
        if known.last_seq < known.snapshot.base_seq {
            return Err(Error::JournalCorrupt(
                "the journal ends before the last compaction",
            ));
        }
        Ok(())
    }

    fn read_header(&self, known: &mut Known) -> Result<u64> {
        let mut file = known
            .file
            .as_deref()
            .ok_or(Error::JournalCorrupt("the journal is not open"))?;
        file.seek(SeekFrom::Start(0))
            .map_err(|e| Error::io(&e, "reading the consumption journal"))?;
        let mut head = Vec::new();
        std::io::Read::by_ref(&mut file)
            .take(128)
            .read_to_end(&mut head)
            .map_err(|e| Error::io(&e, "reading the consumption journal"))?;
        let end = head
            .iter()
            .position(|&b| b == b'\n')
            .ok_or(Error::JournalCorrupt("the journal header is incomplete"))?;
        let line = std::str::from_utf8(&head[..end])
            .map_err(|_| Error::JournalCorrupt("the journal header is not text"))?;
        let mut parts = line.rsplitn(3, ' ');
        let (Some(mac), Some(seq), Some(magic)) = (parts.next(), parts.next(), parts.next()) else {
            return Err(Error::JournalCorrupt("the journal header is garbled"));
        };
        if magic != MAGIC {
            return Err(Error::JournalCorrupt("not a Tessera consumption journal"));
        }
        known.last_seq = seq
            .parse()
            .map_err(|_| Error::JournalCorrupt("the journal header is garbled"))?;
        known.last_mac =
            parse_mac(mac).ok_or(Error::JournalCorrupt("the journal header is garbled"))?;
        Ok(end as u64 + 1)
    }

    /// Applies the complete records from `offset` on. A torn last line (a
    /// crash mid-write, never acknowledged) is cut off.
    fn read_from(&self, known: &mut Known, offset: u64) -> Result<()> {
        let mut file = known
            .file
            .as_deref()
            .ok_or(Error::JournalCorrupt("the journal is not open"))?;
        file.seek(SeekFrom::Start(offset))
            .map_err(|e| Error::io(&e, "reading the consumption journal"))?;
        let mut bytes = Vec::new();
        file.read_to_end(&mut bytes)
            .map_err(|e| Error::io(&e, "reading the consumption journal"))?;
        let complete = bytes.iter().rposition(|&b| b == b'\n').map_or(0, |i| i + 1);
        if complete < bytes.len() {
            file.set_len(offset + complete as u64)
                .map_err(|e| Error::io(&e, "cutting a torn journal record"))?;
        }
        let key = *self.store.key();
        for line in bytes[..complete]
            .split(|&b| b == b'\n')
            .filter(|l| !l.is_empty())
        {
            let r: Record = serde_json::from_slice(line).map_err(|_| Error::JournalTampered)?;
            let mac = chain(
                &key,
                &known.last_mac,
                r.seq,
                &r.counter,
                r.period,
                r.amount,
                r.at,
            );
            if r.seq != known.last_seq + 1 || parse_mac(&r.mac) != Some(mac) {
                return Err(Error::JournalTampered);
            }
            known.last_seq = r.seq;
            known.last_mac = mac;
            if r.seq > known.snapshot.base_seq {
                apply(&mut known.used, &r.counter, r.period, r.amount);
            } else if r.seq == known.snapshot.base_seq
                && Some(mac) != parse_mac(&known.snapshot.base_mac)
            {
                return Err(Error::JournalTampered);
            }
        }
        known.offset = offset + complete as u64;
        Ok(())
    }

    fn read_records(&self, known: &Known) -> Result<Vec<Record>> {
        let text = std::fs::read_to_string(&self.path)
            .map_err(|e| Error::io(&e, "reading the consumption journal"))?;
        Ok(text
            .lines()
            .skip(1)
            .filter_map(|l| serde_json::from_str::<Record>(l).ok())
            .filter(|r| r.seq <= known.last_seq)
            .collect())
    }

    /// Moves the totals into the store and restarts the journal.
    fn compact(&self, guard: &StoreLock<'_>, known: &mut Known) -> Result<()> {
        let records = self.read_records(known)?;
        let mut snap = known.snapshot.clone();
        let from = snap.base_seq.max(snap.uploaded_seq);
        for r in records.iter().filter(|r| r.seq > from) {
            match snap.pending.iter_mut().find(|p| {
                p.counter == r.counter && p.period == r.period && p.first_seq > snap.base_seq
            }) {
                Some(p) => {
                    p.last_seq = r.seq;
                    p.amount = p.amount.saturating_add(r.amount);
                }
                None => snap.pending.push(Pending {
                    first_seq: r.seq,
                    last_seq: r.seq,
                    counter: r.counter.clone(),
                    period: r.period,
                    amount: r.amount,
                }),
            }
        }
        snap.base_seq = known.last_seq;
        snap.base_mac = hex(&known.last_mac);
        snap.used = known.used.clone();
        self.store
            .update_locked(guard, |state| write_snapshot(state, &snap))?;
        self.rewrite_journal(known.last_seq, &known.last_mac)?;
        known.file = None; // reopened on the next catch-up
        known.snapshot = snap;
        Ok(())
    }

    /// Atomically replaces the journal with a header starting at `seq`/`mac`.
    fn rewrite_journal(&self, seq: u64, mac: &[u8; 16]) -> Result<()> {
        let io = |e: std::io::Error| Error::io(&e, "writing the consumption journal");
        let tmp = self.path.with_extension("journal.tmp");
        let header = format!("{MAGIC} {seq} {}\n", hex(mac));
        crate::util::write_synced(&tmp, header.as_bytes()).map_err(io)?;
        crate::util::rename_synced(&tmp, &self.path).map_err(io)
    }
}

/// Turns every accepted result of a group into `err` (the group did not
/// become durable); refusals stay as they are.
fn fail_accepted(results: Vec<(u64, Result<Usage>)>, err: &Error) -> Vec<(u64, Result<Usage>)> {
    results
        .into_iter()
        .map(|(t, r)| (t, r.and_then(|_| Err(err.clone()))))
        .collect()
}

fn used_in(known: &Known, counter: &str, limit: &Limit, period: i64) -> u64 {
    let local = match known.used.get(counter) {
        Some((p, used)) if *p == period => *used,
        _ => 0,
    };
    local.saturating_add(limit.base_in(period))
}

fn apply(used: &mut BTreeMap<String, (i64, u64)>, counter: &str, period: i64, amount: u64) {
    let entry = used.entry(counter.to_owned()).or_insert((period, 0));
    if period > entry.0 {
        *entry = (period, amount);
    } else if period == entry.0 {
        entry.1 = entry.1.saturating_add(amount);
    }
    // A record of an older period (a clock slip at a boundary) counts there, not now.
}

fn read_snapshot(state: &crate::runtime::store::State) -> Result<Snapshot> {
    match state.extensions.get(EXTENSION) {
        None => Ok(Snapshot::default()),
        Some(v) => serde_json::from_value(v.clone())
            .map_err(|_| Error::StoreCorrupt("the consumption snapshot does not parse")),
    }
}

fn write_snapshot(state: &mut crate::runtime::store::State, snap: &Snapshot) -> Result<()> {
    let value = serde_json::to_value(snap)
        .map_err(|_| Error::InvalidArgument("the snapshot cannot be encoded"))?;
    state.extensions.insert(EXTENSION.to_owned(), value);
    Ok(())
}

fn genesis(key: &[u8; 32]) -> [u8; 16] {
    let mut mac = crate::mac::keyed(key);
    mac.update(b"tessera/v1/journal-genesis");
    first16(&mac.finalize().into_bytes())
}

fn chain(
    key: &[u8; 32],
    prev: &[u8; 16],
    seq: u64,
    counter: &str,
    period: i64,
    amount: u64,
    at: i64,
) -> [u8; 16] {
    let mut mac = crate::mac::keyed(key);
    mac.update(b"tessera/v1/journal\0");
    mac.update(prev);
    mac.update(&seq.to_be_bytes());
    mac.update(&period.to_be_bytes());
    mac.update(&amount.to_be_bytes());
    mac.update(&at.to_be_bytes());
    mac.update(counter.as_bytes());
    first16(&mac.finalize().into_bytes())
}

fn first16(bytes: &[u8]) -> [u8; 16] {
    let mut out = [0u8; 16];
    out.copy_from_slice(&bytes[..16]);
    out
}

fn parse_mac(s: &str) -> Option<[u8; 16]> {
    crate::util::unhex(s)
}

#[cfg(unix)]
fn file_id(meta: &std::fs::Metadata) -> u64 {
    std::os::unix::fs::MetadataExt::ino(meta)
}

#[cfg(not(unix))]
fn file_id(meta: &std::fs::Metadata) -> u64 {
    // Without inodes, a replaced journal is noticed by its creation time.
    meta.created()
        .ok()
        .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
        .map_or(0, |d| d.as_nanos() as u64)
}
