//! The accounting without sockets: every limit refuses the newcomer and names itself, and
//! dropping permits gives everything back.

use std::net::{IpAddr, Ipv4Addr};

use super::*;
use peernet_core::Keypair;

fn peer() -> PeerId {
    Keypair::generate_ed25519().to_peer_id()
}

const IP: IpAddr = IpAddr::V4(Ipv4Addr::new(192, 0, 2, 7));
const OTHER_IP: IpAddr = IpAddr::V4(Ipv4Addr::new(192, 0, 2, 8));

/// Unlimited except for what a test sets.
fn limits() -> ResourceLimits {
    ResourceLimits::unlimited()
}

fn limit_of(r: Result<impl std::fmt::Debug, ResourceError>) -> Limit {
    r.expect_err("the limit must refuse").limit
}

#[test]
fn inbound_handshakes_are_limited_and_released_when_done() {
    let m = ResourceManager::new(ResourceLimits {
        inbound_handshakes: 2,
        ..limits()
    });
    let mut a = m.open_connection(Direction::Inbound, Some(IP)).unwrap();
    let _b = m.open_connection(Direction::Inbound, Some(IP)).unwrap();
    let limit = limit_of(m.open_connection(Direction::Inbound, Some(OTHER_IP)));
    assert_eq!(
        limit,
        Limit {
            scope: Scope::System,
            resource: Resource::InboundHandshakes,
            max: 2
        }
    );
    // Outbound connections hold no handshake slot.
    m.open_connection(Direction::Outbound, None).unwrap();
    a.handshake_done();
    assert_eq!(m.stats().inbound_handshakes, 1);
    assert_eq!(m.stats().conns_inbound, 2, "the connection itself stays");
    m.open_connection(Direction::Inbound, Some(OTHER_IP))
        .unwrap();
}

#[test]
fn per_ip_limit_refuses_that_ip_only_and_exempts_loopback() {
    let m = ResourceManager::new(ResourceLimits {
        conns_per_ip: 2,
        conns_per_loopback_ip: 1,
        ..limits()
    });
    let held: Vec<_> = (0..2)
        .map(|_| m.open_connection(Direction::Inbound, Some(IP)).unwrap())
        .collect();
    let limit = limit_of(m.open_connection(Direction::Inbound, Some(IP)));
    assert_eq!(limit.scope.clone(), Scope::Ip(IP));
    assert_eq!(limit.resource, Resource::InboundConnections);
    assert_eq!(limit.max, 2);
    m.open_connection(Direction::Inbound, Some(OTHER_IP))
        .unwrap();
    // Outbound connections are not counted per IP.
    m.open_connection(Direction::Outbound, Some(IP)).unwrap();
    let lo = IpAddr::V4(Ipv4Addr::LOCALHOST);
    let _l = m.open_connection(Direction::Inbound, Some(lo)).unwrap();
    assert_eq!(
        limit_of(m.open_connection(Direction::Inbound, Some(lo))).max,
        1
    );
    drop(held);
    m.open_connection(Direction::Inbound, Some(IP)).unwrap();
}

#[test]
fn system_connection_limits_by_direction_and_total() {
    let m = ResourceManager::new(ResourceLimits {
        system_conns: DirLimits {
            inbound: 1,
            outbound: 2,
            total: 2,
        },
        ..limits()
    });
    let _i = m.open_connection(Direction::Inbound, Some(IP)).unwrap();
    let limit = limit_of(m.open_connection(Direction::Inbound, Some(OTHER_IP)));
    assert_eq!(
        (limit.scope.clone(), limit.resource),
        (Scope::System, Resource::InboundConnections)
    );
    let _o = m.open_connection(Direction::Outbound, None).unwrap();
    let limit = limit_of(m.open_connection(Direction::Outbound, None));
    assert_eq!(
        (limit.scope.clone(), limit.resource, limit.max),
        (Scope::System, Resource::Connections, 2)
    );
    assert_eq!(limit.to_string(), "2 connections in total (system scope)",);
}

#[test]
fn per_peer_connection_limit_is_checked_at_set_peer() {
    let m = ResourceManager::new(ResourceLimits {
        peer_conns: DirLimits {
            inbound: 1,
            outbound: 5,
            total: 2,
        },
        ..limits()
    });
    let p = peer();
    let mut a = m.open_connection(Direction::Inbound, Some(IP)).unwrap();
    a.set_peer(&p).unwrap();
    let mut b = m.open_connection(Direction::Inbound, Some(IP)).unwrap();
    let limit = limit_of(b.set_peer(&p));
    assert_eq!(limit.scope.clone(), Scope::Peer(p.clone()));
    assert_eq!(limit.resource, Resource::InboundConnections);
    // Another peer is not affected; an outbound one to `p` fits the total.
    b.set_peer(&peer()).unwrap();
    let mut c = m.open_connection(Direction::Outbound, None).unwrap();
    c.set_peer(&p).unwrap();
    assert_eq!(limit_of(m.check_dial(&p)).resource, Resource::Connections);
    drop(a);
    m.check_dial(&p).unwrap();
    assert_eq!(m.stats().conns_outbound, 1, "check_dial keeps nothing");
}

#[test]
fn stream_limits_system_peer_connection_and_protocol() {
    let m = ResourceManager::new(ResourceLimits {
        system_streams: DirLimits {
            inbound: 100,
            outbound: 100,
            total: 5,
        },
        peer_streams: DirLimits {
            inbound: 3,
            outbound: 100,
            total: 100,
        },
        conn_streams: DirLimits {
            inbound: 2,
            outbound: 100,
            total: 100,
        },
        protocol_streams: DirLimits {
            inbound: 1,
            outbound: 100,
            total: 100,
        },
        ..limits()
    });
    let p = peer();
    let mut c1 = m.open_connection(Direction::Inbound, Some(IP)).unwrap();
    c1.set_peer(&p).unwrap();
    let mut c2 = m.open_connection(Direction::Inbound, Some(IP)).unwrap();
    c2.set_peer(&p).unwrap();

    // Per connection.
    let mut s1 = c1.open_stream(Direction::Inbound).unwrap();
    let _s2 = c1.open_stream(Direction::Inbound).unwrap();
    let limit = limit_of(c1.open_stream(Direction::Inbound));
    assert_eq!(
        (limit.scope.clone(), limit.resource, limit.max),
        (Scope::Connection, Resource::InboundStreams, 2)
    );
    assert_eq!(
        ResourceError { limit }.to_string(),
        "local resource limit: 2 inbound streams per connection (limit reached)"
    );
    // Per peer (over both connections).
    let _s3 = c2.open_stream(Direction::Inbound).unwrap();
    let limit = limit_of(c2.open_stream(Direction::Inbound));
    assert_eq!(
        (limit.scope.clone(), limit.resource),
        (Scope::Peer(p.clone()), Resource::InboundStreams)
    );
    // Per protocol.
    s1.set_protocol("/x").unwrap();
    let mut s4 = c2.open_stream(Direction::Outbound).unwrap();
    s4.set_protocol("/x").unwrap();
    let mut other = {
        let mut c = m
            .open_connection(Direction::Inbound, Some(OTHER_IP))
            .unwrap();
        c.set_peer(&peer()).unwrap();
        c
    };
    other.handshake_done();
    let mut s5 = other.open_stream(Direction::Inbound).unwrap();
    let limit = limit_of(s5.set_protocol("/x"));
    assert_eq!(
        (limit.scope.clone(), limit.resource),
        (Scope::Protocol("/x".into()), Resource::InboundStreams)
    );
    s5.set_protocol("/y").unwrap();
    // System total: 5 streams live now.
    let limit = limit_of(other.open_stream(Direction::Outbound));
    assert_eq!(
        (limit.scope.clone(), limit.resource, limit.max),
        (Scope::System, Resource::Streams, 5)
    );
    assert_eq!(m.stats().protocols, 2);
}

#[test]
fn memory_reservations_are_limited_per_system_and_peer() {
    let m = ResourceManager::new(ResourceLimits {
        system_memory: 1200,
        peer_memory: 500,
        conn_memory: 300,
        stream_memory: 100,
        ..limits()
    });
    let p = peer();
    let mut a = m.open_connection(Direction::Outbound, None).unwrap();
    a.set_peer(&p).unwrap();
    let _s1 = a.open_stream(Direction::Outbound).unwrap();
    let _s2 = a.open_stream(Direction::Outbound).unwrap();
    let limit = limit_of(a.open_stream(Direction::Outbound));
    assert_eq!(
        (limit.scope.clone(), limit.resource, limit.max),
        (Scope::Peer(p.clone()), Resource::Memory, 500)
    );
    let mut b = m.open_connection(Direction::Outbound, None).unwrap();
    assert_eq!(limit_of(b.set_peer(&p)).resource, Resource::Memory);
    b.set_peer(&peer()).unwrap();
    let _c = m.open_connection(Direction::Inbound, None).unwrap();
    // 300 + 2 * 100 + 300 + 300 reserved; another connection would take it to 1400.
    assert_eq!(m.stats().memory, 1100);
    let limit = limit_of(m.open_connection(Direction::Inbound, None));
    assert_eq!(
        (limit.scope.clone(), limit.resource, limit.max),
        (Scope::System, Resource::Memory, 1200)
    );
}

#[test]
fn dropping_permits_in_any_order_returns_every_count_to_zero() {
    let m = ResourceManager::new(ResourceLimits::default());
    let p = peer();
    let mut conn = m.open_connection(Direction::Inbound, Some(IP)).unwrap();
    conn.set_peer(&p).unwrap();
    let mut streams = Vec::new();
    for i in 0..4 {
        let dir = if i % 2 == 0 {
            Direction::Inbound
        } else {
            Direction::Outbound
        };
        let mut s = conn.open_stream(dir).unwrap();
        s.set_protocol(&format!("/p/{i}")).unwrap();
        streams.push(s);
    }
    let stats = m.stats();
    assert_eq!(
        (
            stats.conns_inbound,
            stats.streams_inbound,
            stats.streams_outbound
        ),
        (1, 2, 2)
    );
    assert_eq!(
        (
            stats.peers,
            stats.ips,
            stats.protocols,
            stats.inbound_handshakes
        ),
        (1, 1, 4, 1)
    );
    // The connection goes first (streams outlive it, e.g. a handler still running).
    drop(conn);
    assert_eq!(m.stats().conns_inbound, 0);
    assert_eq!(m.stats().peers, 1, "the peer's streams are still counted");
    drop(streams);
    assert_eq!(m.stats(), ResourceStats::default());
}

#[test]
fn defaults_follow_go_libp2p_scaled_for_one_gib() {
    let d = ResourceLimits::default();
    assert_eq!(d.system_conns.inbound, 128);
    assert_eq!(d.peer_conns.total, 8);
    assert_eq!(d.conns_per_ip, 8);
    assert_eq!(d.inbound_handshakes, super::DEFAULT_MAX_INBOUND_UPGRADES);
    assert_eq!(d.stream_memory, 256 * 1024);
    // Unlimited still counts.
    let m = ResourceManager::new(ResourceLimits::unlimited());
    let _c = m.open_connection(Direction::Outbound, None).unwrap();
    assert_eq!(m.stats().conns_outbound, 1);
}
