//! Transports: how connections to a multiaddr are made. Each transport dials and listens on a
//! set of multiaddr shapes and hands every raw connection to the [`Upgrader`](crate::Upgrader),
//! so what comes out is always a secure, multiplexed [`Connection`].

mod dns;
mod interfaces;
mod memory;
mod quic;
mod tcp;
mod ws;

pub use dns::{is_dns_addr, resolve_addr, resolve_dial_addrs, DnsConfig, DnsError, ResolvedAddrs};
pub use interfaces::{expand_unspecified, interface_ips};
pub use memory::MemoryTransport;
pub use quic::{QuicConfig, QuicError, QuicTransport, QUIC_CERTIFICATE_REFUSED, QUIC_MUXER};
pub use tcp::{TcpConfig, TcpTransport};
pub use ws::{load_pem, WsError, WsStream, WsTlsConfig, WsTransport, MAX_WS_MESSAGE};

use peernet_core::{Multiaddr, PeerId, Protocol};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use crate::connection::Connection;
use crate::gater::ConnectionGater;
use crate::resource::ResourceManager;
use crate::upgrader::UpgradeError;

/// Why a transport could not dial or listen.
#[derive(Debug, thiserror::Error)]
pub enum TransportError {
    /// No transport handles this address shape (local misuse, or a peer advertising
    /// addresses we do not speak).
    #[error("no transport for address {0}")]
    Unsupported(Multiaddr),
    /// The operating system refused: connection refused, address in use, unreachable…
    #[error("transport i/o error")]
    Io(#[source] std::io::Error),
    /// The connection was made but the upgrade failed.
    #[error("connection upgrade failed")]
    Upgrade(#[from] UpgradeError),
    /// A QUIC dial, listen or handshake failed; see [`QuicError`] for whose fault.
    #[error("QUIC transport error")]
    Quic(#[source] QuicError),
    /// A WebSocket dial, handshake or stream failed; see [`WsError`] for whose fault.
    #[error("WebSocket transport error")]
    Ws(#[source] WsError),
    /// A `/dns`, `/dns4` or `/dns6` name did not resolve; see [`DnsError`] for whose fault.
    #[error("DNS resolution failed")]
    Dns(#[source] DnsError),
    /// The peer we were asked to reach differs from the `/p2p/` peer in the address (local
    /// misuse).
    #[error("asked to dial {expected} at an address of {in_addr}")]
    PeerIdMismatch {
        /// The peer the caller expects.
        expected: PeerId,
        /// The peer named in the address.
        in_addr: PeerId,
    },
}

impl TransportError {
    /// `(expected, actual)` when the dial reached, or was asked to reach, another peer than
    /// the one expected: the address names another peer, or the security handshake (or the
    /// QUIC certificate) proved another.
    pub fn peer_id_mismatch(&self) -> Option<(&PeerId, &PeerId)> {
        match self {
            TransportError::PeerIdMismatch { expected, in_addr } => Some((expected, in_addr)),
            TransportError::Upgrade(e) => e.peer_id_mismatch(),
            TransportError::Quic(e) => e.peer_id_mismatch(),
            _ => None,
        }
    }
}

/// The peer a dial to `addr` must reach: `expected`, or the address's `/p2p/` peer; both given
/// and different is local misuse. Every transport's dial starts here.
pub(crate) fn expected_peer(
    addr: &Multiaddr,
    expected: Option<PeerId>,
) -> Result<Option<PeerId>, TransportError> {
    match (expected, addr.peer_id()) {
        (Some(e), Some(in_addr)) if e != in_addr => Err(TransportError::PeerIdMismatch {
            expected: e,
            in_addr,
        }),
        (e, in_addr) => Ok(e.or(in_addr)),
    }
}

/// Accepts upgraded inbound connections. Dropping it stops accepting; connections already
/// handed out live on.
#[derive(Debug)]
pub struct Listener {
    local_addr: Multiaddr,
    incoming: mpsc::Receiver<Connection>,
    task: JoinHandle<()>,
}

impl Listener {
    fn new(
        local_addr: Multiaddr,
        incoming: mpsc::Receiver<Connection>,
        task: JoinHandle<()>,
    ) -> Listener {
        Listener {
            local_addr,
            incoming,
            task,
        }
    }

    /// The address we listen on (the actual port when 0 was asked for).
    pub fn local_addr(&self) -> &Multiaddr {
        &self.local_addr
    }

    /// The next upgraded inbound connection. Failed upgrades are logged, not returned.
    /// Returns `None` once the listener has stopped.
    pub async fn accept(&mut self) -> Option<Connection> {
        self.incoming.recv().await
    }
}

impl Drop for Listener {
    fn drop(&mut self) {
        self.task.abort();
    }
}

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
