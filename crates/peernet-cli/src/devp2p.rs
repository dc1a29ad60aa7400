//! `peernet devp2p …`: the RLPx side.

use clap::Subcommand;

use crate::output::{not_implemented, Output, Result};

/// The devp2p subcommands.
#[derive(Debug, Subcommand)]
pub enum Devp2pCommand {
    /// Listen for RLPx connections and print our enode.
    Listen {
        /// TCP port to listen on (0 picks a free one).
        #[arg(long, default_value_t = 30303)]
        port: u16,
    },
    /// Dial an enode, complete the handshake, ping once and disconnect.
    Dial {
        /// The remote node: enode://<128 hex chars>@ip:port
        enode: String,
    },
}

/// Runs a devp2p subcommand.
pub async fn run(cmd: Devp2pCommand, _out: Output, _timeout: std::time::Duration) -> Result<()> {
    match cmd {
        Devp2pCommand::Listen { .. } => Err(not_implemented("devp2p listen")),
        Devp2pCommand::Dial { .. } => Err(not_implemented("devp2p dial")),
    }
}
