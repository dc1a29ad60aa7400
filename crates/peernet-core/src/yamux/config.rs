//! Session limits, each reasoned about as the memory or work a hostile peer can make us spend.

use std::time::Duration;

/// The receive window every stream starts with (spec: "each stream starts with a 256KB window").
pub const INITIAL_WINDOW: u32 = 256 * 1024;

/// Configuration of a [`Session`](super::Session).
///
/// # Worst-case memory
///
/// What a hostile peer can make one session hold, with the defaults:
///
/// - **Received data** is bounded by the windows we grant. Each stream starts at
///   [`INITIAL_WINDOW`] (256 KiB) and auto-tuning may grow it to `max_stream_window` (16 MiB).
///   The sum of all granted windows never exceeds `max_connection_receive_window` (256 MiB): a
///   stream whose initial window does not fit is refused, and a window only grows while the
///   budget has room. So a peer can make us buffer at most 256 MiB, and only if the application
///   never reads; streams that are read promptly hold nothing.
///   Payloads of at least `zero_copy_threshold` bytes are kept as slices of the driver's read
///   buffer instead of being copied; such a slice pins its whole read buffer, so with a read
///   buffer of `R` bytes pinned memory is at most `R / zero_copy_threshold` times the buffered
///   bytes (4× for a 256 KiB read buffer and the 64 KiB default). Smaller payloads are copied.
/// - **Streams**: at most `max_inbound_streams` (512) inbound streams exist at once, and at most
///   `accept_backlog` (256) of them wait for the application to accept them; a SYN beyond either
///   limit is answered with RST and costs nothing but the 12-byte answer. Each stream record is a
///   few hundred bytes.
/// - **Outgoing frames**: data writes stop at `write_buffer_size` (512 KiB). Frames the peer
///   makes us send (pongs, RSTs for refused streams, ACKs, window updates) may add up to
///   `max_control_backlog` (64 KiB, ~5400 frames) on top; when the peer does not read them and
///   the buffer passes the sum plus one data frame, the session fails with
///   [`TransmitBacklog`](super::YamuxError::TransmitBacklog) instead of growing (the class of
///   rust-yamux GHSA-3999-5ffv-wp2r).
/// - **Pings**: at most `max_pending_pongs` (16) answers may wait unsent; a peer that pings
///   faster than we can write the answers is cut off with
///   [`PingFlood`](super::YamuxError::PingFlood).
///
/// Per connection, then, the bound is ≈ 256 MiB of granted windows (of which nothing is held
/// while the application reads) + 1 MiB of outgoing bytes + 512 stream records. Multiply by the
/// connection count and lower `max_connection_receive_window` for hosts with many connections.
#[derive(Debug, Clone)]
pub struct Config {
    /// Largest receive window a stream may grow to by auto-tuning. Default 16 MiB (go-libp2p's
    /// value); values below [`INITIAL_WINDOW`] disable growth.
    pub max_stream_window: u32,
    /// Sum of the receive windows of all streams of the session. Default 256 MiB. A stream whose
    /// 256 KiB initial window does not fit is refused (inbound: RST; outbound:
    /// [`MemoryBudget`](super::YamuxError::MemoryBudget)).
    pub max_connection_receive_window: usize,
    /// Most inbound streams alive at once (accepted or not). Default 512. A SYN beyond the limit
    /// is answered with RST (go-libp2p GHSA-j7qp-mfxf-8xjw).
    pub max_inbound_streams: usize,
    /// Most inbound streams waiting for [`Session::accept`](super::Session::accept), and most
    /// outbound streams we open before the peer acknowledged them. Default 256 (the libp2p
    /// spec's ACK backlog).
    pub accept_backlog: usize,
    /// Largest data frame we send. Default 256 KiB. Bigger frames amortise the 12-byte header;
    /// smaller ones interleave streams more finely.
    pub max_frame_size: usize,
    /// Buffered outgoing bytes at which writes stop until the driver takes them. Default 512 KiB.
    pub write_buffer_size: usize,
    /// Extra outgoing bytes allowed for frames the peer makes us send while it does not read.
    /// Default 64 KiB.
    pub max_control_backlog: usize,
    /// Unsent ping answers tolerated before the peer is cut off. Default 16.
    pub max_pending_pongs: usize,
    /// Received payloads this large or larger are kept as slices of the input buffer (no copy).
    /// Default 64 KiB. See "worst-case memory" above.
    pub zero_copy_threshold: usize,
    /// Interval of keep-alive pings; `None` disables them. Default 30 s (go-yamux).
    pub keep_alive_interval: Option<Duration>,
    /// How long a ping may go unanswered before the session fails with
    /// [`KeepAliveTimeout`](super::YamuxError::KeepAliveTimeout). Default 10 s.
    pub ping_timeout: Duration,
    /// Whether to send one ping when the session starts, to learn the RTT that window
    /// auto-tuning needs. Default true.
    pub measure_rtt: bool,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            max_stream_window: 16 * 1024 * 1024,
            max_connection_receive_window: 256 * 1024 * 1024,
            max_inbound_streams: 512,
            accept_backlog: 256,
            max_frame_size: 256 * 1024,
            write_buffer_size: 512 * 1024,
            max_control_backlog: 64 * 1024,
            max_pending_pongs: 16,
            zero_copy_threshold: 64 * 1024,
            keep_alive_interval: Some(Duration::from_secs(30)),
            ping_timeout: Duration::from_secs(10),
            measure_rtt: true,
        }
    }
}
