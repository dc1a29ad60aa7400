//! Resource limits: how many connections, streams, handshakes and how much buffer memory a node
//! lets its peers (and itself) hold at once (go-libp2p's resource manager, flattened).
//!
//! A [`ResourceManager`] counts what is in use and refuses a newcomer that would take a count
//! past its [`ResourceLimits`]. What is granted is held by an RAII permit ([`ConnPermit`],
//! [`StreamPermit`]) and given back when the permit is dropped, so a connection or stream that
//! ends in any way (closed, reset, timed out, its handler panicked) frees what it held.
//!
//! | go-libp2p                              | here                                              |
//! |----------------------------------------|---------------------------------------------------|
//! | `OpenConnection(dir, usefd, addr)`     | [`ResourceManager::open_connection`] (system, IP) |
//! | `ConnManagementScope.SetPeer`          | [`ConnPermit::set_peer`] (peer scope)             |
//! | `OpenStream(peer, dir)`                | [`ConnPermit::open_stream`] (system, peer, conn)  |
//! | `StreamManagementScope.SetProtocol`    | [`StreamPermit::set_protocol`] (protocol scope)   |
//! | `connLimiter` (per IP prefix)          | [`ResourceLimits::conns_per_ip`]                  |
//! | `ViewSystem(..).Stat()`                | [`ResourceManager::stats`]                        |
//!
//! A refusal is a [`ResourceError`] naming the [`Limit`]: its scope, the resource, and the
//! configured value. It is always *our* limit: when the remote refuses, the errors of the
//! connection and stream APIs say so separately
//! ([`StreamError::ResetByRemote`](crate::StreamError::ResetByRemote)).
//!
//! # Memory
//!
//! Memory is reserved, not measured: each connection reserves
//! [`ResourceLimits::conn_memory`] (its read buffer, yamux write buffer and security-layer
//! frames) and each stream [`ResourceLimits::stream_memory`] (the receive window a remote may
//! fill without our reading: yamux's initial 256 KiB). Reservations count against the system
//! and the peer budgets. A stream whose window auto-tunes beyond the initial one is bounded by
//! yamux's own per-connection window budget, not by these figures.
//!
//! The accounting is plain code under one mutex, without I/O, so it is tested without sockets
//! (`resource/tests.rs`).

#[cfg(test)]
mod tests;

use std::collections::HashMap;
use std::fmt;
use std::net::IpAddr;
use std::sync::{Arc, Mutex, MutexGuard};

use peernet_core::PeerId;

use crate::ids::Direction;

/// Default number of inbound upgrades (security handshakes) in progress at once: what each
/// listener's upgrader runs, and the node-wide [`ResourceLimits::inbound_handshakes`].
pub const DEFAULT_MAX_INBOUND_UPGRADES: usize = 64;

/// Limits on one kind of resource in one scope, by direction.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DirLimits {
    /// Most opened by the remote side.
    pub inbound: usize,
    /// Most opened by us.
    pub outbound: usize,
    /// Most in both directions together.
    pub total: usize,
}

impl DirLimits {
    /// No limit in any direction.
    pub const UNLIMITED: DirLimits = DirLimits {
        inbound: usize::MAX,
        outbound: usize::MAX,
        total: usize::MAX,
    };

    fn get(&self, direction: Direction) -> usize {
        match direction {
            Direction::Inbound => self.inbound,
            Direction::Outbound => self.outbound,
        }
    }
}

/// What a [`ResourceManager`] allows at once. Plain data: change any field.
///
/// The defaults are go-libp2p's `DefaultLimits` scaled for 1 GiB of memory (what its
/// `AutoScale` picks on a machine with 8 GiB), plus go's per-IP connection limit and our
/// listeners' inbound handshake limit. [`ResourceLimits::unlimited`] switches every limit off.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResourceLimits {
    /// Connections of the whole node. Default 128 inbound, 256 outbound, 256 in total.
    pub system_conns: DirLimits,
    /// Connections to one peer, checked once the handshake has authenticated it. Default 8, 8
    /// and 8 (go: as many as a dial may race).
    pub peer_conns: DirLimits,
    /// Inbound connections (handshakes included) from one IP address, checked before any
    /// handshake byte. Default 8 (go's per-/32 limit). Not applied to loopback addresses: see
    /// [`conns_per_loopback_ip`](Self::conns_per_loopback_ip).
    pub conns_per_ip: usize,
    /// Inbound connections from one loopback address. Default unlimited (go exempts
    /// loopback too).
    pub conns_per_loopback_ip: usize,
    /// Inbound security handshakes in progress across all listeners. Default
    /// [`DEFAULT_MAX_INBOUND_UPGRADES`] (64). Each
    /// listener also runs at most that many at once and leaves further connections waiting in
    /// the kernel; this limit refuses.
    pub inbound_handshakes: usize,
    /// Streams of the whole node. Default 2048 inbound, 4096 outbound, 4096 in total.
    pub system_streams: DirLimits,
    /// Streams with one peer, over all its connections. Default 384 inbound, 768 outbound,
    /// 768 in total.
    pub peer_streams: DirLimits,
    /// Streams on one connection. Default 256 inbound, 512 outbound, 512 in total (below
    /// yamux's own 512 inbound; QUIC allows the remote 256 at once).
    pub conn_streams: DirLimits,
    /// Streams of one protocol (all peers), checked once the protocol is negotiated. Default
    /// 768 inbound, 2560 outbound, 2560 in total.
    pub protocol_streams: DirLimits,
    /// Bytes of buffer memory reserved by all connections and streams. Default 1152 MiB.
    pub system_memory: usize,
    /// Bytes of buffer memory reserved by one peer's connections and streams. Default 192 MiB.
    pub peer_memory: usize,
    /// Bytes each connection reserves. Default 1 MiB (a 256 KiB read buffer, a 512 KiB yamux
    /// write buffer, and the security layer's frames).
    pub conn_memory: usize,
    /// Bytes each stream reserves. Default 256 KiB (yamux's initial receive window).
    pub stream_memory: usize,
}

impl Default for ResourceLimits {
    fn default() -> Self {
        const MIB: usize = 1 << 20;
        ResourceLimits {
            system_conns: DirLimits {
                inbound: 128,
                outbound: 256,
                total: 256,
            },
            peer_conns: DirLimits {
                inbound: 8,
                outbound: 8,
                total: 8,
            },
            conns_per_ip: 8,
            conns_per_loopback_ip: usize::MAX,
            inbound_handshakes: DEFAULT_MAX_INBOUND_UPGRADES,
            system_streams: DirLimits {
                inbound: 2048,
                outbound: 4096,
                total: 4096,
            },
            peer_streams: DirLimits {
                inbound: 384,
                outbound: 768,
                total: 768,
            },
            conn_streams: DirLimits {
                inbound: 256,
                outbound: 512,
                total: 512,
            },
            protocol_streams: DirLimits {
                inbound: 768,
                outbound: 2560,
                total: 2560,
            },
            system_memory: 1152 * MIB,
            peer_memory: 192 * MIB,
            conn_memory: MIB,
            stream_memory: 256 * 1024,
        }
    }
}

impl ResourceLimits {
    /// Every limit off (go's `InfiniteLimits`); usage is still counted.
    pub fn unlimited() -> Self {
        ResourceLimits {
            system_conns: DirLimits::UNLIMITED,
            peer_conns: DirLimits::UNLIMITED,
            conns_per_ip: usize::MAX,
            conns_per_loopback_ip: usize::MAX,
            inbound_handshakes: usize::MAX,
            system_streams: DirLimits::UNLIMITED,
            peer_streams: DirLimits::UNLIMITED,
            conn_streams: DirLimits::UNLIMITED,
            protocol_streams: DirLimits::UNLIMITED,
            system_memory: usize::MAX,
            peer_memory: usize::MAX,
            conn_memory: 0,
            stream_memory: 0,
        }
    }
}

/// Where a limit applies.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Scope {
    /// The whole node.
    System,
    /// One remote peer.
    Peer(PeerId),
    /// One remote IP address (inbound connections).
    Ip(IpAddr),
    /// One connection.
    Connection,
    /// One protocol, over all peers.
    Protocol(String),
}

impl fmt::Display for Scope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Scope::System => f.write_str("in total (system scope)"),
            Scope::Peer(peer) => write!(f, "per peer (peer {peer})"),
            Scope::Ip(ip) => write!(f, "per IP address ({ip})"),
            Scope::Connection => f.write_str("per connection"),
            Scope::Protocol(p) => write!(f, "per protocol ({p})"),
        }
    }
}

/// What a limit counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Resource {
    /// Connections the remote opened.
    InboundConnections,
    /// Connections we opened.
    OutboundConnections,
    /// Connections in both directions.
    Connections,
    /// Inbound security handshakes in progress.
    InboundHandshakes,
    /// Streams the remote opened.
    InboundStreams,
    /// Streams we opened.
    OutboundStreams,
    /// Streams in both directions.
    Streams,
    /// Bytes of buffer memory reserved.
    Memory,
}

impl fmt::Display for Resource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Resource::InboundConnections => "inbound connections",
            Resource::OutboundConnections => "outbound connections",
            Resource::Connections => "connections",
            Resource::InboundHandshakes => "inbound handshakes in progress",
            Resource::InboundStreams => "inbound streams",
            Resource::OutboundStreams => "outbound streams",
            Resource::Streams => "streams",
            Resource::Memory => "bytes of buffer memory",
        })
    }
}

/// A limit that was reached: scope, resource and configured value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Limit {
    /// Where the limit applies.
    pub scope: Scope,
    /// What it counts.
    pub resource: Resource,
    /// The configured maximum.
    pub max: usize,
}

impl fmt::Display for Limit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {} {}", self.max, self.resource, self.scope)
    }
}

/// Our own resource limit refused a new connection, stream or handshake (local policy, not
/// the remote's doing; the remote may be flooding us, or we opened too much ourselves).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("local resource limit: {limit} (limit reached)")]
pub struct ResourceError {
    /// The limit that would have been exceeded.
    pub limit: Limit,
}

impl ResourceError {
    /// Always [`Fault::Limit`](peernet_core::Fault::Limit): one of our own limits refused.
    pub fn fault(&self) -> peernet_core::Fault {
        peernet_core::Fault::Limit
    }
}

/// Current usage, from [`ResourceManager::stats`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ResourceStats {
    /// Inbound connections (handshakes included).
    pub conns_inbound: usize,
    /// Outbound connections (handshakes included).
    pub conns_outbound: usize,
    /// Inbound handshakes in progress.
    pub inbound_handshakes: usize,
    /// Inbound streams.
    pub streams_inbound: usize,
    /// Outbound streams.
    pub streams_outbound: usize,
    /// Bytes of buffer memory reserved.
    pub memory: usize,
    /// Peers holding at least one connection or stream permit.
    pub peers: usize,
    /// Remote IP addresses with inbound connections.
    pub ips: usize,
    /// Protocols with at least one stream.
    pub protocols: usize,
}

/// Counts by direction.
#[derive(Debug, Clone, Copy, Default)]
struct Count {
    inbound: usize,
    outbound: usize,
}

impl Count {
    fn get(&self, direction: Direction) -> usize {
        match direction {
            Direction::Inbound => self.inbound,
            Direction::Outbound => self.outbound,
        }
    }

    fn total(&self) -> usize {
        self.inbound.saturating_add(self.outbound)
    }

    fn is_zero(&self) -> bool {
        self.total() == 0
    }

    fn add(&mut self, direction: Direction) {
        match direction {
            Direction::Inbound => self.inbound = self.inbound.saturating_add(1),
            Direction::Outbound => self.outbound = self.outbound.saturating_add(1),
        }
    }

    fn sub(&mut self, direction: Direction) {
        match direction {
            Direction::Inbound => self.inbound = self.inbound.saturating_sub(1),
            Direction::Outbound => self.outbound = self.outbound.saturating_sub(1),
        }
    }

    /// Whether one more in `direction` fits `limits`; otherwise the limit it would exceed.
    fn check(
        &self,
        direction: Direction,
        limits: &DirLimits,
        scope: impl Fn() -> Scope,
        streams: bool,
    ) -> Result<(), ResourceError> {
        let (dir_resource, total_resource) = match (streams, direction) {
            (false, Direction::Inbound) => (Resource::InboundConnections, Resource::Connections),
            (false, Direction::Outbound) => (Resource::OutboundConnections, Resource::Connections),
            (true, Direction::Inbound) => (Resource::InboundStreams, Resource::Streams),
            (true, Direction::Outbound) => (Resource::OutboundStreams, Resource::Streams),
        };
        if self.get(direction) >= limits.get(direction) {
            return Err(refuse(scope(), dir_resource, limits.get(direction)));
        }
        if self.total() >= limits.total {
            return Err(refuse(scope(), total_resource, limits.total));
        }
        Ok(())
    }
}

fn refuse(scope: Scope, resource: Resource, max: usize) -> ResourceError {
    ResourceError {
        limit: Limit {
            scope,
            resource,
            max,
        },
    }
}

/// Whether `amount` more bytes fit `used` under `max`.
fn check_memory(
    used: usize,
    amount: usize,
    max: usize,
    scope: impl Fn() -> Scope,
) -> Result<(), ResourceError> {
    if amount > 0 && used.saturating_add(amount) > max {
        return Err(refuse(scope(), Resource::Memory, max));
    }
    Ok(())
}

#[derive(Debug, Default)]
struct PeerUsage {
    conns: Count,
    streams: Count,
    memory: usize,
}

impl PeerUsage {
    fn is_idle(&self) -> bool {
        self.conns.is_zero() && self.streams.is_zero() && self.memory == 0
    }
}

#[derive(Debug, Default)]
struct Usage {
    conns: Count,
    handshakes: usize,
    streams: Count,
    memory: usize,
    peers: HashMap<PeerId, PeerUsage>,
    ips: HashMap<IpAddr, usize>,
    /// Streams by connection permit.
    conn_streams: HashMap<u64, Count>,
    protocols: HashMap<String, Count>,
    next_conn: u64,
}

impl Usage {
    fn peer_mut(&mut self, peer: &PeerId) -> &mut PeerUsage {
        self.peers.entry(peer.clone()).or_default()
    }

    fn forget_peer_if_idle(&mut self, peer: &PeerId) {
        if self.peers.get(peer).is_some_and(PeerUsage::is_idle) {
            self.peers.remove(peer);
        }
    }
}

#[derive(Debug)]
struct Shared {
    limits: ResourceLimits,
    usage: Mutex<Usage>,
}

/// Counts connections, streams, handshakes and buffer memory against [`ResourceLimits`].
/// Cheap to clone: clones share the counts.
///
/// A [`Swarm`](crate::Swarm) owns one (from [`SwarmConfig::limits`](crate::SwarmConfig)) and
/// installs it into the upgrader of each transport it is given, so inbound connections are
/// refused before their handshake (per IP, handshakes, inbound connections) and once the peer
/// is known (per peer).
#[derive(Debug, Clone)]
pub struct ResourceManager {
    shared: Arc<Shared>,
}

impl Default for ResourceManager {
    fn default() -> Self {
        ResourceManager::new(ResourceLimits::default())
    }
}

impl ResourceManager {
    /// A manager enforcing `limits`, with nothing in use.
    pub fn new(limits: ResourceLimits) -> ResourceManager {
        ResourceManager {
            shared: Arc::new(Shared {
                limits,
                usage: Mutex::default(),
            }),
        }
    }

    /// The limits enforced.
    pub fn limits(&self) -> &ResourceLimits {
        &self.shared.limits
    }

    fn usage(&self) -> MutexGuard<'_, Usage> {
        self.shared.usage.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// What is in use now.
    pub fn stats(&self) -> ResourceStats {
        let u = self.usage();
        ResourceStats {
            conns_inbound: u.conns.inbound,
            conns_outbound: u.conns.outbound,
            inbound_handshakes: u.handshakes,
            streams_inbound: u.streams.inbound,
            streams_outbound: u.streams.outbound,
            memory: u.memory,
            peers: u.peers.len(),
            ips: u.ips.len(),
            protocols: u.protocols.len(),
        }
    }

    /// Admits a new connection before its handshake (go's `OpenConnection`): checks the
    /// system's connections and memory, and for an inbound one the handshakes in progress and
    /// the connections from `remote_ip`. An inbound permit holds a handshake slot until
    /// [`ConnPermit::handshake_done`].
    pub fn open_connection(
        &self,
        direction: Direction,
        remote_ip: Option<IpAddr>,
    ) -> Result<ConnPermit, ResourceError> {
        let limits = &self.shared.limits;
        let mut u = self.usage();
        let inbound = direction == Direction::Inbound;
        let ip = remote_ip.filter(|_| inbound);
        if inbound && u.handshakes >= limits.inbound_handshakes {
            return Err(refuse(
                Scope::System,
                Resource::InboundHandshakes,
                limits.inbound_handshakes,
            ));
        }
        if let Some(ip) = ip {
            let max = if ip.is_loopback() {
                limits.conns_per_loopback_ip
            } else {
                limits.conns_per_ip
            };
            if u.ips.get(&ip).copied().unwrap_or(0) >= max {
                return Err(refuse(Scope::Ip(ip), Resource::InboundConnections, max));
            }
        }
        u.conns
            .check(direction, &limits.system_conns, || Scope::System, false)?;
        check_memory(u.memory, limits.conn_memory, limits.system_memory, || {
            Scope::System
        })?;
        u.conns.add(direction);
        u.memory = u.memory.saturating_add(limits.conn_memory);
        if inbound {
            u.handshakes = u.handshakes.saturating_add(1);
        }
        if let Some(ip) = ip {
            let n = u.ips.entry(ip).or_default();
            *n = n.saturating_add(1);
        }
        let key = u.next_conn;
        u.next_conn = u.next_conn.wrapping_add(1);
        Ok(ConnPermit {
            manager: self.clone(),
            key,
            direction,
            ip,
            peer: None,
            handshake: inbound,
        })
    }

    /// Whether a connection to `peer` could be dialed now: the same checks as
    /// [`open_connection`](Self::open_connection) and [`ConnPermit::set_peer`] for an
    /// outbound connection, without keeping anything. The swarm asks before dialing, so a
    /// refused dial sends nothing.
    pub fn check_dial(&self, peer: &PeerId) -> Result<(), ResourceError> {
        let mut permit = self.open_connection(Direction::Outbound, None)?;
        permit.set_peer(peer)
    }
}

/// A connection's hold on the manager: one connection in the system scope (and the IP scope
/// for inbound), its memory reservation, a handshake slot until the handshake ends, and once
/// the peer is known one connection in the peer scope. Dropping it gives everything back.
#[derive(Debug)]
pub struct ConnPermit {
    manager: ResourceManager,
    key: u64,
    direction: Direction,
    ip: Option<IpAddr>,
    peer: Option<PeerId>,
    handshake: bool,
}

impl ConnPermit {
    /// Who opened the connection.
    pub fn direction(&self) -> Direction {
        self.direction
    }

    /// The peer, once [`set_peer`](Self::set_peer) accepted it.
    pub fn peer(&self) -> Option<&PeerId> {
        self.peer.as_ref()
    }

    /// The manager this permit belongs to.
    pub fn manager(&self) -> &ResourceManager {
        &self.manager
    }

    /// Moves the connection into `peer`'s scope once the handshake has authenticated it (go's
    /// `SetPeer`): checks the peer's connections and memory. On refusal the permit stays as it
    /// was (drop it to release the connection). Once a peer is set, later calls do nothing.
    pub fn set_peer(&mut self, peer: &PeerId) -> Result<(), ResourceError> {
        if self.peer.is_some() {
            return Ok(());
        }
        let limits = &self.manager.shared.limits;
        let mut u = self.manager.usage();
        let (conns, memory) = u
            .peers
            .get(peer)
            .map(|p| (p.conns, p.memory))
            .unwrap_or_default();
        conns.check(
            self.direction,
            &limits.peer_conns,
            || Scope::Peer(peer.clone()),
            false,
        )?;
        check_memory(memory, limits.conn_memory, limits.peer_memory, || {
            Scope::Peer(peer.clone())
        })?;
        let p = u.peer_mut(peer);
        p.conns.add(self.direction);
        p.memory = p.memory.saturating_add(limits.conn_memory);
        self.peer = Some(peer.clone());
        Ok(())
    }

    /// Gives back the handshake slot: the connection is established (or failed; dropping
    /// does it too).
    pub fn handshake_done(&mut self) {
        if std::mem::take(&mut self.handshake) {
            let mut u = self.manager.usage();
            u.handshakes = u.handshakes.saturating_sub(1);
        }
    }

    /// Admits a new stream on this connection (go's `OpenStream`): checks the system's, the
    /// peer's (once known) and this connection's streams, and the system's and peer's memory.
    pub fn open_stream(&self, direction: Direction) -> Result<StreamPermit, ResourceError> {
        let limits = &self.manager.shared.limits;
        let mut u = self.manager.usage();
        u.streams
            .check(direction, &limits.system_streams, || Scope::System, true)?;
        if let Some(peer) = &self.peer {
            let (streams, memory) = u
                .peers
                .get(peer)
                .map(|p| (p.streams, p.memory))
                .unwrap_or_default();
            streams.check(
                direction,
                &limits.peer_streams,
                || Scope::Peer(peer.clone()),
                true,
            )?;
            check_memory(memory, limits.stream_memory, limits.peer_memory, || {
                Scope::Peer(peer.clone())
            })?;
        }
        let on_conn = u.conn_streams.get(&self.key).copied().unwrap_or_default();
        on_conn.check(direction, &limits.conn_streams, || Scope::Connection, true)?;
        check_memory(u.memory, limits.stream_memory, limits.system_memory, || {
            Scope::System
        })?;
        u.streams.add(direction);
        u.memory = u.memory.saturating_add(limits.stream_memory);
        u.conn_streams.entry(self.key).or_default().add(direction);
        if let Some(peer) = &self.peer {
            let p = u.peer_mut(peer);
            p.streams.add(direction);
            p.memory = p.memory.saturating_add(limits.stream_memory);
        }
        Ok(StreamPermit {
            manager: self.manager.clone(),
            conn: self.key,
            direction,
            peer: self.peer.clone(),
            protocol: None,
        })
    }
}

impl Drop for ConnPermit {
    fn drop(&mut self) {
        let conn_memory = self.manager.shared.limits.conn_memory;
        let mut u = self.manager.usage();
        if self.handshake {
            u.handshakes = u.handshakes.saturating_sub(1);
        }
        u.conns.sub(self.direction);
        u.memory = u.memory.saturating_sub(conn_memory);
        if let Some(ip) = self.ip {
            if let Some(n) = u.ips.get_mut(&ip) {
                *n = n.saturating_sub(1);
                if *n == 0 {
                    u.ips.remove(&ip);
                }
            }
        }
        if let Some(peer) = &self.peer {
            if let Some(p) = u.peers.get_mut(peer) {
                p.conns.sub(self.direction);
                p.memory = p.memory.saturating_sub(conn_memory);
            }
            u.forget_peer_if_idle(peer);
        }
    }
}

/// A stream's hold on the manager: one stream in the system, peer and connection scopes, its
/// memory reservation, and once negotiated one stream in its protocol's scope. Dropping it
/// gives everything back.
#[derive(Debug)]
pub struct StreamPermit {
    manager: ResourceManager,
    conn: u64,
    direction: Direction,
    peer: Option<PeerId>,
    protocol: Option<String>,
}

impl StreamPermit {
    /// Who opened the stream.
    pub fn direction(&self) -> Direction {
        self.direction
    }

    /// The protocol, once [`set_protocol`](Self::set_protocol) accepted it.
    pub fn protocol(&self) -> Option<&str> {
        self.protocol.as_deref()
    }

    /// Moves the stream into `protocol`'s scope once negotiated (go's `SetProtocol`): checks
    /// the protocol's streams. Setting it again moves it (the old protocol's count is given
    /// back first).
    pub fn set_protocol(&mut self, protocol: &str) -> Result<(), ResourceError> {
        if self.protocol.as_deref() == Some(protocol) {
            return Ok(());
        }
        let limits = &self.manager.shared.limits;
        let mut u = self.manager.usage();
        let count = u.protocols.get(protocol).copied().unwrap_or_default();
        count.check(
            self.direction,
            &limits.protocol_streams,
            || Scope::Protocol(protocol.to_owned()),
            true,
        )?;
        if let Some(old) = self.protocol.take() {
            release_protocol(&mut u, &old, self.direction);
        }
        u.protocols
            .entry(protocol.to_owned())
            .or_default()
            .add(self.direction);
        self.protocol = Some(protocol.to_owned());
        Ok(())
    }
}

fn release_protocol(u: &mut Usage, protocol: &str, direction: Direction) {
    if let Some(c) = u.protocols.get_mut(protocol) {
        c.sub(direction);
        if c.is_zero() {
            u.protocols.remove(protocol);
        }
    }
}

impl Drop for StreamPermit {
    fn drop(&mut self) {
        let stream_memory = self.manager.shared.limits.stream_memory;
        let mut u = self.manager.usage();
        u.streams.sub(self.direction);
        u.memory = u.memory.saturating_sub(stream_memory);
        if let Some(c) = u.conn_streams.get_mut(&self.conn) {
            c.sub(self.direction);
            if c.is_zero() {
                u.conn_streams.remove(&self.conn);
            }
        }
        if let Some(peer) = &self.peer {
            if let Some(p) = u.peers.get_mut(peer) {
                p.streams.sub(self.direction);
                p.memory = p.memory.saturating_sub(stream_memory);
            }
            u.forget_peer_if_idle(peer);
        }
        if let Some(protocol) = &self.protocol {
            release_protocol(&mut u, protocol, self.direction);
        }
    }
}
