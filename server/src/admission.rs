//! How many connections the server holds open at once: in all, and from
//! one address. Each connection costs a file descriptor and memory; a
//! client that opens many and trickles bytes through them (or just opens
//! them) used to exhaust the descriptors and take the server down. Past a
//! limit a new connection is turned away at once: on plain HTTP with a
//! `503` and `Retry-After: 1`, on TLS by closing it before the handshake.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use crate::client_address::TrustedProxies;

/// Descriptors kept back from the connection cap for the database, the
/// log, the listener and the rest of the process.
const RESERVE: usize = 128;

/// The default cap per address.
pub(crate) const PER_ADDRESS: usize = 256;

/// The connections held open, counted against the two caps.
#[derive(Debug)]
pub(crate) struct Admission {
    max_total: usize,
    max_per_address: usize,
    /// Proxies (a load balancer) whose connections carry many clients:
    /// exempt from the per-address cap.
    trusted: TrustedProxies,
    total: AtomicUsize,
    per_address: Mutex<HashMap<IpAddr, usize>>,
}

/// One admitted connection; its count goes when it is dropped.
#[derive(Debug)]
pub(crate) struct Ticket {
    admission: Arc<Admission>,
    address: Option<IpAddr>,
}

impl Drop for Ticket {
    fn drop(&mut self) {
        self.admission.total.fetch_sub(1, Ordering::AcqRel);
        if let Some(ip) = self.address {
            let mut map = self
                .admission
                .per_address
                .lock()
                .unwrap_or_else(|p| p.into_inner());
            if let Some(n) = map.get_mut(&ip) {
                *n = n.saturating_sub(1);
                if *n == 0 {
                    map.remove(&ip);
                }
            }
        }
    }
}

impl Admission {
    /// Caps of `max_total` connections (None: the process's descriptor
    /// limit less a reserve) and `max_per_address`.
    pub(crate) fn new(
        max_total: Option<usize>,
        max_per_address: usize,
        trusted: TrustedProxies,
    ) -> Arc<Admission> {
        let max_total = max_total.unwrap_or_else(|| {
            descriptor_limit().map_or(4096, |n| n.saturating_sub(RESERVE).max(16))
        });
        Arc::new(Admission {
            max_total,
            max_per_address: max_per_address.max(1),
            trusted,
            total: AtomicUsize::new(0),
            per_address: Mutex::default(),
        })
    }

    /// The total cap.
    pub(crate) fn max_total(&self) -> usize {
        self.max_total
    }

    /// Admits a connection from `peer`, or None when a cap is reached.
    pub(crate) fn admit(self: &Arc<Self>, peer: IpAddr) -> Option<Ticket> {
        if self.total.fetch_add(1, Ordering::AcqRel) >= self.max_total {
            self.total.fetch_sub(1, Ordering::AcqRel);
            return None;
        }
        let address = (!self.trusted.contains(peer)).then_some(peer);
        if let Some(ip) = address {
            let mut map = self.per_address.lock().unwrap_or_else(|p| p.into_inner());
            let n = map.entry(ip).or_insert(0);
            if *n >= self.max_per_address {
                drop(map);
                self.total.fetch_sub(1, Ordering::AcqRel);
                return None;
            }
            *n += 1;
        }
        Some(Ticket {
            admission: Arc::clone(self),
            address,
        })
    }
}

/// The answer a plain-HTTP connection over a cap gets before it is closed.
pub(crate) const TURNED_AWAY: &[u8] = b"HTTP/1.1 503 Service Unavailable\r\nRetry-After: 1\r\nContent-Type: application/json\r\nContent-Length: 78\r\nConnection: close\r\n\r\n{\"status\":503,\"code\":\"too_many_connections\",\"message\":\"try again in a second\"}";

/// The soft limit on open files (Linux: /proc/self/limits), if known.
fn descriptor_limit() -> Option<usize> {
    let limits = std::fs::read_to_string("/proc/self/limits").ok()?;
    let line = limits.lines().find(|l| l.starts_with("Max open files"))?;
    line.split_whitespace().nth(3)?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_caps_hold_and_a_dropped_connection_frees_its_place() {
        let a = Admission::new(Some(3), 2, TrustedProxies::parse(&["10.0.0.1"]).unwrap());
        let (x, y, proxy) = (
            "192.0.2.1".parse().unwrap(),
            "192.0.2.2".parse().unwrap(),
            "10.0.0.1".parse().unwrap(),
        );
        let t1 = a.admit(x).unwrap();
        let _t2 = a.admit(x).unwrap();
        assert!(a.admit(x).is_none(), "a third from one address");
        let _t3 = a.admit(y).unwrap();
        assert!(a.admit(y).is_none(), "the total");
        drop(t1);
        assert!(a.admit(y).is_some());
        // A trusted proxy is not held to the per-address cap.
        let b = Admission::new(Some(10), 1, TrustedProxies::parse(&["10.0.0.1"]).unwrap());
        let held: Vec<_> = (0..5).map(|_| b.admit(proxy).unwrap()).collect();
        assert_eq!(held.len(), 5);
        // The answer's Content-Length is its body's length.
        let text = std::str::from_utf8(TURNED_AWAY).unwrap();
        let (head, body) = text.split_once("\r\n\r\n").unwrap();
        assert!(head.contains(&format!("Content-Length: {}\r\n", body.len())));
    }
}
