//! The RLPx handshake decoders on arbitrary bytes.
//!
//! The input is used twice: as a raw packet (auth for a recipient, ack for an initiator, in
//! EIP-8 or legacy form: exercises the size prefix and ECIES checks), and as a decrypted body
//! sealed with ECIES to our key in both forms, so the fuzzer reaches the RLP decoding,
//! signature recovery and public key validation behind the MAC.
#![no_main]

use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use peernet_devp2p::{ecies_encrypt, read_ack, read_auth, Handshake, SecretKey, ECIES_OVERHEAD};
use rand::SeedableRng;

fn key() -> &'static SecretKey {
    static KEY: OnceLock<SecretKey> = OnceLock::new();
    KEY.get_or_init(|| {
        let mut k = [0u8; 32];
        k[31] = 7;
        SecretKey::from_slice(&k).unwrap()
    })
}

fuzz_target!(|data: &[u8]| {
    let key = key();
    let mut rng = rand::rngs::StdRng::seed_from_u64(1);
    // Raw packet.
    let _ = read_auth(key, data);
    let _ = read_ack(key, data);
    // The state machine, fed in two pieces.
    let mut hs = Handshake::recipient_with(key.clone(), key.clone(), [5; 32]);
    let cut = data.len() / 2;
    if let Ok(None) = hs.read(&data[..cut], &mut rng) {
        if let Ok(Some(n)) = hs.read(data, &mut rng) {
            assert!(n <= data.len());
            hs.finish().unwrap();
        }
    }
    // Sealed body, EIP-8 form (with the size prefix as shared MAC data) and legacy form.
    if data.len() + ECIES_OVERHEAD <= usize::from(u16::MAX) {
        let prefix = ((data.len() + ECIES_OVERHEAD) as u16).to_be_bytes();
        let mut eip8 = prefix.to_vec();
        eip8.extend(ecies_encrypt(&key.public_key(), data, &prefix, &mut rng));
        if let Ok(Some((_, n))) = read_auth(key, &eip8) {
            assert_eq!(n, eip8.len());
        }
        if let Ok(Some((_, n))) = read_ack(key, &eip8) {
            assert_eq!(n, eip8.len());
        }
    }
    let legacy = ecies_encrypt(&key.public_key(), data, &[], &mut rng);
    let _ = read_auth(key, &legacy);
    let _ = read_ack(key, &legacy);
});
