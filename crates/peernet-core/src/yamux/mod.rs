//! yamux, the stream multiplexer of libp2p (`/yamux/1.0.0`), as a sans-IO state machine.
//!
//! Specs: hashicorp `yamux/spec.md` and libp2p `specs/yamux/README.md` (which adds the ACK
//! backlog of 256). Behaviour the specs leave open follows go-yamux, the implementation most
//! of the network runs: receive-window auto-tuning, accepting a stream sends its ACK, a SYN
//! beyond the accept backlog is refused with RST.
//!
//! - [`Header`] and friends: the 12-byte frame header.
//! - [`Session`]: the connection state machine. Bytes go in through
//!   [`Session::handle_input`], bytes come out of [`Session::poll_transmit`], time enters through
//!   [`Session::handle_timeout`], and the application works with stream ids.
//! - [`Config`]: limits, documented with the memory a hostile peer can make us hold.
//! - [`YamuxError`]: every failure, naming who is at fault.
//!
//! # Data path and copies
//!
//! Receiving: the driver reads into a `BytesMut`; `handle_input` splits large payloads off it as
//! reference-counted slices (no copy) into the stream's queue; [`Session::read`] copies them into
//! the application's buffer. Sending: [`Session::write`] encodes header and payload straight into
//! the transmit buffer (one copy), which `poll_transmit` hands over by swapping buffers, so many
//! frames of many streams leave in one write call.
//!
//! # Security notes
//!
//! Immune by construction and by regression test to: unbounded pending frames (rust-yamux
//! GHSA-3999-5ffv-wp2r), window-update overflow (CVE-2026-31814), oversized data on a SYN frame
//! (GHSA-vxx9-2994-q338) and stream-open floods (go-libp2p GHSA-j7qp-mfxf-8xjw). See [`Config`]
//! for the resulting memory bounds.

mod config;
mod error;
mod frame;
mod session;
mod stream;

#[cfg(test)]
mod tests;

pub use config::{Config, INITIAL_WINDOW};
pub use error::YamuxError;
pub use frame::{Flags, FrameType, GoAwayCode, Header, HEADER_LEN, VERSION};
pub use session::{Event, Role, Session, StreamId};

/// The multistream-select protocol id of yamux.
pub const PROTOCOL_ID: &str = "/yamux/1.0.0";
