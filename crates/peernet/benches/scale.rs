//! Scale: what idle connections and idle streams cost a node, in resident memory.
//!
//! `cargo bench -p peernet --bench scale [-- <connections> <streams per connection> [host|bare]]`
//! (defaults: 10000 connections, 10 streams each, both node kinds).
//!
//! The node under test runs in a child process (this binary, re-executed with
//! `PEERNET_SCALE_ROLE` set), so that its resident set (`VmRSS` in `/proc/PID/status`) is its
//! own. This process is the client: it opens the connections over loopback TCP + Noise + yamux,
//! each with its own identity (so the node keeps per-peer state for every one, as it would in a
//! network) and answering the node's identify, waits until the node reports every connection
//! upgraded and identified, and reads the node's RSS; then it opens the streams, which the
//! node's handler acknowledges with one byte and then holds open without traffic, and reads the
//! RSS again. Both processes raise their file-descriptor limit themselves.
//!
//! Node kinds: `host` is the product, a `peernet::Host` (swarm, identify, ping, peerstore,
//! connection manager) listening on TCP with Noise; `bare` is a `TcpTransport` with its
//! `Upgrader` and a loop that accepts streams, for comparison.
//!
//! `PEERNET_SCALE_WRAPPER="heaptrack -o /tmp/scale"` runs the node under a profiler (the node
//! prints its own pid, which is what is measured).

use std::io::{BufRead, BufReader, Write as _};
use std::process::{Child, ChildStdout, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{mpsc, Arc};
use std::time::{Duration, Instant};

use peernet::core::identify::{Identify, PROTOCOL as IDENTIFY};
use peernet::{
    ConnManagerConfig, Connection, Host, HostEvent, Keypair, Multiaddr, PeerId, Peerstore,
    PeerstoreLimits, ResourceLimits, SecurityProtocol, TcpConfig, TcpTransport, Upgrader,
};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// The protocol of the idle streams: the node answers one byte, then waits for the end.
const IDLE: &str = "/peernet/scale/idle/1.0.0";
const ROLE_ENV: &str = "PEERNET_SCALE_ROLE";
/// Dials (and stream opens) in flight at once from the client.
const CONCURRENCY: usize = 64;
/// Time the node gets to settle after the last connection or stream before RSS is read.
const SETTLE: Duration = Duration::from_secs(3);

fn main() {
    match std::env::var(ROLE_ENV).as_deref() {
        Ok("host") => node(NodeKind::Host),
        Ok("bare") => node(NodeKind::Bare),
        _ => client_main(),
    }
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum NodeKind {
    Host,
    Bare,
}

impl NodeKind {
    fn name(self) -> &'static str {
        match self {
            NodeKind::Host => "host",
            NodeKind::Bare => "bare",
        }
    }
}

/// Raises the soft limit on open files to the hard limit, and reports it.
fn raise_fd_limit(need: u64) -> u64 {
    use nix::sys::resource::{getrlimit, setrlimit, Resource};
    let (soft, hard) = getrlimit(Resource::RLIMIT_NOFILE).expect("getrlimit");
    if soft < hard {
        setrlimit(Resource::RLIMIT_NOFILE, hard, hard).expect("setrlimit");
    }
    let (soft, _) = getrlimit(Resource::RLIMIT_NOFILE).expect("getrlimit");
    if soft < need {
        eprintln!("warning: open-file limit {soft} is below the {need} this run needs");
    }
    soft
}

/// `VmRSS` and `VmHWM` of `pid`, in KiB.
fn rss_kib(pid: u32) -> (u64, u64) {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("read status");
    let field = |name: &str| {
        status
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|v| v.split_whitespace().next())
            .and_then(|v| v.parse::<u64>().ok())
            .expect("status field")
    };
    (field("VmRSS:"), field("VmHWM:"))
}

// ----- the node (child process) -----

struct Counters {
    conns: AtomicUsize,
    identified: AtomicUsize,
    /// Identify exchanges that failed: failures, never counted as identified.
    identify_failed: AtomicUsize,
    streams: AtomicUsize,
}

fn node(kind: NodeKind) {
    raise_fd_limit(0);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(async move {
        let counters = Arc::new(Counters {
            conns: AtomicUsize::new(0),
            identified: AtomicUsize::new(0),
            identify_failed: AtomicUsize::new(0),
            streams: AtomicUsize::new(0),
        });
        let listen: Multiaddr = "/ip4/127.0.0.1/tcp/0".parse().expect("addr");
        let (addr, peer, host, listener) = match kind {
            NodeKind::Host => {
                let host = Host::builder()
                    .listen_addrs([listen])
                    .security(vec![SecurityProtocol::Noise])
                    // Nothing is refused, trimmed or forgotten in this run (usage is still
                    // counted by the resource manager).
                    .resource_limits(ResourceLimits::unlimited())
                    .conn_manager(ConnManagerConfig {
                        low_water: usize::MAX,
                        high_water: usize::MAX,
                        grace_period: Duration::ZERO,
                    })
                    .peerstore(Peerstore::new(PeerstoreLimits {
                        max_peers: usize::MAX,
                        ..PeerstoreLimits::default()
                    }))
                    .build()
                    .await
                    .expect("host");
                let c = counters.clone();
                host.set_stream_handler(IDLE, move |s| idle_handler(s, c.clone()));
                let mut events = host.subscribe();
                let c = counters.clone();
                tokio::spawn(async move {
                    while let Ok(event) = events.recv().await {
                        match event {
                            HostEvent::Identified { .. } => {
                                c.identified.fetch_add(1, Ordering::Relaxed);
                            }
                            HostEvent::IdentifyFailed { .. } => {
                                c.identify_failed.fetch_add(1, Ordering::Relaxed);
                            }
                            _ => {}
                        }
                    }
                });
                let addr = host.listen_addrs().into_iter().next().expect("listening");
                (addr, host.id().clone(), Some(host), None)
            }
            NodeKind::Bare => {
                let upgrader = Upgrader::new(Keypair::generate_ed25519())
                    .with_security(vec![SecurityProtocol::Noise]);
                let peer = upgrader.local_peer().clone();
                let transport = TcpTransport::new(upgrader, TcpConfig::default());
                let listener = transport.listen(&listen).expect("listen");
                (listener.local_addr().clone(), peer, None, Some(listener))
            }
        };
        if let Some(mut listener) = listener {
            let c = counters.clone();
            tokio::spawn(async move {
                while let Some(conn) = listener.accept().await {
                    c.conns.fetch_add(1, Ordering::Relaxed);
                    c.identified.fetch_add(1, Ordering::Relaxed); // no identify here
                    let c = c.clone();
                    tokio::spawn(async move {
                        while let Some(inbound) = conn.accept_stream().await {
                            let c = c.clone();
                            tokio::spawn(async move {
                                let supported = &mut |p: &str| p == IDLE;
                                if let Ok(s) = inbound.negotiate(supported, &Vec::new).await {
                                    idle_handler(s, c).await;
                                }
                            });
                        }
                    });
                }
            });
        }
        // Ends the process where it stands (no destructors), so a profiler wrapping the node
        // sees what an idle node holds.
        tokio::spawn(async {
            let mut term =
                tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
                    .expect("signal handler");
            term.recv().await;
            std::process::exit(0);
        });
        println!("ready {} {} {}", std::process::id(), addr, peer);
        // Report the counts whenever they change (the client waits on them).
        let mut last = (usize::MAX, 0, 0, 0);
        loop {
            let conns = match &host {
                Some(h) => h.swarm().stats().connections,
                None => counters.conns.load(Ordering::Relaxed),
            };
            let now = (
                conns,
                counters.identified.load(Ordering::Relaxed),
                counters.identify_failed.load(Ordering::Relaxed),
                counters.streams.load(Ordering::Relaxed),
            );
            if now != last {
                println!("count {} {} {} {}", now.0, now.1, now.2, now.3);
                last = now;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    });
}

/// Acknowledges the stream with one byte, then holds it until the client ends it.
async fn idle_handler(mut s: peernet::Stream, counters: Arc<Counters>) {
    counters.streams.fetch_add(1, Ordering::Relaxed);
    if s.write_all(b"k").await.is_ok() && s.flush().await.is_ok() {
        let mut buf = [0u8; 16];
        while matches!(s.read(&mut buf).await, Ok(n) if n > 0) {}
    }
    counters.streams.fetch_sub(1, Ordering::Relaxed);
}

// ----- the client (this process) -----

/// The node's counts: connections, identified, identify failures, streams.
type Counts = (usize, usize, usize, usize);

/// The node's status lines, read on a thread.
struct NodeProc {
    child: Child,
    pid: u32,
    addr: Multiaddr,
    peer: PeerId,
    counts: mpsc::Receiver<Counts>,
    last: Counts,
}

impl NodeProc {
    fn spawn(kind: NodeKind) -> NodeProc {
        let exe = std::env::current_exe().expect("current exe");
        let mut cmd = match std::env::var("PEERNET_SCALE_WRAPPER") {
            Ok(w) if !w.trim().is_empty() => {
                let mut parts = w.split_whitespace();
                let mut c = Command::new(parts.next().expect("wrapper"));
                c.args(parts).arg(&exe);
                c
            }
            _ => Command::new(&exe),
        };
        let mut child = cmd
            .env(ROLE_ENV, kind.name())
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .spawn()
            .expect("spawn node");
        let stdout = child.stdout.take().expect("stdout");
        let (ready_tx, ready_rx) = mpsc::channel();
        let (count_tx, counts) = mpsc::channel();
        std::thread::spawn(move || read_node(stdout, ready_tx, count_tx));
        let (pid, addr, peer) = ready_rx.recv().expect("node did not start");
        NodeProc {
            child,
            pid,
            addr,
            peer,
            counts,
            last: (0, 0, 0, 0),
        }
    }

    /// Waits until `done` holds for the node's counts.
    fn wait_for(&mut self, what: &str, done: impl Fn(Counts) -> bool) {
        let start = Instant::now();
        let mut told = Instant::now();
        while !done(self.last) {
            match self.counts.recv_timeout(Duration::from_secs(1)) {
                Ok(c) => self.last = c,
                Err(mpsc::RecvTimeoutError::Timeout) => {}
                Err(mpsc::RecvTimeoutError::Disconnected) => panic!("the node exited"),
            }
            if told.elapsed() > Duration::from_secs(5) {
                let (c, i, f, s) = self.last;
                eprintln!(
                    "  waiting for {what}: node has {c} connections, {i} identified, {f} identify failures, {s} streams"
                );
                told = Instant::now();
            }
            assert!(
                start.elapsed() < Duration::from_secs(600),
                "gave up waiting for {what}"
            );
        }
    }
}

impl Drop for NodeProc {
    fn drop(&mut self) {
        use nix::sys::signal::{kill, Signal};
        use nix::unistd::Pid;
        let _ = kill(Pid::from_raw(self.pid as i32), Signal::SIGTERM);
        // A profiler wrapping the node needs a moment to write its data.
        for _ in 0..600 {
            if !matches!(self.child.try_wait(), Ok(None)) {
                return;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn read_node(
    stdout: ChildStdout,
    ready: mpsc::Sender<(u32, Multiaddr, PeerId)>,
    counts: mpsc::Sender<Counts>,
) {
    for line in BufReader::new(stdout).lines() {
        let Ok(line) = line else { return };
        let words: Vec<&str> = line.split_whitespace().collect();
        match words.as_slice() {
            ["ready", pid, addr, peer] => {
                let _ = ready.send((
                    pid.parse().expect("pid"),
                    addr.parse().expect("addr"),
                    peer.parse().expect("peer"),
                ));
            }
            ["count", c, i, f, s] => {
                let parse = |v: &str| v.parse::<usize>().expect("count");
                if counts
                    .send((parse(c), parse(i), parse(f), parse(s)))
                    .is_err()
                {
                    return;
                }
            }
            _ => println!("  node: {line}"),
        }
    }
}

/// Answers the node's identify on `conn` (what any libp2p peer does), until it closes.
async fn answer_identify(conn: Connection, key: Keypair) {
    while let Some(inbound) = conn.accept_stream().await {
        let key = key.public().clone();
        tokio::spawn(async move {
            let Ok(mut s) = inbound.negotiate(&mut |p| p == IDENTIFY, &Vec::new).await else {
                return;
            };
            let message = Identify {
                protocol_version: Some("ipfs/0.1.0".into()),
                agent_version: Some(format!("peernet-scale/{}", env!("CARGO_PKG_VERSION"))),
                public_key: Some(key),
                protocols: vec![IDENTIFY.to_owned()],
                observed_addr: Some(s.remote_addr().clone()),
                ..Identify::default()
            };
            let _ = s.write_all(&message.to_framed()).await;
            let _ = s.shutdown().await;
            let mut sink = [0u8; 64];
            while matches!(s.read(&mut sink).await, Ok(n) if n > 0) {}
        });
    }
}

struct Measurement {
    kind: NodeKind,
    base: (u64, u64),
    conns: (u64, u64),
    streams: (u64, u64),
    n_conns: usize,
    n_streams: usize,
    connect_time: Duration,
}

fn run(
    kind: NodeKind,
    n_conns: usize,
    per_conn: usize,
    rt: &tokio::runtime::Runtime,
) -> Measurement {
    println!("== node: {} ==", kind.name());
    let mut node = NodeProc::spawn(kind);
    std::thread::sleep(SETTLE);
    let base = rss_kib(node.pid);
    println!(
        "  node pid {} at {}: RSS {} KiB before any connection",
        node.pid, node.addr, base.0
    );

    // Connections, each from its own identity.
    let start = Instant::now();
    let (addr, peer) = (node.addr.clone(), node.peer.clone());
    let conns: Vec<Connection> = rt.block_on(async move {
        let done = Arc::new(AtomicUsize::new(0));
        let sem = Arc::new(tokio::sync::Semaphore::new(CONCURRENCY));
        let mut tasks = Vec::with_capacity(n_conns);
        for _ in 0..n_conns {
            let permit = sem.clone().acquire_owned().await.expect("semaphore");
            let (addr, peer, done) = (addr.clone(), peer.clone(), done.clone());
            tasks.push(tokio::spawn(async move {
                let key = Keypair::generate_ed25519();
                let upgrader =
                    Upgrader::new(key.clone()).with_security(vec![SecurityProtocol::Noise]);
                let transport = TcpTransport::new(upgrader, TcpConfig::default());
                let conn = transport.dial(&addr, Some(peer)).await.expect("dial");
                drop(permit);
                tokio::spawn(answer_identify(conn.clone(), key));
                let n = done.fetch_add(1, Ordering::Relaxed) + 1;
                if n % 1000 == 0 || n == n_conns {
                    let rate = n as f64 / start.elapsed().as_secs_f64();
                    println!("  connected {n}/{n_conns} ({rate:.0}/s)");
                }
                conn
            }));
        }
        let mut conns = Vec::with_capacity(n_conns);
        for t in tasks {
            conns.push(t.await.expect("dial task"));
        }
        conns
    });
    node.wait_for("connections and identify", |(c, i, f, _)| {
        c >= n_conns && i + f >= n_conns
    });
    let (_, identified, failed, _) = node.last;
    assert_eq!(
        failed, 0,
        "identify failed on {failed} of {n_conns} connections ({identified} identified)"
    );
    let connect_time = start.elapsed();
    std::thread::sleep(SETTLE);
    let after_conns = rss_kib(node.pid);
    println!(
        "  {} connections idle: RSS {} KiB (+{} KiB)",
        n_conns,
        after_conns.0,
        after_conns.0.saturating_sub(base.0)
    );

    // Streams, spread evenly over the connections.
    let n_streams = n_conns * per_conn;
    let conns = Arc::new(conns);
    let streams = rt.block_on({
        let conns = conns.clone();
        async move {
            let done = Arc::new(AtomicUsize::new(0));
            let sem = Arc::new(tokio::sync::Semaphore::new(CONCURRENCY * 4));
            let mut tasks = Vec::with_capacity(n_streams);
            for i in 0..n_streams {
                let permit = sem.clone().acquire_owned().await.expect("semaphore");
                let (conns, done) = (conns.clone(), done.clone());
                tasks.push(tokio::spawn(async move {
                    let conn = conns.get(i % conns.len()).expect("connection");
                    let mut s = conn.open_stream(&[IDLE]).await.expect("open stream");
                    let mut ack = [0u8; 1];
                    s.read_exact(&mut ack).await.expect("stream acknowledged");
                    drop(permit);
                    let n = done.fetch_add(1, Ordering::Relaxed) + 1;
                    if n % 10_000 == 0 || n == n_streams {
                        println!("  streams open {n}/{n_streams}");
                    }
                    s
                }));
            }
            let mut streams = Vec::with_capacity(n_streams);
            for t in tasks {
                streams.push(t.await.expect("stream task"));
            }
            streams
        }
    });
    node.wait_for("streams", |(_, _, _, s)| s >= n_streams);
    std::thread::sleep(SETTLE);
    let after_streams = rss_kib(node.pid);
    println!(
        "  {} streams idle: RSS {} KiB (+{} KiB)",
        n_streams,
        after_streams.0,
        after_streams.0.saturating_sub(after_conns.0)
    );
    drop(node);
    rt.block_on(async move {
        drop(streams);
        drop(conns);
    });
    Measurement {
        kind,
        base,
        conns: after_conns,
        streams: after_streams,
        n_conns,
        n_streams,
        connect_time,
    }
}

fn machine() -> String {
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("model name"))
                .map(|v| v.trim_start_matches([' ', '\t', ':']).to_owned())
        })
        .unwrap_or_else(|| "unknown cpu".into());
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    let kernel = std::fs::read_to_string("/proc/sys/kernel/osrelease")
        .map(|s| s.trim().to_owned())
        .unwrap_or_default();
    let rustc = Command::new(std::env::var("RUSTC").unwrap_or_else(|_| "rustc".into()))
        .arg("--version")
        .output()
        .ok()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
        .unwrap_or_default();
    format!(
        "{cpu}, {cores} cores, Linux {kernel}, {rustc}, peernet {}",
        env!("CARGO_PKG_VERSION")
    )
}

fn client_main() {
    let args: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with("--"))
        .collect();
    let n_conns: usize = args.first().and_then(|a| a.parse().ok()).unwrap_or(10_000);
    let per_conn: usize = args.get(1).and_then(|a| a.parse().ok()).unwrap_or(10);
    let kinds: Vec<NodeKind> = match args.get(2).map(String::as_str) {
        Some("host") => vec![NodeKind::Host],
        Some("bare") => vec![NodeKind::Bare],
        _ => vec![NodeKind::Host, NodeKind::Bare],
    };
    let limit = raise_fd_limit(n_conns as u64 + 256);
    println!(
        "scale: {n_conns} connections (TCP + Noise + yamux), {per_conn} streams each, loopback"
    );
    println!("machine: {}", machine());
    println!("client open-file limit: {limit}");
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let results: Vec<Measurement> = kinds
        .into_iter()
        .map(|k| run(k, n_conns, per_conn, &rt))
        .collect();

    println!();
    println!("| node | connections | RSS before | RSS with conns | per connection | streams | RSS with streams | per stream | peak RSS | connect + identify |");
    println!("|---|---|---|---|---|---|---|---|---|---|");
    for m in &results {
        let per_conn = (m.conns.0.saturating_sub(m.base.0) * 1024) as f64 / m.n_conns as f64;
        let per_stream = if m.n_streams == 0 {
            0.0
        } else {
            (m.streams.0.saturating_sub(m.conns.0) * 1024) as f64 / m.n_streams as f64
        };
        println!(
            "| {} | {} | {} KiB | {} KiB | {:.1} KiB | {} | {} KiB | {:.2} KiB | {} KiB | {:.1} s |",
            m.kind.name(),
            m.n_conns,
            m.base.0,
            m.conns.0,
            per_conn / 1024.0,
            m.n_streams,
            m.streams.0,
            per_stream / 1024.0,
            m.streams.1,
            m.connect_time.as_secs_f64(),
        );
    }
    let _ = std::io::stdout().flush();
}
