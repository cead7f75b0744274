//! A license that looks after itself: [`AutoSync`] runs the check-in
//! timer from a thread of its own (upload, check-in, reload in place,
//! the floating seat's heartbeat), backs off while offline, and tells the
//! product when the license's status changes.

use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration as StdDuration, Instant};

use super::calls::Connection;
use crate::error::{Error, Result};
use crate::format::lease::LeaseKind;
use crate::runtime::handle::LicenseHandle;
use crate::status::Status;

/// Why the status changed, as far as the SDK can tell.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ChangeReason {
    /// A sync brought a fresh license file (the vendor changed it, or a
    /// check-in renewed it) and the handle switched to it.
    Synced,
    /// The floating seat was taken, renewed or lost.
    Seat,
    /// Time passed: an expiry, a lease's end or a grace period.
    TimePassed,
    /// The server cannot be reached (the words say why; never a secret).
    Offline(String),
    /// The server refused, signed: its code (`license_disabled`, ...).
    Refused(String),
    /// Another failure (the store, the clock), in words.
    Failed(String),
}

impl std::fmt::Display for ChangeReason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ChangeReason::Synced => f.write_str("a sync brought a fresh license"),
            ChangeReason::Seat => f.write_str("the floating seat changed"),
            ChangeReason::TimePassed => f.write_str("time passed"),
            ChangeReason::Offline(why) => write!(f, "the server cannot be reached: {why}"),
            ChangeReason::Refused(code) => write!(f, "the server refused: {code}"),
            ChangeReason::Failed(why) => write!(f, "the sync failed: {why}"),
        }
    }
}

impl ChangeReason {
    fn of(e: &Error) -> ChangeReason {
        match e {
            Error::Network(why) => ChangeReason::Offline(why.clone()),
            Error::ServerRefused { code, .. } => ChangeReason::Refused(code.clone()),
            other => ChangeReason::Failed(other.to_string()),
        }
    }
}

/// One change of the license's status.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatusChange {
    /// The status before.
    pub old: Status,
    /// The status now.
    pub new: Status,
    /// What brought the change.
    pub reason: ChangeReason,
}

/// Called on the auto-sync thread for every change. It may call the
/// handle's methods (check, validate, consume, ...) and the connection's,
/// but must not call [`AutoSync::stop`] (that waits for this very thread)
/// and should return quickly: the next sync waits for it.
pub type StatusCallback = Box<dyn Fn(&StatusChange) + Send + Sync>;

/// What [`AutoSync`] does and when.
pub struct AutoSyncOptions {
    /// The longest time between two syncs (default 1 h). A sync is also
    /// due a tenth of `check_in_days` before the file's check-in expiry.
    pub interval: StdDuration,
    /// How often the floating seat is renewed (default: a third of the
    /// license's `floating_timeout`). Only for a floating license.
    pub heartbeat: Option<StdDuration>,
    /// Whether to take a floating seat and keep it (default true); the
    /// seat is given back when the auto-sync stops.
    pub keep_seat: bool,
    /// The first wait after a failed sync; it doubles up to `interval`
    /// (default 30 s).
    pub retry: StdDuration,
    /// How often the status is looked at between syncs, so that time
    /// passing is reported too (default 60 s).
    pub watch: StdDuration,
    /// How long [`AutoSync::stop`] (or a drop) waits for the thread
    /// (default 2 s): a sync in flight is abandoned after that, and the
    /// thread ends when its call returns.
    pub stop_timeout: StdDuration,
    /// Told of every status change.
    pub on_change: Option<StatusCallback>,
}

impl Default for AutoSyncOptions {
    fn default() -> AutoSyncOptions {
        AutoSyncOptions {
            interval: StdDuration::from_secs(3600),
            heartbeat: None,
            keep_seat: true,
            retry: StdDuration::from_secs(30),
            watch: StdDuration::from_secs(60),
            stop_timeout: StdDuration::from_secs(2),
            on_change: None,
        }
    }
}

impl std::fmt::Debug for AutoSyncOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AutoSyncOptions")
            .field("interval", &self.interval)
            .field("heartbeat", &self.heartbeat)
            .field("keep_seat", &self.keep_seat)
            .field("retry", &self.retry)
            .field("watch", &self.watch)
            .field("stop_timeout", &self.stop_timeout)
            .field("on_change", &self.on_change.is_some())
            .finish()
    }
}

enum Command {
    SyncNow,
    Stop,
}

/// What the thread last did, for [`AutoSync::last_sync`].
#[derive(Debug, Default)]
struct Record {
    syncs: u64,
    failures: u64,
    last_error: Option<Error>,
}

/// A handle kept in sync from a background thread (opt-in): on its timer
/// it uploads pending consumption, checks in and switches the handle in
/// place to the fresh file ([`Connection::sync`]), renews the floating
/// seat, and reports every status change to `on_change`. While offline it
/// retries with doubling waits; the handle keeps working offline as
/// [`LicenseHandle::check`] says. [`AutoSync::stop`], or a drop, ends it
/// within `stop_timeout`.
pub struct AutoSync {
    /// Open while `on_change` may be called; closed by the stop, which
    /// waits for a call in progress, so no call comes after the stop (a C
    /// caller frees the callback's data then).
    gate: Arc<Mutex<bool>>,
    commands: mpsc::Sender<Command>,
    done: mpsc::Receiver<()>,
    thread: Option<JoinHandle<()>>,
    record: Arc<Mutex<Record>>,
    stop_timeout: StdDuration,
}

impl std::fmt::Debug for AutoSync {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AutoSync").finish_non_exhaustive()
    }
}

impl AutoSync {
    /// Starts the thread; its first sync runs at once.
    pub fn start(
        connection: Arc<Connection>,
        handle: Arc<LicenseHandle>,
        options: AutoSyncOptions,
    ) -> Result<AutoSync> {
        super::transport::online_built()?;
        if options.interval.is_zero() || options.retry.is_zero() || options.watch.is_zero() {
            return Err(Error::InvalidArgument(
                "the interval, the retry wait and the watch must be more than zero",
            ));
        }
        if options.heartbeat.is_some_and(|h| h.is_zero()) {
            return Err(Error::InvalidArgument(
                "the heartbeat interval must be more than zero",
            ));
        }
        let (commands, received) = mpsc::channel();
        let (finished, done) = mpsc::channel();
        let record = Arc::new(Mutex::new(Record::default()));
        let gate = Arc::new(Mutex::new(true));
        let stop_timeout = options.stop_timeout;
        let worker = Worker {
            connection,
            handle,
            options,
            record: Arc::clone(&record),
            gate: Arc::clone(&gate),
        };
        let thread = std::thread::Builder::new()
            .name("tessera-auto-sync".into())
            .spawn(move || {
                worker.run(&received);
                let _ = finished.send(());
            })
            .map_err(|e| Error::io(&e, "starting the auto-sync thread"))?;
        Ok(AutoSync {
            gate,
            commands,
            done,
            thread: Some(thread),
            record,
            stop_timeout,
        })
    }

    /// Syncs now (after a resume from sleep, or when the product knows the
    /// vendor changed something), without waiting for it.
    pub fn sync_now(&self) {
        let _ = self.commands.send(Command::SyncNow);
    }

    /// How many syncs succeeded and failed so far, and the last failure
    /// (taken: asking again answers None until the next one).
    pub fn last_sync(&self) -> (u64, u64, Option<Error>) {
        let mut r = self.record.lock().unwrap_or_else(|p| p.into_inner());
        (r.syncs, r.failures, r.last_error.take())
    }

    /// Stops the thread: waits for an `on_change` call in progress (none
    /// comes after this returns), then at most `stop_timeout` for the
    /// thread and the floating seat's release; a call still on the wire
    /// then finishes on its own, with nobody waiting.
    pub fn stop(mut self) {
        self.shut_down();
    }

    fn shut_down(&mut self) {
        // No status change is told from here on.
        *self.gate.lock().unwrap_or_else(|p| p.into_inner()) = false;
        let _ = self.commands.send(Command::Stop);
        if let Some(thread) = self.thread.take() {
            if self.done.recv_timeout(self.stop_timeout).is_ok() {
                let _ = thread.join();
            }
            // Otherwise the thread is left to end by itself.
        }
    }
}

impl Drop for AutoSync {
    fn drop(&mut self) {
        self.shut_down();
    }
}

struct Worker {
    connection: Arc<Connection>,
    handle: Arc<LicenseHandle>,
    options: AutoSyncOptions,
    record: Arc<Mutex<Record>>,
    gate: Arc<Mutex<bool>>,
}

impl Worker {
    fn status(&self) -> Status {
        match self.handle.check() {
            Ok(status) => status,
            Err(_) => Status::ClockBehind,
        }
    }

    fn tell(&self, last: &mut Status, reason: ChangeReason) {
        let now = self.status();
        if now != *last {
            let change = StatusChange {
                old: *last,
                new: now,
                reason,
            };
            *last = now;
            log::info!(
                "license status {} -> {}: {}",
                change.old,
                change.new,
                change.reason
            );
            if let Some(callback) = &self.options.on_change {
                let open = self.gate.lock().unwrap_or_else(|p| p.into_inner());
                if *open {
                    callback(&change);
                }
            }
        }
    }

    /// When the next sync is due after a successful one: `interval`
    /// from now, or sooner when the file's check-in expiry comes first
    /// (a tenth of its validity before it).
    fn next_sync(&self, now: Instant) -> Instant {
        let license = self.handle.license();
        let mut wait = self.options.interval;
        if let Some(due) = license.expires_at {
            let margin = due.saturating_duration_since(license.issued_at) / 10;
            let left = due.checked_sub(margin).map_or(StdDuration::ZERO, |at| {
                at.saturating_duration_since(self.handle.config().clock.now())
            });
            wait = wait.min(left.max(self.options.retry));
        }
        after(now, wait)
    }

    fn heartbeat_every(&self) -> Option<StdDuration> {
        let license = self.handle.license();
        if !license.floats() || !self.options.keep_seat {
            return None;
        }
        let timeout = StdDuration::from_secs(u64::from(license.floating_timeout) * 60);
        // Never a busy loop, whatever the license says.
        Some(
            self.options
                .heartbeat
                .unwrap_or(timeout / 3)
                .max(StdDuration::from_secs(1)),
        )
    }

    fn run(&self, commands: &mpsc::Receiver<Command>) {
        let mut last = self.status();
        let mut next_sync = Instant::now();
        let mut next_beat = self.heartbeat_every().map(|_| Instant::now());
        let mut failures: u32 = 0;
        loop {
            let now = Instant::now();
            let mut due = next_sync.min(after(now, self.options.watch));
            if let Some(beat) = next_beat {
                due = due.min(beat);
            }
            let mut sync_now = false;
            match commands.recv_timeout(due.saturating_duration_since(now)) {
                Ok(Command::SyncNow) => sync_now = true,
                Ok(Command::Stop) | Err(mpsc::RecvTimeoutError::Disconnected) => {
                    self.give_back_seat();
                    return;
                }
                Err(mpsc::RecvTimeoutError::Timeout) => {}
            }
            let now = Instant::now();
            if sync_now || now >= next_sync {
                match self.connection.sync(&self.handle) {
                    Ok(()) => {
                        log::debug!("auto-sync: synced");
                        failures = 0;
                        next_sync = self.next_sync(now);
                        self.record_result(None);
                        self.tell(&mut last, ChangeReason::Synced);
                    }
                    Err(e) => {
                        log::warn!("auto-sync: the sync failed: {e}");
                        failures = failures.saturating_add(1);
                        let wait = self
                            .options
                            .retry
                            .saturating_mul(1u32 << failures.saturating_sub(1).min(16))
                            .min(self.options.interval);
                        next_sync = after(now, wait);
                        let reason = ChangeReason::of(&e);
                        self.record_result(Some(e));
                        self.tell(&mut last, reason);
                    }
                }
                // The file may have changed whether the license floats.
                if next_beat.is_none() {
                    next_beat = self.heartbeat_every().map(|_| now);
                }
            }
            if let Some(beat) = next_beat {
                if now >= beat {
                    next_beat = self.keep_seat(now);
                    self.tell(&mut last, ChangeReason::Seat);
                }
            }
            self.tell(&mut last, ChangeReason::TimePassed);
        }
    }

    /// Takes or renews the floating seat; answers when to do it again.
    fn keep_seat(&self, now: Instant) -> Option<Instant> {
        let every = self.heartbeat_every()?;
        let borrowed = matches!(self.handle.lease(), Ok(Some(l)) if l.kind == LeaseKind::Borrow);
        if borrowed {
            return Some(after(now, every));
        }
        match self.connection.heartbeat(&self.handle) {
            Ok(_) => Some(after(now, every)),
            Err(e) => {
                self.record_result(Some(e));
                Some(after(now, every.min(self.options.retry)))
            }
        }
    }

    fn give_back_seat(&self) {
        if self.heartbeat_every().is_none() {
            return;
        }
        if matches!(self.handle.lease(), Ok(Some(l)) if l.kind == LeaseKind::Floating) {
            let _ = self.connection.release_briefly(self.options.stop_timeout);
        }
    }

    fn record_result(&self, error: Option<Error>) {
        let mut r = self.record.lock().unwrap_or_else(|p| p.into_inner());
        match error {
            None => r.syncs += 1,
            Some(e) => {
                r.failures += 1;
                r.last_error = Some(e);
            }
        }
    }
}

/// `now + wait`, or a day from now when that does not fit in an `Instant`.
fn after(now: Instant, wait: StdDuration) -> Instant {
    now.checked_add(wait)
        .or_else(|| now.checked_add(StdDuration::from_secs(86_400)))
        .unwrap_or(now)
}
