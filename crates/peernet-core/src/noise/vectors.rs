//! Published test vectors for `Noise_XX_25519_ChaChaPoly_SHA256`, checked byte for byte: the
//! three handshake messages, the handshake hash (when given), and the transport messages in
//! alternating directions. Two independent sources: cacophony (haskell-cryptography/cacophony
//! `vectors/cacophony.txt`) and snow (mcginty/snow `tests/vectors/snow.txt`).

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
    handshake_hash: Option<&'static str>,
    /// (payload, ciphertext): messages 0, 2, 4 go from initiator to responder, 1, 3, 5 back.
    messages: &'static [(&'static str, &'static str)],
}

const CACOPHONY_XX: Vector = Vector {
    prologue: "4a6f686e2047616c74",
    init_static: "e61ef9919cde45dd5f82166404bd08e38bceb5dfdfded0a34c8df7ed542214d1",
    init_ephemeral: "893e28b9dc6ca8d611ab664754b8ceb7bac5117349a4439a6b0569da977c464a",
    resp_static: "4a3acbfdb163dec651dfa3194dece676d437029c62a408b4c5ea9114246e4893",
    resp_ephemeral: "bbdb4cdbd309f1a1f2e1456967fe288cadd6f712d65dc7b7793d5e63da6b375b",
    handshake_hash: Some("c8e5f64e846193be2a834104c2a009868d6c9f3bd3c186299888b488b2f1f58e"),
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

const SNOW_XX: Vector = Vector {
    prologue: "5468657265206973206e6f20726967687420616e642077726f6e672e2054686572652773206f6e6c792066756e20616e6420626f72696e672e",
    init_static: "7dec208517a3b81a2861d7a71266d5d6dc944c5a8816634a86fe63198a0148ee",
    init_ephemeral: "a32daf21e93c0131495ce1d903181fde81cc46937daaeb990bae7c992709421e",
    resp_static: "4d0aed5098e3b4ef20357e9f686ce66204c792b358da2e475017d6c485304881",
    resp_ephemeral: "4eece0f195d026db035ff987597c429d3ad3bcc2944df37d649528951b2a27c5",
    handshake_hash: None,
    messages: &[
        (
            "d03c489139e645d0711a3c9e810d776b46a84912463fafa87b884eebf242dc34",
            "f9fa868ba97ab8a2686deccfaad5a484ee10a5bb85e3d1dce015a84797f92818d03c489139e645d0711a3c9e810d776b46a84912463fafa87b884eebf242dc34",
        ),
        (
            "d8190a92f7dc0c93dbea9118ba8055751fb7c6590c416ffbd419964132b99a85",
            "8c4e6fdb7d09d501a86f7eca5c234522751706ed409182c05cdf5f827d4dae47b81c6c5f43b025692c24391eefee725c17d8cb0fbe3e4abb8aedf42c4fd2592d4ea48ac08989d6ae8b4adae08b2c34087c808c7aa55a63c02b0fab9e930612336bd43eaea04d3c670a0a146691aa9cc9d357872320dc735dbc48580cffb553db",
        ),
        (
            "77891b19dcb92ef7c055b672c4a5aa7fdf1c84146b8b303459022729473ce254",
            "933ca6b5ed60df3df66121f0ab49a09e49efa45c613a86a3cecbf4c535cef2f83f72b42837b18e3572f2fdc2b74c331e2368a545cef54bdca081678ab0e9dd5348122459e0c034c851984d88ce610963d43cde6cfe73a67fbd5a63e8bfca96d0",
        ),
        (
            "d7efdf988072881941db045a42882433817555128fbf5663e56081712ec7d212",
            "54ef0ff0629e1aaa7685a2806ab111cba76b52331f2642276736f415868eacb69ab2577f3bda0cbf72f879685f6ed25f",
        ),
        (
            "dd7bf01a588bafb52c6cfba952e5d8fe35cc2b3f92b4730ae2474615157345ce",
            "356be70f110306d5c699bb834bb9d58d909e325924dfbec972e406e6f294dc63e1daebefe8a62a334facc8048ab4ad66",
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

    assert_eq!(init.handshake_hash, resp.handshake_hash);
    if let Some(expected) = v.handshake_hash {
        assert_eq!(hex::encode(init.handshake_hash), expected);
    }

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
fn snow_xx_25519_chachapoly_sha256() {
    run(&SNOW_XX);
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
