//! Throughput of one yamux stream: 1 GiB over `tokio::io::duplex` and over loopback TCP (no
//! encryption), next to raw loopback TCP for reference.
//!
//! `cargo bench -p peernet --bench yamux [-- <MiB>] [raw|duplex|tcp|noise]`: the amount (default
//! 1024 MiB) and optionally a single case (`noise`, yamux over Noise over TCP, runs only when
//! asked for).

use std::time::Instant;

use peernet::core::Keypair;
use peernet::noise;
use peernet::yamux::{Config, Role, YamuxSession};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

const CHUNK: usize = 1 << 20;

async fn tcp_pair() -> (TcpStream, TcpStream) {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    let (client, server) = tokio::join!(TcpStream::connect(addr), listener.accept());
    let client = client.expect("connect");
    let (server, _) = server.expect("accept");
    client.set_nodelay(true).expect("nodelay");
    server.set_nodelay(true).expect("nodelay");
    (client, server)
}

/// Writes `total` bytes to `w` and reads them from `r` concurrently; returns Gbit/s.
async fn pump<W, R>(mut w: W, mut r: R, total: usize) -> f64
where
    W: AsyncWrite + Unpin + Send + 'static,
    R: AsyncRead + Unpin + Send + 'static,
{
    let start = Instant::now();
    let writer = tokio::spawn(async move {
        let chunk = vec![0x5au8; CHUNK];
        let mut sent = 0;
        while sent < total {
            let n = CHUNK.min(total - sent);
            w.write_all(&chunk[..n]).await.expect("write");
            sent += n;
        }
        w.shutdown().await.expect("shutdown");
        w
    });
    let mut buf = vec![0u8; CHUNK];
    let mut received = 0;
    loop {
        let n = r.read(&mut buf).await.expect("read");
        if n == 0 {
            break;
        }
        received += n;
    }
    let elapsed = start.elapsed();
    let _w = writer.await.expect("writer");
    assert_eq!(received, total);
    received as f64 * 8.0 / elapsed.as_secs_f64() / 1e9
}

async fn yamux_over<T>(client_io: T, server_io: T, total: usize) -> f64
where
    T: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let mut config = Config::default();
    if let Some(t) = std::env::var("ZC").ok().and_then(|v| v.parse().ok()) {
        config.zero_copy_threshold = t;
    }
    if let Some(t) = std::env::var("WB").ok().and_then(|v| v.parse().ok()) {
        config.write_buffer_size = t;
    }
    if let Some(t) = std::env::var("MW").ok().and_then(|v| v.parse().ok()) {
        config.max_stream_window = t;
    }
    if let Some(t) = std::env::var("FR").ok().and_then(|v| v.parse().ok()) {
        config.max_frame_size = t;
    }
    let client = YamuxSession::new(client_io, Role::Client, config.clone());
    let server = YamuxSession::new(server_io, Role::Server, config);
    let mut out = client.open_stream().await.expect("open");
    // One byte through before the clock starts: the stream is open on both sides.
    out.write_all(&[0x5a]).await.expect("write");
    let mut incoming = server.accept_stream().await.expect("accept");
    let mut one = [0u8; 1];
    incoming.read_exact(&mut one).await.expect("first byte");
    let gbps = pump(out, incoming, total).await;
    if std::env::var("RTT").is_ok() {
        eprintln!("rtt client {:?} server {:?}", client.rtt(), server.rtt());
    }
    drop((client, server));
    gbps
}

fn main() {
    let mib: usize = std::env::args()
        .skip(1)
        .find_map(|a| a.parse().ok())
        .unwrap_or(1024);
    let total = mib << 20;
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(
            std::env::var("WT")
                .ok()
                .and_then(|v| v.parse().ok())
                .unwrap_or(2),
        )
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(async {
        let only = std::env::args()
            .skip(1)
            .find(|a| !a.starts_with("--") && a.parse::<usize>().is_err());
        for round in 1..=3 {
            let mut line = format!("round {round}: {mib} MiB, one stream:");
            let mut raw = None;
            if only.as_deref().is_none_or(|m| m == "raw") {
                let (a, b) = tcp_pair().await;
                let gbps = pump(a, b, total).await;
                raw = Some(gbps);
                line += &format!(" raw TCP {gbps:.2} Gbit/s |");
            }
            if only.as_deref().is_none_or(|m| m == "duplex") {
                let (a, b) = tokio::io::duplex(4 << 20);
                let gbps = yamux_over(a, b, total).await;
                line += &format!(" yamux over duplex {gbps:.2} Gbit/s |");
            }
            if only.as_deref().is_none_or(|m| m == "tcp") {
                let (a, b) = tcp_pair().await;
                let gbps = yamux_over(a, b, total).await;
                line += &format!(" yamux over TCP {gbps:.2} Gbit/s");
                if let Some(raw) = raw {
                    line += &format!(" ({:.0}% of raw TCP)", gbps / raw * 100.0);
                }
            }
            if only.as_deref() == Some("noise") {
                let (a, b) = tcp_pair().await;
                let (ka, kb) = (Keypair::generate_ed25519(), Keypair::generate_ed25519());
                let (a, b) = tokio::join!(
                    noise::upgrade_outbound(a, &ka, Some(kb.to_peer_id()), &[]),
                    noise::upgrade_inbound(b, &kb, &[]),
                );
                let ((a, _), (b, _)) = (a.expect("noise"), b.expect("noise"));
                let gbps = yamux_over(a, b, total).await;
                line += &format!(" yamux over Noise over TCP {gbps:.2} Gbit/s");
            }
            println!("{line}");
        }
    });
}
