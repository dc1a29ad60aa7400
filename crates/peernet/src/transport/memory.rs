//! The memory transport: `/memory/<N>` (with an optional trailing `/p2p/<id>`), in-process and
//! deterministic, for tests of everything above the transport.
//!
//! Listeners register their number in a process-wide table; a dial creates a
//! [`tokio::io::duplex`] pair, hands one end to the listener and upgrades the other, so memory
//! connections go through the same [`Upgrader`] (security, yamux) as TCP ones.

use std::collections::HashMap;
use std::io;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, OnceLock};

use peernet_core::multiaddr::{Multiaddr, Protocol};
use peernet_core::PeerId;
use tokio::io::DuplexStream;
use tokio::sync::mpsc;

use crate::connection::Connection;
use crate::transport::error::TransportError;
use crate::transport::shared::{expected_peer, Listener};
use crate::upgrader::Upgrader;

/// Bytes buffered in each direction of a memory connection: four 64 KiB Noise messages, so a
/// bulk writer is not stopped after every message (64 KiB ran perf at two thirds the rate).
const DUPLEX_BUFFER: usize = 256 * 1024;
/// Raw connections waiting for a listener's upgrade slots.
const PENDING_QUEUE: usize = 16;
/// Upgraded connections waiting for [`Listener::accept`].
const ACCEPT_QUEUE: usize = 16;
/// Numbers handed out for `/memory/0` listeners and for dialers' local addresses start here,
/// far from the small numbers tests pick by hand.
const EPHEMERAL_START: u64 = 1 << 40;

/// A raw connection on its way to a listener: our end and the dialer's number.
struct Pending {
    io: DuplexStream,
    remote: u64,
}

type Registry = Mutex<HashMap<u64, mpsc::Sender<Pending>>>;

fn registry() -> &'static Registry {
    static REGISTRY: OnceLock<Registry> = OnceLock::new();
    REGISTRY.get_or_init(|| Mutex::new(HashMap::new()))
}

fn lock(r: &Registry) -> std::sync::MutexGuard<'_, HashMap<u64, mpsc::Sender<Pending>>> {
    r.lock().unwrap_or_else(|e| e.into_inner())
}

fn next_ephemeral() -> u64 {
    static NEXT: AtomicU64 = AtomicU64::new(EPHEMERAL_START);
    NEXT.fetch_add(1, Ordering::Relaxed)
}

fn memory_addr(n: u64) -> Multiaddr {
    Multiaddr::empty().with(Protocol::Memory(n))
}

/// The number of a memory multiaddr, refusing anything that is not exactly `/memory/N`
/// optionally followed by `/p2p/…`.
fn memory_port(addr: &Multiaddr) -> Result<u64, TransportError> {
    let mut iter = addr.iter();
    let Some(Protocol::Memory(n)) = iter.next() else {
        return Err(TransportError::Unsupported(addr.clone()));
    };
    match iter.next() {
        None | Some(Protocol::P2p(_)) if iter.next().is_none() => Ok(n),
        _ => Err(TransportError::Unsupported(addr.clone())),
    }
}

/// The in-process memory transport. Every connection is upgraded by its [`Upgrader`], exactly
/// as a TCP one.
#[derive(Debug, Clone)]
pub struct MemoryTransport {
    upgrader: Upgrader,
}

impl MemoryTransport {
    /// A memory transport upgrading with `upgrader`.
    pub fn new(upgrader: Upgrader) -> Self {
        MemoryTransport { upgrader }
    }

    /// The upgrader every connection goes through.
    pub fn upgrader(&self) -> &Upgrader {
        &self.upgrader
    }

    /// Whether this transport dials and listens on `addr`.
    pub fn can_handle(&self, addr: &Multiaddr) -> bool {
        memory_port(addr).is_ok()
    }

    /// Connects to the listener on `addr` and upgrades the connection. The remote must be
    /// `expected`, or the peer in the address's `/p2p/` suffix. Nobody listening is
    /// `ConnectionRefused`.
    pub async fn dial(
        &self,
        addr: &Multiaddr,
        expected: Option<PeerId>,
    ) -> Result<Connection, TransportError> {
        let port = memory_port(addr)?;
        let expected = expected_peer(addr, expected)?;
        let refused = || TransportError::Io(io::ErrorKind::ConnectionRefused.into());
        let sender = lock(registry()).get(&port).cloned().ok_or_else(refused)?;
        let (ours, theirs) = tokio::io::duplex(DUPLEX_BUFFER);
        let local = next_ephemeral();
        sender
            .send(Pending {
                io: theirs,
                remote: local,
            })
            .await
            .map_err(|_| refused())?;
        let conn = self
            .upgrader
            .upgrade_outbound(ours, memory_addr(port), memory_addr(local), expected)
            .await?;
        Ok(conn)
    }

    /// Registers `addr` (`/memory/0` picks a free number) and starts accepting: each inbound
    /// connection is upgraded on its own task, at most the upgrader's limit at once. Dropping
    /// the [`Listener`] frees the number.
    pub fn listen(&self, addr: &Multiaddr) -> Result<Listener, TransportError> {
        let asked = memory_port(addr)?;
        let (tx, rx) = mpsc::channel(PENDING_QUEUE);
        let port = {
            let mut table = lock(registry());
            let port = if asked == 0 {
                let mut n = next_ephemeral();
                while table.contains_key(&n) {
                    n = next_ephemeral();
                }
                n
            } else if table.contains_key(&asked) {
                return Err(TransportError::Io(io::ErrorKind::AddrInUse.into()));
            } else {
                asked
            };
            table.insert(port, tx);
            port
        };
        let (out_tx, out_rx) = mpsc::channel(ACCEPT_QUEUE);
        let registration = Registration(port);
        let task = tokio::spawn(accept_loop(registration, rx, self.upgrader.clone(), out_tx));
        Ok(Listener::new(memory_addr(port), out_rx, task))
    }
}

/// Frees a listener's number when its accept loop ends or is aborted.
struct Registration(u64);

impl Drop for Registration {
    fn drop(&mut self) {
        lock(registry()).remove(&self.0);
    }
}

async fn accept_loop(
    registration: Registration,
    mut pending: mpsc::Receiver<Pending>,
    upgrader: Upgrader,
    tx: mpsc::Sender<Connection>,
) {
    let slots = upgrader.inbound_slots();
    let local = memory_addr(registration.0);
    loop {
        let Ok(permit) = slots.clone().acquire_owned().await else {
            return;
        };
        let next = tokio::select! {
            next = pending.recv() => next,
            () = tx.closed() => return,
        };
        let Some(Pending { io, remote }) = next else {
            return;
        };
        let upgrader = upgrader.clone();
        let tx = tx.clone();
        let local = local.clone();
        tokio::spawn(async move {
            let remote = memory_addr(remote);
            match upgrader.upgrade_inbound(io, remote.clone(), local).await {
                Ok(conn) => {
                    drop(permit);
                    let _ = tx.send(conn).await;
                }
                Err(e) => {
                    tracing::debug!(%remote, error = %peernet_core::error::Chain(&e), "inbound upgrade failed")
                }
            }
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use peernet_core::Keypair;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    fn transport() -> MemoryTransport {
        MemoryTransport::new(Upgrader::new(Keypair::generate_ed25519()))
    }

    #[tokio::test]
    async fn dial_listen_and_stream() {
        let (a, b) = (transport(), transport());
        let mut listener = b.listen(&"/memory/0".parse().unwrap()).unwrap();
        let addr = listener.local_addr().clone();
        assert!(memory_port(&addr).unwrap() >= EPHEMERAL_START);
        let server = tokio::spawn(async move {
            let conn = listener.accept().await.unwrap();
            let inbound = conn.accept_stream().await.unwrap();
            let mut s = inbound
                .negotiate(&mut |p| p == "/x", &Vec::new)
                .await
                .unwrap();
            let mut buf = [0; 5];
            s.read_exact(&mut buf).await.unwrap();
            s.write_all(&buf).await.unwrap();
            s.shutdown().await.unwrap();
            (conn, listener, s)
        });
        let b_peer = b.upgrader().local_peer().clone();
        let conn = a.dial(&addr, Some(b_peer.clone())).await.unwrap();
        assert_eq!(conn.remote_peer(), &b_peer);
        let mut s = conn.open_stream(&["/x"]).await.unwrap();
        s.write_all(b"hello").await.unwrap();
        let mut back = Vec::new();
        s.read_to_end(&mut back).await.unwrap();
        assert_eq!(back, b"hello");
        let (seen, _listener, _stream) = server.await.unwrap();
        assert_eq!(seen.remote_peer(), a.upgrader().local_peer());
    }

    #[tokio::test]
    async fn refused_in_use_unsupported_and_freed_on_drop() {
        let t = transport();
        let addr: Multiaddr = "/memory/4242".parse().unwrap();
        assert!(matches!(
            t.dial(&addr, None).await,
            Err(TransportError::Io(e)) if e.kind() == io::ErrorKind::ConnectionRefused
        ));
        let listener = t.listen(&addr).unwrap();
        assert!(matches!(
            t.listen(&addr),
            Err(TransportError::Io(e)) if e.kind() == io::ErrorKind::AddrInUse
        ));
        drop(listener);
        // The accept loop is aborted asynchronously; the number is free once it has run.
        let mut again = t.listen(&addr);
        for _ in 0..1000 {
            if again.is_ok() {
                break;
            }
            tokio::task::yield_now().await;
            again = t.listen(&addr);
        }
        assert!(again.is_ok());
        let tcp: Multiaddr = "/ip4/127.0.0.1/tcp/1".parse().unwrap();
        assert!(!t.can_handle(&tcp));
        assert!(matches!(
            t.listen(&tcp),
            Err(TransportError::Unsupported(_))
        ));
    }
}
