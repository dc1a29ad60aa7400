//! multistream-select: message decoding and both state machines on arbitrary bytes.
#![no_main]

use libfuzzer_sys::fuzz_target;
use peernet_core::multistream::{Dialer, Listener, Message};

fuzz_target!(|data: &[u8]| {
    if let Ok(Some((message, n))) = Message::decode(data, false) {
        let mut out = Vec::new();
        message.encode(&mut out);
        assert_eq!(out.as_slice(), &data[..n]);
    }
    let _ = Message::decode(data, true);
    let mut listener = Listener::new();
    if let Ok(n) = listener.handle_input(data, &mut |p| p.len() % 2 == 0, &|| vec!["/a".into()]) {
        assert!(n <= data.len());
    }
    if let Ok(mut dialer) = Dialer::new(["/a", "/b", "/c"]) {
        if let Ok(n) = dialer.handle_input(data) {
            assert!(n <= data.len());
        }
    }
});
