//! The tokio side of one RLPx connection: pumping bytes through the sans-IO handshake and frame
//! codec, and the Hello exchange (go-ethereum's `doEncHandshake` / `doProtoHandshake`).

use std::io;

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, ReadHalf, WriteHalf};

use crate::proto::frame::{self, FrameError, FrameReader, FrameWriter, RawMessage};
use crate::proto::handshake::{Handshake, HandshakeError};
use crate::proto::message::{
    check_hello, decode_disconnect, encode_disconnect, DiscReason, Hello, MessageError, DISC_MSG,
    HELLO_MSG, SNAPPY_PROTOCOL_VERSION,
};
use crate::proto::node::NodeId;
use k256::SecretKey;

/// Any byte stream a connection can run over (TCP in the server; in-memory pipes in tests).
pub(crate) trait Stream: AsyncRead + AsyncWrite + Send + Unpin + 'static {}
impl<T: AsyncRead + AsyncWrite + Send + Unpin + 'static> Stream for T {}

pub(crate) type BoxStream = Box<dyn Stream>;

/// Bytes read from the socket at a time.
const READ_CHUNK: usize = 64 * 1024;

/// Why setting up a connection (encryption handshake, Hello exchange, server checks) failed.
#[derive(Debug, thiserror::Error)]
pub enum SetupError {
    /// The socket failed or was closed (the network, or the remote hung up).
    #[error("i/o: {0}")]
    Io(io::Error),
    /// The remote did not complete the handshake in time (the remote's fault).
    #[error("handshake timed out")]
    Timeout,
    /// The encryption handshake failed (see the inner error for who is at fault).
    #[error("encryption handshake: {0}")]
    Handshake(HandshakeError),
    /// A frame from the remote was invalid (the remote's fault).
    #[error("frame: {0}")]
    Frame(FrameError),
    /// The remote's Hello was malformed (the remote's fault).
    #[error("hello: {0}")]
    Message(MessageError),
    /// The remote sent something other than Hello or Disconnect first (the remote's fault).
    #[error("expected hello, got message code {0}")]
    UnexpectedMessage(u64),
    /// The remote disconnected us during setup, with this reason (the remote's decision).
    #[error("remote disconnected: {0}")]
    Disconnected(DiscReason),
    /// We refused the remote and told it so with this reason (the remote's identity, version or
    /// capabilities, or our limits).
    #[error("refused: {0}")]
    Refused(DiscReason),
    /// The server is shutting down (local).
    #[error("server is shutting down")]
    ServerClosed,
}

// The inner error is shown in the variant's message, so it is not also exposed as
// `source()` (which would print it twice in error chains).
impl From<io::Error> for SetupError {
    fn from(e: io::Error) -> Self {
        SetupError::Io(e)
    }
}

impl From<HandshakeError> for SetupError {
    fn from(e: HandshakeError) -> Self {
        SetupError::Handshake(e)
    }
}

impl From<FrameError> for SetupError {
    fn from(e: FrameError) -> Self {
        SetupError::Frame(e)
    }
}

impl From<MessageError> for SetupError {
    fn from(e: MessageError) -> Self {
        SetupError::Message(e)
    }
}

/// Reading half of an established session.
pub(crate) struct ConnReader {
    io: ReadHalf<BoxStream>,
    frames: FrameReader,
    buf: Vec<u8>,
    pos: usize,
}

/// Writing half of an established session.
pub(crate) struct ConnWriter {
    io: WriteHalf<BoxStream>,
    frames: FrameWriter,
    buf: Vec<u8>,
}

/// Why reading a message failed.
#[derive(Debug)]
pub(crate) enum ReadError {
    Io(io::Error),
    Frame(FrameError),
}

impl From<io::Error> for ReadError {
    fn from(e: io::Error) -> Self {
        ReadError::Io(e)
    }
}

impl From<FrameError> for ReadError {
    fn from(e: FrameError) -> Self {
        ReadError::Frame(e)
    }
}

impl From<ReadError> for SetupError {
    fn from(e: ReadError) -> Self {
        match e {
            ReadError::Io(e) => SetupError::Io(e),
            ReadError::Frame(e) => SetupError::Frame(e),
        }
    }
}

/// Why writing a message failed.
#[derive(Debug)]
pub(crate) enum WriteError {
    Io(io::Error),
    Frame(FrameError),
}

impl From<WriteError> for SetupError {
    fn from(e: WriteError) -> Self {
        match e {
            WriteError::Io(e) => SetupError::Io(e),
            WriteError::Frame(e) => SetupError::Frame(e),
        }
    }
}

impl std::fmt::Display for WriteError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            WriteError::Io(e) => write!(f, "i/o: {e}"),
            WriteError::Frame(e) => write!(f, "{e}"),
        }
    }
}

impl std::fmt::Display for ReadError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ReadError::Io(e) => write!(f, "i/o: {e}"),
            ReadError::Frame(e) => write!(f, "{e}"),
        }
    }
}

impl ConnReader {
    /// Reads the next message.
    pub(crate) async fn read_msg(&mut self) -> Result<RawMessage, ReadError> {
        loop {
            if let Some((msg, n)) = self
                .frames
                .decode(self.buf.get(self.pos..).unwrap_or_default())?
            {
                self.pos += n;
                if self.pos >= self.buf.len() {
                    self.buf.clear();
                    self.pos = 0;
                }
                return Ok(msg);
            }
            if self.pos > 0 {
                self.buf.drain(..self.pos);
                self.pos = 0;
            }
            self.buf.reserve(READ_CHUNK);
            if self.io.read_buf(&mut self.buf).await? == 0 {
                return Err(io::Error::from(io::ErrorKind::UnexpectedEof).into());
            }
        }
    }

    pub(crate) fn set_snappy(&mut self, on: bool) {
        self.frames.set_snappy(on);
    }
}

impl ConnWriter {
    /// Writes one message and flushes it.
    pub(crate) async fn write_msg(&mut self, code: u64, payload: &[u8]) -> Result<(), WriteError> {
        self.buf.clear();
        self.queue_msg(code, payload).map_err(WriteError::Frame)?;
        self.flush_queued().await.map_err(WriteError::Io)
    }

    /// Frames one message behind those already queued; nothing is sent yet. On error nothing
    /// was queued and the session state is unchanged.
    pub(crate) fn queue_msg(&mut self, code: u64, payload: &[u8]) -> Result<(), FrameError> {
        self.frames.write_msg(code, payload, &mut self.buf)
    }

    /// Bytes queued and not yet sent.
    pub(crate) fn queued(&self) -> usize {
        self.buf.len()
    }

    /// Sends the queued frames in one write.
    pub(crate) async fn flush_queued(&mut self) -> Result<(), io::Error> {
        let res = async {
            self.io.write_all(&self.buf).await?;
            self.io.flush().await
        }
        .await;
        self.buf.clear();
        if self.buf.capacity() > 4 * READ_CHUNK {
            self.buf = Vec::new();
        }
        res
    }

    pub(crate) fn set_snappy(&mut self, on: bool) {
        self.frames.set_snappy(on);
    }

    /// Closes the write direction.
    pub(crate) async fn shutdown(&mut self) {
        let _ = self.io.shutdown().await;
    }
}

/// Runs the encryption handshake: as initiator if `dial` names the remote, else as recipient.
pub(crate) async fn enc_handshake(
    stream: BoxStream,
    key: &SecretKey,
    dial: Option<NodeId>,
) -> Result<(ConnReader, ConnWriter, NodeId), SetupError> {
    let (mut rd, mut wr) = tokio::io::split(stream);
    let mut hs = match dial {
        Some(remote) => Handshake::initiator(key.clone(), remote, &mut rand::thread_rng())?,
        None => Handshake::recipient(key.clone(), &mut rand::thread_rng()),
    };
    let out = hs.take_outgoing();
    if !out.is_empty() {
        wr.write_all(&out).await?;
        wr.flush().await?;
    }
    let mut buf = Vec::with_capacity(1024);
    let used = loop {
        if rd.read_buf(&mut buf).await? == 0 {
            return Err(io::Error::from(io::ErrorKind::UnexpectedEof).into());
        }
        // `read` decides (success or error) by 2 + 65535 bytes at the latest, which bounds `buf`.
        if let Some(n) = hs.read(&buf, &mut rand::thread_rng())? {
            break n;
        }
    };
    let out = hs.take_outgoing();
    if !out.is_empty() {
        wr.write_all(&out).await?;
        wr.flush().await?;
    }
    let secrets = hs.finish()?;
    let (fw, fr) = frame::session(&secrets);
    buf.drain(..used);
    let reader = ConnReader {
        io: rd,
        frames: fr,
        buf,
        pos: 0,
    };
    let writer = ConnWriter {
        io: wr,
        frames: fw,
        buf: Vec::new(),
    };
    Ok((reader, writer, secrets.remote_id))
}

/// Sends our Hello and reads theirs (concurrently, like go-ethereum, so neither side can block
/// the other), checks it, and turns snappy on if the remote speaks p2p v5 or later.
pub(crate) async fn proto_handshake(
    reader: &mut ConnReader,
    writer: &mut ConnWriter,
    ours: &Hello,
    remote_id: &NodeId,
    min_version: u64,
) -> Result<Hello, SetupError> {
    let payload = ours.encode();
    let (w, r) = tokio::join!(writer.write_msg(HELLO_MSG, &payload), reader.read_msg());
    let msg = r?;
    let theirs = match msg.code {
        HELLO_MSG => Hello::decode(&msg.payload)?,
        DISC_MSG => {
            let reason = decode_disconnect(&msg.payload).unwrap_or(DiscReason::ProtocolError);
            return Err(SetupError::Disconnected(reason));
        }
        other => return Err(SetupError::UnexpectedMessage(other)),
    };
    w?;
    check_hello(&theirs, remote_id, min_version).map_err(SetupError::Refused)?;
    let snappy = theirs.protocol_version >= SNAPPY_PROTOCOL_VERSION;
    reader.set_snappy(snappy);
    writer.set_snappy(snappy);
    Ok(theirs)
}

/// The reason to send when setup failed with `err`, if one should be sent.
pub(crate) fn reason_for_setup_error(err: &SetupError) -> Option<DiscReason> {
    match err {
        SetupError::Timeout => Some(DiscReason::ReadTimeout),
        SetupError::Frame(_) | SetupError::Message(_) | SetupError::UnexpectedMessage(_) => {
            Some(DiscReason::ProtocolError)
        }
        SetupError::Refused(r) => Some(*r),
        SetupError::ServerClosed => Some(DiscReason::ClientQuit),
        SetupError::Io(_) | SetupError::Handshake(_) | SetupError::Disconnected(_) => None,
    }
}

/// Best-effort Disconnect with a short deadline, then close.
pub(crate) async fn send_disconnect(
    writer: &mut ConnWriter,
    reason: DiscReason,
    deadline: std::time::Duration,
) {
    let payload = encode_disconnect(reason);
    let _ = tokio::time::timeout(deadline, writer.write_msg(DISC_MSG, &payload)).await;
    let _ = tokio::time::timeout(deadline, writer.shutdown()).await;
}
