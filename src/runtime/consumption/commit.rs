//! Group commit: threads queue their increments and one of them commits
//! the whole queue with one lock, one write and one `fdatasync`. Before
//! committing, the leader waits for as many requests as the last groups had
//! (at most as long as the last commit took, and never more than
//! [`GATHER_MAX`]), so threads that keep consuming share every sync and a
//! lone thread never waits.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};

use super::journal::{apply, chain, used_in, Record, COMPACT_AFTER};
use super::{lock, Consumption, Usage};
use crate::error::{Error, Result};
use crate::protocol::counter::{Counter, Limit};

struct Request {
    counter: String,
    amount: u64,
    limit: Limit,
    now: DateTime<Utc>,
}

/// The group-commit queue.
#[derive(Default)]
pub(super) struct Queue {
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

impl Consumption {
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
                    mac: hex::encode(mac),
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
}

/// Turns every accepted result of a group into `err` (the group did not
/// become durable); refusals stay as they are.
fn fail_accepted(results: Vec<(u64, Result<Usage>)>, err: &Error) -> Vec<(u64, Result<Usage>)> {
    results
        .into_iter()
        .map(|(t, r)| (t, r.and_then(|_| Err(err.clone()))))
        .collect()
}
