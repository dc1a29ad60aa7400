//! What a connection does differently over QUIC: its streams are QUIC's own bidirectional
//! streams, and its close reasons and refusals are quinn's, mapped onto ours here.

use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

use crate::connection::error::{ConnectionError, StreamError};

/// A QUIC bidirectional stream.
pub(crate) struct QuicStream {
    send: quinn::SendStream,
    recv: quinn::RecvStream,
}

impl QuicStream {
    /// Opens a stream; waits while the remote's stream limit is reached. The remote having
    /// closed the connection is told apart from other refusals.
    pub(super) async fn open(conn: &quinn::Connection) -> Result<QuicStream, StreamError> {
        let (send, recv) = conn
            .open_bi()
            .await
            .map_err(|e| match closed_by_remote(&e) {
                true => StreamError::ClosedByRemote(e.into()),
                false => StreamError::Muxer(e.into()),
            })?;
        Ok(QuicStream { send, recv })
    }

    /// The remote's next stream, or `None` once the connection is closed.
    pub(super) async fn accept(conn: &quinn::Connection) -> Option<QuicStream> {
        let (send, recv) = conn.accept_bi().await.ok()?;
        Some(QuicStream { send, recv })
    }

    /// `RESET_STREAM` and `STOP_SENDING`; an error only when both directions were already
    /// closed.
    pub(super) fn reset(&mut self) -> io::Result<()> {
        let sent = self.send.reset(quinn::VarInt::from_u32(0));
        let stopped = self.recv.stop(quinn::VarInt::from_u32(0));
        match (sent, stopped) {
            (Err(_), Err(_)) => Err(io::Error::new(
                io::ErrorKind::NotConnected,
                "stream already closed",
            )),
            _ => Ok(()),
        }
    }
}

impl AsyncRead for QuicStream {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().recv).poll_read(cx, buf)
    }
}

impl AsyncWrite for QuicStream {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        AsyncWrite::poll_write(Pin::new(&mut self.get_mut().send), cx, buf)
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        AsyncWrite::poll_flush(Pin::new(&mut self.get_mut().send), cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        AsyncWrite::poll_shutdown(Pin::new(&mut self.get_mut().send), cx)
    }
}

/// Whether quinn's error says the remote ended the connection.
fn closed_by_remote(e: &quinn::ConnectionError) -> bool {
    use quinn::ConnectionError as E;
    matches!(
        e,
        E::ApplicationClosed(_) | E::ConnectionClosed(_) | E::Reset
    )
}

/// Why a QUIC connection ended, in the terms of [`ConnectionError`]: the peer closing (or
/// resetting statelessly) is `Eof`, our own close is `Closed`, and the idle timeout, protocol
/// violations and the rest are `Io` (`TimedOut` for the idle timeout).
pub(super) fn close_reason(error: quinn::ConnectionError) -> ConnectionError {
    use quinn::ConnectionError as E;
    match error {
        _ if closed_by_remote(&error) => ConnectionError::Eof,
        E::LocallyClosed => ConnectionError::Closed,
        E::TimedOut => ConnectionError::Io(Arc::new(io::Error::new(
            io::ErrorKind::TimedOut,
            "QUIC idle timeout: the peer went silent",
        ))),
        other => ConnectionError::Io(Arc::new(io::Error::other(other))),
    }
}
