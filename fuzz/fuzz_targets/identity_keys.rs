//! Public and private key protobuf decoding, raw key data per type, and peer ids from binary
//! multihashes and from text, on arbitrary bytes. Whatever decodes must re-encode to something
//! that decodes to the same value.
#![no_main]

use libfuzzer_sys::fuzz_target;
use peernet_core::{KeyType, Keypair, PeerId, PublicKey};

fuzz_target!(|data: &[u8]| {
    if let Ok(key) = PublicKey::from_protobuf_encoding(data) {
        let encoded = key.to_protobuf_encoding();
        let again = PublicKey::from_protobuf_encoding(&encoded).expect("re-encoded key decodes");
        assert_eq!(again, key);
        let peer_id = key.to_peer_id();
        assert!(peer_id.is_public_key(&key));
        if encoded.len() <= 42 {
            assert_eq!(peer_id.to_public_key(), Some(key));
        }
    }
    for key_type in [
        KeyType::Rsa,
        KeyType::Ed25519,
        KeyType::Secp256k1,
        KeyType::Ecdsa,
    ] {
        if let Ok(key) = PublicKey::from_encoded_key(key_type, data) {
            assert_eq!(
                key.encoded_key(),
                data,
                "only canonical encodings are accepted"
            );
        }
    }
    if let Ok(keypair) = Keypair::from_protobuf_encoding(data) {
        let again = Keypair::from_protobuf_encoding(&keypair.to_protobuf_encoding())
            .expect("re-encoded key pair decodes");
        assert_eq!(again.public(), keypair.public());
    }
    if let Ok(peer_id) = PeerId::from_bytes(data) {
        assert_eq!(peer_id.as_bytes(), data);
        assert_eq!(peer_id.to_base58().parse::<PeerId>().as_ref(), Ok(&peer_id));
        assert_eq!(
            peer_id.to_cid_string().parse::<PeerId>().as_ref(),
            Ok(&peer_id)
        );
        let _ = peer_id.to_public_key();
    }
    if let Ok(text) = std::str::from_utf8(data) {
        if let Ok(peer_id) = text.parse::<PeerId>() {
            assert_eq!(
                PeerId::from_bytes(peer_id.as_bytes()).as_ref(),
                Ok(&peer_id)
            );
        }
    }
});
