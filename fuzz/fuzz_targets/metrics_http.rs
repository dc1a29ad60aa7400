//! The metrics endpoint's HTTP request-head parser on arbitrary bytes: it never panics, never
//! answers before the head is complete, and never reads past its size cap.
#![no_main]

use libfuzzer_sys::fuzz_target;
use peernet::metrics::fuzzing::parse_request_head;
use peernet::metrics::MAX_REQUEST_BYTES;

fuzz_target!(|data: &[u8]| {
    match parse_request_head(data) {
        Ok(Some(_)) => {
            let ends =
                data.windows(4).any(|w| w == b"\r\n\r\n") || data.windows(2).any(|w| w == b"\n\n");
            assert!(ends, "a route before the end of the head");
        }
        Ok(None) => assert!(
            data.len() < MAX_REQUEST_BYTES,
            "an over-long head still pending"
        ),
        Err(_) => {}
    }
});
