//! The dialer: callers' requests into the dial planner ([`DialSync`](peernet_core::dial::DialSync),
//! go's dial sync, workers and limiter, sans-IO in core), the task that sleeps until the
//! planner's next timer, and one task per address dial (go's `dialAddr`).

use std::sync::{Arc, Weak};

use peernet_core::dial::{
    AddrDialError, DialError, DialErrorCause, DialEvent, DialJobId, DialRequest, FailedAddr,
    RequestId, MAX_DIAL_ERRORS,
};
use peernet_core::{Multiaddr, PeerId};
use tokio::sync::{oneshot, Notify};

use crate::connection::{Connection, Stream, StreamError};
use crate::swarm::error::SwarmError;
use crate::swarm::state::{now, DialOptions, Inner, State, Swarm};
use crate::transport::{
    is_dns_addr, resolve_dial_addrs, DnsConfig, QuicError, Transport, TransportError,
};
use crate::upgrader::UpgradeError;

/// Withdraws a caller's dial request if it stops waiting.
struct CancelOnDrop<'a> {
    swarm: &'a Swarm,
    peer: PeerId,
    id: RequestId,
    armed: bool,
}

impl Drop for CancelOnDrop<'_> {
    fn drop(&mut self) {
        if self.armed {
            self.swarm.feed_dial_sync(|st| {
                st.pending.remove(&self.id);
                st.dial_sync.cancel_request(&self.peer, self.id, now());
            });
        }
    }
}

impl Swarm {
    /// Feeds the dial planner: runs `feed` on the state under its lock, acts at once on every
    /// event the planner has for us ([`drain_dial_events`](Self::drain_dial_events)), and
    /// wakes the driver, whose next timer may have changed. Every input to the planner but the
    /// driver's own timer goes through here.
    fn feed_dial_sync<R>(&self, feed: impl FnOnce(&mut State) -> R) -> R {
        let mut st = self.state();
        let result = feed(&mut st);
        self.drain_dial_events(&mut st);
        drop(st);
        self.inner.wake_driver.notify_one();
        result
    }

    /// Opens a stream to `peer` negotiated to the first of `protocols` it supports (go's
    /// `NewStream`), on the best connection or a new dial to the addresses of
    /// [`add_peer_addrs`](Self::add_peer_addrs).
    pub async fn new_stream(
        &self,
        peer: &PeerId,
        protocols: &[&str],
    ) -> Result<Stream, SwarmError> {
        self.new_stream_with(peer, protocols, DialOptions::default())
            .await
    }

    /// [`new_stream`](Self::new_stream) with options. If the connection turns out to have just
    /// closed, it tries once more on another (or a new) connection.
    pub async fn new_stream_with(
        &self,
        peer: &PeerId,
        protocols: &[&str],
        options: DialOptions,
    ) -> Result<Stream, SwarmError> {
        let mut retried = false;
        loop {
            let conn = match self.best_conn(peer) {
                Some(conn) => conn,
                None if options.no_dial => return Err(SwarmError::NoConnection(peer.clone())),
                None => {
                    let addrs = self.peer_addrs(peer);
                    self.dial_peer_with(peer, addrs, options).await?
                }
            };
            match conn.open_stream(protocols).await {
                Ok(stream) => return Ok(stream),
                Err(StreamError::Muxer(_) | StreamError::ClosedByRemote(_))
                    if !retried && conn.is_closed() =>
                {
                    retried = true;
                    self.remove_conn(&conn);
                }
                Err(e) => return Err(e.into()),
            }
        }
    }

    /// A connection to `peer`: the best existing one, or one dialed at `addrs` (go's
    /// `DialPeer`). Concurrent callers for one peer share one dial.
    pub async fn dial_peer(
        &self,
        peer: &PeerId,
        addrs: Vec<Multiaddr>,
    ) -> Result<Connection, SwarmError> {
        self.dial_peer_with(peer, addrs, DialOptions::default())
            .await
    }

    /// [`dial_peer`](Self::dial_peer) with options.
    pub async fn dial_peer_with(
        &self,
        peer: &PeerId,
        addrs: Vec<Multiaddr>,
        options: DialOptions,
    ) -> Result<Connection, SwarmError> {
        if let Err((step, reason)) = self.inner.gater.check_peer_dial(peer) {
            return Err(SwarmError::Gated { step, reason });
        }
        if let Some(conn) = self.best_conn(peer) {
            return Ok(conn);
        }
        if options.no_dial {
            return Err(SwarmError::NoConnection(peer.clone()));
        }
        self.inner.resources.check_dial(peer)?;
        // go's `resolveAddrs`: names become IP addresses before the worker ranks them.
        let addrs = resolve_for_dial(peer, addrs, &self.inner.dns).await?;
        let (tx, rx) = oneshot::channel();
        let id = self.feed_dial_sync(|st| {
            if st.closed {
                return Err(SwarmError::Closed);
            }
            let id = RequestId(st.next_id);
            st.next_id += 1;
            st.pending.insert(id, (peer.clone(), tx));
            let mut request = DialRequest::new(id, addrs);
            request.force_direct = options.force_direct;
            st.dial_sync.dial_peer(peer.clone(), request, now());
            Ok(id)
        })?;
        let mut guard = CancelOnDrop {
            swarm: self,
            peer: peer.clone(),
            id,
            armed: true,
        };
        let answer = rx.await;
        guard.armed = false;
        match answer {
            Ok(Ok(Some(conn))) => Ok(conn),
            // The dialed connection is gone already: say so rather than dial again.
            Ok(Ok(None)) => self
                .best_conn(peer)
                .ok_or_else(|| SwarmError::NoConnection(peer.clone())),
            // A connection may have arrived inbound meanwhile.
            Ok(Err(e)) => self.best_conn(peer).ok_or(SwarmError::Dial(e)),
            Err(_) => Err(SwarmError::Closed),
        }
    }

    /// Acts on everything the dial planner asks for.
    pub(super) fn drain_dial_events(&self, st: &mut State) {
        while let Some(event) = st.dial_sync.poll_event() {
            match event {
                DialEvent::Dial {
                    job,
                    peer,
                    addr,
                    deadline,
                } => {
                    if let Err(reason) = self.inner.gater.check_addr_dial(&peer, &addr) {
                        st.dial_sync
                            .dial_failed(job, AddrDialError::Gated(reason), now());
                        continue;
                    }
                    let Some(transport) = Self::transport_for(st, &addr) else {
                        st.dial_sync
                            .dial_failed(job, AddrDialError::NoTransport, now());
                        continue;
                    };
                    let task = dial_addr(self.clone(), job, peer, addr, deadline, transport);
                    let handle = self.spawn(task);
                    st.dial_tasks.insert(job, handle);
                }
                DialEvent::Abort { job } => {
                    if let Some(handle) = st.dial_tasks.remove(&job) {
                        handle.abort();
                    }
                }
                DialEvent::Complete {
                    peer,
                    requests,
                    result,
                } => {
                    let answer = match result {
                        Ok(success) => Ok(st.dialed.get(&success.conn).cloned()),
                        Err(e) => Err(e),
                    };
                    for id in requests {
                        if let Some((_, tx)) = st.pending.remove(&id) {
                            let _ = tx.send(answer.clone());
                        }
                    }
                    if st.dial_sync.worker(&peer).is_none() {
                        st.dialed.retain(|_, c| c.remote_peer() != &peer);
                    }
                }
            }
        }
    }
}

/// Sleeps until the dial planner's next timer, or until woken because it may have changed.
pub(super) async fn run_driver(swarm: Weak<Inner>, wake: Arc<Notify>) {
    loop {
        let deadline = {
            let Some(inner) = swarm.upgrade() else { return };
            let handle = Swarm { inner };
            let deadline = handle.state().dial_sync.poll_timeout();
            deadline
        };
        match deadline {
            Some(at) => {
                tokio::select! {
                    () = wake.notified() => {}
                    () = tokio::time::sleep_until(tokio::time::Instant::from_std(at)) => {}
                }
            }
            None => wake.notified().await,
        }
        let Some(inner) = swarm.upgrade() else { return };
        let handle = Swarm { inner };
        let mut st = handle.state();
        st.dial_sync.handle_timeout(now());
        // Not `feed_dial_sync`: that would wake this very loop.
        handle.drain_dial_events(&mut st);
    }
}

/// Resolves the DNS addresses of a dial. Names that fail are logged; if nothing is left to
/// dial, the dial fails with every name's error.
async fn resolve_for_dial(
    peer: &PeerId,
    addrs: Vec<Multiaddr>,
    config: &DnsConfig,
) -> Result<Vec<Multiaddr>, DialError> {
    if !addrs.iter().any(is_dns_addr) {
        return Ok(addrs);
    }
    let resolved = resolve_dial_addrs(addrs, config).await;
    for (addr, e) in &resolved.failed {
        tracing::debug!(%peer, %addr, error = %e, "DNS resolution failed");
    }
    if resolved.addrs.is_empty() && !resolved.failed.is_empty() {
        let mut errors = Vec::new();
        for (addr, e) in resolved.failed {
            errors.push(FailedAddr {
                addr,
                cause: AddrDialError::Resolve(Arc::new(e)),
            });
        }
        errors.truncate(MAX_DIAL_ERRORS);
        return Err(DialError {
            peer: peer.clone(),
            cause: DialErrorCause::NoGoodAddresses,
            errors,
            skipped: 0,
        });
    }
    Ok(resolved.addrs)
}

/// Maps a transport's error to the dial planner's vocabulary.
fn addr_dial_error(e: TransportError) -> AddrDialError {
    if let Some((expected, actual)) = e.peer_id_mismatch() {
        return AddrDialError::PeerIdMismatch {
            expected: expected.clone(),
            actual: actual.clone(),
        };
    }
    match e {
        TransportError::Unsupported(_) => AddrDialError::NoTransport,
        TransportError::Io(e) => AddrDialError::Io(Arc::new(e)),
        TransportError::PeerIdMismatch { expected, in_addr } => AddrDialError::PeerIdMismatch {
            expected,
            actual: in_addr,
        },
        TransportError::Upgrade(UpgradeError::Gated { step, reason }) => {
            AddrDialError::Gated(format!("{step}: {reason}"))
        }
        TransportError::Upgrade(e) => AddrDialError::Handshake(Arc::new(e)),
        TransportError::Quic(QuicError::Draft29Unsupported(_)) => AddrDialError::QuicDraft29,
        TransportError::Quic(QuicError::Timeout(_)) => AddrDialError::Timeout,
        TransportError::Quic(e) => AddrDialError::Handshake(Arc::new(e)),
        TransportError::Ws(e) => AddrDialError::Handshake(Arc::new(e)),
        TransportError::Dns(e) => AddrDialError::Resolve(Arc::new(e)),
    }
}

/// Dials one address for the planner (go's `dialAddr`), within its deadline, and reports the
/// outcome.
async fn dial_addr(
    swarm: Swarm,
    job: DialJobId,
    peer: PeerId,
    addr: Multiaddr,
    deadline: std::time::Instant,
    transport: Transport,
) {
    let progressed = {
        let swarm = swarm.clone();
        move || swarm.feed_dial_sync(|st| st.dial_sync.handshake_progressed(job, now()))
    };
    let counted = swarm.inner.metrics.as_ref().map(|m| m.dial_started(&addr));
    let dial = transport.dial_with_progress(&addr, Some(peer.clone()), progressed);
    let deadline = tokio::time::Instant::from_std(deadline);
    let result = match tokio::time::timeout_at(deadline, dial).await {
        Err(_) => Err(AddrDialError::Timeout),
        Ok(Err(e)) => Err(addr_dial_error(e)),
        Ok(Ok(conn)) if conn.remote_peer() != &peer => {
            let actual = conn.remote_peer().clone();
            conn.close().await;
            Err(AddrDialError::PeerIdMismatch {
                expected: peer.clone(),
                actual,
            })
        }
        Ok(Ok(conn)) => match swarm.add_conn(conn.clone()) {
            Ok(()) => Ok(conn),
            Err(SwarmError::Gated { step, reason }) => {
                Err(AddrDialError::Gated(format!("{step}: {reason}")))
            }
            Err(_) => Err(AddrDialError::Cancelled),
        },
    };
    if let Err(e) = &result {
        tracing::debug!(%peer, %addr, error = %e, "dial failed");
    }
    if let Some(counted) = counted {
        counted.done(result.as_ref().err());
    }
    swarm.feed_dial_sync(|st| {
        st.dial_tasks.remove(&job);
        match result {
            Ok(conn) => {
                let id = conn.id();
                st.dialed.insert(id, conn);
                if !st.dial_sync.dial_succeeded(job, id, now()) {
                    st.dialed.remove(&id);
                }
            }
            Err(e) => {
                st.dial_sync.dial_failed(job, e, now());
            }
        }
    });
}
