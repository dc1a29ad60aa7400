//! The libp2p commands: `listen`, `ping`, `echo`, `identify`, `perf`, and what they share (building the
//! transport from the options, dialing with a timeout, serving the protocols).

use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::time::{Duration, Instant};

use peernet::core::identify::{self, IdentifyReader};
use peernet::services::{echo, perf, ping};
use peernet::{
    Connection, Host, Metrics, Multiaddr, QuicConfig, QuicTransport, SecurityProtocol, SwarmEvent,
    TcpConfig, TcpTransport, Transport, TransportKind, Upgrader, WsTlsConfig, WsTransport,
};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::CertificateDer;
use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::identity;
use crate::output::{CliError, Output, Result};
use crate::{IdentityArgs, Security, SecurityArgs};

/// Largest download a `peernet listen` node serves to one perf request.
const MAX_PERF_DOWNLOAD: u64 = 64 << 30;

/// The transports a dialing command uses: TCP and WebSocket with the chosen security, and QUIC
/// v1 (always TLS 1.3) unless the options exclude TLS.
pub struct Dialer {
    tcp: Transport,
    ws: Transport,
    quic: Option<Transport>,
}

/// Builds the dialing transports for our identity and security options.
pub fn transport(identity: &IdentityArgs, security: &SecurityArgs) -> Result<Dialer> {
    let keypair = identity::load(identity)?;
    let protocols = security_protocols(security);
    let quic = if protocols.contains(&SecurityProtocol::Tls) {
        Some(QuicTransport::new(&keypair, QuicConfig::default())?.into())
    } else {
        None
    };
    let upgrader = Upgrader::new(keypair).with_security(protocols);
    let ws = WsTransport::new(upgrader.clone(), TcpConfig::default()).with_tls(ws_tls(security)?);
    // `Transport` resolves `/dns*` names before dialing; WebSocket keeps the name as `Host`.
    Ok(Dialer {
        tcp: TcpTransport::new(upgrader, TcpConfig::default()).into(),
        ws: ws.into(),
        quic,
    })
}

/// The secure WebSocket dialing roots of `--ca`, if given.
fn ws_tls(security: &SecurityArgs) -> Result<WsTlsConfig> {
    let Some(path) = &security.ca else {
        return Ok(WsTlsConfig::new());
    };
    let bad = |e: &dyn std::fmt::Display| CliError(format!("--ca {}: {e}", path.display()));
    let mut roots = rustls::RootCertStore::empty();
    for cert in CertificateDer::pem_file_iter(path).map_err(|e| bad(&e))? {
        roots.add(cert.map_err(|e| bad(&e))?).map_err(|e| bad(&e))?;
    }
    if roots.is_empty() {
        return Err(bad(&"no CERTIFICATE block"));
    }
    Ok(WsTlsConfig::new().with_roots(roots)?)
}

/// The security protocols our options ask for, in order of preference.
fn security_protocols(security: &SecurityArgs) -> Vec<SecurityProtocol> {
    if security.insecure {
        vec![SecurityProtocol::Plaintext]
    } else {
        match security.security {
            Security::Noise => vec![SecurityProtocol::Noise],
            Security::Tls => vec![SecurityProtocol::Tls],
            Security::Both => vec![SecurityProtocol::Noise, SecurityProtocol::Tls],
        }
    }
}

/// Parses ADDR and dials it, giving up after `timeout`.
pub async fn dial(transport: &Dialer, addr: &str, timeout: Duration) -> Result<Connection> {
    let addr: Multiaddr = addr
        .parse()
        .map_err(|e| CliError(format!("invalid address {addr:?}: {e}")))?;
    let dial = async {
        match addr.transport_kind() {
            TransportKind::Tcp => Ok(transport.tcp.dial(&addr, None).await?),
            TransportKind::QuicV1 => match &transport.quic {
                Some(quic) => Ok(quic.dial(&addr, None).await?),
                None => Err(CliError(format!(
                    "{addr}: QUIC always uses TLS 1.3, which --security/--insecure excluded"
                ))),
            },
            // Secure WebSocket without a TLS configuration is refused with a typed error.
            TransportKind::WebSocket | TransportKind::SecureWebSocket => {
                Ok(transport.ws.dial(&addr, None).await?)
            }
            _ => Err(CliError(format!("{addr}: no transport for this address"))),
        }
    };
    match tokio::time::timeout(timeout, dial).await {
        Ok(result) => Ok(result?),
        Err(_) => Err(CliError(format!(
            "dialing {addr} timed out after {}s",
            timeout.as_secs()
        ))),
    }
}

/// The ports `peernet listen` was asked for.
pub struct Ports {
    /// `--tcp`.
    pub tcp: Option<u16>,
    /// `--quic`.
    pub quic: Option<u16>,
    /// `--ws`.
    pub ws: Option<u16>,
    /// `--wss`.
    pub wss: Option<u16>,
}

/// `peernet listen`; `wss_cert` is the certificate chain and key files of `--wss`.
pub async fn listen(
    ports: Ports,
    wss_cert: Option<(PathBuf, PathBuf)>,
    ip: &str,
    metrics_addr: Option<SocketAddr>,
    identity: &IdentityArgs,
    security: &SecurityArgs,
    out: Output,
) -> Result<()> {
    let Ports { tcp, quic, ws, wss } = ports;
    let ip: IpAddr = ip
        .parse()
        .map_err(|e| CliError(format!("invalid --ip {ip:?}: {e}")))?;
    let protocols = security_protocols(security);
    if quic.is_some() && !protocols.contains(&SecurityProtocol::Tls) {
        return Err(CliError(
            "--quic needs TLS 1.3, which --security/--insecure excluded".into(),
        ));
    }
    // Without a port option: TCP on a free port, and QUIC too when TLS is on.
    let (tcp, quic) = match (tcp, quic, ws.or(wss)) {
        (None, None, None) => (
            Some(0),
            protocols.contains(&SecurityProtocol::Tls).then_some(0),
        ),
        _ => (tcp, quic),
    };
    let mut listen = Vec::new();
    listen.extend(tcp.map(|port| Multiaddr::tcp((ip, port).into())));
    listen.extend(quic.map(|port| Multiaddr::quic_v1((ip, port).into())));
    listen
        .extend(ws.map(|port| Multiaddr::tcp((ip, port).into()).with(peernet::core::Protocol::Ws)));
    listen.extend(wss.map(|port| {
        Multiaddr::tcp((ip, port).into())
            .with(peernet::core::Protocol::Tls)
            .with(peernet::core::Protocol::Ws)
    }));
    let mut tls = ws_tls(security)?;
    if let (Some(_), Some((cert, key))) = (wss, &wss_cert) {
        tls = tls.with_pem_files(cert, key)?;
    }
    // Catch SIGTERM and Ctrl-C from now on: a signal arriving while the node starts up, right
    // after it printed its addresses, must stop it cleanly too.
    let shutdown = shutdown_signal()?;
    // Bind the metrics endpoint first: a port in use fails before the node starts.
    let metrics_listener = match metrics_addr {
        Some(addr) => Some(
            tokio::net::TcpListener::bind(addr)
                .await
                .map_err(|e| CliError(format!("cannot serve metrics on {addr}: {e}")))?,
        ),
        None => None,
    };
    let mut builder = Host::builder()
        .identity(identity::load(identity)?)
        .security(protocols)
        .listen_addrs(listen)
        .ws_tls(tls);
    let metrics = metrics_listener.as_ref().map(|_| Metrics::new());
    if let Some(m) = &metrics {
        builder = builder.metrics(m.clone());
    }
    let host = builder.build().await?;
    if let (Some(listener), Some(m)) = (metrics_listener, metrics) {
        let url = format!("http://{}/metrics", listener.local_addr()?);
        out.emit(
            format!("metrics on {url}"),
            json!({"type": "metrics", "url": url}),
        );
        tokio::spawn(async move {
            if let Err(e) = peernet::metrics::serve(listener, m).await {
                eprintln!("error: the metrics endpoint stopped: {e}");
            }
        });
    }
    // Listening on every interface: the host shows the loopback address, dialable as is.
    let addrs = host.addrs();
    if addrs.is_empty() {
        return Err(CliError("no listen address".into()));
    }
    for full in &addrs {
        out.emit(
            format!("listening on {full}"),
            json!({"type": "listen", "addr": full.to_string()}),
        );
    }
    if !out.json {
        println!("peer id {}", host.id());
    }
    serve_on(&host);
    let mut events = host.swarm().subscribe();
    let log = async {
        while let Ok(event) = events.recv().await {
            match event {
                SwarmEvent::Connected {
                    peer, remote_addr, ..
                } if !out.quiet => eprintln!("connected: {peer} from {remote_addr}"),
                SwarmEvent::Disconnected { peer, .. } if !out.json => {
                    eprintln!("disconnected: {peer}")
                }
                _ => {}
            }
        }
    };
    tokio::select! {
        () = log => {}
        () = shutdown => eprintln!("shutting down"),
    }
    host.close().await;
    Ok(())
}

/// Installs the handlers for SIGTERM and Ctrl-C (SIGINT) at once and returns a future that
/// completes on either.
#[cfg(unix)]
fn shutdown_signal() -> Result<impl std::future::Future<Output = ()>> {
    use tokio::signal::unix::{signal, SignalKind};
    let handler = |kind: SignalKind, name: &str| {
        signal(kind).map_err(|e| CliError(format!("cannot handle {name}: {e}")))
    };
    let mut term = handler(SignalKind::terminate(), "SIGTERM")?;
    let mut interrupt = handler(SignalKind::interrupt(), "SIGINT")?;
    Ok(async move {
        tokio::select! {
            _ = term.recv() => {}
            _ = interrupt.recv() => {}
        }
    })
}

/// Returns a future that completes on Ctrl-C.
#[cfg(not(unix))]
fn shutdown_signal() -> Result<impl std::future::Future<Output = ()>> {
    Ok(async {
        let _ = tokio::signal::ctrl_c().await;
    })
}

/// Serves echo and perf on `host` (identify and ping come with every host).
pub fn serve_on(host: &Host) {
    host.set_stream_handler(echo::PROTOCOL, |mut s| async move {
        log_failure(echo::PROTOCOL, echo::serve(&mut s).await.map(drop));
    });
    host.set_stream_handler(perf::PROTOCOL, |mut s| async move {
        log_failure(
            perf::PROTOCOL,
            perf::serve(&mut s, MAX_PERF_DOWNLOAD).await.map(drop),
        );
    });
}

fn log_failure(protocol: &str, result: std::io::Result<()>) {
    if let Err(e) = result {
        tracing::debug!(protocol, error = %e, "stream handler failed");
    }
}

/// Largest identify answer the CLI reads (the codec's cap on one message, a few of them).
const IDENTIFY_READ_LIMIT: usize = 64 * 1024;

/// `peernet identify`: asks the peer on `conn` who it is and prints the answer.
pub async fn identify_cmd(conn: &Connection, timeout: Duration, out: Output) -> Result<()> {
    let peer = conn.remote_peer().clone();
    let ask = async {
        let mut stream = conn.open_stream(&[identify::PROTOCOL]).await?;
        stream.shutdown().await?;
        let mut reader = IdentifyReader::new();
        let mut buf = vec![0u8; 4096];
        let mut total = 0;
        loop {
            let n = stream.read(&mut buf).await?;
            if n == 0 {
                break;
            }
            total += n;
            if total > IDENTIFY_READ_LIMIT {
                return Err(CliError(format!(
                    "{peer} sent more than {IDENTIFY_READ_LIMIT} bytes of identify"
                )));
            }
            reader.push(buf.get(..n).unwrap_or_default())?;
        }
        Ok(reader.finish()?)
    };
    let msg = match tokio::time::timeout(timeout, ask).await {
        Ok(r) => r?,
        Err(_) => {
            return Err(CliError(format!(
                "identify with {peer} timed out after {}s",
                timeout.as_secs()
            )))
        }
    };
    if msg
        .public_key
        .as_ref()
        .is_some_and(|k| !peer.is_public_key(k))
    {
        return Err(CliError(format!(
            "{peer} announced the public key of another peer"
        )));
    }
    let listen: Vec<String> = msg.listen_addrs.iter().map(ToString::to_string).collect();
    let observed = msg
        .observed_addr
        .as_ref()
        .map(ToString::to_string)
        .unwrap_or_default();
    let agent = msg.agent_version.clone().unwrap_or_default();
    let version = msg.protocol_version.clone().unwrap_or_default();
    out.emit(
        format!(
            "peer {peer}\nagent version {agent}\nprotocol version {version}\nprotocols:\n  {}\nlisten addresses:\n  {}\nobserved address {observed}",
            msg.protocols.join("\n  "),
            listen.join("\n  ")
        ),
        json!({
            "type": "identify",
            "peer": peer.to_string(),
            "agent_version": agent,
            "protocol_version": version,
            "protocols": msg.protocols,
            "listen_addrs": listen,
            "observed_addr": observed,
        }),
    );
    Ok(())
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

/// `peernet perf` for one transfer: the JSON lines of the libp2p perf benchmark with `--json`;
/// in human mode a live progress line (redrawn in place on a terminal, a line a second
/// otherwise) and a summary.
pub async fn perf_cmd(conn: &Connection, upload: u64, download: u64, out: Output) -> Result<()> {
    let stream = conn.open_stream(&[perf::PROTOCOL]).await?;
    let (mut up, mut down, mut elapsed) = (0u64, 0u64, Duration::ZERO);
    let result = perf::run(stream, upload, download, |p| {
        up += p.upload_bytes;
        down += p.download_bytes;
        elapsed += p.interval;
        let secs = p.interval.as_secs_f64();
        let rate = gbps(p.upload_bytes + p.download_bytes, p.interval);
        let line = format!(
            "  ↑ {:>10} of {}  ↓ {:>10} of {}  {:>6.2} Gbit/s  {:>5.1} s",
            format_bytes(up),
            format_bytes(upload),
            format_bytes(down),
            format_bytes(download),
            rate,
            elapsed.as_secs_f64()
        );
        if out.live() {
            out.progress(line);
        } else {
            out.emit(
                line,
                json!({"type": "intermediary", "timeSeconds": secs, "uploadBytes": p.upload_bytes, "downloadBytes": p.download_bytes}),
            );
        }
    })
    .await;
    out.end_progress();
    let result = result?;
    let secs = result.elapsed.as_secs_f64();
    out.emit(
        format!(
            "uploaded {} and downloaded {} in {:.3} s: {:.2} Gbit/s",
            format_bytes(result.upload_bytes),
            format_bytes(result.download_bytes),
            secs,
            gbps(result.upload_bytes + result.download_bytes, result.elapsed)
        ),
        json!({"type": "final", "timeSeconds": secs, "uploadBytes": result.upload_bytes, "downloadBytes": result.download_bytes}),
    );
    Ok(())
}

/// Bits per second, in Gbit/s, for `bytes` moved in `d`.
fn gbps(bytes: u64, d: Duration) -> f64 {
    bytes as f64 * 8.0 / d.as_secs_f64().max(1e-9) / 1e9
}

/// `peernet perf --repeat N`: N fresh connections, each with a 1-byte round trip.
pub async fn perf_latency(
    transport: &Dialer,
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
