//! The 12-byte yamux frame header (hashicorp `spec.md`, "Framing").
//!
//! ```text
//!  0       1       2               4                               8                              12
//! +-------+-------+---------------+-------------------------------+-------------------------------+
//! |version| type  |     flags     |           stream id           |            length             |
//! +-------+-------+---------------+-------------------------------+-------------------------------+
//! ```
//!
//! All fields are big-endian. `length` is the payload length of a data frame, the window delta of
//! a window update, the opaque value of a ping and the error code of a go-away. Only data frames
//! carry a payload.

use super::YamuxError;

/// Size of an encoded [`Header`].
pub const HEADER_LEN: usize = 12;

/// The only protocol version that exists.
pub const VERSION: u8 = 0;

/// What a frame is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FrameType {
    /// `0x0`: stream data; `length` payload bytes follow the header.
    Data,
    /// `0x1`: grants the peer `length` more bytes of send window on a stream.
    WindowUpdate,
    /// `0x2`: keep-alive / RTT probe on stream 0; `length` is an opaque value echoed back.
    Ping,
    /// `0x3`: the sender ends the session; `length` is a [`GoAwayCode`].
    GoAway,
}

impl FrameType {
    /// The wire value of this type.
    pub const fn to_u8(self) -> u8 {
        match self {
            FrameType::Data => 0,
            FrameType::WindowUpdate => 1,
            FrameType::Ping => 2,
            FrameType::GoAway => 3,
        }
    }

    /// Parses a wire value; `None` for types the spec does not define.
    pub const fn from_u8(value: u8) -> Option<Self> {
        match value {
            0 => Some(FrameType::Data),
            1 => Some(FrameType::WindowUpdate),
            2 => Some(FrameType::Ping),
            3 => Some(FrameType::GoAway),
            _ => None,
        }
    }
}

/// The flag bits of a header. Unknown bits are kept (and ignored) so that decoding and
/// re-encoding is lossless.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Flags(pub u16);

impl Flags {
    /// No flag.
    pub const NONE: Flags = Flags(0);
    /// Opens a stream; on a ping: a request.
    pub const SYN: Flags = Flags(0x1);
    /// Acknowledges a stream; on a ping: a response.
    pub const ACK: Flags = Flags(0x2);
    /// Half-closes the sender's direction of a stream.
    pub const FIN: Flags = Flags(0x4);
    /// Resets a stream in both directions.
    pub const RST: Flags = Flags(0x8);

    /// Whether every bit of `other` is set in `self`.
    pub const fn contains(self, other: Flags) -> bool {
        self.0 & other.0 == other.0
    }

    /// The union of both flag sets.
    #[must_use]
    pub const fn with(self, other: Flags) -> Flags {
        Flags(self.0 | other.0)
    }
}

/// Why a session ends, carried in the `length` field of a go-away frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum GoAwayCode {
    /// `0x0`: normal termination.
    Normal,
    /// `0x1`: the other side violated the protocol.
    ProtocolError,
    /// `0x2`: the sender hit an internal error.
    InternalError,
    /// A code the spec does not define (kept, not rejected: a go-away ends the session anyway).
    Other(u32),
}

impl GoAwayCode {
    /// The wire value.
    pub const fn to_u32(self) -> u32 {
        match self {
            GoAwayCode::Normal => 0,
            GoAwayCode::ProtocolError => 1,
            GoAwayCode::InternalError => 2,
            GoAwayCode::Other(code) => code,
        }
    }

    /// Parses a wire value.
    pub const fn from_u32(value: u32) -> Self {
        match value {
            0 => GoAwayCode::Normal,
            1 => GoAwayCode::ProtocolError,
            2 => GoAwayCode::InternalError,
            other => GoAwayCode::Other(other),
        }
    }
}

/// A decoded frame header.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Header {
    /// Frame type.
    pub frame_type: FrameType,
    /// Flag bits.
    pub flags: Flags,
    /// Stream the frame addresses; 0 for the session (ping, go-away).
    pub stream_id: u32,
    /// Payload length, window delta, ping value or go-away code, depending on the type.
    pub length: u32,
}

impl Header {
    /// A data frame header announcing `len` payload bytes.
    pub const fn data(stream_id: u32, flags: Flags, len: u32) -> Self {
        Header {
            frame_type: FrameType::Data,
            flags,
            stream_id,
            length: len,
        }
    }

    /// A window update granting `delta` bytes.
    pub const fn window_update(stream_id: u32, flags: Flags, delta: u32) -> Self {
        Header {
            frame_type: FrameType::WindowUpdate,
            flags,
            stream_id,
            length: delta,
        }
    }

    /// A ping request (`SYN`) or response (`ACK`) carrying `opaque`.
    pub const fn ping(flags: Flags, opaque: u32) -> Self {
        Header {
            frame_type: FrameType::Ping,
            flags,
            stream_id: 0,
            length: opaque,
        }
    }

    /// A go-away frame.
    pub const fn go_away(code: GoAwayCode) -> Self {
        Header {
            frame_type: FrameType::GoAway,
            flags: Flags::NONE,
            stream_id: 0,
            length: code.to_u32(),
        }
    }

    /// The 12-byte big-endian encoding.
    pub fn encode(&self) -> [u8; HEADER_LEN] {
        let [f0, f1] = self.flags.0.to_be_bytes();
        let [s0, s1, s2, s3] = self.stream_id.to_be_bytes();
        let [l0, l1, l2, l3] = self.length.to_be_bytes();
        [
            VERSION,
            self.frame_type.to_u8(),
            f0,
            f1,
            s0,
            s1,
            s2,
            s3,
            l0,
            l1,
            l2,
            l3,
        ]
    }

    /// Decodes a header from exactly 12 bytes.
    ///
    /// Fails on a version other than 0 ([`YamuxError::UnsupportedVersion`]) or an unknown type
    /// ([`YamuxError::UnknownFrameType`]); both are the peer's fault.
    pub fn decode(bytes: &[u8; HEADER_LEN]) -> Result<Self, YamuxError> {
        let [version, ty, f0, f1, s0, s1, s2, s3, l0, l1, l2, l3] = *bytes;
        if version != VERSION {
            return Err(YamuxError::UnsupportedVersion(version));
        }
        let frame_type = FrameType::from_u8(ty).ok_or(YamuxError::UnknownFrameType(ty))?;
        Ok(Header {
            frame_type,
            flags: Flags(u16::from_be_bytes([f0, f1])),
            stream_id: u32::from_be_bytes([s0, s1, s2, s3]),
            length: u32::from_be_bytes([l0, l1, l2, l3]),
        })
    }

    /// Decodes the header at the start of `input`, if 12 bytes are there.
    ///
    /// `Ok(None)` means more bytes are needed.
    pub fn decode_prefix(input: &[u8]) -> Result<Option<Self>, YamuxError> {
        match input.first_chunk::<HEADER_LEN>() {
            Some(bytes) => Header::decode(bytes).map(Some),
            None => Ok(None),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn vector(header: Header, hex_bytes: &str) {
        let bytes = hex::decode(hex_bytes).unwrap();
        assert_eq!(header.encode().as_slice(), bytes.as_slice(), "{header:?}");
        assert_eq!(Header::decode(&header.encode()).unwrap(), header);
    }

    #[test]
    fn byte_vectors() {
        // SYN window update opening stream 1 with no extra window.
        vector(
            Header::window_update(1, Flags::SYN, 0),
            "000100010000000100000000",
        );
        // Data on stream 3, 5 bytes, FIN.
        vector(Header::data(3, Flags::FIN, 5), "000000040000000300000005");
        // ACK + 256 KiB window update on stream 2.
        vector(
            Header::window_update(2, Flags::ACK, 256 * 1024),
            "000100020000000200040000",
        );
        // RST on a data frame of stream 0x01020304.
        vector(
            Header::data(0x0102_0304, Flags::RST, 0),
            "000000080102030400000000",
        );
        // Ping request and response with opaque 0xdeadbeef.
        vector(
            Header::ping(Flags::SYN, 0xdead_beef),
            "0002000100000000deadbeef",
        );
        vector(
            Header::ping(Flags::ACK, 0xdead_beef),
            "0002000200000000deadbeef",
        );
        // Go-away, protocol error.
        vector(
            Header::go_away(GoAwayCode::ProtocolError),
            "000300000000000000000001",
        );
        vector(
            Header::go_away(GoAwayCode::Normal),
            "000300000000000000000000",
        );
        vector(
            Header::go_away(GoAwayCode::InternalError),
            "000300000000000000000002",
        );
    }

    #[test]
    fn rejects_bad_version_and_type() {
        let mut bytes = Header::data(1, Flags::NONE, 0).encode();
        bytes[0] = 1;
        assert_eq!(
            Header::decode(&bytes),
            Err(YamuxError::UnsupportedVersion(1))
        );
        let mut bytes = Header::data(1, Flags::NONE, 0).encode();
        bytes[1] = 4;
        assert_eq!(Header::decode(&bytes), Err(YamuxError::UnknownFrameType(4)));
        assert_eq!(Header::decode_prefix(&bytes[..11]), Ok(None));
    }

    fn arb_header() -> impl Strategy<Value = Header> {
        (0u8..4, any::<u16>(), any::<u32>(), any::<u32>()).prop_map(
            |(ty, flags, stream_id, length)| Header {
                frame_type: FrameType::from_u8(ty).unwrap(),
                flags: Flags(flags),
                stream_id,
                length,
            },
        )
    }

    proptest! {
        #[test]
        fn header_round_trip(header in arb_header()) {
            prop_assert_eq!(Header::decode(&header.encode()).unwrap(), header);
        }

        #[test]
        fn decode_never_panics(bytes in proptest::array::uniform12(any::<u8>())) {
            if let Ok(header) = Header::decode(&bytes) {
                prop_assert_eq!(header.encode(), bytes);
            }
        }
    }
}
