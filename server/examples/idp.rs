//! The tests' OpenID Connect provider as a program, for the suites that
//! are not Rust (the C, C++ and Python sign-in tests, through
//! tests/online/harness.py):
//!
//! ```text
//! idp
//! ```
//!
//! Prints `idp listening on http://127.0.0.1:PORT` and serves until
//! killed: its key set, an authorization endpoint that a test's "browser"
//! follows, a device endpoint, a token endpoint, and the controls
//! (`GET /__control/approve/USER_CODE/EMAIL`, `deny/USER_CODE`,
//! `expire/USER_CODE`, `deny-next`, `audience/AUD`, `audience`) described
//! in `server/tests/common/idp.rs`.
// Test tooling: a failure to start is a panic with its reason.
#![allow(clippy::unwrap_used, clippy::expect_used, unreachable_pub, dead_code)]

#[path = "../tests/common/idp.rs"]
mod idp;

fn main() {
    let provider = idp::Provider::start();
    println!("idp listening on {}", provider.url);
    loop {
        std::thread::park();
    }
}
