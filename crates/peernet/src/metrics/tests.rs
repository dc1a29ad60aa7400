use super::http::{parse_head, RequestError, Route};
use super::*;

fn line_of<'a>(text: &'a str, prefix: &str) -> Option<&'a str> {
    text.lines().find(|l| l.starts_with(prefix))
}

#[test]
fn handler_protocols_get_labels_and_unknown_inbound_ones_are_other() {
    let m = Metrics::new();
    m.allow_protocol("/echo/1.0.0");
    let _a = m.stream_opened("/echo/1.0.0", Direction::Inbound);
    // A match function accepted some id we never registered: bounded to `other`.
    let _b = m.stream_opened("/echo/9.9.9-from-the-network", Direction::Inbound);
    let text = m.encode();
    assert!(
        text.contains(
            r#"peernet_streams_opened_total{protocol="/echo/1.0.0",direction="inbound"} 1"#
        ),
        "{text}"
    );
    assert!(
        text.contains(r#"peernet_streams_opened_total{protocol="other",direction="inbound"} 1"#),
        "{text}"
    );
    assert!(!text.contains("from-the-network"), "{text}");
}

#[test]
fn outbound_protocols_are_labelled_up_to_the_cap() {
    let m = Metrics::new();
    for i in 0..MAX_PROTOCOL_LABELS + 10 {
        drop(m.stream_opened(&format!("/p/{i}"), Direction::Outbound));
    }
    let text = m.encode();
    let labelled = text
        .lines()
        .filter(|l| l.starts_with("peernet_streams_opened_total{protocol=\"/p/"))
        .count();
    assert_eq!(labelled, MAX_PROTOCOL_LABELS);
    assert!(
        text.contains(r#"peernet_streams_opened_total{protocol="other",direction="outbound"} 10"#),
        "{text}"
    );
    // Once labelled, an id keeps its label, inbound too.
    drop(m.stream_opened("/p/0", Direction::Inbound));
    assert!(m
        .encode()
        .contains(r#"peernet_streams_opened_total{protocol="/p/0",direction="inbound"} 1"#));
}

#[test]
fn long_or_strange_protocol_ids_are_other() {
    let m = Metrics::new();
    let long = format!("/{}", "x".repeat(MAX_PROTOCOL_LABEL_LEN));
    m.allow_protocol(&long);
    m.allow_protocol("/quote\"/1");
    drop(m.stream_opened(&long, Direction::Outbound));
    drop(m.stream_opened("/new\nline", Direction::Outbound));
    drop(m.stream_opened("/quote\"/1", Direction::Inbound));
    let text = m.encode();
    assert!(
        text.contains(r#"peernet_streams_opened_total{protocol="other",direction="outbound"} 2"#),
        "{text}"
    );
    assert!(
        text.contains(r#"peernet_streams_opened_total{protocol="other",direction="inbound"} 1"#),
        "{text}"
    );
    assert!(!text.contains(&long));
    assert!(labelable("/ipfs/id/push/1.0.0"));
    assert!(labelable("/libp2p/circuit/relay/0.2.0/hop"));
    assert!(!labelable(""));
}

#[test]
fn stream_gauge_follows_the_handles_and_bytes_add_up() {
    let m = Metrics::new();
    let a = m.stream_opened("/x/1", Direction::Outbound);
    let b = m.stream_opened("/x/1", Direction::Outbound);
    a.written.inc_by(10);
    b.written.inc_by(5);
    b.read.inc_by(7);
    let gauge = r#"peernet_streams{protocol="/x/1",direction="outbound"} "#;
    assert_eq!(
        line_of(&m.encode(), gauge),
        Some(format!("{gauge}2").as_str())
    );
    drop(a);
    assert_eq!(
        line_of(&m.encode(), gauge),
        Some(format!("{gauge}1").as_str())
    );
    drop(b);
    let text = m.encode();
    assert_eq!(line_of(&text, gauge), Some(format!("{gauge}0").as_str()));
    assert!(text.contains(r#"peernet_stream_bytes_total{protocol="/x/1",direction="written"} 15"#));
    assert!(text.contains(r#"peernet_stream_bytes_total{protocol="/x/1",direction="read"} 7"#));
}

#[test]
fn dial_outcomes_ping_and_identify_are_counted() {
    let m = Metrics::new();
    let tcp: Multiaddr = "/ip4/127.0.0.1/tcp/1".parse().unwrap();
    let quic: Multiaddr = "/ip4/127.0.0.1/udp/1/quic-v1".parse().unwrap();
    m.dial_started(&tcp).done(None);
    m.dial_started(&tcp).done(Some(&AddrDialError::Timeout));
    m.dial_started(&tcp).done(Some(&AddrDialError::Timeout));
    m.dial_started(&quic).done(Some(&AddrDialError::Cancelled));
    // A dial task dropped before its end.
    drop(m.dial_started(&quic));
    m.ping_rtt(Duration::from_millis(3));
    m.identify(IdentifyEvent::Received);
    m.identify(IdentifyEvent::PushSent);
    let text = m.encode();
    for expected in [
        r#"peernet_dials_total{transport="tcp",outcome="success"} 1"#,
        r#"peernet_dials_total{transport="tcp",outcome="timeout"} 2"#,
        r#"peernet_dials_total{transport="quic-v1",outcome="cancelled"} 1"#,
        r#"peernet_dials_total{transport="quic-v1",outcome="aborted"} 1"#,
        "peernet_ping_rtt_seconds_count 1",
        r#"peernet_identify_total{event="received"} 1"#,
        r#"peernet_identify_total{event="push_sent"} 1"#,
    ] {
        assert!(text.contains(expected), "{expected} missing in\n{text}");
    }
    assert!(text.ends_with("# EOF\n"));
}

#[test]
fn requests_are_routed() {
    assert_eq!(
        parse_head(b"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n"),
        Ok(Some(Route::Metrics))
    );
    assert_eq!(
        parse_head(b"GET /metrics?x=1 HTTP/1.0\n\n"),
        Ok(Some(Route::Metrics))
    );
    assert_eq!(
        parse_head(b"HEAD /metrics HTTP/1.1\r\n\r\n"),
        Ok(Some(Route::MetricsHead))
    );
    assert_eq!(
        parse_head(b"GET / HTTP/1.1\r\n\r\n"),
        Ok(Some(Route::NotFound))
    );
    assert_eq!(
        parse_head(b"POST /metrics HTTP/1.1\r\n\r\n"),
        Ok(Some(Route::MethodNotAllowed))
    );
    // Incomplete: wait for more.
    assert_eq!(parse_head(b"GET /metrics HTTP/1.1\r\nHost:"), Ok(None));
    assert_eq!(parse_head(b""), Ok(None));
}

#[test]
fn garbage_requests_are_refused_without_panicking() {
    for garbage in [
        &b"\r\n\r\n"[..],
        b"\n\n",
        b"GET\r\n\r\n",
        b"GET /metrics\r\n\r\n",
        b"GET /metrics HTTP/1.1 extra\r\n\r\n",
        b"GET metrics HTTP/1.1\r\n\r\n",
        b"GET /metrics SPDY/3\r\n\r\n",
        b"\xff\xfe /metrics HTTP/1.1\r\n\r\n",
        b" /metrics HTTP/1.1\r\n\r\n",
    ] {
        assert_eq!(
            parse_head(garbage),
            Err(RequestError::Malformed),
            "{garbage:?}"
        );
    }
    let endless = vec![b'a'; MAX_REQUEST_BYTES];
    assert_eq!(parse_head(&endless), Err(RequestError::TooLarge));
    let mut late = b"GET /metrics HTTP/1.1\r\nX: ".to_vec();
    late.extend(std::iter::repeat_n(b'a', MAX_REQUEST_BYTES));
    late.extend_from_slice(b"\r\n\r\n");
    assert_eq!(parse_head(&late), Err(RequestError::TooLarge));
    // Every prefix of a valid request is incomplete or valid, never an error or a panic.
    let ok = b"GET /metrics HTTP/1.1\r\nHost: localhost\r\n\r\n";
    for i in 0..ok.len() {
        assert_eq!(parse_head(ok.get(..i).unwrap()), Ok(None), "prefix {i}");
    }
}

#[test]
fn random_request_heads_never_panic() {
    // A small deterministic generator over request-like fragments and raw bytes (the endpoint's
    // parser is not in `fuzz/`, which builds only the sans-IO crates).
    let fragments: [&[u8]; 10] = [
        b"GET",
        b"HEAD",
        b" ",
        b"/metrics",
        b"?",
        b"HTTP/1.1",
        b"\r\n",
        b"\n",
        b"\xff",
        b"\0",
    ];
    let mut state: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    for _ in 0..20_000 {
        let mut input = Vec::new();
        for _ in 0..next() % 16 {
            let pick = (next() % 12) as usize;
            match fragments.get(pick) {
                Some(f) => input.extend_from_slice(f),
                None => input.push(next() as u8),
            }
        }
        if parse_head(&input) == Ok(None) {
            let complete = input.windows(2).any(|w| w == b"\n\n")
                || input.windows(4).any(|w| w == b"\r\n\r\n");
            assert!(!complete, "{input:?}");
        }
    }
}
