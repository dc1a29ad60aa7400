//! [`Multiaddr`]: a validated binary multiaddr, its text form and the ways to take it apart and
//! put it together.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::str::FromStr;

use super::protocol::{spec_by_name, Size};
use super::{MultiaddrError, Protocol};

/// Longest binary multiaddr accepted from untrusted input, in bytes.
///
/// go-libp2p has no single cap; 1024 bytes holds every real address, including an I2P
/// `garlic64` destination (~390 bytes) with transports and a peer id.
pub const MAX_MULTIADDR_LEN: usize = 1024;
/// Longest text multiaddr accepted, in bytes (the text form of binary values can be longer
/// than the bytes: base32/base36 peer ids, garlic64).
pub const MAX_MULTIADDR_TEXT_LEN: usize = 4096;
/// Most components a parsed multiaddr may have.
pub const MAX_COMPONENTS: usize = 64;

/// A multiaddr: a sequence of [`Protocol`] components such as `/ip4/1.2.3.4/tcp/4001/p2p/12D3…`.
///
/// The binary form is the storage, so equality, hashing and ordering are those of the bytes
/// (the same as go-multiaddr's `Equal` and `Compare`). Every constructor that takes untrusted
/// input ([`Multiaddr::from_bytes`], [`FromStr`]) validates every component and caps the size
/// ([`MAX_MULTIADDR_LEN`], [`MAX_MULTIADDR_TEXT_LEN`], [`MAX_COMPONENTS`]); building an address
/// with [`Multiaddr::push`] is not capped and does not validate the values of hand-made
/// [`Protocol`]s.
///
/// The empty multiaddr exists ([`Multiaddr::empty`], the result of decapsulating everything) and
/// prints as `""`, but, as in go-multiaddr, the texts `""` and `"/"` are not parsed as it.
#[derive(Clone, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Multiaddr {
    /// Concatenated components, each valid.
    bytes: Vec<u8>,
}

impl Multiaddr {
    /// The empty multiaddr.
    pub fn empty() -> Self {
        Multiaddr { bytes: Vec::new() }
    }

    /// Parses and validates the binary form. Empty input gives the empty multiaddr.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, MultiaddrError> {
        if bytes.len() > MAX_MULTIADDR_LEN {
            return Err(MultiaddrError::TooLong {
                len: bytes.len(),
                max: MAX_MULTIADDR_LEN,
            });
        }
        let mut rest = bytes;
        let mut count = 0;
        let mut after_path: Option<&'static str> = None;
        while !rest.is_empty() {
            if let Some(protocol) = after_path {
                return Err(MultiaddrError::TrailingAfterPath { protocol });
            }
            count += 1;
            if count > MAX_COMPONENTS {
                return Err(MultiaddrError::TooManyComponents {
                    max: MAX_COMPONENTS,
                });
            }
            let (p, next) = Protocol::read(rest)?;
            if p.is_path() {
                after_path = Some(p.name());
            }
            rest = next;
        }
        Ok(Multiaddr {
            bytes: bytes.to_vec(),
        })
    }

    /// The binary form.
    pub fn as_bytes(&self) -> &[u8] {
        &self.bytes
    }

    /// The binary form, copied.
    pub fn to_vec(&self) -> Vec<u8> {
        self.bytes.clone()
    }

    /// The binary form, taken.
    pub fn into_bytes(self) -> Vec<u8> {
        self.bytes
    }

    /// Length of the binary form in bytes.
    pub fn len(&self) -> usize {
        self.bytes.len()
    }

    /// Whether there are no components.
    pub fn is_empty(&self) -> bool {
        self.bytes.is_empty()
    }

    /// The components, first to last.
    pub fn iter(&self) -> Iter<'_> {
        Iter { rest: &self.bytes }
    }

    /// The byte offset where each component starts.
    fn offsets(&self) -> Vec<usize> {
        let mut offsets = Vec::new();
        let mut rest = self.bytes.as_slice();
        while !rest.is_empty() {
            offsets.push(self.bytes.len() - rest.len());
            match Protocol::read(rest) {
                Ok((_, next)) => rest = next,
                // Unreachable: the bytes were validated when the address was built.
                Err(_) => break,
            }
        }
        offsets
    }

    /// Appends a component.
    pub fn push(&mut self, p: Protocol<'_>) {
        p.write_bytes(&mut self.bytes);
    }

    /// Removes and returns the last component.
    pub fn pop(&mut self) -> Option<Protocol<'static>> {
        let start = self.offsets().last().copied()?;
        let tail = self.bytes.split_off(start);
        let (p, _) = Protocol::read(&tail).ok()?;
        Some(p.acquire())
    }

    /// This address with `p` appended.
    pub fn with(mut self, p: Protocol<'_>) -> Self {
        self.push(p);
        self
    }

    /// This address followed by all of `other`'s components (go-multiaddr's `Encapsulate`).
    pub fn encapsulate(&self, other: &Multiaddr) -> Multiaddr {
        let mut bytes = Vec::with_capacity(self.bytes.len() + other.bytes.len());
        bytes.extend_from_slice(&self.bytes);
        bytes.extend_from_slice(&other.bytes);
        Multiaddr { bytes }
    }

    /// go-multiaddr's `Decapsulate`: finds the last place where `suffix`'s components appear,
    /// in order, in this address and returns everything before it (possibly the empty address).
    /// If they do not appear, or `suffix` is empty, returns this address unchanged.
    ///
    /// `/ip4/1.2.3.4/tcp/80` decapsulated by `/tcp/80` is `/ip4/1.2.3.4`; by `/udp/80` it is
    /// unchanged; by `/ip4/1.2.3.4` it is empty.
    pub fn decapsulate(&self, suffix: &Multiaddr) -> Multiaddr {
        if suffix.is_empty() {
            return self.clone();
        }
        // Components are prefix-free, so a byte match starting at a component boundary covers
        // whole components.
        for start in self.offsets().into_iter().rev() {
            if let Some(tail) = self.bytes.get(start..) {
                if tail.starts_with(&suffix.bytes) {
                    return Multiaddr {
                        bytes: self.bytes.get(..start).unwrap_or_default().to_vec(),
                    };
                }
            }
        }
        self.clone()
    }

    /// Whether this address begins with all of `prefix`'s components.
    pub fn starts_with(&self, prefix: &Multiaddr) -> bool {
        // Components are prefix-free: a byte prefix that is itself a valid address ends on a
        // component boundary.
        self.bytes.starts_with(&prefix.bytes)
    }

    /// Whether this address ends with all of `suffix`'s components.
    pub fn ends_with(&self, suffix: &Multiaddr) -> bool {
        if suffix.is_empty() {
            return true;
        }
        if !self.bytes.ends_with(&suffix.bytes) {
            return false;
        }
        let start = self.bytes.len() - suffix.bytes.len();
        self.offsets().contains(&start)
    }

    /// The first component, if any.
    pub fn first(&self) -> Option<Protocol<'_>> {
        self.iter().next()
    }

    /// The last component, if any.
    pub fn last(&self) -> Option<Protocol<'_>> {
        self.iter().last()
    }

    /// `/ip4|ip6/<ip>/tcp/<port>`.
    pub fn tcp(addr: SocketAddr) -> Self {
        Multiaddr::from(addr.ip()).with(Protocol::Tcp(addr.port()))
    }

    /// `/ip4|ip6/<ip>/udp/<port>`.
    pub fn udp(addr: SocketAddr) -> Self {
        Multiaddr::from(addr.ip()).with(Protocol::Udp(addr.port()))
    }

    /// `/ip4|ip6/<ip>/udp/<port>/quic-v1`.
    pub fn quic_v1(addr: SocketAddr) -> Self {
        Multiaddr::udp(addr).with(Protocol::QuicV1)
    }
}

/// Iterator over the components of a [`Multiaddr`], from [`Multiaddr::iter`].
#[derive(Debug, Clone)]
pub struct Iter<'a> {
    rest: &'a [u8],
}

impl<'a> Iterator for Iter<'a> {
    type Item = Protocol<'a>;

    fn next(&mut self) -> Option<Protocol<'a>> {
        if self.rest.is_empty() {
            return None;
        }
        match Protocol::read(self.rest) {
            Ok((p, rest)) => {
                self.rest = rest;
                Some(p)
            }
            // Unreachable: the bytes were validated when the address was built.
            Err(_) => {
                self.rest = &[];
                None
            }
        }
    }
}

impl<'a> IntoIterator for &'a Multiaddr {
    type Item = Protocol<'a>;
    type IntoIter = Iter<'a>;

    fn into_iter(self) -> Iter<'a> {
        self.iter()
    }
}

impl FromStr for Multiaddr {
    type Err = MultiaddrError;

    /// Parses the text form as go-multiaddr does: trailing slashes are ignored, `/ipfs/` is read
    /// as `/p2p/`, a path protocol (`/unix/`) takes the rest of the string.
    fn from_str(text: &str) -> Result<Self, MultiaddrError> {
        if text.len() > MAX_MULTIADDR_TEXT_LEN {
            return Err(MultiaddrError::TooLong {
                len: text.len(),
                max: MAX_MULTIADDR_TEXT_LEN,
            });
        }
        let trimmed = text.trim_end_matches('/');
        if trimmed.is_empty() {
            return Err(MultiaddrError::Empty);
        }
        let Some(mut rest) = trimmed.strip_prefix('/') else {
            return Err(MultiaddrError::MissingLeadingSlash);
        };
        let mut addr = Multiaddr::empty();
        let mut count = 0;
        loop {
            count += 1;
            if count > MAX_COMPONENTS {
                return Err(MultiaddrError::TooManyComponents {
                    max: MAX_COMPONENTS,
                });
            }
            // `tail` is empty or starts with '/'.
            let (name, tail) = match rest.find('/') {
                Some(i) => rest.split_at(i),
                None => (rest, ""),
            };
            let spec = spec_by_name(name).ok_or_else(|| {
                let mut name = name.to_string();
                let mut cut = name.len().min(64);
                while !name.is_char_boundary(cut) {
                    cut -= 1;
                }
                name.truncate(cut);
                MultiaddrError::UnknownProtocolName(name)
            })?;
            let next = if spec.size == Size::Zero {
                crate::varint::encode(spec.code, &mut addr.bytes);
                tail
            } else if tail.is_empty() {
                return Err(MultiaddrError::MissingValue {
                    protocol: spec.name,
                });
            } else if spec.path {
                addr.push(Protocol::from_value_text(spec, tail)?);
                ""
            } else {
                let after = tail.strip_prefix('/').unwrap_or(tail);
                let (value, next) = match after.find('/') {
                    Some(i) => after.split_at(i),
                    None => (after, ""),
                };
                addr.push(Protocol::from_value_text(spec, value)?);
                next
            };
            match next.strip_prefix('/') {
                Some(r) => rest = r,
                None => break,
            }
        }
        if addr.bytes.len() > MAX_MULTIADDR_LEN {
            return Err(MultiaddrError::TooLong {
                len: addr.bytes.len(),
                max: MAX_MULTIADDR_LEN,
            });
        }
        Ok(addr)
    }
}

impl fmt::Display for Multiaddr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for p in self.iter() {
            p.fmt(f)?;
        }
        Ok(())
    }
}

impl fmt::Debug for Multiaddr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Multiaddr({self})")
    }
}

impl TryFrom<&[u8]> for Multiaddr {
    type Error = MultiaddrError;

    fn try_from(bytes: &[u8]) -> Result<Self, MultiaddrError> {
        Multiaddr::from_bytes(bytes)
    }
}

impl TryFrom<Vec<u8>> for Multiaddr {
    type Error = MultiaddrError;

    fn try_from(bytes: Vec<u8>) -> Result<Self, MultiaddrError> {
        Multiaddr::from_bytes(&bytes)
    }
}

impl TryFrom<&str> for Multiaddr {
    type Error = MultiaddrError;

    fn try_from(text: &str) -> Result<Self, MultiaddrError> {
        text.parse()
    }
}

impl TryFrom<String> for Multiaddr {
    type Error = MultiaddrError;

    fn try_from(text: String) -> Result<Self, MultiaddrError> {
        text.parse()
    }
}

impl From<Protocol<'_>> for Multiaddr {
    fn from(p: Protocol<'_>) -> Self {
        Multiaddr::empty().with(p)
    }
}

impl From<IpAddr> for Multiaddr {
    /// `/ip4/<ip>` or `/ip6/<ip>`.
    fn from(ip: IpAddr) -> Self {
        Multiaddr::from(Protocol::from(ip))
    }
}

impl From<Ipv4Addr> for Multiaddr {
    /// `/ip4/<ip>`.
    fn from(ip: Ipv4Addr) -> Self {
        Multiaddr::from(Protocol::Ip4(ip))
    }
}

impl From<Ipv6Addr> for Multiaddr {
    /// `/ip6/<ip>`.
    fn from(ip: Ipv6Addr) -> Self {
        Multiaddr::from(Protocol::Ip6(ip))
    }
}

impl From<SocketAddr> for Multiaddr {
    /// `/ip4|ip6/<ip>/tcp/<port>`, like [`Multiaddr::tcp`].
    fn from(addr: SocketAddr) -> Self {
        Multiaddr::tcp(addr)
    }
}

impl<'a> FromIterator<Protocol<'a>> for Multiaddr {
    fn from_iter<I: IntoIterator<Item = Protocol<'a>>>(iter: I) -> Self {
        let mut addr = Multiaddr::empty();
        addr.extend(iter);
        addr
    }
}

impl<'a> Extend<Protocol<'a>> for Multiaddr {
    fn extend<I: IntoIterator<Item = Protocol<'a>>>(&mut self, iter: I) {
        for p in iter {
            self.push(p);
        }
    }
}
