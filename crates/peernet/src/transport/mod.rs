//! Transports: how connections to a multiaddr are made. Each transport dials and listens on a
//! set of multiaddr shapes and hands every raw connection to the [`Upgrader`](crate::Upgrader),
//! so what comes out is always a secure, multiplexed [`Connection`].

mod quic;
mod tcp;

pub use quic::{QuicConfig, QuicError, QuicTransport, QUIC_MUXER};
pub use tcp::{TcpConfig, TcpTransport};

use peernet_core::{Multiaddr, PeerId};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use crate::{Connection, UpgradeError};

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
