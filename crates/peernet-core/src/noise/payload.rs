//! The libp2p Noise handshake payload (`NoiseHandshakePayload` and `NoiseExtensions`, proto2):
//!
//! ```protobuf
//! message NoiseExtensions {
//!     repeated bytes webtransport_certhashes = 1;
//!     repeated string stream_muxers = 2;
//! }
//! message NoiseHandshakePayload {
//!   optional bytes identity_key = 1;
//!   optional bytes identity_sig = 2;
//!   optional NoiseExtensions extensions = 4;
//! }
//! ```
//!
//! Decoding follows protobuf rules (unknown fields skipped, a repeated scalar field's last value
//! wins, repeated embedded messages merge) and caps every length so that a hostile payload
//! cannot make the decoder hold more than a few kilobytes beyond the message itself.

use super::NoiseError;
use crate::varint;

/// Longest `identity_key` accepted: an RSA-8192 public key in its protobuf form fits easily.
pub const MAX_IDENTITY_KEY_LEN: usize = 4096;
/// Longest `identity_sig` accepted (RSA-8192 signatures are 1024 bytes).
pub const MAX_IDENTITY_SIG_LEN: usize = 2048;
/// Most entries accepted in each repeated extension field (go-libp2p's limit as well).
pub const MAX_EXTENSION_ENTRIES: usize = 100;
/// Longest stream muxer protocol name accepted.
pub const MAX_MUXER_NAME_LEN: usize = 256;
/// Longest WebTransport certificate hash (a multihash) accepted.
pub const MAX_CERTHASH_LEN: usize = 256;

/// The payload each side sends inside its encrypted handshake message (XX messages 2 and 3).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NoiseHandshakePayload {
    /// The sender's libp2p public key in its protobuf encoding (peer-ids spec).
    pub identity_key: Vec<u8>,
    /// The identity key's signature over `"noise-libp2p-static-key:"` and the Noise static key.
    pub identity_sig: Vec<u8>,
    /// Extensions, absent when the sender announced none.
    pub extensions: Option<NoiseExtensions>,
}

/// Extensions carried in the handshake payload (the spec's extension registry).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NoiseExtensions {
    /// Multihashes of the WebTransport certificates the sender serves (WebTransport only).
    pub webtransport_certhashes: Vec<Vec<u8>>,
    /// Stream muxers the sender supports, in its order of preference (inlined muxer
    /// negotiation).
    pub stream_muxers: Vec<String>,
}

const WIRE_VARINT: u64 = 0;
const WIRE_I64: u64 = 1;
const WIRE_LEN: u64 = 2;
const WIRE_I32: u64 = 5;

fn put_bytes_field(field: u64, bytes: &[u8], out: &mut Vec<u8>) {
    varint::encode((field << 3) | WIRE_LEN, out);
    varint::encode(bytes.len() as u64, out);
    out.extend_from_slice(bytes);
}

/// One field of a protobuf message.
enum Field<'a> {
    /// A length-delimited field (bytes, string, embedded message).
    Bytes(u64, &'a [u8]),
    /// Any other wire type, already skipped.
    Other,
}

/// Reads the next field from the front of `input`.
fn next_field<'a>(input: &mut &'a [u8]) -> Result<Field<'a>, NoiseError> {
    let malformed = NoiseError::MalformedPayload;
    let (key, rest) = varint::decode(input).map_err(|_| malformed("field key"))?;
    let (field, wire) = (key >> 3, key & 7);
    if field == 0 {
        return Err(malformed("field number 0"));
    }
    let (value, rest) = match wire {
        WIRE_VARINT => {
            let (_, rest) = varint::decode(rest).map_err(|_| malformed("varint field"))?;
            (Field::Other, rest)
        }
        WIRE_I64 => {
            let rest = rest.get(8..).ok_or(malformed("truncated 64-bit field"))?;
            (Field::Other, rest)
        }
        WIRE_I32 => {
            let rest = rest.get(4..).ok_or(malformed("truncated 32-bit field"))?;
            (Field::Other, rest)
        }
        WIRE_LEN => {
            let (len, rest) = varint::decode(rest).map_err(|_| malformed("field length"))?;
            let len = usize::try_from(len).map_err(|_| malformed("field length"))?;
            let (bytes, rest) = rest
                .split_at_checked(len)
                .ok_or(malformed("field longer than the message"))?;
            (Field::Bytes(field, bytes), rest)
        }
        _ => return Err(malformed("unsupported wire type")),
    };
    *input = rest;
    Ok(value)
}

impl NoiseHandshakePayload {
    /// Appends the protobuf encoding to `out`.
    pub fn encode(&self, out: &mut Vec<u8>) {
        put_bytes_field(1, &self.identity_key, out);
        put_bytes_field(2, &self.identity_sig, out);
        if let Some(ext) = &self.extensions {
            let mut inner = Vec::new();
            ext.encode(&mut inner);
            put_bytes_field(4, &inner, out);
        }
    }

    /// The protobuf encoding.
    pub fn to_vec(&self) -> Vec<u8> {
        let mut out = Vec::new();
        self.encode(&mut out);
        out
    }

    /// Decodes a payload received from the remote, enforcing the size caps of this module.
    ///
    /// Absent `identity_key` or `identity_sig` decode as empty; the handshake rejects them.
    pub fn decode(mut input: &[u8]) -> Result<Self, NoiseError> {
        let mut payload = NoiseHandshakePayload::default();
        while !input.is_empty() {
            match next_field(&mut input)? {
                Field::Bytes(1, key) => {
                    if key.len() > MAX_IDENTITY_KEY_LEN {
                        return Err(NoiseError::MalformedPayload("identity_key too long"));
                    }
                    payload.identity_key = key.to_vec();
                }
                Field::Bytes(2, sig) => {
                    if sig.len() > MAX_IDENTITY_SIG_LEN {
                        return Err(NoiseError::MalformedPayload("identity_sig too long"));
                    }
                    payload.identity_sig = sig.to_vec();
                }
                Field::Bytes(4, ext) => {
                    // Repeated occurrences of an embedded message merge (protobuf rules).
                    let extensions = payload.extensions.get_or_insert_with(Default::default);
                    extensions.merge_from(ext)?;
                }
                Field::Bytes(..) | Field::Other => {}
            }
        }
        Ok(payload)
    }
}

impl NoiseExtensions {
    /// Appends the protobuf encoding to `out`.
    pub fn encode(&self, out: &mut Vec<u8>) {
        for hash in &self.webtransport_certhashes {
            put_bytes_field(1, hash, out);
        }
        for muxer in &self.stream_muxers {
            put_bytes_field(2, muxer.as_bytes(), out);
        }
    }

    /// Decodes extensions received from the remote, enforcing the size caps of this module.
    pub fn decode(input: &[u8]) -> Result<Self, NoiseError> {
        let mut extensions = NoiseExtensions::default();
        extensions.merge_from(input)?;
        Ok(extensions)
    }

    fn merge_from(&mut self, mut input: &[u8]) -> Result<(), NoiseError> {
        while !input.is_empty() {
            match next_field(&mut input)? {
                Field::Bytes(1, hash) => {
                    if hash.len() > MAX_CERTHASH_LEN {
                        return Err(NoiseError::MalformedPayload("certhash too long"));
                    }
                    if self.webtransport_certhashes.len() >= MAX_EXTENSION_ENTRIES {
                        return Err(NoiseError::MalformedPayload("too many certhashes"));
                    }
                    self.webtransport_certhashes.push(hash.to_vec());
                }
                Field::Bytes(2, name) => {
                    if name.len() > MAX_MUXER_NAME_LEN {
                        return Err(NoiseError::MalformedPayload("stream muxer name too long"));
                    }
                    if self.stream_muxers.len() >= MAX_EXTENSION_ENTRIES {
                        return Err(NoiseError::MalformedPayload("too many stream muxers"));
                    }
                    let name = std::str::from_utf8(name)
                        .map_err(|_| NoiseError::MalformedPayload("stream muxer is not UTF-8"))?;
                    self.stream_muxers.push(name.to_owned());
                }
                Field::Bytes(..) | Field::Other => {}
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn encodes_fields_in_order() {
        let payload = NoiseHandshakePayload {
            identity_key: vec![1, 2],
            identity_sig: vec![3],
            extensions: Some(NoiseExtensions {
                webtransport_certhashes: vec![vec![9]],
                stream_muxers: vec!["/yamux/1.0.0".into()],
            }),
        };
        let bytes = payload.to_vec();
        let mut expected = vec![0x0a, 2, 1, 2, 0x12, 1, 3, 0x22, 17, 0x0a, 1, 9, 0x12, 12];
        expected.extend_from_slice(b"/yamux/1.0.0");
        assert_eq!(bytes, expected);
        assert_eq!(NoiseHandshakePayload::decode(&bytes).unwrap(), payload);
    }

    #[test]
    fn skips_unknown_fields_and_merges_extensions() {
        // field 3 (bytes, legacy `data`), field 5 varint, field 6 fixed32, field 7 fixed64,
        // then extensions twice.
        let mut bytes = vec![0x1a, 1, 0xff, 0x28, 0x96, 0x01, 0x35, 0, 0, 0, 0];
        bytes.extend_from_slice(&[0x39, 0, 0, 0, 0, 0, 0, 0, 0]);
        bytes.extend_from_slice(&[0x22, 3, 0x12, 1, b'a', 0x22, 3, 0x12, 1, b'b']);
        let payload = NoiseHandshakePayload::decode(&bytes).unwrap();
        assert!(payload.identity_key.is_empty());
        assert_eq!(payload.extensions.unwrap().stream_muxers, vec!["a", "b"]);
    }

    #[test]
    fn rejects_malformed_input() {
        for bad in [
            &[0x0a, 5, 1][..],             // length beyond the end
            &[0x0b][..],                   // wire type 3 (group)
            &[0x02, 0][..],                // field number 0
            &[0x22, 2, 0x12, 1][..],       // truncated inner field
            &[0x22, 3, 0x12, 1, 0xff][..], // muxer not UTF-8
            &[0x0a, 0x80][..],             // truncated varint length
            &[0x39, 0, 0][..],             // truncated fixed64
        ] {
            assert!(
                matches!(
                    NoiseHandshakePayload::decode(bad),
                    Err(NoiseError::MalformedPayload(_))
                ),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn enforces_caps() {
        let too_long_key = NoiseHandshakePayload {
            identity_key: vec![0; MAX_IDENTITY_KEY_LEN + 1],
            ..Default::default()
        };
        assert!(NoiseHandshakePayload::decode(&too_long_key.to_vec()).is_err());
        let many = NoiseHandshakePayload {
            extensions: Some(NoiseExtensions {
                stream_muxers: vec!["m".into(); MAX_EXTENSION_ENTRIES + 1],
                ..Default::default()
            }),
            ..Default::default()
        };
        assert!(NoiseHandshakePayload::decode(&many.to_vec()).is_err());
        let at_cap = NoiseHandshakePayload {
            identity_key: vec![0; MAX_IDENTITY_KEY_LEN],
            identity_sig: vec![0; MAX_IDENTITY_SIG_LEN],
            extensions: Some(NoiseExtensions {
                stream_muxers: vec!["m".repeat(MAX_MUXER_NAME_LEN); MAX_EXTENSION_ENTRIES],
                webtransport_certhashes: vec![vec![7; MAX_CERTHASH_LEN]; MAX_EXTENSION_ENTRIES],
            }),
        };
        assert_eq!(
            NoiseHandshakePayload::decode(&at_cap.to_vec()).unwrap(),
            at_cap
        );
    }

    fn arb_payload() -> impl Strategy<Value = NoiseHandshakePayload> {
        let ext = proptest::option::of(
            (
                proptest::collection::vec(proptest::collection::vec(any::<u8>(), 0..40), 0..4),
                proptest::collection::vec("[ -~]{0,30}", 0..4),
            )
                .prop_map(|(webtransport_certhashes, stream_muxers)| NoiseExtensions {
                    webtransport_certhashes,
                    stream_muxers,
                }),
        );
        (
            proptest::collection::vec(any::<u8>(), 0..200),
            proptest::collection::vec(any::<u8>(), 0..200),
            ext,
        )
            .prop_map(
                |(identity_key, identity_sig, extensions)| NoiseHandshakePayload {
                    identity_key,
                    identity_sig,
                    extensions,
                },
            )
    }

    proptest! {
        #[test]
        fn round_trips(payload in arb_payload()) {
            prop_assert_eq!(NoiseHandshakePayload::decode(&payload.to_vec()).unwrap(), payload);
        }

        #[test]
        fn decode_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..300)) {
            let _ = NoiseHandshakePayload::decode(&bytes);
        }
    }
}
