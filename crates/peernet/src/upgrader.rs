//! The upgrader: turns a raw byte stream into a [`Connection`], as go-libp2p's upgrader does.
//!
//! ```text
//! raw stream ─▶ multistream-select: /noise | /tls/1.0.0 | /plaintext/2.0.0
//!            ─▶ security handshake (proves the remote PeerId; refuses another than dialed)
//!            ─▶ muxer: taken from the handshake (Noise extensions, TLS ALPN) when both sides
//!               announced yamux, otherwise multistream-select again: /yamux/1.0.0
//!            ─▶ yamux connection (one driver task)
//! ```
//!
//! The whole upgrade runs under one timeout (15 s by default), so a silent or slow peer cannot
//! hold a slot; listeners also bound how many inbound upgrades run at once.

use std::io;
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use peernet_core::plaintext::{self, PlaintextError};
use peernet_core::{Keypair, Multiaddr, PeerId, PublicKey};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::sync::Semaphore;

use crate::connection::{Connection, ConnectionInfo};
use crate::gater::{ConnectionGater, GateStep};
use crate::ids::Direction;
use crate::multistream::{select_inbound, select_outbound, NegotiateError, Prefixed};
use crate::noise;
use crate::resource::{ConnPermit, ResourceError, ResourceManager, DEFAULT_MAX_INBOUND_UPGRADES};
use crate::tls;
use crate::yamux;

/// The multistream-select id of yamux.
pub const YAMUX_PROTOCOL: &str = "/yamux/1.0.0";

/// Default time allowed for a whole upgrade.
pub const DEFAULT_UPGRADE_TIMEOUT: Duration = Duration::from_secs(15);

/// A security protocol the upgrader can negotiate.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SecurityProtocol {
    /// Noise XX (`/noise`).
    Noise,
    /// TLS 1.3 (`/tls/1.0.0`).
    Tls,
    /// No encryption (`/plaintext/2.0.0`): keys are exchanged, nothing is protected.
    /// For local experiments only.
    Plaintext,
}

impl SecurityProtocol {
    /// The multistream-select protocol id.
    pub fn protocol_id(self) -> &'static str {
        match self {
            SecurityProtocol::Noise => noise::PROTOCOL_ID,
            SecurityProtocol::Tls => peernet_core::tls::PROTOCOL_ID,
            SecurityProtocol::Plaintext => plaintext::PROTOCOL_NAME,
        }
    }

    fn from_protocol_id(id: &str) -> Option<SecurityProtocol> {
        [
            SecurityProtocol::Noise,
            SecurityProtocol::Tls,
            SecurityProtocol::Plaintext,
        ]
        .into_iter()
        .find(|s| s.protocol_id() == id)
    }
}

/// Why an upgrade failed. Each variant says which step failed; the inner errors say whose fault.
#[derive(Debug, thiserror::Error)]
pub enum UpgradeError {
    /// The upgrade did not finish in time (a silent or slow remote, or a congested network).
    #[error("upgrade did not finish within {0:?}")]
    Timeout(Duration),
    /// Negotiating the security protocol or the muxer failed.
    #[error("protocol negotiation failed")]
    Negotiation(#[from] NegotiateError),
    /// The Noise handshake failed.
    #[error("noise handshake failed")]
    Noise(#[from] noise::NoiseUpgradeError),
    /// The TLS handshake failed.
    #[error("tls handshake failed")]
    Tls(#[from] tls::TlsUpgradeError),
    /// The plaintext key exchange failed.
    #[error("plaintext handshake failed")]
    Plaintext(#[from] PlaintextError),
    /// Reading or writing failed during the plaintext exchange.
    #[error("i/o error during the upgrade")]
    Io(#[from] io::Error),
    /// The stream ended during the plaintext exchange (the remote closed it).
    #[error("remote closed the connection during the upgrade")]
    Closed,
    /// The upgrader was configured with no security protocol (local misuse).
    #[error("no security protocol configured")]
    NoSecurity,
    /// The connection gater refused the connection at `step` (local policy).
    #[error("connection gater refused at {step}: {reason}")]
    Gated {
        /// Where the gater refused: `accept` or `secured`.
        step: GateStep,
        /// The gater's reason.
        reason: String,
    },
    /// Our own resource limits refused the connection (local policy: per IP, handshakes in
    /// progress, connections, per peer or memory; the error names the limit).
    #[error(transparent)]
    ResourceLimit(#[from] ResourceError),
}

impl UpgradeError {
    /// Who was at fault: the layer that failed says it; a timeout is the remote's (silent or
    /// slow), the gater and a missing security protocol are ours, a resource refusal our limit.
    pub fn fault(&self) -> peernet_core::Fault {
        use peernet_core::Fault;
        match self {
            UpgradeError::Timeout(_) | UpgradeError::Closed => Fault::Remote,
            UpgradeError::Negotiation(e) => e.fault(),
            UpgradeError::Noise(e) => e.fault(),
            UpgradeError::Tls(e) => e.fault(),
            UpgradeError::Plaintext(e) => e.fault(),
            UpgradeError::Io(_) => Fault::Io,
            UpgradeError::NoSecurity | UpgradeError::Gated { .. } => Fault::Local,
            UpgradeError::ResourceLimit(_) => Fault::Limit,
        }
    }
}

impl UpgradeError {
    /// `(expected, actual)` when the security handshake proved another peer than the one
    /// dialed.
    pub fn peer_id_mismatch(&self) -> Option<(&PeerId, &PeerId)> {
        match self {
            UpgradeError::Noise(e) => e.peer_id_mismatch(),
            UpgradeError::Tls(e) => e.peer_id_mismatch(),
            _ => None,
        }
    }
}

/// Turns raw streams into [`Connection`]s. Cheap to clone.
#[derive(Clone)]
pub struct Upgrader {
    keypair: Keypair,
    local_peer: PeerId,
    security: Vec<SecurityProtocol>,
    yamux: yamux::Config,
    timeout: Duration,
    inbound_slots: Arc<Semaphore>,
    /// Policy checks at `accept` and `secured`, installed by the swarm; shared by clones so the
    /// transports holding a clone see it.
    gater: Arc<RwLock<Option<ConnectionGater>>>,
    /// Resource limits checked before the handshake and once the peer is known, installed by
    /// the swarm; shared by clones like the gater.
    resources: Arc<RwLock<Option<ResourceManager>>>,
}

impl std::fmt::Debug for Upgrader {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Upgrader")
            .field("local_peer", &self.local_peer)
            .field("security", &self.security)
            .field("timeout", &self.timeout)
            .finish()
    }
}

impl Upgrader {
    /// An upgrader for `keypair` with the defaults: Noise then TLS, yamux with its default
    /// configuration, a 15 s timeout and at most 64 inbound upgrades at once.
    pub fn new(keypair: Keypair) -> Upgrader {
        let local_peer = keypair.to_peer_id();
        Upgrader {
            keypair,
            local_peer,
            security: vec![SecurityProtocol::Noise, SecurityProtocol::Tls],
            yamux: yamux::Config::default(),
            timeout: DEFAULT_UPGRADE_TIMEOUT,
            inbound_slots: Arc::new(Semaphore::new(DEFAULT_MAX_INBOUND_UPGRADES)),
            gater: Arc::default(),
            resources: Arc::default(),
        }
    }

    /// Installs the gater consulted at `accept` and `secured` (the swarm does this for the
    /// transports it is given).
    pub(crate) fn install_gater(&self, gater: ConnectionGater) {
        if let Ok(mut slot) = self.gater.write() {
            *slot = Some(gater);
        }
    }

    /// Installs the resource manager every upgrade takes a connection permit from (the swarm
    /// does this for the transports it is given).
    pub(crate) fn install_resources(&self, manager: ResourceManager) {
        if let Ok(mut slot) = self.resources.write() {
            *slot = Some(manager);
        }
    }

    fn gater(&self) -> Option<ConnectionGater> {
        self.gater.read().ok().and_then(|g| g.clone())
    }

    /// Sets the security protocols, in order of preference.
    pub fn with_security(mut self, security: Vec<SecurityProtocol>) -> Upgrader {
        self.security = security;
        self
    }

    /// Sets the time allowed for a whole upgrade.
    pub fn with_timeout(mut self, timeout: Duration) -> Upgrader {
        self.timeout = timeout;
        self
    }

    /// Sets the yamux configuration.
    pub fn with_yamux_config(mut self, config: yamux::Config) -> Upgrader {
        self.yamux = config;
        self
    }

    /// Sets how many inbound upgrades run at once (further connections wait in the kernel's
    /// accept queue). This is per listener and makes excess connections wait; the swarm's
    /// [`ResourceLimits::inbound_handshakes`](crate::ResourceLimits::inbound_handshakes), with
    /// the same default, counts across listeners and refuses.
    pub fn with_max_inbound_upgrades(mut self, n: usize) -> Upgrader {
        self.inbound_slots = Arc::new(Semaphore::new(n.max(1)));
        self
    }

    /// Our peer id.
    pub fn local_peer(&self) -> &PeerId {
        &self.local_peer
    }

    /// Our key pair.
    pub fn keypair(&self) -> &Keypair {
        &self.keypair
    }

    /// How long an upgrade may take (transports run their own handshakes under it too).
    pub(crate) fn timeout(&self) -> Duration {
        self.timeout
    }

    pub(crate) fn inbound_slots(&self) -> Arc<Semaphore> {
        self.inbound_slots.clone()
    }

    /// Upgrades a stream we dialed. `expected` is the peer we meant to reach: another
    /// authenticated identity fails the upgrade.
    pub async fn upgrade_outbound<T>(
        &self,
        io: T,
        remote_addr: Multiaddr,
        local_addr: Multiaddr,
        expected: Option<PeerId>,
    ) -> Result<Connection, UpgradeError>
    where
        T: AsyncRead + AsyncWrite + Unpin + Send + 'static,
    {
        let addrs = (remote_addr, local_addr);
        let upgrade = self.upgrade(io, Direction::Outbound, addrs, expected);
        tokio::time::timeout(self.timeout, upgrade)
            .await
            .map_err(|_| UpgradeError::Timeout(self.timeout))?
    }

    /// Upgrades a stream a remote dialed to us.
    pub async fn upgrade_inbound<T>(
        &self,
        io: T,
        remote_addr: Multiaddr,
        local_addr: Multiaddr,
    ) -> Result<Connection, UpgradeError>
    where
        T: AsyncRead + AsyncWrite + Unpin + Send + 'static,
    {
        let upgrade = self.upgrade(io, Direction::Inbound, (remote_addr, local_addr), None);
        tokio::time::timeout(self.timeout, upgrade)
            .await
            .map_err(|_| UpgradeError::Timeout(self.timeout))?
    }

    /// The checks an inbound connection passes before any byte is read from it: the gater's
    /// `accept` step, then a connection permit from the resource manager (per IP, handshakes
    /// in progress, connections, memory). Transports that run a handshake of their own first
    /// (WebSocket) call this before it, then [`upgrade_inbound_admitted`](Self::upgrade_inbound_admitted).
    pub(crate) fn admit_inbound(
        &self,
        remote_addr: &Multiaddr,
        local_addr: &Multiaddr,
    ) -> Result<Admission, UpgradeError> {
        if let Some(gater) = self.gater() {
            gater
                .check_accept(local_addr, remote_addr)
                .map_err(|(step, reason)| UpgradeError::Gated { step, reason })?;
        }
        let resources = self.resources.read().ok().and_then(|r| r.clone());
        let permit = match resources {
            Some(m) => Some(m.open_connection(Direction::Inbound, remote_addr.ip_addr())?),
            None => None,
        };
        Ok(Admission(permit))
    }

    /// [`upgrade_inbound`](Self::upgrade_inbound) for a connection already through
    /// [`admit_inbound`](Self::admit_inbound).
    pub(crate) async fn upgrade_inbound_admitted<T>(
        &self,
        io: T,
        remote_addr: Multiaddr,
        local_addr: Multiaddr,
        admission: Admission,
    ) -> Result<Connection, UpgradeError>
    where
        T: AsyncRead + AsyncWrite + Unpin + Send + 'static,
    {
        let addrs = (remote_addr, local_addr);
        let upgrade = self.upgrade_with(io, Direction::Inbound, addrs, None, Some(admission));
        tokio::time::timeout(self.timeout, upgrade)
            .await
            .map_err(|_| UpgradeError::Timeout(self.timeout))?
    }

    async fn upgrade<T>(
        &self,
        io: T,
        direction: Direction,
        addrs: (Multiaddr, Multiaddr),
        expected: Option<PeerId>,
    ) -> Result<Connection, UpgradeError>
    where
        T: AsyncRead + AsyncWrite + Unpin + Send + 'static,
    {
        self.upgrade_with(io, direction, addrs, expected, None)
            .await
    }

    async fn upgrade_with<T>(
        &self,
        mut io: T,
        direction: Direction,
        (remote_addr, local_addr): (Multiaddr, Multiaddr),
        expected: Option<PeerId>,
        admission: Option<Admission>,
    ) -> Result<Connection, UpgradeError>
    where
        T: AsyncRead + AsyncWrite + Unpin + Send + 'static,
    {
        if self.security.is_empty() {
            return Err(UpgradeError::NoSecurity);
        }
        let started = Instant::now();
        // Before any handshake byte: the gater's accept step, then per IP, handshakes in
        // progress, connections, memory (unless the transport admitted the connection before
        // a handshake of its own).
        let permit = match (admission, direction) {
            (Some(Admission(permit)), _) => permit,
            (None, Direction::Inbound) => self.admit_inbound(&remote_addr, &local_addr)?.0,
            (None, Direction::Outbound) => {
                let resources = self.resources.read().ok().and_then(|r| r.clone());
                match resources {
                    Some(m) => Some(m.open_connection(direction, remote_addr.ip_addr())?),
                    None => None,
                }
            }
        };
        let ids: Vec<&str> = self.security.iter().map(|s| s.protocol_id()).collect();
        let (chosen, leftover) = match direction {
            Direction::Outbound => select_outbound(&mut io, &ids).await?,
            Direction::Inbound => {
                let mut supported = |p: &str| ids.contains(&p);
                let list = || ids.iter().map(|s| s.to_string()).collect();
                select_inbound(&mut io, &mut supported, &list).await?
            }
        };
        let io = Prefixed::new(leftover, io);
        let security =
            SecurityProtocol::from_protocol_id(&chosen).unwrap_or(SecurityProtocol::Noise);
        let muxers = [YAMUX_PROTOCOL];
        let outbound = direction == Direction::Outbound;
        let meta = Meta {
            direction,
            remote_addr,
            local_addr,
            security: security.protocol_id(),
            started,
            permit,
        };
        match security {
            SecurityProtocol::Noise => {
                let (stream, remote) = if outbound {
                    noise::upgrade_outbound(io, &self.keypair, expected, &muxers).await?
                } else {
                    noise::upgrade_inbound(io, &self.keypair, &muxers).await?
                };
                let early = remote.negotiated_muxer;
                self.finish(stream, remote.peer_id, remote.public_key, early, meta)
                    .await
            }
            SecurityProtocol::Tls => {
                let (stream, remote) = if outbound {
                    tls::upgrade_outbound(io, &self.keypair, expected, &muxers).await?
                } else {
                    tls::upgrade_inbound(io, &self.keypair, &muxers).await?
                };
                self.finish(
                    stream,
                    remote.peer_id,
                    remote.public_key,
                    remote.muxer,
                    meta,
                )
                .await
            }
            SecurityProtocol::Plaintext => {
                let (stream, peer_id, public_key) =
                    plaintext_exchange(io, &self.keypair, expected).await?;
                self.finish(stream, peer_id, public_key, None, meta).await
            }
        }
    }

    /// Negotiates the muxer (unless the handshake already did) and starts yamux.
    async fn finish<S>(
        &self,
        mut secured: S,
        remote_peer: PeerId,
        remote_public_key: PublicKey,
        early_muxer: Option<String>,
        mut meta: Meta,
    ) -> Result<Connection, UpgradeError>
    where
        S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
    {
        let gater = self.gater();
        if let Some(gater) = &gater {
            gater
                .check_secured(meta.direction, &remote_peer, &meta.remote_addr)
                .map_err(|(step, reason)| UpgradeError::Gated { step, reason })?;
        }
        if let Some(permit) = &mut meta.permit {
            permit.set_peer(&remote_peer)?;
        }
        let leftover = if early_muxer.as_deref() == Some(YAMUX_PROTOCOL) {
            Vec::new()
        } else if meta.direction == Direction::Outbound {
            select_outbound(&mut secured, &[YAMUX_PROTOCOL]).await?.1
        } else {
            let mut supported = |p: &str| p == YAMUX_PROTOCOL;
            let list = || vec![YAMUX_PROTOCOL.to_owned()];
            select_inbound(&mut secured, &mut supported, &list).await?.1
        };
        let role = match meta.direction {
            Direction::Outbound => yamux::Role::Client,
            Direction::Inbound => yamux::Role::Server,
        };
        let muxer = if leftover.is_empty() {
            yamux::YamuxSession::new(secured, role, self.yamux.clone())
        } else {
            yamux::YamuxSession::new(Prefixed::new(leftover, secured), role, self.yamux.clone())
        };
        let info = ConnectionInfo {
            id: crate::ids::next_connection_id(),
            remote_peer,
            remote_public_key,
            remote_addr: meta.remote_addr,
            local_addr: meta.local_addr,
            direction: meta.direction,
            security: meta.security,
            muxer: YAMUX_PROTOCOL,
            opened_at: Instant::now(),
            streams: Default::default(),
            gated: gater.is_some(),
            handshake: meta.started.elapsed(),
            metrics: Default::default(),
            resources: std::sync::Mutex::new(meta.permit.take().map(|mut p| {
                p.handshake_done();
                p
            })),
        };
        tracing::debug!(peer = %info.remote_peer, addr = %info.remote_addr, security = info.security, direction = ?info.direction, "connection upgraded");
        Ok(Connection::new(info, muxer))
    }
}

/// What the upgrade knows before the security handshake ends.
struct Meta {
    direction: Direction,
    remote_addr: Multiaddr,
    local_addr: Multiaddr,
    security: &'static str,
    /// When the upgrade began.
    started: Instant,
    /// The connection's resource permit (when the swarm installed a manager).
    permit: Option<ConnPermit>,
}

/// An inbound connection through the gater's `accept` step and holding its resource permit,
/// if a manager is installed ([`Upgrader::admit_inbound`]).
pub(crate) struct Admission(Option<ConnPermit>);

/// Exchanges public keys in the clear (`/plaintext/2.0.0`).
async fn plaintext_exchange<T>(
    mut io: T,
    keypair: &Keypair,
    expected: Option<PeerId>,
) -> Result<(Prefixed<T>, PeerId, PublicKey), UpgradeError>
where
    T: AsyncRead + AsyncWrite + Unpin,
{
    let mut handshake = plaintext::Handshake::new(keypair, expected);
    let mut out = Vec::new();
    handshake.poll_transmit(&mut out);
    io.write_all(&out).await?;
    io.flush().await?;
    let mut input = Vec::new();
    loop {
        let mut chunk = [0u8; 512];
        let n = io.read(&mut chunk).await?;
        if n == 0 {
            return Err(UpgradeError::Closed);
        }
        input.extend_from_slice(chunk.get(..n).unwrap_or_default());
        if let Some(remote) = handshake.handle_input(&input)? {
            let rest = input.split_off(remote.consumed.min(input.len()));
            return Ok((Prefixed::new(rest, io), remote.peer_id, remote.public_key));
        }
    }
}
