//! The swarm: every transport, listener and live connection of a node, the stream handlers,
//! and the dialer (go-libp2p's `p2p/net/swarm`).
//!
//! | go-libp2p                                  | here                                   |
//! |--------------------------------------------|----------------------------------------|
//! | `NewSwarm`                                 | [`Swarm::new`]                         |
//! | `AddTransport`, `TransportForDialing/Listening` | [`Swarm::add_transport`], `transport_for` |
//! | `Listen` / `AddListenAddr`                 | [`Swarm::listen`]                      |
//! | `addConn`, `Conn.start`                    | `add_conn` (`conns.rs`), `run_conn` (`inbound.rs`) |
//! | `SetStreamHandler` (host) + `Negotiate`    | [`Swarm::set_stream_handler`]          |
//! | `bestConnToPeer`, `isBetterConn`           | [`Swarm::best_conn`], `is_better_conn` |
//! | `NewStream`                                | [`Swarm::new_stream`]                  |
//! | `DialPeer` / `dialPeer`                    | [`Swarm::dial_peer`]                   |
//! | `dialSync`, `dialWorker`, `dialLimiter`, backoff, black holes | [`peernet_core::dial::DialSync`], driven here |
//! | `dialAddr`                                 | `dial_addr` (`dial.rs`)                |
//! | `ConnectionGater`                          | [`ConnectionGater`](crate::ConnectionGater) |
//! | `Notifiee` (`Listen`, `Connected`, …)      | [`Swarm::subscribe`], [`SwarmEvent`]   |
//!
//! A [`Swarm`] is a cheap-clonable handle on shared state. The dial planner
//! ([`DialSync`](peernet_core::dial::DialSync)) lives in that state: callers feed it requests,
//! dial tasks feed it outcomes, and one driver task sleeps until its next timer. Whoever feeds
//! it drains its events at once (start a dial task, abort one, answer callers), so no request
//! waits on a channel hop. Every task the swarm starts is counted; [`Swarm::close`] stops them
//! all and waits until the count is zero.
//!
//! The files follow the swarm's seams: `mod.rs` holds the state, transports, listeners and
//! [`Swarm::close`]; `conns.rs` the connection table (`add_conn`, `remove_conn`,
//! [`Swarm::best_conn`]); `inbound.rs` the stream handlers, accept loops and inbound streams;
//! `dial.rs` the dialer (requests, the planner's driver, one task per address dial); `error.rs`
//! the swarm's errors.
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

mod conns;
mod dial;
mod error;
mod inbound;
mod state;
#[cfg(test)]
mod tests;

pub use error::{ListenFailure, SwarmError};
pub use state::{DialOptions, Swarm, SwarmEvent};

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex, RwLock};

use peernet_core::dial::{DialSync, DialSyncConfig};
use peernet_core::{Multiaddr, PeerId};
use tokio::sync::{broadcast, watch, Notify};

use crate::connection::Connection;
use crate::gater::ConnectionGater;
use crate::ids::ConnectionId;
use crate::metrics::Metrics;
use crate::resource::{ResourceLimits, ResourceManager};
use crate::swarm::state::{now, own_addrs, transport_code, Inner, State, CLOSE_TIMEOUT};
use crate::transport::{expand_unspecified, interface_ips, DnsConfig, Transport, TransportError};
use crate::upgrader::Upgrader;

/// Events a [`Swarm`] buffers for each subscriber; a subscriber that falls further behind
/// misses the oldest (tokio's `Lagged`).
pub const EVENT_BUFFER: usize = 1024;
/// Addresses kept per peer in the swarm's address book.
pub const MAX_ADDRS_PER_PEER: usize = 64;

/// Settings of a [`Swarm`].
#[derive(Debug, Clone, Default)]
pub struct SwarmConfig {
    /// Dial limits, delays, timeouts, backoff and black hole windows (go's defaults).
    pub dial: DialSyncConfig,
    /// Local policy on which connections are allowed.
    pub gater: ConnectionGater,
    /// Where to count connections, streams, bytes and dials. Default: `None` (no metrics).
    pub metrics: Option<Metrics>,
    /// Caps on connections, streams, handshakes and buffer memory. Default:
    /// [`ResourceLimits::default`] (go-libp2p's resource manager defaults).
    pub limits: ResourceLimits,
    /// Limits of resolving `/dns*` addresses before a dial.
    pub dns: DnsConfig,
}

/// The outcome of [`Swarm::listen`] when at least one address worked.
#[derive(Debug)]
pub struct ListenReport {
    /// The addresses now listened on (actual ports).
    pub listening: Vec<Multiaddr>,
    /// The addresses that failed.
    pub failed: Vec<ListenFailure>,
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

impl std::fmt::Debug for Swarm {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Swarm")
            .field("local_peer", &self.inner.local_peer)
            .field("stats", &self.stats())
            .finish()
    }
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
        swarm.spawn(dial::run_driver(Arc::downgrade(&swarm.inner), wake));
        swarm
    }

    /// Our peer id.
    pub fn local_peer(&self) -> &PeerId {
        &self.inner.local_peer
    }

    /// The metrics this swarm keeps, if it was given any ([`SwarmConfig::metrics`]).
    pub fn metrics(&self) -> Option<&Metrics> {
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
                    self.spawn(inbound::accept_loop(self.clone(), listener));
                    report.listening.push(local);
                }
                Err(error) => {
                    tracing::debug!(%addr, error = %peernet_core::error::Chain(&error), "listen failed");
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
    /// replaced by every interface address of its family ([`interface_ips`](crate::interface_ips)).
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
        expand_unspecified(&addrs, &interface_ips())
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

    /// Events from now on: listeners and connections coming and going.
    pub fn subscribe(&self) -> broadcast::Receiver<SwarmEvent> {
        self.inner.events.subscribe()
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
            conns.iter().for_each(|c| m.conn_closed(&c.metrics_facts()));
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
