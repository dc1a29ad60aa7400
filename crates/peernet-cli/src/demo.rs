//! `peernet demo`: two nodes in this process, talking over loopback with every transport and
//! security combination this version supports; a table of what worked and how fast.

use std::time::{Duration, Instant};

use peernet::services::{echo, perf, ping};
use peernet::{Host, Keypair, Multiaddr, SecurityProtocol, TcpConfig, TcpTransport, Upgrader};
use serde_json::json;

use crate::node::{format_duration, serve_on};
use crate::output::{CliError, Output, Result};

/// Bytes moved each way by the demo's perf run.
const PERF_BYTES: u64 = 256 << 20;

struct Row {
    transport: &'static str,
    security: &'static str,
    connect: Duration,
    ping: Duration,
    echo_ok: bool,
    upload_gbps: f64,
    download_gbps: f64,
}

/// Runs the demo.
pub async fn run(out: Output) -> Result<()> {
    let server_key = Keypair::ed25519_from_seed(1);
    let client_key = Keypair::ed25519_from_seed(2);
    if !out.json {
        println!("peernet demo: two nodes on 127.0.0.1");
        println!("  server {}", server_key.to_peer_id());
        println!("  client {}\n", client_key.to_peer_id());
    }
    let mut rows = Vec::new();
    for (security, name) in [
        (SecurityProtocol::Noise, "noise"),
        (SecurityProtocol::Tls, "tls"),
        (SecurityProtocol::Plaintext, "plaintext"),
    ] {
        let row = run_one(&server_key, &client_key, security, name)
            .await
            .map_err(|e| CliError(format!("demo over tcp/{name}/yamux failed: {}", e.0)))?;
        out.emit(
            format!(
                "  {:<20} connect {:>9}  ping {:>9}  echo {}  perf ↑ {:>6.2} Gbit/s ↓ {:>6.2} Gbit/s",
                format!("tcp/{}/yamux", row.security),
                format_duration(row.connect),
                format_duration(row.ping),
                if row.echo_ok { "ok" } else { "FAILED" },
                row.upload_gbps,
                row.download_gbps
            ),
            json!({
                "type": "demo",
                "transport": row.transport,
                "security": row.security,
                "muxer": "yamux",
                "connect_us": row.connect.as_micros() as u64,
                "ping_us": row.ping.as_micros() as u64,
                "echo": row.echo_ok,
                "upload_gbps": row.upload_gbps,
                "download_gbps": row.download_gbps,
            }),
        );
        rows.push(row);
    }
    if rows.iter().all(|r| r.echo_ok) {
        if !out.json {
            println!(
                "\nall {} combinations worked (perf moved {} MiB each way)",
                rows.len(),
                PERF_BYTES >> 20
            );
        }
        Ok(())
    } else {
        Err(CliError("an echo came back different".into()))
    }
}

async fn run_one(
    server_key: &Keypair,
    client_key: &Keypair,
    security: SecurityProtocol,
    name: &'static str,
) -> Result<Row> {
    let client = TcpTransport::new(
        Upgrader::new(client_key.clone()).with_security(vec![security]),
        TcpConfig::default(),
    );
    let server = Host::builder()
        .identity(server_key.clone())
        .security(vec![security])
        .listen_addrs([Multiaddr::tcp(([127, 0, 0, 1], 0).into())])
        .build()
        .await?;
    serve_on(&server);
    let addr = server
        .addrs()
        .into_iter()
        .next()
        .ok_or_else(|| CliError("the demo server listens nowhere".into()))?;

    let start = Instant::now();
    let conn = client.dial(&addr, None).await?;
    let connect = start.elapsed();

    let mut stream = conn.open_stream(&[ping::PROTOCOL]).await?;
    let mut best = Duration::MAX;
    for _ in 0..5 {
        best = best.min(ping::ping(&mut stream).await?);
    }

    let text = format!("hello over {name}");
    let stream = conn.open_stream(&[echo::PROTOCOL]).await?;
    let echo_ok = echo::echo(stream, text.as_bytes(), 1024).await? == text.as_bytes();

    let gbps = |bytes: u64, d: Duration| bytes as f64 * 8.0 / d.as_secs_f64().max(1e-9) / 1e9;
    let up = perf::run(
        conn.open_stream(&[perf::PROTOCOL]).await?,
        PERF_BYTES,
        0,
        |_| {},
    )
    .await?;
    let down = perf::run(
        conn.open_stream(&[perf::PROTOCOL]).await?,
        0,
        PERF_BYTES,
        |_| {},
    )
    .await?;
    conn.close().await;
    server.close().await;
    Ok(Row {
        transport: "tcp",
        security: name,
        connect,
        ping: best,
        echo_ok,
        upload_gbps: gbps(up.upload_bytes, up.elapsed),
        download_gbps: gbps(down.download_bytes, down.elapsed),
    })
}
