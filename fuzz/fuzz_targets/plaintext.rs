//! The /plaintext/2.0.0 handshake on arbitrary bytes: framing, Exchange decoding and the id/key
//! checks.
#![no_main]

use libfuzzer_sys::fuzz_target;
use peernet_core::plaintext::{Exchange, Handshake};
use peernet_core::Keypair;

fuzz_target!(|data: &[u8]| {
    let handshake = Handshake::new(&Keypair::ed25519_from_seed(1), None);
    if let Ok(Some(remote)) = handshake.handle_input(data) {
        assert!(remote.consumed <= data.len());
        assert_eq!(remote.public_key.to_peer_id(), remote.peer_id);
    }
    if let Ok(exchange) = Exchange::from_protobuf_encoding(data) {
        let again = Exchange::from_protobuf_encoding(&exchange.to_protobuf_encoding())
            .expect("re-encoded Exchange decodes");
        assert_eq!(again, exchange);
    }
});
