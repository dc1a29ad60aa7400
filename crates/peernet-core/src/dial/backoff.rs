//! Dial backoff: after a failed dial, the same peer address is not dialed again for a while.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use super::{later, Multiaddr};
use crate::PeerId;

/// How long failed addresses are avoided. The defaults are go-libp2p's.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BackoffConfig {
    /// Backoff after the first failure (go's `BackoffBase`, 5 s).
    pub base: Duration,
    /// Multiplied by the square of the number of earlier failures (go's `BackoffCoef`, 1 s).
    pub coefficient: Duration,
    /// Upper bound on any backoff (go's `BackoffMax`, 5 min).
    pub max: Duration,
}

impl Default for BackoffConfig {
    fn default() -> Self {
        BackoffConfig {
            base: Duration::from_secs(5),
            coefficient: Duration::from_secs(1),
            max: Duration::from_secs(5 * 60),
        }
    }
}

/// One backed-off address.
#[derive(Debug, Clone, Copy)]
struct BackoffAddr {
    /// Failures recorded so far.
    tries: u32,
    /// The address may be dialed again from this instant.
    until: Instant,
}

/// Per-peer, per-address dial backoff. One per swarm, shared by all dial workers.
///
/// go-libp2p's `DialBackoff` (`p2p/net/swarm/swarm_dial.go`). Despite its name the growth is
/// quadratic, not exponential: the first failure backs off for [`BackoffConfig::base`], and each
/// later one for `base + coefficient × tries²`, capped at [`BackoffConfig::max`], where `tries`
/// counts the earlier failures. A connection to the peer clears all of its entries.
///
/// A driver calls [`add_backoff`](Self::add_backoff) through the dial worker (which does it
/// when a dial fails before the peer is connected), [`clear`](Self::clear) whenever a connection
/// to the peer is established (inbound ones too), and [`cleanup`](Self::cleanup) every few
/// minutes to drop expired entries.
#[derive(Debug, Clone, Default)]
pub struct DialBackoff {
    config: BackoffConfig,
    entries: HashMap<PeerId, HashMap<Multiaddr, BackoffAddr>>,
}

impl DialBackoff {
    /// An empty table with the given durations.
    pub fn new(config: BackoffConfig) -> Self {
        DialBackoff {
            config,
            entries: HashMap::new(),
        }
    }

    /// Whether `addr` of `peer` must not be dialed at `now`.
    pub fn is_backed_off(&self, peer: &PeerId, addr: &Multiaddr, now: Instant) -> bool {
        self.entries
            .get(peer)
            .and_then(|addrs| addrs.get(addr))
            .is_some_and(|b| now < b.until)
    }

    /// The instant from which `addr` of `peer` may be dialed again, if it is backed off at all
    /// (possibly already expired).
    pub fn backed_off_until(&self, peer: &PeerId, addr: &Multiaddr) -> Option<Instant> {
        self.entries.get(peer)?.get(addr).map(|b| b.until)
    }

    /// Records a failed dial of `addr` of `peer` at `now` (go's `AddBackoff`).
    pub fn add_backoff(&mut self, peer: &PeerId, addr: &Multiaddr, now: Instant) {
        let config = self.config;
        let addrs = self.entries.entry(peer.clone()).or_default();
        match addrs.get_mut(addr) {
            None => {
                addrs.insert(
                    addr.clone(),
                    BackoffAddr {
                        tries: 1,
                        until: later(now, config.base),
                    },
                );
            }
            Some(b) => {
                b.until = later(now, backoff_duration(&config, b.tries));
                b.tries = b.tries.saturating_add(1);
            }
        }
    }

    /// Forgets every backoff of `peer`; call it when a connection to the peer is established.
    pub fn clear(&mut self, peer: &PeerId) {
        self.entries.remove(peer);
    }

    /// Drops the peers none of whose entries matter any more at `now` (go's `cleanup`: an entry
    /// is kept until one more backoff period has passed after it expired, so that `tries`
    /// survives a quick retry).
    pub fn cleanup(&mut self, now: Instant) {
        let config = self.config;
        self.entries.retain(|_, addrs| {
            addrs
                .values()
                .any(|b| now < b.until + backoff_duration(&config, b.tries))
        });
    }

    /// Number of peers with at least one entry.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether no peer has an entry.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}

/// `min(base + coefficient × tries², max)`.
fn backoff_duration(config: &BackoffConfig, tries: u32) -> Duration {
    let squared = tries.saturating_mul(tries);
    config
        .base
        .saturating_add(config.coefficient.saturating_mul(squared))
        .min(config.max)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dial::tests::peer;

    fn ma(s: &str) -> Multiaddr {
        s.parse().unwrap()
    }

    #[test]
    fn backoff_blocks_grows_and_clears() {
        let start = Instant::now();
        let mut b = DialBackoff::default();
        let p = peer(1);
        let a = ma("/ip4/1.2.3.4/tcp/1");
        let other = ma("/ip4/1.2.3.4/tcp/2");
        assert!(!b.is_backed_off(&p, &a, start));

        b.add_backoff(&p, &a, start);
        assert!(b.is_backed_off(&p, &a, start));
        assert!(b.is_backed_off(&p, &a, start + Duration::from_millis(4999)));
        assert!(!b.is_backed_off(&p, &a, start + Duration::from_secs(5)));
        assert!(!b.is_backed_off(&p, &other, start));
        assert!(!b.is_backed_off(&peer(2), &a, start));

        // Second failure: 5 s + 1 s × 1².
        let t = start + Duration::from_secs(10);
        b.add_backoff(&p, &a, t);
        assert!(b.is_backed_off(&p, &a, t + Duration::from_millis(5999)));
        assert!(!b.is_backed_off(&p, &a, t + Duration::from_secs(6)));
        // Third failure: 5 s + 1 s × 2².
        b.add_backoff(&p, &a, t);
        assert_eq!(b.backed_off_until(&p, &a), Some(t + Duration::from_secs(9)));

        b.clear(&p);
        assert!(!b.is_backed_off(&p, &a, t));
        assert!(b.is_empty());
    }

    #[test]
    fn backoff_is_capped() {
        let now = Instant::now();
        let mut b = DialBackoff::default();
        let p = peer(1);
        let a = ma("/ip4/1.2.3.4/tcp/1");
        for _ in 0..100 {
            b.add_backoff(&p, &a, now);
        }
        assert_eq!(
            b.backed_off_until(&p, &a),
            Some(now + Duration::from_secs(300))
        );
    }

    #[test]
    fn cleanup_drops_long_expired_peers() {
        let now = Instant::now();
        let mut b = DialBackoff::default();
        b.add_backoff(&peer(1), &ma("/ip4/1.2.3.4/tcp/1"), now);
        b.cleanup(now + Duration::from_secs(6));
        assert_eq!(b.len(), 1, "kept for one more period after expiry");
        b.cleanup(now + Duration::from_secs(11));
        assert!(b.is_empty());
    }
}
