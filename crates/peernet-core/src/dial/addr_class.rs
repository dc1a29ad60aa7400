//! What the dialer needs to know about an address, computed once per address.
//!
//! go-libp2p asks these questions with `isProtocolAddr(a, code)` (does the code occur anywhere in
//! the address?), `manet.IsPrivateAddr` and `manet.IsPublicAddr` (judged by the first
//! component). [`AddrClass::of`] answers all of them in one pass so the ranker, the worker's
//! filters, the limiter and the black hole detector agree on what an address is.

use std::net::SocketAddr;

use super::{Multiaddr, Protocol};

/// The facts about one address that dialing decisions depend on.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct AddrClass {
    /// Contains `/p2p-circuit` (go's `isRelayAddr`).
    pub relayed: bool,
    /// `manet.IsPrivateAddr`: first component is a private or loopback IP.
    pub private: bool,
    /// `manet.IsPublicAddr`: first component is a globally routable IP or public DNS name.
    pub public: bool,
    /// Contains an `/ip4/` component.
    pub ip4: bool,
    /// Contains an `/ip6/` component.
    pub ip6: bool,
    /// Contains `/udp/`.
    pub udp: bool,
    /// Contains `/tcp/` (so WebSocket addresses count as TCP, as in go's ranker).
    pub tcp: bool,
    /// Contains `/quic` (draft-29).
    pub quic_draft29: bool,
    /// Contains `/quic-v1`.
    pub quic_v1: bool,
    /// Contains `/webtransport`.
    pub webtransport: bool,
    /// Contains `/webrtc-direct`.
    pub webrtc_direct: bool,
    /// Contains `/ws` or `/wss`.
    pub websocket: bool,
    /// The part before any `/p2p-circuit` contains `/tcp/` or `/unix/` (go's
    /// `isFdConsumingAddr`).
    pub fd_transport: bool,
    /// The first `/udp/` port.
    pub udp_port: Option<u16>,
    /// The first `/tcp/` port.
    pub tcp_port: Option<u16>,
    /// A leading `/ip4|ip6/<ip>/tcp|udp/<port>` as a socket address.
    pub socket: Option<SocketAddr>,
    /// The first component is the unspecified IP (`0.0.0.0`, `::`).
    pub unspecified: bool,
    /// The first component is an IPv6 link-local IP (`fe80::/10`).
    pub ip6_link_local: bool,
}

impl AddrClass {
    /// Classifies `addr` in one pass over its components.
    pub(crate) fn of(addr: &Multiaddr) -> AddrClass {
        let mut c = AddrClass {
            private: addr.is_private(),
            public: addr.is_public(),
            socket: addr.socket_addr(),
            ..AddrClass::default()
        };
        let mut before_circuit = true;
        for (i, p) in addr.iter().enumerate() {
            match p {
                Protocol::Ip4(ip) => {
                    c.ip4 = true;
                    if i == 0 {
                        c.unspecified = ip.is_unspecified();
                    }
                }
                Protocol::Ip6(ip) => {
                    c.ip6 = true;
                    if i == 0 {
                        c.unspecified = ip.is_unspecified();
                        c.ip6_link_local = (ip.segments()[0] & 0xffc0) == 0xfe80;
                    }
                }
                Protocol::Tcp(port) => {
                    c.tcp = true;
                    c.tcp_port.get_or_insert(port);
                    c.fd_transport |= before_circuit;
                }
                Protocol::Udp(port) => {
                    c.udp = true;
                    c.udp_port.get_or_insert(port);
                }
                Protocol::Unix(_) => c.fd_transport |= before_circuit,
                Protocol::Quic => c.quic_draft29 = true,
                Protocol::QuicV1 => c.quic_v1 = true,
                Protocol::WebTransport => c.webtransport = true,
                Protocol::WebRtcDirect => c.webrtc_direct = true,
                Protocol::Ws | Protocol::Wss => c.websocket = true,
                Protocol::P2pCircuit => {
                    c.relayed = true;
                    before_circuit = false;
                }
                _ => {}
            }
        }
        c
    }

    /// go's `isQUICAddr`: contains `/quic` or `/quic-v1` (WebTransport included).
    pub(crate) fn is_quic(&self) -> bool {
        self.quic_draft29 || self.quic_v1
    }

    /// Whether dialing consumes a file descriptor (go's `shouldConsumeFd`): not relayed, and
    /// over TCP or a unix socket. A relayed dial's descriptor is taken when the relay transport
    /// dials the relay server, through the limiter, with the relay's own address.
    pub(crate) fn consumes_fd(&self) -> bool {
        !self.relayed && self.fd_transport
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn class(s: &str) -> AddrClass {
        AddrClass::of(&s.parse().unwrap())
    }

    #[test]
    fn transports_are_found_anywhere_in_the_address() {
        let c = class("/ip4/1.2.3.4/udp/4001/quic-v1/webtransport");
        assert!(c.quic_v1 && c.webtransport && c.udp && c.is_quic() && !c.tcp);
        assert_eq!(c.udp_port, Some(4001));
        assert!(c.public && !c.private && c.ip4 && !c.ip6);

        let ws = class("/ip6/::1/tcp/80/ws");
        assert!(ws.tcp && ws.websocket && ws.private && ws.ip6);
        assert_eq!(ws.tcp_port, Some(80));
        assert!(ws.consumes_fd());
    }

    #[test]
    fn relayed_addresses_do_not_consume_a_descriptor_here() {
        let c = class("/ip4/1.2.3.4/tcp/1/p2p-circuit");
        assert!(c.relayed && c.tcp && c.fd_transport && !c.consumes_fd());
        let quic_relay = class("/ip4/1.2.3.4/udp/1/quic-v1/p2p-circuit");
        assert!(quic_relay.relayed && quic_relay.is_quic() && !quic_relay.fd_transport);
    }

    #[test]
    fn unspecified_and_link_local_are_judged_by_the_first_component() {
        assert!(class("/ip4/0.0.0.0/tcp/1").unspecified);
        assert!(class("/ip6/::/udp/1/quic-v1").unspecified);
        assert!(class("/ip6/fe80::1/tcp/1").ip6_link_local);
        assert!(!class("/ip6/2604:1380::1/tcp/1").ip6_link_local);
        let dns = class("/dns/example.com/tcp/443");
        assert!(dns.public && !dns.ip4 && !dns.ip6 && dns.socket.is_none());
    }
}
