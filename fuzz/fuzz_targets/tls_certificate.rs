//! The libp2p TLS certificate checks on arbitrary bytes: the whole X.509 parser and
//! verification (`parse_certificate`), and the `SignedKey` extension parser with a DER round
//! trip. Seed the corpus with the spec's test vectors to start from valid certificates.
#![no_main]

use libfuzzer_sys::fuzz_target;
use peernet_core::tls::{parse_certificate, SignedKey};

fuzz_target!(|data: &[u8]| {
    if let Ok(cert) = parse_certificate(data) {
        // Whatever is accepted must be self-consistent.
        assert_eq!(cert.public_key().to_peer_id(), *cert.peer_id());
    }
    if let Ok(signed) = SignedKey::from_der(data) {
        // The parser is strict DER: re-encoding gives back exactly the input.
        assert_eq!(signed.to_der(), data);
    }
});
