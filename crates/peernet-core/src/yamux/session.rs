//! The yamux session: a state machine over bytes and an injected `now`.

use std::collections::{HashMap, VecDeque};
use std::time::{Duration, Instant};

use bytes::{Buf, Bytes, BytesMut};

use super::config::INITIAL_WINDOW;
use super::frame::{Flags, FrameType, GoAwayCode, Header, HEADER_LEN};
use super::stream::{ResetBy, StreamState};
use super::{Config, YamuxError};

/// A stream id. Odd ids are opened by the client, even ids by the server; 0 is the session.
pub type StreamId = u32;

/// Which end of the underlying connection this session is; decides the parity of stream ids.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Role {
    /// The dialer: opens odd stream ids.
    Client,
    /// The listener: opens even stream ids.
    Server,
}

/// Something the application or driver should react to; see [`Session::poll_event`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Event {
    /// Inbound streams wait in the accept backlog: call [`Session::accept`].
    IncomingStream,
    /// Data, end of stream or a reset arrived: [`Session::read`] can make progress.
    StreamReadable(StreamId),
    /// The stream's send window grew, buffer space freed up, or it was reset:
    /// [`Session::write`] can make progress.
    StreamWritable(StreamId),
    /// The ACK backlog has room again: [`Session::open_stream`] may succeed.
    OutboundAvailable,
    /// A ping we sent was answered after this round-trip time.
    PingRtt(Duration),
    /// The peer sent go-away: it accepts no new streams; existing ones continue.
    GoAway(GoAwayCode),
}

/// Where the input decoder is.
#[derive(Debug, Clone, Copy)]
enum Decode {
    /// Waiting for a 12-byte header.
    Header,
    /// Inside a data frame's payload.
    Payload {
        stream: StreamId,
        remaining: u32,
        /// Keep the bytes (false: the frame is for an unknown, refused or reset stream).
        deliver: bool,
        /// Flags applied once the payload is complete.
        flags: Flags,
    },
}

/// A yamux session (hashicorp `spec.md`, libp2p `/yamux/1.0.0`): many streams over one
/// reliable, ordered byte stream.
///
/// It never performs I/O and never reads the clock. A driver:
///
/// 1. calls [`handle_timeout`](Self::handle_timeout) once after creation (it sends the
///    RTT-probe ping and arms the keep-alive), then whenever [`poll_timeout`](Self::poll_timeout)'s
///    instant passes;
/// 2. feeds every byte read from the connection to [`handle_input`](Self::handle_input);
/// 3. after any call, moves the bytes of [`poll_transmit`](Self::poll_transmit) to the
///    connection and reacts to every [`poll_event`](Self::poll_event);
/// 4. serves the application with [`open_stream`](Self::open_stream),
///    [`accept`](Self::accept), [`read`](Self::read), [`write`](Self::write),
///    [`close`](Self::close), [`reset`](Self::reset) and [`drop_stream`](Self::drop_stream).
///
/// An error from `handle_input` or `handle_timeout` is fatal: the session queues a go-away (still
/// returned by `poll_transmit` so the driver may flush it) and every later call fails with
/// [`YamuxError::SessionClosed`], except reads of data that had already arrived.
///
/// ```
/// use std::time::Instant;
/// use bytes::BytesMut;
/// use peernet_core::yamux::{Config, Role, Session};
///
/// let now = Instant::now();
/// let mut client = Session::new(Role::Client, Config::default());
/// let mut server = Session::new(Role::Server, Config::default());
///
/// let id = client.open_stream()?;
/// client.write(id, b"hello")?;
/// client.close(id)?; // FIN: half-close
///
/// // The "network": whatever the client transmits, the server receives.
/// let mut wire = Vec::new();
/// client.poll_transmit(&mut wire);
/// server.handle_input(now, &mut BytesMut::from(&wire[..]))?;
///
/// let accepted = server.accept().expect("the client opened a stream");
/// let mut buf = [0u8; 16];
/// assert_eq!(server.read(now, accepted, &mut buf)?, Some(5));
/// assert_eq!(&buf[..5], b"hello");
/// assert_eq!(server.read(now, accepted, &mut buf)?, Some(0)); // end of stream
/// # Ok::<(), peernet_core::yamux::YamuxError>(())
/// ```
#[derive(Debug)]
pub struct Session {
    role: Role,
    config: Config,
    streams: HashMap<StreamId, StreamState>,
    /// Next id we open; `None` once the id space is used up.
    next_stream_id: Option<StreamId>,
    inbound_streams: usize,
    accept_queue: VecDeque<StreamId>,
    /// Outbound streams the peer has not acknowledged yet.
    unacked_outbound: usize,
    /// Sum of `recv_window_max` over all streams.
    reserved_window: usize,
    decode: Decode,
    /// Encoded frames waiting for the driver.
    out: Vec<u8>,
    pending_pongs: usize,
    events: VecDeque<Event>,
    incoming_queued: bool,
    outbound_wanted: bool,
    write_blocked: Vec<StreamId>,
    started: bool,
    rtt: Option<Duration>,
    /// Our outstanding ping: opaque value and when it was sent.
    ping_outstanding: Option<(u32, Instant)>,
    next_ping_at: Option<Instant>,
    ping_counter: u32,
    local_go_away: bool,
    remote_go_away: Option<GoAwayCode>,
    closed: Option<YamuxError>,
}

impl Session {
    /// A new session for one end of a connection.
    ///
    /// Limits that would make the session unusable are raised to 1 (`accept_backlog`,
    /// `max_frame_size`).
    pub fn new(role: Role, mut config: Config) -> Self {
        config.accept_backlog = config.accept_backlog.max(1);
        config.max_frame_size = config.max_frame_size.max(1);
        Session {
            role,
            next_stream_id: Some(match role {
                Role::Client => 1,
                Role::Server => 2,
            }),
            config,
            streams: HashMap::new(),
            inbound_streams: 0,
            accept_queue: VecDeque::new(),
            unacked_outbound: 0,
            reserved_window: 0,
            decode: Decode::Header,
            out: Vec::new(),
            pending_pongs: 0,
            events: VecDeque::new(),
            incoming_queued: false,
            outbound_wanted: false,
            write_blocked: Vec::new(),
            started: false,
            rtt: None,
            ping_outstanding: None,
            next_ping_at: None,
            ping_counter: 0,
            local_go_away: false,
            remote_go_away: None,
            closed: None,
        }
    }

    /// This end's role.
    pub fn role(&self) -> Role {
        self.role
    }

    /// The configuration.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// The error that ended the session, if it ended.
    pub fn error(&self) -> Option<YamuxError> {
        self.closed
    }

    /// Whether the session has ended (an error, a timeout or [`abort`](Self::abort)).
    pub fn is_closed(&self) -> bool {
        self.closed.is_some()
    }

    /// The last measured round-trip time.
    pub fn rtt(&self) -> Option<Duration> {
        self.rtt
    }

    /// Number of stream records (open, half-closed, reset or finished but not yet dropped).
    pub fn num_streams(&self) -> usize {
        self.streams.len()
    }

    /// The current receive window size of a stream (grows by auto-tuning).
    pub fn receive_window(&self, id: StreamId) -> Option<u32> {
        self.streams.get(&id).map(|s| s.recv_window_max)
    }

    /// The bytes we may still send on a stream.
    pub fn send_window(&self, id: StreamId) -> Option<u32> {
        self.streams.get(&id).map(|s| s.send_window)
    }

    /// Bytes waiting in the transmit buffer.
    pub fn pending_transmit(&self) -> usize {
        self.out.len()
    }

    // ---------------------------------------------------------------- input

    /// Consumes received bytes.
    ///
    /// Every complete frame at the front of `input` is processed and removed; an incomplete
    /// header (fewer than 12 bytes) is left for the next call; the available part of a data
    /// payload is taken at once. Payload chunks of at least
    /// [`Config::zero_copy_threshold`] bytes are split off `input` without copying; callers
    /// should therefore read into a `BytesMut` that they `reserve` before each read.
    ///
    /// An error is the peer's fault and ends the session.
    pub fn handle_input(&mut self, now: Instant, input: &mut BytesMut) -> Result<(), YamuxError> {
        if self.closed.is_some() {
            input.clear();
            return Err(YamuxError::SessionClosed);
        }
        self.start(now);
        match self.process_input(now, input) {
            Ok(()) => Ok(()),
            Err(err) => {
                input.clear();
                Err(self.fail(err))
            }
        }
    }

    fn process_input(&mut self, now: Instant, input: &mut BytesMut) -> Result<(), YamuxError> {
        loop {
            match self.decode {
                Decode::Header => {
                    let Some(header) = Header::decode_prefix(input)? else {
                        return Ok(());
                    };
                    input.advance(HEADER_LEN);
                    self.on_header(now, header)?;
                }
                Decode::Payload {
                    stream,
                    remaining,
                    deliver,
                    flags,
                } => {
                    if input.is_empty() {
                        return Ok(());
                    }
                    let n = input.len().min(remaining as usize);
                    let mut delivered = false;
                    if deliver {
                        if let Some(s) = self.streams.get_mut(&stream) {
                            s.buf.push_from(input, n, self.config.zero_copy_threshold);
                            delivered = true;
                        }
                    }
                    if !delivered {
                        input.advance(n);
                    }
                    if delivered {
                        self.queue_readable(stream);
                    }
                    let remaining = remaining - n as u32;
                    if remaining == 0 {
                        self.decode = Decode::Header;
                        self.apply_close_flags(stream, flags);
                    } else {
                        self.decode = Decode::Payload {
                            stream,
                            remaining,
                            deliver,
                            flags,
                        };
                    }
                }
            }
        }
    }

    fn on_header(&mut self, now: Instant, header: Header) -> Result<(), YamuxError> {
        match header.frame_type {
            FrameType::Data | FrameType::WindowUpdate => self.on_stream_frame(now, header),
            FrameType::Ping => self.on_ping(now, header),
            FrameType::GoAway => {
                let code = GoAwayCode::from_u32(header.length);
                if self.remote_go_away.is_none() {
                    self.remote_go_away = Some(code);
                    self.events.push_back(Event::GoAway(code));
                }
                Ok(())
            }
        }
    }

    fn on_ping(&mut self, now: Instant, header: Header) -> Result<(), YamuxError> {
        if header.flags.contains(Flags::SYN) {
            if self.pending_pongs >= self.config.max_pending_pongs {
                return Err(YamuxError::PingFlood(self.config.max_pending_pongs));
            }
            self.pending_pongs += 1;
            self.push_peer_control(Header::ping(Flags::ACK, header.length))?;
        } else if header.flags.contains(Flags::ACK) {
            if let Some((opaque, sent)) = self.ping_outstanding {
                if opaque == header.length {
                    let rtt = now.saturating_duration_since(sent);
                    self.rtt = Some(rtt);
                    self.ping_outstanding = None;
                    self.events.push_back(Event::PingRtt(rtt));
                }
            }
        }
        Ok(())
    }

    fn is_ours(&self, id: StreamId) -> bool {
        match self.role {
            Role::Client => id % 2 == 1,
            Role::Server => id.is_multiple_of(2),
        }
    }

    /// The largest data frame any stream could legitimately carry.
    fn max_window(&self) -> u32 {
        self.config.max_stream_window.max(INITIAL_WINDOW)
    }

    fn on_stream_frame(&mut self, now: Instant, header: Header) -> Result<(), YamuxError> {
        let id = header.stream_id;
        let is_data = header.frame_type == FrameType::Data;
        if id == 0 {
            return Err(YamuxError::InvalidStreamId(0));
        }
        if is_data && header.length > self.max_window() {
            return Err(YamuxError::WindowExceeded {
                stream: id,
                length: header.length,
                window: self.max_window(),
            });
        }
        let mut deliver = false;
        if header.flags.contains(Flags::SYN) {
            if self.is_ours(id) {
                return Err(YamuxError::InvalidStreamId(id));
            }
            if self.streams.contains_key(&id) {
                return Err(YamuxError::DuplicateStream(id));
            }
            // Oversized data on a SYN frame (GHSA-vxx9-2994-q338): the initial window is all a
            // new stream may carry, whether or not we accept it.
            if is_data && header.length > INITIAL_WINDOW {
                return Err(YamuxError::WindowExceeded {
                    stream: id,
                    length: header.length,
                    window: INITIAL_WINDOW,
                });
            }
            if header.flags.contains(Flags::RST) {
                // Opened and reset at once: nothing to do but skip the payload.
            } else if self.refuse_inbound() {
                self.push_peer_control(Header::window_update(id, Flags::RST, 0))?;
            } else {
                self.reserved_window += INITIAL_WINDOW as usize;
                self.streams
                    .insert(id, StreamState::new(false, INITIAL_WINDOW));
                self.inbound_streams += 1;
                self.accept_queue.push_back(id);
                if !self.incoming_queued {
                    self.incoming_queued = true;
                    self.events.push_back(Event::IncomingStream);
                }
            }
        }
        let mut writable = false;
        let mut outbound_freed = false;
        if let Some(stream) = self.streams.get_mut(&id) {
            if header.flags.contains(Flags::ACK) && stream.outbound && !stream.acked {
                stream.acked = true;
                outbound_freed = true;
            }
            if is_data {
                if stream.reset.is_none() && header.length > 0 {
                    if stream.recv_closed {
                        return Err(YamuxError::DataAfterFin(id));
                    }
                    if header.length > stream.recv_window {
                        return Err(YamuxError::WindowExceeded {
                            stream: id,
                            length: header.length,
                            window: stream.recv_window,
                        });
                    }
                    stream.recv_window -= header.length;
                    if stream.epoch_start.is_none() {
                        stream.epoch_start = Some(now);
                    }
                    deliver = true;
                }
            } else if stream.reset.is_none() {
                // CVE-2026-31814: a window past u32::MAX is a protocol error, never a wrap.
                let delta = header.length;
                stream.send_window = stream
                    .send_window
                    .checked_add(delta)
                    .ok_or(YamuxError::WindowOverflow { stream: id, delta })?;
                writable = delta > 0 && stream.write_blocked;
            }
        }
        if outbound_freed {
            self.on_outbound_acked();
        }
        if writable {
            self.queue_writable(id);
        }
        if is_data && header.length > 0 {
            self.decode = Decode::Payload {
                stream: id,
                remaining: header.length,
                deliver,
                flags: header.flags,
            };
        } else {
            self.apply_close_flags(id, header.flags);
        }
        Ok(())
    }

    fn refuse_inbound(&self) -> bool {
        self.local_go_away
            || self.inbound_streams >= self.config.max_inbound_streams
            || self.accept_queue.len() >= self.config.accept_backlog
            || self.reserved_window + INITIAL_WINDOW as usize
                > self.config.max_connection_receive_window
    }

    fn on_outbound_acked(&mut self) {
        let was_full = self.unacked_outbound >= self.config.accept_backlog;
        self.unacked_outbound = self.unacked_outbound.saturating_sub(1);
        if was_full && self.outbound_wanted {
            self.outbound_wanted = false;
            self.events.push_back(Event::OutboundAvailable);
        }
    }

    /// FIN and RST of a frame, applied after its payload.
    fn apply_close_flags(&mut self, id: StreamId, flags: Flags) {
        if flags.contains(Flags::RST) {
            let Some(stream) = self.streams.get_mut(&id) else {
                return;
            };
            if stream.reset.is_some() {
                return;
            }
            if !stream.outbound && !stream.acked {
                // Reset before the application saw it: forget it entirely.
                self.accept_queue.retain(|&queued| queued != id);
                self.remove_stream(id);
                return;
            }
            stream.reset = Some(ResetBy::Remote);
            stream.buf.clear();
            self.queue_readable(id);
            self.queue_writable(id);
        } else if flags.contains(Flags::FIN) {
            let Some(stream) = self.streams.get_mut(&id) else {
                return;
            };
            if stream.reset.is_none() && !stream.recv_closed {
                stream.recv_closed = true;
                self.queue_readable(id);
            }
        }
    }

    fn queue_readable(&mut self, id: StreamId) {
        if let Some(stream) = self.streams.get_mut(&id) {
            if !stream.readable_queued {
                stream.readable_queued = true;
                self.events.push_back(Event::StreamReadable(id));
            }
        }
    }

    fn queue_writable(&mut self, id: StreamId) {
        if let Some(stream) = self.streams.get_mut(&id) {
            stream.write_blocked = false;
            if !stream.writable_queued {
                stream.writable_queued = true;
                self.events.push_back(Event::StreamWritable(id));
            }
        }
    }

    // ---------------------------------------------------------------- output

    /// Largest the transmit buffer may grow with frames the peer makes us send.
    fn transmit_hard_limit(&self) -> usize {
        self.config.write_buffer_size + self.config.max_frame_size + self.config.max_control_backlog
    }

    /// Queues a frame the peer caused (pong, refusal), failing if the peer does not read.
    fn push_peer_control(&mut self, header: Header) -> Result<(), YamuxError> {
        if self.out.len() + HEADER_LEN > self.transmit_hard_limit() {
            return Err(YamuxError::TransmitBacklog(self.out.len()));
        }
        self.out.extend_from_slice(&header.encode());
        Ok(())
    }

    /// Queues a frame the application caused (bounded by the number of streams).
    fn push_control(&mut self, header: Header) {
        self.out.extend_from_slice(&header.encode());
    }

    /// Moves all pending outgoing bytes into `buf` and returns how many were added.
    ///
    /// If `buf` is empty the buffers are swapped instead of copied, so a driver that passes
    /// the same cleared `Vec` each time ping-pongs between two allocations and never copies.
    /// Call after every other method; write everything to the connection, in order.
    pub fn poll_transmit(&mut self, buf: &mut Vec<u8>) -> usize {
        let n = self.out.len();
        if n == 0 {
            return 0;
        }
        if buf.is_empty() {
            std::mem::swap(buf, &mut self.out);
        } else {
            buf.extend_from_slice(&self.out);
            self.out.clear();
        }
        self.pending_pongs = 0;
        for id in std::mem::take(&mut self.write_blocked) {
            if self.streams.get(&id).is_some_and(|s| s.write_blocked) {
                self.queue_writable(id);
            }
        }
        n
    }

    /// The next event, if any. Poll until `None` after every call that may have produced one.
    #[must_use]
    pub fn poll_event(&mut self) -> Option<Event> {
        let event = self.events.pop_front()?;
        match event {
            Event::IncomingStream => self.incoming_queued = false,
            Event::StreamReadable(id) => {
                if let Some(s) = self.streams.get_mut(&id) {
                    s.readable_queued = false;
                }
            }
            Event::StreamWritable(id) => {
                if let Some(s) = self.streams.get_mut(&id) {
                    s.writable_queued = false;
                }
            }
            _ => {}
        }
        Some(event)
    }

    // ---------------------------------------------------------------- timers

    fn start(&mut self, now: Instant) {
        if self.started {
            return;
        }
        self.started = true;
        if self.config.measure_rtt {
            self.send_ping(now);
        }
        self.next_ping_at = self
            .config
            .keep_alive_interval
            .and_then(|d| now.checked_add(d));
    }

    fn send_ping(&mut self, now: Instant) {
        self.ping_counter = self.ping_counter.wrapping_add(1);
        self.ping_outstanding = Some((self.ping_counter, now));
        self.push_control(Header::ping(Flags::SYN, self.ping_counter));
    }

    /// When [`handle_timeout`](Self::handle_timeout) must be called next; `None` before the
    /// first call to it or to `handle_input`, and when no timer runs.
    #[must_use]
    pub fn poll_timeout(&self) -> Option<Instant> {
        if self.closed.is_some() {
            return None;
        }
        let ping_deadline = match (self.config.keep_alive_interval, self.ping_outstanding) {
            (Some(_), Some((_, sent))) => sent.checked_add(self.config.ping_timeout),
            _ => None,
        };
        let next_ping = if self.ping_outstanding.is_none() {
            self.next_ping_at
        } else {
            None
        };
        match (ping_deadline, next_ping) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// Runs the timers: sends keep-alive pings and detects an unanswered one.
    ///
    /// Call once after creating the session and whenever [`poll_timeout`](Self::poll_timeout)
    /// has passed. [`YamuxError::KeepAliveTimeout`] ends the session.
    pub fn handle_timeout(&mut self, now: Instant) -> Result<(), YamuxError> {
        if self.closed.is_some() {
            return Err(YamuxError::SessionClosed);
        }
        self.start(now);
        if let (Some(_), Some((_, sent))) = (self.config.keep_alive_interval, self.ping_outstanding)
        {
            if sent
                .checked_add(self.config.ping_timeout)
                .is_some_and(|deadline| now >= deadline)
            {
                return Err(self.fail(YamuxError::KeepAliveTimeout));
            }
        }
        if let (Some(interval), Some(at)) = (self.config.keep_alive_interval, self.next_ping_at) {
            if now >= at && self.ping_outstanding.is_none() {
                self.send_ping(now);
                self.next_ping_at = now.checked_add(interval);
            }
        }
        Ok(())
    }

    // ---------------------------------------------------------------- session ops

    fn fail(&mut self, err: YamuxError) -> YamuxError {
        if self.closed.is_none() {
            self.closed = Some(err);
            let code = if err.is_protocol_violation() {
                GoAwayCode::ProtocolError
            } else {
                GoAwayCode::InternalError
            };
            self.push_control(Header::go_away(code));
        }
        err
    }

    /// Sends go-away with `code`: the peer must open no more streams (we refuse them with RST)
    /// and we open none. Existing streams continue. Idempotent.
    pub fn go_away(&mut self, code: GoAwayCode) {
        if self.closed.is_none() && !self.local_go_away {
            self.local_go_away = true;
            self.push_control(Header::go_away(code));
        }
    }

    /// Whether the peer sent go-away, and with which code.
    pub fn remote_go_away(&self) -> Option<GoAwayCode> {
        self.remote_go_away
    }

    /// Ends the session locally (the driver lost its connection, or the application closed it):
    /// every later call fails with [`YamuxError::SessionClosed`]. Sends nothing.
    pub fn abort(&mut self) {
        if self.closed.is_none() {
            self.closed = Some(YamuxError::SessionClosed);
        }
    }

    fn check_open(&self) -> Result<(), YamuxError> {
        match self.closed {
            Some(_) => Err(YamuxError::SessionClosed),
            None => Ok(()),
        }
    }

    /// Opens an outbound stream (sends SYN). Data may be written at once, before the peer
    /// acknowledges it.
    ///
    /// Fails with [`YamuxError::AckBacklogFull`] while `accept_backlog` streams wait for the
    /// peer's ACK; [`Event::OutboundAvailable`] follows when one is acknowledged.
    pub fn open_stream(&mut self) -> Result<StreamId, YamuxError> {
        self.check_open()?;
        if self.local_go_away {
            return Err(YamuxError::LocalGoAway);
        }
        if let Some(code) = self.remote_go_away {
            return Err(YamuxError::RemoteGoAway(code));
        }
        if self.unacked_outbound >= self.config.accept_backlog {
            self.outbound_wanted = true;
            return Err(YamuxError::AckBacklogFull);
        }
        if self.reserved_window + INITIAL_WINDOW as usize
            > self.config.max_connection_receive_window
        {
            return Err(YamuxError::MemoryBudget);
        }
        let id = self.next_stream_id.ok_or(YamuxError::StreamIdsExhausted)?;
        self.next_stream_id = id.checked_add(2);
        self.reserved_window += INITIAL_WINDOW as usize;
        self.unacked_outbound += 1;
        self.streams
            .insert(id, StreamState::new(true, INITIAL_WINDOW));
        self.push_control(Header::window_update(id, Flags::SYN, 0));
        Ok(id)
    }

    /// Takes the next inbound stream from the accept backlog and acknowledges it (sends ACK).
    pub fn accept(&mut self) -> Option<StreamId> {
        if self.closed.is_some() {
            return None;
        }
        while let Some(id) = self.accept_queue.pop_front() {
            if let Some(stream) = self.streams.get_mut(&id) {
                stream.acked = true;
                self.push_control(Header::window_update(id, Flags::ACK, 0));
                return Some(id);
            }
        }
        None
    }

    fn stream_mut(&mut self, id: StreamId) -> Result<&mut StreamState, YamuxError> {
        self.check_open()?;
        self.streams
            .get_mut(&id)
            .ok_or(YamuxError::UnknownStream(id))
    }

    /// Reads received bytes of a stream into `buf`.
    ///
    /// `Ok(Some(n))` with `n > 0`: data; `Ok(Some(0))`: the peer closed its direction and all
    /// data was read (or `buf` is empty); `Ok(None)`: nothing yet, wait for
    /// [`Event::StreamReadable`]. Reading may queue a window update (call `poll_transmit`); the
    /// window grows (auto-tuning) when the application consumes half a window in under four
    /// round trips.
    ///
    /// Data that arrived before the session ended stays readable, and so does the end of a
    /// stream the peer closed; otherwise reads after the end fail with
    /// [`YamuxError::SessionClosed`].
    pub fn read(
        &mut self,
        now: Instant,
        id: StreamId,
        buf: &mut [u8],
    ) -> Result<Option<usize>, YamuxError> {
        if buf.is_empty() {
            self.check_readable(id)?;
            return Ok(Some(0));
        }
        if let Some(end) = self.check_readable(id)? {
            return Ok(end);
        }
        let n = self.streams.get_mut(&id).map_or(0, |s| s.buf.read(buf));
        self.maybe_update_window(now, id);
        Ok(Some(n))
    }

    /// Like [`read`](Self::read), but hands out up to `max` buffered bytes as a [`Bytes`]
    /// without copying them: `Ok(Some(chunk))` with data, an empty chunk at the end of the
    /// stream, `Ok(None)` when nothing is buffered yet.
    ///
    /// The bytes count as consumed at once (they may trigger a window update), so a driver
    /// can copy them to the application outside any lock it holds around the session; it then
    /// holds at most one chunk per stream beyond the receive window.
    pub fn read_chunk(
        &mut self,
        now: Instant,
        id: StreamId,
        max: usize,
    ) -> Result<Option<Bytes>, YamuxError> {
        if max == 0 {
            self.check_readable(id)?;
            return Ok(Some(Bytes::new()));
        }
        if let Some(end) = self.check_readable(id)? {
            return Ok(end.map(|_| Bytes::new()));
        }
        let chunk = self
            .streams
            .get_mut(&id)
            .map_or_else(Bytes::new, |s| s.buf.read_chunk(max));
        self.maybe_update_window(now, id);
        Ok(Some(chunk))
    }

    /// `Ok(None)` when the stream has buffered data; `Ok(Some(Some(0)))` at its end,
    /// `Ok(Some(None))` when it must wait; errors after a reset or the session's end.
    fn check_readable(&mut self, id: StreamId) -> Result<Option<Option<usize>>, YamuxError> {
        let closed = self.closed.is_some();
        let stream = self
            .streams
            .get_mut(&id)
            .ok_or(YamuxError::UnknownStream(id))?;
        match stream.reset {
            Some(ResetBy::Remote) => return Err(YamuxError::StreamReset(id)),
            Some(ResetBy::Local) => return Err(YamuxError::LocallyReset(id)),
            None => {}
        }
        if stream.buf.len() > 0 {
            return Ok(None);
        }
        match (stream.recv_closed, closed) {
            (true, _) => Ok(Some(Some(0))),
            (false, true) => Err(YamuxError::SessionClosed),
            (false, false) => {
                stream.starved = true;
                Ok(Some(None))
            }
        }
    }

    /// Bytes buffered for reading on a stream.
    pub fn readable_len(&self, id: StreamId) -> usize {
        self.streams.get(&id).map_or(0, |s| s.buf.len())
    }

    fn maybe_update_window(&mut self, now: Instant, id: StreamId) {
        let rtt = self.rtt;
        let max_stream_window = self.config.max_stream_window;
        let budget = self.config.max_connection_receive_window;
        let mut reserved = self.reserved_window;
        if self.closed.is_some() {
            return;
        }
        let Some(stream) = self.streams.get_mut(&id) else {
            return;
        };
        if stream.recv_closed || stream.reset.is_some() {
            return;
        }
        let uncredited = stream.uncredited();
        if uncredited < stream.recv_window_max / 2 {
            return;
        }
        let mut delta = uncredited;
        if let (Some(rtt), Some(epoch)) = (rtt, stream.epoch_start) {
            // go-yamux grows when half a window was consumed within 4 RTT. We also require
            // that the reader ran dry during the epoch: a reader that never waits is the
            // bottleneck itself, and a bigger window would only pile up data in memory.
            if stream.starved
                && now.saturating_duration_since(epoch) < rtt.saturating_mul(4)
                && stream.recv_window_max < max_stream_window
            {
                let target = stream
                    .recv_window_max
                    .saturating_mul(2)
                    .min(max_stream_window);
                let grow = target - stream.recv_window_max;
                if reserved + grow as usize <= budget {
                    reserved += grow as usize;
                    stream.recv_window_max = target;
                    delta += grow;
                }
            }
        }
        stream.epoch_start = Some(now);
        stream.starved = false;
        stream.recv_window = stream.recv_window.saturating_add(delta);
        self.reserved_window = reserved;
        self.push_control(Header::window_update(id, Flags::NONE, delta));
    }

    /// Writes up to `data.len()` bytes to a stream as one data frame.
    ///
    /// `Ok(Some(n))`: `n` bytes were queued (at most the send window and
    /// [`Config::max_frame_size`]); `Ok(None)`: the send window is exhausted or the transmit
    /// buffer is full, wait for [`Event::StreamWritable`].
    pub fn write(&mut self, id: StreamId, data: &[u8]) -> Result<Option<usize>, YamuxError> {
        let buffered = self.out.len();
        let write_buffer_size = self.config.write_buffer_size;
        let max_frame = self.config.max_frame_size;
        let stream = self.stream_mut(id)?;
        match stream.reset {
            Some(ResetBy::Remote) => return Err(YamuxError::StreamReset(id)),
            Some(ResetBy::Local) => return Err(YamuxError::LocallyReset(id)),
            None => {}
        }
        if stream.send_closed {
            return Err(YamuxError::WriteClosed(id));
        }
        if data.is_empty() {
            return Ok(Some(0));
        }
        // An empty transmit buffer always takes one frame, whatever `write_buffer_size` says.
        if stream.send_window == 0 || (buffered > 0 && buffered >= write_buffer_size) {
            if !stream.write_blocked {
                stream.write_blocked = true;
                self.write_blocked.push(id);
            }
            return Ok(None);
        }
        let n = data.len().min(stream.send_window as usize).min(max_frame);
        let n32 = n as u32; // n <= send_window, a u32
        stream.send_window -= n32;
        let Some(chunk) = data.get(..n) else {
            return Ok(None);
        };
        self.out.reserve(HEADER_LEN + n);
        self.out
            .extend_from_slice(&Header::data(id, Flags::NONE, n32).encode());
        self.out.extend_from_slice(chunk);
        Ok(Some(n))
    }

    /// Half-closes a stream (sends FIN): no more writes; reading continues. Idempotent.
    pub fn close(&mut self, id: StreamId) -> Result<(), YamuxError> {
        let stream = self.stream_mut(id)?;
        match stream.reset {
            Some(ResetBy::Remote) => return Err(YamuxError::StreamReset(id)),
            Some(ResetBy::Local) => return Err(YamuxError::LocallyReset(id)),
            None => {}
        }
        if !stream.send_closed {
            stream.send_closed = true;
            self.push_control(Header::window_update(id, Flags::FIN, 0));
        }
        Ok(())
    }

    /// Resets a stream in both directions (sends RST) and discards its buffered data.
    /// Idempotent; a no-op on a stream the peer already reset.
    pub fn reset(&mut self, id: StreamId) -> Result<(), YamuxError> {
        let stream = self.stream_mut(id)?;
        if stream.reset.is_none() {
            stream.reset = Some(ResetBy::Local);
            stream.buf.clear();
            self.push_control(Header::window_update(id, Flags::RST, 0));
        }
        Ok(())
    }

    /// Forgets a stream the application no longer holds.
    ///
    /// If both directions finished (FIN sent, and FIN received with all data read) or the
    /// stream was reset, nothing is sent. If only our direction is open and the peer's finished,
    /// FIN is sent: the data written so far is delivered. Otherwise, received data would be
    /// lost, and the stream is reset (like closing a TCP socket with unread data).
    pub fn drop_stream(&mut self, id: StreamId) {
        let Some(stream) = self.streams.get(&id) else {
            return;
        };
        if self.closed.is_none() && stream.reset.is_none() {
            if !stream.recv_finished() {
                self.push_control(Header::window_update(id, Flags::RST, 0));
            } else if !stream.send_closed {
                self.push_control(Header::window_update(id, Flags::FIN, 0));
            }
        }
        self.accept_queue.retain(|&queued| queued != id);
        self.remove_stream(id);
    }

    fn remove_stream(&mut self, id: StreamId) {
        let Some(stream) = self.streams.remove(&id) else {
            return;
        };
        self.reserved_window = self
            .reserved_window
            .saturating_sub(stream.recv_window_max as usize);
        if stream.outbound {
            if !stream.acked {
                self.on_outbound_acked();
            }
        } else {
            self.inbound_streams = self.inbound_streams.saturating_sub(1);
        }
    }

    /// Ids of all stream records, for a driver that must wake every stream (e.g. on error).
    pub fn stream_ids(&self) -> impl Iterator<Item = StreamId> + '_ {
        self.streams.keys().copied()
    }
}
