//! The dialer's timing and planning core: which addresses of a peer to dial, when, how many at
//! once, and which to avoid — go-libp2p's swarm dialer (`p2p/net/swarm`) without goroutines,
//! channels or clocks.
//!
//! | go-libp2p                              | here                   | one per |
//! |----------------------------------------|------------------------|---------|
//! | `dialWorker` (`dial_worker.go`)         | [`DialWorker`]         | peer being dialed |
//! | `DefaultDialRanker` (`dial_ranker.go`)  | [`rank_addrs`]         | —       |
//! | `dialLimiter` (`limiter.go`)            | [`DialLimiter`]        | swarm   |
//! | `DialBackoff` (`swarm_dial.go`)         | [`DialBackoff`]        | swarm   |
//! | `blackHoleDetector` (`black_hole_detector.go`) | [`BlackHoleDetector`] | swarm |
//! | `DialError`, `TransportError`           | [`DialError`], [`TransportError`] | — |
//!
//! go's `dialSync` — at most one worker per peer, every concurrent caller joining it — is the
//! driver's map from [`PeerId`](crate::PeerId) to [`DialWorker`]: a caller with no usable
//! connection adds a [`DialRequest`] to the peer's worker, creating the worker if there is
//! none.
//!
//! # Driving it
//!
//! The tokio swarm pumps these machines; every input takes the current `Instant`, nothing reads a
//! clock, so tests run in simulated time.
//!
//! ```text
//!  caller ──DialRequest──► DialWorker::add_request ─┐
//!                                                    │ poll_action
//!             ┌──────── Action::Dial(addr) ◄─────────┤
//!             ▼                                      │
//!  DialLimiter::add_dial_job ─► poll_granted ─► transport dial until GrantedDial::deadline
//!             ▲                                   │
//!             └──── finished_dial ◄───────────────┤
//!                                                 ▼
//!        DialWorker::dial_succeeded / dial_failed / handshake_progressed
//!                                                    │ poll_action
//!  caller ◄──────── Action::Complete{requests, result} ◄──┘
//!
//!  timers: sleep until DialWorker::poll_timeout, then DialWorker::handle_timeout
//! ```
//!
//! [`DialBackoff`] and [`BlackHoleDetector`] are swarm-wide; the driver lends them to the
//! worker in a [`DialEnv`] on each call, and the worker consults and updates them.
//!
//! ```
//! use std::time::{Duration, Instant};
//! use peernet_core::dial::*;
//! # fn peer() -> peernet_core::PeerId {
//! #     peernet_core::PeerId::from_bytes(&[[0x12, 0x20].as_slice(), &[7; 32]].concat()).unwrap()
//! # }
//!
//! let start = Instant::now();
//! let (mut backoff, mut black_holes) = (DialBackoff::default(), BlackHoleDetector::default());
//! let mut env = DialEnv {
//!     listen_addrs: &[],
//!     can_dial: &|_| true,
//!     backoff: &mut backoff,
//!     black_holes: &mut black_holes,
//! };
//! let quic: Multiaddr = "/ip4/1.2.3.4/udp/4001/quic-v1".parse()?;
//! let tcp: Multiaddr = "/ip4/1.2.3.4/tcp/4001".parse()?;
//!
//! let mut worker = DialWorker::new(peer(), DialWorkerConfig::default(), start);
//! let request = DialRequest::new(RequestId(1), vec![tcp.clone(), quic.clone()]);
//! worker.add_request(request, &mut env, start);
//! // QUIC goes first; TCP is due 250 ms later.
//! assert!(matches!(worker.poll_action(), Some(Action::Dial(a)) if a == quic));
//! assert!(worker.poll_action().is_none());
//! assert_eq!(worker.poll_timeout(), Some(start + Duration::from_millis(250)));
//!
//! worker.dial_succeeded(&quic, ConnectionId(9), &mut env, start + Duration::from_millis(40));
//! match worker.poll_action() {
//!     Some(Action::Complete { requests, result: Ok(success) }) => {
//!         assert_eq!(requests, vec![RequestId(1)]);
//!         assert_eq!(success.conn, ConnectionId(9));
//!     }
//!     other => panic!("{other:?}"),
//! }
//! assert!(worker.is_idle());
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! # Differences from go-libp2p
//!
//! - Backoff is checked when a request arrives instead of when an address's batch comes up.
//!   Only this worker adds backoff for its peer while it runs, so the only difference is an
//!   entry that expires during the ranking delay (at most about 1.5 s).
//! - A request whose every address is filtered out fails with
//!   [`DialErrorCause::NoGoodAddresses`] (with `Backoff` among the address errors) where go
//!   reports `ErrAllDialsFailed` for all-backed-off peers.
//! - The worker stops dialing queued addresses as soon as no request is waiting; go gets the
//!   same effect by ending the worker when the last caller leaves.
//! - Ties in the ranking keep the caller's order (go's sort is unstable).
//! - The connection gater and DNS resolution are the driver's, before `add_request`.

mod addr_class;
mod backoff;
mod black_hole;
mod error;
mod limiter;
mod ranker;
mod stand_in;
mod worker;

#[cfg(test)]
mod tests;

pub use backoff::{BackoffConfig, DialBackoff};
pub use black_hole::{BlackHoleConfig, BlackHoleDetector, BlackHoleState, BlackHoleSuccessCounter};
pub use error::{AddrDialError, DialError, DialErrorCause, TransportError, MAX_DIAL_ERRORS};
pub use limiter::{DialJobId, DialLimiter, GrantedDial, LimiterConfig};
pub use ranker::{
    rank_addrs, rank_addrs_no_delay, AddrDelay, PRIVATE_OTHER_DELAY, PRIVATE_QUIC_DELAY,
    PRIVATE_TCP_DELAY, PUBLIC_OTHER_DELAY, PUBLIC_QUIC_DELAY, PUBLIC_TCP_DELAY, RELAY_DELAY,
};
/// Temporary: the dialer's address type until `crate::multiaddr::Multiaddr` lands on main.
pub use stand_in::Multiaddr;
use stand_in::Protocol;
pub use worker::{
    Action, ConnectionId, DialEnv, DialRequest, DialSuccess, DialWorker, DialWorkerConfig,
    RequestId, MAX_ADDRS_PER_REQUEST,
};
