//! Black hole detection: stop dialing UDP or IPv6 addresses when the network drops them all.

use std::fmt;

use super::addr_class::AddrClass;
use super::Multiaddr;

/// Where a class of addresses stands (go's `BlackHoleState`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum BlackHoleState {
    /// Too few results to judge: dials are allowed and their outcomes recorded.
    Probing,
    /// Enough recent successes: dials are allowed.
    Allowed,
    /// Too few recent successes: dials are refused except for periodic probes.
    Blocked,
}

impl fmt::Display for BlackHoleState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            BlackHoleState::Probing => "Probing",
            BlackHoleState::Allowed => "Allowed",
            BlackHoleState::Blocked => "Blocked",
        })
    }
}

/// The window of one [`BlackHoleSuccessCounter`]. The defaults are go-libp2p's.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BlackHoleConfig {
    /// Number of recent dial outcomes judged, and the probe period in `Blocked` (one request in
    /// `n` is let through). Default 100. Treated as at least 1.
    pub n: usize,
    /// Fewer successes than this among the last `n` outcomes means `Blocked`. Default 5.
    pub min_successes: usize,
}

impl Default for BlackHoleConfig {
    fn default() -> Self {
        BlackHoleConfig {
            n: 100,
            min_successes: 5,
        }
    }
}

/// Success counting for one class of addresses (go's `BlackHoleSuccessCounter`).
#[derive(Debug, Clone)]
pub struct BlackHoleSuccessCounter {
    config: BlackHoleConfig,
    /// Dial requests seen, for the probe period while `Blocked`.
    requests: usize,
    /// Outcomes of the last `n` dials, oldest first; `true` is a success.
    results: std::collections::VecDeque<bool>,
    /// Number of `true` in `results`.
    successes: usize,
    state: BlackHoleState,
}

impl BlackHoleSuccessCounter {
    /// A counter in `Probing` with an empty window.
    pub fn new(config: BlackHoleConfig) -> Self {
        let config = BlackHoleConfig {
            n: config.n.max(1),
            ..config
        };
        BlackHoleSuccessCounter {
            config,
            requests: 0,
            results: std::collections::VecDeque::with_capacity(config.n),
            successes: 0,
            state: BlackHoleState::Probing,
        }
    }

    /// Counts a dial request and says whether it may go ahead: `Allowed` and `Probing` let it
    /// through, `Blocked` refuses it — except every `n`-th request, answered `Probing`.
    pub fn handle_request(&mut self) -> BlackHoleState {
        self.requests = self.requests.wrapping_add(1);
        match self.state {
            BlackHoleState::Allowed => BlackHoleState::Allowed,
            BlackHoleState::Probing => BlackHoleState::Probing,
            BlackHoleState::Blocked if self.requests.is_multiple_of(self.config.n) => {
                BlackHoleState::Probing
            }
            BlackHoleState::Blocked => BlackHoleState::Blocked,
        }
    }

    /// Records the outcome of one dial. A success while `Blocked` clears the history (a black
    /// hole is all or nothing), which puts the counter back to `Probing`.
    pub fn record_result(&mut self, success: bool) {
        if self.state == BlackHoleState::Blocked && success {
            self.successes = 0;
            self.results.clear();
            self.requests = 0;
            self.update_state();
            return;
        }
        if success {
            self.successes += 1;
        }
        self.results.push_back(success);
        if self.results.len() > self.config.n && self.results.pop_front() == Some(true) {
            self.successes -= 1;
        }
        self.update_state();
    }

    /// The current state.
    pub fn state(&self) -> BlackHoleState {
        self.state
    }

    fn update_state(&mut self) {
        self.state = if self.results.len() < self.config.n {
            BlackHoleState::Probing
        } else if self.successes >= self.config.min_successes {
            BlackHoleState::Allowed
        } else {
            BlackHoleState::Blocked
        };
    }
}

/// UDP and IPv6 black hole detection for a swarm (go's `blackHoleDetector`). One per swarm.
///
/// go-libp2p's `blackHoleDetector` and `BlackHoleSuccessCounter`
/// (`p2p/net/swarm/black_hole_detector.go`). Many networks silently drop UDP, or have no IPv6
/// route; every QUIC or IPv6 dial then waits for its full timeout. The detector keeps, per
/// class, the outcomes of the last [`n`](BlackHoleConfig::n) dials to public addresses:
///
/// ```text
///            fewer than n results                 n results, ≥ min_successes succeeded
///   ┌─────────┐ ─────────────────────────────────────────────────────────► ┌─────────┐
///   │ Probing │                                                            │ Allowed │
///   └─────────┘ ◄──┐                                                       └─────────┘
///        │         │ a dial succeeds while Blocked: history cleared             │
///        │         │                                                            │
///        │  n results, fewer than min_successes  ┌─────────┐  window drops      │
///        └──────────────────────────────────────►│ Blocked │◄───────────────────┘
///                                                └─────────┘  below min_successes
/// ```
///
/// In `Blocked`, dial requests for that class are refused, except every `n`-th request, which
/// is let through as a probe. Only public addresses are counted and filtered: private networks
/// are never judged.
///
/// The dial worker calls [`filter_addrs`](Self::filter_addrs) once per dial request and
/// [`record_result`](Self::record_result) for every finished dial (cancelled ones count as
/// failures, as in go: the threshold is low enough to absorb them).
#[derive(Debug, Clone)]
pub struct BlackHoleDetector {
    udp: Option<BlackHoleSuccessCounter>,
    ipv6: Option<BlackHoleSuccessCounter>,
}

impl Default for BlackHoleDetector {
    fn default() -> Self {
        BlackHoleDetector::new(
            Some(BlackHoleConfig::default()),
            Some(BlackHoleConfig::default()),
        )
    }
}

impl BlackHoleDetector {
    /// A detector for UDP and IPv6; `None` turns detection off for that class.
    pub fn new(udp: Option<BlackHoleConfig>, ipv6: Option<BlackHoleConfig>) -> Self {
        BlackHoleDetector {
            udp: udp.map(BlackHoleSuccessCounter::new),
            ipv6: ipv6.map(BlackHoleSuccessCounter::new),
        }
    }

    /// The UDP counter's state, if UDP detection is on.
    pub fn udp_state(&self) -> Option<BlackHoleState> {
        self.udp.as_ref().map(BlackHoleSuccessCounter::state)
    }

    /// The IPv6 counter's state, if IPv6 detection is on.
    pub fn ipv6_state(&self) -> Option<BlackHoleState> {
        self.ipv6.as_ref().map(BlackHoleSuccessCounter::state)
    }

    /// Splits one dial request's addresses into those that may be dialed and those refused as
    /// black-holed. Counts one request against each class that has a public address among
    /// `addrs`; while a class is probing, all its addresses pass even if the other class is
    /// blocked.
    pub fn filter_addrs(&mut self, addrs: Vec<Multiaddr>) -> (Vec<Multiaddr>, Vec<Multiaddr>) {
        let classes: Vec<AddrClass> = addrs.iter().map(AddrClass::of).collect();
        let has_udp = classes.iter().any(|c| c.public && c.udp);
        let has_ipv6 = classes.iter().any(|c| c.public && c.ip6);
        let udp = match (&mut self.udp, has_udp) {
            (Some(counter), true) => counter.handle_request(),
            _ => BlackHoleState::Allowed,
        };
        let ipv6 = match (&mut self.ipv6, has_ipv6) {
            (Some(counter), true) => counter.handle_request(),
            _ => BlackHoleState::Allowed,
        };
        let mut allowed = Vec::with_capacity(addrs.len());
        let mut refused = Vec::new();
        for (addr, c) in addrs.into_iter().zip(classes) {
            let pass = !c.public
                || (udp == BlackHoleState::Probing && c.udp)
                || (ipv6 == BlackHoleState::Probing && c.ip6)
                || !((udp == BlackHoleState::Blocked && c.udp)
                    || (ipv6 == BlackHoleState::Blocked && c.ip6));
            if pass {
                allowed.push(addr);
            } else {
                refused.push(addr);
            }
        }
        (allowed, refused)
    }

    /// Records the outcome of a dial to `addr` in the counters of its classes (public
    /// addresses only).
    pub fn record_result(&mut self, addr: &Multiaddr, success: bool) {
        let c = AddrClass::of(addr);
        if !c.public {
            return;
        }
        if let (Some(counter), true) = (&mut self.udp, c.udp) {
            counter.record_result(success);
        }
        if let (Some(counter), true) = (&mut self.ipv6, c.ip6) {
            counter.record_result(success);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ma(s: &str) -> Multiaddr {
        s.parse().unwrap()
    }

    #[test]
    fn counter_blocks_probes_every_n_and_unblocks_on_probe_success() {
        let mut c = BlackHoleSuccessCounter::new(BlackHoleConfig {
            n: 10,
            min_successes: 2,
        });
        for _ in 0..9 {
            assert_eq!(c.handle_request(), BlackHoleState::Probing);
            c.record_result(false);
            assert_eq!(c.state(), BlackHoleState::Probing);
        }
        c.record_result(true);
        assert_eq!(c.state(), BlackHoleState::Blocked, "1 of 10 < 2");
        // Requests are counted since the start: 9 so far. The 10th is a probe, then 9 refusals.
        assert_eq!(c.handle_request(), BlackHoleState::Probing);
        for _ in 0..9 {
            assert_eq!(c.handle_request(), BlackHoleState::Blocked);
        }
        assert_eq!(c.handle_request(), BlackHoleState::Probing);
        // A failed probe keeps it blocked; a successful one resets it.
        c.record_result(false);
        assert_eq!(c.state(), BlackHoleState::Blocked);
        c.record_result(true);
        assert_eq!(c.state(), BlackHoleState::Probing);
        assert_eq!(c.handle_request(), BlackHoleState::Probing);
    }

    #[test]
    fn counter_allows_with_enough_successes_and_slides() {
        let mut c = BlackHoleSuccessCounter::new(BlackHoleConfig {
            n: 4,
            min_successes: 1,
        });
        for r in [true, false, false, false] {
            c.record_result(r);
        }
        assert_eq!(c.state(), BlackHoleState::Allowed);
        assert_eq!(c.handle_request(), BlackHoleState::Allowed);
        c.record_result(false); // the success slides out of the window
        assert_eq!(c.state(), BlackHoleState::Blocked);
    }

    #[test]
    fn detector_filters_only_public_addresses_of_the_blocked_class() {
        let mut d = BlackHoleDetector::default();
        let quic = ma("/ip4/1.2.3.4/udp/1/quic-v1");
        for _ in 0..100 {
            d.record_result(&quic, false);
        }
        assert_eq!(d.udp_state(), Some(BlackHoleState::Blocked));
        assert_eq!(d.ipv6_state(), Some(BlackHoleState::Probing));
        let addrs = vec![
            quic.clone(),
            ma("/ip4/1.2.3.4/tcp/1"),
            ma("/ip4/192.168.0.1/udp/1/quic-v1"),
        ];
        let (ok, refused) = d.filter_addrs(addrs);
        assert_eq!(refused, vec![quic.clone()]);
        assert_eq!(ok.len(), 2);
        // Private results are not counted.
        d.record_result(&ma("/ip4/192.168.0.1/udp/1/quic-v1"), true);
        assert_eq!(d.udp_state(), Some(BlackHoleState::Blocked));
    }

    #[test]
    fn detector_lets_a_probe_through_and_unblocks_on_its_success() {
        let mut d = BlackHoleDetector::default();
        let quic = ma("/ip4/1.2.3.4/udp/1/quic-v1");
        for _ in 0..100 {
            d.record_result(&quic, false);
        }
        let mut probes = 0;
        for _ in 0..300 {
            let (ok, _) = d.filter_addrs(vec![quic.clone()]);
            probes += ok.len();
        }
        assert_eq!(probes, 3, "one request in 100 is a probe");
        let (ok, refused) = d.filter_addrs(vec![quic.clone()]);
        assert!(ok.is_empty() && refused.len() == 1);
        d.record_result(&quic, true);
        assert_eq!(d.udp_state(), Some(BlackHoleState::Probing));
        let (ok, _) = d.filter_addrs(vec![quic.clone()]);
        assert_eq!(ok, vec![quic]);
    }

    #[test]
    fn ipv6_probing_lets_udp_ipv6_through_even_when_udp_is_blocked() {
        let mut d = BlackHoleDetector::default();
        for _ in 0..100 {
            d.record_result(&ma("/ip4/1.2.3.4/udp/1/quic-v1"), false);
        }
        let v6 = ma("/ip6/2604:1380::1/udp/1/quic-v1");
        let (ok, _) = d.filter_addrs(vec![v6.clone()]);
        assert_eq!(ok, vec![v6]);
    }
}
