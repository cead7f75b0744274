//! The address a request comes from, which the per-address limits count
//! (sign-ins, trials, wrong admin tokens). Behind a load balancer every
//! connection comes from the balancer, so its `Forwarded` or
//! `X-Forwarded-For` header names the client; but a client can write those
//! headers too. They are read only when the connection comes from a proxy
//! the operator lists (`trusted_proxies`), and then from the right: the
//! first address that is not one of the trusted proxies is the client.

use std::net::IpAddr;

use axum::http::HeaderMap;

/// The proxies whose forwarding headers are believed: addresses or CIDR
/// ranges (`10.0.0.0/8`, `fd00::/8`).
#[derive(Debug, Clone, Default)]
pub(crate) struct TrustedProxies(Vec<(IpAddr, u8)>);

impl TrustedProxies {
    /// Reads `a.b.c.d`, `a.b.c.d/n`, and the same for IPv6; an entry that
    /// is neither is refused with a message naming it.
    pub(crate) fn parse<S: AsRef<str>>(entries: &[S]) -> Result<TrustedProxies, String> {
        let mut ranges = Vec::new();
        for entry in entries {
            let entry = entry.as_ref().trim();
            let (address, bits) = match entry.split_once('/') {
                Some((a, b)) => (a, Some(b)),
                None => (entry, None),
            };
            let bad = || format!("trusted proxy `{entry}` is not an address or a CIDR range");
            let ip: IpAddr = address.parse().map_err(|_| bad())?;
            let max = if ip.is_ipv4() { 32 } else { 128 };
            let bits = match bits {
                Some(b) => b.parse::<u8>().ok().filter(|b| *b <= max).ok_or_else(bad)?,
                None => max,
            };
            ranges.push((ip, bits));
        }
        Ok(TrustedProxies(ranges))
    }

    /// Whether `ip` is one of the trusted proxies.
    pub(crate) fn contains(&self, ip: IpAddr) -> bool {
        self.0.iter().any(|(net, bits)| in_range(ip, *net, *bits))
    }
}

fn in_range(ip: IpAddr, net: IpAddr, bits: u8) -> bool {
    let (ip, net, width) = match (ip, net) {
        (IpAddr::V4(a), IpAddr::V4(b)) => (u128::from(u32::from(a)), u128::from(u32::from(b)), 32),
        (IpAddr::V6(a), IpAddr::V6(b)) => (u128::from(a), u128::from(b), 128),
        // An IPv4 client seen through an IPv6 socket (`::ffff:a.b.c.d`).
        (IpAddr::V6(a), IpAddr::V4(_)) => match a.to_ipv4_mapped() {
            Some(v4) => return in_range(IpAddr::V4(v4), net, bits),
            None => return false,
        },
        (IpAddr::V4(_), IpAddr::V6(_)) => return false,
    };
    let shift = width - u32::from(bits);
    shift >= 128 || (ip >> shift) == (net >> shift)
}

/// The client's address: `peer` itself, unless `peer` is a trusted proxy;
/// then the rightmost address of the forwarding header (`Forwarded`, or
/// else `X-Forwarded-For`) that is not a trusted proxy. A header that does
/// not parse names nobody, and `peer` stands.
pub(crate) fn of(
    headers: &HeaderMap,
    peer: Option<IpAddr>,
    trusted: &TrustedProxies,
) -> Option<IpAddr> {
    let peer = peer?;
    if !trusted.contains(peer) {
        return Some(peer);
    }
    let chain = forwarded_for(headers).or_else(|| x_forwarded_for(headers));
    let Some(chain) = chain else {
        return Some(peer);
    };
    Some(
        chain
            .into_iter()
            .rev()
            .find(|ip| !trusted.contains(*ip))
            .unwrap_or(peer),
    )
}

/// The `for=` addresses of every `Forwarded` header, in order (RFC 7239);
/// None when there is none, or one does not parse (an obfuscated name,
/// `unknown`: the chain cannot be followed).
fn forwarded_for(headers: &HeaderMap) -> Option<Vec<IpAddr>> {
    let mut out = Vec::new();
    for value in headers.get_all("forwarded") {
        for element in value.to_str().ok()?.split(',') {
            for pair in element.split(';') {
                let Some((name, value)) = pair.trim().split_once('=') else {
                    continue;
                };
                if !name.trim().eq_ignore_ascii_case("for") {
                    continue;
                }
                let value = value.trim().trim_matches('"');
                // `[2001:db8::1]:4711`, `192.0.2.1:80` or a bare address.
                let host = match value.strip_prefix('[') {
                    Some(v6) => v6.split(']').next().unwrap_or_default(),
                    None => value.rsplit_once(':').map_or(value, |(h, _)| h),
                };
                out.push(host.parse().ok()?);
            }
        }
    }
    (!out.is_empty()).then_some(out)
}

/// The addresses of every `X-Forwarded-For` header, in order.
fn x_forwarded_for(headers: &HeaderMap) -> Option<Vec<IpAddr>> {
    let mut out = Vec::new();
    for value in headers.get_all("x-forwarded-for") {
        for part in value.to_str().ok()?.split(',') {
            out.push(part.trim().parse().ok()?);
        }
    }
    (!out.is_empty()).then_some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.append(*k, v.parse().unwrap());
        }
        h
    }

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn forwarding_headers_count_only_from_a_trusted_proxy() {
        let trusted = TrustedProxies::parse(&["10.0.0.0/8", "fd00::1"]).unwrap();
        let xff = headers(&[("x-forwarded-for", "203.0.113.7, 10.1.2.3")]);
        // From the balancer: the client it names (past its own hop).
        assert_eq!(
            of(&xff, Some(ip("10.0.0.5")), &trusted),
            Some(ip("203.0.113.7"))
        );
        // From anyone else: the header is the client's own words.
        assert_eq!(
            of(&xff, Some(ip("198.51.100.9")), &trusted),
            Some(ip("198.51.100.9"))
        );
        // A client that writes its own header behind the balancer gets the
        // rightmost untrusted address, the one the balancer saw.
        let spoofed = headers(&[("x-forwarded-for", "1.2.3.4, 203.0.113.7")]);
        assert_eq!(
            of(&spoofed, Some(ip("10.0.0.5")), &trusted),
            Some(ip("203.0.113.7"))
        );
        // Forwarded wins, with ports and brackets; garbage names nobody.
        let fwd = headers(&[
            (
                "forwarded",
                "for=\"[2001:db8::1]:4711\";proto=https, for=10.0.0.9",
            ),
            ("x-forwarded-for", "203.0.113.7"),
        ]);
        assert_eq!(
            of(&fwd, Some(ip("fd00::1")), &trusted),
            Some(ip("2001:db8::1"))
        );
        let junk = headers(&[("x-forwarded-for", "not an address")]);
        assert_eq!(
            of(&junk, Some(ip("10.0.0.5")), &trusted),
            Some(ip("10.0.0.5"))
        );
        // Nobody trusted: the connection's own address.
        assert_eq!(
            of(&xff, Some(ip("10.0.0.5")), &TrustedProxies::default()),
            Some(ip("10.0.0.5"))
        );
        assert!(TrustedProxies::parse(&["10.0.0.0/33"]).is_err());
        assert!(TrustedProxies::parse(&["localhost"]).is_err());
        assert!(TrustedProxies::parse(&["0.0.0.0/0"])
            .unwrap()
            .contains(ip("192.0.2.1")));
        assert!(trusted.contains(ip("::ffff:10.2.3.4")));
    }
}
