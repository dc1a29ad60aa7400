//! An upgraded connection (secure, multiplexed, with an authenticated remote peer) and the
//! negotiated [`Stream`]s it carries.

use std::fmt;
use std::io;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::task::{ready, Context, Poll};
use std::time::{Duration, Instant};

use peernet_core::multistream::{self, Dialer};
use peernet_core::{Multiaddr, PeerId, PublicKey};
use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt, ReadBuf};

use crate::multistream::{select_inbound, select_outbound, NegotiateError, Prefixed};
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
}

/// A secure, multiplexed connection to an authenticated peer. Cheap to clone: clones share the
/// connection, which closes when [`Connection::close`] is called, the remote goes away, or every
/// clone and stream is dropped.
#[derive(Clone)]
pub struct Connection {
    info: Arc<ConnectionInfo>,
    muxer: yamux::Connection,
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
}

/// Time an inbound stream gets to agree on a protocol (go-libp2p uses 10 s too).
pub const STREAM_NEGOTIATION_TIMEOUT: Duration = Duration::from_secs(10);

/// A stream the remote opened, before its protocol is negotiated.
pub struct InboundStream {
    raw: yamux::Stream,
    info: Arc<ConnectionInfo>,
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
        match result {
            Ok((protocol, leftover)) => {
                Ok(Stream::new(self.raw, protocol, leftover, None, self.info))
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
            muxer,
        }
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

    /// The security protocol: `/noise`, `/tls/1.0.0` or `/plaintext/2.0.0`.
    pub fn security(&self) -> &'static str {
        self.info.security
    }

    /// The stream multiplexer: `/yamux/1.0.0`.
    pub fn muxer(&self) -> &'static str {
        self.info.muxer
    }

    /// When the upgrade finished.
    pub fn opened_at(&self) -> Instant {
        self.info.opened_at
    }

    /// The round-trip time measured by the muxer's keep-alive, once known.
    pub fn rtt(&self) -> Option<std::time::Duration> {
        self.muxer.rtt()
    }

    /// Whether the connection has ended.
    pub fn is_closed(&self) -> bool {
        self.muxer.error().is_some()
    }

    /// Opens a stream and negotiates the first of `protocols` the remote supports.
    ///
    /// With a single protocol the negotiation is optimistic: the stream is returned at once and
    /// data written to it follows the proposal without waiting; the first read checks the
    /// remote's confirmation and fails if the remote refused.
    pub async fn open_stream(&self, protocols: &[&str]) -> Result<Stream, StreamError> {
        let mut raw = self.muxer.open_stream().await.map_err(StreamError::Muxer)?;
        if let [protocol] = protocols {
            let mut dialer =
                Dialer::optimistic(*protocol).map_err(StreamError::InvalidProtocols)?;
            let mut out = Vec::new();
            dialer.poll_transmit(&mut out);
            raw.write_all(&out)
                .await
                .map_err(|e| StreamError::Negotiation(e.into()))?;
            return Ok(Stream::new(
                raw,
                (*protocol).to_owned(),
                Vec::new(),
                Some(dialer),
                self.info.clone(),
            ));
        }
        let (protocol, leftover) = select_outbound(&mut raw, protocols).await?;
        Ok(Stream::new(
            raw,
            protocol,
            leftover,
            None,
            self.info.clone(),
        ))
    }

    /// Waits for the remote's next stream. Returns `None` once the connection is closed.
    ///
    /// The stream's protocol is not negotiated yet: call [`InboundStream::negotiate`], on a task
    /// of its own when streams may be slow, so that one stream never holds up the next.
    pub async fn accept_stream(&self) -> Option<InboundStream> {
        let raw = self.muxer.accept_stream().await?;
        Some(InboundStream {
            raw,
            info: self.info.clone(),
        })
    }

    /// Closes the connection: sends go-away, ends every stream.
    pub async fn close(&self) {
        self.muxer.close().await;
    }

    /// Waits until the connection has ended, and says why.
    pub async fn closed(&self) -> yamux::ConnectionError {
        self.muxer.closed().await
    }
}

/// A stream negotiated to a protocol: tokio `AsyncRead + AsyncWrite`. `shutdown` closes our
/// write side (the remote reads end of file) while reading goes on.
pub struct Stream {
    /// The muxed stream, replaying bytes read past the negotiation first.
    inner: Prefixed<yamux::Stream>,
    protocol: String,
    /// An optimistic proposal whose confirmation has not been read yet, and the bytes of the
    /// confirmation read so far.
    pending: Option<(Dialer, Vec<u8>)>,
    info: Arc<ConnectionInfo>,
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
        inner: yamux::Stream,
        protocol: String,
        prefix: Vec<u8>,
        pending: Option<Dialer>,
        info: Arc<ConnectionInfo>,
    ) -> Stream {
        Stream {
            inner: Prefixed::new(prefix, inner),
            protocol,
            pending: pending.map(|dialer| (dialer, Vec::new())),
            info,
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

    /// Abandons the stream in both directions (yamux RST).
    pub fn reset(&mut self) -> io::Result<()> {
        self.inner.get_mut().reset()
    }

    /// Reads and checks the confirmation of an optimistic proposal; bytes behind it are
    /// replayed by `inner`.
    fn poll_confirm(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        while let Some((dialer, input)) = self.pending.as_mut() {
            let mut chunk = [0u8; 256];
            let mut buf = ReadBuf::new(&mut chunk);
            ready!(Pin::new(self.inner.get_mut()).poll_read(cx, &mut buf))?;
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
        Pin::new(&mut this.inner).poll_read(cx, buf)
    }
}

impl AsyncWrite for Stream {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}
