//! Arbitrary bytes against the Noise handshake, by the first byte:
//! - 0, 1: as the raw inbound messages of a responder (messages 1 and 3) or an initiator
//!   (message 2), fed in two chunks split at the second byte;
//! - 2, 3: as the payload of a correctly encrypted message 2 (to a real initiator) or message 3
//!   (to a real responder), which reaches payload decoding, identity key parsing, signature
//!   checks and muxer negotiation past the AEAD.
//!
//! Must end in a typed error or a waiting state, never a panic, and never consume bytes beyond
//! what was given.
#![no_main]

use libfuzzer_sys::fuzz_target;
use peernet_core::noise::{fuzzing, Handshake};
use peernet_core::Keypair;

fuzz_target!(|data: &[u8]| {
    let [role, split, input @ ..] = data else {
        return;
    };
    // A payload cannot carry a valid signature over a static key generated afresh for this
    // run, so success would mean a forged identity was accepted.
    match role % 4 {
        2 => {
            assert!(fuzzing::initiator_reads_payload(&data[1..]).is_err());
            return;
        }
        3 => {
            assert!(fuzzing::responder_reads_payload(&data[1..]).is_err());
            return;
        }
        _ => {}
    }
    let identity = Keypair::ed25519_from_seed(7);
    let mut hs = if role % 2 == 0 {
        Handshake::responder(&identity, None, &["/yamux/1.0.0"])
    } else {
        let mut hs = Handshake::initiator(&identity, None, &["/yamux/1.0.0"]);
        hs.poll_transmit(&mut Vec::new());
        hs
    };
    let split = usize::from(*split).min(input.len());
    let (first, second) = input.split_at(split);
    let mut out = Vec::new();
    for chunk in [first, second] {
        match hs.handle_input(chunk) {
            Ok(n) => assert!(n <= chunk.len()),
            Err(_) => return,
        }
        hs.poll_transmit(&mut out);
    }
    if hs.is_finished() {
        let _ = hs.finish();
    }
});
