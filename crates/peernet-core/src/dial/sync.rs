//! Dial sync: one dial worker per peer, the swarm-wide dial state, and the glue between them.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::time::Instant;

use super::error::{AddrDialError, DialError, DialErrorCause};
use super::worker::{Action, ConnectionId, DialEnv, DialRequest, DialSuccess, RequestId};
use super::{
    BackoffConfig, BlackHoleConfig, BlackHoleDetector, DialBackoff, DialJobId, DialLimiter,
    DialWorker, DialWorkerConfig, LimiterConfig, Multiaddr,
};
use crate::PeerId;

/// Settings of a [`DialSync`]; the defaults are go-libp2p's.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DialSyncConfig {
    /// Per-worker settings (the 60 s peer dial timeout).
    pub worker: DialWorkerConfig,
    /// Concurrency limits and per-dial timeouts.
    pub limiter: LimiterConfig,
    /// Backoff durations.
    pub backoff: BackoffConfig,
    /// UDP black hole window; `None` turns UDP detection off.
    pub udp_black_hole: Option<BlackHoleConfig>,
    /// IPv6 black hole window; `None` turns IPv6 detection off.
    pub ipv6_black_hole: Option<BlackHoleConfig>,
}

impl Default for DialSyncConfig {
    fn default() -> Self {
        DialSyncConfig {
            worker: DialWorkerConfig::default(),
            limiter: LimiterConfig::default(),
            backoff: BackoffConfig::default(),
            udp_black_hole: Some(BlackHoleConfig::default()),
            ipv6_black_hole: Some(BlackHoleConfig::default()),
        }
    }
}

/// What the driver must do next, from [`DialSync::poll_event`].
#[derive(Debug, Clone)]
pub enum DialEvent {
    /// Dial `addr` of `peer` now. Abort it at `deadline` and report
    /// [`AddrDialError::Timeout`]; otherwise report the outcome with
    /// [`DialSync::dial_succeeded`] or [`DialSync::dial_failed`], naming `job`.
    Dial {
        /// Names this dial in every report.
        job: DialJobId,
        /// The peer to reach.
        peer: PeerId,
        /// The address to dial.
        addr: Multiaddr,
        /// When the driver gives up on it.
        deadline: Instant,
    },
    /// Abort the dial `job` (nobody waits for it any more) and do not report it. Its limiter
    /// tokens are already released.
    Abort {
        /// The dial from an earlier [`DialEvent::Dial`].
        job: DialJobId,
    },
    /// Answer these callers of `peer`.
    Complete {
        /// The peer they asked for.
        peer: PeerId,
        /// The answered requests.
        requests: Vec<RequestId>,
        /// The shared connection, or why this request failed.
        result: Result<DialSuccess, DialError>,
    },
}

/// A dial the limiter knows about, and whether the driver has been told to start it.
#[derive(Debug, Clone)]
struct Job {
    peer: PeerId,
    addr: Multiaddr,
    started: bool,
}

/// Every outbound dial of a swarm: a [`DialWorker`] per peer being dialed, one
/// [`DialLimiter`], [`DialBackoff`] and [`BlackHoleDetector`] shared by all.
///
/// go-libp2p spreads this over `dialSync` (`dial_sync.go`: one `activeDial` per peer,
/// reference-counted), `Swarm.dialNextAddr`/`limitedDial` (worker → limiter) and the limiter's
/// `executeDial` (limiter → transport → worker). [`DialSync`] is that glue as one state
/// machine, so a driver handles exactly three things: start and abort dials, answer callers,
/// and sleep until [`DialSync::poll_timeout`].
///
/// Driver contract (every method takes the current time; none reads a clock):
/// - [`dial_peer`](Self::dial_peer) when a caller needs a connection to a peer it has no
///   usable connection to; [`cancel_request`](Self::cancel_request) when a caller gives up;
/// - for each [`DialEvent::Dial`], exactly one of [`dial_succeeded`](Self::dial_succeeded) or
///   [`dial_failed`](Self::dial_failed), and
///   [`handshake_progressed`](Self::handshake_progressed) when its TCP connection is up and
///   the security handshake starts;
/// - [`connection_established`](Self::connection_established) for every new connection,
///   inbound included (it clears the peer's backoff);
/// - [`handle_timeout`](Self::handle_timeout) at [`poll_timeout`](Self::poll_timeout);
/// - after every call, drain [`poll_event`](Self::poll_event).
///
/// A worker is dropped as soon as no request waits on it; its dials still waiting for the
/// limiter are withdrawn and those running are aborted ([`DialEvent::Abort`]), as go cancels
/// them when the last caller leaves.
///
/// ```
/// use std::time::{Duration, Instant};
/// use peernet_core::dial::*;
/// use peernet_core::Multiaddr;
/// # fn peer(n: u8) -> peernet_core::PeerId {
/// #     peernet_core::PeerId::from_bytes(&[[0x12, 0x20].as_slice(), &[n; 32]].concat()).unwrap()
/// # }
///
/// let now = Instant::now();
/// let mut dialer = DialSync::new(peer(1), DialSyncConfig::default(), |_: &Multiaddr| true);
/// let addrs: Vec<Multiaddr> =
///     vec!["/ip4/1.2.3.4/tcp/4001".parse()?, "/ip4/1.2.3.4/udp/4001/quic-v1".parse()?];
/// dialer.dial_peer(peer(2), DialRequest::new(RequestId(1), addrs.clone()), now);
/// dialer.dial_peer(peer(2), DialRequest::new(RequestId(2), addrs), now); // joins the first
///
/// // One dial, QUIC first, with its deadline.
/// let Some(DialEvent::Dial { job, addr, deadline, .. }) = dialer.poll_event() else { panic!() };
/// assert_eq!(addr.to_string(), "/ip4/1.2.3.4/udp/4001/quic-v1");
/// assert_eq!(deadline, now + Duration::from_secs(15));
/// assert!(dialer.poll_event().is_none());
///
/// // QUIC is refused: TCP goes out at once instead of 250 ms later.
/// let refused = std::io::Error::from(std::io::ErrorKind::ConnectionRefused);
/// dialer.dial_failed(job, AddrDialError::Io(refused.into()), now + Duration::from_millis(5));
/// let Some(DialEvent::Dial { job, .. }) = dialer.poll_event() else { panic!() };
///
/// dialer.dial_succeeded(job, ConnectionId(7), now + Duration::from_millis(60));
/// let Some(DialEvent::Complete { requests, result: Ok(success), .. }) = dialer.poll_event()
/// else {
///     panic!()
/// };
/// assert_eq!(requests, [RequestId(1), RequestId(2)]);
/// assert_eq!(success.conn, ConnectionId(7));
/// assert_eq!(dialer.active_dials(), 0);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct DialSync {
    local_peer: PeerId,
    config: DialSyncConfig,
    workers: BTreeMap<PeerId, DialWorker>,
    limiter: DialLimiter,
    backoff: DialBackoff,
    black_holes: BlackHoleDetector,
    listen_addrs: Vec<Multiaddr>,
    can_dial: Box<dyn Fn(&Multiaddr) -> bool + Send>,
    jobs: HashMap<DialJobId, Job>,
    events: VecDeque<DialEvent>,
}

impl std::fmt::Debug for DialSync {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DialSync")
            .field("local_peer", &self.local_peer)
            .field("workers", &self.workers.len())
            .field("jobs", &self.jobs.len())
            .finish_non_exhaustive()
    }
}

impl DialSync {
    /// Dial state for the swarm of `local_peer`. `can_dial` says whether one of the swarm's
    /// transports dials an address.
    pub fn new(
        local_peer: PeerId,
        config: DialSyncConfig,
        can_dial: impl Fn(&Multiaddr) -> bool + Send + 'static,
    ) -> Self {
        DialSync {
            local_peer,
            config,
            workers: BTreeMap::new(),
            limiter: DialLimiter::new(config.limiter),
            backoff: DialBackoff::new(config.backoff),
            black_holes: BlackHoleDetector::new(config.udp_black_hole, config.ipv6_black_hole),
            listen_addrs: Vec::new(),
            can_dial: Box::new(can_dial),
            jobs: HashMap::new(),
            events: VecDeque::new(),
        }
    }

    /// Our listen addresses, never dialed. Call whenever they change.
    pub fn set_listen_addrs(&mut self, addrs: Vec<Multiaddr>) {
        self.listen_addrs = addrs;
    }

    /// A caller wants a connection to `peer` (go's `dialSync.Dial`). Joins the peer's worker,
    /// starting one if none runs. Dialing ourselves fails at once with
    /// [`DialErrorCause::DialToSelf`].
    pub fn dial_peer(&mut self, peer: PeerId, req: DialRequest, now: Instant) {
        if peer == self.local_peer {
            self.events.push_back(DialEvent::Complete {
                peer: peer.clone(),
                requests: vec![req.id],
                result: Err(DialError::new(peer, DialErrorCause::DialToSelf)),
            });
            return;
        }
        let config = self.config.worker;
        let worker = self
            .workers
            .entry(peer.clone())
            .or_insert_with(|| DialWorker::new(peer.clone(), config, now));
        let mut env = DialEnv {
            listen_addrs: &self.listen_addrs,
            can_dial: &*self.can_dial,
            backoff: &mut self.backoff,
            black_holes: &mut self.black_holes,
        };
        worker.add_request(req, &mut env, now);
        self.after_worker(&peer, now);
    }

    /// The caller of `req` no longer waits for `peer`. Others waiting on the same peer are not
    /// affected; if it was the last, the peer's dials are withdrawn and aborted.
    pub fn cancel_request(&mut self, peer: &PeerId, req: RequestId, now: Instant) -> bool {
        let Some(worker) = self.workers.get_mut(peer) else {
            return false;
        };
        let removed = worker.cancel_request(req);
        self.after_worker(peer, now);
        removed
    }

    /// The dial `job` produced connection `conn`. Returns `false` if the job is unknown
    /// (aborted, or reported twice): then nobody wants the connection and the driver closes it.
    pub fn dial_succeeded(&mut self, job: DialJobId, conn: ConnectionId, now: Instant) -> bool {
        let Some(j) = self.finish_job(job, now) else {
            return false;
        };
        if let Some(worker) = self.workers.get_mut(&j.peer) {
            let mut env = DialEnv {
                listen_addrs: &self.listen_addrs,
                can_dial: &*self.can_dial,
                backoff: &mut self.backoff,
                black_holes: &mut self.black_holes,
            };
            worker.dial_succeeded(&j.addr, conn, &mut env, now);
        }
        self.after_worker(&j.peer, now);
        true
    }

    /// The dial `job` failed with `error` (use [`AddrDialError::Timeout`] when its deadline
    /// passed). Returns `false` if the job is unknown.
    pub fn dial_failed(&mut self, job: DialJobId, error: AddrDialError, now: Instant) -> bool {
        let Some(j) = self.finish_job(job, now) else {
            return false;
        };
        if let Some(worker) = self.workers.get_mut(&j.peer) {
            let mut env = DialEnv {
                listen_addrs: &self.listen_addrs,
                can_dial: &*self.can_dial,
                backoff: &mut self.backoff,
                black_holes: &mut self.black_holes,
            };
            worker.dial_failed(&j.addr, error, &mut env, now);
        }
        self.after_worker(&j.peer, now);
        true
    }

    /// The TCP connection of dial `job` is up and its security handshake has started.
    pub fn handshake_progressed(&mut self, job: DialJobId, now: Instant) {
        let Some(j) = self.jobs.get(&job) else {
            return;
        };
        let peer = j.peer.clone();
        if let Some(worker) = self.workers.get_mut(&peer) {
            worker.handshake_progressed(&j.addr, now);
        }
        self.after_worker(&peer, now);
    }

    /// A connection to `peer` was established, in either direction: its backoff is cleared
    /// (go clears it in `addConn`).
    pub fn connection_established(&mut self, peer: &PeerId) {
        self.backoff.clear(peer);
    }

    /// Time has reached `now`: every worker whose timer is due dials its next batch or times
    /// out its requests.
    pub fn handle_timeout(&mut self, now: Instant) {
        let due: Vec<PeerId> = self
            .workers
            .iter()
            .filter(|(_, w)| w.poll_timeout().is_some_and(|t| t <= now))
            .map(|(p, _)| p.clone())
            .collect();
        for peer in due {
            if let Some(worker) = self.workers.get_mut(&peer) {
                worker.handle_timeout(now);
            }
            self.after_worker(&peer, now);
        }
    }

    /// The earliest instant at which [`handle_timeout`](Self::handle_timeout) must be called.
    #[must_use]
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.workers
            .values()
            .filter_map(DialWorker::poll_timeout)
            .min()
    }

    /// The next thing the driver must do. Call after every input until it returns `None`.
    #[must_use]
    pub fn poll_event(&mut self) -> Option<DialEvent> {
        self.events.pop_front()
    }

    /// Drops backoff entries that no longer matter; call every few minutes.
    pub fn cleanup_backoff(&mut self, now: Instant) {
        self.backoff.cleanup(now);
    }

    /// The backoff table.
    pub fn backoff(&self) -> &DialBackoff {
        &self.backoff
    }

    /// The black hole detector.
    pub fn black_holes(&self) -> &BlackHoleDetector {
        &self.black_holes
    }

    /// The limiter.
    pub fn limiter(&self) -> &DialLimiter {
        &self.limiter
    }

    /// The worker dialing `peer`, if any.
    pub fn worker(&self, peer: &PeerId) -> Option<&DialWorker> {
        self.workers.get(peer)
    }

    /// Peers being dialed.
    pub fn active_dials(&self) -> usize {
        self.workers.len()
    }

    /// Dials known to the limiter, waiting or running.
    pub fn jobs(&self) -> usize {
        self.jobs.len()
    }

    /// Releases `job`'s limiter tokens and forgets it.
    fn finish_job(&mut self, job: DialJobId, now: Instant) -> Option<Job> {
        let j = self.jobs.remove(&job)?;
        self.limiter.finished_dial(job, now);
        self.drain_limiter(now);
        Some(j)
    }

    /// Routes the worker's actions: dials go to the limiter, answers to the driver. Drops the
    /// worker once nobody waits on it.
    fn after_worker(&mut self, peer: &PeerId, now: Instant) {
        let Some(worker) = self.workers.get_mut(peer) else {
            return;
        };
        while let Some(action) = worker.poll_action() {
            match action {
                Action::Dial(addr) => {
                    let job = self.limiter.add_dial_job(peer.clone(), addr.clone(), now);
                    self.jobs.insert(
                        job,
                        Job {
                            peer: peer.clone(),
                            addr,
                            started: false,
                        },
                    );
                }
                Action::Complete { requests, result } => {
                    self.events.push_back(DialEvent::Complete {
                        peer: peer.clone(),
                        requests,
                        result,
                    })
                }
            }
        }
        if worker.is_idle() {
            self.workers.remove(peer);
            self.limiter.clear_all_peer_dials(peer);
            let mut orphaned: Vec<(DialJobId, bool)> = self
                .jobs
                .iter()
                .filter(|(_, j)| &j.peer == peer)
                .map(|(id, j)| (*id, j.started))
                .collect();
            orphaned.sort();
            for (job, started) in orphaned {
                let removed = self.jobs.remove(&job);
                self.limiter.finished_dial(job, now);
                if started {
                    // go counts a dial cancelled this way as a failure for black hole
                    // detection; the window is wide enough to absorb it.
                    if let Some(j) = removed {
                        self.black_holes.record_result(&j.addr, false);
                    }
                    self.events.push_back(DialEvent::Abort { job });
                }
            }
        }
        self.drain_limiter(now);
    }

    /// Turns the limiter's grants into `DialEvent::Dial`s.
    fn drain_limiter(&mut self, now: Instant) {
        while let Some(grant) = self.limiter.poll_granted() {
            match self.jobs.get_mut(&grant.job) {
                Some(job) => {
                    job.started = true;
                    self.events.push_back(DialEvent::Dial {
                        job: grant.job,
                        peer: grant.peer,
                        addr: grant.addr,
                        deadline: grant.deadline,
                    });
                }
                // Not ours any more (cannot happen: jobs leave `jobs` and the limiter
                // together); release the tokens rather than leak them.
                None => {
                    self.limiter.finished_dial(grant.job, now);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::dial::tests::peer;
    use crate::dial::{BlackHoleState, MAX_DIAL_ERRORS};

    fn ma(s: &str) -> Multiaddr {
        s.parse().unwrap()
    }

    const QUIC: &str = "/ip4/1.2.3.4/udp/4001/quic-v1";
    const TCP: &str = "/ip4/1.2.3.4/tcp/4001";

    fn sync() -> DialSync {
        DialSync::new(peer(0), DialSyncConfig::default(), |_| true)
    }

    fn events(s: &mut DialSync) -> Vec<DialEvent> {
        std::iter::from_fn(|| s.poll_event()).collect()
    }

    /// The `Dial` events, as (job, address); panics on anything else.
    fn dials(s: &mut DialSync) -> Vec<(DialJobId, String)> {
        events(s)
            .into_iter()
            .map(|e| match e {
                DialEvent::Dial { job, addr, .. } => (job, addr.to_string()),
                other => panic!("expected only dials, got {other:?}"),
            })
            .collect()
    }

    fn request(id: u64, addrs: &[&str]) -> DialRequest {
        DialRequest::new(RequestId(id), addrs.iter().map(|a| ma(a)).collect())
    }

    #[test]
    fn fifty_concurrent_callers_cause_one_dial_per_address_and_share_one_connection() {
        let now = Instant::now();
        let mut s = sync();
        for id in 0..50 {
            s.dial_peer(peer(1), request(id, &[QUIC, TCP]), now);
        }
        let d = dials(&mut s);
        assert_eq!(d.len(), 1);
        assert_eq!(d[0].1, QUIC);
        assert_eq!(s.active_dials(), 1);
        assert!(s.dial_succeeded(d[0].0, ConnectionId(1), now + Duration::from_millis(20)));
        let ev = events(&mut s);
        assert_eq!(ev.len(), 1, "{ev:?}");
        let DialEvent::Complete {
            peer: p,
            requests,
            result,
        } = &ev[0]
        else {
            panic!("{ev:?}")
        };
        assert_eq!(p, &peer(1));
        assert_eq!(requests.len(), 50);
        assert_eq!(result.as_ref().unwrap().conn, ConnectionId(1));
        assert_eq!((s.active_dials(), s.jobs()), (0, 0), "nothing left behind");
        assert!(s.limiter().is_empty());
        assert_eq!(s.poll_timeout(), None);
    }

    #[test]
    fn dial_to_self_is_refused() {
        let mut s = sync();
        s.dial_peer(peer(0), request(1, &[QUIC]), Instant::now());
        let ev = events(&mut s);
        let [DialEvent::Complete { result: Err(e), .. }] = ev.as_slice() else {
            panic!("{ev:?}")
        };
        assert_eq!(e.cause, DialErrorCause::DialToSelf);
        assert_eq!(s.active_dials(), 0);
    }

    #[test]
    fn ranking_delays_run_through_poll_timeout() {
        let now = Instant::now();
        let mut s = sync();
        s.dial_peer(peer(1), request(1, &[TCP, QUIC]), now);
        assert_eq!(dials(&mut s).len(), 1);
        assert_eq!(s.poll_timeout(), Some(now + Duration::from_millis(250)));
        s.handle_timeout(now + Duration::from_millis(100));
        assert!(events(&mut s).is_empty());
        s.handle_timeout(now + Duration::from_millis(250));
        let d = dials(&mut s);
        assert_eq!(d.len(), 1);
        assert_eq!(d[0].1, TCP);
    }

    #[test]
    fn success_aborts_the_other_dials_and_frees_every_token() {
        let now = Instant::now();
        let mut s = sync();
        let mut req = request(1, &[QUIC, TCP]);
        req.simultaneous_connect = true;
        s.dial_peer(peer(1), req, now);
        let d = dials(&mut s);
        assert_eq!(d.len(), 2);
        assert_eq!(s.limiter().fd_consuming(), 1);
        assert!(s.dial_succeeded(d[0].0, ConnectionId(3), now));
        let ev = events(&mut s);
        assert!(
            matches!(ev.as_slice(), [DialEvent::Complete { .. }, DialEvent::Abort { job }] if *job == d[1].0)
        );
        assert!(s.limiter().is_empty());
        assert_eq!(s.limiter().fd_consuming(), 0);
        assert!(
            !s.dial_succeeded(d[1].0, ConnectionId(4), now),
            "a late connection from an aborted dial is refused: the driver closes it"
        );
    }

    #[test]
    fn one_caller_leaving_does_not_cancel_the_others() {
        let now = Instant::now();
        let mut s = sync();
        s.dial_peer(peer(1), request(1, &[QUIC]), now);
        s.dial_peer(peer(1), request(2, &[QUIC]), now);
        let d = dials(&mut s);
        assert!(s.cancel_request(&peer(1), RequestId(1), now));
        assert!(events(&mut s).is_empty());
        s.dial_succeeded(d[0].0, ConnectionId(1), now);
        let ev = events(&mut s);
        assert!(
            matches!(ev.as_slice(), [DialEvent::Complete { requests, .. }] if requests == &vec![RequestId(2)])
        );

        // The last caller leaving aborts the dial.
        s.dial_peer(peer(2), request(3, &[QUIC]), now);
        let d = dials(&mut s);
        assert!(s.cancel_request(&peer(2), RequestId(3), now));
        assert!(matches!(events(&mut s).as_slice(), [DialEvent::Abort { job }] if *job == d[0].0));
        assert_eq!((s.active_dials(), s.jobs()), (0, 0));
    }

    #[test]
    fn the_per_peer_limit_holds_back_dials_until_one_finishes() {
        let now = Instant::now();
        let config = DialSyncConfig {
            limiter: LimiterConfig {
                per_peer_limit: 1,
                ..LimiterConfig::default()
            },
            ..DialSyncConfig::default()
        };
        let mut s = DialSync::new(peer(0), config, |_| true);
        let mut req = request(1, &[QUIC, TCP]);
        req.simultaneous_connect = true;
        s.dial_peer(peer(1), req, now);
        let d = dials(&mut s);
        assert_eq!(d.len(), 1, "the second waits in the limiter");
        assert_eq!(s.limiter().waiting_on_peer(&peer(1)), 1);
        s.dial_failed(
            d[0].0,
            AddrDialError::Timeout,
            now + Duration::from_secs(15),
        );
        let d = dials(&mut s);
        assert_eq!(d.len(), 1);
        assert_eq!(d[0].1, TCP);
    }

    #[test]
    fn deadlines_are_short_for_local_addresses() {
        let now = Instant::now();
        let mut s = sync();
        s.dial_peer(peer(1), request(1, &["/ip4/127.0.0.1/udp/1/quic-v1"]), now);
        let ev = events(&mut s);
        let [DialEvent::Dial { deadline, .. }] = ev.as_slice() else {
            panic!("{ev:?}")
        };
        assert_eq!(*deadline, now + Duration::from_secs(5));
    }

    #[test]
    fn failures_back_off_until_a_connection_is_established() {
        let now = Instant::now();
        let mut s = sync();
        s.dial_peer(peer(1), request(1, &[TCP]), now);
        let d = dials(&mut s);
        let refused = AddrDialError::Io(std::sync::Arc::new(std::io::Error::from(
            std::io::ErrorKind::ConnectionRefused,
        )));
        s.dial_failed(d[0].0, refused, now);
        assert_eq!(events(&mut s).len(), 1);
        s.dial_peer(peer(1), request(2, &[TCP]), now + Duration::from_secs(1));
        let ev = events(&mut s);
        assert!(
            matches!(ev.as_slice(), [DialEvent::Complete { result: Err(e), .. }] if e.cause == DialErrorCause::NoGoodAddresses)
        );
        s.connection_established(&peer(1));
        s.dial_peer(peer(1), request(3, &[TCP]), now + Duration::from_secs(1));
        assert_eq!(dials(&mut s).len(), 1);
    }

    #[test]
    fn black_holed_udp_is_probed_every_100_requests_and_unblocked_by_a_successful_probe() {
        let start = Instant::now();
        let mut s = sync();
        // 100 QUIC dials to different peers fail: UDP is a black hole.
        for n in 1..=100u8 {
            s.dial_peer(peer(n), request(u64::from(n), &[QUIC]), start);
            let d = dials(&mut s);
            assert_eq!(d.len(), 1);
            s.dial_failed(d[0].0, AddrDialError::Timeout, start);
            assert_eq!(events(&mut s).len(), 1);
        }
        assert_eq!(s.black_holes().udp_state(), Some(BlackHoleState::Blocked));
        // Requests keep being counted: the 200th overall is the next probe.
        let mut refused = 0;
        let probe = loop {
            s.dial_peer(peer(200), request(1000 + refused, &[QUIC]), start);
            match events(&mut s).pop() {
                Some(DialEvent::Dial { job, .. }) => break job,
                Some(DialEvent::Complete { result: Err(e), .. }) => {
                    assert!(matches!(
                        e.error_for(&ma(QUIC)),
                        Some(AddrDialError::BlackHole)
                    ));
                    refused += 1;
                }
                other => panic!("{other:?}"),
            }
        };
        assert_eq!(refused, 99);
        s.dial_succeeded(probe, ConnectionId(1), start);
        assert!(matches!(
            events(&mut s).as_slice(),
            [DialEvent::Complete { result: Ok(_), .. }]
        ));
        assert_eq!(s.black_holes().udp_state(), Some(BlackHoleState::Probing));
        s.dial_peer(peer(201), request(5000, &[QUIC]), start);
        assert_eq!(dials(&mut s).len(), 1);
    }

    /// One step of the property test.
    #[derive(Debug, Clone)]
    enum Op {
        Request {
            peer: u8,
            addrs: u8,
            simultaneous: bool,
            force_direct: bool,
        },
        Cancel(usize),
        Succeed(usize),
        Fail(usize),
        Progress(usize),
        Advance(u16),
    }

    fn op() -> impl proptest::strategy::Strategy<Value = Op> {
        use proptest::prelude::*;
        prop_oneof![
            3 => (1u8..6, 1u8..64, any::<bool>(), any::<bool>()).prop_map(
                |(peer, addrs, simultaneous, force_direct)| Op::Request {
                    peer,
                    addrs,
                    simultaneous,
                    force_direct
                }
            ),
            1 => any::<usize>().prop_map(Op::Cancel),
            1 => any::<usize>().prop_map(Op::Succeed),
            2 => any::<usize>().prop_map(Op::Fail),
            1 => any::<usize>().prop_map(Op::Progress),
            2 => (0u16..2000).prop_map(Op::Advance),
        ]
    }

    const POOL: [&str; 6] = [
        "/ip4/1.2.3.4/udp/4001/quic-v1",
        "/ip4/1.2.3.4/tcp/4001",
        "/ip6/2604:1380::1/udp/4001/quic-v1",
        "/ip4/10.0.0.7/tcp/4001",
        "/ip4/5.6.7.8/tcp/4001/p2p-circuit",
        "/ip4/1.2.3.4/udp/4002/webrtc-direct",
    ];

    /// The driver's view of the world in the property test.
    #[derive(Default)]
    struct World {
        outstanding: HashMap<RequestId, PeerId>,
        running: HashMap<DialJobId, (PeerId, Multiaddr)>,
    }

    impl World {
        fn absorb(&mut self, s: &mut DialSync, now: Instant) {
            while let Some(e) = s.poll_event() {
                match e {
                    DialEvent::Dial {
                        job,
                        peer,
                        addr,
                        deadline,
                    } => {
                        assert!(deadline > now);
                        assert!(
                            !self.running.values().any(|(p, a)| p == &peer && a == &addr),
                            "{addr} of {peer} dialed twice at once"
                        );
                        assert!(self.running.insert(job, (peer, addr)).is_none());
                    }
                    DialEvent::Abort { job } => {
                        assert!(self.running.remove(&job).is_some(), "abort of unknown dial");
                    }
                    DialEvent::Complete {
                        peer,
                        requests,
                        result,
                    } => {
                        assert!(!requests.is_empty());
                        for r in requests {
                            assert_eq!(
                                self.outstanding.remove(&r),
                                Some(peer.clone()),
                                "answered twice"
                            );
                        }
                        if let Err(e) = result {
                            assert!(e.errors.len() <= MAX_DIAL_ERRORS);
                        }
                    }
                }
            }
            let limits = LimiterConfig::default();
            assert!(s.limiter().fd_consuming() <= limits.fd_limit);
            for n in 1..6 {
                assert!(s.limiter().active_for_peer(&peer(n)) <= limits.per_peer_limit);
            }
            assert_eq!(s.jobs(), s.limiter().len());
            // Liveness: a waiting caller always has a deadline ahead.
            if !self.outstanding.is_empty() {
                assert!(s.poll_timeout().is_some());
            }
        }

        fn pick(&self, i: usize) -> Option<DialJobId> {
            let mut jobs: Vec<DialJobId> = self.running.keys().copied().collect();
            jobs.sort();
            jobs.get(i % jobs.len().max(1)).copied()
        }
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(64))]
        /// Random callers, outcomes and clock steps: every caller is answered exactly once, no
        /// address is dialed twice at once, the limits hold, and once time runs out nothing is
        /// left: no worker, no job, no token.
        #[test]
        fn every_caller_is_answered_once_and_nothing_leaks(ops in proptest::collection::vec(op(), 1..200)) {
            let mut now = Instant::now();
            let mut s = sync();
            let mut w = World::default();
            let mut next_id = 0u64;
            for op in ops {
                match op {
                    Op::Request { peer: p, addrs, simultaneous, force_direct } => {
                        let addrs = POOL
                            .iter()
                            .enumerate()
                            .filter(|(i, _)| addrs & (1 << i) != 0)
                            .map(|(_, a)| ma(a))
                            .collect();
                        let mut req = DialRequest::new(RequestId(next_id), addrs);
                        req.simultaneous_connect = simultaneous;
                        req.force_direct = force_direct;
                        w.outstanding.insert(RequestId(next_id), peer(p));
                        next_id += 1;
                        s.dial_peer(peer(p), req, now);
                    }
                    Op::Cancel(i) => {
                        let mut ids: Vec<(RequestId, PeerId)> =
                            w.outstanding.iter().map(|(r, p)| (*r, p.clone())).collect();
                        ids.sort();
                        if let Some((r, p)) = ids.get(i % ids.len().max(1)).cloned() {
                            assert!(s.cancel_request(&p, r, now));
                            w.outstanding.remove(&r);
                        }
                    }
                    Op::Succeed(i) => {
                        if let Some(job) = w.pick(i) {
                            w.running.remove(&job);
                            assert!(s.dial_succeeded(job, ConnectionId(i as u64), now));
                        }
                    }
                    Op::Fail(i) => {
                        if let Some(job) = w.pick(i) {
                            w.running.remove(&job);
                            assert!(s.dial_failed(job, AddrDialError::Timeout, now));
                        }
                    }
                    Op::Progress(i) => {
                        if let Some(job) = w.pick(i) {
                            s.handshake_progressed(job, now);
                        }
                    }
                    Op::Advance(ms) => {
                        now += Duration::from_millis(u64::from(ms));
                        if s.poll_timeout().is_some_and(|t| t <= now) {
                            s.handle_timeout(now);
                        }
                    }
                }
                w.absorb(&mut s, now);
            }
            // Let every dial fail, then let time run out.
            for _ in 0..3 {
                while let Some(job) = w.pick(0) {
                    w.running.remove(&job);
                    s.dial_failed(job, AddrDialError::Timeout, now);
                    w.absorb(&mut s, now);
                }
                now += Duration::from_secs(61);
                s.handle_timeout(now);
                w.absorb(&mut s, now);
            }
            proptest::prop_assert!(w.outstanding.is_empty(), "unanswered: {:?}", w.outstanding);
            proptest::prop_assert!(w.running.is_empty());
            proptest::prop_assert_eq!((s.active_dials(), s.jobs()), (0, 0));
            proptest::prop_assert!(s.limiter().is_empty());
            proptest::prop_assert_eq!(s.limiter().fd_consuming(), 0);
            proptest::prop_assert_eq!(s.poll_timeout(), None);
        }
    }
}
