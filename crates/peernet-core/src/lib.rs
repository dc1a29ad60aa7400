//! # peernet-core
//!
//! The sans-IO half of peernet. Every type in this crate is a value or a state machine over
//! bytes: no sockets, no tasks, no clock. Time enters as an `Instant` argument, randomness as an
//! RNG argument or from the caller. The tokio drivers in the `peernet` crate pump bytes through
//! these machines; tests drive them directly with byte vectors and simulated time.
//!
//! What lives here:
//! - [`identity`]: key pairs (Ed25519, secp256k1, ECDSA P-256; RSA verification), their protobuf
//!   encodings, [`PeerId`], signed envelopes and peer records;
//! - [`multiaddr`]: [`Multiaddr`] with the whole go-multiaddr protocol table;
//! - [`multistream`]: multistream-select 1.0, dialer and listener;
//! - [`noise`]: the Noise XX handshake and transport of libp2p's `/noise` security protocol;
//! - [`identify`]: the identify and identify push message codec;
//! - [`ping`] and [`perf`]: the ping and perf protocols;
//! - [`plaintext`]: the `/plaintext/2.0.0` handshake (tests and interop only);
//! - [`error`]: [`Fault`] (who was at fault for an error; every error type says) and the
//!   one-line [`Chain`](error::Chain) of an error's causes;
//! - [`dial`]: the dialer's planning core — address ranking, per-peer dial workers, dial limits,
//!   backoff and black hole detection (go-libp2p's swarm dialer without its goroutines);
//! - [`tls`]: libp2p TLS 1.3 certificates, verifiers and rustls configurations;
//! - [`varint`]: unsigned varints and length-prefixed framing;
//! - [`yamux`]: the yamux stream multiplexer as a sans-IO session.
//!
//! # The driver contract
//!
//! Every state machine here speaks the same words to the driver that owns its socket (quinn-proto's
//! words), so that a driver written for one reads like a driver written for another:
//!
//! | method | the driver calls it | what it does |
//! |---|---|---|
//! | `handle_input(…)` | with bytes read from the connection | consumes what belongs to the machine and says how much (or, for the plaintext handshake, looks at everything received so far) |
//! | `poll_transmit(buf)` | after every other call, until it adds nothing | appends the bytes to send to `buf` |
//! | `wants_input()` / `wants_transmit()` | to decide whether to read or write | says whether the machine waits for input / has output |
//! | `handle_timeout(now)` | when the instant from `poll_timeout` has come | runs timers (keep-alives, dial delays, deadlines) |
//! | `poll_timeout()` | after every call | the next instant the machine needs `handle_timeout` at, if any |
//! | `poll_event()` | after every call, until `None` | the next thing that happened (a stream opened, a dial to start) |
//!
//! `now` is always an argument: a machine never reads the clock, so tests run it on simulated
//! time. `poll_event` and `poll_timeout` (and the `wants_*` questions) are `#[must_use]`: a
//! dropped event or deadline is a hung connection; `poll_transmit`'s bytes land in `buf`. An error returned by `handle_input` or `handle_timeout` is final for the machine
//! unless its type says otherwise ([`yamux::YamuxError`] separates stream from session errors).
#![cfg_attr(
    not(test),
    warn(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)
)]

pub mod dial;
pub mod error;
pub mod identify;
pub mod identity;
pub mod multiaddr;
pub mod multistream;
pub mod noise;
pub mod perf;
pub mod ping;
pub mod plaintext;
pub(crate) mod protobuf;
pub mod tls;
pub mod varint;
pub mod yamux;

pub use error::Fault;
pub use identity::{KeyType, Keypair, PeerId, PublicKey};
pub use multiaddr::{AddrInfo, Multiaddr, MultiaddrError, Protocol, TransportKind};
pub use protobuf::ProtobufError;
