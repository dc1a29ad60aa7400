//! The yamux driver over `tokio::io::duplex` and real loopback TCP.

use std::io;

use peernet::yamux::{Config, Role, SessionError, YamuxSession};
use peernet_core::yamux::{Flags, Header, HEADER_LEN};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

fn pair_over_duplex() -> (YamuxSession, YamuxSession) {
    let (a, b) = tokio::io::duplex(1 << 20);
    (
        YamuxSession::new(a, Role::Client, Config::default()),
        YamuxSession::new(b, Role::Server, Config::default()),
    )
}

async fn pair_over_tcp() -> (YamuxSession, YamuxSession) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (client, server) = tokio::join!(TcpStream::connect(addr), listener.accept());
    let client = client.unwrap();
    let (server, _) = server.unwrap();
    client.set_nodelay(true).unwrap();
    server.set_nodelay(true).unwrap();
    (
        YamuxSession::new(client, Role::Client, Config::default()),
        YamuxSession::new(server, Role::Server, Config::default()),
    )
}

/// The byte at offset `i` of a test transfer: not periodic at any power of two.
fn pattern(i: usize) -> u8 {
    (i % 251) as u8
}

/// Echo server: every accepted stream is copied back to itself until the peer's FIN.
fn spawn_echo(server: YamuxSession) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        while let Some(mut stream) = server.accept_stream().await {
            tokio::spawn(async move {
                let mut buf = vec![0u8; 64 * 1024];
                loop {
                    let n = stream.read(&mut buf).await.unwrap();
                    if n == 0 {
                        break;
                    }
                    stream.write_all(&buf[..n]).await.unwrap();
                }
                stream.shutdown().await.unwrap();
            });
        }
    })
}

async fn echo_once(client: &YamuxSession, len: usize, seed: usize) {
    let stream = client.open_stream().await.unwrap();
    let (mut r, mut w) = tokio::io::split(stream);
    let data: Vec<u8> = (0..len).map(|i| pattern(i + seed)).collect();
    let writer = async {
        w.write_all(&data).await.unwrap();
        w.shutdown().await.unwrap();
    };
    let reader = async {
        let mut back = Vec::new();
        r.read_to_end(&mut back).await.unwrap();
        back
    };
    let ((), back) = tokio::join!(writer, reader);
    assert!(back == data, "echo of {len} bytes (seed {seed}) differs");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn open_accept_and_echo_over_duplex() {
    let (client, server) = pair_over_duplex();
    spawn_echo(server);
    echo_once(&client, 5, 0).await;
    echo_once(&client, 1_000_000, 1).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn many_streams_in_parallel_over_duplex() {
    let (client, server) = pair_over_duplex();
    spawn_echo(server);
    let mut tasks = Vec::new();
    for i in 0..300 {
        let client = client.clone();
        tasks.push(tokio::spawn(async move {
            echo_once(&client, 10_000 + i * 97, i).await
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn many_streams_in_parallel_over_tcp() {
    let (client, server) = pair_over_tcp().await;
    spawn_echo(server);
    let mut tasks = Vec::new();
    for i in 0..100 {
        let client = client.clone();
        tasks.push(tokio::spawn(async move {
            echo_once(&client, 50_000 + i * 1013, i).await
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
}

/// Sends `len` pattern bytes client → server on one stream and checks every byte.
async fn one_way_transfer(client: YamuxSession, server: YamuxSession, len: usize) {
    let receiver = tokio::spawn(async move {
        let mut stream = server.accept_stream().await.unwrap();
        let mut buf = vec![0u8; 256 * 1024];
        let mut offset = 0usize;
        loop {
            let n = stream.read(&mut buf).await.unwrap();
            if n == 0 {
                break;
            }
            for (i, &b) in buf[..n].iter().enumerate() {
                assert_eq!(b, pattern(offset + i), "byte {}", offset + i);
            }
            offset += n;
        }
        offset
    });
    let mut stream = client.open_stream().await.unwrap();
    let chunk: Vec<u8> = (0..251 * 1024).map(pattern).collect();
    let mut sent = 0;
    while sent < len {
        let n = chunk.len().min(len - sent);
        stream.write_all(&chunk[..n]).await.unwrap();
        sent += n;
    }
    stream.shutdown().await.unwrap();
    assert_eq!(receiver.await.unwrap(), len);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn transfer_64_mib_over_duplex() {
    let (client, server) = pair_over_duplex();
    one_way_transfer(client, server, 64 << 20).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn transfer_64_mib_over_tcp() {
    let (client, server) = pair_over_tcp().await;
    one_way_transfer(client, server, 64 << 20).await;
}

#[tokio::test]
async fn half_close_lets_the_other_side_answer() {
    let (client, server) = pair_over_duplex();
    let server_task = tokio::spawn(async move {
        let mut stream = server.accept_stream().await.unwrap();
        let mut request = Vec::new();
        stream.read_to_end(&mut request).await.unwrap();
        assert_eq!(request, b"request");
        stream.write_all(b"response").await.unwrap();
        stream.shutdown().await.unwrap();
        // Writing after our own FIN is refused.
        let err = stream.write_all(b"late").await.unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::BrokenPipe);
    });
    let mut stream = client.open_stream().await.unwrap();
    stream.write_all(b"request").await.unwrap();
    stream.shutdown().await.unwrap();
    let mut response = Vec::new();
    stream.read_to_end(&mut response).await.unwrap();
    assert_eq!(response, b"response");
    server_task.await.unwrap();
}

#[tokio::test]
async fn reset_surfaces_as_connection_reset() {
    let (client, server) = pair_over_duplex();
    let mut stream = client.open_stream().await.unwrap();
    stream.write_all(b"hello").await.unwrap();
    let mut accepted = server.accept_stream().await.unwrap();
    let mut buf = [0u8; 5];
    accepted.read_exact(&mut buf).await.unwrap();
    stream.reset().unwrap();
    let err = accepted.read(&mut buf).await.unwrap_err();
    assert_eq!(err.kind(), io::ErrorKind::ConnectionReset);
    let err = accepted.write_all(b"x").await.unwrap_err();
    assert_eq!(err.kind(), io::ErrorKind::ConnectionReset);
}

#[tokio::test]
async fn dropping_a_stream_with_unread_data_resets_it() {
    let (client, server) = pair_over_duplex();
    let mut stream = client.open_stream().await.unwrap();
    stream.write_all(b"hello").await.unwrap();
    let mut accepted = server.accept_stream().await.unwrap();
    accepted.write_all(b"never read").await.unwrap();
    // Read one byte: the data has arrived, and the rest lies unread when the stream drops.
    let mut first = [0u8; 1];
    stream.read_exact(&mut first).await.unwrap();
    assert_eq!(&first, b"n");
    drop(stream);
    let mut buf = Vec::new();
    let err = accepted.read_to_end(&mut buf).await.unwrap_err();
    assert_eq!(err.kind(), io::ErrorKind::ConnectionReset);
}

/// A raw peer: reads frames from the wire, so a test can see exactly what our driver sent.
async fn read_frame<T: AsyncRead + Unpin>(io: &mut T) -> Option<Header> {
    let mut header = [0u8; HEADER_LEN];
    io.read_exact(&mut header).await.ok()?;
    let header = Header::decode(&header).unwrap();
    if header.frame_type == peernet_core::yamux::FrameType::Data {
        let mut payload = vec![0u8; header.length as usize];
        io.read_exact(&mut payload).await.unwrap();
    }
    Some(header)
}

async fn write_frame<T: AsyncWrite + Unpin>(io: &mut T, header: Header, payload: &[u8]) {
    io.write_all(&header.encode()).await.unwrap();
    io.write_all(payload).await.unwrap();
}

#[tokio::test]
async fn peer_disconnect_surfaces_as_errors_on_streams() {
    let (a, mut raw) = tokio::io::duplex(1 << 16);
    let client = YamuxSession::new(a, Role::Client, Config::default());
    let mut stream = client.open_stream().await.unwrap();
    stream.write_all(b"hi").await.unwrap();
    // The raw peer acknowledges and sends some data, then vanishes without FIN.
    write_frame(&mut raw, Header::window_update(1, Flags::ACK, 0), &[]).await;
    write_frame(&mut raw, Header::data(1, Flags::NONE, 3), b"abc").await;
    let mut buf = [0u8; 3];
    stream.read_exact(&mut buf).await.unwrap();
    drop(raw);
    let err = stream.read(&mut buf).await.unwrap_err();
    assert_eq!(err.kind(), io::ErrorKind::UnexpectedEof);
    let err = stream.write_all(b"more").await.unwrap_err();
    assert_eq!(err.kind(), io::ErrorKind::UnexpectedEof);
    assert!(matches!(client.closed().await, SessionError::Eof));
    assert!(client.open_stream().await.is_err());
}

#[tokio::test]
async fn data_buffered_before_the_peer_left_stays_readable() {
    let (a, mut raw) = tokio::io::duplex(1 << 16);
    let client = YamuxSession::new(a, Role::Client, Config::default());
    let mut stream = client.open_stream().await.unwrap();
    write_frame(
        &mut raw,
        Header::data(1, Flags::ACK.with(Flags::FIN), 5),
        b"bye!!",
    )
    .await;
    drop(raw);
    assert!(matches!(client.closed().await, SessionError::Eof));
    let mut buf = Vec::new();
    stream.read_to_end(&mut buf).await.unwrap();
    assert_eq!(buf, b"bye!!");
}

#[tokio::test]
async fn dropping_the_connection_ends_its_task() {
    let (a, mut raw) = tokio::io::duplex(1 << 16);
    let client = YamuxSession::new(a, Role::Client, Config::default());
    let other = client.clone();
    drop(client);
    // Still one handle: the connection lives and answers pings.
    write_frame(&mut raw, Header::ping(Flags::SYN, 42), &[]).await;
    loop {
        let frame = read_frame(&mut raw).await.unwrap();
        if frame == Header::ping(Flags::ACK, 42) {
            break;
        }
    }
    drop(other);
    // The last handle is gone: go-away, then the task drops the I/O (end of file here).
    let mut frames = Vec::new();
    while let Some(frame) = read_frame(&mut raw).await {
        frames.push(frame);
    }
    assert_eq!(
        frames.last(),
        Some(&Header::go_away(peernet_core::yamux::GoAwayCode::Normal))
    );
}

#[tokio::test]
async fn close_sends_go_away_and_ends_streams() {
    let (client, server) = pair_over_duplex();
    let mut stream = client.open_stream().await.unwrap();
    stream.write_all(b"x").await.unwrap();
    let mut accepted = server.accept_stream().await.unwrap();
    client.close().await;
    assert!(matches!(client.error(), Some(SessionError::Closed)));
    assert!(server.accept_stream().await.is_none());
    let mut buf = Vec::new();
    // The byte sent before the close arrives, then the stream fails: it never got a FIN.
    let err = accepted.read_to_end(&mut buf).await.unwrap_err();
    assert_eq!(buf, b"x");
    assert_eq!(err.kind(), io::ErrorKind::UnexpectedEof);
}

#[tokio::test]
async fn protocol_violation_ends_the_connection_with_go_away() {
    let (a, mut raw) = tokio::io::duplex(1 << 16);
    let server = YamuxSession::new(a, Role::Server, Config::default());
    // Oversized data on a SYN frame.
    write_frame(&mut raw, Header::data(1, Flags::SYN, 300 * 1024), &[]).await;
    let mut frames = Vec::new();
    while let Some(frame) = read_frame(&mut raw).await {
        frames.push(frame);
    }
    assert_eq!(
        frames.last(),
        Some(&Header::go_away(
            peernet_core::yamux::GoAwayCode::ProtocolError
        ))
    );
    assert!(matches!(server.closed().await, SessionError::Yamux(_)));
    assert!(server.accept_stream().await.is_none());
}

#[tokio::test(start_paused = true)]
async fn keep_alive_timeout_ends_a_silent_connection() {
    let (a, mut raw) = tokio::io::duplex(1 << 16);
    let client = YamuxSession::new(a, Role::Client, Config::default());
    // The raw peer reads (so the connection is not blocked) but never answers pings.
    let reader = tokio::spawn(async move { while read_frame(&mut raw).await.is_some() {} });
    let err = client.closed().await;
    assert!(
        matches!(
            err,
            SessionError::Yamux(peernet_core::yamux::YamuxError::KeepAliveTimeout)
        ),
        "{err:?}"
    );
    reader.await.unwrap();
}
