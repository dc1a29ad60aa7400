//! The perf protocol (`/perf/1.0.0`, libp2p/specs `perf/perf.md`): the libp2p benchmark.
//!
//! Client: open a stream, write how many bytes it wants back as a big-endian u64, write the
//! upload bytes, close its write side, read the download bytes to the end.
//! Server: read the u64, read to end of stream, then write that many bytes and close.
//! The server must not start sending before the upload has ended.

/// The protocol id.
pub const PROTOCOL: &str = "/perf/1.0.0";

/// Length of the request header: the download size as a big-endian u64.
pub const HEADER_LEN: usize = 8;

/// Encodes the request header asking the server for `download_bytes`.
pub fn encode_request(download_bytes: u64) -> [u8; HEADER_LEN] {
    download_bytes.to_be_bytes()
}

/// Decodes the request header.
pub fn decode_request(header: [u8; HEADER_LEN]) -> u64 {
    u64::from_be_bytes(header)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_is_big_endian_u64() {
        assert_eq!(encode_request(1), [0, 0, 0, 0, 0, 0, 0, 1]);
        assert_eq!(encode_request(u64::MAX), [0xff; 8]);
        assert_eq!(decode_request(encode_request(1 << 30)), 1 << 30);
    }
}
