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
use peernet_core::noise::{Handshake, Transport, MAX_PLAINTEXT_LEN};
use peernet_core::Keypair;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

const CHUNK: usize = 1 << 20;

/// CPU time of the whole process (user + system, all threads) from `/proc/self/stat`, in seconds;
/// `None` off Linux. On a loaded machine wall-clock rates understate the code's efficiency, so
/// the transfers also report Gbit/s per CPU-second used.
fn cpu_seconds() -> Option<f64> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    // Fields after the parenthesised command name; utime and stime are fields 14 and 15.
    let rest = stat.rsplit_once(')')?.1;
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let utime: f64 = fields.get(11)?.parse().ok()?;
    let stime: f64 = fields.get(12)?.parse().ok()?;
    Some((utime + stime) / 100.0)
}

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
        from.poll_transmit(&mut wire);
        to.handle_input(&wire).unwrap();
    }
    (init.finish().unwrap().0, resp.finish().unwrap().0)
}

fn bench_aead(total: u64, runs: usize) {
    let plaintext = vec![0x5au8; MAX_PLAINTEXT_LEN];
    let frames = total / MAX_PLAINTEXT_LEN as u64;
    let bytes = frames * MAX_PLAINTEXT_LEN as u64;
    let mut buf = Vec::with_capacity(MAX_PLAINTEXT_LEN + 18);
    let (mut best_seal, mut best_open) = (Duration::MAX, Duration::MAX);
    let (mut seal_cpu, mut both_cpu) = (Some(0.0), Some(0.0));
    for _ in 0..runs {
        // Seal: what a writer does per frame (assemble in place, seal).
        let (mut tx, _) = transport_pair();
        let start = Instant::now();
        let cpu_start = cpu_seconds();
        for _ in 0..frames {
            buf.clear();
            buf.extend_from_slice(&[0, 0]);
            buf.extend_from_slice(&plaintext);
            tx.sender().seal_frame(&mut buf, 0).unwrap();
        }
        best_seal = best_seal.min(start.elapsed());
        seal_cpu = add_cpu(seal_cpu, cpu_start);

        // Open needs ciphertexts under consecutive nonces: seal each frame, time only the open.
        let (mut tx, mut rx) = transport_pair();
        let mut opened = Duration::ZERO;
        let cpu_start = cpu_seconds();
        for _ in 0..frames {
            buf.clear();
            tx.encrypt(&plaintext, &mut buf).unwrap();
            let t = Instant::now();
            rx.receiver().decrypt_in_place(&mut buf[2..]).unwrap();
            opened += t.elapsed();
        }
        best_open = best_open.min(opened);
        both_cpu = add_cpu(both_cpu, cpu_start);
    }
    println!(
        "seal, 65519-byte frames, 1 core:   best {:6.2} Gbit/s of {runs} runs",
        gbit(bytes, best_seal)
    );
    println!(
        "open, 65519-byte frames, 1 core:   best {:6.2} Gbit/s of {runs} runs",
        gbit(bytes, best_open)
    );
    let per_cpu = |cpu: Option<f64>| {
        cpu.map(|c| gbit(bytes * runs as u64, Duration::from_secs_f64(c)))
            .unwrap_or(f64::NAN)
    };
    println!(
        "seal alone:          {:6.2} Gbit/s per CPU-second",
        per_cpu(seal_cpu)
    );
    println!(
        "seal + open (both ends' crypto, what one transfer costs): {:6.2} Gbit/s per CPU-second",
        per_cpu(both_cpu)
    );
}

fn add_cpu(total: Option<f64>, start: Option<f64>) -> Option<f64> {
    Some(total? + (cpu_seconds()? - start?))
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
async fn transfer<W, R>(mut tx: W, mut rx: R, total: u64) -> (Duration, Option<f64>)
where
    W: AsyncWrite + Unpin + Send + 'static,
    R: AsyncRead + Unpin + Send + 'static,
{
    let start = Instant::now();
    let cpu_start = cpu_seconds();
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
    let cpu = cpu_seconds().zip(cpu_start).map(|(end, start)| end - start);
    (start.elapsed(), cpu)
}

fn report(what: &str, total: u64, runs: &[(Duration, Option<f64>)]) {
    let best = runs.iter().map(|r| r.0).min().unwrap_or_default();
    let cpu: Option<f64> = runs.iter().map(|r| r.1).sum::<Option<f64>>();
    let wall: f64 = runs.iter().map(|r| r.0.as_secs_f64()).sum();
    let per_cpu = cpu
        .map(|c| {
            format!(
                "{:6.2} Gbit/s per CPU-second ({:.2} cores busy)",
                gbit(total * runs.len() as u64, Duration::from_secs_f64(c)),
                c / wall
            )
        })
        .unwrap_or_default();
    println!(
        "{what:<34} {} MiB: best {:6.2} Gbit/s of {} runs; {per_cpu}",
        total >> 20,
        gbit(total, best),
        runs.len()
    );
}

async fn bench_tcp(total: u64, runs: usize) {
    let mut raw = Vec::new();
    let mut noise = Vec::new();
    for _ in 0..runs {
        let (a, b) = tcp_pair().await;
        raw.push(transfer(a, b, total).await);

        let (a, b) = tcp_pair().await;
        let (ka, kb) = (Keypair::ed25519_from_seed(1), Keypair::ed25519_from_seed(2));
        let (out, inb) = tokio::join!(
            upgrade_outbound(a, &ka, None, &[]),
            upgrade_inbound(b, &kb, &[])
        );
        let ((a, _), (b, _)) = (out.unwrap(), inb.unwrap());
        noise.push(transfer(a, b, total).await);
    }
    report("raw loopback TCP", total, &raw);
    report("NoiseStream over loopback TCP", total, &noise);
}

fn main() {
    // `cargo bench` passes `--bench`; any other argument filters nothing here.
    let mib: u64 = std::env::var("NOISE_BENCH_MIB")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1024);
    let total = mib << 20;
    bench_aead(total, 3);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(bench_tcp(total, 3));
}
