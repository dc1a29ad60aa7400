//! [`MultiaddrError`]: every way text or bytes can fail to be a multiaddr.

use crate::identity::{PeerId, PeerIdError};
use crate::varint::VarintError;

/// Why text or bytes are not a valid multiaddr, or why an operation on one failed.
///
/// Parsing errors are caused by whoever supplied the input (a remote peer for bytes from the
/// wire, a user or config file for text); [`MultiaddrError::PeerIdMismatch`] and
/// [`MultiaddrError::NoPeerId`] are misuse by the local caller.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MultiaddrError {
    /// The text form is empty (`""` or `"/"`); go-multiaddr refuses it too.
    #[error("empty multiaddr")]
    Empty,
    /// The text form does not begin with `/`.
    #[error("multiaddr text must begin with '/'")]
    MissingLeadingSlash,
    /// A protocol name in the text form is not in the table (the name is cut to 64 bytes).
    #[error("unknown protocol name {0:?}")]
    UnknownProtocolName(String),
    /// A protocol code in the binary form is not in the table.
    #[error("unknown protocol code {0}")]
    UnknownProtocolCode(u64),
    /// A protocol that takes a value is the last thing in the text form.
    #[error("protocol /{protocol} is missing its value")]
    MissingValue {
        /// The protocol's name.
        protocol: &'static str,
    },
    /// A protocol's value is malformed, in text or in binary.
    #[error("invalid value for /{protocol}: {reason}")]
    InvalidValue {
        /// The protocol's name.
        protocol: &'static str,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// A `/p2p/` value is not a valid peer id.
    #[error("invalid /p2p/ value")]
    InvalidPeerId(#[from] PeerIdError),
    /// A protocol code or a value length prefix is not a valid varint.
    #[error("bad varint in multiaddr")]
    Varint(#[from] VarintError),
    /// The binary form ends inside a component's value.
    #[error("multiaddr bytes end inside the value of /{protocol}")]
    Truncated {
        /// The protocol whose value is cut short.
        protocol: &'static str,
    },
    /// A component follows a path protocol (`/unix/`), which must be the last one: its text form
    /// takes the rest of the string, so anything after it could never be printed back.
    #[error("component after the path protocol /{protocol}")]
    TrailingAfterPath {
        /// The path protocol.
        protocol: &'static str,
    },
    /// The input exceeds the size cap ([`super::MAX_MULTIADDR_LEN`] bytes of binary,
    /// [`super::MAX_MULTIADDR_TEXT_LEN`] bytes of text).
    #[error("multiaddr of {len} bytes exceeds the limit of {max}")]
    TooLong {
        /// The input's length.
        len: usize,
        /// The limit.
        max: usize,
    },
    /// The address has more than [`super::MAX_COMPONENTS`] components.
    #[error("multiaddr has more than {max} components")]
    TooManyComponents {
        /// The limit.
        max: usize,
    },
    /// [`super::Multiaddr::with_p2p`] was asked to add a peer id to an address that already
    /// ends in a different one.
    #[error("address already ends in /p2p/{existing}, not /p2p/{requested}")]
    PeerIdMismatch {
        /// The peer id already in the address.
        existing: PeerId,
        /// The peer id the caller asked for.
        requested: PeerId,
    },
    /// The address does not end in a `/p2p/` component (e.g. for
    /// [`super::AddrInfo::from_p2p_addr`]).
    #[error("address does not end in a /p2p/ component")]
    NoPeerId,
}

impl MultiaddrError {
    /// Who was at fault. Remote for an address that does not parse (it came from whoever wrote or sent it); Local for asking an address for a peer id it does not have.
    pub fn fault(&self) -> crate::error::Fault {
        use crate::error::Fault;
        match self {
            MultiaddrError::Empty
            | MultiaddrError::MissingLeadingSlash
            | MultiaddrError::UnknownProtocolName(..)
            | MultiaddrError::UnknownProtocolCode(..)
            | MultiaddrError::MissingValue { .. }
            | MultiaddrError::InvalidValue { .. }
            | MultiaddrError::InvalidPeerId(..)
            | MultiaddrError::Varint(..)
            | MultiaddrError::Truncated { .. }
            | MultiaddrError::TrailingAfterPath { .. }
            | MultiaddrError::TooLong { .. }
            | MultiaddrError::TooManyComponents { .. } => Fault::Remote,
            MultiaddrError::PeerIdMismatch { .. } | MultiaddrError::NoPeerId => Fault::Local,
        }
    }
}
