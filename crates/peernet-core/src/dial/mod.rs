//! The dialer's timing and planning core: which addresses of a peer to dial, when, how many at
//! once, and which to avoid — go-libp2p's swarm dialer (`p2p/net/swarm`) without goroutines,
//! channels or clocks.
//!
//! | go-libp2p                                      | here                    | one per |
//! |------------------------------------------------|-------------------------|---------|
//! | `dialSync` + `Swarm.dialNextAddr`/`limitedDial` (`dial_sync.go`, `swarm_dial.go`) | [`DialSync`] | swarm |
//! | `dialWorker` (`dial_worker.go`)                | [`DialWorker`]          | peer being dialed |
//! | `DefaultDialRanker` (`dial_ranker.go`)         | [`rank_addrs`]          | —       |
//! | `dialLimiter` (`limiter.go`)                   | [`DialLimiter`]         | swarm   |
//! | `DialBackoff` (`swarm_dial.go`)                | [`DialBackoff`]         | swarm   |
//! | `blackHoleDetector` (`black_hole_detector.go`) | [`BlackHoleDetector`]   | swarm   |
//! | `DialError`, `TransportError` (`dial_error.go`) | [`DialError`], [`FailedAddr`] | — |
//!
//! # Driving it
//!
//! Every input takes the current `Instant` and nothing reads a clock, so tests run in simulated
//! time. A tokio swarm drives one [`DialSync`]:
//!
//! ```text
//!  caller ── DialRequest ──► DialSync::dial_peer ──► DialWorker (one per peer; callers join)
//!                                                        │ Action::Dial(addr), ranked, paced
//!                                                        ▼
//!                                                   DialLimiter (8 per peer, 160 fds)
//!                                                        │
//!  driver ◄── DialEvent::Dial { job, addr, deadline } ◄──┘
//!    │  transport dial; abort at deadline
//!    └─► DialSync::dial_succeeded / dial_failed / handshake_progressed (job)
//!                                                        │ backoff, black holes, next batch
//!  caller ◄── DialEvent::Complete { requests, result } ◄─┘
//!
//!  timers: sleep until DialSync::poll_timeout, then DialSync::handle_timeout
//! ```
//!
//! The parts can also be driven one by one: a [`DialWorker`] borrows the swarm-wide
//! [`DialBackoff`] and [`BlackHoleDetector`] through a [`DialEnv`] on each call, and its
//! [`Action::Dial`]s go through a [`DialLimiter`]. This example drives a worker alone:
//!
//! ```
//! use std::time::{Duration, Instant};
//! use peernet_core::dial::*;
//! use peernet_core::Multiaddr;
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
//! The behaviour is go's, rule for rule, except:
//!
//! - Backoff is checked when a request arrives instead of when an address's batch comes up.
//!   Only this worker adds backoff for its peer while it runs, so the only difference is an
//!   entry that expires during the ranking delay (at most about 1.5 s).
//! - A request whose every address is filtered out fails with
//!   [`DialErrorCause::NoGoodAddresses`] (with `Backoff` among the address errors) where go
//!   reports `ErrAllDialsFailed` for all-backed-off peers.
//! - Only errors that follow a real connection attempt ([`AddrDialError`]'s network and remote
//!   variants, except `Cancelled`) put an address into backoff; go also backs off after
//!   local refusals reported at dial time (no transport, gater).
//! - A worker stops dialing as soon as no request waits, and [`DialSync`] then aborts its
//!   running dials at once; go gets the same effect by cancelling the worker's context when the
//!   last caller leaves.
//! - go's `bestAcceptableConnToPeer` checks (when a request arrives, and before a request
//!   fails) see every connection of the swarm; the worker sees only the one it dialed. The
//!   driver checks its connection table before [`DialSync::dial_peer`], and may look again
//!   before forwarding a failure, for a connection that arrived inbound meanwhile.
//! - The 60 s peer dial timeout is a per-request deadline inside the worker (go: the caller's
//!   context); the per-dial deadlines are handed out with each grant and enforced by the driver.
//! - Ties in the ranking keep the caller's order (go's sort is unstable).
//! - Not here, because they are I/O or policy the driver owns: DNS resolution, the connection
//!   gater, `bestAcceptableConnToPeer`, and the read-only black hole mode used by AutoNAT.
//! - A TCP handshake in progress holds further dials for [`PUBLIC_TCP_DELAY`], as go's code does
//!   (go's ranker comment says twice that).

mod addr_class;
mod backoff;
mod black_hole;
mod error;
mod limiter;
mod ranker;
mod sync;
mod worker;

#[cfg(test)]
mod tests;

use crate::multiaddr::{Multiaddr, Protocol};
pub use backoff::{BackoffConfig, DialBackoff};
pub use black_hole::{BlackHoleConfig, BlackHoleDetector, BlackHoleState, BlackHoleSuccessCounter};
pub use error::{AddrDialError, DialError, DialErrorCause, FailedAddr, MAX_DIAL_ERRORS};
pub use limiter::{DialJobId, DialLimiter, GrantedDial, LimiterConfig};
pub use ranker::{
    rank_addrs, rank_addrs_no_delay, AddrDelay, PRIVATE_OTHER_DELAY, PRIVATE_QUIC_DELAY,
    PRIVATE_TCP_DELAY, PUBLIC_OTHER_DELAY, PUBLIC_QUIC_DELAY, PUBLIC_TCP_DELAY, RELAY_DELAY,
};
pub use sync::{DialEvent, DialSync, DialSyncConfig};
/// `now + d`, saturating instead of panicking when a configured duration is absurdly long: a
/// deadline a century away is as good as never.
fn later(now: std::time::Instant, d: std::time::Duration) -> std::time::Instant {
    const CENTURY: std::time::Duration = std::time::Duration::from_secs(100 * 365 * 24 * 3600);
    now.checked_add(d.min(CENTURY)).unwrap_or(now)
}

pub use worker::{
    Action, ConnectionId, DialEnv, DialRequest, DialSuccess, DialWorker, DialWorkerConfig,
    RequestId, MAX_ADDRS_PER_REQUEST,
};
