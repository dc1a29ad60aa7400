//! TEMPORARY stand-in for the identity keys (branch `identity`, not merged yet): the subset of
//! `Keypair`/`PublicKey`/`KeyError` the TLS code uses, with the same names and signatures, so
//! that switching to `crate::identity` is a one-line change in `tls/mod.rs`.
#![allow(missing_docs, dead_code)]

use crate::PeerId;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KeyError {
    #[error("malformed key protobuf")]
    Protobuf,
    #[error("invalid key data")]
    InvalidKey,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PublicKey {
    key_type: u8,
    data: Vec<u8>,
}

impl PublicKey {
    pub fn verify(&self, msg: &[u8], sig: &[u8]) -> bool {
        use ed25519_dalek::Verifier as _;
        use p256::pkcs8::DecodePublicKey as _;
        match self.key_type {
            1 => {
                let Ok(bytes) = <&[u8; 32]>::try_from(self.data.as_slice()) else {
                    return false;
                };
                let Ok(key) = ed25519_dalek::VerifyingKey::from_bytes(bytes) else {
                    return false;
                };
                ed25519_dalek::Signature::from_slice(sig).is_ok_and(|s| key.verify(msg, &s).is_ok())
            }
            2 => {
                let Ok(key) = k256::ecdsa::VerifyingKey::from_sec1_bytes(&self.data) else {
                    return false;
                };
                let Ok(s) = k256::ecdsa::Signature::from_der(sig) else {
                    return false;
                };
                let s = s.normalize_s().unwrap_or(s);
                k256::ecdsa::signature::Verifier::verify(&key, msg, &s).is_ok()
            }
            3 => {
                let Ok(key) = p256::ecdsa::VerifyingKey::from_public_key_der(&self.data) else {
                    return false;
                };
                let Ok(s) = p256::ecdsa::Signature::from_der(sig) else {
                    return false;
                };
                p256::ecdsa::signature::Verifier::verify(&key, msg, &s).is_ok()
            }
            _ => false,
        }
    }

    pub fn to_protobuf_encoding(&self) -> Vec<u8> {
        let mut out = vec![0x08, self.key_type, 0x12];
        crate::varint::encode(self.data.len() as u64, &mut out);
        out.extend_from_slice(&self.data);
        out
    }

    pub fn from_protobuf_encoding(bytes: &[u8]) -> Result<PublicKey, KeyError> {
        let (&tag, rest) = bytes.split_first().ok_or(KeyError::Protobuf)?;
        let (&key_type, rest) = rest.split_first().ok_or(KeyError::Protobuf)?;
        let (&tag2, rest) = rest.split_first().ok_or(KeyError::Protobuf)?;
        if tag != 0x08 || tag2 != 0x12 || !(1..=3).contains(&key_type) {
            return Err(KeyError::Protobuf);
        }
        let (len, rest) = crate::varint::decode(rest).map_err(|_| KeyError::Protobuf)?;
        if rest.len() as u64 != len {
            return Err(KeyError::Protobuf);
        }
        let key = PublicKey {
            key_type,
            data: rest.to_vec(),
        };
        let valid = match key_type {
            1 => rest.len() == 32,
            2 => k256::PublicKey::from_sec1_bytes(rest).is_ok() && rest.len() == 33,
            _ => {
                use p256::pkcs8::DecodePublicKey as _;
                p256::PublicKey::from_public_key_der(rest).is_ok()
            }
        };
        if valid {
            Ok(key)
        } else {
            Err(KeyError::InvalidKey)
        }
    }

    pub fn to_peer_id(&self) -> PeerId {
        let encoded = self.to_protobuf_encoding();
        if encoded.len() <= 42 {
            PeerId::from_multihash(0x00, &encoded)
        } else {
            use sha2::Digest as _;
            PeerId::from_multihash(0x12, &sha2::Sha256::digest(&encoded))
        }
    }
}

#[derive(Clone)]
pub struct Keypair {
    signing: ed25519_dalek::SigningKey,
    public: PublicKey,
}

impl Keypair {
    pub fn ed25519_from_seed(seed: u64) -> Keypair {
        let mut secret = [0u8; 32];
        secret[..8].copy_from_slice(&seed.to_le_bytes());
        Self::from_signing(ed25519_dalek::SigningKey::from_bytes(&secret))
    }

    pub fn generate_ed25519() -> Keypair {
        Self::from_signing(ed25519_dalek::SigningKey::generate(&mut rand::rngs::OsRng))
    }

    fn from_signing(signing: ed25519_dalek::SigningKey) -> Keypair {
        let public = PublicKey {
            key_type: 1,
            data: signing.verifying_key().to_bytes().to_vec(),
        };
        Keypair { signing, public }
    }

    pub fn public(&self) -> &PublicKey {
        &self.public
    }

    pub fn sign(&self, msg: &[u8]) -> Vec<u8> {
        use ed25519_dalek::Signer as _;
        self.signing.sign(msg).to_bytes().to_vec()
    }
}
