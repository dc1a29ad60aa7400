//! Driver tests: handshakes and transport frames over `tokio::io::duplex` and loopback TCP,
//! and hostile input.

use super::*;
use tokio::io::{duplex, AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

const YAMUX: &str = "/yamux/1.0.0";

fn keys() -> (Keypair, Keypair) {
    (Keypair::ed25519_from_seed(1), Keypair::ed25519_from_seed(2))
}

/// Deterministic test data that differs at every offset within a frame.
fn pattern(len: usize) -> Vec<u8> {
    (0..len).map(|i| (i ^ (i >> 8) ^ (i >> 16)) as u8).collect()
}

async fn handshake_pair<T>(
    a_io: T,
    b_io: T,
) -> ((NoiseStream<T>, RemoteInfo), (NoiseStream<T>, RemoteInfo))
where
    T: AsyncRead + AsyncWrite + Unpin,
{
    let (a, b) = keys();
    let expected = b.public().to_peer_id();
    let (out, inb) = tokio::join!(
        upgrade_outbound(a_io, &a, Some(expected), &[YAMUX]),
        upgrade_inbound(b_io, &b, &[YAMUX]),
    );
    (out.unwrap(), inb.unwrap())
}

#[tokio::test]
async fn handshake_over_duplex_in_both_roles() {
    let (a_io, b_io) = duplex(1024);
    let ((mut a, a_info), (mut b, b_info)) = handshake_pair(a_io, b_io).await;
    let (ka, kb) = keys();
    assert_eq!(a_info.peer_id, kb.public().to_peer_id());
    assert_eq!(b_info.peer_id, ka.public().to_peer_id());
    assert_eq!(a_info.negotiated_muxer.as_deref(), Some(YAMUX));
    assert_eq!(b_info.negotiated_muxer.as_deref(), Some(YAMUX));

    a.write_all(b"ping").await.unwrap();
    a.flush().await.unwrap();
    let mut buf = [0u8; 4];
    b.read_exact(&mut buf).await.unwrap();
    assert_eq!(&buf, b"ping");
    b.write_all(b"pong").await.unwrap();
    b.shutdown().await.unwrap();
    let mut rest = Vec::new();
    a.read_to_end(&mut rest).await.unwrap();
    assert_eq!(rest, b"pong");
}

#[tokio::test]
async fn wrong_peer_is_refused() {
    let (a_io, b_io) = duplex(1 << 16);
    let (a, b) = keys();
    let other = Keypair::ed25519_from_seed(3).public().to_peer_id();
    let (out, inb) = tokio::join!(
        upgrade_outbound(a_io, &a, Some(other.clone()), &[]),
        upgrade_inbound(b_io, &b, &[]),
    );
    match out {
        Err(NoiseUpgradeError::Noise(NoiseError::PeerIdMismatch { expected, actual })) => {
            assert_eq!(expected, other);
            assert_eq!(actual, b.public().to_peer_id());
        }
        other => panic!("expected a peer id mismatch, got {other:?}"),
    }
    // The dialer dropped its end without sending message 3.
    assert!(matches!(inb, Err(NoiseUpgradeError::Closed)));
}

async fn transfer<T>(mut tx: NoiseStream<T>, mut rx: NoiseStream<T>, len: usize, chunk: usize)
where
    T: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let data = pattern(len);
    let expected = data.clone();
    let writer = tokio::spawn(async move {
        for piece in data.chunks(chunk) {
            tx.write_all(piece).await.unwrap();
        }
        tx.shutdown().await.unwrap();
        tx
    });
    let mut got = Vec::with_capacity(len);
    let mut buf = vec![0u8; 100_000];
    loop {
        let n = rx.read(&mut buf).await.unwrap();
        if n == 0 {
            break;
        }
        got.extend_from_slice(&buf[..n]);
    }
    writer.await.unwrap();
    assert_eq!(got.len(), expected.len());
    assert!(got == expected, "transferred bytes differ");
}

#[tokio::test]
async fn sixty_four_mib_over_duplex() {
    let (a_io, b_io) = duplex(1 << 20);
    let ((a, _), (b, _)) = handshake_pair(a_io, b_io).await;
    // Odd chunk size: frames fill across writes.
    transfer(a, b, 64 << 20, 100_003).await;
}

#[tokio::test]
async fn sixty_four_mib_over_tcp_both_directions() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (dialed, accepted) = tokio::join!(TcpStream::connect(addr), listener.accept());
    let ((a, _), (b, _)) = handshake_pair(dialed.unwrap(), accepted.unwrap().0).await;
    let (a_read, a_write) = tokio::io::split(a);
    let (b_read, b_write) = tokio::io::split(b);
    let one = tokio::spawn(transfer_split(a_write, b_read, 64 << 20, 1 << 20));
    let two = tokio::spawn(transfer_split(b_write, a_read, 8 << 20, 777));
    one.await.unwrap();
    two.await.unwrap();
}

async fn transfer_split<W, R>(mut tx: W, mut rx: R, len: usize, chunk: usize)
where
    W: AsyncWrite + Unpin + Send + 'static,
    R: AsyncRead + Unpin,
{
    let data = pattern(len);
    let expected = data.clone();
    let writer = tokio::spawn(async move {
        for piece in data.chunks(chunk) {
            tx.write_all(piece).await.unwrap();
        }
        tx.shutdown().await.unwrap();
    });
    let mut got = Vec::with_capacity(len);
    rx.read_to_end(&mut got).await.unwrap();
    writer.await.unwrap();
    assert!(got == expected, "transferred bytes differ");
}

#[tokio::test(start_paused = true)]
async fn small_writes_are_held_until_flush_then_delivered() {
    let (a_io, b_io) = duplex(1 << 16);
    let ((mut a, _), (mut b, _)) = handshake_pair(a_io, b_io).await;
    for i in 0..100u8 {
        a.write_all(&[i]).await.unwrap();
    }
    let mut buf = [0u8; 100];
    let early = tokio::time::timeout(std::time::Duration::from_millis(20), b.read(&mut buf)).await;
    assert!(early.is_err(), "nothing is sent before a flush");
    a.flush().await.unwrap();
    b.read_exact(&mut buf).await.unwrap();
    assert_eq!(buf.to_vec(), (0..100u8).collect::<Vec<_>>());
}

/// Feeds `bytes` as everything the remote ever sends, then closes.
async fn inbound_against(bytes: Vec<u8>) -> NoiseUpgradeError {
    let (mut remote, local) = duplex(1 << 17);
    let (_, b) = keys();
    let feeder = tokio::spawn(async move {
        remote.write_all(&bytes).await.unwrap();
        remote.shutdown().await.unwrap();
        // Drain what the responder sends so it never blocks.
        let mut sink = Vec::new();
        let _ = remote.read_to_end(&mut sink).await;
    });
    let result = upgrade_inbound(local, &b, &[]).await;
    feeder.await.unwrap();
    result.expect_err("the handshake must fail")
}

#[tokio::test]
async fn garbage_and_truncated_handshakes_fail_with_typed_errors() {
    // Nothing at all.
    assert!(matches!(
        inbound_against(vec![]).await,
        NoiseUpgradeError::Closed
    ));
    // Half a length prefix.
    assert!(matches!(
        inbound_against(vec![0]).await,
        NoiseUpgradeError::Closed
    ));
    // A message 1 shorter than a key.
    assert!(matches!(
        inbound_against(vec![0, 3, 1, 2, 3]).await,
        NoiseUpgradeError::Noise(NoiseError::MessageTooShort { message: 1, .. })
    ));
    // A valid-looking message 1, then the stream ends: the responder waits for message 3.
    let mut msg1 = vec![0, 32];
    msg1.extend_from_slice(&[9u8; 32]);
    assert!(matches!(
        inbound_against(msg1.clone()).await,
        NoiseUpgradeError::Closed
    ));
    // Message 1 followed by a message 3 of garbage.
    let mut both = msg1;
    both.extend_from_slice(&[0, 100]);
    both.extend_from_slice(&[0x55; 100]);
    assert!(matches!(
        inbound_against(both).await,
        NoiseUpgradeError::Noise(NoiseError::Decrypt)
    ));
}

#[tokio::test]
async fn a_tampered_transport_frame_is_an_error_not_data() {
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::Arc;
    // A relay between a and b that, once armed, flips one ciphertext bit of what a sends.
    let (a_io, relay_a) = duplex(1 << 17);
    let (relay_b, b_io) = duplex(1 << 17);
    let armed = Arc::new(AtomicBool::new(false));
    let armed2 = armed.clone();
    let relay = tokio::spawn(async move {
        let (mut ar, mut aw) = tokio::io::split(relay_a);
        let (mut br, mut bw) = tokio::io::split(relay_b);
        let back = tokio::spawn(async move { tokio::io::copy(&mut br, &mut aw).await });
        let mut buf = vec![0u8; 1 << 17];
        let mut after_arming = 0usize;
        loop {
            let n = ar.read(&mut buf).await.unwrap();
            if n == 0 {
                break;
            }
            if armed2.load(Ordering::SeqCst) {
                for byte in buf[..n].iter_mut() {
                    if after_arming == 10 {
                        *byte ^= 1;
                    }
                    after_arming += 1;
                }
            }
            bw.write_all(&buf[..n]).await.unwrap();
        }
        bw.shutdown().await.unwrap();
        let _ = back.await;
    });
    let ((mut a, _), (mut b, _)) = handshake_pair(a_io, b_io).await;
    armed.store(true, Ordering::SeqCst);
    a.write_all(&[7u8; 1000]).await.unwrap();
    a.shutdown().await.unwrap();
    let mut got = Vec::new();
    let err = b.read_to_end(&mut got).await.unwrap_err();
    assert!(got.is_empty(), "no plaintext from a forged frame");
    assert_eq!(err.kind(), io::ErrorKind::InvalidData);
    let inner = err.get_ref().and_then(|e| e.downcast_ref::<NoiseError>());
    assert_eq!(inner, Some(&NoiseError::Decrypt));
    // The session stays failed.
    assert!(b.read(&mut [0u8; 10]).await.is_err());
    drop((a, b));
    relay.await.unwrap();
}

/// Runs the initiator side by hand with the sans-IO core, so the test controls every byte
/// sent after the handshake. `early` is encrypted and sent in the same write as message 3.
async fn manual_initiator(
    io: &mut tokio::io::DuplexStream,
    early: &[u8],
) -> peernet_core::noise::Transport {
    let mut hs = Handshake::initiator(&Keypair::ed25519_from_seed(1), None, &[]);
    let mut out = Vec::new();
    hs.poll_transmit(&mut out);
    io.write_all(&out).await.unwrap();
    let mut buf = vec![0u8; 4096];
    while !hs.is_finished() {
        let n = io.read(&mut buf).await.unwrap();
        assert_eq!(hs.handle_input(&buf[..n]).unwrap(), n);
    }
    out.clear();
    hs.poll_transmit(&mut out);
    let (mut transport, _) = hs.finish().unwrap();
    if !early.is_empty() {
        transport.encrypt(early, &mut out).unwrap();
    }
    io.write_all(&out).await.unwrap();
    transport
}

#[tokio::test]
async fn frames_of_any_size_and_pipelined_data_are_delivered() {
    let (mut remote, local) = duplex(1 << 20);
    let (_, b) = keys();
    let (mut transport, inbound) = tokio::join!(
        manual_initiator(&mut remote, b"right behind message 3"),
        upgrade_inbound(local, &b, &[])
    );
    let (mut stream, _) = inbound.unwrap();
    let mut expected = b"right behind message 3".to_vec();
    let mut wire = Vec::new();
    for len in [0, 1, 0, 16, 65519, 3, 0, 40000] {
        let data = pattern(len);
        transport.encrypt(&data, &mut wire).unwrap();
        expected.extend_from_slice(&data);
    }
    // Dribble the frames in odd-sized pieces.
    let sender = tokio::spawn(async move {
        for piece in wire.chunks(1234) {
            remote.write_all(piece).await.unwrap();
        }
        remote.shutdown().await.unwrap();
        remote
    });
    let mut got = Vec::new();
    stream.read_to_end(&mut got).await.unwrap();
    assert!(got == expected);
    drop(sender.await.unwrap());
}

#[tokio::test]
async fn a_stream_cut_inside_a_frame_is_unexpected_eof() {
    let (mut remote, local) = duplex(1 << 20);
    let (_, b) = keys();
    let (mut transport, inbound) = tokio::join!(
        manual_initiator(&mut remote, b""),
        upgrade_inbound(local, &b, &[])
    );
    let (mut stream, _) = inbound.unwrap();
    let mut wire = Vec::new();
    transport.encrypt(b"complete", &mut wire).unwrap();
    let first = wire.len();
    transport.encrypt(b"cut short", &mut wire).unwrap();
    remote.write_all(&wire[..first + 5]).await.unwrap();
    remote.shutdown().await.unwrap();
    let mut buf = [0u8; 8];
    stream.read_exact(&mut buf).await.unwrap();
    assert_eq!(&buf, b"complete");
    let err = stream.read(&mut [0u8; 64]).await.unwrap_err();
    assert_eq!(err.kind(), io::ErrorKind::UnexpectedEof);
    assert!(stream.read(&mut [0u8; 64]).await.is_err());
}

#[tokio::test]
async fn a_frame_shorter_than_a_tag_is_invalid_data() {
    let (mut remote, local) = duplex(1 << 20);
    let (_, b) = keys();
    let (_transport, inbound) = tokio::join!(
        manual_initiator(&mut remote, b""),
        upgrade_inbound(local, &b, &[])
    );
    let (mut stream, _) = inbound.unwrap();
    remote.write_all(&[0, 3, 1, 2, 3]).await.unwrap();
    let err = stream.read(&mut [0u8; 64]).await.unwrap_err();
    assert_eq!(err.kind(), io::ErrorKind::InvalidData);
    let inner = err.get_ref().and_then(|e| e.downcast_ref::<NoiseError>());
    assert_eq!(inner, Some(&NoiseError::FrameTooShort(3)));
}

/// Random write sizes, random flushes, and a pipe of 1000 bytes, so that nearly every socket
/// write and read is partial and returns `Pending` in the middle of frames.
#[tokio::test]
async fn partial_io_with_random_write_sizes_and_flushes() {
    let (a_io, b_io) = duplex(1000);
    let ((mut a, _), (mut b, _)) = handshake_pair(a_io, b_io).await;
    let data = pattern(3 << 20);
    let expected = data.clone();
    let writer = tokio::spawn(async move {
        let mut state = 0x2545_f491_4f6c_dd1du64;
        let mut next = move || {
            state = state
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            (state >> 33) as usize
        };
        let mut at = 0;
        while at < data.len() {
            let len = match next() % 4 {
                0 => next() % 16,
                1 => next() % 3000,
                2 => next() % 70_000,
                _ => next() % 300_000,
            }
            .min(data.len() - at);
            a.write_all(&data[at..at + len]).await.unwrap();
            at += len;
            if next() % 3 == 0 {
                a.flush().await.unwrap();
            }
        }
        a.shutdown().await.unwrap();
    });
    let mut got = Vec::new();
    let mut buf = vec![0u8; 5000];
    loop {
        let n = b.read(&mut buf).await.unwrap();
        if n == 0 {
            break;
        }
        got.extend_from_slice(&buf[..n]);
    }
    writer.await.unwrap();
    assert!(got == expected, "transferred bytes differ");
}

/// After a bulk transfer and a small message, a session with nothing to read holds no
/// read or write buffer; traffic afterwards (a maximal frame first) is delivered intact.
#[tokio::test(start_paused = true)]
async fn an_idle_session_releases_its_buffers() {
    let (a_io, b_io) = duplex(1 << 20);
    let ((mut a, _), (mut b, _)) = handshake_pair(a_io, b_io).await;
    let bulk = pattern(300_000);
    a.write_all(&bulk).await.unwrap();
    a.flush().await.unwrap();
    let mut got = vec![0u8; bulk.len()];
    b.read_exact(&mut got).await.unwrap();
    assert!(got == bulk);
    assert!(
        a.wbuf.capacity() > WRITE_KEEP,
        "a bulk write grows the write buffer"
    );
    assert!(
        b.rbuf.len() > READ_BUF_MIN,
        "a bulk read grows the read buffer"
    );

    // Small messages, each followed by a quiet socket: the grown read buffer survives a
    // pause (it may be one inside a transfer) but not several in a row.
    for round in 1..=QUIET_SPELLS {
        a.write_all(b"ping").await.unwrap();
        a.flush().await.unwrap();
        if round < QUIET_SPELLS {
            assert!(
                a.wbuf.capacity() > WRITE_KEEP,
                "kept after {round} small flushes"
            );
        } else {
            assert_eq!(a.wbuf.capacity(), 0, "released after {round} small flushes");
        }
        let mut ping = [0u8; 4];
        b.read_exact(&mut ping).await.unwrap();
        assert_eq!(&ping, b"ping");
        let idle =
            tokio::time::timeout(std::time::Duration::from_secs(1), b.read(&mut [0u8; 16])).await;
        assert!(idle.is_err(), "nothing more to read");
        if round < QUIET_SPELLS {
            assert!(
                b.rbuf.len() > READ_BUF_MIN,
                "kept after {round} quiet moments"
            );
        }
    }
    assert_eq!(
        b.rbuf.capacity(),
        0,
        "a quiet reader releases its read buffer"
    );

    // A buffer that never grew goes at the first quiet moment.
    a.write_all(b"ping").await.unwrap();
    a.flush().await.unwrap();
    let mut ping = [0u8; 4];
    b.read_exact(&mut ping).await.unwrap();
    assert!(b.rbuf.capacity() > 0);
    let idle =
        tokio::time::timeout(std::time::Duration::from_secs(1), b.read(&mut [0u8; 16])).await;
    assert!(idle.is_err(), "nothing more to read");
    assert_eq!(b.rbuf.capacity(), 0, "released at once");

    let mut expected = pattern(MAX_PLAINTEXT_LEN);
    a.write_all(&expected).await.unwrap();
    a.write_all(b"tail").await.unwrap();
    a.flush().await.unwrap();
    expected.extend_from_slice(b"tail");
    let mut again = vec![0u8; expected.len()];
    b.read_exact(&mut again).await.unwrap();
    assert!(again == expected);
}

/// A remote that never reads: writes stop being accepted once the buffer holds its bound,
/// instead of buffering without limit.
#[tokio::test(start_paused = true)]
async fn a_peer_that_stops_reading_bounds_the_write_buffer() {
    let (a_io, b_io) = duplex(4096);
    let ((mut a, _), (_b, _)) = handshake_pair(a_io, b_io).await;
    let big = vec![1u8; 16 << 20];
    let stalled = tokio::time::timeout(std::time::Duration::from_secs(5), a.write_all(&big)).await;
    assert!(stalled.is_err(), "the write cannot complete");
    assert!(a.wbuf.len() <= WRITE_HIGH_WATER + MAX_FRAME_LEN);
    assert!(a.wbuf.capacity() <= 2 * (WRITE_HIGH_WATER + MAX_FRAME_LEN));
}
