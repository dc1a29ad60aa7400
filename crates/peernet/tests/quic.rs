//! The QUIC v1 transport over real loopback UDP between two peernet nodes: handshake and peer
//! ids, refusals, echo, many streams, half-close, reset, the stream limit, idle detection.

use std::time::Duration;

use peernet::core::tls::TlsError;
use peernet::services::{echo, ping};
use peernet::{
    Connection, Direction, Keypair, Listener, Multiaddr, QuicConfig, QuicError, QuicTransport,
    TransportError, QUIC_MUXER,
};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

fn transport(seed: u64) -> QuicTransport {
    transport_with(seed, QuicConfig::default())
}

fn transport_with(seed: u64, config: QuicConfig) -> QuicTransport {
    QuicTransport::new(&Keypair::ed25519_from_seed(seed), config).unwrap()
}

fn peer(seed: u64) -> peernet::PeerId {
    Keypair::ed25519_from_seed(seed).to_peer_id()
}

fn loopback() -> Multiaddr {
    "/ip4/127.0.0.1/udp/0/quic-v1".parse().unwrap()
}

/// Serves echo and ping on every stream of every accepted connection; hands out the accepted
/// connections.
fn serve(mut listener: Listener) -> tokio::sync::mpsc::UnboundedReceiver<Connection> {
    let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
    tokio::spawn(async move {
        while let Some(conn) = listener.accept().await {
            let _ = tx.send(conn.clone());
            tokio::spawn(async move {
                while let Some(inbound) = conn.accept_stream().await {
                    tokio::spawn(async move {
                        let supported = |p: &str| p == echo::PROTOCOL || p == ping::PROTOCOL;
                        let Ok(mut stream) = inbound.negotiate(&mut { supported }, &Vec::new).await
                        else {
                            return;
                        };
                        if stream.protocol() == echo::PROTOCOL {
                            let _ = echo::serve(&mut stream).await;
                        } else {
                            let _ = ping::serve(&mut stream).await;
                        }
                    });
                }
            });
        }
    });
    rx
}

#[tokio::test]
async fn handshake_authenticates_both_peers() {
    let server = transport(1);
    let listener = server.listen(&loopback()).unwrap();
    let addr = listener.local_addr().clone();
    assert!(addr.to_string().ends_with("/quic-v1"), "{addr}");
    let mut accepted = serve(listener);

    let client = transport(2);
    let conn = client.dial(&addr, Some(peer(1))).await.unwrap();
    assert_eq!(conn.remote_peer(), &peer(1));
    assert_eq!(conn.remote_public_key().to_peer_id(), peer(1));
    assert_eq!(conn.direction(), Direction::Outbound);
    assert_eq!(conn.security(), "/tls/1.0.0");
    assert_eq!(conn.muxer(), QUIC_MUXER);
    assert_eq!(conn.remote_addr(), &addr);

    let inbound = accepted.recv().await.unwrap();
    assert_eq!(inbound.remote_peer(), &peer(2));
    assert_eq!(inbound.direction(), Direction::Inbound);
    assert_eq!(inbound.remote_addr(), conn.local_addr());

    let mut stream = conn.open_stream(&[ping::PROTOCOL]).await.unwrap();
    ping::ping(&mut stream).await.unwrap();
    assert!(conn.rtt().is_some());
    assert!(!conn.is_closed());
}

#[tokio::test]
async fn wrong_peer_is_refused_with_a_typed_error() {
    let server = transport(1);
    let listener = server.listen(&loopback()).unwrap();
    let addr = listener.local_addr().clone();
    let _accepted = serve(listener);

    let err = transport(2).dial(&addr, Some(peer(3))).await.unwrap_err();
    match err {
        TransportError::Quic(QuicError::Certificate(TlsError::PeerIdMismatch {
            expected,
            actual,
        })) => {
            assert_eq!(expected, peer(3));
            assert_eq!(actual, peer(1));
        }
        other => panic!("unexpected error: {other:?}"),
    }
}

#[tokio::test]
async fn draft29_and_other_shapes_are_refused() {
    let t = transport(1);
    let draft29: Multiaddr = "/ip4/127.0.0.1/udp/4001/quic".parse().unwrap();
    assert!(!t.can_handle(&draft29));
    assert!(matches!(
        t.dial(&draft29, None).await,
        Err(TransportError::Quic(QuicError::Draft29Unsupported(_)))
    ));
    assert!(matches!(
        t.listen(&draft29),
        Err(TransportError::Quic(QuicError::Draft29Unsupported(_)))
    ));
    let tcp: Multiaddr = "/ip4/127.0.0.1/tcp/4001".parse().unwrap();
    assert!(!t.can_handle(&tcp));
    assert!(matches!(
        t.dial(&tcp, None).await,
        Err(TransportError::Unsupported(_))
    ));
    assert!(t.can_handle(&"/ip6/::1/udp/4001/quic-v1".parse().unwrap()));
}

#[tokio::test]
async fn echo_one_mebibyte() {
    let server = transport(1);
    let listener = server.listen(&loopback()).unwrap();
    let addr = listener.local_addr().clone();
    let _accepted = serve(listener);

    let conn = transport(2).dial(&addr, None).await.unwrap();
    let data: Vec<u8> = (0..1024 * 1024).map(|i| (i * 7 % 251) as u8).collect();
    let stream = conn.open_stream(&[echo::PROTOCOL]).await.unwrap();
    let reply = echo::echo(stream, &data, data.len()).await.unwrap();
    assert_eq!(reply, data);
}

#[tokio::test]
async fn many_concurrent_streams() {
    let server = transport(1);
    let listener = server.listen(&loopback()).unwrap();
    let addr = listener.local_addr().clone();
    let _accepted = serve(listener);

    let conn = transport(2).dial(&addr, None).await.unwrap();
    let mut tasks = Vec::new();
    for i in 0..100u32 {
        let conn = conn.clone();
        tasks.push(tokio::spawn(async move {
            // Two proposals for half of them: a full multistream round, not optimistic.
            let protocols: &[&str] = if i % 2 == 0 {
                &[echo::PROTOCOL]
            } else {
                &["/nope/1.0.0", echo::PROTOCOL]
            };
            let stream = conn.open_stream(protocols).await.unwrap();
            let data = format!("stream {i} ").repeat(100).into_bytes();
            let reply = echo::echo(stream, &data, data.len()).await.unwrap();
            assert_eq!(reply, data);
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
}

#[tokio::test]
async fn half_close_keeps_the_other_direction_open() {
    let server = transport(1);
    let mut listener = server.listen(&loopback()).unwrap();
    let addr = listener.local_addr().clone();
    let conn = transport(2).dial(&addr, None).await.unwrap();
    let accepted = listener.accept().await.unwrap();

    let mut out = conn.open_stream(&[echo::PROTOCOL]).await.unwrap();
    out.write_all(b"request").await.unwrap();
    out.shutdown().await.unwrap();

    let inbound = accepted.accept_stream().await.unwrap();
    let mut inn = inbound
        .negotiate(&mut |p| p == echo::PROTOCOL, &Vec::new)
        .await
        .unwrap();
    let mut request = Vec::new();
    inn.read_to_end(&mut request).await.unwrap();
    assert_eq!(request, b"request");
    // Our write side is closed; the remote's is not: it still answers.
    inn.write_all(b"response after your FIN").await.unwrap();
    inn.shutdown().await.unwrap();

    let mut response = Vec::new();
    out.read_to_end(&mut response).await.unwrap();
    assert_eq!(response, b"response after your FIN");
}

#[tokio::test]
async fn reset_reaches_the_remote() {
    let server = transport(1);
    let mut listener = server.listen(&loopback()).unwrap();
    let addr = listener.local_addr().clone();
    let conn = transport(2).dial(&addr, None).await.unwrap();
    let accepted = listener.accept().await.unwrap();

    let mut out = conn.open_stream(&[echo::PROTOCOL]).await.unwrap();
    out.write_all(b"partial").await.unwrap();
    let inbound = accepted.accept_stream().await.unwrap();
    let mut inn = inbound
        .negotiate(&mut |p| p == echo::PROTOCOL, &Vec::new)
        .await
        .unwrap();
    let mut first = [0u8; 7];
    inn.read_exact(&mut first).await.unwrap();
    assert_eq!(&first, b"partial");

    out.reset().unwrap();
    let mut rest = Vec::new();
    let err = inn.read_to_end(&mut rest).await.unwrap_err();
    assert_eq!(err.kind(), std::io::ErrorKind::ConnectionReset, "{err}");
    // The remote's writes fail too once our STOP_SENDING arrives.
    let mut write_failed = false;
    for _ in 0..1000 {
        if inn.write_all(&[0u8; 1024]).await.is_err() {
            write_failed = true;
            break;
        }
        tokio::task::yield_now().await;
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    assert!(write_failed);
    // The connection itself is unharmed.
    assert!(!conn.is_closed());
}

#[tokio::test]
async fn stream_limit_holds_back_opens_until_a_stream_ends() {
    let limited = QuicConfig {
        max_concurrent_streams: 4,
        ..QuicConfig::default()
    };
    let server = transport_with(1, limited);
    let listener = server.listen(&loopback()).unwrap();
    let addr = listener.local_addr().clone();
    let _accepted = serve(listener);
    let conn = transport(2).dial(&addr, None).await.unwrap();

    let mut open = Vec::new();
    for _ in 0..4 {
        let mut s = conn.open_stream(&[echo::PROTOCOL]).await.unwrap();
        s.write_all(b"x").await.unwrap();
        open.push(s);
    }
    // The fifth waits for credit from the server: the limit is known locally, so one poll
    // tells.
    let fifth = conn.open_stream(&[echo::PROTOCOL]);
    tokio::pin!(fifth);
    tokio::select! {
        biased;
        _ = &mut fifth => panic!("a fifth stream opened beyond the limit of 4"),
        () = std::future::ready(()) => {}
    }
    // Ending one stream in both directions gives the credit back.
    let mut first = open.remove(0);
    first.shutdown().await.unwrap();
    let mut reply = Vec::new();
    first.read_to_end(&mut reply).await.unwrap();
    assert_eq!(reply, b"x");
    drop(first);
    let fifth = fifth.await.unwrap();
    let reply = echo::echo(fifth, b"fifth", 64).await.unwrap();
    assert_eq!(reply, b"fifth");
}

#[tokio::test]
async fn dials_leave_from_the_listening_socket() {
    let server = transport(1);
    let listener = server.listen(&loopback()).unwrap();
    let addr = listener.local_addr().clone();
    let mut accepted = serve(listener);

    let client = transport(2);
    let client_listener = client.listen(&loopback()).unwrap();
    let conn = client.dial(&addr, None).await.unwrap();
    assert_eq!(conn.local_addr(), client_listener.local_addr());
    let inbound = accepted.recv().await.unwrap();
    assert_eq!(inbound.remote_addr(), client_listener.local_addr());
}

#[tokio::test]
async fn garbage_datagrams_are_ignored() {
    let server = transport(1);
    let listener = server.listen(&loopback()).unwrap();
    let addr = listener.local_addr().clone();
    let _accepted = serve(listener);
    let port = addr
        .iter()
        .find_map(|p| match p {
            peernet::core::multiaddr::Protocol::Udp(port) => Some(port),
            _ => None,
        })
        .unwrap();
    let socket = tokio::net::UdpSocket::bind("127.0.0.1:0").await.unwrap();
    for len in [0usize, 1, 20, 1200, 1500] {
        let garbage: Vec<u8> = (0..len).map(|i| (i * 31 + len) as u8).collect();
        socket.send_to(&garbage, ("127.0.0.1", port)).await.unwrap();
    }
    let conn = transport(2).dial(&addr, None).await.unwrap();
    let stream = conn.open_stream(&[echo::PROTOCOL]).await.unwrap();
    assert_eq!(echo::echo(stream, b"ok", 8).await.unwrap(), b"ok");
}

#[tokio::test]
async fn close_is_seen_by_the_remote() {
    let server = transport(1);
    let listener = server.listen(&loopback()).unwrap();
    let addr = listener.local_addr().clone();
    let mut accepted = serve(listener);
    let conn = transport(2).dial(&addr, None).await.unwrap();
    let inbound = accepted.recv().await.unwrap();
    conn.close().await;
    assert!(conn.is_closed());
    assert!(matches!(
        conn.closed().await,
        peernet::ConnectionError::Closed
    ));
    assert!(matches!(
        inbound.closed().await,
        peernet::ConnectionError::Eof
    ));
}

/// A peer that vanishes without a word (its runtime stops: no CONNECTION_CLOSE, no more
/// packets) is reported closed by the idle timeout.
#[test]
fn vanished_peer_is_noticed_by_the_idle_timeout() {
    let quick = QuicConfig {
        keep_alive_interval: Duration::from_millis(300),
        idle_timeout: Duration::from_secs(2),
        ..QuicConfig::default()
    };
    let server_rt = tokio::runtime::Runtime::new().unwrap();
    let (addr, mut accepted, _server) = server_rt.block_on(async {
        let server = transport_with(1, quick.clone());
        let listener = server.listen(&loopback()).unwrap();
        let addr = listener.local_addr().clone();
        (addr, serve(listener), server)
    });

    let client_rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let (client, conn) = client_rt.block_on(async {
        let client = transport_with(2, quick.clone());
        let conn = client.dial(&addr, None).await.unwrap();
        // A round trip, so the server has certainly finished its side of the handshake.
        let mut stream = conn.open_stream(&[ping::PROTOCOL]).await.unwrap();
        ping::ping(&mut stream).await.unwrap();
        (client, conn)
    });
    // The client's runtime is never polled again: its endpoint is frozen, then gone.
    drop(client_rt);
    std::mem::forget(conn);
    std::mem::forget(client);

    let reason = server_rt.block_on(async {
        let inbound = accepted.recv().await.unwrap();
        inbound.closed().await
    });
    match reason {
        peernet::ConnectionError::Io(e) => {
            assert_eq!(e.kind(), std::io::ErrorKind::TimedOut, "{e}")
        }
        other => panic!("unexpected close reason: {other:?}"),
    }
}

/// A QUIC server whose certificate lacks the libp2p extension (a plain self-signed one) is
/// refused by our dialer with the typed reason.
#[tokio::test]
async fn certificate_without_libp2p_extension_is_refused() {
    let certified = rcgen::generate_simple_self_signed(vec!["example.org".into()]).unwrap();
    let key = rustls::pki_types::PrivateKeyDer::Pkcs8(certified.key_pair.serialize_der().into());
    let addr = raw_quic_server(certified.cert.der().clone(), key);
    let err = transport(2).dial(&addr, None).await.unwrap_err();
    assert!(
        matches!(
            err,
            TransportError::Quic(QuicError::Certificate(TlsError::MissingExtension))
        ),
        "{err:?}"
    );
}

#[tokio::test]
async fn ipv6_loopback() {
    let server = transport(1);
    let listener = server
        .listen(&"/ip6/::1/udp/0/quic-v1".parse().unwrap())
        .unwrap();
    let addr = listener.local_addr().clone();
    assert!(addr.to_string().starts_with("/ip6/::1/udp/"), "{addr}");
    let _accepted = serve(listener);
    // The client has an IPv4 listener only: the dial leaves from an IPv6 client endpoint.
    let client = transport(2);
    let _v4 = client.listen(&loopback()).unwrap();
    let conn = client.dial(&addr, Some(peer(1))).await.unwrap();
    assert!(conn.local_addr().to_string().starts_with("/ip6/"));
    let stream = conn.open_stream(&[echo::PROTOCOL]).await.unwrap();
    assert_eq!(echo::echo(stream, b"v6", 8).await.unwrap(), b"v6");
}

/// The libp2p certificate extension's OID (1.3.6.1.4.1.53594.1.1).
const LIBP2P_OID: &[u64] = &[1, 3, 6, 1, 4, 1, 53594, 1, 1];

/// A self-signed certificate and its key: without the libp2p extension (`host: None`), or with
/// one naming `host` whose signature covers another key than the certificate's (a bad
/// extension signature).
fn forged_certificate(
    host: Option<&Keypair>,
) -> (
    rustls::pki_types::CertificateDer<'static>,
    rustls::pki_types::PrivateKeyDer<'static>,
) {
    let key = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).unwrap();
    let mut params = rcgen::CertificateParams::default();
    if let Some(host) = host {
        let other = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).unwrap();
        let mut message = b"libp2p-tls-handshake:".to_vec();
        message.extend_from_slice(&other.public_key_der());
        let public = host.public().to_protobuf_encoding();
        let signature = host.sign(&message);
        // SignedKey ::= SEQUENCE { publicKey OCTET STRING, signature OCTET STRING }
        let mut body = vec![0x04, public.len() as u8];
        body.extend_from_slice(&public);
        body.extend_from_slice(&[0x04, signature.len() as u8]);
        body.extend_from_slice(&signature);
        let mut der = vec![0x30, body.len() as u8];
        der.extend_from_slice(&body);
        // Not critical: rustls (webpki) refuses to load a certificate with an unknown critical
        // extension, and libp2p accepts the extension either way.
        let ext = rcgen::CustomExtension::from_oid_content(LIBP2P_OID, der);
        params.custom_extensions.push(ext);
    }
    let cert = params.self_signed(&key).unwrap();
    let key = rustls::pki_types::PrivateKeyDer::Pkcs8(key.serialize_der().into());
    (cert.der().clone(), key)
}

/// A bare quinn server (TLS 1.3, ALPN `libp2p`, no client authentication) presenting `cert`,
/// accepting every connection; returns its address.
fn raw_quic_server(
    cert: rustls::pki_types::CertificateDer<'static>,
    key: rustls::pki_types::PrivateKeyDer<'static>,
) -> Multiaddr {
    let mut tls = rustls::ServerConfig::builder_with_provider(provider())
        .with_protocol_versions(&[&rustls::version::TLS13])
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(vec![cert], key)
        .unwrap();
    tls.alpn_protocols = vec![b"libp2p".to_vec()];
    let crypto = quinn::crypto::rustls::QuicServerConfig::try_from(tls).unwrap();
    let server = quinn::Endpoint::server(
        quinn::ServerConfig::with_crypto(std::sync::Arc::new(crypto)),
        "127.0.0.1:0".parse().unwrap(),
    )
    .unwrap();
    let port = server.local_addr().unwrap().port();
    tokio::spawn(async move {
        while let Some(incoming) = server.accept().await {
            let _ = incoming.await;
        }
    });
    format!("/ip4/127.0.0.1/udp/{port}/quic-v1")
        .parse()
        .unwrap()
}

/// The TLS 1.3 / ALPN `libp2p` settings every raw quinn peer below uses.
fn provider() -> std::sync::Arc<rustls::crypto::CryptoProvider> {
    std::sync::Arc::new(rustls::crypto::ring::default_provider())
}

/// A QUIC server presenting a forged certificate is refused by our dialer with the typed
/// reason: a bad extension signature.
#[tokio::test]
async fn dialer_refuses_a_bad_extension_signature_with_a_typed_error() {
    let (cert, key) = forged_certificate(Some(&Keypair::ed25519_from_seed(40)));
    let addr = raw_quic_server(cert, key);
    let err = transport(41).dial(&addr, None).await.unwrap_err();
    assert!(
        matches!(
            err,
            TransportError::Quic(QuicError::Certificate(TlsError::BadExtensionSignature))
        ),
        "{err:?}"
    );
}

/// A raw quinn client presenting `cert` to our listener: the listener refuses it with the
/// typed reason, which reaches the client as the close reason, and never hands the connection
/// out (the next accepted connection is a well-behaved one).
async fn listener_refuses(host: Option<&Keypair>, expected: TlsError) {
    let server = transport(42);
    let listener = server.listen(&loopback()).unwrap();
    let addr = listener.local_addr().clone();
    let mut accepted = serve(listener);

    let (cert, key) = forged_certificate(host);
    let mut tls = rustls::ClientConfig::builder_with_provider(provider())
        .with_protocol_versions(&[&rustls::version::TLS13])
        .unwrap()
        .dangerous()
        .with_custom_certificate_verifier(std::sync::Arc::new(
            peernet::core::tls::Libp2pCertVerifier::new(None),
        ))
        .with_client_auth_cert(vec![cert], key)
        .unwrap();
    tls.alpn_protocols = vec![b"libp2p".to_vec()];
    let crypto = quinn::crypto::rustls::QuicClientConfig::try_from(tls).unwrap();
    let mut client = quinn::Endpoint::client("127.0.0.1:0".parse().unwrap()).unwrap();
    client.set_default_client_config(quinn::ClientConfig::new(std::sync::Arc::new(crypto)));
    let connection = client
        .connect(addr.socket_addr().unwrap(), "l")
        .unwrap()
        .await
        .unwrap();
    match connection.closed().await {
        quinn::ConnectionError::ApplicationClosed(close) => {
            assert_eq!(close.error_code, peernet::QUIC_CERTIFICATE_REFUSED);
            assert_eq!(
                String::from_utf8_lossy(&close.reason),
                format!("certificate refused: {expected}")
            );
        }
        other => panic!("expected the listener's refusal, got {other:?}"),
    }
    let good = transport(43).dial(&addr, None).await.unwrap();
    let first = accepted.recv().await.unwrap();
    assert_eq!(first.remote_peer(), &peer(43));
    assert_eq!(good.remote_peer(), &peer(42));
}

#[tokio::test]
async fn listener_refuses_a_client_certificate_without_libp2p_extension() {
    listener_refuses(None, TlsError::MissingExtension).await;
}

#[tokio::test]
async fn listener_refuses_a_client_certificate_with_a_bad_extension_signature() {
    listener_refuses(
        Some(&Keypair::ed25519_from_seed(44)),
        TlsError::BadExtensionSignature,
    )
    .await;
}
