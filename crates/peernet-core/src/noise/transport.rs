//! The Noise transport phase: one cipher per direction, 2-byte big-endian length framing.
//!
//! Every frame on the wire is `len: u16 (big-endian) || ciphertext || tag`, where `len` counts the
//! ciphertext and the 16-byte tag, so a frame carries at most [`MAX_PLAINTEXT_LEN`] = 65519
//! plaintext bytes. Nothing here allocates per frame: [`Sender::encrypt`] appends to a buffer the
//! caller reuses, [`Sender::seal_frame`] encrypts plaintext the caller already placed in its write
//! buffer, and [`Receiver::decrypt_in_place`] decrypts a frame where it was received.

use super::symmetric::{CipherState, HASH_LEN, TAG_LEN};
use super::NoiseError;

/// Largest Noise message (handshake or transport): the 2-byte length prefix caps it at 65535.
pub const MAX_MESSAGE_LEN: usize = u16::MAX as usize;
/// Largest plaintext in one transport frame: 65535 minus the 16-byte tag.
pub const MAX_PLAINTEXT_LEN: usize = MAX_MESSAGE_LEN - TAG_LEN;
/// Length of the big-endian length prefix in front of every Noise message.
pub const LENGTH_PREFIX_LEN: usize = 2;
/// Largest frame on the wire: length prefix and a maximal message.
pub const MAX_FRAME_LEN: usize = LENGTH_PREFIX_LEN + MAX_MESSAGE_LEN;

/// Reads the length prefix at the front of `buf`: the length of the Noise message that follows,
/// or `None` when fewer than 2 bytes are buffered.
pub fn message_len(buf: &[u8]) -> Option<usize> {
    match buf {
        [hi, lo, ..] => Some(usize::from(u16::from_be_bytes([*hi, *lo]))),
        _ => None,
    }
}

/// An established Noise session: the result of a completed handshake.
///
/// Use it directly for a sequential protocol, or [`split`](Transport::split) it into a
/// [`Sender`] and a [`Receiver`] that a driver can own from different tasks.
pub struct Transport {
    sender: Sender,
    receiver: Receiver,
    handshake_hash: [u8; HASH_LEN],
}

impl std::fmt::Debug for Transport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Transport")
            .field("sent", &self.sender.cipher.nonce_value())
            .field("received", &self.receiver.cipher.nonce_value())
            .finish_non_exhaustive()
    }
}

impl Transport {
    pub(crate) fn new(
        send: CipherState,
        recv: CipherState,
        handshake_hash: [u8; HASH_LEN],
    ) -> Self {
        Transport {
            sender: Sender { cipher: send },
            receiver: Receiver { cipher: recv },
            handshake_hash,
        }
    }

    /// The final handshake hash `h`, a value unique to this session (usable for channel binding).
    pub fn handshake_hash(&self) -> &[u8; HASH_LEN] {
        &self.handshake_hash
    }

    /// Encrypts `plaintext` into one frame appended to `out`; see [`Sender::encrypt`].
    pub fn encrypt(&mut self, plaintext: &[u8], out: &mut Vec<u8>) -> Result<(), NoiseError> {
        self.sender.encrypt(plaintext, out)
    }

    /// Decrypts one Noise message and appends its plaintext to `out`; see [`Receiver::decrypt`].
    pub fn decrypt(&mut self, message: &[u8], out: &mut Vec<u8>) -> Result<(), NoiseError> {
        self.receiver.decrypt(message, out)
    }

    /// The sending half (mutable).
    pub fn sender(&mut self) -> &mut Sender {
        &mut self.sender
    }

    /// The receiving half (mutable).
    pub fn receiver(&mut self) -> &mut Receiver {
        &mut self.receiver
    }

    /// Splits the session into its two independent directions.
    pub fn split(self) -> (Sender, Receiver) {
        (self.sender, self.receiver)
    }
}

/// The sending direction of a Noise session.
pub struct Sender {
    cipher: CipherState,
}

impl std::fmt::Debug for Sender {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Sender")
            .field("sent", &self.cipher.nonce_value())
            .finish_non_exhaustive()
    }
}

impl Sender {
    /// Encrypts `plaintext` (at most [`MAX_PLAINTEXT_LEN`] bytes) and appends the whole frame —
    /// length prefix, ciphertext, tag — to `out`.
    ///
    /// `out` is only grown, never reallocated when its capacity suffices, so a driver can encrypt
    /// many frames into one write buffer and send them with one system call.
    pub fn encrypt(&mut self, plaintext: &[u8], out: &mut Vec<u8>) -> Result<(), NoiseError> {
        if plaintext.len() > MAX_PLAINTEXT_LEN {
            return Err(NoiseError::PayloadTooLarge {
                len: plaintext.len(),
                max: MAX_PLAINTEXT_LEN,
            });
        }
        let start = out.len();
        out.reserve(LENGTH_PREFIX_LEN + plaintext.len() + TAG_LEN);
        out.extend_from_slice(&[0, 0]);
        out.extend_from_slice(plaintext);
        self.seal_frame(out, start)
            .inspect_err(|_| out.truncate(start))
    }

    /// Encrypts a frame that the caller assembled in place: `buf[frame_start..frame_start + 2]`
    /// is reserved for the length prefix and everything after it is the plaintext.
    ///
    /// Writes the length prefix, encrypts the plaintext where it is and appends the tag, so the
    /// plaintext is never copied. Fails with [`NoiseError::PayloadTooLarge`] when the plaintext
    /// exceeds [`MAX_PLAINTEXT_LEN`], and with [`NoiseError::Misuse`] when `buf` is shorter than
    /// `frame_start + 2`; in both cases `buf` is left unchanged.
    pub fn seal_frame(&mut self, buf: &mut Vec<u8>, frame_start: usize) -> Result<(), NoiseError> {
        let Some(frame) = buf.get_mut(frame_start..) else {
            return Err(NoiseError::Misuse(
                "frame start beyond the end of the buffer",
            ));
        };
        let Some((prefix, plaintext)) = frame.split_at_mut_checked(LENGTH_PREFIX_LEN) else {
            return Err(NoiseError::Misuse("no room reserved for the length prefix"));
        };
        if plaintext.len() > MAX_PLAINTEXT_LEN {
            return Err(NoiseError::PayloadTooLarge {
                len: plaintext.len(),
                max: MAX_PLAINTEXT_LEN,
            });
        }
        // Checked above: at most 65519 + 16 = 65535.
        let message_len = (plaintext.len() + TAG_LEN) as u16;
        let tag = self.cipher.seal_in_place(&[], plaintext)?;
        prefix.copy_from_slice(&message_len.to_be_bytes());
        buf.extend_from_slice(&tag);
        Ok(())
    }
}

/// The receiving direction of a Noise session.
pub struct Receiver {
    cipher: CipherState,
}

impl std::fmt::Debug for Receiver {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Receiver")
            .field("received", &self.cipher.nonce_value())
            .finish_non_exhaustive()
    }
}

impl Receiver {
    /// Decrypts one Noise message (the bytes after the length prefix: ciphertext and tag) and
    /// appends its plaintext to `out`.
    pub fn decrypt(&mut self, message: &[u8], out: &mut Vec<u8>) -> Result<(), NoiseError> {
        let start = out.len();
        out.extend_from_slice(message);
        let body = out.get_mut(start..).unwrap_or_default();
        match self.decrypt_in_place(body) {
            Ok(plain) => {
                let len = plain.len();
                out.truncate(start + len);
                Ok(())
            }
            Err(e) => {
                out.truncate(start);
                Err(e)
            }
        }
    }

    /// Decrypts one Noise message where it lies and returns the plaintext: the front of
    /// `message` without its last 16 bytes.
    ///
    /// A message shorter than the tag is [`NoiseError::FrameTooShort`]; one that does not
    /// authenticate is [`NoiseError::Decrypt`]. Either way the session must be closed.
    pub fn decrypt_in_place<'a>(
        &mut self,
        message: &'a mut [u8],
    ) -> Result<&'a mut [u8], NoiseError> {
        if message.len() < TAG_LEN {
            return Err(NoiseError::FrameTooShort(message.len()));
        }
        self.cipher.open_in_place(&[], message)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pair() -> (Transport, Transport) {
        let (k1, k2) = ([1u8; 32], [2u8; 32]);
        let a = Transport::new(CipherState::new(&k1), CipherState::new(&k2), [0; 32]);
        let b = Transport::new(CipherState::new(&k2), CipherState::new(&k1), [0; 32]);
        (a, b)
    }

    #[test]
    fn seal_frame_encrypts_in_place_after_other_frames() {
        let (mut a, mut b) = pair();
        let mut buf = Vec::new();
        a.encrypt(b"first", &mut buf).unwrap();
        let second = buf.len();
        buf.extend_from_slice(&[0, 0]);
        buf.extend_from_slice(b"second");
        a.sender().seal_frame(&mut buf, second).unwrap();
        assert_eq!(buf.len(), 2 * (2 + TAG_LEN) + 5 + 6);

        let mut plain = Vec::new();
        let len1 = message_len(&buf).unwrap();
        b.decrypt(&buf[2..2 + len1], &mut plain).unwrap();
        let rest = &mut buf[2 + len1..];
        let len2 = message_len(rest).unwrap();
        let got = b
            .receiver()
            .decrypt_in_place(&mut rest[2..2 + len2])
            .unwrap();
        assert_eq!(got, b"second");
        assert_eq!(plain, b"first");
    }

    #[test]
    fn limits_and_misuse() {
        let (mut a, mut b) = pair();
        let mut out = Vec::new();
        let too_big = vec![0u8; MAX_PLAINTEXT_LEN + 1];
        assert!(matches!(
            a.encrypt(&too_big, &mut out),
            Err(NoiseError::PayloadTooLarge { .. })
        ));
        assert!(out.is_empty());
        let mut short = vec![0u8; 1];
        assert!(matches!(
            a.sender().seal_frame(&mut short, 0),
            Err(NoiseError::Misuse(_))
        ));
        assert!(matches!(
            a.sender().seal_frame(&mut short, 5),
            Err(NoiseError::Misuse(_))
        ));
        assert_eq!(
            b.decrypt(&[0u8; 15], &mut out),
            Err(NoiseError::FrameTooShort(15))
        );
        assert_eq!(message_len(&[1]), None);
        assert_eq!(message_len(&[0xff, 0xff, 3]), Some(65535));
    }

    #[test]
    fn replayed_reordered_or_tampered_frames_fail() {
        let (mut a, mut b) = pair();
        let (mut f1, mut f2) = (Vec::new(), Vec::new());
        a.encrypt(b"one", &mut f1).unwrap();
        a.encrypt(b"two", &mut f2).unwrap();
        // Reordered: frame 2 first.
        assert_eq!(
            b.decrypt(&f2[2..], &mut Vec::new()),
            Err(NoiseError::Decrypt)
        );

        let (mut a, mut b) = pair();
        let mut f1 = Vec::new();
        a.encrypt(b"one", &mut f1).unwrap();
        let mut out = Vec::new();
        b.decrypt(&f1[2..], &mut out).unwrap();
        // Replayed.
        assert_eq!(b.decrypt(&f1[2..], &mut out), Err(NoiseError::Decrypt));
        assert_eq!(out, b"one", "failed decryption leaves the output as it was");

        let (mut a, mut b) = pair();
        let mut f1 = Vec::new();
        a.encrypt(b"one", &mut f1).unwrap();
        f1[3] ^= 0x80;
        assert_eq!(
            b.decrypt(&f1[2..], &mut Vec::new()),
            Err(NoiseError::Decrypt)
        );
    }

    #[test]
    fn the_last_nonce_is_never_used() {
        let (mut a, mut b) = pair();
        a.sender.cipher.set_nonce(u64::MAX - 1);
        b.receiver.cipher.set_nonce(u64::MAX - 1);
        let mut frame = Vec::new();
        a.encrypt(b"last", &mut frame).unwrap();
        b.decrypt(&frame[2..], &mut Vec::new()).unwrap();
        let len = frame.len();
        assert_eq!(
            a.encrypt(b"more", &mut frame),
            Err(NoiseError::NonceExhausted)
        );
        assert_eq!(frame.len(), len);
        assert_eq!(
            b.decrypt(&frame[2..], &mut Vec::new()),
            Err(NoiseError::NonceExhausted)
        );
    }
}
