//! # peernet
//!
//! A peer-to-peer networking stack on tokio, wire-compatible with libp2p.
//!
//! This crate is the runtime half of peernet: it owns sockets and tasks and pumps bytes through
//! the sans-IO state machines of [`peernet_core`], which it re-exports as [`core`].
#![cfg_attr(
    not(test),
    warn(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)
)]

mod connection;
pub mod multistream;
pub mod noise;
pub mod services;
pub mod tls;
mod transport;
mod upgrader;
pub mod yamux;

pub use connection::{
    Connection, ConnectionId, Direction, InboundStream, Stream, StreamError,
    STREAM_NEGOTIATION_TIMEOUT,
};
pub use peernet_core as core;
pub use peernet_core::{Keypair, Multiaddr, PeerId, PublicKey};
pub use transport::{Listener, TcpConfig, TcpTransport, TransportError};
pub use upgrader::{
    SecurityProtocol, UpgradeError, Upgrader, DEFAULT_MAX_INBOUND_UPGRADES,
    DEFAULT_UPGRADE_TIMEOUT, YAMUX_PROTOCOL,
};

/// Formats an error with its chain of sources on one line, for logs.
pub(crate) fn error_chain(e: &dyn std::error::Error) -> String {
    let mut out = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        out.push_str(": ");
        out.push_str(&s.to_string());
        source = s.source();
    }
    out
}
