//! Why a dial failed: per address ([`AddrDialError`]) and per request ([`DialError`]).

use std::fmt;
use std::sync::Arc;

use super::Multiaddr;
use crate::PeerId;

/// At most this many per-address errors are kept in one [`DialError`]; the rest are counted in
/// [`DialError::skipped`] (go's `maxDialDialErrors`).
pub const MAX_DIAL_ERRORS: usize = 16;

/// Why one address was not dialed, or why its dial failed.
///
/// The first group is decided by the dialer before any packet is sent (local policy); the
/// driver reports the second group through
/// [`DialWorker::dial_failed`](super::DialWorker::dial_failed).
#[derive(Debug, Clone, thiserror::Error)]
pub enum AddrDialError {
    /// Local policy: the address failed recently and is in [dial backoff](super::DialBackoff)
    /// (go's `ErrDialBackoff`).
    #[error("dial backoff")]
    Backoff,
    /// Local policy: the address's class (UDP or IPv6) looks black-holed on this network
    /// (go's `ErrDialRefusedBlackHole`).
    #[error("dial refused because of black hole")]
    BlackHole,
    /// Local configuration: no transport of ours dials this address (go's `ErrNoTransport`).
    #[error("no transport for this address")]
    NoTransport,
    /// Remote's advertisement: a QUIC draft-29 address, which nobody speaks any more.
    #[error("QUIC draft-29 has been removed, QUIC (RFC 9000) is accessible with /quic-v1")]
    QuicDraft29,
    /// Remote's advertisement: the address is one of our own listen addresses (go reports
    /// `ErrDialToSelf`).
    #[error("address is one of our own listen addresses")]
    OwnListenAddr,
    /// The network or the remote: the dial's deadline from the
    /// [`DialLimiter`](super::DialLimiter) passed.
    #[error("dial timed out")]
    Timeout,
    /// Local: the dial was abandoned (another dial succeeded, or every caller left).
    #[error("dial cancelled")]
    Cancelled,
    /// The network: connecting failed (refused, unreachable, reset, …).
    #[error("I/O error")]
    Io(#[source] Arc<std::io::Error>),
    /// The remote: the security or muxer handshake failed.
    #[error("handshake failed")]
    Handshake(#[source] Arc<dyn std::error::Error + Send + Sync>),
    /// The remote: it authenticated as another peer than the one dialed.
    #[error("dialed {expected} but the remote authenticated as {actual}")]
    PeerIdMismatch {
        /// The peer we meant to reach.
        expected: PeerId,
        /// The peer that answered.
        actual: PeerId,
    },
    /// The address's DNS name did not resolve (the address's author, or the resolver); nothing
    /// was dialed.
    #[error("DNS resolution failed")]
    Resolve(#[source] Arc<dyn std::error::Error + Send + Sync>),
    /// Local policy: the connection gater refused the address or the secured connection; the
    /// gater's reason.
    #[error("refused by the connection gater: {0}")]
    Gated(String),
}

impl AddrDialError {
    /// Who was at fault: our policy or configuration for what was refused before a packet went
    /// out, the remote for what it advertised or answered, the network for I/O and timeouts.
    pub fn fault(&self) -> crate::error::Fault {
        use crate::error::Fault;
        match self {
            AddrDialError::Backoff
            | AddrDialError::BlackHole
            | AddrDialError::NoTransport
            | AddrDialError::Cancelled
            | AddrDialError::Gated(_) => Fault::Local,
            AddrDialError::QuicDraft29
            | AddrDialError::OwnListenAddr
            | AddrDialError::Handshake(_)
            | AddrDialError::PeerIdMismatch { .. } => Fault::Remote,
            AddrDialError::Timeout | AddrDialError::Io(_) | AddrDialError::Resolve(_) => Fault::Io,
        }
    }

    /// Whether the error follows an actual connection attempt, whose outcome says something
    /// about the network (and so feeds backoff and black hole detection).
    pub(crate) fn was_attempted(&self) -> bool {
        matches!(
            self,
            AddrDialError::Timeout
                | AddrDialError::Cancelled
                | AddrDialError::Io(_)
                | AddrDialError::Handshake(_)
                | AddrDialError::PeerIdMismatch { .. }
        )
    }
}

/// One address and why dialing it failed (go's `TransportError`).
#[derive(Debug, Clone)]
pub struct FailedAddr {
    /// The address.
    pub addr: Multiaddr,
    /// What went wrong with it.
    pub cause: AddrDialError,
}

/// Why a whole dial request failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum DialErrorCause {
    /// The peer is ourselves (go's `ErrDialToSelf`).
    #[error("dial to self attempted")]
    DialToSelf,
    /// The caller gave no address for the peer (go's `ErrNoAddresses`).
    #[error("no addresses")]
    NoAddresses,
    /// Every address was filtered out before dialing; [`DialError::errors`] says why for
    /// those with a reason (go's `ErrNoGoodAddresses`).
    #[error("no good addresses")]
    NoGoodAddresses,
    /// Every address was dialed and failed (go's `ErrAllDialsFailed`).
    #[error("all dials failed")]
    AllDialsFailed,
    /// The request's overall deadline
    /// ([`DialWorkerConfig::peer_dial_timeout`](super::DialWorkerConfig)) passed first.
    #[error("dial to peer timed out")]
    Timeout,
}

/// A failed dial request: the cause and every address's error (go's `DialError`).
#[derive(Debug, Clone)]
pub struct DialError {
    /// The peer that was dialed.
    pub peer: PeerId,
    /// Why the request as a whole failed.
    pub cause: DialErrorCause,
    /// Each address's error, in the order they happened, at most [`MAX_DIAL_ERRORS`].
    pub errors: Vec<FailedAddr>,
    /// Errors left out of `errors` because it was full.
    pub skipped: usize,
}

impl DialErrorCause {
    /// Who was at fault: dialing ourselves or no address is the caller's doing; a failed or
    /// timed-out dial is the network's, unless every address says otherwise (see
    /// [`DialError::fault`]).
    pub fn fault(&self) -> crate::error::Fault {
        use crate::error::Fault;
        match self {
            DialErrorCause::DialToSelf | DialErrorCause::NoAddresses => Fault::Local,
            DialErrorCause::NoGoodAddresses | DialErrorCause::AllDialsFailed => Fault::Io,
            DialErrorCause::Timeout => Fault::Io,
        }
    }
}

impl DialError {
    /// Who was at fault: when every address failed for the same reason, that reason's fault
    /// (every address refused by our policy is ours; every remote proving another identity is
    /// the remote's); otherwise the cause's.
    pub fn fault(&self) -> crate::error::Fault {
        let mut faults = self.errors.iter().map(|e| e.cause.fault());
        match faults.next() {
            Some(first) if self.skipped == 0 && faults.all(|f| f == first) => first,
            _ => self.cause.fault(),
        }
    }

    pub(crate) fn new(peer: PeerId, cause: DialErrorCause) -> Self {
        DialError {
            peer,
            cause,
            errors: Vec::new(),
            skipped: 0,
        }
    }

    /// Adds one address's error, or counts it in `skipped` when full.
    pub(crate) fn record(&mut self, addr: Multiaddr, cause: AddrDialError) {
        if self.errors.len() >= MAX_DIAL_ERRORS {
            self.skipped = self.skipped.saturating_add(1);
        } else {
            self.errors.push(FailedAddr { addr, cause });
        }
    }

    /// The error recorded for `addr`, if any.
    pub fn error_for(&self, addr: &Multiaddr) -> Option<&AddrDialError> {
        self.errors
            .iter()
            .find(|e| &e.addr == addr)
            .map(|e| &e.cause)
    }
}

impl fmt::Display for DialError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "failed to dial {}: {}", self.peer, self.cause)?;
        // Several addresses' errors, not one chain: each is printed with its own causes.
        for e in &self.errors {
            write!(f, "\n  * [{}] {}", e.addr, crate::error::Chain(&e.cause))?;
        }
        if self.skipped > 0 {
            write!(f, "\n    ... skipping {} errors ...", self.skipped)?;
        }
        Ok(())
    }
}

impl std::error::Error for DialError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&self.cause)
    }
}
