//! Our yamux against rust-libp2p 0.57's (rust-yamux underneath) over TCP + Noise: our dialer
//! against their listener and theirs against ours, each answering the other's ping streams and
//! doing a 1 MiB echo checked byte for byte.
//!
//! The connection upgrade here is written out by hand (multistream-select → Noise →
//! multistream-select → yamux) so that these tests exercise the muxer only; the upgrader has its
//! own interop tests.

mod support;

use std::time::Duration;

use peernet::core::{Keypair, PeerId};
use peernet::multistream::{select_inbound, select_outbound, Prefixed};
use peernet::noise;
use peernet::yamux::{Config, Role, YamuxSession};
use support::{RustNode, Security, Seen, ECHO};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

const PING: &str = "/ipfs/ping/1.0.0";

fn tcp_port(addr: &libp2p::Multiaddr) -> u16 {
    addr.iter()
        .find_map(|p| match p {
            libp2p::multiaddr::Protocol::Tcp(port) => Some(port),
            _ => None,
        })
        .expect("a tcp address")
}

/// Serves the peer's streams: ping (which is an echo of 32-byte payloads) and echo.
fn serve_inbound(conn: YamuxSession) {
    tokio::spawn(async move {
        while let Some(mut stream) = conn.accept_stream().await {
            tokio::spawn(async move {
                let mut supported = |p: &str| p == PING || p == ECHO.as_ref();
                let list = Vec::new;
                let Ok((_, rest)) = select_inbound(&mut stream, &mut supported, &list).await else {
                    return;
                };
                let (mut r, mut w) = tokio::io::split(Prefixed::new(rest, stream));
                let _ = tokio::io::copy(&mut r, &mut w).await;
                let _ = w.shutdown().await;
            });
        }
    });
}

fn pattern(len: usize) -> Vec<u8> {
    (0..len)
        .map(|i| (i % 251) as u8 ^ (i >> 16) as u8)
        .collect()
}

/// Opens a stream to the peer's echo service.
async fn open_echo(conn: &YamuxSession) -> Prefixed<peernet::yamux::YamuxStream> {
    let mut stream = conn.open_stream().await.expect("open");
    let (proto, rest) = select_outbound(&mut stream, &[ECHO.as_ref()])
        .await
        .expect("negotiate echo");
    assert_eq!(proto, ECHO.as_ref());
    let mut stream = Prefixed::new(rest, stream);
    // One byte there and back: the peer's echo handler is running before we return.
    stream.write_all(b"!").await.expect("write");
    let mut one = [0u8; 1];
    stream.read_exact(&mut one).await.expect("first echo byte");
    assert_eq!(&one, b"!");
    stream
}

/// Writes `data` and half-closes while reading the echo to its end.
async fn echo_on(stream: Prefixed<peernet::yamux::YamuxStream>, data: &[u8]) -> Vec<u8> {
    let (mut r, mut w) = tokio::io::split(stream);
    let data = data.to_vec();
    let writer = tokio::spawn(async move {
        w.write_all(&data).await.expect("write");
        w.shutdown().await.expect("FIN");
    });
    let mut back = Vec::new();
    r.read_to_end(&mut back).await.expect("read echo");
    writer.await.expect("writer");
    back
}

async fn echo_via_peernet(conn: &YamuxSession, data: &[u8]) -> Vec<u8> {
    echo_on(open_echo(conn).await, data).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn our_yamux_dials_rust_libp2p() {
    let mut node = RustNode::spawn(Security::Noise).await;
    let key = Keypair::generate_ed25519();
    let mut tcp = TcpStream::connect(("127.0.0.1", tcp_port(&node.listen_addr)))
        .await
        .unwrap();
    tcp.set_nodelay(true).unwrap();
    let (_, rest) = select_outbound(&mut tcp, &["/noise"]).await.unwrap();
    let expected = PeerId::from_bytes(&node.peer_id.to_bytes()).unwrap();
    let (mut secure, _) =
        noise::upgrade_outbound(Prefixed::new(rest, tcp), &key, Some(expected), &[])
            .await
            .unwrap();
    let (_, rest) = select_outbound(&mut secure, &["/yamux/1.0.0"])
        .await
        .unwrap();
    let conn = YamuxSession::new(Prefixed::new(rest, secure), Role::Client, Config::default());
    serve_inbound(conn.clone());

    // Their pings arrive on streams they open to us.
    node.wait_for(|seen| match seen {
        Seen::Ping(_, Ok(rtt)) => Some(*rtt),
        _ => None,
    })
    .await;
    // A 1 MiB echo on a stream we open.
    let data = pattern(1 << 20);
    let back = tokio::time::timeout(Duration::from_secs(20), echo_via_peernet(&conn, &data))
        .await
        .expect("echo within 20 s");
    assert!(back == data, "echo differs");
    // Several transfers at once. The streams are set up one after the other: rust-libp2p's
    // libp2p-stream hands inbound streams over through a channel without buffer and resets
    // those that arrive while its accept loop is busy (`try_send`, "Channel is full").
    let mut streams = Vec::new();
    for _ in 0..16 {
        streams.push(open_echo(&conn).await);
    }
    let mut tasks = Vec::new();
    for (i, stream) in streams.into_iter().enumerate() {
        tasks.push(tokio::spawn(async move {
            let data = pattern(10_000 + i * 30_001);
            assert!(echo_on(stream, &data).await == data);
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rust_libp2p_dials_our_yamux() {
    let mut node = RustNode::spawn(Security::Noise).await;
    let key = Keypair::generate_ed25519();
    let our_id = libp2p::PeerId::from_bytes(&key.to_peer_id().to_bytes()).unwrap();
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let server = tokio::spawn(async move {
        let (mut tcp, _) = listener.accept().await.unwrap();
        tcp.set_nodelay(true).unwrap();
        let (_, rest) = select_inbound(&mut tcp, &mut |p: &str| p == "/noise", &Vec::new)
            .await
            .unwrap();
        let (mut secure, _) = noise::upgrade_inbound(Prefixed::new(rest, tcp), &key, &[])
            .await
            .unwrap();
        let (_, rest) = select_inbound(&mut secure, &mut |p: &str| p == "/yamux/1.0.0", &Vec::new)
            .await
            .unwrap();
        let conn = YamuxSession::new(Prefixed::new(rest, secure), Role::Server, Config::default());
        serve_inbound(conn.clone());
        conn
    });
    let addr: libp2p::Multiaddr = format!("/ip4/127.0.0.1/tcp/{port}").parse().unwrap();
    node.dial(addr).await.expect("rust-libp2p dials us");
    let conn = server.await.unwrap();
    node.wait_for(|seen| match seen {
        Seen::Ping(_, Ok(rtt)) => Some(*rtt),
        _ => None,
    })
    .await;
    let mut control = node.control.clone();
    let stream = control
        .open_stream(our_id, ECHO)
        .await
        .expect("open echo stream to us");
    let data = pattern(1 << 20);
    let back = tokio::time::timeout(
        Duration::from_secs(20),
        support::echo_via_libp2p(stream, &data),
    )
    .await
    .expect("echo within 20 s");
    assert!(back == data, "echo differs");
    // And our side opens streams to them on the same connection.
    assert!(echo_via_peernet(&conn, &pattern(100_000)).await == pattern(100_000));
}
