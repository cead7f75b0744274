//! Sliding-window limits on events per key (failed sign-ins per user or
//! address, new trials per address), kept in this process's memory.

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
