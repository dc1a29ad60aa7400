//! identify and ping with rust-libp2p 0.57, both directions: a peernet `Host` and a stock
//! rust-libp2p node (identify and ping enabled) each learn the other's protocols and listen
//! addresses, and each pings the other; over TCP and over WebSocket. Identify push both ways:
//! each side's push reaches the other.

mod support;

use std::time::Duration;

use peernet::{AddrInfo, Host, HostEvent, IdentifyInfo, Multiaddr, PeerId};
use support::{RustNode, Security, Seen};

fn to_ours(addr: &libp2p::Multiaddr) -> Multiaddr {
    Multiaddr::from_bytes(&addr.to_vec()).unwrap()
}

async fn our_host() -> Host {
    our_host_on("/ip4/127.0.0.1/tcp/0").await
}

async fn our_host_on(listen: &str) -> Host {
    let host = Host::builder()
        .listen_addrs([listen.parse().unwrap()])
        .build()
        .await
        .unwrap();
    host.set_stream_handler("/peernet/interop/1.0.0", |_| async {});
    host
}

/// Waits for our host to report identify with `peer`.
async fn we_identified(
    events: &mut tokio::sync::broadcast::Receiver<HostEvent>,
    peer: &PeerId,
) -> IdentifyInfo {
    tokio::time::timeout(Duration::from_secs(10), async {
        loop {
            match events.recv().await.unwrap() {
                HostEvent::Identified { peer: p, info } if &p == peer => return *info,
                HostEvent::IdentifyFailed { peer: p } if &p == peer => {
                    panic!("identify with rust-libp2p failed (see the debug log)")
                }
                _ => {}
            }
        }
    })
    .await
    .expect("no identify result within 10 s")
}

/// Checks both views once the connection is up.
async fn check_both(
    host: &Host,
    node: &mut RustNode,
    mut events: tokio::sync::broadcast::Receiver<HostEvent>,
) {
    let their_id = PeerId::from_bytes(&node.peer_id.to_bytes()).unwrap();
    let our_libp2p_id = libp2p::PeerId::from_bytes(host.id().as_bytes()).unwrap();

    // We see theirs.
    let info = we_identified(&mut events, &their_id).await;
    let msg = &info.message;
    assert!(
        msg.agent_version
            .as_deref()
            .unwrap_or("")
            .starts_with("rust-libp2p"),
        "{:?}",
        msg.agent_version
    );
    assert_eq!(msg.protocol_version.as_deref(), Some("/ipfs/id/1.0.0"));
    for p in ["/ipfs/id/1.0.0", "/ipfs/ping/1.0.0"] {
        assert!(
            msg.protocols.iter().any(|x| x == p),
            "{p} not in {:?}",
            msg.protocols
        );
    }
    let their_listen = to_ours(&node.listen_addr);
    assert!(
        msg.listen_addrs.contains(&their_listen),
        "{:?}",
        msg.listen_addrs
    );
    let ps = host.peerstore();
    assert!(ps.addrs(&their_id).contains(&their_listen));
    assert!(ps
        .protocols(&their_id)
        .iter()
        .any(|p| p == "/ipfs/ping/1.0.0"));
    assert!(ps.public_key(&their_id).is_some());

    // They see ours.
    let theirs = node
        .wait_for(|seen| match seen {
            Seen::Identified(peer, info) if *peer == our_libp2p_id => Some(info.clone()),
            _ => None,
        })
        .await;
    assert_eq!(theirs.agent_version, peernet::DEFAULT_USER_AGENT);
    assert_eq!(theirs.protocol_version, peernet::PROTOCOL_VERSION);
    let protocols: Vec<String> = theirs.protocols.iter().map(|p| p.to_string()).collect();
    for p in [
        "/ipfs/id/1.0.0",
        "/ipfs/id/push/1.0.0",
        "/peernet/interop/1.0.0",
    ] {
        assert!(protocols.iter().any(|x| x == p), "{p} not in {protocols:?}");
    }
    let ours: Vec<Multiaddr> = theirs.listen_addrs.iter().map(to_ours).collect();
    assert_eq!(ours, host.listen_addrs());

    // Ping both ways: their ping behaviour pings every connection; we ping them.
    let rtt = node
        .wait_for(|seen| match seen {
            Seen::Ping(peer, result) if *peer == our_libp2p_id => Some(result.clone()),
            _ => None,
        })
        .await;
    assert!(rtt.is_ok(), "their ping of our host failed: {rtt:?}");
    let rtt = host.ping(&their_id).await.unwrap();
    assert_eq!(host.peerstore().latency(&their_id), Some(rtt));
}

#[tokio::test]
async fn identify_when_we_dial_rust_libp2p() {
    let mut node = RustNode::spawn(Security::Noise).await;
    let host = our_host().await;
    let events = host.subscribe();
    let their_id = PeerId::from_bytes(&node.peer_id.to_bytes()).unwrap();
    host.connect(AddrInfo {
        peer_id: their_id,
        addrs: vec![to_ours(&node.listen_addr)],
    })
    .await
    .unwrap();
    check_both(&host, &mut node, events).await;
    host.close().await;
}

#[tokio::test]
async fn identify_when_rust_libp2p_dials_us() {
    let mut node = RustNode::spawn(Security::Noise).await;
    let host = our_host().await;
    let events = host.subscribe();
    let addr: libp2p::Multiaddr = host.listen_addrs()[0].to_string().parse().unwrap();
    node.dial(addr).await.unwrap();
    check_both(&host, &mut node, events).await;
    host.close().await;
}

#[tokio::test]
async fn identify_over_websocket_when_we_dial_rust_libp2p() {
    let mut node = RustNode::spawn(Security::WsNoise).await;
    let host = our_host_on("/ip4/127.0.0.1/tcp/0/ws").await;
    let events = host.subscribe();
    let their_id = PeerId::from_bytes(&node.peer_id.to_bytes()).unwrap();
    host.connect(AddrInfo {
        peer_id: their_id,
        addrs: vec![to_ours(&node.listen_addr)],
    })
    .await
    .unwrap();
    check_both(&host, &mut node, events).await;
    host.close().await;
}

#[tokio::test]
async fn identify_over_websocket_when_rust_libp2p_dials_us() {
    let mut node = RustNode::spawn(Security::WsNoise).await;
    let host = our_host_on("/ip4/127.0.0.1/tcp/0/ws").await;
    let events = host.subscribe();
    let addr: libp2p::Multiaddr = host.listen_addrs()[0].to_string().parse().unwrap();
    node.dial(addr).await.unwrap();
    check_both(&host, &mut node, events).await;
    host.close().await;
}

#[tokio::test]
async fn identify_push_both_ways_with_rust_libp2p() {
    let mut node = RustNode::spawn(Security::Noise).await;
    let host = our_host().await;
    let mut events = host.subscribe();
    let their_id = PeerId::from_bytes(&node.peer_id.to_bytes()).unwrap();
    let our_libp2p_id = libp2p::PeerId::from_bytes(host.id().as_bytes()).unwrap();
    host.connect(AddrInfo {
        peer_id: their_id.clone(),
        addrs: vec![to_ours(&node.listen_addr)],
    })
    .await
    .unwrap();
    we_identified(&mut events, &their_id).await;
    node.wait_for(|seen| match seen {
        Seen::Identified(peer, _) if *peer == our_libp2p_id => Some(()),
        _ => None,
    })
    .await;

    // Ours reaches them: a new handler is pushed, and their identify sees the new protocol.
    const LATE: &str = "/peernet/interop/late/1.0.0";
    host.set_stream_handler(LATE, |_| async {});
    let pushed = node
        .wait_for(|seen| match seen {
            Seen::Identified(peer, info) if *peer == our_libp2p_id => Some(info.clone()),
            _ => None,
        })
        .await;
    let protocols: Vec<String> = pushed.protocols.iter().map(|p| p.to_string()).collect();
    assert!(protocols.iter().any(|p| p == LATE), "{protocols:?}");

    // Theirs reaches us: our host takes the push and says so.
    node.push_identify(our_libp2p_id);
    tokio::time::timeout(Duration::from_secs(10), async {
        loop {
            match events.recv().await.unwrap() {
                HostEvent::Pushed { peer } if peer == their_id => return,
                _ => {}
            }
        }
    })
    .await
    .expect("no identify push from rust-libp2p within 10 s");
    host.close().await;
}
