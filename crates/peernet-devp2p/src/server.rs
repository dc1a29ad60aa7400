//! The devp2p server: listens, dials enodes, runs the connection setup with its checkpoints
//! (go-ethereum's `setupConn`, `postHandshakeChecks`, `addPeerChecks`) and keeps the peer set.

use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use peernet_core::error::Chain;
use peernet_core::Fault;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{broadcast, watch, Semaphore};

use crate::conn::{self, BoxStream, ConnWriter, SetupError};
use crate::peer::{start_peer, Peer, PeerExit, PeerSetup, PeerTiming, Protocol};
use crate::proto::caps::{match_protocols, Cap};
use crate::proto::message::{DiscReason, Hello, BASE_PROTOCOL_VERSION};
use crate::proto::node::{Enode, NodeId};
use k256::SecretKey;

/// Why the server could not start.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ServerError {
    /// Binding the listening socket failed (address in use, permissions).
    #[error("cannot listen")]
    Listen(#[from] std::io::Error),
}

impl ServerError {
    /// Whose fault: [`Fault::Io`], the operating system refused the socket.
    pub fn fault(&self) -> Fault {
        match self {
            ServerError::Listen(_) => Fault::Io,
        }
    }
}

/// Server settings. [`Config::new`] gives go-ethereum's defaults.
#[derive(Debug, Clone)]
pub struct Config {
    /// Our node key.
    pub key: SecretKey,
    /// The client id sent in Hello.
    pub client_id: String,
    /// The subprotocols we run.
    pub protocols: Vec<Protocol>,
    /// Most connected peers; more are refused with "too many peers".
    pub max_peers: usize,
    /// Most inbound connections in the handshake at once; more are closed at once.
    pub max_pending_handshakes: usize,
    /// Time allowed for each of the encryption handshake and the Hello exchange.
    pub handshake_timeout: Duration,
    /// Interval of the ping loop.
    pub ping_interval: Duration,
    /// A peer that sends nothing for this long is disconnected ("read timeout").
    pub read_timeout: Duration,
    /// Time allowed to write one message.
    pub write_timeout: Duration,
    /// Capacity of each protocol's inbound message queue.
    pub inbound_queue: usize,
    /// Lowest p2p version accepted in Hello (lower: "incompatible p2p protocol version"). 4 by
    /// default: every version since EIP-8; higher versions are always accepted.
    pub min_p2p_version: u64,
}

impl Config {
    /// Defaults: 50 peers, 50 pending handshakes, 5 s handshake timeout, 15 s pings, 30 s read
    /// timeout, 20 s write timeout, queues of 16 messages.
    pub fn new(key: SecretKey) -> Config {
        Config {
            key,
            client_id: format!("peernet/v{}", env!("CARGO_PKG_VERSION")),
            protocols: Vec::new(),
            max_peers: 50,
            max_pending_handshakes: 50,
            handshake_timeout: Duration::from_secs(5),
            ping_interval: Duration::from_secs(15),
            read_timeout: Duration::from_secs(30),
            write_timeout: Duration::from_secs(20),
            inbound_queue: 16,
            min_p2p_version: 4,
        }
    }

    /// Adds a subprotocol.
    pub fn protocol(mut self, p: Protocol) -> Config {
        self.protocols.push(p);
        self
    }

    fn timing(&self) -> PeerTiming {
        PeerTiming {
            ping_interval: self.ping_interval,
            read_timeout: self.read_timeout,
            write_timeout: self.write_timeout,
            disc_write_timeout: Duration::from_secs(1),
            protocol_grace: Duration::from_secs(1),
            inbound_queue: self.inbound_queue,
        }
    }
}

/// Something that happened to the peer set.
#[derive(Debug, Clone)]
pub enum ServerEvent {
    /// A peer completed setup and its protocols started.
    PeerAdded(Peer),
    /// A peer ended.
    PeerRemoved {
        /// Its node id.
        id: NodeId,
        /// How it ended.
        exit: PeerExit,
    },
}

struct Inner {
    config: Config,
    id: NodeId,
    local_addr: Option<SocketAddr>,
    peers: Mutex<HashMap<NodeId, Peer>>,
    pending: Arc<Semaphore>,
    events: broadcast::Sender<ServerEvent>,
    closing: watch::Sender<bool>,
}

/// A devp2p node: go-ethereum's `p2p.Server`.
#[derive(Clone)]
pub struct Server {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for Server {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Server")
            .field("id", &self.inner.id)
            .field("local_addr", &self.inner.local_addr)
            .finish_non_exhaustive()
    }
}

impl Server {
    /// A server that only dials.
    pub fn new(config: Config) -> Server {
        Server::build(config, None)
    }

    fn build(config: Config, local_addr: Option<SocketAddr>) -> Server {
        let (events, _) = broadcast::channel(256);
        let (closing, _) = watch::channel(false);
        Server {
            inner: Arc::new(Inner {
                id: NodeId::from_secret(&config.key),
                pending: Arc::new(Semaphore::new(config.max_pending_handshakes)),
                config,
                local_addr,
                peers: Mutex::new(HashMap::new()),
                events,
                closing,
            }),
        }
    }

    /// Binds `addr` and accepts connections until [`Server::shutdown`].
    pub async fn listen(config: Config, addr: SocketAddr) -> Result<Server, ServerError> {
        let listener = TcpListener::bind(addr).await?;
        let server = Server::build(config, Some(listener.local_addr()?));
        let s = server.clone();
        let mut closing = server.inner.closing.subscribe();
        tokio::spawn(async move {
            loop {
                let (stream, remote) = tokio::select! {
                    r = listener.accept() => match r {
                        Ok(x) => x,
                        Err(e) => {
                            tracing::warn!(error = %Chain(&e), "accept failed");
                            tokio::time::sleep(Duration::from_millis(50)).await;
                            continue;
                        }
                    },
                    _ = closing.changed() => return,
                };
                let Ok(permit) = s.inner.pending.clone().try_acquire_owned() else {
                    tracing::debug!(%remote, "too many pending handshakes, closing connection");
                    drop(stream);
                    continue;
                };
                let s2 = s.clone();
                tokio::spawn(async move {
                    let _ = stream.set_nodelay(true);
                    let res = s2.setup_conn(Box::new(stream), None, Some(remote)).await;
                    drop(permit);
                    if let Err(e) = res {
                        tracing::debug!(%remote, error = %Chain(&e), fault = %e.fault(), "inbound connection failed");
                    }
                });
            }
        });
        Ok(server)
    }

    /// Our node id.
    pub fn node_id(&self) -> NodeId {
        self.inner.id
    }

    /// The listening address, if listening.
    pub fn local_addr(&self) -> Option<SocketAddr> {
        self.inner.local_addr
    }

    /// Our enode URL, if listening (an unspecified listen IP shows as 127.0.0.1).
    pub fn local_enode(&self) -> Option<Enode> {
        let addr = self.inner.local_addr?;
        let ip = if addr.ip().is_unspecified() {
            IpAddr::V4(Ipv4Addr::LOCALHOST)
        } else {
            addr.ip()
        };
        Some(Enode::new(self.inner.id, ip, addr.port()))
    }

    /// Receives peer added / removed events from now on.
    pub fn subscribe(&self) -> broadcast::Receiver<ServerEvent> {
        self.inner.events.subscribe()
    }

    /// The connected peers.
    pub fn peers(&self) -> Vec<Peer> {
        self.inner
            .peers
            .lock()
            .map(|p| p.values().cloned().collect())
            .unwrap_or_default()
    }

    /// How many peers are connected.
    pub fn peer_count(&self) -> usize {
        self.inner.peers.lock().map(|p| p.len()).unwrap_or(0)
    }

    /// Dials `enode` over TCP and sets up a peer.
    pub async fn dial(&self, enode: &Enode) -> Result<Peer, SetupError> {
        if enode.id == self.inner.id {
            // go-ethereum's dialer refuses to dial itself before connecting.
            return Err(SetupError::Refused(DiscReason::SelfConnect));
        }
        let stream = tokio::time::timeout(
            self.inner.config.handshake_timeout,
            TcpStream::connect(enode.addr),
        )
        .await
        .map_err(|_| SetupError::Timeout)??;
        let _ = stream.set_nodelay(true);
        self.setup_conn(Box::new(stream), Some(enode.id), Some(enode.addr))
            .await
    }

    /// Sets up a peer over any byte stream: as initiator when `dial` names the remote, else as
    /// recipient. This is what `listen` and `dial` do after connecting; tests use it with
    /// in-memory pipes.
    pub async fn add_conn<S>(
        &self,
        stream: S,
        dial: Option<NodeId>,
        remote_addr: Option<SocketAddr>,
    ) -> Result<Peer, SetupError>
    where
        S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Send + Unpin + 'static,
    {
        self.setup_conn(Box::new(stream), dial, remote_addr).await
    }

    /// Checks made once the remote's identity is known (go-ethereum's `postHandshakeChecks`).
    fn post_handshake_checks(&self, id: &NodeId) -> Result<(), DiscReason> {
        let peers = self
            .inner
            .peers
            .lock()
            .map_err(|_| DiscReason::ClientQuit)?;
        if *self.inner.closing.borrow() {
            return Err(DiscReason::ClientQuit);
        }
        if peers.len() >= self.inner.config.max_peers {
            return Err(DiscReason::TooManyPeers);
        }
        if peers.contains_key(id) {
            return Err(DiscReason::AlreadyConnected);
        }
        if *id == self.inner.id {
            return Err(DiscReason::SelfConnect);
        }
        Ok(())
    }

    async fn refuse(&self, writer: &mut ConnWriter, err: SetupError) -> Result<Peer, SetupError> {
        if let Some(reason) = conn::reason_for_setup_error(&err) {
            conn::send_disconnect(writer, reason, Duration::from_secs(1)).await;
        } else {
            writer.shutdown().await;
        }
        Err(err)
    }

    async fn setup_conn(
        &self,
        stream: BoxStream,
        dial: Option<NodeId>,
        remote_addr: Option<SocketAddr>,
    ) -> Result<Peer, SetupError> {
        let cfg = &self.inner.config;
        let (mut reader, mut writer, remote_id) = tokio::time::timeout(
            cfg.handshake_timeout,
            conn::enc_handshake(stream, &cfg.key, dial),
        )
        .await
        .map_err(|_| SetupError::Timeout)??;

        if let Err(reason) = self.post_handshake_checks(&remote_id) {
            return self.refuse(&mut writer, SetupError::Refused(reason)).await;
        }

        let ours = Hello {
            protocol_version: BASE_PROTOCOL_VERSION,
            client_id: cfg.client_id.clone(),
            caps: cfg.protocols.iter().map(Protocol::cap).collect(),
            listen_port: u64::from(self.inner.local_addr.map_or(0, |a| a.port())),
            id: self.inner.id.0.to_vec(),
        };
        let hello = match tokio::time::timeout(
            cfg.handshake_timeout,
            conn::proto_handshake(
                &mut reader,
                &mut writer,
                &ours,
                &remote_id,
                cfg.min_p2p_version,
            ),
        )
        .await
        {
            Ok(Ok(h)) => h,
            Ok(Err(e)) => return self.refuse(&mut writer, e).await,
            Err(_) => return self.refuse(&mut writer, SetupError::Timeout).await,
        };

        // addPeerChecks: shared capabilities, then the limits again, atomically with the insert.
        let ours_caps: Vec<(Cap, u64)> =
            cfg.protocols.iter().map(|p| (p.cap(), p.length)).collect();
        let shared = match_protocols(&ours_caps, &hello.caps);
        if !cfg.protocols.is_empty() && shared.is_empty() {
            return self
                .refuse(&mut writer, SetupError::Refused(DiscReason::UselessPeer))
                .await;
        }
        let mut writer = Some(writer);
        let mut reader = Some(reader);
        let outcome: Result<Peer, DiscReason> = {
            let mut peers = self.inner.peers.lock().map_err(|_| DiscReason::ClientQuit);
            let check = match &peers {
                Err(r) => Err(*r),
                Ok(_) if *self.inner.closing.borrow() => Err(DiscReason::ClientQuit),
                Ok(p) if p.len() >= cfg.max_peers => Err(DiscReason::TooManyPeers),
                Ok(p) if p.contains_key(&remote_id) => Err(DiscReason::AlreadyConnected),
                Ok(_) => Ok(()),
            };
            match (check, &mut peers, writer.take(), reader.take()) {
                (Ok(()), Ok(peers), Some(w), Some(r)) => {
                    let peer = self.start(PeerSetup {
                        reader: r,
                        writer: w,
                        id: remote_id,
                        hello,
                        shared,
                        protocols: cfg.protocols.clone(),
                        remote_addr,
                        inbound: dial.is_none(),
                        timing: cfg.timing(),
                    });
                    peers.insert(remote_id, peer.clone());
                    // Sent under the lock so that it precedes this peer's PeerRemoved.
                    let _ = self.inner.events.send(ServerEvent::PeerAdded(peer.clone()));
                    Ok(peer)
                }
                (check, _, w, _) => {
                    writer = w;
                    Err(check.err().unwrap_or(DiscReason::ClientQuit))
                }
            }
        };
        let peer = match (outcome, writer.as_mut()) {
            (Ok(p), _) => p,
            (Err(reason), Some(w)) => return self.refuse(w, SetupError::Refused(reason)).await,
            (Err(reason), None) => return Err(SetupError::Refused(reason)),
        };
        tracing::info!(peer = %remote_id, client = %peer.client_id(), inbound = dial.is_none(), "peer added");
        Ok(peer)
    }

    /// Starts the peer and arranges for it to leave the peer set when it ends.
    fn start(&self, setup: PeerSetup) -> Peer {
        let server = self.clone();
        start_peer(setup, move |p: &Peer, exit: PeerExit| {
            if let Ok(mut peers) = server.inner.peers.lock() {
                // Remove only this peer, not a newer connection with the same id.
                if peers.get(&p.id()).is_some_and(|q| q.same(p)) {
                    peers.remove(&p.id());
                }
            }
            tracing::info!(peer = %p.id(), %exit, "peer removed");
            let _ = server
                .inner
                .events
                .send(ServerEvent::PeerRemoved { id: p.id(), exit });
        })
    }

    /// Stops accepting, disconnects every peer with "client quitting" and waits for them.
    pub async fn shutdown(&self) {
        let _ = self.inner.closing.send(true);
        let peers = self.peers();
        for p in &peers {
            p.disconnect(DiscReason::ClientQuit);
        }
        for p in &peers {
            p.wait().await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_server_error_has_a_fault() {
        let all = [ServerError::Listen(std::io::Error::from(
            std::io::ErrorKind::AddrInUse,
        ))];
        for e in all {
            // Exhaustive: a new variant does not compile until its fault is decided here.
            let want = match &e {
                ServerError::Listen(_) => Fault::Io,
            };
            assert_eq!(e.fault(), want, "{e:?}");
            assert_eq!(e.to_string(), "cannot listen");
            assert!(std::error::Error::source(&e).is_some());
        }
    }
}
