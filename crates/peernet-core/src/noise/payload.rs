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
//! Decoding (with the crate's strict protobuf reader) skips unknown fields, refuses a repeated
//! non-repeated field, and caps every length and list so that a hostile payload cannot make the
//! decoder hold more than a few kilobytes beyond the message itself.

use super::NoiseError;
use crate::protobuf::{set_once, Reader, Writer};

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

impl NoiseHandshakePayload {
    /// Appends the protobuf encoding to `out`.
    pub fn encode(&self, out: &mut Vec<u8>) {
        let mut w = Writer::new(out);
        w.bytes(1, &self.identity_key);
        w.bytes(2, &self.identity_sig);
        if let Some(ext) = &self.extensions {
            w.message(4, |w| ext.write(w));
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
    /// Unknown fields are skipped; a non-repeated field that appears twice is refused (libp2p
    /// encoders never repeat one). Absent `identity_key` or `identity_sig` decode as empty; the
    /// handshake rejects them.
    pub fn decode(input: &[u8]) -> Result<Self, NoiseError> {
        let (mut key, mut sig, mut extensions) = (None, None, None);
        let mut r = Reader::new(input);
        while let Some(field) = r.next_field()? {
            match field.number {
                1 => set_once(&mut key, 1, field.bytes(MAX_IDENTITY_KEY_LEN)?)?,
                2 => set_once(&mut sig, 2, field.bytes(MAX_IDENTITY_SIG_LEN)?)?,
                4 => {
                    let ext = NoiseExtensions::decode(field.bytes(usize::MAX)?)?;
                    set_once(&mut extensions, 4, ext)?;
                }
                _ => {}
            }
        }
        Ok(NoiseHandshakePayload {
            identity_key: key.unwrap_or_default().to_vec(),
            identity_sig: sig.unwrap_or_default().to_vec(),
            extensions,
        })
    }
}

impl NoiseExtensions {
    /// Appends the protobuf encoding to `out`.
    pub fn encode(&self, out: &mut Vec<u8>) {
        self.write(&mut Writer::new(out));
    }

    fn write(&self, w: &mut Writer<'_>) {
        for hash in &self.webtransport_certhashes {
            w.bytes(1, hash);
        }
        for muxer in &self.stream_muxers {
            w.bytes(2, muxer.as_bytes());
        }
    }

    /// Decodes extensions received from the remote, enforcing the size caps of this module.
    pub fn decode(input: &[u8]) -> Result<Self, NoiseError> {
        let mut ext = NoiseExtensions::default();
        let mut r = Reader::new(input);
        while let Some(field) = r.next_field()? {
            match field.number {
                1 => {
                    let hash = field.bytes(MAX_CERTHASH_LEN)?;
                    if ext.webtransport_certhashes.len() >= MAX_EXTENSION_ENTRIES {
                        return Err(NoiseError::InvalidExtensions("more than 100 certhashes"));
                    }
                    ext.webtransport_certhashes.push(hash.to_vec());
                }
                2 => {
                    let name = field.bytes(MAX_MUXER_NAME_LEN)?;
                    if ext.stream_muxers.len() >= MAX_EXTENSION_ENTRIES {
                        return Err(NoiseError::InvalidExtensions("more than 100 stream muxers"));
                    }
                    let name = std::str::from_utf8(name)
                        .map_err(|_| NoiseError::InvalidExtensions("stream muxer is not UTF-8"))?;
                    ext.stream_muxers.push(name.to_owned());
                }
                _ => {}
            }
        }
        Ok(ext)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ProtobufError;
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
    fn skips_unknown_fields_and_refuses_repeated_singular_fields() {
        // field 3 (bytes, the legacy `data`), field 5 varint, field 6 fixed32, field 7 fixed64,
        // then extensions with two muxers.
        let mut bytes = vec![0x1a, 1, 0xff, 0x28, 0x96, 0x01, 0x35, 0, 0, 0, 0];
        bytes.extend_from_slice(&[0x39, 0, 0, 0, 0, 0, 0, 0, 0]);
        bytes.extend_from_slice(&[0x22, 6, 0x12, 1, b'a', 0x12, 1, b'b']);
        let payload = NoiseHandshakePayload::decode(&bytes).unwrap();
        assert!(payload.identity_key.is_empty());
        assert_eq!(payload.extensions.unwrap().stream_muxers, vec!["a", "b"]);

        for twice in [&[0x0a, 1, 1, 0x0a, 1, 2][..], &[0x22, 0, 0x22, 0][..]] {
            assert!(matches!(
                NoiseHandshakePayload::decode(twice),
                Err(NoiseError::MalformedPayload(ProtobufError::DuplicateField(
                    _
                )))
            ));
        }
    }

    #[test]
    fn rejects_malformed_input() {
        for bad in [
            &[0x0a, 5, 1][..],       // length beyond the end
            &[0x0b][..],             // wire type 3 (group)
            &[0x02, 0][..],          // field number 0
            &[0x22, 2, 0x12, 1][..], // truncated inner field
            &[0x0a, 0x80][..],       // truncated varint length
            &[0x39, 0, 0][..],       // truncated fixed64
            &[0x08, 0x01, 0x0a][..], // truncated after a valid varint field
            &[0x08, 0x01][..],       // identity_key with the varint wire type
        ] {
            assert!(
                matches!(
                    NoiseHandshakePayload::decode(bad),
                    Err(NoiseError::MalformedPayload(_))
                ),
                "{bad:?}"
            );
        }
        assert_eq!(
            NoiseHandshakePayload::decode(&[0x22, 3, 0x12, 1, 0xff]),
            Err(NoiseError::InvalidExtensions("stream muxer is not UTF-8"))
        );
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
