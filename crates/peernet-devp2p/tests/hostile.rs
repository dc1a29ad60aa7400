//! Bad input: malformed auth/ack, bad signatures, invalid curve points, MAC mismatches,
//! oversized or truncated frames, hostile snappy, unknown codes, a peer that never sends Hello.

mod common;

use common::*;
use peernet_devp2p::*;
use sha3::Keccak256;

fn eip8_packet(to: &SecretKey, body: &[u8]) -> Vec<u8> {
    let size = (body.len() + ECIES_OVERHEAD) as u16;
    let mut out = size.to_be_bytes().to_vec();
    out.extend(ecies_encrypt(
        &to.public_key(),
        body,
        &size.to_be_bytes(),
        &mut rand::thread_rng(),
    ));
    out
}

fn auth_body(sig: &[u8], pubkey: &[u8], nonce: &[u8]) -> Vec<u8> {
    let mut p = Vec::new();
    rlp::encode_bytes(sig, &mut p);
    rlp::encode_bytes(pubkey, &mut p);
    rlp::encode_bytes(nonce, &mut p);
    rlp::encode_u64(4, &mut p);
    let mut out = Vec::new();
    rlp::encode_list(&p, &mut out);
    out.extend_from_slice(&[0u8; 120]);
    out
}

fn recipient() -> (SecretKey, Handshake) {
    let k = key(2);
    (k.clone(), Handshake::recipient(k, &mut rand::thread_rng()))
}

#[test]
fn garbage_auth_is_a_mac_error_not_a_panic() {
    let (_, mut hs) = recipient();
    // A size prefix of 256 and 600 bytes: both forms can be tried, both fail.
    let mut junk = vec![0x01, 0x00];
    junk.extend(vec![0x5a; 598]);
    let err = hs.read(&junk, &mut rand::thread_rng()).unwrap_err();
    assert!(matches!(err, HandshakeError::Ecies(_)), "{err:?}");
    // A prefix promising 0x5a5a bytes: legacy fails, EIP-8 waits for the rest (bounded by
    // 65537 bytes and the handshake timeout).
    let (_, mut hs) = recipient();
    assert_eq!(
        hs.read(&[0x5a; 600], &mut rand::thread_rng()).unwrap(),
        None
    );
}

#[test]
fn auth_for_someone_else_fails_authentication() {
    let (_, mut hs) = recipient();
    let mut a = Handshake::initiator(key(1), id(&key(3)), &mut rand::thread_rng()).unwrap();
    let auth = a.take_outgoing();
    let err = hs.read(&auth, &mut rand::thread_rng()).unwrap_err();
    assert_eq!(err, HandshakeError::Ecies(EciesError::MacMismatch));
}

#[test]
fn invalid_ecies_point_is_refused() {
    let (k, mut hs) = recipient();
    let mut p = eip8_packet(&k, &auth_body(&[1; 65], id(&key(1)).as_bytes(), &[0; 32]));
    // Corrupt R's y coordinate: no longer on the curve.
    p[2 + 64] ^= 0x01;
    let err = hs.read(&p, &mut rand::thread_rng()).unwrap_err();
    // Both decodings were tried; each finds the bad point or a bad tag.
    assert!(
        matches!(
            err,
            HandshakeError::Ecies(EciesError::InvalidPublicKey | EciesError::MacMismatch)
        ),
        "{err:?}"
    );
    // Directly: an ECIES message with an off-curve R.
    let mut c = ecies_encrypt(&k.public_key(), b"x", &[], &mut rand::thread_rng());
    c[64] ^= 1;
    assert_eq!(
        ecies_decrypt(&k, &c, &[]),
        Err(EciesError::InvalidPublicKey)
    );
}

#[test]
fn invalid_initiator_key_in_auth_is_refused() {
    let (k, mut hs) = recipient();
    let mut bad = *id(&key(1)).as_bytes();
    bad[63] ^= 1; // y no longer matches x
    let p = eip8_packet(&k, &auth_body(&[1; 65], &bad, &[0; 32]));
    assert_eq!(
        hs.read(&p, &mut rand::thread_rng()).unwrap_err(),
        HandshakeError::InvalidPublicKey
    );
    let (k, mut hs) = recipient();
    let p = eip8_packet(&k, &auth_body(&[1; 65], &[4; 33], &[0; 32]));
    assert_eq!(
        hs.read(&p, &mut rand::thread_rng()).unwrap_err(),
        HandshakeError::InvalidPublicKey
    );
}

#[test]
fn bad_signature_is_refused() {
    let (k, mut hs) = recipient();
    // r = s = 0 cannot be a signature; v = 7 is no recovery id.
    for sig in [[0u8; 65], {
        let mut s = [1u8; 65];
        s[64] = 7;
        s
    }] {
        let (_, mut hs2) = recipient();
        let p = eip8_packet(&k, &auth_body(&sig, id(&key(1)).as_bytes(), &[0; 32]));
        assert_eq!(
            hs2.read(&p, &mut rand::thread_rng()).unwrap_err(),
            HandshakeError::BadSignature
        );
    }
    // A well-formed signature over the wrong message recovers some other key: the handshake
    // "succeeds" with a wrong ephemeral key, so the session MACs cannot match afterwards.
    let mut rng = rand::thread_rng();
    let (ka, eph, nonce) = (key(1), key(9), [5u8; 32]);
    let (sig, recid) = k256::ecdsa::SigningKey::from(&eph)
        .sign_prehash_recoverable(&[0x22; 32])
        .unwrap();
    let mut sig65 = [0u8; 65];
    sig65[..64].copy_from_slice(&sig.to_bytes());
    sig65[64] = recid.to_byte();
    let p = eip8_packet(&k, &auth_body(&sig65, id(&ka).as_bytes(), &nonce));
    assert_eq!(hs.read(&p, &mut rng).unwrap(), Some(p.len()));
    // The initiator that really holds `eph` reads the ack. It "sent" the same auth bytes, so the
    // two sides differ only in the ephemeral key the recipient recovered.
    let mut a =
        Handshake::initiator_with(ka, id(&k), eph, nonce, HandshakeForm::Eip8, &mut rng).unwrap();
    a.set_sent_auth_for_test_vectors(p);
    let ack = hs.take_outgoing();
    assert_eq!(a.read(&ack, &mut rng).unwrap(), Some(ack.len()));
    let (sa, sb) = (a.finish().unwrap(), hs.finish().unwrap());
    assert_ne!(sa.aes_secret, sb.aes_secret);
    let (mut w, _) = session(&sa);
    let (_, mut r) = session(&sb);
    let mut f = Vec::new();
    w.write_msg(HELLO_MSG, &[0xc0], &mut f).unwrap();
    // The first frame is refused at its header MAC, before anything is decrypted or decoded.
    assert_eq!(r.decode(&f).unwrap_err(), FrameError::HeaderMacMismatch);
}

#[test]
fn malformed_auth_and_ack_bodies() {
    let (k, mut hs) = recipient();
    // Not a list.
    let p = eip8_packet(&k, &[0x83, 1, 2, 3]);
    assert!(matches!(
        hs.read(&p, &mut rand::thread_rng()).unwrap_err(),
        HandshakeError::Rlp(_)
    ));
    // Missing elements.
    let (_, mut hs) = recipient();
    let p = eip8_packet(&k, &[0xc0]);
    assert_eq!(
        hs.read(&p, &mut rand::thread_rng()).unwrap_err(),
        HandshakeError::Rlp(rlp::RlpError::MissingElement)
    );
    // Wrong signature length.
    let (_, mut hs) = recipient();
    let p = eip8_packet(&k, &auth_body(&[1; 64], id(&key(1)).as_bytes(), &[0; 32]));
    assert!(matches!(
        hs.read(&p, &mut rand::thread_rng()).unwrap_err(),
        HandshakeError::Rlp(rlp::RlpError::WrongLength { .. })
    ));
    // Ack: an initiator receiving an ack with an off-curve ephemeral key.
    let ka = key(1);
    let mut a = Handshake::initiator(ka.clone(), id(&k), &mut rand::thread_rng()).unwrap();
    let mut body = Vec::new();
    let mut p = Vec::new();
    rlp::encode_bytes(&[9u8; 64], &mut p);
    rlp::encode_bytes(&[0u8; 32], &mut p);
    rlp::encode_u64(4, &mut p);
    rlp::encode_list(&p, &mut body);
    let ack = eip8_packet(&ka, &body);
    assert_eq!(
        a.read(&ack, &mut rand::thread_rng()).unwrap_err(),
        HandshakeError::InvalidPublicKey
    );
    // A size prefix claiming 65535 bytes: waits (bounded), then fails once everything is in.
    let mut b = Handshake::recipient(key(2), &mut rand::thread_rng());
    let mut big = vec![0xff, 0xff];
    big.extend(vec![0u8; 400]);
    assert_eq!(b.read(&big, &mut rand::thread_rng()).unwrap(), None);
    big.resize(65537, 0);
    assert!(b.read(&big, &mut rand::thread_rng()).is_err());
}

fn pair() -> ((FrameWriter, FrameReader), (FrameWriter, FrameReader)) {
    let s = Secrets {
        remote_id: NodeId([1; 64]),
        aes_secret: [3; 32],
        mac_secret: [4; 32],
        egress_mac: Keccak256::default(),
        ingress_mac: Keccak256::default(),
    };
    (session(&s), session(&s))
}

#[test]
fn frame_mac_mismatches() {
    let ((mut w, _), (_, mut r)) = pair();
    let mut f = Vec::new();
    w.write_msg(16, b"\x82hi", &mut f).unwrap();
    for (i, want) in [
        (3, FrameError::HeaderMacMismatch),
        (20, FrameError::HeaderMacMismatch),
        (40, FrameError::FrameMacMismatch),
        (f.len() - 1, FrameError::FrameMacMismatch),
    ] {
        let ((_, _), (_, mut r2)) = pair();
        let mut bad = f.clone();
        bad[i] ^= 0x80;
        assert_eq!(r2.decode(&bad).unwrap_err(), want, "byte {i}");
    }
    assert_eq!(r.decode(&f).unwrap().unwrap().0.payload, b"\x82hi");
}

#[test]
fn truncated_frames_wait_and_consume_nothing() {
    let ((mut w, _), (_, mut r)) = pair();
    let mut f = Vec::new();
    w.write_msg(16, &[0xaa; 100], &mut f).unwrap();
    w.write_msg(17, &[0xbb; 10], &mut f).unwrap();
    for cut in [0, 1, 31, 32, 33, 100, 159] {
        assert_eq!(r.decode(&f[..cut]).unwrap(), None, "cut {cut}");
    }
    let (m, n) = r.decode(&f).unwrap().unwrap();
    assert_eq!((m.code, n), (16, 160));
    let (m, _) = r.decode(&f[n..]).unwrap().unwrap();
    assert_eq!(m.code, 17);
}

#[test]
fn oversized_messages() {
    let ((mut w, _), _) = pair();
    let mut out = Vec::new();
    let huge = vec![0u8; MAX_MESSAGE_SIZE + 1];
    assert!(matches!(
        w.write_msg(16, &huge, &mut out),
        Err(FrameError::TooLargeToSend { .. })
    ));
    // The 24-bit frame-size field limits frames to 16 MiB - 1.
    let bigger = vec![0u8; MAX_FRAME_SIZE + 1];
    assert!(matches!(
        w.write_frame(&bigger, &mut out),
        Err(FrameError::TooLargeToSend { .. })
    ));
}

#[test]
fn hostile_snappy() {
    // Declared size 1 GiB in 6 bytes: refused before any allocation.
    let bomb = [0x80, 0x80, 0x80, 0x80, 0x04, 0x00];
    assert_eq!(
        decompress(&bomb),
        Err(FrameError::MessageTooLarge { size: 1 << 30 })
    );
    // Exactly over the limit.
    let mut over = Vec::new();
    let mut n = MAX_MESSAGE_SIZE + 1;
    while n >= 0x80 {
        over.push((n as u8) | 0x80);
        n >>= 7;
    }
    over.push(n as u8);
    assert!(matches!(
        decompress(&over),
        Err(FrameError::MessageTooLarge { .. })
    ));
    // Corrupt data and a lying length.
    assert!(matches!(
        decompress(&[0x05, 0xff, 0xff]),
        Err(FrameError::Snappy(_))
    ));
    assert!(matches!(
        decompress(&[0x0a, 0x08, b'a', b'b', b'c']),
        Err(FrameError::Snappy(_))
    ));
    // Through a frame: a snappy reader refuses the bomb.
    let ((mut w, _), (_, mut r)) = pair();
    r.set_snappy(true);
    let mut f = Vec::new();
    w.write_frame(&[&[0x10u8][..], &bomb].concat(), &mut f)
        .unwrap();
    assert!(matches!(
        r.decode(&f),
        Err(FrameError::MessageTooLarge { .. })
    ));
    // A frame without a message code.
    let ((mut w, _), (_, mut r)) = pair();
    let mut f = Vec::new();
    w.write_frame(&[], &mut f).unwrap();
    assert!(matches!(r.decode(&f), Err(FrameError::BadMessageCode(_))));
}

// ---- through the driver ----

#[tokio::test(start_paused = true)]
async fn garbage_instead_of_auth() {
    let server = Server::new(Config::new(key(2)));
    let (mut x, y) = tokio::io::duplex(1 << 16);
    let s = server.clone();
    let task = tokio::spawn(async move { s.add_conn(y, None, None).await });
    use tokio::io::AsyncWriteExt;
    x.write_all(&[0x01, 0x00]).await.unwrap();
    x.write_all(&[0x42; 1000]).await.unwrap();
    assert!(matches!(task.await.unwrap(), Err(SetupError::Handshake(_))));
}

#[tokio::test(start_paused = true)]
async fn silent_connection_times_out_in_the_handshake() {
    let server = Server::new(Config::new(key(2)));
    let (_x, y) = tokio::io::duplex(1 << 16);
    let start = tokio::time::Instant::now();
    let err = server.add_conn(y, None, None).await.unwrap_err();
    assert!(matches!(err, SetupError::Timeout));
    assert_eq!(start.elapsed().as_secs(), 5);
}

#[tokio::test(start_paused = true)]
async fn peer_that_never_sends_hello() {
    let server = Server::new(Config::new(key(2)));
    let (mut raw, task) = RawPeer::connect(&server, key(1)).await;
    let start = tokio::time::Instant::now();
    assert_eq!(raw.recv().await.unwrap().code, HELLO_MSG);
    // We never answer: after the handshake timeout the server gives up with a reason.
    assert_eq!(raw.expect_disconnect().await, DiscReason::ReadTimeout);
    assert_eq!(start.elapsed().as_secs(), 5);
    assert!(matches!(task.await.unwrap(), Err(SetupError::Timeout)));
}

#[tokio::test(start_paused = true)]
async fn first_message_must_be_hello() {
    let server = Server::new(Config::new(key(2)));
    let (mut raw, task) = RawPeer::connect(&server, key(1)).await;
    raw.send(PING_MSG, &[0xc0]).await;
    assert_eq!(raw.recv().await.unwrap().code, HELLO_MSG);
    assert_eq!(raw.expect_disconnect().await, DiscReason::ProtocolError);
    assert!(matches!(
        task.await.unwrap(),
        Err(SetupError::UnexpectedMessage(2))
    ));
}

#[tokio::test(start_paused = true)]
async fn malformed_hello() {
    let server = Server::new(Config::new(key(2)));
    let (mut raw, task) = RawPeer::connect(&server, key(1)).await;
    raw.send(HELLO_MSG, &[0xc3, 0x05, 0xc0, 0x01]).await;
    assert_eq!(raw.recv().await.unwrap().code, HELLO_MSG);
    assert_eq!(raw.expect_disconnect().await, DiscReason::ProtocolError);
    assert!(matches!(task.await.unwrap(), Err(SetupError::Message(_))));
}

#[tokio::test(start_paused = true)]
async fn remote_disconnect_during_setup() {
    let server = Server::new(Config::new(key(2)));
    let (mut raw, task) = RawPeer::connect(&server, key(1)).await;
    raw.send(DISC_MSG, &encode_disconnect(DiscReason::TooManyPeers))
        .await;
    assert!(matches!(
        task.await.unwrap(),
        Err(SetupError::Disconnected(DiscReason::TooManyPeers))
    ));
}

async fn connected(server: &Server) -> (RawPeer, Peer) {
    let (mut raw, task) = RawPeer::connect(server, key(1)).await;
    raw.exchange_hello(&[("eth", 68)]).await;
    (raw, task.await.unwrap().unwrap())
}

fn eth_server() -> Server {
    Server::new(Config::new(key(2)).protocol(echo_protocol("eth", 68)))
}

#[tokio::test(start_paused = true)]
async fn mac_mismatch_after_hello_is_a_protocol_breach() {
    let server = eth_server();
    let (mut raw, peer) = connected(&server).await;
    let mut f = Vec::new();
    raw.w.write_msg(16, &[0xc0], &mut f).unwrap();
    f[40] ^= 1;
    raw.send_raw(&f).await;
    assert_eq!(raw.expect_disconnect().await, DiscReason::ProtocolError);
    let exit = peer.wait().await;
    assert_eq!(exit.reason, DiscReason::ProtocolError);
    assert!(exit.detail.contains("MAC"), "{}", exit.detail);
}

#[tokio::test(start_paused = true)]
async fn snappy_bomb_after_hello() {
    let server = eth_server();
    let (mut raw, peer) = connected(&server).await;
    let mut f = Vec::new();
    raw.w
        .write_frame(&[0x10, 0x80, 0x80, 0x80, 0x80, 0x04, 0x00], &mut f)
        .unwrap();
    raw.send_raw(&f).await;
    assert_eq!(raw.expect_disconnect().await, DiscReason::ProtocolError);
    assert!(peer.wait().await.detail.contains("exceeds"));
}

#[tokio::test(start_paused = true)]
async fn truncated_frame_then_close() {
    let server = eth_server();
    let (mut raw, peer) = connected(&server).await;
    let mut f = Vec::new();
    raw.w.write_msg(16, &[0xc0], &mut f).unwrap();
    raw.send_raw(&f[..f.len() - 5]).await;
    drop(raw);
    assert_eq!(peer.wait().await.reason, DiscReason::NetworkError);
}

#[tokio::test(start_paused = true)]
async fn unknown_codes() {
    let server = eth_server();
    let (mut raw, peer) = connected(&server).await;
    // Unknown base-protocol codes (4..15) are ignored, as go-ethereum does.
    raw.send(5, &[0xc0]).await;
    raw.send(15, b"junk").await;
    raw.send(16, b"\x82ok").await;
    let m = raw.recv().await.unwrap();
    assert_eq!((m.code, m.payload.as_slice()), (17, &b"\x82ok"[..]));
    assert!(peer.exit().is_none());
    // A code past every protocol is a breach.
    raw.send(1_000_000, &[0xc0]).await;
    assert_eq!(raw.expect_disconnect().await, DiscReason::ProtocolError);
}

#[tokio::test(start_paused = true)]
async fn initiator_refuses_a_bad_ack() {
    // We dial; the "remote" answers garbage.
    let server = Server::new(Config::new(key(2)));
    let (mut x, y) = tokio::io::duplex(1 << 16);
    let s = server.clone();
    let task = tokio::spawn(async move { s.add_conn(y, Some(id(&key(1))), None).await });
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut buf = vec![0u8; 1024];
    let _ = x.read(&mut buf).await.unwrap();
    x.write_all(&[0x01; 500]).await.unwrap();
    assert!(matches!(task.await.unwrap(), Err(SetupError::Handshake(_))));
}

#[tokio::test(start_paused = true)]
async fn server_dials_a_raw_recipient_in_legacy_and_eip8_form() {
    // The server as initiator against our hand-driven recipient (which answers in the auth's
    // form, EIP-8 here).
    let server = eth_server();
    let (mut raw, task) = RawPeer::accept(&server, key(1)).await;
    let theirs = raw.exchange_hello(&[("eth", 68)]).await;
    assert_eq!(theirs.caps, vec![Cap::new("eth", 68)]);
    let peer = task.await.unwrap().unwrap();
    assert!(!peer.is_inbound());
    raw.send(16, b"\x82hi").await;
    assert_eq!(raw.recv().await.unwrap().code, 17);
}

#[tokio::test(start_paused = true)]
async fn legacy_auth_gets_a_legacy_ack_and_a_working_session() {
    let server = eth_server();
    let (mut raw, task) = RawPeer::connect_with_form(&server, key(1), HandshakeForm::Legacy).await;
    raw.exchange_hello(&[("eth", 68)]).await;
    let peer = task.await.unwrap().unwrap();
    raw.send(16, b"\x82hi").await;
    let m = raw.recv().await.unwrap();
    assert_eq!((m.code, m.payload.as_slice()), (17, &b"\x82hi"[..]));
    assert!(peer.exit().is_none());
}

#[tokio::test]
async fn pending_handshake_limit_over_tcp() {
    let mut cfg = Config::new(key(2));
    cfg.max_pending_handshakes = 1;
    let server = Server::listen(cfg, "127.0.0.1:0".parse().unwrap())
        .await
        .unwrap();
    let enode = server.local_enode().unwrap();
    // A connection that never sends its auth holds the only handshake slot...
    let staller = tokio::net::TcpStream::connect(enode.addr).await.unwrap();
    let dialer = Server::new(Config::new(key(1)));
    // ...(wait until the server has accepted it: its handshake slot is then taken)...
    let mut refused = false;
    for _ in 0..200 {
        match dialer.dial(&enode).await {
            Err(SetupError::Io(_)) => {
                refused = true;
                break;
            }
            Ok(p) => {
                // Accepted before the staller: disconnect and try again.
                p.disconnect(DiscReason::Requested);
                p.wait().await;
            }
            // The previous connection may not be gone on the server's side yet.
            Err(SetupError::Disconnected(DiscReason::AlreadyConnected)) => {}
            Err(e) => panic!("unexpected {e}"),
        }
        tokio::task::yield_now().await;
    }
    assert!(refused, "a second handshake was closed at once");
    // Once the staller goes away, its slot is free again.
    drop(staller);
    let mut ok = false;
    for _ in 0..200 {
        if dialer.dial(&enode).await.is_ok() {
            ok = true;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    assert!(ok);
}

#[tokio::test(start_paused = true)]
async fn oversized_hello() {
    let server = Server::new(Config::new(key(2)));
    let (mut raw, task) = RawPeer::connect(&server, key(1)).await;
    let mut h = raw.hello(&[]);
    h.client_id = "x".repeat(3000);
    raw.send(HELLO_MSG, &h.encode()).await;
    assert_eq!(raw.recv().await.unwrap().code, HELLO_MSG);
    assert_eq!(raw.expect_disconnect().await, DiscReason::ProtocolError);
    assert!(matches!(
        task.await.unwrap(),
        Err(SetupError::Message(MessageError::HelloTooLarge(_)))
    ));
}
