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

pub mod multistream;
pub mod noise;
pub mod tls;
mod transport;
pub mod yamux;

pub use peernet_core as core;
pub use peernet_core::{Multiaddr, PeerId};
pub use transport::{TcpConfig, TcpTransport, TransportError};
