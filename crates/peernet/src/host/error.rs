//! Why a host operation failed.

use peernet_core::identify::IdentifyError;
use peernet_core::PeerId;

use crate::host::peerstore::PeerstoreError;
use crate::resource::ResourceError;
use crate::swarm::SwarmError;
use crate::transport::QuicError;

/// Why a host operation failed.
#[derive(Debug, thiserror::Error)]
pub enum HostError {
    /// The swarm refused or failed (dial, listen, stream negotiation, closed).
    #[error(transparent)]
    Swarm(#[from] SwarmError),
    /// The QUIC transport could not be set up (local configuration).
    #[error(transparent)]
    Quic(#[from] QuicError),
    /// The peerstore refused to record the peer (local limit or a key that is not the peer's).
    #[error(transparent)]
    Peerstore(#[from] PeerstoreError),
    /// The remote's identify message was malformed or too large (the remote's fault).
    #[error("malformed identify from {peer}")]
    Identify {
        /// The remote peer.
        peer: PeerId,
        /// What was wrong.
        #[source]
        error: IdentifyError,
    },
    /// The remote announced a public key or peer record that is not its own (the remote's fault).
    #[error("identify from {0}: public key or peer record of another peer")]
    IdentityMismatch(PeerId),
    /// Reading or writing a stream of a host service (identify, ping) failed, or the remote
    /// answered a ping with other bytes.
    #[error("{service} with {peer} failed")]
    Io {
        /// The service: `identify` or `ping`.
        service: &'static str,
        /// The remote peer.
        peer: PeerId,
        /// The I/O error.
        #[source]
        error: std::io::Error,
    },
    /// The remote did not answer identify within [`IDENTIFY_TIMEOUT`](crate::IDENTIFY_TIMEOUT).
    #[error("identify with {0} timed out")]
    Timeout(PeerId),
    /// Nothing to dial: the peer has no known address and no connection (local misuse).
    #[error("no address known for {0}")]
    NoAddresses(PeerId),
}

impl HostError {
    /// Who was at fault.
    pub fn fault(&self) -> peernet_core::Fault {
        use peernet_core::Fault;
        match self {
            HostError::Swarm(e) => e.fault(),
            HostError::Quic(e) => e.fault(),
            HostError::Peerstore(e) => e.fault(),
            HostError::Identify { .. } | HostError::IdentityMismatch(_) => Fault::Remote,
            HostError::Timeout(_) => Fault::Remote,
            HostError::Io { .. } => Fault::Io,
            HostError::NoAddresses(_) => Fault::Local,
        }
    }

    /// The local resource limit that refused the operation, if that is what failed (see
    /// [`SwarmError::resource_limit`]); `None` for everything else, including refusals by the
    /// remote.
    pub fn resource_limit(&self) -> Option<&ResourceError> {
        match self {
            HostError::Swarm(e) => e.resource_limit(),
            _ => None,
        }
    }
}
