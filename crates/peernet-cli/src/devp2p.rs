//! `peernet devp2p …`: the RLPx side.

use std::net::{Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::time::Duration;

use clap::Subcommand;
use peernet_core::error::Chain;
use peernet_devp2p::{Config, DiscReason, Enode, NodeId, Protocol, SecretKey, Server, ServerEvent};
use serde_json::json;

use crate::output::{CliError, Output, Result};

/// A capability to offer, `NAME/VERSION/LENGTH` (LENGTH = number of message codes), e.g.
/// `eth/68/17` or `snap/1/8`.
#[derive(Debug, Clone)]
pub struct CapArg {
    name: String,
    version: u32,
    length: u64,
}

impl FromStr for CapArg {
    type Err = String;

    fn from_str(s: &str) -> std::result::Result<Self, Self::Err> {
        let mut parts = s.split('/');
        let (Some(name), Some(version), Some(length), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(format!(
                "expected NAME/VERSION/LENGTH such as eth/68/17, got {s:?}"
            ));
        };
        if name.is_empty() || name.len() > 8 || !name.is_ascii() {
            return Err(format!(
                "capability name must be 1 to 8 ASCII characters: {name:?}"
            ));
        }
        let version = version
            .parse()
            .map_err(|_| format!("bad capability version {version:?}"))?;
        let length: u64 = length
            .parse()
            .map_err(|_| format!("bad number of message codes {length:?}"))?;
        if length == 0 {
            return Err("a capability needs at least one message code".into());
        }
        Ok(CapArg {
            name: name.to_string(),
            version,
            length,
        })
    }
}

/// The devp2p subcommands.
#[derive(Debug, Subcommand)]
pub enum Devp2pCommand {
    /// Listen for RLPx connections, print our enode, and log peers to stderr until Ctrl-C.
    ///
    /// Prints {"type":"listen","enode":"enode://…@127.0.0.1:PORT"} with --json. Offered
    /// capabilities accept and discard every message: enough to be a peer that other nodes can
    /// complete the devp2p handshake with.
    Listen {
        /// TCP port to listen on, on all interfaces (0 picks a free one).
        #[arg(long, default_value_t = 30303)]
        port: u16,
        /// Deterministic node key from a number N >= 1: the secp256k1 secret is 24 zero bytes
        /// followed by N as 8 big-endian bytes. For tests and demos only: anyone can derive it.
        #[arg(long, value_name = "N", conflicts_with = "key")]
        seed: Option<u64>,
        /// Read the node key from FILE: the secp256k1 secret as 64 hex characters (an optional
        /// 0x prefix and surrounding whitespace are allowed), like go-ethereum's nodekey file.
        #[arg(long, value_name = "FILE")]
        key: Option<PathBuf>,
        /// Capability to offer, NAME/VERSION/LENGTH (repeatable), e.g. --cap eth/68/17.
        #[arg(long = "cap", value_name = "NAME/VERSION/LENGTH")]
        caps: Vec<CapArg>,
    },
    /// Dial an enode, complete the handshake, ping once and disconnect ("client quitting").
    ///
    /// Prints the remote's Hello ({"type":"hello","node_id",…,"caps":["eth/68",…],
    /// "p2p_version":5}) and the ping round trip ({"type":"ping","rtt_us":N}). Uses a fresh
    /// random node key. Gives up after --timeout seconds.
    Dial {
        /// The remote node: enode://<128 hex chars>@ip:port
        enode: String,
        /// Capability to offer, NAME/VERSION/LENGTH (repeatable). Nodes that run subprotocols
        /// disconnect peers that share none of them ("useless peer").
        #[arg(long = "cap", value_name = "NAME/VERSION/LENGTH")]
        caps: Vec<CapArg>,
    },
}

/// The secret for `--seed N`: 24 zero bytes, then N as 8 big-endian bytes.
fn key_from_seed(n: u64) -> Result<SecretKey> {
    let mut b = [0u8; 32];
    b[24..].copy_from_slice(&n.to_be_bytes());
    SecretKey::from_slice(&b).map_err(|_| CliError("--seed must be at least 1".into()))
}

/// The secret in a hex key file.
fn key_from_file(path: &Path) -> Result<SecretKey> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| CliError(format!("cannot read key file {}: {e}", path.display())))?;
    let t = text.trim();
    let t = t.strip_prefix("0x").unwrap_or(t);
    let bytes = hex::decode(t).map_err(|_| {
        CliError(format!(
            "{}: expected 64 hex characters (a secp256k1 secret)",
            path.display()
        ))
    })?;
    if bytes.len() != 32 {
        return Err(CliError(format!(
            "{}: expected 32 bytes, found {}",
            path.display(),
            bytes.len()
        )));
    }
    SecretKey::from_slice(&bytes)
        .map_err(|_| CliError(format!("{}: not a valid secp256k1 secret", path.display())))
}

/// A protocol that accepts and discards every message until the peer ends.
fn sink_protocol(cap: &CapArg) -> Protocol {
    Protocol::new(
        cap.name.clone(),
        cap.version,
        cap.length,
        |_peer, mut rw| async move {
            loop {
                rw.read().await?;
            }
        },
    )
}

fn config(key: SecretKey, caps: &[CapArg]) -> Config {
    caps.iter()
        .fold(Config::new(key), |c, cap| c.protocol(sink_protocol(cap)))
}

/// Runs a devp2p subcommand.
pub async fn run(cmd: Devp2pCommand, out: Output, timeout: Duration) -> Result<()> {
    match cmd {
        Devp2pCommand::Listen {
            port,
            seed,
            key,
            caps,
        } => {
            let key = match (seed, key) {
                (Some(n), _) => key_from_seed(n)?,
                (None, Some(path)) => key_from_file(&path)?,
                (None, None) => SecretKey::random(&mut rand::thread_rng()),
            };
            listen(port, key, &caps, out).await
        }
        Devp2pCommand::Dial { enode, caps } => {
            let enode: Enode = enode
                .parse()
                .map_err(|e| CliError(format!("bad enode {enode:?}: {e}")))?;
            match tokio::time::timeout(timeout, dial(&enode, &caps, out)).await {
                Ok(r) => r,
                Err(_) => Err(CliError(format!(
                    "gave up on {} after {} s",
                    enode.addr,
                    timeout.as_secs()
                ))),
            }
        }
    }
}

async fn listen(port: u16, key: SecretKey, caps: &[CapArg], out: Output) -> Result<()> {
    let addr = SocketAddr::from((Ipv4Addr::UNSPECIFIED, port));
    let server = Server::listen(config(key, caps), addr).await?;
    let enode = server
        .local_enode()
        .ok_or_else(|| CliError("listener has no address".into()))?;
    out.emit(
        format!("listening on {enode}"),
        json!({"type": "listen", "enode": enode.to_string()}),
    );
    let mut events = server.subscribe();
    let log = tokio::spawn(async move {
        loop {
            match events.recv().await {
                Ok(ServerEvent::PeerAdded(p)) => {
                    let caps: Vec<String> =
                        p.shared_caps().iter().map(|s| s.cap.to_string()).collect();
                    eprintln!(
                        "peer added: {} {:?} {} caps [{}]",
                        short(&p.id()),
                        p.client_id(),
                        if p.is_inbound() {
                            "inbound"
                        } else {
                            "outbound"
                        },
                        caps.join(", ")
                    );
                }
                Ok(ServerEvent::PeerRemoved { id, exit }) => {
                    eprintln!("peer removed: {}: {exit}", short(&id));
                }
                Err(tokio::sync::broadcast::error::RecvError::Lagged(n)) => {
                    eprintln!("({n} peer events not shown)");
                }
                Err(tokio::sync::broadcast::error::RecvError::Closed) => return,
            }
        }
    });
    wait_for_signal().await?;
    server.shutdown().await;
    // Let the log task print the removals the shutdown caused.
    let _ = tokio::time::timeout(Duration::from_millis(200), log).await;
    Ok(())
}

async fn wait_for_signal() -> Result<()> {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        let mut term = signal(SignalKind::terminate())?;
        tokio::select! {
            r = tokio::signal::ctrl_c() => r?,
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    tokio::signal::ctrl_c().await?;
    Ok(())
}

fn short(id: &NodeId) -> String {
    let s = id.to_string();
    s.get(..16).unwrap_or(&s).to_string()
}

async fn dial(enode: &Enode, caps: &[CapArg], out: Output) -> Result<()> {
    let server = Server::new(config(SecretKey::random(&mut rand::thread_rng()), caps));
    let peer = server.dial(enode).await?;
    let hello = peer.hello();
    let cap_names: Vec<String> = hello.caps.iter().map(|c| c.to_string()).collect();
    out.emit(
        format!(
            "hello from {} ({}), p2p v{}, caps [{}]",
            peer.id(),
            hello.client_id,
            hello.protocol_version,
            cap_names.join(", ")
        ),
        json!({
            "type": "hello",
            "node_id": peer.id().to_string(),
            "client_id": hello.client_id,
            "caps": cap_names,
            "p2p_version": hello.protocol_version,
        }),
    );
    let rtt = match peer.ping().await {
        Ok(rtt) => rtt,
        Err(e) => {
            // The peer ended: say how (bounded by the global timeout around `dial`).
            let exit = peer.wait().await;
            return Err(CliError(format!("ping failed: {}: {exit}", Chain(&e))));
        }
    };
    out.emit(
        format!("ping: {} µs", rtt.as_micros()),
        json!({"type": "ping", "rtt_us": u64::try_from(rtt.as_micros()).unwrap_or(u64::MAX)}),
    );
    peer.disconnect(DiscReason::ClientQuit);
    peer.wait().await;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cap_args() {
        let c: CapArg = "eth/68/17".parse().unwrap();
        assert_eq!((c.name.as_str(), c.version, c.length), ("eth", 68, 17));
        assert!("eth/68".parse::<CapArg>().is_err());
        assert!("eth/x/17".parse::<CapArg>().is_err());
        assert!("eth/68/0".parse::<CapArg>().is_err());
        assert!("toolongname/1/1".parse::<CapArg>().is_err());
    }

    #[test]
    fn seed_keys() {
        let k = key_from_seed(1).unwrap();
        let mut want = [0u8; 32];
        want[31] = 1;
        assert_eq!(k.to_bytes()[..], want[..]);
        assert!(key_from_seed(0).is_err());
    }
}
