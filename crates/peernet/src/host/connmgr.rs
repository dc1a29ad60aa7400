//! The connection manager (go-libp2p's `connmgr.BasicConnMgr`): when a host holds more than
//! the high watermark of connections, it closes the connections of the least valuable peers
//! until the low watermark is reached. Peers are valued by the sum of their tags; protected
//! peers and connections younger than the grace period are spared.
//!
//! The decision ([`ConnManager::trim_plan`]) is a pure function of the connections and `now`;
//! the host runs it when a connection arrives and closes what it returns.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use peernet_core::PeerId;

/// Settings of a [`ConnManager`] (go-libp2p's defaults).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConnManagerConfig {
    /// Trimming stops at this many connections (default 160).
    pub low_water: usize,
    /// Trimming starts above this many connections (default 192).
    pub high_water: usize,
    /// Connections younger than this are never trimmed (default 1 minute).
    pub grace_period: Duration,
}

impl Default for ConnManagerConfig {
    fn default() -> Self {
        ConnManagerConfig {
            low_water: 160,
            high_water: 192,
            grace_period: Duration::from_secs(60),
        }
    }
}

/// One live connection, as the trim decision sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConnSnapshot {
    /// The remote peer.
    pub peer: PeerId,
    /// When the connection was established.
    pub opened_at: Instant,
}

#[derive(Debug, Default)]
struct State {
    protected: HashMap<PeerId, HashSet<String>>,
    tags: HashMap<PeerId, HashMap<String, i64>>,
}

/// Tags, protections and the trim decision. Cheap to clone: clones share the same state.
#[derive(Debug, Clone, Default)]
pub struct ConnManager {
    config: ConnManagerConfig,
    state: Arc<Mutex<State>>,
}

impl ConnManager {
    /// A manager with `config`.
    pub fn new(config: ConnManagerConfig) -> ConnManager {
        ConnManager {
            config,
            state: Arc::default(),
        }
    }

    /// The settings.
    pub fn config(&self) -> &ConnManagerConfig {
        &self.config
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Protects `peer`'s connections from trimming under `tag` (several tags may protect one
    /// peer; it stays protected until every tag is removed).
    pub fn protect(&self, peer: &PeerId, tag: &str) {
        self.lock()
            .protected
            .entry(peer.clone())
            .or_default()
            .insert(tag.to_owned());
    }

    /// Removes the protection `tag`; returns whether `peer` is still protected by another tag.
    pub fn unprotect(&self, peer: &PeerId, tag: &str) -> bool {
        let mut st = self.lock();
        let Some(tags) = st.protected.get_mut(peer) else {
            return false;
        };
        tags.remove(tag);
        if tags.is_empty() {
            st.protected.remove(peer);
            return false;
        }
        true
    }

    /// Whether `peer` is protected by `tag` (by any tag when `tag` is `None`).
    pub fn is_protected(&self, peer: &PeerId, tag: Option<&str>) -> bool {
        let st = self.lock();
        match (st.protected.get(peer), tag) {
            (Some(tags), Some(t)) => tags.contains(t),
            (Some(tags), None) => !tags.is_empty(),
            (None, _) => false,
        }
    }

    /// Sets the value of `tag` on `peer`; a peer's value is the sum of its tags.
    pub fn tag_peer(&self, peer: &PeerId, tag: &str, value: i64) {
        self.lock()
            .tags
            .entry(peer.clone())
            .or_default()
            .insert(tag.to_owned(), value);
    }

    /// Removes `tag` from `peer`.
    pub fn untag_peer(&self, peer: &PeerId, tag: &str) {
        let mut st = self.lock();
        if let Some(tags) = st.tags.get_mut(peer) {
            tags.remove(tag);
            if tags.is_empty() {
                st.tags.remove(peer);
            }
        }
    }

    /// The value of `peer`: the sum of its tags.
    pub fn peer_value(&self, peer: &PeerId) -> i64 {
        self.lock()
            .tags
            .get(peer)
            .map(|t| t.values().fold(0i64, |a, v| a.saturating_add(*v)))
            .unwrap_or(0)
    }

    /// Forgets tags and protections of a peer that is gone.
    pub fn forget(&self, peer: &PeerId) {
        let mut st = self.lock();
        st.tags.remove(peer);
    }

    /// The peers whose connections to close at `now` so that at most `low_water` remain,
    /// when more than `high_water` are open: unprotected peers whose connections are all past
    /// the grace period, least valuable first (ties: fewer connections first). Empty when at or
    /// below the high watermark.
    pub fn trim_plan(&self, conns: &[ConnSnapshot], now: Instant) -> Vec<PeerId> {
        if conns.len() <= self.config.high_water {
            return Vec::new();
        }
        let mut per_peer: HashMap<&PeerId, (usize, bool)> = HashMap::new();
        for c in conns {
            let young = now.saturating_duration_since(c.opened_at) < self.config.grace_period;
            let e = per_peer.entry(&c.peer).or_insert((0, false));
            e.0 += 1;
            e.1 |= young;
        }
        let mut candidates: Vec<(i64, usize, &PeerId)> = per_peer
            .into_iter()
            .filter(|(peer, (_, young))| !young && !self.is_protected(peer, None))
            .map(|(peer, (n, _))| (self.peer_value(peer), n, peer))
            .collect();
        candidates.sort();
        let mut to_close = conns.len().saturating_sub(self.config.low_water);
        let mut plan = Vec::new();
        for (_, n, peer) in candidates {
            if to_close == 0 {
                break;
            }
            plan.push(peer.clone());
            to_close = to_close.saturating_sub(n);
        }
        plan
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mgr(low: usize, high: usize) -> ConnManager {
        ConnManager::new(ConnManagerConfig {
            low_water: low,
            high_water: high,
            grace_period: Duration::from_secs(60),
        })
    }

    #[test]
    fn trims_to_the_low_watermark_sparing_protected_valuable_and_young() {
        let t0 = Instant::now();
        let m = mgr(3, 5);
        let peers: Vec<PeerId> = (0..8).map(|_| PeerId::random()).collect();
        let mut conns: Vec<ConnSnapshot> = peers
            .iter()
            .map(|p| ConnSnapshot {
                peer: p.clone(),
                opened_at: t0,
            })
            .collect();
        let now = t0 + Duration::from_secs(120);
        // At the high watermark nothing happens.
        assert!(m.trim_plan(conns.get(..5).unwrap(), now).is_empty());

        m.protect(&peers[0], "keep");
        m.tag_peer(&peers[1], "useful", 100);
        conns[2].opened_at = now - Duration::from_secs(1); // young
        let plan = m.trim_plan(&conns, now);
        assert_eq!(plan.len(), 5, "8 connections trimmed to 3");
        for spared in &peers[..3] {
            assert!(!plan.contains(spared));
        }

        // Once the protection is gone and the tag counts less, they are candidates.
        assert!(!m.unprotect(&peers[0], "keep"));
        m.tag_peer(&peers[3], "more", 200);
        let plan = m.trim_plan(&conns, now);
        assert!(plan.contains(&peers[0]));
        assert!(!plan.contains(&peers[3]));
    }

    #[test]
    fn protection_needs_every_tag_removed() {
        let m = mgr(1, 2);
        let p = PeerId::random();
        m.protect(&p, "a");
        m.protect(&p, "b");
        assert!(m.unprotect(&p, "a"));
        assert!(m.is_protected(&p, Some("b")));
        assert!(!m.unprotect(&p, "b"));
        assert!(!m.is_protected(&p, None));
    }
}
