//! The swarm's handle and the state behind it: transports, listen addresses, the connection
//! table, the handlers, the dial planner and its callers; and what the swarm tells subscribers.
//! The files beside it (`conns.rs`, `dial.rs`, `inbound.rs`) work on this state; `mod.rs`
//! builds it and holds the public face.

use std::collections::{HashMap, HashSet};
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex, MutexGuard, RwLock};
use std::time::Duration;

use peernet_core::dial::{DialError, DialJobId, DialSync, RequestId};
use peernet_core::{Multiaddr, PeerId, Protocol};
use tokio::sync::{broadcast, oneshot, watch, Notify};
use tokio::task::AbortHandle;

use crate::connection::{Connection, Stream};
use crate::gater::ConnectionGater;
use crate::ids::{ConnectionId, Direction};
use crate::metrics::Metrics;
use crate::resource::ResourceManager;
use crate::transport::{expand_unspecified, interface_ips, DnsConfig, Transport};
use crate::upgrader::Upgrader;

/// Time [`Swarm::close`] gives each connection to send its go-away.
pub(super) const CLOSE_TIMEOUT: Duration = Duration::from_secs(2);

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

/// Options of [`Swarm::new_stream_with`] and [`Swarm::dial_peer_with`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DialOptions {
    /// Use only an existing connection; never dial (go's `WithNoDial`).
    pub no_dial: bool,
    /// Dial even addresses in backoff (go's `WithForceDirectDial`).
    pub force_direct: bool,
}

type HandlerFuture = Pin<Box<dyn Future<Output = ()> + Send>>;

pub(super) type Handler = Arc<dyn Fn(Stream) -> HandlerFuture + Send + Sync>;

pub(super) type MatchFn = Arc<dyn Fn(&str) -> bool + Send + Sync>;

/// Where a waiting caller's dial result goes: `Ok(None)` means "succeeded, look in the table".
pub(super) type DialAnswer = oneshot::Sender<Result<Option<Connection>, DialError>>;

/// A connection in the table.
pub(super) struct ConnEntry {
    pub(super) conn: Connection,
}

pub(super) struct State {
    pub(super) closed: bool,
    pub(super) transports: Vec<Transport>,
    pub(super) by_code: HashMap<u64, usize>,
    pub(super) listen_addrs: Vec<Multiaddr>,
    pub(super) conns: HashMap<PeerId, Vec<ConnEntry>>,
    /// Handlers by protocol, each with an optional match function for other protocol ids.
    pub(super) handlers: HashMap<String, (Option<MatchFn>, Handler)>,
    pub(super) peer_addrs: HashMap<PeerId, Vec<Multiaddr>>,
    pub(super) dial_sync: DialSync,
    /// Callers waiting for a dial, with the peer each asked for.
    pub(super) pending: HashMap<RequestId, (PeerId, DialAnswer)>,
    pub(super) dial_tasks: HashMap<DialJobId, AbortHandle>,
    /// Connections dialed for the planner, by the id it knows them by.
    pub(super) dialed: HashMap<ConnectionId, Connection>,
    pub(super) next_id: u64,
}

pub(super) struct Inner {
    pub(super) local_peer: PeerId,
    pub(super) upgrader: Upgrader,
    pub(super) gater: ConnectionGater,
    pub(super) metrics: Option<Metrics>,
    pub(super) resources: ResourceManager,
    pub(super) dns: DnsConfig,
    pub(super) state: Mutex<State>,
    /// Protocol codes with a transport, shared with the dial planner's `can_dial`.
    pub(super) codes: Arc<RwLock<HashSet<u64>>>,
    pub(super) events: broadcast::Sender<SwarmEvent>,
    pub(super) tasks: Arc<watch::Sender<usize>>,
    pub(super) shutdown: watch::Sender<bool>,
    pub(super) wake_driver: Arc<Notify>,
}

/// A node's transports, listeners, connections, stream handlers and dialer. Cheap to clone;
/// clones share the swarm. Needs a tokio runtime. Call [`Swarm::close`] to stop it: its
/// tasks hold it alive until then.
#[derive(Clone)]
pub struct Swarm {
    pub(super) inner: Arc<Inner>,
}

impl Swarm {
    pub(super) fn state(&self) -> MutexGuard<'_, State> {
        self.inner.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Runs `fut` on a counted task that ends at [`Swarm::close`].
    pub(super) fn spawn<F>(&self, fut: F) -> AbortHandle
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

    pub(super) fn transport_for(st: &State, addr: &Multiaddr) -> Option<Transport> {
        let code = transport_code(addr)?;
        st.by_code
            .get(&code)
            .and_then(|&i| st.transports.get(i))
            .filter(|t| t.can_handle(addr))
            .cloned()
    }
}

/// The code of the transport protocol of `addr` (go's `TransportForDialing`): a proxy
/// protocol (`/p2p-circuit`) anywhere wins, otherwise the last protocol before `/p2p/`.
pub(super) fn transport_code(addr: &Multiaddr) -> Option<u64> {
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

pub(super) fn now() -> std::time::Instant {
    tokio::time::Instant::now().into_std()
}

/// Decrements the task count when a swarm task ends or is aborted.
struct TaskGuard(Arc<watch::Sender<usize>>);

impl Drop for TaskGuard {
    fn drop(&mut self) {
        self.0.send_modify(|n| *n = n.saturating_sub(1));
    }
}

/// The addresses the dial planner must never dial: what we listen on, as bound and with
/// unspecified IPs expanded to the interface addresses.
pub(super) fn own_addrs(listen_addrs: &[Multiaddr]) -> Vec<Multiaddr> {
    let mut own = listen_addrs.to_vec();
    own.extend(expand_unspecified(listen_addrs, &interface_ips()));
    own
}
