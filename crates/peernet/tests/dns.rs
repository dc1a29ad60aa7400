//! DNS addresses end to end: the swarm resolves `/dns4` and `/dns` names before its dial
//! ranking (TCP and QUIC), a name that resolves to nothing fails with a typed error naming the
//! name, and a bare [`Transport`] dials names too. `localhost` is answered without the network
//! (RFC 6761) and `.invalid` names never resolve, so none of this needs a DNS server. Hosts
//! connect over plain and secure WebSocket by name.

use peernet::core::dial::{AddrDialError, DialErrorCause};
use peernet::{
    DnsError, Keypair, Multiaddr, QuicConfig, QuicTransport, Swarm, SwarmError, TcpConfig,
    TcpTransport, Transport, TransportError, Upgrader, QUIC_MUXER,
};

mod support;

/// The port of a listen address.
fn port(addr: &Multiaddr) -> u16 {
    addr.socket_addr().unwrap().port()
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
    support::echo_roundtrip(&client, server.local_peer(), b"by name").await;
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

/// A CA and a `localhost` certificate it signed, as a listening and dialing WebSocket TLS
/// configuration.
fn ws_tls() -> peernet::WsTlsConfig {
    let ca_key = rcgen::KeyPair::generate().unwrap();
    let mut params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
    params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    let ca = params.self_signed(&ca_key).unwrap();
    let leaf_key = rcgen::KeyPair::generate().unwrap();
    let leaf = rcgen::CertificateParams::new(vec!["localhost".to_string()])
        .unwrap()
        .signed_by(&leaf_key, &ca, &ca_key)
        .unwrap();
    let mut roots = rustls::RootCertStore::empty();
    roots.add(ca.der().clone()).unwrap();
    peernet::WsTlsConfig::new()
        .with_certificate(
            vec![leaf.der().clone()],
            rustls::pki_types::PrivateKeyDer::Pkcs8(leaf_key.serialize_der().into()),
        )
        .unwrap()
        .with_roots(roots)
        .unwrap()
}

#[tokio::test]
async fn hosts_connect_over_websocket_by_name_plain_and_secure() {
    let tls = ws_tls();
    let server = peernet::Host::builder()
        .listen_addrs([
            "/ip4/127.0.0.1/tcp/0/ws".parse().unwrap(),
            "/ip4/127.0.0.1/tcp/0/tls/ws".parse().unwrap(),
        ])
        .ws_tls(tls.clone())
        .build()
        .await
        .unwrap();
    let addrs = server.listen_addrs();
    assert_eq!(addrs.len(), 2, "{addrs:?}");
    for addr in &addrs {
        // The swarm resolves `/tls/ws` names to `/tls/sni/localhost/ws` before ranking, and
        // leaves plain `/ws` names to the WebSocket transport (the name is the HTTP Host).
        let by_name: Multiaddr = addr
            .to_string()
            .replace("/ip4/127.0.0.1/", "/dns4/localhost/")
            .parse()
            .unwrap();
        let client = peernet::Host::builder()
            .no_listen()
            .ws_tls(tls.clone())
            .build()
            .await
            .unwrap();
        client
            .connect(peernet::AddrInfo {
                peer_id: server.id().clone(),
                addrs: vec![by_name.clone()],
            })
            .await
            .unwrap();
        let conns = client.swarm().conns_to_peer(server.id());
        assert_eq!(conns.len(), 1, "{by_name}");
        assert_eq!(&conns[0].remote_addr().without_p2p(), addr, "{by_name}");
        client.close().await;
    }
    server.close().await;
}

/// A swarm with TCP and QUIC for one identity, serving echo.
fn swarm() -> Swarm {
    let swarm = support::tcp_quic_swarm();
    support::serve_echo(&swarm);
    swarm
}
