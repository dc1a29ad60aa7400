//! Spec vectors, certificate round trips and in-memory rustls handshakes.

use std::sync::Arc;

use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{ClientConfig, ClientConnection, ServerConfig, ServerConnection};

use super::*;

/// libp2p/specs tls/tls.md, "Test vectors" 1: Ed25519 host key.
const VECTOR_ED25519: &str = "308201ae30820156a0030201020204499602d2300a06082a8648ce3d040302302031123010060355040a13096c69627032702e696f310a300806035504051301313020170d3735303130313133303030305a180f34303936303130313133303030305a302031123010060355040a13096c69627032702e696f310a300806035504051301313059301306072a8648ce3d020106082a8648ce3d030107034200040c901d423c831ca85e27c73c263ba132721bb9d7a84c4f0380b2a6756fd601331c8870234dec878504c174144fa4b14b66a651691606d8173e55bd37e381569ea37c307a3078060a2b0601040183a25a0101046a3068042408011220a77f1d92fedb59dddaea5a1c4abd1ac2fbde7d7b879ed364501809923d7c11b90440d90d2769db992d5e6195dbb08e706b6651e024fda6cfb8846694a435519941cac215a8207792e42849cccc6cd8136c6e4bde92a58c5e08cfd4206eb5fe0bf909300a06082a8648ce3d0403020346003043021f50f6b6c52711a881778718238f650c9fb48943ae6ee6d28427dc6071ae55e702203625f116a7a454db9c56986c82a25682f7248ea1cb764d322ea983ed36a31b77";
/// Vector 2: ECDSA host key.
const VECTOR_ECDSA: &str = "308201f63082019da0030201020204499602d2300a06082a8648ce3d040302302031123010060355040a13096c69627032702e696f310a300806035504051301313020170d3735303130313133303030305a180f34303936303130313133303030305a302031123010060355040a13096c69627032702e696f310a300806035504051301313059301306072a8648ce3d020106082a8648ce3d030107034200040c901d423c831ca85e27c73c263ba132721bb9d7a84c4f0380b2a6756fd601331c8870234dec878504c174144fa4b14b66a651691606d8173e55bd37e381569ea381c23081bf3081bc060a2b0601040183a25a01010481ad3081aa045f0803125b3059301306072a8648ce3d020106082a8648ce3d03010703420004bf30511f909414ebdd3242178fd290f093a551cf75c973155de0bb5a96fedf6cb5d52da7563e794b512f66e60c7f55ba8a3acf3dd72a801980d205e8a1ad29f2044730450220064ea8124774caf8f50e57f436aa62350ce652418c019df5d98a3ac666c9386a022100aa59d704a931b5f72fb9222cb6cc51f954d04a4e2e5450f8805fe8918f71eaae300a06082a8648ce3d04030203470030440220799395b0b6c1e940a7e4484705f610ab51ed376f19ff9d7c16757cfbf61b8d4302206205c03fbb0f95205c779be86581d3e31c01871ad5d1f3435bcf375cb0e5088a";
/// Vector 3: secp256k1 host key.
const VECTOR_SECP256K1: &str = "308201ba3082015fa0030201020204499602d2300a06082a8648ce3d040302302031123010060355040a13096c69627032702e696f310a300806035504051301313020170d3735303130313133303030305a180f34303936303130313133303030305a302031123010060355040a13096c69627032702e696f310a300806035504051301313059301306072a8648ce3d020106082a8648ce3d030107034200040c901d423c831ca85e27c73c263ba132721bb9d7a84c4f0380b2a6756fd601331c8870234dec878504c174144fa4b14b66a651691606d8173e55bd37e381569ea38184308181307f060a2b0601040183a25a01010471306f0425080212210206dc6968726765b820f050263ececf7f71e4955892776c0970542efd689d2382044630440220145e15a991961f0d08cd15425bb95ec93f6ffa03c5a385eedc34ecf464c7a8ab022026b3109b8a3f40ef833169777eb2aa337cfb6282f188de0666d1bcec2a4690dd300a06082a8648ce3d0403020349003046022100e1a217eeef9ec9204b3f774a08b70849646b6a1e6b8b27f93dc00ed58545d9fe022100b00dafa549d0f03547878338c7b15e7502888f6d45db387e5ae6b5d46899cef0";
/// Vector 4: the extension's signature does not match the certificate key.
const VECTOR_INVALID: &str = "308201f73082019da0030201020204499602d2300a06082a8648ce3d040302302031123010060355040a13096c69627032702e696f310a300806035504051301313020170d3735303130313133303030305a180f34303936303130313133303030305a302031123010060355040a13096c69627032702e696f310a300806035504051301313059301306072a8648ce3d020106082a8648ce3d030107034200040c901d423c831ca85e27c73c263ba132721bb9d7a84c4f0380b2a6756fd601331c8870234dec878504c174144fa4b14b66a651691606d8173e55bd37e381569ea381c23081bf3081bc060a2b0601040183a25a01010481ad3081aa045f0803125b3059301306072a8648ce3d020106082a8648ce3d03010703420004bf30511f909414ebdd3242178fd290f093a551cf75c973155de0bb5a96fedf6cb5d52da7563e794b512f66e60c7f55ba8a3acf3dd72a801980d205e8a1ad29f204473045022100bb6e03577b7cc7a3cd1558df0da2b117dfdcc0399bc2504ebe7de6f65cade72802206de96e2a5be9b6202adba24ee0362e490641ac45c240db71fe955f2c5cf8df6e300a06082a8648ce3d0403020348003045022100e847f267f43717358f850355bdcabbefb2cfbf8a3c043b203a14788a092fe8db022027c1d04a2d41fd6b57a7e8b3989e470325de4406e52e084e34a3fd56eef0d0df";

fn hex(s: &str) -> Vec<u8> {
    hex::decode(s).unwrap()
}

fn now() -> UnixTime {
    UnixTime::since_unix_epoch(std::time::Duration::from_secs(1_750_000_000))
}

fn check_vector(cert: &str, peer_id: &str) {
    let der = hex(cert);
    let parsed = parse_certificate(&der).unwrap();
    assert_eq!(parsed.peer_id().to_string(), peer_id);
    assert_eq!(parsed.public_key().to_peer_id().to_string(), peer_id);
    assert_eq!(parsed.not_before(), 157_813_200); // 1975-01-01 13:00:00Z (UTCTime)
    assert_eq!(parsed.not_after(), 67_090_165_200); // 4096-01-01 13:00:00Z (GeneralizedTime)
    parsed.check_validity(now()).unwrap();
    let verifier = Libp2pCertVerifier::new(Some(peer_id.parse().unwrap()));
    verifier
        .verify_chain(&CertificateDer::from(der), &[], now())
        .unwrap();
}

#[test]
fn spec_vector_1_ed25519() {
    check_vector(
        VECTOR_ED25519,
        "12D3KooWM6CgA9iBFZmcYAHA6A2qvbAxqfkmrYiRQuz3XEsk4Ksv",
    );
}

#[test]
fn spec_vector_2_ecdsa() {
    check_vector(
        VECTOR_ECDSA,
        "QmfXbAwNjJLXfesgztEHe8HwgVDCMMpZ9Eax1HYq6hn9uE",
    );
}

#[test]
fn spec_vector_3_secp256k1() {
    check_vector(
        VECTOR_SECP256K1,
        "16Uiu2HAkutTMoTzDw1tCvSRtu6YoixJwS46S1ZFxW8hSx9fWHiPs",
    );
}

#[test]
fn spec_vector_4_invalid_signature() {
    assert_eq!(
        parse_certificate(&hex(VECTOR_INVALID)).unwrap_err(),
        TlsError::BadExtensionSignature
    );
}

#[test]
fn vector_times_outside_validity_are_refused() {
    let cert = parse_certificate(&hex(VECTOR_ED25519)).unwrap();
    let at = |s| UnixTime::since_unix_epoch(std::time::Duration::from_secs(s));
    assert_eq!(
        cert.check_validity(at(157_813_199)),
        Err(TlsError::NotYetValid)
    );
    assert_eq!(cert.check_validity(at(157_813_200)), Ok(()));
    assert_eq!(cert.check_validity(at(67_090_165_200)), Ok(()));
    assert_eq!(
        cert.check_validity(at(67_090_165_201)),
        Err(TlsError::Expired)
    );
}

#[test]
fn wrong_expected_peer_is_refused() {
    let der = CertificateDer::from(hex(VECTOR_ED25519));
    let other = Keypair::ed25519_from_seed(7).public().to_peer_id();
    let err = Libp2pCertVerifier::new(Some(other.clone()))
        .verify_chain(&der, &[], now())
        .unwrap_err();
    assert_eq!(
        err,
        TlsError::PeerIdMismatch {
            expected: other,
            actual: "12D3KooWM6CgA9iBFZmcYAHA6A2qvbAxqfkmrYiRQuz3XEsk4Ksv"
                .parse()
                .unwrap()
        }
    );
    let err = Libp2pCertVerifier::new(None)
        .verify_chain(&der, std::slice::from_ref(&der), now())
        .unwrap_err();
    assert_eq!(err, TlsError::CertificateCount(2));
}

#[test]
fn every_truncation_of_a_vector_is_refused() {
    let der = hex(VECTOR_ECDSA);
    for len in 0..der.len() {
        assert!(
            parse_certificate(&der[..len]).is_err(),
            "prefix of {len} bytes"
        );
    }
    let mut longer = der.clone();
    longer.push(0);
    assert_eq!(
        parse_certificate(&longer).unwrap_err(),
        TlsError::MalformedCertificate {
            context: "bytes after Certificate"
        }
    );
}

#[test]
fn every_single_bit_flip_of_a_vector_is_refused() {
    // Any change must break the DER, a signature, or a field check; none may panic.
    let der = hex(VECTOR_ED25519);
    for i in 0..der.len() {
        for bit in 0..8 {
            let mut bad = der.clone();
            bad[i] ^= 1 << bit;
            // Every byte is covered by the DER structure, the self-signature (the whole
            // TBSCertificate) or the signature itself: no flipped certificate may pass.
            if let Ok(cert) = parse_certificate(&bad) {
                panic!("flip of bit {bit} in byte {i} accepted: {cert:?}");
            }
        }
    }
}

#[test]
fn generated_certificates_round_trip() {
    let keypair = Keypair::ed25519_from_seed(1);
    let (der, _key) = make_certificate_at(&keypair, now()).unwrap();
    let cert = parse_certificate(&der).unwrap();
    assert_eq!(cert.peer_id(), &keypair.public().to_peer_id());
    assert_eq!(cert.public_key(), keypair.public());
    assert_eq!(cert.not_before(), 1_750_000_000 - 3600);
    assert_eq!(cert.not_after(), 1_750_000_000 + 100 * 365 * 24 * 3600);
    assert_eq!(
        cert.check_validity(UnixTime::since_unix_epoch(std::time::Duration::from_secs(
            1_750_000_000 - 3601
        ))),
        Err(TlsError::NotYetValid)
    );
    // Two certificates for the same key differ (fresh certificate key and serial).
    let (der2, _) = make_certificate_at(&keypair, now()).unwrap();
    assert_ne!(der, der2);
}

#[test]
fn generated_extension_is_critical() {
    let (der, _) = make_certificate_at(&Keypair::ed25519_from_seed(1), now()).unwrap();
    // extnID libp2p, BOOLEAN TRUE, OCTET STRING
    let needle = [
        0x06, 0x0a, 0x2b, 0x06, 0x01, 0x04, 0x01, 0x83, 0xa2, 0x5a, 0x01, 0x01, 0x01, 0x01, 0xff,
        0x04,
    ];
    assert!(der.windows(needle.len()).any(|w| w == needle));
}

#[test]
fn signed_key_parser_is_strict() {
    let good = SignedKey {
        public_key: &[1, 2, 3],
        signature: &[4; 200],
    };
    let der = good.to_der();
    assert_eq!(SignedKey::from_der(&der).unwrap(), good);
    // Trailing bytes, a third field, BIT STRING instead of OCTET STRING, truncation.
    let mut trailing = der.clone();
    trailing.push(0);
    assert!(SignedKey::from_der(&trailing).is_err());
    assert!(SignedKey::from_der(&hex("300904010104010204010a")).is_err());
    assert!(SignedKey::from_der(&hex("3006030201010401ff")).is_err());
    assert!(SignedKey::from_der(&der[..der.len() - 1]).is_err());
    assert_eq!(
        SignedKey::from_der(&hex("3006040101040102")).unwrap(),
        SignedKey {
            public_key: &[1],
            signature: &[2]
        }
    );
}

/// Builds a certificate with rcgen around a chosen extension list, signed with a P-256 key.
fn custom_certificate(
    keypair: &Keypair,
    with_libp2p: bool,
    extra: Vec<rcgen::CustomExtension>,
) -> Vec<u8> {
    let key = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).unwrap();
    let spki = key.public_key_der();
    let mut message = SIGNATURE_PREFIX.to_vec();
    message.extend_from_slice(&spki);
    let host = keypair.public().to_protobuf_encoding();
    let signature = keypair.sign(&message);
    let mut params = rcgen::CertificateParams::default();
    if with_libp2p {
        let ext = SignedKey {
            public_key: &host,
            signature: &signature,
        };
        params
            .custom_extensions
            .push(rcgen::CustomExtension::from_oid_content(
                LIBP2P_EXTENSION_OID,
                ext.to_der(),
            ));
    }
    params.custom_extensions.extend(extra);
    params.self_signed(&key).unwrap().der().to_vec()
}

#[test]
fn extension_rules() {
    let keypair = Keypair::ed25519_from_seed(3);
    // Non-critical libp2p extension (like the spec vectors) is fine.
    let ok = custom_certificate(&keypair, true, vec![]);
    assert_eq!(
        parse_certificate(&ok).unwrap().peer_id(),
        &keypair.public().to_peer_id()
    );
    // Missing extension.
    let none = custom_certificate(&keypair, false, vec![]);
    assert_eq!(
        parse_certificate(&none).unwrap_err(),
        TlsError::MissingExtension
    );
    // Unknown non-critical extension is ignored, unknown critical refused.
    let unknown = || rcgen::CustomExtension::from_oid_content(&[1, 2, 3, 4], vec![0x05, 0x00]);
    let ignored = custom_certificate(&keypair, true, vec![unknown()]);
    assert!(parse_certificate(&ignored).is_ok());
    let mut critical = unknown();
    critical.set_criticality(true);
    let critical = custom_certificate(&keypair, true, vec![critical]);
    assert_eq!(
        parse_certificate(&critical).unwrap_err(),
        TlsError::UnknownCriticalExtension
    );
    // The libp2p extension twice.
    let twice = custom_certificate(
        &keypair,
        true,
        vec![rcgen::CustomExtension::from_oid_content(
            LIBP2P_EXTENSION_OID,
            SignedKey {
                public_key: &[],
                signature: &[],
            }
            .to_der(),
        )],
    );
    assert_eq!(
        parse_certificate(&twice).unwrap_err(),
        TlsError::DuplicateExtension
    );
}

#[test]
fn bad_self_signature_is_refused() {
    let mut der = hex(VECTOR_ED25519);
    // The last byte belongs to the certificate's ECDSA signature.
    *der.last_mut().unwrap() ^= 1;
    assert_eq!(
        parse_certificate(&der).unwrap_err(),
        TlsError::BadSelfSignature
    );
}

/// Pumps records between two rustls connections until both are idle.
fn pump(client: &mut ClientConnection, server: &mut ServerConnection) -> Result<(), rustls::Error> {
    loop {
        let mut moved = false;
        let mut buf = Vec::new();
        while client.wants_write() {
            client.write_tls(&mut buf).unwrap();
        }
        if !buf.is_empty() {
            moved = true;
            let mut slice = buf.as_slice();
            while !slice.is_empty() {
                server.read_tls(&mut slice).unwrap();
                server.process_new_packets()?;
            }
        }
        let mut buf = Vec::new();
        while server.wants_write() {
            server.write_tls(&mut buf).unwrap();
        }
        if !buf.is_empty() {
            moved = true;
            let mut slice = buf.as_slice();
            while !slice.is_empty() {
                client.read_tls(&mut slice).unwrap();
                client.process_new_packets()?;
            }
        }
        if !moved {
            return Ok(());
        }
    }
}

fn connect(
    client: ClientConfig,
    server: ServerConfig,
) -> (
    ClientConnection,
    ServerConnection,
    Result<(), rustls::Error>,
) {
    let name = ServerName::try_from("libp2p").unwrap().to_owned();
    let mut c = ClientConnection::new(Arc::new(client), name).unwrap();
    let mut s = ServerConnection::new(Arc::new(server)).unwrap();
    let result = pump(&mut c, &mut s);
    (c, s, result)
}

#[test]
fn in_memory_handshake_authenticates_both_sides() {
    let (ck, sk) = (
        Keypair::ed25519_from_seed(10),
        Keypair::ed25519_from_seed(11),
    );
    let client = client_config(&ck, Some(sk.public().to_peer_id()), &["/yamux/1.0.0"]).unwrap();
    let server = server_config(&sk, &["/yamux/1.0.0"]).unwrap();
    let (c, s, result) = connect(client, server);
    result.unwrap();
    assert!(!c.is_handshaking() && !s.is_handshaking());
    assert_eq!(c.protocol_version(), Some(rustls::ProtocolVersion::TLSv1_3));
    assert_eq!(
        c.negotiated_cipher_suite().map(|s| s.suite()),
        Some(rustls::CipherSuite::TLS13_AES_128_GCM_SHA256)
    );
    let at_client = remote_info(&c).unwrap();
    let at_server = remote_info(&s).unwrap();
    assert_eq!(at_client.peer_id, sk.public().to_peer_id());
    assert_eq!(at_server.peer_id, ck.public().to_peer_id());
    assert_eq!(at_client.muxer.as_deref(), Some("/yamux/1.0.0"));
    assert_eq!(at_server.muxer.as_deref(), Some("/yamux/1.0.0"));
    assert!(s.server_name().is_none(), "SNI must not be sent");
}

#[test]
fn alpn_without_common_muxer_falls_back_to_libp2p() {
    let (ck, sk) = (
        Keypair::ed25519_from_seed(12),
        Keypair::ed25519_from_seed(13),
    );
    let client = client_config(&ck, None, &["/mplex/6.7.0"]).unwrap();
    let server = server_config(&sk, &["/yamux/1.0.0"]).unwrap();
    let (c, s, result) = connect(client, server);
    result.unwrap();
    assert_eq!(c.alpn_protocol(), Some(ALPN));
    assert_eq!(remote_info(&c).unwrap().muxer, None);
    assert_eq!(remote_info(&s).unwrap().muxer, None);
}

#[test]
fn server_respects_client_alpn_preference() {
    let sk = Keypair::ed25519_from_seed(14);
    let base = Arc::new(server_config(&sk, &["/yamux/1.0.0", "/mplex/6.7.0"]).unwrap());
    let offered: Vec<&[u8]> = vec![b"/mplex/6.7.0", b"/yamux/1.0.0", b"libp2p"];
    let adapted = server_config_for_client_hello(&base, Some(offered.into_iter()));
    assert_eq!(
        adapted.alpn_protocols,
        vec![
            b"/mplex/6.7.0".to_vec(),
            b"/yamux/1.0.0".to_vec(),
            b"libp2p".to_vec()
        ]
    );
    let same: Vec<&[u8]> = vec![b"/yamux/1.0.0", b"libp2p"];
    assert!(Arc::ptr_eq(
        &server_config_for_client_hello(&base, Some(same.into_iter())),
        &base
    ));
    assert!(Arc::ptr_eq(
        &server_config_for_client_hello(&base, None::<std::vec::IntoIter<&[u8]>>),
        &base
    ));
}

#[test]
fn in_memory_peer_id_mismatch_is_typed() {
    let (ck, sk) = (
        Keypair::ed25519_from_seed(20),
        Keypair::ed25519_from_seed(21),
    );
    let wrong = Keypair::ed25519_from_seed(22).public().to_peer_id();
    let client = client_config(&ck, Some(wrong.clone()), &[]).unwrap();
    let server = server_config(&sk, &[]).unwrap();
    let (_, _, result) = connect(client, server);
    let err = result.unwrap_err();
    assert_eq!(
        TlsError::from_rustls(&err),
        Some(&TlsError::PeerIdMismatch {
            expected: wrong,
            actual: sk.public().to_peer_id()
        })
    );
}

#[test]
fn configs_are_tls13_only_without_resumption() {
    let k = Keypair::ed25519_from_seed(30);
    let client = client_config(&k, None, &[]).unwrap();
    assert!(!client.enable_sni);
    assert_eq!(client.alpn_protocols, vec![ALPN.to_vec()]);
    let server = server_config(&k, &["/yamux/1.0.0"]).unwrap();
    assert_eq!(server.send_tls13_tickets, 0);
    assert_eq!(
        server.alpn_protocols,
        vec![b"/yamux/1.0.0".to_vec(), ALPN.to_vec()]
    );
}

/// Replaces the first occurrence of `from` (hex) by `to` (same length) in a vector.
fn patched(vector: &str, from: &str, to: &str) -> Vec<u8> {
    assert_eq!(from.len(), to.len());
    let at = vector.find(from).unwrap();
    assert_eq!(at % 2, 0);
    let mut hex_text = vector.to_string();
    hex_text.replace_range(at..at + from.len(), to);
    hex(&hex_text)
}

#[test]
fn structural_refusals_are_typed() {
    // v2 instead of v3.
    assert_eq!(
        parse_certificate(&patched(VECTOR_ED25519, "a003020102", "a003020101")).unwrap_err(),
        TlsError::UnsupportedVersion
    );
    // The TBS algorithm (first occurrence) says ecdsa-with-SHA384, the outer one SHA-256.
    assert_eq!(
        parse_certificate(&patched(
            VECTOR_ED25519,
            "06082a8648ce3d040302",
            "06082a8648ce3d040303"
        ))
        .unwrap_err(),
        TlsError::SignatureAlgorithmMismatch
    );
    // The SPKI's namedCurve OID replaced by a SEQUENCE (explicit curve parameters).
    assert_eq!(
        parse_certificate(&patched(
            VECTOR_ED25519,
            "06082a8648ce3d030107",
            "30080102030405060708"
        ))
        .unwrap_err(),
        TlsError::NotNamedCurve
    );
    // The SPKI on secp256k1 (1.3.132.0.10), a curve we do not accept for certificate keys.
    assert_eq!(
        parse_certificate(&patched(
            VECTOR_ED25519,
            "06082a8648ce3d030107",
            "06052b8104000a050000"
        ))
        .unwrap_err(),
        TlsError::UnsupportedCertificateKey
    );
    // Both algorithms switched to 1.2.840.10045.4.3.1 (ecdsa-with-SHA224: hash under 256 bits).
    let both = patched(
        &hex::encode(patched(
            VECTOR_ED25519,
            "06082a8648ce3d040302",
            "06082a8648ce3d040301",
        )),
        "06082a8648ce3d040302",
        "06082a8648ce3d040301",
    );
    assert_eq!(
        parse_certificate(&both).unwrap_err(),
        TlsError::UnsupportedSignatureAlgorithm
    );
    // The host key in the extension: protobuf key type 1 (Ed25519) changed to 9.
    assert!(matches!(
        parse_certificate(&patched(VECTOR_ED25519, "0424080112", "0424080912")).unwrap_err(),
        TlsError::HostKey(_)
    ));
}

/// A libp2p certificate whose certificate key uses `algorithm`.
fn certificate_with_key(
    keypair: &Keypair,
    algorithm: &'static rcgen::SignatureAlgorithm,
) -> (Vec<u8>, rcgen::KeyPair) {
    let key = rcgen::KeyPair::generate_for(algorithm).unwrap();
    let mut message = SIGNATURE_PREFIX.to_vec();
    message.extend_from_slice(&key.public_key_der());
    let host = keypair.public().to_protobuf_encoding();
    let signature = keypair.sign(&message);
    let mut params = rcgen::CertificateParams::default();
    params
        .custom_extensions
        .push(rcgen::CustomExtension::from_oid_content(
            LIBP2P_EXTENSION_OID,
            SignedKey {
                public_key: &host,
                signature: &signature,
            }
            .to_der(),
        ));
    let der = params.self_signed(&key).unwrap().der().to_vec();
    (der, key)
}

#[test]
fn other_certificate_key_types_verify() {
    let keypair = Keypair::ed25519_from_seed(40);
    for algorithm in [
        &rcgen::PKCS_ECDSA_P256_SHA256,
        &rcgen::PKCS_ECDSA_P384_SHA384,
        &rcgen::PKCS_ED25519,
    ] {
        let (der, _) = certificate_with_key(&keypair, algorithm);
        assert_eq!(
            parse_certificate(&der).unwrap().peer_id(),
            &keypair.public().to_peer_id(),
            "{algorithm:?}"
        );
    }
}

#[test]
fn host_key_types_round_trip() {
    for keypair in [
        Keypair::generate_ed25519(),
        Keypair::generate_secp256k1(),
        Keypair::generate_ecdsa(),
    ] {
        let (der, _) = make_certificate(&keypair).unwrap();
        let cert = parse_certificate(&der).unwrap();
        assert_eq!(cert.peer_id(), &keypair.public().to_peer_id());
        cert.check_validity(UnixTime::now()).unwrap();
    }
}

proptest::proptest! {
    #[test]
    fn signed_key_der_round_trips(
        public_key in proptest::collection::vec(proptest::num::u8::ANY, 0..600),
        signature in proptest::collection::vec(proptest::num::u8::ANY, 0..600),
    ) {
        let signed = SignedKey { public_key: &public_key, signature: &signature };
        let der = signed.to_der();
        proptest::prop_assert_eq!(SignedKey::from_der(&der).unwrap(), signed);
        // Any strict prefix is refused.
        for cut in [0, 1, der.len() / 2, der.len() - 1] {
            proptest::prop_assert!(SignedKey::from_der(&der[..cut]).is_err());
        }
    }

    #[test]
    fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(proptest::num::u8::ANY, 0..700)) {
        let _ = parse_certificate(&bytes);
        let _ = SignedKey::from_der(&bytes);
    }
}

#[test]
fn identity_reuses_its_certificate_across_connections() {
    let (ck, sk) = (
        Keypair::ed25519_from_seed(50),
        Keypair::ed25519_from_seed(51),
    );
    let client = TlsIdentity::new(&ck).unwrap();
    let server = TlsIdentity::new(&sk).unwrap();
    let mut seen = Vec::new();
    for _ in 0..2 {
        let (c, s, result) = connect(
            client
                .client_config(Some(sk.public().to_peer_id()), &["/yamux/1.0.0"])
                .unwrap(),
            server.server_config(&["/yamux/1.0.0"]).unwrap(),
        );
        result.unwrap();
        assert_eq!(remote_info(&s).unwrap().peer_id, ck.public().to_peer_id());
        seen.push((
            c.peer_certificates().unwrap().to_vec(),
            s.peer_certificates().unwrap().to_vec(),
        ));
    }
    assert_eq!(seen[0], seen[1]);
}

#[test]
fn remembered_certificates_are_still_checked_for_time_and_peer() {
    let cache = Arc::new(VerifiedCertificates::new(2));
    let der = CertificateDer::from(hex(VECTOR_ED25519));
    let peer: PeerId = "12D3KooWM6CgA9iBFZmcYAHA6A2qvbAxqfkmrYiRQuz3XEsk4Ksv"
        .parse()
        .unwrap();
    let verifier = Libp2pCertVerifier::new(Some(peer.clone())).with_cache(Arc::clone(&cache));
    verifier.verify_chain(&der, &[], now()).unwrap();
    assert_eq!(cache.len(), 1);
    // A hit: same answer, nothing added.
    let again = verifier.verify_chain(&der, &[], now()).unwrap();
    assert_eq!(again.peer_id(), &peer);
    assert_eq!(cache.len(), 1);
    // The cached certificate is still refused outside its validity and for another peer.
    let after = UnixTime::since_unix_epoch(std::time::Duration::from_secs(67_090_165_201));
    assert_eq!(
        verifier.verify_chain(&der, &[], after).unwrap_err(),
        TlsError::Expired
    );
    let other = Keypair::ed25519_from_seed(7).public().to_peer_id();
    assert!(matches!(
        Libp2pCertVerifier::new(Some(other))
            .with_cache(Arc::clone(&cache))
            .verify_chain(&der, &[], now()),
        Err(TlsError::PeerIdMismatch { .. })
    ));
}

#[test]
fn refused_certificates_are_not_remembered_and_the_cache_is_bounded() {
    let cache = VerifiedCertificates::new(2);
    assert!(cache.parse(&hex(VECTOR_INVALID)).is_err());
    assert!(cache.is_empty());
    // A one-byte change to a good certificate is a different certificate, verified anew.
    let mut tampered = hex(VECTOR_ECDSA);
    cache.parse(&tampered).unwrap();
    let last = tampered.len() - 1;
    tampered[last] ^= 1;
    assert!(cache.parse(&tampered).is_err());
    assert_eq!(cache.len(), 1);
    for vector in [VECTOR_ED25519, VECTOR_SECP256K1, VECTOR_ECDSA] {
        cache.parse(&hex(vector)).unwrap();
        assert!(cache.len() <= 2);
    }
    assert_eq!(cache.len(), 2);
}
