//! The dial limiter: how many dials may run at once, per peer and in total.

use std::collections::{HashMap, VecDeque};
use std::time::{Duration, Instant};

use super::addr_class::AddrClass;
use super::{later, Multiaddr};
use crate::PeerId;

/// Limits and per-dial timeouts. The defaults are go-libp2p's.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LimiterConfig {
    /// Concurrent dials per peer (go's `DefaultPerPeerRateLimit`, 8). Treated as at least 1.
    pub per_peer_limit: usize,
    /// Concurrent dials that consume a file descriptor, over all peers (go's
    /// `ConcurrentFdDials`, 160). Treated as at least 1.
    pub fd_limit: usize,
    /// Time a granted dial may take (go's `defaultDialTimeout`, 15 s).
    pub dial_timeout: Duration,
    /// Time a granted dial to a private or loopback address may take, if shorter than
    /// `dial_timeout` (go's `defaultDialTimeoutLocal`, 5 s).
    pub dial_timeout_local: Duration,
}

impl Default for LimiterConfig {
    fn default() -> Self {
        LimiterConfig {
            per_peer_limit: 8,
            fd_limit: 160,
            dial_timeout: Duration::from_secs(15),
            dial_timeout_local: Duration::from_secs(5),
        }
    }
}

/// Names one dial job of a [`DialLimiter`], from [`DialLimiter::add_dial_job`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct DialJobId(u64);

/// A dial the driver may start now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GrantedDial {
    /// The job, to pass to [`DialLimiter::finished_dial`] when the dial ends.
    pub job: DialJobId,
    /// The peer dialed.
    pub peer: PeerId,
    /// The address to dial.
    pub addr: Multiaddr,
    /// The driver aborts the dial if it has not finished by then.
    pub deadline: Instant,
}

/// Where a job stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum JobState {
    /// Waiting for one of its peer's tokens; holds none.
    WaitingOnPeer,
    /// Holds a peer token; waiting for a file descriptor token.
    WaitingOnFd,
    /// Holds its peer token, and a descriptor token if `holds_fd`.
    Active { holds_fd: bool },
}

#[derive(Debug, Clone)]
struct Job {
    peer: PeerId,
    addr: Multiaddr,
    consumes_fd: bool,
    timeout: Duration,
    state: JobState,
}

/// Concurrency limits for outbound dials. One per swarm.
///
/// go-libp2p's `dialLimiter` (`p2p/net/swarm/limiter.go`). A dial job first takes one of the
/// peer's tokens ([`LimiterConfig::per_peer_limit`], 8), then — if its transport consumes a
/// file descriptor (TCP or a unix socket, not relayed) — one of the swarm's descriptor tokens
/// ([`LimiterConfig::fd_limit`], 160). A job that cannot take a token waits in a FIFO list (one
/// per peer, one for descriptors) and is granted when a token is released. Tokens are released
/// in the reverse order they were taken.
///
/// Each granted dial carries a deadline: 15 s after the grant, or 5 s for private and loopback
/// addresses. The limiter does not enforce it; the driver aborts the dial when the deadline
/// passes and reports it as failed with [`AddrDialError::Timeout`](super::AddrDialError).
///
/// Driver contract ([`DialSync`](super::DialSync) follows it for you):
/// 1. [`add_dial_job`](Self::add_dial_job) for every [`Action::Dial`](super::Action) a dial
///    worker emits;
/// 2. after every call, drain [`poll_granted`](Self::poll_granted) and start those dials;
/// 3. [`finished_dial`](Self::finished_dial) when a granted dial ends for any reason (success,
///    failure, deadline) — or to withdraw a job that is still waiting.
#[derive(Debug, Clone)]
pub struct DialLimiter {
    config: LimiterConfig,
    jobs: HashMap<DialJobId, Job>,
    next_id: u64,
    fd_consuming: usize,
    waiting_on_fd: VecDeque<DialJobId>,
    active_per_peer: HashMap<PeerId, usize>,
    waiting_on_peer_limit: HashMap<PeerId, VecDeque<DialJobId>>,
    granted: VecDeque<GrantedDial>,
}

impl Default for DialLimiter {
    fn default() -> Self {
        DialLimiter::new(LimiterConfig::default())
    }
}

impl DialLimiter {
    /// A limiter with no jobs.
    pub fn new(config: LimiterConfig) -> Self {
        let config = LimiterConfig {
            per_peer_limit: config.per_peer_limit.max(1),
            fd_limit: config.fd_limit.max(1),
            ..config
        };
        DialLimiter {
            config,
            jobs: HashMap::new(),
            next_id: 0,
            fd_consuming: 0,
            waiting_on_fd: VecDeque::new(),
            active_per_peer: HashMap::new(),
            waiting_on_peer_limit: HashMap::new(),
            granted: VecDeque::new(),
        }
    }

    /// Queues a dial of `addr` of `peer` (go's `AddDialJob`). It is granted at once if tokens
    /// are free — see [`poll_granted`](Self::poll_granted) — else when they are released.
    pub fn add_dial_job(&mut self, peer: PeerId, addr: Multiaddr, now: Instant) -> DialJobId {
        let id = DialJobId(self.next_id);
        self.next_id = self.next_id.wrapping_add(1);
        let class = AddrClass::of(&addr);
        let timeout = if class.private && self.config.dial_timeout_local < self.config.dial_timeout
        {
            self.config.dial_timeout_local
        } else {
            self.config.dial_timeout
        };
        self.jobs.insert(
            id,
            Job {
                peer,
                addr,
                consumes_fd: class.consumes_fd(),
                timeout,
                state: JobState::WaitingOnPeer,
            },
        );
        self.add_check_peer_limit(id, now);
        id
    }

    /// The next dial that has been granted its tokens. Call after every other method until it
    /// returns `None`.
    pub fn poll_granted(&mut self) -> Option<GrantedDial> {
        self.granted.pop_front()
    }

    /// Releases `job`'s tokens, granting waiting jobs in its place (go's `finishedDial`). Call
    /// when a granted dial ends, whatever the outcome, or to withdraw a job still waiting (or
    /// granted but not yet started). Returns `false` if the job was unknown (already finished).
    pub fn finished_dial(&mut self, job: DialJobId, now: Instant) -> bool {
        let Some(j) = self.jobs.remove(&job) else {
            return false;
        };
        match j.state {
            JobState::WaitingOnPeer => {
                if let Some(list) = self.waiting_on_peer_limit.get_mut(&j.peer) {
                    list.retain(|id| *id != job);
                    if list.is_empty() {
                        self.waiting_on_peer_limit.remove(&j.peer);
                    }
                }
            }
            JobState::WaitingOnFd => {
                self.waiting_on_fd.retain(|id| *id != job);
                self.free_peer_token(&j.peer, now);
            }
            JobState::Active { holds_fd } => {
                self.granted.retain(|g| g.job != job);
                if holds_fd {
                    self.free_fd_token(now);
                }
                self.free_peer_token(&j.peer, now);
            }
        }
        true
    }

    /// Withdraws every job of `peer` still waiting for a peer token (go's
    /// `clearAllPeerDials`, called when the peer's dial worker ends). Active jobs and jobs
    /// waiting for a descriptor keep their tokens until [`finished_dial`](Self::finished_dial).
    pub fn clear_all_peer_dials(&mut self, peer: &PeerId) -> Vec<DialJobId> {
        let removed: Vec<DialJobId> = self
            .waiting_on_peer_limit
            .remove(peer)
            .map(Vec::from)
            .unwrap_or_default();
        for id in &removed {
            self.jobs.remove(id);
        }
        removed
    }

    /// Dials of `peer` holding a peer token (running or waiting for a descriptor).
    pub fn active_for_peer(&self, peer: &PeerId) -> usize {
        self.active_per_peer.get(peer).copied().unwrap_or(0)
    }

    /// Descriptor tokens taken.
    pub fn fd_consuming(&self) -> usize {
        self.fd_consuming
    }

    /// Jobs waiting for a descriptor token.
    pub fn waiting_on_fd(&self) -> usize {
        self.waiting_on_fd.len()
    }

    /// Jobs of `peer` waiting for a peer token.
    pub fn waiting_on_peer(&self, peer: &PeerId) -> usize {
        self.waiting_on_peer_limit
            .get(peer)
            .map_or(0, VecDeque::len)
    }

    /// Jobs known to the limiter (waiting or granted and not finished).
    pub fn len(&self) -> usize {
        self.jobs.len()
    }

    /// Whether the limiter holds no job.
    pub fn is_empty(&self) -> bool {
        self.jobs.is_empty()
    }

    fn add_check_peer_limit(&mut self, id: DialJobId, now: Instant) {
        let Some(job) = self.jobs.get_mut(&id) else {
            return;
        };
        let active = self.active_per_peer.entry(job.peer.clone()).or_insert(0);
        if *active >= self.config.per_peer_limit {
            job.state = JobState::WaitingOnPeer;
            self.waiting_on_peer_limit
                .entry(job.peer.clone())
                .or_default()
                .push_back(id);
            return;
        }
        *active += 1;
        self.add_check_fd_limit(id, now);
    }

    fn add_check_fd_limit(&mut self, id: DialJobId, now: Instant) {
        let Some(job) = self.jobs.get_mut(&id) else {
            return;
        };
        if job.consumes_fd {
            if self.fd_consuming >= self.config.fd_limit {
                job.state = JobState::WaitingOnFd;
                self.waiting_on_fd.push_back(id);
                return;
            }
            self.fd_consuming += 1;
        }
        job.state = JobState::Active {
            holds_fd: job.consumes_fd,
        };
        self.granted.push_back(GrantedDial {
            job: id,
            peer: job.peer.clone(),
            addr: job.addr.clone(),
            deadline: later(now, job.timeout),
        });
    }

    fn free_fd_token(&mut self, now: Instant) {
        self.fd_consuming = self.fd_consuming.saturating_sub(1);
        if let Some(next) = self.waiting_on_fd.pop_front() {
            // It already holds its peer token.
            self.add_check_fd_limit(next, now);
        }
    }

    fn free_peer_token(&mut self, peer: &PeerId, now: Instant) {
        if let Some(active) = self.active_per_peer.get_mut(peer) {
            *active = active.saturating_sub(1);
            if *active == 0 {
                self.active_per_peer.remove(peer);
            }
        }
        let mut next = None;
        if let Some(list) = self.waiting_on_peer_limit.get_mut(peer) {
            next = list.pop_front();
            if list.is_empty() {
                self.waiting_on_peer_limit.remove(peer);
            }
        }
        if let Some(next) = next {
            self.add_check_peer_limit(next, now);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dial::tests::peer;
    use proptest::prelude::*;

    fn ma(s: &str) -> Multiaddr {
        s.parse().unwrap()
    }

    fn drain(l: &mut DialLimiter) -> Vec<GrantedDial> {
        std::iter::from_fn(|| l.poll_granted()).collect()
    }

    #[test]
    fn per_peer_limit_queues_fifo() {
        let now = Instant::now();
        let mut l = DialLimiter::new(LimiterConfig {
            per_peer_limit: 2,
            ..LimiterConfig::default()
        });
        let p = peer(1);
        let ids: Vec<DialJobId> = (1..=4)
            .map(|port| l.add_dial_job(p.clone(), ma(&format!("/ip4/1.2.3.4/tcp/{port}")), now))
            .collect();
        let g = drain(&mut l);
        assert_eq!(g.iter().map(|g| g.job).collect::<Vec<_>>(), ids[..2]);
        assert_eq!(l.waiting_on_peer(&p), 2);
        let later = now + Duration::from_secs(1);
        assert!(l.finished_dial(ids[1], later));
        let g = drain(&mut l);
        assert_eq!(g.len(), 1);
        assert_eq!(g[0].job, ids[2]);
        assert_eq!(g[0].deadline, later + Duration::from_secs(15));
        assert!(!l.finished_dial(ids[1], later), "already finished");
    }

    #[test]
    fn fd_limit_is_global_and_skips_non_fd_transports() {
        let now = Instant::now();
        let mut l = DialLimiter::new(LimiterConfig {
            fd_limit: 1,
            ..LimiterConfig::default()
        });
        let a = l.add_dial_job(peer(1), ma("/ip4/1.2.3.4/tcp/1"), now);
        let b = l.add_dial_job(peer(2), ma("/ip4/1.2.3.4/tcp/2"), now);
        let q = l.add_dial_job(peer(2), ma("/ip4/1.2.3.4/udp/1/quic-v1"), now);
        let r = l.add_dial_job(peer(3), ma("/ip4/1.2.3.4/tcp/3/p2p-circuit"), now);
        let g: Vec<DialJobId> = drain(&mut l).into_iter().map(|g| g.job).collect();
        assert_eq!(g, vec![a, q, r]);
        assert_eq!(l.waiting_on_fd(), 1);
        assert_eq!(
            l.active_for_peer(&peer(2)),
            2,
            "the waiting job holds its peer token"
        );
        l.finished_dial(a, now);
        assert_eq!(drain(&mut l)[0].job, b);
    }

    #[test]
    fn local_addresses_get_the_short_timeout() {
        let now = Instant::now();
        let mut l = DialLimiter::default();
        l.add_dial_job(peer(1), ma("/ip4/127.0.0.1/tcp/1"), now);
        l.add_dial_job(peer(1), ma("/ip4/10.1.2.3/udp/1/quic-v1"), now);
        l.add_dial_job(peer(1), ma("/ip4/1.2.3.4/tcp/1"), now);
        let d: Vec<Duration> = drain(&mut l).iter().map(|g| g.deadline - now).collect();
        assert_eq!(
            d,
            [5, 5, 15].map(Duration::from_secs).to_vec(),
            "loopback and private: 5 s; public: 15 s"
        );
    }

    #[test]
    fn withdrawing_waiting_jobs_releases_nothing_twice() {
        let now = Instant::now();
        let mut l = DialLimiter::new(LimiterConfig {
            per_peer_limit: 1,
            fd_limit: 1,
            ..LimiterConfig::default()
        });
        let a = l.add_dial_job(peer(1), ma("/ip4/1.2.3.4/tcp/1"), now);
        let b = l.add_dial_job(peer(2), ma("/ip4/1.2.3.4/tcp/2"), now); // waits on fd
        let c = l.add_dial_job(peer(2), ma("/ip4/1.2.3.4/tcp/3"), now); // waits on peer
        drain(&mut l);
        assert!(l.finished_dial(b, now));
        // c took b's peer token and now waits for the descriptor.
        assert_eq!(l.waiting_on_fd(), 1);
        assert_eq!(l.clear_all_peer_dials(&peer(2)), vec![]);
        l.finished_dial(a, now);
        assert_eq!(drain(&mut l)[0].job, c);
        l.finished_dial(c, now);
        assert!(l.is_empty());
        assert_eq!(l.fd_consuming(), 0);
        assert_eq!(l.active_for_peer(&peer(2)), 0);
    }

    /// One step of the property test.
    #[derive(Debug, Clone)]
    enum Op {
        Add { peer: u8, kind: u8 },
        Finish { pick: usize },
    }

    fn op() -> impl Strategy<Value = Op> {
        prop_oneof![
            3 => (0u8..20, 0u8..3).prop_map(|(peer, kind)| Op::Add { peer, kind }),
            2 => any::<usize>().prop_map(|pick| Op::Finish { pick }),
        ]
    }

    fn check_bounds(l: &DialLimiter, config: &LimiterConfig) {
        assert!(l.fd_consuming() <= config.fd_limit);
        for (p, active) in &l.active_per_peer {
            assert!(*active <= config.per_peer_limit);
            // Work conservation: nobody waits on a peer with free tokens.
            if l.waiting_on_peer(p) > 0 {
                assert_eq!(*active, config.per_peer_limit);
            }
        }
        if l.waiting_on_fd() > 0 {
            assert_eq!(l.fd_consuming(), config.fd_limit);
        }
        // The token counts match the jobs that hold tokens.
        let mut holders: HashMap<PeerId, usize> = HashMap::new();
        let mut fds = 0;
        for job in l.jobs.values() {
            match job.state {
                JobState::WaitingOnPeer => {}
                JobState::WaitingOnFd => *holders.entry(job.peer.clone()).or_default() += 1,
                JobState::Active { holds_fd } => {
                    *holders.entry(job.peer.clone()).or_default() += 1;
                    fds += usize::from(holds_fd);
                }
            }
        }
        assert_eq!(holders, l.active_per_peer);
        assert_eq!(fds, l.fd_consuming());
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(32))]
        /// 1,000 queued dials over 20 peers, finished in random order: the bounds hold after every
        /// step, every job is granted exactly once, and everything drains.
        #[test]
        fn limiter_never_exceeds_its_bounds(
            ops in proptest::collection::vec(op(), 1000..1400),
            per_peer_limit in 1usize..10,
            fd_limit in 1usize..40,
        ) {
            let config = LimiterConfig { per_peer_limit, fd_limit, ..LimiterConfig::default() };
            let mut l = DialLimiter::new(config);
            let now = Instant::now();
            let mut running: Vec<DialJobId> = Vec::new();
            let mut granted = std::collections::HashSet::new();
            let mut added = 0;
            for op in ops {
                match op {
                    Op::Add { peer: p, kind } => {
                        let addr = match kind {
                            0 => ma(&format!("/ip4/1.2.3.4/tcp/{}", added + 1)),
                            1 => ma(&format!("/ip4/1.2.3.4/udp/{}/quic-v1", added + 1)),
                            _ => ma(&format!("/ip4/1.2.3.4/tcp/{}/p2p-circuit", added + 1)),
                        };
                        l.add_dial_job(peer(p), addr, now);
                        added += 1;
                    }
                    Op::Finish { pick } => {
                        if !running.is_empty() {
                            let job = running.swap_remove(pick % running.len());
                            prop_assert!(l.finished_dial(job, now));
                        }
                    }
                }
                for g in std::iter::from_fn(|| l.poll_granted()) {
                    prop_assert!(granted.insert(g.job), "granted twice");
                    running.push(g.job);
                }
                check_bounds(&l, &config);
                prop_assert!(running.len() <= fd_limit + 20 * per_peer_limit);
            }
            while let Some(job) = running.pop() {
                prop_assert!(l.finished_dial(job, now));
                running.extend(std::iter::from_fn(|| l.poll_granted()).map(|g| {
                    granted.insert(g.job);
                    g.job
                }));
                check_bounds(&l, &config);
            }
            prop_assert_eq!(granted.len(), added);
            prop_assert!(l.is_empty());
            prop_assert_eq!(l.fd_consuming(), 0);
            prop_assert!(l.active_per_peer.is_empty());
        }
    }
}
