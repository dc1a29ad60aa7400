//! An upgraded connection (secure, multiplexed, with an authenticated remote peer) and the
//! negotiated [`Stream`]s it carries.

use std::fmt;
use std::io;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};
use std::task::{ready, Context, Poll};
use std::time::{Duration, Instant};

use peernet_core::multistream::{self, Dialer};
use peernet_core::{Multiaddr, PeerId, PublicKey};
use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt, ReadBuf};

use crate::metrics::{Metrics, StreamMetrics};
use crate::multistream::{select_inbound, select_outbound, NegotiateError, Prefixed};
use crate::resource::{ConnPermit, ResourceError, StreamPermit};
use crate::yamux;

/// Identifies a connection within this process.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ConnectionId(u64);

impl ConnectionId {
    pub(crate) fn next() -> ConnectionId {
        static NEXT: AtomicU64 = AtomicU64::new(1);
        ConnectionId(NEXT.fetch_add(1, Ordering::Relaxed))
    }
}

impl fmt::Display for ConnectionId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "conn-{}", self.0)
    }
}

/// Who opened a connection or stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Direction {
    /// We dialed.
    Outbound,
    /// The remote dialed us.
    Inbound,
}

/// What the upgrade established about a connection. Shared by the connection's handles and
/// streams.
#[derive(Debug)]
pub(crate) struct ConnectionInfo {
    pub id: ConnectionId,
    pub remote_peer: PeerId,
    pub remote_public_key: PublicKey,
    pub remote_addr: Multiaddr,
    pub local_addr: Multiaddr,
    pub direction: Direction,
    pub security: &'static str,
    pub muxer: &'static str,
    pub opened_at: Instant,
    /// Negotiated streams alive on the connection, both directions (go's `isBetterConn` uses it).
    pub streams: std::sync::atomic::AtomicUsize,
    /// The upgrader consulted a connection gater at `accept` and `secured` on this connection.
    pub gated: bool,
    /// How long the upgrade took (security handshake and muxer; QUIC: its handshake).
    pub handshake: Duration,
    /// The swarm's metrics, set when the connection joins a swarm that keeps them.
    pub metrics: OnceLock<Metrics>,
    /// The connection's resource permit, when a manager is installed; streams take theirs
    /// from it. The swarm takes it out when the connection leaves its table.
    pub resources: std::sync::Mutex<Option<ConnPermit>>,
}

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
    Yamux(yamux::Connection),
    /// A QUIC connection (TLS 1.3 inside QUIC, QUIC streams).
    Quic(quinn::Connection),
}

/// A QUIC bidirectional stream.
pub(crate) struct QuicStream {
    send: quinn::SendStream,
    recv: quinn::RecvStream,
}

/// A muxed stream before or after negotiation: a yamux stream or a QUIC stream.
pub(crate) enum RawStream {
    Yamux(yamux::Stream),
    Quic(QuicStream),
}

impl RawStream {
    fn reset(&mut self) -> io::Result<()> {
        match self {
            RawStream::Yamux(s) => s.reset(),
            RawStream::Quic(s) => {
                let sent = s.send.reset(quinn::VarInt::from_u32(0));
                let stopped = s.recv.stop(quinn::VarInt::from_u32(0));
                match (sent, stopped) {
                    (Err(_), Err(_)) => Err(io::Error::new(
                        io::ErrorKind::NotConnected,
                        "stream already closed",
                    )),
                    _ => Ok(()),
                }
            }
        }
    }
}

impl AsyncRead for RawStream {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        match self.get_mut() {
            RawStream::Yamux(s) => Pin::new(s).poll_read(cx, buf),
            RawStream::Quic(s) => Pin::new(&mut s.recv).poll_read(cx, buf),
        }
    }
}

impl AsyncWrite for RawStream {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            RawStream::Yamux(s) => Pin::new(s).poll_write(cx, buf),
            RawStream::Quic(s) => AsyncWrite::poll_write(Pin::new(&mut s.send), cx, buf),
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            RawStream::Yamux(s) => Pin::new(s).poll_flush(cx),
            RawStream::Quic(s) => AsyncWrite::poll_flush(Pin::new(&mut s.send), cx),
        }
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            RawStream::Yamux(s) => Pin::new(s).poll_shutdown(cx),
            RawStream::Quic(s) => AsyncWrite::poll_shutdown(Pin::new(&mut s.send), cx),
        }
    }
}

/// Why a QUIC connection ended, told the way a yamux connection tells it: the peer closing
/// (or resetting statelessly) is [`yamux::ConnectionError::Eof`], our own close is
/// [`yamux::ConnectionError::Closed`], and the idle timeout, protocol violations and the
/// rest are [`yamux::ConnectionError::Io`] (`TimedOut` for the idle timeout).
fn quic_close_reason(error: quinn::ConnectionError) -> yamux::ConnectionError {
    use quinn::ConnectionError as E;
    match error {
        E::ApplicationClosed(_) | E::ConnectionClosed(_) | E::Reset => yamux::ConnectionError::Eof,
        E::LocallyClosed => yamux::ConnectionError::Closed,
        E::TimedOut => yamux::ConnectionError::Io(Arc::new(io::Error::new(
            io::ErrorKind::TimedOut,
            "QUIC idle timeout: the peer went silent",
        ))),
        other => yamux::ConnectionError::Io(Arc::new(io::Error::other(other))),
    }
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

/// Why a stream could not be opened or accepted.
#[derive(Debug, thiserror::Error)]
pub enum StreamError {
    /// The connection is closed or the muxer refused a new stream.
    #[error("cannot open a stream on this connection")]
    Muxer(#[source] io::Error),
    /// Protocol negotiation on the new stream failed.
    #[error("protocol negotiation failed")]
    Negotiation(#[from] NegotiateError),
    /// Invalid protocol ids were given (local misuse).
    #[error("invalid protocol list")]
    InvalidProtocols(#[source] multistream::NegotiationError),
    /// The remote did not settle on a protocol in time (the remote's fault).
    #[error("protocol negotiation did not finish within {0:?}")]
    Timeout(Duration),
    /// Our own resource limits refused the stream (local policy; the error names the limit).
    #[error(transparent)]
    ResourceLimit(#[from] ResourceError),
    /// The remote closed the connection, so no stream can be opened on it: it may have refused
    /// the connection right after the handshake, under its own resource limits or gater (the
    /// remote's decision, not our limit).
    #[error(
        "the remote closed the connection (it may have refused it under its own resource limits)"
    )]
    ClosedByRemote(#[source] io::Error),
    /// The remote reset the stream before agreeing on a protocol: it refused the stream,
    /// possibly under its own resource limits (the remote's decision, not our limit).
    #[error("the remote reset the stream during protocol negotiation (it refused the stream, possibly under its own resource limits)")]
    ResetByRemote(#[source] io::Error),
}

impl StreamError {
    /// The muxer refused a new stream: the remote having closed the connection is told apart.
    fn muxer(e: io::Error) -> StreamError {
        let closed_by_remote = e
            .get_ref()
            .and_then(|inner| inner.downcast_ref::<yamux::ConnectionError>())
            .is_some_and(|c| matches!(c, yamux::ConnectionError::Eof));
        match closed_by_remote {
            true => StreamError::ClosedByRemote(e),
            false => StreamError::Muxer(e),
        }
    }

    /// Negotiation failed: a reset by the remote is told apart from other failures.
    fn negotiation(e: NegotiateError) -> StreamError {
        match e {
            NegotiateError::Io(e) if e.kind() == io::ErrorKind::ConnectionReset => {
                StreamError::ResetByRemote(e)
            }
            e => StreamError::Negotiation(e),
        }
    }
}

/// Time an inbound stream gets to agree on a protocol (go-libp2p uses 10 s too).
pub const STREAM_NEGOTIATION_TIMEOUT: Duration = Duration::from_secs(10);

/// A stream the remote opened, before its protocol is negotiated.
pub struct InboundStream {
    raw: RawStream,
    info: Arc<ConnectionInfo>,
    permit: Option<StreamPermit>,
}

impl fmt::Debug for InboundStream {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("InboundStream")
            .field("remote_peer", &self.info.remote_peer)
            .field("connection", &self.info.id)
            .finish()
    }
}

impl InboundStream {
    /// The peer that opened the stream.
    pub fn remote_peer(&self) -> &PeerId {
        &self.info.remote_peer
    }

    /// Negotiates the protocol: accepts the first proposal `supported` agrees to; `list`
    /// answers `ls`. Fails after [`STREAM_NEGOTIATION_TIMEOUT`]; on failure the stream is reset.
    pub async fn negotiate(
        mut self,
        supported: &mut (dyn FnMut(&str) -> bool + Send),
        list: &(dyn Fn() -> Vec<String> + Sync),
    ) -> Result<Stream, StreamError> {
        let negotiation = select_inbound(&mut self.raw, supported, list);
        let result = match tokio::time::timeout(STREAM_NEGOTIATION_TIMEOUT, negotiation).await {
            Ok(Ok(agreed)) => Ok(agreed),
            Ok(Err(e)) => Err(StreamError::Negotiation(e)),
            Err(_) => Err(StreamError::Timeout(STREAM_NEGOTIATION_TIMEOUT)),
        };
        // go's SetProtocol: the protocol's stream limit, once it is known.
        let result = result.and_then(|(protocol, leftover)| match &mut self.permit {
            Some(permit) => permit
                .set_protocol(&protocol)
                .map(|()| (protocol, leftover))
                .map_err(|e| {
                    tracing::debug!(peer = %self.info.remote_peer, error = %e, "inbound stream refused");
                    StreamError::ResourceLimit(e)
                }),
            None => Ok((protocol, leftover)),
        });
        match result {
            Ok((protocol, leftover)) => {
                let mut stream = Stream::new(
                    self.raw,
                    protocol,
                    leftover,
                    None,
                    Direction::Inbound,
                    self.info,
                );
                stream.permit = self.permit.take();
                Ok(stream)
            }
            Err(e) => {
                let _ = self.raw.reset();
                Err(e)
            }
        }
    }
}

impl Connection {
    pub(crate) fn new(info: ConnectionInfo, muxer: yamux::Connection) -> Connection {
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
            Muxer::Quic(c) => {
                let (send, recv) = c.open_bi().await.map_err(|e| {
                    use quinn::ConnectionError as E;
                    let by_remote = matches!(
                        e,
                        E::ApplicationClosed(_) | E::ConnectionClosed(_) | E::Reset
                    );
                    match by_remote {
                        true => StreamError::ClosedByRemote(e.into()),
                        false => StreamError::Muxer(e.into()),
                    }
                })?;
                Ok(RawStream::Quic(QuicStream { send, recv }))
            }
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
            let mut stream = Stream::new(
                raw,
                (*protocol).to_owned(),
                Vec::new(),
                Some(dialer),
                Direction::Outbound,
                self.info.clone(),
            );
            stream.permit = permit;
            return Ok(stream);
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
        let mut stream = Stream::new(
            raw,
            protocol,
            leftover,
            None,
            Direction::Outbound,
            self.info.clone(),
        );
        stream.permit = permit;
        Ok(stream)
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
                Muxer::Quic(c) => {
                    let (send, recv) = c.accept_bi().await.ok()?;
                    RawStream::Quic(QuicStream { send, recv })
                }
            };
            match self.stream_permit(Direction::Inbound) {
                Ok(permit) => {
                    return Some(InboundStream {
                        raw,
                        info: self.info.clone(),
                        permit,
                    })
                }
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

    /// Waits until the connection has ended, and says why. QUIC's reasons are mapped onto
    /// [`yamux::ConnectionError`]: the peer closing is `Eof`, our close is `Closed`, the idle
    /// timeout (a vanished peer) is `Io` of kind `TimedOut`.
    pub async fn closed(&self) -> yamux::ConnectionError {
        match &self.muxer {
            Muxer::Yamux(m) => m.closed().await,
            Muxer::Quic(c) => quic_close_reason(c.closed().await),
        }
    }
}

/// A stream negotiated to a protocol: tokio `AsyncRead + AsyncWrite`. `shutdown` closes our
/// write side (the remote reads end of file; QUIC: `finish`) while reading goes on.
pub struct Stream {
    /// The stream's hold on the resource manager. First, so it is given back before the
    /// muxed stream's end goes out: once the remote sees the end, the permit is free.
    permit: Option<StreamPermit>,
    /// The muxed stream, replaying bytes read past the negotiation first.
    inner: Prefixed<RawStream>,
    protocol: String,
    /// An optimistic proposal whose confirmation has not been read yet, and the bytes of the
    /// confirmation read so far.
    pending: Option<(Dialer, Vec<u8>)>,
    info: Arc<ConnectionInfo>,
    /// Byte counters and open-stream gauge, when the connection's swarm keeps metrics.
    metrics: Option<StreamMetrics>,
}

impl fmt::Debug for Stream {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Stream")
            .field("protocol", &self.protocol)
            .field("remote_peer", &self.info.remote_peer)
            .field("connection", &self.info.id)
            .finish()
    }
}

impl Stream {
    fn new(
        inner: RawStream,
        protocol: String,
        prefix: Vec<u8>,
        pending: Option<Dialer>,
        direction: Direction,
        info: Arc<ConnectionInfo>,
    ) -> Stream {
        info.streams.fetch_add(1, Ordering::Relaxed);
        let metrics = info
            .metrics
            .get()
            .map(|m| m.stream_opened(&protocol, direction));
        Stream {
            inner: Prefixed::new(prefix, inner),
            protocol,
            pending: pending.map(|dialer| (dialer, Vec::new())),
            info,
            metrics,
            permit: None,
        }
    }

    /// The negotiated protocol.
    pub fn protocol(&self) -> &str {
        &self.protocol
    }

    /// The peer at the other end.
    pub fn remote_peer(&self) -> &PeerId {
        &self.info.remote_peer
    }

    /// The connection carrying this stream.
    pub fn connection_id(&self) -> ConnectionId {
        self.info.id
    }

    /// The remote's address.
    pub fn remote_addr(&self) -> &Multiaddr {
        &self.info.remote_addr
    }

    /// Abandons the stream in both directions (yamux RST; QUIC `RESET_STREAM` and
    /// `STOP_SENDING`).
    pub fn reset(&mut self) -> io::Result<()> {
        self.inner.get_mut().reset()
    }

    /// Reads and checks the confirmation of an optimistic proposal; bytes behind it are
    /// replayed by `inner`.
    fn poll_confirm(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        while let Some((dialer, input)) = self.pending.as_mut() {
            let mut chunk = [0u8; 256];
            let mut buf = ReadBuf::new(&mut chunk);
            ready!(Pin::new(self.inner.get_mut()).poll_read(cx, &mut buf)).map_err(|e| {
                if e.kind() != io::ErrorKind::ConnectionReset {
                    return e;
                }
                io::Error::new(
                    io::ErrorKind::ConnectionReset,
                    "the remote reset the stream before confirming the protocol (it refused the stream, possibly under its own resource limits)",
                )
            })?;
            if buf.filled().is_empty() {
                return Poll::Ready(Err(io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    "stream closed before the protocol was confirmed",
                )));
            }
            input.extend_from_slice(buf.filled());
            if input.len() > multistream::MAX_MESSAGE_LEN + 64 {
                return Poll::Ready(Err(io::Error::new(
                    io::ErrorKind::InvalidData,
                    "negotiation message too long",
                )));
            }
            let consumed = dialer
                .handle_input(input)
                .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))?;
            input.drain(..consumed);
            if dialer.is_confirmed() {
                let rest = std::mem::take(input);
                self.inner.extend_prefix(&rest);
                self.pending = None;
            }
        }
        Poll::Ready(Ok(()))
    }
}

impl Drop for Stream {
    fn drop(&mut self) {
        self.info.streams.fetch_sub(1, Ordering::Relaxed);
    }
}

impl AsyncRead for Stream {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = &mut *self;
        if this.pending.is_some() {
            ready!(this.poll_confirm(cx))?;
        }
        let before = buf.filled().len();
        let result = Pin::new(&mut this.inner).poll_read(cx, buf);
        if let Some(m) = &this.metrics {
            m.read
                .inc_by(buf.filled().len().saturating_sub(before) as u64);
        }
        result
    }
}

impl AsyncWrite for Stream {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = &mut *self;
        let result = Pin::new(&mut this.inner).poll_write(cx, buf);
        if let (Some(m), Poll::Ready(Ok(n))) = (&this.metrics, &result) {
            m.written.inc_by(*n as u64);
        }
        result
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}
