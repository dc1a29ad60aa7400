//! RLPx framing (rlpx.md "Framing", "MAC", "Message Encoding"), sans-IO.
//!
//! A frame is `header-ciphertext(16) || header-mac(16) || frame-ciphertext(padded) || frame-mac(16)`.
//! The header is `frame-size(3) || rlp([0, 0]) || zero padding`. Both directions use AES-256-CTR
//! keyed with `aes-secret` and a zero IV; the MACs are keccak256 states updated with the
//! ciphertext and "seeded" through AES-256 (single block, key `mac-secret`).
//!
//! Frame data is `rlp(msg-id) || msg-data`; after a Hello with p2p version >= 5 `msg-data` is
//! snappy-compressed, and the declared decompressed length is checked against
//! [`MAX_MESSAGE_SIZE`] before anything is decompressed.
//!
//! [`FrameWriter`] and [`FrameReader`] are the two independent halves, so a driver can write and
//! read concurrently.

use aes::cipher::{BlockEncrypt, KeyInit, KeyIvInit, StreamCipher};
use aes::Aes256;
use peernet_core::Fault;
use sha3::{Digest, Keccak256};

use crate::proto::handshake::Secrets;
use crate::proto::rlp::{self, RlpError};

type Aes256Ctr = ctr::Ctr128BE<Aes256>;

/// Largest message payload, compressed or not, that is sent or accepted: 16 MiB.
pub const MAX_MESSAGE_SIZE: usize = 16 * 1024 * 1024;
/// Largest frame: the frame-size field has 24 bits.
pub const MAX_FRAME_SIZE: usize = 0xff_ffff;
/// Length of the encrypted header plus its MAC.
pub const HEADER_LEN: usize = 32;
/// `rlp([capability-id = 0, context-id = 0])`, the header-data everybody sends.
const HEADER_DATA: [u8; 3] = [0xc2, 0x80, 0x80];

/// Why a frame could not be written or read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum FrameError {
    /// The header MAC does not match (the remote's fault: corrupted or forged data, or it does
    /// not hold the session keys).
    #[error("frame header MAC mismatch")]
    HeaderMacMismatch,
    /// The frame MAC does not match (the remote's fault).
    #[error("frame MAC mismatch")]
    FrameMacMismatch,
    /// The frame data does not start with a valid RLP message code (the remote's fault).
    #[error("frame data does not start with a valid message code")]
    BadMessageCode(#[source] RlpError),
    /// A received message inflates beyond [`MAX_MESSAGE_SIZE`] (the remote's fault; checked
    /// before decompressing).
    #[error("message of {size} bytes exceeds the {MAX_MESSAGE_SIZE}-byte limit")]
    MessageTooLarge {
        /// The declared size.
        size: usize,
    },
    /// The snappy data is corrupt (the remote's fault).
    #[error("invalid snappy data")]
    Snappy(#[source] SnappyError),
    /// A message given to us to send is too large for a frame (local misuse).
    #[error("message of {size} bytes is too large to send")]
    TooLargeToSend {
        /// Its size.
        size: usize,
    },
    /// `read_body` without a header, or with the wrong length (local misuse).
    #[error("frame reader used out of order")]
    OutOfOrder,
}

impl FrameError {
    /// Whose fault: [`Fault::Remote`] for everything received (bad MACs, a bad code, an
    /// oversized or corrupt payload), [`Fault::Local`] for a message too large to send and calls
    /// out of order.
    ///
    /// [`FrameError::MessageTooLarge`] is the remote's fault, not a [`Fault::Limit`]: 16 MiB is
    /// the protocol's bound (go-ethereum's too), an honest peer never exceeds it, and more
    /// capacity later would not make the message acceptable.
    pub fn fault(&self) -> Fault {
        match self {
            FrameError::HeaderMacMismatch
            | FrameError::FrameMacMismatch
            | FrameError::BadMessageCode(_)
            | FrameError::MessageTooLarge { .. } => Fault::Remote,
            FrameError::Snappy(e) => e.fault(),
            FrameError::TooLargeToSend { .. } | FrameError::OutOfOrder => Fault::Local,
        }
    }
}

/// The snappy decoder's reason for refusing a payload: the source of [`FrameError::Snappy`].
#[derive(Debug, Clone)]
pub struct SnappyError(snap::Error);

impl SnappyError {
    /// Whose fault: [`Fault::Remote`], the sender of the compressed data.
    pub fn fault(&self) -> Fault {
        Fault::Remote
    }
}

impl std::fmt::Display for SnappyError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

impl std::error::Error for SnappyError {}

/// Equal when the decoder's messages are (the decoder's error has no `PartialEq`).
impl PartialEq for SnappyError {
    fn eq(&self, other: &Self) -> bool {
        self.0.to_string() == other.0.to_string()
    }
}

impl Eq for SnappyError {}

/// A decoded message: its code (with any subprotocol offset still applied) and its payload
/// (decompressed, still RLP).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RawMessage {
    /// The message code.
    pub code: u64,
    /// The payload bytes.
    pub payload: Vec<u8>,
}

/// A keccak256 MAC state with its AES-256 "seed" cipher.
#[derive(Clone)]
struct MacState {
    cipher: Aes256,
    hash: Keccak256,
}

impl MacState {
    fn new(mac_secret: &[u8; 32], hash: Keccak256) -> MacState {
        MacState {
            cipher: Aes256::new(mac_secret.into()),
            hash,
        }
    }

    fn digest16(&self) -> [u8; 16] {
        let d: [u8; 32] = self.hash.clone().finalize().into();
        let mut out = [0u8; 16];
        out.copy_from_slice(&d[..16]);
        out
    }

    fn encrypted_digest(&self) -> [u8; 16] {
        let mut block = self.digest16().into();
        self.cipher.encrypt_block(&mut block);
        block.into()
    }

    /// header-mac-seed = aes(mac-secret, digest[:16]) ^ header-ciphertext; update; digest[:16].
    fn header(&mut self, header_ct: &[u8; 16]) -> [u8; 16] {
        let mut seed = self.encrypted_digest();
        for (s, c) in seed.iter_mut().zip(header_ct) {
            *s ^= c;
        }
        self.hash.update(seed);
        self.digest16()
    }

    /// update(frame-ciphertext); seed = aes(digest[:16]) ^ digest[:16]; update(seed); digest[:16].
    fn frame(&mut self, frame_ct: &[u8]) -> [u8; 16] {
        self.hash.update(frame_ct);
        let d = self.digest16();
        let mut seed = self.encrypted_digest();
        for (s, x) in seed.iter_mut().zip(d) {
            *s ^= x;
        }
        self.hash.update(seed);
        self.digest16()
    }
}

fn ct_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

fn padded(n: usize) -> usize {
    n.div_ceil(16) * 16
}

/// The sending half of an RLPx session.
pub struct FrameWriter {
    cipher: Aes256Ctr,
    mac: MacState,
    snappy: bool,
}

impl std::fmt::Debug for FrameWriter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FrameWriter")
            .field("snappy", &self.snappy)
            .finish_non_exhaustive()
    }
}

/// The receiving half of an RLPx session.
pub struct FrameReader {
    cipher: Aes256Ctr,
    mac: MacState,
    snappy: bool,
    /// Size of the frame whose header was read and whose body is awaited.
    pending: Option<usize>,
}

impl std::fmt::Debug for FrameReader {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FrameReader")
            .field("snappy", &self.snappy)
            .field("pending", &self.pending)
            .finish_non_exhaustive()
    }
}

/// Creates the two halves of a session from the handshake's secrets.
pub fn session(secrets: &Secrets) -> (FrameWriter, FrameReader) {
    let iv = [0u8; 16];
    let w = FrameWriter {
        cipher: Aes256Ctr::new(&secrets.aes_secret.into(), &iv.into()),
        mac: MacState::new(&secrets.mac_secret, secrets.egress_mac.clone()),
        snappy: false,
    };
    let r = FrameReader {
        cipher: Aes256Ctr::new(&secrets.aes_secret.into(), &iv.into()),
        mac: MacState::new(&secrets.mac_secret, secrets.ingress_mac.clone()),
        snappy: false,
        pending: None,
    };
    (w, r)
}

impl FrameWriter {
    /// Turns snappy compression of payloads on or off (on after Hello with version >= 5).
    pub fn set_snappy(&mut self, on: bool) {
        self.snappy = on;
    }

    /// Whether payloads are compressed.
    pub fn snappy(&self) -> bool {
        self.snappy
    }

    /// Appends the frame carrying message `code` with `payload` to `out`.
    pub fn write_msg(
        &mut self,
        code: u64,
        payload: &[u8],
        out: &mut Vec<u8>,
    ) -> Result<(), FrameError> {
        if payload.len() > MAX_MESSAGE_SIZE {
            return Err(FrameError::TooLargeToSend {
                size: payload.len(),
            });
        }
        let mut data = Vec::with_capacity(payload.len() + 16);
        rlp::encode_u64(code, &mut data);
        if self.snappy {
            let compressed = snap::raw::Encoder::new()
                .compress_vec(payload)
                .map_err(|_| FrameError::TooLargeToSend {
                    size: payload.len(),
                })?;
            data.extend_from_slice(&compressed);
        } else {
            data.extend_from_slice(payload);
        }
        self.write_frame(&data, out)
    }

    /// Appends a frame carrying `frame_data` (`rlp(code) || payload`) as it is.
    pub fn write_frame(&mut self, frame_data: &[u8], out: &mut Vec<u8>) -> Result<(), FrameError> {
        let size = frame_data.len();
        if size > MAX_FRAME_SIZE {
            return Err(FrameError::TooLargeToSend { size });
        }
        let mut header = [0u8; 16];
        header[..3].copy_from_slice(&(size as u32).to_be_bytes()[1..]);
        header[3..6].copy_from_slice(&HEADER_DATA);
        self.cipher.apply_keystream(&mut header);
        let header_mac = self.mac.header(&header);
        out.reserve(HEADER_LEN + padded(size) + 16);
        out.extend_from_slice(&header);
        out.extend_from_slice(&header_mac);
        let start = out.len();
        out.extend_from_slice(frame_data);
        out.resize(start + padded(size), 0);
        if let Some(body) = out.get_mut(start..) {
            self.cipher.apply_keystream(body);
            let frame_mac = self.mac.frame(body);
            out.extend_from_slice(&frame_mac);
        }
        Ok(())
    }
}

impl FrameReader {
    /// Turns snappy decompression of payloads on or off.
    pub fn set_snappy(&mut self, on: bool) {
        self.snappy = on;
    }

    /// Checks and decrypts a 32-byte header; returns how many body bytes (padded frame plus
    /// 16-byte MAC) must be passed to [`FrameReader::read_body`] next.
    pub fn read_header(&mut self, header: &[u8; HEADER_LEN]) -> Result<usize, FrameError> {
        if self.pending.is_some() {
            return Err(FrameError::OutOfOrder);
        }
        let size = open_header(&mut self.cipher, &mut self.mac, header)?;
        self.pending = Some(size);
        Ok(padded(size) + 16)
    }

    /// Checks, decrypts and decodes the body of the frame whose header was just read.
    pub fn read_body(&mut self, body: &mut [u8]) -> Result<RawMessage, FrameError> {
        let size = self.pending.take().ok_or(FrameError::OutOfOrder)?;
        if body.len() != padded(size) + 16 {
            return Err(FrameError::OutOfOrder);
        }
        let (ct, mac) = body.split_at_mut(padded(size));
        let want = self.mac.frame(ct);
        if !ct_eq(&want, mac) {
            return Err(FrameError::FrameMacMismatch);
        }
        self.cipher.apply_keystream(ct);
        let data = ct.get(..size).ok_or(FrameError::OutOfOrder)?;
        self.decode_frame_data(data)
    }

    fn decode_frame_data(&self, data: &[u8]) -> Result<RawMessage, FrameError> {
        let (code, payload) = rlp::decode_prefix(data).map_err(FrameError::BadMessageCode)?;
        let code = code.as_u64().map_err(FrameError::BadMessageCode)?;
        let payload = if self.snappy {
            decompress(payload)?
        } else {
            payload.to_vec()
        };
        Ok(RawMessage { code, payload })
    }

    /// Decodes one message from the front of `buf`, which holds everything received and not yet
    /// consumed. Returns `None` if more bytes are needed (nothing is consumed then), else the
    /// message and the number of bytes it took.
    pub fn decode(&mut self, buf: &[u8]) -> Result<Option<(RawMessage, usize)>, FrameError> {
        let (header_len, size) = match self.pending {
            Some(size) => (0, size),
            None => {
                let Some(h) = buf.get(..HEADER_LEN) else {
                    return Ok(None);
                };
                let mut header = [0u8; HEADER_LEN];
                header.copy_from_slice(h);
                // Peek on copies of the states: nothing is consumed until the whole frame is in.
                let mut cipher = self.cipher.clone();
                let mut mac = self.mac.clone();
                let size = open_header(&mut cipher, &mut mac, &header)?;
                if buf.len() < HEADER_LEN + padded(size) + 16 {
                    return Ok(None);
                }
                self.cipher = cipher;
                self.mac = mac;
                self.pending = Some(size);
                (HEADER_LEN, size)
            }
        };
        let body_len = padded(size) + 16;
        let Some(body) = buf.get(header_len..header_len + body_len) else {
            return Ok(None);
        };
        let mut body = body.to_vec();
        let msg = self.read_body(&mut body)?;
        Ok(Some((msg, header_len + body_len)))
    }
}

fn open_header(
    cipher: &mut Aes256Ctr,
    mac: &mut MacState,
    header: &[u8; HEADER_LEN],
) -> Result<usize, FrameError> {
    let (ct, tag) = header.split_at(16);
    let mut ct16 = [0u8; 16];
    ct16.copy_from_slice(ct);
    let want = mac.header(&ct16);
    if !ct_eq(&want, tag) {
        return Err(FrameError::HeaderMacMismatch);
    }
    cipher.apply_keystream(&mut ct16);
    // header-data (capability-id, context-id) is unused by RLPx v5 and ignored, as go-ethereum
    // does.
    let [a, b, c, ..] = ct16;
    Ok(u32::from_be_bytes([0, a, b, c]) as usize)
}

/// Snappy-decompresses a payload after checking its declared length.
pub fn decompress(payload: &[u8]) -> Result<Vec<u8>, FrameError> {
    let size =
        snap::raw::decompress_len(payload).map_err(|e| FrameError::Snappy(SnappyError(e)))?;
    if size > MAX_MESSAGE_SIZE {
        return Err(FrameError::MessageTooLarge { size });
    }
    snap::raw::Decoder::new()
        .decompress_vec(payload)
        .map_err(|e| FrameError::Snappy(SnappyError(e)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn snappy_error() -> SnappyError {
        match decompress(&[0x05, 0xff, 0xff]) {
            Err(FrameError::Snappy(e)) => e,
            other => panic!("not a snappy error: {other:?}"),
        }
    }

    #[test]
    fn every_frame_error_has_a_fault() {
        for e in [
            FrameError::HeaderMacMismatch,
            FrameError::FrameMacMismatch,
            FrameError::BadMessageCode(RlpError::Truncated),
            FrameError::MessageTooLarge {
                size: MAX_MESSAGE_SIZE + 1,
            },
            FrameError::Snappy(snappy_error()),
            FrameError::TooLargeToSend {
                size: MAX_FRAME_SIZE + 1,
            },
            FrameError::OutOfOrder,
        ] {
            // Exhaustive: a new variant does not compile until its fault is decided here.
            let want = match e {
                FrameError::HeaderMacMismatch
                | FrameError::FrameMacMismatch
                | FrameError::BadMessageCode(_)
                | FrameError::MessageTooLarge { .. }
                | FrameError::Snappy(_) => Fault::Remote,
                FrameError::TooLargeToSend { .. } | FrameError::OutOfOrder => Fault::Local,
            };
            assert_eq!(e.fault(), want, "{e:?}");
        }
    }

    #[test]
    fn snappy_error_is_the_senders_fault_and_the_frame_errors_source() {
        use std::error::Error as _;
        let e = snappy_error();
        // A struct: the one "variant" is the decoder's refusal.
        let SnappyError(_) = &e;
        assert_eq!(e.fault(), Fault::Remote);
        let f = FrameError::Snappy(e.clone());
        assert_eq!(f.to_string(), "invalid snappy data");
        assert_eq!(f.source().map(|s| s.to_string()), Some(e.to_string()));
    }
}
