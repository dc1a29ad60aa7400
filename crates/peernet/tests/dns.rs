//! DNS addresses end to end: the swarm resolves `/dns4` and `/dns` names before its dial
//! ranking (TCP and QUIC), a name that resolves to nothing fails with a typed error naming the
//! name, and a bare [`Transport`] dials names too. `localhost` is answered without the network
//! (RFC 6761) and `.invalid` names never resolve, so none of this needs a DNS server.

use peernet::core::dial::{AddrDialError, DialErrorCause};
use peernet::services::echo;
use peernet::{
    DnsError, Keypair, Multiaddr, QuicConfig, QuicTransport, Swarm, SwarmConfig, SwarmError,
    TcpConfig, TcpTransport, Transport, TransportError, Upgrader, QUIC_MUXER,
};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// A swarm with TCP and QUIC for one identity, serving echo.
fn swarm() -> Swarm {
    let keypair = Keypair::generate_ed25519();
    let swarm = Swarm::new(Upgrader::new(keypair.clone()), SwarmConfig::default());
    swarm
        .add_transport(TcpTransport::new(
            swarm.upgrader().clone(),
            TcpConfig::default(),
        ))
        .unwrap();
    swarm
        .add_transport(QuicTransport::new(&keypair, QuicConfig::default()).unwrap())
        .unwrap();
    swarm.set_stream_handler(echo::PROTOCOL, |mut s| async move {
        let _ = echo::serve(&mut s).await;
    });
    swarm
}

/// The port of a listen address.
fn port(addr: &Multiaddr) -> u16 {
    addr.socket_addr().unwrap().port()
}

async fn echo_roundtrip(client: &Swarm, server: &Swarm, msg: &[u8]) {
    let mut s = client
        .new_stream(server.local_peer(), &[echo::PROTOCOL])
        .await
        .unwrap();
    s.write_all(msg).await.unwrap();
    s.shutdown().await.unwrap();
    let mut back = Vec::new();
    s.read_to_end(&mut back).await.unwrap();
    assert_eq!(back, msg);
}

#[tokio::test]
async fn swarm_resolves_names_before_ranking_and_reaches_the_peer_over_quic() {
    let server = swarm();
    let listening = server
        .listen(&[
            "/ip4/127.0.0.1/tcp/0".parse().unwrap(),
            "/ip4/127.0.0.1/udp/0/quic-v1".parse().unwrap(),
        ])
        .await
        .unwrap()
        .listening;
    let (tcp, quic) = (port(&listening[0]), port(&listening[1]));
    let id = server.local_peer().clone();
    let client = swarm();
    client.add_peer_addrs(
        &id,
        [
            format!("/dns4/localhost/tcp/{tcp}/p2p/{id}")
                .parse()
                .unwrap(),
            format!("/dns4/localhost/udp/{quic}/quic-v1")
                .parse()
                .unwrap(),
        ],
    );
    echo_roundtrip(&client, &server, b"by name").await;
    let conns = client.conns_to_peer(&id);
    assert_eq!(conns.len(), 1);
    // Resolved, then ranked: QUIC first, and the connection's address is the IP one.
    assert_eq!(conns[0].muxer(), QUIC_MUXER);
    assert_eq!(
        conns[0].remote_addr().to_string(),
        format!("/ip4/127.0.0.1/udp/{quic}/quic-v1")
    );
    client.close().await;
    server.close().await;
}

#[tokio::test]
async fn swarm_dial_to_a_name_that_resolves_to_nothing_names_the_name() {
    let server = swarm();
    let client = swarm();
    let addr: Multiaddr = "/dns4/no-such-peer.invalid/tcp/4001".parse().unwrap();
    let err = client
        .dial_peer(server.local_peer(), vec![addr.clone()])
        .await
        .unwrap_err();
    let SwarmError::Dial(e) = err else {
        panic!("expected a dial error, got {err:?}")
    };
    assert_eq!(e.cause, DialErrorCause::NoGoodAddresses);
    let cause = e.error_for(&addr).expect("the address's error is reported");
    assert!(matches!(cause, AddrDialError::Resolve(_)), "{cause:?}");
    assert!(
        e.to_string()
            .contains("DNS name no-such-peer.invalid resolved to no address"),
        "{e}"
    );
    client.close().await;
    server.close().await;
}

#[tokio::test]
async fn a_name_that_fails_does_not_stop_the_others() {
    let server = swarm();
    let listening = server
        .listen(&["/ip4/127.0.0.1/tcp/0".parse().unwrap()])
        .await
        .unwrap()
        .listening;
    let client = swarm();
    let id = server.local_peer().clone();
    let addrs = vec![
        "/dns4/gone.invalid/tcp/1".parse().unwrap(),
        format!("/dns/localhost/tcp/{}", port(&listening[0]))
            .parse()
            .unwrap(),
    ];
    let conn = client.dial_peer(&id, addrs).await.unwrap();
    assert_eq!(conn.remote_peer(), &id);
    client.close().await;
    server.close().await;
}

#[tokio::test]
async fn a_bare_transport_dials_names_over_tcp_and_quic() {
    let server_key = Keypair::generate_ed25519();
    let id = server_key.public().to_peer_id();
    let server_tcp = TcpTransport::new(Upgrader::new(server_key.clone()), TcpConfig::default());
    let tcp_listener = server_tcp
        .listen(&"/ip4/127.0.0.1/tcp/0".parse().unwrap())
        .unwrap();
    let server_quic = QuicTransport::new(&server_key, QuicConfig::default()).unwrap();
    let quic_listener = server_quic
        .listen(&"/ip4/127.0.0.1/udp/0/quic-v1".parse().unwrap())
        .unwrap();

    let client_key = Keypair::generate_ed25519();
    let tcp = Transport::from(TcpTransport::new(
        Upgrader::new(client_key.clone()),
        TcpConfig::default(),
    ));
    let quic = Transport::from(QuicTransport::new(&client_key, QuicConfig::default()).unwrap());

    let addr: Multiaddr = format!(
        "/dns4/localhost/tcp/{}/p2p/{id}",
        port(tcp_listener.local_addr())
    )
    .parse()
    .unwrap();
    assert!(tcp.can_handle(&addr) && !quic.can_handle(&addr));
    let conn = tcp.dial(&addr, None).await.unwrap();
    assert_eq!(conn.remote_peer(), &id);
    assert!(conn
        .remote_addr()
        .to_string()
        .starts_with("/ip4/127.0.0.1/tcp/"));

    let addr: Multiaddr = format!(
        "/dns/localhost/udp/{}/quic-v1",
        port(quic_listener.local_addr())
    )
    .parse()
    .unwrap();
    assert!(quic.can_handle(&addr) && !tcp.can_handle(&addr));
    let conn = quic.dial(&addr, Some(id.clone())).await.unwrap();
    assert_eq!(conn.remote_peer(), &id);

    let err = tcp
        .dial(&"/dns6/nothing.invalid/tcp/1".parse().unwrap(), None)
        .await
        .unwrap_err();
    assert!(
        matches!(&err, TransportError::Dns(DnsError::NoAddress { name }) if name == "nothing.invalid"),
        "{err:?}"
    );
}
