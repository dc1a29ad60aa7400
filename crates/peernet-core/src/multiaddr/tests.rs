//! Multiaddr tests: spec and implementation vectors byte for byte, go-multiaddr's valid and
//! invalid lists, round-trip properties, and the helpers' tables.

use std::borrow::Cow;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use proptest::prelude::*;

use super::*;
use crate::identity::{PeerId, PeerIdError};
use crate::varint::VarintError;

fn ma(s: &str) -> Multiaddr {
    s.parse()
        .unwrap_or_else(|e| panic!("{s:?} should parse: {e}"))
}

fn lines(data: &str) -> impl Iterator<Item = &str> {
    data.lines()
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
}

const QM: &str = "QmcgpsyWgH8Y8ajJz1Cu72KnS5uo2Aa2LpzU7kinSupNKC";
const QM2: &str = "QmNnooDu7bfjPFoTZYxMNLWUQJyrVwtbZg5gBMjTezGAJN";

#[test]
fn text_binary_vectors() {
    let data = include_str!("testdata/vectors.txt");
    let mut n = 0;
    for line in lines(data) {
        let (text, hex) = line.split_once(' ').unwrap();
        let bytes = hex::decode(hex).unwrap();
        let from_text = ma(text);
        assert_eq!(
            hex::encode(from_text.as_bytes()),
            hex,
            "text -> bytes for {text}"
        );
        let from_bytes = Multiaddr::from_bytes(&bytes).unwrap();
        assert_eq!(from_bytes.to_string(), text, "bytes -> text for {hex}");
        assert_eq!(from_bytes, from_text);
        // Component by component, the binary form is the concatenation of each component's.
        let rebuilt: Multiaddr = from_bytes.iter().collect();
        assert_eq!(rebuilt.to_vec(), bytes);
        n += 1;
    }
    assert!(n >= 60, "only {n} vectors");
}

#[test]
fn table_matches_spec_csv() {
    use super::protocol::{spec_by_code, spec_by_name, Size, TABLE};
    let csv = include_str!("testdata/protocols.csv");
    let mut matched = Vec::new();
    for line in csv.lines().skip(2) {
        let mut cols = line.split(',').map(str::trim);
        let (Some(code), Some(size), Some(name)) = (cols.next(), cols.next(), cols.next()) else {
            continue;
        };
        let code: u64 = code.parse().unwrap();
        let Some(spec) = spec_by_name(name) else {
            // Deprecated rows go-multiaddr does not implement either.
            assert!(
                ["p2p-websocket-star", "p2p-stardust", "p2p-webrtc-star"].contains(&name),
                "{name} missing"
            );
            continue;
        };
        assert_eq!(spec.code, code, "{name}");
        let want = match size {
            "0" => Size::Zero,
            "V" if name == "memory" => Size::Fixed(8), // see the comment in TABLE
            "V" => Size::Var,
            bits => Size::Fixed(bits.parse::<usize>().unwrap() / 8),
        };
        assert_eq!(spec.size, want, "{name}");
        matched.push(spec.name);
    }
    // Every row of our table is in the CSV but plaintextv2, which only multicodec's table.csv
    // lists (0x706c61, "multiaddr", draft).
    let missing: Vec<&str> = TABLE
        .iter()
        .map(|s| s.name)
        .filter(|n| !matched.contains(n))
        .collect();
    assert_eq!(missing, ["plaintextv2"]);
    assert_eq!(super::protocol::code::PLAINTEXTV2, 0x706c61);
    for spec in TABLE {
        assert_eq!(spec_by_code(spec.code).map(|s| s.name), Some(spec.name));
    }
}

#[test]
fn go_valid_list() {
    let data = include_str!("testdata/go_valid.txt");
    let mut n = 0;
    for text in lines(data) {
        let addr = ma(text);
        // Bytes and text round-trip to the same address.
        assert_eq!(
            Multiaddr::from_bytes(addr.as_bytes()).unwrap(),
            addr,
            "{text}"
        );
        assert_eq!(ma(&addr.to_string()), addr, "{text}");
        n += 1;
    }
    assert_eq!(n, 93);
}

#[test]
fn go_invalid_list() {
    let data = include_str!("testdata/go_invalid.txt");
    let mut n = 0;
    for text in lines(data).chain([""]) {
        assert!(text.parse::<Multiaddr>().is_err(), "{text:?} should fail");
        n += 1;
    }
    assert_eq!(n, 66);
}

#[test]
fn rust_multiaddr_invalid_list() {
    // construct_fail in rust-multiaddr tests/lib.rs (those not already in go's list).
    for text in [
        "/ip6/fe80::9700:803e:ca65:66e8:c21/ip6zone",
        "/garlic64/jT~",
        "/p2p-circuit/50",
        "/ip4/127.0.0.1/udp/1234/webrtc-direct/certhash",
        "/ip4/127.0.0.1/udp/1234/webrtc-direct/certhash/b2uaraocy6yrdblb4sfptaddgimjmmp",
        "/tcp/1234/http/http-path/a/b",
    ] {
        assert!(text.parse::<Multiaddr>().is_err(), "{text:?} should fail");
    }
    // from_bytes_fail.
    assert!(Multiaddr::from_bytes(&[1, 2, 3, 4]).is_err());
}

#[test]
fn go_round_trips_exactly() {
    // TestRoundTrip and TestIPFSvP2P in go-multiaddr: text -> text is the identity.
    for text in [
        "/unix/a/b/c/d",
        "/ip6/::ffff:127.0.0.1/tcp/111",
        "/ip4/127.0.0.1/tcp/123",
        "/ip4/127.0.0.1/tcp/123/tls",
        "/ip4/127.0.0.1/udp/123",
        "/ip4/127.0.0.1/udp/123/ip6/::",
        "/ip4/127.0.0.1/udp/1234/quic-v1/webtransport/certhash/uEiDDq4_xNyDorZBH3TlGazyJdOWSwvo4PUo5YHFMrvDE8g",
        "/p2p/QmbHVEEepCi7rn7VL7Exxpd2Ci9NNB6ifvqwhsrbRMgQFP",
        "/p2p/QmbHVEEepCi7rn7VL7Exxpd2Ci9NNB6ifvqwhsrbRMgQFP/unix/a/b/c",
        "/http-path/tmp%2Fbar",
        "/ip4/127.0.0.1/tcp/0/p2p/12D3KooWCryG7Mon9orvQxcS1rYZjotPgpwoJNHHKcLLfE4Hf5mV/http-path/foo",
        "/ip4/127.0.0.1/tcp/443/tls/sni/example.com/http/http-path/foo",
    ] {
        assert_eq!(ma(text).to_string(), text);
    }
    let p2p = "/p2p/QmbHVEEepCi7rn7VL7Exxpd2Ci9NNB6ifvqwhsrbRMgQFP";
    assert_eq!(
        ma("/ipfs/QmbHVEEepCi7rn7VL7Exxpd2Ci9NNB6ifvqwhsrbRMgQFP").to_string(),
        p2p
    );
    // Trailing slashes are ignored (TestEqual).
    assert_eq!(
        ma("/ip4/127.0.0.1/tcp/1234/"),
        ma("/ip4/127.0.0.1/tcp/1234")
    );
    assert_ne!(ma("/ip4/127.0.0.1/tcp/1234"), ma("/ip4/127.0.0.1/udp/1234"));
}

#[test]
fn non_canonical_text_is_normalised() {
    for (text, canonical) in [
        // CID and base36 peer ids print as base58btc.
        (
            "/p2p/bafzbeigvf25ytwc3akrijfecaotc74udrhcxzh2cx3we5qqnw5vgrei4bm",
            None,
        ),
        (
            "/p2p/k2k4r8oqamigqdo6o7hsbfwd45y70oyynp98usk7zmyfrzpqxh1pohl7",
            None,
        ),
        (
            "/p2p/k51qzi5uqu5dhb6l8spkdx7yxafegfkee5by8h7lmjh2ehc2sgg34z7c15vzqs",
            None,
        ),
        // Certhashes print as base64url.
        (
            "/certhash/b2uaraocy6yrdblb4sfptaddgimjmmpy",
            // An md5 multihash: d5 01 10 + 16 bytes (decoded independently with Python).
            Some("/certhash/u1QEQOFj2IjCsPJFfMAxmQxLGPw"),
        ),
        // Leading zeros in ports, dotted IPv4 in /ip6/, mapped IPv6 in /ip4/ (as go's ParseIP).
        ("/tcp/0080", Some("/tcp/80")),
        ("/ip6/1.2.3.4", Some("/ip6/::ffff:1.2.3.4")),
        ("/ip4/::ffff:1.2.3.4", Some("/ip4/1.2.3.4")),
        ("/ip6/0:0:0:0:0:0:0:1", Some("/ip6/::1")),
        (
            "/onion/TIMAQ4YGG2IEGCI7:80",
            Some("/onion/timaq4ygg2iegci7:80"),
        ),
        ("/http-path/a+b", Some("/http-path/a+b")),
        ("/http-path/a%20b%2f", Some("/http-path/a+b%2F")),
    ] {
        let addr = ma(text);
        let printed = addr.to_string();
        if let Some(canonical) = canonical {
            assert_eq!(printed, canonical, "{text}");
        }
        assert_eq!(ma(&printed), addr, "{text}");
    }
    // The three CID forms are the same peers as their base58 forms.
    let cid = ma("/p2p/bafzbeigvf25ytwc3akrijfecaotc74udrhcxzh2cx3we5qqnw5vgrei4bm");
    assert!(cid.to_string().starts_with("/p2p/Qm"));
    let ed = ma("/p2p/k51qzi5uqu5dhb6l8spkdx7yxafegfkee5by8h7lmjh2ehc2sgg34z7c15vzqs");
    assert!(ed.to_string().starts_with("/p2p/12D3KooW"), "{ed}");
    let certhash_b58 = ma("/certhash/zQmbWTwYGcmdyK9CYfNBcfs9nhZs17a6FQ4Y8oea278xx41");
    assert_eq!(
        certhash_b58.as_bytes().get(..4),
        Some(&[0xd2, 0x03, 0x22, 0x12][..])
    );
}

#[test]
fn components_and_values() {
    // TestBytesSplitAndJoin and TestGetValue in go-multiaddr.
    let addr = ma("/ip4/1.2.3.4/utp/ip4/2.3.4.5/udp/2/udt");
    let parts: Vec<String> = addr.iter().map(|p| p.to_string()).collect();
    assert_eq!(
        parts,
        ["/ip4/1.2.3.4", "/utp", "/ip4/2.3.4.5", "/udp/2", "/udt"]
    );

    let addr = ma("/ip4/0.0.0.0/unix/a/b/c/d");
    assert_eq!(
        addr.iter().collect::<Vec<_>>(),
        [
            Protocol::Ip4(Ipv4Addr::UNSPECIFIED),
            Protocol::Unix(Cow::Borrowed("/a/b/c/d"))
        ]
    );
    let addr = ma("/unix/stdio");
    assert_eq!(addr.first(), Some(Protocol::Unix("/stdio".into())));
    let addr = ma(&format!(
        "/ip4/127.0.0.1/utp/tcp/5555/udp/1234/tls/utp/ipfs/{QM}"
    ));
    let names: Vec<&str> = addr.iter().map(|p| p.name()).collect();
    assert_eq!(names, ["ip4", "utp", "tcp", "udp", "tls", "utp", "p2p"]);
    assert_eq!(addr.last(), Some(Protocol::P2p(QM.parse().unwrap())));

    let addr = ma("/ip4/1.2.3.4/tcp/80/onion/timaq4ygg2iegci7:1234/memory/7/ipcidr/24");
    let values: Vec<Protocol<'_>> = addr.iter().collect();
    assert_eq!(values.get(1), Some(&Protocol::Tcp(80)));
    assert!(matches!(values.get(2), Some(Protocol::Onion(_, 1234))));
    assert_eq!(values.get(3), Some(&Protocol::Memory(7)));
    assert_eq!(values.get(4), Some(&Protocol::Ipcidr(24)));
    assert_eq!(Protocol::Memory(7).code(), 777);
    assert_eq!(Protocol::PlaintextV2.code(), 7_367_777);
}

#[test]
fn binary_edge_cases() {
    // TestInvalidP2PAddrBytes: a sha2-256 multihash announcing 33 bytes.
    let bad =
        hex::decode("a503221221c05877cbae039d70a5e600ea02c6f9f2942439285c9e344e26f8d280c850fad6")
            .unwrap();
    assert!(Multiaddr::from_bytes(&bad).is_err());
    // TestDNS: "7*" is /dns6/ with a 42-byte name of '0's.
    let mut dns = b"7*".to_vec();
    dns.extend_from_slice(&[b'0'; 42]);
    let addr = Multiaddr::from_bytes(&dns).unwrap();
    assert_eq!(ma(&addr.to_string()), addr);
    // The empty byte string is the empty address.
    assert_eq!(Multiaddr::from_bytes(&[]).unwrap(), Multiaddr::empty());
    assert_eq!(Multiaddr::empty().to_string(), "");

    let unix_then_tcp = {
        let mut b = ma("/unix/a").to_vec();
        b.extend_from_slice(ma("/tcp/1").as_bytes());
        b
    };
    let cases: Vec<(Vec<u8>, MultiaddrError)> = vec![
        (vec![0x00], MultiaddrError::UnknownProtocolCode(0)),
        (vec![0x80], MultiaddrError::Varint(VarintError::Truncated)),
        (
            vec![0x80, 0x00],
            MultiaddrError::Varint(VarintError::NotMinimal),
        ),
        (
            vec![0x04, 1, 2],
            MultiaddrError::Truncated { protocol: "ip4" },
        ),
        (vec![0x06, 1], MultiaddrError::Truncated { protocol: "tcp" }),
        (
            vec![0x35, 0x05, b'a'],
            MultiaddrError::Truncated { protocol: "dns" },
        ),
        (
            vec![0x35, 0x00],
            MultiaddrError::InvalidValue {
                protocol: "dns",
                reason: "empty value",
            },
        ),
        (
            vec![0x35, 0x03, b'a', b'/', b'b'],
            MultiaddrError::InvalidValue {
                protocol: "dns",
                reason: "contains '/'",
            },
        ),
        (
            vec![0x35, 0x01, 0xff],
            MultiaddrError::InvalidValue {
                protocol: "dns",
                reason: "not UTF-8",
            },
        ),
        (
            vec![0x90, 0x03, 0x02, b'/', b'/'],
            MultiaddrError::InvalidValue {
                protocol: "unix",
                reason: "path must not end in '/'",
            },
        ),
        (
            vec![0x90, 0x03, 0x01, b'/'],
            MultiaddrError::InvalidValue {
                protocol: "unix",
                reason: "path too short",
            },
        ),
        (
            vec![0x90, 0x03, 0x02, b'a', b'b'],
            MultiaddrError::InvalidValue {
                protocol: "unix",
                reason: "path must begin with '/'",
            },
        ),
        (
            unix_then_tcp,
            MultiaddrError::TrailingAfterPath { protocol: "unix" },
        ),
        (
            // onion with port 0
            hex::decode("bc030010c0439831b48218480000").unwrap(),
            MultiaddrError::InvalidValue {
                protocol: "onion",
                reason: "port 0",
            },
        ),
        (
            // certhash whose multihash announces 2 bytes and carries 1
            vec![0xd2, 0x03, 0x03, 0x12, 0x02, 0xaa],
            MultiaddrError::InvalidValue {
                protocol: "certhash",
                reason: "multihash length does not match its digest",
            },
        ),
        (
            // garlic32 of 33 bytes
            [vec![0xbf, 0x03, 33], vec![0; 33]].concat(),
            MultiaddrError::InvalidValue {
                protocol: "garlic32",
                reason: "not an I2P base32 address length",
            },
        ),
        (
            // p2p with an md5 multihash
            vec![0xa5, 0x03, 0x03, 0xd5, 0x01, 0x00],
            MultiaddrError::InvalidPeerId(PeerIdError::UnsupportedHash(0xd5)),
        ),
    ];
    for (bytes, err) in cases {
        assert_eq!(
            Multiaddr::from_bytes(&bytes),
            Err(err),
            "{}",
            hex::encode(&bytes)
        );
    }
}

#[test]
fn text_errors() {
    let cases = [
        ("", MultiaddrError::Empty),
        ("/", MultiaddrError::Empty),
        ("///", MultiaddrError::Empty),
        ("ip4/1.2.3.4", MultiaddrError::MissingLeadingSlash),
        ("/foo", MultiaddrError::UnknownProtocolName("foo".into())),
        (
            "/ip4//tcp/1",
            MultiaddrError::InvalidValue {
                protocol: "ip4",
                reason: "not an IPv4 address",
            },
        ),
        (
            "/ip4/1.2.3.4//tcp/1",
            MultiaddrError::UnknownProtocolName("".into()),
        ),
        ("/tcp", MultiaddrError::MissingValue { protocol: "tcp" }),
        ("/unix/", MultiaddrError::MissingValue { protocol: "unix" }),
        (
            "/tcp/+1",
            MultiaddrError::InvalidValue {
                protocol: "tcp",
                reason: "not a decimal number",
            },
        ),
        (
            "/tcp/65536",
            MultiaddrError::InvalidValue {
                protocol: "tcp",
                reason: "number out of range",
            },
        ),
        (
            "/ipcidr/256",
            MultiaddrError::InvalidValue {
                protocol: "ipcidr",
                reason: "number out of range",
            },
        ),
        (
            "/p2p-webrtc-star",
            MultiaddrError::UnknownProtocolName("p2p-webrtc-star".into()),
        ),
        (
            "/http-path/%zz",
            MultiaddrError::InvalidValue {
                protocol: "http-path",
                reason: "bad percent-escape",
            },
        ),
        // TestHTTPPath's bad address.
        (
            "/http-path/thisIsMissingAfullByte%f",
            MultiaddrError::InvalidValue {
                protocol: "http-path",
                reason: "bad percent-escape",
            },
        ),
    ];
    for (text, err) in cases {
        assert_eq!(text.parse::<Multiaddr>(), Err(err), "{text:?}");
    }
    // Unknown names are cut to 64 bytes in the error.
    let long = format!("/{}", "é".repeat(100));
    match long.parse::<Multiaddr>() {
        Err(MultiaddrError::UnknownProtocolName(name)) => assert!(name.len() <= 64),
        other => panic!("{other:?}"),
    }
    // TestInvalidP2PAddrString.
    let mut md5_cid = vec![0x01, 0xd5, 0x01, 0x12, 0x20];
    md5_cid.extend_from_slice(&<sha2::Sha256 as sha2::Digest>::digest(b"test"));
    let md5_cid = format!(
        "b{}",
        data_encoding::BASE32_NOPAD.encode(&md5_cid).to_lowercase()
    );
    for text in [
        "/p2p/k2k4r8oqamigqdo6o7hsbfwd45y70oyynp98usk7zmyfrzpqxh1pohl-".to_string(),
        "/p2p/?unknownmultibase".to_string(),
        "/p2p/k2jmtxwoe2phm1hbqp0e7nufqf6umvuu2e9qd7ana7h411a0haqj6i2z".to_string(),
        format!("/p2p/{md5_cid}"),
    ] {
        assert!(text.parse::<Multiaddr>().is_err(), "{text}");
    }
}

#[test]
fn size_caps() {
    let many = "/tls".repeat(MAX_COMPONENTS);
    assert!(many.parse::<Multiaddr>().is_ok());
    let too_many = "/tls".repeat(MAX_COMPONENTS + 1);
    assert_eq!(
        too_many.parse::<Multiaddr>(),
        Err(MultiaddrError::TooManyComponents {
            max: MAX_COMPONENTS
        })
    );
    let bytes = ma(&many).to_vec_unchecked_for_test();
    assert_eq!(
        Multiaddr::from_bytes(&bytes),
        Err(MultiaddrError::TooManyComponents {
            max: MAX_COMPONENTS
        })
    );
    let long = vec![0x06; MAX_MULTIADDR_LEN + 1];
    assert_eq!(
        Multiaddr::from_bytes(&long),
        Err(MultiaddrError::TooLong {
            len: MAX_MULTIADDR_LEN + 1,
            max: MAX_MULTIADDR_LEN
        })
    );
    let long_text = format!("/dns/{}", "a".repeat(MAX_MULTIADDR_TEXT_LEN));
    assert!(matches!(
        long_text.parse::<Multiaddr>(),
        Err(MultiaddrError::TooLong { .. })
    ));
    // Text under the text cap whose binary form exceeds the binary cap.
    let big_binary = format!("/dns/{}", "a".repeat(MAX_MULTIADDR_LEN));
    assert!(matches!(
        big_binary.parse::<Multiaddr>(),
        Err(MultiaddrError::TooLong { .. })
    ));
}

impl Multiaddr {
    /// The bytes of `self` pushed past the component cap (parsing refuses to build it).
    fn to_vec_unchecked_for_test(&self) -> Vec<u8> {
        let mut bytes = self.to_vec();
        bytes.extend_from_slice(Protocol::Tls.to_bytes().as_slice());
        bytes
    }
}

#[test]
fn push_pop_with() {
    let mut addr = Multiaddr::empty();
    addr.push(Protocol::Ip4(Ipv4Addr::new(1, 2, 3, 4)));
    addr.push(Protocol::Tcp(80));
    assert_eq!(addr, ma("/ip4/1.2.3.4/tcp/80"));
    assert_eq!(addr.pop(), Some(Protocol::Tcp(80)));
    assert_eq!(addr.pop(), Some(Protocol::Ip4(Ipv4Addr::new(1, 2, 3, 4))));
    assert_eq!(addr.pop(), None);
    assert!(addr.is_empty());
    let addr = Multiaddr::empty()
        .with(Protocol::Dns("example.com".into()))
        .with(Protocol::Tcp(443))
        .with(Protocol::Wss);
    assert_eq!(addr.to_string(), "/dns/example.com/tcp/443/wss");
    let mut unix = ma("/ip4/1.2.3.4/unix/a/b");
    assert_eq!(unix.pop(), Some(Protocol::Unix("/a/b".into())));
    assert_eq!(unix, ma("/ip4/1.2.3.4"));
}

#[test]
fn encapsulate_decapsulate() {
    // TestEncapsulate.
    let m = ma("/ip4/127.0.0.1/udp/1234");
    let b = m.encapsulate(&ma("/udp/5678"));
    assert_eq!(b.to_string(), "/ip4/127.0.0.1/udp/1234/udp/5678");
    let c = b.decapsulate(&ma("/udp/5678"));
    assert_eq!(c.to_string(), "/ip4/127.0.0.1/udp/1234");
    assert!(c.decapsulate(&ma("/ip4/127.0.0.1")).is_empty());
    // TestDecapsulateComment.
    let m = ma("/ip4/1.2.3.4/tcp/80");
    assert_eq!(m.decapsulate(&ma("/tcp/80")), ma("/ip4/1.2.3.4"));
    assert_eq!(m.decapsulate(&ma("/udp/80")), m);
    assert!(m.decapsulate(&ma("/ip4/1.2.3.4")).is_empty());
    assert_eq!(m.decapsulate(&Multiaddr::empty()), m);
    // TestDecapsulate's table ("" = empty).
    for (left, right, expected) in [
        ("/ip4/1.2.3.4/tcp/1234", "/ip4/1.2.3.4", ""),
        ("/ip4/1.2.3.4", "/ip4/1.2.3.4/tcp/1234", "/ip4/1.2.3.4"),
        (
            "/ip4/1.2.3.5/tcp/1234",
            "/ip4/5.3.2.1",
            "/ip4/1.2.3.5/tcp/1234",
        ),
        ("/ip4/1.2.3.5/udp/1234/quic-v1", "/udp/1234", "/ip4/1.2.3.5"),
        (
            "/ip4/1.2.3.6/udp/1234/quic-v1",
            "/udp/1234/quic-v1",
            "/ip4/1.2.3.6",
        ),
        ("/ip4/1.2.3.7/tcp/1234", "/ws", "/ip4/1.2.3.7/tcp/1234"),
        (
            "/dnsaddr/wss.com/tcp/4001",
            "/ws",
            "/dnsaddr/wss.com/tcp/4001",
        ),
        (
            "/dnsaddr/wss.com/tcp/4001/ws",
            "/wss",
            "/dnsaddr/wss.com/tcp/4001/ws",
        ),
        ("/dnsaddr/wss.com/ws", "/wss", "/dnsaddr/wss.com/ws"),
        ("/dnsaddr/wss.com/ws", "/dnsaddr/wss.com", ""),
        (
            "/dnsaddr/wss.com/tcp/4001/wss",
            "/wss",
            "/dnsaddr/wss.com/tcp/4001",
        ),
        // The last occurrence is removed, with everything after it.
        (
            "/ip4/1.1.1.1/tcp/1/p2p-circuit/ip4/2.2.2.2/tcp/1/p2p-circuit/tls",
            "/p2p-circuit",
            "/ip4/1.1.1.1/tcp/1/p2p-circuit/ip4/2.2.2.2/tcp/1",
        ),
        ("/tcp/1/tcp/2/tcp/1/ws", "/tcp/1", "/tcp/1/tcp/2"),
    ] {
        let got = ma(left).decapsulate(&ma(right));
        let want = if expected.is_empty() {
            Multiaddr::empty()
        } else {
            ma(expected)
        };
        assert_eq!(got, want, "{left} - {right}");
        // Decapsulating the last component, then encapsulating it, gives the original.
        let mut init = ma(left);
        let last = Multiaddr::from(init.pop().unwrap());
        assert_eq!(ma(left).decapsulate(&last), init, "{left}");
        assert_eq!(init.encapsulate(&last), ma(left));
    }
    // A byte match that is not on a component boundary is not a match: the last three bytes of
    // this IPv6 address are the encoding of /tcp/80.
    let tricky = ma("/ip6/::6:50");
    assert!(tricky.as_bytes().ends_with(ma("/tcp/80").as_bytes()));
    assert_eq!(tricky.decapsulate(&ma("/tcp/80")), tricky);
    assert!(!tricky.ends_with(&ma("/tcp/80")));
}

#[test]
fn starts_and_ends_with() {
    let addr = ma(&format!("/ip4/1.2.3.4/tcp/80/p2p/{QM}"));
    for (other, starts, ends) in [
        ("/ip4/1.2.3.4", true, false),
        ("/ip4/1.2.3.4/tcp/80", true, false),
        ("/tcp/80", false, false),
        (&*format!("/p2p/{QM}"), false, true),
        (&*format!("/tcp/80/p2p/{QM}"), false, true),
        (&*format!("/ip4/1.2.3.4/tcp/80/p2p/{QM}"), true, true),
        ("/ip4/1.2.3.5", false, false),
    ] {
        assert_eq!(addr.starts_with(&ma(other)), starts, "{other}");
        assert_eq!(addr.ends_with(&ma(other)), ends, "{other}");
    }
    assert!(addr.starts_with(&Multiaddr::empty()));
    assert!(addr.ends_with(&Multiaddr::empty()));
}

#[test]
fn p2p_helpers() {
    let peer: PeerId = QM2.parse().unwrap();
    let other: PeerId = QM.parse().unwrap();
    // rust-multiaddr's multiaddr_with_p2p cases, applied three times for idempotence.
    let cases: [(&str, &PeerId, Result<String, ()>); 4] = [
        ("", &peer, Ok(format!("/p2p/{QM2}"))),
        (
            "/ip4/127.0.0.1",
            &peer,
            Ok(format!("/ip4/127.0.0.1/p2p/{QM2}")),
        ),
        (
            &format!("/ip4/127.0.0.1/p2p/{QM2}"),
            &peer,
            Ok(format!("/ip4/127.0.0.1/p2p/{QM2}")),
        ),
        (&format!("/ip4/127.0.0.1/p2p/{QM2}"), &other, Err(())),
    ];
    for (start, id, want) in cases {
        let mut addr = if start.is_empty() {
            Multiaddr::empty()
        } else {
            ma(start)
        };
        for _ in 0..3 {
            match (addr.clone().with_p2p(id), &want) {
                (Ok(got), Ok(want)) => {
                    assert_eq!(got, ma(want));
                    addr = got;
                }
                (Err(e), Err(())) => assert_eq!(
                    e,
                    MultiaddrError::PeerIdMismatch {
                        existing: peer.clone(),
                        requested: other.clone()
                    }
                ),
                (got, want) => panic!("{start}: got {got:?}, want {want:?}"),
            }
        }
    }
    let addr = ma(&format!("/ip4/1.2.3.4/tcp/1/p2p/{QM}"));
    assert_eq!(addr.peer_id(), Some(other.clone()));
    assert_eq!(addr.without_p2p(), ma("/ip4/1.2.3.4/tcp/1"));
    // Only a trailing /p2p/ counts.
    let relayed = ma(&format!("/ip4/1.2.3.4/tcp/1/p2p/{QM}/p2p-circuit"));
    assert_eq!(relayed.peer_id(), None);
    assert_eq!(relayed.without_p2p(), relayed);
}

#[test]
fn addr_info() {
    let id: PeerId = QM.parse().unwrap();
    let info = AddrInfo::from_p2p_addr(&ma(&format!("/ip4/1.2.3.4/tcp/1/p2p/{QM}"))).unwrap();
    assert_eq!(info.peer_id, id);
    assert_eq!(info.addrs, [ma("/ip4/1.2.3.4/tcp/1")]);
    assert_eq!(
        info.to_p2p_addrs(),
        [ma(&format!("/ip4/1.2.3.4/tcp/1/p2p/{QM}"))]
    );

    let bare = AddrInfo::from_p2p_addr(&ma(&format!("/p2p/{QM}"))).unwrap();
    assert_eq!(bare.peer_id, id);
    assert!(bare.addrs.is_empty());
    assert_eq!(bare.to_p2p_addrs(), [ma(&format!("/p2p/{QM}"))]);

    // A relay address: the part before the target's /p2p/ keeps the relay's own /p2p/.
    let relayed = ma(&format!(
        "/ip4/1.2.3.4/tcp/1/p2p/{QM2}/p2p-circuit/p2p/{QM}"
    ));
    let info = AddrInfo::from_p2p_addr(&relayed).unwrap();
    assert_eq!(info.peer_id, id);
    assert_eq!(
        info.addrs,
        [ma(&format!("/ip4/1.2.3.4/tcp/1/p2p/{QM2}/p2p-circuit"))]
    );

    for bad in ["/ip4/1.2.3.4/tcp/1", &format!("/p2p/{QM}/p2p-circuit")] {
        assert_eq!(
            AddrInfo::from_p2p_addr(&ma(bad)),
            Err(MultiaddrError::NoPeerId),
            "{bad}"
        );
    }
    assert_eq!(
        AddrInfo::from_p2p_addr(&Multiaddr::empty()),
        Err(MultiaddrError::NoPeerId)
    );
}

#[test]
fn loopback_private_public() {
    // (address, loopback, private, public)
    let table = [
        ("/ip4/127.0.0.1/tcp/1", true, true, false),
        ("/ip4/127.255.0.1", true, true, false),
        ("/ip6/::1/udp/1/quic-v1", true, true, false),
        ("/ip6/::ffff:127.0.0.1", true, true, false),
        ("/ip6zone/eth0/ip6/::1", true, true, false),
        ("/ip4/10.1.2.3", false, true, false),
        ("/ip4/172.16.0.1", false, true, false),
        ("/ip4/172.31.255.255", false, true, false),
        ("/ip4/172.32.0.1", false, false, true),
        ("/ip4/192.168.1.1", false, true, false),
        ("/ip4/100.64.0.1", false, true, false),
        ("/ip4/100.127.255.255", false, true, false),
        ("/ip4/100.128.0.1", false, false, true),
        ("/ip4/169.254.1.1", false, true, false),
        ("/ip4/8.8.8.8/tcp/53", false, false, true),
        ("/ip4/1.1.1.1", false, false, true),
        ("/ip4/0.0.0.0", false, false, false),
        ("/ip4/0.1.2.3", false, false, false),
        ("/ip4/192.0.2.1", false, false, false),
        ("/ip4/198.51.100.1", false, false, false),
        ("/ip4/203.0.113.1", false, false, false),
        ("/ip4/198.18.0.1", false, false, false),
        ("/ip4/224.0.0.1", false, false, false),
        ("/ip4/255.255.255.255", false, false, false),
        ("/ip6/fc00::1", false, true, false),
        ("/ip6/fd12:3456::1", false, true, false),
        ("/ip6/fe80::1", false, true, false),
        ("/ip6zone/eth0/ip6/fe80::1/tcp/1", false, true, false),
        ("/ip6/2001:4860:4860::8888", false, false, true),
        ("/ip6/2001:db8::1", false, false, false),
        ("/ip6/ff02::1", false, false, false),
        ("/ip6/::", false, false, false),
        ("/ip6/64:ff9b::1.2.3.4", false, false, true),
        ("/ip6/::ffff:10.0.0.1", false, true, false),
        ("/ip6/::ffff:8.8.8.8", false, false, true),
        ("/dns/localhost/tcp/1", false, true, false),
        ("/dns4/foo.localhost", false, true, false),
        ("/dns/example.com/tcp/1", false, false, true),
        ("/dnsaddr/bootstrap.libp2p.io", false, false, true),
        ("/dns6/printer.local", false, false, false),
        ("/dns/x.test", false, false, false),
        ("/dns/router.home.arpa", false, false, false),
        ("/dns/1.0.0.127.in-addr.arpa", false, false, false),
        ("/dns/nothing.invalid", false, false, false),
        ("/dns/notlocalhost", false, false, true),
        ("/tcp/1", false, false, false),
        ("/p2p-circuit", false, false, false),
        ("/memory/1", false, false, false),
    ];
    for (text, loopback, private, public) in table {
        let addr = ma(text);
        assert_eq!(addr.is_loopback(), loopback, "loopback {text}");
        assert_eq!(addr.is_private(), private, "private {text}");
        assert_eq!(addr.is_public(), public, "public {text}");
    }
    assert!(!Multiaddr::empty().is_private() && !Multiaddr::empty().is_public());
}

#[test]
fn transport_kinds() {
    use TransportKind as T;
    let table = [
        ("/ip4/1.2.3.4/tcp/1", T::Tcp),
        (&*format!("/ip4/1.2.3.4/tcp/1/p2p/{QM}"), T::Tcp),
        ("/dns/example.com/tcp/1", T::Tcp),
        ("/ip6zone/eth0/ip6/fe80::1/tcp/1", T::Tcp),
        ("/ip4/1.2.3.4/tcp/1/ws", T::WebSocket),
        ("/dns4/example.com/tcp/443/wss", T::SecureWebSocket),
        ("/ip4/1.2.3.4/tcp/1/tls/ws", T::SecureWebSocket),
        ("/ip4/1.2.3.4/tcp/1/tls/sni/example.com/ws", T::SecureWebSocket),
        ("/ip4/1.2.3.4/udp/1/quic-v1", T::QuicV1),
        (&*format!("/ip6/::1/udp/1/quic-v1/p2p/{QM}"), T::QuicV1),
        ("/ip4/1.2.3.4/udp/1/quic", T::QuicDraft29),
        ("/ip4/1.2.3.4/udp/1/quic-v1/webtransport", T::WebTransport),
        (
            "/ip4/1.2.3.4/udp/1/quic-v1/webtransport/certhash/uEiDDq4_xNyDorZBH3TlGazyJdOWSwvo4PUo5YHFMrvDE8g/certhash/zQmbWTwYGcmdyK9CYfNBcfs9nhZs17a6FQ4Y8oea278xx41",
            T::WebTransport,
        ),
        (
            "/ip4/1.2.3.4/udp/1/webrtc-direct/certhash/uEiDDq4_xNyDorZBH3TlGazyJdOWSwvo4PUo5YHFMrvDE8g",
            T::WebRtcDirect,
        ),
        ("/memory/42", T::Memory),
        (&*format!("/memory/42/p2p/{QM}"), T::Memory),
        (&*format!("/ip4/1.2.3.4/tcp/1/p2p/{QM2}/p2p-circuit/p2p/{QM}"), T::Circuit),
        ("/p2p-circuit", T::Circuit),
        ("/ip4/1.2.3.4/udp/1", T::Unknown),
        ("/ip4/1.2.3.4", T::Unknown),
        ("/tcp/1", T::Unknown),
        ("/ip4/1.2.3.4/tcp/1/http", T::Unknown),
        ("/ip4/1.2.3.4/udp/1/webrtc", T::Unknown),
        ("/unix/a", T::Unknown),
        ("/ip4/1.2.3.4/tcp/1/ws/tcp/2", T::Unknown),
    ];
    for (text, kind) in table {
        assert_eq!(ma(text).transport_kind(), kind, "{text}");
    }
    assert_eq!(Multiaddr::empty().transport_kind(), T::Unknown);
    assert!(ma("/ip4/1.2.3.4/tcp/1/p2p-circuit").is_relayed());
    assert!(!ma("/ip4/1.2.3.4/tcp/1").is_relayed());
}

#[test]
fn ip_and_socket_addrs() {
    let v4: SocketAddr = "1.2.3.4:80".parse().unwrap();
    let v6: SocketAddr = "[2001:db8::1]:443".parse().unwrap();
    assert_eq!(Multiaddr::tcp(v4), ma("/ip4/1.2.3.4/tcp/80"));
    assert_eq!(Multiaddr::from(v4), ma("/ip4/1.2.3.4/tcp/80"));
    assert_eq!(Multiaddr::udp(v6), ma("/ip6/2001:db8::1/udp/443"));
    assert_eq!(Multiaddr::quic_v1(v4), ma("/ip4/1.2.3.4/udp/80/quic-v1"));
    assert_eq!(
        Multiaddr::from(IpAddr::V6(Ipv6Addr::LOCALHOST)),
        ma("/ip6/::1")
    );
    for (text, ip, sock) in [
        ("/ip4/1.2.3.4/tcp/80", Some("1.2.3.4"), Some("1.2.3.4:80")),
        (
            "/ip4/1.2.3.4/tcp/80/ws",
            Some("1.2.3.4"),
            Some("1.2.3.4:80"),
        ),
        ("/ip6/::1/udp/53/quic-v1", Some("::1"), Some("[::1]:53")),
        (
            "/ip6zone/eth0/ip6/fe80::1/tcp/1",
            Some("fe80::1"),
            Some("[fe80::1]:1"),
        ),
        (
            "/ip6zone/3/ip6/fe80::1/tcp/1",
            Some("fe80::1"),
            Some("[fe80::1%3]:1"),
        ),
        ("/ip4/1.2.3.4", Some("1.2.3.4"), None),
        ("/ip4/1.2.3.4/sctp/1", Some("1.2.3.4"), None),
        ("/dns/example.com/tcp/80", None, None),
        ("/tcp/80", None, None),
        ("/ip6zone/eth0/tcp/1", None, None),
    ] {
        let addr = ma(text);
        assert_eq!(addr.ip_addr(), ip.map(|s| s.parse().unwrap()), "{text}");
        assert_eq!(
            addr.socket_addr(),
            sock.map(|s| s.parse().unwrap()),
            "{text}"
        );
    }
    assert!(ma("/ip6/::1/tcp/1").is_ip6());
    assert!(ma("/ip6zone/x/ip6/fe80::1").is_ip6());
    assert!(!ma("/ip4/1.2.3.4").is_ip6());
    assert!(!ma("/dns6/example.com").is_ip6());
}

#[test]
fn debug_and_conversions() {
    let addr = ma("/ip4/1.2.3.4/tcp/80");
    assert_eq!(format!("{addr:?}"), "Multiaddr(/ip4/1.2.3.4/tcp/80)");
    assert_eq!(Multiaddr::try_from("/ip4/1.2.3.4/tcp/80").unwrap(), addr);
    assert_eq!(Multiaddr::try_from(addr.to_vec()).unwrap(), addr);
    assert_eq!(Multiaddr::try_from(addr.as_bytes()).unwrap(), addr);
    assert_eq!(addr.len(), 8);
    let collected: Vec<Protocol<'_>> = (&addr).into_iter().collect();
    assert_eq!(collected.len(), 2);
    // Ordering is by bytes, as go-multiaddr's Compare.
    assert!(ma("/ip4/1.2.3.4") < ma("/ip4/1.2.3.5"));
    assert!(ma("/ip4/1.2.3.4") < ma("/ip4/1.2.3.4/tcp/1"));
}

// ---------------------------------------------------------------------------------------------
// Property tests.

fn arb_name() -> impl Strategy<Value = String> {
    // Any non-empty text without '/': DNS names, zones and SNI only exclude '/'.
    prop_oneof!["[a-z0-9.-]{1,20}", "[^/]{1,12}",]
}

fn arb_peer_id() -> impl Strategy<Value = PeerId> {
    prop_oneof![
        proptest::collection::vec(any::<u8>(), 1..=42).prop_map(|key| {
            let mut mh = vec![0x00, key.len() as u8];
            mh.extend_from_slice(&key);
            PeerId::from_bytes(&mh).unwrap()
        }),
        proptest::array::uniform32(any::<u8>()).prop_map(|digest| {
            let mut mh = vec![0x12, 0x20];
            mh.extend_from_slice(&digest);
            PeerId::from_bytes(&mh).unwrap()
        }),
    ]
}

fn arb_multihash() -> impl Strategy<Value = Vec<u8>> {
    (0u64..100_000, proptest::collection::vec(any::<u8>(), 0..40)).prop_map(|(code, digest)| {
        let mut mh = Vec::new();
        crate::varint::encode(code, &mut mh);
        crate::varint::encode(digest.len() as u64, &mut mh);
        mh.extend_from_slice(&digest);
        mh
    })
}

/// Any protocol but the path protocol, with a valid value.
fn arb_protocol() -> impl Strategy<Value = Protocol<'static>> {
    let name = || arb_name().prop_map(Cow::Owned);
    prop_oneof![
        any::<[u8; 4]>().prop_map(|a| Protocol::Ip4(a.into())),
        any::<[u8; 16]>().prop_map(|a| Protocol::Ip6(a.into())),
        any::<u16>().prop_map(Protocol::Tcp),
        any::<u16>().prop_map(Protocol::Udp),
        any::<u16>().prop_map(Protocol::Dccp),
        any::<u16>().prop_map(Protocol::Sctp),
        any::<u8>().prop_map(Protocol::Ipcidr),
        any::<u64>().prop_map(Protocol::Memory),
        name().prop_map(Protocol::Dns),
        name().prop_map(Protocol::Dns4),
        name().prop_map(Protocol::Dns6),
        name().prop_map(Protocol::Dnsaddr),
        name().prop_map(Protocol::Ip6zone),
        name().prop_map(Protocol::Sni),
        (any::<[u8; 10]>(), 1..=u16::MAX).prop_map(|(h, p)| Protocol::Onion(h, p)),
        (proptest::collection::vec(any::<u8>(), 35), 1..=u16::MAX).prop_map(|(h, p)| {
            let mut host = [0u8; 35];
            host.copy_from_slice(&h);
            Protocol::Onion3(host, p)
        }),
        proptest::collection::vec(any::<u8>(), 386..420)
            .prop_map(|b| Protocol::Garlic64(Cow::Owned(b))),
        prop_oneof![
            proptest::collection::vec(any::<u8>(), 32),
            proptest::collection::vec(any::<u8>(), 35..60)
        ]
        .prop_map(|b| Protocol::Garlic32(Cow::Owned(b))),
        arb_multihash().prop_map(|b| Protocol::Certhash(Cow::Owned(b))),
        proptest::collection::vec(any::<u8>(), 1..30)
            .prop_map(|b| Protocol::HttpPath(Cow::Owned(b))),
        arb_peer_id().prop_map(Protocol::P2p),
        Just(Protocol::P2pCircuit),
        Just(Protocol::Utp),
        Just(Protocol::Udt),
        Just(Protocol::Quic),
        Just(Protocol::QuicV1),
        Just(Protocol::WebTransport),
        Just(Protocol::Http),
        Just(Protocol::Https),
        Just(Protocol::P2pWebRtcDirect),
        Just(Protocol::Tls),
        Just(Protocol::Noise),
        Just(Protocol::Ws),
        Just(Protocol::Wss),
        Just(Protocol::PlaintextV2),
        Just(Protocol::WebRtcDirect),
        Just(Protocol::WebRtc),
    ]
}

fn arb_unix() -> impl Strategy<Value = Protocol<'static>> {
    proptest::collection::vec("[^/]{0,6}", 1..4)
        .prop_map(|segments| format!("/{}", segments.join("/")))
        .prop_filter("valid unix path", |p| p.len() >= 2 && !p.ends_with('/'))
        .prop_map(|p| Protocol::Unix(Cow::Owned(p)))
}

/// Protocol sequences as the parsers accept them: a path protocol only last.
fn arb_protocols() -> impl Strategy<Value = Vec<Protocol<'static>>> {
    (
        proptest::collection::vec(arb_protocol(), 0..8),
        proptest::option::of(arb_unix()),
    )
        .prop_map(|(mut ps, unix)| {
            ps.extend(unix);
            ps
        })
        // Several garlic64 components can exceed the address cap, which parsing rightly refuses.
        .prop_filter("within MAX_MULTIADDR_LEN", |ps| {
            ps.iter().map(|p| p.to_bytes().len()).sum::<usize>() <= super::MAX_MULTIADDR_LEN
        })
}

proptest! {
    #[test]
    fn protocols_round_trip_through_bytes(ps in arb_protocols()) {
        let addr: Multiaddr = ps.iter().cloned().collect();
        let decoded = Multiaddr::from_bytes(addr.as_bytes()).unwrap();
        prop_assert_eq!(&decoded, &addr);
        let back: Vec<Protocol<'static>> = decoded.iter().map(Protocol::acquire).collect();
        prop_assert_eq!(back, ps);
    }

    #[test]
    fn protocols_round_trip_through_text(ps in arb_protocols()) {
        let addr: Multiaddr = ps.iter().cloned().collect();
        prop_assume!(!addr.is_empty());
        let text = addr.to_string();
        let parsed: Multiaddr = text.parse().unwrap();
        prop_assert_eq!(&parsed, &addr, "{}", text);
        prop_assert_eq!(parsed.to_string(), text);
    }

    #[test]
    fn push_pop_inverse(ps in arb_protocols(), p in arb_protocol()) {
        let mut addr: Multiaddr = ps.iter().filter(|p| !p.is_path()).cloned().collect();
        let before = addr.clone();
        addr.push(p.clone());
        prop_assert!(addr.ends_with(&Multiaddr::from(p.clone())));
        prop_assert!(addr.starts_with(&before));
        prop_assert_eq!(addr.pop(), Some(p));
        prop_assert_eq!(addr, before);
    }

    #[test]
    fn decapsulate_encapsulate(a in arb_protocols(), b in arb_protocols()) {
        let a: Multiaddr = a.into_iter().filter(|p| !p.is_path()).collect();
        let b: Multiaddr = b.into_iter().collect();
        prop_assume!(!b.is_empty());
        let joined = a.encapsulate(&b);
        let stripped = joined.decapsulate(&b);
        // The last occurrence of b starts at or after a's end.
        prop_assert!(a.starts_with(&stripped) || stripped.starts_with(&a));
        prop_assert!(joined.starts_with(&stripped));
        prop_assert!(joined.ends_with(&b));
    }

    #[test]
    fn bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..64)) {
        if let Ok(addr) = Multiaddr::from_bytes(&bytes) {
            prop_assert_eq!(addr.as_bytes(), &bytes[..]);
            let text = addr.to_string();
            if !addr.is_empty() {
                prop_assert_eq!(text.parse::<Multiaddr>().unwrap(), addr);
            }
        }
    }

    #[test]
    fn mutated_bytes_never_panic(
        ps in arb_protocols(),
        flips in proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..4),
    ) {
        let mut bytes = ps.into_iter().collect::<Multiaddr>().to_vec();
        prop_assume!(!bytes.is_empty());
        for (i, v) in flips {
            let i = i.index(bytes.len());
            bytes[i] = v;
        }
        if let Ok(addr) = Multiaddr::from_bytes(&bytes) {
            prop_assert_eq!(Multiaddr::from_bytes(addr.as_bytes()).unwrap(), addr.clone());
            if !addr.is_empty() {
                prop_assert_eq!(addr.to_string().parse::<Multiaddr>().unwrap(), addr);
            }
        }
    }

    #[test]
    fn text_never_panics(text in "(/[a-z0-9:.%-]{0,8}){0,6}/?") {
        if let Ok(addr) = text.parse::<Multiaddr>() {
            prop_assert_eq!(Multiaddr::from_bytes(addr.as_bytes()).unwrap(), addr.clone());
            prop_assert_eq!(addr.to_string().parse::<Multiaddr>().unwrap(), addr);
        }
    }
}
