//! Arbitrary bytes as a decrypted Noise handshake payload (`NoiseHandshakePayload` protobuf).
//! Whatever decodes must re-encode to something that decodes to the same value.
#![no_main]

use libfuzzer_sys::fuzz_target;
use peernet_core::noise::{NoiseExtensions, NoiseHandshakePayload};

fuzz_target!(|data: &[u8]| {
    if let Ok(payload) = NoiseHandshakePayload::decode(data) {
        let again = NoiseHandshakePayload::decode(&payload.to_vec()).ok();
        assert_eq!(again.as_ref(), Some(&payload));
    }
    let _ = NoiseExtensions::decode(data);
});
