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

mod commit;
mod journal;

use std::fs::File;
use std::path::PathBuf;
use std::sync::{Condvar, Mutex, MutexGuard};

use crate::Time;

use self::commit::Queue;
pub use self::journal::COMPACT_AFTER;
use self::journal::{read_snapshot, used_in, write_snapshot, Known, JOURNAL};
use crate::error::{Error, Result};
use crate::format::period::next_period_start;
pub use crate::protocol::counter::{Counter, Limit, Pending};
use crate::runtime::store::{Store, StoreLock};

/// How much of a counter is used and left.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
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
    pub resets_at: Option<Time>,
}

impl Usage {
    fn new(counter: String, used: u64, limit: &Limit, now: Time) -> Usage {
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

/// The consumption counters of one product on this device. Internal: a
/// product consumes through [`LicenseHandle`](crate::LicenseHandle), which
/// validates the license and reads its limits first.
pub(crate) struct Consumption {
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
    /// Records after which the journal is compacted ([`COMPACT_AFTER`];
    /// lower in unit tests, so compaction runs often).
    compact_after: u64,
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
pub(super) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
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
    pub(crate) fn new(store: Store) -> Result<Consumption> {
        Ok(Consumption {
            path: store.dir().join(JOURNAL),
            lock_file: store.open_lock_file()?,
            compact_after: COMPACT_AFTER,
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

    /// Usage of `counter` at `now`, including other processes' increments.
    pub(crate) fn usage(
        &self,
        counter: &Counter,
        limit: &Limit,
        now: Time,
    ) -> Result<Usage> {
        let (mut known, guard) = self.enter()?;
        self.catch_up(&guard, &mut known)?;
        let key = counter.key();
        let period = journal::effective_period(&known, &key, limit.period_key(now));
        let used = used_in(&known, &key, limit, period);
        Ok(Usage::new(key, used, limit, now))
    }

    /// Increments not yet acknowledged by the server, oldest first: pending
    /// ranges from compactions, then single records from the journal.
    pub(crate) fn pending_uploads(&self) -> Result<Vec<Pending>> {
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
                    mac: r.mac,
                }),
        );
        Ok(out)
    }

    /// Records that the server acknowledged every increment up to `seq`.
    pub(crate) fn acknowledge_upload(&self, seq: u64) -> Result<()> {
        let (mut known, guard) = self.enter()?;
        self.catch_up(&guard, &mut known)?;
        if seq > known.last_seq {
            return Err(Error::InvalidArgument(
                "acknowledged past the last increment",
            ));
        }
        self.store.update_locked(&guard, |state| {
            let mut snap = read_snapshot(state);
            snap.uploaded_seq = snap.uploaded_seq.max(seq);
            snap.pending.retain(|p| p.last_seq > snap.uploaded_seq);
            write_snapshot(state, &snap);
            known.snapshot = snap;
            Ok(())
        })
    }
}
