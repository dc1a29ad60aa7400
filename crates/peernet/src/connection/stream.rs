//! A connection's streams: the raw muxed stream (yamux or QUIC), an [`InboundStream`] before
//! its protocol is negotiated, and a [`Stream`] after.

use std::fmt;
use std::io;
use std::pin::Pin;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::task::{ready, Context, Poll};
use std::time::Duration;

use peernet_core::multistream::{self, Dialer};
use peernet_core::{Multiaddr, PeerId};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

use crate::connection::error::StreamError;
use crate::connection::info::ConnectionInfo;
use crate::connection::quic::QuicStream;
use crate::ids::{ConnectionId, Direction};
use crate::metrics::StreamMetrics;
use crate::multistream::{select_inbound, Prefixed};
use crate::resource::StreamPermit;
use crate::yamux;

/// A muxed stream before or after negotiation: a yamux stream or a QUIC stream.
pub(crate) enum RawStream {
    Yamux(yamux::YamuxStream),
    Quic(QuicStream),
}

impl RawStream {
    pub(super) fn reset(&mut self) -> io::Result<()> {
        match self {
            RawStream::Yamux(s) => s.reset(),
            RawStream::Quic(s) => s.reset(),
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
            RawStream::Quic(s) => Pin::new(s).poll_read(cx, buf),
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
            RawStream::Quic(s) => Pin::new(s).poll_write(cx, buf),
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            RawStream::Yamux(s) => Pin::new(s).poll_flush(cx),
            RawStream::Quic(s) => Pin::new(s).poll_flush(cx),
        }
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            RawStream::Yamux(s) => Pin::new(s).poll_shutdown(cx),
            RawStream::Quic(s) => Pin::new(s).poll_shutdown(cx),
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
    pub(super) fn new(
        raw: RawStream,
        info: Arc<ConnectionInfo>,
        permit: Option<StreamPermit>,
    ) -> InboundStream {
        InboundStream { raw, info, permit }
    }

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
                let permit = self.permit.take();
                Ok(Stream::new(
                    self.raw,
                    protocol,
                    leftover,
                    None,
                    Direction::Inbound,
                    self.info,
                    permit,
                ))
            }
            Err(e) => {
                let _ = self.raw.reset();
                Err(e)
            }
        }
    }
}

/// A stream negotiated to a protocol: tokio `AsyncRead + AsyncWrite`. `shutdown` closes our
/// write side (the remote reads end of file; QUIC: `finish`) while reading goes on.
pub struct Stream {
    /// The stream's hold on the resource manager. First, so it is given back before the
    /// muxed stream's end goes out: once the remote sees the end, the permit is free.
    _permit: Option<StreamPermit>,
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
    pub(super) fn new(
        inner: RawStream,
        protocol: String,
        prefix: Vec<u8>,
        pending: Option<Dialer>,
        direction: Direction,
        info: Arc<ConnectionInfo>,
        permit: Option<StreamPermit>,
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
            _permit: permit,
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
