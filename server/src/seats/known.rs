//! What an instance remembers of the floating seats whose heartbeat it
//! renews in one statement (crate::seats::heartbeat): a leaf, so that the
//! application state can hold it.

use std::collections::HashMap;
use std::sync::Mutex;

/// The devices whose heartbeat passed the full path on this instance, and
/// what it found. Bounded: past [`MAX_KNOWN`] devices it starts again.
#[derive(Default)]
pub(crate) struct Known(Mutex<HashMap<Name, Seen>>);

/// How many devices [`Known`] remembers at most (about 300 bytes each).
const MAX_KNOWN: usize = 100_000;

/// A heartbeat's name for its seat: the product, the license as the
/// request names it, and the device.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(crate) struct Name {
    pub(crate) product: String,
    pub(crate) license: License,
    pub(crate) device: String,
}

/// The license as the request names it: by key or by id.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(crate) enum License {
    Key(String),
    Id(String),
}

/// What the full path found for a seat.
#[derive(Debug, Clone)]
pub(crate) struct Seen {
    pub(crate) license_id: String,
    pub(crate) revision: i64,
    /// The license's floating timeout at that revision, in minutes.
    pub(crate) timeout_minutes: u32,
    pub(crate) seats_total: u32,
    /// The key the activation recorded for the device's proofs.
    pub(crate) proof_key: Option<String>,
}

impl Known {
    pub(crate) fn learn(&self, name: Name, seen: Seen) {
        let mut known = self.0.lock().unwrap_or_else(|p| p.into_inner());
        if known.len() >= MAX_KNOWN {
            known.clear();
        }
        known.insert(name, seen);
    }

    pub(crate) fn get(&self, name: &Name) -> Option<Seen> {
        let known = self.0.lock().unwrap_or_else(|p| p.into_inner());
        known.get(name).cloned()
    }

    pub(crate) fn forget(&self, name: &Name) {
        let mut known = self.0.lock().unwrap_or_else(|p| p.into_inner());
        known.remove(name);
    }
}
