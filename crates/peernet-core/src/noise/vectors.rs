//! The cacophony test vector for `Noise_XX_25519_ChaChaPoly_SHA256`
//! (haskell-cryptography/cacophony `vectors/cacophony.txt`), checked byte for byte: the three
//! handshake messages, the handshake hash, and three transport messages in alternating
//! directions.

use super::symmetric::TAG_LEN;
use super::transport::{Transport, LENGTH_PREFIX_LEN};
use super::xx::{DhKeypair, InitiatorStart, ResponderStart};
use super::NoiseError;

struct Vector {
    prologue: &'static str,
    init_static: &'static str,
    init_ephemeral: &'static str,
    resp_static: &'static str,
    resp_ephemeral: &'static str,
    handshake_hash: &'static str,
    /// (payload, ciphertext): messages 0, 2, 4 go from initiator to responder, 1, 3, 5 back.
    messages: &'static [(&'static str, &'static str)],
}

const CACOPHONY_XX: Vector = Vector {
    prologue: "4a6f686e2047616c74",
    init_static: "e61ef9919cde45dd5f82166404bd08e38bceb5dfdfded0a34c8df7ed542214d1",
    init_ephemeral: "893e28b9dc6ca8d611ab664754b8ceb7bac5117349a4439a6b0569da977c464a",
    resp_static: "4a3acbfdb163dec651dfa3194dece676d437029c62a408b4c5ea9114246e4893",
    resp_ephemeral: "bbdb4cdbd309f1a1f2e1456967fe288cadd6f712d65dc7b7793d5e63da6b375b",
    handshake_hash: "c8e5f64e846193be2a834104c2a009868d6c9f3bd3c186299888b488b2f1f58e",
    messages: &[
        (
            "4c756477696720766f6e204d69736573",
            "ca35def5ae56cec33dc2036731ab14896bc4c75dbb07a61f879f8e3afa4c79444c756477696720766f6e204d69736573",
        ),
        (
            "4d757272617920526f746862617264",
            "95ebc60d2b1fa672c1f46a8aa265ef51bfe38e7ccb39ec5be34069f14480884381cbad1f276e038c48378ffce2b65285e08d6b68aaa3629a5a8639392490e5b9bd5269c2f1e4f488ed8831161f19b7815528f8982ffe09be9b5c412f8a0db50f8814c7194e83f23dbd8d162c9326ad",
        ),
        (
            "462e20412e20486179656b",
            "c7195ffacac1307ff99046f219750fc47693e23c3cb08b89c2af808b444850a80ae475b9df0f169ae80a89be0865b57f58c9fea0d4ec82a286427402f113e4b6ae769a1d95941d49b25030",
        ),
        (
            "4361726c204d656e676572",
            "96763ed773f8e47bb3712f0e29b3060ffc956ffc146cee53d5e1df",
        ),
        (
            "4a65616e2d426170746973746520536179",
            "3e40f15f6f3a46ae446b253bf8b1d9ffb6ed9b174d272328ff91a7e2e5c79c07f5",
        ),
        (
            "457567656e2042f6686d20766f6e2042617765726b",
            "eb3f3515110702e047a6c9da4478b6ead94873c11c0f2d710ddb3f09fce024b3a58502ae3f",
        ),
    ],
};

fn key(hex_str: &str) -> DhKeypair {
    let bytes: [u8; 32] = hex::decode(hex_str).unwrap().try_into().unwrap();
    DhKeypair::from_secret(bytes)
}

fn h(hex_str: &str) -> Vec<u8> {
    hex::decode(hex_str).unwrap()
}

/// Runs the vector; both sides write and read every message and compare with the expected bytes.
fn run(v: &Vector) {
    let prologue = h(v.prologue);
    let init = InitiatorStart::new(&prologue, key(v.init_static), key(v.init_ephemeral));
    let resp = ResponderStart::new(&prologue, key(v.resp_static), key(v.resp_ephemeral));
    let msg = |i: usize| (h(v.messages[i].0), h(v.messages[i].1));

    // -> e
    let (payload, expected) = msg(0);
    let mut wire = Vec::new();
    let init = init.write_message1(&payload, &mut wire).unwrap();
    assert_eq!(hex::encode(&wire), hex::encode(&expected), "message 1");
    let mut got = Vec::new();
    let resp = resp.read_message1(&wire, &mut got).unwrap();
    assert_eq!(got, payload);

    // <- e, ee, s, es
    let (payload, expected) = msg(1);
    let mut wire = Vec::new();
    let resp = resp.write_message2(&payload, &mut wire).unwrap();
    assert_eq!(hex::encode(&wire), hex::encode(&expected), "message 2");
    let mut got = Vec::new();
    let init = init.read_message2(&wire, &mut got).unwrap();
    assert_eq!(got, payload);
    assert_eq!(init.remote_static(), key(v.resp_static).public());

    // -> s, se
    let (payload, expected) = msg(2);
    let mut wire = Vec::new();
    let init = init.write_message3(&payload, &mut wire).unwrap();
    assert_eq!(hex::encode(&wire), hex::encode(&expected), "message 3");
    let mut got = Vec::new();
    let resp = resp.read_message3(&wire, &mut got).unwrap();
    assert_eq!(got, payload);
    assert_eq!(&resp.remote_static, key(v.init_static).public());

    assert_eq!(hex::encode(init.handshake_hash), v.handshake_hash);
    assert_eq!(hex::encode(resp.handshake_hash), v.handshake_hash);

    let mut init = Transport::new(init.send, init.recv, init.handshake_hash);
    let mut resp = Transport::new(resp.send, resp.recv, resp.handshake_hash);
    for (i, (payload, ciphertext)) in v.messages.iter().enumerate().skip(3) {
        let (payload, ciphertext) = (h(payload), h(ciphertext));
        let (from, to) = if i % 2 == 1 {
            (&mut resp, &mut init)
        } else {
            (&mut init, &mut resp)
        };
        let mut frame = Vec::new();
        from.encrypt(&payload, &mut frame).unwrap();
        let len = u16::from_be_bytes([frame[0], frame[1]]) as usize;
        assert_eq!(len, payload.len() + TAG_LEN);
        assert_eq!(
            hex::encode(&frame[LENGTH_PREFIX_LEN..]),
            hex::encode(&ciphertext),
            "transport message {i}"
        );
        let mut plain = Vec::new();
        to.decrypt(&ciphertext, &mut plain).unwrap();
        assert_eq!(plain, payload);
    }
}

#[test]
fn cacophony_xx_25519_chachapoly_sha256() {
    run(&CACOPHONY_XX);
}

#[test]
fn tampered_message2_is_refused() {
    let v = &CACOPHONY_XX;
    let prologue = h(v.prologue);
    let init = InitiatorStart::new(&prologue, key(v.init_static), key(v.init_ephemeral));
    let resp = ResponderStart::new(&prologue, key(v.resp_static), key(v.resp_ephemeral));
    let mut wire = Vec::new();
    let init = init.write_message1(&[], &mut wire).unwrap();
    let resp = resp.read_message1(&wire, &mut Vec::new()).unwrap();
    let mut wire = Vec::new();
    resp.write_message2(b"payload", &mut wire).unwrap();
    for i in [0, 40, wire.len() - 1] {
        let mut bad = wire.clone();
        bad[i] ^= 1;
        let init2 = InitiatorStart::new(&prologue, key(v.init_static), key(v.init_ephemeral));
        let init2 = init2.write_message1(&[], &mut Vec::new()).unwrap();
        assert_eq!(
            init2.read_message2(&bad, &mut Vec::new()).err(),
            Some(NoiseError::Decrypt),
            "flipped byte {i}"
        );
    }
    let short = &wire[..wire.len() - 20];
    assert!(matches!(
        init.read_message2(&short[..70], &mut Vec::new()),
        Err(NoiseError::MessageTooShort { message: 2, .. })
    ));
}

#[test]
fn a_different_prologue_fails_the_handshake() {
    let v = &CACOPHONY_XX;
    let init = InitiatorStart::new(b"one", key(v.init_static), key(v.init_ephemeral));
    let resp = ResponderStart::new(b"two", key(v.resp_static), key(v.resp_ephemeral));
    let mut wire = Vec::new();
    let init = init.write_message1(&[], &mut wire).unwrap();
    let resp = resp.read_message1(&wire, &mut Vec::new()).unwrap();
    let mut wire = Vec::new();
    resp.write_message2(&[], &mut wire).unwrap();
    assert_eq!(
        init.read_message2(&wire, &mut Vec::new()).err(),
        Some(NoiseError::Decrypt)
    );
}

#[test]
fn low_order_ephemeral_is_refused() {
    let v = &CACOPHONY_XX;
    let resp = ResponderStart::new(&[], key(v.resp_static), key(v.resp_ephemeral));
    // The all-zero point has order 1: every DH with it is zero.
    let resp = resp.read_message1(&[0u8; 32], &mut Vec::new()).unwrap();
    assert_eq!(
        resp.write_message2(&[], &mut Vec::new()).err(),
        Some(NoiseError::LowOrderKey)
    );
}
