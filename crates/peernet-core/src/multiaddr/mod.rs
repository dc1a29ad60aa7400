//! Multiaddrs (multiformats/multiaddr): self-describing network addresses such as
//! `/ip4/1.2.3.4/tcp/4001/p2p/12D3KooW…`, with the whole protocol table of go-multiaddr.
//!
//! [`Multiaddr`] keeps the binary form (varint code, then the value: fixed-size, or
//! varint-length-prefixed) and converts to and from the text form. Every parser here takes
//! untrusted input: sizes are capped and every failure is a [`MultiaddrError`].
//!
//! ```
//! use peernet_core::multiaddr::{Multiaddr, Protocol, TransportKind};
//!
//! let addr: Multiaddr = "/ip4/127.0.0.1/udp/1234/quic-v1".parse()?;
//! assert_eq!(addr.as_bytes(), [0x04, 127, 0, 0, 1, 0x91, 0x02, 0x04, 0xd2, 0xcd, 0x03]);
//! assert_eq!(addr.transport_kind(), TransportKind::QuicV1);
//! assert!(addr.is_loopback());
//! let mut iter = addr.iter();
//! assert_eq!(iter.next(), Some(Protocol::Ip4([127, 0, 0, 1].into())));
//! assert_eq!(iter.next(), Some(Protocol::Udp(1234)));
//! assert_eq!(addr.to_string(), "/ip4/127.0.0.1/udp/1234/quic-v1");
//! # Ok::<(), peernet_core::multiaddr::MultiaddrError>(())
//! ```

mod addr;
mod classify;
mod error;
mod multibase;
mod protocol;

#[cfg(test)]
mod tests;

pub use addr::{Iter, Multiaddr, MAX_COMPONENTS, MAX_MULTIADDR_LEN, MAX_MULTIADDR_TEXT_LEN};
pub use classify::{AddrInfo, TransportKind};
pub use error::MultiaddrError;
pub use protocol::Protocol;
