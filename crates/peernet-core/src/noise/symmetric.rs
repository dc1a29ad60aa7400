//! The Noise framework's `CipherState` and `SymmetricState` (noise.md §5.1, §5.2) for the
//! `ChaChaPoly` cipher and the `SHA256` hash, with `HKDF` as defined in §4.3.

use ring::aead::{self, Aad, LessSafeKey, Nonce, UnboundKey, CHACHA20_POLY1305};
use ring::{digest, hmac};

use super::NoiseError;

/// `HASHLEN` for SHA-256.
pub(crate) const HASH_LEN: usize = 32;
/// Length of a ChaChaPoly key.
pub(crate) const KEY_LEN: usize = 32;
/// Length of the Poly1305 authentication tag appended to every ciphertext.
pub const TAG_LEN: usize = 16;

/// A ChaCha20-Poly1305 key and its 64-bit message counter (noise.md §5.1).
///
/// The nonce is 4 zero bytes followed by the counter in little-endian order. The counter value
/// 2^64 - 1 is reserved by the spec, so a state that reached it refuses to encrypt or decrypt.
pub(crate) struct CipherState {
    key: LessSafeKey,
    n: u64,
}

impl CipherState {
    /// `InitializeKey(k)` with a fresh counter.
    pub(crate) fn new(key: &[u8; KEY_LEN]) -> Self {
        // `UnboundKey::new` fails only on a key of the wrong length, which the array type rules
        // out: no input, remote or local, reaches this panic.
        let unbound = UnboundKey::new(&CHACHA20_POLY1305, key)
            .unwrap_or_else(|_| unreachable!("ChaCha20-Poly1305 accepts every 32-byte key"));
        CipherState {
            key: LessSafeKey::new(unbound),
            n: 0,
        }
    }

    /// The nonce for the current counter, or an error when the counter is exhausted.
    fn next_nonce(&mut self) -> Result<Nonce, NoiseError> {
        if self.n == u64::MAX {
            return Err(NoiseError::NonceExhausted);
        }
        let mut nonce = [0u8; aead::NONCE_LEN];
        let (_, counter) = nonce.split_at_mut(4);
        counter.copy_from_slice(&self.n.to_le_bytes());
        self.n += 1;
        Ok(Nonce::assume_unique_for_key(nonce))
    }

    /// Encrypts `in_out` in place under associated data `ad` and returns the tag.
    ///
    /// The counter advances only on success (a counter error leaves `in_out` untouched).
    pub(crate) fn seal_in_place(
        &mut self,
        ad: &[u8],
        in_out: &mut [u8],
    ) -> Result<[u8; TAG_LEN], NoiseError> {
        let nonce = self.next_nonce()?;
        let tag = self
            .key
            .seal_in_place_separate_tag(nonce, Aad::from(ad), in_out)
            // Only an input longer than ChaCha20's 256 GiB block space fails here.
            .map_err(|_| NoiseError::PayloadTooLarge {
                len: in_out.len(),
                max: super::MAX_MESSAGE_LEN,
            })?;
        let mut out = [0u8; TAG_LEN];
        out.copy_from_slice(tag.as_ref());
        Ok(out)
    }

    /// Decrypts `in_out` (ciphertext followed by its tag) in place under associated data `ad`
    /// and returns the plaintext, which is `in_out` without its last 16 bytes.
    ///
    /// The counter advances even when authentication fails: the session is dead afterwards.
    pub(crate) fn open_in_place<'a>(
        &mut self,
        ad: &[u8],
        in_out: &'a mut [u8],
    ) -> Result<&'a mut [u8], NoiseError> {
        let nonce = self.next_nonce()?;
        self.key
            .open_in_place(nonce, Aad::from(ad), in_out)
            .map_err(|_| NoiseError::Decrypt)
    }

    /// The counter value the next message will use (the number of messages so far).
    pub(crate) fn nonce_value(&self) -> u64 {
        self.n
    }

    /// Test hook: pretends `n` messages were already processed.
    #[cfg(test)]
    pub(crate) fn set_nonce(&mut self, n: u64) {
        self.n = n;
    }
}

/// `HMAC-SHA256(key, data1 || data2)`.
fn hmac2(key: &[u8], data1: &[u8], data2: &[u8]) -> [u8; HASH_LEN] {
    let key = hmac::Key::new(hmac::HMAC_SHA256, key);
    let mut ctx = hmac::Context::with_key(&key);
    ctx.update(data1);
    ctx.update(data2);
    let mut out = [0u8; HASH_LEN];
    out.copy_from_slice(ctx.sign().as_ref());
    out
}

/// `HKDF(chaining_key, input_key_material, 2)` (noise.md §4.3).
pub(crate) fn hkdf2(chaining_key: &[u8; HASH_LEN], ikm: &[u8]) -> ([u8; HASH_LEN], [u8; HASH_LEN]) {
    let temp_key = hmac2(chaining_key, ikm, &[]);
    let out1 = hmac2(&temp_key, &[0x01], &[]);
    let out2 = hmac2(&temp_key, &out1, &[0x02]);
    (out1, out2)
}

/// The handshake's running hash `h`, chaining key `ck` and optional cipher (noise.md §5.2).
pub(crate) struct SymmetricState {
    ck: [u8; HASH_LEN],
    h: [u8; HASH_LEN],
    cipher: Option<CipherState>,
}

impl SymmetricState {
    /// `InitializeSymmetric(protocol_name)`.
    pub(crate) fn new(protocol_name: &[u8]) -> Self {
        let mut h = [0u8; HASH_LEN];
        if protocol_name.len() <= HASH_LEN {
            if let Some(dst) = h.get_mut(..protocol_name.len()) {
                dst.copy_from_slice(protocol_name);
            }
        } else {
            h.copy_from_slice(digest::digest(&digest::SHA256, protocol_name).as_ref());
        }
        SymmetricState {
            ck: h,
            h,
            cipher: None,
        }
    }

    /// `MixKey(input_key_material)`.
    pub(crate) fn mix_key(&mut self, ikm: &[u8]) {
        let (ck, temp_k) = hkdf2(&self.ck, ikm);
        self.ck = ck;
        self.cipher = Some(CipherState::new(&temp_k));
    }

    /// `MixHash(data)`: `h = SHA256(h || data)`.
    pub(crate) fn mix_hash(&mut self, data: &[u8]) {
        let mut ctx = digest::Context::new(&digest::SHA256);
        ctx.update(&self.h);
        ctx.update(data);
        self.h.copy_from_slice(ctx.finish().as_ref());
    }

    /// `EncryptAndHash(plaintext)`, appending the ciphertext to `out`.
    pub(crate) fn encrypt_and_hash(
        &mut self,
        plaintext: &[u8],
        out: &mut Vec<u8>,
    ) -> Result<(), NoiseError> {
        let start = out.len();
        out.extend_from_slice(plaintext);
        if let Some(cipher) = &mut self.cipher {
            let body = out.get_mut(start..).unwrap_or_default();
            let tag = cipher.seal_in_place(&self.h, body)?;
            out.extend_from_slice(&tag);
        }
        let ciphertext = out.get(start..).unwrap_or_default();
        let mut ctx = digest::Context::new(&digest::SHA256);
        ctx.update(&self.h);
        ctx.update(ciphertext);
        self.h.copy_from_slice(ctx.finish().as_ref());
        Ok(())
    }

    /// `DecryptAndHash(ciphertext)`, appending the plaintext to `out`.
    pub(crate) fn decrypt_and_hash(
        &mut self,
        ciphertext: &[u8],
        out: &mut Vec<u8>,
    ) -> Result<(), NoiseError> {
        let start = out.len();
        out.extend_from_slice(ciphertext);
        if let Some(cipher) = &mut self.cipher {
            let body = out.get_mut(start..).unwrap_or_default();
            match cipher.open_in_place(&self.h, body) {
                Ok(plain) => {
                    let plain_len = plain.len();
                    out.truncate(start + plain_len);
                }
                Err(e) => {
                    out.truncate(start);
                    return Err(e);
                }
            }
        }
        self.mix_hash(ciphertext);
        Ok(())
    }

    /// The handshake hash `h` (channel binding value once the handshake is complete).
    pub(crate) fn handshake_hash(&self) -> [u8; HASH_LEN] {
        self.h
    }

    /// `Split()`: the initiator-to-responder and responder-to-initiator cipher states.
    pub(crate) fn split(&self) -> (CipherState, CipherState) {
        let (k1, k2) = hkdf2(&self.ck, &[]);
        (CipherState::new(&k1), CipherState::new(&k2))
    }
}
