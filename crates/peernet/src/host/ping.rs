//! The host's ping service (go's `ping.PingService`): every host serves `/ipfs/ping/1.0.0`,
//! and [`Host::ping`] measures a round trip.

use std::sync::Arc;
use std::time::Duration;

use peernet_core::ping::MAX_INBOUND_STREAMS_PER_PEER;
use peernet_core::PeerId;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::host::basic::Host;
use crate::host::error::HostError;
use crate::services::ping;

/// Serves `/ipfs/ping/1.0.0`, at most [`MAX_INBOUND_STREAMS_PER_PEER`] streams per peer at once
/// (the spec's limit); a further stream is reset.
pub(super) fn serve_ping(host: &Host) {
    let weak = Arc::downgrade(&host.inner);
    host.inner
        .swarm
        .set_stream_handler(ping::PROTOCOL, move |mut s| {
            let inner = weak.upgrade();
            async move {
                let Some(inner) = inner else { return };
                let peer = s.remote_peer().clone();
                let admitted = {
                    let mut pings = inner.pings.lock().unwrap_or_else(|e| e.into_inner());
                    let n = pings.entry(peer.clone()).or_insert(0);
                    *n += 1;
                    *n <= MAX_INBOUND_STREAMS_PER_PEER
                };
                if admitted {
                    if let Err(e) = ping::serve(&mut s).await {
                        tracing::debug!(%peer, error = %e, "ping stream failed");
                    }
                } else {
                    tracing::debug!(%peer, "too many ping streams from one peer; resetting");
                    let _ = s.reset();
                }
                let mut pings = inner.pings.lock().unwrap_or_else(|e| e.into_inner());
                if let Some(n) = pings.get_mut(&peer) {
                    *n = n.saturating_sub(1);
                    if *n == 0 {
                        pings.remove(&peer);
                    }
                }
            }
        });
    host.inner
        .protocols
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .push(ping::PROTOCOL.to_owned());
}

impl Host {
    /// Pings `peer` once on a new `/ipfs/ping/1.0.0` stream (dialing if needed), records the
    /// round-trip time in the peerstore's latency average and returns it.
    ///
    /// # Errors
    ///
    /// Dial or stream errors; [`HostError::Io`] if the remote does not echo the payload.
    pub async fn ping(&self, peer: &PeerId) -> Result<Duration, HostError> {
        let mut s = self.new_stream(peer, &[ping::PROTOCOL]).await?;
        let io = |error| HostError::Io {
            service: "ping",
            peer: peer.clone(),
            error,
        };
        let rtt = ping::ping(&mut s).await.map_err(io)?;
        s.shutdown().await.map_err(io)?;
        let _ = s.read(&mut [0u8; 1]).await;
        self.inner.peerstore.record_latency(peer, rtt)?;
        if let Some(m) = self.metrics() {
            m.ping_rtt(rtt);
        }
        Ok(rtt)
    }
}
