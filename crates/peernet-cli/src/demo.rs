//! `peernet demo`: two nodes in this process, talking over loopback with every transport and
//! security combination this version supports; a table of what worked and how fast.

use std::time::{Duration, Instant};

use peernet::services::{echo, perf, ping};
use peernet::{
    Host, Keypair, Multiaddr, QuicConfig, QuicTransport, SecurityProtocol, TcpConfig, TcpTransport,
    Upgrader,
};
use serde_json::json;

use crate::node::{format_duration, serve_on};
use crate::output::{CliError, Output, Result};

/// Bytes moved each way by the demo's perf run.
const PERF_BYTES: u64 = 256 << 20;

/// One combination the demo runs.
#[derive(Clone, Copy)]
enum Case {
    /// TCP with this security protocol, and yamux.
    Tcp(SecurityProtocol, &'static str),
    /// QUIC v1 (TLS 1.3 and native streams).
    Quic,
}

impl Case {
    fn label(self) -> String {
        match self {
            Case::Tcp(_, name) => format!("tcp/{name}/yamux"),
            Case::Quic => "quic-v1".into(),
        }
    }
}

struct Row {
    transport: &'static str,
    security: &'static str,
    muxer: &'static str,
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
    for case in [
        Case::Tcp(SecurityProtocol::Noise, "noise"),
        Case::Tcp(SecurityProtocol::Tls, "tls"),
        Case::Tcp(SecurityProtocol::Plaintext, "plaintext"),
        Case::Quic,
    ] {
        let row = run_one(&server_key, &client_key, case)
            .await
            .map_err(|e| CliError(format!("demo over {} failed: {}", case.label(), e.0)))?;
        out.emit(
            format!(
                "  {:<20} connect {:>9}  ping {:>9}  echo {}  perf ↑ {:>6.2} Gbit/s ↓ {:>6.2} Gbit/s",
                case.label(),
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
                "muxer": row.muxer,
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

async fn run_one(server_key: &Keypair, client_key: &Keypair, case: Case) -> Result<Row> {
    let loopback = ([127, 0, 0, 1], 0).into();
    let (security, listen) = match case {
        Case::Tcp(security, _) => (security, Multiaddr::tcp(loopback)),
        Case::Quic => (SecurityProtocol::Tls, Multiaddr::quic_v1(loopback)),
    };
    let server = Host::builder()
        .identity(server_key.clone())
        .security(vec![security])
        .listen_addrs([listen])
        .build()
        .await?;
    serve_on(&server);
    let addr = server
        .addrs()
        .into_iter()
        .next()
        .ok_or_else(|| CliError("the demo server listens nowhere".into()))?;

    let start = Instant::now();
    let conn = match case {
        Case::Tcp(..) => {
            let upgrader = Upgrader::new(client_key.clone()).with_security(vec![security]);
            TcpTransport::new(upgrader, TcpConfig::default())
                .dial(&addr, None)
                .await?
        }
        Case::Quic => {
            QuicTransport::new(client_key, QuicConfig::default())?
                .dial(&addr, None)
                .await?
        }
    };
    let connect = start.elapsed();

    let mut stream = conn.open_stream(&[ping::PROTOCOL]).await?;
    let mut best = Duration::MAX;
    for _ in 0..5 {
        best = best.min(ping::ping(&mut stream).await?);
    }

    let text = format!("hello over {}", case.label());
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
    let (transport, security, muxer) = match case {
        Case::Tcp(_, name) => ("tcp", name, "yamux"),
        Case::Quic => ("quic-v1", "tls", "quic"),
    };
    Ok(Row {
        transport,
        security,
        muxer,
        connect,
        ping: best,
        echo_ok,
        upload_gbps: gbps(up.upload_bytes, up.elapsed),
        download_gbps: gbps(down.download_bytes, down.elapsed),
    })
}
