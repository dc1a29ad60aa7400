//! # peernet
//!
//! A peer-to-peer networking stack on tokio, wire-compatible with libp2p.
//!
//! This crate is the runtime half of peernet: it owns sockets and tasks and pumps bytes through
//! the sans-IO state machines of [`peernet_core`], which it re-exports as [`core`].
//!
//! A connection goes the way it goes in go-libp2p: a [`TcpTransport`] dials or accepts TCP,
//! its [`Upgrader`] negotiates a security protocol (Noise, TLS 1.3, or plaintext) with
//! multistream-select, authenticates the remote [`PeerId`], and starts yamux; the result is a
//! [`Connection`] whose [`Stream`]s are negotiated to application protocols and implement tokio's
//! `AsyncRead` and `AsyncWrite`. A [`QuicTransport`] (QUIC v1 on quinn, TLS 1.3 with the libp2p
//! certificate inside) yields the same [`Connection`] and [`Stream`] types, its streams being
//! QUIC's own.
//!
//! Most applications start from a [`Host`] (go-libp2p's `BasicHost`): build one with
//! [`Host::builder`] (every option has a default), set stream handlers, [`Host::connect`] and
//! [`Host::new_stream`]. It runs identify, identify push and ping, keeps a [`Peerstore`], and
//! trims connections with a [`ConnManager`]. `examples/echo.rs` is go-libp2p's echo example.
//!
//! A [`Swarm`] holds a node's transports ([`TcpTransport`], [`MemoryTransport`]), listeners and
//! connections, dispatches inbound streams to handlers, and dials peers the way go-libp2p's swarm
//! does: one shared dial per peer, ranked addresses, limits, backoff and a [`ConnectionGater`].
//! Its [`ResourceManager`] caps connections, streams, handshakes and buffer memory
//! ([`ResourceLimits`]); a newcomer over a limit is refused with a [`ResourceError`] naming it.
//!
//! ```
//! use peernet::services::echo;
//! use peernet::{Keypair, TcpConfig, TcpTransport, Upgrader};
//! use tokio::io::{AsyncReadExt, AsyncWriteExt};
//!
//! # #[tokio::main] async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! // A node that echoes on /echo/1.0.0.
//! let server = TcpTransport::new(Upgrader::new(Keypair::generate_ed25519()), TcpConfig::default());
//! let mut listener = server.listen(&"/ip4/127.0.0.1/tcp/0".parse()?)?;
//! let addr = listener.local_addr().clone();
//! tokio::spawn(async move {
//!     while let Some(conn) = listener.accept().await {
//!         tokio::spawn(async move {
//!             while let Some(inbound) = conn.accept_stream().await {
//!                 let mut stream = inbound.negotiate(&mut |p| p == echo::PROTOCOL, &Vec::new).await?;
//!                 echo::serve(&mut stream).await?;
//!             }
//!             Ok::<_, Box<dyn std::error::Error + Send + Sync>>(())
//!         });
//!     }
//! });
//!
//! // Another node dials it, opens a stream, writes and reads.
//! let client = TcpTransport::new(Upgrader::new(Keypair::generate_ed25519()), TcpConfig::default());
//! let conn = client.dial(&addr, None).await?;
//! let mut stream = conn.open_stream(&[echo::PROTOCOL]).await?;
//! stream.write_all(b"Hello, world!\n").await?;
//! stream.shutdown().await?;
//! let mut reply = String::new();
//! stream.read_to_string(&mut reply).await?;
//! assert_eq!(reply, "Hello, world!\n");
//! # Ok(()) }
//! ```
#![cfg_attr(
    not(test),
    warn(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)
)]

mod connection;
mod gater;
mod host;
mod ids;
mod io_buffer;
pub mod metrics;
pub mod multistream;
pub mod noise;
mod resource;
pub mod services;
mod swarm;
pub mod tls;
mod transport;
mod upgrader;
pub mod yamux;

pub use connection::{
    Connection, ConnectionError, InboundStream, Stream, StreamError, STREAM_NEGOTIATION_TIMEOUT,
};
pub use gater::{ConnectionGater, GateStep};
pub use host::{
    AddrTtl, ConnManager, ConnManagerConfig, ConnSnapshot, Host, HostBuilder, HostError, HostEvent,
    IdentifyInfo, Peerstore, PeerstoreError, PeerstoreLimits, RecordOutcome, DEFAULT_USER_AGENT,
    IDENTIFY_TIMEOUT, MAX_OBSERVED_ADDRS, PROTOCOL_VERSION, RECENTLY_CONNECTED_TTL, TEMP_TTL,
};
pub use ids::{ConnectionId, Direction};
pub use metrics::Metrics;
pub use peernet_core as core;
pub use peernet_core::{AddrInfo, Keypair, Multiaddr, PeerId, PublicKey, TransportKind};
pub use resource::{
    ConnPermit, DirLimits, Limit, Resource, ResourceError, ResourceLimits, ResourceManager,
    ResourceStats, Scope, StreamPermit, DEFAULT_MAX_INBOUND_UPGRADES,
};
pub use swarm::{
    DialOptions, ListenFailure, ListenReport, Swarm, SwarmConfig, SwarmError, SwarmEvent,
    SwarmStats, EVENT_BUFFER, MAX_ADDRS_PER_PEER,
};
pub use transport::{expand_unspecified, interface_ips};
pub use transport::{is_dns_addr, load_pem, resolve_addr, resolve_dial_addrs, DnsConfig, DnsError};
pub use transport::{
    Listener, MemoryTransport, QuicConfig, QuicError, QuicTransport, TcpConfig, TcpTransport,
    Transport, TransportError, WsError, WsStream, WsTransport, MAX_WS_MESSAGE, QUIC_MUXER,
};
pub use transport::{ResolvedAddrs, WsTlsConfig, QUIC_CERTIFICATE_REFUSED};
pub use upgrader::{
    SecurityProtocol, UpgradeError, Upgrader, DEFAULT_UPGRADE_TIMEOUT, YAMUX_PROTOCOL,
};
