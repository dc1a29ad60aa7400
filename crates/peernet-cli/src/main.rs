//! The `peernet` command: a peer-to-peer node and its diagnostic tools in one binary.

mod demo;
mod devp2p;
mod identity;
mod node;
mod output;

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::{Args, Parser, Subcommand};

use output::{Output, Result};

/// peernet: a libp2p and devp2p node for the shell.
///
/// Start with `peernet demo` to watch two local nodes talk, `peernet listen` to serve, and
/// `peernet ping|echo|identify|perf ADDR` to talk to any libp2p node (go, rust, js or peernet).
/// ADDR is a multiaddr such as /ip4/127.0.0.1/tcp/4001/p2p/12D3KooW…; the /p2p/ part is optional,
/// and when present a remote with another identity is refused.
#[derive(Debug, Parser)]
#[command(name = "peernet", version, about, long_about)]
struct Cli {
    /// Print one JSON object per line instead of human-readable text.
    #[arg(long, global = true)]
    json: bool,
    /// Give up dialing after this many seconds.
    #[arg(long, global = true, default_value_t = 20, value_name = "SECONDS")]
    timeout: u64,
    #[command(subcommand)]
    command: Command,
}

/// Where our identity comes from. Without either option a fresh random Ed25519 key is used.
#[derive(Debug, Clone, Args)]
pub struct IdentityArgs {
    /// Deterministic Ed25519 identity from a number (the secret is N as 8 little-endian bytes,
    /// then 24 zero bytes). For tests and demos only: anyone can derive the same key.
    #[arg(long, value_name = "N", conflicts_with = "key")]
    seed: Option<u64>,
    /// Read the identity from a key file (protobuf PrivateKey, as `peernet key generate` writes
    /// and go-libp2p's MarshalPrivateKey).
    #[arg(long, value_name = "FILE")]
    key: Option<PathBuf>,
}

/// How connections are secured.
#[derive(Debug, Clone, Args)]
pub struct SecurityArgs {
    /// Security protocols to offer, in order of preference.
    #[arg(long, value_enum, default_value = "both")]
    security: Security,
    /// No encryption at all (plaintext/2.0.0): only for local experiments.
    #[arg(long)]
    insecure: bool,
    /// PEM file of certificate authorities to trust when dialing secure WebSocket (/tls/ws,
    /// /wss) addresses.
    #[arg(long, value_name = "FILE")]
    ca: Option<PathBuf>,
}

/// Security protocol choice.
#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub enum Security {
    /// Noise XX.
    Noise,
    /// TLS 1.3.
    Tls,
    /// Noise first, then TLS.
    Both,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Print the peer id of an identity.
    Id {
        #[command(flatten)]
        identity: IdentityArgs,
    },
    /// Manage key files.
    Key {
        #[command(subcommand)]
        command: KeyCommand,
    },
    /// Run a node that serves identify, ping, echo and perf until interrupted.
    Listen {
        /// TCP port to listen on (0 picks a free one).
        #[arg(long, value_name = "PORT")]
        tcp: Option<u16>,
        /// UDP port for QUIC v1.
        #[arg(long, value_name = "PORT")]
        quic: Option<u16>,
        /// TCP port for WebSocket.
        #[arg(long, value_name = "PORT")]
        ws: Option<u16>,
        /// TCP port for secure WebSocket (/tls/ws); needs --cert and --cert-key.
        #[arg(long, value_name = "PORT", requires_all = ["cert", "cert_key"])]
        wss: Option<u16>,
        /// PEM certificate chain (leaf first) for --wss.
        #[arg(long, value_name = "FILE")]
        cert: Option<PathBuf>,
        /// PEM private key of --cert.
        #[arg(long, value_name = "FILE")]
        cert_key: Option<PathBuf>,
        /// IP address to listen on.
        #[arg(long, value_name = "ADDR", default_value = "0.0.0.0")]
        ip: String,
        /// Serve Prometheus metrics (connections, streams, bytes, dials, handshake times) at
        /// http://ADDR/metrics, e.g. 127.0.0.1:9100 (port 0 picks a free one).
        #[arg(long, value_name = "ADDR")]
        metrics: Option<std::net::SocketAddr>,
        #[command(flatten)]
        identity: IdentityArgs,
        #[command(flatten)]
        security: SecurityArgs,
    },
    /// Measure round-trip times with the libp2p ping protocol.
    Ping {
        /// The peer's multiaddr.
        addr: String,
        /// How many pings to send.
        #[arg(long, default_value_t = 1)]
        count: u32,
        #[command(flatten)]
        identity: IdentityArgs,
        #[command(flatten)]
        security: SecurityArgs,
    },
    /// Send TEXT on /echo/1.0.0 and print what comes back.
    Echo {
        /// The peer's multiaddr.
        addr: String,
        /// The text to send.
        text: String,
        #[command(flatten)]
        identity: IdentityArgs,
        #[command(flatten)]
        security: SecurityArgs,
    },
    /// Ask a peer who it is (the identify protocol).
    Identify {
        /// The peer's multiaddr.
        addr: String,
        #[command(flatten)]
        identity: IdentityArgs,
        #[command(flatten)]
        security: SecurityArgs,
    },
    /// Measure throughput or connection latency with the libp2p perf protocol.
    Perf {
        /// The peer's multiaddr.
        addr: String,
        /// Bytes to send.
        #[arg(long, default_value = "0")]
        upload_bytes: String,
        /// Bytes to receive.
        #[arg(long, default_value = "0")]
        download_bytes: String,
        /// Measure N fresh connections, each with a 1-byte round trip.
        #[arg(long)]
        repeat: Option<u32>,
        #[command(flatten)]
        identity: IdentityArgs,
        #[command(flatten)]
        security: SecurityArgs,
    },
    /// Start two local nodes and show the stack working end to end.
    Demo {
        /// Bytes the perf run moves each way on every combination.
        #[arg(long, default_value = "256MiB")]
        perf_bytes: String,
    },
    /// Ethereum's devp2p: RLPx listen and dial.
    Devp2p {
        #[command(subcommand)]
        command: devp2p::Devp2pCommand,
    },
}

#[derive(Debug, Subcommand)]
enum KeyCommand {
    /// Generate a new key and write it to a file.
    Generate {
        /// Key type.
        #[arg(long = "type", value_enum, default_value = "ed25519")]
        key_type: identity::KeyTypeArg,
        /// Where to write the key (protobuf PrivateKey encoding).
        #[arg(long, value_name = "FILE")]
        out: PathBuf,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("PEERNET_LOG")
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn")),
        )
        .init();
    let out = Output {
        json: cli.json,
        quiet: false,
    };
    let timeout = Duration::from_secs(cli.timeout);
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(cli.command, out, timeout)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}

async fn run(command: Command, out: Output, timeout: Duration) -> Result<()> {
    match command {
        Command::Id { identity } => identity::print_id(&identity, out),
        Command::Key {
            command:
                KeyCommand::Generate {
                    key_type,
                    out: path,
                },
        } => identity::generate(key_type, &path, out),
        Command::Listen {
            tcp,
            quic,
            ws,
            wss,
            cert,
            cert_key,
            ip,
            metrics,
            identity,
            security,
        } => {
            let ports = node::Ports { tcp, quic, ws, wss };
            let wss_cert = cert.zip(cert_key);
            node::listen(ports, wss_cert, &ip, metrics, &identity, &security, out).await
        }
        Command::Ping {
            addr,
            count,
            identity,
            security,
        } => {
            let transport = node::transport(&identity, &security)?;
            let conn = node::dial(&transport, &addr, timeout).await?;
            node::ping_cmd(&conn, count, out).await
        }
        Command::Echo {
            addr,
            text,
            identity,
            security,
        } => {
            let transport = node::transport(&identity, &security)?;
            let conn = node::dial(&transport, &addr, timeout).await?;
            node::echo_cmd(&conn, &text, out).await
        }
        Command::Identify {
            addr,
            identity,
            security,
        } => {
            let transport = node::transport(&identity, &security)?;
            let conn = node::dial(&transport, &addr, timeout).await?;
            node::identify_cmd(&conn, timeout, out).await
        }
        Command::Perf {
            addr,
            upload_bytes,
            download_bytes,
            repeat,
            identity,
            security,
        } => {
            let transport = node::transport(&identity, &security)?;
            if let Some(n) = repeat {
                return node::perf_latency(&transport, &addr, n, timeout, out).await;
            }
            let upload = node::parse_bytes(&upload_bytes)?;
            let download = node::parse_bytes(&download_bytes)?;
            let conn = node::dial(&transport, &addr, timeout).await?;
            node::perf_cmd(&conn, upload, download, out).await
        }
        Command::Demo { perf_bytes } => demo::run(node::parse_bytes(&perf_bytes)?, out).await,
        Command::Devp2p { command } => devp2p::run(command, out, timeout).await,
    }
}
