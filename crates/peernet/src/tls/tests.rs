//! Driver tests over `tokio::io::duplex` and loopback TCP.

use std::sync::Arc;

use peernet_core::tls::{Libp2pCertVerifier, TlsError};
use peernet_core::Keypair;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

use super::*;

const YAMUX: &str = "/yamux/1.0.0";
const MPLEX: &str = "/mplex/6.7.0";

/// Runs both sides over an in-memory pipe.
async fn pair(
    client_key: &Keypair,
    server_key: &Keypair,
    expected: Option<PeerId>,
    client_muxers: &[&str],
    server_muxers: &[&str],
) -> (
    Result<(TlsStream<tokio::io::DuplexStream>, RemoteInfo), TlsUpgradeError>,
    Result<(TlsStream<tokio::io::DuplexStream>, RemoteInfo), TlsUpgradeError>,
) {
    let (a, b) = tokio::io::duplex(64 * 1024);
    tokio::join!(
        upgrade_outbound(a, client_key, expected, client_muxers),
        upgrade_inbound(b, server_key, server_muxers),
    )
}

#[tokio::test]
async fn duplex_handshake_authenticates_both_roles() {
    let (ck, sk) = (Keypair::ed25519_from_seed(1), Keypair::ed25519_from_seed(2));
    let (client, server) = pair(&ck, &sk, Some(sk.public().to_peer_id()), &[YAMUX], &[YAMUX]).await;
    let (mut c, at_client) = client.unwrap();
    let (mut s, at_server) = server.unwrap();
    assert_eq!(at_client.peer_id, sk.public().to_peer_id());
    assert_eq!(&at_client.public_key, sk.public());
    assert_eq!(at_server.peer_id, ck.public().to_peer_id());
    assert_eq!(at_client.muxer.as_deref(), Some(YAMUX));
    assert_eq!(at_server.muxer.as_deref(), Some(YAMUX));

    // Data both ways, then half-close: the client's shutdown is an EOF for the server, which
    // can still answer.
    c.write_all(b"ping").await.unwrap();
    c.shutdown().await.unwrap();
    let mut got = Vec::new();
    s.read_to_end(&mut got).await.unwrap();
    assert_eq!(got, b"ping");
    s.write_all(b"pong").await.unwrap();
    s.shutdown().await.unwrap();
    let mut got = Vec::new();
    c.read_to_end(&mut got).await.unwrap();
    assert_eq!(got, b"pong");
}

#[tokio::test]
async fn muxer_is_negotiated_by_alpn_with_client_preference() {
    let (ck, sk) = (Keypair::ed25519_from_seed(3), Keypair::ed25519_from_seed(4));
    // Both support both; the client prefers mplex, the server yamux: the client wins.
    let (client, server) = pair(&ck, &sk, None, &[MPLEX, YAMUX], &[YAMUX, MPLEX]).await;
    assert_eq!(client.unwrap().1.muxer.as_deref(), Some(MPLEX));
    assert_eq!(server.unwrap().1.muxer.as_deref(), Some(MPLEX));
    // Nothing in common but "libp2p": the muxer is left to multistream-select.
    let (client, server) = pair(&ck, &sk, None, &[MPLEX], &[YAMUX]).await;
    assert_eq!(client.unwrap().1.muxer, None);
    assert_eq!(server.unwrap().1.muxer, None);
    // No muxers at all on the client.
    let (client, server) = pair(&ck, &sk, None, &[], &[YAMUX]).await;
    assert_eq!(client.unwrap().1.muxer, None);
    assert_eq!(server.unwrap().1.muxer, None);
}

#[tokio::test]
async fn expected_peer_mismatch_is_refused_with_typed_error() {
    let (ck, sk) = (Keypair::ed25519_from_seed(5), Keypair::ed25519_from_seed(6));
    let wrong = Keypair::ed25519_from_seed(7).public().to_peer_id();
    let (client, server) = pair(&ck, &sk, Some(wrong.clone()), &[YAMUX], &[YAMUX]).await;
    let err = client.map(|_| ()).unwrap_err();
    assert_eq!(
        err.certificate_error(),
        Some(&TlsError::PeerIdMismatch {
            expected: wrong,
            actual: sk.public().to_peer_id(),
        }),
        "{err:?}"
    );
    // The server sees the client's certificate_unknown alert (rustls's choice for custom refusals).
    match server.map(|_| ()).unwrap_err() {
        TlsUpgradeError::Handshake(rustls::Error::AlertReceived(
            rustls::AlertDescription::CertificateUnknown,
        )) => {}
        other => panic!("unexpected server error {other:?}"),
    }
}

/// A client presenting an ordinary self-signed certificate without the libp2p extension.
fn client_without_extension() -> tokio_rustls::TlsConnector {
    let key = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).unwrap();
    let cert = rcgen::CertificateParams::new(vec!["example.com".into()])
        .unwrap()
        .self_signed(&key)
        .unwrap();
    let config = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_protocol_versions(&[&rustls::version::TLS13])
    .unwrap()
    .dangerous()
    .with_custom_certificate_verifier(Arc::new(Libp2pCertVerifier::new(None)))
    .with_client_auth_cert(
        vec![cert.der().clone()],
        rustls::pki_types::PrivateKeyDer::Pkcs8(key.serialize_der().into()),
    )
    .unwrap();
    tokio_rustls::TlsConnector::from(Arc::new(config))
}

#[tokio::test]
async fn certificate_without_extension_is_refused() {
    let sk = Keypair::ed25519_from_seed(8);
    let (a, b) = tokio::io::duplex(64 * 1024);
    let name = ServerName::try_from("example.com").unwrap();
    let (client, server) = tokio::join!(
        async {
            // The client side finishes first in TLS 1.3; the refusal arrives as an alert.
            let mut stream = client_without_extension().connect(name, a).await?;
            let mut buf = [0u8; 1];
            stream.read(&mut buf).await
        },
        upgrade_inbound(b, &sk, &[YAMUX]),
    );
    assert_eq!(
        server.map(|_| ()).unwrap_err().certificate_error(),
        Some(&TlsError::MissingExtension)
    );
    assert!(client.is_err());
}

#[tokio::test]
async fn garbage_and_truncation_are_errors_not_panics() {
    let sk = Keypair::ed25519_from_seed(9);
    // An HTTP request instead of a ClientHello.
    let (mut a, b) = tokio::io::duplex(1024);
    a.write_all(b"GET / HTTP/1.1\r\n\r\n").await.unwrap();
    let err = upgrade_inbound(b, &sk, &[YAMUX])
        .await
        .map(|_| ())
        .unwrap_err();
    assert!(matches!(err, TlsUpgradeError::Handshake(_)), "{err:?}");
    // A peer that hangs up before answering.
    let (a, b) = tokio::io::duplex(1024);
    drop(b);
    let err = upgrade_outbound(a, &sk, None, &[YAMUX])
        .await
        .map(|_| ())
        .unwrap_err();
    assert!(matches!(err, TlsUpgradeError::Io(_)), "{err:?}");
}

/// Deterministic test data: a xorshift stream.
fn fill(seed: &mut u64, buf: &mut [u8]) {
    for chunk in buf.chunks_mut(8) {
        *seed ^= *seed << 13;
        *seed ^= *seed >> 7;
        *seed ^= *seed << 17;
        let bytes = seed.to_le_bytes();
        chunk.copy_from_slice(&bytes[..chunk.len()]);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tcp_64_mib_transfer_is_byte_exact() {
    const TOTAL: usize = 64 * 1024 * 1024;
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (ck, sk) = (Keypair::generate_ed25519(), Keypair::generate_ed25519());
    let server_id = sk.public().to_peer_id();
    let client_id = ck.public().to_peer_id();

    let server = tokio::spawn(async move {
        let (tcp, _) = listener.accept().await.unwrap();
        tcp.set_nodelay(true).unwrap();
        let (mut stream, info) = upgrade_inbound(tcp, &sk, &[YAMUX]).await.unwrap();
        assert_eq!(info.peer_id, client_id);
        // Receive and check, then report the count back through the same stream.
        let mut seed = 0x5eed_u64;
        let mut expected = vec![0u8; 256 * 1024];
        let mut got = vec![0u8; 256 * 1024];
        let mut received = 0usize;
        loop {
            let n = stream.read(&mut got).await.unwrap();
            if n == 0 {
                break;
            }
            // Compare against the same xorshift stream, regenerated in step.
            let mut checked = 0;
            while checked < n {
                let offset = (received + checked) % expected.len();
                if offset == 0 {
                    fill(&mut seed, &mut expected);
                }
                let take = (n - checked).min(expected.len() - offset);
                assert_eq!(
                    got[checked..checked + take],
                    expected[offset..offset + take],
                    "mismatch at byte {}",
                    received + checked
                );
                checked += take;
            }
            received += n;
        }
        stream
            .write_all(&(received as u64).to_be_bytes())
            .await
            .unwrap();
        stream.shutdown().await.unwrap();
        received
    });

    let tcp = TcpStream::connect(addr).await.unwrap();
    tcp.set_nodelay(true).unwrap();
    let (mut stream, info) = upgrade_outbound(tcp, &ck, Some(server_id), &[YAMUX])
        .await
        .unwrap();
    assert_eq!(info.muxer.as_deref(), Some(YAMUX));
    let mut seed = 0x5eed_u64;
    let mut chunk = vec![0u8; 256 * 1024];
    let mut sent = 0;
    while sent < TOTAL {
        fill(&mut seed, &mut chunk);
        stream.write_all(&chunk).await.unwrap();
        sent += chunk.len();
    }
    stream.shutdown().await.unwrap();
    let mut reply = Vec::new();
    stream.read_to_end(&mut reply).await.unwrap();
    assert_eq!(reply, (TOTAL as u64).to_be_bytes());
    assert_eq!(server.await.unwrap(), TOTAL);
}

#[tokio::test]
async fn one_identity_serves_many_connections() {
    let (ck, sk) = (
        Keypair::ed25519_from_seed(20),
        Keypair::ed25519_from_seed(21),
    );
    let (client, server) = (
        TlsIdentity::new(&ck).unwrap(),
        TlsIdentity::new(&sk).unwrap(),
    );
    for _ in 0..3 {
        let (a, b) = tokio::io::duplex(64 * 1024);
        let (out, inb) = tokio::join!(
            upgrade_outbound_with(a, &client, Some(sk.public().to_peer_id()), &[YAMUX]),
            upgrade_inbound_with(b, &server, &[YAMUX]),
        );
        let ((mut c, _), (mut s, at_server)) = (out.unwrap(), inb.unwrap());
        assert_eq!(at_server.peer_id, ck.public().to_peer_id());
        c.write_all(b"x").await.unwrap();
        let mut one = [0u8; 1];
        s.read_exact(&mut one).await.unwrap();
    }
}
