//! The tokio side of one RLPx connection: pumping bytes through the sans-IO handshake and frame
//! codec, and the Hello exchange (go-ethereum's `doEncHandshake` / `doProtoHandshake`).

use std::io;

use peernet_core::Fault;
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
#[non_exhaustive]
pub enum SetupError {
    /// The socket failed or was closed (the network, or the remote hung up).
    #[error("connection i/o failed")]
    Io(#[from] io::Error),
    /// The remote did not complete the handshake in time (the remote's fault).
    #[error("handshake timed out")]
    Timeout,
    /// The encryption handshake failed (see the inner error for who is at fault).
    #[error("encryption handshake failed")]
    Handshake(#[from] HandshakeError),
    /// A frame could not be read or written (see the inner error for who is at fault).
    #[error("framing failed")]
    Frame(#[from] FrameError),
    /// The remote's Hello was malformed (the remote's fault).
    #[error("invalid hello")]
    Message(#[from] MessageError),
    /// The remote sent something other than Hello or Disconnect first (the remote's fault).
    #[error("expected hello, got message code {0}")]
    UnexpectedMessage(u64),
    /// The remote disconnected us during setup, with this reason (the remote's decision).
    #[error("remote disconnected: {0}")]
    Disconnected(DiscReason),
    /// We refused the remote and told it so with this reason (the remote's identity, version or
    /// capabilities, or our limits: [`DiscReason::fault`] says which).
    #[error("refused: {0}")]
    Refused(DiscReason),
    /// The server is shutting down (local).
    #[error("server is shutting down")]
    ServerClosed,
}

impl SetupError {
    /// Whose fault: the inner error's for a handshake, frame or Hello error; the reason's
    /// ([`DiscReason::fault`]) when we refused; [`Fault::Remote`] for a timeout, an unexpected
    /// first message and a Disconnect the remote sent; [`Fault::Io`] for the socket.
    pub fn fault(&self) -> Fault {
        match self {
            SetupError::Io(_) => Fault::Io,
            SetupError::Timeout
            | SetupError::UnexpectedMessage(_)
            | SetupError::Disconnected(_) => Fault::Remote,
            SetupError::Handshake(e) => e.fault(),
            SetupError::Frame(e) => e.fault(),
            SetupError::Message(e) => e.fault(),
            SetupError::Refused(r) => r.fault(),
            SetupError::ServerClosed => Fault::Local,
        }
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

/// Why reading a message failed: the socket or the frame codec, which say everything (the
/// wrapper adds no layer of its own).
#[derive(Debug, thiserror::Error)]
pub(crate) enum ReadError {
    #[error(transparent)]
    Io(#[from] io::Error),
    #[error(transparent)]
    Frame(#[from] FrameError),
}

impl From<ReadError> for SetupError {
    fn from(e: ReadError) -> Self {
        match e {
            ReadError::Io(e) => SetupError::Io(e),
            ReadError::Frame(e) => SetupError::Frame(e),
        }
    }
}

/// Why writing a message failed (like [`ReadError`], no layer of its own).
#[derive(Debug, thiserror::Error)]
pub(crate) enum WriteError {
    #[error(transparent)]
    Io(io::Error),
    #[error(transparent)]
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

#[cfg(test)]
mod tests {
    use std::error::Error as _;

    use super::*;
    use crate::proto::ecies::EciesError;

    #[test]
    fn every_setup_error_has_a_fault() {
        let all = [
            SetupError::Io(io::Error::from(io::ErrorKind::ConnectionReset)),
            SetupError::Timeout,
            SetupError::Handshake(HandshakeError::Ecies(EciesError::MacMismatch)),
            SetupError::Handshake(HandshakeError::InvalidRemoteId),
            SetupError::Frame(FrameError::HeaderMacMismatch),
            SetupError::Frame(FrameError::TooLargeToSend { size: 1 << 25 }),
            SetupError::Message(MessageError::TooManyCaps),
            SetupError::UnexpectedMessage(2),
            SetupError::Disconnected(DiscReason::TooManyPeers),
            SetupError::Refused(DiscReason::UnexpectedIdentity),
            SetupError::Refused(DiscReason::TooManyPeers),
            SetupError::Refused(DiscReason::SelfConnect),
            SetupError::ServerClosed,
        ];
        for e in all {
            // Exhaustive: a new variant does not compile until its fault is decided here.
            let want = match &e {
                SetupError::Io(_) => Fault::Io,
                SetupError::Timeout => Fault::Remote,
                SetupError::Handshake(HandshakeError::InvalidRemoteId) => Fault::Local,
                SetupError::Handshake(_) => Fault::Remote,
                SetupError::Frame(FrameError::TooLargeToSend { .. }) => Fault::Local,
                SetupError::Frame(_) => Fault::Remote,
                SetupError::Message(_) => Fault::Remote,
                SetupError::UnexpectedMessage(_) => Fault::Remote,
                // Whatever reason the remote gives, disconnecting us was its decision.
                SetupError::Disconnected(_) => Fault::Remote,
                SetupError::Refused(DiscReason::TooManyPeers) => Fault::Limit,
                SetupError::Refused(DiscReason::SelfConnect) => Fault::Local,
                SetupError::Refused(_) => Fault::Remote,
                SetupError::ServerClosed => Fault::Local,
            };
            assert_eq!(e.fault(), want, "{e:?}");
        }
    }

    #[test]
    fn setup_errors_chain_their_causes() {
        let e = SetupError::from(HandshakeError::Ecies(EciesError::MacMismatch));
        assert_eq!(e.to_string(), "encryption handshake failed");
        assert_eq!(
            peernet_core::error::Chain(&e).to_string(),
            "encryption handshake failed: handshake message did not decrypt: \
             ecies: message authentication failed"
        );
        let e = SetupError::from(io::Error::other("reset"));
        assert_eq!(e.source().map(|s| s.to_string()).as_deref(), Some("reset"));
        // The transparent read wrapper adds nothing: its cause's text and source.
        let r = ReadError::from(FrameError::BadMessageCode(
            crate::proto::rlp::RlpError::Truncated,
        ));
        assert_eq!(
            r.to_string(),
            "frame data does not start with a valid message code"
        );
        assert!(r.source().is_some());
    }
}
