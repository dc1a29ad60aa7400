use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};

use super::*;
use crate::swarm::SwarmError;
use peernet_core::ping::MAX_INBOUND_STREAMS_PER_PEER;
use peernet_core::TransportKind;
use peernet_core::{AddrInfo, PeerId};
use tokio::sync::broadcast;

use crate::services::ping;

async fn memory_host() -> Host {
    Host::builder()
        .listen_addrs(["/memory/0".parse().unwrap()])
        .build()
        .await
        .unwrap()
}

fn info(host: &Host) -> AddrInfo {
    AddrInfo {
        peer_id: host.id().clone(),
        addrs: host.listen_addrs(),
    }
}

/// Writes `msg`, half-closes and reads the reply on a new stream.
async fn ask(client: &Host, server: &PeerId, protocols: &[&str], msg: &str) -> (String, String) {
    let mut s = client.new_stream(server, protocols).await.unwrap();
    s.write_all(msg.as_bytes()).await.unwrap();
    s.shutdown().await.unwrap();
    let mut reply = String::new();
    s.read_to_string(&mut reply).await.unwrap();
    (s.protocol().to_owned(), reply)
}

fn reply_with(host: &Host, protocol: &str, tag: &'static str) {
    host.set_stream_handler(protocol, move |mut s| async move {
        let mut buf = String::new();
        let _ = s.read_to_string(&mut buf).await;
        let _ = s.write_all(format!("{tag}:{buf}").as_bytes()).await;
        let _ = s.shutdown().await;
    });
}

/// Waits for the next event matching `f`.
async fn wait_for(
    events: &mut broadcast::Receiver<HostEvent>,
    mut f: impl FnMut(&HostEvent) -> bool,
) -> HostEvent {
    tokio::time::timeout(Duration::from_secs(10), async {
        loop {
            let e = events.recv().await.unwrap();
            if f(&e) {
                return e;
            }
        }
    })
    .await
    .unwrap()
}

#[tokio::test]
async fn defaults_listen_on_tcp_and_quic_and_announce_full_addresses() {
    let host = Host::builder().build().await.unwrap();
    let addrs = host.addrs();
    // One address per interface (0.0.0.0 expanded), each transport's loopback first.
    let mut kinds: Vec<TransportKind> = addrs.iter().map(|a| a.transport_kind()).collect();
    kinds.dedup();
    assert_eq!(
        kinds,
        [TransportKind::Tcp, TransportKind::QuicV1],
        "{addrs:?}"
    );
    for kind in [TransportKind::Tcp, TransportKind::QuicV1] {
        let first = addrs.iter().find(|a| a.transport_kind() == kind).unwrap();
        assert!(first.is_loopback(), "{first}");
    }
    assert!(
        addrs
            .iter()
            .all(|a| a.ip_addr().is_some_and(|ip| !ip.is_unspecified())),
        "{addrs:?}"
    );
    for a in &addrs {
        assert_eq!(a.peer_id().as_ref(), Some(host.id()));
    }
    // QUIC always runs TLS: an insecure host listens on TCP only.
    let insecure = Host::builder().insecure().build().await.unwrap();
    let mut kinds: Vec<TransportKind> = insecure
        .addrs()
        .iter()
        .map(|a| a.transport_kind())
        .collect();
    kinds.dedup();
    assert_eq!(kinds, [TransportKind::Tcp]);
    host.close().await;
    insecure.close().await;
}

#[tokio::test]
async fn hosts_reach_each_other_over_quic() {
    let server = Host::builder()
        .listen_addrs(["/ip4/127.0.0.1/udp/0/quic-v1".parse().unwrap()])
        .build()
        .await
        .unwrap();
    reply_with(&server, "/q/1.0.0", "quic");
    let client = Host::builder().no_listen().build().await.unwrap();
    client.connect(info(&server)).await.unwrap();
    assert_eq!(
        ask(&client, server.id(), &["/q/1.0.0"], "x").await.1,
        "quic:x"
    );
    let conns = client.swarm().conns_to_peer(server.id());
    assert_eq!(conns[0].muxer(), crate::transport::QUIC_MUXER);
    client.close().await;
    server.close().await;
}

#[tokio::test]
async fn handler_replacement_and_match_function() {
    let (server, client) = (memory_host().await, memory_host().await);
    reply_with(&server, "/a/1.0.0", "first");
    client.connect(info(&server)).await.unwrap();
    assert_eq!(
        ask(&client, server.id(), &["/a/1.0.0"], "x").await.1,
        "first:x"
    );
    reply_with(&server, "/a/1.0.0", "second");
    assert_eq!(
        ask(&client, server.id(), &["/a/1.0.0"], "x").await.1,
        "second:x"
    );

    server.set_stream_handler_match(
        "/v/1.0.0",
        |p| p.starts_with("/v/1."),
        |mut s| async move {
            let p = s.protocol().to_owned();
            let _ = s.write_all(p.as_bytes()).await;
            let _ = s.shutdown().await;
        },
    );
    let (protocol, reply) = ask(&client, server.id(), &["/v/1.7.0"], "").await;
    assert_eq!(
        (protocol.as_str(), reply.as_str()),
        ("/v/1.7.0", "/v/1.7.0")
    );
    // One protocol is proposed optimistically: the refusal shows on the first read.
    let mut s = client.new_stream(server.id(), &["/v/2.0.0"]).await.unwrap();
    assert!(s.read(&mut [0u8; 1]).await.is_err());

    server.remove_stream_handler("/a/1.0.0");
    assert!(!server.protocols().contains(&"/a/1.0.0".to_owned()));
    let mut s = client.new_stream(server.id(), &["/a/1.0.0"]).await.unwrap();
    assert!(s.read(&mut [0u8; 1]).await.is_err());
    client.close().await;
    server.close().await;
}

#[tokio::test]
async fn new_stream_negotiates_the_first_supported_protocol() {
    let (server, client) = (memory_host().await, memory_host().await);
    reply_with(&server, "/b/1.0.0", "b");
    reply_with(&server, "/c/1.0.0", "c");
    client
        .peerstore()
        .add_addrs(server.id(), server.listen_addrs(), AddrTtl::Permanent)
        .unwrap();
    // Dialed from the peerstore; /a is not supported, /b is the first that is.
    let (protocol, reply) = ask(
        &client,
        server.id(),
        &["/a/1.0.0", "/b/1.0.0", "/c/1.0.0"],
        "1",
    )
    .await;
    assert_eq!((protocol.as_str(), reply.as_str()), ("/b/1.0.0", "b:1"));
    let err = client
        .new_stream(server.id(), &["/x/1.0.0", "/y/1.0.0"])
        .await
        .unwrap_err();
    assert!(
        matches!(err, HostError::Swarm(SwarmError::Stream(_))),
        "{err:?}"
    );
    client.close().await;
    server.close().await;
}

#[tokio::test]
async fn identify_fills_both_peerstores_and_push_updates_them() {
    let server = Host::builder()
        .listen_addrs(["/memory/0".parse().unwrap()])
        .user_agent("server/1")
        .build()
        .await
        .unwrap();
    let client = memory_host().await;
    reply_with(&server, "/echo/1.0.0", "e");
    let mut server_events = server.subscribe();
    let mut client_events = client.subscribe();
    client.connect(info(&server)).await.unwrap();

    // The client identified the server (outbound connection)...
    let e = wait_for(&mut client_events, |e| {
        matches!(e, HostEvent::Identified { .. })
    })
    .await;
    let HostEvent::Identified { peer, info: got } = e else {
        unreachable!()
    };
    assert_eq!(&peer, server.id());
    assert!(got.message.signed_peer_record.is_some());
    let ps = client.peerstore();
    assert_eq!(ps.agent_version(server.id()).as_deref(), Some("server/1"));
    assert_eq!(
        ps.protocol_version(server.id()).as_deref(),
        Some(PROTOCOL_VERSION)
    );
    let protocols = ps.protocols(server.id());
    for p in [
        "/echo/1.0.0",
        peernet_core::identify::PROTOCOL,
        peernet_core::identify::PUSH_PROTOCOL,
    ] {
        assert!(protocols.iter().any(|x| x == p), "{p} in {protocols:?}");
    }
    assert_eq!(ps.addrs(server.id()), server.listen_addrs());
    assert!(ps.public_key(server.id()).is_some());
    // The signed record is kept, and asking again (addresses unchanged) brings the same
    // record back: the sequence number only moves when the addresses do.
    let held = ps.peer_record(server.id()).expect("signed record kept");
    assert_eq!(Some(&held), got.message.signed_peer_record.as_ref());
    let again = client.identify(server.id()).await.unwrap();
    assert_eq!(again.message.signed_peer_record, Some(held));

    // ...and the server identified the client (inbound connection).
    wait_for(
        &mut server_events,
        |e| matches!(e, HostEvent::Identified { peer, .. } if peer == client.id()),
    )
    .await;
    assert_eq!(
        server.peerstore().agent_version(client.id()).as_deref(),
        Some(DEFAULT_USER_AGENT)
    );
    assert_eq!(server.peerstore().addrs(client.id()), client.listen_addrs());

    // A new handler on the server is pushed to the client.
    reply_with(&server, "/new/1.0.0", "n");
    wait_for(&mut client_events, |e| {
        matches!(e, HostEvent::Pushed { .. })
    })
    .await;
    assert!(ps.protocols(server.id()).iter().any(|p| p == "/new/1.0.0"));
    // And so is its removal.
    server.remove_stream_handler("/echo/1.0.0");
    wait_for(&mut client_events, |e| {
        matches!(e, HostEvent::Pushed { .. })
    })
    .await;
    assert!(!ps.protocols(server.id()).iter().any(|p| p == "/echo/1.0.0"));

    // An explicit identify returns the same view.
    let again = client.identify(server.id()).await.unwrap();
    assert!(again.message.protocols.iter().any(|p| p == "/new/1.0.0"));
    assert!(again.message.observed_addr.is_some());
    assert!(!client.observed_addrs().is_empty());
    client.close().await;
    server.close().await;
}

#[tokio::test]
async fn oversized_identify_is_refused_and_the_host_keeps_serving() {
    let (server, client) = (memory_host().await, memory_host().await);
    // A fake identify answer: a prefix announcing more than the cap.
    let evil = memory_host().await;
    evil.swarm()
        .set_stream_handler(peernet_core::identify::PROTOCOL, |mut s| async move {
            let mut prefix = Vec::new();
            peernet_core::varint::encode(1 << 20, &mut prefix);
            let _ = s.write_all(&prefix).await;
            let _ = s.write_all(&[0u8; 1024]).await;
            let _ = s.shutdown().await;
            let _ = s.read_to_end(&mut Vec::new()).await;
        });
    client.connect(info(&evil)).await.unwrap();
    let err = client.identify(evil.id()).await.unwrap_err();
    assert!(
        matches!(err, HostError::Identify { ref peer, .. } if peer == evil.id()),
        "{err:?}"
    );
    reply_with(&server, "/ok/1.0.0", "ok");
    client.connect(info(&server)).await.unwrap();
    assert_eq!(
        ask(&client, server.id(), &["/ok/1.0.0"], "1").await.1,
        "ok:1"
    );
    for h in [client, server, evil] {
        h.close().await;
    }
}

#[tokio::test]
async fn connection_manager_trims_to_the_low_watermark_and_spares_protected_peers() {
    let server = Host::builder()
        .listen_addrs(["/memory/0".parse().unwrap()])
        .conn_manager(ConnManagerConfig {
            low_water: 2,
            high_water: 4,
            grace_period: Duration::ZERO,
        })
        .build()
        .await
        .unwrap();
    let mut clients = Vec::new();
    for _ in 0..4 {
        let c = memory_host().await;
        c.connect(info(&server)).await.unwrap();
        clients.push(c);
    }
    server.conn_manager().protect(clients[0].id(), "friend");
    server
        .conn_manager()
        .tag_peer(clients[1].id(), "useful", 10);
    // At the high watermark: nothing to trim.
    assert!(server.trim_open_conns().await.is_empty());

    // The fifth connection takes the server over the high watermark; it trims to two.
    let last = memory_host().await;
    last.connect(info(&server)).await.unwrap();
    tokio::time::timeout(Duration::from_secs(10), async {
        while server.swarm().stats().connections > 2 {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    })
    .await
    .unwrap();
    let peers = server.swarm().peers();
    assert_eq!(peers.len(), 2, "{peers:?}");
    assert!(peers.contains(clients[0].id()), "protected peer kept");
    assert!(peers.contains(clients[1].id()), "most valuable peer kept");
    for h in clients.into_iter().chain([last, server]) {
        h.close().await;
    }
}

#[tokio::test]
async fn ping_is_served_and_records_latency_and_floods_are_limited() {
    let (server, client) = (memory_host().await, memory_host().await);
    client.connect(info(&server)).await.unwrap();
    assert!(server.protocols().iter().any(|p| p == ping::PROTOCOL));
    let rtt = client.ping(server.id()).await.unwrap();
    assert_eq!(client.peerstore().latency(server.id()), Some(rtt));

    // Two ping streams at once are served; a third is reset while they stay open.
    let mut open = Vec::new();
    for _ in 0..MAX_INBOUND_STREAMS_PER_PEER {
        let mut s = client
            .new_stream(server.id(), &[ping::PROTOCOL])
            .await
            .unwrap();
        ping::ping(&mut s).await.unwrap();
        open.push(s);
    }
    let mut third = client
        .new_stream(server.id(), &[ping::PROTOCOL])
        .await
        .unwrap();
    assert!(ping::ping(&mut third).await.is_err());
    drop(open);
    client.close().await;
    server.close().await;
}

#[tokio::test]
async fn a_panicking_or_stuck_handler_does_not_stop_the_host() {
    let (server, client) = (memory_host().await, memory_host().await);
    server.set_stream_handler("/panic/1.0.0", |_s| async move {
        panic!("handler bug");
    });
    server.set_stream_handler("/stuck/1.0.0", |_s| std::future::pending::<()>());
    reply_with(&server, "/ok/1.0.0", "ok");
    client.connect(info(&server)).await.unwrap();
    let mut stuck = client
        .new_stream(server.id(), &["/stuck/1.0.0"])
        .await
        .unwrap();
    stuck.write_all(b"x").await.unwrap();
    let mut s = client
        .new_stream(server.id(), &["/panic/1.0.0"])
        .await
        .unwrap();
    let _ = s.write_all(b"x").await;
    // The panicking handler's stream is dropped: the client sees it end, not hang.
    let mut buf = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(10), s.read_to_end(&mut buf))
        .await
        .unwrap();
    assert_eq!(
        ask(&client, server.id(), &["/ok/1.0.0"], "1").await.1,
        "ok:1"
    );
    client.close().await;
    server.close().await;
}
