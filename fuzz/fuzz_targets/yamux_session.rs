//! A yamux session fed arbitrary bytes interleaved with arbitrary stream operations.
//!
//! The input is a little program: the first byte picks the role, then each op byte is followed
//! by its arguments. Nothing may panic, whatever the peer sends and whatever the application
//! does with its stream ids (including ids it never had).
#![no_main]

use std::time::{Duration, Instant};

use bytes::BytesMut;
use libfuzzer_sys::fuzz_target;
use peernet_core::yamux::{Config, Role, Session};

fuzz_target!(|data: &[u8]| {
    let mut it = data.iter().copied();
    let role = match it.next() {
        Some(b) if b & 1 == 1 => Role::Server,
        _ => Role::Client,
    };
    let config = Config {
        // Small limits so that the fuzzer reaches them.
        max_inbound_streams: 8,
        accept_backlog: 4,
        write_buffer_size: 4096,
        max_frame_size: 1024,
        max_control_backlog: 512,
        zero_copy_threshold: 16,
        ..Config::default()
    };
    let mut session = Session::new(role, config);
    let mut now = Instant::now();
    let mut input = BytesMut::new();
    let mut ids: Vec<u32> = Vec::new();
    let mut out = Vec::new();
    let mut buf = [0u8; 300];
    while let Some(op) = it.next() {
        let arg = it.next().unwrap_or(0);
        let id = ids
            .get(arg as usize % ids.len().max(1))
            .copied()
            .unwrap_or(u32::from(arg));
        match op % 12 {
            // Peer bytes: `arg` bytes of the program become input.
            0..=3 => {
                for _ in 0..arg {
                    match it.next() {
                        Some(b) => input.extend_from_slice(&[b]),
                        None => break,
                    }
                }
                let _ = session.handle_input(now, &mut input);
                while session.poll_event().is_some() {}
            }
            4 => {
                if let Ok(id) = session.open_stream() {
                    ids.push(id);
                }
            }
            5 => {
                if let Some(id) = session.accept() {
                    ids.push(id);
                }
            }
            6 => {
                if arg % 2 == 0 {
                    let _ = session.read(now, id, &mut buf[..arg as usize]);
                } else {
                    let _ = session.read_chunk(now, id, arg as usize);
                }
            }
            7 => {
                let _ = session.write(id, &buf[..arg as usize]);
            }
            8 => {
                let _ = session.close(id);
            }
            9 => {
                let _ = session.reset(id);
            }
            10 => {
                session.drop_stream(id);
                ids.retain(|&x| x != id);
            }
            _ => {
                out.clear();
                session.poll_transmit(&mut out);
                now += Duration::from_millis(u64::from(arg) * 100);
                let _ = session.handle_timeout(now);
            }
        }
    }
    out.clear();
    session.poll_transmit(&mut out);
});
