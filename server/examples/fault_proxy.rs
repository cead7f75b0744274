//! The tests' fault proxy as a program, for the suites that are not Rust
//! (the C and Python online tests, and the examples' harness):
//!
//! ```text
//! fault_proxy HOST:PORT
//! ```
//!
//! Prints `fault proxy listening on http://127.0.0.1:PORT` and forwards to
//! the server at HOST:PORT until killed. `GET /__fault/MODE[/N]` sets the
//! fault (see `server/tests/common/proxy.rs`) and answers the counts.
// Test tooling: a failure to start is a panic with its reason.
#![allow(clippy::unwrap_used, clippy::expect_used, unreachable_pub, dead_code)]

#[path = "../tests/common/proxy.rs"]
mod proxy;

fn main() {
    let upstream = std::env::args()
        .nth(1)
        .expect("usage: fault_proxy HOST:PORT");
    let proxy = proxy::Proxy::start(&upstream);
    println!("fault proxy listening on {}", proxy.url);
    loop {
        std::thread::park();
    }
}
