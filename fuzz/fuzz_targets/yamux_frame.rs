//! yamux frame header decoding on arbitrary bytes: never panics, and whatever decodes
//! re-encodes to the same 12 bytes.
#![no_main]

use libfuzzer_sys::fuzz_target;
use peernet_core::yamux::Header;

fuzz_target!(|data: &[u8]| {
    if let Ok(Some(header)) = Header::decode_prefix(data) {
        assert_eq!(&header.encode()[..], &data[..12]);
    }
});
