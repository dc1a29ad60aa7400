//! [`NoiseError`]: everything that can end a Noise handshake or session, with who was at fault.

use crate::identity::KeyError;
use crate::{PeerId, ProtobufError};

/// Why a Noise handshake or a Noise transport frame failed.
///
/// Each variant's documentation names the party at fault: the **remote peer** (or an on-path
/// attacker, which a receiver cannot tell apart from the peer), the **local** caller (API misuse),
/// or neither (a limit was reached). After any error the handshake or the session is unusable and
/// the connection should be closed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NoiseError {
    /// Remote at fault: a handshake message is shorter than its pattern requires (keys and tags).
    #[error("noise handshake message {message} is {len} bytes, shorter than the {min} it needs")]
    MessageTooShort {
        /// Which XX message (1, 2 or 3).
        message: u8,
        /// Its length.
        len: usize,
        /// The least length it could have.
        min: usize,
    },
    /// Remote at fault (or an on-path attacker): a ciphertext did not authenticate under the
    /// session key — tampered, truncated, replayed, or encrypted with another key.
    #[error("noise message failed to decrypt (authentication tag mismatch)")]
    Decrypt,
    /// Remote at fault: a Diffie-Hellman result was all zeros, i.e. the peer sent a low-order
    /// X25519 public key that would make the shared secret predictable.
    #[error("remote sent a low-order X25519 public key")]
    LowOrderKey,
    /// Remote at fault: a frame's length prefix announces fewer bytes than an authentication tag.
    #[error("noise transport frame of {0} bytes is shorter than the 16-byte tag")]
    FrameTooShort(usize),
    /// Remote at fault: the handshake payload is not a valid `NoiseHandshakePayload` protobuf,
    /// repeats a singular field, or a field exceeds its size cap; the inner error says which.
    #[error("malformed noise handshake payload")]
    MalformedPayload(#[from] ProtobufError),
    /// Remote at fault: the payload's extensions list more than 100 entries in one field, or
    /// announce a stream muxer whose name is not UTF-8.
    #[error("invalid noise extensions: {0}")]
    InvalidExtensions(&'static str),
    /// Remote at fault: the handshake payload carries no identity key or no signature.
    #[error("noise handshake payload lacks the {0} field")]
    MissingPayloadField(&'static str),
    /// Remote at fault: the identity key in the payload is not a valid libp2p public key.
    #[error("remote identity key is invalid")]
    InvalidIdentityKey(#[source] KeyError),
    /// Remote at fault: the payload's signature over `"noise-libp2p-static-key:"` and the Noise
    /// static key does not verify under the announced identity key.
    #[error("remote's signature over its noise static key is invalid")]
    InvalidSignature,
    /// Remote at fault, or the local address book is stale: the remote proved an identity other
    /// than the one the local side dialed.
    #[error("remote is {actual}, but {expected} was expected")]
    PeerIdMismatch {
        /// The peer id the local side dialed.
        expected: PeerId,
        /// The peer id the remote proved.
        actual: PeerId,
    },
    /// Local misuse: a payload or plaintext does not fit in one 65535-byte Noise message.
    #[error("{len} bytes do not fit in one noise message (at most {max})")]
    PayloadTooLarge {
        /// The length that was offered.
        len: usize,
        /// The most that fits.
        max: usize,
    },
    /// Neither side at fault: 2^64 - 1 messages were sent or received with one key; the session
    /// must be closed (the Noise spec forbids nonce reuse and libp2p defines no rekeying).
    #[error("noise nonce space exhausted")]
    NonceExhausted,
    /// Local misuse: a method was called in a state where it has no meaning (for example
    /// finishing a handshake that is still in progress, or feeding input after a failure).
    #[error("noise API misuse: {0}")]
    Misuse(&'static str),
}

impl NoiseError {
    /// Who was at fault, as each variant's documentation says.
    pub fn fault(&self) -> crate::error::Fault {
        use crate::error::Fault;
        match self {
            NoiseError::MessageTooShort { .. }
            | NoiseError::Decrypt
            | NoiseError::LowOrderKey
            | NoiseError::FrameTooShort(_)
            | NoiseError::MalformedPayload(_)
            | NoiseError::InvalidExtensions(_)
            | NoiseError::MissingPayloadField(_)
            | NoiseError::InvalidIdentityKey(_)
            | NoiseError::InvalidSignature
            | NoiseError::PeerIdMismatch { .. } => Fault::Remote,
            NoiseError::PayloadTooLarge { .. } | NoiseError::Misuse(_) => Fault::Local,
            NoiseError::NonceExhausted => Fault::Limit,
        }
    }

    /// `(expected, actual)` when the remote proved another peer than the one dialed.
    pub fn peer_id_mismatch(&self) -> Option<(&PeerId, &PeerId)> {
        match self {
            NoiseError::PeerIdMismatch { expected, actual } => Some((expected, actual)),
            _ => None,
        }
    }
}
