//! A tiny strict DER reader, just enough to unwrap an RSA `SubjectPublicKeyInfo` (RFC 5280,
//! RFC 8017 appendix A.1.1) into the PKCS#1 `RSAPublicKey` that ring verifies with.
//!
//! Only single-byte tags and definite lengths in minimal form are accepted; anything else
//! is refused rather than interpreted.

/// DER tag of an INTEGER.
const TAG_INTEGER: u8 = 0x02;
/// DER tag of a BIT STRING.
const TAG_BIT_STRING: u8 = 0x03;
/// DER tag of NULL.
const TAG_NULL: u8 = 0x05;
/// DER tag of an OBJECT IDENTIFIER.
const TAG_OID: u8 = 0x06;
/// DER tag of a constructed SEQUENCE.
const TAG_SEQUENCE: u8 = 0x30;

/// Content bytes of the OID 1.2.840.113549.1.1.1 (rsaEncryption).
const OID_RSA_ENCRYPTION: &[u8] = &[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x01];

/// The DER is not well-formed, or not the structure expected.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct DerError;

/// Reads one TLV with tag `tag` from the front of `input`, returning its content and the rest.
fn take(input: &[u8], tag: u8) -> Result<(&[u8], &[u8]), DerError> {
    let (&found, rest) = input.split_first().ok_or(DerError)?;
    if found != tag {
        return Err(DerError);
    }
    let (&first, rest) = rest.split_first().ok_or(DerError)?;
    let (len, rest) = if first < 0x80 {
        (usize::from(first), rest)
    } else {
        // Long form: 1 or 2 length bytes are plenty (an RSA-8192 SPKI is ~1.1 KB).
        let n = usize::from(first & 0x7f);
        if !(1..=2).contains(&n) {
            return Err(DerError);
        }
        let (len_bytes, rest) = rest.split_at_checked(n).ok_or(DerError)?;
        let len = len_bytes
            .iter()
            .fold(0usize, |acc, &b| (acc << 8) | usize::from(b));
        // Minimal form: long form only for lengths >= 128, and no leading zero byte.
        if len < 0x80 || len_bytes.first() == Some(&0) {
            return Err(DerError);
        }
        (len, rest)
    };
    rest.split_at_checked(len).ok_or(DerError)
}

/// Validates a DER INTEGER's content as a minimally encoded positive integer and returns its
/// magnitude (without the sign padding byte).
fn positive_integer(content: &[u8]) -> Result<&[u8], DerError> {
    match content {
        [] => Err(DerError),
        [first, ..] if first & 0x80 != 0 => Err(DerError), // negative
        [0, second, ..] if second & 0x80 == 0 => Err(DerError), // non-minimal
        [0] => Err(DerError),                              // zero
        [0, rest @ ..] => Ok(rest),
        all => Ok(all),
    }
}

/// An RSA public key unwrapped from its PKIX form.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct RsaSpki<'a> {
    /// The PKCS#1 `RSAPublicKey` DER (the BIT STRING content).
    pub(crate) pkcs1: &'a [u8],
    /// The size of the modulus in bits.
    pub(crate) modulus_bits: usize,
}

/// Parses a PKIX `SubjectPublicKeyInfo` holding an RSA key (algorithm rsaEncryption with NULL
/// parameters), checking the whole structure, including the inner `RSAPublicKey`.
pub(crate) fn parse_rsa_spki(der: &[u8]) -> Result<RsaSpki<'_>, DerError> {
    let (spki, trailing) = take(der, TAG_SEQUENCE)?;
    if !trailing.is_empty() {
        return Err(DerError);
    }
    let (algorithm, rest) = take(spki, TAG_SEQUENCE)?;
    let (oid, params) = take(algorithm, TAG_OID)?;
    if oid != OID_RSA_ENCRYPTION {
        return Err(DerError);
    }
    // RFC 3279: the parameters MUST be present and NULL.
    let (null, params_rest) = take(params, TAG_NULL)?;
    if !null.is_empty() || !params_rest.is_empty() {
        return Err(DerError);
    }
    let (bits, rest) = take(rest, TAG_BIT_STRING)?;
    if !rest.is_empty() {
        return Err(DerError);
    }
    let (&unused_bits, pkcs1) = bits.split_first().ok_or(DerError)?;
    if unused_bits != 0 {
        return Err(DerError);
    }
    let (rsa, trailing) = take(pkcs1, TAG_SEQUENCE)?;
    if !trailing.is_empty() {
        return Err(DerError);
    }
    let (n, rest) = take(rsa, TAG_INTEGER)?;
    let (e, rest) = take(rest, TAG_INTEGER)?;
    if !rest.is_empty() {
        return Err(DerError);
    }
    let n = positive_integer(n)?;
    let e = positive_integer(e)?;
    // Public exponents are small odd numbers (65537 in practice); refuse anything odd-looking
    // before it reaches the verifier.
    if e.len() > 4 || e.last().is_none_or(|b| b & 1 == 0) {
        return Err(DerError);
    }
    let first = n.first().ok_or(DerError)?;
    let modulus_bits = (n.len() - 1) * 8 + (8 - first.leading_zeros() as usize);
    Ok(RsaSpki {
        pkcs1,
        modulus_bits,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lengths_must_be_minimal() {
        assert_eq!(
            take(&[0x02, 0x01, 0x05], TAG_INTEGER),
            Ok((&[5u8][..], &[][..]))
        );
        assert_eq!(take(&[0x02, 0x81, 0x01, 0x05], TAG_INTEGER), Err(DerError));
        assert_eq!(take(&[0x02, 0x82, 0x00, 0x80], TAG_INTEGER), Err(DerError));
        assert_eq!(take(&[0x02, 0x80], TAG_INTEGER), Err(DerError)); // indefinite
        assert_eq!(take(&[0x02, 0x02, 0x05], TAG_INTEGER), Err(DerError)); // truncated
        assert_eq!(take(&[0x03, 0x01, 0x05], TAG_INTEGER), Err(DerError)); // wrong tag
    }

    #[test]
    fn integers_must_be_positive_and_minimal() {
        assert_eq!(positive_integer(&[0x01]), Ok(&[0x01][..]));
        assert_eq!(positive_integer(&[0x00, 0x80]), Ok(&[0x80][..]));
        assert_eq!(positive_integer(&[0x80]), Err(DerError));
        assert_eq!(positive_integer(&[0x00, 0x01]), Err(DerError));
        assert_eq!(positive_integer(&[0x00]), Err(DerError));
        assert_eq!(positive_integer(&[]), Err(DerError));
    }
}
