//! Signed envelopes and peer records on arbitrary bytes: envelope opening with a domain, peer
//! record opening (payload type, signature, signer checks) and peer record decoding, which
//! must round-trip when it succeeds.
#![no_main]

use libfuzzer_sys::fuzz_target;
use peernet_core::identity::{PeerRecord, SignedEnvelope};

fuzz_target!(|data: &[u8]| {
    if let Ok(envelope) = SignedEnvelope::open(data, "libp2p-peer-record") {
        let again = SignedEnvelope::open(&envelope.to_protobuf_encoding(), "libp2p-peer-record")
            .expect("re-encoded envelope opens");
        assert_eq!(again, envelope);
    }
    if let Ok((record, envelope)) = PeerRecord::open(data) {
        assert_eq!(record.peer_id, envelope.signer());
    }
    if let Ok(record) = PeerRecord::from_protobuf_encoding(data) {
        let again = PeerRecord::from_protobuf_encoding(&record.to_protobuf_encoding())
            .expect("re-encoded record decodes");
        assert_eq!(again, record);
    }
});
