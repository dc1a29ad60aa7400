//! What metrics cost on the hot path: one stream's throughput between two Hosts over loopback
//! TCP, with metrics off and on, alternating runs.
//!
//! `cargo bench -p peernet --bench metrics [-- <MiB> [plaintext|noise]]`: the amount per run
//! (default 1024 MiB) and the security (default plaintext, where per-call costs show most).

use std::time::Instant;

use peernet::{AddrInfo, Host, Metrics, SecurityProtocol};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const CHUNK: usize = 1 << 20;
const PROTOCOL: &str = "/bench/sink/1.0.0";
const RUNS: usize = 5;

async fn host(metrics: bool, security: SecurityProtocol, listen: bool) -> Host {
    let mut builder = Host::builder().security(vec![security]);
    builder = if listen {
        builder.listen_addrs(["/ip4/127.0.0.1/tcp/0".parse().expect("addr")])
    } else {
        builder.no_listen()
    };
    if metrics {
        builder = builder.metrics(Metrics::new());
    }
    builder.build().await.expect("host")
}

/// Sends `total` bytes on one stream to a sink and waits for its one-byte receipt; Gbit/s.
async fn run(metrics: bool, security: SecurityProtocol, total: usize) -> f64 {
    let server = host(metrics, security, true).await;
    server.set_stream_handler(PROTOCOL, |mut s| async move {
        let mut buf = vec![0u8; CHUNK];
        while s.read(&mut buf).await.is_ok_and(|n| n > 0) {}
        let _ = s.write_all(&[1]).await;
        let _ = s.shutdown().await;
    });
    let client = host(metrics, security, false).await;
    client
        .connect(AddrInfo {
            peer_id: server.id().clone(),
            addrs: server.listen_addrs(),
        })
        .await
        .expect("connect");
    let mut s = client
        .new_stream(server.id(), &[PROTOCOL])
        .await
        .expect("stream");
    let chunk = vec![0x5au8; CHUNK];
    let start = Instant::now();
    let mut sent = 0;
    while sent < total {
        let n = CHUNK.min(total - sent);
        s.write_all(&chunk[..n]).await.expect("write");
        sent += n;
    }
    s.shutdown().await.expect("shutdown");
    let mut receipt = Vec::new();
    s.read_to_end(&mut receipt).await.expect("receipt");
    let elapsed = start.elapsed();
    assert_eq!(receipt, [1]);
    if let Some(m) = client.metrics() {
        assert!(m.encode().contains(&format!(
            "peernet_stream_bytes_total{{protocol=\"{PROTOCOL}\",direction=\"written\"}} {total}"
        )));
    }
    client.close().await;
    server.close().await;
    total as f64 * 8.0 / elapsed.as_secs_f64() / 1e9
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn main() {
    let args: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with("--"))
        .collect();
    let mib: usize = args.first().and_then(|a| a.parse().ok()).unwrap_or(1024);
    let security = match args.get(1).map(String::as_str) {
        Some("noise") => SecurityProtocol::Noise,
        _ => SecurityProtocol::Plaintext,
    };
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    let (mut off, mut on) = (Vec::new(), Vec::new());
    for _ in 0..RUNS {
        off.push(rt.block_on(run(false, security, mib << 20)));
        on.push(rt.block_on(run(true, security, mib << 20)));
    }
    println!(
        "one stream, {mib} MiB, {security:?}: metrics off {:.2} Gbit/s, on {:.2} Gbit/s (medians of {RUNS})",
        median(off),
        median(on)
    );
}
