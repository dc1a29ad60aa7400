//! [`PeerId`]: the multihash of a peer's protobuf-encoded public key.

use std::fmt;
use std::str::FromStr;

use sha2::Digest as _;

use super::PublicKey;

/// Multihash code of the identity "hash" (the key itself, used when it is at most 42 bytes).
pub(crate) const MULTIHASH_IDENTITY: u64 = 0x00;
/// Multihash code of sha2-256.
pub(crate) const MULTIHASH_SHA256: u64 = 0x12;
/// Multicodec of a libp2p public key inside a CIDv1.
const CID_LIBP2P_KEY: u64 = 0x72;
/// Longest identity multihash digest accepted (a protobuf public key of at most 42 bytes).
pub(crate) const MAX_INLINE_KEY_LEN: usize = 42;

/// A peer's identity: the multihash of its protobuf-encoded public key.
///
/// Keys of at most 42 bytes (Ed25519, secp256k1) are inlined with the identity multihash, so the
/// public key can be recovered from the id; longer keys (ECDSA, RSA) are hashed with sha2-256.
/// The text form is base58btc (`12D3KooW…` for Ed25519, `16Uiu2…` for secp256k1, `Qm…` for
/// sha2-256); [`FromStr`] also accepts the CIDv1 form (`bafz…`, libp2p-key codec, base32).
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct PeerId {
    /// The multihash bytes: varint code, varint length, digest. Always valid.
    multihash: Vec<u8>,
}

/// Why bytes or text are not a peer id.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PeerIdError {
    /// The text is neither base58btc nor a multibase CID.
    #[error("peer id is not valid base58btc or multibase text")]
    Encoding,
    /// The multihash is malformed (bad varint, wrong length).
    #[error("peer id is not a well-formed multihash")]
    Multihash,
    /// The multihash uses a hash other than identity or sha2-256, or a wrong digest size.
    #[error("peer id uses unsupported multihash code {0:#x}")]
    UnsupportedHash(u64),
    /// An identity multihash longer than 42 bytes: such keys must be hashed.
    #[error("identity multihash of {0} bytes exceeds 42 bytes")]
    InlineKeyTooLong(usize),
    /// A CID that is not version 1 with the libp2p-key codec.
    #[error("CID is not a CIDv1 with the libp2p-key codec")]
    NotLibp2pKeyCid,
}

impl PeerIdError {
    /// Who was at fault. Always Remote: a peer id that does not decode came from whoever sent or wrote it (the same parser reads local input, where the caller is the sender).
    pub fn fault(&self) -> crate::error::Fault {
        use crate::error::Fault;
        match self {
            PeerIdError::Encoding
            | PeerIdError::Multihash
            | PeerIdError::UnsupportedHash(..)
            | PeerIdError::InlineKeyTooLong(..)
            | PeerIdError::NotLibp2pKeyCid => Fault::Remote,
        }
    }
}

impl PeerId {
    /// Parses the binary multihash form.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, PeerIdError> {
        let (code, rest) = crate::varint::decode(bytes).map_err(|_| PeerIdError::Multihash)?;
        let (len, digest) = crate::varint::decode(rest).map_err(|_| PeerIdError::Multihash)?;
        if digest.len() as u64 != len {
            return Err(PeerIdError::Multihash);
        }
        match code {
            MULTIHASH_IDENTITY if digest.len() > MAX_INLINE_KEY_LEN => {
                return Err(PeerIdError::InlineKeyTooLong(digest.len()))
            }
            MULTIHASH_IDENTITY => {}
            MULTIHASH_SHA256 if digest.len() == 32 => {}
            other => return Err(PeerIdError::UnsupportedHash(other)),
        }
        Ok(PeerId {
            multihash: bytes.to_vec(),
        })
    }

    /// The peer id of a public key: the identity multihash of its protobuf encoding when that
    /// is at most 42 bytes (Ed25519, secp256k1), else its sha2-256 multihash (ECDSA, RSA).
    pub fn from_public_key(key: &PublicKey) -> Self {
        let encoded = key.to_protobuf_encoding();
        if encoded.len() <= MAX_INLINE_KEY_LEN {
            PeerId::from_multihash(MULTIHASH_IDENTITY, &encoded)
        } else {
            PeerId::from_multihash(MULTIHASH_SHA256, &sha2::Sha256::digest(&encoded))
        }
    }

    /// A random peer id: a sha2-256 multihash of 32 random bytes (from the operating system's
    /// RNG). Nobody holds a key for it; it is meant for tests and placeholders.
    pub fn random() -> Self {
        let digest: [u8; 32] = rand::random();
        PeerId::from_multihash(MULTIHASH_SHA256, &digest)
    }

    /// Builds a peer id from a multihash code and digest (internal: codes are trusted).
    pub(crate) fn from_multihash(code: u64, digest: &[u8]) -> Self {
        let mut multihash = Vec::with_capacity(digest.len() + 2);
        crate::varint::encode(code, &mut multihash);
        crate::varint::encode(digest.len() as u64, &mut multihash);
        multihash.extend_from_slice(digest);
        PeerId { multihash }
    }

    /// The binary multihash form.
    pub fn as_bytes(&self) -> &[u8] {
        &self.multihash
    }

    /// The binary multihash form, owned.
    pub fn to_bytes(&self) -> Vec<u8> {
        self.multihash.clone()
    }

    /// The base58btc text form.
    pub fn to_base58(&self) -> String {
        bs58::encode(&self.multihash).into_string()
    }

    /// The digest of an identity multihash: the protobuf-encoded public key, when inlined.
    pub fn inline_key(&self) -> Option<&[u8]> {
        let (code, rest) = crate::varint::decode(&self.multihash).ok()?;
        let (_, digest) = crate::varint::decode(rest).ok()?;
        (code == MULTIHASH_IDENTITY).then_some(digest)
    }

    /// The public key inlined in an identity-multihash peer id (Ed25519 and secp256k1 keys), or
    /// `None` for a sha2-256 peer id or when the inlined bytes are not a valid public key.
    pub fn to_public_key(&self) -> Option<PublicKey> {
        let key = PublicKey::from_protobuf_encoding(self.inline_key()?).ok()?;
        // A key whose canonical encoding differs from the inlined bytes does not own this id.
        (PeerId::from_public_key(&key) == *self).then_some(key)
    }

    /// Whether `key` is the key this peer id was derived from.
    pub fn is_public_key(&self, key: &PublicKey) -> bool {
        PeerId::from_public_key(key) == *self
    }

    /// The CIDv1 text form (multibase base32, libp2p-key codec).
    pub fn to_cid_string(&self) -> String {
        let mut cid = vec![0x01];
        crate::varint::encode(CID_LIBP2P_KEY, &mut cid);
        cid.extend_from_slice(&self.multihash);
        format!(
            "b{}",
            data_encoding::BASE32_NOPAD.encode(&cid).to_lowercase()
        )
    }
}

impl FromStr for PeerId {
    type Err = PeerIdError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        // Legacy base58btc multihash: `Qm…` (sha2-256) and `1…` (identity).
        if s.starts_with("Qm") || s.starts_with('1') {
            let bytes = bs58::decode(s)
                .into_vec()
                .map_err(|_| PeerIdError::Encoding)?;
            return PeerId::from_bytes(&bytes);
        }
        // Otherwise a multibase CID: only base32 lower ('b') is required by the spec.
        let Some(body) = s.strip_prefix('b') else {
            return Err(PeerIdError::Encoding);
        };
        let cid = data_encoding::BASE32_NOPAD
            .decode(body.to_ascii_uppercase().as_bytes())
            .map_err(|_| PeerIdError::Encoding)?;
        let (version, rest) =
            crate::varint::decode(&cid).map_err(|_| PeerIdError::NotLibp2pKeyCid)?;
        let (codec, multihash) =
            crate::varint::decode(rest).map_err(|_| PeerIdError::NotLibp2pKeyCid)?;
        if version != 1 || codec != CID_LIBP2P_KEY {
            return Err(PeerIdError::NotLibp2pKeyCid);
        }
        PeerId::from_bytes(multihash)
    }
}

impl fmt::Display for PeerId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_base58())
    }
}

impl fmt::Debug for PeerId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PeerId({})", self.to_base58())
    }
}
