//! The devp2p message decoders on arbitrary bytes: RLP (strict; what decodes re-encodes to the
//! same bytes), Hello (re-encoding a decoded Hello decodes to the same Hello), Disconnect, and
//! enode URLs.
#![no_main]

use libfuzzer_sys::fuzz_target;
use peernet_devp2p::{decode_disconnect, rlp, Enode, Hello};

fuzz_target!(|data: &[u8]| {
    if let Ok(v) = rlp::Value::decode(data) {
        assert_eq!(v.to_vec(), data);
    }
    if let Ok(h) = Hello::decode(data) {
        let again = Hello::decode(&h.encode()).unwrap();
        // Names and client ids were decoded lossily from bytes; compare after one pass.
        assert_eq!(Hello::decode(&again.encode()).unwrap(), again);
    }
    let _ = decode_disconnect(data);
    if let Ok(s) = std::str::from_utf8(data) {
        if let Ok(e) = s.parse::<Enode>() {
            assert_eq!(e.to_string().parse::<Enode>().unwrap(), e);
        }
    }
});
