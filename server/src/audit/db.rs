//! The queries of the admin audit log.

use crate::database::{all, exec};
use crate::store::{args, Db, DbResult};

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
