//! An upgraded connection (secure, multiplexed, with an authenticated remote peer) and the
//! negotiated [`Stream`]s it carries.
//!
//! - `mod.rs`: [`Connection`], what the upgrade established about it, and its muxer (yamux
//!   over a secured byte stream, or QUIC).
//! - `stream.rs`: the streams: raw muxed ones, [`InboundStream`] before negotiation, [`Stream`]
//!   after it.
//! - `quic.rs`: what is QUIC's own: its streams, its close reasons, its refusals.
//! - `info.rs`: what the upgrade established (peer, key, addresses, security, muxer), shared
//!   by the connection's handles and streams.
//! - `error.rs`: [`StreamError`] and [`ConnectionError`].
//!
//! The module sits above the muxers, multistream-select, the resource manager and the metrics,
//! and below the upgrader and the transports that build connections.

mod error;
mod info;
mod quic;
mod stream;

pub use error::{ConnectionError, StreamError};
pub use stream::{InboundStream, Stream, STREAM_NEGOTIATION_TIMEOUT};

pub(crate) use info::ConnectionInfo;

use std::fmt;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use peernet_core::multistream::Dialer;
use peernet_core::{Multiaddr, PeerId, PublicKey};
use tokio::io::AsyncWriteExt;

use crate::connection::quic::QuicStream;
use crate::connection::stream::RawStream;
use crate::ids::{ConnectionId, Direction};
use crate::metrics::{ConnFacts, Metrics};
use crate::multistream::select_outbound;
use crate::resource::{ConnPermit, ResourceError, StreamPermit};
use crate::yamux;

/// A secure, multiplexed connection to an authenticated peer. Cheap to clone: clones share the
/// connection, which closes when [`Connection::close`] is called, the remote goes away, or every
/// clone and stream is dropped.
///
/// It is carried either by yamux over a secured byte stream (TCP) or by QUIC, whose own
/// streams serve as the connection's streams; the API is the same for both.
#[derive(Clone)]
pub struct Connection {
    info: Arc<ConnectionInfo>,
    muxer: Muxer,
}

/// What carries a connection's streams.
#[derive(Clone)]
pub(crate) enum Muxer {
    /// yamux over a Noise, TLS or plaintext session.
    Yamux(yamux::YamuxSession),
    /// A QUIC connection (TLS 1.3 inside QUIC, QUIC streams).
    Quic(quinn::Connection),
}

impl fmt::Debug for Connection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Connection")
            .field("id", &self.info.id)
            .field("remote_peer", &self.info.remote_peer)
            .field("remote_addr", &self.info.remote_addr)
            .field("direction", &self.info.direction)
            .field("security", &self.info.security)
            .finish()
    }
}

impl Connection {
    pub(crate) fn new(info: ConnectionInfo, muxer: yamux::YamuxSession) -> Connection {
        Connection {
            info: Arc::new(info),
            muxer: Muxer::Yamux(muxer),
        }
    }

    pub(crate) fn new_quic(info: ConnectionInfo, connection: quinn::Connection) -> Connection {
        Connection {
            info: Arc::new(info),
            muxer: Muxer::Quic(connection),
        }
    }

    /// A stream permit from the connection's resource permit, if it has one.
    fn stream_permit(&self, direction: Direction) -> Result<Option<StreamPermit>, ResourceError> {
        let permit = self
            .info
            .resources
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        permit
            .as_ref()
            .map(|p| p.open_stream(direction))
            .transpose()
    }

    /// Whether the connection holds a resource permit.
    pub(crate) fn has_resources(&self) -> bool {
        let permit = self
            .info
            .resources
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        permit.is_some()
    }

    /// Gives the connection its resource permit (for connections not upgraded by us: QUIC).
    pub(crate) fn set_resources(&self, permit: ConnPermit) {
        *self
            .info
            .resources
            .lock()
            .unwrap_or_else(|e| e.into_inner()) = Some(permit);
    }

    /// Gives back the connection's resource permit (its streams keep theirs).
    pub(crate) fn release_resources(&self) {
        let permit = self
            .info
            .resources
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .take();
        drop(permit);
    }

    /// This connection's id.
    pub fn id(&self) -> ConnectionId {
        self.info.id
    }

    /// The authenticated remote peer.
    pub fn remote_peer(&self) -> &PeerId {
        &self.info.remote_peer
    }

    /// The remote's public key, as proven in the security handshake.
    pub fn remote_public_key(&self) -> &PublicKey {
        &self.info.remote_public_key
    }

    /// The remote's address (without `/p2p/`).
    pub fn remote_addr(&self) -> &Multiaddr {
        &self.info.remote_addr
    }

    /// Our address on this connection.
    pub fn local_addr(&self) -> &Multiaddr {
        &self.info.local_addr
    }

    /// Who dialed.
    pub fn direction(&self) -> Direction {
        self.info.direction
    }

    /// The security protocol: `/noise`, `/tls/1.0.0` or `/plaintext/2.0.0`; QUIC connections
    /// report `/tls/1.0.0` (TLS 1.3 inside QUIC, with the libp2p certificate).
    pub fn security(&self) -> &'static str {
        self.info.security
    }

    /// The stream multiplexer: `/yamux/1.0.0`, or `quic-v1` for QUIC connections (QUIC's own
    /// streams; no multistream-select round, as the libp2p QUIC spec says).
    pub fn muxer(&self) -> &'static str {
        self.info.muxer
    }

    /// When the upgrade finished.
    pub fn opened_at(&self) -> Instant {
        self.info.opened_at
    }

    /// How long the upgrade took: multistream-select, the security handshake and the muxer
    /// (QUIC: the QUIC handshake). Transport setup before it (TCP connect, WebSocket
    /// handshake) is not included.
    pub fn handshake_duration(&self) -> Duration {
        self.info.handshake
    }

    /// What the metrics record of this connection.
    pub(crate) fn metrics_facts(&self) -> ConnFacts<'_> {
        ConnFacts {
            remote_addr: &self.info.remote_addr,
            direction: self.info.direction,
            security: self.info.security,
            muxer: self.info.muxer,
            handshake: self.info.handshake,
        }
    }

    /// Lets the connection's streams count into `metrics` (the first call wins).
    pub(crate) fn set_metrics(&self, metrics: Metrics) {
        let _ = self.info.metrics.set(metrics);
    }

    /// Whether a connection gater already ran its `accept`/`secured` checks during the upgrade.
    pub(crate) fn gated_during_upgrade(&self) -> bool {
        self.info.gated
    }

    /// How many negotiated streams are open on this connection, in both directions.
    pub fn num_streams(&self) -> usize {
        self.info.streams.load(Ordering::Relaxed)
    }

    /// The round-trip time measured by the muxer's keep-alive, once known.
    pub fn rtt(&self) -> Option<std::time::Duration> {
        match &self.muxer {
            Muxer::Yamux(m) => m.rtt(),
            Muxer::Quic(c) => Some(c.rtt()),
        }
    }

    /// Whether the connection has ended.
    pub fn is_closed(&self) -> bool {
        match &self.muxer {
            Muxer::Yamux(m) => m.error().is_some(),
            Muxer::Quic(c) => c.close_reason().is_some(),
        }
    }

    /// Opens a raw muxed stream. On QUIC this waits while the remote's stream limit is reached.
    async fn open_raw(&self) -> Result<RawStream, StreamError> {
        match &self.muxer {
            Muxer::Yamux(m) => Ok(RawStream::Yamux(
                m.open_stream().await.map_err(StreamError::muxer)?,
            )),
            Muxer::Quic(c) => Ok(RawStream::Quic(QuicStream::open(c).await?)),
        }
    }

    /// Opens a stream and negotiates the first of `protocols` the remote supports.
    ///
    /// With a single protocol the negotiation is optimistic: the stream is returned at once and
    /// data written to it follows the proposal without waiting; the first read checks the
    /// remote's confirmation and fails if the remote refused.
    ///
    /// Fails with [`StreamError::ResourceLimit`] when our own limits refuse the stream (nothing
    /// is sent), and with [`StreamError::ResetByRemote`] when the remote resets it during
    /// negotiation.
    pub async fn open_stream(&self, protocols: &[&str]) -> Result<Stream, StreamError> {
        let mut permit = self.stream_permit(Direction::Outbound)?;
        if let (Some(permit), [protocol]) = (&mut permit, protocols) {
            permit.set_protocol(protocol)?;
        }
        let mut raw = self.open_raw().await?;
        if let [protocol] = protocols {
            let mut dialer =
                Dialer::optimistic(*protocol).map_err(StreamError::InvalidProtocols)?;
            let mut out = Vec::new();
            dialer.poll_transmit(&mut out);
            raw.write_all(&out)
                .await
                .map_err(|e| StreamError::negotiation(e.into()))?;
            return Ok(Stream::new(
                raw,
                (*protocol).to_owned(),
                Vec::new(),
                Some(dialer),
                Direction::Outbound,
                self.info.clone(),
                permit,
            ));
        }
        let (protocol, leftover) = select_outbound(&mut raw, protocols)
            .await
            .map_err(StreamError::negotiation)?;
        if let Some(permit) = &mut permit {
            if let Err(e) = permit.set_protocol(&protocol) {
                let _ = raw.reset();
                return Err(e.into());
            }
        }
        Ok(Stream::new(
            raw,
            protocol,
            leftover,
            None,
            Direction::Outbound,
            self.info.clone(),
            permit,
        ))
    }

    /// Waits for the remote's next stream. Returns `None` once the connection is closed.
    ///
    /// The stream's protocol is not negotiated yet: call [`InboundStream::negotiate`], on a task
    /// of its own when streams may be slow, so that one stream never holds up the next.
    ///
    /// A stream our resource limits refuse is reset here and logged with the limit; the next
    /// one is awaited.
    pub async fn accept_stream(&self) -> Option<InboundStream> {
        loop {
            let mut raw = match &self.muxer {
                Muxer::Yamux(m) => RawStream::Yamux(m.accept_stream().await?),
                Muxer::Quic(c) => RawStream::Quic(QuicStream::accept(c).await?),
            };
            match self.stream_permit(Direction::Inbound) {
                Ok(permit) => return Some(InboundStream::new(raw, self.info.clone(), permit)),
                Err(e) => {
                    tracing::debug!(peer = %self.info.remote_peer, conn = %self.info.id, error = %e, "inbound stream refused");
                    let _ = raw.reset();
                }
            }
        }
    }

    /// Closes the connection: sends go-away (QUIC: `CONNECTION_CLOSE`), ends every stream.
    pub async fn close(&self) {
        match &self.muxer {
            Muxer::Yamux(m) => m.close().await,
            Muxer::Quic(c) => {
                c.close(quinn::VarInt::from_u32(0), b"");
                c.closed().await;
            }
        }
    }

    /// Waits until the connection has ended, and says why, in the same terms on every
    /// transport: the peer closing is [`ConnectionError::Eof`], our close is
    /// [`ConnectionError::Closed`], the idle timeout (a vanished peer) is
    /// [`ConnectionError::Io`] of kind `TimedOut`.
    pub async fn closed(&self) -> ConnectionError {
        match &self.muxer {
            Muxer::Yamux(m) => m.closed().await.into(),
            Muxer::Quic(c) => quic::close_reason(c.closed().await),
        }
    }
}
