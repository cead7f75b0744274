//! Both ends of the wire, written once: the SDK's online client and the
//! reference server use this module and keep no copy of their own
//! (docs/PROTOCOL.md).
//!
//! - [`bodies`]: the client API's request bodies and the answers the SDK
//!   reads, as types;
//! - [`request`]: the string a request's HMAC covers, the `Authorization`
//!   header, nonces;
//! - [`response`]: the server's Ed25519 signature over each answer, and its
//!   check on the device;
//! - [`http_date`]: the `Date` header's form;
//! - [`counter`]: counter keys and the limit arithmetic of consumption;
//! - [`webhook`]: the server's signature over a webhook delivery, and a
//!   receiver's check of it.

pub mod bodies;
pub mod counter;
pub mod http_date;
pub mod request;
pub mod response;
pub mod webhook;

#[allow(unused_imports)] // the server's, with `internals`
pub use http_date::{format_http_date, parse_http_date};
#[cfg(feature = "issuer")]
#[cfg_attr(docsrs, doc(cfg(feature = "issuer")))]
#[allow(unused_imports)] // the server's, with `internals`
pub use response::sign_response;
#[allow(unused_imports)] // the server's, with `internals`
pub use response::{relay_keyring, verify_answer, ResponseHeaders, RELAY_PATHS};
