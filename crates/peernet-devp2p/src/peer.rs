//! go-ethereum's Peer model on tokio: one RLPx connection running several subprotocols.
//!
//! [`Peer::run`](Peer) (the private `run` task) starts the `read_loop` and the `ping_loop`,
//! starts every matched [`Protocol`]'s `run` in its own task with a [`ProtoRw`], performs the
//! writes one at a time, and ends on the first write error, read error, protocol error or
//! disconnect request, with a [`DiscReason`].

use std::collections::VecDeque;
use std::fmt;
use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use peernet_core::error::Chain;
use peernet_core::Fault;
use tokio::sync::{mpsc, oneshot, watch};

use crate::conn::{self, ConnReader, ConnWriter, ReadError};
use crate::proto::caps::{Cap, SharedCap, BASE_PROTOCOL_LENGTH};
use crate::proto::frame::FrameError;
use crate::proto::message::{
    decode_disconnect, DiscReason, Hello, DISC_MSG, EMPTY_LIST, PING_MSG, PONG_MSG,
};
use crate::proto::node::NodeId;

/// A message as a subprotocol sees it: the code relative to the protocol's offset, and the
/// payload (normally RLP), already decompressed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Msg {
    /// The message code, from 0 to the protocol's `length - 1`.
    pub code: u64,
    /// The payload.
    pub payload: Vec<u8>,
    /// When the read loop received it.
    pub received_at: Instant,
}

/// Why a [`ProtoRw`] read or write failed.
#[derive(Debug, Clone, thiserror::Error)]
#[non_exhaustive]
pub enum RwError {
    /// The protocol wrote a code outside its `length` (local misuse: a bug in the protocol).
    #[error("message code {code} out of range for a protocol of length {length}")]
    CodeOutOfRange {
        /// The code written.
        code: u64,
        /// The protocol's number of codes.
        length: u64,
    },
    /// The peer has shut down (its exit reason says why).
    #[error("peer connection closed")]
    Closed,
    /// Writing to the connection failed or timed out (`TimedOut`); the peer is ending (the
    /// network, or the remote stopped reading). Shared: every writer waiting on the same
    /// system call gets it.
    #[error("write to the connection failed")]
    WriteFailed(#[source] Arc<io::Error>),
    /// The message is too large to send (local misuse).
    #[error("message too large to send")]
    TooLarge(#[source] FrameError),
    /// [`Peer::ping`] has too many pings awaiting their pong (our cap on pending pings).
    #[error("too many pings in flight")]
    TooManyPings,
}

impl RwError {
    /// Whose fault: [`Fault::Local`] for a bad code or size, [`Fault::Limit`] for too many
    /// pings, [`Fault::Io`] for a failed write and for a connection that has closed (the
    /// [`PeerExit`] says why it closed).
    pub fn fault(&self) -> Fault {
        match self {
            RwError::CodeOutOfRange { .. } => Fault::Local,
            RwError::Closed | RwError::WriteFailed(_) => Fault::Io,
            RwError::TooLarge(e) => e.fault(),
            RwError::TooManyPings => Fault::Limit,
        }
    }
}

/// Equal variants with equal contents; two write failures are equal when their kinds and texts
/// are (`io::Error` has no `PartialEq`).
impl PartialEq for RwError {
    fn eq(&self, other: &Self) -> bool {
        match self {
            RwError::CodeOutOfRange { code, length } => matches!(
                other,
                RwError::CodeOutOfRange { code: c, length: l } if c == code && l == length
            ),
            RwError::Closed => matches!(other, RwError::Closed),
            RwError::WriteFailed(a) => matches!(
                other,
                RwError::WriteFailed(b) if a.kind() == b.kind() && a.to_string() == b.to_string()
            ),
            RwError::TooLarge(a) => matches!(other, RwError::TooLarge(b) if a == b),
            RwError::TooManyPings => matches!(other, RwError::TooManyPings),
        }
    }
}

impl Eq for RwError {}

/// How a protocol's `run` ended with an error: go-ethereum's `discReasonForError`.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RunError {
    /// The protocol asks to disconnect with this reason (the protocol's decision about the
    /// remote).
    #[error("disconnect: {0}")]
    Disconnect(DiscReason),
    /// A read or write on the protocol's [`ProtoRw`] failed (see [`RwError`]).
    #[error("protocol read or write failed")]
    Rw(#[from] RwError),
    /// Any other protocol-level error: the peer is disconnected with "subprotocol error".
    #[error("protocol failed")]
    Other(#[source] Box<dyn std::error::Error + Send + Sync>),
}

impl From<DiscReason> for RunError {
    fn from(r: DiscReason) -> Self {
        RunError::Disconnect(r)
    }
}

impl RunError {
    /// Wraps any error as [`RunError::Other`].
    pub fn other(e: impl Into<Box<dyn std::error::Error + Send + Sync>>) -> RunError {
        RunError::Other(e.into())
    }

    /// Whose fault: the reason's ([`DiscReason::fault`]) for a requested disconnect, the inner
    /// error's for a read or write, and [`Fault::Remote`] for any other protocol error: it ends
    /// the peer with "subprotocol error", the protocol's verdict on what the remote sent.
    pub fn fault(&self) -> Fault {
        match self {
            RunError::Disconnect(r) => r.fault(),
            RunError::Rw(e) => e.fault(),
            RunError::Other(_) => Fault::Remote,
        }
    }

    fn reason(&self) -> DiscReason {
        match self {
            RunError::Disconnect(r) => *r,
            RunError::Rw(RwError::CodeOutOfRange { .. }) => DiscReason::ProtocolError,
            RunError::Rw(RwError::Closed) => DiscReason::ClientQuit,
            RunError::Rw(RwError::WriteFailed(_)) => DiscReason::NetworkError,
            RunError::Rw(_) | RunError::Other(_) => DiscReason::SubprotocolError,
        }
    }
}

type RunFuture = Pin<Box<dyn Future<Output = Result<(), RunError>> + Send>>;
type RunFn = dyn Fn(Peer, ProtoRw) -> RunFuture + Send + Sync;

/// A subprotocol: go-ethereum's `p2p.Protocol`.
#[derive(Clone)]
pub struct Protocol {
    /// The official name, often three letters (`eth`, `snap`).
    pub name: String,
    /// The version.
    pub version: u32,
    /// How many message codes it uses.
    pub length: u64,
    run: Arc<RunFn>,
}

impl fmt::Debug for Protocol {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Protocol")
            .field("name", &self.name)
            .field("version", &self.version)
            .field("length", &self.length)
            .finish_non_exhaustive()
    }
}

impl Protocol {
    /// A protocol whose `run(peer, rw)` is called in a new task for every peer that shares it.
    /// The peer is disconnected when `run` returns: with "client quitting" for `Ok(())`, else
    /// with the reason [`RunError`] maps to.
    pub fn new<F, Fut>(name: impl Into<String>, version: u32, length: u64, run: F) -> Protocol
    where
        F: Fn(Peer, ProtoRw) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<(), RunError>> + Send + 'static,
    {
        Protocol {
            name: name.into(),
            version,
            length,
            run: Arc::new(move |peer, rw| Box::pin(run(peer, rw))),
        }
    }

    /// Its capability, `name/version`.
    pub fn cap(&self) -> Cap {
        Cap::new(self.name.clone(), self.version)
    }
}

/// A request to the writer (the run loop): one message, and where to report the result.
struct WriteRequest {
    code: u64,
    payload: Vec<u8>,
    done: Option<oneshot::Sender<Result<(), RwError>>>,
}

/// A protocol's view of the connection: go-ethereum's `protoRW`.
pub struct ProtoRw {
    cap: Cap,
    offset: u64,
    length: u64,
    inbound: mpsc::Receiver<Msg>,
    writes: mpsc::Sender<WriteRequest>,
}

impl fmt::Debug for ProtoRw {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ProtoRw")
            .field("cap", &self.cap)
            .field("offset", &self.offset)
            .field("length", &self.length)
            .finish_non_exhaustive()
    }
}

impl ProtoRw {
    /// The next message for this protocol, its code with the offset removed.
    pub async fn read(&mut self) -> Result<Msg, RwError> {
        let mut msg = self.inbound.recv().await.ok_or(RwError::Closed)?;
        msg.code = msg.code.saturating_sub(self.offset);
        Ok(msg)
    }

    /// Sends a message: checks `code < length`, adds the offset, waits until no other write is
    /// on the wire, and returns the write's result (a failed write also ends the peer).
    pub async fn write(&self, code: u64, payload: &[u8]) -> Result<(), RwError> {
        if code >= self.length {
            return Err(RwError::CodeOutOfRange {
                code,
                length: self.length,
            });
        }
        let (tx, rx) = oneshot::channel();
        let req = WriteRequest {
            code: code.saturating_add(self.offset),
            payload: payload.to_vec(),
            done: Some(tx),
        };
        self.writes.send(req).await.map_err(|_| RwError::Closed)?;
        rx.await.map_err(|_| RwError::Closed)?
    }

    /// The capability this protocol runs as on this connection.
    pub fn cap(&self) -> &Cap {
        &self.cap
    }

    /// The first message code of this protocol on the wire.
    pub fn offset(&self) -> u64 {
        self.offset
    }
}

/// How a peer ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PeerExit {
    /// The disconnect reason (sent to the remote unless it came from there).
    pub reason: DiscReason,
    /// Whether the remote sent the Disconnect.
    pub remote_requested: bool,
    /// What happened, for logs.
    pub detail: String,
}

impl fmt::Display for PeerExit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.remote_requested {
            write!(f, "remote disconnected: {}", self.reason)
        } else {
            write!(f, "{} ({})", self.reason, self.detail)
        }
    }
}

/// Timing and queue settings of a peer.
#[derive(Debug, Clone, Copy)]
pub(crate) struct PeerTiming {
    pub ping_interval: Duration,
    pub read_timeout: Duration,
    pub write_timeout: Duration,
    pub disc_write_timeout: Duration,
    pub protocol_grace: Duration,
    pub inbound_queue: usize,
}

const MAX_PENDING_PINGS: usize = 64;
/// Most queued write requests sent in one system call.
const MAX_WRITE_BATCH: usize = 64;
/// Most bytes framed before they are sent.
const MAX_WRITE_BATCH_BYTES: usize = 256 * 1024;
/// Write requests that may wait for the writer.
const WRITE_QUEUE: usize = 64;

struct PendingPing {
    sent: tokio::time::Instant,
    waiter: Option<oneshot::Sender<Duration>>,
}

struct PeerInner {
    id: NodeId,
    hello: Hello,
    shared: Vec<SharedCap>,
    remote_addr: Option<SocketAddr>,
    inbound: bool,
    disc: mpsc::Sender<DiscReason>,
    writes: mpsc::Sender<WriteRequest>,
    pings: Arc<Mutex<VecDeque<PendingPing>>>,
    exit: watch::Receiver<Option<PeerExit>>,
}

/// A connected remote node: a cheap handle to the running peer.
#[derive(Clone)]
pub struct Peer {
    inner: Arc<PeerInner>,
}

impl fmt::Debug for Peer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Peer")
            .field("id", &self.inner.id)
            .field("client_id", &self.inner.hello.client_id)
            .field("inbound", &self.inner.inbound)
            .finish_non_exhaustive()
    }
}

impl Peer {
    /// The remote node id.
    pub fn id(&self) -> NodeId {
        self.inner.id
    }

    /// The remote's Hello.
    pub fn hello(&self) -> &Hello {
        &self.inner.hello
    }

    /// The remote's client software name.
    pub fn client_id(&self) -> &str {
        &self.inner.hello.client_id
    }

    /// The remote's capabilities, as advertised.
    pub fn caps(&self) -> &[Cap] {
        &self.inner.hello.caps
    }

    /// The protocols running on this connection, with their offsets.
    pub fn shared_caps(&self) -> &[SharedCap] {
        &self.inner.shared
    }

    /// The remote address, when known.
    pub fn remote_addr(&self) -> Option<SocketAddr> {
        self.inner.remote_addr
    }

    /// Whether the remote dialed us.
    pub fn is_inbound(&self) -> bool {
        self.inner.inbound
    }

    /// Asks the peer to end with `reason` (sent to the remote). Returns at once.
    pub fn disconnect(&self, reason: DiscReason) {
        let _ = self.inner.disc.try_send(reason);
    }

    /// Sends a Ping and waits for the next Pong: the round-trip time.
    pub async fn ping(&self) -> Result<Duration, RwError> {
        let (tx, rx) = oneshot::channel();
        {
            let mut pings = self.inner.pings.lock().map_err(|_| RwError::Closed)?;
            if pings.len() >= MAX_PENDING_PINGS {
                return Err(RwError::TooManyPings);
            }
            pings.push_back(PendingPing {
                sent: tokio::time::Instant::now(),
                waiter: Some(tx),
            });
        }
        let (wtx, wrx) = oneshot::channel();
        let req = WriteRequest {
            code: PING_MSG,
            payload: EMPTY_LIST.to_vec(),
            done: Some(wtx),
        };
        self.inner
            .writes
            .send(req)
            .await
            .map_err(|_| RwError::Closed)?;
        wrx.await.map_err(|_| RwError::Closed)??;
        rx.await.map_err(|_| RwError::Closed)
    }

    /// Waits until the peer has ended and returns how.
    pub async fn wait(&self) -> PeerExit {
        let mut rx = self.inner.exit.clone();
        loop {
            if let Some(e) = rx.borrow_and_update().clone() {
                return e;
            }
            if rx.changed().await.is_err() {
                return rx.borrow().clone().unwrap_or(PeerExit {
                    reason: DiscReason::NetworkError,
                    remote_requested: false,
                    detail: "peer task ended".into(),
                });
            }
        }
    }

    /// Whether two handles refer to the same connection.
    pub(crate) fn same(&self, other: &Peer) -> bool {
        Arc::ptr_eq(&self.inner, &other.inner)
    }

    /// How the peer ended, if it has.
    pub fn exit(&self) -> Option<PeerExit> {
        self.inner.exit.borrow().clone()
    }
}

/// Everything a peer needs to start: the established connection (go-ethereum's `conn`: the
/// session halves, the remote's identity and Hello) and the protocols to run on it, as
/// go-ethereum's `newPeer(conn, protocols)` takes them.
pub(crate) struct PeerSetup {
    pub reader: ConnReader,
    pub writer: ConnWriter,
    pub id: NodeId,
    pub hello: Hello,
    pub shared: Vec<SharedCap>,
    pub protocols: Vec<Protocol>,
    pub remote_addr: Option<SocketAddr>,
    pub inbound: bool,
    pub timing: PeerTiming,
}

/// The run loop's ends of the channels that the [`Peer`] handle and the protocols send on.
struct RunChannels {
    /// Cloned into the read loop (pongs), the ping loop and each protocol's [`ProtoRw`].
    write_tx: mpsc::Sender<WriteRequest>,
    write_rx: mpsc::Receiver<WriteRequest>,
    disc_rx: mpsc::Receiver<DiscReason>,
}

/// Starts a peer (go-ethereum's `newPeer` + `go p.run()`); `on_exit` runs once it has ended.
pub(crate) fn start_peer(
    setup: PeerSetup,
    on_exit: impl FnOnce(&Peer, PeerExit) + Send + 'static,
) -> Peer {
    let (disc_tx, disc_rx) = mpsc::channel(1);
    // Bounded: further writers wait in `send`; the run loop writes them in order.
    let (write_tx, write_rx) = mpsc::channel(WRITE_QUEUE);
    let (exit_tx, exit_rx) = watch::channel(None);
    let peer = Peer {
        inner: Arc::new(PeerInner {
            id: setup.id,
            hello: setup.hello.clone(),
            shared: setup.shared.clone(),
            remote_addr: setup.remote_addr,
            inbound: setup.inbound,
            disc: disc_tx,
            writes: write_tx.clone(),
            pings: Arc::new(Mutex::new(VecDeque::new())),
            exit: exit_rx,
        }),
    };
    let p = peer.clone();
    let channels = RunChannels {
        write_tx,
        write_rx,
        disc_rx,
    };
    tokio::spawn(async move {
        let exit = run(p.clone(), setup, channels).await;
        tracing::debug!(peer = ?p.inner.id, %exit, "peer ended");
        let _ = exit_tx.send(Some(exit.clone()));
        on_exit(&p, exit);
    });
    peer
}

/// Why the read loop stopped.
enum ReadLoopEnd {
    Read(ReadError),
    Timeout,
    Disconnected(DiscReason),
    CodeOutOfRange(u64),
    Closed,
}

struct ProtoSlot {
    offset: u64,
    length: u64,
    tx: mpsc::Sender<Msg>,
}

/// The peer's life (go-ethereum's `Peer.run`): the read and ping loops, the protocols, the
/// writes one at a time, and the shutdown.
async fn run(peer: Peer, setup: PeerSetup, channels: RunChannels) -> PeerExit {
    let PeerSetup {
        reader,
        mut writer,
        shared,
        protocols,
        timing,
        ..
    } = setup;
    let RunChannels {
        write_tx,
        mut write_rx,
        mut disc_rx,
    } = channels;
    let (slots, tasks, mut proto_err_rx) =
        start_protocols(&peer, &shared, &protocols, &write_tx, timing.inbound_queue);

    let (read_end_tx, mut read_end_rx) = oneshot::channel();
    let read_task = tokio::spawn(read_loop(
        reader,
        slots,
        write_tx.clone(),
        peer.inner.pings.clone(),
        timing.read_timeout,
        read_end_tx,
    ));
    let ping_task = tokio::spawn(ping_loop(
        write_tx.clone(),
        peer.inner.pings.clone(),
        timing.ping_interval,
    ));
    drop(write_tx);

    let (reason, remote_requested, detail) = loop {
        tokio::select! {
            biased;
            end = &mut read_end_rx => {
                break match end {
                    Ok(ReadLoopEnd::Disconnected(r)) => (r, true, "remote sent disconnect".to_string()),
                    Ok(ReadLoopEnd::Timeout) => (DiscReason::ReadTimeout, false, "nothing received within the read timeout".into()),
                    Ok(ReadLoopEnd::CodeOutOfRange(c)) => (DiscReason::ProtocolError, false, format!("msg code out of range: {c}")),
                    Ok(ReadLoopEnd::Read(ReadError::Io(e))) => (DiscReason::NetworkError, false, format!("read: {}", Chain(&e))),
                    Ok(ReadLoopEnd::Read(ReadError::Frame(e))) => (DiscReason::ProtocolError, false, format!("read: {}", Chain(&e))),
                    Ok(ReadLoopEnd::Closed) | Err(_) => (DiscReason::NetworkError, false, "read loop ended".into()),
                };
            }
            Some(r) = disc_rx.recv() => break (r, false, "disconnect requested locally".into()),
            Some((cap, res)) = proto_err_rx.recv() => {
                break match res {
                    Ok(()) => (DiscReason::ClientQuit, false, format!("protocol {cap} returned")),
                    Err(e) => (e.reason(), false, format!("protocol {cap} failed: {}", Chain(&e))),
                };
            }
            Some(req) = write_rx.recv() => {
                // Writes are serialised here: frames never interleave, and each writer learns
                // the result of its own write. Requests already queued are framed together and
                // sent in one system call.
                let mut waiting = Vec::new();
                let mut next = Some(req);
                while let Some(req) = next.take() {
                    match writer.queue_msg(req.code, &req.payload) {
                        Ok(()) => waiting.push(req.done),
                        Err(e) => {
                            if let Some(done) = req.done {
                                let _ = done.send(Err(RwError::TooLarge(e)));
                            }
                        }
                    }
                    if waiting.len() < MAX_WRITE_BATCH && writer.queued() < MAX_WRITE_BATCH_BYTES {
                        next = write_rx.try_recv().ok();
                    }
                }
                if waiting.is_empty() {
                    continue;
                }
                let res = match tokio::time::timeout(timing.write_timeout, writer.flush_queued()).await {
                    Ok(Ok(())) => Ok(()),
                    Ok(Err(e)) => Err(RwError::WriteFailed(Arc::new(e))),
                    Err(_) => Err(RwError::WriteFailed(Arc::new(io::Error::new(
                        io::ErrorKind::TimedOut,
                        "write timed out",
                    )))),
                };
                for done in waiting.into_iter().flatten() {
                    let _ = done.send(res.clone());
                }
                if let Err(e @ RwError::WriteFailed(_)) = res {
                    break (DiscReason::NetworkError, false, format!("write: {}", Chain(&e)));
                }
            }
        }
    };

    // Shut down: stop reading and pinging, refuse further writes, tell the remote, close.
    read_task.abort();
    ping_task.abort();
    write_rx.close();
    while let Ok(req) = write_rx.try_recv() {
        if let Some(done) = req.done {
            let _ = done.send(Err(RwError::Closed));
        }
    }
    if !remote_requested && reason != DiscReason::NetworkError {
        conn::send_disconnect(&mut writer, reason, timing.disc_write_timeout).await;
    } else {
        let _ = tokio::time::timeout(timing.disc_write_timeout, writer.shutdown()).await;
    }
    drop(writer);
    // Give the protocols a moment to notice (their reads and writes now fail), then stop them.
    let deadline = tokio::time::Instant::now() + timing.protocol_grace;
    for t in tasks {
        while !t.is_finished() && tokio::time::Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        t.abort();
    }
    if let Ok(mut pings) = peer.inner.pings.lock() {
        pings.clear();
    }
    PeerExit {
        reason,
        remote_requested,
        detail,
    }
}

type ProtoResult = (Cap, Result<(), RunError>);

/// Starts every matched protocol's `run` in its own task (go-ethereum's `startProtocols`):
/// returns the read loop's dispatch table, abort handles, and where the protocols' results
/// arrive.
fn start_protocols(
    peer: &Peer,
    shared: &[SharedCap],
    protocols: &[Protocol],
    write_tx: &mpsc::Sender<WriteRequest>,
    inbound_queue: usize,
) -> (
    Vec<ProtoSlot>,
    Vec<tokio::task::AbortHandle>,
    mpsc::Receiver<ProtoResult>,
) {
    let (proto_err_tx, proto_err_rx) = mpsc::channel(shared.len() + 1);
    let mut slots = Vec::with_capacity(shared.len());
    let mut tasks = Vec::with_capacity(shared.len());
    for s in shared {
        let Some(proto) = protocols.get(s.index) else {
            continue;
        };
        let (tx, rx) = mpsc::channel(inbound_queue.max(1));
        slots.push(ProtoSlot {
            offset: s.offset,
            length: s.length,
            tx,
        });
        let rw = ProtoRw {
            cap: s.cap.clone(),
            offset: s.offset,
            length: s.length,
            inbound: rx,
            writes: write_tx.clone(),
        };
        let errc = proto_err_tx.clone();
        let cap = s.cap.clone();
        tracing::trace!(%cap, "starting protocol");
        let task = tokio::spawn((proto.run)(peer.clone(), rw));
        tasks.push(task.abort_handle());
        // A watcher reports how the protocol ended, including a panic, which ends the peer
        // with "subprotocol error" instead of leaving it running without the protocol.
        tokio::spawn(async move {
            let res = match task.await {
                Ok(res) => res,
                Err(e) if e.is_panic() => Err(RunError::other(format!("protocol {cap} panicked"))),
                Err(_) => Err(RunError::Rw(RwError::Closed)),
            };
            let _ = errc.send((cap, res)).await;
        });
    }
    (slots, tasks, proto_err_rx)
}

/// Reads messages and dispatches them (go-ethereum's `readLoop` + `handle`).
async fn read_loop(
    mut reader: ConnReader,
    slots: Vec<ProtoSlot>,
    writes: mpsc::Sender<WriteRequest>,
    pings: Arc<Mutex<VecDeque<PendingPing>>>,
    read_timeout: Duration,
    end: oneshot::Sender<ReadLoopEnd>,
) {
    let why = loop {
        let msg = match tokio::time::timeout(read_timeout, reader.read_msg()).await {
            Err(_) => break ReadLoopEnd::Timeout,
            Ok(Err(e)) => break ReadLoopEnd::Read(e),
            Ok(Ok(m)) => m,
        };
        let received_at = Instant::now();
        match msg.code {
            PING_MSG => {
                let pong = WriteRequest {
                    code: PONG_MSG,
                    payload: EMPTY_LIST.to_vec(),
                    done: None,
                };
                if writes.send(pong).await.is_err() {
                    break ReadLoopEnd::Closed;
                }
            }
            PONG_MSG => {
                let waiter = pings.lock().ok().and_then(|mut p| p.pop_front());
                if let Some(PendingPing {
                    sent,
                    waiter: Some(w),
                }) = waiter
                {
                    let _ = w.send(sent.elapsed());
                }
            }
            DISC_MSG => {
                let reason = decode_disconnect(&msg.payload).unwrap_or(DiscReason::ProtocolError);
                break ReadLoopEnd::Disconnected(reason);
            }
            c if c < BASE_PROTOCOL_LENGTH => {
                // Other base protocol messages (a second Hello, unknown codes) are ignored.
            }
            c => {
                let Some(slot) = slots
                    .iter()
                    .find(|s| c >= s.offset && c - s.offset < s.length)
                else {
                    break ReadLoopEnd::CodeOutOfRange(c);
                };
                let m = Msg {
                    code: c,
                    payload: msg.payload,
                    received_at,
                };
                // A full queue holds the read loop back: backpressure towards the remote. A
                // protocol that returned no longer reads; its messages are dropped.
                let _ = slot.tx.send(m).await;
            }
        }
    };
    let _ = end.send(why);
}

/// Sends a Ping every `interval` (go-ethereum's `pingLoop`).
async fn ping_loop(
    writes: mpsc::Sender<WriteRequest>,
    pings: Arc<Mutex<VecDeque<PendingPing>>>,
    interval: Duration,
) {
    loop {
        tokio::time::sleep(interval).await;
        if let Ok(mut p) = pings.lock() {
            if p.len() < MAX_PENDING_PINGS {
                p.push_back(PendingPing {
                    sent: tokio::time::Instant::now(),
                    waiter: None,
                });
            }
        }
        let req = WriteRequest {
            code: PING_MSG,
            payload: EMPTY_LIST.to_vec(),
            done: None,
        };
        if writes.send(req).await.is_err() {
            return;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_rw_error_has_a_fault() {
        let all = [
            RwError::CodeOutOfRange { code: 2, length: 2 },
            RwError::Closed,
            RwError::WriteFailed(Arc::new(io::Error::from(io::ErrorKind::BrokenPipe))),
            RwError::TooLarge(FrameError::TooLargeToSend { size: 1 << 25 }),
            RwError::TooManyPings,
        ];
        for e in all {
            // Exhaustive: a new variant does not compile until its fault is decided here.
            let want = match e {
                RwError::CodeOutOfRange { .. } | RwError::TooLarge(_) => Fault::Local,
                RwError::Closed | RwError::WriteFailed(_) => Fault::Io,
                RwError::TooManyPings => Fault::Limit,
            };
            assert_eq!(e.fault(), want, "{e:?}");
        }
    }

    #[test]
    fn every_run_error_has_a_fault() {
        let all = [
            RunError::Disconnect(DiscReason::UselessPeer),
            RunError::Disconnect(DiscReason::TooManyPeers),
            RunError::Rw(RwError::TooManyPings),
            RunError::Rw(RwError::Closed),
            RunError::Rw(RwError::CodeOutOfRange { code: 9, length: 2 }),
            RunError::other("bad block"),
        ];
        for e in all {
            // Exhaustive: a new variant does not compile until its fault is decided here.
            let want = match &e {
                RunError::Disconnect(DiscReason::TooManyPeers) => Fault::Limit,
                RunError::Disconnect(_) => Fault::Remote,
                RunError::Rw(RwError::CodeOutOfRange { .. } | RwError::TooLarge(_)) => Fault::Local,
                RunError::Rw(RwError::TooManyPings) => Fault::Limit,
                RunError::Rw(_) => Fault::Io,
                RunError::Other(_) => Fault::Remote,
            };
            assert_eq!(e.fault(), want, "{e:?}");
        }
    }

    #[test]
    fn write_failures_chain_the_io_error() {
        let e = RwError::WriteFailed(Arc::new(io::Error::other("broken pipe")));
        assert_eq!(e.to_string(), "write to the connection failed");
        assert_eq!(
            Chain(&RunError::from(e)).to_string(),
            "protocol read or write failed: write to the connection failed: broken pipe"
        );
        assert_eq!(
            Chain(&RunError::other("bad block")).to_string(),
            "protocol failed: bad block"
        );
    }
}
