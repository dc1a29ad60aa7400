//! Arbitrary bytes as the inbound Noise handshake messages: the responder's messages 1 and 3
//! (first byte even) or the initiator's message 2 (first byte odd), fed in two chunks at an
//! offset chosen by the second byte. Must end in a typed error or a waiting state, never a
//! panic, and never consume bytes beyond what was given.
#![no_main]

use libfuzzer_sys::fuzz_target;
use peernet_core::noise::Handshake;
use peernet_core::Keypair;

fuzz_target!(|data: &[u8]| {
    let [role, split, input @ ..] = data else {
        return;
    };
    let identity = Keypair::ed25519_from_seed(7);
    let mut hs = if role % 2 == 0 {
        Handshake::responder(&identity, None, &["/yamux/1.0.0"])
    } else {
        let mut hs = Handshake::initiator(&identity, None, &["/yamux/1.0.0"]);
        hs.write_output(&mut Vec::new());
        hs
    };
    let split = usize::from(*split).min(input.len());
    let (first, second) = input.split_at(split);
    let mut out = Vec::new();
    for chunk in [first, second] {
        match hs.read_input(chunk) {
            Ok(n) => assert!(n <= chunk.len()),
            Err(_) => return,
        }
        hs.write_output(&mut out);
    }
    if hs.is_finished() {
        let _ = hs.finish();
    }
});
