//! Why a stream could not be opened, and why a connection ended.

use std::io;
use std::sync::Arc;
use std::time::Duration;

use peernet_core::multistream;
use peernet_core::yamux::YamuxError;
use peernet_core::Fault;

use crate::multistream::NegotiateError;
use crate::resource::ResourceError;
use crate::yamux;

/// Why a stream could not be opened or accepted.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StreamError {
    /// The connection is closed or the muxer refused a new stream.
    #[error("cannot open a stream on this connection")]
    Muxer(#[source] io::Error),
    /// Protocol negotiation on the new stream failed.
    #[error("protocol negotiation failed")]
    Negotiation(#[from] NegotiateError),
    /// Invalid protocol ids were given (local misuse).
    #[error("invalid protocol list")]
    InvalidProtocols(#[source] multistream::NegotiationError),
    /// The remote did not settle on a protocol in time (the remote's fault).
    #[error("protocol negotiation did not finish within {0:?}")]
    Timeout(Duration),
    /// Our own resource limits refused the stream (local policy; the error names the limit).
    #[error(transparent)]
    ResourceLimit(#[from] ResourceError),
    /// The remote closed the connection, so no stream can be opened on it: it may have refused
    /// the connection right after the handshake, under its own resource limits or gater (the
    /// remote's decision, not our limit).
    #[error(
        "the remote closed the connection (it may have refused it under its own resource limits)"
    )]
    ClosedByRemote(#[source] io::Error),
    /// The remote reset the stream before agreeing on a protocol: it refused the stream,
    /// possibly under its own resource limits (the remote's decision, not our limit).
    #[error("the remote reset the stream during protocol negotiation (it refused the stream, possibly under its own resource limits)")]
    ResetByRemote(#[source] io::Error),
}

impl StreamError {
    /// The muxer refused a new stream: the remote having closed the connection is told apart.
    pub(super) fn muxer(e: io::Error) -> StreamError {
        let closed_by_remote = e
            .get_ref()
            .and_then(|inner| inner.downcast_ref::<yamux::SessionError>())
            .is_some_and(|c| matches!(c, yamux::SessionError::Eof));
        match closed_by_remote {
            true => StreamError::ClosedByRemote(e),
            false => StreamError::Muxer(e),
        }
    }

    /// Negotiation failed: a reset by the remote is told apart from other failures.
    pub(super) fn negotiation(e: NegotiateError) -> StreamError {
        match e {
            NegotiateError::Io(e) if e.kind() == io::ErrorKind::ConnectionReset => {
                StreamError::ResetByRemote(e)
            }
            e => StreamError::Negotiation(e),
        }
    }
}

/// Why a connection ended ([`Connection::closed`](crate::Connection::closed)), in the same terms
/// on every transport: yamux's session end and QUIC's close reasons both map onto it.
#[derive(Debug, Clone, thiserror::Error)]
#[non_exhaustive]
pub enum ConnectionError {
    /// The peer closed the connection: yamux go-away or end of stream; QUIC `CONNECTION_CLOSE`
    /// or a stateless reset.
    #[error("the peer closed the connection")]
    Eof,
    /// We closed it: [`Connection::close`](crate::Connection::close), or every handle was
    /// dropped.
    #[error("connection closed locally")]
    Closed,
    /// The yamux session failed: the peer broke the protocol or stopped answering keep-alives
    /// ([`YamuxError`] says which).
    #[error("yamux session failed")]
    Yamux(#[source] YamuxError),
    /// The connection's I/O failed. A QUIC peer that went silent past the idle timeout is an
    /// error of kind `TimedOut`.
    #[error("connection I/O failed")]
    Io(#[source] Arc<io::Error>),
}

impl ConnectionError {
    /// Who was at fault for the connection ending.
    pub fn fault(&self) -> Fault {
        match self {
            ConnectionError::Eof => Fault::Remote,
            ConnectionError::Closed => Fault::Local,
            ConnectionError::Yamux(e) => e.fault(),
            ConnectionError::Io(e) if e.kind() == io::ErrorKind::TimedOut => Fault::Remote,
            ConnectionError::Io(_) => Fault::Io,
        }
    }
}

impl From<yamux::SessionError> for ConnectionError {
    fn from(e: yamux::SessionError) -> ConnectionError {
        match e {
            yamux::SessionError::Io(e) => ConnectionError::Io(e),
            yamux::SessionError::Eof => ConnectionError::Eof,
            yamux::SessionError::Yamux(e) => ConnectionError::Yamux(e),
            yamux::SessionError::Closed => ConnectionError::Closed,
        }
    }
}

impl StreamError {
    /// Who was at fault for the stream failing.
    pub fn fault(&self) -> Fault {
        match self {
            StreamError::Muxer(_) => Fault::Io,
            StreamError::Negotiation(e) => e.fault(),
            StreamError::InvalidProtocols(_) => Fault::Local,
            StreamError::Timeout(_) => Fault::Remote,
            StreamError::ResourceLimit(_) => Fault::Limit,
            StreamError::ClosedByRemote(_) | StreamError::ResetByRemote(_) => Fault::Remote,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_connection_error_names_its_fault() {
        let timed_out = Arc::new(io::Error::new(io::ErrorKind::TimedOut, "idle"));
        let reset = Arc::new(io::Error::new(io::ErrorKind::ConnectionReset, "rst"));
        for (e, fault) in [
            (ConnectionError::Eof, Fault::Remote),
            (ConnectionError::Closed, Fault::Local),
            (
                ConnectionError::Yamux(YamuxError::KeepAliveTimeout),
                Fault::Remote,
            ),
            (ConnectionError::Io(timed_out), Fault::Remote),
            (ConnectionError::Io(reset), Fault::Io),
        ] {
            // Exhaustive on purpose: a new variant must decide its fault here.
            match &e {
                ConnectionError::Eof
                | ConnectionError::Closed
                | ConnectionError::Yamux(_)
                | ConnectionError::Io(_) => {}
            }
            assert_eq!(e.fault(), fault, "{e:?}");
        }
    }

    #[test]
    fn a_yamux_session_end_keeps_its_meaning() {
        assert!(matches!(
            ConnectionError::from(yamux::SessionError::Eof),
            ConnectionError::Eof
        ));
        assert!(matches!(
            ConnectionError::from(yamux::SessionError::Closed),
            ConnectionError::Closed
        ));
    }
}
