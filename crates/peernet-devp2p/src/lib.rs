//! # peernet-devp2p
//!
//! Ethereum's devp2p: the RLPx transport (ECIES handshake, authenticated encrypted framing,
//! snappy) and go-ethereum's Peer / Protocol model, wire-compatible with Ethereum nodes.
//!
//! The protocol cores are sans-IO state machines over bytes: [`rlp`], [`Handshake`],
//! [`FrameWriter`] / [`FrameReader`], the base protocol messages ([`Hello`], [`DiscReason`]) and
//! capability matching ([`match_caps`]). The tokio driver is [`Server`] (listen, dial, limits,
//! events) and [`Peer`], which runs the [`Protocol`]s shared with a remote node, each reading and
//! writing its messages through a [`ProtoRw`].
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

mod caps;
mod ecies;
mod frame;
mod handshake;
mod message;
mod node;
pub mod rlp;

mod conn;
mod peer;
mod server;

pub use caps::{match_caps, Cap, SharedCap};
pub use ecies::{decrypt as ecies_decrypt, encrypt as ecies_encrypt, EciesError, ECIES_OVERHEAD};
pub use frame::{
    decompress, session, FrameError, FrameReader, FrameWriter, RawMessage, HEADER_LEN,
    MAX_FRAME_SIZE, MAX_MESSAGE_SIZE,
};
pub use handshake::{
    read_ack, read_auth, AckMessage, AuthMessage, Handshake, HandshakeError, HandshakeForm, Role,
    Secrets, HANDSHAKE_VERSION, LEGACY_ACK_LEN, LEGACY_AUTH_LEN,
};
pub use message::{
    check_hello, decode_disconnect, encode_disconnect, DiscReason, Hello, MessageError,
    BASE_PROTOCOL_LENGTH, BASE_PROTOCOL_VERSION, DISC_MSG, HELLO_MSG, MAX_CAPS, PING_MSG, PONG_MSG,
    SNAPPY_PROTOCOL_VERSION,
};
pub use node::{Enode, NodeError, NodeId};

pub use conn::SetupError;
pub use peer::{Msg, Peer, PeerExit, ProtoRw, Protocol, RunError, RwError};
pub use server::{Config, Server, ServerError, ServerEvent};

/// secp256k1 secret keys (node keys), from the `k256` crate.
pub use k256::SecretKey;
