//! The identify service of a host (go-libp2p's `identify.IDService`): answers
//! `/ipfs/id/1.0.0`, asks every new connection's peer (inbound and outbound), takes pushes on
//! `/ipfs/id/push/1.0.0`, and pushes to connected peers when our protocols change. The message
//! codec is [`peernet_core::identify`].

use std::sync::{Arc, Weak};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use peernet_core::identify::{Identify, IdentifyReader, SignedPeerRecord, PROTOCOL, PUSH_PROTOCOL};
use peernet_core::identity::PeerRecord;
use peernet_core::{Multiaddr, PeerId};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::broadcast::error::RecvError;

use crate::connection::Stream;
use crate::host::basic::{
    Host, HostEvent, IdentifyInfo, Inner, MAX_OBSERVED_ADDRS, PROTOCOL_VERSION,
};
use crate::host::error::HostError;
use crate::host::peerstore::{AddrTtl, RecordOutcome};
use crate::ids::ConnectionId;
use crate::metrics::IdentifyEvent;
use crate::swarm::{DialOptions, SwarmEvent};

/// Time allowed for a whole identify or push exchange (read or write).
pub const TIMEOUT: Duration = Duration::from_secs(30);

fn upgrade(weak: &Weak<Inner>) -> Option<Host> {
    weak.upgrade().map(|inner| Host { inner })
}

/// Registers the identify handlers and starts watching connections.
pub(super) fn start(host: &Host) {
    let weak = Arc::downgrade(&host.inner);
    let w = weak.clone();
    host.inner.swarm.set_stream_handler(PROTOCOL, move |mut s| {
        let host = upgrade(&w);
        async move {
            let Some(host) = host else { return };
            let msg = our_identify(&host, Some(s.remote_addr().clone()));
            let write = async {
                s.write_all(&msg.to_framed()).await?;
                s.shutdown().await?;
                drain(&mut s).await
            };
            match tokio::time::timeout(TIMEOUT, write).await {
                Ok(Ok(())) => count(&host, IdentifyEvent::Sent),
                Ok(Err(e)) => {
                    tracing::debug!(peer = %s.remote_peer(), error = %e, "identify answer failed")
                }
                Err(_) => tracing::debug!(peer = %s.remote_peer(), "identify answer timed out"),
            }
        }
    });
    let w = weak.clone();
    host.inner.swarm.set_stream_handler(PUSH_PROTOCOL, move |s| {
        let host = upgrade(&w);
        async move {
            let Some(host) = host else { return };
            let peer = s.remote_peer().clone();
            match read_and_apply(&host, s, true).await {
                Ok(_) => {
                    let _ = host.inner.events.send(HostEvent::Pushed { peer });
                }
                Err(e) => tracing::debug!(%peer, error = %peernet_core::error::Chain(&e), "identify push refused"),
            }
        }
    });
    {
        let mut list = host
            .inner
            .protocols
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        list.push(PROTOCOL.to_owned());
        list.push(PUSH_PROTOCOL.to_owned());
    }
    let mut events = host.inner.swarm.subscribe();
    tokio::spawn(async move {
        loop {
            let event = match events.recv().await {
                Ok(e) => e,
                Err(RecvError::Lagged(n)) => {
                    tracing::warn!(missed = n, "identify fell behind on connection events");
                    continue;
                }
                Err(RecvError::Closed) => return,
            };
            let Some(host) = upgrade(&weak) else { return };
            match event {
                SwarmEvent::Connected { peer, conn, .. } => {
                    let over = host.inner.swarm.stats().connections
                        > host.inner.conn_manager.config().high_water;
                    if over {
                        let host = host.clone();
                        tokio::spawn(async move { host.trim_open_conns().await });
                    }
                    tokio::spawn(identify_conn(host, peer, conn));
                }
                SwarmEvent::Disconnected { peer, .. } => {
                    if host.inner.swarm.conns_to_peer(&peer).is_empty() {
                        host.inner.peerstore.update_addrs(
                            &peer,
                            AddrTtl::Connected,
                            AddrTtl::RecentlyConnected,
                        );
                    }
                }
                SwarmEvent::Listen { .. } | SwarmEvent::ListenClose { .. } => {}
            }
        }
    });
}

/// Identifies the peer of a new connection and announces the outcome.
async fn identify_conn(host: Host, peer: PeerId, id: ConnectionId) {
    let Some(conn) = host
        .inner
        .swarm
        .conns_to_peer(&peer)
        .into_iter()
        .find(|c| c.id() == id)
    else {
        return;
    };
    let result = match tokio::time::timeout(TIMEOUT, conn.open_stream(&[PROTOCOL])).await {
        Ok(Ok(stream)) => run_identify(&host, stream).await,
        Ok(Err(e)) => Err(HostError::Swarm(e.into())),
        Err(_) => Err(HostError::Timeout(peer.clone())),
    };
    let event = match result {
        Ok(info) => HostEvent::Identified {
            peer,
            info: Box::new(info),
        },
        Err(e) => {
            tracing::debug!(%peer, error = %peernet_core::error::Chain(&e), "identify failed");
            HostEvent::IdentifyFailed { peer }
        }
    };
    let _ = host.inner.events.send(event);
}

/// Our signed peer record for `addrs`: the one made last while the addresses stay the same,
/// else a new one whose sequence number is the time in microseconds, or one more than the
/// previous record's if the clock went back, so that peers always take the newest.
fn our_record(host: &Host, addrs: &[Multiaddr]) -> Option<SignedPeerRecord> {
    let mut cached = host.inner.record.lock().unwrap_or_else(|e| e.into_inner());
    if let Some((for_addrs, record)) = cached.as_ref() {
        if for_addrs.as_slice() == addrs {
            return Some(record.clone());
        }
    }
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_micros() as u64)
        .unwrap_or(0);
    let seq = match cached.as_ref() {
        Some((_, previous)) => now.max(previous.record.seq.saturating_add(1)),
        None => now,
    };
    let record = PeerRecord {
        peer_id: host.id().clone(),
        seq,
        addresses: addrs.iter().map(Multiaddr::to_vec).collect(),
    };
    match record.seal(host.keypair()) {
        Ok(envelope) => {
            let signed = SignedPeerRecord { record, envelope };
            *cached = Some((addrs.to_vec(), signed.clone()));
            Some(signed)
        }
        Err(e) => {
            tracing::warn!(error = %e, "cannot seal our peer record");
            None
        }
    }
}

/// Our identify message; `observed` is where we see the remote.
fn our_identify(host: &Host, observed: Option<Multiaddr>) -> Identify {
    let listen_addrs = host.listen_addrs();
    let signed_peer_record = our_record(host, &listen_addrs);
    Identify {
        protocol_version: Some(PROTOCOL_VERSION.to_owned()),
        agent_version: Some(host.inner.user_agent.clone()),
        public_key: Some(host.keypair().public().clone()),
        listen_addrs,
        observed_addr: observed,
        protocols: host.protocols(),
        signed_peer_record,
        skipped_addrs: 0,
    }
}

/// Reads the identify answer on `stream` (which we opened) and records it.
pub(super) async fn run_identify(host: &Host, stream: Stream) -> Result<IdentifyInfo, HostError> {
    read_and_apply(host, stream, false).await
}

/// Waits for the remote to finish its side of a stream we are done writing to, discarding
/// what it sends (at most a few bytes are expected). Dropping a stream whose receive side is
/// still open resets it, and a reset may overtake the data we wrote.
async fn drain(s: &mut Stream) -> std::io::Result<()> {
    let mut sink = [0u8; 256];
    let mut total = 0usize;
    loop {
        match s.read(&mut sink).await? {
            0 => return Ok(()),
            n => total += n,
        }
        if total > 64 * 1024 {
            return Err(std::io::Error::other(
                "remote keeps writing on an identify stream",
            ));
        }
    }
}

/// Counts `event` if the host keeps metrics.
fn count(host: &Host, event: IdentifyEvent) {
    if let Some(m) = host.metrics() {
        m.identify(event);
    }
}

/// Reads identify messages until the remote closes, validates them and records them.
async fn read_and_apply(
    host: &Host,
    stream: Stream,
    push: bool,
) -> Result<IdentifyInfo, HostError> {
    let result = read_and_apply_inner(host, stream, push).await;
    let event = match (&result, push) {
        (Ok(_), false) => IdentifyEvent::Received,
        (Err(_), false) => IdentifyEvent::Failed,
        (Ok(_), true) => IdentifyEvent::PushReceived,
        (Err(_), true) => IdentifyEvent::PushRefused,
    };
    count(host, event);
    result
}

async fn read_and_apply_inner(
    host: &Host,
    mut stream: Stream,
    push: bool,
) -> Result<IdentifyInfo, HostError> {
    let peer = stream.remote_peer().clone();
    if !push {
        // We send nothing on identify: finish our side so the responder can close cleanly.
        stream.shutdown().await.map_err(|error| HostError::Io {
            service: "identify",
            peer: peer.clone(),
            error,
        })?;
    }
    let read = async {
        let mut reader = IdentifyReader::new();
        let mut buf = vec![0u8; 4096];
        loop {
            let n = stream.read(&mut buf).await.map_err(|error| HostError::Io {
                service: "identify",
                peer: peer.clone(),
                error,
            })?;
            let Some(data) = buf.get(..n) else { break };
            if n == 0 {
                break;
            }
            reader.push(data).map_err(|error| HostError::Identify {
                peer: peer.clone(),
                error,
            })?;
        }
        reader.finish().map_err(|error| HostError::Identify {
            peer: peer.clone(),
            error,
        })
    };
    let message = match tokio::time::timeout(TIMEOUT, read).await {
        Ok(r) => r?,
        Err(_) => {
            let _ = stream.reset();
            return Err(HostError::Timeout(peer));
        }
    };
    apply(host, &peer, &message, push)?;
    Ok(IdentifyInfo { peer, message })
}

/// Checks that `msg` speaks for `peer` and records it in the peerstore.
fn apply(host: &Host, peer: &PeerId, msg: &Identify, push: bool) -> Result<(), HostError> {
    if let Some(key) = &msg.public_key {
        if !peer.is_public_key(key) {
            return Err(HostError::IdentityMismatch(peer.clone()));
        }
    }
    if let Some(spr) = &msg.signed_peer_record {
        if &spr.record.peer_id != peer {
            return Err(HostError::IdentityMismatch(peer.clone()));
        }
    }
    let ps = &host.inner.peerstore;
    if let Some(key) = &msg.public_key {
        ps.add_public_key(peer, key.clone())?;
    }
    if !push || !msg.protocols.is_empty() {
        ps.set_protocols(peer, msg.protocols.iter().cloned())?;
    }
    ps.set_versions(
        peer,
        msg.agent_version.clone(),
        msg.protocol_version.clone(),
    )?;
    let ttl = if host.inner.swarm.conns_to_peer(peer).is_empty() {
        AddrTtl::RecentlyConnected
    } else {
        AddrTtl::Connected
    };
    // A signed record is the authority on addresses (go prefers it) when it is newer than the
    // one we hold; a stale one is ignored, listen list included. Without one, the listen list.
    match &msg.signed_peer_record {
        Some(spr) => {
            if let RecordOutcome::Stale { held } = ps.consume_peer_record(peer, spr, ttl)? {
                tracing::debug!(%peer, seq = spr.record.seq, held, "stale signed peer record ignored");
            }
        }
        None => ps.add_addrs(peer, msg.listen_addrs.clone(), ttl)?,
    }
    if let (Some(observed), false) = (&msg.observed_addr, push) {
        let mut list = host
            .inner
            .observed
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        list.retain(|a| a != observed);
        list.push(observed.clone());
        if list.len() > MAX_OBSERVED_ADDRS {
            list.remove(0);
        }
    }
    Ok(())
}

/// Pushes our identify to every connected peer known to accept pushes (after a handler
/// change), each on its own task.
pub(super) fn push_to_all(host: &Host) {
    for peer in host.inner.swarm.peers() {
        let supports_push = host
            .inner
            .peerstore
            .first_supported_protocol(&peer, &[PUSH_PROTOCOL])
            .is_some();
        if !supports_push {
            continue;
        }
        let host = host.clone();
        tokio::spawn(async move {
            let push = async {
                let options = DialOptions {
                    no_dial: true,
                    ..DialOptions::default()
                };
                let mut s = host
                    .inner
                    .swarm
                    .new_stream_with(&peer, &[PUSH_PROTOCOL], options)
                    .await
                    .map_err(|e| {
                        std::io::Error::other(peernet_core::error::Chain(&e).to_string())
                    })?;
                s.write_all(&our_identify(&host, None).to_framed()).await?;
                s.shutdown().await?;
                drain(&mut s).await
            };
            match tokio::time::timeout(TIMEOUT, push).await {
                Ok(Ok(())) => count(&host, IdentifyEvent::PushSent),
                Ok(Err(e)) => tracing::debug!(%peer, error = %e, "identify push failed"),
                Err(_) => tracing::debug!(%peer, "identify push timed out"),
            }
        });
    }
}

impl Host {
    /// Runs identify with `peer` now (on its best connection, dialing if needed), records the
    /// result in the peerstore and returns it.
    ///
    /// # Errors
    ///
    /// Dial or stream errors, [`HostError::Timeout`], a malformed message, or an identity that
    /// is not the peer's.
    pub async fn identify(&self, peer: &PeerId) -> Result<IdentifyInfo, HostError> {
        let stream = self
            .new_stream(peer, &[peernet_core::identify::PROTOCOL])
            .await?;
        run_identify(self, stream).await
    }
}
