//! Multiaddr text parsing on arbitrary UTF-8. When the text parses, its bytes must parse back to
//! the same address, and its printed form must parse to the same address and print the same.
#![no_main]

use libfuzzer_sys::fuzz_target;
use peernet_core::multiaddr::Multiaddr;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(addr) = text.parse::<Multiaddr>() else {
        return;
    };
    let from_bytes = Multiaddr::from_bytes(addr.as_bytes()).expect("encoded multiaddr must parse");
    assert_eq!(from_bytes, addr);
    let printed = addr.to_string();
    let reparsed: Multiaddr = printed.parse().expect("printed multiaddr must parse");
    assert_eq!(reparsed, addr, "{text:?} printed as {printed:?}");
    assert_eq!(reparsed.to_string(), printed);
});
