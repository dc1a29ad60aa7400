//! What the integration tests share: swarms with the usual transports, an echo round trip, and
//! test data. Each test file takes what it needs (`mod support;`), so not every item is used by
//! every file.
#![allow(dead_code)]

use peernet::services::echo;
use peernet::{
    Connection, Keypair, MemoryTransport, PeerId, QuicConfig, QuicTransport, Swarm, SwarmConfig,
    TcpConfig, TcpTransport, Upgrader,
};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// A swarm for `keypair` with the TCP transport.
fn tcp_swarm(keypair: &Keypair, config: SwarmConfig) -> Swarm {
    let swarm = Swarm::new(Upgrader::new(keypair.clone()), config);
    swarm
        .add_transport(TcpTransport::new(
            swarm.upgrader().clone(),
            TcpConfig::default(),
        ))
        .unwrap();
    swarm
}

/// A swarm with the in-memory and TCP transports, for a fresh identity.
pub fn swarm_with(config: SwarmConfig) -> Swarm {
    let swarm = tcp_swarm(&Keypair::generate_ed25519(), config);
    swarm
        .add_transport(MemoryTransport::new(swarm.upgrader().clone()))
        .unwrap();
    swarm
}

/// [`swarm_with`] the default configuration.
pub fn swarm() -> Swarm {
    swarm_with(SwarmConfig::default())
}

/// A swarm with the TCP and QUIC transports, for a fresh identity.
pub fn tcp_quic_swarm() -> Swarm {
    let keypair = Keypair::generate_ed25519();
    let swarm = tcp_swarm(&keypair, SwarmConfig::default());
    swarm
        .add_transport(QuicTransport::new(&keypair, QuicConfig::default()).unwrap())
        .unwrap();
    swarm
}

/// Serves `/echo/1.0.0` on `swarm`.
pub fn serve_echo(swarm: &Swarm) {
    swarm.set_stream_handler(echo::PROTOCOL, |mut s| async move {
        let _ = echo::serve(&mut s).await;
    });
}

/// Sends `msg` to `server`'s echo service through `client` (dialing if needed) and checks that
/// it comes back whole.
pub async fn echo_roundtrip(client: &Swarm, server: &PeerId, msg: &[u8]) {
    let mut s = client.new_stream(server, &[echo::PROTOCOL]).await.unwrap();
    s.write_all(msg).await.unwrap();
    s.shutdown().await.unwrap();
    let mut back = Vec::new();
    s.read_to_end(&mut back).await.unwrap();
    assert_eq!(back, msg);
}

/// Opens a stream on `conn` negotiated to the first of `protocols` the remote supports, which
/// must be echo, writes `data` while reading, and returns what came back.
pub async fn echo_on(conn: &Connection, protocols: &[&str], data: &[u8]) -> Vec<u8> {
    let stream = conn.open_stream(protocols).await.unwrap();
    assert_eq!(stream.protocol(), echo::PROTOCOL);
    let (mut r, mut w) = tokio::io::split(stream);
    let data = data.to_vec();
    let writer = tokio::spawn(async move {
        w.write_all(&data).await.unwrap();
        w.shutdown().await.unwrap();
    });
    let mut back = Vec::new();
    r.read_to_end(&mut back).await.unwrap();
    writer.await.unwrap();
    back
}

/// `len` bytes of test data that repeat with no power-of-two period.
pub fn pattern(len: usize) -> Vec<u8> {
    (0..len).map(|i| (i * 31 % 251) as u8).collect()
}
