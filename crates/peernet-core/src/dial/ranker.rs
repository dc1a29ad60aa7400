//! The dial ranker: in which order, and how long after the first dial, each address is tried.

use std::time::Duration;

use super::addr_class::AddrClass;
use super::Multiaddr;

/// TCP dials on public addresses start this long after the last QUIC dial (go's
/// `PublicTCPDelay`; one round trip by RFC 8305's estimate). It is also how long a dial worker
/// holds further dials once a public TCP connection is established and its handshake runs.
pub const PUBLIC_TCP_DELAY: Duration = Duration::from_millis(250);
/// TCP dials on private addresses start this long after the last QUIC dial (`PrivateTCPDelay`).
pub const PRIVATE_TCP_DELAY: Duration = Duration::from_millis(30);
/// Spacing between QUIC dials on public addresses (`PublicQUICDelay`).
pub const PUBLIC_QUIC_DELAY: Duration = Duration::from_millis(250);
/// Spacing between QUIC dials on private addresses (`PrivateQUICDelay`).
pub const PRIVATE_QUIC_DELAY: Duration = Duration::from_millis(30);
/// Relayed addresses are dialed this long after direct ones when a public direct address exists
/// (`RelayDelay`).
pub const RELAY_DELAY: Duration = Duration::from_millis(500);
/// Other transports (WebRTC direct, …) on public addresses start this long after the last QUIC
/// or TCP dial (`PublicOtherDelay`).
pub const PUBLIC_OTHER_DELAY: Duration = Duration::from_secs(1);
/// Other transports on private addresses start this long after the last QUIC or TCP dial
/// (`PrivateOtherDelay`).
pub const PRIVATE_OTHER_DELAY: Duration = Duration::from_millis(100);

/// An address and how long after the start of dialing it should be dialed (go's
/// `network.AddrDelay`).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct AddrDelay {
    /// The address to dial.
    pub addr: Multiaddr,
    /// Offset from the start of the dial at which to dial it.
    pub delay: Duration,
}

/// Ranks `addrs` for dialing: go-libp2p's `DefaultDialRanker` (`p2p/net/swarm/dial_ranker.go`),
/// rule for rule. The result is in dialing order within each group and holds every input address
/// once per occurrence; addresses that the rules rank equal keep their input order (go's sort is
/// unstable there).
///
/// Addresses fall into three groups, ranked independently and dialed in parallel:
/// private (loopback, RFC 1918, …), public (any other IP address) and relayed
/// (`/p2p-circuit`). Relayed addresses are delayed by [`RELAY_DELAY`] when the peer has a public
/// direct address. Within a group:
///
/// 1. Addresses are sorted by transport, then IP version, then port: QUIC v1 IPv6, QUIC draft-29
///    IPv6, QUIC v1 IPv4, QUIC draft-29 IPv4, WebTransport IPv6, WebTransport IPv4, TCP IPv6,
///    TCP IPv4 (WebSocket counts as TCP), WebRTC direct, anything else. Low ports first: they are
///    more likely to be listen ports.
/// 2. QUIC (WebTransport included): if the best QUIC address is IPv6 and an IPv4 QUIC address
///    exists, the best IPv4 one moves to second place (happy eyeballs, RFC 8305). The first QUIC
///    address is dialed at once, the second after the QUIC delay (30 ms private, 250 ms
///    public), the rest after twice that with happy eyeballs, else after one QUIC delay.
/// 3. TCP follows the same pattern with the TCP delay (30 ms private, 250 ms public), all of it
///    shifted to start one TCP delay after the last QUIC dial — if there is a QUIC address.
/// 4. Other transports (WebRTC direct, …) come one "other" delay (100 ms private, 1 s public)
///    after the last QUIC or TCP dial.
///
/// Addresses in none of the groups (DNS names, memory, unix sockets) are dialed one public
/// "other" delay after the last ranked address. The dial worker uses the delays as offsets from
/// the moment it was created.
pub fn rank_addrs(addrs: &[Multiaddr]) -> Vec<AddrDelay> {
    let classified: Vec<(Multiaddr, AddrClass)> = addrs
        .iter()
        .map(|a| (a.clone(), AddrClass::of(a)))
        .collect();
    let mut relay = Vec::new();
    let mut private = Vec::new();
    let mut public = Vec::new();
    let mut rest = Vec::new();
    for (addr, class) in classified {
        if class.relayed {
            relay.push((addr, class));
        } else if class.private {
            private.push((addr, class));
        } else if class.ip4 || class.ip6 {
            public.push((addr, class));
        } else {
            rest.push(addr);
        }
    }
    let relay_offset = if public.is_empty() {
        Duration::ZERO
    } else {
        RELAY_DELAY
    };
    let mut out = Vec::with_capacity(addrs.len());
    let private_delays = GroupDelays {
        tcp: PRIVATE_TCP_DELAY,
        quic: PRIVATE_QUIC_DELAY,
        other: PRIVATE_OTHER_DELAY,
        offset: Duration::ZERO,
    };
    let public_delays = GroupDelays {
        tcp: PUBLIC_TCP_DELAY,
        quic: PUBLIC_QUIC_DELAY,
        other: PUBLIC_OTHER_DELAY,
        offset: Duration::ZERO,
    };
    rank_group(private, private_delays, &mut out);
    rank_group(public, public_delays, &mut out);
    rank_group(
        relay,
        GroupDelays {
            offset: relay_offset,
            ..public_delays
        },
        &mut out,
    );
    // go takes the delay of the last ranked address, not the largest one.
    let last = out.last().map_or(Duration::ZERO, |a| a.delay);
    out.extend(rest.into_iter().map(|addr| AddrDelay {
        addr,
        delay: last + PUBLIC_OTHER_DELAY,
    }));
    out
}

/// Ranks `addrs` with no delays at all (go's `NoDelayDialRanker`): every address is dialed at
/// once. The dial worker uses it for simultaneous-connect requests (hole punching), where both
/// sides must dial at the same moment.
pub fn rank_addrs_no_delay(addrs: &[Multiaddr]) -> Vec<AddrDelay> {
    let mut out = Vec::with_capacity(addrs.len());
    let classified = addrs
        .iter()
        .map(|a| (a.clone(), AddrClass::of(a)))
        .collect();
    rank_group(
        classified,
        GroupDelays {
            tcp: Duration::ZERO,
            quic: Duration::ZERO,
            other: Duration::ZERO,
            offset: Duration::ZERO,
        },
        &mut out,
    );
    out
}

/// The delays applied within one group (go's `getAddrDelay` arguments).
#[derive(Debug, Clone, Copy)]
struct GroupDelays {
    tcp: Duration,
    quic: Duration,
    other: Duration,
    offset: Duration,
}

/// go's `getAddrDelay`: sorts one group, applies happy eyeballs, and appends the delays.
fn rank_group(mut addrs: Vec<(Multiaddr, AddrClass)>, d: GroupDelays, out: &mut Vec<AddrDelay>) {
    if addrs.is_empty() {
        return;
    }
    addrs.sort_by_key(|(_, class)| score(class));

    // Happy eyeballs for QUIC: if the best QUIC address is IPv6, the best IPv4 QUIC address
    // moves to the second position.
    let mut happy_eyeballs_quic = false;
    let mut tcp_search_from = 0;
    if addrs.first().is_some_and(|(_, c)| c.is_quic() && c.ip6) {
        let first_v4 = addrs
            .iter()
            .skip(1)
            .position(|(_, c)| c.is_quic() && c.ip4)
            .map(|p| p + 1);
        if let Some(j) = first_v4 {
            move_to(&mut addrs, j, 1);
            happy_eyeballs_quic = true;
            tcp_search_from = j + 1;
        }
    }
    let tcp_start = addrs
        .iter()
        .skip(tcp_search_from)
        .position(|(_, c)| c.tcp)
        .map_or(addrs.len(), |p| p + tcp_search_from);

    // Happy eyeballs for TCP, the same way.
    let mut happy_eyeballs_tcp = false;
    if addrs.get(tcp_start).is_some_and(|(_, c)| c.ip6) {
        let first_v4 = addrs
            .iter()
            .skip(tcp_start + 1)
            .position(|(_, c)| c.tcp && c.ip4)
            .map(|p| p + tcp_start + 1);
        if let Some(j) = first_v4 {
            move_to(&mut addrs, j, tcp_start + 1);
            happy_eyeballs_tcp = true;
        }
    }

    let mut tcp_first_dial_delay = Duration::ZERO;
    let mut last_quic_or_tcp_delay = Duration::ZERO;
    for (i, (addr, class)) in addrs.into_iter().enumerate() {
        let delay = if class.is_quic() {
            let delay = match i {
                0 => Duration::ZERO,
                1 => d.quic,
                _ if happy_eyeballs_quic => 2 * d.quic,
                _ => d.quic,
            };
            last_quic_or_tcp_delay = delay;
            tcp_first_dial_delay = delay + d.tcp;
            delay
        } else if class.tcp {
            let delay = match i.checked_sub(tcp_start) {
                Some(1) => d.tcp,
                Some(k) if k > 1 && happy_eyeballs_tcp => 2 * d.tcp,
                Some(k) if k > 1 => d.tcp,
                _ => Duration::ZERO,
            } + tcp_first_dial_delay;
            last_quic_or_tcp_delay = delay;
            delay
        } else {
            last_quic_or_tcp_delay + d.other
        };
        out.push(AddrDelay {
            addr,
            delay: d.offset + delay,
        });
    }
}

/// Moves the element at `from` to `to` (`to < from`), shifting the ones between up by one.
fn move_to<T>(v: &mut [T], from: usize, to: usize) {
    if let Some(slice) = v.get_mut(to..=from) {
        slice.rotate_right(1);
    }
}

/// go's `score`: lower is dialed first. The low 16 bits are the port.
fn score(c: &AddrClass) -> u32 {
    let ip4_weight = if c.ip4 { 1 << 18 } else { 0 };
    let udp_port = u32::from(c.udp_port.unwrap_or(0));
    if c.webtransport {
        ip4_weight + (1 << 19) + udp_port
    } else if c.quic_draft29 {
        ip4_weight + (1 << 17) + udp_port
    } else if c.quic_v1 {
        ip4_weight + udp_port
    } else if let Some(port) = c.tcp_port {
        ip4_weight + (1 << 20) + u32::from(port)
    } else if c.webrtc_direct {
        1 << 21
    } else {
        1 << 30
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ma(s: &str) -> Multiaddr {
        s.parse().unwrap()
    }

    fn ranked(addrs: &[&str]) -> Vec<(String, u64)> {
        let addrs: Vec<Multiaddr> = addrs.iter().map(|s| ma(s)).collect();
        rank_addrs(&addrs)
            .into_iter()
            .map(|a| (a.addr.to_string(), a.delay.as_millis() as u64))
            .collect()
    }

    fn expect(v: &[(&str, u64)]) -> Vec<(String, u64)> {
        v.iter().map(|(s, d)| (s.to_string(), *d)).collect()
    }

    #[test]
    fn quic_first_then_tcp_after_public_delay() {
        let got = ranked(&["/ip4/1.2.3.4/tcp/1", "/ip4/1.2.3.4/udp/1/quic-v1"]);
        assert_eq!(
            got,
            expect(&[
                ("/ip4/1.2.3.4/udp/1/quic-v1", 0),
                ("/ip4/1.2.3.4/tcp/1", 250)
            ])
        );
    }

    #[test]
    fn tcp_after_private_delay_on_private_and_loopback() {
        let got = ranked(&["/ip4/192.168.1.5/tcp/1", "/ip4/192.168.1.5/udp/1/quic-v1"]);
        assert_eq!(
            got,
            expect(&[
                ("/ip4/192.168.1.5/udp/1/quic-v1", 0),
                ("/ip4/192.168.1.5/tcp/1", 30)
            ])
        );
        let got = ranked(&["/ip4/127.0.0.1/tcp/1", "/ip4/127.0.0.1/udp/1/quic-v1"]);
        assert_eq!(got[1], ("/ip4/127.0.0.1/tcp/1".to_string(), 30));
    }

    #[test]
    fn tcp_alone_is_not_delayed() {
        let got = ranked(&["/ip4/1.2.3.4/tcp/2", "/ip4/1.2.3.4/tcp/1"]);
        assert_eq!(
            got,
            expect(&[("/ip4/1.2.3.4/tcp/1", 0), ("/ip4/1.2.3.4/tcp/2", 250)])
        );
    }

    #[test]
    fn happy_eyeballs_quic_and_tcp() {
        let got = ranked(&[
            "/ip4/1.2.3.4/udp/1/quic-v1",
            "/ip4/1.2.3.4/udp/2/quic-v1",
            "/ip6/2604:1380::1/udp/1/quic-v1",
            "/ip6/2604:1380::1/udp/2/quic-v1",
            "/ip4/1.2.3.4/tcp/1",
            "/ip6/2604:1380::1/tcp/1",
            "/ip6/2604:1380::1/tcp/2",
        ]);
        assert_eq!(
            got,
            expect(&[
                ("/ip6/2604:1380::1/udp/1/quic-v1", 0),
                ("/ip4/1.2.3.4/udp/1/quic-v1", 250),
                ("/ip6/2604:1380::1/udp/2/quic-v1", 500),
                ("/ip4/1.2.3.4/udp/2/quic-v1", 500),
                ("/ip6/2604:1380::1/tcp/1", 750),
                ("/ip4/1.2.3.4/tcp/1", 1000),
                ("/ip6/2604:1380::1/tcp/2", 1250),
            ])
        );
    }

    #[test]
    fn without_happy_eyeballs_later_quic_is_one_delay() {
        let got = ranked(&[
            "/ip4/1.2.3.4/udp/3/quic-v1",
            "/ip4/1.2.3.4/udp/1/quic-v1",
            "/ip4/1.2.3.4/udp/2/quic-v1",
        ]);
        assert_eq!(
            got,
            expect(&[
                ("/ip4/1.2.3.4/udp/1/quic-v1", 0),
                ("/ip4/1.2.3.4/udp/2/quic-v1", 250),
                ("/ip4/1.2.3.4/udp/3/quic-v1", 250),
            ])
        );
    }

    #[test]
    fn private_and_public_groups_are_parallel_relay_is_delayed() {
        let got = ranked(&[
            "/ip4/1.2.3.4/tcp/1/p2p-circuit",
            "/ip4/1.2.3.4/udp/1/quic-v1",
            "/ip4/10.0.0.1/udp/1/quic-v1",
            "/ip4/10.0.0.1/tcp/1",
        ]);
        assert_eq!(
            got,
            expect(&[
                ("/ip4/10.0.0.1/udp/1/quic-v1", 0),
                ("/ip4/10.0.0.1/tcp/1", 30),
                ("/ip4/1.2.3.4/udp/1/quic-v1", 0),
                ("/ip4/1.2.3.4/tcp/1/p2p-circuit", 500),
            ])
        );
    }

    #[test]
    fn relay_without_public_direct_address_is_not_delayed() {
        let got = ranked(&["/ip4/1.2.3.4/tcp/1/p2p-circuit", "/ip4/10.0.0.1/tcp/1"]);
        assert_eq!(
            got,
            expect(&[
                ("/ip4/10.0.0.1/tcp/1", 0),
                ("/ip4/1.2.3.4/tcp/1/p2p-circuit", 0),
            ])
        );
    }

    #[test]
    fn webtransport_after_quic_and_webrtc_after_last_quic_or_tcp() {
        let got = ranked(&[
            "/ip4/1.2.3.4/udp/2/webrtc-direct",
            "/ip4/1.2.3.4/udp/1/quic-v1/webtransport",
            "/ip4/1.2.3.4/udp/1/quic-v1",
            "/ip4/1.2.3.4/tcp/1/ws",
        ]);
        assert_eq!(
            got,
            expect(&[
                ("/ip4/1.2.3.4/udp/1/quic-v1", 0),
                ("/ip4/1.2.3.4/udp/1/quic-v1/webtransport", 250),
                ("/ip4/1.2.3.4/tcp/1/ws", 500),
                ("/ip4/1.2.3.4/udp/2/webrtc-direct", 1500),
            ])
        );
    }

    #[test]
    fn unranked_addresses_come_one_second_after_the_last() {
        let got = ranked(&["/dns/example.com/tcp/1", "/ip4/1.2.3.4/tcp/1"]);
        assert_eq!(
            got,
            expect(&[("/ip4/1.2.3.4/tcp/1", 0), ("/dns/example.com/tcp/1", 1000)])
        );
    }

    #[test]
    fn no_delay_ranker_dials_everything_at_once() {
        let addrs = [ma("/ip4/1.2.3.4/tcp/1"), ma("/ip4/1.2.3.4/udp/1/quic-v1")];
        let got = rank_addrs_no_delay(&addrs);
        assert_eq!(got.len(), 2);
        assert!(got.iter().all(|a| a.delay == Duration::ZERO));
        assert_eq!(got[0].addr, addrs[1]);
    }

    #[test]
    fn empty_input_ranks_nothing() {
        assert!(rank_addrs(&[]).is_empty());
    }

    /// Expected rankings from go-libp2p's `dial_ranker_test.go`, compared the way go compares
    /// them: sorted by delay, then by address text.
    #[test]
    fn go_libp2p_ranker_vectors() {
        let pid = crate::dial::tests::peer(9);
        let r1 = format!("/ip4/1.2.3.4/tcp/1/p2p-circuit/p2p/{pid}");
        let r2 = format!("/ip4/1.2.3.4/udp/1/quic/p2p-circuit/p2p/{pid}");
        let q1 = "/ip4/1.2.3.4/udp/1/quic-v1";
        let q2 = "/ip4/1.2.3.4/udp/2/quic-v1";
        let q3 = "/ip4/1.2.3.4/udp/3/quic-v1";
        let q1v6 = "/ip6/1::2/udp/1/quic-v1";
        let q2v6 = "/ip6/1::2/udp/2/quic-v1";
        let q3v6 = "/ip6/1::2/udp/3/quic-v1";
        let wt1 = "/ip4/1.2.3.4/udp/1/quic-v1/webtransport";
        let t1 = "/ip4/1.2.3.5/tcp/1";
        let t1v6 = "/ip6/1::2/tcp/1";
        let t2 = "/ip4/1.2.3.4/tcp/2";
        let t3 = "/ip4/1.2.3.4/tcp/3";
        let wrtc1 = "/ip4/1.2.3.4/udp/1/webrtc-direct";
        let wrtc1v6 = "/ip6/1::2/udp/1/webrtc-direct";
        let onion = "/onion3/vww6ybal4bd7szmgncyruucpgfkqahzddi37ktceo3ah7ngmcopnpyyd:1234";
        let only_ip = "/ip4/1.2.3.4";
        let (q, t, r, o) = (250, 250, 500, 1000);
        /// (name, input, expected (address, delay in ms)).
        type Case<'a> = (&'a str, Vec<&'a str>, Vec<(&'a str, u64)>);
        let cases: Vec<Case> = vec![
            (
                "quic-ipv4",
                vec![q1, q2, q3],
                vec![(q1, 0), (q2, q), (q3, q)],
            ),
            (
                "quic-ipv6",
                vec![q1v6, q2v6, q3v6],
                vec![(q1v6, 0), (q2v6, q), (q3v6, q)],
            ),
            ("quic-ip4-ip6", vec![q1v6, q2], vec![(q1v6, 0), (q2, q)]),
            (
                "quic-quic-v1-webtransport",
                vec![q1v6, q1, q2, q3, wt1],
                vec![(q1v6, 0), (q1, q), (q2, 2 * q), (q3, 2 * q), (wt1, 2 * q)],
            ),
            (
                "wt-ranking",
                vec![q1v6, q2v6, q3v6, wt1],
                vec![(q1v6, 0), (wt1, q), (q2v6, 2 * q), (q3v6, 2 * q)],
            ),
            (
                "quic-with-tcp-ip6-ip4",
                vec![q1, q1v6, q2v6, q3v6, q2, t1, t1v6, t2, t3],
                vec![
                    (q1v6, 0),
                    (q1, q),
                    (q2v6, 2 * q),
                    (q3v6, 2 * q),
                    (q2, 2 * q),
                    (t1v6, 3 * q),
                    (t1, 4 * q),
                    (t2, 5 * q),
                    (t3, 5 * q),
                ],
            ),
            (
                "quic-ip4-with-tcp",
                vec![q1, t2, t1v6, t1],
                vec![(q1, 0), (t1v6, q), (t1, 2 * q), (t2, 3 * q)],
            ),
            (
                "quic-ip4-with-tcp-ipv4",
                vec![q1, t2, t3, t1],
                vec![(q1, 0), (t1, t), (t2, 2 * q), (t3, 2 * t)],
            ),
            (
                "quic-ip4-with-two-tcp",
                vec![q1, t1v6, t2],
                vec![(q1, 0), (t1v6, t), (t2, 2 * t)],
            ),
            (
                "tcp-ip4-ip6",
                vec![t1, t2, t1v6, t3],
                vec![(t1v6, 0), (t1, t), (t2, 2 * t), (t3, 2 * t)],
            ),
            (
                "relay address delayed",
                vec![q1, q2, &r1, &r2],
                vec![(q1, 0), (q2, q), (&r2, r), (&r1, t + r)],
            ),
            (
                "quic-with-other",
                vec![q1, q1v6, wrtc1, wrtc1v6, onion, only_ip],
                vec![
                    (q1v6, 0),
                    (q1, q),
                    (wrtc1, q + o),
                    (wrtc1v6, q + o),
                    (only_ip, q + o),
                    (onion, q + 2 * o),
                ],
            ),
            (
                "quic-and-tcp-with-other",
                vec![q1, t1, t1v6, wrtc1, wrtc1v6, onion, only_ip],
                vec![
                    (q1, 0),
                    (t1v6, q),
                    (t1, 2 * q),
                    (wrtc1, 2 * q + o),
                    (wrtc1v6, 2 * q + o),
                    (only_ip, 2 * q + o),
                    (onion, 2 * q + 2 * o),
                ],
            ),
            ("only-non-ip-addr", vec![onion], vec![(onion, o)]),
            ("empty", vec![], vec![]),
        ];
        for (name, input, want) in cases {
            let mut got = ranked(&input);
            got.sort_by(|a, b| (a.1, &a.0).cmp(&(b.1, &b.0)));
            let mut want = expect(&want);
            want.sort_by(|a, b| (a.1, &a.0).cmp(&(b.1, &b.0)));
            assert_eq!(got, want, "{name}");
        }
    }

    #[test]
    fn go_libp2p_no_delay_vector() {
        let addrs: Vec<Multiaddr> = [
            "/ip4/1.2.3.4/udp/1/quic-v1",
            "/ip4/1.2.3.4/udp/2/quic-v1",
            "/ip4/1.2.3.4/udp/1/quic-v1/webtransport",
            "/ip4/1.2.3.5/tcp/1",
            "/ip4/1.1.1.1/udp/1/webrtc-direct",
        ]
        .iter()
        .map(|s| ma(s))
        .collect();
        let got = rank_addrs_no_delay(&addrs);
        assert_eq!(got.len(), addrs.len());
        assert!(got.iter().all(|a| a.delay == Duration::ZERO));
    }
}
