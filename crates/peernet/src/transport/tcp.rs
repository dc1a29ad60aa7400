//! The TCP transport: `/ip4|ip6/<addr>/tcp/<port>` (with an optional trailing `/p2p/<id>`).
//!
//! This is the raw layer only: it dials and accepts plain TCP streams. The upgrader
//! turns them into secure, multiplexed connections.
//!

use std::io;
use std::net::SocketAddr;

use peernet_core::multiaddr::{Multiaddr, Protocol};
use tokio::net::{TcpListener, TcpSocket, TcpStream};

use super::TransportError;

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

/// The TCP transport.
#[derive(Debug, Clone, Default)]
pub struct TcpTransport {
    config: TcpConfig,
}

impl TcpTransport {
    /// A TCP transport with the given options.
    pub fn new(config: TcpConfig) -> Self {
        TcpTransport { config }
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

    /// Binds a listener on `addr`. Port 0 picks a free port; the returned listener knows the
    /// actual address.
    pub fn listen(&self, addr: &Multiaddr) -> Result<TcpListener, TransportError> {
        let socket_addr = tcp_socket_addr(addr)?;
        let socket = self.socket_for(socket_addr).map_err(TransportError::Io)?;
        socket.bind(socket_addr).map_err(TransportError::Io)?;
        socket
            .listen(self.config.backlog)
            .map_err(TransportError::Io)
    }

    /// Connects to `addr`. With `reuse_port`, the dial leaves from `local_port` when given.
    pub async fn dial(
        &self,
        addr: &Multiaddr,
        local: Option<SocketAddr>,
    ) -> Result<TcpStream, TransportError> {
        let socket_addr = tcp_socket_addr(addr)?;
        let socket = self.socket_for(socket_addr).map_err(TransportError::Io)?;
        if let (true, Some(local)) = (self.config.reuse_port, local) {
            socket.bind(local).map_err(TransportError::Io)?;
        }
        let stream = socket
            .connect(socket_addr)
            .await
            .map_err(TransportError::Io)?;
        self.configure(&stream)?;
        Ok(stream)
    }

    /// Applies per-connection options to an accepted or dialed stream.
    pub fn configure(&self, stream: &TcpStream) -> Result<(), TransportError> {
        stream
            .set_nodelay(self.config.nodelay)
            .map_err(TransportError::Io)
    }
}
