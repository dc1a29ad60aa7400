//! The host: what an application holds (go-libp2p's `BasicHost`). A [`Swarm`] with an identity,
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

mod connmgr;
mod identify;
mod peerstore;
mod ping;
#[cfg(test)]
mod tests;

pub use connmgr::{ConnManager, ConnManagerConfig, ConnSnapshot};
pub use identify::IdentifyInfo;
pub use peerstore::{
    AddrTtl, Peerstore, PeerstoreError, PeerstoreLimits, RecordOutcome, RECENTLY_CONNECTED_TTL,
    TEMP_TTL,
};

use std::collections::HashMap;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use peernet_core::identify::IdentifyError;
use peernet_core::{AddrInfo, Keypair, Multiaddr, PeerId};
use tokio::sync::broadcast;

use crate::connection::Stream;
use crate::metrics::Metrics;
use crate::resource::{ResourceError, ResourceLimits};
use crate::swarm::{Swarm, SwarmConfig, SwarmError, EVENT_BUFFER};
use crate::transport::{
    MemoryTransport, QuicConfig, QuicError, QuicTransport, TcpConfig, TcpTransport, WsTlsConfig,
    WsTransport,
};
use crate::upgrader::{SecurityProtocol, Upgrader};

/// The protocol version identify announces (the one every libp2p implementation sends).
pub const PROTOCOL_VERSION: &str = "ipfs/0.1.0";
/// The agent version identify announces unless [`HostBuilder::user_agent`] sets another.
pub const DEFAULT_USER_AGENT: &str = concat!("peernet/", env!("CARGO_PKG_VERSION"));
/// Observed addresses a host remembers (the most recent distinct ones).
pub const MAX_OBSERVED_ADDRS: usize = 16;

/// Why a host operation failed.
#[derive(Debug, thiserror::Error)]
pub enum HostError {
    /// The swarm refused or failed (dial, listen, stream negotiation, closed).
    #[error(transparent)]
    Swarm(#[from] SwarmError),
    /// The QUIC transport could not be set up (local configuration).
    #[error(transparent)]
    Quic(#[from] QuicError),
    /// The peerstore refused to record the peer (local limit or a key that is not the peer's).
    #[error(transparent)]
    Peerstore(#[from] PeerstoreError),
    /// The remote's identify message was malformed or too large (the remote's fault).
    #[error("identify from {peer}: {error}")]
    Identify {
        /// The remote peer.
        peer: PeerId,
        /// What was wrong.
        error: IdentifyError,
    },
    /// The remote announced a public key or peer record that is not its own (the remote's fault).
    #[error("identify from {0}: public key or peer record of another peer")]
    IdentityMismatch(PeerId),
    /// Reading or writing a stream of a host service (identify, ping) failed, or the remote
    /// answered a ping with other bytes.
    #[error("{service} with {peer} failed")]
    Io {
        /// The service: `identify` or `ping`.
        service: &'static str,
        /// The remote peer.
        peer: PeerId,
        /// The I/O error.
        #[source]
        error: std::io::Error,
    },
    /// The remote did not answer identify within [`identify::TIMEOUT`](IDENTIFY_TIMEOUT).
    #[error("identify with {0} timed out")]
    Timeout(PeerId),
    /// Nothing to dial: the peer has no known address and no connection (local misuse).
    #[error("no address known for {0}")]
    NoAddresses(PeerId),
}

impl HostError {
    /// The local resource limit that refused the operation, if that is what failed (see
    /// [`SwarmError::resource_limit`]); `None` for everything else, including refusals by the
    /// remote.
    pub fn resource_limit(&self) -> Option<&ResourceError> {
        match self {
            HostError::Swarm(e) => e.resource_limit(),
            _ => None,
        }
    }
}

pub use identify::TIMEOUT as IDENTIFY_TIMEOUT;

/// Something a host did that an application may wait for, from [`Host::subscribe`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HostEvent {
    /// Identify with `peer` completed and the peerstore holds the result.
    Identified {
        /// The peer.
        peer: PeerId,
        /// What it told us.
        info: Box<IdentifyInfo>,
    },
    /// Identify with `peer` failed (logged with the reason).
    IdentifyFailed {
        /// The peer.
        peer: PeerId,
    },
    /// `peer` pushed an identify update, now in the peerstore.
    Pushed {
        /// The peer.
        peer: PeerId,
    },
}

/// Options of a [`Host`], each with a fallback default (go's `libp2p.New` options and
/// `FallbackDefaults`).
#[derive(Debug, Default)]
pub struct HostBuilder {
    identity: Option<Keypair>,
    listen_addrs: Option<Vec<Multiaddr>>,
    security: Option<Vec<SecurityProtocol>>,
    user_agent: Option<String>,
    peerstore: Option<Peerstore>,
    swarm: SwarmConfig,
    tcp: TcpConfig,
    quic: QuicConfig,
    conn_manager: ConnManagerConfig,
    metrics: Option<Metrics>,
    ws_tls: WsTlsConfig,
}

impl HostBuilder {
    /// The host's key pair. Default: a random Ed25519 key.
    pub fn identity(mut self, keypair: Keypair) -> Self {
        self.identity = Some(keypair);
        self
    }

    /// Where to listen. Default: `/ip4/0.0.0.0/tcp/0` and `/ip4/0.0.0.0/udp/0/quic-v1` (every
    /// interface, free ports; QUIC only when TLS is among the security protocols). TCP
    /// (`/ip4|ip6/…/tcp/…`), QUIC v1 (`/ip4|ip6/…/udp/…/quic-v1`), WebSocket
    /// (`/ip4|ip6/…/tcp/…/ws`) and in-process memory (`/memory/N`) addresses are supported.
    pub fn listen_addrs(mut self, addrs: impl IntoIterator<Item = Multiaddr>) -> Self {
        self.listen_addrs = Some(addrs.into_iter().collect());
        self
    }

    /// Listen nowhere: a host that only dials.
    pub fn no_listen(self) -> Self {
        self.listen_addrs([])
    }

    /// The security protocols, in order of preference. Default: Noise, then TLS.
    pub fn security(mut self, security: Vec<SecurityProtocol>) -> Self {
        self.security = Some(security);
        self
    }

    /// No encryption: `/plaintext/2.0.0` only (go's `NoSecurity`). For local experiments.
    pub fn insecure(self) -> Self {
        self.security(vec![SecurityProtocol::Plaintext])
    }

    /// The agent version identify announces. Default: [`DEFAULT_USER_AGENT`].
    pub fn user_agent(mut self, agent: impl Into<String>) -> Self {
        self.user_agent = Some(agent.into());
        self
    }

    /// The peerstore. Default: an in-memory one with [`PeerstoreLimits::default`].
    pub fn peerstore(mut self, peerstore: Peerstore) -> Self {
        self.peerstore = Some(peerstore);
        self
    }

    /// Dial limits and the connection gater. Default: [`SwarmConfig::default`] (go's values).
    pub fn swarm_config(mut self, config: SwarmConfig) -> Self {
        self.swarm = config;
        self
    }

    /// Caps on connections (inbound, outbound, per peer, per IP), streams (per connection,
    /// peer, protocol, in total), inbound handshakes and buffer memory; a newcomer over a limit
    /// is refused with a [`ResourceError`](ResourceError) naming it. Default:
    /// [`ResourceLimits::default`](ResourceLimits) (go-libp2p's resource manager
    /// defaults scaled for 1 GiB); [`ResourceLimits::unlimited`](ResourceLimits::unlimited)
    /// switches them off. Replaces the limits of an earlier [`swarm_config`](Self::swarm_config).
    pub fn resource_limits(mut self, limits: ResourceLimits) -> Self {
        self.swarm.limits = limits;
        self
    }

    /// Connection manager watermarks and grace period. Default:
    /// [`ConnManagerConfig::default`] (160/192, one minute; go-libp2p's values).
    pub fn conn_manager(mut self, config: ConnManagerConfig) -> Self {
        self.conn_manager = config;
        self
    }

    /// Count connections, streams, bytes, dials, handshake times, pings and identify
    /// exchanges into `metrics` (see [`metrics`](crate::metrics); [`Host::metrics`] gives it
    /// back). Default: no metrics, at no cost. Takes precedence over
    /// [`SwarmConfig::metrics`].
    pub fn metrics(mut self, metrics: Metrics) -> Self {
        self.metrics = Some(metrics);
        self
    }

    /// TCP options. Default: [`TcpConfig::default`].
    pub fn tcp_config(mut self, config: TcpConfig) -> Self {
        self.tcp = config;
        self
    }

    /// QUIC options. Default: [`QuicConfig::default`].
    pub fn quic_config(mut self, config: QuicConfig) -> Self {
        self.quic = config;
        self
    }

    /// TLS for secure WebSocket (`/tls/ws`, `/wss`): the certificate to listen with, the roots
    /// to trust when dialing. Default: none (secure WebSocket addresses are refused).
    pub fn ws_tls(mut self, tls: WsTlsConfig) -> Self {
        self.ws_tls = tls;
        self
    }

    /// Builds the host: the swarm with TCP and memory transports (yamux on each), listening
    /// on the listen addresses, serving identify and identify push.
    ///
    /// # Errors
    ///
    /// [`HostError::Swarm`] if no listen address works (the others are logged).
    ///
    /// # Panics
    ///
    /// Outside a tokio runtime.
    pub async fn build(self) -> Result<Host, HostError> {
        let keypair = self.identity.unwrap_or_else(Keypair::generate_ed25519);
        let mut upgrader = Upgrader::new(keypair.clone());
        // QUIC always runs TLS 1.3: it is on unless the security protocols exclude TLS
        // (`insecure()`), as in go-libp2p.
        let quic = self
            .security
            .as_ref()
            .is_none_or(|s| s.contains(&SecurityProtocol::Tls));
        if let Some(security) = self.security {
            upgrader = upgrader.with_security(security);
        }
        let dns = self.swarm.dns;
        let mut swarm_config = self.swarm;
        if self.metrics.is_some() {
            swarm_config.metrics = self.metrics;
        }
        let swarm = Swarm::new(upgrader.clone(), swarm_config);
        swarm.add_transport(TcpTransport::new(upgrader.clone(), self.tcp.clone()))?;
        // WebSocket dials by default; it listens only where asked (`/tcp/…/ws`, `/tls/ws`).
        let ws = WsTransport::new(upgrader.clone(), self.tcp)
            .with_tls(self.ws_tls)
            .with_dns(dns);
        swarm.add_transport(ws)?;
        swarm.add_transport(MemoryTransport::new(upgrader))?;
        if quic {
            swarm.add_transport(QuicTransport::new(&keypair, self.quic)?)?;
        }
        let host = Host {
            inner: Arc::new(Inner {
                swarm,
                keypair,
                peerstore: self
                    .peerstore
                    .unwrap_or_else(|| Peerstore::new(PeerstoreLimits::default())),
                user_agent: self
                    .user_agent
                    .unwrap_or_else(|| DEFAULT_USER_AGENT.to_owned()),
                protocols: Mutex::new(Vec::new()),
                observed: Mutex::new(Vec::new()),
                events: broadcast::channel(EVENT_BUFFER).0,
                conn_manager: ConnManager::new(self.conn_manager),
                trimming: AtomicBool::new(false),
                pings: Mutex::new(HashMap::new()),
                record: Mutex::new(None),
            }),
        };
        identify::start(&host);
        ping::serve_ping(&host);
        let listen = self.listen_addrs.unwrap_or_else(|| {
            let any = SocketAddr::from(([0, 0, 0, 0], 0));
            let mut addrs = vec![Multiaddr::tcp(any)];
            if quic {
                addrs.push(Multiaddr::quic_v1(any));
            }
            addrs
        });
        if !listen.is_empty() {
            let report = host.inner.swarm.listen(&listen).await?;
            for failure in &report.failed {
                tracing::warn!(addr = %failure.addr, error = %peernet_core::error::Chain(&failure.error), "cannot listen");
            }
        }
        Ok(host)
    }
}

struct Inner {
    swarm: Swarm,
    keypair: Keypair,
    peerstore: Peerstore,
    user_agent: String,
    /// The protocols with a handler, in registration order (what identify announces).
    protocols: Mutex<Vec<String>>,
    /// Addresses peers told us they see us at, newest last.
    observed: Mutex<Vec<Multiaddr>>,
    events: broadcast::Sender<HostEvent>,
    conn_manager: ConnManager,
    /// Set while a trim runs, so connection bursts start only one.
    trimming: AtomicBool,
    /// Inbound ping streams being served, per peer.
    pings: Mutex<HashMap<PeerId, usize>>,
    /// Our last signed peer record and the addresses it was made for.
    record: Mutex<Option<(Vec<Multiaddr>, peernet_core::identify::SignedPeerRecord)>>,
}

/// A libp2p node: identity, transports, listeners, connections, stream handlers, peerstore and
/// identify. Cheap to clone; clones share the node.
#[derive(Clone)]
pub struct Host {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for Host {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Host")
            .field("id", self.id())
            .field("listen_addrs", &self.listen_addrs())
            .finish()
    }
}

impl Host {
    /// Options for a new host, all at their defaults.
    pub fn builder() -> HostBuilder {
        HostBuilder::default()
    }

    /// A host with `options` (go's `libp2p.New`): the same as `options.build()`.
    ///
    /// # Errors
    ///
    /// As [`HostBuilder::build`].
    pub async fn new(options: HostBuilder) -> Result<Host, HostError> {
        options.build().await
    }

    /// Our peer id.
    pub fn id(&self) -> &PeerId {
        self.inner.swarm.local_peer()
    }

    /// Our key pair.
    pub fn keypair(&self) -> &Keypair {
        &self.inner.keypair
    }

    /// The addresses we listen on, with actual ports, unspecified IPs (`0.0.0.0`, `::`)
    /// replaced by every interface address of their family, loopback first (what identify
    /// announces; go's `Addrs`).
    pub fn listen_addrs(&self) -> Vec<Multiaddr> {
        self.inner.swarm.interface_listen_addrs()
    }

    /// Our full addresses: [`listen_addrs`](Self::listen_addrs) each ending in `/p2p/<id>`,
    /// ready to hand to another peer.
    pub fn addrs(&self) -> Vec<Multiaddr> {
        self.listen_addrs()
            .into_iter()
            .filter_map(|a| a.with_p2p(self.id()).ok())
            .collect()
    }

    /// Addresses other peers told us (through identify) they see us at, oldest first.
    pub fn observed_addrs(&self) -> Vec<Multiaddr> {
        self.inner
            .observed
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// The swarm underneath, for what the host does not wrap.
    pub fn swarm(&self) -> &Swarm {
        &self.inner.swarm
    }

    /// The metrics this host keeps, if it was built with [`HostBuilder::metrics`].
    pub fn metrics(&self) -> Option<&Metrics> {
        self.inner.swarm.metrics()
    }

    /// The peerstore.
    pub fn peerstore(&self) -> &Peerstore {
        &self.inner.peerstore
    }

    /// Events from now on: identify results and pushes.
    pub fn subscribe(&self) -> broadcast::Receiver<HostEvent> {
        self.inner.events.subscribe()
    }

    /// The protocols we serve, in the order their handlers were set.
    pub fn protocols(&self) -> Vec<String> {
        self.inner
            .protocols
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    fn note_protocol(&self, protocol: &str, present: bool) {
        let changed = {
            let mut list = self
                .inner
                .protocols
                .lock()
                .unwrap_or_else(|e| e.into_inner());
            let had = list.iter().any(|p| p == protocol);
            if present && !had {
                list.push(protocol.to_owned());
            } else if !present {
                list.retain(|p| p != protocol);
            }
            had != present
        };
        if changed {
            identify::push_to_all(self);
        }
    }

    /// Serves inbound streams negotiated to `protocol` with `handler`, each on its own task;
    /// replaces an earlier handler for `protocol`. Connected peers that support identify push
    /// learn of a new protocol.
    pub fn set_stream_handler<F, Fut>(&self, protocol: &str, handler: F)
    where
        F: Fn(Stream) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = ()> + Send + 'static,
    {
        self.inner.swarm.set_stream_handler(protocol, handler);
        self.note_protocol(protocol, true);
    }

    /// Like [`set_stream_handler`](Self::set_stream_handler), and the handler also serves every
    /// protocol a remote proposes for which `matches` is true (go's `SetStreamHandlerMatch`,
    /// e.g. to accept several versions). `protocol` is what identify announces. `matches` runs
    /// under the swarm's lock: it must be quick and must not call into the host.
    pub fn set_stream_handler_match<M, F, Fut>(&self, protocol: &str, matches: M, handler: F)
    where
        M: Fn(&str) -> bool + Send + Sync + 'static,
        F: Fn(Stream) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = ()> + Send + 'static,
    {
        self.inner
            .swarm
            .set_stream_handler_match(protocol, matches, handler);
        self.note_protocol(protocol, true);
    }

    /// Stops serving `protocol`, and tells connected peers that support identify push.
    pub fn remove_stream_handler(&self, protocol: &str) {
        self.inner.swarm.remove_stream_handler(protocol);
        self.note_protocol(protocol, false);
    }

    /// Connects to `info.peer_id` if not connected yet (go's `Connect`): its addresses join
    /// the peerstore for [`TEMP_TTL`] and the peer is dialed. Identify then runs in the
    /// background; [`subscribe`](Self::subscribe) to wait for it.
    ///
    /// # Errors
    ///
    /// [`HostError::NoAddresses`] if no address is known, [`HostError::Swarm`] if the dial
    /// fails.
    pub async fn connect(&self, info: AddrInfo) -> Result<(), HostError> {
        if self.inner.swarm.best_conn(&info.peer_id).is_some() {
            return Ok(());
        }
        self.inner
            .peerstore
            .add_addrs(&info.peer_id, info.addrs, AddrTtl::Temporary)?;
        let addrs = self.inner.peerstore.addrs(&info.peer_id);
        if addrs.is_empty() {
            return Err(HostError::NoAddresses(info.peer_id));
        }
        self.inner
            .swarm
            .add_peer_addrs(&info.peer_id, addrs.iter().cloned());
        self.inner.swarm.dial_peer(&info.peer_id, addrs).await?;
        Ok(())
    }

    /// Opens a stream to `peer` negotiated to the first of `protocols` it supports (go's
    /// `NewStream`), dialing the peerstore's addresses if not connected. When identify has
    /// told us which of them the peer supports, only that one is proposed, optimistically.
    ///
    /// # Errors
    ///
    /// [`HostError::Swarm`] with the dial error, or a negotiation error when the peer supports
    /// none of `protocols`.
    pub async fn new_stream(&self, peer: &PeerId, protocols: &[&str]) -> Result<Stream, HostError> {
        if self.inner.swarm.best_conn(peer).is_none() {
            let addrs = self.inner.peerstore.addrs(peer);
            self.inner.swarm.add_peer_addrs(peer, addrs);
        }
        let known = self
            .inner
            .peerstore
            .first_supported_protocol(peer, protocols);
        let stream = match &known {
            Some(p) => self.inner.swarm.new_stream(peer, &[p.as_str()]).await?,
            None => self.inner.swarm.new_stream(peer, protocols).await?,
        };
        Ok(stream)
    }

    /// Runs identify with `peer` now (on its best connection, dialing if needed), records the
    /// result in the peerstore and returns it.
    ///
    /// # Errors
    ///
    /// Dial or stream errors, [`HostError::Timeout`], a malformed message, or an identity that
    /// is not the peer's.
    pub async fn identify(&self, peer: &PeerId) -> Result<IdentifyInfo, HostError> {
        let stream = self
            .new_stream(peer, &[peernet_core::identify::PROTOCOL])
            .await?;
        identify::run_identify(self, stream).await
    }

    /// The connection manager: tags and protections of peers.
    pub fn conn_manager(&self) -> &ConnManager {
        &self.inner.conn_manager
    }

    /// Closes the connections of the least valuable peers when more than the high watermark
    /// are open, down to the low watermark (go's `TrimOpenConns`); protected peers and
    /// connections in their grace period are spared. Returns the peers disconnected. The host
    /// calls this itself when a connection arrives above the high watermark.
    pub async fn trim_open_conns(&self) -> Vec<PeerId> {
        if self.inner.trimming.swap(true, Ordering::AcqRel) {
            return Vec::new();
        }
        /// Clears the flag however the trim ends (also when its task is aborted).
        struct Done<'a>(&'a AtomicBool);
        impl Drop for Done<'_> {
            fn drop(&mut self) {
                self.0.store(false, Ordering::Release);
            }
        }
        let _done = Done(&self.inner.trimming);
        let swarm = &self.inner.swarm;
        let conns: Vec<ConnSnapshot> = swarm
            .peers()
            .into_iter()
            .flat_map(|peer| swarm.conns_to_peer(&peer))
            .map(|c| ConnSnapshot {
                peer: c.remote_peer().clone(),
                opened_at: c.opened_at(),
            })
            .collect();
        let now = tokio::time::Instant::now().into_std();
        let plan = self.inner.conn_manager.trim_plan(&conns, now);
        for peer in &plan {
            tracing::debug!(%peer, "connection manager closes peer");
            swarm.close_peer(peer).await;
        }
        plan
    }

    /// Closes every listener and connection and stops every task.
    pub async fn close(&self) {
        self.inner.swarm.close().await;
    }
}
