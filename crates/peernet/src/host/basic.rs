//! The host itself (go's `BasicHost`): its identity, swarm, peerstore and connection manager,
//! what it tells subscribers, and the operations that need no service of its own. The services
//! (`identify.rs`, `ping.rs`), the stream handlers (`handlers.rs`) and the builder
//! (`builder.rs`) stand on it.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use peernet_core::identify::Identify;
use peernet_core::{AddrInfo, Keypair, Multiaddr, PeerId};
use tokio::sync::broadcast;

use crate::connection::Stream;
use crate::host::connmgr::{ConnManager, ConnSnapshot};
use crate::host::error::HostError;
use crate::host::peerstore::{AddrTtl, Peerstore};
use crate::metrics::Metrics;
use crate::swarm::Swarm;

/// The protocol version identify announces (the one every libp2p implementation sends).
pub const PROTOCOL_VERSION: &str = "ipfs/0.1.0";
/// The agent version identify announces unless [`HostBuilder::user_agent`](crate::HostBuilder::user_agent) sets another.
pub const DEFAULT_USER_AGENT: &str = concat!("peernet/", env!("CARGO_PKG_VERSION"));
/// Observed addresses a host remembers (the most recent distinct ones).
pub const MAX_OBSERVED_ADDRS: usize = 16;

/// What a peer told us through identify, after validation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdentifyInfo {
    /// The peer (authenticated by the connection).
    pub peer: PeerId,
    /// Its message (merged if it came in several); public key and signed peer record, when
    /// present, have been checked to be the peer's.
    pub message: Identify,
}

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

pub(super) struct Inner {
    pub(super) swarm: Swarm,
    pub(super) keypair: Keypair,
    pub(super) peerstore: Peerstore,
    pub(super) user_agent: String,
    /// The protocols with a handler, in registration order (what identify announces).
    pub(super) protocols: Mutex<Vec<String>>,
    /// Addresses peers told us they see us at, newest last.
    pub(super) observed: Mutex<Vec<Multiaddr>>,
    pub(super) events: broadcast::Sender<HostEvent>,
    pub(super) conn_manager: ConnManager,
    /// Set while a trim runs, so connection bursts start only one.
    pub(super) trimming: AtomicBool,
    /// Inbound ping streams being served, per peer.
    pub(super) pings: Mutex<HashMap<PeerId, usize>>,
    /// Our last signed peer record and the addresses it was made for.
    pub(super) record: Mutex<Option<(Vec<Multiaddr>, peernet_core::identify::SignedPeerRecord)>>,
}

/// A libp2p node: identity, transports, listeners, connections, stream handlers, peerstore and
/// identify. Cheap to clone; clones share the node.
#[derive(Clone)]
pub struct Host {
    pub(super) inner: Arc<Inner>,
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

    /// The metrics this host keeps, if it was built with [`HostBuilder::metrics`](crate::HostBuilder::metrics).
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

    /// Connects to `info.peer_id` if not connected yet (go's `Connect`): its addresses join
    /// the peerstore for [`TEMP_TTL`](crate::TEMP_TTL) and the peer is dialed. Identify then runs in the
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
