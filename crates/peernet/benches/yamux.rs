//! Throughput of one yamux stream: 1 GiB over `tokio::io::duplex` and over loopback TCP (no
//! encryption), next to raw loopback TCP for reference.
//!
//! `cargo bench -p peernet --bench yamux` (optionally `-- <MiB>` to change the amount).

use std::time::Instant;

use peernet::yamux::{Config, Connection, Role};
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
    let client = Connection::new(client_io, Role::Client, Config::default());
    let server = Connection::new(server_io, Role::Server, Config::default());
    let mut out = client.open_stream().await.expect("open");
    // One byte through before the clock starts: the stream is open on both sides.
    out.write_all(&[0x5a]).await.expect("write");
    let mut incoming = server.accept_stream().await.expect("accept");
    let mut one = [0u8; 1];
    incoming.read_exact(&mut one).await.expect("first byte");
    let gbps = pump(out, incoming, total).await;
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
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(async {
        for round in 1..=3 {
            let (a, b) = tcp_pair().await;
            let raw = pump(a, b, total).await;
            let (a, b) = tokio::io::duplex(4 << 20);
            let duplex = yamux_over(a, b, total).await;
            let (a, b) = tcp_pair().await;
            let tcp = yamux_over(a, b, total).await;
            println!(
                "round {round}: {mib} MiB, one stream: raw TCP {raw:.2} Gbit/s | yamux over duplex {duplex:.2} Gbit/s | yamux over TCP {tcp:.2} Gbit/s ({:.0}% of raw)",
                tcp / raw * 100.0
            );
        }
    });
}
