//! Building a host (go's `libp2p.New` with its options and `FallbackDefaults`): every option
//! not given falls back to a documented default.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::AtomicBool;
use std::sync::{Arc, Mutex};

use peernet_core::{Keypair, Multiaddr};
use tokio::sync::broadcast;

use crate::host::basic::{Host, Inner, DEFAULT_USER_AGENT};
use crate::host::connmgr::{ConnManager, ConnManagerConfig};
use crate::host::error::HostError;
use crate::host::peerstore::{Peerstore, PeerstoreLimits};
use crate::host::{identify, ping};
use crate::metrics::Metrics;
use crate::resource::ResourceLimits;
use crate::swarm::{Swarm, SwarmConfig, EVENT_BUFFER};
use crate::transport::{
    MemoryTransport, QuicConfig, QuicTransport, TcpConfig, TcpTransport, WsTlsConfig, WsTransport,
};
use crate::upgrader::{SecurityProtocol, Upgrader};

/// Options of a [`Host`], each with a fallback default (go's `libp2p.New` options and
/// `FallbackDefaults`).
#[derive(Debug, Default)]
pub struct HostBuilder {
    identity: Option<Keypair>,
    listen_addrs: Option<Vec<Multiaddr>>,
    security: Option<Vec<SecurityProtocol>>,
    user_agent: Option<String>,
    peerstore: Option<Peerstore>,
    swarm: SwarmConfig,
    tcp: TcpConfig,
    quic: QuicConfig,
    conn_manager: ConnManagerConfig,
    metrics: Option<Metrics>,
    ws_tls: WsTlsConfig,
}

impl HostBuilder {
    /// The host's key pair. Default: a random Ed25519 key.
    pub fn identity(mut self, keypair: Keypair) -> Self {
        self.identity = Some(keypair);
        self
    }

    /// Where to listen. Default: `/ip4/0.0.0.0/tcp/0` and `/ip4/0.0.0.0/udp/0/quic-v1` (every
    /// interface, free ports; QUIC only when TLS is among the security protocols). TCP
    /// (`/ip4|ip6/…/tcp/…`), QUIC v1 (`/ip4|ip6/…/udp/…/quic-v1`), WebSocket
    /// (`/ip4|ip6/…/tcp/…/ws`) and in-process memory (`/memory/N`) addresses are supported.
    pub fn listen_addrs(mut self, addrs: impl IntoIterator<Item = Multiaddr>) -> Self {
        self.listen_addrs = Some(addrs.into_iter().collect());
        self
    }

    /// Listen nowhere: a host that only dials.
    pub fn no_listen(self) -> Self {
        self.listen_addrs([])
    }

    /// The security protocols, in order of preference. Default: Noise, then TLS.
    pub fn security(mut self, security: Vec<SecurityProtocol>) -> Self {
        self.security = Some(security);
        self
    }

    /// No encryption: `/plaintext/2.0.0` only (go's `NoSecurity`). For local experiments.
    pub fn insecure(self) -> Self {
        self.security(vec![SecurityProtocol::Plaintext])
    }

    /// The agent version identify announces. Default: [`DEFAULT_USER_AGENT`].
    pub fn user_agent(mut self, agent: impl Into<String>) -> Self {
        self.user_agent = Some(agent.into());
        self
    }

    /// The peerstore. Default: an in-memory one with [`PeerstoreLimits::default`].
    pub fn peerstore(mut self, peerstore: Peerstore) -> Self {
        self.peerstore = Some(peerstore);
        self
    }

    /// Dial limits and the connection gater. Default: [`SwarmConfig::default`] (go's values).
    pub fn swarm_config(mut self, config: SwarmConfig) -> Self {
        self.swarm = config;
        self
    }

    /// Caps on connections (inbound, outbound, per peer, per IP), streams (per connection,
    /// peer, protocol, in total), inbound handshakes and buffer memory; a newcomer over a limit
    /// is refused with a [`ResourceError`](crate::ResourceError)(ResourceError) naming it. Default:
    /// [`ResourceLimits::default`](ResourceLimits) (go-libp2p's resource manager
    /// defaults scaled for 1 GiB); [`ResourceLimits::unlimited`](ResourceLimits::unlimited)
    /// switches them off. Replaces the limits of an earlier [`swarm_config`](Self::swarm_config).
    pub fn resource_limits(mut self, limits: ResourceLimits) -> Self {
        self.swarm.limits = limits;
        self
    }

    /// Connection manager watermarks and grace period. Default:
    /// [`ConnManagerConfig::default`] (160/192, one minute; go-libp2p's values).
    pub fn conn_manager(mut self, config: ConnManagerConfig) -> Self {
        self.conn_manager = config;
        self
    }

    /// Count connections, streams, bytes, dials, handshake times, pings and identify
    /// exchanges into `metrics` (see [`metrics`](crate::metrics); [`Host::metrics`] gives it
    /// back). Default: no metrics, at no cost. Takes precedence over
    /// [`SwarmConfig::metrics`].
    pub fn metrics(mut self, metrics: Metrics) -> Self {
        self.metrics = Some(metrics);
        self
    }

    /// TCP options. Default: [`TcpConfig::default`].
    pub fn tcp_config(mut self, config: TcpConfig) -> Self {
        self.tcp = config;
        self
    }

    /// QUIC options. Default: [`QuicConfig::default`].
    pub fn quic_config(mut self, config: QuicConfig) -> Self {
        self.quic = config;
        self
    }

    /// TLS for secure WebSocket (`/tls/ws`, `/wss`): the certificate to listen with, the roots
    /// to trust when dialing. Default: none (secure WebSocket addresses are refused).
    pub fn ws_tls(mut self, tls: WsTlsConfig) -> Self {
        self.ws_tls = tls;
        self
    }

    /// Builds the host: the swarm with TCP and memory transports (yamux on each), listening
    /// on the listen addresses, serving identify and identify push.
    ///
    /// # Errors
    ///
    /// [`HostError::Swarm`] if no listen address works (the others are logged).
    ///
    /// # Panics
    ///
    /// Outside a tokio runtime.
    pub async fn build(self) -> Result<Host, HostError> {
        let keypair = self.identity.unwrap_or_else(Keypair::generate_ed25519);
        let mut upgrader = Upgrader::new(keypair.clone());
        // QUIC always runs TLS 1.3: it is on unless the security protocols exclude TLS
        // (`insecure()`), as in go-libp2p.
        let quic = self
            .security
            .as_ref()
            .is_none_or(|s| s.contains(&SecurityProtocol::Tls));
        if let Some(security) = self.security {
            upgrader = upgrader.with_security(security);
        }
        let dns = self.swarm.dns;
        let mut swarm_config = self.swarm;
        if self.metrics.is_some() {
            swarm_config.metrics = self.metrics;
        }
        let swarm = Swarm::new(upgrader.clone(), swarm_config);
        swarm.add_transport(TcpTransport::new(upgrader.clone(), self.tcp.clone()))?;
        // WebSocket dials by default; it listens only where asked (`/tcp/…/ws`, `/tls/ws`).
        let ws = WsTransport::new(upgrader.clone(), self.tcp)
            .with_tls(self.ws_tls)
            .with_dns(dns);
        swarm.add_transport(ws)?;
        swarm.add_transport(MemoryTransport::new(upgrader))?;
        if quic {
            swarm.add_transport(QuicTransport::new(&keypair, self.quic)?)?;
        }
        let host = Host {
            inner: Arc::new(Inner {
                swarm,
                keypair,
                peerstore: self
                    .peerstore
                    .unwrap_or_else(|| Peerstore::new(PeerstoreLimits::default())),
                user_agent: self
                    .user_agent
                    .unwrap_or_else(|| DEFAULT_USER_AGENT.to_owned()),
                protocols: Mutex::new(Vec::new()),
                observed: Mutex::new(Vec::new()),
                events: broadcast::channel(EVENT_BUFFER).0,
                conn_manager: ConnManager::new(self.conn_manager),
                trimming: AtomicBool::new(false),
                pings: Mutex::new(HashMap::new()),
                record: Mutex::new(None),
            }),
        };
        identify::start(&host);
        ping::serve_ping(&host);
        let listen = self.listen_addrs.unwrap_or_else(|| {
            let any = SocketAddr::from(([0, 0, 0, 0], 0));
            let mut addrs = vec![Multiaddr::tcp(any)];
            if quic {
                addrs.push(Multiaddr::quic_v1(any));
            }
            addrs
        });
        if !listen.is_empty() {
            let report = host.inner.swarm.listen(&listen).await?;
            for failure in &report.failed {
                tracing::warn!(addr = %failure.addr, error = %peernet_core::error::Chain(&failure.error), "cannot listen");
            }
        }
        Ok(host)
    }
}

impl Host {
    /// Options for a new host, all at their defaults.
    pub fn builder() -> HostBuilder {
        HostBuilder::default()
    }

    /// A host with `options` (go's `libp2p.New`): the same as `options.build()`.
    ///
    /// # Errors
    ///
    /// As [`HostBuilder::build`].
    pub async fn new(options: HostBuilder) -> Result<Host, HostError> {
        options.build().await
    }
}
