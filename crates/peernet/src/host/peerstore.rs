//! What a host knows about other peers (go-libp2p's `pstoremem`): addresses with time to live,
//! public keys, protocols, versions and latency. In memory and bounded.
//!
//! Time comes from a clock the peerstore is given ([`Peerstore::with_clock`]), so tests move
//! it by hand; [`Peerstore::new`] uses the system clock.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use peernet_core::identify::SignedPeerRecord;
use peernet_core::{Multiaddr, PeerId, PublicKey};

/// How long an address stays known (go-libp2p's `peerstore` TTL constants).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AddrTtl {
    /// Never expires (go's `PermanentAddrTTL`): addresses the user gave.
    Permanent,
    /// Kept while we are connected to the peer (go's `ConnectedAddrTTL`); on disconnect the
    /// host turns these into [`AddrTtl::RecentlyConnected`].
    Connected,
    /// [`RECENTLY_CONNECTED_TTL`] after the last connection closed.
    RecentlyConnected,
    /// [`TEMP_TTL`]: addresses of unknown worth (go's `TempAddrTTL`).
    Temporary,
    /// A custom time to live.
    For(Duration),
}

/// Time to live of [`AddrTtl::RecentlyConnected`] (go: 15 minutes).
pub const RECENTLY_CONNECTED_TTL: Duration = Duration::from_secs(15 * 60);
/// Time to live of [`AddrTtl::Temporary`] (go: 2 minutes).
pub const TEMP_TTL: Duration = Duration::from_secs(2 * 60);

impl AddrTtl {
    /// When an address added at `now` expires; `None` for never (or not while connected).
    fn expiry(self, now: Instant) -> Option<Instant> {
        match self {
            AddrTtl::Permanent | AddrTtl::Connected => None,
            AddrTtl::RecentlyConnected => now.checked_add(RECENTLY_CONNECTED_TTL),
            AddrTtl::Temporary => now.checked_add(TEMP_TTL),
            AddrTtl::For(d) => now.checked_add(d),
        }
    }

    /// Rank for "the longer one wins" when an address is added again.
    fn rank(self) -> (u8, Duration) {
        match self {
            AddrTtl::Permanent => (3, Duration::ZERO),
            AddrTtl::Connected => (2, Duration::ZERO),
            AddrTtl::RecentlyConnected => (1, RECENTLY_CONNECTED_TTL),
            AddrTtl::Temporary => (1, TEMP_TTL),
            AddrTtl::For(d) => (1, d),
        }
    }
}

/// Caps on what a [`Peerstore`] holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PeerstoreLimits {
    /// Most peers known at once (default 10 000). When full, peers with nothing unexpired are
    /// dropped first; a new peer is refused if none can be.
    pub max_peers: usize,
    /// Most addresses per peer (default 64); further ones are ignored.
    pub max_addrs_per_peer: usize,
    /// Most protocols per peer (default 256).
    pub max_protocols_per_peer: usize,
}

impl Default for PeerstoreLimits {
    fn default() -> Self {
        PeerstoreLimits {
            max_peers: 10_000,
            max_addrs_per_peer: 64,
            max_protocols_per_peer: 256,
        }
    }
}

/// Why the peerstore refused something.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PeerstoreError {
    /// The peerstore holds [`PeerstoreLimits::max_peers`] peers with live data (local limit).
    #[error("peerstore full: {max} peers")]
    Full {
        /// The limit.
        max: usize,
    },
    /// The public key is not the key of the peer id (the remote's fault if it came from the
    /// network).
    #[error("public key does not match peer {0}")]
    KeyMismatch(PeerId),
    /// A signed peer record was offered for another peer than the one it is stored under
    /// (the remote's fault if it came from the network).
    #[error("the signed peer record of {record} was offered as {peer}'s")]
    RecordMismatch {
        /// The peer it was offered for.
        peer: PeerId,
        /// The peer the record speaks for.
        record: PeerId,
    },
}

impl PeerstoreError {
    /// Who was at fault: our limit for a full peerstore; the remote for a key or record that
    /// is not the peer's (when it came from the network, as it does through identify).
    pub fn fault(&self) -> peernet_core::Fault {
        use peernet_core::Fault;
        match self {
            PeerstoreError::Full { .. } => Fault::Limit,
            PeerstoreError::KeyMismatch(_) | PeerstoreError::RecordMismatch { .. } => Fault::Remote,
        }
    }
}

/// What [`Peerstore::consume_peer_record`] did with a signed peer record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RecordOutcome {
    /// The record is newer than the one held (or the first): it is now the peer's, and its
    /// addresses replaced those of the previous record.
    Accepted,
    /// A record with this sequence number or a higher one is already held: nothing changed.
    Stale {
        /// The sequence number held.
        held: u64,
    },
}

#[derive(Debug, Clone)]
struct AddrEntry {
    addr: Multiaddr,
    ttl: AddrTtl,
    expires: Option<Instant>,
}

#[derive(Debug, Default)]
struct PeerData {
    addrs: Vec<AddrEntry>,
    public_key: Option<PublicKey>,
    protocols: Vec<String>,
    agent_version: Option<String>,
    protocol_version: Option<String>,
    latency: Option<Duration>,
    /// The newest signed peer record seen (go's certified address book).
    record: Option<SignedPeerRecord>,
}

impl PeerData {
    fn prune(&mut self, now: Instant) {
        self.addrs.retain(|a| a.expires.is_none_or(|e| e > now));
    }

    fn is_empty(&self) -> bool {
        self.addrs.is_empty()
            && self.public_key.is_none()
            && self.protocols.is_empty()
            && self.agent_version.is_none()
            && self.protocol_version.is_none()
            && self.latency.is_none()
            && self.record.is_none()
    }
}

type Clock = Arc<dyn Fn() -> Instant + Send + Sync>;

/// An in-memory, bounded peerstore. Cheap to clone: clones share the same data.
#[derive(Clone)]
pub struct Peerstore {
    inner: Arc<Mutex<HashMap<PeerId, PeerData>>>,
    limits: PeerstoreLimits,
    clock: Clock,
}

impl std::fmt::Debug for Peerstore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Peerstore")
            .field("peers", &self.lock().len())
            .field("limits", &self.limits)
            .finish()
    }
}

/// Smoothing of the latency average (go's `LatencyEWMASmoothing`).
const LATENCY_SMOOTHING: f64 = 0.1;

impl Peerstore {
    /// An empty peerstore on the system clock.
    pub fn new(limits: PeerstoreLimits) -> Peerstore {
        Peerstore::with_clock(limits, Instant::now)
    }

    /// An empty peerstore reading time from `clock` (tests pass a simulated clock).
    pub fn with_clock(
        limits: PeerstoreLimits,
        clock: impl Fn() -> Instant + Send + Sync + 'static,
    ) -> Peerstore {
        Peerstore {
            inner: Arc::default(),
            limits,
            clock: Arc::new(clock),
        }
    }

    fn lock(&self) -> MutexGuard<'_, HashMap<PeerId, PeerData>> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The entry of `peer`, making room for it if it is new.
    fn entry<'a>(
        &self,
        map: &'a mut HashMap<PeerId, PeerData>,
        peer: &PeerId,
        now: Instant,
    ) -> Result<&'a mut PeerData, PeerstoreError> {
        if !map.contains_key(peer) && map.len() >= self.limits.max_peers {
            map.retain(|_, d| {
                d.prune(now);
                !d.is_empty()
            });
            if map.len() >= self.limits.max_peers {
                return Err(PeerstoreError::Full {
                    max: self.limits.max_peers,
                });
            }
        }
        Ok(map.entry(peer.clone()).or_default())
    }

    /// Adds addresses of `peer` (go's `AddAddrs`). An address already known keeps the longer
    /// of its two lifetimes. Addresses ending in `/p2p/<peer>` are stored without it.
    pub fn add_addrs(
        &self,
        peer: &PeerId,
        addrs: impl IntoIterator<Item = Multiaddr>,
        ttl: AddrTtl,
    ) -> Result<(), PeerstoreError> {
        let now = (self.clock)();
        let mut map = self.lock();
        let data = self.entry(&mut map, peer, now)?;
        data.prune(now);
        let expires = ttl.expiry(now);
        for addr in addrs {
            let addr = strip_p2p(addr);
            if let Some(known) = data.addrs.iter_mut().find(|a| a.addr == addr) {
                let longer = match (ttl.rank().0 == 1, known.ttl.rank().0 == 1) {
                    (true, true) => expires > known.expires,
                    _ => ttl.rank() > known.ttl.rank(),
                };
                if longer {
                    known.ttl = ttl;
                    known.expires = expires;
                }
            } else if data.addrs.len() < self.limits.max_addrs_per_peer {
                data.addrs.push(AddrEntry { addr, ttl, expires });
            }
        }
        Ok(())
    }

    /// Takes a verified signed peer record of `peer` (go's `ConsumePeerRecord`): kept if its
    /// sequence number is higher than that of the record held, its addresses then added with
    /// `ttl` and the previous record's addresses that it no longer lists removed. An older or
    /// equal record changes nothing, so a replayed record cannot bring back stale addresses.
    ///
    /// # Errors
    ///
    /// [`PeerstoreError::RecordMismatch`] if the record is another peer's;
    /// [`PeerstoreError::Full`] as for [`add_addrs`](Self::add_addrs).
    pub fn consume_peer_record(
        &self,
        peer: &PeerId,
        record: &SignedPeerRecord,
        ttl: AddrTtl,
    ) -> Result<RecordOutcome, PeerstoreError> {
        if &record.record.peer_id != peer {
            return Err(PeerstoreError::RecordMismatch {
                peer: peer.clone(),
                record: record.record.peer_id.clone(),
            });
        }
        let addrs: Vec<Multiaddr> = record
            .record
            .addresses
            .iter()
            .filter_map(|a| Multiaddr::from_bytes(a).ok())
            .map(strip_p2p)
            .collect();
        {
            let now = (self.clock)();
            let mut map = self.lock();
            let data = self.entry(&mut map, peer, now)?;
            if let Some(held) = &data.record {
                if held.record.seq >= record.record.seq {
                    return Ok(RecordOutcome::Stale {
                        held: held.record.seq,
                    });
                }
                let dropped: Vec<Multiaddr> = held
                    .record
                    .addresses
                    .iter()
                    .filter_map(|a| Multiaddr::from_bytes(a).ok())
                    .map(strip_p2p)
                    .filter(|a| !addrs.contains(a))
                    .collect();
                data.addrs.retain(|a| !dropped.contains(&a.addr));
            }
            data.record = Some(record.clone());
        }
        self.add_addrs(peer, addrs, ttl)?;
        Ok(RecordOutcome::Accepted)
    }

    /// The newest signed peer record held for `peer`, to forward as is.
    pub fn peer_record(&self, peer: &PeerId) -> Option<SignedPeerRecord> {
        self.lock().get(peer).and_then(|d| d.record.clone())
    }

    /// Sets the lifetime of the given addresses of `peer`, replacing what was known for them
    /// (go's `SetAddrs`); a zero [`AddrTtl::For`] removes them.
    pub fn set_addrs(
        &self,
        peer: &PeerId,
        addrs: impl IntoIterator<Item = Multiaddr>,
        ttl: AddrTtl,
    ) -> Result<(), PeerstoreError> {
        let now = (self.clock)();
        let mut map = self.lock();
        let data = self.entry(&mut map, peer, now)?;
        let expires = ttl.expiry(now);
        for addr in addrs {
            let addr = strip_p2p(addr);
            data.addrs.retain(|a| a.addr != addr);
            if ttl != AddrTtl::For(Duration::ZERO)
                && data.addrs.len() < self.limits.max_addrs_per_peer
            {
                data.addrs.push(AddrEntry { addr, ttl, expires });
            }
        }
        Ok(())
    }

    /// Gives every address of `peer` with lifetime `from` the lifetime `to`, counted from now
    /// (go's `UpdateAddrs`; the host turns `Connected` into `RecentlyConnected` on disconnect).
    pub fn update_addrs(&self, peer: &PeerId, from: AddrTtl, to: AddrTtl) {
        let now = (self.clock)();
        if let Some(data) = self.lock().get_mut(peer) {
            for a in data.addrs.iter_mut().filter(|a| a.ttl == from) {
                a.ttl = to;
                a.expires = to.expiry(now);
            }
            data.prune(now);
        }
    }

    /// Forgets every address of `peer`.
    pub fn clear_addrs(&self, peer: &PeerId) {
        if let Some(data) = self.lock().get_mut(peer) {
            data.addrs.clear();
        }
    }

    /// The unexpired addresses of `peer`, oldest first.
    pub fn addrs(&self, peer: &PeerId) -> Vec<Multiaddr> {
        let now = (self.clock)();
        let mut map = self.lock();
        let Some(data) = map.get_mut(peer) else {
            return Vec::new();
        };
        data.prune(now);
        data.addrs.iter().map(|a| a.addr.clone()).collect()
    }

    /// Records the public key of `peer`, refusing a key that is not the peer's.
    pub fn add_public_key(&self, peer: &PeerId, key: PublicKey) -> Result<(), PeerstoreError> {
        if !peer.is_public_key(&key) {
            return Err(PeerstoreError::KeyMismatch(peer.clone()));
        }
        let now = (self.clock)();
        let mut map = self.lock();
        self.entry(&mut map, peer, now)?.public_key = Some(key);
        Ok(())
    }

    /// The public key of `peer`: recorded, or inlined in its id (Ed25519, secp256k1).
    pub fn public_key(&self, peer: &PeerId) -> Option<PublicKey> {
        self.lock()
            .get(peer)
            .and_then(|d| d.public_key.clone())
            .or_else(|| peer.to_public_key())
    }

    /// Replaces the protocols `peer` supports (at most
    /// [`PeerstoreLimits::max_protocols_per_peer`] are kept).
    pub fn set_protocols(
        &self,
        peer: &PeerId,
        protocols: impl IntoIterator<Item = String>,
    ) -> Result<(), PeerstoreError> {
        let now = (self.clock)();
        let mut map = self.lock();
        let data = self.entry(&mut map, peer, now)?;
        data.protocols = protocols
            .into_iter()
            .take(self.limits.max_protocols_per_peer)
            .collect();
        Ok(())
    }

    /// The protocols `peer` is known to support.
    pub fn protocols(&self, peer: &PeerId) -> Vec<String> {
        self.lock()
            .get(peer)
            .map(|d| d.protocols.clone())
            .unwrap_or_default()
    }

    /// The first of `protocols` that `peer` is known to support (go's `FirstSupportedProtocol`).
    pub fn first_supported_protocol(&self, peer: &PeerId, protocols: &[&str]) -> Option<String> {
        let map = self.lock();
        let known = &map.get(peer)?.protocols;
        protocols
            .iter()
            .find(|p| known.iter().any(|k| k == *p))
            .map(|p| (*p).to_owned())
    }

    /// Records the agent and protocol versions `peer` announced.
    pub fn set_versions(
        &self,
        peer: &PeerId,
        agent_version: Option<String>,
        protocol_version: Option<String>,
    ) -> Result<(), PeerstoreError> {
        let now = (self.clock)();
        let mut map = self.lock();
        let data = self.entry(&mut map, peer, now)?;
        if agent_version.is_some() {
            data.agent_version = agent_version;
        }
        if protocol_version.is_some() {
            data.protocol_version = protocol_version;
        }
        Ok(())
    }

    /// The agent version `peer` announced (e.g. `go-libp2p/0.36.0`).
    pub fn agent_version(&self, peer: &PeerId) -> Option<String> {
        self.lock().get(peer).and_then(|d| d.agent_version.clone())
    }

    /// The protocol version `peer` announced (e.g. `ipfs/0.1.0`).
    pub fn protocol_version(&self, peer: &PeerId) -> Option<String> {
        self.lock()
            .get(peer)
            .and_then(|d| d.protocol_version.clone())
    }

    /// Records a latency sample of `peer` into its moving average (go's `RecordLatency`).
    pub fn record_latency(&self, peer: &PeerId, sample: Duration) -> Result<(), PeerstoreError> {
        let now = (self.clock)();
        let mut map = self.lock();
        let data = self.entry(&mut map, peer, now)?;
        data.latency = Some(match data.latency {
            None => sample,
            Some(avg) => avg.mul_f64(1.0 - LATENCY_SMOOTHING) + sample.mul_f64(LATENCY_SMOOTHING),
        });
        Ok(())
    }

    /// The moving average of `peer`'s latency.
    pub fn latency(&self, peer: &PeerId) -> Option<Duration> {
        self.lock().get(peer).and_then(|d| d.latency)
    }

    /// Peers with anything unexpired known about them.
    pub fn peers(&self) -> Vec<PeerId> {
        let now = (self.clock)();
        let mut map = self.lock();
        map.retain(|_, d| {
            d.prune(now);
            !d.is_empty()
        });
        map.keys().cloned().collect()
    }

    /// Forgets everything about `peer`.
    pub fn remove_peer(&self, peer: &PeerId) {
        self.lock().remove(peer);
    }
}

/// `addr` without a trailing `/p2p/<id>`.
fn strip_p2p(mut addr: Multiaddr) -> Multiaddr {
    if matches!(addr.last(), Some(peernet_core::Protocol::P2p(_))) {
        addr.pop();
    }
    addr
}

#[cfg(test)]
mod tests {
    use super::*;
    use peernet_core::Keypair;

    /// A clock tests move by hand.
    fn sim_clock() -> (Arc<Mutex<Instant>>, impl Fn() -> Instant + Send + Sync) {
        let t = Arc::new(Mutex::new(Instant::now()));
        let reader = t.clone();
        (t, move || *reader.lock().unwrap())
    }

    fn advance(t: &Mutex<Instant>, d: Duration) {
        let mut g = t.lock().unwrap();
        *g += d;
    }

    fn addr(port: u16) -> Multiaddr {
        format!("/ip4/10.0.0.1/tcp/{port}").parse().unwrap()
    }

    fn signed_record(key: &Keypair, seq: u64, ports: &[u16]) -> SignedPeerRecord {
        let record = peernet_core::identity::PeerRecord {
            peer_id: key.to_peer_id(),
            seq,
            addresses: ports.iter().map(|p| addr(*p).to_vec()).collect(),
        };
        let envelope = record.seal(key).unwrap();
        SignedPeerRecord { record, envelope }
    }

    #[test]
    fn only_newer_peer_records_are_taken_and_replace_the_old_addresses() {
        let ps = Peerstore::new(PeerstoreLimits::default());
        let key = Keypair::generate_ed25519();
        let peer = key.to_peer_id();
        ps.add_addrs(&peer, [addr(9)], AddrTtl::Permanent).unwrap();
        let first = signed_record(&key, 10, &[1, 2]);
        assert_eq!(
            ps.consume_peer_record(&peer, &first, AddrTtl::Connected),
            Ok(RecordOutcome::Accepted)
        );
        assert_eq!(ps.addrs(&peer), vec![addr(9), addr(1), addr(2)]);

        // A replay, or an older record, changes nothing.
        for seq in [10, 9] {
            let old = signed_record(&key, seq, &[7]);
            assert_eq!(
                ps.consume_peer_record(&peer, &old, AddrTtl::Connected),
                Ok(RecordOutcome::Stale { held: 10 })
            );
        }
        assert_eq!(ps.addrs(&peer), vec![addr(9), addr(1), addr(2)]);
        assert_eq!(ps.peer_record(&peer), Some(first));

        // A newer one drops what the previous record listed and it does not; other addresses
        // stay.
        let second = signed_record(&key, 11, &[2, 3]);
        assert_eq!(
            ps.consume_peer_record(&peer, &second, AddrTtl::Connected),
            Ok(RecordOutcome::Accepted)
        );
        assert_eq!(ps.addrs(&peer), vec![addr(9), addr(2), addr(3)]);
        assert_eq!(ps.peer_record(&peer).unwrap().record.seq, 11);

        // Someone else's record is refused.
        let other = Keypair::generate_ed25519();
        assert!(matches!(
            ps.consume_peer_record(&peer, &signed_record(&other, 99, &[4]), AddrTtl::Connected),
            Err(PeerstoreError::RecordMismatch { .. })
        ));
    }

    #[test]
    fn addresses_expire_by_their_ttl() {
        let (t, clock) = sim_clock();
        let ps = Peerstore::with_clock(PeerstoreLimits::default(), clock);
        let peer = PeerId::random();
        ps.add_addrs(&peer, [addr(1)], AddrTtl::Permanent).unwrap();
        ps.add_addrs(&peer, [addr(2)], AddrTtl::Temporary).unwrap();
        ps.add_addrs(&peer, [addr(3)], AddrTtl::RecentlyConnected)
            .unwrap();
        ps.add_addrs(&peer, [addr(4)], AddrTtl::Connected).unwrap();
        assert_eq!(ps.addrs(&peer).len(), 4);
        advance(&t, TEMP_TTL + Duration::from_secs(1));
        assert_eq!(ps.addrs(&peer), vec![addr(1), addr(3), addr(4)]);
        advance(&t, RECENTLY_CONNECTED_TTL);
        assert_eq!(ps.addrs(&peer), vec![addr(1), addr(4)]);
        // Disconnect: connected addresses become recently connected, then expire.
        ps.update_addrs(&peer, AddrTtl::Connected, AddrTtl::RecentlyConnected);
        advance(&t, RECENTLY_CONNECTED_TTL - Duration::from_secs(1));
        assert_eq!(ps.addrs(&peer), vec![addr(1), addr(4)]);
        advance(&t, Duration::from_secs(2));
        assert_eq!(ps.addrs(&peer), vec![addr(1)]);
    }

    #[test]
    fn adding_again_keeps_the_longer_ttl() {
        let (t, clock) = sim_clock();
        let ps = Peerstore::with_clock(PeerstoreLimits::default(), clock);
        let peer = PeerId::random();
        ps.add_addrs(&peer, [addr(1)], AddrTtl::Permanent).unwrap();
        ps.add_addrs(&peer, [addr(1)], AddrTtl::Temporary).unwrap();
        ps.add_addrs(&peer, [addr(2)], AddrTtl::Temporary).unwrap();
        ps.add_addrs(&peer, [addr(2)], AddrTtl::For(Duration::from_secs(1)))
            .unwrap();
        advance(&t, Duration::from_secs(60));
        assert_eq!(ps.addrs(&peer), vec![addr(1), addr(2)]);
        ps.set_addrs(&peer, [addr(2)], AddrTtl::For(Duration::ZERO))
            .unwrap();
        assert_eq!(ps.addrs(&peer), vec![addr(1)]);
    }

    #[test]
    fn limits_hold() {
        let (t, clock) = sim_clock();
        let limits = PeerstoreLimits {
            max_peers: 2,
            max_addrs_per_peer: 3,
            max_protocols_per_peer: 2,
        };
        let ps = Peerstore::with_clock(limits, clock);
        let (a, b, c) = (PeerId::random(), PeerId::random(), PeerId::random());
        ps.add_addrs(&a, (1..10).map(addr), AddrTtl::Temporary)
            .unwrap();
        assert_eq!(ps.addrs(&a).len(), 3);
        ps.set_protocols(&a, ["/a".into(), "/b".into(), "/c".into()])
            .unwrap();
        assert_eq!(ps.protocols(&a), vec!["/a", "/b"]);
        ps.add_addrs(&b, [addr(1)], AddrTtl::Temporary).unwrap();
        assert_eq!(
            ps.add_addrs(&c, [addr(1)], AddrTtl::Temporary),
            Err(PeerstoreError::Full { max: 2 })
        );
        // Once b's addresses expire, it makes room (a keeps its protocols).
        advance(&t, TEMP_TTL + Duration::from_secs(1));
        ps.add_addrs(&c, [addr(1)], AddrTtl::Temporary).unwrap();
        let mut peers = ps.peers();
        peers.sort();
        let mut expected = vec![a, c];
        expected.sort();
        assert_eq!(peers, expected);
    }

    #[test]
    fn keys_must_match_and_p2p_is_stripped() {
        let ps = Peerstore::new(PeerstoreLimits::default());
        let key = Keypair::ed25519_from_seed(1);
        let other = Keypair::ed25519_from_seed(2);
        let peer = key.to_peer_id();
        assert_eq!(
            ps.add_public_key(&peer, other.public().clone()),
            Err(PeerstoreError::KeyMismatch(peer.clone()))
        );
        ps.add_public_key(&peer, key.public().clone()).unwrap();
        assert_eq!(ps.public_key(&peer).as_ref(), Some(key.public()));
        let full: Multiaddr = format!("/ip4/10.0.0.1/tcp/1/p2p/{peer}").parse().unwrap();
        ps.add_addrs(&peer, [full], AddrTtl::Permanent).unwrap();
        assert_eq!(ps.addrs(&peer), vec![addr(1)]);
        ps.set_protocols(&peer, ["/x/1".into(), "/y/1".into()])
            .unwrap();
        assert_eq!(
            ps.first_supported_protocol(&peer, &["/z/1", "/y/1", "/x/1"]),
            Some("/y/1".into())
        );
        ps.record_latency(&peer, Duration::from_millis(100))
            .unwrap();
        ps.record_latency(&peer, Duration::from_millis(200))
            .unwrap();
        assert_eq!(ps.latency(&peer), Some(Duration::from_millis(110)));
    }
}
