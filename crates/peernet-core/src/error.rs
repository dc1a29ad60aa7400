//! The vocabulary every peernet error shares: who was at fault, and how a chain of causes prints.
//!
//! Every error type of peernet, in this crate and in the runtime crates above it, answers
//! [`fault`](Fault) through a method of its own (`fn fault(&self) -> Fault`), so that a caller
//! decides what to do (ban the peer, fix the call, wait for capacity, retry the socket) without
//! matching through the layers that wrapped the error on its way up.
//!
//! The chain convention, the same in every crate: an error's `Display` describes its own layer
//! only, and its cause is returned by [`std::error::Error::source`], never printed twice. Logs
//! print the whole chain with [`Chain`].

use std::fmt;

/// Who was at fault for an error. rustls' `PeerMisbehaved` / `ApiMisuse` split, widened to the
/// four answers a network node needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Fault {
    /// The remote peer (or an on-path attacker, which a receiver cannot tell apart from it): it
    /// broke the protocol, sent something malformed, proved the wrong identity, refused or reset
    /// us, or did not answer in time.
    Remote,
    /// This process: the API was misused (a call in the wrong state, an argument out of range),
    /// or the local configuration cannot work (no common protocol offered, a bad address).
    Local,
    /// One of our own limits was reached: a resource cap, a queue bound, an exhausted id or nonce
    /// space. Nobody misbehaved; there is no capacity for this now.
    Limit,
    /// The operating system or the network path: a socket error, an unreachable address, a
    /// connection that ended without a protocol-level reason.
    Io,
}

impl Fault {
    /// A short lowercase name for logs and metrics labels: `remote`, `local`, `limit`, `io`.
    pub fn as_str(self) -> &'static str {
        match self {
            Fault::Remote => "remote",
            Fault::Local => "local",
            Fault::Limit => "limit",
            Fault::Io => "io",
        }
    }
}

impl fmt::Display for Fault {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Displays an error followed by its chain of sources, `": "`-separated, on one line.
///
/// ```
/// use peernet_core::error::Chain;
///
/// #[derive(Debug, thiserror::Error)]
/// #[error("handshake failed")]
/// struct Outer(#[source] std::io::Error);
///
/// let e = Outer(std::io::Error::other("connection reset"));
/// assert_eq!(Chain(&e).to_string(), "handshake failed: connection reset");
/// ```
#[derive(Clone, Copy)]
pub struct Chain<'a>(pub &'a (dyn std::error::Error + 'a));

impl fmt::Display for Chain<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)?;
        let mut source = self.0.source();
        while let Some(cause) = source {
            write!(f, ": {cause}")?;
            source = cause.source();
        }
        Ok(())
    }
}

impl fmt::Debug for Chain<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, thiserror::Error)]
    #[error("outer")]
    struct Outer(#[source] Middle);

    #[derive(Debug, thiserror::Error)]
    #[error("middle")]
    struct Middle(#[source] std::io::Error);

    #[test]
    fn chain_prints_every_source_once() {
        let e = Outer(Middle(std::io::Error::other("inner")));
        assert_eq!(Chain(&e).to_string(), "outer: middle: inner");
        assert_eq!(Chain(&std::io::Error::other("alone")).to_string(), "alone");
    }

    #[test]
    fn fault_names_are_distinct() {
        let all = [Fault::Remote, Fault::Local, Fault::Limit, Fault::Io];
        let names: std::collections::HashSet<_> = all.iter().map(|f| f.as_str()).collect();
        assert_eq!(names.len(), all.len());
    }

    /// Every error type answers `fault()` with an exhaustive match, so a new variant cannot
    /// compile without a decision; this checks the decisions that are not "the remote's".
    #[test]
    fn each_core_error_names_who_was_at_fault() {
        use crate::dial::{AddrDialError, DialError, DialErrorCause, FailedAddr};
        use crate::multiaddr::MultiaddrError;
        use crate::multistream::NegotiationError;
        use crate::noise::NoiseError;
        use crate::tls::TlsError;
        use crate::yamux::YamuxError;
        let peer = crate::Keypair::ed25519_from_seed(1).to_peer_id();
        let other = crate::Keypair::ed25519_from_seed(2).to_peer_id();
        let io = || AddrDialError::Io(std::sync::Arc::new(std::io::Error::other("x")));
        let mismatch = || AddrDialError::PeerIdMismatch {
            expected: peer.clone(),
            actual: other.clone(),
        };
        let dial = |errors: Vec<AddrDialError>| DialError {
            peer: peer.clone(),
            cause: DialErrorCause::AllDialsFailed,
            errors: errors
                .into_iter()
                .map(|cause| FailedAddr {
                    addr: "/ip4/127.0.0.1/tcp/1".parse().unwrap(),
                    cause,
                })
                .collect(),
            skipped: 0,
        };
        let cases: Vec<(Fault, Fault)> = vec![
            (NegotiationError::NoProtocols.fault(), Fault::Local),
            (NegotiationError::TooManyProposals.fault(), Fault::Remote),
            (YamuxError::KeepAliveTimeout.fault(), Fault::Remote),
            (YamuxError::MemoryBudget.fault(), Fault::Limit),
            (YamuxError::WriteClosed(1).fault(), Fault::Local),
            (NoiseError::NonceExhausted.fault(), Fault::Limit),
            (NoiseError::Decrypt.fault(), Fault::Remote),
            (NoiseError::Misuse("x").fault(), Fault::Local),
            (TlsError::Config("x".into()).fault(), Fault::Local),
            (TlsError::Expired.fault(), Fault::Remote),
            (MultiaddrError::NoPeerId.fault(), Fault::Local),
            (MultiaddrError::Empty.fault(), Fault::Remote),
            (AddrDialError::Backoff.fault(), Fault::Local),
            (io().fault(), Fault::Io),
            (mismatch().fault(), Fault::Remote),
            (dial(vec![mismatch(), mismatch()]).fault(), Fault::Remote),
            (dial(vec![mismatch(), io()]).fault(), Fault::Io),
            (DialErrorCause::DialToSelf.fault(), Fault::Local),
        ];
        for (i, (got, want)) in cases.into_iter().enumerate() {
            assert_eq!(got, want, "case {i}");
        }
    }
}
