//! Tests of the identity module against the spec's vectors, OpenSSL-made signatures, and
//! property tests.

use std::collections::HashMap;

use proptest::prelude::*;

use super::*;
use crate::protobuf::ProtobufError;

/// Reads a `name hex` file from `testdata/`.
fn vectors(text: &str) -> HashMap<&str, Vec<u8>> {
    text.lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
        .map(|l| {
            let (name, hex) = l.split_once(' ').unwrap();
            (name, hex::decode(hex.trim()).unwrap())
        })
        .collect()
}

fn spec() -> HashMap<&'static str, Vec<u8>> {
    vectors(include_str!("testdata/peer-ids-vectors.txt"))
}

fn openssl() -> HashMap<&'static str, Vec<u8>> {
    vectors(include_str!("testdata/openssl-signatures.txt"))
}

/// The peer ids of the spec's public keys, computed independently (Python: base58btc of the
/// identity or sha2-256 multihash of the protobuf bytes).
const SPEC_PEER_IDS: &[(&str, &str)] = &[
    (
        "ed25519",
        "12D3KooWBtg3aaRMjxwedh83aGiUkwSxDwUZkzuJcfaqUmo7R3pq",
    ),
    (
        "secp256k1",
        "16Uiu2HAmLhLvBoYaoZfaMUKuibM6ac163GwKY74c5kiSLg5KvLpY",
    ),
    ("ecdsa", "QmVMT29id3TUASyfZZ6k9hmNyc2nYabCo4uMSpDw4zrgDk"),
    ("rsa", "QmaeANgBs1DTSxWSrPPtobgQuxW8XTfsS4ydbK4rCHzqxG"),
];

#[test]
fn spec_public_keys_round_trip_and_give_their_peer_ids() {
    let spec = spec();
    for &(name, expected) in SPEC_PEER_IDS {
        let bytes = &spec[format!("{name}_public").as_str()];
        let key = PublicKey::from_protobuf_encoding(bytes).unwrap();
        assert_eq!(&key.to_protobuf_encoding(), bytes, "{name} round trip");
        let peer_id = key.to_peer_id();
        assert_eq!(peer_id.to_base58(), expected, "{name} peer id");
        assert_eq!(expected.parse::<PeerId>().unwrap(), peer_id);
        assert!(peer_id.is_public_key(&key));
        // Inlined keys come back out of the peer id; hashed ones do not.
        let inlined = peer_id.to_public_key();
        if bytes.len() <= 42 {
            assert_eq!(inlined.as_ref(), Some(&key), "{name} inline key");
        } else {
            assert_eq!(inlined, None, "{name} is hashed");
        }
    }
}

#[test]
fn spec_private_keys_round_trip_and_match_their_public_keys() {
    let spec = spec();
    for (name, key_type) in [
        ("ed25519", KeyType::Ed25519),
        ("secp256k1", KeyType::Secp256k1),
        ("ecdsa", KeyType::Ecdsa),
    ] {
        let private = &spec[format!("{name}_private").as_str()];
        let keypair = Keypair::from_protobuf_encoding(private).unwrap();
        assert_eq!(keypair.key_type(), key_type);
        assert_eq!(
            &keypair.public().to_protobuf_encoding(),
            &spec[format!("{name}_public").as_str()],
            "{name}: public key derived from the private key"
        );
        assert_eq!(
            &keypair.to_protobuf_encoding(),
            private,
            "{name} round trip"
        );
    }
    assert_eq!(
        Keypair::from_protobuf_encoding(&spec["rsa_private"]).unwrap_err(),
        KeyError::UnsupportedPrivateKey(KeyType::Rsa)
    );
}

#[test]
fn spec_peer_id_examples_parse() {
    let cid: PeerId = "bafzbeie5745rpv2m6tjyuugywy4d5ewrqgqqhfnf445he3omzpjbx5xqxe"
        .parse()
        .unwrap();
    let legacy: PeerId = "QmYyQSo1c1Ym7orWxLYvCrM2EmxFTANf8wXmmE7DWjhx5N"
        .parse()
        .unwrap();
    assert_eq!(cid, legacy);
    assert_eq!(
        legacy.to_cid_string(),
        "bafzbeie5745rpv2m6tjyuugywy4d5ewrqgqqhfnf445he3omzpjbx5xqxe"
    );
    let ed: PeerId = "12D3KooWD3eckifWpRn9wQpMG9R9hX3sD158z7EqHWmweQAJU5SA"
        .parse()
        .unwrap();
    assert_eq!(ed.to_public_key().unwrap().key_type(), KeyType::Ed25519);
}

#[test]
fn seed_one_gives_the_known_peer_id() {
    let keypair = Keypair::ed25519_from_seed(1);
    assert_eq!(
        keypair.to_peer_id().to_base58(),
        "12D3KooWPjceQrSwdWXPyLLeABRXmuqt69Rg3sBYbU1Nft9HyQ6X"
    );
    let mut secret = [0u8; 32];
    secret[0] = 1;
    assert_eq!(
        Keypair::ed25519_from_secret(secret).public(),
        keypair.public()
    );
    assert_ne!(Keypair::ed25519_from_seed(2).public(), keypair.public());
}

#[test]
fn openssl_signatures_verify() {
    let spec = spec();
    let ossl = openssl();
    let msg = &ossl["message"];
    for name in ["rsa", "ecdsa", "secp256k1", "ed25519"] {
        let key =
            PublicKey::from_protobuf_encoding(&spec[format!("{name}_public").as_str()]).unwrap();
        let sig = &ossl[format!("{name}_sig").as_str()];
        assert!(key.verify(msg, sig), "{name}: OpenSSL signature verifies");
        assert!(
            !key.verify(b"another message", sig),
            "{name}: wrong message"
        );
        let mut bad = sig.clone();
        let last = bad.len() - 1;
        bad[last] ^= 1;
        assert!(!key.verify(msg, &bad), "{name}: altered signature");
        assert!(!key.verify(msg, &[]), "{name}: empty signature");
    }
    // Ed25519 signatures are deterministic: ours equals OpenSSL's byte for byte.
    let keypair = Keypair::from_protobuf_encoding(&spec["ed25519_private"]).unwrap();
    assert_eq!(keypair.sign(msg), ossl["ed25519_sig"]);
}

#[test]
fn secp256k1_accepts_high_s_like_go() {
    use k256::ecdsa::Signature;
    let keypair = Keypair::generate_secp256k1();
    let low = Signature::from_der(&keypair.sign(b"msg")).unwrap();
    assert!(low.normalize_s().is_none(), "we sign low-S");
    let high = Signature::from_scalars(low.r(), -*low.s()).unwrap();
    assert!(keypair.public().verify(b"msg", high.to_der().as_bytes()));
}

#[test]
fn sign_and_verify_every_generated_key_type() {
    let keypairs = [
        Keypair::generate_ed25519(),
        Keypair::generate_secp256k1(),
        Keypair::generate_ecdsa(),
    ];
    for keypair in &keypairs {
        let sig = keypair.sign(b"hello");
        assert!(keypair.public().verify(b"hello", &sig));
        assert!(!keypair.public().verify(b"hellp", &sig));
        let decoded = Keypair::from_protobuf_encoding(&keypair.to_protobuf_encoding()).unwrap();
        assert_eq!(decoded.public(), keypair.public());
        let public =
            PublicKey::from_protobuf_encoding(&keypair.public().to_protobuf_encoding()).unwrap();
        assert_eq!(&public, keypair.public());
        // Another key's signature never verifies.
        for other in &keypairs {
            if other.public() != keypair.public() {
                assert!(!other.public().verify(b"hello", &sig));
            }
        }
    }
    assert_eq!(
        keypairs[0].to_peer_id().to_base58().get(..8),
        Some("12D3KooW")
    );
    assert_eq!(
        keypairs[1].to_peer_id().to_base58().get(..6),
        Some("16Uiu2")
    );
    assert_eq!(keypairs[2].to_peer_id().to_base58().get(..2), Some("Qm"));
}

#[test]
fn keypair_debug_hides_the_secret() {
    let keypair = Keypair::ed25519_from_seed(7);
    let debug = format!("{keypair:?}");
    assert!(debug.contains(&keypair.to_peer_id().to_base58()));
    let secret_hex = hex::encode(&keypair.to_protobuf_encoding()[4..36]);
    assert!(!debug.to_lowercase().contains(&secret_hex));
    assert!(!debug.contains("7, 0, 0"));
}

/// Wraps type-specific key data into a protobuf `PublicKey`.
fn public_protobuf(key_type: u8, data: &[u8]) -> Vec<u8> {
    let mut out = vec![0x08, key_type, 0x12];
    crate::varint::encode(data.len() as u64, &mut out);
    out.extend_from_slice(data);
    out
}

/// A PKIX RSA public key with a modulus of `bits` bits (all ones) and exponent 65537. Only the
/// structure is valid: enough to exercise the size checks.
fn fake_rsa_spki(bits: usize) -> Vec<u8> {
    fn tlv(tag: u8, content: &[u8]) -> Vec<u8> {
        let mut out = vec![tag];
        match content.len() {
            n if n < 0x80 => out.push(n as u8),
            n if n < 0x100 => out.extend_from_slice(&[0x81, n as u8]),
            n => out.extend_from_slice(&[0x82, (n >> 8) as u8, n as u8]),
        }
        out.extend_from_slice(content);
        out
    }
    let mut n = vec![0xffu8; bits.div_ceil(8)];
    if !bits.is_multiple_of(8) {
        n[0] = (1u8 << (bits % 8)) - 1;
    }
    if n[0] & 0x80 != 0 {
        n.insert(0, 0);
    }
    let rsa = tlv(0x30, &[tlv(0x02, &n), tlv(0x02, &[1, 0, 1])].concat());
    let mut bits_content = vec![0];
    bits_content.extend_from_slice(&rsa);
    let alg = tlv(
        0x30,
        &[
            tlv(
                0x06,
                &[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x01],
            ),
            vec![0x05, 0x00],
        ]
        .concat(),
    );
    tlv(0x30, &[alg, tlv(0x03, &bits_content)].concat())
}

#[test]
fn rsa_key_sizes() {
    let ossl = openssl();
    // A real 2048-bit key, the smallest accepted, verifies OpenSSL's signature.
    let key = PublicKey::from_encoded_key(KeyType::Rsa, &ossl["rsa2048_public"]).unwrap();
    assert!(key.verify(&ossl["message"], &ossl["rsa2048_sig"]));
    assert!(!key.verify(b"x", &ossl["rsa2048_sig"]));
    // A real 1024-bit key is refused.
    assert_eq!(
        PublicKey::from_encoded_key(KeyType::Rsa, &ossl["rsa1024_public"]).unwrap_err(),
        KeyError::RsaKeySize { bits: 1024 }
    );
    // The bounds, with structurally valid keys.
    assert!(PublicKey::from_encoded_key(KeyType::Rsa, &fake_rsa_spki(8192)).is_ok());
    assert_eq!(
        PublicKey::from_protobuf_encoding(&public_protobuf(0, &fake_rsa_spki(8193))).unwrap_err(),
        KeyError::RsaKeySize { bits: 8193 }
    );
    assert_eq!(
        PublicKey::from_encoded_key(KeyType::Rsa, &fake_rsa_spki(2047)).unwrap_err(),
        KeyError::RsaKeySize { bits: 2047 }
    );
    // The fake key parses the same way as the real one.
    assert_eq!(fake_rsa_spki(2048).len(), ossl["rsa2048_public"].len());
}

#[test]
fn malformed_public_keys_are_refused_with_typed_errors() {
    let spec = spec();
    let ossl = openssl();
    let ed = &spec["ed25519_public"][4..];
    let cases: Vec<(Vec<u8>, KeyError)> = vec![
        (vec![], ProtobufError::MissingField("Type").into()),
        (vec![0x08, 0x01], ProtobufError::MissingField("Data").into()),
        (vec![0x12, 0x00], ProtobufError::MissingField("Type").into()),
        (public_protobuf(4, ed), KeyError::UnknownKeyType(4)),
        (
            public_protobuf(1, &ed[..31]),
            KeyError::InvalidKey(KeyType::Ed25519),
        ),
        (
            [
                vec![0x08, 0x01, 0x08, 0x01],
                public_protobuf(1, ed)[2..].to_vec(),
            ]
            .concat(),
            ProtobufError::DuplicateField(1).into(),
        ),
        (
            public_protobuf(1, ed)[..20].to_vec(),
            ProtobufError::Truncated.into(),
        ),
        (
            vec![0x08, 0x01, 0x10, 0x01],
            ProtobufError::WrongWireType { field: 2 }.into(),
        ),
        // secp256k1: x coordinate not on the curve, and the uncompressed form.
        (
            public_protobuf(2, &[&[0x02u8][..], &[0xff; 32]].concat()),
            KeyError::InvalidKey(KeyType::Secp256k1),
        ),
        // ECDSA: a P-384 key, and junk.
        (
            public_protobuf(3, &ossl["p384_public"]),
            KeyError::UnsupportedCurve,
        ),
        (
            public_protobuf(3, &[0x30, 0x00]),
            KeyError::InvalidKey(KeyType::Ecdsa),
        ),
        // ECDSA type with an RSA key inside.
        (
            public_protobuf(3, &ossl["rsa2048_public"]),
            KeyError::InvalidKey(KeyType::Ecdsa),
        ),
        // RSA: trailing bytes after the SPKI.
        (
            public_protobuf(0, &[&ossl["rsa2048_public"][..], &[0][..]].concat()),
            KeyError::InvalidKey(KeyType::Rsa),
        ),
    ];
    for (bytes, expected) in cases {
        assert_eq!(
            PublicKey::from_protobuf_encoding(&bytes).unwrap_err(),
            expected,
            "{}",
            hex::encode(&bytes)
        );
    }
    // The uncompressed secp256k1 encoding of a valid key is refused: only one encoding per key.
    let k = Keypair::generate_secp256k1();
    let point = k256::PublicKey::from_sec1_bytes(k.public().encoded_key()).unwrap();
    use k256::elliptic_curve::sec1::ToEncodedPoint as _;
    let uncompressed = point.to_encoded_point(false);
    assert_eq!(
        PublicKey::from_encoded_key(KeyType::Secp256k1, uncompressed.as_bytes()).unwrap_err(),
        KeyError::InvalidKey(KeyType::Secp256k1)
    );
    // Unknown fields are skipped.
    let mut with_extra = spec["ed25519_public"].clone();
    with_extra.extend_from_slice(&[0x18, 0x05]);
    assert_eq!(
        PublicKey::from_protobuf_encoding(&with_extra)
            .unwrap()
            .to_protobuf_encoding(),
        spec["ed25519_public"]
    );
}

#[test]
fn ed25519_private_key_forms() {
    let keypair = Keypair::ed25519_from_seed(3);
    let encoded = keypair.to_protobuf_encoding();
    assert_eq!(encoded.len(), 4 + 64);
    let data = &encoded[4..];
    let public = &data[32..];
    // Legacy 96-byte form: secret, public, public.
    let legacy = [&[0x08, 0x01, 0x12, 0x60][..], data, public].concat();
    assert_eq!(
        Keypair::from_protobuf_encoding(&legacy).unwrap().public(),
        keypair.public()
    );
    let mut bad_copy = legacy.clone();
    *bad_copy.last_mut().unwrap() ^= 1;
    assert_eq!(
        Keypair::from_protobuf_encoding(&bad_copy).unwrap_err(),
        KeyError::PublicKeyMismatch
    );
    // 64-byte form whose public half is another key's.
    let other = Keypair::ed25519_from_seed(4).to_protobuf_encoding();
    let mixed = [&encoded[..36], &other[36..]].concat();
    assert_eq!(
        Keypair::from_protobuf_encoding(&mixed).unwrap_err(),
        KeyError::PublicKeyMismatch
    );
    // 32-byte secret alone is not a libp2p encoding.
    let short = [&[0x08, 0x01, 0x12, 0x20][..], &data[..32]].concat();
    assert_eq!(
        Keypair::from_protobuf_encoding(&short).unwrap_err(),
        KeyError::InvalidKey(KeyType::Ed25519)
    );
}

#[test]
fn malformed_private_keys_are_refused() {
    // secp256k1: zero scalar, the group order, short scalar.
    let zero = public_protobuf(2, &[0; 32]);
    assert_eq!(
        Keypair::from_protobuf_encoding(&zero).unwrap_err(),
        KeyError::InvalidKey(KeyType::Secp256k1)
    );
    let order =
        hex::decode("fffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8cd0364141").unwrap();
    assert_eq!(
        Keypair::from_protobuf_encoding(&public_protobuf(2, &order)).unwrap_err(),
        KeyError::InvalidKey(KeyType::Secp256k1)
    );
    assert_eq!(
        Keypair::from_protobuf_encoding(&public_protobuf(2, &[1; 31])).unwrap_err(),
        KeyError::InvalidKey(KeyType::Secp256k1)
    );
    // ECDSA: SEC1 DER whose embedded public key is another key's.
    let spec = spec();
    let mut der = spec["ecdsa_private"].clone();
    *der.last_mut().unwrap() ^= 1;
    assert_eq!(
        Keypair::from_protobuf_encoding(&der).unwrap_err(),
        KeyError::InvalidKey(KeyType::Ecdsa)
    );
}

#[test]
fn peer_id_random_and_malformed() {
    let a = PeerId::random();
    let b = PeerId::random();
    assert_ne!(a, b);
    assert_eq!(a.to_base58().parse::<PeerId>().unwrap(), a);
    assert_eq!(a.to_cid_string().parse::<PeerId>().unwrap(), a);
    assert_eq!(PeerId::from_bytes(a.as_bytes()).unwrap(), a);
    assert_eq!(a.to_public_key(), None);

    assert_eq!("".parse::<PeerId>(), Err(PeerIdError::Encoding));
    assert_eq!("Qm0OIl".parse::<PeerId>(), Err(PeerIdError::Encoding));
    assert_eq!(
        PeerId::from_bytes(&[0x12, 0x20, 1, 2]),
        Err(PeerIdError::Multihash)
    );
    assert_eq!(
        PeerId::from_bytes(&[0x13, 0x01, 1]),
        Err(PeerIdError::UnsupportedHash(0x13))
    );
    let mut long = vec![0x00, 43];
    long.extend_from_slice(&[0; 43]);
    assert_eq!(
        PeerId::from_bytes(&long),
        Err(PeerIdError::InlineKeyTooLong(43))
    );
    // An identity peer id whose bytes are not a valid key has no public key.
    let junk = PeerId::from_bytes(&[0x00, 0x02, 0x08, 0x01]).unwrap();
    assert_eq!(junk.to_public_key(), None);
    // A non-canonical key encoding inlined (extra unknown field) does not own the id.
    let spec = spec();
    let mut extra = spec["ed25519_public"].clone();
    extra.extend_from_slice(&[0x18, 0x05]);
    let mut mh = vec![0x00, extra.len() as u8];
    mh.extend_from_slice(&extra);
    assert_eq!(PeerId::from_bytes(&mh).unwrap().to_public_key(), None);
}

#[test]
fn envelope_seal_open() {
    let keypair = Keypair::ed25519_from_seed(1);
    let env = SignedEnvelope::seal(&keypair, "test-domain", b"\x03\x01", b"payload").unwrap();
    let bytes = env.to_protobuf_encoding();
    let opened = SignedEnvelope::open(&bytes, "test-domain").unwrap();
    assert_eq!(opened, env);
    assert_eq!(opened.signer(), keypair.to_peer_id());
    assert_eq!(opened.payload(), b"payload");
    assert_eq!(opened.payload_type(), b"\x03\x01");
    // The signature covers the RFC 0002 buffer: varint-prefixed domain, type and payload.
    let buffer = [&[11u8][..], b"test-domain", &[2, 3, 1], &[7], b"payload"].concat();
    assert!(keypair.public().verify(&buffer, opened.signature()));
    // The wire layout: public key, payload type, payload, signature (field 5).
    let pk = keypair.public().to_protobuf_encoding();
    let expected = [
        &[0x0a, pk.len() as u8][..],
        &pk,
        &[0x12, 2, 3, 1],
        &[0x1a, 7],
        b"payload",
        &[0x2a, 64],
        opened.signature(),
    ]
    .concat();
    assert_eq!(bytes, expected);

    assert_eq!(
        SignedEnvelope::open(&bytes, "other-domain"),
        Err(EnvelopeError::InvalidSignature)
    );
    let mut tampered = bytes.clone();
    let i = bytes.len() - 64 - 3; // last byte of the payload
    tampered[i] ^= 1;
    assert_eq!(
        SignedEnvelope::open(&tampered, "test-domain"),
        Err(EnvelopeError::InvalidSignature)
    );
    // An empty payload type and payload are omitted (proto3) and still sign correctly.
    let empty = SignedEnvelope::seal(&keypair, "d", b"", b"").unwrap();
    let bytes = empty.to_protobuf_encoding();
    assert_eq!(bytes.len(), 2 + pk.len() + 2 + 64);
    assert!(SignedEnvelope::open(&bytes, "d").is_ok());
}

#[test]
fn envelope_limits_and_malformed_input() {
    let keypair = Keypair::generate_ed25519();
    // Oversized input is refused before parsing, whatever it holds.
    let garbage = vec![0xffu8; MAX_ENVELOPE_SIZE + 1];
    assert_eq!(
        SignedEnvelope::open(&garbage, "d"),
        Err(EnvelopeError::TooLarge {
            len: MAX_ENVELOPE_SIZE + 1,
            max: MAX_ENVELOPE_SIZE
        })
    );
    assert!(matches!(
        SignedEnvelope::seal(&keypair, "d", b"", &vec![0; MAX_ENVELOPE_SIZE]),
        Err(EnvelopeError::TooLarge { .. })
    ));
    assert_eq!(
        SignedEnvelope::open(&[0x12, 0x01, 0x00], "d"),
        Err(EnvelopeError::Protobuf(ProtobufError::MissingField(
            "public_key"
        )))
    );
    assert_eq!(
        SignedEnvelope::open(&[0x0a, 0x02, 0x08, 0x09], "d"),
        Err(EnvelopeError::PublicKey(KeyError::Protobuf(
            ProtobufError::MissingField("Data")
        )))
    );
    // No signature at all.
    let pk = keypair.public().to_protobuf_encoding();
    let unsigned = [&[0x0a, pk.len() as u8][..], &pk, &[0x1a, 1, 0]].concat();
    assert_eq!(
        SignedEnvelope::open(&unsigned, "d"),
        Err(EnvelopeError::InvalidSignature)
    );
}

fn record_for(keypair: &Keypair) -> PeerRecord {
    PeerRecord {
        peer_id: keypair.to_peer_id(),
        seq: 1_570_215_229,
        addresses: vec![
            vec![0x04, 192, 0, 2, 0, 0x06, 0, 42], // /ip4/192.0.2.0/tcp/42
            vec![0x04, 198, 51, 100, 0, 0x06, 0, 42], // /ip4/198.51.100.0/tcp/42
        ],
    }
}

#[test]
fn peer_record_encoding() {
    let record = PeerRecord {
        peer_id: PeerId::from_bytes(&[0x00, 0x02, 0xaa, 0xbb]).unwrap(),
        seq: 300,
        addresses: vec![vec![1, 2], vec![]],
    };
    let bytes = record.to_protobuf_encoding();
    assert_eq!(
        bytes,
        [
            0x0a, 4, 0x00, 0x02, 0xaa, 0xbb, // peer_id
            0x10, 0xac, 0x02, // seq 300
            0x1a, 4, 0x0a, 2, 1, 2, // AddressInfo { multiaddr }
            0x1a, 0, // AddressInfo {} (empty multiaddr)
        ]
    );
    assert_eq!(PeerRecord::from_protobuf_encoding(&bytes).unwrap(), record);
    assert_eq!(
        PeerRecord::from_protobuf_encoding(&[0x10, 0x01]).unwrap_err(),
        PeerRecordError::Protobuf(ProtobufError::MissingField("peer_id"))
    );
    assert_eq!(
        PeerRecord::from_protobuf_encoding(&[0x0a, 2, 0x13, 0]).unwrap_err(),
        PeerRecordError::PeerId(PeerIdError::UnsupportedHash(0x13))
    );
}

#[test]
fn peer_record_seal_open_both_formats() {
    let keypair = Keypair::generate_ed25519();
    let record = record_for(&keypair);
    for format in [PeerRecordFormat::Standard, PeerRecordFormat::RoutingState] {
        let env = record.seal_with_format(&keypair, format).unwrap();
        assert_eq!(env.payload_type(), format.payload_type());
        let bytes = env.to_protobuf_encoding();
        let (opened, envelope) = PeerRecord::open(&bytes).unwrap();
        assert_eq!(opened, record);
        assert_eq!(envelope, env);
        // The envelope opens with the format's domain only.
        assert!(SignedEnvelope::open(&bytes, format.domain()).is_ok());
    }
    assert_eq!(
        record.seal(&keypair).unwrap().payload_type(),
        &[0x03, 0x01],
        "go-libp2p's payload type by default"
    );
    // Sealing someone else's record is local misuse.
    let other = Keypair::generate_ed25519();
    assert!(matches!(
        record.seal(&other),
        Err(PeerRecordError::WrongKeypair { .. })
    ));
}

#[test]
fn peer_record_refuses_forgeries() {
    let victim = Keypair::generate_ed25519();
    let attacker = Keypair::generate_secp256k1();
    // The attacker signs a record naming the victim (GHSA-wc36-xgcc-jwpr).
    let record = record_for(&victim);
    let format = PeerRecordFormat::Standard;
    let forged = SignedEnvelope::seal(
        &attacker,
        format.domain(),
        format.payload_type(),
        &record.to_protobuf_encoding(),
    )
    .unwrap();
    assert_eq!(
        PeerRecord::open(&forged.to_protobuf_encoding()).unwrap_err(),
        PeerRecordError::SignerMismatch {
            record: victim.to_peer_id(),
            signer: attacker.to_peer_id()
        }
    );
    // A record signed for the wrong domain.
    let wrong_domain = SignedEnvelope::seal(
        &victim,
        "libp2p-routing-state",
        format.payload_type(),
        &record.to_protobuf_encoding(),
    )
    .unwrap();
    assert_eq!(
        PeerRecord::open(&wrong_domain.to_protobuf_encoding()).unwrap_err(),
        PeerRecordError::Envelope(EnvelopeError::InvalidSignature)
    );
    // Another payload type.
    let other = SignedEnvelope::seal(&victim, format.domain(), b"/x", b"").unwrap();
    assert_eq!(
        PeerRecord::open(&other.to_protobuf_encoding()).unwrap_err(),
        PeerRecordError::UnexpectedPayloadType
    );
    // A signed payload that is not a record: the signature is checked first, then the record.
    let junk =
        SignedEnvelope::seal(&victim, format.domain(), format.payload_type(), &[0xff]).unwrap();
    assert_eq!(
        PeerRecord::open(&junk.to_protobuf_encoding()).unwrap_err(),
        PeerRecordError::Protobuf(ProtobufError::Truncated)
    );
}

proptest! {
    #[test]
    fn ed25519_keys_round_trip(secret in any::<[u8; 32]>(), msg in proptest::collection::vec(any::<u8>(), 0..64)) {
        let keypair = Keypair::ed25519_from_secret(secret);
        let decoded = Keypair::from_protobuf_encoding(&keypair.to_protobuf_encoding()).unwrap();
        prop_assert_eq!(decoded.public(), keypair.public());
        let public = PublicKey::from_protobuf_encoding(&keypair.public().to_protobuf_encoding()).unwrap();
        prop_assert!(public.verify(&msg, &decoded.sign(&msg)));
        let peer_id = keypair.to_peer_id();
        prop_assert_eq!(peer_id.to_public_key(), Some(public));
        prop_assert_eq!(peer_id.to_base58().parse::<PeerId>().unwrap(), peer_id.clone());
        prop_assert_eq!(peer_id.to_cid_string().parse::<PeerId>().unwrap(), peer_id);
    }

    #[test]
    fn secp256k1_keys_round_trip(scalar in any::<[u8; 32]>()) {
        let private = public_protobuf(2, &scalar);
        // Nearly every 32-byte string is a valid scalar; the rest must be refused cleanly.
        if let Ok(keypair) = Keypair::from_protobuf_encoding(&private) {
            prop_assert_eq!(keypair.to_protobuf_encoding(), private);
            let public = keypair.public().to_protobuf_encoding();
            prop_assert_eq!(public.len(), 37);
            prop_assert_eq!(&PublicKey::from_protobuf_encoding(&public).unwrap(), keypair.public());
            prop_assert!(keypair.public().verify(b"m", &keypair.sign(b"m")));
        }
    }

    #[test]
    fn peer_record_round_trip(
        seed in any::<u64>(),
        seq in any::<u64>(),
        addresses in proptest::collection::vec(proptest::collection::vec(any::<u8>(), 0..40), 0..6),
    ) {
        let keypair = Keypair::ed25519_from_seed(seed);
        let record = PeerRecord { peer_id: keypair.to_peer_id(), seq, addresses };
        prop_assert_eq!(PeerRecord::from_protobuf_encoding(&record.to_protobuf_encoding()).unwrap(), record.clone());
        let env = record.seal(&keypair).unwrap();
        let (opened, _) = PeerRecord::open(&env.to_protobuf_encoding()).unwrap();
        prop_assert_eq!(opened, record);
    }

    #[test]
    fn decoders_never_panic(input in proptest::collection::vec(any::<u8>(), 0..128)) {
        let _ = PublicKey::from_protobuf_encoding(&input);
        let _ = Keypair::from_protobuf_encoding(&input);
        let _ = PeerId::from_bytes(&input);
        let _ = SignedEnvelope::open(&input, "d");
        let _ = PeerRecord::open(&input);
        let _ = PeerRecord::from_protobuf_encoding(&input);
        for key_type in [KeyType::Rsa, KeyType::Ed25519, KeyType::Secp256k1, KeyType::Ecdsa] {
            let _ = PublicKey::from_encoded_key(key_type, &input);
        }
    }
}

#[test]
fn openssl_signed_peer_record_opens_and_matches_ours() {
    let bytes = &openssl()["peer_record_envelope"];
    let (record, envelope) = PeerRecord::open(bytes).unwrap();
    let keypair = Keypair::from_protobuf_encoding(&spec()["ed25519_private"]).unwrap();
    assert_eq!(record.peer_id, keypair.to_peer_id());
    assert_eq!(record.seq, 1);
    assert_eq!(
        record.addresses,
        vec![vec![0x04, 192, 0, 2, 0, 0x06, 0, 42]]
    );
    assert_eq!(envelope.payload_type(), &[0x03, 0x01]);
    // Ed25519 is deterministic: sealing the same record gives the same bytes.
    assert_eq!(
        &record.seal(&keypair).unwrap().to_protobuf_encoding(),
        bytes
    );
}
