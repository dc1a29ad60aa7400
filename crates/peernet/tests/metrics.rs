//! Metrics of two hosts that connect, ping and echo, read from the text exposition and from
//! the HTTP endpoint; the endpoint refuses garbage without panicking or hanging.

use std::time::Duration;

use peernet::metrics::{self, Metrics, CONTENT_TYPE, MAX_REQUEST_BYTES};
use peernet::services::{echo, ping};
use peernet::{AddrInfo, Host, HostEvent};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

const ECHOED: usize = 100_000;

/// The value of the sample `series` (name and labels exactly as exposed).
fn sample(text: &str, series: &str) -> Option<f64> {
    text.lines().find_map(|line| {
        let value = line.strip_prefix(series)?.strip_prefix(' ')?;
        value.parse().ok()
    })
}

fn expect(text: &str, series: &str, value: f64) {
    assert_eq!(sample(text, series), Some(value), "{series} in\n{text}");
}

/// Connects a client to a server listening on `listen`, pings once and echoes [`ECHOED`]
/// bytes; returns both hosts' metrics texts after the client is identified and done.
async fn connect_ping_echo(listen: &str) -> (Host, Host, Metrics, Metrics) {
    let server_metrics = Metrics::new();
    let client_metrics = Metrics::new();
    let server = Host::builder()
        .listen_addrs([listen.parse().unwrap()])
        .metrics(server_metrics.clone())
        .build()
        .await
        .unwrap();
    server.set_stream_handler(echo::PROTOCOL, |mut s| async move {
        let _ = echo::serve(&mut s).await;
    });
    let client = Host::builder()
        .no_listen()
        .metrics(client_metrics.clone())
        .build()
        .await
        .unwrap();
    assert!(client.metrics().is_some());
    let mut events = client.subscribe();
    client
        .connect(AddrInfo {
            peer_id: server.id().clone(),
            addrs: server.listen_addrs(),
        })
        .await
        .unwrap();
    loop {
        match events.recv().await.unwrap() {
            HostEvent::Identified { .. } => break,
            HostEvent::IdentifyFailed { .. } => panic!("identify failed"),
            HostEvent::Pushed { .. } => {}
        }
    }
    client.ping(server.id()).await.unwrap();
    let stream = client
        .new_stream(server.id(), &[echo::PROTOCOL])
        .await
        .unwrap();
    let data = vec![7u8; ECHOED];
    let back = echo::echo(stream, &data, ECHOED).await.unwrap();
    assert_eq!(back.len(), ECHOED);
    (server, client, server_metrics, client_metrics)
}

async fn check_counters(listen: &str, transport: &str, security: &str, muxer: &str) {
    let (server, client, server_metrics, client_metrics) = connect_ping_echo(listen).await;
    let text = client_metrics.encode();
    let conn = format!(
        r#"transport="{transport}",direction="outbound",security="{security}",muxer="{muxer}""#
    );
    expect(
        &text,
        &format!("peernet_connections_opened_total{{{conn}}}"),
        1.0,
    );
    expect(
        &text,
        &format!(r#"peernet_connections{{transport="{transport}",direction="outbound"}}"#),
        1.0,
    );
    expect(
        &text,
        &format!(r#"peernet_dials_total{{transport="{transport}",outcome="success"}}"#),
        1.0,
    );
    expect(
        &text,
        &format!(
            r#"peernet_handshake_duration_seconds_count{{transport="{transport}",security="{security}"}}"#
        ),
        1.0,
    );
    let ping_out = format!(r#"protocol="{}",direction="outbound""#, ping::PROTOCOL);
    expect(
        &text,
        &format!("peernet_streams_opened_total{{{ping_out}}}"),
        1.0,
    );
    let echo_out = format!(r#"protocol="{}",direction="outbound""#, echo::PROTOCOL);
    expect(
        &text,
        &format!("peernet_streams_opened_total{{{echo_out}}}"),
        1.0,
    );
    let echo_bytes = |direction: &str| {
        format!(
            r#"peernet_stream_bytes_total{{protocol="{}",direction="{direction}"}}"#,
            echo::PROTOCOL
        )
    };
    expect(&text, &echo_bytes("written"), ECHOED as f64);
    expect(&text, &echo_bytes("read"), ECHOED as f64);
    // A ping is 32 bytes each way.
    let ping_bytes = format!(
        r#"peernet_stream_bytes_total{{protocol="{}",direction="written"}}"#,
        ping::PROTOCOL
    );
    expect(&text, &ping_bytes, 32.0);
    expect(&text, "peernet_ping_rtt_seconds_count", 1.0);
    expect(&text, r#"peernet_identify_total{event="received"}"#, 1.0);

    // The server saw the same connection inbound and served the echo.
    let text = server_metrics.encode();
    let conn = format!(
        r#"transport="{transport}",direction="inbound",security="{security}",muxer="{muxer}""#
    );
    expect(
        &text,
        &format!("peernet_connections_opened_total{{{conn}}}"),
        1.0,
    );
    let echo_in = format!(r#"protocol="{}",direction="inbound""#, echo::PROTOCOL);
    expect(
        &text,
        &format!("peernet_streams_opened_total{{{echo_in}}}"),
        1.0,
    );
    assert!(
        sample(&text, &echo_bytes("read")).is_some_and(|n| n >= ECHOED as f64),
        "{text}"
    );

    // Closing the client takes its connection out of the gauges.
    client.close().await;
    let text = client_metrics.encode();
    let conn = format!(
        r#"transport="{transport}",direction="outbound",security="{security}",muxer="{muxer}""#
    );
    expect(
        &text,
        &format!("peernet_connections_closed_total{{{conn}}}"),
        1.0,
    );
    expect(
        &text,
        &format!(r#"peernet_connections{{transport="{transport}",direction="outbound"}}"#),
        0.0,
    );
    expect(&text, &format!("peernet_streams{{{echo_out}}}"), 0.0);
    server.close().await;
}

#[tokio::test]
async fn tcp_counters_after_connect_ping_and_echo() {
    check_counters("/ip4/127.0.0.1/tcp/0", "tcp", "/noise", "/yamux/1.0.0").await;
}

#[tokio::test]
async fn quic_counters_after_connect_ping_and_echo() {
    check_counters(
        "/ip4/127.0.0.1/udp/0/quic-v1",
        "quic-v1",
        "/tls/1.0.0",
        "quic-v1",
    )
    .await;
}

#[tokio::test]
async fn hosts_without_metrics_have_none() {
    let host = Host::builder().no_listen().build().await.unwrap();
    assert!(host.metrics().is_none());
    host.close().await;
}

/// Starts the endpoint on a free loopback port.
async fn endpoint(metrics: Metrics) -> std::net::SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(metrics::serve(listener, metrics));
    addr
}

/// Sends `request` and reads the whole answer (the endpoint closes after one).
async fn exchange(addr: std::net::SocketAddr, request: &[u8]) -> String {
    let mut socket = TcpStream::connect(addr).await.unwrap();
    socket.write_all(request).await.unwrap();
    let mut answer = Vec::new();
    socket.read_to_end(&mut answer).await.unwrap();
    String::from_utf8(answer).unwrap()
}

#[tokio::test]
async fn the_endpoint_serves_the_counters() {
    let (server, client, _, client_metrics) = connect_ping_echo("/ip4/127.0.0.1/tcp/0").await;
    let addr = endpoint(client_metrics.clone()).await;
    let answer = exchange(addr, b"GET /metrics HTTP/1.1\r\nHost: localhost\r\n\r\n").await;
    let (head, body) = answer.split_once("\r\n\r\n").unwrap();
    assert!(head.starts_with("HTTP/1.1 200 OK\r\n"), "{head}");
    assert!(
        head.contains(&format!("Content-Type: {CONTENT_TYPE}\r\n")),
        "{head}"
    );
    assert!(
        head.contains(&format!("Content-Length: {}\r\n", body.len())),
        "{head}"
    );
    expect(
        body,
        r#"peernet_dials_total{transport="tcp",outcome="success"}"#,
        1.0,
    );
    expect(
        body,
        &format!(
            r#"peernet_stream_bytes_total{{protocol="{}",direction="written"}}"#,
            echo::PROTOCOL
        ),
        ECHOED as f64,
    );
    assert!(body.ends_with("# EOF\n"));

    // HEAD: the same headers, no body.
    let answer = exchange(addr, b"HEAD /metrics HTTP/1.1\r\n\r\n").await;
    assert!(answer.starts_with("HTTP/1.1 200 OK\r\n"), "{answer}");
    assert!(answer.ends_with("\r\n\r\n"), "{answer}");
    client.close().await;
    server.close().await;
}

#[tokio::test]
async fn the_endpoint_refuses_garbage_and_keeps_serving() {
    let metrics = Metrics::new();
    let addr = endpoint(metrics.clone()).await;
    let status = |answer: &str| answer.lines().next().unwrap_or_default().to_owned();
    assert_eq!(
        status(&exchange(addr, b"GET / HTTP/1.1\r\n\r\n").await),
        "HTTP/1.1 404 Not Found"
    );
    assert_eq!(
        status(&exchange(addr, b"DELETE /metrics HTTP/1.1\r\n\r\n").await),
        "HTTP/1.1 405 Method Not Allowed"
    );
    assert_eq!(
        status(&exchange(addr, b"\x00\x01\xff garbage\r\n\r\n").await),
        "HTTP/1.1 400 Bad Request"
    );
    let oversized = vec![b'a'; MAX_REQUEST_BYTES];
    assert_eq!(
        status(&exchange(addr, &oversized).await),
        "HTTP/1.1 431 Request Header Fields Too Large"
    );
    // A client that closes half way gets nothing, and breaks nothing.
    {
        let mut socket = TcpStream::connect(addr).await.unwrap();
        socket.write_all(b"GET /met").await.unwrap();
        socket.shutdown().await.unwrap();
        let mut rest = Vec::new();
        let _ = socket.read_to_end(&mut rest).await;
        assert!(rest.is_empty());
    }
    // A silent client does not hold up the others, and is dropped after the timeout.
    let mut silent = TcpStream::connect(addr).await.unwrap();
    let answer = exchange(addr, b"GET /metrics HTTP/1.0\r\n\r\n").await;
    assert!(answer.starts_with("HTTP/1.1 200 OK"), "{answer}");
    let mut rest = Vec::new();
    let closed = tokio::time::timeout(
        metrics::REQUEST_TIMEOUT + Duration::from_secs(30),
        silent.read_to_end(&mut rest),
    )
    .await;
    assert!(closed.is_ok(), "a silent client was never dropped");
    assert!(rest.is_empty());
}
