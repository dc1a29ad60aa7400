//! Entry points for the fuzz targets (hidden from the documentation, not part of the API).
//!
//! Random bytes almost never authenticate as a Noise message, so a fuzzer feeding raw messages
//! stops at the AEAD check. These helpers encrypt the fuzzer's bytes correctly as the remote's
//! handshake payload, so that payload decoding, identity key parsing, signature checking and
//! muxer negotiation see arbitrary input.

use super::handshake::Handshake;
use super::xx::{self, DhKeypair};
use super::NoiseError;
use crate::Keypair;

fn framed(msg: &[u8]) -> Vec<u8> {
    let mut out = (msg.len().min(u16::MAX as usize) as u16)
        .to_be_bytes()
        .to_vec();
    out.extend_from_slice(msg);
    out
}

/// A real initiator receives message 2 whose encrypted payload is `payload`.
pub fn initiator_reads_payload(payload: &[u8]) -> Result<(), NoiseError> {
    let identity = Keypair::ed25519_from_seed(1);
    let mut init = Handshake::initiator(&identity, None, &["/yamux/1.0.0"]);
    let mut wire = Vec::new();
    init.poll_transmit(&mut wire);
    let e = wire.get(2..).unwrap_or_default();
    let resp = xx::ResponderStart::new(&[], DhKeypair::generate(), DhKeypair::generate());
    let resp = resp.read_message1(e, &mut Vec::new())?;
    let mut msg = Vec::new();
    resp.write_message2(payload, &mut msg)?;
    init.handle_input(&framed(&msg))?;
    init.poll_transmit(&mut Vec::new());
    init.finish().map(|_| ())
}

/// A real responder receives message 3 whose encrypted payload is `payload`.
pub fn responder_reads_payload(payload: &[u8]) -> Result<(), NoiseError> {
    let identity = Keypair::ed25519_from_seed(2);
    let mut resp = Handshake::responder(&identity, None, &["/yamux/1.0.0"]);
    let init = xx::InitiatorStart::new(&[], DhKeypair::generate(), DhKeypair::generate());
    let mut msg = Vec::new();
    let init = init.write_message1(&[], &mut msg)?;
    resp.handle_input(&framed(&msg))?;
    let mut wire = Vec::new();
    resp.poll_transmit(&mut wire);
    let init = init.read_message2(wire.get(2..).unwrap_or_default(), &mut Vec::new())?;
    let mut msg = Vec::new();
    init.write_message3(payload, &mut msg)?;
    resp.handle_input(&framed(&msg))?;
    resp.finish().map(|_| ())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::noise::NoiseHandshakePayload;

    /// The helpers must get the fuzzer's bytes past the AEAD, into payload verification.
    #[test]
    fn payloads_reach_verification() {
        let payload = NoiseHandshakePayload {
            identity_key: Keypair::ed25519_from_seed(5)
                .public()
                .to_protobuf_encoding(),
            identity_sig: vec![0; 64],
            extensions: None,
        }
        .to_vec();
        assert_eq!(
            initiator_reads_payload(&payload),
            Err(NoiseError::InvalidSignature)
        );
        assert_eq!(
            responder_reads_payload(&payload),
            Err(NoiseError::InvalidSignature)
        );
        assert!(matches!(
            responder_reads_payload(&[0xff]),
            Err(NoiseError::MalformedPayload(_))
        ));
    }
}
