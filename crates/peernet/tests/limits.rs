//! Resource limits end to end: each limit refuses the newcomer and the error names the limit
//! (ours) or says the remote refused (theirs); permits come back when connections and streams
//! end; a flooding peer, a panicking handler and a handler that never returns do not stop the
//! node serving others.

use std::time::Duration;

use peernet::services::echo;
use peernet::{
    DialOptions, DirLimits, Host, Keypair, Limit, MemoryTransport, Multiaddr, Resource,
    ResourceLimits, ResourceStats, Scope, Swarm, SwarmConfig, SwarmError, TcpConfig, TcpTransport,
    Upgrader, WsTransport,
};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::mpsc;

mod support;

/// A protocol whose handler holds its stream until the remote closes it.
const HOLD: &str = "/test/hold/1.0.0";
/// A protocol whose handler never returns.
const STUCK: &str = "/test/stuck/1.0.0";
/// A protocol whose handler panics.
const PANIC: &str = "/test/panic/1.0.0";

fn swarm_with(limits: ResourceLimits) -> Swarm {
    support::swarm_with(SwarmConfig {
        limits,
        ..SwarmConfig::default()
    })
}

/// Echo, plus HOLD, STUCK and PANIC; each HOLD and STUCK handler reports on `started` once
/// it runs.
fn serve(swarm: &Swarm) -> mpsc::UnboundedReceiver<()> {
    let (started, rx) = mpsc::unbounded_channel();
    swarm.set_stream_handler(echo::PROTOCOL, |mut s| async move {
        let _ = echo::serve(&mut s).await;
    });
    let tx = started.clone();
    swarm.set_stream_handler(HOLD, move |mut s| {
        let tx = tx.clone();
        async move {
            let _ = tx.send(());
            let mut sink = Vec::new();
            let _ = s.read_to_end(&mut sink).await;
        }
    });
    swarm.set_stream_handler(STUCK, move |s| {
        let tx = started.clone();
        async move {
            let _ = tx.send(());
            let _held = s;
            std::future::pending::<()>().await;
        }
    });
    swarm.set_stream_handler(PANIC, |_s| async move {
        panic!("handler bug");
    });
    rx
}

async fn listen(swarm: &Swarm, addr: &str) -> Vec<Multiaddr> {
    swarm
        .listen(&[addr.parse().unwrap()])
        .await
        .unwrap()
        .listening
}

/// Waits for a condition another task brings about (permits given back when a remote's
/// close arrives); polls, never measures time.
async fn until(what: &str, done: impl Fn() -> bool) {
    for _ in 0..10_000 {
        if done() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    panic!("never happened: {what}");
}

fn limit(scope: Scope, resource: Resource, max: usize) -> Limit {
    Limit {
        scope,
        resource,
        max,
    }
}

fn local_limit(e: &SwarmError) -> Limit {
    e.resource_limit()
        .unwrap_or_else(|| panic!("expected a local resource limit, got {e:?}"))
        .limit
        .clone()
}

async fn close_all(swarms: &[&Swarm]) {
    for s in swarms {
        s.close().await;
    }
    for s in swarms {
        assert_eq!(s.resource_manager().stats(), ResourceStats::default());
    }
}

#[tokio::test]
async fn outbound_streams_per_connection_are_refused_locally_before_sending() {
    let a = swarm_with(ResourceLimits {
        conn_streams: DirLimits {
            inbound: 100,
            outbound: 1,
            total: 100,
        },
        ..ResourceLimits::default()
    });
    let b = support::swarm();
    let mut started = serve(&b);
    a.add_peer_addrs(b.local_peer(), listen(&b, "/memory/0").await);
    let held = a.new_stream(b.local_peer(), &[HOLD]).await.unwrap();
    started.recv().await.unwrap();

    let e = a
        .new_stream(b.local_peer(), &[echo::PROTOCOL])
        .await
        .unwrap_err();
    assert_eq!(
        local_limit(&e),
        limit(Scope::Connection, Resource::OutboundStreams, 1)
    );
    assert_eq!(
        e.resource_limit().unwrap().to_string(),
        "local resource limit: 1 outbound streams per connection (limit reached)"
    );
    assert_eq!(
        b.resource_manager().stats().streams_inbound,
        1,
        "nothing was sent"
    );

    drop(held);
    assert_eq!(a.resource_manager().stats().streams_outbound, 0);
    support::echo_roundtrip(&a, b.local_peer(), b"room again").await;
    close_all(&[&a, &b]).await;
}

#[tokio::test]
async fn inbound_streams_over_the_connection_limit_are_reset_and_the_dialer_hears_the_remote_refused(
) {
    let a = support::swarm();
    let b = swarm_with(ResourceLimits {
        conn_streams: DirLimits {
            inbound: 2,
            outbound: 100,
            total: 100,
        },
        ..ResourceLimits::default()
    });
    let mut started = serve(&b);
    a.add_peer_addrs(b.local_peer(), listen(&b, "/memory/0").await);
    let mut held = Vec::new();
    for _ in 0..2 {
        held.push(a.new_stream(b.local_peer(), &[HOLD]).await.unwrap());
        started.recv().await.unwrap();
    }

    // Two proposals: negotiation runs before `new_stream` returns, and meets the reset.
    let e = a
        .new_stream(b.local_peer(), &[echo::PROTOCOL, HOLD])
        .await
        .unwrap_err();
    assert!(
        matches!(
            e,
            SwarmError::Stream(peernet::StreamError::ResetByRemote(_))
        ),
        "{e:?}"
    );
    assert!(e.resource_limit().is_none(), "the remote's limit, not ours");
    // One proposal (optimistic): the first read says the remote refused.
    let mut s = a
        .new_stream(b.local_peer(), &[echo::PROTOCOL])
        .await
        .unwrap();
    let read = s.read(&mut [0; 8]).await.unwrap_err();
    assert_eq!(read.kind(), std::io::ErrorKind::ConnectionReset);
    assert!(
        read.to_string().contains("remote reset the stream"),
        "{read}"
    );
    assert_eq!(b.resource_manager().stats().streams_inbound, 2);

    drop((held, s));
    until("b gives the held streams back", || {
        b.resource_manager().stats().streams_inbound == 0
    })
    .await;
    support::echo_roundtrip(&a, b.local_peer(), b"served again").await;
    close_all(&[&a, &b]).await;
}

#[tokio::test]
async fn the_protocol_limit_refuses_only_that_protocol() {
    let a = support::swarm();
    let b = swarm_with(ResourceLimits {
        protocol_streams: DirLimits {
            inbound: 1,
            outbound: 100,
            total: 100,
        },
        ..ResourceLimits::default()
    });
    let mut started = serve(&b);
    a.add_peer_addrs(b.local_peer(), listen(&b, "/memory/0").await);
    let held = a.new_stream(b.local_peer(), &[HOLD]).await.unwrap();
    started.recv().await.unwrap();

    // Negotiated, then refused by b's protocol scope (go's SetProtocol) and reset.
    let mut second = a.new_stream(b.local_peer(), &[HOLD]).await.unwrap();
    let mut buf = Vec::new();
    let read = second.read_to_end(&mut buf).await.unwrap_err();
    assert_eq!(read.kind(), std::io::ErrorKind::ConnectionReset);
    // Other protocols are served meanwhile.
    support::echo_roundtrip(&a, b.local_peer(), b"another protocol").await;
    let stats = b.resource_manager().stats();
    assert_eq!((stats.streams_inbound, stats.protocols), (1, 1));
    drop((held, second));
    close_all(&[&a, &b]).await;
}

#[tokio::test]
async fn a_dial_over_the_outbound_connection_limit_is_refused_without_traffic() {
    let a = swarm_with(ResourceLimits {
        system_conns: DirLimits {
            inbound: 100,
            outbound: 1,
            total: 100,
        },
        ..ResourceLimits::default()
    });
    let (b, c) = (support::swarm(), support::swarm());
    serve(&b);
    serve(&c);
    a.add_peer_addrs(b.local_peer(), listen(&b, "/memory/0").await);
    a.add_peer_addrs(c.local_peer(), listen(&c, "/memory/0").await);
    support::echo_roundtrip(&a, b.local_peer(), b"first").await;

    let e = a
        .new_stream(c.local_peer(), &[echo::PROTOCOL])
        .await
        .unwrap_err();
    assert_eq!(
        local_limit(&e),
        limit(Scope::System, Resource::OutboundConnections, 1)
    );
    assert!(matches!(e, SwarmError::ResourceLimit(_)));
    let host_error = peernet::HostError::Swarm(e);
    assert_eq!(
        host_error.resource_limit().map(|e| e.limit.resource),
        Some(Resource::OutboundConnections)
    );
    assert_eq!(c.resource_manager().stats(), ResourceStats::default());
    assert!(c.peers().is_empty(), "c never heard of a");

    a.close_peer(b.local_peer()).await;
    assert_eq!(a.resource_manager().stats().conns_outbound, 0);
    support::echo_roundtrip(&a, c.local_peer(), b"now c").await;
    close_all(&[&a, &b, &c]).await;
}

#[tokio::test]
async fn inbound_connections_over_the_system_limit_are_refused_and_freed_on_close() {
    let server = swarm_with(ResourceLimits {
        system_conns: DirLimits {
            inbound: 1,
            outbound: 100,
            total: 100,
        },
        ..ResourceLimits::default()
    });
    serve(&server);
    let addrs = listen(&server, "/memory/0").await;
    let (first, second) = (support::swarm(), support::swarm());
    first.add_peer_addrs(server.local_peer(), addrs.clone());
    second.add_peer_addrs(server.local_peer(), addrs.clone());
    support::echo_roundtrip(&first, server.local_peer(), b"first").await;

    let refused = second.dial_peer(server.local_peer(), addrs.clone()).await;
    assert!(matches!(refused, Err(SwarmError::Dial(_))), "{refused:?}");
    assert_eq!(server.resource_manager().stats().conns_inbound, 1);
    assert_eq!(server.peers(), vec![first.local_peer().clone()]);

    first.close().await;
    until("the server sees first go", || {
        server.resource_manager().stats().conns_inbound == 0
    })
    .await;
    let force = DialOptions {
        force_direct: true,
        ..DialOptions::default()
    };
    second
        .dial_peer_with(server.local_peer(), addrs, force)
        .await
        .unwrap();
    support::echo_roundtrip(&second, server.local_peer(), b"second").await;
    close_all(&[&second, &server]).await;
}

#[tokio::test]
async fn a_second_connection_from_a_peer_over_its_limit_is_refused_after_the_handshake() {
    let server = swarm_with(ResourceLimits {
        peer_conns: DirLimits {
            inbound: 1,
            outbound: 8,
            total: 8,
        },
        ..ResourceLimits::default()
    });
    serve(&server);
    let addrs = listen(&server, "/memory/0").await;
    let key = Keypair::generate_ed25519();
    let client = Swarm::new(Upgrader::new(key.clone()), SwarmConfig::default());
    client
        .add_transport(MemoryTransport::new(client.upgrader().clone()))
        .unwrap();
    client.add_peer_addrs(server.local_peer(), addrs.clone());
    support::echo_roundtrip(&client, server.local_peer(), b"one").await;

    // The same peer again, through a bare transport (the swarm would reuse its connection).
    let bare = MemoryTransport::new(Upgrader::new(key));
    let second = bare
        .dial(&addrs[0], Some(server.local_peer().clone()))
        .await;
    if let Ok(conn) = &second {
        // The muxer came with the handshake: the server closes the connection at once.
        conn.closed().await;
    }
    let third_peer = support::swarm();
    third_peer.add_peer_addrs(server.local_peer(), addrs);
    support::echo_roundtrip(&third_peer, server.local_peer(), b"others welcome").await;
    assert_eq!(server.conns_to_peer(client.local_peer()).len(), 1);
    let stats = server.resource_manager().stats();
    assert_eq!((stats.conns_inbound, stats.peers), (2, 2));
    drop(second);
    close_all(&[&client, &third_peer, &server]).await;
}

/// A TCP server on loopback with `limits`, its addresses and port. Its handshakes may take an
/// hour, so a socket it did not refuse stays open.
async fn tcp_server(limits: ResourceLimits) -> (Swarm, Vec<Multiaddr>, u16) {
    let config = SwarmConfig {
        limits,
        ..SwarmConfig::default()
    };
    let upgrader =
        Upgrader::new(Keypair::generate_ed25519()).with_timeout(Duration::from_secs(3600));
    let server = Swarm::new(upgrader, config);
    server
        .add_transport(TcpTransport::new(
            server.upgrader().clone(),
            TcpConfig::default(),
        ))
        .unwrap();
    serve(&server);
    let addrs = listen(&server, "/ip4/127.0.0.1/tcp/0").await;
    let Some(peernet::core::Protocol::Tcp(port)) = addrs[0].iter().nth(1) else {
        panic!("not a tcp address: {}", addrs[0]);
    };
    (server, addrs, port)
}

/// Connects a socket that never says a word, and waits until the server counts it.
async fn silent_socket(
    server: &Swarm,
    port: u16,
    expected_handshakes: usize,
) -> tokio::net::TcpStream {
    let socket = tokio::net::TcpStream::connect(("127.0.0.1", port))
        .await
        .unwrap();
    until("the server starts the handshake", || {
        server.resource_manager().stats().inbound_handshakes == expected_handshakes
    })
    .await;
    socket
}

/// A socket the server refuses before its handshake: closed without a byte. (One it accepted
/// would stay open for the hour-long handshake timeout; the bound below only keeps a broken
/// limit from hanging the test.)
async fn assert_closed_at_once(port: u16) {
    let mut socket = tokio::net::TcpStream::connect(("127.0.0.1", port))
        .await
        .unwrap();
    let mut buf = [0u8; 64];
    let read = tokio::time::timeout(Duration::from_secs(30), socket.read(&mut buf))
        .await
        .expect("the server kept the socket open: it was not refused");
    assert_eq!(
        read.unwrap_or(0),
        0,
        "the refused socket gets no byte, only the close"
    );
}

#[tokio::test]
async fn a_flood_from_one_ip_is_refused_before_the_handshake() {
    let (server, addrs, port) = tcp_server(ResourceLimits {
        conns_per_loopback_ip: 2,
        ..ResourceLimits::default()
    })
    .await;
    let s1 = silent_socket(&server, port, 1).await;
    let s2 = silent_socket(&server, port, 2).await;
    for _ in 0..20 {
        assert_closed_at_once(port).await;
    }
    let stats = server.resource_manager().stats();
    assert_eq!(
        (stats.inbound_handshakes, stats.conns_inbound, stats.ips),
        (2, 2, 1)
    );

    // One silent socket leaves: its slot comes back and a real peer gets in.
    drop(s1);
    until("the server drops the silent socket", || {
        server.resource_manager().stats().conns_inbound == 1
    })
    .await;
    let client = support::swarm();
    client.add_peer_addrs(server.local_peer(), addrs);
    support::echo_roundtrip(&client, server.local_peer(), b"let in").await;
    // The silent socket's handshake runs on the transport's task, not the swarm's: it ends
    // when the socket does.
    drop(s2);
    client.close().await;
    until("every permit is back", || {
        server.resource_manager().stats() == ResourceStats::default()
    })
    .await;
    server.close().await;
}

#[tokio::test]
async fn handshakes_in_progress_are_limited() {
    let (server, _addrs, port) = tcp_server(ResourceLimits {
        inbound_handshakes: 1,
        ..ResourceLimits::default()
    })
    .await;
    let silent = silent_socket(&server, port, 1).await;
    assert_closed_at_once(port).await;
    drop(silent);
    until("the handshake slot comes back", || {
        server.resource_manager().stats().inbound_handshakes == 0
    })
    .await;
    let again = silent_socket(&server, port, 1).await;
    drop(again);
    until("every permit is back", || {
        server.resource_manager().stats() == ResourceStats::default()
    })
    .await;
    server.close().await;
}

#[tokio::test]
async fn a_peer_flooding_streams_is_refused_while_another_is_served() {
    let server = swarm_with(ResourceLimits {
        peer_streams: DirLimits {
            inbound: 4,
            outbound: 100,
            total: 100,
        },
        ..ResourceLimits::default()
    });
    let mut started = serve(&server);
    let addrs = listen(&server, "/memory/0").await;
    let (flooder, other) = (support::swarm(), support::swarm());
    flooder.add_peer_addrs(server.local_peer(), addrs.clone());
    other.add_peer_addrs(server.local_peer(), addrs);

    let mut stuck = Vec::new();
    for _ in 0..4 {
        stuck.push(
            flooder
                .new_stream(server.local_peer(), &[STUCK])
                .await
                .unwrap(),
        );
        started.recv().await.unwrap();
    }
    for _ in 0..50 {
        let refused = flooder
            .new_stream(server.local_peer(), &[echo::PROTOCOL, STUCK])
            .await
            .unwrap_err();
        assert!(
            matches!(
                refused,
                SwarmError::Stream(peernet::StreamError::ResetByRemote(_))
            ),
            "{refused:?}"
        );
    }
    for i in 0..10u8 {
        support::echo_roundtrip(&other, server.local_peer(), &[i; 100]).await;
    }
    assert_eq!(server.resource_manager().stats().streams_inbound, 4);

    // The stuck handlers hold only their own streams; closing the flooder frees them.
    flooder.close().await;
    drop(stuck);
    until("the flooder's connection ends on the server", || {
        server.peers() == vec![other.local_peer().clone()]
    })
    .await;
    let stats = server.resource_manager().stats();
    assert_eq!(stats.conns_inbound, 1);
    close_all(&[&other, &server]).await;
}

#[tokio::test]
async fn panicking_handlers_give_their_streams_back() {
    let server = swarm_with(ResourceLimits {
        conn_streams: DirLimits {
            inbound: 2,
            outbound: 100,
            total: 100,
        },
        ..ResourceLimits::default()
    });
    serve(&server);
    let client = support::swarm();
    client.add_peer_addrs(server.local_peer(), listen(&server, "/memory/0").await);
    // Ten panics one after another on a connection allowing two streams: a leaked permit
    // would have the third refused.
    for _ in 0..10 {
        // The reset may come before or after the confirmation is read.
        match client
            .new_stream(server.local_peer(), &[PANIC, "/unused"])
            .await
        {
            Ok(mut s) => {
                let mut buf = Vec::new();
                let _ = s.read_to_end(&mut buf).await;
                assert!(buf.is_empty());
            }
            Err(e) => assert!(
                matches!(
                    e,
                    SwarmError::Stream(peernet::StreamError::ResetByRemote(_))
                ),
                "{e:?}"
            ),
        }
    }
    support::echo_roundtrip(&client, server.local_peer(), b"still serving").await;
    assert_eq!(server.resource_manager().stats().streams_inbound, 0);
    assert_eq!(server.stats().connections, 1);
    close_all(&[&client, &server]).await;
}

#[tokio::test]
async fn the_host_builder_takes_resource_limits() {
    let limits = ResourceLimits {
        conns_per_ip: 3,
        ..ResourceLimits::default()
    };
    let host = Host::builder()
        .listen_addrs(["/memory/0".parse().unwrap()])
        .resource_limits(limits.clone())
        .build()
        .await
        .unwrap();
    assert_eq!(host.swarm().resource_manager().limits(), &limits);
    let default = Host::builder().no_listen().build().await.unwrap();
    assert_eq!(
        default.swarm().resource_manager().limits(),
        &ResourceLimits::default()
    );
    host.close().await;
    default.close().await;
}

fn quic_swarm(limits: ResourceLimits) -> Swarm {
    let keypair = Keypair::generate_ed25519();
    let config = SwarmConfig {
        limits,
        ..SwarmConfig::default()
    };
    let swarm = Swarm::new(Upgrader::new(keypair.clone()), config);
    swarm
        .add_transport(
            peernet::QuicTransport::new(&keypair, peernet::QuicConfig::default()).unwrap(),
        )
        .unwrap();
    swarm
}

#[tokio::test]
async fn quic_connections_and_streams_are_counted_and_limited_too() {
    let server = quic_swarm(ResourceLimits {
        system_conns: DirLimits {
            inbound: 1,
            outbound: 100,
            total: 100,
        },
        ..ResourceLimits::default()
    });
    serve(&server);
    let addrs = listen(&server, "/ip4/127.0.0.1/udp/0/quic-v1").await;
    let client = quic_swarm(ResourceLimits {
        conn_streams: DirLimits {
            inbound: 100,
            outbound: 1,
            total: 100,
        },
        ..ResourceLimits::default()
    });
    client.add_peer_addrs(server.local_peer(), addrs.clone());
    let held = client
        .new_stream(server.local_peer(), &[HOLD])
        .await
        .unwrap();
    let e = client
        .new_stream(server.local_peer(), &[echo::PROTOCOL])
        .await
        .unwrap_err();
    assert_eq!(
        local_limit(&e),
        limit(Scope::Connection, Resource::OutboundStreams, 1)
    );
    assert_eq!(client.resource_manager().stats().conns_outbound, 1);
    until("the server takes the connection in", || {
        server.resource_manager().stats().conns_inbound == 1
    })
    .await;

    // A second QUIC client is over the server's inbound limit: refused once up, never joins.
    let second = quic_swarm(ResourceLimits::default());
    let conn = second
        .dial_peer(server.local_peer(), addrs)
        .await
        .expect("quinn completes the handshake before the swarm checks");
    conn.closed().await;
    assert_eq!(server.peers(), vec![client.local_peer().clone()]);
    assert_eq!(server.resource_manager().stats().conns_inbound, 1);
    drop((held, conn));
    close_all(&[&client, &second, &server]).await;
}

#[tokio::test]
async fn a_connection_the_remote_refuses_after_the_handshake_is_reported_as_the_remote_s_doing() {
    let server = swarm_with(ResourceLimits {
        peer_conns: DirLimits {
            inbound: 0,
            outbound: 8,
            total: 8,
        },
        ..ResourceLimits::default()
    });
    serve(&server);
    let client = support::swarm();
    client.add_peer_addrs(server.local_peer(), listen(&server, "/memory/0").await);
    let e = client
        .new_stream(server.local_peer(), &[echo::PROTOCOL, HOLD])
        .await
        .unwrap_err();
    assert!(
        matches!(
            e,
            SwarmError::Stream(peernet::StreamError::ClosedByRemote(_))
        ),
        "{e:?}"
    );
    assert!(e.resource_limit().is_none(), "the remote's limit, not ours");
    assert!(peernet::HostError::Swarm(e).resource_limit().is_none());
    assert!(server.peers().is_empty());
    assert_eq!(server.resource_manager().stats(), ResourceStats::default());
    close_all(&[&client, &server]).await;
}

#[tokio::test]
async fn a_host_flooded_with_ping_streams_keeps_its_limit_and_serves_others() {
    use peernet::services::ping;
    let per_peer = 4;
    let server = Host::builder()
        .listen_addrs(["/memory/0".parse().unwrap()])
        .resource_limits(ResourceLimits {
            peer_streams: DirLimits {
                inbound: per_peer,
                outbound: 100,
                total: 100,
            },
            ..ResourceLimits::default()
        })
        .build()
        .await
        .unwrap();
    let server_info = peernet::AddrInfo {
        peer_id: server.id().clone(),
        addrs: server.listen_addrs(),
    };
    let flooder = Host::builder().no_listen().build().await.unwrap();
    flooder.connect(server_info.clone()).await.unwrap();

    // Forty ping streams kept open: each answered ping holds one of the server's slots.
    let (mut answered, mut refused, mut open) = (0, 0, Vec::new());
    for _ in 0..40 {
        match flooder.new_stream(server.id(), &[ping::PROTOCOL]).await {
            Ok(mut s) => match ping::ping(&mut s).await {
                Ok(_) => {
                    answered += 1;
                    open.push(s);
                }
                Err(_) => refused += 1,
            },
            Err(_) => refused += 1,
        }
    }
    assert!(
        (1..=per_peer).contains(&answered),
        "{answered} ping streams were served"
    );
    assert_eq!(answered + refused, 40);

    let other = Host::builder().no_listen().build().await.unwrap();
    other.connect(server_info).await.unwrap();
    for _ in 0..5 {
        other.ping(server.id()).await.unwrap();
    }

    drop(open);
    flooder.close().await;
    other.close().await;
    until("the server gives every permit back", || {
        server.swarm().resource_manager().stats() == ResourceStats::default()
    })
    .await;
    server.close().await;
}

#[tokio::test]
async fn a_websocket_connection_over_the_limit_is_refused_before_its_http_handshake() {
    let with_ws = |swarm: Swarm| {
        swarm
            .add_transport(WsTransport::new(
                swarm.upgrader().clone(),
                TcpConfig::default(),
            ))
            .unwrap();
        swarm
    };
    let server = with_ws(swarm_with(ResourceLimits {
        system_conns: DirLimits {
            inbound: 1,
            outbound: 100,
            total: 100,
        },
        ..ResourceLimits::default()
    }));
    serve(&server);
    let addrs = listen(&server, "/ip4/127.0.0.1/tcp/0/ws").await;
    let first = with_ws(support::swarm());
    first.add_peer_addrs(server.local_peer(), addrs.clone());
    support::echo_roundtrip(&first, server.local_peer(), b"first").await;

    // A second client's WebSocket upgrade request gets no answer: the connection is closed
    // before the HTTP handshake (which would answer `101 Switching Protocols`).
    let port = addrs[0].socket_addr().unwrap().port();
    let mut raw = tokio::net::TcpStream::connect(("127.0.0.1", port))
        .await
        .unwrap();
    let request = format!(
        "GET / HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
    );
    // The server may already have closed: a failed write is the same answer.
    let _ = raw.write_all(request.as_bytes()).await;
    let mut answer = Vec::new();
    let read = tokio::time::timeout(Duration::from_secs(30), raw.read_to_end(&mut answer)).await;
    assert!(read.is_ok(), "the refused connection was left open");
    assert!(
        !String::from_utf8_lossy(&answer).starts_with("HTTP/1.1 101"),
        "the refused connection got a WebSocket handshake: {:?}",
        String::from_utf8_lossy(&answer)
    );
    assert!(answer.is_empty(), "{:?}", String::from_utf8_lossy(&answer));
    assert_eq!(server.resource_manager().stats().conns_inbound, 1);
    close_all(&[&first, &server]).await;
}
