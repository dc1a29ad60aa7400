//! A strict, minimal DER reader: just what a libp2p certificate needs (ITU-T X.690 §10).
//!
//! Only the distinguished encoding is accepted: definite lengths in their shortest form,
//! single-byte tags (tag numbers below 31), no trailing bytes where a structure must end.
//! Every failure is reported as the `&'static str` naming the field being read; the caller
//! wraps it in the error variant of the structure (certificate or extension).

/// Tag of a universal BOOLEAN.
pub(crate) const BOOLEAN: u8 = 0x01;
/// Tag of a universal INTEGER.
pub(crate) const INTEGER: u8 = 0x02;
/// Tag of a universal BIT STRING.
pub(crate) const BIT_STRING: u8 = 0x03;
/// Tag of a universal OCTET STRING.
pub(crate) const OCTET_STRING: u8 = 0x04;
/// Tag of a universal NULL.
pub(crate) const NULL: u8 = 0x05;
/// Tag of a universal OBJECT IDENTIFIER.
pub(crate) const OID: u8 = 0x06;
/// Tag of a universal UTCTime.
pub(crate) const UTC_TIME: u8 = 0x17;
/// Tag of a universal GeneralizedTime.
pub(crate) const GENERALIZED_TIME: u8 = 0x18;
/// Tag of a constructed universal SEQUENCE.
pub(crate) const SEQUENCE: u8 = 0x30;

/// Tag of a constructed context-specific `[n]` (EXPLICIT tagging).
pub(crate) const fn context_constructed(n: u8) -> u8 {
    0xa0 | n
}

/// Tag of a primitive context-specific `[n]` (IMPLICIT tagging of a primitive type).
pub(crate) const fn context_primitive(n: u8) -> u8 {
    0x80 | n
}

/// One decoded tag-length-value element.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Tlv<'a> {
    /// The identifier octet.
    pub(crate) tag: u8,
    /// The content octets.
    pub(crate) value: &'a [u8],
    /// The whole encoding: identifier, length and content.
    pub(crate) raw: &'a [u8],
}

/// A cursor over DER input.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Reader<'a> {
    input: &'a [u8],
}

impl<'a> Reader<'a> {
    /// A reader over `input`.
    pub(crate) fn new(input: &'a [u8]) -> Self {
        Reader { input }
    }

    /// Whether all input has been consumed.
    pub(crate) fn is_empty(&self) -> bool {
        self.input.is_empty()
    }

    /// The tag of the next element, if any.
    pub(crate) fn peek_tag(&self) -> Option<u8> {
        self.input.first().copied()
    }

    /// Fails with `what` unless all input has been consumed.
    pub(crate) fn finish(&self, what: &'static str) -> Result<(), &'static str> {
        if self.input.is_empty() {
            Ok(())
        } else {
            Err(what)
        }
    }

    /// Reads the next element, whatever its tag; `what` names it in the error.
    pub(crate) fn read_any(&mut self, what: &'static str) -> Result<Tlv<'a>, &'static str> {
        let input = self.input;
        let (&tag, rest) = input.split_first().ok_or(what)?;
        if tag & 0x1f == 0x1f {
            // High tag numbers never occur in the structures we read.
            return Err(what);
        }
        let (&first, rest) = rest.split_first().ok_or(what)?;
        let (len, rest) = if first < 0x80 {
            (usize::from(first), rest)
        } else {
            let n = usize::from(first & 0x7f);
            // 0x80 is the indefinite form (BER only); more than 4 length bytes is absurd here.
            if n == 0 || n > 4 || rest.len() < n {
                return Err(what);
            }
            let (len_bytes, rest) = rest.split_at(n);
            if len_bytes.first() == Some(&0) {
                return Err(what); // leading zero: not the shortest form
            }
            let len = len_bytes
                .iter()
                .fold(0usize, |acc, &b| (acc << 8) | usize::from(b));
            if len < 0x80 {
                return Err(what); // must have used the short form
            }
            (len, rest)
        };
        if rest.len() < len {
            return Err(what);
        }
        let (value, rest) = rest.split_at(len);
        let header_len = input.len() - rest.len() - len;
        let raw = input.get(..header_len + len).ok_or(what)?;
        self.input = rest;
        Ok(Tlv { tag, value, raw })
    }

    /// Reads the next element and checks its tag.
    pub(crate) fn read(&mut self, tag: u8, what: &'static str) -> Result<Tlv<'a>, &'static str> {
        let tlv = self.read_any(what)?;
        if tlv.tag == tag {
            Ok(tlv)
        } else {
            Err(what)
        }
    }

    /// Reads the next element if it has `tag`.
    pub(crate) fn read_optional(
        &mut self,
        tag: u8,
        what: &'static str,
    ) -> Result<Option<Tlv<'a>>, &'static str> {
        if self.peek_tag() == Some(tag) {
            self.read(tag, what).map(Some)
        } else {
            Ok(None)
        }
    }

    /// Reads a SEQUENCE and returns a reader over its content.
    pub(crate) fn sequence(&mut self, what: &'static str) -> Result<Reader<'a>, &'static str> {
        Ok(Reader::new(self.read(SEQUENCE, what)?.value))
    }

    /// Reads a BIT STRING with no unused bits (keys and signatures) and returns its bytes.
    pub(crate) fn bit_string_bytes(
        &mut self,
        what: &'static str,
    ) -> Result<&'a [u8], &'static str> {
        let value = self.read(BIT_STRING, what)?.value;
        match value.split_first() {
            Some((0, bytes)) => Ok(bytes),
            _ => Err(what),
        }
    }

    /// Reads a DER BOOLEAN.
    pub(crate) fn boolean(&mut self, what: &'static str) -> Result<bool, &'static str> {
        match self.read(BOOLEAN, what)?.value {
            [0x00] => Ok(false),
            [0xff] => Ok(true),
            _ => Err(what),
        }
    }

    /// Reads a UTCTime or GeneralizedTime and returns seconds since the Unix epoch.
    pub(crate) fn time(&mut self, what: &'static str) -> Result<i64, &'static str> {
        let tlv = self.read_any(what)?;
        match tlv.tag {
            UTC_TIME => parse_utc_time(tlv.value).ok_or(what),
            GENERALIZED_TIME => parse_generalized_time(tlv.value).ok_or(what),
            _ => Err(what),
        }
    }
}

/// Parses `n` ASCII digits into a number.
fn digits(bytes: &[u8]) -> Option<u32> {
    bytes.iter().try_fold(0u32, |acc, &b| {
        b.is_ascii_digit().then(|| acc * 10 + u32::from(b - b'0'))
    })
}

/// `YYMMDDHHMMSSZ` (RFC 5280 §4.1.2.5.1: YY ≥ 50 is 19YY, else 20YY).
fn parse_utc_time(value: &[u8]) -> Option<i64> {
    if value.len() != 13 || value.last() != Some(&b'Z') {
        return None;
    }
    let yy = digits(value.get(0..2)?)?;
    let year = if yy >= 50 { 1900 + yy } else { 2000 + yy };
    civil_seconds(year, value.get(2..12)?)
}

/// `YYYYMMDDHHMMSSZ` (RFC 5280 §4.1.2.5.2: no fractional seconds, always UTC).
fn parse_generalized_time(value: &[u8]) -> Option<i64> {
    if value.len() != 15 || value.last() != Some(&b'Z') {
        return None;
    }
    let year = digits(value.get(0..4)?)?;
    civil_seconds(year, value.get(4..14)?)
}

/// `MMDDHHMMSS` of `year` to Unix seconds, rejecting out-of-range fields.
fn civil_seconds(year: u32, rest: &[u8]) -> Option<i64> {
    let month = digits(rest.get(0..2)?)?;
    let day = digits(rest.get(2..4)?)?;
    let hour = digits(rest.get(4..6)?)?;
    let minute = digits(rest.get(6..8)?)?;
    let second = digits(rest.get(8..10)?)?;
    let leap = (year.is_multiple_of(4) && !year.is_multiple_of(100)) || year.is_multiple_of(400);
    let month_days = match month {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if leap => 29,
        2 => 28,
        _ => return None,
    };
    if day == 0 || day > month_days || hour > 23 || minute > 59 || second > 59 {
        return None;
    }
    let days = days_since_epoch(i64::from(year), i64::from(month), i64::from(day));
    Some(days * 86_400 + i64::from(hour * 3600 + minute * 60 + second))
}

/// Days from 1970-01-01 to the given proleptic Gregorian date.
///
/// Counts whole years since year 0 (shifted so the year starts in March, which puts the leap
/// day last), then the days of the months elapsed in the shifted year.
fn days_since_epoch(year: i64, month: i64, day: i64) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let shifted_month = (month + 9) % 12; // March = 0 … February = 11
    let days_in_years = 365 * y + y.div_euclid(4) - y.div_euclid(100) + y.div_euclid(400);
    // Days before each shifted month: 31,30,31,30,31,31,30,31,30,31,31 — (153m + 2) / 5.
    let days_in_months = (153 * shifted_month + 2) / 5;
    // 719_468 = days from 0000-03-01 to 1970-01-01.
    days_in_years + days_in_months + day - 1 - 719_468
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn epoch_and_known_dates() {
        assert_eq!(days_since_epoch(1970, 1, 1), 0);
        assert_eq!(days_since_epoch(2000, 3, 1), 11_017);
        assert_eq!(parse_utc_time(b"750101130000Z"), Some(157_813_200));
        assert_eq!(
            parse_generalized_time(b"20240229235959Z"),
            Some(1_709_251_199)
        );
        assert_eq!(
            parse_generalized_time(b"40960101130000Z"),
            Some(67_090_165_200)
        );
        assert_eq!(parse_generalized_time(b"20230229000000Z"), None);
        assert_eq!(parse_utc_time(b"7501011300Z"), None);
        assert_eq!(parse_utc_time(b"750101130060Z"), None);
    }

    #[test]
    fn lengths_must_be_minimal() {
        assert!(Reader::new(&[0x04, 0x81, 0x05, 1, 2, 3, 4, 5])
            .read_any("x")
            .is_err());
        assert!(Reader::new(&[0x04, 0x82, 0x00, 0x80])
            .read_any("x")
            .is_err());
        assert!(Reader::new(&[0x04, 0x80, 0, 0]).read_any("x").is_err());
        assert!(Reader::new(&[0x04, 0x03, 1, 2]).read_any("x").is_err());
        assert!(Reader::new(&[0x1f, 0x01, 0x00]).read_any("x").is_err());
        let mut long = vec![0x04, 0x81, 0x80];
        long.extend([7u8; 0x80]);
        let tlv = Reader::new(&long).read_any("x").ok();
        assert_eq!(
            tlv.map(|t| (t.value.len(), t.raw.len())),
            Some((0x80, 0x83))
        );
    }
}
