//! Identify messages on arbitrary bytes: the message decoder and the framed stream reader;
//! whatever decodes re-encodes to a message that decodes to the same value.
#![no_main]

use libfuzzer_sys::fuzz_target;
use peernet_core::identify::{Identify, IdentifyReader};

fuzz_target!(|data: &[u8]| {
    if let Ok(msg) = Identify::from_protobuf_encoding(data) {
        let mut again = Identify::from_protobuf_encoding(&msg.to_protobuf_encoding())
            .expect("re-encoded Identify decodes");
        again.skipped_addrs = msg.skipped_addrs;
        assert_eq!(again, msg);
    }
    let mut reader = IdentifyReader::new();
    for chunk in data.chunks(7) {
        if reader.push(chunk).is_err() {
            return;
        }
    }
    let _ = reader.finish();
});
