//! Throughput of the libp2p TLS driver: 1 GiB over loopback TCP through [`TlsStream`], next to
//! raw loopback TCP and single-core AEAD sealing (ring) as the ceilings.
//!
//! Run with `cargo bench -p peernet --bench tls` (optionally `-- <MiB>` to change the size, and
//! `-- tls` to run only the TLS transfers, for profiling).

use std::time::{Duration, Instant};

use peernet::tls::TlsIdentity;
use peernet::tls::{
    upgrade_inbound, upgrade_inbound_with, upgrade_outbound, upgrade_outbound_with,
};
use peernet_core::Keypair;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

const CHUNK: usize = 256 * 1024;

/// CPU time (user + system) this process has used, from `/proc/self/stat` (Linux; clock ticks
/// of 10 ms). Under a loaded machine, CPU seconds per GiB say more than wall-clock speed.
fn cpu_seconds() -> Option<f64> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    // Fields after the parenthesised command name; utime and stime are fields 14 and 15.
    let rest = stat.get(stat.rfind(')')? + 2..)?;
    let mut fields = rest.split_whitespace().skip(11);
    let utime: f64 = fields.next()?.parse().ok()?;
    let stime: f64 = fields.next()?.parse().ok()?;
    Some((utime + stime) / 100.0)
}

/// Runs `f` and returns its result with the CPU seconds it used per GiB of `total`.
fn with_cpu<T>(total: usize, f: impl FnOnce() -> T) -> (T, f64) {
    let before = cpu_seconds().unwrap_or(0.0);
    let out = f();
    let used = cpu_seconds().unwrap_or(0.0) - before;
    (out, used * (1u64 << 30) as f64 / total as f64)
}

fn gbits(bytes: usize, elapsed: Duration) -> f64 {
    bytes as f64 * 8.0 / elapsed.as_secs_f64() / 1e9
}

/// Writes `total` bytes, shuts down, and waits for the reader's 8-byte acknowledgement.
async fn send<S: AsyncRead + AsyncWrite + Unpin>(stream: &mut S, total: usize) {
    let chunk = vec![0x5a_u8; CHUNK];
    let mut sent = 0;
    while sent < total {
        let n = CHUNK.min(total - sent);
        stream
            .write_all(&chunk[..n])
            .await
            .unwrap_or_else(|e| panic!("write: {e}"));
        sent += n;
    }
    stream
        .shutdown()
        .await
        .unwrap_or_else(|e| panic!("shutdown: {e}"));
    let mut ack = [0u8; 8];
    stream
        .read_exact(&mut ack)
        .await
        .unwrap_or_else(|e| panic!("ack: {e}"));
    assert_eq!(u64::from_be_bytes(ack), total as u64);
}

/// Reads to EOF, then acknowledges the byte count.
async fn receive<S: AsyncRead + AsyncWrite + Unpin>(stream: &mut S) {
    let mut buf = vec![0u8; CHUNK];
    let mut received = 0u64;
    loop {
        let n = stream
            .read(&mut buf)
            .await
            .unwrap_or_else(|e| panic!("read: {e}"));
        if n == 0 {
            break;
        }
        received += n as u64;
    }
    stream
        .write_all(&received.to_be_bytes())
        .await
        .unwrap_or_else(|e| panic!("ack: {e}"));
    stream
        .shutdown()
        .await
        .unwrap_or_else(|e| panic!("shutdown: {e}"));
}

async fn tcp_pair() -> (TcpStream, TcpStream) {
    let listener = TcpListener::bind("127.0.0.1:0")
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let addr = listener.local_addr().unwrap_or_else(|e| panic!("{e}"));
    let (a, b) = tokio::join!(TcpStream::connect(addr), listener.accept());
    let a = a.unwrap_or_else(|e| panic!("{e}"));
    let b = b.unwrap_or_else(|e| panic!("{e}")).0;
    a.set_nodelay(true).unwrap_or_else(|e| panic!("{e}"));
    b.set_nodelay(true).unwrap_or_else(|e| panic!("{e}"));
    (a, b)
}

async fn raw_tcp(total: usize) -> Duration {
    let (mut a, mut b) = tcp_pair().await;
    let reader = tokio::spawn(async move { receive(&mut b).await });
    let start = Instant::now();
    send(&mut a, total).await;
    let elapsed = start.elapsed();
    reader.await.unwrap_or_else(|e| panic!("{e}"));
    elapsed
}

async fn tls(total: usize) -> Duration {
    let (a, b) = tcp_pair().await;
    let (ck, sk) = (Keypair::generate_ed25519(), Keypair::generate_ed25519());
    let expected = sk.public().to_peer_id();
    let server = tokio::spawn(async move {
        let (mut stream, _) = upgrade_inbound(b, &sk, &["/yamux/1.0.0"])
            .await
            .unwrap_or_else(|e| panic!("inbound: {e}"));
        receive(&mut stream).await;
    });
    let (mut stream, _) = upgrade_outbound(a, &ck, Some(expected), &["/yamux/1.0.0"])
        .await
        .unwrap_or_else(|e| panic!("outbound: {e}"));
    let start = Instant::now();
    send(&mut stream, total).await;
    let elapsed = start.elapsed();
    server.await.unwrap_or_else(|e| panic!("{e}"));
    elapsed
}

/// TCP + TLS + yamux, one stream (the libp2p connection stack): writes `total` bytes on a
/// stream and reads them on the other side.
async fn tls_yamux(total: usize) -> Duration {
    use peernet::yamux::{Config, Role, YamuxSession};
    let (a, b) = tcp_pair().await;
    let (ck, sk) = (Keypair::generate_ed25519(), Keypair::generate_ed25519());
    let (client, server) = tokio::join!(
        upgrade_outbound(a, &ck, None, &["/yamux/1.0.0"]),
        upgrade_inbound(b, &sk, &["/yamux/1.0.0"]),
    );
    let (client, info) = client.unwrap_or_else(|e| panic!("outbound: {e}"));
    let (server, _) = server.unwrap_or_else(|e| panic!("inbound: {e}"));
    assert_eq!(info.muxer.as_deref(), Some("/yamux/1.0.0"));
    let client = YamuxSession::new(client, Role::Client, Config::default());
    let server = YamuxSession::new(server, Role::Server, Config::default());
    let mut out = client
        .open_stream()
        .await
        .unwrap_or_else(|e| panic!("open: {e}"));
    out.write_all(&[1])
        .await
        .unwrap_or_else(|e| panic!("write: {e}"));
    let mut incoming = server
        .accept_stream()
        .await
        .unwrap_or_else(|| panic!("no stream"));
    let mut one = [0u8; 1];
    incoming
        .read_exact(&mut one)
        .await
        .unwrap_or_else(|e| panic!("read: {e}"));
    let reader = tokio::spawn(async move {
        receive(&mut incoming).await;
        incoming
    });
    let start = Instant::now();
    send(&mut out, total).await;
    let elapsed = start.elapsed();
    let _incoming = reader.await.unwrap_or_else(|e| panic!("{e}"));
    drop((client, server));
    elapsed
}

/// `count` handshakes, with a fresh certificate per connection or one per identity.
async fn handshakes(count: usize, reuse: bool) -> Duration {
    let (ck, sk) = (Keypair::generate_ed25519(), Keypair::generate_ed25519());
    let (ci, si) = (
        TlsIdentity::new(&ck).unwrap_or_else(|e| panic!("{e}")),
        TlsIdentity::new(&sk).unwrap_or_else(|e| panic!("{e}")),
    );
    let start = Instant::now();
    for _ in 0..count {
        let (a, b) = tcp_pair().await;
        let (c, s) = if reuse {
            tokio::join!(
                upgrade_outbound_with(a, &ci, None, &["/yamux/1.0.0"]),
                upgrade_inbound_with(b, &si, &["/yamux/1.0.0"]),
            )
        } else {
            tokio::join!(
                upgrade_outbound(a, &ck, None, &["/yamux/1.0.0"]),
                upgrade_inbound(b, &sk, &["/yamux/1.0.0"]),
            )
        };
        let _ = (
            c.unwrap_or_else(|e| panic!("{e}")),
            s.unwrap_or_else(|e| panic!("{e}")),
        );
    }
    start.elapsed()
}

/// Seals `total` bytes in 16 KiB records on this thread.
fn seal(algorithm: &'static ring::aead::Algorithm, total: usize) -> Duration {
    use ring::aead::{Aad, LessSafeKey, Nonce, UnboundKey};
    let key_bytes = vec![7u8; algorithm.key_len()];
    let key =
        LessSafeKey::new(UnboundKey::new(algorithm, &key_bytes).unwrap_or_else(|e| panic!("{e}")));
    let mut record = vec![0x5a_u8; 16 * 1024];
    let start = Instant::now();
    let mut counter = 0u64;
    let mut done = 0;
    while done < total {
        let mut nonce = [0u8; 12];
        nonce[4..].copy_from_slice(&counter.to_be_bytes());
        let tag = key
            .seal_in_place_separate_tag(
                Nonce::assume_unique_for_key(nonce),
                Aad::from([23u8, 3, 3, 0x40, 0x11]),
                &mut record,
            )
            .unwrap_or_else(|e| panic!("{e}"));
        let _ = std::hint::black_box(tag);
        counter += 1;
        done += record.len();
    }
    start.elapsed()
}

fn main() {
    let mib: usize = std::env::args()
        .skip(1)
        .find_map(|a| a.parse().ok())
        .unwrap_or(1024);
    let total = mib * 1024 * 1024;
    let only_tls = std::env::args().any(|a| a == "tls");
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap_or_else(|e| panic!("{e}"));

    println!("peernet TLS benchmark, {mib} MiB per transfer, 2 worker threads");
    if only_tls {
        for _ in 0..3 {
            let (elapsed, cpu) = with_cpu(total, || runtime.block_on(tls(total)));
            println!(
                "  TLS 1.3 over TCP loopback: {:6.2} Gbit/s, {cpu:.2} CPU s/GiB",
                gbits(total, elapsed)
            );
        }
        return;
    }
    for (name, algorithm) in [
        ("AES-128-GCM", &ring::aead::AES_128_GCM),
        ("AES-256-GCM", &ring::aead::AES_256_GCM),
        ("ChaCha20-Poly1305", &ring::aead::CHACHA20_POLY1305),
    ] {
        let elapsed = seal(algorithm, total);
        println!(
            "  ring {name:<18} seal, 1 core:   {:6.2} Gbit/s",
            gbits(total, elapsed)
        );
    }
    let (elapsed, cpu) = with_cpu(total, || runtime.block_on(raw_tcp(total)));
    println!(
        "  raw TCP loopback:                       {:6.2} Gbit/s, {cpu:.2} CPU s/GiB (both ends)",
        gbits(total, elapsed)
    );
    for round in 1..=3 {
        let (elapsed, cpu) = with_cpu(total, || runtime.block_on(tls(total)));
        println!(
            "  TLS 1.3 over TCP loopback (run {round}):   {:6.2} Gbit/s, {cpu:.2} CPU s/GiB (both ends)",
            gbits(total, elapsed),
        );
    }
    for round in 1..=3 {
        let (elapsed, cpu) = with_cpu(total, || runtime.block_on(tls_yamux(total)));
        println!(
            "  TLS 1.3 + yamux, one stream (run {round}): {:6.2} Gbit/s, {cpu:.2} CPU s/GiB (both ends)",
            gbits(total, elapsed),
        );
    }
    let keypair = Keypair::generate_ed25519();
    let start = Instant::now();
    for _ in 0..200 {
        let certificate = peernet_core::tls::make_certificate(&keypair)
            .unwrap_or_else(|e| panic!("certificate: {e}"));
        let parsed = peernet_core::tls::parse_certificate(&certificate.0)
            .unwrap_or_else(|e| panic!("parse: {e}"));
        std::hint::black_box(parsed);
    }
    println!(
        "  certificate generation + verification: {:.0} µs",
        start.elapsed().as_secs_f64() * 1e6 / 200.0
    );
    let count = 50;
    for (reuse, what) in [(false, "fresh certificates"), (true, "reused TlsIdentity")] {
        let elapsed = runtime.block_on(handshakes(count, reuse));
        println!(
            "  handshake (TCP connect + TLS, both sides, one process, {what}): {:.2} ms",
            elapsed.as_secs_f64() * 1000.0 / count as f64
        );
    }
}
