//! Peer records (libp2p/specs RFC 0003): a peer's listen addresses with a sequence number,
//! carried in a [`SignedEnvelope`] signed by that peer.

use super::{EnvelopeError, Keypair, PeerId, PeerIdError, SignedEnvelope};
use crate::protobuf::{self, ProtobufError, Reader, Writer};

/// Protobuf field numbers of `PeerRecord` and of its `AddressInfo`.
const FIELD_PEER_ID: u32 = 1;
const FIELD_SEQ: u32 = 2;
const FIELD_ADDRESSES: u32 = 3;
const FIELD_MULTIADDR: u32 = 1;

/// The domain and payload type a peer record is sealed with.
///
/// RFC 0003 names the domain `libp2p-routing-state` and an interim payload type
/// `/libp2p/routing-state-record`, pending a multicodec. The network did not follow it
/// uniformly: go-libp2p and js-libp2p use the domain `libp2p-peer-record` with the payload type
/// `[0x03, 0x01]` (the multicodec `libp2p-peer-record`, 0x0301, written as two big-endian
/// bytes, not as a varint), while rust-libp2p up to its 0.5x releases uses the RFC's strings.
/// We seal with [`PeerRecordFormat::Standard`] by default and open both.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PeerRecordFormat {
    /// go-libp2p / js-libp2p: domain `libp2p-peer-record`, payload type `[0x03, 0x01]`.
    Standard,
    /// RFC 0003 text and rust-libp2p: domain `libp2p-routing-state`, payload type
    /// `/libp2p/routing-state-record`.
    RoutingState,
}

impl PeerRecordFormat {
    /// The signature domain.
    pub fn domain(self) -> &'static str {
        match self {
            PeerRecordFormat::Standard => "libp2p-peer-record",
            PeerRecordFormat::RoutingState => "libp2p-routing-state",
        }
    }

    /// The envelope payload type.
    pub fn payload_type(self) -> &'static [u8] {
        match self {
            PeerRecordFormat::Standard => &[0x03, 0x01],
            PeerRecordFormat::RoutingState => b"/libp2p/routing-state-record",
        }
    }

    /// The format whose payload type is `payload_type`.
    pub fn from_payload_type(payload_type: &[u8]) -> Option<PeerRecordFormat> {
        [PeerRecordFormat::Standard, PeerRecordFormat::RoutingState]
            .into_iter()
            .find(|f| f.payload_type() == payload_type)
    }
}

/// Why a peer record could not be sealed, opened or decoded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PeerRecordError {
    /// The envelope is too large, malformed, or its signature does not verify. The sender is at
    /// fault (or the caller, for [`EnvelopeError::TooLarge`] when sealing).
    #[error(transparent)]
    Envelope(#[from] EnvelopeError),
    /// The envelope carries something other than a peer record. The sender is at fault.
    #[error("envelope payload type is not a peer record")]
    UnexpectedPayloadType,
    /// The record protobuf is malformed. The sender is at fault.
    #[error("malformed peer record")]
    Protobuf(#[from] ProtobufError),
    /// The record's `peer_id` is not a valid peer id. The sender is at fault.
    #[error("invalid peer id in record")]
    PeerId(#[from] PeerIdError),
    /// The record names a peer other than the envelope's signer: a peer tried to vouch for
    /// someone else's addresses (rust-libp2p advisory GHSA-wc36-xgcc-jwpr). The sender is at
    /// fault.
    #[error("record peer id {record} does not match envelope signer {signer}")]
    SignerMismatch {
        /// The peer id inside the record.
        record: PeerId,
        /// The peer id of the envelope's public key.
        signer: PeerId,
    },
    /// [`PeerRecord::seal`] was given a key pair that is not the record's peer. Local misuse.
    #[error("cannot seal a record for {record} with the key of {key}")]
    WrongKeypair {
        /// The peer id inside the record.
        record: PeerId,
        /// The peer id of the key pair.
        key: PeerId,
    },
}

impl PeerRecordError {
    /// Who was at fault. Remote for what a sender signed or encoded; local misuse for sealing with another peer's key.
    pub fn fault(&self) -> crate::error::Fault {
        use crate::error::Fault;
        match self {
            PeerRecordError::Envelope(e) => e.fault(),
            PeerRecordError::UnexpectedPayloadType
            | PeerRecordError::Protobuf(..)
            | PeerRecordError::PeerId(..)
            | PeerRecordError::SignerMismatch { .. } => Fault::Remote,
            PeerRecordError::WrongKeypair { .. } => Fault::Local,
        }
    }
}

/// A peer's listen addresses at a point in its history (`seq` grows with each new record).
///
/// Addresses are binary multiaddrs, kept as raw bytes: they are not validated here.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PeerRecord {
    /// The peer the addresses belong to.
    pub peer_id: PeerId,
    /// The sequence number: newer records of a peer have higher values.
    pub seq: u64,
    /// The binary multiaddrs the peer listens on.
    pub addresses: Vec<Vec<u8>>,
}

impl PeerRecord {
    /// The protobuf encoding (proto3: `seq` 0 is omitted).
    pub fn to_protobuf_encoding(&self) -> Vec<u8> {
        let mut out = Vec::new();
        let mut w = Writer::new(&mut out);
        w.proto3_bytes(FIELD_PEER_ID, self.peer_id.as_bytes());
        w.proto3_varint(FIELD_SEQ, self.seq);
        for address in &self.addresses {
            w.message(FIELD_ADDRESSES, |m| {
                m.proto3_bytes(FIELD_MULTIADDR, address)
            });
        }
        out
    }

    /// Parses the protobuf encoding (without any signature check: see [`PeerRecord::open`]).
    pub fn from_protobuf_encoding(bytes: &[u8]) -> Result<PeerRecord, PeerRecordError> {
        let limit = super::MAX_ENVELOPE_SIZE;
        let mut reader = Reader::new(bytes);
        let mut peer_id = None;
        let mut seq = None;
        let mut addresses = Vec::new();
        while let Some(field) = reader.next_field()? {
            match field.number {
                FIELD_PEER_ID => {
                    protobuf::set_once(&mut peer_id, field.number, field.bytes(limit)?)?
                }
                FIELD_SEQ => protobuf::set_once(&mut seq, field.number, field.varint()?)?,
                FIELD_ADDRESSES => {
                    let mut info = Reader::new(field.bytes(limit)?);
                    let mut multiaddr = None;
                    while let Some(f) = info.next_field()? {
                        if f.number == FIELD_MULTIADDR {
                            protobuf::set_once(&mut multiaddr, f.number, f.bytes(limit)?)?;
                        }
                    }
                    addresses.push(multiaddr.unwrap_or_default().to_vec());
                }
                _ => {}
            }
        }
        let peer_id = peer_id.ok_or(ProtobufError::MissingField("peer_id"))?;
        Ok(PeerRecord {
            peer_id: PeerId::from_bytes(peer_id)?,
            seq: seq.unwrap_or(0),
            addresses,
        })
    }

    /// Seals the record in an envelope signed by `keypair`, in the go-libp2p format
    /// ([`PeerRecordFormat::Standard`]).
    pub fn seal(&self, keypair: &Keypair) -> Result<SignedEnvelope, PeerRecordError> {
        self.seal_with_format(keypair, PeerRecordFormat::Standard)
    }

    /// Seals the record with the domain and payload type of `format`. The key pair must be the
    /// record's peer.
    pub fn seal_with_format(
        &self,
        keypair: &Keypair,
        format: PeerRecordFormat,
    ) -> Result<SignedEnvelope, PeerRecordError> {
        let key = keypair.to_peer_id();
        if key != self.peer_id {
            return Err(PeerRecordError::WrongKeypair {
                record: self.peer_id.clone(),
                key,
            });
        }
        Ok(SignedEnvelope::seal(
            keypair,
            format.domain(),
            format.payload_type(),
            &self.to_protobuf_encoding(),
        )?)
    }

    /// Opens an encoded envelope holding a peer record in either [`PeerRecordFormat`]: checks
    /// the size, the payload type, the signature (before decoding the record, as RFC 0003
    /// requires), then that the record's peer is the signer. Returns the record and the
    /// envelope, which RFC 0003 asks peers to keep for forwarding.
    pub fn open(bytes: &[u8]) -> Result<(PeerRecord, SignedEnvelope), PeerRecordError> {
        let envelope = SignedEnvelope::decode_unverified(bytes)?;
        let format = PeerRecordFormat::from_payload_type(envelope.payload_type())
            .ok_or(PeerRecordError::UnexpectedPayloadType)?;
        envelope.verify(format.domain())?;
        let record = PeerRecord::from_protobuf_encoding(envelope.payload())?;
        let signer = envelope.signer();
        if record.peer_id != signer {
            return Err(PeerRecordError::SignerMismatch {
                record: record.peer_id,
                signer,
            });
        }
        Ok((record, envelope))
    }
}
