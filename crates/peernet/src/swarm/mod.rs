//! The swarm: every transport, listener and live connection of a node, the stream handlers,
//! and the dialer (go-libp2p's `p2p/net/swarm`).
//!
//! | go-libp2p                                  | here                                   |
//! |--------------------------------------------|----------------------------------------|
//! | `NewSwarm`                                 | [`Swarm::new`]                         |
//! | `AddTransport`, `TransportForDialing/Listening` | [`Swarm::add_transport`], `transport_for` |
//! | `Listen` / `AddListenAddr`                 | [`Swarm::listen`]                      |
//! | `addConn`, `Conn.start`                    | `add_conn`, `run_conn` (private)       |
//! | `SetStreamHandler` (host) + `Negotiate`    | [`Swarm::set_stream_handler`]          |
//! | `bestConnToPeer`, `isBetterConn`           | [`Swarm::best_conn`], `is_better_conn` |
//! | `NewStream`                                | [`Swarm::new_stream`]                  |
//! | `DialPeer` / `dialPeer`                    | [`Swarm::dial_peer`]                   |
//! | `dialSync`, `dialWorker`, `dialLimiter`, backoff, black holes | [`peernet_core::dial::DialSync`], driven here |
//! | `dialAddr`                                 | `dial_addr` (private)                  |
//! | `ConnectionGater`                          | [`ConnectionGater`]                    |
//! | `Notifiee` (`Listen`, `Connected`, …)      | [`Swarm::subscribe`], [`SwarmEvent`]   |
//!
//! A [`Swarm`] is a cheap-clonable handle on shared state. The dial planner
//! ([`DialSync`](peernet_core::dial::DialSync)) lives in that state: callers feed it requests,
//! dial tasks feed it outcomes, and one driver task sleeps until its next timer. Whoever feeds
//! it drains its events at once (start a dial task, abort one, answer callers), so no request
//! waits on a channel hop. Every task the swarm starts is counted; [`Swarm::close`] stops them
//! all and waits until the count is zero.
//!
//! ```
//! use peernet::{MemoryTransport, Swarm, SwarmConfig, Upgrader, Keypair};
//! use tokio::io::{AsyncReadExt, AsyncWriteExt};
//!
//! # #[tokio::main] async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let server = Swarm::new(Upgrader::new(Keypair::generate_ed25519()), SwarmConfig::default());
//! server.add_transport(MemoryTransport::new(server.upgrader().clone()))?;
//! server.set_stream_handler("/echo/1.0.0", |mut s| async move {
//!     let mut buf = Vec::new();
//!     if s.read_to_end(&mut buf).await.is_ok() {
//!         let _ = s.write_all(&buf).await;
//!         let _ = s.shutdown().await;
//!     }
//! });
//! let addrs = server.listen(&["/memory/0".parse()?]).await?.listening;
//!
//! let client = Swarm::new(Upgrader::new(Keypair::generate_ed25519()), SwarmConfig::default());
//! client.add_transport(MemoryTransport::new(client.upgrader().clone()))?;
//! client.add_peer_addrs(server.local_peer(), addrs);
//! let mut s = client.new_stream(server.local_peer(), &["/echo/1.0.0"]).await?;
//! s.write_all(b"hi").await?;
//! s.shutdown().await?;
//! let mut back = Vec::new();
//! s.read_to_end(&mut back).await?;
//! assert_eq!(back, b"hi");
//! client.close().await;
//! server.close().await;
//! # Ok(()) }
//! ```

mod gater;
#[cfg(test)]
mod tests;

pub use gater::{ConnectionGater, GateStep};

use std::collections::{HashMap, HashSet};
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex, MutexGuard, RwLock, Weak};
use std::time::Duration;

use peernet_core::dial::{
    AddrDialError, DialError, DialEvent, DialJobId, DialRequest, DialSync, DialSyncConfig,
    RequestId,
};
use peernet_core::{Multiaddr, PeerId, Protocol};
use tokio::sync::{broadcast, oneshot, watch, Notify};
use tokio::task::AbortHandle;

use crate::transport::Transport;
use crate::{
    Connection, ConnectionId, Direction, ResourceError, ResourceLimits, ResourceManager, Stream,
    StreamError, TransportError, Upgrader,
};

/// Events a [`Swarm`] buffers for each subscriber; a subscriber that falls further behind
/// misses the oldest (tokio's `Lagged`).
pub const EVENT_BUFFER: usize = 1024;
/// Addresses kept per peer in the swarm's address book.
pub const MAX_ADDRS_PER_PEER: usize = 64;
/// Time [`Swarm::close`] gives each connection to send its go-away.
const CLOSE_TIMEOUT: Duration = Duration::from_secs(2);

/// Settings of a [`Swarm`].
#[derive(Debug, Clone, Default)]
pub struct SwarmConfig {
    /// Dial limits, delays, timeouts, backoff and black hole windows (go's defaults).
    pub dial: DialSyncConfig,
    /// Local policy on which connections are allowed.
    pub gater: ConnectionGater,
    /// Where to count connections, streams, bytes and dials. Default: `None` (no metrics).
    pub metrics: Option<crate::metrics::Metrics>,
    /// Caps on connections, streams, handshakes and buffer memory. Default:
    /// [`ResourceLimits::default`] (go-libp2p's resource manager defaults).
    pub limits: ResourceLimits,
    /// Limits of resolving `/dns*` addresses before a dial.
    pub dns: crate::DnsConfig,
}

/// What happened in a swarm (go's `Notifiee`), from [`Swarm::subscribe`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SwarmEvent {
    /// A listener started on `addr`.
    Listen {
        /// The address, with the actual port.
        addr: Multiaddr,
    },
    /// The listener on `addr` stopped.
    ListenClose {
        /// The address it listened on.
        addr: Multiaddr,
    },
    /// A connection joined the swarm.
    Connected {
        /// The remote peer.
        peer: PeerId,
        /// The connection.
        conn: ConnectionId,
        /// Who dialed.
        direction: Direction,
        /// The remote's address.
        remote_addr: Multiaddr,
    },
    /// A connection left the swarm.
    Disconnected {
        /// The remote peer.
        peer: PeerId,
        /// The connection.
        conn: ConnectionId,
    },
}

/// Why a swarm operation failed.
#[derive(Debug, thiserror::Error)]
pub enum SwarmError {
    /// The swarm has been closed (local misuse).
    #[error("the swarm is closed")]
    Closed,
    /// A transport is already registered for one of the new transport's protocol codes (local
    /// misuse).
    #[error("cannot add transport {new}: protocol code {code} is already handled by {existing}")]
    DuplicateTransport {
        /// The multiaddr protocol code both claim.
        code: u64,
        /// The transport registered first.
        existing: &'static str,
        /// The transport refused.
        new: &'static str,
    },
    /// The transport's upgrader authenticates as another peer than the swarm (local misuse).
    #[error("transport {transport} upgrades as {transport_peer}, but the swarm is {local_peer}")]
    ForeignTransport {
        /// The transport's name.
        transport: &'static str,
        /// Its upgrader's peer id.
        transport_peer: PeerId,
        /// The swarm's peer id.
        local_peer: PeerId,
    },
    /// Listening failed on every address; each address and its error.
    #[error("listening failed on every address: {}", format_failures(.0))]
    Listen(Vec<ListenFailure>),
    /// The connection gater refused, at `step`, for `reason`.
    #[error("refused by the connection gater at {step}: {reason}")]
    Gated {
        /// Where the gater refused.
        step: GateStep,
        /// The gater's reason.
        reason: String,
    },
    /// Our own resource limits refused the connection or dial (local policy; the error names
    /// the limit). A dial refused this way sent nothing.
    #[error(transparent)]
    ResourceLimit(#[from] ResourceError),
    /// Dialing the peer failed; the error lists every address's failure.
    #[error(transparent)]
    Dial(#[from] DialError),
    /// There is no connection to the peer: the caller did not allow dialing, or the
    /// connection a dial made closed before the caller got it.
    #[error("no usable connection to {0}")]
    NoConnection(PeerId),
    /// Opening or negotiating the stream failed.
    #[error("opening a stream failed")]
    Stream(#[from] StreamError),
}

impl SwarmError {
    /// The local resource limit that refused the operation, if that is what failed: a dial
    /// refused before sending anything, or a stream refused on our side. `None` for
    /// everything else, including refusals by the remote
    /// ([`StreamError::ResetByRemote`]).
    pub fn resource_limit(&self) -> Option<&ResourceError> {
        match self {
            SwarmError::ResourceLimit(e) | SwarmError::Stream(StreamError::ResourceLimit(e)) => {
                Some(e)
            }
            _ => None,
        }
    }
}

/// One listen address that failed, and why.
#[derive(Debug)]
pub struct ListenFailure {
    /// The address asked for.
    pub addr: Multiaddr,
    /// What the transport said (`Unsupported` when no transport handles it).
    pub error: TransportError,
}

fn format_failures(failures: &[ListenFailure]) -> String {
    let parts: Vec<String> = failures
        .iter()
        .map(|f| format!("[{}] {}", f.addr, crate::error_chain(&f.error)))
        .collect();
    parts.join("; ")
}

/// The outcome of [`Swarm::listen`] when at least one address worked.
#[derive(Debug)]
pub struct ListenReport {
    /// The addresses now listened on (actual ports).
    pub listening: Vec<Multiaddr>,
    /// The addresses that failed.
    pub failed: Vec<ListenFailure>,
}

/// Options of [`Swarm::new_stream_with`] and [`Swarm::dial_peer_with`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DialOptions {
    /// Use only an existing connection; never dial (go's `WithNoDial`).
    pub no_dial: bool,
    /// Dial even addresses in backoff (go's `WithForceDirectDial`).
    pub force_direct: bool,
}

/// Counts of what a swarm holds, for tests and metrics.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SwarmStats {
    /// Live connections in the table.
    pub connections: usize,
    /// Peers with at least one connection.
    pub peers: usize,
    /// Listen addresses.
    pub listeners: usize,
    /// Tasks the swarm started that are still running (driver, accept loops, connections,
    /// stream handlers, dials).
    pub tasks: usize,
    /// Peers being dialed.
    pub active_dials: usize,
    /// Dials known to the limiter, waiting or running.
    pub dial_jobs: usize,
    /// Transport dials running now (granted by the limiter).
    pub dials_in_flight: usize,
    /// Callers waiting for a dial.
    pub pending_dials: usize,
}

type HandlerFuture = Pin<Box<dyn Future<Output = ()> + Send>>;
type Handler = Arc<dyn Fn(Stream) -> HandlerFuture + Send + Sync>;
type MatchFn = Arc<dyn Fn(&str) -> bool + Send + Sync>;
/// Where a waiting caller's dial result goes: `Ok(None)` means "succeeded, look in the table".
type DialAnswer = oneshot::Sender<Result<Option<Connection>, DialError>>;

/// A connection in the table.
struct ConnEntry {
    conn: Connection,
}

struct State {
    closed: bool,
    transports: Vec<Transport>,
    by_code: HashMap<u64, usize>,
    listen_addrs: Vec<Multiaddr>,
    conns: HashMap<PeerId, Vec<ConnEntry>>,
    /// Handlers by protocol, each with an optional match function for other protocol ids.
    handlers: HashMap<String, (Option<MatchFn>, Handler)>,
    peer_addrs: HashMap<PeerId, Vec<Multiaddr>>,
    dial_sync: DialSync,
    /// Callers waiting for a dial, with the peer each asked for.
    pending: HashMap<RequestId, (PeerId, DialAnswer)>,
    dial_tasks: HashMap<DialJobId, AbortHandle>,
    /// Connections dialed for the planner, by the id it knows them by.
    dialed: HashMap<ConnectionId, Connection>,
    next_id: u64,
}

struct Inner {
    local_peer: PeerId,
    upgrader: Upgrader,
    gater: ConnectionGater,
    metrics: Option<crate::metrics::Metrics>,
    resources: ResourceManager,
    dns: crate::DnsConfig,
    state: Mutex<State>,
    /// Protocol codes with a transport, shared with the dial planner's `can_dial`.
    codes: Arc<RwLock<HashSet<u64>>>,
    events: broadcast::Sender<SwarmEvent>,
    tasks: Arc<watch::Sender<usize>>,
    shutdown: watch::Sender<bool>,
    wake_driver: Arc<Notify>,
}

/// A node's transports, listeners, connections, stream handlers and dialer. Cheap to clone;
/// clones share the swarm. Needs a tokio runtime. Call [`Swarm::close`] to stop it: its
/// tasks hold it alive until then.
#[derive(Clone)]
pub struct Swarm {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for Swarm {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Swarm")
            .field("local_peer", &self.inner.local_peer)
            .field("stats", &self.stats())
            .finish()
    }
}

/// The code of the transport protocol of `addr` (go's `TransportForDialing`): a proxy
/// protocol (`/p2p-circuit`) anywhere wins, otherwise the last protocol before `/p2p/`.
fn transport_code(addr: &Multiaddr) -> Option<u64> {
    let circuit = Protocol::P2pCircuit.code();
    let mut last = None;
    for p in addr.iter() {
        match p {
            Protocol::P2pCircuit => return Some(circuit),
            Protocol::P2p(_) => {}
            other => last = Some(other.code()),
        }
    }
    last
}

fn now() -> std::time::Instant {
    tokio::time::Instant::now().into_std()
}

/// Decrements the task count when a swarm task ends or is aborted.
struct TaskGuard(Arc<watch::Sender<usize>>);

impl Drop for TaskGuard {
    fn drop(&mut self) {
        self.0.send_modify(|n| *n = n.saturating_sub(1));
    }
}

/// Withdraws a caller's dial request if it stops waiting.
struct CancelOnDrop<'a> {
    swarm: &'a Swarm,
    peer: PeerId,
    id: RequestId,
    armed: bool,
}

impl Drop for CancelOnDrop<'_> {
    fn drop(&mut self) {
        if self.armed {
            let mut st = self.swarm.state();
            st.pending.remove(&self.id);
            st.dial_sync.cancel_request(&self.peer, self.id, now());
            self.swarm.drain_dial_events(&mut st);
            drop(st);
            self.swarm.inner.wake_driver.notify_one();
        }
    }
}

/// go's `isBetterConn`: unlimited (not relayed) first, then more streams, then the newest.
/// We learn a connection is limited only from a relayed address; streams counted are every
/// negotiated stream open on the connection, both directions.
fn is_better_conn(a: &ConnEntry, b: &ConnEntry) -> bool {
    let (a_relayed, b_relayed) = (
        a.conn.remote_addr().is_relayed(),
        b.conn.remote_addr().is_relayed(),
    );
    if a_relayed != b_relayed {
        return !a_relayed;
    }
    let (a_streams, b_streams) = (a.conn.num_streams(), b.conn.num_streams());
    if a_streams != b_streams {
        return a_streams > b_streams;
    }
    a.conn.opened_at() > b.conn.opened_at()
}

impl Swarm {
    /// A swarm for the identity of `upgrader` (go's `NewSwarm`), with no transport yet. Starts
    /// its driver task.
    ///
    /// # Panics
    ///
    /// Outside a tokio runtime.
    pub fn new(upgrader: Upgrader, config: SwarmConfig) -> Swarm {
        let local_peer = upgrader.local_peer().clone();
        let codes: Arc<RwLock<HashSet<u64>>> = Arc::default();
        let can_dial = {
            let codes = codes.clone();
            move |addr: &Multiaddr| {
                let codes = codes.read().unwrap_or_else(|e| e.into_inner());
                transport_code(addr).is_some_and(|c| codes.contains(&c))
            }
        };
        let state = State {
            closed: false,
            transports: Vec::new(),
            by_code: HashMap::new(),
            listen_addrs: Vec::new(),
            conns: HashMap::new(),
            handlers: HashMap::new(),
            peer_addrs: HashMap::new(),
            dial_sync: DialSync::new(local_peer.clone(), config.dial, can_dial),
            pending: HashMap::new(),
            dial_tasks: HashMap::new(),
            dialed: HashMap::new(),
            next_id: 1,
        };
        let swarm = Swarm {
            inner: Arc::new(Inner {
                local_peer,
                upgrader,
                gater: config.gater,
                metrics: config.metrics,
                resources: ResourceManager::new(config.limits),
                dns: config.dns,
                state: Mutex::new(state),
                codes,
                events: broadcast::channel(EVENT_BUFFER).0,
                tasks: Arc::new(watch::channel(0).0),
                shutdown: watch::channel(false).0,
                wake_driver: Arc::new(Notify::new()),
            }),
        };
        let wake = swarm.inner.wake_driver.clone();
        swarm.spawn(run_driver(Arc::downgrade(&swarm.inner), wake));
        swarm
    }

    /// Our peer id.
    pub fn local_peer(&self) -> &PeerId {
        &self.inner.local_peer
    }

    /// The metrics this swarm keeps, if it was given any ([`SwarmConfig::metrics`]).
    pub fn metrics(&self) -> Option<&crate::metrics::Metrics> {
        self.inner.metrics.as_ref()
    }

    /// The upgrader transports of this swarm should use.
    pub fn upgrader(&self) -> &Upgrader {
        &self.inner.upgrader
    }

    /// The resource manager counting this swarm's connections and streams (its
    /// [`stats`](ResourceManager::stats) say what is in use).
    pub fn resource_manager(&self) -> &ResourceManager {
        &self.inner.resources
    }

    fn state(&self) -> MutexGuard<'_, State> {
        self.inner.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Runs `fut` on a counted task that ends at [`Swarm::close`].
    fn spawn<F>(&self, fut: F) -> AbortHandle
    where
        F: Future<Output = ()> + Send + 'static,
    {
        let counter = self.inner.tasks.clone();
        counter.send_modify(|n| *n += 1);
        let guard = TaskGuard(counter);
        let mut shutdown = self.inner.shutdown.subscribe();
        tokio::spawn(async move {
            let _guard = guard;
            tokio::select! {
                () = fut => {}
                _ = shutdown.wait_for(|closed| *closed) => {}
            }
        })
        .abort_handle()
    }

    /// Registers `transport` for its protocol codes (go's `AddTransport`). Refuses a transport
    /// for a code already taken, naming both, and one whose upgrader is another identity.
    pub fn add_transport(&self, transport: impl Into<Transport>) -> Result<(), SwarmError> {
        let transport = transport.into();
        let transport_peer = transport.local_peer();
        if transport_peer != self.local_peer() {
            return Err(SwarmError::ForeignTransport {
                transport: transport.name(),
                transport_peer: transport_peer.clone(),
                local_peer: self.local_peer().clone(),
            });
        }
        let mut st = self.state();
        if st.closed {
            return Err(SwarmError::Closed);
        }
        let codes = transport.protocol_codes();
        for code in &codes {
            if let Some(existing) = st.by_code.get(code).and_then(|&i| st.transports.get(i)) {
                return Err(SwarmError::DuplicateTransport {
                    code: *code,
                    existing: existing.name(),
                    new: transport.name(),
                });
            }
        }
        transport.install_gater(&self.inner.gater);
        transport.install_resources(&self.inner.resources);
        let index = st.transports.len();
        st.transports.push(transport);
        let mut shared = self.inner.codes.write().unwrap_or_else(|e| e.into_inner());
        for code in codes {
            st.by_code.insert(code, index);
            shared.insert(code);
        }
        Ok(())
    }

    fn transport_for(st: &State, addr: &Multiaddr) -> Option<Transport> {
        let code = transport_code(addr)?;
        st.by_code
            .get(&code)
            .and_then(|&i| st.transports.get(i))
            .filter(|t| t.can_handle(addr))
            .cloned()
    }

    /// Listens on each of `addrs` (go's `Listen`). Succeeds if at least one address works and
    /// reports the others; fails with every address's error if none does. Each listener's
    /// accept loop hands upgraded connections to the swarm; handshakes run concurrently in the
    /// transport, so a slow one never blocks the accept loop.
    pub async fn listen(&self, addrs: &[Multiaddr]) -> Result<ListenReport, SwarmError> {
        let mut report = ListenReport {
            listening: Vec::new(),
            failed: Vec::new(),
        };
        for addr in addrs {
            let transport = {
                let st = self.state();
                if st.closed {
                    return Err(SwarmError::Closed);
                }
                Self::transport_for(&st, addr)
            };
            let Some(transport) = transport else {
                report.failed.push(ListenFailure {
                    addr: addr.clone(),
                    error: TransportError::Unsupported(addr.clone()),
                });
                continue;
            };
            match transport.listen(addr) {
                Ok(listener) => {
                    let local = listener.local_addr().clone();
                    {
                        let mut st = self.state();
                        if st.closed {
                            return Err(SwarmError::Closed);
                        }
                        st.listen_addrs.push(local.clone());
                        let listen_addrs = own_addrs(&st.listen_addrs);
                        st.dial_sync.set_listen_addrs(listen_addrs);
                        let _ = self.inner.events.send(SwarmEvent::Listen {
                            addr: local.clone(),
                        });
                    }
                    tracing::debug!(addr = %local, "listening");
                    self.spawn(accept_loop(self.clone(), listener));
                    report.listening.push(local);
                }
                Err(error) => {
                    tracing::debug!(%addr, error = %crate::error_chain(&error), "listen failed");
                    report.failed.push(ListenFailure {
                        addr: addr.clone(),
                        error,
                    });
                }
            }
        }
        if report.listening.is_empty() && !report.failed.is_empty() {
            return Err(SwarmError::Listen(report.failed));
        }
        Ok(report)
    }

    /// The addresses we listen on, as bound (`0.0.0.0` stays `0.0.0.0`).
    pub fn listen_addrs(&self) -> Vec<Multiaddr> {
        self.state().listen_addrs.clone()
    }

    /// The addresses we can be reached at (go's `InterfaceListenAddresses`):
    /// [`listen_addrs`](Self::listen_addrs) with each unspecified IP (`0.0.0.0`, `::`)
    /// replaced by every interface address of its family ([`crate::interface_ips`]).
    pub fn interface_listen_addrs(&self) -> Vec<Multiaddr> {
        let addrs = self.listen_addrs();
        // Listing the interfaces is a system call per interface; identify asks on every
        // exchange, so only pay it when there is something to expand.
        if !addrs
            .iter()
            .any(|a| a.ip_addr().is_some_and(|ip| ip.is_unspecified()))
        {
            return addrs;
        }
        crate::expand_unspecified(&addrs, &crate::interface_ips())
    }

    /// Adds addresses `new_stream` may dial `peer` at (a minimal peerstore; at most
    /// [`MAX_ADDRS_PER_PEER`] per peer are kept).
    pub fn add_peer_addrs(&self, peer: &PeerId, addrs: impl IntoIterator<Item = Multiaddr>) {
        let mut st = self.state();
        let known = st.peer_addrs.entry(peer.clone()).or_default();
        for addr in addrs {
            if known.len() >= MAX_ADDRS_PER_PEER {
                break;
            }
            if !known.contains(&addr) {
                known.push(addr);
            }
        }
    }

    /// The addresses known for `peer`.
    pub fn peer_addrs(&self, peer: &PeerId) -> Vec<Multiaddr> {
        self.state()
            .peer_addrs
            .get(peer)
            .cloned()
            .unwrap_or_default()
    }

    /// Serves inbound streams negotiated to `protocol` with `handler`, on a task per stream
    /// (replaces an earlier handler for the same protocol).
    pub fn set_stream_handler<F, Fut>(&self, protocol: &str, handler: F)
    where
        F: Fn(Stream) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = ()> + Send + 'static,
    {
        let handler: Handler = Arc::new(move |s| Box::pin(handler(s)));
        if let Some(m) = &self.inner.metrics {
            m.allow_protocol(protocol);
        }
        self.state()
            .handlers
            .insert(protocol.to_owned(), (None, handler));
    }

    /// Like [`set_stream_handler`](Self::set_stream_handler), but the handler also serves every
    /// protocol a remote proposes for which `matches` returns true (go's
    /// `SetStreamHandlerMatch`); `protocol` is what `ls` lists and what replaces or removes it.
    /// An exact match on a registered protocol wins over a match function.
    pub fn set_stream_handler_match<M, F, Fut>(&self, protocol: &str, matches: M, handler: F)
    where
        M: Fn(&str) -> bool + Send + Sync + 'static,
        F: Fn(Stream) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = ()> + Send + 'static,
    {
        let handler: Handler = Arc::new(move |s| Box::pin(handler(s)));
        let matches: MatchFn = Arc::new(matches);
        if let Some(m) = &self.inner.metrics {
            m.allow_protocol(protocol);
        }
        self.state()
            .handlers
            .insert(protocol.to_owned(), (Some(matches), handler));
    }

    /// Stops serving `protocol`.
    pub fn remove_stream_handler(&self, protocol: &str) {
        self.state().handlers.remove(protocol);
    }

    /// Events from now on: listeners and connections coming and going.
    pub fn subscribe(&self) -> broadcast::Receiver<SwarmEvent> {
        self.inner.events.subscribe()
    }

    /// The live connections to `peer`.
    pub fn conns_to_peer(&self, peer: &PeerId) -> Vec<Connection> {
        self.state()
            .conns
            .get(peer)
            .map(|v| v.iter().map(|e| e.conn.clone()).collect())
            .unwrap_or_default()
    }

    /// Peers with at least one live connection.
    pub fn peers(&self) -> Vec<PeerId> {
        self.state().conns.keys().cloned().collect()
    }

    /// The connection to use for `peer` (go's `bestConnToPeer`): not relayed first, then the
    /// one with more streams, then the newest.
    pub fn best_conn(&self, peer: &PeerId) -> Option<Connection> {
        let st = self.state();
        let mut best: Option<&ConnEntry> = None;
        for entry in st.conns.get(peer)?.iter().filter(|e| !e.conn.is_closed()) {
            if best.is_none_or(|b| is_better_conn(entry, b)) {
                best = Some(entry);
            }
        }
        best.map(|e| e.conn.clone())
    }

    /// Closes every connection to `peer` (go's `ClosePeer`); each leaves the table with a
    /// [`SwarmEvent::Disconnected`].
    pub async fn close_peer(&self, peer: &PeerId) {
        for conn in self.conns_to_peer(peer) {
            let _ = tokio::time::timeout(CLOSE_TIMEOUT, conn.close()).await;
            self.remove_conn(&conn);
        }
    }

    /// Counts of what the swarm holds.
    pub fn stats(&self) -> SwarmStats {
        let tasks = *self.inner.tasks.borrow();
        let st = self.state();
        SwarmStats {
            connections: st.conns.values().map(Vec::len).sum(),
            peers: st.conns.len(),
            listeners: st.listen_addrs.len(),
            tasks,
            active_dials: st.dial_sync.active_dials(),
            dial_jobs: st.dial_sync.jobs(),
            dials_in_flight: st.dial_tasks.len(),
            pending_dials: st.pending.len(),
        }
    }

    /// Adds a connection to the table (go's `addConn`) after the gater's checks, announces it
    /// and starts accepting its streams. A refused connection is closed.
    fn add_conn(&self, conn: Connection) -> Result<(), SwarmError> {
        if let Err((step, reason)) = self.inner.gater.check_connection(&conn) {
            tracing::debug!(peer = %conn.remote_peer(), %step, %reason, "connection gated");
            let c = conn.clone();
            self.spawn(async move { c.close().await });
            return Err(SwarmError::Gated { step, reason });
        }
        if let Err(e) = self.take_resources(&conn) {
            tracing::debug!(peer = %conn.remote_peer(), error = %e, "connection refused");
            let c = conn.clone();
            self.spawn(async move { c.close().await });
            return Err(e.into());
        }
        {
            let mut st = self.state();
            if st.closed {
                drop(st);
                let c = conn.clone();
                tokio::spawn(async move { c.close().await });
                return Err(SwarmError::Closed);
            }
            let peer = conn.remote_peer().clone();
            st.conns
                .entry(peer.clone())
                .or_default()
                .push(ConnEntry { conn: conn.clone() });
            st.dial_sync.connection_established(&peer);
            if let Some(m) = &self.inner.metrics {
                m.conn_opened(&conn);
            }
            let _ = self.inner.events.send(SwarmEvent::Connected {
                peer,
                conn: conn.id(),
                direction: conn.direction(),
                remote_addr: conn.remote_addr().clone(),
            });
        }
        tracing::debug!(peer = %conn.remote_peer(), conn = %conn.id(), direction = ?conn.direction(), "connected");
        self.spawn(run_conn(self.clone(), conn));
        Ok(())
    }

    /// Gives a connection our upgrader did not make (QUIC) its resource permit, checking
    /// every connection limit at once.
    fn take_resources(&self, conn: &Connection) -> Result<(), ResourceError> {
        if conn.has_resources() {
            return Ok(());
        }
        let ip = conn.remote_addr().ip_addr();
        let mut permit = self.inner.resources.open_connection(conn.direction(), ip)?;
        permit.set_peer(conn.remote_peer())?;
        permit.handshake_done();
        conn.set_resources(permit);
        Ok(())
    }

    /// Takes `conn` out of the table, announcing it once.
    fn remove_conn(&self, conn: &Connection) {
        conn.release_resources();
        let mut st = self.state();
        let peer = conn.remote_peer();
        let Some(entries) = st.conns.get_mut(peer) else {
            return;
        };
        let before = entries.len();
        entries.retain(|e| e.conn.id() != conn.id());
        let removed = entries.len() != before;
        if entries.is_empty() {
            st.conns.remove(peer);
        }
        if removed {
            if let Some(m) = &self.inner.metrics {
                m.conn_closed(conn);
            }
            let _ = self.inner.events.send(SwarmEvent::Disconnected {
                peer: peer.clone(),
                conn: conn.id(),
            });
        }
    }

    /// Opens a stream to `peer` negotiated to the first of `protocols` it supports (go's
    /// `NewStream`), on the best connection or a new dial to the addresses of
    /// [`add_peer_addrs`](Self::add_peer_addrs).
    pub async fn new_stream(
        &self,
        peer: &PeerId,
        protocols: &[&str],
    ) -> Result<Stream, SwarmError> {
        self.new_stream_with(peer, protocols, DialOptions::default())
            .await
    }

    /// [`new_stream`](Self::new_stream) with options. If the connection turns out to have just
    /// closed, it tries once more on another (or a new) connection.
    pub async fn new_stream_with(
        &self,
        peer: &PeerId,
        protocols: &[&str],
        options: DialOptions,
    ) -> Result<Stream, SwarmError> {
        let mut retried = false;
        loop {
            let conn = match self.best_conn(peer) {
                Some(conn) => conn,
                None if options.no_dial => return Err(SwarmError::NoConnection(peer.clone())),
                None => {
                    let addrs = self.peer_addrs(peer);
                    self.dial_peer_with(peer, addrs, options).await?
                }
            };
            match conn.open_stream(protocols).await {
                Ok(stream) => return Ok(stream),
                Err(StreamError::Muxer(_) | StreamError::ClosedByRemote(_))
                    if !retried && conn.is_closed() =>
                {
                    retried = true;
                    self.remove_conn(&conn);
                }
                Err(e) => return Err(e.into()),
            }
        }
    }

    /// A connection to `peer`: the best existing one, or one dialed at `addrs` (go's
    /// `DialPeer`). Concurrent callers for one peer share one dial.
    pub async fn dial_peer(
        &self,
        peer: &PeerId,
        addrs: Vec<Multiaddr>,
    ) -> Result<Connection, SwarmError> {
        self.dial_peer_with(peer, addrs, DialOptions::default())
            .await
    }

    /// [`dial_peer`](Self::dial_peer) with options.
    pub async fn dial_peer_with(
        &self,
        peer: &PeerId,
        addrs: Vec<Multiaddr>,
        options: DialOptions,
    ) -> Result<Connection, SwarmError> {
        if let Err((step, reason)) = self.inner.gater.check_peer_dial(peer) {
            return Err(SwarmError::Gated { step, reason });
        }
        if let Some(conn) = self.best_conn(peer) {
            return Ok(conn);
        }
        if options.no_dial {
            return Err(SwarmError::NoConnection(peer.clone()));
        }
        self.inner.resources.check_dial(peer)?;
        // go's `resolveAddrs`: names become IP addresses before the worker ranks them.
        let addrs = resolve_for_dial(peer, addrs, &self.inner.dns).await?;
        let (tx, rx) = oneshot::channel();
        let id = {
            let mut st = self.state();
            if st.closed {
                return Err(SwarmError::Closed);
            }
            let id = RequestId(st.next_id);
            st.next_id += 1;
            st.pending.insert(id, (peer.clone(), tx));
            let mut request = DialRequest::new(id, addrs);
            request.force_direct = options.force_direct;
            st.dial_sync.dial_peer(peer.clone(), request, now());
            self.drain_dial_events(&mut st);
            id
        };
        self.inner.wake_driver.notify_one();
        let mut guard = CancelOnDrop {
            swarm: self,
            peer: peer.clone(),
            id,
            armed: true,
        };
        let answer = rx.await;
        guard.armed = false;
        match answer {
            Ok(Ok(Some(conn))) => Ok(conn),
            // The dialed connection is gone already: say so rather than dial again.
            Ok(Ok(None)) => self
                .best_conn(peer)
                .ok_or_else(|| SwarmError::NoConnection(peer.clone())),
            // A connection may have arrived inbound meanwhile.
            Ok(Err(e)) => self.best_conn(peer).ok_or(SwarmError::Dial(e)),
            Err(_) => Err(SwarmError::Closed),
        }
    }

    /// Acts on everything the dial planner asks for.
    fn drain_dial_events(&self, st: &mut State) {
        while let Some(event) = st.dial_sync.poll_event() {
            match event {
                DialEvent::Dial {
                    job,
                    peer,
                    addr,
                    deadline,
                } => {
                    if let Err(reason) = self.inner.gater.check_addr_dial(&peer, &addr) {
                        st.dial_sync
                            .dial_failed(job, AddrDialError::Gated(reason), now());
                        continue;
                    }
                    let Some(transport) = Self::transport_for(st, &addr) else {
                        st.dial_sync
                            .dial_failed(job, AddrDialError::NoTransport, now());
                        continue;
                    };
                    let task = dial_addr(self.clone(), job, peer, addr, deadline, transport);
                    let handle = self.spawn(task);
                    st.dial_tasks.insert(job, handle);
                }
                DialEvent::Abort { job } => {
                    if let Some(handle) = st.dial_tasks.remove(&job) {
                        handle.abort();
                    }
                }
                DialEvent::Complete {
                    peer,
                    requests,
                    result,
                } => {
                    let answer = match result {
                        Ok(success) => Ok(st.dialed.get(&success.conn).cloned()),
                        Err(e) => Err(e),
                    };
                    for id in requests {
                        if let Some((_, tx)) = st.pending.remove(&id) {
                            let _ = tx.send(answer.clone());
                        }
                    }
                    if st.dial_sync.worker(&peer).is_none() {
                        st.dialed.retain(|_, c| c.remote_peer() != &peer);
                    }
                }
            }
        }
    }

    /// Closes every listener and connection, answers waiting callers with
    /// [`SwarmError::Closed`], and waits until every task of the swarm has ended.
    pub async fn close(&self) {
        let conns: Vec<Connection> = {
            let mut st = self.state();
            st.closed = true;
            for addr in std::mem::take(&mut st.listen_addrs) {
                let _ = self.inner.events.send(SwarmEvent::ListenClose { addr });
            }
            // Withdraw every request: the planner drops its workers and aborts their dials.
            for (id, (peer, _)) in std::mem::take(&mut st.pending) {
                st.dial_sync.cancel_request(&peer, id, now());
            }
            self.drain_dial_events(&mut st);
            for (_, handle) in st.dial_tasks.drain() {
                handle.abort();
            }
            st.dialed.clear();
            st.conns
                .drain()
                .flat_map(|(_, v)| v.into_iter().map(|e| e.conn))
                .collect()
        };
        self.inner.shutdown.send_replace(true);
        let gone: Vec<(PeerId, ConnectionId)> = conns
            .iter()
            .map(|c| (c.remote_peer().clone(), c.id()))
            .collect();
        if let Some(m) = &self.inner.metrics {
            conns.iter().for_each(|c| m.conn_closed(c));
        }
        let conns_released = conns.clone();
        let mut closing = tokio::task::JoinSet::new();
        for c in conns {
            closing.spawn(async move {
                let _ = tokio::time::timeout(CLOSE_TIMEOUT, c.close()).await;
            });
        }
        while closing.join_next().await.is_some() {}
        for c in &conns_released {
            c.release_resources();
        }
        for (peer, conn) in gone {
            let _ = self
                .inner
                .events
                .send(SwarmEvent::Disconnected { peer, conn });
        }
        let mut tasks = self.inner.tasks.subscribe();
        let _ = tasks.wait_for(|n| *n == 0).await;
    }
}

/// Sleeps until the dial planner's next timer, or until woken because it may have changed.
async fn run_driver(swarm: Weak<Inner>, wake: Arc<Notify>) {
    loop {
        let deadline = {
            let Some(inner) = swarm.upgrade() else { return };
            let handle = Swarm { inner };
            let deadline = handle.state().dial_sync.poll_timeout();
            deadline
        };
        match deadline {
            Some(at) => {
                tokio::select! {
                    () = wake.notified() => {}
                    () = tokio::time::sleep_until(tokio::time::Instant::from_std(at)) => {}
                }
            }
            None => wake.notified().await,
        }
        let Some(inner) = swarm.upgrade() else { return };
        let handle = Swarm { inner };
        let mut st = handle.state();
        st.dial_sync.handle_timeout(now());
        handle.drain_dial_events(&mut st);
    }
}

/// The addresses the dial planner must never dial: what we listen on, as bound and with
/// unspecified IPs expanded to the interface addresses.
fn own_addrs(listen_addrs: &[Multiaddr]) -> Vec<Multiaddr> {
    let mut own = listen_addrs.to_vec();
    own.extend(crate::expand_unspecified(
        listen_addrs,
        &crate::interface_ips(),
    ));
    own
}

async fn accept_loop(swarm: Swarm, mut listener: crate::Listener) {
    let local = listener.local_addr().clone();
    while let Some(conn) = listener.accept().await {
        if let Err(e) = swarm.add_conn(conn) {
            tracing::debug!(error = %e, "inbound connection refused");
        }
    }
    let mut st = swarm.state();
    let before = st.listen_addrs.len();
    st.listen_addrs.retain(|a| a != &local);
    if st.listen_addrs.len() != before {
        let listen_addrs = own_addrs(&st.listen_addrs);
        st.dial_sync.set_listen_addrs(listen_addrs);
        let _ = swarm
            .inner
            .events
            .send(SwarmEvent::ListenClose { addr: local });
    }
}

/// Accepts the connection's streams until it closes (go's `Conn.start`), each negotiated and
/// served on its own task, then takes it out of the table.
async fn run_conn(swarm: Swarm, conn: Connection) {
    while let Some(inbound) = conn.accept_stream().await {
        swarm.spawn(serve_inbound(swarm.clone(), inbound));
    }
    swarm.remove_conn(&conn);
}

/// The handler for `protocol`: the exact registration, else the first whose match function
/// accepts it.
fn find_handler(st: &State, protocol: &str) -> Option<Handler> {
    if let Some((_, h)) = st.handlers.get(protocol) {
        return Some(h.clone());
    }
    st.handlers
        .values()
        .find(|(m, _)| m.as_ref().is_some_and(|m| m(protocol)))
        .map(|(_, h)| h.clone())
}

/// Negotiates an inbound stream against the registered handlers and runs the chosen one.
async fn serve_inbound(swarm: Swarm, inbound: crate::InboundStream) {
    let peer = inbound.remote_peer().clone();
    let lookup = swarm.clone();
    let mut supported = move |p: &str| find_handler(&lookup.state(), p).is_some();
    let lister = swarm.clone();
    let list = move || lister.state().handlers.keys().cloned().collect::<Vec<_>>();
    // Boxed: the negotiation's state is freed when it ends instead of sizing the task that
    // lives as long as the handler (≈1.5 KiB per idle stream).
    let stream = match Box::pin(inbound.negotiate(&mut supported, &list)).await {
        Ok(stream) => stream,
        Err(e) => {
            tracing::debug!(%peer, error = %crate::error_chain(&e), "inbound stream negotiation failed");
            return;
        }
    };
    let handler = find_handler(&swarm.state(), stream.protocol());
    let Some(handler) = handler else {
        return; // removed while negotiating
    };
    let protocol = stream.protocol().to_owned();
    // A panicking handler loses its stream (and the stream's permit) and nothing else.
    let run = std::panic::AssertUnwindSafe(handler(stream));
    if futures_util::FutureExt::catch_unwind(run).await.is_err() {
        tracing::warn!(%peer, %protocol, "stream handler panicked; its stream was dropped");
    }
}

/// Resolves the DNS addresses of a dial. Names that fail are logged; if nothing is left to
/// dial, the dial fails with every name's error.
async fn resolve_for_dial(
    peer: &PeerId,
    addrs: Vec<Multiaddr>,
    config: &crate::DnsConfig,
) -> Result<Vec<Multiaddr>, DialError> {
    if !addrs.iter().any(crate::is_dns_addr) {
        return Ok(addrs);
    }
    let resolved = crate::resolve_dial_addrs(addrs, config).await;
    for (addr, e) in &resolved.failed {
        tracing::debug!(%peer, %addr, error = %e, "DNS resolution failed");
    }
    if resolved.addrs.is_empty() && !resolved.failed.is_empty() {
        let mut errors = Vec::new();
        for (addr, e) in resolved.failed {
            errors.push(peernet_core::dial::FailedAddr {
                addr,
                cause: AddrDialError::Resolve(Arc::new(e)),
            });
        }
        errors.truncate(peernet_core::dial::MAX_DIAL_ERRORS);
        return Err(DialError {
            peer: peer.clone(),
            cause: peernet_core::dial::DialErrorCause::NoGoodAddresses,
            errors,
            skipped: 0,
        });
    }
    Ok(resolved.addrs)
}

/// Maps a transport's error to the dial planner's vocabulary.
fn addr_dial_error(e: TransportError) -> AddrDialError {
    match e {
        TransportError::Unsupported(_) => AddrDialError::NoTransport,
        TransportError::Io(e) => AddrDialError::Io(Arc::new(e)),
        TransportError::PeerIdMismatch { expected, in_addr } => AddrDialError::PeerIdMismatch {
            expected,
            actual: in_addr,
        },
        TransportError::Upgrade(crate::UpgradeError::Noise(
            crate::noise::NoiseUpgradeError::Noise(
                peernet_core::noise::NoiseError::PeerIdMismatch { expected, actual },
            ),
        )) => AddrDialError::PeerIdMismatch { expected, actual },
        TransportError::Upgrade(crate::UpgradeError::Tls(
            crate::tls::TlsUpgradeError::Certificate(peernet_core::tls::TlsError::PeerIdMismatch {
                expected,
                actual,
            }),
        ))
        | TransportError::Quic(crate::QuicError::Certificate(
            peernet_core::tls::TlsError::PeerIdMismatch { expected, actual },
        )) => AddrDialError::PeerIdMismatch { expected, actual },
        TransportError::Upgrade(crate::UpgradeError::Gated { step, reason }) => {
            AddrDialError::Gated(format!("{step}: {reason}"))
        }
        TransportError::Upgrade(e) => AddrDialError::Handshake(Arc::new(e)),
        TransportError::Quic(crate::QuicError::Draft29Unsupported(_)) => AddrDialError::QuicDraft29,
        TransportError::Quic(crate::QuicError::Timeout(_)) => AddrDialError::Timeout,
        TransportError::Quic(e) => AddrDialError::Handshake(Arc::new(e)),
        TransportError::Ws(e) => AddrDialError::Handshake(Arc::new(e)),
        TransportError::Dns(e) => AddrDialError::Resolve(Arc::new(e)),
    }
}

/// Dials one address for the planner (go's `dialAddr`), within its deadline, and reports the
/// outcome.
async fn dial_addr(
    swarm: Swarm,
    job: DialJobId,
    peer: PeerId,
    addr: Multiaddr,
    deadline: std::time::Instant,
    transport: Transport,
) {
    let progressed = {
        let swarm = swarm.clone();
        move || {
            let mut st = swarm.state();
            st.dial_sync.handshake_progressed(job, now());
            swarm.drain_dial_events(&mut st);
            drop(st);
            swarm.inner.wake_driver.notify_one();
        }
    };
    let counted = swarm.inner.metrics.as_ref().map(|m| m.dial_started(&addr));
    let dial = transport.dial_with_progress(&addr, Some(peer.clone()), progressed);
    let deadline = tokio::time::Instant::from_std(deadline);
    let result = match tokio::time::timeout_at(deadline, dial).await {
        Err(_) => Err(AddrDialError::Timeout),
        Ok(Err(e)) => Err(addr_dial_error(e)),
        Ok(Ok(conn)) if conn.remote_peer() != &peer => {
            let actual = conn.remote_peer().clone();
            conn.close().await;
            Err(AddrDialError::PeerIdMismatch {
                expected: peer.clone(),
                actual,
            })
        }
        Ok(Ok(conn)) => match swarm.add_conn(conn.clone()) {
            Ok(()) => Ok(conn),
            Err(SwarmError::Gated { step, reason }) => {
                Err(AddrDialError::Gated(format!("{step}: {reason}")))
            }
            Err(_) => Err(AddrDialError::Cancelled),
        },
    };
    if let Err(e) = &result {
        tracing::debug!(%peer, %addr, error = %e, "dial failed");
    }
    if let Some(counted) = counted {
        counted.done(result.as_ref().err());
    }
    let mut st = swarm.state();
    st.dial_tasks.remove(&job);
    match result {
        Ok(conn) => {
            let id = conn.id();
            st.dialed.insert(id, conn);
            if !st.dial_sync.dial_succeeded(job, id, now()) {
                st.dialed.remove(&id);
            }
        }
        Err(e) => {
            st.dial_sync.dial_failed(job, e, now());
        }
    }
    swarm.drain_dial_events(&mut st);
    drop(st);
    swarm.inner.wake_driver.notify_one();
}
