//! The WebSocket transport over real loopback sockets: two peernet nodes (Noise and TLS) echo
//! 1 MiB and identify each other through the Host; raw tungstenite peers that send text or
//! oversized messages are refused with typed errors. Secure WebSocket (`/tls/ws`, `/wss`) with
//! an rcgen CA: echo both ways, untrusted and misnamed certificates refused; DNS names dialed
//! with the name as HTTP `Host` and TLS server name.

use std::error::Error;

use futures_util::SinkExt;
use peernet::{
    AddrInfo, DnsError, Host, Keypair, Listener, Multiaddr, SecurityProtocol, TcpConfig,
    TransportError, Upgrader, WsError, WsTlsConfig, WsTransport, MAX_WS_MESSAGE,
};
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use tokio::io::AsyncReadExt;
use tokio_tungstenite::tungstenite::Message;

mod support;

const ECHO: &str = "/echo/1.0.0";

fn transport(seed: u64, security: SecurityProtocol) -> WsTransport {
    let upgrader = Upgrader::new(Keypair::ed25519_from_seed(seed)).with_security(vec![security]);
    WsTransport::new(upgrader, TcpConfig::default())
}

fn loopback_ws() -> Multiaddr {
    "/ip4/127.0.0.1/tcp/0/ws".parse().unwrap()
}

/// Serves `/echo/1.0.0` on every stream of every accepted connection.
fn serve_echo(mut listener: Listener) {
    tokio::spawn(async move {
        while let Some(conn) = listener.accept().await {
            tokio::spawn(async move {
                while let Some(inbound) = conn.accept_stream().await {
                    tokio::spawn(async move {
                        let negotiated = inbound
                            .negotiate(&mut |p| p == ECHO, &|| vec![ECHO.into()])
                            .await;
                        let Ok(mut stream) = negotiated else { return };
                        let _ = peernet::services::echo::serve(&mut stream).await;
                    });
                }
            });
        }
    });
}

async fn echo_over_ws(security: SecurityProtocol) {
    let server = transport(1, security);
    let client = transport(2, security);
    let listener = server.listen(&loopback_ws()).unwrap();
    let addr = listener.local_addr().clone();
    assert!(addr.to_string().ends_with("/ws"), "{addr}");
    serve_echo(listener);
    let server_id = Keypair::ed25519_from_seed(1).to_peer_id();
    let conn = client
        .dial(&addr.clone().with_p2p(&server_id).unwrap(), None)
        .await
        .unwrap();
    assert_eq!(conn.remote_peer(), &server_id);
    assert_eq!(conn.security(), security.protocol_id());
    assert_eq!(conn.muxer(), "/yamux/1.0.0");
    assert!(conn.remote_addr().to_string().ends_with("/ws"));
    let data = support::pattern(1 << 20);
    assert_eq!(support::echo_on(&conn, &[ECHO], &data).await, data);
    // Several streams at once over the one WebSocket.
    let mut tasks = Vec::new();
    for i in 0..8 {
        let conn = conn.clone();
        tasks.push(tokio::spawn(async move {
            let data = support::pattern(1000 + i * 7777);
            assert_eq!(support::echo_on(&conn, &[ECHO], &data).await, data);
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
}

#[tokio::test]
async fn noise_echo_over_websocket() {
    echo_over_ws(SecurityProtocol::Noise).await;
}

#[tokio::test]
async fn tls_echo_over_websocket() {
    echo_over_ws(SecurityProtocol::Tls).await;
}

async fn identify_via_host(security: SecurityProtocol) {
    let server = Host::builder()
        .security(vec![security])
        .listen_addrs([loopback_ws()])
        .build()
        .await
        .unwrap();
    let client = Host::builder()
        .security(vec![security])
        .no_listen()
        .build()
        .await
        .unwrap();
    let addrs = server.listen_addrs();
    assert_eq!(addrs.len(), 1);
    assert!(addrs[0].to_string().ends_with("/ws"), "{}", addrs[0]);
    client
        .connect(AddrInfo {
            peer_id: server.id().clone(),
            addrs: addrs.clone(),
        })
        .await
        .unwrap();
    let info = client.identify(server.id()).await.unwrap();
    assert_eq!(&info.peer, server.id());
    assert_eq!(info.message.listen_addrs, addrs);
    let observed = info.message.observed_addr.unwrap();
    assert!(observed.to_string().ends_with("/ws"), "{observed}");
    client.close().await;
    server.close().await;
}

#[tokio::test]
async fn noise_identify_via_host_over_websocket() {
    identify_via_host(SecurityProtocol::Noise).await;
}

#[tokio::test]
async fn tls_identify_via_host_over_websocket() {
    identify_via_host(SecurityProtocol::Tls).await;
}

/// The [`WsError`] somewhere in `e`'s chain (looking inside `io::Error`s too).
fn find_ws_error<'a>(mut e: &'a (dyn Error + 'static)) -> Option<&'a WsError> {
    loop {
        if let Some(ws) = e.downcast_ref::<WsError>() {
            return Some(ws);
        }
        if let Some(inner) = e
            .downcast_ref::<std::io::Error>()
            .and_then(|io| io.get_ref())
        {
            if let Some(ws) = inner.downcast_ref::<WsError>() {
                return Some(ws);
            }
        }
        e = e.source()?;
    }
}

/// A raw WebSocket server that completes the handshake and sends `msg`; a peernet dial to it
/// fails with the returned error.
async fn dial_raw_server_sending(msg: Message) -> TransportError {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move {
        let (tcp, _) = listener.accept().await.unwrap();
        let mut ws = tokio_tungstenite::accept_async(tcp).await.unwrap();
        let _ = ws.send(msg).await;
        // Keep the connection open until the client gives up.
        while let Some(Ok(_)) = futures_util::StreamExt::next(&mut ws).await {}
    });
    let addr: Multiaddr = format!("/ip4/127.0.0.1/tcp/{port}/ws").parse().unwrap();
    transport(3, SecurityProtocol::Noise)
        .dial(&addr, None)
        .await
        .unwrap_err()
}

#[tokio::test]
async fn text_message_from_peer_is_a_typed_error() {
    let err = dial_raw_server_sending(Message::text("/multistream/1.0.0\n")).await;
    assert!(
        matches!(find_ws_error(&err), Some(WsError::TextFrame)),
        "{err:?}"
    );
}

#[tokio::test]
async fn oversized_message_from_peer_is_a_typed_error() {
    let big = vec![0u8; MAX_WS_MESSAGE + 1];
    let err = dial_raw_server_sending(Message::binary(big)).await;
    assert!(
        matches!(find_ws_error(&err), Some(WsError::Protocol(_))),
        "{err:?}"
    );
}

#[tokio::test]
async fn listener_drops_a_text_sending_client_and_keeps_serving() {
    let server = transport(4, SecurityProtocol::Noise);
    let listener = server.listen(&loopback_ws()).unwrap();
    let addr = listener.local_addr().clone();
    serve_echo(listener);
    let sa = addr.socket_addr().unwrap();
    let (mut ws, _) = tokio_tungstenite::client_async(
        format!("ws://{sa}/"),
        tokio::net::TcpStream::connect(sa).await.unwrap(),
    )
    .await
    .unwrap();
    ws.send(Message::text("hello")).await.unwrap();
    // The server gives up on us: the stream ends (after whatever it had sent) or errors.
    while let Some(Ok(msg)) = futures_util::StreamExt::next(&mut ws).await {
        assert!(!msg.is_text());
    }
    // And still serves well-behaved peers.
    let conn = transport(5, SecurityProtocol::Noise)
        .dial(&addr, None)
        .await
        .unwrap();
    assert_eq!(
        support::echo_on(&conn, &[ECHO], b"still here").await,
        b"still here"
    );
}

#[tokio::test]
async fn secure_websocket_without_tls_config_is_refused_with_a_typed_error() {
    let client = transport(6, SecurityProtocol::Noise);
    for addr in [
        "/ip4/127.0.0.1/tcp/1/wss",
        "/ip4/127.0.0.1/tcp/1/tls/ws",
        "/ip4/127.0.0.1/tcp/1/tls/sni/example.com/ws",
    ] {
        let addr: Multiaddr = addr.parse().unwrap();
        assert!(!client.can_handle(&addr));
        let err = client.dial(&addr, None).await.unwrap_err();
        assert!(
            matches!(err, TransportError::Ws(WsError::TlsNotConfigured(_))),
            "{err:?}"
        );
        let err = client.listen(&addr).unwrap_err();
        assert!(
            matches!(err, TransportError::Ws(WsError::TlsNotConfigured(_))),
            "{err:?}"
        );
    }
    // Plain TCP addresses are not WebSocket ones.
    let tcp: Multiaddr = "/ip4/127.0.0.1/tcp/1".parse().unwrap();
    assert!(!client.can_handle(&tcp));
}

/// A certificate authority and a server certificate it signed for `localhost`.
struct TestPki {
    ca: rcgen::Certificate,
    leaf_chain: Vec<CertificateDer<'static>>,
    leaf_key: PrivateKeyDer<'static>,
}

fn test_pki() -> TestPki {
    let ca_key = rcgen::KeyPair::generate().unwrap();
    let mut ca_params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    ca_params
        .distinguished_name
        .push(rcgen::DnType::CommonName, "peernet test CA");
    let ca = ca_params.self_signed(&ca_key).unwrap();
    let leaf_key = rcgen::KeyPair::generate().unwrap();
    let leaf = rcgen::CertificateParams::new(vec!["localhost".to_string()])
        .unwrap()
        .signed_by(&leaf_key, &ca, &ca_key)
        .unwrap();
    TestPki {
        leaf_chain: vec![leaf.der().clone()],
        leaf_key: PrivateKeyDer::Pkcs8(leaf_key.serialize_der().into()),
        ca,
    }
}

fn roots(ca: &rcgen::Certificate) -> rustls::RootCertStore {
    let mut roots = rustls::RootCertStore::empty();
    roots.add(ca.der().clone()).unwrap();
    roots
}

/// A WebSocket transport that listens with the PKI's certificate and trusts its CA.
fn tls_transport(seed: u64, security: SecurityProtocol, pki: &TestPki) -> WsTransport {
    let tls = WsTlsConfig::new()
        .with_certificate(pki.leaf_chain.clone(), pki.leaf_key.clone_key())
        .unwrap()
        .with_roots(roots(&pki.ca))
        .unwrap();
    transport(seed, security).with_tls(tls)
}

async fn echo_over_wss(security: SecurityProtocol) {
    let pki = test_pki();
    let server = tls_transport(20, security, &pki);
    // Both spellings listen; the listener announces `/tls/ws`.
    for listen in ["/ip4/127.0.0.1/tcp/0/wss", "/ip4/127.0.0.1/tcp/0/tls/ws"] {
        let listener = server.listen(&listen.parse().unwrap()).unwrap();
        let addr = listener.local_addr().clone();
        let port = addr.socket_addr().unwrap().port();
        assert_eq!(
            addr.to_string(),
            format!("/ip4/127.0.0.1/tcp/{port}/tls/ws")
        );
        serve_echo(listener);
        let client = tls_transport(21, security, &pki);
        let server_id = Keypair::ed25519_from_seed(20).public().to_peer_id();
        for dial in [
            format!("/ip4/127.0.0.1/tcp/{port}/tls/sni/localhost/ws"),
            format!("/dns4/localhost/tcp/{port}/wss/p2p/{server_id}"),
            format!("/dns/localhost/tcp/{port}/tls/ws"),
        ] {
            let dial: Multiaddr = dial.parse().unwrap();
            assert!(client.can_handle(&dial));
            let conn = client.dial(&dial, None).await.unwrap();
            assert_eq!(conn.remote_peer(), &server_id);
            assert_eq!(
                conn.remote_addr().to_string(),
                format!("/ip4/127.0.0.1/tcp/{port}/tls/ws")
            );
            let data = support::pattern(1 << 20);
            assert_eq!(support::echo_on(&conn, &[ECHO], &data).await, data);
            conn.close().await;
        }
    }
}

#[tokio::test]
async fn noise_echo_over_secure_websocket() {
    echo_over_wss(SecurityProtocol::Noise).await;
}

#[tokio::test]
async fn tls_echo_over_secure_websocket() {
    echo_over_wss(SecurityProtocol::Tls).await;
}

#[tokio::test]
async fn secure_websocket_with_an_untrusted_or_misnamed_certificate_is_a_typed_error() {
    let pki = test_pki();
    let server = tls_transport(22, SecurityProtocol::Noise, &pki);
    let listener = server
        .listen(&"/ip4/127.0.0.1/tcp/0/tls/ws".parse().unwrap())
        .unwrap();
    let port = listener.local_addr().socket_addr().unwrap().port();
    serve_echo(listener);
    // A client trusting another CA.
    let other = test_pki();
    let client = transport(23, SecurityProtocol::Noise)
        .with_tls(WsTlsConfig::new().with_roots(roots(&other.ca)).unwrap());
    let addr: Multiaddr = format!("/dns4/localhost/tcp/{port}/wss").parse().unwrap();
    let err = client.dial(&addr, None).await.unwrap_err();
    assert!(
        matches!(err, TransportError::Ws(WsError::Tls(_))),
        "{err:?}"
    );
    // A client trusting the right CA but dialing a name the certificate is not for.
    let client = tls_transport(24, SecurityProtocol::Noise, &pki);
    let addr: Multiaddr = format!("/ip4/127.0.0.1/tcp/{port}/tls/sni/elsewhere.example/ws")
        .parse()
        .unwrap();
    let err = client.dial(&addr, None).await.unwrap_err();
    assert!(
        matches!(err, TransportError::Ws(WsError::Tls(_))),
        "{err:?}"
    );
    // The listener still serves a well-behaved client.
    let addr: Multiaddr = format!("/ip4/127.0.0.1/tcp/{port}/tls/sni/localhost/ws")
        .parse()
        .unwrap();
    let conn = client.dial(&addr, None).await.unwrap();
    assert_eq!(support::echo_on(&conn, &[ECHO], b"ok").await, b"ok");
}

#[tokio::test]
async fn plain_client_against_secure_listener_fails_with_a_typed_error() {
    let pki = test_pki();
    let server = tls_transport(25, SecurityProtocol::Noise, &pki);
    let listener = server
        .listen(&"/ip4/127.0.0.1/tcp/0/tls/ws".parse().unwrap())
        .unwrap();
    let port = listener.local_addr().socket_addr().unwrap().port();
    serve_echo(listener);
    let addr: Multiaddr = format!("/ip4/127.0.0.1/tcp/{port}/ws").parse().unwrap();
    let err = transport(26, SecurityProtocol::Noise)
        .dial(&addr, None)
        .await
        .unwrap_err();
    assert!(
        matches!(err, TransportError::Ws(WsError::Handshake(_))),
        "{err:?}"
    );
}

#[tokio::test]
async fn text_message_over_secure_websocket_is_a_typed_error() {
    let pki = test_pki();
    let config = rustls::ServerConfig::builder_with_provider(std::sync::Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_no_client_auth()
    .with_single_cert(pki.leaf_chain.clone(), pki.leaf_key.clone_key())
    .unwrap();
    let acceptor = tokio_rustls::TlsAcceptor::from(std::sync::Arc::new(config));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move {
        let (tcp, _) = listener.accept().await.unwrap();
        let tls = acceptor.accept(tcp).await.unwrap();
        let mut ws = tokio_tungstenite::accept_async(tls).await.unwrap();
        let _ = ws.send(Message::text("/multistream/1.0.0\n")).await;
        while let Some(Ok(_)) = futures_util::StreamExt::next(&mut ws).await {}
    });
    let client = tls_transport(27, SecurityProtocol::Noise, &pki);
    let addr: Multiaddr = format!("/dns4/localhost/tcp/{port}/wss").parse().unwrap();
    let err = client.dial(&addr, None).await.unwrap_err();
    assert!(
        matches!(find_ws_error(&err), Some(WsError::TextFrame)),
        "{err:?}"
    );
}

#[tokio::test]
async fn websocket_dns_name_is_the_host_header() {
    // A raw TCP server that records the HTTP request of the WebSocket handshake.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let request = tokio::spawn(async move {
        let (mut tcp, _) = listener.accept().await.unwrap();
        let mut buf = Vec::new();
        let mut chunk = [0u8; 1024];
        while !buf.windows(4).any(|w| w == b"\r\n\r\n") {
            let n = tcp.read(&mut chunk).await.unwrap();
            assert!(n > 0, "client closed before the end of its request");
            buf.extend_from_slice(&chunk[..n]);
        }
        String::from_utf8(buf).unwrap()
    });
    let addr: Multiaddr = format!("/dns4/localhost/tcp/{port}/ws").parse().unwrap();
    let client = transport(28, SecurityProtocol::Noise);
    assert!(client.can_handle(&addr));
    // The server never answers: the dial fails (at the upgrade timeout or when the server
    // task drops the socket), after the request was sent.
    let dial = tokio::spawn(async move { client.dial(&addr, None).await.is_err() });
    let request = request.await.unwrap();
    assert!(
        request
            .lines()
            .any(|l| l.eq_ignore_ascii_case(&format!("host: localhost:{port}"))),
        "{request}"
    );
    assert!(dial.await.unwrap());
}

#[tokio::test]
async fn websocket_name_that_resolves_to_nothing_is_a_typed_error() {
    let client = transport(29, SecurityProtocol::Noise);
    let addr: Multiaddr = "/dns4/no-such-host.invalid/tcp/1/ws".parse().unwrap();
    let err = client.dial(&addr, None).await.unwrap_err();
    match err {
        TransportError::Dns(DnsError::NoAddress { name }) => {
            assert_eq!(name, "no-such-host.invalid")
        }
        other => panic!("{other:?}"),
    }
}
