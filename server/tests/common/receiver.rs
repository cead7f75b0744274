//! A webhook receiver on loopback: a real HTTP listener that records every
//! delivery it is sent and answers each as the test scripts it: a status,
//! a connection closed without an answer, an answer that never comes, one
//! that comes late, a redirect, a huge body.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// How the receiver answers one delivery.
#[derive(Clone, Debug)]
pub enum Behaviour {
    /// Answers this status at once.
    Status(u16),
    /// Closes the connection without a word.
    Close,
    /// Says nothing for this long, then closes.
    Hang(Duration),
    /// Answers 200 after this long (recorded as no answer: the sender
    /// gave up waiting first).
    Late(Duration),
    /// Answers 200 after this long, within the sender's deadline.
    Slow(Duration),
    /// Answers `302` to this location.
    Redirect(String),
    /// Answers 200 with a body of this many bytes.
    Huge(usize),
}

/// One delivery as it arrived.
#[derive(Clone, Debug)]
pub struct Received {
    pub event_id: String,
    pub timestamp: String,
    pub signature: String,
    pub body: Vec<u8>,
    /// The `type` of the event in the body.
    pub kind: String,
    pub license_id: Option<String>,
    /// What the receiver answered (None: nothing, or too late).
    pub answered: Option<u16>,
    pub at: Instant,
}

type Script = dyn Fn(usize, &Received) -> Behaviour + Send + Sync;

pub struct Receiver {
    pub url: String,
    pub received: Arc<Mutex<Vec<Received>>>,
    /// Deliveries being answered right now, by event id (to catch two at once).
    pub in_flight: Arc<Mutex<Vec<String>>>,
    /// The most deliveries of one event answered at the same time.
    pub overlaps: Arc<AtomicUsize>,
}

impl Receiver {
    /// Starts a receiver whose answer to the `n`th delivery is `script(n, delivery)`.
    pub fn start(
        script: impl Fn(usize, &Received) -> Behaviour + Send + Sync + 'static,
    ) -> Receiver {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}/hook", listener.local_addr().unwrap());
        let received = Arc::new(Mutex::new(Vec::new()));
        let in_flight = Arc::new(Mutex::new(Vec::new()));
        let overlaps = Arc::new(AtomicUsize::new(0));
        let script: Arc<Script> = Arc::new(script);
        let counter = Arc::new(AtomicUsize::new(0));
        let (r, f, o) = (received.clone(), in_flight.clone(), overlaps.clone());
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(stream) = stream else { continue };
                let (r, f, o, script, counter) = (
                    r.clone(),
                    f.clone(),
                    o.clone(),
                    script.clone(),
                    counter.clone(),
                );
                std::thread::spawn(move || serve(stream, &r, &f, &o, &*script, &counter));
            }
        });
        Receiver {
            url,
            received,
            in_flight,
            overlaps,
        }
    }

    pub fn all(&self) -> Vec<Received> {
        self.received.lock().unwrap().clone()
    }

    /// Waits (up to a minute) until `done` holds of what arrived.
    pub fn wait_for(&self, what: &str, done: impl Fn(&[Received]) -> bool) -> Vec<Received> {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let all = self.all();
            if done(&all) {
                return all;
            }
            assert!(
                Instant::now() < deadline,
                "waited a minute for {what}; received {:?}",
                all.iter()
                    .map(|r| (&r.event_id, &r.kind, r.answered))
                    .collect::<Vec<_>>()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

fn serve(
    mut stream: TcpStream,
    received: &Mutex<Vec<Received>>,
    in_flight: &Mutex<Vec<String>>,
    overlaps: &AtomicUsize,
    script: &Script,
    counter: &AtomicUsize,
) {
    let Some((headers, body)) = read_request(&mut stream) else {
        return;
    };
    let header = |name: &str| {
        headers
            .lines()
            .find_map(|l| {
                let (k, v) = l.split_once(':')?;
                k.trim()
                    .eq_ignore_ascii_case(name)
                    .then(|| v.trim().to_owned())
            })
            .unwrap_or_default()
    };
    let event: serde_json::Value = serde_json::from_slice(&body).unwrap_or_default();
    let mut delivery = Received {
        event_id: header("tessera-event-id"),
        timestamp: header("tessera-timestamp"),
        signature: header("tessera-signature"),
        kind: event["type"].as_str().unwrap_or_default().to_owned(),
        license_id: event["license_id"].as_str().map(str::to_owned),
        body,
        answered: None,
        at: Instant::now(),
    };
    {
        let mut flying = in_flight.lock().unwrap();
        if flying.contains(&delivery.event_id) {
            overlaps.fetch_add(1, Ordering::SeqCst);
        }
        flying.push(delivery.event_id.clone());
    }
    let n = counter.fetch_add(1, Ordering::SeqCst);
    let behaviour = script(n, &delivery);
    let answer = |stream: &mut TcpStream, status: u16, extra: &str, body: &[u8]| {
        let head = format!(
            "HTTP/1.1 {status} X\r\nContent-Length: {}\r\nConnection: close\r\n{extra}\r\n",
            body.len()
        );
        let _ = stream.write_all(head.as_bytes());
        let _ = stream.write_all(body);
        let _ = stream.flush();
    };
    let answered = match behaviour {
        Behaviour::Status(s) => {
            answer(&mut stream, s, "", b"{}");
            Some(s)
        }
        Behaviour::Close => None,
        Behaviour::Hang(d) => {
            std::thread::sleep(d);
            None
        }
        Behaviour::Late(d) => {
            std::thread::sleep(d);
            answer(&mut stream, 200, "", b"{}");
            None
        }
        Behaviour::Slow(d) => {
            std::thread::sleep(d);
            answer(&mut stream, 200, "", b"{}");
            Some(200)
        }
        Behaviour::Redirect(to) => {
            answer(&mut stream, 302, &format!("Location: {to}\r\n"), b"");
            Some(302)
        }
        Behaviour::Huge(n) => {
            let chunk = vec![b'x'; 64 * 1024];
            let head =
                format!("HTTP/1.1 200 OK\r\nContent-Length: {n}\r\nConnection: close\r\n\r\n");
            let _ = stream.write_all(head.as_bytes());
            let mut left = n;
            while left > 0 {
                let k = left.min(chunk.len());
                if stream.write_all(&chunk[..k]).is_err() {
                    break;
                }
                left -= k;
            }
            Some(200)
        }
    };
    delivery.answered = answered;
    {
        let mut flying = in_flight.lock().unwrap();
        if let Some(i) = flying.iter().position(|e| *e == delivery.event_id) {
            flying.remove(i);
        }
    }
    received.lock().unwrap().push(delivery);
}

fn read_request(stream: &mut TcpStream) -> Option<(String, Vec<u8>)> {
    stream
        .set_read_timeout(Some(Duration::from_secs(30)))
        .ok()?;
    let mut buf = Vec::new();
    let mut chunk = [0u8; 8192];
    let end = loop {
        if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break i;
        }
        let n = stream.read(&mut chunk).ok()?;
        if n == 0 {
            return None;
        }
        buf.extend_from_slice(&chunk[..n]);
    };
    let headers = String::from_utf8_lossy(&buf[..end]).into_owned();
    let length: usize = headers
        .lines()
        .find_map(|l| {
            let (k, v) = l.split_once(':')?;
            k.trim()
                .eq_ignore_ascii_case("content-length")
                .then(|| v.trim().parse().ok())?
        })
        .unwrap_or(0);
    let mut body = buf[end + 4..].to_vec();
    while body.len() < length {
        let n = stream.read(&mut chunk).ok()?;
        if n == 0 {
            return None;
        }
        body.extend_from_slice(&chunk[..n]);
    }
    Some((headers, body))
}
