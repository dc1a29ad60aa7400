//! Interop with rust-libp2p 0.57 over secure WebSocket (`/tcp/…/tls/ws`, web TLS with a
//! certificate from a test CA, Noise and yamux inside), both directions: ping and a 1 MiB echo.
//! Our dialer reaches theirs by DNS name (`/dns4/localhost/…`, the name being the TLS server
//! name); theirs reaches ours with `/tls/sni/localhost/ws`.

mod support;

use std::time::Duration;

use peernet::services::{echo, ping};
use peernet::{
    Keypair, Multiaddr, SecurityProtocol, TcpConfig, Upgrader, WsTlsConfig, WsTransport,
};
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use support::{echo_via_libp2p, serve_ping_and_echo as serve, RustNode, Seen, ECHO};

const MIB: usize = 1 << 20;

fn pattern(len: usize) -> Vec<u8> {
    (0..len).map(|i| (i * 131 % 251) as u8).collect()
}

/// A test CA and a certificate it signed for `localhost`, with the leaf's key.
struct Pki {
    ca: CertificateDer<'static>,
    leaf: CertificateDer<'static>,
    key: PrivateKeyDer<'static>,
}

fn pki() -> Pki {
    let ca_key = rcgen::KeyPair::generate().unwrap();
    let mut params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
    params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    let ca = params.self_signed(&ca_key).unwrap();
    let leaf_key = rcgen::KeyPair::generate().unwrap();
    let leaf = rcgen::CertificateParams::new(vec!["localhost".to_string()])
        .unwrap()
        .signed_by(&leaf_key, &ca, &ca_key)
        .unwrap();
    Pki {
        ca: ca.der().clone(),
        leaf: leaf.der().clone(),
        key: PrivateKeyDer::Pkcs8(leaf_key.serialize_der().into()),
    }
}

/// rust-libp2p's websocket TLS configuration: our certificate to listen, the CA to trust.
fn their_tls(pki: &Pki) -> libp2p::websocket::tls::Config {
    use libp2p::websocket::tls;
    let mut builder = tls::Config::builder();
    builder
        .server(
            tls::PrivateKey::new(pki.key.secret_der().to_vec()),
            [tls::Certificate::new(pki.leaf.to_vec())],
        )
        .unwrap();
    builder
        .add_trust(&tls::Certificate::new(pki.ca.to_vec()))
        .unwrap();
    builder.finish()
}

/// Our WebSocket transport with the same certificate and CA, Noise.
fn our_transport(pki: &Pki) -> WsTransport {
    let mut roots = rustls::RootCertStore::empty();
    roots.add(pki.ca.clone()).unwrap();
    let tls = WsTlsConfig::new()
        .with_certificate(vec![pki.leaf.clone()], pki.key.clone_key())
        .unwrap()
        .with_roots(roots)
        .unwrap();
    let upgrader =
        Upgrader::new(Keypair::generate_ed25519()).with_security(vec![SecurityProtocol::Noise]);
    WsTransport::new(upgrader, TcpConfig::default()).with_tls(tls)
}

#[tokio::test]
async fn wss_we_dial_rust_libp2p() {
    let pki = pki();
    let node = RustNode::spawn_wss(their_tls(&pki)).await;
    let listen = node.listen_addr.to_string();
    assert!(listen.ends_with("/tls/ws"), "{listen}");
    let addr: Multiaddr = format!(
        "{}/p2p/{}",
        listen.replace("/ip4/127.0.0.1/", "/dns4/localhost/"),
        node.peer_id
    )
    .parse()
    .unwrap();
    let transport = our_transport(&pki);
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
    assert!(back == data, "1 MiB echo over /tls/ws came back different");
}

#[tokio::test]
async fn wss_rust_libp2p_dials_us() {
    let pki = pki();
    let mut node = RustNode::spawn_wss(their_tls(&pki)).await;
    let transport = our_transport(&pki);
    let our_id = transport.upgrader().local_peer().clone();
    let listener = transport
        .listen(&"/ip4/127.0.0.1/tcp/0/tls/ws".parse().unwrap())
        .unwrap();
    let port = listener.local_addr().socket_addr().unwrap().port();
    serve(listener);
    let our_libp2p_id = libp2p::PeerId::from_bytes(our_id.as_bytes()).unwrap();
    let addr: libp2p::Multiaddr = format!("/ip4/127.0.0.1/tcp/{port}/tls/sni/localhost/ws")
        .parse()
        .unwrap();
    node.dial(addr).await.unwrap();
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
    assert!(back == data, "1 MiB echo over /tls/ws came back different");
}
