//! The RLPx encryption handshake (rlpx.md "Initial Handshake", EIP-8), sans-IO.
//!
//! The initiator sends `auth`, the recipient answers with `ack`; both then derive the session
//! [`Secrets`]. [`Handshake`] is a state machine over bytes: feed it what arrived with
//! [`Handshake::read`], send what [`Handshake::take_outgoing`] returns, and call
//! [`Handshake::finish`] once `read` reports the message complete.
//!
//! Both encodings are accepted: EIP-8 (2-byte size prefix, RLP body, padding, extra list elements
//! ignored) and the pre-EIP-8 fixed-size form (307-byte auth, 210-byte ack). The recipient answers
//! in the form the auth came in. Every public key received is checked to be a curve point.

use k256::ecdsa::{RecoveryId, Signature, SigningKey, VerifyingKey};
use k256::{PublicKey, SecretKey};
use peernet_core::Fault;
use rand::{CryptoRng, Rng, RngCore};
use sha3::{Digest, Keccak256};

use crate::proto::ecies::{self, EciesError, ECIES_OVERHEAD};
use crate::proto::node::NodeId;
use crate::proto::rlp::{self, RlpError};

/// Size of a pre-EIP-8 auth message (194-byte plaintext plus ECIES overhead).
pub const LEGACY_AUTH_LEN: usize = 194 + ECIES_OVERHEAD;
/// Size of a pre-EIP-8 ack message (97-byte plaintext plus ECIES overhead).
pub const LEGACY_ACK_LEN: usize = 97 + ECIES_OVERHEAD;
/// The handshake version we send (`auth-vsn`, `ack-vsn`).
pub const HANDSHAKE_VERSION: u64 = 4;

/// Why the encryption handshake failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum HandshakeError {
    /// The auth or ack did not decrypt (the remote's fault: garbage, a forged message, or a
    /// message encrypted to another key).
    #[error("handshake message did not decrypt")]
    Ecies(#[from] EciesError),
    /// The decrypted body is not the structure it should be (the remote's fault).
    #[error("malformed handshake body")]
    Rlp(#[from] RlpError),
    /// A public key in the auth or ack is not a point on secp256k1 (the remote's fault).
    #[error("handshake carries an invalid public key")]
    InvalidPublicKey,
    /// The auth signature does not recover a public key (the remote's fault).
    #[error("auth signature is invalid")]
    BadSignature,
    /// A legacy auth's hash of the ephemeral key does not match the key the signature recovers
    /// (the remote's fault).
    #[error("legacy auth: ephemeral key hash mismatch")]
    EphemeralHashMismatch,
    /// The node id we were asked to dial is not a valid public key (local misuse).
    #[error("remote node id is not a valid public key")]
    InvalidRemoteId,
    /// `read` or `finish` was called in the wrong state (local misuse).
    #[error("handshake used out of order")]
    OutOfOrder,
}

impl HandshakeError {
    /// Whose fault: [`Fault::Remote`] for what the remote sent, [`Fault::Local`] for a bad
    /// dial target and calls out of order.
    pub fn fault(&self) -> Fault {
        match self {
            HandshakeError::Ecies(e) => e.fault(),
            HandshakeError::Rlp(e) => e.fault(),
            HandshakeError::InvalidPublicKey
            | HandshakeError::BadSignature
            | HandshakeError::EphemeralHashMismatch => Fault::Remote,
            HandshakeError::InvalidRemoteId | HandshakeError::OutOfOrder => Fault::Local,
        }
    }
}

/// The two encodings of the handshake messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HandshakeForm {
    /// EIP-8: size prefix, RLP body, random padding.
    Eip8,
    /// The fixed-size pre-EIP-8 encoding.
    Legacy,
}

/// Which side of the connection we are.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// We opened the TCP connection and send `auth`.
    Initiator,
    /// We accepted it and answer with `ack`.
    Recipient,
}

/// Session keys after a successful handshake (rlpx.md: aes-secret, mac-secret and the two
/// keccak256 MAC states).
#[derive(Clone)]
pub struct Secrets {
    /// The remote node's id (its static public key).
    pub remote_id: NodeId,
    /// `aes-secret`: key of the AES-256-CTR frame cipher.
    pub aes_secret: [u8; 32],
    /// `mac-secret`: key of the AES-256 block cipher used in the MAC.
    pub mac_secret: [u8; 32],
    /// The keccak256 state for frames we send.
    pub egress_mac: Keccak256,
    /// The keccak256 state for frames we receive.
    pub ingress_mac: Keccak256,
}

impl std::fmt::Debug for Secrets {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Secrets")
            .field("remote_id", &self.remote_id)
            .finish_non_exhaustive()
    }
}

/// The fields of a decoded auth message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthMessage {
    /// The initiator's static public key.
    pub initiator_id: NodeId,
    /// The initiator's nonce.
    pub nonce: [u8; 32],
    /// The initiator's ephemeral key, recovered from the signature.
    pub ephemeral_id: NodeId,
    /// `auth-vsn` (4 for legacy messages).
    pub version: u64,
    /// The encoding it came in.
    pub form: HandshakeForm,
}

/// The fields of a decoded ack message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AckMessage {
    /// The recipient's ephemeral public key.
    pub ephemeral_id: NodeId,
    /// The recipient's nonce.
    pub nonce: [u8; 32],
    /// `ack-vsn` (4 for legacy messages).
    pub version: u64,
    /// The encoding it came in.
    pub form: HandshakeForm,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    AwaitAuth,
    AwaitAck,
    Done,
}

/// Remembers which decodings of a partially received packet were already tried, so a trickling
/// peer cannot make us repeat the ECDH.
#[derive(Debug, Default, Clone, Copy)]
struct Attempts {
    eip8: bool,
    legacy: bool,
    eip8_err: Option<EciesError>,
    legacy_err: Option<EciesError>,
}

/// The RLPx encryption handshake for one connection.
pub struct Handshake {
    role: Role,
    key: SecretKey,
    ephemeral: SecretKey,
    nonce: [u8; 32],
    remote_id: Option<NodeId>,
    remote_nonce: [u8; 32],
    remote_ephemeral: Option<PublicKey>,
    auth_packet: Vec<u8>,
    ack_packet: Vec<u8>,
    outgoing: Vec<u8>,
    state: State,
    attempts: Attempts,
}

impl std::fmt::Debug for Handshake {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Handshake")
            .field("role", &self.role)
            .field("state", &self.state)
            .field("remote_id", &self.remote_id)
            .finish_non_exhaustive()
    }
}

fn xor32(a: &[u8; 32], b: &[u8; 32]) -> [u8; 32] {
    let mut out = [0u8; 32];
    for (o, (x, y)) in out.iter_mut().zip(a.iter().zip(b.iter())) {
        *o = x ^ y;
    }
    out
}

fn keccak(parts: &[&[u8]]) -> [u8; 32] {
    let mut h = Keccak256::new();
    for p in parts {
        h.update(p);
    }
    h.finalize().into()
}

fn padding<R: RngCore>(rng: &mut R) -> Vec<u8> {
    // EIP-8 recommends a random amount of junk in [100, 300].
    let n = rng.gen_range(100..=300);
    let mut p = vec![0u8; n];
    rng.fill_bytes(&mut p);
    p
}

/// Encrypts a handshake body; EIP-8 form gets the size prefix as shared MAC data.
fn seal<R: RngCore + CryptoRng>(
    remote: &PublicKey,
    body: &[u8],
    form: HandshakeForm,
    rng: &mut R,
) -> Vec<u8> {
    match form {
        HandshakeForm::Legacy => ecies::encrypt(remote, body, &[], rng),
        HandshakeForm::Eip8 => {
            let size = body.len() + ECIES_OVERHEAD;
            // Bodies are a few hundred bytes: the size always fits the 16-bit prefix.
            let prefix = (size as u16).to_be_bytes();
            let mut out = prefix.to_vec();
            out.extend(ecies::encrypt(remote, body, &prefix, rng));
            out
        }
    }
}

/// Tries to decrypt a handshake packet at the start of `buf` in either form.
fn open(
    key: &SecretKey,
    buf: &[u8],
    legacy_len: usize,
    attempts: &mut Attempts,
) -> Result<Option<(Vec<u8>, usize, HandshakeForm)>, HandshakeError> {
    let Some(prefix @ &[hi, lo]) = buf.get(..2) else {
        return Ok(None);
    };
    let eip8_len = 2 + usize::from(u16::from_be_bytes([hi, lo]));
    if !attempts.eip8 {
        if let Some(packet) = buf.get(2..eip8_len) {
            attempts.eip8 = true;
            match ecies::decrypt(key, packet, prefix) {
                Ok(p) => return Ok(Some((p, eip8_len, HandshakeForm::Eip8))),
                Err(e) => attempts.eip8_err = Some(e),
            }
        }
    }
    if !attempts.legacy {
        if let Some(packet) = buf.get(..legacy_len) {
            attempts.legacy = true;
            match ecies::decrypt(key, packet, &[]) {
                Ok(p) => return Ok(Some((p, legacy_len, HandshakeForm::Legacy))),
                Err(e) => attempts.legacy_err = Some(e),
            }
        }
    }
    if attempts.eip8 && attempts.legacy {
        // Report the failure of the form the packet looks like: legacy packets start with the
        // 0x04 of their uncompressed ephemeral key.
        let err = if hi == 4 {
            attempts.legacy_err.or(attempts.eip8_err)
        } else {
            attempts.eip8_err.or(attempts.legacy_err)
        };
        return Err(err.unwrap_or(EciesError::MacMismatch).into());
    }
    Ok(None)
}

fn id_from_slice(b: &[u8]) -> Result<(NodeId, PublicKey), HandshakeError> {
    let id = NodeId(<[u8; 64]>::try_from(b).map_err(|_| HandshakeError::InvalidPublicKey)?);
    let pk = id
        .public_key()
        .map_err(|_| HandshakeError::InvalidPublicKey)?;
    Ok((id, pk))
}

/// Recovers the signer of a 32-byte prehash from a 65-byte `r || s || v` signature, accepting
/// high-s signatures (libsecp256k1's recovery does too) by normalising them.
fn recover(prehash: &[u8; 32], sig: &[u8; 65]) -> Result<PublicKey, HandshakeError> {
    let (rs, v) = sig.split_at(64);
    let v = v.first().copied().ok_or(HandshakeError::BadSignature)?;
    let mut recid = RecoveryId::from_byte(v).ok_or(HandshakeError::BadSignature)?;
    let mut signature = Signature::from_slice(rs).map_err(|_| HandshakeError::BadSignature)?;
    if let Some(normalized) = signature.normalize_s() {
        signature = normalized;
        recid = RecoveryId::new(!recid.is_y_odd(), recid.is_x_reduced());
    }
    let vk = VerifyingKey::recover_from_prehash(prehash, &signature, recid)
        .map_err(|_| HandshakeError::BadSignature)?;
    Ok(PublicKey::from(&vk))
}

/// Decrypts and decodes an auth packet at the start of `buf`. Returns `None` if more bytes are
/// needed, else the message, the recovered ephemeral key and the packet length.
pub fn read_auth(
    key: &SecretKey,
    buf: &[u8],
) -> Result<Option<(AuthMessage, usize)>, HandshakeError> {
    let mut attempts = Attempts::default();
    Ok(read_auth_inner(key, buf, &mut attempts)?.map(|(m, _, n)| (m, n)))
}

fn read_auth_inner(
    key: &SecretKey,
    buf: &[u8],
    attempts: &mut Attempts,
) -> Result<Option<(AuthMessage, PublicKey, usize)>, HandshakeError> {
    let Some((plain, used, form)) = open(key, buf, LEGACY_AUTH_LEN, attempts)? else {
        return Ok(None);
    };
    let (sig, initiator, nonce, version, eph_hash) = match form {
        HandshakeForm::Legacy => {
            // sig(65) || keccak(ephemeral-pubk)(32) || pubk(64) || nonce(32) || token-flag(1)
            let get = |a: usize, b: usize| plain.get(a..b).ok_or(RlpError::Truncated);
            let sig = <[u8; 65]>::try_from(get(0, 65)?).map_err(|_| RlpError::Truncated)?;
            let hash = <[u8; 32]>::try_from(get(65, 97)?).map_err(|_| RlpError::Truncated)?;
            let nonce = <[u8; 32]>::try_from(get(161, 193)?).map_err(|_| RlpError::Truncated)?;
            (
                sig,
                get(97, 161)?.to_vec(),
                nonce,
                HANDSHAKE_VERSION,
                Some(hash),
            )
        }
        HandshakeForm::Eip8 => {
            // [sig, initiator-pubk, initiator-nonce, auth-vsn, ...] || padding
            let (item, _padding) = rlp::decode_prefix(&plain)?;
            let mut l = item.list()?;
            let sig = l.required()?.fixed::<65>()?;
            let pk = l.required()?.bytes()?.to_vec();
            let nonce = l.required()?.fixed::<32>()?;
            let version = l.required()?.as_u64()?;
            (sig, pk, nonce, version, None)
        }
    };
    let (initiator_id, initiator_pk) = id_from_slice(&initiator)?;
    let static_shared = ecies::ecdh(key, &initiator_pk);
    let ephemeral = recover(&xor32(&static_shared, &nonce), &sig)?;
    let ephemeral_id = NodeId::from_public(&ephemeral);
    if let Some(h) = eph_hash {
        if keccak(&[ephemeral_id.as_bytes()]) != h {
            return Err(HandshakeError::EphemeralHashMismatch);
        }
    }
    Ok(Some((
        AuthMessage {
            initiator_id,
            nonce,
            ephemeral_id,
            version,
            form,
        },
        ephemeral,
        used,
    )))
}

/// Decrypts and decodes an ack packet at the start of `buf`. Returns `None` if more bytes are
/// needed, else the message and the packet length.
pub fn read_ack(
    key: &SecretKey,
    buf: &[u8],
) -> Result<Option<(AckMessage, usize)>, HandshakeError> {
    let mut attempts = Attempts::default();
    Ok(read_ack_inner(key, buf, &mut attempts)?.map(|(m, _, n)| (m, n)))
}

fn read_ack_inner(
    key: &SecretKey,
    buf: &[u8],
    attempts: &mut Attempts,
) -> Result<Option<(AckMessage, PublicKey, usize)>, HandshakeError> {
    let Some((plain, used, form)) = open(key, buf, LEGACY_ACK_LEN, attempts)? else {
        return Ok(None);
    };
    let (eph, nonce, version) = match form {
        HandshakeForm::Legacy => {
            // ephemeral-pubk(64) || nonce(32) || token-flag(1)
            let eph = plain.get(..64).ok_or(RlpError::Truncated)?.to_vec();
            let nonce = plain
                .get(64..96)
                .and_then(|n| <[u8; 32]>::try_from(n).ok())
                .ok_or(RlpError::Truncated)?;
            (eph, nonce, HANDSHAKE_VERSION)
        }
        HandshakeForm::Eip8 => {
            // [recipient-ephemeral-pubk, recipient-nonce, ack-vsn, ...] || padding
            let (item, _padding) = rlp::decode_prefix(&plain)?;
            let mut l = item.list()?;
            let eph = l.required()?.bytes()?.to_vec();
            let nonce = l.required()?.fixed::<32>()?;
            let version = l.required()?.as_u64()?;
            (eph, nonce, version)
        }
    };
    let (ephemeral_id, ephemeral) = id_from_slice(&eph)?;
    Ok(Some((
        AckMessage {
            ephemeral_id,
            nonce,
            version,
            form,
        },
        ephemeral,
        used,
    )))
}

impl Handshake {
    /// Starts a handshake as initiator towards `remote`, with a fresh ephemeral key and nonce;
    /// the auth message (EIP-8 form) is ready in [`Handshake::take_outgoing`].
    pub fn initiator<R: RngCore + CryptoRng>(
        key: SecretKey,
        remote: NodeId,
        rng: &mut R,
    ) -> Result<Handshake, HandshakeError> {
        let ephemeral = SecretKey::random(&mut *rng);
        let mut nonce = [0u8; 32];
        rng.fill_bytes(&mut nonce);
        Handshake::initiator_with(key, remote, ephemeral, nonce, HandshakeForm::Eip8, rng)
    }

    /// Starts a handshake as initiator with a given ephemeral key, nonce and encoding (for tests
    /// and interop checks; ECIES still uses `rng`).
    pub fn initiator_with<R: RngCore + CryptoRng>(
        key: SecretKey,
        remote: NodeId,
        ephemeral: SecretKey,
        nonce: [u8; 32],
        form: HandshakeForm,
        rng: &mut R,
    ) -> Result<Handshake, HandshakeError> {
        let remote_pk = remote
            .public_key()
            .map_err(|_| HandshakeError::InvalidRemoteId)?;
        let static_shared = ecies::ecdh(&key, &remote_pk);
        let signing = SigningKey::from(&ephemeral);
        let (sig, recid) = signing
            .sign_prehash_recoverable(&xor32(&static_shared, &nonce))
            .map_err(|_| HandshakeError::BadSignature)?;
        let mut sig65 = [0u8; 65];
        sig65[..64].copy_from_slice(&sig.to_bytes());
        sig65[64] = recid.to_byte();
        let our_id = NodeId::from_secret(&key);
        let eph_id = NodeId::from_secret(&ephemeral);
        let packet = match form {
            HandshakeForm::Legacy => {
                let mut body = Vec::with_capacity(194);
                body.extend_from_slice(&sig65);
                body.extend_from_slice(&keccak(&[eph_id.as_bytes()]));
                body.extend_from_slice(our_id.as_bytes());
                body.extend_from_slice(&nonce);
                body.push(0);
                seal(&remote_pk, &body, form, rng)
            }
            HandshakeForm::Eip8 => {
                let mut payload = Vec::new();
                rlp::encode_bytes(&sig65, &mut payload);
                rlp::encode_bytes(our_id.as_bytes(), &mut payload);
                rlp::encode_bytes(&nonce, &mut payload);
                rlp::encode_u64(HANDSHAKE_VERSION, &mut payload);
                let mut body = Vec::new();
                rlp::encode_list(&payload, &mut body);
                body.extend(padding(rng));
                seal(&remote_pk, &body, form, rng)
            }
        };
        Ok(Handshake {
            role: Role::Initiator,
            key,
            ephemeral,
            nonce,
            remote_id: Some(remote),
            remote_nonce: [0; 32],
            remote_ephemeral: None,
            auth_packet: packet.clone(),
            ack_packet: Vec::new(),
            outgoing: packet,
            state: State::AwaitAck,
            attempts: Attempts::default(),
        })
    }

    /// Starts a handshake as recipient, with a fresh ephemeral key and nonce.
    pub fn recipient<R: RngCore + CryptoRng>(key: SecretKey, rng: &mut R) -> Handshake {
        let ephemeral = SecretKey::random(&mut *rng);
        let mut nonce = [0u8; 32];
        rng.fill_bytes(&mut nonce);
        Handshake::recipient_with(key, ephemeral, nonce)
    }

    /// Starts a handshake as recipient with a given ephemeral key and nonce (for tests).
    pub fn recipient_with(key: SecretKey, ephemeral: SecretKey, nonce: [u8; 32]) -> Handshake {
        Handshake {
            role: Role::Recipient,
            key,
            ephemeral,
            nonce,
            remote_id: None,
            remote_nonce: [0; 32],
            remote_ephemeral: None,
            auth_packet: Vec::new(),
            ack_packet: Vec::new(),
            outgoing: Vec::new(),
            state: State::AwaitAuth,
            attempts: Attempts::default(),
        }
    }

    /// Our role.
    pub fn role(&self) -> Role {
        self.role
    }

    /// The remote node id: known from the start for the initiator, after the auth for the
    /// recipient.
    pub fn remote_id(&self) -> Option<NodeId> {
        self.remote_id
    }

    /// Bytes to send now (the auth, or the ack once the auth was read).
    pub fn take_outgoing(&mut self) -> Vec<u8> {
        std::mem::take(&mut self.outgoing)
    }

    /// Whether the handshake message from the remote was read.
    pub fn is_done(&self) -> bool {
        self.state == State::Done
    }

    /// Feeds everything received so far (the caller keeps the buffer). Returns `Ok(None)` while
    /// the remote's message is incomplete, `Ok(Some(n))` once it was read from the first `n`
    /// bytes (bytes after those are already framed data).
    pub fn read<R: RngCore + CryptoRng>(
        &mut self,
        buf: &[u8],
        rng: &mut R,
    ) -> Result<Option<usize>, HandshakeError> {
        match self.state {
            State::Done => Err(HandshakeError::OutOfOrder),
            State::AwaitAck => {
                let Some((ack, eph, used)) = read_ack_inner(&self.key, buf, &mut self.attempts)?
                else {
                    return Ok(None);
                };
                self.remote_nonce = ack.nonce;
                self.remote_ephemeral = Some(eph);
                self.ack_packet = buf.get(..used).unwrap_or_default().to_vec();
                self.state = State::Done;
                Ok(Some(used))
            }
            State::AwaitAuth => {
                let Some((auth, eph, used)) = read_auth_inner(&self.key, buf, &mut self.attempts)?
                else {
                    return Ok(None);
                };
                let initiator_pk = auth
                    .initiator_id
                    .public_key()
                    .map_err(|_| HandshakeError::InvalidPublicKey)?;
                self.remote_id = Some(auth.initiator_id);
                self.remote_nonce = auth.nonce;
                self.remote_ephemeral = Some(eph);
                self.auth_packet = buf.get(..used).unwrap_or_default().to_vec();
                let eph_id = NodeId::from_secret(&self.ephemeral);
                let ack = match auth.form {
                    HandshakeForm::Legacy => {
                        let mut body = Vec::with_capacity(97);
                        body.extend_from_slice(eph_id.as_bytes());
                        body.extend_from_slice(&self.nonce);
                        body.push(0);
                        seal(&initiator_pk, &body, auth.form, rng)
                    }
                    HandshakeForm::Eip8 => {
                        let mut payload = Vec::new();
                        rlp::encode_bytes(eph_id.as_bytes(), &mut payload);
                        rlp::encode_bytes(&self.nonce, &mut payload);
                        rlp::encode_u64(HANDSHAKE_VERSION, &mut payload);
                        let mut body = Vec::new();
                        rlp::encode_list(&payload, &mut body);
                        body.extend(padding(rng));
                        seal(&initiator_pk, &body, auth.form, rng)
                    }
                };
                self.ack_packet = ack.clone();
                self.outgoing = ack;
                self.state = State::Done;
                Ok(Some(used))
            }
        }
    }

    /// Replaces the recorded ack by the bytes of a published test vector, so that the MAC states
    /// can be checked against it (the ack we generated used fresh ECIES randomness).
    #[doc(hidden)]
    pub fn set_sent_ack_for_test_vectors(&mut self, ack: Vec<u8>) {
        self.ack_packet = ack;
    }

    /// Replaces the recorded auth by the bytes of a published test vector (see
    /// [`Handshake::set_sent_ack_for_test_vectors`]).
    #[doc(hidden)]
    pub fn set_sent_auth_for_test_vectors(&mut self, auth: Vec<u8>) {
        self.auth_packet = auth;
    }

    /// Derives the session secrets once the remote's message was read.
    pub fn finish(&self) -> Result<Secrets, HandshakeError> {
        let (Some(remote_id), Some(remote_eph), State::Done) =
            (self.remote_id, self.remote_ephemeral, self.state)
        else {
            return Err(HandshakeError::OutOfOrder);
        };
        let (init_nonce, resp_nonce) = match self.role {
            Role::Initiator => (self.nonce, self.remote_nonce),
            Role::Recipient => (self.remote_nonce, self.nonce),
        };
        let ephemeral_key = ecies::ecdh(&self.ephemeral, &remote_eph);
        let shared = keccak(&[&ephemeral_key, &keccak(&[&resp_nonce, &init_nonce])]);
        let aes_secret = keccak(&[&ephemeral_key, &shared]);
        let mac_secret = keccak(&[&ephemeral_key, &aes_secret]);
        let mut mac_init = Keccak256::new();
        mac_init.update(xor32(&mac_secret, &resp_nonce));
        mac_init.update(&self.auth_packet);
        let mut mac_resp = Keccak256::new();
        mac_resp.update(xor32(&mac_secret, &init_nonce));
        mac_resp.update(&self.ack_packet);
        let (egress_mac, ingress_mac) = match self.role {
            Role::Initiator => (mac_init, mac_resp),
            Role::Recipient => (mac_resp, mac_init),
        };
        Ok(Secrets {
            remote_id,
            aes_secret,
            mac_secret,
            egress_mac,
            ingress_mac,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_handshake_error_has_a_fault() {
        for e in [
            HandshakeError::Ecies(EciesError::MacMismatch),
            HandshakeError::Rlp(RlpError::MissingElement),
            HandshakeError::InvalidPublicKey,
            HandshakeError::BadSignature,
            HandshakeError::EphemeralHashMismatch,
            HandshakeError::InvalidRemoteId,
            HandshakeError::OutOfOrder,
        ] {
            // Exhaustive: a new variant does not compile until its fault is decided here.
            let want = match e {
                HandshakeError::Ecies(_)
                | HandshakeError::Rlp(_)
                | HandshakeError::InvalidPublicKey
                | HandshakeError::BadSignature
                | HandshakeError::EphemeralHashMismatch => Fault::Remote,
                HandshakeError::InvalidRemoteId | HandshakeError::OutOfOrder => Fault::Local,
            };
            assert_eq!(e.fault(), want, "{e:?}");
        }
    }

    #[test]
    fn causes_are_sources_not_repeated_in_the_message() {
        use std::error::Error as _;
        let e = HandshakeError::from(EciesError::MacMismatch);
        assert_eq!(e.to_string(), "handshake message did not decrypt");
        let src = e.source().map(|s| s.to_string());
        assert_eq!(src.as_deref(), Some("ecies: message authentication failed"));
        let e = HandshakeError::from(RlpError::MissingElement);
        assert_eq!(e.to_string(), "malformed handshake body");
        assert!(e.source().is_some());
    }
}
