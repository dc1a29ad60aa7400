//! Why a swarm operation failed.

use peernet_core::dial::DialError;
use peernet_core::{Fault, Multiaddr, PeerId};

use crate::connection::StreamError;
use crate::gater::GateStep;
use crate::resource::ResourceError;
use crate::transport::TransportError;

/// Why a swarm operation failed.
#[derive(Debug, thiserror::Error)]
pub enum SwarmError {
    /// The swarm has been closed (local misuse).
    #[error("the swarm is closed")]
    Closed,
    /// A transport is already registered for one of the new transport's protocol codes (local
    /// misuse).
    #[error("cannot add transport {new}: protocol code {code} is already handled by {existing}")]
    DuplicateTransport {
        /// The multiaddr protocol code both claim.
        code: u64,
        /// The transport registered first.
        existing: &'static str,
        /// The transport refused.
        new: &'static str,
    },
    /// The transport's upgrader authenticates as another peer than the swarm (local misuse).
    #[error("transport {transport} upgrades as {transport_peer}, but the swarm is {local_peer}")]
    ForeignTransport {
        /// The transport's name.
        transport: &'static str,
        /// Its upgrader's peer id.
        transport_peer: PeerId,
        /// The swarm's peer id.
        local_peer: PeerId,
    },
    /// Listening failed on every address; each address and its error.
    #[error("listening failed on every address: {}", format_failures(.0))]
    Listen(Vec<ListenFailure>),
    /// The connection gater refused, at `step`, for `reason`.
    #[error("refused by the connection gater at {step}: {reason}")]
    Gated {
        /// Where the gater refused.
        step: GateStep,
        /// The gater's reason.
        reason: String,
    },
    /// Our own resource limits refused the connection or dial (local policy; the error names
    /// the limit). A dial refused this way sent nothing.
    #[error(transparent)]
    ResourceLimit(#[from] ResourceError),
    /// Dialing the peer failed; the error lists every address's failure.
    #[error(transparent)]
    Dial(#[from] DialError),
    /// There is no connection to the peer: the caller did not allow dialing, or the
    /// connection a dial made closed before the caller got it.
    #[error("no usable connection to {0}")]
    NoConnection(PeerId),
    /// Opening or negotiating the stream failed.
    #[error("opening a stream failed")]
    Stream(#[from] StreamError),
}

impl SwarmError {
    /// Who was at fault: misuse for a closed swarm, a transport conflict or a refused peer;
    /// the failure's own answer for listening, dialing and streams.
    pub fn fault(&self) -> Fault {
        match self {
            SwarmError::Closed
            | SwarmError::DuplicateTransport { .. }
            | SwarmError::ForeignTransport { .. }
            | SwarmError::Gated { .. }
            | SwarmError::NoConnection(_) => Fault::Local,
            SwarmError::Listen(failures) => {
                failures.first().map_or(Fault::Local, |f| f.error.fault())
            }
            SwarmError::ResourceLimit(_) => Fault::Limit,
            SwarmError::Dial(e) => e.fault(),
            SwarmError::Stream(e) => e.fault(),
        }
    }

    /// The local resource limit that refused the operation, if that is what failed: a dial
    /// refused before sending anything, or a stream refused on our side. `None` for
    /// everything else, including refusals by the remote
    /// ([`StreamError::ResetByRemote`]).
    pub fn resource_limit(&self) -> Option<&ResourceError> {
        match self {
            SwarmError::ResourceLimit(e) | SwarmError::Stream(StreamError::ResourceLimit(e)) => {
                Some(e)
            }
            _ => None,
        }
    }
}

/// One listen address that failed, and why.
#[derive(Debug)]
pub struct ListenFailure {
    /// The address asked for.
    pub addr: Multiaddr,
    /// What the transport said (`Unsupported` when no transport handles it).
    pub error: TransportError,
}

fn format_failures(failures: &[ListenFailure]) -> String {
    let parts: Vec<String> = failures
        .iter()
        .map(|f| format!("[{}] {}", f.addr, peernet_core::error::Chain(&f.error)))
        .collect();
    parts.join("; ")
}
