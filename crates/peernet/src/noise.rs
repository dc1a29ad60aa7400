//! The Noise security upgrade over any byte stream: the thin tokio driver around
//! [`peernet_core::noise`].
//!
//! [`upgrade_outbound`] and [`upgrade_inbound`] run the libp2p Noise XX handshake and return a
//! [`NoiseStream`], an encrypted `AsyncRead + AsyncWrite`, with what the handshake proved about
//! the remote ([`RemoteInfo`]).
//!
//! The stream is built for throughput. Writes are gathered into full 65519-byte frames that are
//! sealed in place in one write buffer, which is handed to the socket once several frames are
//! ready (or on flush), so a bulk transfer costs one copy and one system call per few frames.
//! Reads fill a large buffer with as many frames as the socket has, decrypt each frame where it
//! lies and copy the plaintext out. No frame allocates: both buffers grow to their
//! bound (about 256 KiB each) only under bulk traffic and are reused from then on.
//!
//! An idle session holds no buffer at all. The read buffer is given back when the socket has
//! nothing more to read, nothing is left in the buffer and the last read was small (a ping, a
//! request: not a bulk transfer, whose reads fill the buffer): at once if it never grew, after
//! a few such quiet moments in a row if a transfer grew it. The write buffer is given back
//! after a few small flushes in a row. Both start again at a few KiB and double while traffic
//! fills them, so ten thousand quiet connections cost no buffer memory, and a transfer pays a
//! handful of reallocations when it starts.
//!
//! The handshake has no timeout of its own: the caller bounds it (the upgrader applies one to
//! the whole connection upgrade). A stream that closes mid-handshake ends it with
//! [`NoiseUpgradeError::Closed`].
//!
//! ```
//! use peernet::noise::{upgrade_inbound, upgrade_outbound};
//! use peernet::core::Keypair;
//! use tokio::io::{AsyncReadExt, AsyncWriteExt};
//!
//! # #[tokio::main]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let (alice, bob) = (Keypair::generate_ed25519(), Keypair::generate_ed25519());
//! let (a_io, b_io) = tokio::io::duplex(64 * 1024); // a TcpStream in real use
//! let (dialed, accepted) = tokio::join!(
//!     upgrade_outbound(a_io, &alice, Some(bob.to_peer_id()), &["/yamux/1.0.0"]),
//!     upgrade_inbound(b_io, &bob, &["/yamux/1.0.0"]),
//! );
//! let ((mut a, bob_info), (mut b, _)) = (dialed?, accepted?);
//! assert_eq!(bob_info.negotiated_muxer.as_deref(), Some("/yamux/1.0.0"));
//!
//! a.write_all(b"hello").await?;
//! a.flush().await?; // writes are held until a frame fills up or a flush
//! let mut buf = [0u8; 5];
//! b.read_exact(&mut buf).await?;
//! assert_eq!(&buf, b"hello");
//! # Ok(())
//! # }
//! ```

use std::io;
use std::pin::Pin;
use std::task::{ready, Context, Poll};

use peernet_core::noise::{
    message_len, Handshake, NoiseError, Receiver, Sender, LENGTH_PREFIX_LEN, MAX_FRAME_LEN,
    MAX_PLAINTEXT_LEN,
};
use peernet_core::{Keypair, PeerId};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, ReadBuf};

pub use peernet_core::noise::RemoteInfo;

/// The protocol id under which multistream-select negotiates Noise.
pub const PROTOCOL_ID: &str = "/noise";

/// Largest read buffer: room for several maximal frames per read system call. The buffer
/// starts at [`READ_BUF_MIN`] (or the frame being read, if larger) and doubles up to this size
/// only when a read fills it (bulk transfer).
const READ_BUF_LEN: usize = 4 * MAX_FRAME_LEN;
/// First size of the read buffer, and the read size below which a session that then finds the
/// socket empty counts as idle and releases its read buffer.
const READ_BUF_MIN: usize = 4096;
/// Quiet moments in a row (see `NoiseStream::quiet`) after which a grown read buffer is
/// released.
const QUIET_RELEASE: u32 = 4;
/// Stack buffer of the first read after a quiet release (larger messages continue in the
/// allocated buffer).
const PROBE_LEN: usize = 512;
/// Bytes read per call during the handshake (a message larger than this is read in pieces;
/// the handshake core reassembles it).
const HANDSHAKE_READ: usize = 1024;
/// Sealed bytes buffered before a write goes to the socket. The write buffer grows to this
/// (plus one open frame) only under bulk writes.
const WRITE_HIGH_WATER: usize = 4 * MAX_FRAME_LEN;
/// `QUIET_RELEASE` flushes in a row of fewer bytes than this release a write buffer that has
/// grown beyond it (the session is not in a bulk transfer, which flushes at
/// [`WRITE_HIGH_WATER`]).
const WRITE_KEEP: usize = 4096;

/// Why a Noise upgrade failed.
#[derive(Debug, thiserror::Error)]
pub enum NoiseUpgradeError {
    /// Reading or writing the underlying stream failed (the network or the local system).
    #[error("i/o error during the noise handshake")]
    Io(#[from] io::Error),
    /// The remote closed the stream before the handshake finished (remote at fault).
    #[error("remote closed the stream during the noise handshake")]
    Closed,
    /// The handshake failed; the inner error names who was at fault.
    #[error(transparent)]
    Noise(#[from] NoiseError),
}

impl NoiseUpgradeError {
    /// Who was at fault: the I/O's for a failed read or write, the remote's for a closed
    /// stream, the handshake's own answer otherwise.
    pub fn fault(&self) -> peernet_core::Fault {
        match self {
            NoiseUpgradeError::Io(_) => peernet_core::Fault::Io,
            NoiseUpgradeError::Closed => peernet_core::Fault::Remote,
            NoiseUpgradeError::Noise(e) => e.fault(),
        }
    }

    /// `(expected, actual)` when the handshake proved another peer than the one dialed.
    pub fn peer_id_mismatch(&self) -> Option<(&PeerId, &PeerId)> {
        match self {
            NoiseUpgradeError::Noise(e) => e.peer_id_mismatch(),
            _ => None,
        }
    }
}

/// Runs the handshake as the dialer over `io`.
///
/// `expected` is the peer id that was dialed, if known; another identity is refused with
/// [`NoiseError::PeerIdMismatch`] before the local identity is revealed. `muxers` are announced
/// for inlined muxer negotiation, in order of preference (see [`RemoteInfo::negotiated_muxer`]).
pub async fn upgrade_outbound<T>(
    io: T,
    keypair: &Keypair,
    expected: Option<PeerId>,
    muxers: &[&str],
) -> Result<(NoiseStream<T>, RemoteInfo), NoiseUpgradeError>
where
    T: AsyncRead + AsyncWrite + Unpin,
{
    run(io, Handshake::initiator(keypair, expected, muxers)).await
}

/// Runs the handshake as the listener over `io`, announcing `muxers`.
pub async fn upgrade_inbound<T>(
    io: T,
    keypair: &Keypair,
    muxers: &[&str],
) -> Result<(NoiseStream<T>, RemoteInfo), NoiseUpgradeError>
where
    T: AsyncRead + AsyncWrite + Unpin,
{
    run(io, Handshake::responder(keypair, None, muxers)).await
}

async fn run<T>(
    mut io: T,
    mut hs: Handshake,
) -> Result<(NoiseStream<T>, RemoteInfo), NoiseUpgradeError>
where
    T: AsyncRead + AsyncWrite + Unpin,
{
    // Small reads: the core buffers a handshake message until it is complete.
    let mut rbuf = vec![0u8; HANDSHAKE_READ];
    let (mut rpos, mut rend) = (0, 0);
    let mut out = Vec::new();
    loop {
        hs.write_output(&mut out);
        if !out.is_empty() {
            io.write_all(&out).await?;
            io.flush().await?;
            out.clear();
        }
        if hs.is_finished() {
            break;
        }
        if rpos == rend {
            (rpos, rend) = (0, 0);
        }
        // The handshake consumes every byte it is given until it finishes, so `rpos == rend`
        // here and the whole buffer is free.
        let n = io.read(rbuf.get_mut(rend..).unwrap_or_default()).await?;
        if n == 0 {
            tracing::debug!("noise handshake: remote closed the stream");
            return Err(NoiseUpgradeError::Closed);
        }
        rend += n;
        let consumed = hs.read_input(rbuf.get(rpos..rend).unwrap_or_default())?;
        rpos += consumed;
    }
    let (transport, info) = hs.finish()?;
    tracing::debug!(peer = %info.peer_id, muxer = ?info.negotiated_muxer, "noise handshake complete");
    let (sender, receiver) = transport.split();
    // Keep only what arrived behind the last handshake message (usually nothing).
    let rbuf = rbuf.get(rpos..rend).unwrap_or_default().to_vec();
    let (rpos, rend) = (0, rbuf.len());
    let stream = NoiseStream {
        io,
        sender,
        receiver,
        rbuf,
        rpos,
        rend,
        plain_start: 0,
        plain_end: 0,
        read_eof: false,
        read_error: None,
        read_truncated: false,
        last_read: None,
        quiet: 0,
        wbuf: Vec::new(),
        wpos: 0,
        sealed_end: 0,
        open_frame: false,
        small_flushes: 0,
    };
    Ok((stream, info))
}

/// An encrypted stream: the transport phase of a Noise session over `T`.
///
/// Writes are buffered until a frame is full or [`flush`](AsyncWriteExt::flush) is called, so
/// call `flush` after a message that must go out now. `shutdown` flushes and then shuts down
/// the write side of `T` (a TCP half-close). Errors caused by the remote (a frame that fails to
/// decrypt, a stream truncated mid-frame) are `io::Error`s of kind `InvalidData` or
/// `UnexpectedEof` that wrap a [`NoiseError`] when there is one.
pub struct NoiseStream<T> {
    io: T,
    sender: Sender,
    receiver: Receiver,
    /// Raw bytes from `io`: `[rpos, rend)` not yet decrypted, `[plain_start, plain_end)`
    /// decrypted plaintext not yet read (always before `rpos`).
    rbuf: Vec<u8>,
    rpos: usize,
    rend: usize,
    plain_start: usize,
    plain_end: usize,
    read_eof: bool,
    /// A frame failed to decrypt: the session's read side is dead, every read repeats this.
    read_error: Option<NoiseError>,
    /// The stream ended inside a frame.
    read_truncated: bool,
    /// Bytes the last read from `io` returned, until the socket next runs dry: small means the
    /// session is not streaming.
    last_read: Option<usize>,
    /// Times in a row the socket ran dry after a small read with nothing buffered.
    quiet: u32,
    /// Sealed frames `[wpos, sealed_end)` waiting for `io`, then the open frame (length prefix
    /// reserved, plaintext so far) when `open_frame` is set.
    wbuf: Vec<u8>,
    wpos: usize,
    sealed_end: usize,
    open_frame: bool,
    /// Flushes in a row that wrote fewer than `WRITE_KEEP` bytes.
    small_flushes: u32,
}

impl<T> std::fmt::Debug for NoiseStream<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NoiseStream")
            .field("sender", &self.sender)
            .field("receiver", &self.receiver)
            .field("buffered_read", &(self.rend - self.rpos))
            .field("buffered_write", &(self.wbuf.len() - self.wpos))
            .finish_non_exhaustive()
    }
}

impl<T> NoiseStream<T> {
    /// The underlying stream (for addresses and socket options; writing to it directly would
    /// corrupt the session, hence no `get_mut`).
    pub fn get_ref(&self) -> &T {
        &self.io
    }
}

fn noise_io_error(kind: io::ErrorKind, e: NoiseError) -> io::Error {
    io::Error::new(kind, e)
}

/// The remote closed the stream in the middle of a frame (remote at fault, or a cut connection).
fn truncated() -> io::Error {
    io::Error::new(
        io::ErrorKind::UnexpectedEof,
        "stream ended inside a noise frame",
    )
}

impl<T: AsyncWrite + Unpin> NoiseStream<T> {
    /// Seals the open frame, if any.
    fn seal_open_frame(&mut self) -> io::Result<()> {
        if self.open_frame {
            self.sender
                .seal_frame(&mut self.wbuf, self.sealed_end)
                .map_err(|e| noise_io_error(io::ErrorKind::Other, e))?;
            self.sealed_end = self.wbuf.len();
            self.open_frame = false;
        }
        Ok(())
    }

    /// Writes the sealed frames to `io` until none are left.
    fn poll_write_sealed(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        while self.wpos < self.sealed_end {
            let pending = self
                .wbuf
                .get(self.wpos..self.sealed_end)
                .unwrap_or_default();
            let n = ready!(Pin::new(&mut self.io).poll_write(cx, pending))?;
            if n == 0 {
                return Poll::Ready(Err(io::ErrorKind::WriteZero.into()));
            }
            self.wpos += n;
        }
        if self.open_frame {
            // Keep the partial frame; it moves to the front (at most one frame, and only when a
            // flush of sealed frames found one, which bulk writes never do).
            self.wbuf.drain(..self.sealed_end);
        } else if self.sealed_end >= WRITE_KEEP {
            self.small_flushes = 0;
            self.wbuf.clear();
        } else {
            // A small flush. Several in a row mean the bulk transfer that grew the buffer is
            // over (one alone may be a pause in it): give the buffer back.
            self.small_flushes += 1;
            if self.wbuf.capacity() > WRITE_KEEP && self.small_flushes >= QUIET_RELEASE {
                self.wbuf = Vec::new();
                self.small_flushes = 0;
            } else {
                self.wbuf.clear();
            }
        }
        self.wpos = 0;
        self.sealed_end = 0;
        Poll::Ready(Ok(()))
    }
}

impl<T: AsyncWrite + Unpin> AsyncWrite for NoiseStream<T> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        data: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        if data.is_empty() {
            return Poll::Ready(Ok(0));
        }
        if this.sealed_end - this.wpos >= WRITE_HIGH_WATER {
            ready!(this.poll_write_sealed(cx))?;
        }
        let mut accepted = 0;
        while let Some(rest) = data.get(accepted..).filter(|r| !r.is_empty()) {
            if !this.open_frame {
                this.wbuf.extend_from_slice(&[0; LENGTH_PREFIX_LEN]);
                this.open_frame = true;
            }
            let in_frame = this.wbuf.len() - this.sealed_end - LENGTH_PREFIX_LEN;
            let n = (MAX_PLAINTEXT_LEN - in_frame).min(rest.len());
            this.wbuf
                .extend_from_slice(rest.get(..n).unwrap_or_default());
            accepted += n;
            if in_frame + n == MAX_PLAINTEXT_LEN {
                this.seal_open_frame()?;
                if this.sealed_end - this.wpos >= WRITE_HIGH_WATER {
                    break;
                }
            }
        }
        Poll::Ready(Ok(accepted))
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        this.seal_open_frame()?;
        ready!(this.poll_write_sealed(cx))?;
        Pin::new(&mut this.io).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        this.seal_open_frame()?;
        ready!(this.poll_write_sealed(cx))?;
        Pin::new(&mut this.io).poll_shutdown(cx)
    }
}

impl<T: AsyncRead + Unpin> AsyncRead for NoiseStream<T> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        if let Some(e) = &this.read_error {
            return Poll::Ready(Err(noise_io_error(io::ErrorKind::InvalidData, e.clone())));
        }
        if this.read_truncated {
            return Poll::Ready(Err(truncated()));
        }
        if buf.remaining() == 0 {
            return Poll::Ready(Ok(()));
        }
        let mut copied = false;
        loop {
            // 1. Plaintext ready: hand it out, and go on with the next buffered frame while the
            //    caller's buffer has room (one call can return many frames).
            if this.plain_start < this.plain_end {
                let n = buf.remaining().min(this.plain_end - this.plain_start);
                let plain = this
                    .rbuf
                    .get(this.plain_start..this.plain_start + n)
                    .unwrap_or_default();
                buf.put_slice(plain);
                this.plain_start += n;
                copied = true;
                if buf.remaining() == 0 {
                    return Poll::Ready(Ok(()));
                }
                continue;
            }
            // 2. A whole frame buffered: decrypt it in place.
            let raw = this.rbuf.get(this.rpos..this.rend).unwrap_or_default();
            let need = match message_len(raw) {
                Some(len) if raw.len() >= LENGTH_PREFIX_LEN + len => {
                    let start = this.rpos + LENGTH_PREFIX_LEN;
                    let message = this.rbuf.get_mut(start..start + len).unwrap_or_default();
                    match this.receiver.decrypt_in_place(message) {
                        Ok(plain) => {
                            this.plain_start = start;
                            this.plain_end = start + plain.len();
                        }
                        Err(e) => {
                            tracing::debug!(error = %e, "noise frame rejected");
                            this.read_error = Some(e.clone());
                            if copied {
                                // Deliver the good plaintext; the error comes on the next call.
                                return Poll::Ready(Ok(()));
                            }
                            return Poll::Ready(Err(noise_io_error(io::ErrorKind::InvalidData, e)));
                        }
                    }
                    this.rpos = start + len;
                    continue;
                }
                Some(len) => LENGTH_PREFIX_LEN + len,
                None => LENGTH_PREFIX_LEN,
            };
            // 3. Need more bytes. Return what was copied rather than wait for the socket.
            if copied {
                return Poll::Ready(Ok(()));
            }
            // Make room for the whole frame, then read.
            if this.rpos == this.rend {
                (this.rpos, this.rend) = (0, 0);
            } else if this.rbuf.len() - this.rpos < need {
                this.rbuf.copy_within(this.rpos..this.rend, 0);
                this.rend -= this.rpos;
                this.rpos = 0;
            }
            if !this.rbuf.is_empty() && this.rbuf.len() < need.max(READ_BUF_MIN) {
                // A frame larger than the buffer: at least double.
                let grown = need.max(READ_BUF_MIN).max(2 * this.rbuf.len());
                this.rbuf.resize(grown.min(READ_BUF_LEN.max(need)), 0);
            }
            this.plain_start = 0;
            this.plain_end = 0;
            if this.read_eof {
                if this.rpos == this.rend {
                    return Poll::Ready(Ok(()));
                }
                this.read_truncated = true;
                return Poll::Ready(Err(truncated()));
            }
            if this.rbuf.is_empty() {
                // Released while quiet (so nothing is buffered): learn whether anything has
                // arrived before allocating, so that waking an idle session costs nothing.
                let mut probe = [0u8; PROBE_LEN];
                let mut probe_buf = ReadBuf::new(&mut probe);
                ready!(Pin::new(&mut this.io).poll_read(cx, &mut probe_buf))?;
                let got = probe_buf.filled();
                if got.is_empty() {
                    this.read_eof = true;
                    continue;
                }
                let mut rbuf = vec![0u8; READ_BUF_MIN];
                if let Some(head) = rbuf.get_mut(..got.len()) {
                    head.copy_from_slice(got);
                }
                this.rbuf = rbuf;
                this.rend = got.len();
                this.last_read = Some(got.len());
                continue;
            }
            let mut read_buf = ReadBuf::new(this.rbuf.get_mut(this.rend..).unwrap_or_default());
            let polled = Pin::new(&mut this.io).poll_read(cx, &mut read_buf);
            let n = read_buf.filled().len();
            match polled {
                Poll::Pending => {
                    // The socket ran dry with nothing buffered. A buffer that never grew goes
                    // at once. One that a bulk transfer grew goes after a few such pauses in a
                    // row that each followed a small read (no clock here to tell an idle
                    // connection from a pause in a transfer). `take`: a pause counts once,
                    // however often the caller polls during it.
                    if this.rend == 0 {
                        if this.last_read.take().is_some_and(|n| n < READ_BUF_MIN) {
                            this.quiet += 1;
                        }
                        if this.rbuf.len() <= READ_BUF_MIN || this.quiet >= QUIET_RELEASE {
                            this.rbuf = Vec::new();
                            this.quiet = 0;
                        }
                    }
                    return Poll::Pending;
                }
                Poll::Ready(result) => result?,
            }
            if n == 0 {
                this.read_eof = true;
            }
            this.last_read = Some(n);
            if n >= READ_BUF_MIN {
                this.quiet = 0;
            }
            this.rend += n;
            if this.rend == this.rbuf.len() && this.rbuf.len() < READ_BUF_LEN {
                // The read filled the buffer: more is queued in the socket. Read more at once.
                let grown = (this.rbuf.len() * 2).min(READ_BUF_LEN);
                this.rbuf.resize(grown, 0);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{duplex, AsyncReadExt, AsyncWriteExt};
    use tokio::net::{TcpListener, TcpStream};

    const YAMUX: &str = "/yamux/1.0.0";

    fn keys() -> (Keypair, Keypair) {
        (Keypair::ed25519_from_seed(1), Keypair::ed25519_from_seed(2))
    }

    /// Deterministic test data that differs at every offset within a frame.
    fn pattern(len: usize) -> Vec<u8> {
        (0..len).map(|i| (i ^ (i >> 8) ^ (i >> 16)) as u8).collect()
    }

    async fn handshake_pair<T>(
        a_io: T,
        b_io: T,
    ) -> ((NoiseStream<T>, RemoteInfo), (NoiseStream<T>, RemoteInfo))
    where
        T: AsyncRead + AsyncWrite + Unpin,
    {
        let (a, b) = keys();
        let expected = b.public().to_peer_id();
        let (out, inb) = tokio::join!(
            upgrade_outbound(a_io, &a, Some(expected), &[YAMUX]),
            upgrade_inbound(b_io, &b, &[YAMUX]),
        );
        (out.unwrap(), inb.unwrap())
    }

    #[tokio::test]
    async fn handshake_over_duplex_in_both_roles() {
        let (a_io, b_io) = duplex(1024);
        let ((mut a, a_info), (mut b, b_info)) = handshake_pair(a_io, b_io).await;
        let (ka, kb) = keys();
        assert_eq!(a_info.peer_id, kb.public().to_peer_id());
        assert_eq!(b_info.peer_id, ka.public().to_peer_id());
        assert_eq!(a_info.negotiated_muxer.as_deref(), Some(YAMUX));
        assert_eq!(b_info.negotiated_muxer.as_deref(), Some(YAMUX));

        a.write_all(b"ping").await.unwrap();
        a.flush().await.unwrap();
        let mut buf = [0u8; 4];
        b.read_exact(&mut buf).await.unwrap();
        assert_eq!(&buf, b"ping");
        b.write_all(b"pong").await.unwrap();
        b.shutdown().await.unwrap();
        let mut rest = Vec::new();
        a.read_to_end(&mut rest).await.unwrap();
        assert_eq!(rest, b"pong");
    }

    #[tokio::test]
    async fn wrong_peer_is_refused() {
        let (a_io, b_io) = duplex(1 << 16);
        let (a, b) = keys();
        let other = Keypair::ed25519_from_seed(3).public().to_peer_id();
        let (out, inb) = tokio::join!(
            upgrade_outbound(a_io, &a, Some(other.clone()), &[]),
            upgrade_inbound(b_io, &b, &[]),
        );
        match out {
            Err(NoiseUpgradeError::Noise(NoiseError::PeerIdMismatch { expected, actual })) => {
                assert_eq!(expected, other);
                assert_eq!(actual, b.public().to_peer_id());
            }
            other => panic!("expected a peer id mismatch, got {other:?}"),
        }
        // The dialer dropped its end without sending message 3.
        assert!(matches!(inb, Err(NoiseUpgradeError::Closed)));
    }

    async fn transfer<T>(mut tx: NoiseStream<T>, mut rx: NoiseStream<T>, len: usize, chunk: usize)
    where
        T: AsyncRead + AsyncWrite + Unpin + Send + 'static,
    {
        let data = pattern(len);
        let expected = data.clone();
        let writer = tokio::spawn(async move {
            for piece in data.chunks(chunk) {
                tx.write_all(piece).await.unwrap();
            }
            tx.shutdown().await.unwrap();
            tx
        });
        let mut got = Vec::with_capacity(len);
        let mut buf = vec![0u8; 100_000];
        loop {
            let n = rx.read(&mut buf).await.unwrap();
            if n == 0 {
                break;
            }
            got.extend_from_slice(&buf[..n]);
        }
        writer.await.unwrap();
        assert_eq!(got.len(), expected.len());
        assert!(got == expected, "transferred bytes differ");
    }

    #[tokio::test]
    async fn sixty_four_mib_over_duplex() {
        let (a_io, b_io) = duplex(1 << 20);
        let ((a, _), (b, _)) = handshake_pair(a_io, b_io).await;
        // Odd chunk size: frames fill across writes.
        transfer(a, b, 64 << 20, 100_003).await;
    }

    #[tokio::test]
    async fn sixty_four_mib_over_tcp_both_directions() {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (dialed, accepted) = tokio::join!(TcpStream::connect(addr), listener.accept());
        let ((a, _), (b, _)) = handshake_pair(dialed.unwrap(), accepted.unwrap().0).await;
        let (a_read, a_write) = tokio::io::split(a);
        let (b_read, b_write) = tokio::io::split(b);
        let one = tokio::spawn(transfer_split(a_write, b_read, 64 << 20, 1 << 20));
        let two = tokio::spawn(transfer_split(b_write, a_read, 8 << 20, 777));
        one.await.unwrap();
        two.await.unwrap();
    }

    async fn transfer_split<W, R>(mut tx: W, mut rx: R, len: usize, chunk: usize)
    where
        W: AsyncWrite + Unpin + Send + 'static,
        R: AsyncRead + Unpin,
    {
        let data = pattern(len);
        let expected = data.clone();
        let writer = tokio::spawn(async move {
            for piece in data.chunks(chunk) {
                tx.write_all(piece).await.unwrap();
            }
            tx.shutdown().await.unwrap();
        });
        let mut got = Vec::with_capacity(len);
        rx.read_to_end(&mut got).await.unwrap();
        writer.await.unwrap();
        assert!(got == expected, "transferred bytes differ");
    }

    #[tokio::test(start_paused = true)]
    async fn small_writes_are_held_until_flush_then_delivered() {
        let (a_io, b_io) = duplex(1 << 16);
        let ((mut a, _), (mut b, _)) = handshake_pair(a_io, b_io).await;
        for i in 0..100u8 {
            a.write_all(&[i]).await.unwrap();
        }
        let mut buf = [0u8; 100];
        let early =
            tokio::time::timeout(std::time::Duration::from_millis(20), b.read(&mut buf)).await;
        assert!(early.is_err(), "nothing is sent before a flush");
        a.flush().await.unwrap();
        b.read_exact(&mut buf).await.unwrap();
        assert_eq!(buf.to_vec(), (0..100u8).collect::<Vec<_>>());
    }

    /// Feeds `bytes` as everything the remote ever sends, then closes.
    async fn inbound_against(bytes: Vec<u8>) -> NoiseUpgradeError {
        let (mut remote, local) = duplex(1 << 17);
        let (_, b) = keys();
        let feeder = tokio::spawn(async move {
            remote.write_all(&bytes).await.unwrap();
            remote.shutdown().await.unwrap();
            // Drain what the responder sends so it never blocks.
            let mut sink = Vec::new();
            let _ = remote.read_to_end(&mut sink).await;
        });
        let result = upgrade_inbound(local, &b, &[]).await;
        feeder.await.unwrap();
        result.expect_err("the handshake must fail")
    }

    #[tokio::test]
    async fn garbage_and_truncated_handshakes_fail_with_typed_errors() {
        // Nothing at all.
        assert!(matches!(
            inbound_against(vec![]).await,
            NoiseUpgradeError::Closed
        ));
        // Half a length prefix.
        assert!(matches!(
            inbound_against(vec![0]).await,
            NoiseUpgradeError::Closed
        ));
        // A message 1 shorter than a key.
        assert!(matches!(
            inbound_against(vec![0, 3, 1, 2, 3]).await,
            NoiseUpgradeError::Noise(NoiseError::MessageTooShort { message: 1, .. })
        ));
        // A valid-looking message 1, then the stream ends: the responder waits for message 3.
        let mut msg1 = vec![0, 32];
        msg1.extend_from_slice(&[9u8; 32]);
        assert!(matches!(
            inbound_against(msg1.clone()).await,
            NoiseUpgradeError::Closed
        ));
        // Message 1 followed by a message 3 of garbage.
        let mut both = msg1;
        both.extend_from_slice(&[0, 100]);
        both.extend_from_slice(&[0x55; 100]);
        assert!(matches!(
            inbound_against(both).await,
            NoiseUpgradeError::Noise(NoiseError::Decrypt)
        ));
    }

    #[tokio::test]
    async fn a_tampered_transport_frame_is_an_error_not_data() {
        use std::sync::atomic::{AtomicBool, Ordering};
        use std::sync::Arc;
        // A relay between a and b that, once armed, flips one ciphertext bit of what a sends.
        let (a_io, relay_a) = duplex(1 << 17);
        let (relay_b, b_io) = duplex(1 << 17);
        let armed = Arc::new(AtomicBool::new(false));
        let armed2 = armed.clone();
        let relay = tokio::spawn(async move {
            let (mut ar, mut aw) = tokio::io::split(relay_a);
            let (mut br, mut bw) = tokio::io::split(relay_b);
            let back = tokio::spawn(async move { tokio::io::copy(&mut br, &mut aw).await });
            let mut buf = vec![0u8; 1 << 17];
            let mut after_arming = 0usize;
            loop {
                let n = ar.read(&mut buf).await.unwrap();
                if n == 0 {
                    break;
                }
                if armed2.load(Ordering::SeqCst) {
                    for byte in buf[..n].iter_mut() {
                        if after_arming == 10 {
                            *byte ^= 1;
                        }
                        after_arming += 1;
                    }
                }
                bw.write_all(&buf[..n]).await.unwrap();
            }
            bw.shutdown().await.unwrap();
            let _ = back.await;
        });
        let ((mut a, _), (mut b, _)) = handshake_pair(a_io, b_io).await;
        armed.store(true, Ordering::SeqCst);
        a.write_all(&[7u8; 1000]).await.unwrap();
        a.shutdown().await.unwrap();
        let mut got = Vec::new();
        let err = b.read_to_end(&mut got).await.unwrap_err();
        assert!(got.is_empty(), "no plaintext from a forged frame");
        assert_eq!(err.kind(), io::ErrorKind::InvalidData);
        let inner = err.get_ref().and_then(|e| e.downcast_ref::<NoiseError>());
        assert_eq!(inner, Some(&NoiseError::Decrypt));
        // The session stays failed.
        assert!(b.read(&mut [0u8; 10]).await.is_err());
        drop((a, b));
        relay.await.unwrap();
    }

    /// Runs the initiator side by hand with the sans-IO core, so the test controls every byte
    /// sent after the handshake. `early` is encrypted and sent in the same write as message 3.
    async fn manual_initiator(
        io: &mut tokio::io::DuplexStream,
        early: &[u8],
    ) -> peernet_core::noise::Transport {
        let mut hs = Handshake::initiator(&Keypair::ed25519_from_seed(1), None, &[]);
        let mut out = Vec::new();
        hs.write_output(&mut out);
        io.write_all(&out).await.unwrap();
        let mut buf = vec![0u8; 4096];
        while !hs.is_finished() {
            let n = io.read(&mut buf).await.unwrap();
            assert_eq!(hs.read_input(&buf[..n]).unwrap(), n);
        }
        out.clear();
        hs.write_output(&mut out);
        let (mut transport, _) = hs.finish().unwrap();
        if !early.is_empty() {
            transport.encrypt(early, &mut out).unwrap();
        }
        io.write_all(&out).await.unwrap();
        transport
    }

    #[tokio::test]
    async fn frames_of_any_size_and_pipelined_data_are_delivered() {
        let (mut remote, local) = duplex(1 << 20);
        let (_, b) = keys();
        let (mut transport, inbound) = tokio::join!(
            manual_initiator(&mut remote, b"right behind message 3"),
            upgrade_inbound(local, &b, &[])
        );
        let (mut stream, _) = inbound.unwrap();
        let mut expected = b"right behind message 3".to_vec();
        let mut wire = Vec::new();
        for len in [0, 1, 0, 16, 65519, 3, 0, 40000] {
            let data = pattern(len);
            transport.encrypt(&data, &mut wire).unwrap();
            expected.extend_from_slice(&data);
        }
        // Dribble the frames in odd-sized pieces.
        let sender = tokio::spawn(async move {
            for piece in wire.chunks(1234) {
                remote.write_all(piece).await.unwrap();
            }
            remote.shutdown().await.unwrap();
            remote
        });
        let mut got = Vec::new();
        stream.read_to_end(&mut got).await.unwrap();
        assert!(got == expected);
        drop(sender.await.unwrap());
    }

    #[tokio::test]
    async fn a_stream_cut_inside_a_frame_is_unexpected_eof() {
        let (mut remote, local) = duplex(1 << 20);
        let (_, b) = keys();
        let (mut transport, inbound) = tokio::join!(
            manual_initiator(&mut remote, b""),
            upgrade_inbound(local, &b, &[])
        );
        let (mut stream, _) = inbound.unwrap();
        let mut wire = Vec::new();
        transport.encrypt(b"complete", &mut wire).unwrap();
        let first = wire.len();
        transport.encrypt(b"cut short", &mut wire).unwrap();
        remote.write_all(&wire[..first + 5]).await.unwrap();
        remote.shutdown().await.unwrap();
        let mut buf = [0u8; 8];
        stream.read_exact(&mut buf).await.unwrap();
        assert_eq!(&buf, b"complete");
        let err = stream.read(&mut [0u8; 64]).await.unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::UnexpectedEof);
        assert!(stream.read(&mut [0u8; 64]).await.is_err());
    }

    #[tokio::test]
    async fn a_frame_shorter_than_a_tag_is_invalid_data() {
        let (mut remote, local) = duplex(1 << 20);
        let (_, b) = keys();
        let (_transport, inbound) = tokio::join!(
            manual_initiator(&mut remote, b""),
            upgrade_inbound(local, &b, &[])
        );
        let (mut stream, _) = inbound.unwrap();
        remote.write_all(&[0, 3, 1, 2, 3]).await.unwrap();
        let err = stream.read(&mut [0u8; 64]).await.unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::InvalidData);
        let inner = err.get_ref().and_then(|e| e.downcast_ref::<NoiseError>());
        assert_eq!(inner, Some(&NoiseError::FrameTooShort(3)));
    }

    /// Random write sizes, random flushes, and a pipe of 1000 bytes, so that nearly every socket
    /// write and read is partial and returns `Pending` in the middle of frames.
    #[tokio::test]
    async fn partial_io_with_random_write_sizes_and_flushes() {
        let (a_io, b_io) = duplex(1000);
        let ((mut a, _), (mut b, _)) = handshake_pair(a_io, b_io).await;
        let data = pattern(3 << 20);
        let expected = data.clone();
        let writer = tokio::spawn(async move {
            let mut state = 0x2545_f491_4f6c_dd1du64;
            let mut next = move || {
                state = state
                    .wrapping_mul(6364136223846793005)
                    .wrapping_add(1442695040888963407);
                (state >> 33) as usize
            };
            let mut at = 0;
            while at < data.len() {
                let len = match next() % 4 {
                    0 => next() % 16,
                    1 => next() % 3000,
                    2 => next() % 70_000,
                    _ => next() % 300_000,
                }
                .min(data.len() - at);
                a.write_all(&data[at..at + len]).await.unwrap();
                at += len;
                if next() % 3 == 0 {
                    a.flush().await.unwrap();
                }
            }
            a.shutdown().await.unwrap();
        });
        let mut got = Vec::new();
        let mut buf = vec![0u8; 5000];
        loop {
            let n = b.read(&mut buf).await.unwrap();
            if n == 0 {
                break;
            }
            got.extend_from_slice(&buf[..n]);
        }
        writer.await.unwrap();
        assert!(got == expected, "transferred bytes differ");
    }

    /// After a bulk transfer and a small message, a session with nothing to read holds no
    /// read or write buffer; traffic afterwards (a maximal frame first) is delivered intact.
    #[tokio::test(start_paused = true)]
    async fn an_idle_session_releases_its_buffers() {
        let (a_io, b_io) = duplex(1 << 20);
        let ((mut a, _), (mut b, _)) = handshake_pair(a_io, b_io).await;
        let bulk = pattern(300_000);
        a.write_all(&bulk).await.unwrap();
        a.flush().await.unwrap();
        let mut got = vec![0u8; bulk.len()];
        b.read_exact(&mut got).await.unwrap();
        assert!(got == bulk);
        assert!(
            a.wbuf.capacity() > WRITE_KEEP,
            "a bulk write grows the write buffer"
        );
        assert!(
            b.rbuf.len() > READ_BUF_MIN,
            "a bulk read grows the read buffer"
        );

        // Small messages, each followed by a quiet socket: the grown read buffer survives a
        // pause (it may be one inside a transfer) but not several in a row.
        for round in 1..=QUIET_RELEASE {
            a.write_all(b"ping").await.unwrap();
            a.flush().await.unwrap();
            if round < QUIET_RELEASE {
                assert!(
                    a.wbuf.capacity() > WRITE_KEEP,
                    "kept after {round} small flushes"
                );
            } else {
                assert_eq!(a.wbuf.capacity(), 0, "released after {round} small flushes");
            }
            let mut ping = [0u8; 4];
            b.read_exact(&mut ping).await.unwrap();
            assert_eq!(&ping, b"ping");
            let idle =
                tokio::time::timeout(std::time::Duration::from_secs(1), b.read(&mut [0u8; 16]))
                    .await;
            assert!(idle.is_err(), "nothing more to read");
            if round < QUIET_RELEASE {
                assert!(
                    b.rbuf.len() > READ_BUF_MIN,
                    "kept after {round} quiet moments"
                );
            }
        }
        assert_eq!(
            b.rbuf.capacity(),
            0,
            "a quiet reader releases its read buffer"
        );

        // A buffer that never grew goes at the first quiet moment.
        a.write_all(b"ping").await.unwrap();
        a.flush().await.unwrap();
        let mut ping = [0u8; 4];
        b.read_exact(&mut ping).await.unwrap();
        assert!(b.rbuf.capacity() > 0);
        let idle =
            tokio::time::timeout(std::time::Duration::from_secs(1), b.read(&mut [0u8; 16])).await;
        assert!(idle.is_err(), "nothing more to read");
        assert_eq!(b.rbuf.capacity(), 0, "released at once");

        let mut expected = pattern(MAX_PLAINTEXT_LEN);
        a.write_all(&expected).await.unwrap();
        a.write_all(b"tail").await.unwrap();
        a.flush().await.unwrap();
        expected.extend_from_slice(b"tail");
        let mut again = vec![0u8; expected.len()];
        b.read_exact(&mut again).await.unwrap();
        assert!(again == expected);
    }

    /// A remote that never reads: writes stop being accepted once the buffer holds its bound,
    /// instead of buffering without limit.
    #[tokio::test(start_paused = true)]
    async fn a_peer_that_stops_reading_bounds_the_write_buffer() {
        let (a_io, b_io) = duplex(4096);
        let ((mut a, _), (_b, _)) = handshake_pair(a_io, b_io).await;
        let big = vec![1u8; 16 << 20];
        let stalled =
            tokio::time::timeout(std::time::Duration::from_secs(5), a.write_all(&big)).await;
        assert!(stalled.is_err(), "the write cannot complete");
        assert!(a.wbuf.len() <= WRITE_HIGH_WATER + MAX_FRAME_LEN);
        assert!(a.wbuf.capacity() <= 2 * (WRITE_HIGH_WATER + MAX_FRAME_LEN));
    }
}
