//! ECIES as RLPx uses it (rlpx.md, "ECIES Encryption"): secp256k1 ECDH, the NIST SP 800-56
//! concatenation KDF over SHA-256, AES-128-CTR and HMAC-SHA256 keyed with `sha256(kM)`.
//!
//! A message is `R || iv || c || d` where `R` is the sender's 65-byte uncompressed ephemeral
//! public key, `c = AES-128-CTR(kE, iv, m)` and `d = HMAC-SHA256(sha256(kM), iv || c || s2)`;
//! `s2` is the "shared MAC data" (EIP-8: the 2-byte size prefix of the packet; empty for the
//! legacy handshake).

use aes::cipher::{KeyIvInit, StreamCipher};
use hmac::{Hmac, Mac};
use k256::elliptic_curve::sec1::ToEncodedPoint;
use k256::{PublicKey, SecretKey};
use peernet_core::Fault;
use rand::{CryptoRng, RngCore};
use sha2::{Digest, Sha256};

type Aes128Ctr = ctr::Ctr128BE<aes::Aes128>;
type HmacSha256 = Hmac<Sha256>;

/// Bytes ECIES adds to a plaintext: ephemeral key (65), IV (16) and tag (32).
pub const ECIES_OVERHEAD: usize = 65 + 16 + 32;

/// Why an ECIES message could not be decrypted. All variants are the sender's fault.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum EciesError {
    /// Shorter than the fixed overhead (sender's fault: truncated message).
    #[error("ecies: message too short")]
    TooShort,
    /// The ephemeral key `R` is not an uncompressed point on secp256k1 (sender's fault; such a
    /// point must never reach the ECDH, see GHSA-m6j8-rg6r-7mv8).
    #[error("ecies: invalid ephemeral public key")]
    InvalidPublicKey,
    /// The HMAC tag does not match: wrong recipient key, corrupted or forged message (sender's
    /// fault).
    #[error("ecies: message authentication failed")]
    MacMismatch,
}

impl EciesError {
    /// Whose fault: always [`Fault::Remote`], the sender of the message.
    pub fn fault(&self) -> Fault {
        match self {
            EciesError::TooShort | EciesError::InvalidPublicKey | EciesError::MacMismatch => {
                Fault::Remote
            }
        }
    }
}

/// secp256k1 ECDH: the x coordinate of `sk * pk`.
pub(crate) fn ecdh(sk: &SecretKey, pk: &PublicKey) -> [u8; 32] {
    let shared = k256::ecdh::diffie_hellman(sk.to_nonzero_scalar(), pk.as_affine());
    let mut out = [0u8; 32];
    out.copy_from_slice(shared.raw_secret_bytes());
    out
}

/// Concatenation KDF (NIST SP 800-56A 5.8.1) with SHA-256 and empty OtherInfo, for 32 bytes:
/// one block, counter 1.
fn concat_kdf(z: &[u8; 32]) -> [u8; 32] {
    let mut h = Sha256::new();
    h.update(1u32.to_be_bytes());
    h.update(z);
    h.finalize().into()
}

fn keys(shared: &[u8; 32]) -> ([u8; 16], [u8; 32]) {
    let k = concat_kdf(shared);
    let mut ke = [0u8; 16];
    let mut km = [0u8; 16];
    ke.copy_from_slice(&k[..16]);
    km.copy_from_slice(&k[16..]);
    (ke, Sha256::digest(km).into())
}

fn tag(mac_key: &[u8; 32], iv_and_c: &[u8], s2: &[u8]) -> HmacSha256 {
    // HMAC zero-pads keys shorter than the 64-byte block, so padding it here is the same key
    // and lets us use the infallible fixed-size constructor.
    let mut block = [0u8; 64];
    block[..32].copy_from_slice(mac_key);
    let mut m = <HmacSha256 as hmac::digest::KeyInit>::new(&block.into());
    m.update(iv_and_c);
    m.update(s2);
    m
}

/// Encrypts `msg` to `remote` with fresh randomness.
pub fn encrypt<R: RngCore + CryptoRng>(
    remote: &PublicKey,
    msg: &[u8],
    shared_mac_data: &[u8],
    rng: &mut R,
) -> Vec<u8> {
    let ephemeral = SecretKey::random(&mut *rng);
    let mut iv = [0u8; 16];
    rng.fill_bytes(&mut iv);
    encrypt_with(remote, msg, shared_mac_data, &ephemeral, iv)
}

/// Encrypts `msg` to `remote` with the given ephemeral key and IV (deterministic; for tests).
pub fn encrypt_with(
    remote: &PublicKey,
    msg: &[u8],
    shared_mac_data: &[u8],
    ephemeral: &SecretKey,
    iv: [u8; 16],
) -> Vec<u8> {
    let (ke, mac_key) = keys(&ecdh(ephemeral, remote));
    let mut out = Vec::with_capacity(msg.len() + ECIES_OVERHEAD);
    out.extend_from_slice(ephemeral.public_key().to_encoded_point(false).as_bytes());
    out.extend_from_slice(&iv);
    let start = out.len();
    out.extend_from_slice(msg);
    if let Some(body) = out.get_mut(start..) {
        Aes128Ctr::new(&ke.into(), &iv.into()).apply_keystream(body);
    }
    let d = tag(&mac_key, out.get(65..).unwrap_or_default(), shared_mac_data)
        .finalize()
        .into_bytes();
    out.extend_from_slice(&d);
    out
}

/// Decrypts an ECIES message addressed to `key`, checking the tag before decrypting.
pub fn decrypt(
    key: &SecretKey,
    data: &[u8],
    shared_mac_data: &[u8],
) -> Result<Vec<u8>, EciesError> {
    if data.len() < ECIES_OVERHEAD {
        return Err(EciesError::TooShort);
    }
    let (r, rest) = data.split_at(65);
    let (iv_and_c, d) = rest.split_at(rest.len() - 32);
    if r.first() != Some(&4) {
        return Err(EciesError::InvalidPublicKey);
    }
    let r = PublicKey::from_sec1_bytes(r).map_err(|_| EciesError::InvalidPublicKey)?;
    let (ke, mac_key) = keys(&ecdh(key, &r));
    tag(&mac_key, iv_and_c, shared_mac_data)
        .verify_slice(d)
        .map_err(|_| EciesError::MacMismatch)?;
    let (iv, c) = iv_and_c.split_at(16);
    let mut iv16 = [0u8; 16];
    iv16.copy_from_slice(iv);
    let mut m = c.to_vec();
    Aes128Ctr::new(&ke.into(), &iv16.into()).apply_keystream(&mut m);
    Ok(m)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_ecies_error_is_the_senders_fault() {
        for e in [
            EciesError::TooShort,
            EciesError::InvalidPublicKey,
            EciesError::MacMismatch,
        ] {
            // Exhaustive: a new variant does not compile until its fault is decided here.
            let want = match e {
                EciesError::TooShort | EciesError::InvalidPublicKey | EciesError::MacMismatch => {
                    Fault::Remote
                }
            };
            assert_eq!(e.fault(), want, "{e:?}");
        }
    }

    #[test]
    fn round_trip_and_tamper() {
        let mut rng = rand::thread_rng();
        let sk = SecretKey::random(&mut rng);
        let msg = b"hello ecies";
        let ct = encrypt(&sk.public_key(), msg, b"ad", &mut rng);
        assert_eq!(ct.len(), msg.len() + ECIES_OVERHEAD);
        assert_eq!(decrypt(&sk, &ct, b"ad").unwrap(), msg);
        assert_eq!(decrypt(&sk, &ct, b"xx"), Err(EciesError::MacMismatch));
        let mut bad = ct.clone();
        *bad.last_mut().unwrap() ^= 1;
        assert_eq!(decrypt(&sk, &bad, b"ad"), Err(EciesError::MacMismatch));
        let mut bad = ct.clone();
        bad[70] ^= 1;
        assert_eq!(decrypt(&sk, &bad, b"ad"), Err(EciesError::MacMismatch));
        // R not on the curve.
        let mut bad = ct.clone();
        bad[64] ^= 1;
        assert_eq!(decrypt(&sk, &bad, b"ad"), Err(EciesError::InvalidPublicKey));
        // Compressed / unknown prefix.
        let mut bad = ct.clone();
        bad[0] = 2;
        assert_eq!(decrypt(&sk, &bad, b"ad"), Err(EciesError::InvalidPublicKey));
        assert_eq!(decrypt(&sk, &ct[..100], b"ad"), Err(EciesError::TooShort));
        let other = SecretKey::random(&mut rng);
        assert_eq!(decrypt(&other, &ct, b"ad"), Err(EciesError::MacMismatch));
    }
}
