//! What the events of one database task need besides their transaction:
//! the task's time (the server's clock when the request began, so a test
//! server's manual clock dates its events), whether an event was written
//! (to wake the sender once the transaction commits), and the events that
//! report a refusal, which are written after the refused transaction rolls
//! back ([`crate::database::finish`]).

use std::cell::RefCell;

use serde_json::Value;

use super::kind::Kind;

/// An event to write on its own once the transaction that produced it is
/// rolled back (a seat denied is a refusal: the request's transaction
/// keeps nothing, but the denial is a fact).
pub(crate) struct Deferred {
    pub(crate) kind: Kind,
    pub(crate) license_id: Option<String>,
    pub(crate) data: Value,
}

#[derive(Default)]
struct Task {
    now: Option<i64>,
    emitted: bool,
    deferred: Vec<Deferred>,
}

thread_local! {
    static TASK: RefCell<Task> = RefCell::new(Task::default());
}

/// Runs `f` (one database task) with `now` (Unix seconds) as its time.
pub(crate) fn on_this_thread<T>(now: i64, f: impl FnOnce() -> T) -> T {
    let before = TASK.with(|t| {
        std::mem::replace(
            &mut *t.borrow_mut(),
            Task {
                now: Some(now),
                ..Task::default()
            },
        )
    });
    let out = f();
    TASK.with(|t| *t.borrow_mut() = before);
    out
}

/// The time of this task, or the system's when none was set (a task of
/// the server's own, such as the sender's).
pub(crate) fn now() -> i64 {
    TASK.with(|t| t.borrow().now).unwrap_or_else(|| {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
    })
}

/// Notes that this task's open transaction wrote an event.
pub(crate) fn note_emitted() {
    TASK.with(|t| t.borrow_mut().emitted = true);
}

/// Whether this task's transaction wrote an event (and forgets it).
pub(crate) fn take_emitted() -> bool {
    TASK.with(|t| std::mem::take(&mut t.borrow_mut().emitted))
}

/// Keeps `event` to write after the transaction rolls back.
pub(crate) fn defer(event: Deferred) {
    TASK.with(|t| t.borrow_mut().deferred.push(event));
}

/// The events kept for after a rollback (and forgets them).
pub(crate) fn take_deferred() -> Vec<Deferred> {
    TASK.with(|t| std::mem::take(&mut t.borrow_mut().deferred))
}

/// Wakes the sender: an event was committed (or a webhook resumed).
static WAKE: tokio::sync::Notify = tokio::sync::Notify::const_new();

/// After this task's transaction committed: wakes the sender if it wrote
/// an event.
pub(crate) fn committed() {
    if take_emitted() {
        wake();
    }
}

/// Wakes the sender of this process.
pub(crate) fn wake() {
    WAKE.notify_one();
}

/// Waits until [`wake`] is called.
pub(crate) async fn woken() {
    WAKE.notified().await;
}
