//! The Peer / Protocol model end to end: two nodes with two subprotocols, capability matching,
//! the ping loop and read timeout in simulated time, and every disconnect reason produced by the
//! situation that should produce it.

mod common;

use std::time::Duration;

use common::*;
use peernet_devp2p::*;
use tokio::sync::mpsc;

fn rlp_u64(n: u64) -> Vec<u8> {
    let mut v = Vec::new();
    rlp::encode_u64(n, &mut v);
    v
}

/// A protocol on the dialing side that sends `n` requests (code 0) and checks the `n` answers
/// (code 1, payload transformed by the remote) in order, then reports.
fn client_protocol(
    name: &'static str,
    version: u32,
    length: u64,
    n: u64,
    transform: fn(u64) -> u64,
    done: mpsc::Sender<(String, u64, u64)>,
) -> Protocol {
    Protocol::new(name, version, length, move |_peer, mut rw| {
        let done = done.clone();
        async move {
            for i in 0..n {
                rw.write(0, &rlp_u64(i)).await?;
            }
            for i in 0..n {
                let m = rw.read().await?;
                assert_eq!(m.code, 1);
                let got = rlp::decode(&m.payload).unwrap().as_u64().unwrap();
                assert_eq!(got, transform(i), "{name}: answer {i}");
            }
            done.send((name.to_string(), rw.offset(), n)).await.unwrap();
            // Stay up until the test ends.
            loop {
                rw.read().await?;
            }
        }
    })
}

fn server_protocol(
    name: &'static str,
    version: u32,
    length: u64,
    transform: fn(u64) -> u64,
) -> Protocol {
    Protocol::new(name, version, length, move |_peer, mut rw| async move {
        loop {
            let m = rw.read().await?;
            if m.code == 0 {
                let v = rlp::decode(&m.payload).unwrap().as_u64().unwrap();
                rw.write(1, &rlp_u64(transform(v))).await?;
            }
        }
    })
}

fn double(x: u64) -> u64 {
    x * 2
}
fn plus_1000(x: u64) -> u64 {
    x + 1000
}

#[tokio::test]
async fn two_nodes_two_subprotocols_interleaved_over_tcp() {
    let (done_tx, mut done_rx) = mpsc::channel(4);
    let b = Server::listen(
        Config::new(key(2))
            .protocol(server_protocol("beta", 2, 2, plus_1000))
            .protocol(server_protocol("alpha", 1, 3, double)),
        "127.0.0.1:0".parse().unwrap(),
    )
    .await
    .unwrap();
    let mut b_events = b.subscribe();
    let a = Server::new(
        Config::new(key(1))
            .protocol(client_protocol("alpha", 1, 3, 300, double, done_tx.clone()))
            .protocol(client_protocol("beta", 2, 2, 300, plus_1000, done_tx)),
    );
    let peer = a.dial(&b.local_enode().unwrap()).await.unwrap();
    assert_eq!(peer.id(), b.node_id());
    let mut got = vec![done_rx.recv().await.unwrap(), done_rx.recv().await.unwrap()];
    got.sort();
    // alpha (3 codes) gets 16..19, beta 19..21: alphabetical order, not declaration order.
    assert_eq!(
        got,
        vec![
            ("alpha".to_string(), 16, 300),
            ("beta".to_string(), 19, 300)
        ]
    );
    match b_events.recv().await.unwrap() {
        ServerEvent::PeerAdded(p) => {
            assert_eq!(p.id(), a.node_id());
            assert!(p.is_inbound());
            assert_eq!(
                p.client_id(),
                format!("peernet/v{}", env!("CARGO_PKG_VERSION"))
            );
        }
        e => panic!("unexpected {e:?}"),
    }
    // A real round trip over TCP: it answers (its value is for the benchmark, not a test).
    peer.ping().await.unwrap();
    peer.disconnect(DiscReason::Requested);
    let exit = peer.wait().await;
    assert_eq!(exit.reason, DiscReason::Requested);
    assert!(!exit.remote_requested);
    match b_events.recv().await.unwrap() {
        ServerEvent::PeerRemoved { id, exit } => {
            assert_eq!(id, a.node_id());
            assert_eq!(exit.reason, DiscReason::Requested);
            assert!(exit.remote_requested);
        }
        e => panic!("unexpected {e:?}"),
    }
    assert_eq!(b.peer_count(), 0);
}

#[tokio::test]
async fn capability_matching_with_mismatched_lists() {
    let b = Server::listen(
        Config::new(key(2))
            .protocol(idle_protocol("eth", 67, 17))
            .protocol(idle_protocol("eth", 68, 17))
            .protocol(echo_protocol("snap", 1))
            .protocol(idle_protocol("les", 4, 23)),
        "127.0.0.1:0".parse().unwrap(),
    )
    .await
    .unwrap();
    let (tx, mut rx) = mpsc::channel(1);
    let snap_client = Protocol::new("snap", 1, 2, move |_p, mut rw| {
        let tx = tx.clone();
        async move {
            rw.write(0, b"\x83abc").await?;
            let m = rw.read().await?;
            tx.send((m.code, m.payload, rw.offset())).await.unwrap();
            loop {
                rw.read().await?;
            }
        }
    });
    let a = Server::new(
        Config::new(key(1))
            .protocol(idle_protocol("eth", 66, 17))
            .protocol(idle_protocol("eth", 67, 17))
            .protocol(snap_client)
            .protocol(idle_protocol("zzz", 1, 5))
            .protocol(idle_protocol("les", 3, 23)),
    );
    let peer = a.dial(&b.local_enode().unwrap()).await.unwrap();
    let shared: Vec<(String, u64, u64)> = peer
        .shared_caps()
        .iter()
        .map(|s| (s.cap.to_string(), s.offset, s.length))
        .collect();
    // eth/67 is the highest version both have; les versions differ; zzz is ours only.
    assert_eq!(
        shared,
        vec![("eth/67".into(), 16, 17), ("snap/1".into(), 33, 2)]
    );
    let (code, payload, offset) = rx.recv().await.unwrap();
    assert_eq!((code, payload.as_slice(), offset), (1, &b"\x83abc"[..], 33));
    let theirs = b.peers().pop().unwrap();
    let shared_b: Vec<String> = theirs
        .shared_caps()
        .iter()
        .map(|s| s.cap.to_string())
        .collect();
    assert_eq!(shared_b, vec!["eth/67", "snap/1"]);
    assert_eq!(theirs.shared_caps()[1].offset, 33);
}

fn paused_config(k: SecretKey) -> Config {
    let mut c = Config::new(k).protocol(echo_protocol("eth", 68));
    c.read_timeout = Duration::from_secs(40);
    c
}

#[tokio::test(start_paused = true)]
async fn ping_loop_then_read_timeout_in_simulated_time() {
    let server = Server::new(paused_config(key(2)));
    let (mut raw, task) = RawPeer::connect(&server, key(1)).await;
    raw.exchange_hello(&[("eth", 68)]).await;
    let peer = task.await.unwrap().unwrap();
    let start = tokio::time::Instant::now();
    // Silent remote: the ping loop pings every 15 s; nothing comes back.
    let m = raw.recv().await.unwrap();
    assert_eq!(m.code, PING_MSG);
    assert_eq!(start.elapsed().as_secs(), 15);
    let m = raw.recv().await.unwrap();
    assert_eq!(m.code, PING_MSG);
    assert_eq!(start.elapsed().as_secs(), 30);
    // At 40 s without any message, the read timeout ends the peer.
    assert_eq!(raw.expect_disconnect().await, DiscReason::ReadTimeout);
    assert_eq!(start.elapsed().as_secs(), 40);
    let exit = peer.wait().await;
    assert_eq!(exit.reason, DiscReason::ReadTimeout);
    assert!(
        raw.recv().await.is_none(),
        "connection closed after the disconnect"
    );
}

#[tokio::test(start_paused = true)]
async fn pongs_keep_a_peer_alive_and_ping_measures_rtt() {
    let server = Server::new(paused_config(key(2)));
    let (mut raw, task) = RawPeer::connect(&server, key(1)).await;
    raw.exchange_hello(&[("eth", 68)]).await;
    let peer = task.await.unwrap().unwrap();
    // Answer every ping for ten simulated minutes: the peer stays.
    let start = tokio::time::Instant::now();
    while start.elapsed() < Duration::from_secs(600) {
        let m = raw.recv().await.unwrap();
        assert_eq!(m.code, PING_MSG, "only pings arrive");
        raw.send(PONG_MSG, &[0xc0]).await;
    }
    assert!(peer.exit().is_none());
    // Our ping is answered by the remote's pong; also answer pings from the remote.
    let p = peer.clone();
    let rtt = tokio::spawn(async move { p.ping().await });
    let m = raw.recv().await.unwrap();
    assert_eq!(m.code, PING_MSG);
    tokio::time::sleep(Duration::from_millis(250)).await;
    raw.send(PONG_MSG, &[0xc0]).await;
    assert_eq!(rtt.await.unwrap().unwrap(), Duration::from_millis(250));
    // The remote's pings are answered with pongs.
    raw.send(PING_MSG, &[0xc0]).await;
    assert_eq!(raw.recv().await.unwrap().code, PONG_MSG);
}

#[tokio::test(start_paused = true)]
async fn two_peernet_nodes_stay_connected_in_simulated_time() {
    let a = Server::new(paused_config(key(1)));
    let b = Server::new(paused_config(key(2)));
    let (x, y) = tokio::io::duplex(1 << 16);
    let b2 = b.clone();
    let tb = tokio::spawn(async move { b2.add_conn(y, None, None).await });
    let pa = a.add_conn(x, Some(b.node_id()), None).await.unwrap();
    let pb = tb.await.unwrap().unwrap();
    tokio::time::sleep(Duration::from_secs(3600)).await;
    assert!(pa.exit().is_none() && pb.exit().is_none());
    pa.disconnect(DiscReason::ClientQuit);
    assert_eq!(pb.wait().await.reason, DiscReason::ClientQuit);
    assert!(pb.wait().await.remote_requested);
}

// ---- every disconnect reason from its situation ----

async fn connected(server: &Server, k: SecretKey) -> (RawPeer, Peer) {
    let (mut raw, task) = RawPeer::connect(server, k).await;
    raw.exchange_hello(&[("eth", 68)]).await;
    (raw, task.await.unwrap().unwrap())
}

#[tokio::test(start_paused = true)]
async fn reason_requested_by_local_disconnect() {
    let server = Server::new(paused_config(key(2)));
    let (mut raw, peer) = connected(&server, key(1)).await;
    peer.disconnect(DiscReason::Requested);
    assert_eq!(raw.expect_disconnect().await, DiscReason::Requested);
}

#[tokio::test(start_paused = true)]
async fn reason_network_error_when_the_connection_drops() {
    let server = Server::new(paused_config(key(2)));
    let (raw, peer) = connected(&server, key(1)).await;
    drop(raw);
    let exit = peer.wait().await;
    assert_eq!(exit.reason, DiscReason::NetworkError);
    assert!(!exit.remote_requested);
}

#[tokio::test(start_paused = true)]
async fn reason_protocol_error_for_code_out_of_range() {
    let server = Server::new(paused_config(key(2)));
    let (mut raw, peer) = connected(&server, key(1)).await;
    // eth/68 has codes 16..18 here (the echo protocol has length 2); 18 is outside every range.
    raw.send(18, &[0xc0]).await;
    assert_eq!(raw.expect_disconnect().await, DiscReason::ProtocolError);
    let exit = peer.wait().await;
    assert_eq!(exit.reason, DiscReason::ProtocolError);
    assert!(
        exit.detail.contains("msg code out of range: 18"),
        "{}",
        exit.detail
    );
}

#[tokio::test(start_paused = true)]
async fn reason_useless_peer_without_shared_caps() {
    let server = Server::new(paused_config(key(2)));
    let (mut raw, task) = RawPeer::connect(&server, key(1)).await;
    let h = raw.hello(&[("eth", 67), ("snap", 1)]);
    raw.send(HELLO_MSG, &h.encode()).await;
    assert_eq!(raw.recv().await.unwrap().code, HELLO_MSG);
    raw.r.set_snappy(true);
    assert_eq!(raw.expect_disconnect().await, DiscReason::UselessPeer);
    assert!(matches!(
        task.await.unwrap(),
        Err(SetupError::Refused(DiscReason::UselessPeer))
    ));
}

#[tokio::test(start_paused = true)]
async fn reason_too_many_peers() {
    let mut cfg = paused_config(key(9));
    cfg.max_peers = 1;
    let server = Server::new(cfg);
    let (_raw1, _peer1) = connected(&server, key(1)).await;
    let (mut raw2, task) = RawPeer::connect(&server, key(2)).await;
    // Refused right after the encryption handshake, before Hello.
    assert_eq!(raw2.expect_disconnect().await, DiscReason::TooManyPeers);
    assert!(matches!(
        task.await.unwrap(),
        Err(SetupError::Refused(DiscReason::TooManyPeers))
    ));
}

#[tokio::test(start_paused = true)]
async fn reason_already_connected() {
    let server = Server::new(paused_config(key(9)));
    let (_raw1, _peer1) = connected(&server, key(1)).await;
    let (mut raw2, task) = RawPeer::connect(&server, key(1)).await;
    assert_eq!(raw2.expect_disconnect().await, DiscReason::AlreadyConnected);
    assert!(matches!(
        task.await.unwrap(),
        Err(SetupError::Refused(DiscReason::AlreadyConnected))
    ));
}

async fn refused_hello(edit: impl FnOnce(&mut Hello)) -> (DiscReason, SetupError) {
    let server = Server::new(paused_config(key(9)));
    let (mut raw, task) = RawPeer::connect(&server, key(1)).await;
    let mut h = raw.hello(&[("eth", 68)]);
    edit(&mut h);
    raw.send(HELLO_MSG, &h.encode()).await;
    assert_eq!(raw.recv().await.unwrap().code, HELLO_MSG);
    let reason = raw.expect_disconnect().await;
    (reason, task.await.unwrap().unwrap_err())
}

#[tokio::test(start_paused = true)]
async fn reason_incompatible_version() {
    let (r, e) = refused_hello(|h| h.protocol_version = 3).await;
    assert_eq!(r, DiscReason::IncompatibleVersion);
    assert!(matches!(
        e,
        SetupError::Refused(DiscReason::IncompatibleVersion)
    ));
}

#[tokio::test(start_paused = true)]
async fn newer_p2p_versions_are_accepted() {
    let server = Server::new(paused_config(key(9)));
    let (mut raw, task) = RawPeer::connect(&server, key(1)).await;
    let mut h = raw.hello(&[("eth", 68)]);
    h.protocol_version = 22;
    raw.send(HELLO_MSG, &h.encode()).await;
    let peer = task.await.unwrap().unwrap();
    assert_eq!(peer.hello().protocol_version, 22);
}

#[tokio::test(start_paused = true)]
async fn reason_invalid_identity() {
    let (r, _) = refused_hello(|h| h.id = vec![0; 64]).await;
    assert_eq!(r, DiscReason::InvalidIdentity);
    let (r, _) = refused_hello(|h| h.id = vec![7; 20]).await;
    assert_eq!(r, DiscReason::InvalidIdentity);
}

#[tokio::test(start_paused = true)]
async fn reason_unexpected_identity() {
    let (r, e) = refused_hello(|h| h.id = id(&key(5)).0.to_vec()).await;
    assert_eq!(r, DiscReason::UnexpectedIdentity);
    assert!(matches!(
        e,
        SetupError::Refused(DiscReason::UnexpectedIdentity)
    ));
}

#[tokio::test(start_paused = true)]
async fn reason_client_quit_on_shutdown_and_protocol_return() {
    let server = Server::new(paused_config(key(9)));
    let (mut raw, _peer) = connected(&server, key(1)).await;
    server.shutdown().await;
    assert_eq!(raw.expect_disconnect().await, DiscReason::ClientQuit);

    let quitter = Protocol::new("eth", 68, 17, |_p, _rw| async { Ok(()) });
    let server = Server::new(Config::new(key(9)).protocol(quitter));
    let (mut raw, peer) = connected(&server, key(1)).await;
    assert_eq!(raw.expect_disconnect().await, DiscReason::ClientQuit);
    assert!(peer.wait().await.detail.contains("returned"));
}

#[tokio::test(start_paused = true)]
async fn reason_self_connect() {
    let server = Server::new(paused_config(key(9)));
    // Someone holding our own key connects to us.
    let (mut raw, task) = RawPeer::connect(&server, key(9)).await;
    assert_eq!(raw.expect_disconnect().await, DiscReason::SelfConnect);
    assert!(matches!(
        task.await.unwrap(),
        Err(SetupError::Refused(DiscReason::SelfConnect))
    ));
    // And dialing our own enode is refused before connecting.
    let own = Enode::new(server.node_id(), "127.0.0.1".parse().unwrap(), 1);
    assert!(matches!(
        server.dial(&own).await,
        Err(SetupError::Refused(DiscReason::SelfConnect))
    ));
}

#[tokio::test(start_paused = true)]
async fn reason_subprotocol_error() {
    let failing = Protocol::new("eth", 68, 17, |_p, mut rw| async move {
        rw.read().await?;
        Err(RunError::other("bad block"))
    });
    let server = Server::new(Config::new(key(9)).protocol(failing));
    let (mut raw, peer) = connected(&server, key(1)).await;
    raw.send(16, &[0xc0]).await;
    assert_eq!(raw.expect_disconnect().await, DiscReason::SubprotocolError);
    assert!(peer.wait().await.detail.contains("bad block"));
}

#[tokio::test(start_paused = true)]
async fn protocol_chosen_reason_and_remote_disconnect() {
    let picky = Protocol::new("eth", 68, 17, |_p, mut rw| async move {
        rw.read().await?;
        Err(DiscReason::UselessPeer.into())
    });
    let server = Server::new(Config::new(key(9)).protocol(picky));
    let (mut raw, _peer) = connected(&server, key(1)).await;
    raw.send(16, &[0xc0]).await;
    assert_eq!(raw.expect_disconnect().await, DiscReason::UselessPeer);

    // A Disconnect from the remote ends the peer with the remote's reason.
    let server = Server::new(paused_config(key(9)));
    let (mut raw, peer) = connected(&server, key(1)).await;
    raw.send(DISC_MSG, &encode_disconnect(DiscReason::TooManyPeers))
        .await;
    let exit = peer.wait().await;
    assert_eq!(exit.reason, DiscReason::TooManyPeers);
    assert!(exit.remote_requested);
}

#[tokio::test(start_paused = true)]
async fn write_checks_the_code_range_and_reports_after_close() {
    let (tx, mut rx) = mpsc::channel(4);
    let proto = Protocol::new("eth", 68, 2, move |_p, mut rw| {
        let tx = tx.clone();
        async move {
            tx.send(rw.write(2, &[0xc0]).await).await.unwrap();
            tx.send(rw.write(1, &[0xc0]).await).await.unwrap();
            // Wait for the end of the connection, then try again.
            let end = rw.read().await;
            tx.send(end.map(|_| ())).await.unwrap();
            tx.send(rw.write(0, &[0xc0]).await).await.unwrap();
            Ok(())
        }
    });
    let server = Server::new(Config::new(key(9)).protocol(proto));
    let (mut raw, peer) = connected(&server, key(1)).await;
    assert_eq!(
        rx.recv().await.unwrap(),
        Err(RwError::CodeOutOfRange { code: 2, length: 2 })
    );
    assert_eq!(rx.recv().await.unwrap(), Ok(()));
    let m = raw.recv().await.unwrap();
    assert_eq!(m.code, 17, "code 1 plus offset 16");
    peer.disconnect(DiscReason::Requested);
    assert_eq!(rx.recv().await.unwrap(), Err(RwError::Closed));
    assert_eq!(rx.recv().await.unwrap(), Err(RwError::Closed));
}

#[tokio::test(start_paused = true)]
async fn a_panicking_protocol_ends_the_peer_with_subprotocol_error() {
    let boom = Protocol::new("eth", 68, 17, |_p, mut rw| async move {
        rw.read().await?;
        panic!("protocol bug");
    });
    let server = Server::new(Config::new(key(9)).protocol(boom));
    let (mut raw, peer) = connected(&server, key(1)).await;
    raw.send(16, &[0xc0]).await;
    assert_eq!(raw.expect_disconnect().await, DiscReason::SubprotocolError);
    assert!(peer.wait().await.detail.contains("panicked"));
}

#[tokio::test(start_paused = true)]
async fn a_failed_write_is_reported_and_ends_the_peer() {
    use rand::RngCore;
    let (tx, mut rx) = mpsc::channel(1);
    let writer = Protocol::new("eth", 68, 17, move |_p, rw| {
        let tx = tx.clone();
        async move {
            // 2 MiB of incompressible data into a pipe whose reader never reads.
            let mut big = vec![0u8; 2 << 20];
            rand::thread_rng().fill_bytes(&mut big);
            let res = rw.write(0, &big).await;
            tx.send(res.clone()).await.unwrap();
            res.map_err(RunError::from)
        }
    });
    let mut cfg = Config::new(key(9)).protocol(writer);
    cfg.read_timeout = Duration::from_secs(40);
    let server = Server::new(cfg);
    let (raw, peer) = connected(&server, key(1)).await;
    let start = tokio::time::Instant::now();
    let res = rx.recv().await.unwrap();
    assert!(matches!(res, Err(RwError::WriteFailed(_))), "{res:?}");
    // The default write timeout.
    assert_eq!(start.elapsed().as_secs(), 20);
    let exit = peer.wait().await;
    assert_eq!(exit.reason, DiscReason::NetworkError);
    assert!(exit.detail.contains("write"), "{}", exit.detail);
    drop(raw);
}
