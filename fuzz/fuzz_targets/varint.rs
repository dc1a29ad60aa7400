//! Varint decoding and length-prefixed frame extraction on arbitrary bytes.
#![no_main]

use libfuzzer_sys::fuzz_target;
use peernet_core::varint;

fuzz_target!(|data: &[u8]| {
    if let Ok((value, rest)) = varint::decode(data) {
        let mut out = Vec::new();
        varint::encode(value, &mut out);
        assert_eq!(out.len() + rest.len(), data.len());
    }
    let _ = varint::take_frame(data, 1 << 16);
});
