//! Key pairs and public keys, with the protobuf encodings of libp2p/specs `peer-ids/peer-ids.md`.
//!
//! | type      | public `Data`                     | private `Data`                    | signature                  |
//! |-----------|-----------------------------------|-----------------------------------|----------------------------|
//! | Ed25519   | 32-byte key                       | secret ‖ public (64; legacy 96)   | RFC 8032                   |
//! | Secp256k1 | 33-byte compressed SEC1 point     | 32-byte scalar                    | ECDSA(sha256), DER         |
//! | ECDSA     | PKIX DER, P-256                   | SEC1 `ECPrivateKey` DER           | ECDSA(sha256), DER         |
//! | RSA       | PKIX DER, 2048–8192 bits          | (not supported: verify only)      | PKCS#1 v1.5 with SHA-256   |

use std::fmt;

use k256::ecdsa::signature::{Signer as _, Verifier as _};
use p256::pkcs8::DecodePublicKey as _;
use zeroize::Zeroizing;

use super::der;
use super::PeerId;
use crate::protobuf::{self, ProtobufError, Reader, Writer};

/// Smallest RSA modulus accepted, in bits (go-libp2p refuses smaller keys as well).
pub const MIN_RSA_BITS: usize = 2048;
/// Largest RSA modulus accepted, in bits: larger keys make verification a denial-of-service
/// vector (go-libp2p advisory GHSA-876p-8259-xjgg).
pub const MAX_RSA_BITS: usize = 8192;

/// Longest `Data` of a public key accepted: an RSA-8192 PKIX key is about 1.1 KB.
const MAX_PUBLIC_KEY_DATA: usize = 2048;
/// Longest `Data` of a private key accepted.
const MAX_PRIVATE_KEY_DATA: usize = 4096;

/// The PKIX `SubjectPublicKeyInfo` DER of a P-256 key up to its 65-byte uncompressed point:
/// SEQUENCE { SEQUENCE { id-ecPublicKey, prime256v1 }, BIT STRING { 0 unused bits, point } }.
const P256_SPKI_PREFIX: [u8; 26] = [
    0x30, 0x59, 0x30, 0x13, 0x06, 0x07, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01, 0x06, 0x08, 0x2a,
    0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07, 0x03, 0x42, 0x00,
];

/// The canonical PKIX DER of a P-256 public key (uncompressed point), as Go's
/// `x509.MarshalPKIXPublicKey` writes it.
fn p256_spki(key: &p256::ecdsa::VerifyingKey) -> Vec<u8> {
    let point = key.to_encoded_point(false);
    let mut der = Vec::with_capacity(P256_SPKI_PREFIX.len() + 65);
    der.extend_from_slice(&P256_SPKI_PREFIX);
    der.extend_from_slice(point.as_bytes());
    der
}

/// The SEC1 `ECPrivateKey` DER (RFC 5915) of a P-256 key exactly as Go's
/// `x509.MarshalECPrivateKey` writes it: version 1, the 32-byte scalar, the curve OID in `[0]`
/// and the uncompressed public point in `[1]`. (The `p256` crate's encoder omits the curve.)
fn p256_sec1_der(key: &p256::ecdsa::SigningKey) -> Zeroizing<Vec<u8>> {
    const HEAD: [u8; 7] = [0x30, 0x77, 0x02, 0x01, 0x01, 0x04, 0x20];
    const CURVE_AND_POINT_HEAD: [u8; 16] = [
        0xa0, 0x0a, 0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07, 0xa1, 0x44, 0x03,
        0x42,
    ];
    let point = key.verifying_key().to_encoded_point(false);
    let mut der = Zeroizing::new(Vec::with_capacity(121));
    der.extend_from_slice(&HEAD);
    der.extend_from_slice(&key.to_bytes());
    der.extend_from_slice(&CURVE_AND_POINT_HEAD);
    der.push(0x00); // no unused bits in the BIT STRING
    der.extend_from_slice(point.as_bytes());
    der
}

/// Protobuf field numbers of the `PublicKey` and `PrivateKey` messages.
const FIELD_TYPE: u32 = 1;
const FIELD_DATA: u32 = 2;

/// The four key types of the libp2p key protobuf.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum KeyType {
    /// RSA (protobuf value 0); peernet verifies RSA signatures but cannot hold RSA key pairs.
    Rsa,
    /// Ed25519 (protobuf value 1), the default.
    Ed25519,
    /// Secp256k1 (protobuf value 2), as Bitcoin and Ethereum use it.
    Secp256k1,
    /// ECDSA over NIST P-256 (protobuf value 3).
    Ecdsa,
}

impl KeyType {
    /// The value of the `KeyType` protobuf enum.
    pub fn protobuf_value(self) -> u64 {
        match self {
            KeyType::Rsa => 0,
            KeyType::Ed25519 => 1,
            KeyType::Secp256k1 => 2,
            KeyType::Ecdsa => 3,
        }
    }

    /// The key type with the given protobuf enum value.
    pub fn from_protobuf_value(value: u64) -> Option<KeyType> {
        match value {
            0 => Some(KeyType::Rsa),
            1 => Some(KeyType::Ed25519),
            2 => Some(KeyType::Secp256k1),
            3 => Some(KeyType::Ecdsa),
            _ => None,
        }
    }
}

impl fmt::Display for KeyType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            KeyType::Rsa => "RSA",
            KeyType::Ed25519 => "Ed25519",
            KeyType::Secp256k1 => "Secp256k1",
            KeyType::Ecdsa => "ECDSA",
        })
    }
}

/// Why bytes are not a usable key.
///
/// Keys arrive from peers (public keys in handshakes and records) or from local files (private
/// keys); the sender or the file's author is at fault unless a variant says otherwise.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KeyError {
    /// The key protobuf itself is malformed (truncated, wrong wire type, missing field...).
    /// The sender is at fault.
    #[error("malformed key protobuf")]
    Protobuf(#[from] ProtobufError),
    /// The `Type` field holds a value outside the `KeyType` enum. The sender is at fault.
    #[error("unknown key type {0}")]
    UnknownKeyType(u64),
    /// The `Data` field is not a valid key of the announced type (wrong length, point not on
    /// the curve, bad DER, scalar out of range, non-canonical encoding...). The sender is at
    /// fault.
    #[error("invalid {0} key data")]
    InvalidKey(KeyType),
    /// An ECDSA key on a curve other than P-256. The sender is at fault (or uses a curve we do
    /// not support: go-libp2p can parse P-384/P-521 keys but never generates them).
    #[error("ECDSA key is not on the P-256 curve")]
    UnsupportedCurve,
    /// An RSA key whose modulus is outside 2048–8192 bits. The sender is at fault.
    #[error("RSA key of {bits} bits is outside the accepted range 2048..=8192")]
    RsaKeySize {
        /// The size of the modulus found.
        bits: usize,
    },
    /// A private key of a type peernet cannot sign with (RSA). The key file's author is at
    /// fault, or the caller loaded a key peernet does not support.
    #[error("{0} private keys are not supported")]
    UnsupportedPrivateKey(KeyType),
    /// The public half stored in a private key does not match the secret half (including the
    /// two copies in the legacy 96-byte Ed25519 form). The key file is corrupt.
    #[error("public key stored with the private key does not match it")]
    PublicKeyMismatch,
}

impl KeyError {
    /// Who was at fault. Remote for a key received from a peer (its encoding, type, curve or size); Local for a private key file we were asked to load.
    pub fn fault(&self) -> crate::error::Fault {
        use crate::error::Fault;
        match self {
            KeyError::Protobuf(..)
            | KeyError::UnknownKeyType(..)
            | KeyError::InvalidKey(..)
            | KeyError::UnsupportedCurve
            | KeyError::RsaKeySize { .. } => Fault::Remote,
            KeyError::UnsupportedPrivateKey(..) | KeyError::PublicKeyMismatch => Fault::Local,
        }
    }
}

/// The parsed, ready-to-verify form of a public key.
#[derive(Clone)]
enum Verifier {
    Ed25519(ed25519_dalek::VerifyingKey),
    Secp256k1(k256::ecdsa::VerifyingKey),
    Ecdsa(p256::ecdsa::VerifyingKey),
    /// RSA keys are verified by ring from the PKCS#1 DER, kept here.
    Rsa {
        pkcs1: Vec<u8>,
    },
}

/// A public key of any supported type.
///
/// Two public keys are equal when their type and encoding are equal. The encoding is always
/// the canonical one (parsing refuses alternative encodings such as uncompressed secp256k1
/// points), so equal keys have equal peer ids.
#[derive(Clone)]
pub struct PublicKey {
    key_type: KeyType,
    /// The canonical `Data` field of the protobuf encoding.
    data: Vec<u8>,
    verifier: Verifier,
}

impl PublicKey {
    /// The key's type.
    pub fn key_type(&self) -> KeyType {
        self.key_type
    }

    /// The key in its type-specific encoding (the protobuf `Data` field): 32 bytes for
    /// Ed25519, a compressed point for secp256k1, PKIX DER for ECDSA and RSA.
    pub fn encoded_key(&self) -> &[u8] {
        &self.data
    }

    /// Checks `signature` over `msg` with this key, using the key type's signature scheme.
    /// Returns false for any malformed signature.
    pub fn verify(&self, msg: &[u8], signature: &[u8]) -> bool {
        match &self.verifier {
            Verifier::Ed25519(key) => ed25519_dalek::Signature::from_slice(signature)
                .is_ok_and(|sig| key.verify(msg, &sig).is_ok()),
            Verifier::Secp256k1(key) => {
                let Ok(sig) = k256::ecdsa::Signature::from_der(signature) else {
                    return false;
                };
                // k256 only accepts low-S signatures (BIP 62); go-libp2p (btcec) accepts
                // both, so normalise first to verify what go peers verify.
                let sig = sig.normalize_s().unwrap_or(sig);
                key.verify(msg, &sig).is_ok()
            }
            Verifier::Ecdsa(key) => p256::ecdsa::Signature::from_der(signature)
                .is_ok_and(|sig| key.verify(msg, &sig).is_ok()),
            Verifier::Rsa { pkcs1 } => ring::signature::UnparsedPublicKey::new(
                &ring::signature::RSA_PKCS1_2048_8192_SHA256,
                pkcs1,
            )
            .verify(msg, signature)
            .is_ok(),
        }
    }

    /// The protobuf `PublicKey` encoding (type, then data), deterministic as the spec requires.
    pub fn to_protobuf_encoding(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.data.len() + 8);
        let mut w = Writer::new(&mut out);
        w.varint(FIELD_TYPE, self.key_type.protobuf_value());
        w.bytes(FIELD_DATA, &self.data);
        out
    }

    /// Parses a protobuf `PublicKey`. Unknown fields are skipped; duplicated fields, unknown
    /// key types and invalid or non-canonical key data are refused.
    pub fn from_protobuf_encoding(bytes: &[u8]) -> Result<PublicKey, KeyError> {
        let (key_type, data) = decode_key_message(bytes, MAX_PUBLIC_KEY_DATA)?;
        PublicKey::from_encoded_key(key_type, data)
    }

    /// Builds a public key from its type-specific encoding (the protobuf `Data` field).
    pub fn from_encoded_key(key_type: KeyType, data: &[u8]) -> Result<PublicKey, KeyError> {
        let invalid = || KeyError::InvalidKey(key_type);
        let verifier = match key_type {
            KeyType::Ed25519 => {
                let bytes: &[u8; 32] = data.try_into().map_err(|_| invalid())?;
                Verifier::Ed25519(
                    ed25519_dalek::VerifyingKey::from_bytes(bytes).map_err(|_| invalid())?,
                )
            }
            KeyType::Secp256k1 => {
                // Only the compressed form is canonical: accepting the 65-byte form would give
                // one key two encodings, hence two peer ids.
                if data.len() != 33 {
                    return Err(invalid());
                }
                Verifier::Secp256k1(
                    k256::ecdsa::VerifyingKey::from_sec1_bytes(data).map_err(|_| invalid())?,
                )
            }
            KeyType::Ecdsa => {
                let key = p256::PublicKey::from_public_key_der(data).map_err(|_| {
                    // A well-formed EC key on another curve gets its own error.
                    match p256::pkcs8::spki::SubjectPublicKeyInfoRef::try_from(data) {
                        Ok(spki) if spki.algorithm.oid == p256::elliptic_curve::ALGORITHM_OID => {
                            KeyError::UnsupportedCurve
                        }
                        _ => invalid(),
                    }
                })?;
                let key = p256::ecdsa::VerifyingKey::from(key);
                // Refuse alternative encodings (e.g. a compressed point inside the PKIX).
                if p256_spki(&key) != data {
                    return Err(invalid());
                }
                Verifier::Ecdsa(key)
            }
            KeyType::Rsa => {
                let spki = der::parse_rsa_spki(data).map_err(|_| invalid())?;
                if !(MIN_RSA_BITS..=MAX_RSA_BITS).contains(&spki.modulus_bits) {
                    return Err(KeyError::RsaKeySize {
                        bits: spki.modulus_bits,
                    });
                }
                Verifier::Rsa {
                    pkcs1: spki.pkcs1.to_vec(),
                }
            }
        };
        Ok(PublicKey {
            key_type,
            data: data.to_vec(),
            verifier,
        })
    }

    /// The peer id of this key.
    pub fn to_peer_id(&self) -> PeerId {
        PeerId::from_public_key(self)
    }
}

impl PartialEq for PublicKey {
    fn eq(&self, other: &Self) -> bool {
        self.key_type == other.key_type && self.data == other.data
    }
}

impl Eq for PublicKey {}

impl std::hash::Hash for PublicKey {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.key_type.hash(state);
        self.data.hash(state);
    }
}

impl fmt::Debug for PublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PublicKey")
            .field("type", &self.key_type)
            .field("peer_id", &self.to_peer_id())
            .finish()
    }
}

/// Reads the `Type` and `Data` fields shared by the `PublicKey` and `PrivateKey` messages.
fn decode_key_message(bytes: &[u8], max_data: usize) -> Result<(KeyType, &[u8]), KeyError> {
    let mut reader = Reader::new(bytes);
    let mut key_type = None;
    let mut data = None;
    while let Some(field) = reader.next_field()? {
        match field.number {
            FIELD_TYPE => protobuf::set_once(&mut key_type, FIELD_TYPE, field.varint()?)?,
            FIELD_DATA => protobuf::set_once(&mut data, FIELD_DATA, field.bytes(max_data)?)?,
            _ => {} // unknown fields of a valid wire type are skipped
        }
    }
    let key_type = key_type.ok_or(ProtobufError::MissingField("Type"))?;
    let data = data.ok_or(ProtobufError::MissingField("Data"))?;
    let key_type =
        KeyType::from_protobuf_value(key_type).ok_or(KeyError::UnknownKeyType(key_type))?;
    Ok((key_type, data))
}

/// The secret half of a key pair. The crates' key types zeroize themselves on drop.
#[derive(Clone)]
enum SecretKey {
    Ed25519(ed25519_dalek::SigningKey),
    Secp256k1(k256::ecdsa::SigningKey),
    Ecdsa(p256::ecdsa::SigningKey),
}

/// A key pair that can sign: Ed25519, secp256k1 or ECDSA P-256.
///
/// The secret is zeroized when the key pair is dropped, and `Debug` only shows the public half.
#[derive(Clone)]
pub struct Keypair {
    secret: SecretKey,
    public: PublicKey,
}

impl Keypair {
    /// A new random Ed25519 key pair (from the operating system's RNG).
    pub fn generate_ed25519() -> Keypair {
        Keypair::from_ed25519(ed25519_dalek::SigningKey::generate(&mut rand_core::OsRng))
    }

    /// A new random secp256k1 key pair (from the operating system's RNG).
    pub fn generate_secp256k1() -> Keypair {
        Keypair::from_secp256k1(k256::ecdsa::SigningKey::random(&mut rand_core::OsRng))
    }

    /// A new random ECDSA P-256 key pair (from the operating system's RNG).
    pub fn generate_ecdsa() -> Keypair {
        Keypair::from_ecdsa(p256::ecdsa::SigningKey::random(&mut rand_core::OsRng))
    }

    /// A deterministic Ed25519 key pair for tests and examples: the secret is `seed` as eight
    /// little-endian bytes followed by 24 zero bytes. Never use it for a real identity.
    pub fn ed25519_from_seed(seed: u64) -> Keypair {
        let mut secret = Zeroizing::new([0u8; 32]);
        if let Some(head) = secret.first_chunk_mut::<8>() {
            *head = seed.to_le_bytes();
        }
        Keypair::ed25519_from_secret(*secret)
    }

    /// The Ed25519 key pair with the given 32-byte secret (the RFC 8032 private key).
    pub fn ed25519_from_secret(secret: [u8; 32]) -> Keypair {
        let secret = Zeroizing::new(secret);
        Keypair::from_ed25519(ed25519_dalek::SigningKey::from_bytes(&secret))
    }

    fn from_ed25519(key: ed25519_dalek::SigningKey) -> Keypair {
        let public = key.verifying_key();
        Keypair {
            public: PublicKey {
                key_type: KeyType::Ed25519,
                data: public.to_bytes().to_vec(),
                verifier: Verifier::Ed25519(public),
            },
            secret: SecretKey::Ed25519(key),
        }
    }

    fn from_secp256k1(key: k256::ecdsa::SigningKey) -> Keypair {
        let public = *key.verifying_key();
        Keypair {
            public: PublicKey {
                key_type: KeyType::Secp256k1,
                data: public.to_encoded_point(true).as_bytes().to_vec(),
                verifier: Verifier::Secp256k1(public),
            },
            secret: SecretKey::Secp256k1(key),
        }
    }

    fn from_ecdsa(key: p256::ecdsa::SigningKey) -> Keypair {
        let public = *key.verifying_key();
        Keypair {
            public: PublicKey {
                key_type: KeyType::Ecdsa,
                data: p256_spki(&public),
                verifier: Verifier::Ecdsa(public),
            },
            secret: SecretKey::Ecdsa(key),
        }
    }

    /// The public half.
    pub fn public(&self) -> &PublicKey {
        &self.public
    }

    /// The key type.
    pub fn key_type(&self) -> KeyType {
        self.public.key_type
    }

    /// The peer id of the public half.
    pub fn to_peer_id(&self) -> PeerId {
        self.public.to_peer_id()
    }

    /// Signs `msg` with the key type's signature scheme: a 64-byte Ed25519 signature, or a
    /// DER-encoded ECDSA signature over sha256(msg) for secp256k1 (low-S) and P-256.
    pub fn sign(&self, msg: &[u8]) -> Vec<u8> {
        match &self.secret {
            SecretKey::Ed25519(key) => key.sign(msg).to_bytes().to_vec(),
            SecretKey::Secp256k1(key) => {
                let sig: k256::ecdsa::Signature = key.sign(msg);
                sig.to_der().as_bytes().to_vec()
            }
            SecretKey::Ecdsa(key) => {
                let sig: p256::ecdsa::Signature = key.sign(msg);
                sig.to_der().as_bytes().to_vec()
            }
        }
    }

    /// The protobuf `PrivateKey` encoding, as go-libp2p's `MarshalPrivateKey` writes it:
    /// Ed25519 as secret ‖ public (64 bytes), secp256k1 as the raw 32-byte scalar, ECDSA as a
    /// SEC1 `ECPrivateKey` DER with the curve and the public key.
    ///
    /// The result holds the secret: wipe it when done (e.g. with `zeroize`).
    pub fn to_protobuf_encoding(&self) -> Vec<u8> {
        let data: Zeroizing<Vec<u8>> = match &self.secret {
            SecretKey::Ed25519(key) => Zeroizing::new(key.to_keypair_bytes().to_vec()),
            SecretKey::Secp256k1(key) => Zeroizing::new(key.to_bytes().to_vec()),
            SecretKey::Ecdsa(key) => p256_sec1_der(key),
        };
        let mut out = Vec::with_capacity(data.len() + 8);
        let mut w = Writer::new(&mut out);
        w.varint(FIELD_TYPE, self.key_type().protobuf_value());
        w.bytes(FIELD_DATA, &data);
        out
    }

    /// Parses a protobuf `PrivateKey` (as written by go-libp2p, rust-libp2p and
    /// [`Keypair::to_protobuf_encoding`]). Ed25519 accepts the 64-byte form and the legacy
    /// 96-byte form (secret ‖ public ‖ public), checking the public copies against the secret.
    /// RSA private keys are refused with [`KeyError::UnsupportedPrivateKey`].
    pub fn from_protobuf_encoding(bytes: &[u8]) -> Result<Keypair, KeyError> {
        let (key_type, data) = decode_key_message(bytes, MAX_PRIVATE_KEY_DATA)?;
        let invalid = || KeyError::InvalidKey(key_type);
        match key_type {
            KeyType::Ed25519 => {
                let (secret, publics) = data.split_first_chunk::<32>().ok_or_else(invalid)?;
                let public = match publics.len() {
                    32 => publics,
                    64 => {
                        let (first, second) = publics.split_at(32);
                        if first != second {
                            return Err(KeyError::PublicKeyMismatch);
                        }
                        first
                    }
                    _ => return Err(invalid()),
                };
                let keypair = Keypair::ed25519_from_secret(*secret);
                if keypair.public.data != public {
                    return Err(KeyError::PublicKeyMismatch);
                }
                Ok(keypair)
            }
            KeyType::Secp256k1 => {
                // from_slice would zero-pad short scalars: insist on exactly 32 bytes.
                if data.len() != 32 {
                    return Err(invalid());
                }
                let key = k256::ecdsa::SigningKey::from_slice(data).map_err(|_| invalid())?;
                Ok(Keypair::from_secp256k1(key))
            }
            KeyType::Ecdsa => {
                // from_sec1_der checks the curve parameters and the embedded public key.
                let key = p256::SecretKey::from_sec1_der(data).map_err(|_| invalid())?;
                Ok(Keypair::from_ecdsa(p256::ecdsa::SigningKey::from(key)))
            }
            KeyType::Rsa => Err(KeyError::UnsupportedPrivateKey(KeyType::Rsa)),
        }
    }
}

impl fmt::Debug for Keypair {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Keypair")
            .field("public", &self.public)
            .finish_non_exhaustive()
    }
}
