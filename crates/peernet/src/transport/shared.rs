//! What every transport shares: the [`Listener`] it hands out, and the peer a dial must reach.

use peernet_core::{Multiaddr, PeerId};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use crate::connection::Connection;
use crate::transport::error::TransportError;

/// The peer a dial to `addr` must reach: `expected`, or the address's `/p2p/` peer; both given
/// and different is local misuse. Every transport's dial starts here.
pub(crate) fn expected_peer(
    addr: &Multiaddr,
    expected: Option<PeerId>,
) -> Result<Option<PeerId>, TransportError> {
    match (expected, addr.peer_id()) {
        (Some(e), Some(in_addr)) if e != in_addr => Err(TransportError::PeerIdMismatch {
            expected: e,
            in_addr,
        }),
        (e, in_addr) => Ok(e.or(in_addr)),
    }
}

/// Accepts upgraded inbound connections. Dropping it stops accepting; connections already
/// handed out live on.
#[derive(Debug)]
pub struct Listener {
    local_addr: Multiaddr,
    incoming: mpsc::Receiver<Connection>,
    task: JoinHandle<()>,
}

impl Listener {
    pub(super) fn new(
        local_addr: Multiaddr,
        incoming: mpsc::Receiver<Connection>,
        task: JoinHandle<()>,
    ) -> Listener {
        Listener {
            local_addr,
            incoming,
            task,
        }
    }

    /// The address we listen on (the actual port when 0 was asked for).
    pub fn local_addr(&self) -> &Multiaddr {
        &self.local_addr
    }

    /// The next upgraded inbound connection. Failed upgrades are logged, not returned.
    /// Returns `None` once the listener has stopped.
    pub async fn accept(&mut self) -> Option<Connection> {
        self.incoming.recv().await
    }
}

impl Drop for Listener {
    fn drop(&mut self) {
        self.task.abort();
    }
}
