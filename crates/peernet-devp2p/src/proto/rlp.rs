//! Recursive Length Prefix (RLP) encoding, as defined in the Ethereum yellow paper, appendix B.
//!
//! Sans-IO and zero-copy: [`decode`] returns an [`Item`] borrowing from the input, and list items
//! are walked with [`ListIter`]. Decoding is strict in the way go-ethereum's decoder is: sizes must
//! be canonical (no long form for short payloads, no leading zero bytes in lengths or integers,
//! no single byte below 0x80 wrapped in a string header).
//!
//! [`Value`] is an owned tree for tests, fuzzing and debugging.

use peernet_core::Fault;

/// Why RLP input could not be decoded. All variants are the fault of whoever produced the bytes
/// (on the network, the remote peer).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum RlpError {
    /// The input ended inside an item (peer's fault: truncated data).
    #[error("rlp: input too short")]
    Truncated,
    /// A size was encoded in a longer form than necessary (peer's fault).
    #[error("rlp: non-canonical size")]
    NonCanonicalSize,
    /// A length-of-length field started with a zero byte (peer's fault).
    #[error("rlp: size has leading zero bytes")]
    LeadingZeroSize,
    /// The declared size does not fit in memory addressing (peer's fault).
    #[error("rlp: size overflows")]
    SizeOverflow,
    /// Bytes were left after the value that should have ended the input (peer's fault).
    #[error("rlp: trailing bytes after value")]
    TrailingBytes,
    /// A list was found where a byte string was expected (peer's fault).
    #[error("rlp: expected a byte string, found a list")]
    ExpectedBytes,
    /// A byte string was found where a list was expected (peer's fault).
    #[error("rlp: expected a list, found a byte string")]
    ExpectedList,
    /// An integer has leading zero bytes (peer's fault: non-canonical integer).
    #[error("rlp: integer has leading zero bytes")]
    LeadingZeroInteger,
    /// An integer is larger than the type that should hold it (peer's fault).
    #[error("rlp: integer too large")]
    IntegerOverflow,
    /// A byte string does not have the fixed length its field requires (peer's fault).
    #[error("rlp: expected {expected} bytes, got {got}")]
    WrongLength {
        /// Required length.
        expected: usize,
        /// Length found.
        got: usize,
    },
    /// A list ended before a required element (peer's fault).
    #[error("rlp: list is missing an element")]
    MissingElement,
    /// Lists nested deeper than [`MAX_DEPTH`] (peer's fault: hostile input).
    #[error("rlp: nesting too deep")]
    TooDeep,
}

impl RlpError {
    /// Whose fault: always [`Fault::Remote`], the producer of the bytes. A caller decoding bytes
    /// of its own making decides for itself.
    pub fn fault(&self) -> Fault {
        match self {
            RlpError::Truncated
            | RlpError::NonCanonicalSize
            | RlpError::LeadingZeroSize
            | RlpError::SizeOverflow
            | RlpError::TrailingBytes
            | RlpError::ExpectedBytes
            | RlpError::ExpectedList
            | RlpError::LeadingZeroInteger
            | RlpError::IntegerOverflow
            | RlpError::WrongLength { .. }
            | RlpError::MissingElement
            | RlpError::TooDeep => Fault::Remote,
        }
    }
}

/// Maximum list nesting that [`Value::decode`] accepts.
pub const MAX_DEPTH: usize = 64;

/// One decoded RLP item, borrowing from the input.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Item<'a> {
    /// A byte string (its content, without header).
    Bytes(&'a [u8]),
    /// A list (the concatenated encodings of its elements, without header).
    List(&'a [u8]),
}

impl<'a> Item<'a> {
    /// The content of a byte string.
    pub fn bytes(self) -> Result<&'a [u8], RlpError> {
        match self {
            Item::Bytes(b) => Ok(b),
            Item::List(_) => Err(RlpError::ExpectedBytes),
        }
    }

    /// A byte string of exactly `N` bytes.
    pub fn fixed<const N: usize>(self) -> Result<[u8; N], RlpError> {
        let b = self.bytes()?;
        <[u8; N]>::try_from(b).map_err(|_| RlpError::WrongLength {
            expected: N,
            got: b.len(),
        })
    }

    /// An iterator over the elements of a list.
    pub fn list(self) -> Result<ListIter<'a>, RlpError> {
        match self {
            Item::List(p) => Ok(ListIter { rest: p }),
            Item::Bytes(_) => Err(RlpError::ExpectedList),
        }
    }

    /// A canonical unsigned integer of at most 64 bits.
    pub fn as_u64(self) -> Result<u64, RlpError> {
        let b = self.bytes()?;
        if b.len() > 8 {
            return Err(RlpError::IntegerOverflow);
        }
        if b.first() == Some(&0) {
            return Err(RlpError::LeadingZeroInteger);
        }
        Ok(b.iter().fold(0u64, |acc, &x| (acc << 8) | u64::from(x)))
    }
}

/// Iterator over the elements of an RLP list.
#[derive(Debug, Clone)]
pub struct ListIter<'a> {
    rest: &'a [u8],
}

impl<'a> ListIter<'a> {
    /// The next element, or [`RlpError::MissingElement`] if the list has ended.
    pub fn required(&mut self) -> Result<Item<'a>, RlpError> {
        self.next().unwrap_or(Err(RlpError::MissingElement))
    }
}

impl<'a> Iterator for ListIter<'a> {
    type Item = Result<Item<'a>, RlpError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.rest.is_empty() {
            return None;
        }
        match decode_prefix(self.rest) {
            Ok((item, rest)) => {
                self.rest = rest;
                Some(Ok(item))
            }
            Err(e) => {
                self.rest = &[];
                Some(Err(e))
            }
        }
    }
}

fn read_size(len_bytes: &[u8]) -> Result<usize, RlpError> {
    if len_bytes.first() == Some(&0) {
        return Err(RlpError::LeadingZeroSize);
    }
    if len_bytes.len() > std::mem::size_of::<usize>() {
        return Err(RlpError::SizeOverflow);
    }
    let size = len_bytes
        .iter()
        .fold(0usize, |acc, &x| (acc << 8) | usize::from(x));
    if size < 56 {
        return Err(RlpError::NonCanonicalSize);
    }
    Ok(size)
}

fn split(buf: &[u8], at: usize, len: usize) -> Result<(&[u8], &[u8]), RlpError> {
    let end = at.checked_add(len).ok_or(RlpError::SizeOverflow)?;
    let body = buf.get(at..end).ok_or(RlpError::Truncated)?;
    let rest = buf.get(end..).ok_or(RlpError::Truncated)?;
    Ok((body, rest))
}

/// Decodes the first item of `buf` and returns it with the bytes that follow it.
pub fn decode_prefix(buf: &[u8]) -> Result<(Item<'_>, &[u8]), RlpError> {
    let (first, tail) = buf.split_first().ok_or(RlpError::Truncated)?;
    let b0 = *first;
    match b0 {
        0x00..=0x7f => Ok((Item::Bytes(std::slice::from_ref(first)), tail)),
        0x80..=0xb7 => {
            let len = usize::from(b0 - 0x80);
            let (body, rest) = split(buf, 1, len)?;
            if len == 1 && body.first().is_some_and(|&b| b < 0x80) {
                return Err(RlpError::NonCanonicalSize);
            }
            Ok((Item::Bytes(body), rest))
        }
        0xb8..=0xbf => {
            let ll = usize::from(b0 - 0xb7);
            let len = read_size(tail.get(..ll).ok_or(RlpError::Truncated)?)?;
            let (body, rest) = split(buf, 1 + ll, len)?;
            Ok((Item::Bytes(body), rest))
        }
        0xc0..=0xf7 => {
            let len = usize::from(b0 - 0xc0);
            let (body, rest) = split(buf, 1, len)?;
            Ok((Item::List(body), rest))
        }
        0xf8..=0xff => {
            let ll = usize::from(b0 - 0xf7);
            let len = read_size(tail.get(..ll).ok_or(RlpError::Truncated)?)?;
            let (body, rest) = split(buf, 1 + ll, len)?;
            Ok((Item::List(body), rest))
        }
    }
}

/// Decodes exactly one item filling all of `buf`.
pub fn decode(buf: &[u8]) -> Result<Item<'_>, RlpError> {
    let (item, rest) = decode_prefix(buf)?;
    if !rest.is_empty() {
        return Err(RlpError::TrailingBytes);
    }
    Ok(item)
}

fn put_header(len: usize, short: u8, out: &mut Vec<u8>) {
    if len < 56 {
        // len < 56 fits in the low bits of the short header byte.
        out.push(short + len as u8);
    } else {
        let be = (len as u64).to_be_bytes();
        let skip = be.iter().take_while(|&&b| b == 0).count();
        let size_bytes = be.get(skip..).unwrap_or_default();
        out.push(short + 55 + size_bytes.len() as u8);
        out.extend_from_slice(size_bytes);
    }
}

/// Appends the encoding of a byte string.
pub fn encode_bytes(data: &[u8], out: &mut Vec<u8>) {
    match data {
        [b] if *b < 0x80 => out.push(*b),
        _ => {
            put_header(data.len(), 0x80, out);
            out.extend_from_slice(data);
        }
    }
}

/// Appends the canonical encoding of an unsigned integer (zero is the empty string, 0x80).
pub fn encode_u64(v: u64, out: &mut Vec<u8>) {
    let be = v.to_be_bytes();
    let skip = be.iter().take_while(|&&b| b == 0).count();
    encode_bytes(be.get(skip..).unwrap_or_default(), out);
}

/// Appends a list whose elements are already encoded and concatenated in `payload`.
pub fn encode_list(payload: &[u8], out: &mut Vec<u8>) {
    put_header(payload.len(), 0xc0, out);
    out.extend_from_slice(payload);
}

/// Appends a list header for a payload of `len` bytes; the caller appends the payload.
pub fn encode_list_header(len: usize, out: &mut Vec<u8>) {
    put_header(len, 0xc0, out);
}

/// An owned RLP tree: for tests, fuzzing and debugging.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Value {
    /// A byte string.
    Bytes(Vec<u8>),
    /// A list of values.
    List(Vec<Value>),
}

impl Value {
    /// Appends the encoding of this value.
    pub fn encode(&self, out: &mut Vec<u8>) {
        match self {
            Value::Bytes(b) => encode_bytes(b, out),
            Value::List(items) => {
                let mut payload = Vec::new();
                for i in items {
                    i.encode(&mut payload);
                }
                encode_list(&payload, out);
            }
        }
    }

    /// The encoding of this value.
    pub fn to_vec(&self) -> Vec<u8> {
        let mut out = Vec::new();
        self.encode(&mut out);
        out
    }

    /// Decodes exactly one value filling `buf`, with at most [`MAX_DEPTH`] nested lists.
    pub fn decode(buf: &[u8]) -> Result<Value, RlpError> {
        Self::from_item(decode(buf)?, 0)
    }

    fn from_item(item: Item<'_>, depth: usize) -> Result<Value, RlpError> {
        match item {
            Item::Bytes(b) => Ok(Value::Bytes(b.to_vec())),
            Item::List(_) => {
                if depth >= MAX_DEPTH {
                    return Err(RlpError::TooDeep);
                }
                let mut v = Vec::new();
                for i in item.list()? {
                    v.push(Self::from_item(i?, depth + 1)?);
                }
                Ok(Value::List(v))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn hexd(s: &str) -> Vec<u8> {
        hex::decode(s).unwrap()
    }

    #[test]
    fn yellow_paper_examples() {
        // Examples from the RLP specification.
        let dog = Value::Bytes(b"dog".to_vec());
        assert_eq!(dog.to_vec(), hexd("83646f67"));
        let cat_dog = Value::List(vec![
            Value::Bytes(b"cat".to_vec()),
            Value::Bytes(b"dog".to_vec()),
        ]);
        assert_eq!(cat_dog.to_vec(), hexd("c88363617483646f67"));
        assert_eq!(Value::Bytes(vec![]).to_vec(), hexd("80"));
        assert_eq!(Value::List(vec![]).to_vec(), hexd("c0"));
        let mut out = Vec::new();
        encode_u64(0, &mut out);
        encode_u64(15, &mut out);
        encode_u64(1024, &mut out);
        assert_eq!(out, hexd("800f820400"));
        // The set-theoretic representation of three: [ [], [[]], [ [], [[]] ] ]
        let e = Value::List(vec![]);
        let three = Value::List(vec![
            e.clone(),
            Value::List(vec![e.clone()]),
            Value::List(vec![e.clone(), Value::List(vec![e.clone()])]),
        ]);
        assert_eq!(three.to_vec(), hexd("c7c0c1c0c3c0c1c0"));
        let lorem = b"Lorem ipsum dolor sit amet, consectetur adipisicing elit".to_vec();
        let mut want = hexd("b838");
        want.extend_from_slice(&lorem);
        assert_eq!(Value::Bytes(lorem).to_vec(), want);
    }

    #[test]
    fn rejects_non_canonical() {
        assert_eq!(decode(&hexd("8100")), Err(RlpError::NonCanonicalSize));
        assert_eq!(decode(&hexd("8105")), Err(RlpError::NonCanonicalSize));
        assert_eq!(decode(&hexd("b80100")), Err(RlpError::NonCanonicalSize));
        assert_eq!(decode(&hexd("b9003800")), Err(RlpError::LeadingZeroSize));
        assert_eq!(decode(&hexd("83646f")), Err(RlpError::Truncated));
        assert_eq!(decode(&hexd("8080")), Err(RlpError::TrailingBytes));
        assert_eq!(
            decode(&hexd("820001")).unwrap().as_u64(),
            Err(RlpError::LeadingZeroInteger)
        );
        assert_eq!(
            decode(&hexd("89010000000000000000")).unwrap().as_u64(),
            Err(RlpError::IntegerOverflow)
        );
        assert_eq!(
            decode(&hexd("bfffffffffffffffff")),
            Err(RlpError::SizeOverflow)
        );
        assert_eq!(decode(&hexd("b90100")), Err(RlpError::Truncated));
        let deep = [vec![0xc1u8; 100], vec![0xc0]].concat();
        // Only nests if each header covers the rest: build a proper deep list.
        let mut v = vec![0xc0u8];
        for _ in 0..100 {
            let mut n = Vec::new();
            encode_list(&v, &mut n);
            v = n;
        }
        assert_eq!(Value::decode(&v), Err(RlpError::TooDeep));
        assert!(Value::decode(&deep).is_err());
    }

    #[test]
    fn every_rlp_error_is_the_producers_fault() {
        let all = [
            RlpError::Truncated,
            RlpError::NonCanonicalSize,
            RlpError::LeadingZeroSize,
            RlpError::SizeOverflow,
            RlpError::TrailingBytes,
            RlpError::ExpectedBytes,
            RlpError::ExpectedList,
            RlpError::LeadingZeroInteger,
            RlpError::IntegerOverflow,
            RlpError::WrongLength {
                expected: 32,
                got: 31,
            },
            RlpError::MissingElement,
            RlpError::TooDeep,
        ];
        for e in all {
            // Exhaustive: a new variant does not compile until its fault is decided here.
            let want = match e {
                RlpError::Truncated
                | RlpError::NonCanonicalSize
                | RlpError::LeadingZeroSize
                | RlpError::SizeOverflow
                | RlpError::TrailingBytes
                | RlpError::ExpectedBytes
                | RlpError::ExpectedList
                | RlpError::LeadingZeroInteger
                | RlpError::IntegerOverflow
                | RlpError::WrongLength { .. }
                | RlpError::MissingElement
                | RlpError::TooDeep => Fault::Remote,
            };
            assert_eq!(e.fault(), want, "{e:?}");
        }
    }

    fn value_strategy() -> impl Strategy<Value = Value> {
        let leaf = prop::collection::vec(any::<u8>(), 0..80).prop_map(Value::Bytes);
        leaf.prop_recursive(4, 64, 8, |inner| {
            prop::collection::vec(inner, 0..8).prop_map(Value::List)
        })
    }

    proptest! {
        #[test]
        fn value_round_trip(v in value_strategy()) {
            let enc = v.to_vec();
            prop_assert_eq!(Value::decode(&enc).unwrap(), v);
        }

        #[test]
        fn u64_round_trip(n in any::<u64>()) {
            let mut enc = Vec::new();
            encode_u64(n, &mut enc);
            prop_assert_eq!(decode(&enc).unwrap().as_u64().unwrap(), n);
        }

        #[test]
        fn long_strings_round_trip(len in 0usize..70_000) {
            let data = vec![0xabu8; len];
            let mut enc = Vec::new();
            encode_bytes(&data, &mut enc);
            prop_assert_eq!(decode(&enc).unwrap().bytes().unwrap(), &data[..]);
        }

        #[test]
        fn decode_never_panics(data in prop::collection::vec(any::<u8>(), 0..200)) {
            if let Ok(v) = Value::decode(&data) {
                // Whatever decodes strictly re-encodes to the same bytes.
                prop_assert_eq!(v.to_vec(), data);
            }
        }
    }
}
