//! Noise throughput: `cargo bench -p peernet --bench noise`.
//!
//! 1. Single-core ChaCha20-Poly1305 sealing and opening of maximal frames (65519 bytes) with the
//!    session ciphers: the ceiling for one stream.
//! 2. Raw loopback TCP, 1 GiB: the ceiling of the socket path.
//! 3. 1 GiB through `NoiseStream` over loopback TCP (writer and reader on separate threads).
//!
//! Set `NOISE_BENCH_MIB` to change the transfer size.

use std::time::{Duration, Instant};

use peernet::noise::{upgrade_inbound, upgrade_outbound};
use peernet_core::noise::{Handshake, Keypair, Transport, MAX_PLAINTEXT_LEN};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

const CHUNK: usize = 1 << 20;

fn gbit(bytes: u64, elapsed: Duration) -> f64 {
    bytes as f64 * 8.0 / elapsed.as_secs_f64() / 1e9
}

fn transport_pair() -> (Transport, Transport) {
    let (a, b) = (Keypair::ed25519_from_seed(1), Keypair::ed25519_from_seed(2));
    let mut init = Handshake::initiator(&a, None, &[]);
    let mut resp = Handshake::responder(&b, None, &[]);
    let mut wire = Vec::new();
    for to_responder in [true, false, true] {
        let (from, to) = if to_responder {
            (&mut init, &mut resp)
        } else {
            (&mut resp, &mut init)
        };
        wire.clear();
        from.write_output(&mut wire);
        to.read_input(&wire).unwrap();
    }
    (init.finish().unwrap().0, resp.finish().unwrap().0)
}

fn bench_aead(total: u64) {
    let (mut a, _) = transport_pair();
    let plaintext = vec![0x5au8; MAX_PLAINTEXT_LEN];
    let frames = total / MAX_PLAINTEXT_LEN as u64;
    let mut buf = Vec::with_capacity(MAX_PLAINTEXT_LEN + 18);

    let start = Instant::now();
    for _ in 0..frames {
        buf.clear();
        buf.extend_from_slice(&[0, 0]);
        buf.extend_from_slice(&plaintext);
        a.sender().seal_frame(&mut buf, 0).unwrap();
    }
    let seal = start.elapsed();
    println!(
        "seal  (ChaCha20-Poly1305, 65519-byte frames, 1 core): {:6.2} Gbit/s",
        gbit(frames * MAX_PLAINTEXT_LEN as u64, seal)
    );

    // Open needs ciphertexts under consecutive nonces: seal each frame, time only the open.
    let (mut tx, mut rx) = transport_pair();
    let mut opened = Duration::ZERO;
    for _ in 0..frames {
        buf.clear();
        tx.encrypt(&plaintext, &mut buf).unwrap();
        let t = Instant::now();
        rx.receiver().decrypt_in_place(&mut buf[2..]).unwrap();
        opened += t.elapsed();
    }
    println!(
        "open  (ChaCha20-Poly1305, 65519-byte frames, 1 core): {:6.2} Gbit/s",
        gbit(frames * MAX_PLAINTEXT_LEN as u64, opened)
    );
}

async fn tcp_pair() -> (TcpStream, TcpStream) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (dialed, accepted) = tokio::join!(TcpStream::connect(addr), listener.accept());
    let (dialed, accepted) = (dialed.unwrap(), accepted.unwrap().0);
    dialed.set_nodelay(true).unwrap();
    accepted.set_nodelay(true).unwrap();
    (dialed, accepted)
}

/// Sends `total` bytes from `tx` to `rx` on two tasks; returns the time until the reader saw
/// end of stream.
async fn transfer<W, R>(mut tx: W, mut rx: R, total: u64) -> Duration
where
    W: AsyncWrite + Unpin + Send + 'static,
    R: AsyncRead + Unpin + Send + 'static,
{
    let start = Instant::now();
    let writer = tokio::spawn(async move {
        let chunk = vec![0xa5u8; CHUNK];
        let mut left = total;
        while left > 0 {
            let n = left.min(CHUNK as u64) as usize;
            tx.write_all(&chunk[..n]).await.unwrap();
            left -= n as u64;
        }
        tx.shutdown().await.unwrap();
    });
    let reader = tokio::spawn(async move {
        let mut buf = vec![0u8; CHUNK];
        let mut got = 0u64;
        loop {
            let n = rx.read(&mut buf).await.unwrap();
            if n == 0 {
                break;
            }
            got += n as u64;
        }
        got
    });
    writer.await.unwrap();
    let got = reader.await.unwrap();
    assert_eq!(got, total);
    start.elapsed()
}

async fn bench_tcp(total: u64) {
    let (a, b) = tcp_pair().await;
    let elapsed = transfer(a, b, total).await;
    println!(
        "raw loopback TCP, {} MiB:                           {:6.2} Gbit/s",
        total >> 20,
        gbit(total, elapsed)
    );

    let (a, b) = tcp_pair().await;
    let (ka, kb) = (Keypair::ed25519_from_seed(1), Keypair::ed25519_from_seed(2));
    let (out, inb) = tokio::join!(
        upgrade_outbound(a, &ka, None, &[]),
        upgrade_inbound(b, &kb, &[])
    );
    let ((a, _), (b, _)) = (out.unwrap(), inb.unwrap());
    let elapsed = transfer(a, b, total).await;
    println!(
        "NoiseStream over loopback TCP, {} MiB:             {:6.2} Gbit/s",
        total >> 20,
        gbit(total, elapsed)
    );
}

fn main() {
    // `cargo bench` passes `--bench`; any other argument filters nothing here.
    let mib: u64 = std::env::var("NOISE_BENCH_MIB")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1024);
    let total = mib << 20;
    bench_aead(total);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(bench_tcp(total));
}
