//! Bulk message throughput over one RLPx connection on loopback, next to the single-core cost of
//! the primitives every byte goes through (AES-256-CTR and keccak256; also snappy, for
//! information), measured in the same run.
//!
//! Every payload byte is encrypted and MACed (keccak over the ciphertext) by the sender and
//! MACed and decrypted by the receiver, so one direction of one connection cannot beat
//! `1 / (1/aes + 1/keccak)` per side; the two sides run in parallel on the two cores. That
//! figure is the ceiling the measured throughput is compared with.
//!
//! Run with `cargo bench -p peernet-devp2p --bench rlpx_throughput`.

use std::hint::black_box;
use std::sync::Arc;
use std::time::{Duration, Instant};

use aes::cipher::{KeyIvInit, StreamCipher};
use peernet_devp2p::{Config, Protocol, RunError, SecretKey, Server};
use rand::RngCore;
use sha3::{Digest, Keccak256};
use tokio::sync::{mpsc, Mutex};

const PRIMITIVE_BYTES: usize = 32 << 20;
/// Each figure is the best of this many runs: the machine is shared, and the best run is the
/// one least disturbed by other work.
const RUNS: usize = 3;

fn best(mut f: impl FnMut() -> f64) -> f64 {
    (0..RUNS).map(|_| f()).fold(0.0, f64::max)
}

fn mb_per_s(bytes: usize, d: Duration) -> f64 {
    bytes as f64 / d.as_secs_f64() / 1e6
}

fn aes_ctr_rate() -> f64 {
    let mut buf = vec![0u8; 1 << 20];
    let mut c = ctr::Ctr128BE::<aes::Aes256>::new(&[7u8; 32].into(), &[0u8; 16].into());
    let t = Instant::now();
    for _ in 0..PRIMITIVE_BYTES / buf.len() {
        c.apply_keystream(&mut buf);
        black_box(&buf);
    }
    mb_per_s(PRIMITIVE_BYTES, t.elapsed())
}

fn keccak_rate() -> f64 {
    let buf = vec![0x5au8; 1 << 20];
    let mut h = Keccak256::new();
    let t = Instant::now();
    for _ in 0..PRIMITIVE_BYTES / buf.len() {
        h.update(&buf);
    }
    black_box(h.finalize());
    mb_per_s(PRIMITIVE_BYTES, t.elapsed())
}

fn snappy_rate(payload: &[u8]) -> f64 {
    let mut enc = snap::raw::Encoder::new();
    let mut dec = snap::raw::Decoder::new();
    let rounds = PRIMITIVE_BYTES / payload.len();
    let t = Instant::now();
    for _ in 0..rounds {
        let c = enc.compress_vec(payload).unwrap_or_default();
        black_box(dec.decompress_vec(&c).unwrap_or_default());
    }
    mb_per_s(rounds * payload.len(), t.elapsed())
}

/// The sans-IO codec alone in one thread: write a frame, read it back (both ends' work), for
/// `size`-byte random payloads with snappy on. Comparable with half the per-side ceiling.
fn codec_rate(size: usize) -> f64 {
    let secrets = peernet_devp2p::Secrets {
        remote_id: peernet_devp2p::NodeId([1; 64]),
        aes_secret: [2; 32],
        mac_secret: [3; 32],
        egress_mac: Keccak256::new(),
        ingress_mac: Keccak256::new(),
    };
    let (mut w, _) = peernet_devp2p::session(&secrets);
    let (_, mut r) = peernet_devp2p::session(&secrets);
    w.set_snappy(true);
    r.set_snappy(true);
    let mut payload = vec![0u8; size];
    rand::thread_rng().fill_bytes(&mut payload);
    let rounds = PRIMITIVE_BYTES / size;
    let mut frame = Vec::new();
    let t = Instant::now();
    for _ in 0..rounds {
        frame.clear();
        w.write_msg(0x10, &payload, &mut frame)
            .unwrap_or_else(|e| panic!("{e}"));
        let (m, _) = r
            .decode(&frame)
            .unwrap_or_else(|e| panic!("{e}"))
            .unwrap_or_else(|| unreachable!());
        black_box(m);
    }
    mb_per_s(rounds * size, t.elapsed())
}

/// Sends `count` messages of `size` random bytes from one node to another over loopback TCP and
/// returns the payload throughput in MB/s (from the first write to the last message read).
async fn rlpx_rate(size: usize, count: usize) -> f64 {
    let mut payload = vec![0u8; size];
    rand::thread_rng().fill_bytes(&mut payload);
    let payload = Arc::new(payload);

    let (done_tx, mut done_rx) = mpsc::channel::<Instant>(1);
    let done_tx = Arc::new(Mutex::new(Some(done_tx)));
    let sink = Protocol::new("bulk", 1, 1, move |_peer, mut rw| {
        let done_tx = done_tx.clone();
        async move {
            let mut got = 0usize;
            loop {
                let m = rw.read().await?;
                got += 1;
                black_box(&m.payload);
                if got == count {
                    if let Some(tx) = done_tx.lock().await.take() {
                        let _ = tx.send(Instant::now()).await;
                    }
                }
            }
        }
    });
    let (start_tx, mut start_rx) = mpsc::channel::<Instant>(1);
    let p = payload.clone();
    let source = Protocol::new("bulk", 1, 1, move |_peer, rw| {
        let p = p.clone();
        let start_tx = start_tx.clone();
        async move {
            let _ = start_tx.send(Instant::now()).await;
            for _ in 0..count {
                rw.write(0, &p).await?;
            }
            std::future::pending::<Result<(), RunError>>().await
        }
    });
    let mut rng = rand::thread_rng();
    let mut cfg = Config::new(SecretKey::random(&mut rng)).protocol(sink);
    cfg.inbound_queue = 64;
    let rx_node = Server::listen(
        cfg,
        "127.0.0.1:0".parse().unwrap_or_else(|_| unreachable!()),
    )
    .await
    .unwrap_or_else(|e| panic!("listen: {e}"));
    let tx_node = Server::new(Config::new(SecretKey::random(&mut rng)).protocol(source));
    let enode = rx_node.local_enode().unwrap_or_else(|| unreachable!());
    let peer = tx_node
        .dial(&enode)
        .await
        .unwrap_or_else(|e| panic!("dial: {e}"));
    let start = start_rx.recv().await.unwrap_or_else(|| unreachable!());
    let end = done_rx.recv().await.unwrap_or_else(|| unreachable!());
    let rate = mb_per_s(size * count, end - start);
    peer.disconnect(peernet_devp2p::DiscReason::ClientQuit);
    peer.wait().await;
    rx_node.shutdown().await;
    rate
}

fn main() {
    let aes = best(aes_ctr_rate);
    let keccak = best(keccak_rate);
    let mut incompressible = vec![0u8; 64 << 10];
    rand::thread_rng().fill_bytes(&mut incompressible);
    let snappy = best(|| snappy_rate(&incompressible));
    let ceiling = 1.0 / (1.0 / aes + 1.0 / keccak);
    println!("single core, same run (best of {RUNS}):");
    println!("  AES-256-CTR           {aes:9.1} MB/s");
    println!("  keccak256             {keccak:9.1} MB/s");
    println!("  snappy (incompr.)     {snappy:9.1} MB/s  (compress + decompress; not in ceiling)");
    println!("  ceiling 1/(1/aes+1/keccak) {ceiling:9.1} MB/s per side");

    println!(
        "sans-IO codec, one thread doing both ends (ceiling/2 = {:.1} MB/s):",
        ceiling / 2.0
    );
    for size in [1 << 10, 16 << 10, 256 << 10] {
        let rate = best(|| codec_rate(size));
        println!(
            "  {:>4} KiB: {rate:9.1} MB/s  = {:.2} of ceiling/2",
            size >> 10,
            rate / (ceiling / 2.0)
        );
    }

    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap_or_else(|e| panic!("runtime: {e}"));
    println!("RLPx over loopback TCP, one connection, random (incompressible) payloads:");
    for (size, count) in [(1 << 10, 65_536), (16 << 10, 4_096), (256 << 10, 256)] {
        let rate = best(|| rt.block_on(rlpx_rate(size, count)));
        println!(
            "  {:>4} KiB x {count:>6}: {rate:9.1} MB/s  = {:.2} of the ceiling",
            size >> 10,
            rate / ceiling
        );
    }
}
