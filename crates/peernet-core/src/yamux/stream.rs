//! Per-stream state: flow-control windows, the receive buffer and the half-close flags.
//!
//! # States
//!
//! A stream is two directions that close independently (yamux has no explicit state field; this
//! is the diagram the two flags and the reset marker encode):
//!
//! ```text
//!                     open_stream() sends SYN / SYN received
//!                                   |
//!                                   v
//!                             +-----------+
//!              close(): FIN   |           |   FIN received
//!            +----------------|   Open    |----------------+
//!            |                |           |                |
//!            v                +-----------+                v
//!     +-------------+               |               +-------------+
//!     | half-closed |               | RST sent or   | half-closed |
//!     |   (local)   |               | received      |  (remote)   |
//!     +-------------+               v               +-------------+
//!            |   RST          +-----------+    RST         |
//!            |--------------->|   Reset   |<---------------|
//!            |                +-----------+                |
//!            | FIN received                       close(): FIN
//!            |                +-----------+                |
//!            +--------------->|  Closed   |<---------------+
//!                             +-----------+
//! ```
//!
//! A stream record stays in the session until the application drops it
//! ([`Session::drop_stream`](super::Session::drop_stream)), so that reads after a reset or an
//! end of stream report it instead of "unknown stream".

use std::collections::VecDeque;
use std::time::Instant;

use bytes::{Buf, Bytes, BytesMut};

/// Who reset a stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ResetBy {
    Local,
    Remote,
}

/// Received bytes not yet read by the application.
///
/// Large payload chunks are kept as the [`Bytes`] slices the session cut from its input buffer
/// (no copy); small ones are appended to `tail`, so that many tiny frames cannot each pin a large
/// input buffer.
#[derive(Debug, Default)]
pub(crate) struct RecvBuf {
    segments: VecDeque<Bytes>,
    tail: BytesMut,
    len: usize,
}

impl RecvBuf {
    pub(crate) fn len(&self) -> usize {
        self.len
    }

    /// Moves the first `n` bytes of `input` into the buffer (`n <= input.len()`).
    pub(crate) fn push_from(&mut self, input: &mut BytesMut, n: usize, zero_copy_threshold: usize) {
        let n = n.min(input.len());
        if n == 0 {
            return;
        }
        if n >= zero_copy_threshold {
            if !self.tail.is_empty() {
                self.segments.push_back(self.tail.split().freeze());
            }
            self.segments.push_back(input.split_to(n).freeze());
        } else {
            if let Some(chunk) = input.get(..n) {
                self.tail.extend_from_slice(chunk);
            }
            input.advance(n);
        }
        self.len += n;
    }

    /// Copies up to `out.len()` bytes out, returning how many.
    pub(crate) fn read(&mut self, out: &mut [u8]) -> usize {
        let mut copied = 0;
        while copied < out.len() {
            let Some(dst) = out.get_mut(copied..) else {
                break;
            };
            if let Some(front) = self.segments.front_mut() {
                let n = front.len().min(dst.len());
                if let (Some(d), Some(s)) = (dst.get_mut(..n), front.get(..n)) {
                    d.copy_from_slice(s);
                }
                front.advance(n);
                if front.is_empty() {
                    self.segments.pop_front();
                }
                copied += n;
            } else if !self.tail.is_empty() {
                let n = self.tail.len().min(dst.len());
                if let (Some(d), Some(s)) = (dst.get_mut(..n), self.tail.get(..n)) {
                    d.copy_from_slice(s);
                }
                self.tail.advance(n);
                copied += n;
            } else {
                break;
            }
        }
        self.len -= copied;
        copied
    }

    /// Takes up to `max` bytes (`max > 0`) as one slice, without copying.
    pub(crate) fn read_chunk(&mut self, max: usize) -> Bytes {
        let chunk = if let Some(front) = self.segments.front_mut() {
            if front.len() <= max {
                self.segments.pop_front().unwrap_or_default()
            } else {
                front.split_to(max)
            }
        } else {
            let n = self.tail.len().min(max);
            self.tail.split_to(n).freeze()
        };
        self.len -= chunk.len();
        chunk
    }

    pub(crate) fn clear(&mut self) {
        *self = RecvBuf::default();
    }
}

/// One stream's state inside a session.
#[derive(Debug)]
pub(crate) struct StreamState {
    /// Opened by this side.
    pub(crate) outbound: bool,
    /// Outbound: the peer's ACK arrived. Inbound: the application accepted it and we sent ACK.
    pub(crate) acked: bool,
    /// Bytes we may still send.
    pub(crate) send_window: u32,
    /// We sent FIN.
    pub(crate) send_closed: bool,
    /// The peer sent FIN.
    pub(crate) recv_closed: bool,
    pub(crate) reset: Option<ResetBy>,
    /// Bytes the peer may still send (the credit we granted and it has not used).
    pub(crate) recv_window: u32,
    /// The window size we aim to keep open; grows by auto-tuning.
    pub(crate) recv_window_max: u32,
    pub(crate) buf: RecvBuf,
    /// When the current auto-tuning epoch began (last window update, or first data).
    pub(crate) epoch_start: Option<Instant>,
    /// The application found the buffer empty during this epoch: it reads faster than data
    /// arrives, so the window (not the reader) may be the bottleneck.
    pub(crate) starved: bool,
    /// A `StreamReadable` event is queued and not yet polled.
    pub(crate) readable_queued: bool,
    /// A `StreamWritable` event is queued and not yet polled.
    pub(crate) writable_queued: bool,
    /// A write returned "would block" and no `StreamWritable` was emitted since.
    pub(crate) write_blocked: bool,
}

impl StreamState {
    pub(crate) fn new(outbound: bool, initial_window: u32) -> Self {
        StreamState {
            outbound,
            acked: false,
            send_window: initial_window,
            send_closed: false,
            recv_closed: false,
            reset: None,
            recv_window: initial_window,
            recv_window_max: initial_window,
            buf: RecvBuf::default(),
            epoch_start: None,
            starved: false,
            readable_queued: false,
            writable_queued: false,
            write_blocked: false,
        }
    }

    /// Bytes read by the application that the peer has not been credited for yet.
    pub(crate) fn uncredited(&self) -> u32 {
        let buffered = u32::try_from(self.buf.len()).unwrap_or(u32::MAX);
        self.recv_window_max
            .saturating_sub(self.recv_window)
            .saturating_sub(buffered)
    }

    /// The receive direction is finished from the application's point of view.
    pub(crate) fn recv_finished(&self) -> bool {
        self.recv_closed && self.buf.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recv_buf_mixes_zero_copy_and_copied_chunks() {
        let mut buf = RecvBuf::default();
        let mut input = BytesMut::from(&b"abcdefghij"[..]);
        buf.push_from(&mut input, 2, 4); // copied
        buf.push_from(&mut input, 5, 4); // zero-copy
        buf.push_from(&mut input, 3, 4); // copied
        assert!(input.is_empty());
        assert_eq!(buf.len(), 10);
        let mut out = [0u8; 4];
        assert_eq!(buf.read(&mut out), 4);
        assert_eq!(&out, b"abcd");
        assert_eq!(&buf.read_chunk(2)[..], b"ef");
        assert_eq!(&buf.read_chunk(100)[..], b"g");
        let mut out = [0u8; 16];
        assert_eq!(buf.read(&mut out), 3);
        assert_eq!(&out[..3], b"hij");
        assert_eq!(buf.read(&mut out), 0);
        assert_eq!(buf.len(), 0);
    }
}
