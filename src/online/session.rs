//! A floating seat kept alive from a thread of its own.

use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration as StdDuration;

use super::calls::Connection;
use crate::error::{Error, Result};
use crate::runtime::handle::{LeaseStatus, LicenseHandle};

/// How long dropping an unclosed session may wait for its release.
const RELEASE_ON_DROP: StdDuration = StdDuration::from_secs(2);

/// A floating seat kept alive: registered on open, renewed from a
/// background thread every `interval`, released on [`close`] or drop
/// (a drop makes one attempt of at most 2 s).
/// With the connection lost, the seat stays usable until its lease
/// expires, and not longer ([`LicenseHandle::check`] says so).
///
/// [`close`]: FloatingSession::close
pub struct FloatingSession {
    connection: Arc<Connection>,
    handle: Arc<LicenseHandle>,
    stop: Option<mpsc::Sender<()>>,
    thread: Option<JoinHandle<()>>,
    last_error: Arc<Mutex<Option<Error>>>,
    released: bool,
}

impl std::fmt::Debug for FloatingSession {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FloatingSession").finish_non_exhaustive()
    }
}

impl FloatingSession {
    /// Registers a seat and starts heart-beating it every `interval`
    /// (keep it well under `floating_timeout`).
    pub fn open(
        connection: Arc<Connection>,
        handle: Arc<LicenseHandle>,
        interval: StdDuration,
    ) -> Result<FloatingSession> {
        super::transport::online_built()?;
        connection.register(&handle)?;
        let (stop, stopped) = mpsc::channel::<()>();
        let last_error = Arc::new(Mutex::new(None));
        let (conn, errors, current) = (
            Arc::clone(&connection),
            Arc::clone(&last_error),
            Arc::clone(&handle),
        );
        let thread = std::thread::Builder::new()
            .name("tessera-heartbeat".into())
            .spawn(move || loop {
                match stopped.recv_timeout(interval) {
                    Err(mpsc::RecvTimeoutError::Timeout) => {}
                    // Asked to stop, or the session is gone.
                    _ => return,
                }
                let result = conn.heartbeat(&current);
                *errors.lock().unwrap_or_else(|p| p.into_inner()) = result.err();
            })
            .map_err(|e| Error::io(&e, "starting the heartbeat thread"))?;
        Ok(FloatingSession {
            connection,
            handle,
            stop: Some(stop),
            thread: Some(thread),
            last_error,
            released: false,
        })
    }

    /// Heart-beats now (after a resume from sleep, say) and answers the
    /// renewed lease.
    pub fn beat(&self) -> Result<LeaseStatus> {
        self.connection.heartbeat(&self.handle)
    }

    /// The last heartbeat's error, if it failed (taken: asking again
    /// answers None until the next failure).
    pub fn last_error(&self) -> Option<Error> {
        self.last_error
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .take()
    }

    fn stop_thread(&mut self) {
        self.stop.take();
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }

    /// Stops heart-beating and gives the seat back: to the server, then
    /// here (the handle's floating lease is forgotten once the server
    /// took the seat back).
    pub fn close(mut self) -> Result<()> {
        self.stop_thread();
        self.released = true;
        self.connection.release()?;
        self.handle.end_floating_lease()
    }
}

impl Drop for FloatingSession {
    fn drop(&mut self) {
        self.stop_thread();
        if !self.released {
            // Best effort, and brief: dropped while offline, a session
            // must not hold up the program's exit for the call's whole
            // deadline; unreleased, the seat comes free at its timeout.
            if self.connection.release_briefly(RELEASE_ON_DROP).is_ok() {
                let _ = self.handle.end_floating_lease();
            }
        }
    }
}
