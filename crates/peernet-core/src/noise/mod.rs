//! Noise: the `Noise_XX_25519_ChaChaPoly_SHA256` handshake and transport of libp2p's `/noise`
//! security protocol (libp2p/specs `noise/README.md`, the Noise Protocol Framework rev. 34).
//!
//! Layout:
//! - `symmetric`: the framework's `CipherState` and `SymmetricState` (ring's ChaCha20-Poly1305,
//!   SHA-256 and HMAC);
//! - `xx`: the XX pattern as typed states, one struct per step, each transition consuming the
//!   previous state;
//! - [`NoiseHandshakePayload`]: the libp2p handshake payload protobuf with its size caps;
//! - [`Handshake`]: the libp2p handshake (identity payloads, signature checks, peer id check,
//!   inlined muxer negotiation) as a bytes-in/bytes-out state machine ending in a [`Transport`];
//! - [`Transport`], [`Sender`], [`Receiver`]: the transport phase with 2-byte length framing;
//! - `vectors` (tests): the cacophony `Noise_XX_25519_ChaChaPoly_SHA256` vector, byte for byte.
//!
//! Only what libp2p uses is implemented: the XX pattern with an empty prologue for libp2p (the
//! framework itself takes any prologue), no `Rekey()` (libp2p never rekeys; a direction closes
//! with [`NoiseError::NonceExhausted`] after 2^64 - 1 messages), no IK / Noise Pipes (removed from
//! the libp2p spec). All-zero X25519 results (low-order remote keys) are refused with
//! [`NoiseError::LowOrderKey`].
//!
//! Nothing here performs I/O: bytes go in, bytes come out; the tokio driver lives in the
//! `peernet` crate.

mod error;
#[doc(hidden)]
pub mod fuzzing;
mod handshake;
mod payload;
mod symmetric;
mod transport;
mod xx;

#[cfg(test)]
mod vectors;

pub use error::NoiseError;
pub use handshake::{Handshake, RemoteInfo, STATIC_KEY_SIGNATURE_PREFIX};
pub use payload::{
    NoiseExtensions, NoiseHandshakePayload, MAX_CERTHASH_LEN, MAX_EXTENSION_ENTRIES,
    MAX_IDENTITY_KEY_LEN, MAX_IDENTITY_SIG_LEN, MAX_MUXER_NAME_LEN,
};
pub use symmetric::TAG_LEN;
pub use transport::{
    message_len, Receiver, Sender, Transport, LENGTH_PREFIX_LEN, MAX_FRAME_LEN, MAX_MESSAGE_LEN,
    MAX_PLAINTEXT_LEN,
};
