//! # peernet-devp2p
//!
//! Ethereum's devp2p: the RLPx transport (ECIES handshake, authenticated encrypted framing,
//! snappy) and go-ethereum's Peer / Protocol model, wire-compatible with Ethereum nodes
//! (specifications: ethereum/devp2p `rlpx.md` and EIP-8).
//!
//! ## Layout
//!
//! Two rooms, one layer above the other; the upper imports the lower, never the reverse.
//!
//! `src/proto/`: the wire protocol as sans-IO state machines and codecs (no runtime, no sockets,
//! no clock, no awaiting; bytes in, bytes out; randomness and time are passed in). CI greps the
//! folder to keep it that way. Lowest first; each module imports only the ones above it:
//!
//! | module | what | error |
//! |---|---|---|
//! | [`rlp`] | RLP encoding, strict zero-copy decoding | [`rlp::RlpError`] |
//! | proto::node | [`NodeId`], [`Enode`] (`enode://id@ip:port`), key validation | [`NodeError`] |
//! | proto::ecies | RLPx's ECIES ([`ecies_encrypt`], [`ecies_decrypt`]) | [`EciesError`] |
//! | proto::caps | [`Cap`], [`match_protocols`]: offsets from [`BASE_PROTOCOL_LENGTH`] in name order | — |
//! | proto::message | [`Hello`], Disconnect and [`DiscReason`], Ping/Pong codes | [`MessageError`] |
//! | proto::handshake | [`Handshake`]: auth/ack (EIP-8 and legacy), [`Secrets`] | [`HandshakeError`] |
//! | proto::frame | [`FrameWriter`] / [`FrameReader`]: AES-256-CTR, keccak MACs, snappy | [`FrameError`], [`SnappyError`] |
//!
//! `src/conn.rs`, `src/peer.rs`, `src/server.rs`: the tokio drivers, with go-ethereum's names.
//! They own the sockets, timers and tasks and pump bytes through `proto`:
//!
//! | module | what | error |
//! |---|---|---|
//! | conn | bytes through the handshake and codec; the Hello exchange | [`SetupError`] |
//! | peer | [`Peer`] (run loop, `read_loop`, `ping_loop`, one write at a time), [`Protocol`], [`ProtoRw`] | [`RwError`], [`RunError`] |
//! | server | [`Server`]: listen, dial, setup checkpoints, limits, [`ServerEvent`]s | [`ServerError`] |
//!
//! ## Errors
//!
//! Every error type answers `fault()` ([`peernet_core::Fault`]: the remote, us, one of our
//! limits, or the network). An error's `Display` describes its own layer; its cause is its
//! `source()`: print the chain with [`peernet_core::error::Chain`].
//!
//! A connection goes: TCP → [`Handshake`] (timeout) → checks (self, too many peers, already
//! connected) → Hello exchange (timeout; identity and version checks; snappy from p2p v5) →
//! [`match_protocols`] (none shared: "useless peer") → [`Peer`] runs each shared [`Protocol`] in its
//! own task. Every failure ends with a typed error and, where one applies, a [`DiscReason`]
//! sent to the remote.
//!
//! ```no_run
//! use peernet_devp2p::{Config, Protocol, Server, SecretKey};
//!
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! let echo = Protocol::new("echo", 1, 2, |_peer, mut rw| async move {
//!     loop {
//!         let msg = rw.read().await?;
//!         if msg.code == 0 {
//!             rw.write(1, &msg.payload).await?;
//!         }
//!     }
//! });
//! let key = SecretKey::random(&mut rand::thread_rng());
//! let server = Server::listen(Config::new(key).protocol(echo), "127.0.0.1:0".parse()?).await?;
//! if let Some(enode) = server.local_enode() {
//!     println!("{enode}");
//! }
//! # Ok(()) }
//! ```
#![cfg_attr(
    not(test),
    warn(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)
)]

mod proto;

mod conn;
mod peer;
mod server;

pub use proto::caps::{match_protocols, Cap, SharedCap, BASE_PROTOCOL_LENGTH};
pub use proto::ecies::{
    decrypt as ecies_decrypt, encrypt as ecies_encrypt, EciesError, ECIES_OVERHEAD,
};
pub use proto::frame::{
    decompress, session, FrameError, FrameReader, FrameWriter, RawMessage, SnappyError, HEADER_LEN,
    MAX_FRAME_SIZE, MAX_MESSAGE_SIZE,
};
pub use proto::handshake::{
    read_ack, read_auth, AckMessage, AuthMessage, Handshake, HandshakeError, HandshakeForm, Role,
    Secrets, HANDSHAKE_VERSION, LEGACY_ACK_LEN, LEGACY_AUTH_LEN,
};
pub use proto::message::{
    check_hello, decode_disconnect, encode_disconnect, DiscReason, Hello, MessageError,
    BASE_PROTOCOL_VERSION, DISC_MSG, HELLO_MSG, MAX_CAPS, MAX_HELLO_SIZE, PING_MSG, PONG_MSG,
    SNAPPY_PROTOCOL_VERSION,
};
pub use proto::node::{Enode, NodeError, NodeId};
pub use proto::rlp;

pub use conn::SetupError;
pub use peer::{Msg, Peer, PeerExit, ProtoRw, Protocol, RunError, RwError};
pub use server::{Config, Server, ServerError, ServerEvent};

/// secp256k1 secret keys (node keys), from the `k256` crate.
pub use k256::SecretKey;
