//! The connection gater: local policy consulted at each step of a connection's life (go's
//! `ConnectionGater`).

use std::fmt;
use std::sync::Arc;

use peernet_core::{Multiaddr, PeerId};

use crate::connection::Connection;
use crate::ids::Direction;

/// A step at which the [`ConnectionGater`] is consulted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum GateStep {
    /// Before dialing a peer at all (go's `InterceptPeerDial`).
    PeerDial,
    /// Before dialing one address of a peer (go's `InterceptAddrDial`).
    AddrDial,
    /// An inbound connection arrived (go's `InterceptAccept`).
    Accept,
    /// The security handshake authenticated the remote (go's `InterceptSecured`).
    Secured,
    /// The connection is secured and multiplexed (go's `InterceptUpgraded`).
    Upgraded,
}

impl fmt::Display for GateStep {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            GateStep::PeerDial => "peer dial",
            GateStep::AddrDial => "address dial",
            GateStep::Accept => "accept",
            GateStep::Secured => "secured",
            GateStep::Upgraded => "upgraded",
        })
    }
}

type PeerCheck = Arc<dyn Fn(&PeerId) -> Result<(), String> + Send + Sync>;
type AddrCheck = Arc<dyn Fn(&PeerId, &Multiaddr) -> Result<(), String> + Send + Sync>;
type AcceptCheck = Arc<dyn Fn(&Multiaddr, &Multiaddr) -> Result<(), String> + Send + Sync>;
type SecuredCheck = Arc<dyn Fn(Direction, &PeerId, &Multiaddr) -> Result<(), String> + Send + Sync>;
type UpgradedCheck = Arc<dyn Fn(&Connection) -> Result<(), String> + Send + Sync>;

/// Which connections the swarm allows. Each check is an optional closure returning `Err(reason)`
/// to refuse; a check not set allows everything. The reason reaches the caller in the error.
///
/// Our transports upgrade before handing a connection over, so `accept` and `secured` are
/// consulted once the upgrade has finished (go consults `accept` before the handshake); a
/// refused connection is closed at once.
///
/// The checks run while the swarm is busy with the connection or dial (the address check under
/// the swarm's lock): they must be quick and must not call back into the [`Swarm`](crate::Swarm).
#[derive(Clone, Default)]
pub struct ConnectionGater {
    peer_dial: Option<PeerCheck>,
    addr_dial: Option<AddrCheck>,
    accept: Option<AcceptCheck>,
    secured: Option<SecuredCheck>,
    upgraded: Option<UpgradedCheck>,
}

impl fmt::Debug for ConnectionGater {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ConnectionGater")
            .field("peer_dial", &self.peer_dial.is_some())
            .field("addr_dial", &self.addr_dial.is_some())
            .field("accept", &self.accept.is_some())
            .field("secured", &self.secured.is_some())
            .field("upgraded", &self.upgraded.is_some())
            .finish()
    }
}

impl ConnectionGater {
    /// A gater that allows everything.
    pub fn allow_all() -> Self {
        Self::default()
    }

    /// Checks each peer before it is dialed.
    pub fn on_peer_dial(
        mut self,
        f: impl Fn(&PeerId) -> Result<(), String> + Send + Sync + 'static,
    ) -> Self {
        self.peer_dial = Some(Arc::new(f));
        self
    }

    /// Checks each address of a peer before it is dialed.
    pub fn on_addr_dial(
        mut self,
        f: impl Fn(&PeerId, &Multiaddr) -> Result<(), String> + Send + Sync + 'static,
    ) -> Self {
        self.addr_dial = Some(Arc::new(f));
        self
    }

    /// Checks each inbound connection by its local and remote addresses.
    pub fn on_accept(
        mut self,
        f: impl Fn(&Multiaddr, &Multiaddr) -> Result<(), String> + Send + Sync + 'static,
    ) -> Self {
        self.accept = Some(Arc::new(f));
        self
    }

    /// Checks each authenticated connection (both directions) by direction, peer and remote
    /// address.
    pub fn on_secured(
        mut self,
        f: impl Fn(Direction, &PeerId, &Multiaddr) -> Result<(), String> + Send + Sync + 'static,
    ) -> Self {
        self.secured = Some(Arc::new(f));
        self
    }

    /// Checks each upgraded connection before it joins the swarm.
    pub fn on_upgraded(
        mut self,
        f: impl Fn(&Connection) -> Result<(), String> + Send + Sync + 'static,
    ) -> Self {
        self.upgraded = Some(Arc::new(f));
        self
    }

    pub(crate) fn check_peer_dial(&self, peer: &PeerId) -> Result<(), (GateStep, String)> {
        match &self.peer_dial {
            Some(f) => f(peer).map_err(|r| (GateStep::PeerDial, r)),
            None => Ok(()),
        }
    }

    pub(crate) fn check_addr_dial(&self, peer: &PeerId, addr: &Multiaddr) -> Result<(), String> {
        match &self.addr_dial {
            Some(f) => f(peer, addr),
            None => Ok(()),
        }
    }

    /// `accept`: an inbound connection from `remote` to our `local` address, before any
    /// handshake byte.
    pub(crate) fn check_accept(
        &self,
        local: &Multiaddr,
        remote: &Multiaddr,
    ) -> Result<(), (GateStep, String)> {
        match &self.accept {
            Some(f) => f(local, remote).map_err(|r| (GateStep::Accept, r)),
            None => Ok(()),
        }
    }

    /// `secured`: the remote is authenticated; the muxer is not negotiated yet.
    pub(crate) fn check_secured(
        &self,
        direction: Direction,
        peer: &PeerId,
        remote: &Multiaddr,
    ) -> Result<(), (GateStep, String)> {
        match &self.secured {
            Some(f) => f(direction, peer, remote).map_err(|r| (GateStep::Secured, r)),
            None => Ok(()),
        }
    }

    /// The checks a new connection passes before joining the swarm: `upgraded`, and, for a
    /// connection whose upgrade was not gated step by step (QUIC does its handshake inside
    /// quinn), `accept` (inbound only) and `secured` as well.
    pub(crate) fn check_connection(&self, conn: &Connection) -> Result<(), (GateStep, String)> {
        if conn.gated_during_upgrade() {
            return match &self.upgraded {
                Some(f) => f(conn).map_err(|r| (GateStep::Upgraded, r)),
                None => Ok(()),
            };
        }
        if conn.direction() == Direction::Inbound {
            if let Some(f) = &self.accept {
                f(conn.local_addr(), conn.remote_addr()).map_err(|r| (GateStep::Accept, r))?;
            }
        }
        if let Some(f) = &self.secured {
            f(conn.direction(), conn.remote_peer(), conn.remote_addr())
                .map_err(|r| (GateStep::Secured, r))?;
        }
        if let Some(f) = &self.upgraded {
            f(conn).map_err(|r| (GateStep::Upgraded, r))?;
        }
        Ok(())
    }
}
