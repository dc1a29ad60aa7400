//! Throughput of peernet and rust-libp2p 0.57 side by side, in one run on one machine.
//!
//! Both stacks run the libp2p perf protocol (`/perf/1.0.0`) between two nodes in this process
//! over loopback TCP, then over loopback QUIC v1: one stream uploads N bytes, then one stream
//! downloads N bytes. rust-libp2p uses its stock configuration for the same transport, security
//! and muxer. Last, the time to a new connection plus a 1-byte echo round trip on a fresh
//! stream, over TCP (Noise, yamux) and QUIC (median of 100 in a warm process): between two peernet
//! `Host`s (identify on every connection, like the rust-libp2p nodes), and for reference between
//! bare peernet transports. Raw loopback TCP and
//! single-core AEAD sealing are measured in the same run as the physical ceilings.
//!
//! ```sh
//! cargo bench -p peernet-interop --bench side_by_side            # 1 GiB each way
//! cargo bench -p peernet-interop --bench side_by_side -- 256MiB   # a quicker run
//! cargo bench -p peernet-interop --bench side_by_side -- 256MiB quic   # rows naming "quic"
//! ```

#[path = "../tests/support/mod.rs"]
mod support;

use std::time::{Duration, Instant};

use futures::{AsyncReadExt as _, AsyncWriteExt as _, StreamExt as _};
use peernet::services::{echo, perf};
use peernet::{
    AddrInfo, Connection, Host, Keypair, Listener, QuicConfig, QuicTransport, SecurityProtocol,
    TcpConfig, TcpTransport, Transport, Upgrader,
};
use support::{echo_via_libp2p, RustNode, Security, Seen, ECHO};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const PERF: libp2p::StreamProtocol = libp2p::StreamProtocol::new("/perf/1.0.0");
const CHUNK: usize = 256 * 1024;

fn gbps(bytes: u64, d: Duration) -> f64 {
    bytes as f64 * 8.0 / d.as_secs_f64() / 1e9
}

fn parse_size(arg: Option<String>) -> u64 {
    let Some(s) = arg else { return 1 << 30 };
    let s = s.to_ascii_lowercase();
    let (n, f) = if let Some(n) = s.strip_suffix("gib") {
        (n, 1u64 << 30)
    } else if let Some(n) = s.strip_suffix("mib") {
        (n, 1 << 20)
    } else {
        (s.as_str(), 1)
    };
    n.trim().parse::<u64>().expect("size like 1GiB or 256MiB") * f
}

/// Which stack a row measures.
#[derive(Clone, Copy)]
enum Row {
    Tcp(SecurityProtocol, Security),
    Quic,
}

/// (upload, download) Gbit/s between two peernet nodes.
async fn peernet_pair(row: Row, bytes: u64) -> (f64, f64) {
    let conn = match row {
        Row::Tcp(security, _) => {
            let server = TcpTransport::new(
                Upgrader::new(Keypair::generate_ed25519()).with_security(vec![security]),
                TcpConfig::default(),
            );
            let client = TcpTransport::new(
                Upgrader::new(Keypair::generate_ed25519()).with_security(vec![security]),
                TcpConfig::default(),
            );
            let listener = server
                .listen(&"/ip4/127.0.0.1/tcp/0".parse().unwrap())
                .unwrap();
            let addr = listener.local_addr().clone();
            serve(listener);
            client.dial(&addr, None).await.unwrap()
        }
        Row::Quic => {
            let server =
                QuicTransport::new(&Keypair::generate_ed25519(), QuicConfig::default()).unwrap();
            let client =
                QuicTransport::new(&Keypair::generate_ed25519(), QuicConfig::default()).unwrap();
            let listener = server
                .listen(&"/ip4/127.0.0.1/udp/0/quic-v1".parse().unwrap())
                .unwrap();
            let addr = listener.local_addr().clone();
            serve(listener);
            client.dial(&addr, None).await.unwrap()
        }
    };
    run_perf(&conn, bytes).await
}

/// Serves perf and echo on every stream of every connection `listener` accepts.
fn serve(mut listener: Listener) {
    tokio::spawn(async move {
        while let Some(conn) = listener.accept().await {
            tokio::spawn(async move {
                while let Some(inbound) = conn.accept_stream().await {
                    tokio::spawn(async move {
                        let mut s = inbound
                            .negotiate(
                                &mut |p| p == perf::PROTOCOL || p == echo::PROTOCOL,
                                &Vec::new,
                            )
                            .await
                            .unwrap();
                        if s.protocol() == echo::PROTOCOL {
                            echo::serve(&mut s).await.unwrap();
                        } else {
                            perf::serve(&mut s, u64::MAX).await.unwrap();
                        }
                    });
                }
            });
        }
    });
}

/// Uploads then downloads `bytes` on two perf streams; (upload, download) Gbit/s.
async fn run_perf(conn: &Connection, bytes: u64) -> (f64, f64) {
    let up = perf::run(
        conn.open_stream(&[perf::PROTOCOL]).await.unwrap(),
        bytes,
        0,
        |_| {},
    )
    .await
    .unwrap();
    let down = perf::run(
        conn.open_stream(&[perf::PROTOCOL]).await.unwrap(),
        0,
        bytes,
        |_| {},
    )
    .await
    .unwrap();
    (gbps(bytes, up.elapsed), gbps(bytes, down.elapsed))
}

/// The perf protocol on a rust-libp2p stream, server side.
async fn rust_perf_serve(stream: libp2p::Stream) {
    let (mut r, mut w) = stream.split();
    let mut header = [0u8; 8];
    r.read_exact(&mut header).await.unwrap();
    let mut remaining = u64::from_be_bytes(header);
    let mut buf = vec![0u8; CHUNK];
    while r.read(&mut buf).await.unwrap() > 0 {}
    while remaining > 0 {
        let n = remaining.min(CHUNK as u64) as usize;
        w.write_all(&buf[..n]).await.unwrap();
        remaining -= n as u64;
    }
    w.close().await.unwrap();
}

/// The perf protocol on a rust-libp2p stream, client side; returns the elapsed time.
async fn rust_perf_run(stream: libp2p::Stream, upload: u64, download: u64) -> Duration {
    let start = Instant::now();
    let (mut r, mut w) = stream.split();
    w.write_all(&download.to_be_bytes()).await.unwrap();
    let buf = vec![0u8; CHUNK];
    let mut remaining = upload;
    while remaining > 0 {
        let n = remaining.min(CHUNK as u64) as usize;
        w.write_all(&buf[..n]).await.unwrap();
        remaining -= n as u64;
    }
    w.close().await.unwrap();
    let mut rbuf = vec![0u8; CHUNK];
    let mut got = 0u64;
    loop {
        let n = r.read(&mut rbuf).await.unwrap();
        if n == 0 {
            break;
        }
        got += n as u64;
    }
    assert_eq!(got, download);
    start.elapsed()
}

/// (upload, download) Gbit/s between two rust-libp2p nodes.
async fn rust_pair(security: Security, bytes: u64) -> (f64, f64) {
    let server = RustNode::spawn(security).await;
    let mut incoming = server.control.clone().accept(PERF).unwrap();
    tokio::spawn(async move {
        while let Some((_, stream)) = incoming.next().await {
            tokio::spawn(rust_perf_serve(stream));
        }
    });
    let client = RustNode::spawn(security).await;
    client
        .dial(server.listen_addr.clone().with_p2p(server.peer_id).unwrap())
        .await
        .unwrap();
    let mut control = client.control.clone();
    let up = rust_perf_run(
        control.open_stream(server.peer_id, PERF).await.unwrap(),
        bytes,
        0,
    )
    .await;
    let down = rust_perf_run(
        control.open_stream(server.peer_id, PERF).await.unwrap(),
        0,
        bytes,
    )
    .await;
    (gbps(bytes, up), gbps(bytes, down))
}

/// Timed connection setups per stack, after [`SETUP_WARMUP`] untimed ones (a warm process).
const SETUP_ROUNDS: usize = 100;
const SETUP_WARMUP: usize = 5;

fn median(mut times: Vec<Duration>) -> Duration {
    times.sort();
    times[times.len() / 2]
}

/// Median time of a new connection plus a 1-byte echo on a new stream, peernet to peernet,
/// over QUIC v1 (`row` = `Row::Quic`) or TCP with the row's security and yamux.
async fn peernet_setup(row: Row) -> Duration {
    let listen = match row {
        Row::Quic => "/ip4/127.0.0.1/udp/0/quic-v1",
        Row::Tcp(..) => "/ip4/127.0.0.1/tcp/0",
    }
    .parse()
    .unwrap();
    let (listener, client) = match row {
        Row::Quic => {
            let server =
                QuicTransport::new(&Keypair::generate_ed25519(), QuicConfig::default()).unwrap();
            let client =
                QuicTransport::new(&Keypair::generate_ed25519(), QuicConfig::default()).unwrap();
            (server.listen(&listen).unwrap(), Transport::from(client))
        }
        Row::Tcp(security, _) => {
            let upgrader = |k| Upgrader::new(k).with_security(vec![security]);
            let server =
                TcpTransport::new(upgrader(Keypair::generate_ed25519()), TcpConfig::default());
            let client =
                TcpTransport::new(upgrader(Keypair::generate_ed25519()), TcpConfig::default());
            (server.listen(&listen).unwrap(), Transport::from(client))
        }
    };
    let addr = listener.local_addr().clone();
    serve(listener);
    let mut times = Vec::new();
    for round in 0..SETUP_WARMUP + SETUP_ROUNDS {
        let start = Instant::now();
        let conn = client.dial(&addr, None).await.unwrap();
        let stream = conn.open_stream(&[echo::PROTOCOL]).await.unwrap();
        let back = echo::echo(stream, b"x", 1).await.unwrap();
        if round >= SETUP_WARMUP {
            times.push(start.elapsed());
        }
        assert_eq!(back, b"x");
        conn.close().await;
    }
    median(times)
}

/// The same between two peernet `Host`s, the counterpart of rust-libp2p's `Swarm`: identify
/// runs on every new connection on both sides, as it does on the rust-libp2p nodes.
async fn peernet_host_setup(row: Row) -> Duration {
    let (listen, security) = match row {
        Row::Quic => ("/ip4/127.0.0.1/udp/0/quic-v1", SecurityProtocol::Tls),
        Row::Tcp(security, _) => ("/ip4/127.0.0.1/tcp/0", security),
    };
    let server = Host::builder()
        .security(vec![security])
        .listen_addrs([listen.parse().unwrap()])
        .build()
        .await
        .unwrap();
    server.set_stream_handler(echo::PROTOCOL, |mut s| async move {
        let _ = echo::serve(&mut s).await;
    });
    let client = Host::builder()
        .security(vec![security])
        .no_listen()
        .build()
        .await
        .unwrap();
    let info = AddrInfo {
        peer_id: server.id().clone(),
        addrs: server.addrs(),
    };
    let mut times = Vec::new();
    for round in 0..SETUP_WARMUP + SETUP_ROUNDS {
        let start = Instant::now();
        client.connect(info.clone()).await.unwrap();
        let stream = client
            .new_stream(&info.peer_id, &[echo::PROTOCOL])
            .await
            .unwrap();
        let back = echo::echo(stream, b"x", 1).await.unwrap();
        if round >= SETUP_WARMUP {
            times.push(start.elapsed());
        }
        assert_eq!(back, b"x");
        client.swarm().close_peer(&info.peer_id).await;
    }
    client.close().await;
    server.close().await;
    median(times)
}

/// The same between two rust-libp2p nodes (their dial, libp2p-stream, their echo).
async fn rust_setup(security: Security) -> Duration {
    let server = RustNode::spawn(security).await;
    let mut client = RustNode::spawn(security).await;
    let addr = server.listen_addr.clone().with_p2p(server.peer_id).unwrap();
    let mut control = client.control.clone();
    let mut times = Vec::new();
    for round in 0..SETUP_WARMUP + SETUP_ROUNDS {
        let start = Instant::now();
        client.dial(addr.clone()).await.unwrap();
        let stream = control.open_stream(server.peer_id, ECHO).await.unwrap();
        let back = echo_via_libp2p(stream, b"x").await;
        if round >= SETUP_WARMUP {
            times.push(start.elapsed());
        }
        assert_eq!(back, b"x");
        client.disconnect(server.peer_id);
        let server_id = server.peer_id;
        client
            .wait_for(|seen| match seen {
                Seen::Disconnected(p) if *p == server_id => Some(()),
                _ => None,
            })
            .await;
    }
    median(times)
}

/// Raw loopback TCP, one connection, the same chunk size.
async fn raw_tcp(bytes: u64) -> f64 {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let reader = tokio::spawn(async move {
        let (mut s, _) = listener.accept().await.unwrap();
        let mut buf = vec![0u8; CHUNK];
        while s.read(&mut buf).await.unwrap() > 0 {}
    });
    let start = Instant::now();
    let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
    let buf = vec![0u8; CHUNK];
    let mut remaining = bytes;
    while remaining > 0 {
        let n = remaining.min(CHUNK as u64) as usize;
        s.write_all(&buf[..n]).await.unwrap();
        remaining -= n as u64;
    }
    s.shutdown().await.unwrap();
    reader.await.unwrap();
    gbps(bytes, start.elapsed())
}

/// Single-core sealing speed of a ring AEAD over 64 KiB records.
fn aead(alg: &'static ring::aead::Algorithm) -> f64 {
    use ring::aead::{Aad, LessSafeKey, Nonce, UnboundKey};
    let key = LessSafeKey::new(UnboundKey::new(alg, &vec![7u8; alg.key_len()]).unwrap());
    let mut record = vec![0u8; 65519];
    let total: u64 = 2 << 30;
    let start = Instant::now();
    let mut n = 0u64;
    let mut sealed = 0u64;
    while sealed < total {
        let mut nonce = [0u8; 12];
        nonce[4..].copy_from_slice(&n.to_le_bytes());
        let tag = key
            .seal_in_place_separate_tag(
                Nonce::assume_unique_for_key(nonce),
                Aad::empty(),
                &mut record,
            )
            .unwrap();
        std::hint::black_box(&tag);
        n += 1;
        sealed += record.len() as u64;
    }
    gbps(sealed, start.elapsed())
}

fn machine() -> String {
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("model name"))
                .map(|l| l.split(':').nth(1).unwrap_or("").trim().to_owned())
        })
        .unwrap_or_else(|| "unknown CPU".into());
    let cores = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(0);
    format!("{cpu}, {cores} cores")
}

/// Whether the row `name` runs: every row, or those whose name contains an argument given
/// after the size (e.g. `-- 256MiB quic`).
fn wanted(name: &str) -> bool {
    let filters: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with('-') && !a.to_ascii_lowercase().ends_with("ib"))
        .collect();
    filters.is_empty() || filters.iter().any(|f| name.contains(f.as_str()))
}

fn main() {
    let bytes = parse_size(
        std::env::args()
            .skip(1)
            .find(|a| !a.starts_with('-') && a.to_ascii_lowercase().ends_with("ib")),
    );
    let rt = tokio::runtime::Runtime::new().unwrap();
    println!(
        "side-by-side throughput, {} MiB per direction, one stream, loopback TCP and QUIC",
        bytes >> 20
    );
    println!("machine: {}", machine());
    println!(
        "peernet {} vs rust-libp2p 0.57 (stock configuration)\n",
        env!("CARGO_PKG_VERSION")
    );
    println!("ceilings: raw TCP {:.2} Gbit/s; ChaCha20-Poly1305 seal {:.2} Gbit/s; AES-256-GCM seal {:.2} Gbit/s (one core, ring)\n",
        rt.block_on(raw_tcp(bytes)), aead(&ring::aead::CHACHA20_POLY1305), aead(&ring::aead::AES_256_GCM));
    println!(
        "{:<18} {:>14} {:>14} {:>14} {:>14} {:>8}",
        "stack", "ours up", "ours down", "rust up", "rust down", "ratio"
    );
    for (row, name) in [
        (
            Row::Tcp(SecurityProtocol::Noise, Security::Noise),
            "tcp/noise/yamux",
        ),
        (
            Row::Tcp(SecurityProtocol::Tls, Security::Tls),
            "tcp/tls/yamux",
        ),
        (Row::Quic, "quic-v1"),
    ] {
        if !wanted(name) {
            continue;
        }
        let theirs = match row {
            Row::Tcp(_, theirs) => theirs,
            Row::Quic => Security::Quic,
        };
        let (ou, od) = rt.block_on(peernet_pair(row, bytes));
        let (ru, rd) = rt.block_on(rust_pair(theirs, bytes));
        let ratio = (ou + od) / (ru + rd);
        println!(
            "{name:<18} {ou:>9.2} Gb/s {od:>9.2} Gb/s {ru:>9.2} Gb/s {rd:>9.2} Gb/s {ratio:>7.2}x"
        );
    }
    println!(
        "\nnew connection + 1-byte echo on a new stream (median of {SETUP_ROUNDS}, after {SETUP_WARMUP} untimed)"
    );
    println!(
        "{:<18} {:>15} {:>15} {:>10} {:>10}",
        "stack", "ours: Host", "(transport)", "rust", "Host/rust"
    );
    for (row, theirs, name) in [
        (
            Row::Tcp(SecurityProtocol::Noise, Security::Noise),
            Security::Noise,
            "tcp/noise/yamux",
        ),
        (Row::Quic, Security::Quic, "quic-v1"),
    ] {
        if !wanted(name) {
            continue;
        }
        let host = rt.block_on(peernet_host_setup(row));
        let transport = rt.block_on(peernet_setup(row));
        let rust = rt.block_on(rust_setup(theirs));
        let ms = |d: Duration| d.as_secs_f64() * 1e3;
        println!(
            "{name:<18} {:>12.3} ms {:>12.3} ms {:>7.3} ms {:>9.2}x",
            ms(host),
            ms(transport),
            ms(rust),
            ms(host) / ms(rust)
        );
    }
}
