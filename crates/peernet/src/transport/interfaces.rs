//! The addresses a listener on an unspecified IP (`0.0.0.0`, `::`) can be reached at: one per
//! address of the machine's interfaces (go's `manet.ResolveUnspecifiedAddresses` over
//! `InterfaceMultiaddrs`).

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use peernet_core::Multiaddr;

/// The IP addresses of the machine's interfaces, loopback first (`127.0.0.1` always, `::1`
/// when no interface has an IPv6 address); IPv6 link-local addresses are left out (they need a
/// zone to be dialed). If the interfaces cannot be read, the loopback addresses.
pub fn interface_ips() -> Vec<IpAddr> {
    let mut ips: Vec<IpAddr> = match if_addrs::get_if_addrs() {
        Ok(interfaces) => interfaces
            .iter()
            .map(|i| i.ip())
            .filter(|ip| match ip {
                IpAddr::V6(v6) => (v6.segments()[0] & 0xffc0) != 0xfe80,
                IpAddr::V4(_) => true,
            })
            .collect(),
        Err(e) => {
            tracing::debug!(error = %e, "cannot list the network interfaces");
            Vec::new()
        }
    };
    // Loopback is always reachable, whatever the interface list says.
    if !ips.contains(&IpAddr::V4(Ipv4Addr::LOCALHOST)) {
        ips.push(IpAddr::V4(Ipv4Addr::LOCALHOST));
    }
    if !ips.iter().any(IpAddr::is_ipv6) {
        ips.push(IpAddr::V6(Ipv6Addr::LOCALHOST));
    }
    ips.sort_by_key(|ip| (!ip.is_loopback(), ip.is_ipv6()));
    let mut seen = std::collections::HashSet::new();
    ips.retain(|ip| seen.insert(*ip));
    ips
}

/// `addrs` with every address on an unspecified IP replaced by one address per interface IP
/// of the same family (`ips`, usually [`interface_ips`]); other addresses kept. Duplicates are
/// removed and no unspecified address remains.
pub fn expand_unspecified(addrs: &[Multiaddr], ips: &[IpAddr]) -> Vec<Multiaddr> {
    let mut out: Vec<Multiaddr> = Vec::new();
    let mut push = |a: Multiaddr| {
        if !out.contains(&a) {
            out.push(a);
        }
    };
    for addr in addrs {
        match addr.ip_addr() {
            Some(ip) if ip.is_unspecified() => {
                for local in ips.iter().filter(|l| l.is_ipv4() == ip.is_ipv4()) {
                    let mut expanded = Multiaddr::from(*local);
                    expanded.extend(addr.iter().skip(1));
                    push(expanded);
                }
            }
            _ => push(addr.clone()),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ma(s: &str) -> Multiaddr {
        s.parse().unwrap()
    }

    #[test]
    fn unspecified_addresses_expand_per_family_and_keep_their_rest() {
        let ips: Vec<IpAddr> = ["127.0.0.1", "192.0.2.7", "::1", "2001:db8::1"]
            .iter()
            .map(|s| s.parse().unwrap())
            .collect();
        let got = expand_unspecified(
            &[
                ma("/ip4/0.0.0.0/tcp/1"),
                ma("/ip6/::/udp/2/quic-v1"),
                ma("/ip4/0.0.0.0/tcp/3/tls/ws"),
                ma("/ip4/10.0.0.1/tcp/4"),
                ma("/memory/5"),
                ma("/ip4/192.0.2.7/tcp/1"),
            ],
            &ips,
        );
        let want: Vec<Multiaddr> = [
            "/ip4/127.0.0.1/tcp/1",
            "/ip4/192.0.2.7/tcp/1",
            "/ip6/::1/udp/2/quic-v1",
            "/ip6/2001:db8::1/udp/2/quic-v1",
            "/ip4/127.0.0.1/tcp/3/tls/ws",
            "/ip4/192.0.2.7/tcp/3/tls/ws",
            "/ip4/10.0.0.1/tcp/4",
            "/memory/5",
        ]
        .iter()
        .map(|s| ma(s))
        .collect();
        assert_eq!(got, want);
    }

    #[test]
    fn this_machine_has_ipv4_loopback_first_and_no_unspecified_or_link_local_ip() {
        let ips = interface_ips();
        assert_eq!(ips.first(), Some(&IpAddr::V4(Ipv4Addr::LOCALHOST)));
        for ip in &ips {
            assert!(!ip.is_unspecified(), "{ip}");
            if let IpAddr::V6(v6) = ip {
                assert_ne!(v6.segments()[0] & 0xffc0, 0xfe80, "{ip}");
            }
        }
    }
}
