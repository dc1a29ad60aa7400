//! Transports: how connections to a multiaddr are made. Each transport dials and listens on a
//! set of multiaddr shapes and hands every raw connection to the [`Upgrader`](crate::Upgrader),
//! so what comes out is always a secure, multiplexed [`Connection`].

mod dns;
mod error;
mod interfaces;
mod memory;
mod quic;
mod shared;
mod tcp;
mod ws;

pub use dns::{is_dns_addr, resolve_addr, resolve_dial_addrs, DnsConfig, DnsError, ResolvedAddrs};
pub use error::{QuicError, TransportError, WsError};
pub use interfaces::{expand_unspecified, interface_ips};
pub use memory::MemoryTransport;
pub use quic::{QuicConfig, QuicTransport, QUIC_CERTIFICATE_REFUSED, QUIC_MUXER};
pub use shared::Listener;
pub use tcp::{TcpConfig, TcpTransport};
pub use ws::{load_pem, WsStream, WsTlsConfig, WsTransport, MAX_WS_MESSAGE};

use peernet_core::{Multiaddr, PeerId, Protocol};

use crate::connection::Connection;
use crate::gater::ConnectionGater;
use crate::resource::ResourceManager;

/// One of our transports, as a [`Swarm`](crate::Swarm) holds them. An enum rather than a trait
/// object: the set is ours and closed, and matching keeps `dial` a plain `async fn`.
#[derive(Debug, Clone)]
pub enum Transport {
    /// `/ip4|ip6/…/tcp/…`.
    Tcp(TcpTransport),
    /// `/memory/N`.
    Memory(MemoryTransport),
    /// `/ip4|ip6/…/udp/…/quic-v1`.
    Quic(QuicTransport),
    /// `/ip4|ip6/…/tcp/…/ws`.
    Ws(WsTransport),
}

impl Transport {
    /// A short name for logs and errors: `tcp`, `memory`.
    pub fn name(&self) -> &'static str {
        match self {
            Transport::Tcp(_) => "tcp",
            Transport::Memory(_) => "memory",
            Transport::Quic(_) => "quic-v1",
            Transport::Ws(_) => "ws",
        }
    }

    /// The multiaddr protocol codes this transport is registered for (go's `Protocols()`).
    pub fn protocol_codes(&self) -> Vec<u64> {
        match self {
            Transport::Tcp(_) => vec![Protocol::Tcp(0).code()],
            Transport::Memory(_) => vec![Protocol::Memory(0).code()],
            Transport::Quic(_) => vec![Protocol::QuicV1.code()],
            Transport::Ws(_) => vec![Protocol::Ws.code(), Protocol::Wss.code()],
        }
    }

    /// The identity this transport authenticates as.
    pub fn local_peer(&self) -> &PeerId {
        match self {
            Transport::Tcp(t) => t.upgrader().local_peer(),
            Transport::Memory(t) => t.upgrader().local_peer(),
            Transport::Quic(t) => t.local_peer(),
            Transport::Ws(t) => t.upgrader().local_peer(),
        }
    }

    /// Lets the transport's upgrader consult `gater` at `accept` and `secured`. QUIC has no
    /// upgrader of ours: the swarm checks its connections once they are up.
    pub(crate) fn install_gater(&self, gater: &ConnectionGater) {
        match self {
            Transport::Tcp(t) => t.upgrader().install_gater(gater.clone()),
            Transport::Memory(t) => t.upgrader().install_gater(gater.clone()),
            Transport::Ws(t) => t.upgrader().install_gater(gater.clone()),
            Transport::Quic(_) => {}
        }
    }

    /// Lets the transport's upgrader take a permit from `manager` for every connection. QUIC
    /// has no upgrader of ours: the swarm takes its connections' permits once they are up.
    pub(crate) fn install_resources(&self, manager: &ResourceManager) {
        match self {
            Transport::Tcp(t) => t.upgrader().install_resources(manager.clone()),
            Transport::Memory(t) => t.upgrader().install_resources(manager.clone()),
            Transport::Ws(t) => t.upgrader().install_resources(manager.clone()),
            Transport::Quic(_) => {}
        }
    }

    /// Whether this transport dials and listens on `addr`.
    /// Whether this transport dials and listens on `addr`. A `/dns*` address counts when the
    /// transport handles its shape: dialing resolves it first.
    pub fn can_handle(&self, addr: &Multiaddr) -> bool {
        if let (false, Some(placeholder)) = (
            matches!(self, Transport::Ws(_)),
            dns::with_placeholder_ip(addr),
        ) {
            return self.can_handle(&placeholder);
        }
        match self {
            Transport::Tcp(t) => t.can_handle(addr),
            Transport::Memory(t) => t.can_handle(addr),
            Transport::Quic(t) => t.can_handle(addr),
            Transport::Ws(t) => t.can_handle(addr),
        }
    }

    /// Dials `addr`, expecting `expected` (or the address's `/p2p/` peer).
    pub async fn dial(
        &self,
        addr: &Multiaddr,
        expected: Option<PeerId>,
    ) -> Result<Connection, TransportError> {
        self.dial_with_progress(addr, expected, || {}).await
    }

    /// Dials `addr`, calling `connected` once the raw connection is up and the upgrade begins.
    ///
    /// A `/dns*` address is resolved first (with the default [`DnsConfig`]) and its results
    /// dialed one after the other until one connects; the WebSocket transport resolves names
    /// itself, keeping the name as HTTP `Host` and TLS server name. (The [`Swarm`](crate::Swarm)
    /// resolves before its dial ranking instead, and dials each result on its own.)
    pub async fn dial_with_progress(
        &self,
        addr: &Multiaddr,
        expected: Option<PeerId>,
        connected: impl FnOnce() + Send,
    ) -> Result<Connection, TransportError> {
        if matches!(self, Transport::Ws(_)) || !is_dns_addr(addr) {
            return self.dial_ip(addr, expected, connected).await;
        }
        let resolved = resolve_addr(addr, &DnsConfig::default())
            .await
            .map_err(TransportError::Dns)?;
        let mut connected = Some(connected);
        let mut last = None;
        for ip_addr in &resolved {
            let progress = || {
                if let Some(f) = connected.take() {
                    f();
                }
            };
            match self.dial_ip(ip_addr, expected.clone(), progress).await {
                Ok(conn) => return Ok(conn),
                Err(e) => {
                    tracing::debug!(%ip_addr, error = %peernet_core::error::Chain(&e), "dial failed");
                    last = Some(e);
                }
            }
        }
        Err(last.unwrap_or_else(|| TransportError::Unsupported(addr.clone())))
    }

    /// Dials an address without a DNS name (or any address, for WebSocket).
    async fn dial_ip(
        &self,
        addr: &Multiaddr,
        expected: Option<PeerId>,
        connected: impl FnOnce() + Send,
    ) -> Result<Connection, TransportError> {
        match self {
            Transport::Tcp(t) => t.dial_with_progress(addr, expected, connected).await,
            Transport::Memory(t) => {
                // An in-memory pipe is connected as soon as it exists.
                connected();
                t.dial(addr, expected).await
            }
            // QUIC's transport and security handshakes are one: there is no earlier progress
            // to report.
            Transport::Quic(t) => t.dial(addr, expected).await,
            Transport::Ws(t) => t.dial_with_progress(addr, expected, connected).await,
        }
    }

    /// Listens on `addr`.
    pub fn listen(&self, addr: &Multiaddr) -> Result<Listener, TransportError> {
        match self {
            Transport::Tcp(t) => t.listen(addr),
            Transport::Memory(t) => t.listen(addr),
            Transport::Quic(t) => t.listen(addr),
            Transport::Ws(t) => t.listen(addr),
        }
    }
}

impl From<TcpTransport> for Transport {
    fn from(t: TcpTransport) -> Self {
        Transport::Tcp(t)
    }
}

impl From<QuicTransport> for Transport {
    fn from(t: QuicTransport) -> Self {
        Transport::Quic(t)
    }
}

impl From<MemoryTransport> for Transport {
    fn from(t: MemoryTransport) -> Self {
        Transport::Memory(t)
    }
}

impl From<WsTransport> for Transport {
    fn from(t: WsTransport) -> Self {
        Transport::Ws(t)
    }
}
