//! A small HTTP proxy on loopback that can drop, delay, duplicate, alter
//! or replay the server's answers: the network fault is simulated, the
//! server behind it is real.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// What the proxy does to the next answers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fault {
    /// Passes everything.
    None,
    /// Forwards the request, then closes without answering (`n` times).
    DropAnswer(u32),
    /// Closes without forwarding (`n` times): the server never sees it.
    Refuse(u32),
    /// Waits this long before forwarding.
    Delay(Duration),
    /// Sends the next request to the server twice and answers the second
    /// reply (once; then passes everything).
    Duplicate,
    /// Flips a byte of the answer's body.
    Alter,
    /// Answers the last answer it passed, instead of forwarding.
    Replay,
    /// Sends the answer's head and its body's first `n` bytes, then holds
    /// the connection open without a byte more for a minute (once; then
    /// passes everything): a server that stalls mid-file.
    Stall(u32),
}

pub struct Proxy {
    pub url: String,
    pub upstream: Arc<Mutex<String>>,
    pub fault: Arc<Mutex<Fault>>,
    /// Requests that reached the server through the proxy.
    pub forwarded: Arc<Mutex<u32>>,
    /// Requests the proxy received, whatever it did with them.
    pub received: Arc<Mutex<u32>>,
    /// When set, the `Proxy-Authorization` value a request must carry;
    /// others are answered 407 (it is then an explicit HTTP proxy).
    pub require_auth: Arc<Mutex<Option<String>>>,
}

impl Proxy {
    /// A proxy in front of `upstream` (`host:port`).
    pub fn start(upstream: &str) -> Proxy {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let upstream = Arc::new(Mutex::new(upstream.to_owned()));
        let fault = Arc::new(Mutex::new(Fault::None));
        let forwarded = Arc::new(Mutex::new(0));
        let last: Arc<Mutex<Option<Vec<u8>>>> = Arc::new(Mutex::new(None));
        let require_auth = Arc::new(Mutex::new(None));
        let received = Arc::new(Mutex::new(0));
        let counts = Counts {
            forwarded: forwarded.clone(),
            received: received.clone(),
        };
        let (u, f, a) = (upstream.clone(), fault.clone(), require_auth.clone());
        std::thread::spawn(move || {
            for client in listener.incoming().flatten() {
                let (u, f, c, l, a) = (
                    u.clone(),
                    f.clone(),
                    counts.clone(),
                    last.clone(),
                    a.clone(),
                );
                std::thread::spawn(move || serve(client, u, f, c, l, a));
            }
        });
        Proxy {
            url,
            upstream,
            fault,
            forwarded,
            received,
            require_auth,
        }
    }

    pub fn set(&self, fault: Fault) {
        *self.fault.lock().unwrap() = fault;
    }

    pub fn point_to(&self, upstream: &str) {
        *self.upstream.lock().unwrap() = upstream.to_owned();
    }
}

#[derive(Clone)]
struct Counts {
    forwarded: Arc<Mutex<u32>>,
    received: Arc<Mutex<u32>>,
}

/// One HTTP message: head and body (by Content-Length).
fn read_message(r: &mut BufReader<TcpStream>) -> Option<Vec<u8>> {
    let mut head = Vec::new();
    let mut length = 0usize;
    loop {
        let mut line = String::new();
        if r.read_line(&mut line).ok()? == 0 {
            return None;
        }
        if let Some(v) = line.to_ascii_lowercase().strip_prefix("content-length:") {
            length = v.trim().parse().ok()?;
        }
        head.extend_from_slice(line.as_bytes());
        if line == "\r\n" {
            break;
        }
    }
    let mut body = vec![0; length];
    r.read_exact(&mut body).ok()?;
    head.extend_from_slice(&body);
    Some(head)
}

fn exchange(upstream: &str, request: &[u8]) -> Option<Vec<u8>> {
    let mut s = TcpStream::connect(upstream).ok()?;
    s.write_all(request).ok()?;
    read_message(&mut BufReader::new(s))
}

fn serve(
    client: TcpStream,
    upstream: Arc<Mutex<String>>,
    fault: Arc<Mutex<Fault>>,
    counts: Counts,
    last: Arc<Mutex<Option<Vec<u8>>>>,
    require_auth: Arc<Mutex<Option<String>>>,
) {
    let mut reader = BufReader::new(client.try_clone().unwrap());
    let mut writer = client;
    let forwarded = counts.forwarded.clone();
    while let Some(request) = read_message(&mut reader) {
        if let Some(answer) = control(&request, &fault, &counts) {
            let _ = writer.write_all(answer.as_bytes());
            return;
        }
        *counts.received.lock().unwrap() += 1;
        let request = match as_origin_form(request, require_auth.lock().unwrap().as_deref()) {
            Some(r) => r,
            None => {
                let _ = writer.write_all(
                    b"HTTP/1.1 407 Proxy Authentication Required\r\nproxy-authenticate: Basic realm=\"t\"\r\ncontent-length: 0\r\n\r\n",
                );
                continue;
            }
        };
        let now = {
            let mut f = fault.lock().unwrap();
            let now = f.clone();
            match &mut *f {
                Fault::DropAnswer(n) | Fault::Refuse(n) => {
                    *n -= 1;
                    if *n == 0 {
                        *f = Fault::None;
                    }
                }
                // A duplicate is a one-off of the network: the next
                // request (the client's retry) goes through once.
                Fault::Duplicate | Fault::Stall(_) => *f = Fault::None,
                _ => {}
            }
            now
        };
        let target = upstream.lock().unwrap().clone();
        if let Fault::Delay(d) = now {
            std::thread::sleep(d);
        }
        if let Fault::Refuse(_) = now {
            return;
        }
        if now == Fault::Replay {
            if let Some(old) = last.lock().unwrap().clone() {
                let _ = writer.write_all(&old);
                continue;
            }
        }
        let mut answer = match exchange(&target, &request) {
            Some(a) => a,
            None => return,
        };
        *forwarded.lock().unwrap() += 1;
        if now == Fault::Duplicate {
            if let Some(again) = exchange(&target, &request) {
                *forwarded.lock().unwrap() += 1;
                answer = again;
            }
        }
        if let Fault::DropAnswer(_) = now {
            return;
        }
        if let Fault::Stall(n) = now {
            let head = answer
                .windows(4)
                .position(|w| w == b"\r\n\r\n")
                .map_or(0, |p| p + 4);
            let upto = (head + n as usize).min(answer.len());
            if writer.write_all(&answer[..upto]).is_ok() {
                let _ = writer.flush();
                std::thread::sleep(Duration::from_secs(60));
            }
            return;
        }
        *last.lock().unwrap() = Some(answer.clone());
        if now == Fault::Alter {
            if let Some(i) = answer.iter().rposition(|b| *b == b'"') {
                answer[i - 1] ^= 0x01;
            }
        }
        if writer.write_all(&answer).is_err() {
            return;
        }
    }
}

/// A control request from a test in another process (the C and Python
/// suites run the proxy as `fault_proxy`): `GET /__fault/MODE[/N]` sets
/// the fault (`none`, `drop-answer/N`, `refuse/N`, `delay/MS`,
/// `duplicate`, `alter`, `replay`, `stall/N`) and every control request answers the
/// counts as `{"forwarded":F,"received":R}`.
fn control(request: &[u8], fault: &Mutex<Fault>, counts: &Counts) -> Option<String> {
    let line = request.split(|b| *b == b'\r').next()?;
    let line = std::str::from_utf8(line).ok()?;
    let path = line.strip_prefix("GET /__fault/")?.split(' ').next()?;
    let mut parts = path.split('/');
    let (mode, n) = (
        parts.next()?,
        parts.next().and_then(|n| n.parse::<u32>().ok()),
    );
    let set = match (mode, n) {
        ("none", _) => Some(Fault::None),
        ("drop-answer", Some(n)) => Some(Fault::DropAnswer(n)),
        ("refuse", Some(n)) => Some(Fault::Refuse(n)),
        ("delay", Some(ms)) => Some(Fault::Delay(Duration::from_millis(u64::from(ms)))),
        ("duplicate", _) => Some(Fault::Duplicate),
        ("alter", _) => Some(Fault::Alter),
        ("replay", _) => Some(Fault::Replay),
        ("stall", Some(n)) => Some(Fault::Stall(n)),
        _ => None,
    };
    if let Some(f) = set {
        *fault.lock().unwrap() = f;
    }
    let body = format!(
        "{{\"forwarded\":{},\"received\":{}}}",
        counts.forwarded.lock().unwrap(),
        counts.received.lock().unwrap()
    );
    Some(format!(
        "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\nconnection: close\r\ncontent-length: {}\r\n\r\n{body}",
        body.len()
    ))
}

/// A request as an explicit proxy receives it (`POST http://host/path`)
/// turned into the form the server takes (`POST /path`), without its
/// `Proxy-Authorization`; None when `required` is set and not matched.
fn as_origin_form(request: Vec<u8>, required: Option<&str>) -> Option<Vec<u8>> {
    let end = request.windows(4).position(|w| w == b"\r\n\r\n")? + 4;
    let head = String::from_utf8_lossy(&request[..end]).into_owned();
    let mut lines = head.split("\r\n");
    let first = lines.next()?;
    let mut parts = first.splitn(3, ' ');
    let (method, target, version) = (parts.next()?, parts.next()?, parts.next()?);
    let target = match target.strip_prefix("http://") {
        Some(rest) => &rest[rest.find('/').unwrap_or(rest.len())..],
        None => target,
    };
    let mut given = None;
    let mut out = format!("{method} {target} {version}\r\n");
    for line in lines {
        match line.split_once(':') {
            Some((name, value)) if name.eq_ignore_ascii_case("proxy-authorization") => {
                given = Some(value.trim().to_owned());
            }
            _ if line.is_empty() => {}
            _ => out.push_str(&format!("{line}\r\n")),
        }
    }
    out.push_str("\r\n");
    if let Some(required) = required {
        if given.as_deref() != Some(required) {
            return None;
        }
    }
    let mut bytes = out.into_bytes();
    bytes.extend_from_slice(&request[end..]);
    Some(bytes)
}
