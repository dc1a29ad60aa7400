//! A stock rust-libp2p 0.57 node for interop tests: ping, identify and an `/echo/1.0.0` service
//! (through libp2p-stream), on TCP with Noise, TLS or plaintext and yamux, on WebSocket with Noise or
//! TLS and yamux, or on QUIC v1, in its default configuration. The swarm runs on its own task; tests
//! talk to it through [`RustNode`].

#![allow(dead_code)]

use std::time::Duration;

use futures::{AsyncReadExt as _, AsyncWriteExt as _, StreamExt as _};
use libp2p::swarm::{NetworkBehaviour, SwarmEvent};
use libp2p::{
    identify, identity, noise, ping, plaintext, tcp, tls, yamux, Multiaddr, StreamProtocol,
};
use tokio::sync::{mpsc, oneshot};

/// The echo protocol both implementations serve.
pub const ECHO: StreamProtocol = StreamProtocol::new("/echo/1.0.0");

/// Which security protocol the rust-libp2p node uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Security {
    Noise,
    Tls,
    Plaintext,
    /// QUIC v1 (TLS inside QUIC, QUIC streams) instead of TCP.
    Quic,
    /// WebSocket (`/tcp/…/ws`) with Noise and yamux.
    WsNoise,
    /// WebSocket (`/tcp/…/ws`) with TLS and yamux.
    WsTls,
    /// Secure WebSocket (`/tcp/…/tls/ws`, web TLS from [`RustNode::spawn_wss`]) with Noise and
    /// yamux.
    Wss,
}

#[derive(NetworkBehaviour)]
struct Behaviour {
    ping: ping::Behaviour,
    identify: identify::Behaviour,
    stream: libp2p_stream::Behaviour,
}

/// What the node saw, reported to the test.
#[derive(Debug, Clone)]
pub enum Seen {
    Connected(libp2p::PeerId),
    /// The last connection to this peer closed.
    Disconnected(libp2p::PeerId),
    Ping(libp2p::PeerId, Result<Duration, String>),
    Identified(libp2p::PeerId, Box<identify::Info>),
    Other(String),
}

enum Command {
    Dial(Multiaddr, oneshot::Sender<Result<(), String>>),
    Disconnect(libp2p::PeerId),
    Push(libp2p::PeerId),
}

/// A running rust-libp2p node.
pub struct RustNode {
    pub peer_id: libp2p::PeerId,
    pub listen_addr: Multiaddr,
    pub control: libp2p_stream::Control,
    pub seen: mpsc::UnboundedReceiver<Seen>,
    commands: mpsc::UnboundedSender<Command>,
}

impl RustNode {
    /// Starts a node listening on 127.0.0.1 (random port), serving echo.
    pub async fn spawn(security: Security) -> RustNode {
        RustNode::spawn_with(security, None).await
    }

    /// Starts a node listening on secure WebSocket (`/tls/ws`) with `tls` (its certificate and
    /// the roots it trusts when dialing), Noise and yamux.
    pub async fn spawn_wss(tls: libp2p::websocket::tls::Config) -> RustNode {
        RustNode::spawn_with(Security::Wss, Some(tls)).await
    }

    async fn spawn_with(
        security: Security,
        wss: Option<libp2p::websocket::tls::Config>,
    ) -> RustNode {
        let key = identity::Keypair::generate_ed25519();
        let builder = libp2p::SwarmBuilder::with_existing_identity(key).with_tokio();
        let tcp_config = tcp::Config::default().nodelay(true);
        let behaviour = |key: &identity::Keypair| Behaviour {
            ping: ping::Behaviour::new(
                ping::Config::new().with_interval(Duration::from_millis(500)),
            ),
            identify: identify::Behaviour::new(identify::Config::new(
                "/ipfs/id/1.0.0".into(),
                key.public(),
            )),
            stream: libp2p_stream::Behaviour::new(),
        };
        let idle =
            |c: libp2p::swarm::Config| c.with_idle_connection_timeout(Duration::from_secs(60));
        let mut swarm = match security {
            Security::Noise => builder
                .with_tcp(tcp_config, noise::Config::new, yamux::Config::default)
                .unwrap()
                .with_behaviour(behaviour)
                .unwrap()
                .with_swarm_config(idle)
                .build(),
            Security::Tls => builder
                .with_tcp(tcp_config, tls::Config::new, yamux::Config::default)
                .unwrap()
                .with_behaviour(behaviour)
                .unwrap()
                .with_swarm_config(idle)
                .build(),
            Security::Plaintext => builder
                .with_tcp(
                    tcp_config,
                    |k: &identity::Keypair| {
                        Ok::<_, std::convert::Infallible>(plaintext::Config::new(k))
                    },
                    yamux::Config::default,
                )
                .unwrap()
                .with_behaviour(behaviour)
                .unwrap()
                .with_swarm_config(idle)
                .build(),
            Security::WsNoise => builder
                .with_tcp(tcp_config, noise::Config::new, yamux::Config::default)
                .unwrap()
                .with_websocket(noise::Config::new, yamux::Config::default)
                .await
                .unwrap()
                .with_behaviour(behaviour)
                .unwrap()
                .with_swarm_config(idle)
                .build(),
            Security::WsTls => builder
                .with_tcp(tcp_config, tls::Config::new, yamux::Config::default)
                .unwrap()
                .with_websocket(tls::Config::new, yamux::Config::default)
                .await
                .unwrap()
                .with_behaviour(behaviour)
                .unwrap()
                .with_swarm_config(idle)
                .build(),
            Security::Wss => {
                let tls = wss.expect("spawn_wss gives the TLS configuration");
                builder
                    .with_other_transport(move |key| {
                        use libp2p::Transport as _;
                        let mut ws =
                            libp2p::websocket::Config::new(tcp::tokio::Transport::new(tcp_config));
                        ws.set_tls_config(tls);
                        Ok::<_, Box<dyn std::error::Error + Send + Sync>>(
                            ws.upgrade(libp2p::core::upgrade::Version::V1Lazy)
                                .authenticate(noise::Config::new(key)?)
                                .multiplex(yamux::Config::default()),
                        )
                    })
                    .unwrap()
                    .with_behaviour(behaviour)
                    .unwrap()
                    .with_swarm_config(idle)
                    .build()
            }
            Security::Quic => builder
                .with_quic()
                .with_behaviour(behaviour)
                .unwrap()
                .with_swarm_config(idle)
                .build(),
        };
        let listen_on = match security {
            Security::Quic => "/ip4/127.0.0.1/udp/0/quic-v1",
            Security::WsNoise | Security::WsTls => "/ip4/127.0.0.1/tcp/0/ws",
            Security::Wss => "/ip4/127.0.0.1/tcp/0/tls/ws",
            _ => "/ip4/127.0.0.1/tcp/0",
        };
        swarm.listen_on(listen_on.parse().unwrap()).unwrap();
        let listen_addr = loop {
            if let SwarmEvent::NewListenAddr { address, .. } = swarm.select_next_some().await {
                break address;
            }
        };
        let peer_id = *swarm.local_peer_id();
        let mut control = swarm.behaviour().stream.new_control();
        let mut incoming = control.accept(ECHO).unwrap();
        tokio::spawn(async move {
            while let Some((_, stream)) = incoming.next().await {
                tokio::spawn(async move {
                    let (mut r, mut w) = stream.split();
                    let _ = futures::io::copy(&mut r, &mut w).await;
                    let _ = w.close().await;
                });
            }
        });
        let (seen_tx, seen) = mpsc::unbounded_channel();
        let (commands, mut command_rx) = mpsc::unbounded_channel();
        tokio::spawn(async move {
            let mut pending_dials: Vec<(Multiaddr, oneshot::Sender<Result<(), String>>)> =
                Vec::new();
            loop {
                tokio::select! {
                    cmd = command_rx.recv() => match cmd {
                        Some(Command::Dial(addr, done)) => match swarm.dial(addr.clone()) {
                            Ok(()) => pending_dials.push((addr, done)),
                            Err(e) => { let _ = done.send(Err(e.to_string())); }
                        },
                        Some(Command::Disconnect(peer)) => {
                            let _ = swarm.disconnect_peer_id(peer);
                        }
                        Some(Command::Push(peer)) => swarm.behaviour_mut().identify.push([peer]),
                        None => break,
                    },
                    event = swarm.select_next_some() => {
                        let seen = match event {
                            SwarmEvent::ConnectionEstablished { peer_id, .. } => {
                                for (_, done) in pending_dials.drain(..) {
                                    let _ = done.send(Ok(()));
                                }
                                Seen::Connected(peer_id)
                            }
                            SwarmEvent::OutgoingConnectionError { error, .. } => {
                                for (_, done) in pending_dials.drain(..) {
                                    let _ = done.send(Err(error.to_string()));
                                }
                                Seen::Other(format!("outgoing error: {error}"))
                            }
                            SwarmEvent::ConnectionClosed { peer_id, num_established: 0, .. } => {
                                Seen::Disconnected(peer_id)
                            }
                            SwarmEvent::Behaviour(BehaviourEvent::Ping(e)) => {
                                Seen::Ping(e.peer, e.result.map_err(|e| e.to_string()))
                            }
                            SwarmEvent::Behaviour(BehaviourEvent::Identify(identify::Event::Received { peer_id, info, .. })) => {
                                Seen::Identified(peer_id, Box::new(info))
                            }
                            other => Seen::Other(format!("{other:?}")),
                        };
                        let _ = seen_tx.send(seen);
                    }
                }
            }
        });
        RustNode {
            peer_id,
            listen_addr,
            control,
            seen,
            commands,
        }
    }

    /// Dials `addr` and waits until a connection is established.
    pub async fn dial(&self, addr: Multiaddr) -> Result<(), String> {
        let (tx, rx) = oneshot::channel();
        self.commands
            .send(Command::Dial(addr, tx))
            .map_err(|e| e.to_string())?;
        rx.await.map_err(|e| e.to_string())?
    }

    /// Closes every connection to `peer` (see [`Seen::Disconnected`]).
    pub fn disconnect(&self, peer: libp2p::PeerId) {
        let _ = self.commands.send(Command::Disconnect(peer));
    }

    /// Pushes our identify info to `peer` (`/ipfs/id/push/1.0.0`).
    pub fn push_identify(&self, peer: libp2p::PeerId) {
        let _ = self.commands.send(Command::Push(peer));
    }

    /// Waits (up to 10 s) for an event the filter picks.
    pub async fn wait_for<T>(&mut self, mut pick: impl FnMut(&Seen) -> Option<T>) -> T {
        tokio::time::timeout(Duration::from_secs(10), async {
            loop {
                let seen = self.seen.recv().await.expect("rust-libp2p node stopped");
                if let Some(v) = pick(&seen) {
                    return v;
                }
            }
        })
        .await
        .expect("rust-libp2p node did not report the expected event within 10 s")
    }
}

/// Writes `data` on a rust-libp2p echo stream and reads it back.
pub async fn echo_via_libp2p(stream: libp2p::Stream, data: &[u8]) -> Vec<u8> {
    let (mut r, mut w) = stream.split();
    let data = data.to_vec();
    let writer = tokio::spawn(async move {
        w.write_all(&data).await.unwrap();
        w.close().await.unwrap();
    });
    let mut back = Vec::new();
    r.read_to_end(&mut back).await.unwrap();
    writer.await.unwrap();
    back
}

/// Our side's server for interop tests: ping and echo on every stream of every connection.
pub fn serve_ping_and_echo(mut listener: peernet::Listener) {
    tokio::spawn(async move {
        while let Some(conn) = listener.accept().await {
            tokio::spawn(async move {
                while let Some(inbound) = conn.accept_stream().await {
                    tokio::spawn(async move {
                        let supported = [
                            peernet::services::ping::PROTOCOL,
                            peernet::services::echo::PROTOCOL,
                        ];
                        let list = || supported.iter().map(|s| s.to_string()).collect();
                        let Ok(mut stream) = inbound
                            .negotiate(&mut |p| supported.contains(&p), &list)
                            .await
                        else {
                            return;
                        };
                        let _ = match stream.protocol() {
                            p if p == peernet::services::ping::PROTOCOL => {
                                peernet::services::ping::serve(&mut stream).await.map(|_| 0)
                            }
                            _ => peernet::services::echo::serve(&mut stream).await,
                        };
                    });
                }
            });
        }
    });
}
