//! Dial worker scenarios in simulated time, and helpers shared by the module tests.

use std::time::{Duration, Instant};

use super::*;
use crate::PeerId;

/// A distinct peer id per `n` (a sha2-256 multihash of `n` repeated).
pub(crate) fn peer(n: u8) -> PeerId {
    PeerId::from_bytes(&[[0x12, 0x20].as_slice(), &[n; 32]].concat()).unwrap()
}

fn ma(s: &str) -> Multiaddr {
    s.parse().unwrap()
}

const QUIC: &str = "/ip4/1.2.3.4/udp/4001/quic-v1";
const TCP: &str = "/ip4/1.2.3.4/tcp/4001";

/// One worker plus the swarm-wide state it borrows, on a simulated clock.
struct Harness {
    start: Instant,
    backoff: DialBackoff,
    black_holes: BlackHoleDetector,
    listen: Vec<Multiaddr>,
    can_dial: fn(&Multiaddr) -> bool,
    worker: DialWorker,
}

fn dial_anything(_: &Multiaddr) -> bool {
    true
}

impl Harness {
    fn new() -> Self {
        let start = Instant::now();
        Harness {
            start,
            backoff: DialBackoff::default(),
            black_holes: BlackHoleDetector::default(),
            listen: Vec::new(),
            can_dial: dial_anything,
            worker: DialWorker::new(peer(1), DialWorkerConfig::default(), start),
        }
    }

    fn at(&self, ms: u64) -> Instant {
        self.start + Duration::from_millis(ms)
    }

    /// A fresh worker for the same peer, keeping backoff and black hole state.
    fn restart(&mut self, ms: u64) {
        self.worker = DialWorker::new(peer(1), DialWorkerConfig::default(), self.at(ms));
    }

    fn add(&mut self, ms: u64, req: DialRequest) {
        let now = self.at(ms);
        let mut env = DialEnv {
            listen_addrs: &self.listen,
            can_dial: &self.can_dial,
            backoff: &mut self.backoff,
            black_holes: &mut self.black_holes,
        };
        self.worker.add_request(req, &mut env, now);
    }

    fn request(&mut self, ms: u64, id: u64, addrs: &[&str]) {
        let addrs = addrs.iter().map(|a| ma(a)).collect();
        self.add(ms, DialRequest::new(RequestId(id), addrs));
    }

    fn succeed(&mut self, ms: u64, addr: &str, conn: u64) {
        let now = self.at(ms);
        let mut env = DialEnv {
            listen_addrs: &self.listen,
            can_dial: &self.can_dial,
            backoff: &mut self.backoff,
            black_holes: &mut self.black_holes,
        };
        self.worker
            .dial_succeeded(&ma(addr), ConnectionId(conn), &mut env, now);
    }

    fn fail(&mut self, ms: u64, addr: &str, error: AddrDialError) {
        let now = self.at(ms);
        let mut env = DialEnv {
            listen_addrs: &self.listen,
            can_dial: &self.can_dial,
            backoff: &mut self.backoff,
            black_holes: &mut self.black_holes,
        };
        self.worker.dial_failed(&ma(addr), error, &mut env, now);
    }

    fn tick(&mut self, ms: u64) {
        self.worker.handle_timeout(self.at(ms));
    }

    fn actions(&mut self) -> Vec<Action> {
        std::iter::from_fn(|| self.worker.poll_action()).collect()
    }

    /// The addresses to dial now; panics on any other action.
    fn dials(&mut self) -> Vec<String> {
        self.actions()
            .into_iter()
            .map(|a| match a {
                Action::Dial(addr) => addr.to_string(),
                other => panic!("expected only dials, got {other:?}"),
            })
            .collect()
    }

    /// Exactly one `Complete` and nothing else.
    fn completion(&mut self) -> (Vec<RequestId>, Result<DialSuccess, DialError>) {
        let mut actions = self.actions();
        assert_eq!(actions.len(), 1, "{actions:?}");
        match actions.pop() {
            Some(Action::Complete { requests, result }) => (requests, result),
            other => panic!("expected a completion, got {other:?}"),
        }
    }

    fn timeout_ms(&self) -> Option<u64> {
        self.worker
            .poll_timeout()
            .map(|t| (t - self.start).as_millis() as u64)
    }
}

fn io_error() -> AddrDialError {
    AddrDialError::Io(std::sync::Arc::new(std::io::Error::from(
        std::io::ErrorKind::ConnectionRefused,
    )))
}

fn handshake_error() -> AddrDialError {
    let e: Box<dyn std::error::Error + Send + Sync> = "bad noise".into();
    AddrDialError::Handshake(e.into())
}

#[test]
fn quic_is_dialed_before_tcp_and_tcp_only_after_its_delay() {
    let mut h = Harness::new();
    h.request(0, 1, &[TCP, QUIC]);
    assert_eq!(h.dials(), vec![QUIC]);
    assert_eq!(h.timeout_ms(), Some(250));
    h.tick(249);
    assert!(h.dials().is_empty());
    h.tick(250);
    assert_eq!(h.dials(), vec![TCP]);
    assert_eq!(h.worker.dials_in_flight(), 2);
    // Only the request deadline is left to wait for.
    assert_eq!(h.timeout_ms(), Some(60_000));
}

#[test]
fn second_batch_starts_at_once_when_the_first_fails() {
    let mut h = Harness::new();
    h.request(0, 1, &[TCP, QUIC]);
    assert_eq!(h.dials(), vec![QUIC]);
    h.fail(20, QUIC, io_error());
    assert_eq!(h.dials(), vec![TCP], "no waiting for the 250 ms timer");
    assert!(h.backoff.is_backed_off(&peer(1), &ma(QUIC), h.at(20)));
}

#[test]
fn a_batch_waits_while_another_dial_is_still_in_flight() {
    let mut h = Harness::new();
    let q2 = "/ip4/1.2.3.4/udp/4002/quic-v1";
    h.request(0, 1, &[QUIC, q2, TCP]);
    assert_eq!(h.dials(), vec![QUIC]);
    h.tick(250);
    assert_eq!(h.dials(), vec![q2]);
    h.fail(260, QUIC, io_error());
    assert!(h.dials().is_empty(), "q2 is still in flight");
    assert_eq!(h.timeout_ms(), Some(500));
    h.tick(500);
    assert_eq!(h.dials(), vec![TCP]);
}

#[test]
fn concurrent_requests_join_the_same_dials_and_share_the_connection() {
    let mut h = Harness::new();
    h.request(0, 1, &[QUIC, TCP]);
    assert_eq!(h.dials(), vec![QUIC]);
    h.request(5, 2, &[QUIC]);
    h.request(6, 3, &[TCP, QUIC]);
    assert!(h.dials().is_empty(), "no address is dialed twice");
    h.succeed(30, QUIC, 7);
    let (requests, result) = h.completion();
    assert_eq!(requests, vec![RequestId(1), RequestId(2), RequestId(3)]);
    let success = result.unwrap();
    assert_eq!(success.conn, ConnectionId(7));
    assert_eq!(success.addr, ma(QUIC));
    assert!(h.worker.is_idle());
    assert!(h.worker.is_connected());
    assert_eq!(h.timeout_ms(), None, "nothing left to dial for");
    h.tick(1000);
    assert!(h.dials().is_empty());

    // A late caller gets the connection at once.
    h.request(2000, 4, &[TCP, QUIC]);
    let (requests, result) = h.completion();
    assert_eq!(requests, vec![RequestId(4)]);
    assert_eq!(result.unwrap().conn, ConnectionId(7));
}

#[test]
fn every_address_error_is_aggregated() {
    let mut h = Harness::new();
    let own = "/ip4/1.2.3.4/tcp/9";
    let memory = "/memory/5";
    let v6 = "/ip6/2604:1380::1/udp/4001/quic-v1";
    h.listen = vec![ma(own)];
    h.can_dial = |a| !a.to_string().starts_with("/memory");
    h.request(0, 1, &[QUIC, TCP, v6, own, memory]);
    assert_eq!(h.dials(), vec![v6]);
    h.fail(10, v6, AddrDialError::Timeout);
    assert_eq!(h.dials(), vec![QUIC]);
    h.fail(20, QUIC, io_error());
    assert_eq!(h.dials(), vec![TCP]);
    h.fail(30, TCP, handshake_error());
    let (requests, result) = h.completion();
    assert_eq!(requests, vec![RequestId(1)]);
    let err = result.unwrap_err();
    assert_eq!(err.cause, DialErrorCause::AllDialsFailed);
    assert_eq!(err.peer, peer(1));
    assert_eq!(err.errors.len(), 5);
    assert!(matches!(
        err.error_for(&ma(memory)),
        Some(AddrDialError::NoTransport)
    ));
    assert!(matches!(
        err.error_for(&ma(own)),
        Some(AddrDialError::OwnListenAddr)
    ));
    assert!(matches!(
        err.error_for(&ma(v6)),
        Some(AddrDialError::Timeout)
    ));
    assert!(matches!(
        err.error_for(&ma(QUIC)),
        Some(AddrDialError::Io(_))
    ));
    assert!(matches!(
        err.error_for(&ma(TCP)),
        Some(AddrDialError::Handshake(_))
    ));
    let text = err.to_string();
    assert!(
        text.contains("all dials failed") && text.contains(TCP),
        "{text}"
    );
}

#[test]
fn joined_request_collects_errors_from_before_it_arrived() {
    let mut h = Harness::new();
    h.request(0, 1, &[QUIC, TCP]);
    assert_eq!(h.dials(), vec![QUIC]);
    h.fail(10, QUIC, io_error());
    assert_eq!(h.dials(), vec![TCP]);
    h.request(20, 2, &[QUIC, TCP]);
    h.fail(30, TCP, io_error());
    let actions = h.actions();
    assert_eq!(actions.len(), 2, "each failure is answered on its own");
    for a in actions {
        let Action::Complete { result, .. } = a else {
            panic!("{a:?}")
        };
        assert_eq!(result.unwrap_err().errors.len(), 2);
    }
    // Everything has failed: a new request fails at once.
    h.request(40, 3, &[QUIC]);
    let (_, result) = h.completion();
    assert_eq!(result.unwrap_err().cause, DialErrorCause::AllDialsFailed);
}

#[test]
fn public_tcp_handshake_in_progress_holds_the_next_batch() {
    let mut h = Harness::new();
    let t6 = "/ip6/2604:1380::1/tcp/4001";
    h.request(0, 1, &[TCP, t6]);
    assert_eq!(h.dials(), vec![t6]);
    h.worker.handshake_progressed(&ma(t6), h.at(200));
    assert_eq!(h.timeout_ms(), Some(450));
    h.tick(250);
    assert!(h.dials().is_empty());
    h.tick(450);
    assert_eq!(h.dials(), vec![TCP]);
}

#[test]
fn private_tcp_handshake_holds_nothing() {
    let mut h = Harness::new();
    let a = "/ip4/192.168.1.2/tcp/1";
    let b = "/ip4/192.168.1.2/tcp/2";
    h.request(0, 1, &[a, b]);
    assert_eq!(h.dials(), vec![a]);
    h.worker.handshake_progressed(&ma(a), h.at(10));
    assert_eq!(h.timeout_ms(), Some(30));
}

#[test]
fn backed_off_addresses_are_skipped_unless_force_direct() {
    let mut h = Harness::new();
    h.request(0, 1, &[QUIC, TCP]);
    assert_eq!(h.dials(), vec![QUIC]);
    h.fail(10, QUIC, io_error());
    assert_eq!(h.dials(), vec![TCP]);
    h.fail(20, TCP, io_error());
    assert!(h.completion().1.is_err());

    // A new dial to the peer within 5 s: both addresses are in backoff.
    h.restart(1000);
    h.request(1000, 2, &[QUIC, TCP]);
    let (_, result) = h.completion();
    let err = result.unwrap_err();
    assert_eq!(err.cause, DialErrorCause::NoGoodAddresses);
    assert!(matches!(
        err.error_for(&ma(TCP)),
        Some(AddrDialError::Backoff)
    ));

    // force_direct ignores backoff.
    let mut req = DialRequest::new(RequestId(3), vec![ma(QUIC), ma(TCP)]);
    req.force_direct = true;
    h.add(1000, req);
    assert_eq!(h.dials(), vec![QUIC]);
    h.succeed(1010, QUIC, 1);
    assert!(h.completion().1.is_ok());
    assert!(
        h.backoff.is_empty(),
        "a connection clears the peer's backoff"
    );

    // After it expires, the address is dialed again.
    h.backoff.add_backoff(&peer(1), &ma(TCP), h.at(2000));
    h.restart(7000);
    h.request(7000, 4, &[TCP]);
    assert_eq!(h.dials(), vec![TCP]);
}

#[test]
fn force_direct_skips_relayed_addresses() {
    let mut h = Harness::new();
    let relay = "/ip4/5.6.7.8/tcp/1/p2p-circuit";
    let mut req = DialRequest::new(RequestId(1), vec![ma(relay)]);
    req.force_direct = true;
    h.add(0, req);
    let (_, result) = h.completion();
    assert_eq!(result.unwrap_err().cause, DialErrorCause::NoGoodAddresses);
}

#[test]
fn relayed_addresses_come_500_ms_after_direct_ones() {
    let mut h = Harness::new();
    let relay = "/ip4/5.6.7.8/udp/1/quic-v1/p2p-circuit";
    h.request(0, 1, &[relay, QUIC]);
    assert_eq!(h.dials(), vec![QUIC]);
    assert_eq!(h.timeout_ms(), Some(500));
    h.tick(500);
    assert_eq!(h.dials(), vec![relay]);
}

#[test]
fn requests_time_out_after_the_peer_dial_timeout() {
    let mut h = Harness::new();
    h.request(0, 1, &[QUIC]);
    assert_eq!(h.dials(), vec![QUIC]);
    h.request(10_000, 2, &[QUIC]);
    assert_eq!(h.timeout_ms(), Some(60_000));
    h.tick(60_000);
    let (requests, result) = h.completion();
    assert_eq!(requests, vec![RequestId(1)]);
    assert_eq!(result.unwrap_err().cause, DialErrorCause::Timeout);
    assert_eq!(h.timeout_ms(), Some(70_000));
}

#[test]
fn cancelled_requests_are_forgotten_and_stop_further_dials() {
    let mut h = Harness::new();
    h.request(0, 1, &[QUIC, TCP]);
    assert_eq!(h.dials(), vec![QUIC]);
    assert!(h.worker.cancel_request(RequestId(1)));
    assert!(!h.worker.cancel_request(RequestId(1)));
    assert!(h.worker.is_idle());
    assert_eq!(h.timeout_ms(), None);
    h.tick(1000);
    assert!(h.actions().is_empty());
    h.fail(1100, QUIC, io_error());
    assert!(
        h.actions().is_empty(),
        "nobody to answer, nothing more to dial"
    );
}

#[test]
fn simultaneous_connect_dials_everything_at_once_even_if_queued() {
    let mut h = Harness::new();
    h.request(0, 1, &[QUIC, TCP]);
    assert_eq!(h.dials(), vec![QUIC]);
    let mut req = DialRequest::new(RequestId(2), vec![ma(QUIC), ma(TCP)]);
    req.simultaneous_connect = true;
    h.add(10, req);
    assert_eq!(h.dials(), vec![TCP], "TCP no longer waits for its 250 ms");
}

#[test]
fn black_holed_udp_is_refused_and_tcp_goes_first() {
    let mut h = Harness::new();
    for _ in 0..100 {
        h.black_holes.record_result(&ma(QUIC), false);
    }
    h.request(0, 1, &[QUIC, TCP]);
    assert_eq!(h.dials(), vec![TCP]);
    h.fail(10, TCP, io_error());
    let (_, result) = h.completion();
    let err = result.unwrap_err();
    assert!(matches!(
        err.error_for(&ma(QUIC)),
        Some(AddrDialError::BlackHole)
    ));
}

#[test]
fn lower_priority_duplicates_of_an_ip_port_are_dropped() {
    let mut h = Harness::new();
    let wt = "/ip4/1.2.3.4/udp/4001/quic-v1/webtransport";
    let ws = "/ip4/1.2.3.4/tcp/4001/ws";
    h.request(0, 1, &[wt, ws, QUIC, TCP]);
    assert_eq!(h.dials(), vec![QUIC]);
    h.tick(250);
    assert_eq!(h.dials(), vec![TCP]);
    h.tick(10_000);
    assert!(h.dials().is_empty());
}

#[test]
fn no_addresses_and_quic_draft29_are_reported() {
    let mut h = Harness::new();
    h.request(0, 1, &[]);
    let (_, result) = h.completion();
    assert_eq!(result.unwrap_err().cause, DialErrorCause::NoAddresses);

    h.can_dial = |a| !a.to_string().ends_with("/quic");
    let draft = "/ip4/1.2.3.4/udp/1/quic";
    h.request(0, 2, &[draft]);
    let (_, result) = h.completion();
    let err = result.unwrap_err();
    assert_eq!(err.cause, DialErrorCause::NoGoodAddresses);
    assert!(matches!(
        err.error_for(&ma(draft)),
        Some(AddrDialError::QuicDraft29)
    ));
}

#[test]
fn errors_beyond_the_cap_are_counted() {
    let mut h = Harness::new();
    h.can_dial = |_| false;
    let addrs: Vec<String> = (1..=20).map(|p| format!("/ip4/1.2.3.4/tcp/{p}")).collect();
    let refs: Vec<&str> = addrs.iter().map(String::as_str).collect();
    h.request(0, 1, &refs);
    let (_, result) = h.completion();
    let err = result.unwrap_err();
    assert_eq!(err.errors.len(), MAX_DIAL_ERRORS);
    assert_eq!(err.skipped, 4);
}

#[test]
fn reports_for_unknown_addresses_are_ignored() {
    let mut h = Harness::new();
    h.request(0, 1, &[QUIC, TCP]);
    h.dials();
    h.succeed(5, TCP, 1); // queued, not dialed
    h.fail(5, "/ip4/9.9.9.9/tcp/1", io_error());
    assert!(h.actions().is_empty());
    assert_eq!(h.worker.dials_in_flight(), 1);
}

#[test]
fn a_request_whose_addresses_fail_still_gets_the_connection_made_for_another() {
    let mut h = Harness::new();
    let other = "/ip4/5.6.7.8/udp/1/quic-v1";
    h.request(0, 1, &[QUIC]);
    h.request(0, 2, &[other]);
    assert_eq!(h.dials(), vec![QUIC, other]);
    h.succeed(10, QUIC, 1);
    let (requests, _) = h.completion();
    assert_eq!(
        requests,
        vec![RequestId(1)],
        "only the request waiting on QUIC"
    );
    assert!(!h.worker.is_idle());
    h.fail(20, other, io_error());
    let (requests, result) = h.completion();
    assert_eq!(requests, vec![RequestId(2)]);
    assert_eq!(
        result.unwrap().conn,
        ConnectionId(1),
        "go's final bestAcceptableConnToPeer"
    );
    assert!(
        !h.backoff.is_backed_off(&peer(1), &ma(other), h.at(20)),
        "no backoff once connected"
    );
}

#[test]
fn a_relayed_connection_does_not_satisfy_a_force_direct_request() {
    let mut h = Harness::new();
    let relay = "/ip4/5.6.7.8/tcp/1/p2p-circuit";
    h.request(0, 1, &[relay]);
    h.request(0, 2, &[relay, TCP]);
    assert_eq!(h.dials(), vec![relay, TCP]);
    h.succeed(10, relay, 1);
    let (requests, _) = h.completion();
    assert_eq!(requests, vec![RequestId(1), RequestId(2)]);
    // Request 3 joins the TCP dial still in flight and will not take the relayed connection.
    let mut req = DialRequest::new(RequestId(3), vec![ma(TCP)]);
    req.force_direct = true;
    h.add(20, req);
    assert!(h.actions().is_empty());
    h.fail(30, TCP, io_error());
    let (requests, result) = h.completion();
    assert_eq!(requests, vec![RequestId(3)]);
    assert_eq!(result.unwrap_err().cause, DialErrorCause::AllDialsFailed);
    // A plain request takes it at once.
    h.request(40, 4, &[TCP]);
    let (_, result) = h.completion();
    assert_eq!(result.unwrap().conn, ConnectionId(1));
}

#[test]
fn a_trailing_p2p_component_is_stripped_and_duplicates_merged() {
    let mut h = Harness::new();
    let with_id = format!("{QUIC}/p2p/{}", peer(1));
    h.request(0, 1, &[&with_id, QUIC]);
    assert_eq!(h.dials(), vec![QUIC]);
    h.tick(10_000);
    assert!(h.dials().is_empty(), "the same address is not dialed twice");
}

/// Addresses the scheduling property test draws from: private and public, IPv4 and IPv6, QUIC,
/// TCP, WebTransport, WebRTC and relayed, so that many different delays occur.
const SCHEDULING_POOL: [&str; 12] = [
    "/ip4/1.2.3.4/udp/1/quic-v1",
    "/ip4/1.2.3.4/udp/2/quic-v1",
    "/ip6/2604:1380::1/udp/1/quic-v1",
    "/ip4/1.2.3.4/tcp/1",
    "/ip4/1.2.3.4/tcp/2",
    "/ip6/2604:1380::1/tcp/1",
    "/ip4/10.0.0.1/udp/1/quic-v1",
    "/ip4/10.0.0.1/tcp/1",
    "/ip4/1.2.3.4/udp/3/quic-v1/webtransport",
    "/ip4/1.2.3.4/udp/4/webrtc-direct",
    "/ip4/5.6.7.8/tcp/1/p2p-circuit",
    "/ip4/5.6.7.8/udp/1/quic-v1/p2p-circuit",
];

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig::with_cases(256))]
    /// go's `TestDialWorkerLoopSchedulingProperty`, with the real ranker: every address is
    /// dialed at most once, never before its ranked delay unless nothing else was in flight,
    /// in order of delay, and nothing is dialed after the success.
    #[test]
    fn dials_follow_the_ranking_schedule(
        mask in 1u16..(1 << SCHEDULING_POOL.len()),
        outcomes in proptest::collection::vec((0u64..1200, proptest::prelude::any::<bool>()), SCHEDULING_POOL.len()),
    ) {
        let mut h = Harness::new();
        let addrs: Vec<&str> = SCHEDULING_POOL
            .iter()
            .enumerate()
            .filter(|(i, _)| mask & (1 << i) != 0)
            .map(|(_, a)| *a)
            .collect();
        let owned: Vec<Multiaddr> = addrs.iter().map(|a| ma(a)).collect();
        let delays: std::collections::HashMap<String, u64> = rank_addrs(&owned)
            .into_iter()
            .map(|a| (a.addr.to_string(), a.delay.as_millis() as u64))
            .collect();
        // Outcome per address: (after how long, success?).
        let outcome = |addr: &str| {
            let i = SCHEDULING_POOL.iter().position(|a| *a == addr).unwrap();
            outcomes[i]
        };

        h.request(0, 1, &addrs);
        let mut now = 0u64;
        let mut in_flight: std::collections::BTreeMap<String, u64> = Default::default(); // addr → outcome time
        let mut dialed = std::collections::HashSet::new();
        let mut last_delay = 0;
        let mut succeeded = false;
        let mut done = false;
        let mut steps = 0;
        loop {
            let in_flight_before = in_flight.len();
            for action in h.actions() {
                match action {
                    Action::Dial(addr) => {
                        let addr = addr.to_string();
                        proptest::prop_assert!(!succeeded, "dial after success");
                        proptest::prop_assert!(dialed.insert(addr.clone()), "{} dialed twice", addr);
                        let delay = delays[&addr];
                        proptest::prop_assert!(
                            now >= delay || in_flight_before == 0,
                            "{} dialed at {} ms before its delay {} ms with {} in flight",
                            addr, now, delay, in_flight_before
                        );
                        proptest::prop_assert!(delay >= last_delay, "out of order");
                        last_delay = delay;
                        in_flight.insert(addr.clone(), now + outcome(&addr).0);
                    }
                    Action::Complete { result, .. } => {
                        proptest::prop_assert_eq!(result.is_ok(), succeeded);
                        done = true;
                    }
                }
            }
            if done {
                break;
            }
            steps += 1;
            proptest::prop_assert!(steps < 1000, "no progress");
            // Advance to the next event: a dial outcome or the worker's timer.
            let next_outcome = in_flight.iter().min_by_key(|(a, t)| (**t, (*a).clone())).map(|(a, t)| (a.clone(), *t));
            let timer = h.timeout_ms();
            let outcome_first = match (&next_outcome, timer) {
                (Some((_, t)), Some(tm)) => *t <= tm,
                (Some(_), None) => true,
                (None, _) => false,
            };
            if let (true, Some((addr, t))) = (outcome_first, next_outcome) {
                now = t;
                in_flight.remove(&addr);
                if outcome(&addr).1 && !succeeded {
                    succeeded = true;
                    h.succeed(now, &addr, 1);
                } else {
                    h.fail(now, &addr, AddrDialError::Timeout);
                }
            } else if let Some(tm) = timer {
                now = tm;
                h.tick(now);
            } else {
                proptest::prop_assert!(false, "stuck with nothing to wait for");
            }
        }
        if !succeeded {
            proptest::prop_assert_eq!(dialed.len(), addrs.len(), "every address tried before failing");
        }
    }
}
