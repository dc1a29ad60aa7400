//! The connection pipeline over real loopback TCP: multistream-select → Noise | TLS | plaintext
//! → yamux → negotiated streams, between two peernet nodes.

use std::time::Duration;

use peernet::{
    Connection, Keypair, Listener, Multiaddr, PeerId, SecurityProtocol, TcpConfig, TcpTransport,
    TransportError, UpgradeError, Upgrader,
};
use tokio::io::AsyncReadExt;

mod support;

const ECHO: &str = "/echo/1.0.0";

fn transport(seed: u64, security: Vec<SecurityProtocol>) -> TcpTransport {
    let upgrader = Upgrader::new(Keypair::ed25519_from_seed(seed)).with_security(security);
    TcpTransport::new(upgrader, TcpConfig::default())
}

fn loopback() -> Multiaddr {
    "/ip4/127.0.0.1/tcp/0".parse().unwrap()
}

/// Serves `/echo/1.0.0` on every stream of every accepted connection.
fn serve_echo(mut listener: Listener) -> tokio::sync::mpsc::UnboundedReceiver<Connection> {
    let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
    tokio::spawn(async move {
        while let Some(conn) = listener.accept().await {
            let _ = tx.send(conn.clone());
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
    rx
}

async fn end_to_end(security: SecurityProtocol) {
    let server = transport(1, vec![security]);
    let client = transport(2, vec![security]);
    let listener = server.listen(&loopback()).unwrap();
    let addr = listener.local_addr().clone();
    let mut accepted = serve_echo(listener);
    let server_id = Keypair::ed25519_from_seed(1).to_peer_id();
    let conn = client
        .dial(&addr.clone().with_p2p(&server_id).unwrap(), None)
        .await
        .unwrap();
    assert_eq!(conn.remote_peer(), &server_id);
    assert_eq!(conn.security(), security.protocol_id());
    assert_eq!(conn.muxer(), "/yamux/1.0.0");
    let inbound = accepted.recv().await.unwrap();
    assert_eq!(
        inbound.remote_peer(),
        &Keypair::ed25519_from_seed(2).to_peer_id()
    );
    assert_eq!(inbound.direction(), peernet::Direction::Inbound);

    // Optimistic single-protocol stream, then a fallback after `na`, both with 1 MiB.
    let data = support::pattern(1 << 20);
    assert_eq!(support::echo_on(&conn, &[ECHO], &data).await, data);
    assert_eq!(
        support::echo_on(&conn, &["/unknown/1.0.0", ECHO], &data).await,
        data
    );
    // Many streams at once on one connection.
    let mut tasks = Vec::new();
    for i in 0..32 {
        let conn = conn.clone();
        tasks.push(tokio::spawn(async move {
            let data = support::pattern(1000 + i * 777);
            assert_eq!(support::echo_on(&conn, &[ECHO], &data).await, data);
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
}

#[tokio::test]
async fn noise_end_to_end() {
    end_to_end(SecurityProtocol::Noise).await;
}

#[tokio::test]
async fn tls_end_to_end() {
    end_to_end(SecurityProtocol::Tls).await;
}

#[tokio::test]
async fn plaintext_end_to_end() {
    end_to_end(SecurityProtocol::Plaintext).await;
}

#[tokio::test]
async fn security_falls_back_to_what_the_listener_speaks() {
    let server = transport(1, vec![SecurityProtocol::Tls]);
    let client = transport(2, vec![SecurityProtocol::Noise, SecurityProtocol::Tls]);
    let listener = server.listen(&loopback()).unwrap();
    let addr = listener.local_addr().clone();
    let _accepted = serve_echo(listener);
    let conn = client.dial(&addr, None).await.unwrap();
    assert_eq!(conn.security(), "/tls/1.0.0");
    assert_eq!(support::echo_on(&conn, &[ECHO], b"hello").await, b"hello");
}

#[tokio::test]
async fn a_different_peer_than_dialed_is_refused() {
    for security in [
        SecurityProtocol::Noise,
        SecurityProtocol::Tls,
        SecurityProtocol::Plaintext,
    ] {
        let server = transport(1, vec![security]);
        let client = transport(2, vec![security]);
        let listener = server.listen(&loopback()).unwrap();
        let addr = listener.local_addr().clone();
        let _accepted = serve_echo(listener);
        let someone_else = PeerId::random();
        let err = client.dial(&addr, Some(someone_else)).await.unwrap_err();
        let text = format!("{:?}", err);
        assert!(
            matches!(err, TransportError::Upgrade(_)),
            "{security:?}: {text}"
        );
        assert!(
            text.contains("Mismatch") || text.contains("UnexpectedPeer"),
            "{security:?}: {text}"
        );
    }
}

#[tokio::test]
async fn optimistic_stream_to_an_unsupported_protocol_fails_on_read() {
    let server = transport(1, vec![SecurityProtocol::Noise]);
    let client = transport(2, vec![SecurityProtocol::Noise]);
    let listener = server.listen(&loopback()).unwrap();
    let addr = listener.local_addr().clone();
    let _accepted = serve_echo(listener);
    let conn = client.dial(&addr, None).await.unwrap();
    let mut stream = conn.open_stream(&["/not-served/1.0.0"]).await.unwrap();
    let mut buf = [0u8; 8];
    let err = stream.read(&mut buf).await.unwrap_err();
    assert_eq!(err.kind(), std::io::ErrorKind::InvalidData, "{err}");
    // The connection survives a refused stream.
    assert_eq!(
        support::echo_on(&conn, &[ECHO], b"still here").await,
        b"still here"
    );
}

#[tokio::test]
async fn a_silent_peer_does_not_block_others_and_times_out() {
    let upgrader = Upgrader::new(Keypair::ed25519_from_seed(1))
        .with_timeout(Duration::from_millis(300))
        .with_max_inbound_upgrades(4);
    let server = TcpTransport::new(upgrader, TcpConfig::default());
    let listener = server.listen(&loopback()).unwrap();
    let addr = listener.local_addr().clone();
    let _accepted = serve_echo(listener);
    let socket_addr = addr.socket_addr().unwrap();
    // Three peers connect and say nothing.
    let mut silent = Vec::new();
    for _ in 0..3 {
        silent.push(tokio::net::TcpStream::connect(socket_addr).await.unwrap());
    }
    // A real peer still gets through while they hold their slots.
    let client = transport(2, vec![SecurityProtocol::Noise]);
    let conn = client.dial(&addr, None).await.unwrap();
    assert_eq!(support::echo_on(&conn, &[ECHO], b"hi").await, b"hi");
    // The listener hangs up on the silent ones once the upgrade timeout passes.
    for mut s in silent {
        let mut buf = [0u8; 64];
        let n = tokio::time::timeout(Duration::from_secs(10), async {
            // The listener may have answered nothing or part of a negotiation; read to the end.
            let mut total = 0;
            loop {
                match s.read(&mut buf).await {
                    Ok(0) | Err(_) => return total,
                    Ok(n) => total += n,
                }
            }
        })
        .await
        .expect("the listener must close a silent connection");
        assert!(n < 64);
    }
}

#[tokio::test]
async fn dialing_nothing_is_a_typed_io_error() {
    let client = transport(2, vec![SecurityProtocol::Noise]);
    // Bind and drop to find a port with nobody listening.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let addr: Multiaddr = format!("/ip4/127.0.0.1/tcp/{port}").parse().unwrap();
    assert!(matches!(
        client.dial(&addr, None).await,
        Err(TransportError::Io(_))
    ));
    let unsupported: Multiaddr = "/ip4/127.0.0.1/udp/1/quic-v1".parse().unwrap();
    assert!(matches!(
        client.dial(&unsupported, None).await,
        Err(TransportError::Unsupported(_))
    ));
}

#[tokio::test]
async fn upgrade_timeout_is_reported_as_such() {
    // A listener that accepts TCP and never speaks.
    let raw = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = Multiaddr::tcp(raw.local_addr().unwrap());
    let _hold = tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((s, _)) = raw.accept().await {
            held.push(s);
        }
    });
    let upgrader =
        Upgrader::new(Keypair::ed25519_from_seed(2)).with_timeout(Duration::from_millis(200));
    let client = TcpTransport::new(upgrader, TcpConfig::default());
    let err = client.dial(&addr, None).await.unwrap_err();
    assert!(
        matches!(err, TransportError::Upgrade(UpgradeError::Timeout(_))),
        "{err:?}"
    );
}

#[tokio::test]
async fn with_reuse_port_dials_leave_from_the_listening_port() {
    let config = TcpConfig {
        reuse_port: true,
        ..TcpConfig::default()
    };
    let server = transport(1, vec![SecurityProtocol::Noise]);
    let listener = server.listen(&loopback()).unwrap();
    let server_addr = listener.local_addr().clone();
    let mut accepted = serve_echo(listener);

    let client = TcpTransport::new(
        Upgrader::new(Keypair::ed25519_from_seed(2)).with_security(vec![SecurityProtocol::Noise]),
        config,
    );
    let client_listener = client.listen(&loopback()).unwrap();
    let client_port = client_listener.local_addr().socket_addr().unwrap().port();
    let conn = client.dial(&server_addr, None).await.unwrap();
    assert_eq!(conn.local_addr().socket_addr().unwrap().port(), client_port);
    let inbound = accepted.recv().await.unwrap();
    assert_eq!(
        inbound.remote_addr().socket_addr().unwrap().port(),
        client_port
    );
    assert_eq!(support::echo_on(&conn, &[ECHO], b"punch").await, b"punch");

    // Without reuse_port, the dial takes an ephemeral port.
    let plain = transport(3, vec![SecurityProtocol::Noise]);
    let plain_listener = plain.listen(&loopback()).unwrap();
    let conn = plain.dial(&server_addr, None).await.unwrap();
    assert_ne!(
        conn.local_addr().socket_addr().unwrap().port(),
        plain_listener.local_addr().socket_addr().unwrap().port()
    );
}

#[tokio::test]
async fn dial_progress_is_reported_once_tcp_is_up() {
    // A listener that accepts TCP and never speaks: TCP connects, the upgrade then times out.
    let raw = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = Multiaddr::tcp(raw.local_addr().unwrap());
    let _hold = tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((s, _)) = raw.accept().await {
            held.push(s);
        }
    });
    let upgrader =
        Upgrader::new(Keypair::ed25519_from_seed(2)).with_timeout(Duration::from_millis(200));
    let client = TcpTransport::new(upgrader, TcpConfig::default());
    let connected = std::sync::atomic::AtomicBool::new(false);
    let result = client
        .dial_with_progress(&addr, None, || {
            connected.store(true, std::sync::atomic::Ordering::SeqCst)
        })
        .await;
    assert!(matches!(
        result,
        Err(TransportError::Upgrade(UpgradeError::Timeout(_)))
    ));
    assert!(connected.load(std::sync::atomic::Ordering::SeqCst));

    // Nobody listening: no progress to report.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let nobody: Multiaddr = format!("/ip4/127.0.0.1/tcp/{port}").parse().unwrap();
    let connected = std::sync::atomic::AtomicBool::new(false);
    let _ = client
        .dial_with_progress(&nobody, None, || {
            connected.store(true, std::sync::atomic::Ordering::SeqCst)
        })
        .await;
    assert!(!connected.load(std::sync::atomic::Ordering::SeqCst));
}

#[tokio::test]
async fn connections_count_their_open_streams() {
    let server = transport(1, vec![SecurityProtocol::Noise]);
    let client = transport(2, vec![SecurityProtocol::Noise]);
    let listener = server.listen(&loopback()).unwrap();
    let addr = listener.local_addr().clone();
    let _accepted = serve_echo(listener);
    let conn = client.dial(&addr, None).await.unwrap();
    assert_eq!(conn.num_streams(), 0);
    let a = conn.open_stream(&[ECHO]).await.unwrap();
    let b = conn.open_stream(&["/unknown/1.0.0", ECHO]).await.unwrap();
    assert_eq!(conn.num_streams(), 2);
    drop(a);
    assert_eq!(conn.num_streams(), 1);
    drop(b);
    assert_eq!(conn.num_streams(), 0);
}
