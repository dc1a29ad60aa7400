//! The subset of multibase (multiformats/multibase) that multiaddr values use: decoding of the
//! common bases for `/certhash/` and CID-form `/p2p/` values, and base64url for printing
//! `/certhash/`.

use data_encoding::Encoding;

/// Decodes multibase text: a one-character base prefix followed by the encoded data.
///
/// Supported prefixes: `f`/`F` (base16), `b`/`B` (base32), `c`/`C` (base32 padded), `v`/`V`
/// (base32hex), `t`/`T` (base32hex padded), `k`/`K` (base36), `z` (base58btc), `Z`
/// (base58flickr), `m`/`M` (base64 / padded), `u`/`U` (base64url / padded). The lowercase
/// prefixes require lowercase data and the uppercase ones uppercase, as go-multibase does.
pub(crate) fn decode(text: &str) -> Result<Vec<u8>, &'static str> {
    let mut chars = text.chars();
    let Some(prefix) = chars.next() else {
        return Err("empty multibase string");
    };
    let body = chars.as_str();
    let lower = |enc: &Encoding| -> Result<Vec<u8>, &'static str> {
        if body.bytes().any(|b| b.is_ascii_uppercase()) {
            return Err("uppercase character in lowercase multibase");
        }
        enc.decode(body.to_ascii_uppercase().as_bytes())
            .map_err(|_| "invalid multibase data")
    };
    let upper = |enc: &Encoding| -> Result<Vec<u8>, &'static str> {
        if body.bytes().any(|b| b.is_ascii_lowercase()) {
            return Err("lowercase character in uppercase multibase");
        }
        enc.decode(body.as_bytes())
            .map_err(|_| "invalid multibase data")
    };
    let exact = |enc: &Encoding| -> Result<Vec<u8>, &'static str> {
        enc.decode(body.as_bytes())
            .map_err(|_| "invalid multibase data")
    };
    match prefix {
        'f' => lower(&data_encoding::HEXUPPER),
        'F' => upper(&data_encoding::HEXUPPER),
        'b' => lower(&data_encoding::BASE32_NOPAD),
        'B' => upper(&data_encoding::BASE32_NOPAD),
        'c' => lower(&data_encoding::BASE32),
        'C' => upper(&data_encoding::BASE32),
        'v' => lower(&data_encoding::BASE32HEX_NOPAD),
        'V' => upper(&data_encoding::BASE32HEX_NOPAD),
        't' => lower(&data_encoding::BASE32HEX),
        'T' => upper(&data_encoding::BASE32HEX),
        'k' => base36(body, false),
        'K' => base36(body, true),
        'z' => bs58::decode(body)
            .into_vec()
            .map_err(|_| "invalid base58btc data"),
        'Z' => bs58::decode(body)
            .with_alphabet(bs58::Alphabet::FLICKR)
            .into_vec()
            .map_err(|_| "invalid base58flickr data"),
        'm' => exact(&data_encoding::BASE64_NOPAD),
        'M' => exact(&data_encoding::BASE64),
        'u' => exact(&data_encoding::BASE64URL_NOPAD),
        'U' => exact(&data_encoding::BASE64URL),
        _ => Err("unsupported multibase prefix"),
    }
}

/// Encodes `data` as multibase base64url without padding (prefix `u`), the form go-multiaddr
/// prints `/certhash/` values in.
pub(crate) fn encode_base64url(data: &[u8]) -> String {
    let mut out = String::with_capacity(1 + data.len().div_ceil(3) * 4);
    out.push('u');
    out.push_str(&data_encoding::BASE64URL_NOPAD.encode(data));
    out
}

/// Decodes base36 (digits then letters, one case): a big-endian number, where each leading
/// `0` digit stands for one leading zero byte (the same convention as base58).
fn base36(body: &str, upper: bool) -> Result<Vec<u8>, &'static str> {
    if body.is_empty() {
        return Err("empty base36 data");
    }
    let zeros = body.bytes().take_while(|&b| b == b'0').count();
    // The number, little-endian bytes, grown as digits are folded in.
    let mut number: Vec<u8> = Vec::with_capacity(body.len());
    for b in body.bytes().skip(zeros) {
        let digit = match b {
            b'0'..=b'9' => b - b'0',
            b'a'..=b'z' if !upper => b - b'a' + 10,
            b'A'..=b'Z' if upper => b - b'A' + 10,
            _ => return Err("invalid base36 character"),
        };
        let mut carry = u32::from(digit);
        for byte in number.iter_mut() {
            carry += u32::from(*byte) * 36;
            *byte = (carry & 0xff) as u8;
            carry >>= 8;
        }
        while carry > 0 {
            number.push((carry & 0xff) as u8);
            carry >>= 8;
        }
    }
    let mut out = vec![0u8; zeros];
    out.extend(number.iter().rev());
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bases() {
        // "yes mani !" from the multibase spec's test vectors.
        let want = b"yes mani !";
        for text in [
            "f796573206d616e692021",
            "F796573206D616E692021",
            "bpfsxgidnmfxgsibb",
            "BPFSXGIDNMFXGSIBB",
            "vf5in683dc5n6i811",
            "cpfsxgidnmfxgsibb",
            "k2lcpzo5yikidynfl",
            "K2LCPZO5YIKIDYNFL",
            "z7paNL19xttacUY",
            "meWVzIG1hbmkgIQ",
            "MeWVzIG1hbmkgIQ==",
            "ueWVzIG1hbmkgIQ",
            "UeWVzIG1hbmkgIQ==",
        ] {
            assert_eq!(decode(text).as_deref(), Ok(&want[..]), "{text}");
        }
        // Leading zero bytes in base36.
        assert_eq!(decode("k000").as_deref(), Ok(&[0u8, 0, 0][..]));
        assert_eq!(decode("k00"), Ok(vec![0, 0]));
        assert!(decode("").is_err());
        assert!(decode("k").is_err());
        assert!(decode("bPFSX").is_err());
        assert!(decode("q1234").is_err());
        assert!(decode("k2lcpzo5yikidynf!").is_err());
        assert_eq!(encode_base64url(b"yes mani !"), "ueWVzIG1hbmkgIQ");
    }
}
