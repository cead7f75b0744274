//! Sliding-window limits on events per key (failed sign-ins per user or
//! address, new trials per address), counted in the database, so every
//! instance sharing it holds the same limit.

use crate::database;
use crate::store::{Db, DbResult};

/// A limit: at most `limit` events of one kind per key in `window` seconds.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Limit {
    pub kind: &'static str,
    pub limit: usize,
    pub window: i64,
}

impl Limit {
    /// Seconds until `key` may have another event, or None when it may now.
    pub(crate) fn wait(&self, conn: &Db<'_>, key: &str, now: i64) -> DbResult<Option<u64>> {
        let mut times =
            database::recent_events(conn, self.kind, key, now.saturating_sub(self.window))?;
        Ok(retry_after(&mut times, self.limit, self.window, now))
    }

    /// Counts an event of `key` at `now`.
    pub(crate) fn record(&self, conn: &Db<'_>, key: &str, now: i64) -> DbResult<()> {
        database::record_event(conn, self.kind, key, now)
    }

    /// Forgets `key`'s events.
    pub(crate) fn forget(&self, conn: &Db<'_>, key: &str) -> DbResult<()> {
        database::forget_events(conn, self.kind, key)
    }
}

/// Forgets the times in `times` (Unix seconds) older than `window`
/// seconds, and answers the seconds until fewer than `limit` remain
/// within it, or None when fewer already do. Any order of times works (a
/// test clock may go back).
pub(crate) fn retry_after(
    times: &mut Vec<i64>,
    limit: usize,
    window: i64,
    now: i64,
) -> Option<u64> {
    times.retain(|t| *t > now - window);
    let oldest = *times.iter().min()?;
    (times.len() >= limit).then(|| u64::try_from(oldest + window - now).unwrap_or(1).max(1))
}
