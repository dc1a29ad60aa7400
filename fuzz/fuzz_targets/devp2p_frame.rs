//! The RLPx frame decoder on arbitrary bytes: MAC checks, frame sizes, message codes and snappy
//! decompression, with and without snappy, fed whole and in pieces. Also a round trip: any
//! payload written by a FrameWriter is read back unchanged.
#![no_main]

use libfuzzer_sys::fuzz_target;
use peernet_devp2p::{session, NodeId, Secrets};
use sha3::{Digest, Keccak256};

fn secrets() -> Secrets {
    Secrets {
        remote_id: NodeId([1; 64]),
        aes_secret: [2; 32],
        mac_secret: [3; 32],
        egress_mac: Keccak256::new(),
        ingress_mac: Keccak256::new(),
    }
}

fuzz_target!(|data: &[u8]| {
    let s = secrets();
    for snappy in [false, true] {
        // Raw hostile bytes: almost always a MAC error, never a panic.
        let (_, mut r) = session(&s);
        r.set_snappy(snappy);
        let _ = r.decode(data);
        // Validly framed hostile frame-data: exercises code and snappy parsing.
        let (mut w, mut r) = session(&s);
        r.set_snappy(snappy);
        let mut framed = Vec::new();
        if w.write_frame(data, &mut framed).is_ok() {
            let mut pos = 0;
            while pos < framed.len() {
                match r.decode(&framed[pos..]) {
                    Ok(Some((_, n))) => pos += n,
                    Ok(None) | Err(_) => break,
                }
            }
        }
        // Round trip of the input as a payload.
        let (mut w, mut r) = session(&s);
        w.set_snappy(snappy);
        r.set_snappy(snappy);
        let mut out = Vec::new();
        w.write_msg(0x10, data, &mut out).unwrap();
        let (msg, n) = r.decode(&out).unwrap().unwrap();
        assert_eq!(n, out.len());
        assert_eq!(msg.code, 0x10);
        assert_eq!(msg.payload, data);
    }
});
