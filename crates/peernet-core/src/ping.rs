//! The ping protocol (`/ipfs/ping/1.0.0`, libp2p/specs `ping/ping.md`).
//!
//! The dialer writes 32 random bytes; the listener echoes them; the dialer measures the time
//! from its write to the echo. The dialer may repeat on the same stream and closes its write
//! side after the last payload. The listener loops until then.

use std::time::{Duration, Instant};

/// The protocol id.
pub const PROTOCOL: &str = "/ipfs/ping/1.0.0";

/// Bytes in each ping payload.
pub const PAYLOAD_LEN: usize = 32;

/// How many ping streams a listener should serve per peer at once (the spec says at most two).
pub const MAX_INBOUND_STREAMS_PER_PEER: usize = 2;

/// Why a ping failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PingError {
    /// The remote echoed bytes other than our payload (the remote's fault).
    #[error("remote echoed a different payload")]
    Mismatch,
}

impl PingError {
    /// Who was at fault. Always Remote: the remote echoed the wrong bytes.
    pub fn fault(&self) -> crate::error::Fault {
        use crate::error::Fault;
        match self {
            PingError::Mismatch => Fault::Remote,
        }
    }
}

/// One outstanding ping of the dialer: the payload it wrote and when.
#[derive(Debug, Clone)]
pub struct Ping {
    payload: [u8; PAYLOAD_LEN],
    sent_at: Instant,
}

impl Ping {
    /// A ping with the given (random) payload, written at `now`.
    pub fn new(payload: [u8; PAYLOAD_LEN], now: Instant) -> Self {
        Ping {
            payload,
            sent_at: now,
        }
    }

    /// A ping with a fresh random payload, written at `now`.
    pub fn random(now: Instant) -> Self {
        let mut payload = [0u8; PAYLOAD_LEN];
        rand::RngCore::fill_bytes(&mut rand::thread_rng(), &mut payload);
        Ping::new(payload, now)
    }

    /// The bytes to write.
    pub fn payload(&self) -> &[u8; PAYLOAD_LEN] {
        &self.payload
    }

    /// Checks the echo read at `now` and returns the round-trip time.
    pub fn handle_pong(
        &self,
        pong: &[u8; PAYLOAD_LEN],
        now: Instant,
    ) -> Result<Duration, PingError> {
        if pong != &self.payload {
            return Err(PingError::Mismatch);
        }
        Ok(now.saturating_duration_since(self.sent_at))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn measures_rtt_and_detects_mismatch() {
        let t0 = Instant::now();
        let ping = Ping::new([7; 32], t0);
        let rtt = ping
            .handle_pong(&[7; 32], t0 + Duration::from_millis(12))
            .unwrap();
        assert_eq!(rtt, Duration::from_millis(12));
        assert_eq!(ping.handle_pong(&[8; 32], t0), Err(PingError::Mismatch));
        assert_ne!(Ping::random(t0).payload(), Ping::random(t0).payload());
    }
}
