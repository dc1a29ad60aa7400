//! What the upgrade established about a connection, shared by its handles and its streams.

use std::sync::atomic::AtomicUsize;
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

use peernet_core::{Multiaddr, PeerId, PublicKey};

use crate::ids::{ConnectionId, Direction};
use crate::metrics::Metrics;
use crate::resource::ConnPermit;

/// What the upgrade established about a connection. Shared by the connection's handles and
/// streams.
#[derive(Debug)]
pub(crate) struct ConnectionInfo {
    pub id: ConnectionId,
    pub remote_peer: PeerId,
    pub remote_public_key: PublicKey,
    pub remote_addr: Multiaddr,
    pub local_addr: Multiaddr,
    pub direction: Direction,
    pub security: &'static str,
    pub muxer: &'static str,
    pub opened_at: Instant,
    /// Negotiated streams alive on the connection, both directions (go's `isBetterConn` uses it).
    pub streams: AtomicUsize,
    /// The upgrader consulted a connection gater at `accept` and `secured` on this connection.
    pub gated: bool,
    /// How long the upgrade took (security handshake and muxer; QUIC: its handshake).
    pub handshake: Duration,
    /// The swarm's metrics, set when the connection joins a swarm that keeps them.
    pub metrics: OnceLock<Metrics>,
    /// The connection's resource permit, when a manager is installed; streams take theirs
    /// from it. The swarm takes it out when the connection leaves its table.
    pub resources: Mutex<Option<ConnPermit>>,
}
