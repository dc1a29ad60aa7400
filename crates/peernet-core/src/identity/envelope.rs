//! Signed envelopes (libp2p/specs RFC 0002): a payload, its type, the signer's public key and
//! a signature over a domain-separated buffer.

use super::{KeyError, Keypair, PeerId, PublicKey};
use crate::protobuf::{self, ProtobufError, Reader, Writer};

/// Largest encoded envelope accepted by [`SignedEnvelope::open`] and produced by
/// [`SignedEnvelope::seal`], checked before any parsing (go-libp2p advisory GHSA-gcq9-qqwx-rgj3
/// showed what unbounded signed records cost).
pub const MAX_ENVELOPE_SIZE: usize = 8 * 1024;

/// Protobuf field numbers of `Envelope` (field 4 is unused by the RFC).
const FIELD_PUBLIC_KEY: u32 = 1;
const FIELD_PAYLOAD_TYPE: u32 = 2;
const FIELD_PAYLOAD: u32 = 3;
const FIELD_SIGNATURE: u32 = 5;

/// Why an envelope could not be sealed or opened.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EnvelopeError {
    /// The encoded envelope is larger than [`MAX_ENVELOPE_SIZE`]. When opening, the sender is
    /// at fault; when sealing, the caller (local misuse: the payload is too big).
    #[error("envelope of {len} bytes exceeds the limit of {max}")]
    TooLarge {
        /// The size of the envelope.
        len: usize,
        /// The limit.
        max: usize,
    },
    /// The envelope protobuf is malformed or lacks its public key. The sender is at fault.
    #[error("malformed envelope")]
    Protobuf(#[from] ProtobufError),
    /// The embedded public key is invalid. The sender is at fault.
    #[error("invalid envelope public key")]
    PublicKey(#[from] KeyError),
    /// The signature does not verify for the given domain, payload type and payload: the
    /// envelope was forged, altered, or signed for another domain. The sender is at fault.
    #[error("envelope signature is invalid for this domain")]
    InvalidSignature,
}

impl EnvelopeError {
    /// Who was at fault. Always Remote: an envelope that is too large, malformed or badly signed came from its sender (sealing too large a payload is reported the same way; the caller is then the sender).
    pub fn fault(&self) -> crate::error::Fault {
        use crate::error::Fault;
        match self {
            EnvelopeError::TooLarge { .. }
            | EnvelopeError::Protobuf(..)
            | EnvelopeError::PublicKey(..)
            | EnvelopeError::InvalidSignature => Fault::Remote,
        }
    }
}

/// A verified signed envelope.
///
/// Values of this type only come from [`SignedEnvelope::seal`] or [`SignedEnvelope::open`], so
/// the signature always verifies for the domain they were made with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignedEnvelope {
    public_key: PublicKey,
    payload_type: Vec<u8>,
    payload: Vec<u8>,
    signature: Vec<u8>,
}

impl SignedEnvelope {
    /// Signs `payload` of type `payload_type` for `domain` with `keypair`.
    ///
    /// Fails with [`EnvelopeError::TooLarge`] when the encoded envelope would exceed
    /// [`MAX_ENVELOPE_SIZE`], since no peer would accept it.
    pub fn seal(
        keypair: &Keypair,
        domain: &str,
        payload_type: &[u8],
        payload: &[u8],
    ) -> Result<SignedEnvelope, EnvelopeError> {
        let signature = keypair.sign(&signing_buffer(domain, payload_type, payload));
        let envelope = SignedEnvelope {
            public_key: keypair.public().clone(),
            payload_type: payload_type.to_vec(),
            payload: payload.to_vec(),
            signature,
        };
        let len = envelope.to_protobuf_encoding().len();
        if len > MAX_ENVELOPE_SIZE {
            return Err(EnvelopeError::TooLarge {
                len,
                max: MAX_ENVELOPE_SIZE,
            });
        }
        Ok(envelope)
    }

    /// Parses an encoded envelope and verifies its signature for `domain`.
    pub fn open(bytes: &[u8], domain: &str) -> Result<SignedEnvelope, EnvelopeError> {
        let envelope = SignedEnvelope::decode_unverified(bytes)?;
        envelope.verify(domain)?;
        Ok(envelope)
    }

    /// Parses an encoded envelope without checking its signature (the caller must call
    /// [`SignedEnvelope::verify`] before handing it out).
    pub(crate) fn decode_unverified(bytes: &[u8]) -> Result<SignedEnvelope, EnvelopeError> {
        if bytes.len() > MAX_ENVELOPE_SIZE {
            return Err(EnvelopeError::TooLarge {
                len: bytes.len(),
                max: MAX_ENVELOPE_SIZE,
            });
        }
        let mut reader = Reader::new(bytes);
        let mut public_key = None;
        let mut payload_type = None;
        let mut payload = None;
        let mut signature = None;
        while let Some(field) = reader.next_field()? {
            let slot = match field.number {
                FIELD_PUBLIC_KEY => &mut public_key,
                FIELD_PAYLOAD_TYPE => &mut payload_type,
                FIELD_PAYLOAD => &mut payload,
                FIELD_SIGNATURE => &mut signature,
                _ => continue,
            };
            protobuf::set_once(slot, field.number, field.bytes(MAX_ENVELOPE_SIZE)?)?;
        }
        let public_key = public_key.ok_or(ProtobufError::MissingField("public_key"))?;
        Ok(SignedEnvelope {
            public_key: PublicKey::from_protobuf_encoding(public_key)?,
            // proto3: absent bytes fields are empty.
            payload_type: payload_type.unwrap_or_default().to_vec(),
            payload: payload.unwrap_or_default().to_vec(),
            signature: signature.unwrap_or_default().to_vec(),
        })
    }

    /// Checks the signature for `domain`.
    pub(crate) fn verify(&self, domain: &str) -> Result<(), EnvelopeError> {
        let buffer = signing_buffer(domain, &self.payload_type, &self.payload);
        if self.public_key.verify(&buffer, &self.signature) {
            Ok(())
        } else {
            Err(EnvelopeError::InvalidSignature)
        }
    }

    /// The protobuf encoding (proto3: empty fields are omitted).
    pub fn to_protobuf_encoding(&self) -> Vec<u8> {
        let mut out = Vec::new();
        let mut w = Writer::new(&mut out);
        w.bytes(FIELD_PUBLIC_KEY, &self.public_key.to_protobuf_encoding());
        w.proto3_bytes(FIELD_PAYLOAD_TYPE, &self.payload_type);
        w.proto3_bytes(FIELD_PAYLOAD, &self.payload);
        w.proto3_bytes(FIELD_SIGNATURE, &self.signature);
        out
    }

    /// The signer's public key.
    pub fn public_key(&self) -> &PublicKey {
        &self.public_key
    }

    /// The signer's peer id.
    pub fn signer(&self) -> PeerId {
        self.public_key.to_peer_id()
    }

    /// The payload type (usually a multicodec).
    pub fn payload_type(&self) -> &[u8] {
        &self.payload_type
    }

    /// The payload.
    pub fn payload(&self) -> &[u8] {
        &self.payload
    }

    /// The signature over the domain-separated buffer.
    pub fn signature(&self) -> &[u8] {
        &self.signature
    }
}

/// The buffer RFC 0002 signs: each of domain, payload type and payload preceded by its length
/// as an unsigned varint.
fn signing_buffer(domain: &str, payload_type: &[u8], payload: &[u8]) -> Vec<u8> {
    let mut buf = Vec::with_capacity(domain.len() + payload_type.len() + payload.len() + 12);
    for part in [domain.as_bytes(), payload_type, payload] {
        crate::varint::put_frame(part, &mut buf);
    }
    buf
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signing_buffer_layout() {
        assert_eq!(
            signing_buffer("ab", &[0x03, 0x01], b"xyz"),
            [2, b'a', b'b', 2, 0x03, 0x01, 3, b'x', b'y', b'z']
        );
    }
}
