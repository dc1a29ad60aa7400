//! DNS addresses: `/dns4/NAME/…`, `/dns6/NAME/…` and `/dns/NAME/…` resolved to IP addresses
//! before dialing (go-libp2p's swarm does the same in its dial worker, `resolveAddrs`, before
//! ranking).
//!
//! Resolution is I/O, so it lives here in the tokio layer: [`resolve_addr`] turns one address
//! into the IP addresses its name resolves to, keeping everything after the name (a `/p2p/`
//! suffix included). `/dns4` keeps IPv4 results only, `/dns6` IPv6 only, `/dns` both (IPv4
//! first). Every lookup has a timeout ([`DnsConfig::timeout`]), at most
//! [`DnsConfig::max_addrs_per_name`] results per name are kept, and one dial resolves at most
//! [`DnsConfig::max_names_per_dial`] names.
//!
//! Special-use names (RFC 6761) never reach the resolver: `localhost` and `*.localhost` are
//! the loopback addresses, `invalid` and `*.invalid` resolve to nothing.
//!
//! Secure WebSocket addresses keep the name as TLS server name: `/dns4/example.com/tcp/443/wss`
//! becomes `/ip4/…/tcp/443/tls/sni/example.com/ws` (as go-libp2p's WebSocket transport resolves
//! it). A plain `/ws` address has no place for the name, so the swarm leaves it to the WebSocket
//! transport, which resolves it itself and sends the name as the HTTP `Host` header.

use std::io;
use std::net::IpAddr;
use std::time::Duration;

use peernet_core::multiaddr::{Multiaddr, Protocol};
use peernet_core::TransportKind;

/// Why a DNS address could not be turned into IP addresses.
#[derive(Debug, thiserror::Error)]
pub enum DnsError {
    /// The name has no address of the family the address asks for (`/dns4`: IPv4, `/dns6`:
    /// IPv6), or is a special-use name that never resolves (`.invalid`): the fault of whoever
    /// wrote the address.
    #[error("DNS name {name} resolved to no address")]
    NoAddress {
        /// The name.
        name: String,
    },
    /// The resolver failed: the name does not exist, or no resolver answered (the address's
    /// author, or local I/O).
    #[error("DNS name {name} resolved to no address: lookup failed")]
    Lookup {
        /// The name.
        name: String,
        /// What the system resolver said.
        #[source]
        source: io::Error,
    },
    /// The lookup took longer than [`DnsConfig::timeout`] (the network or the resolver).
    #[error("resolving DNS name {name} timed out after {after:?}")]
    Timeout {
        /// The name.
        name: String,
        /// The timeout that passed.
        after: Duration,
    },
    /// One dial named more than [`DnsConfig::max_names_per_dial`] DNS names; this one was not
    /// resolved (the peer advertises too many names, or local misuse).
    #[error("DNS name {name} not resolved: a dial resolves at most {limit} names")]
    TooManyNames {
        /// The name left unresolved.
        name: String,
        /// The configured cap.
        limit: usize,
    },
}

impl DnsError {
    /// Who was at fault: the address's author for a name without an address or too many
    /// names, the resolver (I/O) for a failed or slow lookup.
    pub fn fault(&self) -> peernet_core::Fault {
        use peernet_core::Fault;
        match self {
            DnsError::NoAddress { .. } | DnsError::TooManyNames { .. } => Fault::Local,
            DnsError::Lookup { .. } | DnsError::Timeout { .. } => Fault::Io,
        }
    }
}

/// Limits of DNS resolution.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DnsConfig {
    /// How long one lookup may take. Default 5 s.
    pub timeout: Duration,
    /// At most this many addresses are kept from one name. Default 16.
    pub max_addrs_per_name: usize,
    /// At most this many names are resolved for one dial; addresses with further names fail
    /// with [`DnsError::TooManyNames`]. Default 8.
    pub max_names_per_dial: usize,
}

impl Default for DnsConfig {
    fn default() -> Self {
        DnsConfig {
            timeout: Duration::from_secs(5),
            max_addrs_per_name: 16,
            max_names_per_dial: 8,
        }
    }
}

/// Which address families a DNS component asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Family {
    V4,
    V6,
    Any,
}

impl Family {
    fn admits(self, ip: IpAddr) -> bool {
        match self {
            Family::V4 => ip.is_ipv4(),
            Family::V6 => ip.is_ipv6(),
            Family::Any => true,
        }
    }
}

/// The name and family of an address's leading `/dns`, `/dns4` or `/dns6` component.
fn dns_name(addr: &Multiaddr) -> Option<(String, Family)> {
    match addr.iter().next()? {
        Protocol::Dns(name) => Some((name.into_owned(), Family::Any)),
        Protocol::Dns4(name) => Some((name.into_owned(), Family::V4)),
        Protocol::Dns6(name) => Some((name.into_owned(), Family::V6)),
        _ => None,
    }
}

/// Whether `addr` starts with a `/dns`, `/dns4` or `/dns6` name.
pub fn is_dns_addr(addr: &Multiaddr) -> bool {
    dns_name(addr).is_some()
}

/// `name` is `domain` or a subdomain of it, ignoring case and a trailing dot.
fn under(name: &str, domain: &str) -> bool {
    let name = name.strip_suffix('.').unwrap_or(name).to_ascii_lowercase();
    name == domain || name.ends_with(&format!(".{domain}"))
}

/// The IP addresses `name` resolves to in `family`, at most `config.max_addrs_per_name`,
/// without duplicates, IPv4 before IPv6.
async fn lookup(name: &str, family: Family, config: &DnsConfig) -> Result<Vec<IpAddr>, DnsError> {
    let found: Vec<IpAddr> = if under(name, "localhost") {
        vec![
            IpAddr::from([127, 0, 0, 1]),
            IpAddr::from(std::net::Ipv6Addr::LOCALHOST),
        ]
    } else if under(name, "invalid") {
        Vec::new()
    } else {
        let lookup = tokio::net::lookup_host((name, 0));
        match tokio::time::timeout(config.timeout, lookup).await {
            Err(_) => {
                return Err(DnsError::Timeout {
                    name: name.to_owned(),
                    after: config.timeout,
                })
            }
            Ok(Err(source)) => {
                return Err(DnsError::Lookup {
                    name: name.to_owned(),
                    source,
                })
            }
            Ok(Ok(addrs)) => addrs.map(|a| a.ip()).collect(),
        }
    };
    let mut ips: Vec<IpAddr> = Vec::new();
    for ip in found {
        if family.admits(ip) && !ips.contains(&ip) && ips.len() < config.max_addrs_per_name {
            ips.push(ip);
        }
    }
    ips.sort_by_key(|ip| ip.is_ipv6());
    if ips.is_empty() {
        return Err(DnsError::NoAddress {
            name: name.to_owned(),
        });
    }
    Ok(ips)
}

/// The IP addresses the leading DNS name of `addr` resolves to (an address without one gives
/// nothing to resolve: `Ok(None)`).
pub(crate) async fn resolve_ips(
    addr: &Multiaddr,
    config: &DnsConfig,
) -> Result<Option<(String, Vec<IpAddr>)>, DnsError> {
    let Some((name, family)) = dns_name(addr) else {
        return Ok(None);
    };
    let ips = lookup(&name, family, config).await?;
    Ok(Some((name, ips)))
}

/// `addr` with its leading DNS component replaced by an unspecified IP of its family, to ask
/// a transport whether it handles the rest of the address; `None` without a DNS name.
pub(crate) fn with_placeholder_ip(addr: &Multiaddr) -> Option<Multiaddr> {
    let (_, family) = dns_name(addr)?;
    let ip = match family {
        Family::V6 => IpAddr::from(std::net::Ipv6Addr::UNSPECIFIED),
        Family::V4 | Family::Any => IpAddr::from([0, 0, 0, 0]),
    };
    let mut out = Multiaddr::from(ip);
    out.extend(addr.iter().skip(1));
    Some(out)
}

/// `addr` with its leading component replaced by `ip`; for a secure WebSocket address the
/// name is kept as TLS server name (`/wss` and `/tls/ws` become `/tls/sni/NAME/ws`).
fn with_ip(addr: &Multiaddr, ip: IpAddr, name: &str) -> Multiaddr {
    let mut out = Multiaddr::from(ip);
    let rest: Vec<Protocol<'_>> = addr.iter().skip(1).collect();
    let mut i = 0;
    while let Some(p) = rest.get(i) {
        match p {
            Protocol::Wss => {
                out.push(Protocol::Tls);
                out.push(Protocol::Sni(name.into()));
                out.push(Protocol::Ws);
            }
            Protocol::Tls if matches!(rest.get(i + 1), Some(Protocol::Ws)) => {
                out.push(Protocol::Tls);
                out.push(Protocol::Sni(name.into()));
            }
            other => out.push(other.clone()),
        }
        i += 1;
    }
    out
}

/// Resolves the leading `/dns`, `/dns4` or `/dns6` name of `addr` into one address per IP,
/// keeping the rest of the address (`/p2p/` included). An address without a DNS name comes
/// back unchanged.
///
/// ```
/// # #[tokio::main] async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// use peernet::{resolve_addr, DnsConfig, Multiaddr};
/// let addr: Multiaddr = "/dns4/localhost/tcp/4001".parse()?;
/// let resolved = resolve_addr(&addr, &DnsConfig::default()).await?;
/// assert_eq!(resolved, vec!["/ip4/127.0.0.1/tcp/4001".parse::<Multiaddr>()?]);
/// # Ok(()) }
/// ```
pub async fn resolve_addr(
    addr: &Multiaddr,
    config: &DnsConfig,
) -> Result<Vec<Multiaddr>, DnsError> {
    match resolve_ips(addr, config).await? {
        None => Ok(vec![addr.clone()]),
        Some((name, ips)) => Ok(ips.into_iter().map(|ip| with_ip(addr, ip, &name)).collect()),
    }
}

/// What [`resolve_dial_addrs`] made of a peer's addresses.
#[derive(Debug, Default)]
pub struct ResolvedAddrs {
    /// The addresses to dial: every address without a name, every result of every name that
    /// resolved, and plain `/ws` names (resolved by the WebSocket transport, which keeps the
    /// name as HTTP `Host`). Duplicates removed, order kept.
    pub addrs: Vec<Multiaddr>,
    /// The addresses whose name did not resolve, and why.
    pub failed: Vec<(Multiaddr, DnsError)>,
}

/// Resolves every DNS address of a dial (the swarm calls it before handing the addresses to
/// the dial worker's ranking, as go's `resolveAddrs`). Names are looked up concurrently, at
/// most [`DnsConfig::max_names_per_dial`] of them.
pub async fn resolve_dial_addrs(addrs: Vec<Multiaddr>, config: &DnsConfig) -> ResolvedAddrs {
    let mut out = ResolvedAddrs::default();
    let mut seen = std::collections::HashSet::new();
    let addrs: Vec<Multiaddr> = addrs
        .into_iter()
        .filter(|a| seen.insert(a.clone()))
        .collect();
    let mut names = 0usize;
    let mut lookups = Vec::new();
    for addr in addrs {
        let Some((name, _)) = dns_name(&addr) else {
            out.addrs.push(addr);
            continue;
        };
        if addr.transport_kind() == TransportKind::WebSocket {
            out.addrs.push(addr);
            continue;
        }
        if names >= config.max_names_per_dial {
            out.failed.push((
                addr,
                DnsError::TooManyNames {
                    name,
                    limit: config.max_names_per_dial,
                },
            ));
            continue;
        }
        names += 1;
        lookups.push(async move {
            let result = resolve_addr(&addr, config).await;
            (addr, result)
        });
    }
    for (addr, result) in futures_util::future::join_all(lookups).await {
        match result {
            Ok(resolved) => out.addrs.extend(resolved),
            Err(e) => out.failed.push((addr, e)),
        }
    }
    let mut seen = std::collections::HashSet::new();
    out.addrs.retain(|a| seen.insert(a.clone()));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ma(s: &str) -> Multiaddr {
        s.parse().unwrap()
    }

    async fn resolve(s: &str) -> Result<Vec<Multiaddr>, DnsError> {
        resolve_addr(&ma(s), &DnsConfig::default()).await
    }

    #[tokio::test]
    async fn dns4_localhost_keeps_ipv4_and_the_p2p_suffix() {
        let id = "12D3KooWD3eckifWpRn9wQpMG9R9hX3sD158z7EqHWmweQAJU5SA";
        let got = resolve(&format!("/dns4/localhost/tcp/4001/p2p/{id}"))
            .await
            .unwrap();
        assert_eq!(got, vec![ma(&format!("/ip4/127.0.0.1/tcp/4001/p2p/{id}"))]);
    }

    #[tokio::test]
    async fn dns6_keeps_ipv6_only_and_dns_keeps_both_ipv4_first() {
        let got = resolve("/dns6/localhost/udp/5/quic-v1").await.unwrap();
        assert_eq!(got, vec![ma("/ip6/::1/udp/5/quic-v1")]);
        let got = resolve("/dns/LocalHost./tcp/5").await.unwrap();
        assert_eq!(got, vec![ma("/ip4/127.0.0.1/tcp/5"), ma("/ip6/::1/tcp/5")]);
    }

    #[tokio::test]
    async fn secure_websocket_keeps_the_name_as_sni() {
        for shape in ["wss", "tls/ws"] {
            let got = resolve(&format!("/dns4/a.localhost/tcp/443/{shape}"))
                .await
                .unwrap();
            assert_eq!(
                got,
                vec![ma("/ip4/127.0.0.1/tcp/443/tls/sni/a.localhost/ws")]
            );
        }
        let got = resolve("/dns4/localhost/tcp/443/tls/sni/other.example/ws")
            .await
            .unwrap();
        assert_eq!(
            got,
            vec![ma("/ip4/127.0.0.1/tcp/443/tls/sni/other.example/ws")]
        );
    }

    #[tokio::test]
    async fn invalid_names_resolve_to_nothing_with_the_name_in_the_error() {
        let e = resolve("/dns4/nothing-here.invalid/tcp/1")
            .await
            .unwrap_err();
        assert!(matches!(&e, DnsError::NoAddress { name } if name == "nothing-here.invalid"));
        assert_eq!(
            e.to_string(),
            "DNS name nothing-here.invalid resolved to no address"
        );
    }

    #[tokio::test]
    async fn addresses_without_a_name_pass_through() {
        assert_eq!(
            resolve("/ip4/1.2.3.4/tcp/1").await.unwrap(),
            vec![ma("/ip4/1.2.3.4/tcp/1")]
        );
    }

    #[tokio::test]
    async fn dial_resolution_caps_names_and_leaves_plain_ws_to_the_transport() {
        let config = DnsConfig {
            max_names_per_dial: 2,
            ..DnsConfig::default()
        };
        let addrs = vec![
            ma("/ip4/1.2.3.4/tcp/1"),
            ma("/dns4/localhost/tcp/2/ws"),
            ma("/dns4/localhost/tcp/3"),
            ma("/dns4/x.invalid/tcp/4"),
            ma("/dns4/localhost/tcp/5"),
            ma("/dns4/localhost/tcp/3"),
            ma("/dns4/localhost/tcp/3/tls/ws"),
        ];
        let r = resolve_dial_addrs(addrs, &config).await;
        assert_eq!(
            r.addrs,
            vec![
                ma("/ip4/1.2.3.4/tcp/1"),
                ma("/dns4/localhost/tcp/2/ws"),
                ma("/ip4/127.0.0.1/tcp/3"),
            ]
        );
        let failed: Vec<String> = r.failed.iter().map(|(a, e)| format!("{a}: {e}")).collect();
        assert_eq!(
            failed,
            vec![
                "/dns4/localhost/tcp/5: DNS name localhost not resolved: a dial resolves at most 2 names",
                "/dns4/localhost/tcp/3/tls/ws: DNS name localhost not resolved: a dial resolves at most 2 names",
                "/dns4/x.invalid/tcp/4: DNS name x.invalid resolved to no address",
            ]
        );
    }

    #[tokio::test]
    async fn results_per_name_are_capped() {
        let config = DnsConfig {
            max_addrs_per_name: 1,
            ..DnsConfig::default()
        };
        let got = resolve_addr(&ma("/dns/localhost/tcp/1"), &config)
            .await
            .unwrap();
        assert_eq!(got, vec![ma("/ip4/127.0.0.1/tcp/1")]);
    }
}
