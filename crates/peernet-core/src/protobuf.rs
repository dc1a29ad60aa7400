//! A minimal, strict protobuf reader and writer for the handful of small messages libp2p
//! exchanges (keys, signed envelopes, peer records, plaintext, and later noise and identify).
//!
//! The reader borrows the input and never allocates: [`Reader`] yields one [`Field`] at a time,
//! with length-delimited values as sub-slices of the input. Fields of a known wire type that the
//! caller does not know are skipped by simply ignoring them; the deprecated group wire types (3
//! and 4) and the undefined ones (6 and 7) are refused, since no libp2p message uses them and
//! their extent cannot be skipped safely. Every length is checked against the bytes actually
//! present before it is used, so a peer can never make the reader look past its input.
//!
//! The writer appends to a `Vec<u8>` and expects fields in field-number order (checked in debug
//! builds), which together with minimal varints gives the deterministic encoding the peer-id
//! spec asks for.

/// Largest valid protobuf field number (2^29 - 1).
const MAX_FIELD_NUMBER: u32 = (1 << 29) - 1;

/// Most bytes a protobuf varint may take (ten 7-bit groups cover 64 bits).
const MAX_VARINT_LEN: usize = 10;

/// Why protobuf bytes could not be decoded.
///
/// Every variant is the sender's fault: the bytes came from a peer (or a file) and do not
/// form the message we expect.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum ProtobufError {
    /// The input ended inside a field (its tag, varint, fixed-size value or length-delimited
    /// payload). The sender is at fault: messages are always framed whole.
    #[error("protobuf message truncated")]
    Truncated,
    /// A varint runs past ten bytes or its value exceeds 64 bits. The sender is at fault.
    #[error("protobuf varint overflows 64 bits")]
    VarintOverflow,
    /// A field tag carries field number 0 or one above 2^29 - 1. The sender is at fault.
    #[error("invalid protobuf field number {0}")]
    InvalidFieldNumber(u64),
    /// A field uses a group wire type (3, 4) or an undefined one (6, 7). The sender is at fault.
    #[error("field {field} uses unsupported wire type {wire_type}")]
    UnsupportedWireType {
        /// The field number of the offending tag.
        field: u32,
        /// The wire type found in the tag.
        wire_type: u8,
    },
    /// A known field arrived with a wire type other than the one its schema defines. The sender
    /// is at fault.
    #[error("field {field} has the wrong wire type")]
    WrongWireType {
        /// The field number.
        field: u32,
    },
    /// A length-delimited field is longer than the limit its message allows. The sender is at
    /// fault.
    #[error("field {field} is {len} bytes, more than the limit of {max}")]
    FieldTooLong {
        /// The field number.
        field: u32,
        /// The length announced by the sender.
        len: usize,
        /// The limit for this field.
        max: usize,
    },
    /// A field the message requires is absent. The sender is at fault.
    #[error("required field {0} is missing")]
    MissingField(&'static str),
    /// A non-repeated field appears more than once. Protobuf would keep the last one; libp2p's
    /// deterministic encodings never repeat a field, so we refuse it. The sender is at fault.
    #[error("field {0} appears more than once")]
    DuplicateField(u32),
    /// A varint field holds a value outside the range of its type (e.g. an unknown enum value
    /// or a `uint32` above 2^32 - 1). The sender is at fault.
    #[error("field {field} holds out-of-range value {value}")]
    ValueOutOfRange {
        /// The field number.
        field: u32,
        /// The value found.
        value: u64,
    },
}

impl ProtobufError {
    /// Who was at fault. Always Remote: malformed bytes came from their sender.
    pub fn fault(&self) -> crate::error::Fault {
        use crate::error::Fault;
        match self {
            ProtobufError::Truncated
            | ProtobufError::VarintOverflow
            | ProtobufError::InvalidFieldNumber(..)
            | ProtobufError::UnsupportedWireType { .. }
            | ProtobufError::WrongWireType { .. }
            | ProtobufError::FieldTooLong { .. }
            | ProtobufError::MissingField(..)
            | ProtobufError::DuplicateField(..)
            | ProtobufError::ValueOutOfRange { .. } => Fault::Remote,
        }
    }
}

/// The value of one decoded field, as its wire type carries it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Value<'a> {
    /// Wire type 0: a varint (int32, int64, uint32, uint64, bool, enum).
    Varint(u64),
    /// Wire type 1: eight little-endian bytes (fixed64, sfixed64, double).
    Fixed64(u64),
    /// Wire type 2: length-delimited bytes (bytes, string, embedded message, packed repeated).
    Bytes(&'a [u8]),
    /// Wire type 5: four little-endian bytes (fixed32, sfixed32, float).
    Fixed32(u32),
}

/// One field read from a message: its number and its value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Field<'a> {
    /// The field number from the tag.
    pub(crate) number: u32,
    /// The value.
    pub(crate) value: Value<'a>,
}

impl<'a> Field<'a> {
    /// The value of a varint field.
    pub(crate) fn varint(&self) -> Result<u64, ProtobufError> {
        match self.value {
            Value::Varint(v) => Ok(v),
            _ => Err(ProtobufError::WrongWireType { field: self.number }),
        }
    }

    /// The value of a `uint32` (or enum) field, refusing values above `u32::MAX`.
    #[allow(dead_code)] // used by the identify and noise codecs that build on this module
    pub(crate) fn uint32(&self) -> Result<u32, ProtobufError> {
        let v = self.varint()?;
        u32::try_from(v).map_err(|_| ProtobufError::ValueOutOfRange {
            field: self.number,
            value: v,
        })
    }

    /// The value of a `bool` field: protobuf reads any non-zero varint as true.
    #[allow(dead_code)] // used by the identify and noise codecs that build on this module
    pub(crate) fn boolean(&self) -> Result<bool, ProtobufError> {
        Ok(self.varint()? != 0)
    }

    /// The payload of a length-delimited field, refusing more than `max` bytes.
    pub(crate) fn bytes(&self, max: usize) -> Result<&'a [u8], ProtobufError> {
        match self.value {
            Value::Bytes(b) if b.len() > max => Err(ProtobufError::FieldTooLong {
                field: self.number,
                len: b.len(),
                max,
            }),
            Value::Bytes(b) => Ok(b),
            _ => Err(ProtobufError::WrongWireType { field: self.number }),
        }
    }
}

/// Reads the fields of one protobuf message from a borrowed buffer.
#[derive(Debug, Clone)]
pub(crate) struct Reader<'a> {
    rest: &'a [u8],
}

impl<'a> Reader<'a> {
    /// A reader over the whole of `message`.
    pub(crate) fn new(message: &'a [u8]) -> Self {
        Reader { rest: message }
    }

    /// Reads the next field, or `Ok(None)` at the end of the message.
    pub(crate) fn next_field(&mut self) -> Result<Option<Field<'a>>, ProtobufError> {
        if self.rest.is_empty() {
            return Ok(None);
        }
        let tag = self.varint()?;
        let wire_type = (tag & 0x7) as u8;
        let number = tag >> 3;
        if number == 0 || number > u64::from(MAX_FIELD_NUMBER) {
            return Err(ProtobufError::InvalidFieldNumber(number));
        }
        // Checked just above: the number fits 29 bits.
        let number = number as u32;
        let value = match wire_type {
            0 => Value::Varint(self.varint()?),
            1 => Value::Fixed64(u64::from_le_bytes(self.take_array::<8>()?)),
            2 => {
                let len = self.varint()?;
                if len > self.rest.len() as u64 {
                    return Err(ProtobufError::Truncated);
                }
                // `len` is at most `rest.len()`, so it fits `usize` and the split is in bounds.
                let (bytes, rest) = self.rest.split_at(len as usize);
                self.rest = rest;
                Value::Bytes(bytes)
            }
            5 => Value::Fixed32(u32::from_le_bytes(self.take_array::<4>()?)),
            other => {
                return Err(ProtobufError::UnsupportedWireType {
                    field: number,
                    wire_type: other,
                })
            }
        };
        Ok(Some(Field { number, value }))
    }

    /// Decodes a protobuf varint (up to ten bytes, 64 bits; non-minimal forms are accepted as
    /// the protobuf spec allows).
    fn varint(&mut self) -> Result<u64, ProtobufError> {
        let mut value: u64 = 0;
        for (i, &byte) in self.rest.iter().enumerate() {
            if i >= MAX_VARINT_LEN {
                return Err(ProtobufError::VarintOverflow);
            }
            // The tenth byte may only carry the 64th bit.
            if i == MAX_VARINT_LEN - 1 && byte > 1 {
                return Err(ProtobufError::VarintOverflow);
            }
            value |= u64::from(byte & 0x7f) << (7 * i);
            if byte & 0x80 == 0 {
                self.rest = self.rest.get(i + 1..).unwrap_or_default();
                return Ok(value);
            }
        }
        if self.rest.len() >= MAX_VARINT_LEN {
            Err(ProtobufError::VarintOverflow)
        } else {
            Err(ProtobufError::Truncated)
        }
    }

    fn take_array<const N: usize>(&mut self) -> Result<[u8; N], ProtobufError> {
        let Some((head, rest)) = self.rest.split_first_chunk::<N>() else {
            return Err(ProtobufError::Truncated);
        };
        self.rest = rest;
        Ok(*head)
    }
}

/// Remembers that a non-repeated field has been seen, refusing a second occurrence.
pub(crate) fn set_once<T>(slot: &mut Option<T>, field: u32, value: T) -> Result<(), ProtobufError> {
    if slot.is_some() {
        return Err(ProtobufError::DuplicateField(field));
    }
    *slot = Some(value);
    Ok(())
}

/// Appends protobuf fields to a buffer, in field-number order.
#[derive(Debug)]
pub(crate) struct Writer<'a> {
    out: &'a mut Vec<u8>,
    last_field: u32,
}

impl<'a> Writer<'a> {
    /// A writer appending to `out`.
    pub(crate) fn new(out: &'a mut Vec<u8>) -> Self {
        Writer { out, last_field: 0 }
    }

    fn tag(&mut self, field: u32, wire_type: u8) {
        debug_assert!(
            (1..=MAX_FIELD_NUMBER).contains(&field),
            "invalid field number {field}"
        );
        debug_assert!(
            field >= self.last_field,
            "fields must be written in field-number order ({field} after {})",
            self.last_field
        );
        self.last_field = field;
        put_varint(u64::from(field) << 3 | u64::from(wire_type), self.out);
    }

    /// Writes a varint field (proto2 `required`/`optional` semantics: always emitted).
    pub(crate) fn varint(&mut self, field: u32, value: u64) {
        self.tag(field, 0);
        put_varint(value, self.out);
    }

    /// Writes a length-delimited field (always emitted, even when empty).
    pub(crate) fn bytes(&mut self, field: u32, value: &[u8]) {
        self.tag(field, 2);
        put_varint(value.len() as u64, self.out);
        self.out.extend_from_slice(value);
    }

    /// Writes a proto3 singular varint field: zero is the default and is not emitted.
    pub(crate) fn proto3_varint(&mut self, field: u32, value: u64) {
        if value != 0 {
            self.varint(field, value);
        }
    }

    /// Writes a proto3 singular bytes field: empty is the default and is not emitted.
    pub(crate) fn proto3_bytes(&mut self, field: u32, value: &[u8]) {
        if !value.is_empty() {
            self.bytes(field, value);
        }
    }

    /// Writes an embedded message produced by `build` as a length-delimited field.
    pub(crate) fn message(&mut self, field: u32, build: impl FnOnce(&mut Writer<'_>)) {
        let mut inner = Vec::new();
        build(&mut Writer::new(&mut inner));
        self.bytes(field, &inner);
    }
}

/// Appends a minimal protobuf varint.
fn put_varint(value: u64, out: &mut Vec<u8>) {
    // Protobuf and multiformats varints share the LEB128 layout; the multiformats encoder
    // writes any u64 minimally.
    crate::varint::encode(value, out);
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn all_fields(bytes: &[u8]) -> Result<Vec<Field<'_>>, ProtobufError> {
        let mut reader = Reader::new(bytes);
        let mut fields = Vec::new();
        while let Some(f) = reader.next_field()? {
            fields.push(f);
        }
        Ok(fields)
    }

    #[test]
    fn known_encodings() {
        // From the protobuf encoding guide: field 1 = 150 is 08 96 01.
        assert_eq!(
            all_fields(&[0x08, 0x96, 0x01]).unwrap(),
            vec![Field {
                number: 1,
                value: Value::Varint(150)
            }]
        );
        // Field 2 = "testing".
        let f = all_fields(b"\x12\x07testing").unwrap();
        assert_eq!(f[0].bytes(16).unwrap(), b"testing");
        let mut out = Vec::new();
        let mut w = Writer::new(&mut out);
        w.varint(1, 150);
        w.bytes(2, b"testing");
        assert_eq!(out, b"\x08\x96\x01\x12\x07testing");
    }

    #[test]
    fn fixed_and_unknown_fields_are_readable() {
        let input = [
            0x09, 1, 2, 3, 4, 5, 6, 7, 8, // field 1, fixed64
            0x15, 1, 0, 0, 0, // field 2, fixed32
            0x18, 0x01, // field 3, varint
        ];
        let f = all_fields(&input).unwrap();
        assert_eq!(f[0].value, Value::Fixed64(0x0807060504030201));
        assert_eq!(f[1].value, Value::Fixed32(1));
        assert!(f[2].boolean().unwrap());
        assert_eq!(
            f[0].varint(),
            Err(ProtobufError::WrongWireType { field: 1 })
        );
        assert_eq!(
            f[2].bytes(9),
            Err(ProtobufError::WrongWireType { field: 3 })
        );
    }

    #[test]
    fn refuses_malformed_input() {
        // Truncated tag, varint, fixed values and payload.
        assert_eq!(all_fields(&[0x88]), Err(ProtobufError::Truncated));
        assert_eq!(all_fields(&[0x08, 0x80]), Err(ProtobufError::Truncated));
        assert_eq!(all_fields(&[0x09, 1, 2]), Err(ProtobufError::Truncated));
        assert_eq!(all_fields(&[0x15, 1]), Err(ProtobufError::Truncated));
        assert_eq!(
            all_fields(&[0x12, 0x05, 1, 2]),
            Err(ProtobufError::Truncated)
        );
        // A huge announced length is refused without reading.
        assert_eq!(
            all_fields(&[0x12, 0xff, 0xff, 0xff, 0xff, 0x0f]),
            Err(ProtobufError::Truncated)
        );
        // Over-long varints.
        let mut long = vec![0x08];
        long.extend_from_slice(&[0xff; 10]);
        long.push(0x01);
        assert_eq!(all_fields(&long), Err(ProtobufError::VarintOverflow));
        let mut too_big = vec![0x08];
        too_big.extend_from_slice(&[0xff; 9]);
        too_big.push(0x02);
        assert_eq!(all_fields(&too_big), Err(ProtobufError::VarintOverflow));
        // u64::MAX itself is fine.
        let mut max = vec![0x08];
        max.extend_from_slice(&[0xff; 9]);
        max.push(0x01);
        assert_eq!(all_fields(&max).unwrap()[0].varint(), Ok(u64::MAX));
        // Field number 0, groups and undefined wire types.
        assert_eq!(
            all_fields(&[0x00, 0x00]),
            Err(ProtobufError::InvalidFieldNumber(0))
        );
        assert_eq!(
            all_fields(&[0x0b]),
            Err(ProtobufError::UnsupportedWireType {
                field: 1,
                wire_type: 3
            })
        );
        assert_eq!(
            all_fields(&[0x0e]),
            Err(ProtobufError::UnsupportedWireType {
                field: 1,
                wire_type: 6
            })
        );
        // Field number above 2^29 - 1.
        let mut tag = Vec::new();
        crate::varint::encode((1u64 << 29) << 3, &mut tag);
        assert_eq!(
            all_fields(&tag),
            Err(ProtobufError::InvalidFieldNumber(1 << 29))
        );
    }

    #[test]
    fn limits_and_ranges() {
        let f = all_fields(b"\x12\x07testing").unwrap();
        assert_eq!(
            f[0].bytes(6),
            Err(ProtobufError::FieldTooLong {
                field: 2,
                len: 7,
                max: 6
            })
        );
        let f = all_fields(&[0x08, 0x80, 0x80, 0x80, 0x80, 0x10]).unwrap();
        assert_eq!(
            f[0].uint32(),
            Err(ProtobufError::ValueOutOfRange {
                field: 1,
                value: 1 << 32
            })
        );
        let mut slot = None;
        assert_eq!(set_once(&mut slot, 1, 5), Ok(()));
        assert_eq!(
            set_once(&mut slot, 1, 6),
            Err(ProtobufError::DuplicateField(1))
        );
    }

    #[test]
    fn proto3_defaults_are_omitted_and_messages_nest() {
        let mut out = Vec::new();
        let mut w = Writer::new(&mut out);
        w.proto3_varint(1, 0);
        w.proto3_bytes(2, b"");
        w.message(3, |m| {
            m.varint(1, 1);
            m.bytes(2, b"ab");
        });
        assert_eq!(out, [0x1a, 0x06, 0x08, 0x01, 0x12, 0x02, b'a', b'b']);
    }

    proptest! {
        #[test]
        fn round_trip(fields in proptest::collection::vec(
            (1u32..=MAX_FIELD_NUMBER, prop_oneof![
                any::<u64>().prop_map(Ok),
                proptest::collection::vec(any::<u8>(), 0..40).prop_map(Err),
            ]),
            0..8,
        )) {
            let mut fields = fields;
            fields.sort_by_key(|(n, _)| *n);
            let mut out = Vec::new();
            let mut w = Writer::new(&mut out);
            for (n, v) in &fields {
                match v {
                    Ok(x) => w.varint(*n, *x),
                    Err(b) => w.bytes(*n, b),
                }
            }
            let read = all_fields(&out).unwrap();
            prop_assert_eq!(read.len(), fields.len());
            for (f, (n, v)) in read.iter().zip(&fields) {
                prop_assert_eq!(f.number, *n);
                match v {
                    Ok(x) => prop_assert_eq!(f.varint().unwrap(), *x),
                    Err(b) => prop_assert_eq!(f.bytes(usize::MAX).unwrap(), &b[..]),
                }
            }
        }

        #[test]
        fn reader_never_panics(input in proptest::collection::vec(any::<u8>(), 0..64)) {
            let _ = all_fields(&input);
        }
    }
}
