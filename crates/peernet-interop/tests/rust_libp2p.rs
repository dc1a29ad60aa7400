//! Interop with rust-libp2p 0.57 over TCP and WebSocket (`/tcp/…/ws`): our dialer against their
//! listener and theirs against ours, for Noise, TLS and plaintext with yamux; each direction runs
//! ping and a 1 MiB echo. (QUIC is in tests/quic_interop.rs.)

mod support;

use std::time::Duration;

use peernet::services::{echo, ping};
use peernet::{
    Keypair, Multiaddr, SecurityProtocol, TcpConfig, TcpTransport, Transport, Upgrader, WsTransport,
};
use support::{echo_via_libp2p, serve_ping_and_echo as serve, RustNode, Security, Seen, ECHO};

const MIB: usize = 1 << 20;

fn pattern(len: usize) -> Vec<u8> {
    (0..len).map(|i| (i * 131 % 251) as u8).collect()
}

/// Our transport for the same stack as the rust-libp2p node, and the address it listens on.
fn our_transport(security: Security) -> (Transport, &'static str) {
    let (protocol, ws) = match security {
        Security::Noise => (SecurityProtocol::Noise, false),
        Security::Tls => (SecurityProtocol::Tls, false),
        Security::Plaintext => (SecurityProtocol::Plaintext, false),
        Security::WsNoise => (SecurityProtocol::Noise, true),
        Security::WsTls => (SecurityProtocol::Tls, true),
        Security::Quic => unreachable!("QUIC interop is in tests/quic_interop.rs"),
        Security::Wss => unreachable!("secure WebSocket interop is in tests/wss_interop.rs"),
    };
    let upgrader = Upgrader::new(Keypair::generate_ed25519()).with_security(vec![protocol]);
    if ws {
        let transport = WsTransport::new(upgrader, TcpConfig::default());
        (transport.into(), "/ip4/127.0.0.1/tcp/0/ws")
    } else {
        let transport = TcpTransport::new(upgrader, TcpConfig::default());
        (transport.into(), "/ip4/127.0.0.1/tcp/0")
    }
}

fn to_ours(addr: &libp2p::Multiaddr) -> Multiaddr {
    Multiaddr::from_bytes(&addr.to_vec()).unwrap()
}

/// Our dialer, their listener.
async fn we_dial(security: Security) {
    let node = RustNode::spawn(security).await;
    let (transport, _) = our_transport(security);
    let addr = to_ours(&node.listen_addr.clone().with_p2p(node.peer_id).unwrap());
    let conn = tokio::time::timeout(Duration::from_secs(10), transport.dial(&addr, None))
        .await
        .expect("dial timed out")
        .unwrap();
    assert_eq!(conn.remote_peer().as_bytes(), node.peer_id.to_bytes());

    let mut stream = conn.open_stream(&[ping::PROTOCOL]).await.unwrap();
    for _ in 0..3 {
        ping::ping(&mut stream).await.unwrap();
    }

    let data = pattern(MIB);
    let stream = conn.open_stream(&[echo::PROTOCOL]).await.unwrap();
    let back = echo::echo(stream, &data, 2 * MIB).await.unwrap();
    assert!(
        back == data,
        "1 MiB echo through rust-libp2p came back different"
    );
}

/// Their dialer, our listener.
async fn they_dial(security: Security) {
    let mut node = RustNode::spawn(security).await;
    let (transport, listen_addr) = our_transport(security);
    let our_id = transport.local_peer().clone();
    let listener = transport.listen(&listen_addr.parse().unwrap()).unwrap();
    let addr: libp2p::Multiaddr = listener.local_addr().to_string().parse().unwrap();
    serve(listener);
    let our_libp2p_id = libp2p::PeerId::from_bytes(our_id.as_bytes()).unwrap();

    node.dial(addr).await.unwrap();
    // Their ping behaviour pings every new connection; it must succeed against ours.
    let rtt = node
        .wait_for(|seen| match seen {
            Seen::Ping(peer, result) if *peer == our_libp2p_id => Some(result.clone()),
            _ => None,
        })
        .await;
    assert!(rtt.is_ok(), "their ping failed: {rtt:?}");

    let stream = node.control.open_stream(our_libp2p_id, ECHO).await.unwrap();
    let data = pattern(MIB);
    let back = echo_via_libp2p(stream, &data).await;
    assert!(
        back == data,
        "1 MiB echo through peernet came back different"
    );
}

#[tokio::test]
async fn noise_we_dial_rust_libp2p() {
    we_dial(Security::Noise).await;
}

#[tokio::test]
async fn noise_rust_libp2p_dials_us() {
    they_dial(Security::Noise).await;
}

#[tokio::test]
async fn tls_we_dial_rust_libp2p() {
    we_dial(Security::Tls).await;
}

#[tokio::test]
async fn tls_rust_libp2p_dials_us() {
    they_dial(Security::Tls).await;
}

#[tokio::test]
async fn plaintext_we_dial_rust_libp2p() {
    we_dial(Security::Plaintext).await;
}

#[tokio::test]
async fn plaintext_rust_libp2p_dials_us() {
    they_dial(Security::Plaintext).await;
}

#[tokio::test]
async fn ws_noise_we_dial_rust_libp2p() {
    we_dial(Security::WsNoise).await;
}

#[tokio::test]
async fn ws_noise_rust_libp2p_dials_us() {
    they_dial(Security::WsNoise).await;
}

#[tokio::test]
async fn ws_tls_we_dial_rust_libp2p() {
    we_dial(Security::WsTls).await;
}

#[tokio::test]
async fn ws_tls_rust_libp2p_dials_us() {
    they_dial(Security::WsTls).await;
}
