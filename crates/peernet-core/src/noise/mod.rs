//! Noise: the `Noise_XX_25519_ChaChaPoly_SHA256` handshake and transport of libp2p's `/noise`
//! security protocol (libp2p/specs `noise/README.md`, the Noise Protocol Framework rev. 34).
//!
//! Layout:
//! - `symmetric`: the framework's `CipherState` and `SymmetricState` (ring's ChaCha20-Poly1305,
//!   SHA-256 and HMAC);
//! - `xx`: the XX pattern as typed states, one struct per step, each transition consuming the
//!   previous state;
//! - [`Transport`], [`Sender`], [`Receiver`]: the transport phase with 2-byte length framing;
//!
//! Nothing here performs I/O: bytes go in, bytes come out; the tokio driver lives in the
//! `peernet` crate.

mod error;
mod symmetric;
mod transport;
mod xx;

#[cfg(test)]
mod vectors;

pub use error::NoiseError;
pub use symmetric::TAG_LEN;
pub use transport::{
    message_len, Receiver, Sender, Transport, LENGTH_PREFIX_LEN, MAX_FRAME_LEN, MAX_MESSAGE_LEN,
    MAX_PLAINTEXT_LEN,
};
