//! Identities: key pairs, public keys and their protobuf encodings, peer ids, signed envelopes
//! and peer records (libp2p/specs `peer-ids/peer-ids.md`, RFC 0002, RFC 0003).
//!
//! ```
//! use peernet_core::identity::{PeerRecord, SignedEnvelope};
//! use peernet_core::{Keypair, PeerId, PublicKey};
//!
//! let keypair = Keypair::generate_ed25519();
//! let peer_id: PeerId = keypair.to_peer_id();
//! assert!(peer_id.to_base58().starts_with("12D3KooW"));
//!
//! // Keys travel as protobuf; Ed25519 keys are also inlined in the peer id.
//! let public = PublicKey::from_protobuf_encoding(&keypair.public().to_protobuf_encoding())?;
//! assert_eq!(peer_id.to_public_key(), Some(public.clone()));
//! assert!(public.verify(b"hello", &keypair.sign(b"hello")));
//!
//! // A signed peer record, as identify and the DHT exchange them.
//! let record = PeerRecord { peer_id: peer_id.clone(), seq: 1, addresses: vec![] };
//! let bytes = record.seal(&keypair)?.to_protobuf_encoding();
//! let (opened, envelope) = PeerRecord::open(&bytes)?;
//! assert_eq!(opened, record);
//! assert_eq!(envelope.signer(), peer_id);
//!
//! // Generic envelopes are bound to a domain.
//! let env = SignedEnvelope::seal(&keypair, "my-app", b"/my/type", b"data")?;
//! assert!(SignedEnvelope::open(&env.to_protobuf_encoding(), "other-app").is_err());
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod der;
mod envelope;
mod keys;
mod peer_id;
mod peer_record;

pub use envelope::{EnvelopeError, SignedEnvelope, MAX_ENVELOPE_SIZE};
pub use keys::{KeyError, KeyType, Keypair, PublicKey, MAX_RSA_BITS, MIN_RSA_BITS};
pub use peer_id::{PeerId, PeerIdError};
pub use peer_record::{PeerRecord, PeerRecordError, PeerRecordFormat};

#[cfg(test)]
mod tests;
