//! `peernet demo`: two nodes in this process, talking over loopback with every transport and
//! security combination this version supports; a table of what worked and how fast.

use std::time::{Duration, Instant};

use peernet::services::{echo, perf};
use peernet::{AddrInfo, Host, Keypair, Multiaddr, SecurityProtocol};
use serde_json::json;

use crate::node::{format_bytes, format_duration, serve_on};
use crate::output::{CliError, Output, Result};

/// One combination the demo runs: a transport, a security protocol and the muxer they get.
#[derive(Clone, Copy)]
struct Case {
    transport: &'static str,
    security: SecurityProtocol,
}

impl Case {
    /// Every combination this version supports, in the order the table shows them.
    const ALL: [Case; 7] = [
        Case::new("tcp", SecurityProtocol::Noise),
        Case::new("tcp", SecurityProtocol::Tls),
        Case::new("tcp", SecurityProtocol::Plaintext),
        Case::new("quic-v1", SecurityProtocol::Tls),
        Case::new("ws", SecurityProtocol::Noise),
        Case::new("ws", SecurityProtocol::Tls),
        Case::new("memory", SecurityProtocol::Noise),
    ];

    const fn new(transport: &'static str, security: SecurityProtocol) -> Case {
        Case {
            transport,
            security,
        }
    }

    fn security_name(self) -> &'static str {
        match self.security {
            SecurityProtocol::Noise => "noise",
            SecurityProtocol::Tls => "tls",
            SecurityProtocol::Plaintext => "plaintext",
        }
    }

    /// QUIC brings its own TLS and streams; the others run yamux.
    fn muxer(self) -> &'static str {
        if self.transport == "quic-v1" {
            "quic"
        } else {
            "yamux"
        }
    }

    fn label(self) -> String {
        format!(
            "{}/{}/{}",
            self.transport,
            self.security_name(),
            self.muxer()
        )
    }

    /// Where the server listens.
    fn listen_addr(self) -> Result<Multiaddr> {
        let text = match self.transport {
            "tcp" => "/ip4/127.0.0.1/tcp/0",
            "quic-v1" => "/ip4/127.0.0.1/udp/0/quic-v1",
            "ws" => "/ip4/127.0.0.1/tcp/0/ws",
            _ => "/memory/0",
        };
        text.parse()
            .map_err(|e| CliError(format!("demo address {text}: {e}")))
    }
}

struct Row {
    connect: Duration,
    identify: Duration,
    protocols: usize,
    ping: Duration,
    echo_ok: bool,
    upload_gbps: f64,
    download_gbps: f64,
}

/// Runs the demo.
pub async fn run(perf_bytes: u64, out: Output) -> Result<()> {
    let server_key = Keypair::ed25519_from_seed(1);
    let client_key = Keypair::ed25519_from_seed(2);
    if !out.json {
        println!("peernet demo: two hosts in this process, on every transport and security");
        println!("  server {}", server_key.to_peer_id());
        println!("  client {}\n", client_key.to_peer_id());
        println!(
            "  {:<24} {:>9} {:>9} {:>9}  {:<4} {:>12} {:>12}",
            "transport/security/mux", "connect", "identify", "ping", "echo", "perf up", "perf down"
        );
    }
    let started = Instant::now();
    let mut rows = 0;
    for case in Case::ALL {
        let row = run_one(&server_key, &client_key, case, perf_bytes)
            .await
            .map_err(|e| CliError(format!("demo over {} failed: {}", case.label(), e.0)))?;
        out.emit(
            format!(
                "  {:<24} {:>9} {:>9} {:>9}  {:<4} {:>7.2} Gb/s {:>7.2} Gb/s",
                case.label(),
                format_duration(row.connect),
                format_duration(row.identify),
                format_duration(row.ping),
                if row.echo_ok { "ok" } else { "FAIL" },
                row.upload_gbps,
                row.download_gbps
            ),
            json!({
                "type": "demo",
                "transport": case.transport,
                "security": case.security_name(),
                "muxer": case.muxer(),
                "connect_us": row.connect.as_micros() as u64,
                "identify_us": row.identify.as_micros() as u64,
                "protocols": row.protocols,
                "ping_us": row.ping.as_micros() as u64,
                "echo": row.echo_ok,
                "upload_gbps": row.upload_gbps,
                "download_gbps": row.download_gbps,
            }),
        );
        if !row.echo_ok {
            return Err(CliError(format!(
                "the echo over {} came back different",
                case.label()
            )));
        }
        rows += 1;
    }
    if !out.json {
        println!(
            "\nall {rows} combinations worked in {:.1} s: identify, ping, echo, and perf moving {} each way",
            started.elapsed().as_secs_f64(),
            format_bytes(perf_bytes)
        );
    }
    Ok(())
}

async fn run_one(
    server_key: &Keypair,
    client_key: &Keypair,
    case: Case,
    perf_bytes: u64,
) -> Result<Row> {
    let server = Host::builder()
        .identity(server_key.clone())
        .security(vec![case.security])
        .listen_addrs([case.listen_addr()?])
        .build()
        .await?;
    serve_on(&server);
    let client = Host::builder()
        .identity(client_key.clone())
        .security(vec![case.security])
        .no_listen()
        .build()
        .await?;
    let result = exercise(&server, &client, case, perf_bytes).await;
    client.close().await;
    server.close().await;
    result
}

/// Connects `client` to `server`, then runs identify, ping, echo and perf.
async fn exercise(server: &Host, client: &Host, case: Case, perf_bytes: u64) -> Result<Row> {
    let peer = server.id().clone();
    let start = Instant::now();
    client
        .connect(AddrInfo {
            peer_id: peer.clone(),
            addrs: server.addrs(),
        })
        .await?;
    let connect = start.elapsed();

    let start = Instant::now();
    let info = client.identify(&peer).await?;
    let identify = start.elapsed();

    let mut best = Duration::MAX;
    for _ in 0..5 {
        best = best.min(client.ping(&peer).await?);
    }

    let text = format!("hello over {}", case.label());
    let stream = client.new_stream(&peer, &[echo::PROTOCOL]).await?;
    let echo_ok = echo::echo(stream, text.as_bytes(), 1024).await? == text.as_bytes();

    let gbps = |bytes: u64, d: Duration| bytes as f64 * 8.0 / d.as_secs_f64().max(1e-9) / 1e9;
    let stream = client.new_stream(&peer, &[perf::PROTOCOL]).await?;
    let up = perf::run(stream, perf_bytes, 0, |_| {}).await?;
    let stream = client.new_stream(&peer, &[perf::PROTOCOL]).await?;
    let down = perf::run(stream, 0, perf_bytes, |_| {}).await?;
    Ok(Row {
        connect,
        identify,
        protocols: info.message.protocols.len(),
        ping: best,
        echo_ok,
        upload_gbps: gbps(up.upload_bytes, up.elapsed),
        download_gbps: gbps(down.download_bytes, down.elapsed),
    })
}
