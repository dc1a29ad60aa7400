//! Multiaddr binary parsing on arbitrary bytes. When the bytes parse, the address must keep them
//! exactly, re-encode component by component to them, and survive a trip through its text form.
#![no_main]

use libfuzzer_sys::fuzz_target;
use peernet_core::multiaddr::Multiaddr;

fuzz_target!(|data: &[u8]| {
    let Ok(addr) = Multiaddr::from_bytes(data) else {
        return;
    };
    assert_eq!(addr.as_bytes(), data);
    let rebuilt: Multiaddr = addr.iter().collect();
    assert_eq!(rebuilt, addr);
    if !addr.is_empty() {
        let text = addr.to_string();
        let reparsed: Multiaddr = text.parse().expect("printed multiaddr must parse");
        assert_eq!(reparsed, addr, "text {text}");
        assert_eq!(reparsed.to_string(), text);
    }
    // The helpers must not panic on any valid address.
    let _ = (
        addr.peer_id(),
        addr.ip_addr(),
        addr.socket_addr(),
        addr.transport_kind(),
    );
    let _ = (
        addr.is_loopback(),
        addr.is_private(),
        addr.is_public(),
        addr.is_relayed(),
    );
    let mut popped = addr.clone();
    if let Some(last) = popped.pop() {
        assert_eq!(popped.with(last), addr);
    }
});
