use peernet_core::{Multiaddr, Protocol};

use crate::swarm::state::transport_code;

fn addr(s: &str) -> Multiaddr {
    s.parse().unwrap()
}

#[test]
fn transport_is_chosen_by_the_last_protocol_and_a_proxy_wins() {
    let tcp = Protocol::Tcp(0).code();
    let circuit = Protocol::P2pCircuit.code();
    assert_eq!(transport_code(&addr("/ip4/1.2.3.4/tcp/1")), Some(tcp));
    let peer = "12D3KooWD3eckifWpRn9wQpMG9R9hX3sD158z7EqHWmweQAJU5SA";
    assert_eq!(
        transport_code(&addr(&format!("/ip4/1.2.3.4/tcp/1/p2p/{peer}"))),
        Some(tcp)
    );
    assert_eq!(
        transport_code(&addr(&format!(
            "/ip4/1.2.3.4/tcp/1/p2p/{peer}/p2p-circuit/p2p/{peer}"
        ))),
        Some(circuit)
    );
    assert_eq!(
        transport_code(&addr("/memory/5")),
        Some(Protocol::Memory(0).code())
    );
    assert_eq!(
        transport_code(&addr("/ip4/1.2.3.4/udp/1/quic-v1")),
        Some(Protocol::QuicV1.code())
    );
}
