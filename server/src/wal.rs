//! The write-ahead log's checkpoints, off the request path.
//!
//! SQLite's own checkpoint runs inside the commit that crosses its
//! threshold: two fsyncs on a request's worker while every other request
//! waits for the database. That was the whole tail of heartbeat latency
//! (docs/PROTOCOL.md, Measured). Here the requests' connection never
//! checkpoints. A thread of its own, with a second connection, copies the
//! log into the database file after writes, at most once per [`PAUSE`], in
//! PASSIVE mode: it neither waits for nor blocks a writer.
//!
//! Under steady writes a passive checkpoint never copies the very last
//! frames, and the log starts over from its beginning only when a write
//! finds it all copied. So once the log holds [`RESTART_FRAMES`] frames the
//! thread takes the database lock for one more pass, over the few frames
//! written during the last one; the next write starts the log over.

use std::path::Path;
use std::sync::{Arc, Mutex, Weak};
use std::thread::Thread;
use std::time::{Duration, Instant};

use rusqlite::Connection;

/// The shortest time between two passes: a busy server checkpoints about
/// this often, an idle one not at all.
pub(crate) const PAUSE: Duration = Duration::from_millis(20);
/// How long the log may grow (in pages, 4 KiB each) before it is made to
/// start over.
pub(crate) const RESTART_FRAMES: i64 = 4096;

/// The handle the requests use to say they wrote.
pub(crate) struct Checkpointer {
    thread: Thread,
}

impl Checkpointer {
    /// Turns off the automatic checkpoint of `db`, the requests' connection
    /// to the database at `path`, and starts the thread that does it.
    pub(crate) fn start(path: &Path, db: &Arc<Mutex<Connection>>) -> Result<Checkpointer, String> {
        let passes = Passes::new(path, db, RESTART_FRAMES).map_err(|e| e.to_string())?;
        let handle = std::thread::Builder::new()
            .name("checkpoint".into())
            .spawn(move || {
                let mut last_error = String::new();
                loop {
                    std::thread::park();
                    let started = Instant::now();
                    match passes.pass() {
                        Ok(Pass::Closed) => return,
                        Ok(_) => last_error.clear(),
                        // Said once, not at every pass while it lasts.
                        Err(e) if e.to_string() != last_error => {
                            last_error = e.to_string();
                            eprintln!("tessera-server: checkpoint: {last_error}");
                        }
                        Err(_) => {}
                    }
                    std::thread::sleep(PAUSE.saturating_sub(started.elapsed()));
                }
            })
            .map_err(|e| format!("cannot start the checkpoint thread: {e}"))?;
        Ok(Checkpointer {
            thread: handle.thread().clone(),
        })
    }

    /// Tells the thread that the log grew; cheap when it is awake already.
    pub(crate) fn wrote(&self) {
        self.thread.unpark();
    }
}

/// What one pass did.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Pass {
    /// Copied what it could; the log held this many frames.
    Copied(i64),
    /// Copied everything with the database held, so the next write starts
    /// the log over; it had this many frames.
    Restarted(i64),
    /// The server is gone.
    Closed,
}

/// The checkpoint thread's state: its own connection and the requests'.
pub(crate) struct Passes {
    conn: Connection,
    db: Weak<Mutex<Connection>>,
    restart_frames: i64,
}

impl Passes {
    pub(crate) fn new(
        path: &Path,
        db: &Arc<Mutex<Connection>>,
        restart_frames: i64,
    ) -> rusqlite::Result<Passes> {
        db.lock().unwrap_or_else(|p| p.into_inner()).pragma_update(
            None,
            "wal_autocheckpoint",
            0,
        )?;
        let conn = Connection::open(path)?;
        conn.pragma_update(None, "synchronous", "NORMAL")?;
        Ok(Passes {
            conn,
            db: Arc::downgrade(db),
            restart_frames,
        })
    }

    /// Copies the log into the database file; when the log is long, again
    /// with the database held.
    pub(crate) fn pass(&self) -> rusqlite::Result<Pass> {
        let frames = self.copy()?;
        if frames < self.restart_frames {
            return Ok(Pass::Copied(frames));
        }
        self.restart(frames)
    }

    /// Copies what no reader still needs; answers the frames in the log.
    fn copy(&self) -> rusqlite::Result<i64> {
        self.conn
            .query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |r| r.get(1))
    }

    /// Copies the rest of the log, so that the next write starts it over.
    fn restart(&self, frames: i64) -> rusqlite::Result<Pass> {
        let Some(db) = self.db.upgrade() else {
            return Ok(Pass::Closed);
        };
        // No request reads or writes while this is held, so nothing holds
        // back the copy and nothing is added to the log meanwhile.
        let _held = db.lock().unwrap_or_else(|p| p.into_inner());
        self.copy()?;
        Ok(Pass::Restarted(frames))
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

    use super::*;

    /// `n` commits, each taking the lock as a request does.
    fn write(db: &Mutex<Connection>, n: usize) {
        for _ in 0..n {
            let conn = db.lock().unwrap_or_else(|p| p.into_inner());
            conn.execute(
                "INSERT INTO products (code, name, api_key) VALUES (?1, 'p', x'00')",
                [format!("p{}", conn.total_changes())],
            )
            .expect("insert");
        }
    }

    fn count(db: &Mutex<Connection>) -> usize {
        db.lock()
            .unwrap_or_else(|p| p.into_inner())
            .query_row("SELECT COUNT(*) FROM products", [], |r| r.get(0))
            .expect("count")
    }

    fn opened(restart_frames: i64) -> (tempfile::TempDir, Arc<Mutex<Connection>>, Passes) {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("t.db");
        let db = Arc::new(Mutex::new(crate::database::open(&path).expect("open")));
        let passes = Passes::new(&path, &db, restart_frames).expect("passes");
        (dir, db, passes)
    }

    #[test]
    fn requests_never_checkpoint_and_an_idle_log_starts_over() {
        let (_dir, db, passes) = opened(5000);
        // More commits than SQLite's own threshold (1,000 pages): had the
        // requests' connection checkpointed, the log would have started over.
        write(&db, 1200);
        assert!(matches!(passes.pass(), Ok(Pass::Copied(f)) if f >= 1200));
        // All of it copied and no write meanwhile: the next write begins
        // the log again.
        write(&db, 1);
        assert!(matches!(passes.pass(), Ok(Pass::Copied(f)) if f < 10));
        assert_eq!(count(&db), 1201);
    }

    /// Writes `n` while a reader holds the log as it was: the copy that
    /// follows misses those frames, as one does under steady writes.
    fn write_past_a_copy(db: &Mutex<Connection>, path: &Path, passes: &Passes, n: usize) {
        let reader = Connection::open(path).expect("reader");
        reader.execute_batch("BEGIN").expect("begin");
        reader
            .query_row("SELECT COUNT(*) FROM products", [], |r| r.get::<_, i64>(0))
            .expect("read");
        write(db, n);
        passes.copy().expect("copy");
        reader.execute_batch("COMMIT").expect("commit");
    }

    #[test]
    fn a_log_a_copy_never_caught_up_with_starts_over_after_a_restart() {
        let (dir, db, passes) = opened(300);
        let path = dir.path().join("t.db");
        write(&db, 400);
        write_past_a_copy(&db, &path, &passes, 5);
        // Left alone, the log goes on growing.
        write(&db, 1);
        assert!(passes.copy().expect("copy") >= 406);
        write_past_a_copy(&db, &path, &passes, 5);
        assert!(matches!(passes.restart(411), Ok(Pass::Restarted(411))));
        write(&db, 1);
        assert!(passes.copy().expect("copy") < 10);
        assert_eq!(count(&db), 412);
    }

    #[test]
    fn a_long_log_under_steady_writes_starts_over() {
        let (_dir, db, passes) = opened(300);
        let stop = Arc::new(AtomicBool::new(false));
        let written = Arc::new(AtomicUsize::new(0));
        let writer = {
            let (db, stop, written) = (Arc::clone(&db), Arc::clone(&stop), Arc::clone(&written));
            std::thread::spawn(move || {
                while !stop.load(Ordering::Relaxed) {
                    write(&db, 1);
                    written.fetch_add(1, Ordering::Relaxed);
                }
            })
        };
        let mut restarts = 0;
        let mut after_restart: Option<i64> = None;
        for _ in 0..100_000 {
            if restarts == 3 {
                break;
            }
            match passes.pass().expect("pass") {
                Pass::Restarted(frames) => {
                    assert!(frames >= 300);
                    restarts += 1;
                    after_restart = Some(frames);
                    // Until the writer has written after it (one write may
                    // have finished before the restart and be counted late).
                    let seen = written.load(Ordering::Relaxed);
                    while written.load(Ordering::Relaxed) < seen + 2 {
                        std::thread::yield_now();
                    }
                }
                Pass::Copied(frames) => {
                    // The log began again after the restart: it is shorter
                    // than it was then.
                    if let Some(before) = after_restart.take() {
                        assert!(frames < before, "{frames} frames after {before}");
                    }
                }
                Pass::Closed => panic!("closed"),
            }
        }
        stop.store(true, Ordering::Relaxed);
        writer.join().expect("writer");
        assert_eq!(restarts, 3);
        assert_eq!(count(&db), written.load(Ordering::Relaxed));
    }

    #[test]
    fn a_pass_after_the_server_is_gone_says_so() {
        let (_dir, db, passes) = opened(1);
        write(&db, 1);
        drop(db);
        assert_eq!(passes.pass().expect("pass"), Pass::Closed);
    }
}
