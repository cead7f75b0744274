//! Group commit: threads queue their increments and one of them commits
//! the whole queue with one lock, one write and one `fdatasync`. Before
//! committing, the leader waits for as many requests as the last groups had
//! (at most as long as the last commit took, and never more than
//! [`GATHER_MAX`]), so threads that keep consuming share every sync and a
//! lone thread never waits. The others yield while the commit is likely in
//! flight (at most [`SPIN_MAX`]) and only then sleep.

use std::collections::BTreeMap;

use crate::Time;

use super::journal::{apply, chain, effective_period, used_in, Record};
use super::{lock, Consumption, Usage};
use crate::error::{Error, Result};
use crate::protocol::counter::{Counter, Limit};

struct Request {
    counter: String,
    amount: u64,
    limit: Limit,
    now: Time,
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

/// The longest a thread whose request another thread commits yields before
/// it sleeps.
const SPIN_MAX: std::time::Duration = std::time::Duration::from_millis(1);

impl Consumption {
    /// Consumes `amount` units of `counter` at `now`, if the limit allows.
    /// Returns after the increment is on disk; a refused increment changes
    /// nothing and fails with [`Error::ConsumptionLimit`].
    pub(crate) fn consume(
        &self,
        counter: &Counter,
        amount: u64,
        limit: &Limit,
        now: Time,
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
        let mut spin_until: Option<std::time::Instant> = None;
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
            // Another thread commits this request. For up to twice as long as
            // the last commit took (at most SPIN_MAX), yield rather than
            // sleep: waking eight sleeping threads after every sync cost more
            // than the sync they shared (docs/DECISIONS.md). After that,
            // sleep until the commit wakes everyone.
            let spin_until = *spin_until.get_or_insert_with(|| {
                std::time::Instant::now() + q.last_commit.saturating_mul(2).min(SPIN_MAX)
            });
            if std::time::Instant::now() < spin_until {
                drop(q);
                std::thread::yield_now();
                q = lock(&self.queue);
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
                let period = effective_period(&known, &r.counter, r.limit.period_key(r.now));
                let used = used_in(&known, &r.counter, &r.limit, period);
                let after = match used.checked_add(r.amount) {
                    Some(after) if r.limit.allows(after) => after,
                    _ => {
                        let refused = Error::ConsumptionLimit {
                            counter: r.counter,
                            used,
                            requested: r.amount,
                            allowed: r.limit.ceiling().unwrap_or(u64::MAX),
                        };
                        results.push((ticket, Err(refused)));
                        continue;
                    }
                };
                let Some(seq) = known.last_seq.checked_add(1) else {
                    results.push((
                        ticket,
                        Err(Error::JournalCorrupt(
                            "the journal's sequence numbers are used up",
                        )),
                    ));
                    continue;
                };
                let at = r.now.unix();
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
            if known.last_seq.saturating_sub(known.start_seq) >= self.compact_after
                && known.last_seq >= known.compact_again_at
            {
                // The snapshot that compaction writes makes these records
                // durable: nothing is left to sync. A failed compaction is
                // tried again after as many records more.
                match self.compact(&guard, &mut known) {
                    Ok(()) => return results,
                    Err(_) => {
                        known.compact_again_at = known.last_seq.saturating_add(self.compact_after);
                    }
                }
            }
            known.file.clone()
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

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use proptest::prelude::*;

    use super::*;
    use crate::format::fingerprint::{Fingerprint, MatchPolicy};
    use crate::runtime::consumption::journal::JOURNAL;
    use crate::runtime::store::Store;

    fn counters(dir: &std::path::Path) -> Consumption {
        let device = Fingerprint::from_facts(b"s", [("machine_id", "m"), ("cpu", "c")]);
        let store = Store::open(dir, "acme", device, MatchPolicy::default(), b"").unwrap();
        Consumption::new(store).unwrap()
    }

    fn limit(max: u64, overage: u64) -> Limit {
        Limit {
            max,
            unlimited: false,
            overage,
            period: None,
            base: 0,
            base_at: Time::UNIX_EPOCH,
        }
    }

    fn request(amount: u64, limit: &Limit) -> Request {
        Request {
            counter: Counter::License.key(),
            amount,
            limit: limit.clone(),
            now: Time::UNIX_EPOCH,
        }
    }

    fn journal_lines(dir: &std::path::Path) -> usize {
        std::fs::read_to_string(dir.join(JOURNAL))
            .unwrap()
            .lines()
            .count()
    }

    #[test]
    fn a_group_accepts_in_ticket_order_what_fits_and_writes_only_that() {
        let dir = tempfile::tempdir().unwrap();
        let c = counters(dir.path());
        let l = limit(10, 0);
        let group = [6, 5, 4, 1]
            .into_iter()
            .enumerate()
            .map(|(t, a)| (t as u64, request(a, &l)))
            .collect();
        let results = c.commit(group);
        let accepted: Vec<bool> = results.iter().map(|(_, r)| r.is_ok()).collect();
        // 6 fits; 6+5 does not; 6+4 fits; 10+1 does not.
        assert_eq!(accepted, [true, false, true, false]);
        assert_eq!(
            results[1].1.as_ref().unwrap_err(),
            &Error::ConsumptionLimit {
                counter: "license".into(),
                used: 6,
                requested: 5,
                allowed: 10
            }
        );
        assert_eq!(results[2].1.as_ref().unwrap().used, 10);
        // One header and the two accepted records, numbered 1 and 2.
        assert_eq!(journal_lines(dir.path()), 3);
        let reopened = counters(dir.path());
        let pending = reopened.pending_uploads().unwrap();
        let seqs: Vec<(u64, u64)> = pending.iter().map(|p| (p.first_seq, p.amount)).collect();
        assert_eq!(seqs, [(1, 6), (2, 4)]);
    }

    #[test]
    fn a_group_of_refusals_writes_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let c = counters(dir.path());
        let l = limit(3, 1);
        c.consume(&Counter::License, 4, &l, Time::UNIX_EPOCH)
            .unwrap();
        let before = std::fs::read(dir.path().join(JOURNAL)).unwrap();
        let results = c.commit(vec![(7, request(1, &l)), (8, request(2, &l))]);
        assert!(results.iter().all(|(_, r)| r.is_err()));
        assert_eq!(std::fs::read(dir.path().join(JOURNAL)).unwrap(), before);
    }

    #[test]
    fn threads_consuming_at_once_get_exactly_the_limit_and_contiguous_records() {
        let dir = tempfile::tempdir().unwrap();
        let c = Arc::new(counters(dir.path()));
        let l = limit(300, 0);
        let threads: Vec<_> = (0..8)
            .map(|_| {
                let (c, l) = (Arc::clone(&c), l.clone());
                std::thread::spawn(move || {
                    (0..50)
                        .filter(|_| {
                            c.consume(&Counter::License, 1, &l, Time::UNIX_EPOCH)
                                .is_ok()
                        })
                        .count()
                })
            })
            .collect();
        let accepted: usize = threads.into_iter().map(|t| t.join().unwrap()).sum();
        assert_eq!(accepted, 300);
        let reopened = counters(dir.path());
        let usage = reopened
            .usage(&Counter::License, &l, Time::UNIX_EPOCH)
            .unwrap();
        assert_eq!(usage.used, 300);
        let seqs: Vec<u64> = reopened
            .pending_uploads()
            .unwrap()
            .iter()
            .map(|p| p.first_seq)
            .collect();
        assert_eq!(seqs, (1..=300).collect::<Vec<_>>());
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 24, failure_persistence: None, ..ProptestConfig::default() })]

        #[test]
        fn counters_accept_exactly_what_fits_and_remember_it(
            amounts in prop::collection::vec(1u64..20, 1..40),
            max in 0u64..200,
            overage in 0u64..20,
        ) {
            let dir = tempfile::tempdir().unwrap();
            let l = limit(max, overage);
            let now = Time::UNIX_EPOCH;
            let c = counters(dir.path());
            let mut expected = 0;
            for a in amounts {
                let fits = expected + a <= max + overage;
                prop_assert_eq!(c.consume(&Counter::License, a, &l, now).is_ok(), fits);
                if fits {
                    expected += a;
                }
            }
            let reopened = counters(dir.path());
            prop_assert_eq!(reopened.usage(&Counter::License, &l, now).unwrap().used, expected);
            let pending: u64 = reopened.pending_uploads().unwrap().iter().map(|p| p.amount).sum();
            prop_assert_eq!(pending, expected);
        }
    }
}
