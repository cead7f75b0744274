//! Which receivers a webhook may reach: a delivery must not become a way
//! into the vendor's own network (docs/EVENTS.md, "No way in").
//!
//! A receiver's URL is `https://`, without a user or password. Its host
//! must be a public address, and every address its name resolves to must
//! be one: loopback, private (RFC 1918, unique local), link-local (and
//! so the cloud metadata address 169.254.169.254), shared, reserved,
//! documentation and benchmarking ranges are refused, unless the server
//! allows private addresses (`webhooks_allow_private`). Plain `http://` is
//! accepted only to a loopback address, and only then. The address is
//! checked when the webhook is registered and again at each connection
//! (by the resolver the sender uses), so a name that later resolves to a
//! private address reaches nothing.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use crate::body::invalid;
use crate::error::ApiError;

/// The longest receiver URL accepted.
const MAX_URL: usize = 2048;

/// Checks a receiver's URL as [the module](self) says.
pub(crate) fn check_url(text: &str, allow_private: bool) -> Result<(), ApiError> {
    if text.len() > MAX_URL {
        return Err(invalid("url is at most 2048 characters"));
    }
    let url = url::Url::parse(text).map_err(|_| invalid("url is not a URL"))?;
    if !url.username().is_empty() || url.password().is_some() {
        return Err(invalid(
            "url must not hold a user or password: the signature proves the sender",
        ));
    }
    let host = url.host().ok_or_else(|| invalid("url has no host"))?;
    let ip = match host {
        url::Host::Ipv4(v4) => Some(IpAddr::V4(v4)),
        url::Host::Ipv6(v6) => Some(IpAddr::V6(v6)),
        url::Host::Domain(_) => None,
    };
    match url.scheme() {
        "https" => {}
        "http" if allow_private && ip.is_some_and(|ip| ip.is_loopback()) => {}
        "http" => {
            return Err(invalid(
                "url must be https (plain http only to a loopback address, on a server \
                 that allows private addresses)",
            ))
        }
        _ => return Err(invalid("url must be https")),
    }
    if let Some(ip) = ip {
        if !allowed(ip, allow_private) {
            return Err(invalid(
                "url names a private, loopback, link-local or reserved address: this server \
                 does not allow webhooks to reach its own network",
            ));
        }
    }
    Ok(())
}

/// Whether a delivery may connect to `ip`.
pub(crate) fn allowed(ip: IpAddr, allow_private: bool) -> bool {
    let ip = match ip {
        IpAddr::V6(v6) => match embedded_v4(v6) {
            Some(v4) => IpAddr::V4(v4),
            None => IpAddr::V6(v6),
        },
        v4 => v4,
    };
    if ip.is_unspecified() || ip.is_multicast() || is_broadcast(ip) {
        return false;
    }
    allow_private || is_public(ip)
}

fn is_broadcast(ip: IpAddr) -> bool {
    matches!(ip, IpAddr::V4(v4) if v4.is_broadcast())
}

/// An IPv4 address inside an IPv6 one (mapped, or NAT64's well-known
/// prefix): checked as the IPv4 address it reaches.
fn embedded_v4(v6: Ipv6Addr) -> Option<Ipv4Addr> {
    let s = v6.segments();
    let tail = Ipv4Addr::new(
        (s[6] >> 8) as u8,
        (s[6] & 0xff) as u8,
        (s[7] >> 8) as u8,
        (s[7] & 0xff) as u8,
    );
    let mapped = s[..5] == [0, 0, 0, 0, 0] && s[5] == 0xffff;
    let nat64 = s[..6] == [0x64, 0xff9b, 0, 0, 0, 0];
    (mapped || nat64).then_some(tail)
}

fn is_public(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => {
            let [a, b, c, _] = v4.octets();
            !(v4.is_private()
                || v4.is_loopback()
                || v4.is_link_local()
                || a == 0
                || (a == 100 && (64..128).contains(&b)) // shared (carrier NAT)
                || (a == 192 && b == 0 && c == 0) // IETF protocol assignments
                || (a == 192 && b == 0 && c == 2) // documentation
                || (a == 198 && b == 51 && c == 100)
                || (a == 203 && b == 0 && c == 113)
                || (a == 198 && (18..20).contains(&b)) // benchmarking
                || a >= 240) // reserved
        }
        IpAddr::V6(v6) => {
            let s = v6.segments();
            !(v6.is_loopback()
                || (s[0] & 0xfe00) == 0xfc00 // unique local
                || (s[0] & 0xffc0) == 0xfe80 // link-local
                || (s[0] & 0xffc0) == 0xfec0 // site-local
                || (s[0] == 0x2001 && s[1] == 0x0db8) // documentation
                || s[0] == 0x0100 && s[1..4] == [0, 0, 0]) // discard
        }
    }
}

/// The sender's resolver: a name's addresses, those a delivery may not
/// reach left out; a name with none left fails to resolve.
pub(crate) struct Guarded {
    pub(crate) allow_private: bool,
}

impl reqwest::dns::Resolve for Guarded {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        let allow_private = self.allow_private;
        let host = name.as_str().to_owned();
        Box::pin(async move {
            let found: Vec<SocketAddr> = tokio::net::lookup_host((host.as_str(), 0))
                .await?
                .filter(|a| allowed(a.ip(), allow_private))
                .collect();
            if found.is_empty() {
                return Err(
                    "the receiver's name resolves to no address a webhook may reach".into(),
                );
            }
            Ok(Box::new(found.into_iter()) as reqwest::dns::Addrs)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn private_loopback_link_local_and_metadata_addresses_are_refused() {
        for url in [
            "https://127.0.0.1/hook",
            "https://10.1.2.3/",
            "https://172.16.0.1/",
            "https://192.168.1.1/",
            "https://169.254.169.254/latest/meta-data/",
            "https://100.64.0.1/",
            "https://0.0.0.0/",
            "https://[::1]/",
            "https://[fe80::1]/",
            "https://[fd00:ec2::254]/",
            "https://[::ffff:169.254.169.254]/",
            "https://[64:ff9b::a9fe:a9fe]/",
            "https://255.255.255.255/",
            "https://224.0.0.1/",
            "http://example.com/",
            "http://127.0.0.1:9/",
            "ftp://example.com/",
            "https://user:pw@example.com/",
            "not a url",
        ] {
            assert!(check_url(url, false).is_err(), "{url} was accepted");
        }
        for url in [
            "https://example.com/hook",
            "https://8.8.8.8/",
            "https://[2606:4700::1]/",
        ] {
            assert!(check_url(url, false).is_ok(), "{url} was refused");
        }
        // Allowed private ranges: loopback over plain http, private over https;
        // never the unspecified, broadcast or multicast addresses.
        assert!(check_url("http://127.0.0.1:9/", true).is_ok());
        assert!(check_url("https://10.1.2.3/", true).is_ok());
        assert!(check_url("http://10.1.2.3/", true).is_err());
        assert!(check_url("https://0.0.0.0/", true).is_err());
        assert!(check_url("https://224.0.0.1/", true).is_err());
        assert!(check_url(&format!("https://e.com/{}", "a".repeat(2100)), false).is_err());
    }
}
