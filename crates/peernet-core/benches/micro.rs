//! Criterion micro-benchmarks of the sans-IO hot paths: the Noise transport cipher, yamux
//! framing and a stream's data path through two sessions, and multistream-select.
//!
//! ```sh
//! cargo bench -p peernet-core --bench micro             # everything
//! cargo bench -p peernet-core --bench micro -- noise    # one group
//! ```
//!
//! No sockets and no runtime: these are the costs our tokio drivers add to the kernel's.

// `criterion_group!` defines an undocumented function.
#![allow(missing_docs)]

use std::hint::black_box;
use std::time::Instant;

use bytes::BytesMut;
use criterion::{criterion_group, criterion_main, BatchSize, Criterion, Throughput};
use peernet_core::multistream::{Dialer, Listener};
use peernet_core::noise::{message_len, Handshake, Transport, MAX_PLAINTEXT_LEN};
use peernet_core::yamux::{Config, Flags, Header, Role, Session, StreamId};
use peernet_core::Keypair;

/// The largest Noise transport message's plaintext (65535 minus the 16-byte tag).
const NOISE_PLAINTEXT: usize = MAX_PLAINTEXT_LEN;

/// Runs a whole XX handshake in memory and returns both transports.
fn noise_pair() -> (Transport, Transport) {
    let a = Keypair::ed25519_from_seed(1);
    let b = Keypair::ed25519_from_seed(2);
    let mut initiator = Handshake::initiator(&a, None, &[]);
    let mut responder = Handshake::responder(&b, None, &[]);
    let mut wire = Vec::new();
    while !(initiator.is_finished() && responder.is_finished()) {
        deliver(&mut initiator, &mut responder, &mut wire);
        deliver(&mut responder, &mut initiator, &mut wire);
    }
    let (ta, _) = initiator.finish().expect("initiator finishes");
    let (tb, _) = responder.finish().expect("responder finishes");
    (ta, tb)
}

/// Moves `from`'s next handshake message, if it has one, into `to`.
fn deliver(from: &mut Handshake, to: &mut Handshake, wire: &mut Vec<u8>) {
    if from.wants_transmit() {
        wire.clear();
        from.poll_transmit(wire);
        let mut input = &wire[..];
        while !input.is_empty() {
            let n = to.handle_input(input).expect("handshake message");
            input = &input[n..];
        }
    }
}

fn noise(c: &mut Criterion) {
    let mut group = c.benchmark_group("noise");
    group.bench_function("xx_handshake_ed25519", |bench| bench.iter(noise_pair));

    let (mut a, _) = noise_pair();
    let plaintext = vec![0x5a_u8; NOISE_PLAINTEXT];
    group.throughput(Throughput::Bytes(NOISE_PLAINTEXT as u64));
    let mut sealed = Vec::with_capacity(NOISE_PLAINTEXT + 18);
    group.bench_function("seal_64k", |bench| {
        bench.iter(|| {
            sealed.clear();
            sealed.extend_from_slice(&[0, 0]);
            sealed.extend_from_slice(&plaintext);
            a.sender().seal_frame(&mut sealed, 0).expect("seal");
            black_box(sealed.len())
        })
    });
    // Each message opens once and in order (nonces advance), so a fresh pair seals a message
    // per iteration and only the opening is timed.
    let (mut a, mut b) = noise_pair();
    group.bench_function("open_64k", |bench| {
        bench.iter_batched_ref(
            || {
                let mut m = Vec::with_capacity(NOISE_PLAINTEXT + 18);
                m.extend_from_slice(&[0, 0]);
                m.extend_from_slice(&plaintext);
                a.sender().seal_frame(&mut m, 0).expect("seal");
                m
            },
            |m| {
                let len = message_len(m).expect("length prefix");
                let plain = b
                    .receiver()
                    .decrypt_in_place(&mut m[2..2 + len])
                    .expect("open");
                black_box(plain.len())
            },
            BatchSize::SmallInput,
        )
    });
    group.finish();
}

/// Two sessions with one open stream, `a` writing to `b`.
fn yamux_pair(now: Instant) -> (Session, Session, StreamId) {
    let mut a = Session::new(Role::Client, Config::default());
    let mut b = Session::new(Role::Server, Config::default());
    let id = a.open_stream().expect("open");
    a.write(id, b"x").expect("write");
    let mut wire = Vec::new();
    a.poll_transmit(&mut wire);
    b.handle_input(now, &mut BytesMut::from(&wire[..]))
        .expect("input");
    let accepted = b.accept().expect("accepted");
    let mut one = [0u8; 1];
    b.read(now, accepted, &mut one).expect("read");
    (a, b, id)
}

fn yamux(c: &mut Criterion) {
    let mut group = c.benchmark_group("yamux");
    let header = Header::data(7, Flags(0), 65536);
    group.bench_function("header_encode_decode", |bench| {
        bench.iter(|| {
            let bytes = black_box(&header).encode();
            Header::decode(black_box(&bytes)).expect("decode")
        })
    });

    // One stream's data path: write 256 KiB into A, move A's frames into B, read them out
    // of B and hand B's window updates back to A.
    const CHUNK: usize = 256 * 1024;
    let now = Instant::now();
    let (mut a, mut b, id) = yamux_pair(now);
    let data = vec![0xa5_u8; CHUNK];
    let mut wire = Vec::with_capacity(2 * CHUNK);
    let mut input = BytesMut::with_capacity(2 * CHUNK);
    let mut back = Vec::new();
    group.throughput(Throughput::Bytes(CHUNK as u64));
    group.bench_function("stream_256k_through_two_sessions", |bench| {
        bench.iter(|| {
            let mut sent = 0;
            let mut received = 0;
            while received < CHUNK {
                if sent < CHUNK {
                    if let Some(n) = a.write(id, &data[sent..]).expect("write") {
                        sent += n;
                    }
                }
                wire.clear();
                a.poll_transmit(&mut wire);
                input.extend_from_slice(&wire);
                b.handle_input(now, &mut input).expect("input");
                while b.poll_event().is_some() {}
                while let Some(chunk) = b.read_chunk(now, id, CHUNK).expect("read") {
                    if chunk.is_empty() {
                        break;
                    }
                    received += chunk.len();
                }
                back.clear();
                b.poll_transmit(&mut back);
                if !back.is_empty() {
                    a.handle_input(now, &mut BytesMut::from(&back[..]))
                        .expect("window update");
                    while a.poll_event().is_some() {}
                }
            }
            black_box(received)
        })
    });
    group.finish();
}

fn multistream(c: &mut Criterion) {
    let mut group = c.benchmark_group("multistream");
    // A full exchange as a stream opening sees it: header + proposal, header + confirmation.
    group.bench_function("negotiate_one_protocol", |bench| {
        bench.iter(|| {
            let mut dialer = Dialer::new(["/ipfs/ping/1.0.0"]).expect("dialer");
            let mut listener = Listener::new();
            let mut wire = Vec::new();
            dialer.poll_transmit(&mut wire);
            listener
                .handle_input(&wire, &mut |p| p == "/ipfs/ping/1.0.0", &Vec::new)
                .expect("listener input");
            wire.clear();
            listener.poll_transmit(&mut wire);
            dialer.handle_input(&wire).expect("dialer input");
            black_box(dialer.selected().map(str::len))
        })
    });
    group.bench_function("negotiate_third_of_three", |bench| {
        bench.iter(|| {
            let mut dialer =
                Dialer::new(["/noise", "/tls/1.0.0", "/plaintext/2.0.0"]).expect("dialer");
            let mut listener = Listener::new();
            let mut wire = Vec::new();
            while dialer.selected().is_none() || !dialer.is_confirmed() {
                wire.clear();
                dialer.poll_transmit(&mut wire);
                listener
                    .handle_input(&wire, &mut |p| p == "/plaintext/2.0.0", &Vec::new)
                    .expect("listener input");
                wire.clear();
                listener.poll_transmit(&mut wire);
                if wire.is_empty() {
                    break;
                }
                dialer.handle_input(&wire).expect("dialer input");
            }
            black_box(dialer.selected().map(str::len))
        })
    });
    group.finish();
}

criterion_group!(benches, noise, yamux, multistream);
criterion_main!(benches);
