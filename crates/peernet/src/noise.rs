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

use crate::io_buffer::{IdleRelease, QUIET_SPELLS};

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
/// Stack buffer of the first read after a quiet release (larger messages continue in the
/// allocated buffer).
const PROBE_LEN: usize = 512;
/// Bytes read per call during the handshake (a message larger than this is read in pieces;
/// the handshake core reassembles it).
const HANDSHAKE_READ: usize = 1024;
/// Sealed bytes buffered before a write goes to the socket. The write buffer grows to this
/// (plus one open frame) only under bulk writes.
const WRITE_HIGH_WATER: usize = 4 * MAX_FRAME_LEN;
/// [`QUIET_SPELLS`] flushes in a row of fewer bytes than this release a write buffer that has
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
        hs.poll_transmit(&mut out);
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
        let consumed = hs.handle_input(rbuf.get(rpos..rend).unwrap_or_default())?;
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
        idle: IdleRelease::new(READ_BUF_MIN),
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
    /// When the read buffer goes back (the rule shared with the yamux driver).
    idle: IdleRelease,
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
            if self.wbuf.capacity() > WRITE_KEEP && self.small_flushes >= QUIET_SPELLS {
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
            if this.copy_plaintext(buf) {
                copied = true;
                if buf.remaining() == 0 {
                    return Poll::Ready(Ok(()));
                }
                continue;
            }
            // 2. A whole frame buffered: decrypt it in place.
            let need = match this.decrypt_next() {
                Ok(Next::Decrypted) => continue,
                Ok(Next::Need(need)) => need,
                Err(e) => {
                    tracing::debug!(error = %e, "noise frame rejected");
                    this.read_error = Some(e.clone());
                    if copied {
                        // Deliver the good plaintext; the error comes on the next call.
                        return Poll::Ready(Ok(()));
                    }
                    return Poll::Ready(Err(noise_io_error(io::ErrorKind::InvalidData, e)));
                }
            };
            // 3. Need more bytes. Return what was copied rather than wait for the socket.
            if copied {
                return Poll::Ready(Ok(()));
            }
            match ready!(this.poll_fill(cx, need))? {
                Fill::Read => {}
                Fill::Eof if this.rpos == this.rend => return Poll::Ready(Ok(())),
                Fill::Eof => {
                    this.read_truncated = true;
                    return Poll::Ready(Err(truncated()));
                }
            }
        }
    }
}

/// What [`NoiseStream::decrypt_next`] found in the read buffer.
enum Next {
    /// A frame was decrypted in place: its plaintext is ready.
    Decrypted,
    /// No whole frame is buffered: this many bytes (from `rpos`) make the next one.
    Need(usize),
}

/// What [`NoiseStream::poll_fill`] did.
enum Fill {
    /// Bytes arrived in the read buffer.
    Read,
    /// The stream ended.
    Eof,
}

impl<T> NoiseStream<T> {
    /// Copies buffered plaintext into `buf`; false if there was none.
    fn copy_plaintext(&mut self, buf: &mut ReadBuf<'_>) -> bool {
        if self.plain_start >= self.plain_end {
            return false;
        }
        let n = buf.remaining().min(self.plain_end - self.plain_start);
        let plain = self
            .rbuf
            .get(self.plain_start..self.plain_start + n)
            .unwrap_or_default();
        buf.put_slice(plain);
        self.plain_start += n;
        true
    }

    /// Decryption: decrypts the next whole frame of the read buffer in place, or says how many
    /// bytes the next frame needs. An error is final for the read side.
    fn decrypt_next(&mut self) -> Result<Next, NoiseError> {
        let raw = self.rbuf.get(self.rpos..self.rend).unwrap_or_default();
        match message_len(raw) {
            Some(len) if raw.len() >= LENGTH_PREFIX_LEN + len => {
                let start = self.rpos + LENGTH_PREFIX_LEN;
                let message = self.rbuf.get_mut(start..start + len).unwrap_or_default();
                let plain = self.receiver.decrypt_in_place(message)?;
                self.plain_start = start;
                self.plain_end = start + plain.len();
                self.rpos = start + len;
                Ok(Next::Decrypted)
            }
            Some(len) => Ok(Next::Need(LENGTH_PREFIX_LEN + len)),
            None => Ok(Next::Need(LENGTH_PREFIX_LEN)),
        }
    }
}

impl<T: AsyncRead + Unpin> NoiseStream<T> {
    /// The buffer policy: makes room in the read buffer for a frame of `need` bytes (moving the
    /// undecrypted rest to the front, growing the buffer for a large frame), reads from `io`
    /// into it, grows it while reads fill it, and gives it back when the socket runs dry on an
    /// idle session ([`IdleRelease`]); after a release, the next read probes with a small stack
    /// buffer before allocating.
    fn poll_fill(&mut self, cx: &mut Context<'_>, need: usize) -> Poll<io::Result<Fill>> {
        if self.rpos == self.rend {
            (self.rpos, self.rend) = (0, 0);
        } else if self.rbuf.len() - self.rpos < need {
            self.rbuf.copy_within(self.rpos..self.rend, 0);
            self.rend -= self.rpos;
            self.rpos = 0;
        }
        if !self.rbuf.is_empty() && self.rbuf.len() < need.max(READ_BUF_MIN) {
            // A frame larger than the buffer: at least double.
            let grown = need.max(READ_BUF_MIN).max(2 * self.rbuf.len());
            self.rbuf.resize(grown.min(READ_BUF_LEN.max(need)), 0);
        }
        self.plain_start = 0;
        self.plain_end = 0;
        if self.read_eof {
            return Poll::Ready(Ok(Fill::Eof));
        }
        if self.rbuf.is_empty() {
            // Released while quiet (so nothing is buffered): learn whether anything has
            // arrived before allocating, so that waking an idle session costs nothing.
            let mut probe = [0u8; PROBE_LEN];
            let mut probe_buf = ReadBuf::new(&mut probe);
            ready!(Pin::new(&mut self.io).poll_read(cx, &mut probe_buf))?;
            let got = probe_buf.filled();
            if got.is_empty() {
                self.read_eof = true;
                return Poll::Ready(Ok(Fill::Eof));
            }
            let mut rbuf = vec![0u8; READ_BUF_MIN];
            if let Some(head) = rbuf.get_mut(..got.len()) {
                head.copy_from_slice(got);
            }
            self.rbuf = rbuf;
            self.rend = got.len();
            self.idle.on_read(got.len());
            return Poll::Ready(Ok(Fill::Read));
        }
        let mut read_buf = ReadBuf::new(self.rbuf.get_mut(self.rend..).unwrap_or_default());
        let polled = Pin::new(&mut self.io).poll_read(cx, &mut read_buf);
        let n = read_buf.filled().len();
        match polled {
            Poll::Pending => {
                // The socket ran dry: with nothing buffered, the shared rule decides whether
                // the buffer goes.
                if self.rend == 0 && self.idle.on_dry(self.rbuf.len()) {
                    self.rbuf = Vec::new();
                }
                return Poll::Pending;
            }
            Poll::Ready(result) => result?,
        }
        if n == 0 {
            self.read_eof = true;
            return Poll::Ready(Ok(Fill::Eof));
        }
        self.idle.on_read(n);
        self.rend += n;
        if self.rend == self.rbuf.len() && self.rbuf.len() < READ_BUF_LEN {
            // The read filled the buffer: more is queued in the socket. Read more at once.
            let grown = (self.rbuf.len() * 2).min(READ_BUF_LEN);
            self.rbuf.resize(grown, 0);
        }
        Poll::Ready(Ok(Fill::Read))
    }
}

#[cfg(test)]
mod tests;
