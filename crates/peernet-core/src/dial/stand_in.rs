//! A temporary stand-in for `crate::multiaddr::Multiaddr` while that type is on its own branch.
//!
//! It mirrors the names the dialer uses — `Multiaddr::iter()` over [`Protocol`] components,
//! `is_private()`, `is_public()`, `is_loopback()`, `socket_addr()`, `FromStr`, `Display` — so
//! that replacing it is one `use` line in `dial/mod.rs`. It parses only the text form and only
//! the protocols the dialer looks at; it is not a multiaddr implementation.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::str::FromStr;

/// One component of a [`Multiaddr`] (the subset the dialer classifies by).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Protocol {
    /// `/ip4/<addr>`.
    Ip4(Ipv4Addr),
    /// `/ip6/<addr>`.
    Ip6(Ipv6Addr),
    /// `/dns/<name>`.
    Dns(String),
    /// `/dns4/<name>`.
    Dns4(String),
    /// `/dns6/<name>`.
    Dns6(String),
    /// `/tcp/<port>`.
    Tcp(u16),
    /// `/udp/<port>`.
    Udp(u16),
    /// `/quic` (draft-29).
    Quic,
    /// `/quic-v1`.
    QuicV1,
    /// `/webtransport`.
    WebTransport,
    /// `/webrtc-direct`.
    WebRtcDirect,
    /// `/ws`.
    Ws,
    /// `/wss`.
    Wss,
    /// `/p2p/<id>` (kept as text here).
    P2p(String),
    /// `/p2p-circuit`.
    P2pCircuit,
    /// `/unix/<path>`.
    Unix(String),
    /// `/memory/<id>`.
    Memory(u64),
}

/// A parsed address: a list of components.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Multiaddr {
    parts: Vec<Protocol>,
}

/// Why text is not an address the stand-in understands.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("stand-in multiaddr cannot parse {0:?}")]
pub struct ParseError(String);

impl Multiaddr {
    /// The components, first to last.
    pub fn iter(&self) -> impl Iterator<Item = Protocol> + '_ {
        self.parts.iter().cloned()
    }

    fn first_ip(&self) -> Option<IpAddr> {
        match self.parts.first() {
            Some(Protocol::Ip4(a)) => Some(IpAddr::V4(*a)),
            Some(Protocol::Ip6(a)) => Some(IpAddr::V6(*a)),
            _ => None,
        }
    }

    /// The socket address of a leading `/ip4|ip6/<ip>/tcp|udp/<port>`.
    pub fn socket_addr(&self) -> Option<SocketAddr> {
        let ip = self.first_ip()?;
        match self.parts.get(1) {
            Some(Protocol::Tcp(p)) | Some(Protocol::Udp(p)) => Some(SocketAddr::new(ip, *p)),
            _ => None,
        }
    }

    /// Whether the first component is a loopback IP.
    pub fn is_loopback(&self) -> bool {
        self.first_ip().is_some_and(|ip| ip.is_loopback())
    }

    /// Whether the first component is an IP in a private range (loopback included) or a
    /// `localhost` name.
    pub fn is_private(&self) -> bool {
        match self.parts.first() {
            Some(Protocol::Ip4(a)) => {
                let o = a.octets();
                a.is_loopback()
                    || a.is_private()
                    || a.is_link_local()
                    || (o[0] == 100 && (o[1] & 0xc0) == 64)
            }
            Some(Protocol::Ip6(a)) => {
                let s = a.segments()[0];
                a.is_loopback() || (s & 0xfe00) == 0xfc00 || (s & 0xffc0) == 0xfe80
            }
            Some(Protocol::Dns(n) | Protocol::Dns4(n) | Protocol::Dns6(n)) => {
                n == "localhost" || n.ends_with(".localhost")
            }
            _ => false,
        }
    }

    /// Whether the first component is a globally routable IP or a public DNS name.
    pub fn is_public(&self) -> bool {
        match self.parts.first() {
            Some(Protocol::Ip4(a)) => {
                !self.is_private() && !a.is_unspecified() && !a.is_multicast() && !a.is_broadcast()
            }
            Some(Protocol::Ip6(a)) => (a.segments()[0] & 0xe000) == 0x2000,
            Some(Protocol::Dns(_) | Protocol::Dns4(_) | Protocol::Dns6(_)) => !self.is_private(),
            _ => false,
        }
    }
}

impl FromStr for Multiaddr {
    type Err = ParseError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let err = || ParseError(s.to_owned());
        let mut words = s.strip_prefix('/').ok_or_else(err)?.split('/');
        let mut parts = Vec::new();
        while let Some(name) = words.next() {
            let mut value = || words.next().ok_or_else(err);
            let p = match name {
                "ip4" => Protocol::Ip4(value()?.parse().map_err(|_| err())?),
                "ip6" => Protocol::Ip6(value()?.parse().map_err(|_| err())?),
                "dns" => Protocol::Dns(value()?.to_owned()),
                "dns4" => Protocol::Dns4(value()?.to_owned()),
                "dns6" => Protocol::Dns6(value()?.to_owned()),
                "tcp" => Protocol::Tcp(value()?.parse().map_err(|_| err())?),
                "udp" => Protocol::Udp(value()?.parse().map_err(|_| err())?),
                "quic" => Protocol::Quic,
                "quic-v1" => Protocol::QuicV1,
                "webtransport" => Protocol::WebTransport,
                "webrtc-direct" => Protocol::WebRtcDirect,
                "ws" => Protocol::Ws,
                "wss" => Protocol::Wss,
                "p2p" => Protocol::P2p(value()?.to_owned()),
                "p2p-circuit" => Protocol::P2pCircuit,
                "unix" => Protocol::Unix(value()?.to_owned()),
                "memory" => Protocol::Memory(value()?.parse().map_err(|_| err())?),
                _ => return Err(err()),
            };
            parts.push(p);
        }
        Ok(Multiaddr { parts })
    }
}

impl fmt::Display for Multiaddr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for p in &self.parts {
            match p {
                Protocol::Ip4(a) => write!(f, "/ip4/{a}")?,
                Protocol::Ip6(a) => write!(f, "/ip6/{a}")?,
                Protocol::Dns(n) => write!(f, "/dns/{n}")?,
                Protocol::Dns4(n) => write!(f, "/dns4/{n}")?,
                Protocol::Dns6(n) => write!(f, "/dns6/{n}")?,
                Protocol::Tcp(p) => write!(f, "/tcp/{p}")?,
                Protocol::Udp(p) => write!(f, "/udp/{p}")?,
                Protocol::Quic => f.write_str("/quic")?,
                Protocol::QuicV1 => f.write_str("/quic-v1")?,
                Protocol::WebTransport => f.write_str("/webtransport")?,
                Protocol::WebRtcDirect => f.write_str("/webrtc-direct")?,
                Protocol::Ws => f.write_str("/ws")?,
                Protocol::Wss => f.write_str("/wss")?,
                Protocol::P2p(id) => write!(f, "/p2p/{id}")?,
                Protocol::P2pCircuit => f.write_str("/p2p-circuit")?,
                Protocol::Unix(p) => write!(f, "/unix/{p}")?,
                Protocol::Memory(id) => write!(f, "/memory/{id}")?,
            }
        }
        Ok(())
    }
}
