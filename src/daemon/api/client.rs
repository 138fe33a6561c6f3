//! The client's address: the TCP peer, or, when the peer is one of the daemon's
//! trusted reverse proxies (`--trusted-proxy`), the address that proxy put in
//! `X-Forwarded-For`. The login limits, the audit log and the console all take it
//! from [`super::source`], so they agree on who a request came from.

use std::net::IpAddr;

use axum::extract::{Request, State};
use axum::http::HeaderMap;
use axum::middleware::Next;
use axum::response::Response;

use super::Shared;

/// `X-Forwarded-For` entries looked at, right to left: more hops than any real
/// chain of proxies, and few enough that a long forged header costs nothing.
pub const MAX_FORWARDED_HOPS: usize = 16;
/// Trusted proxy blocks taken at start: far more than any deployment's proxies,
/// and each request compares its hops against all of them.
pub const MAX_TRUSTED_PROXIES: usize = 64;

/// An address block (`10.0.0.0/8`, `2001:db8::/32`; a bare address is a block of
/// one).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cidr {
    net: IpAddr,
    prefix: u8,
}

impl std::str::FromStr for Cidr {
    type Err = String;

    fn from_str(text: &str) -> Result<Cidr, String> {
        let bad = || {
            format!(
                "`{}` is not an address or block, like 10.0.0.0/8, 127.0.0.1 or fd00::/8",
                text.chars().take(80).collect::<String>()
            )
        };
        let (addr, prefix) = match text.trim().split_once('/') {
            Some((a, p)) => (a, Some(p)),
            None => (text.trim(), None),
        };
        let net: IpAddr = addr.parse().map_err(|_| bad())?;
        let net = net.to_canonical();
        let bits = if net.is_ipv4() { 32 } else { 128 };
        let prefix = match prefix {
            None => bits,
            Some(p) => p
                .parse::<u8>()
                .ok()
                .filter(|p| *p <= bits)
                .ok_or_else(bad)?,
        };
        Ok(Cidr { net, prefix })
    }
}

impl std::fmt::Display for Cidr {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.net, self.prefix)
    }
}

impl Cidr {
    /// Whether `ip` is inside the block (an IPv4 address in IPv6 form as IPv4).
    pub fn contains(&self, ip: IpAddr) -> bool {
        match (self.net, ip.to_canonical()) {
            (IpAddr::V4(net), IpAddr::V4(ip)) => {
                let mask = u32::MAX
                    .checked_shl(32 - u32::from(self.prefix))
                    .unwrap_or(0);
                u32::from(net) & mask == u32::from(ip) & mask
            }
            (IpAddr::V6(net), IpAddr::V6(ip)) => {
                let mask = u128::MAX
                    .checked_shl(128 - u32::from(self.prefix))
                    .unwrap_or(0);
                u128::from(net) & mask == u128::from(ip) & mask
            }
            _ => false,
        }
    }
}

/// The client behind `peer`: `peer` itself unless it is in `trusted`; then the
/// right-most `X-Forwarded-For` address that is not itself a trusted proxy
/// (looking at [`MAX_FORWARDED_HOPS`] entries at most). A malformed entry, or a
/// chain of trusted proxies only, stops the walk at the last proxy seen.
pub fn client(peer: IpAddr, headers: &HeaderMap, trusted: &[Cidr]) -> IpAddr {
    let is_trusted = |ip: IpAddr| trusted.iter().any(|c| c.contains(ip));
    let mut client = peer.to_canonical();
    if !is_trusted(client) {
        return client;
    }
    // Later headers were added nearer to us: read them, and each one's
    // entries, from the right.
    let hops = headers
        .get_all("x-forwarded-for")
        .iter()
        .rev()
        .flat_map(|v| v.as_bytes().rsplit(|b| *b == b','))
        .take(MAX_FORWARDED_HOPS);
    for hop in hops {
        let Some(ip) = std::str::from_utf8(hop)
            .ok()
            .and_then(|h| h.trim().parse::<IpAddr>().ok())
        else {
            break;
        };
        client = ip.to_canonical();
        if !is_trusted(client) {
            break;
        }
    }
    client
}

/// The client's address as a request extension, set by [`client_address`].
#[derive(Debug, Clone, Copy)]
pub struct ClientAddr(pub IpAddr);

/// Middleware: works out the client's address once, for every handler after it.
pub async fn client_address(State(state): State<Shared>, mut req: Request, next: Next) -> Response {
    let peer = req
        .extensions()
        .get::<axum::extract::ConnectInfo<std::net::SocketAddr>>()
        .map(|c| c.0.ip());
    if let Some(peer) = peer {
        let ip = client(peer, req.headers(), &state.auth.options().trusted_proxies);
        req.extensions_mut().insert(ClientAddr(ip));
    }
    next.run(req).await
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().expect("ip")
    }

    fn xff(values: &[&str]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for v in values {
            h.append("x-forwarded-for", v.parse().expect("header value"));
        }
        h
    }

    fn blocks(list: &[&str]) -> Vec<Cidr> {
        list.iter().map(|c| c.parse().expect("cidr")).collect()
    }

    #[test]
    fn blocks_parse_and_contain() {
        let c: Cidr = "10.1.0.0/16".parse().expect("cidr");
        assert!(c.contains(ip("10.1.200.3")));
        assert!(!c.contains(ip("10.2.0.1")));
        assert!(c.contains(ip("::ffff:10.1.0.9")));
        let one: Cidr = "127.0.0.1".parse().expect("cidr");
        assert!(one.contains(ip("127.0.0.1")) && !one.contains(ip("127.0.0.2")));
        let all: Cidr = "0.0.0.0/0".parse().expect("cidr");
        assert!(all.contains(ip("203.0.113.9")) && !all.contains(ip("::1")));
        let v6: Cidr = "fd00::/8".parse().expect("cidr");
        assert!(v6.contains(ip("fd12::1")) && !v6.contains(ip("fe80::1")));
        for bad in [
            "",
            "10.0.0.0/33",
            "::/129",
            "10.0.0/8",
            "host/8",
            "10.0.0.0/-1",
            "1.2.3.4/",
        ] {
            let err = bad.parse::<Cidr>().expect_err(bad);
            assert!(err.contains("10.0.0.0/8"), "{err}");
        }
    }

    #[test]
    fn the_header_counts_only_from_a_trusted_peer() {
        let trusted = blocks(&["127.0.0.1", "10.0.0.0/8"]);
        let h = xff(&["198.51.100.7"]);
        assert_eq!(client(ip("203.0.113.1"), &h, &trusted), ip("203.0.113.1"));
        assert_eq!(client(ip("127.0.0.1"), &h, &trusted), ip("198.51.100.7"));
        assert_eq!(client(ip("127.0.0.1"), &h, &[]), ip("127.0.0.1"));
        assert_eq!(
            client(ip("127.0.0.1"), &xff(&[]), &trusted),
            ip("127.0.0.1")
        );
    }

    #[test]
    fn the_right_most_untrusted_hop_is_the_client_whatever_the_client_prepends() {
        let trusted = blocks(&["127.0.0.1", "10.0.0.0/8"]);
        // The client forges entries on the left; the proxies append on the right.
        let h = xff(&["1.1.1.1, 2.2.2.2", "198.51.100.7, 10.0.0.5"]);
        assert_eq!(client(ip("127.0.0.1"), &h, &trusted), ip("198.51.100.7"));
        let h = xff(&["1.1.1.1, 198.51.100.7 , 10.0.0.5"]);
        assert_eq!(client(ip("127.0.0.1"), &h, &trusted), ip("198.51.100.7"));
        // Junk stops the walk at the last proxy seen, never at the junk.
        let h = xff(&["1.1.1.1, not-an-ip, 10.0.0.5"]);
        assert_eq!(client(ip("127.0.0.1"), &h, &trusted), ip("10.0.0.5"));
        let h = xff(&["198.51.100.7:4711"]);
        assert_eq!(client(ip("127.0.0.1"), &h, &trusted), ip("127.0.0.1"));
        // IPv6 hops, and an IPv4 one in IPv6 form.
        let h = xff(&["2001:db8::9"]);
        assert_eq!(
            client(ip("::ffff:127.0.0.1"), &h, &trusted),
            ip("2001:db8::9")
        );
    }

    #[test]
    fn a_long_chain_is_read_only_so_far() {
        let trusted = blocks(&["10.0.0.0/8"]);
        let mut chain = vec!["198.51.100.7".to_string()];
        chain.extend((0..1000).map(|i| format!("10.0.{}.{}", i / 256, i % 256)));
        let h = xff(&[&chain.join(",")]);
        let got = client(ip("10.9.9.9"), &h, &trusted);
        assert!(
            trusted[0].contains(got),
            "stopped within the proxies: {got}"
        );
        assert_ne!(got, ip("198.51.100.7"));
    }
}
