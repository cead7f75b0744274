//! The admin request a write transaction serves: set by the admin API's
//! layer for every request that may change something, carried onto the
//! thread that runs the transaction, and audited inside it, so an admin
//! change and its audit row commit together or not at all.

use std::cell::RefCell;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;

use crate::store::{args, Db, DbResult};

/// Who changes what, for the audit rows of one admin request.
#[derive(Debug)]
pub(crate) struct AuditedRequest {
    pub(crate) at: i64,
    pub(crate) actor: String,
    pub(crate) action: String,
    /// Write transactions of the request committed with their audit row.
    committed: AtomicU32,
}

impl AuditedRequest {
    pub(crate) fn new(at: i64, actor: String, action: String) -> Arc<AuditedRequest> {
        Arc::new(AuditedRequest {
            at,
            actor,
            action,
            committed: AtomicU32::new(0),
        })
    }

    /// Whether a write of the request committed (and was audited with it).
    pub(crate) fn changed_something(&self) -> bool {
        self.committed.load(Ordering::Acquire) > 0
    }
}

tokio::task_local! {
    /// The admin request this task serves.
    pub(crate) static REQUEST: Arc<AuditedRequest>;
}

thread_local! {
    static ON_THIS_THREAD: RefCell<Option<Arc<AuditedRequest>>> = const { RefCell::new(None) };
}

/// The admin request of the current task, to hand to the database thread.
pub(crate) fn of_this_task() -> Option<Arc<AuditedRequest>> {
    REQUEST.try_with(Arc::clone).ok()
}

/// Runs `f` (which runs the request's transactions, without awaiting) with
/// `request` as the audited request of this thread.
pub(crate) fn on_this_thread<T>(request: Option<Arc<AuditedRequest>>, f: impl FnOnce() -> T) -> T {
    let before = ON_THIS_THREAD.with(|c| c.replace(request));
    let out = f();
    ON_THIS_THREAD.with(|c| *c.borrow_mut() = before);
    out
}

/// Writes the audit row of the request this transaction serves, if any,
/// inside the transaction, just before it commits: a row that cannot be
/// written fails the commit (the change is rolled back).
pub(crate) fn record_in(tx: &Db<'_>) -> DbResult<()> {
    let Some(request) = ON_THIS_THREAD.with(|c| c.borrow().clone()) else {
        return Ok(());
    };
    tx.execute(
        "INSERT INTO audit (at, actor, action, status) VALUES (?1, ?2, ?3, ?4)",
        args![request.at, request.actor, request.action, 200u16],
    )?;
    request.committed.fetch_add(1, Ordering::AcqRel);
    Ok(())
}

/// The name of the admin (token or staff member) whose request this
/// thread's transaction serves, if any.
pub(crate) fn actor() -> Option<String> {
    ON_THIS_THREAD.with(|c| c.borrow().as_ref().map(|r| r.actor.clone()))
}
