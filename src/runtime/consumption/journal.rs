//! The journal on disk: one JSON line per accepted increment, each with its
//! sequence number and an HMAC chained over the previous record; reading it
//! back (with a torn last line cut off), and compaction into the store.

use std::collections::BTreeMap;
use std::fs::{File, OpenOptions};
use std::io::{Read as _, Seek as _, SeekFrom, Write as _};
use std::sync::Arc;

use hmac::Mac as _;
use serde::{Deserialize, Serialize};

use super::Consumption;
use crate::error::{Error, Result};
use crate::protocol::counter::Limit;
use crate::protocol::counter::Pending;
use crate::runtime::store::{ConsumptionSnapshot as Snapshot, JournalCheckpoint, State, StoreLock};

/// Journal records after which the journal is compacted into the store.
pub const COMPACT_AFTER: u64 = 4096;
pub(super) const JOURNAL: &str = "consumption.journal";
/// The most of the journal ever read: far more than [`COMPACT_AFTER`]
/// records of any license, so a journal larger than this was not written by
/// the SDK and is refused, not loaded into memory.
pub(super) const MAX_JOURNAL_BYTES: u64 = 32 << 20;
const MAGIC: &str = "TESSERA JOURNAL 1";

/// One journal line.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(super) struct Record {
    pub(super) seq: u64,
    pub(super) counter: String,
    pub(super) period: i64,
    pub(super) amount: u64,
    pub(super) at: i64,
    pub(super) mac: String,
}

/// What this process knows of the journal.
#[derive(Default)]
pub(super) struct Known {
    pub(super) file: Option<Arc<File>>,
    pub(super) ino: u64,
    /// Bytes of the journal read and applied.
    pub(super) offset: u64,
    pub(super) start_seq: u64,
    pub(super) last_seq: u64,
    pub(super) last_mac: [u8; 16],
    pub(super) used: BTreeMap<String, (i64, u64)>,
    pub(super) snapshot: Snapshot,
    /// After a failed compaction, the sequence number to try again at (a
    /// process that holds the journal open can make Windows refuse the
    /// replace; the journal grows meanwhile, within its bound).
    pub(super) compact_again_at: u64,
}

impl Consumption {
    /// Appends (under the lock); on failure, cuts the file back to where
    /// it was, so a refused or failed increment leaves nothing behind.
    pub(super) fn append(&self, known: &mut Known, line: &[u8]) -> Result<()> {
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
    pub(super) fn catch_up(&self, guard: &StoreLock<'_>, known: &mut Known) -> Result<()> {
        let meta = match std::fs::metadata(&self.path) {
            Ok(m) => Some(m),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
            Err(e) => return Err(Error::io(&e, "reading the consumption journal")),
        };
        let ino = meta.as_ref().map_or(0, |m| file_id(&self.path, m));
        let len = meta.as_ref().map_or(0, |m| m.len());
        if known.file.is_none() || ino != known.ino || len < known.offset {
            self.reload(guard, known)?;
        } else if len > known.offset {
            self.read_from(known, known.offset)?;
        }
        Ok(())
    }

    /// Starts over from the store's snapshot and the whole journal. On
    /// failure nothing half-read is kept: the next call starts over and
    /// fails the same way, rather than trusting what was read before the
    /// fault was found.
    fn reload(&self, guard: &StoreLock<'_>, known: &mut Known) -> Result<()> {
        let loaded = self.load_all(guard, known);
        if loaded.is_err() {
            *known = Known::default();
        }
        loaded
    }

    fn load_all(&self, guard: &StoreLock<'_>, known: &mut Known) -> Result<()> {
        let mut snapshot = read_snapshot(&self.store.load()?);
        let base_mac = if snapshot.base_seq == 0 {
            genesis(self.store.key())
        } else {
            parse_mac(&snapshot.base_mac)
                .ok_or(Error::JournalCorrupt("the snapshot's MAC is garbled"))?
        };
        if !self.path.exists() {
            if snapshot.base_seq > 0 || snapshot.checkpoint.is_some() {
                return Err(Error::JournalCorrupt("the journal is missing"));
            }
            // The journal's creation is the first checkpoint: from now on
            // the state knows there is a journal to lose.
            snapshot.checkpoint = Some(JournalCheckpoint {
                seq: 0,
                mac: hex::encode(base_mac),
            });
            self.store.update_locked(guard, |state| {
                write_snapshot(state, &snapshot);
                Ok(())
            })?;
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
            ino: file_id(&self.path, &meta),
            file: Some(Arc::new(file)),
            used: snapshot.used.clone(),
            snapshot,
            ..Known::default()
        };
        let header_len = self.read_header(known)?;
        let (start_seq, start_mac) = (known.last_seq, known.last_mac);
        if start_seq > known.snapshot.base_seq
            || (start_seq == known.snapshot.base_seq && !macs_equal(&start_mac, &base_mac))
        {
            return Err(Error::JournalTampered);
        }
        known.start_seq = start_seq;
        if let Some(cp) = &known.snapshot.checkpoint {
            if cp.seq == start_seq && parse_mac(&cp.mac) != Some(start_mac) {
                return Err(Error::JournalTampered);
            }
        }
        self.read_from(known, header_len)?;
        if known.last_seq < known.snapshot.base_seq {
            return Err(Error::JournalCorrupt(
                "the journal ends before the last compaction",
            ));
        }
        if known
            .snapshot
            .checkpoint
            .as_ref()
            .is_some_and(|cp| known.last_seq < cp.seq)
        {
            return Err(Error::JournalCorrupt(
                "the journal is shorter than the state says it was",
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
        std::io::Read::by_ref(&mut file)
            .take(MAX_JOURNAL_BYTES.saturating_sub(offset).saturating_add(1))
            .read_to_end(&mut bytes)
            .map_err(|e| Error::io(&e, "reading the consumption journal"))?;
        if offset.saturating_add(bytes.len() as u64) > MAX_JOURNAL_BYTES {
            return Err(Error::JournalCorrupt(
                "the journal is larger than the SDK ever writes",
            ));
        }
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
            if Some(r.seq) != known.last_seq.checked_add(1)
                || !parse_mac(&r.mac).is_some_and(|m| macs_equal(&m, &mac))
            {
                return Err(Error::JournalTampered);
            }
            if known
                .snapshot
                .checkpoint
                .as_ref()
                .is_some_and(|cp| cp.seq == r.seq && parse_mac(&cp.mac) != Some(mac))
            {
                return Err(Error::JournalTampered);
            }
            known.last_seq = r.seq;
            known.last_mac = mac;
            if r.seq > known.snapshot.base_seq {
                apply(&mut known.used, &r.counter, r.period, r.amount);
            } else if r.seq == known.snapshot.base_seq
                && !parse_mac(&known.snapshot.base_mac).is_some_and(|m| macs_equal(&m, &mac))
            {
                return Err(Error::JournalTampered);
            }
        }
        known.offset = offset + complete as u64;
        Ok(())
    }

    pub(super) fn read_records(&self, known: &Known) -> Result<Vec<Record>> {
        let bytes = crate::util::read_at_most(&self.path, MAX_JOURNAL_BYTES)
            .map_err(|e| Error::io(&e, "reading the consumption journal"))?;
        if bytes.len() as u64 > MAX_JOURNAL_BYTES {
            return Err(Error::JournalCorrupt(
                "the journal is larger than the SDK ever writes",
            ));
        }
        let text = String::from_utf8_lossy(&bytes);
        Ok(text
            .lines()
            .skip(1)
            .filter_map(|l| serde_json::from_str::<Record>(l).ok())
            .filter(|r| r.seq <= known.last_seq)
            .collect())
    }

    /// Writes the journal's last sequence number and chain head into the
    /// state, when they moved since the last checkpoint: afterwards a
    /// journal shortened below them, or lost, is refused.
    pub(crate) fn checkpoint(&self) -> Result<()> {
        let (mut known, guard) = self.enter()?;
        self.catch_up(&guard, &mut known)?;
        let point = JournalCheckpoint {
            seq: known.last_seq,
            mac: hex::encode(known.last_mac),
        };
        if known.snapshot.checkpoint.as_ref() == Some(&point) {
            return Ok(());
        }
        self.store.update_locked(&guard, |state| {
            let mut current = read_snapshot(state);
            current.checkpoint = Some(point.clone());
            write_snapshot(state, &current);
            Ok(())
        })?;
        known.snapshot.checkpoint = Some(point);
        Ok(())
    }

    /// Moves the totals into the store and restarts the journal.
    pub(super) fn compact(&self, guard: &StoreLock<'_>, known: &mut Known) -> Result<()> {
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
                    p.mac.clone_from(&r.mac);
                }
                None => snap.pending.push(Pending {
                    first_seq: r.seq,
                    last_seq: r.seq,
                    counter: r.counter.clone(),
                    period: r.period,
                    amount: r.amount,
                    mac: r.mac.clone(),
                }),
            }
        }
        snap.base_seq = known.last_seq;
        snap.base_mac = hex::encode(known.last_mac);
        snap.checkpoint = Some(JournalCheckpoint {
            seq: known.last_seq,
            mac: snap.base_mac.clone(),
        });
        snap.used = known.used.clone();
        self.store.update_locked(guard, |state| {
            write_snapshot(state, &snap);
            Ok(())
        })?;
        // Closed before the replace (Windows refuses to replace a file this
        // process holds open); reopened on the next catch-up.
        known.file = None;
        if let Err(e) = self.rewrite_journal(known.last_seq, &known.last_mac) {
            // Not replaced: the same journal, open again where it was.
            known.file = OpenOptions::new()
                .read(true)
                .append(true)
                .open(&self.path)
                .ok()
                .map(Arc::new);
            return Err(e);
        }
        known.snapshot = snap;
        Ok(())
    }

    /// Atomically replaces the journal with a header starting at `seq`/`mac`.
    fn rewrite_journal(&self, seq: u64, mac: &[u8; 16]) -> Result<()> {
        let io = |e: std::io::Error| Error::io(&e, "writing the consumption journal");
        let tmp = self.path.with_extension("journal.tmp");
        let header = format!("{MAGIC} {seq} {}\n", hex::encode(mac));
        crate::util::write_synced(&tmp, header.as_bytes()).map_err(io)?;
        crate::util::rename_synced(&tmp, &self.path).map_err(io)
    }
}

/// The period an increment or a reading at `period` counts in: never one
/// older than the newest period this counter has recorded. A clock stepped
/// back over a period boundary (or an honest NTP slip at midnight) cannot
/// reopen a closed period with a fresh limit; the increment counts in the
/// newest period instead (SECURITY.md, issue 21 finding 3).
pub(super) fn effective_period(known: &Known, counter: &str, period: i64) -> i64 {
    known
        .used
        .get(counter)
        .map_or(period, |(newest, _)| period.max(*newest))
}

pub(super) fn used_in(known: &Known, counter: &str, limit: &Limit, period: i64) -> u64 {
    let local = match known.used.get(counter) {
        Some((p, used)) if *p == period => *used,
        _ => 0,
    };
    local.saturating_add(limit.base_in(period))
}

pub(super) fn apply(
    used: &mut BTreeMap<String, (i64, u64)>,
    counter: &str,
    period: i64,
    amount: u64,
) {
    let entry = used.entry(counter.to_owned()).or_insert((period, 0));
    if period > entry.0 {
        *entry = (period, amount);
    } else if period == entry.0 {
        entry.1 = entry.1.saturating_add(amount);
    }
    // A record of an older period (a clock slip at a boundary) counts there, not now.
}

/// The counters' part of the state (empty before the first compaction).
pub(super) fn read_snapshot(state: &State) -> Snapshot {
    state.kept.consumption.clone().unwrap_or_default()
}

pub(super) fn write_snapshot(state: &mut State, snap: &Snapshot) {
    state.kept.consumption = Some(snap.clone());
}

pub(super) fn genesis(key: &[u8; 32]) -> [u8; 16] {
    let mut mac = crate::keyed_hash::keyed(key);
    mac.update(b"tessera/v1/journal-genesis");
    first16(&mac.finalize().into_bytes())
}

pub(super) fn chain(
    key: &[u8; 32],
    prev: &[u8; 16],
    seq: u64,
    counter: &str,
    period: i64,
    amount: u64,
    at: i64,
) -> [u8; 16] {
    let mut mac = crate::keyed_hash::keyed(key);
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

/// Compares two record MACs in constant time.
fn macs_equal(a: &[u8; 16], b: &[u8; 16]) -> bool {
    crate::util::constant_time_eq(a, b)
}

pub(super) fn parse_mac(s: &str) -> Option<[u8; 16]> {
    crate::util::unhex(s)
}

/// What tells a replaced journal from the one read before: its inode.
#[cfg(unix)]
fn file_id(_path: &std::path::Path, meta: &std::fs::Metadata) -> u64 {
    std::os::unix::fs::MetadataExt::ino(meta)
}

/// What tells a replaced journal from the one read before. Without inodes
/// (and with NTFS's tunnelling, which gives a file created under a
/// just-removed name the old creation time), it is the header line: every
/// rewrite starts a new sequence number and MAC there.
#[cfg(not(unix))]
fn file_id(path: &std::path::Path, _meta: &std::fs::Metadata) -> u64 {
    use std::io::Read as _;
    let mut head = Vec::with_capacity(128);
    let read = std::fs::File::open(path).and_then(|f| f.take(128).read_to_end(&mut head));
    if read.is_err() {
        return 0;
    }
    let line = head.split(|&b| b == b'\n').next().unwrap_or_default();
    let digest = <sha2::Sha256 as sha2::Digest>::digest(line);
    let mut id = [0u8; 8];
    id.copy_from_slice(&digest[..8]);
    u64::from_le_bytes(id)
}

#[cfg(test)]
mod tests {
    use crate::Time;

    use super::*;
    use crate::format::fingerprint::{Fingerprint, MatchPolicy};
    use crate::protocol::counter::Counter;
    use crate::runtime::store::Store;

    fn store(dir: &std::path::Path) -> Store {
        let device = Fingerprint::from_facts(b"s", [("machine_id", "m"), ("cpu", "c")]);
        Store::open(dir, "acme", device, MatchPolicy::default(), b"").unwrap()
    }

    /// Counters that compact after every `every` records.
    fn counters(dir: &std::path::Path, every: u64) -> Consumption {
        let mut c = Consumption::new(store(dir)).unwrap();
        c.compact_after = every;
        c
    }

    fn unlimited() -> Limit {
        Limit {
            max: 0,
            unlimited: true,
            overage: 0,
            period: None,
            base: 0,
            base_at: Time::UNIX_EPOCH,
        }
    }

    fn consume(c: &Consumption, counter: &Counter, n: u64) {
        for _ in 0..n {
            c.consume(counter, 1, &unlimited(), Time::UNIX_EPOCH)
                .unwrap();
        }
    }

    /// A journal that a forger (who knows the store key: with an empty
    /// vendor secret anyone does) brought to the last sequence number.
    fn at_the_end_of_the_sequence(dir: &std::path::Path) -> Consumption {
        let c = counters(dir, COMPACT_AFTER);
        let key = *c.store.key();
        let start_mac = [7u8; 16];
        c.store
            .update(|s| {
                let snap = Snapshot {
                    base_seq: u64::MAX - 1,
                    base_mac: hex::encode(start_mac),
                    ..Snapshot::default()
                };
                write_snapshot(s, &snap);
                Ok(())
            })
            .unwrap();
        c.rewrite_journal(u64::MAX - 1, &start_mac).unwrap();
        let period = unlimited().period_key(Time::UNIX_EPOCH);
        let mac = chain(&key, &start_mac, u64::MAX, "license", period, 1, 0);
        let record = Record {
            seq: u64::MAX,
            counter: "license".into(),
            period,
            amount: 1,
            at: 0,
            mac: hex::encode(mac),
        };
        let mut line = serde_json::to_vec(&record).unwrap();
        line.push(b'\n');
        let mut file = OpenOptions::new()
            .append(true)
            .open(dir.join(JOURNAL))
            .unwrap();
        std::io::Write::write_all(&mut file, &line).unwrap();
        c
    }

    #[test]
    fn a_journal_at_the_end_of_its_sequence_refuses_more_and_never_wraps() {
        let dir = tempfile::tempdir().unwrap();
        let c = at_the_end_of_the_sequence(dir.path());
        // The record at u64::MAX reads back; the next one has no number.
        assert_eq!(used(&c, &Counter::License), 1);
        let err = c
            .consume(&Counter::License, 1, &unlimited(), Time::UNIX_EPOCH)
            .unwrap_err();
        assert!(matches!(err, Error::JournalCorrupt(_)), "{err}");
        assert_eq!(used(&c, &Counter::License), 1, "nothing was counted");
    }

    /// The attack of issue 21, finding 3: a daily limit of 10 used up,
    /// one unit the next day at 00:10, the clock stepped back 20 minutes
    /// (inside the clock tolerance): a closed period must not open again.
    #[test]
    fn a_clock_stepped_back_over_midnight_cannot_reopen_a_closed_period() {
        use crate::format::license::ConsumptionPeriod;
        let t = |s: &str| s.parse::<Time>().unwrap();
        let daily = Limit {
            max: 10,
            unlimited: false,
            overage: 0,
            period: Some(ConsumptionPeriod::Daily),
            base: 0,
            base_at: Time::UNIX_EPOCH,
        };
        let dir = tempfile::tempdir().unwrap();
        let c = counters(dir.path(), COMPACT_AFTER);
        let day1 = t("2026-03-01T12:00:00Z");
        for _ in 0..10 {
            c.consume(&Counter::License, 1, &daily, day1).unwrap();
        }
        assert!(c.consume(&Counter::License, 1, &daily, day1).is_err());
        c.consume(&Counter::License, 1, &daily, t("2026-03-02T00:10:00Z"))
            .unwrap();
        let back = t("2026-03-01T23:50:00Z");
        // What is left is what the newest day has left: 9, not a fresh 10.
        assert_eq!(c.usage(&Counter::License, &daily, back).unwrap().used, 1);
        for _ in 0..9 {
            c.consume(&Counter::License, 1, &daily, back).unwrap();
        }
        assert!(matches!(
            c.consume(&Counter::License, 1, &daily, back),
            Err(Error::ConsumptionLimit { .. })
        ));
        // And so after a restart.
        let again = counters(dir.path(), COMPACT_AFTER);
        let day2 = t("2026-03-02T08:00:00Z");
        assert_eq!(
            again.usage(&Counter::License, &daily, day2).unwrap().used,
            10
        );
        assert!(again.consume(&Counter::License, 1, &daily, back).is_err());
        assert!(again.consume(&Counter::License, 1, &daily, day2).is_err());
        // The next day opens a new period, as it should.
        again
            .consume(&Counter::License, 1, &daily, t("2026-03-03T00:00:01Z"))
            .unwrap();
    }

    #[test]
    fn a_journal_larger_than_the_sdk_writes_is_refused_not_loaded() {
        let dir = tempfile::tempdir().unwrap();
        let c = counters(dir.path(), COMPACT_AFTER);
        consume(&c, &Counter::License, 1);
        // Grown behind the SDK's back past the bound (a sparse file: no
        // disk is used for it).
        let file = OpenOptions::new()
            .write(true)
            .open(dir.path().join(JOURNAL))
            .unwrap();
        file.set_len(MAX_JOURNAL_BYTES + 1).unwrap();
        let fresh = counters(dir.path(), COMPACT_AFTER);
        let err = fresh
            .usage(&Counter::License, &unlimited(), Time::UNIX_EPOCH)
            .unwrap_err();
        assert!(matches!(err, Error::JournalCorrupt(_)), "{err}");
    }

    fn used(c: &Consumption, counter: &Counter) -> u64 {
        c.usage(counter, &unlimited(), Time::UNIX_EPOCH)
            .unwrap()
            .used
    }

    #[test]
    fn compaction_restarts_the_journal_and_keeps_totals_and_what_is_left_to_upload() {
        let dir = tempfile::tempdir().unwrap();
        let c = counters(dir.path(), 4);
        let (license, render) = (Counter::License, Counter::Feature("render".into()));
        for _ in 0..5 {
            consume(&c, &license, 1);
            consume(&c, &render, 1);
        }
        // Compacted after records 4 and 8: the journal restarts at 8.
        let text = std::fs::read_to_string(dir.path().join(JOURNAL)).unwrap();
        assert!(text.starts_with(&format!("{MAGIC} 8 ")), "{text}");
        assert_eq!(text.lines().count(), 3);
        let snapshot = store(dir.path()).load().unwrap().kept.consumption.unwrap();
        assert_eq!(snapshot.base_seq, 8);
        assert_eq!(
            snapshot.used["license"].1 + snapshot.used["feature:render"].1,
            8
        );
        // Totals and pending ranges are whole, before and after a reopen.
        for c in [&c, &counters(dir.path(), 4)] {
            assert_eq!((used(c, &license), used(c, &render)), (5, 5));
            // A compacted range covers its counter's records from first_seq
            // to last_seq; per counter, ranges never overlap.
            let pending = c.pending_uploads().unwrap();
            for key in ["license", "feature:render"] {
                let mine: Vec<_> = pending.iter().filter(|p| p.counter == key).collect();
                assert_eq!(mine.iter().map(|p| p.amount).sum::<u64>(), 5, "{key}");
                assert!(
                    mine.windows(2).all(|w| w[0].last_seq < w[1].first_seq),
                    "{mine:?}"
                );
            }
            assert_eq!(pending.iter().map(|p| p.first_seq).min(), Some(1));
            assert_eq!(pending.iter().map(|p| p.last_seq).max(), Some(10));
        }
        // What the server acknowledged is not uploaded again, and a later
        // compaction keeps it that way. (A compacted range that straddles
        // the acknowledged point is kept whole: the server adds only the
        // part of a range it has not counted, docs/PROTOCOL.md.)
        c.acknowledge_upload(6).unwrap();
        consume(&c, &license, 2);
        let pending = c.pending_uploads().unwrap();
        assert!(pending.iter().all(|p| p.last_seq > 6), "{pending:?}");
        assert!(pending.iter().any(|p| p.last_seq == 12), "{pending:?}");
        assert_eq!(used(&c, &license), 7);
    }

    #[test]
    fn a_journal_lost_or_rolled_back_after_a_compaction_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let c = counters(dir.path(), 4);
        consume(&c, &Counter::License, 2);
        let early = std::fs::read(dir.path().join(JOURNAL)).unwrap();
        consume(&c, &Counter::License, 4);
        drop(c);
        std::fs::write(dir.path().join(JOURNAL), &early).unwrap();
        let rolled_back = counters(dir.path(), 4);
        assert!(matches!(
            rolled_back.usage(&Counter::License, &unlimited(), Time::UNIX_EPOCH),
            Err(Error::JournalCorrupt(_) | Error::JournalTampered)
        ));
        std::fs::remove_file(dir.path().join(JOURNAL)).unwrap();
        let lost = counters(dir.path(), 4);
        assert_eq!(
            lost.usage(&Counter::License, &unlimited(), Time::UNIX_EPOCH),
            Err(Error::JournalCorrupt("the journal is missing"))
        );
    }

    #[test]
    fn a_torn_last_record_is_cut_off_and_an_edited_one_refused() {
        let dir = tempfile::tempdir().unwrap();
        let c = counters(dir.path(), 100);
        consume(&c, &Counter::License, 3);
        drop(c);
        let path = dir.path().join(JOURNAL);
        let whole = std::fs::read(&path).unwrap();
        let mut torn = whole.clone();
        torn.extend_from_slice(b"{\"seq\":4,\"coun");
        std::fs::write(&path, &torn).unwrap();
        let c = counters(dir.path(), 100);
        assert_eq!(used(&c, &Counter::License), 3);
        assert_eq!(
            std::fs::read(&path).unwrap(),
            whole,
            "the torn line is cut off"
        );
        drop(c);
        let edited = String::from_utf8(whole)
            .unwrap()
            .replacen("\"amount\":1", "\"amount\":0", 1);
        std::fs::write(&path, edited).unwrap();
        let c = counters(dir.path(), 100);
        assert_eq!(
            c.usage(&Counter::License, &unlimited(), Time::UNIX_EPOCH),
            Err(Error::JournalTampered)
        );
    }
}
