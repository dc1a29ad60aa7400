//! Async multistream-select over any byte stream: the thin driver around
//! [`peernet_core::multistream`].
//!
//! Negotiation reads in small chunks and may read past its last message (a listener can send
//! its first application bytes right behind its confirmation). Those bytes are never lost:
//! the functions return them, and [`Prefixed`] replays them before reading the stream again.

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};

use peernet_core::multistream::{self, Dialer, Listener, NegotiationError};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, ReadBuf};

/// Why multistream-select over a stream failed.
#[derive(Debug, thiserror::Error)]
pub enum NegotiateError {
    /// Reading or writing the stream failed.
    #[error("i/o error during protocol negotiation")]
    Io(#[from] io::Error),
    /// The stream ended before negotiation finished (the remote closed it).
    #[error("remote closed the stream during protocol negotiation")]
    Closed,
    /// The protocol exchange failed; the inner error says whose fault it was.
    #[error(transparent)]
    Protocol(#[from] NegotiationError),
}

impl NegotiateError {
    /// Who was at fault: the exchange's own error says it; a closed stream is the remote's
    /// doing, a failed read or write the I/O's.
    pub fn fault(&self) -> peernet_core::Fault {
        match self {
            NegotiateError::Io(_) => peernet_core::Fault::Io,
            NegotiateError::Closed => peernet_core::Fault::Remote,
            NegotiateError::Protocol(e) => e.fault(),
        }
    }
}

/// Bytes read per read call while negotiating; negotiation messages are short.
const READ_CHUNK: usize = 1024;

/// Reads more bytes from `io` into `buf`, failing on end of stream.
async fn read_more<T: AsyncRead + Unpin>(
    io: &mut T,
    buf: &mut Vec<u8>,
) -> Result<(), NegotiateError> {
    if buf.len() > multistream::MAX_MESSAGE_LEN + 16 {
        // The core refuses longer messages before this can happen; this bounds us regardless.
        return Err(NegotiationError::Malformed("negotiation message too long").into());
    }
    let start = buf.len();
    buf.resize(start + READ_CHUNK, 0);
    let n = io.read(buf.get_mut(start..).unwrap_or_default()).await;
    buf.truncate(start + *n.as_ref().unwrap_or(&0));
    match n? {
        0 => Err(NegotiateError::Closed),
        _ => Ok(()),
    }
}

async fn flush_out<T: AsyncWrite + Unpin>(io: &mut T, out: &mut Vec<u8>) -> io::Result<()> {
    if !out.is_empty() {
        io.write_all(out).await?;
        io.flush().await?;
        out.clear();
    }
    Ok(())
}

/// Dialer side: proposes `protocols` in order and waits for the listener's confirmation.
///
/// Returns the agreed protocol and any bytes read past the negotiation.
pub async fn select_outbound<T>(
    io: &mut T,
    protocols: &[&str],
) -> Result<(String, Vec<u8>), NegotiateError>
where
    T: AsyncRead + AsyncWrite + Unpin,
{
    let mut dialer = Dialer::new(protocols.iter().copied())?;
    let mut out = Vec::new();
    let mut input = Vec::new();
    loop {
        dialer.poll_transmit(&mut out);
        flush_out(io, &mut out).await?;
        if dialer.is_confirmed() {
            let selected = dialer.selected().unwrap_or_default().to_owned();
            return Ok((selected, input));
        }
        read_more(io, &mut input).await?;
        let consumed = dialer.handle_input(&input)?;
        input.drain(..consumed);
    }
}

/// Listener side: answers the dialer and accepts the first proposal `supported` agrees to.
/// `list` answers `ls` requests.
///
/// Returns the agreed protocol and any bytes read past the negotiation.
pub async fn select_inbound<T>(
    io: &mut T,
    supported: &mut (dyn FnMut(&str) -> bool + Send),
    list: &(dyn Fn() -> Vec<String> + Sync),
) -> Result<(String, Vec<u8>), NegotiateError>
where
    T: AsyncRead + AsyncWrite + Unpin,
{
    let mut listener = Listener::new();
    let mut out = Vec::new();
    let mut input = Vec::new();
    loop {
        read_more(io, &mut input).await?;
        let consumed = listener.handle_input(&input, &mut *supported, list);
        let consumed = match consumed {
            Ok(n) => n,
            Err(e) => {
                // Best effort: let the remote see our last answers before we hang up.
                listener.poll_transmit(&mut out);
                let _ = flush_out(io, &mut out).await;
                return Err(e.into());
            }
        };
        input.drain(..consumed);
        listener.poll_transmit(&mut out);
        flush_out(io, &mut out).await?;
        if let Some(selected) = listener.selected() {
            return Ok((selected.to_owned(), input));
        }
    }
}

/// A stream that first yields bytes already read from it (left over from negotiation).
#[derive(Debug)]
pub struct Prefixed<T> {
    prefix: Vec<u8>,
    pos: usize,
    inner: T,
}

impl<T> Prefixed<T> {
    /// Wraps `inner`, replaying `prefix` before reading from it.
    pub fn new(mut prefix: Vec<u8>, inner: T) -> Self {
        // Negotiation reads into a 1 KiB buffer and usually leaves nothing behind: keep no
        // allocation for the life of the stream (it would cost every idle stream 1 KiB).
        if prefix.is_empty() {
            prefix = Vec::new();
        } else {
            prefix.shrink_to_fit();
        }
        Prefixed {
            prefix,
            pos: 0,
            inner,
        }
    }

    /// The wrapped stream. Bytes of the prefix not yet read are lost.
    pub fn into_inner(self) -> T {
        self.inner
    }

    /// The wrapped stream, for reading around the prefix.
    pub(crate) fn get_mut(&mut self) -> &mut T {
        &mut self.inner
    }

    /// Appends bytes to replay (ones read directly from the wrapped stream).
    pub(crate) fn extend_prefix(&mut self, bytes: &[u8]) {
        self.prefix.extend_from_slice(bytes);
    }
}

impl<T: AsyncRead + Unpin> AsyncRead for Prefixed<T> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = &mut *self;
        if let Some(rest) = this.prefix.get(this.pos..).filter(|r| !r.is_empty()) {
            let n = rest.len().min(buf.remaining());
            buf.put_slice(rest.get(..n).unwrap_or_default());
            this.pos += n;
            if this.pos == this.prefix.len() {
                this.prefix = Vec::new();
                this.pos = 0;
            }
            return Poll::Ready(Ok(()));
        }
        Pin::new(&mut this.inner).poll_read(cx, buf)
    }
}

impl<T: AsyncWrite + Unpin> AsyncWrite for Prefixed<T> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn both_sides_agree_and_keep_trailing_bytes() {
        let (mut a, mut b) = tokio::io::duplex(1024);
        let listener = tokio::spawn(async move {
            let (p, rest) = select_inbound(&mut b, &mut |p| p == "/tls/1.0.0", &Vec::new).await?;
            // Application data right behind the confirmation.
            b.write_all(b"server-first").await?;
            Ok::<_, NegotiateError>((p, rest, b))
        });
        let (p, leftover) = select_outbound(&mut a, &["/noise", "/tls/1.0.0"])
            .await
            .unwrap();
        assert_eq!(p, "/tls/1.0.0");
        let mut stream = Prefixed::new(leftover, a);
        let mut buf = [0u8; 12];
        stream.read_exact(&mut buf).await.unwrap();
        assert_eq!(&buf, b"server-first");
        let (lp, rest, _b) = listener.await.unwrap().unwrap();
        assert_eq!(lp, "/tls/1.0.0");
        assert!(rest.is_empty());
    }

    #[tokio::test]
    async fn refusal_and_close_are_typed() {
        let (mut a, mut b) = tokio::io::duplex(1024);
        let listener = tokio::spawn(async move {
            select_inbound(&mut b, &mut |_| false, &Vec::new)
                .await
                .map(|_| ())
        });
        let err = select_outbound(&mut a, &["/x"]).await.unwrap_err();
        assert!(
            matches!(err, NegotiateError::Protocol(NegotiationError::Refused(_))),
            "{err:?}"
        );
        drop(a);
        assert!(matches!(
            listener.await.unwrap(),
            Err(NegotiateError::Closed)
        ));
    }
}
