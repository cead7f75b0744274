//! The usage report's arithmetic, on what the database gave: seat spans,
//! consumption records and events, each of a license, summed per day (UTC)
//! and per group (a license, or a customer account). Kept apart from the
//! database so a property test can check it against plain sums.

use std::collections::BTreeMap;

/// Seconds in a day.
pub(crate) const DAY: i64 = 86_400;

/// A seat held from `start` to `end` (Unix seconds, end excluded).
#[derive(Debug, Clone)]
pub(crate) struct Span {
    pub(crate) license: String,
    pub(crate) start: i64,
    pub(crate) end: i64,
}

/// A consumption record.
#[derive(Debug, Clone)]
pub(crate) struct Record {
    pub(crate) license: String,
    pub(crate) at: i64,
    pub(crate) counter: String,
    pub(crate) amount: u64,
}

/// What an event counts as.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Happening {
    Activation,
    Borrow,
    Denial,
}

/// An event of a license.
#[derive(Debug, Clone)]
pub(crate) struct Happened {
    pub(crate) license: String,
    pub(crate) at: i64,
    pub(crate) what: Happening,
}

/// One group's usage on one day.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Day {
    pub(crate) activations: u64,
    /// The most seats held at once during the day.
    pub(crate) peak_seats: u64,
    /// Seat time within the day, in seconds.
    pub(crate) seat_seconds: u64,
    pub(crate) borrows: u64,
    pub(crate) denials: u64,
    pub(crate) consumption: BTreeMap<String, u64>,
}

impl Day {
    fn is_empty(&self) -> bool {
        *self == Day::default()
    }
}

/// The usage of the days `first_day..=last_day` (days since 1970-01-01),
/// by group (`group_of` a license; None leaves the license out), then by
/// day: only the days with something to report.
pub(crate) fn report(
    (first_day, last_day): (i64, i64),
    group_of: impl Fn(&str) -> Option<String>,
    spans: &[Span],
    records: &[Record],
    happened: &[Happened],
) -> BTreeMap<String, BTreeMap<i64, Day>> {
    let from = first_day.saturating_mul(DAY);
    let to = last_day.saturating_add(1).saturating_mul(DAY);
    let mut out: BTreeMap<String, BTreeMap<i64, Day>> = BTreeMap::new();
    fn day_of(out: &mut BTreeMap<String, BTreeMap<i64, Day>>, group: String, day: i64) -> &mut Day {
        out.entry(group).or_default().entry(day).or_default()
    }
    // Seat time: each span's part in each day it crosses.
    let mut by_group: BTreeMap<String, Vec<(i64, i64)>> = BTreeMap::new();
    for s in spans {
        let (start, end) = (s.start.max(from), s.end.min(to));
        if start >= end {
            continue;
        }
        let Some(group) = group_of(&s.license) else {
            continue;
        };
        let mut day = start.div_euclid(DAY);
        while day.saturating_mul(DAY) < end {
            let (a, b) = (
                start.max(day * DAY),
                end.min(day.saturating_add(1).saturating_mul(DAY)),
            );
            if a < b {
                let d = day_of(&mut out, group.clone(), day);
                d.seat_seconds = d
                    .seat_seconds
                    .saturating_add(u64::try_from(b - a).unwrap_or(0));
            }
            day += 1;
        }
        by_group.entry(group).or_default().push((start, end));
    }
    // The peak: a sweep over the spans' starts and ends, an end before a
    // start at the same second (a seat handed on is not two seats). Seats
    // held when a day begins count in its peak, edge or none that day.
    for (group, spans) in by_group {
        let mut edges: Vec<(i64, i64)> =
            spans.iter().flat_map(|&(a, b)| [(a, 1), (b, -1)]).collect();
        edges.sort_unstable();
        let mut held: i64 = 0;
        let mut before = i64::MIN;
        let mut peak = |day: i64, held: i64| {
            if held > 0 && day <= last_day {
                let d = day_of(&mut out, group.clone(), day);
                d.peak_seats = d.peak_seats.max(u64::try_from(held).unwrap_or(0));
            }
        };
        for (at, step) in edges {
            if held > 0 {
                for day in before.div_euclid(DAY) + 1..=(at - 1).div_euclid(DAY) {
                    peak(day, held);
                }
            }
            held += step;
            peak(at.div_euclid(DAY), held);
            before = at;
        }
    }
    for r in records {
        if r.at < from || r.at >= to {
            continue;
        }
        let Some(group) = group_of(&r.license) else {
            continue;
        };
        let d = day_of(&mut out, group, r.at.div_euclid(DAY));
        let sum = d.consumption.entry(r.counter.clone()).or_default();
        *sum = sum.saturating_add(r.amount);
    }
    for h in happened {
        if h.at < from || h.at >= to {
            continue;
        }
        let Some(group) = group_of(&h.license) else {
            continue;
        };
        let d = day_of(&mut out, group, h.at.div_euclid(DAY));
        let n = match h.what {
            Happening::Activation => &mut d.activations,
            Happening::Borrow => &mut d.borrows,
            Happening::Denial => &mut d.denials,
        };
        *n = n.saturating_add(1);
    }
    for days in out.values_mut() {
        days.retain(|_, d| !d.is_empty());
    }
    out.retain(|_, days| !days.is_empty());
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A small deterministic generator (xorshift), so a failure repeats.
    struct Rng(u64);
    impl Rng {
        fn below(&mut self, n: u64) -> u64 {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            self.0 % n.max(1)
        }
    }

    /// Over random histories, the report's totals are the plain sums of
    /// what it came from, its peaks are what a second-by-second count of
    /// the spans finds at the edges, and nothing outside the range counts.
    #[test]
    fn the_report_adds_up_to_its_records_and_spans_over_random_histories() {
        for seed in 1..300u64 {
            let mut rng = Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1);
            let licenses = ["a", "b", "c"];
            let base = 20_000 * DAY;
            let span_of = |rng: &mut Rng| {
                let start = base + i64::try_from(rng.below(6 * DAY as u64)).unwrap() - DAY;
                let end = start + i64::try_from(rng.below(2 * DAY as u64)).unwrap();
                (start, end)
            };
            let spans: Vec<Span> = (0..rng.below(12))
                .map(|_| {
                    let (start, end) = span_of(&mut rng);
                    Span {
                        license: licenses[rng.below(3) as usize].into(),
                        start,
                        end,
                    }
                })
                .collect();
            let records: Vec<Record> = (0..rng.below(20))
                .map(|_| Record {
                    license: licenses[rng.below(3) as usize].into(),
                    at: span_of(&mut rng).0,
                    counter: ["license", "feature:x"][rng.below(2) as usize].into(),
                    amount: rng.below(50) + 1,
                })
                .collect();
            let happened: Vec<Happened> = (0..rng.below(10))
                .map(|_| Happened {
                    license: licenses[rng.below(3) as usize].into(),
                    at: span_of(&mut rng).0,
                    what: [Happening::Activation, Happening::Borrow, Happening::Denial]
                        [rng.below(3) as usize],
                })
                .collect();
            let (first, last) = (20_000, 20_003);
            let (from, to) = (first * DAY, (last + 1) * DAY);
            // Per license, and per account (a and b share one; c has none).
            for per_account in [false, true] {
                let group = |l: &str| -> Option<String> {
                    match (per_account, l) {
                        (false, l) => Some(l.to_owned()),
                        (true, "a" | "b") => Some("acct".to_owned()),
                        (true, _) => None,
                    }
                };
                let out = report((first, last), group, &spans, &records, &happened);
                for (g, days) in &out {
                    let mine = |l: &str| group(l).as_deref() == Some(g.as_str());
                    let seat: u64 = days.values().map(|d| d.seat_seconds).sum();
                    let expect: i64 = spans
                        .iter()
                        .filter(|s| mine(&s.license))
                        .map(|s| (s.end.min(to) - s.start.max(from)).max(0))
                        .sum();
                    assert_eq!(seat, expect as u64, "seed {seed} {g}");
                    for counter in ["license", "feature:x"] {
                        let got: u64 = days
                            .values()
                            .map(|d| d.consumption.get(counter).copied().unwrap_or(0))
                            .sum();
                        let expect: u64 = records
                            .iter()
                            .filter(|r| mine(&r.license) && r.counter == counter)
                            .filter(|r| r.at >= from && r.at < to)
                            .map(|r| r.amount)
                            .sum();
                        assert_eq!(got, expect, "seed {seed} {g} {counter}");
                    }
                    for (what, count) in [
                        (
                            Happening::Activation,
                            days.values().map(|d| d.activations).sum::<u64>(),
                        ),
                        (Happening::Borrow, days.values().map(|d| d.borrows).sum()),
                        (Happening::Denial, days.values().map(|d| d.denials).sum()),
                    ] {
                        let expect = happened
                            .iter()
                            .filter(|h| mine(&h.license) && h.what == what)
                            .filter(|h| h.at >= from && h.at < to)
                            .count() as u64;
                        assert_eq!(count, expect, "seed {seed} {g} {what:?}");
                    }
                    // The peak of a day: the most spans covering any second
                    // of it, which is reached at a span's start or the day's.
                    for (&day, d) in days {
                        let (a, b) = (day * DAY, (day + 1) * DAY);
                        let covering = |t: i64| {
                            spans
                                .iter()
                                .filter(|s| mine(&s.license))
                                .filter(|s| s.start.max(from) <= t && s.end.min(to) > t)
                                .count() as u64
                        };
                        let probes = spans
                            .iter()
                            .map(|s| s.start.max(from))
                            .chain([a])
                            .filter(|t| *t >= a && *t < b);
                        let expect = probes.map(covering).max().unwrap_or(0);
                        assert_eq!(d.peak_seats, expect, "seed {seed} {g} day {day}");
                        assert!(day >= first && day <= last);
                    }
                }
                // A group with nothing to say is not in the report.
                assert!(out.values().all(|days| !days.is_empty()));
            }
        }
    }
}
