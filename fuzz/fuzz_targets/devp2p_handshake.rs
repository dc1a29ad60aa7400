//! The RLPx handshake decoders on arbitrary bytes: auth (as recipient) and ack (as initiator),
//! in both EIP-8 and legacy form, plus the ECIES decryption under them.
#![no_main]

use libfuzzer_sys::fuzz_target;
use peernet_devp2p::{ecies_decrypt, read_ack, read_auth, Handshake, NodeId, SecretKey};

fuzz_target!(|data: &[u8]| {
    let mut k = [0u8; 32];
    k[31] = 7;
    let key = SecretKey::from_slice(&k).unwrap();
    let _ = read_auth(&key, data);
    let _ = read_ack(&key, data);
    let _ = ecies_decrypt(&key, data, &[]);
    // The state machine, fed in two pieces.
    let mut rng = rand::thread_rng();
    let mut hs = Handshake::recipient_with(key.clone(), key.clone(), [5; 32]);
    let cut = data.len() / 2;
    if let Ok(None) = hs.read(&data[..cut], &mut rng) {
        if let Ok(Some(n)) = hs.read(data, &mut rng) {
            assert!(n <= data.len());
            let _ = hs.finish();
        }
    }
    let mut other = [0u8; 32];
    other[31] = 9;
    let remote = NodeId::from_secret(&SecretKey::from_slice(&other).unwrap());
    let mut init = Handshake::initiator(key, remote, &mut rng).unwrap();
    if let Ok(Some(n)) = init.read(data, &mut rng) {
        assert!(n <= data.len());
    }
});
