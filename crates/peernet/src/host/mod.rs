//! The host: what an application holds (go-libp2p's `BasicHost`). A [`Swarm`](crate::Swarm) with an identity,
//! default transports and listen addresses, a [`Peerstore`], and the identify service.
//!
//! | go-libp2p                          | here                                   |
//! |------------------------------------|----------------------------------------|
//! | `libp2p.New(opts...)` + `FallbackDefaults` | [`Host::builder`] … [`HostBuilder::build`] |
//! | `h.ID()`, `h.Addrs()`              | [`Host::id`], [`Host::addrs`]          |
//! | `SetStreamHandler`                 | [`Host::set_stream_handler`]           |
//! | `SetStreamHandlerMatch`            | [`Host::set_stream_handler_match`]     |
//! | `RemoveStreamHandler`              | [`Host::remove_stream_handler`]        |
//! | `Connect(ctx, AddrInfo)`           | [`Host::connect`]                      |
//! | `NewStream(ctx, peer, protos...)`  | [`Host::new_stream`]                   |
//! | `Peerstore()`                      | [`Host::peerstore`]                    |
//! | `identify.IDService`               | [`Host::identify`], run on every connection |
//! | `ping.PingService`                 | served by every host; [`Host::ping`]  |
//!
//! ```
//! use peernet::{AddrInfo, Host};
//! use tokio::io::{AsyncReadExt, AsyncWriteExt};
//!
//! # #[tokio::main] async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let server = Host::builder().listen_addrs(["/ip4/127.0.0.1/tcp/0".parse()?]).build().await?;
//! server.set_stream_handler("/echo/1.0.0", |mut s| async move {
//!     let mut line = Vec::new();
//!     let _ = s.read_to_end(&mut line).await;
//!     let _ = s.write_all(&line).await;
//!     let _ = s.shutdown().await;
//! });
//!
//! let client = Host::builder().no_listen().build().await?;
//! client.connect(AddrInfo { peer_id: server.id().clone(), addrs: server.listen_addrs() }).await?;
//! let mut s = client.new_stream(server.id(), &["/echo/1.0.0"]).await?;
//! s.write_all(b"Hello, world!\n").await?;
//! s.shutdown().await?;
//! let mut reply = String::new();
//! s.read_to_string(&mut reply).await?;
//! assert_eq!(reply, "Hello, world!\n");
//! # client.close().await; server.close().await; Ok(()) }
//! ```
//!
//! `basic.rs` is the host itself and what needs no service; `identify.rs` and `ping.rs` are its
//! services, `handlers.rs` its stream handlers (a change is pushed with identify), `builder.rs`
//! builds it; `peerstore.rs` and `connmgr.rs` are its plain-data parts, `error.rs` its errors.

mod basic;
mod builder;
mod connmgr;
mod error;
mod handlers;
mod identify;
mod peerstore;
mod ping;
#[cfg(test)]
mod tests;

pub use basic::{
    Host, HostEvent, IdentifyInfo, DEFAULT_USER_AGENT, MAX_OBSERVED_ADDRS, PROTOCOL_VERSION,
};
pub use builder::HostBuilder;
pub use connmgr::{ConnManager, ConnManagerConfig, ConnSnapshot};
pub use error::HostError;
pub use identify::TIMEOUT as IDENTIFY_TIMEOUT;
pub use peerstore::{
    AddrTtl, Peerstore, PeerstoreError, PeerstoreLimits, RecordOutcome, RECENTLY_CONNECTED_TTL,
    TEMP_TTL,
};
