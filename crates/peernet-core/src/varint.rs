//! Unsigned varints as multiformats defines them (LEB128, at most 9 bytes, minimal encoding),
//! and the varint length prefix that frames multistream-select tokens, identify messages and
//! most other libp2p messages.
//!
//! Everything here works on byte slices and never allocates on the decode path.

/// Most bytes an unsigned varint may take (multiformats caps the value at 2^63 - 1).
pub const MAX_VARINT_LEN: usize = 9;

/// Why a varint could not be decoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum VarintError {
    /// The input ended before the last byte of the varint (the one without the high bit).
    /// More bytes may complete it.
    #[error("varint truncated: more bytes needed")]
    Truncated,
    /// The varint runs past 9 bytes, or its value is 2^63 or more.
    #[error("varint overflows 63 bits")]
    Overflow,
    /// The varint has trailing zero groups (e.g. `0x80 0x00` for 0); multiformats forbids it.
    #[error("varint is not minimally encoded")]
    NotMinimal,
}

impl VarintError {
    /// Who was at fault. Always Remote: a malformed varint came from its sender.
    pub fn fault(&self) -> crate::error::Fault {
        use crate::error::Fault;
        match self {
            VarintError::Truncated | VarintError::Overflow | VarintError::NotMinimal => {
                Fault::Remote
            }
        }
    }
}

/// Appends the varint encoding of `value` to `out`.
pub fn encode(value: u64, out: &mut Vec<u8>) {
    let mut buf = [0u8; 10];
    out.extend_from_slice(encode_to(value, &mut buf));
}

/// Encodes `value` into `buf` and returns the used prefix of it.
pub fn encode_to(mut value: u64, buf: &mut [u8; 10]) -> &[u8] {
    let mut n = 0;
    for slot in buf.iter_mut() {
        let byte = (value & 0x7f) as u8;
        value >>= 7;
        n += 1;
        if value == 0 {
            *slot = byte;
            break;
        }
        *slot = byte | 0x80;
    }
    // n is at most 10: the loop runs once per slot.
    let (used, _) = buf.split_at(n);
    used
}

/// How many bytes the varint encoding of `value` takes.
pub fn encoded_len(value: u64) -> usize {
    let bits = 64 - (value | 1).leading_zeros() as usize;
    bits.div_ceil(7)
}

/// Decodes one varint from the start of `input`, returning the value and the remaining bytes.
pub fn decode(input: &[u8]) -> Result<(u64, &[u8]), VarintError> {
    let mut value: u64 = 0;
    for (i, &byte) in input.iter().enumerate() {
        if i >= MAX_VARINT_LEN {
            return Err(VarintError::Overflow);
        }
        value |= u64::from(byte & 0x7f) << (7 * i);
        if byte & 0x80 == 0 {
            if byte == 0 && i > 0 {
                return Err(VarintError::NotMinimal);
            }
            // Nine 7-bit groups carry 63 bits: no value can exceed 2^63 - 1 here.
            return Ok((value, input.get(i + 1..).unwrap_or_default()));
        }
    }
    if input.len() >= MAX_VARINT_LEN {
        Err(VarintError::Overflow)
    } else {
        Err(VarintError::Truncated)
    }
}

/// Why a length-prefixed frame could not be taken from a buffer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum FrameError {
    /// The length prefix is not a valid varint.
    #[error("bad length prefix")]
    Varint(#[source] VarintError),
    /// The length prefix announces more than the caller allows.
    #[error("frame of {len} bytes exceeds the limit of {max}")]
    TooLong {
        /// The announced length.
        len: u64,
        /// The caller's limit.
        max: usize,
    },
}

impl FrameError {
    /// Who was at fault. Always Remote: a bad length prefix came from its sender.
    pub fn fault(&self) -> crate::error::Fault {
        use crate::error::Fault;
        match self {
            FrameError::Varint(..) | FrameError::TooLong { .. } => Fault::Remote,
        }
    }
}

/// Looks for one varint-length-prefixed frame at the start of `input`.
///
/// Returns `Ok(None)` when more bytes are needed, `Ok(Some((payload, consumed)))` when a whole
/// frame is present. The announced length is checked against `max` before anything waits for
/// the payload, so a peer cannot make a caller buffer more than `max` bytes.
pub fn take_frame(input: &[u8], max: usize) -> Result<Option<(&[u8], usize)>, FrameError> {
    let (len, rest) = match decode(input) {
        Ok(v) => v,
        Err(VarintError::Truncated) => return Ok(None),
        Err(e) => return Err(FrameError::Varint(e)),
    };
    if len > max as u64 {
        return Err(FrameError::TooLong { len, max });
    }
    let len = len as usize;
    let prefix = input.len() - rest.len();
    match rest.get(..len) {
        Some(payload) => Ok(Some((payload, prefix + len))),
        None => Ok(None),
    }
}

/// Appends `payload` to `out` with a varint length prefix.
pub fn put_frame(payload: &[u8], out: &mut Vec<u8>) {
    encode(payload.len() as u64, out);
    out.extend_from_slice(payload);
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn multiformats_vectors() {
        // From the unsigned-varint spec's examples.
        let cases: &[(u64, &[u8])] = &[
            (1, &[0x01]),
            (127, &[0x7f]),
            (128, &[0x80, 0x01]),
            (255, &[0xff, 0x01]),
            (300, &[0xac, 0x02]),
            (16384, &[0x80, 0x80, 0x01]),
        ];
        for &(value, bytes) in cases {
            let mut out = Vec::new();
            encode(value, &mut out);
            assert_eq!(out, bytes, "encode {value}");
            assert_eq!(decode(bytes), Ok((value, &[][..])), "decode {value}");
            assert_eq!(encoded_len(value), bytes.len());
        }
    }

    #[test]
    fn rejects_bad_input() {
        assert_eq!(decode(&[]), Err(VarintError::Truncated));
        assert_eq!(decode(&[0x80]), Err(VarintError::Truncated));
        assert_eq!(decode(&[0x80, 0x00]), Err(VarintError::NotMinimal));
        assert_eq!(decode(&[0xff; 9]), Err(VarintError::Overflow));
        assert_eq!(decode(&[0xff; 20]), Err(VarintError::Overflow));
        // The largest value allowed: 2^63 - 1.
        let mut max = vec![0xff; 8];
        max.push(0x7f);
        assert_eq!(decode(&max), Ok((u64::MAX >> 1, &[][..])));
    }

    #[test]
    fn frames() {
        let mut out = Vec::new();
        put_frame(b"hello", &mut out);
        out.push(0xaa);
        assert_eq!(take_frame(&out, 16), Ok(Some((&b"hello"[..], 6))));
        assert_eq!(take_frame(&out[..3], 16), Ok(None));
        assert_eq!(
            take_frame(&out, 4),
            Err(FrameError::TooLong { len: 5, max: 4 })
        );
        // A huge announced length is refused before any payload arrives.
        assert!(matches!(
            take_frame(&[0xff, 0xff, 0xff, 0x7f], 1 << 20),
            Err(FrameError::TooLong { .. })
        ));
    }

    proptest! {
        #[test]
        fn round_trip(value in 0u64..(1 << 63), tail in proptest::collection::vec(any::<u8>(), 0..4)) {
            let mut out = Vec::new();
            encode(value, &mut out);
            prop_assert_eq!(out.len(), encoded_len(value));
            out.extend_from_slice(&tail);
            let (v, rest) = decode(&out).unwrap();
            prop_assert_eq!(v, value);
            prop_assert_eq!(rest, &tail[..]);
        }

        #[test]
        fn decode_never_panics(input in proptest::collection::vec(any::<u8>(), 0..16)) {
            let _ = decode(&input);
            let _ = take_frame(&input, 8);
        }
    }
}
