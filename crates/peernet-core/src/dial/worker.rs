//! The dial worker: one per peer being dialed, shared by every caller that wants that peer.

use std::collections::{HashMap, HashSet, VecDeque};
use std::time::{Duration, Instant};

use super::addr_class::AddrClass;
use super::error::{AddrDialError, DialError, DialErrorCause};
use super::ranker::{rank_addrs, rank_addrs_no_delay, AddrDelay, PUBLIC_TCP_DELAY};
use super::{later, BlackHoleDetector, DialBackoff, Multiaddr};
use crate::PeerId;

/// At most this many distinct addresses of one request are considered; the rest are ignored
/// (go resolves at most 100 addresses per peer).
pub const MAX_ADDRS_PER_REQUEST: usize = 100;

/// Names one caller's dial request; chosen by the driver, unique within a worker.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct RequestId(pub u64);

/// Names an established connection; chosen by the driver when it reports a successful dial.
/// The runtime uses the same type for every connection it holds, dialed or accepted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ConnectionId(pub u64);

impl std::fmt::Display for ConnectionId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "conn-{}", self.0)
    }
}

/// One caller's wish to be connected to the worker's peer (go's `dialRequest`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DialRequest {
    /// Names the request in [`Action::Complete`].
    pub id: RequestId,
    /// The peer's known addresses, DNS already resolved. A trailing `/p2p/<id>` is stripped.
    pub addrs: Vec<Multiaddr>,
    /// Dial even addresses in backoff, and skip relayed addresses (go's
    /// `network.WithForceDirectDial`).
    pub force_direct: bool,
    /// Dial every address at once, without ranking delays, for hole punching (go's
    /// `network.WithSimultaneousConnect`).
    pub simultaneous_connect: bool,
}

impl DialRequest {
    /// A plain request: ranked dials, backoff respected, relays allowed.
    pub fn new(id: RequestId, addrs: Vec<Multiaddr>) -> Self {
        DialRequest {
            id,
            addrs,
            force_direct: false,
            simultaneous_connect: false,
        }
    }
}

/// The swarm-wide state a worker reads and updates; the driver lends it on each call.
pub struct DialEnv<'a> {
    /// Our own listen addresses: never dialed.
    pub listen_addrs: &'a [Multiaddr],
    /// Whether one of our transports can dial an address (go's `TransportForDialing != nil`).
    pub can_dial: &'a dyn Fn(&Multiaddr) -> bool,
    /// Backoff table: consulted when a request arrives, extended when a dial fails.
    pub backoff: &'a mut DialBackoff,
    /// Black hole detector: filters each request, learns from each dial outcome.
    pub black_holes: &'a mut BlackHoleDetector,
}

impl std::fmt::Debug for DialEnv<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DialEnv")
            .field("listen_addrs", &self.listen_addrs)
            .field("backoff", &self.backoff)
            .field("black_holes", &self.black_holes)
            .finish_non_exhaustive()
    }
}

/// Settings of a [`DialWorker`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DialWorkerConfig {
    /// A request not answered this long after it arrived fails with
    /// [`DialErrorCause::Timeout`] (go's `DialPeerTimeout`, 60 s).
    pub peer_dial_timeout: Duration,
}

impl Default for DialWorkerConfig {
    fn default() -> Self {
        DialWorkerConfig {
            peer_dial_timeout: Duration::from_secs(60),
        }
    }
}

/// A successful dial: the connection every answered request shares.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DialSuccess {
    /// The connection, as named by the driver in [`DialWorker::dial_succeeded`].
    pub conn: ConnectionId,
    /// The address it was dialed on.
    pub addr: Multiaddr,
}

/// What the driver must do next, from [`DialWorker::poll_action`].
#[derive(Debug, Clone)]
pub enum Action {
    /// Dial this address (through the [`DialLimiter`](super::DialLimiter)), then report with
    /// [`DialWorker::dial_succeeded`] or [`DialWorker::dial_failed`].
    Dial(Multiaddr),
    /// Answer these callers; they are no longer tracked by the worker.
    Complete {
        /// The answered requests. On success all requests waiting on the address share one
        /// action; each failure is its own action, since each carries its own error list.
        requests: Vec<RequestId>,
        /// The connection, or why the request failed.
        result: Result<DialSuccess, DialError>,
    },
}

/// Where the dial of one address stands (go's `addrDial`).
#[derive(Debug, Clone)]
enum AddrState {
    /// Ranked and waiting in the queue for its batch.
    Queued,
    /// `Action::Dial` emitted; waiting for the driver's report.
    Dialing,
    /// Dialed successfully.
    Connected(ConnectionId),
    /// Dialed (or refused at dial time) and failed.
    Failed(AddrDialError),
}

#[derive(Debug, Clone)]
struct AddrDial {
    state: AddrState,
    /// Queued on behalf of a simultaneous-connect request (its delay is zero).
    simultaneous_connect: bool,
    /// A public TCP connection finished its handshake-progress step: further batches wait until
    /// this instant (go's `expectedTCPUpgradeTime`).
    expected_upgrade: Option<Instant>,
}

/// A request still waiting (go's `pendRequest`).
#[derive(Debug, Clone)]
struct PendRequest {
    id: RequestId,
    /// Addresses whose outcome the request still waits for.
    addrs: HashSet<Multiaddr>,
    /// Errors collected so far.
    err: DialError,
    /// Fails with `DialErrorCause::Timeout` at this instant.
    deadline: Instant,
    /// A relayed connection does not satisfy it.
    force_direct: bool,
}

/// The dial state machine for one peer (go's `dialWorker`, `p2p/net/swarm/dial_worker.go`).
///
/// go's `loop` selects over three channels; here each becomes an input method:
///
/// | go `select` case        | here                                                        |
/// |-------------------------|-------------------------------------------------------------|
/// | `req := <-w.reqch`      | [`DialWorker::add_request`]                                 |
/// | `<-dialTimer.Ch()`      | [`DialWorker::handle_timeout`] at [`DialWorker::poll_timeout`] |
/// | `res := <-w.resch`      | [`DialWorker::dial_succeeded`], [`DialWorker::dial_failed`], [`DialWorker::handshake_progressed`] |
///
/// and its outputs (`w.s.dialNextAddr(…)`, `pr.req.resch <- dialResponse{…}`) are
/// [`Action`]s from [`DialWorker::poll_action`].
///
/// The worker dials each address at most once, in ranked batches: a batch is dialed when the
/// timer for its delay fires, or at once when every dial in flight has failed. While a public
/// TCP connection is running its security handshake, further batches wait up to
/// [`PUBLIC_TCP_DELAY`] for it. The first successful dial answers every request waiting on that
/// address; a request whose addresses have all failed is answered with every address's error.
///
/// Driver contract (every method takes the current time; none reads a clock):
/// - [`add_request`](Self::add_request) for each caller that has no usable connection to the
///   peer yet (check existing connections first, as go's `bestAcceptableConnToPeer` does);
/// - [`dial_succeeded`](Self::dial_succeeded) / [`dial_failed`](Self::dial_failed) once for
///   each [`Action::Dial`], [`handshake_progressed`](Self::handshake_progressed) when a TCP
///   connection is established and its security handshake starts;
/// - [`handle_timeout`](Self::handle_timeout) when the instant from
///   [`poll_timeout`](Self::poll_timeout) is reached (re-read it after every call);
/// - after every call, drain [`poll_action`](Self::poll_action);
/// - [`cancel_request`](Self::cancel_request) when a caller gives up; drop the worker (and
///   abort its dials in flight) once [`is_idle`](Self::is_idle) holds and no caller is left, as
///   go ends the worker when the last caller leaves.
#[derive(Debug)]
pub struct DialWorker {
    peer: PeerId,
    config: DialWorkerConfig,
    /// Ranking delays are offsets from this instant (go's `startTime`).
    start: Instant,
    pending: Vec<PendRequest>,
    tracked: HashMap<Multiaddr, AddrDial>,
    /// Addresses waiting to be dialed, ordered by delay, FIFO among equal delays (go's
    /// `dialQueue`).
    queue: Vec<AddrDelay>,
    dials_in_flight: usize,
    /// The first successful dial (go's `connected`, plus the connection itself, which go finds
    /// again with `bestAcceptableConnToPeer`).
    connection: Option<DialSuccess>,
    /// When the next batch is dialed (go's `dialTimer`); `None` when nothing is queued.
    next_dial: Option<Instant>,
    actions: VecDeque<Action>,
}

impl DialWorker {
    /// A worker for `peer`, started at `now`: ranking delays count from this instant.
    pub fn new(peer: PeerId, config: DialWorkerConfig, now: Instant) -> Self {
        DialWorker {
            peer,
            config,
            start: now,
            pending: Vec::new(),
            tracked: HashMap::new(),
            queue: Vec::new(),
            dials_in_flight: 0,
            connection: None,
            next_dial: None,
            actions: VecDeque::new(),
        }
    }

    /// The peer this worker dials.
    pub fn peer(&self) -> &PeerId {
        &self.peer
    }

    /// Whether a dial has succeeded.
    pub fn is_connected(&self) -> bool {
        self.connection.is_some()
    }

    /// Whether no request is waiting.
    pub fn is_idle(&self) -> bool {
        self.pending.is_empty()
    }

    /// Dials started and not yet reported.
    pub fn dials_in_flight(&self) -> usize {
        self.dials_in_flight
    }

    /// A caller wants a connection to the peer (go's `case req := <-w.reqch`).
    ///
    /// The addresses are filtered (no transport, lower-priority duplicates of the same
    /// ip:port, black-holed, unspecified, our own listen addresses, IPv6 link-local, relayed if
    /// `force_direct`, in backoff unless `force_direct`), ranked, and joined with dials already
    /// tracked: an address that already succeeded answers the request at once, one that failed
    /// contributes its error, one queued or in flight is waited on. The rest are queued. The
    /// request may be answered immediately (see [`poll_action`](Self::poll_action)).
    pub fn add_request(&mut self, req: DialRequest, env: &mut DialEnv<'_>, now: Instant) {
        if let Some(success) = self.acceptable_connection(req.force_direct) {
            self.actions.push_back(Action::Complete {
                requests: vec![req.id],
                result: Ok(success),
            });
            return;
        }
        let mut err = DialError::new(self.peer.clone(), DialErrorCause::NoAddresses);
        if req.addrs.is_empty() {
            self.fail(req.id, err);
            return;
        }
        let addrs = self.filter_addrs(&req, env, &mut err, now);
        if addrs.is_empty() {
            err.cause = DialErrorCause::NoGoodAddresses;
            self.fail(req.id, err);
            return;
        }
        let ranking = if req.simultaneous_connect {
            rank_addrs_no_delay(&addrs)
        } else {
            rank_addrs(&addrs)
        };

        let mut waiting = HashSet::with_capacity(ranking.len());
        let mut to_dial = Vec::new();
        for ad in ranking {
            match self.tracked.get_mut(&ad.addr) {
                None => to_dial.push(ad),
                Some(tracked) => match &tracked.state {
                    AddrState::Connected(conn) => {
                        let success = DialSuccess {
                            conn: *conn,
                            addr: ad.addr,
                        };
                        self.actions.push_back(Action::Complete {
                            requests: vec![req.id],
                            result: Ok(success),
                        });
                        return;
                    }
                    AddrState::Failed(e) => err.record(ad.addr, e.clone()),
                    AddrState::Dialing => {
                        waiting.insert(ad.addr);
                    }
                    AddrState::Queued => {
                        if req.simultaneous_connect && !tracked.simultaneous_connect {
                            // Hole punching: this address must go out now, not after its delay.
                            tracked.simultaneous_connect = true;
                            self.queue.retain(|q| q.addr != ad.addr);
                            queue_add(&mut self.queue, ad.clone());
                        }
                        waiting.insert(ad.addr);
                    }
                },
            }
        }
        if to_dial.is_empty() && waiting.is_empty() {
            err.cause = DialErrorCause::AllDialsFailed;
            self.fail(req.id, err);
            return;
        }
        for ad in to_dial {
            self.tracked.insert(
                ad.addr.clone(),
                AddrDial {
                    state: AddrState::Queued,
                    simultaneous_connect: req.simultaneous_connect,
                    expected_upgrade: None,
                },
            );
            waiting.insert(ad.addr.clone());
            queue_add(&mut self.queue, ad);
        }
        err.cause = DialErrorCause::AllDialsFailed;
        self.pending.push(PendRequest {
            id: req.id,
            addrs: waiting,
            err,
            deadline: later(now, self.config.peer_dial_timeout),
            force_direct: req.force_direct,
        });
        self.schedule_next_dial();
        self.run_timer(now);
    }

    /// The dial of `addr` produced connection `conn` (go's `UpdateKindDialSuccessful`).
    ///
    /// Every request waiting on `addr` is answered with it; the peer's backoff is cleared and
    /// the black hole detector learns of the success. Reports for addresses not being dialed
    /// are ignored.
    pub fn dial_succeeded(
        &mut self,
        addr: &Multiaddr,
        conn: ConnectionId,
        env: &mut DialEnv<'_>,
        now: Instant,
    ) {
        let Some(tracked) = self.tracked.get_mut(addr) else {
            return;
        };
        if !matches!(tracked.state, AddrState::Dialing) {
            return;
        }
        tracked.state = AddrState::Connected(conn);
        tracked.expected_upgrade = None;
        self.dials_in_flight = self.dials_in_flight.saturating_sub(1);
        if self.connection.is_none() {
            self.connection = Some(DialSuccess {
                conn,
                addr: addr.clone(),
            });
        }
        env.black_holes.record_result(addr, true);
        env.backoff.clear(&self.peer);

        let mut answered = Vec::new();
        self.pending.retain(|pr| {
            if pr.addrs.contains(addr) {
                answered.push(pr.id);
                false
            } else {
                true
            }
        });
        if !answered.is_empty() {
            self.actions.push_back(Action::Complete {
                requests: answered,
                result: Ok(DialSuccess {
                    conn,
                    addr: addr.clone(),
                }),
            });
        }
        // As in go, a success does not trigger the next batch at once (that would start one
        // dial more than needed); requests still waiting on other addresses keep their timer.
        self.schedule_next_dial();
        self.run_timer(now);
    }

    /// The dial of `addr` failed with `error` (go's `UpdateKindDialFailed`).
    ///
    /// The error is recorded in every request waiting on `addr`; a request with nothing left to
    /// wait for fails with all its errors. Unless the peer is already connected, the address
    /// goes into backoff. The next batch is dialed at once if no dial is left in flight.
    pub fn dial_failed(
        &mut self,
        addr: &Multiaddr,
        error: AddrDialError,
        env: &mut DialEnv<'_>,
        now: Instant,
    ) {
        let Some(tracked) = self.tracked.get_mut(addr) else {
            return;
        };
        if !matches!(tracked.state, AddrState::Dialing) {
            return;
        }
        tracked.expected_upgrade = None;
        self.dials_in_flight = self.dials_in_flight.saturating_sub(1);
        if error.was_attempted() {
            env.black_holes.record_result(addr, false);
        }
        if self.connection.is_none()
            && !matches!(error, AddrDialError::Cancelled)
            && error.was_attempted()
        {
            env.backoff.add_backoff(&self.peer, addr, now);
        }
        self.dispatch_error(addr, error);
        self.schedule_next_dial();
        self.run_timer(now);
    }

    /// The TCP connection to `addr` is established and its security handshake is under way
    /// (go's `UpdateKindHandshakeProgressed`). For a public address, no further batch is
    /// dialed for [`PUBLIC_TCP_DELAY`] from `now`, to let the handshake finish; private
    /// handshakes are quick and do not hold anything.
    pub fn handshake_progressed(&mut self, addr: &Multiaddr, now: Instant) {
        let Some(tracked) = self.tracked.get_mut(addr) else {
            return;
        };
        if !matches!(tracked.state, AddrState::Dialing) {
            return;
        }
        if AddrClass::of(addr).public {
            tracked.expected_upgrade = Some(now + PUBLIC_TCP_DELAY);
        }
        self.schedule_next_dial();
        self.run_timer(now);
    }

    /// The caller of `id` gave up: forget the request without answering it. Returns whether it
    /// was pending. Dials in flight continue; other requests may still want them.
    pub fn cancel_request(&mut self, id: RequestId) -> bool {
        let before = self.pending.len();
        self.pending.retain(|pr| pr.id != id);
        let removed = self.pending.len() != before;
        if removed {
            self.schedule_next_dial();
        }
        removed
    }

    /// Time has reached `now`: fail requests past their deadline, and dial the next batch if
    /// its time has come. Calling it early or twice is harmless.
    pub fn handle_timeout(&mut self, now: Instant) {
        let mut expired = Vec::new();
        self.pending.retain(|pr| {
            if pr.deadline <= now {
                expired.push(pr.clone());
                false
            } else {
                true
            }
        });
        for mut pr in expired {
            pr.err.cause = DialErrorCause::Timeout;
            self.fail(pr.id, pr.err);
        }
        self.schedule_next_dial();
        self.run_timer(now);
    }

    /// The next instant at which [`handle_timeout`](Self::handle_timeout) must be called:
    /// the next batch's dial time or the earliest request deadline. `None` when the worker
    /// waits only for dial reports (or for nothing).
    #[must_use]
    pub fn poll_timeout(&self) -> Option<Instant> {
        let deadline = self.pending.iter().map(|pr| pr.deadline).min();
        match (self.next_dial, deadline) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// The next thing the driver must do. Call after every input until it returns `None`.
    pub fn poll_action(&mut self) -> Option<Action> {
        self.actions.pop_front()
    }

    /// go's `addrsForDial` and `filterKnownUndialables`, in the same order, plus the backoff
    /// check that go makes when the address's batch comes up.
    fn filter_addrs(
        &self,
        req: &DialRequest,
        env: &mut DialEnv<'_>,
        err: &mut DialError,
        now: Instant,
    ) -> Vec<Multiaddr> {
        let mut seen = HashSet::new();
        let mut addrs: Vec<Multiaddr> = Vec::new();
        for a in &req.addrs {
            if addrs.len() >= MAX_ADDRS_PER_REQUEST {
                break;
            }
            // go's `stripP2PComponent`: the peer is known, dial the transport address.
            let a = if a.peer_id().is_some() {
                a.without_p2p()
            } else {
                a.clone()
            };
            if seen.insert(a.clone()) {
                addrs.push(a);
            }
        }

        addrs.retain(|a| {
            if (env.can_dial)(a) {
                return true;
            }
            let c = AddrClass::of(a);
            let cause = if c.quic_draft29 && c.udp && (c.ip4 || c.ip6) {
                AddrDialError::QuicDraft29
            } else {
                AddrDialError::NoTransport
            };
            err.record(a.clone(), cause);
            false
        });

        let addrs = filter_low_priority_addrs(addrs);

        let (mut addrs, black_holed) = env.black_holes.filter_addrs(addrs);
        for a in black_holed {
            err.record(a, AddrDialError::BlackHole);
        }

        addrs.retain(|a| {
            let c = AddrClass::of(a);
            if c.unspecified || c.ip6_link_local || (req.force_direct && c.relayed) {
                return false;
            }
            if env.listen_addrs.contains(a) {
                err.record(a.clone(), AddrDialError::OwnListenAddr);
                return false;
            }
            if !req.force_direct
                && !self.tracked.contains_key(a)
                && env.backoff.is_backed_off(&self.peer, a, now)
            {
                err.record(a.clone(), AddrDialError::Backoff);
                return false;
            }
            true
        });
        addrs
    }

    /// go's `dispatchError`: record `error` for `addr` in every request waiting on it, and fail
    /// the requests left with nothing to wait for.
    fn dispatch_error(&mut self, addr: &Multiaddr, error: AddrDialError) {
        let mut failed = Vec::new();
        self.pending.retain_mut(|pr| {
            if !pr.addrs.remove(addr) {
                return true;
            }
            pr.err.record(addr.clone(), error.clone());
            if pr.addrs.is_empty() {
                failed.push((pr.id, pr.force_direct, pr.err.clone()));
                false
            } else {
                true
            }
        });
        for (id, force_direct, mut err) in failed {
            // go's last check before failing: a connection made for another request will do.
            if let Some(success) = self.acceptable_connection(force_direct) {
                self.actions.push_back(Action::Complete {
                    requests: vec![id],
                    result: Ok(success),
                });
                continue;
            }
            err.cause = DialErrorCause::AllDialsFailed;
            self.fail(id, err);
        }
        if let Some(tracked) = self.tracked.get_mut(addr) {
            tracked.state = AddrState::Failed(error);
        }
    }

    /// The worker's connection, if it satisfies a request (go's `bestAcceptableConnToPeer`
    /// among this worker's dials: a force-direct request does not accept a relayed one).
    fn acceptable_connection(&self, force_direct: bool) -> Option<DialSuccess> {
        self.connection
            .as_ref()
            .filter(|c| !(force_direct && AddrClass::of(&c.addr).relayed))
            .cloned()
    }

    fn fail(&mut self, id: RequestId, err: DialError) {
        self.actions.push_back(Action::Complete {
            requests: vec![id],
            result: Err(err),
        });
    }

    /// go's `scheduleNextDial`: at once if nothing is in flight and we are not connected, else
    /// at the next batch's delay, pushed back by any handshake still expected to finish.
    /// Nothing is scheduled while no request waits (go's worker has exited by then).
    fn schedule_next_dial(&mut self) {
        self.next_dial = None;
        let Some(top) = self.queue.first() else {
            return;
        };
        if self.pending.is_empty() {
            return;
        }
        if self.dials_in_flight == 0 && self.connection.is_none() {
            self.next_dial = Some(self.start);
            return;
        }
        let mut at = later(self.start, top.delay);
        for t in self.tracked.values() {
            if let Some(upgrade) = t.expected_upgrade {
                at = at.max(upgrade);
            }
        }
        self.next_dial = Some(at);
    }

    /// Dials every batch whose time has come (go's `case <-dialTimer.Ch()`). The batch's own
    /// delay is not checked: a timer set early means every dial in flight failed.
    fn run_timer(&mut self, now: Instant) {
        while self.next_dial.is_some_and(|at| at <= now) {
            let Some(first) = self.queue.first() else {
                break;
            };
            let delay = first.delay;
            let n = self.queue.iter().take_while(|a| a.delay == delay).count();
            let batch: Vec<AddrDelay> = self.queue.drain(..n).collect();
            for ad in batch {
                let Some(tracked) = self.tracked.get_mut(&ad.addr) else {
                    continue;
                };
                tracked.state = AddrState::Dialing;
                self.dials_in_flight += 1;
                self.actions.push_back(Action::Dial(ad.addr));
            }
            self.schedule_next_dial();
        }
    }
}

/// go's `dialQueue.Add`: insert after every entry with a delay not greater than `ad`'s.
fn queue_add(queue: &mut Vec<AddrDelay>, ad: AddrDelay) {
    let at = queue.partition_point(|q| q.delay <= ad.delay);
    queue.insert(at, ad);
}

/// go's `filterLowPriorityAddresses`: drop QUIC draft-29 and WebTransport addresses whose
/// ip:port also has a QUIC v1 address, and WebSocket addresses whose ip:port also has a plain
/// TCP address.
fn filter_low_priority_addrs(addrs: Vec<Multiaddr>) -> Vec<Multiaddr> {
    let classes: Vec<AddrClass> = addrs.iter().map(AddrClass::of).collect();
    let mut quic_v1 = HashSet::new();
    let mut tcp = HashSet::new();
    for c in &classes {
        let Some(sock) = c.socket else { continue };
        if c.webtransport || c.websocket {
            continue;
        }
        if c.quic_v1 {
            quic_v1.insert(sock);
        } else if c.tcp {
            tcp.insert(sock);
        }
    }
    addrs
        .into_iter()
        .zip(classes)
        .filter(|(_, c)| {
            let Some(sock) = c.socket else { return true };
            if c.webtransport || c.quic_draft29 {
                !quic_v1.contains(&sock)
            } else if c.websocket {
                !tcp.contains(&sock)
            } else {
                true
            }
        })
        .map(|(a, _)| a)
        .collect()
}
