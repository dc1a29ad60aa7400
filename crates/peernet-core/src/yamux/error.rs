//! The one error type of the yamux module.

use super::GoAwayCode;

/// Why a yamux operation failed. Each variant says whose fault it is: the **peer** (it broke the
/// protocol or a limit; the session is over and a go-away has been queued), **local** (misuse of
/// the API by this process, the session is unaffected), or the **session** state (it already
/// ended).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum YamuxError {
    /// Peer: a frame header carried a version other than 0.
    #[error("peer sent yamux version {0}, only 0 exists")]
    UnsupportedVersion(u8),
    /// Peer: a frame header carried a type other than data, window update, ping or go-away.
    #[error("peer sent unknown frame type {0}")]
    UnknownFrameType(u8),
    /// Peer: it opened a stream with an id of our parity, or with id 0.
    #[error("peer opened stream {0} with an id it may not use")]
    InvalidStreamId(u32),
    /// Peer: it sent SYN for a stream id that is still open.
    #[error("peer reopened stream {0} that is still open")]
    DuplicateStream(u32),
    /// Peer: it sent more data than the receive window we granted allows, or a data frame longer
    /// than any window we would ever grant (this includes oversized data on a SYN frame).
    #[error("peer sent {length} bytes on stream {stream} with only {window} bytes of window")]
    WindowExceeded {
        /// The stream.
        stream: u32,
        /// Payload length of the frame.
        length: u32,
        /// Window that was left.
        window: u32,
    },
    /// Peer: a window update would push our send window past `u32::MAX` (CVE-2026-31814 class:
    /// never wrap, never panic).
    #[error("peer's window update of {delta} overflows the send window of stream {stream}")]
    WindowOverflow {
        /// The stream.
        stream: u32,
        /// The announced delta.
        delta: u32,
    },
    /// Peer: it sent data after it half-closed the stream with FIN.
    #[error("peer sent data on stream {0} after its FIN")]
    DataAfterFin(u32),
    /// Peer: it sent more pings than we answer before reading our answers.
    #[error("peer sent more than {0} pings before reading our answers")]
    PingFlood(usize),
    /// Peer: it does not read what we send (the transmit buffer grew past its hard limit with
    /// frames the peer made us produce: pongs, resets, acknowledgements, window updates).
    #[error("peer stopped reading: {0} bytes waiting to be sent")]
    TransmitBacklog(usize),
    /// Peer: it did not answer a keep-alive ping in time.
    #[error("peer did not answer a keep-alive ping in time")]
    KeepAliveTimeout,
    /// Peer: it sent a go-away frame; no new streams can be opened.
    #[error("peer sent go-away ({0:?})")]
    RemoteGoAway(GoAwayCode),
    /// Peer: it reset the stream; its data is gone.
    #[error("stream {0} was reset by the peer")]
    StreamReset(u32),
    /// Local: the stream was reset by this side.
    #[error("stream {0} was reset locally")]
    LocallyReset(u32),
    /// Local: the stream id is not known (never opened, or already dropped).
    #[error("unknown stream {0}")]
    UnknownStream(u32),
    /// Local: a write or close after this side already closed its direction with FIN.
    #[error("stream {0} is closed for writing")]
    WriteClosed(u32),
    /// Local, transient: 256 (the configured ACK backlog) outbound streams wait for the peer's
    /// acknowledgement; retry after [`Event::OutboundAvailable`](super::Event::OutboundAvailable).
    #[error("too many outbound streams wait for the peer's acknowledgement")]
    AckBacklogFull,
    /// Local: the connection-wide receive budget cannot cover another stream's initial window.
    #[error("receive memory budget exhausted")]
    MemoryBudget,
    /// Local: all stream ids of our parity have been used.
    #[error("stream ids exhausted")]
    StreamIdsExhausted,
    /// Local: this side sent go-away; no new streams can be opened.
    #[error("session is going away")]
    LocalGoAway,
    /// Session: it ended earlier (after a peer error, a keep-alive timeout or a local close);
    /// the first error was reported then.
    #[error("session closed")]
    SessionClosed,
}

impl YamuxError {
    /// Who was at fault: the peer for everything it sent or failed to answer, this process for
    /// calls that make no sense, our limits for a budget or id space used up.
    pub fn fault(&self) -> crate::error::Fault {
        use crate::error::Fault;
        match self {
            YamuxError::UnsupportedVersion(_)
            | YamuxError::UnknownFrameType(_)
            | YamuxError::InvalidStreamId(_)
            | YamuxError::DuplicateStream(_)
            | YamuxError::WindowExceeded { .. }
            | YamuxError::WindowOverflow { .. }
            | YamuxError::DataAfterFin(_)
            | YamuxError::PingFlood(_)
            | YamuxError::TransmitBacklog(_)
            | YamuxError::KeepAliveTimeout
            | YamuxError::RemoteGoAway(_)
            | YamuxError::StreamReset(_) => Fault::Remote,
            YamuxError::LocallyReset(_)
            | YamuxError::UnknownStream(_)
            | YamuxError::WriteClosed(_)
            | YamuxError::LocalGoAway
            | YamuxError::SessionClosed => Fault::Local,
            YamuxError::AckBacklogFull
            | YamuxError::MemoryBudget
            | YamuxError::StreamIdsExhausted => Fault::Limit,
        }
    }

    /// Whether the peer broke the protocol (or stopped answering), which ends the session with
    /// a protocol-error go-away.
    pub(crate) fn is_protocol_violation(&self) -> bool {
        matches!(
            self,
            YamuxError::UnsupportedVersion(_)
                | YamuxError::UnknownFrameType(_)
                | YamuxError::InvalidStreamId(_)
                | YamuxError::DuplicateStream(_)
                | YamuxError::WindowExceeded { .. }
                | YamuxError::WindowOverflow { .. }
                | YamuxError::DataAfterFin(_)
                | YamuxError::PingFlood(_)
                | YamuxError::TransmitBacklog(_)
                | YamuxError::KeepAliveTimeout
        )
    }
}
