//! go-libp2p's echo example (`examples/echo`), on a peernet [`Host`].
//!
//! ```text
//! cargo run --example echo -- -l 4001            # prints "I am /ip4/127.0.0.1/tcp/4001/p2p/…"
//! cargo run --example echo -- -l 4002 -d /ip4/127.0.0.1/tcp/4001/p2p/…   # in a second terminal
//! ```
//!
//! Options: `-l PORT` to listen on (required, as in Go), `-d TARGET` to dial a listener and send
//! it "Hello, world!\n", `--insecure` for no encryption, `--seed N` for a deterministic identity.

use std::error::Error;

use peernet::services::echo;
use peernet::{AddrInfo, AddrTtl, Host, Keypair};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// Builds a host listening on 127.0.0.1:`port`, with an identity derived from `seed` (random
/// when 0), encrypted unless `insecure`.
pub async fn make_host(port: u16, insecure: bool, seed: u64) -> Result<Host, Box<dyn Error>> {
    let mut options = Host::builder().listen_addrs([format!("/ip4/127.0.0.1/tcp/{port}").parse()?]);
    if seed != 0 {
        options = options.identity(Keypair::ed25519_from_seed(seed));
    }
    if insecure {
        options = options.insecure();
    }
    Ok(options.build().await?)
}

/// Serves `/echo/1.0.0` and returns the host's full address.
pub fn start_listener(host: &Host) -> String {
    host.set_stream_handler(echo::PROTOCOL, |mut stream| async move {
        println!("listener received new stream");
        if let Err(e) = echo::serve(&mut stream).await {
            println!("echo failed: {e}");
        }
    });
    host.addrs()
        .first()
        .map(ToString::to_string)
        .unwrap_or_default()
}

/// Dials `target` (a full address), sends "Hello, world!\n" and returns the reply.
pub async fn run_sender(host: &Host, target: &str) -> Result<String, Box<dyn Error>> {
    let info = AddrInfo::from_p2p_addr(&target.parse()?)?;
    host.peerstore()
        .add_addrs(&info.peer_id, info.addrs, AddrTtl::Permanent)?;
    let mut stream = host.new_stream(&info.peer_id, &[echo::PROTOCOL]).await?;
    stream.write_all(b"Hello, world!\n").await?;
    stream.shutdown().await?;
    let mut reply = String::new();
    stream.read_to_string(&mut reply).await?;
    Ok(reply)
}

/// The command-line flags of the Go example.
#[derive(Debug, Default)]
pub struct Flags {
    /// `-l PORT`.
    pub listen: u16,
    /// `-d TARGET`.
    pub target: Option<String>,
    /// `--insecure`.
    pub insecure: bool,
    /// `--seed N`.
    pub seed: u64,
}

/// Parses the flags (`-insecure` and `-seed` with one dash work too, as in Go).
pub fn parse_flags(mut args: impl Iterator<Item = String>) -> Result<Flags, String> {
    let mut flags = Flags::default();
    while let Some(arg) = args.next() {
        let mut value = |name: &str| args.next().ok_or(format!("{name} needs a value"));
        match arg.trim_start_matches('-') {
            "l" => flags.listen = value("-l")?.parse().map_err(|e| format!("-l: {e}"))?,
            "d" => flags.target = Some(value("-d")?),
            "insecure" => flags.insecure = true,
            "seed" => {
                flags.seed = value("--seed")?
                    .parse()
                    .map_err(|e| format!("--seed: {e}"))?
            }
            _ => return Err(format!("unknown argument {arg}")),
        }
    }
    if flags.listen == 0 {
        return Err("Please provide a port to bind on with -l".into());
    }
    Ok(flags)
}

#[allow(dead_code)] // the test includes this file for its functions
#[tokio::main]
async fn main() -> Result<(), Box<dyn Error>> {
    let flags = parse_flags(std::env::args().skip(1))?;
    let host = make_host(flags.listen, flags.insecure, flags.seed).await?;
    match &flags.target {
        None => {
            let full_addr = start_listener(&host);
            println!("I am {full_addr}");
            println!("listening for connections");
            let insecure = if flags.insecure { " --insecure" } else { "" };
            println!(
                "Now run \"cargo run --example echo -- -l {} -d {full_addr}{insecure}\" on a different terminal",
                flags.listen.wrapping_add(1)
            );
            tokio::signal::ctrl_c().await?;
        }
        Some(target) => {
            println!(
                "I am {}",
                host.addrs()
                    .first()
                    .map(ToString::to_string)
                    .unwrap_or_default()
            );
            println!("sender opening stream");
            let reply = run_sender(&host, target).await?;
            println!("read reply: {reply:?}");
        }
    }
    host.close().await;
    Ok(())
}
