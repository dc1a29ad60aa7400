//! Identities: key pairs, public keys and their protobuf encodings, peer ids, signed envelopes
//! and peer records (libp2p/specs `peer-ids/peer-ids.md`, RFC 0002, RFC 0003).

mod peer_id;

pub use peer_id::{PeerId, PeerIdError};
