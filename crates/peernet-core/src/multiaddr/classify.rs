//! What later layers ask of an address: its peer id, its IP and port, whether it is loopback,
//! private, public or relayed, and which transport dials it; and [`AddrInfo`], a peer with its
//! addresses.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, SocketAddrV6};

use super::{Multiaddr, MultiaddrError, Protocol};
use crate::identity::PeerId;

/// Which transport an address is dialed with, from [`Multiaddr::transport_kind`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TransportKind {
    /// `…/tcp/<port>`.
    Tcp,
    /// `…/udp/<port>/quic-v1`.
    QuicV1,
    /// `…/udp/<port>/quic` (QUIC draft-29, no longer spoken by current implementations).
    QuicDraft29,
    /// `…/tcp/<port>/ws`.
    WebSocket,
    /// `…/tcp/<port>/wss`, `…/tcp/<port>/tls/ws` or `…/tcp/<port>/tls/sni/<name>/ws`.
    SecureWebSocket,
    /// `…/udp/<port>/quic-v1/webtransport[/certhash/…]`.
    WebTransport,
    /// `…/udp/<port>/webrtc-direct[/certhash/…]`.
    WebRtcDirect,
    /// `/memory/<id>`.
    Memory,
    /// Anything containing `/p2p-circuit`: a connection relayed through another peer.
    Circuit,
    /// None of the above.
    Unknown,
}

impl Multiaddr {
    /// The peer id of the trailing `/p2p/` component, if the address ends in one.
    pub fn peer_id(&self) -> Option<PeerId> {
        match self.last()? {
            Protocol::P2p(id) => Some(id),
            _ => None,
        }
    }

    /// This address ending in `/p2p/<peer>`: unchanged if it already ends in that peer id,
    /// extended if it ends in no peer id.
    ///
    /// # Errors
    /// [`MultiaddrError::PeerIdMismatch`] if the address already ends in a different peer id.
    pub fn with_p2p(self, peer: &PeerId) -> Result<Multiaddr, MultiaddrError> {
        match self.peer_id() {
            Some(existing) if existing == *peer => Ok(self),
            Some(existing) => Err(MultiaddrError::PeerIdMismatch {
                existing,
                requested: peer.clone(),
            }),
            None => Ok(self.with(Protocol::P2p(peer.clone()))),
        }
    }

    /// This address without its trailing `/p2p/` component, if it has one.
    pub fn without_p2p(&self) -> Multiaddr {
        let mut addr = self.clone();
        if addr.peer_id().is_some() {
            addr.pop();
        }
        addr
    }

    /// The components after a leading `/ip6zone/`, if the zone is followed by `/ip6/`
    /// (go-multiaddr's `zoneless`): the classification functions look at these.
    fn zoneless(&self) -> impl Iterator<Item = Protocol<'_>> {
        let mut iter = self.iter().peekable();
        let zone_ok = match iter.peek() {
            Some(Protocol::Ip6zone(_)) => {
                iter.next();
                matches!(iter.peek(), Some(Protocol::Ip6(_)))
            }
            _ => true,
        };
        iter.filter(move |_| zone_ok)
    }

    /// The IP address of a leading `/ip4/` or `/ip6/` component (after an optional
    /// `/ip6zone/`).
    pub fn ip_addr(&self) -> Option<IpAddr> {
        match self.zoneless().next()? {
            Protocol::Ip4(a) => Some(IpAddr::V4(a)),
            Protocol::Ip6(a) => Some(IpAddr::V6(a)),
            _ => None,
        }
    }

    /// The socket address of a leading `/ip4|ip6/<ip>/tcp|udp/<port>` (after an optional
    /// `/ip6zone/`, which becomes the scope id when it is numeric).
    pub fn socket_addr(&self) -> Option<SocketAddr> {
        let mut iter = self.iter();
        let mut first = iter.next()?;
        let mut scope_id = 0;
        if let Protocol::Ip6zone(zone) = &first {
            scope_id = zone.parse().unwrap_or(0);
            first = iter.next()?;
        }
        let port = match iter.next()? {
            Protocol::Tcp(port) | Protocol::Udp(port) => port,
            _ => return None,
        };
        match first {
            Protocol::Ip4(a) if scope_id == 0 => Some(SocketAddr::new(IpAddr::V4(a), port)),
            Protocol::Ip6(a) => Some(SocketAddr::V6(SocketAddrV6::new(a, port, 0, scope_id))),
            _ => None,
        }
    }

    /// Whether the address starts with a loopback IP: `127.0.0.0/8`, `::1` or
    /// `::ffff:127.0.0.0/104` (go-multiaddr's `manet.IsIPLoopback`).
    pub fn is_loopback(&self) -> bool {
        match self.ip_addr() {
            Some(IpAddr::V4(a)) => a.is_loopback(),
            Some(IpAddr::V6(a)) => match a.to_ipv4_mapped() {
                Some(v4) => v4.is_loopback(),
                None => a.is_loopback(),
            },
            None => false,
        }
    }

    /// Whether the address starts with an IPv6 address (after an optional `/ip6zone/`).
    pub fn is_ip6(&self) -> bool {
        matches!(self.ip_addr(), Some(IpAddr::V6(_)))
    }

    /// Whether the address is relayed: it contains `/p2p-circuit`.
    pub fn is_relayed(&self) -> bool {
        self.iter().any(|p| matches!(p, Protocol::P2pCircuit))
    }

    /// go-multiaddr's `manet.IsPrivateAddr`: the first component (after an optional
    /// `/ip6zone/`) is an IP in a private range — loopback, RFC 1918, `100.64.0.0/10` (CGNAT),
    /// `169.254.0.0/16`, `fc00::/7`, `fe80::/10` — or a DNS name under `localhost`.
    ///
    /// Unlike go, an IPv4-mapped IPv6 address is judged by the IPv4 ranges.
    pub fn is_private(&self) -> bool {
        match self.zoneless().next() {
            Some(Protocol::Ip4(a)) => is_private_v4(a),
            Some(Protocol::Ip6(a)) => match a.to_ipv4_mapped() {
                Some(v4) => is_private_v4(v4),
                None => is_private_v6(a),
            },
            Some(
                Protocol::Dns(name)
                | Protocol::Dns4(name)
                | Protocol::Dns6(name)
                | Protocol::Dnsaddr(name),
            ) => is_subdomain(&name, "localhost"),
            _ => false,
        }
    }

    /// go-multiaddr's `manet.IsPublicAddr`: the first component (after an optional
    /// `/ip6zone/`) is a globally routable IP (not private, not in a reserved, documentation or
    /// multicast range; for IPv6, in `2000::/3` or a NAT64 prefix), or a DNS name outside the
    /// special-use domains (`localhost`, `local`, `test`, `invalid`, `home.arpa`, reverse DNS).
    pub fn is_public(&self) -> bool {
        match self.zoneless().next() {
            Some(Protocol::Ip4(a)) => is_public_v4(a),
            Some(Protocol::Ip6(a)) => match a.to_ipv4_mapped() {
                Some(v4) => is_public_v4(v4),
                None => is_public_v6(a),
            },
            Some(
                Protocol::Dns(name)
                | Protocol::Dns4(name)
                | Protocol::Dns6(name)
                | Protocol::Dnsaddr(name),
            ) => {
                const NOT_PUBLIC: &[&str] = &[
                    "localhost",
                    "in-addr.arpa",
                    "ip6.arpa",
                    "invalid",
                    "home.arpa",
                    "local",
                    "test",
                ];
                !NOT_PUBLIC.iter().any(|d| is_subdomain(&name, d))
            }
            _ => false,
        }
    }

    /// Which transport dials this address, from the protocols after the leading IP or DNS
    /// component; any `/p2p-circuit` makes it [`TransportKind::Circuit`]. A trailing `/p2p/` is
    /// ignored.
    pub fn transport_kind(&self) -> TransportKind {
        if self.is_relayed() {
            return TransportKind::Circuit;
        }
        let mut rest = self.iter().peekable();
        if matches!(rest.peek(), Some(Protocol::Memory(_))) {
            rest.next();
            return match rest.next() {
                None | Some(Protocol::P2p(_)) => TransportKind::Memory,
                _ => TransportKind::Unknown,
            };
        }
        if matches!(rest.peek(), Some(Protocol::Ip6zone(_))) {
            rest.next();
        }
        match rest.next() {
            Some(
                Protocol::Ip4(_)
                | Protocol::Ip6(_)
                | Protocol::Dns(_)
                | Protocol::Dns4(_)
                | Protocol::Dns6(_)
                | Protocol::Dnsaddr(_),
            ) => {}
            _ => return TransportKind::Unknown,
        }
        // The stack after the host, without a trailing /p2p/ or /certhash/ values.
        let stack: Vec<Protocol<'_>> = rest
            .filter(|p| !matches!(p, Protocol::Certhash(_)))
            .collect();
        let stack = match stack.split_last() {
            Some((Protocol::P2p(_), init)) => init,
            _ => stack.as_slice(),
        };
        use Protocol as P;
        match stack {
            [P::Tcp(_)] => TransportKind::Tcp,
            [P::Tcp(_), P::Ws] => TransportKind::WebSocket,
            [P::Tcp(_), P::Wss]
            | [P::Tcp(_), P::Tls, P::Ws]
            | [P::Tcp(_), P::Tls, P::Sni(_), P::Ws] => TransportKind::SecureWebSocket,
            [P::Udp(_), P::QuicV1] => TransportKind::QuicV1,
            [P::Udp(_), P::Quic] => TransportKind::QuicDraft29,
            [P::Udp(_), P::QuicV1, P::WebTransport] => TransportKind::WebTransport,
            [P::Udp(_), P::WebRtcDirect] => TransportKind::WebRtcDirect,
            _ => TransportKind::Unknown,
        }
    }
}

/// `child` is `parent` or a subdomain of it (`parent` without a leading dot).
fn is_subdomain(child: &str, parent: &str) -> bool {
    child == parent
        || child
            .strip_suffix(parent)
            .is_some_and(|head| head.ends_with('.'))
}

/// Whether `a` is in `net/prefix`.
fn in_v4(a: Ipv4Addr, net: [u8; 4], prefix: u32) -> bool {
    let mask = u32::MAX.checked_shl(32 - prefix).unwrap_or(0);
    u32::from(a) & mask == u32::from(Ipv4Addr::from(net)) & mask
}

/// Whether `a` is in `net/prefix`.
fn in_v6(a: Ipv6Addr, net: [u16; 8], prefix: u32) -> bool {
    let mask = u128::MAX.checked_shl(128 - prefix).unwrap_or(0);
    let n = Ipv6Addr::from(net);
    u128::from(a) & mask == u128::from(n) & mask
}

fn is_private_v4(a: Ipv4Addr) -> bool {
    in_v4(a, [127, 0, 0, 0], 8)
        || in_v4(a, [10, 0, 0, 0], 8)
        || in_v4(a, [100, 64, 0, 0], 10)
        || in_v4(a, [172, 16, 0, 0], 12)
        || in_v4(a, [192, 168, 0, 0], 16)
        || in_v4(a, [169, 254, 0, 0], 16)
}

fn is_private_v6(a: Ipv6Addr) -> bool {
    a == Ipv6Addr::LOCALHOST
        || in_v6(a, [0xfc00, 0, 0, 0, 0, 0, 0, 0], 7)
        || in_v6(a, [0xfe80, 0, 0, 0, 0, 0, 0, 0], 10)
}

fn is_unroutable_v4(a: Ipv4Addr) -> bool {
    in_v4(a, [0, 0, 0, 0], 8)
        || in_v4(a, [192, 0, 0, 0], 26)
        || in_v4(a, [192, 0, 2, 0], 24)
        || in_v4(a, [192, 88, 99, 0], 24)
        || in_v4(a, [198, 18, 0, 0], 15)
        || in_v4(a, [198, 51, 100, 0], 24)
        || in_v4(a, [203, 0, 113, 0], 24)
        || in_v4(a, [224, 0, 0, 0], 4)
        || in_v4(a, [240, 0, 0, 0], 4)
}

fn is_public_v4(a: Ipv4Addr) -> bool {
    !is_private_v4(a) && !is_unroutable_v4(a)
}

fn is_public_v6(a: Ipv6Addr) -> bool {
    let global_unicast = in_v6(a, [0x2000, 0, 0, 0, 0, 0, 0, 0], 3);
    let unroutable = in_v6(a, [0xff00, 0, 0, 0, 0, 0, 0, 0], 8)
        || in_v6(a, [0x2001, 0xdb8, 0, 0, 0, 0, 0, 0], 32);
    // NAT64 prefixes (RFC 6052, RFC 8215) count as public, as in go-multiaddr.
    let nat64 = in_v6(a, [0x64, 0xff9b, 0, 0, 0, 0, 0, 0], 96)
        || in_v6(a, [0x64, 0xff9b, 1, 0, 0, 0, 0, 0], 48);
    (global_unicast && !unroutable) || nat64
}

/// A peer and the addresses it can be reached at (go-libp2p's `peer.AddrInfo`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AddrInfo {
    /// The peer.
    pub peer_id: PeerId,
    /// Its addresses, without the `/p2p/<peer_id>` suffix.
    pub addrs: Vec<Multiaddr>,
}

impl AddrInfo {
    /// go-libp2p's `peer.AddrInfoFromP2pAddr`: splits the trailing `/p2p/<id>` off `addr`;
    /// what is before it (if anything) becomes the one address.
    ///
    /// # Errors
    /// [`MultiaddrError::NoPeerId`] if `addr` does not end in `/p2p/`.
    pub fn from_p2p_addr(addr: &Multiaddr) -> Result<AddrInfo, MultiaddrError> {
        let peer_id = addr.peer_id().ok_or(MultiaddrError::NoPeerId)?;
        let transport = addr.without_p2p();
        let addrs = if transport.is_empty() {
            Vec::new()
        } else {
            vec![transport]
        };
        Ok(AddrInfo { peer_id, addrs })
    }

    /// go-libp2p's `peer.AddrInfoToP2pAddrs`: each address with `/p2p/<id>` appended, or just
    /// `/p2p/<id>` when there are no addresses.
    pub fn to_p2p_addrs(&self) -> Vec<Multiaddr> {
        let p2p = Multiaddr::from(Protocol::P2p(self.peer_id.clone()));
        if self.addrs.is_empty() {
            return vec![p2p];
        }
        self.addrs.iter().map(|a| a.encapsulate(&p2p)).collect()
    }
}
