//! Transports: how raw byte streams to a multiaddr are made. Each transport handles a set of
//! multiaddr shapes; the upgrader secures and multiplexes what they give.

mod tcp;

pub use tcp::{TcpConfig, TcpTransport};

use peernet_core::multiaddr::Multiaddr;

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
}
