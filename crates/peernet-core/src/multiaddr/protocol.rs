//! [`Protocol`]: one component of a multiaddr, with the codes and value encodings of the
//! multicodec table as go-multiaddr implements them.

use std::borrow::Cow;
use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::sync::LazyLock;

use data_encoding::{Encoding, Specification};

use super::{multibase, MultiaddrError};
use crate::identity::PeerId;

/// Multicodec codes of the protocols in the table (multiformats/multicodec `table.csv`).
pub(crate) mod code {
    pub const IP4: u64 = 4;
    pub const TCP: u64 = 6;
    pub const DCCP: u64 = 33;
    pub const IP6: u64 = 41;
    pub const IP6ZONE: u64 = 42;
    pub const IPCIDR: u64 = 43;
    pub const DNS: u64 = 53;
    pub const DNS4: u64 = 54;
    pub const DNS6: u64 = 55;
    pub const DNSADDR: u64 = 56;
    pub const SCTP: u64 = 132;
    pub const UDP: u64 = 273;
    pub const P2P_WEBRTC_DIRECT: u64 = 276;
    pub const WEBRTC_DIRECT: u64 = 280;
    pub const WEBRTC: u64 = 281;
    pub const P2P_CIRCUIT: u64 = 290;
    pub const UDT: u64 = 301;
    pub const UTP: u64 = 302;
    pub const UNIX: u64 = 400;
    pub const P2P: u64 = 421;
    pub const HTTPS: u64 = 443;
    pub const ONION: u64 = 444;
    pub const ONION3: u64 = 445;
    pub const GARLIC64: u64 = 446;
    pub const GARLIC32: u64 = 447;
    pub const TLS: u64 = 448;
    pub const SNI: u64 = 449;
    pub const NOISE: u64 = 454;
    pub const QUIC: u64 = 460;
    pub const QUIC_V1: u64 = 461;
    pub const WEBTRANSPORT: u64 = 465;
    pub const CERTHASH: u64 = 466;
    pub const WS: u64 = 477;
    pub const WSS: u64 = 478;
    pub const HTTP: u64 = 480;
    pub const HTTP_PATH: u64 = 481;
    pub const MEMORY: u64 = 777;
    pub const PLAINTEXTV2: u64 = 7_367_777;
}

/// How a protocol's value is laid out in the binary form.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Size {
    /// No value.
    Zero,
    /// A value of exactly this many bytes.
    Fixed(usize),
    /// A varint length prefix, then that many bytes.
    Var,
}

/// One row of the protocol table.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Spec {
    pub name: &'static str,
    pub code: u64,
    pub size: Size,
    /// A path protocol takes the rest of the text form as its value and must come last.
    pub path: bool,
}

const fn spec(name: &'static str, code: u64, size: Size) -> Spec {
    Spec {
        name,
        code,
        size,
        path: false,
    }
}

/// go-multiaddr's protocol table (protocols.go), plus `memory`.
pub(crate) const TABLE: &[Spec] = &[
    spec("ip4", code::IP4, Size::Fixed(4)),
    spec("tcp", code::TCP, Size::Fixed(2)),
    spec("dns", code::DNS, Size::Var),
    spec("dns4", code::DNS4, Size::Var),
    spec("dns6", code::DNS6, Size::Var),
    spec("dnsaddr", code::DNSADDR, Size::Var),
    spec("udp", code::UDP, Size::Fixed(2)),
    spec("dccp", code::DCCP, Size::Fixed(2)),
    spec("ip6", code::IP6, Size::Fixed(16)),
    spec("ip6zone", code::IP6ZONE, Size::Var),
    spec("ipcidr", code::IPCIDR, Size::Fixed(1)),
    spec("sctp", code::SCTP, Size::Fixed(2)),
    spec("p2p-circuit", code::P2P_CIRCUIT, Size::Zero),
    spec("onion", code::ONION, Size::Fixed(12)),
    spec("onion3", code::ONION3, Size::Fixed(37)),
    spec("garlic64", code::GARLIC64, Size::Var),
    spec("garlic32", code::GARLIC32, Size::Var),
    spec("utp", code::UTP, Size::Zero),
    spec("udt", code::UDT, Size::Zero),
    spec("quic", code::QUIC, Size::Zero),
    spec("quic-v1", code::QUIC_V1, Size::Zero),
    spec("webtransport", code::WEBTRANSPORT, Size::Zero),
    spec("certhash", code::CERTHASH, Size::Var),
    spec("http", code::HTTP, Size::Zero),
    spec("http-path", code::HTTP_PATH, Size::Var),
    spec("https", code::HTTPS, Size::Zero),
    spec("p2p", code::P2P, Size::Var),
    Spec {
        name: "unix",
        code: code::UNIX,
        size: Size::Var,
        path: true,
    },
    spec("p2p-webrtc-direct", code::P2P_WEBRTC_DIRECT, Size::Zero),
    spec("tls", code::TLS, Size::Zero),
    spec("sni", code::SNI, Size::Var),
    spec("noise", code::NOISE, Size::Zero),
    spec("ws", code::WS, Size::Zero),
    spec("wss", code::WSS, Size::Zero),
    spec("plaintextv2", code::PLAINTEXTV2, Size::Zero),
    spec("webrtc-direct", code::WEBRTC_DIRECT, Size::Zero),
    spec("webrtc", code::WEBRTC, Size::Zero),
    // protocols.csv lists `memory` as variable-size, but go-multiaddr and rust-multiaddr both
    // encode it as eight fixed big-endian bytes; the network follows them, so do we.
    spec("memory", code::MEMORY, Size::Fixed(8)),
];

/// The table row for a text name; `ipfs` is the legacy alias of `p2p`.
pub(crate) fn spec_by_name(name: &str) -> Option<&'static Spec> {
    let name = if name == "ipfs" { "p2p" } else { name };
    TABLE.iter().find(|s| s.name == name)
}

/// The table row for a binary code.
pub(crate) fn spec_by_code(code: u64) -> Option<&'static Spec> {
    TABLE.iter().find(|s| s.code == code)
}

/// Multicodec of a libp2p public key inside a CIDv1.
const CID_LIBP2P_KEY: u64 = 0x72;
/// Shortest garlic64 value (an I2P destination), in bytes.
const GARLIC64_MIN_LEN: usize = 386;

/// One component of a [`Multiaddr`](super::Multiaddr): a protocol and its value.
///
/// Values borrow from the address they were read from where they are variable-length; use
/// [`Protocol::acquire`] to get an owned `Protocol<'static>`. Constructing a variant directly
/// does not validate its value: an invalid one (an empty DNS name, a unix path not starting with
/// `/`, a certhash that is not a multihash, onion port 0…) produces an address whose bytes
/// [`Multiaddr::from_bytes`](super::Multiaddr::from_bytes) will refuse.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[non_exhaustive]
pub enum Protocol<'a> {
    /// `/ip4/1.2.3.4` (code 4): four bytes.
    Ip4(Ipv4Addr),
    /// `/tcp/80` (code 6): big-endian port.
    Tcp(u16),
    /// `/dns/example.com` (code 53): a name resolved to IPv4 and IPv6 addresses.
    Dns(Cow<'a, str>),
    /// `/dns4/example.com` (code 54): a name resolved to IPv4 addresses only.
    Dns4(Cow<'a, str>),
    /// `/dns6/example.com` (code 55): a name resolved to IPv6 addresses only.
    Dns6(Cow<'a, str>),
    /// `/dnsaddr/example.com` (code 56): a name whose `_dnsaddr` TXT records hold multiaddrs.
    Dnsaddr(Cow<'a, str>),
    /// `/udp/53` (code 273): big-endian port.
    Udp(u16),
    /// `/dccp/80` (code 33): big-endian port.
    Dccp(u16),
    /// `/ip6/::1` (code 41): sixteen bytes.
    Ip6(Ipv6Addr),
    /// `/ip6zone/eth0` (code 42): an RFC 4007 zone for the IPv6 address that follows.
    Ip6zone(Cow<'a, str>),
    /// `/ipcidr/24` (code 43): a one-byte prefix length for the preceding IP address.
    Ipcidr(u8),
    /// `/sctp/80` (code 132): big-endian port.
    Sctp(u16),
    /// `/p2p-circuit` (code 290): a connection relayed through the peer before it.
    P2pCircuit,
    /// `/onion/timaq4ygg2iegci7:80` (code 444): a Tor v2 service, 10-byte hash and non-zero port.
    Onion([u8; 10], u16),
    /// `/onion3/<56 base32 chars>:80` (code 445): a Tor v3 service, 35-byte key and non-zero port.
    Onion3([u8; 35], u16),
    /// `/garlic64/…` (code 446): an I2P destination (at least 386 bytes), printed in I2P base64.
    Garlic64(Cow<'a, [u8]>),
    /// `/garlic32/…` (code 447): an I2P base32 address (32 bytes, or 35 and more), unpadded.
    Garlic32(Cow<'a, [u8]>),
    /// `/utp` (code 302).
    Utp,
    /// `/udt` (code 301).
    Udt,
    /// `/quic` (code 460): QUIC draft-29.
    Quic,
    /// `/quic-v1` (code 461): QUIC version 1 (RFC 9000).
    QuicV1,
    /// `/webtransport` (code 465).
    WebTransport,
    /// `/certhash/u…` (code 466): the multihash of a certificate, printed as multibase base64url.
    Certhash(Cow<'a, [u8]>),
    /// `/http` (code 480).
    Http,
    /// `/http-path/a%2Fb` (code 481): an HTTP path (any bytes), printed query-escaped.
    HttpPath(Cow<'a, [u8]>),
    /// `/https` (code 443): deprecated alias of `/tls/http`.
    Https,
    /// `/p2p/12D3KooW…` (code 421; `/ipfs/` is accepted when parsing text).
    P2p(PeerId),
    /// `/unix/tmp/sock` (code 400): a path protocol: its value is the rest of the text form and
    /// starts with `/`.
    Unix(Cow<'a, str>),
    /// `/p2p-webrtc-direct` (code 276): deprecated.
    P2pWebRtcDirect,
    /// `/tls` (code 448).
    Tls,
    /// `/sni/example.com` (code 449): the TLS server name.
    Sni(Cow<'a, str>),
    /// `/noise` (code 454).
    Noise,
    /// `/ws` (code 477).
    Ws,
    /// `/wss` (code 478): deprecated alias of `/tls/ws`.
    Wss,
    /// `/plaintextv2` (code 7367777).
    PlaintextV2,
    /// `/webrtc-direct` (code 280).
    WebRtcDirect,
    /// `/webrtc` (code 281).
    WebRtc,
    /// `/memory/42` (code 777): an in-memory transport address, eight big-endian bytes.
    Memory(u64),
}

impl<'a> Protocol<'a> {
    /// The multicodec code.
    pub fn code(&self) -> u64 {
        match self {
            Protocol::Ip4(_) => code::IP4,
            Protocol::Tcp(_) => code::TCP,
            Protocol::Dns(_) => code::DNS,
            Protocol::Dns4(_) => code::DNS4,
            Protocol::Dns6(_) => code::DNS6,
            Protocol::Dnsaddr(_) => code::DNSADDR,
            Protocol::Udp(_) => code::UDP,
            Protocol::Dccp(_) => code::DCCP,
            Protocol::Ip6(_) => code::IP6,
            Protocol::Ip6zone(_) => code::IP6ZONE,
            Protocol::Ipcidr(_) => code::IPCIDR,
            Protocol::Sctp(_) => code::SCTP,
            Protocol::P2pCircuit => code::P2P_CIRCUIT,
            Protocol::Onion(..) => code::ONION,
            Protocol::Onion3(..) => code::ONION3,
            Protocol::Garlic64(_) => code::GARLIC64,
            Protocol::Garlic32(_) => code::GARLIC32,
            Protocol::Utp => code::UTP,
            Protocol::Udt => code::UDT,
            Protocol::Quic => code::QUIC,
            Protocol::QuicV1 => code::QUIC_V1,
            Protocol::WebTransport => code::WEBTRANSPORT,
            Protocol::Certhash(_) => code::CERTHASH,
            Protocol::Http => code::HTTP,
            Protocol::HttpPath(_) => code::HTTP_PATH,
            Protocol::Https => code::HTTPS,
            Protocol::P2p(_) => code::P2P,
            Protocol::Unix(_) => code::UNIX,
            Protocol::P2pWebRtcDirect => code::P2P_WEBRTC_DIRECT,
            Protocol::Tls => code::TLS,
            Protocol::Sni(_) => code::SNI,
            Protocol::Noise => code::NOISE,
            Protocol::Ws => code::WS,
            Protocol::Wss => code::WSS,
            Protocol::PlaintextV2 => code::PLAINTEXTV2,
            Protocol::WebRtcDirect => code::WEBRTC_DIRECT,
            Protocol::WebRtc => code::WEBRTC,
            Protocol::Memory(_) => code::MEMORY,
        }
    }

    /// The name used in the text form (`p2p`, never the `ipfs` alias).
    pub fn name(&self) -> &'static str {
        match self {
            Protocol::Ip4(_) => "ip4",
            Protocol::Tcp(_) => "tcp",
            Protocol::Dns(_) => "dns",
            Protocol::Dns4(_) => "dns4",
            Protocol::Dns6(_) => "dns6",
            Protocol::Dnsaddr(_) => "dnsaddr",
            Protocol::Udp(_) => "udp",
            Protocol::Dccp(_) => "dccp",
            Protocol::Ip6(_) => "ip6",
            Protocol::Ip6zone(_) => "ip6zone",
            Protocol::Ipcidr(_) => "ipcidr",
            Protocol::Sctp(_) => "sctp",
            Protocol::P2pCircuit => "p2p-circuit",
            Protocol::Onion(..) => "onion",
            Protocol::Onion3(..) => "onion3",
            Protocol::Garlic64(_) => "garlic64",
            Protocol::Garlic32(_) => "garlic32",
            Protocol::Utp => "utp",
            Protocol::Udt => "udt",
            Protocol::Quic => "quic",
            Protocol::QuicV1 => "quic-v1",
            Protocol::WebTransport => "webtransport",
            Protocol::Certhash(_) => "certhash",
            Protocol::Http => "http",
            Protocol::HttpPath(_) => "http-path",
            Protocol::Https => "https",
            Protocol::P2p(_) => "p2p",
            Protocol::Unix(_) => "unix",
            Protocol::P2pWebRtcDirect => "p2p-webrtc-direct",
            Protocol::Tls => "tls",
            Protocol::Sni(_) => "sni",
            Protocol::Noise => "noise",
            Protocol::Ws => "ws",
            Protocol::Wss => "wss",
            Protocol::PlaintextV2 => "plaintextv2",
            Protocol::WebRtcDirect => "webrtc-direct",
            Protocol::WebRtc => "webrtc",
            Protocol::Memory(_) => "memory",
        }
    }

    /// An owned copy that no longer borrows from the address it was read from.
    pub fn acquire(self) -> Protocol<'static> {
        fn own<T: ToOwned + ?Sized>(c: Cow<'_, T>) -> Cow<'static, T> {
            Cow::Owned(c.into_owned())
        }
        match self {
            Protocol::Ip4(a) => Protocol::Ip4(a),
            Protocol::Tcp(p) => Protocol::Tcp(p),
            Protocol::Dns(s) => Protocol::Dns(own(s)),
            Protocol::Dns4(s) => Protocol::Dns4(own(s)),
            Protocol::Dns6(s) => Protocol::Dns6(own(s)),
            Protocol::Dnsaddr(s) => Protocol::Dnsaddr(own(s)),
            Protocol::Udp(p) => Protocol::Udp(p),
            Protocol::Dccp(p) => Protocol::Dccp(p),
            Protocol::Ip6(a) => Protocol::Ip6(a),
            Protocol::Ip6zone(s) => Protocol::Ip6zone(own(s)),
            Protocol::Ipcidr(m) => Protocol::Ipcidr(m),
            Protocol::Sctp(p) => Protocol::Sctp(p),
            Protocol::P2pCircuit => Protocol::P2pCircuit,
            Protocol::Onion(h, p) => Protocol::Onion(h, p),
            Protocol::Onion3(h, p) => Protocol::Onion3(h, p),
            Protocol::Garlic64(b) => Protocol::Garlic64(own(b)),
            Protocol::Garlic32(b) => Protocol::Garlic32(own(b)),
            Protocol::Utp => Protocol::Utp,
            Protocol::Udt => Protocol::Udt,
            Protocol::Quic => Protocol::Quic,
            Protocol::QuicV1 => Protocol::QuicV1,
            Protocol::WebTransport => Protocol::WebTransport,
            Protocol::Certhash(b) => Protocol::Certhash(own(b)),
            Protocol::Http => Protocol::Http,
            Protocol::HttpPath(b) => Protocol::HttpPath(own(b)),
            Protocol::Https => Protocol::Https,
            Protocol::P2p(id) => Protocol::P2p(id),
            Protocol::Unix(s) => Protocol::Unix(own(s)),
            Protocol::P2pWebRtcDirect => Protocol::P2pWebRtcDirect,
            Protocol::Tls => Protocol::Tls,
            Protocol::Sni(s) => Protocol::Sni(own(s)),
            Protocol::Noise => Protocol::Noise,
            Protocol::Ws => Protocol::Ws,
            Protocol::Wss => Protocol::Wss,
            Protocol::PlaintextV2 => Protocol::PlaintextV2,
            Protocol::WebRtcDirect => Protocol::WebRtcDirect,
            Protocol::WebRtc => Protocol::WebRtc,
            Protocol::Memory(n) => Protocol::Memory(n),
        }
    }

    /// Whether this is a path protocol (`/unix/`), whose text value runs to the end of the
    /// address.
    pub fn is_path(&self) -> bool {
        matches!(self, Protocol::Unix(_))
    }

    /// The value as it appears in the binary form, without code or length prefix; empty for
    /// protocols without a value.
    fn value_bytes(&self) -> Cow<'_, [u8]> {
        match self {
            Protocol::Ip4(a) => Cow::Owned(a.octets().to_vec()),
            Protocol::Ip6(a) => Cow::Owned(a.octets().to_vec()),
            Protocol::Tcp(p) | Protocol::Udp(p) | Protocol::Dccp(p) | Protocol::Sctp(p) => {
                Cow::Owned(p.to_be_bytes().to_vec())
            }
            Protocol::Dns(s)
            | Protocol::Dns4(s)
            | Protocol::Dns6(s)
            | Protocol::Dnsaddr(s)
            | Protocol::Ip6zone(s)
            | Protocol::Unix(s)
            | Protocol::Sni(s) => Cow::Borrowed(s.as_bytes()),
            Protocol::Ipcidr(m) => Cow::Owned(vec![*m]),
            Protocol::Onion(h, p) => {
                let mut v = h.to_vec();
                v.extend_from_slice(&p.to_be_bytes());
                Cow::Owned(v)
            }
            Protocol::Onion3(h, p) => {
                let mut v = h.to_vec();
                v.extend_from_slice(&p.to_be_bytes());
                Cow::Owned(v)
            }
            Protocol::Garlic64(b)
            | Protocol::Garlic32(b)
            | Protocol::Certhash(b)
            | Protocol::HttpPath(b) => Cow::Borrowed(b.as_ref()),
            Protocol::P2p(id) => Cow::Borrowed(id.as_bytes()),
            Protocol::Memory(n) => Cow::Owned(n.to_be_bytes().to_vec()),
            Protocol::P2pCircuit
            | Protocol::Utp
            | Protocol::Udt
            | Protocol::Quic
            | Protocol::QuicV1
            | Protocol::WebTransport
            | Protocol::Http
            | Protocol::Https
            | Protocol::P2pWebRtcDirect
            | Protocol::Tls
            | Protocol::Noise
            | Protocol::Ws
            | Protocol::Wss
            | Protocol::PlaintextV2
            | Protocol::WebRtcDirect
            | Protocol::WebRtc => Cow::Borrowed(&[]),
        }
    }

    /// Appends the binary form of this component (code, length prefix if any, value).
    pub fn write_bytes(&self, out: &mut Vec<u8>) {
        let code = self.code();
        crate::varint::encode(code, out);
        let value = self.value_bytes();
        if spec_by_code(code).is_some_and(|s| s.size == Size::Var) {
            crate::varint::encode(value.len() as u64, out);
        }
        out.extend_from_slice(&value);
    }

    /// The binary form of this component alone.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::new();
        self.write_bytes(&mut out);
        out
    }

    /// Reads one component from the start of `input`, returning it and the bytes after it.
    pub(crate) fn read(input: &'a [u8]) -> Result<(Protocol<'a>, &'a [u8]), MultiaddrError> {
        let (code, rest) = crate::varint::decode(input)?;
        let spec = spec_by_code(code).ok_or(MultiaddrError::UnknownProtocolCode(code))?;
        let (value, rest) = match spec.size {
            Size::Zero => (&[][..], rest),
            Size::Fixed(n) => split(rest, n, spec.name)?,
            Size::Var => {
                let (len, rest) = crate::varint::decode(rest)?;
                let len = usize::try_from(len).map_err(|_| MultiaddrError::Truncated {
                    protocol: spec.name,
                })?;
                if len == 0 {
                    return Err(invalid(spec.name, "empty value"));
                }
                split(rest, len, spec.name)?
            }
        };
        Ok((Protocol::from_value_bytes(spec, value)?, rest))
    }

    /// Builds a component from its table row and its binary value (whose length matches the
    /// row's size), validating it.
    fn from_value_bytes(spec: &Spec, v: &'a [u8]) -> Result<Protocol<'a>, MultiaddrError> {
        let name = spec.name;
        let p = match spec.code {
            code::IP4 => Protocol::Ip4(Ipv4Addr::from(array::<4>(v, name)?)),
            code::IP6 => Protocol::Ip6(Ipv6Addr::from(array::<16>(v, name)?)),
            code::TCP => Protocol::Tcp(u16::from_be_bytes(array(v, name)?)),
            code::UDP => Protocol::Udp(u16::from_be_bytes(array(v, name)?)),
            code::DCCP => Protocol::Dccp(u16::from_be_bytes(array(v, name)?)),
            code::SCTP => Protocol::Sctp(u16::from_be_bytes(array(v, name)?)),
            code::IPCIDR => Protocol::Ipcidr(u8::from_be_bytes(array(v, name)?)),
            code::MEMORY => Protocol::Memory(u64::from_be_bytes(array(v, name)?)),
            code::DNS => Protocol::Dns(Cow::Borrowed(dns_name(v, name)?)),
            code::DNS4 => Protocol::Dns4(Cow::Borrowed(dns_name(v, name)?)),
            code::DNS6 => Protocol::Dns6(Cow::Borrowed(dns_name(v, name)?)),
            code::DNSADDR => Protocol::Dnsaddr(Cow::Borrowed(dns_name(v, name)?)),
            code::SNI => Protocol::Sni(Cow::Borrowed(dns_name(v, name)?)),
            code::IP6ZONE => Protocol::Ip6zone(Cow::Borrowed(dns_name(v, name)?)),
            code::ONION => {
                let (host, port) = onion_parts::<10>(v, name)?;
                Protocol::Onion(host, port)
            }
            code::ONION3 => {
                let (host, port) = onion_parts::<35>(v, name)?;
                Protocol::Onion3(host, port)
            }
            code::GARLIC64 => {
                check_garlic64(v)?;
                Protocol::Garlic64(Cow::Borrowed(v))
            }
            code::GARLIC32 => {
                check_garlic32(v)?;
                Protocol::Garlic32(Cow::Borrowed(v))
            }
            code::CERTHASH => {
                check_multihash(v).map_err(|reason| invalid(name, reason))?;
                Protocol::Certhash(Cow::Borrowed(v))
            }
            code::HTTP_PATH => {
                if v.is_empty() {
                    return Err(invalid(name, "empty http path"));
                }
                Protocol::HttpPath(Cow::Borrowed(v))
            }
            code::P2P => Protocol::P2p(PeerId::from_bytes(v)?),
            code::UNIX => {
                let path = std::str::from_utf8(v).map_err(|_| invalid(name, "not UTF-8"))?;
                check_unix(path)?;
                Protocol::Unix(Cow::Borrowed(path))
            }
            code::P2P_CIRCUIT => Protocol::P2pCircuit,
            code::UTP => Protocol::Utp,
            code::UDT => Protocol::Udt,
            code::QUIC => Protocol::Quic,
            code::QUIC_V1 => Protocol::QuicV1,
            code::WEBTRANSPORT => Protocol::WebTransport,
            code::HTTP => Protocol::Http,
            code::HTTPS => Protocol::Https,
            code::P2P_WEBRTC_DIRECT => Protocol::P2pWebRtcDirect,
            code::TLS => Protocol::Tls,
            code::NOISE => Protocol::Noise,
            code::WS => Protocol::Ws,
            code::WSS => Protocol::Wss,
            code::PLAINTEXTV2 => Protocol::PlaintextV2,
            code::WEBRTC_DIRECT => Protocol::WebRtcDirect,
            code::WEBRTC => Protocol::WebRtc,
            other => return Err(MultiaddrError::UnknownProtocolCode(other)),
        };
        Ok(p)
    }

    /// Builds a component from its table row and its text value, validating it.
    pub(crate) fn from_value_text(spec: &Spec, s: &'a str) -> Result<Protocol<'a>, MultiaddrError> {
        let name = spec.name;
        let p = match spec.code {
            code::IP4 => Protocol::Ip4(parse_ip4(s).ok_or(invalid(name, "not an IPv4 address"))?),
            code::IP6 => Protocol::Ip6(parse_ip6(s).ok_or(invalid(name, "not an IPv6 address"))?),
            code::TCP => Protocol::Tcp(decimal(s, name)?),
            code::UDP => Protocol::Udp(decimal(s, name)?),
            code::DCCP => Protocol::Dccp(decimal(s, name)?),
            code::SCTP => Protocol::Sctp(decimal(s, name)?),
            code::IPCIDR => Protocol::Ipcidr(decimal(s, name)?),
            code::MEMORY => Protocol::Memory(decimal(s, name)?),
            code::DNS => Protocol::Dns(Cow::Borrowed(dns_name(s.as_bytes(), name)?)),
            code::DNS4 => Protocol::Dns4(Cow::Borrowed(dns_name(s.as_bytes(), name)?)),
            code::DNS6 => Protocol::Dns6(Cow::Borrowed(dns_name(s.as_bytes(), name)?)),
            code::DNSADDR => Protocol::Dnsaddr(Cow::Borrowed(dns_name(s.as_bytes(), name)?)),
            code::SNI => Protocol::Sni(Cow::Borrowed(dns_name(s.as_bytes(), name)?)),
            code::IP6ZONE => Protocol::Ip6zone(Cow::Borrowed(dns_name(s.as_bytes(), name)?)),
            code::ONION => {
                let (host, port) = onion_text::<10>(s, 16, name)?;
                Protocol::Onion(host, port)
            }
            code::ONION3 => {
                let (host, port) = onion_text::<35>(s, 56, name)?;
                Protocol::Onion3(host, port)
            }
            code::GARLIC64 => {
                let bytes = garlic64_decode(s).ok_or(invalid(name, "not I2P base64"))?;
                check_garlic64(&bytes)?;
                Protocol::Garlic64(Cow::Owned(bytes))
            }
            code::GARLIC32 => {
                let bytes = garlic32_decode(s).ok_or(invalid(name, "not I2P base32"))?;
                check_garlic32(&bytes)?;
                Protocol::Garlic32(Cow::Owned(bytes))
            }
            code::CERTHASH => {
                let bytes = multibase::decode(s).map_err(|reason| invalid(name, reason))?;
                check_multihash(&bytes).map_err(|reason| invalid(name, reason))?;
                Protocol::Certhash(Cow::Owned(bytes))
            }
            code::HTTP_PATH => {
                let bytes = query_unescape(s).ok_or(invalid(name, "bad percent-escape"))?;
                if bytes.is_empty() {
                    return Err(invalid(name, "empty http path"));
                }
                Protocol::HttpPath(Cow::Owned(bytes))
            }
            code::P2P => Protocol::P2p(parse_peer_id(s)?),
            code::UNIX => {
                check_unix(s)?;
                Protocol::Unix(Cow::Borrowed(s))
            }
            _ => {
                // Protocols without a value never reach here: the caller does not look for one.
                return Err(invalid(name, "protocol takes no value"));
            }
        };
        Ok(p)
    }
}

impl fmt::Display for Protocol<'_> {
    /// The text form of this component: `/name` or `/name/value` (`/unix/path`).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "/{}", self.name())?;
        match self {
            Protocol::Ip4(a) => write!(f, "/{a}"),
            // Rust prints IPv4-mapped addresses as `::ffff:a.b.c.d`, as go-multiaddr does.
            Protocol::Ip6(a) => write!(f, "/{a}"),
            Protocol::Tcp(p) | Protocol::Udp(p) | Protocol::Dccp(p) | Protocol::Sctp(p) => {
                write!(f, "/{p}")
            }
            Protocol::Ipcidr(m) => write!(f, "/{m}"),
            Protocol::Memory(n) => write!(f, "/{n}"),
            Protocol::Dns(s)
            | Protocol::Dns4(s)
            | Protocol::Dns6(s)
            | Protocol::Dnsaddr(s)
            | Protocol::Ip6zone(s)
            | Protocol::Sni(s) => write!(f, "/{s}"),
            Protocol::Unix(path) => {
                if path.starts_with('/') {
                    f.write_str(path)
                } else {
                    write!(f, "/{path}")
                }
            }
            Protocol::Onion(h, p) => {
                let host = data_encoding::BASE32.encode(h).to_ascii_lowercase();
                write!(f, "/{host}:{p}")
            }
            Protocol::Onion3(h, p) => {
                let host = data_encoding::BASE32.encode(h).to_ascii_lowercase();
                write!(f, "/{host}:{p}")
            }
            Protocol::Garlic64(b) => write!(f, "/{}", garlic64_encode(b)),
            Protocol::Garlic32(b) => write!(f, "/{}", garlic32_encode(b)),
            Protocol::Certhash(b) => write!(f, "/{}", multibase::encode_base64url(b)),
            Protocol::HttpPath(b) => write!(f, "/{}", query_escape(b)),
            Protocol::P2p(id) => write!(f, "/{id}"),
            Protocol::P2pCircuit
            | Protocol::Utp
            | Protocol::Udt
            | Protocol::Quic
            | Protocol::QuicV1
            | Protocol::WebTransport
            | Protocol::Http
            | Protocol::Https
            | Protocol::P2pWebRtcDirect
            | Protocol::Tls
            | Protocol::Noise
            | Protocol::Ws
            | Protocol::Wss
            | Protocol::PlaintextV2
            | Protocol::WebRtcDirect
            | Protocol::WebRtc => Ok(()),
        }
    }
}

impl From<Ipv4Addr> for Protocol<'_> {
    fn from(a: Ipv4Addr) -> Self {
        Protocol::Ip4(a)
    }
}

impl From<Ipv6Addr> for Protocol<'_> {
    fn from(a: Ipv6Addr) -> Self {
        Protocol::Ip6(a)
    }
}

impl From<IpAddr> for Protocol<'_> {
    fn from(a: IpAddr) -> Self {
        match a {
            IpAddr::V4(a) => Protocol::Ip4(a),
            IpAddr::V6(a) => Protocol::Ip6(a),
        }
    }
}

impl From<PeerId> for Protocol<'_> {
    fn from(id: PeerId) -> Self {
        Protocol::P2p(id)
    }
}

fn invalid(protocol: &'static str, reason: &'static str) -> MultiaddrError {
    MultiaddrError::InvalidValue { protocol, reason }
}

/// Splits `n` bytes off the front of `input`.
fn split<'b>(
    input: &'b [u8],
    n: usize,
    protocol: &'static str,
) -> Result<(&'b [u8], &'b [u8]), MultiaddrError> {
    if input.len() < n {
        return Err(MultiaddrError::Truncated { protocol });
    }
    Ok(input.split_at(n))
}

fn array<const N: usize>(v: &[u8], protocol: &'static str) -> Result<[u8; N], MultiaddrError> {
    v.try_into()
        .map_err(|_| invalid(protocol, "wrong value length"))
}

/// A DNS name, SNI or IPv6 zone: non-empty UTF-8 without `/`.
fn dns_name<'b>(v: &'b [u8], protocol: &'static str) -> Result<&'b str, MultiaddrError> {
    if v.is_empty() {
        return Err(invalid(protocol, "empty value"));
    }
    if v.contains(&b'/') {
        return Err(invalid(protocol, "contains '/'"));
    }
    std::str::from_utf8(v).map_err(|_| invalid(protocol, "not UTF-8"))
}

fn check_unix(path: &str) -> Result<(), MultiaddrError> {
    if path.len() < 2 {
        return Err(invalid("unix", "path too short"));
    }
    if !path.starts_with('/') {
        return Err(invalid("unix", "path must begin with '/'"));
    }
    if path.ends_with('/') {
        return Err(invalid("unix", "path must not end in '/'"));
    }
    Ok(())
}

/// An onion host of `N` bytes followed by a non-zero big-endian port.
fn onion_parts<const N: usize>(
    v: &[u8],
    protocol: &'static str,
) -> Result<([u8; N], u16), MultiaddrError> {
    let (host, port) = split(v, N, protocol)?;
    let host: [u8; N] = array(host, protocol)?;
    let port = u16::from_be_bytes(array(port, protocol)?);
    if port == 0 {
        return Err(invalid(protocol, "port 0"));
    }
    Ok((host, port))
}

/// `host:port` with a base32 host of `chars` characters decoding to `N` bytes.
fn onion_text<const N: usize>(
    s: &str,
    chars: usize,
    protocol: &'static str,
) -> Result<([u8; N], u16), MultiaddrError> {
    let mut parts = s.split(':');
    let (Some(host), Some(port), None) = (parts.next(), parts.next(), parts.next()) else {
        return Err(invalid(protocol, "expected host:port"));
    };
    if host.len() != chars {
        return Err(invalid(protocol, "wrong host length"));
    }
    let bytes = data_encoding::BASE32
        .decode(host.to_ascii_uppercase().as_bytes())
        .map_err(|_| invalid(protocol, "host is not base32"))?;
    let host: [u8; N] = array(&bytes, protocol)?;
    let port: u16 = decimal(port, protocol)?;
    if port == 0 {
        return Err(invalid(protocol, "port 0"));
    }
    Ok((host, port))
}

fn check_garlic64(v: &[u8]) -> Result<(), MultiaddrError> {
    if v.len() < GARLIC64_MIN_LEN {
        return Err(invalid("garlic64", "shorter than an I2P destination"));
    }
    Ok(())
}

fn check_garlic32(v: &[u8]) -> Result<(), MultiaddrError> {
    // 32 bytes for a plain destination hash, 35 or more for an encrypted lease set
    // (geti2p.net/spec/b32encrypted).
    if v.len() < 35 && v.len() != 32 {
        return Err(invalid("garlic32", "not an I2P base32 address length"));
    }
    Ok(())
}

/// I2P base64: the standard alphabet with `-` for `+` and `~` for `/`, padded with `=`.
/// Like go's decoder (not in strict mode), non-zero trailing bits are ignored.
static GARLIC64: LazyLock<Option<Encoding>> = LazyLock::new(|| {
    let mut spec = Specification::new();
    spec.symbols
        .push_str("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-~");
    spec.padding = Some('=');
    spec.check_trailing_bits = false;
    spec.encoding().ok()
});

/// I2P base32: the lowercase RFC 4648 alphabet without padding. Like go's decoder, non-zero
/// trailing bits are ignored.
static GARLIC32: LazyLock<Option<Encoding>> = LazyLock::new(|| {
    let mut spec = Specification::new();
    spec.symbols.push_str("abcdefghijklmnopqrstuvwxyz234567");
    spec.check_trailing_bits = false;
    spec.encoding().ok()
});

fn garlic64_decode(s: &str) -> Option<Vec<u8>> {
    GARLIC64.as_ref()?.decode(s.as_bytes()).ok()
}

fn garlic64_encode(b: &[u8]) -> String {
    GARLIC64
        .as_ref()
        .map(|enc| enc.encode(b))
        .unwrap_or_default()
}

fn garlic32_decode(s: &str) -> Option<Vec<u8>> {
    GARLIC32.as_ref()?.decode(s.as_bytes()).ok()
}

fn garlic32_encode(b: &[u8]) -> String {
    GARLIC32
        .as_ref()
        .map(|enc| enc.encode(b))
        .unwrap_or_default()
}

/// Checks that `v` is exactly one multihash: varint code, varint digest length, digest.
pub(crate) fn check_multihash(v: &[u8]) -> Result<(), &'static str> {
    let (_code, rest) = crate::varint::decode(v).map_err(|_| "bad multihash code")?;
    let (len, digest) = crate::varint::decode(rest).map_err(|_| "bad multihash length")?;
    if digest.len() as u64 != len {
        return Err("multihash length does not match its digest");
    }
    Ok(())
}

/// A `/p2p/` text value: a base58btc multihash (`Qm…`, `1…`) or a multibase CIDv1 with the
/// libp2p-key codec (`bafz…`, `k51…`, …), as go-multiaddr accepts.
fn parse_peer_id(s: &str) -> Result<PeerId, MultiaddrError> {
    if s.starts_with("Qm") || s.starts_with('1') {
        return Ok(s.parse::<PeerId>()?);
    }
    let cid = multibase::decode(s).map_err(|reason| invalid("p2p", reason))?;
    let (version, rest) = crate::varint::decode(&cid).map_err(|_| invalid("p2p", "bad CID"))?;
    let (codec, multihash) = crate::varint::decode(rest).map_err(|_| invalid("p2p", "bad CID"))?;
    if version != 1 {
        return Err(invalid("p2p", "CID is not version 1"));
    }
    if codec != CID_LIBP2P_KEY {
        return Err(invalid("p2p", "CID codec is not libp2p-key"));
    }
    Ok(PeerId::from_bytes(multihash)?)
}

fn parse_ip4(s: &str) -> Option<Ipv4Addr> {
    // go's net.ParseIP(s).To4() also takes an IPv4-mapped IPv6 address.
    s.parse::<Ipv4Addr>()
        .ok()
        .or_else(|| s.parse::<Ipv6Addr>().ok()?.to_ipv4_mapped())
}

fn parse_ip6(s: &str) -> Option<Ipv6Addr> {
    // go's net.ParseIP(s).To16() also takes a dotted IPv4 address, as its mapped form.
    s.parse::<Ipv6Addr>()
        .ok()
        .or_else(|| Some(s.parse::<Ipv4Addr>().ok()?.to_ipv6_mapped()))
}

/// Unsigned decimal as go's `strconv.ParseUint(s, 10, bits)` reads it: ASCII digits only (no
/// sign), leading zeros allowed, range-checked.
fn decimal<T: TryFrom<u64>>(s: &str, protocol: &'static str) -> Result<T, MultiaddrError> {
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
        return Err(invalid(protocol, "not a decimal number"));
    }
    let mut n: u64 = 0;
    for b in s.bytes() {
        n = n
            .checked_mul(10)
            .and_then(|n| n.checked_add(u64::from(b - b'0')))
            .ok_or(invalid(protocol, "number out of range"))?;
    }
    T::try_from(n).map_err(|_| invalid(protocol, "number out of range"))
}

/// go's `url.QueryUnescape`: `+` is a space, `%XX` a byte.
fn query_unescape(s: &str) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(s.len());
    let mut bytes = s.bytes();
    while let Some(b) = bytes.next() {
        match b {
            b'+' => out.push(b' '),
            b'%' => {
                let hi = hex_digit(bytes.next()?)?;
                let lo = hex_digit(bytes.next()?)?;
                out.push((hi << 4) | lo);
            }
            b => out.push(b),
        }
    }
    Some(out)
}

fn hex_digit(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

/// go's `url.QueryEscape`: unreserved bytes as they are, space as `+`, the rest as `%XX`.
fn query_escape(b: &[u8]) -> String {
    let mut out = String::with_capacity(b.len());
    for &c in b {
        match c {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                out.push(char::from(c))
            }
            b' ' => out.push('+'),
            _ => {
                out.push('%');
                for nibble in [c >> 4, c & 0xf] {
                    if let Some(d) = char::from_digit(u32::from(nibble), 16) {
                        out.push(d.to_ascii_uppercase());
                    }
                }
            }
        }
    }
    out
}
