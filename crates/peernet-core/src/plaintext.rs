//! The `/plaintext/2.0.0` "security" handshake (libp2p/specs `plaintext/README.md`): both peers
//! send their peer id and public key, unencrypted and unauthenticated. For tests and interop
//! only; it MUST NOT be used in production.
//!
//! [`Handshake`] is sans-IO, in the words of the [driver contract](crate#the-driver-contract):
//! send what [`Handshake::poll_transmit`] hands over, buffer what the remote sends, and call
//! [`Handshake::handle_input`] on the buffer until it returns the remote's identity. Bytes after
//! the handshake message belong to the application.
//!
//! ```
//! use peernet_core::plaintext::Handshake;
//! use peernet_core::Keypair;
//!
//! let (alice, bob) = (Keypair::ed25519_from_seed(1), Keypair::ed25519_from_seed(2));
//! // Alice dials Bob, so she knows his peer id; Bob learns hers.
//! let mut dialer = Handshake::new(&alice, Some(bob.to_peer_id()));
//! let mut listener = Handshake::new(&bob, None);
//! let (mut to_bob, mut to_alice) = (Vec::new(), Vec::new());
//! dialer.poll_transmit(&mut to_bob);
//! listener.poll_transmit(&mut to_alice);
//! let seen_by_bob = listener.handle_input(&to_bob).unwrap().expect("whole message");
//! let seen_by_alice = dialer.handle_input(&to_alice).unwrap().expect("whole message");
//! assert_eq!(seen_by_bob.peer_id, alice.to_peer_id());
//! assert_eq!(seen_by_alice.peer_id, bob.to_peer_id());
//! assert_eq!(seen_by_alice.consumed, to_alice.len());
//! ```

use crate::identity::{KeyError, Keypair, PeerId, PeerIdError, PublicKey};
use crate::protobuf::{self, ProtobufError, Reader, Writer};
use crate::varint::{self, FrameError};

/// The protocol id negotiated with multistream-select.
pub const PROTOCOL_NAME: &str = "/plaintext/2.0.0";

/// Largest `Exchange` message accepted (without its length prefix). The largest legitimate one
/// carries an RSA-8192 key: about 1.1 KB.
pub const MAX_EXCHANGE_SIZE: usize = 4096;

/// Protobuf field numbers of `Exchange`.
const FIELD_ID: u32 = 1;
const FIELD_PUBKEY: u32 = 2;

/// Why the plaintext handshake failed. The connection must be closed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PlaintextError {
    /// The length prefix is malformed or announces more than [`MAX_EXCHANGE_SIZE`]. The remote
    /// is at fault.
    #[error("bad Exchange framing")]
    Frame(#[from] FrameError),
    /// The `Exchange` protobuf is malformed or lacks a field. The remote is at fault.
    #[error("malformed Exchange")]
    Protobuf(#[from] ProtobufError),
    /// The `id` field is not a valid peer id. The remote is at fault.
    #[error("invalid peer id in Exchange")]
    PeerId(#[from] PeerIdError),
    /// The `pubkey` field is not a valid public key. The remote is at fault.
    #[error("invalid public key in Exchange")]
    PublicKey(#[from] KeyError),
    /// The `id` field is not the peer id of the `pubkey` field. The remote is at fault.
    #[error("remote claims peer id {claimed} but its key gives {derived}")]
    IdKeyMismatch {
        /// The id the remote sent.
        claimed: PeerId,
        /// The id of the key the remote sent.
        derived: PeerId,
    },
    /// The remote is not the peer we dialed. The remote is at fault (or the address we dialed
    /// now belongs to another peer).
    #[error("dialed {expected} but reached {actual}")]
    UnexpectedPeer {
        /// The peer we meant to reach.
        expected: PeerId,
        /// The peer that answered.
        actual: PeerId,
    },
}

impl PlaintextError {
    /// Always the remote's: everything here is what it sent.
    pub fn fault(&self) -> crate::error::Fault {
        match self {
            PlaintextError::Frame(_)
            | PlaintextError::Protobuf(_)
            | PlaintextError::PeerId(_)
            | PlaintextError::PublicKey(_)
            | PlaintextError::IdKeyMismatch { .. }
            | PlaintextError::UnexpectedPeer { .. } => crate::error::Fault::Remote,
        }
    }
}

/// The `Exchange` message: a peer id and the public key it derives from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Exchange {
    /// The sender's peer id (binary multihash on the wire).
    pub id: PeerId,
    /// The sender's public key.
    pub pubkey: PublicKey,
}

impl Exchange {
    /// The message announcing `key` and its peer id.
    pub fn new(key: &PublicKey) -> Exchange {
        Exchange {
            id: key.to_peer_id(),
            pubkey: key.clone(),
        }
    }

    /// The protobuf encoding (without length prefix).
    pub fn to_protobuf_encoding(&self) -> Vec<u8> {
        let mut out = Vec::new();
        let mut w = Writer::new(&mut out);
        w.bytes(FIELD_ID, self.id.as_bytes());
        w.bytes(FIELD_PUBKEY, &self.pubkey.to_protobuf_encoding());
        out
    }

    /// Parses the protobuf encoding. Both fields are required (the spec marks them optional,
    /// but a message without either cannot be checked). The id is not yet checked against
    /// the key: see [`Exchange::verify`].
    pub fn from_protobuf_encoding(bytes: &[u8]) -> Result<Exchange, PlaintextError> {
        let mut reader = Reader::new(bytes);
        let mut id = None;
        let mut pubkey = None;
        while let Some(field) = reader.next_field()? {
            match field.number {
                FIELD_ID => protobuf::set_once(&mut id, FIELD_ID, field.bytes(MAX_EXCHANGE_SIZE)?)?,
                FIELD_PUBKEY => {
                    protobuf::set_once(&mut pubkey, FIELD_PUBKEY, field.bytes(MAX_EXCHANGE_SIZE)?)?
                }
                _ => {}
            }
        }
        let id = id.ok_or(ProtobufError::MissingField("id"))?;
        let pubkey = pubkey.ok_or(ProtobufError::MissingField("pubkey"))?;
        Ok(Exchange {
            id: PeerId::from_bytes(id)?,
            pubkey: PublicKey::from_protobuf_encoding(pubkey)?,
        })
    }

    /// Checks that the id is the key's peer id.
    pub fn verify(&self) -> Result<(), PlaintextError> {
        let derived = self.pubkey.to_peer_id();
        if derived != self.id {
            return Err(PlaintextError::IdKeyMismatch {
                claimed: self.id.clone(),
                derived,
            });
        }
        Ok(())
    }
}

/// The remote's identity, once its `Exchange` is received and checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RemoteIdentity {
    /// The remote's public key.
    pub public_key: PublicKey,
    /// The remote's peer id (derived from the key).
    pub peer_id: PeerId,
    /// How many bytes of the input the handshake message took; what follows is application
    /// data.
    pub consumed: usize,
}

/// One side of a plaintext handshake.
#[derive(Debug, Clone)]
pub struct Handshake {
    local: Exchange,
    expected_remote: Option<PeerId>,
    /// Our `Exchange` was handed to the driver.
    sent: bool,
}

impl Handshake {
    /// A handshake announcing `keypair`'s public key. A dialer passes the peer id it dialed as
    /// `expected_remote`; a listener passes `None`.
    pub fn new(keypair: &Keypair, expected_remote: Option<PeerId>) -> Handshake {
        Handshake {
            local: Exchange::new(keypair.public()),
            expected_remote,
            sent: false,
        }
    }

    /// Appends our `Exchange` message with its varint length prefix to `buf`, to send right
    /// away; once (later calls append nothing).
    pub fn poll_transmit(&mut self, buf: &mut Vec<u8>) {
        if !self.sent {
            self.sent = true;
            varint::put_frame(&self.local.to_protobuf_encoding(), buf);
        }
    }

    /// Whether our `Exchange` still waits for [`poll_transmit`](Self::poll_transmit).
    #[must_use]
    pub fn wants_transmit(&self) -> bool {
        !self.sent
    }

    /// Looks for the remote's length-prefixed `Exchange` at the start of `input` (all bytes
    /// received so far, not only the new ones). Returns `Ok(None)` while more bytes are needed,
    /// the checked remote identity once the message is complete, or an error if the remote
    /// misbehaved.
    pub fn handle_input(&self, input: &[u8]) -> Result<Option<RemoteIdentity>, PlaintextError> {
        let Some((message, consumed)) = varint::take_frame(input, MAX_EXCHANGE_SIZE)? else {
            return Ok(None);
        };
        let exchange = Exchange::from_protobuf_encoding(message)?;
        exchange.verify()?;
        if let Some(expected) = &self.expected_remote {
            if *expected != exchange.id {
                return Err(PlaintextError::UnexpectedPeer {
                    expected: expected.clone(),
                    actual: exchange.id,
                });
            }
        }
        Ok(Some(RemoteIdentity {
            public_key: exchange.pubkey,
            peer_id: exchange.id,
            consumed,
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// What `hs` hands the driver to send.
    fn sent(hs: &mut Handshake) -> Vec<u8> {
        let mut out = Vec::new();
        hs.poll_transmit(&mut out);
        out
    }

    #[test]
    fn exchange_wire_format() {
        let key = Keypair::ed25519_from_seed(1);
        let exchange = Exchange::new(key.public());
        let pk = key.public().to_protobuf_encoding();
        let id = key.to_peer_id().to_bytes();
        let expected = [
            &[0x0a, id.len() as u8][..],
            &id,
            &[0x12, pk.len() as u8],
            &pk,
        ]
        .concat();
        assert_eq!(exchange.to_protobuf_encoding(), expected);
        assert_eq!(
            Exchange::from_protobuf_encoding(&expected).unwrap(),
            exchange
        );
        // The framed message is the length then the message.
        let framed = sent(&mut Handshake::new(&key, None));
        assert_eq!(framed[0] as usize, expected.len());
        assert_eq!(&framed[1..], &expected[..]);
    }

    #[test]
    fn handshake_in_pieces_with_trailing_data() {
        let (alice, bob) = (Keypair::generate_ecdsa(), Keypair::generate_secp256k1());
        let mut dialer = Handshake::new(&alice, Some(bob.to_peer_id()));
        let mut listener = Handshake::new(&bob, None);
        let mut wire = sent(&mut listener);
        let message_len = wire.len();
        wire.extend_from_slice(b"app data");
        for cut in 0..message_len {
            assert_eq!(dialer.handle_input(&wire[..cut]), Ok(None), "cut at {cut}");
        }
        let remote = dialer.handle_input(&wire).unwrap().unwrap();
        assert_eq!(remote.peer_id, bob.to_peer_id());
        assert_eq!(&remote.public_key, bob.public());
        assert_eq!(&wire[remote.consumed..], b"app data");
        let remote = listener.handle_input(&sent(&mut dialer)).unwrap().unwrap();
        assert_eq!(remote.peer_id, alice.to_peer_id());
    }

    #[test]
    fn refuses_wrong_peers_and_lies() {
        let (alice, bob, carol) = (
            Keypair::ed25519_from_seed(1),
            Keypair::ed25519_from_seed(2),
            Keypair::ed25519_from_seed(3),
        );
        // Alice dialed Carol but Bob answered.
        let dialer = Handshake::new(&alice, Some(carol.to_peer_id()));
        assert_eq!(
            dialer.handle_input(&sent(&mut Handshake::new(&bob, None))),
            Err(PlaintextError::UnexpectedPeer {
                expected: carol.to_peer_id(),
                actual: bob.to_peer_id()
            })
        );
        // Bob claims Carol's id with his own key.
        let lie = Exchange {
            id: carol.to_peer_id(),
            pubkey: bob.public().clone(),
        };
        let mut framed = Vec::new();
        varint::put_frame(&lie.to_protobuf_encoding(), &mut framed);
        assert_eq!(
            Handshake::new(&alice, None).handle_input(&framed),
            Err(PlaintextError::IdKeyMismatch {
                claimed: carol.to_peer_id(),
                derived: bob.to_peer_id()
            })
        );
    }

    #[test]
    fn refuses_malformed_messages() {
        let hs = Handshake::new(&Keypair::ed25519_from_seed(1), None);
        // Oversized length prefix: refused before the payload arrives.
        let mut huge = Vec::new();
        varint::encode(MAX_EXCHANGE_SIZE as u64 + 1, &mut huge);
        assert_eq!(
            hs.handle_input(&huge),
            Err(PlaintextError::Frame(FrameError::TooLong {
                len: MAX_EXCHANGE_SIZE as u64 + 1,
                max: MAX_EXCHANGE_SIZE
            }))
        );
        assert_eq!(
            hs.handle_input(&[0x00]),
            Err(PlaintextError::Protobuf(ProtobufError::MissingField("id")))
        );
        let id = Keypair::ed25519_from_seed(2).to_peer_id().to_bytes();
        let only_id = [&[0x0a, id.len() as u8][..], &id].concat();
        assert_eq!(
            Exchange::from_protobuf_encoding(&only_id),
            Err(PlaintextError::Protobuf(ProtobufError::MissingField(
                "pubkey"
            )))
        );
        assert_eq!(
            Exchange::from_protobuf_encoding(&[0x0a, 0x01, 0x05, 0x12, 0x00]),
            Err(PlaintextError::PeerId(PeerIdError::Multihash))
        );
        let bad_key = [&only_id[..], &[0x12, 0x02, 0x08, 0x07]].concat();
        assert!(matches!(
            Exchange::from_protobuf_encoding(&bad_key),
            Err(PlaintextError::PublicKey(_))
        ));
    }

    proptest! {
        #[test]
        fn consume_never_panics(input in proptest::collection::vec(any::<u8>(), 0..128)) {
            let hs = Handshake::new(&Keypair::ed25519_from_seed(1), None);
            let _ = hs.handle_input(&input);
        }
    }
}
