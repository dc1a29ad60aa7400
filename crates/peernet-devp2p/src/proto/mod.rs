//! The RLPx / devp2p wire protocol as sans-IO state machines and codecs.
//!
//! Everything in this folder is bytes in, bytes out: no runtime, no sockets, no clock, no
//! awaiting. Randomness is passed in (`rng` arguments) and so is time, where it matters, so every
//! module can be driven byte by byte from a test or a fuzzer. The drivers one level up
//! (`conn.rs`, `peer.rs`, `server.rs`) own the sockets, the timers and the tasks and pump bytes
//! through these types. A CI check greps this folder for the runtime, the socket module and the
//! clock calls: keep them out, comments included. Address types come from `core::net`: they are
//! plain values.
//!
//! Layer order, lowest first (a module imports only modules above it in this list):
//!
//! | module | what |
//! |---|---|
//! | `rlp` | RLP encoding, strict zero-copy decoding |
//! | `node` | node ids, `enode://` URLs, key validation |
//! | `ecies` | RLPx's ECIES (the handshake's encryption) |
//! | `caps` | capabilities, their matching, the message code space ([`caps::BASE_PROTOCOL_LENGTH`]) |
//! | `message` | the "p2p" base protocol: Hello, Disconnect and its reasons, Ping / Pong |
//! | `handshake` | the auth / ack state machine and the session [`handshake::Secrets`] |
//! | `frame` | the session codec: AES-CTR, keccak MACs, snappy |
//!
//! # The driver contract
//!
//! - **Handshake**: send what [`Handshake::take_outgoing`](handshake::Handshake::take_outgoing)
//!   returns; append everything received to one buffer and pass the whole buffer to
//!   [`Handshake::read`](handshake::Handshake::read) until it returns `Some(n)`; the bytes after
//!   `n` are already framed data and belong to the frame reader. `read` decides within
//!   2 + 65535 bytes, so the buffer is bounded; the driver bounds the time.
//! - **Frames**: [`frame::session`] splits the secrets into a writer and a reader that are used
//!   independently (one per direction). [`FrameReader::decode`](frame::FrameReader::decode)
//!   consumes nothing until a whole frame is in; the driver drops the bytes it reports used.
//! - **Errors**: every error is final for the connection; the driver maps it to a
//!   [`DiscReason`](message::DiscReason) where one applies and asks the error's `fault()` whose
//!   fault it was.
//! - **Nothing panics** on any input: every type here is fed untrusted bytes.

pub mod rlp;

pub(crate) mod caps;
pub(crate) mod ecies;
pub(crate) mod frame;
pub(crate) mod handshake;
pub(crate) mod message;
pub(crate) mod node;
