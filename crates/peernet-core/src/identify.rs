//! The identify protocol (`/ipfs/id/1.0.0`) and its push variant (`/ipfs/id/push/1.0.0`),
//! libp2p/specs `identify/README.md`.
//!
//! On identify, the side that opened the stream reads one or more varint-length-prefixed
//! `Identify` messages until the other side closes the stream; on push, the side that opened
//! the stream writes them. Several messages are merged field by field (go-libp2p splits a large
//! message in two, the signed peer record travelling on its own).
//!
//! ```text
//! message Identify {
//!   optional string protocolVersion = 5;
//!   optional string agentVersion = 6;
//!   optional bytes publicKey = 1;
//!   repeated bytes listenAddrs = 2;
//!   optional bytes observedAddr = 4;
//!   repeated string protocols = 3;
//!   optional bytes signedPeerRecord = 8;
//! }
//! ```
//!
//! Decoding is strict where the spec is clear (UTF-8 strings, a valid public key, a peer record
//! whose signature verifies, no field twice) and lenient where the network is not: listen and
//! observed addresses of a protocol we do not know are skipped and counted, not fatal, since
//! peers legitimately listen on transports we do not speak.

use crate::identity::{KeyError, PeerRecord, PeerRecordError, PublicKey, SignedEnvelope};
use crate::multiaddr::Multiaddr;
use crate::protobuf::{self, ProtobufError, Reader, Writer};
use crate::varint::{self, FrameError};

/// The identify protocol id.
pub const PROTOCOL: &str = "/ipfs/id/1.0.0";
/// The identify push protocol id.
pub const PUSH_PROTOCOL: &str = "/ipfs/id/push/1.0.0";
/// Largest identify message we accept (go-libp2p's `signedIDSize`, 8 KiB). rust-libp2p refuses
/// messages above 4 KiB, so what we send stays well below that.
pub const MAX_MESSAGE_SIZE: usize = 8 * 1024;
/// Most messages merged from one identify stream (go-libp2p reads at most 10).
pub const MAX_MESSAGES: usize = 10;
/// Most protocols kept from one identify exchange.
pub const MAX_PROTOCOLS: usize = 256;
/// Most listen addresses kept from one identify exchange.
pub const MAX_LISTEN_ADDRS: usize = 128;
/// Longest protocol id or version string accepted.
pub const MAX_STRING_LEN: usize = 1024;

const FIELD_PUBLIC_KEY: u32 = 1;
const FIELD_LISTEN_ADDRS: u32 = 2;
const FIELD_PROTOCOLS: u32 = 3;
const FIELD_OBSERVED_ADDR: u32 = 4;
const FIELD_PROTOCOL_VERSION: u32 = 5;
const FIELD_AGENT_VERSION: u32 = 6;
const FIELD_SIGNED_PEER_RECORD: u32 = 8;

/// Why identify bytes could not be decoded. Every variant is the sender's fault.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IdentifyError {
    /// The message is not valid protobuf, repeats a field, or a field is too long.
    #[error("malformed identify message")]
    Protobuf(#[from] ProtobufError),
    /// The length prefix is invalid or announces more than [`MAX_MESSAGE_SIZE`].
    #[error("bad identify framing")]
    Frame(#[from] FrameError),
    /// A string field (a version or a protocol id) is not UTF-8.
    #[error("identify field {0} is not UTF-8")]
    NotUtf8(u32),
    /// The public key does not decode.
    #[error("invalid public key in identify")]
    PublicKey(#[from] KeyError),
    /// The signed peer record does not open (bad signature, wrong payload, signer mismatch).
    #[error("invalid signed peer record in identify")]
    PeerRecord(#[from] PeerRecordError),
    /// More than [`MAX_PROTOCOLS`] protocols or [`MAX_LISTEN_ADDRS`] listen addresses.
    #[error("identify lists more than {max} {what}")]
    TooMany {
        /// What was counted ("protocols", "listen addresses").
        what: &'static str,
        /// The limit.
        max: usize,
    },
    /// More than [`MAX_MESSAGES`] messages on one stream.
    #[error("more than {MAX_MESSAGES} identify messages on one stream")]
    TooManyMessages,
    /// The stream ended inside a message.
    #[error("identify stream ended inside a message")]
    Truncated,
}

impl IdentifyError {
    /// Who was at fault. Always Remote: everything here is what the peer sent.
    pub fn fault(&self) -> crate::error::Fault {
        use crate::error::Fault;
        match self {
            IdentifyError::Protobuf(..)
            | IdentifyError::Frame(..)
            | IdentifyError::NotUtf8(..)
            | IdentifyError::PublicKey(..)
            | IdentifyError::PeerRecord(..)
            | IdentifyError::TooMany { .. }
            | IdentifyError::TooManyMessages
            | IdentifyError::Truncated => Fault::Remote,
        }
    }
}

/// A signed peer record carried by identify: the verified record and its envelope (kept to
/// forward as is).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignedPeerRecord {
    /// The record, whose signature has been verified.
    pub record: PeerRecord,
    /// The envelope it came in.
    pub envelope: SignedEnvelope,
}

/// One identify message, or the merge of several. Absent optional fields are `None` and empty
/// lists mean "not sent".
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Identify {
    /// The protocol family version, e.g. `ipfs/0.1.0`.
    pub protocol_version: Option<String>,
    /// The implementation, e.g. `peernet/0.1.0`.
    pub agent_version: Option<String>,
    /// The sender's public key.
    pub public_key: Option<PublicKey>,
    /// The addresses the sender listens on.
    pub listen_addrs: Vec<Multiaddr>,
    /// The address the sender sees the receiver at.
    pub observed_addr: Option<Multiaddr>,
    /// The protocols the sender serves.
    pub protocols: Vec<String>,
    /// The sender's signed peer record.
    pub signed_peer_record: Option<SignedPeerRecord>,
    /// Listen or observed addresses that were skipped because we cannot parse them (unknown
    /// multiaddr protocols). Not encoded.
    pub skipped_addrs: usize,
}

fn utf8(field: u32, bytes: &[u8]) -> Result<String, IdentifyError> {
    std::str::from_utf8(bytes)
        .map(str::to_owned)
        .map_err(|_| IdentifyError::NotUtf8(field))
}

impl Identify {
    /// The protobuf encoding of the message (without length prefix).
    pub fn to_protobuf_encoding(&self) -> Vec<u8> {
        let mut out = Vec::new();
        let mut w = Writer::new(&mut out);
        if let Some(key) = &self.public_key {
            w.bytes(FIELD_PUBLIC_KEY, &key.to_protobuf_encoding());
        }
        for addr in &self.listen_addrs {
            w.bytes(FIELD_LISTEN_ADDRS, addr.as_bytes());
        }
        for p in &self.protocols {
            w.bytes(FIELD_PROTOCOLS, p.as_bytes());
        }
        if let Some(addr) = &self.observed_addr {
            w.bytes(FIELD_OBSERVED_ADDR, addr.as_bytes());
        }
        if let Some(v) = &self.protocol_version {
            w.bytes(FIELD_PROTOCOL_VERSION, v.as_bytes());
        }
        if let Some(v) = &self.agent_version {
            w.bytes(FIELD_AGENT_VERSION, v.as_bytes());
        }
        if let Some(spr) = &self.signed_peer_record {
            w.bytes(
                FIELD_SIGNED_PEER_RECORD,
                &spr.envelope.to_protobuf_encoding(),
            );
        }
        out
    }

    /// The message with its varint length prefix, as written on the stream.
    pub fn to_framed(&self) -> Vec<u8> {
        let body = self.to_protobuf_encoding();
        let mut out = Vec::with_capacity(body.len() + 3);
        varint::put_frame(&body, &mut out);
        out
    }

    /// Decodes one message body (at most [`MAX_MESSAGE_SIZE`] bytes are expected; a longer
    /// field is refused).
    pub fn from_protobuf_encoding(bytes: &[u8]) -> Result<Identify, IdentifyError> {
        let mut msg = Identify::default();
        let mut reader = Reader::new(bytes);
        let (mut public_key, mut observed, mut pv, mut av, mut spr) =
            (None, None, None, None, None);
        while let Some(field) = reader.next_field()? {
            let n = field.number;
            match n {
                FIELD_PUBLIC_KEY => {
                    protobuf::set_once(&mut public_key, n, field.bytes(MAX_MESSAGE_SIZE)?)?
                }
                FIELD_LISTEN_ADDRS => {
                    let bytes = field.bytes(MAX_MESSAGE_SIZE)?;
                    if msg.listen_addrs.len() >= MAX_LISTEN_ADDRS {
                        return Err(IdentifyError::TooMany {
                            what: "listen addresses",
                            max: MAX_LISTEN_ADDRS,
                        });
                    }
                    match Multiaddr::from_bytes(bytes) {
                        Ok(a) => msg.listen_addrs.push(a),
                        Err(_) => msg.skipped_addrs += 1,
                    }
                }
                FIELD_PROTOCOLS => {
                    let p = utf8(n, field.bytes(MAX_STRING_LEN)?)?;
                    if msg.protocols.len() >= MAX_PROTOCOLS {
                        return Err(IdentifyError::TooMany {
                            what: "protocols",
                            max: MAX_PROTOCOLS,
                        });
                    }
                    msg.protocols.push(p);
                }
                FIELD_OBSERVED_ADDR => {
                    protobuf::set_once(&mut observed, n, field.bytes(MAX_MESSAGE_SIZE)?)?
                }
                FIELD_PROTOCOL_VERSION => {
                    protobuf::set_once(&mut pv, n, field.bytes(MAX_STRING_LEN)?)?
                }
                FIELD_AGENT_VERSION => {
                    protobuf::set_once(&mut av, n, field.bytes(MAX_STRING_LEN)?)?
                }
                FIELD_SIGNED_PEER_RECORD => {
                    protobuf::set_once(&mut spr, n, field.bytes(MAX_MESSAGE_SIZE)?)?
                }
                _ => {} // unknown fields are skipped, as protobuf requires
            }
        }
        if let Some(key) = public_key {
            msg.public_key = Some(PublicKey::from_protobuf_encoding(key)?);
        }
        if let Some(addr) = observed {
            match Multiaddr::from_bytes(addr) {
                Ok(a) => msg.observed_addr = Some(a),
                Err(_) => msg.skipped_addrs += 1,
            }
        }
        msg.protocol_version = pv.map(|b| utf8(FIELD_PROTOCOL_VERSION, b)).transpose()?;
        msg.agent_version = av.map(|b| utf8(FIELD_AGENT_VERSION, b)).transpose()?;
        if let Some(bytes) = spr {
            let (record, envelope) = PeerRecord::open(bytes)?;
            msg.signed_peer_record = Some(SignedPeerRecord { record, envelope });
        }
        Ok(msg)
    }

    /// Merges a later message into this one: fields it carries replace ours (lists are
    /// replaced whole when the later message has any), as a push updates what is known.
    pub fn merge(&mut self, later: Identify) {
        if later.protocol_version.is_some() {
            self.protocol_version = later.protocol_version;
        }
        if later.agent_version.is_some() {
            self.agent_version = later.agent_version;
        }
        if later.public_key.is_some() {
            self.public_key = later.public_key;
        }
        if !later.listen_addrs.is_empty() {
            self.listen_addrs = later.listen_addrs;
        }
        if later.observed_addr.is_some() {
            self.observed_addr = later.observed_addr;
        }
        if !later.protocols.is_empty() {
            self.protocols = later.protocols;
        }
        if later.signed_peer_record.is_some() {
            self.signed_peer_record = later.signed_peer_record;
        }
        self.skipped_addrs += later.skipped_addrs;
    }
}

/// Reads identify messages from the bytes of one stream (sans-IO): feed what the stream
/// yields with [`Reader::push`](IdentifyReader::push), then call
/// [`finish`](IdentifyReader::finish) at end of stream. Holds at most one message of
/// [`MAX_MESSAGE_SIZE`] bytes plus its prefix.
#[derive(Debug, Default)]
pub struct IdentifyReader {
    buf: Vec<u8>,
    messages: usize,
    merged: Option<Identify>,
}

impl IdentifyReader {
    /// A reader with nothing read yet.
    pub fn new() -> Self {
        IdentifyReader::default()
    }

    /// How many more bytes the reader is willing to buffer; a driver reads at most this much.
    pub fn capacity(&self) -> usize {
        (MAX_MESSAGE_SIZE + varint::MAX_VARINT_LEN).saturating_sub(self.buf.len())
    }

    /// Feeds bytes read from the stream, decoding every whole message in them.
    pub fn push(&mut self, data: &[u8]) -> Result<(), IdentifyError> {
        self.buf.extend_from_slice(data);
        loop {
            let Some((payload, consumed)) = varint::take_frame(&self.buf, MAX_MESSAGE_SIZE)? else {
                if self.buf.len() > MAX_MESSAGE_SIZE + varint::MAX_VARINT_LEN {
                    // Unreachable with a valid prefix (take_frame caps it); kept as a bound.
                    return Err(IdentifyError::Truncated);
                }
                return Ok(());
            };
            if self.messages >= MAX_MESSAGES {
                return Err(IdentifyError::TooManyMessages);
            }
            let msg = Identify::from_protobuf_encoding(payload)?;
            self.messages += 1;
            self.buf.drain(..consumed);
            match &mut self.merged {
                Some(m) => m.merge(msg),
                None => self.merged = Some(msg),
            }
        }
    }

    /// The merged messages at end of stream. An empty stream yields an empty message; bytes
    /// left inside a message are [`IdentifyError::Truncated`].
    pub fn finish(self) -> Result<Identify, IdentifyError> {
        if !self.buf.is_empty() {
            return Err(IdentifyError::Truncated);
        }
        Ok(self.merged.unwrap_or_default())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::identity::Keypair;
    use proptest::prelude::*;

    fn sample() -> Identify {
        let key = Keypair::ed25519_from_seed(7);
        let addr: Multiaddr = "/ip4/127.0.0.1/tcp/4001".parse().unwrap();
        let record = PeerRecord {
            peer_id: key.to_peer_id(),
            seq: 3,
            addresses: vec![addr.to_vec()],
        };
        let envelope = record.seal(&key).unwrap();
        Identify {
            protocol_version: Some("ipfs/0.1.0".into()),
            agent_version: Some("peernet/0.1.0".into()),
            public_key: Some(key.public().clone()),
            listen_addrs: vec![addr],
            observed_addr: Some("/ip4/10.0.0.1/tcp/5555".parse().unwrap()),
            protocols: vec![PROTOCOL.into(), "/echo/1.0.0".into()],
            signed_peer_record: Some(SignedPeerRecord { record, envelope }),
            skipped_addrs: 0,
        }
    }

    #[test]
    fn round_trip() {
        let msg = sample();
        let back = Identify::from_protobuf_encoding(&msg.to_protobuf_encoding()).unwrap();
        assert_eq!(back, msg);
    }

    #[test]
    fn field_numbers_match_the_spec() {
        let msg = Identify {
            protocol_version: Some("p".into()),
            agent_version: Some("a".into()),
            protocols: vec!["x".into()],
            observed_addr: Some("/ip4/1.2.3.4/tcp/1".parse().unwrap()),
            ..Identify::default()
        };
        let bytes = msg.to_protobuf_encoding();
        // protocols (3, "x"), observedAddr (4, 8 bytes), protocolVersion (5), agentVersion (6).
        let expected = [
            &[0x1a, 1, b'x'][..],
            &[0x22, 8, 0x04, 1, 2, 3, 4, 0x06, 0x00, 0x01],
            &[0x2a, 1, b'p'],
            &[0x32, 1, b'a'],
        ]
        .concat();
        assert_eq!(bytes, expected);
    }

    #[test]
    fn reader_merges_split_messages() {
        let full = sample();
        let first = Identify {
            signed_peer_record: None,
            ..full.clone()
        };
        let second = Identify {
            signed_peer_record: full.signed_peer_record.clone(),
            ..Identify::default()
        };
        let bytes = [first.to_framed(), second.to_framed()].concat();
        let mut reader = IdentifyReader::new();
        for chunk in bytes.chunks(5) {
            reader.push(chunk).unwrap();
        }
        assert_eq!(reader.finish().unwrap(), full);
    }

    #[test]
    fn refuses_oversized_and_truncated() {
        let mut prefix = Vec::new();
        varint::encode(MAX_MESSAGE_SIZE as u64 + 1, &mut prefix);
        let mut reader = IdentifyReader::new();
        assert!(matches!(
            reader.push(&prefix),
            Err(IdentifyError::Frame(FrameError::TooLong { .. }))
        ));
        let mut reader = IdentifyReader::new();
        let framed = sample().to_framed();
        reader.push(&framed[..framed.len() - 1]).unwrap();
        assert_eq!(reader.finish(), Err(IdentifyError::Truncated));
    }

    #[test]
    fn refuses_duplicate_and_bad_fields() {
        // agentVersion twice.
        assert!(matches!(
            Identify::from_protobuf_encoding(&[0x32, 1, b'a', 0x32, 1, b'b']),
            Err(IdentifyError::Protobuf(ProtobufError::DuplicateField(6)))
        ));
        // A protocol that is not UTF-8.
        assert_eq!(
            Identify::from_protobuf_encoding(&[0x1a, 1, 0xff]),
            Err(IdentifyError::NotUtf8(3))
        );
        // A garbage public key.
        assert!(matches!(
            Identify::from_protobuf_encoding(&[0x0a, 2, 0x08, 0x09]),
            Err(IdentifyError::PublicKey(_))
        ));
        // A peer record signed by another key than the one it names.
        let mut spr = sample()
            .signed_peer_record
            .unwrap()
            .envelope
            .to_protobuf_encoding();
        let last = spr.len() - 1;
        spr[last] ^= 1; // corrupt the signature
        let mut body = Vec::new();
        Writer::new(&mut body).bytes(FIELD_SIGNED_PEER_RECORD, &spr);
        assert!(matches!(
            Identify::from_protobuf_encoding(&body),
            Err(IdentifyError::PeerRecord(_))
        ));
    }

    #[test]
    fn unknown_addresses_are_skipped() {
        let mut body = Vec::new();
        let mut w = Writer::new(&mut body);
        w.bytes(FIELD_LISTEN_ADDRS, &[0xff, 0xff, 0x03]);
        w.bytes(
            FIELD_LISTEN_ADDRS,
            "/ip4/1.2.3.4/tcp/1"
                .parse::<Multiaddr>()
                .unwrap()
                .as_bytes(),
        );
        let msg = Identify::from_protobuf_encoding(&body).unwrap();
        assert_eq!(msg.listen_addrs.len(), 1);
        assert_eq!(msg.skipped_addrs, 1);
    }

    #[test]
    fn too_many_messages() {
        let one = Identify {
            agent_version: Some("a".into()),
            ..Identify::default()
        }
        .to_framed();
        let mut reader = IdentifyReader::new();
        for _ in 0..MAX_MESSAGES {
            reader.push(&one).unwrap();
        }
        assert_eq!(reader.push(&one), Err(IdentifyError::TooManyMessages));
    }

    proptest! {
        #[test]
        fn arbitrary_bytes_never_panic(data in proptest::collection::vec(any::<u8>(), 0..512)) {
            if let Ok(msg) = Identify::from_protobuf_encoding(&data) {
                let again = Identify::from_protobuf_encoding(&msg.to_protobuf_encoding()).unwrap();
                prop_assert_eq!(again.protocols, msg.protocols);
            }
            let mut reader = IdentifyReader::new();
            let _ = reader.push(&data);
        }

        #[test]
        fn strings_round_trip(agent in "\\PC{0,40}", protocols in proptest::collection::vec("/[a-z]{1,10}/1.0.0", 0..8)) {
            let msg = Identify { agent_version: Some(agent), protocols, ..Identify::default() };
            prop_assert_eq!(Identify::from_protobuf_encoding(&msg.to_protobuf_encoding()).unwrap(), msg);
        }
    }
}
