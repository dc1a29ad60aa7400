//! `Noise_XX_25519_ChaChaPoly_SHA256` as a chain of typed states (noise.md §5.3, §7.5).
//!
//! ```text
//! XX:
//!   -> e                      InitiatorStart  --write_message1-->  InitiatorAwait2
//!   <- e, ee, s, es           ResponderStart  --read_message1-->   ResponderSend2
//!                             ResponderSend2  --write_message2-->  ResponderAwait3
//!                             InitiatorAwait2 --read_message2-->   InitiatorSend3
//!   -> s, se                  InitiatorSend3  --write_message3-->  Complete
//!                             ResponderAwait3 --read_message3-->   Complete
//! ```
//!
//! Every transition consumes its state, so a message cannot be written or read twice or out of
//! order. The ephemeral keys are given to the constructors, which lets the test vectors inject
//! theirs; production code draws them from the OS RNG with [`DhKeypair::generate`].

use x25519_dalek::{PublicKey, StaticSecret};

use super::symmetric::{CipherState, SymmetricState, HASH_LEN, TAG_LEN};
use super::{NoiseError, MAX_MESSAGE_LEN};

/// The protocol name hashed into the initial handshake state.
pub(crate) const PROTOCOL_NAME: &[u8] = b"Noise_XX_25519_ChaChaPoly_SHA256";
/// Length of an X25519 public key (`DHLEN`).
pub(crate) const DH_LEN: usize = 32;

/// An X25519 key pair (static or ephemeral).
pub(crate) struct DhKeypair {
    secret: StaticSecret,
    public: [u8; DH_LEN],
}

impl DhKeypair {
    /// The key pair of a given private key (clamped as X25519 requires).
    #[cfg(test)]
    pub(crate) fn from_secret(secret: [u8; DH_LEN]) -> Self {
        let secret = StaticSecret::from(secret);
        let public = PublicKey::from(&secret).to_bytes();
        DhKeypair { secret, public }
    }

    /// A fresh key pair from the operating system's RNG.
    pub(crate) fn generate() -> Self {
        let secret = StaticSecret::random_from_rng(rand_core::OsRng);
        let public = PublicKey::from(&secret).to_bytes();
        DhKeypair { secret, public }
    }

    /// The public key.
    pub(crate) fn public(&self) -> &[u8; DH_LEN] {
        &self.public
    }

    /// `DH(self, remote)`, refusing the all-zero output of a low-order remote key.
    fn dh(&self, remote: &[u8; DH_LEN]) -> Result<[u8; DH_LEN], NoiseError> {
        let shared = self.secret.diffie_hellman(&PublicKey::from(*remote));
        if !shared.was_contributory() {
            return Err(NoiseError::LowOrderKey);
        }
        Ok(shared.to_bytes())
    }
}

/// Reads a 32-byte public key from the front of `msg`.
fn take_key(msg: &[u8]) -> Option<([u8; DH_LEN], &[u8])> {
    let (key, rest) = msg.split_at_checked(DH_LEN)?;
    let mut out = [0u8; DH_LEN];
    out.copy_from_slice(key);
    Some((out, rest))
}

/// Checks that a payload leaves the whole message within 65535 bytes.
fn check_len(overhead: usize, payload: &[u8]) -> Result<(), NoiseError> {
    let max = MAX_MESSAGE_LEN - overhead;
    if payload.len() > max {
        return Err(NoiseError::PayloadTooLarge {
            len: payload.len(),
            max,
        });
    }
    Ok(())
}

/// Decrypts the 48-byte encrypted static key at the front of `msg`.
fn take_encrypted_static(
    ss: &mut SymmetricState,
    msg: &[u8],
) -> Result<([u8; DH_LEN], usize), NoiseError> {
    let Some(encrypted) = msg.get(..DH_LEN + TAG_LEN) else {
        return Err(NoiseError::Misuse("message length checked before"));
    };
    let mut plain = Vec::with_capacity(DH_LEN + TAG_LEN);
    ss.decrypt_and_hash(encrypted, &mut plain)?;
    let (key, _) = take_key(&plain).ok_or(NoiseError::Decrypt)?;
    Ok((key, DH_LEN + TAG_LEN))
}

fn initial_state(prologue: &[u8]) -> SymmetricState {
    let mut ss = SymmetricState::new(PROTOCOL_NAME);
    ss.mix_hash(prologue);
    ss
}

/// The initiator before anything was sent.
pub(crate) struct InitiatorStart {
    ss: SymmetricState,
    s: DhKeypair,
    e: DhKeypair,
}

impl InitiatorStart {
    /// `Initialize(XX, initiator=true, prologue, s, e)`.
    pub(crate) fn new(prologue: &[u8], s: DhKeypair, e: DhKeypair) -> Self {
        InitiatorStart {
            ss: initial_state(prologue),
            s,
            e,
        }
    }

    /// Writes `-> e` with `payload` (sent in clear: libp2p sends none) to `out`.
    pub(crate) fn write_message1(
        mut self,
        payload: &[u8],
        out: &mut Vec<u8>,
    ) -> Result<InitiatorAwait2, NoiseError> {
        check_len(DH_LEN, payload)?;
        out.extend_from_slice(self.e.public());
        self.ss.mix_hash(self.e.public());
        self.ss.encrypt_and_hash(payload, out)?;
        Ok(InitiatorAwait2 {
            ss: self.ss,
            s: self.s,
            e: self.e,
        })
    }
}

/// The initiator waiting for `<- e, ee, s, es`.
pub(crate) struct InitiatorAwait2 {
    ss: SymmetricState,
    s: DhKeypair,
    e: DhKeypair,
}

impl InitiatorAwait2 {
    /// Least length of message 2: ephemeral, encrypted static, empty encrypted payload.
    pub(crate) const MIN_LEN: usize = DH_LEN + DH_LEN + TAG_LEN + TAG_LEN;

    /// Reads message 2, appending its decrypted payload to `payload`.
    pub(crate) fn read_message2(
        mut self,
        msg: &[u8],
        payload: &mut Vec<u8>,
    ) -> Result<InitiatorSend3, NoiseError> {
        if msg.len() < Self::MIN_LEN {
            return Err(NoiseError::MessageTooShort {
                message: 2,
                len: msg.len(),
                min: Self::MIN_LEN,
            });
        }
        let (re, rest) = take_key(msg).ok_or(NoiseError::Decrypt)?;
        self.ss.mix_hash(&re);
        self.ss.mix_key(&self.e.dh(&re)?);
        let (rs, used) = take_encrypted_static(&mut self.ss, rest)?;
        self.ss.mix_key(&self.e.dh(&rs)?);
        let encrypted_payload = rest.get(used..).unwrap_or_default();
        self.ss.decrypt_and_hash(encrypted_payload, payload)?;
        Ok(InitiatorSend3 {
            ss: self.ss,
            s: self.s,
            re,
            rs,
        })
    }
}

/// The initiator after message 2, knowing the responder's static key, about to send `-> s, se`.
pub(crate) struct InitiatorSend3 {
    ss: SymmetricState,
    s: DhKeypair,
    re: [u8; DH_LEN],
    rs: [u8; DH_LEN],
}

impl InitiatorSend3 {
    /// The local static key (what the libp2p payload signs).
    pub(crate) fn local_static(&self) -> &[u8; DH_LEN] {
        self.s.public()
    }

    /// The responder's static key, received (and authenticated by the DH) in message 2.
    pub(crate) fn remote_static(&self) -> &[u8; DH_LEN] {
        &self.rs
    }

    /// Writes message 3 with `payload` to `out` and completes the handshake.
    pub(crate) fn write_message3(
        mut self,
        payload: &[u8],
        out: &mut Vec<u8>,
    ) -> Result<Complete, NoiseError> {
        check_len(DH_LEN + TAG_LEN + TAG_LEN, payload)?;
        self.ss.encrypt_and_hash(self.s.public(), out)?;
        self.ss.mix_key(&self.s.dh(&self.re)?);
        self.ss.encrypt_and_hash(payload, out)?;
        let (c1, c2) = self.ss.split();
        Ok(Complete {
            send: c1,
            recv: c2,
            handshake_hash: self.ss.handshake_hash(),
            remote_static: self.rs,
        })
    }
}

/// The responder before message 1 arrived.
pub(crate) struct ResponderStart {
    ss: SymmetricState,
    s: DhKeypair,
    e: DhKeypair,
}

impl ResponderStart {
    /// Least length of message 1: the initiator's ephemeral key.
    pub(crate) const MIN_LEN: usize = DH_LEN;

    /// `Initialize(XX, initiator=false, prologue, s, e)`.
    pub(crate) fn new(prologue: &[u8], s: DhKeypair, e: DhKeypair) -> Self {
        ResponderStart {
            ss: initial_state(prologue),
            s,
            e,
        }
    }

    /// Reads message 1, appending its (clear) payload to `payload`.
    pub(crate) fn read_message1(
        mut self,
        msg: &[u8],
        payload: &mut Vec<u8>,
    ) -> Result<ResponderSend2, NoiseError> {
        let Some((re, rest)) = take_key(msg) else {
            return Err(NoiseError::MessageTooShort {
                message: 1,
                len: msg.len(),
                min: Self::MIN_LEN,
            });
        };
        self.ss.mix_hash(&re);
        self.ss.decrypt_and_hash(rest, payload)?;
        Ok(ResponderSend2 {
            ss: self.ss,
            s: self.s,
            e: self.e,
            re,
        })
    }
}

/// The responder about to send `<- e, ee, s, es`.
pub(crate) struct ResponderSend2 {
    ss: SymmetricState,
    s: DhKeypair,
    e: DhKeypair,
    re: [u8; DH_LEN],
}

impl ResponderSend2 {
    /// The local static key (what the libp2p payload signs).
    pub(crate) fn local_static(&self) -> &[u8; DH_LEN] {
        self.s.public()
    }

    /// Writes message 2 with `payload` to `out`.
    pub(crate) fn write_message2(
        mut self,
        payload: &[u8],
        out: &mut Vec<u8>,
    ) -> Result<ResponderAwait3, NoiseError> {
        check_len(DH_LEN + DH_LEN + TAG_LEN + TAG_LEN, payload)?;
        out.extend_from_slice(self.e.public());
        self.ss.mix_hash(self.e.public());
        self.ss.mix_key(&self.e.dh(&self.re)?);
        self.ss.encrypt_and_hash(self.s.public(), out)?;
        self.ss.mix_key(&self.s.dh(&self.re)?);
        self.ss.encrypt_and_hash(payload, out)?;
        Ok(ResponderAwait3 {
            ss: self.ss,
            e: self.e,
        })
    }
}

/// The responder waiting for `-> s, se`.
pub(crate) struct ResponderAwait3 {
    ss: SymmetricState,
    e: DhKeypair,
}

impl ResponderAwait3 {
    /// Least length of message 3: encrypted static key and empty encrypted payload.
    pub(crate) const MIN_LEN: usize = DH_LEN + TAG_LEN + TAG_LEN;

    /// Reads message 3, appending its decrypted payload to `payload`, and completes.
    pub(crate) fn read_message3(
        mut self,
        msg: &[u8],
        payload: &mut Vec<u8>,
    ) -> Result<Complete, NoiseError> {
        if msg.len() < Self::MIN_LEN {
            return Err(NoiseError::MessageTooShort {
                message: 3,
                len: msg.len(),
                min: Self::MIN_LEN,
            });
        }
        let (rs, used) = take_encrypted_static(&mut self.ss, msg)?;
        self.ss.mix_key(&self.e.dh(&rs)?);
        let encrypted_payload = msg.get(used..).unwrap_or_default();
        self.ss.decrypt_and_hash(encrypted_payload, payload)?;
        let (c1, c2) = self.ss.split();
        Ok(Complete {
            send: c2,
            recv: c1,
            handshake_hash: self.ss.handshake_hash(),
            remote_static: rs,
        })
    }
}

/// A finished handshake: one cipher per direction.
pub(crate) struct Complete {
    /// Encrypts what this side sends.
    pub(crate) send: CipherState,
    /// Decrypts what this side receives.
    pub(crate) recv: CipherState,
    /// The final handshake hash `h`.
    pub(crate) handshake_hash: [u8; HASH_LEN],
    /// The remote's static X25519 key.
    pub(crate) remote_static: [u8; DH_LEN],
}
