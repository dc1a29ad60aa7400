//! TEMPORARY stand-in for the identity keys (`crate::identity::{Keypair, PublicKey}`), which are
//! being written on another branch. Ed25519 only, same method names and signatures as the
//! expected API, so that the handshake code does not change when the real types land; this file
//! is then deleted.

use crate::PeerId;

/// An identity key pair (Ed25519 only, temporary).
#[derive(Clone)]
pub struct Keypair(ed25519_dalek::SigningKey);

/// An identity public key (Ed25519 only, temporary).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PublicKey(ed25519_dalek::VerifyingKey);

impl Keypair {
    /// A deterministic key pair for tests.
    pub fn ed25519_from_seed(seed: u64) -> Self {
        let mut bytes = [0u8; 32];
        let (head, _) = bytes.split_at_mut(8);
        head.copy_from_slice(&seed.to_le_bytes());
        Keypair(ed25519_dalek::SigningKey::from_bytes(&bytes))
    }

    /// A fresh Ed25519 key pair.
    pub fn generate_ed25519() -> Self {
        Keypair(ed25519_dalek::SigningKey::generate(&mut rand_core::OsRng))
    }

    /// Signs `msg`.
    pub fn sign(&self, msg: &[u8]) -> Vec<u8> {
        use ed25519_dalek::Signer;
        self.0.sign(msg).to_bytes().to_vec()
    }

    /// The public key.
    pub fn public(&self) -> PublicKey {
        PublicKey(self.0.verifying_key())
    }
}

impl PublicKey {
    /// Verifies `sig` over `msg`.
    pub fn verify(&self, msg: &[u8], sig: &[u8]) -> bool {
        let Ok(sig) = ed25519_dalek::Signature::from_slice(sig) else {
            return false;
        };
        self.0.verify_strict(msg, &sig).is_ok()
    }

    /// The protobuf encoding (`KeyType = Ed25519`, `Data` = 32 bytes).
    pub fn to_protobuf_encoding(&self) -> Vec<u8> {
        let mut out = vec![0x08, 0x01, 0x12, 0x20];
        out.extend_from_slice(self.0.as_bytes());
        out
    }

    /// Parses the protobuf encoding (Ed25519 in canonical field order only).
    pub fn from_protobuf_encoding(bytes: &[u8]) -> Result<PublicKey, String> {
        let Some(key) = bytes.strip_prefix(&[0x08, 0x01, 0x12, 0x20][..]) else {
            return Err("not an Ed25519 key".into());
        };
        let key: [u8; 32] = key.try_into().map_err(|_| "bad length".to_string())?;
        ed25519_dalek::VerifyingKey::from_bytes(&key)
            .map(PublicKey)
            .map_err(|e| e.to_string())
    }

    /// The peer id.
    pub fn to_peer_id(&self) -> PeerId {
        PeerId::from_multihash(0, &self.to_protobuf_encoding())
    }
}
