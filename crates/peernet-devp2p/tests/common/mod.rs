//! A hand-driven RLPx peer built from the sans-IO core, for tests that need a remote that
//! misbehaves in a precise way.
#![allow(dead_code)]

use peernet_devp2p::*;
use tokio::io::{AsyncReadExt, AsyncWriteExt, DuplexStream};

pub fn key(n: u8) -> SecretKey {
    let mut b = [0u8; 32];
    b[31] = n;
    b[0] = 1;
    SecretKey::from_slice(&b).unwrap()
}

pub fn id(k: &SecretKey) -> NodeId {
    NodeId::from_secret(k)
}

/// A remote peer driven by the test through the core API.
pub struct RawPeer {
    pub io: DuplexStream,
    pub w: FrameWriter,
    pub r: FrameReader,
    pub buf: Vec<u8>,
    pub key: SecretKey,
    pub remote: NodeId,
}

pub type SetupTask = tokio::task::JoinHandle<Result<Peer, SetupError>>;

impl RawPeer {
    /// Connects to `server` (which acts as recipient) and completes the encryption handshake.
    pub async fn connect(server: &Server, key: SecretKey) -> (RawPeer, SetupTask) {
        RawPeer::connect_with_form(server, key, HandshakeForm::Eip8).await
    }

    /// Like [`RawPeer::connect`], sending the auth in the given form.
    pub async fn connect_with_form(
        server: &Server,
        key: SecretKey,
        form: HandshakeForm,
    ) -> (RawPeer, SetupTask) {
        let (ours, theirs) = tokio::io::duplex(1 << 20);
        let s = server.clone();
        let task = tokio::spawn(async move { s.add_conn(theirs, None, None).await });
        let mut io = ours;
        let mut rng = rand::thread_rng();
        let mut hs = Handshake::initiator_with(
            key.clone(),
            server.node_id(),
            SecretKey::random(&mut rng),
            [7; 32],
            form,
            &mut rng,
        )
        .unwrap();
        io.write_all(&hs.take_outgoing()).await.unwrap();
        let mut buf = Vec::new();
        let used = loop {
            let mut chunk = [0u8; 4096];
            let n = io.read(&mut chunk).await.unwrap();
            assert!(n > 0, "server closed during handshake");
            buf.extend_from_slice(&chunk[..n]);
            if let Some(u) = hs.read(&buf, &mut rng).unwrap() {
                break u;
            }
        };
        buf.drain(..used);
        let secrets = hs.finish().unwrap();
        let (w, r) = session(&secrets);
        (
            RawPeer {
                io,
                w,
                r,
                buf,
                key,
                remote: server.node_id(),
            },
            task,
        )
    }

    /// Accepts a connection dialed by `server` (we are the recipient).
    pub async fn accept(server: &Server, key: SecretKey) -> (RawPeer, SetupTask) {
        let (ours, theirs) = tokio::io::duplex(1 << 20);
        let s = server.clone();
        let remote = id(&key);
        let task = tokio::spawn(async move { s.add_conn(theirs, Some(remote), None).await });
        let mut io = ours;
        let mut rng = rand::thread_rng();
        let mut hs = Handshake::recipient(key.clone(), &mut rng);
        let mut buf = Vec::new();
        let used = loop {
            let mut chunk = [0u8; 4096];
            let n = io.read(&mut chunk).await.unwrap();
            assert!(n > 0);
            buf.extend_from_slice(&chunk[..n]);
            if let Some(u) = hs.read(&buf, &mut rng).unwrap() {
                break u;
            }
        };
        buf.drain(..used);
        io.write_all(&hs.take_outgoing()).await.unwrap();
        let secrets = hs.finish().unwrap();
        let (w, r) = session(&secrets);
        (
            RawPeer {
                io,
                w,
                r,
                buf,
                key,
                remote: secrets.remote_id,
            },
            task,
        )
    }

    pub fn hello(&self, caps: &[(&str, u32)]) -> Hello {
        Hello {
            protocol_version: 5,
            client_id: "rawpeer".into(),
            caps: caps.iter().map(|(n, v)| Cap::new(*n, *v)).collect(),
            listen_port: 0,
            id: id(&self.key).0.to_vec(),
        }
    }

    pub async fn send(&mut self, code: u64, payload: &[u8]) {
        let mut out = Vec::new();
        self.w.write_msg(code, payload, &mut out).unwrap();
        self.io.write_all(&out).await.unwrap();
    }

    pub async fn send_raw(&mut self, bytes: &[u8]) {
        self.io.write_all(bytes).await.unwrap();
    }

    /// The next message; `None` when the other side closed.
    pub async fn recv(&mut self) -> Option<RawMessage> {
        loop {
            if let Some((m, n)) = self.r.decode(&self.buf).unwrap() {
                self.buf.drain(..n);
                return Some(m);
            }
            let mut chunk = vec![0u8; 65536];
            let n = self.io.read(&mut chunk).await.ok()?;
            if n == 0 {
                return None;
            }
            self.buf.extend_from_slice(&chunk[..n]);
        }
    }

    /// Receives until a Disconnect arrives (skipping pings etc.) and returns its reason.
    pub async fn expect_disconnect(&mut self) -> DiscReason {
        loop {
            let m = self
                .recv()
                .await
                .expect("closed without a disconnect message");
            if m.code == DISC_MSG {
                return decode_disconnect(&m.payload).unwrap();
            }
        }
    }

    /// Sends our Hello, reads theirs, and turns snappy on.
    pub async fn exchange_hello(&mut self, caps: &[(&str, u32)]) -> Hello {
        let h = self.hello(caps);
        self.send(HELLO_MSG, &h.encode()).await;
        let m = self.recv().await.unwrap();
        assert_eq!(m.code, HELLO_MSG);
        let theirs = Hello::decode(&m.payload).unwrap();
        self.w.set_snappy(true);
        self.r.set_snappy(true);
        theirs
    }
}

/// A protocol that answers message 0 ("ping", payload p) with message 1 ("echo", payload p).
pub fn echo_protocol(name: &str, version: u32) -> Protocol {
    Protocol::new(name, version, 2, |_peer, mut rw| async move {
        loop {
            let m = rw.read().await?;
            if m.code == 0 {
                rw.write(1, &m.payload).await?;
            }
        }
    })
}

/// A protocol that only waits.
pub fn idle_protocol(name: &str, version: u32, length: u64) -> Protocol {
    Protocol::new(name, version, length, |_peer, mut rw| async move {
        loop {
            rw.read().await?;
        }
    })
}
