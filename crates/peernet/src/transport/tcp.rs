//! The TCP transport: `/ip4|ip6/<addr>/tcp/<port>` (with an optional trailing `/p2p/<id>`).
//!
//!

use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use peernet_core::multiaddr::{Multiaddr, Protocol};
use peernet_core::PeerId;
use tokio::net::{TcpListener, TcpSocket, TcpStream};
use tokio::sync::mpsc;

use crate::connection::Connection;
use crate::transport::error::TransportError;
use crate::transport::shared::{expected_peer, Listener};
use crate::upgrader::Upgrader;

/// Options of the TCP transport.
#[derive(Debug, Clone)]
pub struct TcpConfig {
    /// Disable Nagle's algorithm. On by default: libp2p protocols are request/response heavy
    /// and our muxer coalesces writes itself.
    pub nodelay: bool,
    /// Set `SO_REUSEPORT` (and `SO_REUSEADDR`) on listening and dialing sockets, so that dials
    /// can leave from the listening port: needed for TCP hole punching. Off by default.
    pub reuse_port: bool,
    /// Backlog of the listening socket.
    pub backlog: u32,
}

impl Default for TcpConfig {
    fn default() -> Self {
        TcpConfig {
            nodelay: true,
            reuse_port: false,
            backlog: 1024,
        }
    }
}

/// Extracts the socket address of a TCP multiaddr, refusing anything that is not exactly
/// `/ip4|ip6/…/tcp/…` optionally followed by `/p2p/…`.
pub fn tcp_socket_addr(addr: &Multiaddr) -> Result<SocketAddr, TransportError> {
    let mut iter = addr.iter();
    let ip = match iter.next() {
        Some(Protocol::Ip4(ip)) => std::net::IpAddr::V4(ip),
        Some(Protocol::Ip6(ip)) => std::net::IpAddr::V6(ip),
        _ => return Err(TransportError::Unsupported(addr.clone())),
    };
    let port = match iter.next() {
        Some(Protocol::Tcp(port)) => port,
        _ => return Err(TransportError::Unsupported(addr.clone())),
    };
    match iter.next() {
        None | Some(Protocol::P2p(_)) if iter.next().is_none() => Ok(SocketAddr::new(ip, port)),
        _ => Err(TransportError::Unsupported(addr.clone())),
    }
}

/// The TCP transport: dials and listens on TCP addresses, upgrading every connection with its
/// [`Upgrader`] (go-libp2p's TCP transport holds its upgrader the same way).
#[derive(Debug, Clone)]
pub struct TcpTransport {
    config: TcpConfig,
    upgrader: Upgrader,
    /// Addresses we listen on: with `reuse_port`, dials leave from one of their ports.
    listen_addrs: Arc<Mutex<Vec<SocketAddr>>>,
}

impl TcpTransport {
    /// A TCP transport with the given options and upgrader.
    pub fn new(upgrader: Upgrader, config: TcpConfig) -> Self {
        TcpTransport {
            config,
            upgrader,
            listen_addrs: Arc::default(),
        }
    }

    /// The upgrader every connection goes through.
    pub fn upgrader(&self) -> &Upgrader {
        &self.upgrader
    }

    /// Whether this transport dials and listens on `addr`.
    pub fn can_handle(&self, addr: &Multiaddr) -> bool {
        tcp_socket_addr(addr).is_ok()
    }

    fn socket_for(&self, addr: SocketAddr) -> io::Result<TcpSocket> {
        let socket = match addr {
            SocketAddr::V4(_) => TcpSocket::new_v4()?,
            SocketAddr::V6(_) => TcpSocket::new_v6()?,
        };
        socket.set_reuseaddr(true)?;
        #[cfg(unix)]
        if self.config.reuse_port {
            socket.set_reuseport(true)?;
        }
        Ok(socket)
    }

    /// The local address a dial to `remote` should leave from, when `reuse_port` is on: a
    /// listening address of the same family (loopback only for loopback remotes).
    fn reuse_local(&self, remote: SocketAddr) -> Option<SocketAddr> {
        if !self.config.reuse_port {
            return None;
        }
        let addrs = self.listen_addrs.lock().ok()?;
        addrs
            .iter()
            .find(|l| {
                l.is_ipv4() == remote.is_ipv4()
                    && (l.ip().is_loopback() == remote.ip().is_loopback()
                        || l.ip().is_unspecified())
            })
            .copied()
    }

    /// Dials `addr` and upgrades the connection. The remote must be `expected`, or the peer in
    /// the address's `/p2p/` suffix; with neither, any authenticated peer is accepted.
    pub async fn dial(
        &self,
        addr: &Multiaddr,
        expected: Option<PeerId>,
    ) -> Result<Connection, TransportError> {
        self.dial_with_progress(addr, expected, || {}).await
    }

    /// Like [`TcpTransport::dial`], calling `connected` once the TCP connection is up and the
    /// upgrade begins (the swarm's dial worker paces its next dials on it, as go-libp2p does).
    pub async fn dial_with_progress(
        &self,
        addr: &Multiaddr,
        expected: Option<PeerId>,
        connected: impl FnOnce() + Send,
    ) -> Result<Connection, TransportError> {
        let socket_addr = tcp_socket_addr(addr)?;
        let expected = expected_peer(addr, expected)?;
        let stream = self.connect(socket_addr).await?;
        let local = stream.local_addr().map_err(TransportError::Io)?;
        connected();
        let conn = self
            .upgrader
            .upgrade_outbound(
                stream,
                Multiaddr::tcp(socket_addr),
                Multiaddr::tcp(local),
                expected,
            )
            .await?;
        Ok(conn)
    }

    /// Connects a TCP stream to `socket_addr` with our socket options (leaving from a listening
    /// port when `reuse_port` is on).
    pub(super) async fn connect(
        &self,
        socket_addr: SocketAddr,
    ) -> Result<TcpStream, TransportError> {
        let socket = self.socket_for(socket_addr).map_err(TransportError::Io)?;
        if let Some(local) = self.reuse_local(socket_addr) {
            // Leave from our listening port, so the remote (and a NAT) sees the address we
            // listen on: what TCP hole punching relies on.
            socket.bind(local).map_err(TransportError::Io)?;
        }
        let stream = socket
            .connect(socket_addr)
            .await
            .map_err(TransportError::Io)?;
        stream
            .set_nodelay(self.config.nodelay)
            .map_err(TransportError::Io)?;
        Ok(stream)
    }

    /// Binds `addr` (port 0 picks a free port) and starts accepting: each inbound connection
    /// is upgraded on its own task, at most the upgrader's limit at once, so a slow handshake
    /// never holds up the others.
    pub fn listen(&self, addr: &Multiaddr) -> Result<Listener, TransportError> {
        let socket_addr = tcp_socket_addr(addr)?;
        self.listen_with(socket_addr, RawTcp)
    }

    /// Binds `socket_addr` and accepts connections, running `accept` on each (plain TCP here,
    /// WebSocket for the WebSocket transport).
    pub(super) fn listen_with<A: AcceptUpgrade>(
        &self,
        socket_addr: SocketAddr,
        accept: A,
    ) -> Result<Listener, TransportError> {
        let socket = self.socket_for(socket_addr).map_err(TransportError::Io)?;
        socket.bind(socket_addr).map_err(TransportError::Io)?;
        let listener = socket
            .listen(self.config.backlog)
            .map_err(TransportError::Io)?;
        let local = listener.local_addr().map_err(TransportError::Io)?;
        if let Ok(mut addrs) = self.listen_addrs.lock() {
            addrs.push(local);
        }
        let (tx, rx) = mpsc::channel(ACCEPT_QUEUE);
        let announced = accept.multiaddr(local);
        let task = tokio::spawn(accept_loop(
            listener,
            self.upgrader.clone(),
            self.config.nodelay,
            accept,
            tx,
        ));
        Ok(Listener::new(announced, rx, task))
    }
}

/// What a TCP listener runs on each accepted stream while it holds one of the upgrader's
/// inbound slots: the upgrade itself for plain TCP ([`RawTcp`]), or another handshake first and
/// then the upgrade (the WebSocket transport's, in `ws.rs`). The listener knows nothing of what
/// runs; each transport brings its own.
pub(super) trait AcceptUpgrade: Clone + Send + Sync + 'static {
    /// The multiaddr of a TCP endpoint under this transport: what a listener announces, and
    /// what each remote is called.
    fn multiaddr(&self, addr: SocketAddr) -> Multiaddr;

    /// Turns an accepted stream into a connection, all under the upgrader's timeout.
    fn upgrade(
        self,
        upgrader: Upgrader,
        stream: TcpStream,
        remote: Multiaddr,
        local: Multiaddr,
    ) -> impl Future<Output = Result<Connection, TransportError>> + Send;
}

/// Plain TCP: the upgrade runs on the TCP stream itself.
#[derive(Debug, Clone, Copy)]
struct RawTcp;

impl AcceptUpgrade for RawTcp {
    fn multiaddr(&self, addr: SocketAddr) -> Multiaddr {
        Multiaddr::tcp(addr)
    }

    async fn upgrade(
        self,
        upgrader: Upgrader,
        stream: TcpStream,
        remote: Multiaddr,
        local: Multiaddr,
    ) -> Result<Connection, TransportError> {
        Ok(upgrader.upgrade_inbound(stream, remote, local).await?)
    }
}

/// Upgraded connections waiting for [`Listener::accept`].
const ACCEPT_QUEUE: usize = 16;

async fn accept_loop<A: AcceptUpgrade>(
    listener: TcpListener,
    upgrader: Upgrader,
    nodelay: bool,
    accept: A,
    tx: mpsc::Sender<Connection>,
) {
    let slots = upgrader.inbound_slots();
    let local = listener
        .local_addr()
        .map(|a| accept.multiaddr(a))
        .unwrap_or_default();
    loop {
        // Wait for an upgrade slot before accepting: excess connections wait in the kernel.
        let Ok(permit) = slots.clone().acquire_owned().await else {
            return;
        };
        let (stream, remote) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(pair) => pair,
                Err(e) => {
                    // EMFILE and friends: back off briefly instead of spinning.
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                    continue;
                }
            },
            () = tx.closed() => return,
        };
        let _ = stream.set_nodelay(nodelay);
        let upgrader = upgrader.clone();
        let tx = tx.clone();
        let local = local.clone();
        let accept = accept.clone();
        tokio::spawn(async move {
            let remote = accept.multiaddr(remote);
            match accept
                .upgrade(upgrader, stream, remote.clone(), local)
                .await
            {
                Ok(conn) => {
                    drop(permit);
                    let _ = tx.send(conn).await;
                }
                Err(e) => {
                    tracing::debug!(%remote, error = %peernet_core::error::Chain(&e), "inbound upgrade failed")
                }
            }
        });
    }
}
