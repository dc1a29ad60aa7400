//! In-memory pair tests with simulated time, and the advisory regression tests.

use std::collections::{HashMap, HashSet};
use std::time::{Duration, Instant};

use bytes::BytesMut;
use proptest::prelude::*;

use super::*;

/// Two sessions joined by in-memory "wires", with a clock the test controls.
struct Pair {
    client: Session,
    server: Session,
    now: Instant,
    client_events: Vec<Event>,
    server_events: Vec<Event>,
}

impl Pair {
    fn new() -> Self {
        Self::with_config(Config::default())
    }

    fn with_config(config: Config) -> Self {
        let now = Instant::now();
        let mut client = Session::new(Role::Client, config.clone());
        let mut server = Session::new(Role::Server, config);
        client.handle_timeout(now).unwrap();
        server.handle_timeout(now).unwrap();
        let mut pair = Pair {
            client,
            server,
            now,
            client_events: Vec::new(),
            server_events: Vec::new(),
        };
        pair.drive();
        pair
    }

    /// Moves the client's output to the server; returns the bytes moved.
    fn client_to_server(&mut self) -> usize {
        let mut buf = Vec::new();
        let n = self.client.poll_transmit(&mut buf);
        if n > 0 {
            self.server
                .handle_input(self.now, &mut BytesMut::from(&buf[..]))
                .unwrap();
        }
        self.collect();
        n
    }

    fn server_to_client(&mut self) -> usize {
        let mut buf = Vec::new();
        let n = self.server.poll_transmit(&mut buf);
        if n > 0 {
            self.client
                .handle_input(self.now, &mut BytesMut::from(&buf[..]))
                .unwrap();
        }
        self.collect();
        n
    }

    fn collect(&mut self) {
        while let Some(e) = self.client.poll_event() {
            self.client_events.push(e);
        }
        while let Some(e) = self.server.poll_event() {
            self.server_events.push(e);
        }
    }

    /// Moves bytes both ways until neither side has anything to send.
    fn drive(&mut self) {
        while self.client_to_server() + self.server_to_client() > 0 {}
    }

    fn open_accepted(&mut self) -> (StreamId, StreamId) {
        let c = self.client.open_stream().unwrap();
        self.drive();
        let s = self.server.accept().unwrap();
        self.drive();
        (c, s)
    }

    fn read_all(session: &mut Session, now: Instant, id: StreamId) -> Vec<u8> {
        let mut out = Vec::new();
        let mut buf = [0u8; 7000];
        while let Some(n) = session.read(now, id, &mut buf).unwrap() {
            if n == 0 {
                break;
            }
            out.extend_from_slice(&buf[..n]);
        }
        out
    }
}

fn raw(headers: &[Header]) -> BytesMut {
    let mut out = BytesMut::new();
    for h in headers {
        out.extend_from_slice(&h.encode());
    }
    out
}

#[test]
fn open_accept_and_data_both_ways() {
    let mut pair = Pair::new();
    assert!(pair
        .client_events
        .iter()
        .any(|e| matches!(e, Event::PingRtt(_))));
    let c = pair.client.open_stream().unwrap();
    assert_eq!(c % 2, 1, "client ids are odd");
    assert_eq!(pair.client.write(c, b"hello").unwrap(), Some(5));
    pair.drive();
    assert!(pair.server_events.contains(&Event::IncomingStream));
    let s = pair.server.accept().unwrap();
    assert_eq!(s, c);
    assert_eq!(Pair::read_all(&mut pair.server, pair.now, s), b"hello");
    assert_eq!(pair.server.write(s, b"world").unwrap(), Some(5));
    pair.drive();
    assert!(pair.client_events.contains(&Event::StreamReadable(c)));
    assert_eq!(Pair::read_all(&mut pair.client, pair.now, c), b"world");

    let id = pair.server.open_stream().unwrap();
    assert_eq!(id % 2, 0, "server ids are even");
}

#[test]
fn half_close_keeps_the_other_direction() {
    let mut pair = Pair::new();
    let (c, s) = pair.open_accepted();
    pair.client.write(c, b"request").unwrap();
    pair.client.close(c).unwrap();
    assert_eq!(
        pair.client.write(c, b"more"),
        Err(YamuxError::WriteClosed(c))
    );
    pair.drive();
    let mut buf = [0u8; 64];
    assert_eq!(pair.server.read(pair.now, s, &mut buf).unwrap(), Some(7));
    assert_eq!(
        pair.server.read(pair.now, s, &mut buf).unwrap(),
        Some(0),
        "EOF after FIN"
    );
    pair.server.write(s, b"response").unwrap();
    pair.drive();
    assert_eq!(pair.client.read(pair.now, c, &mut buf).unwrap(), Some(8));
    assert_eq!(
        pair.client.read(pair.now, c, &mut buf).unwrap(),
        None,
        "server has not closed yet"
    );
    pair.server.close(s).unwrap();
    pair.drive();
    assert_eq!(pair.client.read(pair.now, c, &mut buf).unwrap(), Some(0));
    pair.client.drop_stream(c);
    pair.server.drop_stream(s);
    pair.drive();
    assert_eq!(pair.client.num_streams(), 0);
    assert_eq!(pair.server.num_streams(), 0);
}

#[test]
fn reset_reaches_both_directions() {
    let mut pair = Pair::new();
    let (c, s) = pair.open_accepted();
    pair.client.write(c, b"data").unwrap();
    pair.client.reset(c).unwrap();
    pair.drive();
    let mut buf = [0u8; 8];
    assert_eq!(
        pair.server.read(pair.now, s, &mut buf),
        Err(YamuxError::StreamReset(s))
    );
    assert_eq!(pair.server.write(s, b"x"), Err(YamuxError::StreamReset(s)));
    assert_eq!(
        pair.client.read(pair.now, c, &mut buf),
        Err(YamuxError::LocallyReset(c))
    );
    assert!(pair.server_events.contains(&Event::StreamWritable(s)));
}

#[test]
fn dropping_with_unread_data_resets_and_clean_drop_closes() {
    let mut pair = Pair::new();
    let (c, s) = pair.open_accepted();
    pair.server.write(s, b"unread").unwrap();
    pair.drive();
    pair.client.drop_stream(c);
    pair.drive();
    let mut buf = [0u8; 8];
    assert_eq!(
        pair.server.read(pair.now, s, &mut buf),
        Err(YamuxError::StreamReset(s))
    );

    let (c, s) = pair.open_accepted();
    pair.server.close(s).unwrap();
    pair.drive();
    assert_eq!(pair.client.read(pair.now, c, &mut buf).unwrap(), Some(0));
    pair.client.write(c, b"bye").unwrap();
    pair.client.drop_stream(c); // FIN: the peer gets the data and a clean end
    pair.drive();
    assert_eq!(Pair::read_all(&mut pair.server, pair.now, s), b"bye");
    assert_eq!(pair.server.read(pair.now, s, &mut buf).unwrap(), Some(0));
}

#[test]
fn writer_blocks_at_window_and_resumes_on_update() {
    let mut pair = Pair::new();
    let (c, s) = pair.open_accepted();
    let chunk = vec![7u8; 100_000];
    let mut written = 0;
    while let Some(n) = pair.client.write(c, &chunk).unwrap() {
        written += n;
        pair.drive();
    }
    assert_eq!(written, INITIAL_WINDOW as usize, "exactly one window");
    assert_eq!(pair.client.send_window(c), Some(0));
    pair.client_events.clear();
    // Reading half a window sends an update; the writer is told it may continue.
    let mut buf = vec![0u8; INITIAL_WINDOW as usize / 2];
    assert_eq!(
        pair.server.read(pair.now, s, &mut buf).unwrap(),
        Some(buf.len())
    );
    pair.drive();
    assert!(pair.client_events.contains(&Event::StreamWritable(c)));
    assert_eq!(pair.client.send_window(c), Some(INITIAL_WINDOW / 2));
    assert_eq!(pair.client.write(c, &chunk).unwrap(), Some(chunk.len()));
}

#[test]
fn transmit_buffer_full_blocks_writers_until_drained() {
    let config = Config {
        write_buffer_size: 1000,
        ..Config::default()
    };
    let mut pair = Pair::with_config(config);
    let (c, _) = pair.open_accepted();
    assert_eq!(pair.client.write(c, &[1u8; 1500]).unwrap(), Some(1500));
    assert_eq!(pair.client.write(c, &[1u8; 10]).unwrap(), None);
    pair.drive();
    assert!(pair.client_events.contains(&Event::StreamWritable(c)));
    assert_eq!(pair.client.write(c, &[1u8; 10]).unwrap(), Some(10));
}

/// Runs one round trip with `rtt` so that the sessions learn an RTT.
fn pair_with_rtt(config: Config, rtt: Duration) -> Pair {
    let now = Instant::now();
    let mut client = Session::new(Role::Client, config.clone());
    let mut server = Session::new(Role::Server, config);
    client.handle_timeout(now).unwrap();
    server.handle_timeout(now).unwrap();
    let mut pair = Pair {
        client,
        server,
        now,
        client_events: Vec::new(),
        server_events: Vec::new(),
    };
    // Each wire takes rtt/2: the client's ping arrives at rtt/2 and its answer at rtt.
    pair.now += rtt / 2;
    pair.client_to_server();
    pair.now += rtt / 2;
    pair.server_to_client();
    pair.now += rtt / 2;
    pair.drive();
    assert_eq!(pair.client.rtt(), Some(rtt));
    pair
}

/// Streams `total` bytes client → server, the server reading at most `per_step` bytes every
/// `step`; returns the server's final receive window.
fn transfer(pair: &mut Pair, total: usize, step: Duration, per_step: usize) -> u32 {
    let (c, s) = pair.open_accepted();
    let chunk = vec![3u8; 64 * 1024];
    let mut sent = 0;
    let mut received = 0;
    let mut buf = vec![0u8; 64 * 1024];
    while received < total {
        while sent < total {
            match pair
                .client
                .write(c, &chunk[..chunk.len().min(total - sent)])
                .unwrap()
            {
                Some(n) => sent += n,
                None => break,
            }
        }
        pair.drive();
        pair.now += step;
        let mut this_step = 0;
        while this_step < per_step {
            let Some(n) = pair.server.read(pair.now, s, &mut buf).unwrap() else {
                break;
            };
            assert!(buf[..n].iter().all(|&b| b == 3));
            received += n;
            this_step += n;
        }
        pair.drive();
    }
    pair.server.receive_window(s).unwrap()
}

#[test]
fn auto_tuning_grows_the_window_when_the_reader_is_fast() {
    let mut pair = pair_with_rtt(Config::default(), Duration::from_millis(50));
    // Half a window consumed within a millisecond, far under 4 RTT: the window doubles each time.
    let window = transfer(
        &mut pair,
        64 * 1024 * 1024,
        Duration::from_millis(1),
        usize::MAX,
    );
    assert_eq!(window, 16 * 1024 * 1024, "grown to the configured maximum");
}

#[test]
fn auto_tuning_keeps_the_window_when_the_reader_is_slow() {
    let mut pair = pair_with_rtt(Config::default(), Duration::from_millis(5));
    let window = transfer(
        &mut pair,
        4 * 1024 * 1024,
        Duration::from_millis(100),
        64 * 1024,
    );
    assert_eq!(window, INITIAL_WINDOW);
}

#[test]
fn auto_tuning_keeps_the_window_when_the_reader_is_the_bottleneck() {
    // Fast in wall-clock terms (1 ms per step, RTT 50 ms), but the reader takes only 100 KB per
    // step and never finds the buffer empty: data piles up at the reader, not in the network,
    // so a larger window would only hold more memory.
    let mut pair = pair_with_rtt(Config::default(), Duration::from_millis(50));
    let window = transfer(
        &mut pair,
        8 * 1024 * 1024,
        Duration::from_millis(1),
        100_000,
    );
    assert_eq!(window, INITIAL_WINDOW);
}

#[test]
fn auto_tuning_respects_the_connection_budget() {
    let config = Config {
        max_connection_receive_window: 3 * INITIAL_WINDOW as usize,
        ..Config::default()
    };
    let mut pair = pair_with_rtt(config, Duration::from_millis(50));
    let window = transfer(
        &mut pair,
        16 * 1024 * 1024,
        Duration::from_millis(1),
        usize::MAX,
    );
    // One stream (256 KiB) may grow to 512 KiB; doubling again (1 MiB) exceeds 768 KiB.
    assert_eq!(window, 2 * INITIAL_WINDOW);
}

#[test]
fn ack_backlog_limits_unacknowledged_outbound_streams() {
    let mut pair = Pair::new();
    for _ in 0..256 {
        pair.client.open_stream().unwrap();
    }
    assert_eq!(pair.client.open_stream(), Err(YamuxError::AckBacklogFull));
    pair.drive();
    assert_eq!(
        pair.client.open_stream(),
        Err(YamuxError::AckBacklogFull),
        "SYN is not ACK"
    );
    pair.server.accept().unwrap();
    pair.drive();
    assert!(pair.client_events.contains(&Event::OutboundAvailable));
    pair.client.open_stream().unwrap();
}

#[test]
fn inbound_backlog_beyond_256_is_refused_with_rst() {
    let mut pair = Pair::new();
    let mut client = Session::new(
        Role::Client,
        Config {
            accept_backlog: 1000,
            ..Config::default()
        },
    );
    for _ in 0..300 {
        client.open_stream().unwrap();
    }
    let mut buf = Vec::new();
    client.poll_transmit(&mut buf);
    pair.server
        .handle_input(pair.now, &mut BytesMut::from(&buf[..]))
        .unwrap();
    let mut out = Vec::new();
    pair.server.poll_transmit(&mut out);
    client
        .handle_input(pair.now, &mut BytesMut::from(&out[..]))
        .unwrap();
    assert_eq!(pair.server.num_streams(), 256);
    // Streams 513, 515, ... (the 257th onwards) were reset by the server.
    let mut b = [0u8; 1];
    assert_eq!(
        client.read(pair.now, 513, &mut b),
        Err(YamuxError::StreamReset(513))
    );
    assert_eq!(client.read(pair.now, 511, &mut b).unwrap(), None);
}

/// go-libp2p GHSA-j7qp-mfxf-8xjw: a peer opening streams without end. The application accepts
/// them (so the accept backlog never fills); the inbound limit caps them at 512 and the rest are
/// reset, with memory bounded by the stream count.
#[test]
fn stream_open_flood_is_capped_by_rst() {
    let mut server = Session::new(Role::Server, Config::default());
    let now = Instant::now();
    let mut resets = 0;
    let mut id = 1u32;
    for _round in 0..20 {
        let headers: Vec<Header> = (0..100)
            .map(|_| {
                id += 2;
                Header::data(id, Flags::SYN, 0)
            })
            .collect();
        server.handle_input(now, &mut raw(&headers)).unwrap();
        while server.accept().is_some() {}
        let mut out = Vec::new();
        server.poll_transmit(&mut out);
        for frame in out.chunks(HEADER_LEN) {
            let h = Header::decode(frame.try_into().unwrap()).unwrap();
            if h.flags.contains(Flags::RST) {
                resets += 1;
            }
        }
    }
    assert_eq!(server.num_streams(), 512);
    assert_eq!(resets, 2000 - 512);
}

/// rust-yamux GHSA-3999-5ffv-wp2r: the peer keeps making us produce frames (here: RSTs for
/// refused streams) and never reads them. The transmit buffer stays bounded and the session
/// fails instead of growing.
#[test]
fn unbounded_pending_frames_peer_not_reading_refused_streams() {
    let config = Config {
        max_inbound_streams: 0,
        ..Config::default()
    };
    let limit = config.write_buffer_size + config.max_frame_size + config.max_control_backlog;
    let mut server = Session::new(Role::Server, config);
    let now = Instant::now();
    let mut id = 1u32;
    let mut result = Ok(());
    for _ in 0..1000 {
        let headers: Vec<Header> = (0..100)
            .map(|_| {
                id += 2;
                Header::window_update(id, Flags::SYN, 0)
            })
            .collect();
        result = server.handle_input(now, &mut raw(&headers));
        assert!(server.pending_transmit() <= limit + HEADER_LEN);
        if result.is_err() {
            break;
        }
    }
    assert!(
        matches!(result, Err(YamuxError::TransmitBacklog(_))),
        "{result:?}"
    );
    assert_eq!(
        server.handle_input(now, &mut raw(&[Header::ping(Flags::SYN, 1)])),
        Err(YamuxError::SessionClosed)
    );
    // The go-away is still there for the driver to flush.
    let mut out = Vec::new();
    server.poll_transmit(&mut out);
    let last = out.len() - HEADER_LEN;
    let go_away = Header::decode(out[last..].try_into().unwrap()).unwrap();
    assert_eq!(go_away, Header::go_away(GoAwayCode::ProtocolError));
}

/// The same advisory with pings: answers are rate-limited and a flood ends the session.
#[test]
fn ping_flood_without_reading_is_bounded() {
    let mut server = Session::new(Role::Server, Config::default());
    let now = Instant::now();
    let pings: Vec<Header> = (0..1000).map(|i| Header::ping(Flags::SYN, i)).collect();
    let result = server.handle_input(now, &mut raw(&pings));
    assert_eq!(result, Err(YamuxError::PingFlood(16)));
    assert!(server.pending_transmit() <= 20 * HEADER_LEN);
}

#[test]
fn pings_are_answered_with_the_same_value() {
    let mut server = Session::new(Role::Server, Config::default());
    let now = Instant::now();
    for i in 0..100u32 {
        server
            .handle_input(now, &mut raw(&[Header::ping(Flags::SYN, i)]))
            .unwrap();
        let mut out = Vec::new();
        server.poll_transmit(&mut out);
        let last = out.len() - HEADER_LEN;
        assert_eq!(
            Header::decode(out[last..].try_into().unwrap()).unwrap(),
            Header::ping(Flags::ACK, i)
        );
    }
}

/// CVE-2026-31814: a window update that overflows the u32 send window is a protocol error.
#[test]
fn window_update_overflow_is_a_protocol_error() {
    let mut client = Session::new(Role::Client, Config::default());
    let now = Instant::now();
    let id = client.open_stream().unwrap();
    let update = Header::window_update(id, Flags::ACK, u32::MAX - INITIAL_WINDOW);
    client.handle_input(now, &mut raw(&[update])).unwrap();
    assert_eq!(client.send_window(id), Some(u32::MAX));
    let err = client.handle_input(now, &mut raw(&[Header::window_update(id, Flags::NONE, 1)]));
    assert_eq!(
        err,
        Err(YamuxError::WindowOverflow {
            stream: id,
            delta: 1
        })
    );
    assert!(client.is_closed());
}

/// GHSA-vxx9-2994-q338: a SYN frame carrying more than the initial window.
#[test]
fn oversized_data_on_syn_is_a_protocol_error() {
    let mut server = Session::new(Role::Server, Config::default());
    let now = Instant::now();
    let mut input = raw(&[Header::data(1, Flags::SYN, INITIAL_WINDOW + 1)]);
    input.extend_from_slice(&vec![0u8; INITIAL_WINDOW as usize + 1]);
    let err = server.handle_input(now, &mut input);
    assert_eq!(
        err,
        Err(YamuxError::WindowExceeded {
            stream: 1,
            length: INITIAL_WINDOW + 1,
            window: INITIAL_WINDOW
        })
    );
    assert_eq!(server.num_streams(), 0);

    // Exactly the window is fine.
    let mut server = Session::new(Role::Server, Config::default());
    let mut input = raw(&[Header::data(1, Flags::SYN, INITIAL_WINDOW)]);
    input.extend_from_slice(&vec![0u8; INITIAL_WINDOW as usize]);
    server.handle_input(now, &mut input).unwrap();
    assert_eq!(server.readable_len(1), INITIAL_WINDOW as usize);
}

#[test]
fn data_beyond_the_receive_window_is_a_protocol_error() {
    let mut server = Session::new(Role::Server, Config::default());
    let now = Instant::now();
    let mut input = raw(&[Header::data(1, Flags::SYN, 200_000)]);
    input.extend_from_slice(&vec![0u8; 200_000]);
    input.extend_from_slice(&Header::data(1, Flags::NONE, 100_000).encode());
    let err = server.handle_input(now, &mut input);
    assert_eq!(
        err,
        Err(YamuxError::WindowExceeded {
            stream: 1,
            length: 100_000,
            window: INITIAL_WINDOW - 200_000
        })
    );
    // Announcing more than any window we could grant fails before any payload arrives, even
    // for a stream we do not know.
    let mut server = Session::new(Role::Server, Config::default());
    let err = server.handle_input(now, &mut raw(&[Header::data(99, Flags::NONE, u32::MAX)]));
    assert!(matches!(
        err,
        Err(YamuxError::WindowExceeded { stream: 99, .. })
    ));
}

#[test]
fn invalid_stream_ids_and_duplicates() {
    let now = Instant::now();
    let mut server = Session::new(Role::Server, Config::default());
    assert_eq!(
        server.handle_input(now, &mut raw(&[Header::data(2, Flags::SYN, 0)])),
        Err(YamuxError::InvalidStreamId(2))
    );
    let mut server = Session::new(Role::Server, Config::default());
    assert_eq!(
        server.handle_input(now, &mut raw(&[Header::data(0, Flags::NONE, 0)])),
        Err(YamuxError::InvalidStreamId(0))
    );
    let mut server = Session::new(Role::Server, Config::default());
    let syn = Header::window_update(1, Flags::SYN, 0);
    assert_eq!(
        server.handle_input(now, &mut raw(&[syn, syn])),
        Err(YamuxError::DuplicateStream(1))
    );
    let mut server = Session::new(Role::Server, Config::default());
    let mut input = raw(&[
        Header::window_update(1, Flags::SYN.with(Flags::FIN), 0),
        Header::data(1, Flags::NONE, 1),
    ]);
    input.extend_from_slice(b"x");
    assert_eq!(
        server.handle_input(now, &mut input),
        Err(YamuxError::DataAfterFin(1))
    );
}

#[test]
fn frames_for_unknown_streams_are_skipped() {
    let now = Instant::now();
    let mut server = Session::new(Role::Server, Config::default());
    let mut input = raw(&[Header::data(7, Flags::NONE, 3)]);
    input.extend_from_slice(b"abc");
    input.extend_from_slice(&Header::window_update(9, Flags::RST, 5).encode());
    input.extend_from_slice(&Header::ping(Flags::SYN, 4).encode());
    server.handle_input(now, &mut input).unwrap();
    let mut out = Vec::new();
    server.poll_transmit(&mut out);
    let last = out.len() - HEADER_LEN;
    assert_eq!(
        Header::decode(out[last..].try_into().unwrap()).unwrap(),
        Header::ping(Flags::ACK, 4)
    );
}

#[test]
fn input_split_at_every_byte_gives_the_same_result() {
    let mut client = Session::new(Role::Client, Config::default());
    let id = client.open_stream().unwrap();
    let payload: Vec<u8> = (0..100_000u32).map(|i| i as u8).collect();
    let mut off = 0;
    while off < payload.len() {
        off += client.write(id, &payload[off..]).unwrap().unwrap();
    }
    client.close(id).unwrap();
    let mut wire = Vec::new();
    client.poll_transmit(&mut wire);
    let config = Config {
        zero_copy_threshold: 3,
        ..Config::default()
    };
    let mut server = Session::new(Role::Server, config);
    let now = Instant::now();
    let mut input = BytesMut::new();
    for piece in wire.chunks(5) {
        input.extend_from_slice(piece);
        server.handle_input(now, &mut input).unwrap();
        assert!(input.len() < HEADER_LEN);
    }
    let s = server.accept().unwrap();
    assert_eq!(Pair::read_all(&mut server, now, s), payload);
    let mut b = [0u8; 1];
    assert_eq!(server.read(now, s, &mut b).unwrap(), Some(0));
}

#[test]
fn keep_alive_measures_rtt_and_detects_a_silent_peer() {
    let config = Config {
        keep_alive_interval: Some(Duration::from_secs(30)),
        ping_timeout: Duration::from_secs(10),
        ..Config::default()
    };
    let mut pair = Pair::with_config(config);
    let start = pair.now;
    assert_eq!(
        pair.client.poll_timeout(),
        Some(start + Duration::from_secs(30))
    );
    pair.now += Duration::from_secs(30);
    pair.client.handle_timeout(pair.now).unwrap();
    pair.now += Duration::from_millis(20);
    pair.drive();
    assert!(pair
        .client_events
        .contains(&Event::PingRtt(Duration::from_millis(20))));
    assert_eq!(
        pair.client.poll_timeout(),
        Some(start + Duration::from_secs(60))
    );

    // Next ping goes unanswered (the server never receives it).
    pair.now = start + Duration::from_secs(60);
    pair.client.handle_timeout(pair.now).unwrap();
    assert_eq!(
        pair.client.poll_timeout(),
        Some(pair.now + Duration::from_secs(10))
    );
    pair.now += Duration::from_secs(9);
    pair.client.handle_timeout(pair.now).unwrap();
    pair.now += Duration::from_secs(1);
    assert_eq!(
        pair.client.handle_timeout(pair.now),
        Err(YamuxError::KeepAliveTimeout)
    );
    assert!(pair.client.is_closed());
    assert_eq!(pair.client.open_stream(), Err(YamuxError::SessionClosed));
}

#[test]
fn go_away_stops_new_streams_but_not_existing_ones() {
    let mut pair = Pair::new();
    let (c, s) = pair.open_accepted();
    pair.client.go_away(GoAwayCode::Normal);
    pair.drive();
    assert!(pair
        .server_events
        .contains(&Event::GoAway(GoAwayCode::Normal)));
    assert_eq!(
        pair.server.open_stream(),
        Err(YamuxError::RemoteGoAway(GoAwayCode::Normal))
    );
    assert_eq!(pair.client.open_stream(), Err(YamuxError::LocalGoAway));
    pair.server.write(s, b"still here").unwrap();
    pair.drive();
    assert_eq!(Pair::read_all(&mut pair.client, pair.now, c), b"still here");
}

#[test]
fn go_away_codes_round_trip() {
    for code in [
        GoAwayCode::Normal,
        GoAwayCode::ProtocolError,
        GoAwayCode::InternalError,
        GoAwayCode::Other(77),
    ] {
        assert_eq!(GoAwayCode::from_u32(code.to_u32()), code);
    }
}

#[test]
fn memory_budget_refuses_new_streams() {
    let config = Config {
        max_connection_receive_window: 2 * INITIAL_WINDOW as usize,
        ..Config::default()
    };
    let mut pair = Pair::with_config(config);
    pair.client.open_stream().unwrap();
    pair.client.open_stream().unwrap();
    assert_eq!(pair.client.open_stream(), Err(YamuxError::MemoryBudget));
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn arbitrary_input_never_panics(chunks in proptest::collection::vec(proptest::collection::vec(any::<u8>(), 0..64), 0..16)) {
        let now = Instant::now();
        for role in [Role::Client, Role::Server] {
            let mut session = Session::new(role, Config::default());
            let mut input = BytesMut::new();
            for chunk in &chunks {
                input.extend_from_slice(chunk);
                if session.handle_input(now, &mut input).is_err() {
                    break;
                }
                while session.poll_event().is_some() {}
                while let Some(id) = session.accept() {
                    let mut buf = [0u8; 16];
                    let _ = session.read(now, id, &mut buf);
                    let _ = session.write(id, b"x");
                }
            }
            let mut out = Vec::new();
            session.poll_transmit(&mut out);
        }
    }

    #[test]
    fn structured_frames_never_panic(frames in proptest::collection::vec((0u8..4, 0u16..16, 0u32..8, prop_oneof![0u32..300_000, Just(u32::MAX)]), 0..40)) {
        let now = Instant::now();
        let mut session = Session::new(Role::Server, Config::default());
        let mut input = BytesMut::new();
        for (ty, flags, id, len) in frames {
            let header = Header { frame_type: FrameType::from_u8(ty).unwrap(), flags: Flags(flags), stream_id: id, length: len };
            input.extend_from_slice(&header.encode());
            if header.frame_type == FrameType::Data {
                input.extend_from_slice(&vec![0u8; (len as usize).min(1000)]);
            }
            if session.handle_input(now, &mut input).is_err() {
                break;
            }
            while let Some(id) = session.accept() {
                let _ = session.write(id, &[1u8; 100]);
            }
        }
    }
}

#[test]
fn after_local_go_away_new_inbound_streams_are_refused() {
    let mut pair = Pair::new();
    pair.server.go_away(GoAwayCode::Normal);
    pair.drive();
    // The client ignores the go-away here and opens anyway (a raw SYN): it is reset.
    pair.server
        .handle_input(
            pair.now,
            &mut raw(&[Header::window_update(1, Flags::SYN, 0)]),
        )
        .unwrap();
    assert_eq!(pair.server.accept(), None);
    let mut out = Vec::new();
    pair.server.poll_transmit(&mut out);
    assert_eq!(
        Header::decode(out[..HEADER_LEN].try_into().unwrap()).unwrap(),
        Header::window_update(1, Flags::RST, 0)
    );
}

#[test]
fn refused_outbound_stream_frees_its_backlog_slot_when_dropped() {
    let now = Instant::now();
    let mut client = Session::new(
        Role::Client,
        Config {
            accept_backlog: 2,
            ..Config::default()
        },
    );
    let mut server = Session::new(
        Role::Server,
        Config {
            accept_backlog: 1,
            ..Config::default()
        },
    );
    let first = client.open_stream().unwrap();
    let second = client.open_stream().unwrap();
    assert_eq!(client.open_stream(), Err(YamuxError::AckBacklogFull));
    let mut wire = Vec::new();
    client.poll_transmit(&mut wire);
    server
        .handle_input(now, &mut BytesMut::from(&wire[..]))
        .unwrap();
    // The server's backlog (1) holds `first`; `second` is refused with RST.
    let mut back = Vec::new();
    server.poll_transmit(&mut back);
    client
        .handle_input(now, &mut BytesMut::from(&back[..]))
        .unwrap();
    let mut buf = [0u8; 1];
    assert_eq!(
        client.read(now, second, &mut buf),
        Err(YamuxError::StreamReset(second))
    );
    assert_eq!(client.read(now, first, &mut buf).unwrap(), None);
    assert_eq!(
        client.open_stream(),
        Err(YamuxError::AckBacklogFull),
        "refused, not acknowledged"
    );
    client.drop_stream(second);
    let events: Vec<Event> = std::iter::from_fn(|| client.poll_event()).collect();
    assert!(events.contains(&Event::OutboundAvailable), "{events:?}");
    client.open_stream().unwrap();
}

#[test]
fn inbound_stream_reset_before_accept_disappears() {
    let mut server = Session::new(Role::Server, Config::default());
    let now = Instant::now();
    server
        .handle_input(
            now,
            &mut raw(&[
                Header::window_update(1, Flags::SYN, 0),
                Header::window_update(1, Flags::RST, 0),
            ]),
        )
        .unwrap();
    assert_eq!(server.accept(), None);
    assert_eq!(server.num_streams(), 0);
}

#[test]
fn window_update_on_syn_grows_the_send_window() {
    let mut server = Session::new(Role::Server, Config::default());
    let now = Instant::now();
    server
        .handle_input(
            now,
            &mut raw(&[Header::window_update(1, Flags::SYN, 1 << 20)]),
        )
        .unwrap();
    let id = server.accept().unwrap();
    assert_eq!(server.send_window(id), Some(INITIAL_WINDOW + (1 << 20)));
}

/// One step of the randomized pair simulation.
#[derive(Debug, Clone)]
enum SimOp {
    Open {
        client: bool,
    },
    Write {
        client: bool,
        stream: usize,
        len: usize,
    },
    Read {
        client: bool,
        stream: usize,
        max: usize,
    },
    Close {
        client: bool,
        stream: usize,
    },
    Deliver {
        to_server: bool,
        max: usize,
    },
    Tick {
        ms: u64,
    },
}

fn sim_op() -> impl Strategy<Value = SimOp> {
    prop_oneof![
        any::<bool>().prop_map(|client| SimOp::Open { client }),
        (any::<bool>(), 0usize..8, 1usize..300_000).prop_map(|(client, stream, len)| {
            SimOp::Write {
                client,
                stream,
                len,
            }
        }),
        (any::<bool>(), 0usize..8, 1usize..300_000).prop_map(|(client, stream, max)| SimOp::Read {
            client,
            stream,
            max
        }),
        (any::<bool>(), 0usize..8).prop_map(|(client, stream)| SimOp::Close { client, stream }),
        (any::<bool>(), 1usize..400_000)
            .prop_map(|(to_server, max)| SimOp::Deliver { to_server, max }),
        (0u64..100).prop_map(|ms| SimOp::Tick { ms }),
    ]
}

/// Bytes of stream `id` written by one side: a function of the stream and the offset.
fn sim_byte(id: StreamId, offset: usize, from_client: bool) -> u8 {
    (offset as u32)
        .wrapping_mul(31)
        .wrapping_add(id * 7 + u32::from(from_client)) as u8
}

/// Two sessions, the bytes in flight between them, and what each side wrote and read.
struct Sim {
    now: Instant,
    sessions: [Session; 2], // [client, server]
    wires: [BytesMut; 2],   // [to server, to client]
    streams: Vec<StreamId>,
    written: HashMap<(StreamId, usize), usize>,
    read: HashMap<(StreamId, usize), usize>,
    closed: HashSet<(StreamId, usize)>,
    buf: Vec<u8>,
}

fn side(client: bool) -> usize {
    if client {
        0
    } else {
        1
    }
}

impl Sim {
    fn new() -> Self {
        Sim {
            now: Instant::now(),
            sessions: [
                Session::new(Role::Client, Config::default()),
                Session::new(Role::Server, Config::default()),
            ],
            wires: [BytesMut::new(), BytesMut::new()],
            streams: Vec::new(),
            written: HashMap::new(),
            read: HashMap::new(),
            closed: HashSet::new(),
            buf: vec![0u8; 300_000],
        }
    }

    fn stream(&self, index: usize) -> Option<StreamId> {
        self.streams.get(index % self.streams.len().max(1)).copied()
    }

    fn step(&mut self, op: &SimOp) {
        match *op {
            SimOp::Open { client } => {
                if let Ok(id) = self.sessions[side(client)].open_stream() {
                    self.streams.push(id);
                }
            }
            SimOp::Write {
                client,
                stream,
                len,
            } => {
                let Some(id) = self.stream(stream) else {
                    return;
                };
                let s = side(client);
                if self.closed.contains(&(id, s)) {
                    return;
                }
                let off = self.written.get(&(id, s)).copied().unwrap_or(0);
                let data: Vec<u8> = (0..len).map(|i| sim_byte(id, off + i, client)).collect();
                match self.sessions[s].write(id, &data) {
                    Ok(Some(n)) => *self.written.entry((id, s)).or_default() += n,
                    Ok(None) | Err(YamuxError::UnknownStream(_)) => {}
                    Err(e) => panic!("write: {e}"),
                }
            }
            SimOp::Read {
                client,
                stream,
                max,
            } => {
                let Some(id) = self.stream(stream) else {
                    return;
                };
                let s = side(client);
                match self.sessions[s].read(self.now, id, &mut self.buf[..max]) {
                    Ok(Some(n)) => {
                        let off = self.read.entry((id, s)).or_default();
                        for (i, &b) in self.buf[..n].iter().enumerate() {
                            assert_eq!(b, sim_byte(id, *off + i, !client));
                        }
                        *off += n;
                    }
                    Ok(None) | Err(YamuxError::UnknownStream(_)) => {}
                    Err(e) => panic!("read: {e}"),
                }
            }
            SimOp::Close { client, stream } => {
                let Some(id) = self.stream(stream) else {
                    return;
                };
                let s = side(client);
                if self.sessions[s].close(id).is_ok() {
                    self.closed.insert((id, s));
                }
            }
            SimOp::Deliver { to_server, max } => {
                let (from, to) = if to_server { (0, 1) } else { (1, 0) };
                let mut out = Vec::new();
                self.sessions[from].poll_transmit(&mut out);
                self.wires[from].extend_from_slice(&out);
                let n = max.min(self.wires[from].len());
                let mut chunk = self.wires[from].split_to(n);
                self.sessions[to]
                    .handle_input(self.now, &mut chunk)
                    .unwrap();
                assert!(chunk.len() < HEADER_LEN);
                // Unconsumed header bytes go back to the front of the wire.
                let rest = self.wires[from].split();
                self.wires[from].extend_from_slice(&chunk);
                self.wires[from].extend_from_slice(&rest);
                while self.sessions[to].accept().is_some() {}
                for s in &mut self.sessions {
                    while s.poll_event().is_some() {}
                }
            }
            SimOp::Tick { ms } => {
                self.now += Duration::from_millis(ms);
                for s in &mut self.sessions {
                    s.handle_timeout(self.now).unwrap();
                }
            }
        }
    }

    fn total_read(&self) -> usize {
        self.read.values().sum()
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    /// Random interleavings of opens, partial writes, partial reads, half-closes and partial
    /// deliveries (the wire is cut at arbitrary points): every stream delivers exactly the bytes
    /// written, in order, followed by a clean end of stream.
    #[test]
    fn random_interleavings_deliver_every_byte(ops in proptest::collection::vec(sim_op(), 1..120)) {
        let mut sim = Sim::new();
        for op in &ops {
            sim.step(op);
        }
        // Finish: deliver (so every SYN is accepted), close every stream on both sides, then
        // deliver and read until nothing moves.
        sim.step(&SimOp::Deliver { to_server: true, max: usize::MAX });
        sim.step(&SimOp::Deliver { to_server: false, max: usize::MAX });
        for i in 0..sim.streams.len() {
            sim.step(&SimOp::Close { client: true, stream: i });
            sim.step(&SimOp::Close { client: false, stream: i });
        }
        for _ in 0..10_000 {
            let before = sim.total_read();
            sim.step(&SimOp::Deliver { to_server: true, max: usize::MAX });
            sim.step(&SimOp::Deliver { to_server: false, max: usize::MAX });
            for i in 0..sim.streams.len() {
                sim.step(&SimOp::Read { client: true, stream: i, max: 300_000 });
                sim.step(&SimOp::Read { client: false, stream: i, max: 300_000 });
            }
            let idle = sim.wires.iter().all(|w| w.is_empty())
                && sim.sessions.iter().all(|s| s.pending_transmit() == 0);
            if sim.total_read() == before && idle {
                break;
            }
        }
        for &id in &sim.streams.clone() {
            for s in 0..2 {
                let sent = sim.written.get(&(id, s)).copied().unwrap_or(0);
                let got = sim.read.get(&(id, 1 - s)).copied().unwrap_or(0);
                prop_assert_eq!(sent, got, "stream {} from side {}", id, s);
                let mut b = [0u8; 1];
                let end = sim.sessions[1 - s].read(sim.now, id, &mut b);
                prop_assert_eq!(end, Ok(Some(0)), "stream {} end of stream at side {}", id, 1 - s);
            }
        }
    }
}
