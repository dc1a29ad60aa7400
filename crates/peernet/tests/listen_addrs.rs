//! Listening on an unspecified address (`0.0.0.0`, `::`) announces the machine's interface
//! addresses: at least loopback, never the unspecified address itself; each is dialable.

use peernet::{Keypair, Multiaddr};

mod support;

#[tokio::test]
async fn unspecified_listen_addresses_expand_to_interface_addresses() {
    let server = support::tcp_quic_swarm();
    let bound = server
        .listen(&[
            "/ip4/0.0.0.0/tcp/0".parse().unwrap(),
            "/ip4/0.0.0.0/udp/0/quic-v1".parse().unwrap(),
        ])
        .await
        .unwrap()
        .listening;
    // The swarm keeps what it bound…
    assert!(bound.iter().all(|a| a.ip_addr().unwrap().is_unspecified()));
    assert_eq!(server.listen_addrs(), bound);
    // …and announces interface addresses with the same ports.
    let announced = server.interface_listen_addrs();
    for b in &bound {
        let port = b.socket_addr().unwrap().port();
        let same: Vec<&Multiaddr> = announced
            .iter()
            .filter(|a| {
                a.transport_kind() == b.transport_kind() && a.socket_addr().unwrap().port() == port
            })
            .collect();
        assert!(same.first().unwrap().is_loopback(), "{announced:?}");
        assert!(same.iter().all(|a| a.ip_addr().unwrap().is_ipv4()));
    }
    assert!(
        announced
            .iter()
            .all(|a| !a.ip_addr().unwrap().is_unspecified()),
        "{announced:?}"
    );
    assert_eq!(
        announced.len() % 2,
        0,
        "one TCP and one QUIC address per interface: {announced:?}"
    );
    // The announced loopback addresses reach the server.
    let client = support::tcp_quic_swarm();
    for addr in announced.iter().filter(|a| a.is_loopback()) {
        let conn = client
            .dial_peer(server.local_peer(), vec![addr.clone()])
            .await
            .unwrap();
        assert_eq!(conn.remote_peer(), server.local_peer());
        client.close_peer(server.local_peer()).await;
    }
    client.close().await;
    server.close().await;
}

#[tokio::test]
async fn a_swarm_on_an_unspecified_address_never_dials_its_own_interface_addresses() {
    let node = support::tcp_quic_swarm();
    let bound = node
        .listen(&["/ip4/0.0.0.0/tcp/0".parse().unwrap()])
        .await
        .unwrap()
        .listening;
    let port = bound[0].socket_addr().unwrap().port();
    let own: Multiaddr = format!("/ip4/127.0.0.1/tcp/{port}").parse().unwrap();
    let someone = Keypair::generate_ed25519().to_peer_id();
    let err = node
        .dial_peer(&someone, vec![own.clone()])
        .await
        .unwrap_err();
    let peernet::SwarmError::Dial(e) = err else {
        panic!("expected a dial error, got {err:?}")
    };
    assert!(
        matches!(
            e.error_for(&own),
            Some(peernet::core::dial::AddrDialError::OwnListenAddr)
        ),
        "{e}"
    );
    node.close().await;
}
