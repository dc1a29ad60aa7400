//! yamux over any tokio byte stream: one driver task per connection around the sans-IO
//! [`Session`].
//!
//! ```no_run
//! # async fn demo(tcp: tokio::net::TcpStream) -> std::io::Result<()> {
//! use peernet::yamux::{Config, YamuxSession, Role};
//! use tokio::io::{AsyncReadExt, AsyncWriteExt};
//!
//! let conn = YamuxSession::new(tcp, Role::Client, Config::default());
//! let mut stream = conn.open_stream().await?;
//! stream.write_all(b"ping").await?;
//! stream.shutdown().await?; // FIN: half-close
//! let mut reply = Vec::new();
//! stream.read_to_end(&mut reply).await?;
//! # Ok(()) }
//! ```
//!
//! # Task model
//!
//! [`YamuxSession::new`] spawns exactly one task. It owns the I/O object and pumps bytes: it reads
//! into a buffer and feeds the session, and it writes everything the session has queued (frames
//! of all streams, coalesced) with as few write calls as possible. The session itself sits behind
//! a mutex shared with the handles; [`YamuxStream`]s operate on it directly and wake the task only
//! when the transmit buffer goes from empty to non-empty.
//!
//! # Copies and buffers
//!
//! - Sending: `poll_write` copies the caller's bytes once, into the session's transmit buffer,
//!   as one data frame (up to 256 KiB); the task swaps that buffer with its own (no copy) and
//!   writes it with one call for however many frames it holds.
//! - Receiving: the task reads up to 256 KiB per call (starting at 16 KiB and doubling while
//!   reads fill the buffer); large payloads are split off the read buffer without copying and
//!   `poll_read` copies them into the caller's buffer outside the lock. Read buffers still pinned
//!   by unread payloads are kept and reused once released (up to one maximum window's worth),
//!   so a steady transfer does not fault in fresh pages; at a keep-alive tick an idle
//!   connection drops them.
//! - Idle: the read buffer goes back by the rule the Noise driver uses too (`io_buffer`): each
//!   time the I/O object runs dry with every byte read consumed, at once if the buffer never grew
//!   past 16 KiB, and after a few such dry spells that followed small reads if a transfer grew
//!   it; a connection that did stream also gives every buffer back at a keep-alive tick that saw
//!   few reads.
//!   A quiet connection holds no buffer, and a bulk transfer never waits on an allocation.
//! - No allocation per frame: the transmit buffers ping-pong, the read buffers are recycled.
//!
//! # Lifetime
//!
//! The task ends, and the I/O object is dropped, when the peer closes the connection, on an I/O
//! or protocol error, on [`YamuxSession::close`], or when every [`YamuxSession`] clone and every
//! [`YamuxStream`] has been dropped (then it sends go-away and shuts the I/O down). Streams that are
//! still open then fail with an error (never a silent end of file).

use std::collections::HashMap;
use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Context, Poll, Waker};
use std::time::Instant;

use bytes::BytesMut;
use peernet_core::yamux::{Event, GoAwayCode, Session, StreamId, YamuxError};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, ReadBuf};
use tokio::sync::Notify;
use tokio::time::Sleep;

use crate::io_buffer::IdleRelease;

pub use peernet_core::yamux::{Config, Role};

/// Largest read the driver asks the I/O object for.
const READ_CHUNK: usize = 256 * 1024;
/// First read size; it doubles each time a read fills the space offered, up to `READ_CHUNK`,
/// so that idle connections hold little memory. While reads stay this small, the read buffer
/// is released whenever the socket runs dry with nothing left in it.
const READ_CHUNK_MIN: usize = 16 * 1024;
/// Stack buffer of the first read after a quiet release (more data continues in the allocated
/// buffer).
const PROBE_LEN: usize = 512;
/// Read buffers kept for reuse while received payloads still pin the current one (at most
/// 4 MiB for a busy connection; released when it goes idle).
const MAX_SPARE_READ_BUFS: usize = 64;
/// Read calls per wake-up before the driver yields to other tasks.
const MAX_READS_PER_POLL: usize = 16;

/// Why a connection ended.
#[derive(Debug, Clone, thiserror::Error)]
pub enum SessionError {
    /// I/O: the underlying connection failed.
    #[error("connection I/O failed: {0}")]
    Io(Arc<io::Error>),
    /// Peer: it closed the underlying connection.
    #[error("peer closed the connection")]
    Eof,
    /// Peer (or its network): the yamux session failed; see [`YamuxError`] for whose fault.
    #[error("yamux session failed: {0}")]
    Yamux(YamuxError),
    /// Local: closed by [`YamuxSession::close`] or because every handle was dropped.
    #[error("connection closed locally")]
    Closed,
}

impl SessionError {
    /// Who was at fault: the I/O's, the peer's for closing or breaking yamux, ours for our own
    /// close.
    pub fn fault(&self) -> peernet_core::Fault {
        match self {
            SessionError::Io(_) => peernet_core::Fault::Io,
            SessionError::Eof => peernet_core::Fault::Remote,
            SessionError::Yamux(e) => e.fault(),
            SessionError::Closed => peernet_core::Fault::Local,
        }
    }

    fn to_io(&self) -> io::Error {
        let kind = match self {
            SessionError::Io(e) => e.kind(),
            SessionError::Eof => io::ErrorKind::UnexpectedEof,
            SessionError::Yamux(_) => io::ErrorKind::ConnectionAborted,
            SessionError::Closed => io::ErrorKind::NotConnected,
        };
        io::Error::new(kind, self.clone())
    }
}

fn stream_error(err: YamuxError, terminated: Option<&SessionError>) -> io::Error {
    match (err, terminated) {
        (YamuxError::SessionClosed, Some(t)) => t.to_io(),
        (YamuxError::StreamReset(_), _) => io::Error::new(io::ErrorKind::ConnectionReset, err),
        (YamuxError::LocallyReset(_), _) => io::Error::new(io::ErrorKind::NotConnected, err),
        (YamuxError::WriteClosed(_), _) => io::Error::new(io::ErrorKind::BrokenPipe, err),
        _ => io::Error::other(err),
    }
}

#[derive(Default)]
struct StreamWakers {
    read: Option<Waker>,
    write: Option<Waker>,
}

fn store(slot: &mut Option<Waker>, waker: &Waker) {
    match slot {
        Some(w) if w.will_wake(waker) => {}
        _ => *slot = Some(waker.clone()),
    }
}

/// State shared by the driver task and the handles.
struct Shared {
    session: Session,
    wakers: HashMap<StreamId, StreamWakers>,
    driver: Option<Waker>,
    /// Live `YamuxSession` clones and `YamuxStream`s.
    handles: usize,
    close_requested: bool,
    terminated: Option<SessionError>,
}

impl Shared {
    /// Wakes the driver if an operation left bytes to send and there were none before.
    fn after_op(&mut self, had_pending: bool) {
        if !had_pending && self.session.pending_transmit() > 0 {
            self.wake_driver();
        }
    }

    fn wake_driver(&mut self) {
        if let Some(w) = &self.driver {
            w.wake_by_ref();
        }
    }

    fn release_handle(&mut self) {
        self.handles = self.handles.saturating_sub(1);
        if self.handles == 0 {
            self.wake_driver();
        }
    }
}

struct Inner {
    shared: Mutex<Shared>,
    incoming: Notify,
    outbound: Notify,
    closed: Notify,
}

impl Inner {
    fn lock(&self) -> MutexGuard<'_, Shared> {
        // A panic while holding the lock cannot leave the session in a state worse than what
        // the panicking code saw; keep serving instead of cascading the panic.
        self.shared
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

fn now() -> Instant {
    tokio::time::Instant::now().into_std()
}

/// A yamux connection: a handle to open and accept streams. Cheap to clone; see the module
/// docs for when its task ends.
pub struct YamuxSession {
    inner: Arc<Inner>,
}

impl Clone for YamuxSession {
    fn clone(&self) -> Self {
        self.inner.lock().handles += 1;
        YamuxSession {
            inner: self.inner.clone(),
        }
    }
}

impl Drop for YamuxSession {
    fn drop(&mut self) {
        self.inner.lock().release_handle();
    }
}

impl std::fmt::Debug for YamuxSession {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("YamuxSession").finish_non_exhaustive()
    }
}

impl YamuxSession {
    /// Runs yamux over `io` and spawns the connection's one driver task (a tokio runtime
    /// must be running). `role` is [`Role::Client`] on the dialing side.
    pub fn new<T>(io: T, role: Role, config: Config) -> YamuxSession
    where
        T: AsyncRead + AsyncWrite + Unpin + Send + 'static,
    {
        let mut session = Session::new(role, config);
        // Infallible on a fresh session; it queues the RTT probe and arms the keep-alive.
        let _ = session.handle_timeout(now());
        let inner = Arc::new(Inner {
            shared: Mutex::new(Shared {
                session,
                wakers: HashMap::new(),
                driver: None,
                handles: 1,
                close_requested: false,
                terminated: None,
            }),
            incoming: Notify::new(),
            outbound: Notify::new(),
            closed: Notify::new(),
        });
        let driver = Driver {
            io,
            inner: inner.clone(),
            read_buf: BytesMut::new(),
            read_size: READ_CHUNK_MIN,
            idle: IdleRelease::new(READ_CHUNK_MIN),
            spare_read_bufs: Vec::new(),
            reads_since_tick: 0,
            write_buf: Vec::new(),
            write_pos: 0,
            needs_flush: false,
            read_eof: false,
            sleep: Box::pin(tokio::time::sleep_until(tokio::time::Instant::now())),
            sleep_at: None,
            closing: false,
        };
        tokio::spawn(driver);
        YamuxSession { inner }
    }

    /// Opens a stream. Waits while 256 (the ACK backlog) opened streams are not yet
    /// acknowledged by the peer.
    pub async fn open_stream(&self) -> io::Result<YamuxStream> {
        loop {
            let notified = self.inner.outbound.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            {
                let mut shared = self.inner.lock();
                if let Some(t) = &shared.terminated {
                    return Err(t.to_io());
                }
                let had_pending = shared.session.pending_transmit() > 0;
                match shared.session.open_stream() {
                    Ok(id) => {
                        shared.after_op(had_pending);
                        return Ok(self.new_stream(&mut shared, id));
                    }
                    Err(YamuxError::AckBacklogFull) => {}
                    Err(err) => return Err(stream_error(err, shared.terminated.as_ref())),
                }
            }
            notified.await;
        }
    }

    /// The next stream the peer opened; `None` once the connection has ended.
    ///
    /// Accepting sends the stream's ACK: streams not yet accepted count against the accept
    /// backlog (256), beyond which the peer's new streams are refused.
    pub async fn accept_stream(&self) -> Option<YamuxStream> {
        loop {
            let notified = self.inner.incoming.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            {
                let mut shared = self.inner.lock();
                if shared.terminated.is_some() {
                    return None;
                }
                let had_pending = shared.session.pending_transmit() > 0;
                if let Some(id) = shared.session.accept() {
                    shared.after_op(had_pending);
                    return Some(self.new_stream(&mut shared, id));
                }
            }
            notified.await;
        }
    }

    fn new_stream(&self, shared: &mut Shared, id: StreamId) -> YamuxStream {
        shared.handles += 1;
        shared.wakers.insert(id, StreamWakers::default());
        YamuxStream {
            inner: self.inner.clone(),
            id,
        }
    }

    /// Closes the connection: sends go-away, flushes, shuts the I/O down and waits for the task
    /// to end. Open streams fail afterwards.
    pub async fn close(&self) {
        let notified = self.inner.closed.notified();
        tokio::pin!(notified);
        notified.as_mut().enable();
        {
            let mut shared = self.inner.lock();
            if shared.terminated.is_some() {
                return;
            }
            shared.close_requested = true;
            shared.wake_driver();
        }
        notified.await;
    }

    /// Waits until the connection has ended and returns why.
    pub async fn closed(&self) -> SessionError {
        loop {
            let notified = self.inner.closed.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            if let Some(t) = &self.inner.lock().terminated {
                return t.clone();
            }
            notified.await;
        }
    }

    /// Why the connection ended, if it has.
    pub fn error(&self) -> Option<SessionError> {
        self.inner.lock().terminated.clone()
    }

    /// The last round-trip time measured with a ping.
    pub fn rtt(&self) -> Option<std::time::Duration> {
        self.inner.lock().session.rtt()
    }
}

/// One yamux stream: tokio [`AsyncRead`] + [`AsyncWrite`].
///
/// `poll_shutdown` half-closes (sends FIN); reading continues until the peer closes its side.
/// [`reset`](YamuxStream::reset) aborts both directions. Dropping a stream follows
/// [`Session::drop_stream`]: a clean end (FIN) if everything the peer sent was read, a reset
/// otherwise, like closing a TCP socket with unread data.
pub struct YamuxStream {
    inner: Arc<Inner>,
    id: StreamId,
}

impl std::fmt::Debug for YamuxStream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("YamuxStream").field("id", &self.id).finish()
    }
}

impl YamuxStream {
    /// The yamux stream id.
    pub fn id(&self) -> StreamId {
        self.id
    }

    /// Resets the stream (sends RST): both directions end at once and unread data is dropped.
    pub fn reset(&mut self) -> io::Result<()> {
        let mut shared = self.inner.lock();
        let had_pending = shared.session.pending_transmit() > 0;
        let result = shared.session.reset(self.id);
        shared.after_op(had_pending);
        result.map_err(|e| stream_error(e, shared.terminated.as_ref()))
    }
}

impl Drop for YamuxStream {
    fn drop(&mut self) {
        let mut shared = self.inner.lock();
        let had_pending = shared.session.pending_transmit() > 0;
        shared.session.drop_stream(self.id);
        shared.wakers.remove(&self.id);
        shared.after_op(had_pending);
        shared.release_handle();
    }
}

impl AsyncRead for YamuxStream {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let id = self.id;
        let chunk = {
            let mut shared = self.inner.lock();
            let shared = &mut *shared;
            let had_pending = shared.session.pending_transmit() > 0;
            match shared.session.read_chunk(now(), id, buf.remaining()) {
                Ok(Some(chunk)) => {
                    shared.after_op(had_pending);
                    chunk
                }
                Ok(None) => {
                    if let Some(w) = shared.wakers.get_mut(&id) {
                        store(&mut w.read, cx.waker());
                    }
                    return Poll::Pending;
                }
                Err(err) => {
                    return Poll::Ready(Err(stream_error(err, shared.terminated.as_ref())));
                }
            }
        };
        // The copy into the caller's buffer happens outside the lock: the driver keeps
        // feeding the session meanwhile.
        buf.put_slice(&chunk);
        Poll::Ready(Ok(()))
    }
}

impl AsyncWrite for YamuxStream {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        data: &[u8],
    ) -> Poll<io::Result<usize>> {
        let id = self.id;
        let mut shared = self.inner.lock();
        let shared = &mut *shared;
        let had_pending = shared.session.pending_transmit() > 0;
        match shared.session.write(id, data) {
            Ok(Some(n)) => {
                shared.after_op(had_pending);
                Poll::Ready(Ok(n))
            }
            Ok(None) => {
                if let Some(w) = shared.wakers.get_mut(&id) {
                    store(&mut w.write, cx.waker());
                }
                // No wake-up needed: the transmit buffer is non-empty only if the driver was woken
                // when it became so, and draining it emits `StreamWritable`.
                Poll::Pending
            }
            Err(err) => Poll::Ready(Err(stream_error(err, shared.terminated.as_ref()))),
        }
    }

    /// Bytes are handed to the connection by the driver task; there is nothing to wait for.
    fn poll_flush(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    /// Half-closes the stream (FIN).
    fn poll_shutdown(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let mut shared = self.inner.lock();
        let had_pending = shared.session.pending_transmit() > 0;
        let result = shared.session.close(self.id);
        shared.after_op(had_pending);
        Poll::Ready(result.map_err(|e| stream_error(e, shared.terminated.as_ref())))
    }
}

/// The one task of a connection.
struct Driver<T> {
    io: T,
    inner: Arc<Inner>,
    /// Where reads land. Large payloads are split off it without copying and handed to streams,
    /// which pins its allocation until the application has read them.
    read_buf: BytesMut,
    read_size: usize,
    /// When the read buffer goes back between ticks (the rule shared with the Noise driver).
    idle: IdleRelease,
    /// Earlier read buffers, reused once the streams have released their payload slices (so a
    /// steady transfer cycles through a few warm allocations instead of faulting in new pages).
    spare_read_bufs: Vec<BytesMut>,
    /// Reads since the last timer tick; few means idle, and buffers are released.
    reads_since_tick: usize,
    write_buf: Vec<u8>,
    write_pos: usize,
    needs_flush: bool,
    read_eof: bool,
    sleep: Pin<Box<Sleep>>,
    sleep_at: Option<Instant>,
    /// Go-away sent, waiting for the output to drain before shutting down.
    closing: bool,
}

impl<T: AsyncRead + AsyncWrite + Unpin> Driver<T> {
    /// Reacts to the session's events; called with the lock held.
    fn dispatch(inner: &Inner, shared: &mut Shared) {
        while let Some(event) = shared.session.poll_event() {
            match event {
                Event::StreamReadable(id) => {
                    if let Some(w) = shared.wakers.get_mut(&id).and_then(|w| w.read.take()) {
                        w.wake();
                    }
                }
                Event::StreamWritable(id) => {
                    if let Some(w) = shared.wakers.get_mut(&id).and_then(|w| w.write.take()) {
                        w.wake();
                    }
                }
                Event::IncomingStream => inner.incoming.notify_waiters(),
                Event::OutboundAvailable => inner.outbound.notify_waiters(),
                Event::PingRtt(rtt) => tracing::trace!(?rtt, "yamux ping answered"),
                Event::GoAway(code) => {
                    tracing::debug!(?code, "peer sent yamux go-away");
                    inner.outbound.notify_waiters();
                }
            }
        }
    }

    /// Ends the connection: records why, wakes everybody.
    fn terminate(&mut self, err: SessionError) {
        let mut shared = self.inner.lock();
        if shared.terminated.is_none() {
            tracing::debug!(%err, "yamux connection ended");
            shared.terminated = Some(err);
        }
        shared.session.abort();
        for w in shared.wakers.values_mut() {
            if let Some(r) = w.read.take() {
                r.wake();
            }
            if let Some(wr) = w.write.take() {
                wr.wake();
            }
        }
        drop(shared);
        self.inner.incoming.notify_waiters();
        self.inner.outbound.notify_waiters();
        self.inner.closed.notify_waiters();
    }

    /// One pass over reading, writing and timers. `Ok(true)` if anything progressed,
    /// `Err` when the connection is over.
    fn step(&mut self, cx: &mut Context<'_>) -> Result<bool, SessionError> {
        let mut progress = false;

        // Handle-count and close requests.
        {
            let mut shared = self.inner.lock();
            store(&mut shared.driver, cx.waker());
            if !self.closing && (shared.close_requested || shared.handles == 0) {
                shared.session.go_away(GoAwayCode::Normal);
                self.closing = true;
                progress = true;
            }
        }

        // Read.
        let mut reads = 0;
        while !self.read_eof && !self.closing && reads < MAX_READS_PER_POLL {
            let read = if self.read_buf.capacity() == 0 && self.read_size == READ_CHUNK_MIN {
                // Released while quiet: learn whether anything has arrived before allocating,
                // so that waking an idle connection (timers, writes) costs nothing. (Under
                // bulk traffic an exhausted buffer is another thing, the tail of one whose
                // payloads streams still hold; `prepare_read_buf` reclaims it.)
                let mut probe = [0u8; PROBE_LEN];
                let mut probe_buf = ReadBuf::new(&mut probe);
                let polled = Pin::new(&mut self.io).poll_read(cx, &mut probe_buf);
                polled.map_ok(|()| {
                    let got = probe_buf.filled();
                    self.read_buf = BytesMut::with_capacity(READ_CHUNK_MIN);
                    self.read_buf.extend_from_slice(got);
                    got.len()
                })
            } else {
                self.prepare_read_buf();
                let offered = self.read_buf.capacity() - self.read_buf.len();
                let read = {
                    let fut = self.io.read_buf(&mut self.read_buf);
                    tokio::pin!(fut);
                    fut.poll(cx)
                };
                if let Poll::Ready(Ok(n)) = read {
                    if n == offered && self.read_size < READ_CHUNK {
                        self.read_size *= 2;
                    }
                }
                read
            };
            match read {
                Poll::Pending => {
                    if self.read_buf.is_empty() && self.idle.on_dry(self.read_size) {
                        // Quiet, by the rule shared with Noise (`io_buffer`): the buffer never
                        // grew, or a run of small reads followed the transfer that grew it,
                        // and nothing is left in it. Give it back; payload slices that streams
                        // still hold keep their part alive on their own.
                        self.read_buf = BytesMut::new();
                        self.read_size = READ_CHUNK_MIN;
                    }
                    break;
                }
                Poll::Ready(Err(e)) => return Err(SessionError::Io(Arc::new(e))),
                Poll::Ready(Ok(0)) => {
                    self.read_eof = true;
                    progress = true;
                }
                Poll::Ready(Ok(n)) => {
                    self.idle.on_read(n);
                    reads += 1;
                    self.reads_since_tick += 1;
                    progress = true;
                    let mut shared = self.inner.lock();
                    let result = shared.session.handle_input(now(), &mut self.read_buf);
                    Self::dispatch(&self.inner, &mut shared);
                    if let Err(err) = result {
                        drop(shared);
                        self.flush_best_effort(cx);
                        return Err(SessionError::Yamux(err));
                    }
                }
            }
        }

        if self.read_eof {
            // The peer closed: whatever we still had to say cannot matter, and writing could
            // only turn the clean end of file into a broken-pipe error.
            return Err(SessionError::Eof);
        }

        // Timers.
        let mut timer_fired = false;
        {
            let mut shared = self.inner.lock();
            let now = now();
            if shared.session.poll_timeout().is_some_and(|t| t <= now) {
                if let Err(err) = shared.session.handle_timeout(now) {
                    drop(shared);
                    self.flush_best_effort(cx);
                    return Err(SessionError::Yamux(err));
                }
                progress = true;
                timer_fired = true;
            }
            let next = shared.session.poll_timeout();
            drop(shared);
            if timer_fired {
                self.maybe_shrink();
            }
            if next != self.sleep_at {
                self.sleep_at = next;
                if let Some(t) = next {
                    self.sleep.as_mut().reset(t.into());
                }
            }
            if self.sleep_at.is_some() && self.sleep.as_mut().poll(cx).is_ready() {
                // Re-check the session's deadline in the next pass, and re-arm the (now
                // completed) sleep there, so a timer that fired early cannot spin.
                self.sleep_at = None;
                progress = true;
            }
        }

        // Write.
        progress |= self.write(cx)?;

        if self.closing && self.write_pos == self.write_buf.len() && !self.needs_flush {
            match Pin::new(&mut self.io).poll_shutdown(cx) {
                Poll::Ready(_) => return Err(SessionError::Closed),
                Poll::Pending => {}
            }
        }
        Ok(progress)
    }

    /// At a timer tick (the keep-alive interval): an idle connection gives its buffers back, so
    /// that thousands of quiet connections hold almost nothing.
    fn maybe_shrink(&mut self) {
        if self.reads_since_tick < 4 {
            self.spare_read_bufs = Vec::new();
            self.read_size = READ_CHUNK_MIN;
            if self.read_buf.is_empty() {
                self.read_buf = BytesMut::new();
            }
            if self.write_pos == self.write_buf.len() {
                self.write_buf = Vec::new();
                self.write_pos = 0;
            }
        }
        self.reads_since_tick = 0;
    }

    /// Makes room for the next read of `read_size` bytes, preferring allocations that the
    /// streams no longer pin.
    fn prepare_read_buf(&mut self) {
        let want = self.read_size;
        if self.read_buf.capacity() - self.read_buf.len() >= want / 2
            || self.read_buf.try_reclaim(want)
        {
            return;
        }
        // The current allocation is pinned by payloads that streams still hold. Move the few
        // bytes of an incomplete header (the session consumes everything else) elsewhere.
        let leftover = self.read_buf.split();
        let free = self
            .spare_read_bufs
            .iter_mut()
            .position(|b| b.try_reclaim(want));
        let mut next = match free {
            Some(i) => self.spare_read_bufs.swap_remove(i),
            None => BytesMut::with_capacity(want),
        };
        next.extend_from_slice(&leftover);
        let old = std::mem::replace(&mut self.read_buf, next);
        if self.spare_read_bufs.len() < MAX_SPARE_READ_BUFS {
            self.spare_read_bufs.push(old);
        }
    }

    /// Writes pending frames. `Ok(true)` if bytes moved.
    fn write(&mut self, cx: &mut Context<'_>) -> Result<bool, SessionError> {
        let mut progress = false;
        loop {
            if self.write_pos == self.write_buf.len() {
                self.write_buf.clear();
                self.write_pos = 0;
                let mut shared = self.inner.lock();
                let n = shared.session.poll_transmit(&mut self.write_buf);
                Self::dispatch(&self.inner, &mut shared);
                drop(shared);
                if n == 0 {
                    break;
                }
            }
            let Some(pending) = self.write_buf.get(self.write_pos..) else {
                break;
            };
            match Pin::new(&mut self.io).poll_write(cx, pending) {
                Poll::Pending => return Ok(progress),
                Poll::Ready(Err(e)) => return Err(SessionError::Io(Arc::new(e))),
                Poll::Ready(Ok(0)) => {
                    return Err(SessionError::Io(Arc::new(io::ErrorKind::WriteZero.into())));
                }
                Poll::Ready(Ok(n)) => {
                    self.write_pos += n;
                    self.needs_flush = true;
                    progress = true;
                }
            }
        }
        if self.needs_flush {
            match Pin::new(&mut self.io).poll_flush(cx) {
                Poll::Ready(Ok(())) => self.needs_flush = false,
                Poll::Ready(Err(e)) => return Err(SessionError::Io(Arc::new(e))),
                Poll::Pending => {}
            }
        }
        Ok(progress)
    }

    /// After a session error: try once to send what is queued (the go-away) without waiting.
    fn flush_best_effort(&mut self, cx: &mut Context<'_>) {
        let _ = self.write(cx);
    }
}

impl<T: AsyncRead + AsyncWrite + Unpin> Future for Driver<T> {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        // Bound the work per wake-up so that one busy connection cannot starve the others.
        for _ in 0..64 {
            match self.step(cx) {
                Ok(true) => continue,
                Ok(false) => return Poll::Pending,
                Err(err) => {
                    self.terminate(err);
                    return Poll::Ready(());
                }
            }
        }
        cx.waker().wake_by_ref();
        Poll::Pending
    }
}

#[cfg(test)]
mod tests;
