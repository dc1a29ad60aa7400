//! The swarm end to end: memory and TCP transports, shared dials, the gater, backoff, errors,
//! events, and clean shutdown.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use peernet::core::dial::{AddrDialError, DialErrorCause};
use peernet::services::echo;
use peernet::{
    ConnectionGater, DialOptions, GateStep, Keypair, MemoryTransport, Multiaddr, Swarm,
    SwarmConfig, SwarmError, SwarmEvent, TcpConfig, TcpTransport, Upgrader,
};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

mod support;

async fn listen(swarm: &Swarm, addr: &str) -> Vec<Multiaddr> {
    swarm
        .listen(&[addr.parse().unwrap()])
        .await
        .unwrap()
        .listening
}

fn dial_error(e: SwarmError) -> peernet::core::dial::DialError {
    match e {
        SwarmError::Dial(e) => e,
        other => panic!("expected a dial error, got {other:?}"),
    }
}

#[tokio::test]
async fn fifty_concurrent_new_streams_share_one_connection() {
    let (a, b) = (support::swarm(), support::swarm());
    support::serve_echo(&b);
    let addrs = listen(&b, "/memory/0").await;
    a.add_peer_addrs(b.local_peer(), addrs);
    let mut events = b.subscribe();

    let mut tasks = Vec::new();
    for i in 0..50u32 {
        let a = a.clone();
        let peer = b.local_peer().clone();
        tasks.push(tokio::spawn(async move {
            let mut s = a.new_stream(&peer, &[echo::PROTOCOL]).await.unwrap();
            s.write_all(&i.to_be_bytes()).await.unwrap();
            s.shutdown().await.unwrap();
            let mut back = Vec::new();
            s.read_to_end(&mut back).await.unwrap();
            assert_eq!(back, i.to_be_bytes());
            s.connection_id()
        }));
    }
    let mut ids = Vec::new();
    for t in tasks {
        ids.push(t.await.unwrap());
    }
    ids.dedup();
    assert_eq!(ids.len(), 1, "every stream on one connection");
    assert_eq!(a.conns_to_peer(b.local_peer()).len(), 1);
    assert_eq!(b.conns_to_peer(a.local_peer()).len(), 1);
    let mut connected = 0;
    while let Ok(ev) = events.try_recv() {
        if matches!(ev, SwarmEvent::Connected { .. }) {
            connected += 1;
        }
    }
    assert_eq!(connected, 1);
    let stats = a.stats();
    assert_eq!(
        (stats.active_dials, stats.dial_jobs, stats.pending_dials),
        (0, 0, 0)
    );
    a.close().await;
    b.close().await;
}

#[tokio::test]
async fn tcp_between_two_swarms_with_events_and_clean_close() {
    let (a, b) = (support::swarm(), support::swarm());
    support::serve_echo(&b);
    let mut b_events = b.subscribe();
    let addrs = listen(&b, "/ip4/127.0.0.1/tcp/0").await;
    assert!(
        matches!(b_events.recv().await.unwrap(), SwarmEvent::Listen { addr } if addr == addrs[0])
    );
    a.add_peer_addrs(b.local_peer(), addrs.clone());
    support::echo_roundtrip(&a, b.local_peer(), b"over tcp").await;
    // The second stream reuses the connection.
    support::echo_roundtrip(&a, b.local_peer(), b"again").await;
    assert_eq!(a.stats().connections, 1);
    match b_events.recv().await.unwrap() {
        SwarmEvent::Connected {
            peer, direction, ..
        } => {
            assert_eq!(&peer, a.local_peer());
            assert_eq!(direction, peernet::Direction::Inbound);
        }
        other => panic!("{other:?}"),
    }

    // a goes away: b sees the connection leave.
    a.close().await;
    assert!(
        matches!(b_events.recv().await.unwrap(), SwarmEvent::Disconnected { peer, .. } if &peer == a.local_peer())
    );
    let a_stats = a.stats();
    assert_eq!((a_stats.connections, a_stats.tasks), (0, 0));
    b.close().await;
    assert!(
        matches!(b_events.recv().await.unwrap(), SwarmEvent::ListenClose { addr } if addr == addrs[0])
    );
    let b_stats = b.stats();
    assert_eq!(
        (b_stats.connections, b_stats.tasks, b_stats.listeners),
        (0, 0, 0)
    );
    assert!(matches!(
        a.dial_peer(b.local_peer(), addrs).await,
        Err(SwarmError::Closed)
    ));
}

#[tokio::test]
async fn stalled_inbound_handshake_does_not_block_others() {
    let (a, b) = (support::swarm(), support::swarm());
    support::serve_echo(&b);
    let addrs = listen(&b, "/ip4/127.0.0.1/tcp/0").await;
    let Some(peernet::core::Protocol::Tcp(port)) = addrs[0].iter().nth(1) else {
        panic!("not a tcp address: {}", addrs[0]);
    };
    // Connects and never says a word.
    let _stalled = tokio::net::TcpStream::connect(("127.0.0.1", port))
        .await
        .unwrap();
    a.add_peer_addrs(b.local_peer(), addrs);
    support::echo_roundtrip(&a, b.local_peer(), b"not blocked").await;
    a.close().await;
    b.close().await;
    assert_eq!(b.stats().tasks, 0);
}

#[tokio::test]
async fn dial_to_self_is_refused() {
    let a = support::swarm();
    let addrs = listen(&a, "/memory/0").await;
    let e = dial_error(
        a.dial_peer(&a.local_peer().clone(), addrs)
            .await
            .unwrap_err(),
    );
    assert_eq!(e.cause, DialErrorCause::DialToSelf);
    assert_eq!(a.stats().connections, 0);
    a.close().await;
}

#[tokio::test]
async fn wrong_peer_is_refused() {
    let (a, b) = (support::swarm(), support::swarm());
    let addrs = listen(&b, "/memory/0").await;
    let other = Keypair::generate_ed25519().public().to_peer_id();
    let e = dial_error(a.dial_peer(&other, addrs.clone()).await.unwrap_err());
    assert_eq!(e.cause, DialErrorCause::AllDialsFailed);
    match e.error_for(&addrs[0]) {
        Some(AddrDialError::PeerIdMismatch { expected, actual }) => {
            assert_eq!(expected, &other);
            assert_eq!(actual, b.local_peer());
        }
        x => panic!("{x:?}"),
    }
    assert_eq!(a.stats().connections, 0);
    a.close().await;
    b.close().await;
}

#[tokio::test]
async fn every_address_error_is_aggregated() {
    let a = support::swarm();
    let peer = Keypair::generate_ed25519().public().to_peer_id();
    let nobody: Multiaddr = "/memory/91001".parse().unwrap();
    let nobody2: Multiaddr = "/memory/91002".parse().unwrap();
    let no_transport: Multiaddr = "/ip4/1.2.3.4/udp/1/quic-v1".parse().unwrap();
    let e = dial_error(
        a.dial_peer(
            &peer,
            vec![nobody.clone(), no_transport.clone(), nobody2.clone()],
        )
        .await
        .unwrap_err(),
    );
    assert_eq!(e.cause, DialErrorCause::AllDialsFailed);
    assert!(matches!(e.error_for(&nobody), Some(AddrDialError::Io(_))));
    assert!(matches!(e.error_for(&nobody2), Some(AddrDialError::Io(_))));
    assert!(matches!(
        e.error_for(&no_transport),
        Some(AddrDialError::NoTransport)
    ));
    let text = e.to_string();
    assert!(
        text.contains("/memory/91001") && text.contains("/memory/91002"),
        "{text}"
    );
    a.close().await;
}

#[tokio::test]
async fn backoff_blocks_then_force_direct_and_success_clear_it() {
    let (a, b) = (support::swarm(), support::swarm());
    support::serve_echo(&b);
    let addr: Multiaddr = "/memory/92001".parse().unwrap();
    let peer = b.local_peer().clone();
    // Nobody listens yet: refused, and the address goes into backoff.
    let e = dial_error(a.dial_peer(&peer, vec![addr.clone()]).await.unwrap_err());
    assert!(matches!(e.error_for(&addr), Some(AddrDialError::Io(_))));

    listen(&b, "/memory/92001").await;
    let e = dial_error(a.dial_peer(&peer, vec![addr.clone()]).await.unwrap_err());
    assert!(
        matches!(e.error_for(&addr), Some(AddrDialError::Backoff)),
        "{e}"
    );

    let force = DialOptions {
        force_direct: true,
        ..DialOptions::default()
    };
    let conn = a
        .dial_peer_with(&peer, vec![addr.clone()], force)
        .await
        .unwrap();
    assert_eq!(conn.remote_peer(), &peer);
    conn.close().await;
    // Wait until the table forgets it.
    while a.best_conn(&peer).is_some() {
        tokio::task::yield_now().await;
    }
    // The success cleared the backoff: a plain dial works.
    let again = a.dial_peer(&peer, vec![addr]).await.unwrap();
    assert_ne!(again.id(), conn.id());
    a.close().await;
    b.close().await;
}

#[tokio::test]
async fn gater_refusals_reach_the_caller_with_their_reason() {
    let b = support::swarm();
    let addrs = listen(&b, "/memory/0").await;
    let peer = b.local_peer().clone();

    let gated_addr =
        ConnectionGater::allow_all().on_addr_dial(|_, addr| Err(format!("no dialing {addr}")));
    let a = support::swarm_with(SwarmConfig {
        gater: gated_addr,
        ..SwarmConfig::default()
    });
    let e = dial_error(a.dial_peer(&peer, addrs.clone()).await.unwrap_err());
    match e.error_for(&addrs[0]) {
        Some(AddrDialError::Gated(reason)) => assert!(reason.contains("no dialing")),
        x => panic!("{x:?}"),
    }
    a.close().await;

    let gated_peer = ConnectionGater::allow_all().on_peer_dial(|_| Err("blocked peer".into()));
    let a = support::swarm_with(SwarmConfig {
        gater: gated_peer,
        ..SwarmConfig::default()
    });
    match a.dial_peer(&peer, addrs.clone()).await {
        Err(SwarmError::Gated { step, reason }) => {
            assert_eq!(step, GateStep::PeerDial);
            assert_eq!(reason, "blocked peer");
        }
        x => panic!("{x:?}"),
    }
    a.close().await;

    let gated_secured =
        ConnectionGater::allow_all().on_secured(|_, _, _| Err("not this one".into()));
    let a = support::swarm_with(SwarmConfig {
        gater: gated_secured,
        ..SwarmConfig::default()
    });
    let e = dial_error(a.dial_peer(&peer, addrs.clone()).await.unwrap_err());
    match e.error_for(&addrs[0]) {
        Some(AddrDialError::Gated(reason)) => {
            assert!(
                reason.contains("secured") && reason.contains("not this one"),
                "{reason}"
            )
        }
        x => panic!("{x:?}"),
    }
    assert_eq!(a.stats().connections, 0);
    a.close().await;
    b.close().await;
}

#[tokio::test]
async fn inbound_refused_by_the_gater_never_joins() {
    let refused = Arc::new(AtomicUsize::new(0));
    let counter = refused.clone();
    let b = support::swarm_with(SwarmConfig {
        gater: ConnectionGater::allow_all().on_accept(move |_, _| {
            counter.fetch_add(1, Ordering::Relaxed);
            Err("closed for business".into())
        }),
        ..SwarmConfig::default()
    });
    let addrs = listen(&b, "/memory/0").await;
    let a = support::swarm();
    // `accept` runs before any handshake byte: the dialer sees the connection end mid-upgrade.
    let err = a.dial_peer(b.local_peer(), addrs).await.unwrap_err();
    assert!(matches!(err, SwarmError::Dial(_)), "{err:?}");
    assert_eq!(refused.load(Ordering::Relaxed), 1);
    assert_eq!(b.stats().connections, 0);
    a.close().await;
    b.close().await;
}

#[tokio::test]
async fn no_dial_uses_only_existing_connections() {
    let (a, b) = (support::swarm(), support::swarm());
    let no_dial = DialOptions {
        no_dial: true,
        ..DialOptions::default()
    };
    match a
        .new_stream_with(b.local_peer(), &[echo::PROTOCOL], no_dial)
        .await
    {
        Err(SwarmError::NoConnection(p)) => assert_eq!(&p, b.local_peer()),
        x => panic!("{x:?}"),
    }
    assert_eq!(a.stats().active_dials, 0);
    a.close().await;
    b.close().await;
}

#[tokio::test]
async fn transports_and_listen_addresses_are_checked() {
    let a = support::swarm();
    match a.add_transport(MemoryTransport::new(a.upgrader().clone())) {
        Err(SwarmError::DuplicateTransport { existing, new, .. }) => {
            assert_eq!((existing, new), ("memory", "memory"));
        }
        x => panic!("{x:?}"),
    }
    let foreign = MemoryTransport::new(Upgrader::new(Keypair::generate_ed25519()));
    let fresh = Swarm::new(a.upgrader().clone(), SwarmConfig::default());
    assert!(matches!(
        fresh.add_transport(foreign),
        Err(SwarmError::ForeignTransport { .. })
    ));
    fresh.close().await;

    // One works, one has no transport: success with the failure reported.
    let report = a
        .listen(&[
            "/memory/0".parse().unwrap(),
            "/ip4/127.0.0.1/udp/0/quic-v1".parse().unwrap(),
        ])
        .await
        .unwrap();
    assert_eq!(report.listening.len(), 1);
    assert_eq!(report.failed.len(), 1);
    // None works: every failure in the error.
    let taken = report.listening[0].clone();
    match a
        .listen(&[taken, "/ip4/127.0.0.1/udp/0/quic-v1".parse().unwrap()])
        .await
    {
        Err(SwarmError::Listen(failures)) => assert_eq!(failures.len(), 2),
        x => panic!("{x:?}"),
    }
    a.close().await;
}

#[tokio::test]
async fn best_conn_prefers_more_streams_then_the_newest() {
    let (a, b) = (support::swarm(), support::swarm());
    let release = Arc::new(tokio::sync::Notify::new());
    let hold = release.clone();
    a.set_stream_handler("/hold", move |mut s| {
        let hold = hold.clone();
        async move {
            let _ = s.write_all(b"k").await;
            hold.notified().await;
        }
    });
    listen(&a, "/memory/0").await;
    let b_addrs = listen(&b, "/memory/0").await;
    let first = a.dial_peer(b.local_peer(), b_addrs).await.unwrap();
    // b already has a connection to a (inbound), so a second one is dialed through the
    // transport directly; it reaches a's table through a's listener.
    let extra = MemoryTransport::new(b.upgrader().clone());
    let listen_addr = a.listen_addrs()[0].clone();
    let second = extra
        .dial(&listen_addr, Some(a.local_peer().clone()))
        .await
        .unwrap();
    // Wait until a has both.
    while a.conns_to_peer(b.local_peer()).len() < 2 {
        tokio::task::yield_now().await;
    }
    // Same stream count: the newest wins.
    let best = a.best_conn(b.local_peer()).unwrap();
    assert_ne!(best.id(), first.id());
    // A stream being served on the older connection makes it the best.
    let first_on_b = b
        .conns_to_peer(a.local_peer())
        .into_iter()
        .find(|c| c.direction() == peernet::Direction::Inbound)
        .unwrap();
    let mut s = first_on_b.open_stream(&["/hold"]).await.unwrap();
    let mut k = [0u8; 1];
    s.read_exact(&mut k).await.unwrap();
    assert_eq!(a.best_conn(b.local_peer()).unwrap().id(), first.id());
    release.notify_waiters();
    drop(second);
    a.close().await;
    b.close().await;
}

/// Polls `done` until it holds (the swarm's bookkeeping runs on its own tasks).
async fn until(what: &str, done: impl Fn() -> bool) {
    for _ in 0..10_000 {
        if done() {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(1)).await;
    }
    panic!("never happened: {what}");
}

/// A TCP listener that accepts and never says a word; returns its address and the sockets.
async fn stalling_listener() -> (Multiaddr, tokio::task::JoinHandle<()>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = Multiaddr::tcp(listener.local_addr().unwrap());
    let task = tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((socket, _)) = listener.accept().await {
            held.push(socket);
        }
    });
    (addr, task)
}

/// A TCP proxy to `target` that holds every connection until `open` is set.
async fn gated_proxy(
    target: std::net::SocketAddr,
) -> (Multiaddr, tokio::sync::watch::Sender<bool>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = Multiaddr::tcp(listener.local_addr().unwrap());
    let (open, gate) = tokio::sync::watch::channel(false);
    tokio::spawn(async move {
        while let Ok((mut inbound, _)) = listener.accept().await {
            let mut gate = gate.clone();
            tokio::spawn(async move {
                if gate.wait_for(|open| *open).await.is_err() {
                    return;
                }
                let mut out = tokio::net::TcpStream::connect(target).await.unwrap();
                let _ = tokio::io::copy_bidirectional(&mut inbound, &mut out).await;
            });
        }
    });
    (addr, open)
}

fn socket_addr(addr: &Multiaddr) -> std::net::SocketAddr {
    let mut iter = addr.iter();
    match (iter.next(), iter.next()) {
        (Some(peernet::core::Protocol::Ip4(ip)), Some(peernet::core::Protocol::Tcp(port))) => {
            (ip, port).into()
        }
        _ => panic!("not an ip4/tcp address: {addr}"),
    }
}

#[tokio::test]
async fn a_stalled_handshake_times_out_and_frees_everything() {
    let mut config = SwarmConfig::default();
    // Loopback is private: the local per-dial timeout applies.
    config.dial.limiter.dial_timeout_local = std::time::Duration::from_millis(200);
    let a = support::swarm_with(config);
    let (stalled, _held) = stalling_listener().await;
    let peer = Keypair::generate_ed25519().public().to_peer_id();
    let e = dial_error(a.dial_peer(&peer, vec![stalled.clone()]).await.unwrap_err());
    assert_eq!(e.cause, DialErrorCause::AllDialsFailed);
    assert!(
        matches!(e.error_for(&stalled), Some(AddrDialError::Timeout)),
        "{e}"
    );
    until("the dial task ends", || a.stats().tasks == 1).await; // the driver remains
    let stats = a.stats();
    assert_eq!(
        (
            stats.active_dials,
            stats.dial_jobs,
            stats.pending_dials,
            stats.connections
        ),
        (0, 0, 0, 0)
    );
    a.close().await;
    assert_eq!(a.stats().tasks, 0);
}

#[tokio::test]
async fn one_caller_leaving_does_not_cancel_the_others_and_the_last_ends_the_dial() {
    let (a, b) = (support::swarm(), support::swarm());
    let b_addrs = listen(&b, "/ip4/127.0.0.1/tcp/0").await;
    let (proxy, open) = gated_proxy(socket_addr(&b_addrs[0])).await;
    let peer = b.local_peer().clone();
    let call = |a: &Swarm| {
        let (a, peer, addrs) = (a.clone(), peer.clone(), vec![proxy.clone()]);
        tokio::spawn(async move { a.dial_peer(&peer, addrs).await })
    };
    let first = call(&a);
    let second = call(&a);
    until("both callers wait", || a.stats().pending_dials == 2).await;
    assert_eq!((a.stats().active_dials, a.stats().dial_jobs), (1, 1));
    first.abort();
    assert!(first.await.unwrap_err().is_cancelled());
    assert_eq!(a.stats().pending_dials, 1);
    assert_eq!(
        a.stats().active_dials,
        1,
        "the dial goes on for the other caller"
    );
    open.send_replace(true);
    let conn = second.await.unwrap().unwrap();
    assert_eq!(conn.remote_peer(), &peer);
    assert_eq!(a.conns_to_peer(&peer).len(), 1);

    // A lone caller leaving ends its dial: worker, limiter job and dial task are gone.
    let (stalled, _held) = stalling_listener().await;
    let other = Keypair::generate_ed25519().public().to_peer_id();
    let tasks_before = a.stats().tasks;
    let lone = {
        let (a, addrs) = (a.clone(), vec![stalled]);
        tokio::spawn(async move { a.dial_peer(&other, addrs).await })
    };
    until("the dial starts", || a.stats().dial_jobs == 1).await;
    lone.abort();
    let _ = lone.await;
    let stats = a.stats();
    assert_eq!(
        (stats.active_dials, stats.dial_jobs, stats.pending_dials),
        (0, 0, 0)
    );
    until("the dial task is aborted", || {
        a.stats().tasks == tasks_before
    })
    .await;
    a.close().await;
    b.close().await;
}

#[tokio::test]
async fn close_peer_and_addresses_without_a_transport_still_dial_the_others() {
    let (a, b) = (support::swarm(), support::swarm());
    support::serve_echo(&b);
    let mut addrs = listen(&b, "/ip4/127.0.0.1/tcp/0").await;
    // No QUIC transport here: the QUIC address is skipped and TCP still dials.
    addrs.insert(0, "/ip4/127.0.0.1/udp/1/quic-v1".parse().unwrap());
    a.add_peer_addrs(b.local_peer(), addrs);
    support::echo_roundtrip(&a, b.local_peer(), b"tcp after all").await;
    let mut events = a.subscribe();
    a.close_peer(b.local_peer()).await;
    assert!(a.conns_to_peer(b.local_peer()).is_empty());
    assert!(
        matches!(events.recv().await.unwrap(), SwarmEvent::Disconnected { peer, .. } if &peer == b.local_peer())
    );
    until("b forgets a", || b.stats().connections == 0).await;
    a.close().await;
    b.close().await;
}

#[tokio::test(start_paused = true)]
async fn the_peer_dial_timeout_ends_a_dial_that_never_finishes() {
    let mut config = SwarmConfig::default();
    // Per-dial deadlines beyond the 60 s peer dial timeout, so that the latter fires.
    config.dial.limiter.dial_timeout = std::time::Duration::from_secs(600);
    config.dial.limiter.dial_timeout_local = std::time::Duration::from_secs(600);
    let upgrader = Upgrader::new(Keypair::generate_ed25519())
        .with_timeout(std::time::Duration::from_secs(600));
    let a = Swarm::new(upgrader, config);
    a.add_transport(TcpTransport::new(
        a.upgrader().clone(),
        TcpConfig::default(),
    ))
    .unwrap();
    let (stalled, _held) = stalling_listener().await;
    let peer = Keypair::generate_ed25519().public().to_peer_id();
    let started = tokio::time::Instant::now();
    let e = dial_error(a.dial_peer(&peer, vec![stalled]).await.unwrap_err());
    assert_eq!(e.cause, DialErrorCause::Timeout, "{e}");
    assert!(started.elapsed() >= std::time::Duration::from_secs(60));
    let stats = a.stats();
    assert_eq!(
        (stats.active_dials, stats.dial_jobs, stats.pending_dials),
        (0, 0, 0)
    );
    a.close().await;
    assert_eq!(a.stats().tasks, 0);
}

#[tokio::test]
async fn the_limiter_bounds_hold_with_a_thousand_queued_dials() {
    let mut config = SwarmConfig::default();
    config.dial.limiter.fd_limit = 16;
    config.dial.limiter.dial_timeout = std::time::Duration::from_secs(600);
    config.dial.limiter.dial_timeout_local = std::time::Duration::from_secs(600);
    let upgrader = Upgrader::new(Keypair::generate_ed25519())
        .with_timeout(std::time::Duration::from_secs(600));
    let a = Swarm::new(upgrader, config);
    a.add_transport(TcpTransport::new(
        a.upgrader().clone(),
        TcpConfig::default(),
    ))
    .unwrap();
    let mut addrs = Vec::new();
    let mut held = Vec::new();
    for _ in 0..10 {
        let (addr, task) = stalling_listener().await;
        addrs.push(addr);
        held.push(task);
    }
    let mut callers = Vec::new();
    for _ in 0..100 {
        let (a, addrs) = (a.clone(), addrs.clone());
        let peer = Keypair::generate_ed25519().public().to_peer_id();
        callers.push(tokio::spawn(async move { a.dial_peer(&peer, addrs).await }));
    }
    until("every caller waits", || a.stats().pending_dials == 100).await;
    // The ranker releases each peer's addresses over time; all 1,000 end up queued.
    until("every address is queued", || a.stats().dial_jobs == 1000).await;
    for _ in 0..50 {
        let stats = a.stats();
        assert_eq!(stats.dials_in_flight, 16, "{stats:?}");
        assert_eq!(stats.dial_jobs, 1000, "{stats:?}");
        tokio::time::sleep(std::time::Duration::from_millis(1)).await;
    }
    for c in &callers {
        c.abort();
    }
    for c in callers {
        let _ = c.await;
    }
    let stats = a.stats();
    assert_eq!(
        (stats.active_dials, stats.dial_jobs, stats.pending_dials),
        (0, 0, 0)
    );
    until("the dial tasks end", || a.stats().tasks == 1).await;
    a.close().await;
}

#[tokio::test]
async fn inbound_streams_are_negotiated_against_the_registered_handlers() {
    let (a, b) = (support::swarm(), support::swarm());
    support::serve_echo(&b);
    let addrs = listen(&b, "/memory/0").await;
    a.add_peer_addrs(b.local_peer(), addrs);
    // The first protocol b supports wins.
    let mut s = a
        .new_stream(b.local_peer(), &["/nope/1.0.0", echo::PROTOCOL])
        .await
        .unwrap();
    assert_eq!(s.protocol(), echo::PROTOCOL);
    s.write_all(b"x").await.unwrap();
    s.shutdown().await.unwrap();
    let mut back = Vec::new();
    s.read_to_end(&mut back).await.unwrap();
    assert_eq!(back, b"x");
    // A protocol b does not serve fails the stream, not the connection.
    match a
        .new_stream(b.local_peer(), &["/nope/1.0.0", "/nope/2.0.0"])
        .await
    {
        Err(SwarmError::Stream(_)) => {}
        x => panic!("{x:?}"),
    }
    b.remove_stream_handler(echo::PROTOCOL);
    let mut s = a
        .new_stream(b.local_peer(), &[echo::PROTOCOL])
        .await
        .unwrap();
    let mut buf = Vec::new();
    assert!(
        s.read_to_end(&mut buf).await.is_err(),
        "refused after removal"
    );
    assert_eq!(a.stats().connections, 1);
    a.close().await;
    b.close().await;
}

#[tokio::test]
async fn a_closed_connection_is_not_reused_and_a_dropping_remote_is_a_typed_error() {
    let (a, b) = (support::swarm(), support::swarm());
    support::serve_echo(&b);
    let addrs = listen(&b, "/memory/0").await;
    a.add_peer_addrs(b.local_peer(), addrs);
    support::echo_roundtrip(&a, b.local_peer(), b"one").await;
    let first = a.best_conn(b.local_peer()).unwrap();
    b.close_peer(a.local_peer()).await;
    until("a notices", || first.is_closed()).await;
    support::echo_roundtrip(&a, b.local_peer(), b"two").await;
    let second = a.best_conn(b.local_peer()).unwrap();
    assert_ne!(second.id(), first.id());

    // A remote that accepts and hangs up mid-handshake.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let slammer = Multiaddr::tcp(listener.local_addr().unwrap());
    tokio::spawn(async move {
        while let Ok((socket, _)) = listener.accept().await {
            drop(socket);
        }
    });
    let peer = Keypair::generate_ed25519().public().to_peer_id();
    let e = dial_error(a.dial_peer(&peer, vec![slammer.clone()]).await.unwrap_err());
    assert!(
        matches!(
            e.error_for(&slammer),
            Some(AddrDialError::Handshake(_) | AddrDialError::Io(_))
        ),
        "{e}"
    );
    a.close().await;
    b.close().await;
}

#[tokio::test]
async fn close_answers_waiting_callers_and_aborts_their_dials() {
    let a = support::swarm();
    let (stalled, _held) = stalling_listener().await;
    let peer = Keypair::generate_ed25519().public().to_peer_id();
    let caller = {
        let (a, addrs) = (a.clone(), vec![stalled]);
        tokio::spawn(async move { a.dial_peer(&peer, addrs).await })
    };
    until("the dial runs", || a.stats().dials_in_flight == 1).await;
    a.close().await;
    assert!(matches!(caller.await.unwrap(), Err(SwarmError::Closed)));
    let stats = a.stats();
    assert_eq!(
        (stats.tasks, stats.dials_in_flight, stats.pending_dials),
        (0, 0, 0)
    );
}

#[tokio::test]
async fn a_peer_on_tcp_and_quic_is_reached_over_quic_without_dialing_tcp() {
    let server = support::tcp_quic_swarm();
    support::serve_echo(&server);
    let addrs = server
        .listen(&[
            "/ip4/127.0.0.1/tcp/0".parse().unwrap(),
            "/ip4/127.0.0.1/udp/0/quic-v1".parse().unwrap(),
        ])
        .await
        .unwrap()
        .listening;
    assert_eq!(addrs.len(), 2);
    let mut events = server.subscribe();

    let client = support::tcp_quic_swarm();
    // TCP first in the list: the ranking, not the order given, decides.
    let mut sorted = addrs.clone();
    sorted.sort_by_key(|a| !a.to_string().contains("/tcp/"));
    client.add_peer_addrs(server.local_peer(), sorted);
    support::echo_roundtrip(&client, server.local_peer(), b"over quic").await;

    let conns = client.conns_to_peer(server.local_peer());
    assert_eq!(conns.len(), 1);
    assert_eq!(conns[0].muxer(), peernet::QUIC_MUXER);
    // The server saw exactly one connection: TCP was never dialed (its 30 ms delay behind
    // QUIC on a private address never ran out before QUIC succeeded, and a success cancels it).
    let first = events.recv().await.unwrap();
    assert!(matches!(first, SwarmEvent::Connected { .. }), "{first:?}");
    client.close().await;
    let mut connected = 1;
    while let Ok(Ok(event)) =
        tokio::time::timeout(std::time::Duration::from_millis(200), events.recv()).await
    {
        if matches!(event, SwarmEvent::Connected { .. }) {
            connected += 1;
        }
    }
    assert_eq!(connected, 1, "TCP must not have been dialed");
    server.close().await;
}

#[tokio::test]
async fn tcp_is_dialed_when_quic_fails() {
    let server = support::tcp_quic_swarm();
    support::serve_echo(&server);
    let tcp = listen(&server, "/ip4/127.0.0.1/tcp/0").await;
    let client = support::tcp_quic_swarm();
    // A QUIC address where nobody listens, and the real TCP address.
    let port = std::net::UdpSocket::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let dead_quic: Multiaddr = format!("/ip4/127.0.0.1/udp/{port}/quic-v1")
        .parse()
        .unwrap();
    let mut addrs = tcp.clone();
    addrs.push(dead_quic);
    client.add_peer_addrs(server.local_peer(), addrs);
    support::echo_roundtrip(&client, server.local_peer(), b"over tcp").await;
    let conns = client.conns_to_peer(server.local_peer());
    assert_eq!(conns[0].muxer(), "/yamux/1.0.0");
    client.close().await;
    server.close().await;
}

#[tokio::test(start_paused = true)]
async fn a_stream_that_never_finishes_negotiating_is_reset_after_the_timeout() {
    let (a, b) = (support::swarm(), support::swarm());
    support::serve_echo(&b);
    let addrs = listen(&b, "/memory/0").await;
    let conn = a.dial_peer(b.local_peer(), addrs).await.unwrap();
    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    let baseline = b.stats().tasks;
    // Propose a protocol b does not serve, then never propose again: b answers `na` and waits.
    let mut stream = conn.open_stream(&["/not-served/1.0.0"]).await.unwrap();
    tokio::time::sleep(std::time::Duration::from_secs(1)).await;
    assert_eq!(b.stats().tasks, baseline + 1, "b is negotiating the stream");
    tokio::time::sleep(peernet::STREAM_NEGOTIATION_TIMEOUT).await;
    assert_eq!(
        b.stats().tasks,
        baseline,
        "the negotiation task must end at its timeout"
    );
    // Our side learns the proposal was refused; the connection itself lives on.
    let mut buf = [0u8; 1];
    assert!(stream.read(&mut buf).await.is_err());
    assert!(!conn.is_closed());
    support::echo_roundtrip(&a, b.local_peer(), b"still fine").await;
    a.close().await;
    b.close().await;
}
