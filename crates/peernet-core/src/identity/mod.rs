//! Identities: key pairs, public keys and their protobuf encodings, peer ids, signed envelopes
//! and peer records (libp2p/specs `peer-ids/peer-ids.md`, RFC 0002, RFC 0003).

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
