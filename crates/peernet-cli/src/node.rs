//! The libp2p commands: `listen`, `ping`, `echo`, `perf`, and what they share (building the
//! transport from the options, dialing with a timeout, serving the protocols).

use std::net::{IpAddr, Ipv4Addr};
use std::time::{Duration, Instant};

use peernet::services::{echo, perf, ping};
use peernet::{
    Connection, Listener, Multiaddr, SecurityProtocol, TcpConfig, TcpTransport, TransportKind,
    Upgrader,
};
use serde_json::json;

use crate::identity;
use crate::output::{CliError, Output, Result};
use crate::{IdentityArgs, Security, SecurityArgs};

/// Largest download a `peernet listen` node serves to one perf request.
const MAX_PERF_DOWNLOAD: u64 = 64 << 30;

/// Builds the TCP transport for our identity and security options.
pub fn transport(identity: &IdentityArgs, security: &SecurityArgs) -> Result<TcpTransport> {
    let keypair = identity::load(identity)?;
    let protocols = if security.insecure {
        vec![SecurityProtocol::Plaintext]
    } else {
        match security.security {
            Security::Noise => vec![SecurityProtocol::Noise],
            Security::Tls => vec![SecurityProtocol::Tls],
            Security::Both => vec![SecurityProtocol::Noise, SecurityProtocol::Tls],
        }
    };
    let upgrader = Upgrader::new(keypair).with_security(protocols);
    Ok(TcpTransport::new(upgrader, TcpConfig::default()))
}

/// Parses ADDR and dials it, giving up after `timeout`.
pub async fn dial(transport: &TcpTransport, addr: &str, timeout: Duration) -> Result<Connection> {
    let addr: Multiaddr = addr
        .parse()
        .map_err(|e| CliError(format!("invalid address {addr:?}: {e}")))?;
    match addr.transport_kind() {
        TransportKind::Tcp => {}
        TransportKind::QuicV1 | TransportKind::WebSocket | TransportKind::SecureWebSocket => {
            return Err(CliError(format!(
                "{addr}: this transport is not implemented yet in this version (TCP is)"
            )))
        }
        _ => return Err(CliError(format!("{addr}: no transport for this address"))),
    }
    match tokio::time::timeout(timeout, transport.dial(&addr, None)).await {
        Ok(result) => Ok(result?),
        Err(_) => Err(CliError(format!(
            "dialing {addr} timed out after {}s",
            timeout.as_secs()
        ))),
    }
}

/// `peernet listen`.
pub async fn listen(
    tcp: Option<u16>,
    quic: Option<u16>,
    ws: Option<u16>,
    ip: &str,
    identity: &IdentityArgs,
    security: &SecurityArgs,
    out: Output,
) -> Result<()> {
    if quic.is_some() || ws.is_some() {
        return Err(CliError(
            "--quic and --ws are not implemented yet in this version (TCP is)".into(),
        ));
    }
    let ip: IpAddr = ip
        .parse()
        .map_err(|e| CliError(format!("invalid --ip {ip:?}: {e}")))?;
    let transport = transport(identity, security)?;
    let peer = transport.upgrader().local_peer().clone();
    let addr = Multiaddr::tcp((ip, tcp.unwrap_or(0)).into());
    let listener = transport.listen(&addr)?;
    let mut shown = listener.local_addr().clone();
    if ip.is_unspecified() {
        // Listening on every interface: show the loopback address, which is dialable as is.
        let port = listener
            .local_addr()
            .socket_addr()
            .map(|a| a.port())
            .unwrap_or(0);
        shown = Multiaddr::tcp((IpAddr::V4(Ipv4Addr::LOCALHOST), port).into());
    }
    let full = shown.with_p2p(&peer).map_err(|e| CliError(e.to_string()))?;
    out.emit(
        format!("listening on {full}\npeer id {peer}"),
        json!({"type": "listen", "addr": full.to_string()}),
    );
    let served = serve(listener, out);
    tokio::select! {
        () = served => Ok(()),
        () = shutdown_signal() => {
            eprintln!("shutting down");
            Ok(())
        }
    }
}

async fn shutdown_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = tokio::signal::ctrl_c() => {}
                    _ = term.recv() => {}
                }
            }
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}

/// The protocols a `peernet listen` node serves.
const SERVED: [&str; 3] = [ping::PROTOCOL, echo::PROTOCOL, perf::PROTOCOL];

/// Accepts connections forever, serving ping, echo and perf on their streams.
pub async fn serve(mut listener: Listener, out: Output) {
    while let Some(conn) = listener.accept().await {
        if !out.quiet {
            eprintln!(
                "connected: {} from {} ({}, {})",
                conn.remote_peer(),
                conn.remote_addr(),
                conn.security(),
                conn.muxer()
            );
        }
        tokio::spawn(serve_connection(conn, out));
    }
}

async fn serve_connection(conn: Connection, out: Output) {
    while let Some(inbound) = conn.accept_stream().await {
        tokio::spawn(async move {
            let list = || SERVED.iter().map(|s| s.to_string()).collect();
            let mut stream = match inbound.negotiate(&mut |p| SERVED.contains(&p), &list).await {
                Ok(stream) => stream,
                Err(e) => {
                    tracing::debug!(error = %e, "inbound stream negotiation failed");
                    return;
                }
            };
            let result = match stream.protocol() {
                p if p == ping::PROTOCOL => ping::serve(&mut stream).await,
                p if p == echo::PROTOCOL => echo::serve(&mut stream).await.map(drop),
                _ => perf::serve(&mut stream, MAX_PERF_DOWNLOAD).await.map(drop),
            };
            if let Err(e) = result {
                tracing::debug!(protocol = stream.protocol(), error = %e, "stream handler failed");
            }
        });
    }
    if !out.json {
        eprintln!(
            "disconnected: {} ({})",
            conn.remote_peer(),
            conn.closed().await
        );
    }
}

/// `peernet ping`.
pub async fn ping_cmd(conn: &Connection, count: u32, out: Output) -> Result<()> {
    let mut stream = conn.open_stream(&[ping::PROTOCOL]).await?;
    for seq in 1..=count.max(1) {
        let rtt = ping::ping(&mut stream).await?;
        out.emit(
            format!(
                "ping {seq}: {} from {}",
                format_duration(rtt),
                conn.remote_peer()
            ),
            json!({"type": "ping", "rtt_us": rtt.as_micros() as u64}),
        );
        if seq < count {
            tokio::time::sleep(Duration::from_secs(1)).await;
        }
    }
    Ok(())
}

/// Largest echo reply the CLI accepts.
const MAX_ECHO_REPLY: usize = 16 << 20;

/// `peernet echo`.
pub async fn echo_cmd(conn: &Connection, text: &str, out: Output) -> Result<()> {
    let stream = conn.open_stream(&[echo::PROTOCOL]).await?;
    let reply = echo::echo(stream, text.as_bytes(), MAX_ECHO_REPLY).await?;
    let reply = String::from_utf8_lossy(&reply);
    out.emit(&reply, json!({"type": "echo", "text": reply}));
    Ok(())
}

/// `peernet perf` for one transfer: the JSON lines of the libp2p perf benchmark.
pub async fn perf_cmd(conn: &Connection, upload: u64, download: u64, out: Output) -> Result<()> {
    let stream = conn.open_stream(&[perf::PROTOCOL]).await?;
    let result = perf::run(stream, upload, download, |p| {
        let secs = p.interval.as_secs_f64();
        let bits = (p.upload_bytes + p.download_bytes) as f64 * 8.0;
        out.emit(
            format!(
                "  {:>10} up {:>10} down in {:.2}s  {:.2} Gbit/s",
                format_bytes(p.upload_bytes),
                format_bytes(p.download_bytes),
                secs,
                bits / secs.max(1e-9) / 1e9
            ),
            json!({"type": "intermediary", "timeSeconds": secs, "uploadBytes": p.upload_bytes, "downloadBytes": p.download_bytes}),
        );
    })
    .await?;
    let secs = result.elapsed.as_secs_f64();
    let bits = (result.upload_bytes + result.download_bytes) as f64 * 8.0;
    out.emit(
        format!(
            "uploaded {} and downloaded {} in {:.3}s: {:.2} Gbit/s",
            format_bytes(result.upload_bytes),
            format_bytes(result.download_bytes),
            secs,
            bits / secs.max(1e-9) / 1e9
        ),
        json!({"type": "final", "timeSeconds": secs, "uploadBytes": result.upload_bytes, "downloadBytes": result.download_bytes}),
    );
    Ok(())
}

/// `peernet perf --repeat N`: N fresh connections, each with a 1-byte round trip.
pub async fn perf_latency(
    transport: &TcpTransport,
    addr: &str,
    n: u32,
    timeout: Duration,
    out: Output,
) -> Result<()> {
    let mut samples = Vec::with_capacity(n as usize);
    for _ in 0..n.max(1) {
        let start = Instant::now();
        let conn = dial(transport, addr, timeout).await?;
        let stream = conn.open_stream(&[perf::PROTOCOL]).await?;
        perf::run(stream, 1, 1, |_| {}).await?;
        samples.push(start.elapsed());
        conn.close().await;
    }
    samples.sort();
    let median = percentile(&samples, 50);
    let p95 = percentile(&samples, 95);
    out.emit(
        format!(
            "{} connections + 1-byte round trips: median {}, p95 {}",
            samples.len(),
            format_duration(median),
            format_duration(p95)
        ),
        json!({"type": "latency", "n": samples.len(), "median_us": median.as_micros() as u64, "p95_us": p95.as_micros() as u64}),
    );
    Ok(())
}

fn percentile(sorted: &[Duration], p: usize) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let idx = ((sorted.len() - 1) * p).div_ceil(100);
    sorted.get(idx).copied().unwrap_or_default()
}

/// Parses a byte count with an optional unit: `1000`, `64KiB`, `1GiB`, `10MB`.
pub fn parse_bytes(s: &str) -> Result<u64> {
    let s = s.trim();
    let split = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
    let (number, unit) = s.split_at(split);
    let number: u64 = number.parse().map_err(|_| {
        CliError(format!(
            "invalid size {s:?}: expected a number with an optional unit like 1GiB"
        ))
    })?;
    let factor: u64 = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 1,
        "kb" => 1_000,
        "mb" => 1_000_000,
        "gb" => 1_000_000_000,
        "kib" => 1 << 10,
        "mib" => 1 << 20,
        "gib" => 1 << 30,
        other => {
            return Err(CliError(format!(
                "invalid size unit {other:?}: use B, KB, MB, GB, KiB, MiB or GiB"
            )))
        }
    };
    number
        .checked_mul(factor)
        .ok_or_else(|| CliError(format!("size {s:?} is too large")))
}

/// Human form of a byte count.
pub fn format_bytes(n: u64) -> String {
    match n {
        n if n >= 1 << 30 => format!("{:.2} GiB", n as f64 / (1u64 << 30) as f64),
        n if n >= 1 << 20 => format!("{:.2} MiB", n as f64 / (1u64 << 20) as f64),
        n if n >= 1 << 10 => format!("{:.1} KiB", n as f64 / 1024.0),
        n => format!("{n} B"),
    }
}

/// Human form of a duration.
pub fn format_duration(d: Duration) -> String {
    let us = d.as_micros();
    if us >= 10_000 {
        format!("{:.1} ms", us as f64 / 1000.0)
    } else {
        format!("{us} µs")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_with_units() {
        assert_eq!(parse_bytes("0").unwrap(), 0);
        assert_eq!(parse_bytes("1GiB").unwrap(), 1 << 30);
        assert_eq!(parse_bytes("10MB").unwrap(), 10_000_000);
        assert_eq!(parse_bytes("64 KiB").unwrap(), 64 << 10);
        assert!(parse_bytes("1TiB").is_err());
        assert!(parse_bytes("GiB").is_err());
        assert!(parse_bytes("99999999999999GiB").is_err());
    }

    #[test]
    fn percentiles() {
        let d: Vec<Duration> = (1..=100).map(Duration::from_millis).collect();
        assert_eq!(percentile(&d, 50), Duration::from_millis(51));
        assert_eq!(percentile(&d, 95), Duration::from_millis(96));
        assert_eq!(percentile(&d[..1], 95), Duration::from_millis(1));
    }
}
